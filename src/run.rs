//! One run, one direction: inputs → manifest → values → validation →
//! desired state per target → plan → apply → report.

use std::sync::Arc;

mod context;
mod error;
mod inputs;
mod memory;
mod record;

use crate::config::{Config, Mode};
use crate::exit::Exit;
use crate::github::GitHub;
use crate::manifest::Manifest;
use crate::output::Printer;
use crate::plan::{TargetOutcome, TargetStatus};
use crate::report::{assemble, RunInfo};
use crate::targets;
use crate::validate;
use crate::values::SecretValues;
use context::{context, github_client, github_metadata, github_settings, kinds, reads_metadata, runtime};
use error::RunError;
#[cfg(debug_assertions)]
use inputs::test_panic;
pub use inputs::UsageError;
use inputs::{check_selection, pick_environment, read_inputs};

/// Runs validate / plan / sync and returns the exit code: the pipeline, and
/// the one place its errors become exit codes.
pub fn run(cfg: &Config) -> Exit {
    memory::one_heap();
    let out = Printer::new(cfg.out.style);
    let display = crate::util::display_path(&cfg.manifest);
    match pipeline(cfg, &out, &display) {
        Ok(exit) => exit,
        Err(RunError::Usage(msg)) => out.usage_error(&msg),
        Err(RunError::Manifest(diags)) => {
            out.diagnostics(&diags);
            let env = cfg.environment.clone().unwrap_or_default();
            crate::publish::publish(&cfg.out, &assemble::manifest_invalid(facts(cfg, env, display), diags))
        }
    }
}

fn pipeline(cfg: &Config, out: &Printer, display: &str) -> Result<Exit, RunError> {
    let (vals, loaded) = read_inputs(cfg, display)?;
    // The masks are the first lines the runner sees.
    out.masks(vals.mask_lines(), cfg.targets.tokens().chain(cfg.state.secrets()));
    #[cfg(debug_assertions)]
    test_panic(&vals);
    let m = loaded?;
    let env = pick_environment(&m, cfg.environment.as_deref())?;
    check_selection(cfg, &m)?;
    let state_key = cfg.state.state_key("the state key (`state-key`, `SECRET_SYNC_STATE_KEY`)")?;
    let rt = runtime();
    let mut v = validate::validate(&m, &env, &vals);
    let gh = github_client(cfg, &m);
    let checked = checks(cfg, &rt, &m, &mut v, &vals)?;
    let (desired, skipped) = targets::desired(&m, &env, &v.resolved);
    let metadata = reads_metadata(cfg, &desired);
    // Targets another job of a matrix handles (`targets` input).
    let (desired, not_selected): (Vec<_>, Vec<_>) =
        desired.into_iter().partition(|d| cfg.selection.as_ref().is_none_or(|s| s.selects(&d.target.id())));
    // Values that fail validation hold every write back; rotation findings
    // only decide the exit code.
    let values_failing = v.findings.iter().any(|f| cfg.fail_on.fails(f.severity));
    // The manifest's YAML tree is gone: its pages go back before the
    // targets' work allocates on other threads.
    memory::release_freed();
    let inputs = Contact { cfg, out, m: &m, env: &env, display, gh, vals: &vals, state_key, metadata };
    let (assessed, outcomes, state) = contact(&rt, inputs, &v.resolved, desired, values_failing);
    let results = assemble::Results {
        findings: checked.findings.into_iter().chain(assessed.findings).collect(),
        values_failing,
        targets: outcomes.iter().map(assemble::Handled::of).collect(),
        not_selected: not_selected.iter().map(|d| &d.target).collect(),
        skipped,
        github: assessed.report,
        probes: checked.probes,
        scan: checked.scan,
        state,
    };
    let report = assemble::report(facts(cfg, env, display.to_string()), &m, &v.resolved, results);
    out.annotations(report.scan.iter().flat_map(crate::scan::annotations));
    out.findings(&report.findings, &report.manifest);
    Ok(crate::publish::publish(&cfg.out, &report))
}

/// What [`contact`] needs of the run.
struct Contact<'a> {
    cfg: &'a Config,
    out: &'a Printer,
    m: &'a Manifest,
    env: &'a str,
    display: &'a str,
    gh: Option<Arc<GitHub>>,
    vals: &'a SecretValues,
    state_key: Option<crate::state::StateKey>,
    /// This job reads GitHub's metadata ([`reads_metadata`]).
    metadata: bool,
}

/// Reads GitHub's metadata (rotation, drift, the sources' ages) while the
/// targets are planned — and in `sync` written — with the state record read
/// before them and written after; only GitHub targets wait for the ages.
/// In `validate` and `scan` no target is contacted.
fn contact(
    rt: &tokio::runtime::Runtime,
    c: Contact,
    resolved: &[validate::Resolved<'_>],
    desired: Vec<targets::Desired>,
    values_failing: bool,
) -> (crate::rotation::Assessment, Vec<(targets::Desired, TargetOutcome)>, Option<crate::report::StateReport>) {
    let cfg = c.cfg;
    let (ages, ages_rx) = tokio::sync::watch::channel(None);
    let gh = c.gh.as_deref().filter(|_| c.metadata);
    let metadata = async {
        let assessed = github_metadata(cfg, gh, c.m, c.env, resolved, c.vals).await;
        let _ = ages.send(Some(Arc::new(assessed.source_updated.clone())));
        assessed
    };
    if matches!(cfg.mode, Mode::Validate | Mode::Scan) {
        let none = || TargetOutcome { status: Some(TargetStatus::NotContacted), ..TargetOutcome::default() };
        return (rt.block_on(metadata), desired.into_iter().map(|d| (d, none())).collect(), None);
    }
    // Only some kinds keep proofs in the record: without one, none is read.
    let recorded = desired.iter().any(|d| targets::recorded(d.target.kind));
    let kept = recorded.then(|| record::Kept::new(cfg, c.display, c.env, c.state_key));
    let run_targets = async {
        // The record is read once, before any target is planned (the
        // GitHub metadata read goes on meanwhile).
        let ledger = match &kept {
            Some(k) => k.read().await,
            None => targets::ledger::Ledger::off("no target whose kind the record proves"),
        };
        let github_targets = desired.iter().filter(|d| d.target.kind == targets::github::KIND).count();
        let sends = cfg.mode == Mode::Sync && !values_failing;
        let github = github_settings(cfg, c.gh.clone(), ages_rx, github_targets, sends);
        let kinds = kinds(cfg, c.m, github);
        let ctx = Arc::new(context(cfg, values_failing, ledger));
        let outcomes = targets::run_all(ctx.clone(), &kinds, desired).await;
        let state = match &kept {
            Some(k) => Some(k.write(&ctx.ledger).await),
            None => None,
        };
        (outcomes, state)
    };
    let (assessed, (outcomes, state)) = rt.block_on(async { tokio::join!(metadata, run_targets) });
    if let (Some(kept), Some(s)) = (&kept, &state) {
        kept.announce(c.out, s);
    }
    (assessed, outcomes, state)
}

/// What the checks on values found besides validation.
struct Checked {
    findings: Vec<crate::diag::Finding>,
    probes: Vec<crate::probe::ProbeResult>,
    scan: Option<crate::scan::ScanReport>,
}

/// Probes (a rejected credential is then held back like any invalid
/// value) and the leak scan.
fn checks(
    cfg: &Config,
    rt: &tokio::runtime::Runtime,
    m: &Manifest,
    v: &mut validate::Validation,
    vals: &SecretValues,
) -> Result<Checked, String> {
    let probes = if cfg.probe { crate::probe::run(rt, m, v, crate::targets::SECTIONS)? } else { Vec::new() };
    let mut findings = v.findings.clone();
    let scan = match cfg.mode {
        Mode::Scan => {
            let (report, leaks) = crate::scan::run(&cfg.scan, m, vals)?;
            findings.extend(leaks);
            Some(report)
        }
        _ => None,
    };
    Ok(Checked { findings, probes, scan })
}

/// What the report says about the run itself.
fn facts(cfg: &Config, environment: String, manifest: String) -> assemble::Facts {
    assemble::Facts {
        mode: cfg.mode,
        fail_on: cfg.fail_on,
        environment,
        manifest,
        selection: cfg.selection.as_ref().map(|s| s.patterns.clone()),
        generated_at: crate::util::rfc3339(cfg.runner.now),
        run: RunInfo::of(&cfg.runner),
    }
}
