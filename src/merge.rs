//! `merge-reports`: the JSON reports of a matrix's shards (each job ran with
//! its own `targets` patterns) folded into one report and one summary.
//!
//! Every shard validates every secret, so findings and secrets are the same
//! in each and are taken once; each target's entry comes from the shard that
//! handled it; counts of changes add up; the outcome is the worst. A target
//! no report handled means a shard is missing (its job failed before it wrote
//! a report, or its artifact was not downloaded): that is an error naming the
//! targets, and the shard when the expected shards are given.

use std::path::{Path, PathBuf};

use crate::escape::markdown as md;
use crate::report::{Report, RunOutcome, Status, TargetStatus};

/// Largest report file read (a report of 10,000 targets is a few MiB).
const MAX_REPORT_BYTES: u64 = 64 * 1024 * 1024;

/// One shard's report and where it was read from.
/// Why the reports could not be merged; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("no report found: give the JSON reports of the matrix's jobs, or the folder they were downloaded to")]
    NoReport,
    #[error("cannot read the report `{file}`: {cause}")]
    ReadReport { file: String, cause: Box<MergeError> },
    #[error("`{file}` is not a secret-sync JSON report (line {line}, column {column})")]
    NotAReport { file: String, line: usize, column: usize },
    #[error("cannot read `{path}`: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("cannot list `{path}`: {reason}")]
    Unlistable { path: String, reason: String },
    /// Why a read failed, in words (`crate::util::io_reason`).
    #[error("{reason}")]
    Io { reason: String },
    #[error("larger than {mib} MiB", mib = MAX_REPORT_BYTES / 1024 / 1024)]
    TooLarge,
    #[error("`{path}` is neither a file nor a folder")]
    NotAFileOrFolder { path: String },
    #[error("`{first}` and `{other}` are reports of different runs: {what} `{a}` vs `{b}`")]
    DifferentRuns { first: String, other: String, what: String, a: String, b: String },
}

fn io(e: &std::io::Error) -> MergeError {
    MergeError::Io { reason: crate::util::io_reason(e) }
}

pub struct Shard {
    pub file: String,
    pub report: Report,
}

/// Reads the reports at `paths`: files, or directories searched for
/// `*.json` files (as `actions/download-artifact` lays artifacts out, one
/// directory per artifact).
pub fn load(paths: &[PathBuf]) -> Result<Vec<Shard>, MergeError> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files)?;
    }
    files.sort();
    if files.is_empty() {
        return Err(MergeError::NoReport);
    }
    files
        .into_iter()
        .map(|f| {
            let shown = f.display().to_string();
            let bytes =
                read_capped(&f).map_err(|e| MergeError::ReadReport { file: shown.clone(), cause: Box::new(e) })?;
            let report: Report = serde_json::from_slice(&bytes).map_err(|e| MergeError::NotAReport {
                file: shown.clone(),
                line: e.line(),
                column: e.column(),
            })?;
            Ok(Shard { file: shown, report })
        })
        .collect()
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) -> Result<(), MergeError> {
    let meta = std::fs::metadata(p)
        .map_err(|e| MergeError::Unreadable { path: p.display().to_string(), reason: crate::util::io_reason(&e) })?;
    if meta.is_dir() {
        let entries = std::fs::read_dir(p).map_err(|e| MergeError::Unlistable {
            path: p.display().to_string(),
            reason: crate::util::io_reason(&e),
        })?;
        for e in entries.flatten() {
            let path = e.path();
            let kind = e.file_type().map_err(|e| io(&e))?;
            if kind.is_dir() {
                collect(&path, out)?;
            } else if kind.is_file() && path.extension().is_some_and(|x| x == "json") {
                out.push(path);
            }
        }
    } else if meta.is_file() {
        out.push(p.to_path_buf());
    } else {
        return Err(MergeError::NotAFileOrFolder { path: p.display().to_string() });
    }
    Ok(())
}

fn read_capped(p: &Path) -> Result<Vec<u8>, MergeError> {
    use std::io::Read;
    let f = std::fs::File::open(p).map_err(|e| io(&e))?;
    let mut buf = Vec::new();
    f.take(MAX_REPORT_BYTES + 1).read_to_end(&mut buf).map_err(|e| io(&e))?;
    if buf.len() as u64 > MAX_REPORT_BYTES {
        return Err(MergeError::TooLarge);
    }
    Ok(buf)
}

/// Folds the shards into one report. `expected` lists the shards' `targets`
/// values as the matrix gives them (optional): a shard without a report is
/// then named. Reports of different runs (manifest, environment, mode,
/// report version) are refused.
pub fn merge(shards: Vec<Shard>, expected: &[String], now: String) -> Result<Report, MergeError> {
    let first = &shards[0].report;
    for s in &shards[1..] {
        let r = &s.report;
        let same = |what: &str, a: &str, b: &str| {
            if a == b {
                Ok(())
            } else {
                Err(MergeError::DifferentRuns {
                    first: shards[0].file.clone(),
                    other: s.file.clone(),
                    what: what.to_string(),
                    a: a.to_string(),
                    b: b.to_string(),
                })
            }
        };
        same("report version", &first.report_version.to_string(), &r.report_version.to_string())?;
        same("manifest", &first.manifest, &r.manifest)?;
        same("environment", &first.environment, &r.environment)?;
        same("mode", first.mode.as_str(), r.mode.as_str())?;
    }

    let mut problems = Vec::new();
    // Shard patterns, file names and target ids come from inputs and the
    // manifest: into the outcome's Markdown only through its escaping.
    let code = |text: &str| md(&format!("`{text}`"));
    let label = |s: &Shard| match &s.report.selection {
        Some(p) => code(&p.join(",")),
        None => format!("{} (all targets)", code(&s.file)),
    };
    let present: Vec<String> = shards.iter().filter_map(|s| s.report.selection.as_ref().map(|p| p.join(","))).collect();
    let missing: Vec<String> =
        expected.iter().filter(|e| !present.iter().any(|p| normalise(p) == normalise(e))).map(|e| code(e)).collect();
    if !missing.is_empty() {
        problems.push(format!("no report from shard(s) {}", missing.join(", ")));
    }

    // Each target from the shard that handled it, in the first report's order.
    let mut targets = Vec::new();
    let mut uncovered = Vec::new();
    for t in &first.targets {
        let handled: Vec<_> = shards
            .iter()
            .filter_map(|s| s.report.targets.iter().find(|x| x.id == t.id).map(|x| (s, x)))
            .filter(|(_, x)| !matches!(x.status, TargetStatus::NotSelected | TargetStatus::Skipped))
            .collect();
        match handled.as_slice() {
            // Another environment's target: skipped by every shard alike.
            [] if t.status == TargetStatus::Skipped => targets.push(t.clone()),
            [] => {
                uncovered.push(code(&t.id));
                targets.push(t.clone());
            }
            [(_, only)] => targets.push((*only).clone()),
            [(_, one), more @ ..] => {
                let by: Vec<String> =
                    std::iter::once(handled[0].0).chain(more.iter().map(|(s, _)| *s)).map(label).collect();
                problems.push(format!(
                    "target {} was handled by {} shards ({}): their `targets` patterns overlap",
                    code(&t.id),
                    by.len(),
                    by.join(", ")
                ));
                targets.push((*one).clone());
            }
        }
    }
    if !uncovered.is_empty() {
        problems.push(format!(
            "no report handled {}: a shard's report is missing (its job failed before writing it, or its artifact was not downloaded) or no `targets` pattern selects them",
            uncovered.join(", ")
        ));
    }

    let mut findings = Vec::new();
    for s in &shards {
        for f in &s.report.findings {
            if !findings.contains(f) {
                findings.push(f.clone());
            }
        }
    }
    // In the order one job gives them (only some shards report rotation).
    crate::report::assemble::sort_findings(&mut findings);
    let mut manifest_errors = Vec::new();
    for s in &shards {
        for d in &s.report.manifest_errors {
            if !manifest_errors.contains(d) {
                manifest_errors.push(d.clone());
            }
        }
    }

    let mut counts = first.counts.clone();
    counts.count_findings(&findings);
    counts.count_changes(&targets);
    counts.targets_in_scope =
        targets.iter().filter(|t| !matches!(t.status, TargetStatus::Skipped | TargetStatus::NotSelected)).count();
    counts.targets_not_selected = uncovered.len();

    let worst = shards.iter().map(|s| &s.report.outcome).max_by_key(|o| rank(o.status)).cloned();
    let worst = worst.expect("at least one shard");
    let failed_shards: Vec<String> =
        shards.iter().filter(|s| s.report.outcome.status != Status::Ok).map(label).collect();
    let (status, message) = if !problems.is_empty() {
        (
            Status::SyncFailed.max_by_rank(worst.status),
            format!("**Merged {} shard report(s), incomplete**: {}.", shards.len(), problems.join("; ")),
        )
    } else if !failed_shards.is_empty() {
        (
            worst.status,
            format!(
                "**Merged {} shard report(s)**: {} did not succeed ({}). {}",
                shards.len(),
                failed_shards.len(),
                failed_shards.join(", "),
                worst.message
            ),
        )
    } else {
        (
            Status::Ok,
            format!(
                "**Merged {} shard report(s)**: {} change(s) {} across {} target(s); every target was handled once.",
                shards.len(),
                counts.changed(),
                if first.mode == crate::config::Mode::Sync { "written" } else { "planned" },
                counts.targets_in_scope
            ),
        )
    };
    Ok(Report {
        report_version: first.report_version,
        tool: crate::report::Tool::default(),
        generated_at: now,
        run: first.run.clone(),
        mode: first.mode,
        environment: first.environment.clone(),
        manifest: first.manifest.clone(),
        selection: None,
        outcome: RunOutcome { status, exit_code: status.exit().code(), fail_on: worst.fail_on, message },
        counts,
        manifest_errors,
        findings,
        secrets: first.secrets.clone(),
        targets,
        github: shards.iter().find_map(|s| s.report.github.clone()),
        probes: Vec::new(),
        // Each shard keeps (and reports) its own record.
        state: None,
        scan: None,
    })
}

/// How bad an outcome is, for "the worst of the shards".
fn rank(s: Status) -> u8 {
    match s {
        Status::Ok => 0,
        Status::SyncFailed => 1,
        Status::ValidationFailed => 2,
        Status::ManifestInvalid => 3,
    }
}

impl Status {
    fn max_by_rank(self, other: Status) -> Status {
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// Patterns compared without spaces (`fly:*, esc:*` = `fly:*,esc:*`).
fn normalise(p: &str) -> String {
    p.split([',', '\n', ' ', '\t', '\r']).filter(|x| !x.is_empty()).collect::<Vec<_>>().join(",")
}

/// Reads, merges and publishes; returns the exit code.
pub fn run(paths: &[PathBuf], expected: &[String], out: &crate::config::Publish) -> crate::exit::Exit {
    let merged = load(paths).and_then(|shards| merge(shards, expected, crate::util::now_rfc3339()));
    match merged {
        Ok(report) => crate::publish::publish(out, &report),
        Err(e) => crate::output::Printer::new(out.style).usage_error(&e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_reports_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("r.json");
        std::fs::write(&bad, "{\n  nope").unwrap();
        let e = load(&[dir.path().to_path_buf()]).err().unwrap();
        assert_eq!(e.to_string(), format!("`{}` is not a secret-sync JSON report (line 2, column 3)", bad.display()));
        let e = MergeError::ReadReport { file: "r.json".into(), cause: Box::new(MergeError::TooLarge) };
        assert_eq!(e.to_string(), "cannot read the report `r.json`: larger than 64 MiB");
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            load(&[empty.path().to_path_buf()]).err().unwrap().to_string(),
            "no report found: give the JSON reports of the matrix's jobs, or the folder they were downloaded to"
        );
    }
}
