//! GitHub at scale within GitHub's rules, end to end: one scheduler for the
//! token (requests serial, writes a configured interval apart), rate-limit
//! answers waited out as GitHub documents them within the run's bound, and
//! GitHub's secrets limits checked before anything is written. Time is the
//! emulator's test clock (`SECRET_SYNC_TEST_CLOCK`): nothing here sleeps.

use secret_sync_emulators::github::RateLimit;
use secret_sync_emulators::{Emulator, Fault, FaultKind, Logged};

use crate::harness::{Output, Workspace};

const TOKEN: &str = "ghp_e2ePaceToken000000000000000000000000";

fn emulator(repos: usize) -> Emulator {
    let emu = Emulator::start();
    {
        let mut st = emu.state();
        let gh = &mut st.github;
        gh.tokens.insert(TOKEN.into());
        gh.org_secret("acme", "UNRELATED", "2026-01-01T00:00:00Z", "all");
        gh.add_repo("ai-cherry/sophia");
        for r in 0..repos {
            gh.add_repo(&format!("acme/repo-{r}"));
        }
    }
    emu
}

/// `keys` secrets, each routed to every one of `repos` repositories.
fn manifest(repos: usize, keys: usize, defaults: &str) -> String {
    let mut m = format!("version: 1\n{defaults}targets:\n  github:\n");
    for r in 0..repos {
        m += &format!("    r{r}: {{ repo: acme/repo-{r} }}\n");
    }
    m += "secrets:\n";
    for k in 0..keys {
        m += &format!("  KEY_{k:03}:\n    to:\n");
        for r in 0..repos {
            m += &format!("      - github: r{r}\n");
        }
    }
    m
}

fn value(k: usize) -> String {
    format!("pace-e2e-value-{k:03}-0000000000")
}

fn run(emu: &Emulator, manifest: &str, keys: usize) -> Output {
    let ws = Workspace::new();
    ws.manifest_text(manifest);
    let vals: serde_json::Map<String, serde_json::Value> =
        (0..keys).map(|k| (format!("KEY_{k:03}"), value(k).into())).collect();
    let vals = serde_json::Value::Object(vals).to_string();
    let inputs = [("mode", "sync"), ("secrets", vals.as_str()), ("github-token", TOKEN), ("github-org", "acme")];
    let env = [("GITHUB_API_URL", emu.url.as_str()), ("SECRET_SYNC_TEST_CLOCK", emu.url.as_str())];
    let out = ws.action(&inputs, &env);
    let shown = out.everything_visible();
    assert!(!shown.contains(TOKEN) && !shown.contains(&value(0)), "a value or the token was shown");
    out
}

/// The GitHub requests, in arrival order.
fn github_log(emu: &Emulator) -> Vec<Logged> {
    let mut log: Vec<Logged> =
        emu.log().into_iter().filter(|l| l.path.starts_with("/repos/") || l.path.starts_with("/orgs/")).collect();
    log.sort_by_key(|l| l.seq);
    log
}

fn writes(log: &[Logged]) -> Vec<Logged> {
    log.iter().filter(|l| matches!(l.method.as_str(), "PUT" | "DELETE" | "POST" | "PATCH")).cloned().collect()
}

/// No request arrived before the one before it was answered.
fn assert_serial(log: &[Logged]) {
    for w in log.windows(2) {
        let end = w[0].end_seq.expect("every request was answered");
        assert!(w[1].seq > end, "{} {} overlapped {} {}", w[1].method, w[1].path, w[0].method, w[0].path);
    }
}

/// Test-clock time from the end of each write to the start of the next.
fn gaps(writes: &[Logged]) -> Vec<u64> {
    writes.windows(2).map(|w| w[1].clock_ms - w[0].end_clock_ms.expect("answered")).collect()
}

fn assert_landed(emu: &Emulator, repos: usize, keys: usize) {
    let st = emu.state();
    for r in 0..repos {
        for k in 0..keys {
            let got = st.github.get(&format!("acme/repo-{r}"), &format!("KEY_{k:03}")).and_then(|m| m.value.clone());
            assert_eq!(got.as_deref(), Some(value(k).as_str()), "repo-{r} KEY_{k:03}");
        }
    }
}

#[test]
fn forty_writes_over_four_repositories_go_one_at_a_time_a_second_apart() {
    let emu = emulator(4);
    let out = run(&emu, &manifest(4, 10, ""), 10);
    assert_eq!(out.code, 0, "{}", out.summary);
    let log = github_log(&emu);
    assert_serial(&log);
    let w = writes(&log);
    assert_eq!(w.len(), 40);
    assert!(gaps(&w).iter().all(|g| *g >= 1000), "{:?}", gaps(&w));
    // Nothing else moved the clock: the writes took exactly their 39 intervals.
    assert_eq!(w[39].clock_ms - w[0].clock_ms, 39 * 1000);
    assert_landed(&emu, 4, 10);
    // Every target read (and counted its writes) before the first write.
    let first_write = log.iter().position(|l| l.method == "PUT").unwrap();
    for r in 0..4 {
        let list = format!("/repos/acme/repo-{r}/actions/secrets");
        assert!(log.iter().position(|l| l.path == list).unwrap() < first_write, "{list}");
    }
    let budget = out.stdout_unmasked();
    let notice = budget.lines().find(|l| l.starts_with("::notice title=secret-sync GitHub budget::")).unwrap();
    assert!(
        notice.contains("this run sends 40 write request(s)") && notice.contains("at least 39s in all"),
        "{notice}"
    );
}

#[test]
fn the_interval_is_a_manifest_setting() {
    let emu = emulator(4);
    let out = run(&emu, &manifest(4, 10, "defaults:\n  github_write_interval: 250ms\n"), 10);
    assert_eq!(out.code, 0, "{}", out.summary);
    let w = writes(&github_log(&emu));
    assert_eq!(w.len(), 40);
    assert!(gaps(&w).iter().all(|g| *g >= 250), "{:?}", gaps(&w));
    assert_eq!(w[39].clock_ms - w[0].clock_ms, 39 * 250);
}

/// The 10th PUT is refused with `limit`; returns the time from that
/// refusal to the next write, by the test clock.
fn limited_on_the_tenth_put(limit: RateLimit) -> u64 {
    let emu = emulator(4);
    emu.fault(Fault::on("PUT", "/actions/secrets/", 1, FaultKind::GitHubLimit(limit)).after(9));
    let out = run(&emu, &manifest(4, 10, ""), 10);
    assert_eq!(out.code, 0, "{}", out.summary);
    let log = github_log(&emu);
    assert_serial(&log);
    let w = writes(&log);
    assert_eq!(w.len(), 41, "the refused PUT is sent again, once");
    assert_eq!(w[9].path, w[10].path, "the refused PUT is the next write");
    assert_landed(&emu, 4, 10);
    w[10].clock_ms - w[9].end_clock_ms.unwrap()
}

#[test]
fn a_secondary_limit_with_retry_after_is_waited_out() {
    let waited = limited_on_the_tenth_put(RateLimit::secondary(Some(3)));
    assert!((3000..4000).contains(&waited), "{waited} ms");
}

#[test]
fn a_used_up_primary_limit_waits_for_its_reset() {
    let waited = limited_on_the_tenth_put(RateLimit::primary(3));
    assert!(waited >= 3000, "{waited} ms");
}

#[test]
fn a_limit_without_a_time_waits_at_least_the_documented_minute() {
    let waited = limited_on_the_tenth_put(RateLimit::secondary(None));
    assert!(waited >= 60_000, "{waited} ms");
}

#[test]
fn past_the_runs_bound_on_waiting_the_targets_fail_naming_what_they_did_not_write() {
    let emu = emulator(4);
    emu.fault(Fault::on("PUT", "/actions/secrets/", 1, FaultKind::GitHubLimit(RateLimit::secondary(None))).after(9));
    let out = run(&emu, &manifest(4, 10, "defaults:\n  github_rate_limit_wait: 30s\n"), 10);
    assert_ne!(out.code, 0, "{}", out.summary);
    let log = github_log(&emu);
    assert_eq!(writes(&log).len(), 10, "nothing written after the refusal");
    let refused = writes(&log)[9].end_clock_ms.unwrap();
    assert!(emu.clock_ms() < refused + 60_000, "the minute was waited for");
    let report = out.report_json();
    // Targets write one after another: the first was refused its tenth
    // write; the others had not started (nine written in all).
    let mut unwritten = 0;
    for t in report["targets"].as_array().unwrap() {
        assert_eq!(t["status"], "failed", "{t}");
        let msg = t["message"].as_str().unwrap_or_default();
        assert!(msg.contains("`defaults.github_rate_limit_wait`") && msg.contains("not written: "), "{msg}");
        unwritten += msg.split("not written: ").nth(1).unwrap().matches("`KEY_").count();
    }
    assert_eq!(unwritten, 40 - 9, "every key not written is named");
}

#[test]
fn a_101st_secret_for_one_repository_fails_that_target_in_the_plan() {
    let emu = emulator(2);
    let mut m = manifest(1, 101, "");
    m = m.replace("    r0: { repo: acme/repo-0 }\n", "    r0: { repo: acme/repo-0 }\n    r1: { repo: acme/repo-1 }\n");
    m = m.replace("  KEY_000:\n    to:\n", "  KEY_000:\n    to:\n      - github: r1\n");
    let out = run(&emu, &m, 101);
    assert_eq!(out.code, 1, "{}", out.summary);
    let report = out.report_json();
    let target = |id: &str| report["targets"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap().clone();
    let r0 = target("github:r0");
    assert_eq!(r0["status"], "failed");
    insta::assert_snapshot!(r0["message"].as_str().unwrap(), @"repository `acme/repo-0` would hold 101 secrets, more than GitHub's limit of 100 per repository; nothing was written to this target");
    assert_eq!(emu.count("PUT", "/repos/acme/repo-0/"), 0);
    assert_eq!(emu.count("GET", "/repos/acme/repo-0/actions/secrets/public-key"), 0);
    // The other repository is written.
    assert_eq!(target("github:r1")["status"], "synced");
    assert_eq!(emu.count("PUT", "/repos/acme/repo-1/"), 1);
}

#[test]
fn a_plan_past_the_hourly_figure_says_so_before_writing() {
    let emu = emulator(6);
    let ws = Workspace::new();
    ws.manifest_text(&manifest(6, 90, ""));
    let vals: serde_json::Map<String, serde_json::Value> =
        (0..90).map(|k| (format!("KEY_{k:03}"), value(k).into())).collect();
    let vals = serde_json::Value::Object(vals).to_string();
    let inputs = [("mode", "plan"), ("secrets", vals.as_str()), ("github-token", TOKEN), ("github-org", "acme")];
    let env = [("GITHUB_API_URL", emu.url.as_str()), ("SECRET_SYNC_TEST_CLOCK", emu.url.as_str())];
    let out = ws.action(&inputs, &env);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(writes(&github_log(&emu)).len(), 0);
    let stdout = out.stdout_unmasked();
    let warning = stdout.lines().find(|l| l.starts_with("::warning title=secret-sync GitHub budget::")).unwrap();
    assert!(warning.contains("a sync would send 540 write request(s)"), "{warning}");
    assert!(warning.contains("more than GitHub's documented 500 content-generating requests per hour"), "{warning}");
    for t in out.report_json()["targets"].as_array().unwrap() {
        let w = t["warnings"].as_array().unwrap();
        assert!(w.iter().any(|w| w.as_str().unwrap().contains("would send 540 write request(s)")), "{t}");
    }
}

/// A run stopped by the bound on waiting is resumed by the next: with the
/// state record, what landed is proven unchanged and only the rest is
/// written. Targets write one after another: the 11th PUT is the second
/// target's first.
#[test]
fn the_next_run_writes_only_what_did_not_land() {
    let emu = emulator(4);
    {
        let mut st = emu.state();
        st.github.repo_only_tokens.insert(JOB_TOKEN.into());
        st.results.repository = Some("ai-cherry/sophia".into());
    }
    let ws = Workspace::new();
    ws.manifest_text(&manifest(4, 10, "defaults:\n  github_rate_limit_wait: 30s\n"));
    emu.fault(Fault::on("PUT", "/actions/secrets/", 1, FaultKind::GitHubLimit(RateLimit::secondary(None))).after(10));
    let first = synced_with_record(&emu, &ws, 1);
    assert_ne!(first.code, 0, "{}", first.summary);
    assert_eq!(writes(&github_log(&emu)).len(), 11);
    let landed: Vec<String> = writes(&github_log(&emu))[..10].iter().map(|l| l.path.clone()).collect();

    emu.clear_log();
    let second = synced_with_record(&emu, &ws, 2);
    assert_eq!(second.code, 0, "{}", second.summary);
    let w = writes(&github_log(&emu));
    assert_eq!(w.len(), 30, "only what did not land");
    assert!(w.iter().all(|l| !landed.contains(&l.path)), "a key that landed was written again");
    assert_landed(&emu, 4, 10);
    let report = second.report_json();
    let unchanged: u64 =
        report["targets"].as_array().unwrap().iter().map(|t| t["record"]["unchanged"].as_u64().unwrap()).sum();
    assert_eq!(unchanged, 10, "the record proves the ten that landed unchanged");
}

const JOB_TOKEN: &str = "ghs_e2ePaceJobToken00000000000000000000";

fn synced_with_record(emu: &Emulator, ws: &Workspace, n: u32) -> Output {
    let vals: serde_json::Map<String, serde_json::Value> =
        (0..10).map(|k| (format!("KEY_{k:03}"), value(k).into())).collect();
    let vals = serde_json::Value::Object(vals).to_string();
    crate::state::github_sync_with_record(emu, ws, n, (TOKEN, JOB_TOKEN), &vals, &[])
}
