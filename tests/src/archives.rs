//! Module archives: well-formed ones and one hostile archive per publishing check.

use std::io::Write;

use flate2::{Compress, Compression, FlushCompress};

/// A file in an archive: (path, contents).
pub type File = (String, Vec<u8>);

/// A small but real module: `main.tf` with a variable and an output, and a README.
pub fn sample_module_files(label: &str) -> Vec<File> {
    vec![
        (
            "main.tf".to_string(),
            format!(
                "variable \"name\" {{\n  type    = string\n  default = \"world\"\n}}\n\n\
                 output \"greeting\" {{\n  value = \"hello ${{var.name}} from {label}\"\n}}\n"
            )
            .into_bytes(),
        ),
        (
            "README.md".to_string(),
            format!("# {label}\n\nA test module published by tfr's black-box tests.\n")
                .into_bytes(),
        ),
    ]
}

/// `.tar.gz` of regular files (mode 0644).
pub fn tar_gz(files: &[File]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mtime(1_600_000_000);
        builder
            .append_data(&mut header, path, data.as_slice())
            .expect("tar append");
    }
    gzip(&builder.into_inner().expect("tar finish"))
}

/// `.zip` of regular files (mode 0644), deflated.
pub fn zip(files: &[File]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for (path, data) in files {
        w.start_file(path.as_str(), opts).expect("zip start_file");
        w.write_all(data).expect("zip write");
    }
    w.finish().expect("zip finish").into_inner()
}

/// The sample module as `.tar.gz`.
pub fn module_tar_gz(label: &str) -> Vec<u8> {
    tar_gz(&sample_module_files(label))
}

/// The sample module as `.zip`.
pub fn module_zip(label: &str) -> Vec<u8> {
    zip(&sample_module_files(label))
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip finish")
}

// ---------------------------------------------------------------------------------------------
// Raw tar entries (tar::Header::set_path refuses absolute paths and `..`, so names are written
// as raw header bytes).

/// One raw tar entry.
pub struct RawTarEntry {
    pub name: Vec<u8>,
    pub kind: tar::EntryType,
    pub mode: u32,
    pub link_name: Vec<u8>,
    pub data: Vec<u8>,
    pub device: Option<(u32, u32)>,
}

impl RawTarEntry {
    pub fn file(name: &str, data: &[u8]) -> Self {
        Self {
            name: name.as_bytes().to_vec(),
            kind: tar::EntryType::Regular,
            mode: 0o644,
            link_name: Vec::new(),
            data: data.to_vec(),
            device: None,
        }
    }
}

/// A tar stream (not compressed) of raw entries.
pub fn raw_tar(entries: &[RawTarEntry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for e in entries {
        let mut header = tar::Header::new_ustar();
        {
            let old = header.as_old_mut();
            assert!(e.name.len() <= old.name.len(), "raw tar name too long");
            old.name.fill(0);
            old.name[..e.name.len()].copy_from_slice(&e.name);
            assert!(
                e.link_name.len() <= old.linkname.len(),
                "raw tar link too long"
            );
            old.linkname.fill(0);
            old.linkname[..e.link_name.len()].copy_from_slice(&e.link_name);
        }
        header.set_mode(e.mode);
        header.set_entry_type(e.kind);
        header.set_mtime(1_600_000_000);
        header.set_uid(0);
        header.set_gid(0);
        header.set_size(e.data.len() as u64);
        if let Some((major, minor)) = e.device {
            header.set_device_major(major).expect("device major");
            header.set_device_minor(minor).expect("device minor");
        }
        header.set_cksum();
        builder
            .append(&header, e.data.as_slice())
            .expect("tar append raw");
    }
    builder.into_inner().expect("tar finish")
}

fn main_tf() -> Vec<u8> {
    sample_module_files("hostile").remove(0).1
}

// ---------------------------------------------------------------------------------------------
// Raw zip writer: full control over names and modes (symlinks, `..`, absolute paths), and
// entries whose compressed data was made elsewhere (zip bombs).

/// One raw zip entry.
pub struct RawZipEntry {
    pub name: Vec<u8>,
    /// Full unix mode including the file type bits (0o100644 regular, 0o120777 symlink).
    pub unix_mode: u32,
    pub data: RawZipData,
}

pub enum RawZipData {
    /// Stored uncompressed.
    Plain(Vec<u8>),
    /// Already deflated (raw deflate) with its uncompressed size and CRC-32.
    Deflated {
        compressed: Vec<u8>,
        size: u64,
        crc: u32,
    },
}

impl RawZipEntry {
    pub fn file(name: &str, data: &[u8]) -> Self {
        Self {
            name: name.as_bytes().to_vec(),
            unix_mode: 0o100644,
            data: RawZipData::Plain(data.to_vec()),
        }
    }
}

pub fn raw_zip(entries: &[RawZipEntry]) -> Vec<u8> {
    fn u16le(v: &mut Vec<u8>, x: u16) {
        v.extend_from_slice(&x.to_le_bytes());
    }
    fn u32le(v: &mut Vec<u8>, x: u32) {
        v.extend_from_slice(&x.to_le_bytes());
    }
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let (method, crc, csize, usize_, data): (u16, u32, u32, u32, &[u8]) = match &e.data {
            RawZipData::Plain(d) => {
                let mut c = flate2::Crc::new();
                c.update(d);
                (0, c.sum(), d.len() as u32, d.len() as u32, d.as_slice())
            }
            RawZipData::Deflated {
                compressed,
                size,
                crc,
            } => (
                8,
                *crc,
                compressed.len() as u32,
                u32::try_from(*size).expect("raw zip entries must stay below 4 GiB"),
                compressed.as_slice(),
            ),
        };
        let offset = out.len() as u32;
        u32le(&mut out, 0x0403_4b50);
        u16le(&mut out, 20); // version needed
        u16le(&mut out, 0); // flags
        u16le(&mut out, method);
        u16le(&mut out, 0); // time
        u16le(&mut out, 0x21); // date 1980-01-01
        u32le(&mut out, crc);
        u32le(&mut out, csize);
        u32le(&mut out, usize_);
        u16le(&mut out, e.name.len() as u16);
        u16le(&mut out, 0);
        out.extend_from_slice(&e.name);
        out.extend_from_slice(data);

        u32le(&mut central, 0x0201_4b50);
        u16le(&mut central, (3 << 8) | 20); // made by: unix
        u16le(&mut central, 20);
        u16le(&mut central, 0);
        u16le(&mut central, method);
        u16le(&mut central, 0);
        u16le(&mut central, 0x21);
        u32le(&mut central, crc);
        u32le(&mut central, csize);
        u32le(&mut central, usize_);
        u16le(&mut central, e.name.len() as u16);
        u16le(&mut central, 0); // extra
        u16le(&mut central, 0); // comment
        u16le(&mut central, 0); // disk
        u16le(&mut central, 0); // internal attrs
        u32le(&mut central, e.unix_mode << 16); // external attrs
        u32le(&mut central, offset);
        central.extend_from_slice(&e.name);
    }
    let cd_offset = out.len() as u32;
    let cd_size = central.len() as u32;
    out.extend_from_slice(&central);
    u32le(&mut out, 0x0605_4b50);
    u16le(&mut out, 0);
    u16le(&mut out, 0);
    u16le(&mut out, entries.len() as u16);
    u16le(&mut out, entries.len() as u16);
    u32le(&mut out, cd_size);
    u32le(&mut out, cd_offset);
    u16le(&mut out, 0);
    out
}

// ---------------------------------------------------------------------------------------------
// Compression bombs, built fast even in debug builds: after a FULL flush the deflate state is
// reset and byte-aligned, so compressing the same 1 MiB of zeros again yields the same bytes,
// which are then repeated instead of recompressed.

const CHUNK: usize = 1 << 20;

fn deflate_step(c: &mut Compress, input: &[u8], flush: FlushCompress) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * 1024);
    let start = c.total_in();
    loop {
        let consumed = (c.total_in() - start) as usize;
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let status = c
            .compress_vec(&input[consumed..], &mut out, flush)
            .expect("deflate");
        let consumed = (c.total_in() - start) as usize;
        let done = match flush {
            FlushCompress::Finish => status == flate2::Status::StreamEnd,
            // With spare output room after a flush, the flush is complete.
            _ => consumed == input.len() && out.len() < out.capacity(),
        };
        if done {
            return out;
        }
    }
}

/// Raw deflate of `prefix` followed by `zeros` zero bytes and `suffix`; returns
/// (compressed, uncompressed size, CRC-32).
pub fn deflate_prefix_zeros(prefix: &[u8], zeros: u64, suffix: &[u8]) -> (Vec<u8>, u64, u32) {
    let mut c = Compress::new(Compression::best(), false);
    let mut crc = flate2::Crc::new();
    let mut out = deflate_step(&mut c, prefix, FlushCompress::Full);
    crc.update(prefix);
    let zero_chunk = vec![0u8; CHUNK];
    let mut zero_crc = flate2::Crc::new();
    zero_crc.update(&zero_chunk);
    let mut remaining = zeros;
    let mut previous: Option<Vec<u8>> = None;
    let mut repeat: Option<Vec<u8>> = None;
    while remaining >= CHUNK as u64 {
        match &repeat {
            Some(block) => out.extend_from_slice(block),
            None => {
                let block = deflate_step(&mut c, &zero_chunk, FlushCompress::Full);
                out.extend_from_slice(&block);
                if previous.as_ref() == Some(&block) {
                    repeat = Some(block);
                } else {
                    previous = Some(block);
                }
            }
        }
        crc.combine(&zero_crc);
        remaining -= CHUNK as u64;
    }
    let mut tail = vec![0u8; remaining as usize];
    tail.extend_from_slice(suffix);
    crc.update(&tail);
    out.extend(deflate_step(&mut c, &tail, FlushCompress::Finish));
    (
        out,
        prefix.len() as u64 + zeros + suffix.len() as u64,
        crc.sum(),
    )
}

/// A gzip member wrapping a raw deflate stream.
pub fn gzip_from_deflate(deflated: &[u8], size: u64, crc: u32) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend_from_slice(deflated);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&(size as u32).to_le_bytes());
    out
}

/// A `.tar.gz` holding `main.tf` and `zeros.bin` of `mib` MiB of zeros (a ~1000:1 bomb).
pub fn tar_gz_bomb(mib: u64) -> Vec<u8> {
    let size = mib * CHUNK as u64;
    let tf = main_tf();
    let mut prefix = raw_tar(&[RawTarEntry::file("main.tf", &tf)]);
    // raw_tar ends with two zero blocks; drop them and append the big entry's header.
    prefix.truncate(prefix.len() - 1024);
    let mut header = tar::Header::new_ustar();
    header.set_path("zeros.bin").expect("path");
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mtime(1_600_000_000);
    header.set_cksum();
    prefix.extend_from_slice(header.as_bytes());
    // Data is a multiple of 512, then two zero blocks end the archive: all zeros.
    let (deflated, usize_, crc) = deflate_prefix_zeros(&prefix, size + 1024, &[]);
    gzip_from_deflate(&deflated, usize_, crc)
}

/// A `.zip` holding `main.tf` and `zeros.bin` of `mib` MiB of zeros.
pub fn zip_bomb(mib: u64) -> Vec<u8> {
    let (compressed, size, crc) = deflate_prefix_zeros(&[], mib * CHUNK as u64, &[]);
    raw_zip(&[
        RawZipEntry::file("main.tf", &main_tf()),
        RawZipEntry {
            name: b"zeros.bin".to_vec(),
            unix_mode: 0o100644,
            data: RawZipData::Deflated {
                compressed,
                size,
                crc,
            },
        },
    ])
}

// ---------------------------------------------------------------------------------------------

/// A hostile module upload and what the rejection must say.
pub struct HostileArchive {
    /// Short name for assertion messages.
    pub name: &'static str,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    /// The expected HTTP status.
    pub status: u16,
    /// `errors[0]` must contain at least one of these (case-insensitive).
    pub mentions: &'static [&'static str],
}

pub const GZIP: &str = "application/gzip";
pub const ZIP: &str = "application/zip";

/// Status codes accepted for "the archive failed a content check".
pub const CHECK_FAILED: u16 = 400;

const ABSOLUTE: &[&str] = &["absolute"];
const DOTDOT: &[&str] = &["..", "traversal", "parent"];
const SYMLINK: &[&str] = &["symlink", "symbolic link", "link"];
const HARDLINK: &[&str] = &["hardlink", "hard link", "link"];
const DEVICE: &[&str] = &["device", "special"];
const BOMB: &[&str] = &[
    "decompress",
    "uncompressed",
    "ratio",
    "bomb",
    "expand",
    "too large",
];
const NO_TF: &[&str] = &[".tf"];
const MALFORMED: &[&str] = &["archive", "gzip", "zip", "malformed", "invalid", "corrupt"];

/// Names of the hostile module archives, one per module check in issue 2 item 6 (the size
/// cap needs a server with a small cap: see [`oversized_module`]).
pub const HOSTILE_MODULE_CASES: &[&str] = &[
    "tar absolute path",
    "tar dot-dot path",
    "tar symlink",
    "tar hardlink",
    "tar char device",
    "gzip bomb",
    "tar without .tf",
    "garbage gzip",
    "gzip of garbage (not tar)",
    "zip absolute path",
    "zip dot-dot path",
    "zip symlink",
    "zip bomb",
    "zip without .tf",
    "garbage zip",
];

/// Every hostile module archive.
pub fn hostile_module_archives() -> Vec<HostileArchive> {
    HOSTILE_MODULE_CASES
        .iter()
        .map(|n| hostile_module_archive(n))
        .collect()
}

/// One hostile module archive by name (see [`HOSTILE_MODULE_CASES`]).
pub fn hostile_module_archive(name: &str) -> HostileArchive {
    let bomb = |name, body, content_type| HostileArchive {
        name,
        body,
        content_type,
        status: CHECK_FAILED,
        mentions: BOMB,
    };
    match name {
        // 512 MiB of zeros, ~0.5 MiB compressed.
        "gzip bomb" => bomb("gzip bomb", tar_gz_bomb(512), GZIP),
        "zip bomb" => bomb("zip bomb", zip_bomb(512), ZIP),
        _ => cheap_hostile_archives()
            .into_iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("unknown hostile archive {name:?}")),
    }
}

fn cheap_hostile_archives() -> Vec<HostileArchive> {
    let tf = main_tf();
    let tgz = |entries: Vec<RawTarEntry>| gzip(&raw_tar(&entries));
    let link = |name: &str, target: &str, kind| RawTarEntry {
        name: name.as_bytes().to_vec(),
        kind,
        mode: 0o777,
        link_name: target.as_bytes().to_vec(),
        data: Vec::new(),
        device: None,
    };
    let h = |name, body, content_type, mentions| HostileArchive {
        name,
        body,
        content_type,
        status: CHECK_FAILED,
        mentions,
    };
    vec![
        h(
            "tar absolute path",
            tgz(vec![
                RawTarEntry::file("main.tf", &tf),
                RawTarEntry::file("/tmp/evil.tf", &tf),
            ]),
            GZIP,
            ABSOLUTE,
        ),
        h(
            "tar dot-dot path",
            tgz(vec![
                RawTarEntry::file("main.tf", &tf),
                RawTarEntry::file("sub/../../evil.tf", &tf),
            ]),
            GZIP,
            DOTDOT,
        ),
        h(
            "tar symlink",
            tgz(vec![
                RawTarEntry::file("main.tf", &tf),
                link("other.tf", "main.tf", tar::EntryType::Symlink),
            ]),
            GZIP,
            SYMLINK,
        ),
        h(
            "tar hardlink",
            tgz(vec![
                RawTarEntry::file("main.tf", &tf),
                link("other.tf", "main.tf", tar::EntryType::Link),
            ]),
            GZIP,
            HARDLINK,
        ),
        h(
            "tar char device",
            tgz(vec![
                RawTarEntry::file("main.tf", &tf),
                RawTarEntry {
                    name: b"null".to_vec(),
                    kind: tar::EntryType::Char,
                    mode: 0o666,
                    link_name: Vec::new(),
                    data: Vec::new(),
                    device: Some((1, 3)),
                },
            ]),
            GZIP,
            DEVICE,
        ),
        h(
            "tar without .tf",
            tgz(vec![RawTarEntry::file(
                "README.md",
                b"# no terraform here\n",
            )]),
            GZIP,
            NO_TF,
        ),
        h(
            "garbage gzip",
            b"this is not a gzip stream at all \x00\x01\x02".repeat(50),
            GZIP,
            MALFORMED,
        ),
        h(
            "gzip of garbage (not tar)",
            gzip(&b"\x07garbage that is not a tar header ".repeat(100)),
            GZIP,
            MALFORMED,
        ),
        h(
            "zip absolute path",
            raw_zip(&[
                RawZipEntry::file("main.tf", &tf),
                RawZipEntry::file("/tmp/evil.tf", &tf),
            ]),
            ZIP,
            ABSOLUTE,
        ),
        h(
            "zip dot-dot path",
            raw_zip(&[
                RawZipEntry::file("main.tf", &tf),
                RawZipEntry::file("../evil.tf", &tf),
            ]),
            ZIP,
            DOTDOT,
        ),
        h(
            "zip symlink",
            raw_zip(&[
                RawZipEntry::file("main.tf", &tf),
                RawZipEntry {
                    name: b"other.tf".to_vec(),
                    unix_mode: 0o120777,
                    data: RawZipData::Plain(b"main.tf".to_vec()),
                },
            ]),
            ZIP,
            SYMLINK,
        ),
        h(
            "zip without .tf",
            raw_zip(&[RawZipEntry::file("README.md", b"# nothing\n")]),
            ZIP,
            NO_TF,
        ),
        h(
            "garbage zip",
            b"PK\x03\x04 but then nothing sensible".repeat(40),
            ZIP,
            MALFORMED,
        ),
    ]
}

/// A well-formed module archive of about `bytes` bytes (incompressible padding), for the size cap.
pub fn oversized_module(bytes: usize) -> HostileArchive {
    let mut pad = vec![0u8; bytes];
    rand::Rng::fill(&mut rand::rng(), pad.as_mut_slice());
    let mut files = sample_module_files("oversized");
    files.push(("padding.bin".to_string(), pad));
    HostileArchive {
        name: "oversized body",
        body: tar_gz(&files),
        content_type: GZIP,
        status: 413,
        mentions: &["size", "large", "limit", "exceed", "bytes"],
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn tar_gz_bomb_is_a_valid_tar_gz_of_the_stated_size() {
        let bomb = tar_gz_bomb(64);
        assert!(bomb.len() < 200 * 1024, "bomb is {} bytes", bomb.len());
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(bomb.as_slice()));
        let mut seen = Vec::new();
        for entry in ar.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let name = entry.path().expect("path").display().to_string();
            let n = std::io::copy(&mut entry, &mut std::io::sink()).expect("read entry");
            seen.push((name, n));
        }
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].0, "main.tf");
        assert_eq!(seen[1], ("zeros.bin".to_string(), 64 << 20));
        // The gzip trailer (CRC, size) is right too: reading to the end does not fail.
        let mut all = Vec::new();
        flate2::read::GzDecoder::new(bomb.as_slice())
            .read_to_end(&mut all)
            .expect("gzip with a valid trailer");
        assert_eq!(all.len() as u64, (64 << 20) + 3 * 512 + 1024);
    }

    #[test]
    fn zip_bomb_is_a_valid_zip() {
        let bomb = zip_bomb(16);
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bomb)).expect("zip");
        assert_eq!(z.len(), 2);
        let mut f = z.by_name("zeros.bin").expect("zeros.bin");
        assert_eq!(f.size(), 16 << 20);
        let n = std::io::copy(&mut f, &mut std::io::sink()).expect("read and check CRC");
        assert_eq!(n, 16 << 20);
    }

    #[test]
    fn raw_tar_keeps_hostile_names() {
        let t = raw_tar(&[
            RawTarEntry::file("../evil.tf", b"x"),
            RawTarEntry::file("/abs.tf", b"y"),
        ]);
        let mut ar = tar::Archive::new(t.as_slice());
        let names: Vec<Vec<u8>> = ar
            .entries()
            .expect("entries")
            .map(|e| e.expect("entry").path_bytes().into_owned())
            .collect();
        assert_eq!(names, vec![b"../evil.tf".to_vec(), b"/abs.tf".to_vec()]);
    }

    #[test]
    fn raw_zip_is_readable_and_keeps_modes() {
        let z = raw_zip(&[
            RawZipEntry::file("main.tf", b"x = 1\n"),
            RawZipEntry {
                name: b"link.tf".to_vec(),
                unix_mode: 0o120777,
                data: RawZipData::Plain(b"main.tf".to_vec()),
            },
        ]);
        let mut ar = zip::ZipArchive::new(std::io::Cursor::new(z)).expect("zip");
        let mut main = String::new();
        ar.by_name("main.tf")
            .expect("main.tf")
            .read_to_string(&mut main)
            .expect("read");
        assert_eq!(main, "x = 1\n");
        let link = ar.by_name("link.tf").expect("link.tf");
        assert_eq!(link.unix_mode().expect("mode") & 0o170000, 0o120000);
    }

    #[test]
    fn good_archives_round_trip() {
        let tgz = module_tar_gz("x");
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(tgz.as_slice()));
        let names: Vec<String> = ar
            .entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(names, vec!["main.tf", "README.md"]);
        let z = zip::ZipArchive::new(std::io::Cursor::new(module_zip("x"))).expect("zip");
        assert_eq!(z.len(), 2);
    }

    #[test]
    fn every_hostile_archive_is_nonempty_and_named() {
        let all = hostile_module_archives();
        let names: Vec<&str> = all.iter().map(|h| h.name).collect();
        assert_eq!(names, HOSTILE_MODULE_CASES);
        for h in &all {
            assert!(!h.body.is_empty(), "{}", h.name);
            // Bombs must stay under the 1 MiB cap the rejection tests configure.
            assert!(
                h.body.len() < 1 << 20,
                "{} is {} bytes",
                h.name,
                h.body.len()
            );
            assert!(!h.mentions.is_empty(), "{}", h.name);
        }
    }
}
