//! Lossless edits of an ESC definition's text: only the managed entries
//! change; comments, blank lines, quoting, flow or block style, key order,
//! document markers, CRLF and a missing final newline stay byte for byte.
//!
//! Why `yaml-edit` (a concrete-syntax-tree editor) and not span-based text
//! edits: both were tried on `tests/corpus/esc`. Span edits need each node's
//! start *and* end; `marked-yaml` (already a dependency) gives starts only
//! and refuses anchors and tags, which ESC users write in unmanaged parts,
//! and `yaml-rust2`'s events also carry starts only, so the ends (block
//! scalars, flow collections, trailing comments) would have to be found by a
//! scanner of our own. `yaml-edit` keeps every byte in its tree, edits in
//! place, writes new entries in the parent's indentation and flow/block
//! style, and round-trips the whole corpus.
//!
//! Trust, but check: every edited text is parsed again by an independent
//! parser (`yaml-rust2`) and compared with the tree the edits were meant to
//! give; any difference is an error and nothing is written.

use std::str::FromStr;

use yaml_edit::{Document, Mapping, YamlFile, YamlNode};

use super::batch::{Batch, Leaf};
use super::index::{is_null, Found, Index};
use yaml_rust2::yaml::Hash;
use yaml_rust2::{Yaml, YamlLoader};

pub const SECRET: &str = "fn::secret";

/// Why a definition was not edited; nothing was written. No message quotes
/// the definition's text (it may hold decrypted values).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EscEditError {
    #[error("the definition is not valid YAML (line {line}, column {column})")]
    NotYaml { line: usize, column: usize },
    #[error("the definition is not a YAML mapping")]
    NotMapping,
    #[error("the definition holds {0} YAML documents; ESC reads one")]
    Documents(usize),
    #[error(
        "the edited definition did not read back as intended (a bug in secret-sync's YAML editing); nothing was written — please report it with the definition's layout (not its values)"
    )]
    ReadBack,
    #[error("the definition could not be read for a lossless edit; nothing was written")]
    Unreadable,
    /// The dotted path of an entry the edit must go inside.
    #[error("`{0}` is not a mapping")]
    Blocked(String),
}

/// One change to a managed entry. Paths start at the document root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `fn::secret: VALUE` at the path: replaces the text of an existing
    /// secret (plaintext or ciphertext) or a plain string, or creates the
    /// entry and any missing parent mappings.
    Secret { path: Vec<String>, value: String },
    /// A plain string at the path (an `environmentVariables` reference).
    Text { path: Vec<String>, value: String },
    /// A list of strings at the path (the ownership record).
    List { path: Vec<String>, items: Vec<String> },
    /// Deletes the entry at the path (pruning).
    Remove { path: Vec<String> },
}

/// Parses a definition with the independent parser the edits are checked
/// with. An empty or comment-only text is an empty mapping.
pub fn parse_tree(text: &str) -> Result<Yaml, EscEditError> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| {
        // The scanner's message can quote the text (which may hold
        // decrypted values): keep only the position.
        let m = e.marker();
        EscEditError::NotYaml { line: m.line(), column: m.col() + 1 }
    })?;
    match docs.len() {
        0 => Ok(Yaml::Hash(Hash::new())),
        1 => match docs.into_iter().next().expect("one") {
            Yaml::Null => Ok(Yaml::Hash(Hash::new())),
            h @ Yaml::Hash(_) => Ok(h),
            _ => Err(EscEditError::NotMapping),
        },
        n => Err(EscEditError::Documents(n)),
    }
}

/// Applies `ops` to `text` and checks the result. The error says why
/// nothing may be written.
pub fn apply(text: &str, ops: &[Op]) -> Result<String, EscEditError> {
    let mut intended = parse_tree(text)?;
    let out = edit_text(text, ops)?;
    for op in ops {
        apply_tree(&mut intended, op);
    }
    match parse_tree(&out) {
        Ok(after) if after == intended => Ok(out),
        _ => Err(EscEditError::ReadBack),
    }
}

/// The edits alone, unchecked: [`apply`] is the one to call. New entries
/// are written per mapping in one piece ([`batch`]); should that fail, the
/// edits are made again one at a time.
pub fn edit_text(text: &str, ops: &[Op]) -> Result<String, EscEditError> {
    let text = &inline_ciphertext(text, ops);
    match edit_batched(text, ops)? {
        Some(out) => Ok(out),
        None => edit_one_by_one(text, ops),
    }
}

/// The definition's tree, for a lossless edit, and its root mapping.
fn open(text: &str) -> Result<(YamlFile, Mapping), EscEditError> {
    let file = YamlFile::from_str(text).map_err(|_| EscEditError::Unreadable)?;
    let doc = file.ensure_document();
    if doc.as_mapping().is_none() {
        // `---` alone, or a null document: give it a mapping to edit.
        doc.set("values", empty_block());
        doc.remove("values");
    }
    let root = doc.as_mapping().ok_or(EscEditError::NotMapping)?;
    Ok((file, root))
}

fn edit_one_by_one(text: &str, ops: &[Op]) -> Result<String, EscEditError> {
    let (file, root) = open(text)?;
    for op in ops {
        apply_one(&root, op)?;
    }
    Ok(file.to_string())
}

/// Each mapping's new entries at once, existing entries found through one
/// [`Index`]; then the ownership record and pruning (which the plan puts
/// last), one at a time on the result. `None` when the edits are not in
/// that order or the placeholders could not be replaced.
fn edit_batched(text: &str, ops: &[Op]) -> Result<Option<String>, EscEditError> {
    let values = |o: &Op| matches!(o, Op::Secret { .. } | Op::Text { .. });
    let split = ops.iter().position(|o| !values(o)).unwrap_or(ops.len());
    let (writes, rest) = ops.split_at(split);
    if rest.iter().any(values) {
        return Ok(None);
    }
    if writes.is_empty() {
        return edit_one_by_one(text, rest).map(Some);
    }
    match write_values(text, writes, rest)? {
        None => Ok(None),
        Some((out, true)) => Ok(Some(out)),
        // The rest creates a key a placeholder stands for: on the result.
        Some((out, false)) => edit_one_by_one(&out, rest).map(Some),
    }
}

/// The `Secret` and `Text` edits, then — on the same tree, unless one of
/// them creates a key that a placeholder stands for (`values` itself, in an
/// empty definition) — the `rest` (true when they were made).
fn write_values(text: &str, ops: &[Op], rest: &[Op]) -> Result<Option<(String, bool)>, EscEditError> {
    let Some(mut batch) = Batch::new(text) else { return Ok(None) };
    let (file, root) = open(text)?;
    let mut index = Index::new(root.clone());
    for op in ops {
        let (path, leaf) = match op {
            Op::Secret { path, value } => (path, Leaf::Secret(value.clone())),
            Op::Text { path, value } => (path, Leaf::Text(value.clone())),
            Op::List { .. } | Op::Remove { .. } => unreachable!("only values are written here"),
        };
        let id = |n: usize| path[..n].join("\0");
        let last = path.len() - 1;
        match index.find(path) {
            Found::Blocked(i) => return Err(EscEditError::Blocked(path[..=i].join("."))),
            Found::Missing { at, parent, null: false } => batch.add(id(at), &parent, None, &path[at..], leaf),
            Found::Missing { at, parent, null: true } => {
                batch.add(id(at + 1), &parent, Some(&path[at]), &path[at + 1..], leaf)
            }
            Found::Parent(parent, None) => batch.add(id(last), &parent, None, &path[last..], leaf),
            Found::Parent(parent, Some(entry)) => match (op, entry.value_node()) {
                // An existing secret: only its text changes, so comments on
                // and around the entry stay.
                (Op::Secret { value, .. }, Some(YamlNode::Mapping(existing))) => existing.set(SECRET, scalar(value)),
                _ => set_value(&parent, &path[last], op),
            },
        }
    }
    let id = |path: &[String]| path.join("\0");
    let clashes = rest.iter().any(|op| {
        let path = match op {
            Op::Secret { path, .. } | Op::Text { path, .. } | Op::List { path, .. } | Op::Remove { path } => path,
        };
        match index.find(path) {
            Found::Missing { at, .. } => batch.holds(&id(&path[..at]), &path[at]) || batch.holds(&id(&path[..=at]), ""),
            Found::Parent(..) | Found::Blocked(_) => false,
        }
    });
    if !clashes {
        for op in rest {
            apply_one(&root, op)?;
        }
    }
    Ok(batch.finish(file.to_string()).map(|out| (out, !clashes)))
}

fn apply_one(root: &Mapping, op: &Op) -> Result<(), EscEditError> {
    let path = match op {
        Op::Secret { path, .. } | Op::Text { path, .. } | Op::List { path, .. } | Op::Remove { path } => path,
    };
    let (last, parents) = path.split_last().expect("paths are never empty");
    if let Op::Remove { .. } = op {
        if let Some(parent) = walk(root, parents) {
            parent.remove(last.as_str());
        }
        return Ok(());
    }
    // The deepest mapping that exists, and the keys still to create.
    let mut parent = root.clone();
    let mut missing: &[String] = &[];
    for (i, seg) in parents.iter().enumerate() {
        match parent.get(seg.as_str()) {
            Some(YamlNode::Mapping(m)) => parent = m,
            Some(YamlNode::Scalar(s)) if is_null(&s.as_string()) => {
                missing = &parents[i..];
                break;
            }
            None => {
                missing = &parents[i..];
                break;
            }
            Some(_) => return Err(EscEditError::Blocked(parents[..=i].join("."))),
        }
    }
    if missing.is_empty() {
        if let (Op::Secret { value, .. }, Some(YamlNode::Mapping(existing))) = (op, parent.get(last.as_str())) {
            // An existing secret: only its text changes, so comments on and
            // around the entry stay.
            existing.set(SECRET, scalar(value));
            return Ok(());
        }
        set_value(&parent, last, op);
        return Ok(());
    }
    // Build the missing mappings inside out, then attach them once.
    let leaf = Document::new_mapping();
    let leaf_map = leaf.as_mapping().expect("a mapping document");
    set_value(&leaf_map, last, op);
    let mut inner = leaf_map;
    for seg in missing[1..].iter().rev() {
        let d = Document::new_mapping();
        let m = d.as_mapping().expect("a mapping document");
        m.set(seg.as_str(), &inner);
        inner = m;
    }
    parent.set(missing[0].as_str(), &inner);
    Ok(())
}

/// ESC stores a secret as a block mapping, a line comment of the plaintext
/// carried over to the ciphertext (pulumi/esc eval/crypt.go
/// `EncryptSecrets`, testdata/crypt/trivia):
///
/// ```yaml
/// fn::secret:
///   ciphertext: ZXNj… # why this secret exists
/// ```
///
/// Replacing that mapping as a node would drop the comment, so the
/// ciphertext of each secret about to be written is first folded onto the
/// `fn::secret:` line as a placeholder scalar (`fn::secret: "" # why …`),
/// which the edit then sets like any other scalar.
fn inline_ciphertext(text: &str, ops: &[Op]) -> String {
    let Ok(file) = YamlFile::from_str(text) else { return text.to_string() };
    let Some(root) = file.document().and_then(|d| d.as_mapping()) else { return text.to_string() };
    let mut index = Index::new(root);
    let mut spans = Vec::new();
    for op in ops {
        let Op::Secret { path, .. } = op else { continue };
        let Found::Parent(parent, Some(entry)) = index.find(path) else { continue };
        let secret = match entry.value_node() {
            Some(YamlNode::Mapping(m)) => Some(m),
            // Tagged, say: as yaml-edit sees through it.
            _ => parent.get_mapping(path[path.len() - 1].as_str()),
        };
        let Some(secret) = secret else { continue };
        let Some(entry) = secret.entries().find(|e| key_is(e, SECRET)) else { continue };
        let (Some(key), Some(YamlNode::Mapping(inner))) = (entry.key_node(), entry.value_node()) else { continue };
        if inner.is_flow_style() {
            continue; // `{ciphertext: …}` is on the line already
        }
        let Some(cipher) = inner.get("ciphertext") else { continue };
        let key_end = key.byte_range().end as usize;
        let Some(colon) = text[key_end..].find(':').map(|i| key_end + i + 1) else { continue };
        let end = cipher.byte_range().end as usize;
        // Only when nothing but the ciphertext is in between (no comment
        // on `fn::secret:` itself, which the fold would swallow).
        if end > colon && !text[colon..end].contains('#') {
            spans.push((colon, end));
        }
    }
    let mut out = text.to_string();
    spans.sort_by_key(|s| std::cmp::Reverse(s.0));
    for (start, end) in spans {
        out.replace_range(start..end, " \"\"");
    }
    out
}

fn key_is(e: &yaml_edit::MappingEntry, key: &str) -> bool {
    e.key_node().and_then(|k| k.as_scalar().map(|s| s.as_string())).as_deref() == Some(key)
}

fn set_value(parent: &Mapping, key: &str, op: &Op) {
    match op {
        Op::Secret { value, .. } => {
            let d = Document::new_mapping();
            let m = d.as_mapping().expect("a mapping document");
            m.set(SECRET, scalar(value));
            parent.set(key, &m);
        }
        Op::Text { value, .. } => parent.set(key, value.as_str()),
        Op::List { items, .. } => {
            let list: Vec<yaml_edit::YamlValue> = items.iter().map(|i| i.as_str().into()).collect();
            parent.set(key, list);
        }
        Op::Remove { .. } => unreachable!("handled by the caller"),
    }
}

fn walk(root: &Mapping, segs: &[String]) -> Option<Mapping> {
    let mut cur = root.clone();
    for s in segs {
        cur = cur.get_mapping(s.as_str())?;
    }
    Some(cur)
}

fn empty_block() -> Mapping {
    Document::new_mapping().as_mapping().expect("a mapping document")
}

/// A secret's text as a double-quoted YAML scalar: one rule that carries any
/// string exactly (quotes, `#`, `: `, leading spaces, line breaks, control
/// characters), whatever the secret holds.
fn scalar(value: &str) -> yaml_edit::Scalar {
    let text = format!("k: {}\n", double_quoted(value));
    let d = Document::from_str(&text).expect("a double-quoted scalar parses");
    match d.as_mapping().and_then(|m| m.get("k")) {
        Some(YamlNode::Scalar(s)) => s,
        _ => unreachable!("a double-quoted scalar is a scalar"),
    }
}

pub fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // YAML's printable set, less the line breaks it would fold.
            ' '..='~' => out.push(c),
            '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..
                if !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') =>
            {
                out.push(c)
            }
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// The same edits on the parsed tree: what the text must read back as.
pub fn apply_tree(root: &mut Yaml, op: &Op) {
    let path = match op {
        Op::Secret { path, .. } | Op::Text { path, .. } | Op::List { path, .. } | Op::Remove { path } => path,
    };
    let (last, parents) = path.split_last().expect("paths are never empty");
    let mut cur = root;
    for seg in parents {
        let Yaml::Hash(h) = cur else { return };
        let key = Yaml::String(seg.clone());
        if matches!(op, Op::Remove { .. }) && !h.contains_key(&key) {
            return;
        }
        // (`entry` would move an existing key to the back.)
        if !h.contains_key(&key) {
            h.insert(key.clone(), Yaml::Null);
        }
        let slot = h.get_mut(&key).expect("present");
        if !matches!(slot, Yaml::Hash(_)) {
            *slot = Yaml::Hash(Hash::new());
        }
        cur = slot;
    }
    let Yaml::Hash(h) = cur else { return };
    let key = Yaml::String(last.clone());
    let new = match op {
        Op::Remove { .. } => {
            h.remove(&key);
            return;
        }
        Op::Secret { value, .. } => {
            let mut m = Hash::new();
            m.insert(Yaml::String(SECRET.into()), Yaml::String(value.clone()));
            Yaml::Hash(m)
        }
        Op::Text { value, .. } => Yaml::String(value.clone()),
        Op::List { items, .. } => Yaml::Array(items.iter().cloned().map(Yaml::String).collect()),
    };
    // An existing key keeps its place; a new one goes last, as in the text.
    match h.get_mut(&key) {
        Some(v) => *v = new,
        None => {
            h.insert(key, new);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<String> {
        s.split('.').map(str::to_string).collect()
    }

    fn ops() -> Vec<Op> {
        vec![
            Op::Secret { path: p("values.a.token"), value: "t: #1".into() },
            Op::Text { path: p("values.environmentVariables.A_TOKEN"), value: "${a.token}".into() },
            Op::Secret { path: p("values.b"), value: "line\nbreak".into() },
            Op::Secret { path: p("values.a.other"), value: "o".into() },
            Op::Secret { path: p("values.deep.er.key"), value: "d".into() },
            Op::Text { path: p("values.environmentVariables.B"), value: "${b}".into() },
            Op::Text { path: p("values.environmentVariables.ODD"), value: "not: a reference".into() },
            Op::Secret { path: p("values.true"), value: "k".into() },
            Op::List { path: p("values.secretSyncManaged.paths"), items: vec!["a.token".into(), "b".into()] },
        ]
    }

    /// Writing each mapping's new entries at once gives the very text that
    /// adding them one at a time gives, in every layout.
    #[test]
    fn new_entries_at_once_are_written_as_one_at_a_time() {
        let texts = [
            "",
            "values: {}\n",
            "values:\n",
            "values: ~\n",
            "imports: [base]\nvalues: {x: 1}\n",
            "values:\n  x: 1 # kept\n\n# trailing\nother: 2\n",
            "values:\r\n    x: 1\r\n    a:\r\n        kept: 1\r\n",
            "values:\r\n  x: 1",
            "imports:\r\n- a\r\nvalues:\r\n  x: 1",
            "values:\n  a: {kept: 1}\n  environmentVariables:\n    OLD: x",
            "---\nvalues:\n  x:\n    fn::secret:\n      ciphertext: Zm9v # why\n...\n",
            "values: {a: {kept: 1},\n  x: 2}\n",
        ];
        for text in texts {
            let ops = ops();
            let text = inline_ciphertext(text, &ops);
            let batched = edit_batched(&text, &ops).unwrap().unwrap_or_else(|| panic!("batched: {text:?}"));
            let one_by_one = edit_one_by_one(&text, &ops).unwrap();
            assert_eq!(batched, one_by_one, "{text:?}");
            assert!(apply(&text, &ops).is_ok(), "{text:?}");
        }
    }

    /// A definition that holds the placeholder's key is still edited right.
    #[test]
    fn a_definition_with_the_placeholder_key_is_edited_one_at_a_time() {
        let text = "values:\n  secret-sync-new-entries-0: x\n";
        assert_eq!(edit_batched(text, &ops()).unwrap(), None);
        let out = apply(text, &ops()).unwrap();
        assert!(out.starts_with(text), "{out}");
    }
}
