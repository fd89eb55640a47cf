//! The one HTTP layer every client uses: per-request timeout, retries with
//! exponential backoff and jitter on 408/429/5xx and timeouts (Retry-After
//! honoured), request ids in errors, and redaction: a request or response
//! body, a header value or a token never goes into an error or a log.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};

/// Retry and timeout settings. The defaults suit the real services; the
/// `SECRET_SYNC_HTTP_*` variables tune them (tests use short ones).
#[derive(Debug, Clone)]
pub struct Policy {
    pub timeout: Duration,
    pub retries: u32,
    pub backoff_base: Duration,
    /// Longest wait honoured from a `Retry-After` header.
    pub max_retry_after: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            timeout: Duration::from_secs(30),
            retries: 4,
            backoff_base: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl Policy {
    /// Defaults, overridden by `SECRET_SYNC_HTTP_TIMEOUT_MS`,
    /// `SECRET_SYNC_HTTP_RETRIES` and `SECRET_SYNC_HTTP_BACKOFF_MS`.
    pub fn from_env() -> Policy {
        use crate::env::{number as num, EnvVars};
        let mut p = Policy::default();
        if let Some(ms) = num(EnvVars::SECRET_SYNC_HTTP_TIMEOUT_MS) {
            p.timeout = Duration::from_millis(ms.max(1));
        }
        if let Some(n) = num(EnvVars::SECRET_SYNC_HTTP_RETRIES) {
            p.retries = n.min(10) as u32;
        }
        if let Some(ms) = num(EnvVars::SECRET_SYNC_HTTP_BACKOFF_MS) {
            p.backoff_base = Duration::from_millis(ms);
        }
        p
    }
}

/// What went wrong with a request, in words safe to show: the service, the
/// operation, the status, the service's request id. Never a body or a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// HTTP status, if a response arrived.
    pub status: Option<u16>,
    pub message: String,
    pub request_id: Option<String>,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for HttpError {}

#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    pub policy: Policy,
    /// Response headers that carry the service's request id.
    request_id_headers: &'static [&'static str],
}

impl Http {
    pub fn new(policy: Policy, request_id_headers: &'static [&'static str]) -> Http {
        Http::with_tls(reqwest::Client::builder(), policy, request_id_headers).expect("the HTTP client builds")
    }

    /// The same, from a builder that already carries TLS settings (a
    /// cluster's CA and client certificate from a kubeconfig).
    pub fn with_tls(
        builder: reqwest::ClientBuilder,
        policy: Policy,
        request_id_headers: &'static [&'static str],
    ) -> Result<Http, reqwest::Error> {
        let client =
            builder.timeout(policy.timeout).user_agent(concat!("secret-sync/", env!("CARGO_PKG_VERSION"))).build()?;
        Ok(Http { client, policy, request_id_headers })
    }

    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.client.request(method, url)
    }

    /// Sends a request built by `make` (called again for each attempt),
    /// retrying transient failures. `what` names the operation in errors
    /// ("reading ESC environment acme/app/prod"). Any status is returned to
    /// the caller once retries are done; only transport failures are errors.
    /// For reads and idempotent writes only: see [`Http::send_once`].
    pub async fn send(&self, what: &str, make: impl Fn() -> RequestBuilder) -> Result<Response, HttpError> {
        self.send_with(what, make, Replay::Idempotent).await.map_err(|u| u.error)
    }

    /// Like [`Http::send`], for a poll whose 408 means "not yet": a 408 is
    /// returned to the caller at once (its loop decides), never retried here.
    pub async fn poll(&self, what: &str, make: impl Fn() -> RequestBuilder) -> Result<Response, HttpError> {
        self.send_with(what, make, Replay::Poll).await.map_err(|u| u.error)
    }

    /// Sends a request that must not be applied twice (a lease, a machine
    /// update, a secrets write). Only what certainly never reached the
    /// service is retried: a failed connect, and a 429 (a rate limiter
    /// refuses before the request is processed). A timeout, a dropped
    /// connection, a 408 or a 5xx may have been applied: that comes back as
    /// [`Unanswered`] for the caller to re-read what is there. fly-go's
    /// flaps client likewise retries only GETs (flaps/flaps.go, `do`).
    pub async fn send_once(&self, what: &str, make: impl Fn() -> RequestBuilder) -> Result<Response, Unanswered> {
        self.send_with(what, make, Replay::Once).await
    }

    async fn send_with(
        &self,
        what: &str,
        make: impl Fn() -> RequestBuilder,
        replay: Replay,
    ) -> Result<Response, Unanswered> {
        let mut attempt = 0;
        loop {
            let result = make().send().await;
            let retry_in = match &result {
                Ok(r) if replay.retries_status(r.status()) => Some(self.wait(attempt, retry_after(r))),
                Ok(_) => None,
                Err(e) if e.is_connect() => Some(self.wait(attempt, None)),
                Err(e) if e.is_timeout() && replay != Replay::Once => Some(self.wait(attempt, None)),
                Err(_) => None,
            };
            match (retry_in, attempt < self.policy.retries) {
                (Some(wait), true) => {
                    tracing::debug!(what, attempt, wait_ms = wait.as_millis() as u64, "transient failure; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => {
                    return match result {
                        Ok(r) if replay == Replay::Once && ambiguous(r.status()) => Err(Unanswered {
                            error: self.status_error(what, &r, "the service may or may not have applied it"),
                            may_have_applied: true,
                        }),
                        Ok(r) => Ok(r),
                        Err(e) => Err(Unanswered {
                            may_have_applied: !e.is_connect(),
                            error: HttpError {
                                status: None,
                                message: format!("{what}: {}", transport_reason(&e)),
                                request_id: None,
                            },
                        }),
                    }
                }
            }
        }
    }

    /// An error for a response that is not what the caller wanted.
    pub fn status_error(&self, what: &str, r: &Response, detail: &str) -> HttpError {
        let status = r.status();
        let detail = if detail.is_empty() { String::new() } else { format!(": {detail}") };
        HttpError {
            status: Some(status.as_u16()),
            message: format!("{what}: HTTP {}{detail}", status.as_u16()),
            request_id: self.request_id(r),
        }
    }

    pub fn request_id(&self, r: &Response) -> Option<String> {
        self.request_id_of(r.headers())
    }

    /// The service's request id among `headers`.
    pub fn request_id_of(&self, headers: &reqwest::header::HeaderMap) -> Option<String> {
        self.request_id_headers
            .iter()
            .find_map(|h| headers.get(*h))
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
            .map(str::to_string)
    }

    fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        self.policy.wait(attempt, retry_after)
    }
}

impl Policy {
    /// How long to wait before retry number `attempt` (0-based): the
    /// service's `Retry-After` (capped), else exponential backoff with jitter.
    /// Every client's retry loop uses this.
    pub fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            return d.min(self.max_retry_after);
        }
        let base = self.backoff_base.saturating_mul(1 << attempt.min(10));
        // Full jitter between half and the whole of the exponential step.
        base / 2 + base.mul_f64(jitter() / 2.0)
    }
}

/// How a request may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replay {
    /// Reads and idempotent writes: retry 408, 429, 5xx and timeouts.
    Idempotent,
    /// A server-side wait: as `Idempotent`, but a 408 goes to the caller.
    Poll,
    /// Must not be applied twice: retry only a refused connect and a 429.
    Once,
}

impl Replay {
    fn retries_status(self, s: StatusCode) -> bool {
        match self {
            Replay::Idempotent => transient(s),
            Replay::Poll => s != StatusCode::REQUEST_TIMEOUT && transient(s),
            Replay::Once => s == StatusCode::TOO_MANY_REQUESTS,
        }
    }
}

/// A request that got no usable answer.
#[derive(Debug, Clone)]
pub struct Unanswered {
    pub error: HttpError,
    /// The request may have reached the service and been applied (a timeout,
    /// a dropped connection, a 408 or a 5xx), as opposed to never sent.
    pub may_have_applied: bool,
}

fn transient(s: StatusCode) -> bool {
    s == StatusCode::REQUEST_TIMEOUT || s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error()
}

/// Answers after which a non-repeatable request may or may not have taken effect.
fn ambiguous(s: StatusCode) -> bool {
    s == StatusCode::REQUEST_TIMEOUT || s.is_server_error()
}

/// `Retry-After` in seconds (the HTTP-date form is treated as absent).
fn retry_after(r: &Response) -> Option<Duration> {
    let v = r.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A number in [0, 1) that differs between calls; enough for jitter.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// A transport error in words, without the URL's query or anything the
/// underlying library might add.
pub fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else if e.is_body() || e.is_decode() {
        "the response could not be read".into()
    } else {
        "the request failed".into()
    }
}

/// Appends a path to a base URL, tolerating a trailing slash on the base.
pub fn join(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// Percent-encodes one path segment or query value: everything but RFC
/// 3986's unreserved characters.
pub fn encode(s: &str) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    const SEGMENT: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    utf8_percent_encode(s, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_and_encodes() {
        assert_eq!(join("http://h/", "/api/x"), "http://h/api/x");
        assert_eq!(encode("urn:pulumi:org:acme"), "urn%3Apulumi%3Aorg%3Aacme");
        assert_eq!(encode("a b/ü~._-"), "a%20b%2F%C3%BC~._-");
    }

    #[test]
    fn backoff_grows_and_retry_after_wins() {
        let h = Http::new(Policy { backoff_base: Duration::from_millis(100), ..Policy::default() }, &[]);
        let w0 = h.wait(0, None);
        let w3 = h.wait(3, None);
        assert!(w0 >= Duration::from_millis(50) && w0 <= Duration::from_millis(100));
        assert!(w3 >= Duration::from_millis(400) && w3 <= Duration::from_millis(800));
        assert_eq!(h.wait(0, Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert_eq!(h.wait(0, Some(Duration::from_secs(999))), Duration::from_secs(60));
    }
}
