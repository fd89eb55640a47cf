//! The local command line: the same pipeline, printed to the terminal.

use crate::harness::{cli, repo};

#[test]
fn validate_prints_the_report_to_the_terminal() {
    let out = cli(
        &["validate", "-m", "examples/sophia/secret-sync.yml", "-e", "production", "-s", "examples/sophia/secrets.env"],
        &repo(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("## secret-sync · `production` · validate"));
    assert!(!out.stdout.contains("::"), "workflow commands printed outside Actions");
}

#[test]
fn terminal_errors_use_path_line_col() {
    let out = cli(&["validate", "-m", "tests/fixtures/broken-manifest.yml", "-e", "production"], &repo());
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn check_manifest_accepts_the_examples() {
    for m in ["examples/sophia/secret-sync.yml", "examples/minimal/secret-sync.yml"] {
        let out = cli(&["check-manifest", "-m", m], &repo());
        assert_eq!(out.code, 0, "{m}: {}", out.stderr);
    }
}

#[test]
fn template_lists_every_secret_without_values() {
    let out = cli(&["template", "-m", "examples/minimal/secret-sync.yml", "-o", "-"], &repo());
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!(out.stdout);
    let sophia = cli(&["template", "-m", "examples/sophia/secret-sync.yml", "-e", "production", "-o", "-"], &repo());
    let manifest = secret_sync::manifest::load(
        &repo().join("examples/sophia/secret-sync.yml"),
        "m",
        secret_sync::targets::SECTIONS,
    )
    .unwrap();
    for s in manifest.secrets.iter().filter(|s| s.required.in_env("production")) {
        assert!(sophia.stdout.contains(&format!("\n{}=\n", s.name)), "{} missing from the template", s.name);
    }
}

#[test]
fn no_subcommand_outside_actions_prints_help() {
    let out = cli(&[], &repo());
    assert_eq!(out.code, 3);
    assert!(out.stdout.contains("Usage:"));
}

#[test]
fn add_app_keeps_comments_and_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret-sync.yml");
    let original = std::fs::read_to_string(repo().join("examples/sophia/secret-sync.yml")).unwrap();
    std::fs::write(&path, &original).unwrap();
    let args = ["add-app", "billing", "-m", "secret-sync.yml", "--app", "sophia-billing", "-e", "production"];
    let secrets = ["-s", "OPENAI_API_KEY", "-s", "STRIPE_SECRET_KEY", "-s", "SENTRY_DSN", "-s", "GONG_BASE_URL"];
    let out = cli(&[&args[..], &secrets[..]].concat(), dir.path());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let edited = std::fs::read_to_string(&path).unwrap();

    // Every original line survives, in order, except the `fly:` routes that
    // gained the new app; every comment line is untouched.
    let (old, new): (Vec<&str>, Vec<&str>) = (original.lines().collect(), edited.lines().collect());
    let (mut i, mut changed) = (0, Vec::new());
    for line in &new {
        if i < old.len() && old[i] == *line {
            i += 1;
        } else if i < old.len() && old[i].trim_start().starts_with("- fly:") && line.trim_start().starts_with("- fly:")
        {
            changed.push(format!("~ {line}"));
            i += 1;
        } else {
            changed.push(format!("+ {line}"));
        }
    }
    assert_eq!(i, old.len(), "an original line was lost");
    let comments = |t: &str| t.lines().filter(|l| l.contains('#')).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(comments(&original), comments(&edited));
    insta::assert_snapshot!(changed.join("\n"));

    // The result is a valid manifest, for the tool and the schema, routing
    // each key to the new app.
    let m = secret_sync::manifest::load(&path, "m", secret_sync::targets::SECTIONS).unwrap();
    for s in ["OPENAI_API_KEY", "STRIPE_SECRET_KEY", "SENTRY_DSN", "GONG_BASE_URL"] {
        let sec = m.secrets.iter().find(|x| x.name == s).unwrap();
        assert!(sec.routes.iter().any(|r| r.target == "billing"), "{s} not routed");
    }
    let t = m.target(secret_sync::targets::fly::KIND, "billing").unwrap();
    assert_eq!(t.destination(), "sophia-billing");

    // Adding it again, or routing an undeclared secret, changes nothing.
    let again = cli(&["add-app", "billing", "-m", "secret-sync.yml", "-s", "SENTRY_DSN"], dir.path());
    assert_eq!(again.code, 3);
    let unknown = cli(&["add-app", "other", "-m", "secret-sync.yml", "-e", "production", "-s", "NOPE"], dir.path());
    assert_eq!(unknown.code, 3);
    assert!(unknown.stderr.contains("secret `NOPE` is not declared"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), edited);
}
