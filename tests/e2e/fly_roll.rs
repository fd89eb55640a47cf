//! The Fly roll as flyctl's `fly secrets deploy` does it: after each Machine
//! update, `started`, the smoke check, the health checks; the first Machine
//! that fails stops the roll and the target fails with how to recover; the
//! report says per key Deployed / Partial / Staged as `fly secrets list`
//! would. The run's clock is virtual (tests/e2e/harness.rs), so a five-minute
//! wait costs no real time. Request counts are exact where time cannot move them.

use secret_sync_emulators::fly::Starts;
use secret_sync_emulators::Emulator;

use crate::harness::{Output, Workspace};

const FLY_TOKEN: &str = "fm2_rollE2eMacaroonToken00000000";
const GH_TOKEN: &str = "ghp_rollE2eGithubToken0000000000000000";

const MANIFEST: &str = r#"
version: 1
targets:
  fly:
    api: { app: acme-api, checks: { wait_timeout: 30s } }
    web: { app: acme-web }
    edge: { app: acme-edge, deploy: stage }
  github:
    app: { repo: acme/app }
secrets:
  DATABASE_URL: { to: [ { fly: api } ] }
  SESSION_SECRET: { to: [ { fly: web }, { fly: edge }, { github: app } ] }
"#;

const DB_GOOD: &str = "postgres://app:pw-good-5a1c9e@db.internal:5432/app";
const DB_BAD: &str = "postgres://app:pw-wrong-7e3b1d@db.internal:5432/app";
const SESSION: &str = "session-secret-0f3a7c9e1b5d";
const SESSION_2: &str = "session-secret-rotated-2e8c4a";

fn values(db: &str, session: &str) -> String {
    serde_json::json!({ "DATABASE_URL": db, "SESSION_SECRET": session }).to_string()
}

/// acme-api: three Machines, each with a top-level and a service check;
/// acme-web: one Machine with a check, one without; acme-edge staged.
fn emulator() -> Emulator {
    let emu = Emulator::start();
    {
        let mut st = emu.state();
        st.fly.tokens.insert(FLY_TOKEN.into());
        st.fly.add_app("acme-api", 3);
        for i in 0..3 {
            st.fly.add_checks("acme-api", &format!("acme-api-m{i}"), &["http"], 1);
        }
        st.fly.add_app("acme-web", 2);
        st.fly.add_checks("acme-web", "acme-web-m0", &["http"], 0);
        st.fly.add_app("acme-edge", 2);
        st.github.tokens.insert(GH_TOKEN.into());
        st.github.orgs.entry("acme".into()).or_default();
        st.github.add_repo("acme/app");
    }
    emu
}

fn run(ws: &Workspace, emu: &Emulator, secrets: &str) -> Output {
    run_with(ws, emu, secrets, FLY_TOKEN)
}

fn run_with(ws: &Workspace, emu: &Emulator, secrets: &str, fly_token: &str) -> Output {
    let inputs = [("mode", "sync"), ("secrets", secrets), ("fly-token", fly_token), ("github-token", GH_TOKEN)];
    let env = [
        ("GITHUB_API_URL", emu.url.as_str()),
        ("FLY_FLAPS_BASE_URL", emu.url.as_str()),
        ("SECRET_SYNC_HTTP_BACKOFF_MS", "1"),
        ("SECRET_SYNC_HTTP_RETRIES", "1"),
    ];
    emu.clear_log();
    emu.state().fly.journal.clear();
    let out = ws.action(&inputs, &env);
    let shown = out.everything_visible();
    for secret in [FLY_TOKEN, GH_TOKEN, DB_GOOD, DB_BAD, SESSION, SESSION_2] {
        assert!(!shown.contains(secret), "a value or token was shown");
    }
    // The password alone, as a health check's output may quote it.
    assert!(!shown.contains("pw-wrong-7e3b1d"), "a value was shown");
    out
}

fn workspace(manifest: &str) -> Workspace {
    let ws = Workspace::new();
    ws.manifest_text(manifest);
    ws
}

fn target<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["targets"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap()
}

/// `key status` of each key's deployment at a target in the report.
fn deployment(report: &serde_json::Value, id: &str) -> Vec<String> {
    target(report, id)["deployment"]
        .as_array()
        .map(|a| {
            a.iter().map(|d| format!("{} {}", d["key"].as_str().unwrap(), d["status"].as_str().unwrap())).collect()
        })
        .unwrap_or_default()
}

/// The emulator's `fly secrets list` status, as the report spells it.
fn emulated(emu: &Emulator, app: &str, key: &str) -> String {
    format!("{key} {}", emu.state().fly.deployment(app, key).to_lowercase())
}

fn journal(emu: &Emulator, app: &str) -> Vec<String> {
    emu.state().fly.journal.iter().filter(|e| e.contains(app)).cloned().collect()
}

/// Reads of one Machine (`GET /v1/apps/{app}/machines/{id}`).
fn reads(emu: &Emulator, app: &str, id: &str) -> usize {
    emu.count_exact("GET", &format!("/v1/apps/{app}/machines/{id}"))
}

/// (instance, secrets version) of each Machine of `app`.
fn releases(emu: &Emulator, app: &str) -> Vec<(String, u64)> {
    let st = emu.state();
    st.fly.apps[app].machines.iter().map(|m| (m.instance_id.clone(), m.secrets_version)).collect()
}

#[test]
fn each_machine_is_updated_only_after_the_previous_passed_its_checks() {
    let emu = emulator();
    {
        let mut st = emu.state();
        for i in 0..3 {
            let a = st.fly.apps.get_mut("acme-api").unwrap();
            a.machines[i].reads_before_checks = 2;
        }
        st.fly.apps.get_mut("acme-web").unwrap().machines[0].reads_before_checks = 1;
    }
    let ws = workspace(MANIFEST);
    let out = run(&ws, &emu, &values(DB_GOOD, SESSION));
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(
        journal(&emu, "acme-api"),
        [
            "update acme-api-m0",
            "passing acme-api-m0",
            "update acme-api-m1",
            "passing acme-api-m1",
            "update acme-api-m2",
            "passing acme-api-m2"
        ]
    );
    // The smoke check's read (the Machine has been up long: one read, which
    // shows no check result yet), the health wait's read with no result yet,
    // and one with all passing.
    for i in 0..3 {
        assert_eq!(reads(&emu, "acme-api", &format!("acme-api-m{i}")), 3, "m{i}");
    }
    assert_eq!(reads(&emu, "acme-web", "acme-web-m0"), 2, "smoke (no result yet), passing");
    assert_eq!(reads(&emu, "acme-web", "acme-web-m1"), 1, "no configured check: the smoke check only");
    assert_eq!(journal(&emu, "acme-web"), ["update acme-web-m0", "passing acme-web-m0", "update acme-web-m1"]);
    assert_eq!(emu.state().fly.updates("acme-edge"), 0, "`deploy: stage` updates no Machine");

    let report = out.report_json();
    assert_eq!(deployment(&report, "fly:api"), ["DATABASE_URL deployed"]);
    assert_eq!(deployment(&report, "fly:web"), ["SESSION_SECRET deployed"]);
    assert_eq!(deployment(&report, "fly:edge"), ["SESSION_SECRET staged"]);
    for (id, app, key) in [
        ("fly:api", "acme-api", "DATABASE_URL"),
        ("fly:web", "acme-web", "SESSION_SECRET"),
        ("fly:edge", "acme-edge", "SESSION_SECRET"),
    ] {
        assert_eq!(deployment(&report, id), [emulated(&emu, app, key)], "{id}");
    }
    assert!(out.summary.contains("changes deployed to all 3 Machine(s)"), "{}", out.summary);
}

#[test]
fn a_machine_failing_its_health_check_stops_the_roll() {
    let emu = emulator();
    let ws = workspace(MANIFEST);
    assert_eq!(run(&ws, &emu, &values(DB_GOOD, SESSION)).code, 0);
    let before = releases(&emu, "acme-api");
    emu.state().fly.apps.get_mut("acme-api").unwrap().sick_when = Some((
        "DATABASE_URL".into(),
        DB_BAD.into(),
        "HTTP GET http://[fdaa::3]:8080/healthz: 500 <h1>db</h1> password authentication failed for pw-wrong-7e3b1d\n`x`"
            .into(),
    ));
    let out = run(&ws, &emu, &values(DB_BAD, SESSION_2));
    assert_eq!(out.code, 1, "{}", out.summary);

    // Exactly one Machine updated; the other two keep instance and release.
    let st = emu.state();
    let api = &st.fly.apps["acme-api"];
    let updates: Vec<usize> = api.machines.iter().map(|m| m.updates.len()).collect();
    assert_eq!(updates, [2, 1, 1, 0], "run 1 updated each once; run 2 only m0 (the last is destroyed)");
    let after: Vec<(String, u64)> = api.machines.iter().map(|m| (m.instance_id.clone(), m.secrets_version)).collect();
    assert_ne!(after[0], before[0]);
    assert_eq!(after[1..], before[1..]);
    assert_eq!(
        st.fly.journal.iter().filter(|e| e.contains("acme-api")).cloned().collect::<Vec<_>>(),
        ["update acme-api-m0", "critical acme-api-m0"]
    );
    drop(st);

    let report = out.report_json();
    let api = target(&report, "fly:api");
    assert_eq!(api["status"], "failed");
    let message = api["message"].as_str().unwrap();
    for want in [
        "the roll stopped at Machine `acme-api-m0`",
        "health check `http` is critical",
        "password authentication failed for ***",
        "not passing within 30 s",
        "Left on their previous release: `acme-api-m1`, `acme-api-m2`",
        "`fly secrets deploy -a acme-api`",
    ] {
        assert!(message.contains(want), "{want:?} not in {message}");
    }
    // Other targets went on.
    assert_eq!(target(&report, "fly:web")["status"], "synced");
    // (GitHub tells a changed value by the source's metadata, which this run lacks.)
    assert_ne!(target(&report, "github:app")["status"], "failed");
    assert_eq!(emu.state().fly.apps["acme-web"].secrets["SESSION_SECRET"].1, SESSION_2);
    assert_eq!(deployment(&report, "fly:api"), ["DATABASE_URL partial"]);
    assert_eq!(emulated(&emu, "acme-api", "DATABASE_URL"), "DATABASE_URL partial");
    assert_eq!(deployment(&report, "fly:web"), [emulated(&emu, "acme-web", "SESSION_SECRET")]);
    // The summary tells how to recover, escaped for Markdown.
    let line = out.summary.lines().find(|l| l.contains("roll stopped")).expect("the failure in the summary");
    insta::assert_snapshot!("fly_roll_health_stop__summary_line", line);
}

#[test]
fn a_crash_looping_machine_fails_the_smoke_check_and_stops_the_roll() {
    let emu = emulator();
    let ws = workspace(MANIFEST);
    assert_eq!(run(&ws, &emu, &values(DB_GOOD, SESSION)).code, 0);
    let before = releases(&emu, "acme-api");
    emu.state().fly.apps.get_mut("acme-api").unwrap().crash_when = Some(("DATABASE_URL".into(), DB_BAD.into()));
    let out = run(&ws, &emu, &values(DB_BAD, SESSION));
    assert_eq!(out.code, 1, "{}", out.summary);
    let after = releases(&emu, "acme-api");
    assert_ne!(after[0], before[0]);
    assert_eq!(after[1..], before[1..], "m1 and m2 keep instance and release");
    assert_eq!(reads(&emu, "acme-api", "acme-api-m0"), 1, "the first read shows the crash loop");
    assert_eq!(reads(&emu, "acme-api", "acme-api-m1"), 0);
    let report = out.report_json();
    let message = target(&report, "fly:api")["message"].as_str().unwrap().to_string();
    assert!(message.contains("the roll stopped at Machine `acme-api-m0`: smoke check: the app appears to be crashing (it exited with code 1 and is restarting, 2 restarts)"), "{message}");
    assert!(message.contains("Left on their previous release: `acme-api-m1`, `acme-api-m2`"), "{message}");
    assert_eq!(deployment(&report, "fly:api"), [emulated(&emu, "acme-api", "DATABASE_URL")]);
    assert_eq!(emulated(&emu, "acme-api", "DATABASE_URL"), "DATABASE_URL partial");
}

/// flyctl's smoke check reads a freshly started Machine until it has been up
/// more than 10 s, for at most 10 s. Starts stamped at the run's own
/// (virtual) start: the first Machine is read at 0, 0.5, 1.5, 3.5, 5.5,
/// 7.5 and 9.5 s and passes when the window ends; the second, read at 10 s,
/// is up exactly 10 s (not more) and passes at its read 0.5 s later. (The
/// emulator's clock does not follow the run's, so every start carries the
/// same stamp.)
#[test]
fn the_smoke_check_waits_for_ten_seconds_of_uptime() {
    let emu = emulator();
    emu.state().fly.starts = Starts::At(crate::harness::NOW.parse::<i64>().unwrap() * 1000);
    let ws = workspace(
        "version: 1\ntargets:\n  fly:\n    web: { app: acme-web }\nsecrets:\n  SESSION_SECRET: { to: [ { fly: web } ] }\n",
    );
    let out = run(&ws, &emu, &values(DB_GOOD, SESSION));
    assert_eq!(out.code, 0, "{}", out.summary);
    // m0: 7 smoke reads in the 10 s window (the clock passes 10 s just
    // after), then its health check (passing at once): one read.
    assert_eq!(reads(&emu, "acme-web", "acme-web-m0"), 8);
    assert_eq!(reads(&emu, "acme-web", "acme-web-m1"), 2);
}

/// The benchmark's switch: `defaults.fly_checks` turns the waits off for
/// every Fly target: the Machines are updated and waited for `started`, never read.
#[test]
fn the_checks_can_be_switched_off_in_the_manifest() {
    let emu = emulator();
    let manifest =
        MANIFEST.replace("version: 1\n", "version: 1\ndefaults:\n  fly_checks: { smoke: false, health: false }\n");
    let ws = workspace(&manifest);
    let out = run(&ws, &emu, &values(DB_GOOD, SESSION));
    assert_eq!(out.code, 0, "{}", out.summary);
    for (app, id) in [("acme-api", "acme-api-m0"), ("acme-api", "acme-api-m2"), ("acme-web", "acme-web-m0")] {
        assert_eq!(reads(&emu, app, id), 0, "{id}");
        assert_eq!(emu.count_exact("GET", &format!("/v1/apps/{app}/machines/{id}/wait")), 1, "{id}");
    }
}

/// A read after a write asks for the version the write returned, as flyctl's
/// internal/appsecrets does: a lagging read (the emulator's `stale_reads`)
/// would show the digests from before the write — the key would look
/// unchanged and no Machine would get it.
#[test]
fn the_read_after_a_write_asks_for_the_written_version() {
    let emu = emulator();
    let ws = workspace(MANIFEST);
    assert_eq!(run(&ws, &emu, &values(DB_GOOD, SESSION)).code, 0);
    {
        let mut st = emu.state();
        let api = st.fly.apps.get_mut("acme-api").unwrap();
        api.answer_digests = false;
        api.stale_reads = 5;
    }
    let out = run(&ws, &emu, &values(DB_BAD, SESSION));
    assert_eq!(out.code, 0, "{}", out.summary);
    let report = out.report_json();
    let changes = &target(&report, "fly:api")["changes"];
    assert_eq!(changes[0]["action"], "update", "{changes}");
    assert_eq!(emu.state().fly.updates("acme-api"), 6, "each of the 3 Machines updated once more");
    assert_eq!(deployment(&report, "fly:api"), ["DATABASE_URL deployed"]);
}

/// A token pasted with its scheme — `Bearer`, `FlyV1`, any case — is
/// stripped of it as fly-go's `StripAuthorizationScheme` does, then sent
/// with the scheme its kind needs (the emulator refuses a macaroon as Bearer).
#[test]
fn a_token_given_with_its_scheme_works() {
    for token in [format!("Bearer {FLY_TOKEN}"), format!("flyv1 {FLY_TOKEN}"), format!("FlyV1 {FLY_TOKEN}")] {
        let emu = emulator();
        let ws = workspace(MANIFEST);
        let out = run_with(&ws, &emu, &values(DB_GOOD, SESSION), &token);
        assert_eq!(out.code, 0, "{token}: {}", out.summary);
        assert_eq!(emu.state().fly.apps["acme-api"].secrets["DATABASE_URL"].1, DB_GOOD);
    }
}
