//! The `targets` input: which targets this job handles, so a workflow matrix
//! can shard one manifest's targets across jobs (`fly:*`, `esc:sophia-*`,
//! `github:gh-infra`). Patterns are globs over target ids (`kind:name`):
//! `*` any run of characters, `?` one character, `[a-m]` a class.

use crate::manifest::suggest;

/// Why a `targets` pattern is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("target pattern `{0}` has no kind: write `KIND:NAME` (`fly:{0}`, `esc:{0}`, `github:{0}`)")]
    NoKind(String),
    #[error("target pattern `{pattern}` is not a valid glob: {reason}")]
    Glob { pattern: String, reason: &'static str },
}

/// For the option parsers that report a message as it is (`cli`, `config`).
impl From<SelectError> for String {
    fn from(e: SelectError) -> String {
        e.to_string()
    }
}

#[derive(Debug, Clone)]
pub struct Selection {
    /// The patterns as written, for the report and for merging.
    pub patterns: Vec<String>,
    globs: Vec<glob::Pattern>,
}

impl Selection {
    /// Patterns separated by commas, spaces or newlines (as a YAML block or a
    /// matrix value gives them). Empty text selects everything: `None`.
    pub fn parse(text: &str) -> Result<Option<Selection>, SelectError> {
        let patterns: Vec<String> = text
            .split([',', '\n', ' ', '\t', '\r'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect();
        if patterns.is_empty() {
            return Ok(None);
        }
        let mut globs = Vec::new();
        for p in &patterns {
            if !p.contains(':') {
                return Err(SelectError::NoKind(p.clone()));
            }
            globs.push(glob::Pattern::new(p).map_err(|e| SelectError::Glob { pattern: p.clone(), reason: e.msg })?);
        }
        Ok(Some(Selection { patterns, globs }))
    }

    pub fn selects(&self, id: &str) -> bool {
        self.globs.iter().any(|g| g.matches(id))
    }

    /// Every pattern must match some target of the manifest: a pattern that
    /// matches nothing is a typo, and would silently leave a shard empty.
    /// The error is the usage message itself, shown as it is.
    pub fn check<'a>(&self, ids: impl IntoIterator<Item = &'a str> + Clone) -> Result<(), String> {
        let unmatched: Vec<String> = self
            .patterns
            .iter()
            .zip(&self.globs)
            .filter(|(_, g)| !ids.clone().into_iter().any(|id| g.matches(id)))
            .map(|(p, _)| match suggest::closest(p, ids.clone()) {
                Some(near) => format!("`{p}` (did you mean `{near}`?)"),
                None => format!("`{p}`"),
            })
            .collect();
        if unmatched.is_empty() {
            Ok(())
        } else {
            Err(format!("input `targets`: no target of the manifest matches {}", unmatched.join(", ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_without_a_kind_is_shown_with_each_kind() {
        assert_eq!(
            String::from(Selection::parse("web").unwrap_err()),
            "target pattern `web` has no kind: write `KIND:NAME` (`fly:web`, `esc:web`, `github:web`)"
        );
    }

    #[test]
    fn globs_over_target_ids() {
        let s = Selection::parse("fly:*, esc:sophia-*\ngithub:gh-infra").unwrap().unwrap();
        assert_eq!(s.patterns, ["fly:*", "esc:sophia-*", "github:gh-infra"]);
        assert!(s.selects("fly:lambda"));
        assert!(s.selects("esc:sophia-prod"));
        assert!(!s.selects("esc:other"));
        assert!(!s.selects("github:gh-infra2"));
        let shard = Selection::parse("fly:[a-m]*").unwrap().unwrap();
        assert!(shard.selects("fly:gong") && !shard.selects("fly:notion"));
        assert!(Selection::parse("  ").unwrap().is_none());
    }

    #[test]
    fn bad_and_unmatched_patterns_are_errors() {
        assert!(Selection::parse("lambda").unwrap_err().to_string().contains("has no kind"));
        assert!(Selection::parse("fly:[a").unwrap_err().to_string().contains("not a valid glob"));
        let s = Selection::parse("fly:*,esc:sophia-prd").unwrap().unwrap();
        let err = s.check(["fly:a", "esc:sophia-prod"]).unwrap_err();
        assert_eq!(
            err,
            "input `targets`: no target of the manifest matches `esc:sophia-prd` (did you mean `esc:sophia-prod`?)"
        );
    }
}
