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
const JOB_TOKEN: &str = "ghs_stateE2eJobToken000000000000000000";
pub const STATE_KEY: &str = "state-key-3f9a1c7e5b2d4f6a8c0e";
const REPO: &str = "ai-cherry/sophia";

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
        inputs.extend_from_slice(extra);
        let env = [
            ("GITHUB_API_URL", self.emu.url.as_str()),
            ("SECRET_SYNC_TEST_CLOCK", self.emu.url.as_str()),
            ("FLY_FLAPS_BASE_URL", self.emu.url.as_str()),
            ("ACTIONS_RUNTIME_TOKEN", token.as_str()),
            ("ACTIONS_RESULTS_URL", results.as_str()),
            ("SECRET_SYNC_HTTP_BACKOFF_MS", "1"),
            ("SECRET_SYNC_HTTP_RETRIES", "1"),
        ];
        self.emu.clear_log();
        let out = self.ws.action(&inputs, &env);
        let shown = out.everything_visible();
        for secret in [FLY_TOKEN, GH_TOKEN, JOB_TOKEN, STATE_KEY, DATABASE_URL, REDIS_URL, SESSION, MAILER] {
            assert!(!shown.contains(secret), "run {n}: a value or token was shown");
        }
        assert!(out.mask_lines().iter().any(|l| l.ends_with(STATE_KEY)), "the state key is not masked");
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
