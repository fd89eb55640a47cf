//! Targets: where secrets go. This module turns the manifest and the
//! validated values into the desired state of each target (key → value),
//! which is all a target ever sees, and runs the targets concurrently. One
//! sub-module per kind reads the target, diffs, and (in `sync`) writes.
//!
//! Adding a kind: a module with `async fn run(ctx, desired) -> Outcome`
//! (see `esc`), a `match` arm in [`run_one`], and its settings in the
//! manifest model.

pub mod driver;
pub mod esc;
pub mod fly;
pub mod github;
pub mod kubernetes;
pub mod ledger;

use std::sync::Arc;

use secrecy::SecretString;

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
    /// `sync` mode: changes are to be written (`plan` only reads).
    pub sync: bool,
    pub http: Http,
    pub prune: bool,
    pub max_deletes: usize,
    pub esc: esc::Settings,
    pub fly: fly::Settings,
    pub github: github::Settings,
    pub kubernetes: kubernetes::Settings,
    /// Targets handled at once, per service.
    pub concurrency: Concurrency,
    /// Write nothing (validation failed): plan only.
    pub hold_writes: bool,
    /// The state record (Fly and GitHub): read at the start, updated by writes.
    pub ledger: ledger::Ledger,
}

impl Context {
    pub fn writes(&self) -> bool {
        self.sync && !self.hold_writes
    }
}

/// How many targets of each service are handled at once: each service has
/// its own bound, so a slow ESC environment never holds back a GitHub
/// repository. (Writes to one GitHub repository stay serial: GitHub asks
/// integrators to send mutating requests one at a time.)
#[derive(Debug, Clone, Copy)]
pub struct Concurrency {
    pub esc: usize,
    pub fly: usize,
    pub github: usize,
    pub kubernetes: usize,
}

impl Default for Concurrency {
    fn default() -> Self {
        Concurrency { esc: 4, fly: 4, github: 4, kubernetes: 4 }
    }
}

impl Concurrency {
    fn of(&self, kind: TargetKind) -> usize {
        match kind {
            TargetKind::Esc => self.esc,
            TargetKind::Fly => self.fly,
            TargetKind::Github => self.github,
            TargetKind::Kubernetes => self.kubernetes,
        }
        .max(1)
    }
}

/// Plans (and in `sync`, applies) every target, a bounded number of each kind
/// at a time. One target's failure is its own outcome; the others carry on.
pub async fn run_all(ctx: Arc<Context>, desired: Vec<Desired>) -> Vec<(Desired, TargetOutcome)> {
    // GitHub targets all start at once: their requests go one at a time
    // through the token's scheduler anyway, and no GitHub target plans
    // before every one has counted its writes (`github::budget`).
    let github = desired.iter().filter(|d| d.target.kind == TargetKind::Github).count();
    let bound = |k: TargetKind| if k == TargetKind::Github { github.max(1) } else { ctx.concurrency.of(k) };
    let limits: std::collections::HashMap<TargetKind, Arc<tokio::sync::Semaphore>> =
        TargetKind::ALL.iter().map(|k| (*k, Arc::new(tokio::sync::Semaphore::new(bound(*k))))).collect();
    let desired: Vec<Arc<Desired>> = desired.into_iter().map(Arc::new).collect();
    let mut set = tokio::task::JoinSet::new();
    for (i, d) in desired.iter().enumerate() {
        let sem = limits[&d.target.kind].clone();
        let (ctx, d) = (ctx.clone(), d.clone());
        set.spawn(async move {
            let _permit = sem.acquire_owned().await.expect("semaphore is never closed");
            (i, run_one(&ctx, &d).await)
        });
    }
    let mut outcomes: Vec<Option<TargetOutcome>> = vec![None; desired.len()];
    while let Some(r) = set.join_next().await {
        // A panic inside a target: the process-wide hook has reported where
        // (without its message); the target is reported as failed below.
        if let Ok((i, o)) = r {
            outcomes[i] = Some(o);
        }
    }
    desired
        .into_iter()
        .zip(outcomes)
        .map(|(d, o)| {
            let d = Arc::try_unwrap(d).unwrap_or_else(|_| unreachable!("every task has ended"));
            let o = o.unwrap_or_else(|| {
                TargetOutcome::failed("internal error while handling this target (a bug: please report it)".into())
            });
            (d, o)
        })
        .collect()
}

async fn run_one(ctx: &Context, d: &Desired) -> TargetOutcome {
    match d.target.kind {
        TargetKind::Esc => driver::drive(ctx, &esc::Esc, d).await,
        TargetKind::Fly => driver::drive(ctx, &fly::Fly, d).await,
        TargetKind::Github => driver::drive(ctx, &github::Github, d).await,
        TargetKind::Kubernetes => driver::drive(ctx, &kubernetes::Kubernetes, d).await,
    }
}
