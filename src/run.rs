//! One run, one direction: inputs → manifest → values → validation →
//! desired state per target → plan → apply → report.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use secrecy::SecretString;

use crate::actions;
use crate::config::{Config, Mode, Publish, Style};
use crate::exit::Exit;
use crate::github::GitHub;
use crate::manifest::{self, Manifest, ManifestError};
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
    let out = Printer::new(cfg.out.style);
    // Values and the manifest are read before anything is printed, so the
    // masks are the first lines the runner sees.
    let mut vals = match read_values(cfg) {
        Ok(v) => v,
        Err(UsageError(msg)) => return out.usage_error(&msg),
    };
    let display = display_path(&cfg.manifest);
    let loaded = manifest::load(&cfg.manifest, &display);
    if let Ok(m) = &loaded {
        vals.extend(values::from_environment(m.secrets.iter().filter_map(|s| s.from_env.as_deref())));
    }
    out.masks(vals.mask_lines(), cfg.targets.tokens());
    tracing::debug!(values = vals.len(), "secret values read");
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
    let v = validate::validate(&m, &env, &vals);
    let (desired, skipped) = targets::desired(&m, &env, &v.resolved);
    // Targets another job of a matrix handles (`targets` input).
    let (desired, not_selected): (Vec<_>, Vec<_>) =
        desired.into_iter().partition(|d| cfg.selection.as_ref().is_none_or(|s| s.selects(&d.target.id())));

    let rt = runtime();
    let gh = github_client(cfg, &rt);
    let assessed = github_metadata(cfg, &rt, gh.as_deref(), &m, &env, &v.resolved, &vals);
    // Values that fail validation hold every write back; rotation findings
    // only decide the exit code.
    let values_failing = v.findings.iter().any(|f| cfg.fail_on.fails(f.severity));
    let outcomes = if cfg.mode == Mode::Validate {
        let none = || TargetOutcome { status: Some(TargetStatus::NotContacted), ..TargetOutcome::default() };
        desired.into_iter().map(|d| (d, none())).collect()
    } else {
        let ctx = context(cfg, &m, values_failing, gh.clone(), assessed.source_updated);
        rt.block_on(targets::run_all(Arc::new(ctx), desired))
    };
    let handled = outcomes.iter().map(|(d, o)| assemble::Handled {
        target: &d.target,
        keys: d.keys.len(),
        held_back: d.held_back.clone(),
        outcome: o.clone(),
    });
    let results = assemble::Results {
        findings: v.findings.iter().cloned().chain(assessed.findings).collect(),
        values_failing,
        targets: handled.collect(),
        not_selected: not_selected.iter().map(|d| &d.target).collect(),
        skipped,
        github: assessed.report,
    };
    let report = assemble::report(facts(cfg, env, display), &m, &v.resolved, results);
    out.findings(&report.findings, &report.manifest);
    publish(&cfg.out, &report)
}

/// What the report says about the run itself.
fn facts(cfg: &Config, environment: String, manifest: String) -> assemble::Facts {
    assemble::Facts {
        mode: cfg.mode,
        fail_on: cfg.fail_on,
        environment,
        manifest,
        selection: cfg.selection.as_ref().map(|s| s.patterns.clone()),
        generated_at: crate::util::now_rfc3339(),
        run: RunInfo::from_env(),
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
    let style = cfg.out.style;
    let mask = move |s: &SecretString| {
        if style == Style::Actions {
            for line in actions::mask_lines(s) {
                println!("{line}");
            }
        }
    };
    // The kubeconfig is read only when a Kubernetes target may need it.
    let kubernetes = if m.targets.iter().any(|t| t.kind == crate::manifest::TargetKind::Kubernetes) {
        targets::kubernetes::Settings::load(
            t.kubeconfig.as_ref(),
            crate::http::Policy::from_env(),
            t.rollout_timeout,
            &mask,
        )
    } else {
        targets::kubernetes::Settings::none()
    };
    targets::Context {
        kubernetes,
        mode: cfg.mode,
        http: crate::http::Http::new(
            crate::http::Policy::from_env(),
            &["X-Pulumi-Request-ID", "fly-request-id", "x-github-request-id"],
        ),
        prune: t.prune,
        max_deletes: t.max_deletes,
        esc: targets::esc::Settings {
            base_url: esc_base.clone(),
            auth: Auth::new(source, esc_base, Box::new(move |s: &SecretString| mask(s))),
        },
        fly: targets::fly::Settings {
            api_url: env_or("FLY_API_BASE_URL", targets::fly::DEFAULT_API),
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
) -> crate::rotation::Assessment {
    let repo = std::env::var("GITHUB_REPOSITORY").ok().filter(|r| r.contains('/'));
    let org = cfg
        .targets
        .github_org
        .clone()
        .or_else(|| std::env::var("GITHUB_REPOSITORY_OWNER").ok().filter(|o| !o.is_empty()))
        .or_else(|| repo.as_ref().and_then(|r| r.split('/').next().map(str::to_string)));
    match (gh, org) {
        (Some(gh), Some(org)) => {
            let read = rt.block_on(crate::github::inventory::Inventory::read(gh, &org, repo.as_deref()));
            crate::rotation::assess(read, &org, m, env, resolved, vals, crate::util::now_secs())
        }
        _ => crate::rotation::Assessment::default(),
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
        _ => print!("{md}"),
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
            ("failed", c.targets_failed.to_string()),
            ("report-path", out.report_output.clone().unwrap_or_default()),
            ("artifact-id", artifact_id.unwrap_or_default()),
        ];
        if let Err(e) = actions::write_outputs(p, &outputs) {
            problems.push(format!("{e:#}"));
        }
    }
    for p in problems {
        Printer::new(out.style).usage_error(&p);
        code = code.max(Exit::SyncFailed);
    }
    code
}

/// Uploads the JSON report and the summary as one artifact, if asked to and
/// possible. A refusal is a warning: the report is on disk either way.
fn upload_artifact(out: &Publish, report: &Report, md: &str) -> Option<String> {
    use crate::config::ArtifactMode;
    let runtime = match (out.artifact, crate::artifact::Runtime::from_env()) {
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
    let http = crate::http::Http::new(crate::http::Policy::from_env(), &["x-github-request-id"]);
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
pub fn check_manifest(path: &Path, style: Style) -> Exit {
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
            eprintln!("{display}: {} error(s)", diags.len());
            Exit::ValidationFailed
        }
    }
}
