//! The run's clock for waits: how long a wait has lasted, what time it is,
//! and sleeping. `config::Runner` holds it. The real clock sleeps; the
//! virtual one (`SECRET_SYNC_CLOCK=virtual`, for tests and benchmarks)
//! starts at the run's `now` and moves forward by each sleep at once, so a
//! roll that waits minutes in Fly's terms takes milliseconds, and what it
//! waited is still measured (`elapsed`). Sleeps of concurrent tasks add
//! up, so with several apps rolling at once virtual time runs ahead of what
//! the real clock would show — never behind it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Clock(Arc<Inner>);

#[derive(Debug)]
enum Inner {
    Real {
        start: Instant,
    },
    /// Milliseconds since the epoch at start, and milliseconds slept since.
    Virtual {
        epoch_ms: i64,
        slept_ms: AtomicU64,
    },
}

impl Clock {
    pub fn real() -> Clock {
        Clock(Arc::new(Inner::Real { start: Instant::now() }))
    }

    /// A clock that starts at `epoch_secs` and never sleeps.
    pub fn virtual_at(epoch_secs: i64) -> Clock {
        Clock(Arc::new(Inner::Virtual { epoch_ms: epoch_secs * 1000, slept_ms: AtomicU64::new(0) }))
    }

    pub fn is_virtual(&self) -> bool {
        matches!(*self.0, Inner::Virtual { .. })
    }

    /// Time since the clock was made (monotonic).
    pub fn elapsed(&self) -> Duration {
        match &*self.0 {
            Inner::Real { start } => start.elapsed(),
            Inner::Virtual { slept_ms, .. } => Duration::from_millis(slept_ms.load(Ordering::SeqCst)),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        match &*self.0 {
            Inner::Real { .. } => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
            Inner::Virtual { epoch_ms, slept_ms } => epoch_ms + slept_ms.load(Ordering::SeqCst) as i64,
        }
    }

    /// Waits `d` (real), or moves the clock on by `d` (virtual).
    pub async fn sleep(&self, d: Duration) {
        match &*self.0 {
            Inner::Real { .. } => tokio::time::sleep(d).await,
            Inner::Virtual { slept_ms, .. } => {
                slept_ms.fetch_add(d.as_millis() as u64, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_virtual_clock_moves_by_its_sleeps_only() {
        let c = Clock::virtual_at(1_000);
        assert_eq!(c.now_ms(), 1_000_000);
        c.sleep(Duration::from_millis(1500)).await;
        c.sleep(Duration::from_secs(10)).await;
        assert_eq!(c.elapsed(), Duration::from_millis(11_500));
        assert_eq!(c.now_ms(), 1_011_500);
        assert!(c.is_virtual() && !Clock::real().is_virtual());
    }
}
