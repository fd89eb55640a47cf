//! Inputs → one typed [`Config`]. In a container action every input arrives
//! as `INPUT_<NAME>` with hyphens kept (`INPUT_FAIL-ON`) and defaults applied;
//! the runner does not enforce `required`, and an empty string means unset.
//! Locally the same `Config` is built from command-line flags (see `cli`).

use std::path::PathBuf;

use secrecy::SecretString;

use crate::env::EnvVars;
use crate::input::BadInput;
use crate::targets::inputs::{secret, set, whole};

mod runner;
pub use runner::Runner;
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
    /// Validate, then search the workspace for the managed values.
    Scan,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Validate => "validate",
            Mode::Plan => "plan",
            Mode::Sync => "sync",
            Mode::Scan => "scan",
        }
    }

    fn parse(s: &str) -> Option<Mode> {
        [Mode::Validate, Mode::Plan, Mode::Sync, Mode::Scan].into_iter().find(|m| m.as_str() == s)
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

    pub fn fails(self, severity: crate::diag::Severity) -> bool {
        use crate::diag::Severity::*;
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
        if crate::env::var(EnvVars::GITHUB_ACTIONS).as_deref() == Some("true") {
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
    pub targets: TargetSettings,
    /// The targets this job handles (`targets` input); `None` = all.
    pub selection: Option<crate::select::Selection>,
    /// Liveness probes (`probe`): off by default.
    pub probe: bool,
    /// What `scan` mode searches.
    pub scan: crate::scan::Options,
    /// The record of what secret-sync wrote at Fly and GitHub targets.
    pub state: StateSettings,
    pub out: Publish,
    pub runner: Runner,
}

/// Where the state record is kept, and the key of its fingerprints.
#[derive(Debug, Default)]
pub struct StateSettings {
    pub store: StateStore,
    /// `state-key` / `SECRET_SYNC_STATE_KEY`: without it, no fingerprints.
    pub key: Option<SecretString>,
}

impl StateSettings {
    /// The secrets among them, to be masked before anything is printed.
    pub fn secrets(&self) -> impl Iterator<Item = &SecretString> {
        let token = match &self.store {
            StateStore::Artifact { token } => token.as_ref(),
            _ => None,
        };
        self.key.iter().chain(token)
    }

    /// The state key, checked: `Err` says what is wrong with it.
    pub fn state_key(&self, name: &str) -> Result<Option<crate::state::StateKey>, BadInput> {
        self.key.clone().map(crate::state::StateKey::new).transpose().map_err(|e| BadInput(format!("{name}: {e}")))
    }
}

#[derive(Debug, Default)]
pub enum StateStore {
    /// `state: none`, or locally without `--state-file`.
    #[default]
    Off,
    /// `--state-file PATH`.
    File(PathBuf),
    /// A run artifact of this repository, read with this token (`state-token`).
    Artifact { token: Option<SecretString> },
}

/// Where a report goes: shared by a run and by `merge-reports`.
#[derive(Debug)]
pub struct Publish {
    pub style: Style,
    pub report_path: Option<PathBuf>,
    /// The report's path as later steps see it (the `report-path` output):
    /// inside a container action the runner's host path of the same file.
    pub report_output: Option<String>,
    pub summary_path: Option<PathBuf>,
    pub output_path: Option<PathBuf>,
    /// Upload the report as a run artifact.
    pub artifact: ArtifactMode,
    pub artifact_name: String,
    /// `ACTIONS_RESULTS_URL` and `ACTIONS_RUNTIME_TOKEN`: the artifact service.
    pub artifact_service: Option<crate::artifact::Runtime>,
    pub http: crate::http::Policy,
}

impl Publish {
    /// Locally: the summary to stdout, the report where `--report-path` says.
    pub fn local(report_path: Option<PathBuf>, http: crate::http::Policy) -> Publish {
        Publish {
            style: Style::detect(),
            report_output: report_path.as_ref().map(|p| p.display().to_string()),
            report_path,
            summary_path: env_path(EnvVars::GITHUB_STEP_SUMMARY),
            output_path: env_path(EnvVars::GITHUB_OUTPUT),
            artifact: ArtifactMode::Off,
            artifact_name: DEFAULT_ARTIFACT_NAME.into(),
            artifact_service: None,
            http,
        }
    }
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
    /// GitHub token: org secrets metadata (rotation, drift), the state
    /// record and GitHub targets.
    pub github_token: Option<SecretString>,
    /// The org whose secrets metadata is read (default: the repository's owner).
    pub github_org: Option<String>,
    /// Each target kind's own inputs (`crate::targets::Inputs`).
    pub kinds: crate::targets::Inputs,
    /// Delete keys this manifest owns but no longer routes.
    pub prune: bool,
    /// Most deletions allowed per target and run.
    pub max_deletes: usize,
}

impl TargetSettings {
    /// The tokens, to be masked before anything is printed.
    pub fn tokens(&self) -> impl Iterator<Item = &SecretString> {
        self.github_token.iter().chain(self.kinds.secrets())
    }
}

pub const DEFAULT_MAX_DELETES: usize = 10;

/// An input that is not UTF-8, named (never shown); the `secrets` payload's
/// error also gives the line and column of its first invalid byte, as every
/// other payload error does.
fn non_utf8_input(k: &str, v: &std::ffi::OsStr) -> String {
    #[cfg(unix)]
    if k == EnvVars::INPUT_SECRETS {
        use std::os::unix::ffi::OsStrExt;
        let bytes = crate::input::strip_bom(v.as_bytes());
        if let Err(e) = crate::values::utf8(bytes, "input `secrets`") {
            return format!("{e} text; pass the input as UTF-8");
        }
    }
    let _ = v;
    format!("the environment variable `{k}` is not valid UTF-8 text; pass the input as UTF-8")
}

/// The action's inputs as the runner passes them (`INPUT_*`), read with envy.
/// Every field is optional here: defaults come from action.yml, and an empty
/// string means "not set", so both are handled in [`ActionInputs::into_config`].
#[derive(Deserialize, Default)]
pub struct ActionInputs {
    pub manifest: Option<String>,
    pub mode: Option<String>,
    pub targets: Option<String>,
    /// `mode: merge-reports`: report files or folders, one a line.
    pub reports: Option<String>,
    /// `mode: merge-reports`: the shards' `targets` values, one a line.
    pub shards: Option<String>,
    pub environment: Option<String>,
    pub secrets: Option<SecretString>,
    #[serde(rename = "secrets-file")]
    pub secrets_file: Option<String>,
    #[serde(rename = "fail-on")]
    pub fail_on: Option<String>,
    #[serde(rename = "report-path")]
    pub report_path: Option<String>,
    #[serde(rename = "github-token")]
    pub github_token: Option<SecretString>,
    #[serde(rename = "github-org")]
    pub github_org: Option<String>,
    pub prune: Option<String>,
    #[serde(rename = "upload-artifact")]
    pub upload_artifact: Option<String>,
    #[serde(rename = "artifact-name")]
    pub artifact_name: Option<String>,
    #[serde(rename = "max-deletes")]
    pub max_deletes: Option<String>,
    /// `host:${{ runner.temp }}` and `host:${{ github.workspace }}`, from
    /// action.yml's defaults: see [`HostPaths`].
    #[serde(rename = "host-runner-temp")]
    pub host_runner_temp: Option<String>,
    #[serde(rename = "host-workspace")]
    pub host_workspace: Option<String>,
    pub probe: Option<String>,
    #[serde(rename = "scan-include")]
    pub scan_include: Option<String>,
    pub state: Option<String>,
    #[serde(rename = "state-key")]
    pub state_key: Option<SecretString>,
    #[serde(rename = "state-token")]
    pub state_token: Option<SecretString>,
    /// Every `INPUT_*` variable, for the target kinds' own inputs.
    #[serde(skip)]
    pub vars: Vec<(String, String)>,
}

/// Where the container's mounted directories are on the runner host.
///
/// A container action runs with the runner's temp directory mounted at
/// `/github/runner_temp` and the workspace at `/github/workspace`, and the
/// runner rewrites every environment variable, inputs included, that starts
/// with one of those host paths into the container path (actions/runner,
/// `Handlers/ContainerActionHandler.cs` and `Container/ContainerInfo.cs`
/// `TranslateToContainerPath`). Outputs are not rewritten back, so a path in
/// an output must be the host's for later steps to open it. action.yml passes
/// the host paths as `host:${{ runner.temp }}`: the `host:` prefix keeps the
/// runner from rewriting them. Outside a container (or without the inputs)
/// paths are shown as they are.
#[derive(Debug, Default)]
pub struct HostPaths {
    /// (directory as this process sees it, the same directory on the host).
    mounts: Vec<(PathBuf, PathBuf)>,
}

impl HostPaths {
    /// From the inputs and the container-side `RUNNER_TEMP` and `GITHUB_WORKSPACE`.
    fn new(runner_temp: Option<String>, workspace: Option<String>) -> HostPaths {
        let host = |v: Option<String>| {
            set(v)?.strip_prefix("host:").map(str::trim).filter(|p| p.starts_with('/')).map(PathBuf::from)
        };
        let mounts = [
            (env_path(EnvVars::RUNNER_TEMP), host(runner_temp)),
            (env_path(EnvVars::GITHUB_WORKSPACE), host(workspace)),
        ]
        .into_iter()
        .filter_map(|(inside, host)| Some((inside?, host?)))
        .filter(|(inside, host)| inside != host)
        .collect();
        HostPaths { mounts }
    }

    /// `path` (relative paths are relative to the working directory, the
    /// workspace) as the host sees it.
    pub fn show(&self, path: &std::path::Path) -> String {
        let absolute = if path.is_relative() {
            env_path(EnvVars::GITHUB_WORKSPACE).map(|w| w.join(path)).unwrap_or_else(|| path.to_path_buf())
        } else {
            path.to_path_buf()
        };
        for (inside, host) in &self.mounts {
            if let Ok(rest) = absolute.strip_prefix(inside) {
                return host.join(rest).display().to_string();
            }
        }
        path.display().to_string()
    }
}

/// `true`/`false` as Actions writes booleans (`${{ true }}` becomes `true`).
fn boolean(name: &str, v: Option<String>) -> Result<bool, BadInput> {
    match set(v).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(BadInput(format!("input `{name}` must be `true` or `false`; got `{other}`"))),
    }
}

impl ActionInputs {
    /// Reads `INPUT_*`. Variables are read as bytes first (`crate::env::vars_os`): the
    /// standard library's UTF-8 `vars` (and so `envy::from_env`) panics on any variable that is not UTF-8, in
    /// or outside our prefix. One of ours that is not UTF-8 is a usage error
    /// naming it (never its value); others are none of our business.
    pub fn from_env() -> Result<ActionInputs, BadInput> {
        let mut vars = Vec::new();
        for (k, v) in crate::env::vars_os() {
            let Some(k) = k.to_str().filter(|k| k.starts_with(EnvVars::INPUT_PREFIX)) else { continue };
            let v = v.into_string().map_err(|v| non_utf8_input(k, &v))?;
            vars.push((k.to_string(), v));
        }
        let mut inputs = envy::prefixed(EnvVars::INPUT_PREFIX)
            .from_iter::<_, ActionInputs>(vars.clone())
            .map_err(|e| format!("cannot read the action's inputs: {e}"))?;
        // The kinds read their inputs from these; the values payload is not theirs.
        inputs.vars = vars.into_iter().filter(|(k, _)| k != EnvVars::INPUT_SECRETS).collect();
        Ok(inputs)
    }

    /// The run the inputs ask for: a validate/plan/sync run, or merging the
    /// reports of a matrix's jobs (`mode: merge-reports`).
    pub fn into_task(mut self) -> Result<ActionTask, BadInput> {
        let mode_text = set(self.mode.take()).ok_or(
            "input `mode` is empty: set one of validate, plan, sync, scan, merge-reports (leave it out for validate)",
        )?;
        let runner = Runner::from_env();
        let out = self.publish(runner.http.clone())?;
        if mode_text == "merge-reports" {
            let list = |v: Option<String>| -> Vec<String> {
                v.unwrap_or_default().lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
            };
            let reports: Vec<PathBuf> = list(self.reports).into_iter().map(PathBuf::from).collect();
            if reports.is_empty() {
                return Err("input `reports` is required with `mode: merge-reports`: the folder the shards' report artifacts were downloaded to".into());
            }
            return Ok(ActionTask::Merge { reports, shards: list(self.shards), out: Box::new(out) });
        }
        let mode = Mode::parse(&mode_text).ok_or_else(|| {
            format!("input `mode` must be one of validate, plan, sync, scan, merge-reports; got `{mode_text}`")
        })?;
        let scan = scan_options(set(self.scan_include.take()).as_deref())?;
        let fail_on = match set(self.fail_on) {
            Some(s) => s.parse::<FailOn>().map_err(|e| format!("input `fail-on`: {e}"))?,
            None => FailOn::Error,
        };
        let secrets_json = secret(self.secrets);
        // The runner rewrites a path under `${{ runner.temp }}` to the
        // container's mount of it; a relative path is taken in that directory
        // too, never in the workspace.
        let secrets_files: Vec<PathBuf> = set(self.secrets_file)
            .map(|f| match env_path(EnvVars::RUNNER_TEMP) {
                Some(dir) if PathBuf::from(&f).is_relative() => dir.join(f),
                _ => PathBuf::from(f),
            })
            .into_iter()
            .collect();
        let max_deletes = whole("max-deletes", self.max_deletes, DEFAULT_MAX_DELETES, None)?;
        let state = StateSettings {
            store: match set(self.state.take()).as_deref() {
                None | Some("artifact") => StateStore::Artifact { token: secret(self.state_token.take()) },
                Some("none") => StateStore::Off,
                Some(other) => {
                    return Err(BadInput(format!("input `state` must be `artifact` or `none`; got `{other}`")))
                }
            },
            key: secret(self.state_key.take()),
        };
        state.state_key("input `state-key`")?;
        let kinds = crate::targets::Inputs::from_action(&crate::targets::inputs::ActionVars(self.vars))
            .map_err(|e| e.to_string())?;
        let targets = TargetSettings {
            github_token: secret(self.github_token),
            github_org: set(self.github_org),
            kinds,
            prune: boolean("prune", self.prune)?,
            max_deletes,
        };
        Ok(ActionTask::Run(Box::new(Config {
            mode,
            manifest: PathBuf::from(set(self.manifest).unwrap_or_else(|| DEFAULT_MANIFEST.into())),
            environment: set(self.environment),
            secrets_json,
            consume_secrets_files: !secrets_files.is_empty(),
            secrets_files,
            fail_on,
            targets,
            selection: crate::select::Selection::parse(&self.targets.unwrap_or_default())
                .map_err(|e| BadInput(e.to_string()))?,
            probe: boolean("probe", self.probe)?,
            scan,
            state,
            out,
            runner,
        })))
    }

    /// Where the report goes: the same for every mode.
    fn publish(&mut self, http: crate::http::Policy) -> Result<Publish, BadInput> {
        let report_path = set(self.report_path.take()).map(PathBuf::from).unwrap_or_else(default_report_path);
        let report_output = HostPaths::new(self.host_runner_temp.take(), self.host_workspace.take()).show(&report_path);
        let artifact = match set(self.upload_artifact.take()).as_deref() {
            None | Some("auto") => ArtifactMode::Auto,
            Some("true") => ArtifactMode::On,
            Some("false") => ArtifactMode::Off,
            Some(other) => {
                return Err(BadInput(format!(
                    "input `upload-artifact` must be `auto`, `true` or `false`; got `{other}`"
                )))
            }
        };
        let artifact_name = set(self.artifact_name.take()).unwrap_or_else(|| DEFAULT_ARTIFACT_NAME.into());
        crate::artifact::check_name(&artifact_name).map_err(|e| format!("input `artifact-name`: {e}"))?;
        Ok(Publish {
            style: Style::detect(),
            report_path: Some(report_path),
            report_output: Some(report_output),
            summary_path: env_path(EnvVars::GITHUB_STEP_SUMMARY),
            output_path: env_path(EnvVars::GITHUB_OUTPUT),
            artifact,
            artifact_name,
            artifact_service: crate::artifact::Runtime::from_env(),
            http,
        })
    }
}

/// What the action was asked to do.
pub enum ActionTask {
    Run(Box<Config>),
    Merge { reports: Vec<PathBuf>, shards: Vec<String>, out: Box<Publish> },
}

/// `scan-include`: a comma-separated list of `git` and `binary`. The
/// workspace is the working directory, as the runner sets it.
fn scan_options(include: Option<&str>) -> Result<crate::scan::Options, BadInput> {
    let mut o = crate::scan::Options { root: PathBuf::from("."), ..Default::default() };
    for item in include.unwrap_or_default().split(',').map(str::trim).filter(|i| !i.is_empty()) {
        match item {
            "git" => o.include_git = true,
            "binary" => o.include_binary = true,
            other => {
                return Err(BadInput(format!(
                    "input `scan-include` takes `git` and `binary`, comma-separated; got `{other}`"
                )))
            }
        }
    }
    Ok(o)
}

/// In Actions the report goes to the runner's temp directory when there is
/// one (it is not part of the checkout), else to the working directory.
fn default_report_path() -> PathBuf {
    match env_path(EnvVars::RUNNER_TEMP) {
        Some(dir) => dir.join(DEFAULT_REPORT),
        None => PathBuf::from(DEFAULT_REPORT),
    }
}

pub fn env_path(name: &str) -> Option<PathBuf> {
    crate::env::var_os(name).map(PathBuf::from)
}
