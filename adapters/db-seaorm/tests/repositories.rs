//! The catalog repository contracts on real SQLite (a temp file) and real PostgreSQL (a
//! fresh database per test), plus migration, health and concurrency checks. The identity,
//! API key, audit and session contracts are in `identity.rs`.

mod common;

use tfr_ports::driven::DatabaseHealth;
use tfr_ports::testkit::repos::{module_repository_contract, provider_repository_contract};

#[tokio::test]
async fn sqlite_module_repository_contract() {
    let t = common::sqlite(true).await;
    module_repository_contract(&t.db.module_repository()).await;
}

#[tokio::test]
async fn sqlite_provider_repository_contract() {
    let t = common::sqlite(true).await;
    provider_repository_contract(&t.db.provider_repository()).await;
}

#[tokio::test]
async fn postgres_module_repository_contract() {
    let t = common::postgres(true).await;
    module_repository_contract(&t.db.module_repository()).await;
}

#[tokio::test]
async fn postgres_provider_repository_contract() {
    let t = common::postgres(true).await;
    provider_repository_contract(&t.db.provider_repository()).await;
}

async fn check_migrate_and_ready(db: &tfr_db_seaorm::SeaOrmDatabase) {
    let before = db.ready().await;
    assert!(
        matches!(before, Err(tfr_ports::driven::RepoError::Unavailable(ref why)) if why.contains("pending")),
        "ready must fail before migrations: {before:?}"
    );
    db.migrate().await.expect("first migrate");
    db.ready().await.expect("ready after migrate");
    db.migrate().await.expect("migrate is idempotent");
    db.ready().await.expect("still ready");
    // The migration also goes down cleanly, and up again.
    use tfr_migrations::MigratorTrait;
    tfr_migrations::Migrator::down(db.connection(), None)
        .await
        .expect("down");
    assert!(db.ready().await.is_err(), "not ready after down");
    db.migrate().await.expect("up again");
    db.ready().await.expect("ready again");
}

#[tokio::test]
async fn sqlite_migrate_is_idempotent_and_gates_ready() {
    let t = common::sqlite(false).await;
    check_migrate_and_ready(&t.db).await;
    // A second pool on the same file sees the schema (the file was created on connect).
    let again = tfr_db_seaorm::SeaOrmDatabase::connect(&t.url)
        .await
        .expect("reconnect");
    again.ready().await.expect("ready on reconnect");
}

#[tokio::test]
async fn postgres_migrate_is_idempotent_and_gates_ready() {
    let t = common::postgres(false).await;
    check_migrate_and_ready(&t.db).await;
    let again = tfr_db_seaorm::SeaOrmDatabase::connect(&t.url)
        .await
        .expect("reconnect");
    again.ready().await.expect("ready on reconnect");
    again.close().await.expect("close");
}

// ---------------------------------------------------------------- concurrency and plumbing

use std::sync::Arc;

use tfr_core::{ArchiveFormat, BlobKey, ModuleAddress, ModuleVersion};
use tfr_ports::driven::{ModuleRepository, NewModuleVersion, RepoError};
use uuid::Uuid;

fn new_version(version: &str) -> NewModuleVersion {
    let address = ModuleAddress::parse("Race", "net", "aws").expect("address");
    let version = ModuleVersion::parse(version).expect("version");
    let id = Uuid::now_v7();
    NewModuleVersion {
        id,
        blob_key: BlobKey::module_archive(&address, &version, ArchiveFormat::Zip, id.as_u128()),
        address,
        version,
        description: None,
        readme: None,
        format: ArchiveFormat::Zip,
        size: 1,
        sha256: "00".repeat(32),
        published_at: chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("time"),
        published_by: None,
        namespace_organization: tfr_ports::driven::DEFAULT_ORGANIZATION_ID,
    }
}

/// Concurrent first publishes of one module all land on the same module row, and a
/// version raced by several publishers is inserted exactly once.
async fn check_concurrent_publishes(repo: Arc<dyn ModuleRepository>) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let repo = repo.clone();
        tasks.push(tokio::spawn(async move {
            repo.insert_version(new_version(&format!("1.0.{i}"))).await
        }));
    }
    for task in tasks {
        task.await
            .expect("join")
            .expect("distinct versions all insert");
    }
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let repo = repo.clone();
        tasks.push(tokio::spawn(async move {
            repo.insert_version(new_version("2.0.0")).await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.expect("join") {
            Ok(_) => ok += 1,
            Err(RepoError::Conflict(_)) => {}
            Err(other) => panic!("a raced duplicate must be Conflict, got {other:?}"),
        }
    }
    assert_eq!(ok, 1, "exactly one publisher wins");
    let address = ModuleAddress::parse("race", "NET", "aws").expect("address");
    let found = repo
        .find_module(&address)
        .await
        .expect("find")
        .expect("found");
    assert_eq!(found.versions.len(), 9);
    assert!(
        found
            .versions
            .iter()
            .all(|v| v.module_id == found.module.id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_publishes() {
    let t = common::sqlite(true).await;
    check_concurrent_publishes(Arc::new(t.db.module_repository())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_publishes() {
    let t = common::postgres(true).await;
    check_concurrent_publishes(Arc::new(t.db.module_repository())).await;
}

/// Deleting a module's last version while another version is published into it: the
/// new version survives (the delete must not take the module row, and its versions, with
/// it) or, at worst, the publish fails cleanly; it never succeeds and then vanishes.
async fn check_delete_last_version_racing_a_publish(repo: Arc<dyn ModuleRepository>) {
    let address = ModuleAddress::parse("race", "net", "aws").expect("address");
    for round in 0..20 {
        let old = repo
            .insert_version(new_version(&format!("0.{round}.0")))
            .await
            .expect("the module's only version");
        let (deleter, publisher) = (repo.clone(), repo.clone());
        let delete = tokio::spawn(async move { deleter.delete_version(old.id).await });
        let publish = tokio::spawn(async move {
            publisher
                .insert_version(new_version(&format!("1.{round}.0")))
                .await
        });
        assert!(delete.await.expect("join").expect("delete"));
        let published = publish.await.expect("join");
        let found = repo.find_module(&address).await.expect("find");
        match published {
            Ok(record) => {
                let found = found.expect("a module with a published version exists");
                assert!(
                    found.versions.iter().any(|v| v.id == record.id),
                    "round {round}: a version reported as published vanished"
                );
                assert!(repo.delete_version(record.id).await.expect("cleanup"));
            }
            Err(err) => assert!(
                matches!(err, RepoError::Unavailable(_)),
                "round {round}: a lost race must be a retryable error, got {err:?}"
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_delete_last_version_racing_a_publish() {
    let t = common::sqlite(true).await;
    check_delete_last_version_racing_a_publish(Arc::new(t.db.module_repository())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_delete_last_version_racing_a_publish() {
    let t = common::postgres(true).await;
    check_delete_last_version_racing_a_publish(Arc::new(t.db.module_repository())).await;
}

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode() {
    use sea_orm::{ConnectionTrait, Statement};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("fresh.db");
    let db = tfr_db_seaorm::SeaOrmDatabase::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("connect creates the file without mode=rwc");
    assert!(path.exists());
    let conn = db.connection();
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "PRAGMA journal_mode",
        ))
        .await
        .expect("pragma")
        .expect("a row");
    let mode: String = row.try_get_by_index(0).expect("journal mode");
    assert_eq!(mode.to_lowercase(), "wal");
}

#[tokio::test]
async fn unreachable_database_is_unavailable() {
    let quick = tfr_db_seaorm::PoolSettings {
        connect_timeout: std::time::Duration::from_millis(500),
        acquire_timeout: std::time::Duration::from_millis(500),
        ..Default::default()
    };
    let err = tfr_db_seaorm::SeaOrmDatabase::connect_with(
        "postgres://postgres@127.0.0.1:1/nothing",
        &quick,
    )
    .await;
    assert!(matches!(err, Err(RepoError::Unavailable(_))), "{err:?}");
    let err = tfr_db_seaorm::SeaOrmDatabase::connect_with(
        "sqlite:///nonexistent-dir/x/tfr.db?mode=rw",
        &quick,
    )
    .await;
    assert!(matches!(err, Err(RepoError::Unavailable(_))), "{err:?}");
}
