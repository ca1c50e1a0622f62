//! `tfr serve` on a store that fails its startup check exits with code 2 and names the
//! setting, as for any configuration error (the causes are covered against each emulator
//! in tests/tests/storage_startup.rs).

use std::process::Command;

use tfr_emulators::{Emulator, MOTO_ACCESS_KEY, MOTO_SECRET_KEY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_a_missing_bucket_exits_2_naming_the_key() {
    let moto = Emulator::moto().await.expect("start moto");
    let dir = tempfile::tempdir().expect("data dir");
    let out = Command::new(env!("CARGO_BIN_EXE_tfr"))
        .env_clear()
        .args(["serve"])
        .env("TFR_DATA_DIR", dir.path())
        .env("TFR_LISTEN", "127.0.0.1:0")
        .env("TFR_STORAGE_BACKEND", "s3")
        .env("TFR_STORAGE_S3_BUCKET", "tfr-no-such-bucket")
        .env("TFR_STORAGE_S3_ENDPOINT", moto.endpoint())
        .env("TFR_STORAGE_S3_FORCE_PATH_STYLE", "true")
        .env("TFR_STORAGE_S3_REGION", "us-east-1")
        .env("TFR_STORAGE_S3_ACCESS_KEY_ID", MOTO_ACCESS_KEY)
        .env("TFR_STORAGE_S3_SECRET_ACCESS_KEY", MOTO_SECRET_KEY)
        .output()
        .expect("run tfr serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("configuration error: TFR_STORAGE_S3_BUCKET (storage_s3_bucket): the bucket or container tfr-no-such-bucket does not exist"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(MOTO_SECRET_KEY),
        "the secret is never printed: {stderr}"
    );
}
