//! How each probed service's refusals are read, from its documented error
//! bodies (docs/service-facts.md, "Credential probes"): **rejected** (the
//! credential is invalid, revoked or expired: held back), **refused** (the
//! credential works but may not be used from here, or not for this call: a
//! warning naming the reason, not held back) or **unknown** (an answer the
//! service's documentation does not describe: a notice). Only our own fixed
//! words reach the report: a body can echo part of the key (Stripe's
//! "The provided key 'rk_test_…'"), so no body text is ever repeated.

use serde_json::Value as Json;

use super::service::{Service, Verdict};

/// Reads an error answer (a 4xx other than 429, or Slack's `ok: false`).
pub fn refusal(svc: Service, status: u16, body: &[u8]) -> Verdict {
    let j = serde_json::from_slice::<Json>(body).unwrap_or(Json::Null);
    let found = match svc {
        Service::Openai => openai(status, &j),
        Service::Anthropic => anthropic(status, &j),
        Service::Stripe => stripe(status, &j),
        Service::Github => github(status, &j),
        Service::Slack if status == 200 => return slack(&j),
        Service::Slack => None,
        Service::Fly => fly(status, &j),
        Service::Pulumi => pulumi(status, &j),
        // A target kind reads its own answers (`Service::verdict`).
        Service::Kind(_) => None,
    };
    found.unwrap_or_else(|| Verdict::Unknown(format!("HTTP {status}")))
}

fn rejected(detail: &str) -> Option<Verdict> {
    Some(Verdict::Rejected(detail.to_string()))
}

fn refused(detail: &str, reason: &'static str) -> Option<Verdict> {
    Some(Verdict::Refused { detail: detail.to_string(), reason })
}

fn lower(v: &Json) -> String {
    v.as_str().unwrap_or_default().to_ascii_lowercase()
}

/// OpenAI's error-codes guide: 401 "Incorrect API key provided" (code
/// `invalid_api_key`) and "Invalid Authentication" are bad keys; 401 "IP not
/// authorized" (the project's or organization's IP allowlist) and 403
/// "Country, region, or territory not supported" come with a working key.
/// Bodies are `{"error": {"message", "type", "param", "code"}}`. The code of
/// the IP answer is not documented, so its message is what is read.
fn openai(status: u16, j: &Json) -> Option<Verdict> {
    let e = j.get("error").filter(|e| e.is_object())?;
    let (code, msg) = (lower(&e["code"]), lower(&e["message"]));
    match status {
        401 if msg.contains("ip not authorized") || msg.contains("ip allowlist") => refused(
            "HTTP 401 `IP not authorized`",
            "the runner's IP address is not on the project's or organization's IP allowlist",
        ),
        401 if code == "invalid_api_key"
            || msg.starts_with("incorrect api key provided")
            || msg.starts_with("invalid authentication") =>
        {
            rejected("HTTP 401 `invalid_api_key`")
        }
        403 if code == "unsupported_country_region_territory"
            || msg.contains("country, region, or territory not supported") =>
        {
            refused(
                "HTTP 403 `unsupported_country_region_territory`",
                "OpenAI does not serve the country, region or territory the runner calls from",
            )
        }
        _ => None,
    }
}

/// Anthropic's API errors: `{"type": "error", "error": {"type", "message"}}`;
/// 401 `authentication_error` ("an issue with your API key") and 403
/// `permission_error` ("your API key does not have permission to use the
/// specified resource").
fn anthropic(status: u16, j: &Json) -> Option<Verdict> {
    match (status, j["error"]["type"].as_str()?) {
        (401, "authentication_error") => rejected("HTTP 401 `authentication_error`"),
        (403, "permission_error") => refused(
            "HTTP 403 `permission_error`",
            "the key works but may not list models (its organization's or workspace's settings)",
        ),
        _ => None,
    }
}

/// Stripe's "Errors": 401 "No valid API key provided"; 403 "The API key
/// doesn't have permissions to perform the request" (a restricted key without
/// the Balance read permission; Stripe answers 403 here since API version
/// 2016-10-19). Every error body is `{"error": {"type", "message", …}}`.
fn stripe(status: u16, j: &Json) -> Option<Verdict> {
    j["error"]["type"].as_str()?;
    match status {
        401 if j["error"]["code"] == "api_key_expired" => rejected("HTTP 401 `api_key_expired`"),
        401 => rejected("HTTP 401"),
        403 => refused(
            "HTTP 403",
            "the key works but lacks the permission this call needs (a restricted key without Balance read)",
        ),
        _ => None,
    }
}

/// GitHub REST: 401 `Bad credentials` for an invalid, revoked or expired
/// token; 403 naming the organization's IP allow list ("Although you appear
/// to have the correct authorization credentials, …") or its SAML
/// enforcement comes with a working token. Bodies are `{"message",
/// "documentation_url"}`. Rate limits (403 with rate-limit headers) are read
/// before this.
fn github(status: u16, j: &Json) -> Option<Verdict> {
    let msg = lower(j.get("message")?);
    match status {
        401 => rejected("HTTP 401 `Bad credentials`"),
        403 if msg.contains("ip allow list") => {
            refused("HTTP 403 (IP allow list)", "an organization's IP allow list does not include the runner's address")
        }
        403 if msg.contains("saml enforcement") => refused(
            "HTTP 403 (SAML enforcement)",
            "the token is not authorized for an organization's SAML single sign-on",
        ),
        _ => None,
    }
}

/// Slack `auth.test` answers HTTP 200 `{"ok": false, "error": CODE}`. Codes
/// that say the token is dead reject it. `invalid_auth` is documented as
/// "either the provided token is invalid or the request originates from an IP
/// address disallowed from making the request": it cannot tell the two apart,
/// so it is a warning (the token may well work from an allowed address), as
/// is `accesslimited` ("access to this method is limited on the current
/// network"). Only known codes are ever repeated in the report.
fn slack(j: &Json) -> Verdict {
    const DEAD: &[&str] = &["not_authed", "account_inactive", "token_revoked", "token_expired", "team_disabled"];
    match j["error"].as_str() {
        Some(code) if DEAD.contains(&code) => Verdict::Rejected(format!("`{code}`")),
        Some("invalid_auth") => Verdict::Refused {
            detail: "`invalid_auth`".into(),
            reason: "Slack gives this for an invalid token and for a call from an IP address the token may not be used from, and does not say which",
        },
        Some("accesslimited") => Verdict::Refused {
            detail: "`accesslimited`".into(),
            reason: "Slack limits this method on the runner's network",
        },
        Some("ratelimited") => Verdict::Inconclusive("rate limited (`ratelimited`)".into()),
        _ => Verdict::Unknown("`ok: false` with another error code".into()),
    }
}

/// Fly.io's GraphQL API: fly-go treats HTTP 401 as "not authenticated"
/// (`IsNotAuthenticatedError`); a GraphQL error whose code or message says
/// unauthorized/unauthenticated is the same. Fly documents no "valid but not
/// allowed" answer for `viewer`, so nothing here is a refusal.
fn fly(status: u16, j: &Json) -> Option<Verdict> {
    if status == 401 || fly_unauthenticated(j) {
        return rejected(&format!("HTTP {status}, not authenticated"));
    }
    None
}

pub(super) fn fly_unauthenticated(j: &Json) -> bool {
    j["errors"].as_array().is_some_and(|errs| {
        errs.iter().any(|e| {
            let code = e["extensions"]["code"].as_str().unwrap_or_default().to_ascii_uppercase();
            let msg = lower(&e["message"]);
            code == "UNAUTHORIZED"
                || code == "UNAUTHENTICATED"
                || msg.contains("authenticat")
                || msg.contains("unauthorized")
        })
    })
}

/// Pulumi Cloud: `GET /api/user` "will return a 401 status code if the token
/// is missing or invalid"; errors are `{"code", "message"}`. No "valid but
/// not allowed" answer is documented for it.
fn pulumi(status: u16, j: &Json) -> Option<Verdict> {
    j.get("message")?;
    (status == 401).then(|| Verdict::Rejected("HTTP 401".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(svc: Service, status: u16, body: &str) -> Verdict {
        refusal(svc, status, body.as_bytes())
    }

    fn is_refused(v: &Verdict) -> bool {
        matches!(v, Verdict::Refused { .. })
    }

    #[test]
    fn openai_tells_a_bad_key_from_an_address_or_region_it_refuses() {
        let bad = r#"{"error":{"message":"Incorrect API key provided: sk-proj-****0000.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        assert!(matches!(read(Service::Openai, 401, bad), Verdict::Rejected(_)));
        let ip = r#"{"error":{"message":"IP not authorized","type":"invalid_request_error","param":null,"code":null}}"#;
        assert!(is_refused(&read(Service::Openai, 401, ip)));
        let region = r#"{"error":{"code":"unsupported_country_region_territory","message":"Country, region, or territory not supported","param":null,"type":"request_forbidden"}}"#;
        assert!(is_refused(&read(Service::Openai, 403, region)));
        assert!(matches!(read(Service::Openai, 401, ""), Verdict::Unknown(_)));
        assert!(matches!(read(Service::Openai, 403, r#"{"error":{"message":"nope"}}"#), Verdict::Unknown(_)));
    }

    #[test]
    fn each_other_service_reads_its_own_bodies() {
        let auth = r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#;
        assert!(matches!(read(Service::Anthropic, 401, auth), Verdict::Rejected(_)));
        let perm = r#"{"type":"error","error":{"type":"permission_error","message":"no"}}"#;
        assert!(is_refused(&read(Service::Anthropic, 403, perm)));
        assert!(matches!(read(Service::Anthropic, 403, auth), Verdict::Unknown(_)));

        let stripe = r#"{"error":{"type":"invalid_request_error","message":"x"}}"#;
        assert!(matches!(read(Service::Stripe, 401, stripe), Verdict::Rejected(_)));
        assert!(is_refused(&read(Service::Stripe, 403, stripe)));
        assert!(matches!(read(Service::Stripe, 403, "<html>Forbidden</html>"), Verdict::Unknown(_)));

        assert!(matches!(read(Service::Github, 401, r#"{"message":"Bad credentials"}"#), Verdict::Rejected(_)));
        let ip = r#"{"message":"Although you appear to have the correct authorization credentials, the `o` organization has an IP allow list enabled, and your IP address is not permitted to access this resource."}"#;
        assert!(is_refused(&read(Service::Github, 403, ip)));
        let tries = r#"{"message":"Maximum number of login attempts exceeded. Please try again later."}"#;
        assert!(matches!(read(Service::Github, 403, tries), Verdict::Unknown(_)));

        assert!(matches!(read(Service::Slack, 200, r#"{"ok":false,"error":"token_revoked"}"#), Verdict::Rejected(_)));
        assert!(is_refused(&read(Service::Slack, 200, r#"{"ok":false,"error":"invalid_auth"}"#)));
        assert!(matches!(read(Service::Slack, 200, r#"{"ok":false,"error":"x"}"#), Verdict::Unknown(_)));

        assert!(matches!(read(Service::Fly, 401, ""), Verdict::Rejected(_)));
        assert!(matches!(read(Service::Fly, 403, r#"{"errors":[{"message":"x"}]}"#), Verdict::Unknown(_)));
        assert!(matches!(read(Service::Pulumi, 401, r#"{"code":401,"message":"Unauthorized"}"#), Verdict::Rejected(_)));
        assert!(matches!(read(Service::Pulumi, 403, r#"{"code":403,"message":"Forbidden"}"#), Verdict::Unknown(_)));
    }
}
