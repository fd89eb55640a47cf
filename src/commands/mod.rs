//! One module per subcommand that is not the pipeline itself (cargo-deny's
//! layout); [`dispatch`] is what `main` calls. The pipeline (`validate`,
//! `plan`, `sync`, `scan`) is [`crate::run`]; `merge-reports` is
//! [`crate::merge`].

mod add_app;
mod check_manifest;
#[cfg(feature = "demo")]
mod emulate;
mod init;
mod process;
mod template;

pub use check_manifest::check_manifest;
pub use process::{init_tracing, install_panic_hook};

use crate::cli::{self, Cli, Command};
use crate::config::{ActionTask, Mode, Publish, Style};
use crate::exit::Exit;
use crate::output::Printer;

/// Prints a usage error in the run's style and returns its exit code.
pub fn usage_error(style: Style, msg: &str) -> Exit {
    Printer::new(style).usage_error(msg)
}

/// Runs the parsed command line.
pub fn dispatch(cli: Cli, style: Style) -> Exit {
    match cli.command {
        Some(Command::Validate(a)) => run_with(style, a.into_config(Mode::Validate)),
        Some(Command::Plan(a)) => run_with(style, a.into_config(Mode::Plan)),
        Some(Command::Sync(a)) => run_with(style, a.into_config(Mode::Sync)),
        Some(Command::Scan(a)) => run_with(style, a.into_config()),
        Some(Command::MergeReports { reports, shards, report_path }) => {
            crate::merge::run(&reports, &shards, &Publish::local(report_path, crate::http::Policy::from_env()))
        }
        Some(Command::CheckManifest { manifest }) => check_manifest(&manifest, style),
        Some(Command::Template { manifest, environment, output }) => {
            template::template(&manifest, environment.as_deref(), &output, style)
        }
        Some(Command::Action) => action(style),
        Some(Command::Init { org, output, force }) => init::init(&org, &output, force, style),
        Some(Command::AddApp { name, secrets, manifest, app, environment, deploy }) => {
            let req = crate::manifest::edit::AddApp {
                name: &name,
                app: app.as_deref().unwrap_or(&name),
                environment: environment.as_deref(),
                deploy: deploy.as_deref(),
                secrets: &secrets,
            };
            add_app::add_app(&manifest, &req, style)
        }
        #[cfg(feature = "demo")]
        Some(Command::Emulate { port, esc_token, esc_env, latency_ms }) => {
            emulate::emulate(port, esc_token, &esc_env, std::time::Duration::from_millis(latency_ms))
        }
        #[cfg(feature = "demo")]
        Some(Command::Demo { mode }) => crate::demo::run(if mode == "plan" { Mode::Plan } else { Mode::Sync }),
        None if style == Style::Actions => action(style),
        None => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            Exit::Usage
        }
    }
}

/// Runs a CLI command's configuration, or says why it cannot be used.
fn run_with(style: Style, cfg: Result<crate::config::Config, crate::input::BadInput>) -> Exit {
    match cfg {
        Ok(cfg) => crate::run::run(&cfg),
        Err(e) => usage_error(style, &e.0),
    }
}

/// The action: configuration from `INPUT_*`, then the pipeline or `merge-reports`.
fn action(style: Style) -> Exit {
    match cli::action_config() {
        Ok(ActionTask::Run(cfg)) => crate::run::run(&cfg),
        Ok(ActionTask::Merge { reports, shards, out }) => crate::merge::run(&reports, &shards, &out),
        Err(e) => usage_error(style, &e.0),
    }
}
