//! Every environment variable secret-sync reads, declared in one place (the
//! model is uv's `uv-static/src/env_vars.rs`), and the only module that reads
//! the process environment. Everything else asks through [`var`],
//! [`var_os`], [`var_unicode`] or [`vars_os`] with a name declared here (or,
//! for names the user chooses — a manifest's `from_env`, the action's
//! `INPUT_*` — a name built from one).
//!
//! Configuration is resolved once at start-up (`config::Runner`,
//! `config::ActionInputs`, `cli`); these are read there.

use std::ffi::OsString;

/// The names, each with what it is for.
pub struct EnvVars;

impl EnvVars {
    // --- Set by the GitHub Actions runner (docs/service-facts.md, "GitHub Actions runner").
    /// `true` inside every step: output is workflow commands.
    pub const GITHUB_ACTIONS: &'static str = "GITHUB_ACTIONS";
    /// `owner/name` of the repository the run belongs to.
    pub const GITHUB_REPOSITORY: &'static str = "GITHUB_REPOSITORY";
    pub const GITHUB_REPOSITORY_OWNER: &'static str = "GITHUB_REPOSITORY_OWNER";
    /// The repository's numeric id: artifacts of runs from forks carry another
    /// `workflow_run.head_repository_id` (docs/service-facts.md).
    pub const GITHUB_REPOSITORY_ID: &'static str = "GITHUB_REPOSITORY_ID";
    /// The repository's artifact retention in days (toolkit reads it too).
    pub const GITHUB_RETENTION_DAYS: &'static str = "GITHUB_RETENTION_DAYS";
    pub const GITHUB_RUN_ID: &'static str = "GITHUB_RUN_ID";
    pub const GITHUB_RUN_ATTEMPT: &'static str = "GITHUB_RUN_ATTEMPT";
    pub const GITHUB_EVENT_NAME: &'static str = "GITHUB_EVENT_NAME";
    pub const GITHUB_SHA: &'static str = "GITHUB_SHA";
    pub const GITHUB_REF: &'static str = "GITHUB_REF";
    /// The REST API's base URL (GitHub Enterprise Server sets its own).
    pub const GITHUB_API_URL: &'static str = "GITHUB_API_URL";
    pub const GITHUB_WORKSPACE: &'static str = "GITHUB_WORKSPACE";
    /// The job summary file (markdown, appended).
    pub const GITHUB_STEP_SUMMARY: &'static str = "GITHUB_STEP_SUMMARY";
    /// The step outputs file.
    pub const GITHUB_OUTPUT: &'static str = "GITHUB_OUTPUT";
    pub const RUNNER_TEMP: &'static str = "RUNNER_TEMP";
    /// `1` when the run was re-run with debug logging.
    pub const RUNNER_DEBUG: &'static str = "RUNNER_DEBUG";
    /// The OIDC token request (a job with `permissions: id-token: write`).
    pub const ACTIONS_ID_TOKEN_REQUEST_URL: &'static str = "ACTIONS_ID_TOKEN_REQUEST_URL";
    pub const ACTIONS_ID_TOKEN_REQUEST_TOKEN: &'static str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";
    /// The artifact (results) service and its token.
    pub const ACTIONS_RESULTS_URL: &'static str = "ACTIONS_RESULTS_URL";
    pub const ACTIONS_RUNTIME_TOKEN: &'static str = "ACTIONS_RUNTIME_TOKEN";
    /// The action's inputs: `INPUT_` + the input's name in upper case.
    pub const INPUT_PREFIX: &'static str = "INPUT_";
    /// The `secrets` input: the values payload.
    pub const INPUT_SECRETS: &'static str = "INPUT_SECRETS";

    // --- Credentials on the command line (never flags: they would show in `ps`).
    /// GitHub token for `init`, org metadata and GitHub targets.
    pub const GITHUB_TOKEN: &'static str = "GITHUB_TOKEN";
    /// The state record's key.
    pub const SECRET_SYNC_STATE_KEY: &'static str = "SECRET_SYNC_STATE_KEY";

    /// The user's home (`~/.kube/config`, …).
    pub const HOME: &'static str = "HOME";

    // A target kind's own variables (its token, its service's base URL) are
    // declared with its inputs, `src/targets/<kind>/inputs.rs` (`Env`), and
    // read through this module like these.

    // --- secret-sync's own tuning (tests and unusual networks).
    /// The log filter (`tracing` syntax; default `warn`).
    pub const SECRET_SYNC_LOG: &'static str = "SECRET_SYNC_LOG";
    /// HTTP: per-request timeout, retries and the backoff's base.
    pub const SECRET_SYNC_HTTP_TIMEOUT_MS: &'static str = "SECRET_SYNC_HTTP_TIMEOUT_MS";
    pub const SECRET_SYNC_HTTP_RETRIES: &'static str = "SECRET_SYNC_HTTP_RETRIES";
    pub const SECRET_SYNC_HTTP_BACKOFF_MS: &'static str = "SECRET_SYNC_HTTP_BACKOFF_MS";
    /// A probe's timeout.
    pub const SECRET_SYNC_PROBE_TIMEOUT_MS: &'static str = "SECRET_SYNC_PROBE_TIMEOUT_MS";
    /// A probe's base URL: `SECRET_SYNC_PROBE_<SERVICE>_URL`.
    pub const SECRET_SYNC_PROBE_URL_PREFIX: &'static str = "SECRET_SYNC_PROBE_";
    /// `virtual`: the run's clock moves by its waits at once (tests and
    /// benchmarks; `crate::clock`).
    pub const SECRET_SYNC_CLOCK: &'static str = "SECRET_SYNC_CLOCK";
    /// Debug builds only: the run waits on the emulator's clock at
    /// this base URL (`crate::clock::Remote`).
    pub const SECRET_SYNC_TEST_CLOCK: &'static str = "SECRET_SYNC_TEST_CLOCK";
    /// Seconds since the epoch to take as now (tests).
    pub const SECRET_SYNC_NOW: &'static str = "SECRET_SYNC_NOW";
    /// Debug builds only: panic while holding this secret (the canary test).
    pub const SECRET_SYNC_TEST_PANIC: &'static str = "SECRET_SYNC_TEST_PANIC";
}

/// The variable's value when it is set, UTF-8 and not only whitespace;
/// trimmed. A value that is not UTF-8 is taken as unset.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// The variable's value when it is set and not empty, untrimmed (a token or
/// a value is taken as given).
pub fn var_exact(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The variable as the OS holds it, when set and not empty (paths).
pub fn var_os(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// The variable's value; `Err(())` when it is set but not UTF-8, so the
/// caller can name the variable (never its value).
pub fn var_unicode(name: &str) -> Result<Option<String>, NotUnicode> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(NotUnicode),
    }
}

/// A variable that is set but not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotUnicode;

/// Every variable, as bytes (`std::env::vars` panics on one that is not UTF-8).
pub fn vars_os() -> impl Iterator<Item = (OsString, OsString)> {
    std::env::vars_os()
}

/// A number the variable holds, when it is set and parses.
pub fn number(name: &str) -> Option<u64> {
    var(name).and_then(|v| v.parse().ok())
}
