//! `checks:` of a Fly target and `defaults.fly_checks`: what the roll waits
//! for after each Machine update (see [`FlyChecks`]).

use std::time::Duration;

use marked_yaml::Node;

use super::{pos_of, Walker};
use crate::manifest::model::FlyChecks;

const KEYS: &[&str] = &["smoke", "health", "wait_timeout"];
/// flyctl puts no upper bound on `--wait-timeout`; a day is more than any roll needs.
const MAX: Duration = Duration::from_secs(24 * 3600);

impl Walker<'_> {
    /// The mapping at `node` over `base`: each key given replaces base's.
    pub fn fly_checks(&mut self, node: &Node, what: &str, base: FlyChecks) -> FlyChecks {
        let mut c = base;
        let Some(Some(map)) = self.mapping_or_null(node, what) else {
            return c;
        };
        self.check_keys(map, KEYS, what);
        if let Some(n) = map.get_node("smoke") {
            c.smoke = self.bool(n, &format!("`smoke` of {what}")).unwrap_or(c.smoke);
        }
        if let Some(n) = map.get_node("health") {
            c.health = self.bool(n, &format!("`health` of {what}")).unwrap_or(c.health);
        }
        if let Some(n) = map.get_node("wait_timeout") {
            let field = format!("`wait_timeout` of {what}");
            if let Some(text) = self.string(n, &field) {
                match timeout(&text) {
                    Some(t) => c.wait_timeout = t,
                    None => self.err(
                        pos_of(n),
                        "invalid value",
                        format!("{field} must be seconds (`300`, `90s`) or minutes (`5m`), from 1 s to a day; found `{text}`"),
                    ),
                }
            }
        }
        c
    }
}

/// `300`, `90s`, `5m`.
fn timeout(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (digits, unit) = match t.strip_suffix('m') {
        Some(d) => (d, 60),
        None => (t.strip_suffix('s').unwrap_or(t), 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 6 {
        return None;
    }
    let d = Duration::from_secs(digits.parse::<u64>().ok()? * unit);
    (!d.is_zero() && d <= MAX).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_seconds_or_minutes() {
        assert_eq!(timeout("300"), Some(Duration::from_secs(300)));
        assert_eq!(timeout("90s"), Some(Duration::from_secs(90)));
        assert_eq!(timeout("5m"), Some(Duration::from_secs(300)));
        for bad in ["", "0", "0s", "5h", "-1", "1.5m", "m", "2000m", "99999999"] {
            assert_eq!(timeout(bad), None, "{bad}");
        }
    }
}

#[cfg(test)]
mod manifest {
    use crate::manifest::model::FlyChecks;
    use std::time::Duration;

    fn checks(text: &str) -> Result<Vec<FlyChecks>, Vec<String>> {
        match super::super::parse(text.as_bytes(), "m.yml", crate::targets::SECTIONS) {
            Ok(m) => {
                Ok(m.targets.iter().filter_map(|t| t.spec::<crate::targets::fly::Spec>().map(|s| s.checks)).collect())
            }
            Err(d) => Err(d.iter().map(|d| format!("{}:{} {}", d.line, d.col, d.message)).collect()),
        }
    }

    #[test]
    fn target_checks_override_the_defaults_key_by_key() {
        let text = "version: 1\ndefaults:\n  fly_checks: { smoke: false, wait_timeout: 90s }\ntargets:\n  fly:\n    a: {}\n    b: { checks: { health: false, wait_timeout: 2m } }\nsecrets:\n  K: { to: [ { fly: a }, { fly: b } ] }\n";
        let got = checks(text).unwrap();
        assert_eq!(got[0], FlyChecks { smoke: false, health: true, wait_timeout: Duration::from_secs(90) });
        assert_eq!(got[1], FlyChecks { smoke: false, health: false, wait_timeout: Duration::from_secs(120) });
        let plain = "version: 1\ntargets:\n  fly:\n    a: {}\nsecrets:\n  K: { to: [ { fly: a } ] }\n";
        assert_eq!(checks(plain).unwrap(), [FlyChecks::default()]);
    }

    #[test]
    fn bad_checks_are_located() {
        let text = "version: 1\ntargets:\n  fly:\n    a: { checks: { smoke: maybe, wait: 1, wait_timeout: 5h } }\nsecrets:\n  K: { to: [ { fly: a } ] }\n";
        let errors = checks(text).unwrap_err();
        assert!(errors.iter().any(|e| e.starts_with("4:") && e.contains("`smoke` of")), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("unknown key `wait`") && e.contains("wait_timeout")), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("`wait_timeout` of") && e.contains("`5h`")), "{errors:?}");
    }
}
