//! The demo's Kubernetes: the example routes nothing to a cluster, so there
//! is nothing to seed and no cluster to reach.

use crate::targets::Demo;

pub fn prepare(_d: &mut Demo<'_>) -> super::Inputs {
    super::Inputs::default()
}
