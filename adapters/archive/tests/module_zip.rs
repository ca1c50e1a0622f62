//! Module `.zip` inspection, honest and hostile.

mod common;

use common::{Zip, deflated, limits, patch, staged};
use tfr_archive::SafeArchiveInspector;
use tfr_core::archive::description_from_readme;
use tfr_core::{ArchiveFormat, ArchiveLimits, ArchiveViolation};
use tfr_ports::driven::{ArchiveInspector, ModuleArchiveInfo};
use zip::CompressionMethod;

async fn inspect(
    bytes: &[u8],
    limits: ArchiveLimits,
) -> Result<ModuleArchiveInfo, ArchiveViolation> {
    let file = staged(bytes);
    SafeArchiveInspector::new()
        .inspect_module(&file, ArchiveFormat::Zip, limits)
        .await
}

fn module() -> Zip {
    Zip::new().file("main.tf", b"output \"x\" { value = 1 }\n")
}

fn assert_malformed(result: Result<ModuleArchiveInfo, ArchiveViolation>, what: &str) {
    match result {
        Err(ArchiveViolation::Malformed(why)) => assert!(!why.is_empty(), "{what}"),
        other => panic!("{what}: expected Malformed, got {other:?}"),
    }
}

#[tokio::test]
async fn good_module_with_readme() {
    let readme = "# Module\n\nA small module for tests.\n";
    let bytes = module()
        .dir("examples/")
        .file("examples/main.tf", b"module \"m\" { source = \"../\" }\n")
        .file("README.md", readme.as_bytes())
        .file_with(
            "stored.tf",
            b"# stored, not deflated\n",
            deflated().compression_method(CompressionMethod::Stored),
        )
        .finish();
    let info = inspect(&bytes, limits()).await.unwrap();
    assert_eq!(info.summary.entries, 5);
    assert_eq!(info.summary.tf_files, 3);
    assert_eq!(info.summary.readme_path.as_deref(), Some("README.md"));
    assert_eq!(info.readme.as_deref(), Some(readme));
    assert_eq!(
        description_from_readme(info.readme.as_deref().unwrap()).as_deref(),
        Some("A small module for tests.")
    );
}

#[tokio::test]
async fn absolute_and_parent_paths_are_refused() {
    let bytes = module().file("/etc/passwd", b"x").finish();
    assert_eq!(
        inspect(&bytes, limits()).await,
        Err(ArchiveViolation::AbsolutePath("/etc/passwd".into()))
    );
    let bytes = module().file("C:/evil.tf", b"x").finish();
    assert_eq!(
        inspect(&bytes, limits()).await,
        Err(ArchiveViolation::AbsolutePath("C:/evil.tf".into()))
    );
    let bytes = module().file("../../evil.tf", b"x").finish();
    assert_eq!(
        inspect(&bytes, limits()).await,
        Err(ArchiveViolation::ParentTraversal("../../evil.tf".into()))
    );
}

#[tokio::test]
async fn raw_names_are_checked_not_sanitised() {
    // Written as "xx/evil.tf" and patched to "../evil.tf" in both headers, so no writer
    // sanitising can hide it.
    let mut bytes = module().file("xx/evil.tf", b"x").finish();
    assert_eq!(patch(&mut bytes, b"xx/evil.tf", b"../evil.tf"), 2);
    assert_eq!(
        inspect(&bytes, limits()).await,
        Err(ArchiveViolation::ParentTraversal("../evil.tf".into()))
    );
    let mut bytes = module().file("dir/x.tf", b"x").finish();
    assert_eq!(patch(&mut bytes, b"dir/x.tf", b"dir\\x.tf"), 2);
    assert_eq!(
        inspect(&bytes, limits()).await,
        Err(ArchiveViolation::InvalidPath("dir\\x.tf".into()))
    );
}

#[tokio::test]
async fn symlink_is_refused() {
    let bytes = module().symlink("link.tf", "/etc/passwd").finish();
    assert_eq!(
        inspect(&bytes, limits()).await,
        Err(ArchiveViolation::Link("link.tf".into()))
    );
}

#[tokio::test]
async fn special_files_are_refused() {
    for mode in [0o020_644, 0o060_644, 0o010_644, 0o140_644] {
        let bytes = module().with_unix_mode("dev", mode).finish();
        assert_eq!(
            inspect(&bytes, limits()).await,
            Err(ArchiveViolation::SpecialFile("dev".into())),
            "{mode:o}"
        );
    }
}

#[tokio::test]
async fn zip_bomb_stops_at_the_unpacked_limit() {
    let bytes = Zip::new().zeros("main.tf", 200 * 1024 * 1024).finish();
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
async fn zip_bomb_trips_the_ratio() {
    let bytes = Zip::new().zeros("main.tf", 32 * 1024 * 1024).finish();
    assert_eq!(
        inspect(&bytes, limits()).await,
        Err(ArchiveViolation::RatioExceeded { limit: 100 })
    );
}

#[tokio::test]
async fn too_many_entries() {
    let mut zip = Zip::new();
    for i in 0..11 {
        zip = zip.file(&format!("f{i}.tf"), b"");
    }
    let few = ArchiveLimits {
        max_entries: 10,
        ..limits()
    };
    assert_eq!(
        inspect(&zip.finish(), few).await,
        Err(ArchiveViolation::TooManyEntries { limit: 10 })
    );
}

#[tokio::test]
async fn not_a_zip_and_truncated_zip_are_malformed() {
    assert_malformed(inspect(b"not a zip", limits()).await, "text");
    assert_malformed(inspect(b"", limits()).await, "empty");
    let bytes = module().file("README.md", &[b'r'; 5000]).finish();
    assert_malformed(inspect(&bytes[..bytes.len() / 2], limits()).await, "half");
    assert_malformed(
        inspect(&bytes[..bytes.len() - 10], limits()).await,
        "cut end",
    );
}

#[tokio::test]
async fn corrupted_data_fails_the_crc() {
    let marker = b"unique-marker-in-stored-data";
    let mut bytes = module()
        .file_with(
            "data.tf",
            marker,
            deflated().compression_method(CompressionMethod::Stored),
        )
        .finish();
    assert_eq!(
        patch(&mut bytes, marker, b"UNIQUE-marker-in-stored-data"),
        1
    );
    assert_malformed(inspect(&bytes, limits()).await, "crc");
}

#[tokio::test]
async fn duplicate_names_are_malformed() {
    let mut bytes = Zip::new().file("a.tf", b"1").file("b.tf", b"2").finish();
    assert_eq!(patch(&mut bytes, b"b.tf", b"a.tf"), 2);
    assert_malformed(inspect(&bytes, limits()).await, "duplicate");
}

#[tokio::test]
async fn no_terraform_files() {
    let bytes = Zip::new().file("README.md", b"hi").dir("src/").finish();
    assert_eq!(
        inspect(&bytes, limits()).await,
        Err(ArchiveViolation::NoTerraformFiles)
    );
}
