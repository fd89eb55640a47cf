//! Pulumi ESC target, end to end: the binary runs as an action against the
//! in-process ESC emulator. Request counts are exact.

use secret_sync::targets::esc::definition;
use secret_sync_emulators::esc::to_json;
use secret_sync_emulators::esc::{encrypt, OIDC_PATH};
use secret_sync_emulators::{Emulator, Fault, FaultKind};
use serde_json::Value;

use crate::harness::{repo, Output, Workspace};

const TOKEN: &str = "pul-e2e-token-4b1d8c0a9e7f";
const OPENAI: &str = "sk-proj-e2eOpenAiKeyValue0000000001";
const OPENAI_2: &str = "sk-proj-e2eOpenAiKeyValue0000000002";
const DB: &str = "postgres://app:e2e-db-password@db.internal:5432/app";
const STRIPE: &str = "sk_live_e2eStripeKeyValue000000001";
const SLACK: &str = "xoxb-e2e-slack-bot-token-0000000001";

const APP: &str = "acme/app/production";
const WORKER: &str = "acme/worker/production";
const BILLING: &str = "acme/billing/production";

fn app_definition() -> String {
    "imports:\n  - shared/base\nvalues:\n  region: eu-west-1\n  featureFlags:\n    beta: true\n  environmentVariables:\n    REGION: ${region}\n  db:\n    pool: 5\nx-owner: platform\n".into()
}

fn worker_definition() -> String {
    format!(
        "# Worker settings, maintained by hand.\nvalues:\n  queue: jobs # the main queue\n  openai:\n    apiKey:\n      fn::secret:\n        ciphertext: {}\n",
        encrypt("sk-proj-an-old-worker-key-0000000000")
    )
}

fn emulator() -> Emulator {
    let emu = Emulator::start();
    {
        let mut st = emu.state();
        st.esc.tokens.insert(TOKEN.into());
        st.esc.seed("acme/shared/base", "values:\n  region: us-east-1\n");
        st.esc.seed(APP, &app_definition());
        st.esc.seed(WORKER, &worker_definition());
    }
    emu
}

fn secrets(openai: &str) -> String {
    serde_json::json!({
        "github_token": "ghs_e2eRunnerToken000000000000000000",
        "PROD_OPENAI_API_KEY": openai,
        "DATABASE_URL": DB,
        "STRIPE_SECRET_KEY": STRIPE,
        "SLACK_BOT_TOKEN": SLACK,
    })
    .to_string()
}

fn workspace() -> Workspace {
    let ws = Workspace::new();
    ws.manifest_from(&repo().join("tests/fixtures/esc-manifest.yml"));
    ws
}

const FAST: [(&str, &str); 3] =
    [("SECRET_SYNC_HTTP_BACKOFF_MS", "5"), ("SECRET_SYNC_HTTP_TIMEOUT_MS", "1000"), ("SECRET_SYNC_HTTP_RETRIES", "2")];

fn run(ws: &Workspace, emu: &Emulator, mode: &str, secrets: &str, extra: &[(&str, &str)]) -> Output {
    let mut inputs =
        vec![("mode", mode), ("secrets", secrets), ("esc-api-url", emu.url.as_str()), ("esc-token", TOKEN)];
    for (k, v) in extra {
        inputs.retain(|(x, _)| x != k);
        inputs.push((k, v));
    }
    let out = ws.action(&inputs, &FAST);
    let shown = out.everything_visible();
    for v in [TOKEN, OPENAI, OPENAI_2, DB, STRIPE, SLACK] {
        assert!(!shown.contains(v), "a secret or token was shown");
    }
    out
}

fn counts(emu: &Emulator) -> (usize, usize, usize) {
    (emu.count("GET", "/api/esc/"), emu.count("PATCH", "/api/esc/"), emu.count("POST", "/api/esc/"))
}

fn decrypted(emu: &Emulator, env: &str) -> Value {
    emu.state().esc.decrypted(env).expect("environment exists")
}

#[test]
fn plan_sync_and_an_unchanged_second_run() {
    let emu = emulator();
    let ws = workspace();

    // plan: reads only.
    let out = run(&ws, &emu, "plan", &secrets(OPENAI), &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(counts(&emu), (3, 0, 0));
    snapshot_targets!("esc_plan", &out);

    // First sync: one write per environment, and the missing one is created.
    // An existing environment that changes is read twice: decrypted to
    // plan, as stored to edit (the text the user wrote, ciphertext kept).
    // The created one is read once after creation, for the ETag its PATCH
    // carries: every PATCH has one.
    emu.clear_log();
    let out = run(&ws, &emu, "sync", &secrets(OPENAI), &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(counts(&emu), (6, 3, 1));
    assert_eq!(emu.state().esc.patches_without_etag, 0, "a PATCH went without an ETag");
    assert_eq!(emu.count("PATCH", APP), 1);
    assert_eq!(emu.count("POST", "/api/esc/environments/acme"), 1);
    snapshot_targets!("esc_first_sync", &out);

    // Everything else in the definitions survived.
    let before = to_json(&definition::parse(&app_definition()).unwrap());
    let after = decrypted(&emu, APP);
    assert_eq!(after["imports"], before["imports"]);
    assert_eq!(after["x-owner"], before["x-owner"]);
    for k in ["region", "featureFlags"] {
        assert_eq!(after["values"][k], before["values"][k], "{k}");
    }
    assert_eq!(after["values"]["db"]["pool"], Value::from(5));
    assert_eq!(after["values"]["environmentVariables"]["REGION"], Value::from("${region}"));
    assert_eq!(after["values"]["environmentVariables"]["OPENAI_API_KEY"], Value::from("${openai.apiKey}"));
    assert_eq!(after["values"]["openai"]["apiKey"]["fn::secret"], Value::from(OPENAI));
    assert_eq!(after["values"]["db"]["url"]["fn::secret"], Value::from(DB));
    // Text outside the managed entries is kept byte for byte (the corpus
    // tests prove it in depth): here, the top-level keys and their order.
    let stored = emu.state().esc.env(APP).unwrap().text.clone();
    assert!(stored.starts_with("imports:\n  - shared/base\nvalues:\n  region: eu-west-1\n"), "{stored}");
    assert!(stored.ends_with("\nx-owner: platform\n"), "{stored}");
    assert_eq!(decrypted(&emu, WORKER)["values"]["queue"], Value::from("jobs"));
    assert_eq!(decrypted(&emu, BILLING)["values"]["stripe"]["secretKey"]["fn::secret"], Value::from(STRIPE));
    let stored = emu.state().esc.env(APP).unwrap().text.clone();
    assert!(!stored.contains(OPENAI) && !stored.contains(DB), "secrets stored in plaintext");
    let worker = emu.state().esc.env(WORKER).unwrap().text.clone();
    assert!(
        worker.starts_with("# Worker settings, maintained by hand.\nvalues:\n  queue: jobs # the main queue\n"),
        "{worker}"
    );
    let revision = emu.state().esc.env(APP).unwrap().revision;

    // Second identical run: reads only, no new revision.
    emu.clear_log();
    let out = run(&ws, &emu, "sync", &secrets(OPENAI), &[]);
    assert_eq!(out.code, 0);
    assert_eq!(counts(&emu), (3, 0, 0));
    assert_eq!(emu.state().esc.env(APP).unwrap().revision, revision);
    assert_eq!(out.report_json()["counts"]["unchanged"], 8);
    snapshot_targets!("esc_unchanged", &out);

    // One changed value: exactly that key, only where it is routed.
    emu.clear_log();
    let out = run(&ws, &emu, "sync", &secrets(OPENAI_2), &[]);
    assert_eq!(out.code, 0);
    assert_eq!(counts(&emu), (5, 2, 0));
    assert_eq!((emu.count("PATCH", APP), emu.count("PATCH", WORKER), emu.count("PATCH", BILLING)), (1, 1, 0));
    let report = out.report_json();
    for t in report["targets"].as_array().unwrap() {
        let changed: Vec<&str> = t["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["action"] != "unchanged")
            .map(|c| c["key"].as_str().unwrap())
            .collect();
        let want: &[&str] = if t["id"] == "esc:billing" { &[] } else { &["openai.apiKey"] };
        assert_eq!(changed, want, "{}", t["id"]);
    }
    assert_eq!(decrypted(&emu, APP)["values"]["openai"]["apiKey"]["fn::secret"], Value::from(OPENAI_2));
    snapshot_targets!("esc_one_change", &out);
}

fn colleague_saves(st: &mut secret_sync_emulators::State) {
    let env = st.esc.envs.get_mut(&("acme".into(), "app".into(), "production".into())).unwrap();
    env.text = env.text.replace("beta: true", "beta: true\n    addedByColleague: yes");
    env.revision += 1;
}

#[test]
fn a_concurrent_edit_is_retried_without_losing_it() {
    let ws = workspace();
    // (path the colleague's save follows, GETs and PATCHes of `app`)
    let cases = [
        // Between secret-sync's two reads: a new revision, so it plans again.
        (Fault::on("GET", format!("{APP}/decrypt"), 1, FaultKind::After(Box::new(colleague_saves))), (4, 1)),
        // Between the read of the stored text and the write: ESC answers 409
        // to the stale ETag, and secret-sync starts over.
        (
            Fault::on("GET", format!("/api/esc/environments/{APP}"), 1, FaultKind::After(Box::new(colleague_saves)))
                .exact(),
            (4, 2),
        ),
    ];
    for (fault, requests) in cases {
        let emu = emulator();
        emu.fault(fault);
        let out = run(&ws, &emu, "sync", &secrets(OPENAI), &[]);
        assert_eq!(out.code, 0, "{}", out.stdout);
        assert_eq!((emu.count("GET", APP), emu.count("PATCH", APP)), requests);
        let after = decrypted(&emu, APP);
        assert_eq!(after["values"]["featureFlags"]["addedByColleague"], Value::from("yes"));
        assert_eq!(after["values"]["openai"]["apiKey"]["fn::secret"], Value::from(OPENAI));
    }
}

#[test]
fn faults_are_reported_per_environment() {
    let emu = emulator();
    let ws = workspace();
    emu.fault(Fault::on("GET", APP, 1, FaultKind::Status { code: 429, retry_after: Some(1) }));
    emu.fault(Fault::on("GET", WORKER, 99, FaultKind::Status { code: 500, retry_after: None }));
    emu.fault(Fault::on("GET", BILLING, 99, FaultKind::Delay(std::time::Duration::from_millis(1500))));
    let started = std::time::Instant::now();
    let out = run(&ws, &emu, "sync", &secrets(OPENAI), &[]);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "Retry-After was not honoured");
    assert_eq!(out.code, 1, "{}", out.stdout);
    // 429 then success, then the stored text: app synced; 500 three times (retries 2); billing timed out.
    assert_eq!((emu.count("GET", APP), emu.count("PATCH", APP)), (3, 1));
    assert_eq!((emu.count("GET", WORKER), emu.count("PATCH", WORKER)), (3, 0));
    assert_eq!((emu.count("GET", BILLING), emu.count("PATCH", BILLING)), (3, 0));
    let report = out.report_json();
    let status =
        |id: &str| report["targets"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap()["status"].clone();
    assert_eq!(status("esc:app"), "synced");
    assert_eq!(status("esc:worker"), "failed");
    assert_eq!(status("esc:billing"), "failed");
    snapshot_targets!("esc_faults", &out);
}

#[test]
fn missing_environment_and_rejected_token() {
    let emu = Emulator::start();
    emu.state().esc.tokens.insert(TOKEN.into());
    emu.state().esc.seed(WORKER, &worker_definition());
    let ws = workspace();
    let out = run(&ws, &emu, "sync", &secrets(OPENAI), &[]);
    assert_eq!(out.code, 1);
    let report = out.report_json();
    let t = |id: &str| report["targets"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap().clone();
    assert_eq!(t("esc:app")["status"], "failed");
    assert!(t("esc:app")["message"].as_str().unwrap().contains("`acme/app/production` does not exist"));
    assert_eq!(t("esc:worker")["status"], "synced");
    assert_eq!(t("esc:billing")["status"], "synced");

    emu.clear_log();
    let out = run(&ws, &emu, "sync", &secrets(OPENAI), &[("esc-token", "pul-wrong-token-000000000")]);
    assert_eq!(out.code, 1);
    assert_eq!(counts(&emu), (3, 0, 0));
    assert!(!out.everything_visible().contains("pul-wrong-token"));
    snapshot_targets!("esc_bad_token", &out);
}

#[test]
fn oidc_replaces_the_long_lived_token() {
    let emu = emulator();
    {
        let mut st = emu.state();
        st.esc.oidc_request_token = Some("runner-request-token-123456".into());
        st.esc.oidc_orgs.insert("acme".into());
    }
    let ws = workspace();
    let url = format!("{}{OIDC_PATH}?api-version=2.0", emu.url);
    let mut inputs = vec![("mode", "sync"), ("esc-api-url", emu.url.as_str()), ("esc-token", "")];
    let json = secrets(OPENAI);
    inputs.push(("secrets", &json));
    let mut env = FAST.to_vec();
    env.push(("ACTIONS_ID_TOKEN_REQUEST_URL", &url));
    env.push(("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-request-token-123456"));
    let out = ws.action(&inputs, &env);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // One ID token and one exchange for the one org, then the usual calls.
    assert_eq!(emu.count("GET", OIDC_PATH), 1);
    assert_eq!(emu.count("POST", "/api/oauth/token"), 1);
    assert_eq!(emu.count("PATCH", "/api/esc/"), 3);
    let masks = out.mask_lines().join("\n");
    assert!(masks.contains("::add-mask::pul-oidc"), "the exchanged token was not masked");
    assert!(masks.contains("::add-mask::eyJ"), "the ID token was not masked");
    assert!(!out.stdout_unmasked().contains("pul-oidc") && !out.stderr.contains("pul-oidc"));

    // An org without a registered issuer: a clear per-target error, no crash.
    emu.state().esc.oidc_orgs.clear();
    let out = ws.action(&inputs, &env);
    assert_eq!(out.code, 1);
    assert!(out.summary.contains("invalid_grant"), "{}", out.summary);
}

#[test]
fn oidc_asks_for_the_team_token_the_inputs_name_as_esc_action_does() {
    let emu = emulator();
    {
        let mut st = emu.state();
        st.esc.oidc_request_token = Some("runner-request-token-123456".into());
        st.esc.oidc_orgs.insert("acme".into());
        // The issuer's only policy grants the `platform` team's token.
        st.esc.oidc_policies.insert("acme".into(), vec![("team".into(), "team:platform".into())]);
    }
    let ws = workspace();
    let url = format!("{}{OIDC_PATH}?api-version=2.0", emu.url);
    let json = secrets(OPENAI);
    let mut env = FAST.to_vec();
    env.push(("ACTIONS_ID_TOKEN_REQUEST_URL", &url));
    env.push(("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-request-token-123456"));
    let base = [("mode", "sync"), ("esc-api-url", emu.url.as_str()), ("esc-token", ""), ("secrets", json.as_str())];

    // Without the inputs: an organization token, which this issuer refuses.
    let out = ws.action(&base, &env);
    assert_eq!(out.code, 1, "{}", out.summary);
    assert!(out.summary.contains("invalid_grant"), "{}", out.summary);

    let mut inputs = base.to_vec();
    inputs.extend([
        ("esc-oidc-requested-token-type", "urn:pulumi:token-type:access_token:team"),
        ("esc-oidc-scope", "team:platform"),
        ("esc-oidc-token-expiration", "3600"),
    ]);
    emu.clear_log();
    emu.state().esc.exchanges.clear();
    let out = ws.action(&inputs, &env);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(emu.count("POST", "/api/oauth/token"), 1);
    // The body @pulumi/actions-helpers' exchangeIdToken sends for esc-action's
    // `oidc-requested-token-type`, `oidc-scope` and `oidc-token-expiration`.
    let mut sent = emu.state().esc.exchanges.clone();
    assert_eq!(sent.len(), 1);
    let subject = sent[0]["subject_token"].take();
    assert!(subject.as_str().is_some_and(|t| t.starts_with("eyJ")), "{subject}");
    assert_eq!(
        sent[0],
        serde_json::json!({
            "audience": "urn:pulumi:org:acme",
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "requested_token_type": "urn:pulumi:token-type:access_token:team",
            "subject_token": null,
            "expiration": 3600,
            "scope": "team:platform",
        })
    );
    assert_eq!(emu.count("PATCH", "/api/esc/"), 3);

    // The plain word works too; a team token without its team is refused
    // before anything is sent.
    inputs[4] = ("esc-oidc-requested-token-type", "team");
    inputs[5] = ("esc-oidc-scope", "");
    emu.clear_log();
    let out = ws.action(&inputs, &env);
    assert_eq!(out.code, 3, "{}", out.stdout);
    assert!(emu.log().is_empty(), "{:?}", emu.log());
    insta::assert_snapshot!(
        "esc_oidc_team_without_scope",
        out.stdout_unmasked().lines().find(|l| l.contains("esc-oidc")).unwrap_or_default()
    );
}

#[test]
fn pruning_is_opt_in_owned_only_and_capped() {
    let emu = emulator();
    let ws = workspace();
    assert_eq!(run(&ws, &emu, "sync", &secrets(OPENAI), &[]).code, 0);
    // The manifest stops routing SLACK_BOT_TOKEN to the worker.
    let text = std::fs::read_to_string(repo().join("tests/fixtures/esc-manifest.yml")).unwrap();
    let cut = text.find("  SLACK_BOT_TOKEN:").unwrap();
    ws.manifest_text(&text[..cut]);

    emu.clear_log();
    let out = run(&ws, &emu, "sync", &secrets(OPENAI), &[]);
    assert_eq!(out.code, 0);
    assert_eq!(emu.count("PATCH", WORKER), 0, "deleted without prune");

    let out = run(&ws, &emu, "sync", &secrets(OPENAI), &[("prune", "true"), ("max-deletes", "1")]);
    assert_eq!(out.code, 1);
    assert!(out.summary.contains("more than `max-deletes` (1)"), "{}", out.summary);
    assert_eq!(emu.count("PATCH", WORKER), 0, "deleted beyond the cap");

    let out = run(&ws, &emu, "sync", &secrets(OPENAI), &[("prune", "true")]);
    assert_eq!(out.code, 0, "{}", out.summary);
    let after = decrypted(&emu, WORKER);
    assert!(after["values"]["slack"].get("botToken").is_none());
    assert!(after["values"]["environmentVariables"].get("SLACK_BOT_TOKEN").is_none());
    assert_eq!(after["values"]["queue"], Value::from("jobs"), "an unowned key was deleted");
    snapshot_targets!("esc_pruned", &out);
}

#[test]
fn an_owned_key_whose_optional_value_is_absent_survives_pruning() {
    let emu = emulator();
    let ws = workspace();
    assert_eq!(run(&ws, &emu, "sync", &secrets(OPENAI), &[]).code, 0);
    assert!(decrypted(&emu, WORKER)["values"]["slack"].get("botToken").is_some());
    // SLACK_BOT_TOKEN becomes optional, and this run has no value for it:
    // held back, so its path and its environment variable stay secret-sync's.
    let text = std::fs::read_to_string(repo().join("tests/fixtures/esc-manifest.yml")).unwrap();
    ws.manifest_text(&text.replace("    format: slack-bot\n", "    format: slack-bot\n    required: false\n"));
    let without: Value = {
        let mut v: Value = serde_json::from_str(&secrets(OPENAI)).unwrap();
        v.as_object_mut().unwrap().remove("SLACK_BOT_TOKEN");
        v
    };
    emu.clear_log();
    let out = run(&ws, &emu, "sync", &without.to_string(), &[("prune", "true")]);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(emu.count("PATCH", WORKER), 0, "the worker was written: {}", out.summary);
    let after = decrypted(&emu, WORKER);
    assert!(after["values"]["slack"].get("botToken").is_some(), "a held-back owned key was pruned");
    assert_eq!(after["values"]["environmentVariables"]["SLACK_BOT_TOKEN"], Value::from("${slack.botToken}"));
    // The value comes back: nothing to write, the key is still owned.
    let out = run(&ws, &emu, "sync", &secrets(OPENAI), &[("prune", "true")]);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(emu.count("PATCH", WORKER), 0);
    let owned = &decrypted(&emu, WORKER)["values"]["secretSyncManaged"]["paths"];
    assert!(owned.as_array().unwrap().contains(&Value::from("slack.botToken")), "{owned}");
}
