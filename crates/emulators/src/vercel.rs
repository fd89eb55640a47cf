//! Vercel: project environment variables (`/v10/projects/{p}/env`, the
//! `/v9` and `/v10` `…/env/{id}` routes, the `/v1` batch delete), the
//! project (`/v9/projects/{p}`, for its production deployment), the
//! deployments a redeploy makes and polls (`/v13/deployments`, see
//! [`deploy`]) and the token probe (`/v2/user`), as `docs/service-facts.md`
//! ("Vercel") records them from `@vercel/sdk` 1.28.35 and the `vercel` CLI
//! 64.0.2; `docs/targets/vercel-research.md` has the shapes. The official
//! SDK runs against this in CI (`tests/fidelity/vercel/`).
//!
//! Every answer carries `x-vercel-id`, the request id the CLI logs. Errors
//! are `{"error": {"code", "message", …}}`. Rate limits are injected with
//! [`crate::FaultKind::VercelLimit`].
//!
//! Unconfirmed, chosen and marked here (each right for a client that does
//! not depend on it): upsert matches a record by key, git branch, custom
//! environments and the *same* target set, and reports an overlapping
//! different target set as a `failed[]` `ENV_CONFLICT`; `sensitive` with
//! `development` is refused (400), as the 2025 docs say; the list shows
//! sensitive values as `""`; the 64 KB total is enforced when a deployment
//! builds (it ends `ERROR`), counting UTF-8 key + value bytes of the
//! variables the deployment's target gets; the wording of 403s.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::{json, Value as Json};

use super::{Reply, Req, State};

pub mod deploy;
mod write;

pub use deploy::Deployment;

/// The user every token belongs to (`GET /v2/user`).
pub const USER_ID: &str = "user_emu0000000000000000";

/// All variables of one deployment together (docs/service-facts.md "Vercel", Limits).
pub const ENV_TOTAL_LIMIT: usize = 64 * 1024;

pub struct Vercel {
    /// Accepted tokens (without `Bearer `) → the team ids each may use.
    pub tokens: BTreeMap<String, BTreeSet<String>>,
    pub teams: Vec<Team>,
    pub projects: Vec<Project>,
    /// Every deployment, seeded and created, oldest first.
    pub deployments: Vec<Deployment>,
    /// Tokens that may not read the full user: `GET /v2/user` answers
    /// `limited: true` (SDK `AuthUserLimited`).
    pub limited: BTreeSet<String>,
    /// Projects (by id) a valid token may not touch: 403 `forbidden`.
    pub forbidden: BTreeSet<String>,
    /// How long a created deployment is `QUEUED`, then `BUILDING`, on the
    /// test clock (ms).
    pub queue_ms: u64,
    pub build_ms: u64,
    /// Error messages for the next created deployments: each fails its build.
    pub failing_builds: VecDeque<String>,
    /// Items one env write may carry; more is 400 `TOO_MANY_KEYS` (the
    /// number is UNCONFIRMED; `None` = no cap).
    pub max_keys_per_request: Option<usize>,
    /// The list answers with this `pagination.next` (a cut list: UNCONFIRMED
    /// that Vercel ever cuts one; for testing a client that must not prune).
    pub list_next: Option<u64>,
    next: u64,
}

pub struct Team {
    pub id: String,
    pub slug: String,
}

pub struct Project {
    pub id: String,
    pub name: String,
    /// Owning team id; `None` = the token owner's personal account.
    pub team: Option<String>,
    pub envs: Vec<EnvVar>,
    /// The deployment serving production (`targets.production`).
    pub production: Option<String>,
}

/// One stored variable, with its value (for tests; the API never shows a
/// sensitive one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub id: String,
    pub key: String,
    pub value: String,
    /// `encrypted`, `plain`, `sensitive`, `system` (or a legacy `secret`).
    pub kind: String,
    pub target: Vec<String>,
    pub git_branch: Option<String>,
    pub custom_environment_ids: Vec<String>,
    pub comment: Option<String>,
    pub created_at: u64,
    pub updated_at: u64,
    /// Bumped on every write: the opaque "ciphertext" changes with it.
    pub revision: u64,
}

impl EnvVar {
    /// Whether a deployment of `target` (no branch) gets this variable.
    pub fn applies_to(&self, target: &str) -> bool {
        self.git_branch.is_none() && self.target.iter().any(|t| t == target)
    }
}

impl Default for Vercel {
    fn default() -> Self {
        Vercel {
            tokens: BTreeMap::new(),
            teams: Vec::new(),
            projects: Vec::new(),
            deployments: Vec::new(),
            limited: BTreeSet::new(),
            forbidden: BTreeSet::new(),
            queue_ms: 1_000,
            build_ms: 4_000,
            failing_builds: VecDeque::new(),
            max_keys_per_request: None,
            list_next: None,
            next: 0,
        }
    }
}

/// A 429 as Vercel sends it (docs `rest-api/errors`): `error.limit` in the
/// body, `Retry-After` and the `X-RateLimit-*` headers when asked for (both
/// UNCONFIRMED for the REST API, so tests cover answers with and without).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// Seconds from the test clock's time to `error.limit.reset`.
    pub reset_in: u64,
    pub retry_after: Option<u64>,
    pub headers: bool,
}

impl Vercel {
    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{:0>16}", self.next)
    }

    /// Accepts `token` for the personal account and the given team ids.
    pub fn add_token(&mut self, token: &str, teams: &[&str]) {
        self.tokens.insert(token.into(), teams.iter().map(|t| t.to_string()).collect());
    }

    pub fn add_team(&mut self, id: &str, slug: &str) {
        self.teams.push(Team { id: id.into(), slug: slug.into() });
    }

    /// Adds a project of `team` (a team id; `None` = personal account).
    pub fn add_project(&mut self, team: Option<&str>, id: &str, name: &str) {
        self.projects.push(Project {
            id: id.into(),
            name: name.into(),
            team: team.map(str::to_string),
            envs: Vec::new(),
            production: None,
        });
    }

    /// The usual fixture: `token` accepted for team `team_id` (`team_slug`),
    /// which owns project `name` (id `project_id`) with a `READY` production
    /// deployment. Returns that deployment's id.
    pub fn seed_project(
        &mut self,
        token: &str,
        team_id: &str,
        team_slug: &str,
        project_id: &str,
        name: &str,
    ) -> String {
        if !self.teams.iter().any(|t| t.id == team_id) {
            self.add_team(team_id, team_slug);
        }
        self.tokens.entry(token.into()).or_default().insert(team_id.into());
        self.add_project(Some(team_id), project_id, name);
        self.add_production(project_id)
    }

    /// Adds a `READY` production deployment to a project (by id or name),
    /// serving at once. Returns its id.
    pub fn add_production(&mut self, project: &str) -> String {
        let id = self.id("dpl_");
        let p = self.project_mut(project);
        let (pid, name) = (p.id.clone(), p.name.clone());
        p.production = Some(id.clone());
        self.deployments.push(Deployment::seeded(&id, &pid, &name));
        id
    }

    /// Stores a variable as if set in the dashboard (`kind` as the API's
    /// `type`). Returns its id.
    pub fn set_env(&mut self, project: &str, key: &str, value: &str, kind: &str, target: &[&str]) -> String {
        let id = self.id("env_");
        let p = self.project_mut(project);
        p.envs.push(EnvVar {
            id: id.clone(),
            key: key.into(),
            value: value.into(),
            kind: kind.into(),
            target: target.iter().map(|t| t.to_string()).collect(),
            git_branch: None,
            custom_environment_ids: Vec::new(),
            comment: None,
            created_at: 0,
            updated_at: 0,
            revision: 1,
        });
        id
    }

    /// A project by id or name (panics: a test's mistake).
    pub fn project(&self, id_or_name: &str) -> &Project {
        self.projects.iter().find(|p| p.id == id_or_name || p.name == id_or_name).expect("project exists")
    }

    fn project_mut(&mut self, id_or_name: &str) -> &mut Project {
        self.projects.iter_mut().find(|p| p.id == id_or_name || p.name == id_or_name).expect("project exists")
    }

    /// The stored variables of a project, values included.
    pub fn envs(&self, project: &str) -> &[EnvVar] {
        &self.project(project).envs
    }

    /// The value a deployment of `target` (no branch) would get for `key`.
    pub fn value(&self, project: &str, key: &str, target: &str) -> Option<&str> {
        self.envs(project).iter().find(|e| e.key == key && e.applies_to(target)).map(|e| e.value.as_str())
    }

    /// Deployments created through the API (not seeded) for a project, oldest first.
    pub fn created_deployments(&self, project: &str) -> Vec<&Deployment> {
        let id = &self.project(project).id;
        self.deployments.iter().filter(|d| &d.project == id && d.created_via_api).collect()
    }

    /// The next created deployment's build fails with `message`.
    pub fn fail_next_build(&mut self, message: &str) {
        self.failing_builds.push_back(message.into());
    }

    /// UTF-8 bytes of key + value of the variables a `target` deployment gets.
    pub fn env_total(&self, project: &str, target: &str) -> usize {
        self.envs(project).iter().filter(|e| e.applies_to(target)).map(|e| e.key.len() + e.value.len()).sum()
    }
}

/// An error as every Vercel route answers it (docs `rest-api/errors`).
pub fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(status, json!({ "error": { "code": code, "message": message } }))
}

/// `x-vercel-id` for a request (the CLI logs this header, `Client._fetch`).
fn request_id(n: u64) -> String {
    format!("emu1::iad1::emu{n:0>5}-1795088400000-{:0>12x}", n.wrapping_mul(0x9e37_79b9))
}

/// Whether a path is one of the Vercel routes emulated here.
pub fn owns(path: &str) -> bool {
    path == "/v2/user"
        || ["/v1/projects/", "/v9/projects/", "/v10/projects/"].iter().any(|p| path.starts_with(p))
        || ["/v6/deployments", "/v7/deployments", "/v12/deployments/", "/v13/deployments"]
            .iter()
            .any(|p| path.starts_with(p))
}

/// The answer to an injected status on a Vercel path.
pub fn fault_reply(code: u16) -> Reply {
    let c = match code {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        429 => "rate_limited",
        _ => "internal_server_error",
    };
    error(code, c, "injected fault").with_header("x-vercel-id", "emu1::iad1::fault")
}

/// docs `rest-api/errors` (the 429 body with `error.limit`); headers as in [`RateLimit`].
pub fn rate_limit_reply(l: &RateLimit, now_ms: u64) -> Reply {
    let reset = now_ms.div_ceil(1000) + l.reset_in;
    let body = json!({ "error": { "code": "rate_limited",
        "message": format!("Rate limit exceeded. Try again in {} seconds", l.reset_in),
        "limit": { "remaining": 0, "reset": reset, "resetMs": reset * 1000, "total": 100 } } });
    let mut r = Reply::json(429, body).with_header("x-vercel-id", "emu1::iad1::limit");
    if let Some(s) = l.retry_after {
        r = r.with_header("Retry-After", s.to_string());
    }
    if l.headers {
        r = r
            .with_header("x-ratelimit-limit", "100")
            .with_header("x-ratelimit-remaining", "0")
            .with_header("x-ratelimit-reset", reset.to_string());
    }
    r
}

/// The account a request acts in: a team id, or `None` for the personal account.
type Scope = Option<String>;

pub fn route(st: &mut State, r: &Req) -> Option<Reply> {
    if let Some(what) = r.path.strip_prefix("/_vercel/") {
        return Some(test_route(&mut st.vercel, what, r));
    }
    if !owns(r.path) {
        return None;
    }
    let now = st.clock_ms;
    let v = &mut st.vercel;
    v.next += 1;
    let rid = request_id(v.next);
    deploy::advance(v, now);
    Some(answer(v, r, now).with_header("x-vercel-id", rid))
}

/// Test-only routes (no Vercel API), for scripts that cannot reach [`State`]
/// (the SDK fidelity check): `POST /_vercel/seed` `{token, teamId, teamSlug,
/// projectId, name, limitedToken?}` runs [`Vercel::seed_project`] (and
/// accepts `limitedToken` as a token [`Vercel::limited`]) and answers
/// `{productionDeploymentId}`; `GET /_vercel/envs?project=` answers the
/// stored variables with their values; `POST /_vercel/fail-next-build`
/// `{message}`.
fn test_route(v: &mut Vercel, what: &str, r: &Req) -> Reply {
    let body: Json = serde_json::from_slice(r.body).unwrap_or(Json::Null);
    let s = |f: &str| body[f].as_str().unwrap_or_default().to_string();
    match (r.method, what) {
        ("POST", "seed") => {
            let id = v.seed_project(&s("token"), &s("teamId"), &s("teamSlug"), &s("projectId"), &s("name"));
            if let Some(t) = body["limitedToken"].as_str() {
                v.add_token(t, &[]);
                v.limited.insert(t.into());
            }
            Reply::json(200, json!({ "productionDeploymentId": id }))
        }
        ("GET", "envs") => {
            let p = r.query_param("project").unwrap_or_default();
            let Some(project) = v.projects.iter().find(|x| x.id == p || x.name == p) else {
                return error(404, "not_found", "Project not found");
            };
            let envs: Vec<Json> = project
                .envs
                .iter()
                .map(|e| json!({ "id": e.id, "key": e.key, "value": e.value, "type": e.kind, "target": e.target }))
                .collect();
            Reply::json(200, json!({ "envs": envs }))
        }
        ("POST", "fail-next-build") => {
            v.fail_next_build(&s("message"));
            Reply::json(200, json!({}))
        }
        _ => error(404, "not_found", "no such test route"),
    }
}

fn answer(v: &mut Vercel, r: &Req, now: u64) -> Reply {
    // Auth (docs/service-facts.md "Vercel", Errors): `Authorization: Bearer`;
    // the CLI reads 403 with `missingToken`/`invalidToken` as a bad token.
    let Some(token) = r.header("authorization").and_then(|h| h.strip_prefix("Bearer ")) else {
        return Reply::json(
            403,
            json!({ "error": { "code": "forbidden", "message": "The request is missing an authentication token", "missingToken": true } }),
        );
    };
    let Some(teams) = v.tokens.get(token).cloned() else {
        return Reply::json(
            403,
            json!({ "error": { "code": "forbidden", "message": "The specified token is not valid. Use `vercel login` to generate a new token.", "invalidToken": true } }),
        );
    };
    // Token probe (docs/service-facts.md "Vercel", Token probe): `GET /v2/user`
    // → `{user: {id, username, email, …}}`, no team.
    if r.path == "/v2/user" {
        return match r.method {
            // SDK `AuthUser` (its required fields) or, for a token in
            // `limited`, `AuthUserLimited` (`limited: true`).
            "GET" if v.limited.contains(token) => Reply::json(
                200,
                json!({ "user": { "id": USER_ID, "username": "emu", "email": "emu@example.com", "name": null,
                    "avatar": null, "defaultTeamId": teams.iter().next(), "limited": true } }),
            ),
            "GET" => Reply::json(
                200,
                json!({ "user": { "id": USER_ID, "username": "emu", "email": "emu@example.com", "name": "Emulated User",
                    "avatar": null, "billing": null, "createdAt": 0, "defaultTeamId": teams.iter().next(),
                    "hasTrialAvailable": false, "importFlowGitProvider": null, "resourceConfig": {},
                    "softBlock": null, "stagingPrefix": "emu" } }),
            ),
            _ => error(405, "method_unknown", "method not allowed"),
        };
    }
    // Team (docs/service-facts.md "Vercel", Team): `teamId` or `slug` on every
    // route; without either, the personal account. A team the token is not
    // in: 403 `forbidden` (wording UNCONFIRMED).
    let scope: Scope = match (r.query_param("teamId"), r.query_param("slug")) {
        (Some(id), _) => Some(id),
        (None, Some(slug)) => match v.teams.iter().find(|t| t.slug == slug) {
            Some(t) => Some(t.id.clone()),
            None => return error(403, "forbidden", "Not authorized"),
        },
        (None, None) => None,
    };
    if let Some(team) = &scope {
        if !teams.contains(team) || !v.teams.iter().any(|t| &t.id == team) {
            return error(403, "forbidden", "Not authorized");
        }
    }
    let parts: Vec<String> = r.path.trim_start_matches('/').split('/').map(super::percent_decode).collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    match parts.as_slice() {
        [_, "deployments", ..] => deploy::route(v, r, &parts[2..], &scope, now),
        [ver, "projects", p, rest @ ..] => {
            let Some(pi) = v.projects.iter().position(|x| (x.id == *p || x.name == *p) && x.team == scope) else {
                return error(404, "not_found", "Project not found");
            };
            if v.forbidden.contains(&v.projects[pi].id) {
                return error(403, "forbidden", "You don't have permission to access this project");
            }
            project_route(v, pi, r, ver, rest, now)
        }
        _ => error(404, "not_found", "The requested path was not found"),
    }
}

fn project_route(v: &mut Vercel, pi: usize, r: &Req, ver: &str, rest: &[&str], now: u64) -> Reply {
    match (r.method, ver, rest) {
        // docs/service-facts.md "Vercel" (redeploy step 1): `GET /v9/projects/{p}`
        // → `targets.production` is the serving deployment.
        ("GET", "v9", []) => Reply::json(200, deploy::project_json(v, pi)),
        // docs/service-facts.md "Vercel" (Env vars, list): `GET /v10/projects/{p}/env`
        // → `{envs, pagination}`; `gitBranch` filters.
        ("GET", "v10", ["env"]) => {
            let branch = r.query_param("gitBranch");
            let envs: Vec<Json> = v.projects[pi]
                .envs
                .iter()
                .filter(|e| branch.is_none() || e.git_branch == branch)
                .map(env_json)
                .collect();
            let count = envs.len();
            Reply::json(
                200,
                json!({ "envs": envs, "pagination": { "count": count, "next": v.list_next, "prev": null } }),
            )
        }
        // docs/service-facts.md "Vercel" (Env vars, create or update):
        // `POST /v10/projects/{p}/env[?upsert=true]`, one object or an array.
        ("POST", "v10", ["env"]) => write::upsert(v, pi, r, now),
        // docs/service-facts.md "Vercel" (Env vars, edit): `PATCH /v9/…/env/{id}`
        // (the CLI uses `/v10`: both answer) → 200 the env.
        ("PATCH", "v9" | "v10", ["env", id]) => write::edit(v, pi, id, r, now),
        // docs/service-facts.md "Vercel" (Env vars): `DELETE /v9/…/env/{id}`
        // (and `/v10`, the CLI's) → 200 the removed env.
        ("DELETE", "v9" | "v10", ["env", id]) => {
            let envs = &mut v.projects[pi].envs;
            match envs.iter().position(|e| e.id == *id) {
                Some(i) => Reply::json(200, env_json(&envs.remove(i))),
                None => error(404, "not_found", "Environment Variable not found"),
            }
        }
        // docs/service-facts.md "Vercel" (Env vars): batch
        // `DELETE /v1/projects/{p}/env` `{ids}` → `{deleted, ids}`; unknown ids
        // are skipped (UNCONFIRMED) and not counted.
        ("DELETE", "v1", ["env"]) => {
            let Ok(body) = serde_json::from_slice::<Json>(r.body) else {
                return error(400, "bad_request", "Invalid request: body must be JSON");
            };
            let Some(ids) = body["ids"].as_array().filter(|a| a.iter().all(Json::is_string)) else {
                return error(400, "bad_request", "Invalid request: `ids` must be an array of strings");
            };
            let ids: Vec<&str> = ids.iter().filter_map(Json::as_str).collect();
            let envs = &mut v.projects[pi].envs;
            let gone: Vec<String> =
                envs.iter().filter(|e| ids.contains(&e.id.as_str())).map(|e| e.id.clone()).collect();
            envs.retain(|e| !gone.contains(&e.id));
            Reply::json(200, json!({ "deleted": gone.len(), "ids": gone }))
        }
        _ => error(404, "not_found", "The requested path was not found"),
    }
}

/// An env as the API shows it (docs/targets/vercel-research.md §2, `Env`;
/// `securityIssues` is required by the SDK). `encrypted` values are
/// ciphertext, `decrypted: false`, even with `decrypt=true` (vercel/vercel
/// issue 9072, vercel/sdk issue 118); `sensitive` values are never shown.
pub fn env_json(e: &EnvVar) -> Json {
    let value = match e.kind.as_str() {
        "plain" | "system" => e.value.clone(),
        "sensitive" => String::new(),
        _ => cipher(e),
    };
    let mut j = json!({ "id": e.id, "key": e.key, "value": value, "type": e.kind, "target": e.target,
        "customEnvironmentIds": e.custom_environment_ids, "configurationId": null, "createdAt": e.created_at,
        "updatedAt": e.updated_at, "comment": e.comment.clone().unwrap_or_default(), "securityIssues": [] });
    if e.kind == "encrypted" {
        j["decrypted"] = json!(false);
    }
    if let Some(b) = &e.git_branch {
        j["gitBranch"] = json!(b);
    }
    j
}

/// Opaque, never the value, different after every write.
fn cipher(e: &EnvVar) -> String {
    let seed = format!("{}:{}", e.id, e.revision);
    let h = seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    super::b64(format!("emu-ciphertext-{h:016x}").as_bytes())
}

#[cfg(test)]
mod tests;
