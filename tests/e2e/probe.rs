//! Liveness probes, end to end: the binary runs as the action with
//! `probe: true` against the emulated "who am I" endpoint of each built-in
//! service. Request counts are exact (no retries: a probe asks once).

use secret_sync::probe::Service;
use secret_sync_emulators::{Emulator, Fault, FaultKind};

use crate::harness::{Output, Workspace};

const MANIFEST: &str = r#"
version: 1
groups:
  quiet: { probe: false }
secrets:
  OPENAI_API_KEY: { format: openai }
  OPENAI_ADMIN_KEY: { format: openai }
  ANTHROPIC_API_KEY: { format: anthropic }
  SLACK_BOT_TOKEN: { format: slack-bot }
  GH_PAT: { format: github }
  STRIPE_SECRET_KEY: { format: stripe }
  FLY_DEPLOY_TOKEN: { format: fly }
  PULUMI_ACCESS_TOKEN: { format: pulumi }
  SLACK_APP_TOKEN: { format: slack-app, group: quiet }
  DATABASE_URL: { format: postgres-url }
"#;

/// (secret, service, value); OPENAI_ADMIN_KEY shares OPENAI_API_KEY's value.
const VALUES: &[(&str, Service, &str)] = &[
    ("OPENAI_API_KEY", Service::Openai, "sk-proj-probeE2eOpenai00000000000000"),
    ("ANTHROPIC_API_KEY", Service::Anthropic, "sk-ant-api03-probeE2eAnthropic000000"),
    ("SLACK_BOT_TOKEN", Service::Slack, "xoxb-1234-5678-probeE2eSlack000000"),
    ("GH_PAT", Service::Github, "ghp_probeE2eGithub0000000000000000000"),
    ("STRIPE_SECRET_KEY", Service::Stripe, "sk_test_probeE2eStripe00000000000000"),
    ("FLY_DEPLOY_TOKEN", Service::Fly, "fm2_probeE2eFlyMacaroon0000000000"),
    ("PULUMI_ACCESS_TOKEN", Service::Pulumi, "pul-probeE2ePulumi00000000000000000"),
];

/// The route each probe calls, as the emulator sees it.
fn route(s: Service) -> (&'static str, String) {
    let path = match s {
        Service::Openai | Service::Anthropic => "v1/models",
        Service::Slack => "api/auth.test",
        Service::Github => "rate_limit",
        Service::Stripe => "v1/balance",
        Service::Fly => "graphql",
        Service::Pulumi => "api/user",
    };
    let method = if matches!(s, Service::Slack | Service::Fly) { "POST" } else { "GET" };
    (method, format!("/_probe/{}/{path}", s.name()))
}

fn secrets_json() -> String {
    let mut map = serde_json::Map::new();
    for (name, _, v) in VALUES {
        map.insert(name.to_string(), (*v).into());
    }
    map.insert("OPENAI_ADMIN_KEY".into(), VALUES[0].2.into());
    map.insert("SLACK_APP_TOKEN".into(), "xapp-1-A0-probeE2eNeverProbed000".into());
    map.insert("DATABASE_URL".into(), "postgres://app:pw@db.internal:5432/app".into());
    serde_json::Value::Object(map).to_string()
}

/// An emulator accepting every value.
fn emulator() -> Emulator {
    let emu = Emulator::start();
    for (_, s, v) in VALUES {
        emu.state().probes.accept(s.name(), v);
    }
    emu
}

fn urls(emu: &Emulator) -> Vec<(String, String)> {
    Service::ALL.iter().map(|s| (s.env_var(), format!("{}/_probe/{}", emu.url, s.name()))).collect()
}

fn run(ws: &Workspace, emu: &Emulator, probe: &str, extra: &[(&str, &str)]) -> Output {
    let urls = urls(emu);
    let mut env: Vec<(&str, &str)> = urls.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.extend_from_slice(extra);
    let json = secrets_json();
    ws.action(&[("mode", "validate"), ("secrets", &json), ("probe", probe)], &env)
}

fn probe_statuses(out: &Output) -> Vec<(String, String)> {
    out.report_json()["probes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| (p["secret"].as_str().unwrap().to_string(), p["status"].as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_built_in_probe_confirms_a_live_credential_with_one_call() {
    let emu = emulator();
    let ws = Workspace::new();
    ws.manifest_text(MANIFEST);
    let out = run(&ws, &emu, "true", &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for (_, s, _) in VALUES {
        let (method, path) = route(*s);
        // One call per service: the OpenAI value two secrets share is asked once.
        assert_eq!(emu.count_exact(method, &path), 1, "{path}");
    }
    assert_eq!(emu.log().len(), 7, "{:?}", emu.log());
    let statuses = probe_statuses(&out);
    assert_eq!(statuses.len(), 8, "{statuses:?}");
    assert!(statuses.iter().all(|(_, s)| s == "live"), "{statuses:?}");
    assert!(!statuses.iter().any(|(n, _)| n == "SLACK_APP_TOKEN"), "group `probe: false` was ignored");
    insta::assert_snapshot!("probe_live__summary", out.summary);
    insta::assert_json_snapshot!("probe_live__report_probes", out.report_json()["probes"]);
}

#[test]
fn probes_are_off_unless_asked() {
    let emu = emulator();
    let ws = Workspace::new();
    ws.manifest_text(MANIFEST);
    let out = run(&ws, &emu, "false", &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(emu.log().is_empty(), "{:?}", emu.log());
    assert!(out.report_json().get("probes").is_none());
    // `defaults.probe: false` turns them off but for a secret's own `probe: true`.
    ws.manifest_text(
        "version: 1\ndefaults: { probe: false }\nsecrets:\n  OPENAI_API_KEY: { format: openai }\n  GH_PAT: { format: github, probe: true }\n",
    );
    let out = run(&ws, &emu, "true", &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(probe_statuses(&out), vec![("GH_PAT".to_string(), "live".to_string())]);
    assert_eq!(emu.log().len(), 1, "{:?}", emu.log());
}

#[test]
fn revoked_or_invalid_credentials_are_errors_and_held_back() {
    let emu = emulator();
    {
        let mut st = emu.state();
        st.probes.revoke(Service::Slack.name(), VALUES[2].2);
        st.probes.revoke(Service::Openai.name(), VALUES[0].2);
        st.probes.revoke(Service::Fly.name(), VALUES[5].2);
    }
    let ws = Workspace::new();
    ws.manifest_text(MANIFEST);
    let out = run(&ws, &emu, "true", &[]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let report = out.report_json();
    let rejected: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "probe-rejected")
        .map(|f| f["secret"].as_str().unwrap())
        .collect();
    assert_eq!(rejected, ["OPENAI_API_KEY", "OPENAI_ADMIN_KEY", "SLACK_BOT_TOKEN", "FLY_DEPLOY_TOKEN"]);
    let state = |n: &str| {
        report["secrets"].as_array().unwrap().iter().find(|s| s["name"] == n).unwrap()["state"].as_str().unwrap()
    };
    assert_eq!(state("SLACK_BOT_TOKEN"), "invalid", "a rejected value must not be synced");
    assert_eq!(state("GH_PAT"), "ok");
    insta::assert_snapshot!("probe_rejected__annotations", out.stdout_unmasked());
    insta::assert_snapshot!("probe_rejected__summary", out.summary);
}

#[test]
fn rate_limits_outages_timeouts_and_unreachable_hosts_are_warnings() {
    let emu = emulator();
    emu.fault(Fault::on("GET", "/_probe/openai/", 1, FaultKind::Status { code: 429, retry_after: Some(30) }));
    emu.fault(Fault::on("GET", "/_probe/anthropic/", 1, FaultKind::Status { code: 529, retry_after: None }));
    emu.fault(Fault::on("GET", "/_probe/pulumi/", 1, FaultKind::Status { code: 503, retry_after: None }));
    emu.fault(Fault::on("POST", "/_probe/slack/", 1, FaultKind::Delay(std::time::Duration::from_secs(3))));
    let ws = Workspace::new();
    ws.manifest_text(MANIFEST);
    // Stripe's host is unreachable (a closed port).
    let out = run(
        &ws,
        &emu,
        "true",
        &[("SECRET_SYNC_PROBE_STRIPE_URL", "http://127.0.0.1:9"), ("SECRET_SYNC_PROBE_TIMEOUT_MS", "300")],
    );
    assert_eq!(out.code, 0, "warnings never fail the run at fail-on: error\n{}", out.stdout);
    let statuses = probe_statuses(&out);
    let status = |n: &str| statuses.iter().find(|(s, _)| s == n).unwrap().1.clone();
    for n in ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "PULUMI_ACCESS_TOKEN", "SLACK_BOT_TOKEN", "STRIPE_SECRET_KEY"] {
        assert_eq!(status(n), "inconclusive", "{n}");
    }
    assert_eq!(status("GH_PAT"), "live");
    // Asked once each: a probe is not retried.
    assert_eq!(emu.count_exact("GET", "/_probe/openai/v1/models"), 1);
    assert_eq!(emu.count_exact("POST", "/_probe/slack/api/auth.test"), 1);
    assert_eq!(out.report_json()["counts"]["warnings"], 6, "{}", out.summary);
    insta::assert_snapshot!("probe_inconclusive__annotations", out.stdout_unmasked());
    // At `fail-on: warning` they do fail it.
    let json = secrets_json();
    let urls = urls(&emu);
    let env: Vec<(&str, &str)> = urls.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    emu.fault(Fault::on("GET", "/_probe/openai/", 1, FaultKind::Status { code: 429, retry_after: None }));
    let out = ws.action(&[("mode", "validate"), ("secrets", &json), ("probe", "true"), ("fail-on", "warning")], &env);
    assert_eq!(out.code, 2, "{}", out.stdout);
}

#[test]
fn a_manifest_cannot_send_a_value_elsewhere() {
    let emu = emulator();
    let ws = Workspace::new();
    ws.manifest_text(
        r#"version: 1
secrets:
  OPENAI_API_KEY:
    format: openai
    probe: https://collector.example.net/openai
  STRIPE_SECRET_KEY:
    format: stripe
    probe:
      url: https://api.stripe.com.evil.example/v1/balance
      header: Authorization
  SLACK_BOT_TOKEN: { format: slack-bot, probe: github }
  SENTRY_DSN: { format: url, probe: true }
  GH_PAT: { probe: api.github.example }
"#,
    );
    let out = run(&ws, &emu, "true", &[]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(emu.log().is_empty(), "a request was made: {:?}", emu.log());
    assert_eq!(out.report_json()["outcome"]["status"], "manifest-invalid");
    insta::assert_snapshot!("probe_refused_manifest__annotations", out.stdout_unmasked());
}

#[test]
fn a_probe_override_must_be_https_or_loopback() {
    let emu = emulator();
    let ws = Workspace::new();
    ws.manifest_text(MANIFEST);
    let out = run(&ws, &emu, "true", &[("SECRET_SYNC_PROBE_OPENAI_URL", "http://api.openai.example")]);
    assert_eq!(out.code, 3, "{}", out.stdout);
    assert!(out.stdout_unmasked().contains("`SECRET_SYNC_PROBE_OPENAI_URL` must be an https:// URL"), "{}", out.stdout);
    assert!(emu.log().is_empty());
}
