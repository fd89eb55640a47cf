//! The sync report: one serde model, rendered as Markdown (job summary and
//! terminal) and written as JSON (artifact, `report-path`). Renderers print
//! the model; they compute nothing.

pub mod assemble;
mod checks;
pub mod markdown;

use serde::{Deserialize, Serialize};

use crate::config::{FailOn, Mode};
use crate::diag::Diagnostic;
use crate::diag::{Finding, Severity};
pub use crate::plan::{Change, TargetStatus};
pub use crate::rotation::GithubReport;

/// Version of the JSON report's shape; bumped on any incompatible change:
/// a field removed, renamed or retyped, or a value added to an enum field
/// (`action`, `status`, …), since consumers match on those. Adding a field
/// is compatible. v2: `action` gained `unverified`, `counts` `unverified`.
pub const REPORT_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub report_version: u32,
    pub tool: Tool,
    pub generated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
    pub mode: Mode,
    pub environment: String,
    pub manifest: String,
    /// The `targets` patterns this job handled (a shard of a matrix); absent
    /// when it handled every target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<Vec<String>>,
    pub outcome: RunOutcome,
    pub counts: Counts,
    /// Errors in the manifest itself (the run stops at them).
    pub manifest_errors: Vec<Diagnostic>,
    pub findings: Vec<Finding>,
    pub secrets: Vec<SecretStatus>,
    pub targets: Vec<TargetReport>,
    /// Rotation and drift, from GitHub's secrets metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github: Option<GithubReport>,
    /// Liveness probes (`probe`), one per probed secret. Not read back by
    /// `merge-reports`: probes are per secret, not per shard.
    #[serde(default, skip_deserializing, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<crate::probe::ProbeResult>,
    /// The state record of what secret-sync wrote at Fly and GitHub targets
    /// (`plan` and `sync`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StateReport>,
    /// The leak scan (`scan` mode; not part of a sharded sync).
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub scan: Option<crate::scan::ScanReport>,
}

/// How the state record was read and whether it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateReport {
    /// Where it is kept: an artifact, a file, or off.
    pub store: String,
    pub read: crate::state::ReadStatus,
    /// Why it was not read (missing, expired, unreadable …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// A state key was given: the record holds keyed fingerprints and can
    /// prove keys unchanged.
    pub fingerprints: bool,
    /// Artifacts of the record's name that runs of forks made: never read.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped_forks: usize,
    pub written: bool,
    /// Why it was not written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_written: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Default for Tool {
    fn default() -> Self {
        Tool { name: env!("CARGO_PKG_NAME").into(), version: env!("CARGO_PKG_VERSION").into() }
    }
}

/// The GitHub run this report belongs to, from the runner's `GITHUB_*` variables.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub repository: String,
    pub run_id: String,
    pub run_attempt: String,
    pub event: String,
    pub sha: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
}

impl RunInfo {
    /// The run, when the runner named one.
    pub fn of(r: &crate::config::Runner) -> Option<RunInfo> {
        Some(RunInfo {
            repository: r.repository.clone()?,
            run_id: r.run_id.clone(),
            run_attempt: r.run_attempt.clone(),
            event: r.event.clone(),
            sha: r.sha.clone(),
            git_ref: r.git_ref.clone(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Ok,
    ManifestInvalid,
    ValidationFailed,
    SyncFailed,
}

impl Status {
    /// The exit code a run with this status ends with.
    pub fn exit(self) -> crate::exit::Exit {
        use crate::exit::Exit;
        match self {
            Status::Ok => Exit::Ok,
            Status::SyncFailed => Exit::SyncFailed,
            Status::ValidationFailed | Status::ManifestInvalid => Exit::ValidationFailed,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunOutcome {
    pub status: Status,
    pub exit_code: i32,
    pub fail_on: FailOn,
    /// One sentence saying what happened and what to do next.
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counts {
    pub secrets_declared: usize,
    pub secrets_required: usize,
    pub secrets_present: usize,
    pub secrets_missing: usize,
    pub errors: usize,
    pub warnings: usize,
    pub notices: usize,
    pub targets_in_scope: usize,
    pub targets_skipped: usize,
    /// Targets of this environment left to other jobs (`targets` input).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub targets_not_selected: usize,
    pub targets_failed: usize,
    pub creates: usize,
    pub updates: usize,
    pub deletes: usize,
    pub unchanged: usize,
    /// Keys present at a target that nothing proved equal to the desired
    /// value (`plan` on Fly apps; in `sync`, only where a write failed).
    pub unverified: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Counts {
    pub fn changed(&self) -> usize {
        self.creates + self.updates + self.deletes
    }

    pub fn count_findings(&mut self, findings: &[Finding]) {
        self.errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
        self.warnings = findings.iter().filter(|f| f.severity == Severity::Warning).count();
        self.notices = findings.iter().filter(|f| f.severity == Severity::Notice).count();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretState {
    /// Present and valid.
    Ok,
    /// Present, with an error finding.
    Invalid,
    /// Required here and absent.
    Missing,
    /// Not required here and absent.
    NotSet,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretStatus {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub state: SecretState,
    pub required: bool,
    /// The source secret the value came from (a name, never a value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub rotate_every: crate::duration::Period,
    /// Target ids this secret goes to in this environment.
    pub destinations: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetReport {
    pub id: String,
    /// The target's kind (`esc`, `fly`, …).
    pub kind: String,
    pub name: String,
    pub destination: String,
    pub environment: String,
    pub status: TargetStatus,
    /// Keys the manifest routes here with a usable value.
    pub keys: usize,
    /// Routed keys left untouched because their value is missing or invalid.
    pub held_back: Vec<String>,
    pub changes: Vec<Change>,
    /// The changes were written (`sync`), even if a later step failed.
    pub written: bool,
    /// ESC: the revision read, and the one written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision_before: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision_after: Option<u64>,
    /// A command that undoes this run's write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Keys at the target the manifest does not route there (drift).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unrouted: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A failure's HTTP status and the service's request id, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// What the state record proved here (Fly and GitHub, when a record is kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<crate::plan::RecordProof>,
    /// Fly: where each key this run changed is deployed (`fly secrets list`'s
    /// Deployed / Partial / Staged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deployment: Vec<crate::plan::KeyDeployment>,
}
