//! Named value formats (`format: openai`) and recognising what a value looks
//! like, so a finding can say "looks like a Slack bot token, expected an
//! OpenAI key" without showing a single character of the value: the prefixes
//! used here are the vendors' public, documented token prefixes.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Openai,
    Anthropic,
    SlackBot,
    SlackApp,
    SlackUser,
    Github,
    Fly,
    Pulumi,
    Stripe,
    AwsAccessKeyId,
    Url,
    PostgresUrl,
    Jwt,
    Pem,
    Uuid,
    Hex,
}

/// Token kinds recognisable by a public prefix, most specific first.
const PREFIXES: &[(&str, Format)] = &[
    ("sk-ant-", Format::Anthropic),
    ("sk_live_", Format::Stripe),
    ("sk_test_", Format::Stripe),
    ("rk_live_", Format::Stripe),
    ("rk_test_", Format::Stripe),
    ("sk-", Format::Openai),
    ("xoxb-", Format::SlackBot),
    ("xapp-", Format::SlackApp),
    ("xoxp-", Format::SlackUser),
    ("github_pat_", Format::Github),
    ("ghp_", Format::Github),
    ("gho_", Format::Github),
    ("ghs_", Format::Github),
    ("ghu_", Format::Github),
    ("FlyV1 fm2_", Format::Fly),
    ("FlyV1 fm1r_", Format::Fly),
    ("FlyV1 fm1a_", Format::Fly),
    ("fm2_", Format::Fly),
    ("fm1r_", Format::Fly),
    ("fm1a_", Format::Fly),
    ("fo1_", Format::Fly),
    ("pul-", Format::Pulumi),
    ("postgres://", Format::PostgresUrl),
    ("postgresql://", Format::PostgresUrl),
    ("-----BEGIN ", Format::Pem),
];

impl Format {
    pub const ALL: &'static [Format] = &[
        Format::Openai,
        Format::Anthropic,
        Format::SlackBot,
        Format::SlackApp,
        Format::SlackUser,
        Format::Github,
        Format::Fly,
        Format::Pulumi,
        Format::Stripe,
        Format::AwsAccessKeyId,
        Format::Url,
        Format::PostgresUrl,
        Format::Jwt,
        Format::Pem,
        Format::Uuid,
        Format::Hex,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Openai => "openai",
            Format::Anthropic => "anthropic",
            Format::SlackBot => "slack-bot",
            Format::SlackApp => "slack-app",
            Format::SlackUser => "slack-user",
            Format::Github => "github",
            Format::Fly => "fly",
            Format::Pulumi => "pulumi",
            Format::Stripe => "stripe",
            Format::AwsAccessKeyId => "aws-access-key-id",
            Format::Url => "url",
            Format::PostgresUrl => "postgres-url",
            Format::Jwt => "jwt",
            Format::Pem => "pem",
            Format::Uuid => "uuid",
            Format::Hex => "hex",
        }
    }

    /// What a user would call it, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Format::Openai => "an OpenAI API key (`sk-…`)",
            Format::Anthropic => "an Anthropic API key (`sk-ant-…`)",
            Format::SlackBot => "a Slack bot token (`xoxb-…`)",
            Format::SlackApp => "a Slack app-level token (`xapp-…`)",
            Format::SlackUser => "a Slack user token (`xoxp-…`)",
            Format::Github => "a GitHub token (`ghp_…` or `github_pat_…`)",
            Format::Fly => "a Fly.io token (`FlyV1 fm2_…` or `fo1_…`)",
            Format::Pulumi => "a Pulumi access token (`pul-…`)",
            Format::Stripe => "a Stripe secret key (`sk_live_…`)",
            Format::AwsAccessKeyId => "an AWS access key id (`AKIA…`)",
            Format::Url => "an http(s) URL",
            Format::PostgresUrl => "a PostgreSQL URL (`postgres://…`)",
            Format::Jwt => "a JWT (three base64url parts)",
            Format::Pem => "a PEM block (`-----BEGIN …-----`)",
            Format::Uuid => "a UUID",
            Format::Hex => "a hexadecimal string",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.iter().copied().find(|f| f.name() == s)
    }

    pub fn names() -> Vec<&'static str> {
        Format::ALL.iter().map(|f| f.name()).collect()
    }

    /// Does `v` have this format? Never fails loudly: the caller turns a
    /// `false` into a finding that names the format, not the value.
    pub fn matches(self, v: &str) -> bool {
        match self {
            Format::Openai => v.starts_with("sk-") && !v.starts_with("sk-ant-") && v.len() > 3,
            Format::Anthropic => v.starts_with("sk-ant-") && v.len() > 7,
            Format::SlackBot => v.starts_with("xoxb-"),
            Format::SlackApp => v.starts_with("xapp-"),
            Format::SlackUser => v.starts_with("xoxp-"),
            Format::Github => ["ghp_", "github_pat_", "gho_", "ghs_", "ghu_"].iter().any(|p| v.starts_with(p)),
            Format::Fly => {
                let t = v.strip_prefix("FlyV1 ").unwrap_or(v);
                ["fm2_", "fm1r_", "fm1a_", "fo1_"].iter().any(|p| t.starts_with(p))
            }
            Format::Pulumi => v.starts_with("pul-"),
            Format::Stripe => ["sk_live_", "sk_test_", "rk_live_", "rk_test_"].iter().any(|p| v.starts_with(p)),
            Format::AwsAccessKeyId => {
                v.len() == 20
                    && (v.starts_with("AKIA") || v.starts_with("ASIA"))
                    && v.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            }
            Format::Url => url_host(v, &["http://", "https://"]),
            Format::PostgresUrl => url_host(v, &["postgres://", "postgresql://"]),
            Format::Jwt => is_jwt(v),
            Format::Pem => is_pem(v),
            Format::Uuid => is_uuid(v),
            Format::Hex => !v.is_empty() && v.bytes().all(|b| b.is_ascii_hexdigit()),
        }
    }

    /// The format `v` appears to have, judged by public prefixes only.
    pub fn recognise(v: &str) -> Option<Format> {
        if let Some((_, f)) = PREFIXES.iter().find(|(p, _)| v.starts_with(p)) {
            return Some(*f);
        }
        if Format::Jwt.matches(v) {
            return Some(Format::Jwt);
        }
        if Format::Url.matches(v) {
            return Some(Format::Url);
        }
        None
    }

    /// Values of this kind legitimately end with a newline.
    pub fn allows_trailing_newline(self) -> bool {
        self == Format::Pem
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn url_host(v: &str, schemes: &[&str]) -> bool {
    let Some(rest) = schemes.iter().find_map(|s| v.strip_prefix(s)) else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if host_port.starts_with('[') {
        host_port.split(']').next().map(|h| h.trim_start_matches('[')).unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    !host.is_empty() && !v.chars().any(char::is_whitespace)
}

fn is_b64url(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_jwt(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    if parts.len() != 3 || !is_b64url(parts[0]) || !is_b64url(parts[1]) {
        return false;
    }
    if !(parts[2].is_empty() || is_b64url(parts[2])) {
        return false;
    }
    let Some(header) = crate::util::unb64url(parts[0]) else {
        return false;
    };
    serde_json::from_slice::<serde_json::Value>(&header)
        .ok()
        .and_then(|h| h.get("alg").map(|a| a.is_string()))
        .unwrap_or(false)
}

fn is_pem(v: &str) -> bool {
    let t = v.trim_end_matches(['\n', '\r']);
    let Some(first) = t.lines().next() else {
        return false;
    };
    let Some(last) = t.lines().last() else {
        return false;
    };
    let label = |line: &str, kind: &str| {
        line.strip_prefix(&format!("-----{kind} ")).and_then(|r| r.strip_suffix("-----")).map(str::to_owned)
    };
    match (label(first, "BEGIN"), label(last, "END")) {
        (Some(a), Some(b)) => a == b && t.lines().count() >= 3,
        _ => false,
    }
}

fn is_uuid(v: &str) -> bool {
    let groups: Vec<&str> = v.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_accepts_and_rejects() {
        let cases: &[(Format, &str, &str)] = &[
            (Format::Openai, "sk-proj-abc123", "sk-ant-abc"),
            (Format::Anthropic, "sk-ant-api03-abc", "sk-abc"),
            (Format::SlackBot, "xoxb-1-2-abc", "xapp-1"),
            (Format::SlackApp, "xapp-1-A1-abc", "xoxb-1"),
            (Format::Github, "github_pat_11AB", "gh_abc"),
            (Format::Fly, "FlyV1 fm2_abc", "FlyV1 abc"),
            (Format::Fly, "fo1_abc", "fm3_abc"),
            (Format::Pulumi, "pul-abc", "pulumi-abc"),
            (Format::Url, "https://api.example.com/v1", "https:///nohost"),
            (Format::PostgresUrl, "postgres://u:p@db:5432/x", "mysql://u@db/x"),
            (Format::Jwt, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "a.b.c"),
            (
                Format::Pem,
                "-----BEGIN KEY-----\nabc\n-----END KEY-----\n",
                "-----BEGIN KEY-----\nabc\n-----END OTHER-----",
            ),
            (Format::Uuid, "123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456"),
            (Format::AwsAccessKeyId, "AKIAIOSFODNN7EXAMPLE", "AKIAshort"),
            (Format::Hex, "deadBEEF01", "xyz"),
        ];
        for (f, good, bad) in cases {
            assert!(f.matches(good), "{f} should accept its example");
            assert!(!f.matches(bad), "{f} should reject its counter-example");
        }
    }

    #[test]
    fn recognises_public_prefixes() {
        assert_eq!(Format::recognise("xoxb-123"), Some(Format::SlackBot));
        assert_eq!(Format::recognise("sk-ant-x"), Some(Format::Anthropic));
        assert_eq!(Format::recognise("sk-x"), Some(Format::Openai));
        assert_eq!(Format::recognise("plainvalue"), None);
        for f in Format::ALL {
            assert_eq!(Format::parse(f.name()), Some(*f));
        }
    }
}
