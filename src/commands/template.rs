//! `template`: write a `.env.example` listing the manifest's secrets.

use crate::config::Style;
use crate::exit::Exit;

use super::usage_error;

pub fn template(manifest: &std::path::Path, env: Option<&str>, output: &std::path::Path, style: Style) -> Exit {
    let display = manifest.display().to_string();
    let m = match crate::manifest::load(manifest, &display, crate::targets::SECTIONS) {
        Ok(m) => m,
        Err(crate::manifest::ManifestError::Unreadable(msg)) => return usage_error(style, &msg),
        Err(crate::manifest::ManifestError::Invalid(_)) => {
            return super::check_manifest::check_manifest(manifest, style)
        }
    };
    if let Some(e) = env {
        if m.environment(e).is_none() {
            return usage_error(style, &format!("environment `{e}` is not declared in the manifest"));
        }
    }
    let text = crate::template::render(&m, env);
    if output.as_os_str() == "-" {
        print!("{text}");
        return Exit::Ok;
    }
    match std::fs::write(output, text) {
        Ok(()) => {
            eprintln!("wrote {}", output.display());
            Exit::Ok
        }
        Err(e) => usage_error(style, &format!("cannot write {}: {}", output.display(), crate::util::io_reason(&e))),
    }
}
