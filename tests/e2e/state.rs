//! The state record end to end: read as a run artifact through the GitHub
//! REST emulator (list, then the zip behind a 302), written through the
//! results-service emulator, and what it changes at Fly apps and GitHub
//! repositories — pruning only what secret-sync wrote, no write where the
//! record proves a key unchanged. Request counts are exact.

use std::io::Read;

use secret_sync_emulators::{Emulator, Fault, FaultKind};

use crate::harness::{Output, Workspace};

const FLY_TOKEN: &str = "fm2_stateE2eMacaroonToken0000000";
const GH_TOKEN: &str = "ghp_stateE2eGithubToken00000000000000";
/// The job's own token: repositories and artifacts, no org secrets.
pub const JOB_TOKEN: &str = "ghs_stateE2eJobToken000000000000000000";
pub const STATE_KEY: &str = "state-key-3f9a1c7e5b2d4f6a8c0e";
pub const REPO: &str = "ai-cherry/sophia";
/// `GITHUB_REPOSITORY_ID` of REPO, and a fork's id.
pub const REPO_ID: u64 = 424_242;
const FORK_ID: u64 = 999_001;

const MANIFEST: &str = r#"
version: 1
targets:
  fly:
    api: { app: acme-api, deploy: stage }
    web: { app: acme-web, deploy: stage }
  github:
    app: { repo: acme/app }
secrets:
  DATABASE_URL: { to: [ { fly: api } ] }
  REDIS_URL: { to: [ { fly: web } ] }
  SESSION_SECRET: { to: [ { fly: api }, { fly: web }, { github: app } ] }
  MAILER_KEY: { to: [ { fly: web }, { github: app } ] }
"#;

const DATABASE_URL: &str = "postgres://app:pw-0c9f2e71a4@db.internal:5432/app";
const REDIS_URL: &str = "redis://default:rd-7e1a9c3f5b@cache.internal:6379";
const SESSION: &str = "session-secret-7a1c9e3f5b2d4a6c";
const MAILER: &str = "mk-5d1e0a7c3b9f4e2d8a6c";
const HAND_SET_REDIS: &str = "redis://hand-set-on-api-by-someone";

fn values() -> String {
    serde_json::json!({
        "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL, "SESSION_SECRET": SESSION, "MAILER_KEY": MAILER,
    })
    .to_string()
}

/// A runtime token like the runner's, for run `run` (each run its own
/// backend id, as each workflow run has).
pub fn runtime_token(run: u32) -> String {
    let payload = secret_sync::util::b64(
        format!(r#"{{"scp":"Actions.Results:run-backend-{run}:job-backend-1","ac":"[]"}}"#).as_bytes(),
    );
    format!("eyJhbGciOiJIUzI1NiJ9.{}.stateRuntimeSignature", payload.trim_end_matches('='))
}

/// A GitHub sync with the state record, as run `run` of the workflow: the
/// tokens (`token` for GitHub, `job_token` for the artifacts), the state key,
/// the emulator as GitHub, the results service and the clock; `extra`
/// inputs on top.
pub fn github_sync_with_record(
    emu: &Emulator,
    ws: &Workspace,
    run: u32,
    (token, job_token): (&str, &str),
    secrets: &str,
    extra: &[(&str, &str)],
) -> Output {
    let runtime = runtime_token(run);
    emu.state().results.runtime_token = Some(runtime.clone());
    let results = format!("{}/", emu.url);
    let mut inputs = vec![
        ("mode", "sync"),
        ("secrets", secrets),
        ("github-token", token),
        ("github-org", "acme"),
        ("state-token", job_token),
        ("state-key", STATE_KEY),
        ("upload-artifact", "false"),
    ];
    inputs.extend_from_slice(extra);
    let env = [
        ("GITHUB_API_URL", emu.url.as_str()),
        ("SECRET_SYNC_TEST_CLOCK", emu.url.as_str()),
        ("ACTIONS_RUNTIME_TOKEN", runtime.as_str()),
        ("ACTIONS_RESULTS_URL", results.as_str()),
    ];
    ws.action(&inputs, &env)
}

fn emulator() -> Emulator {
    let emu = Emulator::start();
    {
        let mut st = emu.state();
        st.fly.tokens.insert(FLY_TOKEN.into());
        st.fly.add_app("acme-api", 0);
        st.fly.add_app("acme-web", 0);
        // Set by hand on the app the manifest does not route it to.
        st.fly.set("acme-api", "REDIS_URL", HAND_SET_REDIS);
        st.github.tokens.insert(GH_TOKEN.into());
        st.github.repo_only_tokens.insert(JOB_TOKEN.into());
        st.github.orgs.entry("ai-cherry".into()).or_default();
        st.github.add_repo("acme/app");
        st.github.repo_secret("acme/app", "HAND_SET", "2026-01-01T00:00:00Z");
        st.github.add_repo(REPO);
        st.results.repository = Some(REPO.into());
        st.results.repository_id = REPO_ID;
    }
    emu
}

struct Run<'a> {
    ws: &'a Workspace,
    emu: &'a Emulator,
}

impl Run<'_> {
    /// Run `n` of the workflow: a sync with a state key, over `extra` inputs.
    fn sync(&self, n: u32, extra: &[(&str, &str)]) -> Output {
        self.sync_env(n, extra, &[])
    }

    /// Like [`Run::sync`], with more environment (or some replaced).
    fn sync_env(&self, n: u32, extra: &[(&str, &str)], more_env: &[(&str, &str)]) -> Output {
        let token = runtime_token(n);
        self.emu.state().results.runtime_token = Some(token.clone());
        let results = format!("{}/", self.emu.url);
        let mut inputs = vec![
            ("mode", "sync"),
            ("fly-token", FLY_TOKEN),
            ("github-token", GH_TOKEN),
            ("state-token", JOB_TOKEN),
            ("state-key", STATE_KEY),
            ("upload-artifact", "false"),
        ];
        let vals = values();
        inputs.push(("secrets", &vals));
        for (k, v) in extra {
            inputs.retain(|(x, _)| x != k);
            inputs.push((k, v));
        }
        let repo_id = REPO_ID.to_string();
        let mut env = vec![
            ("GITHUB_API_URL", self.emu.url.as_str()),
            ("SECRET_SYNC_TEST_CLOCK", self.emu.url.as_str()),
            ("FLY_FLAPS_BASE_URL", self.emu.url.as_str()),
            ("ACTIONS_RUNTIME_TOKEN", token.as_str()),
            ("ACTIONS_RESULTS_URL", results.as_str()),
            ("SECRET_SYNC_HTTP_BACKOFF_MS", "1"),
            ("SECRET_SYNC_HTTP_RETRIES", "1"),
            ("GITHUB_REPOSITORY_ID", repo_id.as_str()),
        ];
        env.extend_from_slice(more_env);
        self.emu.clear_log();
        let out = self.ws.action(&inputs, &env);
        let shown = out.everything_visible();
        for secret in [FLY_TOKEN, GH_TOKEN, JOB_TOKEN, STATE_KEY, DATABASE_URL, REDIS_URL, SESSION, MAILER] {
            assert!(!shown.contains(secret), "run {n}: a value or token was shown");
        }
        let key = inputs.iter().find(|(k, _)| *k == "state-key").map_or("", |(_, v)| *v);
        assert!(key.is_empty() || out.mask_lines().iter().any(|l| l.ends_with(key)), "the state key is not masked");
        out
    }
}

fn setup() -> (Emulator, Workspace) {
    let ws = Workspace::new();
    ws.manifest_text(MANIFEST);
    (emulator(), ws)
}

/// The newest state record uploaded, parsed.
pub fn record(emu: &Emulator) -> serde_json::Value {
    serde_json::from_str(&record_text(emu)).expect("the record is JSON")
}

pub fn record_text(emu: &Emulator) -> String {
    let st = emu.state();
    let a =
        st.results.finalized(None).into_iter().find(|a| a.name.starts_with("secret-sync-state-")).expect("a record");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(a.blob.clone().unwrap())).unwrap();
    let mut s = String::new();
    zip.by_name("secret-sync-state.json").unwrap().read_to_string(&mut s).unwrap();
    s
}

fn uploads(emu: &Emulator) -> usize {
    emu.count_exact("POST", "/twirp/github.actions.results.api.v1.ArtifactService/FinalizeArtifact")
}

fn fly_writes(emu: &Emulator, app: &str) -> usize {
    emu.count_exact("POST", &format!("/v1/apps/{app}/secrets"))
}

/// GitHub writes to acme/app (PUT and DELETE of secrets).
fn gh_writes(emu: &Emulator) -> Vec<String> {
    let mut v: Vec<String> = emu
        .log()
        .into_iter()
        .filter(|l| l.method != "GET" && l.path.starts_with("/repos/acme/app/actions/secrets/"))
        .map(|l| format!("{} {}", l.method, &l.path["/repos/acme/app/actions/secrets/".len()..]))
        .collect();
    v.sort();
    v
}

fn target<'a>(out: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    out["targets"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap()
}

/// The artifact reads of one run: the list, and the download behind its redirect.
fn assert_record_read(emu: &Emulator) {
    assert_eq!(emu.count_exact("GET", &format!("/repos/{REPO}/actions/artifacts")), 1);
    assert_eq!(emu.count("GET", "/zip"), 1);
    assert_eq!(emu.count("GET", "/_blob/"), 1);
}

#[test]
fn pruning_deletes_only_what_the_record_says_secret_sync_wrote() {
    let (emu, ws) = setup();
    let run = Run { ws: &ws, emu: &emu };

    // First run: no record yet. Everything is written; nothing is pruned, and the run says why.
    let out = run.sync(1, &[("prune", "true")]);
    assert_eq!(out.code, 0, "{}", out.summary);
    let report = out.report_json();
    assert_eq!(report["state"]["read"], "missing");
    assert_eq!(report["state"]["written"], true);
    assert!(out.stdout.contains("::notice title=secret-sync state::state record not used"), "{}", out.stdout);
    assert!(
        target(&report, "fly:api")["warnings"][0].as_str().unwrap().contains("pruning deletes nothing here"),
        "{report:#}"
    );
    assert_eq!(emu.count_exact("GET", &format!("/repos/{REPO}/actions/artifacts")), 1);
    assert_eq!(emu.count("GET", "/zip"), 0, "nothing to download");
    assert_eq!(uploads(&emu), 1);
    assert_eq!(emu.state().fly.apps["acme-api"].secrets["REDIS_URL"].1, HAND_SET_REDIS);
    let rec = record(&emu);
    let owned = |t: &str| -> Vec<String> { rec["targets"][t].as_object().unwrap().keys().cloned().collect() };
    assert_eq!(owned("fly:api"), ["DATABASE_URL", "SESSION_SECRET"], "REDIS_URL on api was never written");
    assert_eq!(owned("fly:web"), ["MAILER_KEY", "REDIS_URL", "SESSION_SECRET"]);
    assert_eq!(owned("github:app"), ["MAILER_KEY", "SESSION_SECRET"]);
    // The GitHub evidence is the secret's `updated_at` after the write: one list after the PUTs.
    assert_eq!(rec["targets"]["github:app"]["SESSION_SECRET"]["evidence"], "2026-11-23T11:40:00Z");
    assert_eq!(emu.count_exact("GET", "/repos/acme/app/actions/secrets"), 2, "the read and one list after the writes");

    // Second run: MAILER_KEY removed from the manifest. The record says where
    // secret-sync wrote it: it is pruned there, and only there. The hand-set
    // REDIS_URL on api and HAND_SET on GitHub survive.
    ws.manifest_text(&MANIFEST.replace("  MAILER_KEY: { to: [ { fly: web }, { github: app } ] }\n", ""));
    let out = run.sync(2, &[("prune", "true")]);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_record_read(&emu);
    assert_eq!(fly_writes(&emu, "acme-api"), 0, "api: every key proven unchanged by the record");
    assert_eq!(fly_writes(&emu, "acme-web"), 1, "web: one write, the delete");
    assert_eq!(gh_writes(&emu), ["DELETE MAILER_KEY"]);
    {
        let st = emu.state();
        assert!(!st.fly.apps["acme-web"].secrets.contains_key("MAILER_KEY"));
        assert_eq!(st.fly.apps["acme-api"].secrets["REDIS_URL"].1, HAND_SET_REDIS, "hand-set key deleted");
        assert!(st.github.get("acme/app", "HAND_SET").is_some(), "hand-set GitHub secret deleted");
        assert!(st.github.get("acme/app", "MAILER_KEY").is_none());
    }
    let report = out.report_json();
    let deletes = |id: &str| -> Vec<String> {
        target(&report, id)["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["action"] == "delete")
            .map(|c| c["key"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(deletes("fly:web"), ["MAILER_KEY"]);
    assert_eq!(deletes("github:app"), ["MAILER_KEY"]);
    assert!(deletes("fly:api").is_empty());
    assert_eq!(target(&report, "fly:api")["unrouted"], serde_json::json!(["REDIS_URL"]));
    assert_eq!(target(&report, "fly:api")["record"]["unchanged"], 2);
    assert_eq!(uploads(&emu), 1, "the record changed: written again");
    let rec = record(&emu);
    assert!(
        rec["targets"]["fly:web"].get("MAILER_KEY").is_none()
            && rec["targets"]["github:app"].get("MAILER_KEY").is_none()
    );
    insta::assert_snapshot!("state_pruned__summary", out.summary);
}

#[test]
fn an_unchanged_run_writes_nothing_and_edits_at_the_target_are_rewritten() {
    let (emu, ws) = setup();
    let run = Run { ws: &ws, emu: &emu };
    assert_eq!(run.sync(1, &[]).code, 0);

    // Nothing changed: zero writes on every target, and no new record.
    let out = run.sync(2, &[]);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_record_read(&emu);
    assert_eq!(fly_writes(&emu, "acme-api") + fly_writes(&emu, "acme-web"), 0);
    assert!(gh_writes(&emu).is_empty());
    assert_eq!(emu.count_exact("GET", "/v1/apps/acme-api/secrets"), 1);
    assert_eq!(emu.count_exact("GET", "/v1/apps/acme-web/secrets"), 1);
    assert_eq!(emu.count_exact("GET", "/repos/acme/app/actions/secrets"), 1);
    assert_eq!(uploads(&emu), 0, "nothing in the record changed");
    let report = out.report_json();
    for id in ["fly:api", "fly:web", "github:app"] {
        assert_eq!(target(&report, id)["status"], "unchanged", "{id}");
        assert_eq!(target(&report, id)["record"]["unverified"], 0, "{id}");
    }
    assert_eq!(report["state"]["not_written"], "nothing in it changed");
    insta::assert_snapshot!("state_unchanged__summary", out.summary);

    // Changed by hand at the targets: Fly's digest moves, GitHub's updated_at moves.
    {
        let mut st = emu.state();
        st.fly.set("acme-api", "DATABASE_URL", "postgres://changed-by-hand");
        let m = st.github.repos.get_mut("acme/app").unwrap().get_mut("SESSION_SECRET").unwrap();
        m.updated_at = "2026-11-23T12:00:00Z".into();
        m.value = Some("changed-by-hand".into());
        // GitHub stamps the rewrite with a later time.
        st.github.now = "2026-11-23T12:30:00Z".into();
    }
    let out = run.sync(3, &[]);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(fly_writes(&emu, "acme-api"), 1);
    assert_eq!(fly_writes(&emu, "acme-web"), 0);
    assert_eq!(gh_writes(&emu), ["PUT SESSION_SECRET"]);
    let st = emu.state();
    assert_eq!(st.fly.apps["acme-api"].secrets["DATABASE_URL"].1, DATABASE_URL);
    assert_eq!(st.github.get("acme/app", "SESSION_SECRET").unwrap().value.as_deref(), Some(SESSION));
    drop(st);
    let report = out.report_json();
    let action = |id: &str, key: &str| {
        target(&report, id)["changes"].as_array().unwrap().iter().find(|c| c["key"] == key).unwrap()["action"].clone()
    };
    assert_eq!(action("fly:api", "DATABASE_URL"), "update");
    assert_eq!(action("fly:api", "SESSION_SECRET"), "unchanged");
    assert_eq!(action("github:app", "SESSION_SECRET"), "update");
    assert_eq!(uploads(&emu), 1, "the new evidence is recorded");
    assert_eq!(record(&emu)["targets"]["github:app"]["SESSION_SECRET"]["evidence"], "2026-11-23T12:30:00Z");
}

#[test]
fn lost_corrupt_and_expired_records_are_a_notice_and_prune_nothing() {
    let (emu, ws) = setup();
    let run = Run { ws: &ws, emu: &emu };
    assert_eq!(run.sync(1, &[]).code, 0);
    // From now on MAILER_KEY is no longer routed: only a record could let pruning delete it.
    ws.manifest_text(&MANIFEST.replace("  MAILER_KEY: { to: [ { fly: web }, { github: app } ] }\n", ""));
    let name = emu.state().results.finalized(None)[0].name.clone();
    let still_there = |emu: &Emulator| {
        let st = emu.state();
        st.fly.apps["acme-web"].secrets.contains_key("MAILER_KEY") && st.github.get("acme/app", "MAILER_KEY").is_some()
    };

    // Expired.
    emu.state().results.expire(&name);
    let out = run.sync(2, &[("prune", "true")]);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(out.report_json()["state"]["read"], "expired");
    assert_eq!(emu.count("GET", "/zip"), 0, "an expired artifact is not downloaded");
    assert!(out.stdout.contains("the newest artifact"), "{}", out.stdout);
    assert!(still_there(&emu));
    // Without a record Fly keys are unverified again: written and compared.
    assert_eq!(fly_writes(&emu, "acme-api"), 1);
    assert_eq!(uploads(&emu), 1, "a new record of what this run wrote");

    // Corrupt: the newest artifact holds no record.
    {
        let mut st = emu.state();
        let mut a = st.results.newest(&name).unwrap().clone();
        a.blob = Some(secret_sync::artifact::zip_stored(&[("secret-sync-state.json", b"{ not json")]));
        a.id = Some(9_000);
        a.upload_id = 9_000;
        a.run = "another-run".into();
        st.results.artifacts.push(a);
    }
    let out = run.sync(3, &[("prune", "true")]);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(out.report_json()["state"]["read"], "unreadable");
    assert!(out.report_json()["state"]["note"].as_str().unwrap().contains("corrupt"), "{}", out.report);
    assert!(still_there(&emu));

    // Lost: the job's token may not read artifacts (no `actions: read`).
    emu.state().github.no_actions_read.insert(JOB_TOKEN.into());
    let out = run.sync(4, &[("prune", "true")]);
    assert_eq!(out.code, 0, "{}", out.summary);
    let state = &out.report_json()["state"];
    assert_eq!(state["read"], "unreadable");
    assert!(state["note"].as_str().unwrap().contains("permissions: actions: read"), "{state}");
    assert!(still_there(&emu));
    assert!(out.summary.contains("State record"), "{}", out.summary);
}

#[test]
fn a_run_that_fails_half_way_records_what_it_wrote() {
    let (emu, ws) = setup();
    let run = Run { ws: &ws, emu: &emu };
    // GitHub takes SESSION_SECRET, then refuses MAILER_KEY; Fly refuses acme-web.
    emu.fault(Fault::on(
        "PUT",
        "/repos/acme/app/actions/secrets/MAILER_KEY",
        9,
        FaultKind::Status { code: 500, retry_after: None },
    ));
    emu.fault(
        Fault::on("POST", "/v1/apps/acme-web/secrets", 9, FaultKind::Status { code: 422, retry_after: None }).exact(),
    );
    let out = run.sync(1, &[]);
    assert_ne!(out.code, 0, "{}", out.summary);
    assert_eq!(uploads(&emu), 1, "the record of a partial run is written");
    let rec = record(&emu);
    let owned = |t: &str| -> Vec<String> {
        rec["targets"].get(t).and_then(|m| m.as_object()).map(|m| m.keys().cloned().collect()).unwrap_or_default()
    };
    assert_eq!(owned("github:app"), ["SESSION_SECRET"]);
    assert_eq!(owned("fly:api"), ["DATABASE_URL", "SESSION_SECRET"]);
    assert!(owned("fly:web").is_empty());

    // The next run: what the record proves is not written again.
    emu.state().faults.clear();
    let out = run.sync(2, &[]);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(gh_writes(&emu), ["PUT MAILER_KEY"]);
    assert_eq!(fly_writes(&emu, "acme-api"), 0);
    assert_eq!(fly_writes(&emu, "acme-web"), 1);
}

const OTHER_KEY: &str = "another-state-key-8d2e6a0c4f1b3e5a";

/// Uploads `record` as the state record through the results service, as a
/// workflow's own step would from run `run` (any run of the repository, or
/// of a fork's pull request, gets a runtime token).
fn upload_as(emu: &Emulator, run: u32, name: &str, record: &str) {
    let token = runtime_token(run);
    emu.state().results.runtime_token = Some(token.clone());
    let rt = secret_sync::artifact::Runtime {
        results_url: format!("{}/", emu.url),
        token: secrecy::SecretString::from(token),
    };
    let http = secret_sync::http::Http::new(secret_sync::http::Policy::default(), &[]);
    let files: [(&str, &[u8]); 1] = [("secret-sync-state.json", record.as_bytes())];
    let up = secret_sync::artifact::upload(&http, &rt, name, &files);
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(up).expect("uploaded");
}

/// The real record with two ownership entries added: the hand-set
/// `REDIS_URL` on acme-api and `HAND_SET` on GitHub (with its true
/// `updated_at`, as a forger who can read the secrets list would write it).
fn forged(emu: &Emulator) -> String {
    let mut rec = record(emu);
    let entry = |evidence: &str| serde_json::json!({ "evidence": evidence, "written_at": "2026-11-23T11:40:00Z" });
    rec["targets"]["fly:api"]["REDIS_URL"] = entry("0123abcd");
    rec["targets"]["github:app"]["HAND_SET"] = entry("2026-01-01T00:00:00Z");
    serde_json::to_string_pretty(&rec).unwrap()
}

fn hand_set_keys_survive(emu: &Emulator) {
    let st = emu.state();
    assert_eq!(st.fly.apps["acme-api"].secrets["REDIS_URL"].1, HAND_SET_REDIS, "the hand-set Fly key was deleted");
    assert!(st.github.get("acme/app", "HAND_SET").is_some(), "the hand-set GitHub secret was deleted");
}

fn state_line(out: &Output) -> String {
    out.summary.lines().find(|l| l.starts_with("State record")).expect("a state line").to_string()
}

#[test]
fn a_forged_record_deletes_nothing_from_a_fork_or_from_the_repository() {
    let (emu, ws) = setup();
    let run = Run { ws: &ws, emu: &emu };
    assert_eq!(run.sync(1, &[]).code, 0);
    let name = emu.state().results.finalized(None)[0].name.clone();

    // A fork's pull-request run uploads the forged copy under the same name: skipped.
    emu.state().results.fork_runs.insert("run-backend-90".into(), FORK_ID);
    upload_as(&emu, 90, &name, &forged(&emu));
    assert_eq!(emu.state().results.finalized(Some(&name)).len(), 2);
    let out = run.sync(2, &[("prune", "true")]);
    assert_eq!(out.code, 0, "{}", out.summary);
    let state = &out.report_json()["state"];
    assert_eq!(state["read"], "read", "the repository's own record is read: {state}");
    assert_eq!(state["skipped_forks"], 1);
    hand_set_keys_survive(&emu);
    assert!(gh_writes(&emu).is_empty() && fly_writes(&emu, "acme-api") == 0);
    insta::assert_snapshot!("state_fork_skipped__state_line", state_line(&out));

    // The same forged record uploaded by a run of the repository itself: the MAC refuses it.
    upload_as(&emu, 91, &name, &forged(&emu));
    let out = run.sync(3, &[("prune", "true")]);
    assert_eq!(out.code, 0, "{}", out.summary);
    let state = &out.report_json()["state"];
    assert_eq!(state["read"], "refused", "{state}");
    assert!(state["note"].as_str().unwrap().contains("MAC does not verify"), "{state}");
    assert_eq!(state["written"], true, "a fresh, valid record replaces it");
    assert!(out.stdout.contains("::notice title=secret-sync state::state record not used"), "{}", out.stdout);
    hand_set_keys_survive(&emu);
    assert!(gh_writes(&emu).iter().all(|w| !w.starts_with("DELETE")), "{:?}", gh_writes(&emu));
    insta::assert_snapshot!("state_forged_refused__state_line", state_line(&out));

    // The next run reads the fresh record, and its ownership holds no forged entry.
    let out = run.sync(4, &[("prune", "true")]);
    assert_eq!(out.report_json()["state"]["read"], "read");
    let rec = record(&emu);
    assert!(
        rec["targets"]["fly:api"].get("REDIS_URL").is_none() && rec["targets"]["github:app"].get("HAND_SET").is_none()
    );
    hand_set_keys_survive(&emu);
}

#[test]
fn a_broken_mac_or_another_keys_record_is_not_used_and_is_replaced() {
    let (emu, ws) = setup();
    let run = Run { ws: &ws, emu: &emu };
    assert_eq!(run.sync(1, &[]).code, 0);
    let name = emu.state().results.finalized(None)[0].name.clone();
    ws.manifest_text(&MANIFEST.replace("  MAILER_KEY: { to: [ { fly: web }, { github: app } ] }\n", ""));

    // A broken MAC: one hex digit of it changed.
    let mut rec = record(&emu);
    let mac = rec["mac"].as_str().expect("the record carries a MAC").to_string();
    let first = if mac.starts_with('0') { '1' } else { '0' };
    let flipped = format!("{first}{}", &mac[1..]);
    rec["mac"] = flipped.into();
    upload_as(&emu, 50, &name, &rec.to_string());
    let out = run.sync(2, &[("prune", "true")]);
    assert_eq!(out.code, 0, "{}", out.summary);
    let state = &out.report_json()["state"];
    assert_eq!((state["read"].as_str(), state["written"].as_bool()), (Some("refused"), Some(true)), "{state}");
    assert!(state["note"].as_str().unwrap().contains("MAC does not verify"), "{state}");
    assert!(gh_writes(&emu).iter().all(|w| !w.starts_with("DELETE")), "pruned on a record that did not verify");
    assert!(emu.state().fly.apps["acme-web"].secrets.contains_key("MAILER_KEY"));

    // A record without a MAC at all.
    let mut rec = record(&emu);
    rec.as_object_mut().unwrap().remove("mac");
    upload_as(&emu, 51, &name, &rec.to_string());
    let out = run.sync(3, &[("prune", "true")]);
    let state = &out.report_json()["state"];
    assert_eq!(state["read"], "refused");
    assert!(state["note"].as_str().unwrap().contains("carries no MAC"), "{state}");

    // Another state key: this run refuses the record, and writes its own under the new key.
    let out = run.sync(4, &[("prune", "true"), ("state-key", OTHER_KEY)]);
    assert_eq!(out.code, 0, "{}", out.summary);
    let state = &out.report_json()["state"];
    assert_eq!(state["read"], "refused");
    assert!(state["note"].as_str().unwrap().contains("another `state-key`"), "{state}");
    assert_eq!(state["written"], true);
    // Back to the first key: the record of the other key is refused in turn.
    let out = run.sync(5, &[("prune", "true")]);
    assert_eq!(out.report_json()["state"]["read"], "refused");
    assert!(emu.state().fly.apps["acme-web"].secrets.contains_key("MAILER_KEY"), "pruned on a refused record");
    // The record this run wrote is valid: the next run reads it.
    let out = run.sync(6, &[]);
    assert_eq!(out.report_json()["state"]["read"], "read", "{}", out.summary);
}

#[test]
fn keys_set_again_by_hand_are_left_in_place_and_leave_the_record() {
    let (emu, ws) = setup();
    let run = Run { ws: &ws, emu: &emu };
    assert_eq!(run.sync(1, &[]).code, 0);
    // A person sets MAILER_KEY again by hand at acme-web and at GitHub.
    {
        let mut st = emu.state();
        st.fly.set("acme-web", "MAILER_KEY", "mk-set-again-by-hand");
        let m = st.github.repos.get_mut("acme/app").unwrap().get_mut("MAILER_KEY").unwrap();
        m.updated_at = "2026-11-23T12:00:00Z".into();
        m.value = Some("mk-set-again-by-hand".into());
    }
    // Then the manifest stops routing MAILER_KEY anywhere, REDIS_URL to web,
    // and SESSION_SECRET to GitHub (those two untouched since secret-sync wrote them).
    let manifest = MANIFEST
        .replace("  MAILER_KEY: { to: [ { fly: web }, { github: app } ] }\n", "")
        .replace("  REDIS_URL: { to: [ { fly: web } ] }\n", "")
        .replace("{ fly: web }, { github: app } ] }", "{ fly: web } ] }");
    ws.manifest_text(&manifest);
    let out = run.sync(2, &[("prune", "true")]);
    assert_eq!(out.code, 0, "{}", out.summary);
    {
        let st = emu.state();
        assert!(st.fly.apps["acme-web"].secrets.contains_key("MAILER_KEY"), "a key set by hand was deleted");
        assert!(st.github.get("acme/app", "MAILER_KEY").is_some(), "a key set by hand was deleted");
        assert!(!st.fly.apps["acme-web"].secrets.contains_key("REDIS_URL"), "an untouched owned key was kept");
        assert!(st.github.get("acme/app", "SESSION_SECRET").is_none(), "an untouched owned key was kept");
    }
    assert_eq!(gh_writes(&emu), ["DELETE SESSION_SECRET"]);
    let report = out.report_json();
    let warning = |id: &str| -> String {
        let w = target(&report, id)["warnings"].as_array().unwrap();
        w.iter().filter_map(|w| w.as_str()).find(|w| w.contains("outside secret-sync")).unwrap_or_default().to_string()
    };
    insta::assert_snapshot!("state_set_by_hand__fly_warning", warning("fly:web"));
    assert!(warning("github:app").contains("`github:app`") && warning("github:app").contains("`MAILER_KEY`"));
    let rec = record(&emu);
    assert!(rec["targets"]["fly:web"].get("MAILER_KEY").is_none(), "ownership stays with a key set by hand");
    assert!(rec["targets"]["github:app"].get("MAILER_KEY").is_none());

    // The next prune run: the keys are no longer secret-sync's: no delete, no warning.
    let out = run.sync(3, &[("prune", "true")]);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert!(gh_writes(&emu).is_empty());
    assert_eq!(fly_writes(&emu, "acme-web"), 0);
    assert!(!out.report.contains("outside secret-sync"));
}

#[test]
fn without_a_state_key_pruning_deletes_nothing_and_says_so_once() {
    let (emu, ws) = setup();
    let run = Run { ws: &ws, emu: &emu };
    assert_eq!(run.sync(1, &[]).code, 0);
    ws.manifest_text(&MANIFEST.replace("  MAILER_KEY: { to: [ { fly: web }, { github: app } ] }\n", ""));
    let out = run.sync(2, &[("prune", "true"), ("state-key", "")]);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert!(gh_writes(&emu).is_empty());
    assert!(emu.state().fly.apps["acme-web"].secrets.contains_key("MAILER_KEY"));
    assert_eq!(emu.count("GET", "/actions/artifacts"), 0, "no record is read without a key");
    assert_eq!(uploads(&emu), 0, "no record is written without a key");
    let warnings: Vec<&str> =
        out.stdout.lines().filter(|l| l.starts_with("::warning") && l.contains("deletes nothing")).collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    insta::assert_snapshot!("state_no_key__warning", warnings[0]);
}

#[test]
fn every_page_of_artifacts_is_read_and_the_newest_taken() {
    let (emu, ws) = setup();
    let run = Run { ws: &ws, emu: &emu };
    assert_eq!(run.sync(1, &[]).code, 0);
    // 150 older artifacts of the record's name (of no use), then the real record.
    let (name, real) = {
        let mut st = emu.state();
        let a = st.results.artifacts.pop().expect("the record of run 1");
        (a.name.clone(), a.blob.clone().unwrap())
    };
    for i in 0..150 {
        let zip = secret_sync::artifact::zip_stored(&[("secret-sync-state.json", b"{ an old, broken record")]);
        emu.state().results.add_finalized(&name, &format!("run-backend-old-{i}"), zip);
    }
    emu.state().results.add_finalized(&name, "run-backend-1", real);
    let out = run.sync(2, &[]);
    assert_eq!(out.code, 0, "{}", out.summary);
    // The list is oldest first: the newest is on the second page.
    assert_eq!(emu.count_exact("GET", &format!("/repos/{REPO}/actions/artifacts")), 2, "two pages of 100");
    assert_eq!(out.report_json()["state"]["read"], "read", "{}", out.report);
    assert_eq!(fly_writes(&emu, "acme-api") + fly_writes(&emu, "acme-web"), 0, "proven unchanged by the record");
}

#[test]
fn a_conflict_on_create_still_saves_the_record() {
    let (emu, ws) = setup();
    let run = Run { ws: &ws, emu: &emu };
    assert_eq!(run.sync(1, &[]).code, 0);
    // A re-run attempt of the same run: the name exists in the run, CreateArtifact is 409.
    ws.manifest_text(&MANIFEST.replace("  MAILER_KEY: { to: [ { fly: web }, { github: app } ] }\n", ""));
    let out = run.sync(1, &[("prune", "true")]);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(out.report_json()["state"]["written"], true, "{}", out.report);
    let svc = "/twirp/github.actions.results.api.v1.ArtifactService";
    assert_eq!(emu.count_exact("POST", &format!("{svc}/CreateArtifact")), 2, "409, then again after the delete");
    assert_eq!(emu.count_exact("POST", &format!("{svc}/ListArtifacts")), 1);
    assert_eq!(emu.count_exact("POST", &format!("{svc}/DeleteArtifact")), 1);
    assert_eq!(uploads(&emu), 1);
    // The next run reads what the re-run wrote: MAILER_KEY is gone from it.
    let out = run.sync(2, &[]);
    assert_eq!(out.report_json()["state"]["read"], "read");
    assert!(record(&emu)["targets"]["fly:web"].get("MAILER_KEY").is_none());
    {
        let st = emu.state();
        let a = st.results.newest(&st.results.finalized(None)[0].name).unwrap();
        assert_eq!(
            a.mime_type.as_deref(),
            Some("application/zip"),
            "CreateArtifact names the MIME type, as toolkit does"
        );
    }

    // A 409 with nothing listed (a create retried after its answer was lost):
    // this job's pending artifact is deleted by its ids, and the create goes on.
    emu.fault(Fault::on(
        "POST",
        format!("{svc}/CreateArtifact"),
        1,
        FaultKind::Status { code: 409, retry_after: None },
    ));
    ws.manifest_text(
        &MANIFEST
            .replace("  REDIS_URL: { to: [ { fly: web } ] }\n", "")
            .replace("  MAILER_KEY: { to: [ { fly: web }, { github: app } ] }\n", ""),
    );
    let out = run.sync(3, &[("prune", "true")]);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(out.report_json()["state"]["written"], true, "{}", out.report);
    assert_eq!(emu.count_exact("POST", &format!("{svc}/CreateArtifact")), 2);
    assert_eq!(emu.count_exact("POST", &format!("{svc}/DeleteArtifact")), 1);
    assert_eq!(uploads(&emu), 1);
    let out = run.sync(4, &[]);
    assert_eq!(out.report_json()["state"]["read"], "read");
    assert!(record(&emu)["targets"]["fly:web"].get("REDIS_URL").is_none());
}

#[test]
fn a_record_older_than_half_the_retention_is_refreshed_by_a_run_that_writes_nothing() {
    let (emu, ws) = setup();
    let run = Run { ws: &ws, emu: &emu };
    assert_eq!(run.sync(1, &[]).code, 0);
    let day = 24 * 3600;
    let at = |days: i64| (crate::harness::NOW.parse::<i64>().unwrap() + days * day).to_string();
    // Retention 30 days: at day 14 the record is not due; at day 16 it is.
    let (d14, d16) = (at(14), at(16));
    let env = |now: &str| -> Vec<(&str, String)> {
        vec![("SECRET_SYNC_NOW", now.to_string()), ("GITHUB_RETENTION_DAYS", "30".to_string())]
    };
    let e14 = env(&d14);
    let e14: Vec<(&str, &str)> = e14.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run.sync_env(2, &[], &e14);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!((uploads(&emu), fly_writes(&emu, "acme-api"), gh_writes(&emu).len()), (0, 0, 0));
    let e16 = env(&d16);
    let e16: Vec<(&str, &str)> = e16.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run.sync_env(3, &[], &e16);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(fly_writes(&emu, "acme-api") + fly_writes(&emu, "acme-web"), 0, "nothing written at the targets");
    assert!(gh_writes(&emu).is_empty());
    assert_eq!(uploads(&emu), 1, "the record is refreshed");
    assert_eq!(record(&emu)["updated_at"], secret_sync::util::rfc3339(d16.parse().unwrap()));
}

/// The example workflows pass the state key only to runs of the default
/// branch: never to a pull request's run; a push only from `main`; a run by
/// hand only when it runs on the default branch (schedules always do).
#[test]
fn example_workflows_pass_the_state_key_only_to_the_default_branch() {
    let dir = crate::harness::repo().join("examples/workflows");
    let mut passing = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let doc: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let on = doc["on"].as_mapping().unwrap();
        let triggers: Vec<&str> = on.keys().filter_map(|k| k.as_str()).collect();
        for job in doc["jobs"].as_mapping().unwrap().values() {
            for step in job["steps"].as_sequence().into_iter().flatten() {
                let Some(key) = step["with"]["state-key"].as_str() else { continue };
                passing.push(name.clone());
                for t in &triggers {
                    match *t {
                        "schedule" => {}
                        "push" => assert_eq!(
                            on[&serde_yaml::Value::from("push")]["branches"],
                            serde_yaml::Value::from(vec!["main"]),
                            "{name}: a push from another branch gets the state key"
                        ),
                        "workflow_dispatch" => assert!(
                            key.contains("github.ref_name == github.event.repository.default_branch"),
                            "{name}: a manual run of any branch gets the state key: {key}"
                        ),
                        other => panic!("{name}: a `{other}` run gets the state key"),
                    }
                }
            }
        }
    }
    passing.sort();
    assert_eq!(passing, ["manual.yml", "matrix.yml", "nightly.yml", "sync-on-push.yml"]);
}
