//! Where a run's report goes: the JSON file, the job summary (or the
//! terminal), the step's outputs and the report artifact. Used by the
//! pipeline ([`crate::run`]) and `merge-reports` ([`crate::merge`]).

use crate::actions;
use crate::config::{Publish, Style};
use crate::exit::Exit;
use crate::output::Printer;
use crate::report::{markdown, Report};

/// Writes the report everywhere it goes and returns its exit code.
pub fn publish(out: &Publish, report: &Report) -> Exit {
    let mut code = report.outcome.status.exit();
    let md = markdown::render(report, markdown::SUMMARY_LIMIT);
    let mut problems = Vec::new();
    if let Some(p) = &out.report_path {
        let json = serde_json::to_string_pretty(report).expect("the report serialises");
        if let Err(e) = std::fs::write(p, json + "\n") {
            problems.push(format!("could not write the report to {}: {}", p.display(), crate::util::io_reason(&e)));
        }
    }
    match (out.style, &out.summary_path) {
        (Style::Actions, Some(p)) => {
            if let Err(e) = actions::append_summary(p, &md) {
                problems.push(format!("{e:#}"));
            }
        }
        // No summary file (older GitHub Enterprise Server): the summary goes
        // to the log, paused so that no line of it is read as a command.
        (Style::Actions, None) => print!("{}", actions::paused(&md)),
        (Style::Terminal, _) => print!("{md}"),
    }
    let artifact_id = upload_artifact(out, report, &md);
    if let Some(p) = &out.output_path {
        let c = &report.counts;
        let outputs = [
            (
                "status",
                serde_json::to_value(report.outcome.status)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
            ),
            ("errors", c.errors.to_string()),
            ("warnings", c.warnings.to_string()),
            ("notices", c.notices.to_string()),
            ("missing", c.secrets_missing.to_string()),
            ("changed", c.changed().to_string()),
            ("unverified", c.unverified.to_string()),
            ("failed", c.targets_failed.to_string()),
            ("report-path", out.report_output.clone().unwrap_or_default()),
            ("artifact-id", artifact_id.unwrap_or_default()),
        ];
        if let Err(e) = actions::write_outputs(p, &outputs) {
            problems.push(format!("{e:#}"));
        }
    }
    // A report, summary or output that cannot be written is a problem with
    // how the tool was called (a path, a permission), not a failed sync: exit
    // 3 when nothing else failed, else keep the run's own exit code.
    for p in &problems {
        Printer::new(out.style).usage_error(p);
    }
    if !problems.is_empty() && code == Exit::Ok {
        code = Exit::Usage;
    }
    code
}

/// Uploads the JSON report and the summary as one artifact, if asked to and
/// possible. A refusal is a warning: the report is on disk either way.
fn upload_artifact(out: &Publish, report: &Report, md: &str) -> Option<String> {
    use crate::config::ArtifactMode;
    let runtime = match (out.artifact, out.artifact_service.clone()) {
        (ArtifactMode::Off, _) | (ArtifactMode::Auto, None) => return None,
        (ArtifactMode::On, None) => {
            Printer::new(out.style).warning( "artifact", "`upload-artifact: true` but the runner gave no artifact service (ACTIONS_RUNTIME_TOKEN); the report was not uploaded");
            return None;
        }
        (_, Some(r)) => r,
    };
    let json = serde_json::to_string_pretty(report).expect("the report serialises") + "\n";
    let files: [(&str, &[u8]); 2] =
        [("secret-sync-report.json", json.as_bytes()), ("secret-sync-summary.md", md.as_bytes())];
    let http = crate::http::Http::new(out.http.clone(), &["x-github-request-id"]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    match rt.block_on(crate::artifact::upload(&http, &runtime, &out.artifact_name, &files)) {
        Ok(id) => Some(id),
        Err(e) => {
            Printer::new(out.style).warning(
                "artifact",
                &format!("the report could not be uploaded as an artifact ({e}); it is still at the report path"),
            );
            None
        }
    }
}
