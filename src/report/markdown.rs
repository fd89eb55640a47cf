//! The report as Markdown: the job summary in Actions, the output in a
//! terminal. Counts first, then findings by severity, then targets.

use std::fmt::Write as _;

use super::{Report, Status, TargetStatus};
use crate::diag::Severity;
use crate::escape::markdown as md;
use crate::targets::Action;

/// GitHub drops a step summary larger than 1 MiB whole; stay under it.
pub const SUMMARY_LIMIT: usize = 1024 * 1024;

/// Renders the report, cut to `limit` bytes at a line boundary with a note.
pub fn render(r: &Report, limit: usize) -> String {
    let full = render_full(r);
    if full.len() <= limit {
        return full;
    }
    let note = "\n\n> **Summary cut at 1 MiB** (GitHub drops larger summaries). The JSON report has everything.\n";
    let mut cut = limit.saturating_sub(note.len());
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    let end = full[..cut].rfind('\n').unwrap_or(0);
    format!("{}{}", &full[..end], note)
}

fn render_full(r: &Report) -> String {
    let mut s = String::new();
    let c = &r.counts;
    let _ = writeln!(s, "## secret-sync · {} · {}\n", md(&format!("`{}`", r.environment)), r.mode.as_str());
    let icon = match r.outcome.status {
        Status::Ok => "✅",
        _ => "❌",
    };
    let _ = writeln!(s, "{icon} {}\n", r.outcome.message);

    if r.outcome.status == Status::ManifestInvalid {
        let _ = writeln!(s, "### Manifest errors ({})\n", r.manifest_errors.len());
        let _ = writeln!(s, "| Where | Problem |\n|---|---|");
        for d in &r.manifest_errors {
            let _ = writeln!(s, "| {} | {} |", md(&format!("`{}:{}:{}`", d.file, d.line, d.col)), md(&d.message));
        }
        return s;
    }

    let _ = writeln!(s, "| Secrets | Required here | Present | Missing | Errors | Warnings | Notices |");
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} | {} | {} | {} |\n",
        c.secrets_declared, c.secrets_required, c.secrets_present, c.secrets_missing, c.errors, c.warnings, c.notices
    );
    if c.targets_in_scope + c.targets_skipped > 0 {
        let _ = writeln!(
            s,
            "| Targets | Skipped (other environments) | Failed | Create | Update | Delete | Unchanged | Unverified |"
        );
        let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---:|");
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            c.targets_in_scope,
            c.targets_skipped,
            c.targets_failed,
            c.creates,
            c.updates,
            c.deletes,
            c.unchanged,
            c.unverified
        );
    }
    if let Some(sel) = &r.selection {
        let patterns: Vec<String> = sel.iter().map(|p| md(&format!("`{p}`"))).collect();
        let _ = writeln!(
            s,
            "This job handled the targets matching {}: {} of {} in this environment; {} are left to other jobs.\n",
            patterns.join(", "),
            c.targets_in_scope,
            c.targets_in_scope + c.targets_not_selected,
            c.targets_not_selected
        );
    }

    for sev in [Severity::Error, Severity::Warning, Severity::Notice] {
        let list: Vec<_> = r.findings.iter().filter(|f| f.severity == sev).collect();
        if list.is_empty() {
            continue;
        }
        let heading = match sev {
            Severity::Error => "Errors",
            Severity::Warning => "Warnings",
            Severity::Notice => "Notices",
        };
        let _ = writeln!(s, "### {heading} ({})\n", list.len());
        let _ = writeln!(s, "| Secret | Problem | Details | Declared at |\n|---|---|---|---|");
        for f in list {
            let at = f.line.map(|l| md(&format!("`{}:{l}`", r.manifest))).unwrap_or_else(|| "—".into());
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                md(&format!("`{}`", f.secret)),
                f.kind.title(),
                md(&f.message),
                at
            );
        }
        s.push('\n');
    }

    if let Some(g) = &r.github {
        github_section(&mut s, g, &r.targets);
    }
    super::checks::probes(&mut s, &r.probes);
    if let Some(scan) = &r.scan {
        super::checks::scan(&mut s, scan);
    }

    if !r.targets.is_empty() {
        let _ = writeln!(s, "### Targets\n");
        let _ =
            writeln!(s, "| Target | Destination | Status | Keys | Changes | Held back |\n|---|---|---|---:|---|---|");
        for t in &r.targets {
            let status = match t.status {
                TargetStatus::Skipped => md(&format!("skipped (`{}`)", t.environment)),
                TargetStatus::NotSelected => "not selected".into(),
                TargetStatus::Planned => "planned".into(),
                TargetStatus::Synced => "synced".into(),
                TargetStatus::Unchanged => "unchanged".into(),
                TargetStatus::Failed => "**failed**".into(),
                TargetStatus::NotContacted => "not contacted".into(),
            };
            let changes = change_counts(&t.changes);
            let held = if t.held_back.is_empty() {
                "—".to_string()
            } else {
                t.held_back.iter().map(|k| md(&format!("`{k}`"))).collect::<Vec<_>>().join(", ")
            };
            let keys = if matches!(t.status, TargetStatus::Skipped | TargetStatus::NotSelected) {
                "—".to_string()
            } else {
                t.keys.to_string()
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                md(&format!("`{}`", t.id)),
                md(&t.destination),
                status,
                keys,
                changes,
                held
            );
        }
        // Identical messages (a kind this build cannot reach) are said once.
        let mut notes: Vec<(String, Vec<&str>)> = Vec::new();
        fn note<'a>(notes: &mut Vec<(String, Vec<&'a str>)>, id: &'a str, text: String) {
            match notes.iter_mut().find(|(t, _)| *t == text) {
                Some((_, ids)) => ids.push(id),
                None => notes.push((text, vec![id])),
            }
        }
        for t in &r.targets {
            let id = t.id.as_str();
            if let Some(m) = &t.message {
                note(&mut notes, id, m.clone());
            }
            match (t.revision_before, t.revision_after) {
                (Some(b), Some(a)) => note(&mut notes, id, format!("revision {b} → {a}")),
                (None, Some(a)) => note(&mut notes, id, format!("created at revision {a}")),
                _ => {}
            }
            if let Some(cmd) = &t.rollback {
                note(&mut notes, id, format!("to undo: `{cmd}`"));
            }
            if let Some(r) = &t.record {
                note(&mut notes, id, record_note(r, t.written));
            }
            for w in &t.warnings {
                note(&mut notes, id, format!("⚠️ {w}"));
            }
        }
        let notes: Vec<String> = notes
            .into_iter()
            .map(|(text, ids)| {
                let ids: Vec<String> = ids.iter().map(|i| md(&format!("`{i}`"))).collect();
                format!("- {}: {}", ids.join(", "), md(&text))
            })
            .collect();
        if !notes.is_empty() {
            s.push('\n');
            for n in notes {
                let _ = writeln!(s, "{n}");
            }
        }
        for t in r.targets.iter().filter(|t| t.changes.iter().any(|c| c.action != Action::Unchanged)) {
            let list: Vec<String> = t
                .changes
                .iter()
                .filter(|c| c.action != Action::Unchanged)
                .map(|c| format!("{} {}", sign(c.action), md(&format!("`{}`", c.key))))
                .collect();
            let verb = if t.written { "written" } else { "planned" };
            let unverified = t.changes.iter().filter(|c| c.action == Action::Unverified).count();
            let what = match (list.len() - unverified, unverified) {
                (n, 0) => format!("{n} change(s) {verb}"),
                (0, u) => format!("{u} unverified"),
                (n, u) => format!("{n} change(s) {verb}, {u} unverified"),
            };
            let _ = writeln!(
                s,
                "\n<details><summary><code>{}</code>: {what}</summary>\n\n{}\n</details>",
                md(&t.id),
                list.join("<br>\n")
            );
        }
        s.push('\n');
    }
    if let Some(st) = &r.state {
        state_section(&mut s, st);
    }
    let _ = writeln!(
        s,
        "<sub>secret-sync {} · report v{} · values are never shown; names and rules only.{}</sub>",
        r.tool.version,
        r.report_version,
        if c.unverified > 0 {
            " `?` unverified: present at the target, and nothing proves it equal to the desired value before a write."
        } else {
            ""
        }
    );
    s
}

/// "state record: 3 owned, 2 unchanged by record, 1 unverified; adopted `X`".
fn record_note(r: &crate::plan::RecordProof, written: bool) -> String {
    let mut s =
        format!("state record: {} owned, {} unchanged by record, {} unverified", r.owned, r.unchanged, r.unverified);
    if !r.adopted.is_empty() {
        let keys: Vec<String> = r.adopted.iter().map(|k| format!("`{k}`")).collect();
        let verb = if written { "adopted" } else { "would adopt" };
        let _ = write!(s, "; {verb} {} (present before secret-sync first wrote it)", keys.join(", "));
    }
    s
}

/// How the state record was read and whether it was written.
fn state_section(s: &mut String, st: &crate::report::StateReport) {
    use crate::state::ReadStatus;
    let read = match st.read {
        ReadStatus::Off => "off",
        ReadStatus::Read => "read",
        ReadStatus::Missing => "missing",
        ReadStatus::Expired => "expired",
        ReadStatus::Unreadable => "unreadable",
        ReadStatus::Refused => "refused",
    };
    let mut line = format!("State record ({}): {read}", st.store);
    if let Some(n) = &st.note {
        let _ = write!(line, " ({n})");
    }
    line.push_str(if st.fingerprints { ", with fingerprints" } else { ", without fingerprints (no `state-key`)" });
    if st.skipped_forks > 0 {
        let _ = write!(
            line,
            "; {} artifact(s) of its name skipped: made by runs of forks, which may upload anything",
            st.skipped_forks
        );
    }
    match (&st.not_written, st.written) {
        (_, true) => line.push_str("; written."),
        (Some(why), false) => {
            let _ = write!(line, "; not written: {why}.");
        }
        (None, false) => line.push_str("; not written."),
    }
    let _ = writeln!(
        s,
        "{}
",
        md(&line)
    );
}

/// Rotation and drift from GitHub's metadata.
fn github_section(s: &mut String, g: &crate::report::GithubReport, targets: &[crate::report::TargetReport]) {
    use crate::rotation::Rotation;
    if let Some(m) = &g.message {
        let _ = writeln!(s, "### Rotation and drift\n\n{}\n", md(&format!("Org `{}`: not available — {}", g.org, m)));
        return;
    }
    let count = |st| g.rotation.iter().filter(|r| r.status == st).count();
    let _ = writeln!(
        s,
        "### Rotation\n\n{} expired · {} expiring · {} healthy (ages from GitHub's `updated_at`)\n",
        count(Rotation::Expired),
        count(Rotation::Expiring),
        count(Rotation::Healthy)
    );
    let row = |r: &crate::rotation::RotationEntry| {
        let status = match r.status {
            Rotation::Expired => "🔴 expired",
            Rotation::Expiring => "🟡 expiring",
            Rotation::Healthy => "🟢 healthy",
        };
        format!(
            "| {} | {} | {} | {} | {} | {} |",
            md(&format!("`{}`", r.secret)),
            md(&format!("`{}` ({})", r.source, r.scope)),
            &r.updated_at[..10],
            r.rotate_every,
            &r.due[..10],
            status
        )
    };
    let header = "| Secret | Source | Last changed | Rotate every | Due | Status |\n|---|---|---|---|---|---|";
    let urgent: Vec<String> = g.rotation.iter().filter(|r| r.status != Rotation::Healthy).map(row).collect();
    if !urgent.is_empty() {
        let _ = writeln!(s, "{header}\n{}\n", urgent.join("\n"));
    }
    let healthy: Vec<String> = g.rotation.iter().filter(|r| r.status == Rotation::Healthy).map(row).collect();
    if !healthy.is_empty() {
        let _ = writeln!(
            s,
            "<details><summary>{} healthy</summary>\n\n{header}\n{}\n</details>\n",
            healthy.len(),
            healthy.join("\n")
        );
    }
    let Some(d) = &g.drift else { return };
    let _ = writeln!(
        s,
        "### Drift\n\nCoverage: **{}%** of org {}'s {} secrets are read by the manifest ({} managed).\n",
        d.coverage_percent,
        md(&format!("`{}`", g.org)),
        d.org_secrets,
        d.managed
    );
    let names = |v: &[String]| {
        let shown: Vec<String> = v.iter().take(50).map(|n| md(&format!("`{n}`"))).collect();
        let more = if v.len() > 50 { format!(" … and {} more", v.len() - 50) } else { String::new() };
        format!("{}{more}", shown.join(", "))
    };
    if !d.declared_absent.is_empty() {
        let _ = writeln!(
            s,
            "- Declared but in neither the org nor this repository ({}): {}",
            d.declared_absent.len(),
            names(&d.declared_absent)
        );
    }
    if !d.unmanaged.is_empty() {
        let _ = writeln!(s, "- In the org but not declared ({}): {}", d.unmanaged.len(), names(&d.unmanaged));
    }
    if !d.not_visible.is_empty() {
        let list: Vec<String> = d
            .not_visible
            .iter()
            .map(|n| md(&format!("`{}` (`{}`, visibility `{}`)", n.secret, n.source, n.visibility)))
            .collect();
        let _ = writeln!(
            s,
            "- In the org but not visible to this repository, so this job never received them ({}): {}",
            list.len(),
            list.join(", ")
        );
    }
    for t in targets.iter().filter(|t| !t.unrouted.is_empty()) {
        let _ = writeln!(
            s,
            "- At {} but not routed there by the manifest ({}): {}",
            md(&format!("`{}`", t.id)),
            t.unrouted.len(),
            names(&t.unrouted)
        );
    }
    s.push('\n');
}

/// `+3 ~1 −0 ?2`, or `—` when nothing changes.
fn change_counts(changes: &[crate::targets::Change]) -> String {
    let n = |a| changes.iter().filter(|c| c.action == a).count();
    let (c, u, d, v) = (n(Action::Create), n(Action::Update), n(Action::Delete), n(Action::Unverified));
    if c + u + d + v == 0 {
        return if changes.is_empty() { "—".into() } else { format!("{} unchanged", changes.len()) };
    }
    let mut parts = Vec::new();
    for (count, sign) in [(c, "+"), (u, "~"), (d, "−"), (v, "?")] {
        if count > 0 {
            parts.push(format!("{sign}{count}"));
        }
    }
    parts.join(" ")
}

fn sign(a: Action) -> &'static str {
    match a {
        Action::Create => "+",
        Action::Update => "~",
        Action::Delete => "−",
        Action::Unchanged => "=",
        Action::Unverified => "?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FailOn, Mode};
    use crate::diag::{Finding, Kind};
    use crate::report::{Counts, Report, RunOutcome, Tool, REPORT_VERSION};

    #[test]
    fn summary_is_cut_below_the_limit_with_a_note() {
        let finding = |i: usize| Finding {
            severity: Severity::Warning,
            kind: Kind::Undeclared,
            secret: format!("SECRET_{i}"),
            message: "x".repeat(200),
            line: None,
            col: None,
        };
        let report = Report {
            report_version: REPORT_VERSION,
            tool: Tool::default(),
            generated_at: String::new(),
            run: None,
            mode: Mode::Validate,
            environment: "production".into(),
            selection: None,
            manifest: "m.yml".into(),
            outcome: RunOutcome { status: Status::Ok, exit_code: 0, fail_on: FailOn::Error, message: "ok".into() },
            counts: Counts::default(),
            manifest_errors: Vec::new(),
            findings: (0..2000).map(finding).collect(),
            secrets: Vec::new(),
            targets: Vec::new(),
            github: None,
            probes: Vec::new(),
            state: None,
            scan: None,
        };
        let full = render(&report, usize::MAX);
        assert!(full.len() > 100_000);
        let cut = render(&report, 100_000);
        assert!(cut.len() <= 100_000);
        assert!(cut.ends_with("The JSON report has everything.\n"));
        let body = &cut[..cut.find("\n\n> **Summary cut").unwrap()];
        assert!(full.starts_with(body), "the cut summary is a prefix of the full one");
        assert_eq!(render(&report, SUMMARY_LIMIT), full, "a summary under 1 MiB is not cut");
    }
}
