//! Leak scan (`scan` mode): search the workspace for the exact values the
//! manifest manages, in every form they commonly take (see [`forms`]), in
//! one multi-pattern pass (Aho-Corasick) per file. A hit is reported as
//! `file:line` and the secret's name — never the value, nor any part of it,
//! nor the text around it.
//!
//! Skipped unless asked: `.git` (`--include-git`), binary files (a NUL byte
//! in the first 8000 bytes, git's own test; `--include-binary`), and the
//! secrets files the values were read from. Symbolic links are not followed.
//! Git history (`--history`) needs `git` on PATH (see [`history`]).

pub mod forms;
pub mod history;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use aho_corasick::{AhoCorasick, MatchKind};
use secrecy::ExposeSecret;
use serde::Serialize;

pub use forms::{Form, MIN_LEN};

use crate::actions::{self, Level, Location};
use crate::diag::{Finding, Kind, Severity};
use crate::manifest::Manifest;
use crate::values::SecretValues;

/// What to scan and what to skip.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub root: PathBuf,
    pub include_git: bool,
    pub include_binary: bool,
    pub history: bool,
    /// Files never reported (the secrets files the values came from).
    pub exclude: Vec<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanReport {
    pub files_scanned: usize,
    pub bytes_scanned: u64,
    /// Binary files not searched (`--include-binary` searches them).
    pub binary_skipped: usize,
    /// `.git` was not searched (`--include-git` searches it).
    pub git_skipped: bool,
    /// Values searched for, and the patterns their forms made.
    pub values_searched: usize,
    pub patterns: usize,
    /// Secrets whose value is shorter than the minimum: not searched.
    pub too_short: Vec<String>,
    /// Files that could not be read, and the secrets files left out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<history::HistoryStats>,
    pub leaks: Vec<Leak>,
}

/// One place a value was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leak {
    pub secret: String,
    /// The source secret, when its name differs from the declared one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Relative to the scanned directory, `/`-separated.
    pub file: String,
    pub line: usize,
    pub forms: Vec<Form>,
    /// Found in git history: the blob holding it (`git log --all --find-object=BLOB`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
}

/// A value to look for, and whose it is.
struct Hunted<'a> {
    secret: String,
    source: String,
    value: &'a str,
    /// Where the secret is declared.
    line: usize,
    col: usize,
}

/// The values the manifest manages: every handed-in value some declared
/// secret reads, in any environment (a leaked staging key matters in a
/// production run too). Values too short to search are returned by name.
fn hunted<'a>(m: &Manifest, vals: &'a SecretValues) -> (Vec<Hunted<'a>>, Vec<String>) {
    let mut out: Vec<Hunted> = Vec::new();
    let mut short = BTreeSet::new();
    for s in &m.secrets {
        let names = m.environments.iter().flat_map(|e| m.source_candidates(s, &e.name)).chain(s.from_env.clone());
        for name in names {
            let Some((key, v)) = vals.get(&name) else { continue };
            let value = v.secret.expose_secret();
            if value.trim().is_empty() || out.iter().any(|h| h.source == key) {
                continue;
            }
            if value.trim().chars().count() < MIN_LEN {
                short.insert(s.name.clone());
                continue;
            }
            out.push(Hunted {
                secret: s.name.clone(),
                source: key.to_string(),
                value,
                line: s.pos.line,
                col: s.pos.col,
            });
        }
    }
    (out, short.into_iter().collect())
}

/// All forms of all values in one automaton; `owners[pattern]` says whose.
pub struct Scanner {
    ac: AhoCorasick,
    owners: Vec<Vec<(usize, Form)>>,
    /// Bytes carried from one chunk to the next so no match is cut.
    keep: usize,
}

/// Why a scan could not run.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot scan `{root}`: {reason}")]
    Root { root: String, reason: String },
    #[error("the values are too many or too long to search at once")]
    TooManyValues,
    /// `what` is the step of reading the history that failed.
    #[error(
        "`--history` needs git on PATH and a git repository at the scanned directory ({what}); the action's image has no git: run `secret-sync scan --history` on the runner or locally"
    )]
    History { what: &'static str },
}

/// For the run, which reports a message as it is.
impl From<ScanError> for String {
    fn from(e: ScanError) -> String {
        e.to_string()
    }
}

/// Hits in one file: (line, pattern).
type Hits = Vec<(usize, usize)>;

const CHUNK: usize = 4 << 20;
/// git's binary test reads this many bytes.
const BINARY_PROBE: usize = 8000;

impl Scanner {
    pub fn new(values: &[&str]) -> Result<Scanner, ScanError> {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut owners: Vec<Vec<(usize, Form)>> = Vec::new();
        let mut index: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
        for (i, v) in values.iter().enumerate() {
            for (form, bytes) in forms::forms(v) {
                let p = *index.entry(bytes.clone()).or_insert_with(|| {
                    patterns.push(bytes);
                    owners.push(Vec::new());
                    patterns.len() - 1
                });
                if !owners[p].iter().any(|(o, _)| *o == i) {
                    owners[p].push((i, form));
                }
            }
        }
        let keep = patterns.iter().map(Vec::len).max().unwrap_or(1).saturating_sub(1);
        // Standard semantics: overlapping search reports every pattern.
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .map_err(|_| ScanError::TooManyValues)?;
        Ok(Scanner { ac, owners, keep })
    }

    pub fn patterns(&self) -> usize {
        self.owners.len()
    }

    /// Searches a stream in chunks (with an overlap, so a value across a
    /// chunk boundary is found). `None`: binary, and binary is not wanted.
    pub fn scan(&self, mut r: impl Read, include_binary: bool) -> std::io::Result<Option<(u64, Hits)>> {
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + self.keep);
        let (mut total, mut line_base, mut carried, mut first) = (0u64, 1usize, 0usize, true);
        let mut hits = Vec::new();
        loop {
            let before = buf.len();
            buf.resize(before + CHUNK, 0);
            let mut filled = before;
            while filled < buf.len() {
                match r.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            buf.truncate(filled);
            let eof = filled < before + CHUNK;
            total += (filled - before) as u64;
            if first && !include_binary && memchr::memchr(0, &buf[..buf.len().min(BINARY_PROBE)]).is_some() {
                return Ok(None);
            }
            first = false;
            let mut found: Vec<(usize, usize)> = self
                .ac
                .find_overlapping_iter(&buf[..])
                .filter(|m| m.end() > carried)
                .map(|m| (m.start(), m.pattern().as_usize()))
                .collect();
            found.sort_unstable();
            let (mut at, mut line) = (0, line_base);
            for (start, p) in found {
                line += memchr::memchr_iter(b'\n', &buf[at..start]).count();
                at = start;
                hits.push((line, p));
            }
            if eof {
                return Ok(Some((total, hits)));
            }
            let cut = buf.len().saturating_sub(self.keep);
            line_base += memchr::memchr_iter(b'\n', &buf[..cut]).count();
            buf.drain(..cut);
            carried = buf.len();
        }
    }
}

/// Scans `opts.root` for the managed values; returns the report section and
/// one error finding per leaked secret (at its declaration).
pub fn run(opts: &Options, m: &Manifest, vals: &SecretValues) -> Result<(ScanReport, Vec<Finding>), ScanError> {
    let root = std::fs::canonicalize(&opts.root)
        .map_err(|e| ScanError::Root { root: opts.root.display().to_string(), reason: crate::util::io_reason(&e) })?;
    let (hunted, too_short) = hunted(m, vals);
    let values: Vec<&str> = hunted.iter().map(|h| h.value).collect();
    let scanner = Scanner::new(&values)?;
    let exclude: Vec<PathBuf> = opts.exclude.iter().filter_map(|p| std::fs::canonicalize(p).ok()).collect();

    let mut files = Vec::new();
    let mut excluded = Vec::new();
    let walk = walkdir::WalkDir::new(&root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| opts.include_git || !(e.file_type().is_dir() && e.file_name() == ".git"));
    let mut unreadable = Vec::new();
    for entry in walk {
        match entry {
            Ok(e) if e.file_type().is_file() => {
                if exclude.iter().any(|x| x == e.path()) {
                    excluded.push(display(&root, e.path()));
                } else {
                    files.push(e.into_path());
                }
            }
            Ok(_) => {}
            Err(e) => unreadable.push(e.path().map(|p| display(&root, p)).unwrap_or_else(|| "?".into())),
        }
    }

    let next = AtomicUsize::new(0);
    let found: Mutex<Vec<(usize, usize, Hits)>> = Mutex::new(Vec::new()); // (file, bytes, hits)
    let skipped = AtomicUsize::new(0);
    let failed: Mutex<Vec<usize>> = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = files.get(i) else { break };
                match std::fs::File::open(path).and_then(|f| scanner.scan(f, opts.include_binary)) {
                    Ok(Some((bytes, hits))) => {
                        found.lock().unwrap_or_else(|p| p.into_inner()).push((i, bytes as usize, hits))
                    }
                    Ok(None) => {
                        skipped.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => failed.lock().unwrap_or_else(|p| p.into_inner()).push(i),
                }
            });
        }
    });
    let mut found = found.into_inner().unwrap_or_else(|p| p.into_inner());
    found.sort_by_key(|(i, _, _)| *i);
    unreadable
        .extend(failed.into_inner().unwrap_or_else(|p| p.into_inner()).iter().map(|&i| display(&root, &files[i])));

    let mut leaks = Vec::new();
    for (i, _, hits) in &found {
        let file = display(&root, &files[*i]);
        add_leaks(&mut leaks, &scanner, &hunted, &file, None, hits);
    }
    let mut report = ScanReport {
        files_scanned: found.len(),
        bytes_scanned: found.iter().map(|(_, b, _)| *b as u64).sum(),
        binary_skipped: skipped.into_inner(),
        git_skipped: !opts.include_git,
        values_searched: hunted.len(),
        patterns: scanner.patterns(),
        too_short,
        unreadable,
        excluded,
        history: None,
        leaks,
    };
    if opts.history {
        let (stats, hist) = history::scan(&root, &scanner, opts.include_binary)?;
        report.history = Some(stats);
        for (path, blob, hits) in hist {
            add_leaks(&mut report.leaks, &scanner, &hunted, &path, Some(blob), &hits);
        }
    }
    let findings = findings(&report, &hunted);
    Ok((report, findings))
}

/// Hits → leaks, one per (file, line, secret) with every form seen there.
fn add_leaks(out: &mut Vec<Leak>, sc: &Scanner, hunted: &[Hunted], file: &str, blob: Option<String>, hits: &Hits) {
    for &(line, p) in hits {
        for &(owner, form) in &sc.owners[p] {
            let h = &hunted[owner];
            let same = |l: &&mut Leak| l.file == file && l.line == line && l.secret == h.secret && l.blob == blob;
            match out.iter_mut().rev().find(|l| same(l)) {
                Some(l) if !l.forms.contains(&form) => {
                    l.forms.push(form);
                    l.forms.sort();
                }
                Some(_) => {}
                None => out.push(Leak {
                    secret: h.secret.clone(),
                    source: (h.source != h.secret).then(|| h.source.clone()),
                    file: file.to_string(),
                    line,
                    forms: vec![form],
                    blob: blob.clone(),
                }),
            }
        }
    }
}

/// One error per leaked secret, pointing at its declaration.
fn findings(r: &ScanReport, hunted: &[Hunted]) -> Vec<Finding> {
    let mut by_secret: BTreeMap<&str, Vec<&Leak>> = BTreeMap::new();
    for l in &r.leaks {
        by_secret.entry(l.secret.as_str()).or_default().push(l);
    }
    by_secret
        .into_iter()
        .map(|(secret, leaks)| {
            let h = hunted.iter().find(|h| h.secret == secret);
            let places: Vec<String> = leaks.iter().take(5).map(|l| place(l)).collect();
            let more = if leaks.len() > 5 { format!(" and {} more", leaks.len() - 5) } else { String::new() };
            Finding {
                severity: Severity::Error,
                kind: Kind::Leak,
                secret: secret.to_string(),
                message: format!(
                    "`{secret}`'s value is in the repository: {}{more}. Remove it, then rotate the secret (it may be in git history and in clones)",
                    places.join(", ")
                ),
                line: h.map(|h| h.line),
                col: h.map(|h| h.col),
            }
        })
        .collect()
}

/// `` `src/a.rs:3` (base64) ``, or with the blob for history.
pub fn place(l: &Leak) -> String {
    let forms: Vec<&str> = l.forms.iter().filter(|f| **f != Form::Exact).map(|f| f.describe()).collect();
    let forms = if forms.is_empty() { String::new() } else { format!(" ({})", forms.join(", ")) };
    match &l.blob {
        Some(b) => format!("`{}:{}` in git history (blob {}){forms}", l.file, l.line, &b[..b.len().min(12)]),
        None => format!("`{}:{}`{forms}", l.file, l.line),
    }
}

/// An error annotation on each file and line where a value is (working
/// tree only: history has no line to show in the pull request).
pub fn annotations(r: &ScanReport) -> Vec<String> {
    r.leaks
        .iter()
        .filter(|l| l.blob.is_none())
        .map(|l| {
            let loc = Location { file: l.file.clone(), line: l.line, col: 1 };
            let forms: Vec<&str> = l.forms.iter().map(|f| f.describe()).collect();
            actions::annotation(
                Level::Error,
                Some(&loc),
                "secret value in the repository",
                &format!(
                    "The value of `{}` is on this line ({}). Remove it and rotate the secret.",
                    l.secret,
                    forms.join(", ")
                ),
            )
        })
        .collect()
}

/// A path relative to the scanned root, with `/` separators.
fn display(root: &Path, p: &Path) -> String {
    let rel = p.strip_prefix(root).unwrap_or(p);
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_values_across_chunks_with_their_lines() {
        let value = "s3cr3t-value-across-the-boundary";
        let sc = Scanner::new(&[value]).unwrap();
        let mut text = "x\n".repeat(CHUNK / 2 - 5).into_bytes();
        text.extend_from_slice(value.as_bytes());
        text.extend_from_slice(b"\nnext line\n");
        text.extend_from_slice(value.as_bytes());
        let (bytes, hits) = sc.scan(&text[..], false).unwrap().unwrap();
        assert_eq!(bytes as usize, text.len());
        let lines: Vec<usize> = hits.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![CHUNK / 2 - 4, CHUNK / 2 - 2]);
    }

    #[test]
    fn binary_files_are_skipped_unless_asked() {
        let sc = Scanner::new(&["0123456789abcdef"]).unwrap();
        let data = b"\x00\x01binary 0123456789abcdef";
        assert!(sc.scan(&data[..], false).unwrap().is_none());
        assert_eq!(sc.scan(&data[..], true).unwrap().unwrap().1.len(), 1);
    }
}
