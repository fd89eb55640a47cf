//! Targets: where secrets go. This module turns the manifest and the
//! validated values into the desired state of each target (key → value),
//! which is all a target ever sees, and runs the targets concurrently. One
//! sub-module per kind reads the target, diffs, and (in `sync`) writes.
//!
//! Adding a kind: a module with `async fn run(ctx, desired) -> Outcome`
//! (see `esc`), a `match` arm in [`run_one`], and its settings in the
//! manifest model.

pub mod esc;
pub mod fly;
pub mod github;
pub mod kubernetes;

use std::sync::Arc;

use secrecy::SecretString;

use crate::config::Mode;
use crate::http::Http;
use crate::manifest::{Manifest, Target, TargetKind};
pub use crate::plan::{Action, Change, TargetOutcome, TargetStatus};
use crate::validate::Resolved;

/// One key a target should hold.
pub struct DesiredKey {
    /// The key at the target (ESC path, Fly or GitHub secret name, Kubernetes Secret key).
    pub key: String,
    /// The manifest secret it comes from.
    pub secret: String,
    /// The source secret its value was read from (`PROD_OPENAI_API_KEY`).
    pub source: Option<String>,
    pub value: SecretString,
    /// ESC only: also exposed as this environment variable.
    pub env_var: Option<String>,
}

/// What one target should hold after a sync, for the keys the manifest routes.
pub struct Desired {
    pub target: Target,
    pub keys: Vec<DesiredKey>,
    /// Routed keys whose value is missing or invalid: left as they are.
    pub held_back: Vec<String>,
}

/// The desired state of every target of `env`, and the targets skipped
/// because they belong to other environments.
pub fn desired<'a>(m: &'a Manifest, env: &str, resolved: &[Resolved<'_>]) -> (Vec<Desired>, Vec<&'a Target>) {
    let mut active = Vec::new();
    let mut skipped = Vec::new();
    for t in &m.targets {
        if t.environment != env {
            skipped.push(t);
            continue;
        }
        let mut d = Desired { target: t.clone(), keys: Vec::new(), held_back: Vec::new() };
        for r in resolved {
            for route in r.secret.routes.iter().filter(|x| x.kind == t.kind && x.target == t.name) {
                match (r.usable, r.value) {
                    (true, Some(value)) => d.keys.push(DesiredKey {
                        key: route.key.clone(),
                        secret: r.secret.name.clone(),
                        source: r.source.clone(),
                        value: value.clone(),
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

/// Settings shared by every target of a run.
pub struct Context {
    pub mode: Mode,
    pub http: Http,
    pub prune: bool,
    pub max_deletes: usize,
    pub esc: esc::Settings,
    pub fly: fly::Settings,
    pub github: github::Settings,
    pub kubernetes: kubernetes::Settings,
    /// Fly apps processed at once.
    pub fly_concurrency: usize,
    /// Write nothing (validation failed): plan only.
    pub hold_writes: bool,
}

impl Context {
    pub fn writes(&self) -> bool {
        self.mode == Mode::Sync && !self.hold_writes
    }

    /// A failed outcome when pruning would delete more than `max-deletes`:
    /// then nothing at all is written to the target.
    pub fn over_delete_cap(&self, deletes: usize, changes: Vec<Change>) -> Option<TargetOutcome> {
        (self.prune && deletes > self.max_deletes).then(|| TargetOutcome {
            changes,
            status: Some(TargetStatus::Failed),
            message: Some(format!(
                "pruning would delete {deletes} keys, more than `max-deletes` ({}); nothing was written to this target. Review the manifest or raise `max-deletes`.",
                self.max_deletes
            )),
            ..TargetOutcome::default()
        })
    }
}

/// How many ESC environments (and GitHub targets) are handled at once.
const CONCURRENCY: usize = 4;

/// Plans (and in `sync`, applies) every target, a bounded number of each kind
/// at a time. One target's failure is its own outcome; the others carry on.
pub async fn run_all(ctx: Arc<Context>, desired: Vec<Desired>) -> Vec<(Desired, TargetOutcome)> {
    let fly = Arc::new(tokio::sync::Semaphore::new(ctx.fly_concurrency.max(1)));
    let other = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut set = tokio::task::JoinSet::new();
    for (i, d) in desired.into_iter().enumerate() {
        let sem = if d.target.kind == TargetKind::Fly { fly.clone() } else { other.clone() };
        let ctx = ctx.clone();
        set.spawn(async move {
            let _permit = sem.acquire_owned().await.expect("semaphore is never closed");
            let outcome = run_one(&ctx, &d).await;
            (i, d, outcome)
        });
    }
    let mut done = Vec::new();
    while let Some(r) = set.join_next().await {
        match r {
            Ok(x) => done.push(x),
            // A panic inside a target: the process-wide hook has reported it
            // (without its message); nothing to attribute it to here.
            Err(_) => continue,
        }
    }
    done.sort_by_key(|(i, _, _)| *i);
    done.into_iter().map(|(_, d, o)| (d, o)).collect()
}

async fn run_one(ctx: &Context, d: &Desired) -> TargetOutcome {
    match d.target.kind {
        TargetKind::Esc => esc::run(ctx, d).await,
        TargetKind::Fly => fly::run(ctx, d).await,
        TargetKind::Github => github::run(ctx, d).await,
        TargetKind::Kubernetes => kubernetes::run(ctx, d).await,
    }
}
