//! What the process sets up before any command: the panic hook and logging.

use crate::env::EnvVars;

/// A panic message could carry anything, so it is never printed: only where
/// the panic happened. Values cannot leak through a crash.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let at =
            info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_else(|| "unknown place".into());
        eprintln!("secret-sync: internal error at {at}. This is a bug; please report it. (The panic message is withheld so no secret can leak through it.)");
    }));
}
/// Logs go to stderr. `SECRET_SYNC_LOG` sets the filter (default `warn`);
/// the runner's debug logging (`RUNNER_DEBUG=1`) turns on `debug`.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let default =
        if crate::env::var(EnvVars::RUNNER_DEBUG).as_deref() == Some("1") { "secret_sync=debug" } else { "warn" };
    let filter = EnvFilter::try_from_env(EnvVars::SECRET_SYNC_LOG).unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}
