//! Validation: manifest × values → findings. Pure functions; a finding names
//! the secret and the rule, never the value (nor its length, nor a slice of it).

use std::sync::OnceLock;

use regex::Regex;
use secrecy::SecretString;

use crate::diag::{Finding, Kind, Severity};
use crate::formats::Format;
use crate::manifest::{Manifest, Pos, Secret};
use crate::values::{expose, SecretValues, RUNNER_SECRETS};

/// A declared secret's value in the environment being run, if any.
pub struct Resolved<'a> {
    pub secret: &'a Secret,
    /// The source name the value came from (`PROD_OPENAI_API_KEY`).
    pub source: Option<String>,
    pub value: Option<&'a SecretString>,
    /// Required in this environment.
    pub required: bool,
    /// Present and free of error findings: safe to send to targets.
    pub usable: bool,
}

pub struct Validation<'a> {
    pub findings: Vec<Finding>,
    pub resolved: Vec<Resolved<'a>>,
}

/// Values shorter than this are masked poorly: GitHub masks every occurrence
/// of the value anywhere in the log, so a short value both hides unrelated
/// text and tells readers where it appears.
pub const WEAK_MASK_LEN: usize = 8;

pub fn validate<'a>(m: &'a Manifest, env: &str, values: &'a SecretValues) -> Validation<'a> {
    let mut findings = Vec::new();
    let mut resolved = Vec::new();
    for s in &m.secrets {
        let required = s.required.in_env(env);
        let candidates = m.source_candidates(s, env);
        let found =
            candidates.iter().find_map(|c| values.get(c)).or_else(|| s.from_env.as_deref().and_then(|n| values.get(n)));
        let before = findings.len();
        let mut add = |severity, kind, message: String| {
            findings.push(Finding {
                severity,
                kind,
                secret: s.name.clone(),
                message,
                line: Some(s.pos.line),
                col: Some(s.pos.col),
            })
        };
        let Some((source, value)) = found else {
            let looked =
                candidates.iter().map(|c| format!("`{c}`")).chain(s.from_env.iter().map(|e| format!("env `{e}`")));
            let looked: Vec<String> = looked.collect();
            if required {
                add(
                    Severity::Error,
                    Kind::Missing,
                    format!(
                        "`{}` is required in `{env}` but no value was handed in (looked for {})",
                        s.name,
                        looked.join(", ")
                    ),
                );
            } else if s.routes.iter().any(|r| m.target(r.kind, &r.target).is_some_and(|t| t.environment == env)) {
                add(
                    Severity::Notice,
                    Kind::OptionalMissing,
                    format!("optional `{}` has no value in `{env}`; its destinations are left as they are", s.name),
                );
            }
            resolved.push(Resolved { secret: s, source: None, value: None, required, usable: false });
            continue;
        };
        check_value(s, expose(&value.secret), required, &mut add);
        let usable = !findings[before..].iter().any(|f| f.severity == Severity::Error);
        resolved.push(Resolved {
            secret: s,
            source: Some(source.to_string()),
            value: Some(&value.secret),
            required,
            usable,
        });
    }
    undeclared(m, values, &mut findings);
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.line.cmp(&b.line)).then(a.secret.cmp(&b.secret)));
    Validation { findings, resolved }
}

fn check_value(s: &Secret, v: &str, required: bool, add: &mut impl FnMut(Severity, Kind, String)) {
    let name = &s.name;
    if v.is_empty() {
        let sev = if required { Severity::Error } else { Severity::Warning };
        add(sev, Kind::Empty, format!("`{name}` is set but empty"));
        return;
    }
    if v.trim().is_empty() {
        add(Severity::Error, Kind::Empty, format!("`{name}` contains only whitespace"));
        return;
    }
    if let Some(what) = placeholder(v) {
        add(Severity::Error, Kind::Placeholder, format!("`{name}` holds a placeholder ({what}), not a real value"));
        return;
    }
    // PEM files end with a newline: a value declared `pem`, or recognised
    // as PEM by its BEGIN/END lines when no format is declared, may too.
    let declared_pem = s.format.is_some_and(Format::allows_trailing_newline);
    let recognised_pem = s.format.is_none() && Format::Pem.matches(v);
    let trailing = if declared_pem || recognised_pem { v.trim_end_matches(['\n', '\r']) } else { v };
    if recognised_pem && trailing.len() < v.len() && !trailing.ends_with(char::is_whitespace) {
        add(
            Severity::Notice,
            Kind::Whitespace,
            format!("`{name}` looks like a PEM block and ends with a newline, as PEM files do; it is synced with it (declare `format: pem` to say so)"),
        );
    }
    let leads = v.starts_with(char::is_whitespace);
    let trails = trailing.ends_with(char::is_whitespace);
    if leads || trails {
        let newline = (leads && v.starts_with(['\n', '\r'])) || (trails && trailing.ends_with(['\n', '\r']));
        let place = match (leads, trails) {
            (true, true) => "leading and trailing",
            (true, false) => "leading",
            _ => "trailing",
        };
        let what = if newline { "whitespace (a newline)" } else { "whitespace" };
        add(
            Severity::Error,
            Kind::Whitespace,
            format!("`{name}` has {place} {what}; targets would receive it as part of the value, so remove it from the secret"),
        );
    }
    let core = v.trim();
    if let Some(f) = s.format {
        if !f.matches(core) {
            let seen = match Format::recognise(core) {
                Some(other) if other != f => format!(" but looks like {}", other.describe()),
                _ => " but does not look like one".to_string(),
            };
            add(Severity::Error, Kind::FormatMismatch, format!("`{name}` should be {}{seen}", f.describe()));
        }
    }
    if let Some(re) = &s.pattern {
        if !re.is_match(v) {
            add(
                Severity::Error,
                Kind::PatternMismatch,
                format!("`{name}` does not match its `pattern` `{}`", re.as_str()),
            );
        }
    }
    let chars = v.chars().count();
    match s.min_length {
        Some(min) if chars < min => add(
            Severity::Error,
            Kind::TooShort,
            format!("`{name}` is shorter than its `min_length` of {min} characters"),
        ),
        _ if chars < WEAK_MASK_LEN => add(
            Severity::Warning,
            Kind::WeakMask,
            format!(
                "`{name}` is shorter than {WEAK_MASK_LEN} characters: GitHub masks every occurrence of it in logs, \
                 which hides unrelated text and hints at the value; use a longer value"
            ),
        ),
        _ => {}
    }
}

/// Recognises values that are placeholders, and says which kind (the kind
/// only: never the value).
pub fn placeholder(v: &str) -> Option<&'static str> {
    static YOUR_HERE: OnceLock<Regex> = OnceLock::new();
    let t = v.trim();
    let lower = t.to_ascii_lowercase();
    let your = YOUR_HERE
        .get_or_init(|| Regex::new(r"(?i)^(your|insert|put|add|enter)[ _.-].*[ _.-]here$").expect("static regex"));
    if your.is_match(t) {
        return Some("`your_…_here`");
    }
    const WORDS: &[&str] = &[
        "changeme",
        "change-me",
        "change_me",
        "replaceme",
        "replace-me",
        "replace_me",
        "todo",
        "tbd",
        "fixme",
        "placeholder",
        "null",
        "undefined",
        "none",
        "n/a",
    ];
    if WORDS.contains(&lower.as_str()) || lower.starts_with("todo:") || lower.starts_with("todo ") {
        return Some("a placeholder word");
    }
    if t.len() >= 3 && (lower.bytes().all(|b| b == b'x') || t.bytes().all(|b| b == b'*')) {
        return Some("`xxx`");
    }
    if t.starts_with('<') && t.ends_with('>') && !t.contains('\n') {
        return Some("`<…>`");
    }
    if t.starts_with("${") && t.ends_with('}') {
        return Some("an unexpanded `${…}` expression");
    }
    None
}

/// Source secrets handed in that no declared secret reads, in any environment.
fn undeclared(m: &Manifest, values: &SecretValues, findings: &mut Vec<Finding>) {
    let known = m.source_names_anywhere();
    for name in values.names() {
        if RUNNER_SECRETS.iter().any(|r| r.eq_ignore_ascii_case(name)) || known.contains(&name.to_ascii_uppercase()) {
            continue;
        }
        findings.push(Finding {
            severity: Severity::Warning,
            kind: Kind::Undeclared,
            secret: name.to_string(),
            message: format!(
                "`{name}` was handed in but the manifest does not declare it; declare it or stop passing it"
            ),
            line: None,
            col: None,
        });
    }
}

/// Where a finding points, if it has a place in the manifest.
pub fn finding_pos(f: &Finding) -> Option<Pos> {
    Some(Pos { line: f.line?, col: f.col.unwrap_or(1) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        for p in [
            "your_openai_key_here",
            "YOUR-KEY-HERE",
            "changeme",
            "TODO",
            "xxx",
            "XXXXXXXX",
            "<api key>",
            "${OPENAI}",
            "****",
        ] {
            assert!(placeholder(p).is_some(), "{p}");
        }
        for ok in ["sk-proj-abc", "xoxb-1-2", "postgres://a@b/c", "yourself", "<a>b"] {
            assert!(placeholder(ok).is_none(), "{ok}");
        }
    }
}
