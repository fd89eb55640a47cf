//! `targets.vercel.<name>`: `project` (id or name; default: the target
//! name), `team` (a `team_…` id or a team slug; default: the token's
//! personal account), `targets` (which environments: `production`,
//! `preview`, `development`; default `[production]`), `branch` (with
//! `targets: [preview]` only), `sensitive` (default true), `redeploy`
//! (default true) and `redeploy_timeout` (default 10m). Rules:
//! docs/service-facts.md, "Vercel".

use std::sync::Arc;
use std::time::Duration;

use crate::manifest::probe::KindProbe;
use crate::manifest::{names, Entry, RouteRule, Section, TargetKind, TargetSpec};

use super::KIND;

/// Vercel's environments a variable can target (a closed enum in the REST
/// reference and the SDK).
pub const ENVIRONMENTS: [&str; 3] = ["production", "preview", "development"];

/// How long a redeploy may take to be `READY` unless the target says.
pub const DEFAULT_REDEPLOY_TIMEOUT: Duration = Duration::from_secs(600);

/// A Vercel project's environment variables for one set of environments.
#[derive(Debug, Clone)]
pub struct Spec {
    pub project: String,
    /// `teamId` when it starts with `team_`, else the team's `slug`.
    pub team: Option<String>,
    /// The environments the variables apply to, in Vercel's order.
    pub environments: Vec<String>,
    /// A preview branch (`gitBranch`).
    pub branch: Option<String>,
    /// Written as `sensitive` (unreadable once saved), else `encrypted`.
    pub sensitive: bool,
    /// Redeploy production after a change (only with `production`).
    pub redeploy: bool,
    pub redeploy_timeout: Duration,
}

impl Spec {
    /// The query that selects the team (`?teamId=` or `?slug=`), or nothing.
    pub fn team_query(&self) -> Option<(&'static str, &str)> {
        self.team.as_deref().map(|t| if t.starts_with("team_") { ("teamId", t) } else { ("slug", t) })
    }

    /// Whether a change here is followed by a redeploy of production.
    pub fn redeploys_production(&self) -> bool {
        self.redeploy && self.environments.iter().any(|e| e == "production")
    }

    /// Whether a variable applies to exactly this target's environments and branch.
    pub fn owns_slot(&self, environments: &[String], branch: Option<&str>) -> bool {
        let mut e = environments.to_vec();
        e.sort_by_key(|x| ENVIRONMENTS.iter().position(|k| k == x));
        e == self.environments && branch == self.branch.as_deref()
    }
}

impl TargetSpec for Spec {
    fn destination(&self) -> String {
        let scope = match &self.team {
            Some(t) => format!("{t}/{}", self.project),
            None => self.project.clone(),
        };
        let branch = self.branch.as_ref().map(|b| format!(", branch {b}")).unwrap_or_default();
        format!("{scope} ({}{branch})", self.environments.join(", "))
    }
}

/// A project id or name: letters, digits, `.`, `_` and `-`, at most 100
/// (Vercel's project name rule; ids are `prj_…`).
fn project(n: &str) -> Result<(), names::Invalid> {
    if n.is_empty() || n.len() > 100 || !n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return Err("is not a Vercel project name or id (at most 100 letters, digits, `.`, `_` and `-`)".into());
    }
    Ok(())
}

/// A team id (`team_…`) or slug.
fn team(n: &str) -> Result<(), names::Invalid> {
    if n.is_empty() || n.len() > 100 || !n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-')) {
        return Err("is not a Vercel team id or slug (letters, digits, `_` and `-`)".into());
    }
    Ok(())
}

/// `targets.vercel`.
pub struct Vercel;

impl Section for Vercel {
    fn kind(&self) -> TargetKind {
        KIND
    }

    fn keys(&self) -> &'static [&'static str] {
        &["environment", "project", "team", "targets", "branch", "sensitive", "redeploy", "redeploy_timeout"]
    }

    fn route(&self) -> RouteRule {
        RouteRule::named("Vercel environment variable name", names::env_var)
    }

    /// `probe: vercel`: who the token belongs to (`GET /v2/user`).
    fn probe(&self) -> Option<&'static KindProbe> {
        Some(&super::probe::PROBE)
    }

    fn parse(&self, e: &mut Entry<'_, '_>) -> Option<crate::manifest::Spec> {
        let what = e.what;
        let project = e.name_or_default("project", "Vercel project", project)?;
        let team = match e.optional("team")? {
            Some((t, pos)) => Some(t).filter(|t| e.check(pos, t, "Vercel team", team)),
            None => None,
        };
        let mut environments: Vec<String> = Vec::new();
        if let Some(n) = e.node("targets") {
            let items = e.w.names(n, &format!("`targets` of {what}"));
            for (item, pos) in items {
                if !ENVIRONMENTS.contains(&item.as_str()) {
                    let hint = crate::manifest::suggest::hint(&item, ENVIRONMENTS);
                    e.err(
                        pos,
                        "invalid value",
                        format!("`{item}` in `targets` of {what} is not a Vercel environment: write `production`, `preview` or `development`{hint}"),
                    );
                    return None;
                }
                if environments.contains(&item) {
                    e.err(pos, "duplicate value", format!("`targets` of {what} lists `{item}` twice"));
                    return None;
                }
                environments.push(item);
            }
        } else {
            environments.push("production".into());
        }
        environments.sort_by_key(|x| ENVIRONMENTS.iter().position(|k| k == x));
        let branch = match e.optional("branch")? {
            Some((b, pos)) if environments != ["preview"] => {
                e.err(
                    pos,
                    "invalid key",
                    format!("`branch: {b}` of {what} needs `targets: [preview]`: Vercel gives a git branch only to preview variables"),
                );
                return None;
            }
            Some((b, _)) => Some(b),
            None => None,
        };
        let sensitive = e.flag("sensitive")?.unwrap_or(true);
        if sensitive && environments.iter().any(|x| x == "development") {
            let pos = e.node("targets").map(crate::manifest::load::pos_of).unwrap_or(e.pos);
            e.err(
                pos,
                "invalid value",
                format!("{what} targets `development` with `sensitive: true`: Vercel's sensitive variables cannot target development; set `sensitive: false` or leave `development` out"),
            );
            return None;
        }
        let redeploy = e.flag("redeploy")?.unwrap_or(true);
        let redeploy_timeout = match e.optional("redeploy_timeout")? {
            Some((t, pos)) => match crate::duration::parse_wait(&t) {
                Ok(d) if !d.is_zero() => d,
                Ok(_) | Err(_) => {
                    e.err(
                        pos,
                        "invalid duration",
                        format!("`redeploy_timeout` of {what}: `{t}` is not a duration such as `10m` or `600s`"),
                    );
                    return None;
                }
            },
            None => DEFAULT_REDEPLOY_TIMEOUT,
        };
        Some(Arc::new(Spec { project, team, environments, branch, sensitive, redeploy, redeploy_timeout }))
    }
}
