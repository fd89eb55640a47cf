//! Text a service returns about a target (a health check's output, a
//! build's error) is the app's own and may quote a secret: it reaches the
//! report only through [`redact`].

/// `text` with every value in `values` replaced by `***` — and each line of
/// a multi-line one, and each part of 8 characters or more between URL and
/// list punctuation (the password of a database URL) — cut to `limit`
/// characters.
pub fn redact<'a>(text: &str, values: impl IntoIterator<Item = &'a str>, limit: usize) -> String {
    let mut out = text.to_string();
    let mut needles: Vec<&str> = Vec::new();
    for v in values {
        needles.push(v);
        needles.extend(v.lines().map(str::trim).filter(|l| l.len() >= 4));
        let parts = v.split(|c: char| c.is_whitespace() || ":/@?&=;,#'\"".contains(c));
        needles.extend(parts.filter(|p| p.len() >= 8));
    }
    // Longest first, so a value's lines do not split the whole value.
    needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for n in needles.into_iter().filter(|n| !n.trim().is_empty()) {
        out = out.replace(n, "***");
    }
    let cut: String = out.chars().take(limit).collect();
    if cut.len() < out.len() {
        format!("{cut}…")
    } else {
        cut
    }
}
