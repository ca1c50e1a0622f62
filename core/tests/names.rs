//! Naming rules from hashicorp/terraform-registry-address (protocols.md §2, §3).

use std::collections::HashSet;

use proptest::prelude::*;
use tfr_core::{
    ModuleAddress, ModuleName, ModuleSystem, NameError, Namespace, ProviderAddress, ProviderType,
};

/// The module namespace/name regex, as a strategy.
const MODULE_PART: &str = "[0-9A-Za-z]([0-9A-Za-z_-]{0,62}[0-9A-Za-z])?";

fn rule_of(err: NameError) -> (&'static str, String, &'static str) {
    match err {
        NameError::Invalid { what, value, rule } => (what, value, rule),
    }
}

#[test]
fn module_part_accepts_typical_names() {
    for ok in [
        "a",
        "Z",
        "0",
        "hashicorp",
        "my-org",
        "my_org",
        "a-b_c-9",
        "Acme",
        "terraform-aws-vpc",
    ] {
        assert!(Namespace::parse(ok).is_ok(), "namespace {ok:?}");
        assert!(ModuleName::parse(ok).is_ok(), "name {ok:?}");
    }
    let max = "a".repeat(64);
    assert!(Namespace::parse(&max).is_ok());
    assert!(ModuleName::parse(&max).is_ok());
}

#[test]
fn module_part_rejects_bad_names() {
    let too_long = "a".repeat(65);
    for bad in [
        "",
        "-a",
        "a-",
        "_a",
        "a_",
        "-",
        "_",
        "a.b",
        "a b",
        "a/b",
        "ä",
        "a\0",
        "a\n",
        " a",
        "a ",
        too_long.as_str(),
    ] {
        assert!(Namespace::parse(bad).is_err(), "namespace {bad:?}");
        assert!(ModuleName::parse(bad).is_err(), "name {bad:?}");
    }
}

#[test]
fn module_part_error_names_the_field_and_value() {
    let (what, value, rule) = rule_of(ModuleName::parse("bad.name").unwrap_err());
    assert_eq!(what, "module name");
    assert_eq!(value, "bad.name");
    assert!(rule.contains("letters"), "{rule}");
    let (what, ..) = rule_of(Namespace::parse("").unwrap_err());
    assert_eq!(what, "namespace");
    let msg = ModuleName::parse("bad.name").unwrap_err().to_string();
    assert!(
        msg.contains("module name") && msg.contains("\"bad.name\""),
        "{msg}"
    );
}

#[test]
fn module_system_rule() {
    for ok in ["aws", "azurerm", "google", "k8s", "0", &"a".repeat(64)] {
        assert!(ModuleSystem::parse(ok).is_ok(), "{ok:?}");
    }
    for bad in [
        "",
        "AWS",
        "Aws",
        "a-b",
        "a_b",
        "a.b",
        " aws",
        &"a".repeat(65),
    ] {
        assert!(ModuleSystem::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn module_parts_compare_case_insensitively_and_keep_display_case() {
    let a = Namespace::parse("HashiCorp").unwrap();
    let b = Namespace::parse("hashicorp").unwrap();
    assert_eq!(a, b);
    assert_eq!(a.as_str(), "HashiCorp");
    assert_eq!(a.to_string(), "HashiCorp");
    assert_eq!(a.key(), "hashicorp");
    assert_eq!(a.key(), b.key());
    assert_ne!(a, Namespace::parse("hashicorp2").unwrap());

    let n1 = ModuleName::parse("Consul").unwrap();
    let n2 = ModuleName::parse("CONSUL").unwrap();
    assert_eq!(n1, n2);
    assert_eq!(n1.as_str(), "Consul");
    assert_eq!(n1.to_string(), "Consul");
    assert_eq!(n2.key(), "consul");
}

#[test]
fn hash_is_consistent_with_case_insensitive_eq() {
    let set: HashSet<Namespace> = ["Acme", "ACME", "acme"]
        .iter()
        .map(|s| Namespace::parse(s).unwrap())
        .collect();
    assert_eq!(set.len(), 1);
    let addrs: HashSet<ModuleAddress> = [
        ("Acme", "Net", "aws"),
        ("acme", "net", "aws"),
        ("acme", "net", "gcp"),
    ]
    .iter()
    .map(|(a, b, c)| ModuleAddress::parse(a, b, c).unwrap())
    .collect();
    assert_eq!(addrs.len(), 2);
}

#[test]
fn module_address_parse_and_display() {
    let addr = ModuleAddress::parse("Acme", "Net-Vpc", "aws").unwrap();
    assert_eq!(addr.to_string(), "Acme/Net-Vpc/aws");
    assert_eq!(
        addr,
        ModuleAddress::parse("acme", "net-vpc", "aws").unwrap()
    );
    assert_ne!(
        addr,
        ModuleAddress::parse("acme", "net-vpc", "gcp").unwrap()
    );
    let (what, ..) = rule_of(ModuleAddress::parse("acme", "net", "AWS").unwrap_err());
    assert_eq!(what, "module system");
    let (what, ..) = rule_of(ModuleAddress::parse("acme", "-net", "aws").unwrap_err());
    assert_eq!(what, "module name");
    let (what, ..) = rule_of(ModuleAddress::parse("ac me", "net", "aws").unwrap_err());
    assert_eq!(what, "namespace");
}

#[test]
fn provider_parts_are_lower_case_idna_like_labels() {
    for ok in [
        "aws",
        "a",
        "my-provider",
        "x1",
        "a-b-c",
        "0",
        &"a".repeat(64),
    ] {
        assert!(ProviderType::parse(ok).is_ok(), "{ok:?}");
        assert!(
            ProviderAddress::parse(ok, "aws").is_ok(),
            "namespace {ok:?}"
        );
    }
    for bad in [
        "",
        "AWS",
        "Aws",
        "-aws",
        "aws-",
        "a--b",
        "a_b",
        "a.b",
        "a b",
        "ä",
        &"a".repeat(65),
    ] {
        assert!(ProviderType::parse(bad).is_err(), "type {bad:?}");
        assert!(
            ProviderAddress::parse(bad, "aws").is_err(),
            "namespace {bad:?}"
        );
        assert!(
            ProviderAddress::parse("hashicorp", bad).is_err(),
            "type in address {bad:?}"
        );
    }
}

#[test]
fn provider_namespace_error_names_provider_namespace() {
    let (what, value, _) = rule_of(ProviderAddress::parse("Hashicorp", "aws").unwrap_err());
    assert_eq!(what, "provider namespace");
    assert_eq!(value, "Hashicorp");
    // Underscore is fine for a module namespace but not for a provider namespace.
    assert!(Namespace::parse("my_org").is_ok());
    assert!(ProviderAddress::parse("my_org", "aws").is_err());
}

#[test]
fn terraform_prefix_is_rejected_with_a_hint() {
    for bad in ["terraform-provider-aws", "terraform-aws", "terraform-x"] {
        let err = ProviderType::parse(bad).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("terraform-"), "{msg}");
        assert!(msg.contains("must not start with"), "{msg}");
    }
    let (_, _, rule) = rule_of(ProviderType::parse("terraform-provider-aws").unwrap_err());
    assert!(rule.contains("must not start with"), "{rule}");
    assert!(
        rule.contains("\"aws\""),
        "the hint shows the bare type: {rule}"
    );
    // Only the exact prefix is refused.
    assert!(ProviderType::parse("terraform").is_ok());
    assert!(ProviderType::parse("terraformx").is_ok());
    assert!(ProviderType::parse("my-terraform-thing").is_ok());
}

#[test]
fn provider_address_display() {
    let addr = ProviderAddress::parse("hashicorp", "aws").unwrap();
    assert_eq!(addr.to_string(), "hashicorp/aws");
    assert_eq!(addr.provider_type.to_string(), "aws");
    assert_eq!(addr.namespace.key(), "hashicorp");
}

/// A reference implementation of the module regex, independent of the code under test.
fn module_regex_matches(s: &str) -> bool {
    let b = s.as_bytes();
    let inner = |c: &u8| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_';
    match b.len() {
        0 => false,
        1 => b[0].is_ascii_alphanumeric(),
        n if n <= 64 => {
            b[0].is_ascii_alphanumeric()
                && b[n - 1].is_ascii_alphanumeric()
                && b[1..n - 1].iter().all(inner)
        }
        _ => false,
    }
}

proptest! {
    #[test]
    fn strings_matching_module_regex_parse(s in MODULE_PART) {
        prop_assert!(Namespace::parse(&s).is_ok());
        let name = ModuleName::parse(&s).unwrap();
        prop_assert_eq!(name.as_str(), s.as_str());
        prop_assert_eq!(name.key(), s.to_ascii_lowercase());
    }

    #[test]
    fn module_names_with_a_foreign_char_fail(
        prefix in "[0-9A-Za-z]{0,10}",
        bad in "[^0-9A-Za-z_-]",
        suffix in "[0-9A-Za-z]{0,10}",
    ) {
        let s = format!("{prefix}{bad}{suffix}");
        prop_assert!(Namespace::parse(&s).is_err());
        prop_assert!(ModuleName::parse(&s).is_err());
    }

    #[test]
    fn module_part_agrees_with_reference_regex(s in "[0-9A-Za-z_. -]{0,70}|\\PC{0,70}") {
        prop_assert_eq!(ModuleName::parse(&s).is_ok(), module_regex_matches(&s));
        prop_assert_eq!(Namespace::parse(&s).is_ok(), module_regex_matches(&s));
    }

    #[test]
    fn module_system_agrees_with_regex(s in "[0-9a-zA-Z_-]{0,70}") {
        let expected = !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        prop_assert_eq!(ModuleSystem::parse(&s).is_ok(), expected);
    }

    #[test]
    fn case_variants_are_equal(s in MODULE_PART) {
        let upper = Namespace::parse(&s.to_ascii_uppercase()).unwrap();
        let lower = Namespace::parse(&s.to_ascii_lowercase()).unwrap();
        prop_assert_eq!(&upper, &lower);
        prop_assert_eq!(upper.as_str(), s.to_ascii_uppercase());
    }

    #[test]
    fn provider_part_rule(s in "[a-z0-9-]{1,66}") {
        let expected = s.len() <= 64 && !s.starts_with('-') && !s.ends_with('-') && !s.contains("--");
        prop_assert_eq!(ProviderAddress::parse(&s, "aws").is_ok(), expected);
        prop_assert_eq!(ProviderType::parse(&s).is_ok(), expected && !s.starts_with("terraform-"));
    }

    #[test]
    fn name_parsers_never_panic(s in "\\PC*") {
        let _ = Namespace::parse(&s);
        let _ = ModuleName::parse(&s);
        let _ = ModuleSystem::parse(&s);
        let _ = ProviderType::parse(&s);
        let r = ProviderAddress::parse(&s, &s);
        // Anything accepted as a provider namespace is lower case.
        if r.is_ok() {
            prop_assert_eq!(s.to_ascii_lowercase(), s);
        }
    }
}
