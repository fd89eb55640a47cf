//! The built-in probes: for each service, one cheap, read-only, documented
//! "who am I" call, and how its answer is read. The value is sent only to the
//! service's own host (`default_base`), over HTTPS; tests point the base at
//! an emulator through `SECRET_SYNC_PROBE_<SERVICE>_URL`, never the manifest.

use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder};
use serde_json::Value as Json;

pub use crate::manifest::probe::{Service, Verdict};

impl Service {
    /// The service's own API host: the only place its values are ever sent.
    pub fn default_base(self) -> &'static str {
        match self {
            Service::Openai => "https://api.openai.com",
            Service::Anthropic => "https://api.anthropic.com",
            Service::Slack => "https://slack.com",
            Service::Github => "https://api.github.com",
            Service::Stripe => "https://api.stripe.com",
            // Fly's GraphQL API (fly-go `resource_user.go`, `viewer`).
            Service::Fly => "https://api.fly.io",
            Service::Pulumi => crate::targets::esc::DEFAULT_API,
            Service::Kind(k) => k.default_base,
        }
    }

    /// The variable that points this probe elsewhere (tests: an emulator).
    pub fn env_var(self) -> String {
        format!("{}{}_URL", crate::env::EnvVars::SECRET_SYNC_PROBE_URL_PREFIX, self.name().to_ascii_uppercase())
    }

    /// The call, for the report (`GET /v1/models`).
    pub fn call(self) -> &'static str {
        match self {
            Service::Openai | Service::Anthropic => "GET /v1/models",
            Service::Slack => "POST /api/auth.test",
            Service::Github => "GET /rate_limit",
            Service::Stripe => "GET /v1/balance",
            Service::Fly => "POST /graphql { viewer }",
            Service::Pulumi => "GET /api/user",
            Service::Kind(k) => k.call,
        }
    }

    /// The request that asks the service who `value` belongs to. Read-only
    /// everywhere; none of these calls changes anything at the service.
    pub fn request(self, client: &Client, base: &str, value: &str) -> RequestBuilder {
        let url = |path: &str| crate::http::join(base, path);
        match self {
            // OpenAI "List models": GET https://api.openai.com/v1/models with
            // `Authorization: Bearer KEY` (developers.openai.com/api/reference,
            // resources/models/methods/list).
            Service::Openai => client.get(url("/v1/models")).bearer_auth(value),
            // Anthropic "List Models": GET /v1/models with `x-api-key` and
            // `anthropic-version` (platform.claude.com/docs/en/api/models and
            // the API overview's required headers).
            Service::Anthropic => {
                client.get(url("/v1/models")).header("x-api-key", value).header("anthropic-version", "2023-06-01")
            }
            // Slack `auth.test` "Checks authentication & identity", no scopes
            // required, token as an Authorization header
            // (docs.slack.dev/reference/methods/auth.test).
            Service::Slack => client
                .post(url("/api/auth.test"))
                .bearer_auth(value)
                .header("Content-Type", "application/x-www-form-urlencoded"),
            // GitHub "Get rate limit status for the authenticated user":
            // GET /rate_limit; "accessing this endpoint does not count against
            // your REST API rate limit", and it works for every token kind,
            // where GET /user refuses installation tokens
            // (docs.github.com/rest/rate-limit).
            Service::Github => client
                .get(url("/rate_limit"))
                .bearer_auth(value)
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28"),
            // Stripe "Retrieve balance": GET /v1/balance, "based on the
            // authentication that was used" (docs.stripe.com/api/balance;
            // stripe-node resources/Balance.js). Bearer auth is documented
            // beside basic auth (docs.stripe.com/api/authentication).
            Service::Stripe => client.get(url("/v1/balance")).bearer_auth(value),
            // Fly.io: GraphQL `viewer`, as fly-go's GetCurrentUser
            // (resource_user.go) asks it; `viewer` is a User or a Macaroon, so
            // only `__typename` is selected, which every GraphQL type has.
            // Authorization as fly-go's AuthorizationHeader builds it.
            Service::Fly => client
                .post(url("/graphql"))
                .header("Authorization", crate::targets::fly::authorization(value))
                .json(&serde_json::json!({ "query": "query { viewer { __typename } }" })),
            // Pulumi Cloud "Get Current User": GET /api/user with
            // `Authorization: token TOKEN` and `Accept: application/vnd.pulumi+8`;
            // "will return a 401 status code if the token is missing or
            // invalid" (pulumi.com/docs/reference/cloud-rest-api/api-basics, /users).
            Service::Pulumi => client
                .get(url("/api/user"))
                .header("Authorization", format!("token {value}"))
                .header("Accept", "application/vnd.pulumi+8"),
            // A target kind's own call (its folder cites its source).
            Service::Kind(k) => (k.request)(client, base, value),
        }
    }

    /// Reads an answer. Bodies are parsed for a verdict only, never shown.
    pub fn verdict(self, status: u16, headers: &HeaderMap, body: &[u8]) -> Verdict {
        let limited = || Verdict::Inconclusive(format!("rate limited (HTTP {status})"));
        match status {
            200..=299 => match self {
                Service::Slack => slack(body),
                Service::Fly => fly(body),
                Service::Kind(k) => (k.read)(status, headers, body),
                _ => Verdict::Live,
            },
            // GitHub answers an exhausted (or secondary) rate limit with 403;
            // it says so in its headers (docs.github.com, "Rate limits for the
            // REST API"): that is not a rejected token.
            403 if matches!(self, Service::Github)
                && (headers.get("x-ratelimit-remaining").is_some_and(|v| v == "0")
                    || headers.contains_key("retry-after")) =>
            {
                limited()
            }
            429 => limited(),
            400..=499 => match self {
                Service::Kind(k) => (k.read)(status, headers, body),
                _ => super::answers::refusal(self, status, body),
            },
            500..=599 => Verdict::Inconclusive(format!("the service answered HTTP {status}")),
            _ => Verdict::Unknown(format!("HTTP {status}")),
        }
    }
}

/// `auth.test` answers 200, with `{"ok": true, …}` for a working token.
fn slack(body: &[u8]) -> Verdict {
    let Ok(j) = serde_json::from_slice::<Json>(body) else {
        return Verdict::Unknown("auth.test did not answer JSON".into());
    };
    if j["ok"] == true {
        return Verdict::Live;
    }
    super::answers::refusal(Service::Slack, 200, body)
}

/// Fly's GraphQL: `data.viewer` for a working token; its errors arrive with
/// 200 too (read as any refusal is).
fn fly(body: &[u8]) -> Verdict {
    let Ok(j) = serde_json::from_slice::<Json>(body) else {
        return Verdict::Unknown("the GraphQL API did not answer JSON".into());
    };
    if j["data"]["viewer"].is_object() {
        return Verdict::Live;
    }
    if super::answers::fly_unauthenticated(&j) {
        return Verdict::Rejected("not authenticated (a GraphQL error)".into());
    }
    Verdict::Unknown("the GraphQL API answered without a viewer".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::Format;

    #[test]
    fn statuses_map_to_verdicts() {
        let h = HeaderMap::new();
        assert_eq!(Service::Openai.verdict(200, &h, b"{}"), Verdict::Live);
        assert!(matches!(Service::Openai.verdict(401, &h, b""), Verdict::Unknown(_)), "a bare 401 is not OpenAI's");
        assert!(matches!(Service::Stripe.verdict(429, &h, b""), Verdict::Inconclusive(_)));
        assert!(matches!(Service::Anthropic.verdict(529, &h, b""), Verdict::Inconclusive(_)));
        let mut limited = HeaderMap::new();
        limited.insert("x-ratelimit-remaining", "0".parse().unwrap());
        assert!(matches!(Service::Github.verdict(403, &limited, b""), Verdict::Inconclusive(_)));
        assert!(matches!(Service::Github.verdict(403, &h, b""), Verdict::Unknown(_)));
        assert!(matches!(Service::Pulumi.verdict(418, &h, b""), Verdict::Unknown(_)));
    }

    #[test]
    fn slack_and_fly_read_their_bodies() {
        let h = HeaderMap::new();
        assert_eq!(Service::Slack.verdict(200, &h, br#"{"ok":true}"#), Verdict::Live);
        assert!(matches!(
            Service::Slack.verdict(200, &h, br#"{"ok":false,"error":"token_revoked"}"#),
            Verdict::Rejected(_)
        ));
        assert!(matches!(Service::Slack.verdict(200, &h, br#"{"ok":false,"error":"x"}"#), Verdict::Unknown(_)));
        assert_eq!(Service::Fly.verdict(200, &h, br#"{"data":{"viewer":{"__typename":"User"}}}"#), Verdict::Live);
        let refused = br#"{"errors":[{"message":"You must be authenticated to view this."}]}"#;
        assert!(matches!(Service::Fly.verdict(200, &h, refused), Verdict::Rejected(_)));
        assert!(matches!(Service::Fly.verdict(200, &h, br#"{"data":null}"#), Verdict::Unknown(_)));
    }

    #[test]
    fn every_probed_format_has_a_service() {
        for f in Format::ALL {
            if let Some(s) = Service::for_format(*f) {
                assert_eq!(Service::parse(s.name(), &[]), Some(s));
            }
        }
        for s in Service::all(crate::targets::SECTIONS) {
            assert!(s.default_base().starts_with("https://"), "{s:?}");
            assert_eq!(Service::parse(s.name(), crate::targets::SECTIONS), Some(s));
        }
    }
}
