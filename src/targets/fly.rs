//! Fly.io apps as a target.
//!
//! Plan: one GraphQL read per app lists its secrets with their digests. The
//! GraphQL digest is the lowercase hex MD5 of the value (api-notes, "Fly.io"),
//! so values are compared locally and never read back. Sync: one Machines API
//! write of only the changed keys per app, then — with `deploy: restart` — a
//! rolling update of each running machine to the new secrets version, one at
//! a time under a lease. Apps with no change are not touched at all.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value as Json};

use super::{Action, Change, Context, Desired, TargetOutcome};
use crate::http::{encode, join, HttpError};
use crate::manifest::{Deploy, TargetSpec};
use crate::plan::TargetStatus;

pub const DEFAULT_API: &str = "https://api.fly.io";
pub const DEFAULT_FLAPS: &str = "https://api.machines.dev";
const LEASE_TTL_SECS: u64 = 60;
const WAIT_TIMEOUT_SECS: u64 = 60;

pub struct Settings {
    pub api_url: String,
    pub flaps_url: String,
    pub token: Option<SecretString>,
    /// Names the manifest gives Fly keys anywhere: the only keys pruning may delete.
    pub owned_keys: Vec<String>,
}

/// `Authorization` as fly-go builds it: macaroons (`fm1r_`, `fm1a_`, `fm2_`,
/// as `fly tokens create` prints them, often already prefixed) use the
/// `FlyV1` scheme, anything else is a bearer token.
pub fn authorization(token: &str) -> String {
    let t = token.trim();
    if t.starts_with("FlyV1 ") {
        return t.to_string();
    }
    if ["fm1r_", "fm1a_", "fm2_"].iter().any(|p| t.starts_with(p)) {
        return format!("FlyV1 {t}");
    }
    format!("Bearer {t}")
}

/// Lowercase hex MD5: what Fly's GraphQL API reports as a secret's digest.
pub fn digest(value: &str) -> String {
    format!("{:x}", md5::compute(value.as_bytes()))
}

const SECRETS_QUERY: &str = "query($appName: String!) { app(name: $appName) { secrets { name digest createdAt } } }";

#[derive(Deserialize)]
struct GqlResponse {
    data: Option<Json>,
    #[serde(default)]
    errors: Vec<GqlError>,
}

#[derive(Deserialize)]
struct GqlError {
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct Machine {
    id: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    config: Json,
}

pub async fn run(ctx: &Context, d: &Desired) -> TargetOutcome {
    let TargetSpec::Fly { app, deploy } = &d.target.spec else {
        unreachable!("fly::run is only called for Fly targets")
    };
    let Some(token) = ctx.fly.token.as_ref() else {
        return TargetOutcome::failed(
            "no Fly.io token: set the `fly-token` input (`fly tokens create org` covers every app of an org)".into(),
        );
    };
    let api = Api { ctx, app, auth: authorization(token.expose_secret()), pacer: Pacer::default() };

    let current = match api.read_secrets().await {
        Ok(c) => c,
        Err(e) => return TargetOutcome::failed(e),
    };
    let mut changes = Vec::new();
    let mut values = serde_json::Map::new();
    for k in &d.keys {
        let v = k.value.expose_secret();
        let action = match current.get(&k.key) {
            None => Action::Create,
            Some(have) if *have == digest(v) => Action::Unchanged,
            Some(_) => Action::Update,
        };
        if action != Action::Unchanged {
            values.insert(k.key.clone(), Json::String(v.to_string()));
        }
        changes.push(Change { key: k.key.clone(), action });
    }
    let routed: Vec<&str> =
        d.keys.iter().map(|k| k.key.as_str()).chain(d.held_back.iter().map(String::as_str)).collect();
    let mut deletable: Vec<&String> = current
        .keys()
        .filter(|name| !routed.contains(&name.as_str()) && ctx.fly.owned_keys.iter().any(|o| o == *name))
        .collect();
    deletable.sort();
    if ctx.prune {
        for name in &deletable {
            values.insert((*name).clone(), Json::Null);
            changes.push(Change { key: (*name).clone(), action: Action::Delete });
        }
    }
    let mut unrouted: Vec<String> = current.keys().filter(|n| !routed.contains(&n.as_str())).cloned().collect();
    unrouted.sort();
    let mut out = TargetOutcome { changes, unrouted, ..TargetOutcome::default() };
    if !ctx.prune && !deletable.is_empty() {
        out.warnings.push(format!(
            "{} key(s) the manifest no longer routes here are left in place ({}); `prune: true` would delete them",
            deletable.len(),
            deletable.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    if let Some(capped) = ctx.over_delete_cap(deletable.len(), out.changes.clone()) {
        return capped;
    }
    if values.is_empty() {
        out.status = Some(if ctx.writes() { TargetStatus::Unchanged } else { TargetStatus::Planned });
        return out;
    }
    if !ctx.writes() {
        out.status = Some(TargetStatus::Planned);
        out.message = Some(match deploy {
            Deploy::Restart => "a sync writes the changed keys, then restarts the app's machines one at a time".into(),
            Deploy::Stage => "a sync stages the changed keys; the next deploy picks them up".into(),
        });
        return out;
    }
    let version = match api.write_secrets(values).await {
        Ok(v) => v,
        Err(e) => {
            out.status = Some(TargetStatus::Failed);
            out.message = Some(e);
            return out;
        }
    };
    out.written = true;
    if *deploy == Deploy::Stage {
        out.status = Some(TargetStatus::Synced);
        out.message = Some(format!("secrets staged (version {}); the next deploy picks them up", show(version)));
        return out;
    }
    match api.roll(version).await {
        Ok(n) => {
            out.status = Some(TargetStatus::Synced);
            out.message = Some(format!("secrets version {}; {n} machine(s) updated one at a time", show(version)));
        }
        Err((done, e)) => {
            out.status = Some(TargetStatus::Failed);
            out.message = Some(format!(
                "secrets were written (version {}) but the rolling update stopped after {done} machine(s): {e}. Finish it with `fly secrets deploy -a {app}`",
                show(version)
            ));
        }
    }
    out
}

fn show(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "unknown".into())
}

struct Api<'a> {
    ctx: &'a Context,
    app: &'a str,
    auth: String,
    pacer: Pacer,
}

impl Api<'_> {
    fn req(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        self.ctx.http.request(method, url).header("Authorization", &self.auth)
    }

    fn flaps(&self, path: &str) -> String {
        join(&self.ctx.fly.flaps_url, &format!("/v1/apps/{}{path}", encode(self.app)))
    }

    /// Secret names → MD5 digests, from GraphQL.
    async fn read_secrets(&self) -> Result<HashMap<String, String>, String> {
        let what = format!("reading the secrets of Fly app `{}`", self.app);
        let url = join(&self.ctx.fly.api_url, "/graphql");
        let body = json!({ "query": SECRETS_QUERY, "variables": { "appName": self.app } });
        let r =
            self.ctx.http.send(&what, || self.req(Method::POST, &url).json(&body)).await.map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(self.explain(&what, &r).to_string());
        }
        let g: GqlResponse = r.json().await.map_err(|_| format!("{what}: the response is not the expected JSON"))?;
        if let Some(e) = g.errors.first() {
            if e.message.contains("Could not find App") {
                return Err(format!("Fly app `{}` does not exist (or the token's org cannot see it)", self.app));
            }
            // GraphQL messages describe the request, not values; keep them short.
            let msg: String = e.message.chars().take(160).collect();
            return Err(format!("{what}: Fly API error: {msg}"));
        }
        let secrets = g
            .data
            .as_ref()
            .and_then(|d| d["app"]["secrets"].as_array())
            .ok_or_else(|| format!("{what}: the response has no secrets list"))?;
        Ok(secrets
            .iter()
            .filter_map(|s| Some((s["name"].as_str()?.to_string(), s["digest"].as_str()?.to_ascii_lowercase())))
            .collect())
    }

    /// One write of the changed keys (`null` unsets); returns the secrets version.
    async fn write_secrets(&self, values: serde_json::Map<String, Json>) -> Result<Option<u64>, String> {
        let what = format!("writing the secrets of Fly app `{}`", self.app);
        let url = self.flaps("/secrets");
        let body = json!({ "values": values });
        let r =
            self.ctx.http.send(&what, || self.req(Method::POST, &url).json(&body)).await.map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(self.explain(&what, &r).to_string());
        }
        let v: Json = r.json().await.map_err(|_| format!("{what}: the response is not the expected JSON"))?;
        Ok(v["version"].as_u64())
    }

    /// Updates every active machine to `version`, one at a time; returns how
    /// many were updated, or how many were before the failure.
    async fn roll(&self, version: Option<u64>) -> Result<usize, (usize, String)> {
        let what = format!("listing the machines of Fly app `{}`", self.app);
        let url = self.flaps("/machines");
        self.pacer.wait("list").await;
        let r = self.ctx.http.send(&what, || self.req(Method::GET, &url)).await.map_err(|e| (0, e.to_string()))?;
        if !r.status().is_success() {
            return Err((0, self.explain(&what, &r).to_string()));
        }
        let machines: Vec<Machine> =
            r.json().await.map_err(|_| (0, format!("{what}: the response is not the expected JSON")))?;
        let active: Vec<&Machine> =
            machines.iter().filter(|m| !matches!(m.state.as_str(), "destroyed" | "destroying")).collect();
        for (i, m) in active.iter().enumerate() {
            self.update_machine(m, version).await.map_err(|e| (i, e))?;
        }
        Ok(active.len())
    }

    async fn update_machine(&self, m: &Machine, version: Option<u64>) -> Result<(), String> {
        let id = &m.id;
        let what = format!("leasing machine `{id}` of Fly app `{}`", self.app);
        let lease_url = self.flaps(&format!("/machines/{}/lease?ttl={LEASE_TTL_SECS}", encode(id)));
        self.pacer.wait("lease").await;
        let r = self.ctx.http.send(&what, || self.req(Method::POST, &lease_url)).await.map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(self.explain(&what, &r).to_string());
        }
        let lease: Json = r.json().await.map_err(|_| format!("{what}: the response is not the expected JSON"))?;
        let nonce = lease["data"]["nonce"].as_str().unwrap_or_default().to_string();
        let result = self.update_leased(m, version, &nonce).await;
        // Release the lease whatever happened; a failed release only delays
        // the next lease until the TTL passes, so it is not an error.
        let release = self.flaps(&format!("/machines/{}/lease", encode(id)));
        self.pacer.wait("release").await;
        let _ = self
            .ctx
            .http
            .send("releasing a machine lease", || {
                self.req(Method::DELETE, &release).header("fly-machine-lease-nonce", &nonce)
            })
            .await;
        result
    }

    async fn update_leased(&self, m: &Machine, version: Option<u64>, nonce: &str) -> Result<(), String> {
        let id = &m.id;
        let what = format!("updating machine `{id}` of Fly app `{}`", self.app);
        let url = self.flaps(&format!("/machines/{}", encode(id)));
        let mut body = json!({ "config": m.config });
        if let Some(v) = version {
            body["min_secrets_version"] = json!(v);
        }
        self.pacer.wait("update").await;
        let r = self
            .ctx
            .http
            .send(&what, || self.req(Method::POST, &url).header("fly-machine-lease-nonce", nonce).json(&body))
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(self.explain(&what, &r).to_string());
        }
        let updated: Json = r.json().await.unwrap_or(Json::Null);
        // Rolling: the next machine is only touched once this one runs again.
        let instance = updated["instance_id"].as_str().unwrap_or_default().to_string();
        let what = format!("waiting for machine `{id}` of Fly app `{}` to start", self.app);
        let wait = self.flaps(&format!(
            "/machines/{}/wait?instance_id={}&state=started&timeout={WAIT_TIMEOUT_SECS}",
            encode(id),
            encode(&instance)
        ));
        self.pacer.wait("wait").await;
        let r = self.ctx.http.send(&what, || self.req(Method::GET, &wait)).await.map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(self.explain(&what, &r).to_string());
        }
        Ok(())
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

/// Fly's documented limit is about one request per second per action and
/// app, with bursts of three: a token bucket per action.
#[derive(Default)]
struct Pacer {
    sent: tokio::sync::Mutex<HashMap<&'static str, VecDeque<Instant>>>,
}

impl Pacer {
    const BURST: usize = 3;
    const WINDOW: Duration = Duration::from_secs(1);

    async fn wait(&self, action: &'static str) {
        let mut sent = self.sent.lock().await;
        let q = sent.entry(action).or_default();
        let now = Instant::now();
        while q.front().is_some_and(|t| now.duration_since(*t) >= Self::WINDOW * Self::BURST as u32) {
            q.pop_front();
        }
        if q.len() >= Self::BURST {
            let oldest = q[q.len() - Self::BURST];
            let ready = oldest + Self::WINDOW * Self::BURST as u32;
            if ready > now {
                tokio::time::sleep(ready - now).await;
            }
        }
        q.push_back(Instant::now());
    }
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
    }

    #[test]
    fn digest_is_md5_hex_as_fly_documents() {
        // The example from Fly's docs (api-notes): md5("romance").
        assert_eq!(digest("romance"), "b9e37b7b239ee4aefc75352fe3fa6dc6");
    }
}
