//! The typed manifest the rest of the program works with. Every node that a
//! later stage may need to blame keeps its position (`Pos`), so a semantic
//! error ("routed to an undeclared target") or a validation finding can still
//! point at `file:line:col`.

use std::fmt;

use regex::Regex;
use serde::Serialize;

use crate::duration::Period;
use crate::formats::Format;

/// A 1-based line and column in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

#[derive(Debug)]
pub struct Manifest {
    /// The manifest's path as the user gave it (used in diagnostics).
    pub file: String,
    pub defaults: Defaults,
    pub groups: Vec<GroupDecl>,
    pub environments: Vec<Environment>,
    pub targets: Vec<Target>,
    pub secrets: Vec<Secret>,
}

#[derive(Debug, Clone)]
pub struct Defaults {
    pub rotate_every: Option<Period>,
    pub warn_before: Period,
    pub fly_deploy: Deploy,
    /// `fly_checks:` for every Fly target without its own `checks:`.
    pub fly_checks: FlyChecks,
    /// `probe:` for every secret without its own or its group's.
    pub probe: Option<crate::manifest::probe::Setting>,
    /// GitHub: the pause between mutative requests of a token, and the most
    /// a run waits on rate-limit answers (see `crate::github::pace`).
    pub github_write_interval: std::time::Duration,
    pub github_rate_limit_wait: std::time::Duration,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            rotate_every: None,
            warn_before: Period::days(7),
            fly_deploy: Deploy::Restart,
            fly_checks: FlyChecks::default(),
            probe: None,
            github_write_interval: std::time::Duration::from_secs(1),
            github_rate_limit_wait: std::time::Duration::from_secs(15 * 60),
        }
    }
}

/// The built-in groups and their default rotation periods (seed 001's table).
pub const BUILTIN_GROUPS: &[(&str, u64)] = &[
    ("api-keys", 90),
    ("database-credentials", 180),
    ("security-tokens", 365),
    ("integration-credentials", 90),
    ("infrastructure-credentials", 90),
];

#[derive(Debug, Clone)]
pub struct GroupDecl {
    pub name: String,
    pub description: Option<String>,
    pub rotate_every: Option<Period>,
    /// `probe:` for the group's secrets (`true`/`false`).
    pub probe: Option<crate::manifest::probe::Setting>,
}

/// The environment used when a manifest declares none.
pub const DEFAULT_ENVIRONMENT: &str = "default";

#[derive(Debug, Clone)]
pub struct Environment {
    pub name: String,
    pub pos: Pos,
    pub description: Option<String>,
    pub source_prefix: Option<String>,
    pub source_suffix: Option<String>,
}

/// A kind of target (`esc`, `fly`, …): the name of its `targets.<kind>`
/// section. Which kinds exist is the registry's business
/// (`crate::targets`), not the manifest's: the loader is handed the kinds'
/// [`super::Section`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetKind(&'static str);

impl TargetKind {
    pub const fn new(name: &'static str) -> TargetKind {
        TargetKind(name)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for TargetKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

/// What happens on a Fly app after its secrets changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Deploy {
    /// Update every machine, one at a time, so it boots with the new secrets.
    Restart,
    /// Write only; the next deploy picks the secrets up.
    Stage,
}

/// What a Fly roll waits for after each Machine update, as `fly secrets
/// deploy` does (docs/service-facts.md, "Fly.io"): `started`, then the smoke
/// check, then the health checks, each bounded by `wait_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlyChecks {
    pub smoke: bool,
    pub health: bool,
    pub wait_timeout: std::time::Duration,
}

impl Default for FlyChecks {
    /// flyctl's: both checks on, `--wait-timeout` 5 minutes.
    fn default() -> Self {
        FlyChecks { smoke: true, health: true, wait_timeout: std::time::Duration::from_secs(300) }
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    pub kind: TargetKind,
    pub name: String,
    pub pos: Pos,
    /// The manifest environment whose values this target receives.
    pub environment: String,
    /// The kind's own settings for it, as its section parsed them.
    pub spec: Spec,
}

impl Target {
    /// `esc:sophia-prod`
    pub fn id(&self) -> String {
        format!("{}:{}", self.kind, self.name)
    }

    /// Where it is, in the service's own terms (`ai-cherry/sophia/production`).
    pub fn destination(&self) -> String {
        self.spec.destination()
    }

    /// The kind's settings for this target, when they are `T`'s.
    pub fn spec<T: TargetSpec>(&self) -> Option<&T> {
        let any: &dyn std::any::Any = self.spec.as_ref();
        any.downcast_ref::<T>()
    }
}

/// A target's settings, as its kind's section parsed them.
pub trait TargetSpec: std::any::Any + fmt::Debug + Send + Sync {
    /// Where it is, in the service's own terms.
    fn destination(&self) -> String;
}

pub type Spec = std::sync::Arc<dyn TargetSpec>;

/// In which environments a secret must have a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Required {
    Always,
    Never,
    In(Vec<String>),
}

impl Required {
    pub fn in_env(&self, env: &str) -> bool {
        match self {
            Required::Always => true,
            Required::Never => false,
            Required::In(list) => list.iter().any(|e| e == env),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Secret {
    pub name: String,
    pub pos: Pos,
    pub description: Option<String>,
    pub group: Option<String>,
    pub owner: Option<String>,
    pub format: Option<Format>,
    pub pattern: Option<Regex>,
    pub min_length: Option<usize>,
    pub required: Required,
    pub rotate_every: Option<Period>,
    /// Name of the source secret, when it differs from `name`.
    pub source: Option<String>,
    /// An environment variable of the step that may carry the value.
    pub from_env: Option<String>,
    /// `probe:`: off, the format's built-in probe, or a named built-in one.
    pub probe: Option<crate::manifest::probe::Setting>,
    pub routes: Vec<Route>,
}

impl Secret {
    /// The base name looked up among the source secrets.
    pub fn source_name(&self) -> &str {
        self.source.as_deref().unwrap_or(&self.name)
    }
}

/// One destination of one secret: a key at a target.
#[derive(Debug, Clone)]
pub struct Route {
    pub kind: TargetKind,
    pub target: String,
    pub pos: Pos,
    /// The key at the target, in the kind's terms (an ESC path under
    /// `values`, a secret's name, a key of a Secret's `data`).
    pub key: String,
    /// ESC only: also expose as `values.environmentVariables.<name>`.
    pub env_var: Option<String>,
}

impl Manifest {
    pub fn target(&self, kind: TargetKind, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.kind == kind && t.name == name)
    }

    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    pub fn environment_names(&self) -> Vec<&str> {
        self.environments.iter().map(|e| e.name.as_str()).collect()
    }

    /// The rotation period of a secret: its own, its group's, the manifest
    /// default, else 90 days.
    pub fn rotation_period(&self, s: &Secret) -> Period {
        if let Some(p) = s.rotate_every {
            return p;
        }
        if let Some(g) = &s.group {
            if let Some(p) = self.groups.iter().find(|d| &d.name == g).and_then(|d| d.rotate_every) {
                return p;
            }
            if let Some((_, days)) = BUILTIN_GROUPS.iter().find(|(n, _)| n == g) {
                return Period::days(*days);
            }
        }
        self.defaults.rotate_every.unwrap_or(Period::days(90))
    }

    /// Every source name some declared secret reads, in any environment
    /// (upper-cased: GitHub secret names are case-insensitive).
    pub fn source_names_anywhere(&self) -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        for s in &self.secrets {
            for e in &self.environments {
                out.extend(self.source_candidates(s, &e.name).into_iter().map(|c| c.to_ascii_uppercase()));
            }
            out.extend(s.from_env.iter().map(|f| f.to_ascii_uppercase()));
        }
        out
    }

    /// Source secret names that feed `secret` in `env`, in lookup order.
    pub fn source_candidates(&self, secret: &Secret, env: &str) -> Vec<String> {
        let base = secret.source_name();
        let mut out = Vec::new();
        if let Some(e) = self.environment(env) {
            if let Some(p) = &e.source_prefix {
                out.push(format!("{p}{base}"));
            }
            if let Some(s) = &e.source_suffix {
                out.push(format!("{base}{s}"));
            }
        }
        out.push(base.to_string());
        out
    }
}
