//! The settings targets share, built once from the configuration and the
//! runner's environment, and GitHub's metadata read beside the targets.

use std::sync::Arc;

use secrecy::SecretString;

use crate::config::{Config, Mode};
use crate::github::GitHub;
use crate::manifest::Manifest;
use crate::output::Printer;
use crate::targets;
use crate::validate;
use crate::values::SecretValues;

/// The settings targets share, from the configuration and the runner's
/// environment.
pub(super) fn context(cfg: &Config, hold_writes: bool, ledger: targets::ledger::Ledger) -> targets::Context {
    let t = &cfg.targets;
    targets::Context {
        sync: cfg.mode == Mode::Sync,
        http: crate::http::Http::new(cfg.runner.http.clone(), targets::REQUEST_IDS),
        prune: t.prune,
        max_deletes: t.max_deletes,
        hold_writes,
        ledger,
    }
}

/// Every target kind, set up for this run from its inputs (credentials
/// found are masked before anything prints).
pub(super) fn kinds(cfg: &Config, m: &Manifest, github: targets::github::Settings) -> Vec<Arc<dyn targets::Driven>> {
    let printer = Printer::new(cfg.out.style);
    let mask: Arc<dyn Fn(&SecretString) + Send + Sync> =
        Arc::new(move |s: &SecretString| printer.masks(std::iter::empty(), [s]));
    targets::kinds(&targets::Setup {
        inputs: &cfg.targets.kinds,
        manifest: m,
        http: cfg.runner.http.clone(),
        clock: cfg.runner.clock.clone(),
        id_token_request: cfg.runner.id_token_request.clone(),
        mask,
        github,
    })
}

/// What GitHub targets share: the client (and its scheduler), the sources'
/// ages, and the token's write budget, said where the run's output goes.
pub(super) fn github_settings(
    cfg: &Config,
    client: Option<Arc<GitHub>>,
    source_updated: targets::github::SourceAges,
    targets: usize,
    sends: bool,
) -> targets::github::Settings {
    let pace = client.as_ref().map(|g| g.scheduler().pace()).unwrap_or_default();
    let printer = Printer::new(cfg.out.style);
    let announce = Box::new(move |over: bool, text: &str| match over {
        true => printer.warning("GitHub budget", text),
        false => printer.notice("GitHub budget", text),
    });
    let budget = Arc::new(targets::github::budget::Budget::new(targets, pace, sends, announce));
    targets::github::Settings { client, source_updated, budget }
}

/// The GitHub client, when there is a token (`GITHUB_API_URL` as the runner
/// sets it, so GitHub Enterprise Server works): one scheduler for the token,
/// shared by the metadata read and every GitHub target, paced as the
/// manifest's defaults say.
pub(super) fn github_client(cfg: &Config, m: &Manifest) -> Option<Arc<GitHub>> {
    let token = cfg.targets.github_token.as_ref()?;
    let pace = crate::github::Pace {
        write_interval: m.defaults.github_write_interval,
        rate_limit_wait: m.defaults.github_rate_limit_wait,
    };
    let sched = Arc::new(crate::github::Scheduler::new(cfg.runner.clock.clone(), pace));
    GitHub::new(&cfg.runner.github_api, token, cfg.runner.http.clone(), sched).ok().map(Arc::new)
}

/// Rotation and drift from GitHub's metadata, when there is a token and an
/// org (the `github-org` input, else the repository's owner).
pub(super) async fn github_metadata(
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

pub(super) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the async runtime starts")
}

/// Whether this job reads GitHub's org metadata. Rotation and drift concern
/// secrets, not targets, and are the same in every shard of a matrix, so one
/// shard reads them for all (`merge-reports` takes them from it): the shard
/// whose `targets` select the environment's first target, which exactly one
/// shard handles. A shard with GitHub targets reads them too, for the
/// sources' ages. Without `targets` (one job), and in `validate` and `scan`,
/// the metadata is always read.
pub(super) fn reads_metadata(cfg: &Config, desired: &[targets::Desired]) -> bool {
    let Some(sel) = cfg.selection.as_ref().filter(|_| matches!(cfg.mode, Mode::Plan | Mode::Sync)) else {
        return true;
    };
    let selected = |d: &targets::Desired| sel.selects(&d.target.id());
    desired.first().is_none_or(selected)
        || desired.iter().any(|d| d.target.kind == targets::github::KIND && selected(d))
}
