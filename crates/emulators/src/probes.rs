//! The "who am I" endpoints the liveness probes call, one per built-in
//! service, each under `/_probe/<service>` so one server hosts all seven
//! (tests set `SECRET_SYNC_PROBE_<SERVICE>_URL` to `<emulator>/_probe/<service>`).
//! A token is live when added with `accept`, revoked when added with
//! `revoke`, refused (working, but not from here) when added with `refuse`,
//! and unknown otherwise; each service answers with the bodies its docs give
//! (docs/service-facts.md, "Credential probes"). Where a service documents no
//! answer for a refusal, the emulator has none either: it answers as for a
//! live token.
//!
//! Each route names its source. Where a service's own error documentation
//! and its SDK disagree, the documentation wins: the probe reads the raw
//! answer, and the SDKs fold distinct documented answers into one exception
//! per status (OpenAI's 401 "IP not authorized" and 401 `invalid_api_key` are
//! both `AuthenticationError`). Where no documentation exists (Fly.io's
//! GraphQL errors), the official client (fly-go) is the source.

use std::collections::{HashMap, HashSet};

use serde_json::json;

use super::{Reply, Req, State};

/// The services emulated, by the name their path takes (`/_probe/openai`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Openai,
    Anthropic,
    Slack,
    Github,
    Stripe,
    Fly,
    Pulumi,
}

impl Service {
    pub const ALL: [Service; 7] = [
        Service::Openai,
        Service::Anthropic,
        Service::Slack,
        Service::Github,
        Service::Stripe,
        Service::Fly,
        Service::Pulumi,
    ];

    pub fn parse(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| format!("{s:?}").eq_ignore_ascii_case(name))
    }
}

/// Why a working credential is not allowed here, as the services document it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The caller's IP address is not on the allowlist (OpenAI 401 "IP not
    /// authorized", GitHub 403 IP allow list, Slack `invalid_auth`).
    Address,
    /// The caller's country, region or territory is not served (OpenAI 403).
    Region,
    /// The credential lacks a permission (Anthropic 403 `permission_error`,
    /// Stripe 403 for a restricted key, GitHub 403 SAML enforcement).
    Permission,
}

#[derive(Default)]
pub struct Probes {
    live: HashSet<(Service, String)>,
    revoked: HashSet<(Service, String)>,
    refused: HashMap<(Service, String), Refusal>,
}

impl Probes {
    /// `service` by its path name (`openai`); an unknown name is a bug in a test.
    pub fn accept(&mut self, service: &str, token: &str) {
        let s = Service::parse(service).expect("an emulated service");
        self.live.insert((s, token.to_string()));
    }

    pub fn revoke(&mut self, service: &str, token: &str) {
        let s = Service::parse(service).expect("an emulated service");
        self.live.remove(&(s, token.to_string()));
        self.revoked.insert((s, token.to_string()));
    }

    /// A working token the service will not serve here, for `why`.
    pub fn refuse(&mut self, service: &str, token: &str, why: Refusal) {
        let s = Service::parse(service).expect("an emulated service");
        self.refused.insert((s, token.to_string()), why);
    }
}

enum Auth {
    Live,
    Revoked,
    Refused(Refusal),
    Unknown,
}

pub fn route(st: &mut State, r: &Req) -> Option<Reply> {
    let rest = r.path.strip_prefix("/_probe/")?;
    let (name, path) = rest.split_once('/').unwrap_or((rest, ""));
    let svc = Service::parse(name)?;
    let p = &st.probes;
    let check = |token: Option<&str>| match token {
        Some(t) if p.refused.contains_key(&(svc, t.to_string())) => Auth::Refused(p.refused[&(svc, t.to_string())]),
        Some(t) if p.live.contains(&(svc, t.to_string())) => Auth::Live,
        Some(t) if p.revoked.contains(&(svc, t.to_string())) => Auth::Revoked,
        _ => Auth::Unknown,
    };
    let bearer = r.header("authorization").and_then(|a| a.strip_prefix("Bearer "));
    Some(match (svc, r.method, path) {
        // OpenAI "List models" (developers.openai.com/api/reference, models/list):
        // `{"object":"list","data":[…]}`. Errors are `{"error": {"message",
        // "type", "param", "code"}}`; the error-codes guide
        // (platform.openai.com/docs/guides/error-codes) gives 401 "Incorrect
        // API key provided" (code `invalid_api_key`), 401 "IP not authorized"
        // (allowlist; its code is not documented, so ours is null and only the
        // message says it) and 403 "Country, region, or territory not
        // supported" (code `unsupported_country_region_territory`, as the API
        // sends it in openai/codex#14215). The guide wins over the SDKs, which
        // map every 401 to AuthenticationError and cannot tell them apart.
        (Service::Openai, "GET", "v1/models") => match check(bearer) {
            Auth::Live | Auth::Refused(Refusal::Permission) => Reply::json(
                200,
                json!({ "object": "list", "data": [{ "id": "gpt-emulated", "object": "model", "created": 0, "owned_by": "system" }] }),
            ),
            Auth::Refused(Refusal::Address) => Reply::json(
                401,
                json!({ "error": { "message": "IP not authorized", "type": "invalid_request_error", "param": null, "code": null } }),
            ),
            Auth::Refused(Refusal::Region) => Reply::json(
                403,
                json!({ "error": { "message": "Country, region, or territory not supported", "type": "request_forbidden", "param": null, "code": "unsupported_country_region_territory" } }),
            ),
            _ => Reply::json(
                401,
                json!({ "error": { "message": "Incorrect API key provided.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key" } }),
            ),
        },
        // Anthropic "List Models" (platform.claude.com/docs/en/api/models):
        // `x-api-key` and `anthropic-version` are required. Errors
        // (docs.anthropic.com/en/api/errors) are `{"type":"error","error":
        // {"type","message"}}`: 401 `authentication_error` ("an issue with
        // your API key"), 403 `permission_error` ("does not have permission to
        // use the specified resource"). No address or region answer is
        // documented, so those tokens are served.
        (Service::Anthropic, "GET", "v1/models") => {
            if r.header("anthropic-version").is_none() {
                return Some(Reply::json(
                    400,
                    json!({ "type": "error", "error": { "type": "invalid_request_error", "message": "anthropic-version header is required" } }),
                ));
            }
            match check(r.header("x-api-key")) {
                Auth::Live | Auth::Refused(Refusal::Address | Refusal::Region) => Reply::json(
                    200,
                    json!({ "data": [{ "id": "claude-emulated", "type": "model", "display_name": "Claude (emulated)", "created_at": "2026-01-01T00:00:00Z" }], "has_more": false, "first_id": "claude-emulated", "last_id": "claude-emulated" }),
                ),
                Auth::Refused(Refusal::Permission) => Reply::json(
                    403,
                    json!({ "type": "error", "error": { "type": "permission_error", "message": "Your API key does not have permission to use the specified resource." } }),
                ),
                _ => Reply::json(
                    401,
                    json!({ "type": "error", "error": { "type": "authentication_error", "message": "invalid x-api-key" } }),
                ),
            }
        }
        // Slack `auth.test` (docs.slack.dev/reference/methods/auth.test):
        // always HTTP 200; `ok:false` with `invalid_auth` for an unknown
        // token and for a request "from an IP address disallowed from making
        // the request" (the same code for both, as documented), and
        // `token_revoked` for a revoked one. `auth.test` needs no scope, so a
        // permission refusal cannot happen.
        (Service::Slack, "POST", "api/auth.test") => match check(bearer) {
            Auth::Live | Auth::Refused(Refusal::Permission | Refusal::Region) => Reply::json(
                200,
                json!({ "ok": true, "url": "https://emulated.slack.com/", "team": "Emulated", "user": "bot", "team_id": "T0", "user_id": "U0" }),
            ),
            Auth::Revoked => Reply::json(200, json!({ "ok": false, "error": "token_revoked" })),
            Auth::Refused(Refusal::Address) | Auth::Unknown => {
                Reply::json(200, json!({ "ok": false, "error": "invalid_auth" }))
            }
        },
        // GitHub "Get rate limit status for the authenticated user"
        // (docs.github.com/rest/rate-limit): 401 `Bad credentials` otherwise.
        // An organization's IP allow list or SAML enforcement answers 403
        // with a message naming it (docs.github.com, "Managing allowed IP
        // addresses for your organization"; the wording as GitHub sends it,
        // without the source address since github.blog changelog 2023-08-07).
        (Service::Github, "GET", "rate_limit") => match check(bearer) {
            Auth::Live | Auth::Refused(Refusal::Region) => Reply::json(
                200,
                json!({ "resources": { "core": { "limit": 5000, "remaining": 4999, "reset": 1795437600, "used": 1 } }, "rate": { "limit": 5000, "remaining": 4999, "reset": 1795437600, "used": 1 } }),
            ),
            Auth::Refused(Refusal::Address) => Reply::json(
                403,
                json!({ "message": "Although you appear to have the correct authorization credentials, the `emulated` organization has an IP allow list enabled, and your IP address is not permitted to access this resource.", "documentation_url": "https://docs.github.com/rest", "status": "403" }),
            ),
            Auth::Refused(Refusal::Permission) => Reply::json(
                403,
                json!({ "message": "Resource protected by organization SAML enforcement. You must grant your Personal Access token access to this organization.", "documentation_url": "https://docs.github.com/rest", "status": "403" }),
            ),
            _ => Reply::json(
                401,
                json!({ "message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401" }),
            ),
        },
        // Stripe "Retrieve balance" (docs.stripe.com/api/balance/balance_retrieve).
        // "Errors" (docs.stripe.com/api/errors): 401 "No valid API key
        // provided"; 403 "The API key doesn't have permissions to perform the
        // request" (a restricted key without Balance read; 403 since API
        // version 2016-10-19, docs.stripe.com/changelog). Both are
        // `{"error": {"type", "message"}}`; the real messages show part of the
        // key, ours omit it. No address or region answer is documented.
        (Service::Stripe, "GET", "v1/balance") => match check(bearer) {
            Auth::Live | Auth::Refused(Refusal::Address | Refusal::Region) => Reply::json(
                200,
                json!({ "object": "balance", "available": [{ "amount": 0, "currency": "usd" }], "pending": [], "livemode": false }),
            ),
            Auth::Refused(Refusal::Permission) => Reply::json(
                403,
                json!({ "error": { "type": "invalid_request_error", "message": "The provided key does not have the required permissions for this endpoint. Having the 'rak_balance_read' permission would allow this request to continue." } }),
            ),
            _ => Reply::json(
                401,
                json!({ "error": { "type": "invalid_request_error", "message": "Invalid API Key provided." } }),
            ),
        },
        // Fly.io GraphQL `viewer` (fly-go resource_user.go). Fly-go treats an
        // unauthenticated call as HTTP 401 (error.go IsNotAuthenticatedError);
        // the body's wording is UNCONFIRMED. Fly documents no "valid but not
        // allowed here" answer, so refused tokens are served.
        (Service::Fly, "POST", "graphql") => {
            let token = r
                .header("authorization")
                .map(|a| a.strip_prefix("FlyV1 ").or_else(|| a.strip_prefix("Bearer ")).unwrap_or(a));
            match check(token) {
                Auth::Live | Auth::Refused(_) => {
                    Reply::json(200, json!({ "data": { "viewer": { "__typename": "User" } } }))
                }
                _ => Reply::json(
                    401,
                    json!({ "errors": [{ "message": "You must be authenticated to view this.", "extensions": { "code": "UNAUTHORIZED" } }] }),
                ),
            }
        }
        // Pulumi Cloud "Get Current User" (pulumi.com/docs/reference/cloud-rest-api/users):
        // `Authorization: token …`; "401 if the token is missing or invalid"
        // (api-basics), errors `{"code", "message"}`. No "valid but not
        // allowed here" answer is documented, so refused tokens are served.
        (Service::Pulumi, "GET", "api/user") => {
            match check(r.header("authorization").and_then(|a| a.strip_prefix("token "))) {
                Auth::Live | Auth::Refused(_) => Reply::json(
                    200,
                    json!({ "id": "u-emulated", "githubLogin": "emulated", "name": "Emulated", "avatarUrl": "", "organizations": [] }),
                ),
                _ => Reply::json(
                    401,
                    json!({ "code": 401, "message": "Unauthorized: No credentials provided or are invalid." }),
                ),
            }
        }
        _ => Reply::json(404, json!({ "message": "no such probe route" })),
    })
}
