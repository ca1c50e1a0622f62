//! Module `.zip` archives and provider package zips.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;

use sha2::{Digest, Sha256};
use tfr_core::archive::ArchiveAudit;
use tfr_core::provider_package::is_provider_binary_name;
use tfr_core::{ArchiveEntry, ArchiveLimits, ArchiveViolation, EntryKind, ProviderType};
use tfr_ports::driven::{ModuleArchiveInfo, ProviderZipError, ProviderZipInfo};
use zip::ZipArchive;

use crate::capped::CappedReader;
use crate::walk::{ReadError, ReadmeCapture, drain, stream_cap, utf8_name};

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;

/// One entry as the walker saw it.
struct ZipEntry<'a> {
    /// The name exactly as stored in the central directory.
    raw_name: &'a str,
    /// Normalised by core (`./` and trailing `/` removed).
    path: &'a str,
    kind: EntryKind,
    unix_mode: Option<u32>,
}

/// Walks every entry in central-directory order: checks it with the audit, then reads its
/// bytes through the audit (counting what is really inflated) into `visit`'s sink.
fn walk(
    path: &Path,
    limits: ArchiveLimits,
    mut start: impl FnMut(&ZipEntry<'_>),
    mut chunk: impl FnMut(&[u8]),
    mut end: impl FnMut(&ZipEntry<'_>),
) -> Result<ArchiveAudit, ArchiveViolation> {
    let file = File::open(path).map_err(|e| malformed("cannot open the upload", &e))?;
    let size = file
        .metadata()
        .map_err(|e| malformed("cannot stat the upload", &e))?
        .len();
    let mut audit = ArchiveAudit::new(limits, size)?;
    let mut zip = ZipArchive::new(BufReader::new(file))
        .map_err(|e| ArchiveViolation::Malformed(format!("zip: {e}")))?;
    if zip.has_duplicate_names() {
        return Err(ArchiveViolation::Malformed(
            "zip: two entries have the same name".into(),
        ));
    }

    // Entry data is counted exactly by the audit; this caps the sum of everything inflated
    // across entries as a second line of defence.
    let mut budget = stream_cap(&limits);
    for index in 0..zip.len() {
        let entry = zip
            .by_index(index)
            .map_err(|e| ArchiveViolation::Malformed(format!("zip entry {index}: {e}")))?;
        let raw_name = utf8_name(entry.name_raw())?.to_string();
        let unix_mode = entry.unix_mode();
        let kind = entry_kind(unix_mode, &raw_name);
        let normalised = audit.check_entry(&ArchiveEntry {
            path: raw_name.clone(),
            kind,
        })?;
        let declared = entry.size();
        let info = ZipEntry {
            raw_name: &raw_name,
            path: &normalised,
            kind,
            unix_mode,
        };
        start(&info);
        let (capped, tripped) = CappedReader::new(entry, budget);
        let read = drain(capped, &mut audit, &mut chunk).map_err(|e| match e {
            ReadError::Violation(v) => v,
            ReadError::Io(_) if tripped.get() => ArchiveViolation::UnpackedTooLarge {
                limit: limits.max_unpacked_bytes,
            },
            ReadError::Io(e) => ArchiveViolation::Malformed(format!("zip entry {raw_name:?}: {e}")),
        })?;
        budget = budget.saturating_sub(read);
        if read != declared {
            return Err(ArchiveViolation::Malformed(format!(
                "zip entry {raw_name:?} holds {read} bytes but declares {declared}"
            )));
        }
        if kind == EntryKind::Directory && read != 0 {
            return Err(ArchiveViolation::Malformed(format!(
                "zip directory entry {raw_name:?} holds data"
            )));
        }
        end(&info);
    }
    Ok(audit)
}

/// The entry's kind from the Unix file type in its external attributes, else its name.
fn entry_kind(unix_mode: Option<u32>, raw_name: &str) -> EntryKind {
    let named_dir = raw_name.ends_with('/');
    match unix_mode.map(|mode| mode & S_IFMT) {
        Some(S_IFLNK) => EntryKind::Symlink,
        Some(S_IFDIR) => EntryKind::Directory,
        None | Some(0) | Some(S_IFREG) => {
            if named_dir {
                EntryKind::Directory
            } else {
                EntryKind::File
            }
        }
        Some(_) => EntryKind::Special,
    }
}

pub(crate) fn inspect_module(
    path: &Path,
    limits: ArchiveLimits,
) -> Result<ModuleArchiveInfo, ArchiveViolation> {
    let readme = std::cell::RefCell::new(ReadmeCapture::default());
    let audit = walk(
        path,
        limits,
        |entry| {
            if entry.kind == EntryKind::File {
                readme.borrow_mut().start(entry.path);
            }
        },
        |data| readme.borrow_mut().chunk(data),
        |_| readme.borrow_mut().end(),
    )?;
    let summary = audit.finish()?;
    let readme = readme.into_inner().finish(summary.readme_path.as_deref());
    Ok(ModuleArchiveInfo { summary, readme })
}

pub(crate) fn inspect_provider(
    path: &Path,
    provider_type: &ProviderType,
    limits: ArchiveLimits,
) -> Result<ProviderZipInfo, ProviderZipError> {
    let mut binary: Option<String> = None;
    let mut not_executable: Option<String> = None;
    let h1 = hash_entries(path, limits, |entry| {
        if entry.kind == EntryKind::File && is_provider_binary_name(provider_type, entry.path) {
            if entry.unix_mode.is_some_and(|mode| mode & 0o111 != 0) {
                binary.get_or_insert_with(|| entry.path.to_string());
            } else {
                not_executable.get_or_insert_with(|| entry.path.to_string());
            }
        }
    })?;
    let binary_name = match (binary, not_executable) {
        (Some(binary), _) => binary,
        (None, Some(name)) => return Err(ProviderZipError::NotExecutable(name)),
        (None, None) => {
            return Err(ProviderZipError::NoBinary(
                provider_type.as_str().to_string(),
            ));
        }
    };
    Ok(ProviderZipInfo { binary_name, h1 })
}

/// The `h1:` of any zip (Go's `dirhash.HashZip`), under the safety rules only.
pub(crate) fn hash_zip(path: &Path, limits: ArchiveLimits) -> Result<String, ProviderZipError> {
    hash_entries(path, limits, |_| {})
}

/// Walks a zip under the safety rules, hashing every entry as stored, and returns its
/// `h1:`; `on_entry` sees each entry header first.
fn hash_entries(
    path: &Path,
    limits: ArchiveLimits,
    mut on_entry: impl FnMut(&ZipEntry<'_>),
) -> Result<String, ProviderZipError> {
    struct State {
        hasher: Sha256,
        hashes: Vec<(String, [u8; 32])>,
        bad_name: Option<String>,
    }
    let state = std::cell::RefCell::new(State {
        hasher: Sha256::new(),
        hashes: Vec::new(),
        bad_name: None,
    });
    let walked = walk(
        path,
        limits,
        |entry| {
            let mut st = state.borrow_mut();
            st.hasher = Sha256::new();
            // Go's dirhash refuses names with a newline: they would forge hash lines.
            if entry.raw_name.contains('\n') && st.bad_name.is_none() {
                st.bad_name = Some(entry.raw_name.to_string());
            }
            on_entry(entry);
        },
        |data| state.borrow_mut().hasher.update(data),
        |entry| {
            let mut st = state.borrow_mut();
            let digest: [u8; 32] = std::mem::take(&mut st.hasher).finalize().into();
            st.hashes.push((entry.raw_name.to_string(), digest));
        },
    );
    walked.map_err(|violation| match violation {
        ArchiveViolation::Malformed(why) => ProviderZipError::Malformed(why),
        other => ProviderZipError::Unsafe(other),
    })?;
    let state = state.into_inner();
    if let Some(name) = state.bad_name {
        return Err(ProviderZipError::Unsafe(ArchiveViolation::InvalidPath(
            name,
        )));
    }
    Ok(tfr_core::hash::h1(
        state
            .hashes
            .iter()
            .map(|(name, digest)| (name.as_str(), *digest)),
    ))
}

fn malformed(context: &str, e: &io::Error) -> ArchiveViolation {
    ArchiveViolation::Malformed(format!("{context}: {e}"))
}
