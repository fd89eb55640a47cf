//! `add-app`: add a Fly app to the manifest, keeping its comments and layout.

use crate::config::Style;
use crate::exit::Exit;

use super::usage_error;

/// `add-app`: edit the manifest's text, check the result, and only then write it.
pub fn add_app(path: &std::path::Path, req: &crate::manifest::edit::AddApp, style: Style) -> Exit {
    let display = path.display().to_string();
    let bytes = match crate::manifest::read(path, &display) {
        Ok(b) => b,
        Err(e) => return usage_error(style, &e.to_string()),
    };
    if let Err(diags) = crate::manifest::parse(&bytes, &display, crate::targets::SECTIONS) {
        eprintln!("the manifest has errors already; fix them first:");
        for d in diags {
            eprintln!("{}", d.terminal());
        }
        return Exit::ValidationFailed;
    }
    // It parsed, so it is UTF-8; a byte-order mark is not kept.
    let text = String::from_utf8_lossy(crate::input::strip_bom(&bytes)).into_owned();
    let edited = match crate::manifest::edit::add_fly_app(&text, req) {
        Ok(t) => t,
        Err(e) => return usage_error(style, &e.to_string()),
    };
    if let Err(diags) = crate::manifest::parse(edited.as_bytes(), &display, crate::targets::SECTIONS) {
        eprintln!("the manifest would not be valid after adding `{}`; nothing was written:", req.name);
        for d in diags {
            eprintln!("{}", d.terminal());
        }
        return Exit::ValidationFailed;
    }
    if let Err(e) = std::fs::write(path, edited) {
        return usage_error(style, &format!("cannot write {display}: {}", crate::util::io_reason(&e)));
    }
    println!(
        "{display}: added Fly app `{}` (target `fly.{}`) and routed {} secret(s) to it",
        req.app,
        req.name,
        req.secrets.len()
    );
    Exit::Ok
}
