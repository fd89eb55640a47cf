//! `targets.esc.<name>`: `path: org/project/environment` (required) and
//! `create` (create the environment when it does not exist; default false).

use std::sync::Arc;

use crate::manifest::{names, Entry, RouteRule, Section, TargetKind, TargetSpec};

use super::KIND;

/// An ESC environment.
#[derive(Debug, Clone)]
pub struct Spec {
    pub org: String,
    pub project: String,
    pub env: String,
    pub create: bool,
}

impl TargetSpec for Spec {
    fn destination(&self) -> String {
        format!("{}/{}/{}", self.org, self.project, self.env)
    }
}

/// `targets.esc`.
pub struct Esc;

impl Section for Esc {
    fn kind(&self) -> TargetKind {
        KIND
    }

    fn keys(&self) -> &'static [&'static str] {
        &["environment", "path", "create"]
    }

    fn route(&self) -> RouteRule {
        RouteRule { field: "path", nested: true, env_var: true, ..RouteRule::named("ESC path", names::esc_path) }
    }

    fn parse(&self, e: &mut Entry<'_, '_>) -> Option<crate::manifest::Spec> {
        let (path, pos) = e.required("path", "`path: org/project/environment`")?;
        let parts: Vec<&str> = path.split('/').collect();
        if parts.len() != 3 || parts.iter().any(|p| names::esc_segment(p).is_err()) {
            let what = e.what;
            e.err(
                pos,
                "invalid ESC path",
                format!("`path` of {what} must be `org/project/environment` (letters, digits, `.`, `-`, `_`), found `{path}`"),
            );
            return None;
        }
        let create = e.flag("create").unwrap_or_default().unwrap_or(false);
        Some(Arc::new(Spec { org: parts[0].into(), project: parts[1].into(), env: parts[2].into(), create }))
    }
}
