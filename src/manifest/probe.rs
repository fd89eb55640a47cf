//! The manifest's `probe:` vocabulary: which built-in liveness probes exist
//! and how a setting is written. The calls themselves are in
//! [`crate::probe`]; the manifest only names them, and can never say where a
//! probe goes.

use serde::Serialize;

use crate::formats::Format;

/// A built-in probe: one service's "who am I" call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
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
        }
    }

    pub fn parse(s: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|x| x.name() == s)
    }

    pub fn names() -> Vec<&'static str> {
        Service::ALL.iter().map(|s| s.name()).collect()
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
    /// `probe: openai`: that built-in probe.
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
pub fn parse_setting(text: &str, coercible: bool, named: bool) -> Result<Setting, String> {
    setting(text, coercible, named).map_err(|e| e.to_string())
}

/// Reads a `probe:` scalar. `coercible` is false for quoted strings (so
/// `"true"` is not a boolean); `named` allows a service name (secrets only).
pub fn setting(text: &str, coercible: bool, named: bool) -> Result<Setting, ProbeSettingError> {
    let builtins = Service::names().join(", ");
    match (coercible, text) {
        (true, "true") => return Ok(Setting::Auto),
        (true, "false") => return Ok(Setting::Off),
        _ => {}
    }
    if let Some(s) = Service::parse(text) {
        return if named {
            Ok(Setting::Named(s))
        } else {
            Err(ProbeSettingError::NamedHere { text: text.to_string() })
        };
    }
    if text.contains(['/', ':', '.', '@']) {
        return Err(ProbeSettingError::Custom { text: text.to_string(), builtins });
    }
    let hint = super::suggest::hint(text, Service::ALL.iter().map(|s| s.name()));
    let expected = if named { format!("`true`, `false` or one of: {builtins}") } else { "`true` or `false`".into() };
    Err(ProbeSettingError::Invalid { expected, text: text.to_string(), hint })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_their_words() {
        let names = Service::names().join(", ");
        assert_eq!(
            setting("api.evil.example", false, true).unwrap_err(),
            ProbeSettingError::Custom { text: "api.evil.example".into(), builtins: names.clone() }
        );
        assert_eq!(
            parse_setting("api.evil.example", false, true).unwrap_err(),
            format!("`api.evil.example` is refused: {NO_CUSTOM} ({names})")
        );
        assert_eq!(parse_setting("yes", true, false).unwrap_err(), "must be `true` or `false`, found `yes`");
    }
}
