//! Startup proves the configured store works with a real call: a missing bucket or
//! container, a refused key and an unreachable endpoint stop tfr with a message naming
//! the setting to fix.

use tfr::config::StorageSettings;
use tfr_emulators::Emulator;
use tfr_tests::cloud::{
    azure_settings, azure_settings_with_key, bucket_name, gcs_settings, s3_settings,
};

/// Starting tfr on `storage` fails; returns the error text.
async fn startup_error(storage: StorageSettings) -> String {
    let dir = tempfile::tempdir().expect("data dir");
    let mut settings = tfr::Settings::for_tests(dir.path());
    settings.storage = storage;
    match tfr::start(settings).await {
        Ok(_) => panic!("tfr started on a store that does not work"),
        Err(e) => format!("{e:#}"),
    }
}

fn assert_names(err: &str, key: &str, mentions: &str) {
    assert!(err.contains(key), "the error must name {key}: {err}");
    assert!(
        err.contains(mentions),
        "the error must say {mentions:?}: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_missing_bucket_and_unreachable_endpoint() {
    let mut moto = Emulator::moto().await.expect("start moto");
    let err = startup_error(s3_settings(&moto, "tfr-no-such-bucket", "")).await;
    assert_names(&err, "TFR_STORAGE_S3_BUCKET", "does not exist");

    let bucket = bucket_name();
    moto.create_bucket(&bucket).await.expect("bucket");
    let good = s3_settings(&moto, &bucket, "registry");
    let dir = tempfile::tempdir().expect("data dir");
    let mut settings = tfr::Settings::for_tests(dir.path());
    settings.storage = good.clone();
    let server = tfr::start(settings)
        .await
        .expect("tfr starts on a good bucket");
    drop(server);

    moto.stop().await;
    let err = startup_error(good).await;
    assert_names(&err, "TFR_STORAGE_S3_ENDPOINT", "cannot reach");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_missing_container_and_wrong_key() {
    let azurite = Emulator::azurite().await.expect("start azurite");
    let err = startup_error(azure_settings(&azurite, "tfr-no-such-container", "")).await;
    assert_names(&err, "TFR_STORAGE_AZURE_CONTAINER", "does not exist");

    let container = bucket_name();
    azurite.create_bucket(&container).await.expect("container");
    // A well-formed key that is not the account's.
    let wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleS13cm9uZw==";
    let err = startup_error(azure_settings_with_key(&azurite, &container, "", wrong)).await;
    assert_names(&err, "TFR_STORAGE_AZURE_ACCOUNT_KEY", "rejected");
    // The key itself is never printed.
    assert!(!err.contains(wrong), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_missing_bucket() {
    let gcs = Emulator::gcs().await.expect("start the GCS emulator");
    let err = startup_error(gcs_settings(&gcs, "tfr-no-such-bucket", "")).await;
    assert_names(&err, "TFR_STORAGE_GCS_BUCKET", "does not exist");
}
