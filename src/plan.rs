//! What a run does at each target, as plain data: the action per key, the
//! status per target, and what happened there. Imports nothing of the app,
//! so targets, the report and the merge of shard reports all speak it
//! without depending on each other.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetStatus {
    /// Belongs to another manifest environment.
    Skipped,
    /// Left to another job of a matrix (`targets` input).
    NotSelected,
    /// Read and diffed; nothing written (plan mode, or validation failed).
    Planned,
    /// Changes written.
    Synced,
    /// Nothing to write.
    Unchanged,
    /// Reading or writing failed.
    Failed,
    /// This build has no client for the target's kind.
    NotContacted,
}

/// What a sync does to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Unchanged,
    Delete,
    /// Present at the target, and nothing can prove it equal to the desired
    /// value before writing it (Fly's opaque digests). `plan` shows it as
    /// such; `sync` writes it and reports what the write proved.
    Unverified,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub key: String,
    pub action: Action,
}

/// What the state record proved at a Fly or GitHub target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordProof {
    /// Routed keys the record says secret-sync wrote here.
    pub owned: usize,
    /// Keys that were present before secret-sync first wrote them and that
    /// this run overwrites (`plan`: would overwrite): owned from then on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adopted: Vec<String>,
    /// Keys the record proved unchanged, so not written.
    pub unchanged: usize,
    /// Present keys the record could not prove unchanged: the kind's own
    /// rule decided (Fly: write and compare digests; GitHub: `updated_at`).
    pub unverified: usize,
}

/// Where a Fly key written by this run is, as `fly secrets list` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Deployment {
    /// On every Machine.
    Deployed,
    /// On some Machines: the roll stopped.
    Partial,
    /// On none: staged for the next deploy.
    Staged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDeployment {
    pub key: String,
    pub status: Deployment,
    /// Machines that got it, of all the app's Machines.
    pub machines: usize,
    pub of: usize,
}

/// What happened at one target.
#[derive(Debug, Clone, Default)]
pub struct TargetOutcome {
    pub status: Option<TargetStatus>,
    pub changes: Vec<Change>,
    /// The changes were written (even if a later step, such as a restart, failed).
    pub written: bool,
    pub revision_before: Option<u64>,
    pub revision_after: Option<u64>,
    /// A command that undoes this run's write.
    pub rollback: Option<String>,
    pub warnings: Vec<String>,
    pub message: Option<String>,
    /// Keys present at the target that the manifest does not route there.
    pub unrouted: Vec<String>,
    /// A failure's HTTP status and the service's request id, when known.
    pub http_status: Option<u16>,
    pub request_id: Option<String>,
    /// What the state record proved (Fly and GitHub, when a record is kept).
    pub record: Option<RecordProof>,
    /// Fly: where each key this run changed is deployed.
    pub deployment: Vec<KeyDeployment>,
}

impl TargetOutcome {
    pub fn failed(message: String) -> TargetOutcome {
        TargetOutcome { status: Some(TargetStatus::Failed), message: Some(message), ..TargetOutcome::default() }
    }
}
