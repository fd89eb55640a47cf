//! The GitHub REST API: secrets metadata of an org, a repository or an
//! environment (names and timestamps: values can never be read back),
//! public keys, and secret writes, on the one HTTP client of
//! [`crate::http`].
//!
//! Every request goes through the token's [`Scheduler`] ([`pace`]): serial,
//! writes paced, rate-limit answers ([`limits`]) waited out as GitHub asks.
//! 5xx and failed connections are retried with the HTTP policy's backoff.
//! Errors say the operation and the status, never a body or the token.

pub mod inventory;

pub mod limits;
pub mod pace;

use std::sync::Arc;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::http::{encode, Http, HttpError, Policy};
pub use pace::{Pace, Scheduler};

pub const DEFAULT_API: &str = "https://api.github.com";

/// Where secrets live: Actions secrets of an org, a repository or an
/// environment; Dependabot or Codespaces secrets of an org or a repository
/// (docs/service-facts.md, "GitHub: more secret destinations").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    Org(String),
    Repo(String),
    Env(String, String),
    OrgApp(App, String),
    RepoApp(App, String),
}

/// Which feature's secrets: the REST path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum App {
    Actions,
    Dependabot,
    Codespaces,
}

impl App {
    pub fn segment(self) -> &'static str {
        match self {
            App::Actions => "actions",
            App::Dependabot => "dependabot",
            App::Codespaces => "codespaces",
        }
    }

    fn label(self) -> &'static str {
        match self {
            App::Actions => "Actions",
            App::Dependabot => "Dependabot",
            App::Codespaces => "Codespaces",
        }
    }
}

impl Scope {
    /// An org's secrets of `app`.
    pub fn org(app: App, org: &str) -> Scope {
        match app {
            App::Actions => Scope::Org(org.to_string()),
            a => Scope::OrgApp(a, org.to_string()),
        }
    }

    /// A repository's secrets of `app`.
    pub fn repo(app: App, repo: &str) -> Scope {
        match app {
            App::Actions => Scope::Repo(repo.to_string()),
            a => Scope::RepoApp(a, repo.to_string()),
        }
    }

    pub fn is_org(&self) -> bool {
        matches!(self, Scope::Org(_) | Scope::OrgApp(..))
    }

    pub fn path(&self) -> String {
        match self {
            Scope::Org(o) => format!("/orgs/{}/actions/secrets", encode(o)),
            Scope::Repo(r) => format!("/repos/{}/actions/secrets", repo_path(r)),
            Scope::Env(r, e) => format!("/repos/{}/environments/{}/secrets", repo_path(r), encode(e)),
            Scope::OrgApp(a, o) => format!("/orgs/{}/{}/secrets", encode(o), a.segment()),
            Scope::RepoApp(a, r) => format!("/repos/{}/{}/secrets", repo_path(r), a.segment()),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Scope::Org(o) => format!("org `{o}`"),
            Scope::Repo(r) => format!("repository `{r}`"),
            Scope::Env(r, e) => format!("environment `{e}` of `{r}`"),
            Scope::OrgApp(a, o) => format!("{} secrets of org `{o}`", a.label()),
            Scope::RepoApp(a, r) => format!("{} secrets of repository `{r}`", a.label()),
        }
    }
}

/// Which repositories see an org secret: `visibility`, and with `selected`
/// the repositories' ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub visibility: String,
    pub selected: Vec<u64>,
    /// Dependabot's REST description types the ids as strings (Actions and
    /// Codespaces as integers).
    pub ids_as_strings: bool,
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

pub struct GitHub {
    http: Http,
    base: String,
    token: SecretString,
    sched: Arc<Scheduler>,
}

const PER_PAGE: usize = 100;

/// One page holds everything: fewer than a full page, or all of the total.
fn first_is_last(got: usize, total: usize) -> bool {
    got < PER_PAGE || got >= total
}

/// An answer: status, body and GitHub's request id.
struct Answer {
    status: u16,
    body: String,
    request_id: Option<String>,
}

impl Answer {
    /// The error for an answer the caller did not want.
    fn error(&self, what: &str) -> HttpError {
        error(what, self.status, self.request_id.clone())
    }

    /// The error for a body that is not what the route documents.
    fn unexpected(&self, what: &str) -> HttpError {
        HttpError {
            status: Some(self.status),
            message: format!("{what}: unexpected response"),
            request_id: self.request_id.clone(),
        }
    }
}

impl GitHub {
    /// A client of `api_url` with `token`, its requests through `sched`
    /// (one per token for the run).
    pub fn new(api_url: &str, token: &SecretString, policy: Policy, sched: Arc<Scheduler>) -> Result<GitHub, String> {
        let base = api_url.trim_end_matches('/').to_string();
        if reqwest::Url::parse(&base).is_err() {
            return Err(format!("`{api_url}` is not a usable GitHub API URL"));
        }
        Ok(GitHub { http: Http::new(policy, &["x-github-request-id"]), base, token: token.clone(), sched })
    }

    pub fn scheduler(&self) -> &Scheduler {
        &self.sched
    }

    /// Every secret of a scope: the first page says how many there are; the
    /// others follow, one request at a time (GitHub asks for serial requests).
    pub async fn list(&self, scope: &Scope) -> Result<Vec<SecretMeta>, HttpError> {
        let first = self.page(scope, 1).await?;
        let pages = first.total_count.div_ceil(PER_PAGE).max(1);
        let mut all = first.secrets;
        if first_is_last(all.len(), first.total_count) {
            return Ok(all);
        }
        for n in 2..=pages {
            all.extend(self.page(scope, n).await?.secrets);
        }
        Ok(all)
    }

    async fn page(&self, scope: &Scope, page: usize) -> Result<Page, HttpError> {
        let what = format!("listing the secrets of {}", scope.describe());
        let path = format!("{}?per_page={PER_PAGE}&page={page}", scope.path());
        let a = self.send(&what, Method::GET, &path, None).await?;
        if a.status != 200 {
            return Err(a.error(&what));
        }
        serde_json::from_str(&a.body).map_err(|_| a.unexpected(&what))
    }

    pub async fn public_key(&self, scope: &Scope) -> Result<PublicKey, HttpError> {
        let what = format!("reading the public key of {}", scope.describe());
        let a = self.send(&what, Method::GET, &format!("{}/public-key", scope.path()), None).await?;
        if a.status != 200 {
            return Err(a.error(&what));
        }
        serde_json::from_str(&a.body).map_err(|_| a.unexpected(&what))
    }

    /// Writes one secret; `Ok(true)` when it was created, `Ok(false)` when
    /// updated. An org secret carries who sees it.
    pub async fn put(
        &self,
        scope: &Scope,
        name: &str,
        encrypted: &str,
        key_id: &str,
        access: Option<&Access>,
    ) -> Result<bool, HttpError> {
        let what = format!("writing secret `{name}` of {}", scope.describe());
        let mut body = serde_json::json!({ "encrypted_value": encrypted, "key_id": key_id });
        if let Some(a) = access {
            body["visibility"] = a.visibility.clone().into();
            if a.visibility == "selected" {
                body["selected_repository_ids"] = match a.ids_as_strings {
                    true => a.selected.iter().map(|i| i.to_string()).collect::<Vec<_>>().into(),
                    false => a.selected.clone().into(),
                };
            }
        }
        let a = self.send(&what, Method::PUT, &format!("{}/{}", scope.path(), encode(name)), Some(&body)).await?;
        match a.status {
            201 => Ok(true),
            204 => Ok(false),
            _ => Err(a.error(&what)),
        }
    }

    /// A repository's id (`GET /repos/{owner}/{repo}`), for an org secret's
    /// selected repositories.
    pub async fn repo_id(&self, repo: &str) -> Result<u64, HttpError> {
        #[derive(Deserialize)]
        struct Repo {
            id: u64,
        }
        let what = format!("reading repository `{repo}`");
        let a = self.send(&what, Method::GET, &format!("/repos/{}", repo_path(repo)), None).await?;
        if a.status != 200 {
            return Err(a.error(&what));
        }
        serde_json::from_str::<Repo>(&a.body).map(|r| r.id).map_err(|_| a.unexpected(&what))
    }

    /// The ids of the repositories an org secret with `selected` visibility
    /// is shared with (`GET …/secrets/{name}/repositories`).
    pub async fn selected(&self, scope: &Scope, name: &str) -> Result<Vec<u64>, HttpError> {
        #[derive(Deserialize)]
        struct Id {
            id: u64,
        }
        #[derive(Deserialize)]
        struct Repos {
            #[serde(default)]
            total_count: usize,
            #[serde(default)]
            repositories: Vec<Id>,
        }
        let what = format!("listing the repositories of secret `{name}` of {}", scope.describe());
        let mut ids = Vec::new();
        for page in 1.. {
            let path = format!("{}/{}/repositories?per_page={PER_PAGE}&page={page}", scope.path(), encode(name));
            let a = self.send(&what, Method::GET, &path, None).await?;
            if a.status != 200 {
                return Err(a.error(&what));
            }
            let r: Repos = serde_json::from_str(&a.body).map_err(|_| a.unexpected(&what))?;
            let got = r.repositories.len();
            ids.extend(r.repositories.into_iter().map(|i| i.id));
            if first_is_last(got, r.total_count) || ids.len() >= r.total_count {
                break;
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    pub async fn delete(&self, scope: &Scope, name: &str) -> Result<(), HttpError> {
        let what = format!("deleting secret `{name}` of {}", scope.describe());
        let a = self.send(&what, Method::DELETE, &format!("{}/{}", scope.path(), encode(name)), None).await?;
        match a.status {
            204 | 404 => Ok(()),
            _ => Err(a.error(&what)),
        }
    }

    /// One call through the token's scheduler: serial, writes paced, rate
    /// limits waited out as GitHub asks (within the run's bound), 5xx and
    /// failed connections retried with backoff. Any other status goes back
    /// to the caller.
    async fn send(
        &self,
        what: &str,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, HttpError> {
        let mutative = method != Method::GET && method != Method::HEAD;
        let mut writer = match mutative {
            true => Some(self.sched.writer().await),
            false => None,
        };
        let url = crate::http::join(&self.base, path);
        let mut attempt = 0;
        loop {
            if let Some(w) = &writer {
                self.sched.pace_write(w).await;
            }
            let slot = self.sched.slot(mutative).await.map_err(|e| limited(what, &e, None))?;
            let sent = self.request(method.clone(), &url, body).send().await;
            let answer = match sent {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let headers = r.headers().clone();
                    let text = r.text().await.unwrap_or_default();
                    Ok((status, headers, text))
                }
                Err(e) => Err(e),
            };
            let now = self.sched.now().await;
            if let Some(w) = &mut writer {
                self.sched.wrote(w).await;
            }
            drop(slot);
            let (status, headers, text) = match answer {
                Ok(a) => a,
                // A secret's PUT and DELETE are idempotent: any transport failure is retried.
                Err(_) if attempt < self.http.policy.retries => {
                    self.sched.sleep(self.http.policy.wait(attempt, None)).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => {
                    return Err(HttpError {
                        status: None,
                        message: format!("{what}: {}", crate::http::transport_reason(&e)),
                        request_id: None,
                    })
                }
            };
            if let Some(limit) = limits::classify(status, &headers, &text, now, self.sched.repeats()) {
                tracing::debug!(
                    what,
                    status,
                    wait_ms = limit.wait.as_millis() as u64,
                    why = limit.why.describe(),
                    "GitHub rate limit"
                );
                self.sched.limited(&limit, now).map_err(|e| limited(what, &e, Some(status)))?;
                continue;
            }
            self.sched.answered();
            if status >= 500 && attempt < self.http.policy.retries {
                self.sched.sleep(self.http.policy.wait(attempt, None)).await;
                attempt += 1;
                continue;
            }
            let request_id = self.http.request_id_of(&headers);
            return Ok(Answer { status, body: text, request_id });
        }
    }

    fn request(&self, method: Method, url: &str, body: Option<&serde_json::Value>) -> reqwest::RequestBuilder {
        let mut auth = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", self.token.expose_secret()))
            .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static(""));
        auth.set_sensitive(true);
        let r = self
            .http
            .request(method, url)
            .header(reqwest::header::AUTHORIZATION, auth)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION);
        match body {
            Some(b) => r.json(b),
            None => r,
        }
    }
}

/// The REST API version the routes used are documented for.
const API_VERSION: &str = "2022-11-28";

fn limited(what: &str, e: &pace::Exhausted, status: Option<u16>) -> HttpError {
    HttpError { status, message: format!("{what}: {e}"), request_id: None }
}

fn error(what: &str, status: u16, request_id: Option<String>) -> HttpError {
    let hint = match status {
        401 => ": the GitHub token was rejected",
        403 => ": the token is not allowed to do this (org secrets need a PAT or GitHub App token with secrets read access)",
        404 => ": not found (or not visible to this token)",
        429 => ": rate-limited by GitHub (retries exhausted)",
        s if s >= 500 => ": GitHub returned a server error (retries exhausted)",
        _ => "",
    };
    HttpError { status: Some(status), message: format!("{what}: HTTP {status}{hint}"), request_id }
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
