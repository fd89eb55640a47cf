//! Where the state record lives: a run artifact in Actions, a file locally,
//! or nowhere (`state: none`).
//!
//! Reading never fails a run: a missing, expired, unreadable or corrupt
//! record is a note and the safe behaviour (nothing proven unchanged,
//! nothing pruned), never a guess.
//!
//! Only a record whose MAC verifies with the state key is used
//! ([`Record::verify`]); any other is refused, with the reason.
//!
//! In Actions the record is the artifact `secret-sync-state-<environment>-<id
//! of the manifest path>` of this repository: every page of the list is
//! read, artifacts made by runs of forks are skipped, and the newest of the
//! rest by `created_at` is read at the start through the REST API (`GET /repos/{owner}/{repo}/actions/artifacts?name=`,
//! then `GET …/artifacts/{id}/zip`, which redirects to the archive; octokit's
//! endpoint list names them `actions.listArtifactsForRepo` and
//! `actions.downloadArtifact`), with a token that has `actions: read`. It is
//! uploaded at the end through the results service, like the report
//! ([`crate::artifact`]), without an expiry: the service then keeps it as
//! long as the repository's retention setting allows, the longest it allows
//! (actions/toolkit `packages/artifact/src/internal/upload/retention.ts`:
//! a requested retention is capped at that setting).

use std::io::Read;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::record::{Record, StateKey};
use crate::artifact::ArtifactError;
use crate::http::{encode, join, Http, HttpError};

/// The record's file name, inside the artifact too.
pub const FILE: &str = "secret-sync-state.json";
/// A record of 100,000 keys is about 20 MiB; refuse anything far beyond.
const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Why the record could not be read or saved. What GitHub answered stays an
/// [`HttpError`], with its status and request id.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot write the state file `{path}`: {reason}")]
    WriteFile { path: String, reason: String },
    #[error("the runner gave no artifact service (ACTIONS_RUNTIME_TOKEN), so the record was not saved")]
    NoArtifactService,
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error("cannot read the state file `{path}`: {cause}")]
    ReadFile { path: String, cause: Box<StoreError> },
    #[error("the state file `{path}` is not a regular file")]
    NotAFile { path: String },
    /// Why a read failed, in words (`crate::util::io_reason`).
    #[error("{reason}")]
    Io { reason: String },
    #[error("it is larger than {mib} MiB", mib = MAX_BYTES / 1024 / 1024)]
    TooLarge,
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("{what}: the response is not the expected JSON")]
    NotJson { what: String },
    #[error("{what}: the archive could not be read")]
    ArchiveUnreadable { what: String },
    /// The downloaded archive does not hold a record.
    #[error("{what}: {cause}")]
    Archive { what: String, cause: Box<StoreError> },
    #[error("the archive is not a zip file")]
    NotZip,
    #[error("the archive has no `{file}`", file = FILE)]
    NoRecordFile,
    #[error("`{repo}` is not owner/name")]
    Repo { repo: String },
}

fn io(e: &std::io::Error) -> StoreError {
    StoreError::Io { reason: crate::util::io_reason(e) }
}

/// Where the record is kept.
pub enum Store {
    /// `state: none`: no record is read or written.
    Off,
    /// `--state-file PATH` (locally).
    File(PathBuf),
    /// A run artifact of this repository.
    Artifact(ArtifactStore),
}

pub struct ArtifactStore {
    /// GitHub REST API base (`GITHUB_API_URL`).
    pub api: String,
    /// `owner/name` of the repository running the job.
    pub repo: String,
    /// A token that may read this repository's artifacts (`actions: read`).
    pub token: SecretString,
    /// The results service, to upload the new record (absent on GHES).
    pub upload: Option<crate::artifact::Runtime>,
    pub name: String,
    /// The repository's numeric id (`GITHUB_REPOSITORY_ID`): artifacts of
    /// runs whose head repository is another (a fork's pull request) are
    /// skipped. Unknown, each artifact's own `workflow_run.repository_id`
    /// stands in for it.
    pub repo_id: Option<u64>,
}

/// How reading the record went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadStatus {
    /// `state: none`.
    Off,
    Read,
    /// No record yet (a first run, or one written elsewhere).
    Missing,
    /// The newest record's artifact has expired.
    Expired,
    /// It could not be fetched, or it is not a record of this run.
    Unreadable,
    /// It does not verify: no MAC, another key's, a broken one, or no
    /// state key to check it with.
    Refused,
}

pub struct Loaded {
    pub record: Option<Record>,
    pub status: ReadStatus,
    /// What a reader should know (why it is missing, unreadable …).
    pub note: Option<String>,
    /// Artifacts of the record's name skipped because a fork's run made them.
    pub skipped_forks: usize,
}

impl Loaded {
    fn without(status: ReadStatus, note: impl Into<String>) -> Loaded {
        Loaded { record: None, status, note: Some(note.into()), skipped_forks: 0 }
    }
}

/// The artifact name of a manifest's record in one environment: only the
/// characters artifact names allow, and the manifest told apart by a short
/// hash of its path (two manifests in one repository keep two records).
pub fn artifact_name(manifest: &str, environment: &str) -> String {
    let env: String = environment
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' })
        .collect();
    let id: String = Sha256::digest(manifest.as_bytes()).iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("secret-sync-state-{env}-{id}")
}

impl Store {
    pub fn describe(&self) -> String {
        match self {
            Store::Off => "off (`state: none`)".into(),
            Store::File(p) => format!("file `{}`", p.display()),
            Store::Artifact(a) => format!("artifact `{}` of `{}`", a.name, a.repo),
        }
    }

    /// Reads the record; only one whose MAC verifies with `key` is returned.
    pub async fn load(&self, http: &Http, manifest: &str, environment: &str, key: Option<&StateKey>) -> Loaded {
        let mut skipped_forks = 0;
        let bytes = match self {
            Store::Off => return Loaded { record: None, status: ReadStatus::Off, note: None, skipped_forks },
            Store::File(p) => match read_file(p) {
                Ok(Some(b)) => b,
                Ok(None) => {
                    return Loaded::without(ReadStatus::Missing, format!("no state file at `{}` yet", p.display()))
                }
                Err(e) => return Loaded::without(ReadStatus::Unreadable, e.to_string()),
            },
            Store::Artifact(a) => {
                let (fetched, skipped) = match a.download(http).await {
                    Ok(f) => f,
                    Err(e) => return Loaded::without(ReadStatus::Unreadable, e.to_string()),
                };
                skipped_forks = skipped;
                let without = |status, note: String| Loaded { skipped_forks, ..Loaded::without(status, note) };
                match fetched {
                    Fetched::Record(b) => b,
                    Fetched::Missing => {
                        return without(ReadStatus::Missing, format!("no artifact `{}` in `{}` yet", a.name, a.repo))
                    }
                    Fetched::Expired => {
                        return without(ReadStatus::Expired, format!("the newest artifact `{}` has expired", a.name))
                    }
                }
            }
        };
        let without = |status, note: String| Loaded { skipped_forks, ..Loaded::without(status, note) };
        // serde_json quotes input in its errors; the record holds no values,
        // but say only where it broke, never what was there.
        let record: Record = match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(e) => {
                return without(
                    ReadStatus::Unreadable,
                    format!("the record is corrupt (not a state record at line {}, column {})", e.line(), e.column()),
                )
            }
        };
        // The MAC first: nothing else in a record that does not verify is
        // worth a reader's attention.
        if let Err(why) = record.verify(key) {
            return without(ReadStatus::Refused, format!("the record is not used: {why}"));
        }
        match record.check(manifest, environment) {
            Ok(()) => Loaded { record: Some(record), status: ReadStatus::Read, note: None, skipped_forks },
            Err(why) => without(ReadStatus::Unreadable, format!("the record is not used: {why}")),
        }
    }

    /// Writes the record; `Err` says why it could not be, in the words the
    /// report shows (the run keeps that text as it is).
    pub async fn save(&self, http: &Http, record: &Record) -> Result<(), String> {
        self.write(http, record).await.map_err(|e| e.to_string())
    }

    async fn write(&self, http: &Http, record: &Record) -> Result<(), StoreError> {
        let json = serde_json::to_vec_pretty(record).expect("a record serialises");
        match self {
            Store::Off => Ok(()),
            Store::File(p) => std::fs::write(p, json).map_err(|e| StoreError::WriteFile {
                path: p.display().to_string(),
                reason: crate::util::io_reason(&e),
            }),
            Store::Artifact(a) => {
                let Some(rt) = &a.upload else {
                    return Err(StoreError::NoArtifactService);
                };
                crate::artifact::upload(http, rt, &a.name, &[(FILE, &json)]).await?;
                Ok(())
            }
        }
    }
}

/// A state file: `None` when there is none yet. Read bounded, regular
/// files only (a FIFO would hang the run).
fn read_file(p: &std::path::Path) -> Result<Option<Vec<u8>>, StoreError> {
    let unreadable = |cause| StoreError::ReadFile { path: p.display().to_string(), cause: Box::new(cause) };
    let meta = match std::fs::metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(io(&e))),
    };
    if !meta.is_file() {
        return Err(StoreError::NotAFile { path: p.display().to_string() });
    }
    let f = std::fs::File::open(p).map_err(|e| unreadable(io(&e)))?;
    capped(f).map(Some).map_err(unreadable)
}

fn capped(r: impl Read) -> Result<Vec<u8>, StoreError> {
    let mut buf = Vec::new();
    r.take(MAX_BYTES + 1).read_to_end(&mut buf).map_err(|e| io(&e))?;
    if buf.len() as u64 > MAX_BYTES {
        return Err(StoreError::TooLarge);
    }
    Ok(buf)
}

enum Fetched {
    Record(Vec<u8>),
    Missing,
    Expired,
}

#[derive(Deserialize)]
struct ArtifactList {
    #[serde(default)]
    total_count: usize,
    #[serde(default)]
    artifacts: Vec<ArtifactMeta>,
}

/// An artifact as the REST API lists it (docs/service-facts.md, "GitHub
/// Actions artifacts": the artifact object and its `workflow_run`).
#[derive(Deserialize)]
struct ArtifactMeta {
    id: u64,
    name: String,
    #[serde(default)]
    expired: bool,
    #[serde(default)]
    created_at: String,
    #[serde(default)]
    workflow_run: Option<WorkflowRun>,
}

#[derive(Deserialize)]
struct WorkflowRun {
    #[serde(default)]
    repository_id: Option<u64>,
    #[serde(default)]
    head_repository_id: Option<u64>,
}

/// The most pages of 100 artifacts read (10,000 records: far more than a
/// retention of 90 days of runs keeps).
const MAX_PAGES: usize = 100;

impl ArtifactMeta {
    /// Made by a run whose head repository is not this one: a fork's pull
    /// request. An artifact that does not say is not skipped here (the MAC
    /// still decides whether its record is used).
    fn made_by_fork(&self, repo_id: Option<u64>) -> bool {
        let Some(run) = &self.workflow_run else { return false };
        match (run.head_repository_id, repo_id.or(run.repository_id)) {
            (Some(head), Some(ours)) => head != ours,
            _ => false,
        }
    }
}

impl ArtifactStore {
    fn get(&self, http: &Http, url: &str) -> reqwest::RequestBuilder {
        http.request(reqwest::Method::GET, url)
            .bearer_auth(self.token.expose_secret())
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
    }

    /// Every page of the artifacts of the record's name (bounded by
    /// [`MAX_PAGES`]): the REST docs promise no order, so the newest is
    /// found by `created_at` among all of them.
    async fn list(&self, http: &Http, base: &str) -> Result<Vec<ArtifactMeta>, StoreError> {
        let what = format!("listing the state artifacts of `{}`", self.repo);
        let mut all = Vec::new();
        for page in 1..=MAX_PAGES {
            // 100 is the largest page.
            let url = join(&self.api, &format!("{base}?name={}&per_page=100&page={page}", encode(&self.name)));
            let r = http.send(&what, || self.get(http, &url)).await?;
            if !r.status().is_success() {
                let hint = match r.status().as_u16() {
                    401 | 403 | 404 => {
                        "the token cannot read this repository's artifacts: give the job `permissions: actions: read`"
                    }
                    _ => "",
                };
                return Err(http.status_error(&what, &r, hint).into());
            }
            let list: ArtifactList = r.json().await.map_err(|_| StoreError::NotJson { what: what.clone() })?;
            let last = list.artifacts.len() < 100;
            all.extend(list.artifacts);
            if last || all.len() >= list.total_count {
                break;
            }
        }
        Ok(all)
    }

    /// The newest record of this repository's own runs, and how many
    /// artifacts of its name forks' runs made (skipped).
    async fn download(&self, http: &Http) -> Result<(Fetched, usize), StoreError> {
        let (owner, name) = self.repo.split_once('/').ok_or_else(|| StoreError::Repo { repo: self.repo.clone() })?;
        let base = format!("/repos/{}/{}/actions/artifacts", encode(owner), encode(name));
        let listed = self.list(http, &base).await?;
        let named: Vec<&ArtifactMeta> = listed.iter().filter(|a| a.name == self.name).collect();
        let (forks, mut ours): (Vec<&ArtifactMeta>, Vec<&ArtifactMeta>) =
            named.into_iter().partition(|a| a.made_by_fork(self.repo_id));
        let skipped = forks.len();
        ours.sort_by(|a, b| {
            let t = |x: &ArtifactMeta| crate::util::parse_rfc3339(&x.created_at).unwrap_or(0);
            t(b).cmp(&t(a)).then(b.id.cmp(&a.id))
        });
        let Some(newest) = ours.first() else { return Ok((Fetched::Missing, skipped)) };
        if newest.expired {
            return Ok((Fetched::Expired, skipped));
        }
        let url = join(&self.api, &format!("{base}/{}/zip", newest.id));
        let what = format!("downloading the state artifact `{}`", self.name);
        // The answer is a redirect to the archive; reqwest follows it and
        // drops the Authorization header on the way to another host.
        let r = http.send(&what, || self.get(http, &url)).await?;
        if r.status().as_u16() == 410 {
            return Ok((Fetched::Expired, skipped));
        }
        if !r.status().is_success() {
            return Err(http.status_error(&what, &r, "").into());
        }
        let zip = r.bytes().await.map_err(|_| StoreError::ArchiveUnreadable { what: what.clone() })?;
        unzip(&zip).map(|b| (Fetched::Record(b), skipped)).map_err(|e| StoreError::Archive { what, cause: Box::new(e) })
    }
}

/// The record file from an artifact's zip archive.
fn unzip(bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|_| StoreError::NotZip)?;
    let file = archive.by_name(FILE).map_err(|_| StoreError::NoRecordFile)?;
    capped(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_errors_name_the_file() {
        let e = StoreError::ReadFile { path: "s.json".into(), cause: Box::new(StoreError::TooLarge) };
        assert_eq!(e.to_string(), "cannot read the state file `s.json`: it is larger than 64 MiB");
        let e = StoreError::Archive { what: "downloading".into(), cause: Box::new(StoreError::NoRecordFile) };
        assert_eq!(e.to_string(), "downloading: the archive has no `secret-sync-state.json`");
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            read_file(dir.path()).unwrap_err().to_string(),
            format!("the state file `{}` is not a regular file", dir.path().display())
        );
    }

    #[test]
    fn artifact_names_are_valid_and_per_manifest() {
        let a = artifact_name(".github/secret-sync.yml", "production");
        assert!(a.starts_with("secret-sync-state-production-") && a.len() == "secret-sync-state-production-".len() + 8);
        assert!(crate::artifact::check_name(&a).is_ok());
        assert_ne!(a, artifact_name("other.yml", "production"));
        let odd = artifact_name("m.yml", "prod/eu: \"1\"");
        assert!(crate::artifact::check_name(&odd).is_ok(), "{odd}");
    }

    #[test]
    fn artifacts_of_forks_runs_are_told_apart() {
        let meta = |json: &str| -> ArtifactMeta { serde_json::from_str(json).unwrap() };
        let own = meta(r#"{"id":1,"name":"n","workflow_run":{"repository_id":7,"head_repository_id":7}}"#);
        let fork = meta(r#"{"id":2,"name":"n","workflow_run":{"repository_id":7,"head_repository_id":9}}"#);
        let silent = meta(r#"{"id":3,"name":"n"}"#);
        assert!(!own.made_by_fork(Some(7)) && !own.made_by_fork(None));
        assert!(fork.made_by_fork(Some(7)) && fork.made_by_fork(None), "without GITHUB_REPOSITORY_ID, the run's own");
        assert!(own.made_by_fork(Some(8)), "another repository's id than ours");
        assert!(!silent.made_by_fork(Some(7)), "one that does not say is left to the MAC");
    }

    #[test]
    fn archives_are_read_back() {
        let zip = crate::artifact::zip_stored(&[(FILE, b"{}"), ("other.md", b"x")]);
        assert_eq!(unzip(&zip).unwrap(), b"{}");
        let without = crate::artifact::zip_stored(&[("other.md", b"x")]);
        assert!(unzip(&without).unwrap_err().to_string().contains("has no"));
        assert!(unzip(b"not a zip").unwrap_err().to_string().contains("not a zip"));
    }

    #[test]
    fn a_state_file_is_read_back_and_a_missing_or_corrupt_one_is_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let store = Store::File(path.clone());
        let http = Http::new(crate::http::Policy::default(), &[]);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let key = StateKey::new(SecretString::from("0123456789abcdef-state-key".to_string())).unwrap();
        let k = Some(&key);
        let missing = rt.block_on(store.load(&http, "m.yml", "production", k));
        assert_eq!((missing.status, missing.record.is_none()), (ReadStatus::Missing, true));
        let mut r = Record::new("m.yml", "production", k);
        r.wrote("github:app", "A", "2026-11-23T11:40:00Z".into(), None, "2026-11-23T11:40:00Z");
        r.seal(&key);
        rt.block_on(store.save(&http, &r)).unwrap();
        let read = rt.block_on(store.load(&http, "m.yml", "production", k));
        assert_eq!((read.status, read.record), (ReadStatus::Read, Some(r)));
        let other = rt.block_on(store.load(&http, "m.yml", "staging", k));
        assert_eq!(other.status, ReadStatus::Unreadable);
        let unkeyed = rt.block_on(store.load(&http, "m.yml", "production", None));
        assert_eq!(unkeyed.status, ReadStatus::Refused);
        assert!(unkeyed.note.unwrap().contains("no `state-key`"));
        std::fs::write(&path, "{ not a record: hunter2").unwrap();
        let corrupt = rt.block_on(store.load(&http, "m.yml", "production", k));
        assert_eq!(corrupt.status, ReadStatus::Unreadable);
        let note = corrupt.note.unwrap();
        assert!(note.contains("corrupt") && !note.contains("hunter2"), "{note}");
    }
}
