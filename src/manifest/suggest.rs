//! "Did you mean …?" for misspelt keys, formats and target names.

/// The closest candidate within a small edit distance, if any.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = input.to_ascii_lowercase();
    let limit = (input.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| {
            let cl = c.to_ascii_lowercase();
            // `prod` for `production`: an abbreviation counts as close.
            let d = if lower.len() >= 3 && cl.starts_with(&lower) { 1 } else { strsim::levenshtein(&lower, &cl) };
            (d, c)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ` (did you mean `x`?)` or nothing.
pub fn hint<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(input, candidates).map(|c| format!("; did you mean `{c}`?")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        assert_eq!(closest("formt", ["format", "group"]), Some("format"));
        assert_eq!(closest("secret", ["secrets", "targets"]), Some("secrets"));
        assert_eq!(closest("zzzzzz", ["format", "group"]), None);
        assert_eq!(closest("prod", ["dev", "production"]), Some("production"));
        assert_eq!(hint("opneai", ["openai", "pem"]), "; did you mean `openai`?");
    }
}
