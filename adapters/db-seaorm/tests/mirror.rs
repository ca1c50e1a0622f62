//! The mirror repository contract on real SQLite and real PostgreSQL (a fresh, migrated
//! database per test), plus what only a database shows: replicas racing for one lease or one new version.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tfr_core::{MirrorFilter, ProviderAddress, RegistryHost};
use tfr_db_seaorm::SeaOrmDatabase;
use tfr_ports::driven::{MirrorConfigRecord, MirrorRepository, NewMirroredVersion};
use tfr_ports::testkit::repos::mirror_repository_contract;
use uuid::Uuid;

/// One `#[tokio::test]` per backend for a check taking `&SeaOrmDatabase`.
macro_rules! on_both {
    ($check:ident) => {
        mod $check {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let t = super::common::sqlite(true).await;
                super::$check(&t.db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let t = super::common::postgres(true).await;
                super::$check(&t.db).await;
            }
        }
    };
}

async fn contract(db: &SeaOrmDatabase) {
    mirror_repository_contract(&db.mirror_repository()).await;
}
on_both!(contract);

fn instant(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600 + secs, 0).expect("valid instant")
}

/// Many replicas asking for one free (then expired) lease at once: exactly one gets it.
async fn racing_leases(db: &SeaOrmDatabase) {
    let repo: Arc<dyn MirrorRepository> = Arc::new(db.mirror_repository());
    let config = MirrorConfigRecord {
        id: Uuid::now_v7(),
        name: "race".into(),
        upstream: RegistryHost::terraform_registry(),
        hostnames: vec![RegistryHost::terraform_registry()],
        filter: MirrorFilter::default(),
        enabled: true,
        sync_interval_secs: 60,
        created_at: instant(0),
        updated_at: instant(0),
        last_sync_at: None,
        last_sync_status: None,
    };
    repo.insert_config(&config).await.expect("insert");
    // Round 0 finds the lease free; each later round finds the last winner's expired.
    for round in 0..3i64 {
        let now = instant(1000 * round + 1);
        let until = instant(1000 * round + 500);
        let tasks: Vec<_> = (0..20)
            .map(|replica| {
                let repo = repo.clone();
                let holder = format!("replica-{round}-{replica}");
                tokio::spawn(async move {
                    let won = repo
                        .try_lease(config.id, &holder, now, until)
                        .await
                        .expect("try_lease");
                    won.then_some(holder)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            winners.extend(task.await.expect("join"));
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        // The winner holds it: a latecomer is refused, the winner renews.
        let late = repo.try_lease(config.id, "late", now, until).await;
        assert!(!late.expect("late try_lease"), "round {round}");
        let renew = repo.try_lease(config.id, &winners[0], now, until).await;
        assert!(renew.expect("renew"), "round {round}");
    }
}
on_both!(racing_leases);

/// Replicas verifying the same new version at once: one row wins and every caller gets it.
async fn racing_ensure_version(db: &SeaOrmDatabase) {
    let repo: Arc<dyn MirrorRepository> = Arc::new(db.mirror_repository());
    let address = ProviderAddress::parse("hashicorp", "aws").expect("address");
    for version in ["5.0.0", "5.1.0"] {
        let tasks: Vec<_> = (0..12)
            .map(|replica| {
                let repo = repo.clone();
                let new = NewMirroredVersion {
                    id: Uuid::now_v7(),
                    upstream: RegistryHost::terraform_registry(),
                    address: address.clone(),
                    version: version.to_string(),
                    protocols: vec!["5.0".into()],
                    shasums: format!("shasums of replica {replica}"),
                    key_fingerprint: "34365D9472D7468F".into(),
                    verified_at: instant(replica),
                };
                tokio::spawn(async move { repo.ensure_version(new).await.expect("ensure") })
            })
            .collect();
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.expect("join").id);
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{version}: {ids:?}");
    }
    let found = repo
        .find_mirrored(&RegistryHost::terraform_registry(), &address)
        .await
        .expect("find")
        .expect("mirrored");
    assert_eq!(found.versions.len(), 2);
}
on_both!(racing_ensure_version);
