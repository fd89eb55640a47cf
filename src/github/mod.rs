//! The GitHub REST API through octocrab: secrets metadata of an org, a
//! repository or an environment (names and timestamps: values can never be
//! read back), public keys, and secret writes.
//!
//! octocrab's own retry layer is off; retries are ours, with GitHub's rules:
//! 429 and 5xx, and 403 when it is a rate limit (`Retry-After`, or
//! `x-ratelimit-remaining: 0` with `x-ratelimit-reset`). Errors say the
//! operation and the status, never a body or the token.

pub mod inventory;

use std::time::Duration;

use octocrab::Octocrab;
use secrecy::SecretString;
use serde::Deserialize;

use crate::http::{encode, Policy};

pub const DEFAULT_API: &str = "https://api.github.com";

/// Where secrets live.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    Org(String),
    Repo(String),
    Env(String, String),
}

impl Scope {
    pub fn path(&self) -> String {
        match self {
            Scope::Org(o) => format!("/orgs/{}/actions/secrets", encode(o)),
            Scope::Repo(r) => format!("/repos/{}/actions/secrets", repo_path(r)),
            Scope::Env(r, e) => format!("/repos/{}/environments/{}/secrets", repo_path(r), encode(e)),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Scope::Org(o) => format!("org `{o}`"),
            Scope::Repo(r) => format!("repository `{r}`"),
            Scope::Env(r, e) => format!("environment `{e}` of `{r}`"),
        }
    }
}

fn repo_path(r: &str) -> String {
    let (o, n) = r.split_once('/').unwrap_or((r, ""));
    format!("{}/{}", encode(o), encode(n))
}

/// One secret's metadata.
#[derive(Debug, Clone, Deserialize)]
pub struct SecretMeta {
    pub name: String,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    /// Org secrets only: `all`, `private` or `selected`.
    #[serde(default)]
    pub visibility: Option<String>,
}

impl SecretMeta {
    pub fn updated(&self) -> Option<i64> {
        crate::util::parse_rfc3339(&self.updated_at)
    }
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    total_count: usize,
    #[serde(default)]
    secrets: Vec<SecretMeta>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PublicKey {
    pub key_id: String,
    pub key: String,
}

/// A failed GitHub call, safe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GhError {
    pub status: Option<u16>,
    pub message: String,
}

impl std::fmt::Display for GhError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub struct GitHub {
    octo: Octocrab,
    policy: Policy,
}

const PER_PAGE: usize = 100;
/// Pages of a listing read at once: reads only, well under GitHub's limit
/// of concurrent requests.
const PAGES_AT_ONCE: usize = 4;

/// One page holds everything: fewer than a full page, or all of the total.
fn first_is_last(got: usize, total: usize) -> bool {
    got < PER_PAGE || got >= total
}

impl GitHub {
    pub fn new(api_url: &str, token: &SecretString, policy: Policy) -> Result<GitHub, String> {
        let octo = Octocrab::builder()
            .base_uri(api_url.trim_end_matches('/'))
            .map_err(|_| format!("`{api_url}` is not a usable GitHub API URL"))?
            .personal_token(token.clone())
            .set_connect_timeout(Some(policy.timeout))
            .set_read_timeout(Some(policy.timeout))
            .build()
            .map_err(|_| "the GitHub client could not be set up".to_string())?;
        Ok(GitHub { octo, policy })
    }

    /// Every secret of a scope (octocrab's `get_secrets()` reads one page).
    /// The first page says how many there are; the other pages are then read
    /// a few at a time rather than one after another.
    pub async fn list(&self, scope: &Scope) -> Result<Vec<SecretMeta>, GhError> {
        use futures_util::{StreamExt, TryStreamExt};
        let first = self.page(scope, 1).await?;
        let pages = first.total_count.div_ceil(PER_PAGE).max(1);
        let mut all = first.secrets;
        if first_is_last(all.len(), first.total_count) {
            return Ok(all);
        }
        let rest: Vec<Page> = futures_util::stream::iter(2..=pages)
            .map(|n| self.page(scope, n))
            .buffered(PAGES_AT_ONCE)
            .try_collect()
            .await?;
        all.extend(rest.into_iter().flat_map(|p| p.secrets));
        Ok(all)
    }

    async fn page(&self, scope: &Scope, page: usize) -> Result<Page, GhError> {
        let what = format!("listing the secrets of {}", scope.describe());
        let path = format!("{}?per_page={PER_PAGE}&page={page}", scope.path());
        let (status, body, _) = self.send(&what, Method::Get, &path, None).await?;
        if status != 200 {
            return Err(error(&what, status));
        }
        serde_json::from_str(&body)
            .map_err(|_| GhError { status: Some(status), message: format!("{what}: unexpected response") })
    }

    pub async fn public_key(&self, scope: &Scope) -> Result<PublicKey, GhError> {
        let what = format!("reading the public key of {}", scope.describe());
        let (status, body, _) = self.send(&what, Method::Get, &format!("{}/public-key", scope.path()), None).await?;
        if status != 200 {
            return Err(error(&what, status));
        }
        serde_json::from_str(&body)
            .map_err(|_| GhError { status: Some(status), message: format!("{what}: unexpected response") })
    }

    /// Writes one secret; `Ok(true)` when it was created, `Ok(false)` when updated.
    pub async fn put(&self, scope: &Scope, name: &str, encrypted: &str, key_id: &str) -> Result<bool, GhError> {
        let what = format!("writing secret `{name}` of {}", scope.describe());
        let body = serde_json::json!({ "encrypted_value": encrypted, "key_id": key_id });
        let (status, _, _) =
            self.send(&what, Method::Put, &format!("{}/{}", scope.path(), encode(name)), Some(&body)).await?;
        match status {
            201 => Ok(true),
            204 => Ok(false),
            s => Err(error(&what, s)),
        }
    }

    pub async fn delete(&self, scope: &Scope, name: &str) -> Result<(), GhError> {
        let what = format!("deleting secret `{name}` of {}", scope.describe());
        let (status, _, _) =
            self.send(&what, Method::Delete, &format!("{}/{}", scope.path(), encode(name)), None).await?;
        match status {
            204 | 404 => Ok(()),
            s => Err(error(&what, s)),
        }
    }

    /// One call with GitHub's retry rules; returns status, body and the
    /// wait GitHub asked for (if any).
    async fn send(
        &self,
        what: &str,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, String, Option<Duration>), GhError> {
        let mut attempt = 0;
        loop {
            let sent = match (method, body) {
                (Method::Get, _) => self.octo._get(path).await,
                (Method::Put, b) => self.octo._put(path, b).await,
                (Method::Delete, b) => self.octo._delete(path, b).await,
            };
            let (status, wait, body) = match sent {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let wait = rate_limit_wait(status, r.headers());
                    let text = self.octo.body_to_string(r).await.unwrap_or_default();
                    (status, wait, text)
                }
                Err(_) if attempt < self.policy.retries => {
                    tokio::time::sleep(self.policy.wait(attempt, None)).await;
                    attempt += 1;
                    continue;
                }
                Err(_) => {
                    return Err(GhError { status: None, message: format!("{what}: could not reach the GitHub API") })
                }
            };
            let transient = status == 429 || status >= 500 || wait.is_some();
            if transient && attempt < self.policy.retries {
                let pause = self.policy.wait(attempt, wait);
                attempt += 1;
                tracing::debug!(
                    what,
                    status,
                    wait_ms = pause.as_millis() as u64,
                    "GitHub asked to slow down; retrying"
                );
                tokio::time::sleep(pause).await;
                continue;
            }
            return Ok((status, body, wait));
        }
    }
}

#[derive(Clone, Copy)]
enum Method {
    Get,
    Put,
    Delete,
}

/// GitHub's secondary rate limits come as 403 (or 429) with `Retry-After`,
/// or with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` (epoch secs).
fn rate_limit_wait(status: u16, h: &reqwest::header::HeaderMap) -> Option<Duration> {
    if status != 403 && status != 429 {
        return None;
    }
    let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
    if let Some(s) = get("retry-after") {
        return Some(Duration::from_secs(s.max(0) as u64));
    }
    if get("x-ratelimit-remaining") == Some(0) {
        let reset = get("x-ratelimit-reset")?;
        return Some(Duration::from_secs((reset - crate::util::now_secs()).clamp(1, 3600) as u64));
    }
    None
}

fn error(what: &str, status: u16) -> GhError {
    let hint = match status {
        401 => ": the GitHub token was rejected",
        403 => ": the token is not allowed to do this (org secrets need a PAT or GitHub App token with secrets read access)",
        404 => ": not found (or not visible to this token)",
        429 => ": rate-limited by GitHub (retries exhausted)",
        s if s >= 500 => ": GitHub returned a server error (retries exhausted)",
        _ => "",
    };
    GhError { status: Some(status), message: format!("{what}: HTTP {status}{hint}") }
}

/// Encrypts a value for GitHub: a libsodium sealed box to the scope's public
/// key, base64.
pub fn seal(public_key_b64: &str, value: &str) -> Result<String, String> {
    let raw = crate::util::unb64(public_key_b64).ok_or("the public key is not base64")?;
    let pk = crypto_box::PublicKey::from_slice(&raw).map_err(|_| "the public key is not 32 bytes".to_string())?;
    let sealed =
        pk.seal(&mut crypto_box::aead::OsRng, value.as_bytes()).map_err(|_| "encryption failed".to_string())?;
    Ok(crate::util::b64(&sealed))
}
