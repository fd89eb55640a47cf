//! Pulumi ESC environments as a target.
//!
//! Plan: one `GET …/decrypt` gives the definition with plaintext secrets, its
//! ETag and revision; the routed paths are diffed locally. Sync: if anything
//! changed, one `GET` of the definition as stored (secrets as ciphertext) and
//! one `PATCH` of that text with only the managed entries edited, sent with
//! the ETag (optimistic concurrency); on 409 the definition is re-read,
//! re-planned and written again, a bounded number of times. An unchanged
//! environment gets no write, so no new revision.
//!
//! Why the second read: the decrypted text has every secret in plaintext.
//! Sending it back would make ESC encrypt all of them again (new ciphertext
//! for secrets secret-sync does not manage), and pulumi/esc renders the
//! decrypted view by re-encoding the document (eval/crypt.go
//! `DecryptSecrets` → `rewriteYAML`), so its layout need not be the user's.
//! The stored text is what the user wrote; editing it keeps every byte
//! outside the managed entries.

pub mod auth;
mod batch;
pub mod definition;
pub mod edit;
mod index;
#[cfg(feature = "demo")]
pub mod demo;
mod inputs;
mod section;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::driver::{Applied, ApplyError, Kind, Plan, Proofs, Setup, TargetError};
use super::{Context, Desired};
use crate::http::{encode, join, HttpError};
use crate::manifest::{TargetKind, TargetSpec};
pub use inputs::{Flags, Inputs};
pub use section::Spec;

pub const KIND: TargetKind = TargetKind::new("esc");
pub const SECTION: &dyn crate::manifest::Section = &section::Esc;
/// The request id in Pulumi Cloud's answers (docs/service-facts.md, "Pulumi ESC").
pub const REQUEST_ID: &str = "X-Pulumi-Request-ID";
/// ESC marks what secret-sync owns in the definition itself.
pub const RECORDED: bool = false;

/// This run's ESC targets: a token, else OIDC when the job may ask for an
/// ID token.
pub fn build(setup: &Setup<'_>) -> std::sync::Arc<dyn super::Driven> {
    use auth::{Auth, Source};
    let i = &setup.inputs.esc;
    let base_url = i.api_url.clone().unwrap_or_else(|| DEFAULT_API.to_string());
    let source = match (&i.token, &setup.id_token_request) {
        (Some(tok), _) => Source::Token(tok.clone()),
        (None, Some((url, tok))) => {
            Source::Oidc { request_url: url.clone(), request_token: tok.clone(), request: i.oidc.clone() }
        }
        _ => Source::None,
    };
    let mask = setup.mask_fn();
    std::sync::Arc::new(Esc {
        settings: Settings { auth: Auth::new(source, base_url.clone(), mask), base_url },
        concurrency: i.concurrency,
    })
}

/// Default Pulumi Cloud API.
pub const DEFAULT_API: &str = "https://api.pulumi.com";
/// Accept header the official client sends.
const ACCEPT: &str = "application/vnd.pulumi+8";

pub struct Settings {
    pub base_url: String,
    pub auth: auth::Auth,
}

/// Pulumi ESC environments.
pub struct Esc {
    settings: Settings,
    concurrency: usize,
}

/// A definition as read (decrypted: plaintext secrets), and the token that
/// read it. The text is taken by `plan`: once the edits are planned, the
/// decrypted view is not needed (the write edits the stored text), so it is
/// not held while the other targets run.
pub struct Current {
    text: std::sync::Mutex<String>,
    revision: Option<u64>,
    exists: bool,
    token: SecretString,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    diagnostics: Vec<serde::de::IgnoredAny>,
}

impl Kind for Esc {
    type Spec = Spec;
    type Current = Current;
    type Work = Vec<edit::Op>;

    fn kind(&self) -> TargetKind {
        KIND
    }

    fn concurrency(&self, _targets: usize) -> usize {
        self.concurrency
    }

    async fn read(&self, ctx: &Context, spec: &Spec, d: &Desired) -> Result<Current, TargetError> {
        let Spec { org, project, env, create } = spec;
        let full = format!("{org}/{project}/{env}");
        let token = self.settings.auth.token(&ctx.http, org).await?;
        let api = self.api(ctx, spec, &full, token.expose_secret());
        match api.read().await? {
            Some(c) => Ok(Current { text: c.text.into(), revision: c.revision, exists: true, token }),
            None if *create => Ok(Current { text: String::new().into(), revision: None, exists: false, token }),
            None => Err(TargetError::new(format!(
                "ESC environment `{full}` does not exist: create it (`esc env init {full}`) or set `create: true` on target `esc.{}`",
                d.target.name
            ))),
        }
    }

    fn plan(
        &self,
        ctx: &Context,
        spec: &Spec,
        current: &Current,
        _proofs: &Proofs,
        d: &Desired,
    ) -> Result<Plan<Self::Work>, TargetError> {
        let Spec { org, project, env, .. } = spec;
        let full = format!("{org}/{project}/{env}");
        let failed = |e: String| TargetError::new(format!("ESC environment `{full}`: {e}"));
        let text = std::mem::take(&mut *current.text.lock().unwrap_or_else(|e| e.into_inner()));
        let doc = definition::parse(&text).map_err(|e| failed(e.to_string()))?;
        let p = definition::plan(&doc, &d.keys, &d.held_back, ctx.prune).map_err(|c| failed(c.0))?;
        drop(doc);
        // The same edit on the decrypted text, so a definition the editor
        // cannot handle fails in `plan` too, before anyone relies on it.
        if !p.ops.is_empty() {
            edit::apply(&text, &p.ops).map_err(|e| failed(e.to_string()))?;
        }
        drop(text);
        let mut plan = Plan::new(p.changes, (!p.ops.is_empty()).then_some(p.ops));
        plan.unrouted = p.unrouted;
        plan.kept = p.kept;
        plan.deletes = p.deletes;
        plan.revision = current.revision;
        if !current.exists {
            plan.warnings.push(format!("ESC environment `{full}` does not exist yet; it is created (`create: true`)"));
        }
        Ok(plan)
    }

    async fn apply(
        &self,
        ctx: &Context,
        spec: &Spec,
        current: &Current,
        _plan: &Plan<Self::Work>,
        ops: &Self::Work,
        _d: &Desired,
    ) -> Result<Applied, ApplyError> {
        let full = spec.destination();
        let api = self.api(ctx, spec, &full, current.token.expose_secret());
        // The text to edit: as stored (see the module comment). A change
        // between the two reads is a concurrent edit: plan again.
        let (base, etag) = if current.exists {
            match api.read_stored().await? {
                Some(s) if s.revision == current.revision => (s.text, s.etag),
                _ => return Err(ApplyError::Conflict),
            }
        } else {
            // Just created: its ETag too, so that the PATCH below is never
            // sent without one (a PATCH that could land twice).
            api.create().await?;
            match api.read_stored().await? {
                Some(s) => (s.text, s.etag),
                None => return Err(ApplyError::Conflict),
            }
        };
        let new_text =
            edit::apply(&base, ops).map_err(|e| TargetError::new(format!("ESC environment `{full}`: {e}")))?;
        drop(base);
        match api.update(&new_text, etag.as_deref()).await {
            Ok(Written(revision)) => Ok(Applied {
                written: true,
                changed: true,
                revision,
                rollback: current.revision.map(|before| format!("esc env version rollback {full}@{before}")),
                ..Applied::default()
            }),
            Err(PatchError::Conflict) => Err(ApplyError::Conflict),
            Err(PatchError::Other(e)) => Err(ApplyError::Failed { error: e.into(), written: false }),
        }
    }
}

/// A definition as the service answered it.
struct Read {
    text: String,
    etag: Option<String>,
    revision: Option<u64>,
}

struct Written(Option<u64>);

enum PatchError {
    Conflict,
    Other(HttpError),
}

impl Esc {
    fn api<'a>(&'a self, ctx: &'a Context, spec: &'a Spec, full: &'a str, token: &'a str) -> Api<'a> {
        let (org, project, env) = (spec.org.as_str(), spec.project.as_str(), spec.env.as_str());
        Api { ctx, base_url: &self.settings.base_url, org, project, env, full, token }
    }
}

struct Api<'a> {
    ctx: &'a Context,
    base_url: &'a str,
    org: &'a str,
    project: &'a str,
    env: &'a str,
    full: &'a str,
    token: &'a str,
}

impl Api<'_> {
    fn url(&self, suffix: &str) -> String {
        join(
            self.base_url,
            &format!(
                "/api/esc/environments/{}/{}/{}{suffix}",
                encode(self.org),
                encode(self.project),
                encode(self.env)
            ),
        )
    }

    fn req(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.ctx
            .http
            .request(method, url)
            .header("Authorization", format!("token {}", self.token))
            .header("Accept", ACCEPT)
    }

    /// The decrypted definition, or `None` if the environment does not exist.
    async fn read(&self) -> Result<Option<Read>, HttpError> {
        self.get("/decrypt", format!("reading ESC environment `{}`", self.full)).await
    }

    /// The definition as stored (secrets as ciphertext).
    async fn read_stored(&self) -> Result<Option<Read>, HttpError> {
        self.get("", format!("reading the stored definition of ESC environment `{}`", self.full)).await
    }

    async fn get(&self, suffix: &str, what: String) -> Result<Option<Read>, HttpError> {
        let url = self.url(suffix);
        let r = self.ctx.http.send(&what, || self.req(reqwest::Method::GET, &url)).await?;
        match r.status().as_u16() {
            200 => {}
            404 => return Ok(None),
            _ => return Err(self.explain(&what, &r)),
        }
        let etag = header(&r, "ETag");
        let revision = header(&r, "Pulumi-ESC-Revision").and_then(|v| v.parse().ok());
        let text = r.text().await.map_err(|_| HttpError {
            status: Some(200),
            message: format!("{what}: the response could not be read"),
            request_id: None,
        })?;
        Ok(Some(Read { text, etag, revision }))
    }

    async fn create(&self) -> Result<(), HttpError> {
        let what = format!("creating ESC environment `{}`", self.full);
        let url = join(self.base_url, &format!("/api/esc/environments/{}", encode(self.org)));
        let body = serde_json::json!({ "project": self.project, "name": self.env });
        let r = self.ctx.http.send(&what, || self.req(reqwest::Method::POST, &url).json(&body)).await?;
        if r.status().is_success() || r.status().as_u16() == 409 {
            return Ok(());
        }
        Err(self.explain(&what, &r))
    }

    async fn update(&self, text: &str, etag: Option<&str>) -> Result<Written, PatchError> {
        let what = format!("writing ESC environment `{}`", self.full);
        let url = self.url("");
        // Sent once: pulumi/esc's client retries only GETs
        // (cmd/esc/cli/client/retry.go). An answer lost after sending is
        // reported, not replayed; the next run reads what is there.
        let r = match self
            .ctx
            .http
            .send_once(&what, || {
                let mut b = self
                    .req(reqwest::Method::PATCH, &url)
                    .header("Content-Type", "application/json")
                    .body(text.to_string());
                if let Some(tag) = etag {
                    b = b.header("ETag", tag);
                }
                b
            })
            .await
        {
            Ok(r) => r,
            Err(u) if u.may_have_applied => {
                return Err(PatchError::Other(HttpError {
                    message: format!(
                        "{}; it may have been applied: the next run reads `{}` and writes what is still missing",
                        u.error.message, self.full
                    ),
                    ..u.error
                }))
            }
            Err(u) => return Err(PatchError::Other(u.error)),
        };
        match r.status().as_u16() {
            200..=299 => Ok(Written(header(&r, "Pulumi-ESC-Revision").and_then(|v| v.parse().ok()))),
            409 => Err(PatchError::Conflict),
            400 => {
                let e = self.ctx.http.status_error(&what, &r, "");
                let n = r.json::<ErrorBody>().await.map(|b| b.diagnostics.len()).unwrap_or(0);
                Err(PatchError::Other(HttpError {
                    message: format!(
                        "{}: ESC rejected the new definition ({n} diagnostic(s)); check it with `esc env get {}`",
                        e.message, self.full
                    ),
                    ..e
                }))
            }
            _ => Err(PatchError::Other(self.explain(&what, &r))),
        }
    }

    fn explain(&self, what: &str, r: &reqwest::Response) -> HttpError {
        let hint = match r.status().as_u16() {
            401 => "the Pulumi token was rejected; check `esc-token` or the OIDC issuer set-up",
            403 => "the token has no access to this environment",
            404 => "not found",
            429 => "rate-limited by Pulumi Cloud (retries exhausted)",
            500..=599 => "Pulumi Cloud returned a server error (retries exhausted)",
            _ => "",
        };
        self.ctx.http.status_error(what, r, hint)
    }
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}
