//! Storage keys: one owner for the layout, and nothing from outside can escape the root.

use proptest::prelude::*;
use tfr_core::{
    ArchiveFormat, BlobKey, BlobKeyError, ModuleAddress, ModuleVersion, Platform, ProviderAddress,
    ProviderVersion,
};

#[test]
fn parse_accepts_safe_keys() {
    for ok in [
        "a",
        "modules/acme/net/aws/1.0.0/net-aws-1.0.0.tar.gz",
        "providers/hashicorp/aws/1.0.0-rc.1+b.2/terraform-provider-aws_1.0.0-rc.1+b.2_linux_amd64.zip",
        "x/.hidden/...",
        "A_B-c.d+e",
    ] {
        let key = BlobKey::parse(ok).unwrap();
        assert_eq!(key.as_str(), ok);
        assert_eq!(key.to_string(), ok);
    }
}

#[test]
fn parse_refuses_escapes_and_odd_characters() {
    let long_segment = "a".repeat(256);
    let long_key = vec!["a"; 513].join("/");
    for bad in [
        "",
        "/",
        "/etc/passwd",
        "a/",
        "a//b",
        "..",
        "../a",
        "a/../b",
        "a/..",
        ".",
        "./a",
        "a/./b",
        "a\\b",
        "a b",
        "a\0b",
        "a\nb",
        "a%2fb",
        "a?b",
        "a#b",
        "a:b",
        "C:",
        "~",
        "ü",
        long_segment.as_str(),
        long_key.as_str(),
    ] {
        assert_eq!(
            BlobKey::parse(bad).unwrap_err(),
            BlobKeyError(bad.to_string()),
            "{bad:?}"
        );
    }
    assert!(BlobKey::parse(&"a".repeat(255)).is_ok());
    assert!(
        BlobKey::parse(&vec!["a"; 512].join("/")).is_ok(),
        "1023 bytes is fine"
    );
}

const UPLOAD: u128 = 0x0123_4567_89ab_cdef_0011_2233_4455_6677;

#[test]
fn module_archive_layout() {
    let addr = ModuleAddress::parse("Acme", "Net-VPC", "aws").unwrap();
    let v = ModuleVersion::parse("v1.2").unwrap();
    let key = BlobKey::module_archive(&addr, &v, ArchiveFormat::TarGz, UPLOAD);
    assert_eq!(
        key.as_str(),
        "modules/acme/net-vpc/aws/1.2.0/0123456789abcdef0011223344556677/net-vpc-aws-1.2.0.tar.gz"
    );
    assert_eq!(key.file_name(), "net-vpc-aws-1.2.0.tar.gz");
    assert_eq!(BlobKey::parse(key.as_str()).unwrap(), key);
    let zip = BlobKey::module_archive(&addr, &v, ArchiveFormat::Zip, UPLOAD);
    assert!(zip.as_str().ends_with(".zip"));
    // Case-insensitive addresses share a key.
    let lower = ModuleAddress::parse("acme", "net-vpc", "aws").unwrap();
    assert_eq!(
        BlobKey::module_archive(&lower, &v, ArchiveFormat::TarGz, UPLOAD),
        key
    );
    // Different uploads of the same version never share a key; small ids are zero-padded.
    assert_ne!(
        BlobKey::module_archive(&lower, &v, ArchiveFormat::TarGz, UPLOAD + 1),
        key
    );
    let first = BlobKey::module_archive(&lower, &v, ArchiveFormat::TarGz, 1);
    assert!(
        first
            .as_str()
            .contains("/00000000000000000000000000000001/"),
        "{first}"
    );
}

#[test]
fn provider_layout() {
    let addr = ProviderAddress::parse("hashicorp", "aws").unwrap();
    let v = ProviderVersion::parse("5.0.0").unwrap();
    let p = Platform::parse("linux_amd64").unwrap();
    let pkg = BlobKey::provider_package(&addr, &v, &p, UPLOAD);
    let dir = "providers/hashicorp/aws/5.0.0/0123456789abcdef0011223344556677";
    assert_eq!(
        pkg.as_str(),
        format!("{dir}/terraform-provider-aws_5.0.0_linux_amd64.zip")
    );
    assert_eq!(
        pkg.file_name(),
        "terraform-provider-aws_5.0.0_linux_amd64.zip"
    );
    let sums = BlobKey::provider_shasums(&addr, &v, UPLOAD);
    assert_eq!(
        sums.as_str(),
        format!("{dir}/terraform-provider-aws_5.0.0_SHA256SUMS")
    );
    assert_eq!(
        sums.file_name(),
        tfr_core::provider_package::shasums_filename(&addr.provider_type, &v)
    );
    let sig = BlobKey::provider_shasums_signature(&addr, &v, UPLOAD);
    assert_eq!(
        sig.as_str(),
        format!("{dir}/terraform-provider-aws_5.0.0_SHA256SUMS.sig")
    );
    for k in [pkg, sums, sig] {
        assert_eq!(BlobKey::parse(k.as_str()).unwrap(), k);
    }
}

#[test]
fn file_name_of_single_segment() {
    assert_eq!(BlobKey::parse("only").unwrap().file_name(), "only");
}

fn ident_list() -> impl Strategy<Value = String> {
    prop::collection::vec("[0-9A-Za-z-]{1,8}", 1..4).prop_map(|v| v.join("."))
}

fn module_version() -> impl Strategy<Value = ModuleVersion> {
    (
        any::<bool>(),
        prop::collection::vec(0u64..100_000, 1..5),
        prop::option::of(ident_list()),
        prop::option::of(ident_list()),
    )
        .prop_map(|(v, segs, pre, build)| {
            let mut s = if v { "v".to_string() } else { String::new() };
            s.push_str(
                &segs
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join("."),
            );
            if let Some(p) = pre {
                s = format!("{s}-{p}");
            }
            if let Some(b) = build {
                s = format!("{s}+{b}");
            }
            s
        })
        .prop_filter_map("too long", |s| ModuleVersion::parse(&s).ok())
}

fn provider_version() -> impl Strategy<Value = ProviderVersion> {
    (
        0u64..100_000,
        0u64..100_000,
        0u64..100_000,
        prop::option::of(ident_list()),
        prop::option::of(ident_list()),
    )
        .prop_map(|(a, b, c, pre, build)| {
            let mut s = format!("{a}.{b}.{c}");
            if let Some(p) = pre {
                s = format!("{s}-{p}");
            }
            if let Some(b) = build {
                s = format!("{s}+{b}");
            }
            s
        })
        .prop_filter_map("too long", |s| ProviderVersion::parse(&s).ok())
}

const MODULE_PART: &str = "[0-9A-Za-z]([0-9A-Za-z_-]{0,62}[0-9A-Za-z])?";
const PROVIDER_PART: &str = "[a-z0-9]{1,20}(-[a-z0-9]{1,20}){0,2}";

fn check_key(key: &BlobKey) -> Result<(), TestCaseError> {
    let parsed = BlobKey::parse(key.as_str());
    prop_assert_eq!(
        parsed.as_ref(),
        Ok(key),
        "builder produced an unparseable key"
    );
    prop_assert!(key.as_str().split('/').all(|s| s.len() <= 255));
    prop_assert!(key.as_str().len() <= 1024);
    Ok(())
}

proptest! {
    #[test]
    fn module_keys_parse(ns in MODULE_PART, name in MODULE_PART, system in "[0-9a-z]{1,64}", v in module_version(), zip in any::<bool>(), upload in any::<u128>()) {
        let addr = ModuleAddress::parse(&ns, &name, &system).unwrap();
        let format = if zip { ArchiveFormat::Zip } else { ArchiveFormat::TarGz };
        let key = BlobKey::module_archive(&addr, &v, format, upload);
        check_key(&key)?;
        let prefix = format!("modules/{}/{}/{}/{v}/{upload:032x}/", ns.to_ascii_lowercase(), name.to_ascii_lowercase(), system);
        prop_assert!(key.as_str().starts_with(&prefix), "{} vs {}", key, prefix);
        let suffix = format!(".{}", format.extension());
        prop_assert!(key.file_name().ends_with(&suffix));
    }

    #[test]
    fn longest_module_keys_parse(v in module_version()) {
        // Every part at its maximum length.
        let part = "a".repeat(64);
        let addr = ModuleAddress::parse(&part, &part, &part).unwrap();
        check_key(&BlobKey::module_archive(&addr, &v, ArchiveFormat::TarGz, u128::MAX))?;
        let long_v = ModuleVersion::parse(&format!("1-{}", "a".repeat(62))).unwrap();
        check_key(&BlobKey::module_archive(&addr, &long_v, ArchiveFormat::TarGz, u128::MAX))?;
    }

    #[test]
    fn provider_keys_parse(ns in PROVIDER_PART, ty in PROVIDER_PART, v in provider_version(), os in "[a-z0-9]{1,32}", arch in "[a-z0-9]{1,32}", upload in any::<u128>()) {
        prop_assume!(!ty.starts_with("terraform-"));
        let addr = ProviderAddress::parse(&ns, &ty).unwrap();
        let p = Platform::new(&os, &arch).unwrap();
        let pkg = BlobKey::provider_package(&addr, &v, &p, upload);
        check_key(&pkg)?;
        check_key(&BlobKey::provider_shasums(&addr, &v, upload))?;
        check_key(&BlobKey::provider_shasums_signature(&addr, &v, upload))?;
        let prefix = format!("providers/{ns}/{ty}/{v}/{upload:032x}/");
        prop_assert!(pkg.as_str().starts_with(&prefix));
        prop_assert_eq!(pkg.file_name(), tfr_core::provider_package::package_filename(&addr.provider_type, &v, &p));
    }

    #[test]
    fn longest_provider_keys_parse(os in "[a-z0-9]{32}", arch in "[a-z0-9]{32}") {
        let part = "a".repeat(64);
        let addr = ProviderAddress::parse(&part, &part).unwrap();
        let v = ProviderVersion::parse(&format!("1.0.0-{}", "a".repeat(58))).unwrap();
        let p = Platform::new(&os, &arch).unwrap();
        check_key(&BlobKey::provider_package(&addr, &v, &p, u128::MAX))?;
        check_key(&BlobKey::provider_shasums_signature(&addr, &v, u128::MAX))?;
    }

    #[test]
    fn parse_never_panics_and_never_escapes(s in "\\PC{0,60}") {
        if let Ok(k) = BlobKey::parse(&s) {
            prop_assert!(!k.as_str().starts_with('/'));
            prop_assert!(k.as_str().split('/').all(|seg| !seg.is_empty() && seg != ".." && seg != "."));
            prop_assert!(!k.as_str().contains('\\'));
            prop_assert!(k.file_name().len() <= k.as_str().len());
        }
    }

    #[test]
    fn parse_on_path_like_strings(s in "[a./\\\\]{0,12}") {
        let ok = !s.is_empty() && s.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != ".." && !seg.contains('\\'));
        prop_assert_eq!(BlobKey::parse(&s).is_ok(), ok);
    }
}

// ---------------------------------------------------------------- mirrored packages

fn registry_host(s: &str) -> tfr_core::RegistryHost {
    tfr_core::RegistryHost::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

#[test]
fn mirrored_package_layout() {
    let host = registry_host("registry.terraform.io");
    let addr = ProviderAddress::parse("hashicorp", "aws").unwrap();
    let v = ProviderVersion::parse("5.0.0").unwrap();
    let p = Platform::parse("linux_amd64").unwrap();
    let key = BlobKey::mirrored_package(&host, &addr, &v, &p, UPLOAD);
    assert_eq!(
        key.as_str(),
        "mirror/registry.terraform.io/hashicorp/aws/5.0.0/0123456789abcdef0011223344556677/terraform-provider-aws_5.0.0_linux_amd64.zip"
    );
    // The upstream file name, as a published package of the same provider would have.
    assert_eq!(
        key.file_name(),
        tfr_core::provider_package::package_filename(&addr.provider_type, &v, &p)
    );
    assert_eq!(
        key.file_name(),
        BlobKey::provider_package(&addr, &v, &p, UPLOAD).file_name()
    );
    assert_eq!(BlobKey::parse(key.as_str()).unwrap(), key);
    // Mirrored packages live apart from published ones.
    assert!(key.as_str().starts_with("mirror/"));
    assert_ne!(key, BlobKey::provider_package(&addr, &v, &p, UPLOAD));
}

#[test]
fn mirrored_package_host_with_port_is_a_safe_segment() {
    let host = registry_host("Mirror.Example.COM:8443");
    let addr = ProviderAddress::parse("integrations", "github").unwrap();
    let v = ProviderVersion::parse("6.1.0-rc.1+b.2").unwrap();
    let p = Platform::parse("darwin_arm64").unwrap();
    let key = BlobKey::mirrored_package(&host, &addr, &v, &p, 1);
    assert_eq!(
        key.as_str(),
        "mirror/mirror.example.com_8443/integrations/github/6.1.0-rc.1+b.2/00000000000000000000000000000001/terraform-provider-github_6.1.0-rc.1+b.2_darwin_arm64.zip"
    );
    assert!(!key.as_str().contains(':'), "{key}");
    assert_eq!(key.as_str().split('/').nth(1), Some(host.key().as_str()));
    assert_eq!(BlobKey::parse(key.as_str()).unwrap(), key);
}

#[test]
fn mirrored_package_keys_differ_by_every_part() {
    let host = registry_host("registry.terraform.io");
    let addr = ProviderAddress::parse("hashicorp", "aws").unwrap();
    let v = ProviderVersion::parse("5.0.0").unwrap();
    let p = Platform::parse("linux_amd64").unwrap();
    let base = BlobKey::mirrored_package(&host, &addr, &v, &p, UPLOAD);
    let variants = [
        BlobKey::mirrored_package(
            &registry_host("registry.opentofu.org"),
            &addr,
            &v,
            &p,
            UPLOAD,
        ),
        BlobKey::mirrored_package(
            &registry_host("registry.terraform.io:8443"),
            &addr,
            &v,
            &p,
            UPLOAD,
        ),
        BlobKey::mirrored_package(
            &host,
            &ProviderAddress::parse("acme", "aws").unwrap(),
            &v,
            &p,
            UPLOAD,
        ),
        BlobKey::mirrored_package(
            &host,
            &ProviderAddress::parse("hashicorp", "google").unwrap(),
            &v,
            &p,
            UPLOAD,
        ),
        BlobKey::mirrored_package(
            &host,
            &addr,
            &ProviderVersion::parse("5.0.1").unwrap(),
            &p,
            UPLOAD,
        ),
        BlobKey::mirrored_package(
            &host,
            &addr,
            &v,
            &Platform::parse("linux_arm64").unwrap(),
            UPLOAD,
        ),
        BlobKey::mirrored_package(&host, &addr, &v, &p, UPLOAD + 1),
    ];
    for k in &variants {
        assert_ne!(*k, base);
        assert_eq!(BlobKey::parse(k.as_str()).as_ref(), Ok(k));
    }
    // Host case does not matter: hosts are lower-cased when parsed.
    assert_eq!(
        BlobKey::mirrored_package(
            &registry_host("REGISTRY.Terraform.IO"),
            &addr,
            &v,
            &p,
            UPLOAD
        ),
        base
    );
}

#[test]
fn mirrored_package_namespace_is_lower_case() {
    let host = registry_host("registry.terraform.io");
    let addr = ProviderAddress {
        namespace: tfr_core::Namespace::parse("HashiCorp").unwrap(),
        provider_type: tfr_core::ProviderType::parse("aws").unwrap(),
    };
    let v = ProviderVersion::parse("5.0.0").unwrap();
    let p = Platform::parse("linux_amd64").unwrap();
    let key = BlobKey::mirrored_package(&host, &addr, &v, &p, UPLOAD);
    assert!(
        key.as_str()
            .starts_with("mirror/registry.terraform.io/hashicorp/aws/"),
        "{key}"
    );
}

/// A host name of `n` characters: 63-character labels joined by dots.
fn long_host_name(n: usize) -> String {
    let mut out = String::new();
    while out.len() < n {
        if !out.is_empty() {
            out.push('.');
        }
        let take = (n - out.len()).min(63);
        out.push_str(&"h".repeat(take));
    }
    out
}

const HOST_LABEL: &str = "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?";

proptest! {
    #[test]
    fn mirrored_package_keys_parse(
        labels in prop::collection::vec(HOST_LABEL, 1..5),
        port in prop::option::of(1u16..),
        ns in PROVIDER_PART,
        ty in PROVIDER_PART,
        v in provider_version(),
        os in "[a-z0-9]{1,32}",
        arch in "[a-z0-9]{1,32}",
        upload in any::<u128>(),
    ) {
        prop_assume!(!ty.starts_with("terraform-"));
        let name = labels.join(".");
        let text = match port {
            Some(p) => format!("{name}:{p}"),
            None => name,
        };
        let host = registry_host(&text);
        let addr = ProviderAddress::parse(&ns, &ty).unwrap();
        let p = Platform::new(&os, &arch).unwrap();
        let key = BlobKey::mirrored_package(&host, &addr, &v, &p, upload);
        check_key(&key)?;
        let prefix = format!("mirror/{}/{ns}/{ty}/{v}/{upload:032x}/", text.replace(':', "_"));
        prop_assert!(key.as_str().starts_with(&prefix), "{} vs {}", key, prefix);
        prop_assert_eq!(key.file_name(), tfr_core::provider_package::package_filename(&addr.provider_type, &v, &p));
    }

    #[test]
    fn longest_mirrored_package_keys_parse(os in "[a-z0-9]{32}", arch in "[a-z0-9]{32}") {
        let part = "a".repeat(64);
        let addr = ProviderAddress::parse(&part, &part).unwrap();
        let v = ProviderVersion::parse(&format!("1.0.0-{}", "a".repeat(58))).unwrap();
        let p = Platform::new(&os, &arch).unwrap();
        for host in [
            long_host_name(253),
            format!("{}:1", long_host_name(253)),
            format!("{}:65535", long_host_name(249)),
        ] {
            check_key(&BlobKey::mirrored_package(&registry_host(&host), &addr, &v, &p, u128::MAX))?;
        }
    }
}
