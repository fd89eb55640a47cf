//! The state record in a run that contacts targets: which store keeps it,
//! reading it once at the start into the targets' ledger, and writing it at
//! the end when the run changed it (partial runs included: targets record
//! each write as it lands).

use std::sync::Mutex;

use crate::config::{Config, Mode, StateStore};
use crate::output::Printer;
use crate::report::StateReport;
use crate::state::store::{artifact_name, ArtifactStore};
use crate::state::{ReadStatus, Record, StateKey, Store};
use crate::targets::ledger::Ledger;

/// The repository's artifact retention when the runner does not say
/// (`GITHUB_RETENTION_DAYS`): GitHub's default of 90 days.
const DEFAULT_RETENTION_DAYS: u32 = 90;

/// A record older than half the repository's retention is written again
/// even when nothing in it changed, so that runs that write nothing keep it
/// from expiring (artifacts live as long as the retention setting: 90 days
/// by default, 1 to 400 by repository; docs/service-facts.md, "GitHub
/// Actions runner").
fn refresh_after_secs(retention_days: Option<u32>) -> i64 {
    i64::from(retention_days.unwrap_or(DEFAULT_RETENTION_DAYS)) * 24 * 3600 / 2
}

pub struct Kept {
    store: Store,
    http: crate::http::Http,
    /// The manifest as the record names it, and the environment.
    manifest: String,
    environment: String,
    key: Mutex<Option<StateKey>>,
    sync: bool,
    /// `prune: true`: said once when no state key lets it delete anything.
    prune: bool,
    no_key: bool,
    refresh_after: i64,
    now_secs: i64,
    /// Why the store cannot be read at all (no token, no repository).
    unreadable: Option<String>,
    /// Why the record cannot be written (`None`: it can).
    cannot_write: Option<String>,
    /// How reading went, for the report, and how many fork artifacts were skipped.
    read: Mutex<(ReadStatus, Option<String>, usize)>,
    /// The record as read (verified), to tell whether the run changed it.
    initial: Mutex<Option<Record>>,
    /// Saving failed: said as a warning.
    save_error: Mutex<Option<String>>,
}

impl Kept {
    pub fn new(cfg: &Config, manifest: &str, environment: &str, key: Option<StateKey>) -> Kept {
        let mut unreadable = None;
        let mut cannot_write = None;
        let no_key = key.is_none();
        let store = match &cfg.state.store {
            StateStore::Off => {
                cannot_write = Some("no record is kept (`state: none`, or no `--state-file` locally)".to_string());
                Store::Off
            }
            StateStore::File(p) => Store::File(p.clone()),
            StateStore::Artifact { token } => {
                // A matrix's shards each keep the record of the targets they handle.
                let id = match &cfg.selection {
                    Some(sel) => format!("{manifest}\n{}", sel.patterns.join(",")),
                    None => manifest.to_string(),
                };
                let repo = cfg.runner.repository.clone().unwrap_or_default();
                if repo.is_empty() {
                    unreadable = Some("the runner did not name the repository (GITHUB_REPOSITORY)".to_string());
                } else if token.is_none() {
                    unreadable = Some(
                        "`state-token` is empty (its default is the job's `${{ github.token }}`, with `permissions: actions: read`)"
                            .to_string(),
                    );
                }
                let upload = cfg.out.artifact_service.clone();
                if upload.is_none() {
                    cannot_write = Some(
                        "the runner gave no artifact service (ACTIONS_RUNTIME_TOKEN; GitHub Enterprise Server has none)"
                            .to_string(),
                    );
                }
                Store::Artifact(ArtifactStore {
                    api: cfg.runner.github_api.clone(),
                    repo,
                    token: token.clone().unwrap_or_else(|| secrecy::SecretString::from(String::new())),
                    upload,
                    name: artifact_name(&id, environment),
                    repo_id: cfg.runner.repository_id,
                })
            }
        };
        // Without a key no record can be verified: none is read or written.
        if no_key && !matches!(store, Store::Off) {
            unreadable = Some(crate::state::record::Unverified::NoKey.to_string());
            cannot_write = Some("without `state-key` the next run could not verify it".to_string());
        }
        Kept {
            store,
            http: crate::http::Http::new(cfg.runner.http.clone(), &["x-github-request-id"]),
            manifest: manifest.to_string(),
            environment: environment.to_string(),
            key: Mutex::new(key),
            sync: cfg.mode == Mode::Sync,
            prune: cfg.targets.prune,
            no_key,
            refresh_after: refresh_after_secs(cfg.runner.retention_days),
            now_secs: cfg.runner.now,
            unreadable,
            cannot_write,
            read: Mutex::new((ReadStatus::Off, None, 0)),
            initial: Mutex::new(None),
            save_error: Mutex::new(None),
        }
    }

    fn describe(&self) -> String {
        match self.store {
            Store::Off => "off".into(),
            _ => self.store.describe(),
        }
    }

    /// Reads the record (never failing: a record that cannot be read is a
    /// note, and the ledger then proves nothing and prunes nothing).
    pub async fn read(&self) -> Ledger {
        let key = lock(&self.key).take();
        let loaded = match &self.unreadable {
            Some(why) => crate::state::Loaded {
                record: None,
                status: if self.no_key { ReadStatus::Refused } else { ReadStatus::Unreadable },
                note: Some(why.clone()),
                skipped_forks: 0,
            },
            None => self.store.load(&self.http, &self.manifest, &self.environment, key.as_ref()).await,
        };
        let why_none = match loaded.status {
            ReadStatus::Off => "no state record is kept".to_string(),
            ReadStatus::Missing => "there is no state record yet".to_string(),
            ReadStatus::Expired => "the state record has expired".to_string(),
            ReadStatus::Refused if self.no_key => "no `state-key` is set to verify the state record".to_string(),
            ReadStatus::Refused => "the state record does not verify".to_string(),
            _ => "the state record could not be read".to_string(),
        };
        *lock(&self.read) = (loaded.status, loaded.note, loaded.skipped_forks);
        // Only a record whose MAC verified with this key is here.
        let read = loaded.record;
        let start = read.clone().unwrap_or_else(|| Record::new(&self.manifest, &self.environment, key.as_ref()));
        *lock(&self.initial) = read.clone();
        let mut ledger = Ledger::keeping(read, start, why_none, key, crate::util::rfc3339(self.now_secs));
        ledger.keeps = self.cannot_write.is_none();
        // Said once for the run (see `announce`), not at every target.
        ledger.quiet_no_pruning = self.no_key;
        ledger
    }

    /// Writes the record when the run changed it (or it is due a refresh),
    /// and says how reading and writing went.
    pub async fn write(&self, ledger: &Ledger) -> StateReport {
        let (read, note, skipped_forks) = lock(&self.read).clone();
        let mut report = StateReport {
            store: self.describe(),
            read,
            note,
            fingerprints: ledger.key.is_some(),
            skipped_forks,
            written: false,
            not_written: None,
        };
        let after = lock(&ledger.after).clone();
        let initial = lock(&self.initial).clone();
        let changed = match &initial {
            Some(r) => *r != after,
            // A record that did not verify is replaced by a valid one.
            None => !after.targets.is_empty() || read == ReadStatus::Refused,
        };
        let stale = initial.as_ref().is_some_and(|r| {
            crate::util::parse_rfc3339(&r.updated_at).is_none_or(|t| self.now_secs - t > self.refresh_after)
        });
        let why_not = if let Some(why) = &self.cannot_write {
            Some(why.clone())
        } else if !self.sync {
            Some("`plan` writes nothing".to_string())
        } else if !changed && !stale {
            Some("nothing in it changed".to_string())
        } else {
            None
        };
        if let Some(why) = why_not {
            report.not_written = Some(why);
            return report;
        }
        let mut record = after;
        record.updated_at = crate::util::rfc3339(self.now_secs);
        if let Some(key) = &ledger.key {
            record.seal(key);
        }
        match self.store.save(&self.http, &record).await {
            Ok(()) => report.written = true,
            Err(e) => {
                report.not_written = Some(format!("saving it failed: {e}"));
                *lock(&self.save_error) = Some(e);
            }
        }
        report
    }

    /// A record that could not be read is a notice; one that could not be
    /// saved, a warning (what was written stays written either way).
    pub fn announce(&self, out: &Printer, s: &StateReport) {
        if self.prune && self.no_key {
            out.warning(
                "state",
                "`prune: true` deletes nothing at Fly and GitHub targets: without `state-key` the state record cannot be verified, so nothing shows which keys secret-sync wrote",
            );
        }
        if matches!(s.read, ReadStatus::Missing | ReadStatus::Expired | ReadStatus::Unreadable | ReadStatus::Refused) {
            let note = s.note.as_deref().unwrap_or("no record");
            out.notice(
                "state",
                &format!("state record not used ({note}): nothing is proven unchanged by it, and pruning deletes nothing at the targets whose ownership it decides"),
            );
        }
        if let Some(e) = lock(&self.save_error).as_ref() {
            out.warning(
                "state",
                &format!("the state record could not be saved ({e}); the next run proves and prunes less"),
            );
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_record_is_refreshed_after_half_the_retention() {
        assert_eq!(super::refresh_after_secs(Some(30)), 15 * 24 * 3600);
        assert_eq!(super::refresh_after_secs(Some(1)), 12 * 3600);
        assert_eq!(super::refresh_after_secs(None), 45 * 24 * 3600, "GitHub's default retention is 90 days");
    }
}
