//! What GitHub knows about the secrets (names, visibility, when each value
//! last changed) against what the manifest declares: rotation age and drift.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{GhError, GitHub, Scope, SecretMeta};
use crate::duration::Period;
use crate::manifest::Manifest;
use crate::validate::Resolved;
use crate::values::SecretValues;

/// Secrets metadata of the org, and of the repository running the job.
pub struct Inventory {
    pub org: String,
    pub org_secrets: Vec<SecretMeta>,
    pub repo: Option<String>,
    pub repo_secrets: Vec<SecretMeta>,
    /// Why the repository's own secrets could not be read, if they could not.
    pub repo_error: Option<String>,
}

impl Inventory {
    pub async fn read(gh: &GitHub, org: &str, repo: Option<&str>) -> Result<Inventory, GhError> {
        let org_secrets = gh.list(&Scope::Org(org.to_string())).await?;
        let (repo_secrets, repo_error) = match repo {
            Some(r) => match gh.list(&Scope::Repo(r.to_string())).await {
                Ok(s) => (s, None),
                Err(e) => (Vec::new(), Some(e.message)),
            },
            None => (Vec::new(), None),
        };
        Ok(Inventory { org: org.to_string(), org_secrets, repo: repo.map(str::to_string), repo_secrets, repo_error })
    }

    /// A source secret's metadata: the repository's secret wins over the
    /// org's (as it does in `toJSON(secrets)`). Names are case-insensitive.
    pub fn find(&self, name: &str) -> Option<(&SecretMeta, &'static str)> {
        let hit = |v: &[SecretMeta]| v.iter().position(|s| s.name.eq_ignore_ascii_case(name));
        if let Some(i) = hit(&self.repo_secrets) {
            return Some((&self.repo_secrets[i], "repository"));
        }
        hit(&self.org_secrets).map(|i| (&self.org_secrets[i], "org"))
    }

    /// Last change of each known source secret, for targets that cannot
    /// compare values (GitHub).
    pub fn updated_at(&self) -> HashMap<String, i64> {
        let mut m = HashMap::new();
        for s in self.org_secrets.iter().chain(&self.repo_secrets) {
            if let Some(t) = s.updated() {
                m.insert(s.name.to_ascii_uppercase(), t);
            }
        }
        m
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rotation {
    Expired,
    Expiring,
    Healthy,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotationEntry {
    pub secret: String,
    /// The source secret whose age this is.
    pub source: String,
    /// `org` or `repository`.
    pub scope: String,
    pub updated_at: String,
    pub rotate_every: Period,
    pub due: String,
    /// Whole days until due (negative: overdue).
    pub days_left: i64,
    pub status: Rotation,
}

/// Rotation class of every declared secret of `env` whose source GitHub knows.
pub fn rotation(m: &Manifest, env: &str, resolved: &[Resolved], inv: &Inventory, now: i64) -> Vec<RotationEntry> {
    let warn = m.defaults.warn_before.hours() as i64 * 3600;
    let mut out = Vec::new();
    for r in resolved {
        let s = r.secret;
        let meta = match &r.source {
            Some(src) => inv.find(src),
            None => m.source_candidates(s, env).iter().find_map(|c| inv.find(c)),
        };
        let Some((meta, scope)) = meta else { continue };
        let Some(updated) = meta.updated() else { continue };
        let period = m.rotation_period(s);
        let due = updated + period.hours() as i64 * 3600;
        let status = if now >= due {
            Rotation::Expired
        } else if due - now <= warn {
            Rotation::Expiring
        } else {
            Rotation::Healthy
        };
        out.push(RotationEntry {
            secret: s.name.clone(),
            source: meta.name.clone(),
            scope: scope.into(),
            updated_at: crate::util::rfc3339(updated),
            rotate_every: period,
            due: crate::util::rfc3339(due),
            days_left: (due - now).div_euclid(86_400),
            status,
        });
    }
    out.sort_by(|a, b| a.status.cmp(&b.status).then(a.days_left.cmp(&b.days_left)).then(a.secret.cmp(&b.secret)));
    out
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotVisible {
    pub secret: String,
    pub source: String,
    pub visibility: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Drift {
    /// Declared (and used in this environment) but in neither the org nor the repository.
    pub declared_absent: Vec<String>,
    /// Org secrets no declared secret reads, in any environment.
    pub unmanaged: Vec<String>,
    /// Org secrets the manifest reads here that this job did not receive
    /// (visibility `selected` or `private` without this repository).
    pub not_visible: Vec<NotVisible>,
    pub org_secrets: usize,
    /// Org secrets some declared secret reads.
    pub managed: usize,
    /// `managed / org_secrets`, in percent (100 for an empty org).
    pub coverage_percent: u32,
}

pub fn drift(m: &Manifest, env: &str, values: &SecretValues, inv: &Inventory) -> Drift {
    let read_anywhere = m.source_names_anywhere();
    let in_env = |s: &crate::manifest::Secret| {
        s.required.in_env(env)
            || s.routes.iter().any(|r| m.target(r.kind, &r.target).is_some_and(|t| t.environment == env))
    };
    let mut declared_absent = Vec::new();
    let mut not_visible = Vec::new();
    for s in m.secrets.iter().filter(|s| in_env(s)) {
        let candidates = m.source_candidates(s, env);
        match candidates.iter().find_map(|c| inv.find(c)) {
            None => declared_absent.push(s.name.clone()),
            Some((meta, "org")) => {
                let received = candidates.iter().any(|c| values.get(c).is_some());
                let vis = meta.visibility.clone().unwrap_or_default();
                if !received && vis != "all" {
                    not_visible.push(NotVisible { secret: s.name.clone(), source: meta.name.clone(), visibility: vis });
                }
            }
            Some(_) => {}
        }
    }
    let unmanaged: Vec<String> = inv
        .org_secrets
        .iter()
        .filter(|o| !read_anywhere.contains(&o.name.to_ascii_uppercase()))
        .map(|o| o.name.clone())
        .collect();
    let org_secrets = inv.org_secrets.len();
    let managed = org_secrets - unmanaged.len();
    let coverage_percent = (managed * 100).checked_div(org_secrets).unwrap_or(100) as u32;
    Drift { declared_absent, unmanaged, not_visible, org_secrets, managed, coverage_percent }
}
