//! `tfr storage migrate`: every blob of a registry on local disk is copied to S3 (moto)
//! with its checksum, a second run copies nothing, a lost object is copied again, nothing
//! is deleted from the source; then tfr switched to the bucket serves `terraform init`.

use tfr::storage_migrate::migrate;
use tfr_emulators::Emulator;
use tfr_tests::TestRegistry;
use tfr_tests::cloud::{bucket_name, s3_settings, store_contents};
use tfr_tests::init_scenario::{init_scenario, publish_scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_to_s3_then_switch() {
    let moto = Emulator::moto().await.expect("start moto");
    let bucket = bucket_name();
    moto.create_bucket(&bucket).await.expect("bucket");
    let target = s3_settings(&moto, &bucket, "moved");

    // A registry on local disk with the scenario published.
    let source_reg = TestRegistry::builder()
        .tls()
        .start()
        .await
        .expect("start tfr");
    let dist = publish_scenario(&source_reg).await;
    let source = tfr::config::StorageSettings::Local {
        dir: Some(source_reg.blobs_dir()),
    };
    let before = store_contents(&source).await.expect("source contents");
    assert!(
        before.len() >= 6,
        "module archives and provider files: {before:?}"
    );

    // The command's own entry point, with a --to file.
    let to_file = source_reg.data_dir().join("target.toml");
    std::fs::write(
        &to_file,
        format!(
            "storage_backend = \"s3\"\nstorage_s3_bucket = \"{bucket}\"\nstorage_s3_region = \"us-east-1\"\n\
             storage_s3_prefix = \"moved\"\nstorage_s3_endpoint = \"{}\"\nstorage_s3_force_path_style = true\n\
             storage_s3_access_key_id = \"{}\"\nstorage_s3_secret_access_key = \"{}\"\n",
            moto.endpoint(),
            tfr_emulators::MOTO_ACCESS_KEY,
            tfr_emulators::MOTO_SECRET_KEY,
        ),
    )
    .expect("write the target file");
    tfr::storage_migrate::run(&source_reg.settings, &to_file, 4)
        .await
        .expect("storage migrate");

    let copied = store_contents(&target).await.expect("target contents");
    assert_eq!(
        copied.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "every object is in the target"
    );
    for (key, (size, sha)) in &before {
        let (t_size, t_sha) = &copied[key];
        assert_eq!(size, t_size, "{key}: size");
        if let (Some(a), Some(b)) = (sha, t_sha) {
            assert_eq!(a, b, "{key}: sha256");
        }
    }
    // Nothing was deleted from the source.
    assert_eq!(store_contents(&source).await.expect("source"), before);

    // Resumable: a second pass copies nothing; a lost object is copied again.
    let open = |s: &tfr::config::StorageSettings| {
        let s = s.clone();
        let dir = source_reg.data_dir().to_path_buf();
        async move { tfr::storage::open(&s, &dir).await.expect("open store") }
    };
    let report = migrate(open(&source).await, open(&target).await, 4, false)
        .await
        .expect("second pass");
    assert_eq!((report.copied, report.skipped), (0, before.len() as u64));
    let lost = before.keys().next().expect("a key").clone();
    let target_store = open(&target).await;
    target_store
        .delete(&tfr_core_key(&lost))
        .await
        .expect("delete one object from the target");
    let report = migrate(open(&source).await, target_store, 2, false)
        .await
        .expect("third pass");
    assert_eq!(
        report.copied, 1,
        "only the lost object is copied: {report:?}"
    );
    assert!(report.failed.is_empty(), "{report:?}");

    // The operator switches the configuration: same database, blobs in the bucket.
    let database_url = source_reg.settings.database_url.clone();
    let switched = TestRegistry::builder()
        .tls()
        .configure(move |s| {
            s.database_url = database_url;
            s.storage = target;
        })
        .start()
        .await
        .expect("start tfr on the bucket");
    init_scenario(&switched, &dist, "after storage migrate to S3 (moto)").await;
    switched.shutdown().await;
    source_reg.shutdown().await;
}

fn tfr_core_key(key: &str) -> tfr_core::BlobKey {
    tfr_core::BlobKey::parse(key).expect("a listed key is valid")
}
