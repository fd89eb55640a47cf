//! Reading the files a run is given (manifest, secrets files, standard
//! input), bounded before anything is read: a manifest or payload is
//! untrusted, and a FIFO would block forever, `/dev/zero` never ends and a
//! sparse file can claim gigabytes.
//!
//! Only regular files are read (their type is checked before they are
//! opened, as opening a FIFO blocks), never more than `limit` bytes: the
//! size the file system reports is checked first, and the read itself is
//! capped, so a file that grows while it is read stops at the cap too.
//! Standard input (`-`) may be a pipe; it is capped the same way.

use std::io::Read;
use std::path::Path;

/// Why a file or standard input was not read; each says what to do.
/// An action input or command-line flag that cannot be used, in words
/// naming it and saying what would do (a usage error: the run stops before
/// anything is contacted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

impl From<String> for BadInput {
    fn from(s: String) -> BadInput {
        BadInput(s)
    }
}

impl From<&str> for BadInput {
    fn from(s: &str) -> BadInput {
        BadInput(s.to_string())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {what}: {reason}")]
    Unreadable { what: String, reason: String },
    #[error(
        "cannot read {what}: it is {kind}, not a regular file; give the path of a file (`-` reads standard input)"
    )]
    NotAFile { what: String, kind: &'static str },
    #[error("{what} is larger than the limit of {} MiB{}; split it or remove what it does not need", limit / (1024 * 1024), if *len > limit + 1 { format!(" ({len} bytes)") } else { String::new() })]
    TooLarge { what: String, limit: u64, len: u64 },
}

fn unreadable(what: &str, e: &std::io::Error) -> InputError {
    InputError::Unreadable { what: what.to_string(), reason: crate::util::io_reason(e) }
}

/// Manifests larger than this are refused.
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// Secrets files and standard input larger than this are refused. GitHub
/// allows 1,000 org, 100 repository and 100 environment secrets of at most
/// 48 KB each: about 58 MB of values in the worst case.
pub const MAX_SECRETS_BYTES: u64 = 64 * 1024 * 1024;

/// Reads the regular file at `path` (`what` names it in messages, e.g.
/// "the manifest `m.yml`"), refusing other file types and anything over
/// `limit` bytes. The error says what to do.
pub fn read_file(path: &Path, what: &str, limit: u64) -> Result<Vec<u8>, InputError> {
    let meta = std::fs::metadata(path).map_err(|e| unreadable(what, &e))?;
    check_type(&meta, what)?;
    check_len(meta.len(), what, limit)?;
    let file = std::fs::File::open(path).map_err(|e| unreadable(what, &e))?;
    // The path may have been swapped for something else since it was checked.
    let meta = file.metadata().map_err(|e| unreadable(what, &e))?;
    check_type(&meta, what)?;
    read_capped(file, what, limit)
}

/// Reads standard input, capped at `limit` bytes.
pub fn read_stdin(what: &str, limit: u64) -> Result<Vec<u8>, InputError> {
    read_capped(std::io::stdin().lock(), what, limit)
}

fn read_capped(r: impl Read, what: &str, limit: u64) -> Result<Vec<u8>, InputError> {
    let mut buf = Vec::new();
    r.take(limit + 1).read_to_end(&mut buf).map_err(|e| unreadable(what, &e))?;
    check_len(buf.len() as u64, what, limit)?;
    Ok(buf)
}

/// Without the UTF-8 byte-order mark that editors on Windows write: it is not
/// content, in a manifest, a JSON payload or a `.env` file.
pub fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
}

/// CRLF and a lone CR (classic Mac) become LF, as YAML reads them; so every
/// line number reported afterwards is the one an editor shows.
pub fn normalise_newlines(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut it = bytes.iter().peekable();
    while let Some(&b) = it.next() {
        if b == b'\r' {
            out.push(b'\n');
            if it.peek() == Some(&&b'\n') {
                it.next();
            }
        } else {
            out.push(b);
        }
    }
    out
}

fn check_type(meta: &std::fs::Metadata, what: &str) -> Result<(), InputError> {
    let t = meta.file_type();
    if t.is_file() {
        return Ok(());
    }
    let kind = if t.is_dir() { "a directory" } else { special_kind(&t) };
    Err(InputError::NotAFile { what: what.to_string(), kind })
}

#[cfg(unix)]
fn special_kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a named pipe (FIFO)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> &'static str {
    "a special file"
}

fn check_len(len: u64, what: &str, limit: u64) -> Result<(), InputError> {
    if len > limit {
        return Err(InputError::TooLarge { what: what.to_string(), limit, len });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_the_bom_and_normalises_line_endings() {
        assert_eq!(normalise_newlines(strip_bom(b"\xef\xbb\xbfa\r\nb\rc\n")), b"a\nb\nc\n");
        assert_eq!(strip_bom(b"x\xef\xbb\xbf"), b"x\xef\xbb\xbf");
    }

    #[test]
    fn refuses_special_files_and_large_ones() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_file(dir.path(), "the manifest `d`", 10).unwrap_err().to_string();
        assert!(e.contains("it is a directory, not a regular file"), "{e}");
        #[cfg(unix)]
        {
            let e = read_file(Path::new("/dev/zero"), "the manifest `z`", 10).unwrap_err().to_string();
            assert!(e.contains("a character device"), "{e}");
        }
        let f = dir.path().join("big");
        std::fs::write(&f, vec![b'a'; 11]).unwrap();
        let e = read_file(&f, "the secrets file `big`", 10).unwrap_err().to_string();
        assert!(e.starts_with("the secrets file `big` is larger than the limit"), "{e}");
        std::fs::write(&f, vec![b'a'; 10]).unwrap();
        assert_eq!(read_file(&f, "x", 10).unwrap().len(), 10);
        // The cap holds for a reader that never ends.
        let e = read_capped(std::io::repeat(0), "standard input", 1024).unwrap_err().to_string();
        assert!(e.contains("larger than the limit"), "{e}");
    }
}
