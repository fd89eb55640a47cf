//! The state record as Fly and GitHub targets see it: the record read at
//! the start (an input to their pure plans) and the record this run leaves,
//! which their `apply` updates write by write — so a target that fails
//! half-way still records what it did write.

use std::sync::{Arc, Mutex};

use secrecy::SecretString;

use crate::state::{Proof, Record, StateKey};

pub struct Ledger {
    /// The record read at the start; `None` when there is none (then
    /// pruning deletes nothing and nothing is proven unchanged by it).
    pub read: Option<Arc<Record>>,
    /// Why there is no record, said where pruning is held back.
    pub why_none: String,
    /// The record is kept at the end of the run (a store that can be
    /// written): only then do targets spend requests on evidence.
    pub keeps: bool,
    pub key: Option<StateKey>,
    /// The record as this run leaves it.
    pub after: Mutex<Record>,
    /// When this run writes (RFC 3339).
    pub now: String,
    /// The run says once why pruning deletes nothing (no state key): the
    /// targets do not repeat it.
    pub quiet_no_pruning: bool,
}

/// Which of the keys a target holds that the manifest no longer routes
/// there pruning may delete.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Prunable {
    /// (name as listed, name as the record holds it): written by
    /// secret-sync, and the target's evidence unchanged since.
    pub keys: Vec<(String, String)>,
    /// Keys the record holds whose evidence moved: set outside secret-sync
    /// since it wrote them. Left in place; no longer secret-sync's.
    pub moved: Vec<String>,
}

impl Prunable {
    /// The warning naming the keys that moved at `target`, if any.
    pub fn warning(&self, target: &str) -> Option<String> {
        (!self.moved.is_empty()).then(|| {
            format!(
                "{} key(s) at `{target}` were set outside secret-sync since it wrote them, so they are left in place and no longer pruned: {}",
                self.moved.len(),
                self.moved.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            )
        })
    }
}

impl Ledger {
    /// A ledger that keeps a record: `read` as read (`None`: none yet, or
    /// unreadable — `why_none` says which), fingerprints keyed by `key`.
    pub fn keeping(
        read: Option<Record>,
        start: Record,
        why_none: String,
        key: Option<StateKey>,
        now: String,
    ) -> Ledger {
        Ledger {
            read: read.map(Arc::new),
            why_none,
            keeps: true,
            key,
            after: Mutex::new(start),
            now,
            quiet_no_pruning: false,
        }
    }

    /// No record at all (`state: none`, or a build or run without one).
    pub fn off(why: &str) -> Ledger {
        Ledger {
            read: None,
            why_none: why.to_string(),
            keeps: false,
            key: None,
            after: Mutex::new(Record::new("", "", None)),
            now: String::new(),
            quiet_no_pruning: false,
        }
    }

    /// A fingerprint of `value` at `target`/`key`, with a state key.
    pub fn fingerprint(&self, target: &str, key: &str, value: &SecretString) -> Option<String> {
        self.key.as_ref().map(|k| k.fingerprint(target, key, value))
    }

    /// A Fly digest as the record keeps it: keyed with the state key (a
    /// digest may derive from the value), nothing without one (then no
    /// proof can use it anyway: there is no fingerprint either).
    pub fn sealed(&self, target: &str, key: &str, digest: &str) -> String {
        self.key.as_ref().map(|k| k.seal_evidence(target, key, digest)).unwrap_or_default()
    }

    /// What the record read proves about `key` at `target` now.
    pub fn prove(&self, target: &str, key: &str, evidence: &str, value: &SecretString) -> Proof {
        match &self.read {
            Some(r) => r.prove(target, key, evidence, self.fingerprint(target, key, value).as_deref()),
            None => Proof::Unknown,
        }
    }

    /// Whether the record proves the key changed since secret-sync wrote it:
    /// the target's evidence moved (someone else wrote it), or the value's
    /// fingerprint differs from the one written.
    pub fn moved(&self, target: &str, key: &str, evidence: &str, value: &SecretString) -> bool {
        let Some(w) = self.read.as_ref().and_then(|r| r.written(target, key)) else { return false };
        if w.evidence != evidence {
            return true;
        }
        match (&w.fingerprint, self.fingerprint(target, key, value)) {
            (Some(then), Some(now)) => *then != now,
            _ => false,
        }
    }

    /// Keys the record says this manifest wrote at `target`; `None` without a record.
    pub fn owned(&self, target: &str) -> Option<Vec<String>> {
        self.read.as_ref().map(|r| r.owned(target).into_iter().map(str::to_string).collect())
    }

    /// The warning of a target whose pruning the missing record holds back
    /// (`None` when the run says it once instead).
    pub fn no_pruning(&self) -> Option<String> {
        (!self.quiet_no_pruning).then(|| {
            format!(
                "pruning deletes nothing here: {}, so nothing shows which keys secret-sync wrote (it deletes only those)",
                self.why_none
            )
        })
    }

    /// Of the keys present at `target` that the manifest no longer routes
    /// there — (name as listed, the target's evidence now as the record
    /// keeps it) — those pruning may delete: the record says secret-sync
    /// wrote them and the evidence has not moved since. A key whose evidence
    /// moved was set by someone else: it leaves the record (this run's) and
    /// is named in [`Prunable::moved`]. Names match case-insensitively when
    /// `fold` (GitHub's secret names).
    pub fn prunable<'a>(
        &self,
        target: &str,
        unrouted: impl IntoIterator<Item = (&'a str, String)>,
        fold: bool,
    ) -> Prunable {
        let mut p = Prunable::default();
        let Some(read) = &self.read else { return p };
        let owned = read.owned(target);
        for (listed, evidence) in unrouted {
            let same = |o: &&&str| if fold { o.eq_ignore_ascii_case(listed) } else { **o == listed };
            let Some(recorded) = owned.iter().find(same) else { continue };
            let held = read.written(target, recorded).is_some_and(|w| !w.evidence.is_empty() && w.evidence == evidence);
            if held {
                p.keys.push((listed.to_string(), recorded.to_string()));
            } else {
                self.deleted(target, recorded);
                p.moved.push(recorded.to_string());
            }
        }
        p.keys.sort();
        p.moved.sort();
        p
    }

    /// Whether the record knows `key` at `target` (it was written there).
    pub fn knows(&self, target: &str, key: &str) -> bool {
        self.read.as_ref().is_some_and(|r| r.written(target, key).is_some())
    }

    pub fn wrote(&self, target: &str, key: &str, evidence: String, value: &SecretString) {
        let fp = self.fingerprint(target, key, value);
        self.lock().wrote(target, key, evidence, fp, &self.now);
    }

    pub fn deleted(&self, target: &str, key: &str) {
        self.lock().deleted(target, key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        self.after.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_keys_whose_evidence_still_matches_are_prunable_and_moved_ones_leave_the_record() {
        let mut r = Record::new("m.yml", "production", None);
        let at = "2026-11-23T11:40:00Z";
        r.wrote("github:app", "Held", at.into(), None, at);
        r.wrote("github:app", "MOVED", at.into(), None, at);
        r.wrote("github:app", "NO_EVIDENCE", String::new(), None, at);
        let ledger = Ledger::keeping(Some(r.clone()), r, String::new(), None, at.into());
        let now = [
            ("HELD", at.to_string()),
            ("MOVED", "2026-11-24T09:00:00Z".to_string()),
            ("NO_EVIDENCE", String::new()),
            ("NEVER_OURS", at.to_string()),
        ];
        let p = ledger.prunable("github:app", now.iter().map(|(n, e)| (*n, e.clone())), true);
        assert_eq!(p.keys, [("HELD".to_string(), "Held".to_string())], "names fold as GitHub's do");
        assert_eq!(p.moved, ["MOVED", "NO_EVIDENCE"]);
        let w = p.warning("github:app").unwrap();
        assert!(w.contains("`github:app`") && w.contains("`MOVED`") && w.contains("outside secret-sync"), "{w}");
        let after = ledger.after.lock().unwrap();
        assert_eq!(after.owned("github:app"), ["Held"], "moved keys leave the record");
        drop(after);
        // Exact names elsewhere (Fly), and nothing without a record.
        let p = ledger.prunable("github:app", [("held", at.to_string())], false);
        assert!(p.keys.is_empty() && p.moved.is_empty());
        let off = Ledger::off("none");
        assert_eq!(off.prunable("github:app", [("HELD", at.to_string())], true), Prunable::default());
        assert!(off.no_pruning().is_some());
    }
}
