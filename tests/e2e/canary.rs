//! No value ever appears in what a run shows: each value is a unique random
//! canary, every mode and every error path is run, and stdout (but for the
//! `::add-mask::` lines the runner consumes), stderr, the summary, the report
//! and the outputs are searched for each canary, each of its lines, and its
//! base64 and JSON-escaped forms.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use crate::harness::{cli, Output, Workspace};

fn random_hex(n: usize) -> String {
    let mut s = String::new();
    while s.len() < n {
        let mut h = RandomState::new().build_hasher();
        h.write_usize(s.len());
        s.push_str(&format!("{:016x}", h.finish()));
    }
    s.truncate(n);
    s
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const MANIFEST: &str = r#"
version: 1
environments:
  production: { source_prefix: PROD_ }
  staging: {}
targets:
  esc:
    prod: { environment: production, path: acme/app/production }
  fly:
    api: { environment: production, app: acme-api }
  github:
    site: { environment: production, repo: acme/site }
secrets:
  OPENAI_API_KEY: { format: openai, to: [ { esc: prod, path: openai.apiKey, env_var: OPENAI_API_KEY }, { fly: api } ] }
  WRONG_FORMAT_KEY: { format: openai, to: [ { fly: api } ] }
  PLACEHOLDER_KEY: { to: [ { github: site } ] }
  TRAILING_NEWLINE_KEY: { to: [ { fly: api } ] }
  LEADING_SPACE_KEY: {}
  SHORT_KEY: { min_length: 64 }
  WEAK_KEY: {}
  PATTERN_KEY: { pattern: '^[0-9]+$' }
  TLS_KEY: { format: pem, to: [ { fly: api } ] }
  JWT_KEY: { format: jwt, to: [ { github: site } ] }
  FROM_ENV_KEY: { from_env: APP_FROM_ENV }
"#;

struct Canaries {
    /// Source name → value.
    values: Vec<(String, String)>,
    /// Every string that must never be shown.
    needles: Vec<String>,
}

fn canaries() -> Canaries {
    let c = |tag: &str| format!("CANARY{tag}{}", random_hex(24));
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{}\n{}\n-----END PRIVATE KEY-----\n", c("pemA"), c("pemB"));
    let values = vec![
        ("PROD_OPENAI_API_KEY".to_string(), format!("sk-proj-{}", c("openai"))),
        ("WRONG_FORMAT_KEY".to_string(), format!("xoxb-{}", c("slack"))),
        ("PLACEHOLDER_KEY".to_string(), format!("your_{}_here", c("ph"))),
        ("TRAILING_NEWLINE_KEY".to_string(), format!("{}\n", c("nl"))),
        ("LEADING_SPACE_KEY".to_string(), format!("  {}", c("sp"))),
        ("SHORT_KEY".to_string(), c("short")),
        ("WEAK_KEY".to_string(), random_hex(7)),
        ("PATTERN_KEY".to_string(), c("pattern")),
        ("TLS_KEY".to_string(), pem),
        ("JWT_KEY".to_string(), format!("eyJhbGciOiJIUzI1NiJ9.{}.sig", c("jwt"))),
        ("UNDECLARED_KEY".to_string(), c("undeclared")),
        ("github_token".to_string(), format!("ghs_{}", c("gh"))),
    ];
    let mut needles = Vec::new();
    for (_, v) in values.iter().chain([(String::new(), env_canary())].iter()) {
        needles.push(v.clone());
        needles.push(base64(v.as_bytes()));
        needles.push(serde_json::to_string(v).unwrap().trim_matches('"').to_string());
        for line in v.lines().map(str::trim).filter(|l| l.len() >= 6) {
            needles.push(line.to_string());
            needles.push(base64(line.as_bytes()));
        }
    }
    Canaries { values, needles }
}

fn env_canary() -> String {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| format!("CANARYenv{}", random_hex(24))).clone()
}

fn assert_clean(label: &str, out: &Output, c: &Canaries) {
    let visible = out.everything_visible();
    for n in &c.needles {
        assert!(!visible.contains(n.as_str()), "{label}: a value (or a form of it) was shown");
    }
    assert!(!visible.contains("CANARY"), "{label}: a canary fragment was shown");
    assert!(!out.stderr.contains("panicked"), "{label}: {}", out.stderr);
}

fn json_of(values: &[(String, String)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        values.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
    serde_json::Value::Object(map).to_string()
}

#[test]
fn no_value_appears_in_any_mode_or_error_path() {
    let c = canaries();
    let json = json_of(&c.values);
    let ws = Workspace::new();
    ws.manifest_text(MANIFEST);
    let env = [("APP_FROM_ENV", env_canary())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let mut runs = Vec::new();
    for mode in ["validate", "plan", "sync"] {
        for fail_on in ["error", "never"] {
            let out = ws.action(
                &[("mode", mode), ("environment", "production"), ("secrets", &json), ("fail-on", fail_on)],
                &env,
            );
            runs.push((format!("{mode}/{fail_on}"), out));
        }
    }
    // Every value was registered with the runner, each line of the PEM too.
    let masks = runs[0].1.mask_lines().join("\n");
    for (_, v) in &c.values {
        assert!(masks.contains(&secret_sync::actions::escape_data(v)), "a value was not masked");
        for line in v.lines().map(str::trim).filter(|l| !l.is_empty()) {
            assert!(masks.contains(&format!("::add-mask::{line}")), "a line of a value was not masked");
        }
    }
    assert!(masks.contains(&env_canary()), "the from_env value was not masked");

    // Error paths: broken payloads that contain canaries, a broken manifest,
    // an unknown environment, and a panic carrying a value.
    let truncated = json[..json.len() / 2].to_string();
    let number = json.replacen("\"WEAK_KEY\":\"", "\"WEAK_KEY\":12345", 1).replacen(&c.values[6].1, "", 1);
    let nested = format!(r#"{{"A": {{"{}": "x"}}}}"#, c.values[0].1);
    for (label, secrets) in [("truncated json", truncated), ("number value", number), ("nested object", nested)] {
        runs.push((label.into(), ws.action(&[("environment", "production"), ("secrets", &secrets)], &env)));
    }
    runs.push(("unknown environment".into(), ws.action(&[("environment", "nope"), ("secrets", &json)], &env)));
    runs.push((
        "panic".into(),
        ws.action(&[("environment", "production"), ("secrets", &json)], &[("SECRET_SYNC_TEST_PANIC", "JWT_KEY")]),
    ));
    assert!(runs.last().unwrap().1.stderr.contains("internal error"));
    // The same payloads through the `secrets-file` input (read from the
    // runner's temp directory, deleted once read).
    let temp = ws.dir.path().join("runner_temp");
    for (label, text) in
        [("secrets-file", json.clone()), ("truncated secrets-file", json[..json.len() / 3].to_string())]
    {
        std::fs::write(temp.join("secrets.json"), &text).unwrap();
        runs.push((label.into(), ws.action(&[("environment", "production"), ("secrets-file", "secrets.json")], &env)));
    }
    let broken = Workspace::new();
    broken.manifest_text("version: 1\nsecrets:\n  A: { formt: x }\n  B: [\n");
    runs.push(("broken manifest".into(), broken.action(&[("secrets", &json)], &env)));
    broken.manifest_text("version: 1\nsecrets:\n  A: { formt: x }\n");
    runs.push(("invalid manifest".into(), broken.action(&[("secrets", &json)], &env)));

    // The local CLI, with a .env file holding the canaries.
    let dotenv: String = c.values.iter().map(|(k, v)| format!("{k}={}\n", serde_json::to_string(v).unwrap())).collect();
    std::fs::write(ws.root().join("values.env"), &dotenv).unwrap();
    std::fs::write(ws.root().join("broken.env"), format!("{}\nA=\"{}", c.values[0].1, c.values[1].1)).unwrap();
    for args in [
        &["validate", "-e", "production", "-s", "values.env", "--report-path", "r.json"][..],
        &["plan", "-e", "production", "-s", "values.env"],
        &["sync", "-e", "production", "-s", "values.env"],
        &["validate", "-e", "production", "-s", "broken.env"],
        &["template", "-o", "-"],
    ] {
        let mut out = cli(args, &ws.root());
        out.report = std::fs::read_to_string(ws.root().join("r.json")).unwrap_or_default();
        assert!(out.mask_lines().is_empty(), "masks printed outside Actions");
        runs.push((args.join(" "), out));
    }

    for (label, out) in &runs {
        assert!(out.code != 101 || label == "panic", "{label}: unexpected crash");
        assert_clean(label, out, &c);
    }
    // The runs did what they were meant to, so the search above meant something.
    let code = |l: &str| runs.iter().find(|(x, _)| x == l).unwrap().1.code;
    assert_eq!(code("validate/error"), 2);
    assert_eq!(code("truncated json"), 3);
    assert_eq!(code("secrets-file"), 2);
    assert_eq!(code("truncated secrets-file"), 3);
    assert_eq!(code("invalid manifest"), 2);
    let report = &runs[0].1.report;
    for kind in
        ["format-mismatch", "placeholder", "whitespace", "too-short", "weak-mask", "pattern-mismatch", "undeclared"]
    {
        assert!(report.contains(kind), "no {kind} finding");
    }
}

/// The same search over runs that reach Pulumi ESC and Fly.io (the
/// emulators): a plan, a sync, rejected writes, a failed machine update and
/// rejected tokens, with debug logging on. The tokens are canaries too.
#[test]
fn no_value_or_token_appears_through_the_esc_and_fly_paths() {
    use secret_sync_emulators::{Emulator, Fault, FaultKind};
    let mut c = canaries();
    let token = format!("pul-CANARYtoken{}", random_hex(24));
    c.needles.push(token.clone());
    c.needles.push(base64(token.as_bytes()));
    let json = json_of(&c.values);
    let fly_token = format!("fm2_CANARYfly{}", random_hex(24));
    c.needles.push(fly_token.clone());
    let gh_token = format!("ghp_CANARYgh{}", random_hex(24));
    c.needles.push(gh_token.clone());
    let emu = Emulator::start();
    {
        let mut st = emu.state();
        st.esc.tokens.insert(token.clone());
        st.esc.seed("acme/app/production", "values:\n  region: eu-west-1\n");
        st.fly.tokens.insert(fly_token.clone());
        st.fly.add_app("acme-api", 2);
        st.fly.add_machine("acme-api", "acme-api-stopped", secret_sync_emulators::fly::Kind::App("stopped"));
        st.fly.add_machine("acme-api", "acme-api-console", secret_sync_emulators::fly::Kind::Console);
        st.github.tokens.insert(gh_token.clone());
        st.github.org_secret("acme", "PLACEHOLDER_KEY", "2025-01-01T00:00:00Z", "all");
        st.github.add_repo("acme/site");
    }
    let ws = Workspace::new();
    ws.manifest_text(MANIFEST);
    let env = [
        ("SECRET_SYNC_HTTP_BACKOFF_MS", "1"),
        ("SECRET_SYNC_HTTP_RETRIES", "1"),
        ("SECRET_SYNC_LOG", "secret_sync=trace"),
        ("FLY_API_BASE_URL", emu.url.as_str()),
        ("FLY_FLAPS_BASE_URL", emu.url.as_str()),
        ("GITHUB_API_URL", emu.url.as_str()),
        ("SECRET_SYNC_TEST_CLOCK", emu.url.as_str()),
        ("GITHUB_REPOSITORY", "acme/site"),
    ];
    let run = |mode: &str, tok: &str| {
        let fly = if tok == token { fly_token.clone() } else { format!("{tok}-fly") };
        let gh = if tok == token { gh_token.clone() } else { format!("{tok}-gh") };
        ws.action(
            &[
                ("mode", mode),
                ("environment", "production"),
                ("secrets", &json),
                ("fail-on", "never"),
                ("esc-api-url", &emu.url),
                ("esc-token", tok),
                ("fly-token", &fly),
                ("github-token", &gh),
            ],
            &env,
        )
    };
    let mut runs = vec![("plan", run("plan", &token))];
    emu.fault(Fault::on("PATCH", "acme/", 1, FaultKind::Status { code: 400, retry_after: None }));
    emu.fault(
        Fault::on("POST", "/v1/apps/acme-api/secrets", 1, FaultKind::Status { code: 422, retry_after: None }).exact(),
    );
    runs.push(("rejected write", run("sync", &token)));
    // Lost answers: a lease and the secrets write (recovered by reading back).
    emu.fault(Fault::on("POST", "/v1/apps/acme-api/machines/acme-api-m0/lease", 1, FaultKind::Lost).exact());
    runs.push(("sync", run("sync", &token)));
    assert!(
        runs.last().unwrap().1.summary.contains("Recovered from lost answers"),
        "{}",
        runs.last().unwrap().1.summary
    );
    // Fly's opaque digests: a plan shows the keys as unverified.
    runs.push(("plan unverified", run("plan", &token)));
    assert!(runs.last().unwrap().1.summary.contains("unverified"), "{}", runs.last().unwrap().1.summary);
    emu.fault(Fault::on("POST", "/v1/apps/acme-api/secrets", 1, FaultKind::Lost).exact());
    runs.push(("lost write", run("sync", &token)));
    assert!(runs.last().unwrap().1.summary.contains("sent again"), "{}", runs.last().unwrap().1.summary);
    assert_eq!(emu.count("PATCH", "acme/app/production"), 2, "the second sync did not write");
    runs.push(("rejected token", run("sync", &format!("pul-CANARYother{}", random_hex(20)))));
    assert!(runs[1].1.summary.contains("HTTP 400"), "{}", runs[1].1.summary);
    assert!(runs[1].1.summary.contains("HTTP 422"), "{}", runs[1].1.summary);
    assert!(emu.state().github.get("acme/site", "PLACEHOLDER_KEY").is_none(), "an invalid value reached GitHub");
    let jwt = &c.values.iter().find(|(k, _)| k == "JWT_KEY").unwrap().1;
    assert_eq!(
        emu.state().github.get("acme/site", "JWT_KEY").and_then(|m| m.value.clone()).as_ref(),
        Some(jwt),
        "the sealed box did not arrive"
    );
    assert_eq!(emu.state().fly.updates("acme-api"), 3, "the Fly sync did not update the machines");
    emu.fault(
        Fault::on(
            "POST",
            "/v1/apps/acme-api/machines/acme-api-m0",
            9,
            FaultKind::Status { code: 500, retry_after: None },
        )
        .exact(),
    );
    emu.state().fly.set("acme-api", "OPENAI_API_KEY", "sk-proj-changed-elsewhere");
    runs.push(("failed machine update", run("sync", &token)));
    assert!(
        runs.last().unwrap().1.summary.contains("update of the machines stopped"),
        "{}",
        runs.last().unwrap().1.summary
    );
    for (label, out) in &runs {
        assert_clean(label, out, &c);
    }
    assert!(runs[0].1.mask_lines().iter().any(|l| l.contains(&token)), "the token was not masked");
}

/// The state record is safe to show: it holds keyed fingerprints only —
/// never a value, a line of one, an encoding of one, or an unkeyed hash
/// (SHA-256 or MD5 hex, which a dictionary would reverse) of one.
#[test]
fn the_state_record_holds_no_value_nor_an_unkeyed_hash_of_one() {
    use secret_sync_emulators::Emulator;
    use sha2::Digest;
    let mut c = canaries();
    let state_key = format!("CANARYstatekey{}", random_hex(24));
    c.needles.push(state_key.clone());
    let mut hashes = Vec::new();
    for (_, v) in &c.values {
        let mut forms = vec![v.clone(), v.trim().to_string()];
        forms.extend(v.lines().map(str::to_string));
        forms.extend(v.lines().map(|l| l.trim().to_string()));
        for f in forms.iter().filter(|f| !f.is_empty()) {
            hashes.push(format!("{:x}", sha2::Sha256::digest(f.as_bytes())));
            hashes.push(format!("{:x}", md5::compute(f.as_bytes())));
        }
    }
    let (fly_token, gh_token) = (format!("fm2_CANARYfly{}", random_hex(24)), format!("ghp_CANARYgh{}", random_hex(24)));
    let emu = Emulator::start();
    {
        let mut st = emu.state();
        st.fly.tokens.insert(fly_token.clone());
        st.fly.add_app("acme-api", 0);
        // Legacy digests are MD5 of the value: the record must not keep them as they are.
        st.fly.set_legacy("acme-api");
        st.github.tokens.insert(gh_token.clone());
        st.github.orgs.entry("acme".into()).or_default();
        st.github.add_repo("acme/site");
        st.results.repository = Some("acme/site".into());
    }
    let ws = Workspace::new();
    ws.manifest_text(&MANIFEST.replace("{ esc: prod, path: openai.apiKey, env_var: OPENAI_API_KEY }, ", ""));
    let json = json_of(&c.values);
    let results = format!("{}/", emu.url);
    for run in 1..=2 {
        let runtime = crate::state::runtime_token(run);
        emu.state().results.runtime_token = Some(runtime.clone());
        let out = ws.action(
            &[
                ("mode", "sync"),
                ("environment", "production"),
                ("secrets", &json),
                ("fail-on", "never"),
                ("fly-token", &fly_token),
                ("github-token", &gh_token),
                ("state-token", &gh_token),
                ("state-key", &state_key),
                ("upload-artifact", "false"),
            ],
            &[
                ("FLY_FLAPS_BASE_URL", emu.url.as_str()),
                ("GITHUB_API_URL", emu.url.as_str()),
                ("SECRET_SYNC_TEST_CLOCK", emu.url.as_str()),
                ("GITHUB_REPOSITORY", "acme/site"),
                ("ACTIONS_RUNTIME_TOKEN", runtime.as_str()),
                ("ACTIONS_RESULTS_URL", results.as_str()),
            ],
        );
        assert_clean(&format!("state run {run}"), &out, &c);
    }
    let record = crate::state::record_text(&emu);
    let parsed: serde_json::Value = serde_json::from_str(&record).unwrap();
    assert!(parsed["targets"]["fly:api"]["TLS_KEY"]["fingerprint"].is_string(), "{record}");
    assert!(parsed["targets"]["github:site"]["JWT_KEY"]["fingerprint"].is_string(), "{record}");
    // The MAC is in the text searched below: keyed, it is no hash of a value either.
    assert!(parsed["mac"].as_str().is_some_and(|m| m.len() == 64), "{record}");
    for n in &c.needles {
        assert!(!record.contains(n.as_str()), "the record holds a value (or a form of it)");
    }
    assert!(!record.contains("CANARY"), "the record holds a canary fragment");
    for h in &hashes {
        assert!(!record.contains(h.as_str()), "the record holds an unkeyed hash of a value");
    }
}

/// The leak scan and the probes see every value by design; neither may show
/// one. Each canary is planted in the workspace in every form the scan
/// looks for, and probed against emulators that accept some and refuse
/// others; the outputs are searched as above.
#[test]
fn the_scan_and_the_probes_never_show_a_value() {
    use secret_sync::probe::Service;
    use secret_sync_emulators::Emulator;
    let c = canaries();
    let json = json_of(&c.values);
    let ws = Workspace::new();
    ws.manifest_text(MANIFEST);
    let root = ws.root();
    std::fs::create_dir_all(root.join("leaks/.git")).unwrap();
    for (i, (_, v)) in c.values.iter().enumerate() {
        let embedded = secret_sync::util::b64(format!("ab{v}cd").as_bytes());
        let forms = [
            v.clone(),
            base64(v.as_bytes()),
            embedded,
            secret_sync::http::encode(v),
            serde_json::to_string(v).unwrap(),
        ];
        std::fs::write(root.join(format!("leaks/file{i}.txt")), forms.join("\n") + "\n").unwrap();
        std::fs::write(root.join(format!("leaks/.git/obj{i}")), v).unwrap();
        std::fs::write(root.join(format!("leaks/bin{i}.dat")), [b"\0".as_slice(), v.as_bytes()].concat()).unwrap();
    }
    let emu = Emulator::start();
    let openai = &c.values.iter().find(|(k, _)| k == "PROD_OPENAI_API_KEY").unwrap().1;
    emu.state().probes.accept(Service::Openai.name(), openai);
    let urls: Vec<(String, String)> =
        Service::ALL.iter().map(|s| (s.env_var(), format!("{}/_probe/{}", emu.url, s.name()))).collect();
    let mut env: Vec<(&str, &str)> = urls.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.push(("APP_FROM_ENV", "CANARYenv-unused-here-0000000000"));
    let mut runs = Vec::new();
    for include in ["", "git,binary"] {
        runs.push((
            format!("scan {include}"),
            ws.action(
                &[
                    ("mode", "scan"),
                    ("environment", "production"),
                    ("secrets", &json),
                    ("probe", "true"),
                    ("scan-include", include),
                ],
                &env,
            ),
        ));
    }
    let dotenv: String = c.values.iter().map(|(k, v)| format!("{k}={}\n", serde_json::to_string(v).unwrap())).collect();
    std::fs::write(root.join("values.env"), &dotenv).unwrap();
    let mut out = cli(
        &[
            "scan",
            "-e",
            "production",
            "-s",
            "values.env",
            "--include-git",
            "--include-binary",
            "--report-path",
            "r.json",
        ],
        &root,
    );
    out.report = std::fs::read_to_string(root.join("r.json")).unwrap_or_default();
    runs.push(("cli scan".into(), out));
    for (label, out) in &runs {
        assert_eq!(out.code, 2, "{label}: {}{}", out.stdout, out.stderr);
        assert!(out.everything_visible().contains("leaks/file"), "{label}: the scan found nothing to hide");
        assert_clean(label, out, &c);
    }
    assert!(runs[0].1.report.contains("\"status\": \"live\""), "the probe did not run");
    assert!(runs[1].1.report.contains("leaks/.git/obj"), "`.git` was not searched when asked");
}

/// The same search through Kubernetes targets: a plan, a sync that creates
/// the Secret and rolls a workload, a key another manager owns (conflict),
/// a stuck rollout, a rejected token and a kubeconfig that is not YAML —
/// with the cluster token a canary too.
#[test]
fn no_value_or_token_appears_through_the_kubernetes_paths() {
    use secret_sync_emulators::Emulator;
    let mut c = canaries();
    let token = format!("CANARYk8s{}", random_hex(24));
    c.needles.push(token.clone());
    c.needles.push(base64(token.as_bytes()));
    let manifest = r#"
version: 1
environments:
  production: { source_prefix: PROD_ }
targets:
  kubernetes:
    api: { environment: production, namespace: apps, secret: api, restart: [deployment/api] }
secrets:
  OPENAI_API_KEY: { to: [ { kubernetes: api } ] }
  TLS_KEY: { format: pem, to: [ { kubernetes: api, as: tls.key } ] }
  JWT_KEY: { format: jwt, to: [ { kubernetes: api } ] }
  WRONG_FORMAT_KEY: { format: openai, to: [ { kubernetes: api } ] }
"#;
    let json = json_of(&c.values);
    let emu = Emulator::start();
    {
        let mut st = emu.state();
        st.kubernetes.tokens.insert(token.clone());
        st.kubernetes.add_namespace("apps");
        st.kubernetes.add_workload("deployment", "apps", "api", 2);
    }
    let ws = Workspace::new();
    ws.manifest_text(manifest);
    let kubeconfig = |tok: &str| {
        format!("current-context: e\nclusters: [{{ name: c, cluster: {{ server: '{}' }} }}]\ncontexts: [{{ name: e, context: {{ cluster: c, user: u }} }}]\nusers: [{{ name: u, user: {{ token: '{tok}' }} }}]\n", emu.url)
    };
    let env =
        [("SECRET_SYNC_LOG", "secret_sync=trace"), ("SECRET_SYNC_K8S_POLL_MS", "5"), ("SECRET_SYNC_HTTP_RETRIES", "0")];
    let run = |mode: &str, kc: &str| {
        ws.action(
            &[
                ("mode", mode),
                ("environment", "production"),
                ("secrets", &json),
                ("fail-on", "never"),
                ("kubeconfig", kc),
                ("kubernetes-rollout-timeout", "1"),
            ],
            &env,
        )
    };
    let mut runs = vec![("plan", run("plan", &kubeconfig(&token)))];
    runs.push(("sync", run("sync", &kubeconfig(&token))));
    assert_eq!(emu.state().kubernetes.workload("deployment", "apps", "api").restarts.len(), 1, "{}", runs[1].1.summary);
    let pem = &c.values.iter().find(|(k, _)| k == "TLS_KEY").unwrap().1;
    assert_eq!(
        emu.state().kubernetes.value("apps", "api", "tls.key").as_ref(),
        Some(pem),
        "the PEM did not arrive intact"
    );
    // Someone edits a routed key by hand, and the rollout sticks.
    emu.state().kubernetes.update_key("apps", "api", "kubectl-edit", "OPENAI_API_KEY", "CANARYedited-by-hand-value");
    c.needles.push("CANARYedited-by-hand-value".into());
    emu.state().kubernetes.workload_mut("deployment", "apps", "api").stuck = true;
    emu.state().kubernetes.update_key("apps", "api", "kubectl-edit", "JWT_KEY", "CANARYanother-hand-edit");
    runs.push(("conflict", run("sync", &kubeconfig(&token))));
    assert!(
        runs[2].1.summary.contains("`OPENAI_API_KEY` (managed by `kubectl-edit (Update)`)"),
        "{}",
        runs[2].1.summary
    );
    runs.push(("rejected token", run("sync", &kubeconfig(&format!("CANARYwrong{}", random_hex(20))))));
    assert!(runs[3].1.summary.contains("HTTP 401"), "{}", runs[3].1.summary);
    runs.push(("broken kubeconfig", run("sync", &format!("users: [{{ name: u, user: {{ token: {token} }}\n  - ]"))));
    assert!(runs[4].1.summary.contains("not a valid kubeconfig"), "{}", runs[4].1.summary);
    for (label, out) in &runs {
        assert_clean(label, out, &c);
    }
    assert!(runs[0].1.mask_lines().iter().any(|l| l.contains(&token)), "the cluster token was not masked");
}

/// The same search through Vercel targets: a plan, a sync that creates the
/// variables and redeploys, a redeploy whose build fails quoting a value, a
/// rejected token and a project the token may not touch — with the Vercel
/// token a canary too.
#[test]
fn no_value_or_token_appears_through_the_vercel_paths() {
    use secret_sync_emulators::Emulator;
    let mut c = canaries();
    let token = format!("CANARYvercel{}", random_hex(24));
    c.needles.push(token.clone());
    c.needles.push(base64(token.as_bytes()));
    let manifest = r#"
version: 1
environments:
  production: { source_prefix: PROD_ }
targets:
  vercel:
    web: { environment: production, project: web, team: team_canary00000000000000 }
secrets:
  OPENAI_API_KEY: { to: [ { vercel: web } ] }
  JWT_KEY: { format: jwt, to: [ { vercel: web } ] }
  WRONG_FORMAT_KEY: { format: openai, to: [ { vercel: web } ] }
"#;
    let json = json_of(&c.values);
    let emu = Emulator::start();
    emu.state().vercel.seed_project(&token, "team_canary00000000000000", "canary", "prj_web", "web");
    let ws = Workspace::new();
    ws.manifest_text(manifest);
    let env = [
        ("SECRET_SYNC_LOG", "secret_sync=trace"),
        ("SECRET_SYNC_HTTP_RETRIES", "0"),
        ("SECRET_SYNC_VERCEL_API_URL", emu.url.as_str()),
        ("SECRET_SYNC_TEST_CLOCK", emu.url.as_str()),
    ];
    let run = |mode: &str, tok: &str| {
        ws.action(
            &[
                ("mode", mode),
                ("environment", "production"),
                ("secrets", &json),
                ("fail-on", "never"),
                ("vercel-token", tok),
            ],
            &env,
        )
    };
    let mut runs = vec![("plan", run("plan", &token))];
    runs.push(("sync", run("sync", &token)));
    let openai = &c.values.iter().find(|(k, _)| k == "PROD_OPENAI_API_KEY").unwrap().1;
    assert_eq!(emu.state().vercel.value("prj_web", "OPENAI_API_KEY", "production"), Some(openai.as_str()));
    assert_eq!(emu.state().vercel.created_deployments("prj_web").len(), 1, "{}", runs[1].1.summary);
    // A build that fails quoting the value it was given (no record: a new value).
    let new = json.replace("CANARYopenai", "CANARYrotated");
    let rotated =
        serde_json::from_str::<serde_json::Value>(&new).unwrap()["PROD_OPENAI_API_KEY"].as_str().unwrap().to_string();
    c.needles.push(rotated.clone());
    emu.state().vercel.fail_next_build(&format!("Error: invalid key {rotated} in .env"));
    // Routed under a new name: created, so production is redeployed.
    ws.manifest_text(
        &manifest.replace("{ vercel: web } ] }\n  JWT_KEY", "{ vercel: web, as: OPENAI_KEY_V2 } ] }\n  JWT_KEY"),
    );
    let failed = ws.action(
        &[
            ("mode", "sync"),
            ("environment", "production"),
            ("secrets", &new),
            ("fail-on", "never"),
            ("vercel-token", &token),
        ],
        &env,
    );
    let message = failed.report_json()["targets"][0]["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("ended ERROR") && message.contains("invalid key *** in .env"), "{message}");
    runs.push(("redeploy failed", failed));
    ws.manifest_text(manifest);
    runs.push(("rejected token", run("sync", &format!("CANARYwrong{}", random_hex(20)))));
    assert!(runs[3].1.summary.contains("HTTP 403"), "{}", runs[3].1.summary);
    emu.state().vercel.forbidden.insert("prj_web".into());
    runs.push(("forbidden", run("sync", &token)));
    for (label, out) in &runs {
        assert_clean(label, out, &c);
    }
    assert!(runs[0].1.mask_lines().iter().any(|l| l.contains(&token)), "the Vercel token was not masked");
}
