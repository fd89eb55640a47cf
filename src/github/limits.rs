//! Telling a rate-limit answer from any other, and how long it asks to
//! wait, as GitHub documents it (docs/service-facts.md, "GitHub: rate
//! limits"): a 403 or a 429 that carries `retry-after`, or
//! `x-ratelimit-remaining: 0`, or a message naming a rate limit. A 403
//! without any of these is a permission error and is not retried.
//!
//! The wait: `retry-after` seconds when present; else, when
//! `x-ratelimit-remaining` is 0, until `x-ratelimit-reset` (UTC epoch
//! seconds) and one second more, as octokit's plugin-throttling does; else
//! at least a minute, doubling while the limit keeps answering. Nothing here
//! caps what GitHub asks for: the run's bound on waiting is the scheduler's.

use std::time::Duration;

use reqwest::header::HeaderMap;

/// The documented wait when a rate-limit answer names no time.
pub const MINUTE: Duration = Duration::from_secs(60);

/// A rate-limit answer: how long it asks to wait, and which rule said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub wait: Duration,
    pub why: Why,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// `retry-after: N`.
    RetryAfter,
    /// `x-ratelimit-remaining: 0` with `x-ratelimit-reset` (the primary limit).
    Reset,
    /// A rate-limit answer with neither: a minute, doubled per repeat.
    NoTime,
}

impl Why {
    pub fn describe(self) -> &'static str {
        match self {
            Why::RetryAfter => "its `retry-after` header",
            Why::Reset => "`x-ratelimit-remaining: 0` until `x-ratelimit-reset`",
            Why::NoTime => "a rate-limit answer without a time (at least a minute)",
        }
    }
}

/// The rate limit an answer reports, if it is one. `now` is the clock's
/// time since the epoch; `repeats` how many rate-limit answers without a
/// time came just before this one.
pub fn classify(status: u16, headers: &HeaderMap, body: &str, now: Duration, repeats: u32) -> Option<Limit> {
    if status != 403 && status != 429 {
        return None;
    }
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(secs) = header("retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Limit { wait: Duration::from_secs(secs), why: Why::RetryAfter });
    }
    if header("x-ratelimit-remaining") == Some("0") {
        if let Some(reset) = header("x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok()) {
            let at = Duration::from_secs(reset) + Duration::from_secs(1);
            return Some(Limit { wait: at.saturating_sub(now), why: Why::Reset });
        }
        return Some(no_time(repeats));
    }
    if status == 429 || names_a_rate_limit(body) {
        return Some(no_time(repeats));
    }
    None
}

fn no_time(repeats: u32) -> Limit {
    Limit { wait: MINUTE.saturating_mul(1 << repeats.min(6)), why: Why::NoTime }
}

/// GitHub's messages: "You have exceeded a secondary rate limit…", "API rate
/// limit exceeded for…" (octokit's plugin-throttling matches
/// `/\bsecondary rate\b/i`; the primary message is recognised by its header).
fn names_a_rate_limit(body: &str) -> bool {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_ascii_lowercase))
        .unwrap_or_default();
    message.contains("rate limit")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(h: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in h {
            m.insert(*k, v.parse().unwrap());
        }
        m
    }

    const NOW: Duration = Duration::from_secs(1_000_000);
    const SECONDARY: &str =
        r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#;

    #[test]
    fn retry_after_comes_first_and_is_not_capped() {
        let h = headers(&[("retry-after", "3"), ("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1000100")]);
        assert_eq!(classify(403, &h, SECONDARY, NOW, 0).unwrap().wait, Duration::from_secs(3));
        let h = headers(&[("retry-after", "7200")]);
        assert_eq!(classify(429, &h, "", NOW, 0).unwrap().wait, Duration::from_secs(7200));
    }

    #[test]
    fn remaining_zero_waits_until_the_reset_and_a_second() {
        let h = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1000003")]);
        let l = classify(403, &h, r#"{"message":"API rate limit exceeded for user ID 1."}"#, NOW, 0).unwrap();
        assert_eq!((l.wait, l.why), (Duration::from_secs(4), Why::Reset));
        // A reset already past: the second after it.
        let h = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "999000")]);
        assert_eq!(classify(429, &h, "", NOW, 0).unwrap().wait, Duration::ZERO);
    }

    #[test]
    fn without_a_time_at_least_a_minute_doubling_on_repeats() {
        let none = HeaderMap::new();
        assert_eq!(classify(403, &none, SECONDARY, NOW, 0).unwrap(), Limit { wait: MINUTE, why: Why::NoTime });
        assert_eq!(classify(403, &none, SECONDARY, NOW, 2).unwrap().wait, Duration::from_secs(240));
        assert_eq!(classify(429, &none, "", NOW, 0).unwrap().wait, MINUTE);
        // Remaining 0 without a reset: also the minute.
        let h = headers(&[("x-ratelimit-remaining", "0")]);
        assert_eq!(classify(403, &h, "", NOW, 0).unwrap().wait, MINUTE);
    }

    #[test]
    fn a_permission_error_is_not_a_rate_limit() {
        let none = HeaderMap::new();
        let body = r#"{"message":"Resource not accessible by integration"}"#;
        assert_eq!(classify(403, &none, body, NOW, 0), None);
        let h = headers(&[("x-ratelimit-remaining", "4999"), ("x-ratelimit-reset", "1000003")]);
        assert_eq!(classify(403, &h, body, NOW, 0), None);
        assert_eq!(classify(500, &headers(&[("retry-after", "1")]), "", NOW, 0), None);
    }
}
