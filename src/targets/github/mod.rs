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
//!
//! The state record lifts both limits where it knows a key: the secret's
//! `updated_at` right after secret-sync wrote it, and a keyed fingerprint of
//! the value written. Equal `updated_at` and fingerprint prove the key
//! unchanged (no write); a moved `updated_at` (someone else wrote it) or
//! another fingerprint (the value changed) prove it changed (written).
//! Pruning deletes only keys the record says secret-sync wrote here.

pub mod budget;
mod caps;
#[cfg(feature = "demo")]
pub mod demo;
mod inputs;
mod section;

use std::collections::HashMap;
use std::sync::Arc;

use secrecy::ExposeSecret;

use super::driver::{Applied, ApplyError, Evidence, Kind, Plan, Proofs, Setup, TargetError};
use super::{Action, Change, Context, Desired};
use crate::github::{seal, Access, App, GitHub, Scope};
use crate::manifest::TargetKind;
pub use inputs::{Flags, Inputs};
pub use section::{GithubApp, Spec};

pub const KIND: TargetKind = TargetKind::new("github");
pub const SECTION: &dyn crate::manifest::Section = &section::Github;
/// The request id in GitHub's answers (docs/service-facts.md, "GitHub").
pub const REQUEST_ID: &str = "x-github-request-id";
/// GitHub never returns values: the state record proves a key unchanged.
pub const RECORDED: bool = true;

/// This run's GitHub targets, on the client (and its scheduler) the metadata
/// read uses too.
pub fn build(setup: &Setup<'_>) -> Arc<dyn super::Driven> {
    Arc::new(Github { settings: setup.github.clone() })
}

#[derive(Clone)]
pub struct Settings {
    /// `None` without a token.
    pub client: Option<Arc<GitHub>>,
    /// Upper-cased source name → when its value last changed (epoch secs),
    /// once the org's metadata has been read: it is read while the other
    /// targets already run, and only GitHub targets wait for it.
    pub source_updated: SourceAges,
    /// The token's writes, counted and stated before any GitHub target plans.
    pub budget: Arc<budget::Budget>,
}

/// GitHub repository and environment secrets.
pub struct Github {
    settings: Settings,
}

/// When each source secret last changed, published once the metadata read
/// is done (`None` until then).
pub type SourceAges = tokio::sync::watch::Receiver<Option<Arc<HashMap<String, i64>>>>;

/// The secrets at one scope: upper-cased name → when its value last
/// changed (as GitHub wrote it, and parsed); and the sources' ages.
pub struct Current {
    scope: Scope,
    existing: HashMap<String, Present>,
    sources: Arc<HashMap<String, i64>>,
    /// The run's GitHub writes, once every GitHub target counted.
    budget: Option<budget::Statement>,
    /// An org target: who should see its secrets (repository ids resolved).
    access: Option<Access>,
}

pub struct Present {
    updated_at: String,
    updated: Option<i64>,
    /// Org secrets: who sees it now (`None` where not read).
    access: Option<Access>,
}

/// What a sync writes: indexes of the desired keys to put, and the names
/// to delete (as listed, and as the record holds them).
pub struct Work {
    put: Vec<usize>,
    delete: Vec<(String, String)>,
}


fn client(settings: &Settings) -> Result<&GitHub, TargetError> {
    settings.client.as_deref().ok_or_else(|| {
        TargetError::new(
            "no GitHub token: set the `github-token` input to a token that can write this repository's secrets",
        )
    })
}

impl Kind for Github {
    type Spec = Spec;
    type Current = Current;
    type Work = Work;

    fn kind(&self) -> TargetKind {
        KIND
    }

    /// Every GitHub target starts at once: their requests go one at a time
    /// through the token's scheduler anyway, and no GitHub target plans
    /// before every one has counted its writes (`budget`).
    fn concurrency(&self, targets: usize) -> usize {
        targets
    }

    /// Reads the scope, counts the writes its plan needs, and waits until
    /// every GitHub target has counted (see [`budget`]).
    async fn read(&self, ctx: &Context, spec: &Spec, d: &Desired) -> Result<Current, TargetError> {
        let target = d.target.id();
        let mut counting = Counting { budget: &self.settings.budget, target: &target, counted: false };
        let mut current = read(&self.settings, spec, d).await?;
        let proofs = Proofs::of(ctx, &evidence(&current), d);
        let work = plan(&current, d, &current.sources, &proofs, ctx.prune).work;
        counting.count(work.map_or(0, |w| w.put.len() + w.delete.len()));
        current.budget = Some(self.settings.budget.stated().await);
        Ok(current)
    }

    fn evidence(&self, _ctx: &Context, _spec: &Spec, current: &Current, _d: &Desired) -> Option<Evidence> {
        Some(evidence(current))
    }

    fn plan(
        &self,
        ctx: &Context,
        _spec: &Spec,
        current: &Current,
        proofs: &Proofs,
        d: &Desired,
    ) -> Result<Plan<Work>, TargetError> {
        let mut p = plan(current, d, &current.sources, proofs, ctx.prune);
        if let Some(b) = current.budget.as_ref().filter(|b| b.over && p.work.is_some()) {
            p.warnings.push(b.text.clone());
        }
        Ok(p)
    }

    async fn apply(
        &self,
        ctx: &Context,
        _spec: &Spec,
        current: &Current,
        _plan: &Plan<Work>,
        work: &Work,
        d: &Desired,
    ) -> Result<Applied, ApplyError> {
        let gh = client(&self.settings)?;
        // Written and listed before the next target writes.
        let _turn = gh.scheduler().turn().await;
        let scope = &current.scope;
        let target = d.target.id();
        let mut put = Vec::new();
        let result = put_all(gh, scope, current.access.as_ref(), work, d, &mut put).await;
        if ctx.ledger.keeps && !put.is_empty() {
            record_puts(ctx, gh, scope, &target, d, &put).await;
        }
        let mut written = !put.is_empty();
        let unwritten = |error: TargetError, done_deletes: usize| {
            let left = work.put.iter().filter(|i| !put.contains(i)).map(|&i| d.keys[i].key.as_str());
            let left = left.chain(work.delete[done_deletes..].iter().map(|(n, _)| n.as_str()));
            not_written(error, left)
        };
        result.map_err(|error| ApplyError::Failed { error: unwritten(error, 0), written })?;
        for (n, (listed, recorded)) in work.delete.iter().enumerate() {
            gh.delete(scope, listed)
                .await
                .map_err(|e| ApplyError::Failed { error: unwritten(e.into(), n), written })?;
            ctx.ledger.deleted(&target, recorded);
            written = true;
        }
        Ok(Applied { written: true, changed: true, ..Applied::default() })
    }
}

/// Counts a target's writes for the budget once; a target that fails (or
/// panics) before counting counts zero, so no other target waits for it.
struct Counting<'a> {
    budget: &'a budget::Budget,
    target: &'a str,
    counted: bool,
}

impl Counting<'_> {
    fn count(&mut self, writes: usize) {
        self.counted = true;
        self.budget.count(self.target, writes);
    }
}

impl Drop for Counting<'_> {
    fn drop(&mut self) {
        if !self.counted {
            self.budget.count(self.target, 0);
        }
    }
}

/// Each secret's `updated_at`, as the record keeps it after a write.
fn evidence(current: &Current) -> Evidence {
    let present = current.existing.iter().map(|(n, p)| (n.clone(), p.updated_at.clone())).collect();
    Evidence { present, fold_case: true }
}

/// What one scope holds, and the sources' ages once known.
async fn read(settings: &Settings, spec: &Spec, d: &Desired) -> Result<Current, TargetError> {
    let gh = client(settings)?;
    let (scope, want) = match spec {
        Spec::Repo { repo, env: Some(e), .. } => (Scope::Env(repo.clone(), e.clone()), None),
        Spec::Repo { repo, env: None, app } => (Scope::repo(app_of(*app), repo), None),
        Spec::Org { org, app, visibility, repositories } => {
            let mut selected = Vec::new();
            for r in repositories {
                selected.push(gh.repo_id(r).await?);
            }
            selected.sort_unstable();
            let ids_as_strings = *app == GithubApp::Dependabot;
            (Scope::org(app_of(*app), org), Some(Access { visibility: visibility.clone(), selected, ids_as_strings }))
        }
    };
    let list = gh.list(&scope).await?;
    let mut existing = HashMap::new();
    for s in list {
        let access = match &want {
            Some(w) => Some(current_access(gh, &scope, &s, w, d).await?),
            None => None,
        };
        existing
            .insert(s.name.to_ascii_uppercase(), Present { updated: s.updated(), updated_at: s.updated_at, access });
    }
    let mut ages = settings.source_updated.clone();
    // The sender publishes once, whatever the read found; a dropped
    // sender (no metadata read at all) leaves the ages empty.
    let sources = match ages.wait_for(Option::is_some).await {
        Ok(v) => v.clone().unwrap_or_default(),
        Err(_) => Arc::default(),
    };
    Ok(Current { scope, existing, sources, budget: None, access: want })
}

fn app_of(a: GithubApp) -> App {
    match a {
        GithubApp::Actions => App::Actions,
        GithubApp::Dependabot => App::Dependabot,
        GithubApp::Codespaces => App::Codespaces,
    }
}

/// Who sees an org secret now: its visibility, and for `selected` (when the
/// manifest routes the key here and wants `selected`) the repositories.
async fn current_access(
    gh: &GitHub,
    scope: &Scope,
    s: &crate::github::SecretMeta,
    want: &Access,
    d: &Desired,
) -> Result<Access, TargetError> {
    let visibility = s.visibility.clone().unwrap_or_default();
    let routed = d.keys.iter().any(|k| k.key.eq_ignore_ascii_case(&s.name));
    let selected = match (visibility.as_str(), want.visibility.as_str(), routed) {
        ("selected", "selected", true) => gh.selected(scope, &s.name).await?,
        _ => Vec::new(),
    };
    Ok(Access { visibility, selected, ids_as_strings: want.ids_as_strings })
}

/// A failed write says which keys it left unwritten (never a silent
/// partial sync).
fn not_written<'a>(mut error: TargetError, left: impl Iterator<Item = &'a str>) -> TargetError {
    let left: Vec<String> = left.map(|k| format!("`{k}`")).collect();
    if !left.is_empty() {
        error.message =
            format!("{}; not written: {} ({} of this target's changes)", error.message, left.join(", "), left.len());
    }
    error
}

/// Puts the plan's keys one at a time (GitHub asks for mutating requests
/// in series); `done` gets the index of each key written, also when a later
/// one fails.
async fn put_all(
    gh: &GitHub,
    scope: &Scope,
    access: Option<&Access>,
    work: &Work,
    d: &Desired,
    done: &mut Vec<usize>,
) -> Result<(), TargetError> {
    if work.put.is_empty() {
        return Ok(());
    }
    let key = gh.public_key(scope).await?;
    for &i in &work.put {
        let k = &d.keys[i];
        let sealed = seal(&key.key, k.value.expose_secret())
            .map_err(|e| TargetError::new(format!("encrypting `{}` for {}: {e}", k.key, scope.describe())))?;
        gh.put(scope, &k.key, &sealed, &key.key_id, access).await?;
        done.push(i);
    }
    Ok(())
}

/// Records the keys written with the `updated_at` GitHub gave them: one
/// list of the scope after the writes (a PUT answers with no body, and one
/// list costs fewer requests than a GET per key). Should the list fail, the
/// keys are recorded without evidence: still owned, and rewritten by the
/// next run (no proof of "unchanged" is ever guessed). A writer between our
/// PUT and this list would be taken for ours: a window of one request.
async fn record_puts(ctx: &Context, gh: &GitHub, scope: &Scope, target: &str, d: &Desired, put: &[usize]) {
    let listed: HashMap<String, String> = match gh.list(scope).await {
        Ok(l) => l.into_iter().map(|s| (s.name.to_ascii_uppercase(), s.updated_at)).collect(),
        Err(e) => {
            tracing::debug!(target, error = %e.message, "the secrets could not be listed after the write");
            HashMap::new()
        }
    };
    for &i in put {
        let k = &d.keys[i];
        let evidence = listed.get(&k.key.to_ascii_uppercase()).cloned().unwrap_or_default();
        ctx.ledger.wrote(target, &k.key, evidence, &k.value);
    }
}

/// The plan for one scope: pure.
fn plan(
    current: &Current,
    d: &Desired,
    source_updated: &HashMap<String, i64>,
    proofs: &Proofs,
    prune: bool,
) -> Plan<Work> {
    let existing = &current.existing;
    let mut changes = Vec::new();
    let mut unknown = Vec::new();
    let mut put = Vec::new();
    for (i, k) in d.keys.iter().enumerate() {
        let action = match existing.get(&k.key.to_ascii_uppercase()) {
            None => Action::Create,
            Some(_) if proofs.unchanged.contains(&k.key) => Action::Unchanged,
            Some(p) => {
                let source = k.source.as_ref().and_then(|s| source_updated.get(&s.to_ascii_uppercase()));
                match (source, p.updated) {
                    _ if proofs.moved.contains(&k.key) => Action::Update,
                    (Some(src), Some(dst)) if *src > dst => Action::Update,
                    (Some(_), Some(_)) => Action::Unchanged,
                    _ => {
                        unknown.push(format!("`{}`", k.key));
                        Action::Unchanged
                    }
                }
            }
        };
        // An org secret whose visibility or repositories differ is written
        // again with the manifest's (the value goes with it).
        let access_differs = |p: &Present| match (&current.access, &p.access) {
            (Some(want), Some(now)) => want.visibility != now.visibility || want.selected != now.selected,
            _ => false,
        };
        let action = match existing.get(&k.key.to_ascii_uppercase()) {
            Some(p) if action == Action::Unchanged && access_differs(p) => Action::Update,
            _ => action,
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
    // Pruning may delete only keys secret-sync still holds (the driver's
    // `Proofs`: `updated_at` now equal to the one recorded after its write);
    // without `prune` the driver says they are kept.
    let mut warnings = Vec::new();
    let delete = if prune { proofs.deletable.clone().unwrap_or_default() } else { Vec::new() };
    changes.extend(delete.iter().map(|(n, _)| Change { key: n.clone(), action: Action::Delete }));
    let mut unrouted: Vec<String> = existing.keys().filter(|n| !routed.contains(n)).cloned().collect();
    unrouted.sort();
    if !unknown.is_empty() {
        warnings.push(format!(
            "GitHub cannot tell when the source of {} last changed, so they are not rewritten (see docs/targets/github.md)",
            unknown.join(", ")
        ));
    }
    let deletes = delete.len();
    // GitHub's limits, before anything is written.
    let creates = changes.iter().filter(|c| c.action == Action::Create).count();
    let sizes = put.iter().map(|&i| (d.keys[i].key.as_str(), d.keys[i].value.expose_secret().len()));
    let failure = caps::check(&current.scope, existing.len() + creates - deletes, sizes).map(TargetError::new);
    let work = (failure.is_none() && (!put.is_empty() || !delete.is_empty())).then_some(Work { put, delete });
    Plan { changes, deletes, unrouted, warnings, work, failure, ..Plan::new(Vec::new(), None) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::ledger::Ledger;
    use crate::targets::DesiredKey;

    fn desired(keys: &[(&str, &str)]) -> Desired {
        let m = crate::manifest::parse(
            b"version: 1\ntargets:\n  github:\n    r: { repo: o/r }\nsecrets:\n  A:\n    to: [{ github: r }]\n",
            "m.yml",
            crate::targets::SECTIONS,
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
        let at = |t: Option<i64>| t.map(crate::util::rfc3339).unwrap_or_default();
        Current {
            scope: Scope::Repo("o/r".into()),
            existing: existing
                .iter()
                .map(|(n, t)| (n.to_string(), Present { updated: *t, updated_at: at(*t), access: None }))
                .collect(),
            sources: Arc::default(),
            budget: None,
            access: None,
        }
    }

    fn key() -> crate::state::StateKey {
        crate::state::StateKey::new(secrecy::SecretString::from("0123456789abcdef-test-key".to_string())).unwrap()
    }

    /// A ledger whose record says secret-sync wrote `written` (key, updated_at, value) at `github:r`.
    fn ledger(written: Option<&[(&str, i64, &str)]>) -> Ledger {
        let k = key();
        let record = written.map(|w| {
            let mut r = crate::state::Record::new("m.yml", "e", Some(&k));
            for (name, at, value) in w {
                let fp = k.fingerprint("github:r", name, &secrecy::SecretString::from(value.to_string()));
                r.wrote("github:r", name, crate::util::rfc3339(*at), Some(fp), "then");
            }
            r
        });
        let start = crate::state::Record::new("m.yml", "e", Some(&k));
        Ledger::keeping(record, start, "there is no state record yet".into(), Some(k), "now".into())
    }

    /// The plan as the driver makes it: the record's proofs first, then
    /// what the record decides (warnings, kept keys, the report's proof).
    fn planned(cur: &Current, d: &Desired, src: &HashMap<String, i64>, ledger: Ledger, prune: bool) -> Plan<Work> {
        let ctx = Context {
            sync: true,
            http: crate::http::Http::new(crate::http::Policy::default(), &[]),
            prune,
            max_deletes: 10,
            hold_writes: false,
            ledger,
        };
        let e = evidence(cur);
        let proofs = Proofs::of(&ctx, &e, d);
        let mut p = plan(cur, d, src, &proofs, prune);
        crate::targets::driver::owned_by_record(&ctx, &proofs, d, &mut p);
        p
    }

    #[test]
    fn writes_missing_keys_and_keys_whose_source_is_newer() {
        let d = desired(&[("NEW", "NEW"), ("OLD", "OLD"), ("SAME", "SAME"), ("UNKNOWN", "NOWHERE")]);
        let cur = current(&[("OLD", Some(100)), ("SAME", Some(300)), ("UNKNOWN", Some(1)), ("HAND_SET", Some(5))]);
        let src: HashMap<String, i64> = [("OLD".to_string(), 200), ("SAME".to_string(), 200)].into();
        let p = planned(&cur, &d, &src, ledger(None), false);
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
        let r = p.record.unwrap();
        assert_eq!((r.owned, r.unchanged, r.unverified), (0, 0, 3));
        assert_eq!(r.adopted, ["OLD"], "present before secret-sync wrote it, and overwritten");
    }

    #[test]
    fn the_record_proves_unchanged_and_sees_edits_at_the_target_and_in_the_source() {
        // All values are "v" (see `desired`).
        let d = desired(&[("SAME", "S"), ("EDITED", "S"), ("NEWVAL", "S")]);
        let cur = current(&[("SAME", Some(100)), ("EDITED", Some(500)), ("NEWVAL", Some(100))]);
        let l = ledger(Some(&[("SAME", 100, "v"), ("EDITED", 100, "v"), ("NEWVAL", 100, "old value")]));
        // The source is older than every target copy: the age rule alone would write nothing.
        let src: HashMap<String, i64> = [("S".to_string(), 50)].into();
        let p = planned(&cur, &d, &src, l, false);
        let actions: Vec<(&str, Action)> = p.changes.iter().map(|c| (c.key.as_str(), c.action)).collect();
        assert_eq!(actions, [("SAME", Action::Unchanged), ("EDITED", Action::Update), ("NEWVAL", Action::Update)]);
        let r = p.record.unwrap();
        assert_eq!((r.owned, r.unchanged, r.unverified), (3, 1, 2));
        assert!(r.adopted.is_empty());
    }

    #[test]
    fn prunes_only_what_the_record_says_secret_sync_wrote_here() {
        let d = desired(&[("KEEP", "KEEP")]);
        let cur = current(&[("KEEP", Some(1)), ("GONE", Some(1)), ("HAND_SET", Some(1))]);
        let l = || ledger(Some(&[("gone", 1, "v"), ("KEEP", 1, "v")]));
        let p = planned(&cur, &d, &HashMap::new(), l(), false);
        assert!(p.work.is_none() && p.deletes == 0, "no pruning unless asked");
        assert_eq!(p.kept, ["GONE"], "left in place, for the driver to say");
        let p = planned(&cur, &d, &HashMap::new(), l(), true);
        assert_eq!(p.work.as_ref().unwrap().delete, [("GONE".to_string(), "gone".to_string())]);
        assert_eq!(p.deletes, 1);
        assert_eq!(p.changes.last().unwrap(), &Change { key: "GONE".into(), action: Action::Delete });
        // Without a record nothing is deleted, and the plan says why.
        let p = planned(&cur, &d, &HashMap::new(), ledger(None), true);
        assert_eq!(p.deletes, 0);
        assert!(
            p.warnings[0].contains("pruning deletes nothing here: there is no state record yet"),
            "{:?}",
            p.warnings
        );
    }
}
