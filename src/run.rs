//! One run, one direction: inputs → manifest → values → validation →
//! desired state per target → plan → apply → report.

use std::path::Path;
use std::sync::Arc;

use secrecy::SecretString;

use crate::actions;
mod memory;
mod record;
use crate::config::{Config, Mode, Publish, Style};
use crate::exit::Exit;
use crate::github::GitHub;
use crate::manifest::{self, Manifest, ManifestError, TargetKind};
use crate::output::Printer;
use crate::plan::{TargetOutcome, TargetStatus};
use crate::report::{assemble, markdown, Report, RunInfo};
use crate::targets;
use crate::validate;
use crate::values::{self, Origin, SecretValues};

/// A problem with how the tool was called: bad inputs, unreadable files.
#[derive(Debug)]
pub struct UsageError(pub String);

/// Prints a usage error the way the context expects and returns its exit code.
pub fn usage_error(style: Style, msg: &str) -> Exit {
    Printer::new(style).usage_error(msg)
}

/// Runs validate / plan / sync and returns the exit code.
pub fn run(cfg: &Config) -> Exit {
    memory::one_heap();
    let out = Printer::new(cfg.out.style);
    let display = display_path(&cfg.manifest);
    let (vals, loaded) = match read_inputs(cfg, &display) {
        Ok(x) => x,
        Err(msg) => return out.usage_error(&msg),
    };
    // The masks are the first lines the runner sees.
    out.masks(vals.mask_lines(), cfg.targets.tokens().chain(cfg.state.secrets()));
    #[cfg(debug_assertions)]
    test_panic(&vals);
    let m = match loaded {
        Ok(m) => m,
        Err(ManifestError::Unreadable(msg)) => return out.usage_error(&msg),
        Err(ManifestError::Invalid(diags)) => {
            out.diagnostics(&diags);
            let env = cfg.environment.clone().unwrap_or_default();
            return publish(&cfg.out, &assemble::manifest_invalid(facts(cfg, env, display), diags));
        }
    };
    let env = match pick_environment(&m, cfg.environment.as_deref()).and_then(|e| check_selection(cfg, &m).map(|_| e)) {
        Ok(e) => e,
        Err(UsageError(msg)) => return out.usage_error(&msg),
    };
    let state_key = match cfg.state.state_key("the state key (`state-key`, `SECRET_SYNC_STATE_KEY`)") {
        Ok(k) => k,
        Err(msg) => return out.usage_error(&msg),
    };
    let rt = runtime();
    let mut v = validate::validate(&m, &env, &vals);
    let gh = github_client(cfg, &rt);
    let checked = match checks(cfg, &rt, &m, &mut v, &vals) {
        Ok(c) => c,
        Err(msg) => return out.usage_error(&msg),
    };
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
    let inputs = Contact { cfg, out: &out, m: &m, env: &env, display: &display, gh, vals: &vals, state_key, metadata };
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
    let report = assemble::report(facts(cfg, env, display), &m, &v.resolved, results);
    out.annotations(report.scan.iter().flat_map(crate::scan::annotations));
    out.findings(&report.findings, &report.manifest);
    publish(&cfg.out, &report)
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

/// Whether this job reads GitHub's org metadata. Rotation and drift concern
/// secrets, not targets, and are the same in every shard of a matrix, so one
/// shard reads them for all (`merge-reports` takes them from it): the shard
/// whose `targets` select the environment's first target, which exactly one
/// shard handles. A shard with GitHub targets reads them too, for the
/// sources' ages. Without `targets` (one job), and in `validate` and `scan`,
/// the metadata is always read.
fn reads_metadata(cfg: &Config, desired: &[targets::Desired]) -> bool {
    let Some(sel) = cfg.selection.as_ref().filter(|_| matches!(cfg.mode, Mode::Plan | Mode::Sync)) else {
        return true;
    };
    let selected = |d: &targets::Desired| sel.selects(&d.target.id());
    desired.first().is_none_or(selected) || desired.iter().any(|d| d.target.kind == TargetKind::Github && selected(d))
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
    // Only Fly and GitHub targets have a record: without one, none is read.
    let recorded = desired.iter().any(|d| matches!(d.target.kind, TargetKind::Fly | TargetKind::Github));
    let kept = recorded.then(|| record::Kept::new(cfg, c.display, c.env, c.state_key));
    let run_targets = async {
        // The record is read once, before any target is planned (the
        // GitHub metadata read goes on meanwhile).
        let ledger = match &kept {
            Some(k) => k.read().await,
            None => targets::ledger::Ledger::off("no Fly or GitHub target"),
        };
        let ctx = Arc::new(context(cfg, c.m, values_failing, c.gh.clone(), ages_rx, ledger));
        let outcomes = targets::run_all(ctx.clone(), desired).await;
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

/// The values and the manifest, read before anything is printed.
fn read_inputs(cfg: &Config, display: &str) -> Result<(SecretValues, Result<Manifest, ManifestError>), String> {
    let mut vals = read_values(cfg).map_err(|UsageError(msg)| msg)?;
    let loaded = manifest::load(&cfg.manifest, display);
    if let Ok(m) = &loaded {
        vals.extend(values::from_environment(m.secrets.iter().filter_map(|s| s.from_env.as_deref()))?);
    }
    tracing::debug!(values = vals.len(), "secret values read");
    Ok((vals, loaded))
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
    let probes = if cfg.probe { crate::probe::run(rt, m, v)? } else { Vec::new() };
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

/// Every `targets` pattern must match a target of the manifest.
fn check_selection(cfg: &Config, m: &Manifest) -> Result<(), UsageError> {
    let Some(sel) = &cfg.selection else { return Ok(()) };
    let ids: Vec<String> = m.targets.iter().map(|t| t.id()).collect();
    sel.check(ids.iter().map(String::as_str)).map_err(UsageError)
}

/// The settings targets share, from the configuration and the runner's
/// environment.
fn context(
    cfg: &Config,
    m: &Manifest,
    hold_writes: bool,
    gh: Option<Arc<GitHub>>,
    source_updated: targets::github::SourceAges,
    ledger: targets::ledger::Ledger,
) -> targets::Context {
    use crate::targets::esc::auth::{Auth, Source};
    let t = &cfg.targets;
    let esc_base = t.esc_api_url.clone().unwrap_or_else(|| targets::esc::DEFAULT_API.to_string());
    let source = match (&t.esc_token, &cfg.runner.id_token_request) {
        (Some(tok), _) => Source::Token(tok.clone()),
        (None, Some((url, tok))) => Source::Oidc { request_url: url.clone(), request_token: tok.clone() },
        _ => Source::None,
    };
    let printer = Printer::new(cfg.out.style);
    let mask = move |s: &SecretString| printer.masks(std::iter::empty(), [s]);
    // The kubeconfig is read only when a Kubernetes target may need it.
    let kubernetes = if m.targets.iter().any(|t| t.kind == crate::manifest::TargetKind::Kubernetes) {
        targets::kubernetes::Settings::load(t.kubeconfig.as_ref(), cfg.runner.http.clone(), t.rollout_timeout, &mask)
    } else {
        targets::kubernetes::Settings::none()
    };
    targets::Context {
        kubernetes,
        sync: cfg.mode == Mode::Sync,
        http: crate::http::Http::new(
            cfg.runner.http.clone(),
            &["X-Pulumi-Request-ID", "fly-request-id", "x-github-request-id"],
        ),
        prune: t.prune,
        max_deletes: t.max_deletes,
        esc: targets::esc::Settings {
            base_url: esc_base.clone(),
            auth: Auth::new(source, esc_base, Box::new(move |s: &SecretString| mask(s))),
        },
        fly: targets::fly::Settings {
            flaps_url: cfg.runner.fly_flaps.clone(),
            pacer: Default::default(),
            token: t.fly_token.clone(),
        },
        concurrency: t.concurrency,
        github: targets::github::Settings { client: gh, source_updated },
        hold_writes,
        ledger,
    }
}

/// The GitHub client, when there is a token (`GITHUB_API_URL` as the runner
/// sets it, so GitHub Enterprise Server works).
fn github_client(cfg: &Config, rt: &tokio::runtime::Runtime) -> Option<Arc<GitHub>> {
    let token = cfg.targets.github_token.as_ref()?;
    // octocrab's client spawns a worker task when it is built.
    let _inside = rt.enter();
    GitHub::new(&cfg.runner.github_api, token, cfg.runner.http.clone()).ok().map(Arc::new)
}

/// Rotation and drift from GitHub's metadata, when there is a token and an
/// org (the `github-org` input, else the repository's owner).
async fn github_metadata(
    cfg: &Config,
    gh: Option<&GitHub>,
    m: &Manifest,
    env: &str,
    resolved: &[validate::Resolved<'_>],
    vals: &SecretValues,
) -> crate::rotation::Assessment {
    let repo = cfg.runner.repository.as_deref();
    match (gh, cfg.runner.org(cfg.targets.github_org.as_deref())) {
        (Some(gh), Some(org)) => {
            let read = crate::github::inventory::Inventory::read(gh, &org, repo).await;
            crate::rotation::assess(read, &org, m, env, resolved, vals, cfg.runner.now)
        }
        _ => crate::rotation::Assessment::default(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the async runtime starts")
}

/// Debug builds only: `SECRET_SYNC_TEST_PANIC=NAME` panics with that secret's
/// value in the message, so the tests can prove the panic hook withholds it.
#[cfg(debug_assertions)]
fn test_panic(vals: &SecretValues) {
    if let Ok(name) = std::env::var("SECRET_SYNC_TEST_PANIC") {
        if let Some((_, v)) = vals.get(&name) {
            panic!("test panic carrying {}", values::expose(&v.secret));
        }
    }
}

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

/// The environment to act on: the one asked for, or the only one declared.
fn pick_environment(m: &Manifest, asked: Option<&str>) -> Result<String, UsageError> {
    let names = m.environment_names();
    match asked {
        Some(e) if names.contains(&e) => Ok(e.to_string()),
        Some(e) => {
            let hint = manifest::suggest::hint(e, names.iter().copied());
            Err(UsageError(format!(
                "environment `{e}` is not declared in the manifest (declared: {}){hint}",
                names.join(", ")
            )))
        }
        None if names.len() == 1 => Ok(names[0].to_string()),
        None => Err(UsageError(format!(
            "choose an environment with the `environment` input or `--environment`: one of {}",
            names.join(", ")
        ))),
    }
}

/// The `secrets` input and any secrets files, in that order.
fn read_values(cfg: &Config) -> Result<SecretValues, UsageError> {
    use secrecy::ExposeSecret;
    let mut vals = SecretValues::default();
    if let Some(json) = &cfg.secrets_json {
        let v = SecretValues::from_json(json.expose_secret().as_bytes(), "input `secrets`", Origin::SecretsInput)
            .map_err(|e| UsageError(format!("{e}; pass `${{{{ toJSON(secrets) }}}}`")))?;
        vals.extend(v);
    }
    for path in &cfg.secrets_files {
        let shown = path.display().to_string();
        let limit = crate::input::MAX_SECRETS_BYTES;
        let bytes = if shown == "-" {
            crate::input::read_stdin("standard input", limit)
        } else {
            crate::input::read_file(path, &format!("the secrets file `{shown}`"), limit)
        }
        .map_err(UsageError)?;
        if cfg.consume_secrets_files && shown != "-" {
            // Once read, the values need not stay on disk for later steps.
            if let Err(e) = std::fs::remove_file(path) {
                Printer::new(cfg.out.style).warning(
                    "secrets file",
                    &format!(
                        "could not delete the secrets file `{shown}` after reading it: {}",
                        crate::util::io_reason(&e)
                    ),
                );
            }
        }
        // JSON whatever the file is called: a .env line cannot start with `{`.
        let body = crate::input::strip_bom(&bytes);
        let is_json = path.extension().is_some_and(|e| e == "json")
            || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let parsed = if is_json {
            SecretValues::from_json(&bytes, &shown, Origin::SecretsFile)
        } else {
            SecretValues::from_dotenv(&bytes, &shown, Origin::SecretsFile)
        };
        vals.extend(parsed.map_err(|e| UsageError(e.to_string()))?);
    }
    Ok(vals)
}

fn display_path(p: &Path) -> String {
    let s = p.display().to_string();
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

/// `check-manifest`: the manifest alone.
pub fn check_manifest(path: &Path, style: Style) -> Exit {
    let display = display_path(path);
    match manifest::load(path, &display) {
        Ok(m) => {
            let routes: usize = m.secrets.iter().map(|s| s.routes.len()).sum();
            println!(
                "{}: ok — {} secrets, {} environments, {} targets, {} routes",
                crate::escape::terminal(&display),
                m.secrets.len(),
                m.environments.len(),
                m.targets.len(),
                routes
            );
            Exit::Ok
        }
        Err(ManifestError::Unreadable(msg)) => usage_error(style, &msg),
        Err(ManifestError::Invalid(diags)) => {
            for d in &diags {
                match style {
                    Style::Actions => println!("{}", d.annotation()),
                    Style::Terminal => eprintln!("{}", d.terminal()),
                }
            }
            eprintln!("{}: {} error(s)", crate::escape::terminal(&display), diags.len());
            Exit::ValidationFailed
        }
    }
}
