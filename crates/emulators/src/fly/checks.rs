//! The emulated Machines' health: configured checks, their scripted results
//! and `fly secrets list`'s deployment status (see the module above for the
//! routes that serve them).

use serde_json::{json, Value as Json};

use super::{Fly, Machine};

impl Fly {
    /// Configures health checks on a Machine: `top` in `config.checks`
    /// and one service with `service` checks (fly-go `MachineConfig.Checks`,
    /// `MachineService.Checks`).
    pub fn add_checks(&mut self, app: &str, id: &str, top: &[&str], service: usize) {
        let m =
            self.apps.get_mut(app).and_then(|a| a.machines.iter_mut().find(|m| m.id == id)).expect("machine exists");
        let checks: serde_json::Map<String, Json> = top
            .iter()
            .map(|n| {
                (
                    n.to_string(),
                    json!({ "type": "http", "port": 8080, "path": "/healthz", "interval": "15s", "timeout": "2s" }),
                )
            })
            .collect();
        if !checks.is_empty() {
            m.config["checks"] = Json::Object(checks);
        }
        if service > 0 {
            let c: Vec<Json> =
                (0..service).map(|_| json!({ "type": "tcp", "interval": "15s", "timeout": "2s" })).collect();
            m.config["services"] =
                json!([{ "protocol": "tcp", "internal_port": 8080, "ports": [{ "port": 443 }], "checks": c }]);
        }
    }

    /// `fly secrets list`'s status of `key` (flyctl internal/command/secrets/
    /// list.go `computeSecretStatus`), with the secrets version standing in
    /// for timestamps: a Machine has the secret when it runs a version at
    /// least the one the secret was set at. Machines: not destroyed, of the
    /// Fly platform, not release command or console (ListFlyAppsMachines).
    pub fn deployment(&self, app: &str, key: &str) -> &'static str {
        let a = &self.apps[app];
        let set = a.set_at.get(key).copied().unwrap_or(0);
        let counted: Vec<&Machine> = a.machines.iter().filter(|m| m.counted()).collect();
        let with = counted.iter().filter(|m| m.secrets_version >= set).count();
        match with {
            _ if counted.is_empty() => "Staged",
            0 => "Staged",
            n if n == counted.len() => "Deployed",
            _ => "Partial",
        }
    }
}

impl Machine {
    pub(super) fn counted(&self) -> bool {
        let md = &self.config["metadata"];
        let group = md["fly_process_group"].as_str().unwrap_or_default();
        !matches!(self.state.as_str(), "destroyed" | "destroying")
            && md["fly_platform_version"] == "v2"
            && !matches!(group, "fly_app_release_command" | "fly_app_console")
    }

    /// The check results a read shows (fly-go `MachineCheckStatus`).
    pub(super) fn check_results(&self, now_ms: i64) -> Vec<Json> {
        if self.pending_reads > 0 || now_ms < self.results_at_ms {
            return Vec::new();
        }
        let mut names: Vec<String> =
            self.config["checks"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        for (i, s) in self.config["services"].as_array().into_iter().flatten().enumerate() {
            for j in 0..s["checks"].as_array().map_or(0, Vec::len) {
                names.push(format!("servicecheck-{i:02}-{j:02}-tcp"));
            }
        }
        let (status, output) = match &self.sick {
            Some(o) => ("critical", o.as_str()),
            None => ("passing", "HTTP GET http://[fdaa::3]:8080/healthz: 200 OK"),
        };
        names
            .into_iter()
            .map(|n| json!({ "name": n, "status": status, "output": output, "updated_at": "2026-01-01T00:00:00Z" }))
            .collect()
    }
}
