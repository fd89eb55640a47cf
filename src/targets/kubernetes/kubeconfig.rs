//! Where the cluster is and how to authenticate, as kubectl finds it: the
//! `kubeconfig` input (a file's content), else the files `KUBECONFIG` lists
//! (merged, the first to set a value wins), else `~/.kube/config`, else the
//! in-cluster service account (`KUBERNETES_SERVICE_HOST`/`_PORT`). These are
//! client-go's loading rules (k8s.io/client-go `tools/clientcmd/loader.go`,
//! `rest/config.go` `InClusterConfig`; kubernetes.io "Organizing Cluster
//! Access Using kubeconfig Files").
//!
//! Supported credentials: `token`/`tokenFile`, `username`/`password`, client
//! certificates (`client-certificate[-data]`, `client-key[-data]`), and the
//! cluster's CA (`certificate-authority[-data]`). `insecure-skip-tls-verify`
//! is honoured, as kubectl honours it, with a warning in the report.
//! `exec` plugins and `auth-provider`s run programs this scratch image does
//! not have: they are refused with the token-based alternative.
//!
//! Nothing from the file's content ever reaches a message: YAML errors are
//! reported by line and column only.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// What to do with an `exec` plugin, said once for every message about it.
pub const EXEC_ALTERNATIVE: &str = "get a token in an earlier step (EKS: `aws eks get-token --cluster-name NAME --output json | jq -r .status.token`; GKE: `gcloud auth print-access-token`) and pass a kubeconfig whose user has `token:` instead";

/// Why no cluster could be found or read; each names the place and what to do,
/// never the file's content.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("the certificate authority of {origin} is not PEM certificates")]
    CaNotPem { origin: String },
    #[error("the certificate authority of {origin} holds no certificate")]
    CaEmpty { origin: String },
    #[error("the client certificate and key of {origin} are not a PEM certificate and private key")]
    IdentityNotPem { origin: String },
    #[error("cannot read `{path}` (from KUBECONFIG): {reason}")]
    Unreadable { path: String, reason: String },
    #[error(
        "KUBECONFIG names {listed} but no such file exists here; a container action sees only files under the workspace or the runner's temp directory, so write the kubeconfig there (or pass its content in the `kubeconfig` input)"
    )]
    NoFile { listed: String },
    #[error(
        "no cluster credentials: set the `kubeconfig` input to a kubeconfig's content (from a secret), or set KUBECONFIG in an earlier step"
    )]
    NoCredentials,
    #[error(
        "KUBERNETES_SERVICE_HOST is set but the service account token cannot be read ({reason}); pass a kubeconfig instead"
    )]
    ServiceAccountToken { reason: String },
    #[error("{what} is empty")]
    Empty { what: String },
    #[error(
        "{what} is not a valid kubeconfig (line {line}, column {column}): check it with `kubectl config view --kubeconfig FILE`"
    )]
    Yaml { what: String, line: usize, column: usize },
    /// `place` is empty or ` (`key`, line N)`.
    #[error("{what} is not a valid kubeconfig{place}: check it with `kubectl config view --kubeconfig FILE`")]
    Shape { what: String, place: String },
    #[error("{what}: the current context `{current}` is not defined under `contexts`")]
    NoSuchContext { what: String, current: String },
    #[error("{what} sets no `current-context` and has {count} contexts; set `current-context`")]
    NoCurrentContext { what: String, count: usize },
    #[error("{origin} names no cluster")]
    NoCluster { origin: String },
    #[error("{origin} uses cluster `{cluster}`, which is not defined under `clusters`")]
    NoSuchCluster { origin: String, cluster: String },
    #[error("{origin} uses user `{user}`, which is not defined under `users`")]
    NoSuchUser { origin: String, user: String },
    #[error("cluster `{cluster}` of {what} has no `server`")]
    NoServer { cluster: String, what: String },
    #[error("the `server` of cluster `{cluster}` in {what} is not an http(s) URL")]
    BadServer { cluster: String, what: String },
    #[error(
        "{origin}: the user's credentials come from an `exec` plugin (`{command}`), which cannot run inside secret-sync's container; {alternative}",
        alternative = EXEC_ALTERNATIVE
    )]
    Exec { origin: String, command: String },
    #[error(
        "{origin}: the user's credentials come from the `{provider}` auth-provider, which kubectl itself no longer supports; {alternative}",
        alternative = EXEC_ALTERNATIVE
    )]
    AuthProvider { origin: String, provider: String },
    #[error("{origin}: the user has a client certificate without its key, or a key without its certificate")]
    HalfIdentity { origin: String },
    #[error("{origin}: `{field}` is not base64")]
    NotBase64 { origin: String, field: String },
    #[error("{origin}: cannot read `{field}` file `{path}`: {reason}")]
    FieldUnreadable { origin: String, field: String, path: String, reason: String },
}

/// A cluster to talk to, resolved from a kubeconfig.
pub struct Cluster {
    /// The API server's base URL.
    pub server: String,
    /// Where it came from (`context prod in $KUBECONFIG`), for messages.
    pub origin: String,
    pub auth: Auth,
    /// PEM CA certificates to trust instead of the built-in roots.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM client certificate followed by its key.
    pub identity_pem: Option<SecretString>,
    pub insecure: bool,
}

pub enum Auth {
    None,
    Bearer(SecretString),
    Basic { user: String, password: SecretString },
}

impl Cluster {
    /// Every credential, for the runner to mask before anything is printed.
    pub fn secrets(&self) -> Vec<&SecretString> {
        let mut out = Vec::new();
        match &self.auth {
            Auth::Bearer(t) => out.push(t),
            Auth::Basic { password, .. } => out.push(password),
            Auth::None => {}
        }
        out.extend(self.identity_pem.iter());
        out
    }

    /// An HTTP client that trusts the cluster's CA and presents its client
    /// certificate.
    pub fn client(&self) -> Result<reqwest::ClientBuilder, KubeconfigError> {
        let mut b = reqwest::Client::builder();
        if let Some(ca) = &self.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(ca)
                .map_err(|_| KubeconfigError::CaNotPem { origin: self.origin.clone() })?;
            if certs.is_empty() {
                return Err(KubeconfigError::CaEmpty { origin: self.origin.clone() });
            }
            // As kubectl: the kubeconfig's CA replaces the system roots.
            b = b.tls_built_in_root_certs(false);
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        if let Some(id) = &self.identity_pem {
            let identity = reqwest::Identity::from_pem(id.expose_secret().as_bytes())
                .map_err(|_| KubeconfigError::IdentityNotPem { origin: self.origin.clone() })?;
            b = b.identity(identity);
        }
        if self.insecure {
            b = b.danger_accept_invalid_certs(true);
        }
        Ok(b)
    }
}

/// The environment the loading rules read, so tests need not change the process's.
pub struct Env {
    pub kubeconfig: Option<String>,
    pub home: Option<PathBuf>,
    pub service_host: Option<String>,
    pub service_port: Option<String>,
    /// Where the service account's `token` and `ca.crt` are mounted.
    pub service_account_dir: PathBuf,
}

impl Env {
    pub fn from_process() -> Env {
        use crate::env::{var, EnvVars};
        Env {
            kubeconfig: var(super::inputs::Env::KUBECONFIG),
            home: var(EnvVars::HOME).map(PathBuf::from),
            service_host: var(super::inputs::Env::KUBERNETES_SERVICE_HOST),
            service_port: var(super::inputs::Env::KUBERNETES_SERVICE_PORT),
            service_account_dir: PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount"),
        }
    }
}

/// Finds and reads the kubeconfig; `input` is the `kubeconfig` input's content.
pub fn load(input: Option<&SecretString>, env: &Env) -> Result<Cluster, KubeconfigError> {
    if let Some(text) = input {
        let cfg = parse(text.expose_secret(), "the `kubeconfig` input")?;
        // Relative file paths in the input are relative to the workspace.
        return resolve(vec![(cfg, PathBuf::from("."))], "the `kubeconfig` input");
    }
    if let Some(list) = &env.kubeconfig {
        let paths: Vec<&str> = list.split(':').filter(|p| !p.is_empty()).collect();
        let mut files = Vec::new();
        for p in &paths {
            // client-go skips listed files that do not exist.
            match std::fs::read_to_string(p) {
                Ok(text) => files.push((parse(&text, &format!("`{p}` (from KUBECONFIG)"))?, parent(p))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(KubeconfigError::Unreadable { path: p.to_string(), reason: crate::util::io_reason(&e) })
                }
            }
        }
        if files.is_empty() {
            return Err(KubeconfigError::NoFile {
                listed: paths.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", "),
            });
        }
        return resolve(files, "KUBECONFIG");
    }
    if let Some(home) = &env.home {
        let p = home.join(".kube/config");
        if let Ok(text) = std::fs::read_to_string(&p) {
            let shown = "`~/.kube/config`";
            return resolve(vec![(parse(&text, shown)?, parent(&p.display().to_string()))], shown);
        }
    }
    if let (Some(host), Some(port)) = (&env.service_host, &env.service_port) {
        return in_cluster(host, port, &env.service_account_dir);
    }
    Err(KubeconfigError::NoCredentials)
}

fn parent(p: &str) -> PathBuf {
    Path::new(p).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// The service account kubelet mounts into a pod (client-go `InClusterConfig`).
fn in_cluster(host: &str, port: &str, dir: &Path) -> Result<Cluster, KubeconfigError> {
    let token = std::fs::read_to_string(dir.join("token"))
        .map_err(|e| KubeconfigError::ServiceAccountToken { reason: crate::util::io_reason(&e) })?;
    // An IPv6 host needs brackets in a URL.
    let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
    Ok(Cluster {
        server: format!("https://{host}:{port}"),
        origin: "the in-cluster service account".into(),
        auth: Auth::Bearer(SecretString::from(token.trim().to_string())),
        ca_pem: std::fs::read(dir.join("ca.crt")).ok(),
        identity_pem: None,
        insecure: false,
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct Config {
    current_context: Option<String>,
    #[serde(default)]
    clusters: Vec<NamedCluster>,
    #[serde(default)]
    users: Vec<NamedUser>,
    #[serde(default)]
    contexts: Vec<NamedContext>,
}

#[derive(Deserialize)]
struct NamedCluster {
    name: String,
    cluster: Option<ClusterEntry>,
}

#[derive(Deserialize)]
struct NamedUser {
    name: String,
    user: Option<UserEntry>,
}

#[derive(Deserialize)]
struct NamedContext {
    name: String,
    context: Option<ContextEntry>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "kebab-case")]
struct ClusterEntry {
    server: Option<String>,
    certificate_authority: Option<String>,
    certificate_authority_data: Option<String>,
    #[serde(default)]
    insecure_skip_tls_verify: bool,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "kebab-case")]
struct UserEntry {
    token: Option<SecretString>,
    #[serde(rename = "tokenFile")]
    token_file: Option<String>,
    username: Option<String>,
    password: Option<SecretString>,
    client_certificate: Option<String>,
    client_certificate_data: Option<String>,
    client_key: Option<String>,
    client_key_data: Option<SecretString>,
    exec: Option<Exec>,
    auth_provider: Option<AuthProvider>,
}

#[derive(Deserialize, Clone)]
struct Exec {
    #[serde(default)]
    command: String,
}

#[derive(Deserialize, Clone)]
struct AuthProvider {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize, Default, Clone)]
struct ContextEntry {
    cluster: Option<String>,
    user: Option<String>,
}

fn parse(text: &str, what: &str) -> Result<Config, KubeconfigError> {
    if text.trim().is_empty() {
        return Err(KubeconfigError::Empty { what: what.to_string() });
    }
    // YAML errors and type errors may quote the offending value: only the
    // place is shown.
    let docs = yaml_rust2::YamlLoader::load_from_str(text).map_err(|e| KubeconfigError::Yaml {
        what: what.to_string(),
        line: e.marker().line(),
        column: e.marker().col() + 1,
    })?;
    let json = docs.first().map(to_json).unwrap_or(serde_json::Value::Null);
    serde_json::from_value::<Config>(json.clone()).map_err(|_| {
        // Name the top-level entry that has the wrong shape, and its line.
        let place = json
            .as_object()
            .and_then(|o| {
                o.iter().find(|(k, v)| {
                    let one = serde_json::Value::Object([((*k).clone(), (*v).clone())].into_iter().collect());
                    serde_json::from_value::<Config>(one).is_err()
                })
            })
            .map(|(k, _)| match text.lines().position(|l| l.starts_with(&format!("{k}:"))) {
                Some(n) => format!(" (`{k}`, line {})", n + 1),
                None => format!(" (`{k}`)"),
            })
            .unwrap_or_default();
        KubeconfigError::Shape { what: what.to_string(), place }
    })
}

/// A YAML document as JSON, for serde (kubeconfigs are plain maps, lists and
/// scalars).
fn to_json(y: &yaml_rust2::Yaml) -> serde_json::Value {
    use serde_json::Value as J;
    use yaml_rust2::Yaml as Y;
    match y {
        Y::Hash(h) => J::Object(
            h.iter()
                .filter_map(|(k, v)| {
                    let key = match k {
                        Y::String(s) | Y::Real(s) => s.clone(),
                        Y::Integer(i) => i.to_string(),
                        Y::Boolean(b) => b.to_string(),
                        _ => return None,
                    };
                    Some((key, to_json(v)))
                })
                .collect(),
        ),
        Y::Array(a) => J::Array(a.iter().map(to_json).collect()),
        Y::String(s) => J::String(s.clone()),
        // Numbers and booleans stay text where a kubeconfig field is text
        // (serde reads them back as what the struct asks for).
        Y::Integer(i) => J::from(*i),
        Y::Real(r) => r.parse::<f64>().map(J::from).unwrap_or_else(|_| J::String(r.clone())),
        Y::Boolean(b) => J::Bool(*b),
        _ => J::Null,
    }
}

/// Merges the files (first wins), picks the current context, and reads the
/// files its cluster and user point at.
fn resolve(files: Vec<(Config, PathBuf)>, what: &str) -> Result<Cluster, KubeconfigError> {
    let current = files.iter().find_map(|(c, _)| c.current_context.clone().filter(|s| !s.is_empty()));
    let contexts: Vec<(&str, &ContextEntry)> = files
        .iter()
        .flat_map(|(c, _)| c.contexts.iter())
        .filter_map(|n| Some((n.name.as_str(), n.context.as_ref()?)))
        .collect();
    let (name, ctx) = match &current {
        Some(cur) => contexts
            .iter()
            .find(|(n, _)| n == cur)
            .copied()
            .ok_or_else(|| KubeconfigError::NoSuchContext { what: what.to_string(), current: cur.clone() })?,
        None if contexts.len() == 1 => contexts[0],
        None => return Err(KubeconfigError::NoCurrentContext { what: what.to_string(), count: contexts.len() }),
    };
    let origin = format!("context `{name}` of {what}");
    let cluster_name = ctx.cluster.as_deref().ok_or_else(|| KubeconfigError::NoCluster { origin: origin.clone() })?;
    let (cluster, cluster_dir) = files
        .iter()
        .find_map(|(c, dir)| {
            c.clusters.iter().find(|n| n.name == cluster_name).and_then(|n| n.cluster.clone()).map(|e| (e, dir))
        })
        .ok_or_else(|| KubeconfigError::NoSuchCluster { origin: origin.clone(), cluster: cluster_name.to_string() })?;
    let user = match ctx.user.as_deref().filter(|u| !u.is_empty()) {
        None => (UserEntry::default(), PathBuf::from(".")),
        Some(u) => files
            .iter()
            .find_map(|(c, dir)| {
                c.users.iter().find(|n| n.name == u).and_then(|n| n.user.clone()).map(|e| (e, dir.clone()))
            })
            .ok_or_else(|| KubeconfigError::NoSuchUser { origin: origin.clone(), user: u.to_string() })?,
    };
    let server = cluster
        .server
        .clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| KubeconfigError::NoServer { cluster: cluster_name.to_string(), what: what.to_string() })?;
    let url = url::Url::parse(server.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
        .ok_or_else(|| KubeconfigError::BadServer { cluster: cluster_name.to_string(), what: what.to_string() })?;
    let ca_pem = match (&cluster.certificate_authority_data, &cluster.certificate_authority) {
        (Some(d), _) => Some(data(d, "certificate-authority-data", &origin)?),
        (None, Some(p)) => Some(file(cluster_dir, p, "certificate-authority", &origin)?),
        (None, None) => None,
    };
    let (user, user_dir) = user;
    if let Some(e) = &user.exec {
        let cmd = Path::new(&e.command).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        return Err(KubeconfigError::Exec { origin, command: cmd });
    }
    if let Some(p) = &user.auth_provider {
        return Err(KubeconfigError::AuthProvider { origin, provider: p.name.clone() });
    }
    let auth = match (&user.token, &user.token_file, &user.username, &user.password) {
        (Some(t), _, _, _) if !t.expose_secret().trim().is_empty() => Auth::Bearer(t.clone()),
        (_, Some(f), _, _) => {
            let t = file(&user_dir, f, "tokenFile", &origin)?;
            Auth::Bearer(SecretString::from(String::from_utf8_lossy(&t).trim().to_string()))
        }
        (_, _, Some(u), Some(p)) => Auth::Basic { user: u.clone(), password: p.clone() },
        _ => Auth::None,
    };
    let cert = match (&user.client_certificate_data, &user.client_certificate) {
        (Some(d), _) => Some(data(d, "client-certificate-data", &origin)?),
        (None, Some(p)) => Some(file(&user_dir, p, "client-certificate", &origin)?),
        (None, None) => None,
    };
    let key = match (&user.client_key_data, &user.client_key) {
        (Some(d), _) => Some(data(d.expose_secret(), "client-key-data", &origin)?),
        (None, Some(p)) => Some(file(&user_dir, p, "client-key", &origin)?),
        (None, None) => None,
    };
    let identity_pem = match (cert, key) {
        (Some(c), Some(k)) => {
            let mut pem = String::from_utf8_lossy(&c).into_owned();
            pem.push('\n');
            pem.push_str(&String::from_utf8_lossy(&k));
            Some(SecretString::from(pem))
        }
        (None, None) => None,
        _ => return Err(KubeconfigError::HalfIdentity { origin }),
    };
    Ok(Cluster {
        server: url.as_str().trim_end_matches('/').to_string(),
        origin,
        auth,
        ca_pem,
        identity_pem,
        insecure: cluster.insecure_skip_tls_verify,
    })
}

fn data(b64: &str, field: &str, origin: &str) -> Result<Vec<u8>, KubeconfigError> {
    let clean: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    crate::util::unb64(&clean)
        .ok_or_else(|| KubeconfigError::NotBase64 { origin: origin.to_string(), field: field.to_string() })
}

fn file(dir: &Path, p: &str, field: &str, origin: &str) -> Result<Vec<u8>, KubeconfigError> {
    let path = dir.join(p);
    std::fs::read(&path).map_err(|e| KubeconfigError::FieldUnreadable {
        origin: origin.to_string(),
        field: field.to_string(),
        path: path.display().to_string(),
        reason: crate::util::io_reason(&e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env {
            kubeconfig: None,
            home: None,
            service_host: None,
            service_port: None,
            service_account_dir: "/nonexistent".into(),
        }
    }

    fn load_text(text: &str) -> Result<Cluster, String> {
        load(Some(&SecretString::from(text.to_string())), &env()).map_err(|e| e.to_string())
    }

    #[test]
    fn messages_name_the_place_and_what_to_do() {
        let two = "clusters: [{ name: c, cluster: { server: 'https://k' } }]\ncontexts: [{ name: a, context: { cluster: c } }, { name: b, context: { cluster: c } }]\n";
        assert_eq!(
            load_text(two).err().unwrap(),
            "the `kubeconfig` input sets no `current-context` and has 2 contexts; set `current-context`"
        );
        let gcp = "current-context: g\nclusters: [{ name: c, cluster: { server: 'https://k' } }]\ncontexts: [{ name: g, context: { cluster: c, user: u } }]\nusers: [{ name: u, user: { auth-provider: { name: gcp } } }]\n";
        assert_eq!(
            load_text(gcp).err().unwrap(),
            format!("context `g` of the `kubeconfig` input: the user's credentials come from the `gcp` auth-provider, which kubectl itself no longer supports; {EXEC_ALTERNATIVE}")
        );
        assert_eq!(
            load_text("users: secret-token-value\n").err().unwrap(),
            "the `kubeconfig` input is not a valid kubeconfig (`users`, line 1): check it with `kubectl config view --kubeconfig FILE`"
        );
        assert_eq!(load_text(" \n").err().unwrap(), "the `kubeconfig` input is empty");
    }

    const TWO: &str = "apiVersion: v1\nkind: Config\ncurrent-context: prod\nclusters:\n- name: c1\n  cluster:\n    server: https://10.0.0.1:6443/\n    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n- name: c2\n  cluster:\n    server: http://127.0.0.1:8080\n    insecure-skip-tls-verify: true\ncontexts:\n- name: prod\n  context: { cluster: c1, user: u1, namespace: apps }\n- name: dev\n  context: { cluster: c2, user: u2 }\nusers:\n- name: u1\n  user: { token: tok-123 }\n- name: u2\n  user: { username: admin, password: pw }\n";

    #[test]
    fn picks_the_current_context_and_its_token() {
        let c = load_text(TWO).unwrap();
        assert_eq!(c.server, "https://10.0.0.1:6443");
        assert!(matches!(&c.auth, Auth::Bearer(t) if t.expose_secret() == "tok-123"));
        assert_eq!(c.ca_pem.as_deref(), Some(&b"-----BEGIN CERTIFICATE-----\n"[..]));
        assert!(!c.insecure);
        assert_eq!(c.secrets().len(), 1);
        let dev = load_text(&TWO.replace("current-context: prod", "current-context: dev")).unwrap();
        assert!(dev.insecure);
        assert!(matches!(&dev.auth, Auth::Basic { user, .. } if user == "admin"));
    }

    #[test]
    fn exec_plugins_are_refused_with_the_alternative() {
        let text = "current-context: eks\nclusters: [{ name: c, cluster: { server: 'https://x.eks.amazonaws.com' } }]\ncontexts: [{ name: eks, context: { cluster: c, user: u } }]\nusers: [{ name: u, user: { exec: { apiVersion: client.authentication.k8s.io/v1beta1, command: /usr/local/bin/aws, args: [eks, get-token] } } }]\n";
        let e = load_text(text).err().unwrap();
        assert!(e.contains("`exec` plugin (`aws`)") && e.contains("aws eks get-token"), "{e}");
    }

    #[test]
    fn errors_name_the_problem_without_content() {
        let e = load_text("clusters: [\n  secret-token-value").err().unwrap();
        assert!(e.contains("not a valid kubeconfig") && !e.contains("secret-token-value"), "{e}");
        let e = load_text("users: secret-token-value\n").err().unwrap();
        assert!(e.contains("line 1") && !e.contains("secret-token-value"), "{e}");
        let e = load_text(&TWO.replace("current-context: prod", "current-context: nope")).err().unwrap();
        assert!(e.contains("`nope` is not defined"), "{e}");
        let e = load_text(&TWO.replace("https://10.0.0.1:6443/", "ftp://x")).err().unwrap();
        assert!(e.contains("not an http(s) URL"), "{e}");
        let e = load(None, &env()).err().unwrap().to_string();
        assert!(e.contains("`kubeconfig` input"), "{e}");
    }

    #[test]
    fn kubeconfig_files_merge_and_resolve_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "file-token\n").unwrap();
        let a = dir.path().join("a.yaml");
        let b = dir.path().join("b.yaml");
        std::fs::write(&a, "current-context: x\n").unwrap();
        std::fs::write(&b, "clusters: [{ name: c, cluster: { server: 'https://k:6443' } }]\ncontexts: [{ name: x, context: { cluster: c, user: u } }, { name: y, context: { cluster: c } }]\nusers: [{ name: u, user: { tokenFile: token } }]\n").unwrap();
        let list = format!("{}:{}:{}", a.display(), dir.path().join("missing").display(), b.display());
        let c = load(None, &Env { kubeconfig: Some(list), ..env() }).unwrap();
        assert!(matches!(&c.auth, Auth::Bearer(t) if t.expose_secret() == "file-token"));
        let e = load(None, &Env { kubeconfig: Some("/nowhere/config".into()), ..env() }).err().unwrap().to_string();
        assert!(e.contains("no such file exists here"), "{e}");
    }

    #[test]
    fn in_cluster_service_account() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "sa-token").unwrap();
        let e = Env {
            service_host: Some("10.96.0.1".into()),
            service_port: Some("443".into()),
            service_account_dir: dir.path().to_path_buf(),
            ..env()
        };
        let c = load(None, &e).unwrap();
        assert_eq!(c.server, "https://10.96.0.1:443");
        assert!(matches!(&c.auth, Auth::Bearer(t) if t.expose_secret() == "sa-token"));
    }
}
