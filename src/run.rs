//! One run, one direction: inputs → manifest → values → validation →
//! desired state per target → plan → apply → report.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use secrecy::SecretString;

use crate::actions::{self, Level, Location};
use crate::config::{Config, Mode, Style};
use crate::github::GitHub;
use crate::manifest::{self, Manifest, ManifestError};
use crate::report::{
    markdown, Counts, Outcome, Report, RunInfo, SecretState, SecretStatus, Status, TargetReport, TargetStatus, Tool,
};
use crate::targets::{self, Action};
use crate::validate::{self, Severity};
use crate::values::{self, Origin, SecretValues};

/// Exit codes (documented in the README).
pub mod exit {
    pub const OK: i32 = 0;
    pub const SYNC_FAILED: i32 = 1;
    pub const VALIDATION_FAILED: i32 = 2;
    pub const USAGE: i32 = 3;
}

/// A problem with how the tool was called: bad inputs, unreadable files.
#[derive(Debug)]
pub struct UsageError(pub String);

/// Prints a usage error the way the context expects and returns its exit code.
pub fn usage_error(style: Style, msg: &str) -> i32 {
    match style {
        Style::Actions => println!("{}", actions::annotation(Level::Error, None, "secret-sync", msg)),
        Style::Terminal => eprintln!("error: {msg}"),
    }
    exit::USAGE
}

/// Runs validate / plan / sync and returns the exit code.
pub fn run(cfg: &Config) -> i32 {
    // Values and the manifest are read before anything is printed, so the
    // masks below are the first lines the runner sees.
    let mut vals = match read_values(cfg) {
        Ok(v) => v,
        Err(UsageError(msg)) => return usage_error(cfg.style, &msg),
    };
    let display = display_path(&cfg.manifest);
    let loaded = manifest::load(&cfg.manifest, &display);
    if let Ok(m) = &loaded {
        vals.extend(values::from_environment(m.secrets.iter().filter_map(|s| s.from_env.as_deref())));
    }
    if cfg.style == Style::Actions {
        for line in vals.mask_lines() {
            println!("{line}");
        }
        let t = &cfg.targets;
        for t in t.esc_token.iter().chain(t.fly_token.iter()).chain(t.github_token.iter()) {
            for line in actions::mask_lines(t) {
                println!("{line}");
            }
        }
    }
    tracing::debug!(values = vals.len(), "secret values read");
    #[cfg(debug_assertions)]
    test_panic(&vals);

    let m = match loaded {
        Ok(m) => m,
        Err(ManifestError::Unreadable(msg)) => return usage_error(cfg.style, &msg),
        Err(ManifestError::Invalid(diags)) => return manifest_invalid(cfg, &display, diags),
    };
    let env = match pick_environment(&m, cfg.environment.as_deref()) {
        Ok(e) => e,
        Err(UsageError(msg)) => return usage_error(cfg.style, &msg),
    };

    let v = validate::validate(&m, &env, &vals);
    let (desired, skipped) = targets::desired(&m, &env, &v.resolved);

    let rt = runtime();
    let gh = github_client(cfg, &rt);
    let assessed = github_metadata(cfg, &rt, gh.as_deref(), &m, &env, &v.resolved, &vals);
    let (github, source_updated) = (assessed.report, assessed.source_updated);
    let mut findings = v.findings.clone();
    findings.extend(assessed.findings);
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.line.cmp(&b.line)).then(a.secret.cmp(&b.secret)));

    let mut counts = Counts { secrets_declared: m.secrets.len(), ..Counts::default() };
    counts.count_findings(&findings);
    let mut secrets = Vec::new();
    for r in &v.resolved {
        let state = match (r.value.is_some(), r.usable, r.required) {
            (true, true, _) => SecretState::Ok,
            (true, false, _) => SecretState::Invalid,
            (false, _, true) => SecretState::Missing,
            (false, _, false) => SecretState::NotSet,
        };
        counts.secrets_required += usize::from(r.required);
        counts.secrets_present += usize::from(r.value.is_some());
        counts.secrets_missing += usize::from(state == SecretState::Missing);
        let destinations = r
            .secret
            .routes
            .iter()
            .filter(|x| m.target(x.kind, &x.target).is_some_and(|t| t.environment == env))
            .map(|x| format!("{}:{}", x.kind, x.target))
            .collect();
        secrets.push(SecretStatus {
            name: r.secret.name.clone(),
            group: r.secret.group.clone(),
            state,
            required: r.required,
            source: r.source.clone(),
            rotate_every: m.rotation_period(r.secret),
            destinations,
        });
    }

    // Values that fail validation hold every write back; rotation findings
    // only decide the exit code.
    let values_failing = v.findings.iter().any(|f| cfg.fail_on.fails(f.severity));
    let failing = findings.iter().filter(|f| cfg.fail_on.fails(f.severity)).count();
    let in_scope = desired.len();
    let outcomes = if cfg.mode == Mode::Validate {
        desired
            .into_iter()
            .map(|d| (d, targets::Outcome { status: Some(TargetStatus::NotContacted), ..targets::Outcome::default() }))
            .collect()
    } else {
        let ctx = context(cfg, &m, values_failing, gh.clone(), source_updated);
        rt.block_on(targets::run_all(Arc::new(ctx), desired))
    };
    let mut target_reports = Vec::new();
    for (d, o) in outcomes {
        let t = &d.target;
        for c in &o.changes {
            match c.action {
                Action::Create => counts.creates += 1,
                Action::Update => counts.updates += 1,
                Action::Delete => counts.deletes += 1,
                Action::Unchanged => counts.unchanged += 1,
                Action::Unverified => counts.unverified += 1,
            }
        }
        target_reports.push(TargetReport {
            id: t.id(),
            kind: t.kind,
            name: t.name.clone(),
            destination: t.destination(),
            environment: t.environment.clone(),
            status: o.status.unwrap_or(TargetStatus::Failed),
            keys: d.keys.len(),
            held_back: d.held_back.clone(),
            changes: o.changes,
            written: o.written,
            revision_before: o.revision_before,
            revision_after: o.revision_after,
            rollback: o.rollback,
            warnings: o.warnings,
            unrouted: o.unrouted,
            message: o.message,
        });
    }
    for t in &skipped {
        target_reports.push(TargetReport {
            id: t.id(),
            kind: t.kind,
            name: t.name.clone(),
            destination: t.destination(),
            environment: t.environment.clone(),
            status: TargetStatus::Skipped,
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
        });
    }
    counts.targets_in_scope = in_scope;
    counts.targets_skipped = skipped.len();
    counts.targets_failed = target_reports.iter().filter(|t| t.status == TargetStatus::Failed).count();

    let (status, exit_code, message) = if failing > 0 {
        (
            Status::ValidationFailed,
            exit::VALIDATION_FAILED,
            format!(
                "**Validation failed**: {failing} finding(s) at or above `fail-on: {}`.{} Fix the secrets listed below, then re-run.",
                cfg.fail_on.as_str(),
                if cfg.mode == Mode::Sync && values_failing { " Nothing was written." } else { "" }
            ),
        )
    } else if counts.targets_failed > 0 {
        (
            Status::SyncFailed,
            exit::SYNC_FAILED,
            format!("**{} target(s) failed**; the others completed.", counts.targets_failed),
        )
    } else {
        (Status::Ok, exit::OK, ok_message(cfg.mode, &counts))
    };

    let report = Report {
        report_version: crate::report::REPORT_VERSION,
        tool: Tool::default(),
        generated_at: crate::util::now_rfc3339(),
        run: RunInfo::from_env(),
        mode: cfg.mode,
        environment: env.clone(),
        manifest: display.clone(),
        outcome: Outcome { status, exit_code, fail_on: cfg.fail_on, message },
        counts,
        manifest_errors: Vec::new(),
        findings,
        secrets,
        targets: target_reports,
        github,
    };
    if cfg.style == Style::Actions {
        for f in &report.findings {
            let level = match f.severity {
                Severity::Error => Level::Error,
                Severity::Warning => Level::Warning,
                Severity::Notice => Level::Notice,
            };
            let loc = validate::finding_pos(f).map(|p| Location { file: display.clone(), line: p.line, col: p.col });
            println!("{}", actions::annotation(level, loc.as_ref(), f.kind.title(), &f.message));
        }
    }
    publish(cfg, &report)
}

/// The settings targets share, from the configuration and the runner's
/// environment.
fn context(
    cfg: &Config,
    m: &Manifest,
    hold_writes: bool,
    gh: Option<Arc<GitHub>>,
    source_updated: HashMap<String, i64>,
) -> targets::Context {
    use crate::targets::esc::auth::{Auth, Source};
    let t = &cfg.targets;
    let esc_base = t.esc_api_url.clone().unwrap_or_else(|| targets::esc::DEFAULT_API.to_string());
    let source = match (
        &t.esc_token,
        std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL"),
        std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) {
        (Some(tok), _, _) => Source::Token(tok.clone()),
        (None, Ok(url), Ok(tok)) if !url.is_empty() && !tok.is_empty() => {
            Source::Oidc { request_url: url, request_token: SecretString::from(tok) }
        }
        _ => Source::None,
    };
    let style = cfg.style;
    let mask = move |s: &SecretString| {
        if style == Style::Actions {
            for line in actions::mask_lines(s) {
                println!("{line}");
            }
        }
    };
    targets::Context {
        mode: cfg.mode,
        http: crate::http::Http::new(
            crate::http::Policy::from_env(),
            &["X-Pulumi-Request-ID", "fly-request-id", "x-github-request-id"],
        ),
        prune: t.prune,
        max_deletes: t.max_deletes,
        esc: targets::esc::Settings { base_url: esc_base.clone(), auth: Auth::new(source, esc_base, Box::new(mask)) },
        fly: targets::fly::Settings {
            flaps_url: env_or("FLY_FLAPS_BASE_URL", targets::fly::DEFAULT_FLAPS),
            token: t.fly_token.clone(),
            owned_keys: owned_keys(m, crate::manifest::TargetKind::Fly),
        },
        fly_concurrency: t.fly_concurrency,
        github: targets::github::Settings {
            client: gh,
            source_updated,
            owned_keys: owned_keys(m, crate::manifest::TargetKind::Github),
        },
        hold_writes,
    }
}

/// Key names the manifest routes to targets of `kind`, anywhere.
fn owned_keys(m: &Manifest, kind: crate::manifest::TargetKind) -> Vec<String> {
    m.secrets.iter().flat_map(|s| s.routes.iter()).filter(|r| r.kind == kind).map(|r| r.key.clone()).collect()
}

/// The GitHub client, when there is a token (`GITHUB_API_URL` as the runner
/// sets it, so GitHub Enterprise Server works).
fn github_client(cfg: &Config, rt: &tokio::runtime::Runtime) -> Option<Arc<GitHub>> {
    let token = cfg.targets.github_token.as_ref()?;
    // octocrab's client spawns a worker task when it is built.
    let _inside = rt.enter();
    let api = env_or("GITHUB_API_URL", crate::github::DEFAULT_API);
    GitHub::new(&api, token, crate::http::Policy::from_env()).ok().map(Arc::new)
}

/// Rotation and drift from GitHub's metadata, when there is a token and an
/// org (the `github-org` input, else the repository's owner).
fn github_metadata(
    cfg: &Config,
    rt: &tokio::runtime::Runtime,
    gh: Option<&GitHub>,
    m: &Manifest,
    env: &str,
    resolved: &[validate::Resolved],
    vals: &SecretValues,
) -> crate::github::assess::Assessment {
    let repo = std::env::var("GITHUB_REPOSITORY").ok().filter(|r| r.contains('/'));
    let org = cfg
        .targets
        .github_org
        .clone()
        .or_else(|| std::env::var("GITHUB_REPOSITORY_OWNER").ok().filter(|o| !o.is_empty()))
        .or_else(|| repo.as_ref().and_then(|r| r.split('/').next().map(str::to_string)));
    match (gh, org) {
        (Some(gh), Some(org)) => {
            rt.block_on(crate::github::assess::assess(gh, &org, repo.as_deref(), m, env, resolved, vals))
        }
        _ => crate::github::assess::Assessment::default(),
    }
}

/// A base URL from the variable the official tool reads, else its default.
fn env_or(var: &str, default: &str) -> String {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_string())
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

fn ok_message(mode: Mode, c: &Counts) -> String {
    let present = format!(
        "{} of {} required secrets present and valid",
        c.secrets_required - c.secrets_missing,
        c.secrets_required
    );
    match mode {
        Mode::Validate => format!("**Valid**: {present}."),
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

/// Report for a manifest that could not be parsed or checked.
fn manifest_invalid(cfg: &Config, display: &str, diags: Vec<crate::diag::Diagnostic>) -> i32 {
    for d in &diags {
        match cfg.style {
            Style::Actions => println!("{}", d.annotation()),
            Style::Terminal => eprintln!("{}", d.terminal()),
        }
    }
    let n = diags.len();
    let report = Report {
        report_version: crate::report::REPORT_VERSION,
        tool: Tool::default(),
        generated_at: crate::util::now_rfc3339(),
        run: RunInfo::from_env(),
        mode: cfg.mode,
        environment: cfg.environment.clone().unwrap_or_default(),
        manifest: display.to_string(),
        outcome: Outcome {
            status: Status::ManifestInvalid,
            exit_code: exit::VALIDATION_FAILED,
            fail_on: cfg.fail_on,
            message: format!(
                "**The manifest `{display}` has {n} error(s)**; nothing was validated or synced. Fix them and re-run."
            ),
        },
        counts: Counts::default(),
        manifest_errors: diags,
        findings: Vec::new(),
        secrets: Vec::new(),
        targets: Vec::new(),
        github: None,
    };
    publish(cfg, &report)
}

/// Writes the report everywhere it goes and returns its exit code.
fn publish(cfg: &Config, report: &Report) -> i32 {
    let mut code = report.outcome.exit_code;
    let md = markdown::render(report, markdown::SUMMARY_LIMIT);
    let mut problems = Vec::new();
    if let Some(p) = &cfg.report_path {
        let json = serde_json::to_string_pretty(report).expect("the report serialises");
        if let Err(e) = std::fs::write(p, json + "\n") {
            problems.push(format!("could not write the report to {}: {}", p.display(), crate::util::io_reason(&e)));
        }
    }
    match (cfg.style, &cfg.summary_path) {
        (Style::Actions, Some(p)) => {
            if let Err(e) = actions::append_summary(p, &md) {
                problems.push(format!("{e:#}"));
            }
        }
        _ => print!("{md}"),
    }
    let artifact_id = upload_artifact(cfg, report, &md);
    if let Some(p) = &cfg.output_path {
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
            ("report-path", cfg.report_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default()),
            ("artifact-id", artifact_id.unwrap_or_default()),
        ];
        if let Err(e) = actions::write_outputs(p, &outputs) {
            problems.push(format!("{e:#}"));
        }
    }
    for p in problems {
        usage_error(cfg.style, &p);
        code = code.max(exit::SYNC_FAILED);
    }
    code
}

/// Uploads the JSON report and the summary as one artifact, if asked to and
/// possible. A refusal is a warning: the report is on disk either way.
fn upload_artifact(cfg: &Config, report: &Report, md: &str) -> Option<String> {
    use crate::config::ArtifactMode;
    let runtime = match (cfg.artifact, crate::artifact::Runtime::from_env()) {
        (ArtifactMode::Off, _) | (ArtifactMode::Auto, None) => return None,
        (ArtifactMode::On, None) => {
            warn(cfg.style, "artifact", "`upload-artifact: true` but the runner gave no artifact service (ACTIONS_RUNTIME_TOKEN); the report was not uploaded");
            return None;
        }
        (_, Some(r)) => r,
    };
    let json = serde_json::to_string_pretty(report).expect("the report serialises") + "\n";
    let files: [(&str, &[u8]); 2] =
        [("secret-sync-report.json", json.as_bytes()), ("secret-sync-summary.md", md.as_bytes())];
    let http = crate::http::Http::new(crate::http::Policy::from_env(), &["x-github-request-id"]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    match rt.block_on(crate::artifact::upload(&http, &runtime, &cfg.artifact_name, &files)) {
        Ok(id) => Some(id),
        Err(e) => {
            warn(
                cfg.style,
                "artifact",
                &format!("the report could not be uploaded as an artifact ({e}); it is still at the report path"),
            );
            None
        }
    }
}

fn warn(style: Style, title: &str, msg: &str) {
    match style {
        Style::Actions => {
            println!("{}", actions::annotation(Level::Warning, None, &format!("secret-sync {title}"), msg))
        }
        Style::Terminal => eprintln!("warning: {msg}"),
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

/// The `secrets` input and any `--secrets-file`s, in that order.
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
        let bytes = if shown == "-" {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map_err(|e| {
                UsageError(format!("cannot read secrets from standard input: {}", crate::util::io_reason(&e)))
            })?;
            buf
        } else {
            std::fs::read(path).map_err(|e| {
                UsageError(format!("cannot read the secrets file `{shown}`: {}", crate::util::io_reason(&e)))
            })?
        };
        let is_json = path.extension().is_some_and(|e| e == "json")
            || (shown == "-" && bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'));
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
pub fn check_manifest(path: &Path, style: Style) -> i32 {
    let display = display_path(path);
    match manifest::load(path, &display) {
        Ok(m) => {
            let routes: usize = m.secrets.iter().map(|s| s.routes.len()).sum();
            println!(
                "{display}: ok — {} secrets, {} environments, {} targets, {} routes",
                m.secrets.len(),
                m.environments.len(),
                m.targets.len(),
                routes
            );
            exit::OK
        }
        Err(ManifestError::Unreadable(msg)) => usage_error(style, &msg),
        Err(ManifestError::Invalid(diags)) => {
            for d in &diags {
                match style {
                    Style::Actions => println!("{}", d.annotation()),
                    Style::Terminal => eprintln!("{}", d.terminal()),
                }
            }
            eprintln!("{display}: {} error(s)", diags.len());
            exit::VALIDATION_FAILED
        }
    }
}
