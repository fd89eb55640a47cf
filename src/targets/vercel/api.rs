//! Vercel's REST API as secret-sync uses it (docs/service-facts.md,
//! "Vercel"): list a project's variables, create or update them in one
//! request, delete one, find the production deployment, redeploy it and
//! read a deployment. Every request carries the target's team.

use reqwest::Method;
use serde_json::{json, Value as Json};

use super::plan::Listed;
use super::Spec;
use crate::http::{encode, join, Http};
use crate::targets::driver::TargetError;

pub struct Api<'a> {
    pub http: &'a Http,
    pub base: &'a str,
    pub token: &'a str,
    pub spec: &'a Spec,
}

/// A project's variables as listed; `complete` is false when the answer
/// says more pages exist (then nothing is pruned).
pub struct Listing {
    pub vars: Vec<Listed>,
    pub complete: bool,
}

/// The answer to an upsert: what was created or updated, and what failed.
pub struct Upserted {
    pub written: Vec<Listed>,
    /// (key, error code) of the items Vercel refused.
    pub failed: Vec<(String, String)>,
}

/// A deployment as read.
pub struct Deployment {
    pub id: String,
    pub url: String,
    pub state: String,
    pub alias_assigned: bool,
    /// `errorCode: errorMessage` of a failed one.
    pub error: Option<String>,
}

impl Api<'_> {
    fn url(&self, path: &str) -> String {
        let url = join(self.base, path);
        match self.spec.team_query() {
            Some((k, v)) => format!("{url}{}{k}={}", if url.contains('?') { '&' } else { '?' }, encode(v)),
            None => url,
        }
    }

    fn project_path(&self, version: &str, rest: &str) -> String {
        format!("/{version}/projects/{}{rest}", encode(&self.spec.project))
    }

    fn req(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        self.http.request(method, url).header("Authorization", format!("Bearer {}", self.token))
    }

    /// `GET /v10/projects/{p}/env`.
    pub async fn list(&self) -> Result<Listing, TargetError> {
        let what = format!("listing the environment variables of Vercel project `{}`", self.spec.project);
        let url = self.url(&self.project_path("v10", "/env"));
        let body = self.json(&what, || self.req(Method::GET, &url)).await?;
        let vars = match body.get("envs") {
            Some(Json::Array(a)) => a.iter().filter_map(listed).collect(),
            // One variable alone comes as the object itself.
            _ => listed(&body).into_iter().collect(),
        };
        let complete = body["pagination"]["next"].is_null();
        Ok(Listing { vars, complete })
    }

    /// `POST /v10/projects/{p}/env?upsert=true` with every item at once.
    pub async fn upsert(&self, items: &[Json]) -> Result<Upserted, TargetError> {
        let what = format!("writing {} environment variable(s) of Vercel project `{}`", items.len(), self.spec.project);
        let url = self.url(&format!("{}?upsert=true", self.project_path("v10", "/env")));
        let body = Json::Array(items.to_vec());
        let answer = self.json(&what, || self.req(Method::POST, &url).json(&body)).await?;
        let written = match &answer["created"] {
            Json::Array(a) => a.iter().filter_map(listed).collect(),
            one => listed(one).into_iter().collect(),
        };
        let failed = answer["failed"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                let e = &f["error"];
                let key = e["key"].as_str().or(e["envVarKey"].as_str()).unwrap_or("?").to_string();
                (key, e["code"].as_str().unwrap_or("unknown").to_string())
            })
            .collect();
        Ok(Upserted { written, failed })
    }

    /// `DELETE /v9/projects/{p}/env/{id}`.
    pub async fn delete(&self, id: &str, key: &str) -> Result<(), TargetError> {
        let what = format!("deleting `{key}` from Vercel project `{}`", self.spec.project);
        let url = self.url(&self.project_path("v9", &format!("/env/{}", encode(id))));
        self.json(&what, || self.req(Method::DELETE, &url)).await.map(|_| ())
    }

    /// `GET /v9/projects/{p}`: the project's name and its production
    /// deployment (`targets.production.id`), if it has one.
    pub async fn production(&self) -> Result<(String, Option<String>), TargetError> {
        let what = format!("reading Vercel project `{}`", self.spec.project);
        let url = self.url(&self.project_path("v9", ""));
        let p = self.json(&what, || self.req(Method::GET, &url)).await?;
        let name = p["name"].as_str().unwrap_or(&self.spec.project).to_string();
        Ok((name, p["targets"]["production"]["id"].as_str().map(str::to_string)))
    }

    /// `POST /v13/deployments?forceNew=1` as `vercel redeploy` sends it:
    /// sent once (a repeat would start a second deployment).
    pub async fn redeploy(&self, name: &str, from: &str) -> Result<Deployment, TargetError> {
        let what = format!("redeploying production of Vercel project `{}` from `{from}`", self.spec.project);
        let url = self.url("/v13/deployments?forceNew=1");
        let body = json!({ "name": name, "deploymentId": from, "target": "production", "meta": { "action": "redeploy" } });
        let r = self.http.send_once(&what, || self.req(Method::POST, &url).json(&body)).await.map_err(|u| {
            let mut e = TargetError::from(u.error);
            if u.may_have_applied {
                e.message.push_str("; a deployment may have started: see the project's deployments");
            }
            e
        })?;
        let d = self.answer(&what, r).await?;
        deployment(&d).ok_or_else(|| TargetError::new(format!("{what}: the answer names no deployment")))
    }

    /// `GET /v13/deployments/{id}`.
    pub async fn deployment(&self, id: &str) -> Result<Deployment, TargetError> {
        let what = format!("reading Vercel deployment `{id}`");
        let url = self.url(&format!("/v13/deployments/{}", encode(id)));
        let d = self.json(&what, || self.req(Method::GET, &url)).await?;
        deployment(&d).ok_or_else(|| TargetError::new(format!("{what}: the answer names no deployment")))
    }

    async fn json(&self, what: &str, make: impl Fn() -> reqwest::RequestBuilder) -> Result<Json, TargetError> {
        let r = self.http.send(what, make).await?;
        self.answer(what, r).await
    }

    /// The body of a 2xx answer (an upsert answers 201, the rest 200), else
    /// the error, explained.
    async fn answer(&self, what: &str, r: reqwest::Response) -> Result<Json, TargetError> {
        let status = r.status().as_u16();
        let request_id = self.http.request_id(&r);
        let body: Json = r.json().await.unwrap_or(Json::Null);
        if (200..300).contains(&status) {
            return Ok(body);
        }
        Err(TargetError {
            message: format!("{what}: HTTP {status}: {}", explain(status, &body["error"], self.spec)),
            status: Some(status),
            request_id,
        })
    }
}

/// What an error answer means, with what to do (docs/service-facts.md,
/// "Vercel", Errors). Only codes and flags are read, never messages.
fn explain(status: u16, e: &Json, spec: &Spec) -> String {
    let code = e["code"].as_str().unwrap_or_default();
    let scope = match &spec.team {
        Some(t) => format!("team `{t}`"),
        None => "the token's personal account (set `team:` for a team's project)".to_string(),
    };
    match status {
        401 => "Vercel refused the token: set the `vercel-token` input to a token from vercel.com/account/tokens".into(),
        403 if e["invalidToken"] == true || e["missingToken"] == true => {
            "Vercel refused the token as invalid or expired: set the `vercel-token` input to a working token".into()
        }
        403 => format!(
            "the token may not access project `{}` in {scope} (`{code}`): give its owner access to the team, or use a token of the team",
            spec.project
        ),
        404 => format!("project `{}` was not found in {scope}: check `project:` and `team:`", spec.project),
        429 => {
            let reset = e["limit"]["reset"].as_i64().map(crate::util::rfc3339);
            let when = reset.map(|t| format!(" (it resets at {t})")).unwrap_or_default();
            format!("Vercel's rate limit was reached{when} and retries ran out; re-run after it resets")
        }
        _ if code.is_empty() => "Vercel refused the request".into(),
        _ => format!("Vercel refused the request (`{code}`)"),
    }
}

fn strings(v: &Json) -> Vec<String> {
    match v {
        Json::String(s) => vec![s.clone()],
        Json::Array(a) => a.iter().filter_map(Json::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

fn listed(v: &Json) -> Option<Listed> {
    Some(Listed {
        id: v["id"].as_str()?.to_string(),
        key: v["key"].as_str()?.to_string(),
        environments: strings(&v["target"]),
        branch: v["gitBranch"].as_str().filter(|b| !b.is_empty()).map(str::to_string),
        updated_at: v["updatedAt"].as_i64().unwrap_or_default(),
    })
}

fn deployment(v: &Json) -> Option<Deployment> {
    let error = match (v["errorCode"].as_str(), v["errorMessage"].as_str().or(v["readyStateReason"].as_str())) {
        (Some(c), Some(m)) => Some(format!("{c}: {m}")),
        (Some(c), None) => Some(c.to_string()),
        (None, Some(m)) => Some(m.to_string()),
        (None, None) => None,
    };
    Some(Deployment {
        id: v["id"].as_str()?.to_string(),
        url: v["url"].as_str().unwrap_or_default().to_string(),
        state: v["readyState"].as_str().unwrap_or("QUEUED").to_string(),
        alias_assigned: v["aliasAssigned"].as_bool().unwrap_or(false) || v["aliasAssigned"].is_number(),
        error,
    })
}
