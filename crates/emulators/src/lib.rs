//! Emulators of the services secret-sync talks to, on
//! 127.0.0.1: one HTTP server hosts them all, each under the paths its real
//! API uses (so every client only needs its base URL pointed here). They are
//! stateful, follow `docs/service-facts.md` (paths, status codes, error
//! bodies, ETags, revisions), log every request for exact request counts, and
//! take injected faults. Used by the tests and by `secret-sync demo`.

pub mod esc;
pub mod fly;
pub mod github;
pub mod kubernetes;
pub mod probes;
pub mod results;
pub mod vercel;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};

/// One request as the emulator saw it (no bodies or headers are kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// When it arrived (for rate checks: requests per action per second).
    pub at: std::time::Instant,
    pub method: String,
    pub path: String,
    /// Its arrival and its answer in the order of all the emulator's
    /// events: two requests overlapped when one arrived before the other's
    /// answer (`end_seq` is `None` until it is answered).
    pub seq: u64,
    pub end_seq: Option<u64>,
    /// When it was answered.
    pub ended: Option<std::time::Instant>,
    /// The test clock ([`State::clock_ms`]) at its arrival and its answer.
    pub clock_ms: u64,
    pub end_clock_ms: Option<u64>,
}

/// Something to do instead of (or after) answering normally.
pub enum FaultKind {
    /// Answer with this status and an error body.
    Status { code: u16, retry_after: Option<u64> },
    /// Wait this long before answering normally (a client timeout).
    Delay(Duration),
    /// Answer normally, then change the state (another writer's edit).
    After(Box<dyn FnMut(&mut State) + Send>),
    /// Apply the request, then close the connection without answering: the
    /// client cannot tell whether it took effect (a lost answer).
    Lost,
    /// A GitHub rate-limit answer (see [`github::RateLimit`]).
    GitHubLimit(github::RateLimit),
    /// A Vercel rate-limit answer (see [`vercel::RateLimit`]).
    VercelLimit(vercel::RateLimit),
}

pub struct Fault {
    /// Matching requests let through before the fault applies.
    pub skip: usize,
    pub method: &'static str,
    /// The fault applies to paths containing this (or equal to it, with `exact`).
    pub path_contains: String,
    pub exact: bool,
    /// How many matching requests it affects.
    pub times: usize,
    pub kind: FaultKind,
}

impl Fault {
    /// A fault on requests whose path contains `path`.
    pub fn on(method: &'static str, path: impl Into<String>, times: usize, kind: FaultKind) -> Fault {
        Fault { skip: 0, method, path_contains: path.into(), exact: false, times, kind }
    }

    /// Only after `n` matching requests went through (the `n + 1`th is the first hit).
    pub fn after(mut self, n: usize) -> Fault {
        self.skip = n;
        self
    }

    /// Only requests whose path is exactly the given one.
    pub fn exact(mut self) -> Fault {
        self.exact = true;
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.times > 0
            && self.method == method
            && if self.exact { path == self.path_contains } else { path.contains(&self.path_contains) }
    }
}

/// The state of every emulated service.
pub struct State {
    pub log: Vec<Logged>,
    pub faults: Vec<Fault>,
    /// Added to every request before it is answered (a network round trip,
    /// for the scale benchmark); served outside the lock, so requests wait
    /// side by side as they would on the wire.
    pub latency: Duration,
    pub esc: esc::Esc,
    pub fly: fly::Fly,
    pub github: github::GitHub,
    pub kubernetes: kubernetes::Kubernetes,
    pub results: results::Results,
    pub vercel: vercel::Vercel,
    pub probes: probes::Probes,
    /// The test clock, in ms since the epoch: it moves only when a client
    /// sleeps on it (`POST /_clock?until=MS`) or the test moves it; clients
    /// read it with `GET /_clock`. Requests are logged at its time.
    pub clock_ms: u64,
    /// The order of arrivals and answers (see [`Logged::seq`]).
    events: u64,
}

impl Default for State {
    fn default() -> Self {
        State {
            log: Vec::new(),
            faults: Vec::new(),
            latency: Duration::ZERO,
            esc: Default::default(),
            fly: Default::default(),
            github: Default::default(),
            kubernetes: Default::default(),
            results: Default::default(),
            vercel: Default::default(),
            probes: Default::default(),
            clock_ms: CLOCK_START_MS,
            events: 0,
        }
    }
}

/// Where the test clock starts: 2026-11-23T11:40:00Z, the GitHub emulator's `now`.
pub const CLOCK_START_MS: u64 = 1_795_088_400_000;

impl State {
    fn event(&mut self) -> u64 {
        self.events += 1;
        self.events
    }
}

/// A running emulator. Dropping it stops the server.
pub struct Emulator {
    pub url: String,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, v: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: v.to_string().into_bytes(),
        }
    }

    pub fn with_header(mut self, k: &str, v: impl Into<String>) -> Reply {
        self.headers.push((k.to_string(), v.into()));
        self
    }
}

/// A request as the services see it.
pub struct Req<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a hyper::HeaderMap,
    pub body: &'a [u8],
}

impl Req<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == name).then(|| percent_decode(v))
        })
    }
}

impl Emulator {
    /// Starts the server on 127.0.0.1 (a free port) in its own thread.
    pub fn start() -> Emulator {
        Emulator::start_on("127.0.0.1:0".parse().expect("valid address"))
    }

    pub fn start_on(addr: SocketAddr) -> Emulator {
        let state = Arc::new(Mutex::new(State::default()));
        let (tx_addr, rx_addr) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("emulator runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(addr).await.expect("emulator binds");
                tx_addr.send(listener.local_addr().expect("bound address")).expect("address sent");
                let mut stopped = stopped;
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let st = st.clone();
                            tokio::spawn(async move {
                                let svc = hyper::service::service_fn(move |req| handle(st.clone(), req));
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                                    .await;
                            });
                        }
                    }
                }
            });
        });
        let bound = rx_addr.recv().expect("emulator started");
        Emulator { url: format!("http://{bound}"), state, stop: Some(stop), thread: Some(thread) }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every request waits `d` before it is answered (see [`State::latency`]).
    pub fn set_latency(&self, d: Duration) {
        self.state().latency = d;
    }

    pub fn fault(&self, f: Fault) {
        self.state().faults.push(f);
    }

    /// Requests whose method matches and whose path contains `path`.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.state().log.iter().filter(|l| l.method == method && l.path.contains(path)).count()
    }

    /// Requests with exactly this method and path.
    pub fn count_exact(&self, method: &str, path: &str) -> usize {
        self.state().log.iter().filter(|l| l.method == method && l.path == path).count()
    }

    /// The test clock's time (ms since the epoch).
    pub fn clock_ms(&self) -> u64 {
        self.state().clock_ms
    }

    pub fn clear_log(&self) {
        self.state().log.clear();
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state().log.clone()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What an injected fault answers instead of the service.
enum Injected {
    Status(u16, Option<u64>),
    Limit(github::RateLimit),
    VercelLimit(vercel::RateLimit),
}

/// The test clock: `GET` reads it, `POST ?until=MS` moves it forward to MS
/// (never back); both answer its time in ms since the epoch.
fn clock(state: &Mutex<State>, method: &str, query: &str) -> Response<Full<Bytes>> {
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    if method == "POST" {
        let until = query.split('&').find_map(|kv| kv.strip_prefix("until=")).and_then(|v| v.parse::<u64>().ok());
        if let Some(t) = until {
            st.clock_ms = st.clock_ms.max(t);
        }
    }
    Response::new(Full::new(Bytes::from(st.clock_ms.to_string())))
}

/// The answer a [`FaultKind::Lost`] fault withholds.
#[derive(Debug)]
struct LostAnswer;

impl std::fmt::Display for LostAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("answer dropped by an injected fault")
    }
}

impl std::error::Error for LostAnswer {}

async fn handle(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, LostAnswer> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let headers = req.headers().clone();
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();

    if path == "/_clock" {
        return Ok(clock(&state, &method, &query));
    }
    // Faults are decided under the lock, delays are served outside it.
    let (seq, latency, (fault, delay, after, lost)) = {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        let seq = st.event();
        let clock_ms = st.clock_ms;
        st.log.push(Logged {
            at: std::time::Instant::now(),
            method: method.clone(),
            path: path.clone(),
            seq,
            end_seq: None,
            ended: None,
            clock_ms,
            end_clock_ms: None,
        });
        let idx = match st.faults.iter().position(|f| f.matches(&method, &path)) {
            Some(i) if st.faults[i].skip > 0 => {
                st.faults[i].skip -= 1;
                None
            }
            other => other,
        };
        let decided = match idx {
            None => (None, None, None, false),
            Some(i) => {
                st.faults[i].times -= 1;
                match &mut st.faults[i].kind {
                    FaultKind::Status { code, retry_after } => {
                        (Some(Injected::Status(*code, *retry_after)), None, None, false)
                    }
                    FaultKind::GitHubLimit(l) => (Some(Injected::Limit(l.clone())), None, None, false),
                    FaultKind::VercelLimit(l) => (Some(Injected::VercelLimit(l.clone())), None, None, false),
                    FaultKind::Delay(d) => (None, Some(*d), None, false),
                    FaultKind::After(_) => (None, None, Some(i), false),
                    FaultKind::Lost => (None, None, None, true),
                }
            }
        };
        (seq, st.latency, decided)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let reply = match fault {
        Some(Injected::Status(code, retry_after)) => {
            let mut r = fault_reply(&path, code);
            if let Some(s) = retry_after {
                r = r.with_header("Retry-After", s.to_string());
            }
            r
        }
        Some(Injected::Limit(l)) => {
            let now = state.lock().unwrap_or_else(|p| p.into_inner()).clock_ms;
            github::rate_limit_reply(&l, now)
        }
        Some(Injected::VercelLimit(l)) => {
            let now = state.lock().unwrap_or_else(|p| p.into_inner()).clock_ms;
            vercel::rate_limit_reply(&l, now)
        }
        None => {
            let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
            let r = Req { method: &method, path: &path, query: &query, headers: &headers, body: &body };
            let reply = route(&mut st, &r);
            if let Some(i) = after {
                if let FaultKind::After(mut f) =
                    std::mem::replace(&mut st.faults[i].kind, FaultKind::Delay(Duration::ZERO))
                {
                    f(&mut st);
                    st.faults[i].kind = FaultKind::After(f);
                }
            }
            reply
        }
    };
    {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        let end = st.event();
        let clock_ms = st.clock_ms;
        if let Some(l) = st.log.iter_mut().rev().find(|l| l.seq == seq) {
            l.end_seq = Some(end);
            l.ended = Some(std::time::Instant::now());
            l.end_clock_ms = Some(clock_ms);
        }
    }
    if lost {
        // An error from the service makes hyper close the connection unanswered.
        return Err(LostAnswer);
    }
    let mut resp = Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        resp = resp.header(k, v);
    }
    Ok(resp.body(Full::new(Bytes::from(reply.body))).expect("valid response"))
}

/// The error body each service uses for an injected status.
fn fault_reply(path: &str, code: u16) -> Reply {
    if path.starts_with("/api/v1/") || path.starts_with("/apis/") {
        kubernetes::status(code, "InternalError", "injected fault", serde_json::Value::Null)
    } else if path.starts_with("/api/") {
        esc::error(code, "injected fault").with_header("X-Pulumi-Request-ID", "emu-fault")
    } else if path == "/graphql" {
        Reply::json(code, serde_json::json!({ "errors": [{ "message": "injected fault" }] }))
    } else if path.starts_with("/orgs/") || path.starts_with("/repos/") {
        let msg = if code == 403 {
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
        } else {
            "injected fault"
        };
        Reply::json(code, serde_json::json!({ "message": msg, "documentation_url": "https://docs.github.com/rest" }))
    } else if vercel::owns(path) {
        vercel::fault_reply(code)
    } else if path.starts_with("/v1/") {
        Reply::json(code, serde_json::json!({ "error": "injected fault" })).with_header("fly-request-id", "emu-fault")
    } else {
        Reply::json(code, serde_json::json!({ "error": "injected fault" }))
    }
}

fn route(st: &mut State, r: &Req) -> Reply {
    // Before ESC: Kubernetes owns `/api`, `/api/v1…` and `/apis…`; ESC's
    // paths are all under `/api/` with other second segments.
    if let Some(reply) = kubernetes::route(st, r) {
        return reply;
    }
    if let Some(reply) = esc::route(st, r) {
        return reply;
    }
    if let Some(reply) = vercel::route(st, r) {
        return reply;
    }
    if let Some(reply) = fly::route(st, r) {
        return reply;
    }
    if let Some(reply) = github::route(st, r) {
        return reply;
    }
    if let Some(reply) = results::route(st, r) {
        return reply;
    }
    if let Some(reply) = probes::route(st, r) {
        return reply;
    }
    Reply::json(404, serde_json::json!({ "code": 404, "message": "Not Found" }))
}

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Standard base64 with padding, as GitHub's public keys and sealed values
/// are written.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Standard base64, padded or not; `None` when it is not base64.
pub fn unb64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};

    /// The latency is served on every request, whatever the route.
    #[test]
    fn every_request_waits_the_latency() {
        let emu = super::Emulator::start();
        emu.set_latency(Duration::from_millis(150));
        let addr = emu.url.trim_start_matches("http://").to_string();
        for path in ["/v1/apps/none/secrets", "/nowhere"] {
            let t0 = Instant::now();
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
            let mut answer = String::new();
            s.read_to_string(&mut answer).unwrap();
            assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
            assert!(t0.elapsed() >= Duration::from_millis(150), "{path} answered before the latency");
        }
        assert_eq!(emu.log().len(), 2);
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(super::percent_decode("urn%3Apulumi%3Aorg%3Aacme"), "urn:pulumi:org:acme");
    }
}
