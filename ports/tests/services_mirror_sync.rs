//! MirrorSync (and MirrorFetcher under it) against the testkit fakes: what a run fetches,
//! what it refuses, how it records itself, leases, panics and bounded concurrency.
#![cfg(feature = "testkit")]

mod common;
mod mirror_common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Span;
use tfr_core::{MirrorFilter, VersionConstraint};
use tfr_ports::driven::{
    Clock, MirrorConfigRecord, MirrorRepository, PackageFailure, SyncRunRecord, SyncStatus,
    SyncTrigger,
};
use tfr_ports::service::{MirrorSync, ServiceError, SyncSettings};
use tfr_ports::testkit::blob::sha256_hex;
use tfr_ports::testkit::fakes::StubSignatureVerifier;
use tfr_ports::testkit::upstream::{FakeUpstreamRegistry, UpstreamCall};
use uuid::Uuid;

use mirror_common::{World, addr, platform, tf};

const HOLDER: &str = "replica-a";

impl World {
    fn sync_with(&self, concurrency: usize) -> Arc<MirrorSync> {
        Arc::new(MirrorSync::new(
            self.repo.clone(),
            self.upstream.clone(),
            self.fetcher(),
            self.clock.clone(),
            SyncSettings {
                holder: HOLDER.to_string(),
                lease: Duration::from_secs(300),
                concurrency,
                due_slack: Duration::from_secs(30),
            },
        ))
    }

    fn sync(&self) -> Arc<MirrorSync> {
        self.sync_with(4)
    }

    /// A configuration syncing `hashicorp/{types}` from registry.terraform.io.
    async fn config(
        &self,
        types: &[&str],
        constraint: Option<&str>,
        platforms: &[&str],
    ) -> MirrorConfigRecord {
        let now = self.clock.now();
        let config = MirrorConfigRecord {
            id: Uuid::now_v7(),
            name: format!("cfg-{}", Uuid::new_v4().simple()),
            upstream: tf(),
            hostnames: vec![tf()],
            filter: MirrorFilter {
                namespaces: vec!["hashicorp".to_string()],
                provider_types: types.iter().map(|t| t.to_string()).collect(),
                versions: constraint.map(|c| VersionConstraint::parse(c).unwrap()),
                platforms: platforms.iter().map(|p| platform(p)).collect(),
            },
            enabled: true,
            sync_interval_secs: 600,
            created_at: now,
            updated_at: now,
            last_sync_at: None,
            last_sync_status: None,
        };
        self.repo.insert_config(&config).await.unwrap();
        config
    }

    async fn runs(&self, config: &MirrorConfigRecord) -> Vec<SyncRunRecord> {
        self.repo.list_runs(config.id, 0, 100).await.unwrap().0
    }

    /// Versions mirrored of `hashicorp/{ty}`, each with its platforms.
    async fn mirrored(&self, ty: &str) -> Vec<(String, Vec<String>)> {
        let Some(found) = self.repo.find_mirrored(&tf(), &addr(ty)).await.unwrap() else {
            return Vec::new();
        };
        let mut out: Vec<_> = found
            .versions
            .into_iter()
            .map(|v| {
                (
                    v.version,
                    v.packages.iter().map(|p| p.platform.to_string()).collect(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// No staged file left behind.
    fn assert_staging_clean(&self) {
        let dir = self.staging.path().join("mirror");
        let left: Vec<_> = std::fs::read_dir(&dir)
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "staged files left: {left:?}");
    }

    fn publish(&self, ty: &str, version: &str, platforms: &[&str]) {
        self.upstream
            .add_version(&tf(), &addr(ty), version, platforms);
    }

    fn bytes_of(&self, ty: &str, version: &str, p: &str) -> usize {
        FakeUpstreamRegistry::default_bytes(&addr(ty), version, &platform(p)).len()
    }
}

async fn run_once(w: &World) -> SyncRunRecord {
    let mut runs = w.sync().run_due().await.unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs.remove(0)
}

#[tokio::test]
async fn a_due_configuration_mirrors_every_wanted_version_and_platform() {
    let w = World::new();
    let all = ["linux_amd64", "darwin_arm64", "windows_amd64"];
    for v in ["0.9.0", "1.0.0", "1.1.0", "2.0.0-beta1", "v1.2.0", "latest"] {
        w.publish("random", v, &all);
    }
    let config = w
        .config(
            &["random"],
            Some(">= 1.0.0"),
            &["linux_amd64", "darwin_arm64"],
        )
        .await;

    let run = run_once(&w).await;
    assert_eq!(run.status, SyncStatus::Succeeded, "{run:?}");
    assert_eq!(run.trigger, SyncTrigger::Scheduled);
    assert_eq!(run.holder, HOLDER);
    assert_eq!(run.versions_fetched, 2);
    assert_eq!(run.packages_fetched, 4);
    let expected_bytes: usize = ["1.0.0", "1.1.0"]
        .iter()
        .flat_map(|v| ["linux_amd64", "darwin_arm64"].map(|p| w.bytes_of("random", v, p)))
        .sum();
    assert_eq!(run.bytes_fetched, expected_bytes as u64);
    assert!(run.failures.is_empty());
    assert_eq!(run.finished_at, Some(w.clock.now()));

    let both = vec!["darwin_arm64".to_string(), "linux_amd64".to_string()];
    assert_eq!(
        w.mirrored("random").await,
        vec![
            ("1.0.0".to_string(), both.clone()),
            ("1.1.0".to_string(), both)
        ]
    );
    // Every package is stored byte for byte, nothing else.
    let found = w
        .repo
        .find_mirrored(&tf(), &addr("random"))
        .await
        .unwrap()
        .unwrap();
    assert!(found.provider.last_synced_at.is_some());
    assert_eq!(w.blobs.len(), 4);
    for version in &found.versions {
        assert_eq!(
            version.key_fingerprint,
            StubSignatureVerifier::key().fingerprint
        );
        for package in &version.packages {
            let expected = FakeUpstreamRegistry::default_bytes(
                &addr("random"),
                &version.version,
                &package.platform,
            );
            assert_eq!(
                w.blobs.contents(&package.blob_key).as_deref(),
                Some(&expected[..])
            );
            assert_eq!(package.sha256, sha256_hex(&expected));
            assert_eq!(package.h1, "h1:stub=");
        }
    }
    // Recorded in the history and on the configuration.
    assert_eq!(w.runs(&config).await, vec![run.clone()]);
    let stored = w.repo.find_config(config.id).await.unwrap().unwrap();
    assert_eq!(stored.last_sync_status, Some(SyncStatus::Succeeded));
    assert_eq!(stored.last_sync_at, Some(run.started_at));
    w.assert_staging_clean();

    // The next run finds nothing new and downloads nothing.
    let downloads = w.upstream.calls(UpstreamCall::Download);
    let documents = w.upstream.calls(UpstreamCall::Document);
    w.clock.advance(Span::seconds(600));
    let again = run_once(&w).await;
    assert_eq!(again.status, SyncStatus::Succeeded, "{again:?}");
    assert_eq!(
        (
            again.versions_fetched,
            again.packages_fetched,
            again.bytes_fetched
        ),
        (0, 0, 0)
    );
    assert_eq!(w.upstream.calls(UpstreamCall::Download), downloads);
    assert_eq!(w.upstream.calls(UpstreamCall::Document), documents);
    assert_eq!(w.blobs.len(), 4);
    assert_eq!(w.runs(&config).await.len(), 2);
}

#[tokio::test]
async fn a_platform_missing_from_the_verified_shasums_is_refused() {
    let w = World::new();
    w.publish("random", "1.0.0", &["linux_amd64"]);
    w.config(&["random"], None, &[]).await;
    assert_eq!(run_once(&w).await.packages_fetched, 1);

    // Upstream adds a platform: the verified SHA256SUMS does not list it.
    w.publish("random", "1.0.0", &["darwin_arm64"]);
    w.clock.advance(Span::seconds(600));
    let run = run_once(&w).await;
    assert_eq!(run.status, SyncStatus::Partial, "{run:?}");
    assert_eq!(run.versions_fetched, 0);
    assert_eq!(run.failures.len(), 1);
    assert_eq!(run.failures[0].platform.as_deref(), Some("darwin_arm64"));
    assert!(
        run.failures[0].reason.contains("not listed"),
        "{:?}",
        run.failures[0]
    );
    assert_eq!(w.blobs.len(), 1);
}

#[tokio::test]
async fn a_bad_signature_refuses_the_version_and_stores_nothing_of_it() {
    let w = World::new();
    w.publish("random", "1.0.0", &["linux_amd64", "darwin_arm64"]);
    w.publish("random", "1.1.0", &["linux_amd64", "darwin_arm64"]);
    w.upstream.bad_signature(&tf(), &addr("random"), "1.0.0");
    let config = w.config(&["random"], None, &[]).await;

    let run = run_once(&w).await;
    assert_eq!(run.status, SyncStatus::Partial, "{run:?}");
    assert_eq!(run.versions_fetched, 1);
    assert_eq!(run.packages_fetched, 2);
    assert_eq!(run.failures.len(), 1, "{:?}", run.failures);
    let PackageFailure {
        provider,
        version,
        platform,
        reason,
    } = &run.failures[0];
    assert_eq!(provider, "hashicorp/random");
    assert_eq!(version.as_deref(), Some("1.0.0"));
    assert_eq!(platform, &None);
    assert!(reason.contains("signature"), "{reason}");

    // No row of 1.0.0, and no blob of it.
    let mirrored = w.mirrored("random").await;
    assert_eq!(mirrored.len(), 1);
    assert_eq!(mirrored[0].0, "1.1.0");
    assert_eq!(w.blobs.len(), 2);
    assert!(
        w.blobs
            .keys()
            .iter()
            .all(|k| !k.as_str().contains("/1.0.0/"))
    );
    assert_eq!(w.runs(&config).await[0].failures, run.failures);
    w.assert_staging_clean();
}

#[tokio::test]
async fn a_version_whose_only_fault_is_its_signature_leaves_no_provider_row() {
    let w = World::new();
    w.publish("random", "1.0.0", &["linux_amd64"]);
    w.upstream.bad_signature(&tf(), &addr("random"), "1.0.0");
    w.config(&["random"], None, &[]).await;

    let run = run_once(&w).await;
    assert_eq!(run.status, SyncStatus::Partial, "{run:?}");
    assert_eq!(run.failures.len(), 1);
    assert!(
        w.repo
            .find_mirrored(&tf(), &addr("random"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(w.blobs.is_empty());
    assert_eq!(w.upstream.calls(UpstreamCall::Download), 0);
}

#[tokio::test]
async fn a_checksum_mismatch_refuses_the_package_and_leaves_no_blob() {
    let w = World::new();
    w.publish("random", "1.0.0", &["linux_amd64", "darwin_arm64"]);
    w.upstream
        .corrupt_package(&tf(), &addr("random"), "1.0.0", &platform("linux_amd64"));
    w.config(&["random"], None, &[]).await;

    let run = run_once(&w).await;
    assert_eq!(run.status, SyncStatus::Partial, "{run:?}");
    assert_eq!(run.packages_fetched, 1);
    assert_eq!(
        run.bytes_fetched,
        w.bytes_of("random", "1.0.0", "darwin_arm64") as u64
    );
    assert_eq!(run.failures.len(), 1);
    let failure = &run.failures[0];
    assert_eq!(failure.version.as_deref(), Some("1.0.0"));
    assert_eq!(failure.platform.as_deref(), Some("linux_amd64"));
    assert!(failure.reason.contains("does not match"), "{failure:?}");

    assert_eq!(
        w.mirrored("random").await,
        vec![("1.0.0".to_string(), vec!["darwin_arm64".to_string()])]
    );
    assert_eq!(w.blobs.len(), 1, "{:?}", w.blobs.keys());
    w.assert_staging_clean();
}

#[tokio::test]
async fn a_download_document_disagreeing_with_shasums_is_refused_before_downloading() {
    let w = World::new();
    w.publish("random", "1.0.0", &["linux_amd64"]);
    let filename = "terraform-provider-random_1.0.0_linux_amd64.zip";
    w.upstream.set_shasums(
        &tf(),
        &addr("random"),
        "1.0.0",
        &format!("{}  {filename}\n", "ab".repeat(32)),
    );
    w.config(&["random"], None, &[]).await;

    let run = run_once(&w).await;
    assert_eq!(run.status, SyncStatus::Partial, "{run:?}");
    assert!(
        run.failures[0].reason.contains("differs"),
        "{:?}",
        run.failures
    );
    assert_eq!(w.upstream.calls(UpstreamCall::Download), 0);
    assert!(w.blobs.is_empty());
}

#[tokio::test]
async fn upstream_down_fails_the_run_with_a_failure_per_provider() {
    let w = World::new();
    w.publish("random", "1.0.0", &["linux_amd64"]);
    w.upstream.set_down(true);
    let config = w.config(&["random", "null"], None, &[]).await;

    let run = run_once(&w).await;
    assert_eq!(run.status, SyncStatus::Failed, "{run:?}");
    assert_eq!(run.failures.len(), 2, "{:?}", run.failures);
    for failure in &run.failures {
        assert_eq!(failure.version, None);
        assert!(failure.reason.contains("unavailable"), "{failure:?}");
    }
    let providers: Vec<_> = run.failures.iter().map(|f| f.provider.as_str()).collect();
    assert!(providers.contains(&"hashicorp/random") && providers.contains(&"hashicorp/null"));
    assert!(w.blobs.is_empty());
    let stored = w.repo.find_config(config.id).await.unwrap().unwrap();
    assert_eq!(stored.last_sync_status, Some(SyncStatus::Failed));
}

#[tokio::test]
async fn an_unknown_upstream_provider_is_a_failure_while_the_others_sync() {
    let w = World::new();
    w.publish("random", "1.0.0", &["linux_amd64"]);
    w.config(&["random", "nosuch"], None, &[]).await;

    let run = run_once(&w).await;
    assert_eq!(run.status, SyncStatus::Partial, "{run:?}");
    assert_eq!(run.packages_fetched, 1);
    assert_eq!(run.failures.len(), 1);
    assert_eq!(run.failures[0].provider, "hashicorp/nosuch");
}

#[tokio::test]
async fn a_download_failing_midway_stores_nothing_and_the_next_run_completes() {
    let w = World::new();
    w.publish("random", "1.0.0", &["linux_amd64", "darwin_arm64"]);
    w.upstream
        .fail_download_midway(&tf(), &addr("random"), "1.0.0", &platform("linux_amd64"));
    w.config(&["random"], None, &[]).await;

    let run = run_once(&w).await;
    assert_eq!(run.status, SyncStatus::Partial, "{run:?}");
    assert_eq!(run.packages_fetched, 1);
    assert_eq!(run.failures.len(), 1);
    assert_eq!(run.failures[0].platform.as_deref(), Some("linux_amd64"));
    assert!(
        run.failures[0].reason.contains("reset"),
        "{:?}",
        run.failures
    );
    assert_eq!(w.blobs.len(), 1);
    w.assert_staging_clean();

    w.upstream.heal();
    w.clock.advance(Span::seconds(600));
    let next = run_once(&w).await;
    assert_eq!(next.status, SyncStatus::Succeeded, "{next:?}");
    assert_eq!(next.versions_fetched, 0, "the version was verified already");
    assert_eq!(next.packages_fetched, 1);
    assert_eq!(
        next.bytes_fetched,
        w.bytes_of("random", "1.0.0", "linux_amd64") as u64
    );
    assert_eq!(w.blobs.len(), 2);
    let both = vec!["darwin_arm64".to_string(), "linux_amd64".to_string()];
    assert_eq!(
        w.mirrored("random").await,
        vec![("1.0.0".to_string(), both)]
    );
}

#[tokio::test]
async fn a_panic_inside_the_sync_is_recorded_and_the_lease_released() {
    let w = World::new();
    w.upstream.panic_on_versions(&tf(), &addr("random"));
    let config = w.config(&["random"], None, &[]).await;

    // The caller does not panic: the run comes back failed.
    let run = run_once(&w).await;
    assert_eq!(run.status, SyncStatus::Failed, "{run:?}");
    let message = run.message.clone().unwrap_or_default();
    assert!(message.contains("exploded"), "{message}");
    assert!(run.finished_at.is_some());
    assert_eq!(w.runs(&config).await, vec![run]);
    let stored = w.repo.find_config(config.id).await.unwrap().unwrap();
    assert_eq!(stored.last_sync_status, Some(SyncStatus::Failed));

    // The lease is free: another replica takes it at once.
    let now = w.clock.now();
    assert!(
        w.repo
            .try_lease(config.id, "replica-b", now, now + Span::seconds(60))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_lease_held_by_another_replica_makes_run_due_do_nothing() {
    let w = World::new();
    w.publish("random", "1.0.0", &["linux_amd64"]);
    let config = w.config(&["random"], None, &[]).await;
    let now = w.clock.now();
    assert!(
        w.repo
            .try_lease(config.id, "replica-b", now, now + Span::seconds(300))
            .await
            .unwrap()
    );

    assert!(w.sync().run_due().await.unwrap().is_empty());
    assert!(w.runs(&config).await.is_empty());
    assert_eq!(w.upstream.total_calls(), 0);

    // sync_now refuses too.
    let err = w.sync().sync_now(config.id).await.unwrap_err();
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
    assert!(w.runs(&config).await.is_empty());
}

#[tokio::test]
async fn configurations_not_due_or_disabled_are_skipped() {
    let w = World::new();
    w.publish("random", "1.0.0", &["linux_amd64"]);
    let config = w.config(&["random"], None, &[]).await;
    let disabled = w.config(&["random"], None, &[]).await;
    w.repo
        .update_config(&MirrorConfigRecord {
            enabled: false,
            ..disabled.clone()
        })
        .await
        .unwrap();

    let first = w.sync().run_due().await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].config_id, config.id);

    // Within the interval: nothing.
    w.clock.advance(Span::seconds(500));
    assert!(w.sync().run_due().await.unwrap().is_empty());
    // Within the slack (30 s) of its end: due.
    w.clock.advance(Span::seconds(80));
    let runs = w.sync().run_due().await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].config_id, config.id);
    assert!(w.runs(&disabled).await.is_empty());
}

#[tokio::test]
async fn downloads_respect_the_concurrency_bound() {
    let w = World::new();
    let platforms = [
        "linux_amd64",
        "linux_arm64",
        "linux_386",
        "darwin_amd64",
        "darwin_arm64",
        "windows_amd64",
        "freebsd_amd64",
    ];
    w.publish("random", "1.0.0", &platforms);
    w.config(&["random"], None, &[]).await;

    w.upstream.hold_downloads();
    let sync = w.sync_with(2);
    let task = tokio::spawn(async move { sync.run_due().await });
    w.upstream.wait_for_in_flight(2).await;
    // Held long enough for a third download to start if the bound let it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(w.upstream.in_flight(), 2);
    w.upstream.release_downloads();

    let runs = task.await.unwrap().unwrap();
    assert_eq!(runs[0].status, SyncStatus::Succeeded, "{:?}", runs[0]);
    assert_eq!(runs[0].packages_fetched, platforms.len() as u64);
    assert_eq!(w.upstream.max_in_flight(), 2);
    assert_eq!(w.upstream.in_flight(), 0);
}

#[tokio::test]
async fn sync_now_runs_in_the_background_and_records_a_manual_run() {
    let w = World::new();
    w.publish("random", "1.0.0", &["linux_amd64"]);
    let config = w.config(&["random"], None, &[]).await;

    let started = w.sync().sync_now(config.id).await.unwrap();
    assert_eq!(started.status, SyncStatus::Running);
    assert_eq!(started.trigger, SyncTrigger::Manual);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let finished = loop {
        let runs = w.runs(&config).await;
        if runs[0].status != SyncStatus::Running {
            break runs[0].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the run never finished"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(finished.id, started.id);
    assert_eq!(finished.status, SyncStatus::Succeeded);
    assert_eq!(finished.packages_fetched, 1);

    let err = w.sync().sync_now(Uuid::now_v7()).await.unwrap_err();
    assert!(matches!(err, ServiceError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn the_next_lease_holder_fails_runs_a_dead_replica_left_running() {
    let w = World::new();
    w.publish("random", "1.0.0", &["linux_amd64"]);
    let config = w.config(&["random"], None, &[]).await;
    // A replica took the lease, started a run and died.
    let started = w.clock.now();
    assert!(
        w.repo
            .try_lease(config.id, "dead", started, started + Span::seconds(300))
            .await
            .unwrap()
    );
    let abandoned = SyncRunRecord {
        id: Uuid::now_v7(),
        config_id: config.id,
        trigger: SyncTrigger::Scheduled,
        holder: "dead".to_string(),
        started_at: started,
        finished_at: None,
        status: SyncStatus::Running,
        versions_fetched: 0,
        packages_fetched: 0,
        bytes_fetched: 0,
        failures: vec![],
        message: None,
    };
    w.repo.insert_run(&abandoned).await.unwrap();

    // Its lease is still valid: nothing happens.
    w.clock.advance(Span::seconds(120));
    assert!(w.sync().sync_now(config.id).await.is_err());
    // The lease expired and the interval passed: this replica takes over.
    w.clock.advance(Span::seconds(600));
    let run = run_once(&w).await;
    assert_eq!(run.status, SyncStatus::Succeeded);

    let runs = w.runs(&config).await;
    assert_eq!(runs.len(), 2);
    let old = runs.iter().find(|r| r.id == abandoned.id).unwrap();
    assert_eq!(old.status, SyncStatus::Failed);
    assert_eq!(old.finished_at, Some(run.started_at));
    assert!(
        old.message
            .as_deref()
            .unwrap_or_default()
            .contains("abandoned"),
        "{old:?}"
    );
}

#[tokio::test]
async fn sync_now_conflicts_with_a_run_going_on_on_this_replica() {
    let w = World::new();
    w.publish("random", "1.0.0", &["linux_amd64"]);
    let config = w.config(&["random"], None, &[]).await;

    w.upstream.hold_downloads();
    let sync = w.sync();
    let scheduled = tokio::spawn({
        let sync = sync.clone();
        async move { sync.run_due().await }
    });
    w.upstream.wait_for_in_flight(1).await;

    // The same replica holds the lease: a second run must not start beside the first.
    let err = sync.sync_now(config.id).await.unwrap_err();
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
    w.upstream.release_downloads();
    let runs = scheduled.await.unwrap().unwrap();
    assert_eq!(runs[0].status, SyncStatus::Succeeded, "{:?}", runs[0]);
    let history = w.runs(&config).await;
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0].status, SyncStatus::Succeeded);
    assert_eq!(w.upstream.calls(UpstreamCall::Download), 1);
}
