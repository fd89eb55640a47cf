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

use crate::http::{join, Http};

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

/// Artifact names may not contain these (toolkit's rule).
pub fn check_name(name: &str) -> Result<(), String> {
    match name.chars().find(|c| matches!(c, '"' | ':' | '<' | '>' | '|' | '*' | '?' | '\r' | '\n' | '\\' | '/')) {
        Some(c) => {
            Err(format!("artifact name `{name}` contains `{}`, which artifact names may not", c.escape_default()))
        }
        None if name.trim().is_empty() => Err("the artifact name is empty".into()),
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

/// Uploads `files` as one zipped artifact; returns its id.
pub async fn upload(http: &Http, rt: &Runtime, name: &str, files: &[(&str, &[u8])]) -> Result<String, String> {
    check_name(name)?;
    let (run, job) = backend_ids(rt.token.expose_secret()).ok_or("the runtime token has no results-service scope")?;
    let origin = origin(&rt.results_url).ok_or("ACTIONS_RESULTS_URL is not a URL")?;
    let zip = zip_stored(files);
    let bearer = format!("Bearer {}", rt.token.expose_secret());

    let what = "creating the artifact";
    let url = join(&origin, &format!("{SERVICE}/CreateArtifact"));
    let body = serde_json::json!({ "workflow_run_backend_id": run, "workflow_job_run_backend_id": job, "name": name, "version": 4 });
    let r = http
        .send(what, || http.request(reqwest::Method::POST, &url).header("Authorization", &bearer).json(&body))
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(http
            .status_error(what, &r, "the results service refused (it does not exist on GitHub Enterprise Server)")
            .to_string());
    }
    let created: serde_json::Value = r.json().await.map_err(|_| format!("{what}: unexpected response"))?;
    let upload_url = created["signed_upload_url"]
        .as_str()
        .filter(|_| created["ok"] == true)
        .ok_or(format!("{what}: no upload URL"))?
        .to_string();

    let what = "uploading the artifact";
    let r = http
        .send(what, || {
            http.request(reqwest::Method::PUT, &upload_url).header("x-ms-blob-type", "BlockBlob").body(zip.clone())
        })
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(http.status_error(what, &r, "").to_string());
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
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(http.status_error(what, &r, "").to_string());
    }
    let done: serde_json::Value = r.json().await.map_err(|_| format!("{what}: unexpected response"))?;
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
