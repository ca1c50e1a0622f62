//! Module `.tar.gz` inspection, honest and hostile.

mod common;

use common::{Tar, gzip, limits, staged, zero_bomb_tar_gz};
use tar::EntryType;
use tfr_archive::SafeArchiveInspector;
use tfr_core::archive::{MAX_README_BYTES, description_from_readme};
use tfr_core::{ArchiveFormat, ArchiveLimits, ArchiveViolation};
use tfr_ports::driven::{ArchiveInspector, ModuleArchiveInfo};

async fn inspect(
    bytes: &[u8],
    limits: ArchiveLimits,
) -> Result<ModuleArchiveInfo, ArchiveViolation> {
    let file = staged(bytes);
    SafeArchiveInspector::new()
        .inspect_module(&file, ArchiveFormat::TarGz, limits)
        .await
}

const MAIN_TF: &[u8] = b"resource \"null_resource\" \"x\" {}\n";
const VARIABLES_TF: &[u8] = b"variable \"name\" {}\n";

fn module() -> Tar {
    Tar::new()
        .file("main.tf", MAIN_TF)
        .file("variables.tf", VARIABLES_TF)
}

#[tokio::test]
async fn good_module_with_readme() {
    let readme =
        "# VPC module\n\n[![ci](badge.svg)](x)\n\nCreates a VPC with public and private subnets.\n";
    let bytes = module()
        .dir("modules/")
        .dir("modules/subnet/")
        .file("modules/subnet/main.tf", b"")
        .file("modules/subnet/README.md", b"nested readme")
        .file("README.md", readme.as_bytes())
        .tar_gz();
    let info = inspect(&bytes, limits()).await.unwrap();
    assert_eq!(info.summary.entries, 7);
    assert_eq!(info.summary.tf_files, 3);
    assert_eq!(info.summary.readme_path.as_deref(), Some("README.md"));
    let unpacked =
        (MAIN_TF.len() + VARIABLES_TF.len() + "nested readme".len() + readme.len()) as u64;
    assert_eq!(info.summary.unpacked_bytes, unpacked);
    assert_eq!(info.readme.as_deref(), Some(readme));
    assert_eq!(
        description_from_readme(info.readme.as_deref().unwrap()).as_deref(),
        Some("Creates a VPC with public and private subnets.")
    );
}

#[tokio::test]
async fn dot_slash_prefix_and_git_archive_header_are_fine() {
    let bytes = Tar::new()
        .pax_global("comment=0123456789abcdef0123456789abcdef01234567")
        .dir("./")
        .file("./main.tf", b"")
        .file("./readme.txt", b"plain text readme")
        .tar_gz();
    let info = inspect(&bytes, limits()).await.unwrap();
    assert_eq!(info.summary.tf_files, 1);
    assert_eq!(info.summary.readme_path.as_deref(), Some("readme.txt"));
    assert_eq!(info.readme.as_deref(), Some("plain text readme"));
}

#[tokio::test]
async fn long_paths_use_gnu_long_names() {
    let long = format!("{}/main.tf", "d".repeat(150));
    let bytes = Tar::new().file(&long, b"").tar_gz();
    let info = inspect(&bytes, limits()).await.unwrap();
    assert_eq!(info.summary.tf_files, 1);
    assert_eq!(info.readme, None);
}

#[tokio::test]
async fn huge_readme_is_capped() {
    let big = "a".repeat(MAX_README_BYTES + 1000);
    let bytes = module().file("README.md", big.as_bytes()).tar_gz();
    let info = inspect(&bytes, limits()).await.unwrap();
    assert_eq!(info.readme.map(|r| r.len()), Some(MAX_README_BYTES));
}

#[tokio::test]
async fn absolute_path_is_refused() {
    let bytes = module()
        .raw(b"/etc/cron.d/evil", EntryType::Regular, b"x")
        .tar_gz();
    assert_eq!(
        inspect(&bytes, limits()).await,
        Err(ArchiveViolation::AbsolutePath("/etc/cron.d/evil".into()))
    );
}

#[tokio::test]
async fn parent_traversal_is_refused() {
    for name in ["../x.tf", "a/../../x.tf", "modules/.."] {
        let bytes = module()
            .raw(name.as_bytes(), EntryType::Regular, b"x")
            .tar_gz();
        assert_eq!(
            inspect(&bytes, limits()).await,
            Err(ArchiveViolation::ParentTraversal(name.into())),
            "{name}"
        );
    }
}

#[tokio::test]
async fn invalid_names_are_refused() {
    let bytes = module()
        .raw(b"dir\\main.tf", EntryType::Regular, b"")
        .tar_gz();
    assert_eq!(
        inspect(&bytes, limits()).await,
        Err(ArchiveViolation::InvalidPath("dir\\main.tf".into()))
    );
    let bytes = module()
        .raw(b"caf\xe9.tf", EntryType::Regular, b"")
        .tar_gz();
    assert!(matches!(
        inspect(&bytes, limits()).await,
        Err(ArchiveViolation::InvalidPath(_))
    ));
}

#[tokio::test]
async fn symlink_is_refused() {
    let bytes = module().symlink("passwd", "/etc/passwd").tar_gz();
    assert_eq!(
        inspect(&bytes, limits()).await,
        Err(ArchiveViolation::Link("passwd".into()))
    );
}

#[tokio::test]
async fn hardlink_is_refused() {
    let bytes = module().hardlink("copy.tf", "main.tf").tar_gz();
    assert_eq!(
        inspect(&bytes, limits()).await,
        Err(ArchiveViolation::Link("copy.tf".into()))
    );
}

#[tokio::test]
async fn devices_and_fifos_are_refused() {
    for kind in [EntryType::Char, EntryType::Block, EntryType::Fifo] {
        let bytes = module().special("dev", kind).tar_gz();
        assert_eq!(
            inspect(&bytes, limits()).await,
            Err(ArchiveViolation::SpecialFile("dev".into())),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn gzip_bomb_stops_at_the_unpacked_limit() {
    let bytes = zero_bomb_tar_gz(200 * 1024 * 1024);
    assert!(
        bytes.len() < 1024 * 1024,
        "the bomb is small: {}",
        bytes.len()
    );
    let small = ArchiveLimits {
        max_unpacked_bytes: 8 * 1024 * 1024,
        max_ratio: u64::MAX,
        ..limits()
    };
    assert_eq!(
        inspect(&bytes, small).await,
        Err(ArchiveViolation::UnpackedTooLarge {
            limit: 8 * 1024 * 1024
        })
    );
}

#[tokio::test]
async fn gzip_bomb_trips_the_ratio() {
    let bytes = zero_bomb_tar_gz(32 * 1024 * 1024);
    let ratio = ArchiveLimits {
        max_ratio: 100,
        ratio_floor_bytes: 1024 * 1024,
        ..limits()
    };
    assert_eq!(
        inspect(&bytes, ratio).await,
        Err(ArchiveViolation::RatioExceeded { limit: 100 })
    );
}

#[tokio::test]
async fn huge_long_name_header_hits_the_stream_cap() {
    // The tar crate reads a GNU long name into memory; the stream cap stops it first.
    let bytes = Tar::new().huge_long_name(16 * 1024 * 1024).tar_gz();
    let small = ArchiveLimits {
        max_unpacked_bytes: 1024 * 1024,
        max_entries: 10,
        max_ratio: u64::MAX,
        ..limits()
    };
    assert_eq!(
        inspect(&bytes, small).await,
        Err(ArchiveViolation::UnpackedTooLarge { limit: 1024 * 1024 })
    );
}

#[tokio::test]
async fn too_many_entries() {
    let mut tar = Tar::new();
    for i in 0..11 {
        tar = tar.file(&format!("f{i}.tf"), b"");
    }
    let few = ArchiveLimits {
        max_entries: 10,
        ..limits()
    };
    assert_eq!(
        inspect(&tar.tar_gz(), few).await,
        Err(ArchiveViolation::TooManyEntries { limit: 10 })
    );
}

#[tokio::test]
async fn archive_over_the_compressed_limit() {
    let bytes = module().tar_gz();
    let tiny = ArchiveLimits {
        max_archive_bytes: 10,
        ..limits()
    };
    assert_eq!(
        inspect(&bytes, tiny).await,
        Err(ArchiveViolation::TooLarge { limit: 10 })
    );
}

fn assert_malformed(result: Result<ModuleArchiveInfo, ArchiveViolation>, what: &str) {
    match result {
        Err(ArchiveViolation::Malformed(why)) => assert!(!why.is_empty(), "{what}"),
        other => panic!("{what}: expected Malformed, got {other:?}"),
    }
}

#[tokio::test]
async fn not_gzip_is_malformed() {
    assert_malformed(inspect(b"this is not gzip at all", limits()).await, "text");
    assert_malformed(inspect(b"", limits()).await, "empty");
    assert_malformed(inspect(&module().tar(), limits()).await, "uncompressed tar");
    assert_malformed(
        inspect(&gzip(&[b'x'; 2048]), limits()).await,
        "gzip of something that is not tar",
    );
}

#[tokio::test]
async fn truncated_gzip_is_malformed() {
    let bytes = module().file("README.md", &[b'r'; 10_000]).tar_gz();
    for cut in [bytes.len() / 2, bytes.len() - 4, bytes.len() - 1] {
        assert_malformed(
            inspect(&bytes[..cut], limits()).await,
            &format!("cut at {cut}"),
        );
    }
}

#[tokio::test]
async fn truncated_entry_inside_valid_gzip_is_malformed() {
    let tar = module().file("big.tf", &[b'x'; 4096]).tar();
    // Keep the header of big.tf and half its data; drop the end-of-archive blocks.
    let cut = tar.len() - 1024 - 2048;
    assert_malformed(inspect(&gzip(&tar[..cut]), limits()).await, "short entry");
}

#[tokio::test]
async fn trailing_garbage_is_malformed() {
    let mut bytes = module().tar_gz();
    bytes.extend_from_slice(b"garbage after the gzip member");
    assert_malformed(inspect(&bytes, limits()).await, "trailing garbage");
    // A second gzip member is refused too.
    let mut two = module().tar_gz();
    two.extend_from_slice(&gzip(b"more"));
    assert_malformed(inspect(&two, limits()).await, "second member");
}

#[tokio::test]
async fn no_terraform_files() {
    let bytes = Tar::new()
        .file("README.md", b"hi")
        .file("main.py", b"")
        .tar_gz();
    assert_eq!(
        inspect(&bytes, limits()).await,
        Err(ArchiveViolation::NoTerraformFiles)
    );
}
