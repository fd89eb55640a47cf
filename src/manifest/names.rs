//! Name rules for secrets, targets and keys. Each returns why a name is
//! refused, phrased to follow "`NAME` ".

/// A name rule: `Err` says why the name is refused.
pub type Rule = fn(&str) -> Result<(), Invalid>;

/// Why a name is refused, phrased to follow "`NAME` " (`is empty`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub std::borrow::Cow<'static, str>);

impl From<&'static str> for Invalid {
    fn from(s: &'static str) -> Invalid {
        Invalid(s.into())
    }
}

impl From<String> for Invalid {
    fn from(s: String) -> Invalid {
        Invalid(s.into())
    }
}

/// GitHub secret names (docs.github.com, see docs/service-facts.md): `[A-Za-z0-9_]`, not
/// starting with a digit or `GITHUB_`.
pub fn github_secret(n: &str) -> Result<(), Invalid> {
    if n.is_empty() {
        return Err("is empty".into());
    }
    if let Some(c) = n.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
        return Err(Invalid::from(format!("contains `{c}`; GitHub secret names use only letters, digits and `_`")));
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
pub fn name_fragment(n: &str) -> Result<(), Invalid> {
    match n.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
        Some(c) => Err(Invalid::from(format!("contains `{c}`; use only letters, digits and `_`"))),
        None if n.is_empty() => Err("is empty".into()),
        None => Ok(()),
    }
}

/// Names of environments, groups and targets inside the manifest.
pub fn simple_name(n: &str) -> Result<(), Invalid> {
    match n.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-')) {
        Some(c) => Err(Invalid::from(format!("contains `{c}`; use only letters, digits, `-` and `_`"))),
        None if n.is_empty() => Err("is empty".into()),
        None => Ok(()),
    }
}

/// An environment variable name: `[A-Za-z_][A-Za-z0-9_]*`. Used for Fly
/// secrets too: Fly enforces no rule, but the value reaches the machine as an
/// environment variable.
pub fn env_var(n: &str) -> Result<(), Invalid> {
    if n.is_empty() {
        return Err("is empty".into());
    }
    if let Some(c) = n.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_')) {
        return Err(Invalid::from(format!(
            "contains `{c}`; environment variable names use only letters, digits and `_`"
        )));
    }
    if n.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("starts with a digit, which environment variable names may not".into());
    }
    Ok(())
}

/// One segment of an ESC `org/project/env` path.
pub fn esc_segment(n: &str) -> Result<(), Invalid> {
    if n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) {
        return Err("is not a valid ESC name".into());
    }
    Ok(())
}

/// A dotted path under an ESC definition's `values`: segments of
/// `[A-Za-z_][A-Za-z0-9_-]*`. `environmentVariables` is where `env_var`
/// exposure lives, so a path may not start there.
pub fn esc_path(p: &str) -> Result<(), Invalid> {
    for seg in p.split('.') {
        let ok = seg.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if seg.is_empty() {
            return Err("has an empty segment (`..`, or a leading or trailing `.`)".into());
        }
        if !ok {
            return Err(Invalid::from(format!(
                "has segment `{seg}`; use dot-separated names of letters, digits, `_` and `-`, each starting with a letter or `_`"
            )));
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
pub fn fly_app(n: &str) -> Result<(), Invalid> {
    if n.is_empty()
        || !n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        || n.starts_with('-')
    {
        return Err("is not a Fly app name (lower-case letters, digits and `-`)".into());
    }
    Ok(())
}

/// `owner/name` of a GitHub repository.
pub fn github_repo(n: &str) -> Result<(), Invalid> {
    let parts: Vec<&str> = n.split('/').collect();
    let seg_ok =
        |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if parts.len() != 2 || !parts.iter().all(|s| seg_ok(s)) {
        return Err("is not `owner/name`".into());
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
}
