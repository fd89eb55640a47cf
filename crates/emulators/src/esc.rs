//! Pulumi ESC (and Pulumi's OIDC token exchange, and the runner's GitHub OIDC
//! token endpoint) as `docs/service-facts.md` and `tests/fidelity/SDK-NOTES.md`
//! record them. The official Python SDK runs against this in CI
//! (`tests/fidelity/esc_sdk_check.py`).
//!
//! Unconfirmed details, chosen and marked here: ETag values are opaque
//! strings of our own making; `created`/`modified` times are fixed; a PATCH
//! always makes a new revision (whether the real service skips identical
//! definitions is not known, so secret-sync never sends one).
//!
//! The definition is stored as the text the client sent. Plaintext
//! `fn::secret: VALUE` is encrypted on save into `{ciphertext: …}` (pulumi/esc
//! eval/crypt.go `EncryptSecrets`: "Encryption replaces all plaintext
//! arguments to `fn::secret` with encrypted ciphertext", trivia such as a
//! line comment carried over to the ciphertext). Here only the plaintext
//! scalar's bytes are replaced, so everything else stays byte for byte. The
//! library function re-encodes the whole document (yaml.v3, indent 2) and
//! the CLI's test double of the service (cmd/esc/cli/cli_test.go
//! `UpdateEnvironmentWithRevision`) stores its output; whether the hosted
//! service does the same cannot be seen from its clients. secret-sync is
//! correct either way: what it sends is the stored text with only the
//! managed entries changed.

use std::collections::{BTreeMap, HashMap, HashSet};

use regex::Regex;
use serde_json::{json, Value as Json};
use yaml_edit::{YamlFile, YamlNode};
use yaml_rust2::{Yaml, YamlLoader};

use super::{b64, unb64, Reply, Req, State};

/// Path of the emulated GitHub OIDC token endpoint (the runner gives the real
/// one in `ACTIONS_ID_TOKEN_REQUEST_URL`).
pub const OIDC_PATH: &str = "/_github/oidc/token";

#[derive(Default)]
pub struct Esc {
    pub envs: BTreeMap<(String, String, String), Env>,
    /// Accepted `Authorization: token …` values.
    pub tokens: HashSet<String>,
    /// Environments (`org/project/env`) the token may not touch: 403.
    pub forbidden: HashSet<String>,
    opened: HashMap<String, Json>,
    next_id: u64,
    /// The runner's OIDC request token, and the ID tokens handed out.
    pub oidc_request_token: Option<String>,
    issued_id_tokens: HashMap<String, String>,
    /// Orgs whose OIDC issuer is registered (exchange allowed).
    pub oidc_orgs: HashSet<String>,
    /// The tokens an org's issuer policies grant, as (token type, scope):
    /// `("team", "team:platform")`. An org not listed grants organization
    /// tokens (empty scope) only.
    pub oidc_policies: HashMap<String, Vec<(String, String)>>,
    /// Every token-exchange request body, as received (for tests).
    pub exchanges: Vec<Json>,
    /// PATCHes that carried no ETag (applied unconditionally).
    pub patches_without_etag: usize,
}

pub struct Env {
    /// The definition text as stored (secrets as ciphertext).
    pub text: String,
    pub revision: u64,
    /// Every revision's text, index = revision - 1.
    pub history: Vec<String>,
}

impl Env {
    pub fn etag(&self) -> String {
        format!("\"rev-{}-{:x}\"", self.revision, fnv(&self.text))
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3))
}

/// The emulator's "encryption": reversible, and never the plaintext.
pub fn encrypt(plain: &str) -> String {
    let x: Vec<u8> = plain.bytes().enumerate().map(|(i, b)| b ^ (0x5a ^ i as u8)).collect();
    b64(&[b"emu1:".as_slice(), &x].concat())
}

fn decrypt(cipher: &str) -> Option<String> {
    let raw = unb64(cipher)?;
    let x = raw.strip_prefix(b"emu1:")?;
    String::from_utf8(x.iter().enumerate().map(|(i, b)| b ^ (0x5a ^ i as u8)).collect()).ok()
}

pub fn error(code: u16, message: &str) -> Reply {
    Reply::json(code, json!({ "code": code, "message": message }))
}

fn yaml_reply(env: &Env, text: String) -> Reply {
    Reply { status: 200, headers: vec![("Content-Type".into(), "application/x-yaml".into())], body: text.into_bytes() }
        .with_header("ETag", env.etag())
        .with_header("Pulumi-ESC-Revision", env.revision.to_string())
}

impl Esc {
    /// Seeds an environment with a definition text stored as given (write
    /// secrets with [`encrypt`] to keep comments and layout exact).
    pub fn seed(&mut self, full: &str, text: &str) {
        let (o, p, e) = split(full);
        self.envs.insert((o, p, e), Env { text: text.to_string(), revision: 1, history: vec![text.to_string()] });
    }

    pub fn env(&self, full: &str) -> Option<&Env> {
        self.envs.get(&split(full))
    }

    /// The stored definition with secrets decrypted, parsed (as JSON, which
    /// tests index like YAML).
    pub fn decrypted(&self, full: &str) -> Option<Json> {
        let env = self.env(full)?;
        parse(&decrypt_text(&env.text)).ok().map(|y| to_json(&y))
    }
}

fn split(full: &str) -> (String, String, String) {
    let mut it = full.splitn(3, '/').map(str::to_string);
    (it.next().unwrap_or_default(), it.next().unwrap_or_default(), it.next().unwrap_or_default())
}

/// Replaces every `fn::secret: {ciphertext: X}` (flow or block form) by
/// `fn::secret: "<plaintext>"`, leaving the rest of the text, comments
/// included, as it is.
pub fn decrypt_text(text: &str) -> String {
    let flow = Regex::new(r#"fn::secret:\s*\{\s*ciphertext:\s*"?([A-Za-z0-9+/=]+)"?\s*\}"#).expect("static regex");
    let text = flow.replace_all(text, |c: &regex::Captures| format!("fn::secret: {}", quote(&c[1]))).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let block = Regex::new(r#"^\s*ciphertext:\s*"?([A-Za-z0-9+/=]+)"?(\s*#.*)?\s*$"#).expect("static regex");
    while i < lines.len() {
        let l = lines[i];
        if l.trim_end().ends_with("fn::secret:") && i + 1 < lines.len() {
            if let Some(c) = block.captures(lines[i + 1]) {
                out.push(format!("{} {}{}", l.trim_end(), quote(&c[1]), c.get(2).map_or("", |m| m.as_str())));
                i += 2;
                continue;
            }
        }
        out.push(l.to_string());
        i += 1;
    }
    let mut s = out.join("\n");
    if text.ends_with('\n') {
        s.push('\n');
    }
    s
}

fn quote(cipher: &str) -> String {
    serde_json::to_string(&decrypt(cipher).unwrap_or_default()).expect("a string serialises")
}

/// A definition parsed (one document; empty is null).
fn parse(text: &str) -> Result<Yaml, String> {
    let mut docs = YamlLoader::load_from_str(text).map_err(|e| format!("line {}", e.marker().line()))?;
    match docs.len() {
        0 => Ok(Yaml::Null),
        1 => Ok(docs.remove(0)),
        _ => Err("more than one document".into()),
    }
}

pub fn to_json(y: &Yaml) -> Json {
    match y {
        Yaml::Hash(h) => Json::Object(h.iter().map(|(k, v)| (key_string(k), to_json(v))).collect()),
        Yaml::Array(a) => Json::Array(a.iter().map(to_json).collect()),
        Yaml::String(s) => json!(s),
        Yaml::Integer(i) => json!(i),
        Yaml::Real(r) => r.parse::<f64>().map(|f| json!(f)).unwrap_or_else(|_| json!(r)),
        Yaml::Boolean(b) => json!(b),
        _ => Json::Null,
    }
}

fn key_string(k: &Yaml) -> String {
    match k {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        _ => String::new(),
    }
}

/// Encrypts every plaintext `fn::secret` in place: the bytes of each
/// plaintext scalar become `{ciphertext: …}`; nothing else changes.
fn encrypt_text(text: &str, doc: &Yaml) -> String {
    let Ok(file) = text.parse::<YamlFile>() else { return text.to_string() };
    let mut spans = Vec::new();
    if let Some(root) = file.document().and_then(|d| d.as_mapping()) {
        plaintext_spans(&YamlNode::Mapping(root), &mut Vec::new(), &mut spans);
    }
    let mut out = text.to_string();
    // From the end, so earlier offsets stay valid.
    spans.sort_by_key(|(r, _)| std::cmp::Reverse(r.0));
    for ((start, end), path) in spans {
        let mut cur = doc;
        for seg in &path {
            cur = &cur[seg.as_str()];
        }
        let plain = match &cur[SECRET] {
            Yaml::String(s) => s.clone(),
            other => key_string(other),
        };
        // A block scalar's range takes its line break along; keep it.
        let end = start + out[start..end].trim_end().len();
        out.replace_range(start..end, &format!("{{ciphertext: {}}}", encrypt(&plain)));
    }
    out
}

const SECRET: &str = "fn::secret";

/// Byte ranges of plaintext `fn::secret` scalars, with the path of the
/// mapping holding each.
fn plaintext_spans(n: &YamlNode, path: &mut Vec<String>, out: &mut Vec<((usize, usize), Vec<String>)>) {
    match n {
        YamlNode::Mapping(m) => {
            for e in m.entries() {
                let Some(k) = e.key_node().and_then(|k| k.as_scalar().map(|s| s.as_string())) else { continue };
                let Some(v) = e.value_node() else { continue };
                if k == SECRET {
                    if let YamlNode::Scalar(_) = v {
                        let r = v.byte_range();
                        out.push(((r.start as usize, r.end as usize), path.clone()));
                        continue;
                    }
                }
                path.push(k);
                plaintext_spans(&v, path, out);
                path.pop();
            }
        }
        YamlNode::Sequence(s) => {
            // ESC's secrets live in mappings; a list item has no key path to
            // decrypt it by here, so lists are not searched.
            let _ = s;
        }
        _ => {}
    }
}

pub fn route(st: &mut State, r: &Req) -> Option<Reply> {
    if r.path == OIDC_PATH {
        return Some(github_oidc(&mut st.esc, r));
    }
    if r.path == "/api/oauth/token" && r.method == "POST" {
        return Some(exchange(&mut st.esc, r));
    }
    let rest = r.path.strip_prefix("/api/esc/environments/")?;
    let esc = &mut st.esc;
    let auth_ok =
        r.header("authorization").and_then(|a| a.strip_prefix("token ")).is_some_and(|t| esc.tokens.contains(t));
    if !auth_ok {
        return Some(error(401, "Unauthorized: No credentials provided or are invalid."));
    }
    let parts: Vec<String> = rest.split('/').map(super::percent_decode).collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    Some(match (r.method, parts.as_slice()) {
        ("GET", [org]) => list(esc, org),
        ("POST", [org]) => create(esc, org, r.body),
        ("POST", [_org, "yaml", "check"]) => Reply::json(200, json!({})),
        (m, [org, project, env, rest @ ..]) => {
            let full = format!("{org}/{project}/{env}");
            if esc.forbidden.contains(&full) {
                return Some(error(403, &format!("Forbidden: access to environment '{full}' is denied")));
            }
            let key = (org.to_string(), project.to_string(), env.to_string());
            env_op(esc, m, key, rest, r)
        }
        _ => error(404, "Not Found"),
    })
}

fn list(esc: &Esc, org: &str) -> Reply {
    let items: Vec<Json> = esc
        .envs
        .keys()
        .filter(|(o, _, _)| o == org)
        .map(|(o, p, e)| json!({ "organization": o, "project": p, "name": e, "created": "2026-01-01 00:00:00", "modified": "2026-01-01 00:00:00" }))
        .collect();
    Reply::json(200, json!({ "environments": items, "nextToken": "" }))
}

fn create(esc: &mut Esc, org: &str, body: &[u8]) -> Reply {
    let Ok(v) = serde_json::from_slice::<Json>(body) else { return error(400, "invalid request body") };
    let (Some(p), Some(n)) = (v["project"].as_str(), v["name"].as_str()) else {
        return error(400, "project and name are required");
    };
    let key = (org.to_string(), p.to_string(), n.to_string());
    if esc.envs.contains_key(&key) {
        return error(409, &format!("Environment '{org}/{p}/{n}' already exists"));
    }
    esc.envs.insert(key, Env { text: String::new(), revision: 1, history: vec![String::new()] });
    Reply::json(200, json!({}))
}

fn env_op(esc: &mut Esc, method: &str, key: (String, String, String), rest: &[&str], r: &Req) -> Reply {
    let full = format!("{}/{}/{}", key.0, key.1, key.2);
    let not_found = || error(404, &format!("Environment '{full}' not found"));
    match (method, rest) {
        ("GET", []) => match esc.envs.get(&key) {
            Some(env) => yaml_reply(env, env.text.clone()),
            None => not_found(),
        },
        ("GET", ["decrypt"]) => match esc.envs.get(&key) {
            Some(env) => yaml_reply(env, decrypt_text(&env.text)),
            None => not_found(),
        },
        ("GET", ["versions", rev]) => match (esc.envs.get(&key), rev.parse::<usize>()) {
            (Some(env), Ok(n)) if n >= 1 && n <= env.history.len() => yaml_reply(env, env.history[n - 1].clone()),
            (Some(_), _) => error(404, &format!("revision {rev} not found")),
            (None, _) => not_found(),
        },
        ("PATCH", []) => {
            let Some(env) = esc.envs.get_mut(&key) else { return not_found() };
            match r.header("etag").or(r.header("if-match")) {
                Some(tag) if tag != env.etag() => {
                    return error(409, "Conflict: the environment has been modified since it was read");
                }
                Some(_) => {}
                // Allowed (pulumi/esc's UpdateEnvironment sends the ETag only
                // when given one), but counted: a test can tell.
                None => esc.patches_without_etag += 1,
            }
            let text = String::from_utf8_lossy(r.body).into_owned();
            let doc = match parse(&text) {
                Ok(v) => v,
                Err(where_) => {
                    return Reply::json(
                        400,
                        json!({ "code": 400, "message": "invalid definition", "diagnostics": [{ "summary": format!("invalid YAML: {where_}") }] }),
                    );
                }
            };
            if !matches!(doc, Yaml::Hash(_) | Yaml::Null) {
                return Reply::json(
                    400,
                    json!({ "code": 400, "message": "invalid definition", "diagnostics": [{ "summary": "the definition must be a mapping" }] }),
                );
            }
            // Stored as written, with plaintext secrets encrypted in place.
            let stored = encrypt_text(&text, &doc);
            env.revision += 1;
            env.text = stored.clone();
            env.history.push(stored);
            Reply::json(200, json!({})).with_header("Pulumi-ESC-Revision", env.revision.to_string())
        }
        ("DELETE", []) => match esc.envs.remove(&key) {
            Some(_) => Reply::json(200, json!({})),
            None => not_found(),
        },
        ("POST", ["open"]) => {
            let Some(env) = esc.envs.get(&key) else { return not_found() };
            let props = evaluate(esc, &key.0, &decrypt_text(&env.text), 0);
            esc.next_id += 1;
            let id = format!("open-{}", esc.next_id);
            esc.opened.insert(id.clone(), props);
            Reply::json(200, json!({ "id": id }))
        }
        ("GET", ["open", id]) | ("GET", ["open", "", id]) => match esc.opened.get(*id) {
            Some(props) => Reply::json(200, json!({ "properties": props })),
            None => error(404, "open session not found"),
        },
        _ => error(404, "Not Found"),
    }
}

/// Evaluates a (decrypted) definition into ESC's property shape: imports
/// first, then this environment's `values`, `${path}` interpolation, secrets
/// marked. Enough of ESC's evaluator for the fidelity check and the tests.
fn evaluate(esc: &Esc, org: &str, text: &str, depth: usize) -> Json {
    let doc = parse(text).map(|y| to_json(&y)).unwrap_or(Json::Null);
    let mut merged = serde_json::Map::new();
    if depth < 8 {
        for imp in doc["imports"].as_array().into_iter().flatten() {
            let Some(name) = imp.as_str() else { continue };
            let (p, e) = name.split_once('/').unwrap_or(("default", name));
            if let Some(env) = esc.envs.get(&(org.to_string(), p.to_string(), e.to_string())) {
                if let Json::Object(m) = evaluate(esc, org, &decrypt_text(&env.text), depth + 1) {
                    merged.extend(m);
                }
            }
        }
    }
    let values = &doc["values"];
    if let Json::Object(m) = values {
        for (k, v) in m {
            merged.insert(k.clone(), prop(v, values));
        }
    }
    Json::Object(merged)
}

fn prop(v: &Json, root: &Json) -> Json {
    let (value, secret) = match v {
        Json::Object(m) if m.len() == 1 && m.contains_key(SECRET) => {
            (json!(m[SECRET].as_str().unwrap_or_default()), true)
        }
        Json::Object(m) => (Json::Object(m.iter().map(|(k, x)| (k.clone(), prop(x, root))).collect()), false),
        Json::Array(s) => (Json::Array(s.iter().map(|x| prop(x, root)).collect()), false),
        Json::String(s) => return interpolate(s, root),
        other => (other.clone(), false),
    };
    json!({ "value": value, "secret": secret, "trace": {} })
}

/// `${a.b}` references to other values; the result is secret if a
/// referenced value is.
fn interpolate(s: &str, root: &Json) -> Json {
    let re = Regex::new(r"\$\{([A-Za-z0-9_.\-]+)\}").expect("static regex");
    let mut secret = false;
    let out = re.replace_all(s, |c: &regex::Captures| {
        let mut cur = root;
        for seg in c[1].split('.') {
            cur = &cur[seg];
        }
        match cur {
            Json::Object(m) if m.contains_key(SECRET) => {
                secret = true;
                m[SECRET].as_str().unwrap_or_default().to_string()
            }
            Json::String(x) => x.clone(),
            other => other.to_string(),
        }
    });
    json!({ "value": out, "secret": secret, "trace": {} })
}

/// The runner's ID-token endpoint: `GET <url>&audience=…` with the request
/// token as a bearer token → `{"value": jwt}`.
fn github_oidc(esc: &mut Esc, r: &Req) -> Reply {
    let ok = match (&esc.oidc_request_token, r.header("authorization").and_then(|a| a.strip_prefix("Bearer "))) {
        (Some(want), Some(got)) => want == got,
        _ => false,
    };
    if !ok {
        return Reply::json(401, json!({ "message": "Bad credentials" }));
    }
    let aud = r.query_param("audience").unwrap_or_default();
    let header = b64url(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = b64url(json!({ "aud": aud, "iss": "https://token.actions.githubusercontent.com", "sub": "repo:ai-cherry/sophia:ref:refs/heads/main" }).to_string().as_bytes());
    esc.next_id += 1;
    let jwt = format!("{header}.{claims}.emu-signature-{}", esc.next_id);
    esc.issued_id_tokens.insert(jwt.clone(), aud);
    Reply::json(200, json!({ "value": jwt }))
}

fn b64url(b: &[u8]) -> String {
    b64(b).trim_end_matches('=').replace('+', "-").replace('/', "_")
}

/// Pulumi's OAuth token exchange (`POST /api/oauth/token`).
fn exchange(esc: &mut Esc, r: &Req) -> Reply {
    let bad = |code: &str, desc: &str| Reply::json(400, json!({ "error": code, "error_description": desc }));
    let Ok(v) = serde_json::from_slice::<Json>(r.body) else { return bad("invalid_request", "body is not JSON") };
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    if s("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange"
        || s("subject_token_type") != "urn:ietf:params:oauth:token-type:id_token"
    {
        return bad("unsupported_grant_type", "unsupported grant or subject token type");
    }
    // pulumi.com/docs/reference/cloud-rest-api/oauth-token-exchange:
    // `requested_token_type` is `urn:pulumi:token-type:access_token:TYPE`
    // (organization, team, personal or runner); `scope` is empty or `admin`
    // for organization, `team:TEAM_NAME` for team, `user:USER_LOGIN` for
    // personal, `runner:RUNNER_NAME` for runner; `expiration` is seconds.
    // Sent as JSON, as @pulumi/actions-helpers (what esc-action runs) sends it.
    esc.exchanges.push(v.clone());
    let requested = s("requested_token_type");
    let Some(kind) = requested.strip_prefix("urn:pulumi:token-type:access_token:") else {
        return bad("invalid_request", "unsupported requested token type");
    };
    let scope = s("scope");
    let scope_ok = match kind {
        "organization" => scope.is_empty() || scope == "admin",
        "team" => scope.strip_prefix("team:").is_some_and(|n| !n.is_empty()),
        "personal" => scope.strip_prefix("user:").is_some_and(|n| !n.is_empty()),
        "runner" => scope.strip_prefix("runner:").is_some_and(|n| !n.is_empty()),
        _ => return bad("invalid_request", "unsupported requested token type"),
    };
    if !scope_ok || !(v["expiration"].is_null() || v["expiration"].is_u64()) {
        return bad("invalid_request", "invalid scope or expiration for the requested token type");
    }
    let audience = s("audience");
    let Some(org) = audience.strip_prefix("urn:pulumi:org:") else { return bad("invalid_request", "invalid audience") };
    match esc.issued_id_tokens.get(&s("subject_token")) {
        Some(aud) if *aud == audience => {}
        _ => return bad("invalid_grant", "the subject token is not valid for this audience"),
    }
    if !esc.oidc_orgs.contains(org) {
        return bad("invalid_grant", "no OIDC issuer is registered for this organization");
    }
    // An issuer's authorization policies say which token types it grants.
    let granted = match esc.oidc_policies.get(org) {
        Some(grants) => grants.iter().any(|(k, sc)| k == kind && *sc == scope),
        None => kind == "organization" && scope.is_empty(),
    };
    if !granted {
        return bad("invalid_grant", "no authorization policy of the issuer grants this token");
    }
    esc.next_id += 1;
    let token = format!("pul-oidc{:032x}", fnv(&format!("{org}{}", esc.next_id)) as u128 * 7919);
    esc.tokens.insert(token.clone());
    Reply::json(
        200,
        json!({ "access_token": token, "issued_token_type": requested, "token_type": "Bearer", "expires_in": v["expiration"].as_u64().unwrap_or(7200), "scope": scope, "refresh_token": "" }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decrypts_text_in_place() {
        let c = encrypt("p@ss\"word");
        let text = format!("# keep me\nvalues:\n  a:\n    fn::secret:\n      ciphertext: {c}\n  b: {{fn::secret: {{ciphertext: {c}}}}}\n");
        let d = decrypt_text(&text);
        assert!(d.starts_with("# keep me\n"));
        let v = to_json(&parse(&d).unwrap());
        assert_eq!(v["values"]["a"]["fn::secret"], "p@ss\"word");
        assert_eq!(v["values"]["b"]["fn::secret"], "p@ss\"word");
        assert!(!text.contains("p@ss"));
    }

    #[test]
    fn encrypts_plaintext_in_place_only() {
        let text = "# keep\r\nvalues:\r\n  a:\r\n    fn::secret: \"p@ss\" # why\r\n  b: {fn::secret: x, }\r\n  c: |\r\n    kept\r\n";
        let stored = encrypt_text(text, &parse(text).unwrap());
        let want = format!(
            "# keep\r\nvalues:\r\n  a:\r\n    fn::secret: {{ciphertext: {}}} # why\r\n  b: {{fn::secret: {{ciphertext: {}}}, }}\r\n  c: |\r\n    kept\r\n",
            encrypt("p@ss"),
            encrypt("x")
        );
        assert_eq!(stored, want);
        let back = to_json(&parse(&decrypt_text(&stored)).unwrap());
        assert_eq!(back["values"]["a"]["fn::secret"], "p@ss");
        assert_eq!(back["values"]["b"]["fn::secret"], "x");
    }
}
