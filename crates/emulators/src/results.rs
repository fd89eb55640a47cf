//! The Actions results service's artifact API (artifacts v4, Twirp JSON) and
//! the blob store its signed URL points at, as `docs/service-facts.md` records
//! them from actions/toolkit. Unconfirmed, chosen here: the Twirp error
//! bodies (`{"code","msg"}`, Twirp's standard shape) and the blob response
//! status (201, as Azure Blob Storage answers a Put Blob).
//!
//! Artifacts are kept across runs, as the service keeps them until they
//! expire: several runs upload the same name (the state record), and only
//! one run may not upload a name twice. The GitHub REST emulator lists and
//! downloads them (`github.rs`); a downloaded archive is served from the
//! blob path, as the REST API's 302 points at blob storage.

use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

use super::{Reply, Req, State};

const SERVICE: &str = "/twirp/github.actions.results.api.v1.ArtifactService/";

#[derive(Default)]
pub struct Results {
    /// The runtime token the runner handed the job.
    pub runtime_token: Option<String>,
    /// `true`: behave like GitHub Enterprise Server (no such service).
    pub disabled: bool,
    /// Every artifact uploaded, oldest first.
    pub artifacts: Vec<Artifact>,
    /// The repository whose runs upload here (what the REST API lists).
    pub repository: Option<String>,
    /// That repository's numeric id (`workflow_run.repository_id`).
    pub repository_id: u64,
    /// Runs (backend ids) of pull requests from forks: their artifacts
    /// carry the fork's id as `workflow_run.head_repository_id`.
    pub fork_runs: std::collections::BTreeMap<String, u64>,
    next: u64,
}

#[derive(Debug, Clone)]
pub struct Artifact {
    pub name: String,
    /// Set by [`Results::expire`]: listed as `expired`, the download is 410.
    pub expired: bool,
    pub run: String,
    pub job: String,
    pub upload_id: u64,
    pub blob: Option<Vec<u8>>,
    pub id: Option<u64>,
    /// The `version` and `mime_type` CreateArtifact named (toolkit sends
    /// a MIME type since version 7).
    pub version: u64,
    pub mime_type: Option<String>,
    /// `x-ms-blob-content-type` of the blob upload (toolkit's
    /// `blobHTTPHeaders.blobContentType`).
    pub content_type: Option<String>,
}

fn twirp(status: u16, code: &str, msg: &str) -> Reply {
    Reply::json(status, json!({ "code": code, "msg": msg }))
}

pub fn route(st: &mut State, r: &Req) -> Option<Reply> {
    let res = &mut st.results;
    if let Some(id) = r.path.strip_prefix("/_blob/") {
        return Some(blob(res, id, r));
    }
    let method = r.path.strip_prefix(SERVICE)?;
    if res.disabled {
        return Some(twirp(404, "not_found", "artifact service not available"));
    }
    let bearer = r.header("authorization").and_then(|a| a.strip_prefix("Bearer "));
    if bearer.is_none() || bearer != res.runtime_token.as_deref() {
        return Some(twirp(401, "unauthenticated", "invalid runtime token"));
    }
    let Ok(body) = serde_json::from_slice::<Json>(r.body) else {
        return Some(twirp(400, "malformed", "body is not JSON"));
    };
    if let Some(reply) = list_or_delete(res, method, &body) {
        return Some(reply);
    }
    let s = |k: &str| body[k].as_str().unwrap_or_default().to_string();
    let (run, job, name) = (s("workflow_run_backend_id"), s("workflow_job_run_backend_id"), s("name"));
    if run.is_empty() || job.is_empty() || !valid_artifact_name(&name) {
        return Some(twirp(400, "invalid_argument", "missing backend ids or invalid name"));
    }
    Some(match method {
        // toolkit `upload/upload-artifact.ts`: `version: 7` and a `mime_type`
        // (StringValue, plain in JSON) since 2026-02-25 (#2256), `version: 4`
        // before; both are accepted. Names are unique within a run: a second
        // CreateArtifact of a finalized name is 409 (a pending one is
        // replaced: unconfirmed, and a reader is right either way).
        "CreateArtifact" => {
            if body["version"] != 4 && body["version"] != 7 {
                return Some(twirp(400, "invalid_argument", "unsupported artifact version"));
            }
            let mime_type = body["mime_type"].as_str().map(str::to_string);
            if body["version"] == 7 && mime_type.is_none() {
                return Some(twirp(400, "invalid_argument", "version 7 names a mime_type"));
            }
            if res.artifacts.iter().any(|a| a.name == name && a.run == run && a.id.is_some()) {
                return Some(twirp(409, "already_exists", "an artifact with this name exists in this run"));
            }
            res.artifacts.retain(|a| !(a.name == name && a.run == run && a.id.is_none()));
            res.next += 1;
            let upload_id = res.next;
            let version = body["version"].as_u64().unwrap_or_default();
            res.artifacts.push(Artifact {
                name,
                expired: false,
                run,
                job,
                upload_id,
                blob: None,
                id: None,
                version,
                mime_type,
                content_type: None,
            });
            let host = r.header("host").unwrap_or("127.0.0.1");
            Reply::json(
                200,
                json!({ "ok": true, "signed_upload_url": format!("http://{host}/_blob/{upload_id}?sig=emulated") }),
            )
        }
        "FinalizeArtifact" => {
            let Some(a) = res.artifacts.iter_mut().rev().find(|a| a.name == name && a.run == run && a.id.is_none())
            else {
                return Some(twirp(404, "not_found", "no such artifact"));
            };
            if a.job != job {
                return Some(twirp(400, "invalid_argument", "backend ids do not match"));
            }
            let Some(blob) = &a.blob else { return Some(twirp(400, "failed_precondition", "nothing was uploaded")) };
            let hash =
                format!("sha256:{}", Sha256::digest(blob).iter().map(|b| format!("{b:02x}")).collect::<String>());
            if s("size") != blob.len().to_string() || s("hash") != hash {
                return Some(twirp(400, "invalid_argument", "size or hash does not match the upload"));
            }
            res.next += 1;
            a.id = Some(res.next);
            Reply::json(200, json!({ "ok": true, "artifact_id": res.next.to_string() }))
        }
        _ => twirp(404, "bad_route", "no such method"),
    })
}

/// ListArtifacts and DeleteArtifact (toolkit `generated/results/api/v1/
/// artifact.ts`; `delete/delete-artifact.ts` lists the run's artifacts by
/// `name_filter`, then deletes the newest with its own backend ids). The
/// list is of the whole run, whichever job asks.
fn list_or_delete(res: &mut Results, method: &str, body: &Json) -> Option<Reply> {
    let s = |k: &str| body[k].as_str().unwrap_or_default().to_string();
    let (run, job) = (s("workflow_run_backend_id"), s("workflow_job_run_backend_id"));
    if run.is_empty() || job.is_empty() {
        return Some(twirp(400, "invalid_argument", "missing backend ids"));
    }
    match method {
        "ListArtifacts" => {
            let filter = body["name_filter"].as_str();
            let items: Vec<Json> = res
                .artifacts
                .iter()
                .filter(|a| a.run == run && a.id.is_some() && filter.is_none_or(|f| a.name == f))
                .map(|a| {
                    json!({
                        "workflow_run_backend_id": a.run, "workflow_job_run_backend_id": a.job,
                        "database_id": a.id.unwrap_or_default().to_string(), "name": a.name,
                        "size": a.blob.as_ref().map_or(0, Vec::len).to_string(),
                    })
                })
                .collect();
            Some(Reply::json(200, json!({ "artifacts": items })))
        }
        "DeleteArtifact" => {
            let name = s("name");
            // A finalized artifact, or a pending upload of this job (unconfirmed).
            let Some(i) = res.artifacts.iter().position(|a| a.run == run && a.job == job && a.name == name) else {
                return Some(twirp(404, "not_found", "no such artifact"));
            };
            let gone = res.artifacts.remove(i);
            Some(Reply::json(200, json!({ "ok": true, "artifact_id": gone.id.unwrap_or_default().to_string() })))
        }
        _ => None,
    }
}

impl Results {
    /// The newest finalized artifact of this name.
    pub fn newest(&self, name: &str) -> Option<&Artifact> {
        self.artifacts.iter().rev().find(|a| a.name == name && a.id.is_some())
    }

    /// Finalized artifacts of this name (all when `None`), newest first.
    pub fn finalized(&self, name: Option<&str>) -> Vec<&Artifact> {
        self.artifacts.iter().rev().filter(|a| a.id.is_some() && name.is_none_or(|n| a.name == n)).collect()
    }

    /// Adds a finalized artifact as if a run had uploaded it; its id.
    pub fn add_finalized(&mut self, name: &str, run: &str, blob: Vec<u8>) -> u64 {
        self.next += 1;
        let upload_id = self.next;
        self.next += 1;
        let a = Artifact {
            name: name.into(),
            expired: false,
            run: run.into(),
            job: "job-backend-1".into(),
            upload_id,
            blob: Some(blob),
            id: Some(self.next),
            version: 7,
            mime_type: Some("application/zip".into()),
            content_type: Some("application/zip".into()),
        };
        self.artifacts.push(a);
        self.next
    }

    /// The head repository id of the run that made `a`: a fork's for a
    /// fork's run, else the repository's own.
    pub fn head_repository_id(&self, a: &Artifact) -> u64 {
        self.fork_runs.get(&a.run).copied().unwrap_or(self.repository_id)
    }

    /// Lets the newest artifact of this name expire (its retention ran out).
    pub fn expire(&mut self, name: &str) {
        if let Some(a) = self.artifacts.iter_mut().rev().find(|a| a.name == name && a.id.is_some()) {
            a.expired = true;
        }
    }
}

fn blob(res: &mut Results, id: &str, r: &Req) -> Reply {
    if r.method == "GET" {
        // The archive a REST download redirects to.
        return match res.artifacts.iter().find(|a| a.upload_id.to_string() == id && a.id.is_some()) {
            Some(a) if a.expired => twirp(410, "gone", "the artifact has expired"),
            Some(a) => Reply {
                status: 200,
                headers: vec![("Content-Type".into(), "application/zip".into())],
                body: a.blob.clone().unwrap_or_default(),
            },
            None => twirp(404, "not_found", "no such blob"),
        };
    }
    if r.method != "PUT" {
        return twirp(405, "bad_route", "method not allowed");
    }
    if r.header("x-ms-blob-type") != Some("BlockBlob") {
        return twirp(400, "invalid_argument", "x-ms-blob-type must be BlockBlob");
    }
    let Some(a) = res.artifacts.iter_mut().find(|a| a.upload_id.to_string() == id && a.id.is_none()) else {
        return twirp(404, "not_found", "no such upload");
    };
    a.blob = Some(r.body.to_vec());
    a.content_type = r.header("x-ms-blob-content-type").map(str::to_string);
    Reply { status: 201, headers: Vec::new(), body: Vec::new() }
}

/// Artifact names may not be empty nor contain `" : < > | * ? \r \n \ /`
/// (actions/toolkit, packages/artifact `path-and-artifact-name-validation.ts`).
fn valid_artifact_name(name: &str) -> bool {
    !name.trim().is_empty()
        && !name.chars().any(|c| matches!(c, '"' | ':' | '<' | '>' | '|' | '*' | '?' | '\r' | '\n' | '\\' | '/'))
}
