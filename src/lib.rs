//! secret-sync: check secrets against a manifest and sync what changed.
//!
//! The modules follow one run: [`config`] (inputs) → [`manifest`] →
//! [`values`] → [`validate`] → [`targets`] (desired state, plan, apply) →
//! [`report`]. [`actions`] is the only place that speaks the runner's
//! workflow-command protocol; [`run`] wires the stages together.

pub mod actions;
pub mod artifact;
pub mod cli;
pub mod clock;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod diag;
pub mod duration;
pub mod escape;
pub mod exit;
pub mod formats;
pub mod github;
pub mod http;
pub mod init;
pub mod input;
pub mod manifest;
pub mod merge;
pub mod output;
pub mod plan;
pub mod probe;
pub mod report;
pub mod rotation;
pub mod run;
pub mod scan;
pub mod select;
pub mod state;
pub mod targets;
pub mod template;
pub mod util;
pub mod validate;
pub mod values;
