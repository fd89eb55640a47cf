//! What a kind reads of the action's inputs: `INPUT_*` as the runner passes
//! them (read once by `crate::config`), and the small rules every input
//! follows (an empty string is "not set"; numbers and timeouts are checked
//! and named in errors).

use secrecy::SecretString;
use serde::de::DeserializeOwned;

/// The action's `INPUT_*` variables (names with the prefix, values UTF-8).
pub struct ActionVars(pub Vec<(String, String)>);

pub use crate::input::BadInput;

impl ActionVars {
    /// The inputs `T` declares (with serde's names: `#[serde(rename = "fly-token")]`).
    pub fn read<T: DeserializeOwned>(&self) -> Result<T, BadInput> {
        envy::prefixed(crate::env::EnvVars::INPUT_PREFIX)
            .from_iter::<_, T>(self.0.iter().cloned())
            .map_err(|e| BadInput(format!("cannot read the action's inputs: {e}")))
    }
}

/// A text input: trimmed, empty as not set.
pub fn set(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// A credential input: empty as not set.
pub fn secret(v: Option<SecretString>) -> Option<SecretString> {
    use secrecy::ExposeSecret;
    v.filter(|s| !s.expose_secret().trim().is_empty())
}

/// A whole-number input, within `range` when one is given; `default` when
/// not set.
pub fn whole(
    name: &str,
    v: Option<String>,
    default: usize,
    range: Option<std::ops::RangeInclusive<usize>>,
) -> Result<usize, BadInput> {
    let Some(text) = set(v) else { return Ok(default) };
    let within = match &range {
        Some(r) => format!(" from {} to {}", r.start(), r.end()),
        None => String::new(),
    };
    text.parse::<usize>()
        .ok()
        .filter(|n| range.as_ref().is_none_or(|r| r.contains(n)))
        .ok_or_else(|| BadInput(format!("input `{name}` must be a whole number{within}; got `{text}`")))
}

/// Targets of one kind handled at once, unless its input says otherwise.
pub const DEFAULT_CONCURRENCY: usize = 4;
