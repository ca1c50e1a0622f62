//! Builders for honest and hostile archives, and a staged-file helper.
#![allow(dead_code)]

use std::io::{Read, Write};

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};
use tfr_core::ArchiveLimits;
use tfr_ports::StagedFile;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// Writes `bytes` to a temporary file and stages it as an upload would be.
pub fn staged(bytes: &[u8]) -> StagedFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    file.flush().unwrap();
    let path = file.into_temp_path();
    let sha = hex::encode(Sha256::digest(bytes));
    StagedFile::new(
        path.to_path_buf(),
        bytes.len() as u64,
        sha,
        Some(Box::new(path)),
    )
}

pub fn limits() -> ArchiveLimits {
    ArchiveLimits::default()
}

/// A tar stream built entry by entry, including entries `tar::Builder` refuses to write.
pub struct Tar {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for Tar {
    fn default() -> Self {
        Self::new()
    }
}

impl Tar {
    pub fn new() -> Self {
        Self {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: EntryType, size: u64, mode: u32) -> Header {
        let mut header = Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(size);
        header.set_mode(mode);
        header.set_mtime(1_700_000_000);
        header
    }

    pub fn file(mut self, path: &str, data: &[u8]) -> Self {
        let mut header = Self::header(EntryType::Regular, data.len() as u64, 0o644);
        self.builder.append_data(&mut header, path, data).unwrap();
        self
    }

    pub fn dir(mut self, path: &str) -> Self {
        let mut header = Self::header(EntryType::Directory, 0, 0o755);
        self.builder
            .append_data(&mut header, path, &b""[..])
            .unwrap();
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut header = Self::header(EntryType::Symlink, 0, 0o777);
        self.builder.append_link(&mut header, path, target).unwrap();
        self
    }

    pub fn hardlink(mut self, path: &str, target: &str) -> Self {
        let mut header = Self::header(EntryType::Link, 0, 0o644);
        self.builder.append_link(&mut header, path, target).unwrap();
        self
    }

    pub fn special(mut self, path: &str, kind: EntryType) -> Self {
        let mut header = Self::header(kind, 0, 0o644);
        if let Some(gnu) = header.as_gnu_mut() {
            gnu.set_device_major(1);
            gnu.set_device_minor(3);
        }
        self.builder
            .append_data(&mut header, path, &b""[..])
            .unwrap();
        self
    }

    /// An entry whose name bytes go straight into the header (for `..`, absolute paths,
    /// non-UTF-8 names), with a valid checksum.
    pub fn raw(mut self, name: &[u8], kind: EntryType, data: &[u8]) -> Self {
        let mut header = Self::header(kind, data.len() as u64, 0o644);
        let field = &mut header.as_old_mut().name;
        field.fill(0);
        field[..name.len()].copy_from_slice(name);
        header.set_cksum();
        self.builder.append(&header, data).unwrap();
        self
    }

    /// A pax global header, as `git archive` writes first.
    pub fn pax_global(mut self, record: &str) -> Self {
        // "<len> <key>=<value>\n", where <len> counts its own digits too.
        let body = format!(" {record}\n");
        let mut len = body.len() + 1;
        while len != body.len() + len.to_string().len() {
            len = body.len() + len.to_string().len();
        }
        let line = format!("{len}{body}");
        let mut header = Self::header(EntryType::XGlobalHeader, line.len() as u64, 0o644);
        let field = &mut header.as_old_mut().name;
        field.fill(0);
        field[..17].copy_from_slice(b"pax_global_header");
        header.set_cksum();
        self.builder.append(&header, line.as_bytes()).unwrap();
        self
    }

    /// A GNU long-name header whose "name" is `len` bytes, followed by a small file.
    pub fn huge_long_name(mut self, len: u64) -> Self {
        let mut header = Self::header(EntryType::GNULongName, len, 0o644);
        let field = &mut header.as_old_mut().name;
        field.fill(0);
        field[..13].copy_from_slice(b"././@LongLink");
        header.set_cksum();
        self.builder
            .append(&header, std::io::repeat(b'a').take(len))
            .unwrap();
        self.file("main.tf", b"")
    }

    /// The tar stream, finished with its end-of-archive blocks.
    pub fn tar(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }

    pub fn tar_gz(self) -> Vec<u8> {
        gzip(&self.tar())
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A .tar.gz holding one file of `len` zero bytes, streamed so the test never holds it.
pub fn zero_bomb_tar_gz(len: u64) -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    let mut header = Header::new_gnu();
    header.set_entry_type(EntryType::Regular);
    header.set_size(len);
    header.set_mode(0o644);
    builder
        .append_data(&mut header, "main.tf", std::io::repeat(0).take(len))
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

pub fn deflated() -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .unix_permissions(0o644)
}

/// A zip built entry by entry.
pub struct Zip {
    writer: ZipWriter<std::io::Cursor<Vec<u8>>>,
}

impl Default for Zip {
    fn default() -> Self {
        Self::new()
    }
}

impl Zip {
    pub fn new() -> Self {
        Self {
            writer: ZipWriter::new(std::io::Cursor::new(Vec::new())),
        }
    }

    pub fn file(self, name: &str, data: &[u8]) -> Self {
        self.file_with(name, data, deflated())
    }

    pub fn file_mode(self, name: &str, data: &[u8], mode: u32) -> Self {
        self.file_with(name, data, deflated().unix_permissions(mode))
    }

    pub fn file_with(mut self, name: &str, data: &[u8], options: SimpleFileOptions) -> Self {
        self.writer.start_file(name, options).unwrap();
        self.writer.write_all(data).unwrap();
        self
    }

    pub fn dir(mut self, name: &str) -> Self {
        self.writer
            .add_directory(name, deflated().unix_permissions(0o755))
            .unwrap();
        self
    }

    pub fn symlink(mut self, name: &str, target: &str) -> Self {
        self.writer.add_symlink(name, target, deflated()).unwrap();
        self
    }

    /// An entry with a raw Unix file type and mode in its external attributes.
    pub fn with_unix_mode(mut self, name: &str, mode: u32) -> Self {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .external_attributes(mode << 16);
        self.writer.start_file(name, options).unwrap();
        self
    }

    /// One deflated file of `len` zeros, streamed.
    pub fn zeros(mut self, name: &str, len: u64) -> Self {
        self.writer
            .start_file(name, deflated().large_file(len >= u32::MAX as u64))
            .unwrap();
        std::io::copy(&mut std::io::repeat(0).take(len), &mut self.writer).unwrap();
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.writer.finish().unwrap().into_inner()
    }
}

/// Replaces every occurrence of `from` with `to` (same length) in raw archive bytes.
pub fn patch(bytes: &mut [u8], from: &[u8], to: &[u8]) -> usize {
    assert_eq!(from.len(), to.len());
    let mut count = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            count += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    count
}
