//! The Fly roll benchmark of issue 22: one app of N Machines (9 by
//! default), each with a health check whose first result (passing) comes
//! `checks-after` seconds after the Machine starts (0 by default), rolled by
//! the `secret-sync` binary on the REAL clock against the emulator with
//! Machines whose starts are stamped in real time. So each Machine costs
//! what flyctl's waits cost — the smoke check's 10 s window (reads at 0,
//! 0.5, 1.5, 3.5, 5.5, 7.5, 9.5 s; up > 10 s only after it), then the health
//! wait's reads at 10, 11, 13, 15… s until a result shows — and the program
//! prints the wall time beside that model.
//!
//!   cargo run -p secret-sync-emulators --example fly_roll -- BIN DIR [machines=9] [checks-after=0]

use std::process::Command;
use std::time::{Duration, Instant};

use secret_sync_emulators::fly::Starts;
use secret_sync_emulators::Emulator;

const FLY_TOKEN: &str = "fm2_rollBenchMacaroon000000000";

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: fly_roll BIN DIR [machines=N] [checks-after=SECONDS]";
    let bin = std::fs::canonicalize(args.next().expect(usage)).expect("BIN exists");
    let dir = std::path::absolute(args.next().expect(usage)).expect("DIR is a path");
    let (mut machines, mut after) = (9usize, 0u64);
    for a in args {
        let (k, v) = a.split_once('=').expect(usage);
        match k {
            "machines" => machines = v.parse().expect(usage),
            "checks-after" => after = v.parse().expect(usage),
            _ => panic!("{usage}"),
        }
    }
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("secret-sync.yml"),
        "version: 1\ntargets:\n  fly:\n    api: { app: bench-api }\nsecrets:\n  DATABASE_URL: { to: [ { fly: api } ] }\n",
    )
    .unwrap();
    let emu = Emulator::start();
    {
        let mut st = emu.state();
        st.fly.tokens.insert(FLY_TOKEN.into());
        st.fly.starts = Starts::Real;
        st.fly.add_app("bench-api", machines);
        for i in 0..machines {
            let id = format!("bench-api-m{i}");
            st.fly.add_checks("bench-api", &id, &["http"], 0);
            let a = st.fly.apps.get_mut("bench-api").unwrap();
            a.machines[i].checks_after_ms = after as i64 * 1000;
        }
    }
    let t = Instant::now();
    let out = Command::new(&bin)
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("INPUT_MODE", "sync")
        .env("INPUT_MANIFEST", "secret-sync.yml")
        .env("INPUT_SECRETS", r#"{"DATABASE_URL":"postgres://bench:pw-0123456789@db:5432/app"}"#)
        .env("INPUT_FLY-TOKEN", FLY_TOKEN)
        .env("FLY_FLAPS_BASE_URL", &emu.url)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_WORKSPACE", &dir)
        .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
        .env("GITHUB_OUTPUT", dir.join("output"))
        .env("RUNNER_TEMP", &dir)
        .output()
        .expect("the binary runs");
    let wall = t.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    // The model: per Machine, the smoke window (10 s), then the health wait
    // reads at 10 s and after a backoff of 1 s, then 2 s each, until the
    // first read at or after the first result.
    let (mut t, mut step) = (10u64, 1u64);
    while t < after {
        t += step;
        step = 2;
    }
    let per = Duration::from_secs(t);
    let model = per * machines as u32;
    let st = emu.state();
    let order = st.fly.journal.iter().filter(|e| e.starts_with("update")).count();
    println!(
        "{machines} Machines, first health result {after} s after each start: wall {:.2} s; flyctl's waits {:.1} s ({:.1} s per Machine); ×{:.3}; {order} updates; {} requests",
        wall.as_secs_f64(),
        model.as_secs_f64(),
        per.as_secs_f64(),
        wall.as_secs_f64() / model.as_secs_f64(),
        st.log.len()
    );
}
