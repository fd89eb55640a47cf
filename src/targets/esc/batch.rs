//! New entries, gathered per mapping and written in one piece.
//!
//! yaml-edit adds an entry to a mapping only after comparing its key with
//! every entry already there, so adding n entries one at a time costs n²
//! comparisons (issue 25: the first sync of 1,000 secrets into one
//! environment took 2.4 s, 14× the time of 250). Instead, each mapping that
//! gets new entries gets one placeholder entry from yaml-edit — which lays
//! it out as it would lay out any new entry: block or flow, indentation,
//! where it goes among trailing comments and blank lines, the line ending, a
//! missing final newline — and the placeholder's text is then replaced by
//! all the new entries at once, written as yaml-edit writes them (nested
//! mappings two columns in, `fn::secret: "…"`, flow entries joined with
//! `, `). The caller reads the result back with an independent parser, so
//! a layout this gets wrong is an error, never a wrong write.

use std::collections::HashMap;
use std::str::FromStr;

use yaml_edit::{Document, Mapping};

use super::edit::{double_quoted, SECRET};

/// The key of a placeholder entry; a definition that holds it is edited one
/// entry at a time instead.
const PLACEHOLDER: &str = "secret-sync-new-entries-";

/// What a new path ends in.
pub enum Leaf {
    Secret(String),
    Text(String),
}

enum Node {
    Leaf(Leaf),
    Map(Tree),
}

/// New entries in the order they were added, by key.
#[derive(Default)]
struct Tree {
    entries: Vec<(String, Node)>,
    at: HashMap<String, usize>,
}

impl Tree {
    fn insert(&mut self, segs: &[String], leaf: Leaf) {
        let (first, rest) = segs.split_first().expect("paths are never empty");
        let i = *self.at.entry(first.clone()).or_insert_with(|| {
            self.entries.push((first.clone(), Node::Map(Tree::default())));
            self.entries.len() - 1
        });
        let node = &mut self.entries[i].1;
        if rest.is_empty() {
            *node = Node::Leaf(leaf);
            return;
        }
        if !matches!(node, Node::Map(_)) {
            *node = Node::Map(Tree::default());
        }
        if let Node::Map(t) = node {
            t.insert(rest, leaf);
        }
    }
}

/// The new entries of one mapping, and whether it is a flow mapping.
struct Group {
    flow: bool,
    tree: Tree,
}

/// The new entries of one edit, by the mapping they go into.
pub struct Batch {
    groups: Vec<Group>,
    by_path: HashMap<String, usize>,
}

impl Batch {
    /// `None` when `text` holds the placeholder's key already.
    pub fn new(text: &str) -> Option<Batch> {
        (!text.contains(PLACEHOLDER)).then(|| Batch { groups: Vec::new(), by_path: HashMap::new() })
    }

    /// Adds the entry at `segs` (relative to the group's mapping, missing
    /// parents included) to the group `id`. The group's mapping is `parent`,
    /// or — when `null_key` is given — the mapping that replaces that key's
    /// `null` value in `parent`. Its placeholder is put in on first use, in
    /// the order of the edits, as the entry itself would have been.
    pub fn add(&mut self, id: String, parent: &Mapping, null_key: Option<&str>, segs: &[String], leaf: Leaf) {
        let n = self.groups.len();
        let i = *self.by_path.entry(id).or_insert(n);
        if i == n {
            let key = format!("{PLACEHOLDER}{n}");
            let flow = parent.is_flow_style();
            match null_key {
                None => parent.set(key.as_str(), "x"),
                Some(k) => {
                    let d = Document::from_str(&format!("{key}: x\n")).expect("a one-entry mapping parses");
                    parent.set(k, d.as_mapping().expect("a mapping document"));
                }
            }
            self.groups.push(Group { flow, tree: Tree::default() });
        }
        self.groups[i].tree.insert(segs, leaf);
    }

    /// Whether the group `id` holds a new entry `key` (any, for `""`).
    pub fn holds(&self, id: &str, key: &str) -> bool {
        self.by_path.get(id).is_some_and(|&i| key.is_empty() || self.groups[i].tree.at.contains_key(key))
    }

    /// Replaces each placeholder in `out` (the edited text) by its group's
    /// entries; `None` if a placeholder is not where and as expected.
    pub fn finish(self, mut out: String) -> Option<String> {
        let mut keys = Keys::default();
        for (n, g) in self.groups.iter().enumerate() {
            let needle = format!("{PLACEHOLDER}{n}: x");
            let mut found = out.match_indices(&needle).map(|(i, _)| i);
            let (Some(at), None) = (found.next(), found.next()) else { return None };
            let end = at + needle.len();
            let text = if g.flow {
                // Entries after the first are separated as yaml-edit
                // separated the placeholder from the entry before it (on
                // lines of their own in a flow mapping written that way).
                let before = out[..at].trim_end_matches([' ', '\t', '\r', '\n']);
                let sep = match before.strip_suffix(',') {
                    Some(b) => &out[b.len()..at],
                    None => ", ",
                };
                flow(&g.tree, &mut keys, sep)
            } else {
                let line_start = out[..at].rfind('\n').map_or(0, |i| i + 1);
                let indent = &out[line_start..at];
                if !indent.bytes().all(|b| b == b' ') {
                    return None;
                }
                // The placeholder's own line ending, or at the end of a text
                // without a final one, the line ending before it.
                let crlf = match out[end..].chars().next() {
                    Some(_) => out[end..].starts_with("\r\n"),
                    None => out[..line_start].ends_with("\r\n"),
                };
                let eol = if crlf { "\r\n" } else { "\n" };
                let mut lines = Vec::new();
                block(&g.tree, 0, &mut keys, &mut lines);
                let sep = format!("{eol}{indent}");
                lines.join(&sep)
            };
            out.replace_range(at..end, &text);
        }
        Some(out)
    }
}

fn block(t: &Tree, indent: usize, keys: &mut Keys, lines: &mut Vec<String>) {
    let pad = " ".repeat(indent);
    for (k, node) in &t.entries {
        let key = keys.get(k, false);
        match node {
            Node::Leaf(Leaf::Secret(v)) => {
                lines.push(format!("{pad}{key}:"));
                lines.push(format!("{pad}  {SECRET}: {}", double_quoted(v)));
            }
            Node::Leaf(Leaf::Text(v)) => lines.push(format!("{pad}{}", text_entry(&key, k, v, false))),
            Node::Map(inner) => {
                lines.push(format!("{pad}{key}:"));
                block(inner, indent + 2, keys, lines);
            }
        }
    }
}

fn flow(t: &Tree, keys: &mut Keys, sep: &str) -> String {
    let entries: Vec<String> = t
        .entries
        .iter()
        .map(|(k, node)| {
            let key = keys.get(k, true);
            match node {
                Node::Leaf(Leaf::Secret(v)) => format!("{key}: {{{SECRET}: {}}}", double_quoted(v)),
                Node::Leaf(Leaf::Text(v)) => text_entry(&key, k, v, true),
                Node::Map(inner) => format!("{key}: {{{}}}", flow(inner, keys, ", ")),
            }
        })
        .collect();
    entries.join(sep)
}

/// `key: value` for a plain string, as yaml-edit writes it.
fn text_entry(key: &str, raw_key: &str, value: &str, flow: bool) -> String {
    // An `environmentVariables` reference: plain in a block mapping, quoted
    // in a flow one (its braces are flow indicators there).
    let reference = value.strip_prefix("${").and_then(|v| v.strip_suffix('}')).is_some_and(|inner| {
        !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    });
    match (reference, flow) {
        (true, false) => format!("{key}: {value}"),
        (true, true) => format!("{key}: {}", double_quoted(value)),
        (false, _) => rendered(raw_key, value, flow).unwrap_or_else(|| format!("{key}: {}", double_quoted(value))),
    }
}

/// Keys as yaml-edit writes them: plain when nothing in them needs quotes.
#[derive(Default)]
struct Keys(HashMap<(String, bool), String>);

impl Keys {
    fn get(&mut self, key: &str, flow: bool) -> String {
        if plain_key(key) {
            return key.to_string();
        }
        self.0
            .entry((key.to_string(), flow))
            .or_insert_with(|| {
                rendered(key, "x", flow)
                    .and_then(|e| e.strip_suffix(": x").map(str::to_string))
                    .unwrap_or_else(|| double_quoted(key))
            })
            .clone()
    }
}

/// A key that reads as the same string plain, in block and flow context.
fn plain_key(k: &str) -> bool {
    let mut bytes = k.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null"
        )
}

/// One entry as yaml-edit writes it into an empty block or flow mapping, if
/// that is one line.
fn rendered(key: &str, value: &str, flow: bool) -> Option<String> {
    let d = if flow { Document::from_str("{}\n").ok()? } else { Document::new_mapping() };
    d.as_mapping()?.set(key, value);
    let t = d.to_string();
    let t = t.trim_end();
    let t = if flow { t.strip_prefix('{')?.strip_suffix('}')? } else { t };
    (!t.contains('\n')).then(|| t.to_string())
}
