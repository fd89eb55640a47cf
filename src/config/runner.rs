//! The runner's environment, read once at start.

use secrecy::SecretString;

use crate::env::EnvVars;

/// What the runner (or the shell) says about where the run happens, read
/// once at start: the run's identity, the services' base URLs, the OIDC and
/// artifact endpoints, HTTP tuning and the clock. Nothing after start-up
/// reads the environment for these.
#[derive(Debug)]
pub struct Runner {
    /// `GITHUB_REPOSITORY` (`owner/name`), and the run it belongs to.
    pub repository: Option<String>,
    pub repository_owner: Option<String>,
    /// `GITHUB_REPOSITORY_ID`: the repository's numeric id (docs.github.com
    /// "Variables reference"), to tell its own runs' artifacts from forks'.
    pub repository_id: Option<u64>,
    /// `GITHUB_RETENTION_DAYS`: how long the repository keeps artifacts
    /// (read by actions/toolkit's `retention.ts` too).
    pub retention_days: Option<u32>,
    pub run_id: String,
    pub run_attempt: String,
    pub event: String,
    pub sha: String,
    pub git_ref: String,
    /// `ACTIONS_ID_TOKEN_REQUEST_URL` and `_TOKEN` (a job with `id-token: write`).
    pub id_token_request: Option<(String, SecretString)>,
    /// Base URLs, from the variables the official tools read.
    pub github_api: String,
    pub http: crate::http::Policy,
    /// Seconds since the epoch at start (`SECRET_SYNC_NOW` fixes it).
    pub now: i64,
    /// The clock every wait uses (GitHub's scheduler, Fly's pacer and roll):
    /// `SECRET_SYNC_CLOCK=virtual` makes it virtual from `now` on — for
    /// tests and benchmarks; a real run must never set it. Debug builds take
    /// the emulator's (`SECRET_SYNC_TEST_CLOCK`, its base URL) so end-to-end
    /// tests control time.
    pub clock: crate::clock::Clock,
}

/// The real clock; a virtual one when asked; in debug builds the
/// emulator's when a test names it.
fn clock(virtual_from: Option<i64>, test_clock: Option<String>) -> crate::clock::Clock {
    #[cfg(debug_assertions)]
    if let Some(url) = test_clock {
        return crate::clock::Remote::clock(&url);
    }
    #[cfg(not(debug_assertions))]
    drop(test_clock);
    match virtual_from {
        Some(now) => crate::clock::Manual::at(std::time::Duration::from_secs(now.max(0) as u64)),
        None => crate::clock::system(),
    }
}

impl Runner {
    pub fn from_env() -> Runner {
        // `var` fails (never panics) on a value that is not UTF-8: such a
        // variable is treated as unset.
        let get = crate::env::var;
        let or = |k: &str, default: &str| get(k).unwrap_or_else(|| default.to_string());
        let now = crate::util::now_secs();
        let virtual_from = (get(EnvVars::SECRET_SYNC_CLOCK).as_deref() == Some("virtual")).then_some(now);
        let clock = clock(virtual_from, get(EnvVars::SECRET_SYNC_TEST_CLOCK));
        Runner {
            repository: get(EnvVars::GITHUB_REPOSITORY).filter(|r| r.contains('/')),
            repository_owner: get(EnvVars::GITHUB_REPOSITORY_OWNER),
            repository_id: get(EnvVars::GITHUB_REPOSITORY_ID).and_then(|v| v.parse().ok()),
            retention_days: get(EnvVars::GITHUB_RETENTION_DAYS).and_then(|v| v.parse().ok()).filter(|d| *d > 0),
            run_id: or(EnvVars::GITHUB_RUN_ID, ""),
            run_attempt: or(EnvVars::GITHUB_RUN_ATTEMPT, ""),
            event: or(EnvVars::GITHUB_EVENT_NAME, ""),
            sha: or(EnvVars::GITHUB_SHA, ""),
            git_ref: or(EnvVars::GITHUB_REF, ""),
            id_token_request: get(EnvVars::ACTIONS_ID_TOKEN_REQUEST_URL)
                .zip(get(EnvVars::ACTIONS_ID_TOKEN_REQUEST_TOKEN).map(SecretString::from)),
            github_api: or(EnvVars::GITHUB_API_URL, crate::github::DEFAULT_API),
            http: crate::http::Policy::from_env(),
            now,
            clock,
        }
    }

    /// The org whose metadata is read: the `github-org` input, else the
    /// repository's owner.
    pub fn org(&self, asked: Option<&str>) -> Option<String> {
        asked
            .map(str::to_string)
            .or_else(|| self.repository_owner.clone())
            .or_else(|| self.repository.as_ref().and_then(|r| r.split('/').next().map(str::to_string)))
    }
}
