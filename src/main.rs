use std::process::ExitCode;

use clap::Parser;
use secret_sync::cli::Cli;
use secret_sync::commands;
use secret_sync::config::Style;
use secret_sync::exit::Exit;

fn main() -> ExitCode {
    commands::install_panic_hook();
    commands::init_tracing();
    let style = Style::detect();
    let code = match Cli::try_parse() {
        Ok(cli) => commands::dispatch(cli, style),
        Err(e) => {
            let code = if e.use_stderr() { Exit::Usage } else { Exit::Ok };
            let _ = e.print();
            code
        }
    };
    ExitCode::from(code)
}
