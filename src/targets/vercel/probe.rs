//! Vercel's token probe: `GET /v2/user` with `Authorization: Bearer <token>`
//! on Vercel's own API host, with no team (as the CLI's `fetchUser` asks
//! it). Vercel tokens have no recognisable format, so it runs only where a
//! secret says `probe: vercel`. How its answers are read:
//! docs/service-facts.md, "Vercel" (Token probe, Errors).

use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder};
use serde_json::Value as Json;

use crate::manifest::probe::{KindProbe, Verdict};

pub static PROBE: KindProbe = KindProbe {
    name: "vercel",
    title: "Vercel",
    default_base: super::DEFAULT_API,
    call: "GET /v2/user",
    request,
    read,
};

/// SDK `userGetAuthUser`: `GET /v2/user`, read-only, the token as a bearer.
fn request(client: &Client, base: &str, value: &str) -> RequestBuilder {
    client.get(crate::http::join(base, "/v2/user")).bearer_auth(value)
}

/// 200 `{user: {…}}` (SDK `AuthUser`) or `{user: {…, limited: true}}`
/// (`AuthUserLimited`: a token that may not read the full user) is live.
/// Errors are `{"error": {"code", "message", …}}`: 403 with `invalidToken`
/// or `missingToken` is the CLI's `InvalidToken`, and 401 is read as invalid
/// too; 403 `forbidden` / `team_unauthorized` without those flags is a
/// working token that may not read its user (whether a team- or
/// project-scoped token gets it is UNCONFIRMED: read so that either way
/// only the flags hold a value back). Only `error.code` and the flags are
/// read, and only fixed words are repeated.
fn read(status: u16, _headers: &HeaderMap, body: &[u8]) -> Verdict {
    let j = serde_json::from_slice::<Json>(body).unwrap_or(Json::Null);
    if (200..300).contains(&status) {
        return if j["user"].is_object() {
            Verdict::Live
        } else {
            Verdict::Unknown(format!("HTTP {status} without a user"))
        };
    }
    let e = &j["error"];
    if !e.is_object() {
        return Verdict::Unknown(format!("HTTP {status}"));
    }
    match (status, e["code"].as_str()) {
        (403, _) if e["invalidToken"] == true => Verdict::Rejected("HTTP 403 `invalidToken`".into()),
        (403, _) if e["missingToken"] == true => Verdict::Rejected("HTTP 403 `missingToken`".into()),
        (401, _) => Verdict::Rejected("HTTP 401".into()),
        (403, Some(code @ ("forbidden" | "team_unauthorized"))) => Verdict::Refused {
            detail: format!("HTTP 403 `{code}`"),
            reason: "the token works but may not read its user (a token scoped to a team or a project, perhaps)",
        },
        _ => Verdict::Unknown(format!("HTTP {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::probe::Service;

    /// Through the common reader, as a run asks it (429 and 5xx are its).
    fn verdict(status: u16, body: &str) -> Verdict {
        Service::Kind(&PROBE).verdict(status, &HeaderMap::new(), body.as_bytes())
    }

    #[test]
    fn a_user_full_or_limited_is_live() {
        assert_eq!(verdict(200, r#"{"user":{"id":"u","username":"x","email":"e"}}"#), Verdict::Live);
        assert_eq!(verdict(200, r#"{"user":{"id":"u","username":"x","limited":true}}"#), Verdict::Live);
        assert!(matches!(verdict(200, r#"{"ok":true}"#), Verdict::Unknown(_)));
        assert!(matches!(verdict(200, "<html>"), Verdict::Unknown(_)));
    }

    #[test]
    fn only_the_token_flags_and_401_reject() {
        let invalid = r#"{"error":{"code":"forbidden","message":"The specified token is not valid.","invalidToken":true}}"#;
        assert_eq!(verdict(403, invalid), Verdict::Rejected("HTTP 403 `invalidToken`".into()));
        let missing = r#"{"error":{"code":"forbidden","message":"missing","missingToken":true}}"#;
        assert_eq!(verdict(403, missing), Verdict::Rejected("HTTP 403 `missingToken`".into()));
        assert_eq!(verdict(401, r#"{"error":{"code":"unauthorized","message":"x"}}"#), Verdict::Rejected("HTTP 401".into()));
        for code in ["forbidden", "team_unauthorized"] {
            let body = format!(r#"{{"error":{{"code":"{code}","message":"Not authorized"}}}}"#);
            assert!(
                matches!(verdict(403, &body), Verdict::Refused { ref detail, .. } if *detail == format!("HTTP 403 `{code}`")),
                "{code}"
            );
        }
        assert_eq!(verdict(403, r#"{"error":{"code":"sso_required","message":"x"}}"#), Verdict::Unknown("HTTP 403".into()));
        assert_eq!(verdict(403, "<html>Forbidden</html>"), Verdict::Unknown("HTTP 403".into()));
        assert_eq!(verdict(401, ""), Verdict::Unknown("HTTP 401".into()));
        assert_eq!(verdict(404, r#"{"error":{"code":"not_found","message":"x"}}"#), Verdict::Unknown("HTTP 404".into()));
    }

    #[test]
    fn rate_limits_and_outages_are_inconclusive() {
        let limited = r#"{"error":{"code":"rate_limited","message":"x","limit":{"remaining":0}}}"#;
        assert!(matches!(verdict(429, limited), Verdict::Inconclusive(_)));
        assert!(matches!(verdict(503, ""), Verdict::Inconclusive(_)));
    }

    #[test]
    fn the_request_is_a_bearer_get_of_the_user() {
        let r = request(&Client::new(), "https://api.vercel.com", "tok").build().unwrap();
        assert_eq!((r.method().as_str(), r.url().as_str()), ("GET", "https://api.vercel.com/v2/user"));
        assert_eq!(r.headers()["authorization"], "Bearer tok");
        assert!(r.body().is_none());
    }

    #[test]
    fn the_section_contributes_it() {
        let p = super::super::SECTION.probe().expect("a probe");
        assert!(std::ptr::eq(p, &PROBE));
        assert_eq!(Service::Kind(p).env_var(), "SECRET_SYNC_PROBE_VERCEL_URL");
        assert_eq!(Service::Kind(p).default_base(), "https://api.vercel.com");
    }

    fn manifest(probe: &str) -> Result<crate::manifest::Manifest, Vec<crate::diag::Diagnostic>> {
        let text = format!("version: 1\nsecrets:\n  VERCEL_TOKEN: {{ probe: {probe} }}\n");
        crate::manifest::parse(text.as_bytes(), "m.yml", crate::targets::SECTIONS)
    }

    #[test]
    fn a_manifest_names_it_and_an_unknown_name_lists_it() {
        use crate::manifest::probe::Setting;
        let m = manifest("vercel").expect("`probe: vercel` is accepted");
        assert!(matches!(m.secrets[0].probe, Some(Setting::Named(Service::Kind(k))) if std::ptr::eq(k, &PROBE)));
        let errors = manifest("vercell").unwrap_err();
        let messages: Vec<&str> = errors.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            ["`probe` of secret `VERCEL_TOKEN` must be `true`, `false` or one of: openai, anthropic, slack, github, stripe, fly, pulumi, vercel, found `vercell`; did you mean `vercel`?"]
        );
        // Without the kind that contributes it, the name is unknown.
        let text = "version: 1\nsecrets:\n  VERCEL_TOKEN: { probe: vercel }\n";
        assert!(crate::manifest::parse(text.as_bytes(), "m.yml", &[]).is_err());
    }
}
