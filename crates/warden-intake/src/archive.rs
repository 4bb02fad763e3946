//! gzip and zip attachments, opened within bounds: Shadowserver mails its CSVs zipped on
//! request, reporters gzip long logs, and brand-protection firms zip their evidence.
//!
//! Every inflated byte is counted against [`Limits::max_decompressed_bytes`] (one budget for
//! the whole message) while it is inflated: an archive's own size fields are only used to
//! refuse early, never trusted to stop, so a zip bomb stops at the bound and is refused naming
//! it. A zip may have at most [`Limits::max_archive_entries`] entries, counted from its end
//! record before its central directory is read. One level only: an archive inside an archive
//! is not opened (a warning), which also ends recursive bombs. A tar inside gzip is not opened
//! either. An archive that cannot be read (cut, not gzip or zip after all, an encrypted entry,
//! a method other than stored and deflate) is refused naming the part
//! ([`MimeFault::BadArchive`]).

use std::io::Read;

use crate::error::{MailError, MimeFault};
use crate::limits::{Limit, Limits};

/// The archive formats opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// gzip (RFC 1952), one member or several.
    Gzip,
    /// zip (PKWARE APPNOTE), entries stored or deflated.
    Zip,
}

/// One file out of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its name in the archive (for gzip, the attachment's name without `.gz`), at most 255
    /// characters.
    pub name: Option<String>,
    /// Its inflated bytes.
    pub bytes: Vec<u8>,
}

/// The archive an attachment is, by its content type, its file name, or its first bytes.
pub fn kind(mime: &str, name: Option<&str>, bytes: &[u8]) -> Option<Kind> {
    let name = name.map(str::to_ascii_lowercase).unwrap_or_default();
    match mime {
        "application/gzip" | "application/x-gzip" | "application/x-gunzip" => {
            return Some(Kind::Gzip);
        }
        "application/zip" | "application/x-zip" | "application/x-zip-compressed" => {
            return Some(Kind::Zip);
        }
        _ => {}
    }
    if name.ends_with(".gz") || name.ends_with(".tgz") {
        return Some(Kind::Gzip);
    }
    if name.ends_with(".zip") {
        return Some(Kind::Zip);
    }
    if mime.starts_with("text/") || mime.starts_with("multipart/") || mime.starts_with("message/") {
        return None;
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        Some(Kind::Gzip)
    } else if bytes.starts_with(b"PK\x03\x04") {
        Some(Kind::Zip)
    } else {
        None
    }
}

/// The files of an archive found at `at` (`part 3 (application/zip)`), taking what they inflate
/// to from `budget` (the bytes left of [`Limits::max_decompressed_bytes`]).
pub fn open(
    kind: Kind,
    bytes: &[u8],
    name: Option<&str>,
    at: &str,
    limits: &Limits,
    budget: &mut usize,
    warnings: &mut Vec<String>,
) -> Result<Vec<Entry>, MailError> {
    match kind {
        Kind::Gzip => gunzip(bytes, name, at, limits, budget, warnings),
        Kind::Zip => unzip(bytes, at, limits, budget, warnings),
    }
}

fn bad(at: &str, why: impl std::fmt::Display) -> MailError {
    MailError::mime(MimeFault::BadArchive, at, why.to_string())
}

fn too_much(at: String, limits: &Limits, budget: usize, read: usize) -> MailError {
    MailError::Limit {
        limit: Limit::DecompressedBytes,
        at,
        what: "the bytes inflated from the message's archives",
        actual: limits
            .max_decompressed_bytes
            .saturating_sub(budget)
            .saturating_add(read),
        max: limits.max_decompressed_bytes,
    }
}

/// Reads `r` to its end, or refuses past `budget`.
fn inflate(
    r: impl Read,
    at: &str,
    limits: &Limits,
    budget: &mut usize,
) -> Result<Vec<u8>, MailError> {
    let mut out = Vec::new();
    let cap = u64::try_from(*budget).unwrap_or(u64::MAX).saturating_add(1);
    let n = r
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| bad(at, format!("cannot be inflated: {e}")))?;
    if n > *budget {
        return Err(too_much(at.to_string(), limits, *budget, n));
    }
    *budget -= n;
    Ok(out)
}

fn gunzip(
    bytes: &[u8],
    name: Option<&str>,
    at: &str,
    limits: &Limits,
    budget: &mut usize,
    warnings: &mut Vec<String>,
) -> Result<Vec<Entry>, MailError> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(bad(at, "is not gzip (no 1f 8b magic bytes)"));
    }
    let out = inflate(flate2::read::MultiGzDecoder::new(bytes), at, limits, budget)?;
    let lower = name.map(str::to_ascii_lowercase).unwrap_or_default();
    if lower.ends_with(".tgz") || lower.ends_with(".tar.gz") || is_tar(&out) {
        warnings.push(format!("{at}: a tar archive inside gzip; not opened"));
        return Ok(Vec::new());
    }
    let inner = name.map(|n| {
        let cut = n.len().saturating_sub(3);
        let stem = if lower.ends_with(".gz") {
            n.get(..cut).unwrap_or(n)
        } else {
            n
        };
        short_name(stem)
    });
    if let Some(k) = kind("", inner.as_deref(), &out) {
        warnings.push(format!(
            "{at}: a {k:?} archive inside the archive; not opened (one level only)"
        ));
        return Ok(Vec::new());
    }
    Ok(vec![Entry {
        name: inner,
        bytes: out,
    }])
}

fn is_tar(b: &[u8]) -> bool {
    b.get(257..262) == Some(b"ustar")
}

/// The entry count of a zip's end of central directory record, if it has one that says.
fn declared_entries(bytes: &[u8]) -> Option<usize> {
    // The record is 22 bytes plus a comment of at most 65,535.
    let from = bytes.len().saturating_sub(22 + 65_535);
    let tail = bytes.get(from..)?;
    let at = tail.windows(4).rposition(|w| w == b"PK\x05\x06")?;
    let n = tail.get(at + 10..at + 12)?;
    let n = u16::from_le_bytes([*n.first()?, *n.get(1)?]);
    // 0xffff: the real count is in the zip64 record; the reader's own count is checked then.
    (n != u16::MAX).then_some(usize::from(n))
}

fn unzip(
    bytes: &[u8],
    at: &str,
    limits: &Limits,
    budget: &mut usize,
    warnings: &mut Vec<String>,
) -> Result<Vec<Entry>, MailError> {
    let entries_limit = |actual: usize| MailError::Limit {
        limit: Limit::ArchiveEntries,
        at: at.to_string(),
        what: "the number of the zip's entries",
        actual,
        max: limits.max_archive_entries,
    };
    if let Some(n) = declared_entries(bytes)
        && n > limits.max_archive_entries
    {
        return Err(entries_limit(n));
    }
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| bad(at, format!("is not a readable zip: {e}")))?;
    if z.len() > limits.max_archive_entries {
        return Err(entries_limit(z.len()));
    }
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut f = z
            .by_index(i)
            .map_err(|e| bad(at, format!("entry {}: {e}", i + 1)))?;
        if f.is_dir() {
            continue;
        }
        let name = short_name(&String::from_utf8_lossy(f.name_raw()));
        let where_ = format!("{at} entry `{name}`");
        if f.encrypted() {
            return Err(bad(&where_, "is encrypted"));
        }
        if f.size() > u64::try_from(*budget).unwrap_or(u64::MAX) {
            let declared = usize::try_from(f.size()).unwrap_or(usize::MAX);
            return Err(too_much(where_, limits, *budget, declared));
        }
        let bytes = inflate(&mut f, &where_, limits, budget)?;
        if kind("", Some(&name), &bytes).is_some() {
            warnings.push(format!(
                "{where_}: an archive inside the archive; not opened (one level only)"
            ));
            continue;
        }
        out.push(Entry {
            name: Some(name),
            bytes,
        });
    }
    Ok(out)
}

/// The last path component of an entry's name, at most 255 characters, without control
/// characters.
fn short_name(n: &str) -> String {
    let base = n.rsplit(['/', '\\']).next().unwrap_or(n);
    base.chars().filter(|c| !c.is_control()).take(255).collect()
}
