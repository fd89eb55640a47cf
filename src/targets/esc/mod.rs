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
pub mod definition;
pub mod edit;

use secrecy::ExposeSecret;
use serde::Deserialize;

use super::{Context, Desired, TargetOutcome};
use crate::http::{encode, join, HttpError};
use crate::manifest::TargetSpec;
use crate::plan::TargetStatus;

/// Default Pulumi Cloud API.
pub const DEFAULT_API: &str = "https://api.pulumi.com";
/// Accept header the official client sends.
const ACCEPT: &str = "application/vnd.pulumi+8";
/// How often a write is retried after a concurrent edit (409).
const CONFLICT_RETRIES: usize = 3;

pub struct Settings {
    pub base_url: String,
    pub auth: auth::Auth,
}

/// A definition as read.
struct Current {
    text: String,
    etag: Option<String>,
    revision: Option<u64>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    diagnostics: Vec<serde::de::IgnoredAny>,
}

pub async fn run(ctx: &Context, d: &Desired) -> TargetOutcome {
    let TargetSpec::Esc { org, project, env, create } = &d.target.spec else {
        unreachable!("esc::run is only called for ESC targets")
    };
    let full = format!("{org}/{project}/{env}");
    let token = match ctx.esc.auth.token(&ctx.http, org).await {
        Ok(t) => t,
        Err(e) => return TargetOutcome::failed(e),
    };
    let api = Api { ctx, org, project, env, full: &full, token: token.expose_secret() };

    let mut created = false;
    for _attempt in 0..=CONFLICT_RETRIES {
        let current = match api.read().await {
            Ok(Some(c)) => c,
            Ok(None) if *create => Current { text: String::new(), etag: None, revision: None },
            Ok(None) => {
                return TargetOutcome::failed(format!(
                    "ESC environment `{full}` does not exist: create it (`esc env init {full}`) or set `create: true` on target `esc.{}`",
                    d.target.name
                ))
            }
            Err(e) => return TargetOutcome::failed(e.to_string()),
        };
        let exists = current.revision.is_some();
        let plan = match definition::parse(&current.text) {
            Ok(doc) => definition::plan(&doc, &d.keys, ctx.prune),
            Err(e) => return TargetOutcome::failed(format!("ESC environment `{full}`: {e}")),
        };
        let plan = match plan {
            Ok(p) => p,
            Err(c) => return TargetOutcome::failed(format!("ESC environment `{full}`: {}", c.0)),
        };
        let mut out = TargetOutcome {
            changes: plan.changes,
            unrouted: plan.unrouted,
            revision_before: current.revision,
            ..TargetOutcome::default()
        };
        if !exists {
            out.warnings.push(format!("ESC environment `{full}` does not exist yet; it is created (`create: true`)"));
        }
        if let Some(capped) = ctx.over_delete_cap(plan.deletes, out.changes.clone()) {
            return TargetOutcome { revision_before: out.revision_before, ..capped };
        }
        if plan.ops.is_empty() {
            out.status = Some(if ctx.writes() { TargetStatus::Unchanged } else { TargetStatus::Planned });
            return out;
        }
        let fail_edit = |out: TargetOutcome, e: String| {
            let mut failed = TargetOutcome::failed(format!("ESC environment `{full}`: {e}"));
            failed.changes = out.changes;
            failed.revision_before = out.revision_before;
            failed
        };
        if !ctx.writes() {
            // The same edit on the decrypted text, so a definition the editor
            // cannot handle fails in `plan` too, before anyone relies on it.
            if let Err(e) = edit::apply(&current.text, &plan.ops) {
                return fail_edit(out, e);
            }
            out.status = Some(TargetStatus::Planned);
            return out;
        }
        // The text to edit: as stored (see the module comment). A change
        // between the two reads is a concurrent edit: plan again.
        let (base, etag) = if exists {
            match api.read_stored().await {
                Ok(Some(s)) if s.revision == current.revision => (s.text, s.etag),
                Ok(_) => continue,
                Err(e) => return fail_edit(out, e.to_string()),
            }
        } else {
            (String::new(), None)
        };
        let new_text = match edit::apply(&base, &plan.ops) {
            Ok(t) => t,
            Err(e) => return fail_edit(out, e),
        };
        if !exists && !created {
            if let Err(e) = api.create().await {
                return TargetOutcome::failed(e.to_string());
            }
            created = true;
        }
        match api.update(&new_text, etag.as_deref()).await {
            Ok(Written(rev)) => {
                out.status = Some(TargetStatus::Synced);
                out.written = true;
                out.revision_after = rev;
                if let Some(before) = current.revision {
                    out.rollback = Some(format!("esc env version rollback {full}@{before}"));
                }
                return out;
            }
            Err(WriteError::Conflict) => {
                tracing::debug!(environment = %full, "concurrent edit; re-reading");
                continue;
            }
            Err(WriteError::Other(e)) => {
                let mut failed = TargetOutcome::failed(e.to_string());
                failed.changes = out.changes;
                failed.revision_before = out.revision_before;
                return failed;
            }
        }
    }
    TargetOutcome::failed(format!(
        "ESC environment `{full}` kept changing while secret-sync wrote it ({} conflicts); nothing was written. Re-run.",
        CONFLICT_RETRIES + 1
    ))
}

struct Written(Option<u64>);

enum WriteError {
    Conflict,
    Other(HttpError),
}

struct Api<'a> {
    ctx: &'a Context,
    org: &'a str,
    project: &'a str,
    env: &'a str,
    full: &'a str,
    token: &'a str,
}

impl Api<'_> {
    fn url(&self, suffix: &str) -> String {
        join(
            &self.ctx.esc.base_url,
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
    async fn read(&self) -> Result<Option<Current>, HttpError> {
        self.get("/decrypt", format!("reading ESC environment `{}`", self.full)).await
    }

    /// The definition as stored (secrets as ciphertext).
    async fn read_stored(&self) -> Result<Option<Current>, HttpError> {
        self.get("", format!("reading the stored definition of ESC environment `{}`", self.full)).await
    }

    async fn get(&self, suffix: &str, what: String) -> Result<Option<Current>, HttpError> {
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
        Ok(Some(Current { text, etag, revision }))
    }

    async fn create(&self) -> Result<(), HttpError> {
        let what = format!("creating ESC environment `{}`", self.full);
        let url = join(&self.ctx.esc.base_url, &format!("/api/esc/environments/{}", encode(self.org)));
        let body = serde_json::json!({ "project": self.project, "name": self.env });
        let r = self.ctx.http.send(&what, || self.req(reqwest::Method::POST, &url).json(&body)).await?;
        if r.status().is_success() || r.status().as_u16() == 409 {
            return Ok(());
        }
        Err(self.explain(&what, &r))
    }

    async fn update(&self, text: &str, etag: Option<&str>) -> Result<Written, WriteError> {
        let what = format!("writing ESC environment `{}`", self.full);
        let url = self.url("");
        let r = self
            .ctx
            .http
            .send(&what, || {
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
            .map_err(WriteError::Other)?;
        match r.status().as_u16() {
            200..=299 => Ok(Written(header(&r, "Pulumi-ESC-Revision").and_then(|v| v.parse().ok()))),
            409 => Err(WriteError::Conflict),
            400 => {
                let e = self.ctx.http.status_error(&what, &r, "");
                let n = r.json::<ErrorBody>().await.map(|b| b.diagnostics.len()).unwrap_or(0);
                Err(WriteError::Other(HttpError {
                    message: format!(
                        "{}: ESC rejected the new definition ({n} diagnostic(s)); check it with `esc env get {}`",
                        e.message, self.full
                    ),
                    ..e
                }))
            }
            _ => Err(WriteError::Other(self.explain(&what, &r))),
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
