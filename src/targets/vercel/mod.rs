//! Vercel project environment variables as a target: one target is one
//! project's variables for one set of environments (`production`,
//! `preview`, `development`; optionally a preview branch).
//!
//! `read`: one list of the project's variables. `plan`: pure (see [`plan`]):
//! values cannot be read back, so the state record's proofs decide what is
//! unchanged; other present keys are written and reported `unverified`.
//! `apply`: one upsert of every key to write, the deletes the record allows,
//! then — when something was created, updated or deleted, production is
//! among the environments and `redeploy` is on — a redeploy of the current
//! production deployment as `vercel redeploy` does it, waited for until it
//! is `READY` (docs/service-facts.md, "Vercel"). A failed or slow
//! deployment fails the target, naming it; the previous one keeps serving.

mod api;
#[cfg(feature = "demo")]
pub mod demo;
mod inputs;
pub mod plan;
mod probe;
mod section;

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::driver::{Applied, ApplyError, Evidence, Kind, Plan as DriverPlan, Proofs, Setup, TargetError};
use super::{Action, Context, Desired};
use crate::manifest::TargetKind;
use api::Api;
pub use inputs::{Flags, Inputs, DEFAULT_API};
pub use section::Spec;

pub const KIND: TargetKind = TargetKind::new("vercel");
pub const SECTION: &dyn crate::manifest::Section = &section::Vercel;
/// The request id Vercel answers with (docs/service-facts.md, "Vercel").
pub const REQUEST_ID: &str = "x-vercel-id";
/// Values cannot be read back: the state record proves a key unchanged.
pub const RECORDED: bool = true;

/// Between reads of a deployment being built.
const POLL: Duration = Duration::from_secs(5);
/// How much of a build's error goes into the report.
const ERROR_LIMIT: usize = 300;

pub fn build(setup: &Setup<'_>) -> Arc<dyn super::Driven> {
    let i = &setup.inputs.vercel;
    Arc::new(Vercel {
        token: i.token.clone(),
        api_url: i.api_url.clone(),
        clock: setup.clock.clone(),
        concurrency: i.concurrency,
    })
}

/// Vercel projects.
pub struct Vercel {
    token: Option<SecretString>,
    api_url: String,
    /// What the wait for a redeploy runs on.
    clock: crate::clock::Clock,
    concurrency: usize,
}

/// A project's variables as listed.
pub struct Current {
    listing: api::Listing,
}

impl Vercel {
    fn api<'a>(&'a self, ctx: &'a Context, spec: &'a Spec) -> Result<Api<'a>, TargetError> {
        let Some(token) = self.token.as_ref() else {
            return Err(TargetError::new(
                "no Vercel token: set the `vercel-token` input (`VERCEL_TOKEN` on the command line) to a token from vercel.com/account/tokens",
            ));
        };
        Ok(Api { http: &ctx.http, base: &self.api_url, token: token.expose_secret(), spec })
    }
}

impl Kind for Vercel {
    type Spec = Spec;
    type Current = Current;
    type Work = plan::Plan;

    fn kind(&self) -> TargetKind {
        KIND
    }

    fn concurrency(&self, _targets: usize) -> usize {
        self.concurrency
    }

    async fn read(&self, ctx: &Context, spec: &Spec, _d: &Desired) -> Result<Current, TargetError> {
        Ok(Current { listing: self.api(ctx, spec)?.list().await? })
    }

    /// This target's variables, each with its id and `updatedAt`.
    fn evidence(&self, _ctx: &Context, spec: &Spec, current: &Current, _d: &Desired) -> Option<Evidence> {
        let present = plan::ours(spec, &current.listing.vars).map(|l| (l.key.clone(), l.evidence())).collect();
        Some(Evidence { present, fold_case: false })
    }

    fn plan(
        &self,
        ctx: &Context,
        spec: &Spec,
        current: &Current,
        proofs: &Proofs,
        d: &Desired,
    ) -> Result<DriverPlan<plan::Plan>, TargetError> {
        // A listing with more pages could hide what the record owns: no pruning then.
        let complete = current.listing.complete;
        let prune = ctx.prune && complete;
        let p = plan::plan(spec, &current.listing.vars, &d.keys, &d.held_back, proofs, prune);
        let mut out = DriverPlan::new(p.changes.clone(), None);
        out.unrouted = p.unrouted.clone();
        out.deletes = p.delete.len();
        if ctx.prune && !complete {
            out.warnings.push("Vercel listed only part of the project's variables, so pruning deletes nothing here".into());
        }
        if !p.conflicts.is_empty() {
            let keys: Vec<String> = p.conflicts.iter().map(|k| format!("`{k}`")).collect();
            out.failure = Some(TargetError::new(format!(
                "{} is already set for another, overlapping set of environments, so it was not written: remove or narrow that variable in Vercel, or give this target the same `targets:`",
                keys.join(", ")
            )));
        }
        if let Some(total) = p.too_large {
            out.failure = Some(TargetError::new(format!(
                "the routed variables total {total} bytes, over Vercel's 64 KB for all variables of a deployment; nothing was written"
            )));
            return Ok(out);
        }
        if p.writes() {
            let redeploy = redeploys(spec, &p.changes);
            out.note = Some(format!(
                "a sync writes {} variable(s) in one request{}{}",
                p.upsert.len(),
                if p.delete.is_empty() { String::new() } else { format!(" and deletes {}", p.delete.len()) },
                if redeploy { ", then redeploys production and waits for it to be ready" } else { "" }
            ));
            out.work = Some(p);
        }
        Ok(out)
    }

    async fn apply(
        &self,
        ctx: &Context,
        spec: &Spec,
        _current: &Current,
        _plan: &DriverPlan<plan::Plan>,
        p: &plan::Plan,
        d: &Desired,
    ) -> Result<Applied, ApplyError> {
        let api = self.api(ctx, spec)?;
        let target = d.target.id();
        let mut written = false;
        if !p.upsert.is_empty() {
            let items: Vec<serde_json::Value> = p.upsert.iter().map(|&i| item(spec, &d.keys[i])).collect();
            let up = api.upsert(&items).await.map_err(|error| ApplyError::Failed { error, written: false })?;
            written = !up.written.is_empty();
            if ctx.ledger.keeps {
                for l in &up.written {
                    if let Some(k) = d.keys.iter().find(|k| k.key == l.key) {
                        ctx.ledger.wrote(&target, &l.key, l.evidence(), &k.value);
                    }
                }
            }
            if !up.failed.is_empty() {
                let failed: Vec<String> = up.failed.iter().map(|(k, code)| format!("`{k}` ({code})")).collect();
                let error = TargetError::new(format!(
                    "Vercel refused {} of the variables: {}; nothing was redeployed",
                    failed.len(),
                    failed.join(", ")
                ));
                return Err(ApplyError::Failed { error, written });
            }
        }
        for (id, key) in &p.delete {
            api.delete(id, key).await.map_err(|error| ApplyError::Failed { error, written })?;
            written = true;
            ctx.ledger.deleted(&target, key);
        }
        let mut applied = Applied { written, changed: true, ..Applied::default() };
        let wrote = format!(
            "{} variable(s) written in one request{}",
            p.upsert.len(),
            if p.delete.is_empty() { String::new() } else { format!(", {} deleted", p.delete.len()) }
        );
        if !redeploys(spec, &p.changes) {
            let unverified = p.changes.iter().filter(|c| c.action == Action::Unverified).count();
            if spec.redeploys_production() && unverified > 0 {
                applied.warnings.push(format!(
                    "{unverified} present key(s) were written without proof that they changed (no state record proves them), so production was not redeployed for them: run `vercel redeploy` if a value changed; with `state-key` set the next runs know"
                ));
            }
            applied.message = Some(format!("{wrote}; they reach the next deployment"));
            return Ok(applied);
        }
        match self.redeploy(&api, d).await {
            Ok(text) => applied.message = Some(format!("{wrote}; {text}")),
            Err(e) => {
                applied.failed_after_write = Some(TargetError {
                    message: format!("{wrote}, but {}; the previous production deployment keeps serving", e.message),
                    ..e
                })
            }
        }
        Ok(applied)
    }
}

/// Whether a sync redeploys: something was created, updated or deleted,
/// and production gets it.
fn redeploys(spec: &Spec, changes: &[crate::plan::Change]) -> bool {
    spec.redeploys_production()
        && changes.iter().any(|c| matches!(c.action, Action::Create | Action::Update | Action::Delete))
}

/// One variable of the upsert (docs/service-facts.md, "Vercel").
fn item(spec: &Spec, k: &crate::targets::DesiredKey) -> serde_json::Value {
    let mut j = json!({
        "key": k.key,
        "value": k.value.expose_secret(),
        "type": if spec.sensitive { "sensitive" } else { "encrypted" },
        "target": spec.environments,
        "comment": "managed by secret-sync",
    });
    if let Some(b) = &spec.branch {
        j["gitBranch"] = json!(b);
    }
    j
}

impl Vercel {
    /// Redeploys production from its current deployment and waits, within
    /// the target's `redeploy_timeout`, for the new one to serve.
    async fn redeploy(&self, api: &Api<'_>, d: &Desired) -> Result<String, TargetError> {
        let (name, from) = api.production().await?;
        let Some(from) = from else {
            return Ok("the project has no production deployment yet: the next one gets them".into());
        };
        let new = api.redeploy(&name, &from).await?;
        let deadline = self.clock.now().await + api.spec.redeploy_timeout;
        let values: Vec<&str> = d.keys.iter().map(|k| k.value.expose_secret()).collect();
        let mut dep = new;
        loop {
            match dep.state.as_str() {
                "READY" if dep.alias_assigned => {
                    return Ok(format!("production redeployed as `{}` ({}), ready", dep.id, dep.url))
                }
                "ERROR" | "CANCELED" | "BLOCKED" | "DELETED" => {
                    let why = dep
                        .error
                        .as_deref()
                        .map(|e| format!(": {}", crate::targets::redact::redact(e, values.iter().copied(), ERROR_LIMIT)))
                        .unwrap_or_default();
                    return Err(TargetError::new(format!(
                        "the redeploy `{}` ({}) ended {}{why}",
                        dep.id, dep.url, dep.state
                    )));
                }
                _ => {}
            }
            if self.clock.now().await >= deadline {
                return Err(TargetError::new(format!(
                    "the redeploy `{}` ({}) was not ready within {}s (last state {}); see it in the project's deployments",
                    dep.id,
                    dep.url,
                    api.spec.redeploy_timeout.as_secs(),
                    dep.state
                )));
            }
            self.clock.sleep(POLL).await;
            dep = api.deployment(&dep.id).await?;
        }
    }
}
