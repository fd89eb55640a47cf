//! The token's write budget, stated before anything is written: every
//! GitHub target of the run reads what it holds and counts the mutative
//! requests its plan needs; once all have counted, the total and the time it
//! takes at the configured pace are said (a notice), and a total above
//! GitHub's documented 500 content-generating requests per hour is said as a
//! warning, also in each GitHub target's plan (docs/service-facts.md,
//! "GitHub: rate limits"). No GitHub target plans — so none writes — before
//! the statement.
//!
//! A target that fails before counting counts zero, so the others never
//! wait for it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::github::Pace;

/// GitHub's documented hourly figure for content-generating requests.
pub const HOURLY: usize = 500;

/// Says the statement where the run's output goes: `(over the hourly figure, text)`.
pub type Announce = Box<dyn Fn(bool, &str) + Send + Sync>;

pub struct Budget {
    expected: usize,
    /// `sync` with writes allowed; else the statement says what a sync would send.
    sends: bool,
    pace: Pace,
    counted: Mutex<HashMap<String, usize>>,
    done: tokio::sync::watch::Sender<Option<Statement>>,
    announce: Announce,
}

/// What the run's GitHub writes cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub writes: usize,
    pub at_pace: Duration,
    pub text: String,
    /// More than [`HOURLY`] writes.
    pub over: bool,
}

impl Budget {
    /// A budget for `expected` GitHub targets.
    pub fn new(expected: usize, pace: Pace, sends: bool, announce: Announce) -> Budget {
        let (done, _) = tokio::sync::watch::channel(None);
        Budget { expected, sends, pace, counted: Mutex::default(), done, announce }
    }

    /// `target` needs `writes` mutative requests (a target counted again
    /// replaces its count); the last target to count makes the statement.
    pub fn count(&self, target: &str, writes: usize) {
        let total = {
            let mut c = self.counted.lock().unwrap_or_else(|p| p.into_inner());
            c.insert(target.to_string(), writes);
            (c.len() >= self.expected && self.done.borrow().is_none()).then(|| c.values().sum::<usize>())
        };
        if let Some(writes) = total {
            let s = self.statement(writes);
            if writes > 0 {
                (self.announce)(s.over, &s.text);
            }
            self.done.send_replace(Some(s));
        }
    }

    /// Waits until every GitHub target has counted.
    pub async fn stated(&self) -> Statement {
        let mut rx = self.done.subscribe();
        let s = rx.wait_for(Option::is_some).await.map(|s| s.clone());
        s.ok().flatten().unwrap_or_else(|| self.statement(0))
    }

    fn statement(&self, writes: usize) -> Statement {
        let at_pace = self.pace.write_interval.saturating_mul(writes.saturating_sub(1) as u32);
        let mut text = format!(
            "GitHub: {} {writes} write request(s) (PUT, DELETE) with its token, one at a time and {} apart (`defaults.github_write_interval`): at least {} in all",
            if self.sends { "this run sends" } else { "a sync would send" },
            show(self.pace.write_interval),
            show(at_pace)
        );
        let over = writes > HOURLY;
        if over {
            text += &format!(
                "; that is more than GitHub's documented {HOURLY} content-generating requests per hour, so expect rate-limit answers: they are waited out up to `defaults.github_rate_limit_wait` ({}), then the targets left fail naming the keys not written, and the next run (with the state record) writes only those",
                show(self.pace.rate_limit_wait)
            );
        }
        Statement { writes, at_pace, text, over }
    }
}

/// `1s`, `250ms`, `16m40s`, `1h2m`: as the manifest writes the pace.
fn show(d: Duration) -> String {
    crate::duration::show(d, crate::duration::Style::Compact)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn stated_once_every_target_counted() {
        let said = Arc::new(Mutex::new(Vec::new()));
        let s2 = said.clone();
        let b = Budget::new(
            3,
            Pace::default(),
            true,
            Box::new(move |over, t| s2.lock().unwrap().push((over, t.to_string()))),
        );
        b.count("github:a", 300);
        b.count("github:b", 0);
        assert!(said.lock().unwrap().is_empty(), "not before every target counted");
        b.count("github:c", 201);
        let s = b.stated().await;
        assert_eq!((s.writes, s.at_pace, s.over), (501, Duration::from_secs(500), true));
        let said = said.lock().unwrap();
        assert_eq!(said.len(), 1);
        assert!(said[0].0);
        insta::assert_snapshot!(said[0].1, @"GitHub: this run sends 501 write request(s) (PUT, DELETE) with its token, one at a time and 1s apart (`defaults.github_write_interval`): at least 8m20s in all; that is more than GitHub's documented 500 content-generating requests per hour, so expect rate-limit answers: they are waited out up to `defaults.github_rate_limit_wait` (15m), then the targets left fail naming the keys not written, and the next run (with the state record) writes only those");
    }

    #[tokio::test]
    async fn nothing_to_write_says_nothing() {
        let said = Arc::new(Mutex::new(0));
        let s2 = said.clone();
        let b = Budget::new(1, Pace::default(), false, Box::new(move |_, _| *s2.lock().unwrap() += 1));
        b.count("github:a", 0);
        assert_eq!(b.stated().await.writes, 0);
        assert_eq!(*said.lock().unwrap(), 0);
        assert_eq!(show(Duration::from_millis(250)), "250ms");
        assert_eq!(show(Duration::from_secs(3720)), "1h2m");
    }
}
