//! What one server-side apply should send, from the Secret as read and the
//! keys the manifest routes to it. Pure: no I/O, unit-tested below.
//!
//! Server-side apply rules this follows (kubernetes.io, "Server-Side
//! Apply": field management, conflicts, "Using Server-Side Apply in a
//! controller"):
//! - the apply body is the whole intent of the field manager: a key it
//!   owned and leaves out is removed from the object, unless another manager
//!   owns it too, in which case only the ownership is given up;
//! - setting a key another manager owns to a different value is a conflict
//!   (HTTP 409 without `force`); setting it to the same value is not, and
//!   makes the applier a co-owner.
//!
//! - a key another manager writes through `stringData` is owned under
//!   `f:stringData`, not `f:data` (kubernetes.io notes "the `stringData`
//!   field for a Secret does not work well with server-side apply": "Secrets"
//!   and "Managing Secrets using Configuration File"): the server sees no
//!   conflict when a `data` apply changes it, and the two managers would
//!   overwrite each other on every run. Such a key is treated as that
//!   manager's: a conflict, never overwritten, and never left out of a
//!   pruning apply (with no other `f:data` owner the server would delete it).
//!
//! So the body always carries every key secret-sync owns there: routed keys
//! with their wanted values, and — unless pruning — owned keys no longer
//! routed (or held back) with their current values, so nothing is removed by
//! leaving it out. Pruning leaves those out, which deletes exactly the keys
//! only secret-sync owned.

use std::collections::{BTreeMap, BTreeSet};

use crate::plan::{Action, Change};

/// The Secret as read: data and who manages each key.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Current {
    pub data: BTreeMap<String, Vec<u8>>,
    /// Keys secret-sync's apply owns (`managedFields`, manager `secret-sync`, operation `Apply`).
    pub ours: BTreeSet<String>,
    /// Keys other managers own, with their names (`kubectl-edit (Update)`).
    pub others: BTreeMap<String, Vec<String>>,
    /// Keys managers own under `f:stringData`, with their names
    /// (`helm (Apply, stringData)`).
    pub string_data: BTreeMap<String, Vec<String>>,
}

impl Current {
    /// Every other manager of `key`, through `data` or `stringData`.
    fn managers(&self, key: &str) -> Vec<String> {
        let of = |m: &BTreeMap<String, Vec<String>>| m.get(key).cloned().unwrap_or_default();
        [of(&self.others), of(&self.string_data)].concat()
    }
}

/// A routed key another manager owns with a different value: not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub key: String,
    pub managers: Vec<String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Per routed key, and a `Delete` per key pruning removes.
    pub changes: Vec<Change>,
    pub conflicts: Vec<Conflict>,
    /// Everything the apply body's `data` holds when a write is needed.
    pub apply: BTreeMap<String, Vec<u8>>,
    /// Owned keys no longer routed, left in place (not pruning).
    pub kept: Vec<String>,
    /// Keys present that the manifest does not route here.
    pub unrouted: Vec<String>,
}

impl Plan {
    /// The Secret's data changes: the one reason to write and to restart.
    pub fn changes_data(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::Unchanged)
    }

    pub fn deletes(&self) -> usize {
        self.changes.iter().filter(|c| c.action == Action::Delete).count()
    }
}

/// `current` is `None` when the Secret does not exist. `desired` holds the
/// routed keys with usable values, `held_back` the routed keys without.
pub fn plan(current: Option<&Current>, desired: &[(&str, &[u8])], held_back: &[&str], prune: bool) -> Plan {
    let empty = Current::default();
    let cur = current.unwrap_or(&empty);
    let mut p = Plan::default();
    for (key, value) in desired {
        let managers = cur.managers(key);
        let others = Some(&managers).filter(|m| !m.is_empty());
        let action = match cur.data.get(*key) {
            None => Action::Create,
            Some(have) if have.as_slice() == *value => Action::Unchanged,
            Some(_) => Action::Update,
        };
        if action == Action::Update {
            if let Some(managers) = others {
                p.conflicts.push(Conflict { key: key.to_string(), managers: managers.clone() });
                // A share secret-sync holds is kept as it is.
                if cur.ours.contains(*key) {
                    p.apply.insert(key.to_string(), cur.data[*key].clone());
                }
                continue;
            }
        }
        p.apply.insert(key.to_string(), value.to_vec());
        p.changes.push(Change { key: key.to_string(), action });
    }
    let routed = |k: &str| desired.iter().any(|(d, _)| *d == k) || held_back.contains(&k);
    for key in cur.ours.iter().filter(|k| !routed(k)) {
        let Some(value) = cur.data.get(key) else { continue };
        let shared = cur.others.get(key).is_some_and(|m| !m.is_empty());
        // Owned by another only through stringData: leaving it out would
        // delete it. Kept, as without pruning.
        let string_owned = !shared && cur.string_data.get(key).is_some_and(|m| !m.is_empty());
        match (prune && !string_owned, shared) {
            // Left out: removed, as only secret-sync owned it.
            (true, false) => p.changes.push(Change { key: key.clone(), action: Action::Delete }),
            // Left out: another manager keeps it; only the ownership goes.
            (true, true) => {}
            (false, _) => {
                p.apply.insert(key.clone(), value.clone());
                p.kept.push(key.clone());
            }
        }
    }
    for key in held_back.iter().filter(|k| cur.ours.contains(**k)) {
        if let Some(value) = cur.data.get(*key) {
            p.apply.insert(key.to_string(), value.clone());
        }
    }
    p.unrouted = cur.data.keys().filter(|k| !routed(k)).cloned().collect();
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current(data: &[(&str, &str)], ours: &[&str], others: &[(&str, &str)]) -> Current {
        let mut c = Current {
            data: data.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect(),
            ours: ours.iter().map(|k| k.to_string()).collect(),
            others: BTreeMap::new(),
            string_data: BTreeMap::new(),
        };
        for (k, m) in others {
            c.others.entry(k.to_string()).or_default().push(m.to_string());
        }
        c
    }

    fn actions(p: &Plan) -> Vec<(&str, Action)> {
        p.changes.iter().map(|c| (c.key.as_str(), c.action)).collect()
    }

    fn keys(p: &Plan) -> Vec<(&str, &str)> {
        p.apply.iter().map(|(k, v)| (k.as_str(), std::str::from_utf8(v).unwrap())).collect()
    }

    #[test]
    fn a_missing_secret_is_created_with_every_key() {
        let p = plan(None, &[("A", b"1"), ("B", b"2")], &[], false);
        assert_eq!(actions(&p), [("A", Action::Create), ("B", Action::Create)]);
        assert_eq!(keys(&p), [("A", "1"), ("B", "2")]);
        assert!(p.changes_data() && p.conflicts.is_empty() && p.unrouted.is_empty());
    }

    #[test]
    fn unchanged_means_no_data_change() {
        let c = current(&[("A", "1"), ("B", "2")], &["A", "B"], &[]);
        let p = plan(Some(&c), &[("A", b"1"), ("B", b"2")], &[], false);
        assert_eq!(actions(&p), [("A", Action::Unchanged), ("B", Action::Unchanged)]);
        assert!(!p.changes_data());
    }

    #[test]
    fn one_change_still_applies_every_owned_key() {
        // Leaving out an owned key would delete it: B is sent unchanged.
        let c = current(&[("A", "1"), ("B", "2")], &["A", "B"], &[]);
        let p = plan(Some(&c), &[("A", b"new"), ("B", b"2")], &[], false);
        assert_eq!(actions(&p), [("A", Action::Update), ("B", Action::Unchanged)]);
        assert_eq!(keys(&p), [("A", "new"), ("B", "2")]);
    }

    #[test]
    fn without_prune_owned_unrouted_and_held_back_keys_are_kept_with_their_values() {
        let c = current(
            &[("A", "1"), ("OLD", "o"), ("HELD", "h"), ("THEIRS", "t")],
            &["A", "OLD", "HELD"],
            &[("THEIRS", "helm (Update)")],
        );
        let p = plan(Some(&c), &[("A", b"2")], &["HELD"], false);
        assert_eq!(actions(&p), [("A", Action::Update)]);
        assert_eq!(keys(&p), [("A", "2"), ("HELD", "h"), ("OLD", "o")]);
        assert_eq!(p.kept, ["OLD"]);
        assert_eq!(p.unrouted, ["OLD", "THEIRS"]);
    }

    #[test]
    fn prune_leaves_out_only_keys_secret_sync_alone_owns() {
        let c = current(
            &[("A", "1"), ("OLD", "o"), ("SHARED", "s"), ("HELD", "h"), ("THEIRS", "t")],
            &["A", "OLD", "SHARED", "HELD"],
            &[("SHARED", "kubectl (Apply)"), ("THEIRS", "helm (Update)")],
        );
        let p = plan(Some(&c), &[("A", b"1")], &["HELD"], true);
        assert_eq!(actions(&p), [("A", Action::Unchanged), ("OLD", Action::Delete)]);
        // HELD (held back) stays; SHARED and THEIRS are not in the body but
        // another manager keeps them.
        assert_eq!(keys(&p), [("A", "1"), ("HELD", "h")]);
        assert_eq!(p.deletes(), 1);
        assert!(p.changes_data());
    }

    #[test]
    fn a_key_another_manager_owns_is_a_conflict_unless_the_value_matches() {
        let c = current(
            &[("A", "1"), ("B", "2"), ("C", "3")],
            &["C"],
            &[("A", "kubectl-edit (Update)"), ("B", "kubectl (Apply)"), ("C", "helm (Update)")],
        );
        let p = plan(Some(&c), &[("A", b"other"), ("B", b"2"), ("C", b"changed")], &[], false);
        assert_eq!(
            p.conflicts,
            [
                Conflict { key: "A".into(), managers: vec!["kubectl-edit (Update)".into()] },
                Conflict { key: "C".into(), managers: vec!["helm (Update)".into()] },
            ]
        );
        // B matches, so applying it co-owns it; A is left out, C keeps its value.
        assert_eq!(actions(&p), [("B", Action::Unchanged)]);
        assert_eq!(keys(&p), [("B", "2"), ("C", "3")]);
        assert!(!p.changes_data());
    }

    #[test]
    fn a_key_owned_through_string_data_is_that_managers() {
        let mut c = current(&[("A", "1"), ("OLD", "o")], &["OLD"], &[]);
        c.string_data.insert("A".into(), vec!["helm (Apply, stringData)".into()]);
        c.string_data.insert("OLD".into(), vec!["helm (Apply, stringData)".into()]);
        let p = plan(Some(&c), &[("A", b"mine")], &[], true);
        assert_eq!(p.conflicts, [Conflict { key: "A".into(), managers: vec!["helm (Apply, stringData)".into()] }]);
        assert!(!p.apply.contains_key("A"), "overwritten");
        // OLD is ours and helm's through stringData only: pruning keeps it.
        assert_eq!(keys(&p), [("OLD", "o")]);
        assert_eq!(p.deletes(), 0);
    }
}
