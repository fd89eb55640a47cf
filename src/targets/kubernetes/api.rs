//! The few Kubernetes API calls a target makes, and what their errors mean.
//! Paths, content types and error bodies follow the Kubernetes API reference
//! (kubernetes.io/docs/reference/kubernetes-api: Secret v1, Deployment v1,
//! StatefulSet v1, DaemonSet v1, Status) and "Server-Side Apply".
//!
//! Errors are built from the status code and the `Status` body's structured
//! fields only (`reason`, `details.kind`, `details.causes[].field`, the
//! manager named in a conflict cause): never its free-text `message`, which
//! may quote what was sent.

use std::collections::BTreeMap;

use reqwest::{Method, RequestBuilder, Response};
use secrecy::ExposeSecret;
use serde_json::{json, Value as Json};

use super::kubeconfig::Auth;
use super::plan::{Conflict, Current};
use super::Conn;
use crate::http::{encode, join};
use super::Workload;
use crate::targets::driver::TargetError;

/// secret-sync's field manager name in `managedFields`.
pub const FIELD_MANAGER: &str = "secret-sync";
/// The pod template annotation `kubectl rollout restart` sets.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

pub struct Api<'a> {
    pub conn: &'a Conn,
    pub namespace: &'a str,
}

/// Why an apply did not happen.
pub enum SsaError {
    /// Keys other managers own (409 from the API server).
    Conflicts(Vec<Conflict>),
    Other(TargetError),
}

impl Api<'_> {
    fn req(&self, method: Method, path: &str) -> RequestBuilder {
        let r = self.conn.http.request(method, &join(&self.conn.server, path)).header("Accept", "application/json");
        match &self.conn.auth {
            Auth::None => r,
            Auth::Bearer(t) => r.bearer_auth(t.expose_secret()),
            Auth::Basic { user, password } => r.basic_auth(user, Some(password.expose_secret())),
        }
    }

    fn secret_path(&self, name: &str) -> String {
        format!("/api/v1/namespaces/{}/secrets/{}", encode(self.namespace), encode(name))
    }

    fn workload_path(&self, w: &Workload) -> String {
        format!("/apis/apps/v1/namespaces/{}/{}/{}", encode(self.namespace), w.kind.resource(), encode(&w.name))
    }

    /// One GET of the Secret (readSecret); `None` when it does not exist.
    pub async fn read_secret(&self, name: &str) -> Result<Option<Current>, TargetError> {
        let what = format!("reading Secret `{}/{name}`", self.namespace);
        let path = self.secret_path(name);
        let r = self.conn.http.send(&what, || self.req(Method::GET, &path)).await?;
        match r.status().as_u16() {
            200 => {
                let obj: Json =
                    r.json().await.map_err(|_| TargetError::new(format!("{what}: the response is not a Secret")))?;
                current(&obj)
                    .ok_or_else(|| TargetError::new(format!("{what}: the Secret's data is not base64")))
                    .map(Some)
            }
            // A missing namespace also answers 404 here; the apply names it.
            404 => Ok(None),
            _ => Err(self.explain(&what, r, "get", "secrets").await),
        }
    }

    /// Server-side apply (patchSecret with `application/apply-patch+yaml`,
    /// `fieldManager=secret-sync`, no `force`): creates the Secret when
    /// missing. JSON is YAML, so the body is the JSON object.
    pub async fn apply_secret(&self, name: &str, data: &BTreeMap<String, Vec<u8>>) -> Result<(), SsaError> {
        let what = format!("applying Secret `{}/{name}`", self.namespace);
        let path = format!("{}?fieldManager={FIELD_MANAGER}", self.secret_path(name));
        let mut body = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": { "name": name, "namespace": self.namespace },
        });
        // An empty `data: {}` would claim the map itself; leave it out instead.
        if !data.is_empty() {
            body["data"] = data.iter().map(|(k, v)| (k.clone(), Json::String(crate::util::b64(v)))).collect();
        }
        let bytes = body.to_string();
        let r = self
            .conn
            .http
            .send(&what, || {
                self.req(Method::PATCH, &path)
                    .header("Content-Type", "application/apply-patch+yaml")
                    .body(bytes.clone())
            })
            .await
            .map_err(|e| SsaError::Other(e.into()))?;
        match r.status().as_u16() {
            200 | 201 => Ok(()),
            409 => {
                let status: Json = r.json().await.unwrap_or(Json::Null);
                let conflicts = conflicts(&status);
                if conflicts.is_empty() {
                    return Err(SsaError::Other(TargetError {
                        status: Some(409),
                        ..TargetError::new(format!("{what}: HTTP 409 Conflict without conflicting fields"))
                    }));
                }
                Err(SsaError::Conflicts(conflicts))
            }
            _ => Err(SsaError::Other(self.explain(&what, r, "patch", "secrets").await)),
        }
    }

    /// Sets the restart annotation on the pod template, as `kubectl rollout
    /// restart` does (a strategic merge patch of
    /// `spec.template.metadata.annotations`; kubernetes/kubectl
    /// `pkg/polymorphichelpers/objectrestarter.go`). Returns the object.
    pub async fn restart(&self, w: &Workload, at: &str) -> Result<Json, TargetError> {
        let what = format!("restarting `{w}` in namespace `{}`", self.namespace);
        let path = format!("{}?fieldManager={FIELD_MANAGER}", self.workload_path(w));
        let body =
            json!({ "spec": { "template": { "metadata": { "annotations": { RESTARTED_AT: at } } } } }).to_string();
        let r = self
            .conn
            .http
            .send(&what, || {
                self.req(Method::PATCH, &path)
                    .header("Content-Type", "application/strategic-merge-patch+json")
                    .body(body.clone())
            })
            .await?;
        if r.status().as_u16() != 200 {
            return Err(self.explain(&what, r, "patch", w.kind.resource()).await);
        }
        r.json().await.map_err(|_| TargetError::new(format!("{what}: the response is not a {}", w.kind.as_str())))
    }

    /// One GET of a workload, for its rollout status.
    pub async fn workload(&self, w: &Workload) -> Result<Json, TargetError> {
        let what = format!("reading the rollout status of `{w}` in namespace `{}`", self.namespace);
        let path = self.workload_path(w);
        let r = self.conn.http.send(&what, || self.req(Method::GET, &path)).await?;
        if r.status().as_u16() != 200 {
            return Err(self.explain(&what, r, "get", w.kind.resource()).await);
        }
        r.json().await.map_err(|_| TargetError::new(format!("{what}: the response is not a {}", w.kind.as_str())))
    }

    /// A failed response in words: what to do about a status, from the
    /// `Status` body's structured fields, with the status and the API
    /// server's `Audit-ID` kept for the report.
    async fn explain(&self, what: &str, r: Response, verb: &str, resource: &str) -> TargetError {
        let code = r.status().as_u16();
        let base = self.conn.http.status_error(what, &r, "");
        let status: Json = r.json().await.unwrap_or(Json::Null);
        let ns = self.namespace;
        let hint = match code {
            401 => format!(
                "the cluster rejected the credentials of {} (Unauthorized); check the kubeconfig's token or client certificate, which may have expired",
                self.conn.origin
            ),
            403 => format!(
                "the kubeconfig's user may not `{verb}` {resource} in namespace `{ns}` (Forbidden); grant it with a Role (secrets: get, patch; workloads to restart: get, patch)"
            ),
            404 if status["details"]["kind"] == "namespaces" => {
                format!("namespace `{ns}` does not exist; create it (`kubectl create namespace {ns}`) or correct `namespace:` in the manifest")
            }
            404 => match status["details"]["name"].as_str() {
                Some(n) if status["details"]["kind"].is_string() => format!(
                    "{} `{n}` does not exist in namespace `{ns}`",
                    status["details"]["kind"].as_str().unwrap_or(resource)
                ),
                _ => format!("not found; check the kubeconfig's `server` ({}) points at a Kubernetes API server", self.conn.server),
            },
            422 => {
                let fields: Vec<String> = status["details"]["causes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["field"].as_str().map(|f| format!("`{f}`")))
                    .collect();
                format!("the API server refused it as invalid (fields: {})", if fields.is_empty() { "—".into() } else { fields.join(", ") })
            }
            429 => "rate-limited by the API server (retries exhausted)".into(),
            s if s >= 500 => "the API server returned an error (retries exhausted)".into(),
            _ => status["reason"].as_str().filter(|r| r.chars().all(|c| c.is_ascii_alphanumeric())).unwrap_or("").to_string(),
        };
        let mut e = base;
        if !hint.is_empty() {
            e.message = format!("{}: {hint}", e.message);
        }
        e.into()
    }
}

/// The data and per-key ownership of a Secret as the API returns it:
/// `metadata.managedFields[]` entries, each a manager, an operation and a
/// `fieldsV1` set in which `{"f:data": {"f:KEY": {}}}` marks a data key
/// (kubernetes.io, "Server-Side Apply", field management) and
/// `{"f:stringData": {"f:KEY": {}}}` a key written through `stringData`
/// (see plan.rs). `None` when a value is not base64.
pub fn current(obj: &Json) -> Option<Current> {
    let mut c = Current::default();
    if let Some(data) = obj["data"].as_object() {
        for (k, v) in data {
            c.data.insert(k.clone(), crate::util::unb64(v.as_str().unwrap_or_default())?);
        }
    }
    for entry in obj["metadata"]["managedFields"].as_array().into_iter().flatten() {
        let manager = entry["manager"].as_str().unwrap_or("");
        let operation = entry["operation"].as_str().unwrap_or("");
        // secret-sync never writes stringData: any owner there is another.
        for key in entry["fieldsV1"]["f:stringData"].as_object().into_iter().flat_map(|k| k.keys()) {
            let Some(key) = key.strip_prefix("f:") else { continue };
            c.string_data.entry(key.to_string()).or_default().push(format!("{manager} ({operation}, stringData)"));
        }
        let Some(keys) = entry["fieldsV1"]["f:data"].as_object() else { continue };
        for key in keys.keys().filter_map(|k| k.strip_prefix("f:")) {
            if manager == FIELD_MANAGER && operation == "Apply" {
                c.ours.insert(key.to_string());
            } else {
                c.others.entry(key.to_string()).or_default().push(format!("{manager} ({operation})"));
            }
        }
    }
    Some(c)
}

/// The conflicting data keys of a 409: causes of type `FieldManagerConflict`
/// with `field` `.data.KEY` and a message `conflict with "MANAGER" …`
/// (k8s.io/apiserver, field manager `NewConflictError`).
pub fn conflicts(status: &Json) -> Vec<Conflict> {
    let mut out: Vec<Conflict> = Vec::new();
    for cause in status["details"]["causes"].as_array().into_iter().flatten() {
        if cause["type"] != "FieldManagerConflict" && cause["reason"] != "FieldManagerConflict" {
            continue;
        }
        let Some(key) = cause["field"].as_str().and_then(|f| f.strip_prefix(".data.")) else { continue };
        let msg = cause["message"].as_str().unwrap_or("");
        let manager = msg
            .strip_prefix("conflict with \"")
            .and_then(|m| m.split('"').next())
            .filter(|m| m.len() <= 128)
            .unwrap_or("another manager")
            .to_string();
        match out.iter_mut().find(|c| c.key == key) {
            Some(c) => c.managers.push(manager),
            None => out.push(Conflict { key: key.to_string(), managers: vec![manager] }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_is_read_from_managed_fields() {
        let obj = json!({
            "metadata": { "managedFields": [
                { "manager": "secret-sync", "operation": "Apply", "fieldsV1": { "f:data": { "f:A": {}, "f:B": {} } } },
                { "manager": "kubectl-edit", "operation": "Update", "fieldsV1": { "f:data": { "f:C": {} }, "f:type": {} } },
                { "manager": "secret-sync", "operation": "Update", "fieldsV1": { "f:data": { "f:B": {} } } },
                { "manager": "helm", "operation": "Apply", "fieldsV1": { "f:stringData": { "f:D": {} } } },
            ] },
            "data": { "A": "MQ==", "B": "Mg==", "C": "Mw==" }
        });
        let c = current(&obj).unwrap();
        assert_eq!(c.data["A"], b"1");
        assert_eq!(c.ours.iter().collect::<Vec<_>>(), ["A", "B"]);
        assert_eq!(c.others["C"], ["kubectl-edit (Update)"]);
        assert_eq!(c.others["B"], ["secret-sync (Update)"]);
        assert_eq!(c.string_data["D"], ["helm (Apply, stringData)"]);
        assert!(!c.others.contains_key("D"));
        assert!(current(&json!({ "data": { "A": "not base64!" } })).is_none());
    }

    #[test]
    fn conflicts_come_from_the_causes() {
        let status = json!({ "kind": "Status", "code": 409, "reason": "Conflict", "details": { "causes": [
            { "type": "FieldManagerConflict", "message": "conflict with \"kubectl\" using v1", "field": ".data.A" },
            { "type": "FieldManagerConflict", "message": "conflict with \"helm\" using v1", "field": ".data.A" },
            { "type": "FieldManagerConflict", "message": "conflict with \"helm\" using v1", "field": ".metadata.labels.x" },
        ] } });
        assert_eq!(conflicts(&status), [Conflict { key: "A".into(), managers: vec!["kubectl".into(), "helm".into()] }]);
    }
}
