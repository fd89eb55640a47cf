//! Kubernetes: the subset of the API server secret-sync and `kubectl get`,
//! `apply --server-side`, `rollout restart` and `rollout status` use —
//! discovery, core/v1 Secrets with server-side apply and `managedFields`,
//! and apps/v1 Deployments, StatefulSets and DaemonSets with a simulated
//! rollout. Each route names the Kubernetes API reference page it follows
//! (kubernetes.io/docs/reference/...); the apply rules are those of the
//! "Server-Side Apply" page, implemented here, not borrowed.
//!
//! Chosen where the reference is silent, and marked: a rollout advances one
//! step per read of the workload (`rollout_steps` reads finish it; `stuck`
//! never does), so request counts stay exact; a watch answers with one
//! MODIFIED event and ends (clients re-watch); only the fields this subset
//! needs are kept (no labels, no pod template beyond its annotations).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{json, Value as Json};

use super::{Reply, Req, State};

#[derive(Default)]
pub struct Kubernetes {
    /// Accepted bearer tokens.
    pub tokens: HashSet<String>,
    /// Requests without credentials are served (kube-apiserver's
    /// `--anonymous-auth` with RBAC allowing `system:anonymous`). kubectl
    /// sends no token to an `http://` server, so the kubectl check needs it.
    pub anonymous: bool,
    /// Namespaces the token may not touch (403).
    pub forbidden: HashSet<String>,
    pub namespaces: BTreeSet<String>,
    /// (namespace, name) → Secret.
    pub secrets: BTreeMap<(String, String), Secret>,
    /// (kind `deployment`/`statefulset`/`daemonset`, namespace, name) → workload.
    pub workloads: BTreeMap<(String, String, String), Workload>,
    /// The cluster's resource version counter.
    version: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Secret {
    pub data: BTreeMap<String, Vec<u8>>,
    pub managed: Vec<Managed>,
    pub resource_version: u64,
    pub kind: String,
}

/// One `managedFields` entry: the data keys a manager owns by an operation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Managed {
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// Owned under `f:data`.
    pub keys: BTreeSet<String>,
    /// Owned under `f:stringData`: written through `stringData`, which the
    /// server merges into `data` (its value winning, kubernetes.io "Managing
    /// Secrets using Configuration File") but tracks as its own field; the
    /// same pages note "the `stringData` field for a Secret does not work well
    /// with server-side apply". A `data` apply does not conflict with it.
    pub string_keys: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub replicas: i64,
    pub generation: i64,
    pub observed: i64,
    pub annotations: BTreeMap<String, String>,
    pub paused: bool,
    /// Reads left before the current rollout completes.
    pub steps_left: u32,
    /// How many reads a rollout takes.
    pub rollout_steps: u32,
    /// The knob: a rollout that never completes.
    pub stuck: bool,
    /// `restartedAt` values set, in order.
    pub restarts: Vec<String>,
    pub resource_version: u64,
}

impl Kubernetes {
    fn next(&mut self) -> u64 {
        self.version += 1;
        self.version
    }

    pub fn add_namespace(&mut self, ns: &str) {
        self.namespaces.insert(ns.into());
    }

    /// A workload with `replicas` ready replicas and no rollout under way.
    pub fn add_workload(&mut self, kind: &str, ns: &str, name: &str, replicas: i64) {
        let rv = self.next();
        self.workloads.insert(
            (kind.into(), ns.into(), name.into()),
            Workload {
                replicas,
                generation: 1,
                observed: 1,
                annotations: BTreeMap::new(),
                paused: false,
                steps_left: 0,
                rollout_steps: 2,
                stuck: false,
                restarts: Vec::new(),
                resource_version: rv,
            },
        );
    }

    pub fn workload(&self, kind: &str, ns: &str, name: &str) -> &Workload {
        &self.workloads[&(kind.to_string(), ns.to_string(), name.to_string())]
    }

    pub fn workload_mut(&mut self, kind: &str, ns: &str, name: &str) -> &mut Workload {
        self.workloads.get_mut(&(kind.to_string(), ns.to_string(), name.to_string())).expect("workload exists")
    }

    pub fn secret(&self, ns: &str, name: &str) -> Option<&Secret> {
        self.secrets.get(&(ns.to_string(), name.to_string()))
    }

    /// Another manager's write (`kubectl edit`, a controller): an Update
    /// takes the key from every other manager, as any non-apply write does.
    pub fn update_key(&mut self, ns: &str, name: &str, manager: &str, key: &str, value: &str) {
        let rv = self.next();
        let s = self
            .secrets
            .entry((ns.into(), name.into()))
            .or_insert_with(|| Secret { kind: "Opaque".into(), ..Secret::default() });
        s.data.insert(key.into(), value.as_bytes().to_vec());
        for m in &mut s.managed {
            m.keys.remove(key);
        }
        match s.managed.iter_mut().find(|m| m.manager == manager && m.operation == "Update") {
            Some(m) => {
                m.keys.insert(key.into());
            }
            None => s.managed.push(Managed {
                manager: manager.into(),
                operation: "Update".into(),
                keys: [key.to_string()].into(),
                ..Managed::default()
            }),
        }
        s.managed.retain(|m| !m.keys.is_empty() || !m.string_keys.is_empty());
        s.resource_version = rv;
    }

    /// Keys as if `manager` had written them with `operation` (`Apply` or
    /// `Update`), sharing ownership with whoever owns them already.
    pub fn seed(&mut self, ns: &str, name: &str, manager: &str, operation: &str, keys: &[(&str, &str)]) {
        self.seed_owned(ns, name, manager, operation, keys, false);
    }

    /// Keys as if `manager` had server-side applied them through
    /// `stringData`: in `data`, owned under `f:stringData`.
    pub fn seed_string_data(&mut self, ns: &str, name: &str, manager: &str, keys: &[(&str, &str)]) {
        self.seed_owned(ns, name, manager, "Apply", keys, true);
    }

    /// Writes `keys` into the Secret's data, owned by `manager` under
    /// `f:stringData` (`string`) or `f:data`.
    fn seed_owned(
        &mut self,
        ns: &str,
        name: &str,
        manager: &str,
        operation: &str,
        keys: &[(&str, &str)],
        string: bool,
    ) {
        let rv = self.next();
        let s = self
            .secrets
            .entry((ns.into(), name.into()))
            .or_insert_with(|| Secret { kind: "Opaque".into(), ..Secret::default() });
        for (k, v) in keys {
            s.data.insert(k.to_string(), v.as_bytes().to_vec());
        }
        let set: BTreeSet<String> = keys.iter().map(|(k, _)| k.to_string()).collect();
        let m = match s.managed.iter().position(|m| m.manager == manager && m.operation == operation) {
            Some(i) => &mut s.managed[i],
            None => {
                s.managed.push(Managed { manager: manager.into(), operation: operation.into(), ..Managed::default() });
                s.managed.last_mut().expect("just pushed")
            }
        };
        if string { &mut m.string_keys } else { &mut m.keys }.extend(set);
        s.resource_version = rv;
    }

    /// The value of a key, as text.
    pub fn value(&self, ns: &str, name: &str, key: &str) -> Option<String> {
        self.secret(ns, name)?.data.get(key).map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// Keys `manager` owns by apply.
    pub fn applied_by(&self, ns: &str, name: &str, manager: &str) -> Vec<String> {
        self.secret(ns, name)
            .and_then(|s| s.managed.iter().find(|m| m.manager == manager && m.operation == "Apply"))
            .map(|m| m.keys.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// A `Status` object (API reference: Common Definitions, Status).
pub fn status(code: u16, reason: &str, message: &str, details: Json) -> Reply {
    let mut body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    if !details.is_null() {
        body["details"] = details;
    }
    Reply::json(code, body).with_header("Audit-Id", "emu-k8s-audit")
}

fn ok(code: u16, v: Json) -> Reply {
    Reply::json(code, v).with_header("Audit-Id", "emu-k8s-audit")
}

fn not_found(kind: &str, name: &str) -> Reply {
    status(404, "NotFound", &format!("{kind} \"{name}\" not found"), json!({ "name": name, "kind": kind }))
}

pub fn route(st: &mut State, r: &Req) -> Option<Reply> {
    let p = r.path;
    let ours = p == "/api"
        || p == "/apis"
        || p == "/version"
        || p.starts_with("/api/v1")
        || p.starts_with("/apis/")
        || p.starts_with("/openapi/");
    if !ours {
        return None;
    }
    let k = &mut st.kubernetes;
    // Authentication (reference: "Authenticating", bearer tokens; anonymous
    // requests): an unknown token is 401 on every request, discovery
    // included; no token at all is 401 unless anonymous requests are on.
    let auth = r.header("authorization");
    let token = auth.and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("");
    if !(k.tokens.contains(token) || auth.is_none() && k.anonymous) {
        return Some(status(401, "Unauthorized", "Unauthorized", Json::Null));
    }
    let parts: Vec<String> = p.split('/').skip(1).map(super::percent_decode).collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    Some(match (r.method, parts.as_slice()) {
        ("GET", ["version"]) => ok(
            200,
            json!({ "major": "1", "minor": "32", "gitVersion": "v1.32.0-secret-sync-emulator", "platform": "linux/amd64" }),
        ),
        ("GET", ["api"]) => discovery_api(),
        ("GET", ["apis"]) => discovery_apis(),
        ("GET", ["api", "v1"]) => resources_core(),
        ("GET", ["apis", "apps", "v1"]) => resources_apps(),
        // No OpenAPI documents: kubectl then skips its schema checks
        // (`--validate=false` makes that explicit).
        (_, ["openapi", ..]) => status(404, "NotFound", "the server could not find the requested resource", Json::Null),
        (_, ["api", "v1", "namespaces", ns, rest @ ..]) if k.forbidden.contains(*ns) => forbidden(r.method, ns, rest),
        (_, ["apis", "apps", "v1", "namespaces", ns, rest @ ..]) if k.forbidden.contains(*ns) => {
            forbidden(r.method, ns, rest)
        }
        ("GET", ["api", "v1", "namespaces", ns, "secrets"]) => list_secrets(k, ns),
        ("GET", ["api", "v1", "namespaces", ns, "secrets", name]) => match k.secret(ns, name) {
            Some(s) => ok(200, secret_json(ns, name, s)),
            None => not_found("secrets", name),
        },
        ("PATCH", ["api", "v1", "namespaces", ns, "secrets", name]) => patch_secret(k, r, ns, name),
        ("GET", ["apis", "apps", "v1", "namespaces", ns, resource, name]) => match kind_of(resource) {
            Some(kind) => read_workload(k, kind, ns, name),
            None => not_found(resource, name),
        },
        ("GET", ["apis", "apps", "v1", "namespaces", ns, resource]) => match kind_of(resource) {
            Some(kind) => list_workloads(k, r, kind, ns),
            None => status(404, "NotFound", "the server could not find the requested resource", Json::Null),
        },
        ("PATCH", ["apis", "apps", "v1", "namespaces", ns, resource, name]) => match kind_of(resource) {
            Some(kind) => patch_workload(k, r, kind, ns, name),
            None => not_found(resource, name),
        },
        _ => status(404, "NotFound", "the server could not find the requested resource", Json::Null),
    })
}

/// RBAC's denial (reference: "Authorization", the Forbidden Status).
fn forbidden(method: &str, ns: &str, rest: &[&str]) -> Reply {
    let resource = rest.first().copied().unwrap_or("namespaces");
    let verb = match method {
        "PATCH" => "patch",
        _ if rest.len() >= 2 => "get",
        _ => "list",
    };
    status(
        403,
        "Forbidden",
        &format!("{resource} is forbidden: User \"system:serviceaccount:ci:deployer\" cannot {verb} resource \"{resource}\" in the namespace \"{ns}\""),
        json!({ "kind": resource }),
    )
}

/// `GET /api` (reference: "Discovery API", APIVersions).
fn discovery_api() -> Reply {
    ok(
        200,
        json!({ "kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1" }] }),
    )
}

/// `GET /apis` (reference: "Discovery API", APIGroupList; the unaggregated
/// form, which clients fall back to when the aggregated one is not offered).
fn discovery_apis() -> Reply {
    let v = json!({ "groupVersion": "apps/v1", "version": "v1" });
    ok(
        200,
        json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": [{ "name": "apps", "versions": [v], "preferredVersion": v }] }),
    )
}

fn resource(name: &str, kind: &str, namespaced: bool, short: &[&str], verbs: &[&str]) -> Json {
    json!({ "name": name, "singularName": kind.to_ascii_lowercase(), "namespaced": namespaced, "kind": kind, "verbs": verbs, "shortNames": short })
}

/// `GET /api/v1` (reference: "Discovery API", APIResourceList).
fn resources_core() -> Reply {
    let all = ["create", "delete", "get", "list", "patch", "update", "watch"];
    ok(
        200,
        json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": [
        resource("namespaces", "Namespace", false, &["ns"], &all),
        resource("secrets", "Secret", true, &[], &all),
    ] }),
    )
}

/// `GET /apis/apps/v1`.
fn resources_apps() -> Reply {
    let all = ["create", "delete", "get", "list", "patch", "update", "watch"];
    ok(
        200,
        json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "apps/v1", "resources": [
        resource("daemonsets", "DaemonSet", true, &["ds"], &all),
        resource("deployments", "Deployment", true, &["deploy"], &all),
        resource("statefulsets", "StatefulSet", true, &["sts"], &all),
    ] }),
    )
}

/// A Secret as the API returns it (reference: Secret v1; ObjectMeta
/// `managedFields`, ManagedFieldsEntry with `fieldsType: FieldsV1`, where a
/// data key is `{"f:data": {"f:KEY": {}}}` and one written through
/// `stringData` is `{"f:stringData": {"f:KEY": {}}}`).
fn secret_json(ns: &str, name: &str, s: &Secret) -> Json {
    let managed: Vec<Json> = s
        .managed
        .iter()
        .map(|m| {
            let set = |keys: &BTreeSet<String>| -> serde_json::Map<String, Json> {
                keys.iter().map(|k| (format!("f:{k}"), json!({}))).collect()
            };
            let mut fields = serde_json::Map::new();
            if !m.keys.is_empty() {
                fields.insert("f:data".into(), Json::Object(set(&m.keys)));
            }
            if !m.string_keys.is_empty() {
                fields.insert("f:stringData".into(), Json::Object(set(&m.string_keys)));
            }
            json!({ "manager": m.manager, "operation": m.operation, "apiVersion": "v1", "time": "2026-01-01T00:00:00Z",
                    "fieldsType": "FieldsV1", "fieldsV1": fields })
        })
        .collect();
    let data: serde_json::Map<String, Json> =
        s.data.iter().map(|(k, v)| (k.clone(), Json::String(crate::b64(v)))).collect();
    json!({
        "kind": "Secret", "apiVersion": "v1",
        "metadata": { "name": name, "namespace": ns, "uid": format!("uid-{ns}-{name}"), "resourceVersion": s.resource_version.to_string(),
                      "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": managed },
        "data": data, "type": s.kind,
    })
}

/// `GET /api/v1/namespaces/{ns}/secrets` (listCoreV1NamespacedSecret).
fn list_secrets(k: &Kubernetes, ns: &str) -> Reply {
    let items: Vec<Json> =
        k.secrets.iter().filter(|((n, _), _)| n == ns).map(|((n, name), s)| secret_json(n, name, s)).collect();
    ok(
        200,
        json!({ "kind": "SecretList", "apiVersion": "v1", "metadata": { "resourceVersion": k.version.to_string() }, "items": items }),
    )
}

/// `PATCH /api/v1/namespaces/{ns}/secrets/{name}` (patchCoreV1NamespacedSecret).
/// Only `application/apply-patch+yaml` (server-side apply) is served.
fn patch_secret(k: &mut Kubernetes, r: &Req, ns: &str, name: &str) -> Reply {
    let ctype = r.header("content-type").unwrap_or("");
    if !ctype.starts_with("application/apply-patch+yaml") {
        return status(
            415,
            "UnsupportedMediaType",
            "the emulator serves only server-side apply on secrets",
            Json::Null,
        );
    }
    // "fieldManager is required for apply requests" (PatchOptions).
    let Some(manager) = r.query_param("fieldManager").filter(|m| !m.is_empty()) else {
        return status(400, "BadRequest", "fieldManager: Required value: is required for apply patch", Json::Null);
    };
    let force = r.query_param("force").as_deref() == Some("true");
    // JSON is YAML: one parser reads both.
    let Ok(body) = serde_yaml::from_slice::<Json>(r.body) else {
        return status(400, "BadRequest", "the body is not YAML or JSON", Json::Null);
    };
    if body["kind"] != "Secret" || body["apiVersion"] != "v1" || body["metadata"]["name"] != name {
        return status(400, "BadRequest", "the applied object must be a v1 Secret with the request's name", Json::Null);
    }
    if body["metadata"]["namespace"].as_str().is_some_and(|n| n != ns) {
        return status(400, "BadRequest", "the namespace of the object does not match the request", Json::Null);
    }
    // Creating into a missing namespace: 404 naming the namespace.
    if !k.namespaces.contains(ns) {
        return not_found("namespaces", ns);
    }
    let mut applied: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (key, v) in body["data"].as_object().into_iter().flatten() {
        match v.as_str().and_then(crate::unb64) {
            Some(bytes) => applied.insert(key.clone(), bytes),
            None => {
                return status(
                    422,
                    "Invalid",
                    "data: illegal base64 data",
                    json!({ "name": name, "kind": "Secret", "causes": [{ "reason": "FieldValueInvalid", "field": format!("data[{key}]") }] }),
                )
            }
        };
    }
    // stringData is merged into data on write, its values winning (Secret
    // v1 reference), but owned as its own field, `f:stringData`.
    let mut applied_string: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (key, v) in body["stringData"].as_object().into_iter().flatten() {
        applied_string.insert(key.clone(), v.as_str().unwrap_or_default().as_bytes().to_vec());
    }
    let key = (ns.to_string(), name.to_string());
    let created = !k.secrets.contains_key(&key);
    let mut s = k
        .secrets
        .get(&key)
        .cloned()
        .unwrap_or_else(|| Secret { kind: body["type"].as_str().unwrap_or("Opaque").to_string(), ..Secret::default() });
    let before = s.clone();
    // Conflicts: a key set to a different value that another manager owns
    // under the same field (`.data.KEY` or `.stringData.KEY`): an owner of
    // the other field is not asked, which is the documented caveat.
    let mut conflicts: Vec<(String, String)> = Vec::new();
    let me = |m: &Managed| m.manager == manager && m.operation == "Apply";
    for (field, map, string) in [("data", &applied, false), ("stringData", &applied_string, true)] {
        for (key, value) in map {
            if s.data.get(key).is_none_or(|have| have == value) {
                continue;
            }
            for m in
                s.managed.iter().filter(|m| (if string { &m.string_keys } else { &m.keys }).contains(key) && !me(m))
            {
                conflicts.push((m.manager.clone(), format!(".{field}.{key}")));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        // The message as the API server words it (k8s.io/apiserver field
        // manager, `NewConflictError`): kubectl shows only this message.
        let message = match conflicts.as_slice() {
            [(m, f)] => format!("Apply failed with 1 conflict: conflict with \"{m}\" using v1: {f}"),
            many => {
                let fields: Vec<String> =
                    many.iter().map(|(m, f)| format!("conflict with \"{m}\" using v1: {f}")).collect();
                format!("Apply failed with {} conflicts: {}", many.len(), fields.join("\n"))
            }
        };
        let causes: Vec<Json> = conflicts
            .iter()
            .map(|(m, f)| json!({ "type": "FieldManagerConflict", "message": format!("conflict with \"{m}\" using v1"), "field": f }))
            .collect();
        return status(409, "Conflict", &message, json!({ "causes": causes }));
    }
    let previous: BTreeSet<String> = s.managed.iter().find(|m| me(m)).map(|m| m.keys.clone()).unwrap_or_default();
    for (string, map) in [(false, &applied), (true, &applied_string)] {
        for (key, value) in map {
            if s.data.get(key) != Some(value) {
                // A changed value (possible here only when forced, or
                // through the other field) moves that field's ownership.
                for m in &mut s.managed {
                    (if string { &mut m.string_keys } else { &mut m.keys }).remove(key);
                }
            }
            s.data.insert(key.clone(), value.clone());
        }
    }
    // Keys this manager applied before and leaves out now: removed unless
    // another manager still owns them under `f:data`.
    for key in previous.iter().filter(|k| !applied.contains_key(*k)) {
        let kept = s.managed.iter().any(|m| m.keys.contains(key) && !me(m));
        if !kept {
            s.data.remove(key);
        }
    }
    let keys: BTreeSet<String> = applied.keys().cloned().collect();
    let string_keys: BTreeSet<String> = applied_string.keys().cloned().collect();
    match s.managed.iter_mut().find(|m| me(m)) {
        Some(m) => {
            m.keys = keys;
            m.string_keys = string_keys;
        }
        None => s.managed.push(Managed { manager: manager.clone(), operation: "Apply".into(), keys, string_keys }),
    }
    s.managed.retain(|m| !m.keys.is_empty() || !m.string_keys.is_empty());
    if created || s.data != before.data || s.managed != before.managed {
        s.resource_version = k.next();
    }
    let reply = secret_json(ns, name, &s);
    k.secrets.insert(key, s);
    ok(if created { 201 } else { 200 }, reply)
}

fn kind_of(resource: &str) -> Option<&'static str> {
    match resource {
        "deployments" => Some("deployment"),
        "statefulsets" => Some("statefulset"),
        "daemonsets" => Some("daemonset"),
        _ => None,
    }
}

/// Moves a rollout one step on (the simulation: the controller's work
/// between two reads).
fn advance(w: &mut Workload) {
    if w.observed < w.generation {
        w.observed = w.generation;
    }
    if w.steps_left > 0 && !w.stuck && !w.paused {
        w.steps_left -= 1;
    }
}

/// The apps/v1 object with the status fields `kubectl rollout status` reads
/// (reference: Deployment v1 DeploymentStatus; StatefulSet v1
/// StatefulSetStatus; DaemonSet v1 DaemonSetStatus).
fn workload_json(kind: &str, ns: &str, name: &str, w: &Workload) -> Json {
    let done = w.steps_left == 0 && w.observed == w.generation;
    let n = w.replicas;
    let updated = if done { n } else { n / 2 };
    let template = json!({ "metadata": { "annotations": w.annotations }, "spec": { "containers": [{ "name": "app", "image": "app:1" }] } });
    let meta = json!({ "name": name, "namespace": ns, "uid": format!("uid-{kind}-{ns}-{name}"), "generation": w.generation,
                       "resourceVersion": w.resource_version.to_string(), "creationTimestamp": "2026-01-01T00:00:00Z" });
    let rev = |g: i64| format!("{name}-rev{g}");
    match kind {
        "deployment" => json!({
            "kind": "Deployment", "apiVersion": "apps/v1", "metadata": meta,
            "spec": { "replicas": n, "paused": w.paused, "strategy": { "type": "RollingUpdate" }, "template": template },
            "status": { "observedGeneration": w.observed, "replicas": if done { n } else { n + 1 }, "updatedReplicas": updated,
                        "readyReplicas": n, "availableReplicas": n,
                        "conditions": [{ "type": "Progressing", "status": "True", "reason": if done { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" } }] },
        }),
        "statefulset" => json!({
            "kind": "StatefulSet", "apiVersion": "apps/v1", "metadata": meta,
            "spec": { "replicas": n, "updateStrategy": { "type": "RollingUpdate" }, "template": template },
            "status": { "observedGeneration": w.observed, "replicas": n, "readyReplicas": n, "updatedReplicas": updated,
                        "currentRevision": if done { rev(w.generation) } else { rev(w.generation - 1) }, "updateRevision": rev(w.generation) },
        }),
        _ => json!({
            "kind": "DaemonSet", "apiVersion": "apps/v1", "metadata": meta,
            "spec": { "updateStrategy": { "type": "RollingUpdate" }, "template": template },
            "status": { "observedGeneration": w.observed, "desiredNumberScheduled": n, "currentNumberScheduled": n,
                        "updatedNumberScheduled": updated, "numberAvailable": if done { n } else { n - 1 }, "numberReady": n },
        }),
    }
}

/// `GET /apis/apps/v1/namespaces/{ns}/{resource}/{name}` (readAppsV1Namespaced…).
fn read_workload(k: &mut Kubernetes, kind: &str, ns: &str, name: &str) -> Reply {
    let key = (kind.to_string(), ns.to_string(), name.to_string());
    let Some(w) = k.workloads.get_mut(&key) else { return not_found(&format!("{kind}s.apps"), name) };
    advance(w);
    ok(200, workload_json(kind, ns, name, w))
}

/// `GET …/{resource}?fieldSelector=metadata.name=NAME` (list), and the same
/// with `watch=true` (reference: "API Concepts", efficient detection of
/// changes): one MODIFIED event, then the stream ends.
fn list_workloads(k: &mut Kubernetes, r: &Req, kind: &str, ns: &str) -> Reply {
    let only = r.query_param("fieldSelector").and_then(|f| f.strip_prefix("metadata.name=").map(str::to_string));
    let version = k.version;
    let mut items = Vec::new();
    for ((kd, n, name), w) in k.workloads.iter_mut() {
        if kd != kind || n != ns || only.as_ref().is_some_and(|o| o != name) {
            continue;
        }
        advance(w);
        items.push(workload_json(kind, ns, name, w));
    }
    if r.query_param("watch").as_deref() == Some("true") {
        let mut body = String::new();
        for item in items {
            body.push_str(&json!({ "type": "MODIFIED", "object": item }).to_string());
            body.push('\n');
        }
        return Reply {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into_bytes(),
        };
    }
    let list_kind = match kind {
        "deployment" => "DeploymentList",
        "statefulset" => "StatefulSetList",
        _ => "DaemonSetList",
    };
    ok(
        200,
        json!({ "kind": list_kind, "apiVersion": "apps/v1", "metadata": { "resourceVersion": version.to_string() }, "items": items }),
    )
}

/// `PATCH /apis/apps/v1/namespaces/{ns}/{resource}/{name}` with a strategic
/// merge or JSON merge patch (reference: "Update API Objects in Place Using
/// kubectl patch"). Served fields: `spec.template.metadata.annotations`,
/// `spec.replicas`, `spec.paused`. A changed pod template bumps
/// `metadata.generation` and starts a rollout.
fn patch_workload(k: &mut Kubernetes, r: &Req, kind: &str, ns: &str, name: &str) -> Reply {
    let ctype = r.header("content-type").unwrap_or("");
    if !(ctype.starts_with("application/strategic-merge-patch+json")
        || ctype.starts_with("application/merge-patch+json"))
    {
        return status(
            415,
            "UnsupportedMediaType",
            "the emulator serves strategic merge and merge patches on workloads",
            Json::Null,
        );
    }
    let Ok(patch) = serde_json::from_slice::<Json>(r.body) else {
        return status(400, "BadRequest", "the patch is not JSON", Json::Null);
    };
    let rv = k.next();
    let key = (kind.to_string(), ns.to_string(), name.to_string());
    let Some(w) = k.workloads.get_mut(&key) else { return not_found(&format!("{kind}s.apps"), name) };
    let mut template_changed = false;
    for (a, v) in patch["spec"]["template"]["metadata"]["annotations"].as_object().into_iter().flatten() {
        let new = v.as_str().map(str::to_string);
        if w.annotations.get(a) != new.as_ref() {
            template_changed = true;
            match new {
                Some(text) => {
                    if a == "kubectl.kubernetes.io/restartedAt" {
                        w.restarts.push(text.clone());
                    }
                    w.annotations.insert(a.clone(), text)
                }
                None => w.annotations.remove(a),
            };
        }
    }
    if let Some(n) = patch["spec"]["replicas"].as_i64() {
        w.replicas = n;
    }
    if let Some(p) = patch["spec"]["paused"].as_bool() {
        w.paused = p;
    }
    if template_changed {
        w.generation += 1;
        w.steps_left = w.rollout_steps;
    }
    w.resource_version = rv;
    ok(200, workload_json(kind, ns, name, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(
        method: &'a str,
        path: &'a str,
        query: &'a str,
        headers: &'a hyper::HeaderMap,
        body: &'a [u8],
    ) -> Req<'a> {
        Req { method, path, query, headers, body }
    }

    fn apply(st: &mut State, manager: &str, data: Json) -> Reply {
        let mut h = hyper::HeaderMap::new();
        h.insert("authorization", "Bearer t".parse().unwrap());
        h.insert("content-type", "application/apply-patch+yaml".parse().unwrap());
        let body =
            json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "s" }, "data": data }).to_string();
        let q = format!("fieldManager={manager}");
        route(st, &req("PATCH", "/api/v1/namespaces/ns/secrets/s", &q, &h, body.as_bytes())).unwrap()
    }

    fn b(v: &str) -> Json {
        Json::String(crate::b64(v.as_bytes()))
    }

    #[test]
    fn a_data_apply_does_not_conflict_with_a_string_data_owner() {
        // The documented caveat: stringData is owned as its own field.
        let mut st = State::default();
        st.kubernetes.tokens.insert("t".into());
        st.kubernetes.add_namespace("ns");
        st.kubernetes.seed_string_data("ns", "s", "argocd", &[("K", "theirs")]);
        assert_eq!(apply(&mut st, "a", json!({ "K": b("mine") })).status, 200);
        assert_eq!(st.kubernetes.value("ns", "s", "K").as_deref(), Some("mine"));
        let m = &st.kubernetes.secret("ns", "s").unwrap().managed;
        assert!(m.iter().any(|m| m.manager == "argocd" && m.string_keys.contains("K")), "{m:?}");
    }

    #[test]
    fn apply_creates_updates_removes_and_conflicts_like_the_reference() {
        let mut st = State::default();
        st.kubernetes.tokens.insert("t".into());
        assert_eq!(apply(&mut st, "a", json!({ "X": b("1") })).status, 404, "missing namespace");
        st.kubernetes.add_namespace("ns");
        assert_eq!(apply(&mut st, "a", json!({ "X": b("1"), "Y": b("2") })).status, 201);
        // Another manager co-owns Y with the same value: no conflict.
        assert_eq!(apply(&mut st, "b", json!({ "Y": b("2") })).status, 200);
        // …but changing it is one.
        let r = apply(&mut st, "b", json!({ "Y": b("3") }));
        assert_eq!(r.status, 409);
        assert!(String::from_utf8_lossy(&r.body).contains(".data.Y"));
        // `a` leaves out X (removed: only `a` owned it) and Y (kept: `b` owns it).
        assert_eq!(apply(&mut st, "a", json!({})).status, 200);
        let k = &st.kubernetes;
        assert_eq!(k.value("ns", "s", "X"), None);
        assert_eq!(k.value("ns", "s", "Y").as_deref(), Some("2"));
        assert_eq!(k.applied_by("ns", "s", "b"), ["Y"]);
        assert!(k.applied_by("ns", "s", "a").is_empty());
    }
}
