//! Every publishing check (issue 2 item 6) rejects its hostile input with the right status and
//! a JSON error naming the check, and leaves nothing behind: no new version, no new blob.

use serde_json::Value;
use tfr_tests::TestRegistry;
use tfr_tests::archives::{self, HostileArchive};
use tfr_tests::harness::assert_error;
use tfr_tests::provider::{
    ProviderDist, ProviderUpload, Signer, TestSigningKey, generate_signing_key, provider_zip,
    zip_name,
};

/// The module size cap these tests configure (bombs are ~0.5 MiB compressed, under it).
const MODULE_CAP: u64 = 1 << 20;
const MODULE: &str = "acme/hostile/aws";
const PROVIDER: &str = "acme/fake";
const PLATFORMS: &[(&str, &str)] = &[("linux", "amd64"), ("darwin", "arm64")];

/// The provider package cap these tests configure.
const PACKAGE_CAP: u64 = 256 * 1024;

async fn registry() -> TestRegistry {
    TestRegistry::builder()
        .configure(|s| {
            s.max_module_bytes = MODULE_CAP;
            s.max_provider_package_bytes = PACKAGE_CAP;
        })
        .start()
        .await
        .expect("start tfr")
}

/// What the public API and the blob folder show, to compare before and after.
async fn module_state(reg: &TestRegistry) -> (u16, Value, usize) {
    let (s, v) = reg
        .get_json(&format!("/v1/modules/{MODULE}/versions"))
        .await;
    (s, v, reg.blob_files().len())
}

async fn module_rejected(case: HostileArchive) {
    let reg = registry().await;
    // An existing good version: the rejection must leave it exactly as it was.
    reg.publish_sample_module(MODULE, "0.9.0").await;
    let before_blobs = reg.blob_files();
    let (s_before, versions_before, _) = module_state(&reg).await;
    assert_eq!(s_before, 200, "{versions_before}");

    let resp = reg
        .publish_module(MODULE, "1.0.0", case.body, case.content_type)
        .await;
    assert_error(resp, case.status, case.mentions, case.name).await;

    let (s_after, versions_after, _) = module_state(&reg).await;
    assert_eq!(
        (s_after, &versions_after),
        (200, &versions_before),
        "{}: versions changed",
        case.name
    );
    let (s, body) = reg
        .get_json(&format!("/v1/modules/{MODULE}/1.0.0/download"))
        .await;
    assert_eq!(
        s, 404,
        "{}: rejected version is downloadable: {body}",
        case.name
    );
    let after_blobs = reg.blob_files_settled(&before_blobs).await;
    assert_eq!(
        after_blobs, before_blobs,
        "{}: blobs left behind",
        case.name
    );
    reg.shutdown().await;
}

macro_rules! module_cases {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                module_rejected(archives::hostile_module_archive($name)).await;
            }
        )*
        #[test]
        fn every_hostile_module_archive_has_a_test() {
            let tested: Vec<&str> = vec![$($name),*];
            assert_eq!(tested, archives::HOSTILE_MODULE_CASES);
        }
    };
}

module_cases! {
    module_tar_absolute_path => "tar absolute path",
    module_tar_dot_dot => "tar dot-dot path",
    module_tar_symlink => "tar symlink",
    module_tar_hardlink => "tar hardlink",
    module_tar_char_device => "tar char device",
    module_gzip_bomb => "gzip bomb",
    module_tar_without_tf => "tar without .tf",
    module_garbage_gzip => "garbage gzip",
    module_gzip_of_garbage => "gzip of garbage (not tar)",
    module_zip_absolute_path => "zip absolute path",
    module_zip_dot_dot => "zip dot-dot path",
    module_zip_symlink => "zip symlink",
    module_zip_bomb => "zip bomb",
    module_zip_without_tf => "zip without .tf",
    module_garbage_zip => "garbage zip",
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_oversized_body_is_413() {
    module_rejected(archives::oversized_module(MODULE_CAP as usize * 3 / 2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_publish_needs_a_key_and_the_write_scope() {
    let reg = registry().await;
    let before = reg.blob_files();
    let body = || archives::module_tar_gz("auth");
    let resp = reg
        .publish_module_with(MODULE, "1.0.0", body(), archives::GZIP, None)
        .await;
    assert_error(resp, 401, AUTH, "module publish without a key").await;
    let resp = reg
        .publish_module_with(
            MODULE,
            "1.0.0",
            body(),
            archives::GZIP,
            Some("tfr_notarealkey0000000000"),
        )
        .await;
    assert_error(resp, 401, AUTH, "module publish with an unknown key").await;
    let read_only = reg.key_with_scopes("modules:read,providers:write").await;
    let resp = reg
        .publish_module_with(MODULE, "1.0.0", body(), archives::GZIP, Some(&read_only))
        .await;
    assert_error(resp, 403, SCOPE, "module publish with modules:read").await;
    let (s, _) = reg
        .get_json(&format!("/v1/modules/{MODULE}/versions"))
        .await;
    assert_eq!(s, 404);
    assert_eq!(reg.blob_files_settled(&before).await, before);
    reg.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_invalid_version_is_rejected() {
    let reg = registry().await;
    let before = reg.blob_files();
    for bad in ["latest", "1..0", "-1.0.0", "1.0.0-"] {
        let resp = reg
            .publish_module(MODULE, bad, archives::module_tar_gz("bad"), archives::GZIP)
            .await;
        assert_error(resp, 400, &["version"], &format!("module version {bad:?}")).await;
    }
    let (s, _) = reg
        .get_json(&format!("/v1/modules/{MODULE}/versions"))
        .await;
    assert_eq!(s, 404);
    assert_eq!(reg.blob_files_settled(&before).await, before);
    reg.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Providers

const AUTH: &[&str] = &["auth", "token", "key", "credential", "bearer"];
const SCOPE: &[&str] = &["scope", "write", "permission", "forbidden", "not allowed"];

struct ProviderCase {
    name: &'static str,
    version: &'static str,
    upload: ProviderUpload,
    token: Token,
    status: u16,
    mentions: &'static [&'static str],
    /// The message must also contain this (the file at fault), when set.
    names_file: Option<String>,
}

enum Token {
    Write,
    None,
    Scopes(&'static str),
}

fn good(key: &TestSigningKey) -> ProviderDist {
    ProviderDist::build(key, "fake", "1.0.0", PLATFORMS)
}

fn case(
    name: &'static str,
    upload: ProviderUpload,
    mentions: &'static [&'static str],
) -> ProviderCase {
    ProviderCase {
        name,
        version: "1.0.0",
        upload,
        token: Token::Write,
        status: 400,
        mentions,
        names_file: None,
    }
}

async fn provider_rejected(make: impl FnOnce(&TestSigningKey) -> ProviderCase) {
    let reg = registry().await;
    let key = generate_signing_key();
    // An existing good version that must stay exactly as it was.
    let old = ProviderDist::build(&key, "fake", "0.9.0", PLATFORMS);
    reg.publish_provider_ok(PROVIDER, "0.9.0", &old.upload())
        .await;
    let (s, versions_before) = reg
        .get_json(&format!("/v1/providers/{PROVIDER}/versions"))
        .await;
    assert_eq!(s, 200, "{versions_before}");
    let blobs_before = reg.blob_files();

    let c = make(&key);
    let token = match c.token {
        Token::Write => Some(reg.token.clone()),
        Token::None => None,
        Token::Scopes(s) => Some(reg.key_with_scopes(s).await),
    };
    let resp = reg
        .publish_provider_with(PROVIDER, c.version, &c.upload, token.as_deref())
        .await;
    let msg = assert_error(resp, c.status, c.mentions, c.name).await;
    if let Some(file) = &c.names_file {
        assert!(
            msg.contains(file.as_str()),
            "{}: {msg:?} does not name {file}",
            c.name
        );
    }

    let (s, versions_after) = reg
        .get_json(&format!("/v1/providers/{PROVIDER}/versions"))
        .await;
    assert_eq!(
        (s, &versions_after),
        (200, &versions_before),
        "{}: versions changed",
        c.name
    );
    let (s, body) = reg
        .get_json(&format!(
            "/v1/providers/{PROVIDER}/1.0.0/download/linux/amd64"
        ))
        .await;
    assert_eq!(
        s, 404,
        "{}: rejected version is downloadable: {body}",
        c.name
    );
    assert_eq!(
        reg.blob_files_settled(&blobs_before).await,
        blobs_before,
        "{}: blobs left behind",
        c.name
    );
    reg.shutdown().await;
}

const SIGNATURE: &[&str] = &["signature"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_bad_signature() {
    provider_rejected(|key| {
        let mut up = good(key).upload();
        up.signature = Some(key.sign_detached(b"something else entirely\n"));
        case("bad signature", up, SIGNATURE)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_signature_by_another_key() {
    provider_rejected(|key| {
        let other = generate_signing_key();
        let mut up = good(key).upload();
        up.signature = Some(Signer::sign_detached(
            &other,
            up.shasums.as_deref().expect("sums"),
        ));
        case("wrong key", up, &["signature", "key"])
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_armored_signature() {
    provider_rejected(|key| {
        let mut up = good(key).upload();
        let armored = key.sign_detached_armored(up.shasums.as_deref().expect("sums"));
        up.signature = Some(armored.into_bytes());
        case("armored signature", up, &["signature", "armor", "binary"])
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_zip_not_in_shasums() {
    provider_rejected(|key| {
        let mut up = good(key).upload();
        // Swap the linux zip for different bytes after SHA256SUMS was signed.
        let name = zip_name("fake", "1.0.0", "linux", "amd64");
        up.packages[0] = (
            name.clone(),
            provider_zip(
                "terraform-provider-fake_v1.0.0",
                0o755,
                b"#!/bin/sh\necho tampered\n",
            ),
        );
        let mut c = case(
            "zip sha not in SHA256SUMS",
            up,
            &["sha256", "checksum", "sha"],
        );
        c.names_file = Some(name);
        c
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_zip_missing_from_shasums() {
    provider_rejected(|key| {
        let mut up = good(key).upload();
        // Sign SHA256SUMS over the first zip only, then upload both.
        let first = vec![up.packages[0].clone()];
        let sums = tfr_tests::provider::shasums(&first);
        up.signature = Some(Signer::sign_detached(key, &sums));
        up.shasums = Some(sums);
        let name = up.packages[1].0.clone();
        let mut c = case(
            "zip missing from SHA256SUMS",
            up,
            &["sha256", "checksum", "sha"],
        );
        c.names_file = Some(name);
        c
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_zip_without_binary() {
    provider_rejected(|key| {
        let mut up = good(key).upload();
        up.packages[0].1 = provider_zip("README.md", 0o644, b"# no binary here\n");
        up.resign(key);
        let name = up.packages[0].0.clone();
        let mut c = case(
            "zip without binary",
            up,
            &["terraform-provider-fake", "binary", "executable"],
        );
        c.names_file = Some(name);
        c
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_binary_not_executable() {
    provider_rejected(|key| {
        let mut up = good(key).upload();
        up.packages[0].1 = provider_zip(
            "terraform-provider-fake_v1.0.0",
            0o644,
            tfr_tests::provider::FAKE_BINARY,
        );
        up.resign(key);
        let name = up.packages[0].0.clone();
        let mut c = case("binary not executable", up, &["executable", "mode"]);
        c.names_file = Some(name);
        c
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_bad_zip_file_name() {
    provider_rejected(|key| {
        let mut up = good(key).upload();
        up.packages[0].0 = "fake-linux-amd64.zip".to_string();
        up.resign(key);
        let mut c = case(
            "bad zip file name",
            up,
            &["name", "terraform-provider-fake_1.0.0_"],
        );
        c.names_file = Some("fake-linux-amd64.zip".to_string());
        c
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_zip_name_for_another_version() {
    provider_rejected(|key| {
        let mut up = good(key).upload();
        up.packages[0].0 = zip_name("fake", "1.0.1", "linux", "amd64");
        up.resign(key);
        let mut c = case("zip named for another version", up, &["name", "version"]);
        c.names_file = Some(zip_name("fake", "1.0.1", "linux", "amd64"));
        c
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_v_prefixed_version() {
    provider_rejected(|key| {
        let mut c = case("v-prefixed version", good(key).upload(), &["version"]);
        c.version = "v1.0.0";
        c
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_invalid_version() {
    provider_rejected(|key| {
        let mut c = case("invalid version", good(key).upload(), &["version"]);
        c.version = "1.0";
        c
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_missing_signature_part() {
    provider_rejected(|key| {
        let mut up = good(key).upload();
        up.signature = None;
        case("missing signature part", up, &["signature"])
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_missing_shasums_part() {
    provider_rejected(|key| {
        let mut up = good(key).upload();
        up.shasums = None;
        case("missing shasums part", up, &["shasums", "sha256sums"])
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_missing_key_part() {
    provider_rejected(|key| {
        let mut up = good(key).upload();
        up.gpg_public_key = None;
        case(
            "missing gpg_public_key part",
            up,
            &["gpg_public_key", "public key"],
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_missing_packages() {
    provider_rejected(|key| {
        let mut up = good(key).upload();
        up.packages.clear();
        case("no package part", up, &["package"])
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_publish_without_key_is_401() {
    provider_rejected(|key| {
        let mut c = case("no auth", good(key).upload(), AUTH);
        c.token = Token::None;
        c.status = 401;
        c
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_publish_with_module_scope_is_403() {
    provider_rejected(|key| {
        let mut c = case("wrong scope", good(key).upload(), SCOPE);
        c.token = Token::Scopes("modules:write,providers:read");
        c.status = 403;
        c
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_oversized_package_is_413() {
    provider_rejected(|key| {
        let mut up = good(key).upload();
        let mut big = vec![0u8; PACKAGE_CAP as usize * 2];
        rand::Rng::fill(&mut rand::rng(), big.as_mut_slice());
        up.packages[0].1 = provider_zip("terraform-provider-fake_v1.0.0", 0o755, &big);
        up.resign(key);
        let mut c = case(
            "oversized package",
            up,
            &["size", "large", "limit", "exceed", "bytes"],
        );
        c.status = 413;
        c
    })
    .await;
}

/// A client that drops the connection part-way through an upload leaves nothing: no
/// staging file, no blob, no version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_upload_cut_off_mid_body_leaves_nothing() {
    let reg = registry().await;
    let before = reg.blob_files();
    let good = archives::module_tar_gz("cut off");
    let half = bytes::Bytes::from(good[..good.len() / 2].to_vec());
    // Half the archive, then the body fails: reqwest aborts the request mid-stream.
    let body = futures::stream::iter(vec![
        Ok::<_, std::io::Error>(half),
        Err(std::io::Error::other("client went away")),
    ]);
    let sent = reg
        .client
        .post(reg.url(&format!("/api/v1/modules/{MODULE}/1.0.0")))
        .bearer_auth(&reg.token)
        .header("Content-Type", archives::GZIP)
        .header("Content-Length", good.len().to_string())
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await;
    assert!(
        sent.is_err(),
        "the request was cut off, so no response arrives: {sent:?}"
    );
    assert_eq!(
        reg.blob_files_settled(&before).await,
        before,
        "files left behind"
    );
    let (status, _) = reg
        .get_json(&format!("/v1/modules/{MODULE}/versions"))
        .await;
    assert_eq!(status, 404, "no version may exist after a cut-off upload");
}
