//! GitHub's Actions secrets REST API (org, repository and environment
//! secrets: paginated lists, public keys, PUT with a sealed box that must
//! decrypt with the emulator's private key, DELETE), as `docs/service-facts.md`
//! records it, with 401/403/404 bodies in GitHub's `{"message",
//! "documentation_url"}` shape.

use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Value as Json};

use super::{Reply, Req, State};

#[derive(Debug, Clone)]
pub struct Meta {
    pub created_at: String,
    pub updated_at: String,
    pub visibility: Option<String>,
    /// The decrypted value, for secrets written through the API.
    pub value: Option<String>,
    /// Org secrets with `selected` visibility: the repositories' ids.
    pub selected: Vec<u64>,
}

pub struct GitHub {
    /// Tokens with full access.
    pub tokens: HashSet<String>,
    /// Tokens that may use repositories but not org secrets (like the job's
    /// own `GITHUB_TOKEN`): 403 on `/orgs/…`.
    pub repo_only_tokens: HashSet<String>,
    pub orgs: BTreeMap<String, BTreeMap<String, Meta>>,
    /// `owner/name` → its secrets; environments under `owner/name:env`.
    pub repos: BTreeMap<String, BTreeMap<String, Meta>>,
    /// Tokens whose job lacks `permissions: actions: read`: 403 on artifacts.
    pub no_actions_read: HashSet<String>,
    /// Time stamped on writes.
    pub now: String,
    /// Repository ids (`GET /repos/{owner}/{repo}`), given in the order
    /// repositories are added.
    pub repo_ids: BTreeMap<String, u64>,
    /// A content-creation limit enforced on secret writes (for the
    /// benchmark), and how many writes it refused.
    pub content_limit: Option<ContentLimit>,
}

/// GitHub's secondary limit on content-generating requests ("no more than
/// 80 … per minute", docs/service-facts.md, "GitHub: rate limits"): a write
/// beyond `per_window` in the last `window` (real time) gets the secondary
/// rate-limit answer.
#[derive(Debug, Clone)]
pub struct ContentLimit {
    pub per_window: usize,
    pub window: std::time::Duration,
    pub writes: std::collections::VecDeque<std::time::Instant>,
    pub refused: usize,
}

impl ContentLimit {
    pub fn new(per_window: usize, window: std::time::Duration) -> ContentLimit {
        ContentLimit { per_window, window, writes: Default::default(), refused: 0 }
    }

    /// Whether a write now passes; it is counted when it does.
    fn admit(&mut self) -> bool {
        let now = std::time::Instant::now();
        while self.writes.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            self.writes.pop_front();
        }
        if self.writes.len() >= self.per_window {
            self.refused += 1;
            return false;
        }
        self.writes.push_back(now);
        true
    }
}

pub const KEY_ID: &str = "emu-key-1";

impl Default for GitHub {
    fn default() -> Self {
        GitHub {
            tokens: HashSet::new(),
            repo_only_tokens: HashSet::new(),
            orgs: BTreeMap::new(),
            repos: BTreeMap::new(),
            no_actions_read: HashSet::new(),
            now: "2026-11-23T11:40:00Z".into(),
            repo_ids: BTreeMap::new(),
            content_limit: None,
        }
    }
}

impl GitHub {
    pub fn org_secret(&mut self, org: &str, name: &str, updated_at: &str, visibility: &str) {
        self.orgs.entry(org.into()).or_default().insert(
            name.into(),
            Meta {
                created_at: updated_at.into(),
                updated_at: updated_at.into(),
                visibility: Some(visibility.into()),
                value: None,
                selected: Vec::new(),
            },
        );
    }

    pub fn add_repo(&mut self, repo: &str) {
        self.repos.entry(repo.into()).or_default();
        let next = 1_296_269 + self.repo_ids.len() as u64;
        self.repo_ids.entry(repo.into()).or_insert(next);
    }

    /// A secret of an org's Actions (`app` "actions"), Dependabot or
    /// Codespaces secrets.
    pub fn org_app_secret(&self, org: &str, app: &str, name: &str) -> Option<&Meta> {
        self.orgs.get(&store_key(org, app))?.get(name)
    }

    /// A secret of a repository's Dependabot or Codespaces secrets.
    pub fn repo_app_secret(&self, repo: &str, app: &str, name: &str) -> Option<&Meta> {
        self.repos.get(&store_key(repo, app))?.get(name)
    }

    pub fn add_env(&mut self, repo: &str, env: &str) {
        self.repos.entry(format!("{repo}:{env}")).or_default();
    }

    pub fn repo_secret(&mut self, scope: &str, name: &str, updated_at: &str) {
        self.repos.entry(scope.into()).or_default().insert(
            name.into(),
            Meta {
                created_at: updated_at.into(),
                updated_at: updated_at.into(),
                visibility: None,
                value: None,
                selected: Vec::new(),
            },
        );
    }

    /// A secret of a repository (`owner/name`) or environment (`owner/name:env`).
    pub fn get(&self, scope: &str, name: &str) -> Option<&Meta> {
        self.repos.get(scope)?.get(name)
    }

    fn public_key(&self) -> String {
        super::b64(st_secret_key().public_key().as_bytes())
    }
}

/// A rate-limit answer, as GitHub's "Rate limits for the REST API" describes
/// it (docs/service-facts.md, "GitHub: rate limits"): a 403 or 429; a
/// primary limit carries `x-ratelimit-remaining: 0` and `x-ratelimit-reset`
/// (UTC epoch seconds); a secondary limit says so in its message, and
/// `retry-after` "might be present".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    pub status: u16,
    /// Seconds, in `retry-after`.
    pub retry_after: Option<u64>,
    /// `x-ratelimit-remaining: 0` and a reset this many seconds after the
    /// test clock's time (rounded up to a whole second).
    pub reset_in: Option<u64>,
    /// The primary limit's message rather than the secondary's.
    pub primary: bool,
}

impl RateLimit {
    /// A secondary limit: 403, its message, and `retry-after` if given.
    pub fn secondary(retry_after: Option<u64>) -> RateLimit {
        RateLimit { status: 403, retry_after, reset_in: None, primary: false }
    }

    /// The primary limit used up: 403, remaining 0, reset `secs` ahead.
    pub fn primary(reset_in: u64) -> RateLimit {
        RateLimit { status: 403, retry_after: None, reset_in: Some(reset_in), primary: true }
    }
}

/// The answer for `l` when the test clock reads `now_ms`.
pub fn rate_limit_reply(l: &RateLimit, now_ms: u64) -> Reply {
    let (msg, doc) = if l.primary {
        (
            "API rate limit exceeded for user ID 1.",
            "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limits",
        )
    } else {
        (
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
        )
    };
    let mut r = Reply::json(l.status, json!({ "message": msg, "documentation_url": doc }))
        .with_header("x-github-request-id", "EMU0:GH0:LIMIT");
    if let Some(s) = l.retry_after {
        r = r.with_header("retry-after", s.to_string());
    }
    if let Some(ahead) = l.reset_in {
        r = r
            .with_header("x-ratelimit-limit", "5000")
            .with_header("x-ratelimit-remaining", "0")
            .with_header("x-ratelimit-used", "5000")
            .with_header("x-ratelimit-reset", (now_ms.div_ceil(1000) + ahead).to_string());
    }
    r
}

fn message(code: u16, msg: &str) -> Reply {
    Reply::json(code, json!({ "message": msg, "documentation_url": "https://docs.github.com/rest/actions/secrets" }))
        .with_header("x-github-request-id", "EMU0:GH0:1")
}

pub fn route(st: &mut State, r: &Req) -> Option<Reply> {
    let gh = &mut st.github;
    let is_org = r.path.starts_with("/orgs/");
    if !is_org && !r.path.starts_with("/repos/") {
        return None;
    }
    let token = r
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer ").or_else(|| a.strip_prefix("token ")))
        .unwrap_or_default();
    let full = gh.tokens.contains(token);
    if !full && !gh.repo_only_tokens.contains(token) {
        return Some(message(401, "Bad credentials"));
    }
    if is_org && !full {
        return Some(message(403, "Resource not accessible by integration"));
    }
    let parts: Vec<String> = r.path.split('/').skip(1).map(super::percent_decode).collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    if let ["repos", o, n, "actions", "artifacts", rest @ ..] = parts.as_slice() {
        return Some(artifacts(st, r, &format!("{o}/{n}"), rest, token));
    }
    // `GET /repos/{owner}/{repo}`: the repository, with its id (octokit
    // `repos.get`), for an org secret's selected repositories.
    if let (["repos", o, n], "GET") = (parts.as_slice(), r.method) {
        let full = format!("{o}/{n}");
        return Some(match gh.repo_ids.get(&full) {
            Some(id) => Reply::json(200, json!({ "id": id, "name": n, "full_name": full })),
            None => message(404, "Not Found"),
        });
    }
    // Resolve the scope and the rest of the path after `…/secrets`: Actions,
    // Dependabot and Codespaces secrets of an org or a repository, and
    // Actions secrets of an environment (docs/service-facts.md, "GitHub:
    // more secret destinations").
    let (scope_key, is_org_scope, rest): (String, bool, &[&str]) = match parts.as_slice() {
        ["orgs", org, app @ ("actions" | "dependabot" | "codespaces"), "secrets", rest @ ..] => {
            (store_key(org, app), true, rest)
        }
        ["repos", o, n, app @ ("actions" | "dependabot" | "codespaces"), "secrets", rest @ ..] => {
            (store_key(&format!("{o}/{n}"), app), false, rest)
        }
        ["repos", o, n, "environments", e, "secrets", rest @ ..] => (format!("{o}/{n}:{e}"), false, rest),
        _ => return Some(message(404, "Not Found")),
    };
    let now = gh.now.clone();
    let public_key = gh.public_key();
    // Dependabot and Codespaces stores exist wherever the org or repository does.
    let base = scope_key.split('#').next().unwrap_or_default().to_string();
    let map = if is_org_scope { &mut gh.orgs } else { &mut gh.repos };
    if scope_key != base && map.contains_key(&base) {
        map.entry(scope_key.clone()).or_default();
    }
    if matches!(r.method, "PUT" | "DELETE") && rest.len() == 1 {
        if let Some(limit) = gh.content_limit.as_mut() {
            if !limit.admit() {
                return Some(rate_limit_reply(&RateLimit::secondary(Some(60)), super::CLOCK_START_MS));
            }
        }
    }
    let known_ids: Vec<u64> = gh.repo_ids.values().copied().collect();
    let names: BTreeMap<u64, String> = gh.repo_ids.iter().map(|(n, i)| (*i, n.clone())).collect();
    let store = if is_org_scope { gh.orgs.get_mut(&scope_key) } else { gh.repos.get_mut(&scope_key) };
    let Some(store) = store else { return Some(message(404, "Not Found")) };
    Some(match (r.method, rest) {
        ("GET", []) => {
            let per_page: usize = r.query_param("per_page").and_then(|v| v.parse().ok()).unwrap_or(30).clamp(1, 100);
            let page: usize = r.query_param("page").and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
            let items: Vec<Json> = store
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|(n, m)| {
                    let mut v = json!({ "name": n, "created_at": m.created_at, "updated_at": m.updated_at });
                    if let Some(vis) = &m.visibility {
                        v["visibility"] = json!(vis);
                        if vis == "selected" {
                            v["selected_repositories_url"] = json!(format!("{}/{n}/repositories", r.path));
                        }
                    }
                    v
                })
                .collect();
            let mut reply = Reply::json(200, json!({ "total_count": store.len(), "secrets": items }));
            if page * per_page < store.len() {
                reply = reply
                    .with_header("link", format!("<{}?per_page={per_page}&page={}>; rel=\"next\"", r.path, page + 1));
            }
            reply
        }
        ("GET", ["public-key"]) => Reply::json(200, json!({ "key_id": KEY_ID, "key": public_key })),
        // `GET …/secrets/{name}/repositories` (org scopes): the selected
        // repositories; 409 when the visibility is not `selected` (UNCONFIRMED
        // status; secret-sync reads it only for `selected` secrets).
        ("GET", [name, "repositories"]) if is_org_scope => match store.get(*name) {
            None => message(404, "Not Found"),
            Some(m) if m.visibility.as_deref() != Some("selected") => message(409, "Conflict"),
            Some(m) => {
                let repos: Vec<Json> =
                    m.selected.iter().map(|i| json!({ "id": i, "full_name": names.get(i) })).collect();
                Reply::json(200, json!({ "total_count": repos.len(), "repositories": repos }))
            }
        },
        ("PUT", [name]) => {
            if !valid_secret_name(name) {
                return Some(message(422, "Invalid request: invalid secret name"));
            }
            let Ok(body) = serde_json::from_slice::<Json>(r.body) else {
                return Some(message(400, "Problems parsing JSON"));
            };
            if body["key_id"].as_str() != Some(KEY_ID) {
                return Some(message(422, "Invalid request: key_id does not match the public key"));
            }
            let plain = body["encrypted_value"]
                .as_str()
                .and_then(super::unb64)
                .and_then(|sealed| st_secret_key().unseal(&sealed).ok())
                .and_then(|p| String::from_utf8(p).ok());
            let Some(plain) = plain else {
                return Some(message(422, "Invalid request: encrypted_value is not a sealed box for this key"));
            };
            // Org secrets: `visibility` (all, private, selected) is required;
            // `selected_repository_ids` only with `selected` (integers for
            // Actions and Codespaces, strings in Dependabot's description).
            let mut access = None;
            if is_org_scope {
                let visibility = body["visibility"].as_str().unwrap_or_default().to_string();
                if !["all", "private", "selected"].contains(&visibility.as_str()) {
                    return Some(message(422, "Invalid request: visibility must be all, private or selected"));
                }
                let ids: Option<Vec<u64>> = match body.get("selected_repository_ids") {
                    None => Some(Vec::new()),
                    Some(v) => v
                        .as_array()
                        .map(|a| a.iter().filter_map(|i| i.as_u64().or_else(|| i.as_str()?.parse().ok())).collect()),
                };
                let Some(mut ids) = ids else { return Some(message(422, "Invalid request: selected_repository_ids")) };
                if (!ids.is_empty() && visibility != "selected") || ids.iter().any(|i| !known_ids.contains(i)) {
                    return Some(message(422, "Invalid request: selected_repository_ids"));
                }
                ids.sort_unstable();
                access = Some((visibility, ids));
            }
            let created = !store.contains_key(*name);
            let entry = store.entry(name.to_string()).or_insert(Meta {
                created_at: now.clone(),
                updated_at: now.clone(),
                visibility: None,
                value: None,
                selected: Vec::new(),
            });
            entry.updated_at = now;
            entry.value = Some(plain);
            if let Some((visibility, ids)) = access {
                entry.visibility = Some(visibility);
                entry.selected = ids;
            }
            Reply { status: if created { 201 } else { 204 }, headers: Vec::new(), body: Vec::new() }
        }
        ("DELETE", [name]) => match store.remove(*name) {
            Some(_) => Reply { status: 204, headers: Vec::new(), body: Vec::new() },
            None => message(404, "Not Found"),
        },
        _ => message(404, "Not Found"),
    })
}

/// The artifacts of a repository's runs, as the REST API shows what the
/// results service keeps (octokit/plugin-rest-endpoint-methods.js,
/// `src/generated/endpoints.ts` and `docs/actions/listArtifactsForRepo.md`,
/// `docs/actions/downloadArtifact.md`; GitHub REST docs "Artifacts").
fn artifacts(st: &mut State, r: &Req, repo: &str, rest: &[&str], token: &str) -> Reply {
    if !st.github.repos.contains_key(repo) {
        return message(404, "Not Found");
    }
    // A job token without `actions: read` (the `permissions:` block).
    if st.github.no_actions_read.contains(token) {
        return message(403, "Resource not accessible by integration");
    }
    let res = &st.results;
    let ours = res.repository.as_deref() == Some(repo);
    match (r.method, rest) {
        // `actions.listArtifactsForRepo`: GET /repos/{owner}/{repo}/actions/artifacts
        // with `name` (exact match), `per_page` (≤ 100) and `page`. The REST
        // docs promise no order: this lists oldest first, the order least
        // kind to a reader that takes the first page's first for the newest.
        // Each artifact carries `workflow_run` {id, repository_id,
        // head_repository_id, head_branch, head_sha} (GitHub REST docs
        // "Artifacts", the artifact object): a fork's pull-request run has
        // the fork's id as `head_repository_id`.
        ("GET", []) => {
            let name = r.query_param("name");
            let per_page: usize = r.query_param("per_page").and_then(|v| v.parse().ok()).unwrap_or(30).clamp(1, 100);
            let page: usize = r.query_param("page").and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
            let mut all = if ours { res.finalized(name.as_deref()) } else { Vec::new() };
            all.reverse();
            let host = r.header("host").unwrap_or("127.0.0.1");
            let items: Vec<Json> = all
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .map(|a| {
                    let id = a.id.unwrap_or_default();
                    let created = format!("2026-11-23T{:02}:{:02}:{:02}Z", 12 + id / 3600 % 12, id / 60 % 60, id % 60);
                    json!({
                        "id": id,
                        "node_id": format!("MDg6QXJ0aWZhY3Q{id}"),
                        "name": a.name,
                        "size_in_bytes": a.blob.as_ref().map(Vec::len).unwrap_or(0),
                        "url": format!("http://{host}/repos/{repo}/actions/artifacts/{id}"),
                        "archive_download_url": format!("http://{host}/repos/{repo}/actions/artifacts/{id}/zip"),
                        "expired": a.expired,
                        "created_at": created,
                        "updated_at": created,
                        "expires_at": "2027-02-21T12:00:00Z",
                        "workflow_run": {
                            "id": 7_000_000 + id,
                            "repository_id": res.repository_id,
                            "head_repository_id": res.head_repository_id(a),
                            "head_branch": "main",
                            "head_sha": "0".repeat(40),
                        },
                    })
                })
                .collect();
            Reply::json(200, json!({ "total_count": all.len(), "artifacts": items }))
        }
        // `actions.downloadArtifact`: GET …/artifacts/{artifact_id}/{archive_format};
        // only `zip` exists. 302 to the archive (a short-lived URL), 410 once expired.
        ("GET", [id, format]) => {
            let found =
                ours.then(|| res.artifacts.iter().find(|a| a.id.map(|i| i.to_string()).as_deref() == Some(*id)));
            match found.flatten() {
                None => message(404, "Not Found"),
                Some(_) if *format != "zip" => message(404, "Not Found"),
                Some(a) if a.expired => message(410, "Artifact has expired"),
                Some(a) => {
                    let host = r.header("host").unwrap_or("127.0.0.1");
                    Reply { status: 302, headers: Vec::new(), body: Vec::new() }
                        .with_header("location", format!("http://{host}/_blob/{}?sig=emulated-download", a.upload_id))
                }
            }
        }
        _ => message(404, "Not Found"),
    }
}

/// Where the emulator keeps a scope's secrets: Actions under the org or
/// `owner/name` itself, the others under `…#dependabot`, `…#codespaces`.
fn store_key(base: &str, app: &str) -> String {
    match app {
        "actions" => base.to_string(),
        other => format!("{base}#{other}"),
    }
}

/// The emulator's fixed private key (its public half is served).
fn st_secret_key() -> crypto_box::SecretKey {
    crypto_box::SecretKey::from([7u8; 32])
}

/// GitHub's rule for secret names (docs.github.com, "Using secrets in GitHub
/// Actions", naming your secrets): only alphanumerics and underscores, not
/// starting with a digit or with `GITHUB_` (case-insensitive).
fn valid_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
        && !name.to_ascii_uppercase().starts_with("GITHUB_")
}
