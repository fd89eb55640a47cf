//! What a run reads before anything is printed: the values (the `secrets`
//! input, secrets files, the manifest's `from_env`), the manifest, and the
//! choices that must match it (the environment, the `targets` selection).

use crate::config::Config;
use crate::manifest::{self, Manifest, ManifestError};
use crate::output::Printer;
use crate::values::{self, Origin, SecretValues};

/// A problem with how the tool was called: bad inputs, unreadable files.
#[derive(Debug)]
pub struct UsageError(pub String);

/// The values and the manifest, read before anything is printed.
pub(super) fn read_inputs(
    cfg: &Config,
    display: &str,
) -> Result<(SecretValues, Result<Manifest, ManifestError>), String> {
    let mut vals = read_values(cfg).map_err(|UsageError(msg)| msg)?;
    let loaded = manifest::load(&cfg.manifest, display, crate::targets::SECTIONS);
    if let Ok(m) = &loaded {
        vals.extend(values::from_environment(m.secrets.iter().filter_map(|s| s.from_env.as_deref()))?);
    }
    tracing::debug!(values = vals.len(), "secret values read");
    Ok((vals, loaded))
}

/// The environment to act on: the one asked for, or the only one declared.
pub(super) fn pick_environment(m: &Manifest, asked: Option<&str>) -> Result<String, UsageError> {
    let names = m.environment_names();
    match asked {
        Some(e) if names.contains(&e) => Ok(e.to_string()),
        Some(e) => {
            let hint = manifest::suggest::hint(e, names.iter().copied());
            Err(UsageError(format!(
                "environment `{e}` is not declared in the manifest (declared: {}){hint}",
                names.join(", ")
            )))
        }
        None if names.len() == 1 => Ok(names[0].to_string()),
        None => Err(UsageError(format!(
            "choose an environment with the `environment` input or `--environment`: one of {}",
            names.join(", ")
        ))),
    }
}

/// Every `targets` pattern must match a target of the manifest.
pub(super) fn check_selection(cfg: &Config, m: &Manifest) -> Result<(), UsageError> {
    let Some(sel) = &cfg.selection else { return Ok(()) };
    let ids: Vec<String> = m.targets.iter().map(|t| t.id()).collect();
    sel.check(ids.iter().map(String::as_str)).map_err(UsageError)
}

/// The `secrets` input and any secrets files, in that order.
pub(super) fn read_values(cfg: &Config) -> Result<SecretValues, UsageError> {
    use secrecy::ExposeSecret;
    let mut vals = SecretValues::default();
    if let Some(json) = &cfg.secrets_json {
        let v = SecretValues::from_json(json.expose_secret().as_bytes(), "input `secrets`", Origin::SecretsInput)
            .map_err(|e| UsageError(format!("{e}; pass `${{{{ toJSON(secrets) }}}}`")))?;
        vals.extend(v);
    }
    for path in &cfg.secrets_files {
        let shown = path.display().to_string();
        let limit = crate::input::MAX_SECRETS_BYTES;
        let bytes = if shown == "-" {
            crate::input::read_stdin("standard input", limit)
        } else {
            crate::input::read_file(path, &format!("the secrets file `{shown}`"), limit)
        }
        .map_err(|e| UsageError(e.to_string()))?;
        if cfg.consume_secrets_files && shown != "-" {
            // Once read, the values need not stay on disk for later steps.
            if let Err(e) = std::fs::remove_file(path) {
                Printer::new(cfg.out.style).warning(
                    "secrets file",
                    &format!(
                        "could not delete the secrets file `{shown}` after reading it: {}",
                        crate::util::io_reason(&e)
                    ),
                );
            }
        }
        // JSON whatever the file is called: a .env line cannot start with `{`.
        let body = crate::input::strip_bom(&bytes);
        let is_json = path.extension().is_some_and(|e| e == "json")
            || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let parsed = if is_json {
            SecretValues::from_json(&bytes, &shown, Origin::SecretsFile)
        } else {
            SecretValues::from_dotenv(&bytes, &shown, Origin::SecretsFile)
        };
        vals.extend(parsed.map_err(|e| UsageError(e.to_string()))?);
    }
    Ok(vals)
}

/// Debug builds only: `SECRET_SYNC_TEST_PANIC=NAME` panics with that secret's
/// value in the message, so the tests can prove the panic hook withholds it.
#[cfg(debug_assertions)]
pub(super) fn test_panic(vals: &SecretValues) {
    if let Some(name) = crate::env::var_exact(crate::env::EnvVars::SECRET_SYNC_TEST_PANIC) {
        if let Some((_, v)) = vals.get(&name) {
            panic!("test panic carrying {}", values::expose(&v.secret));
        }
    }
}
