//! The action's contract: inputs in, annotations, summary, report and outputs out.

use secrecy::ExposeSecret;

use crate::harness::{repo, Workspace};

/// The demo values of the Sophia example as `toJSON(secrets)` would give them.
pub fn sophia_secrets_json(extra: &[(&str, &str)]) -> String {
    let text = std::fs::read(repo().join("examples/sophia/secrets.env")).unwrap();
    let vals =
        secret_sync::values::SecretValues::from_dotenv(&text, "env", secret_sync::values::Origin::SecretsFile).unwrap();
    let mut map = serde_json::Map::new();
    map.insert("github_token".into(), "ghs_runnerTokenNotUsed000000000000000".into());
    for n in vals.names() {
        map.insert(n.to_string(), vals.get(n).unwrap().1.secret.expose_secret().into());
    }
    for (k, v) in extra {
        map.insert(k.to_string(), (*v).into());
    }
    serde_json::Value::Object(map).to_string()
}

fn snapshot_run(name: &str, out: &crate::harness::Output) {
    insta::assert_snapshot!(format!("{name}__summary"), out.summary);
    insta::assert_snapshot!(format!("{name}__annotations"), out.stdout_unmasked());
    insta::assert_snapshot!(format!("{name}__outputs"), out.outputs);
    if !out.report.is_empty() {
        insta::assert_json_snapshot!(format!("{name}__report"), out.report_json(), { ".tool.version" => "[version]" });
    }
}

#[test]
fn clean_run_of_the_sophia_example() {
    let ws = Workspace::new();
    ws.manifest_from(&repo().join("examples/sophia/secret-sync.yml"));
    let json = sophia_secrets_json(&[]);
    let out = ws.action(&[("environment", "production"), ("secrets", &json)], &[]);
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    // Every value is masked before anything else is printed.
    let first_other = out.stdout.lines().position(|l| !l.starts_with("::add-mask::")).unwrap_or(usize::MAX);
    let last_mask = out.stdout.lines().collect::<Vec<_>>().iter().rposition(|l| l.starts_with("::add-mask::")).unwrap();
    assert!(last_mask < first_other);
    assert_eq!(out.mask_lines().len(), serde_json::from_str::<serde_json::Map<_, _>>(&json).unwrap().len());
    assert!(out.outputs.contains("status<<ghadelimiter_PID_0\nok\n"));
    snapshot_run("clean", &out);
}

#[test]
fn sophia_example_with_missing_and_malformed_values() {
    let ws = Workspace::new();
    ws.manifest_from(&repo().join("examples/sophia/secret-sync.yml"));
    let json = std::fs::read_to_string(repo().join("examples/sophia/secrets-broken.json")).unwrap();
    let out = ws.action(&[("environment", "production"), ("secrets", &json), ("mode", "validate")], &[]);
    assert_eq!(out.code, 2, "stderr: {}", out.stderr);
    let report = out.report_json();
    let kinds: Vec<&str> = report["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    for k in
        ["missing", "placeholder", "whitespace", "format-mismatch", "too-short", "empty", "weak-mask", "undeclared"]
    {
        assert!(kinds.contains(&k), "no `{k}` finding in {kinds:?}");
    }
    snapshot_run("broken_values", &out);
}

#[test]
fn fail_on_decides_the_exit_code() {
    let ws = Workspace::new();
    ws.manifest_from(&repo().join("examples/sophia/secret-sync.yml"));
    // One undeclared secret: a warning only.
    let json = sophia_secrets_json(&[("SOMETHING_ELSE", "a-value-nobody-declared")]);
    let base = [("environment", "production"), ("secrets", json.as_str())];
    let code = |fail_on: &str| {
        let mut inputs = base.to_vec();
        inputs.push(("fail-on", fail_on));
        ws.action(&inputs, &[]).code
    };
    assert_eq!(code("error"), 0);
    assert_eq!(code("warning"), 2);
    assert_eq!(code("never"), 0);
}

#[test]
fn broken_manifest_reports_every_error_with_its_place() {
    let ws = Workspace::new();
    ws.manifest_from(&repo().join("tests/fixtures/broken-manifest.yml"));
    let out = ws
        .action(&[("environment", "production"), ("secrets", r#"{"OPENAI_API_KEY":"sk-proj-abcdefghijklmnop"}"#)], &[]);
    assert_eq!(out.code, 2);
    let errors: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("::error file=")).collect();
    assert!(errors.len() >= 5, "{errors:?}");
    snapshot_run("broken_manifest", &out);
}

#[test]
fn usage_errors_exit_3() {
    let ws = Workspace::new();
    ws.manifest_from(&repo().join("examples/sophia/secret-sync.yml"));
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("mode", "deploy")], "input `mode` must be one of validate, plan, sync, scan, merge-reports; got `deploy`"),
        (&[("mode", "")], "input `mode` is empty: set one of validate, plan, sync, scan, merge-reports"),
        (&[("fail-on", "sometimes"), ("environment", "production")], "input `fail-on`: `sometimes` is not one of"),
        (&[("environment", "prod")], "environment `prod` is not declared in the manifest"),
        (&[], "choose an environment"),
        (
            &[("manifest", "nope.yml"), ("environment", "production")],
            "cannot read the manifest `nope.yml`: no such file",
        ),
        (&[("secrets", "[1,2]"), ("environment", "production")], "input `secrets`:1:1: must be a JSON object"),
    ];
    for (inputs, want) in cases {
        let out = ws.action(inputs, &[]);
        assert_eq!(out.code, 3, "{inputs:?}: {}", out.stdout);
        let line = out.stdout_unmasked();
        assert!(line.starts_with("::error title=secret-sync::"), "{line}");
        assert!(line.contains(want), "{inputs:?}: {line}");
    }
}

/// In a container action the runner mounts its temp directory and the
/// workspace and rewrites host paths in the environment to container paths;
/// the `report-path` output must be the host's path of the file written.
#[test]
fn report_path_output_is_the_hosts_path() {
    let ws = Workspace::new();
    ws.manifest_from(&repo().join("examples/minimal/secret-sync.yml"));
    let host = [("host-runner-temp", "host:/home/runner/work/_temp"), ("host-workspace", "host:/home/runner/work/r/r")];
    let output = |out: &crate::harness::Output| {
        let o = &out.outputs;
        let start = o.find("report-path<<").expect("report-path output");
        o[start..].lines().nth(1).unwrap().to_string()
    };

    // Default: the runner's temp directory.
    let out = ws.action(&host, &[]);
    assert_eq!(output(&out), "/home/runner/work/_temp/secret-sync-report.json");
    assert!(ws.dir.path().join("runner_temp/secret-sync-report.json").is_file(), "written inside");

    // Relative: in the workspace.
    let mut inputs = host.to_vec();
    inputs.push(("report-path", "reports/r.json"));
    std::fs::create_dir_all(ws.root().join("reports")).unwrap();
    let out = ws.action(&inputs, &[]);
    assert_eq!(output(&out), "/home/runner/work/r/r/reports/r.json");
    assert!(ws.root().join("reports/r.json").is_file());

    // Without the inputs (not in a container), the path as written.
    let out = ws.action(&[("report-path", "reports/r.json")], &[]);
    assert_eq!(output(&out), "reports/r.json");
}

#[test]
fn a_pem_value_ending_in_a_newline_validates_without_a_declared_format() {
    let ws = Workspace::new();
    ws.manifest_text("version: 1\nsecrets:\n  TLS_KEY: {}\n  API_TOKEN: {}\n");
    let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nbm90LWEtcmVhbC1rZXktanVzdC10ZXN0\n-----END PRIVATE KEY-----\n";
    let json = serde_json::json!({ "TLS_KEY": pem, "API_TOKEN": "tok-0123456789abcdef" }).to_string();
    let out = ws.action(&[("mode", "validate"), ("secrets", &json)], &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let report = out.report_json();
    let findings: Vec<(String, String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["secret"].to_string(), f["kind"].to_string(), f["severity"].to_string()))
        .collect();
    assert_eq!(findings, [("\"TLS_KEY\"".into(), "\"whitespace\"".into(), "\"notice\"".into())]);
    insta::assert_snapshot!(
        "pem_trailing_newline_notice",
        out.stdout_unmasked().lines().find(|l| l.starts_with("::notice")).unwrap_or_default()
    );
    // Not PEM: a trailing newline is still an error.
    let json = serde_json::json!({ "TLS_KEY": pem, "API_TOKEN": "tok-0123456789abcdef\n" }).to_string();
    let out = ws.action(&[("mode", "validate"), ("secrets", &json)], &[]);
    assert_eq!(out.code, 2, "{}", out.stdout);
}
