//! `check-manifest`: check the manifest alone.

use std::path::Path;

use crate::config::Style;
use crate::exit::Exit;

use super::usage_error;

/// Prints `ok` with the manifest's counts, or every error at once.
pub fn check_manifest(path: &Path, style: Style) -> Exit {
    let display = crate::util::display_path(path);
    match crate::manifest::load(path, &display, crate::targets::SECTIONS) {
        Ok(m) => {
            let routes: usize = m.secrets.iter().map(|s| s.routes.len()).sum();
            println!(
                "{}: ok — {} secrets, {} environments, {} targets, {} routes",
                crate::escape::terminal(&display),
                m.secrets.len(),
                m.environments.len(),
                m.targets.len(),
                routes
            );
            Exit::Ok
        }
        Err(crate::manifest::ManifestError::Unreadable(msg)) => usage_error(style, &msg),
        Err(crate::manifest::ManifestError::Invalid(diags)) => {
            for d in &diags {
                match style {
                    Style::Actions => println!("{}", d.annotation()),
                    Style::Terminal => eprintln!("{}", d.terminal()),
                }
            }
            eprintln!("{}: {} error(s)", crate::escape::terminal(&display), diags.len());
            Exit::ValidationFailed
        }
    }
}
