//! Scale-out on an Actions matrix: the `targets` filter shards the Sophia
//! example's production targets over jobs, `merge-reports` folds their
//! reports into one. Request counts are exact.

use secret_sync_emulators::{Emulator, Fault, FaultKind};

use crate::action::sophia_secrets_json;
use crate::harness::{repo, Output, Workspace};

const ESC_TOKEN: &str = "pul-matrix-e2e-esc-token-0000";
const FLY_TOKEN: &str = "fm2_matrixE2eMacaroonToken000000";
const GH_TOKEN: &str = "ghp_matrixE2eGithubToken00000000000000";

/// The three shards of the example workflow (examples/workflows/matrix.yml).
const SHARDS: [&str; 3] = ["esc:*,github:*", "fly:[a-m]*", "fly:[n-z]*"];

fn emulator() -> Emulator {
    let emu = Emulator::start();
    crate::fly::sophia_services(&mut emu.state(), (ESC_TOKEN, FLY_TOKEN, GH_TOKEN), 1);
    emu
}

fn workspace() -> Workspace {
    let ws = Workspace::new();
    ws.manifest_from(&repo().join("examples/sophia/secret-sync.yml"));
    ws
}

/// One matrix job: `targets` = `shard`, its report at `report` (workspace-relative).
fn shard(ws: &Workspace, emu: &Emulator, shard: &str, report: &str) -> Output {
    let secrets = sophia_secrets_json(&[]);
    let inputs = [
        ("mode", "sync"),
        ("environment", "production"),
        ("secrets", secrets.as_str()),
        ("targets", shard),
        ("report-path", report),
        ("esc-api-url", emu.url.as_str()),
        ("esc-token", ESC_TOKEN),
        ("fly-token", FLY_TOKEN),
        ("github-token", GH_TOKEN),
    ];
    let env = [
        ("GITHUB_API_URL", emu.url.as_str()),
        ("SECRET_SYNC_TEST_CLOCK", emu.url.as_str()),
        ("FLY_API_BASE_URL", emu.url.as_str()),
        ("FLY_FLAPS_BASE_URL", emu.url.as_str()),
        ("SECRET_SYNC_HTTP_BACKOFF_MS", "5"),
        ("SECRET_SYNC_HTTP_RETRIES", "1"),
    ];
    ws.action(&inputs, &env)
}

fn statuses(report: &serde_json::Value) -> Vec<(String, String)> {
    report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_str().unwrap().to_string(), t["status"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn a_shard_touches_only_its_targets() {
    let emu = emulator();
    let ws = workspace();
    let out = shard(&ws, &emu, "esc:*,github:*", "shard.json");
    assert_eq!(out.code, 0, "{}", out.summary);
    // Only ESC and GitHub were contacted: the org metadata (2 reads: org
    // page, repository page), ESC (read + write), GitHub targets (2 lists,
    // 2 public keys, then one PUT per key).
    assert_eq!(emu.count("POST", "/graphql") + emu.count("GET", "/v1/apps") + emu.count("POST", "/v1/apps"), 0);
    assert_eq!(emu.count_exact("GET", "/api/esc/environments/ai-cherry/sophia/production/decrypt"), 1);
    assert_eq!(emu.count_exact("PATCH", "/api/esc/environments/ai-cherry/sophia/production"), 1);
    let report = out.report_json();
    assert_eq!(report["selection"], serde_json::json!(["esc:*", "github:*"]));
    assert_eq!(report["counts"]["targets_in_scope"], 3);
    assert_eq!(report["counts"]["targets_not_selected"], 8);
    for (id, status) in statuses(&report) {
        let want = match id.as_str() {
            "esc:sophia-prod" | "github:gh-dashboard" | "github:gh-infra" => "synced",
            "esc:sophia-dev" | "esc:sophia-staging" => "skipped",
            _ => "not-selected",
        };
        assert_eq!(status, want, "{id}");
    }
    // Every secret is still validated, whatever the shard.
    assert_eq!(report["counts"]["secrets_declared"], 60);
    insta::assert_snapshot!("shard_esc_github__summary", out.summary);
}

#[test]
fn a_pattern_that_matches_nothing_is_refused() {
    let emu = emulator();
    let ws = workspace();
    let out = shard(&ws, &emu, "fly:*,esc:sophia-prd", "shard.json");
    assert_eq!(out.code, 3);
    assert!(
        out.stdout.contains("no target of the manifest matches `esc:sophia-prd` (did you mean `esc:sophia-prod`?)"),
        "{}",
        out.stdout
    );
    assert!(emu.log().is_empty(), "nothing contacted");
    let out = shard(&ws, &emu, "lambda", "shard.json");
    assert_eq!(out.code, 3);
    assert!(out.stdout.contains("has no kind: write `KIND:NAME`"), "{}", out.stdout);
}

/// Three shards, one of which fails at one app; then one missing.
#[test]
fn merge_reports_folds_the_shards() {
    let emu = emulator();
    emu.fault(
        Fault::on("POST", "/v1/apps/sophia-notion/secrets", 99, FaultKind::Status { code: 500, retry_after: None })
            .exact(),
    );
    let ws = workspace();
    std::fs::create_dir_all(ws.root().join("reports/shard-0")).unwrap();
    std::fs::create_dir_all(ws.root().join("reports/shard-1")).unwrap();
    std::fs::create_dir_all(ws.root().join("reports/shard-2")).unwrap();
    let mut changed = 0;
    for (i, s) in SHARDS.iter().enumerate() {
        let out = shard(&ws, &emu, s, &format!("reports/shard-{i}/secret-sync-report.json"));
        // fly:[n-z]* holds sophia-notion, whose write fails.
        assert_eq!(out.code, if i == 2 { 1 } else { 0 }, "{s}: {}", out.summary);
        changed += out.report_json()["counts"]["creates"].as_u64().unwrap();
    }
    // The summary that merge-reports writes next to them is not a report.
    std::fs::write(ws.root().join("reports/shard-0/secret-sync-summary.md"), "# not JSON\n").unwrap();

    let merge = |reports: &str, shards: &str, path: &str| {
        ws.action(&[("mode", "merge-reports"), ("reports", reports), ("shards", shards), ("report-path", path)], &[])
    };
    let out = merge("reports", &SHARDS.join("\n"), "merged.json");
    assert_eq!(out.code, 1, "the worst shard's outcome: {}", out.summary);
    let report = out.report_json();
    assert_eq!(report["outcome"]["status"], "sync-failed");
    assert_eq!(report["counts"]["creates"].as_u64().unwrap(), changed, "counts add up");
    assert_eq!(report["counts"]["targets_in_scope"], 11);
    assert_eq!(report["counts"]["targets_failed"], 1);
    assert!(report.get("selection").is_none());
    for (id, status) in statuses(&report) {
        let want = match id.as_str() {
            "fly:notion" => "failed",
            "esc:sophia-dev" | "esc:sophia-staging" => "skipped",
            _ => "synced",
        };
        assert_eq!(status, want, "{id}");
    }
    insta::assert_snapshot!("merged_one_failed__summary", out.summary);

    // One shard's artifact is missing: named, with the targets nobody handled.
    std::fs::remove_dir_all(ws.root().join("reports/shard-1")).unwrap();
    let out = merge("reports", &SHARDS.join("\n"), "merged.json");
    assert_eq!(out.code, 1);
    let report = out.report_json();
    let msg = report["outcome"]["message"].as_str().unwrap();
    assert!(msg.contains("no report from shard(s) `fly:[a-m]*`"), "{msg}");
    assert!(msg.contains("`fly:lambda`, `fly:gong`, `fly:hubspot`, `fly:browser`, `fly:dashboard`"), "{msg}");
    assert_eq!(report["counts"]["targets_not_selected"], 5);
    insta::assert_snapshot!("merged_one_missing__summary", out.summary);

    // Nothing to merge, or not a report: usage errors.
    let out = merge("nowhere", "", "merged.json");
    assert_eq!(out.code, 3);
    assert!(out.stdout.contains("cannot read `nowhere`: no such file"), "{}", out.stdout);
    std::fs::write(ws.root().join("reports/shard-0/bad.json"), "{\"report_version\": 1}").unwrap();
    let out = merge("reports", "", "merged.json");
    assert_eq!(out.code, 3);
    assert!(out.stdout.contains("bad.json` is not a secret-sync JSON report"), "{}", out.stdout);
}

#[test]
fn merge_refuses_reports_of_different_runs() {
    let ws = workspace();
    let dir = ws.root().join("r");
    std::fs::create_dir_all(&dir).unwrap();
    let out = ws.action(
        &[
            ("mode", "validate"),
            ("environment", "production"),
            ("secrets", &sophia_secrets_json(&[])),
            ("report-path", "r/a.json"),
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.summary);
    let mut other = out.report_json();
    other["environment"] = "staging".into();
    std::fs::write(dir.join("b.json"), other.to_string()).unwrap();
    let out = ws.action(&[("mode", "merge-reports"), ("reports", "r"), ("report-path", "m.json")], &[]);
    assert_eq!(out.code, 3);
    assert!(
        out.stdout.contains("are reports of different runs: environment `production` vs `staging`"),
        "{}",
        out.stdout
    );
}

/// The example workflow shards as these tests do, and its merge job names
/// the same shards, so a missing one is reported by name.
#[test]
fn the_example_workflow_matches() {
    let text = std::fs::read_to_string(repo().join("examples/workflows/matrix.yml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let matrix: Vec<&str> = doc["jobs"]["sync"]["strategy"]["matrix"]["shard"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(matrix, SHARDS);
    let merge = doc["jobs"]["report"]["steps"][1]["with"].clone();
    assert_eq!(merge["mode"], "merge-reports");
    let named: Vec<&str> = merge["shards"].as_str().unwrap().lines().collect();
    assert_eq!(named, SHARDS);
    // Every production target of the example is in exactly one shard.
    let m = secret_sync::manifest::load(
        &repo().join("examples/sophia/secret-sync.yml"),
        "m",
        secret_sync::targets::SECTIONS,
    )
    .unwrap();
    let sels: Vec<_> = SHARDS.iter().map(|s| secret_sync::select::Selection::parse(s).unwrap().unwrap()).collect();
    for t in m.targets.iter().filter(|t| t.environment == "production") {
        assert_eq!(sels.iter().filter(|s| s.selects(&t.id())).count(), 1, "{}", t.id());
    }
}

/// Rotation and drift concern secrets, not targets: one shard reads the
/// org's metadata for all of them (the one handling the environment's first
/// target, `esc:sophia-prod`), a shard with GitHub targets reads it for the
/// sources' ages, and a Fly-only shard does not read it at all. The merged
/// report still holds the rotation and drift of a single job.
#[test]
fn only_the_shards_that_need_the_org_metadata_read_it() {
    let emu = emulator();
    {
        // Two of the sources as org secrets: one due for rotation soon
        // (a notice), one recently changed.
        let mut st = emu.state();
        st.github.org_secret("ai-cherry", "PROD_OPENAI_API_KEY", "2026-09-01T00:00:00Z", "all");
        st.github.org_secret("ai-cherry", "OPENROUTER_API_KEY", "2026-11-01T00:00:00Z", "all");
    }
    let ws = workspace();
    let shards = ["fly:*", "esc:*", "github:*"];
    let mut reads = Vec::new();
    for (i, s) in shards.iter().enumerate() {
        std::fs::create_dir_all(ws.root().join(format!("reports/shard-{i}"))).unwrap();
        emu.clear_log();
        let out = shard(&ws, &emu, s, &format!("reports/shard-{i}/secret-sync-report.json"));
        assert_eq!(out.code, 0, "{s}: {}", out.summary);
        // The org's secrets (60: one page) and the running repository's.
        let org = emu.count_exact("GET", "/orgs/ai-cherry/actions/secrets");
        let repo = emu.count_exact("GET", "/repos/ai-cherry/sophia/actions/secrets");
        reads.push((*s, org, repo, out.report_json()["github"]["status"].clone()));
    }
    let read = serde_json::json!("read");
    assert_eq!(
        reads,
        [("fly:*", 0, 0, serde_json::Value::Null), ("esc:*", 1, 1, read.clone()), ("github:*", 1, 1, read.clone())]
    );
    let out = ws.action(
        &[("mode", "merge-reports"), ("reports", "reports"), ("shards", &shards.join("\n")), ("report-path", "m.json")],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.summary);
    let merged = out.report_json();

    // The same run as one job: the same rotation and drift.
    let single = ws.action(
        &[
            ("mode", "sync"),
            ("environment", "production"),
            ("secrets", &sophia_secrets_json(&[])),
            ("report-path", "single.json"),
            ("esc-api-url", emu.url.as_str()),
            ("esc-token", ESC_TOKEN),
            ("fly-token", FLY_TOKEN),
            ("github-token", GH_TOKEN),
        ],
        &[
            ("GITHUB_API_URL", emu.url.as_str()),
            ("FLY_API_BASE_URL", emu.url.as_str()),
            ("FLY_FLAPS_BASE_URL", emu.url.as_str()),
        ],
    );
    let single = single.report_json();
    assert_eq!(merged["github"], single["github"]);
    assert_eq!(merged["github"]["rotation"].as_array().unwrap().len(), 2, "{}", merged["github"]);
    assert_eq!(merged["findings"], single["findings"]);
    assert!(merged["findings"].to_string().contains("is due for rotation"), "{}", merged["findings"]);
}
