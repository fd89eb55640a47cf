//! `targets.fly.<name>`: `app` (default: the target name), `deploy`
//! (`restart` or `stage`; default `defaults.fly_deploy`) and `checks`
//! (default `defaults.fly_checks`).

use std::sync::Arc;

use crate::manifest::{names, Deploy, Entry, FlyChecks, RouteRule, Section, TargetKind, TargetSpec};

use super::KIND;

/// A Fly app.
#[derive(Debug, Clone)]
pub struct Spec {
    pub app: String,
    pub deploy: Deploy,
    pub checks: FlyChecks,
}

impl TargetSpec for Spec {
    fn destination(&self) -> String {
        self.app.clone()
    }
}

/// `targets.fly`.
pub struct Fly;

impl Section for Fly {
    fn kind(&self) -> TargetKind {
        KIND
    }

    fn keys(&self) -> &'static [&'static str] {
        &["environment", "app", "deploy", "checks"]
    }

    fn route(&self) -> RouteRule {
        RouteRule::named("Fly secret name", names::env_var)
    }

    fn parse(&self, e: &mut Entry<'_, '_>) -> Option<crate::manifest::Spec> {
        let app = e.name_or_default("app", "Fly app name", names::fly_app)?;
        let what = e.what;
        let deploy = match e.node("deploy") {
            Some(n) => e.w.deploy(n, &format!("`deploy` of {what}"))?,
            None => e.defaults.fly_deploy,
        };
        let checks = match e.node("checks") {
            Some(n) => e.w.fly_checks(n, &format!("`checks` of {what}"), e.defaults.fly_checks),
            None => e.defaults.fly_checks,
        };
        Some(Arc::new(Spec { app, deploy, checks }))
    }
}
