//! The Fly Machines API requests of one app, paced, and what to do when a
//! write's answer is lost. Reads are retried like any read; writes that
//! must not happen twice (a lease, a machine update, a secrets write) are
//! sent once ([`Http::send_once`]) and, when no answer came back, what is
//! there is read again to learn whether they took effect.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value as Json};

use super::checks::Backoff;
use super::machines::Machine;
use super::plan::Listing;
use crate::clock::Clock;
use crate::http::{encode, join, HttpError, Unanswered};
use crate::targets::driver::TargetError;
use crate::targets::Context;

const LEASE_TTL_SECS: u64 = 60;
/// The wait endpoint's own cap (fly-go flaps/flaps_machines_wait.go,
/// `proxyTimeoutThreshold`); a wait asks for less than the client timeout.
const WAIT_CAP_SECS: u64 = 60;

pub struct Api<'a> {
    ctx: &'a Context,
    fly: &'a super::Settings,
    pub app: &'a str,
    auth: String,
    /// Set on every lease this run takes, so a lease whose answer was lost
    /// can be recognised as ours.
    lease_description: String,
    /// What was learnt after a lost answer, for the report.
    notes: std::sync::Mutex<Vec<String>>,
}

/// The answer to a secrets write.
pub struct Written {
    pub version: Option<u64>,
    /// Name → digest, when the answer lists every key set with its digest.
    pub digests: Option<Listing>,
}

/// Why a Machines API request (listing, leasing, updating, reading or
/// waiting for a Machine) failed. What the service answered stays an
/// [`HttpError`], with its status and request id.
#[derive(Debug, thiserror::Error)]
pub enum FlyApiError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("{what}: the response is not the expected JSON")]
    NotJson { what: String },
    #[error("{what}: the answer has no lease nonce")]
    NoNonce { what: String },
    #[error("machine `{id}` is leased by another process (a deploy in progress?); run again once it is done")]
    LeasedByAnother { id: String },
    #[error(
        "the answer to leasing machine `{id}` was lost and its nonce cannot be read back; the lease expires within {ttl} s",
        ttl = LEASE_TTL_SECS
    )]
    NonceLost { id: String },
    /// An update's answer was lost twice and the machine shows no new version.
    #[error("{0} (twice; the machine shows no new version)")]
    LostTwice(#[source] HttpError),
    #[error("{what}: it did not start within {}", crate::duration::show(*.limit, crate::duration::Style::Spaced))]
    NotStarted { what: String, limit: Duration },
}

pub enum WriteError {
    /// The service refused it: nothing was written.
    Refused(TargetError),
    /// No answer: it may or may not have been applied.
    Lost(TargetError),
}

impl<'a> Api<'a> {
    pub fn new(ctx: &'a Context, fly: &'a super::Settings, app: &'a str, auth: String) -> Api<'a> {
        Api { ctx, fly, app, auth, lease_description: format!("secret-sync run {}", run_nonce()), notes: Default::default() }
    }

    /// The clock the roll waits on.
    pub fn clock(&self) -> &Clock {
        &self.fly.clock
    }

    pub fn note(&self, text: String) {
        self.notes.lock().unwrap_or_else(|p| p.into_inner()).push(text);
    }

    /// The notes so far.
    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn req(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        self.ctx.http.request(method, url).header("Authorization", &self.auth)
    }

    fn url(&self, path: &str) -> String {
        join(&self.fly.flaps_url, &format!("/v1/apps/{}{path}", encode(self.app)))
    }

    fn machine_url(&self, id: &str, rest: &str) -> String {
        self.url(&format!("/machines/{}{rest}", encode(id)))
    }

    /// The app's secrets and digests (`GET /v1/apps/{app}/secrets`, fly-go
    /// flaps/flaps_secrets.go); `min_version` asks for a listing that
    /// includes that secrets version, as flyctl reads after its own write.
    pub async fn list_secrets(&self, min_version: Option<u64>) -> Result<Listing, TargetError> {
        let what = format!("reading the secrets of Fly app `{}`", self.app);
        let query = min_version.map(|v| format!("?version={v}")).unwrap_or_default();
        let url = self.url(&format!("/secrets{query}"));
        self.fly.pacer.wait("secrets-list", self.app).await;
        let r = self.ctx.http.send(&what, || self.req(Method::GET, &url)).await?;
        if r.status() == 404 {
            let e = self.ctx.http.status_error(&what, &r, "");
            return Err(TargetError {
                message: format!("Fly app `{}` does not exist (or the token's org cannot see it)", self.app),
                ..e.into()
            });
        }
        if !r.status().is_success() {
            return Err(self.explain(&what, &r).into());
        }
        let v: Json =
            r.json().await.map_err(|_| TargetError::new(format!("{what}: the response is not the expected JSON")))?;
        if !v["secrets"].is_array() {
            return Err(TargetError::new(format!("{what}: the response has no secrets list")));
        }
        Ok(digests(&v))
    }

    /// One write (`POST /v1/apps/{app}/secrets`, `{"values": {K: v | null}}`),
    /// sent once. `set` are the keys whose digests the caller needs back.
    pub async fn write_secrets(
        &self,
        values: &serde_json::Map<String, Json>,
        set: &[String],
    ) -> Result<Written, WriteError> {
        let what = format!("writing the secrets of Fly app `{}`", self.app);
        let url = self.url("/secrets");
        let body = json!({ "values": values });
        self.fly.pacer.wait("secrets-write", self.app).await;
        let r = match self.ctx.http.send_once(&what, || self.req(Method::POST, &url).json(&body)).await {
            Ok(r) => r,
            Err(u) => return Err(lost_or_refused(u)),
        };
        if !r.status().is_success() {
            return Err(WriteError::Refused(self.explain(&what, &r).into()));
        }
        // The answer came: the write happened. An unreadable body only
        // costs the digests and version, which a re-list recovers.
        let v: Json = r.json().await.unwrap_or(Json::Null);
        let answered = digests(&v);
        let complete = set.iter().all(|k| answered.contains_key(k));
        Ok(Written { version: v["version"].as_u64(), digests: complete.then_some(answered) })
    }

    /// The app's current secrets version without changing a value: unset a
    /// name nobody uses, as flyctl's `secrets sync` does
    /// (internal/appsecrets/secrets.go, `Sync`).
    pub async fn current_version(&self) -> Option<u64> {
        let mut values = serde_json::Map::new();
        values.insert(format!("SECRET_SYNC_VERSION_PROBE_{}", run_nonce()), Json::Null);
        self.write_secrets(&values, &[]).await.ok().and_then(|w| w.version)
    }

    /// Every machine of the app (`GET /v1/apps/{app}/machines`).
    pub async fn machines(&self) -> Result<Vec<Machine>, FlyApiError> {
        let what = format!("listing the machines of Fly app `{}`", self.app);
        let url = self.url("/machines");
        self.fly.pacer.wait("machines-list", self.app).await;
        let r = self.ctx.http.send(&what, || self.req(Method::GET, &url)).await?;
        if !r.status().is_success() {
            return Err(self.explain(&what, &r).into());
        }
        r.json().await.map_err(|_| FlyApiError::NotJson { what })
    }

    /// Takes the machine's lease and returns its nonce. A lease whose answer
    /// was lost is looked up: if it carries this run's description it is
    /// ours; if there is none, the request did not take and is sent again.
    pub async fn lease(&self, m: &Machine) -> Result<String, FlyApiError> {
        for attempt in 0..2 {
            match self.acquire(m).await {
                Ok(nonce) => return Ok(nonce),
                Err(Acquire::Refused(e)) => return Err(e),
                Err(Acquire::Lost(e)) => match self.find_lease(m).await? {
                    Found::Ours(nonce) => {
                        self.note(format!("the lease of machine `{}` read back is this run's", m.id));
                        return Ok(nonce);
                    }
                    Found::None if attempt == 0 => {
                        self.note(format!("machine `{}` showed no lease, so it was asked for again", m.id));
                        continue;
                    }
                    Found::None => return Err(e),
                    Found::OursWithoutNonce => return Err(FlyApiError::NonceLost { id: m.id.clone() }),
                    Found::Other => return Err(leased_by_another(&m.id)),
                },
            }
        }
        unreachable!("the loop returns on its second pass")
    }

    async fn acquire(&self, m: &Machine) -> Result<String, Acquire> {
        let what = format!("leasing machine `{}` of Fly app `{}`", m.id, self.app);
        // `ttl` in the query as fly-go sends it (AcquireLease); the body as
        // Fly's docs describe it (machines-resource, "Create a Machine lease").
        let url = self.machine_url(&m.id, &format!("/lease?ttl={LEASE_TTL_SECS}"));
        let body = json!({ "description": self.lease_description, "ttl": LEASE_TTL_SECS });
        self.fly.pacer.wait("lease", &m.id).await;
        let r = match self.ctx.http.send_once(&what, || self.req(Method::POST, &url).json(&body)).await {
            Ok(r) => r,
            Err(u) if u.may_have_applied => return Err(Acquire::Lost(u.error.into())),
            Err(u) => return Err(Acquire::Refused(u.error.into())),
        };
        if r.status() == 409 {
            return Err(Acquire::Refused(leased_by_another(&m.id)));
        }
        if !r.status().is_success() {
            return Err(Acquire::Refused(self.explain(&what, &r).into()));
        }
        let v: Json = r.json().await.unwrap_or(Json::Null);
        match v["data"]["nonce"].as_str() {
            Some(n) if !n.is_empty() => Ok(n.to_string()),
            // Taken, but its nonce unreadable: look it up like a lost answer.
            _ => Err(Acquire::Lost(FlyApiError::NoNonce { what })),
        }
    }

    /// `GET …/lease` (fly-go FindLease; 404 when there is none).
    async fn find_lease(&self, m: &Machine) -> Result<Found, FlyApiError> {
        let what = format!("reading the lease of machine `{}` of Fly app `{}`", m.id, self.app);
        let url = self.machine_url(&m.id, "/lease");
        self.fly.pacer.wait("lease-read", &m.id).await;
        let r = self.ctx.http.send(&what, || self.req(Method::GET, &url)).await?;
        if r.status() == 404 {
            return Ok(Found::None);
        }
        if !r.status().is_success() {
            return Err(self.explain(&what, &r).into());
        }
        let v: Json = r.json().await.map_err(|_| FlyApiError::NotJson { what })?;
        let data = &v["data"];
        if data["description"].as_str() != Some(self.lease_description.as_str()) {
            return Ok(if data.is_null() { Found::None } else { Found::Other });
        }
        Ok(match data["nonce"].as_str() {
            Some(n) if !n.is_empty() => Found::Ours(n.to_string()),
            _ => Found::OursWithoutNonce,
        })
    }

    /// Releases a lease. A failed release only delays the next lease until
    /// the TTL passes, so it is not an error.
    pub async fn release(&self, m: &Machine, nonce: &str) {
        let url = self.machine_url(&m.id, "/lease");
        self.fly.pacer.wait("release", &m.id).await;
        let _ = self
            .ctx
            .http
            .send("releasing a machine lease", || {
                self.req(Method::DELETE, &url).header("fly-machine-lease-nonce", nonce)
            })
            .await;
    }

    /// Updates the machine with its current config and the secrets version
    /// (`POST /v1/apps/{app}/machines/{id}`, fly-go `Update` with
    /// `LaunchMachineInput`), sent once; returns the new `instance_id`. When
    /// the answer is lost, the machine is read back: a new `instance_id`
    /// means the update took; the same one means it did not, and it is sent
    /// a second time. (If Fly kept the `instance_id` on an update — its docs
    /// say an update "potentially" changes it — that costs one extra update
    /// of the same config, never a lost one.)
    pub async fn update(
        &self,
        m: &Machine,
        nonce: &str,
        version: Option<u64>,
        skip_launch: bool,
    ) -> Result<String, FlyApiError> {
        let what = format!("updating machine `{}` of Fly app `{}`", m.id, self.app);
        let url = self.machine_url(&m.id, "");
        let mut body = json!({ "config": m.config });
        if let Some(v) = version {
            body["min_secrets_version"] = json!(v);
        }
        if skip_launch {
            body["skip_launch"] = json!(true);
        }
        let mut last = None;
        for attempt in 0..2 {
            self.fly.pacer.wait("update", &m.id).await;
            let sent = self
                .ctx
                .http
                .send_once(&what, || self.req(Method::POST, &url).header("fly-machine-lease-nonce", nonce).json(&body))
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    let v: Json = r.json().await.unwrap_or(Json::Null);
                    return match v["instance_id"].as_str() {
                        Some(i) if !i.is_empty() => Ok(i.to_string()),
                        _ => Ok(self.get(m).await?.instance_id),
                    };
                }
                Ok(r) => return Err(self.explain(&what, &r).into()),
                Err(u) if !u.may_have_applied => return Err(u.error.into()),
                Err(u) => {
                    last = Some(u.error);
                    let now = self.get(m).await?;
                    if now.instance_id != m.instance_id {
                        self.note(format!("machine `{}` read back shows the update took", m.id));
                        return Ok(now.instance_id);
                    }
                    if attempt == 0 {
                        self.note(format!("machine `{}` read back shows no update, so it was sent again", m.id));
                    }
                }
            }
        }
        // Both passes lost their answer: the second set `last`.
        Err(FlyApiError::LostTwice(last.expect("a lost answer on each pass")))
    }

    /// `GET /v1/apps/{app}/machines/{id}` (fly-go `Get`).
    pub async fn get(&self, m: &Machine) -> Result<Machine, FlyApiError> {
        let what = format!("reading machine `{}` of Fly app `{}`", m.id, self.app);
        let url = self.machine_url(&m.id, "");
        self.fly.pacer.wait("get", &m.id).await;
        let r = self.ctx.http.send(&what, || self.req(Method::GET, &url)).await?;
        if !r.status().is_success() {
            return Err(self.explain(&what, &r).into());
        }
        r.json().await.map_err(|_| FlyApiError::NotJson { what })
    }

    /// Waits until the machine's `instance` is `started`. Each request asks
    /// the server to wait less than the client's own timeout (and at most
    /// the endpoint's 60 s cap); a 408 means "not yet" and is asked again
    /// after flyctl's backoff, until `limit` has passed — as flyctl's
    /// `WaitForState` loops (internal/machine/leasable_machine.go).
    pub async fn wait_started(&self, m: &Machine, instance: &str, limit: Duration) -> Result<(), FlyApiError> {
        let what = format!("waiting for machine `{}` of Fly app `{}` to start", m.id, self.app);
        let secs = (self.ctx.http.policy.timeout.as_secs() * 2 / 3).clamp(1, WAIT_CAP_SECS).min(limit.as_secs().max(1));
        let url =
            self.machine_url(&m.id, &format!("/wait?instance_id={}&state=started&timeout={secs}", encode(instance)));
        let clock = &self.fly.clock;
        let deadline = clock.now().await + limit;
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(2));
        loop {
            self.fly.pacer.wait("wait", &m.id).await;
            let r = self.ctx.http.poll(&what, || self.req(Method::GET, &url)).await?;
            match r.status().as_u16() {
                200..=299 => return Ok(()),
                408 if clock.now().await < deadline => clock.sleep(backoff.step()).await,
                408 => return Err(FlyApiError::NotStarted { what, limit }),
                _ => return Err(self.explain(&what, &r).into()),
            }
        }
    }

    fn explain(&self, what: &str, r: &reqwest::Response) -> HttpError {
        let hint = match r.status().as_u16() {
            401 => "the Fly token was rejected; check `fly-token`".to_string(),
            403 => format!("the Fly token has no access to app `{}`", self.app),
            404 => format!("Fly app `{}` or the resource was not found", self.app),
            429 => "rate-limited by Fly (retries exhausted)".to_string(),
            s if s >= 500 => "Fly returned a server error (retries exhausted)".to_string(),
            _ => String::new(),
        };
        self.ctx.http.status_error(what, r, &hint)
    }
}

/// Name → digest of each entry of `secrets` that has both (fly-go `AppSecret`).
fn digests(v: &Json) -> Listing {
    v["secrets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s["name"].as_str()?.to_string(), s["digest"].as_str()?.to_ascii_lowercase())))
        .collect()
}

enum Acquire {
    Refused(FlyApiError),
    Lost(FlyApiError),
}

enum Found {
    Ours(String),
    OursWithoutNonce,
    Other,
    None,
}

fn lost_or_refused(u: Unanswered) -> WriteError {
    if u.may_have_applied {
        WriteError::Lost(u.error.into())
    } else {
        WriteError::Refused(u.error.into())
    }
}

fn leased_by_another(id: &str) -> FlyApiError {
    FlyApiError::LeasedByAnother { id: id.to_string() }
}

/// Differs between runs and calls: tells this run's leases from others'.
fn run_nonce() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    format!("{:016x}", h.finish())
}

/// Fly's documented limit (superfly/docs `machines/api/working-with-machines-api`,
/// "Rate limits"): about one request per second per action, bursts of three,
/// counted per Machine for Machine actions and per app for app actions. So
/// the pacer keeps one window per (action, Machine or app): updating nine
/// Machines of an app never waits, while a fourth lease of one Machine
/// within three seconds does. One pacer serves the whole run.
pub struct Pacer {
    clock: Clock,
    /// Per (action, Machine or app): the theoretical arrival time of the next
    /// request (GCRA, the token bucket written as one instant on `clock`).
    next: std::sync::Mutex<HashMap<(&'static str, String), Duration>>,
}

impl Pacer {
    pub fn new(clock: Clock) -> Pacer {
        Pacer { clock, next: Default::default() }
    }

    /// One request per second on average…
    const INTERVAL: Duration = Duration::from_secs(1);
    /// …with bursts of three: two intervals of tolerance.
    const TOLERANCE: Duration = Duration::from_secs(2);

    /// Waits until `action` on `id` may be sent, and records it.
    pub async fn wait(&self, action: &'static str, id: &str) {
        let delay = self.reserve(action, id, self.clock.now().await);
        if !delay.is_zero() {
            tracing::debug!(action, id, delay_ms = delay.as_millis() as u64, "pacing to Fly's rate limit");
            self.clock.sleep(delay).await;
        }
    }

    /// How long a request made at `now` must wait; its slot is then taken.
    fn reserve(&self, action: &'static str, id: &str, now: Duration) -> Duration {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let tat = next.get(&(action, id.to_string())).copied().unwrap_or(now).max(now);
        let delay = tat.checked_sub(Self::TOLERANCE).map_or(Duration::ZERO, |t| t.saturating_sub(now));
        next.insert((action, id.to_string()), tat + Self::INTERVAL);
        delay
    }
}

#[cfg(test)]
mod pacing {
    use super::*;

    #[test]
    fn machine_errors_read_as_flyctl_users_expect() {
        assert_eq!(
            FlyApiError::NonceLost { id: "m1".into() }.to_string(),
            "the answer to leasing machine `m1` was lost and its nonce cannot be read back; the lease expires within 60 s"
        );
        let lost = HttpError {
            status: None,
            message: "updating machine `m1`: timed out".into(),
            request_id: Some("r1".into()),
        };
        assert_eq!(
            FlyApiError::LostTwice(lost.clone()).to_string(),
            "updating machine `m1`: timed out (request id r1) (twice; the machine shows no new version)"
        );
        assert_eq!(FlyApiError::from(lost).to_string(), "updating machine `m1`: timed out (request id r1)");
        let what = "waiting for machine `m1` of Fly app `a` to start".to_string();
        assert_eq!(
            FlyApiError::NotStarted { what, limit: Duration::from_secs(150) }.to_string(),
            "waiting for machine `m1` of Fly app `a` to start: it did not start within 2 min 30 s"
        );
    }

    #[test]
    fn windows_are_per_action_and_machine() {
        let p = Pacer::new(crate::clock::Manual::at(Duration::ZERO));
        let t0 = Duration::from_secs(100);
        // Nine machines, each leased, updated, waited for and released: no wait.
        for m in 0..9 {
            for action in ["lease", "update", "wait", "release"] {
                assert_eq!(p.reserve(action, &format!("m{m}"), t0), Duration::ZERO, "{action} m{m}");
            }
        }
        // The same action on one machine: three at once, then one a second.
        for _ in 0..3 {
            assert_eq!(p.reserve("lease", "x", t0), Duration::ZERO);
        }
        assert_eq!(p.reserve("lease", "x", t0), Duration::from_secs(1));
        assert_eq!(p.reserve("lease", "x", t0 + Duration::from_secs(1)), Duration::from_secs(1));
        // After a quiet spell the burst is back.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(p.reserve("lease", "x", later), Duration::ZERO);
        }
        // An app action is counted per app.
        for _ in 0..3 {
            assert_eq!(p.reserve("secrets-list", "app-a", t0), Duration::ZERO);
        }
        assert_eq!(p.reserve("secrets-list", "app-b", t0), Duration::ZERO);
        assert!(p.reserve("secrets-list", "app-a", t0) > Duration::ZERO);
    }
}
