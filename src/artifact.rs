//! Uploading the report as a workflow run artifact, directly from the
//! container, through the Actions results service (artifacts v4; the
//! protocol of actions/toolkit's `@actions/artifact`, recorded in
//! `docs/service-facts.md`): CreateArtifact → PUT the zip to the signed URL →
//! FinalizeArtifact with its size and SHA-256.
//!
//! The service is undocumented and absent on GitHub Enterprise Server, so any
//! refusal is a warning, never a failure of the run.

use std::fmt::Write as _;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use serde_json::Value as Json;

use crate::http::{join, Http, HttpError};

const SERVICE: &str = "/twirp/github.actions.results.api.v1.ArtifactService";

/// Where and as whom to upload, from the runner's environment.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub results_url: String,
    pub token: SecretString,
}

impl Runtime {
    /// `ACTIONS_RESULTS_URL` and `ACTIONS_RUNTIME_TOKEN`, when the runner gave both.
    pub fn from_env() -> Option<Runtime> {
        let url = crate::env::var_exact(crate::env::EnvVars::ACTIONS_RESULTS_URL)?;
        let token = crate::env::var_exact(crate::env::EnvVars::ACTIONS_RUNTIME_TOKEN)?;
        Some(Runtime { results_url: url, token: SecretString::from(token) })
    }
}

/// Why an artifact was not uploaded. What the service answered stays an
/// [`HttpError`], with its status and request id.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// `ch` is the offending character, escaped (`\n`).
    #[error("artifact name `{name}` contains `{ch}`, which artifact names may not")]
    NameCharacter { name: String, ch: String },
    #[error("the artifact name is empty")]
    EmptyName,
    #[error("the runtime token has no results-service scope")]
    NoScope,
    #[error("ACTIONS_RESULTS_URL is not a URL")]
    ResultsUrl,
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("{what}: unexpected response")]
    Unexpected { what: String },
    #[error("creating the artifact: no upload URL")]
    NoUploadUrl,
}

impl ArtifactError {
    /// The status of the service's refusal (a 409 or 404 changes what is
    /// done next).
    fn status(&self) -> Option<u16> {
        match self {
            ArtifactError::Http(e) => e.status,
            _ => None,
        }
    }
}

/// Artifact names may not contain these (toolkit's rule).
pub fn check_name(name: &str) -> Result<(), ArtifactError> {
    match name.chars().find(|c| matches!(c, '"' | ':' | '<' | '>' | '|' | '*' | '?' | '\r' | '\n' | '\\' | '/')) {
        Some(c) => Err(ArtifactError::NameCharacter { name: name.to_string(), ch: c.escape_default().to_string() }),
        None if name.trim().is_empty() => Err(ArtifactError::EmptyName),
        None => Ok(()),
    }
}

/// The run and job backend ids from the runtime token's `scp` claim
/// (`Actions.Results:<run>:<job>`). The token is a JWT; only its payload is
/// read, never printed.
pub fn backend_ids(token: &str) -> Option<(String, String)> {
    let payload = token.split('.').nth(1)?;
    let json = crate::util::unb64url(payload)?;
    let v: serde_json::Value = serde_json::from_slice(&json).ok()?;
    let scp = v.get("scp")?.as_str()?;
    scp.split_whitespace().find_map(|s| {
        let rest = s.strip_prefix("Actions.Results:")?;
        let (run, job) = rest.split_once(':')?;
        Some((run.to_string(), job.to_string()))
    })
}

/// What toolkit's `upload-artifact.ts` sends as `version` in
/// CreateArtifact today (docs/service-facts.md, "Actions results service").
const CREATE_VERSION: u32 = 7;
/// The archive's MIME type, as toolkit derives it from `<name>.zip`
/// (`upload/types.ts`): sent in CreateArtifact and to the blob store.
const MIME_ZIP: &str = "application/zip";

/// One Twirp call to the artifact service: the answer's JSON, or why not
/// (with the status, so a 409 can be told apart: [`ArtifactError::status`]).
async fn call(http: &Http, origin: &str, bearer: &str, method: &str, body: &Json) -> Result<Json, ArtifactError> {
    let what = format!("the artifact service's {method}");
    let url = join(origin, &format!("{SERVICE}/{method}"));
    let r = http
        .send(&what, || http.request(reqwest::Method::POST, &url).header("Authorization", bearer).json(body))
        .await?;
    let status = r.status().as_u16();
    if !r.status().is_success() {
        let hint = match status {
            404 => "the results service refused (it does not exist on GitHub Enterprise Server)",
            _ => "",
        };
        return Err(http.status_error(&what, &r, hint).into());
    }
    r.json().await.map_err(|_| ArtifactError::Unexpected { what })
}

/// CreateArtifact as toolkit sends it; its signed upload URL.
async fn create(http: &Http, origin: &str, bearer: &str, ids: &Json, name: &str) -> Result<String, ArtifactError> {
    let body = serde_json::json!({
        "workflow_run_backend_id": ids["run"], "workflow_job_run_backend_id": ids["job"], "name": name,
        "version": CREATE_VERSION, "mime_type": MIME_ZIP,
    });
    let created = call(http, origin, bearer, "CreateArtifact", &body).await?;
    created["signed_upload_url"]
        .as_str()
        .filter(|_| created["ok"] == true)
        .map(str::to_string)
        .ok_or(ArtifactError::NoUploadUrl)
}

/// Names are unique within a run: a re-run attempt, or a CreateArtifact
/// retried after a lost answer, meets 409. As toolkit's overwrite does
/// (`delete/delete-artifact.ts`): list the run's artifacts of this name,
/// delete the newest with its own backend ids, and create it again.
async fn replace(http: &Http, origin: &str, bearer: &str, ids: &Json, name: &str) -> Result<String, ArtifactError> {
    let list = serde_json::json!({
        "workflow_run_backend_id": ids["run"], "workflow_job_run_backend_id": ids["job"], "name_filter": name,
    });
    let listed = call(http, origin, bearer, "ListArtifacts", &list).await?;
    let newest = listed["artifacts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["name"] == name)
        .max_by_key(|a| a["database_id"].as_str().and_then(|d| d.parse::<u64>().ok()).unwrap_or(0));
    match newest {
        Some(a) => {
            let delete = serde_json::json!({
                "workflow_run_backend_id": a["workflow_run_backend_id"],
                "workflow_job_run_backend_id": a["workflow_job_run_backend_id"], "name": name,
            });
            call(http, origin, bearer, "DeleteArtifact", &delete).await?;
        }
        // Not listed: this job's own create whose answer was lost (the list
        // may show only finalized artifacts; unconfirmed). Delete it by this
        // job's ids; a 404 says there was none, and the create decides.
        None => {
            let delete = serde_json::json!({
                "workflow_run_backend_id": ids["run"], "workflow_job_run_backend_id": ids["job"], "name": name,
            });
            match call(http, origin, bearer, "DeleteArtifact", &delete).await {
                Ok(_) => {}
                Err(e) if e.status() == Some(404) => {}
                Err(e) => return Err(e),
            }
        }
    }
    create(http, origin, bearer, ids, name).await
}

/// Uploads `files` as one zipped artifact; returns its id. An artifact of
/// the same name already in this run (a re-run attempt) is replaced.
pub async fn upload(http: &Http, rt: &Runtime, name: &str, files: &[(&str, &[u8])]) -> Result<String, ArtifactError> {
    check_name(name)?;
    let (run, job) = backend_ids(rt.token.expose_secret()).ok_or(ArtifactError::NoScope)?;
    let origin = origin(&rt.results_url).ok_or(ArtifactError::ResultsUrl)?;
    let zip = zip_stored(files);
    let bearer = format!("Bearer {}", rt.token.expose_secret());
    let ids = serde_json::json!({ "run": run, "job": job });

    let upload_url = match create(http, &origin, &bearer, &ids, name).await {
        Ok(url) => url,
        Err(e) if e.status() == Some(409) => replace(http, &origin, &bearer, &ids, name).await?,
        Err(e) => return Err(e),
    };

    let what = "uploading the artifact";
    let r = http
        .send(what, || {
            http.request(reqwest::Method::PUT, &upload_url)
                .header("x-ms-blob-type", "BlockBlob")
                .header("x-ms-blob-content-type", MIME_ZIP)
                .body(zip.clone())
        })
        .await?;
    if !r.status().is_success() {
        return Err(http.status_error(what, &r, "").into());
    }

    let what = "finalizing the artifact";
    let url = join(&origin, &format!("{SERVICE}/FinalizeArtifact"));
    let hash = Sha256::digest(&zip).iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    let body = serde_json::json!({
        "workflow_run_backend_id": run, "workflow_job_run_backend_id": job, "name": name,
        "size": zip.len().to_string(), "hash": format!("sha256:{hash}"),
    });
    let r = http
        .send(what, || http.request(reqwest::Method::POST, &url).header("Authorization", &bearer).json(&body))
        .await?;
    if !r.status().is_success() {
        return Err(http.status_error(what, &r, "").into());
    }
    let done: serde_json::Value = r.json().await.map_err(|_| ArtifactError::Unexpected { what: what.to_string() })?;
    Ok(match &done["artifact_id"] {
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    })
}

fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next()?;
    Some(format!("{scheme}://{host}"))
}

/// A zip archive with the files stored (not compressed): the reports are
/// small, and a stored archive needs no compression code in the image.
pub fn zip_stored(files: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    // A fixed time: the same files give the same archive (and hash).
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default());
    for (name, data) in files {
        zip.start_file(*name, options).expect("writing to memory");
        zip.write_all(data).expect("writing to memory");
    }
    zip.finish().expect("writing to memory").into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_as_toolkit_does() {
        assert_eq!(
            check_name("a\nb").unwrap_err().to_string(),
            "artifact name `a\nb` contains `\\n`, which artifact names may not"
        );
        assert_eq!(check_name(" ").unwrap_err().to_string(), "the artifact name is empty");
        assert!(check_name("secret-sync-state").is_ok());
    }

    #[test]
    fn archives_are_stored_and_reproducible() {
        let z = zip_stored(&[("a.json", b"{}"), ("b.md", b"# x")]);
        assert_eq!(z, zip_stored(&[("a.json", b"{}"), ("b.md", b"# x")]));
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(z)).unwrap();
        let f = archive.by_name("b.md").unwrap();
        assert_eq!((f.compression(), f.size()), (zip::CompressionMethod::Stored, 3));
    }

    #[test]
    fn reads_backend_ids_from_the_scope_claim() {
        let payload = crate::util::b64(br#"{"scp":"Actions.GenericRead:1 Actions.Results:run-1:job-2"}"#);
        let token = format!("e30.{}.sig", payload.trim_end_matches('='));
        assert_eq!(backend_ids(&token), Some(("run-1".into(), "job-2".into())));
        assert_eq!(backend_ids("not-a-jwt"), None);
    }

    #[test]
    fn names_follow_toolkit_rules() {
        assert!(check_name("secret-sync-report").is_ok());
        assert!(check_name("a/b").is_err());
        assert!(check_name("a:b").is_err());
    }
}
