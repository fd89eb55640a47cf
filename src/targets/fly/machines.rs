//! Which machines of an app get the new secrets, and how — as flyctl's
//! `fly secrets deploy` decides it. Pure; `super::api` does the requests.
//!
//! - Only Fly-platform machines (`config.metadata.fly_platform_version` =
//!   `v2`) that are not destroyed, and never the release-command or
//!   `fly console` machines (fly-go flaps/flaps_machines.go
//!   `ListFlyAppsMachines`; machine_types.go `IsFlyAppsPlatform`,
//!   `IsFlyAppsReleaseCommand`, `IsFlyAppsConsole`, `ProcessGroup`).
//! - A machine that is `started`, `starting` or `failed` is updated and
//!   waited for; any other (stopped, suspended, a standby) is updated with
//!   `skip_launch: true`, so it gets the secrets at its next start without
//!   being woken, and is not waited for (flyctl
//!   internal/command/deploy/machines_launchinput.go `shouldSkipLaunch`;
//!   machines_deploymachinesapp.go: "Don't wait for SkipLaunch machines").
//!   For an existing machine the state decides first: flyctl launches a
//!   standby that happens to be running, and so does this.

use serde::Deserialize;
use serde_json::Value as Json;

#[derive(Debug, Clone, Deserialize)]
pub struct Machine {
    pub id: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub instance_id: String,
    #[serde(default)]
    pub config: Json,
    /// Newest first (fly-go `Machine.Events`); `null` reads as none.
    #[serde(default, deserialize_with = "list")]
    pub events: Vec<super::checks::Event>,
    /// The latest result of each health check (fly-go `Machine.Checks`).
    #[serde(default, deserialize_with = "list")]
    pub checks: Vec<super::checks::CheckStatus>,
}

/// A JSON list, `null` or absent as empty.
fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    /// Updated and waited for until it runs again, one at a time.
    Roll,
    /// Updated with `skip_launch: true`; picks the secrets up at its next start.
    UpdateWithoutStart,
    /// Not touched: destroyed, not a Fly-platform machine, release command, console.
    Leave,
}

impl Machine {
    fn metadata(&self, key: &str) -> &str {
        self.config["metadata"][key].as_str().unwrap_or_default()
    }

    /// `fly_process_group`, else the older `process_group` (fly-go
    /// machine_types.go `MachineConfig.ProcessGroup`).
    fn process_group(&self) -> &str {
        match self.metadata("fly_process_group") {
            "" => self.metadata("process_group"),
            g => g,
        }
    }

    pub fn treatment(&self) -> Treatment {
        let active = !matches!(self.state.as_str(), "destroyed" | "destroying");
        let platform = self.metadata("fly_platform_version") == "v2";
        let group = self.process_group();
        // fly-go `IsReleaseCommandMachine` also knows the old spelling.
        let release = group == "fly_app_release_command" || self.metadata("process_group") == "release_command";
        if !active || !platform || release || group == "fly_app_console" {
            return Treatment::Leave;
        }
        if matches!(self.state.as_str(), "started" | "starting" | "failed") {
            Treatment::Roll
        } else {
            Treatment::UpdateWithoutStart
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(state: &str, metadata: Json, standbys: bool) -> Machine {
        let mut config = json!({ "image": "x", "metadata": metadata });
        if standbys {
            config["standbys"] = json!(["other"]);
        }
        Machine { id: "m".into(), state: state.into(), instance_id: "i".into(), config, events: vec![], checks: vec![] }
    }

    fn app() -> Json {
        json!({ "fly_platform_version": "v2", "fly_process_group": "app" })
    }

    #[test]
    fn machines_are_treated_as_flyctl_treats_them() {
        for s in ["started", "starting", "failed"] {
            assert_eq!(m(s, app(), false).treatment(), Treatment::Roll, "{s}");
        }
        for s in ["stopped", "suspended", "created"] {
            assert_eq!(m(s, app(), false).treatment(), Treatment::UpdateWithoutStart, "{s}");
        }
        assert_eq!(m("stopped", app(), true).treatment(), Treatment::UpdateWithoutStart, "a standby");
        assert_eq!(m("started", app(), true).treatment(), Treatment::Roll, "flyctl: the state decides first");
        for s in ["destroyed", "destroying"] {
            assert_eq!(m(s, app(), false).treatment(), Treatment::Leave, "{s}");
        }
    }

    #[test]
    fn release_command_console_and_non_platform_machines_are_left_alone() {
        let group = |g: &str| json!({ "fly_platform_version": "v2", "fly_process_group": g });
        assert_eq!(m("started", group("fly_app_console"), false).treatment(), Treatment::Leave);
        assert_eq!(m("stopped", group("fly_app_release_command"), false).treatment(), Treatment::Leave);
        let old = json!({ "fly_platform_version": "v2", "process_group": "release_command" });
        assert_eq!(m("started", old, false).treatment(), Treatment::Leave);
        assert_eq!(m("started", json!({}), false).treatment(), Treatment::Leave, "no platform metadata");
        let v1 = json!({ "fly_platform_version": "v1", "fly_process_group": "app" });
        assert_eq!(m("started", v1, false).treatment(), Treatment::Leave);
        let legacy_group = json!({ "fly_platform_version": "v2", "process_group": "worker" });
        assert_eq!(m("started", legacy_group, false).treatment(), Treatment::Roll);
    }
}
