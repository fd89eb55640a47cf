//! One scheduler per GitHub token for the whole run, after GitHub's "Best
//! practices for using the REST API" (docs/service-facts.md, "GitHub: rate
//! limits"): requests go one at a time ("make requests serially instead of
//! concurrently"); a mutative request (POST, PATCH, PUT, DELETE) goes at
//! least `write_interval` after the previous one ended ("wait at least one
//! second between each request"); after a rate-limit answer nothing is sent
//! until the time it asked for. The org metadata read and every GitHub
//! target share it, so the limits hold for the token, not per target.
//!
//! Waiting on rate limits is bounded per run (`rate_limit_wait`): a wait
//! that would pass the bound is not waited; the request fails instead, and
//! so does every later one while GitHub's wait lasts.

use std::sync::Mutex;
use std::time::Duration;

use super::limits::{Limit, Why};
use crate::clock::Clock;

/// How the run paces one token (the manifest's `defaults`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Between the end of one mutative request and the start of the next.
    pub write_interval: Duration,
    /// The most the run waits, in total, on rate-limit answers.
    pub rate_limit_wait: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Pace { write_interval: DEFAULT_WRITE_INTERVAL, rate_limit_wait: DEFAULT_RATE_LIMIT_WAIT }
    }
}

/// GitHub's documented minimum between mutative requests.
pub const DEFAULT_WRITE_INTERVAL: Duration = Duration::from_secs(1);
/// Long enough to sit out a secondary limit's minute several times over,
/// and far below an Actions job's timeout.
pub const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(15 * 60);

/// A rate-limit wait the run's bound does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhausted {
    /// What GitHub asked for, from now.
    pub asked: Duration,
    pub bound: Duration,
}

impl std::fmt::Display for Exhausted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GitHub's rate limit asks to wait {}s more, beyond this run's bound on rate-limit waits ({}s, `defaults.github_rate_limit_wait`); not retried",
            self.asked.as_secs(),
            self.bound.as_secs()
        )
    }
}

#[derive(Debug, Default)]
struct Limits {
    /// Nothing is sent before this time (since the epoch).
    blocked_until: Duration,
    /// Rate-limit waits so far.
    waited: Duration,
    /// The bound was reached: requests blocked by a limit fail at once.
    exhausted: bool,
    /// Rate-limit answers without a time in a row.
    repeats: u32,
    answers: u32,
}

/// What the scheduler did, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub requests: u32,
    pub mutative: u32,
    pub rate_limit_answers: u32,
    pub waited: Duration,
}

pub struct Scheduler {
    clock: Clock,
    pace: Pace,
    /// Held by a mutative request from its pacing wait to its end; holds
    /// when the last one ended.
    writes: tokio::sync::Mutex<Option<Duration>>,
    /// Held while a request is on the wire.
    one: tokio::sync::Mutex<()>,
    /// Held by a target while it writes (see [`Scheduler::turn`]).
    turns: tokio::sync::Mutex<()>,
    limits: Mutex<Limits>,
    tally: Mutex<Tally>,
}

/// A mutative request's turn: writes go one after another.
pub struct Writer<'a> {
    last_end: tokio::sync::MutexGuard<'a, Option<Duration>>,
}

/// A request on the wire.
pub struct Slot<'a> {
    _one: tokio::sync::MutexGuard<'a, ()>,
}

impl Scheduler {
    pub fn new(clock: Clock, pace: Pace) -> Scheduler {
        Scheduler {
            clock,
            pace,
            writes: tokio::sync::Mutex::new(None),
            one: tokio::sync::Mutex::new(()),
            turns: tokio::sync::Mutex::new(()),
            limits: Mutex::default(),
            tally: Mutex::default(),
        }
    }

    pub fn pace(&self) -> Pace {
        self.pace
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn tally(&self) -> Tally {
        let mut t = *self.tally.lock().unwrap_or_else(|p| p.into_inner());
        t.waited = self.limits.lock().unwrap_or_else(|p| p.into_inner()).waited;
        t
    }

    /// A target's turn to write: targets write one after another, not
    /// interleaved, so that a run stopped by a rate limit leaves at most one
    /// target part-written (the others are written and listed, or untouched).
    pub async fn turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.turns.lock().await
    }

    /// Waits for the turn of a mutative request (held until it is dropped).
    pub async fn writer(&self) -> Writer<'_> {
        Writer { last_end: self.writes.lock().await }
    }

    /// Waits for the interval after the previous write (call before each
    /// attempt, under [`Scheduler::writer`]).
    pub async fn pace_write(&self, w: &Writer<'_>) {
        if let Some(end) = *w.last_end {
            self.sleep_until(end + self.pace.write_interval).await;
        }
    }

    /// A mutative request ended now.
    pub async fn wrote(&self, w: &mut Writer<'_>) {
        *w.last_end = Some(self.clock.now().await);
    }

    /// Waits until nothing else is on the wire and no rate limit holds, and
    /// takes the wire. Fails at once while a limit holds that the run's
    /// bound did not allow waiting for.
    pub async fn slot(&self, mutative: bool) -> Result<Slot<'_>, Exhausted> {
        loop {
            let (until, exhausted) = {
                let l = self.limits.lock().unwrap_or_else(|p| p.into_inner());
                (l.blocked_until, l.exhausted)
            };
            let now = self.clock.now().await;
            if until > now {
                if exhausted {
                    return Err(Exhausted { asked: until - now, bound: self.pace.rate_limit_wait });
                }
                self.clock.sleep_until(until).await;
            }
            let one = self.one.lock().await;
            // A limit may have arrived while this request waited its turn.
            if self.limits.lock().unwrap_or_else(|p| p.into_inner()).blocked_until <= until {
                let mut t = self.tally.lock().unwrap_or_else(|p| p.into_inner());
                t.requests += 1;
                t.mutative += u32::from(mutative);
                return Ok(Slot { _one: one });
            }
        }
    }

    /// The time since the epoch, by the run's clock.
    pub async fn now(&self) -> Duration {
        self.clock.now().await
    }

    /// How many rate-limit answers without a time came in a row (for the
    /// doubling of the minute).
    pub fn repeats(&self) -> u32 {
        self.limits.lock().unwrap_or_else(|p| p.into_inner()).repeats
    }

    /// A request got an answer that is not a rate limit.
    pub fn answered(&self) {
        self.limits.lock().unwrap_or_else(|p| p.into_inner()).repeats = 0;
    }

    /// A rate-limit answer arrived at `now`: nothing is sent until the wait
    /// it asks for is over. `Err` when the run's bound does not allow that
    /// wait: the request is not retried (nor is anything sent while it lasts).
    pub fn limited(&self, limit: &Limit, now: Duration) -> Result<(), Exhausted> {
        let mut l = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        l.answers += 1;
        self.tally.lock().unwrap_or_else(|p| p.into_inner()).rate_limit_answers += 1;
        l.repeats = if limit.why == Why::NoTime { l.repeats + 1 } else { 0 };
        // At least a second per answer, so a limit that keeps answering
        // "retry now" still uses up the bound.
        let wait = limit.wait.max(Duration::from_secs(1));
        let until = now + wait;
        // Time already blocked by an earlier answer is not counted twice.
        let extra = until.saturating_sub(l.blocked_until.max(now));
        l.blocked_until = l.blocked_until.max(until);
        if l.waited + extra > self.pace.rate_limit_wait {
            l.exhausted = true;
            return Err(Exhausted { asked: wait, bound: self.pace.rate_limit_wait });
        }
        l.waited += extra;
        Ok(())
    }

    /// A pause by the run's clock (transient-failure backoff).
    pub async fn sleep(&self, d: Duration) {
        let now = self.clock.now().await;
        self.sleep_until(now + d).await;
    }

    async fn sleep_until(&self, t: Duration) {
        if self.clock.now().await < t {
            self.clock.sleep_until(t).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::Manual;
    use crate::github::limits::MINUTE;

    const T0: Duration = Duration::from_secs(1_000_000);

    fn scheduler(pace: Pace) -> (Arc<Manual>, Scheduler) {
        let clock = Manual::at(T0);
        (clock.clone(), Scheduler::new(clock, pace))
    }

    #[tokio::test]
    async fn writes_are_a_second_apart_and_reads_are_not_paced() {
        let (clock, s) = scheduler(Pace::default());
        for _ in 0..3 {
            let mut w = s.writer().await;
            s.pace_write(&w).await;
            let _slot = s.slot(true).await.unwrap();
            clock.advance(Duration::from_millis(100)); // the request's round trip
            s.wrote(&mut w).await;
        }
        // Three writes of 100 ms: two intervals between them.
        assert_eq!(clock.read(), T0 + Duration::from_millis(2300));
        let before = clock.read();
        for _ in 0..5 {
            let _slot = s.slot(false).await.unwrap();
        }
        assert_eq!(clock.read(), before, "reads wait for no interval");
        assert_eq!(s.tally(), Tally { requests: 8, mutative: 3, ..Tally::default() });
    }

    #[tokio::test]
    async fn a_rate_limit_holds_every_request_until_its_time() {
        let (clock, s) = scheduler(Pace::default());
        let limit = Limit { wait: Duration::from_secs(3), why: Why::RetryAfter };
        s.limited(&limit, T0).unwrap();
        let _slot = s.slot(false).await.unwrap();
        assert_eq!(clock.read(), T0 + Duration::from_secs(3));
        assert_eq!(s.tally().waited, Duration::from_secs(3));
    }

    #[tokio::test]
    async fn the_bound_on_waiting_fails_instead_of_waiting() {
        let pace = Pace { rate_limit_wait: Duration::from_secs(150), ..Pace::default() };
        let (clock, s) = scheduler(pace);
        let minute = Limit { wait: MINUTE, why: Why::NoTime };
        s.limited(&minute, T0).unwrap();
        assert_eq!(s.repeats(), 1);
        drop(s.slot(true).await.unwrap());
        let now = clock.read();
        s.limited(&minute, now).unwrap();
        drop(s.slot(true).await.unwrap());
        let now = clock.read();
        // 120 s waited; another minute would pass 150 s: not waited.
        let e = s.limited(&minute, now).unwrap_err();
        assert_eq!(e, Exhausted { asked: MINUTE, bound: Duration::from_secs(150) });
        assert!(s.slot(false).await.is_err(), "nothing is sent while the limit holds");
        assert_eq!(clock.read(), now, "and nothing was waited for");
        assert!(e.to_string().contains("`defaults.github_rate_limit_wait`"));
    }
}
