//! Rotation and drift from GitHub's secrets metadata, as findings and a
//! report section. Without a token nothing is read and nothing is said; with
//! a token that may not read org secrets, one warning says so and the run
//! goes on.

use std::collections::HashMap;

use super::inventory::{self, Inventory, Rotation};
use super::GitHub;
use crate::manifest::Manifest;
use crate::report::GithubReport;
use crate::validate::{Finding, Kind, Resolved, Severity};
use crate::values::SecretValues;

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

pub async fn assess(
    gh: &GitHub,
    org: &str,
    repo: Option<&str>,
    m: &Manifest,
    env: &str,
    resolved: &[Resolved<'_>],
    vals: &SecretValues,
) -> Assessment {
    let inv = match Inventory::read(gh, org, repo).await {
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
    let rotation = inventory::rotation(m, env, resolved, &inv, crate::util::now_secs());
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
    let drift = inventory::drift(m, env, vals, &inv);
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
