//! The real terraform CLI installs a private module and a signed provider from tfr over TLS,
//! on SQLite and on PostgreSQL (blobs on local disk; the cloud stores are in
//! storage_cloud.rs).

use tfr_tests::TestRegistry;
use tfr_tests::init_scenario::{init_scenario, publish_scenario};

async fn init_installs_module_and_signed_provider(postgres: bool) {
    let reg = TestRegistry::builder()
        .tls()
        .postgres_if(postgres)
        .start()
        .await
        .expect("start tfr with TLS");
    let dist = publish_scenario(&reg).await;
    let label = if postgres { "PostgreSQL" } else { "SQLite" };
    init_scenario(&reg, &dist, label).await;
    reg.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraform_init_installs_from_tfr_on_sqlite() {
    init_installs_module_and_signed_provider(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraform_init_installs_from_tfr_on_postgres() {
    init_installs_module_and_signed_provider(true).await;
}
