//! Kubernetes Secrets as a target: one `Secret` per target, kept in step
//! with server-side apply, then a rolling restart of the workloads that
//! read it.
//!
//! `read`: one GET of the Secret (its data and `managedFields`).
//! `plan`: pure (see [`plan`]): which keys change, which conflict with other
//! field managers, and the whole apply body.
//! `apply`: one server-side apply PATCH when the data changes; then, only
//! then, each listed workload's pod template gets the restart annotation and
//! its rollout is awaited, within `kubernetes-rollout-timeout`.

pub mod api;
#[cfg(feature = "demo")]
pub mod demo;
mod inputs;
pub mod kubeconfig;
pub mod names;
pub mod plan;
pub mod rollout;
mod section;

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};

use super::driver::{Applied, ApplyError, Kind, Plan as DriverPlan, Proofs, Setup, TargetError};
use super::{Context, Desired};
use crate::http::{Http, Policy};
use crate::manifest::TargetKind;
use api::{Api, SsaError};
use kubeconfig::{Auth, Cluster};
pub use inputs::{parse_timeout, Flags, Inputs, DEFAULT_ROLLOUT_TIMEOUT};
pub use section::{Spec, Workload, WorkloadKind};

pub const KIND: TargetKind = TargetKind::new("kubernetes");
pub const SECTION: &dyn crate::manifest::Section = &section::Kubernetes;
/// Kubernetes proves ownership by `managedFields`, not by the state record.
pub const RECORDED: bool = false;

/// This run's Kubernetes targets: the cluster is looked for only when the
/// manifest has one.
pub fn build(setup: &Setup<'_>) -> std::sync::Arc<dyn super::Driven> {
    let i = &setup.inputs.kubernetes;
    let settings = if setup.has(KIND) {
        Settings::load(i.kubeconfig.as_ref(), setup.http.clone(), i.rollout_timeout, &*setup.mask)
    } else {
        Settings::none()
    };
    Arc::new(Kubernetes { settings, concurrency: i.concurrency })
}

/// A cluster connection shared by every Kubernetes target of a run.
pub struct Conn {
    pub http: Http,
    pub server: String,
    pub origin: String,
    pub auth: Auth,
    /// Said on every target of the cluster (`insecure-skip-tls-verify`).
    pub warning: Option<String>,
}

pub struct Settings {
    /// The connection, or why there is none (said per target).
    pub conn: Result<Arc<Conn>, String>,
    pub rollout_timeout: Duration,
    /// Between rollout status reads (`SECRET_SYNC_K8S_POLL_MS`; tests use short ones).
    pub poll: Duration,
}

impl Settings {
    /// For runs without Kubernetes targets.
    pub fn none() -> Settings {
        Settings { conn: Err("no cluster configured".into()), rollout_timeout: Duration::ZERO, poll: Duration::ZERO }
    }

    /// Finds the cluster (see [`kubeconfig`]) and registers its credentials
    /// with `mask` before anything else can print.
    pub fn load(
        input: Option<&SecretString>,
        policy: Policy,
        rollout_timeout: Duration,
        mask: &dyn Fn(&SecretString),
    ) -> Settings {
        let poll = crate::env::number(inputs::Env::SECRET_SYNC_K8S_POLL_MS)
            .map(Duration::from_millis)
            .unwrap_or(Duration::from_secs(2));
        let conn = kubeconfig::load(input, &kubeconfig::Env::from_process()).map_err(|e| e.to_string()).and_then(|c| {
            for s in c.secrets() {
                mask(s);
            }
            connect(c, policy)
        });
        Settings { conn: conn.map(Arc::new), rollout_timeout, poll }
    }
}

/// `Audit-Id`: the request id the API server returns on every response
/// (docs/service-facts.md, "Kubernetes API server").
pub const REQUEST_ID: &str = "Audit-Id";

fn connect(c: Cluster, policy: Policy) -> Result<Conn, String> {
    let builder = c.client().map_err(|e| e.to_string())?;
    let http = Http::with_tls(builder, policy, &[REQUEST_ID])
        .map_err(|_| format!("cannot set up TLS for {} with its certificates", c.origin))?;
    let warning = c.insecure.then(|| {
        format!("TLS verification is off for {} (`insecure-skip-tls-verify: true`), as the kubeconfig asks", c.origin)
    });
    Ok(Conn { http, server: c.server, origin: c.origin, auth: c.auth, warning })
}

/// Kubernetes Secrets.
pub struct Kubernetes {
    settings: Settings,
    concurrency: usize,
}

/// The Secret as read (`None`: it does not exist yet) and the connection.
pub struct Read {
    secret: Option<plan::Current>,
    conn: Arc<Conn>,
}

impl Kind for Kubernetes {
    type Spec = Spec;
    type Current = Read;
    type Work = plan::Plan;

    fn kind(&self) -> TargetKind {
        KIND
    }

    fn concurrency(&self, _targets: usize) -> usize {
        self.concurrency
    }

    async fn read(&self, _ctx: &Context, spec: &Spec, _d: &Desired) -> Result<Read, TargetError> {
        let conn = self.settings.conn.clone().map_err(TargetError::new)?;
        let api = Api { conn: &conn, namespace: &spec.namespace };
        let secret = api.read_secret(&spec.secret).await?;
        Ok(Read { secret, conn })
    }

    fn plan(
        &self,
        ctx: &Context,
        spec: &Spec,
        current: &Read,
        _proofs: &Proofs,
        d: &Desired,
    ) -> Result<DriverPlan<plan::Plan>, TargetError> {
        let Spec { namespace, secret, restart } = spec;
        let desired: Vec<(&str, &[u8])> =
            d.keys.iter().map(|k| (k.key.as_str(), k.value.expose_secret().as_bytes())).collect();
        let held: Vec<&str> = d.held_back.iter().map(String::as_str).collect();
        let p = plan::plan(current.secret.as_ref(), &desired, &held, ctx.prune);
        let mut out = DriverPlan::new(p.changes.clone(), None);
        out.unrouted = p.unrouted.clone();
        out.deletes = p.deletes();
        out.warnings.extend(current.conn.warning.clone());
        out.kept = p.kept.clone();
        out.failure =
            (!p.conflicts.is_empty()).then(|| TargetError::new(conflict_message(&p.conflicts, namespace, secret)));
        if p.changes_data() {
            let then = if restart.is_empty() {
                String::new()
            } else {
                format!(", then restarts {} and waits for the rollout", list(restart))
            };
            out.note =
                Some(format!("a sync applies the Secret with server-side apply (field manager `secret-sync`){then}"));
            out.work = Some(p);
        }
        Ok(out)
    }

    async fn apply(
        &self,
        _ctx: &Context,
        spec: &Spec,
        current: &Read,
        _plan: &DriverPlan<plan::Plan>,
        p: &plan::Plan,
        _d: &Desired,
    ) -> Result<Applied, ApplyError> {
        let Spec { namespace, secret, restart } = spec;
        let api = Api { conn: &current.conn, namespace };
        match api.apply_secret(secret, &p.apply).await {
            Ok(()) => {}
            // Another manager took a key between the read and the write:
            // nothing was written.
            Err(SsaError::Conflicts(c)) => {
                return Err(TargetError::new(format!(
                    "nothing was written: {}",
                    conflict_message(&c, namespace, secret)
                ))
                .into())
            }
            Err(SsaError::Other(e)) => return Err(e.into()),
        }
        let failures = roll(&self.settings, &api, restart).await;
        let mut applied = Applied { written: true, changed: true, ..Applied::default() };
        if failures.is_empty() {
            applied.message = Some(if restart.is_empty() {
                "applied with server-side apply (field manager `secret-sync`)".into()
            } else {
                format!("applied with server-side apply; {} restarted and rolled out", list(restart))
            });
        } else {
            applied.failed_after_write =
                Some(TargetError::new(format!("the Secret was written, but {}", failures.join("; "))));
        }
        Ok(applied)
    }
}

/// Restarts every listed workload, then waits for each to roll out, all
/// within one deadline. Returns what failed, per workload; one failing does
/// not stop the others.
async fn roll(settings: &Settings, api: &Api<'_>, workloads: &[Workload]) -> Vec<String> {
    let mut failures = Vec::new();
    if workloads.is_empty() {
        return failures;
    }
    // The real clock, to the nanosecond: kubectl writes whole seconds, so a
    // second restart within the same second changes nothing and rolls
    // nothing; this value always differs (and is still RFC 3339).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let at = chrono::DateTime::from_timestamp(now.as_secs() as i64, now.subsec_nanos())
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .unwrap_or_default();
    let deadline = Instant::now() + settings.rollout_timeout;
    let ns = api.namespace;
    let mut restarted = Vec::new();
    for w in workloads {
        match api.restart(w, &at).await {
            // kubectl refuses to restart a paused Deployment: it would never roll.
            Ok(obj) if obj["spec"]["paused"] == true => failures.push(format!(
                "`{w}` is paused, so it was annotated but will not roll out; run `kubectl rollout resume {w} -n {ns}`"
            )),
            Ok(_) => restarted.push(w),
            Err(e) => failures.push(e.to_string()),
        }
    }
    for w in restarted {
        if let Err(e) = wait(settings, api, w, deadline).await {
            failures.push(e);
        }
    }
    failures
}

/// Reads `w` every poll interval until it has rolled out, or the deadline.
async fn wait(settings: &Settings, api: &Api<'_>, w: &Workload, deadline: Instant) -> Result<(), String> {
    let ns = api.namespace;
    loop {
        tokio::time::sleep(settings.poll.min(deadline.saturating_duration_since(Instant::now()))).await;
        let obj = api.workload(w).await.map_err(|e| e.to_string())?;
        match rollout::progress(w.kind.as_str(), &obj) {
            rollout::Progress::Done => return Ok(()),
            rollout::Progress::Failed(why) => {
                return Err(format!("`{w}` did not roll out: {why}; see `kubectl rollout status {w} -n {ns}`"))
            }
            rollout::Progress::Waiting(state) if Instant::now() >= deadline => {
                return Err(format!(
                    "`{w}` did not finish rolling out within {}s ({state}); see `kubectl rollout status {w} -n {ns}`",
                    settings.rollout_timeout.as_secs()
                ))
            }
            rollout::Progress::Waiting(_) => {}
        }
    }
}

fn conflict_message(conflicts: &[plan::Conflict], ns: &str, secret: &str) -> String {
    let each: Vec<String> = conflicts
        .iter()
        .map(|c| {
            format!(
                "`{}` (managed by {})",
                c.key,
                c.managers.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    format!(
        "{} key(s) of Secret `{ns}/{secret}` belong to another field manager and were not overwritten: {} (stop routing them here, or have that manager drop them so secret-sync can own them)",
        conflicts.len(),
        each.join(", ")
    )
}

fn list(workloads: &[Workload]) -> String {
    workloads.iter().map(|w| format!("`{w}`")).collect::<Vec<_>>().join(", ")
}
