//! The manifest's `probe:` vocabulary: which liveness probes exist and how a
//! setting is written. The calls themselves are in [`crate::probe`] (the
//! built-ins) and in the target kinds that contribute one ([`KindProbe`],
//! through [`super::Section::probe`]); the manifest only names them, and can
//! never say where a probe goes.

use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder};
use serde::{Serialize, Serializer};

use super::section::Sections;
use crate::formats::Format;

/// What a probe's answer says about the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The service accepted it.
    Live,
    /// The service refused it: invalid, revoked or expired. Says how (`HTTP 401`).
    Rejected(String),
    /// The credential works but may not be used from here or for this call
    /// (an IP allowlist, a region, a missing permission): how, and why.
    Refused { detail: String, reason: &'static str },
    /// An answer the service's documentation does not describe (`HTTP 403`).
    Unknown(String),
    /// No answer either way (rate limited, down, unreachable, timed out).
    Inconclusive(String),
}

/// A probe a target kind contributes (its section's
/// [`super::Section::probe`]): its service's one read-only "who am I" call.
/// It runs only where a secret names it (`probe: <name>`): no format maps to
/// it. Rate limits (429), 5xx and statuses outside 2xx–4xx are read the same
/// way for every probe; `read` reads the rest.
pub struct KindProbe {
    /// The name used in the manifest (`probe: <name>`) and in
    /// `SECRET_SYNC_PROBE_<NAME>_URL`.
    pub name: &'static str,
    pub title: &'static str,
    /// The service's own API host: the only place its values are ever sent.
    pub default_base: &'static str,
    /// The call, for the report (`GET /v2/user`).
    pub call: &'static str,
    /// The request asking who `value` (the third argument) belongs to, at
    /// `base` (the second). Read-only.
    pub request: fn(&Client, &str, &str) -> RequestBuilder,
    /// Reads a 2xx answer or a 4xx other than 429. Bodies are parsed for a
    /// verdict only, never shown.
    pub read: fn(u16, &HeaderMap, &[u8]) -> Verdict,
}

impl std::fmt::Debug for KindProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindProbe").field("name", &self.name).finish_non_exhaustive()
    }
}

/// A probe: a built-in service's "who am I" call, or a target kind's.
/// Compared, hashed, ordered and serialized by name.
#[derive(Debug, Clone, Copy)]
pub enum Service {
    Openai,
    Anthropic,
    Slack,
    Github,
    Stripe,
    Fly,
    Pulumi,
    /// A target kind's probe.
    Kind(&'static KindProbe),
}

impl PartialEq for Service {
    fn eq(&self, other: &Service) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Service {}

impl std::hash::Hash for Service {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl PartialOrd for Service {
    fn partial_cmp(&self, other: &Service) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Service {
    fn cmp(&self, other: &Service) -> std::cmp::Ordering {
        self.name().cmp(other.name())
    }
}

impl Serialize for Service {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl Service {
    /// The built-in probes.
    pub const ALL: [Service; 7] = [
        Service::Openai,
        Service::Anthropic,
        Service::Slack,
        Service::Github,
        Service::Stripe,
        Service::Fly,
        Service::Pulumi,
    ];

    /// Every probe: the built-ins, then those the target `kinds` contribute.
    pub fn all(kinds: &Sections) -> Vec<Service> {
        Service::ALL.into_iter().chain(kinds.iter().filter_map(|k| k.probe()).map(Service::Kind)).collect()
    }

    /// The name used in the manifest (`probe: openai`).
    pub fn name(self) -> &'static str {
        match self {
            Service::Openai => "openai",
            Service::Anthropic => "anthropic",
            Service::Slack => "slack",
            Service::Github => "github",
            Service::Stripe => "stripe",
            Service::Fly => "fly",
            Service::Pulumi => "pulumi",
            Service::Kind(k) => k.name,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Service::Openai => "OpenAI",
            Service::Anthropic => "Anthropic",
            Service::Slack => "Slack",
            Service::Github => "GitHub",
            Service::Stripe => "Stripe",
            Service::Fly => "Fly.io",
            Service::Pulumi => "Pulumi Cloud",
            Service::Kind(k) => k.title,
        }
    }

    /// The probe named `s` among the built-ins and the `kinds`' probes.
    pub fn parse(s: &str, kinds: &Sections) -> Option<Service> {
        Service::all(kinds).into_iter().find(|x| x.name() == s)
    }

    /// Every probe's name, for messages.
    pub fn names(kinds: &Sections) -> Vec<&'static str> {
        Service::all(kinds).iter().map(|s| s.name()).collect()
    }

    /// The built-in probe for values of a format, if the format has one.
    pub fn for_format(f: Format) -> Option<Service> {
        match f {
            Format::Openai => Some(Service::Openai),
            Format::Anthropic => Some(Service::Anthropic),
            Format::SlackBot | Format::SlackApp | Format::SlackUser => Some(Service::Slack),
            Format::Github => Some(Service::Github),
            Format::Stripe => Some(Service::Stripe),
            Format::Fly => Some(Service::Fly),
            Format::Pulumi => Some(Service::Pulumi),
            _ => None,
        }
    }
}

/// A `probe:` setting in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// `false`: never probe.
    Off,
    /// `true`: the built-in probe of the secret's `format`.
    Auto,
    /// `probe: openai`: that probe (a built-in or a target kind's).
    Named(Service),
}

/// Why a manifest may not say where a probe goes.
pub const NO_CUSTOM: &str = "probes cannot be sent to a URL or host named in the manifest: a pull request can edit the manifest, and would receive the value; use `true`, `false` or a built-in probe";

/// Why a `probe:` value is refused (the manifest loader puts the place first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeSettingError {
    #[error("must be `true` or `false` here (a probe is named per secret), found `{text}`")]
    NamedHere { text: String },
    /// A URL or host: refused, because a pull request could redirect a value.
    #[error("`{text}` is refused: {NO_CUSTOM} ({builtins})")]
    Custom { text: String, builtins: String },
    #[error("must be {expected}, found `{text}`{hint}")]
    Invalid { expected: String, text: String, hint: String },
}

/// [`setting`] with the message as text, for the manifest loader's
/// diagnostics (which tell a refused custom probe by its words).
pub fn parse_setting(text: &str, coercible: bool, named: bool, kinds: &Sections) -> Result<Setting, String> {
    setting(text, coercible, named, kinds).map_err(|e| e.to_string())
}

/// Reads a `probe:` scalar. `coercible` is false for quoted strings (so
/// `"true"` is not a boolean); `named` allows a probe's name (secrets only):
/// a built-in's or one of the target `kinds`' probes.
pub fn setting(text: &str, coercible: bool, named: bool, kinds: &Sections) -> Result<Setting, ProbeSettingError> {
    let builtins = Service::names(kinds).join(", ");
    match (coercible, text) {
        (true, "true") => return Ok(Setting::Auto),
        (true, "false") => return Ok(Setting::Off),
        _ => {}
    }
    if let Some(s) = Service::parse(text, kinds) {
        return if named {
            Ok(Setting::Named(s))
        } else {
            Err(ProbeSettingError::NamedHere { text: text.to_string() })
        };
    }
    if text.contains(['/', ':', '.', '@']) {
        return Err(ProbeSettingError::Custom { text: text.to_string(), builtins });
    }
    let hint = super::suggest::hint(text, Service::names(kinds));
    let expected = if named { format!("`true`, `false` or one of: {builtins}") } else { "`true` or `false`".into() };
    Err(ProbeSettingError::Invalid { expected, text: text.to_string(), hint })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: &Sections = crate::targets::SECTIONS;

    #[test]
    fn refusals_keep_their_words() {
        let names = Service::names(KINDS).join(", ");
        assert_eq!(
            setting("api.evil.example", false, true, KINDS).unwrap_err(),
            ProbeSettingError::Custom { text: "api.evil.example".into(), builtins: names.clone() }
        );
        assert_eq!(
            parse_setting("api.evil.example", false, true, KINDS).unwrap_err(),
            format!("`api.evil.example` is refused: {NO_CUSTOM} ({names})")
        );
        assert_eq!(parse_setting("yes", true, false, KINDS).unwrap_err(), "must be `true` or `false`, found `yes`");
    }

    #[test]
    fn a_kinds_probe_is_named_after_the_built_ins_and_only_where_it_is_handed() {
        let names = Service::names(KINDS);
        assert_eq!(names[..7], ["openai", "anthropic", "slack", "github", "stripe", "fly", "pulumi"]);
        let kind = names[7..].to_vec();
        assert!(!kind.is_empty(), "a target kind contributes a probe");
        let name = kind[0];
        let Ok(Setting::Named(s)) = setting(name, false, true, KINDS) else { panic!("`{name}` did not resolve") };
        assert!(matches!(s, Service::Kind(k) if k.name == name));
        assert_eq!(s, Service::parse(name, KINDS).unwrap());
        assert_eq!(serde_json::to_value(s).unwrap(), name);
        assert!(matches!(setting(name, false, false, KINDS), Err(ProbeSettingError::NamedHere { .. })));
        // Without the kinds that contribute it, the name is unknown.
        assert!(matches!(setting(name, false, true, &[]), Err(ProbeSettingError::Invalid { .. })));
    }
}
