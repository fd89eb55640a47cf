//! The Vercel plan, as pure functions: what a project's listed variables
//! and the desired keys say should be written. No I/O here.
//!
//! Values cannot be read back (sensitive values are write-only, encrypted
//! ones are listed as ciphertext: docs/service-facts.md, "Vercel"), so a
//! present key is unchanged only when the state record proves it (the
//! driver's [`Proofs`]); otherwise it is written and reported `unverified`,
//! as Fly's keys are.

use secrecy::ExposeSecret;

use super::Spec;
use crate::targets::driver::Proofs;
use crate::targets::{Action, Change, DesiredKey};

/// All variables of one deployment together may not exceed 64 KB
/// (docs/service-facts.md, "Vercel"; counted as UTF-8 key + value).
pub const MAX_TOTAL_BYTES: usize = 64 * 1024;

/// A variable as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub key: String,
    pub environments: Vec<String>,
    pub branch: Option<String>,
    pub updated_at: i64,
}

impl Listed {
    /// What the state record keeps to tell whether it moved: any edit gives
    /// it a new `updatedAt`.
    pub fn evidence(&self) -> String {
        format!("{}@{}", self.id, self.updated_at)
    }
}

/// What to do to one project's variables for one set of environments.
#[derive(Debug, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Indexes of the desired keys to write (one upsert request).
    pub upsert: Vec<usize>,
    /// (id, key) of the variables to delete.
    pub delete: Vec<(String, String)>,
    /// Variables of this target's environments the manifest does not route here.
    pub unrouted: Vec<String>,
    /// Keys another variable holds for an overlapping set of environments:
    /// an upsert of them would fail (`ENV_CONFLICT`), so they are not sent.
    pub conflicts: Vec<String>,
    /// Why nothing may be written (over the 64 KB total).
    pub too_large: Option<usize>,
}

impl Plan {
    pub fn writes(&self) -> bool {
        self.too_large.is_none() && (!self.upsert.is_empty() || !self.delete.is_empty())
    }
}

/// The variables of `listing` that are this target's: its environments,
/// exactly, and its branch.
pub fn ours<'a>(spec: &'a Spec, listing: &'a [Listed]) -> impl Iterator<Item = &'a Listed> {
    listing.iter().filter(|l| spec.owns_slot(&l.environments, l.branch.as_deref()))
}

pub fn plan(
    spec: &Spec,
    listing: &[Listed],
    keys: &[DesiredKey],
    held_back: &[String],
    proofs: &Proofs,
    prune: bool,
) -> Plan {
    let mut p = Plan::default();
    let mine: Vec<&Listed> = ours(spec, listing).collect();
    for (i, k) in keys.iter().enumerate() {
        let present = mine.iter().any(|l| l.key == k.key);
        let other = listing.iter().any(|l| {
            l.key == k.key
                && !spec.owns_slot(&l.environments, l.branch.as_deref())
                && l.branch.as_deref() == spec.branch.as_deref()
                && l.environments.iter().any(|e| spec.environments.contains(e))
        });
        let action = match (present, other) {
            (false, true) => {
                p.conflicts.push(k.key.clone());
                continue;
            }
            (false, false) => Action::Create,
            (true, _) if proofs.unchanged.contains(&k.key) => Action::Unchanged,
            (true, _) if proofs.moved.contains(&k.key) => Action::Update,
            (true, _) => Action::Unverified,
        };
        if action != Action::Unchanged {
            p.upsert.push(i);
        }
        p.changes.push(Change { key: k.key.clone(), action });
    }
    let routed = |n: &str| keys.iter().any(|k| k.key == n) || held_back.iter().any(|h| h == n);
    p.unrouted = mine.iter().filter(|l| !routed(&l.key)).map(|l| l.key.clone()).collect();
    p.unrouted.sort();
    if prune {
        for (listed, _) in proofs.deletable.iter().flatten() {
            if let Some(l) = mine.iter().find(|l| &l.key == listed) {
                p.delete.push((l.id.clone(), l.key.clone()));
                p.changes.push(Change { key: l.key.clone(), action: Action::Delete });
            }
        }
    }
    let total: usize = keys.iter().map(|k| k.key.len() + k.value.expose_secret().len()).sum();
    if total > MAX_TOTAL_BYTES {
        p.too_large = Some(total);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn spec(environments: &[&str]) -> Spec {
        Spec {
            project: "web".into(),
            team: None,
            environments: environments.iter().map(|e| e.to_string()).collect(),
            branch: None,
            sensitive: true,
            redeploy: true,
            redeploy_timeout: std::time::Duration::from_secs(600),
        }
    }

    fn listed(key: &str, environments: &[&str]) -> Listed {
        Listed {
            id: format!("env_{key}"),
            key: key.into(),
            environments: environments.iter().map(|e| e.to_string()).collect(),
            branch: None,
            updated_at: 1,
        }
    }

    fn key(k: &str, v: &str) -> DesiredKey {
        DesiredKey {
            key: k.into(),
            secret: k.into(),
            source: None,
            value: SecretString::from(v.to_string()),
            env_var: None,
        }
    }

    fn actions(p: &Plan) -> Vec<(&str, Action)> {
        p.changes.iter().map(|c| (c.key.as_str(), c.action)).collect()
    }

    #[test]
    fn present_keys_are_unverified_unless_the_record_proves_them() {
        let l = [listed("A", &["production"]), listed("B", &["production"]), listed("C", &["production"])];
        let mut proofs = Proofs::default();
        proofs.unchanged.insert("A".into());
        proofs.moved.insert("B".into());
        let keys = [key("A", "x"), key("B", "y"), key("C", "z"), key("D", "w")];
        let p = plan(&spec(&["production"]), &l, &keys, &[], &proofs, false);
        assert_eq!(
            actions(&p),
            [("A", Action::Unchanged), ("B", Action::Update), ("C", Action::Unverified), ("D", Action::Create)]
        );
        assert_eq!(p.upsert, [1, 2, 3]);
        assert!(p.writes());
    }

    #[test]
    fn a_key_held_for_an_overlapping_set_of_environments_is_a_conflict_and_not_sent() {
        // Another variable `A` applies to production and preview: an upsert
        // of `A` for production alone would fail; `B` for development only
        // does not overlap.
        let l = [listed("A", &["production", "preview"]), listed("B", &["development"])];
        let keys = [key("A", "x"), key("B", "y")];
        let p = plan(&spec(&["production"]), &l, &keys, &[], &Proofs::default(), false);
        assert_eq!(p.conflicts, ["A"]);
        assert_eq!(actions(&p), [("B", Action::Create)]);
        assert_eq!(p.upsert, [1]);
    }

    #[test]
    fn prunes_only_what_the_record_owns_in_this_targets_environments() {
        let l = [listed("OLD", &["production"]), listed("HAND", &["production"]), listed("OTHER", &["preview"])];
        let proofs = Proofs { deletable: Some(vec![("OLD".into(), "OLD".into())]), ..Proofs::default() };
        let p = plan(&spec(&["production"]), &l, &[], &[], &proofs, true);
        assert_eq!(p.delete, [("env_OLD".to_string(), "OLD".to_string())]);
        assert_eq!(p.unrouted, ["HAND", "OLD"], "another environment's variables are not this target's");
        let p = plan(&spec(&["production"]), &l, &[], &[], &proofs, false);
        assert!(p.delete.is_empty() && !p.writes());
    }

    #[test]
    fn a_routed_set_over_64_kb_writes_nothing() {
        let big = "v".repeat(40 * 1024);
        let keys = [key("A", &big), key("B", &big)];
        let p = plan(&spec(&["production"]), &[], &keys, &[], &Proofs::default(), false);
        assert!(p.too_large.is_some_and(|n| n > MAX_TOTAL_BYTES));
        assert!(!p.writes());
        let p = plan(&spec(&["production"]), &[], &keys[..1], &[], &Proofs::default(), false);
        assert!(p.too_large.is_none() && p.writes());
    }
}
