//! The run's clock, for every wait: GitHub's scheduler (its one second
//! between writes, its rate-limit waits), Fly's pacer and the Fly roll's
//! smoke and health checks. The time since the Unix epoch, a sleep until a
//! time, and a sleep of a duration. [`config::Runner`](crate::config::Runner)
//! holds the one the run uses; tests give a clock they control, so no test
//! sleeps.
//!
//! - [`System`]: the real clock (monotonic, anchored to the wall clock once).
//! - [`Manual`]: a test clock in the same process; a sleep moves it forward
//!   (`SECRET_SYNC_CLOCK=virtual` gives one to the binary, for tests and
//!   benchmarks: a roll that waits minutes in Fly's terms takes
//!   milliseconds).
//! - `Remote` (debug builds only, `SECRET_SYNC_TEST_CLOCK`): the emulator's
//!   clock, for end-to-end tests that run the binary: a sleep moves the
//!   emulator's time forward, and the emulator logs requests at that time.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;

/// A clock: the time since the Unix epoch, and a sleep until a time.
pub trait Time: Send + Sync + fmt::Debug {
    fn now(&self) -> BoxFuture<'_, Duration>;
    /// Returns once the clock reads `t` or later.
    fn sleep_until(&self, t: Duration) -> BoxFuture<'_, ()>;
}

/// The clock a run shares.
pub type Clock = Arc<dyn Time>;

impl dyn Time {
    /// Waits `d` on this clock.
    pub async fn sleep(&self, d: Duration) {
        let t = self.now().await + d;
        self.sleep_until(t).await;
    }

    /// Milliseconds since the Unix epoch.
    pub async fn now_ms(&self) -> i64 {
        self.now().await.as_millis() as i64
    }
}

/// The real clock.
pub fn system() -> Clock {
    Arc::new(System::default())
}

#[derive(Debug)]
pub struct System {
    wall: Duration,
    start: Instant,
}

impl Default for System {
    fn default() -> Self {
        System { wall: SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default(), start: Instant::now() }
    }
}

impl System {
    fn read(&self) -> Duration {
        self.wall + self.start.elapsed()
    }
}

impl Time for System {
    fn now(&self) -> BoxFuture<'_, Duration> {
        Box::pin(std::future::ready(self.read()))
    }

    fn sleep_until(&self, t: Duration) -> BoxFuture<'_, ()> {
        let wait = t.saturating_sub(self.read());
        Box::pin(async move {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        })
    }
}

/// A clock that moves only when something sleeps on it (or the test moves
/// it): a sleep until `t` sets it to `t` at once.
#[derive(Debug, Default)]
pub struct Manual {
    now: Mutex<Duration>,
}

impl Manual {
    pub fn at(t: Duration) -> Arc<Manual> {
        Arc::new(Manual { now: Mutex::new(t) })
    }

    pub fn read(&self) -> Duration {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn advance(&self, d: Duration) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) += d;
    }
}

impl Time for Manual {
    fn now(&self) -> BoxFuture<'_, Duration> {
        Box::pin(std::future::ready(self.read()))
    }

    fn sleep_until(&self, t: Duration) -> BoxFuture<'_, ()> {
        {
            let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
            *now = (*now).max(t);
        }
        // A sleep still yields, as a real one would.
        Box::pin(tokio::task::yield_now())
    }
}

/// The emulator's clock (`GET /_clock`, `POST /_clock?until=MS`), for the
/// end-to-end tests (debug builds) and the demo, whose waits then take no
/// real time.
#[cfg(any(debug_assertions, feature = "demo"))]
#[derive(Debug)]
pub struct Remote {
    url: String,
    http: reqwest::Client,
}

#[cfg(any(debug_assertions, feature = "demo"))]
impl Remote {
    pub fn clock(base: &str) -> Clock {
        Arc::new(Remote { url: crate::http::join(base, "/_clock"), http: reqwest::Client::new() })
    }

    async fn call(&self, until: Option<Duration>) -> Duration {
        let req = match until {
            Some(t) => self.http.post(format!("{}?until={}", self.url, t.as_millis())),
            None => self.http.get(&self.url),
        };
        let ms = async { req.send().await.ok()?.text().await.ok()?.trim().parse::<u64>().ok() }.await;
        Duration::from_millis(ms.expect("the test clock (SECRET_SYNC_TEST_CLOCK) answers"))
    }
}

#[cfg(any(debug_assertions, feature = "demo"))]
impl Time for Remote {
    fn now(&self) -> BoxFuture<'_, Duration> {
        Box::pin(self.call(None))
    }

    fn sleep_until(&self, t: Duration) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.call(Some(t)).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_moves_only_when_slept_on() {
        let c = Manual::at(Duration::from_secs(100));
        assert_eq!(c.now().await, Duration::from_secs(100));
        c.sleep_until(Duration::from_secs(103)).await;
        assert_eq!(c.now().await, Duration::from_secs(103));
        // A time already past does not move it back.
        c.sleep_until(Duration::from_secs(50)).await;
        assert_eq!(c.now().await, Duration::from_secs(103));
    }

    #[tokio::test]
    async fn a_sleep_of_a_duration_moves_a_manual_clock_by_it() {
        let c: Clock = Manual::at(Duration::from_secs(1_000));
        assert_eq!(c.now_ms().await, 1_000_000);
        c.sleep(Duration::from_millis(1500)).await;
        c.sleep(Duration::from_secs(10)).await;
        assert_eq!(c.now_ms().await, 1_011_500);
    }

    #[tokio::test]
    async fn the_system_clock_reads_the_wall_clock() {
        let c = system();
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let now = c.now().await;
        assert!(now.abs_diff(wall) < Duration::from_secs(5));
        // A time past returns at once.
        c.sleep_until(Duration::ZERO).await;
    }
}
