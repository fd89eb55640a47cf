use std::process::ExitCode;

use clap::Parser;
use secret_sync::cli::{self, Cli, Command};
use secret_sync::config::{Mode, Style};
use secret_sync::exit::Exit;
use secret_sync::run;

fn main() -> ExitCode {
    install_panic_hook();
    init_tracing();
    let style = Style::detect();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { Exit::Usage } else { Exit::Ok };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let code = match cli.command {
        Some(Command::Validate(a)) => run::run(&a.into_config(Mode::Validate)),
        Some(Command::Plan(a)) => run::run(&a.into_config(Mode::Plan)),
        Some(Command::Sync(a)) => run::run(&a.into_config(Mode::Sync)),
        Some(Command::MergeReports { reports, shards, report_path }) => secret_sync::merge::run(
            &reports,
            &shards,
            &secret_sync::config::Publish::local(report_path, secret_sync::http::Policy::from_env()),
        ),
        Some(Command::Scan(a)) => run::run(&a.into_config()),
        Some(Command::CheckManifest { manifest }) => run::check_manifest(&manifest, style),
        Some(Command::Template { manifest, environment, output }) => {
            template(&manifest, environment.as_deref(), &output, style)
        }
        Some(Command::Action) => action(style),
        Some(Command::Init { org, output, force }) => init(&org, &output, force, style),
        Some(Command::AddApp { name, secrets, manifest, app, environment, deploy }) => {
            let req = secret_sync::manifest::edit::AddApp {
                name: &name,
                app: app.as_deref().unwrap_or(&name),
                environment: environment.as_deref(),
                deploy: deploy.as_deref(),
                secrets: &secrets,
            };
            add_app(&manifest, &req, style)
        }
        #[cfg(feature = "demo")]
        Some(Command::Emulate { port, esc_token, esc_env, latency_ms }) => {
            emulate(port, esc_token, &esc_env, std::time::Duration::from_millis(latency_ms))
        }
        #[cfg(feature = "demo")]
        Some(Command::Demo { mode }) => secret_sync::demo::run(if mode == "plan" { Mode::Plan } else { Mode::Sync }),
        None if style == Style::Actions => action(style),
        None => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            Exit::Usage
        }
    };
    ExitCode::from(code)
}

/// Serves the emulators until standard input closes.
#[cfg(feature = "demo")]
fn emulate(port: u16, token: String, envs: &[String], latency: std::time::Duration) -> Exit {
    let emu = secret_sync_emulators::Emulator::start_on(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    {
        let mut st = emu.state();
        st.latency = latency;
        st.esc.tokens.insert(token);
        for e in envs {
            st.esc.seed(e, "");
        }
    }
    println!("{}", emu.url);
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
    Exit::Ok
}

fn action(style: Style) -> Exit {
    match cli::action_config() {
        Ok(secret_sync::config::ActionTask::Run(cfg)) => run::run(&cfg),
        Ok(secret_sync::config::ActionTask::Merge { reports, shards, out }) => {
            secret_sync::merge::run(&reports, &shards, &out)
        }
        Err(msg) => run::usage_error(style, &msg),
    }
}

/// `init`: list the org's secrets and write a starter manifest.
fn init(org: &str, output: &std::path::Path, force: bool, style: Style) -> Exit {
    use secrecy::SecretString;
    let Some(token) = std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty()).map(SecretString::from) else {
        return run::usage_error(
            style,
            "set GITHUB_TOKEN to a token that can read the org's secrets (a PAT or GitHub App token)",
        );
    };
    let to_stdout = output.as_os_str() == "-";
    if !to_stdout && output.exists() && !force {
        return run::usage_error(style, &format!("{} already exists; pass --force to overwrite it", output.display()));
    }
    let api = std::env::var("GITHUB_API_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| secret_sync::github::DEFAULT_API.into());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let _inside = rt.enter();
    let sched = std::sync::Arc::new(secret_sync::github::Scheduler::new(
        secret_sync::clock::system(),
        secret_sync::github::Pace::default(),
    ));
    let gh = match secret_sync::github::GitHub::new(&api, &token, secret_sync::http::Policy::from_env(), sched) {
        Ok(g) => g,
        Err(e) => return run::usage_error(style, &e),
    };
    let list = match rt.block_on(gh.list(&secret_sync::github::Scope::Org(org.to_string()))) {
        Ok(l) => l,
        Err(e) => return run::usage_error(style, &e.message),
    };
    let names: Vec<String> = list.into_iter().map(|s| s.name).collect();
    let text = secret_sync::init::manifest(org, &names);
    if to_stdout {
        print!("{text}");
        return Exit::Ok;
    }
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(output, text) {
        Ok(()) => {
            eprintln!(
                "wrote {} with {} secret(s) from org `{org}`; review it, then run `secret-sync check-manifest`",
                output.display(),
                names.len()
            );
            Exit::Ok
        }
        Err(e) => {
            run::usage_error(style, &format!("cannot write {}: {}", output.display(), secret_sync::util::io_reason(&e)))
        }
    }
}

/// `add-app`: edit the manifest's text, check the result, and only then write it.
fn add_app(path: &std::path::Path, req: &secret_sync::manifest::edit::AddApp, style: Style) -> Exit {
    let display = path.display().to_string();
    let bytes = match secret_sync::manifest::read(path, &display) {
        Ok(b) => b,
        Err(msg) => return run::usage_error(style, &msg),
    };
    if let Err(diags) = secret_sync::manifest::parse(&bytes, &display) {
        eprintln!("the manifest has errors already; fix them first:");
        for d in diags {
            eprintln!("{}", d.terminal());
        }
        return Exit::ValidationFailed;
    }
    // It parsed, so it is UTF-8; a byte-order mark is not kept.
    let text = String::from_utf8_lossy(secret_sync::input::strip_bom(&bytes)).into_owned();
    let edited = match secret_sync::manifest::edit::add_fly_app(&text, req) {
        Ok(t) => t,
        Err(msg) => return run::usage_error(style, &msg),
    };
    if let Err(diags) = secret_sync::manifest::parse(edited.as_bytes(), &display) {
        eprintln!("the manifest would not be valid after adding `{}`; nothing was written:", req.name);
        for d in diags {
            eprintln!("{}", d.terminal());
        }
        return Exit::ValidationFailed;
    }
    if let Err(e) = std::fs::write(path, edited) {
        return run::usage_error(style, &format!("cannot write {display}: {}", secret_sync::util::io_reason(&e)));
    }
    println!(
        "{display}: added Fly app `{}` (target `fly.{}`) and routed {} secret(s) to it",
        req.app,
        req.name,
        req.secrets.len()
    );
    Exit::Ok
}

fn template(manifest: &std::path::Path, env: Option<&str>, output: &std::path::Path, style: Style) -> Exit {
    let display = manifest.display().to_string();
    let m = match secret_sync::manifest::load(manifest, &display) {
        Ok(m) => m,
        Err(secret_sync::manifest::ManifestError::Unreadable(msg)) => return run::usage_error(style, &msg),
        Err(secret_sync::manifest::ManifestError::Invalid(_)) => return run::check_manifest(manifest, style),
    };
    if let Some(e) = env {
        if m.environment(e).is_none() {
            return run::usage_error(style, &format!("environment `{e}` is not declared in the manifest"));
        }
    }
    let text = secret_sync::template::render(&m, env);
    if output.as_os_str() == "-" {
        print!("{text}");
        return Exit::Ok;
    }
    match std::fs::write(output, text) {
        Ok(()) => {
            eprintln!("wrote {}", output.display());
            Exit::Ok
        }
        Err(e) => {
            run::usage_error(style, &format!("cannot write {}: {}", output.display(), secret_sync::util::io_reason(&e)))
        }
    }
}

/// A panic message could carry anything, so it is never printed: only where
/// the panic happened. Values cannot leak through a crash.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let at =
            info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_else(|| "unknown place".into());
        eprintln!("secret-sync: internal error at {at}. This is a bug; please report it. (The panic message is withheld so no secret can leak through it.)");
    }));
}

/// Logs go to stderr. `SECRET_SYNC_LOG` sets the filter (default `warn`);
/// the runner's debug logging (`RUNNER_DEBUG=1`) turns on `debug`.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let default = if std::env::var("RUNNER_DEBUG").as_deref() == Ok("1") { "secret_sync=debug" } else { "warn" };
    let filter = EnvFilter::try_from_env("SECRET_SYNC_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}
