//! tfr with its blobs in S3 (moto) and Azure Blob (azurite): the real terraform CLI
//! installs through the stores' own signed URLs; a publish cut off by the store going away
//! leaves no version and no blob.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use tfr::config::StorageSettings;
use tfr_emulators::Emulator;
use tfr_tests::cloud::{azure_settings, bucket_name, s3_settings, store_contents};
use tfr_tests::init_scenario::{MODULE, PLATFORMS, init_scenario, publish_scenario};
use tfr_tests::{TestRegistry, archives, blobs};

async fn registry_on(storage: StorageSettings, postgres: bool) -> TestRegistry {
    TestRegistry::builder()
        .tls()
        .postgres_if(postgres)
        .configure(move |s| s.storage = storage)
        .start()
        .await
        .expect("start tfr on a cloud store")
}

/// Download links point at the store itself (`store_url`), carry its signature, and
/// fetch the published bytes without any credential.
async fn links_point_at_the_store(
    reg: &TestRegistry,
    dist: &tfr_tests::provider::ProviderDist,
    store_url: &str,
    signature_param: &str,
) {
    let plain = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    for (os, arch) in PLATFORMS {
        let resp = reg
            .get(&format!(
                "/v1/providers/acme/fake/1.0.0/download/{os}/{arch}"
            ))
            .await;
        assert_eq!(resp.status(), 200);
        let doc: Value = resp.json().await.expect("download JSON");
        for field in ["download_url", "shasums_url", "shasums_signature_url"] {
            let url = doc[field].as_str().expect(field);
            assert!(
                url.starts_with(store_url) && url.contains(signature_param),
                "{field} must be the store's signed URL ({store_url}…{signature_param}…): {url}"
            );
        }
        let url = doc["download_url"].as_str().expect("download_url");
        let got = plain.get(url).send().await.expect("GET the signed URL");
        assert_eq!(got.status(), 200, "{url}");
        let body = got.bytes().await.expect("body");
        assert_eq!(&body[..], dist.zip(os, arch), "bytes behind {url}");
    }
    let resp = reg
        .get(&format!("/v1/modules/{MODULE}/1.1.0/download"))
        .await;
    assert_eq!(resp.status(), 204);
    let get = resp
        .headers()
        .get("x-terraform-get")
        .and_then(|v| v.to_str().ok())
        .expect("X-Terraform-Get")
        .to_string();
    assert!(
        get.starts_with(store_url) && get.contains(signature_param),
        "X-Terraform-Get must be the store's signed URL: {get}"
    );
    // Nothing lands on tfr's local disk with a cloud store.
    assert!(
        blobs::files_under(&reg.blobs_dir()).is_empty(),
        "local blob files: {:?}",
        blobs::files_under(&reg.blobs_dir())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraform_init_downloads_from_s3_presigned_urls() {
    let moto = Emulator::moto().await.expect("start moto");
    let bucket = bucket_name();
    moto.create_bucket(&bucket).await.expect("bucket");
    let storage = s3_settings(&moto, &bucket, "registry");
    let reg = registry_on(storage.clone(), false).await;
    let dist = publish_scenario(&reg).await;
    links_point_at_the_store(
        &reg,
        &dist,
        &format!("{}/{bucket}/registry/", moto.endpoint()),
        "X-Amz-Signature=",
    )
    .await;
    init_scenario(&reg, &dist, "SQLite, blobs in S3 (moto)").await;

    let contents = store_contents(&storage).await.expect("list the bucket");
    let zips = contents.keys().filter(|k| k.ends_with(".zip")).count();
    assert_eq!(
        zips,
        PLATFORMS.len(),
        "provider zips in the bucket: {contents:?}"
    );
    reg.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraform_init_downloads_from_azure_sas_urls() {
    let azurite = Emulator::azurite().await.expect("start azurite");
    let container = bucket_name();
    azurite.create_bucket(&container).await.expect("container");
    let storage = azure_settings(&azurite, &container, "");
    let reg = registry_on(storage, true).await;
    let dist = publish_scenario(&reg).await;
    // Azurite enforces SAS: these downloads prove the signatures hold, after go-getter
    // re-sorts the query too (terraform's module download below).
    links_point_at_the_store(
        &reg,
        &dist,
        &format!("{}/{container}/", azurite.azurite_blob_endpoint()),
        "sig=",
    )
    .await;
    init_scenario(&reg, &dist, "PostgreSQL, blobs in Azure Blob (azurite)").await;
    reg.shutdown().await;
}

/// Total size of the files under `dir` (azurite writes uploaded blocks there).
fn bytes_under(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_cut_off_by_the_store_leaves_no_version_and_no_blob() {
    let mut azurite = Emulator::azurite().await.expect("start azurite");
    let container = bucket_name();
    azurite.create_bucket(&container).await.expect("container");
    let storage = azure_settings(&azurite, &container, "");
    let reg = TestRegistry::builder()
        .configure({
            let storage = storage.clone();
            move |s| {
                s.storage = storage;
                s.max_module_bytes = 256 * 1024 * 1024;
            }
        })
        .start()
        .await
        .expect("start tfr on azurite");

    // ~96 MiB of incompressible module: twelve 8 MiB blocks to azurite.
    let body = archives::oversized_module(96 * 1024 * 1024).body;
    let data_dir = azurite.data_dir().to_path_buf();
    let baseline = bytes_under(&data_dir);
    let publish = reg.publish_module("acme/big/aws", "1.0.0", body, archives::GZIP);
    let watch = async {
        // Stop azurite as soon as the first blocks land: the upload is mid-stream.
        let deadline = Instant::now() + Duration::from_secs(120);
        while bytes_under(&data_dir) < baseline + 4 * 1024 * 1024 {
            assert!(Instant::now() < deadline, "no block reached azurite");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        azurite.stop().await;
    };
    let (resp, ()) = tokio::join!(publish, watch);
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(status, 503, "the store went away mid-upload: {text}");
    let json: Value = serde_json::from_str(&text).expect("a JSON error body");
    assert!(
        json["errors"][0]
            .as_str()
            .is_some_and(|e| e.contains("unavailable")),
        "{json}"
    );

    // No version was recorded...
    let versions = reg.get("/v1/modules/acme/big/aws/versions").await;
    assert_eq!(
        versions.status(),
        404,
        "no module row after a failed upload"
    );
    // ...and once the store is back, it holds no blob and no staged upload is left.
    azurite.restart().await.expect("restart azurite");
    let contents = store_contents(&storage).await.expect("list the container");
    assert!(contents.is_empty(), "orphan blobs: {contents:?}");
    let staged = blobs::files_under(&reg.settings.staging_dir());
    assert!(staged.is_empty(), "staged files left: {staged:?}");

    // The store works again for the same version.
    let resp = reg
        .publish_module(
            "acme/big/aws",
            "1.0.0",
            archives::module_tar_gz("after the outage"),
            archives::GZIP,
        )
        .await;
    assert_eq!(resp.status(), 201);
    reg.shutdown().await;
}
