//! Small helpers shared by several stages.

/// An I/O error's reason without the OS's wording of the path (we name the
/// path ourselves).
pub fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => "no such file".into(),
        PermissionDenied => "permission denied".into(),
        IsADirectory => "it is a directory".into(),
        _ => e.kind().to_string(),
    }
}

/// The current time as RFC 3339 UTC (`2026-11-23T10:00:00Z`).
/// `SECRET_SYNC_NOW` (seconds since the epoch) fixes it for tests and
/// reproducible reports.
pub fn now_rfc3339() -> String {
    rfc3339(now_secs())
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC, whole seconds.
pub fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

/// Standard base64 with padding (GitHub public keys and sealed boxes).
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes standard base64 (padding optional); `None` on any invalid input.
pub fn unb64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// Decodes base64url (JWT parts), padded or not.
pub fn unb64url(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// Parses an RFC 3339 time (`2026-01-01T00:00:00Z`; fractional seconds and
/// offsets accepted, as GitHub and Fly send them) into seconds since the
/// Unix epoch. Anything that is not a valid date-time (month 13, Feb 30) is
/// `None`.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s.trim()).ok().map(|t| t.timestamp())
}

/// Seconds since the epoch now (`SECRET_SYNC_NOW` fixes it).
pub fn now_secs() -> i64 {
    crate::env::var(crate::env::EnvVars::SECRET_SYNC_NOW).and_then(|s| s.parse::<i64>().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    })
}

/// A path as the user wrote it, without a leading `./`.
pub fn display_path(p: &std::path::Path) -> String {
    let s = p.display().to_string();
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_times_back() {
        for t in [0, 951_782_400, 1_795_434_000] {
            assert_eq!(super::parse_rfc3339(&super::rfc3339(t)), Some(t));
        }
        assert_eq!(super::parse_rfc3339("2026-11-23T12:40:00+01:00"), Some(1_795_434_000));
        assert_eq!(super::parse_rfc3339("2026-11-23T11:40:00.123Z"), Some(1_795_434_000));
        assert_eq!(super::parse_rfc3339("nope"), None);
        // Out-of-range fields are refused, not wrapped into another date.
        assert_eq!(super::parse_rfc3339("2026-13-01T00:00:00Z"), None);
        assert_eq!(super::parse_rfc3339("2026-02-30T00:00:00Z"), None);
        assert_eq!(super::parse_rfc3339("2026-01-01T24:00:00Z"), None);
    }

    #[test]
    fn base64_round_trips() {
        for s in ["", "a", "ab", "abc", "hello world!"] {
            assert_eq!(super::unb64(&super::b64(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(super::b64(b"ab"), "YWI=");
        assert_eq!(super::unb64("YWI"), Some(b"ab".to_vec()));
        assert_eq!(super::unb64("Y!I="), None);
        assert_eq!(super::unb64url("-_8"), Some(vec![0xfb, 0xff]));
        assert_eq!(super::unb64url("+/8"), None);
    }

    #[test]
    fn formats_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_434_000), "2026-11-23T11:40:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
