//! Building the report from what a run found and did, and deciding its
//! verdict. Pure functions of their arguments: the wiring (`run`) gathers
//! the inputs, these put them together, the renderers print the result.

use crate::config::{FailOn, Mode};
use crate::diag::Finding;
use crate::manifest::{Manifest, Target};
use crate::plan::{Action, TargetOutcome, TargetStatus};
use crate::report::{
    Counts, GithubReport, Report, RunInfo, RunOutcome, SecretState, SecretStatus, Status, TargetReport, Tool,
    REPORT_VERSION,
};
use crate::validate::Resolved;

/// What the report says about the run itself.
pub struct Facts {
    pub mode: Mode,
    pub fail_on: FailOn,
    pub environment: String,
    /// The manifest's path as shown.
    pub manifest: String,
    /// The `targets` patterns, when the run handled a shard.
    pub selection: Option<Vec<String>>,
    pub generated_at: String,
    pub run: Option<RunInfo>,
}

/// What the run found and did, for [`report`].
pub struct Results<'a> {
    pub findings: Vec<Finding>,
    /// Validation of the values failed, so nothing was written.
    pub values_failing: bool,
    /// Each contacted (or, in `validate`, not contacted) target with its
    /// routed key count, held-back keys and outcome.
    pub targets: Vec<Handled<'a>>,
    /// Targets of this environment left to other jobs.
    pub not_selected: Vec<&'a Target>,
    /// Targets of other environments.
    pub skipped: Vec<&'a Target>,
    pub github: Option<GithubReport>,
    pub probes: Vec<crate::probe::ProbeResult>,
    pub scan: Option<crate::scan::ScanReport>,
    pub state: Option<crate::report::StateReport>,
}

pub struct Handled<'a> {
    pub target: &'a Target,
    pub keys: usize,
    pub held_back: Vec<String>,
    pub outcome: TargetOutcome,
}

impl<'a> Handled<'a> {
    /// A target's desired state and what happened there.
    pub fn of((d, outcome): &'a (crate::targets::Desired, TargetOutcome)) -> Handled<'a> {
        Handled { target: &d.target, keys: d.keys.len(), held_back: d.held_back.clone(), outcome: outcome.clone() }
    }
}

/// The report of a run over a valid manifest.
pub fn report(facts: Facts, m: &Manifest, resolved: &[Resolved], mut results: Results) -> Report {
    sort_findings(&mut results.findings);
    let secrets = secrets(m, &facts.environment, resolved);
    let in_scope = results.targets.len();
    let mut targets: Vec<TargetReport> = results.targets.into_iter().map(handled).collect();
    targets.extend(results.not_selected.iter().map(|t| untouched(t, TargetStatus::NotSelected)));
    targets.extend(results.skipped.iter().map(|t| untouched(t, TargetStatus::Skipped)));
    let mut counts = counts(m.secrets.len(), &secrets, &results.findings, &targets);
    counts.targets_in_scope = in_scope;
    counts.targets_not_selected = results.not_selected.len();
    counts.targets_skipped = results.skipped.len();
    let outcome = verdict(facts.mode, facts.fail_on, &counts, &results.findings, results.values_failing);
    Report {
        counts,
        findings: results.findings,
        secrets,
        targets,
        github: results.github,
        probes: results.probes,
        state: results.state,
        scan: results.scan,
        ..empty(facts, outcome)
    }
}

/// A report of the run `facts` describe with `outcome` and nothing else yet.
fn empty(facts: Facts, outcome: RunOutcome) -> Report {
    Report {
        report_version: REPORT_VERSION,
        tool: Tool::default(),
        generated_at: facts.generated_at,
        run: facts.run,
        mode: facts.mode,
        environment: facts.environment,
        manifest: facts.manifest,
        selection: facts.selection,
        outcome,
        counts: Counts::default(),
        manifest_errors: Vec::new(),
        findings: Vec::new(),
        secrets: Vec::new(),
        targets: Vec::new(),
        github: None,
        probes: Vec::new(),
        scan: None,
        state: None,
    }
}

/// The report of a run stopped by errors in the manifest itself.
pub fn manifest_invalid(facts: Facts, diags: Vec<crate::diag::Diagnostic>) -> Report {
    // The outcome message is Markdown of ours; the path in it is not.
    let message = format!(
        "**The manifest {} has {} error(s)**; nothing was validated or synced. Fix them and re-run.",
        crate::escape::markdown(&format!("`{}`", facts.manifest)),
        diags.len()
    );
    let outcome = RunOutcome {
        status: Status::ManifestInvalid,
        exit_code: Status::ManifestInvalid.exit().code(),
        fail_on: facts.fail_on,
        message,
    };
    Report { manifest_errors: diags, ..empty(facts, outcome) }
}

/// Errors first, then by place in the manifest, then by name.
pub(crate) fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.line.cmp(&b.line)).then(a.secret.cmp(&b.secret)));
}

/// Each declared secret's state in `env`, and where it goes there.
pub fn secrets(m: &Manifest, env: &str, resolved: &[Resolved]) -> Vec<SecretStatus> {
    resolved
        .iter()
        .map(|r| {
            let state = match (r.value.is_some(), r.usable, r.required) {
                (true, true, _) => SecretState::Ok,
                (true, false, _) => SecretState::Invalid,
                (false, _, true) => SecretState::Missing,
                (false, _, false) => SecretState::NotSet,
            };
            let destinations = r
                .secret
                .routes
                .iter()
                .filter(|x| m.target(x.kind, &x.target).is_some_and(|t| t.environment == env))
                .map(|x| format!("{}:{}", x.kind, x.target))
                .collect();
            SecretStatus {
                name: r.secret.name.clone(),
                group: r.secret.group.clone(),
                state,
                required: r.required,
                source: r.source.clone(),
                rotate_every: m.rotation_period(r.secret),
                destinations,
            }
        })
        .collect()
}

fn handled(h: Handled) -> TargetReport {
    let o = h.outcome;
    TargetReport {
        status: o.status.unwrap_or(TargetStatus::Failed),
        keys: h.keys,
        held_back: h.held_back,
        changes: o.changes,
        written: o.written,
        revision_before: o.revision_before,
        revision_after: o.revision_after,
        rollback: o.rollback,
        warnings: o.warnings,
        unrouted: o.unrouted,
        message: o.message,
        http_status: o.http_status,
        request_id: o.request_id,
        record: o.record,
        deployment: o.deployment,
        ..untouched(h.target, TargetStatus::Failed)
    }
}

/// A target the run did not contact.
fn untouched(t: &Target, status: TargetStatus) -> TargetReport {
    TargetReport {
        id: t.id(),
        kind: t.kind.to_string(),
        name: t.name.clone(),
        destination: t.destination(),
        environment: t.environment.clone(),
        status,
        keys: 0,
        held_back: Vec::new(),
        changes: Vec::new(),
        written: false,
        revision_before: None,
        revision_after: None,
        rollback: None,
        warnings: Vec::new(),
        unrouted: Vec::new(),
        message: None,
        http_status: None,
        request_id: None,
        record: None,
        deployment: Vec::new(),
    }
}

/// Counts of secrets, findings, target results and changes.
pub fn counts(declared: usize, secrets: &[SecretStatus], findings: &[Finding], targets: &[TargetReport]) -> Counts {
    let mut c = Counts { secrets_declared: declared, ..Counts::default() };
    c.count_findings(findings);
    for s in secrets {
        c.secrets_required += usize::from(s.required);
        c.secrets_present += usize::from(matches!(s.state, SecretState::Ok | SecretState::Invalid));
        c.secrets_missing += usize::from(s.state == SecretState::Missing);
    }
    c.count_changes(targets);
    c
}

/// The run's verdict: validation findings at or above `fail-on` first, then
/// failed targets, else success.
pub fn verdict(mode: Mode, fail_on: FailOn, c: &Counts, findings: &[Finding], values_failing: bool) -> RunOutcome {
    let failing = findings.iter().filter(|f| fail_on.fails(f.severity)).count();
    let (status, message) = if failing > 0 {
        (
            Status::ValidationFailed,
            format!(
                "**Validation failed**: {failing} finding(s) at or above `fail-on: {}`.{} Fix the secrets listed below, then re-run.",
                fail_on.as_str(),
                if mode == Mode::Sync && values_failing { " Nothing was written." } else { "" }
            ),
        )
    } else if c.targets_failed > 0 {
        (Status::SyncFailed, format!("**{} target(s) failed**; the others completed.", c.targets_failed))
    } else {
        (Status::Ok, ok_message(mode, c))
    };
    RunOutcome { status, exit_code: status.exit().code(), fail_on, message }
}

fn ok_message(mode: Mode, c: &Counts) -> String {
    let present = format!(
        "{} of {} required secrets present and valid",
        c.secrets_required - c.secrets_missing,
        c.secrets_required
    );
    match mode {
        Mode::Validate => format!("**Valid**: {present}."),
        Mode::Scan => format!("**No leaks found**: {present}; no managed value is in the workspace."),
        Mode::Plan => {
            let unverified = match c.unverified {
                0 => String::new(),
                n => format!(" and {n} unverified key(s) a sync would write and then prove changed or not"),
            };
            format!(
                "**Plan**: {present}; {} change(s) planned{unverified} across {} target(s).",
                c.changed(),
                c.targets_in_scope
            )
        }
        Mode::Sync => {
            format!("**Synced**: {present}; {} change(s) written across {} target(s).", c.changed(), c.targets_in_scope)
        }
    }
}

impl Counts {
    /// Adds up the changes of `targets` and counts the failed ones.
    pub fn count_changes(&mut self, targets: &[TargetReport]) {
        (self.creates, self.updates, self.deletes, self.unchanged, self.unverified) = (0, 0, 0, 0, 0);
        for c in targets.iter().flat_map(|t| &t.changes) {
            match c.action {
                Action::Create => self.creates += 1,
                Action::Update => self.updates += 1,
                Action::Delete => self.deletes += 1,
                Action::Unchanged => self.unchanged += 1,
                Action::Unverified => self.unverified += 1,
            }
        }
        self.targets_failed = targets.iter().filter(|t| t.status == TargetStatus::Failed).count();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::{Kind, Severity};
    use crate::plan::Change;

    fn finding(severity: Severity) -> Finding {
        Finding { severity, kind: Kind::Missing, secret: "A".into(), message: "m".into(), line: Some(3), col: None }
    }

    fn target(status: TargetStatus, actions: &[Action]) -> TargetReport {
        let m = crate::manifest::parse(
            b"version: 1\ntargets:\n  fly:\n    api: { app: my-api }\nsecrets:\n  A:\n    to: [{ fly: api }]\n",
            "m.yml",
            crate::targets::SECTIONS,
        )
        .unwrap();
        let mut t = untouched(&m.targets[0], status);
        t.changes = actions.iter().map(|a| Change { key: "K".into(), action: *a }).collect();
        t
    }

    #[test]
    fn verdict_puts_failing_findings_before_failed_targets() {
        let mut c = Counts { secrets_required: 3, secrets_missing: 1, targets_failed: 1, ..Counts::default() };
        let errors = [finding(Severity::Error)];
        let v = verdict(Mode::Sync, FailOn::Error, &c, &errors, true);
        assert_eq!((v.status, v.exit_code), (Status::ValidationFailed, 2));
        assert!(v
            .message
            .ends_with("`fail-on: error`. Nothing was written. Fix the secrets listed below, then re-run."));
        // Only the values' findings hold writes back: a plan says nothing of writes.
        let v = verdict(Mode::Plan, FailOn::Error, &c, &errors, true);
        assert!(!v.message.contains("Nothing was written"));
        // Warnings fail only with `fail-on: warning`.
        let warnings = [finding(Severity::Warning)];
        assert_eq!(verdict(Mode::Sync, FailOn::Warning, &c, &warnings, false).status, Status::ValidationFailed);
        let v = verdict(Mode::Sync, FailOn::Error, &c, &warnings, false);
        assert_eq!((v.status, v.exit_code), (Status::SyncFailed, 1));
        assert_eq!(v.message, "**1 target(s) failed**; the others completed.");
        c.targets_failed = 0;
        c.creates = 2;
        c.targets_in_scope = 4;
        let v = verdict(Mode::Sync, FailOn::Never, &c, &errors, true);
        assert_eq!((v.status, v.exit_code), (Status::Ok, 0));
        assert_eq!(
            v.message,
            "**Synced**: 2 of 3 required secrets present and valid; 2 change(s) written across 4 target(s)."
        );
    }

    #[test]
    fn counts_add_up_changes_and_failures() {
        use Action::*;
        let targets = [
            target(TargetStatus::Synced, &[Create, Create, Unchanged]),
            target(TargetStatus::Failed, &[Update, Delete]),
            target(TargetStatus::Skipped, &[]),
        ];
        let c = counts(5, &[], &[finding(Severity::Notice), finding(Severity::Error)], &targets);
        assert_eq!((c.creates, c.updates, c.deletes, c.unchanged), (2, 1, 1, 1));
        assert_eq!((c.targets_failed, c.errors, c.notices, c.secrets_declared), (1, 1, 1, 5));
        assert_eq!(c.changed(), 4);
    }

    #[test]
    fn outcomes_become_target_rows() {
        let m = crate::manifest::parse(
            b"version: 1\ntargets:\n  fly:\n    api: { app: my-api }\nsecrets:\n  A:\n    to: [{ fly: api }]\n",
            "m.yml",
            crate::targets::SECTIONS,
        )
        .unwrap();
        let outcome = TargetOutcome { message: Some("boom".into()), ..TargetOutcome::default() };
        let row = handled(Handled { target: &m.targets[0], keys: 1, held_back: vec!["B".into()], outcome });
        // A target whose run set no status failed (a panic inside it, say).
        assert_eq!(row.status, TargetStatus::Failed);
        assert_eq!((row.id.as_str(), row.destination.as_str(), row.keys), ("fly:api", "my-api", 1));
        assert_eq!(row.held_back, ["B"]);
        assert_eq!(row.message.as_deref(), Some("boom"));
    }
}
