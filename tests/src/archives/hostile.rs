//! The hostile module archives, one per check.

use super::*;

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
