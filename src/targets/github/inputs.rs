//! The GitHub kind's own input: `github-concurrency` (`--github-concurrency`),
//! kept for compatibility: GitHub targets go one request at a time through
//! the token's scheduler whatever it says. The token (`github-token`,
//! `GITHUB_TOKEN`) and `github-org` serve the metadata read and the state
//! record too, so the run's configuration holds them (`crate::config`).

use secrecy::SecretString;
use serde::Deserialize;

use crate::targets::inputs::{whole, ActionVars, BadInput, DEFAULT_CONCURRENCY};

#[derive(Debug, Default)]
pub struct Inputs {}

#[derive(Deserialize)]
struct Action {
    #[serde(rename = "github-concurrency")]
    concurrency: Option<String>,
}

impl Inputs {
    pub fn from_action(vars: &ActionVars) -> Result<Inputs, BadInput> {
        let a: Action = vars.read()?;
        // Checked, so a bad value is still named; it has no effect.
        whole("github-concurrency", a.concurrency, DEFAULT_CONCURRENCY, Some(1..=32))?;
        Ok(Inputs {})
    }

    pub fn secrets(&self) -> impl Iterator<Item = &SecretString> {
        std::iter::empty()
    }
}

#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Flags {
    /// GitHub repositories and environments processed at once.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub github_concurrency: usize,
}

impl Flags {
    pub fn into_inputs(self) -> Result<Inputs, BadInput> {
        Ok(Inputs {})
    }
}
