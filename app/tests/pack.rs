//! `tfr publish`: packing a module directory and finding a provider's dist files.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::Path;

use tfr::publish::{find_dist_files, module_content_type, pack_module_dir};

fn write(root: &Path, rel: &str, contents: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
}

fn archive_entries(bytes: &[u8]) -> BTreeSet<String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn packing_skips_git_terraform_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "main.tf", "variable \"x\" {}\n");
    write(root, "README.md", "# vpc\n");
    write(root, "modules/sub/main.tf", "output \"y\" { value = 1 }\n");
    write(root, ".terraform.lock.hcl", "# lock\n");
    write(root, ".git/config", "[core]\n");
    write(root, ".git/objects/ab/cdef", "blob");
    write(root, ".terraform/modules/modules.json", "{}");
    write(root, "modules/sub/.terraform/x", "y");
    write(root, "terraform.tfstate", "{}");
    write(root, "terraform.tfstate.backup", "{}");
    write(root, "env/prod.tfstate", "{}");

    let mut out = Vec::new();
    let summary = pack_module_dir(root, &mut out).unwrap();
    let names = archive_entries(&out);

    for kept in [
        "main.tf",
        "README.md",
        "modules/sub/main.tf",
        ".terraform.lock.hcl",
    ] {
        assert!(names.contains(kept), "{kept} missing from {names:?}");
        assert!(summary.files.contains(&kept.to_string()));
    }
    for name in &names {
        assert!(!name.contains(".git/") && name != ".git/", "{name} packed");
        assert!(
            !name.starts_with(".terraform/") && !name.contains("/.terraform/"),
            "{name} packed"
        );
        assert!(!name.contains(".tfstate"), "{name} packed");
    }
    assert!(summary.skipped.contains(&".git".to_string()));
    assert!(summary.skipped.contains(&"terraform.tfstate".to_string()));

    let mut again = Vec::new();
    pack_module_dir(root, &mut again).unwrap();
    assert_eq!(out, again, "packing is deterministic");

    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(out.as_slice()));
    let mut entry = archive
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .find(|e| e.path().unwrap().to_string_lossy() == "main.tf")
        .unwrap();
    let mut text = String::new();
    entry.read_to_string(&mut text).unwrap();
    assert_eq!(text, "variable \"x\" {}\n");
}

#[test]
fn a_directory_without_tf_files_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "README.md", "# nothing\n");
    write(dir.path(), ".terraform/x.tf", "hidden");
    let err = pack_module_dir(dir.path(), Vec::new()).unwrap_err();
    assert!(err.to_string().contains(".tf"), "{err}");
}

#[cfg(unix)]
#[test]
fn symlinks_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "main.tf", "");
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("passwd")).unwrap();
    let err = pack_module_dir(dir.path(), Vec::new()).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
}

#[test]
fn content_types_follow_the_extension() {
    assert_eq!(
        module_content_type(Path::new("m.tar.gz")),
        Some("application/gzip")
    );
    assert_eq!(
        module_content_type(Path::new("m.TGZ")),
        Some("application/gzip")
    );
    assert_eq!(
        module_content_type(Path::new("m.zip")),
        Some("application/zip")
    );
    assert_eq!(module_content_type(Path::new("m.tar")), None);
}

#[test]
fn dist_files_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for name in [
        "terraform-provider-fake_1.2.0_linux_amd64.zip",
        "terraform-provider-fake_1.2.0_darwin_arm64.zip",
        "terraform-provider-fake_1.1.0_linux_amd64.zip",
        "terraform-provider-other_1.2.0_linux_amd64.zip",
        "terraform-provider-fake_1.2.0_SHA256SUMS",
        "terraform-provider-fake_1.2.0_SHA256SUMS.sig",
        "terraform-provider-fake_1.2.0_manifest.json",
        "signing.asc",
        "metadata.json",
    ] {
        write(root, name, "x");
    }
    let files = find_dist_files(root, "fake", "v1.2.0", None).unwrap();
    let packages: Vec<String> = files
        .packages
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        packages,
        [
            "terraform-provider-fake_1.2.0_darwin_arm64.zip",
            "terraform-provider-fake_1.2.0_linux_amd64.zip"
        ]
    );
    assert!(
        files
            .shasums
            .ends_with("terraform-provider-fake_1.2.0_SHA256SUMS")
    );
    assert!(
        files
            .signature
            .ends_with("terraform-provider-fake_1.2.0_SHA256SUMS.sig")
    );
    assert!(
        files
            .manifest
            .unwrap()
            .ends_with("terraform-provider-fake_1.2.0_manifest.json")
    );
    assert!(files.gpg_public_key.ends_with("signing.asc"));

    write(root, "another.asc", "x");
    let err = find_dist_files(root, "fake", "1.2.0", None).unwrap_err();
    assert!(err.to_string().contains("--gpg-public-key"), "{err}");
    let explicit = root.join("another.asc");
    assert_eq!(
        find_dist_files(root, "fake", "1.2.0", Some(&explicit))
            .unwrap()
            .gpg_public_key,
        explicit
    );

    fs::remove_file(root.join("terraform-provider-fake_1.2.0_SHA256SUMS.sig")).unwrap();
    let err = find_dist_files(root, "fake", "1.2.0", Some(&explicit)).unwrap_err();
    assert!(err.to_string().contains("SHA256SUMS.sig"), "{err}");
    assert!(find_dist_files(root, "fake", "9.9.9", Some(&explicit)).is_err());
}
