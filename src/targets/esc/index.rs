//! The mappings of a definition by path, each with its entries by key, read
//! once. yaml-edit finds a key by comparing it with every entry of the
//! mapping in turn (each comparison resolves the key's scalar), so looking
//! up n keys of a mapping of n entries one by one costs n² comparisons:
//! issue 25 measured 2.4 s for the first sync of 1,000 secrets. Here each
//! entry's key is read once.

use std::collections::HashMap;

use yaml_edit::{Mapping, MappingEntry, YamlNode};

/// What a path leads to.
pub enum Found {
    /// The mapping holding the last segment, and that entry if present.
    Parent(Mapping, Option<MappingEntry>),
    /// The mapping at `at` segments exists; the segment after it is absent
    /// (`null`: true when it is there but `null`, an empty mapping to fill).
    Missing { at: usize, parent: Mapping, null: bool },
    /// The segment at `at` holds something other than a mapping.
    Blocked(usize),
}

pub struct Index {
    root: Mapping,
    /// Entries of each mapping reached so far, by its path (joined with NUL).
    entries: HashMap<String, (Mapping, HashMap<String, MappingEntry>)>,
}

impl Index {
    pub fn new(root: Mapping) -> Index {
        Index { root, entries: HashMap::new() }
    }

    /// Finds `path` as it was when the index first read each mapping on it.
    pub fn find(&mut self, path: &[String]) -> Found {
        let (_, parents) = path.split_last().expect("paths are never empty");
        let mut parent = self.root.clone();
        let mut key = String::new();
        for (i, seg) in parents.iter().enumerate() {
            let Some(entry) = self.entry(&key, &parent, seg) else {
                return Found::Missing { at: i, parent, null: false };
            };
            match entry.value_node() {
                Some(YamlNode::Mapping(m)) => parent = m,
                None => return Found::Missing { at: i, parent, null: true },
                Some(YamlNode::Scalar(s)) if is_null(&s.as_string()) => {
                    return Found::Missing { at: i, parent, null: true }
                }
                Some(_) => return Found::Blocked(i),
            }
            key.push('\0');
            key.push_str(seg);
        }
        let last = path.last().expect("paths are never empty");
        let entry = self.entry(&key, &parent, last);
        Found::Parent(parent, entry)
    }

    fn entry(&mut self, key: &str, mapping: &Mapping, seg: &str) -> Option<MappingEntry> {
        let (_, by_key) = self.entries.entry(key.to_string()).or_insert_with(|| {
            let mut by_key = HashMap::new();
            for e in mapping.entries() {
                if let Some(k) = e.key_node().and_then(|k| k.as_scalar().map(|s| s.as_string())) {
                    // A duplicate key: the first is the one yaml-edit finds.
                    by_key.entry(k).or_insert(e);
                }
            }
            (mapping.clone(), by_key)
        });
        by_key.get(seg).cloned()
    }
}

pub fn is_null(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}
