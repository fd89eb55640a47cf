//! The container contract: the shipped binary (release, built without the
//! emulators) run exactly as the runner runs a container action — workspace
//! as the working directory, every `GITHUB_*`/`RUNNER_*` variable and
//! file-command path, every input as `INPUT_<NAME>` with hyphens kept and
//! defaults applied, the `toJSON(secrets)` payload with `github_token`, OIDC
//! and artifact variables — against all the emulators at once.
//!
//! `.ci/run` builds that binary and runs this with
//! `SECRET_SYNC_CONTRACT_BIN=target/release/secret-sync cargo test --test e2e contract -- --ignored`.

use secret_sync_emulators::esc::OIDC_PATH;
use secret_sync_emulators::Emulator;

use crate::action::sophia_secrets_json;
use crate::harness::{repo, Workspace};

#[test]
#[ignore = "needs the release binary: run by .ci/run"]
fn shipped_binary_runs_as_the_runner_runs_it() {
    let bin = std::env::var("SECRET_SYNC_CONTRACT_BIN").expect("SECRET_SYNC_CONTRACT_BIN: the shipped binary to test");
    let bin = repo().join(bin).display().to_string();
    let help = std::process::Command::new(&bin).arg("--help").output().unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains("demo"), "the shipped binary must not carry the emulators");

    let emu = Emulator::start();
    let runtime = format!(
        "e30.{}.sig",
        secret_sync::util::b64(br#"{"scp":"Actions.Results:run-1:job-1"}"#).trim_end_matches('=')
    );
    {
        let mut st = emu.state();
        st.esc.oidc_request_token = Some("runner-oidc-request-token".into());
        st.esc.oidc_orgs.insert("ai-cherry".into());
        st.esc.seed("ai-cherry/sophia/production", "values: {}\n");
        st.fly.tokens.insert("fm2_contractFlyToken000000".into());
        for app in [
            "sophiaai-mcp-lambda-v2",
            "sophia-gong",
            "sophia-hubspot",
            "sophia-slack",
            "sophia-notion",
            "sophia-browser",
            "sophia-orchestrator",
            "sophia-dashboard",
        ] {
            st.fly.add_app(app, 1);
        }
        st.github.tokens.insert("ghp_contractGithubToken0000000".into());
        st.github.orgs.entry("ai-cherry".into()).or_default();
        st.github.add_repo("ai-cherry/sophia");
        st.github.add_repo("ai-cherry/sophia-infra");
        st.github.add_env("ai-cherry/sophia-dashboard", "production");
        st.results.runtime_token = Some(runtime.clone());
    }
    let ws = Workspace::new();
    ws.manifest_from(&repo().join("examples/sophia/secret-sync.yml"));
    let home = ws.dir.path().join("home");
    let event = ws.dir.path().join("workflow/event.json");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(event.parent().unwrap()).unwrap();
    std::fs::write(&event, r#"{"inputs":{"mode":"sync","environment":"production"}}"#).unwrap();
    let oidc = format!("{}{OIDC_PATH}?api-version=2.0", emu.url);
    let results = format!("{}/", emu.url);
    let (home, event) = (home.display().to_string(), event.display().to_string());
    let env = [
        ("HOME", home.as_str()),
        ("GITHUB_EVENT_PATH", event.as_str()),
        ("GITHUB_API_URL", emu.url.as_str()),
        ("SECRET_SYNC_TEST_CLOCK", emu.url.as_str()),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY_OWNER", "ai-cherry"),
        ("GITHUB_ACTOR", "octocat"),
        ("GITHUB_RETENTION_DAYS", "90"),
        ("RUNNER_OS", "Linux"),
        ("RUNNER_ARCH", "X64"),
        ("RUNNER_NAME", "GitHub Actions 2"),
        ("ACTIONS_RUNTIME_URL", results.as_str()),
        ("ACTIONS_RESULTS_URL", results.as_str()),
        ("ACTIONS_RUNTIME_TOKEN", runtime.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", oidc.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-oidc-request-token"),
        ("FLY_API_BASE_URL", emu.url.as_str()),
        ("FLY_FLAPS_BASE_URL", emu.url.as_str()),
        ("PULUMI_BACKEND_URL", emu.url.as_str()),
    ];
    let json = sophia_secrets_json(&[]);
    let inputs = [
        ("mode", "sync"),
        ("environment", "production"),
        ("secrets", json.as_str()),
        ("fly-token", "fm2_contractFlyToken000000"),
        // What the runner makes of the `${{ github.token }}` default.
        ("github-token", "ghp_contractGithubToken0000000"),
    ];
    let out = ws.action_bin(&bin, &inputs, &env);
    assert_eq!(out.code, 0, "stdout:\n{}\nstderr:\n{}", out.stdout_unmasked(), out.stderr);

    // Masks come first; nothing else shows a value or a token.
    let lines: Vec<&str> = out.stdout.lines().collect();
    let first_other = lines.iter().position(|l| !l.starts_with("::add-mask::")).unwrap_or(lines.len());
    let late_masks: Vec<&&str> = lines[first_other..].iter().filter(|l| l.starts_with("::add-mask::")).collect();
    assert!(
        late_masks.iter().all(|l| l.starts_with("::add-mask::pul-oidc") || l.starts_with("::add-mask::eyJ")),
        "only tokens obtained during the run are masked after the first output"
    );
    let visible = out.everything_visible();
    let values: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&json).unwrap();
    for v in values.values().filter_map(|v| v.as_str()).filter(|v| v.len() >= 8) {
        assert!(!visible.contains(v), "a value was shown");
    }
    for t in ["fm2_contractFlyToken000000", "ghp_contractGithubToken0000000", "runner-oidc-request-token"] {
        assert!(!visible.contains(t), "a token was shown");
    }
    // Every target synced; the report went to RUNNER_TEMP and to an artifact.
    let report = out.report_json();
    for t in report["targets"].as_array().unwrap().iter().filter(|t| t["status"] != "skipped") {
        assert_eq!(t["status"], "synced", "{}: {}", t["id"], t["message"]);
    }
    assert!(out.summary.starts_with("## secret-sync · `production` · sync"));
    assert!(out.outputs.contains("status<<ghadelimiter_PID_0\nok\n"));
    assert!(emu.state().results.newest("secret-sync-report").is_some(), "artifact not finalized");
    assert_eq!(emu.count("POST", "/api/oauth/token"), 1, "OIDC exchange");
}
