//! Rotation periods: `90d`, `12w`, `1y`, `36h`.

use std::fmt;

use serde::Serialize;

/// A period in whole hours, shown as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    hours: u64,
}

const UNITS: &[(char, u64)] = &[('h', 1), ('d', 24), ('w', 24 * 7), ('y', 24 * 365)];

impl Period {
    pub const fn days(d: u64) -> Self {
        Period { hours: d * 24 }
    }

    pub fn hours(self) -> u64 {
        self.hours
    }

    /// Parses `<positive integer><h|d|w|y>`; the error says what is accepted.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let expected = "expected a number and a unit (h, d, w or y), for example `90d`";
        let Some(unit) = t.chars().last() else {
            return Err(format!("empty duration: {expected}"));
        };
        let Some(&(_, mult)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(format!("`{t}` is not a duration: {expected}"));
        };
        let digits = &t[..t.len() - 1];
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.starts_with('0') && digits.len() > 1
        {
            return Err(format!("`{t}` is not a duration: {expected}"));
        }
        let n: u64 = digits.parse().map_err(|_| format!("`{t}` is too large for a duration"))?;
        if n == 0 {
            return Err(format!("`{t}` is zero: a rotation period must be positive"));
        }
        let hours = n
            .checked_mul(mult)
            .filter(|h| *h <= 24 * 365 * 100)
            .ok_or_else(|| format!("`{t}` is longer than 100 years"))?;
        Ok(Period { hours })
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &(u, m) in UNITS.iter().rev() {
            if u != 'w' && self.hours % m == 0 {
                return write!(f, "{}{}", self.hours / m, u);
            }
        }
        write!(f, "{}h", self.hours)
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Period, D::Error> {
        let text = String::deserialize(d)?;
        Period::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A pause or a bound on waiting: `<integer><ms|s|m|h>` (`1s`, `500ms`,
/// `15m`); zero is allowed. At most a day.
pub fn parse_wait(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let expected = "expected a whole number and a unit (ms, s, m or h), for example `1s` or `15m`";
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let ms_per = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(format!("`{t}` is not a duration: {expected}")),
    };
    let n: u64 = digits.parse().map_err(|_| format!("`{t}` is not a duration: {expected}"))?;
    let ms =
        n.checked_mul(ms_per).filter(|ms| *ms <= 86_400_000).ok_or_else(|| format!("`{t}` is longer than a day"))?;
    Ok(std::time::Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_waits() {
        use std::time::Duration;
        assert_eq!(parse_wait("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_wait("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_wait("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_wait("0s").unwrap(), Duration::ZERO);
        for bad in ["", "1", "s", "1.5s", "-1s", "1 s", "2d", "25h"] {
            assert!(parse_wait(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_units() {
        assert_eq!(Period::parse("90d").unwrap(), Period::days(90));
        assert_eq!(Period::parse("2w").unwrap(), Period::days(14));
        assert_eq!(Period::parse("1y").unwrap(), Period::days(365));
        assert_eq!(Period::parse("36h").unwrap().hours(), 36);
        assert_eq!(Period::days(14).to_string(), "14d");
        assert_eq!(Period::parse("36h").unwrap().to_string(), "36h");
    }

    #[test]
    fn rejects_bad_input() {
        for bad in ["", "90", "d", "90 days", "-1d", "0d", "090d", "1.5d", "99999999999999999999d", "1000y"] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
    }
}
