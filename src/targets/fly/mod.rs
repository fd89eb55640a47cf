//! Fly.io apps as a target.
//!
//! Plan: one read per app of its secrets and their digests (Machines API,
//! `GET /v1/apps/{app}/secrets`). Fly's digests are opaque (docs/service-facts.md,
//! "Fly.io"), so a present key is proven unchanged only by evidence — a
//! legacy MD5 digest that matches ([`plan::LegacyMd5`]) — and is otherwise
//! *unverified*. Sync: one write per app of the created, unverified and
//! deleted keys; the digests after the write, compared with those before,
//! prove each unverified key unchanged or updated ([`plan::settle`]). Only an
//! app where something was created, updated or deleted is rolled (`deploy:
//! restart`) or staged: its Fly-platform machines get the new secrets
//! version as flyctl gives it ([`machines`]). An app whose write changed
//! nothing restarts nothing.

pub mod api;
pub mod checks;
#[cfg(feature = "demo")]
pub mod demo;
mod inputs;
pub mod machines;
pub mod plan;
pub mod roll;
mod section;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value as Json;

use self::api::{Api, WriteError, Written};
use self::plan::{Listing, Plan};
use self::roll::{Roll, Stop};
use super::driver::{Applied, ApplyError, Evidence, Kind, Plan as DriverPlan, Proofs, Setup, TargetError};
use super::{Action, Context, Desired};
use crate::manifest::{Deploy, TargetKind};
use crate::plan::{Deployment, KeyDeployment};
pub use inputs::{Flags, Inputs};
pub use section::Spec;

pub const KIND: TargetKind = TargetKind::new("fly");
pub const SECTION: &dyn crate::manifest::Section = &section::Fly;
/// The request id in Fly's answers (docs/service-facts.md, "Fly.io").
pub const REQUEST_ID: &str = "fly-request-id";
/// Fly's digests are opaque: the state record proves a key unchanged.
pub const RECORDED: bool = true;

/// This run's Fly targets.
pub fn build(setup: &Setup<'_>) -> std::sync::Arc<dyn super::Driven> {
    let i = &setup.inputs.fly;
    std::sync::Arc::new(Fly {
        settings: Settings {
            flaps_url: i.flaps_url.clone(),
            pacer: api::Pacer::new(setup.clock.clone()),
            clock: setup.clock.clone(),
            token: i.token.clone(),
        },
        concurrency: i.concurrency,
    })
}

pub const DEFAULT_FLAPS: &str = "https://api.machines.dev";

pub struct Settings {
    pub flaps_url: String,
    /// Paces every Fly request of the run to Fly's rate limits.
    pub pacer: api::Pacer,
    /// What the roll's waits run on (`config::Runner`'s clock).
    pub clock: crate::clock::Clock,
    pub token: Option<SecretString>,
}

/// `Authorization` as fly-go builds it (auth.go, tokens/tokens.go):
/// macaroons (`fm1r_`, `fm1a_`, `fm2_`, as `fly tokens create` prints them,
/// often already prefixed) use the `FlyV1` scheme, anything else is a bearer
/// token. A token given with a scheme (`FlyV1 …`, `Bearer …`, any case,
/// even twice) is stripped of it first, as fly-go `StripAuthorizationScheme`.
pub fn authorization(token: &str) -> String {
    let t = strip_scheme(token);
    // A comma-separated set is macaroons when any of it is (fly-go `AuthorizationHeader`).
    let macaroon = |part: &str| ["fm1r_", "fm1a_", "fm2_"].iter().any(|p| part.trim().starts_with(p));
    if t.split(',').any(macaroon) {
        return format!("FlyV1 {t}");
    }
    format!("Bearer {t}")
}

/// fly-go tokens/tokens.go `StripAuthorizationScheme`.
fn strip_scheme(token: &str) -> &str {
    let t = token.trim();
    match t.split_once(' ') {
        Some((scheme, rest))
            if scheme.trim().eq_ignore_ascii_case("Bearer") || scheme.trim().eq_ignore_ascii_case("FlyV1") =>
        {
            strip_scheme(rest)
        }
        _ => t,
    }
}

/// Fly.io apps.
pub struct Fly {
    settings: Settings,
    concurrency: usize,
}

/// An app's secrets as read, and how to authenticate.
pub struct Current {
    before: Listing,
    auth: String,
}

impl Kind for Fly {
    type Spec = Spec;
    type Current = Current;
    type Work = Plan;

    fn kind(&self) -> TargetKind {
        KIND
    }

    fn concurrency(&self, _targets: usize) -> usize {
        self.concurrency
    }

    async fn read(&self, ctx: &Context, spec: &Spec, _d: &Desired) -> Result<Current, TargetError> {
        let app = &spec.app;
        let Some(token) = self.settings.token.as_ref() else {
            return Err(TargetError::new(
                "no Fly.io token: set the `fly-token` input (`fly tokens create org` covers every app of an org)",
            ));
        };
        let auth = authorization(token.expose_secret());
        let before = Api::new(ctx, &self.settings, app, auth.clone()).list_secrets(None).await?;
        Ok(Current { before, auth })
    }

    /// Each key's digest, sealed with the state key as the record keeps it.
    fn evidence(&self, ctx: &Context, _spec: &Spec, current: &Current, d: &Desired) -> Option<Evidence> {
        let target = d.target.id();
        let present = current.before.iter().map(|(n, dg)| (n.clone(), ctx.ledger.sealed(&target, n, dg))).collect();
        Some(Evidence { present, fold_case: false })
    }

    fn plan(
        &self,
        ctx: &Context,
        spec: &Spec,
        current: &Current,
        proofs: &Proofs,
        d: &Desired,
    ) -> Result<DriverPlan<Plan>, TargetError> {
        let deploy = spec.deploy;
        // Pruning may delete only keys secret-sync still holds (the driver's
        // `Proofs`: the sealed digest now equal to the one its write left).
        let evidence = plan::Recorded { unchanged: &proofs.unchanged };
        let p = plan::plan(&current.before, &d.keys, &d.held_back, &proofs.owned(), ctx.prune, &evidence);
        let mut out = DriverPlan::new(p.changes.clone(), None);
        out.unrouted = p.unrouted.clone();
        out.deletes = p.deletable.len();
        if p.writes() {
            out.note = Some(plan_note(&p, deploy));
            out.work = Some(p);
        } else if !p.changes.is_empty() {
            let n = p.changes.len();
            let by_record = if ctx.ledger.keeps { proofs.unchanged.len() } else { 0 };
            out.note = Some(if by_record == n {
                format!("the state record proves all {n} key(s) unchanged: nothing to write")
            } else if by_record == 0 {
                format!("Fly's legacy MD5 digests prove all {n} key(s) unchanged: nothing to write")
            } else {
                format!(
                    "the state record ({by_record}) and Fly's legacy MD5 digests ({}) prove all {n} key(s) unchanged: nothing to write",
                    n - by_record
                )
            });
        }
        Ok(out)
    }

    async fn apply(
        &self,
        ctx: &Context,
        spec: &Spec,
        current: &Current,
        _plan: &DriverPlan<Plan>,
        p: &Plan,
        d: &Desired,
    ) -> Result<Applied, ApplyError> {
        let (app, deploy, checks) = (spec.app.as_str(), spec.deploy, spec.checks);
        let api = Api::new(ctx, &self.settings, app, current.auth.clone());
        let (written, after) = write(&api, p, d, &current.before, deploy == Deploy::Restart)
            .await
            .map_err(|error| ApplyError::Failed { error, written: false })?;
        if ctx.ledger.keeps {
            // The digests the write returned are the evidence of the next run.
            let target = d.target.id();
            for k in d.keys.iter().filter(|k| p.set.contains(&k.key)) {
                let digest = after.get(&k.key).map(|d| ctx.ledger.sealed(&target, &k.key, d)).unwrap_or_default();
                ctx.ledger.wrote(&target, &k.key, digest, &k.value);
            }
            for k in &p.unset {
                ctx.ledger.deleted(&target, k);
            }
        }
        let changes = plan::settle(p, &current.before, &after);
        let proof = proof(p, &changes);
        let version = show(written.version);
        let changed = plan::changes_anything(&changes);
        let moved: Vec<&str> = changes
            .iter()
            .filter(|c| matches!(c.action, Action::Create | Action::Update | Action::Delete))
            .map(|c| c.key.as_str())
            .collect();
        let mut applied = Applied { written: true, changed, ..Applied::default() };
        let message = if !changed {
            format!("{proof}; nothing to restart or stage")
        } else if deploy == Deploy::Stage {
            applied.deployment = deployment(&moved, 0, 0);
            format!("{proof}; secrets staged (version {version}); the next deploy picks them up")
        } else {
            let values: Vec<&str> = d.keys.iter().map(|k| k.value.expose_secret()).collect();
            let roll = roll::roll(&api, written.version, checks, &values).await;
            applied.deployment = deployment(&moved, roll.updated.len(), roll.total());
            let deployed = deployed_note(&applied.deployment);
            match &roll.stop {
                None => format!("{proof}; secrets version {version}; {}; {deployed}", roll.summary()),
                Some(stop) => {
                    applied.failed_after_write = Some(TargetError::new(with_notes(
                        &api,
                        stopped(app, &version, &proof, &roll, stop, &deployed),
                    )));
                    String::new()
                }
            }
        };
        applied.changes = Some(changes);
        applied.message = Some(with_notes(&api, message));
        Ok(applied)
    }
}

/// Each changed key's place as `fly secrets list` shows it: on every
/// Machine (Deployed), some (Partial: the roll stopped) or none (Staged).
/// An app without Machines has its secrets staged, as flyctl counts it.
fn deployment(keys: &[&str], updated: usize, total: usize) -> Vec<KeyDeployment> {
    let status = match updated {
        0 => Deployment::Staged,
        n if n == total => Deployment::Deployed,
        _ => Deployment::Partial,
    };
    keys.iter().map(|k| KeyDeployment { key: k.to_string(), status, machines: updated, of: total }).collect()
}

/// "changes deployed to all 3 Machine(s)" (the keys are in the report's `deployment`).
fn deployed_note(d: &[KeyDeployment]) -> String {
    let Some(first) = d.first() else { return String::new() };
    match first.status {
        Deployment::Deployed => format!("changes deployed to all {} Machine(s)", first.of),
        Deployment::Partial => format!("changes partially deployed ({} of {} Machines)", first.machines, first.of),
        Deployment::Staged => "changes staged, on no Machine yet".into(),
    }
}

/// The failure of a roll that stopped: where, why, what is on which
/// release, and how to get back.
fn stopped(app: &str, version: &str, proof: &str, roll: &Roll, stop: &Stop, deployed: &str) -> String {
    let ids = |v: &[String]| v.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ");
    let mut s = format!("{proof}; secrets were written (version {version}) but ");
    match &stop.machine {
        Some(m) => s.push_str(&format!("the roll stopped at Machine `{m}`: {}", stop.reason)),
        None => s.push_str(&format!("the update of the machines stopped: {}", stop.reason)),
    }
    if !roll.updated.is_empty() {
        s.push_str(&format!(". On the new secrets: {}", ids(&roll.updated)));
    }
    if !roll.pending.is_empty() {
        s.push_str(&format!(". Left on their previous release: {}", ids(&roll.pending)));
    }
    s.push_str(&format!(". {}", upper_first(deployed)));
    s.push_str(&format!(
        ". To recover: if a new value is wrong, set its previous value in the source and re-run secret-sync (the change rolls every Machine again), or `fly secrets set KEY=<previous value> -a {app}`; if the value is right and the failure was elsewhere, finish the roll with `fly secrets deploy -a {app}`"
    ));
    s
}

/// The message, then what was recovered from lost answers, if anything.
fn with_notes(api: &Api<'_>, message: String) -> String {
    let notes = api.notes();
    if notes.is_empty() {
        return message;
    }
    format!("{message}. Recovered from lost answers: {}", notes.join("; "))
}

/// What a `plan` says a sync would do.
fn plan_note(p: &Plan, deploy: Deploy) -> String {
    let unverified = p.changes.iter().filter(|c| c.action == Action::Unverified).count();
    let mut s = String::new();
    if unverified > 0 {
        s.push_str(&format!(
            "{unverified} present key(s) unverified (Fly's digests are opaque): a sync writes them and counts as updated only those whose digest the write moves; "
        ));
    }
    s.push_str(match deploy {
        Deploy::Restart => "only an app where something changed has its machines updated",
        Deploy::Stage => "changes are staged; the next deploy picks them up",
    });
    s
}

/// "the write proved 12 key(s) unchanged, 1 updated".
fn proof(p: &Plan, settled: &[super::Change]) -> String {
    let was_unverified = |k: &str| p.changes.iter().any(|c| c.key == k && c.action == Action::Unverified);
    let n = |a| settled.iter().filter(|c| c.action == a && was_unverified(&c.key)).count();
    let (same, moved) = (n(Action::Unchanged), n(Action::Update));
    let count = |a| settled.iter().filter(|c| c.action == a).count();
    let mut parts = Vec::new();
    match (same, moved) {
        (0, 0) => {}
        (s, 0) => parts.push(format!("the write proved all {s} present key(s) unchanged")),
        (0, m) => parts.push(format!("the write proved {m} present key(s) updated")),
        (s, m) => parts.push(format!("the write proved {s} present key(s) unchanged and {m} updated")),
    }
    for (n, what) in [(count(Action::Create), "created"), (count(Action::Delete), "deleted")] {
        if n > 0 {
            parts.push(format!("{n} key(s) {what}"));
        }
    }
    if parts.is_empty() {
        "written".into()
    } else {
        parts.join("; ")
    }
}

/// Writes the plan's keys in one request and returns the answer with the
/// digests after it. A lost answer is not sent again blindly: the secrets
/// are listed again; if they show the write took, they are the evidence
/// (and the version is read with flyctl's probe when machines need it);
/// if they cannot show it, the same values are written once more — setting
/// a key to the value it has changes nothing, and the new answer decides.
async fn write(
    api: &Api<'_>,
    p: &Plan,
    d: &Desired,
    before: &Listing,
    need_version: bool,
) -> Result<(Written, Listing), TargetError> {
    let mut values = serde_json::Map::new();
    for k in d.keys.iter().filter(|k| p.set.contains(&k.key)) {
        values.insert(k.key.clone(), Json::String(k.value.expose_secret().to_string()));
    }
    for k in &p.unset {
        values.insert(k.clone(), Json::Null);
    }
    let mut lost = None;
    for _ in 0..2 {
        match api.write_secrets(&values, &p.set).await {
            Ok(w) => {
                let after = match &w.digests {
                    Some(l) => l.clone(),
                    None => api.list_secrets(w.version).await?,
                };
                return Ok((w, after));
            }
            Err(WriteError::Refused(e)) => return Err(e),
            Err(WriteError::Lost(e)) => {
                let now = api.list_secrets(None).await?;
                if plan::landed(p, before, &now) {
                    api.note("the secrets read back show the write took".into());
                    let version = if need_version { api.current_version().await } else { None };
                    return Ok((Written { version, digests: None }, now));
                }
                api.note("the secrets read back could not show the write, so the same values were sent again".into());
                lost = Some(e);
            }
        }
    }
    let lost = lost.unwrap_or_else(|| TargetError::new(""));
    Err(TargetError {
        message: format!(
            "{}; twice no answer came and the secrets read back do not show the write. Nothing was restarted; run again",
            lost.message
        ),
        ..lost
    })
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

fn show(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_schemes_follow_fly_go() {
        assert_eq!(authorization("FlyV1 fm2_abc"), "FlyV1 fm2_abc");
        assert_eq!(authorization("fm2_abc"), "FlyV1 fm2_abc");
        assert_eq!(authorization("fm1r_abc"), "FlyV1 fm1r_abc");
        assert_eq!(authorization("fo1_abc"), "Bearer fo1_abc");
        // fly-go StripAuthorizationScheme: any case, repeated, then the rule.
        assert_eq!(authorization("Bearer fm2_abc"), "FlyV1 fm2_abc");
        assert_eq!(authorization("bearer FlyV1 fm2_abc"), "FlyV1 fm2_abc");
        assert_eq!(authorization("  BEARER  fo1_abc "), "Bearer fo1_abc");
        assert_eq!(authorization("FlyV1 fo1_abc"), "Bearer fo1_abc");
        assert_eq!(authorization("Token fo1_abc"), "Bearer Token fo1_abc");
        assert_eq!(authorization("FlyV1 fo1_x,fm2_y"), "FlyV1 fo1_x,fm2_y");
    }
}

#[cfg(test)]
mod deployment_tests {
    use super::*;

    #[test]
    fn keys_are_deployed_partial_or_staged_as_fly_secrets_list_counts() {
        let d = deployment(&["A", "B"], 3, 3);
        assert!(d.iter().all(|k| k.status == Deployment::Deployed && k.of == 3));
        assert_eq!(deployed_note(&d), "changes deployed to all 3 Machine(s)");
        assert_eq!(deployment(&["A"], 1, 3)[0].status, Deployment::Partial);
        assert_eq!(deployed_note(&deployment(&["A"], 1, 3)), "changes partially deployed (1 of 3 Machines)");
        assert_eq!(deployment(&["A"], 0, 3)[0].status, Deployment::Staged);
        assert_eq!(deployment(&["A"], 0, 0)[0].status, Deployment::Staged, "no Machines: staged");
    }
}
