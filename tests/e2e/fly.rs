//! Fly.io target, end to end, on the Sophia example's eight apps: the binary
//! runs as an action against the Fly (and ESC) emulator. Request counts are
//! exact.

use secret_sync::targets::fly::{self, Spec as FlySpec};
use secret_sync_emulators::fly::{Kind, Update};
use secret_sync_emulators::{Emulator, Fault, FaultKind};

use crate::action::sophia_secrets_json;
use crate::harness::{repo, Output, Workspace};

const ESC_TOKEN: &str = "pul-fly-e2e-esc-token-000000";
const FLY_TOKEN: &str = "fm2_flyE2eMacaroonToken00000000";
const GH_TOKEN: &str = "ghp_flyE2eGithubToken000000000000000";
const UNMANAGED: (&str, &str) = ("FLY_POSTGRES_PRIMARY", "set-by-fly-postgres-attach");

/// Fly targets of the Sophia example: (target name, app, restart?).
fn apps() -> Vec<(String, String, bool)> {
    let m = secret_sync::manifest::load(
        &repo().join("examples/sophia/secret-sync.yml"),
        "m",
        secret_sync::targets::SECTIONS,
    )
    .unwrap();
    m.targets
        .iter()
        .filter_map(|t| {
            let s = t.spec::<FlySpec>()?;
            Some((t.name.clone(), s.app.clone(), s.deploy == secret_sync::manifest::Deploy::Restart))
        })
        .collect()
}

/// Apps a secret is routed to (by target name → app).
fn apps_of(secret: &str) -> Vec<String> {
    let m = secret_sync::manifest::load(
        &repo().join("examples/sophia/secret-sync.yml"),
        "m",
        secret_sync::targets::SECTIONS,
    )
    .unwrap();
    let s = m.secrets.iter().find(|s| s.name == secret).unwrap();
    s.routes
        .iter()
        .filter(|r| r.kind == fly::KIND)
        .filter_map(|r| Some(m.target(fly::KIND, &r.target)?.spec::<FlySpec>()?.app.clone()))
        .collect()
}

/// Every production target of the Sophia example has a home: its ESC
/// environment, its GitHub repositories, and each Fly app with `machines`
/// started machines. Tokens: (ESC, Fly, GitHub).
pub fn sophia_services(st: &mut secret_sync_emulators::State, tokens: (&str, &str, &str), machines: usize) {
    st.esc.tokens.insert(tokens.0.into());
    st.esc.seed("ai-cherry/sophia/production", "values: {}\n");
    st.fly.tokens.insert(tokens.1.into());
    st.github.tokens.insert(tokens.2.into());
    st.github.orgs.entry("ai-cherry".into()).or_default();
    st.github.add_repo("ai-cherry/sophia");
    st.github.add_repo("ai-cherry/sophia-infra");
    st.github.add_env("ai-cherry/sophia-dashboard", "production");
    for (_, app, _) in apps() {
        st.fly.add_app(&app, machines);
    }
}

fn emulator() -> Emulator {
    let emu = Emulator::start();
    {
        let mut st = emu.state();
        sophia_services(&mut st, (ESC_TOKEN, FLY_TOKEN, GH_TOKEN), 2);
        for (_, app, _) in apps() {
            st.fly.set(&app, UNMANAGED.0, UNMANAGED.1);
        }
    }
    emu
}

fn run(ws: &Workspace, emu: &Emulator, secrets: &str) -> Output {
    run_mode(ws, emu, secrets, "sync")
}

fn run_mode(ws: &Workspace, emu: &Emulator, secrets: &str, mode: &str) -> Output {
    let inputs = [
        ("mode", mode),
        ("environment", "production"),
        ("secrets", secrets),
        ("esc-api-url", emu.url.as_str()),
        ("esc-token", ESC_TOKEN),
        ("fly-token", FLY_TOKEN),
        ("github-token", GH_TOKEN),
    ];
    let env = [
        ("GITHUB_API_URL", emu.url.as_str()),
        ("SECRET_SYNC_TEST_CLOCK", emu.url.as_str()),
        ("FLY_API_BASE_URL", emu.url.as_str()),
        ("FLY_FLAPS_BASE_URL", emu.url.as_str()),
        ("SECRET_SYNC_HTTP_BACKOFF_MS", "5"),
        ("SECRET_SYNC_HTTP_RETRIES", "2"),
    ];
    let out = ws.action(&inputs, &env);
    let shown = out.everything_visible();
    assert!(!shown.contains(FLY_TOKEN) && !shown.contains(ESC_TOKEN) && !shown.contains(GH_TOKEN), "a token was shown");
    let values: serde_json::Map<String, serde_json::Value> = serde_json::from_str(secrets).unwrap();
    for v in values.values().filter_map(|v| v.as_str()).filter(|v| v.len() >= 8) {
        assert!(!shown.contains(v), "a value was shown");
    }
    out
}

fn workspace() -> Workspace {
    let ws = Workspace::new();
    ws.manifest_from(&repo().join("examples/sophia/secret-sync.yml"));
    ws
}

fn writes(emu: &Emulator, app: &str) -> usize {
    emu.count_exact("POST", &format!("/v1/apps/{app}/secrets"))
}

/// Every Machines API request to `app`, by method and path (no query).
fn requests(emu: &Emulator, app: &str) -> Vec<(String, String)> {
    let prefix = format!("/v1/apps/{app}/");
    let mut v: Vec<(String, String)> = emu
        .log()
        .into_iter()
        .filter(|l| l.path.starts_with(&prefix))
        .map(|l| (l.method, l.path[prefix.len() - 1..].to_string()))
        .collect();
    v.sort();
    v
}

/// The requests a rolling update of `machines` started machines makes,
/// after the read and the write.
fn rolled(machines: &[&str]) -> Vec<(String, String)> {
    let mut v = vec![("GET".to_string(), "/secrets".to_string()), ("POST".into(), "/secrets".into())];
    v.push(("GET".into(), "/machines".into()));
    for m in machines {
        v.push(("POST".into(), format!("/machines/{m}/lease")));
        v.push(("POST".into(), format!("/machines/{m}")));
        v.push(("GET".into(), format!("/machines/{m}/wait")));
        v.push(("DELETE".into(), format!("/machines/{m}/lease")));
        // The smoke check: the Machine has been up long, so one read.
        v.push(("GET".into(), format!("/machines/{m}")));
    }
    v.sort();
    v
}

fn read_and_write() -> Vec<(String, String)> {
    vec![("GET".into(), "/secrets".into()), ("POST".into(), "/secrets".into())]
}

/// `target key` of every Fly change with this action.
fn fly_actions(report: &serde_json::Value, action: &str) -> Vec<String> {
    let mut v = Vec::new();
    for t in report["targets"].as_array().unwrap().iter().filter(|t| t["kind"] == "fly") {
        for c in t["changes"].as_array().unwrap().iter().filter(|c| c["action"] == action) {
            v.push(format!("{} {}", t["id"].as_str().unwrap(), c["key"].as_str().unwrap()));
        }
    }
    v
}

#[test]
fn first_sync_then_nightly_then_one_key() {
    let emu = emulator();
    let ws = workspace();
    let json = sophia_secrets_json(&[]);

    let out = run(&ws, &emu, &json);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(emu.count("POST", "/graphql"), 0, "GraphQL is not used");
    let version_of = |app: &str| emu.state().fly.apps[app].version;
    for (name, app, restart) in apps() {
        let (m0, m1) = (format!("{app}-m0"), format!("{app}-m1"));
        if restart {
            assert_eq!(requests(&emu, &app), rolled(&[&m0, &m1]), "{name}");
            let v = version_of(&app);
            let st = emu.state();
            for m in st.fly.apps[&app].machines.iter().filter(|m| m.state == "started") {
                let want = Update { min_secrets_version: Some(v), skip_launch: false };
                assert_eq!(m.updates, [want], "{name}: machine {} got min_secrets_version", m.id);
            }
            assert_eq!(st.fly.leases(&app), 0, "lease left behind");
        } else {
            assert_eq!(requests(&emu, &app), read_and_write(), "{name}: `deploy: stage` restarts nothing");
        }
        // Values arrived intact; what the manifest does not own is untouched.
        let st = emu.state();
        assert_eq!(st.fly.apps[&app].secrets[UNMANAGED.0].1, UNMANAGED.1);
    }
    // Rolling: the second machine is leased only after the first is released.
    let log = emu.log();
    let pos =
        |needle: &str, method: &str| log.iter().position(|l| l.method == method && l.path.ends_with(needle)).unwrap();
    assert!(pos("sophia-gong-m0/lease", "DELETE") < pos("sophia-gong-m1/lease", "POST"));
    snapshot_targets!("fly_first_sync", &out);

    // (a) The nightly run: identical values. Fly's digests cannot prove a
    // key unchanged, so each app gets one write — and the write proves every
    // key unchanged: no machine is touched.
    emu.clear_log();
    let versions: Vec<u64> = apps().iter().map(|(_, a, _)| version_of(a)).collect();
    let out = run(&ws, &emu, &json);
    assert_eq!(out.code, 0, "{}", out.summary);
    for (i, (name, app, _)) in apps().iter().enumerate() {
        assert_eq!(requests(&emu, app), read_and_write(), "{name}: one read, one write, nothing else");
        assert_eq!(version_of(app), versions[i] + 1);
    }
    let report = out.report_json();
    assert!(fly_actions(&report, "update").is_empty());
    assert!(!fly_actions(&report, "unchanged").is_empty());
    assert_eq!(report["counts"]["unverified"], 0, "the write settled every key");
    assert!(out.summary.contains("the write proved all"), "{}", out.summary);
    assert!(out.outputs.contains("changed<<ghadelimiter_PID_0\n0\n"), "{}", out.outputs);
    snapshot_targets!("fly_unchanged", &out);

    // (b) One changed key: written everywhere (nothing proves the others),
    // but only the app that holds it is restarted.
    let routed = apps_of("GONG_ACCESS_KEY");
    assert_eq!(routed, ["sophia-gong"]);
    emu.clear_log();
    let out = run(&ws, &emu, &sophia_secrets_json(&[("PROD_GONG_ACCESS_KEY", "gong-rotated-access-key-0002")]));
    assert_eq!(out.code, 0, "{}", out.summary);
    for (name, app, _) in apps() {
        let want = if routed.contains(&app) {
            rolled(&[&format!("{app}-m0"), &format!("{app}-m1")])
        } else {
            read_and_write()
        };
        assert_eq!(requests(&emu, &app), want, "{name}");
    }
    assert_eq!(emu.state().fly.apps["sophia-gong"].secrets["GONG_ACCESS_KEY"].1, "gong-rotated-access-key-0002");
    assert_eq!(fly_actions(&out.report_json(), "update"), ["fly:gong GONG_ACCESS_KEY"]);
    snapshot_targets!("fly_one_key", &out);
}

#[test]
fn plan_shows_present_keys_as_unverified_never_as_updates() {
    let emu = emulator();
    let ws = workspace();
    assert_eq!(run(&ws, &emu, &sophia_secrets_json(&[])).code, 0);
    emu.clear_log();
    let out =
        run_mode(&ws, &emu, &sophia_secrets_json(&[("PROD_GONG_ACCESS_KEY", "gong-rotated-access-key-0003")]), "plan");
    assert_eq!(out.code, 0, "{}", out.summary);
    for (name, app, _) in apps() {
        assert_eq!(requests(&emu, &app), [("GET".to_string(), "/secrets".to_string())], "{name}: one read");
    }
    let report = out.report_json();
    assert!(fly_actions(&report, "update").is_empty(), "an opaque digest never proves a change");
    assert!(fly_actions(&report, "create").is_empty());
    assert_eq!(report["counts"]["unverified"].as_u64().unwrap() as usize, fly_actions(&report, "unverified").len());
    assert!(fly_actions(&report, "unverified").contains(&"fly:gong GONG_ACCESS_KEY".to_string()));
    for t in report["targets"].as_array().unwrap().iter().filter(|t| t["kind"] == "fly") {
        assert!(t["changes"].as_array().unwrap().iter().all(|c| c["action"] == "unverified"), "{}", t["id"]);
    }
    assert!(out.outputs.contains("unverified<<ghadelimiter_PID_0\n"), "{}", out.outputs);
    insta::assert_snapshot!("fly_plan__summary", out.summary);
}

#[test]
fn faults_are_reported_per_app() {
    let emu = emulator();
    {
        let mut st = emu.state();
        st.fly.apps.remove("sophia-notion");
        st.fly.forbidden.insert("sophia-hubspot".into());
    }
    emu.fault(
        Fault::on("POST", "/v1/apps/sophia-slack/secrets", 1, FaultKind::Status { code: 429, retry_after: Some(1) })
            .exact(),
    );
    emu.fault(
        Fault::on(
            "POST",
            "/v1/apps/sophia-browser/machines/sophia-browser-m1",
            99,
            FaultKind::Status { code: 500, retry_after: None },
        )
        .exact(),
    );
    let ws = workspace();
    let out = run(&ws, &emu, &sophia_secrets_json(&[]));
    assert_eq!(out.code, 1);
    let report = out.report_json();
    let target = |id: &str| report["targets"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap().clone();
    assert_eq!(target("fly:notion")["status"], "failed");
    assert!(target("fly:notion")["message"].as_str().unwrap().contains("does not exist"));
    assert_eq!(target("fly:hubspot")["status"], "failed");
    assert_eq!(target("fly:slack")["status"], "synced");
    assert_eq!(writes(&emu, "sophia-slack"), 2, "429 then success");
    assert_eq!(target("fly:browser")["status"], "failed");
    let msg = target("fly:browser")["message"].as_str().unwrap().to_string();
    assert!(msg.contains("the update of the machines stopped: updating machine `sophia-browser-m1`"), "{msg}");
    assert!(
        msg.contains("On the new secrets: `sophia-browser-m0`. Left on their previous release: `sophia-browser-m1`"),
        "{msg}"
    );
    assert_eq!(target("fly:browser")["deployment"][0]["status"], "partial");
    assert_eq!(emu.state().fly.updates("sophia-browser"), 1);
    // A 500 may or may not have applied: the machine is read back, shows no
    // new version, and the update is sent once more — not four times.
    assert_eq!(emu.count_exact("POST", "/v1/apps/sophia-browser/machines/sophia-browser-m1"), 2);
    assert_eq!(emu.count_exact("GET", "/v1/apps/sophia-browser/machines/sophia-browser-m1"), 2);
    assert_eq!(emu.state().fly.leases("sophia-browser"), 0, "lease left behind");
    for id in ["fly:lambda", "fly:gong", "fly:orchestrator", "fly:dashboard", "esc:sophia-prod", "github:gh-infra"] {
        assert_eq!(target(id)["status"], "synced", "{id}");
    }
    for (_, app, _) in apps() {
        if let Some(a) = emu.state().fly.apps.get(&app) {
            assert_eq!(a.secrets[UNMANAGED.0].1, UNMANAGED.1, "{app}: an unmanaged key changed");
        }
    }
    snapshot_targets!("fly_faults", &out);
}

/// Two apps, three keys: small enough to count every request.
const SMALL: &str = r#"
version: 1
targets:
  fly:
    api: { app: acme-api }
    web: { app: acme-web }
secrets:
  DATABASE_URL: { to: [ { fly: api } ] }
  SESSION_SECRET: { to: [ { fly: api }, { fly: web } ] }
  MAILER_KEY: { to: [ { fly: web } ] }
"#;

fn small_values(session: &str) -> String {
    serde_json::json!({
        "DATABASE_URL": "postgres://app:pw-0c9f2e71a4@db.internal:5432/app",
        "SESSION_SECRET": session,
        "MAILER_KEY": "mk-5d1e0a7c3b9f4e2d8a6c",
    })
    .to_string()
}

const SESSION: &str = "session-secret-7a1c9e3f5b2d4a6c";

fn small(setup: impl FnOnce(&mut secret_sync_emulators::fly::Fly)) -> (Emulator, Workspace) {
    let emu = Emulator::start();
    {
        let mut st = emu.state();
        st.fly.tokens.insert(FLY_TOKEN.into());
        st.fly.add_app("acme-api", 2);
        st.fly.add_app("acme-web", 1);
        setup(&mut st.fly);
    }
    let ws = Workspace::new();
    ws.manifest_text(SMALL);
    (emu, ws)
}

fn run_small(ws: &Workspace, emu: &Emulator, secrets: &str) -> Output {
    let env = [
        ("FLY_FLAPS_BASE_URL", emu.url.as_str()),
        ("SECRET_SYNC_HTTP_BACKOFF_MS", "5"),
        ("SECRET_SYNC_HTTP_RETRIES", "2"),
    ];
    let out = ws.action(&[("mode", "sync"), ("secrets", secrets), ("fly-token", FLY_TOKEN)], &env);
    assert!(!out.everything_visible().contains(SESSION), "a value was shown");
    out
}

/// A 500 from Fly fails that app's target with the status and Fly's
/// `fly-request-id` in the report; the other app is synced.
#[test]
fn a_server_error_carries_its_status_and_request_id() {
    let (emu, ws) = small(|_| {});
    emu.fault(
        Fault::on("GET", "/v1/apps/acme-api/secrets", 99, FaultKind::Status { code: 500, retry_after: None }).exact(),
    );
    let out = run_small(&ws, &emu, &small_values(SESSION));
    assert_eq!(out.code, 1);
    let report = out.report_json();
    let target = |id: &str| report["targets"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap().clone();
    let api = target("fly:api");
    assert_eq!(api["status"], "failed");
    assert_eq!(api["http_status"], 500, "{api}");
    assert_eq!(api["request_id"], "emu-fault", "{api}");
    // The read, then two retries (SECRET_SYNC_HTTP_RETRIES=2); nothing written.
    assert_eq!(emu.count_exact("GET", "/v1/apps/acme-api/secrets"), 3);
    assert_eq!(emu.count_exact("POST", "/v1/apps/acme-api/secrets"), 0);
    assert_eq!(target("fly:web")["status"], "synced");
}

/// (c) Machines as flyctl treats them.
#[test]
fn stopped_and_standby_machines_get_skip_launch_and_others_are_left_alone() {
    let (emu, ws) = small(|fly| {
        for (id, kind) in [
            ("acme-api-stopped", Kind::App("stopped")),
            ("acme-api-suspended", Kind::App("suspended")),
            ("acme-api-standby", Kind::Standby),
            ("acme-api-release", Kind::ReleaseCommand),
            ("acme-api-console", Kind::Console),
            ("acme-api-bare", Kind::Unmanaged),
        ] {
            fly.add_machine("acme-api", id, kind);
        }
        // A slow boot: the wait endpoint answers 408 twice ("not yet").
        fly.apps.get_mut("acme-api").unwrap().machines[0].boot_waits = 2;
    });
    let out = run_small(&ws, &emu, &small_values(SESSION));
    assert_eq!(out.code, 0, "{}", out.summary);
    let v = emu.state().fly.apps["acme-api"].version;
    let mut want = rolled(&["acme-api-m0", "acme-api-m1"]);
    for id in ["acme-api-stopped", "acme-api-suspended", "acme-api-standby"] {
        want.push(("POST".into(), format!("/machines/{id}/lease")));
        want.push(("POST".into(), format!("/machines/{id}")));
        want.push(("DELETE".into(), format!("/machines/{id}/lease")));
    }
    want.push(("GET".into(), "/machines/acme-api-m0/wait".into()));
    want.push(("GET".into(), "/machines/acme-api-m0/wait".into()));
    want.sort();
    assert_eq!(requests(&emu, "acme-api"), want, "no wait for a machine not started; nothing for the others");
    let st = emu.state();
    let fly = &st.fly;
    for id in ["acme-api-m0", "acme-api-m1"] {
        assert_eq!(fly.machine("acme-api", id).updates, [Update { min_secrets_version: Some(v), skip_launch: false }]);
    }
    for (id, state) in
        [("acme-api-stopped", "stopped"), ("acme-api-suspended", "suspended"), ("acme-api-standby", "stopped")]
    {
        let m = fly.machine("acme-api", id);
        assert_eq!(m.updates, [Update { min_secrets_version: Some(v), skip_launch: true }], "{id}");
        assert_eq!(m.state, state, "{id} was woken");
    }
    for id in ["acme-api-release", "acme-api-console", "acme-api-bare", "acme-api-old"] {
        assert!(fly.machine("acme-api", id).updates.is_empty(), "{id} was touched");
    }
    assert_eq!((fly.leases("acme-api"), fly.leases("acme-web")), (0, 0));
    drop(st);
    assert_eq!(requests(&emu, "acme-web"), rolled(&["acme-web-m0"]));
    insta::assert_snapshot!("fly_machine_kinds__summary", out.summary);
}

/// (d) Lost answers: to a lease, to a machine update, to secrets writes.
#[test]
fn lost_answers_apply_nothing_twice_and_leave_no_lease() {
    let (emu, ws) = small(|_| {});
    let lost = |method: &'static str, path: &str| Fault::on(method, path, 1, FaultKind::Lost).exact();
    emu.fault(lost("POST", "/v1/apps/acme-api/machines/acme-api-m0/lease"));
    emu.fault(lost("POST", "/v1/apps/acme-api/machines/acme-api-m1"));
    emu.fault(lost("POST", "/v1/apps/acme-web/secrets"));
    let out = run_small(&ws, &emu, &small_values(SESSION));
    assert_eq!(out.code, 0, "{}", out.summary);
    let st = emu.state();
    let v = st.fly.apps["acme-api"].version;
    for id in ["acme-api-m0", "acme-api-m1"] {
        assert_eq!(
            st.fly.machine("acme-api", id).updates,
            [Update { min_secrets_version: Some(v), skip_launch: false }]
        );
    }
    assert_eq!((st.fly.leases("acme-api"), st.fly.leases("acme-web")), (0, 0), "a lease was left held");
    // The web app's write landed; the re-read shows it (a key appeared),
    // and flyctl's version probe gives the version for its machine.
    let web_version = st.fly.apps["acme-web"].version;
    assert_eq!(st.fly.machine("acme-web", "acme-web-m0").updates[0].min_secrets_version, Some(web_version));
    drop(st);
    let mut want = rolled(&["acme-api-m0", "acme-api-m1"]);
    want.push(("GET".into(), "/machines/acme-api-m0/lease".into()));
    want.push(("GET".into(), "/machines/acme-api-m1".into()));
    want.sort();
    assert_eq!(requests(&emu, "acme-api"), want, "one lease and one update per machine, then a read");
    let mut want = rolled(&["acme-web-m0"]);
    want.push(("GET".into(), "/secrets".into()));
    want.push(("POST".into(), "/secrets".into()));
    want.sort();
    assert_eq!(requests(&emu, "acme-web"), want, "the write, a re-read, the version probe");
    assert_eq!(emu.state().fly.apps["acme-web"].secrets.len(), 2, "the probe left no key behind");
    insta::assert_snapshot!("fly_lost_answers__summary", out.summary);

    // A lost answer the secrets cannot explain (nothing to create, digests
    // unmoved): the same values are written once more, and that answer
    // proves them unchanged. No machine is touched.
    emu.clear_log();
    emu.fault(lost("POST", "/v1/apps/acme-api/secrets"));
    let out = run_small(&ws, &emu, &small_values(SESSION));
    assert_eq!(out.code, 0, "{}", out.summary);
    let twice = vec![
        ("GET".to_string(), "/secrets".to_string()),
        ("GET".into(), "/secrets".into()),
        ("POST".into(), "/secrets".into()),
        ("POST".into(), "/secrets".into()),
    ];
    assert_eq!(requests(&emu, "acme-api"), twice);
    assert_eq!(requests(&emu, "acme-web"), read_and_write());
    assert!(out.summary.contains("the write proved all 2 present key(s) unchanged"), "{}", out.summary);
}

/// (e) A legacy app whose MD5 digests match is not written at all; an app
/// whose write answer lacks digests is read again at the written version.
#[test]
fn legacy_md5_digests_prove_unchanged_and_a_write_without_digests_is_read_back() {
    let (emu, ws) = small(|fly| {
        fly.set("acme-web", "SESSION_SECRET", SESSION);
        fly.set("acme-web", "MAILER_KEY", "mk-5d1e0a7c3b9f4e2d8a6c");
        fly.set_legacy("acme-web");
        fly.set("acme-api", "SESSION_SECRET", SESSION);
        fly.set("acme-api", "DATABASE_URL", "postgres://app:pw-0c9f2e71a4@db.internal:5432/app");
        fly.apps.get_mut("acme-api").unwrap().answer_digests = false;
    });
    let out = run_small(&ws, &emu, &small_values(SESSION));
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(requests(&emu, "acme-web"), [("GET".to_string(), "/secrets".to_string())], "no write at all");
    let want = vec![
        ("GET".to_string(), "/secrets".to_string()),
        ("GET".into(), "/secrets".into()),
        ("POST".into(), "/secrets".into()),
    ];
    assert_eq!(requests(&emu, "acme-api"), want, "read, write, read back; no machine");
    let report = out.report_json();
    let target = |id: &str| report["targets"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap().clone();
    assert_eq!(target("fly:web")["written"], false);
    assert_eq!(target("fly:web")["status"], "unchanged");
    assert_eq!(target("fly:api")["written"], true);
    assert_eq!(target("fly:api")["status"], "unchanged");
    insta::assert_snapshot!("fly_legacy__summary", out.summary);

    // A changed value on the legacy app: its MD5 no longer matches, so it is
    // written and its machines get it.
    emu.clear_log();
    let out = run_small(&ws, &emu, &small_values("session-secret-rotated-00000001"));
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(requests(&emu, "acme-web"), rolled(&["acme-web-m0"]));
    let mut want = rolled(&["acme-api-m0", "acme-api-m1"]);
    want.push(("GET".into(), "/secrets".into()));
    want.sort();
    assert_eq!(requests(&emu, "acme-api"), want);
}

/// Fly counts its rate limit per action and per Machine (or app): a
/// nine-Machine app is rolled with no Machine seeing more than three calls of
/// one action in any second, and each Machine gets exactly one lease, one
/// update, one wait and one release.
#[test]
fn machines_are_paced_per_machine_and_action() {
    let (emu, ws) = small(|fly| {
        fly.apps.remove("acme-api");
        fly.add_app("acme-api", 9);
    });
    let out = run_small(&ws, &emu, &small_values(SESSION));
    assert_eq!(out.code, 0, "{}", out.summary);
    let log = emu.log();
    let mut calls: std::collections::BTreeMap<(String, String), Vec<std::time::Instant>> = Default::default();
    for l in log.iter().filter(|l| l.path.starts_with("/v1/apps/acme-api/machines/")) {
        let rest = l.path.trim_start_matches("/v1/apps/acme-api/machines/");
        let (machine, action) = rest.split_once('/').unwrap_or((rest, ""));
        calls.entry((machine.to_string(), format!("{} {action}", l.method))).or_default().push(l.at);
    }
    let machines: std::collections::BTreeSet<&str> = calls.keys().map(|(m, _)| m.as_str()).collect();
    assert_eq!(machines.len(), 9, "{calls:?}");
    for ((machine, action), times) in &calls {
        for (i, t) in times.iter().enumerate() {
            let within = times[i..].iter().filter(|u| u.duration_since(*t) < std::time::Duration::from_secs(1)).count();
            assert!(within <= 3, "{machine}: {within} `{action}` calls within a second");
        }
    }
    for m in &machines {
        for action in ["POST lease", "POST ", "GET wait", "DELETE lease"] {
            assert_eq!(calls[&(m.to_string(), action.to_string())].len(), 1, "{m}: {action}");
        }
    }
}
