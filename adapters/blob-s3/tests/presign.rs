//! Presigned URLs survive what go-getter (Terraform's downloader) does to an
//! `X-Terraform-Get` URL: it parses the query and re-encodes it with Go's
//! `url.Values.Encode` (keys sorted, values escaped with `url.QueryEscape`).
//!
//! moto does not check presigned signatures of existing objects, so the signature is
//! verified here, independently (SigV4 with the known secret), before and after the
//! re-encoding; moto then serves both URLs.

mod common;

use std::time::Duration;

use common::{Moto, fetcher};
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use tfr_core::BlobKey;
use tfr_emulators::MOTO_SECRET_KEY;
use tfr_ports::driven::{BlobStore, PutExpectation};
use tfr_ports::testkit::blob::payload;
use tfr_ports::testkit::blob::{bytes_stream, sha256_hex};
use tfr_ports::testkit::go_getter::requery;

/// SigV4's URI encoding (`/` kept in paths).
fn aws_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Percent-decoding; `plus_is_space` as in query strings parsed by Go.
fn decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ascii");
                out.push(u8::from_str_radix(hex, 16).expect("percent escape"));
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("utf-8")
}

struct Url {
    host: String,
    path: String,
    query: Vec<(String, String)>,
}

fn parse(url: &str) -> Url {
    let (_scheme, rest) = url.split_once("://").expect("scheme");
    let (host, rest) = rest.split_once('/').expect("path");
    let (path, query) = rest.split_once('?').expect("query");
    let query = query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k, true), decode(v, true))
        })
        .collect();
    Url {
        host: host.to_string(),
        path: format!("/{path}"),
        query,
    }
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("hmac key");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Recomputes the SigV4 query signature of `url` as S3 does (from the decoded
/// parameters) and says whether it matches `X-Amz-Signature`.
fn signature_holds(url: &str, secret: &str) -> bool {
    let parsed = parse(url);
    let get = |name: &str| {
        parsed
            .query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{name} missing from the presigned url"))
    };
    assert_eq!(get("X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
    assert_eq!(get("X-Amz-SignedHeaders"), "host", "only host is signed");
    let mut canonical_query: Vec<(String, String)> = parsed
        .query
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (aws_encode(k, false), aws_encode(v, false)))
        .collect();
    canonical_query.sort();
    let canonical_query: Vec<String> = canonical_query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let canonical_uri = aws_encode(&decode(&parsed.path, false), true);
    let canonical_request = format!(
        "GET\n{canonical_uri}\n{}\nhost:{}\n\nhost\nUNSIGNED-PAYLOAD",
        canonical_query.join("&"),
        parsed.host
    );
    let credential = get("X-Amz-Credential");
    let (_, scope) = credential.split_once('/').expect("credential scope");
    let parts: Vec<&str> = scope.split('/').collect();
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        get("X-Amz-Date"),
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), parts[0]);
    let k_region = hmac(&k_date, parts[1]);
    let k_service = hmac(&k_region, parts[2]);
    let k_signing = hmac(&k_service, parts[3]);
    hex::encode(hmac(&k_signing, &string_to_sign)) == get("X-Amz-Signature")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_urls_survive_go_getter_query_reencoding() {
    let moto = Moto::start("tenant/blobs").await;
    // '+' (semver build metadata) is the character most likely to be mangled.
    let key = BlobKey::parse("providers/acme/foo/1.0.0+build.7/foo_1.0.0+build.7_linux_amd64.zip")
        .expect("key");
    let data = payload(42, 5000);
    moto.store
        .put(&key, bytes_stream(data.clone()), PutExpectation::default())
        .await
        .expect("put");

    let url = moto
        .store
        .presigned_url(&key, Duration::from_secs(600))
        .await
        .expect("presign")
        .expect("s3 signs urls");
    assert!(url.contains("X-Amz-Expires=600"), "ttl: {url}");
    assert!(signature_holds(&url, MOTO_SECRET_KEY), "signature of {url}");

    let reencoded = requery(&url);
    assert_ne!(reencoded, url, "go's encoding reorders the sdk's query");
    assert!(
        signature_holds(&reencoded, MOTO_SECRET_KEY),
        "signature after go re-encoding: {reencoded}"
    );
    // The check is not vacuous: changing a signed parameter breaks it.
    let tampered = reencoded.replace("X-Amz-Expires=600", "X-Amz-Expires=601");
    assert!(
        !signature_holds(&tampered, MOTO_SECRET_KEY),
        "tampered url verified"
    );

    let fetch = fetcher();
    for candidate in [&url, &reencoded] {
        let (status, body) = fetch(candidate.clone()).await;
        assert_eq!(status, 200, "GET {candidate}");
        assert_eq!(sha256_hex(&body), sha256_hex(&data), "body of {candidate}");
    }

    // S3 refuses presigned URLs valid for more than a week: the ttl is capped.
    let long = moto
        .store
        .presigned_url(&key, Duration::from_secs(30 * 24 * 3600))
        .await
        .expect("presign")
        .expect("url");
    assert!(long.contains("X-Amz-Expires=604800"), "capped ttl: {long}");
}
