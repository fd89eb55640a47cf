//! The report as Markdown: the job summary in Actions, the output in a
//! terminal. Counts first, then findings by severity, then targets.

use std::fmt::Write as _;

use super::{Report, Status, TargetStatus};
use crate::targets::Action;
use crate::validate::Severity;

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
    let _ = writeln!(s, "## secret-sync · `{}` · {}\n", r.environment, r.mode.as_str());
    let icon = match r.outcome.status {
        Status::Ok => "✅",
        _ => "❌",
    };
    let _ = writeln!(s, "{icon} {}\n", r.outcome.message);

    if r.outcome.status == Status::ManifestInvalid {
        let _ = writeln!(s, "### Manifest errors ({})\n", r.manifest_errors.len());
        let _ = writeln!(s, "| Where | Problem |\n|---|---|");
        for d in &r.manifest_errors {
            let _ = writeln!(s, "| `{}:{}:{}` | {} |", d.file, d.line, d.col, cell(&d.message));
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
        let _ =
            writeln!(s, "| Targets | Skipped (other environments) | Failed | Create | Update | Delete | Unchanged |");
        let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|");
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            c.targets_in_scope, c.targets_skipped, c.targets_failed, c.creates, c.updates, c.deletes, c.unchanged
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
            let at = f.line.map(|l| format!("`{}:{l}`", r.manifest)).unwrap_or_else(|| "—".into());
            let _ = writeln!(s, "| `{}` | {} | {} | {} |", f.secret, f.kind.title(), cell(&f.message), at);
        }
        s.push('\n');
    }

    if !r.targets.is_empty() {
        let _ = writeln!(s, "### Targets\n");
        let _ =
            writeln!(s, "| Target | Destination | Status | Keys | Changes | Held back |\n|---|---|---|---:|---|---|");
        for t in &r.targets {
            let status = match t.status {
                TargetStatus::Skipped => format!("skipped (`{}`)", t.environment),
                TargetStatus::Planned => "planned".into(),
                TargetStatus::Synced => "synced".into(),
                TargetStatus::Unchanged => "unchanged".into(),
                TargetStatus::Failed => "**failed**".into(),
                TargetStatus::NotContacted => "not contacted".into(),
            };
            let changes: Vec<String> = t
                .changes
                .iter()
                .filter(|c| c.action != Action::Unchanged)
                .map(|c| format!("{} `{}`", sign(c.action), c.key))
                .collect();
            let changes = if changes.is_empty() { "—".to_string() } else { changes.join("<br>") };
            let held = if t.held_back.is_empty() {
                "—".to_string()
            } else {
                t.held_back.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            };
            let keys = if t.status == TargetStatus::Skipped { "—".to_string() } else { t.keys.to_string() };
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} | {} | {} |",
                t.id,
                cell(&t.destination),
                status,
                keys,
                changes,
                held
            );
        }
        let mut notes = Vec::new();
        for t in &r.targets {
            if let Some(m) = &t.message {
                notes.push(format!("- `{}`: {}", t.id, m));
            }
            match (t.revision_before, t.revision_after) {
                (Some(b), Some(a)) => notes.push(format!("- `{}`: revision {b} → {a}", t.id)),
                (None, Some(a)) => notes.push(format!("- `{}`: created at revision {a}", t.id)),
                _ => {}
            }
            if let Some(cmd) = &t.rollback {
                notes.push(format!("- `{}`: to undo: `{cmd}`", t.id));
            }
            for w in &t.warnings {
                notes.push(format!("- ⚠️ `{}`: {}", t.id, w));
            }
        }
        if !notes.is_empty() {
            s.push('\n');
            for n in notes {
                let _ = writeln!(s, "{n}");
            }
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "<sub>secret-sync {} · report v{} · values are never shown; names and rules only.</sub>",
        r.tool.version, r.report_version
    );
    s
}

fn sign(a: Action) -> &'static str {
    match a {
        Action::Create => "+",
        Action::Update => "~",
        Action::Delete => "−",
        Action::Unchanged => "=",
    }
}

/// Makes text safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
