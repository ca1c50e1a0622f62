//! Lock-file hashes (protocols.md §4 "Hash formats").

use proptest::prelude::*;
use sha2::{Digest, Sha256};
use tfr_core::hash::{H1Error, h1, h1_checked, zh};

fn sha(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[test]
fn h1_matches_terraform_test_vector() {
    let content = b"#!/bin/sh\necho fake provider\nexit 1\n";
    let got = h1([("terraform-provider-fake_v1.0.0", sha(content))]);
    assert_eq!(got, "h1:wc1hiU4/4FHYnO9nCKczXuIjsX+/ziabBRizcNPPSUs=");
    assert_eq!(
        h1_checked([("terraform-provider-fake_v1.0.0", sha(content))]).unwrap(),
        got
    );
}

#[test]
fn h1_is_dirhash_hash1() {
    // Recompute by hand: sorted lines of "hex  name\n", sha256, padded standard base64.
    let files = [("b.txt", sha(b"b")), ("a/", sha(b"")), ("A.txt", sha(b"A"))];
    let mut lines = String::new();
    for (name, d) in [("A.txt", sha(b"A")), ("a/", sha(b"")), ("b.txt", sha(b"b"))] {
        lines.push_str(&format!("{}  {name}\n", hex::encode(d)));
    }
    use base64::Engine;
    let want = format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(sha(lines.as_bytes()))
    );
    assert_eq!(h1(files), want);
}

#[test]
fn h1_of_nothing_is_hash_of_empty_summary() {
    use base64::Engine;
    let want = format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(sha(b""))
    );
    assert_eq!(h1(std::iter::empty()), want);
}

#[test]
fn h1_format() {
    let h = h1([("x", sha(b"x"))]);
    assert!(h.starts_with("h1:"));
    assert_eq!(
        h.len(),
        3 + 44,
        "32 bytes in padded base64 are 44 characters"
    );
    assert!(h.ends_with('='));
    // Content and names both matter.
    assert_ne!(h, h1([("x", sha(b"y"))]));
    assert_ne!(h, h1([("y", sha(b"x"))]));
}

#[test]
fn h1_sorts_bytewise_not_by_locale() {
    // Upper case sorts before lower case, '/' (0x2f) before '_' (0x5f) and letters.
    let a = h1([("a_b", sha(b"1")), ("a/b", sha(b"2")), ("B", sha(b"3"))]);
    let b = h1([("B", sha(b"3")), ("a/b", sha(b"2")), ("a_b", sha(b"1"))]);
    assert_eq!(a, b);
}

#[test]
fn h1_checked_refuses_newlines() {
    let err = h1_checked([("ok", sha(b"")), ("bad\nname", sha(b""))]).unwrap_err();
    assert_eq!(err, H1Error("bad\nname".into()));
    assert!(err.to_string().contains("newline"));
}

#[test]
fn zh_format() {
    let hex_upper = "434330FFEBF258C97B9D8A6ACA32CD67F2291FD08DA83DF879EA2C5CEB911B8C";
    assert_eq!(
        zh(hex_upper),
        format!("zh:{}", hex_upper.to_ascii_lowercase())
    );
    assert_eq!(
        zh(&hex::encode(sha(b"zip"))),
        format!("zh:{}", hex::encode(sha(b"zip")))
    );
}

proptest! {
    #[test]
    fn h1_is_order_independent(
        files in prop::collection::btree_map("[a-zA-Z0-9_./-]{1,20}", prop::collection::vec(any::<u8>(), 0..32), 0..8),
        seed in any::<u64>(),
    ) {
        let list: Vec<(String, [u8; 32])> = files.iter().map(|(n, c)| (n.clone(), sha(c))).collect();
        let forward = h1(list.iter().map(|(n, d)| (n.as_str(), *d)));
        let mut shuffled = list.clone();
        // Deterministic rotation + reversal driven by the seed.
        if !shuffled.is_empty() {
            let k = (seed as usize) % shuffled.len();
            shuffled.rotate_left(k);
        }
        if seed & 1 == 1 {
            shuffled.reverse();
        }
        let other = h1(shuffled.iter().map(|(n, d)| (n.as_str(), *d)));
        prop_assert_eq!(&forward, &other);
        prop_assert!(forward.starts_with("h1:"));
        prop_assert_eq!(forward.len(), 47);
    }

    #[test]
    fn zh_is_lowercase_hex(bytes in any::<[u8; 32]>()) {
        let hex_str = hex::encode_upper(bytes);
        let z = zh(&hex_str);
        prop_assert_eq!(z, format!("zh:{}", hex::encode(bytes)));
    }
}
