//! The release's tag layout (scripts/release.sh, which the release workflow
//! runs and CI's `release-dry-run` job exercises): run on a scratch
//! repository holding this checkout's action.yml, nothing pushed.

use std::path::Path;
use std::process::Command;

use crate::harness::repo;

const IMAGE: &str = "ghcr.io/ai-cherry/secret-sync";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "tag.gpgSign=false"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A repository with action.yml as on `main` and a changelog, one commit.
fn scratch(changelog: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "-b", "main"]);
    std::fs::copy(repo().join("action.yml"), d.join("action.yml")).unwrap();
    std::fs::write(d.join("CHANGELOG.md"), changelog).unwrap();
    git(d, &["add", "."]);
    git(d, &["commit", "-q", "-m", "source"]);
    dir
}

fn release(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(repo().join("scripts/release.sh"))
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .env_remove("RELEASE_NOTES_SECTION")
        .output()
        .expect("release.sh runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

const CHANGELOG: &str =
    "# Changelog\n\n## [Unreleased]\n\n## [1.2.0] - 2026-12-01\n\n### Added\n- a thing\n\n## [1.1.0]\n- older\n";

#[test]
fn layout_tags_a_release_commit_that_pulls_the_image() {
    let dir = scratch(CHANGELOG);
    let d = dir.path();
    let source = git(d, &["rev-parse", "HEAD"]);
    let (ok, out, err) = release(d, &["layout", "1.2.0", IMAGE]);
    assert!(ok, "{err}");
    let commit = out.lines().find_map(|l| l.strip_prefix("commit=")).unwrap().to_string();
    assert!(out.contains("tag=v1.2.0\n") && out.contains("major=v1\n"), "{out}");

    // Both tags name the release commit, whose parent is the source commit.
    assert_eq!(git(d, &["rev-parse", "v1.2.0^{commit}"]), commit);
    assert_eq!(git(d, &["rev-parse", "v1^{commit}"]), commit);
    assert_eq!(git(d, &["rev-parse", &format!("{commit}^")]), source);
    assert_eq!(git(d, &["cat-file", "-t", "v1.2.0"]), "tag", "annotated");
    // Its only change is the image line, naming this version's image.
    assert_eq!(git(d, &["diff", "--name-only", &format!("{commit}^"), &commit]), "action.yml");
    let released = git(d, &["show", &format!("{commit}:action.yml")]);
    let source_text = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    assert_eq!(
        released,
        source_text.trim_end().replace("  image: Dockerfile", &format!("  image: docker://{IMAGE}:1.2.0"))
    );
    let doc: serde_yaml::Value = serde_yaml::from_str(&released).unwrap();
    assert_eq!(doc["runs"]["using"], "docker");
    assert_eq!(doc["runs"]["image"], format!("docker://{IMAGE}:1.2.0").as_str());
    // The source branch and working tree are untouched.
    assert_eq!(git(d, &["rev-parse", "HEAD"]), source);
    assert_eq!(git(d, &["status", "--porcelain"]), "");

    // Release tags are immutable: the same version again is refused.
    let (ok, _, err) = release(d, &["layout", "1.2.0", IMAGE]);
    assert!(!ok && err.contains("tag v1.2.0 exists already"), "{err}");
    assert_eq!(git(d, &["rev-parse", "v1.2.0^{commit}"]), commit);
}

#[test]
fn a_pre_release_leaves_the_major_tag_alone() {
    let dir = scratch(&CHANGELOG.replace("[1.2.0]", "[2.0.0-rc.1]"));
    let d = dir.path();
    let (ok, out, err) = release(d, &["layout", "2.0.0-rc.1", IMAGE]);
    assert!(ok, "{err}");
    assert!(out.contains("major=\n"), "{out}");
    assert_eq!(git(d, &["tag", "--list"]), "v2.0.0-rc.1");
}

#[test]
fn notes_come_from_the_changelog_section() {
    let dir = scratch(CHANGELOG);
    let (ok, out, _) = release(dir.path(), &["notes", "1.2.0"]);
    assert!(ok);
    assert_eq!(out.trim(), "### Added\n- a thing");
    let (ok, _, err) = release(dir.path(), &["notes", "1.3.0"]);
    assert!(!ok && err.contains("no section `## [1.3.0]`"), "{err}");
    // The repository's own changelog has the section CI's dry run uses.
    let own = Command::new(repo().join("scripts/release.sh"))
        .args(["notes", "0.0.0"])
        .env("RELEASE_NOTES_SECTION", "Unreleased")
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(own.status.success(), "CHANGELOG.md needs an `## [Unreleased]` section with notes");
}

#[test]
fn bad_versions_images_and_trees_are_refused() {
    let dir = scratch(CHANGELOG);
    let d = dir.path();
    for (args, says) in [
        (["layout", "v1.2.0", IMAGE], "is not X.Y.Z"),
        (["layout", "1.2", IMAGE], "is not X.Y.Z"),
        (["layout", "1.2.0", "GHCR.io/Owner/Repo"], "lower-case registry path"),
        (["layout", "1.4.0", IMAGE], "no section `## [1.4.0]`"),
    ] {
        let (ok, _, err) = release(d, &args);
        assert!(!ok && err.contains(says), "{args:?}: {err}");
    }
    std::fs::write(d.join("action.yml"), "changed\n").unwrap();
    let (ok, _, err) = release(d, &["layout", "1.2.0", IMAGE]);
    assert!(!ok && err.contains("working tree has changes"), "{err}");
    assert_eq!(git(d, &["tag", "--list"]), "", "nothing tagged");
}
