//! Inputs → one typed [`Config`]. In a container action every input arrives
//! as `INPUT_<NAME>` with hyphens kept (`INPUT_FAIL-ON`) and defaults applied;
//! the runner does not enforce `required`, and an empty string means unset.
//! Locally the same `Config` is built from command-line flags (see `cli`).

use std::path::PathBuf;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Check values against the manifest; contact no target.
    Validate,
    /// Validate, then read every target and show what a sync would change.
    Plan,
    /// Plan, then write the changes.
    Sync,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Validate => "validate",
            Mode::Plan => "plan",
            Mode::Sync => "sync",
        }
    }

    fn parse(s: &str) -> Option<Mode> {
        [Mode::Validate, Mode::Plan, Mode::Sync].into_iter().find(|m| m.as_str() == s)
    }
}

/// The lowest finding severity that fails the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    #[default]
    Error,
    Warning,
    Never,
}

impl FailOn {
    pub fn as_str(self) -> &'static str {
        match self {
            FailOn::Error => "error",
            FailOn::Warning => "warning",
            FailOn::Never => "never",
        }
    }

    fn parse(s: &str) -> Option<FailOn> {
        [FailOn::Error, FailOn::Warning, FailOn::Never].into_iter().find(|f| f.as_str() == s)
    }

    pub fn fails(self, severity: crate::validate::Severity) -> bool {
        use crate::validate::Severity::*;
        match self {
            FailOn::Error => severity == Error,
            FailOn::Warning => matches!(severity, Error | Warning),
            FailOn::Never => false,
        }
    }
}

impl std::str::FromStr for FailOn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        FailOn::parse(s).ok_or_else(|| format!("`{s}` is not one of: error, warning, never"))
    }
}

/// How output is shown: workflow commands inside Actions, plain text otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Actions,
    Terminal,
}

impl Style {
    /// `GITHUB_ACTIONS=true` is set by the runner for every step.
    pub fn detect() -> Style {
        if std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true") {
            Style::Actions
        } else {
            Style::Terminal
        }
    }
}

pub const DEFAULT_MANIFEST: &str = ".github/secret-sync.yml";
pub const DEFAULT_REPORT: &str = "secret-sync-report.json";

/// Everything a run needs to know, however it was started.
#[derive(Debug)]
pub struct Config {
    pub mode: Mode,
    pub manifest: PathBuf,
    /// The manifest environment to act on; `None` = the only one declared.
    pub environment: Option<String>,
    /// `${{ toJSON(secrets) }}`, as given to the `secrets` input.
    pub secrets_json: Option<SecretString>,
    /// Local `.env` or JSON files (`-` = standard input), or the action's
    /// `secrets-file`.
    pub secrets_files: Vec<PathBuf>,
    /// Delete each secrets file once read (the action's `secrets-file`: the
    /// values then stay on disk no longer than needed).
    pub consume_secrets_files: bool,
    pub fail_on: FailOn,
    pub report_path: Option<PathBuf>,
    pub style: Style,
    pub summary_path: Option<PathBuf>,
    pub output_path: Option<PathBuf>,
    pub targets: TargetSettings,
    /// Upload the report as a run artifact.
    pub artifact: ArtifactMode,
    pub artifact_name: String,
}

/// Whether to upload the report as a workflow run artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactMode {
    /// When the runner gives an artifact service (`ACTIONS_RUNTIME_TOKEN`).
    Auto,
    On,
    Off,
}

pub const DEFAULT_ARTIFACT_NAME: &str = "secret-sync-report";

/// Settings for reaching and changing targets.
#[derive(Debug, Default)]
pub struct TargetSettings {
    /// Pulumi Cloud access token; without it, OIDC is used when available.
    pub esc_token: Option<SecretString>,
    /// Pulumi Cloud API base URL (`PULUMI_BACKEND_URL`, else the public API).
    pub esc_api_url: Option<String>,
    /// Fly.io API token (org or deploy token).
    pub fly_token: Option<SecretString>,
    /// GitHub token: org secrets metadata (rotation, drift) and GitHub targets.
    pub github_token: Option<SecretString>,
    /// The org whose secrets metadata is read (default: the repository's owner).
    pub github_org: Option<String>,
    /// Fly apps processed at once.
    pub fly_concurrency: usize,
    /// Delete keys this manifest owns but no longer routes.
    pub prune: bool,
    /// Most deletions allowed per target and run.
    pub max_deletes: usize,
}

pub const DEFAULT_MAX_DELETES: usize = 10;
pub const DEFAULT_FLY_CONCURRENCY: usize = 4;

/// The action's inputs as the runner passes them (`INPUT_*`), read with envy.
/// Every field is optional here: defaults come from action.yml, and an empty
/// string means "not set", so both are handled in [`ActionInputs::into_config`].
#[derive(Deserialize, Default)]
pub struct ActionInputs {
    pub manifest: Option<String>,
    pub mode: Option<String>,
    pub environment: Option<String>,
    pub secrets: Option<SecretString>,
    #[serde(rename = "secrets-file")]
    pub secrets_file: Option<String>,
    #[serde(rename = "fail-on")]
    pub fail_on: Option<String>,
    #[serde(rename = "report-path")]
    pub report_path: Option<String>,
    #[serde(rename = "esc-token")]
    pub esc_token: Option<SecretString>,
    #[serde(rename = "esc-api-url")]
    pub esc_api_url: Option<String>,
    #[serde(rename = "fly-token")]
    pub fly_token: Option<SecretString>,
    #[serde(rename = "github-token")]
    pub github_token: Option<SecretString>,
    #[serde(rename = "github-org")]
    pub github_org: Option<String>,
    #[serde(rename = "fly-concurrency")]
    pub fly_concurrency: Option<String>,
    pub prune: Option<String>,
    #[serde(rename = "upload-artifact")]
    pub upload_artifact: Option<String>,
    #[serde(rename = "artifact-name")]
    pub artifact_name: Option<String>,
    #[serde(rename = "max-deletes")]
    pub max_deletes: Option<String>,
}

/// `true`/`false` as Actions writes booleans (`${{ true }}` becomes `true`).
fn boolean(name: &str, v: Option<String>) -> Result<bool, String> {
    match set(v).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(format!("input `{name}` must be `true` or `false`; got `{other}`")),
    }
}

/// A secret input, unset when empty (as the runner passes unset inputs).
fn secret(v: Option<SecretString>) -> Option<SecretString> {
    use secrecy::ExposeSecret;
    v.filter(|s| !s.expose_secret().trim().is_empty())
}

/// A whole-number input, within `range` when one is given.
fn whole(
    name: &str,
    v: Option<String>,
    default: usize,
    range: Option<std::ops::RangeInclusive<usize>>,
) -> Result<usize, String> {
    let Some(text) = set(v) else { return Ok(default) };
    let within = match &range {
        Some(r) => format!(" from {} to {}", r.start(), r.end()),
        None => String::new(),
    };
    text.parse::<usize>()
        .ok()
        .filter(|n| range.as_ref().is_none_or(|r| r.contains(n)))
        .ok_or_else(|| format!("input `{name}` must be a whole number{within}; got `{text}`"))
}

fn set(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl ActionInputs {
    /// Reads `INPUT_*`. Variables are read as bytes first: `std::env::vars`
    /// (and so `envy::from_env`) panics on any variable that is not UTF-8, in
    /// or outside our prefix. One of ours that is not UTF-8 is a usage error
    /// naming it (never its value); others are none of our business.
    pub fn from_env() -> Result<ActionInputs, String> {
        let mut vars = Vec::new();
        for (k, v) in std::env::vars_os() {
            let Some(k) = k.to_str().filter(|k| k.starts_with("INPUT_")) else { continue };
            let v = v.into_string().map_err(|_| {
                format!("the environment variable `{k}` is not valid UTF-8 text; pass the input as UTF-8")
            })?;
            vars.push((k.to_string(), v));
        }
        envy::prefixed("INPUT_")
            .from_iter::<_, ActionInputs>(vars)
            .map_err(|e| format!("cannot read the action's inputs: {e}"))
    }

    pub fn into_config(self) -> Result<Config, String> {
        let mode_text = set(self.mode).ok_or("input `mode` is required: one of validate, plan, sync")?;
        let mode = Mode::parse(&mode_text)
            .ok_or_else(|| format!("input `mode` must be one of validate, plan, sync; got `{mode_text}`"))?;
        let fail_on = match set(self.fail_on) {
            Some(s) => s.parse::<FailOn>().map_err(|e| format!("input `fail-on`: {e}"))?,
            None => FailOn::Error,
        };
        let secrets_json = secret(self.secrets);
        // The runner rewrites a path under `${{ runner.temp }}` to the
        // container's mount of it; a relative path is taken in that directory
        // too, never in the workspace.
        let secrets_files: Vec<PathBuf> = set(self.secrets_file)
            .map(|f| match env_path("RUNNER_TEMP") {
                Some(dir) if PathBuf::from(&f).is_relative() => dir.join(f),
                _ => PathBuf::from(f),
            })
            .into_iter()
            .collect();
        let report_path = set(self.report_path).map(PathBuf::from).unwrap_or_else(default_report_path);
        let max_deletes = whole("max-deletes", self.max_deletes, DEFAULT_MAX_DELETES, None)?;
        let fly_concurrency = whole("fly-concurrency", self.fly_concurrency, DEFAULT_FLY_CONCURRENCY, Some(1..=32))?;
        let targets = TargetSettings {
            esc_token: secret(self.esc_token),
            fly_token: secret(self.fly_token),
            github_token: secret(self.github_token),
            github_org: set(self.github_org),
            fly_concurrency,
            esc_api_url: set(self.esc_api_url).or_else(|| set(std::env::var("PULUMI_BACKEND_URL").ok())),
            prune: boolean("prune", self.prune)?,
            max_deletes,
        };
        let artifact = match set(self.upload_artifact).as_deref() {
            None | Some("auto") => ArtifactMode::Auto,
            Some("true") => ArtifactMode::On,
            Some("false") => ArtifactMode::Off,
            Some(other) => {
                return Err(format!("input `upload-artifact` must be `auto`, `true` or `false`; got `{other}`"))
            }
        };
        let artifact_name = set(self.artifact_name).unwrap_or_else(|| DEFAULT_ARTIFACT_NAME.into());
        crate::artifact::check_name(&artifact_name).map_err(|e| format!("input `artifact-name`: {e}"))?;
        Ok(Config {
            mode,
            manifest: PathBuf::from(set(self.manifest).unwrap_or_else(|| DEFAULT_MANIFEST.into())),
            environment: set(self.environment),
            secrets_json,
            consume_secrets_files: !secrets_files.is_empty(),
            secrets_files,
            fail_on,
            report_path: Some(report_path),
            style: Style::detect(),
            summary_path: env_path("GITHUB_STEP_SUMMARY"),
            output_path: env_path("GITHUB_OUTPUT"),
            targets,
            artifact,
            artifact_name,
        })
    }
}

/// In Actions the report goes to the runner's temp directory when there is
/// one (it is not part of the checkout), else to the working directory.
fn default_report_path() -> PathBuf {
    match env_path("RUNNER_TEMP") {
        Some(dir) => dir.join(DEFAULT_REPORT),
        None => PathBuf::from(DEFAULT_REPORT),
    }
}

pub fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}
