//! The bad-input corpus: every malformed manifest and secrets payload gives
//! one clear line with a location, exit code 2 or 3, and no panic.

use std::fmt::Write as _;

use crate::harness::{cli, repo};

fn files(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(repo().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.ends_with(".md") && !n.starts_with('.'))
        .collect();
    v.sort();
    v
}

#[test]
fn malformed_manifests() {
    let names = files("tests/corpus/manifests");
    assert!(names.len() >= 25);
    let mut all = String::new();
    for n in names {
        let rel = format!("tests/corpus/manifests/{n}");
        let out = cli(&["check-manifest", "-m", &rel], &repo());
        assert_eq!(out.code, 2, "{n}: {}", out.stderr);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{n}: expected one error line, got {lines:?}");
        let re = regex::Regex::new(&format!(r"^{}:\d+:\d+: error: \S", regex::escape(&rel))).unwrap();
        assert!(re.is_match(lines[0]), "{n}: {}", lines[0]);
        assert!(lines[0].len() < 400, "{n}: error line too long");
        let _ = writeln!(all, "{}", lines[0]);
    }
    insta::assert_snapshot!(all);
}

#[test]
fn malformed_secrets_payloads() {
    let names = files("tests/corpus/secrets");
    assert!(names.len() >= 10);
    let mut all = String::new();
    for n in names {
        let rel = format!("tests/corpus/secrets/{n}");
        let out = cli(&["validate", "-m", "examples/minimal/secret-sync.yml", "-s", &rel], &repo());
        assert!(!out.stderr.contains("CANARY") && !out.stdout.contains("CANARY"), "{n} echoed a value");
        if n == "17-utf8-bom.json" {
            // A byte-order mark is accepted: the file is read (the minimal
            // manifest's own secrets are missing, hence exit 2, not 3).
            assert_eq!(out.code, 2, "{n}: {}", out.stderr);
            assert!(out.stdout.contains("`A` was handed in but the manifest does not declare it"));
            continue;
        }
        assert_eq!(out.code, 3, "{n}: {}", out.stderr);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{n}: {lines:?}");
        let re = regex::Regex::new(&format!(r"^error: {}:\d+:\d+: \S", regex::escape(&rel))).unwrap();
        assert!(re.is_match(lines[0]), "{n}: {}", lines[0]);
        let _ = writeln!(all, "{}", lines[0]);
    }
    insta::assert_snapshot!(all);
}
