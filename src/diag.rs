//! Located diagnostics (manifest errors) and how they are shown: a GitHub
//! annotation inside Actions, `path:line:col: error: msg` in a terminal.

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
