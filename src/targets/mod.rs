//! Targets: where secrets go. This module turns the manifest and the
//! validated values into the desired state of each target (key → value),
//! which is all a target ever sees; one sub-module per target kind plans
//! (reads and diffs) and applies against it.

use secrecy::SecretString;
use serde::Serialize;

use crate::manifest::{Manifest, Target, TargetKind};
use crate::validate::Resolved;

/// One key a target should hold.
pub struct DesiredKey<'a> {
    /// The key at the target (ESC path, Fly or GitHub secret name).
    pub key: String,
    /// The manifest secret it comes from.
    pub secret: String,
    pub value: &'a SecretString,
    /// ESC only: also exposed as this environment variable.
    pub env_var: Option<String>,
}

/// What one target should hold after a sync, for the keys the manifest routes.
pub struct Desired<'a> {
    pub target: &'a Target,
    pub keys: Vec<DesiredKey<'a>>,
    /// Routed keys whose value is missing or invalid: left as they are.
    pub held_back: Vec<String>,
}

/// The desired state of every target of `env`, and the targets skipped
/// because they belong to other environments.
pub fn desired<'a>(
    m: &'a Manifest,
    env: &str,
    resolved: &[Resolved<'a>],
) -> (Vec<Desired<'a>>, Vec<&'a Target>) {
    let mut active = Vec::new();
    let mut skipped = Vec::new();
    for t in &m.targets {
        if t.environment != env {
            skipped.push(t);
            continue;
        }
        let mut d = Desired {
            target: t,
            keys: Vec::new(),
            held_back: Vec::new(),
        };
        for r in resolved {
            for route in r
                .secret
                .routes
                .iter()
                .filter(|x| x.kind == t.kind && x.target == t.name)
            {
                match (r.usable, r.value) {
                    (true, Some(value)) => d.keys.push(DesiredKey {
                        key: route.key.clone(),
                        secret: r.secret.name.clone(),
                        value,
                        env_var: route.env_var.clone(),
                    }),
                    _ => d.held_back.push(route.key.clone()),
                }
            }
        }
        active.push(d);
    }
    (active, skipped)
}

/// What a sync does to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Unchanged,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub key: String,
    pub action: Action,
}

/// Kinds whose client exists in this build. Targets of other kinds are listed
/// in the report as not contacted.
pub fn supported(_kind: TargetKind) -> bool {
    false
}
