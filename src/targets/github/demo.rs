//! The demo's GitHub targets: the two repositories the example writes to.
//! (The token and the org's secrets are the run's: `crate::demo`.)

use crate::targets::Demo;

pub fn prepare(d: &mut Demo<'_>) -> super::Inputs {
    d.state.github.add_repo("ai-cherry/sophia-infra");
    d.state.github.add_env("ai-cherry/sophia-dashboard", "production");
    super::Inputs::default()
}
