//! The mirror repository contract against the testkit fake; tfr-db-seaorm runs the same
//! suite on SQLite and PostgreSQL.
#![cfg(feature = "testkit")]

use tfr_ports::testkit::repos::{InMemoryMirrorRepository, mirror_repository_contract};

#[tokio::test]
async fn in_memory_mirror_repository_honours_the_contract() {
    mirror_repository_contract(&InMemoryMirrorRepository::new()).await;
}
