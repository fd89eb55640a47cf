//! GitHub repository and environment secrets as a target (the pattern of
//! google/secrets-sync-action, driven by the manifest).
//!
//! GitHub never returns a secret's value, so "changed" cannot be decided by
//! comparing values. The rule: a key is written when it is missing at the
//! target, or when its source secret (in the org or this repository) changed
//! after the target's copy did (`updated_at`). Its limits: a source whose age
//! GitHub does not tell us (a value from a local file, or a token that cannot
//! read org metadata) is only ever created, never rewritten — the report says
//! so; and a target secret edited by hand after the source looks current.

use std::collections::HashMap;
use std::sync::Arc;

use secrecy::ExposeSecret;

use super::driver::{Applied, ApplyError, Kind, Plan, TargetError};
use super::{Action, Change, Context, Desired};
use crate::github::{seal, GhError, GitHub, Scope};
use crate::manifest::TargetSpec;

pub struct Settings {
    /// `None` without a token.
    pub client: Option<Arc<GitHub>>,
    /// Upper-cased source name → when its value last changed (epoch secs),
    /// once the org's metadata has been read: it is read while the other
    /// targets already run, and only GitHub targets wait for it.
    pub source_updated: SourceAges,
    /// Names the manifest routes to some GitHub target: the only keys pruning may delete.
    pub owned_keys: Vec<String>,
}

/// GitHub repository and environment secrets.
pub struct Github;

/// When each source secret last changed, published once the metadata read
/// is done (`None` until then).
pub type SourceAges = tokio::sync::watch::Receiver<Option<Arc<HashMap<String, i64>>>>;

/// The secrets at one scope: upper-cased name → when its value last changed;
/// and the sources' ages.
pub struct Current {
    scope: Scope,
    existing: HashMap<String, Option<i64>>,
    sources: Arc<HashMap<String, i64>>,
}

/// What a sync writes: indexes of the desired keys to put, names to delete.
pub struct Work {
    put: Vec<usize>,
    delete: Vec<String>,
}

impl From<GhError> for TargetError {
    fn from(e: GhError) -> TargetError {
        TargetError { message: e.message, status: e.status, request_id: None }
    }
}

fn client(ctx: &Context) -> Result<&GitHub, TargetError> {
    ctx.github.client.as_deref().ok_or_else(|| {
        TargetError::new(
            "no GitHub token: set the `github-token` input to a token that can write this repository's secrets",
        )
    })
}

impl Kind for Github {
    type Current = Current;
    type Work = Work;

    async fn read(&self, ctx: &Context, d: &Desired) -> Result<Current, TargetError> {
        let TargetSpec::Github { repo, env } = &d.target.spec else {
            unreachable!("the GitHub kind is only driven for GitHub targets")
        };
        let gh = client(ctx)?;
        let scope = match env {
            Some(e) => Scope::Env(repo.clone(), e.clone()),
            None => Scope::Repo(repo.clone()),
        };
        let list = gh.list(&scope).await?;
        let mut ages = ctx.github.source_updated.clone();
        // The sender publishes once, whatever the read found; a dropped
        // sender (no metadata read at all) leaves the ages empty.
        let sources = match ages.wait_for(Option::is_some).await {
            Ok(v) => v.clone().unwrap_or_default(),
            Err(_) => Arc::default(),
        };
        Ok(Current {
            scope,
            existing: list.into_iter().map(|s| (s.name.to_ascii_uppercase(), s.updated())).collect(),
            sources,
        })
    }

    fn plan(&self, ctx: &Context, current: &Current, d: &Desired) -> Result<Plan<Work>, TargetError> {
        Ok(plan(current, d, &current.sources, &ctx.github.owned_keys, ctx.prune))
    }

    async fn apply(
        &self,
        ctx: &Context,
        current: &Current,
        plan: &Plan<Work>,
        d: &Desired,
    ) -> Result<Applied, ApplyError> {
        let gh = client(ctx)?;
        let work = plan.work.as_ref().expect("the driver applies only plans with work");
        let scope = &current.scope;
        let mut written = false;
        let partly = |e: GhError, written: bool| ApplyError::Failed { error: e.into(), written };
        if !work.put.is_empty() {
            let key = gh.public_key(scope).await.map_err(|e| partly(e, false))?;
            for &i in &work.put {
                let k = &d.keys[i];
                let sealed = seal(&key.key, k.value.expose_secret()).map_err(|e| ApplyError::Failed {
                    error: TargetError::new(format!("encrypting `{}` for {}: {e}", k.key, scope.describe())),
                    written,
                })?;
                gh.put(scope, &k.key, &sealed, &key.key_id).await.map_err(|e| partly(e, written))?;
                written = true;
            }
        }
        for n in &work.delete {
            gh.delete(scope, n).await.map_err(|e| partly(e, written))?;
            written = true;
        }
        Ok(Applied { written: true, changed: true, ..Applied::default() })
    }
}

/// The plan for one scope: pure.
fn plan(
    current: &Current,
    d: &Desired,
    source_updated: &HashMap<String, i64>,
    owned_keys: &[String],
    prune: bool,
) -> Plan<Work> {
    let existing = &current.existing;
    let mut changes = Vec::new();
    let mut unknown = Vec::new();
    let mut put = Vec::new();
    for (i, k) in d.keys.iter().enumerate() {
        let action = match existing.get(&k.key.to_ascii_uppercase()) {
            None => Action::Create,
            Some(target_updated) => {
                let source = k.source.as_ref().and_then(|s| source_updated.get(&s.to_ascii_uppercase()));
                match (source, target_updated) {
                    (Some(src), Some(dst)) if src > dst => Action::Update,
                    (Some(_), Some(_)) => Action::Unchanged,
                    _ => {
                        unknown.push(format!("`{}`", k.key));
                        Action::Unchanged
                    }
                }
            }
        };
        if action != Action::Unchanged {
            put.push(i);
        }
        changes.push(Change { key: k.key.clone(), action });
    }
    let routed: Vec<String> = d
        .keys
        .iter()
        .map(|k| k.key.to_ascii_uppercase())
        .chain(d.held_back.iter().map(|k| k.to_ascii_uppercase()))
        .collect();
    let mut deletable: Vec<String> = existing
        .keys()
        .filter(|n| !routed.contains(n) && owned_keys.iter().any(|o| o.eq_ignore_ascii_case(n)))
        .cloned()
        .collect();
    deletable.sort();
    let delete = if prune { deletable } else { Vec::new() };
    changes.extend(delete.iter().map(|n| Change { key: n.clone(), action: Action::Delete }));
    let mut unrouted: Vec<String> = existing.keys().filter(|n| !routed.contains(n)).cloned().collect();
    unrouted.sort();
    let mut warnings = Vec::new();
    if !unknown.is_empty() {
        warnings.push(format!(
            "GitHub cannot tell when the source of {} last changed, so they are not rewritten (see the README: GitHub as a target)",
            unknown.join(", ")
        ));
    }
    let deletes = delete.len();
    let work = (!put.is_empty() || !delete.is_empty()).then_some(Work { put, delete });
    Plan { changes, deletes, unrouted, warnings, work, ..Plan::new(Vec::new(), None) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::DesiredKey;

    fn desired(keys: &[(&str, &str)]) -> Desired {
        let m = crate::manifest::parse(
            b"version: 1\ntargets:\n  github:\n    r: { repo: o/r }\nsecrets:\n  A:\n    to: [{ github: r }]\n",
            "m.yml",
        )
        .unwrap();
        Desired {
            target: m.targets[0].clone(),
            keys: keys
                .iter()
                .map(|(k, src)| DesiredKey {
                    key: k.to_string(),
                    secret: k.to_string(),
                    source: Some(src.to_string()),
                    value: secrecy::SecretString::from("v".to_string()),
                    env_var: None,
                })
                .collect(),
            held_back: Vec::new(),
        }
    }

    fn current(existing: &[(&str, Option<i64>)]) -> Current {
        Current {
            scope: Scope::Repo("o/r".into()),
            existing: existing.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
            sources: Arc::default(),
        }
    }

    #[test]
    fn writes_missing_keys_and_keys_whose_source_is_newer() {
        let d = desired(&[("NEW", "NEW"), ("OLD", "OLD"), ("SAME", "SAME"), ("UNKNOWN", "NOWHERE")]);
        let cur = current(&[("OLD", Some(100)), ("SAME", Some(300)), ("UNKNOWN", Some(1)), ("HAND_SET", Some(5))]);
        let src: HashMap<String, i64> = [("OLD".to_string(), 200), ("SAME".to_string(), 200)].into();
        let p = plan(&cur, &d, &src, &[], false);
        let actions: Vec<(&str, Action)> = p.changes.iter().map(|c| (c.key.as_str(), c.action)).collect();
        assert_eq!(
            actions,
            [
                ("NEW", Action::Create),
                ("OLD", Action::Update),
                ("SAME", Action::Unchanged),
                ("UNKNOWN", Action::Unchanged)
            ]
        );
        assert_eq!(p.work.as_ref().unwrap().put, [0, 1]);
        assert!(p.warnings[0].contains("`UNKNOWN`"));
        assert_eq!(p.unrouted, ["HAND_SET"]);
    }

    #[test]
    fn prunes_only_owned_keys_when_asked() {
        let d = desired(&[("KEEP", "KEEP")]);
        let cur = current(&[("KEEP", Some(1)), ("GONE", Some(1)), ("HAND_SET", Some(1))]);
        let owned = ["gone".to_string(), "KEEP".to_string()];
        let p = plan(&cur, &d, &HashMap::new(), &owned, false);
        assert!(p.work.is_none() && p.deletes == 0, "no pruning unless asked");
        let p = plan(&cur, &d, &HashMap::new(), &owned, true);
        assert_eq!(p.work.as_ref().unwrap().delete, ["GONE"]);
        assert_eq!(p.deletes, 1);
        assert_eq!(p.changes.last().unwrap(), &Change { key: "GONE".into(), action: Action::Delete });
    }
}
