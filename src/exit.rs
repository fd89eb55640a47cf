//! Exit codes, documented in docs/reference.md ("Exit codes"): one enum, so a code
//! is named wherever it is decided.

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Everything asked for was done.
    Ok = 0,
    /// A target (or the report) could not be written.
    SyncFailed = 1,
    /// The manifest or the values failed validation.
    ValidationFailed = 2,
    /// The tool was called wrongly: bad inputs, unreadable files.
    Usage = 3,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}
