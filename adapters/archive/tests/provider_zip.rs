//! Provider package zips: the binary, its executable bit, safety and the h1 hash.

mod common;

use common::{Zip, limits, patch, staged};
use sha2::{Digest, Sha256};
use tfr_archive::SafeArchiveInspector;
use tfr_core::{ArchiveLimits, ArchiveViolation, ProviderType};
use tfr_ports::driven::{ArchiveInspector, ProviderZipError, ProviderZipInfo};

const SCRIPT: &[u8] = b"#!/bin/sh\necho fake provider\nexit 1\n";

async fn inspect(bytes: &[u8], limits: ArchiveLimits) -> Result<ProviderZipInfo, ProviderZipError> {
    let file = staged(bytes);
    let fake = ProviderType::parse("fake").unwrap();
    SafeArchiveInspector::new()
        .inspect_provider_zip(&file, &fake, limits)
        .await
}

#[tokio::test]
async fn h1_matches_terraform_vector() {
    // protocols.md §4: the hash Terraform wrote into .terraform.lock.hcl.
    let bytes = Zip::new()
        .file_mode("terraform-provider-fake_v1.0.0", SCRIPT, 0o755)
        .finish();
    let info = inspect(&bytes, limits()).await.unwrap();
    assert_eq!(info.binary_name, "terraform-provider-fake_v1.0.0");
    assert_eq!(info.h1, "h1:wc1hiU4/4FHYnO9nCKczXuIjsX+/ziabBRizcNPPSUs=");
}

#[tokio::test]
async fn h1_hashes_every_entry_as_stored() {
    let bytes = Zip::new()
        .file_mode("terraform-provider-fake", SCRIPT, 0o755)
        .dir("docs/")
        .file("docs/index.md", b"# docs\n")
        .file("LICENSE", b"MIT\n")
        .finish();
    let info = inspect(&bytes, limits()).await.unwrap();
    assert_eq!(info.binary_name, "terraform-provider-fake");

    // Go's dirhash.Hash1 by hand: sorted "<sha256 hex>  <name>\n" lines, directories
    // hashed as empty content, names exactly as stored (with the trailing slash).
    let mut entries = vec![
        ("LICENSE", Sha256::digest(b"MIT\n")),
        ("docs/", Sha256::digest(b"")),
        ("docs/index.md", Sha256::digest(b"# docs\n")),
        ("terraform-provider-fake", Sha256::digest(SCRIPT)),
    ];
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let mut summary = Sha256::new();
    for (name, digest) in entries {
        summary.update(format!("{}  {name}\n", hex::encode(digest)).as_bytes());
    }
    let expected = format!("h1:{}", base64_std(&summary.finalize()));
    assert_eq!(info.h1, expected);
}

fn base64_std(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn exe_and_bare_names_count_as_the_binary() {
    for name in [
        "terraform-provider-fake.exe",
        "terraform-provider-fake",
        "./terraform-provider-fake_v2",
    ] {
        let bytes = Zip::new().file_mode(name, SCRIPT, 0o755).finish();
        let info = inspect(&bytes, limits()).await.unwrap();
        assert_eq!(info.binary_name, name.trim_start_matches("./"), "{name}");
    }
}

#[tokio::test]
async fn no_binary() {
    for bytes in [
        Zip::new().file_mode("README.md", b"x", 0o755).finish(),
        // Another provider's binary.
        Zip::new()
            .file_mode("terraform-provider-fakex", SCRIPT, 0o755)
            .finish(),
        // Not at the top level.
        Zip::new()
            .dir("bin/")
            .file_mode("bin/terraform-provider-fake", SCRIPT, 0o755)
            .finish(),
        Zip::new().finish(),
    ] {
        assert_eq!(
            inspect(&bytes, limits()).await,
            Err(ProviderZipError::NoBinary("fake".into()))
        );
    }
}

#[tokio::test]
async fn binary_without_executable_bit() {
    let bytes = Zip::new()
        .file_mode("terraform-provider-fake_v1.0.0", SCRIPT, 0o644)
        .finish();
    assert_eq!(
        inspect(&bytes, limits()).await,
        Err(ProviderZipError::NotExecutable(
            "terraform-provider-fake_v1.0.0".into()
        ))
    );
}

#[tokio::test]
async fn unsafe_entries_are_refused() {
    let bytes = Zip::new()
        .file_mode("terraform-provider-fake", SCRIPT, 0o755)
        .file("../escape", b"x")
        .finish();
    assert_eq!(
        inspect(&bytes, limits()).await,
        Err(ProviderZipError::Unsafe(ArchiveViolation::ParentTraversal(
            "../escape".into()
        )))
    );
    let bytes = Zip::new()
        .symlink("terraform-provider-fake", "/bin/sh")
        .finish();
    assert_eq!(
        inspect(&bytes, limits()).await,
        Err(ProviderZipError::Unsafe(ArchiveViolation::Link(
            "terraform-provider-fake".into()
        )))
    );
    let mut bytes = Zip::new()
        .file_mode("terraform-provider-fake", SCRIPT, 0o755)
        .file("a_b", b"x")
        .finish();
    assert_eq!(patch(&mut bytes, b"a_b", b"a\nb"), 2);
    assert_eq!(
        inspect(&bytes, limits()).await,
        Err(ProviderZipError::Unsafe(ArchiveViolation::InvalidPath(
            "a\nb".into()
        )))
    );
}

#[tokio::test]
async fn bomb_is_refused() {
    let bytes = Zip::new()
        .file_mode("terraform-provider-fake", SCRIPT, 0o755)
        .zeros("padding", 64 * 1024 * 1024)
        .finish();
    let small = ArchiveLimits {
        max_unpacked_bytes: 4 * 1024 * 1024,
        max_ratio: u64::MAX,
        ..limits()
    };
    assert_eq!(
        inspect(&bytes, small).await,
        Err(ProviderZipError::Unsafe(
            ArchiveViolation::UnpackedTooLarge {
                limit: 4 * 1024 * 1024
            }
        ))
    );
}

#[tokio::test]
async fn garbage_is_malformed() {
    for bytes in [&b""[..], b"PK\x03\x04 not really", b"#!/bin/sh\n"] {
        assert!(matches!(
            inspect(bytes, limits()).await,
            Err(ProviderZipError::Malformed(_))
        ));
    }
    let bytes = Zip::new()
        .file_mode("terraform-provider-fake", SCRIPT, 0o755)
        .finish();
    assert!(matches!(
        inspect(&bytes[..bytes.len() - 5], limits()).await,
        Err(ProviderZipError::Malformed(_))
    ));
}
