//! Liveness probes, end to end: the binary runs as the action with
//! `probe: true` against the emulated "who am I" endpoint of each built-in
//! service. Request counts are exact (no retries: a probe asks once).

use secret_sync::probe::Service;
use secret_sync_emulators::probes::Refusal;
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
        Service::Kind(k) => unreachable!("`{}` is a target kind's probe, on its own emulator", k.name),
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

/// Findings of one kind: (secret, severity).
fn findings_of(out: &Output, kind: &str) -> Vec<(String, String)> {
    out.report_json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == kind)
        .map(|f| (f["secret"].as_str().unwrap().to_string(), f["severity"].as_str().unwrap().to_string()))
        .collect()
}

fn secret_state(out: &Output, name: &str) -> String {
    let report = out.report_json();
    let s = report["secrets"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap();
    s["state"].as_str().unwrap().to_string()
}

#[test]
fn revoked_or_invalid_credentials_are_errors_and_held_back() {
    // Every service's documented invalid-key answer: OpenAI 401
    // `invalid_api_key`, Anthropic 401 `authentication_error`, Slack
    // `token_revoked`, GitHub 401 `Bad credentials`, Stripe 401, Fly 401,
    // Pulumi 401.
    let emu = emulator();
    {
        let mut st = emu.state();
        for (_, s, v) in VALUES {
            st.probes.revoke(s.name(), v);
        }
    }
    let ws = Workspace::new();
    ws.manifest_text(MANIFEST);
    let out = run(&ws, &emu, "true", &[]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let rejected: Vec<String> = findings_of(&out, "probe-rejected").into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        rejected,
        [
            "OPENAI_API_KEY",
            "OPENAI_ADMIN_KEY",
            "ANTHROPIC_API_KEY",
            "SLACK_BOT_TOKEN",
            "GH_PAT",
            "STRIPE_SECRET_KEY",
            "FLY_DEPLOY_TOKEN",
            "PULUMI_ACCESS_TOKEN"
        ]
    );
    for n in &rejected {
        assert_eq!(secret_state(&out, n), "invalid", "{n}: a rejected value must not be synced");
    }
    assert_eq!(secret_state(&out, "DATABASE_URL"), "ok");
    insta::assert_snapshot!("probe_rejected__annotations", out.stdout_unmasked());
    insta::assert_snapshot!("probe_rejected__summary", out.summary);
}

#[test]
fn a_working_key_refused_here_is_a_warning_and_is_not_held_back() {
    // The documented "valid, but not from here / not for this": OpenAI 401
    // `IP not authorized`, Anthropic 403 `permission_error`, Slack
    // `invalid_auth` (its docs give it for a disallowed IP address too),
    // GitHub 403 IP allow list, Stripe 403 restricted key. Fly and Pulumi
    // document no such answer (their refused tokens are simply served).
    let emu = emulator();
    {
        let mut st = emu.state();
        st.probes.refuse(Service::Openai.name(), VALUES[0].2, Refusal::Address);
        st.probes.refuse(Service::Anthropic.name(), VALUES[1].2, Refusal::Permission);
        st.probes.refuse(Service::Slack.name(), VALUES[2].2, Refusal::Address);
        st.probes.refuse(Service::Github.name(), VALUES[3].2, Refusal::Address);
        st.probes.refuse(Service::Stripe.name(), VALUES[4].2, Refusal::Permission);
    }
    let ws = Workspace::new();
    ws.manifest_text(MANIFEST);
    let out = run(&ws, &emu, "true", &[]);
    assert_eq!(out.code, 0, "a refusal here does not fail the run\n{}", out.stdout);
    let refused = findings_of(&out, "probe-refused");
    let names: Vec<&str> = refused.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["OPENAI_API_KEY", "OPENAI_ADMIN_KEY", "ANTHROPIC_API_KEY", "SLACK_BOT_TOKEN", "GH_PAT", "STRIPE_SECRET_KEY"]
    );
    assert!(refused.iter().all(|(_, sev)| sev == "warning"), "{refused:?}");
    assert!(findings_of(&out, "probe-rejected").is_empty());
    for n in names {
        assert_eq!(secret_state(&out, n), "ok", "{n} was held back");
    }
    let statuses = probe_statuses(&out);
    let status = |n: &str| statuses.iter().find(|(s, _)| s == n).unwrap().1.clone();
    assert_eq!(status("STRIPE_SECRET_KEY"), "refused");
    assert_eq!(status("FLY_DEPLOY_TOKEN"), "live");
    insta::assert_snapshot!("probe_refused_here__annotations", out.stdout_unmasked());
    insta::assert_snapshot!("probe_refused_here__summary", out.summary);

    // The other documented refusals: OpenAI 403 for the country, region or
    // territory, GitHub 403 for SAML enforcement.
    {
        let mut st = emu.state();
        st.probes.refuse(Service::Openai.name(), VALUES[0].2, Refusal::Region);
        st.probes.refuse(Service::Github.name(), VALUES[3].2, Refusal::Permission);
    }
    let out = run(&ws, &emu, "true", &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let reasons: Vec<String> = out.report_json()["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["secret"] == "OPENAI_API_KEY" || p["secret"] == "GH_PAT")
        .map(|p| format!("{}: {}", p["status"].as_str().unwrap(), p["detail"].as_str().unwrap()))
        .collect();
    insta::assert_debug_snapshot!("probe_refused_here__region_and_saml", reasons);
}

#[test]
fn an_answer_no_documentation_describes_is_a_notice() {
    // A 403 whose body is none of the service's documented errors (a proxy,
    // a new error): not "invalid", not "not allowed here".
    let emu = emulator();
    for s in Service::ALL {
        let (method, path) = route(s);
        emu.fault(Fault::on(method, path, 1, FaultKind::Status { code: 403, retry_after: None }));
    }
    let ws = Workspace::new();
    ws.manifest_text(MANIFEST);
    let out = run(&ws, &emu, "true", &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let unknown = findings_of(&out, "probe-unknown");
    assert_eq!(unknown.len(), 8, "{unknown:?}");
    assert!(unknown.iter().all(|(_, sev)| sev == "notice"), "{unknown:?}");
    assert!(findings_of(&out, "probe-rejected").is_empty() && findings_of(&out, "probe-refused").is_empty());
    assert_eq!(secret_state(&out, "SLACK_BOT_TOKEN"), "ok");
    assert!(probe_statuses(&out).iter().all(|(_, s)| s == "unknown"), "{:?}", probe_statuses(&out));
    assert_eq!(emu.log().len(), 7, "{:?}", emu.log());
    insta::assert_snapshot!("probe_unknown__annotations", out.stdout_unmasked());
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

/// Vercel's token probe, contributed by its target kind: named per secret
/// (`probe: vercel`: Vercel tokens have no recognisable format), sent to
/// `GET /v2/user` on the Vercel emulator (`SECRET_SYNC_PROBE_VERCEL_URL`).
mod vercel {
    use super::*;

    const TOKEN: &str = "vercel-probe-e2e-action-token-3b7f";
    const TEAM: &str = "team_probe0000000000000000";
    const WEB: &str = "prj_probeweb000000000000000";
    const LIVE: &str = "vercel-probe-e2e-live-token-91c2";
    const LIMITED: &str = "vercel-probe-e2e-limited-token-5d0e";
    const REVOKED: &str = "vercel-probe-e2e-revoked-token-a4f8";
    const API_KEY: &str = "api-key-vercel-probe-e2e-77e1";

    const MANIFEST: &str = r#"
version: 1
environments:
  production: { source_prefix: PROD_ }
targets:
  vercel:
    web: { environment: production, project: web, team: team_probe0000000000000000, redeploy: false }
secrets:
  VERCEL_DEPLOY_TOKEN: { probe: vercel, to: [ { vercel: web } ] }
  API_KEY: { to: [ { vercel: web } ] }
"#;

    fn emulator() -> Emulator {
        let emu = Emulator::start();
        let mut st = emu.state();
        st.vercel.seed_project(TOKEN, TEAM, "acme", WEB, "web");
        st.vercel.add_token(LIVE, &[]);
        st.vercel.add_token(LIMITED, &[]);
        st.vercel.limited.insert(LIMITED.to_string());
        drop(st);
        emu
    }

    /// A sync of `web` with `token` as `VERCEL_DEPLOY_TOKEN`'s value.
    fn sync(emu: &Emulator, token: &str, extra: &[(&str, &str)]) -> Output {
        let ws = Workspace::new();
        ws.manifest_text(MANIFEST);
        let secrets = serde_json::json!({ "PROD_VERCEL_DEPLOY_TOKEN": token, "PROD_API_KEY": API_KEY }).to_string();
        let mut inputs =
            vec![("mode", "sync"), ("secrets", secrets.as_str()), ("vercel-token", TOKEN), ("probe", "true")];
        inputs.extend_from_slice(extra);
        emu.clear_log();
        let out = ws.action(
            &inputs,
            &[("SECRET_SYNC_VERCEL_API_URL", emu.url.as_str()), ("SECRET_SYNC_PROBE_VERCEL_URL", emu.url.as_str())],
        );
        let shown = out.everything_visible();
        for v in [TOKEN, token, API_KEY] {
            assert!(!shown.contains(v), "a value was shown");
        }
        out
    }

    fn requests(emu: &Emulator) -> Vec<String> {
        emu.log().iter().map(|l| format!("{} {}", l.method, l.path)).collect()
    }

    fn held_back(out: &Output) -> serde_json::Value {
        out.report_json()["targets"].as_array().unwrap().iter().find(|t| t["id"] == "vercel:web").unwrap()["held_back"]
            .clone()
    }

    #[test]
    fn a_live_token_is_asked_once_and_synced() {
        let emu = emulator();
        let out = sync(&emu, LIVE, &[]);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        assert_eq!(
            requests(&emu),
            ["GET /v2/user", "GET /v10/projects/web/env", "POST /v10/projects/web/env"],
            "one probe, then the target's read and one upsert"
        );
        assert_eq!(probe_statuses(&out), [("VERCEL_DEPLOY_TOKEN".to_string(), "live".to_string())]);
        let probes = out.report_json()["probes"].clone();
        assert_eq!(probes[0]["service"], "vercel");
        assert_eq!(probes[0]["call"], "GET /v2/user");
        assert_eq!(emu.state().vercel.value(WEB, "VERCEL_DEPLOY_TOKEN", "production"), Some(LIVE));
        assert_eq!(held_back(&out), serde_json::json!([]));
    }

    #[test]
    fn a_limited_token_is_live() {
        // `{user: {…, limited: true}}`: the token may not read the full user, but works.
        let emu = emulator();
        let out = sync(&emu, LIMITED, &[]);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        assert_eq!(emu.count_exact("GET", "/v2/user"), 1);
        assert_eq!(requests(&emu).len(), 3, "{:?}", requests(&emu));
        assert_eq!(probe_statuses(&out), [("VERCEL_DEPLOY_TOKEN".to_string(), "live".to_string())]);
        assert!(findings_of(&out, "probe-rejected").is_empty() && findings_of(&out, "probe-refused").is_empty());
        assert_eq!(emu.state().vercel.value(WEB, "VERCEL_DEPLOY_TOKEN", "production"), Some(LIMITED));
    }

    #[test]
    fn a_revoked_token_is_rejected_and_held_back_from_the_target() {
        // 403 `invalidToken`: the value is invalid and no target gets it.
        let emu = emulator();
        let out = sync(&emu, REVOKED, &[]);
        assert_eq!(out.code, 2, "{}", out.stdout);
        assert_eq!(findings_of(&out, "probe-rejected"), [("VERCEL_DEPLOY_TOKEN".to_string(), "error".to_string())]);
        assert_eq!(secret_state(&out, "VERCEL_DEPLOY_TOKEN"), "invalid");
        assert_eq!(held_back(&out), serde_json::json!(["VERCEL_DEPLOY_TOKEN"]));
        // A failing value holds every write back at `fail-on: error`: read only.
        assert_eq!(requests(&emu), ["GET /v2/user", "GET /v10/projects/web/env"]);
        assert_eq!(emu.state().vercel.envs(WEB).len(), 0);
        let finding: String = out.stdout_unmasked().lines().filter(|l| l.contains("VERCEL_DEPLOY_TOKEN")).collect();
        insta::assert_snapshot!("probe_vercel_rejected__annotations", finding);

        // Where the run goes on (`fail-on: never`), the other key is written and this one is not.
        let out = sync(&emu, REVOKED, &[("fail-on", "never")]);
        assert_eq!(out.code, 0, "{}", out.stdout);
        assert_eq!(requests(&emu), ["GET /v2/user", "GET /v10/projects/web/env", "POST /v10/projects/web/env"]);
        assert_eq!(held_back(&out), serde_json::json!(["VERCEL_DEPLOY_TOKEN"]));
        let st = emu.state();
        assert_eq!(st.vercel.value(WEB, "API_KEY", "production"), Some(API_KEY));
        assert_eq!(st.vercel.value(WEB, "VERCEL_DEPLOY_TOKEN", "production"), None);
    }

    #[test]
    fn a_403_without_the_token_flags_is_a_refusal_not_a_rejection() {
        // Vercel's 403 `forbidden` without `invalidToken`/`missingToken`: a
        // working token that may not read its user (a scoped token, perhaps).
        let emu = emulator();
        emu.fault(Fault::on("GET", "/v2/user", 1, FaultKind::Status { code: 403, retry_after: None }));
        let out = sync(&emu, LIVE, &[]);
        assert_eq!(out.code, 0, "{}", out.stdout);
        assert_eq!(findings_of(&out, "probe-refused"), [("VERCEL_DEPLOY_TOKEN".to_string(), "warning".to_string())]);
        assert_eq!(emu.count_exact("GET", "/v2/user"), 1);
        assert_eq!(emu.state().vercel.value(WEB, "VERCEL_DEPLOY_TOKEN", "production"), Some(LIVE));
        // 429: no answer either way, asked once.
        emu.fault(Fault::on("GET", "/v2/user", 1, FaultKind::Status { code: 429, retry_after: Some(5) }));
        let out = sync(&emu, LIVE, &[]);
        assert_eq!(out.code, 0, "{}", out.stdout);
        assert_eq!(probe_statuses(&out), [("VERCEL_DEPLOY_TOKEN".to_string(), "inconclusive".to_string())]);
        assert_eq!(emu.count_exact("GET", "/v2/user"), 1);
    }
}
