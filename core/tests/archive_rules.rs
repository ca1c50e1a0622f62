//! Module archive safety rules.

use proptest::prelude::*;
use tfr_core::archive::{
    ArchiveAudit, MAX_README_BYTES, check_entry_path, description_from_readme, is_terraform_file,
};
use tfr_core::{ArchiveEntry, ArchiveFormat, ArchiveLimits, ArchiveViolation, EntryKind};

fn file(path: &str) -> ArchiveEntry {
    ArchiveEntry {
        path: path.to_string(),
        kind: EntryKind::File,
    }
}
fn dir(path: &str) -> ArchiveEntry {
    ArchiveEntry {
        path: path.to_string(),
        kind: EntryKind::Directory,
    }
}

type Expect = fn(&ArchiveViolation) -> bool;

fn small_limits() -> ArchiveLimits {
    ArchiveLimits {
        max_archive_bytes: 1000,
        max_unpacked_bytes: 100_000,
        max_ratio: 10,
        ratio_floor_bytes: 2_000,
        max_entries: 5,
    }
}

#[test]
fn check_entry_path_normalises() {
    let cases = [
        ("main.tf", "main.tf"),
        ("./main.tf", "main.tf"),
        ("././main.tf", "main.tf"),
        ("modules/vpc/main.tf", "modules/vpc/main.tf"),
        ("modules/vpc/", "modules/vpc"),
        ("a//b", "a/b"),
        ("a/./b", "a/b"),
        ("./", ""),
        (".", ""),
        ("...", "..."),
        ("a..b/c..", "a..b/c.."),
        (".hidden/x", ".hidden/x"),
        ("ünïcode/ok.tf", "ünïcode/ok.tf"),
    ];
    for (raw, want) in cases {
        assert_eq!(check_entry_path(raw).unwrap(), want, "{raw:?}");
    }
}

#[test]
fn check_entry_path_refuses_escapes() {
    use ArchiveViolation::*;
    let cases: &[(&str, Expect)] = &[
        ("/etc/passwd", |v| matches!(v, AbsolutePath(_))),
        ("/", |v| matches!(v, AbsolutePath(_))),
        ("C:", |v| matches!(v, AbsolutePath(_))),
        ("C:/Windows/x", |v| matches!(v, AbsolutePath(_))),
        ("c:foo", |v| matches!(v, AbsolutePath(_))),
        ("./C:/x", |v| matches!(v, AbsolutePath(_))),
        (".//C:", |v| matches!(v, AbsolutePath(_))),
        ("..", |v| matches!(v, ParentTraversal(_))),
        ("../x", |v| matches!(v, ParentTraversal(_))),
        ("a/../../x", |v| matches!(v, ParentTraversal(_))),
        ("a/..", |v| matches!(v, ParentTraversal(_))),
        ("./../x", |v| matches!(v, ParentTraversal(_))),
        ("a/b/../c", |v| matches!(v, ParentTraversal(_))),
        ("a\\b", |v| matches!(v, InvalidPath(_))),
        ("..\\x", |v| matches!(v, InvalidPath(_))),
        ("a\0b", |v| matches!(v, InvalidPath(_))),
        ("a\nb", |v| matches!(v, InvalidPath(_))),
        ("a\x7fb", |v| matches!(v, InvalidPath(_))),
        ("", |v| matches!(v, InvalidPath(_))),
    ];
    for (raw, ok) in cases {
        let err = check_entry_path(raw).unwrap_err();
        assert!(ok(&err), "{raw:?} gave {err:?}");
    }
}

#[test]
fn leading_dot_slash_cannot_smuggle_an_absolute_path() {
    // Regression: `.//etc/passwd` used to normalise to `/etc/passwd`.
    let out = check_entry_path(".//etc/passwd").unwrap();
    assert_eq!(out, "etc/passwd");
    assert!(!check_entry_path(".///").unwrap().starts_with('/'));
}

#[test]
fn violation_checks_and_messages() {
    let all = [
        (ArchiveViolation::TooLarge { limit: 1 }, "size_limit"),
        (ArchiveViolation::Malformed("x".into()), "well_formed"),
        (ArchiveViolation::AbsolutePath("x".into()), "absolute_path"),
        (
            ArchiveViolation::ParentTraversal("x".into()),
            "path_traversal",
        ),
        (ArchiveViolation::InvalidPath("x".into()), "path_characters"),
        (ArchiveViolation::Link("x".into()), "no_links"),
        (
            ArchiveViolation::SpecialFile("x".into()),
            "no_special_files",
        ),
        (ArchiveViolation::TooManyEntries { limit: 1 }, "entry_limit"),
        (
            ArchiveViolation::UnpackedTooLarge { limit: 1 },
            "unpacked_size_limit",
        ),
        (
            ArchiveViolation::RatioExceeded { limit: 1 },
            "compression_ratio",
        ),
        (ArchiveViolation::NoTerraformFiles, "has_tf_files"),
    ];
    for (v, check) in all {
        assert_eq!(v.check(), check);
        assert!(!v.to_string().is_empty());
    }
    assert!(
        ArchiveViolation::ParentTraversal("../x".into())
            .to_string()
            .contains("\"../x\"")
    );
    assert!(
        ArchiveViolation::RatioExceeded { limit: 100 }
            .to_string()
            .contains("100:1")
    );
}

#[test]
fn archive_format_detection() {
    assert_eq!(ArchiveFormat::TarGz.extension(), "tar.gz");
    assert_eq!(ArchiveFormat::Zip.extension(), "zip");
    assert_eq!(ArchiveFormat::TarGz.content_type(), "application/gzip");
    assert_eq!(ArchiveFormat::Zip.content_type(), "application/zip");
    assert_eq!(
        ArchiveFormat::from_content_type("application/gzip"),
        Some(ArchiveFormat::TarGz)
    );
    assert_eq!(
        ArchiveFormat::from_content_type("Application/X-GZIP; charset=binary"),
        Some(ArchiveFormat::TarGz)
    );
    assert_eq!(
        ArchiveFormat::from_content_type(" application/zip "),
        Some(ArchiveFormat::Zip)
    );
    assert_eq!(
        ArchiveFormat::from_content_type("application/x-zip-compressed"),
        Some(ArchiveFormat::Zip)
    );
    assert_eq!(
        ArchiveFormat::from_content_type("application/octet-stream"),
        None
    );
    assert_eq!(ArchiveFormat::from_content_type(""), None);
    assert_eq!(
        ArchiveFormat::from_file_name("m.tar.gz"),
        Some(ArchiveFormat::TarGz)
    );
    assert_eq!(
        ArchiveFormat::from_file_name("M.TGZ"),
        Some(ArchiveFormat::TarGz)
    );
    assert_eq!(
        ArchiveFormat::from_file_name("m.Zip"),
        Some(ArchiveFormat::Zip)
    );
    assert_eq!(ArchiveFormat::from_file_name("m.tar"), None);
    assert_eq!(ArchiveFormat::from_file_name("m.gz"), None);
    for f in [ArchiveFormat::TarGz, ArchiveFormat::Zip] {
        assert_eq!(ArchiveFormat::from_content_type(f.content_type()), Some(f));
        assert_eq!(
            ArchiveFormat::from_file_name(&format!("x.{}", f.extension())),
            Some(f)
        );
    }
}

#[test]
fn compressed_size_limit() {
    let limits = small_limits();
    assert!(ArchiveAudit::new(limits, 1000).is_ok());
    assert_eq!(
        ArchiveAudit::new(limits, 1001).unwrap_err(),
        ArchiveViolation::TooLarge { limit: 1000 }
    );
    assert!(ArchiveAudit::new(limits, 0).is_ok());
}

#[test]
fn entry_limit_counts_every_entry() {
    let mut audit = ArchiveAudit::new(small_limits(), 100).unwrap();
    for i in 0..5 {
        let e = if i % 2 == 0 {
            file(&format!("f{i}.tf"))
        } else {
            dir(&format!("d{i}"))
        };
        audit.check_entry(&e).unwrap();
    }
    assert_eq!(
        audit.check_entry(&file("one-too-many.tf")).unwrap_err(),
        ArchiveViolation::TooManyEntries { limit: 5 }
    );
}

#[test]
fn unpacked_limit() {
    let mut limits = small_limits();
    limits.max_ratio = u64::MAX;
    let mut audit = ArchiveAudit::new(limits, 1000).unwrap();
    audit.record_bytes(60_000).unwrap();
    audit.record_bytes(40_000).unwrap(); // exactly at the limit
    assert_eq!(
        audit.record_bytes(1).unwrap_err(),
        ArchiveViolation::UnpackedTooLarge { limit: 100_000 }
    );
    // Saturates rather than overflowing.
    let mut audit = ArchiveAudit::new(limits, 1000).unwrap();
    assert!(audit.record_bytes(u64::MAX).is_err());
    assert!(audit.record_bytes(u64::MAX).is_err());
}

#[test]
fn ratio_is_checked_only_above_the_floor() {
    // 10 compressed bytes, ratio 10, floor 2000: 2000 bytes (ratio 200) pass because of the floor.
    let mut audit = ArchiveAudit::new(small_limits(), 10).unwrap();
    audit.record_bytes(2_000).unwrap();
    assert_eq!(
        audit.record_bytes(1).unwrap_err(),
        ArchiveViolation::RatioExceeded { limit: 10 }
    );

    // Above the floor, exactly max_ratio is fine and one byte more is not.
    let mut audit = ArchiveAudit::new(small_limits(), 300).unwrap();
    audit.record_bytes(3_000).unwrap();
    assert_eq!(
        audit.record_bytes(1).unwrap_err(),
        ArchiveViolation::RatioExceeded { limit: 10 }
    );

    // Zero compressed bytes is treated as one.
    let mut audit = ArchiveAudit::new(small_limits(), 0).unwrap();
    audit.record_bytes(2_000).unwrap();
    assert!(audit.record_bytes(1).is_err());
}

#[test]
fn ratio_limit_is_not_rounded_down() {
    // Regression: integer division let 10.99:1 pass a 10:1 limit.
    let mut audit = ArchiveAudit::new(small_limits(), 1000).unwrap();
    assert!(audit.record_bytes(10_999).is_err());
}

#[test]
fn links_and_special_files_are_refused() {
    let mut audit = ArchiveAudit::new(small_limits(), 100).unwrap();
    let link = ArchiveEntry {
        path: "l".into(),
        kind: EntryKind::Symlink,
    };
    assert_eq!(
        audit.check_entry(&link).unwrap_err(),
        ArchiveViolation::Link("l".into())
    );
    let hard = ArchiveEntry {
        path: "h".into(),
        kind: EntryKind::Hardlink,
    };
    assert_eq!(
        audit.check_entry(&hard).unwrap_err(),
        ArchiveViolation::Link("h".into())
    );
    let dev = ArchiveEntry {
        path: "d".into(),
        kind: EntryKind::Special,
    };
    assert_eq!(
        audit.check_entry(&dev).unwrap_err(),
        ArchiveViolation::SpecialFile("d".into())
    );
    // Path problems are reported before kind problems.
    let bad_link = ArchiveEntry {
        path: "../l".into(),
        kind: EntryKind::Symlink,
    };
    assert!(matches!(
        audit.check_entry(&bad_link).unwrap_err(),
        ArchiveViolation::ParentTraversal(_)
    ));
}

#[test]
fn root_directory_entry_is_fine_but_a_file_needs_a_name() {
    let mut audit = ArchiveAudit::new(small_limits(), 100).unwrap();
    assert_eq!(audit.check_entry(&dir("./")).unwrap(), "");
    assert!(matches!(
        audit.check_entry(&file("./")).unwrap_err(),
        ArchiveViolation::InvalidPath(_)
    ));
}

#[test]
fn tf_file_detection() {
    for yes in [
        "main.tf",
        "a/b/variables.tf",
        "x.tf.json",
        "x.tofu",
        "x.tofu.json",
        "./m/outputs.tf",
    ] {
        assert!(is_terraform_file(&check_entry_path(yes).unwrap()), "{yes}");
    }
    for no in [
        "main.tf.bak",
        "main.TF",
        "README.md",
        "tf",
        "a/.tf",
        "main.tfvars",
        "x.json",
        "a.tf/readme",
    ] {
        assert!(!is_terraform_file(no), "{no}");
    }

    let mut audit = ArchiveAudit::new(ArchiveLimits::default(), 100).unwrap();
    audit.check_entry(&dir("modules/")).unwrap();
    audit.check_entry(&dir("modules/x.tf/")).unwrap(); // a directory is not a .tf file
    audit.check_entry(&file("README.md")).unwrap();
    assert_eq!(
        audit.finish().unwrap_err(),
        ArchiveViolation::NoTerraformFiles
    );

    let mut audit = ArchiveAudit::new(ArchiveLimits::default(), 100).unwrap();
    audit.check_entry(&file("./main.tf")).unwrap();
    audit.check_entry(&file("modules/sub/main.tf")).unwrap();
    audit.check_entry(&file("versions.tf.json")).unwrap();
    audit.record_bytes(123).unwrap();
    let summary = audit.finish().unwrap();
    assert_eq!(summary.tf_files, 3);
    assert_eq!(summary.entries, 3);
    assert_eq!(summary.unpacked_bytes, 123);
    assert_eq!(summary.readme_path, None);
}

fn readme_of(paths: &[&str]) -> Option<String> {
    let mut audit = ArchiveAudit::new(ArchiveLimits::default(), 100).unwrap();
    audit.check_entry(&file("main.tf")).unwrap();
    for p in paths {
        audit.check_entry(&file(p)).unwrap();
    }
    audit.finish().unwrap().readme_path
}

#[test]
fn readme_preference() {
    assert_eq!(readme_of(&["README.md"]).as_deref(), Some("README.md"));
    assert_eq!(readme_of(&["./README.md"]).as_deref(), Some("README.md"));
    assert_eq!(
        readme_of(&["readme.txt", "README.md"]).as_deref(),
        Some("README.md")
    );
    assert_eq!(
        readme_of(&["README.md", "readme.txt"]).as_deref(),
        Some("README.md")
    );
    assert_eq!(
        readme_of(&["Readme.md", "README.md"]).as_deref(),
        Some("README.md")
    );
    assert_eq!(
        readme_of(&["README", "readme.md"]).as_deref(),
        Some("readme.md")
    );
    assert_eq!(
        readme_of(&["README.txt", "README.markdown"]).as_deref(),
        Some("README.markdown")
    );
    assert_eq!(readme_of(&["README.TXT"]).as_deref(), Some("README.TXT"));
    // Same rank: the byte-wise smaller path wins, whatever the order.
    assert_eq!(
        readme_of(&["readme.md", "Readme.md"]).as_deref(),
        Some("Readme.md")
    );
    assert_eq!(
        readme_of(&["Readme.md", "readme.md"]).as_deref(),
        Some("Readme.md")
    );
    // Only root READMEs count.
    assert_eq!(readme_of(&["docs/README.md", "modules/x/README.md"]), None);
    assert_eq!(
        readme_of(&["docs/README.md", "README"]).as_deref(),
        Some("README")
    );
    assert_eq!(readme_of(&["README.rst", "READMEmd", "notes.md"]), None);
    // A directory called README.md is not a README.
    let mut audit = ArchiveAudit::new(ArchiveLimits::default(), 100).unwrap();
    audit.check_entry(&file("main.tf")).unwrap();
    audit.check_entry(&dir("README.md/")).unwrap();
    assert_eq!(audit.finish().unwrap().readme_path, None);
}

#[test]
fn description_from_readme_rules() {
    assert_eq!(description_from_readme(""), None);
    assert_eq!(description_from_readme("# Title\n\n## Sub\n"), None);
    assert_eq!(
        description_from_readme(
            "# Title\n\n[![ci](x)](y)\n![logo](l.png)\n<p>html</p>\n\n  A VPC module.  \nmore\n"
        )
        .as_deref(),
        Some("A VPC module.")
    );
    assert_eq!(
        description_from_readme("Plain first line\r\nsecond").as_deref(),
        Some("Plain first line")
    );
    // Setext headings, rules and fenced code are not descriptions.
    assert_eq!(
        description_from_readme("Title\n=====\n\nThe text.").as_deref(),
        Some("The text.")
    );
    assert_eq!(
        description_from_readme("Title\n---\nThe text.").as_deref(),
        Some("The text.")
    );
    assert_eq!(
        description_from_readme("---\n\n```hcl\nmodule \"x\" {}\n```\nAfter code.").as_deref(),
        Some("After code.")
    );
    assert_eq!(description_from_readme("```\nonly code\n```\n"), None);

    let long = "x".repeat(400);
    let d = description_from_readme(&long).unwrap();
    assert_eq!(d.chars().count(), 301);
    assert!(d.ends_with('…'));
    let exact = "é".repeat(300);
    assert_eq!(
        description_from_readme(&exact).unwrap(),
        exact,
        "300 characters are kept whole"
    );
    let multibyte = "é".repeat(301);
    assert_eq!(
        description_from_readme(&multibyte).unwrap().chars().count(),
        301
    );
    assert_eq!(MAX_README_BYTES, 512 * 1024);
}

#[test]
fn default_limits_are_sane() {
    let l = ArchiveLimits::default();
    assert!(l.max_archive_bytes > 0 && l.max_unpacked_bytes >= l.max_archive_bytes);
    assert!(l.max_ratio > 1 && l.ratio_floor_bytes > 0 && l.max_entries > 0);
}

proptest! {
    #[test]
    fn check_entry_path_never_panics_or_escapes(raw in "\\PC{0,40}") {
        if let Ok(path) = check_entry_path(&raw) {
            prop_assert!(!path.starts_with('/'));
            prop_assert!(!path.ends_with('/'));
            prop_assert!(path.split('/').all(|s| s != ".." && s != "."), "{path:?}");
            prop_assert!(path.is_empty() || path.split('/').all(|s| !s.is_empty()));
            prop_assert!(!path.contains('\\') && !path.contains('\0'));
            // Idempotent.
            if !path.is_empty() {
                prop_assert_eq!(check_entry_path(&path).unwrap(), path);
            }
        }
    }

    #[test]
    fn check_entry_path_on_path_like_strings(raw in "[./a-c:\\\\]{0,16}") {
        match check_entry_path(&raw) {
            Ok(path) => {
                prop_assert!(!path.starts_with('/'));
                prop_assert!(path.split('/').all(|s| s != ".."));
                prop_assert!(!(path.len() >= 2 && path.as_bytes()[1] == b':'));
            }
            Err(_) => {
                let has_dotdot = raw.split('/').any(|s| s == "..");
                let bad = raw.is_empty() || raw.starts_with('/') || raw.contains('\\') || has_dotdot || raw.contains(':');
                prop_assert!(bad, "{raw:?} rejected for no visible reason");
            }
        }
    }

    #[test]
    fn dotdot_anywhere_is_rejected(prefix in "[a-z]{1,5}(/[a-z]{1,5}){0,3}", suffix in "(/[a-z]{1,5}){0,3}") {
        let raw = format!("{prefix}/..{suffix}");
        prop_assert!(matches!(check_entry_path(&raw), Err(ArchiveViolation::ParentTraversal(_))));
        let raw = format!("../{prefix}");
        prop_assert!(check_entry_path(&raw).is_err());
    }

    #[test]
    fn audit_stops_at_unpacked_limit(chunks in prop::collection::vec(0u64..50_000, 0..20)) {
        let mut limits = small_limits();
        limits.max_ratio = u64::MAX;
        let mut audit = ArchiveAudit::new(limits, 1).unwrap();
        let mut total = 0u64;
        for c in chunks {
            total += c;
            let r = audit.record_bytes(c);
            prop_assert_eq!(r.is_err(), total > limits.max_unpacked_bytes);
            if r.is_err() { break; }
        }
    }

    #[test]
    fn ratio_rule(compressed in 1u64..1000, unpacked in 0u64..100_000) {
        let limits = ArchiveLimits { max_archive_bytes: 1000, max_unpacked_bytes: u64::MAX, max_ratio: 10, ratio_floor_bytes: 2_000, max_entries: 1 };
        let mut audit = ArchiveAudit::new(limits, compressed).unwrap();
        let expected_err = unpacked > 2_000 && unpacked > compressed * 10;
        prop_assert_eq!(audit.record_bytes(unpacked).is_err(), expected_err);
    }

    #[test]
    fn readme_choice_is_order_independent(mut names in prop::sample::subsequence(
        vec!["README.md", "readme.md", "Readme.md", "README.markdown", "README", "readme.txt", "docs/README.md"], 0..7)
    ) {
        let forward = readme_of(&names);
        names.reverse();
        prop_assert_eq!(readme_of(&names), forward);
    }

    #[test]
    fn description_never_panics(s in "\\PC{0,500}") {
        if let Some(d) = description_from_readme(&s) {
            prop_assert!(!d.is_empty());
            prop_assert!(d.chars().count() <= 301);
        }
    }
}
