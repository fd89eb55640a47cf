//! The Fly plan, as pure functions: what an app's secrets listing and the
//! desired keys say should be written, and — after the write — what the
//! write proved. No I/O here; `super` reads and writes.
//!
//! Fly's digests are opaque (docs/service-facts.md, "Fly.io"): a present key is proven
//! unchanged only by [`Evidence`]; otherwise it is [`Action::Unverified`]
//! and a sync writes it, then compares the digest the write left with the
//! one read before ([`settle`]).

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};

use crate::targets::{Action, Change, DesiredKey};

/// An app's secrets as listed: name → digest (lower-case).
pub type Listing = BTreeMap<String, String>;

/// What a source of evidence says about one present key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The stored value is proven equal to the desired one.
    Unchanged,
    /// Nothing proves it either way.
    Unknown,
}

/// A source of "this key is unchanged" proofs. [`LegacyMd5`] is the one Fly
/// itself offers; a record of what secret-sync wrote can be another.
pub trait Evidence {
    fn verdict(&self, key: &str, digest: &str, value: &SecretString) -> Verdict;
}

/// Apps whose secrets predate Fly's current store show 32-hex MD5 digests of
/// the value: equality proves the value unchanged. Any other digest proves
/// nothing (docs/service-facts.md, "Fly.io"; a 16-hex digest never matches here).
pub struct LegacyMd5;

impl Evidence for LegacyMd5 {
    fn verdict(&self, _key: &str, digest: &str, value: &SecretString) -> Verdict {
        let legacy = digest.len() == 32 && digest.bytes().all(|b| b.is_ascii_hexdigit());
        if legacy && digest.eq_ignore_ascii_case(&format!("{:x}", md5::compute(value.expose_secret().as_bytes()))) {
            Verdict::Unchanged
        } else {
            Verdict::Unknown
        }
    }
}

/// The state record's proof (worked out by the driver: the digest equals
/// the one the record kept from secret-sync's write, and the record's
/// fingerprint that of today's value), then Fly's own.
pub struct Recorded<'a> {
    /// The keys the record proved unchanged.
    pub unchanged: &'a std::collections::HashSet<String>,
}

impl Evidence for Recorded<'_> {
    fn verdict(&self, key: &str, digest: &str, value: &SecretString) -> Verdict {
        if self.unchanged.contains(key) {
            Verdict::Unchanged
        } else {
            LegacyMd5.verdict(key, digest, value)
        }
    }
}

/// What to do to one app.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Per key, in the manifest's order, then deletes by name.
    pub changes: Vec<Change>,
    /// Keys to set (creates and unverified keys), in the manifest's order.
    pub set: Vec<String>,
    /// Keys to unset (`prune`).
    pub unset: Vec<String>,
    /// Keys the manifest owns but no longer routes here (deleted with `prune`).
    pub deletable: Vec<String>,
    /// Keys present that the manifest does not route here.
    pub unrouted: Vec<String>,
}

impl Plan {
    pub fn writes(&self) -> bool {
        !self.set.is_empty() || !self.unset.is_empty()
    }
}

/// The plan for one app: `listing` as read, `keys` as desired, `held_back`
/// routed keys without a usable value (left alone), `owned` the keys the
/// state record says secret-sync wrote at this app (the only ones pruning
/// may delete).
pub fn plan(
    listing: &Listing,
    keys: &[DesiredKey],
    held_back: &[String],
    owned: &[String],
    prune: bool,
    evidence: &dyn Evidence,
) -> Plan {
    let mut p = Plan::default();
    for k in keys {
        let action = match listing.get(&k.key) {
            None => Action::Create,
            Some(d) => match evidence.verdict(&k.key, d, &k.value) {
                Verdict::Unchanged => Action::Unchanged,
                Verdict::Unknown => Action::Unverified,
            },
        };
        if action != Action::Unchanged {
            p.set.push(k.key.clone());
        }
        p.changes.push(Change { key: k.key.clone(), action });
    }
    let routed = |n: &str| keys.iter().any(|k| k.key == n) || held_back.iter().any(|h| h == n);
    // A listing is sorted by name, so these are too.
    p.unrouted = listing.keys().filter(|n| !routed(n)).cloned().collect();
    p.deletable = p.unrouted.iter().filter(|n| owned.contains(n)).cloned().collect();
    if prune {
        for n in &p.deletable {
            p.unset.push(n.clone());
            p.changes.push(Change { key: n.clone(), action: Action::Delete });
        }
    }
    p
}

/// What the write proved, per key of the plan: an unverified key whose
/// digest after the write equals the one before is unchanged, any other is
/// updated (also when the digest is missing: then nothing proves it
/// unchanged, and a restart is the safe side). Creates and deletes stand.
pub fn settle(plan: &Plan, before: &Listing, after: &Listing) -> Vec<Change> {
    plan.changes
        .iter()
        .map(|c| {
            let action = match c.action {
                Action::Unverified => match (before.get(&c.key), after.get(&c.key)) {
                    (Some(b), Some(a)) if a == b => Action::Unchanged,
                    _ => Action::Update,
                },
                a => a,
            };
            Change { key: c.key.clone(), action }
        })
        .collect()
}

/// Whether `after` shows that a write of `plan` took effect: a created key
/// appeared, a deleted one went, or an unverified key's digest moved. When
/// none of these shows, the write may not have happened (or changed
/// nothing): only a fresh answer can tell.
pub fn landed(plan: &Plan, before: &Listing, after: &Listing) -> bool {
    plan.changes.iter().any(|c| match c.action {
        Action::Create => after.contains_key(&c.key),
        Action::Delete => !after.contains_key(&c.key),
        Action::Unverified => after.get(&c.key) != before.get(&c.key),
        _ => false,
    })
}

/// Whether a settled change means the app's machines need the new secrets.
pub fn changes_anything(changes: &[Change]) -> bool {
    changes.iter().any(|c| matches!(c.action, Action::Create | Action::Update | Action::Delete))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str, v: &str) -> DesiredKey {
        DesiredKey { key: k.into(), secret: k.into(), source: None, value: SecretString::from(v), env_var: None }
    }

    fn listing(pairs: &[(&str, &str)]) -> Listing {
        pairs.iter().map(|(k, d)| (k.to_string(), d.to_string())).collect()
    }

    fn actions(changes: &[Change]) -> Vec<(&str, Action)> {
        changes.iter().map(|c| (c.key.as_str(), c.action)).collect()
    }

    const MD5_ROMANCE: &str = "b9e37b7b239ee4aefc75352fe3fa6dc6";

    #[test]
    fn opaque_digests_leave_present_keys_unverified_never_updated() {
        let l = listing(&[("A", "0123456789abcdef"), ("B", "fedcba9876543210"), ("HAND", "1111111111111111")]);
        let p = plan(&l, &[key("A", "x"), key("B", "y"), key("C", "z")], &[], &[], false, &LegacyMd5);
        assert_eq!(actions(&p.changes), [("A", Action::Unverified), ("B", Action::Unverified), ("C", Action::Create)]);
        assert_eq!(p.set, ["A", "B", "C"]);
        assert!(p.unset.is_empty());
        assert_eq!(p.unrouted, ["HAND"]);
        assert!(p.deletable.is_empty(), "a key the manifest never names is not deletable");
    }

    #[test]
    fn a_matching_legacy_md5_proves_unchanged_and_a_different_one_does_not() {
        let l = listing(&[("A", MD5_ROMANCE), ("B", MD5_ROMANCE), ("C", &MD5_ROMANCE.to_uppercase())]);
        let p = plan(&l, &[key("A", "romance"), key("B", "other"), key("C", "romance")], &[], &[], false, &LegacyMd5);
        assert_eq!(
            actions(&p.changes),
            [("A", Action::Unchanged), ("B", Action::Unverified), ("C", Action::Unchanged)]
        );
        assert_eq!(p.set, ["B"]);
        // 16 hex chars of the MD5 prove nothing.
        let short = listing(&[("A", &MD5_ROMANCE[..16])]);
        assert_eq!(plan(&short, &[key("A", "romance")], &[], &[], false, &LegacyMd5).set, ["A"]);
    }

    #[test]
    fn another_evidence_source_plugs_in() {
        struct Everything;
        impl Evidence for Everything {
            fn verdict(&self, _: &str, _: &str, _: &SecretString) -> Verdict {
                Verdict::Unchanged
            }
        }
        let l = listing(&[("A", "0123456789abcdef")]);
        let p = plan(&l, &[key("A", "x"), key("B", "y")], &[], &[], false, &Everything);
        assert_eq!(actions(&p.changes), [("A", Action::Unchanged), ("B", Action::Create)]);
        assert_eq!(p.set, ["B"]);
    }

    #[test]
    fn pruning_deletes_only_owned_keys_and_never_held_back_ones() {
        let l = listing(&[("OLD", "1"), ("HELD", "2"), ("HAND", "3")]);
        let owned = ["OLD".to_string(), "HELD".to_string()];
        let held = ["HELD".to_string()];
        let p = plan(&l, &[], &held, &owned, false, &LegacyMd5);
        assert_eq!(p.deletable, ["OLD"]);
        assert!(!p.writes(), "without prune nothing is written");
        let p = plan(&l, &[], &held, &owned, true, &LegacyMd5);
        assert_eq!(p.unset, ["OLD"]);
        assert_eq!(actions(&p.changes), [("OLD", Action::Delete)]);
        assert_eq!(p.unrouted, ["HAND", "OLD"]);
    }

    #[test]
    fn settling_compares_digests_before_and_after_the_write() {
        let before = listing(&[("A", "aaaa"), ("B", "bbbb"), ("GONE", "gggg")]);
        let keys = [key("A", "x"), key("B", "y"), key("C", "z")];
        let p = plan(&before, &keys, &[], &["GONE".to_string()], true, &LegacyMd5);
        let after = listing(&[("A", "aaaa"), ("B", "b2b2"), ("C", "cccc")]);
        let settled = settle(&p, &before, &after);
        assert_eq!(
            actions(&settled),
            [("A", Action::Unchanged), ("B", Action::Update), ("C", Action::Create), ("GONE", Action::Delete)]
        );
        assert!(changes_anything(&settled));
        assert!(landed(&p, &before, &after));
        // A key missing from the evidence is not proven unchanged.
        assert_eq!(settle(&p, &before, &listing(&[]))[0].action, Action::Update);
    }

    #[test]
    fn a_write_that_changed_nothing_proves_every_key_unchanged_and_shows_no_landing() {
        let before = listing(&[("A", "aaaa"), ("B", "bbbb")]);
        let p = plan(&before, &[key("A", "x"), key("B", "y")], &[], &[], false, &LegacyMd5);
        let settled = settle(&p, &before, &before);
        assert!(settled.iter().all(|c| c.action == Action::Unchanged));
        assert!(!changes_anything(&settled));
        assert!(!landed(&p, &before, &before), "an identical listing cannot show the write happened");
    }

    #[test]
    fn the_records_proof_comes_first_then_the_legacy_md5() {
        let unchanged: std::collections::HashSet<String> = ["A".to_string()].into();
        let evidence = Recorded { unchanged: &unchanged };
        // A: proven by the record. B: not. D: a legacy MD5 that matches.
        let l = listing(&[("A", "d-a"), ("B", "d-b2"), ("D", MD5_ROMANCE)]);
        let keys = [key("A", "x"), key("B", "y"), key("D", "romance")];
        let p = plan(&l, &keys, &[], &[], false, &evidence);
        assert_eq!(
            actions(&p.changes),
            [("A", Action::Unchanged), ("B", Action::Unverified), ("D", Action::Unchanged)],
            "the legacy MD5 still counts where the record knows nothing"
        );
    }
}
