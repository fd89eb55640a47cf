//! Pulumi Cloud credentials: an access token from the `esc-token` input (or
//! `PULUMI_ACCESS_TOKEN` locally), or — with no long-lived token at all — the
//! job's GitHub OIDC ID token exchanged for a short-lived organization, team
//! or personal token, as pulumi/esc-action does (its `oidc-requested-token-type`,
//! `oidc-scope` and `oidc-token-expiration` inputs; see docs/service-facts.md,
//! "Pulumi ESC", OIDC).

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::http::{join, Http, HttpError};
use crate::targets::driver::TargetError;

/// Why no Pulumi token was obtained. What a service answered stays an
/// [`HttpError`], with its status and request id.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EscAuthError {
    #[error(
        "no Pulumi credentials: set the `esc-token` input, or give the job `permissions: id-token: write` to use OIDC"
    )]
    NoCredentials,
    #[error("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL; is this job's `id-token: write` set?")]
    RequestUrl,
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("{what}: the response is not the expected JSON")]
    NotJson { what: String },
    /// Pulumi refused the exchange; `code` is its OAuth error code (a fixed
    /// word; the free-text description is never shown).
    #[error("{source}{}{hint}", .code.as_ref().map(|c| format!(": {c}")).unwrap_or_default(), hint = EXCHANGE_HINT)]
    Exchange { source: HttpError, code: Option<String> },
}

const EXCHANGE_HINT: &str = " (is an OIDC issuer for this repository registered in the Pulumi org?)";

impl From<EscAuthError> for TargetError {
    /// The message as shown, with the service's status and request id.
    fn from(e: EscAuthError) -> TargetError {
        match e {
            EscAuthError::Http(h) => h.into(),
            // The request id sits inside the message, before the code.
            EscAuthError::Exchange { ref source, .. } => {
                TargetError { status: source.status, ..TargetError::new(e.to_string()) }
            }
            e => TargetError::new(e.to_string()),
        }
    }
}

/// How to get a token for an org.
pub enum Source {
    Token(SecretString),
    Oidc { request_url: String, request_token: SecretString, request: OidcRequest },
    None,
}

/// The token an OIDC exchange asks for: Pulumi's `requested_token_type`
/// (`urn:pulumi:token-type:access_token:<kind>`), its `scope` and `expiration`,
/// sent as pulumi/esc-action sends them (verbatim; absent when not given).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OidcRequest {
    pub kind: TokenKind,
    pub scope: Option<String>,
    /// Seconds.
    pub expiration: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenKind {
    #[default]
    Organization,
    Team,
    Personal,
    Runner,
}

const TOKEN_TYPE_PREFIX: &str = "urn:pulumi:token-type:access_token:";

impl TokenKind {
    const ALL: [TokenKind; 4] = [TokenKind::Organization, TokenKind::Team, TokenKind::Personal, TokenKind::Runner];

    pub fn name(self) -> &'static str {
        match self {
            TokenKind::Organization => "organization",
            TokenKind::Team => "team",
            TokenKind::Personal => "personal",
            TokenKind::Runner => "runner",
        }
    }

    /// The scope prefix Pulumi requires for this kind (`team:NAME`), if any.
    fn scope_prefix(self) -> Option<&'static str> {
        match self {
            TokenKind::Organization => None,
            TokenKind::Team => Some("team:"),
            TokenKind::Personal => Some("user:"),
            TokenKind::Runner => Some("runner:"),
        }
    }
}

/// Why the OIDC token choice cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OidcRequestError {
    Kind(String),
    ScopeMissing { kind: &'static str, prefix: &'static str },
    ScopeShape { kind: &'static str, prefix: &'static str, scope: String },
    OrgScope(String),
    Expiration(String),
}

impl std::fmt::Display for OidcRequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OidcRequestError::Kind(k) => write!(
                f,
                "`{k}` is not a Pulumi token type: write `organization`, `team`, `personal` or `runner` (or `{TOKEN_TYPE_PREFIX}team`, as pulumi/esc-action takes it)"
            ),
            OidcRequestError::ScopeMissing { kind, prefix } => {
                write!(f, "a {kind} token needs the scope `{prefix}NAME` (Pulumi's token exchange requires it)")
            }
            OidcRequestError::ScopeShape { kind, prefix, scope } => {
                write!(f, "a {kind} token's scope must be `{prefix}NAME`; got `{scope}`")
            }
            OidcRequestError::OrgScope(s) => write!(f, "an organization token's scope must be empty or `admin`; got `{s}`"),
            OidcRequestError::Expiration(e) => write!(f, "`{e}` is not a whole number of seconds"),
        }
    }
}

impl std::error::Error for OidcRequestError {}

impl OidcRequestError {
    /// The choice at fault, as the input and flag name it after `esc-oidc-`.
    pub fn choice(&self) -> &'static str {
        match self {
            OidcRequestError::Kind(_) => "requested-token-type",
            OidcRequestError::Expiration(_) => "token-expiration",
            _ => "scope",
        }
    }
}

impl OidcRequest {
    /// Reads the three choices (each empty when not given): the token type
    /// as a word or as esc-action's full URN, the scope checked against the
    /// kind as Pulumi documents it, the expiration in seconds.
    pub fn parse(kind: Option<&str>, scope: Option<&str>, expiration: Option<&str>) -> Result<Self, OidcRequestError> {
        let set = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
        let kind = match set(kind) {
            None => TokenKind::Organization,
            Some(k) => {
                let word = k.strip_prefix(TOKEN_TYPE_PREFIX).unwrap_or(&k);
                TokenKind::ALL.into_iter().find(|t| t.name() == word).ok_or(OidcRequestError::Kind(k.clone()))?
            }
        };
        let scope = set(scope);
        match (kind.scope_prefix(), &scope) {
            (None, Some(s)) if s != "admin" => return Err(OidcRequestError::OrgScope(s.clone())),
            (Some(prefix), None) => return Err(OidcRequestError::ScopeMissing { kind: kind.name(), prefix }),
            (Some(prefix), Some(s)) if s.strip_prefix(prefix).is_none_or(|n| n.trim().is_empty()) => {
                return Err(OidcRequestError::ScopeShape { kind: kind.name(), prefix, scope: s.clone() })
            }
            _ => {}
        }
        let expiration = match set(expiration) {
            None => None,
            Some(e) => Some(e.parse::<u64>().ok().filter(|n| *n > 0).ok_or(OidcRequestError::Expiration(e))?),
        };
        Ok(OidcRequest { kind, scope, expiration })
    }

    /// `urn:pulumi:token-type:access_token:<kind>`.
    pub fn token_type(&self) -> String {
        format!("{TOKEN_TYPE_PREFIX}{}", self.kind.name())
    }
}

pub struct Auth {
    source: Source,
    base_url: String,
    /// Called with every token obtained at run time, to mask it at once.
    on_token: Box<dyn Fn(&SecretString) + Send + Sync>,
    cache: Mutex<HashMap<String, Result<SecretString, EscAuthError>>>,
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
    pub async fn token(&self, http: &Http, org: &str) -> Result<SecretString, EscAuthError> {
        let mut cache = self.cache.lock().await;
        if let Some(r) = cache.get(org) {
            return r.clone();
        }
        let r = match &self.source {
            Source::Token(t) => Ok(t.clone()),
            Source::None => Err(EscAuthError::NoCredentials),
            Source::Oidc { request_url, request_token, request } => {
                self.exchange(http, org, request_url, request_token, request).await
            }
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
        request: &OidcRequest,
    ) -> Result<SecretString, EscAuthError> {
        let audience = format!("urn:pulumi:org:{org}");
        // The runner's URL already carries a query (`?api-version=…`):
        // append to it, as actions/toolkit's `getIDToken` does.
        let mut url = url::Url::parse(request_url).map_err(|_| EscAuthError::RequestUrl)?;
        url.query_pairs_mut().append_pair("audience", &audience);
        let url = url.to_string();
        let what = "requesting the GitHub OIDC token";
        let r = http
            .send(what, || http.request(reqwest::Method::GET, &url).bearer_auth(request_token.expose_secret()))
            .await?;
        if !r.status().is_success() {
            return Err(http.status_error(what, &r, "").into());
        }
        let id: IdToken = r.json().await.map_err(|_| EscAuthError::NotJson { what: what.to_string() })?;
        (self.on_token)(&id.value);

        let what = format!("exchanging the OIDC token for a Pulumi {} token of org `{org}`", request.kind.name());
        // As @pulumi/actions-helpers' exchangeIdToken (what esc-action runs)
        // builds it: JSON, `expiration` and `scope` only when given.
        let mut body = serde_json::json!({
            "audience": audience,
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "requested_token_type": request.token_type(),
            "subject_token": id.value.expose_secret(),
        });
        if let Some(e) = request.expiration {
            body["expiration"] = e.into();
        }
        if let Some(s) = &request.scope {
            body["scope"] = s.as_str().into();
        }
        let url = join(&self.base_url, "/api/oauth/token");
        // A POST: sent once, as the official clients send it (pulumi/esc
        // retries only GETs).
        let r = http
            .send_once(&what, || http.request(reqwest::Method::POST, &url).json(&body))
            .await
            .map_err(|e| e.error)?;
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
            return Err(EscAuthError::Exchange { source: status, code });
        }
        let t: Exchanged = r.json().await.map_err(|_| EscAuthError::NotJson { what })?;
        Ok(t.access_token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_exchange_keeps_its_words_and_status() {
        let source = HttpError {
            status: Some(400),
            message: "exchanging the OIDC token: HTTP 400".into(),
            request_id: Some("r1".into()),
        };
        let e = EscAuthError::Exchange { source: source.clone(), code: Some("invalid_request".into()) };
        let text = "exchanging the OIDC token: HTTP 400 (request id r1): invalid_request (is an OIDC issuer for this repository registered in the Pulumi org?)";
        assert_eq!(e.to_string(), text);
        let t = TargetError::from(e);
        assert_eq!((t.to_string().as_str(), t.status), (text, Some(400)));
        let e = EscAuthError::Exchange { source: source.clone(), code: None };
        assert_eq!(
            e.to_string(),
            "exchanging the OIDC token: HTTP 400 (request id r1) (is an OIDC issuer for this repository registered in the Pulumi org?)"
        );
        let t = TargetError::from(EscAuthError::Http(source));
        assert_eq!(t.to_string(), "exchanging the OIDC token: HTTP 400 (request id r1)");
        assert_eq!((t.status, t.request_id.as_deref()), (Some(400), Some("r1")));
    }

    #[test]
    fn token_choices_parse_as_esc_action_takes_them() {
        assert_eq!(OidcRequest::parse(None, None, None), Ok(OidcRequest::default()));
        let team =
            OidcRequest::parse(Some("urn:pulumi:token-type:access_token:team"), Some("team:platform"), Some("600"));
        let team = team.unwrap();
        assert_eq!(team.token_type(), "urn:pulumi:token-type:access_token:team");
        assert_eq!((team.scope.as_deref(), team.expiration), (Some("team:platform"), Some(600)));
        assert_eq!(OidcRequest::parse(Some("personal"), Some("user:ada"), None).unwrap().kind, TokenKind::Personal);
        assert!(OidcRequest::parse(Some("organization"), Some("admin"), Some("")).is_ok());
        assert!(matches!(OidcRequest::parse(Some("team"), None, None), Err(OidcRequestError::ScopeMissing { .. })));
        assert!(matches!(
            OidcRequest::parse(Some("team"), Some("user:x"), None),
            Err(OidcRequestError::ScopeShape { .. })
        ));
        assert!(matches!(
            OidcRequest::parse(Some("team"), Some("team:"), None),
            Err(OidcRequestError::ScopeShape { .. })
        ));
        assert!(matches!(OidcRequest::parse(None, Some("team:x"), None), Err(OidcRequestError::OrgScope(_))));
        assert!(matches!(OidcRequest::parse(Some("teams"), None, None), Err(OidcRequestError::Kind(_))));
        assert!(matches!(OidcRequest::parse(None, None, Some("1h")), Err(OidcRequestError::Expiration(_))));
    }
}
