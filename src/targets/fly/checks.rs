//! What flyctl checks after each Machine update, as pure rules over the
//! Machine as `GET /v1/apps/{app}/machines/{id}` returns it (fly-go
//! machine_types.go; docs/service-facts.md, "Fly.io"): the smoke check's
//! uptime and crash loop (flyctl internal/machine/leasable_machine.go
//! `WaitForSmokeChecksToPass`, `isConstantlyRestarting`; fly-go
//! `MostRecentStartTimeAfterLaunch`), the health checks configured and
//! their results (`WaitForHealthchecksToPass`; fly-go `AllHealthChecks`,
//! `RemoveCompatChecks`). `super::roll` polls; nothing here does I/O.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value as Json;

/// flyctl: a Machine passes the smoke check once up longer than this…
pub const SMOKE_UPTIME: Duration = Duration::from_secs(10);
/// …and the smoke check gives up (and passes) after this long.
pub const SMOKE_WINDOW: Duration = Duration::from_secs(10);

/// One entry of `events` (newest first).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Event {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub request: Option<Request>,
    /// Milliseconds since the epoch.
    #[serde(default)]
    pub timestamp: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Request {
    #[serde(default)]
    pub exit_event: Option<ExitEvent>,
    #[serde(default)]
    pub restart_count: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExitEvent {
    #[serde(default)]
    pub exit_code: i64,
    #[serde(default)]
    pub restarting: bool,
    #[serde(default)]
    pub requested_stop: bool,
}

/// One entry of `checks`: a check's latest result.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CheckStatus {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub output: String,
}

/// flyctl `isConstantlyRestarting`: the latest `exit` event was not a
/// requested stop, the Machine is restarting, has restarted more than once,
/// and the exit code is not 0. Returns that event's restart count and code.
pub fn crash_loop(events: &[Event]) -> Option<(i64, i64)> {
    let ev = events.iter().find(|e| e.kind == "exit")?;
    let req = ev.request.as_ref()?;
    let exit = req.exit_event.as_ref()?;
    (!exit.requested_stop && exit.restarting && req.restart_count > 1 && exit.exit_code != 0)
        .then_some((req.restart_count, exit.exit_code))
}

/// fly-go `MostRecentStartTimeAfterLaunch`, rule for rule: scanning the
/// events (newest first) until both a `start` and a `launch` were seen, the
/// last `start` seen must be newer than the `launch`, and no `exit` seen
/// may be as new as it. Milliseconds since the epoch.
pub fn started_at(events: &[Event]) -> Option<i64> {
    let (mut start, mut launch, mut exit) = (None, None, None);
    for (i, e) in events.iter().enumerate() {
        match e.kind.as_str() {
            "start" => start = Some(i),
            "launch" => launch = Some(i),
            "exit" => exit = Some(i),
            _ => {}
        }
        if start.is_some() && launch.is_some() {
            break;
        }
    }
    let s = start?;
    if launch.is_none_or(|l| s >= l) || exit.is_some_and(|x| x <= s) {
        return None;
    }
    Some(events[s].timestamp)
}

/// The smoke check's verdict on one reading at `now_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Smoke {
    /// Up longer than [`SMOKE_UPTIME`] and not crash-looping.
    Up,
    /// Crash-looping: "the app appears to be crashing".
    Crashing { restarts: i64, exit_code: i64 },
    /// Ask again (until [`SMOKE_WINDOW`] passes, which flyctl counts as a pass).
    NotYet,
}

pub fn smoke(events: &[Event], now_ms: i64) -> Smoke {
    let crashing = crash_loop(events);
    let up = started_at(events).map_or(0, |t| now_ms - t);
    match crashing {
        None if up > SMOKE_UPTIME.as_millis() as i64 => Smoke::Up,
        Some((restarts, exit_code)) => Smoke::Crashing { restarts, exit_code },
        None => Smoke::NotYet,
    }
}

/// How many health checks the Machine's config declares: `config.checks`
/// (a map) and each `config.services[].checks` (flyctl counts these, not
/// the results, so a Machine with no results yet is still waited for).
pub fn configured(config: &Json) -> usize {
    let top = config["checks"].as_object().map_or(0, |m| m.len());
    let services: usize =
        config["services"].as_array().into_iter().flatten().map(|s| s["checks"].as_array().map_or(0, Vec::len)).sum();
    top + services
}

/// The results that count: fly-go drops flaps' `bg_deployments_compat*` entries.
pub fn results(checks: &[CheckStatus]) -> Vec<&CheckStatus> {
    checks.iter().filter(|c| !c.name.starts_with("bg_deployments_compat")).collect()
}

/// flyctl's pass: at least one result, and every result `passing`.
pub fn all_passing(checks: &[CheckStatus]) -> bool {
    let r = results(checks);
    !r.is_empty() && r.iter().all(|c| c.status == "passing")
}

/// What a timeout reports: each result not passing (or "no result yet").
pub fn not_passing(checks: &[CheckStatus]) -> Vec<&CheckStatus> {
    results(checks).into_iter().filter(|c| c.status != "passing").collect()
}

/// Deterministic backoff as flyctl's (jpillora/backoff, here without the
/// jitter): `min`, doubled each time, at most `max`.
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff { next: min, max }
    }

    pub fn step(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }
}

pub use crate::targets::redact::redact;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn events(v: Json) -> Vec<Event> {
        serde_json::from_value(v).unwrap()
    }

    fn exit(code: i64, restarting: bool, requested: bool, count: i64) -> Json {
        json!({ "type": "exit", "status": "stopped", "timestamp": 3000,
            "request": { "exit_event": { "exit_code": code, "restarting": restarting, "requested_stop": requested }, "restart_count": count } })
    }

    #[test]
    fn a_crash_loop_is_flyctls() {
        assert_eq!(crash_loop(&events(json!([exit(1, true, false, 2)]))), Some((2, 1)));
        assert_eq!(crash_loop(&events(json!([exit(1, true, false, 1)]))), None, "restarted once");
        assert_eq!(crash_loop(&events(json!([exit(0, true, false, 5)]))), None, "exit code 0");
        assert_eq!(crash_loop(&events(json!([exit(1, false, false, 5)]))), None, "not restarting");
        assert_eq!(crash_loop(&events(json!([exit(1, true, true, 5)]))), None, "a requested stop");
        let older_exit =
            json!([{ "type": "start", "timestamp": 5 }, exit(1, false, false, 0), exit(1, true, false, 9)]);
        assert_eq!(crash_loop(&events(older_exit)), None, "only the latest exit counts");
    }

    #[test]
    fn uptime_counts_from_the_start_after_the_launch() {
        let ok = events(json!([{ "type": "start", "timestamp": 2000 }, { "type": "launch", "timestamp": 1000 }]));
        assert_eq!(started_at(&ok), Some(2000));
        assert_eq!(smoke(&ok, 12_001), Smoke::Up);
        assert_eq!(smoke(&ok, 12_000), Smoke::NotYet, "more than 10 s, not 10 s");
        let no_launch = events(json!([{ "type": "start", "timestamp": 2000 }]));
        assert_eq!(started_at(&no_launch), None);
        let launch_after =
            events(json!([{ "type": "launch", "timestamp": 3000 }, { "type": "start", "timestamp": 2000 }]));
        assert_eq!(started_at(&launch_after), None);
        let exited =
            events(json!([exit(1, false, false, 0), { "type": "start", "timestamp": 2000 }, { "type": "launch" }]));
        assert_eq!(started_at(&exited), None);
        assert_eq!(smoke(&exited, 1_000_000), Smoke::NotYet, "no start: no uptime");
        let crashing =
            events(json!([exit(137, true, false, 3), { "type": "start", "timestamp": 2000 }, { "type": "launch" }]));
        assert_eq!(smoke(&crashing, 1_000_000), Smoke::Crashing { restarts: 3, exit_code: 137 });
    }

    #[test]
    fn configured_checks_are_top_level_and_per_service() {
        assert_eq!(configured(&json!({})), 0);
        let c = json!({ "checks": { "a": {}, "b": {} }, "services": [{ "checks": [{}] }, { "ports": [] }] });
        assert_eq!(configured(&c), 3);
    }

    #[test]
    fn passing_needs_a_result_and_every_result_passing() {
        let s = |v: Json| -> Vec<CheckStatus> { serde_json::from_value(v).unwrap() };
        assert!(!all_passing(&[]), "no result yet");
        assert!(all_passing(&s(json!([{ "name": "a", "status": "passing" }]))));
        let mixed = s(json!([{ "name": "a", "status": "passing" }, { "name": "b", "status": "warning" }]));
        assert!(!all_passing(&mixed));
        assert_eq!(not_passing(&mixed)[0].name, "b");
        let compat = s(
            json!([{ "name": "a", "status": "passing" }, { "name": "bg_deployments_compat_x", "status": "critical" }]),
        );
        assert!(all_passing(&compat), "flaps' compatibility entries do not count");
    }

    #[test]
    fn backoff_doubles_to_its_cap() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(2));
        let steps: Vec<u128> = (0..5).map(|_| b.step().as_millis()).collect();
        assert_eq!(steps, [500, 1000, 2000, 2000, 2000]);
    }

    #[test]
    fn output_is_redacted_and_cut() {
        let r = redact("dial postgres://u:hunter22@db failed", ["postgres://u:hunter22@db"], 200);
        assert_eq!(r, "dial *** failed");
        assert_eq!(redact("line two of it", ["line one\nline two"], 200), "*** of it");
        assert_eq!(redact("abcdef", [], 3), "abc…");
        assert_eq!(
            redact("auth failed for pw-0c9f2e71a4", ["postgres://app:pw-0c9f2e71a4@db:5432/app"], 200),
            "auth failed for ***"
        );
    }
}
