//! More GitHub destinations on the same sealed boxes and scheduler: an
//! organization's secrets for selected repositories, Dependabot secrets of
//! a repository, Codespaces secrets of an organization. Created (the
//! emulator opens each value with its private key, a libsodium sealed box),
//! unchanged on the next run with the state record, rewritten when the
//! selected repositories change, pruned only as the record allows.

use secret_sync_emulators::Emulator;

use crate::harness::{Output, Workspace};

const TOKEN: &str = "ghp_e2eDestinationsToken0000000000000000";
const JOB_TOKEN: &str = "ghs_e2eDestinationsJobToken0000000000000";
const API_KEY: &str = "destinations-api-key-0000000000001";
const NPM_TOKEN: &str = "npm_destinationsE2eToken000000000000001";

fn manifest(repositories: &str, npm_routed: bool) -> String {
    let npm =
        if npm_routed { "\n  NPM_TOKEN: { to: [ { github: bot } ] }" } else { "\n  NPM_TOKEN: { required: false }" };
    format!(
        "version: 1
targets:
  github:
    shared: {{ org: acme, visibility: selected, repositories: [{repositories}] }}
    bot: {{ repo: acme/site, app: dependabot }}
    cs: {{ org: acme, app: codespaces, visibility: all }}
secrets:
  API_KEY: {{ to: [ {{ github: shared }}, {{ github: bot }}, {{ github: cs }} ] }}{npm}
"
    )
}

fn emulator() -> Emulator {
    let emu = Emulator::start();
    {
        let mut st = emu.state();
        let gh = &mut st.github;
        gh.tokens.insert(TOKEN.into());
        gh.repo_only_tokens.insert(JOB_TOKEN.into());
        gh.org_secret("acme", "UNRELATED", "2026-01-01T00:00:00Z", "all");
        gh.add_repo("ai-cherry/sophia");
        gh.add_repo("acme/site");
        gh.add_repo("acme/api");
        // Set by hand in the repository's Dependabot secrets: never pruned.
        gh.repo_secret("acme/site#dependabot", "HAND_SET", "2026-01-01T00:00:00Z");
        st.results.repository = Some("ai-cherry/sophia".into());
    }
    emu
}

fn sync(emu: &Emulator, ws: &Workspace, n: u32, prune: bool) -> Output {
    let vals = serde_json::json!({ "API_KEY": API_KEY, "NPM_TOKEN": NPM_TOKEN }).to_string();
    let prune = [("prune", if prune { "true" } else { "false" })];
    emu.clear_log();
    let out = crate::state::github_sync_with_record(emu, ws, n, (TOKEN, JOB_TOKEN), &vals, &prune);
    let shown = out.everything_visible();
    assert!(![TOKEN, JOB_TOKEN, API_KEY, NPM_TOKEN].iter().any(|v| shown.contains(v)), "a value was shown");
    out
}

fn writes(emu: &Emulator) -> Vec<(String, String)> {
    emu.log()
        .into_iter()
        .filter(|l| matches!(l.method.as_str(), "PUT" | "DELETE"))
        .filter(|l| l.path.starts_with("/orgs/") || l.path.starts_with("/repos/"))
        .map(|l| (l.method, l.path))
        .collect()
}

fn statuses(out: &Output) -> Vec<(String, String)> {
    let r = out.report_json();
    r["targets"].as_array().unwrap().iter().map(|t| (t["id"].to_string(), t["status"].to_string())).collect()
}

#[test]
fn org_dependabot_and_codespaces_secrets() {
    let emu = emulator();
    let ws = Workspace::new();
    ws.manifest_text(&manifest("acme/site, acme/api", true));
    let out = sync(&emu, &ws, 1, false);
    assert_eq!(out.code, 0, "{}", out.summary);
    let mut w = writes(&emu);
    w.sort();
    let put = |p: &str| ("PUT".to_string(), p.to_string());
    assert_eq!(
        w,
        [
            put("/orgs/acme/actions/secrets/API_KEY"),
            put("/orgs/acme/codespaces/secrets/API_KEY"),
            put("/repos/acme/site/dependabot/secrets/API_KEY"),
            put("/repos/acme/site/dependabot/secrets/NPM_TOKEN"),
        ]
    );
    let (site, api) = {
        let st = emu.state();
        (st.github.repo_ids["acme/site"], st.github.repo_ids["acme/api"])
    };
    {
        let st = emu.state();
        let gh = &st.github;
        let org = gh.org_app_secret("acme", "actions", "API_KEY").unwrap();
        assert_eq!(org.value.as_deref(), Some(API_KEY), "opened with the emulator's private key");
        assert_eq!((org.visibility.as_deref(), org.selected.clone()), (Some("selected"), vec![site, api]));
        let cs = gh.org_app_secret("acme", "codespaces", "API_KEY").unwrap();
        assert_eq!((cs.value.as_deref(), cs.visibility.as_deref()), (Some(API_KEY), Some("all")));
        assert_eq!(
            gh.repo_app_secret("acme/site", "dependabot", "NPM_TOKEN").unwrap().value.as_deref(),
            Some(NPM_TOKEN)
        );
        assert_eq!(gh.repo_app_secret("acme/site", "dependabot", "API_KEY").unwrap().value.as_deref(), Some(API_KEY));
    }

    // The same run again: nothing written, every target unchanged.
    let out = sync(&emu, &ws, 2, false);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(writes(&emu), []);
    assert!(statuses(&out).iter().all(|(_, s)| s == "\"unchanged\""), "{:?}", statuses(&out));
    let shared = out.report_json()["targets"].as_array().unwrap().iter().find(|t| t["id"] == "github:shared").cloned();
    assert_eq!(shared.unwrap()["record"]["unchanged"], 1, "the record proves it");

    // One repository fewer: the org secret is written again with the new list.
    ws.manifest_text(&manifest("acme/site", true));
    let out = sync(&emu, &ws, 3, false);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(writes(&emu), [put("/orgs/acme/actions/secrets/API_KEY")]);
    assert_eq!(emu.state().github.org_app_secret("acme", "actions", "API_KEY").unwrap().selected, vec![site]);

    // NPM_TOKEN no longer routed, with pruning: only what the record says
    // secret-sync wrote is deleted; the hand-set secret stays.
    ws.manifest_text(&manifest("acme/site", false));
    let out = sync(&emu, &ws, 4, true);
    assert_eq!(out.code, 0, "{}", out.summary);
    assert_eq!(writes(&emu), [("DELETE".to_string(), "/repos/acme/site/dependabot/secrets/NPM_TOKEN".to_string())]);
    let st = emu.state();
    assert!(st.github.repo_app_secret("acme/site", "dependabot", "NPM_TOKEN").is_none());
    assert!(st.github.repo_app_secret("acme/site", "dependabot", "HAND_SET").is_some());
}
