//! How a run stops before its targets, and what each cause comes from: the
//! pipeline is a chain of `?`, and `run::run` maps these to exit codes.

use super::UsageError;
use crate::manifest::ManifestError;

/// Why a run stops before its targets: a usage error (bad input, an
/// unreadable file), or a manifest with errors (reported, then published).
pub(super) enum RunError {
    Usage(String),
    Manifest(Vec<crate::diag::Diagnostic>),
}

impl From<String> for RunError {
    fn from(msg: String) -> RunError {
        RunError::Usage(msg)
    }
}

impl From<UsageError> for RunError {
    fn from(UsageError(msg): UsageError) -> RunError {
        RunError::Usage(msg)
    }
}

impl From<crate::input::BadInput> for RunError {
    fn from(e: crate::input::BadInput) -> RunError {
        RunError::Usage(e.0)
    }
}

impl From<ManifestError> for RunError {
    fn from(e: ManifestError) -> RunError {
        match e {
            ManifestError::Unreadable(msg) => RunError::Usage(msg),
            ManifestError::Invalid(diags) => RunError::Manifest(diags),
        }
    }
}
