//! The GitHub pace benchmark of issue 23: KEYS secrets routed to each of
//! REPOS repositories (1,000 writes over 50 by default), one first sync by
//! the `secret-sync` binary against the GitHub emulator, which enforces
//! GitHub's content-creation limit (80 writes per minute, real time) and
//! counts the writes it refuses. Prints the wall time beside the pace model
//! ((writes − 1) × interval: the writes are serial, each at least one
//! interval after the previous one ended) and the refused writes.
//!
//!   cargo run --release -p secret-sync-emulators --example github_pace -- \
//!     BIN DIR [repos=50] [keys=20] [pace-ms=1000]
//!
//! `pace-ms` sets the manifest's `defaults.github_write_interval`; the
//! emulator's window is scaled with it (80 writes per 60 s × pace/1000), so
//! a shorter run keeps the ratio between the pace and the limit.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use secret_sync_emulators::github::ContentLimit;
use secret_sync_emulators::Emulator;

const TOKEN: &str = "ghp_githubPaceBenchToken000000000000000";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let abs = |p: &str| std::path::absolute(p).expect("a usable path");
    let (bin, dir) = (abs(&args[0]), abs(&args[1]));
    let num = |k: &str, d: u64| {
        args.iter().find_map(|a| a.strip_prefix(&format!("{k}=")).and_then(|v| v.parse().ok())).unwrap_or(d)
    };
    let (repos, keys, pace_ms) = (num("repos", 50) as usize, num("keys", 20) as usize, num("pace-ms", 1000));
    let emu = Emulator::start();
    {
        let mut st = emu.state();
        let gh = &mut st.github;
        gh.tokens.insert(TOKEN.into());
        gh.org_secret("acme", "UNRELATED", "2026-01-01T00:00:00Z", "all");
        gh.add_repo("acme/ops");
        for r in 0..repos {
            gh.add_repo(&format!("acme/repo-{r:02}"));
        }
        gh.content_limit = Some(ContentLimit::new(80, Duration::from_millis(60 * pace_ms)));
    }
    let mut m = format!("version: 1\ndefaults:\n  github_write_interval: {pace_ms}ms\ntargets:\n  github:\n");
    for r in 0..repos {
        m += &format!("    r{r:02}: {{ repo: acme/repo-{r:02} }}\n");
    }
    m += "secrets:\n";
    let routes: Vec<String> = (0..repos).map(|r| format!("{{ github: r{r:02} }}")).collect();
    for k in 0..keys {
        m += &format!("  KEY_{k:03}: {{ to: [ {} ] }}\n", routes.join(", "));
    }
    let vals: serde_json::Map<String, serde_json::Value> =
        (0..keys).map(|k| (format!("KEY_{k:03}"), format!("bench-value-{k:03}-000000000000").into())).collect();
    let vals = serde_json::Value::Object(vals).to_string();
    let ws = dir.join("workspace");
    for d in [ws.join(".github"), dir.join("runner_temp"), dir.join("file_commands")] {
        std::fs::create_dir_all(d).expect("directories");
    }
    std::fs::write(ws.join(".github/secret-sync.yml"), m).expect("manifest written");
    let mut cmd = Command::new(&bin);
    cmd.env_clear()
        .current_dir(&ws)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_WORKSPACE", &ws)
        .env("GITHUB_STEP_SUMMARY", dir.join("file_commands/summary"))
        .env("GITHUB_OUTPUT", dir.join("file_commands/output"))
        .env("RUNNER_TEMP", dir.join("runner_temp"))
        .env("GITHUB_REPOSITORY", "acme/ops")
        .env("GITHUB_API_URL", &emu.url);
    for (k, v) in [
        ("mode", "sync"),
        ("secrets", vals.as_str()),
        ("github-token", TOKEN),
        ("github-org", "acme"),
        ("state", "none"),
        ("upload-artifact", "false"),
        ("fail-on", "error"),
    ] {
        cmd.env(format!("INPUT_{}", k.to_uppercase()), v);
    }
    let t0 = Instant::now();
    let out = cmd.stdin(Stdio::null()).output().expect("secret-sync runs");
    let wall = t0.elapsed();
    let writes = emu.count("PUT", "/actions/secrets/");
    let refused = emu.state().github.content_limit.as_ref().map_or(0, |l| l.refused);
    let expected = repos * keys;
    let model = Duration::from_millis(pace_ms * (expected as u64).saturating_sub(1));
    println!(
        "github pace: {expected} writes over {repos} repositories at {pace_ms} ms: exit {}, {writes} PUTs, {refused} refused by the 80/min limit; wall {:.1} s, model {:.1} s ({:+.1} %)",
        out.status.code().unwrap_or(-1),
        wall.as_secs_f64(),
        model.as_secs_f64(),
        (wall.as_secs_f64() / model.as_secs_f64() - 1.0) * 100.0
    );
    if !out.status.success() || writes != expected || refused != 0 {
        eprintln!("{}", String::from_utf8_lossy(&out.stdout));
        std::process::exit(1);
    }
}
