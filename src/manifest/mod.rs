//! The manifest: what secrets exist, what their values must look like, and
//! where they go. `load` turns text into the typed `model`, reporting every
//! error with its position.

pub mod edit;
pub mod load;
pub mod model;
pub mod names;
pub mod probe;
mod scan;
pub mod section;
pub mod suggest;

pub use load::parse;
pub use model::*;
pub use section::{Entry, RouteRule, Section, Sections};

use std::path::Path;

use crate::diag::Diagnostic;

/// Why a manifest could not be used.
#[derive(Debug)]
pub enum ManifestError {
    /// The file could not be read at all (a usage error).
    Unreadable(String),
    /// It was read, and is wrong in these places.
    Invalid(Vec<Diagnostic>),
}

/// Reads and parses the manifest at `path`; `display` is the path shown in
/// diagnostics (relative to the workspace when in Actions).
pub fn load(path: &Path, display: &str, kinds: &Sections) -> Result<Manifest, ManifestError> {
    let bytes = read(path, display).map_err(|e| ManifestError::Unreadable(e.to_string()))?;
    parse(&bytes, display, kinds).map_err(ManifestError::Invalid)
}

/// The manifest's bytes: a regular file of at most
/// [`crate::input::MAX_MANIFEST_BYTES`].
pub fn read(path: &Path, display: &str) -> Result<Vec<u8>, crate::input::InputError> {
    crate::input::read_file(path, &format!("the manifest `{display}`"), crate::input::MAX_MANIFEST_BYTES)
}
