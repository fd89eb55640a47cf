//! Liveness probes: prove that a credential still works by asking its own
//! service "who am I" with it (`--probe`, the `probe` input; off by default).
//!
//! Security: a value is only ever sent to the service its format (or its
//! secret's `probe:`) names, at that service's own HTTPS host: a built-in
//! one, or one a target kind contributes (`manifest::probe::KindProbe`,
//! through its section). The manifest can turn a probe on or off or pick one
//! of those services, but can never name a URL or a host: a pull request can edit the manifest, and a probe URL there would
//! send every value it names to whoever wrote it. Base URLs move only through
//! `SECRET_SYNC_PROBE_<SERVICE>_URL` (set by the workflow, for tests and
//! self-hosted services), which must be HTTPS or a loopback address.
//!
//! Results are findings, from each service's documented answers
//! ([`answers`]): **rejected** (invalid, revoked or expired) is an error and
//! holds the value back from every target like any invalid value;
//! **refused** (the credential works, but not from here or not for this
//! call: an IP allowlist, a region, a missing permission) is a warning naming
//! the reason, and the value is synced; an answer the service does not
//! document is a notice; no answer (unreachable, timeout, 429, 5xx) is a
//! warning. Only a rejection fails the run at `fail-on: error`.

pub mod answers;
pub mod service;

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

pub use crate::manifest::probe::{parse_setting, Service, Setting, NO_CUSTOM};
pub use service::Verdict;

use crate::diag::{Finding, Kind, Severity};
use crate::manifest::{Manifest, Secret, Sections};
use crate::validate::Validation;

/// Probes in flight at once.
pub const CONCURRENCY: usize = 8;
/// Longest a probe may take, connection included (`SECRET_SYNC_PROBE_TIMEOUT_MS`).
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The probe a secret gets: its own setting, else its group's, else
/// `defaults.probe`, else `true` (the format's built-in probe, if any).
pub fn service_for(m: &Manifest, s: &Secret) -> Option<Service> {
    let group = s.group.as_ref().and_then(|g| m.groups.iter().find(|d| &d.name == g)).and_then(|g| g.probe);
    match s.probe.or(group).or(m.defaults.probe).unwrap_or(Setting::Auto) {
        Setting::Off => None,
        Setting::Named(x) => Some(x),
        Setting::Auto => s.format.and_then(Service::for_format),
    }
}

/// One secret's probe, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    pub secret: String,
    pub service: Service,
    /// The call made (`GET /v1/models`).
    pub call: &'static str,
    pub status: Status,
    /// How the service answered (`HTTP 401`, `timed out`); empty when live.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Live,
    Rejected,
    /// Works, but not from here or not for this call.
    Refused,
    /// An answer the service does not document.
    Unknown,
    Inconclusive,
}

/// Where each probe goes — the built-ins' and those the target `kinds`
/// contribute: its own host, or the workflow's override.
pub fn bases(kinds: &Sections) -> Result<Vec<(Service, String)>, String> {
    Service::all(kinds)
        .into_iter()
        .map(|s| {
            let var = s.env_var();
            match crate::env::var(&var) {
                None => Ok((s, s.default_base().to_string())),
                Some(url) if allowed_base(&url) => Ok((s, url)),
                Some(_) => Err(format!(
                    "`{var}` must be an https:// URL (or http:// to 127.0.0.1 or localhost, for tests): a probe carries a secret"
                )),
            }
        })
        .collect()
}

fn allowed_base(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host =
        host.rsplit_once(':').map_or(host, |(h, port)| if port.bytes().all(|b| b.is_ascii_digit()) { h } else { host });
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// Probes every usable value whose secret has a probe, at most
/// [`CONCURRENCY`] at once; the same value for the same service is asked
/// once. Adds findings to `v`, marks rejected values unusable, and returns
/// the results in manifest order. `kinds` are the target kinds the manifest
/// was read with (their probes' base URLs may be moved too).
pub fn run(
    rt: &tokio::runtime::Runtime,
    m: &Manifest,
    v: &mut Validation,
    kinds: &Sections,
) -> Result<Vec<ProbeResult>, String> {
    let bases = bases(kinds)?;
    // (service, value, indices into v.resolved)
    let mut asks: Vec<(Service, SecretString, Vec<usize>)> = Vec::new();
    for (i, r) in v.resolved.iter().enumerate() {
        let (Some(value), true) = (r.value, r.usable) else { continue };
        let Some(svc) = service_for(m, r.secret) else { continue };
        match asks.iter_mut().find(|(s, x, _)| *s == svc && x.expose_secret() == value.expose_secret()) {
            Some((_, _, idx)) => idx.push(i),
            None => asks.push((svc, value.clone(), vec![i])),
        }
    }
    if asks.is_empty() {
        return Ok(Vec::new());
    }
    let timeout = crate::env::number(crate::env::EnvVars::SECRET_SYNC_PROBE_TIMEOUT_MS)
        .map_or(TIMEOUT, |ms| Duration::from_millis(ms.max(1)));
    // No redirects: a redirect could carry a header such as `x-api-key` to
    // another host (reqwest strips only `Authorization` and cookies).
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("secret-sync/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| "the HTTP client for probes could not be built".to_string())?;
    let verdicts = rt.block_on(ask_all(client, &bases, &asks, timeout));

    let mut results = Vec::new();
    for ((svc, _, idx), verdict) in asks.iter().zip(verdicts) {
        for &i in idx {
            let r = &mut v.resolved[i];
            let name = r.secret.name.clone();
            let (status, detail) = match &verdict {
                Verdict::Live => (Status::Live, String::new()),
                Verdict::Rejected(d) => {
                    r.usable = false;
                    (Status::Rejected, d.clone())
                }
                Verdict::Refused { detail, reason } => (Status::Refused, format!("{detail}: {reason}")),
                Verdict::Unknown(d) => (Status::Unknown, d.clone()),
                Verdict::Inconclusive(d) => (Status::Inconclusive, d.clone()),
            };
            let finding = |severity, kind, message| Finding {
                severity,
                kind,
                secret: name.clone(),
                message,
                line: Some(r.secret.pos.line),
                col: Some(r.secret.pos.col),
            };
            let (title, call) = (svc.title(), svc.call());
            match &verdict {
                Verdict::Rejected(_) => v.findings.push(finding(
                    Severity::Error,
                    Kind::ProbeRejected,
                    format!(
                        "{title} refused `{name}` ({call} answered {detail}): the credential is revoked or invalid; replace it. It is held back from every target"
                    ),
                )),
                Verdict::Refused { detail, reason } => v.findings.push(finding(
                    Severity::Warning,
                    Kind::ProbeRefused,
                    format!(
                        "{title} would not let `{name}` be used from here ({call} answered {detail}): {reason}. It is not held back; liveness is not confirmed"
                    ),
                )),
                Verdict::Unknown(_) => v.findings.push(finding(
                    Severity::Notice,
                    Kind::ProbeUnknown,
                    format!(
                        "`{name}` could not be checked with {title}: {call} answered {detail}, which its documentation does not describe. The run goes on"
                    ),
                )),
                Verdict::Inconclusive(_) => v.findings.push(finding(
                    Severity::Warning,
                    Kind::ProbeInconclusive,
                    format!("`{name}` could not be checked with {title}: {detail}. The run goes on"),
                )),
                Verdict::Live => {}
            }
            results.push((i, ProbeResult { secret: name, service: *svc, call: svc.call(), status, detail }));
        }
    }
    results.sort_by_key(|(i, _)| *i);
    Ok(results.into_iter().map(|(_, r)| r).collect())
}

async fn ask_all(
    client: reqwest::Client,
    bases: &[(Service, String)],
    asks: &[(Service, SecretString, Vec<usize>)],
    timeout: Duration,
) -> Vec<Verdict> {
    let limit = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut set = tokio::task::JoinSet::new();
    for (n, (svc, value, _)) in asks.iter().enumerate() {
        let base =
            bases.iter().find(|(s, _)| s == svc).map_or_else(|| svc.default_base().to_string(), |(_, b)| b.clone());
        let (client, value, limit, svc) = (client.clone(), value.clone(), limit.clone(), *svc);
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            // The client's timeout bounds each phase; this bounds the whole.
            let verdict = tokio::time::timeout(timeout, ask(&client, svc, &base, &value))
                .await
                .unwrap_or_else(|_| Verdict::Inconclusive("timed out".into()));
            (n, verdict)
        });
    }
    let mut out = vec![Verdict::Inconclusive("not run".into()); asks.len()];
    while let Some(joined) = set.join_next().await {
        if let Ok((n, verdict)) = joined {
            out[n] = verdict;
        }
    }
    out
}

async fn ask(client: &reqwest::Client, svc: Service, base: &str, value: &SecretString) -> Verdict {
    let mut resp = match svc.request(client, base, value.expose_secret()).send().await {
        Ok(r) => r,
        Err(e) if e.is_builder() => return Verdict::Inconclusive("the value cannot be sent in an HTTP header".into()),
        Err(e) if e.is_timeout() => return Verdict::Inconclusive("timed out".into()),
        Err(e) => return Verdict::Inconclusive(format!("unreachable ({})", crate::http::transport_reason(&e))),
    };
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    // Bodies tell "invalid" from "not allowed here"; read up to 64 KiB, so a
    // misbehaving service cannot fill memory. Successful answers are read
    // only where the status does not settle it (Slack, Fly, a kind's probe).
    let mut body = Vec::new();
    if !resp.status().is_success() || matches!(svc, Service::Slack | Service::Fly | Service::Kind(_)) {
        while let Ok(Some(chunk)) = resp.chunk().await {
            body.extend_from_slice(&chunk);
            if body.len() > 64 << 10 {
                break;
            }
        }
    }
    svc.verdict(status, &headers, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_refuse_hosts() {
        const K: &Sections = crate::targets::SECTIONS;
        assert_eq!(parse_setting("true", true, true, K), Ok(Setting::Auto));
        assert_eq!(parse_setting("false", true, false, K), Ok(Setting::Off));
        assert_eq!(parse_setting("slack", false, true, K), Ok(Setting::Named(Service::Slack)));
        assert!(parse_setting("true", false, true, K).is_err(), "a quoted \"true\" is a string");
        assert!(parse_setting("slack", true, false, K).unwrap_err().contains("`true` or `false`"));
        assert!(parse_setting("https://evil.example/x", false, true, K).unwrap_err().contains("pull request"));
        assert!(parse_setting("api.evil.example", false, true, K).unwrap_err().contains("refused"));
        assert!(parse_setting("opneai", false, true, K).unwrap_err().contains("did you mean `openai`"));
    }

    #[test]
    fn overrides_must_be_https_or_loopback() {
        assert!(allowed_base("https://api.example.com"));
        assert!(allowed_base("http://127.0.0.1:4321/_probe/openai"));
        assert!(allowed_base("http://localhost"));
        assert!(!allowed_base("http://api.example.com"));
        assert!(!allowed_base("http://127.0.0.1.evil.example"));
        assert!(!allowed_base("ftp://127.0.0.1"));
    }
}
