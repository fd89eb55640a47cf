//! What the checks say: located diagnostics (manifest errors), shown as a
//! GitHub annotation inside Actions or `path:line:col: error: msg` in a
//! terminal; and findings about values (validation, probes, rotation, the
//! leak scan) with their severities. Checks emit these; only the wiring
//! prints them.

use serde::{Deserialize, Serialize};

use crate::actions::{self, Level, Location};

/// One problem at one place in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// Short category, used as the annotation title (`unknown key`).
    pub title: String,
    /// One line saying what is wrong and, where it helps, what to do.
    pub message: String,
}

impl Diagnostic {
    pub fn location(&self) -> Location {
        Location { file: self.file.clone(), line: self.line, col: self.col }
    }

    /// `path:line:col: error: msg`, one line whatever the manifest holds.
    pub fn terminal(&self) -> String {
        use crate::escape::terminal;
        format!("{}:{}:{}: error: {}", terminal(&self.file), self.line, self.col, terminal(&self.message))
    }

    /// `::error file=..,line=..,col=..,title=..::msg`
    pub fn annotation(&self) -> String {
        actions::annotation(Level::Error, Some(&self.location()), &self.title, &self.message)
    }
}

/// Line and column (1-based, columns in characters) of a byte offset.
pub fn line_col(text: &[u8], offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let col = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    (line, col)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Notice,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Notice => "notice",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Missing,
    OptionalMissing,
    Empty,
    Placeholder,
    Whitespace,
    FormatMismatch,
    PatternMismatch,
    TooShort,
    WeakMask,
    Undeclared,
    RotationExpired,
    RotationDue,
    MetadataUnavailable,
    ProbeRejected,
    ProbeRefused,
    ProbeUnknown,
    ProbeInconclusive,
    Leak,
}

impl Kind {
    /// Short title, used for annotations and the summary.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Missing => "missing secret",
            Kind::OptionalMissing => "optional secret not set",
            Kind::Empty => "empty value",
            Kind::Placeholder => "placeholder value",
            Kind::Whitespace => "whitespace around value",
            Kind::FormatMismatch => "wrong format",
            Kind::PatternMismatch => "pattern mismatch",
            Kind::TooShort => "value too short",
            Kind::WeakMask => "value too short to mask well",
            Kind::Undeclared => "undeclared secret",
            Kind::RotationExpired => "rotation overdue",
            Kind::RotationDue => "rotation due soon",
            Kind::MetadataUnavailable => "GitHub metadata unavailable",
            Kind::ProbeRejected => "credential rejected",
            Kind::ProbeRefused => "credential not allowed here",
            Kind::ProbeUnknown => "unrecognised probe answer",
            Kind::ProbeInconclusive => "liveness not confirmed",
            Kind::Leak => "value found in the workspace",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    pub kind: Kind,
    /// The secret's name (manifest name, or the source name if undeclared).
    pub secret: String,
    pub message: String,
    /// Where the secret is declared in the manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip)]
    pub col: Option<usize>,
}
