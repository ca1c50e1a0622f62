//! Provider version constraints, Ruby style as Terraform reads them (protocols.md §7).

use proptest::prelude::*;
use tfr_core::constraint::MAX_CONSTRAINT_LEN;
use tfr_core::{ConstraintError, ProviderVersion, VersionConstraint};

fn c(s: &str) -> VersionConstraint {
    VersionConstraint::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}
fn pv(s: &str) -> ProviderVersion {
    ProviderVersion::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

/// Asserts which of `versions` the constraint lets through, in order.
fn check(constraint: &str, matching: &[&str], not_matching: &[&str]) {
    let parsed = c(constraint);
    for v in matching {
        assert!(parsed.matches(&pv(v)), "{constraint:?} should match {v}");
    }
    for v in not_matching {
        assert!(
            !parsed.matches(&pv(v)),
            "{constraint:?} should not match {v}"
        );
    }
}

fn err(s: &str) -> ConstraintError {
    match VersionConstraint::parse(s) {
        Ok(parsed) => panic!("{s:?} parsed as {parsed}"),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------- operators

#[test]
fn exact_with_and_without_operator() {
    for s in ["= 1.2.3", "=1.2.3", "1.2.3"] {
        check(
            s,
            &["1.2.3"],
            &["1.2.2", "1.2.4", "1.3.0", "0.2.3", "2.0.0"],
        );
    }
    // Missing segments are zero for `=`: `= 1.2` is exactly 1.2.0, not 1.2.*.
    check("= 1.2", &["1.2.0"], &["1.2.1", "1.3.0", "1.1.9"]);
    check("1", &["1.0.0"], &["1.0.1", "1.1.0", "2.0.0"]);
    check("= 0.0.0", &["0.0.0"], &["0.0.1"]);
}

#[test]
fn not_equal() {
    check(
        "!= 1.2.3",
        &["0.0.1", "1.2.2", "1.2.4", "2.0.0"],
        &["1.2.3", "1.2.3+build"],
    );
    check("!=1.2", &["1.2.1", "1.1.0"], &["1.2.0"]);
}

#[test]
fn greater_than() {
    check(
        "> 1.2.3",
        &["1.2.4", "1.3.0", "2.0.0"],
        &["1.2.3", "1.2.2", "0.9.9"],
    );
    check(">1.2", &["1.2.1", "1.3.0"], &["1.2.0", "1.1.99"]);
}

#[test]
fn greater_or_equal() {
    check(
        ">= 1.2.3",
        &["1.2.3", "1.2.4", "1.10.0", "99.0.0"],
        &["1.2.2", "1.1.9", "0.0.0"],
    );
    check(">=5", &["5.0.0", "5.0.1", "6.0.0"], &["4.99.99"]);
}

#[test]
fn less_than() {
    check(
        "< 1.2.3",
        &["1.2.2", "1.1.99", "0.0.0"],
        &["1.2.3", "1.2.4", "2.0.0"],
    );
    check("<2", &["1.99.99", "0.1.0"], &["2.0.0", "2.0.1"]);
}

#[test]
fn less_or_equal() {
    check(
        "<= 1.2.3",
        &["1.2.3", "1.2.2", "0.0.0"],
        &["1.2.4", "1.3.0"],
    );
    check("<=1.2", &["1.2.0", "1.1.5"], &["1.2.1"]);
}

#[test]
fn pessimistic_major_only() {
    // `~> 1` is `>= 1.0.0, < 2.0.0` (go-versions: fewer than three numbers is minor-only).
    check(
        "~> 1",
        &["1.0.0", "1.0.1", "1.5.0", "1.99.99"],
        &["0.9.9", "2.0.0", "2.0.1", "10.0.0"],
    );
    check("~> 0", &["0.0.0", "0.9.0"], &["1.0.0"]);
}

#[test]
fn pessimistic_major_minor() {
    // `~> 1.2` is `>= 1.2.0, < 2.0.0`.
    check(
        "~> 1.2",
        &["1.2.0", "1.2.9", "1.3.0", "1.99.0"],
        &["1.1.9", "1.0.0", "2.0.0", "2.1.0", "0.2.0"],
    );
    check(
        "~>0.12",
        &["0.12.0", "0.13.0", "0.99.1"],
        &["0.11.9", "1.0.0"],
    );
}

#[test]
fn pessimistic_full_version() {
    // `~> 1.2.3` is `>= 1.2.3, < 1.3.0`.
    check(
        "~> 1.2.3",
        &["1.2.3", "1.2.4", "1.2.99"],
        &["1.2.2", "1.3.0", "1.3.1", "2.0.0", "0.2.3"],
    );
    // `~> 1.2.0` differs from `~> 1.2`: the written segment count matters.
    check("~> 1.2.0", &["1.2.0", "1.2.7"], &["1.3.0"]);
    check("~> 0.0.1", &["0.0.1", "0.0.9"], &["0.1.0", "0.0.0"]);
}

#[test]
fn pessimistic_with_huge_segments_does_not_overflow() {
    // The upper bound of an 18-digit segment has 19 digits: no panic, right answer.
    let max = "999999999999999999";
    check(
        &format!("~> {max}"),
        &[&format!("{max}.0.0"), &format!("{max}.{max}.{max}")],
        &["1.0.0", &format!("99999999999999999.{max}.0")],
    );
    check(
        &format!("~> 1.{max}.0"),
        &[&format!("1.{max}.0"), &format!("1.{max}.{max}")],
        &["2.0.0", "1.0.0"],
    );
    check(
        &format!("~> 1.{max}"),
        &[&format!("1.{max}.0"), &format!("1.{max}.5")],
        &["2.0.0", "1.99.0"],
    );
}

// ---------------------------------------------------------------- conjunction

#[test]
fn comma_is_and() {
    check(
        ">= 1.2.0, < 2.0.0",
        &["1.2.0", "1.5.3", "1.99.99"],
        &["1.1.9", "2.0.0", "3.0.0"],
    );
    check(
        ">= 1.0, != 1.5.0, < 2",
        &["1.0.0", "1.4.9", "1.5.1"],
        &["1.5.0", "0.9.0", "2.0.0"],
    );
    check("~> 1.2, != 1.3.0", &["1.2.0", "1.3.1"], &["1.3.0", "2.0.0"]);
    // Contradictions parse but match nothing.
    check("> 2.0.0, < 1.0.0", &[], &["0.5.0", "1.5.0", "2.5.0"]);
    check("= 1.0.0, = 2.0.0", &[], &["1.0.0", "2.0.0"]);
    // Repeating a condition changes nothing.
    check("1.0.0, 1.0.0", &["1.0.0"], &["1.0.1"]);
}

#[test]
fn whitespace_is_flexible_around_operators_and_commas() {
    let expected = c(">= 1.2.0, < 2.0.0");
    for s in [
        ">=1.2.0,<2.0.0",
        ">= 1.2.0,< 2.0.0",
        "  >= 1.2.0 ,  < 2.0.0  ",
        ">=\t1.2.0,\n<2.0.0",
        " >=1.2.0 , <2.0.0 ",
    ] {
        assert_eq!(c(s), expected, "{s:?}");
    }
    assert_eq!(c(" 1.0.0 "), c("= 1.0.0"));
    assert_eq!(c("~>1.2"), c("~> 1.2"));
}

// ---------------------------------------------------------------- prereleases

#[test]
fn prerelease_matches_only_an_exact_condition_naming_it() {
    check(
        "= 1.2.0-beta1",
        &["1.2.0-beta1", "1.2.0-beta1+build.7"],
        &["1.2.0", "1.2.0-beta2", "1.2.0-alpha", "1.1.0"],
    );
    check("1.2.0-beta1", &["1.2.0-beta1"], &["1.2.0-beta2", "1.2.0"]);
    // Short operands pad with zeros, prerelease included.
    check("1.2-rc.1", &["1.2.0-rc.1"], &["1.2.0", "1.2.1-rc.1"]);
    // The exact condition must still agree with the other conditions.
    check(
        "= 1.2.0-beta1, >= 1.0",
        &["1.2.0-beta1"],
        &["1.2.0-beta2", "1.0.0-beta1"],
    );
    check("= 1.2.0-beta1, < 1.0", &[], &["1.2.0-beta1"]);
    check("= 1.2.0-beta1, != 1.2.0-beta1", &[], &["1.2.0-beta1"]);
}

#[test]
fn prerelease_never_matches_a_range() {
    check(
        ">= 1.0",
        &["1.0.0", "2.0.0", "1.5.0"],
        &["2.0.0-beta", "1.5.0-rc1", "1.0.0-alpha", "1.0.1-rc1"],
    );
    check("> 1.0.0", &["1.0.1"], &["1.0.1-rc1", "2.0.0-beta"]);
    check(
        "< 2.0.0",
        &["1.9.9"],
        &["1.0.0-beta", "2.0.0-beta", "0.0.1-a"],
    );
    check("<= 2.0.0", &["2.0.0"], &["2.0.0-rc1", "1.5.0-rc1"]);
    check(
        "~> 1.2",
        &["1.3.0"],
        &["1.3.0-beta", "1.2.5-rc1", "2.0.0-beta"],
    );
    check("~> 1.2.0", &["1.2.1"], &["1.2.1-rc1"]);
    check("!= 1.0.0", &["1.1.0"], &["1.1.0-beta", "1.0.0-beta"]);
    check("!= 1.0.0-beta", &["1.0.0"], &["1.0.0-beta", "1.0.0-rc1"]);
    // Even a range whose operand is a prerelease does not select prereleases.
    check(
        ">= 1.0.0-beta",
        &["1.0.0", "1.0.1"],
        &["1.0.0-beta", "1.0.0-rc1", "1.0.1-beta"],
    );
    check(
        "~> 1.2.0-beta",
        &["1.2.0", "1.2.5"],
        &["1.2.0-beta", "1.2.0-rc1", "1.3.0"],
    );
}

#[test]
fn prerelease_operands_bound_ranges_by_precedence() {
    // 1.0.0-beta < 1.0.0, so `< 1.0.0-beta` excludes 1.0.0 and `> 1.0.0-rc1` includes it.
    check("< 1.0.0-beta", &["0.9.9"], &["1.0.0", "1.0.0-alpha"]);
    check("> 1.0.0-rc1", &["1.0.0"], &["0.9.9"]);
}

#[test]
fn exact_prerelease_with_a_range_still_applies_the_range() {
    // The prerelease is named, and 1.3.0-beta lies inside `~> 1.2`.
    check("= 1.3.0-beta, ~> 1.2", &["1.3.0-beta"], &["1.3.0", "1.2.0"]);
    // 2.0.0-beta sorts below 2.0.0, the exclusive bound of `~> 1.2`.
    check("= 2.0.0-beta, ~> 1.2", &["2.0.0-beta"], &["2.0.0"]);
    // By precedence 1.3.0-beta also sorts below 1.3.0, the bound of `~> 1.2.0`
    // (go-versions' `OlderThan` agrees), so naming it exactly selects it.
    check("= 1.3.0-beta, ~> 1.2.0", &["1.3.0-beta"], &["1.3.0"]);
    check("= 1.4.0-beta, ~> 1.2.0", &[], &["1.4.0-beta"]);
}

// ---------------------------------------------------------------- build metadata

#[test]
fn build_metadata_is_ignored() {
    check("= 1.2.3", &["1.2.3+a", "1.2.3+b.c"], &["1.2.4+a"]);
    check("= 1.2.3+x", &["1.2.3", "1.2.3+y", "1.2.3+x"], &["1.2.4"]);
    check(">= 1.2.3+x", &["1.2.3", "1.2.3+z"], &["1.2.2+x"]);
    check("> 1.2.3", &["1.2.4+a"], &["1.2.3+zzz"]);
    check("< 1.2.3", &["1.2.2+x"], &["1.2.3+a"]);
    check("~> 1.2.3", &["1.2.9+x"], &["1.3.0+x"]);
    check("!= 1.2.3+x", &["1.2.4"], &["1.2.3+y", "1.2.3"]);
}

// ---------------------------------------------------------------- errors

#[test]
fn errors_name_the_input() {
    let long = format!("{}1", " ".repeat(MAX_CONSTRAINT_LEN));
    let cases: Vec<String> = [
        "",
        "   ",
        "v1.0",
        ">= v1.0",
        "~>v1",
        "garbage",
        "1.2.3.4",
        "~> 1.2.3.4",
        "1.0,",
        "1.0, ",
        ",1.0",
        "1.0,,2.0",
        ",",
        ">=",
        "~>",
        "=",
        "!=",
        ">= 1.0 < 2.0",
        ">= 1.0 2.0",
        "=> 1.0",
        "=< 1.0",
        "== 1.0",
        "<> 1.0",
        "> = 1.0",
        "~ 1.0",
        "^1.0",
        "1.x",
        "1.*",
        "*",
        "1.0 - 2.0",
        "1.0 || 2.0",
        "1.2.",
        ".1.2",
        "1..2",
        "1.2.3-",
        "1.2.3+",
        "1.2.3-beta..1",
        "-1.0",
        "1.0.0-b\u{fc}ta",
        "1e3",
        "1.0.0_1",
        "1.0 .0",
        "V1.0",
        "1234567890123456789",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([long])
    .collect();
    for bad in &cases {
        let e = err(bad);
        let expected_input: String = if bad.len() > MAX_CONSTRAINT_LEN {
            bad.chars().take(40).collect()
        } else {
            bad.clone()
        };
        assert_eq!(e.input, expected_input, "{bad:?}");
        assert!(!e.reason.is_empty(), "{bad:?}");
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("{expected_input:?}")),
            "{bad:?}: message {msg:?} names the input"
        );
        assert!(msg.starts_with("invalid version constraint "), "{msg}");
    }
}

#[test]
fn error_reasons_are_specific() {
    assert!(err("").reason.contains("empty"), "{}", err(""));
    assert!(err("  \t").reason.contains("empty"));
    let v = err("v1.0");
    assert!(v.reason.contains("\"v\" prefix"), "{v}");
    assert!(v.reason.contains("\"v1.0\""), "{v}");
    let op_v = err(">= v1.2");
    assert_eq!(op_v.input, ">= v1.2");
    assert!(op_v.reason.contains("\"v\" prefix"), "{op_v}");
    // An operator without a version, and an empty part from a stray comma.
    for s in [">=", "1.0,", "1.0, ", ",1.0", "1.0,,2.0"] {
        assert!(
            err(s).reason.contains("needs a version"),
            "{s:?}: {}",
            err(s)
        );
    }
    // Operand errors say which operand failed.
    let four = err(">= 1.0, < 1.2.3.4");
    assert_eq!(four.input, ">= 1.0, < 1.2.3.4");
    assert!(four.reason.contains("\"1.2.3.4\""), "{four}");
    let garbage = err("~> banana");
    assert!(garbage.reason.contains("\"banana\""), "{garbage}");
}

#[test]
fn length_limit() {
    // Padding is whitespace, which parses away.
    let at_limit = format!("1.0.0{}", " ".repeat(MAX_CONSTRAINT_LEN - 5));
    assert_eq!(at_limit.len(), MAX_CONSTRAINT_LEN);
    assert_eq!(c(&at_limit), c("1.0.0"));
    let over = format!("{at_limit} ");
    let e = err(&over);
    assert!(e.reason.contains(&MAX_CONSTRAINT_LEN.to_string()), "{e}");
    assert_eq!(e.input, over.chars().take(40).collect::<String>());
    // A long list of real conditions is refused too, and the message stays short.
    let many = vec![">= 1.0.0"; 40].join(", ");
    assert!(many.len() > MAX_CONSTRAINT_LEN);
    let e = err(&many);
    assert!(e.to_string().len() < 120, "{e}");
    // Multi-byte characters are cut on a character boundary.
    let wide = "\u{fc}".repeat(200);
    assert_eq!(err(&wide).input.chars().count(), 40);
}

// ---------------------------------------------------------------- display

#[test]
fn display_normalises() {
    let cases = [
        ("1.2.3", "= 1.2.3"),
        ("=1.2.3", "= 1.2.3"),
        ("  = 1.2  ", "= 1.2"),
        ("!=1", "!= 1"),
        (">1.0", "> 1.0"),
        (">=1.0.0", ">= 1.0.0"),
        ("<2", "< 2"),
        ("<=2.1", "<= 2.1"),
        ("~>1.2", "~> 1.2"),
        ("~>  1.2.3", "~> 1.2.3"),
        ("~> 1", "~> 1"),
        (">=1.2.0,<2.0.0", ">= 1.2.0, < 2.0.0"),
        (" >= 1 ,  < 2 , != 1.5 ", ">= 1, < 2, != 1.5"),
        ("01.002.0003", "= 1.2.3"),
        ("1.2.0-beta.1", "= 1.2.0-beta.1"),
        ("~>1.2-rc1", "~> 1.2-rc1"),
        ("1.2.3+build.5", "= 1.2.3+build.5"),
        ("1.2.3-rc.1+build", "= 1.2.3-rc.1+build"),
    ];
    for (input, shown) in cases {
        let parsed = c(input);
        assert_eq!(parsed.to_string(), shown, "{input:?}");
        assert_eq!(c(shown), parsed, "{input:?} round-trips");
        assert_eq!(c(shown).to_string(), shown, "{input:?} is a fixed point");
    }
}

#[test]
fn written_segments_are_part_of_the_constraint() {
    // `~> 1.2` and `~> 1.2.0` differ in meaning, and both survive a display round trip.
    let minor = c("~> 1.2");
    let patch = c("~> 1.2.0");
    assert_ne!(minor, patch);
    assert!(minor.matches(&pv("1.3.0")));
    assert!(!patch.matches(&pv("1.3.0")));
    assert!(c(&minor.to_string()).matches(&pv("1.3.0")));
    assert!(!c(&patch.to_string()).matches(&pv("1.3.0")));
}

// ---------------------------------------------------------------- properties

fn operator() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "=", "!=", ">", ">=", "<", "<=", "~>"])
}

fn operand() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(0u64..1_000, 1..=3),
        prop::option::of("[0-9A-Za-z-]{1,6}(\\.[0-9A-Za-z-]{1,6}){0,2}"),
        prop::option::of("[0-9A-Za-z-]{1,6}"),
    )
        .prop_map(|(nums, pre, build)| {
            let mut s = nums
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(".");
            if let Some(p) = pre {
                s = format!("{s}-{p}");
            }
            if let Some(b) = build {
                s = format!("{s}+{b}");
            }
            s
        })
}

fn condition() -> impl Strategy<Value = String> {
    (operator(), " {0,2}", operand(), " {0,2}").prop_map(|(op, sp, v, tail)| {
        // A bare version has no operator, so no space is needed before it.
        format!("{op}{sp}{v}{tail}")
    })
}

fn constraint_text() -> impl Strategy<Value = String> {
    prop::collection::vec(condition(), 1..4).prop_map(|parts| parts.join(","))
}

fn version() -> impl Strategy<Value = ProviderVersion> {
    (
        0u64..4,
        0u64..4,
        0u64..4,
        prop::option::of(prop::sample::select(vec!["alpha", "beta", "rc.1", "1"])),
    )
        .prop_map(|(a, b, c, pre)| {
            let s = match pre {
                Some(p) => format!("{a}.{b}.{c}-{p}"),
                None => format!("{a}.{b}.{c}"),
            };
            ProviderVersion::parse(&s).unwrap()
        })
}

proptest! {
    #[test]
    fn display_round_trips(text in constraint_text()) {
        let parsed = VersionConstraint::parse(&text).unwrap();
        let shown = parsed.to_string();
        prop_assert_eq!(VersionConstraint::parse(&shown), Ok(parsed), "{:?} -> {:?}", text, shown);
        prop_assert_eq!(VersionConstraint::parse(&shown).unwrap().to_string(), shown);
    }

    #[test]
    fn display_preserves_matching(text in constraint_text(), v in version()) {
        let parsed = VersionConstraint::parse(&text).unwrap();
        let again = VersionConstraint::parse(&parsed.to_string()).unwrap();
        prop_assert_eq!(parsed.matches(&v), again.matches(&v));
    }

    #[test]
    fn comma_is_intersection(a in condition(), b in condition(), v in version()) {
        prop_assume!(!v.is_prerelease());
        let both = VersionConstraint::parse(&format!("{a},{b}")).unwrap();
        let ca = VersionConstraint::parse(&a).unwrap();
        let cb = VersionConstraint::parse(&b).unwrap();
        prop_assert_eq!(both.matches(&v), ca.matches(&v) && cb.matches(&v));
    }

    #[test]
    fn prereleases_need_an_exact_condition(text in constraint_text(), v in version()) {
        let parsed = VersionConstraint::parse(&text).unwrap();
        if v.is_prerelease() && parsed.matches(&v) {
            // Some `=` condition names it: `= v` alone matches it.
            let named = text.split(',').any(|part| {
                let part = part.trim();
                let bare = part.strip_prefix('=').unwrap_or(part).trim();
                !part.starts_with("!=")
                    && !part.starts_with(['<', '>', '~'])
                    && VersionConstraint::parse(bare).is_ok_and(|one| one.matches(&v))
            });
            prop_assert!(named, "{:?} matched prerelease {}", text, v);
        }
    }

    #[test]
    fn exact_version_matches_itself(v in version()) {
        let exact = VersionConstraint::parse(&v.to_string()).unwrap();
        prop_assert!(exact.matches(&v));
        let with_op = VersionConstraint::parse(&format!("= {v}")).unwrap();
        prop_assert!(with_op.matches(&v));
    }

    #[test]
    fn parse_never_panics(s in "\\PC{0,40}", v in version()) {
        if let Ok(parsed) = VersionConstraint::parse(&s) {
            let _ = parsed.matches(&v);
            prop_assert!(VersionConstraint::parse(&parsed.to_string()).is_ok());
        }
    }

    #[test]
    fn parse_on_operator_soup(s in "[0-9.,<>=!~ v+-]{0,20}", v in version()) {
        if let Ok(parsed) = VersionConstraint::parse(&s) {
            let _ = parsed.matches(&v);
            prop_assert_eq!(VersionConstraint::parse(&parsed.to_string()), Ok(parsed));
        }
    }
}
