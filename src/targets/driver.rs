//! The one shape every target kind has, and the driver that runs it.
//!
//! A kind only speaks its protocol: [`Kind::read`] what the target holds,
//! [`Kind::plan`] the change (pure: no I/O, unit-tested per kind), and
//! [`Kind::apply`] it. What every kind shares is decided here, once: the
//! delete cap, holding writes back when validation failed or in `plan`, the
//! statuses, and re-reading and re-planning after a concurrent edit.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use secrecy::SecretString;

use std::collections::{HashMap, HashSet};

use super::ledger::Prunable;
use super::{Context, Desired};
use crate::http::HttpError;
use crate::manifest::{Manifest, TargetKind, TargetSpec};
use crate::plan::{Action, Change, RecordProof, TargetOutcome, TargetStatus};
use crate::state::Proof;

/// How often a write is retried after the target changed under it.
pub const CONFLICT_RETRIES: usize = 3;

/// A target's failure, in words safe to show, with what the service said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError {
    pub message: String,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The service's request id, for its support.
    pub request_id: Option<String>,
}

impl TargetError {
    pub fn new(message: impl Into<String>) -> TargetError {
        TargetError { message: message.into(), status: None, request_id: None }
    }
}

impl From<HttpError> for TargetError {
    fn from(e: HttpError) -> TargetError {
        TargetError { message: e.message, status: e.status, request_id: e.request_id }
    }
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

/// What a kind plans for one target.
pub struct Plan<W> {
    pub changes: Vec<Change>,
    /// Keys the plan deletes (pruning), for the delete cap.
    pub deletes: usize,
    /// Keys at the target the manifest does not route there.
    pub unrouted: Vec<String>,
    /// Keys secret-sync wrote and still holds that the manifest no longer
    /// routes here, left in place because `prune` is off: the driver warns
    /// about them, in one wording for every kind.
    pub kept: Vec<String>,
    pub warnings: Vec<String>,
    /// The revision read (ESC).
    pub revision: Option<u64>,
    /// What `apply` needs; `None` when there is nothing to write.
    pub work: Option<W>,
    /// What a sync would do besides writing (a restart), said in `plan`.
    pub note: Option<String>,
    /// Something planning found that fails the target whatever is written
    /// (a key another field manager owns): the rest is still
    /// written in `sync`.
    pub failure: Option<TargetError>,
    /// What the state record proved.
    pub record: Option<crate::plan::RecordProof>,
}

impl<W> Plan<W> {
    pub fn new(changes: Vec<Change>, work: Option<W>) -> Plan<W> {
        Plan {
            changes,
            deletes: 0,
            unrouted: Vec::new(),
            kept: Vec::new(),
            warnings: Vec::new(),
            revision: None,
            work,
            note: None,
            failure: None,
            record: None,
        }
    }
}

/// The evidence a recorded kind reads at a target: each key present, with
/// what the state record keeps to tell whether it moved (Fly: its sealed
/// digest; GitHub: its `updated_at`).
pub struct Evidence {
    pub present: Vec<(String, String)>,
    /// Names compare without regard to case (GitHub's secret names).
    pub fold_case: bool,
}

impl Evidence {
    /// A name as the service compares names.
    fn norm(&self, name: &str) -> String {
        if self.fold_case {
            name.to_ascii_uppercase()
        } else {
            name.to_string()
        }
    }
}

/// What the state record proves at one target, worked out by the driver
/// from the kind's [`Evidence`] and handed to its plan.
#[derive(Debug, Default)]
pub struct Proofs {
    /// Routed keys proven unchanged: evidence and fingerprint as written.
    pub unchanged: HashSet<String>,
    /// Routed keys proven changed since secret-sync wrote them (the evidence
    /// moved, or the value's fingerprint differs).
    pub moved: HashSet<String>,
    /// Unrouted keys pruning may delete — secret-sync wrote them and they
    /// are as it left them — as (listed, recorded) names; `None` without a
    /// record (then pruning deletes nothing).
    pub deletable: Option<Vec<(String, String)>>,
    /// Unrouted keys the record held whose evidence moved: left in place.
    pub(crate) prunable: Prunable,
    /// Routed keys present at the target.
    pub(crate) present: HashSet<String>,
}

impl Proofs {
    /// The record's owned names among `deletable`.
    pub fn owned(&self) -> Vec<String> {
        self.deletable.iter().flatten().map(|(_, r)| r.clone()).collect()
    }

    /// What the record proves at `d`'s target, from the kind's evidence.
    pub fn of(ctx: &Context, e: &Evidence, d: &Desired) -> Proofs {
        let target = d.target.id();
        let ledger = &ctx.ledger;
        let mut p = Proofs::default();
        // One lookup per key, however many the target holds.
        let present: HashMap<String, &str> = e.present.iter().map(|(n, ev)| (e.norm(n), ev.as_str())).collect();
        for k in &d.keys {
            let Some(ev) = present.get(&e.norm(&k.key)).copied() else { continue };
            p.present.insert(k.key.clone());
            if ledger.prove(&target, &k.key, ev, &k.value) == Proof::Unchanged {
                p.unchanged.insert(k.key.clone());
            } else if ledger.moved(&target, &k.key, ev, &k.value) {
                p.moved.insert(k.key.clone());
            }
        }
        let routed: HashSet<String> =
            d.keys.iter().map(|k| e.norm(&k.key)).chain(d.held_back.iter().map(|h| e.norm(h))).collect();
        let unrouted =
            e.present.iter().filter(|(n, _)| !routed.contains(&e.norm(n))).map(|(n, ev)| (n.as_str(), ev.clone()));
        p.prunable = ledger.prunable(&target, unrouted, e.fold_case);
        p.deletable = ledger.owned(&target).map(|_| p.prunable.keys.clone());
        p
    }

    /// What the record proved, for the report: keys it owns, keys it proved
    /// unchanged, present keys it could not (the kind's own rule decided),
    /// and present keys this run writes over though secret-sync never wrote
    /// them (adopted).
    fn report(&self, ctx: &Context, d: &Desired, changes: &[Change]) -> RecordProof {
        let target = d.target.id();
        let written: HashSet<&str> = changes
            .iter()
            .filter(|c| matches!(c.action, Action::Update | Action::Unverified))
            .map(|c| c.key.as_str())
            .collect();
        let mut r = RecordProof::default();
        for k in &d.keys {
            let known = ctx.ledger.knows(&target, &k.key);
            r.owned += usize::from(known);
            if !self.present.contains(&k.key) {
                continue;
            }
            if self.unchanged.contains(&k.key) {
                r.unchanged += 1;
            } else {
                r.unverified += 1;
            }
            if written.contains(k.key.as_str()) && !known {
                r.adopted.push(k.key.clone());
            }
        }
        r
    }
}

/// What a write did.
#[derive(Default)]
pub struct Applied {
    /// The changes as the write proved them, when it proves more than the
    /// plan knew (Fly settles unverified keys); `None` keeps the plan's.
    pub changes: Option<Vec<Change>>,
    /// Something was sent to the target.
    pub written: bool,
    /// `false` when the write turned out to change nothing (Fly: every key
    /// proven unchanged by the write).
    pub changed: bool,
    pub revision: Option<u64>,
    pub rollback: Option<String>,
    pub message: Option<String>,
    pub warnings: Vec<String>,
    /// A step after the write failed (a restart): the target failed, but
    /// what was written stays written.
    pub failed_after_write: Option<TargetError>,
    /// Fly: where each changed key is deployed.
    pub deployment: Vec<crate::plan::KeyDeployment>,
}

/// Why a write did not go through.
pub enum ApplyError {
    /// The target changed since it was read: read, plan and write again.
    Conflict,
    /// Anything else; `written` says whether part of it was written.
    Failed { error: TargetError, written: bool },
}

impl From<HttpError> for ApplyError {
    fn from(e: HttpError) -> ApplyError {
        ApplyError::Failed { error: e.into(), written: false }
    }
}

impl From<TargetError> for ApplyError {
    fn from(error: TargetError) -> ApplyError {
        ApplyError::Failed { error, written: false }
    }
}

/// One kind of target.
pub trait Kind: Send + Sync + 'static {
    /// A target's settings, as the kind's manifest section parsed them.
    type Spec: TargetSpec;
    /// What a read of the target gives.
    type Current: Send + Sync;
    /// What a write needs beyond the changes.
    type Work: Send + Sync;

    fn kind(&self) -> TargetKind;

    /// How many of the run's `targets` of this kind are handled at once.
    fn concurrency(&self, targets: usize) -> usize;

    /// Reads what the target holds.
    fn read(
        &self,
        ctx: &Context,
        spec: &Self::Spec,
        d: &Desired,
    ) -> impl Future<Output = Result<Self::Current, TargetError>> + Send;

    /// The change that makes the target hold `d`, given what the record
    /// proved (`proofs`, empty for kinds without [`Kind::evidence`]): no I/O.
    fn plan(
        &self,
        ctx: &Context,
        spec: &Self::Spec,
        current: &Self::Current,
        proofs: &Proofs,
        d: &Desired,
    ) -> Result<Plan<Self::Work>, TargetError>;

    /// For kinds whose keys the state record proves: each key present at the
    /// target with the evidence the record keeps for it (`None`: the kind
    /// proves ownership its own way, as ESC's marker or a cluster's
    /// `managedFields`). From it the driver works out [`Proofs`].
    fn evidence(&self, _ctx: &Context, _spec: &Self::Spec, _current: &Self::Current, _d: &Desired) -> Option<Evidence> {
        None
    }

    /// Writes it: `work` is the plan's.
    fn apply(
        &self,
        ctx: &Context,
        spec: &Self::Spec,
        current: &Self::Current,
        plan: &Plan<Self::Work>,
        work: &Self::Work,
        d: &Desired,
    ) -> impl Future<Output = Result<Applied, ApplyError>> + Send;
}

/// A kind as the registry holds it: any [`Kind`], its settings inside.
pub trait Driven: Send + Sync {
    fn kind(&self) -> TargetKind;
    fn concurrency(&self, targets: usize) -> usize;
    /// Reads, plans and (in `sync`) writes one target of this kind.
    fn drive<'a>(
        &'a self,
        ctx: &'a Context,
        d: &'a Desired,
    ) -> Pin<Box<dyn Future<Output = TargetOutcome> + Send + 'a>>;
}

impl<K: Kind> Driven for K {
    fn kind(&self) -> TargetKind {
        Kind::kind(self)
    }

    fn concurrency(&self, targets: usize) -> usize {
        Kind::concurrency(self, targets)
    }

    fn drive<'a>(
        &'a self,
        ctx: &'a Context,
        d: &'a Desired,
    ) -> Pin<Box<dyn Future<Output = TargetOutcome> + Send + 'a>> {
        Box::pin(async move {
            match d.target.spec::<K::Spec>() {
                Some(spec) => drive(ctx, self, spec, d).await,
                None => failed(
                    TargetError::new(format!(
                        "internal error: `{}` is not a {} target (a bug: please report it)",
                        d.target.id(),
                        Kind::kind(self)
                    )),
                    TargetOutcome::default(),
                ),
            }
        })
    }
}

/// What kinds are built from for a run (see `crate::targets::kinds`).
pub struct Setup<'a> {
    pub inputs: &'a super::Inputs,
    pub manifest: &'a Manifest,
    /// The run's HTTP policy (timeouts, retries) and clock.
    pub http: crate::http::Policy,
    pub clock: crate::clock::Clock,
    /// `ACTIONS_ID_TOKEN_REQUEST_URL` and `_TOKEN`, in a job that may ask
    /// for an OIDC token.
    pub id_token_request: Option<(String, SecretString)>,
    /// Registers a credential to be masked before anything prints.
    pub mask: Arc<dyn Fn(&SecretString) + Send + Sync>,
    /// What GitHub targets share with the metadata read.
    pub github: super::github::Settings,
}

impl Setup<'_> {
    /// Whether the manifest has a target of `kind` (settings that cost
    /// something to find, such as a cluster, are looked for only then).
    pub fn has(&self, kind: TargetKind) -> bool {
        self.manifest.targets.iter().any(|t| t.kind == kind)
    }

    /// The mask, for settings that keep it (credentials obtained later).
    pub fn mask_fn(&self) -> Box<dyn Fn(&SecretString) + Send + Sync> {
        let mask = self.mask.clone();
        Box::new(move |s: &SecretString| mask(s))
    }
}

/// Reads, plans and — in `sync`, unless validation failed — writes one target.
pub async fn drive<K: Kind>(ctx: &Context, kind: &K, spec: &K::Spec, d: &Desired) -> TargetOutcome {
    for _attempt in 0..=CONFLICT_RETRIES {
        let current = match kind.read(ctx, spec, d).await {
            Ok(c) => c,
            Err(e) => return failed(e, TargetOutcome::default()),
        };
        let evidence = kind.evidence(ctx, spec, &current, d);
        let proofs = evidence.as_ref().map(|e| Proofs::of(ctx, e, d)).unwrap_or_default();
        let mut plan = match kind.plan(ctx, spec, &current, &proofs, d) {
            Ok(p) => p,
            Err(e) => return failed(e, TargetOutcome::default()),
        };
        if evidence.is_some() {
            owned_by_record(ctx, &proofs, d, &mut plan);
        }
        let mut out = TargetOutcome {
            changes: plan.changes.clone(),
            unrouted: plan.unrouted.clone(),
            warnings: plan.warnings.iter().cloned().chain(kept_warning(&plan.kept)).collect(),
            revision_before: plan.revision,
            record: plan.record.clone(),
            ..TargetOutcome::default()
        };
        if ctx.prune && plan.deletes > ctx.max_deletes {
            out.status = Some(TargetStatus::Failed);
            out.message = Some(format!(
                "pruning would delete {} keys, more than `max-deletes` ({}); nothing was written to this target. Review the manifest or raise `max-deletes`.",
                plan.deletes, ctx.max_deletes
            ));
            return out;
        }
        let work = match (&plan.work, ctx.writes()) {
            (Some(w), true) => w,
            (work, writes) => {
                out.status =
                    Some(if work.is_none() && writes { TargetStatus::Unchanged } else { TargetStatus::Planned });
                out.message = plan.note.clone();
                return with_failure(out, &plan.failure);
            }
        };
        match kind.apply(ctx, spec, &current, &plan, work, d).await {
            Ok(a) => {
                if let Some(changes) = a.changes {
                    out.changes = changes;
                }
                out.written = a.written;
                out.revision_after = a.revision;
                out.rollback = a.rollback;
                out.message = a.message;
                out.deployment = a.deployment;
                out.warnings.extend(a.warnings);
                out.status = Some(if a.changed { TargetStatus::Synced } else { TargetStatus::Unchanged });
                if let Some(e) = a.failed_after_write {
                    out = failed(e, out);
                }
                return with_failure(out, &plan.failure);
            }
            Err(ApplyError::Conflict) => {
                tracing::debug!(target = %d.target.id(), "the target changed while it was written; reading it again");
                continue;
            }
            Err(ApplyError::Failed { error, written }) => {
                out.written = written;
                return failed(error, out);
            }
        }
    }
    failed(
        TargetError::new(format!(
            "`{}` kept changing while secret-sync wrote it ({} conflicts); nothing was written. Re-run.",
            d.target.destination(),
            CONFLICT_RETRIES + 1
        )),
        TargetOutcome::default(),
    )
}

/// What the record decides at a recorded kind's target, the same for every
/// such kind: keys it no longer holds are named (and left), pruning without
/// a record deletes nothing and says why, owned keys left in place without
/// `prune` are kept, and what the record proved goes to the report.
pub(crate) fn owned_by_record<W>(ctx: &Context, proofs: &Proofs, d: &Desired, plan: &mut Plan<W>) {
    let mut warnings: Vec<String> = proofs.prunable.warning(&d.target.id()).into_iter().collect();
    if ctx.prune && proofs.deletable.is_none() {
        warnings.extend(ctx.ledger.no_pruning());
    }
    warnings.append(&mut plan.warnings);
    plan.warnings = warnings;
    if !ctx.prune {
        plan.kept = proofs.deletable.iter().flatten().map(|(listed, _)| listed.clone()).collect();
    }
    plan.record = ctx.ledger.keeps.then(|| proofs.report(ctx, d, &plan.changes));
}

/// The warning for owned keys left in place because `prune` is off.
fn kept_warning(kept: &[String]) -> Option<String> {
    (!kept.is_empty()).then(|| {
        let names: Vec<String> = kept.iter().map(|k| format!("`{k}`")).collect();
        format!(
            "{} key(s) secret-sync wrote here that the manifest no longer routes are left in place ({}); `prune: true` would delete them",
            kept.len(),
            names.join(", ")
        )
    })
}

/// `out` failed by what planning found, its message first.
fn with_failure(mut out: TargetOutcome, failure: &Option<TargetError>) -> TargetOutcome {
    if let Some(f) = failure {
        out.status = Some(TargetStatus::Failed);
        out.message = Some(match out.message.take() {
            Some(m) if !m.is_empty() => format!("{f}; {m}"),
            _ => f.to_string(),
        });
    }
    out
}

/// `out` as failed with `e`: the message, status and request id kept.
fn failed(e: TargetError, mut out: TargetOutcome) -> TargetOutcome {
    out.status = Some(TargetStatus::Failed);
    out.message = Some(e.to_string());
    out.http_status = e.status;
    out.request_id = e.request_id;
    out
}
