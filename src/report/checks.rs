//! The summary's sections for the two checks on values themselves: liveness
//! probes and the leak scan. Names and places only, never a value.

use std::fmt::Write as _;

use crate::escape::markdown as md;
use crate::probe::{ProbeResult, Status};
use crate::scan::ScanReport;

/// Rows shown before the rest is left to the JSON report.
const MAX_ROWS: usize = 200;

pub(super) fn probes(s: &mut String, results: &[ProbeResult]) {
    if results.is_empty() {
        return;
    }
    let n = |st| results.iter().filter(|r| r.status == st).count();
    let refused = match n(Status::Refused) {
        0 => String::new(),
        k => format!(" · {k} not allowed here"),
    };
    let _ = writeln!(
        s,
        "### Liveness probes\n\n{} live · {} rejected{refused} · {} not confirmed (each value asked of its own service only)\n",
        n(Status::Live),
        n(Status::Rejected),
        n(Status::Inconclusive) + n(Status::Unknown)
    );
    let _ = writeln!(s, "| Secret | Service | Call | Result |\n|---|---|---|---|");
    for r in results.iter().take(MAX_ROWS) {
        let result = match r.status {
            Status::Live => "🟢 live".to_string(),
            Status::Rejected => format!("🔴 **rejected** — {}", md(&r.detail)),
            Status::Refused => format!("🟠 not allowed here — {}", md(&r.detail)),
            Status::Unknown => format!("⚪ unrecognised answer — {}", md(&r.detail)),
            Status::Inconclusive => format!("🟡 not confirmed — {}", md(&r.detail)),
        };
        let _ = writeln!(s, "| {} | {} | `{}` | {result} |", md(&format!("`{}`", r.secret)), r.service.title(), r.call);
    }
    more(s, results.len());
    s.push('\n');
}

pub(super) fn scan(s: &mut String, r: &ScanReport) {
    let _ = writeln!(s, "### Leak scan\n");
    let mut notes = vec![format!(
        "searched {} file(s), {}, for {} value(s) in {} form(s)",
        r.files_scanned,
        size(r.bytes_scanned),
        r.values_searched,
        r.patterns
    )];
    if let Some(h) = &r.history {
        notes.push(format!("and {} blob(s) of git history, {}", h.blobs_scanned, size(h.bytes_scanned)));
    }
    if r.binary_skipped > 0 {
        notes.push(format!("{} binary file(s) skipped", r.binary_skipped));
    }
    if r.git_skipped {
        notes.push("`.git` skipped".into());
    }
    if !r.excluded.is_empty() {
        notes.push(format!("left out as the values' source: {}", code_list(&r.excluded)));
    }
    if !r.unreadable.is_empty() {
        notes.push(format!("unreadable: {}", code_list(&r.unreadable)));
    }
    let _ = writeln!(s, "{}.\n", capitalise(&notes.join(" · ")));
    if !r.too_short.is_empty() {
        let _ = writeln!(
            s,
            "Not searched, shorter than {} characters (they would match everywhere): {}\n",
            crate::scan::MIN_LEN,
            code_list(&r.too_short)
        );
    }
    if r.leaks.is_empty() {
        let _ = writeln!(s, "No managed value was found.\n");
        return;
    }
    let _ = writeln!(s, "| Secret | Where | Form |\n|---|---|---|");
    for l in r.leaks.iter().take(MAX_ROWS) {
        let forms: Vec<&str> = l.forms.iter().map(|f| f.describe()).collect();
        let place = match &l.blob {
            Some(b) => {
                format!("{} (history, blob `{}`)", md(&format!("`{}:{}`", l.file, l.line)), &b[..b.len().min(12)])
            }
            None => md(&format!("`{}:{}`", l.file, l.line)),
        };
        let _ = writeln!(s, "| {} | {place} | {} |", md(&format!("`{}`", l.secret)), forms.join(", "));
    }
    more(s, r.leaks.len());
    s.push('\n');
}

fn more(s: &mut String, n: usize) {
    if n > MAX_ROWS {
        let _ = writeln!(s, "\n… and {} more in the JSON report.", n - MAX_ROWS);
    }
}

fn code_list(items: &[String]) -> String {
    items.iter().map(|i| md(&format!("`{i}`"))).collect::<Vec<_>>().join(", ")
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// `512 bytes`, `3.4 KiB`, `200.0 MiB`.
fn size(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} bytes"),
        b if b < 1 << 20 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / 1048576.0),
    }
}
