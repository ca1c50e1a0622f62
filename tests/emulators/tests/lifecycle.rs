//! Each emulator starts, answers, makes a bucket, and stops; azurite keeps its data
//! across a restart on the same port (the failed-upload tests rely on that).

use tfr_emulators::{Emulator, EmulatorKind};

async fn bucket_listing(emulator: &Emulator, bucket: &str) -> reqwest::StatusCode {
    let url = match emulator.kind() {
        EmulatorKind::Moto => format!("{}/{bucket}", emulator.endpoint()),
        EmulatorKind::Gcs => format!("{}/storage/v1/b/{bucket}/o", emulator.endpoint()),
        EmulatorKind::Azurite => unreachable!("azurite refuses anonymous listings"),
    };
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .get(url)
        .send()
        .await
        .expect("emulator answers")
        .status()
}

#[tokio::test]
async fn moto_and_gcs_start_make_buckets_and_stop() {
    for kind in [EmulatorKind::Moto, EmulatorKind::Gcs] {
        let mut emulator = Emulator::start(kind).await.expect("start");
        assert!(emulator.pid().is_some());
        assert_eq!(
            bucket_listing(&emulator, "tfr-missing").await,
            404,
            "{kind:?}"
        );
        emulator.create_bucket("tfr-made").await.expect("bucket");
        assert_eq!(bucket_listing(&emulator, "tfr-made").await, 200, "{kind:?}");
        emulator.stop().await;
        assert!(emulator.pid().is_none());
    }
}

#[tokio::test]
async fn azurite_keeps_containers_across_a_restart() {
    let mut emulator = Emulator::azurite().await.expect("start azurite");
    let port = emulator.port();
    emulator.create_bucket("tfr-made").await.expect("container");
    emulator.pause().expect("pause");
    emulator.resume().expect("resume");
    emulator.restart().await.expect("restart");
    assert_eq!(emulator.port(), port);
    // Azurite refuses anonymous listings (403) whether or not a container exists, so
    // persistence shows as "already exists" on a second create.
    let again = emulator.create_bucket("tfr-made").await;
    let err = again.expect_err("the container survived the restart");
    assert!(err.to_string().contains("409"), "{err:#}");
    emulator
        .create_bucket("tfr-other")
        .await
        .expect("a new container");
}
