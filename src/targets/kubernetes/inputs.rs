//! The Kubernetes inputs: `kubeconfig` (a kubeconfig's content; without it
//! the `KUBECONFIG` file(s), `~/.kube/config` or the in-cluster service
//! account, as kubectl finds them) and `kubernetes-rollout-timeout`; on the
//! command line `--kubernetes-rollout-timeout` (the cluster comes from
//! `KUBECONFIG`, as for kubectl).

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::targets::inputs::{secret, set, ActionVars, BadInput, DEFAULT_CONCURRENCY};

/// The environment variables a Kubernetes target reads (through `crate::env`).
pub struct Env;

impl Env {
    /// The kubeconfig file(s), as kubectl reads them.
    pub const KUBECONFIG: &'static str = "KUBECONFIG";
    /// Set inside a Pod: the in-cluster API server.
    pub const KUBERNETES_SERVICE_HOST: &'static str = "KUBERNETES_SERVICE_HOST";
    pub const KUBERNETES_SERVICE_PORT: &'static str = "KUBERNETES_SERVICE_PORT";
    /// How often a rollout is polled (tests use short ones).
    pub const SECRET_SYNC_K8S_POLL_MS: &'static str = "SECRET_SYNC_K8S_POLL_MS";
}

/// `kubectl rollout status` waits forever by default; a job should not.
pub const DEFAULT_ROLLOUT_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug)]
pub struct Inputs {
    pub kubeconfig: Option<SecretString>,
    /// How long to wait for the restarted workloads of one target.
    pub rollout_timeout: Duration,
    pub concurrency: usize,
}

impl Default for Inputs {
    fn default() -> Inputs {
        Inputs { kubeconfig: None, rollout_timeout: DEFAULT_ROLLOUT_TIMEOUT, concurrency: DEFAULT_CONCURRENCY }
    }
}

#[derive(Deserialize)]
struct Action {
    kubeconfig: Option<SecretString>,
    #[serde(rename = "kubernetes-rollout-timeout")]
    rollout_timeout: Option<String>,
}

impl Inputs {
    pub fn from_action(vars: &ActionVars) -> Result<Inputs, BadInput> {
        let a: Action = vars.read()?;
        let rollout_timeout = match set(a.rollout_timeout) {
            Some(t) => parse_timeout(&t).map_err(|e| BadInput(format!("input `kubernetes-rollout-timeout`: {e}")))?,
            None => DEFAULT_ROLLOUT_TIMEOUT,
        };
        Ok(Inputs { kubeconfig: secret(a.kubeconfig), rollout_timeout, ..Inputs::default() })
    }

    pub fn secrets(&self) -> impl Iterator<Item = &SecretString> {
        self.kubeconfig.iter()
    }
}

#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Flags {
    /// How long to wait for restarted Kubernetes workloads to roll out: `300`, `90s`, `5m`.
    #[arg(long, default_value = "5m", value_parser = parse_timeout)]
    pub kubernetes_rollout_timeout: Duration,
}

impl Flags {
    pub fn into_inputs(self) -> Result<Inputs, BadInput> {
        Ok(Inputs { rollout_timeout: self.kubernetes_rollout_timeout, ..Inputs::default() })
    }
}

/// A timeout as `300`, `90s` or `5m` (seconds unless `m` is given).
pub fn parse_timeout(text: &str) -> Result<Duration, BadInput> {
    let t = text.trim();
    let (digits, mult) = match t.strip_suffix('m') {
        Some(d) => (d, 60),
        None => (t.strip_suffix('s').unwrap_or(t), 1),
    };
    match digits.parse::<u64>() {
        Ok(n) if n > 0 && n <= 24 * 3600 / mult => Ok(Duration::from_secs(n * mult)),
        _ => Err(BadInput(format!(
            "`{t}` is not a timeout: write seconds (`300`, `90s`) or minutes (`5m`), up to a day"
        ))),
    }
}
