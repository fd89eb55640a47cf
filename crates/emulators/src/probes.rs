//! The "who am I" endpoints the liveness probes call, one per built-in
//! service, each under `/_probe/<service>` so one server hosts all seven
//! (tests set `SECRET_SYNC_PROBE_<SERVICE>_URL` to `<emulator>/_probe/<service>`).
//! A token is live when added with `accept`, revoked when added with
//! `revoke`, and unknown otherwise; each service answers as its docs say.

use std::collections::HashSet;

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

#[derive(Default)]
pub struct Probes {
    live: HashSet<(Service, String)>,
    revoked: HashSet<(Service, String)>,
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
}

enum Auth {
    Live,
    Revoked,
    Unknown,
}

pub fn route(st: &mut State, r: &Req) -> Option<Reply> {
    let rest = r.path.strip_prefix("/_probe/")?;
    let (name, path) = rest.split_once('/').unwrap_or((rest, ""));
    let svc = Service::parse(name)?;
    let p = &st.probes;
    let check = |token: Option<&str>| match token {
        Some(t) if p.live.contains(&(svc, t.to_string())) => Auth::Live,
        Some(t) if p.revoked.contains(&(svc, t.to_string())) => Auth::Revoked,
        _ => Auth::Unknown,
    };
    let bearer = r.header("authorization").and_then(|a| a.strip_prefix("Bearer "));
    Some(match (svc, r.method, path) {
        // OpenAI "List models" (developers.openai.com/api/reference, models/list):
        // `{"object":"list","data":[…]}`; a bad key gets 401 with an `error` object.
        (Service::Openai, "GET", "v1/models") => match check(bearer) {
            Auth::Live => Reply::json(
                200,
                json!({ "object": "list", "data": [{ "id": "gpt-emulated", "object": "model", "created": 0, "owned_by": "system" }] }),
            ),
            _ => Reply::json(
                401,
                json!({ "error": { "message": "Incorrect API key provided.", "type": "invalid_request_error", "code": "invalid_api_key" } }),
            ),
        },
        // Anthropic "List Models" (platform.claude.com/docs/en/api/models):
        // `x-api-key` and `anthropic-version` are required; errors are
        // `{"type":"error","error":{"type":"authentication_error",…}}` with 401.
        (Service::Anthropic, "GET", "v1/models") => {
            if r.header("anthropic-version").is_none() {
                return Some(Reply::json(
                    400,
                    json!({ "type": "error", "error": { "type": "invalid_request_error", "message": "anthropic-version header is required" } }),
                ));
            }
            match check(r.header("x-api-key")) {
                Auth::Live => Reply::json(
                    200,
                    json!({ "data": [{ "id": "claude-emulated", "type": "model", "display_name": "Claude (emulated)", "created_at": "2026-01-01T00:00:00Z" }], "has_more": false, "first_id": "claude-emulated", "last_id": "claude-emulated" }),
                ),
                _ => Reply::json(
                    401,
                    json!({ "type": "error", "error": { "type": "authentication_error", "message": "invalid x-api-key" } }),
                ),
            }
        }
        // Slack `auth.test` (docs.slack.dev/reference/methods/auth.test):
        // always HTTP 200; `ok:false` with `invalid_auth` for an unknown
        // token, `token_revoked` for a revoked one.
        (Service::Slack, "POST", "api/auth.test") => match check(bearer) {
            Auth::Live => Reply::json(
                200,
                json!({ "ok": true, "url": "https://emulated.slack.com/", "team": "Emulated", "user": "bot", "team_id": "T0", "user_id": "U0" }),
            ),
            Auth::Revoked => Reply::json(200, json!({ "ok": false, "error": "token_revoked" })),
            Auth::Unknown => Reply::json(200, json!({ "ok": false, "error": "invalid_auth" })),
        },
        // GitHub "Get rate limit status for the authenticated user"
        // (docs.github.com/rest/rate-limit): 401 `Bad credentials` otherwise.
        (Service::Github, "GET", "rate_limit") => match check(bearer) {
            Auth::Live => Reply::json(
                200,
                json!({ "resources": { "core": { "limit": 5000, "remaining": 4999, "reset": 1795437600, "used": 1 } }, "rate": { "limit": 5000, "remaining": 4999, "reset": 1795437600, "used": 1 } }),
            ),
            _ => Reply::json(
                401,
                json!({ "message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401" }),
            ),
        },
        // Stripe "Retrieve balance" (docs.stripe.com/api/balance/balance_retrieve);
        // an invalid or revoked key is a 401 `invalid_request_error`
        // (docs.stripe.com/api/errors). The real message masks the key; ours omits it.
        (Service::Stripe, "GET", "v1/balance") => match check(bearer) {
            Auth::Live => Reply::json(
                200,
                json!({ "object": "balance", "available": [{ "amount": 0, "currency": "usd" }], "pending": [], "livemode": false }),
            ),
            _ => Reply::json(
                401,
                json!({ "error": { "type": "invalid_request_error", "message": "Invalid API Key provided." } }),
            ),
        },
        // Fly.io GraphQL `viewer` (fly-go resource_user.go). Fly-go treats an
        // unauthenticated call as HTTP 401 (error.go IsNotAuthenticatedError);
        // the body's wording is UNCONFIRMED.
        (Service::Fly, "POST", "graphql") => {
            let token = r
                .header("authorization")
                .map(|a| a.strip_prefix("FlyV1 ").or_else(|| a.strip_prefix("Bearer ")).unwrap_or(a));
            match check(token) {
                Auth::Live => Reply::json(200, json!({ "data": { "viewer": { "__typename": "User" } } })),
                _ => Reply::json(
                    401,
                    json!({ "errors": [{ "message": "You must be authenticated to view this.", "extensions": { "code": "UNAUTHORIZED" } }] }),
                ),
            }
        }
        // Pulumi Cloud "Get Current User" (pulumi.com/docs/reference/cloud-rest-api/users):
        // `Authorization: token …`; "401 if the token is missing or invalid" (api-basics).
        (Service::Pulumi, "GET", "api/user") => {
            match check(r.header("authorization").and_then(|a| a.strip_prefix("token "))) {
                Auth::Live => Reply::json(
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
