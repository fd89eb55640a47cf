//! Fly.io target, end to end, on the Sophia example's eight apps: the binary
//! runs as an action against the Fly (and ESC) emulator. Request counts are
//! exact.

use secret_sync::manifest::{TargetKind, TargetSpec};
use secret_sync_emulators::{Emulator, Fault, FaultKind};

use crate::action::sophia_secrets_json;
use crate::harness::{repo, Output, Workspace};

const ESC_TOKEN: &str = "pul-fly-e2e-esc-token-000000";
const FLY_TOKEN: &str = "fm2_flyE2eMacaroonToken00000000";
const GH_TOKEN: &str = "ghp_flyE2eGithubToken000000000000000";
const UNMANAGED: (&str, &str) = ("FLY_POSTGRES_PRIMARY", "set-by-fly-postgres-attach");

/// Fly targets of the Sophia example: (target name, app, restart?).
fn apps() -> Vec<(String, String, bool)> {
    let m = secret_sync::manifest::load(&repo().join("examples/sophia/secret-sync.yml"), "m").unwrap();
    m.targets
        .iter()
        .filter_map(|t| match &t.spec {
            TargetSpec::Fly { app, deploy } => {
                Some((t.name.clone(), app.clone(), *deploy == secret_sync::manifest::Deploy::Restart))
            }
            _ => None,
        })
        .collect()
}

/// Apps a secret is routed to (by target name → app).
fn apps_of(secret: &str) -> Vec<String> {
    let m = secret_sync::manifest::load(&repo().join("examples/sophia/secret-sync.yml"), "m").unwrap();
    let s = m.secrets.iter().find(|s| s.name == secret).unwrap();
    s.routes
        .iter()
        .filter(|r| r.kind == TargetKind::Fly)
        .filter_map(|r| match &m.target(TargetKind::Fly, &r.target)?.spec {
            TargetSpec::Fly { app, .. } => Some(app.clone()),
            _ => None,
        })
        .collect()
}

fn emulator() -> Emulator {
    let emu = Emulator::start();
    {
        let mut st = emu.state();
        st.esc.tokens.insert(ESC_TOKEN.into());
        st.esc.seed("ai-cherry/sophia/production", "values: {}\n");
        st.fly.tokens.insert(FLY_TOKEN.into());
        // The example's GitHub targets, so every target of the run has a home.
        st.github.tokens.insert(GH_TOKEN.into());
        st.github.orgs.entry("ai-cherry".into()).or_default();
        st.github.add_repo("ai-cherry/sophia");
        st.github.add_repo("ai-cherry/sophia-infra");
        st.github.add_env("ai-cherry/sophia-dashboard", "production");
        for (_, app, _) in apps() {
            st.fly.add_app(&app, 2);
            st.fly.set(&app, UNMANAGED.0, UNMANAGED.1);
        }
    }
    emu
}

fn run(ws: &Workspace, emu: &Emulator, secrets: &str) -> Output {
    let inputs = [
        ("mode", "sync"),
        ("environment", "production"),
        ("secrets", secrets),
        ("esc-api-url", emu.url.as_str()),
        ("esc-token", ESC_TOKEN),
        ("fly-token", FLY_TOKEN),
        ("github-token", GH_TOKEN),
    ];
    let env = [
        ("GITHUB_API_URL", emu.url.as_str()),
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

#[test]
fn first_sync_then_nothing_then_one_key() {
    let emu = emulator();
    let ws = workspace();
    let json = sophia_secrets_json(&[]);

    let out = run(&ws, &emu, &json);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(emu.count_exact("POST", "/graphql"), 8, "one read per app");
    let version_of = |app: &str| emu.state().fly.apps[app].version;
    for (name, app, restart) in apps() {
        assert_eq!(writes(&emu, &app), 1, "{name}: one write");
        let (lists, updates) =
            (emu.count_exact("GET", &format!("/v1/apps/{app}/machines")), emu.state().fly.updates(&app));
        if restart {
            assert_eq!((lists, updates), (1, 2), "{name}: one update per running machine");
            let v = version_of(&app);
            let st = emu.state();
            for m in st.fly.apps[&app].machines.iter().filter(|m| m.state == "started") {
                assert_eq!(m.updates, [Some(v)], "{name}: machine {} got min_secrets_version", m.id);
                assert!(m.lease.is_none(), "lease left behind");
            }
        } else {
            assert_eq!((lists, updates), (0, 0), "{name}: `deploy: stage` restarts nothing");
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
    snapshot("fly_first_sync", &out);

    // Identical second run: reads only.
    emu.clear_log();
    let out = run(&ws, &emu, &json);
    assert_eq!(out.code, 0);
    assert_eq!(emu.count_exact("POST", "/graphql"), 8);
    assert_eq!(emu.count("POST", "/v1/"), 0, "no write, lease or machine update");
    assert_eq!(emu.count("GET", "/v1/"), 0);
    snapshot("fly_unchanged", &out);

    // One changed key: written and restarted only where it is routed.
    let routed = apps_of("GONG_ACCESS_KEY");
    assert_eq!(routed, ["sophia-gong"]);
    let before: Vec<usize> = apps().iter().map(|(_, a, _)| emu.state().fly.updates(a)).collect();
    emu.clear_log();
    let out = run(&ws, &emu, &sophia_secrets_json(&[("PROD_GONG_ACCESS_KEY", "gong-rotated-access-key-0002")]));
    assert_eq!(out.code, 0, "{}", out.summary);
    for (i, (_, app, _)) in apps().iter().enumerate() {
        let n = usize::from(routed.contains(app));
        assert_eq!(writes(&emu, app), n, "{app}");
        assert_eq!(emu.state().fly.updates(app) - before[i], 2 * n, "{app}");
    }
    assert_eq!(emu.state().fly.apps["sophia-gong"].secrets["GONG_ACCESS_KEY"].1, "gong-rotated-access-key-0002");
    snapshot("fly_one_key", &out);
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
    assert!(target("fly:browser")["message"].as_str().unwrap().contains("stopped after 1 machine(s)"));
    assert_eq!(emu.state().fly.updates("sophia-browser"), 1);
    assert!(emu.state().fly.apps["sophia-browser"].machines.iter().all(|m| m.lease.is_none()), "lease left behind");
    for id in ["fly:lambda", "fly:gong", "fly:orchestrator", "fly:dashboard", "esc:sophia-prod", "github:gh-infra"] {
        assert_eq!(target(id)["status"], "synced", "{id}");
    }
    for (_, app, _) in apps() {
        if let Some(a) = emu.state().fly.apps.get(&app) {
            assert_eq!(a.secrets[UNMANAGED.0].1, UNMANAGED.1, "{app}: an unmanaged key changed");
        }
    }
    snapshot("fly_faults", &out);
}

#[test]
fn pruning_only_deletes_keys_the_manifest_names() {
    let emu = emulator();
    let ws = workspace();
    // OPENAI_API_KEY lingers on the dashboard, which the manifest does not route it to.
    emu.state().fly.set("sophia-dashboard", "OPENAI_API_KEY", "sk-proj-stale");
    assert_eq!(run(&ws, &emu, &sophia_secrets_json(&[])).code, 0);
    assert!(emu.state().fly.apps["sophia-dashboard"].secrets.contains_key("OPENAI_API_KEY"), "deleted without prune");
    let inputs = [
        ("mode", "sync"),
        ("environment", "production"),
        ("secrets", &sophia_secrets_json(&[])),
        ("fly-token", FLY_TOKEN),
        ("esc-api-url", &emu.url),
        ("esc-token", ESC_TOKEN),
        ("github-token", GH_TOKEN),
        ("prune", "true"),
    ];
    let env = [
        ("GITHUB_API_URL", emu.url.as_str()),
        ("FLY_API_BASE_URL", emu.url.as_str()),
        ("FLY_FLAPS_BASE_URL", emu.url.as_str()),
    ];
    let out = ws.action(&inputs, &env);
    assert_eq!(out.code, 0, "{}", out.summary);
    let st = emu.state();
    assert!(!st.fly.apps["sophia-dashboard"].secrets.contains_key("OPENAI_API_KEY"));
    assert_eq!(st.fly.apps["sophia-dashboard"].secrets[UNMANAGED.0].1, UNMANAGED.1);
}

fn snapshot(name: &str, out: &Output) {
    insta::assert_snapshot!(format!("{name}__summary"), out.summary);
    insta::assert_json_snapshot!(format!("{name}__report"), out.report_json(), { ".tool.version" => "[version]" });
}
