//! Kubernetes Secrets target, end to end: the binary runs as an action
//! against the Kubernetes emulator with a kubeconfig pointing at it over
//! http. Request counts are exact. The last test runs the real `kubectl`
//! against the same emulator (ignored by default; `.ci/run` runs it).

use secret_sync_emulators::Emulator;

use crate::harness::{Output, Workspace};

const TOKEN: &str = "k8s-e2e-bearer-token-000000000000";
const NS: &str = "apps";
const NS2: &str = "batch";

const MANIFEST: &str = r#"
version: 1
environments:
  production: { source_prefix: PROD_ }
targets:
  kubernetes:
    api: { environment: production, namespace: apps, secret: api-secrets, restart: [deployment/api, statefulset/worker] }
    jobs: { environment: production, namespace: batch, secret: jobs, restart: [daemonset/agent] }
secrets:
  OPENAI_API_KEY: { to: [ { kubernetes: [api, jobs] } ] }
  DATABASE_URL: { to: [ { kubernetes: api, as: database-url } ] }
  SLACK_TOKEN: { to: [ { kubernetes: [api] } ] }
"#;

fn secrets(slack: &str) -> String {
    serde_json::json!({
        "PROD_OPENAI_API_KEY": "sk-proj-k8s-e2e-openai-key-000000000001",
        "PROD_DATABASE_URL": "postgres://app:db-password-k8s-e2e@db.internal:5432/app",
        "PROD_SLACK_TOKEN": slack,
    })
    .to_string()
}

const SLACK: &str = "xoxb-k8s-e2e-slack-token-00000001";

fn kubeconfig(server: &str, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: emu\nclusters:\n- name: emu\n  cluster:\n    server: {server}\ncontexts:\n- name: emu\n  context:\n    cluster: emu\n    user: ci\nusers:\n- name: ci\n  user:\n    token: {token}\n"
    )
}

fn emulator() -> Emulator {
    let emu = Emulator::start();
    {
        let mut st = emu.state();
        let k = &mut st.kubernetes;
        k.tokens.insert(TOKEN.into());
        k.add_namespace(NS);
        k.add_namespace(NS2);
        k.add_workload("deployment", NS, "api", 2);
        k.add_workload("statefulset", NS, "worker", 2);
        k.add_workload("daemonset", NS2, "agent", 3);
        // A key another tool wrote into the same Secret: never touched.
        k.seed(NS, "api-secrets", "helm", "Update", &[("HELM_RELEASE", "set-by-helm")]);
    }
    emu
}

fn workspace() -> Workspace {
    let ws = Workspace::new();
    ws.manifest_text(MANIFEST);
    ws
}

fn run_with(ws: &Workspace, kubeconfig: &str, secrets: &str, extra: &[(&str, &str)]) -> Output {
    let mut inputs = vec![
        ("mode", "sync"),
        ("environment", "production"),
        ("secrets", secrets),
        ("kubeconfig", kubeconfig),
        ("kubernetes-rollout-timeout", "5"),
    ];
    inputs.extend_from_slice(extra);
    let env =
        [("SECRET_SYNC_K8S_POLL_MS", "5"), ("SECRET_SYNC_HTTP_BACKOFF_MS", "5"), ("SECRET_SYNC_HTTP_RETRIES", "1")];
    let out = ws.action(&inputs, &env);
    let shown = out.everything_visible();
    assert!(!shown.contains(TOKEN), "the cluster token was shown");
    let values: serde_json::Map<String, serde_json::Value> = serde_json::from_str(secrets).unwrap();
    for v in values.values().filter_map(|v| v.as_str()) {
        assert!(!shown.contains(v), "a value was shown");
        assert!(!shown.contains(&secret_sync::util::b64(v.as_bytes())), "a value was shown in base64");
    }
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    out
}

fn run(ws: &Workspace, emu: &Emulator, secrets: &str) -> Output {
    run_with(ws, &kubeconfig(&emu.url, TOKEN), secrets, &[])
}

fn target(out: &Output, id: &str) -> serde_json::Value {
    out.report_json()["targets"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap().clone()
}

const API_SECRET: &str = "/api/v1/namespaces/apps/secrets/api-secrets";
const JOBS_SECRET: &str = "/api/v1/namespaces/batch/secrets/jobs";
const DEPLOY: &str = "/apis/apps/v1/namespaces/apps/deployments/api";
const STS: &str = "/apis/apps/v1/namespaces/apps/statefulsets/worker";
const DS: &str = "/apis/apps/v1/namespaces/batch/daemonsets/agent";

#[test]
fn first_sync_then_nothing_then_one_key() {
    let emu = emulator();
    let ws = workspace();

    // First sync: both Secrets created by one apply each, every workload
    // restarted once and read until rolled out (two reads each).
    let out = run(&ws, &emu, &secrets(SLACK));
    assert_eq!(out.code, 0, "{}", out.summary);
    for (path, n) in [(API_SECRET, 1), (JOBS_SECRET, 1)] {
        assert_eq!(emu.count_exact("GET", path), n, "{path}: one read");
        assert_eq!(emu.count_exact("PATCH", path), n, "{path}: one apply");
    }
    for path in [DEPLOY, STS, DS] {
        assert_eq!(emu.count_exact("PATCH", path), 1, "{path}: one restart");
        assert_eq!(emu.count_exact("GET", path), 2, "{path}: read until rolled out");
    }
    assert_eq!(emu.log().len(), 4 + 3 + 6, "no other request");
    {
        let st = emu.state();
        let k = &st.kubernetes;
        assert_eq!(
            k.value(NS, "api-secrets", "database-url").as_deref(),
            Some("postgres://app:db-password-k8s-e2e@db.internal:5432/app")
        );
        assert_eq!(k.value(NS, "api-secrets", "SLACK_TOKEN").as_deref(), Some(SLACK));
        assert_eq!(k.applied_by(NS, "api-secrets", "secret-sync"), ["OPENAI_API_KEY", "SLACK_TOKEN", "database-url"]);
        assert_eq!(k.applied_by(NS2, "jobs", "secret-sync"), ["OPENAI_API_KEY"]);
        // The other manager's key is untouched and still its own.
        assert_eq!(k.value(NS, "api-secrets", "HELM_RELEASE").as_deref(), Some("set-by-helm"));
        assert_eq!(k.workload("deployment", NS, "api").restarts.len(), 1);
        assert_eq!(k.workload("statefulset", NS, "worker").restarts.len(), 1);
        assert_eq!(k.workload("daemonset", NS2, "agent").restarts.len(), 1);
    }
    assert_eq!(target(&out, "kubernetes:api")["status"], "synced");
    assert_eq!(target(&out, "kubernetes:api")["unrouted"], serde_json::json!(["HELM_RELEASE"]));
    snapshot_targets!("k8s_first_sync", &out);

    // Identical second run: one read per target, no write, no restart.
    emu.clear_log();
    let out = run(&ws, &emu, &secrets(SLACK));
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(emu.count_exact("GET", API_SECRET), 1);
    assert_eq!(emu.count_exact("GET", JOBS_SECRET), 1);
    assert_eq!(emu.log().len(), 2, "reads only: {:?}", emu.log());
    assert_eq!(target(&out, "kubernetes:api")["status"], "unchanged");
    snapshot_targets!("k8s_unchanged", &out);

    // One changed key: one apply at the Secret it is routed to, its
    // workloads rolled; the other target is read only.
    emu.clear_log();
    let out = run(&ws, &emu, &secrets("xoxb-k8s-e2e-slack-token-00000002"));
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(emu.count_exact("PATCH", API_SECRET), 1);
    assert_eq!(emu.count_exact("PATCH", JOBS_SECRET), 0);
    assert_eq!(emu.count_exact("PATCH", DEPLOY), 1);
    assert_eq!(emu.count_exact("PATCH", STS), 1);
    assert_eq!(emu.count("PATCH", DS) + emu.count("GET", DS), 0, "the other target's workload is untouched");
    assert_eq!(emu.log().len(), 2 + 1 + 2 + 4);
    let changes = target(&out, "kubernetes:api")["changes"].clone();
    let changed: Vec<&serde_json::Value> =
        changes.as_array().unwrap().iter().filter(|c| c["action"] != "unchanged").collect();
    assert_eq!(changed, [&serde_json::json!({ "key": "SLACK_TOKEN", "action": "update" })]);
    {
        let st = emu.state();
        assert_eq!(
            st.kubernetes.value(NS, "api-secrets", "SLACK_TOKEN").as_deref(),
            Some("xoxb-k8s-e2e-slack-token-00000002")
        );
        assert_eq!(st.kubernetes.workload("deployment", NS, "api").restarts.len(), 2);
        assert_eq!(st.kubernetes.workload("daemonset", NS2, "agent").restarts.len(), 1);
    }
    snapshot_targets!("k8s_one_key", &out);
}

#[test]
fn a_key_another_manager_owns_through_string_data_is_a_conflict_and_kept() {
    // Another server-side applier writes SLACK_TOKEN through `stringData`:
    // it owns `f:stringData.SLACK_TOKEN`, not `f:data.SLACK_TOKEN`, so the
    // server would let a `data` apply overwrite it without a conflict.
    let emu = emulator();
    emu.state().kubernetes.seed_string_data(NS, "api-secrets", "argocd", &[("SLACK_TOKEN", "set-by-argocd")]);
    let ws = workspace();
    let out = run(&ws, &emu, &secrets(SLACK));
    assert_eq!(out.code, 1, "{}", out.summary);
    let api = target(&out, "kubernetes:api");
    assert_eq!(api["status"], "failed");
    let msg = api["message"].as_str().unwrap();
    insta::assert_snapshot!("k8s_string_data_conflict", msg);
    {
        let st = emu.state();
        let k = &st.kubernetes;
        assert_eq!(k.value(NS, "api-secrets", "SLACK_TOKEN").as_deref(), Some("set-by-argocd"), "overwritten");
        assert_eq!(k.applied_by(NS, "api-secrets", "secret-sync"), ["OPENAI_API_KEY", "database-url"]);
    }
    assert_eq!(emu.count_exact("PATCH", API_SECRET), 1);
    assert_eq!(target(&out, "kubernetes:jobs")["status"], "synced");
}

#[test]
fn a_key_another_field_manager_owns_is_left_alone_and_reported() {
    let emu = emulator();
    emu.state().kubernetes.seed(NS, "api-secrets", "kubectl-edit", "Update", &[("SLACK_TOKEN", "edited-by-hand")]);
    let ws = workspace();
    let out = run(&ws, &emu, &secrets(SLACK));
    assert_eq!(out.code, 1, "{}", out.summary);
    let api = target(&out, "kubernetes:api");
    assert_eq!(api["status"], "failed");
    let msg = api["message"].as_str().unwrap();
    assert!(msg.contains("`SLACK_TOKEN` (managed by `kubectl-edit (Update)`)"), "{msg}");
    {
        let st = emu.state();
        let k = &st.kubernetes;
        assert_eq!(k.value(NS, "api-secrets", "SLACK_TOKEN").as_deref(), Some("edited-by-hand"), "overwritten");
        // The other routed keys were written, without the conflicting one.
        assert_eq!(k.applied_by(NS, "api-secrets", "secret-sync"), ["OPENAI_API_KEY", "database-url"]);
    }
    // Written once, never forced.
    assert_eq!(emu.count_exact("PATCH", API_SECRET), 1);
    assert_eq!(target(&out, "kubernetes:jobs")["status"], "synced");
    snapshot_targets!("k8s_conflict", &out);

    // A plan says so before any write.
    emu.clear_log();
    let out = run_with(&ws, &kubeconfig(&emu.url, TOKEN), &secrets(SLACK), &[("mode", "plan")]);
    assert!(target(&out, "kubernetes:api")["message"].as_str().unwrap().contains("`SLACK_TOKEN`"));
    assert_eq!(emu.count("PATCH", "/"), 0);
}

#[test]
fn prune_removes_only_keys_secret_sync_alone_owns() {
    let emu = emulator();
    {
        let mut st = emu.state();
        let k = &mut st.kubernetes;
        // Written by an earlier secret-sync run, no longer routed.
        k.seed(NS, "api-secrets", "secret-sync", "Apply", &[("OLD_KEY", "old"), ("SHARED_OLD", "shared")]);
        // Also applied by someone else: pruning gives up only its share.
        k.seed(NS, "api-secrets", "kubectl", "Apply", &[("SHARED_OLD", "shared")]);
    }
    let ws = workspace();
    let out = run(&ws, &emu, &secrets(SLACK));
    assert_eq!(out.code, 0, "{}", out.summary);
    {
        let st = emu.state();
        let k = &st.kubernetes;
        assert_eq!(k.value(NS, "api-secrets", "OLD_KEY").as_deref(), Some("old"), "removed without prune");
        assert!(k.applied_by(NS, "api-secrets", "secret-sync").contains(&"OLD_KEY".to_string()), "ownership dropped");
    }
    let warnings = target(&out, "kubernetes:api")["warnings"].clone();
    let kept = warnings.as_array().unwrap().iter().filter_map(|w| w.as_str()).find(|w| w.contains("`OLD_KEY`"));
    // The driver's one wording, for every kind.
    insta::assert_snapshot!("k8s_kept_without_prune", kept.unwrap_or_default());

    // Over the cap: nothing is written.
    emu.clear_log();
    let out = run_with(&ws, &kubeconfig(&emu.url, TOKEN), &secrets(SLACK), &[("prune", "true"), ("max-deletes", "0")]);
    assert_eq!(target(&out, "kubernetes:api")["status"], "failed");
    assert_eq!(emu.count("PATCH", "/"), 0);

    emu.clear_log();
    let out = run_with(&ws, &kubeconfig(&emu.url, TOKEN), &secrets(SLACK), &[("prune", "true")]);
    assert_eq!(out.code, 0, "{}", out.summary);
    {
        let st = emu.state();
        let k = &st.kubernetes;
        assert_eq!(k.value(NS, "api-secrets", "OLD_KEY"), None, "pruned");
        assert_eq!(
            k.value(NS, "api-secrets", "SHARED_OLD").as_deref(),
            Some("shared"),
            "another manager's share kept it"
        );
        assert_eq!(k.value(NS, "api-secrets", "HELM_RELEASE").as_deref(), Some("set-by-helm"));
        assert_eq!(k.applied_by(NS, "api-secrets", "secret-sync"), ["OPENAI_API_KEY", "SLACK_TOKEN", "database-url"]);
    }
    let deletes: Vec<_> = target(&out, "kubernetes:api")["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "delete")
        .map(|c| c["key"].clone())
        .collect();
    assert_eq!(deletes, ["OLD_KEY"]);
    // One apply; the data changed, so the workloads rolled.
    assert_eq!(emu.count_exact("PATCH", API_SECRET), 1);
    assert_eq!(emu.count_exact("PATCH", DEPLOY), 1);
}

#[test]
fn a_rollout_that_never_completes_fails_that_target_only() {
    let emu = emulator();
    emu.state().kubernetes.workload_mut("daemonset", NS2, "agent").stuck = true;
    let ws = workspace();
    let out = run_with(&ws, &kubeconfig(&emu.url, TOKEN), &secrets(SLACK), &[("kubernetes-rollout-timeout", "1")]);
    assert_eq!(out.code, 1, "{}", out.summary);
    let jobs = target(&out, "kubernetes:jobs");
    assert_eq!(jobs["status"], "failed");
    assert_eq!(jobs["written"], true);
    let msg = jobs["message"].as_str().unwrap();
    assert!(msg.contains("`daemonset/agent` did not finish rolling out within 1s"), "{msg}");
    assert!(msg.contains("kubectl rollout status daemonset/agent -n batch"), "{msg}");
    assert_eq!(target(&out, "kubernetes:api")["status"], "synced");
    assert_eq!(emu.count_exact("PATCH", DS), 1, "restarted once, not again");
    assert!(emu.count_exact("GET", DS) >= 1);
    snapshot_targets!("k8s_stuck", &out);
}

#[test]
fn credential_and_access_errors_are_clear_per_target() {
    let emu = emulator();
    let ws = workspace();
    let msg = |out: &Output, id: &str| target(out, id)["message"].as_str().unwrap_or_default().to_string();

    // A kubeconfig that is not YAML: named by line, nothing of it shown.
    let out = run_with(&ws, &format!("clusters: [\n  {TOKEN}"), &secrets(SLACK), &[]);
    assert_eq!(out.code, 1);
    for id in ["kubernetes:api", "kubernetes:jobs"] {
        assert!(msg(&out, id).contains("the `kubeconfig` input is not a valid kubeconfig (line"), "{}", msg(&out, id));
    }
    // An exec plugin: the alternative is named.
    let exec = kubeconfig(&emu.url, TOKEN).replace(
        &format!("token: {TOKEN}"),
        "exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n      args: [eks, get-token, --cluster-name, prod]",
    );
    let out = run_with(&ws, &exec, &secrets(SLACK), &[]);
    assert!(msg(&out, "kubernetes:api").contains("`exec` plugin (`aws`)"), "{}", msg(&out, "kubernetes:api"));
    assert!(msg(&out, "kubernetes:api").contains("aws eks get-token"));
    assert_eq!(emu.log().len(), 0, "nothing was sent");
    snapshot_targets!("k8s_exec", &out);

    // 401: a token the cluster does not know.
    let out = run_with(&ws, &kubeconfig(&emu.url, "k8s-e2e-wrong-token-0000000000000"), &secrets(SLACK), &[]);
    assert!(
        msg(&out, "kubernetes:api").contains("HTTP 401: the cluster rejected the credentials"),
        "{}",
        msg(&out, "kubernetes:api")
    );
    assert_eq!(emu.count("PATCH", "/"), 0);

    // 403 in one namespace, 404 (no such namespace) in the other.
    {
        let mut st = emu.state();
        st.kubernetes.forbidden.insert(NS.into());
        st.kubernetes.namespaces.remove(NS2);
    }
    emu.clear_log();
    let out = run(&ws, &emu, &secrets(SLACK));
    assert_eq!(out.code, 1);
    let api = msg(&out, "kubernetes:api");
    assert!(api.contains("HTTP 403") && api.contains("may not `get` secrets in namespace `apps`"), "{api}");
    let jobs = msg(&out, "kubernetes:jobs");
    assert!(jobs.contains("HTTP 404") && jobs.contains("namespace `batch` does not exist"), "{jobs}");
    // The 404 read, then the apply that names the namespace; nothing else.
    assert_eq!(emu.log().len(), 3, "{:?}", emu.log());
    snapshot_targets!("k8s_access", &out);
}

/// A 500 from the API server fails that target with the status and the
/// server's `Audit-ID` in the report (docs/service-facts.md, "Kubernetes"),
/// as every kind's failure carries what the service said.
#[test]
fn a_server_error_carries_its_status_and_audit_id() {
    use secret_sync_emulators::{Fault, FaultKind};
    let emu = emulator();
    let ws = workspace();
    emu.fault(Fault::on("GET", API_SECRET, 2, FaultKind::Status { code: 500, retry_after: None }));
    let out = run(&ws, &emu, &secrets(SLACK));
    assert_eq!(out.code, 1);
    let api = target(&out, "kubernetes:api");
    assert_eq!(api["status"], "failed");
    assert_eq!(api["http_status"], 500, "{api}");
    assert_eq!(api["request_id"], "emu-k8s-audit", "{api}");
    assert!(api["message"].as_str().unwrap().contains("HTTP 500"), "{api}");
    // The read was tried twice (one retry), nothing was applied to it.
    assert_eq!(emu.count("GET", API_SECRET), 2);
    assert_eq!(emu.count("PATCH", API_SECRET), 0);
    assert_eq!(target(&out, "kubernetes:jobs")["status"], "synced", "the other target goes on");
}

/// A kubeconfig on disk through KUBECONFIG (as a previous step writes it)
/// works as the input does.
#[test]
fn kubeconfig_file_from_the_environment() {
    let emu = emulator();
    let ws = workspace();
    let path = ws.root().join("kubeconfig.yaml");
    std::fs::write(&path, kubeconfig(&emu.url, TOKEN)).unwrap();
    let env = [("KUBECONFIG", path.to_str().unwrap()), ("SECRET_SYNC_K8S_POLL_MS", "5")];
    let out = ws.action(&[("mode", "plan"), ("environment", "production"), ("secrets", &secrets(SLACK))], &env);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(target(&out, "kubernetes:api")["status"], "planned");
    assert_eq!(emu.log().len(), 2, "one read per target, no write");
}

/// The real `kubectl` (v1.32 on these machines) against the emulator: if
/// the official client cannot read, apply, restart and watch a rollout
/// there, the emulator is wrong. `.ci/run` runs it; it fails, saying so,
/// where kubectl is not installed.
#[test]
#[ignore = "needs kubectl; .ci/run runs it with --ignored"]
fn kubectl_against_the_emulator() {
    use std::process::Command;
    assert!(
        Command::new("kubectl").args(["version", "--client"]).output().is_ok_and(|o| o.status.success()),
        "kubectl is not installed: this check runs the real kubectl against the emulator (install it: https://kubernetes.io/docs/tasks/tools/)"
    );
    let emu = emulator();
    // kubectl withholds its token from an http:// server (it sent none in
    // every request here), so the emulator serves anonymous requests, as an
    // API server with anonymous auth on would; secret-sync still sends its token.
    emu.state().kubernetes.anonymous = true;
    let ws = workspace();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kubeconfig");
    std::fs::write(&config, kubeconfig(&emu.url, TOKEN)).unwrap();
    let kubectl = |args: &[&str]| {
        let out = Command::new("kubectl")
            .args(args)
            .args(["--request-timeout", "10s"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("KUBECONFIG", &config)
            .env("KUBECACHEDIR", dir.path().join("cache"))
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    };

    assert_eq!(run(&ws, &emu, &secrets(SLACK)).code, 0);
    // get: the Secret secret-sync applied, with its ownership.
    let (ok, text) = kubectl(&["get", "secret", "api-secrets", "-n", NS, "-o", "json", "--show-managed-fields"]);
    assert!(ok, "{text}");
    let obj: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(obj["data"]["SLACK_TOKEN"], secret_sync::util::b64(SLACK.as_bytes()));
    assert!(obj["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["manager"] == "secret-sync" && m["operation"] == "Apply"));

    // apply --server-side: kubectl becomes the manager of its own key… (through
    // `data`: a key applied through `stringData` is owned under
    // `f:stringData`, which a `data` owner's apply does not conflict with;
    // docs/service-facts.md, "Kubernetes")
    let manifest = dir.path().join("extra.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api-secrets\n  namespace: apps\ndata:\n  EXTRA: ZnJvbS1rdWJlY3Rs\n").unwrap();
    let (ok, text) = kubectl(&["apply", "--server-side", "--validate=false", "-f", manifest.to_str().unwrap()]);
    assert!(ok && text.contains("secret/api-secrets serverside-applied"), "{text}");
    assert_eq!(emu.state().kubernetes.applied_by(NS, "api-secrets", "kubectl"), ["EXTRA"]);
    // …and is refused a key secret-sync owns, as secret-sync is refused kubectl's.
    std::fs::write(&manifest, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api-secrets\n  namespace: apps\ndata:\n  EXTRA: ZnJvbS1rdWJlY3Rs\n  SLACK_TOKEN: b3ZlcndyaXR0ZW4=\n").unwrap();
    let (ok, text) = kubectl(&["apply", "--server-side", "--validate=false", "-f", manifest.to_str().unwrap()]);
    assert!(!ok && text.contains("conflict with \"secret-sync\"") && text.contains(".data.SLACK_TOKEN"), "{text}");

    // rollout restart and rollout status.
    let (ok, text) = kubectl(&["rollout", "restart", "deployment/api", "-n", NS]);
    assert!(ok && text.contains("deployment.apps/api restarted"), "{text}");
    assert_eq!(emu.state().kubernetes.workload("deployment", NS, "api").restarts.len(), 2);
    let (ok, text) = kubectl(&["rollout", "status", "deployment/api", "-n", NS, "--timeout=30s"]);
    assert!(ok && text.contains("successfully rolled out"), "{text}");
    let (ok, text) = kubectl(&["rollout", "status", "statefulset/worker", "-n", NS, "--timeout=30s"]);
    assert!(ok, "{text}");

    // secret-sync again: unchanged, kubectl's key left alone.
    let out = run(&ws, &emu, &secrets(SLACK));
    assert_eq!(target(&out, "kubernetes:api")["status"], "unchanged", "{}", out.summary);
    assert_eq!(emu.state().kubernetes.value(NS, "api-secrets", "EXTRA").as_deref(), Some("from-kubectl"));
}
