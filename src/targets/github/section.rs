//! A `github` target's settings: a repository (`repo`, optionally `env`) or
//! an organization (`org`, with `visibility` and, for `selected`,
//! `repositories`), and which feature's secrets (`app`: `actions`,
//! `dependabot`, `codespaces`).

use std::sync::Arc;

use crate::manifest::{names, suggest, Entry, RouteRule, Section, TargetKind, TargetSpec};

use super::KIND;

const VISIBILITY: [&str; 3] = ["all", "private", "selected"];

/// Which GitHub feature's secrets a `github` target holds (`app:`; the
/// REST path segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GithubApp {
    #[default]
    Actions,
    Dependabot,
    Codespaces,
}

impl GithubApp {
    pub const ALL: [GithubApp; 3] = [GithubApp::Actions, GithubApp::Dependabot, GithubApp::Codespaces];

    pub fn as_str(self) -> &'static str {
        match self {
            GithubApp::Actions => "actions",
            GithubApp::Dependabot => "dependabot",
            GithubApp::Codespaces => "codespaces",
        }
    }
}

/// A `github` target.
#[derive(Debug, Clone)]
pub enum Spec {
    /// A repository's secrets, or one of its environments' (`env:`).
    Repo { repo: String, env: Option<String>, app: GithubApp },
    /// An organization's secrets (`org:`), and which repositories see them.
    Org {
        org: String,
        app: GithubApp,
        /// `all`, `private` or `selected`.
        visibility: String,
        /// With `selected`: `owner/name` of each repository that sees them.
        repositories: Vec<String>,
    },
}

impl TargetSpec for Spec {
    fn destination(&self) -> String {
        match self {
            Spec::Repo { repo, env: Some(e), .. } => format!("{repo} (environment {e})"),
            Spec::Repo { repo, env: None, app: GithubApp::Actions } => repo.clone(),
            Spec::Repo { repo, app, .. } => format!("{repo} ({} secrets)", app.as_str()),
            Spec::Org { org, app, .. } => format!("org {org} ({} secrets)", app.as_str()),
        }
    }
}

/// `targets.github`.
pub struct Github;

impl Section for Github {
    fn kind(&self) -> TargetKind {
        KIND
    }

    fn keys(&self) -> &'static [&'static str] {
        &["environment", "repo", "env", "org", "app", "visibility", "repositories"]
    }

    fn route(&self) -> RouteRule {
        RouteRule { fold_case: true, ..RouteRule::named("GitHub secret name", names::github_secret) }
    }

    fn parse(&self, e: &mut Entry<'_, '_>) -> Option<crate::manifest::Spec> {
        let (pos, map, what) = (e.pos, e.map, e.what);
        let w = &mut *e.w;
        use crate::manifest::load::pos_of;
        let app = match map.get_node("app") {
            Some(n) => {
                let a = w.string(n, &format!("`app` of {what}"))?;
                let Some(app) = GithubApp::ALL.into_iter().find(|x| x.as_str() == a) else {
                    let hint = suggest::hint(&a, GithubApp::ALL.iter().map(|x| x.as_str()));
                    w.err(
                        pos_of(n),
                        "invalid value",
                        format!("`app` of {what} must be `actions`, `dependabot` or `codespaces`, found `{a}`{hint}"),
                    );
                    return None;
                };
                app
            }
            None => GithubApp::Actions,
        };
        match (map.get_node("repo"), map.get_node("org")) {
            (Some(_), Some(n)) => {
                w.err(pos_of(n), "conflicting keys", format!("{what} has both `repo` and `org`: give one"));
                None
            }
            (None, None) => {
                w.err(pos, "missing key", format!("{what} needs `repo: owner/name` or `org: NAME`"));
                None
            }
            (Some(n), None) => {
                let repo = w.string(n, &format!("`repo` of {what}"))?;
                if !w.check_name(pos_of(n), &repo, "repository", names::github_repo) {
                    return None;
                }
                for key in ["visibility", "repositories"] {
                    if let Some(k) = map.get_node(key) {
                        w.err(pos_of(k), "invalid key", format!("`{key}` of {what} is for `org:` targets only"));
                        return None;
                    }
                }
                let env = w.opt_string(map, "env", what);
                if let (Some(_), Some(n), false) = (&env, map.get_node("env"), app == GithubApp::Actions) {
                    w.err(pos_of(n), "invalid key", format!("`env` of {what} is for Actions secrets only"));
                    return None;
                }
                Some(Arc::new(Spec::Repo { repo, env, app }))
            }
            (None, Some(n)) => {
                let org = w.string(n, &format!("`org` of {what}"))?;
                if !w.check_name(pos_of(n), &format!("{org}/x"), "organization", names::github_repo) {
                    return None;
                }
                if let Some(k) = map.get_node("env") {
                    w.err(pos_of(k), "invalid key", format!("`env` of {what} is for `repo:` targets only"));
                    return None;
                }
                let Some(v) = map.get_node("visibility") else {
                    w.err(
                        pos,
                        "missing key",
                        format!("{what} needs `visibility:` (`all`, `private` or `selected`): which repositories see the secrets"),
                    );
                    return None;
                };
                let visibility = w.string(v, &format!("`visibility` of {what}"))?;
                if !VISIBILITY.contains(&visibility.as_str()) {
                    let hint = suggest::hint(&visibility, VISIBILITY);
                    w.err(
                        pos_of(v),
                        "invalid value",
                        format!(
                            "`visibility` of {what} must be `all`, `private` or `selected`, found `{visibility}`{hint}"
                        ),
                    );
                    return None;
                }
                let mut repositories = Vec::new();
                match (map.get_node("repositories"), visibility == "selected") {
                    (Some(r), true) => {
                        for (name, at) in w.names(r, &format!("`repositories` of {what}")) {
                            if !w.check_name(at, &name, "repository", names::github_repo) {
                                return None;
                            }
                            repositories.push(name);
                        }
                    }
                    (None, true) => {
                        w.err(
                            pos_of(v),
                            "missing key",
                            format!("{what} has `visibility: selected` but no `repositories:` list"),
                        );
                        return None;
                    }
                    (Some(r), false) => {
                        w.err(
                            pos_of(r),
                            "invalid key",
                            format!("`repositories` of {what} needs `visibility: selected`"),
                        );
                        return None;
                    }
                    (None, false) => {}
                }
                Some(Arc::new(Spec::Org { org, app, visibility, repositories }))
            }
        }
        }
}

#[cfg(test)]
mod tests {
    use super::{GithubApp, Spec};

    fn load(target: &str) -> Result<Spec, Vec<String>> {
        let text =
            format!("version: 1\ntargets:\n  github:\n    t: {target}\nsecrets:\n  A:\n    to: [{{ github: t }}]\n");
        crate::manifest::parse(text.as_bytes(), "m.yml", crate::targets::SECTIONS)
            .map(|m| m.targets[0].spec::<Spec>().expect("a GitHub target").clone())
            .map_err(|d| d.into_iter().map(|d| format!("{}:{}: {}", d.line, d.col, d.message)).collect())
    }

    #[test]
    fn org_and_app_targets() {
        let Spec::Org { org, app, visibility, repositories } =
            load("{ org: acme, app: dependabot, visibility: selected, repositories: [acme/a, acme/b] }").unwrap()
        else {
            panic!("not an org target")
        };
        assert_eq!((org.as_str(), app, visibility.as_str()), ("acme", GithubApp::Dependabot, "selected"));
        assert_eq!(repositories, ["acme/a", "acme/b"]);
        let Spec::Repo { app, .. } = load("{ repo: acme/a, app: codespaces }").unwrap() else { panic!() };
        assert_eq!(app, GithubApp::Codespaces);
    }

    #[test]
    fn located_errors() {
        let err = |t: &str| load(t).unwrap_err().join("\n");
        assert_eq!(err("{ repo: acme/a, org: acme }"), "4:29: target `github.t` has both `repo` and `org`: give one");
        assert!(err("{ org: acme }").contains("needs `visibility:`"));
        assert!(err("{ org: acme, visibility: selected }").contains("no `repositories:` list"));
        assert!(err("{ org: acme, visibility: all, repositories: [acme/a] }").contains("needs `visibility: selected`"));
        assert!(err("{ org: acme, visibility: some }").contains("must be `all`, `private` or `selected`"));
        assert!(err("{ repo: acme/a, app: dependabot, env: prod }").contains("for Actions secrets only"));
        assert!(err("{ repo: acme/a, app: pages }").contains("`actions`, `dependabot` or `codespaces`"));
        assert!(err("{ repo: acme/a, visibility: all }").contains("for `org:` targets only"));
    }
}
