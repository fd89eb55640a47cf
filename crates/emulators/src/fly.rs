//! Fly.io: the Machines API (`/v1/apps/…`: app, secrets with a monotonically
//! increasing version, machines, leases, updates, waits) and, for
//! compatibility, the GraphQL secrets routes (`POST /graphql`). Each route
//! names the file of the official clients (superfly/fly-go, superfly/flyctl)
//! or Fly's docs (superfly/docs) it follows.
//!
//! Digests are opaque, as Fly's are: a keyed hash with a random key per app
//! (16 hex chars), so a client can only compare a digest with an earlier one
//! of the same app — never compute one. A legacy app ([`Fly::set_legacy`])
//! shows 32-hex MD5 digests, as apps whose secrets predate Fly's current
//! store do (docs/service-facts.md, "Fly.io").
//!
//! Unconfirmed, chosen and marked here: whether the write's answer carries
//! each secret's digest (fly-go's type allows it; [`App::answer_digests`]
//! switches it off so both cases are tested); whether a lease's
//! `description` is echoed by `GET …/lease` (the docs' example shows the
//! field); the GraphQL error for a token without access to an app.

use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Value as Json};
use sha2::{Digest as _, Sha256};

use super::{Reply, Req, State};

mod checks;

#[derive(Default)]
pub struct Fly {
    pub apps: BTreeMap<String, App>,
    /// Accepted tokens (without the `FlyV1 `/`Bearer ` scheme).
    pub tokens: HashSet<String>,
    /// Apps the token may not touch.
    pub forbidden: HashSet<String>,
    /// When Machines (re)start, for the `timestamp` of their events.
    pub starts: Starts,
    /// What happened to Machines, in order, over all apps: `update ID`,
    /// `passing ID` (the first read after an update that showed every
    /// check passing), `critical ID`, `crashing ID`.
    pub journal: Vec<String>,
    next: u64,
}

/// The time stamped on a Machine's `start` and `launch` events. The run's
/// clock is its own (virtual in tests), so a test picks how they relate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Starts {
    /// At the epoch: every Machine has been up long, so a smoke check passes
    /// at its first read.
    #[default]
    LongAgo,
    /// At this many ms since the epoch.
    At(i64),
    /// At the real time.
    Real,
}

pub struct App {
    /// Name → (digest as Fly shows it, the value itself for tests).
    pub secrets: BTreeMap<String, (String, String)>,
    pub version: u64,
    pub machines: Vec<Machine>,
    /// Digests are MD5 hex of the value (an app from before Fly's current store).
    pub legacy_md5: bool,
    /// The write's answer lists each secret with its digest. UNCONFIRMED for
    /// the real API (fly-go `UpdateAppSecretsResp` has the field, `omitempty`).
    pub answer_digests: bool,
    /// The key of this app's digests: opaque to every client.
    digest_key: [u8; 16],
    /// The secrets version at which each secret was last set.
    pub set_at: BTreeMap<String, u64>,
    /// Script: a Machine updated while secret `.0` holds value `.1` fails
    /// its health checks with output `.2`.
    pub sick_when: Option<(String, String, String)>,
    /// Script: a Machine updated while secret `.0` holds value `.1`
    /// crash-loops (exit code 1, restarting, restart count 2).
    pub crash_when: Option<(String, String)>,
    /// After a write, this many reads that do not ask for its `version`
    /// still list the secrets from before it (a lagging replica: why flyctl
    /// reads at the version it wrote; the lag itself is UNCONFIRMED).
    pub stale_reads: u32,
    stale: Option<(u32, Json)>,
}

impl Default for App {
    fn default() -> Self {
        App {
            secrets: BTreeMap::new(),
            version: 0,
            machines: Vec::new(),
            legacy_md5: false,
            answer_digests: true,
            digest_key: random_key(),
            set_at: BTreeMap::new(),
            sick_when: None,
            crash_when: None,
            stale_reads: 0,
            stale: None,
        }
    }
}

impl App {
    /// The digest Fly would show for `value` in this app.
    pub fn digest(&self, value: &str) -> String {
        if self.legacy_md5 {
            return format!("{:x}", md5::compute(value.as_bytes()));
        }
        let mut h = Sha256::new();
        h.update(self.digest_key);
        h.update(value.as_bytes());
        h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    fn store(&mut self, name: &str, value: &str) {
        let d = self.digest(value);
        // Fly keeps `updated_at` of a secret whose value is the same.
        if self.secrets.get(name).is_none_or(|(old, _)| *old != d) {
            self.set_at.insert(name.to_string(), self.version + 1);
        }
        self.secrets.insert(name.to_string(), (d, value.to_string()));
    }

    fn listing(&self) -> Json {
        json!({ "secrets": self.secrets.iter().map(|(n, (d, _))| secret_json(n, Some(d))).collect::<Vec<_>>() })
    }

    /// Whether secret `k` holds `v` now.
    fn holds(&self, k: &str, v: &str) -> bool {
        self.secrets.get(k).is_some_and(|(_, have)| have == v)
    }
}

pub struct Machine {
    pub id: String,
    pub state: String,
    pub instance_id: String,
    pub config: Json,
    pub lease: Option<Lease>,
    /// Each update received, in order.
    pub updates: Vec<Update>,
    /// How many waits answer 408 after an update that starts it (a slow boot).
    pub boot_waits: u32,
    pending_boot: u32,
    /// The secrets version it booted with (or was last updated to).
    pub secrets_version: u64,
    /// `events`, newest first (fly-go `MachineEvent`).
    pub events: Vec<Json>,
    /// Script: after an update, this many reads show no check result yet…
    pub reads_before_checks: u32,
    pending_reads: u32,
    /// …nor for this long after its start (with [`Starts::Real`]: the
    /// first result comes after a check's grace period and interval).
    pub checks_after_ms: i64,
    results_at_ms: i64,
    /// Health after the last update: `None` passing, or the failing output.
    sick: Option<String>,
    reported_passing: bool,
}

pub struct Lease {
    pub nonce: String,
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Update {
    pub min_secrets_version: Option<u64>,
    pub skip_launch: bool,
}

/// The kinds of machine an app can have, as fly-go tells them apart
/// (machine_types.go: `IsFlyAppsPlatform`, `IsFlyAppsReleaseCommand`,
/// `IsFlyAppsConsole`; metadata keys `fly_platform_version`, `fly_process_group`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A Fly-platform machine of process group `app` in this state.
    App(&'static str),
    /// A stopped Fly-platform machine that is a standby for another (`config.standbys`).
    Standby,
    /// The machine `fly deploy` runs the release command on.
    ReleaseCommand,
    /// A `fly console` machine.
    Console,
    /// A machine created outside Fly Launch (no platform metadata).
    Unmanaged,
    Destroyed,
}

impl Fly {
    /// Adds an app with `machines` started Fly-platform machines (and one
    /// destroyed one, which an update must skip).
    pub fn add_app(&mut self, name: &str, machines: usize) {
        self.apps.insert(name.to_string(), App::default());
        for i in 0..machines {
            self.add_machine(name, &format!("{name}-m{i}"), Kind::App("started"));
        }
        self.add_machine(name, &format!("{name}-old"), Kind::Destroyed);
    }

    /// Adds one machine of `kind` to `app`.
    pub fn add_machine(&mut self, app: &str, id: &str, kind: Kind) {
        let a = self.apps.get_mut(app).expect("app exists");
        let group = match kind {
            Kind::ReleaseCommand => "fly_app_release_command",
            Kind::Console => "fly_app_console",
            _ => "app",
        };
        let mut config = json!({
            "image": format!("registry.fly.io/{app}:v1"),
            "guest": { "cpus": 1, "memory_mb": 256 },
            "metadata": { "fly_platform_version": "v2", "fly_process_group": group },
        });
        if kind == Kind::Unmanaged {
            config["metadata"] = json!({});
        }
        if kind == Kind::Standby {
            let first = a.machines.first().map(|m| m.id.clone()).unwrap_or_default();
            config["standbys"] = json!([first]);
        }
        let state = match kind {
            Kind::App(s) => s,
            Kind::Standby => "stopped",
            Kind::ReleaseCommand => "stopped",
            Kind::Console | Kind::Unmanaged => "started",
            Kind::Destroyed => "destroyed",
        };
        a.machines.push(Machine {
            id: id.to_string(),
            state: state.into(),
            instance_id: format!("inst-{id}-0"),
            config,
            lease: None,
            updates: Vec::new(),
            boot_waits: 0,
            pending_boot: 0,
            secrets_version: a.version,
            events: Vec::new(),
            reads_before_checks: 0,
            pending_reads: 0,
            checks_after_ms: 0,
            results_at_ms: 0,
            sick: None,
            reported_passing: false,
        });
    }

    /// Sets a secret directly (as if someone ran `fly secrets set`).
    pub fn set(&mut self, app: &str, name: &str, value: &str) {
        let a = self.apps.get_mut(app).expect("app exists");
        a.store(name, value);
        a.version += 1;
    }

    /// Makes `app` a legacy app: MD5 digests, for what it holds and what it gets.
    pub fn set_legacy(&mut self, app: &str) {
        let a = self.apps.get_mut(app).expect("app exists");
        a.legacy_md5 = true;
        let values: Vec<(String, String)> = a.secrets.iter().map(|(k, (_, v))| (k.clone(), v.clone())).collect();
        let set_at = a.set_at.clone();
        for (k, v) in values {
            a.store(&k, &v);
        }
        a.set_at = set_at;
    }

    /// Machine updates made so far, over all machines of `app`.
    pub fn updates(&self, app: &str) -> usize {
        self.apps.get(app).map(|a| a.machines.iter().map(|m| m.updates.len()).sum()).unwrap_or(0)
    }

    /// Leases held on machines of `app`.
    pub fn leases(&self, app: &str) -> usize {
        self.apps.get(app).map(|a| a.machines.iter().filter(|m| m.lease.is_some()).count()).unwrap_or(0)
    }

    pub fn machine(&self, app: &str, id: &str) -> &Machine {
        self.apps[app].machines.iter().find(|m| m.id == id).expect("machine exists")
    }
}

fn random_key() -> [u8; 16] {
    use std::hash::{BuildHasher, Hasher};
    let mut out = [0u8; 16];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

/// flaps errors: status ≥ 300, `{"error": …}`, request id in `fly-request-id`
/// (fly-go flaps/flaps.go, `handleAPIError`, `headerFlyRequestId`).
fn err(code: u16, msg: &str) -> Reply {
    Reply::json(code, json!({ "error": msg })).with_header("fly-request-id", "emu-fly-req")
}

pub fn route(st: &mut State, r: &Req) -> Option<Reply> {
    let fly = &mut st.fly;
    // Sources: fly-go wins where it and superfly/docs disagree, since flyctl
    // sends what fly-go builds; the docs settle what fly-go leaves open
    // (error statuses and bodies it does not read).
    // fly-go resource_secrets.go (GraphQL secrets) and resource_user.go.
    if r.path == "/graphql" {
        return Some(graphql(fly, r));
    }
    let rest = r.path.strip_prefix("/v1/apps/")?;
    // fly-go auth.go / tokens/tokens.go (the scheme per token kind); a 401
    // is fly-go error.go `IsNotAuthenticatedError`.
    if !authorized(fly, r) {
        return Some(err(401, "unauthorized"));
    }
    let parts: Vec<String> = rest.split('/').map(super::percent_decode).collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let app_name = parts[0];
    // A token without access to the app: 403 with flaps' error body (fly-go
    // flaps/flaps.go `handleAPIError`; the wording is UNCONFIRMED).
    if fly.forbidden.contains(app_name) {
        return Some(err(403, "forbidden"));
    }
    fly.next += 1;
    let next = fly.next;
    let Some(app) = fly.apps.get_mut(app_name) else { return Some(err(404, "app not found")) };
    Some(match (r.method, &parts[1..]) {
        // fly-go flaps/flaps_apps.go (GetApp).
        ("GET", []) => Reply::json(200, json!({ "name": app_name, "status": "deployed" })),
        // fly-go flaps/flaps_secrets.go (ListAppSecrets, `?version=` = the
        // least secrets version to read, flyctl internal/appsecrets/secrets.go
        // `List`); fly-go secrets_types.go (`ListAppSecretsResp`, `AppSecret`).
        ("GET", ["secrets"]) => {
            let asked = r.query_param("version").and_then(|v| v.parse::<u64>().ok());
            if asked.is_some_and(|v| v > app.version) {
                return Some(err(400, "secrets version not yet available"));
            }
            match app.stale.take() {
                Some((n, old)) if asked != Some(app.version) => {
                    app.stale = (n > 1).then(|| (n - 1, old.clone()));
                    Reply::json(200, old)
                }
                kept => {
                    app.stale = kept;
                    Reply::json(200, app.listing())
                }
            }
        }
        // fly-go flaps/flaps_secrets.go (UpdateAppSecrets: `{"values": {name: value | null}}`,
        // null unsets) → secrets_types.go `UpdateAppSecretsResp` `{secrets, version}`.
        ("POST", ["secrets"]) => {
            let Ok(body) = serde_json::from_slice::<Json>(r.body) else { return Some(err(400, "invalid JSON")) };
            let Some(values) = body["values"].as_object() else { return Some(err(400, "values is required")) };
            if values.values().any(|v| !v.is_null() && !v.is_string()) {
                return Some(err(400, "values must be strings or null"));
            }
            app.stale = (app.stale_reads > 0).then(|| (app.stale_reads, app.listing()));
            for (k, v) in values {
                match v.as_str() {
                    None => {
                        app.secrets.remove(k);
                    }
                    Some(s) => app.store(k, s),
                }
            }
            app.version += 1;
            let digests = app.answer_digests;
            let secrets: Vec<Json> =
                app.secrets.iter().map(|(n, (d, _))| secret_json(n, digests.then_some(d.as_str()))).collect();
            Reply::json(200, json!({ "secrets": secrets, "version": app.version }))
        }
        // fly-go flaps/flaps_secrets.go (DeleteAppSecret) → `{version}`.
        ("DELETE", ["secrets", name]) => {
            app.secrets.remove(*name);
            app.version += 1;
            Reply::json(200, json!({ "version": app.version }))
        }
        // fly-go flaps/flaps_machines.go (List): every machine, destroyed too;
        // clients filter (ListFlyAppsMachines).
        ("GET", ["machines"]) => {
            let now = now_ms(fly.starts);
            Reply::json(200, Json::Array(app.machines.iter().map(|m| machine_json(m, now)).collect()))
        }
        // One machine's routes (fly-go flaps/flaps_machines.go), each cited
        // in `machine`; an unknown machine is flaps' 404.
        (method, ["machines", id, rest @ ..]) => {
            let version = app.version;
            let script = Script {
                sick: app.sick_when.as_ref().filter(|(k, v, _)| app.holds(k, v)).map(|(_, _, o)| o.clone()),
                crash: app.crash_when.as_ref().is_some_and(|(k, v)| app.holds(k, v)),
            };
            let Some(m) = app.machines.iter_mut().find(|m| m.id == *id) else {
                return Some(err(404, "machine not found"));
            };
            let now_ms = now_ms(fly.starts);
            machine(m, method, rest, r, next, version, &script, now_ms, &mut fly.journal)
        }
        _ => err(404, "not found"),
    })
}

fn secret_json(name: &str, digest: Option<&str>) -> Json {
    let mut s = json!({ "name": name, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z" });
    if let Some(d) = digest {
        s["digest"] = json!(d);
    }
    s
}

fn lease_json(m: &Machine, l: &Lease) -> Json {
    json!({ "status": "success", "data": {
        "nonce": l.nonce, "expires_at": 1_900_000_000, "owner": "ci@example.com",
        "description": l.description, "version": format!("lease-{}", m.id) } })
}

fn now_ms(starts: Starts) -> i64 {
    match starts {
        Starts::LongAgo => 0,
        Starts::At(t) => t,
        Starts::Real => real_ms(),
    }
}

fn real_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[allow(clippy::too_many_arguments)]
fn machine(
    m: &mut Machine,
    method: &str,
    rest: &[&str],
    r: &Req,
    next: u64,
    version: u64,
    script: &Script,
    now_ms: i64,
    journal: &mut Vec<String>,
) -> Reply {
    let nonce = r.header("fly-machine-lease-nonce");
    match (method, rest) {
        // superfly/docs machines/api/machines-resource ("Create a Machine
        // lease": body `{description, ttl}`, 201, 409 while another holds it,
        // reference/machines/_lease_resp.erb for both bodies); fly-go
        // flaps/flaps_machines.go (AcquireLease, `?ttl=`), machine_types.go
        // (`MachineLease`).
        ("POST", ["lease"]) => {
            if m.lease.is_some() {
                return Reply::json(
                    409,
                    json!({ "status": "error", "message": format!("machine ID {} lease currently held by ci@example.com", m.id), "code": "invalid" }),
                );
            }
            let body: Json = serde_json::from_slice(r.body).unwrap_or(Json::Null);
            let lease = Lease {
                nonce: format!("nonce-{next}"),
                description: body["description"].as_str().unwrap_or_default().to_string(),
            };
            let reply = Reply::json(201, lease_json(m, &lease));
            m.lease = Some(lease);
            reply
        }
        // superfly/docs machines-resource ("Get a Machine lease": 200, 404);
        // fly-go flaps/flaps_machines.go (FindLease). The docs say the nonce
        // comes from "the create or get lease response".
        ("GET", ["lease"]) => match &m.lease {
            Some(l) => Reply::json(200, lease_json(m, l)),
            None => err(404, "lease not found"),
        },
        // superfly/docs machines-resource ("Release a Machine lease": the
        // nonce header is required; 200, 400); fly-go ReleaseLease.
        ("DELETE", ["lease"]) => {
            if m.lease.as_ref().map(|l| l.nonce.as_str()) != nonce {
                return err(400, "lease nonce does not match");
            }
            m.lease = None;
            Reply::json(200, json!({ "ok": true }))
        }
        // fly-go flaps/flaps_machines.go (Update, nonce header) with
        // machine_types.go `LaunchMachineInput` (`config`, `skip_launch`,
        // `min_secrets_version`); the answer is the machine with a new
        // `instance_id` (superfly/docs machines-resource: "Every Update
        // request potentially changes the instance_id"). `skip_launch`
        // leaves a stopped or suspended machine as it is (flyctl
        // internal/command/deploy/machines_launchinput.go, shouldSkipLaunch).
        ("POST", []) => {
            if matches!(m.state.as_str(), "destroyed" | "destroying") {
                return err(400, "machine is destroyed");
            }
            if m.lease.is_none() || m.lease.as_ref().map(|l| l.nonce.as_str()) != nonce {
                return err(412, "lease is required to update this machine");
            }
            let Ok(body) = serde_json::from_slice::<Json>(r.body) else { return err(400, "invalid JSON") };
            let min = body["min_secrets_version"].as_u64();
            if min.is_some_and(|v| v > version) {
                return err(412, &format!("min_secrets_version {} is not yet available on this app", min.unwrap_or(0)));
            }
            if body["config"] != m.config {
                return err(400, "the config changed: secret-sync must send the machine's current config");
            }
            let skip_launch = body["skip_launch"].as_bool().unwrap_or(false);
            m.updates.push(Update { min_secrets_version: min, skip_launch });
            m.instance_id = format!("inst-{}-{next}", m.id);
            // The Machine boots with the app's secrets as they are now.
            m.secrets_version = version;
            journal.push(format!("update {}", m.id));
            if !skip_launch {
                m.state = "started".into();
                m.pending_boot = m.boot_waits;
                m.pending_reads = m.reads_before_checks;
                m.results_at_ms = now_ms + m.checks_after_ms;
                m.reported_passing = false;
                m.sick = script.sick.clone();
                // fly-go `MachineEvent`: newest first, `timestamp` in ms.
                let mut fresh = vec![
                    json!({ "type": "start", "status": "started", "source": "flyd", "timestamp": now_ms }),
                    json!({ "type": "launch", "status": "created", "source": "user", "timestamp": now_ms }),
                ];
                if script.crash {
                    // flyctl `isConstantlyRestarting` reads exactly these fields.
                    fresh.insert(
                        0,
                        json!({ "type": "exit", "status": "stopped", "source": "flyd", "timestamp": now_ms,
                        "request": { "exit_event": { "exit_code": 1, "restarting": true, "requested_stop": false,
                            "exited_at": "2026-01-01T00:00:00Z" }, "restart_count": 2 } }),
                    );
                }
                fresh.append(&mut m.events);
                m.events = fresh;
            }
            Reply::json(200, machine_json(m, now_ms))
        }
        // fly-go flaps/flaps_machines_wait.go (Wait: `state`, `timeout` in
        // seconds, capped at 60 by the proxy, `proxyTimeoutThreshold`);
        // superfly/docs machines-resource ("Wait for a Machine": `instance_id`,
        // 200, 400, 408 when the timeout expires first). A wait here answers
        // at once: 408 while the machine is not (yet) in the state.
        ("GET", ["wait"]) => {
            if r.query_param("instance_id").is_some_and(|i| i != m.instance_id) {
                return err(400, "instance_id does not match");
            }
            let timeout = r.query_param("timeout").and_then(|t| t.parse::<u64>().ok()).unwrap_or(60);
            if timeout > 60 {
                // Stricter than Fly (whose proxy would cut the request at
                // 60 s): a client that asks for more is wrong either way.
                return err(400, "timeout above the 60 s the proxy allows");
            }
            let want = r.query_param("state").unwrap_or_else(|| "started".into());
            if m.state != want {
                return err(408, "timed out waiting for machine state");
            }
            if m.pending_boot > 0 {
                m.pending_boot -= 1;
                return err(408, "timed out waiting for machine state");
            }
            Reply::json(200, json!({ "ok": true }))
        }
        // fly-go flaps/flaps_machines.go (Get): flyctl's smoke check reads
        // `events` and its health wait `checks` (internal/machine/
        // leasable_machine.go). Scripted: `reads_before_checks` reads with
        // no result after an update, then each configured check's result.
        ("GET", []) => {
            let reply = Reply::json(200, machine_json(m, now_ms));
            if m.pending_reads > 0 {
                m.pending_reads -= 1;
            } else if !m.reported_passing && !m.check_results(now_ms).is_empty() {
                m.reported_passing = true;
                journal.push(format!("{} {}", if m.sick.is_some() { "critical" } else { "passing" }, m.id));
            }
            reply
        }
        _ => err(404, "not found"),
    }
}

/// fly-go machine_types.go `Machine`: the fields flyctl reads.
fn machine_json(m: &Machine, now_ms: i64) -> Json {
    json!({ "id": m.id, "state": m.state, "region": "iad", "instance_id": m.instance_id, "config": m.config,
        "events": m.events, "checks": m.check_results(now_ms) })
}

/// What an update brings, by the app's script and its secrets now.
struct Script {
    sick: Option<String>,
    crash: bool,
}

/// fly-go's rule (auth.go, tokens/tokens.go): macaroons go with
/// `FlyV1`, others with `Bearer`.
fn authorized(fly: &Fly, r: &Req) -> bool {
    let h = r.header("authorization").unwrap_or_default();
    let token = h.strip_prefix("FlyV1 ").or_else(|| h.strip_prefix("Bearer ")).unwrap_or_default();
    let macaroon = ["fm1r_", "fm1a_", "fm2_"].iter().any(|p| token.starts_with(p));
    fly.tokens.contains(token) && (macaroon == h.starts_with("FlyV1 "))
}

/// The GraphQL secrets routes (fly-go resource_secrets.go), kept so older
/// clients still find them. The digest is the same opaque one.
fn graphql(fly: &mut Fly, r: &Req) -> Reply {
    if !authorized(fly, r) {
        // UNCONFIRMED: the status and wording Fly uses for a bad token here.
        return Reply::json(401, json!({ "errors": [{ "message": "You must be authenticated to view this." }] }));
    }
    let Ok(body) = serde_json::from_slice::<Json>(r.body) else {
        return Reply::json(400, json!({ "errors": [{ "message": "invalid JSON" }] }));
    };
    let query = body["query"].as_str().unwrap_or_default();
    let vars = &body["variables"];
    let not_found = || {
        Reply::json(
            200,
            json!({ "data": { "app": null }, "errors": [{ "message": "Could not find App", "path": ["app"], "extensions": { "code": "NOT_FOUND" } }] }),
        )
    };
    if query.contains("setSecrets") || query.contains("unsetSecrets") {
        let input = &vars["input"];
        let app_name = input["appId"].as_str().unwrap_or_default();
        let Some(app) = fly.apps.get_mut(app_name) else { return not_found() };
        if query.contains("unsetSecrets") {
            for k in input["keys"].as_array().into_iter().flatten().filter_map(Json::as_str) {
                app.secrets.remove(k);
            }
        } else {
            for s in input["secrets"].as_array().into_iter().flatten() {
                let (Some(k), Some(v)) = (s["key"].as_str(), s["value"].as_str()) else { continue };
                app.store(k, v);
            }
        }
        app.version += 1;
        let field = if query.contains("unsetSecrets") { "unsetSecrets" } else { "setSecrets" };
        return Reply::json(
            200,
            json!({ "data": { field: { "release": { "id": format!("rel-{}", app.version), "version": app.version } } } }),
        );
    }
    let app_name = vars["appName"].as_str().unwrap_or_default();
    if fly.forbidden.contains(app_name) {
        // UNCONFIRMED wording, see the module comment.
        return Reply::json(
            200,
            json!({ "data": { "app": null }, "errors": [{ "message": "Not authorized to access this app", "path": ["app"], "extensions": { "code": "UNAUTHORIZED" } }] }),
        );
    }
    let Some(app) = fly.apps.get(app_name) else { return not_found() };
    let secrets: Vec<Json> = app
        .secrets
        .iter()
        .map(|(n, (d, _))| json!({ "name": n, "digest": d, "createdAt": "2026-01-01T00:00:00Z" }))
        .collect();
    Reply::json(200, json!({ "data": { "app": { "secrets": secrets } } }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_opaque_per_app_and_stable_per_value() {
        let (a, b) = (App::default(), App::default());
        assert_eq!(a.digest("v").len(), 16);
        assert_eq!(a.digest("v"), a.digest("v"), "same value, same app: same digest");
        assert_ne!(a.digest("v"), a.digest("w"));
        assert_ne!(a.digest("v"), b.digest("v"), "another app's key");
        assert_ne!(&format!("{:x}", md5::compute("v"))[..16], a.digest("v"));
        let legacy = App { legacy_md5: true, ..App::default() };
        assert_eq!(legacy.digest("romance"), "b9e37b7b239ee4aefc75352fe3fa6dc6");
    }
}
