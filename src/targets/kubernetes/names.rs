//! What Kubernetes accepts as names: namespaces, object names and the keys
//! of a Secret's `data` (docs/service-facts.md, "Kubernetes API server").

use crate::manifest::names::Invalid;

/// A Kubernetes namespace: an RFC 1123 DNS label (Kubernetes docs,
/// "Object Names and IDs": at most 63 characters, lower-case letters, digits
/// and `-`, starting and ending with a letter or digit).
pub fn k8s_namespace(n: &str) -> Result<(), Invalid> {
    if n.len() > 63 || !dns_label(n) {
        return Err("is not a Kubernetes namespace (at most 63 lower-case letters, digits and `-`, starting and ending with a letter or digit)".into());
    }
    Ok(())
}

/// A Kubernetes object name (Secret, Deployment, …): an RFC 1123 DNS
/// subdomain, at most 253 characters of DNS labels joined by `.`.
pub fn k8s_object(n: &str) -> Result<(), Invalid> {
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
pub fn k8s_secret_key(n: &str) -> Result<(), Invalid> {
    if n.is_empty() {
        return Err("is empty".into());
    }
    if let Some(c) = n.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        return Err(Invalid::from(format!("contains `{c}`; Kubernetes Secret keys use only letters, digits, `-`, `_` and `.`")));
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
    fn rules() {
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
