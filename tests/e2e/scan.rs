//! The leak scan, end to end: values planted in a workspace in the forms a
//! leak takes (as is, base64 alone and inside a longer base64 stream,
//! URL-encoded, JSON-escaped, one line of a PEM), in `.git` and in a binary
//! file (both skipped unless asked), and in git history (`--history`).

use std::path::Path;
use std::process::Command;

use crate::harness::{cli, Workspace};

const MANIFEST: &str = r#"version: 1
environments:
  production: { source_prefix: PROD_ }
  staging: {}
secrets:
  OPENAI_API_KEY: { format: openai }
  STRIPE_SECRET_KEY: { format: stripe }
  DATABASE_URL: {}
  WEBHOOK_SECRET: {}
  TLS_KEY: { format: pem }
  SHORT_PIN: { required: false }
  BUNDLED_TOKEN: {}
  GIT_TOKEN: {}
  BINARY_TOKEN: {}
"#;

const OPENAI: &str = "sk-proj-scanE2eOpenai000000000000001";
const STRIPE: &str = "sk_live_scanE2eStripe0000000000000002";
const DATABASE: &str = "postgres://app:p@ss w0rd/x@db.internal:5432/app";
const WEBHOOK: &str = r#"whsec_"quoted"\back-0003"#;
const PEM_LINE_1: &str = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7scanE2e";
const PEM_LINE_2: &str = "q7QzK9mVx2pWk1dS0uJtYbN5cR8hLfGaEo3iZ4yT6nMvUw0sXjD2lHcPkAr";
const BUNDLED: &str = "bundled-token-scanE2e-0000000004";
const GIT: &str = "git-token-scanE2e-0000000000000005";
const BINARY: &str = "binary-token-scanE2e-000000000006";

fn pem() -> String {
    format!("-----BEGIN PRIVATE KEY-----\n{PEM_LINE_1}\n{PEM_LINE_2}\n-----END PRIVATE KEY-----\n")
}

fn values() -> Vec<(&'static str, String)> {
    vec![
        ("PROD_OPENAI_API_KEY", OPENAI.into()),
        ("STRIPE_SECRET_KEY", STRIPE.into()),
        ("DATABASE_URL", DATABASE.into()),
        ("WEBHOOK_SECRET", WEBHOOK.into()),
        ("TLS_KEY", pem()),
        ("SHORT_PIN", "1234567".into()),
        ("BUNDLED_TOKEN", BUNDLED.into()),
        ("GIT_TOKEN", GIT.into()),
        ("BINARY_TOKEN", BINARY.into()),
    ]
}

fn secrets_json() -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        values().into_iter().map(|(k, v)| (k.to_string(), v.into())).collect();
    serde_json::Value::Object(map).to_string()
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// Plants every value somewhere in the workspace, each in one form.
fn plant(root: &Path) {
    let b64 = secret_sync::util::b64;
    write(root, "src/settings.py", format!("import os\n\nOPENAI_KEY = \"{OPENAI}\"\n").as_bytes());
    write(
        root,
        "deploy/k8s-secret.yaml",
        format!("apiVersion: v1\nkind: Secret\ndata:\n  stripe: {}\n", b64(STRIPE.as_bytes())).as_bytes(),
    );
    let url = secret_sync::http::encode(DATABASE);
    write(root, "docs/curl.md", format!("Call it:\n\n    curl 'https://api.example.com/hook?db={url}'\n").as_bytes());
    let json = serde_json::json!({ "name": "hook", "secret": WEBHOOK }).to_string();
    write(root, "fixtures/payload.json", format!("{json}\n").as_bytes());
    write(root, "certs/notes.txt", format!("the second line was:\n{PEM_LINE_2}\n").as_bytes());
    // Inside a longer base64 stream, one byte after a 3-byte boundary.
    let stream = b64(format!("x{BUNDLED} and more text after it").as_bytes());
    write(root, "logs/bundle.b64", format!("header\n{stream}\n").as_bytes());
    write(root, "short.txt", b"pin: 1234567\n");
    write(root, ".git/config", format!("[credential]\n  token = {GIT}\n").as_bytes());
    write(root, "assets/logo.bin", &[b"\x89PNG\x00\x00\x01".as_slice(), BINARY.as_bytes(), b"\x00"].concat());
}

fn leaks(report: &serde_json::Value) -> Vec<String> {
    report["scan"]["leaks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            format!("{} {}:{} {}", l["secret"].as_str().unwrap(), l["file"].as_str().unwrap(), l["line"], l["forms"])
        })
        .collect()
}

#[test]
fn finds_every_planted_form_and_skips_git_and_binaries() {
    let ws = Workspace::new();
    ws.manifest_text(MANIFEST);
    plant(&ws.root());
    let json = secrets_json();
    let out = ws.action(&[("mode", "scan"), ("environment", "production"), ("secrets", &json)], &[]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let report = out.report_json();
    assert_eq!(
        leaks(&report),
        [
            "TLS_KEY certs/notes.txt:2 [\"line\"]",
            "STRIPE_SECRET_KEY deploy/k8s-secret.yaml:4 [\"base64\"]",
            "DATABASE_URL docs/curl.md:3 [\"url-encoded\"]",
            "WEBHOOK_SECRET fixtures/payload.json:1 [\"json-escaped\"]",
            "BUNDLED_TOKEN logs/bundle.b64:2 [\"base64\"]",
            "OPENAI_API_KEY src/settings.py:3 [\"exact\"]",
        ]
    );
    assert_eq!(report["scan"]["too_short"], serde_json::json!(["SHORT_PIN"]));
    assert_eq!(report["scan"]["binary_skipped"], 1);
    assert_eq!(report["scan"]["git_skipped"], true);
    let kinds: Vec<&str> = report["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "leak").count(), 6, "{kinds:?}");
    insta::assert_snapshot!("scan__annotations", out.stdout_unmasked());
    insta::assert_snapshot!("scan__summary", out.summary);
    insta::assert_json_snapshot!("scan__report_scan", report["scan"]);

    // Asked for: `.git` and binary files too.
    let out = ws.action(
        &[("mode", "scan"), ("environment", "production"), ("secrets", &json), ("scan-include", "git,binary")],
        &[],
    );
    let found = leaks(&out.report_json());
    assert!(found.contains(&"GIT_TOKEN .git/config:2 [\"exact\"]".to_string()), "{found:?}");
    assert!(found.iter().any(|l| l.starts_with("BINARY_TOKEN assets/logo.bin:1 ")), "{found:?}");
    assert_eq!(found.len(), 8, "{found:?}");
}

#[test]
fn a_clean_workspace_passes() {
    let ws = Workspace::new();
    ws.manifest_text(MANIFEST);
    write(&ws.root(), "README.md", b"# nothing secret here\n");
    let json = secrets_json();
    let out = ws.action(&[("mode", "scan"), ("environment", "production"), ("secrets", &json)], &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(out.summary.contains("No managed value was found."), "{}", out.summary);
    assert!(out.summary.contains("**No leaks found**"), "{}", out.summary);
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
        .status
        .success();
    assert!(ok, "git {args:?}");
}

#[test]
fn the_cli_leaves_out_its_secrets_file_and_reads_history_with_git() {
    let ws = Workspace::new();
    ws.manifest_text(MANIFEST);
    let root = ws.root();
    let dotenv: String = values().iter().map(|(k, v)| format!("{k}={}\n", serde_json::to_string(v).unwrap())).collect();
    write(&root, "values.env", dotenv.as_bytes());
    // A value committed, then deleted: only history has it.
    git(&root, &["init", "-q"]);
    write(&root, "old/config.ini", format!("[api]\nkey = {OPENAI}\n").as_bytes());
    git(&root, &["add", "old/config.ini"]);
    git(&root, &["commit", "-qm", "add config"]);
    git(&root, &["rm", "-q", "old/config.ini"]);
    git(&root, &["commit", "-qm", "remove it"]);

    let out = cli(&["scan", "-e", "production", "-s", "values.env", "--report-path", "r.json"], &root);
    assert_eq!(out.code, 0, "the secrets file is the values' source, not a leak\n{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("left out as the values' source: `values.env`"), "{}", out.stdout);

    let out = cli(&["scan", "-e", "production", "-s", "values.env", "--history", "--report-path", "r.json"], &root);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("r.json")).unwrap()).unwrap();
    let leaks = report["scan"]["leaks"].as_array().unwrap();
    assert_eq!(leaks.len(), 1, "{leaks:?}");
    assert_eq!(leaks[0]["file"], "old/config.ini");
    assert_eq!(leaks[0]["line"], 2);
    assert_eq!(leaks[0]["source"], "PROD_OPENAI_API_KEY");
    assert!(leaks[0]["blob"].as_str().is_some_and(|b| b.len() == 40));
    assert!(report["scan"]["history"]["blobs_scanned"].as_u64().unwrap() >= 1);
    assert!(out.stdout.contains("in git history"), "{}", out.stdout);
}

#[test]
fn history_without_git_says_what_to_do() {
    let ws = Workspace::new();
    ws.manifest_text(MANIFEST);
    std::fs::write(ws.root().join("values.env"), "STRIPE_SECRET_KEY=sk_live_x0000000000000000\n").unwrap();
    // No repository here (and the harness's PATH may have git): git fails.
    let out = cli(&["scan", "-e", "production", "-s", "values.env", "--history"], &ws.root());
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("`--history` needs git on PATH"), "{}", out.stderr);
}
