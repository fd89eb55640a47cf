//! Name rules for secrets, targets and keys. Each returns why a name is
//! refused, phrased to follow "`NAME` ".

/// A name rule: `Err` says why the name is refused.
pub type Rule = fn(&str) -> Result<(), String>;

/// GitHub secret names (docs.github.com, see docs/service-facts.md): `[A-Za-z0-9_]`, not
/// starting with a digit or `GITHUB_`.
pub fn github_secret(n: &str) -> Result<(), String> {
    if n.is_empty() {
        return Err("is empty".into());
    }
    if let Some(c) = n.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
        return Err(format!("contains `{c}`; GitHub secret names use only letters, digits and `_`"));
    }
    if n.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("starts with a digit, which GitHub secret names may not".into());
    }
    if n.to_ascii_uppercase().starts_with("GITHUB_") {
        return Err("starts with `GITHUB_`, which GitHub reserves".into());
    }
    Ok(())
}

/// A prefix or suffix added to secret names: letters, digits and `_`.
pub fn name_fragment(n: &str) -> Result<(), String> {
    match n.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
        Some(c) => Err(format!("contains `{c}`; use only letters, digits and `_`")),
        None if n.is_empty() => Err("is empty".into()),
        None => Ok(()),
    }
}

/// Names of environments, groups and targets inside the manifest.
pub fn simple_name(n: &str) -> Result<(), String> {
    match n.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-')) {
        Some(c) => Err(format!("contains `{c}`; use only letters, digits, `-` and `_`")),
        None if n.is_empty() => Err("is empty".into()),
        None => Ok(()),
    }
}

/// An environment variable name: `[A-Za-z_][A-Za-z0-9_]*`. Used for Fly
/// secrets too: Fly enforces no rule, but the value reaches the machine as an
/// environment variable.
pub fn env_var(n: &str) -> Result<(), String> {
    if n.is_empty() {
        return Err("is empty".into());
    }
    if let Some(c) = n.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
        return Err(format!("contains `{c}`; environment variable names use only letters, digits and `_`"));
    }
    if n.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("starts with a digit, which environment variable names may not".into());
    }
    Ok(())
}

/// One segment of an ESC `org/project/env` path.
pub fn esc_segment(n: &str) -> Result<(), String> {
    if n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) {
        return Err("is not a valid ESC name".into());
    }
    Ok(())
}

/// A dotted path under an ESC definition's `values`: segments of
/// `[A-Za-z_][A-Za-z0-9_-]*`. `environmentVariables` is where `env_var`
/// exposure lives, so a path may not start there.
pub fn esc_path(p: &str) -> Result<(), String> {
    for seg in p.split('.') {
        let ok = seg.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if seg.is_empty() {
            return Err("has an empty segment (`..`, or a leading or trailing `.`)".into());
        }
        if !ok {
            return Err(format!(
                "has segment `{seg}`; use dot-separated names of letters, digits, `_` and `-`, each starting with a letter or `_`"
            ));
        }
    }
    if p.split('.').next() == Some("environmentVariables") {
        return Err(
            "is under `environmentVariables`; expose a value as an environment variable with `env_var:` instead".into(),
        );
    }
    Ok(())
}

/// A Fly app name: lower-case letters, digits and `-`.
pub fn fly_app(n: &str) -> Result<(), String> {
    if n.is_empty()
        || !n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || n.starts_with('-')
    {
        return Err("is not a Fly app name (lower-case letters, digits and `-`)".into());
    }
    Ok(())
}

/// `owner/name` of a GitHub repository.
pub fn github_repo(n: &str) -> Result<(), String> {
    let parts: Vec<&str> = n.split('/').collect();
    let seg_ok =
        |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if parts.len() != 2 || !parts.iter().all(|s| seg_ok(s)) {
        return Err("is not `owner/name`".into());
    }
    Ok(())
}

/// A Kubernetes namespace: an RFC 1123 DNS label (Kubernetes docs,
/// "Object Names and IDs": at most 63 characters, lower-case letters, digits
/// and `-`, starting and ending with a letter or digit).
pub fn k8s_namespace(n: &str) -> Result<(), String> {
    if n.len() > 63 || !dns_label(n) {
        return Err("is not a Kubernetes namespace (at most 63 lower-case letters, digits and `-`, starting and ending with a letter or digit)".into());
    }
    Ok(())
}

/// A Kubernetes object name (Secret, Deployment, …): an RFC 1123 DNS
/// subdomain, at most 253 characters of DNS labels joined by `.`.
pub fn k8s_object(n: &str) -> Result<(), String> {
    if n.len() > 253 || !n.split('.').all(dns_label) {
        return Err("is not a Kubernetes object name (at most 253 lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit)".into());
    }
    Ok(())
}

fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A key of a Kubernetes Secret's `data`: the API reference (Secret v1,
/// `data`) says each key consists of letters, digits, `-`, `_` or `.`; the
/// API server also caps it at 253 characters and refuses `.` and `..`.
pub fn k8s_secret_key(n: &str) -> Result<(), String> {
    if n.is_empty() {
        return Err("is empty".into());
    }
    if let Some(c) = n.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        return Err(format!("contains `{c}`; Kubernetes Secret keys use only letters, digits, `-`, `_` and `.`"));
    }
    if n.len() > 253 || n == "." || n == ".." {
        return Err("is not a valid Kubernetes Secret key (at most 253 characters, not `.` or `..`)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_rules() {
        assert!(github_secret("OPENAI_API_KEY").is_ok());
        assert!(github_secret("1KEY").is_err());
        assert!(github_secret("GITHUB_X").is_err());
        assert!(github_secret("github_x").is_err());
        assert!(github_secret("A-B").is_err());
    }

    #[test]
    fn esc_paths() {
        assert!(esc_path("openai.apiKey").is_ok());
        assert!(esc_path("a..b").is_err());
        assert!(esc_path("1a").is_err());
        assert!(esc_path("environmentVariables.X").is_err());
    }

    #[test]
    fn kubernetes_rules() {
        assert!(k8s_namespace("prod-1").is_ok());
        assert!(k8s_namespace("Prod").is_err());
        assert!(k8s_namespace("-a").is_err());
        assert!(k8s_namespace(&"a".repeat(64)).is_err());
        assert!(k8s_object("app.secrets").is_ok());
        assert!(k8s_object("app..x").is_err());
        assert!(k8s_object("app_x").is_err());
        assert!(k8s_secret_key("OPENAI_API_KEY").is_ok());
        assert!(k8s_secret_key("tls.crt").is_ok());
        assert!(k8s_secret_key("a/b").is_err());
        assert!(k8s_secret_key("..").is_err());
    }
}
