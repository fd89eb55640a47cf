//! GitHub Actions workflow commands and file commands, in one place.
//!
//! Nothing else in the program prints `::` lines: masking, annotations,
//! outputs and the job summary all go through here, so escaping is done once
//! and right (see `docs/service-facts.md`, "GitHub Actions runner").

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use secrecy::{ExposeSecret, SecretString};

/// The runner's data escaping for workflow commands: `%` first, then CR and LF.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Property escaping: data escaping plus `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The `::add-mask::` lines that register `value` with the runner: the whole
/// value, and each trimmed non-empty line of a multi-line value (the runner
/// masks line by line, so a PEM's lines must each be known).
///
/// These lines necessarily carry the value; the runner consumes them and never
/// shows them. They are only ever written when running inside Actions.
pub fn mask_lines(value: &SecretString) -> Vec<String> {
    let v = value.expose_secret();
    let mut out = Vec::new();
    if v.trim().is_empty() {
        return out;
    }
    out.push(format!("::add-mask::{}", escape_data(v)));
    // Each line, trimmed, unless it is the value itself: a value with a
    // stray space or newline is also masked in the form a target shows it.
    for line in v.split(['\n', '\r']) {
        let t = line.trim();
        let m = format!("::add-mask::{}", escape_data(t));
        if !t.is_empty() && t != v && !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

/// Annotation level of a workflow command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    pub fn command(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// Where an annotation points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub col: usize,
}

/// `::error file=F,line=L,col=C,title=T::MSG`. The runner's log shows the
/// message like a terminal, so control characters and escape sequences from
/// manifest text are made visible first (`escape::terminal`), then the line is
/// escaped for the protocol.
pub fn annotation(level: Level, loc: Option<&Location>, title: &str, msg: &str) -> String {
    use crate::escape::terminal;
    let mut props = Vec::new();
    if let Some(l) = loc {
        props.push(format!("file={}", escape_property(&terminal(&l.file))));
        props.push(format!("line={}", l.line));
        props.push(format!("col={}", l.col));
    }
    if !title.is_empty() {
        props.push(format!("title={}", escape_property(&terminal(title))));
    }
    let mut s = format!("::{}", level.command());
    if !props.is_empty() {
        let _ = write!(s, " {}", props.join(","));
    }
    let _ = write!(s, "::{}", escape_data(&terminal(msg)));
    s
}

/// Wraps free text (the summary, when the runner gives no summary file) for
/// stdout, where the runner reads every line as a possible workflow command:
/// `::name::` after leading whitespace, and the legacy `##[name]` anywhere in
/// a line (actions/runner, src/Runner.Common/ActionCommand.cs, `TryParseV2`
/// and `TryParse`). `::stop-commands::TOKEN` makes the runner ignore every
/// command until a `::TOKEN::` line (src/Runner.Worker/ActionCommandManager.cs);
/// the token is random and absent from the text, so nothing in it can end the
/// pause, and no line of it is run as a command.
pub fn paused(text: &str) -> String {
    let token = loop {
        let t = format!("secret-sync-{}", random_hex());
        if !text.contains(&t) {
            break t;
        }
    };
    let nl = if text.ends_with('\n') { "" } else { "\n" };
    format!("::stop-commands::{token}\n{text}{nl}::{token}::\n")
}

/// 128 random bits as hex, from the standard library's randomly keyed hasher
/// (no dependency needed for a token that only has to be unguessable for the
/// length of one step).
fn random_hex() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    for i in 0..2u8 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u8(i);
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        let _ = write!(out, "{:016x}", h.finish());
    }
    out
}

/// Appends `name<<DELIM ... DELIM` blocks to the `GITHUB_OUTPUT` file. The
/// heredoc form is used for every value so that no value can break the file;
/// the delimiter is checked to be absent from the value.
pub fn write_outputs(path: &Path, outputs: &[(&str, String)]) -> Result<()> {
    let mut text = String::new();
    for (name, value) in outputs {
        let mut n: u64 = 0;
        let delim = loop {
            let d = format!("ghadelimiter_{}_{}", std::process::id(), n);
            if !value.contains(&d) {
                break d;
            }
            n += 1;
        };
        let _ = writeln!(text, "{name}<<{delim}\n{value}\n{delim}");
    }
    append(path, &text).with_context(|| format!("could not write step outputs to {}", path.display()))
}

/// Appends Markdown to the `GITHUB_STEP_SUMMARY` file.
pub fn append_summary(path: &Path, markdown: &str) -> Result<()> {
    append(path, markdown).with_context(|| format!("could not write the job summary to {}", path.display()))
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_percent_first() {
        assert_eq!(escape_data("50%\n"), "50%25%0A");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }

    #[test]
    fn masks_each_line_of_multiline_values() {
        let v = SecretString::from("-----BEGIN-----\n  abc  \n-----END-----\n");
        let lines = mask_lines(&v);
        assert_eq!(lines[0], "::add-mask::-----BEGIN-----%0A  abc  %0A-----END-----%0A");
        assert_eq!(&lines[1..], ["::add-mask::-----BEGIN-----", "::add-mask::abc", "::add-mask::-----END-----"]);
        assert!(mask_lines(&SecretString::from("  ")).is_empty());
    }

    #[test]
    fn paused_text_cannot_issue_commands() {
        let text = "| a |\n::add-mask::x\n  ::error::y\nz ##[set-output name=a]b\n";
        let out = paused(text);
        let lines: Vec<&str> = out.lines().collect();
        let token = lines[0].strip_prefix("::stop-commands::").unwrap();
        assert!(token.len() > 20 && token.starts_with("secret-sync-"));
        assert_eq!(lines.last().unwrap(), &format!("::{token}::"));
        assert_eq!(&lines[1..lines.len() - 1], text.lines().collect::<Vec<_>>());
        assert_ne!(paused(text), out, "the token is random");
    }

    #[test]
    fn annotation_shows_control_characters() {
        assert_eq!(
            annotation(Level::Error, None, "t\x1b", "a\x1b[31mb\nc"),
            "::error title=t\\u{1b}::a\\u{1b}[31mb\\nc"
        );
    }

    #[test]
    fn annotation_format() {
        let loc = Location { file: "a,b.yml".into(), line: 3, col: 7 };
        assert_eq!(
            annotation(Level::Error, Some(&loc), "unknown key", "50% bad\nx"),
            "::error file=a%2Cb.yml,line=3,col=7,title=unknown key::50%25 bad\\nx"
        );
    }
}
