//! The GitHub side, end to end against the GitHub emulator: rotation age and
//! drift from org metadata, GitHub secrets as a target, `init`.

use secret_sync_emulators::{Emulator, Fault, FaultKind};

use crate::harness::{cli, repo, Output, Workspace};

const FULL: &str = "ghp_e2eFullAccessToken0000000000000000";
const REPO_ONLY: &str = "ghs_e2eRepoOnlyJobToken000000000000000";
const OPENAI: &str = "sk-proj-githubE2eOpenAiKey000000000001";
const DB: &str = "postgres://app:gh-e2e-password@db.internal:5432/app";
const JWT: &str = "jwt-secret-for-the-github-e2e-test-0000000001";

fn emulator() -> Emulator {
    let emu = Emulator::start();
    {
        let mut st = emu.state();
        let gh = &mut st.github;
        gh.tokens.insert(FULL.into());
        gh.repo_only_tokens.insert(REPO_ONLY.into());
        // Ages spread across the classes (now = 2026-11-23T11:40:00Z).
        gh.org_secret("acme", "OPENAI_API_KEY", "2026-11-01T09:00:00Z", "all"); // 90d: healthy
        gh.org_secret("acme", "DATABASE_URL", "2026-05-30T12:00:00Z", "all"); // 180d: due 11-26, expiring
        gh.org_secret("acme", "JWT_SECRET", "2025-01-01T00:00:00Z", "all"); // 365d: expired
        gh.org_secret("acme", "PRIVATE_ONLY_KEY", "2026-10-01T00:00:00Z", "selected"); // not visible here
        for i in 0..246 {
            gh.org_secret("acme", &format!("LEGACY_KEY_{i:03}"), "2026-01-01T00:00:00Z", "all");
            // unmanaged
        }
        gh.add_repo("ai-cherry/sophia");
        gh.add_repo("acme/site");
        gh.add_env("acme/site", "production");
        gh.repo_secret("acme/site", "HAND_MADE", "2026-02-02T00:00:00Z"); // at the target, not routed
    }
    emu
}

fn secrets() -> String {
    serde_json::json!({ "github_token": REPO_ONLY, "OPENAI_API_KEY": OPENAI, "DATABASE_URL": DB, "JWT_SECRET": JWT })
        .to_string()
}

fn run(ws: &Workspace, emu: &Emulator, token: &str, mode: &str) -> Output {
    let inputs = [("mode", mode), ("secrets", &secrets()), ("github-token", token), ("github-org", "acme")];
    let env = [
        ("GITHUB_API_URL", emu.url.as_str()),
        ("SECRET_SYNC_TEST_CLOCK", emu.url.as_str()),
        ("SECRET_SYNC_HTTP_BACKOFF_MS", "5"),
        ("SECRET_SYNC_HTTP_RETRIES", "2"),
    ];
    let out = ws.action(&inputs, &env);
    let shown = out.everything_visible();
    for v in [FULL, REPO_ONLY, OPENAI, DB, JWT] {
        assert!(!shown.contains(v), "a value or token was shown");
    }
    // Sealed boxes are never printed either.
    assert!(!shown.contains("encrypted_value"));
    out
}

fn workspace() -> Workspace {
    let ws = Workspace::new();
    ws.manifest_from(&repo().join("tests/fixtures/github-manifest.yml"));
    ws
}

#[test]
fn rotation_drift_and_a_github_target() {
    let emu = emulator();
    let ws = workspace();
    let out = run(&ws, &emu, FULL, "sync");
    assert_eq!(out.code, 0, "{}", out.summary);

    // 250 org secrets over 3 pages of 100; then this repository's secrets.
    assert_eq!(emu.count_exact("GET", "/orgs/acme/actions/secrets"), 3);
    assert_eq!(emu.count_exact("GET", "/repos/ai-cherry/sophia/actions/secrets"), 1);
    // Each target: one list, one public key, one PUT per created key.
    assert_eq!(emu.count_exact("GET", "/repos/acme/site/actions/secrets"), 1);
    assert_eq!(emu.count_exact("GET", "/repos/acme/site/actions/secrets/public-key"), 1);
    assert_eq!(emu.count_exact("PUT", "/repos/acme/site/actions/secrets/OPENAI_KEY"), 1);
    assert_eq!(emu.count_exact("GET", "/repos/acme/site/environments/production/secrets/public-key"), 1);
    assert_eq!(emu.count_exact("PUT", "/repos/acme/site/environments/production/secrets/DATABASE_URL"), 1);
    assert_eq!(emu.count("PUT", "/"), 2);
    // The values decrypt, in the emulator, to what was handed in.
    {
        let st = emu.state();
        assert_eq!(st.github.get("acme/site", "OPENAI_KEY").unwrap().value.as_deref(), Some(OPENAI));
        assert_eq!(st.github.get("acme/site:production", "DATABASE_URL").unwrap().value.as_deref(), Some(DB));
    }

    let report = out.report_json();
    let gh = &report["github"];
    let class =
        |s: &str| gh["rotation"].as_array().unwrap().iter().find(|r| r["secret"] == s).unwrap()["status"].clone();
    assert_eq!(class("OPENAI_API_KEY"), "healthy");
    assert_eq!(class("DATABASE_URL"), "expiring");
    assert_eq!(class("JWT_SECRET"), "expired");
    let drift = &gh["drift"];
    assert_eq!(drift["declared_absent"], serde_json::json!(["NEVER_CREATED_KEY"]));
    assert_eq!(drift["unmanaged"].as_array().unwrap().len(), 246);
    assert_eq!(drift["not_visible"][0]["secret"], "PRIVATE_ONLY_KEY");
    assert_eq!(drift["coverage_percent"], 1);
    let site = report["targets"].as_array().unwrap().iter().find(|t| t["id"] == "github:site").unwrap();
    assert_eq!(site["unrouted"], serde_json::json!(["HAND_MADE"]));
    snapshot_targets!("github_first_sync", &out);

    // Identical second run: lists only, no key fetch, no PUT.
    emu.clear_log();
    let out = run(&ws, &emu, FULL, "sync");
    assert_eq!(out.code, 0);
    assert_eq!(emu.count("PUT", "/"), 0);
    assert_eq!(emu.count("GET", "public-key"), 0);
    assert_eq!(emu.count_exact("GET", "/repos/acme/site/actions/secrets"), 1);

    // The source changes after the target's copy: exactly that key is rewritten.
    emu.state().github.org_secret("acme", "OPENAI_API_KEY", "2026-11-23T12:00:00Z", "all");
    emu.state().github.now = "2026-11-23T12:05:00Z".into();
    emu.clear_log();
    let out = run(&ws, &emu, FULL, "sync");
    assert_eq!(out.code, 0);
    assert_eq!(emu.count("PUT", "/"), 1);
    assert_eq!(emu.count_exact("PUT", "/repos/acme/site/actions/secrets/OPENAI_KEY"), 1);
}

#[test]
fn a_job_token_without_org_access_warns_and_the_run_goes_on() {
    let emu = emulator();
    let ws = workspace();
    let out = run(&ws, &emu, REPO_ONLY, "sync");
    assert_eq!(out.code, 0, "{}", out.summary);
    let report = out.report_json();
    assert_eq!(report["github"]["status"], "unavailable");
    assert!(report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["kind"] == "metadata-unavailable" && f["severity"] == "warning"));
    // Validation and the targets still ran.
    assert_eq!(report["counts"]["errors"], 0);
    assert_eq!(emu.count("PUT", "/repos/acme/site/"), 2);
    snapshot_targets!("github_no_org_access", &out);
}

#[test]
fn secondary_rate_limits_are_waited_out() {
    let emu = emulator();
    let ws = workspace();
    emu.fault(
        Fault::on(
            "PUT",
            "/repos/acme/site/actions/secrets/OPENAI_KEY",
            1,
            FaultKind::Status { code: 403, retry_after: Some(1) },
        )
        .exact(),
    );
    let out = run(&ws, &emu, FULL, "sync");
    assert_eq!(out.code, 0, "{}", out.summary);
    let puts: Vec<_> =
        emu.log().into_iter().filter(|l| l.path == "/repos/acme/site/actions/secrets/OPENAI_KEY").collect();
    assert_eq!(puts.len(), 2);
    // By the test clock: the retry came at least the second GitHub asked for after the refusal.
    assert!(puts[1].clock_ms >= puts[0].end_clock_ms.unwrap() + 1000, "Retry-After was not honoured: {puts:?}");
}

#[test]
fn init_writes_a_manifest_that_checks_and_validates_against_the_schema() {
    let emu = Emulator::start();
    {
        let mut st = emu.state();
        st.github.tokens.insert(FULL.into());
        for n in [
            "PROD_OPENAI_API_KEY",
            "STAGING_OPENAI_API_KEY",
            "PROD_DATABASE_URL",
            "SLACK_BOT_TOKEN",
            "SENTRY_DSN",
            "FLY_API_TOKEN",
            "JWT_SECRET",
        ] {
            st.github.org_secret("acme", n, "2026-01-01T00:00:00Z", "all");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(crate::harness::BIN)
        .args(["init", "--org", "acme", "-o", "secret-sync.yml"])
        .current_dir(dir.path())
        .env_clear()
        .env("GITHUB_TOKEN", FULL)
        .env("GITHUB_API_URL", &emu.url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(dir.path().join("secret-sync.yml")).unwrap();
    insta::assert_snapshot!(text);
    let check = cli(&["check-manifest", "-m", "secret-sync.yml"], dir.path());
    assert_eq!(check.code, 0, "{}", check.stderr);
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("schema/secret-sync.schema.json")).unwrap()).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    assert!(v.is_valid(&serde_json::to_value(doc).unwrap()));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(FULL) && !String::from_utf8_lossy(&out.stderr).contains(FULL)
    );
}

/// The org's metadata is read while the targets run: a GitHub target lists
/// its secrets at once, and only its plan waits for the sources' ages. With
/// the first org page held back, the target's list arrives before the rest of
/// the metadata, and its write after all of it.
#[test]
fn the_metadata_read_overlaps_the_targets() {
    let emu = emulator();
    emu.fault(
        Fault::on("GET", "/orgs/acme/actions/secrets", 1, FaultKind::Delay(std::time::Duration::from_millis(600)))
            .exact(),
    );
    let ws = workspace();
    let out = run(&ws, &emu, FULL, "sync");
    assert_eq!(out.code, 0, "{}", out.summary);
    let log = emu.log();
    let at = |method: &str, path: &str| {
        log.iter().position(|l| l.method == method && l.path == path).unwrap_or_else(|| panic!("{method} {path}"))
    };
    let target_list = at("GET", "/repos/acme/site/actions/secrets");
    let repo_metadata = at("GET", "/repos/ai-cherry/sophia/actions/secrets");
    let first_write = at("PUT", "/repos/acme/site/actions/secrets/OPENAI_KEY");
    assert!(target_list < repo_metadata, "the target waited for the metadata before reading: {log:?}");
    assert!(repo_metadata < first_write, "the target wrote before the sources' ages were known: {log:?}");
    // The pages after the first: each read once.
    assert_eq!(emu.count_exact("GET", "/orgs/acme/actions/secrets"), 3);
}
