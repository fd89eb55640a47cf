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

use super::{Action, Change, Context, Desired, TargetOutcome};
use crate::github::{seal, GitHub, Scope};
use crate::manifest::TargetSpec;
use crate::plan::TargetStatus;

pub struct Settings {
    /// `None` without a token.
    pub client: Option<Arc<GitHub>>,
    /// Upper-cased source name → when its value last changed (epoch secs).
    pub source_updated: HashMap<String, i64>,
    /// Names the manifest routes to some GitHub target: the only keys pruning may delete.
    pub owned_keys: Vec<String>,
}

pub async fn run(ctx: &Context, d: &Desired) -> TargetOutcome {
    let TargetSpec::Github { repo, env } = &d.target.spec else {
        unreachable!("github::run is only called for GitHub targets")
    };
    let Some(gh) = ctx.github.client.as_deref() else {
        return TargetOutcome::failed(
            "no GitHub token: set the `github-token` input to a token that can write this repository's secrets".into(),
        );
    };
    let scope = match env {
        Some(e) => Scope::Env(repo.clone(), e.clone()),
        None => Scope::Repo(repo.clone()),
    };
    let existing: HashMap<String, Option<i64>> = match gh.list(&scope).await {
        Ok(list) => list.into_iter().map(|s| (s.name.to_ascii_uppercase(), s.updated())).collect(),
        Err(e) => return TargetOutcome::failed(e.message),
    };

    let mut changes = Vec::new();
    let mut unknown = Vec::new();
    let mut to_write = Vec::new();
    for k in &d.keys {
        let action = match existing.get(&k.key.to_ascii_uppercase()) {
            None => Action::Create,
            Some(target_updated) => {
                let source_updated =
                    k.source.as_ref().and_then(|s| ctx.github.source_updated.get(&s.to_ascii_uppercase()));
                match (source_updated, target_updated) {
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
            to_write.push(k);
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
        .filter(|n| !routed.contains(n) && ctx.github.owned_keys.iter().any(|o| o.eq_ignore_ascii_case(n)))
        .cloned()
        .collect();
    deletable.sort();
    if ctx.prune {
        changes.extend(deletable.iter().map(|n| Change { key: n.clone(), action: Action::Delete }));
    }
    let mut unrouted: Vec<String> = existing.keys().filter(|n| !routed.contains(n)).cloned().collect();
    unrouted.sort();
    let mut out = TargetOutcome { changes, unrouted, ..TargetOutcome::default() };
    if !unknown.is_empty() {
        out.warnings.push(format!(
            "GitHub cannot tell when the source of {} last changed, so they are not rewritten (see the README: GitHub as a target)",
            unknown.join(", ")
        ));
    }
    if let Some(capped) = ctx.over_delete_cap(deletable.len(), out.changes.clone()) {
        return capped;
    }
    let deletes = if ctx.prune { deletable } else { Vec::new() };
    if to_write.is_empty() && deletes.is_empty() {
        out.status = Some(if ctx.writes() { TargetStatus::Unchanged } else { TargetStatus::Planned });
        return out;
    }
    if !ctx.writes() {
        out.status = Some(TargetStatus::Planned);
        return out;
    }
    if !to_write.is_empty() {
        let key = match gh.public_key(&scope).await {
            Ok(k) => k,
            Err(e) => {
                out.status = Some(TargetStatus::Failed);
                out.message = Some(e.message);
                return out;
            }
        };
        for k in to_write {
            let sealed = match seal(&key.key, k.value.expose_secret()) {
                Ok(s) => s,
                Err(e) => {
                    out.status = Some(TargetStatus::Failed);
                    out.message = Some(format!("encrypting `{}` for {}: {e}", k.key, scope.describe()));
                    return out;
                }
            };
            if let Err(e) = gh.put(&scope, &k.key, &sealed, &key.key_id).await {
                out.status = Some(TargetStatus::Failed);
                out.message = Some(e.message);
                return out;
            }
            out.written = true;
        }
    }
    for n in deletes {
        if let Err(e) = gh.delete(&scope, &n).await {
            out.status = Some(TargetStatus::Failed);
            out.message = Some(e.message);
            return out;
        }
    }
    out.written = true;
    out.status = Some(TargetStatus::Synced);
    out
}
