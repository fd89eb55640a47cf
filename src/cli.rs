//! Command-line interface. With no subcommand inside Actions (the container's
//! entrypoint) the binary runs as the action, from `INPUT_*` variables.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use secrecy::SecretString;

use crate::config::{self, ActionInputs, Config, FailOn, Mode, TargetSettings};
use crate::env::EnvVars;
use crate::input::BadInput;

#[derive(Parser)]
#[command(
    name = "secret-sync",
    version,
    about = "Check secrets against a manifest and sync what changed to Pulumi ESC, Fly.io and GitHub."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Check the secrets' values against the manifest; contact no target.
    Validate(RunArgs),
    /// Validate, then show what a sync would change at each target.
    Plan(RunArgs),
    /// Validate, plan, and write the changes.
    Sync(RunArgs),
    /// Validate, then search the workspace for the managed values (and their
    /// base64, URL-encoded and JSON forms); report `file:line`, never the value.
    Scan(ScanArgs),
    /// Run as the GitHub Action, reading `INPUT_*` variables (the container's default).
    Action,
    /// Serve the emulators on 127.0.0.1 until stdin closes (for the SDK fidelity check).
    #[cfg(feature = "demo")]
    #[command(hide = true)]
    Emulate {
        /// Port to listen on (0 = any free port; the URL is printed).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Accepted Pulumi access token.
        #[arg(long)]
        esc_token: String,
        /// ESC environments (`org/project/env`) to create empty.
        #[arg(long)]
        esc_env: Vec<String>,
        /// Milliseconds every request waits before it is answered (a network round trip).
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
    },
    /// Sync the bundled Sophia example against local emulators: no credentials, no network.
    #[cfg(feature = "demo")]
    Demo {
        /// `plan` to only show what would change.
        #[arg(long, default_value = "sync", value_parser = ["plan", "sync"])]
        mode: String,
    },
    /// Fold the JSON reports of a matrix's jobs (each with its own `--targets`) into one report and summary.
    MergeReports {
        /// Report files, or folders searched for `*.json` reports.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// A shard's `targets` value as the matrix gives it (repeatable): a shard without a report is then named.
        #[arg(long = "shard")]
        shards: Vec<String>,
        /// Also write the merged JSON report here.
        #[arg(long)]
        report_path: Option<PathBuf>,
    },
    /// Check the manifest alone.
    CheckManifest {
        #[arg(long, short, default_value = config::DEFAULT_MANIFEST)]
        manifest: PathBuf,
    },
    /// Write a starter manifest from the secrets an org already has (token: GITHUB_TOKEN).
    Init {
        /// The GitHub org.
        #[arg(long)]
        org: String,
        /// Where to write it; `-` for standard output.
        #[arg(long, short, default_value = config::DEFAULT_MANIFEST)]
        output: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Add a Fly app to the manifest and route secrets to it, keeping comments and layout.
    AddApp {
        /// Target name for the app (and the Fly app name unless `--app` is given).
        name: String,
        /// A secret to route to the app; repeatable.
        #[arg(long = "secret", short = 's', required = true)]
        secrets: Vec<String>,
        #[arg(long, short, default_value = config::DEFAULT_MANIFEST)]
        manifest: PathBuf,
        /// The Fly app's name, when it differs from the target name.
        #[arg(long)]
        app: Option<String>,
        /// The manifest environment the app belongs to.
        #[arg(long, short)]
        environment: Option<String>,
        /// `restart` (default) or `stage`.
        #[arg(long, value_parser = ["restart", "stage"])]
        deploy: Option<String>,
    },
    /// Write a `.env.example` listing the manifest's secrets.
    Template {
        #[arg(long, short, default_value = config::DEFAULT_MANIFEST)]
        manifest: PathBuf,
        /// Only secrets used in this environment.
        #[arg(long, short)]
        environment: Option<String>,
        /// Where to write it; `-` for standard output.
        #[arg(long, short, default_value = ".env.example")]
        output: PathBuf,
    },
}

#[derive(Args)]
pub struct RunArgs {
    /// The manifest.
    #[arg(long, short, default_value = config::DEFAULT_MANIFEST)]
    pub manifest: PathBuf,
    /// Which manifest environment to act on (default: the only one declared).
    #[arg(long, short)]
    pub environment: Option<String>,
    /// A `.env` or JSON file of secret values; repeatable, `-` reads standard input.
    #[arg(long = "secrets-file", short = 's')]
    pub secrets_files: Vec<PathBuf>,
    /// The lowest finding severity that fails the run: error, warning or never.
    #[arg(long, default_value = "error")]
    pub fail_on: FailOn,
    /// Also write the JSON report here.
    #[arg(long)]
    pub report_path: Option<PathBuf>,
    /// The GitHub org whose secrets metadata is read (rotation, drift); the token comes from GITHUB_TOKEN.
    #[arg(long)]
    pub github_org: Option<String>,
    #[command(flatten)]
    pub kinds: crate::targets::Flags,
    /// Only these targets: glob patterns over target ids (`fly:*`, `esc:sophia-*`), comma-separated.
    #[arg(long, value_parser = parse_selection)]
    pub targets: Option<crate::select::Selection>,
    /// Delete keys this manifest owns but no longer routes.
    #[arg(long)]
    pub prune: bool,
    /// Most deletions allowed per target (with --prune).
    #[arg(long, default_value_t = crate::config::DEFAULT_MAX_DELETES)]
    pub max_deletes: usize,
    /// The state record of what secret-sync wrote at Fly and GitHub targets (read, then rewritten);
    /// its MAC and fingerprints are keyed by SECRET_SYNC_STATE_KEY, without which it is not used.
    #[arg(long)]
    pub state_file: Option<PathBuf>,
    /// Ask each credential's own service whether it still works (OpenAI, Anthropic, Slack, GitHub, Stripe, Fly.io, Pulumi).
    #[arg(long)]
    pub probe: bool,
}

#[derive(Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// The directory to search.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// Also search `.git` (skipped by default).
    #[arg(long)]
    pub include_git: bool,
    /// Also search binary files (skipped by default).
    #[arg(long)]
    pub include_binary: bool,
    /// Also search every blob in git history (needs `git` on PATH).
    #[arg(long)]
    pub history: bool,
}

impl ScanArgs {
    pub fn into_config(self) -> Result<Config, BadInput> {
        let mut cfg = self.run.into_config(Mode::Scan)?;
        // The files the values were read from hold them by design.
        let exclude = cfg.secrets_files.iter().filter(|p| p.as_os_str() != "-").cloned().collect();
        cfg.scan = crate::scan::Options {
            root: self.path,
            include_git: self.include_git,
            include_binary: self.include_binary,
            history: self.history,
            exclude,
        };
        Ok(cfg)
    }
}

impl RunArgs {
    /// The run's configuration; an unusable flag combination is an error.
    pub fn into_config(self, mode: Mode) -> Result<Config, BadInput> {
        let runner = config::Runner::from_env();
        let kinds = self.kinds.into_inputs().map_err(|e| e.to_string())?;
        Ok(Config {
            mode,
            manifest: self.manifest,
            environment: self.environment,
            secrets_json: None,
            secrets_files: self.secrets_files,
            consume_secrets_files: false,
            fail_on: self.fail_on,
            targets: TargetSettings {
                kinds,
                // Tokens never come from flags (they would show in `ps`).
                github_token: crate::env::var_exact(EnvVars::GITHUB_TOKEN).map(SecretString::from),
                github_org: self.github_org,
                prune: self.prune,
                max_deletes: self.max_deletes,
            },
            selection: self.targets,
            probe: self.probe,
            scan: crate::scan::Options::default(),
            state: config::StateSettings {
                store: self.state_file.map(config::StateStore::File).unwrap_or_default(),
                // Like the tokens, never from a flag.
                key: crate::env::var_exact(EnvVars::SECRET_SYNC_STATE_KEY).map(SecretString::from),
            },
            out: config::Publish::local(self.report_path, runner.http.clone()),
            runner,
        })
    }
}

fn parse_selection(text: &str) -> Result<crate::select::Selection, BadInput> {
    crate::select::Selection::parse(text)
        .map_err(|e| BadInput(e.to_string()))?
        .ok_or_else(|| "give at least one pattern, such as `fly:*`".into())
}

/// Reads the action's configuration from the environment.
pub fn action_config() -> Result<config::ActionTask, BadInput> {
    ActionInputs::from_env()?.into_task()
}
