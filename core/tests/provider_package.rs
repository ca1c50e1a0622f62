//! Provider package rules (protocols.md §3 "Zip naming and content", "Verification sequence").

use proptest::prelude::*;
use tfr_core::provider_package::{
    ProtocolError, Sha256Sums, ShasumsError, is_provider_binary_name, package_filename,
    parse_package_filename, parse_protocols, shasums_filename,
};
use tfr_core::{Platform, ProviderType, ProviderVersion};

fn ty(s: &str) -> ProviderType {
    ProviderType::parse(s).unwrap()
}
fn ver(s: &str) -> ProviderVersion {
    ProviderVersion::parse(s).unwrap()
}
fn plat(s: &str) -> Platform {
    Platform::parse(s).unwrap()
}

const H1: &str = "434330ffebf258c97b9d8a6aca32cd67f2291fd08da83df879ea2c5ceb911b8c";
const H2: &str = "0000000000000000000000000000000000000000000000000000000000000001";

#[test]
fn file_names() {
    assert_eq!(
        package_filename(&ty("fake"), &ver("1.0.0"), &plat("linux_amd64")),
        "terraform-provider-fake_1.0.0_linux_amd64.zip"
    );
    assert_eq!(
        shasums_filename(&ty("fake"), &ver("1.0.0-rc.1")),
        "terraform-provider-fake_1.0.0-rc.1_SHA256SUMS"
    );
}

#[test]
fn parse_package_filename_cases() {
    let (t, v) = (ty("fake"), ver("1.0.0"));
    assert_eq!(
        parse_package_filename(&t, &v, "terraform-provider-fake_1.0.0_darwin_arm64.zip"),
        Some(plat("darwin_arm64"))
    );
    for bad in [
        "terraform-provider-fake_1.0.0_darwin_arm64",
        "terraform-provider-fake_1.0.1_darwin_arm64.zip",
        "terraform-provider-other_1.0.0_darwin_arm64.zip",
        "terraform-provider-fake_1.0.0_darwin.zip",
        "terraform-provider-fake_1.0.0_Darwin_arm64.zip",
        "terraform-provider-fake_1.0.0_darwin_arm64_v2.zip",
        "terraform-provider-fake_1.0.0_SHA256SUMS",
        "terraform-provider-fake_1.0.0_.zip",
        "x/terraform-provider-fake_1.0.0_darwin_arm64.zip",
    ] {
        assert_eq!(parse_package_filename(&t, &v, bad), None, "{bad}");
    }
    // Type `fake` must not match a package of type `fake-extra`, nor the reverse.
    assert_eq!(
        parse_package_filename(
            &ty("fake-extra"),
            &v,
            "terraform-provider-fake_1.0.0_linux_amd64.zip"
        ),
        None
    );
}

#[test]
fn provider_binary_names() {
    let t = ty("fake");
    for ok in [
        "terraform-provider-fake",
        "terraform-provider-fake_v1.0.0",
        "terraform-provider-fake_v1.0.0_x5",
        "terraform-provider-fake.exe",
        "terraform-provider-fake_v1.0.0.exe",
    ] {
        assert!(is_provider_binary_name(&t, ok), "{ok}");
    }
    for bad in [
        "terraform-provider-fakeX",
        "terraform-provider-fake-extra",
        "dir/terraform-provider-fake",
        "terraform-provider-fake/",
        "./terraform-provider-fake",
        "terraform-provider-fak",
        "terraform-provider-",
        "Terraform-provider-fake",
        "terraform-provider-other",
        "xterraform-provider-fake",
        "",
        "LICENSE",
    ] {
        assert!(!is_provider_binary_name(&t, bad), "{bad}");
    }
}

#[test]
fn shasums_text_mode() {
    let text = format!(
        "{H1}  terraform-provider-fake_1.0.0_linux_amd64.zip\n{}  terraform-provider-fake_1.0.0_darwin_arm64.zip\n{H2}  terraform-provider-fake_1.0.0_manifest.json\n",
        H2.to_uppercase().replace('1', "F")
    );
    let sums = Sha256Sums::parse(&text).unwrap();
    assert_eq!(sums.len(), 3);
    assert!(!sums.is_empty());
    assert_eq!(
        sums.get("terraform-provider-fake_1.0.0_linux_amd64.zip"),
        Some(H1)
    );
    // Hex is lower-cased.
    let darwin = sums
        .get("terraform-provider-fake_1.0.0_darwin_arm64.zip")
        .unwrap();
    assert_eq!(darwin, darwin.to_ascii_lowercase());
    assert_eq!(darwin.len(), 64);
    assert_eq!(sums.get("missing.zip"), None);
    // Iteration is by file name.
    let names: Vec<&str> = sums.iter().map(|(n, _)| n).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[test]
fn shasums_tolerates_crlf_blank_lines_and_no_trailing_newline() {
    let text = format!("\r\n{H1}  a.zip\r\n\r\n   \n{H2}  b.zip");
    let sums = Sha256Sums::parse(&text).unwrap();
    assert_eq!(sums.get("a.zip"), Some(H1));
    assert_eq!(sums.get("b.zip"), Some(H2));
    assert_eq!(sums.len(), 2);
}

#[test]
fn shasums_binary_mode_is_refused() {
    let err = Sha256Sums::parse(&format!("{H1}  a.zip\n{H2} *b.zip\n")).unwrap_err();
    assert_eq!(err, ShasumsError::BinaryMode { line: 2 });
    assert!(err.to_string().contains("binary mode"));
    assert_eq!(
        Sha256Sums::parse(&format!("{H1}  *a.zip")).unwrap_err(),
        ShasumsError::BinaryMode { line: 1 }
    );
}

#[test]
fn shasums_malformed() {
    let cases = [
        format!("{H1} a.zip"),            // one space
        format!("{H1}\ta.zip"),           // tab
        format!("{}  a.zip", &H1[..63]),  // short hash
        format!("{H1}0  a.zip"),          // long hash
        format!("{}g  a.zip", &H1[..63]), // non-hex
        format!("{H1}  "),                // no name
        format!("{H1}  my file.zip"),     // Terraform splits on whitespace
        format!("{H1}  a.zip "),          // trailing space would not match either
        format!("{H1}   a.zip"),          // three spaces
        "hello".to_string(),
        H1.to_string(),
        format!("  {H1}  a.zip"),
        "é".repeat(40),
    ];
    for text in cases {
        assert_eq!(
            Sha256Sums::parse(&text).unwrap_err(),
            ShasumsError::Malformed { line: 1 },
            "{text:?}"
        );
    }
    let err = Sha256Sums::parse(&format!("{H1}  a.zip\n\nbad line\n")).unwrap_err();
    assert_eq!(
        err,
        ShasumsError::Malformed { line: 3 },
        "line numbers count blank lines"
    );
    assert!(err.to_string().contains("line 3"));
}

#[test]
fn shasums_duplicate_and_empty() {
    let err = Sha256Sums::parse(&format!("{H1}  a.zip\n{H2}  a.zip\n")).unwrap_err();
    assert_eq!(err, ShasumsError::Duplicate("a.zip".into()));
    assert!(err.to_string().contains("\"a.zip\""));
    assert_eq!(
        Sha256Sums::parse(&format!("{H1}  a.zip\n{H1}  a.zip\n")).unwrap_err(),
        ShasumsError::Duplicate("a.zip".into())
    );
    assert_eq!(Sha256Sums::parse("").unwrap_err(), ShasumsError::Empty);
    assert_eq!(
        Sha256Sums::parse("\n\r\n \n").unwrap_err(),
        ShasumsError::Empty
    );
}

#[test]
fn protocols() {
    assert_eq!(parse_protocols(["5"]).unwrap(), vec!["5.0"]);
    assert_eq!(parse_protocols(["5.0", "6.0"]).unwrap(), vec!["5.0", "6.0"]);
    assert_eq!(
        parse_protocols(["6.0", "5", "5.0", "6", " 5.0 "]).unwrap(),
        vec!["6.0", "5.0"]
    );
    assert_eq!(parse_protocols(["05", "5.00"]).unwrap(), vec!["5.0"]);
    assert_eq!(parse_protocols(["5.1"]).unwrap(), vec!["5.1"]);
    assert_eq!(parse_protocols(["", "  "]).unwrap(), Vec::<String>::new());
    assert_eq!(
        parse_protocols(Vec::<&str>::new()).unwrap(),
        Vec::<String>::new()
    );
    for bad in [
        "x", "5.", ".5", "5.0.0", "v5", "5.x", "-5", "+5", "5 .0", "12345", "5,6", "٥",
    ] {
        let err = parse_protocols(["5.0", bad]).unwrap_err();
        assert_eq!(err, ProtocolError(bad.trim().to_string()), "{bad:?}");
        assert!(err.to_string().contains("MAJOR.MINOR"));
    }
}

fn provider_type() -> impl Strategy<Value = ProviderType> {
    "[a-z0-9]{1,10}(-[a-z0-9]{1,10}){0,2}"
        .prop_filter("terraform- prefix", |s| !s.starts_with("terraform-"))
        .prop_map(|s| ProviderType::parse(&s).unwrap())
}

fn provider_version() -> impl Strategy<Value = ProviderVersion> {
    (
        0u32..100,
        0u32..100,
        0u32..100,
        prop::option::of("[0-9A-Za-z]{1,5}(\\.[0-9A-Za-z]{1,5}){0,2}"),
    )
        .prop_map(|(a, b, c, pre)| {
            let s = match pre {
                Some(p) => format!("{a}.{b}.{c}-{p}"),
                None => format!("{a}.{b}.{c}"),
            };
            ProviderVersion::parse(&s).unwrap()
        })
}

fn platform() -> impl Strategy<Value = Platform> {
    ("[a-z0-9]{1,12}", "[a-z0-9]{1,12}").prop_map(|(o, a)| Platform::new(&o, &a).unwrap())
}

proptest! {
    #[test]
    fn package_filename_round_trips(t in provider_type(), v in provider_version(), p in platform()) {
        let name = package_filename(&t, &v, &p);
        prop_assert_eq!(parse_package_filename(&t, &v, &name), Some(p));
        let prefix = format!("terraform-provider-{t}_");
        prop_assert!(name.starts_with(&prefix));
        prop_assert!(name.ends_with(".zip"));
        prop_assert!(shasums_filename(&t, &v).ends_with("_SHA256SUMS"));
    }

    #[test]
    fn binary_name_rule(t in provider_type(), rest in "[a-zA-Z0-9_./-]{0,12}") {
        let name = format!("terraform-provider-{t}{rest}");
        let expected = !name.contains('/') && (rest.is_empty() || rest.starts_with('_') || rest.starts_with('.'));
        prop_assert_eq!(is_provider_binary_name(&t, &name), expected);
    }

    #[test]
    fn shasums_round_trip(entries in prop::collection::btree_map("[a-zA-Z0-9_.-]{1,30}", "[0-9a-f]{64}", 1..8)) {
        let text: String = entries.iter().map(|(n, h)| format!("{h}  {n}\n")).collect();
        let sums = Sha256Sums::parse(&text).unwrap();
        prop_assert_eq!(sums.len(), entries.len());
        for (n, h) in &entries {
            prop_assert_eq!(sums.get(n), Some(h.as_str()));
        }
        let back: Vec<(String, String)> = sums.iter().map(|(n, h)| (n.to_string(), h.to_string())).collect();
        let want: Vec<(String, String)> = entries.into_iter().collect();
        prop_assert_eq!(back, want);
    }

    #[test]
    fn shasums_and_protocols_never_panic(s in "\\PC{0,200}", items in prop::collection::vec("\\PC{0,6}", 0..5)) {
        if let Ok(sums) = Sha256Sums::parse(&s) {
            prop_assert!(!sums.is_empty());
            for (name, hash) in sums.iter() {
                prop_assert_eq!(hash.len(), 64);
                prop_assert!(!name.is_empty() && !name.starts_with('*'));
            }
        }
        if let Ok(list) = parse_protocols(items.iter().map(String::as_str)) {
            for p in &list {
                let (major, minor) = p.split_once('.').unwrap();
                prop_assert_eq!(major.parse::<u32>().unwrap().to_string(), major);
                prop_assert_eq!(minor.parse::<u32>().unwrap().to_string(), minor);
            }
            let mut dedup = list.clone();
            dedup.sort();
            dedup.dedup();
            prop_assert_eq!(dedup.len(), list.len());
        }
    }
}
