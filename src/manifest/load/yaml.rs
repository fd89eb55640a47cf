//! A YAML syntax error, in the words and at the place a user can act on.

use marked_yaml::LoadError;

use super::pos_of_scalar;
use crate::diag::Diagnostic;

pub(super) fn yaml_error(file: &str, e: LoadError, text: &str) -> Diagnostic {
    let (m, title, message) = match &e {
        LoadError::TopLevelMustBeMapping(m) => (
            *m,
            "not a mapping",
            format!("the manifest must be a mapping with `version: 1` and `secrets:`, found {}", top_level_kind(text)),
        ),
        LoadError::TopLevelMustBeSequence(m) => (*m, "not a list", "expected a list".to_string()),
        LoadError::UnexpectedAnchor(m) => (
            *m,
            "anchor or alias",
            "YAML anchors and aliases are not supported in a manifest; write the value out in full".to_string(),
        ),
        LoadError::UnexpectedTag(m) => {
            (*m, "YAML tag", "YAML tags (such as `!!str`) are not supported in a manifest; remove the tag".to_string())
        }
        LoadError::MappingKeyMustBeScalar(m) => (*m, "invalid key", "mapping keys must be plain names".to_string()),
        LoadError::ScanError(m, s) if s.info().contains("tab") => {
            // The scanner notices a tab only after moving past it, often at
            // the end of the line before; point at the tab itself.
            let (line, col) = first_tab_from_line(text, m.line()).unwrap_or((m.line(), m.column()));
            let message = format!("invalid YAML: {}; indent with spaces, not tabs", s.info());
            return Diagnostic {
                file: file.into(),
                line: line.max(1),
                col: col.max(1),
                title: "invalid YAML".into(),
                message,
            };
        }
        LoadError::ScanError(m, s) => (*m, "invalid YAML", format!("invalid YAML: {}", s.info())),
        LoadError::DuplicateKey(d) => {
            let p = pos_of_scalar(&d.key);
            return Diagnostic {
                file: file.into(),
                line: p.line,
                col: p.col,
                title: "duplicate key".into(),
                message: format!("`{}` is declared twice", d.key.as_str()),
            };
        }
    };
    Diagnostic { file: file.into(), line: m.line().max(1), col: m.column().max(1), title: title.into(), message }
}

/// Line and column of the first tab at or after the start of `line`.
fn first_tab_from_line(text: &str, line: usize) -> Option<(usize, usize)> {
    text.lines()
        .enumerate()
        .skip(line.saturating_sub(1))
        .find_map(|(i, l)| l.chars().position(|c| c == '\t').map(|c| (i + 1, c + 1)))
}

fn top_level_kind(text: &str) -> &'static str {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#') && *l != "---");
    match first {
        Some(l) if l.starts_with('-') || l.starts_with('[') => "a list",
        _ => "a single value",
    }
}
