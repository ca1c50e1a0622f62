//! Version parsing and precedence (protocols.md §2, §3, §7).

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashSet};

use proptest::prelude::*;
use tfr_core::{ModuleVersion, ProviderVersion, VersionError};

fn mv(s: &str) -> ModuleVersion {
    ModuleVersion::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}
fn pv(s: &str) -> ProviderVersion {
    ProviderVersion::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}
fn why(err: VersionError) -> &'static str {
    match err {
        VersionError::Invalid(_, why) => why,
    }
}

#[test]
fn module_versions_are_lenient_and_canonical() {
    let cases = [
        ("1.2.3", "1.2.3"),
        ("v1.2.3", "1.2.3"),
        ("1.2", "1.2.0"),
        ("v1.2", "1.2.0"),
        ("1", "1.0.0"),
        ("v1", "1.0.0"),
        ("1.2.3.4", "1.2.3.4"),
        ("1.2.3.4.5", "1.2.3.4.5"),
        ("1.2.3-beta1", "1.2.3-beta1"),
        ("v1.2.3-beta.1+build.5", "1.2.3-beta.1+build.5"),
        ("1.2-rc1", "1.2.0-rc1"),
        ("1.0.0+20240101", "1.0.0+20240101"),
        ("1.0.0-x-y-z", "1.0.0-x-y-z"),
        ("01.02.03", "1.2.3"),
        ("0.0.0", "0.0.0"),
    ];
    for (input, canonical) in cases {
        assert_eq!(mv(input).to_string(), canonical, "{input}");
    }
}

#[test]
fn module_version_accessors() {
    let v = mv("v1.2.3-rc.1+meta");
    assert!(v.is_prerelease());
    assert_eq!(v.version().segments(), &[1, 2, 3]);
    assert_eq!(v.version().prerelease(), Some("rc.1"));
    assert_eq!(v.version().build(), Some("meta"));
    assert!(!mv("1.2.3+meta").is_prerelease());
    assert_eq!(mv("1.2").version().segments(), &[1, 2, 0]);
    assert_eq!(mv("1.2.3.4").version().segments(), &[1, 2, 3, 4]);
}

#[test]
fn module_version_rejects_garbage() {
    for bad in [
        "",
        "v",
        "vv1.0.0",
        "V1.0.0",
        "1.",
        ".1",
        "1..2",
        "a.b.c",
        "1.2.3-",
        "1.2.3+",
        "1.2.3-beta..1",
        "1.2.3-be_ta",
        " 1.2.3",
        "1.2.3 ",
        "1.2.3\n",
        "1.0.0-β",
        "-1.0.0",
        "1.2.3+a+b",
        "1.2.3.4.5.6.7.8.9",
        "1234567890123456789.0.0",
    ] {
        let err = ModuleVersion::parse(bad).unwrap_err();
        let VersionError::Invalid(value, _) = &err;
        assert_eq!(value, bad, "the error keeps the input as given");
    }
    assert!(
        ModuleVersion::parse("1.2.3.4.5.6.7.8").is_ok(),
        "eight segments are allowed"
    );
}

#[test]
fn version_length_is_bounded() {
    let ok = format!("1.0.0-{}", "a".repeat(58));
    assert_eq!(ok.len(), 64);
    assert!(ModuleVersion::parse(&ok).is_ok());
    assert!(ProviderVersion::parse(&ok).is_ok());
    let long = format!("1.0.0-{}", "a".repeat(59));
    assert!(ModuleVersion::parse(&long).is_err());
    assert!(ProviderVersion::parse(&long).is_err());
    assert_eq!(tfr_core::version::MAX_VERSION_LEN, 64);
}

#[test]
fn provider_versions_are_strict() {
    for ok in [
        "1.0.0",
        "0.0.1",
        "1.0.0-beta1",
        "1.0.0-rc.1",
        "2.3.4+build.7",
        "10.20.30-alpha.beta+exp.sha.5114f85",
    ] {
        assert_eq!(pv(ok).to_string(), ok);
    }
    assert!(pv("1.0.0-beta1").is_prerelease());
    assert!(!pv("1.0.0").is_prerelease());
    for bad in [
        "1.0", "1", "1.0.0.0", "", "1.0.0-", "a.b.c", " 1.0.0", "1.0.0 ", "V1.0.0",
    ] {
        assert!(ProviderVersion::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn provider_v_prefix_has_its_own_message() {
    let err = ProviderVersion::parse("v1.0.0").unwrap_err();
    assert_eq!(
        why(err.clone()),
        "provider versions must not have a \"v\" prefix"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("\"v1.0.0\"") && msg.contains("\"v\" prefix"),
        "{msg}"
    );
    assert_eq!(
        why(ProviderVersion::parse("1.0").unwrap_err()),
        "expected MAJOR.MINOR.PATCH"
    );
}

#[test]
fn semver_precedence_chain() {
    let chain = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.9.0",
        "1.10.0",
        "2.0.0",
    ];
    for pair in chain.windows(2) {
        assert!(pv(pair[0]) < pv(pair[1]), "{} < {}", pair[0], pair[1]);
        assert!(mv(pair[0]) < mv(pair[1]), "{} < {}", pair[0], pair[1]);
    }
    let mut shuffled: Vec<ProviderVersion> = chain.iter().rev().map(|s| pv(s)).collect();
    shuffled.sort();
    let sorted: Vec<String> = shuffled.iter().map(ToString::to_string).collect();
    assert_eq!(sorted, chain);
}

#[test]
fn numeric_comparisons_are_numeric() {
    assert!(mv("1.10.0") > mv("1.9.0"));
    assert!(mv("10.0.0") > mv("9.99.99"));
    assert!(mv("1.0.0-rc.10") > mv("1.0.0-rc.9"));
    // Numeric identifiers sort before alphanumeric ones.
    assert!(mv("1.0.0-1") < mv("1.0.0-a"));
    assert!(mv("1.0.0-rc.1") < mv("1.0.0-rc.a"));
    // Huge numeric identifiers still compare by value, not as text.
    assert!(mv("1.0.0-99999999999999999999999") < mv("1.0.0-100000000000000000000000"));
    assert!(mv("1.0.0-99999999999999999999999") < mv("1.0.0-a"));
    // Longer module versions compare with missing segments as zero.
    assert!(mv("1.2.3.4") > mv("1.2.3"));
    assert!(mv("1.2.3.0.1") > mv("1.2.3"));
    assert!(mv("1.2.3.4") < mv("1.2.4"));
}

#[test]
fn build_metadata_is_ignored_for_precedence_but_order_stays_total() {
    let a = pv("1.0.0+a");
    let b = pv("1.0.0+b");
    let plain = pv("1.0.0");
    assert_eq!(a.version().cmp_precedence(b.version()), Ordering::Equal);
    assert_eq!(plain.version().cmp_precedence(a.version()), Ordering::Equal);
    assert_ne!(a, b);
    assert_ne!(a.cmp(&b), Ordering::Equal, "Ord must agree with Eq");
    assert!(pv("1.0.0+zzz") < pv("1.0.1"));
    assert!(pv("1.0.0-rc.1+zzz") < pv("1.0.0"));
}

#[test]
fn ord_is_consistent_with_eq_for_equal_precedence_spellings() {
    // 1.2.3 and 1.2.3.0 have equal precedence but are different versions (different URLs).
    let short = mv("1.2.3");
    let long = mv("1.2.3.0");
    assert_ne!(short, long);
    assert_eq!(
        short.version().cmp_precedence(long.version()),
        Ordering::Equal
    );
    assert_ne!(short.cmp(&long), Ordering::Equal);
    let set: BTreeSet<ModuleVersion> = [short.clone(), long.clone()].into_iter().collect();
    assert_eq!(set.len(), 2, "a BTreeSet must not merge distinct versions");

    // Prerelease identifiers with leading zeros: same value, different text.
    let a = mv("1.0.0-rc.01");
    let b = mv("1.0.0-rc.1");
    assert_ne!(a, b);
    assert_eq!(a.version().cmp_precedence(b.version()), Ordering::Equal);
    assert_ne!(a.cmp(&b), Ordering::Equal);

    // Spellings that canonicalise identically are equal and hash alike.
    assert_eq!(mv("v1.2"), mv("1.2.0"));
    assert_eq!(mv("01.2.3"), mv("1.2.3"));
    let hs: HashSet<ModuleVersion> = ["v1.2", "1.2.0", "1.2"].iter().map(|s| mv(s)).collect();
    assert_eq!(hs.len(), 1);
}

fn ident() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9]{1,4}", "[0-9A-Za-z-]{1,6}"]
}

fn ident_list() -> impl Strategy<Value = String> {
    prop::collection::vec(ident(), 1..4).prop_map(|v| v.join("."))
}

prop_compose! {
    fn provider_version_string()(
        major in 0u64..1000, minor in 0u64..1000, patch in 0u64..100_000,
        pre in prop::option::of(ident_list()),
        build in prop::option::of(ident_list()),
    ) -> String {
        let mut s = format!("{major}.{minor}.{patch}");
        if let Some(p) = pre { s.push('-'); s.push_str(&p); }
        if let Some(b) = build { s.push('+'); s.push_str(&b); }
        s
    }
}

prop_compose! {
    fn module_version_string()(
        v in any::<bool>(),
        segs in prop::collection::vec(0u64..100_000, 1..6),
        pre in prop::option::of(ident_list()),
        build in prop::option::of(ident_list()),
    ) -> String {
        let mut s = if v { "v".to_string() } else { String::new() };
        s.push_str(&segs.iter().map(u64::to_string).collect::<Vec<_>>().join("."));
        if let Some(p) = pre { s.push('-'); s.push_str(&p); }
        if let Some(b) = build { s.push('+'); s.push_str(&b); }
        s
    }
}

proptest! {
    #[test]
    fn provider_round_trip(s in provider_version_string()) {
        let v = ProviderVersion::parse(&s).unwrap();
        prop_assert_eq!(v.to_string(), s.clone());
        prop_assert_eq!(ProviderVersion::parse(&v.to_string()).unwrap(), v);
    }

    #[test]
    fn module_round_trip(s in module_version_string()) {
        let v = ModuleVersion::parse(&s).unwrap();
        let shown = v.to_string();
        prop_assert!(!shown.starts_with('v'));
        prop_assert!(v.version().segments().len() >= 3);
        prop_assert_eq!(ModuleVersion::parse(&shown).unwrap(), v.clone());
        // Canonical display is a fixed point.
        prop_assert_eq!(ModuleVersion::parse(&shown).unwrap().to_string(), shown.clone());
        // A canonical three-segment module version is also a valid provider version.
        if v.version().segments().len() == 3 {
            prop_assert_eq!(ProviderVersion::parse(&shown).unwrap().to_string(), shown);
        }
    }

    #[test]
    fn ordering_is_total_and_consistent(a in module_version_string(), b in module_version_string(), c in module_version_string()) {
        let (a, b, c) = (mv(&a), mv(&b), mv(&c));
        // Antisymmetry and agreement with Eq.
        prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        prop_assert_eq!(a.cmp(&b) == Ordering::Equal, a == b);
        prop_assert_eq!(a.partial_cmp(&b), Some(a.cmp(&b)));
        // Transitivity.
        if a <= b && b <= c {
            prop_assert!(a <= c);
        }
        // Precedence is a coarsening of Ord.
        let prec = a.version().cmp_precedence(b.version());
        if prec != Ordering::Equal {
            prop_assert_eq!(prec, a.cmp(&b));
        }
        // Sorting agrees with pairwise comparison.
        let mut v = [c.clone(), a.clone(), b.clone()];
        v.sort();
        prop_assert!(v[0] <= v[1] && v[1] <= v[2]);
    }

    #[test]
    fn prerelease_sorts_before_its_release(s in provider_version_string(), pre in ident_list()) {
        let v = ProviderVersion::parse(&s).unwrap();
        let segs = v.version().segments();
        let release = pv(&format!("{}.{}.{}", segs[0], segs[1], segs[2]));
        let prerelease = pv(&format!("{release}-{pre}"));
        prop_assert!(prerelease < release);
        prop_assert!(prerelease.is_prerelease());
    }

    #[test]
    fn numeric_segments_compare_numerically(a in 0u64..1_000_000, b in 0u64..1_000_000) {
        prop_assert_eq!(pv(&format!("1.{a}.0")).cmp(&pv(&format!("1.{b}.0"))), a.cmp(&b));
        prop_assert_eq!(pv(&format!("1.0.0-rc.{a}")).cmp(&pv(&format!("1.0.0-rc.{b}"))), a.cmp(&b));
    }

    #[test]
    fn v_prefixed_provider_versions_are_refused(s in provider_version_string()) {
        let err = ProviderVersion::parse(&format!("v{s}")).unwrap_err();
        prop_assert!(err.to_string().contains("\"v\" prefix"));
        // ...while modules take them.
        prop_assert_eq!(mv(&format!("v{s}")), mv(&s));
    }

    #[test]
    fn parsers_never_panic(s in "\\PC{0,80}") {
        if let Ok(v) = ModuleVersion::parse(&s) {
            prop_assert_eq!(ModuleVersion::parse(&v.to_string()).unwrap(), v);
        }
        if let Ok(v) = ProviderVersion::parse(&s) {
            prop_assert_eq!(v.to_string(), s);
        }
    }

    #[test]
    fn parsers_never_panic_on_version_like_text(s in "[v0-9.+a-z-]{0,40}") {
        if let Ok(v) = ModuleVersion::parse(&s) {
            prop_assert_eq!(ModuleVersion::parse(&v.to_string()).unwrap(), v);
        }
        if let Ok(v) = ProviderVersion::parse(&s) {
            prop_assert_eq!(ProviderVersion::parse(&v.to_string()).unwrap(), v);
        }
    }
}
