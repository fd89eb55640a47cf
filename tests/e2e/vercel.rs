//! Vercel project environment variables, end to end: the binary runs as an
//! action against the Vercel emulator (and the results service, for the
//! state record). Request counts are exact; the emulator's clock is the
//! run's, so a redeploy's build takes no real time.

use secret_sync_emulators::vercel::RateLimit;
use secret_sync_emulators::{Emulator, Fault, FaultKind};

use crate::harness::{Output, Workspace};
use crate::state::{record, runtime_token, JOB_TOKEN, REPO, REPO_ID, STATE_KEY};

const TOKEN: &str = "vercel-e2e-token-7c1e9a3f5b2d4e6a";
const TEAM: &str = "team_e2e000000000000000000";
const WEB: &str = "prj_web00000000000000000000";
const DOCS: &str = "prj_docs0000000000000000000";

const MANIFEST: &str = r#"
version: 1
environments:
  production: { source_prefix: PROD_ }
targets:
  vercel:
    web: { environment: production, project: web, team: team_e2e000000000000000000, targets: [production, preview] }
    docs: { environment: production, project: docs, team: acme }
secrets:
  OPENAI_API_KEY: { to: [ { vercel: [web, docs] } ] }
  DATABASE_URL: { to: [ { vercel: web } ] }
  SESSION_SECRET: { to: [ { vercel: web, as: NEXTAUTH_SECRET } ] }
"#;

const OPENAI: &str = "sk-proj-vercel-e2e-openai-key-0001";
const DATABASE_URL: &str = "postgres://app:pw-vercel-e2e-9f1c@db.internal:5432/app";
const SESSION: &str = "nextauth-secret-vercel-e2e-4a6c";
const HAND_SET: &str = "set-in-the-dashboard-by-hand";

fn values(openai: &str) -> String {
    serde_json::json!({ "PROD_OPENAI_API_KEY": openai, "PROD_DATABASE_URL": DATABASE_URL, "PROD_SESSION_SECRET": SESSION })
        .to_string()
}

fn emulator() -> Emulator {
    let emu = Emulator::start();
    {
        let mut st = emu.state();
        st.vercel.seed_project(TOKEN, TEAM, "acme", WEB, "web");
        st.vercel.add_project(Some(TEAM), DOCS, "docs");
        st.vercel.add_production(DOCS);
        // Set by hand in web's production and preview: never secret-sync's.
        st.vercel.set_env(WEB, "ANALYTICS_ID", HAND_SET, "encrypted", &["production", "preview"]);
        // The state record lives in the run's artifacts.
        st.github.repo_only_tokens.insert(JOB_TOKEN.into());
        st.github.add_repo(REPO);
        st.results.repository = Some(REPO.into());
        st.results.repository_id = REPO_ID;
    }
    emu
}

fn workspace(manifest: &str) -> Workspace {
    let ws = Workspace::new();
    ws.manifest_text(manifest);
    ws
}

/// Run `n`: a sync with the state record, `extra` inputs on top.
fn sync(emu: &Emulator, ws: &Workspace, n: u32, openai: &str, extra: &[(&str, &str)]) -> Output {
    let runtime = runtime_token(n);
    emu.state().results.runtime_token = Some(runtime.clone());
    let results = format!("{}/", emu.url);
    let secrets = values(openai);
    let mut inputs = vec![
        ("mode", "sync"),
        ("secrets", secrets.as_str()),
        ("vercel-token", TOKEN),
        ("state-token", JOB_TOKEN),
        ("state-key", STATE_KEY),
        ("upload-artifact", "false"),
    ];
    for (k, v) in extra {
        inputs.retain(|(x, _)| x != k);
        inputs.push((k, v));
    }
    let repo_id = REPO_ID.to_string();
    let env = [
        ("SECRET_SYNC_VERCEL_API_URL", emu.url.as_str()),
        ("GITHUB_API_URL", emu.url.as_str()),
        ("SECRET_SYNC_TEST_CLOCK", emu.url.as_str()),
        ("ACTIONS_RUNTIME_TOKEN", runtime.as_str()),
        ("ACTIONS_RESULTS_URL", results.as_str()),
        ("GITHUB_REPOSITORY_ID", repo_id.as_str()),
        ("SECRET_SYNC_HTTP_BACKOFF_MS", "1"),
        ("SECRET_SYNC_HTTP_RETRIES", "1"),
    ];
    emu.clear_log();
    let out = ws.action(&inputs, &env);
    let shown = out.everything_visible();
    for secret in [TOKEN, STATE_KEY, JOB_TOKEN, openai, DATABASE_URL, SESSION] {
        assert!(!shown.contains(secret), "run {n}: a value or token was shown");
    }
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    out
}

fn target(out: &Output, id: &str) -> serde_json::Value {
    out.report_json()["targets"].as_array().unwrap().iter().find(|t| t["id"] == id).cloned().unwrap()
}

/// Requests to Vercel's API (not the artifact and GitHub ones), as `METHOD path`.
fn vercel_requests(emu: &Emulator) -> Vec<String> {
    emu.log()
        .iter()
        .filter(|l| secret_sync_emulators::vercel::owns(&l.path))
        .map(|l| format!("{} {}", l.method, l.path))
        .collect()
}

fn count(reqs: &[String], r: &str) -> usize {
    reqs.iter().filter(|x| *x == r).count()
}

const WEB_ENV: &str = "/v10/projects/web/env";
const DOCS_ENV: &str = "/v10/projects/docs/env";

#[test]
fn first_sync_redeploys_once_then_an_unchanged_run_does_nothing_then_one_key_is_one_write() {
    let emu = emulator();
    let ws = workspace(MANIFEST);

    // First sync: one list and one upsert per target, one redeploy each
    // (the project read, the creation, reads until ready).
    let out = sync(&emu, &ws, 1, OPENAI, &[]);
    assert_eq!(out.code, 0, "{}", out.summary);
    let reqs = vercel_requests(&emu);
    for (list, project) in [(WEB_ENV, "web"), (DOCS_ENV, "docs")] {
        assert_eq!(count(&reqs, &format!("GET {list}")), 1, "{reqs:?}");
        assert_eq!(count(&reqs, &format!("POST {list}")), 1, "one upsert: {reqs:?}");
        assert_eq!(count(&reqs, &format!("GET /v9/projects/{project}")), 1, "{reqs:?}");
    }
    assert_eq!(count(&reqs, "POST /v13/deployments"), 2, "one redeploy per project: {reqs:?}");
    // Queued 1 s and built 4 s on the emulator's clock: one read 5 s later finds each ready.
    let reads = reqs.iter().filter(|r| r.starts_with("GET /v13/deployments/")).count();
    assert_eq!((reads, reqs.len()), (2, 10), "{reqs:?}");
    {
        let st = emu.state();
        let web = st.vercel.envs(WEB);
        for key in ["OPENAI_API_KEY", "DATABASE_URL", "NEXTAUTH_SECRET"] {
            let e = web.iter().find(|e| e.key == key).unwrap();
            assert_eq!(e.kind, "sensitive", "{key}: created as a sensitive variable");
            assert_eq!(e.target, ["production", "preview"]);
        }
        assert_eq!(st.vercel.value(WEB, "NEXTAUTH_SECRET", "production"), Some(SESSION));
        assert_eq!(st.vercel.value(DOCS, "OPENAI_API_KEY", "production"), Some(OPENAI));
        assert_eq!(st.vercel.value(WEB, "ANALYTICS_ID", "production"), Some(HAND_SET), "left alone");
        for p in [WEB, DOCS] {
            let made = st.vercel.created_deployments(p);
            assert_eq!(made.len(), 1);
            assert_eq!(made[0].target.as_deref(), Some("production"));
            assert_eq!(st.vercel.project(p).production.as_deref(), Some(made[0].id.as_str()), "now serving");
        }
    }
    let web = target(&out, "vercel:web");
    assert_eq!(web["status"], "synced");
    assert_eq!(web["unrouted"], serde_json::json!(["ANALYTICS_ID"]));
    assert!(web["message"].as_str().unwrap().contains("production redeployed as `dpl_"), "{web}");
    // Deployment ids depend on which project's redeploy started first.
    let ids = regex::Regex::new(r"dpl_\d+|-\d+\.vercel\.app").unwrap();
    insta::assert_snapshot!("vercel_first_sync__summary", ids.replace_all(&out.summary, "[deployment]"));

    // Unchanged, with the record: one list per target, no write, no deployment.
    let out = sync(&emu, &ws, 2, OPENAI, &[]);
    assert_eq!(out.code, 0, "{}", out.summary);
    let reqs = vercel_requests(&emu);
    assert_eq!(reqs.len(), 2, "reads only: {reqs:?}");
    assert_eq!((count(&reqs, &format!("GET {WEB_ENV}")), count(&reqs, &format!("GET {DOCS_ENV}"))), (1, 1));
    assert_eq!(target(&out, "vercel:web")["status"], "unchanged");
    assert_eq!(target(&out, "vercel:web")["record"]["unchanged"], 3);

    // One key changed: one upsert of that key and one redeploy, per target it goes to.
    let out = sync(&emu, &ws, 3, "sk-proj-vercel-e2e-openai-key-0002", &[]);
    assert_eq!(out.code, 0, "{}", out.summary);
    let reqs = vercel_requests(&emu);
    assert_eq!(count(&reqs, &format!("POST {WEB_ENV}")), 1);
    assert_eq!(count(&reqs, &format!("POST {DOCS_ENV}")), 1);
    assert_eq!(count(&reqs, "POST /v13/deployments"), 2, "{reqs:?}");
    let changes = &target(&out, "vercel:web")["changes"];
    let updated: Vec<&str> = changes
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "unchanged")
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert_eq!(updated, ["OPENAI_API_KEY"]);
    assert_eq!(emu.state().vercel.value(WEB, "OPENAI_API_KEY", "preview"), Some("sk-proj-vercel-e2e-openai-key-0002"));
}

#[test]
fn without_a_record_present_keys_are_written_unverified_and_production_is_not_redeployed_for_them() {
    let emu = emulator();
    let ws = workspace(MANIFEST);
    assert_eq!(sync(&emu, &ws, 1, OPENAI, &[]).code, 0);
    // No state key: the record is neither read nor written.
    let out = sync(&emu, &ws, 2, OPENAI, &[("state-key", "")]);
    assert_eq!(out.code, 0, "{}", out.summary);
    let reqs = vercel_requests(&emu);
    assert_eq!(count(&reqs, &format!("POST {WEB_ENV}")), 1, "every present key written: {reqs:?}");
    assert_eq!(count(&reqs, "POST /v13/deployments"), 0, "no proof of a change, no restart");
    let web = target(&out, "vercel:web");
    assert!(web["changes"].as_array().unwrap().iter().all(|c| c["action"] == "unverified"), "{web}");
    let warnings = web["warnings"].to_string();
    assert!(warnings.contains("not redeployed") && warnings.contains("vercel redeploy"), "{warnings}");
}

#[test]
fn pruning_deletes_only_what_the_record_owns() {
    let emu = emulator();
    let ws = workspace(MANIFEST);
    assert_eq!(sync(&emu, &ws, 1, OPENAI, &[]).code, 0);
    // DATABASE_URL no longer goes to web; ANALYTICS_ID was never ours.
    ws.manifest_text(&MANIFEST.replace("  DATABASE_URL: { to: [ { vercel: web } ] }\n", ""));
    let out = sync(&emu, &ws, 2, OPENAI, &[]);
    assert_eq!(out.code, 0, "{}", out.summary);
    let w = target(&out, "vercel:web");
    assert!(
        w["warnings"].to_string().contains("`DATABASE_URL`") && w["warnings"].to_string().contains("prune: true"),
        "{w}"
    );
    assert_eq!(emu.count("DELETE", "/env/"), 0, "no pruning unless asked");
    let out = sync(&emu, &ws, 3, OPENAI, &[("prune", "true")]);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(emu.count("DELETE", "/v9/projects/web/env/"), 1);
    let st = emu.state();
    assert!(st.vercel.value(WEB, "DATABASE_URL", "production").is_none(), "deleted");
    assert_eq!(st.vercel.value(WEB, "ANALYTICS_ID", "production"), Some(HAND_SET), "never ours: kept");
    drop(st);
    let r = record(&emu);
    assert!(!r.to_string().contains("DATABASE_URL"), "the record forgets it");
}

#[test]
fn a_redeploy_that_fails_fails_that_target_only_and_production_keeps_serving() {
    let emu = emulator();
    // Only web redeploys, so the failing build is web's.
    let ws = workspace(&MANIFEST.replace("team: acme }", "team: acme, redeploy: false }"));
    let before = emu.state().vercel.project(WEB).production.clone();
    emu.state().vercel.fail_next_build("npm run build exited with 1");
    let out = sync(&emu, &ws, 1, OPENAI, &[]);
    assert_eq!(out.code, 1, "{}", out.summary);
    assert_eq!(target(&out, "vercel:docs")["status"], "synced", "the other target carries on");
    assert_eq!(emu.state().vercel.created_deployments(DOCS).len(), 0, "`redeploy: false`");
    let web = target(&out, "vercel:web");
    assert_eq!(web["status"], "failed");
    let msg = web["message"].as_str().unwrap();
    assert!(msg.contains("ended ERROR") && msg.contains("dpl_") && msg.contains("keeps serving"), "{msg}");
    assert_eq!(web["written"], true, "the variables stay written");
    assert_eq!(emu.state().vercel.project(WEB).production, before, "the old deployment serves");
    let ids = regex::Regex::new(r"dpl_\d+|-\d+\.vercel\.app").unwrap();
    insta::assert_snapshot!("vercel_redeploy_failed", ids.replace_all(msg, "[deployment]"));
}

#[test]
fn bad_tokens_missing_projects_and_rate_limits_are_clear_per_target() {
    let emu = emulator();
    let ws = workspace(MANIFEST);
    // An unknown token: Vercel's 403 with `invalidToken`.
    let out = sync(&emu, &ws, 1, OPENAI, &[("vercel-token", "not-a-vercel-token-0000")]);
    assert_eq!(out.code, 1);
    let m = target(&out, "vercel:web")["message"].as_str().unwrap().to_string();
    assert!(m.contains("HTTP 403") && m.contains("invalid or expired"), "{m}");
    assert!(target(&out, "vercel:web")["request_id"].as_str().is_some(), "x-vercel-id kept");

    // 401, a project the token may not touch (403), a missing project (404), a rate limit (429).
    emu.fault(Fault::on("GET", WEB_ENV, 1, FaultKind::Status { code: 401, retry_after: None }));
    let out = sync(&emu, &ws, 2, OPENAI, &[]);
    let m = target(&out, "vercel:web")["message"].as_str().unwrap().to_string();
    assert!(m.contains("HTTP 401") && m.contains("`vercel-token`"), "{m}");
    assert_eq!(target(&out, "vercel:docs")["status"], "synced", "the other target carries on");

    emu.state().vercel.forbidden.insert(DOCS.into());
    let out = sync(&emu, &ws, 3, OPENAI, &[]);
    let m = target(&out, "vercel:docs")["message"].as_str().unwrap().to_string();
    assert!(m.contains("HTTP 403") && m.contains("may not access project `docs`"), "{m}");
    emu.state().vercel.forbidden.clear();

    ws.manifest_text(&MANIFEST.replace("project: docs", "project: docz"));
    let out = sync(&emu, &ws, 4, OPENAI, &[]);
    let m = target(&out, "vercel:docs")["message"].as_str().unwrap().to_string();
    assert!(m.contains("HTTP 404") && m.contains("`docz` was not found in team `acme`"), "{m}");
    ws.manifest_text(MANIFEST);

    let limit = RateLimit { reset_in: 30, retry_after: None, headers: true };
    emu.fault(Fault::on("GET", DOCS_ENV, 2, FaultKind::VercelLimit(limit)));
    let out = sync(&emu, &ws, 5, OPENAI, &[]);
    let m = target(&out, "vercel:docs")["message"].as_str().unwrap().to_string();
    assert!(m.contains("HTTP 429") && m.contains("rate limit") && m.contains("resets at"), "{m}");
    assert_eq!(emu.count_exact("GET", DOCS_ENV), 2, "retried once, as the policy says, then reported");
}

#[test]
fn a_routed_set_over_64_kb_fails_in_the_plan_with_nothing_written() {
    let emu = emulator();
    let ws = workspace(MANIFEST);
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let big: String = (0..70 * 1024).map(|i: usize| alphabet[(i * 7 + i / 36) % 36] as char).collect();
    let out = sync(&emu, &ws, 1, &big, &[]);
    assert_eq!(out.code, 1, "{}", out.summary);
    for id in ["vercel:web", "vercel:docs"] {
        let t = target(&out, id);
        assert_eq!(t["status"], "failed");
        assert!(t["message"].as_str().unwrap().contains("over Vercel's 64 KB"), "{t}");
        assert_eq!(t["written"], false);
    }
    assert_eq!(emu.count("POST", "/env"), 0, "nothing written");
    assert_eq!(emu.count("POST", "/v13/deployments"), 0);
}

#[test]
fn development_with_sensitive_and_a_branch_without_preview_are_located_errors() {
    let ws = workspace(
        "version: 1\ntargets:\n  vercel:\n    a: { project: web, targets: [development] }\n    b: { project: web, branch: main }\n    c: { project: web, targets: [prod] }\nsecrets:\n  A: { to: [ { vercel: [a, b, c] } ] }\n",
    );
    let out = ws.action(&[("mode", "validate"), ("secrets", "{}")], &[]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let lines: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("::error")).collect();
    insta::assert_snapshot!("vercel_manifest_errors", lines.join("\n"));
}

#[test]
fn a_redeploy_not_ready_within_its_timeout_fails_naming_it() {
    let emu = emulator();
    emu.state().vercel.build_ms = 120_000;
    let manifest = MANIFEST
        .replace("targets: [production, preview] }", "targets: [production, preview], redeploy_timeout: 20s }")
        .replace("team: acme }", "team: acme, redeploy: false }");
    let ws = workspace(&manifest);
    let out = sync(&emu, &ws, 1, OPENAI, &[]);
    assert_eq!(out.code, 1, "{}", out.summary);
    let web = target(&out, "vercel:web");
    let msg = web["message"].as_str().unwrap();
    assert!(msg.contains("was not ready within 20s") && msg.contains("dpl_"), "{msg}");
    // Created once, then read every 5 s of the run's clock until the bound: 0, 5, 10, 15, 20 s.
    let reads = vercel_requests(&emu).iter().filter(|r| r.starts_with("GET /v13/deployments/")).count();
    assert_eq!(reads, 4, "bounded by the timeout");
    assert_eq!(emu.count("POST", "/v13/deployments"), 1, "created once, never repeated");
    assert_eq!(target(&out, "vercel:docs")["status"], "synced");
}
