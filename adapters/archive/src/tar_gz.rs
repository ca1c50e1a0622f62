//! Module `.tar.gz` archives.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use flate2::bufread::GzDecoder;
use tar::EntryType;
use tfr_core::archive::ArchiveAudit;
use tfr_core::{ArchiveEntry, ArchiveLimits, ArchiveViolation, EntryKind};
use tfr_ports::driven::ModuleArchiveInfo;

use crate::capped::CappedReader;
use crate::walk::{ReadError, ReadmeCapture, drain, stream_cap, utf8_name};

pub(crate) fn inspect_module(
    path: &Path,
    limits: ArchiveLimits,
) -> Result<ModuleArchiveInfo, ArchiveViolation> {
    let file = File::open(path).map_err(|e| malformed("cannot open the upload", &e))?;
    let size = file
        .metadata()
        .map_err(|e| malformed("cannot stat the upload", &e))?
        .len();
    let mut audit = ArchiveAudit::new(limits, size)?;
    if size == 0 {
        return Err(ArchiveViolation::Malformed("the file is empty".into()));
    }

    let (capped, tripped) =
        CappedReader::new(GzDecoder::new(BufReader::new(file)), stream_cap(&limits));
    let io_error = |e: io::Error| -> ArchiveViolation {
        if tripped.get() {
            ArchiveViolation::UnpackedTooLarge {
                limit: limits.max_unpacked_bytes,
            }
        } else {
            malformed("gzip/tar", &e)
        }
    };
    let read_error = |e: ReadError| match e {
        ReadError::Io(e) => io_error(e),
        ReadError::Violation(v) => v,
    };

    let mut archive = tar::Archive::new(capped);
    let mut readme = ReadmeCapture::default();
    for entry in archive.entries().map_err(io_error)? {
        let mut entry = entry.map_err(io_error)?;
        let entry_type = entry.header().entry_type();
        if entry_type == EntryType::XGlobalHeader {
            // `git archive` writes one (the commit id); its bytes still count.
            drain(&mut entry, &mut audit, |_| {}).map_err(read_error)?;
            continue;
        }
        let raw_path = entry.path_bytes().into_owned();
        let raw_path = utf8_name(&raw_path)?;
        let kind = entry_kind(entry_type, raw_path);
        let path = audit.check_entry(&ArchiveEntry {
            path: raw_path.to_string(),
            kind,
        })?;
        if kind == EntryKind::File {
            readme.start(&path);
        }
        let expected = entry.size();
        let read =
            drain(&mut entry, &mut audit, |chunk| readme.chunk(chunk)).map_err(read_error)?;
        readme.end();
        if read != expected {
            return Err(ArchiveViolation::Malformed(format!(
                "entry {raw_path:?} is truncated ({read} of {expected} bytes)"
            )));
        }
    }
    finish_stream(archive.into_inner(), &tripped, limits)?;

    let summary = audit.finish()?;
    let readme = readme.finish(summary.readme_path.as_deref());
    Ok(ModuleArchiveInfo { summary, readme })
}

/// Reads what follows the tar end-of-archive blocks (padding), so gzip checks its CRC and
/// length trailer, then refuses anything after the gzip member.
fn finish_stream(
    mut rest: CappedReader<GzDecoder<BufReader<File>>>,
    tripped: &Cell<bool>,
    limits: ArchiveLimits,
) -> Result<(), ArchiveViolation> {
    if let Err(e) = io::copy(&mut rest, &mut io::sink()) {
        if tripped.get() {
            return Err(ArchiveViolation::UnpackedTooLarge {
                limit: limits.max_unpacked_bytes,
            });
        }
        return Err(malformed("gzip", &e));
    }
    let mut file = rest.into_inner().into_inner();
    let trailing = file.fill_buf().map_err(|e| malformed("gzip", &e))?;
    if !trailing.is_empty() {
        return Err(ArchiveViolation::Malformed(
            "unexpected data after the end of the gzip stream".into(),
        ));
    }
    Ok(())
}

fn entry_kind(entry_type: EntryType, raw_path: &str) -> EntryKind {
    match entry_type {
        // Old (pre-POSIX) tars mark directories only by the trailing slash.
        EntryType::Regular if raw_path.ends_with('/') => EntryKind::Directory,
        EntryType::Regular | EntryType::Continuous => EntryKind::File,
        EntryType::Directory => EntryKind::Directory,
        EntryType::Symlink => EntryKind::Symlink,
        EntryType::Link => EntryKind::Hardlink,
        // Devices, FIFOs, GNU sparse files, stray extension headers and unknown types.
        _ => EntryKind::Special,
    }
}

fn malformed(context: &str, e: &io::Error) -> ArchiveViolation {
    ArchiveViolation::Malformed(format!("{context}: {e}"))
}
