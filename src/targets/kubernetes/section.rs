//! `targets.kubernetes.<name>`: `namespace` (required), `secret` (default:
//! the target name) and `restart: [deployment/x, statefulset/y, daemonset/z]`.

use std::fmt;
use std::sync::Arc;

use crate::manifest::{Entry, RouteRule, Section, TargetKind, TargetSpec};

use super::names::{k8s_namespace, k8s_object, k8s_secret_key};
use super::KIND;

/// One `Secret` in one namespace, and the workloads restarted when its data changes.
#[derive(Debug, Clone)]
pub struct Spec {
    pub namespace: String,
    pub secret: String,
    pub restart: Vec<Workload>,
}

impl TargetSpec for Spec {
    fn destination(&self) -> String {
        format!("{}/{}", self.namespace, self.secret)
    }
}

/// The kinds of workload a target can restart (apps/v1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

impl WorkloadKind {
    /// As `kubectl` writes it (`deployment/api`); also its short names.
    pub fn parse(s: &str) -> Option<WorkloadKind> {
        match s {
            "deployment" | "deployments" | "deploy" => Some(WorkloadKind::Deployment),
            "statefulset" | "statefulsets" | "sts" => Some(WorkloadKind::StatefulSet),
            "daemonset" | "daemonsets" | "ds" => Some(WorkloadKind::DaemonSet),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::StatefulSet => "statefulset",
            WorkloadKind::DaemonSet => "daemonset",
        }
    }

    /// The apps/v1 resource (URL path segment).
    pub fn resource(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployments",
            WorkloadKind::StatefulSet => "statefulsets",
            WorkloadKind::DaemonSet => "daemonsets",
        }
    }
}

/// A workload to restart: `deployment/api`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub name: String,
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.as_str(), self.name)
    }
}

/// `targets.kubernetes`.
pub struct Kubernetes;

impl Section for Kubernetes {
    fn kind(&self) -> TargetKind {
        KIND
    }

    fn keys(&self) -> &'static [&'static str] {
        &["environment", "namespace", "secret", "restart"]
    }

    fn route(&self) -> RouteRule {
        RouteRule::named("Kubernetes Secret key", k8s_secret_key)
    }

    fn parse(&self, e: &mut Entry<'_, '_>) -> Option<crate::manifest::Spec> {
        let (namespace, pos) = e.required("namespace", "`namespace:` (the namespace of the Secret)")?;
        if !e.check(pos, &namespace, "namespace", k8s_namespace) {
            return None;
        }
        let secret = e.name_or_default("secret", "Secret name", k8s_object)?;
        let mut restart: Vec<Workload> = Vec::new();
        if let Some(n) = e.node("restart") {
            let what = e.what;
            let items = e.w.names(n, &format!("`restart` of {what}"));
            let mut ok = true;
            for (item, ipos) in items {
                let parsed = item.split_once('/').and_then(|(k, w)| Some((WorkloadKind::parse(k)?, w)));
                match parsed {
                    Some((kind, w)) if k8s_object(w).is_ok() => {
                        let wl = Workload { kind, name: w.to_string() };
                        if restart.contains(&wl) {
                            e.err(ipos, "duplicate workload", format!("`restart` of {what} lists `{wl}` twice"));
                            ok = false;
                        } else {
                            restart.push(wl);
                        }
                    }
                    _ => {
                        e.err(
                            ipos,
                            "invalid workload",
                            format!("`{item}` in `restart` of {what} is not a workload: write `deployment/NAME`, `statefulset/NAME` or `daemonset/NAME`"),
                        );
                        ok = false;
                    }
                }
            }
            if !ok {
                return None;
            }
        }
        Some(Arc::new(Spec { namespace, secret, restart }))
    }
}
