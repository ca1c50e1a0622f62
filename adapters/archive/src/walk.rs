//! What the tar and zip walkers share: reading an entry's bytes through the audit, the
//! README capture, and the stream cap.

use std::io::{self, Read};

use tfr_core::archive::{ArchiveAudit, MAX_README_BYTES};
use tfr_core::{ArchiveLimits, ArchiveViolation};

const CHUNK: usize = 64 * 1024;

/// Cap on the whole decompressed stream: the file-byte limit plus room for headers,
/// padding, long names and pax records. Entry data is counted exactly by the audit; this
/// catches what the audit never sees (a gigabyte "long name", say).
pub(crate) fn stream_cap(limits: &ArchiveLimits) -> u64 {
    limits
        .max_unpacked_bytes
        .saturating_add(
            limits
                .max_entries
                .saturating_add(1)
                .saturating_mul(8 * 1024),
        )
        .saturating_add(1024 * 1024)
}

/// Why reading an entry stopped.
pub(crate) enum ReadError {
    Io(io::Error),
    Violation(ArchiveViolation),
}

/// Reads an entry to its end in chunks, recording every inflated byte with the audit
/// (which stops a bomb at the limit) and handing each chunk to `sink`. Returns the byte
/// count.
pub(crate) fn drain<R: Read>(
    mut reader: R,
    audit: &mut ArchiveAudit,
    mut sink: impl FnMut(&[u8]),
) -> Result<u64, ReadError> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadError::Io(e)),
        };
        total += n as u64;
        audit.record_bytes(n as u64).map_err(ReadError::Violation)?;
        sink(&buf[..n]);
    }
}

/// Mirrors core's choice of root README (first one found, `README.md` preferred) and keeps
/// the chosen one's text, capped at [`MAX_README_BYTES`].
#[derive(Debug, Default)]
pub(crate) struct ReadmeCapture {
    path: Option<String>,
    text: Vec<u8>,
    active: bool,
}

impl ReadmeCapture {
    /// Called for each regular file with its normalised path, before its bytes.
    pub(crate) fn start(&mut self, path: &str) {
        let better = is_root_readme(path)
            && match &self.path {
                None => true,
                Some(current) => current != "README.md" && path == "README.md",
            };
        self.active = better;
        if better {
            self.path = Some(path.to_string());
            self.text.clear();
        }
    }

    pub(crate) fn chunk(&mut self, data: &[u8]) {
        if self.active {
            let room = MAX_README_BYTES.saturating_sub(self.text.len());
            self.text.extend_from_slice(&data[..data.len().min(room)]);
        }
    }

    pub(crate) fn end(&mut self) {
        self.active = false;
    }

    /// The text, if it belongs to the README core chose.
    pub(crate) fn finish(mut self, chosen: Option<&str>) -> Option<String> {
        if chosen.is_none() || self.path.as_deref() != chosen {
            return None;
        }
        // Do not leave half a character where the cap cut the text.
        if let Err(e) = std::str::from_utf8(&self.text)
            && e.error_len().is_none()
        {
            self.text.truncate(e.valid_up_to());
        }
        Some(String::from_utf8_lossy(&self.text).into_owned())
    }
}

fn is_root_readme(path: &str) -> bool {
    !path.contains('/')
        && matches!(
            path.to_ascii_lowercase().as_str(),
            "readme.md" | "readme" | "readme.markdown" | "readme.txt"
        )
}

/// A name as UTF-8, or an `InvalidPath` naming it lossily.
pub(crate) fn utf8_name(raw: &[u8]) -> Result<&str, ArchiveViolation> {
    std::str::from_utf8(raw)
        .map_err(|_| ArchiveViolation::InvalidPath(String::from_utf8_lossy(raw).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_prefers_readme_md() {
        let mut capture = ReadmeCapture::default();
        for (path, text) in [
            ("readme.txt", "plain"),
            ("docs/README.md", "nested"),
            ("README.md", "markdown"),
            ("Readme.md", "ignored"),
        ] {
            capture.start(path);
            capture.chunk(text.as_bytes());
            capture.end();
        }
        assert_eq!(
            capture.finish(Some("README.md")).as_deref(),
            Some("markdown")
        );
    }

    #[test]
    fn readme_is_capped_on_a_char_boundary() {
        let mut capture = ReadmeCapture::default();
        capture.start("README.md");
        capture.chunk(&vec![b'a'; MAX_README_BYTES - 1]);
        capture.chunk("é and more".as_bytes());
        capture.end();
        let text = capture.finish(Some("README.md")).unwrap();
        assert_eq!(text.len(), MAX_README_BYTES - 1);
        assert!(!text.contains('\u{fffd}'));
    }

    #[test]
    fn readme_must_match_core_choice() {
        let mut capture = ReadmeCapture::default();
        capture.start("README");
        capture.chunk(b"x");
        capture.end();
        assert_eq!(capture.finish(Some("README.md")), None);
        assert_eq!(ReadmeCapture::default().finish(None), None);
    }
}
