//! The Vercel input: `vercel-token` (a Vercel access token); on the command
//! line `VERCEL_TOKEN`, as the `vercel` CLI reads it, never a flag. The API
//! base URL is Vercel's; `SECRET_SYNC_VERCEL_API_URL` points it elsewhere
//! (the emulator, a proxy): Vercel itself names no such variable
//! (docs/service-facts.md, "Vercel").

use secrecy::SecretString;
use serde::Deserialize;

use crate::targets::inputs::{secret, ActionVars, BadInput, DEFAULT_CONCURRENCY};

/// The environment variables Vercel reads (through `crate::env`).
pub struct Env;

impl Env {
    /// A Vercel access token, as the `vercel` CLI reads it.
    pub const VERCEL_TOKEN: &'static str = "VERCEL_TOKEN";
    /// Vercel's API base URL (tests, proxies); Vercel's own tools name no such variable.
    pub const SECRET_SYNC_VERCEL_API_URL: &'static str = "SECRET_SYNC_VERCEL_API_URL";
}

/// Vercel's REST API (the SDK's and the CLI's default).
pub const DEFAULT_API: &str = "https://api.vercel.com";

#[derive(Debug)]
pub struct Inputs {
    pub token: Option<SecretString>,
    pub api_url: String,
    /// Projects handled at once.
    pub concurrency: usize,
}

impl Default for Inputs {
    fn default() -> Inputs {
        Inputs { token: None, api_url: api_url(), concurrency: DEFAULT_CONCURRENCY }
    }
}

fn api_url() -> String {
    crate::env::var(Env::SECRET_SYNC_VERCEL_API_URL).unwrap_or_else(|| DEFAULT_API.to_string())
}

#[derive(Deserialize)]
struct Action {
    #[serde(rename = "vercel-token")]
    token: Option<SecretString>,
}

impl Inputs {
    pub fn from_action(vars: &ActionVars) -> Result<Inputs, BadInput> {
        let a: Action = vars.read()?;
        Ok(Inputs { token: secret(a.token), ..Inputs::default() })
    }

    pub fn secrets(&self) -> impl Iterator<Item = &SecretString> {
        self.token.iter()
    }
}

/// No flags: the token comes from the environment.
#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Flags {}

impl Flags {
    pub fn into_inputs(self) -> Result<Inputs, BadInput> {
        let token = crate::env::var_exact(Env::VERCEL_TOKEN).map(SecretString::from);
        Ok(Inputs { token, ..Inputs::default() })
    }
}
