//! Target platforms (`os_arch`).

use proptest::prelude::*;
use tfr_core::Platform;

#[test]
fn parse_common_platforms() {
    for s in [
        "linux_amd64",
        "darwin_arm64",
        "windows_386",
        "freebsd_arm",
        "linux_arm64",
        "openbsd_amd64",
    ] {
        let p = Platform::parse(s).unwrap();
        assert_eq!(p.to_string(), s);
    }
    let p = Platform::parse("linux_amd64").unwrap();
    assert_eq!(p.os(), "linux");
    assert_eq!(p.arch(), "amd64");
    assert_eq!(p, Platform::new("linux", "amd64").unwrap());
}

#[test]
fn reject_bad_platforms() {
    for bad in [
        "",
        "linux",
        "_amd64",
        "linux_",
        "Linux_amd64",
        "linux_AMD64",
        "linux-amd64",
        "linux_amd64_v2",
        "linux amd64",
        "a_b c",
    ] {
        let err = Platform::parse(bad).unwrap_err();
        assert_eq!(err.0, bad, "the error keeps the input");
    }
    let long = "a".repeat(33);
    assert!(Platform::new(&long, "amd64").is_err());
    assert!(Platform::new("linux", &long).is_err());
    assert!(Platform::new(&"a".repeat(32), &"b".repeat(32)).is_ok());
    assert_eq!(
        Platform::new("Linux", "amd64").unwrap_err().0,
        "Linux_amd64"
    );
}

#[test]
fn platforms_sort_by_os_then_arch() {
    let mut v: Vec<Platform> = ["linux_arm64", "darwin_arm64", "linux_amd64"]
        .iter()
        .map(|s| Platform::parse(s).unwrap())
        .collect();
    v.sort();
    let shown: Vec<String> = v.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["darwin_arm64", "linux_amd64", "linux_arm64"]);
}

proptest! {
    #[test]
    fn round_trip(os in "[a-z0-9]{1,32}", arch in "[a-z0-9]{1,32}") {
        let p = Platform::new(&os, &arch).unwrap();
        prop_assert_eq!(Platform::parse(&p.to_string()).unwrap(), p);
    }

    #[test]
    fn never_panics(s in "\\PC{0,70}") {
        if let Ok(p) = Platform::parse(&s) {
            prop_assert_eq!(p.to_string(), s);
        }
    }
}
