//! `init`: list the org's secrets and write a starter manifest.

use crate::config::Style;
use crate::exit::Exit;

use super::usage_error;

/// `init`: list the org's secrets and write a starter manifest.
pub fn init(org: &str, output: &std::path::Path, force: bool, style: Style) -> Exit {
    use secrecy::SecretString;
    let Some(token) = crate::env::var_exact(crate::env::EnvVars::GITHUB_TOKEN).map(SecretString::from) else {
        return usage_error(
            style,
            "set GITHUB_TOKEN to a token that can read the org's secrets (a PAT or GitHub App token)",
        );
    };
    let to_stdout = output.as_os_str() == "-";
    if !to_stdout && output.exists() && !force {
        return usage_error(style, &format!("{} already exists; pass --force to overwrite it", output.display()));
    }
    let api =
        crate::env::var_exact(crate::env::EnvVars::GITHUB_API_URL).unwrap_or_else(|| crate::github::DEFAULT_API.into());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let _inside = rt.enter();
    let sched =
        std::sync::Arc::new(crate::github::Scheduler::new(crate::clock::system(), crate::github::Pace::default()));
    let gh = match crate::github::GitHub::new(&api, &token, crate::http::Policy::from_env(), sched) {
        Ok(g) => g,
        Err(e) => return usage_error(style, &e),
    };
    let list = match rt.block_on(gh.list(&crate::github::Scope::Org(org.to_string()))) {
        Ok(l) => l,
        Err(e) => return usage_error(style, &e.message),
    };
    let names: Vec<String> = list.into_iter().map(|s| s.name).collect();
    let text = crate::init::manifest(org, &names);
    if to_stdout {
        print!("{text}");
        return Exit::Ok;
    }
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(output, text) {
        Ok(()) => {
            eprintln!(
                "wrote {} with {} secret(s) from org `{org}`; review it, then run `secret-sync check-manifest`",
                output.display(),
                names.len()
            );
            Exit::Ok
        }
        Err(e) => usage_error(style, &format!("cannot write {}: {}", output.display(), crate::util::io_reason(&e))),
    }
}
