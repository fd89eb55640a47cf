//! Rotation periods: `90d`, `12w`, `1y`, `36h`.

use std::fmt;

use serde::Serialize;

const PERIOD_FORMAT: &str = "expected a number and a unit (h, d, w or y), for example `90d`";
const WAIT_FORMAT: &str = "expected a whole number and a unit (ms, s, m or h), for example `1s` or `15m`";

/// Why a rotation period or a wait was refused; each says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration: {expected}", expected = PERIOD_FORMAT)]
    Empty,
    #[error("`{0}` is not a duration: {expected}", expected = PERIOD_FORMAT)]
    NotAPeriod(String),
    #[error("`{0}` is too large for a duration")]
    TooLarge(String),
    #[error("`{0}` is zero: a rotation period must be positive")]
    Zero(String),
    #[error("`{0}` is longer than 100 years")]
    OverACentury(String),
    #[error("`{0}` is not a duration: {expected}", expected = WAIT_FORMAT)]
    NotAWait(String),
    #[error("`{0}` is longer than a day")]
    OverADay(String),
}

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
    pub fn parse(s: &str) -> Result<Self, DurationError> {
        let t = s.trim();
        let Some(unit) = t.chars().last() else {
            return Err(DurationError::Empty);
        };
        let Some(&(_, mult)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(DurationError::NotAPeriod(t.to_string()));
        };
        let digits = &t[..t.len() - 1];
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.starts_with('0') && digits.len() > 1
        {
            return Err(DurationError::NotAPeriod(t.to_string()));
        }
        let n: u64 = digits.parse().map_err(|_| DurationError::TooLarge(t.to_string()))?;
        if n == 0 {
            return Err(DurationError::Zero(t.to_string()));
        }
        let hours = n
            .checked_mul(mult)
            .filter(|h| *h <= 24 * 365 * 100)
            .ok_or_else(|| DurationError::OverACentury(t.to_string()))?;
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
pub fn parse_wait(s: &str) -> Result<std::time::Duration, DurationError> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let ms_per = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(DurationError::NotAWait(t.to_string())),
    };
    let n: u64 = digits.parse().map_err(|_| DurationError::NotAWait(t.to_string()))?;
    let ms =
        n.checked_mul(ms_per).filter(|ms| *ms <= 86_400_000).ok_or_else(|| DurationError::OverADay(t.to_string()))?;
    Ok(std::time::Duration::from_millis(ms))
}

/// How [`show`] writes a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// As the manifest's waits are written (see [`parse_wait`]): `250ms`,
    /// `1s`, `16m40s`, `1h2m` (past an hour, seconds are left out).
    Compact,
    /// For a sentence, in whole seconds and minutes: `45 s`, `5 min`,
    /// `2 min 30 s`, `90 min`.
    Spaced,
}

/// The one duration formatter: GitHub's pace statement uses
/// [`Style::Compact`], Fly's roll messages [`Style::Spaced`].
pub fn show(d: std::time::Duration, style: Style) -> String {
    let ms = d.as_millis() as u64;
    let s = ms / 1000;
    match style {
        Style::Compact if ms < 1000 => format!("{ms}ms"),
        Style::Compact => match (s / 3600, s / 60 % 60, s % 60) {
            (0, 0, s) => format!("{s}s"),
            (0, m, 0) => format!("{m}m"),
            (0, m, s) => format!("{m}m{s}s"),
            (h, m, _) => format!("{h}h{m}m"),
        },
        Style::Spaced => match (s / 60, s % 60) {
            (0, s) => format!("{s} s"),
            (m, 0) => format!("{m} min"),
            (m, s) => format!("{m} min {s} s"),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn errors_say_what_is_accepted() {
        use super::{parse_wait, Period};
        assert_eq!(
            Period::parse("").unwrap_err().to_string(),
            "empty duration: expected a number and a unit (h, d, w or y), for example `90d`"
        );
        assert_eq!(
            Period::parse("90 days").unwrap_err().to_string(),
            "`90 days` is not a duration: expected a number and a unit (h, d, w or y), for example `90d`"
        );
        assert_eq!(Period::parse("0d").unwrap_err().to_string(), "`0d` is zero: a rotation period must be positive");
        assert_eq!(
            parse_wait("2d").unwrap_err().to_string(),
            "`2d` is not a duration: expected a whole number and a unit (ms, s, m or h), for example `1s` or `15m`"
        );
        assert_eq!(parse_wait("25h").unwrap_err().to_string(), "`25h` is longer than a day");
    }

    #[test]
    fn shows_durations_in_both_styles() {
        use super::{show, Style::*};
        let ms = Duration::from_millis;
        let cases = [
            (ms(250), "250ms", "0 s"),
            (ms(1000), "1s", "1 s"),
            (ms(1500), "1s", "1 s"),
            (ms(45_000), "45s", "45 s"),
            (ms(300_000), "5m", "5 min"),
            (ms(1_000_000), "16m40s", "16 min 40 s"),
            (ms(3_720_000), "1h2m", "62 min"),
            (ms(5_400_000), "1h30m", "90 min"),
        ];
        for (d, compact, spaced) in cases {
            assert_eq!(show(d, Compact), compact, "{d:?}");
            assert_eq!(show(d, Spaced), spaced, "{d:?}");
        }
    }

    use super::*;

    #[test]
    fn parses_waits() {
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
