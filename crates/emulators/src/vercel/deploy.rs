//! Vercel deployments, as far as a redeploy needs them
//! (docs/service-facts.md "Vercel", redeploy): the project's production
//! deployment, `POST /v13/deployments` from an existing one, and its
//! `readyState` moving `QUEUED` → `BUILDING` → `READY` (or `ERROR`) on the
//! emulator's test clock ([`crate::State::clock_ms`]); when a production
//! deployment is `READY` the production alias moves to it
//! (`aliasAssigned`), and not before, so a failed one leaves the previous
//! deployment serving.

use serde_json::{json, Value as Json};

use super::{error, Reply, Req, Scope, Vercel, ENV_TOTAL_LIMIT, USER_ID};

pub struct Deployment {
    pub id: String,
    /// The project's id.
    pub project: String,
    pub name: String,
    pub url: String,
    /// `production`, or `None` for a preview.
    pub target: Option<String>,
    /// Test clock ms at creation.
    pub created_ms: u64,
    /// Made by `POST /v13/deployments` (not seeded).
    pub created_via_api: bool,
    /// The deployment it redeploys (`deploymentId` of the request).
    pub source: Option<String>,
    /// `meta` as sent (`{"action": "redeploy"}` for a redeploy).
    pub meta: Json,
    /// Whether the request asked `forceNew=1`.
    pub force_new: bool,
    /// The build fails: (`errorCode`, `errorMessage`).
    pub failure: Option<(String, String)>,
    pub canceled: bool,
    /// The production alias moved to it (it became `targets.production`).
    pub alias_assigned: bool,
}

impl Deployment {
    pub(super) fn seeded(id: &str, project: &str, name: &str) -> Deployment {
        Deployment {
            id: id.into(),
            project: project.into(),
            name: name.into(),
            url: format!("{name}-{}.vercel.app", &id[id.len() - 6..]),
            target: Some("production".into()),
            created_ms: 0,
            created_via_api: false,
            source: None,
            meta: json!({}),
            force_new: false,
            failure: None,
            canceled: false,
            alias_assigned: true,
        }
    }

    /// Its `readyState` at test-clock time `now`, given the emulator's
    /// queue and build times. A seeded one is `READY`.
    pub fn ready_state(&self, now: u64, queue_ms: u64, build_ms: u64) -> &'static str {
        if self.canceled {
            return "CANCELED";
        }
        if !self.created_via_api {
            return "READY";
        }
        let t = now.saturating_sub(self.created_ms);
        if t < queue_ms {
            "QUEUED"
        } else if t < queue_ms + build_ms {
            "BUILDING"
        } else if self.failure.is_some() {
            "ERROR"
        } else {
            "READY"
        }
    }
}

impl Vercel {
    /// A deployment's `readyState` at `now` (test clock ms).
    pub fn ready_state(&self, id: &str, now: u64) -> &'static str {
        let d = self.deployments.iter().find(|d| d.id == id).expect("deployment exists");
        d.ready_state(now, self.queue_ms, self.build_ms)
    }
}

/// Moves production aliases to production deployments that became `READY`
/// by `now`, oldest first (so the newest ready one serves).
pub fn advance(v: &mut Vercel, now: u64) {
    let (q, b) = (v.queue_ms, v.build_ms);
    for d in v.deployments.iter_mut() {
        if d.alias_assigned || d.target.as_deref() != Some("production") || d.ready_state(now, q, b) != "READY" {
            continue;
        }
        d.alias_assigned = true;
        if let Some(p) = v.projects.iter_mut().find(|p| p.id == d.project) {
            p.production = Some(d.id.clone());
        }
    }
}

/// A deployment as `GET /v13/deployments/{id}` and `POST /v13/deployments`
/// answer it (SDK `GetDeploymentResponseBody`, `CreateDeploymentResponseBody`:
/// the fields the CLI's `checkDeploymentStatus` reads).
fn deployment_json(v: &Vercel, d: &Deployment, now: u64) -> Json {
    let state = d.ready_state(now, v.queue_ms, v.build_ms);
    let mut j = json!({
        "id": d.id, "url": d.url, "name": d.name, "projectId": d.project, "readyState": state, "status": state,
        "target": d.target, "aliasAssigned": d.alias_assigned, "aliasError": null, "createdAt": d.created_ms,
        "buildingAt": d.created_ms + v.queue_ms, "meta": d.meta, "type": "LAMBDAS", "version": 2, "public": false,
        "source": if d.created_via_api { "redeploy" } else { "git" }, "creator": { "uid": USER_ID },
        "inspectorUrl": format!("https://vercel.com/emu/{}/{}", d.name, d.id),
    });
    if state == "READY" {
        j["ready"] = json!(d.created_ms + v.queue_ms + v.build_ms);
    }
    if state == "ERROR" {
        if let Some((code, msg)) = &d.failure {
            j["errorCode"] = json!(code);
            j["errorMessage"] = json!(msg);
            j["errorStep"] = json!("build");
            j["readyStateReason"] = json!(msg);
        }
    }
    j
}

/// `GET /v9/projects/{p}` (SDK `GetProjectResponseBody`; `targets.production`
/// is the serving deployment, docs/service-facts.md "Vercel" redeploy step 1).
/// Only the fields the SDK requires, with neutral values.
pub fn project_json(v: &Vercel, pi: usize) -> Json {
    let p = &v.projects[pi];
    let production = p.production.as_ref().and_then(|id| v.deployments.iter().find(|d| &d.id == id));
    let mut j = json!({
        "id": p.id, "name": p.name, "accountId": p.team.clone().unwrap_or_else(|| USER_ID.into()),
        "alias": [], "directoryListing": false, "nodeVersion": "22.x", "createdAt": 0, "updatedAt": 0,
        "latestDeployments": [], "targets": {},
        "defaultResourceConfig": { "fluid": false, "functionDefaultRegions": ["iad1"] },
        "resourceConfig": { "fluid": false, "functionDefaultRegions": ["iad1"] },
        "deploymentExpiration": {}, "deploymentPolicy": null, "lastAliasRequest": null, "lastRollbackTarget": null,
        "optionsAllowlist": null, "passwordProtection": null,
    });
    if let Some(d) = production {
        j["targets"]["production"] = json!({
            "id": d.id, "url": d.url, "name": d.name, "target": "production", "readyState": "READY",
            "alias": [format!("{}.vercel.app", p.name)], "aliasAssigned": true, "createdAt": d.created_ms,
            "type": "LAMBDAS", "plan": "pro", "private": true, "createdIn": "iad1", "creator": { "uid": USER_ID },
            "meta": d.meta,
        });
    }
    j
}

/// The routes under `/v*/deployments`; `rest` follows `deployments`.
pub fn route(v: &mut Vercel, r: &Req, rest: &[&str], scope: &Scope, now: u64) -> Reply {
    let ver = r.path.trim_start_matches('/').split('/').next().unwrap_or_default();
    let in_scope = |v: &Vercel, d: &Deployment| v.projects.iter().any(|p| p.id == d.project && &p.team == scope);
    match (r.method, ver, rest) {
        // docs/service-facts.md "Vercel" (redeploy step 2):
        // `POST /v13/deployments?forceNew=1` `{name, deploymentId, target, meta}`
        // → 200 the new deployment. Without `target` it is a preview.
        ("POST", "v13", []) => create(v, r, scope, now),
        // docs/service-facts.md "Vercel" (redeploy step 3):
        // `GET /v13/deployments/{idOrUrl}` → the deployment and its `readyState`.
        ("GET", "v13", [id]) => match v.deployments.iter().find(|d| (d.id == *id || d.url == *id) && in_scope(v, d)) {
            Some(d) => Reply::json(200, deployment_json(v, d, now)),
            None => error(404, "not_found", "Deployment not found"),
        },
        // docs/targets/vercel-research.md §7 (fallback):
        // `GET /v6|v7/deployments?projectId&target&state&limit`, newest first,
        // items with `uid`.
        ("GET", "v6" | "v7", []) => {
            let project = r.query_param("projectId");
            let target = r.query_param("target");
            let states: Option<Vec<String>> =
                r.query_param("state").map(|s| s.split(',').map(|x| x.trim().to_uppercase()).collect());
            let limit = r.query_param("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(20);
            let items: Vec<Json> = v
                .deployments
                .iter()
                .rev()
                .filter(|d| in_scope(v, d))
                .filter(|d| project.as_ref().is_none_or(|p| &d.project == p))
                .filter(|d| target.is_none() || d.target == target)
                .filter(|d| {
                    let s = d.ready_state(now, v.queue_ms, v.build_ms);
                    states.as_ref().is_none_or(|ss| ss.iter().any(|x| x == s))
                })
                .take(limit)
                .map(|d| {
                    let mut j = deployment_json(v, d, now);
                    j["uid"] = j["id"].clone();
                    j["created"] = json!(d.created_ms);
                    j["state"] = j["readyState"].clone();
                    j
                })
                .collect();
            let n = items.len();
            Reply::json(200, json!({ "deployments": items, "pagination": { "count": n, "next": null, "prev": null } }))
        }
        // docs/targets/vercel-research.md §7 step 4: `PATCH /v12/deployments/{id}/cancel`,
        // 400 once `READY`, `ERROR` or `CANCELED`.
        ("PATCH", "v12", [id, "cancel"]) => {
            let (q, b) = (v.queue_ms, v.build_ms);
            let Some(i) = v.deployments.iter().position(|d| d.id == *id && in_scope(v, d)) else {
                return error(404, "not_found", "Deployment not found");
            };
            if matches!(v.deployments[i].ready_state(now, q, b), "READY" | "ERROR" | "CANCELED") {
                return error(400, "bad_request", "The deployment cannot be canceled in its current state");
            }
            v.deployments[i].canceled = true;
            Reply::json(200, deployment_json(v, &v.deployments[i], now))
        }
        _ => error(404, "not_found", "The requested path was not found"),
    }
}

fn create(v: &mut Vercel, r: &Req, scope: &Scope, now: u64) -> Reply {
    let Ok(body) = serde_json::from_slice::<Json>(r.body) else {
        return error(400, "bad_request", "Invalid request: body must be JSON");
    };
    let Some(name) = body["name"].as_str().filter(|n| !n.is_empty()) else {
        return error(400, "bad_request", "Invalid request: missing required property `name`");
    };
    // Only redeploys are emulated: a deployment from files is not.
    let Some(src) = body["deploymentId"].as_str() else {
        return error(400, "bad_request", "Invalid request: the emulator only redeploys (`deploymentId` is required)");
    };
    let Some(source) =
        v.deployments.iter().find(|d| d.id == src && v.projects.iter().any(|p| p.id == d.project && &p.team == scope))
    else {
        return error(404, "not_found", "Deployment not found");
    };
    let project = source.project.clone();
    let target = match body["target"].as_str() {
        None | Some("preview") => None,
        Some(t) => Some(t.to_string()),
    };
    // docs/service-facts.md "Vercel", Limits: all variables of one deployment
    // ≤ 64 KB. Where Vercel enforces it is UNCONFIRMED: here its build fails.
    let total = v.env_total(&project, target.as_deref().unwrap_or("preview"));
    let failure = if total > ENV_TOTAL_LIMIT {
        Some((
            "ENV_VARS_TOO_LARGE".to_string(),
            format!("The total size of the Environment Variables ({total} bytes) exceeds the 64 KB limit"),
        ))
    } else {
        v.failing_builds.pop_front().map(|m| ("BUILD_UTILS_SPAWN_1".to_string(), m))
    };
    let id = v.id("dpl_");
    let d = Deployment {
        url: format!("{name}-{}.vercel.app", &id[id.len() - 6..]),
        id,
        project,
        name: name.into(),
        target,
        created_ms: now,
        created_via_api: true,
        source: Some(src.into()),
        meta: if body["meta"].is_object() { body["meta"].clone() } else { json!({}) },
        force_new: r.query_param("forceNew").is_some_and(|f| f == "1" || f == "true"),
        failure,
        canceled: false,
        alias_assigned: false,
    };
    let reply = Reply::json(200, deployment_json(v, &d, now));
    v.deployments.push(d);
    reply
}
