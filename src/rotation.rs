//! Rotation and drift: GitHub's secrets metadata against the manifest, as
//! findings and a report section. Pure: the metadata is read elsewhere (in
//! [`crate::github::inventory`]); without a token nothing is read and nothing
//! is said; with a token that may not read org secrets, one warning says so
//! and the run goes on.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::diag::{Finding, Kind, Severity};
use crate::duration::Period;
use crate::github::inventory::Inventory;
use crate::http::HttpError;
use crate::manifest::Manifest;
use crate::validate::Resolved;
use crate::values::SecretValues;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GithubReport {
    pub org: String,
    /// `read`, or `unavailable` (with the reason in `message`).
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub rotation: Vec<RotationEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
}

#[derive(Default)]
pub struct Assessment {
    pub report: Option<GithubReport>,
    pub findings: Vec<Finding>,
    /// Upper-cased source name → when its value last changed (epoch secs).
    pub source_updated: HashMap<String, i64>,
}

fn finding(severity: Severity, kind: Kind, secret: &str, message: String, line: Option<usize>) -> Finding {
    Finding { severity, kind, secret: secret.to_string(), message, line, col: line.map(|_| 1) }
}

/// Rotation and drift as findings and a report section, from the metadata
/// read (or why it could not be read). `now` is seconds since the epoch.
pub fn assess(
    read: Result<Inventory, HttpError>,
    org: &str,
    m: &Manifest,
    env: &str,
    resolved: &[Resolved<'_>],
    vals: &SecretValues,
    now: i64,
) -> Assessment {
    let inv = match read {
        Ok(inv) => inv,
        Err(e) => {
            let msg = format!("{e}; rotation and drift are not reported (the rest of the run is unaffected)");
            return Assessment {
                findings: vec![finding(Severity::Warning, Kind::MetadataUnavailable, org, msg.clone(), None)],
                report: Some(GithubReport {
                    org: org.to_string(),
                    status: "unavailable".into(),
                    message: Some(msg),
                    rotation: Vec::new(),
                    drift: None,
                }),
                source_updated: HashMap::new(),
            };
        }
    };
    let rotation = rotation(m, env, resolved, &inv, now);
    let mut findings = Vec::new();
    for r in &rotation {
        let line = m.secrets.iter().find(|s| s.name == r.secret).map(|s| s.pos.line);
        let (last, due) = (&r.updated_at[..10], &r.due[..10]);
        match r.status {
            Rotation::Expired => findings.push(finding(
                Severity::Warning,
                Kind::RotationExpired,
                &r.secret,
                format!(
                    "`{}` was last changed {last} and should be rotated every {}: overdue since {due}",
                    r.secret, r.rotate_every
                ),
                line,
            )),
            Rotation::Expiring => findings.push(finding(
                Severity::Notice,
                Kind::RotationDue,
                &r.secret,
                format!("`{}` is due for rotation on {due} ({} day(s) left)", r.secret, r.days_left),
                line,
            )),
            Rotation::Healthy => {}
        }
    }
    if let Some(e) = &inv.repo_error {
        findings.push(finding(
            Severity::Notice,
            Kind::MetadataUnavailable,
            inv.repo.as_deref().unwrap_or_default(),
            format!("{e}; ages come from the org's secrets only"),
            None,
        ));
    }
    let drift = drift(m, env, vals, &inv);
    Assessment {
        report: Some(GithubReport {
            org: org.to_string(),
            status: "read".into(),
            message: None,
            rotation,
            drift: Some(drift),
        }),
        findings,
        source_updated: inv.updated_at(),
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
