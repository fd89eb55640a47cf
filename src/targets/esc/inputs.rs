//! The ESC inputs: `esc-token`, `esc-api-url` (else `PULUMI_BACKEND_URL`, as
//! the Pulumi CLI reads it), the OIDC token choice (`esc-oidc-*`) and
//! `esc-concurrency`; on the command line the token comes from
//! `PULUMI_ACCESS_TOKEN`, never from a flag.

use secrecy::SecretString;
use serde::Deserialize;

use super::auth::OidcRequest;
use crate::targets::inputs::{secret, set, whole, ActionVars, BadInput, DEFAULT_CONCURRENCY};

/// The environment variables ESC reads (through `crate::env`).
pub struct Env;

impl Env {
    /// Pulumi Cloud access token (as the `pulumi` CLI reads it).
    pub const PULUMI_ACCESS_TOKEN: &'static str = "PULUMI_ACCESS_TOKEN";
    /// Pulumi Cloud's API (the `pulumi` CLI's variable).
    pub const PULUMI_BACKEND_URL: &'static str = "PULUMI_BACKEND_URL";
}

#[derive(Debug)]
pub struct Inputs {
    /// Pulumi Cloud access token; without it, OIDC is used when available.
    pub token: Option<SecretString>,
    /// Pulumi Cloud API base URL (`PULUMI_BACKEND_URL`, else the public API).
    pub api_url: Option<String>,
    /// The Pulumi token an OIDC exchange asks for (organization by default).
    pub oidc: OidcRequest,
    /// ESC environments processed at once.
    pub concurrency: usize,
}

impl Default for Inputs {
    fn default() -> Inputs {
        Inputs { token: None, api_url: None, oidc: OidcRequest::default(), concurrency: DEFAULT_CONCURRENCY }
    }
}

#[derive(Deserialize)]
struct Action {
    #[serde(rename = "esc-token")]
    token: Option<SecretString>,
    #[serde(rename = "esc-api-url")]
    api_url: Option<String>,
    #[serde(rename = "esc-oidc-requested-token-type")]
    token_type: Option<String>,
    #[serde(rename = "esc-oidc-scope")]
    scope: Option<String>,
    #[serde(rename = "esc-oidc-token-expiration")]
    expiration: Option<String>,
    #[serde(rename = "esc-concurrency")]
    concurrency: Option<String>,
}

impl Inputs {
    pub fn from_action(vars: &ActionVars) -> Result<Inputs, BadInput> {
        let a: Action = vars.read()?;
        let oidc = OidcRequest::parse(a.token_type.as_deref(), a.scope.as_deref(), a.expiration.as_deref())
            .map_err(|e| BadInput(format!("input `esc-oidc-{}`: {e}", e.choice())))?;
        Ok(Inputs {
            token: secret(a.token),
            api_url: set(a.api_url).or_else(|| crate::env::var(Env::PULUMI_BACKEND_URL)),
            oidc,
            concurrency: whole("esc-concurrency", a.concurrency, DEFAULT_CONCURRENCY, Some(1..=32))?,
        })
    }

    pub fn secrets(&self) -> impl Iterator<Item = &SecretString> {
        self.token.iter()
    }
}

#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Flags {
    /// Pulumi Cloud API URL.
    #[arg(long, env = Env::PULUMI_BACKEND_URL, hide_env_values = true)]
    pub esc_api_url: Option<String>,
    /// With OIDC (no PULUMI_ACCESS_TOKEN): the Pulumi token to ask for: organization (default), team,
    /// personal or runner, or pulumi/esc-action's `urn:pulumi:token-type:access_token:<type>`.
    #[arg(long)]
    pub esc_oidc_requested_token_type: Option<String>,
    /// With OIDC: the token's scope, `team:NAME` for a team token, `user:LOGIN` for a personal one.
    #[arg(long)]
    pub esc_oidc_scope: Option<String>,
    /// With OIDC: the token's lifetime in seconds (Pulumi's default when not given).
    #[arg(long)]
    pub esc_oidc_token_expiration: Option<String>,
    /// ESC environments processed at once.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub esc_concurrency: usize,
}

impl Flags {
    pub fn into_inputs(self) -> Result<Inputs, BadInput> {
        let oidc = OidcRequest::parse(
            self.esc_oidc_requested_token_type.as_deref(),
            self.esc_oidc_scope.as_deref(),
            self.esc_oidc_token_expiration.as_deref(),
        )
            .map_err(|e| BadInput(format!("--esc-oidc-{}: {e}", e.choice())))?;
        Ok(Inputs {
            // Tokens never come from flags (they would show in `ps`).
            token: crate::env::var_exact(Env::PULUMI_ACCESS_TOKEN).map(SecretString::from),
            api_url: self.esc_api_url,
            oidc,
            concurrency: self.esc_concurrency,
        })
    }
}
