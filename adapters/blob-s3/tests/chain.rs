//! `S3Credentials::Chain` (the production default) with a controlled environment: each
//! case runs this test binary again as a child process with only the variables it needs
//! (the environment of a running test cannot be changed safely).

mod common;

use std::process::Command;

use common::{Moto, config};
use tfr_blob_s3::{DEFAULT_REGION, S3BlobStore, S3Credentials};
use tfr_emulators::{MOTO_ACCESS_KEY, MOTO_SECRET_KEY};
use tfr_ports::driven::{BlobStore, StoreCheckError};

const ENDPOINT: &str = "TFR_TEST_S3_ENDPOINT";
const BUCKET: &str = "TFR_TEST_S3_BUCKET";

/// Runs the ignored test `name` in a child with exactly `env` (plus the emulator's
/// address), the AWS config files and instance metadata out of reach.
fn run_child(name: &str, moto: &Moto, env: &[(&str, &str)]) {
    let exe = std::env::current_exe().expect("test binary");
    let output = Command::new(exe)
        .args([
            "--exact",
            name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_clear()
        .env(ENDPOINT, moto.emulator.endpoint())
        .env(BUCKET, &moto.bucket)
        .env("AWS_CONFIG_FILE", "/nonexistent/tfr-test/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/tfr-test/credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .output()
        .expect("running the child test");
    assert!(
        output.status.success(),
        "child {name} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("1 passed"),
        "child {name} did not run:\n{stdout}"
    );
}

async fn chain_store() -> S3BlobStore {
    let endpoint = std::env::var(ENDPOINT).expect("endpoint");
    let bucket = std::env::var(BUCKET).expect("bucket");
    let mut config = config(&endpoint, &bucket, "chain", "", "");
    config.region = None;
    config.credentials = S3Credentials::Chain;
    S3BlobStore::connect(config).await.expect("connect")
}

#[tokio::test]
async fn the_chain_reads_keys_and_region_from_the_environment() {
    let moto = Moto::start("").await;
    run_child(
        "child_with_environment_keys",
        &moto,
        &[
            ("AWS_ACCESS_KEY_ID", MOTO_ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", MOTO_SECRET_KEY),
            ("AWS_REGION", "eu-west-3"),
        ],
    );
}

#[tokio::test]
async fn no_credentials_anywhere_is_credentials_rejected() {
    let moto = Moto::start("").await;
    run_child("child_without_credentials", &moto, &[]);
}

#[tokio::test]
#[ignore = "run by the_chain_reads_keys_and_region_from_the_environment"]
async fn child_with_environment_keys() {
    let store = chain_store().await;
    assert_eq!(store.region(), "eu-west-3");
    store
        .check_writable()
        .await
        .expect("check_writable with env keys");
}

#[tokio::test]
#[ignore = "run by no_credentials_anywhere_is_credentials_rejected"]
async fn child_without_credentials() {
    let store = chain_store().await;
    assert_eq!(store.region(), DEFAULT_REGION);
    match store.check_writable().await {
        Err(StoreCheckError::CredentialsRejected(msg)) => eprintln!("rejected: {msg}"),
        other => panic!("wanted CredentialsRejected, got {other:?}"),
    }
}
