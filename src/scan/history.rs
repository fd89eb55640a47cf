//! `--history`: every blob reachable from any ref, read through `git`
//! (`rev-list --objects --all`, then `cat-file --batch`). It needs `git` on
//! PATH, which the action's `scratch` image does not have: run
//! `secret-sync scan --history` where git is installed (a workflow step on
//! the runner, or locally). A blob is reported with the path it had and its
//! id; `git log --all --find-object=<blob>` lists the commits holding it.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use serde::Serialize;

use super::{Hits, ScanError, Scanner};

#[derive(Debug, Clone, Serialize)]
pub struct HistoryStats {
    pub blobs_scanned: usize,
    pub bytes_scanned: u64,
}

/// A blob with hits: the path it had, its id, the hits.
pub type BlobHits = (String, String, Hits);

/// Scans every blob in the repository at `root`.
pub fn scan(root: &Path, sc: &Scanner, include_binary: bool) -> Result<(HistoryStats, Vec<BlobHits>), ScanError> {
    let git_err = |what: &'static str| ScanError::History { what };
    let listed = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-list", "--objects", "--all"])
        .stderr(Stdio::null())
        .output()
        .map_err(|_| git_err("git could not be started"))?;
    if !listed.status.success() {
        return Err(git_err("`git rev-list` failed"));
    }
    // Objects with a path are blobs or trees; cat-file says which.
    let objects: Vec<(String, String)> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(id, path)| (id.to_string(), path.to_string())))
        .collect();
    let mut child = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|_| git_err("git could not be started"))?;
    let mut stdin = child.stdin.take().ok_or_else(|| git_err("no pipe to git"))?;
    let ids: Vec<String> = objects.iter().map(|(id, _)| id.clone()).collect();
    // Written from a thread: git's output would otherwise fill its pipe
    // while we are still writing.
    let writer = std::thread::spawn(move || {
        for id in ids {
            if writeln!(stdin, "{id}").is_err() {
                break;
            }
        }
    });
    let mut out = BufReader::new(child.stdout.take().ok_or_else(|| git_err("no pipe from git"))?);
    let mut stats = HistoryStats { blobs_scanned: 0, bytes_scanned: 0 };
    let mut found = Vec::new();
    for (id, path) in &objects {
        let mut header = String::new();
        if out.read_line(&mut header).map_err(|_| git_err("reading `git cat-file`"))? == 0 {
            break;
        }
        let parts: Vec<&str> = header.split_whitespace().collect();
        let (kind, size) = match parts.as_slice() {
            [_, kind, size] => (*kind, size.parse::<u64>().unwrap_or(0)),
            _ => continue, // `<id> missing`
        };
        let mut body = (&mut out).take(size);
        if kind == "blob" {
            if let Ok(Some((bytes, hits))) = sc.scan(&mut body, include_binary) {
                stats.blobs_scanned += 1;
                stats.bytes_scanned += bytes;
                if !hits.is_empty() {
                    found.push((path.clone(), id.clone(), hits));
                }
            }
        }
        // Whatever the scan left unread, then the newline after each object.
        std::io::copy(&mut body, &mut std::io::sink()).map_err(|_| git_err("reading `git cat-file`"))?;
        let mut nl = [0u8; 1];
        let _ = out.read_exact(&mut nl);
    }
    let _ = writer.join();
    let _ = child.wait();
    Ok((stats, found))
}
