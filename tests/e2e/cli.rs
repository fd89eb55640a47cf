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
    let manifest = secret_sync::manifest::load(&repo().join("examples/sophia/secret-sync.yml"), "m").unwrap();
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
