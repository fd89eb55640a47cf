//! Rolling an app's Machines onto a new secrets version as `fly secrets
//! deploy` does (flyctl internal/command/deploy/machines_deploymachinesapp.go
//! `waitForMachine`; docs/service-facts.md, "Fly.io"): one Machine at a
//! time under a lease, then — before the next — wait for `started`, the
//! smoke check and the health checks ([`FlyChecks`] switches the checks
//! and bounds the waits). The first Machine that fails stops the roll.

use std::time::Duration;

use super::api::{Api, FlyApiError};
use super::checks::{self, Backoff, Smoke, SMOKE_WINDOW};
use super::machines::{Machine, Treatment};
use crate::manifest::FlyChecks;

/// Characters of a check's output kept in a report.
const OUTPUT_LIMIT: usize = 300;

/// Why a Machine stopped the roll.
#[derive(Debug, thiserror::Error)]
pub enum RollError {
    #[error(transparent)]
    Api(#[from] FlyApiError),
    #[error(
        "smoke check: the app appears to be crashing (it exited with code {exit_code} and is restarting, {restarts} restarts)"
    )]
    Crashing { exit_code: i64, restarts: i64 },
    #[error("no result of its {configured} health check(s) came within {}", show(*.limit))]
    NoHealthResult { configured: usize, limit: Duration },
    /// `failing` names each check not passing, with its redacted output.
    #[error("{} (not passing within {})", .failing.join("; "), show(*.limit))]
    NotPassing { failing: Vec<String>, limit: Duration },
}

fn show(d: Duration) -> String {
    crate::duration::show(d, crate::duration::Style::Spaced)
}

/// What happened to an app's Machines.
#[derive(Default)]
pub struct Roll {
    pub rolled: usize,
    pub quiet: usize,
    pub left: usize,
    /// Machines that got the new secrets version, in order.
    pub updated: Vec<String>,
    /// Machines the roll should have updated and did not (it stopped).
    pub pending: Vec<String>,
    pub stop: Option<Stop>,
}

/// Why the roll stopped.
pub struct Stop {
    /// The Machine it stopped at, when one failed after its update.
    pub machine: Option<String>,
    pub reason: String,
}

impl Roll {
    pub fn summary(&self) -> String {
        let mut s = format!("{} machine(s) restarted one at a time", self.rolled);
        if self.quiet > 0 {
            s.push_str(&format!(
                ", {} updated without starting (stopped, suspended or standby: they read the secrets at their next start)",
                self.quiet
            ));
        }
        if self.left > 0 {
            s.push_str(&format!(", {} left alone (release command, console or not a Fly Launch machine)", self.left));
        }
        s
    }

    /// Machines that count for `fly secrets list` (all but those left alone).
    pub fn total(&self) -> usize {
        self.updated.len() + self.pending.len()
    }
}

/// Gives the app's machines the new secrets, one at a time: running ones
/// are updated and waited for, the others updated with `skip_launch` (see
/// [`super::machines`]). `values` are redacted from any check output.
pub async fn roll(api: &Api<'_>, version: Option<u64>, checks: FlyChecks, values: &[&str]) -> Roll {
    let mut roll = Roll::default();
    let list = match api.machines().await {
        Ok(l) => l,
        Err(e) => {
            roll.stop = Some(Stop { machine: None, reason: e.to_string() });
            return roll;
        }
    };
    for m in &list {
        let t = m.treatment();
        if t == Treatment::Leave {
            roll.left += usize::from(!matches!(m.state.as_str(), "destroyed" | "destroying"));
            continue;
        }
        if roll.stop.is_some() {
            roll.pending.push(m.id.clone());
            continue;
        }
        match one(api, m, t, version, checks, values).await {
            Ok(()) => {
                roll.updated.push(m.id.clone());
                if t == Treatment::UpdateWithoutStart {
                    roll.quiet += 1;
                } else {
                    roll.rolled += 1;
                }
            }
            Err(Failed::Before(reason)) => {
                roll.pending.push(m.id.clone());
                roll.stop = Some(Stop { machine: None, reason: reason.to_string() });
            }
            Err(Failed::After(reason)) => {
                roll.updated.push(m.id.clone());
                roll.stop = Some(Stop { machine: Some(m.id.clone()), reason: reason.to_string() });
            }
        }
    }
    roll
}

enum Failed {
    /// The Machine was not updated.
    Before(RollError),
    /// It was updated, then failed to start or a check.
    After(RollError),
}

async fn one(
    api: &Api<'_>,
    m: &Machine,
    t: Treatment,
    version: Option<u64>,
    checks: FlyChecks,
    values: &[&str],
) -> Result<(), Failed> {
    let nonce = api.lease(m).await.map_err(|e| Failed::Before(e.into()))?;
    let skip_launch = t == Treatment::UpdateWithoutStart;
    let updated = api.update(m, &nonce, version, skip_launch).await;
    let started = match &updated {
        Ok(instance) if !skip_launch => api.wait_started(m, instance, checks.wait_timeout).await,
        _ => Ok(()),
    };
    api.release(m, &nonce).await;
    updated.map_err(|e| Failed::Before(e.into()))?;
    started.map_err(|e| Failed::After(e.into()))?;
    if skip_launch {
        // flyctl: "Don't wait for SkipLaunch machines".
        return Ok(());
    }
    if checks.smoke {
        smoke(api, m).await.map_err(Failed::After)?;
    }
    if checks.health {
        health(api, m, checks.wait_timeout, values).await.map_err(Failed::After)?;
    }
    Ok(())
}

/// flyctl `WaitForSmokeChecksToPass`: read the Machine for up to 10 s
/// (backoff 0.5 s doubling to 2 s); it passes once up more than 10 s, or
/// when the 10 s are over; a crash loop fails it.
async fn smoke(api: &Api<'_>, m: &Machine) -> Result<(), RollError> {
    let clock = &api.clock();
    let end = clock.now().await + SMOKE_WINDOW;
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(2));
    while clock.now().await < end {
        let now = api.get(m).await?;
        match checks::smoke(&now.events, clock.now_ms().await) {
            Smoke::Up => return Ok(()),
            Smoke::Crashing { restarts, exit_code } => return Err(RollError::Crashing { exit_code, restarts }),
            Smoke::NotYet => clock.sleep(backoff.step().min(end.saturating_sub(clock.now().await))).await,
        }
    }
    Ok(())
}

/// flyctl `WaitForHealthchecksToPass`: a Machine with no configured check
/// is not waited for; otherwise read it (backoff 1 s to 2 s) until it shows
/// at least one result and all pass, or `limit` passes.
async fn health(api: &Api<'_>, m: &Machine, limit: Duration, values: &[&str]) -> Result<(), RollError> {
    let configured = checks::configured(&m.config);
    if configured == 0 {
        return Ok(());
    }
    let clock = &api.clock();
    let end = clock.now().await + limit;
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(2));
    loop {
        let now = api.get(m).await?;
        if checks::all_passing(&now.checks) {
            return Ok(());
        }
        if clock.now().await >= end {
            let failing: Vec<String> = checks::not_passing(&now.checks)
                .iter()
                .map(|c| {
                    let output = checks::redact(c.output.trim(), values.iter().copied(), OUTPUT_LIMIT);
                    format!(
                        "health check `{}` is {}: {}",
                        c.name,
                        c.status,
                        if output.is_empty() { "(no output)".into() } else { output }
                    )
                })
                .collect();
            return Err(if failing.is_empty() {
                RollError::NoHealthResult { configured, limit }
            } else {
                RollError::NotPassing { failing, limit }
            });
        }
        clock.sleep(backoff.step().min(end.saturating_sub(clock.now().await))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_name_the_checks_and_the_wait() {
        assert_eq!(
            RollError::NoHealthResult { configured: 2, limit: Duration::from_secs(300) }.to_string(),
            "no result of its 2 health check(s) came within 5 min"
        );
        let failing = vec!["health check `a` is critical: x".into(), "health check `b` is warning: (no output)".into()];
        assert_eq!(
            RollError::NotPassing { failing, limit: Duration::from_secs(90) }.to_string(),
            "health check `a` is critical: x; health check `b` is warning: (no output) (not passing within 1 min 30 s)"
        );
        assert_eq!(
            RollError::Crashing { exit_code: 1, restarts: 3 }.to_string(),
            "smoke check: the app appears to be crashing (it exited with code 1 and is restarting, 3 restarts)"
        );
    }
}
