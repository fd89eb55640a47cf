//! The ESC round-trip corpus (`tests/corpus/esc/*.yaml`): definitions as
//! people write them, each synced with a create, an update, an unchanged run
//! and a prune. After every step the text outside the managed entries must
//! be byte for byte what it was, every comment must still be there, and the
//! managed entries must hold the right values.
//!
//! The whole corpus runs through the editor directly (fast); a handful also
//! run end to end: the binary against the ESC emulator.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use secrecy::SecretString;
use secret_sync::targets::esc::{definition, edit};
use secret_sync::targets::{Action, DesiredKey};
use secret_sync_emulators::esc::{decrypt_text, to_json};
use secret_sync_emulators::Emulator;
use serde_json::Value as Json;
use yaml_edit::{Mapping, YamlFile};

use crate::harness::{repo, Workspace};

/// One step's routes: (path, value, env var).
type Routes = Vec<(&'static str, &'static str, Option<&'static str>)>;

/// Secret values chosen to need quoting in every YAML style.
const TOKEN_1: &str = "tok-1: #not a comment";
const TOKEN_2: &str = "tok-2 'single' \"double\"";
const PASS_1: &str = "p@ss\nword\twith\\escapes";
const PASS_2: &str = "pass: two # not a comment, with \\\\ and \\\"";
const NEW_1: &str = "ünïcødé-1";
const NEW_2: &str = "- looks: [like, yaml] {x}";

fn create_routes() -> Routes {
    vec![
        ("app.token", TOKEN_1, Some("APP_TOKEN")),
        ("db.password", PASS_1, None),
        ("new.deep.key", NEW_1, Some("NEW_KEY")),
    ]
}

fn update_routes() -> Routes {
    vec![
        ("app.token", TOKEN_2, Some("APP_TOKEN")),
        ("db.password", PASS_2, None),
        ("new.deep.key", NEW_2, Some("NEW_KEY")),
    ]
}

fn prune_routes() -> Routes {
    vec![("app.token", TOKEN_2, Some("APP_TOKEN"))]
}

/// Every path a step may touch: routed and pruned secrets, their variables,
/// the ownership record.
fn managed_paths() -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = ["app.token", "db.password", "new.deep.key"]
        .iter()
        .map(|p| std::iter::once("values").chain(p.split('.')).map(String::from).collect())
        .collect();
    for v in ["APP_TOKEN", "NEW_KEY"] {
        out.push(vec!["values".into(), "environmentVariables".into(), v.into()]);
    }
    out.push(vec!["values".into(), "secretSyncManaged".into()]);
    out
}

fn keys(routes: &Routes) -> Vec<DesiredKey> {
    routes
        .iter()
        .map(|(k, v, e)| DesiredKey {
            key: k.to_string(),
            secret: k.to_string(),
            source: None,
            value: SecretString::from(v.to_string()),
            env_var: e.map(String::from),
        })
        .collect()
}

pub fn corpus() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/corpus/esc"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn read(p: &Path) -> String {
    String::from_utf8(std::fs::read(p).unwrap()).unwrap()
}

// --- the assertion -------------------------------------------------------

/// The mapping at `segs` in a parsed text, if there is one.
fn mapping_at(root: &Mapping, segs: &[String]) -> Option<Mapping> {
    let mut cur = root.clone();
    for s in segs {
        cur = cur.get_mapping(s.as_str())?;
    }
    Some(cur)
}

fn has(root: &Mapping, path: &[String]) -> bool {
    let (last, parents) = path.split_last().unwrap();
    mapping_at(root, parents).is_some_and(|m| m.get(last.as_str()).is_some())
}

/// Byte range of the entry at `path`: a block entry from the start of its
/// line (its indentation) to the end of its value, line break included; a
/// flow entry with its separator.
fn entry_range(text: &str, root: &Mapping, path: &[String]) -> Option<(usize, usize)> {
    let (last, parents) = path.split_last().unwrap();
    let parent = mapping_at(root, parents)?;
    let entry = parent
        .entries()
        .find(|e| e.key_node().and_then(|k| k.as_scalar().map(|s| s.as_string())).as_deref() == Some(last.as_str()))?;
    let r = entry.byte_range();
    let (mut start, mut end) = (r.start as usize, r.end as usize);
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    if !parent.is_flow_style() && text[line_start..start].chars().all(|c| c == ' ' || c == '\t') {
        start = line_start;
    } else if parent.is_flow_style() {
        // A flow entry with the comma that separates it from the entry
        // before it (or, for the first entry, from the one after).
        let content_end = start + text[start..end].trim_end().trim_end_matches(',').trim_end().len();
        let before = text[..start].trim_end();
        if let Some(b) = before.strip_suffix(',') {
            start = b.len();
            end = content_end;
        }
    }
    Some((start, end))
}

/// `text` without the managed entries. An entry that exists here but not
/// in `other` is cut at its highest such ancestor (a parent created or
/// emptied with it).
fn outside_managed(text: &str, other: &str) -> String {
    let file = YamlFile::from_str(text).unwrap();
    let other_file = YamlFile::from_str(other).unwrap();
    let root = file.document().and_then(|d| d.as_mapping());
    let other_root = other_file.document().and_then(|d| d.as_mapping());
    let Some(root) = root else { return text.to_string() };
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    for path in managed_paths() {
        let cut_at = (1..=path.len())
            .map(|n| &path[..n])
            .find(|p| has(&root, p) && !other_root.as_ref().is_some_and(|o| has(o, p)))
            .unwrap_or(&path[..]);
        // A parent that pruning left empty (`deep: {}`) is part of the edit.
        let parent = &path[..path.len() - 1];
        let emptied = |m: &Mapping| mapping_at(m, parent).is_some_and(|p| p.is_empty());
        let cut_at = if parent.len() > 1
            && has(&root, parent)
            && (emptied(&root) || other_root.as_ref().is_some_and(|o| has(o, parent) && emptied(o)))
        {
            parent
        } else {
            cut_at
        };
        if let Some(r) = entry_range(text, &root, cut_at) {
            cuts.push(r);
        }
    }
    cuts.sort();
    let mut out = String::new();
    let mut at = 0;
    for (s, e) in cuts {
        if s > at {
            out.push_str(&text[at..s]);
        }
        at = at.max(e);
    }
    out.push_str(&text[at.min(text.len())..]);
    if at >= text.len() && !text.ends_with('\n') {
        // Entries cut from the end of a file without a final newline: the
        // line break before them only separated them from what precedes.
        out.truncate(out.trim_end_matches(['\r', '\n']).len());
    }
    out
}

/// Every comment's text, in order.
fn comments(text: &str) -> Vec<String> {
    let file = YamlFile::from_str(text).unwrap();
    let mut out: Vec<String> = file.comments().map(|c| c.text().to_string()).collect();
    out.sort();
    out
}

/// Asserts what a step must keep: all text outside the managed entries,
/// and every comment (but those inside entries the step pruned).
pub fn assert_kept(name: &str, step: &str, before: &str, after: &str, pruned: &[&str]) {
    let (b, a) = (outside_managed(before, after), outside_managed(after, before));
    assert!(b == a, "{name} ({step}): text outside the managed entries changed\n--- before\n{b}\n--- after\n{a}");
    let mut want = comments(before);
    if !pruned.is_empty() {
        // Comments inside a pruned entry go with it.
        let file = YamlFile::from_str(before).unwrap();
        let root = file.document().and_then(|d| d.as_mapping()).unwrap();
        let gone: Vec<(usize, usize)> = pruned
            .iter()
            .filter_map(|p| {
                let path: Vec<String> = p.split('.').map(String::from).collect();
                entry_range(before, &root, &path)
            })
            .collect();
        want = file
            .comments()
            .filter(|c| {
                let r = c.text_range();
                !gone.iter().any(|(s, e)| usize::from(r.start()) >= *s && usize::from(r.end()) <= *e)
            })
            .map(|c| c.text().to_string())
            .collect();
        want.sort();
    }
    let have = comments(after);
    let missing: Vec<&String> = want.iter().filter(|c| !have.contains(c)).collect();
    assert!(missing.is_empty(), "{name} ({step}): comments lost: {missing:?}");
}

/// Asserts the managed entries hold `routes` (and what was pruned is gone).
pub fn assert_values(name: &str, step: &str, doc: &Json, routes: &Routes, gone: &[&str]) {
    let values = &doc["values"];
    for (path, value, var) in routes {
        let mut cur = values;
        for seg in path.split('.') {
            cur = &cur[seg];
        }
        assert_eq!(cur["fn::secret"], *value, "{name} ({step}): {path}");
        if let Some(var) = var {
            assert_eq!(values["environmentVariables"][var], format!("${{{path}}}"), "{name} ({step}): {var}");
        }
    }
    let mut owned: Vec<&str> = routes.iter().map(|r| r.0).collect();
    owned.sort();
    assert_eq!(values["secretSyncManaged"]["paths"], serde_json::json!(owned), "{name} ({step}): marker");
    for path in gone {
        let mut cur = values;
        for seg in path.split('.') {
            cur = &cur[seg];
        }
        assert!(cur.is_null(), "{name} ({step}): {path} was not pruned");
    }
}

// --- the editor, whole corpus ----------------------------------------------

fn sync(text: &str, routes: &Routes, prune: bool) -> (definition::Plan, Option<String>) {
    let doc = definition::parse(text).unwrap_or_else(|e| panic!("{e}"));
    let plan = definition::plan(&doc, &keys(routes), &[], prune).unwrap_or_else(|c| panic!("{}", c.0));
    let new = (!plan.ops.is_empty()).then(|| edit::apply(text, &plan.ops).unwrap_or_else(|e| panic!("{e}")));
    (plan, new)
}

fn json_of(text: &str) -> Json {
    to_json(&definition::parse(text).unwrap())
}

#[test]
fn corpus_is_large_and_varied() {
    let files = corpus();
    assert!(files.len() >= 40, "only {} corpus definitions", files.len());
    let all: String = files.iter().map(|p| read(p)).collect();
    for construct in
        ["#", "&", "*", "|", ">", "{", "[", "fn::open::", "ciphertext", "${", "\"", "'", "\r\n", "---", "...", "\t"]
    {
        assert!(all.contains(construct), "no corpus definition has `{construct}`");
    }
    assert!(files.iter().any(|p| !read(p).ends_with('\n')), "no definition without a final newline");
}

#[test]
fn every_corpus_definition_round_trips_through_the_editor() {
    // Every definition runs; the failures are reported together.
    let failed: Vec<String> = corpus()
        .iter()
        .filter_map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let r = std::panic::catch_unwind(|| round_trip(&name, &read(path)));
            r.err().map(|e| {
                e.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or(name)
            })
        })
        .collect();
    assert!(failed.is_empty(), "{} definition(s) failed:\n\n{}", failed.len(), failed.join("\n\n"));
}

fn round_trip(name: &str, original: &str) {
    let name = name.to_string();
    let original = original.to_string();
    {
        let (plan, created) = sync(&original, &create_routes(), false);
        assert!(plan.changes.iter().any(|c| c.action != Action::Unchanged), "{name}: create changed nothing");
        let created = created.unwrap();
        assert_kept(&name, "create", &original, &created, &[]);
        assert_values(&name, "create", &json_of(&created), &create_routes(), &[]);

        let (_, updated) = sync(&created, &update_routes(), false);
        let updated = updated.unwrap_or_else(|| panic!("{name}: update wrote nothing"));
        assert_kept(&name, "update", &created, &updated, &[]);
        assert_values(&name, "update", &json_of(&updated), &update_routes(), &[]);

        let (plan, unchanged) = sync(&updated, &update_routes(), false);
        assert!(unchanged.is_none(), "{name}: an unchanged run would write");
        assert!(plan.changes.iter().all(|c| c.action == Action::Unchanged), "{name}: {:?}", plan.changes);

        let (plan, pruned) = sync(&updated, &prune_routes(), true);
        assert_eq!(plan.deletes, 3, "{name}: {:?}", plan.changes);
        let pruned = pruned.unwrap();
        let gone = ["values.db.password", "values.new.deep.key", "values.environmentVariables.NEW_KEY"];
        assert_kept(&name, "prune", &updated, &pruned, &gone);
        assert_values(&name, "prune", &json_of(&pruned), &prune_routes(), &["db.password", "new.deep.key"]);
        assert!(json_of(&pruned)["values"]["environmentVariables"]["NEW_KEY"].is_null(), "{name}");

        // Line endings and the final newline are the file's own.
        for (step, text) in [("create", &created), ("update", &updated), ("prune", &pruned)] {
            if !original.is_empty() {
                assert_eq!(text.ends_with('\n'), original.ends_with('\n'), "{name} ({step}): final newline");
            }
            let lf_only = text.matches('\n').count() == text.matches("\r\n").count();
            if original.contains("\r\n") {
                assert!(lf_only, "{name} ({step}): a bare LF in a CRLF file");
            }
        }
    }
}

#[test]
fn the_assertion_catches_changes_outside_managed_entries() {
    let before = "# top\nvalues:\n  keep: 1 # why\n  app:\n    token:\n      fn::secret: a # on the entry\n";
    let after = "# top\nvalues:\n  keep: 1 # why\n  app:\n    token:\n      fn::secret: b # on the entry\n";
    assert_kept("ok", "update", before, after, &[]);
    for broken in [
        after.replace("keep: 1", "keep:  1"),
        after.replace("# top\n", ""),
        after.replace("# on the entry", ""),
        after.replace("\n  app", "\n\n  app"),
        after.replace("keep: 1 # why\n", "keep: 1 # why\n  extra: 2\n"),
    ] {
        let caught = std::panic::catch_unwind(|| assert_kept("broken", "update", before, &broken, &[]));
        assert!(caught.is_err(), "not caught:\n{broken}");
    }
}

#[test]
fn an_edit_that_reads_back_wrong_is_refused() {
    // A path through a scalar cannot be written; the editor says so rather
    // than writing something else.
    let ops = [edit::Op::Secret { path: vec!["values".into(), "a".into(), "b".into()], value: "x".into() }];
    let err = edit::apply("values:\n  a: 1\n", &ops).unwrap_err();
    assert_eq!(err, edit::EscEditError::Blocked("values.a".into()));
    assert_eq!(err.to_string(), "`values.a` is not a mapping");
}

// --- end to end against the emulator ---------------------------------------

const TOKEN: &str = "pul-corpus-token-5e6f7a8b";
const ENV: &str = "acme/corpus/prod";

fn manifest(routes: &Routes) -> String {
    let mut m = String::from(
        "version: 1\nenvironments:\n  production: {}\ntargets:\n  esc:\n    prod: { environment: production, path: acme/corpus/prod }\nsecrets:\n",
    );
    for (i, (path, _, var)) in routes.iter().enumerate() {
        let env = var.map(|v| format!("\n        env_var: {v}")).unwrap_or_default();
        m.push_str(&format!("  S{i}:\n    to:\n      - esc: prod\n        path: {path}{env}\n"));
    }
    m
}

fn secrets(routes: &Routes) -> String {
    let mut m = serde_json::Map::new();
    m.insert("github_token".into(), "ghs_corpusRunnerToken00000000000000".into());
    for (i, (_, v, _)) in routes.iter().enumerate() {
        m.insert(format!("S{i}"), (*v).into());
    }
    Json::Object(m).to_string()
}

#[test]
fn a_handful_sync_end_to_end_against_the_emulator() {
    let picks = corpus().into_iter().filter(|p| {
        let n = p.file_name().unwrap().to_string_lossy();
        ["01-", "09-", "14-", "21-", "27-", "33-"].iter().any(|k| n.starts_with(k))
    });
    let mut ran = 0;
    for path in picks {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let emu = Emulator::start();
        emu.state().esc.tokens.insert(TOKEN.into());
        let original = read(&path);
        emu.state().esc.seed(ENV, &original);
        let ws = Workspace::new();
        let stored = || emu.state().esc.env(ENV).unwrap().text.clone();
        let run = |routes: &Routes, prune: &str| {
            ws.manifest_text(&manifest(routes));
            let out = ws.action(
                &[
                    ("mode", "sync"),
                    ("secrets", &secrets(routes)),
                    ("esc-api-url", emu.url.as_str()),
                    ("esc-token", TOKEN),
                    ("prune", prune),
                ],
                &[("SECRET_SYNC_HTTP_BACKOFF_MS", "5")],
            );
            assert_eq!(out.code, 0, "{name}: {}{}", out.stdout, out.summary);
            let shown = out.everything_visible();
            for (_, v, _) in routes {
                assert!(!shown.contains(v), "{name}: a secret was shown");
            }
        };
        let decrypted = || to_json(&definition::parse(&decrypt_text(&stored())).unwrap());

        run(&create_routes(), "false");
        let created = stored();
        assert_kept(&name, "create (e2e)", &original, &created, &[]);
        assert_values(&name, "create (e2e)", &decrypted(), &create_routes(), &[]);
        for (_, v, _) in create_routes() {
            assert!(!created.contains(v), "{name}: stored in plaintext");
        }

        emu.clear_log();
        run(&update_routes(), "false");
        // One read to plan, one of the stored text, one write.
        assert_eq!((emu.count("GET", ENV), emu.count("PATCH", ENV)), (2, 1), "{name}");
        let updated = stored();
        assert_kept(&name, "update (e2e)", &created, &updated, &[]);
        assert_values(&name, "update (e2e)", &decrypted(), &update_routes(), &[]);

        emu.clear_log();
        let revision = emu.state().esc.env(ENV).unwrap().revision;
        run(&update_routes(), "false");
        assert_eq!((emu.count("GET", ENV), emu.count("PATCH", ENV)), (1, 0), "{name}: unchanged run wrote");
        assert_eq!(emu.state().esc.env(ENV).unwrap().revision, revision);

        run(&prune_routes(), "true");
        let pruned = stored();
        let gone = ["values.db.password", "values.new.deep.key", "values.environmentVariables.NEW_KEY"];
        assert_kept(&name, "prune (e2e)", &updated, &pruned, &gone);
        assert_values(&name, "prune (e2e)", &decrypted(), &prune_routes(), &["db.password", "new.deep.key"]);
        ran += 1;
    }
    assert_eq!(ran, 6, "the end-to-end picks are missing from the corpus");
}
