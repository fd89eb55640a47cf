//! Pulumi Cloud credentials: an access token from the `esc-token` input (or
//! `PULUMI_ACCESS_TOKEN` locally), or — with no long-lived token at all — the
//! job's GitHub OIDC ID token exchanged for a short-lived organization token,
//! as pulumi/esc-action does (see docs/service-facts.md, "Pulumi ESC", OIDC).

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::http::{join, Http};

/// How to get a token for an org.
pub enum Source {
    Token(SecretString),
    Oidc { request_url: String, request_token: SecretString },
    None,
}

pub struct Auth {
    source: Source,
    base_url: String,
    /// Called with every token obtained at run time, to mask it at once.
    on_token: Box<dyn Fn(&SecretString) + Send + Sync>,
    cache: Mutex<HashMap<String, Result<SecretString, String>>>,
}

#[derive(Deserialize)]
struct IdToken {
    value: SecretString,
}

#[derive(Deserialize)]
struct Exchanged {
    access_token: SecretString,
}

#[derive(Deserialize)]
struct OauthError {
    error: Option<String>,
}

impl Auth {
    pub fn new(source: Source, base_url: String, on_token: Box<dyn Fn(&SecretString) + Send + Sync>) -> Auth {
        Auth { source, base_url, on_token, cache: Mutex::new(HashMap::new()) }
    }

    pub fn describe(&self) -> &'static str {
        match self.source {
            Source::Token(_) => "access token",
            Source::Oidc { .. } => "GitHub OIDC",
            Source::None => "none",
        }
    }

    /// The token for `org`, exchanged once per org and run.
    pub async fn token(&self, http: &Http, org: &str) -> Result<SecretString, String> {
        let mut cache = self.cache.lock().await;
        if let Some(r) = cache.get(org) {
            return r.clone();
        }
        let r = match &self.source {
            Source::Token(t) => Ok(t.clone()),
            Source::None => Err("no Pulumi credentials: set the `esc-token` input, or give the job `permissions: id-token: write` to use OIDC".to_string()),
            Source::Oidc { request_url, request_token } => self.exchange(http, org, request_url, request_token).await,
        };
        if let Ok(t) = &r {
            (self.on_token)(t);
        }
        cache.insert(org.to_string(), r.clone());
        r
    }

    async fn exchange(
        &self,
        http: &Http,
        org: &str,
        request_url: &str,
        request_token: &SecretString,
    ) -> Result<SecretString, String> {
        let audience = format!("urn:pulumi:org:{org}");
        // The runner's URL already carries a query (`?api-version=…`):
        // append to it, as actions/toolkit's `getIDToken` does.
        let mut url = url::Url::parse(request_url).map_err(|_| {
            "ACTIONS_ID_TOKEN_REQUEST_URL is not a URL; is this job's `id-token: write` set?".to_string()
        })?;
        url.query_pairs_mut().append_pair("audience", &audience);
        let url = url.to_string();
        let what = "requesting the GitHub OIDC token";
        let r = http
            .send(what, || http.request(reqwest::Method::GET, &url).bearer_auth(request_token.expose_secret()))
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(http.status_error(what, &r, "").to_string());
        }
        let id: IdToken = r.json().await.map_err(|_| format!("{what}: the response is not the expected JSON"))?;
        (self.on_token)(&id.value);

        let what = format!("exchanging the OIDC token for a Pulumi token of org `{org}`");
        let body = serde_json::json!({
            "audience": audience,
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "requested_token_type": "urn:pulumi:token-type:access_token:organization",
            "subject_token": id.value.expose_secret(),
        });
        let url = join(&self.base_url, "/api/oauth/token");
        let r = http
            .send(&what, || http.request(reqwest::Method::POST, &url).json(&body))
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            let status = http.status_error(&what, &r, "");
            // `error` is an OAuth error code (a fixed word); the description
            // is free text and is not shown.
            let code = r
                .json::<OauthError>()
                .await
                .ok()
                .and_then(|e| e.error)
                .filter(|c| c.len() < 64 && c.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            let hint = " (is an OIDC issuer for this repository registered in the Pulumi org?)";
            return Err(match code {
                Some(c) => format!("{status}: {c}{hint}"),
                None => format!("{status}{hint}"),
            });
        }
        let t: Exchanged = r.json().await.map_err(|_| format!("{what}: the response is not the expected JSON"))?;
        Ok(t.access_token)
    }
}
