//! The Fly inputs: `fly-token` and `fly-concurrency`; on the command line the
//! token comes from `FLY_ACCESS_TOKEN`, else `FLY_API_TOKEN` (flyctl's order,
//! docs/service-facts.md "Fly.io"), never from a flag, and
//! `--fly-concurrency`.

use secrecy::SecretString;
use serde::Deserialize;

use crate::targets::inputs::{secret, whole, ActionVars, BadInput, DEFAULT_CONCURRENCY};

/// The environment variables Fly reads (through `crate::env`).
pub struct Env;

impl Env {
    /// Fly.io tokens, in flyctl's order (`internal/config/config.go`).
    pub const FLY_ACCESS_TOKEN: &'static str = "FLY_ACCESS_TOKEN";
    pub const FLY_API_TOKEN: &'static str = "FLY_API_TOKEN";
    /// Fly's Machines API (flyctl's variable).
    pub const FLY_FLAPS_BASE_URL: &'static str = "FLY_FLAPS_BASE_URL";
}

#[derive(Debug)]
pub struct Inputs {
    /// Fly.io API token (org or deploy token).
    pub token: Option<SecretString>,
    /// Fly apps processed at once.
    pub concurrency: usize,
    /// The Machines API (`FLY_FLAPS_BASE_URL`, as flyctl reads it).
    pub flaps_url: String,
}

impl Default for Inputs {
    fn default() -> Inputs {
        Inputs { token: None, concurrency: DEFAULT_CONCURRENCY, flaps_url: flaps_url() }
    }
}

/// `FLY_FLAPS_BASE_URL`, else the public Machines API.
fn flaps_url() -> String {
    crate::env::var(Env::FLY_FLAPS_BASE_URL).unwrap_or_else(|| super::DEFAULT_FLAPS.to_string())
}

#[derive(Deserialize)]
struct Action {
    #[serde(rename = "fly-token")]
    token: Option<SecretString>,
    #[serde(rename = "fly-concurrency")]
    concurrency: Option<String>,
}

impl Inputs {
    pub fn from_action(vars: &ActionVars) -> Result<Inputs, BadInput> {
        let a: Action = vars.read()?;
        Ok(Inputs {
            token: secret(a.token),
            concurrency: whole("fly-concurrency", a.concurrency, DEFAULT_CONCURRENCY, Some(1..=32))?,
            flaps_url: flaps_url(),
        })
    }

    pub fn secrets(&self) -> impl Iterator<Item = &SecretString> {
        self.token.iter()
    }
}

#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Flags {
    /// Fly apps processed at once.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub fly_concurrency: usize,
}

impl Flags {
    pub fn into_inputs(self) -> Result<Inputs, BadInput> {
        let token = [Env::FLY_ACCESS_TOKEN, Env::FLY_API_TOKEN]
            .iter()
            .find_map(|k| crate::env::var_exact(k))
            .map(SecretString::from);
        Ok(Inputs { token, concurrency: self.fly_concurrency, flaps_url: flaps_url() })
    }
}
