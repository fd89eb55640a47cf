//! A `github` target's settings: a repository (`repo`, optionally `env`) or
//! an organization (`org`, with `visibility` and, for `selected`,
//! `repositories`), and which feature's secrets (`app`: `actions`,
//! `dependabot`, `codespaces`).

use marked_yaml::types::MarkedMappingNode;

use super::super::model::{GithubApp, Pos, TargetSpec};
use super::super::{names, suggest};
use super::{pos_of, Walker};

const VISIBILITY: [&str; 3] = ["all", "private", "selected"];

impl Walker<'_> {
    pub(super) fn github(&mut self, pos: Pos, map: &MarkedMappingNode, what: &str) -> Option<TargetSpec> {
        let app = match map.get_node("app") {
            Some(n) => {
                let a = self.string(n, &format!("`app` of {what}"))?;
                let Some(app) = GithubApp::ALL.into_iter().find(|x| x.as_str() == a) else {
                    let hint = suggest::hint(&a, GithubApp::ALL.iter().map(|x| x.as_str()));
                    self.err(
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
                self.err(pos_of(n), "conflicting keys", format!("{what} has both `repo` and `org`: give one"));
                None
            }
            (None, None) => {
                self.err(pos, "missing key", format!("{what} needs `repo: owner/name` or `org: NAME`"));
                None
            }
            (Some(n), None) => {
                let repo = self.string(n, &format!("`repo` of {what}"))?;
                if !self.check_name(pos_of(n), &repo, "repository", names::github_repo) {
                    return None;
                }
                for key in ["visibility", "repositories"] {
                    if let Some(k) = map.get_node(key) {
                        self.err(pos_of(k), "invalid key", format!("`{key}` of {what} is for `org:` targets only"));
                        return None;
                    }
                }
                let env = self.opt_string(map, "env", what);
                if let (Some(_), false) = (&env, app == GithubApp::Actions) {
                    let n = map.get_node("env").expect("read above");
                    self.err(pos_of(n), "invalid key", format!("`env` of {what} is for Actions secrets only"));
                    return None;
                }
                Some(TargetSpec::Github { repo, env, app })
            }
            (None, Some(n)) => {
                let org = self.string(n, &format!("`org` of {what}"))?;
                if !self.check_name(pos_of(n), &format!("{org}/x"), "organization", names::github_repo) {
                    return None;
                }
                if let Some(k) = map.get_node("env") {
                    self.err(pos_of(k), "invalid key", format!("`env` of {what} is for `repo:` targets only"));
                    return None;
                }
                let Some(v) = map.get_node("visibility") else {
                    self.err(
                        pos,
                        "missing key",
                        format!("{what} needs `visibility:` (`all`, `private` or `selected`): which repositories see the secrets"),
                    );
                    return None;
                };
                let visibility = self.string(v, &format!("`visibility` of {what}"))?;
                if !VISIBILITY.contains(&visibility.as_str()) {
                    let hint = suggest::hint(&visibility, VISIBILITY);
                    self.err(
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
                        for (name, at) in self.names(r, &format!("`repositories` of {what}")) {
                            if !self.check_name(at, &name, "repository", names::github_repo) {
                                return None;
                            }
                            repositories.push(name);
                        }
                    }
                    (None, true) => {
                        self.err(
                            pos_of(v),
                            "missing key",
                            format!("{what} has `visibility: selected` but no `repositories:` list"),
                        );
                        return None;
                    }
                    (Some(r), false) => {
                        self.err(
                            pos_of(r),
                            "invalid key",
                            format!("`repositories` of {what} needs `visibility: selected`"),
                        );
                        return None;
                    }
                    (None, false) => {}
                }
                Some(TargetSpec::GithubOrg { org, app, visibility, repositories })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::manifest::model::{GithubApp, TargetSpec};

    fn load(target: &str) -> Result<TargetSpec, Vec<String>> {
        let text =
            format!("version: 1\ntargets:\n  github:\n    t: {target}\nsecrets:\n  A:\n    to: [{{ github: t }}]\n");
        crate::manifest::parse(text.as_bytes(), "m.yml")
            .map(|m| m.targets[0].spec.clone())
            .map_err(|d| d.into_iter().map(|d| format!("{}:{}: {}", d.line, d.col, d.message)).collect())
    }

    #[test]
    fn org_and_app_targets() {
        let TargetSpec::GithubOrg { org, app, visibility, repositories } =
            load("{ org: acme, app: dependabot, visibility: selected, repositories: [acme/a, acme/b] }").unwrap()
        else {
            panic!("not an org target")
        };
        assert_eq!((org.as_str(), app, visibility.as_str()), ("acme", GithubApp::Dependabot, "selected"));
        assert_eq!(repositories, ["acme/a", "acme/b"]);
        let TargetSpec::Github { app, .. } = load("{ repo: acme/a, app: codespaces }").unwrap() else { panic!() };
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
