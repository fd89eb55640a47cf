//! Secret values: read from the `secrets` input (`${{ toJSON(secrets) }}`),
//! a local `--secrets-file` (JSON or .env) and environment variables named in
//! the manifest.
//!
//! A value is a [`SecretString`] from the moment it is parsed. Parse errors
//! never quote the input: serde_json's own messages can contain values, so
//! they are replaced by ours, which carry a line and column only.

use std::collections::BTreeMap;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};

use crate::actions;
use crate::diag::line_col;

/// Where a value came from (names only, for the report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    SecretsInput,
    SecretsFile,
    Environment,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::SecretsInput => "the `secrets` input",
            Origin::SecretsFile => "the secrets file",
            Origin::Environment => "an environment variable",
        })
    }
}

pub struct Value {
    pub secret: SecretString,
    pub origin: Origin,
}

/// Names the runner always puts into `toJSON(secrets)`, or that GitHub uses
/// for its own debug switches: never reported as undeclared.
pub const RUNNER_SECRETS: &[&str] = &["github_token", "ACTIONS_STEP_DEBUG", "ACTIONS_RUNNER_DEBUG"];

/// All values handed to this run, by source name.
#[derive(Default)]
pub struct SecretValues {
    values: BTreeMap<String, Value>,
    /// Upper-cased name → name, for case-insensitive lookups in one step.
    upper: BTreeMap<String, String>,
    /// Values we were given but do not use (`github_token`): still masked.
    ignored: Vec<SecretString>,
}

/// A secrets payload that cannot be read. The message never contains input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError {
    pub source: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.source, self.line, self.col, self.message)
    }
}

/// `bytes` as text, or an error at the line and column of the first byte
/// that is not UTF-8 (every payload error names its place).
pub fn utf8<'a>(bytes: &'a [u8], source: &str) -> Result<&'a str, PayloadError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let (line, col) = line_col(bytes, e.valid_up_to());
        PayloadError { source: source.to_string(), line, col, message: "is not valid UTF-8".into() }
    })
}

impl SecretValues {
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The value of a source secret: exact name first, then case-insensitive
    /// (GitHub secret names are case-insensitive).
    pub fn get(&self, name: &str) -> Option<(&str, &Value)> {
        if let Some((k, v)) = self.values.get_key_value(name) {
            return Some((k.as_str(), v));
        }
        let k = self.upper.get(&name.to_ascii_uppercase())?;
        self.values.get_key_value(k).map(|(k, v)| (k.as_str(), v))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Adds values, later sources winning over earlier ones.
    pub fn extend(&mut self, other: SecretValues) {
        for (name, v) in other.values {
            self.insert_value(name, v);
        }
        self.ignored.extend(other.ignored);
    }

    fn insert_value(&mut self, name: String, v: Value) {
        let first = self.upper.entry(name.to_ascii_uppercase()).or_insert_with(|| name.clone());
        if name < *first {
            // The smallest spelling answers, as a search in name order would.
            *first = name.clone();
        }
        self.values.insert(name, v);
    }

    pub fn insert(&mut self, name: String, secret: SecretString, origin: Origin) {
        if RUNNER_SECRETS[..1].iter().any(|r| r.eq_ignore_ascii_case(&name)) {
            self.ignored.push(secret);
        } else {
            self.insert_value(name, Value { secret, origin });
        }
    }

    /// Every `::add-mask::` line for every value this run holds.
    pub fn mask_lines(&self) -> Vec<String> {
        self.values.values().map(|v| &v.secret).chain(&self.ignored).flat_map(actions::mask_lines).collect()
    }

    /// Parses a JSON object of names to string values.
    pub fn from_json(bytes: &[u8], source: &str, origin: Origin) -> Result<SecretValues, PayloadError> {
        let bytes = crate::input::strip_bom(bytes);
        let fail = |offset: usize, message: String| {
            let (line, col) = line_col(bytes, offset);
            PayloadError { source: source.to_string(), line, col, message }
        };
        let text = utf8(bytes, source)?;
        let trimmed = text.trim_start();
        if trimmed.is_empty() {
            return Err(fail(
                0,
                "is empty; expected a JSON object of secret names to values, as `${{ toJSON(secrets) }}` gives".into(),
            ));
        }
        let offset = text.len() - trimmed.len();
        if !trimmed.starts_with('{') {
            let found = match trimmed.as_bytes()[0] {
                b'[' => "an array",
                b'"' => "a string",
                b'n' => "null",
                b't' | b'f' => "a boolean",
                _ => "a single value",
            };
            return Err(fail(
                offset,
                format!("must be a JSON object of secret names to values (as `${{{{ toJSON(secrets) }}}}` gives), found {found}"),
            ));
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let mut out = SecretValues::default();
        let result = PayloadSeed { out: &mut out, origin }.deserialize(&mut de).and_then(|()| de.end());
        match result {
            Ok(()) => Ok(out),
            Err(e) => {
                let (line, col) = (e.line().max(1), e.column().max(1));
                Err(PayloadError { source: source.to_string(), line, col, message: safe_json_message(&e) })
            }
        }
    }

    /// Parses `.env` text: `NAME=value`, `export NAME=value`, `#` comments,
    /// values optionally in double quotes (with `\n`, `\"`, `\\` escapes,
    /// possibly over several lines) or single quotes (literal). Unquoted
    /// values end at ` #` and are trimmed, as dotenv tools do. CRLF and a lone
    /// CR end a line as LF does. One pass over the text: every position is
    /// found by moving forward, never by counting from the start again.
    pub fn from_dotenv(bytes: &[u8], source: &str, origin: Origin) -> Result<SecretValues, PayloadError> {
        let bytes = crate::input::normalise_newlines(crate::input::strip_bom(bytes));
        let bytes = bytes.as_slice();
        let fail = |offset: usize, message: &str| {
            let (line, col) = line_col(bytes, offset);
            PayloadError { source: source.to_string(), line, col, message: message.to_string() }
        };
        let text = utf8(bytes, source)?;
        let mut out = SecretValues::default();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut pos = 0;
        let mut line_no = 1;
        while pos < text.len() {
            let line_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
            let line = &text[pos..line_end];
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if trimmed.trim().is_empty() || trimmed.starts_with('#') {
                pos = line_end + 1;
                line_no += 1;
                continue;
            }
            let body = trimmed.strip_prefix("export ").map(str::trim_start).unwrap_or(trimmed);
            let name_at = pos + indent + (trimmed.len() - body.len());
            let Some(eq) = body.find('=') else {
                return Err(fail(name_at, "expected `NAME=value` on this line"));
            };
            let name = body[..eq].trim_end();
            if crate::manifest::names::env_var(name).is_err() {
                return Err(fail(
                    name_at,
                    "invalid name before `=`: use letters, digits and `_`, not starting with a digit",
                ));
            }
            let value_at = name_at + eq + 1;
            let rest = &text[value_at..];
            if pasted_value(name, &rest[..rest.find('\n').unwrap_or(rest.len())]) {
                return Err(fail(
                    name_at,
                    "this line looks like a pasted value (base64?), not `NAME=value`, so it is neither read nor shown; \
                     write `NAME=value`, or `NAME=\"\"` for an empty value",
                ));
            }
            if let Some(first) = seen.get(name) {
                return Err(fail(name_at, &format!("`{name}` is set twice (first on line {first})")));
            }
            seen.insert(name.to_string(), line_no);
            let (value, consumed) = match rest.chars().next() {
                Some(q @ ('"' | '\'')) => match parse_quoted(&rest[1..], q) {
                    Some((v, n)) => {
                        let after = &rest[1 + n..];
                        let tail_end = after.find('\n').unwrap_or(after.len());
                        let tail = after[..tail_end].trim();
                        if !(tail.is_empty() || tail.starts_with('#')) {
                            return Err(fail(value_at + 1 + n, "unexpected text after the closing quote"));
                        }
                        (v, 1 + n + tail_end)
                    }
                    None => return Err(fail(value_at, "the quoted value starting here is not closed")),
                },
                _ => {
                    let end = rest.find('\n').unwrap_or(rest.len());
                    let raw = &rest[..end];
                    let raw = raw.find(" #").map_or(raw, |i| &raw[..i]);
                    (raw.trim().to_string(), end)
                }
            };
            out.insert(name.to_string(), SecretString::from(value), origin);
            let next = value_at + consumed + 1;
            line_no += text.get(pos..next.min(text.len())).map_or(0, |t| t.bytes().filter(|&b| b == b'\n').count());
            pos = next;
        }
        Ok(out)
    }
}

/// A `.env` line whose "name" is more likely the start of a value pasted on
/// a line of its own: base64 ends in `=` or `==`, so `bGVha2Vk…=` reads as a
/// name with an empty value, and that name would be shown as an undeclared
/// secret. Refused when the value is nothing but `=` signs, or empty while
/// the name mixes lower- and upper-case letters without a `_` (variable
/// names are `UPPER_SNAKE` or `lower_snake`; base64 is neither).
fn pasted_value(name: &str, rest_of_line: &str) -> bool {
    let value = rest_of_line.trim();
    let only_padding = !value.is_empty() && value.bytes().all(|b| b == b'=');
    let mixed = name.bytes().any(|b| b.is_ascii_lowercase())
        && name.bytes().any(|b| b.is_ascii_uppercase())
        && !name.contains('_');
    only_padding || (value.is_empty() && mixed)
}

/// Reads a quoted value after its opening quote; returns the value and the
/// bytes consumed including the closing quote.
fn parse_quoted(s: &str, quote: char) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => return Some((out, i + 1)),
            '\\' if quote == '"' => match chars.next()?.1 {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// The messages our visitors raise; only these are ever shown for data errors.
const NOT_A_STRING: &str = "every value must be a string";
const DUPLICATE: &str = "a secret name appears twice";
const NOT_AN_OBJECT: &str = "must be a JSON object of secret names to values";

/// serde_json's syntax messages never contain input, but we show only the ones
/// we know, and our own for data errors.
fn safe_json_message(e: &serde_json::Error) -> String {
    const KNOWN: &[&str] = &[
        "EOF while parsing a string",
        "EOF while parsing an object",
        "EOF while parsing a list",
        "EOF while parsing a value",
        "expected `:`",
        "expected `,` or `]`",
        "expected `,` or `}`",
        "expected ident",
        "expected value",
        "expected `\"`",
        "invalid escape",
        "invalid number",
        "number out of range",
        "invalid unicode code point",
        "control character (\\u0000-\\u001F) found while parsing a string",
        "key must be a string",
        "lone leading surrogate in hex escape",
        "trailing comma",
        "trailing characters",
        "unexpected end of hex escape",
        "recursion limit exceeded",
        NOT_A_STRING,
        DUPLICATE,
        NOT_AN_OBJECT,
    ];
    let full = e.to_string();
    let reason = KNOWN.iter().find(|k| full.starts_with(**k)).copied().unwrap_or(match e.classify() {
        serde_json::error::Category::Eof => "unexpected end of input",
        serde_json::error::Category::Syntax => "invalid JSON",
        _ => "unexpected content",
    });
    if reason == DUPLICATE {
        // Our visitor recorded the name (names are not secret) in the message.
        if let Some(name) =
            full.strip_prefix(DUPLICATE).and_then(|r| r.strip_prefix(": `")).and_then(|r| r.split('`').next())
        {
            return format!("invalid JSON: secret `{name}` appears twice");
        }
    }
    format!("invalid JSON: {reason}")
}

struct PayloadSeed<'a> {
    out: &'a mut SecretValues,
    origin: Origin,
}

impl<'de> DeserializeSeed<'de> for PayloadSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PayloadSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(NOT_AN_OBJECT)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key::<String>()? {
            let secret = map.next_value_seed(ValueSeed)?;
            if self.out.values.contains_key(&name) {
                return Err(de::Error::custom(format!("{DUPLICATE}: `{name}`")));
            }
            self.out.insert(name, secret, self.origin);
        }
        Ok(())
    }
    // Anything but a map: an error that quotes nothing.
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(NOT_AN_OBJECT))
    }
}

/// A value that must be a string; every other type is refused without
/// quoting it (serde's default `invalid type` message would).
struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = SecretString;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<SecretString, D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! refuse {
    ($($name:ident: $t:ty),*) => {$(
        fn $name<E: de::Error>(self, _: $t) -> Result<SecretString, E> {
            Err(E::custom(NOT_A_STRING))
        }
    )*};
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = SecretString;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(NOT_A_STRING)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretString, E> {
        Ok(SecretString::from(v))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<SecretString, E> {
        Ok(SecretString::from(v))
    }
    refuse!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64, visit_bytes: &[u8]);
    fn visit_unit<E: de::Error>(self) -> Result<SecretString, E> {
        Err(E::custom(NOT_A_STRING))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<SecretString, A::Error> {
        Err(de::Error::custom(NOT_A_STRING))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<SecretString, A::Error> {
        Err(de::Error::custom(NOT_A_STRING))
    }
}

/// Why values could not be taken from the environment (names the variable,
/// never its value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValuesError {
    #[error("the environment variable `{name}` (`from_env` in the manifest) is not valid UTF-8 text; set it as UTF-8")]
    NotUnicode { name: String },
}

/// For the callers that report a message as it is (reading the inputs).
impl From<ValuesError> for String {
    fn from(e: ValuesError) -> String {
        e.to_string()
    }
}

/// Reads the manifest's `from_env` variables that are set. One that is set
/// but not UTF-8 is an error naming the variable (not its value): skipping it
/// would report the secret missing for a reason nobody could see.
pub fn from_environment<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<SecretValues, ValuesError> {
    let mut out = SecretValues::default();
    for n in names {
        match crate::env::var_unicode(n) {
            Ok(Some(v)) if !v.is_empty() => out.insert(n.to_string(), SecretString::from(v), Origin::Environment),
            Ok(_) => {}
            Err(crate::env::NotUnicode) => return Err(ValuesError::NotUnicode { name: n.to_string() }),
        }
    }
    Ok(out)
}

/// Exposes a value to a check. Kept here so the places that look at values are
/// easy to find.
pub fn expose(v: &SecretString) -> &str {
    v.expose_secret()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> Result<SecretValues, PayloadError> {
        SecretValues::from_json(s.as_bytes(), "secrets", Origin::SecretsInput)
    }

    #[test]
    fn reads_json_and_ignores_github_token() {
        let v = json(r#"{"A":"one","github_token":"ghs_x","b":"two"}"#).unwrap();
        assert_eq!(v.names().collect::<Vec<_>>(), ["A", "b"]);
        assert_eq!(expose(&v.get("B").unwrap().1.secret), "two");
        assert_eq!(v.mask_lines().len(), 3);
    }

    #[test]
    fn json_errors_never_quote_values() {
        for (input, want) in [
            (r#"{"A": 12345678}"#, "1:14: invalid JSON: every value must be a string"),
            (r#"{"A": "CANARY"#, "1:13: invalid JSON: EOF while parsing a string"),
            (r#"{"A": {"CANARY": 1}}"#, "1:7: invalid JSON: every value must be a string"),
            (r#"{"A": "x", "A": "CANARY"}"#, "1:25: invalid JSON: secret `A` appears twice"),
            (r#"{"A": "CANARY"} x"#, "1:17: invalid JSON: trailing characters"),
            ("[1]", "1:1: must be a JSON object of secret names to values (as `${{ toJSON(secrets) }}` gives), found an array"),
        ] {
            let e = json(input).err().unwrap();
            let shown = format!("{}:{}: {}", e.line, e.col, e.message);
            assert_eq!(shown, want, "{input}");
            assert!(!shown.contains("CANARY") && !shown.contains("12345678"));
        }
    }

    #[test]
    fn reads_dotenv() {
        let text = "# c\nexport A=plain value  # note\nB=\"multi\\nline\"\nC='lit\\n'\n\nD=\n";
        let v = SecretValues::from_dotenv(text.as_bytes(), "f", Origin::SecretsFile).unwrap();
        assert_eq!(expose(&v.get("A").unwrap().1.secret), "plain value");
        assert_eq!(expose(&v.get("B").unwrap().1.secret), "multi\nline");
        assert_eq!(expose(&v.get("C").unwrap().1.secret), "lit\\n");
        assert_eq!(expose(&v.get("D").unwrap().1.secret), "");
    }

    #[test]
    fn dotenv_errors_have_positions_and_no_values() {
        let e = SecretValues::from_dotenv(b"A=1\nCANARYVALUE\n", "f", Origin::SecretsFile).err().unwrap();
        assert_eq!(e.to_string(), "f:2:1: expected `NAME=value` on this line");
        let e = SecretValues::from_dotenv(b"A=\"CANARY\n", "f", Origin::SecretsFile).err().unwrap();
        assert_eq!(e.to_string(), "f:1:3: the quoted value starting here is not closed");
    }
}
