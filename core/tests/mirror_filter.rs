//! What a mirror configuration lets through: providers, versions and platforms.

use proptest::prelude::*;
use tfr_core::{
    MirrorFilter, Namespace, Platform, ProviderAddress, ProviderType, ProviderVersion,
    VersionConstraint,
};

fn addr(ns: &str, ty: &str) -> ProviderAddress {
    ProviderAddress::parse(ns, ty).unwrap_or_else(|e| panic!("{ns}/{ty}: {e}"))
}
fn pv(s: &str) -> ProviderVersion {
    ProviderVersion::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}
fn platform(s: &str) -> Platform {
    Platform::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}
fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn empty_filter_allows_everything() {
    let f = MirrorFilter::default();
    assert_eq!(
        f,
        MirrorFilter {
            namespaces: vec![],
            provider_types: vec![],
            versions: None,
            platforms: vec![],
        }
    );
    for a in [
        addr("hashicorp", "aws"),
        addr("integrations", "github"),
        addr("a", "b"),
    ] {
        assert!(f.allows_provider(&a), "{a}");
    }
    // Without a constraint every version passes, prereleases included.
    for v in ["0.0.0", "5.0.0", "1.2.3-beta1", "1.0.0+build"] {
        assert!(f.allows_version(&pv(v)), "{v}");
    }
    for p in ["linux_amd64", "darwin_arm64", "windows_386", "plan9_mips"] {
        assert!(f.allows_platform(&platform(p)), "{p}");
    }
    // Nothing to list, so nothing for a scheduled sync to fetch.
    assert!(f.sync_targets().is_empty());
}

#[test]
fn namespace_filter() {
    let f = MirrorFilter {
        namespaces: strings(&["hashicorp", "integrations"]),
        ..MirrorFilter::default()
    };
    assert!(f.allows_provider(&addr("hashicorp", "aws")));
    assert!(f.allows_provider(&addr("hashicorp", "anything")));
    assert!(f.allows_provider(&addr("integrations", "github")));
    assert!(!f.allows_provider(&addr("acme", "aws")));
    // Whole-name matches only: no prefixes, suffixes or substrings.
    assert!(!f.allows_provider(&addr("hashicorp2", "aws")));
    assert!(!f.allows_provider(&addr("hashi", "aws")));
    assert!(!f.allows_provider(&addr("my-hashicorp", "aws")));
}

#[test]
fn namespace_matches_case_insensitively_through_the_address() {
    let f = MirrorFilter {
        namespaces: strings(&["hashicorp"]),
        provider_types: strings(&["aws"]),
        ..MirrorFilter::default()
    };
    // Namespaces compare by their lower-case key, however the address spells them.
    for spelling in ["hashicorp", "HashiCorp", "HASHICORP"] {
        let a = ProviderAddress {
            namespace: Namespace::parse(spelling).unwrap(),
            provider_type: ProviderType::parse("aws").unwrap(),
        };
        assert!(f.allows_provider(&a), "{spelling}");
    }
    let other = ProviderAddress {
        namespace: Namespace::parse("HashiCorpX").unwrap(),
        provider_type: ProviderType::parse("aws").unwrap(),
    };
    assert!(!f.allows_provider(&other));
}

#[test]
fn provider_type_filter() {
    let f = MirrorFilter {
        provider_types: strings(&["aws", "google"]),
        ..MirrorFilter::default()
    };
    assert!(f.allows_provider(&addr("hashicorp", "aws")));
    assert!(f.allows_provider(&addr("someone-else", "aws")));
    assert!(f.allows_provider(&addr("hashicorp", "google")));
    assert!(!f.allows_provider(&addr("hashicorp", "google-beta")));
    assert!(!f.allows_provider(&addr("hashicorp", "azurerm")));
    assert!(!f.allows_provider(&addr("hashicorp", "aw")));
}

#[test]
fn namespace_and_type_filters_both_apply() {
    let f = MirrorFilter {
        namespaces: strings(&["hashicorp"]),
        provider_types: strings(&["aws", "random"]),
        ..MirrorFilter::default()
    };
    assert!(f.allows_provider(&addr("hashicorp", "aws")));
    assert!(f.allows_provider(&addr("hashicorp", "random")));
    assert!(!f.allows_provider(&addr("hashicorp", "google")));
    assert!(!f.allows_provider(&addr("acme", "aws")));
    assert!(!f.allows_provider(&addr("acme", "google")));
    // Provider filters say nothing about versions or platforms.
    assert!(f.allows_version(&pv("1.0.0-rc1")));
    assert!(f.allows_platform(&platform("linux_amd64")));
}

#[test]
fn sync_targets_are_the_cross_product() {
    let f = MirrorFilter {
        namespaces: strings(&["hashicorp", "integrations"]),
        provider_types: strings(&["aws", "github", "random"]),
        ..MirrorFilter::default()
    };
    let targets = f.sync_targets();
    assert_eq!(
        targets,
        vec![
            addr("hashicorp", "aws"),
            addr("hashicorp", "github"),
            addr("hashicorp", "random"),
            addr("integrations", "aws"),
            addr("integrations", "github"),
            addr("integrations", "random"),
        ]
    );
    // Every target passes the filter it came from.
    for t in &targets {
        assert!(f.allows_provider(t), "{t}");
    }
    let one = MirrorFilter {
        namespaces: strings(&["hashicorp"]),
        provider_types: strings(&["aws"]),
        ..MirrorFilter::default()
    };
    assert_eq!(one.sync_targets(), vec![addr("hashicorp", "aws")]);
}

#[test]
fn sync_targets_are_empty_when_either_list_is() {
    let only_namespaces = MirrorFilter {
        namespaces: strings(&["hashicorp"]),
        ..MirrorFilter::default()
    };
    assert!(only_namespaces.sync_targets().is_empty());
    let only_types = MirrorFilter {
        provider_types: strings(&["aws"]),
        ..MirrorFilter::default()
    };
    assert!(only_types.sync_targets().is_empty());
    // Version and platform filters do not create targets.
    let no_lists = MirrorFilter {
        versions: Some(VersionConstraint::parse(">= 1.0").unwrap()),
        platforms: vec![platform("linux_amd64")],
        ..MirrorFilter::default()
    };
    assert!(no_lists.sync_targets().is_empty());
}

#[test]
fn sync_targets_skip_entries_that_are_not_provider_names() {
    let f = MirrorFilter {
        namespaces: strings(&["hashicorp", "bad_ns", ""]),
        provider_types: strings(&["aws", "terraform-provider-aws", "-x"]),
        ..MirrorFilter::default()
    };
    assert_eq!(f.sync_targets(), vec![addr("hashicorp", "aws")]);
}

#[test]
fn platform_filter() {
    let f = MirrorFilter {
        platforms: vec![platform("linux_amd64"), platform("darwin_arm64")],
        ..MirrorFilter::default()
    };
    assert!(f.allows_platform(&platform("linux_amd64")));
    assert!(f.allows_platform(&platform("darwin_arm64")));
    assert!(!f.allows_platform(&platform("linux_arm64")));
    assert!(!f.allows_platform(&platform("darwin_amd64")));
    assert!(!f.allows_platform(&platform("windows_amd64")));
    // Platforms filter packages, not providers.
    assert!(f.allows_provider(&addr("hashicorp", "aws")));
    assert!(f.allows_version(&pv("1.0.0")));
}

#[test]
fn version_filter() {
    let f = MirrorFilter {
        versions: Some(VersionConstraint::parse(">= 5.0, < 6.0").unwrap()),
        ..MirrorFilter::default()
    };
    for ok in ["5.0.0", "5.99.1", "5.1.0+build"] {
        assert!(f.allows_version(&pv(ok)), "{ok}");
    }
    for no in ["4.67.0", "6.0.0", "6.0.0-beta1", "5.1.0-rc1"] {
        assert!(!f.allows_version(&pv(no)), "{no}");
    }
    // The prerelease rule is the constraint's: only an exact condition selects one.
    let exact = MirrorFilter {
        versions: Some(VersionConstraint::parse("= 6.0.0-beta1").unwrap()),
        ..MirrorFilter::default()
    };
    assert!(exact.allows_version(&pv("6.0.0-beta1")));
    assert!(!exact.allows_version(&pv("6.0.0-beta2")));
    assert!(!exact.allows_version(&pv("6.0.0")));
    let pessimistic = MirrorFilter {
        versions: Some(VersionConstraint::parse("~> 5.2").unwrap()),
        ..MirrorFilter::default()
    };
    assert!(pessimistic.allows_version(&pv("5.9.0")));
    assert!(!pessimistic.allows_version(&pv("5.1.0")));
    assert!(!pessimistic.allows_version(&pv("6.0.0")));
    // Versions filter versions only.
    assert!(f.allows_provider(&addr("hashicorp", "aws")));
    assert!(f.allows_platform(&platform("linux_amd64")));
}

#[test]
fn version_filter_agrees_with_the_constraint() {
    let constraint = VersionConstraint::parse("~> 1.2.0, != 1.2.3").unwrap();
    let f = MirrorFilter {
        versions: Some(constraint.clone()),
        ..MirrorFilter::default()
    };
    for v in [
        "1.2.0",
        "1.2.3",
        "1.2.4",
        "1.3.0",
        "1.2.5-rc1",
        "0.1.0",
        "1.2.9+x",
    ] {
        assert_eq!(f.allows_version(&pv(v)), constraint.matches(&pv(v)), "{v}");
    }
}

const PART: &str = "[a-z0-9]{1,8}";

proptest! {
    #[test]
    fn sync_targets_cross_product_size(
        namespaces in prop::collection::vec(PART, 0..4),
        types in prop::collection::vec(PART, 0..4),
    ) {
        let f = MirrorFilter {
            namespaces: namespaces.clone(),
            provider_types: types.clone(),
            ..MirrorFilter::default()
        };
        let targets = f.sync_targets();
        prop_assert_eq!(targets.len(), namespaces.len() * types.len());
        for t in &targets {
            prop_assert!(f.allows_provider(t));
        }
        let mut expected = Vec::new();
        for ns in &namespaces {
            for ty in &types {
                expected.push(ProviderAddress::parse(ns, ty).unwrap());
            }
        }
        prop_assert_eq!(targets, expected);
    }

    #[test]
    fn allows_provider_is_membership(
        namespaces in prop::collection::vec(PART, 0..4),
        types in prop::collection::vec(PART, 0..4),
        ns in PART,
        ty in PART,
    ) {
        let f = MirrorFilter {
            namespaces: namespaces.clone(),
            provider_types: types.clone(),
            ..MirrorFilter::default()
        };
        let expected = (namespaces.is_empty() || namespaces.contains(&ns))
            && (types.is_empty() || types.contains(&ty));
        prop_assert_eq!(f.allows_provider(&ProviderAddress::parse(&ns, &ty).unwrap()), expected);
    }

    #[test]
    fn allows_platform_is_membership(
        allowed in prop::collection::vec(("[a-z]{1,4}", "[a-z0-9]{1,4}"), 0..4),
        os in "[a-z]{1,4}",
        arch in "[a-z0-9]{1,4}",
    ) {
        let platforms: Vec<Platform> = allowed
            .iter()
            .map(|(o, a)| Platform::new(o, a).unwrap())
            .collect();
        let p = Platform::new(&os, &arch).unwrap();
        let f = MirrorFilter { platforms: platforms.clone(), ..MirrorFilter::default() };
        prop_assert_eq!(f.allows_platform(&p), platforms.is_empty() || platforms.contains(&p));
    }
}
