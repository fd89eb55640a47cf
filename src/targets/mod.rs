//! Targets: where secrets go. This module turns the manifest and the
//! validated values into the desired state of each target (key → value),
//! which is all a target ever sees, and runs the targets concurrently.
//!
//! A kind of target is one folder (`esc/`, `fly/`, …) behind one interface
//! (see docs/architecture.md, "Adding a target kind"): its manifest section
//! ([`crate::manifest::Section`]), its inputs and flags, its settings, its
//! request-id header and its [`driver::Kind`] (read → plan, pure → apply).
//! The registry below lists the kinds, one line each; everything common to
//! them (the delete cap, ownership warnings, statuses, re-planning after a
//! conflict) is the [`driver`]'s.

pub mod driver;
pub mod inputs;
pub mod ledger;
pub mod redact;

use std::sync::Arc;

use secrecy::SecretString;

use crate::http::Http;
use crate::manifest::{Manifest, Sections, Target, TargetKind};
pub use crate::plan::{Action, Change, TargetOutcome, TargetStatus};
use crate::validate::Resolved;
pub use driver::{Driven, Setup};

/// The registry: every target kind, one line each. A kind's module provides
/// `SECTION` (its manifest section), `REQUEST_ID` (the header its service
/// names a request by), `RECORDED` (whether the state record proves its
/// keys), `Inputs` (its action inputs, `Inputs::from_action`), `Flags` (its
/// command-line flags, `Flags::into_inputs`) and `build` (its settings for a
/// run, as a [`Driven`] kind).
macro_rules! registry {
    ($($kind:ident),* $(,)?) => {
        $(pub mod $kind;)*

        /// Every kind's manifest section, in the order the manifest's are read.
        pub const SECTIONS: &Sections = &[$($kind::SECTION),*];

        /// The response headers that carry a request id, one per kind.
        pub const REQUEST_IDS: &[&str] = &[$($kind::REQUEST_ID),*];

        /// Each kind's inputs, from the action's `INPUT_*` or the command line.
        #[derive(Debug, Default)]
        pub struct Inputs {
            $(pub $kind: $kind::Inputs,)*
        }

        impl Inputs {
            /// Reads every kind's action inputs from `INPUT_*` (`vars`).
            pub fn from_action(vars: &inputs::ActionVars) -> Result<Inputs, inputs::BadInput> {
                Ok(Inputs { $($kind: $kind::Inputs::from_action(vars)?,)* })
            }

            /// The credentials among them, to be masked before anything prints.
            pub fn secrets(&self) -> Vec<&SecretString> {
                let mut out = Vec::new();
                $(out.extend(self.$kind.secrets());)*
                out
            }
        }

        /// Each kind's command-line flags.
        #[derive(clap::Args, Debug)]
        #[group(skip)]
        pub struct Flags {
            $(#[command(flatten)] pub $kind: $kind::Flags,)*
        }

        impl Flags {
            pub fn into_inputs(self) -> Result<Inputs, inputs::BadInput> {
                Ok(Inputs { $($kind: self.$kind.into_inputs()?,)* })
            }
        }

        /// Whether targets of `kind` keep their proofs in the state record.
        pub fn recorded(kind: TargetKind) -> bool {
            $(($kind::SECTION.kind() == kind && $kind::RECORDED) ||)* false
        }

        /// Every kind, set up for this run.
        pub fn kinds(setup: &Setup<'_>) -> Vec<Arc<dyn Driven>> {
            vec![$($kind::build(setup)),*]
        }

        /// `secret-sync demo`: each kind seeds its emulator for the demo's
        /// manifest (and may add targets to it), and says how to reach it.
        #[cfg(feature = "demo")]
        pub fn demo(d: &mut Demo<'_>) -> Inputs {
            Inputs { $($kind: $kind::demo::prepare(d),)* }
        }
    };
}

/// What the demo hands each kind (see [`demo`]).
#[cfg(feature = "demo")]
pub struct Demo<'a> {
    pub state: &'a mut secret_sync_emulators::State,
    /// The emulators' base URL.
    pub url: &'a str,
    /// The demo's manifest and secrets (`.env`) text, which a kind may extend.
    pub manifest: &'a mut String,
    pub secrets: &'a mut String,
}

registry! {
    esc,
    fly,
    github,
    kubernetes,
    vercel,
}

/// One key a target should hold.
#[derive(Clone)]
pub struct DesiredKey {
    /// The key at the target, in its kind's terms (an ESC path, a secret name, a Secret's data key).
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
#[derive(Clone)]
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
    /// Write nothing (validation failed): plan only.
    pub hold_writes: bool,
    /// The state record: read at the start, updated by writes.
    pub ledger: ledger::Ledger,
}

impl Context {
    pub fn writes(&self) -> bool {
        self.sync && !self.hold_writes
    }
}

/// Plans (and in `sync`, applies) every target, a bounded number of each kind
/// at a time (each kind says how many: a slow ESC environment never holds
/// back a GitHub repository). One target's failure is its own outcome; the
/// others carry on.
pub async fn run_all(
    ctx: Arc<Context>,
    kinds: &[Arc<dyn Driven>],
    desired: Vec<Desired>,
) -> Vec<(Desired, TargetOutcome)> {
    let limits: Vec<(Arc<dyn Driven>, Arc<tokio::sync::Semaphore>)> = kinds
        .iter()
        .map(|k| {
            let targets = desired.iter().filter(|d| d.target.kind == k.kind()).count();
            (k.clone(), Arc::new(tokio::sync::Semaphore::new(k.concurrency(targets).max(1))))
        })
        .collect();
    let desired: Vec<Arc<Desired>> = desired.into_iter().map(Arc::new).collect();
    let mut set = tokio::task::JoinSet::new();
    for (i, d) in desired.iter().enumerate() {
        // A target of a kind the registry does not list cannot be in a
        // manifest the registry's sections parsed: reported failed below.
        let Some((kind, sem)) = limits.iter().find(|(k, _)| k.kind() == d.target.kind).cloned() else {
            continue;
        };
        let (ctx, d) = (ctx.clone(), d.clone());
        set.spawn(async move {
            let Ok(_permit) = sem.acquire_owned().await else {
                return (i, None);
            };
            (i, Some(kind.drive(&ctx, &d).await))
        });
    }
    let mut outcomes: Vec<Option<TargetOutcome>> = vec![None; desired.len()];
    while let Some(r) = set.join_next().await {
        // A panic inside a target: the process-wide hook has reported where
        // (without its message); the target is reported as failed below.
        if let Ok((i, o)) = r {
            outcomes[i] = o;
        }
    }
    drop(set);
    desired
        .into_iter()
        .zip(outcomes)
        .map(|(d, o)| {
            let o = o.unwrap_or_else(|| {
                TargetOutcome::failed("internal error while handling this target (a bug: please report it)".into())
            });
            (Arc::unwrap_or_clone(d), o)
        })
        .collect()
}
