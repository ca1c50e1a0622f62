//! `mirror_repository_contract`.

use tfr_core::{
    BlobKey, MirrorFilter, Namespace, Platform, ProviderAddress, ProviderType, ProviderVersion,
    RegistryHost, VersionConstraint,
};
use uuid::Uuid;

use super::at;
use crate::driven::{
    MirrorConfigRecord, MirrorRepository, MirroredListQuery, MirroredPage, NewMirroredPackage,
    NewMirroredVersion, PackageFailure, RepoError, SyncRunRecord, SyncStatus, SyncTrigger,
};

fn host(value: &str) -> RegistryHost {
    RegistryHost::parse(value).expect("valid host")
}

fn platform(value: &str) -> Platform {
    Platform::parse(value).expect("valid platform")
}

/// `namespace` may be mixed-case: the repository must store and match it lower-case.
fn address(namespace: &str, provider_type: &str) -> ProviderAddress {
    ProviderAddress {
        namespace: Namespace::parse(namespace).expect("valid namespace"),
        provider_type: ProviderType::parse(provider_type).expect("valid type"),
    }
}

fn config(name: &str, secs: i64) -> MirrorConfigRecord {
    MirrorConfigRecord {
        id: Uuid::now_v7(),
        name: name.to_string(),
        upstream: RegistryHost::terraform_registry(),
        hostnames: vec![host("registry.terraform.io"), host("registry.opentofu.org")],
        filter: MirrorFilter {
            namespaces: vec!["hashicorp".into()],
            provider_types: vec!["aws".into(), "google".into()],
            versions: Some(VersionConstraint::parse("~> 5.1, != 5.3.0").expect("constraint")),
            platforms: vec![platform("linux_amd64"), platform("darwin_arm64")],
        },
        enabled: true,
        sync_interval_secs: 3600,
        created_at: at(secs),
        updated_at: at(secs),
        last_sync_at: None,
        last_sync_status: None,
    }
}

fn run(config_id: Uuid, secs: i64, holder: &str) -> SyncRunRecord {
    SyncRunRecord {
        id: Uuid::now_v7(),
        config_id,
        trigger: SyncTrigger::Scheduled,
        holder: holder.to_string(),
        started_at: at(secs),
        finished_at: None,
        status: SyncStatus::Running,
        versions_fetched: 0,
        packages_fetched: 0,
        bytes_fetched: 0,
        failures: vec![],
        message: None,
    }
}

fn new_version(upstream: &str, addr: &ProviderAddress, version: &str) -> NewMirroredVersion {
    NewMirroredVersion {
        id: Uuid::now_v7(),
        upstream: host(upstream),
        address: addr.clone(),
        version: version.to_string(),
        protocols: vec!["5.0".into(), "6.0".into()],
        shasums: format!(
            "{}  terraform-provider_{version}_linux_amd64.zip\n",
            "ab".repeat(32)
        ),
        key_fingerprint: "34365D9472D7468F34365D9472D7468F34365D94".into(),
        verified_at: at(500),
    }
}

fn new_package(
    version_id: Uuid,
    new: &NewMirroredVersion,
    os_arch: &str,
    secs: i64,
) -> NewMirroredPackage {
    let platform = platform(os_arch);
    let version = ProviderVersion::parse(&new.version).expect("valid version");
    let blob_key = BlobKey::mirrored_package(
        &new.upstream,
        &new.address,
        &version,
        &platform,
        Uuid::now_v7().as_u128(),
    );
    NewMirroredPackage {
        id: Uuid::now_v7(),
        version_id,
        filename: blob_key.file_name().to_string(),
        sha256: "cd".repeat(32),
        h1: "h1:6tzEc8Ec1sDqrvn1NvTHqZtz9JJU8F+oJNDd1/hVeaM=".into(),
        size: 5_000_000_000,
        blob_key,
        fetched_at: at(secs),
        platform,
    }
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, RepoError>, what: &str) {
    assert!(
        matches!(result, Err(RepoError::Conflict(_))),
        "{what}: expected Conflict, got {result:?}"
    );
}

/// The documented behaviour of [`MirrorRepository`], on an empty repository.
pub async fn mirror_repository_contract(repo: &dyn MirrorRepository) {
    configs(repo).await;
    leases(repo).await;
    content(repo).await;
    listing(repo).await;
    runs(repo).await;
    pull_through_records(repo).await;
}

async fn configs(repo: &dyn MirrorRepository) {
    assert!(repo.list_configs().await.expect("list").is_empty());
    let b = config("b-mirror", 0);
    let a = config("a-mirror", 1);
    repo.insert_config(&b).await.expect("insert b");
    repo.insert_config(&a).await.expect("insert a");
    assert_eq!(repo.find_config(a.id).await.expect("find"), Some(a.clone()));
    assert_eq!(
        repo.list_configs().await.expect("list"),
        vec![a.clone(), b.clone()],
        "ordered by name"
    );
    let same_name = config("a-mirror", 2);
    assert_conflict(repo.insert_config(&same_name).await, "a taken name");

    // Only the operator-editable fields change.
    let edited = MirrorConfigRecord {
        name: "c-mirror".into(),
        upstream: host("registry.opentofu.org"),
        hostnames: vec![host("mirror.example.com:8443")],
        filter: MirrorFilter::default(),
        enabled: false,
        sync_interval_secs: 60,
        updated_at: at(5),
        created_at: at(99),
        last_sync_at: Some(at(99)),
        last_sync_status: Some(SyncStatus::Failed),
        ..a.clone()
    };
    assert!(repo.update_config(&edited).await.expect("update"));
    let expected = MirrorConfigRecord {
        created_at: a.created_at,
        last_sync_at: None,
        last_sync_status: None,
        ..edited.clone()
    };
    assert_eq!(
        repo.find_config(a.id).await.expect("find"),
        Some(expected.clone())
    );
    let clash = MirrorConfigRecord {
        name: "b-mirror".into(),
        ..expected.clone()
    };
    assert_conflict(
        repo.update_config(&clash).await,
        "renaming onto a taken name",
    );
    assert_eq!(
        repo.find_config(a.id).await.expect("find"),
        Some(expected.clone())
    );

    let ghost = config("b-mirror", 0);
    assert!(!repo.update_config(&ghost).await.expect("update missing"));
    assert!(!repo.delete_config(ghost.id).await.expect("delete missing"));
    assert_eq!(repo.find_config(ghost.id).await.expect("find"), None);
    assert!(repo.delete_config(b.id).await.expect("delete"));
    assert!(!repo.delete_config(b.id).await.expect("delete again"));
    assert_eq!(repo.list_configs().await.expect("list"), vec![expected]);
}

async fn leases(repo: &dyn MirrorRepository) {
    let c = config("lease-mirror", 0);
    repo.insert_config(&c).await.expect("insert");
    let lease = |holder: &'static str, now: i64, until: i64| async move {
        repo.try_lease(c.id, holder, at(now), at(until))
            .await
            .expect("try_lease")
    };
    assert!(lease("r1", 100, 160).await, "a free lease is taken");
    assert!(!lease("r2", 110, 170).await, "held by another, unexpired");
    assert!(lease("r1", 120, 180).await, "the holder renews");
    assert!(
        !lease("r2", 180, 240).await,
        "not expired at its expiry instant"
    );
    // Editing the configuration keeps the lease.
    let edited = MirrorConfigRecord {
        enabled: false,
        ..c.clone()
    };
    assert!(repo.update_config(&edited).await.expect("update"));
    assert!(
        !lease("r2", 179, 240).await,
        "update_config keeps the lease"
    );
    assert!(
        lease("r2", 181, 240).await,
        "an expired lease is taken over"
    );
    assert!(!lease("r1", 182, 250).await, "the old holder lost it");

    repo.release_lease(c.id, "r1")
        .await
        .expect("release by non-holder");
    assert!(!lease("r1", 183, 250).await, "only the holder releases");
    repo.release_lease(c.id, "r2").await.expect("release");
    assert!(lease("r1", 184, 250).await, "a released lease is free");
    assert!(
        !repo
            .try_lease(Uuid::now_v7(), "r1", at(0), at(60))
            .await
            .expect("try_lease missing"),
        "no lease on a missing configuration"
    );
}

async fn content(repo: &dyn MirrorRepository) {
    let tf = RegistryHost::terraform_registry();
    let aws = address("hashicorp", "aws");
    assert_eq!(repo.find_mirrored(&tf, &aws).await.expect("find"), None);

    let first = new_version(
        "registry.terraform.io",
        &address("HashiCorp", "aws"),
        "5.0.0",
    );
    let v1 = repo.ensure_version(first.clone()).await.expect("ensure");
    assert_eq!((v1.id, v1.version.as_str()), (first.id, "5.0.0"));
    assert_eq!(
        (&v1.protocols, &v1.shasums),
        (&first.protocols, &first.shasums)
    );
    assert_eq!(
        (&v1.key_fingerprint, v1.verified_at),
        (&first.key_fingerprint, at(500))
    );
    assert!(v1.packages.is_empty());

    let found = repo
        .find_mirrored(&tf, &aws)
        .await
        .expect("find")
        .expect("mirrored");
    let p = &found.provider;
    assert_eq!(
        (&p.upstream, p.namespace.as_str(), p.provider_type.as_str()),
        (&tf, "hashicorp", "aws")
    );
    assert_eq!((p.created_at, p.last_synced_at), (at(500), None));
    assert_eq!(found.versions, vec![v1.clone()]);
    let mixed = address("HASHICORP", "aws");
    assert_eq!(
        repo.find_mirrored(&tf, &mixed).await.expect("find"),
        Some(found.clone())
    );

    // The first verified SHA256SUMS stays.
    let again = NewMirroredVersion {
        shasums: "different".into(),
        ..new_version("registry.terraform.io", &aws, "5.0.0")
    };
    assert_eq!(repo.ensure_version(again).await.expect("ensure again"), v1);

    let linux = repo
        .insert_package(new_package(v1.id, &first, "linux_amd64", 510))
        .await
        .expect("linux");
    let darwin = repo
        .insert_package(new_package(v1.id, &first, "darwin_arm64", 511))
        .await
        .expect("darwin");
    assert_eq!((linux.size, linux.fetched_at), (5_000_000_000, at(510)));
    assert_eq!(linux.platform, platform("linux_amd64"));
    assert_conflict(
        repo.insert_package(new_package(v1.id, &first, "linux_amd64", 512))
            .await,
        "a platform the version has",
    );
    assert_conflict(
        repo.insert_package(new_package(Uuid::now_v7(), &first, "linux_arm64", 512))
            .await,
        "a package of an unknown version",
    );
    let with_packages = repo
        .ensure_version(new_version("registry.terraform.io", &aws, "5.0.0"))
        .await
        .expect("ensure existing");
    assert_eq!(
        with_packages.packages,
        vec![darwin.clone(), linux.clone()],
        "by platform"
    );

    let v2 = repo
        .ensure_version(new_version("registry.terraform.io", &aws, "5.1.0"))
        .await
        .expect("second version");
    // Another upstream's provider of the same address is another provider.
    let tofu = host("registry.opentofu.org");
    let other = repo
        .ensure_version(new_version("registry.opentofu.org", &aws, "5.0.0"))
        .await
        .expect("other upstream");
    assert_ne!(other.id, v1.id);

    let found = repo
        .find_mirrored(&tf, &aws)
        .await
        .expect("find")
        .expect("mirrored");
    assert_eq!(found.versions, vec![with_packages, v2]);
    repo.mark_synced(&tf, &mixed, at(600)).await.expect("mark");
    repo.mark_synced(&tf, &address("nobody", "aws"), at(600))
        .await
        .expect("mark a missing provider");
    let found = repo
        .find_mirrored(&tf, &aws)
        .await
        .expect("find")
        .expect("mirrored");
    assert_eq!(found.provider.last_synced_at, Some(at(600)));
    let tofu_aws = repo
        .find_mirrored(&tofu, &aws)
        .await
        .expect("find")
        .expect("tofu");
    assert_eq!(tofu_aws.provider.last_synced_at, None);
    assert_eq!(tofu_aws.versions, vec![other]);
}

fn names(page: &MirroredPage) -> Vec<String> {
    page.items
        .iter()
        .map(|p| {
            let p = &p.provider;
            format!("{}/{}/{}", p.upstream, p.namespace, p.provider_type)
        })
        .collect()
}

fn query(f: impl FnOnce(&mut MirroredListQuery)) -> MirroredListQuery {
    let mut q = MirroredListQuery {
        limit: 100,
        ..MirroredListQuery::default()
    };
    f(&mut q);
    q
}

/// After `content`: registry.opentofu.org/hashicorp/aws, registry.terraform.io/hashicorp/aws.
async fn listing(repo: &dyn MirrorRepository) {
    for (ns, ty) in [("integrations", "github"), ("hashicorp", "google")] {
        repo.ensure_version(new_version(
            "registry.terraform.io",
            &address(ns, ty),
            "1.0.0",
        ))
        .await
        .expect("ensure");
    }
    let all = repo.list_mirrored(&query(|_| {})).await.expect("list");
    assert_eq!(
        names(&all),
        [
            "registry.opentofu.org/hashicorp/aws",
            "registry.terraform.io/hashicorp/aws",
            "registry.terraform.io/hashicorp/google",
            "registry.terraform.io/integrations/github",
        ]
    );
    assert!(!all.has_more);
    let tf_aws = repo
        .find_mirrored(
            &RegistryHost::terraform_registry(),
            &address("hashicorp", "aws"),
        )
        .await
        .expect("find");
    assert_eq!(
        Some(&all.items[1]),
        tf_aws.as_ref(),
        "versions and packages included"
    );

    let first = repo
        .list_mirrored(&query(|q| q.limit = 2))
        .await
        .expect("page 1");
    assert_eq!(
        (first.items.as_slice(), first.has_more),
        (&all.items[..2], true)
    );
    let second = repo
        .list_mirrored(&query(|q| (q.offset, q.limit) = (2, 2)))
        .await
        .expect("page 2");
    assert_eq!(
        (second.items.as_slice(), second.has_more),
        (&all.items[2..], false)
    );

    let by_ns = query(|q| q.namespace = Some("HashiCorp".into()));
    let by_ns = repo.list_mirrored(&by_ns).await.expect("namespace");
    assert_eq!(by_ns.items.len(), 3, "namespace filter is case-insensitive");
    let search = |term: &str| {
        let q = query(|q| q.search = Some(term.to_string()));
        async move { names(&repo.list_mirrored(&q).await.expect("search")) }
    };
    assert_eq!(
        search("GIT").await,
        ["registry.terraform.io/integrations/github"]
    );
    assert_eq!(
        search("oog").await,
        ["registry.terraform.io/hashicorp/google"]
    );
    assert_eq!(search("hashi").await.len(), 3);
    assert_eq!(search("  ").await.len(), 4, "a blank search is no filter");
    assert!(search("%").await.is_empty(), "LIKE wildcards are literal");
}

/// A pull-through failure is kept as a finished run and leaves the schedule alone.
async fn pull_through_records(repo: &dyn MirrorRepository) {
    let c = config("pull-through-mirror", 0);
    repo.insert_config(&c).await.expect("insert");
    let scheduled = run(c.id, 200, "r1");
    repo.insert_run(&scheduled).await.expect("scheduled run");
    let pulled = SyncRunRecord {
        trigger: SyncTrigger::PullThrough,
        finished_at: Some(at(230)),
        status: SyncStatus::Failed,
        failures: vec![PackageFailure {
            provider: "hashicorp/aws".into(),
            version: Some("5.1.0".into()),
            platform: Some("linux_amd64".into()),
            reason: "verification failed".into(),
        }],
        ..run(c.id, 230, "r1")
    };
    repo.insert_run(&pulled).await.expect("pull-through record");
    let stored = repo.find_config(c.id).await.expect("find").expect("config");
    assert_eq!(stored.last_sync_at, Some(at(200)), "the schedule moved");
    let (listed, _) = repo.list_runs(c.id, 0, 10).await.expect("runs");
    assert_eq!(listed.first(), Some(&pulled));
}

async fn runs(repo: &dyn MirrorRepository) {
    let c = config("runs-mirror", 0);
    let other = config("other-mirror", 0);
    repo.insert_config(&c).await.expect("insert");
    repo.insert_config(&other).await.expect("insert other");
    assert_eq!(
        repo.list_runs(c.id, 0, 10).await.expect("runs"),
        (vec![], false)
    );

    let run1 = run(c.id, 200, "r1");
    repo.insert_run(&run1).await.expect("run 1");
    assert_conflict(repo.insert_run(&run1).await, "a run id taken");
    assert_conflict(
        repo.insert_run(&run(Uuid::now_v7(), 200, "r1")).await,
        "a run of an unknown configuration",
    );
    let stored = repo.find_config(c.id).await.expect("find").expect("config");
    assert_eq!(stored.last_sync_at, Some(at(200)));

    let finished1 = SyncRunRecord {
        finished_at: Some(at(260)),
        status: SyncStatus::Partial,
        versions_fetched: 3,
        packages_fetched: 7,
        bytes_fetched: 9_000_000_000,
        failures: vec![
            PackageFailure {
                provider: "hashicorp/aws".into(),
                version: Some("5.0.0".into()),
                platform: Some("linux_arm64".into()),
                reason: "sha256 mismatch".into(),
            },
            PackageFailure {
                provider: "hashicorp/google".into(),
                version: None,
                platform: None,
                reason: "upstream answered 404".into(),
            },
        ],
        message: Some("partly done".into()),
        ..run1.clone()
    };
    repo.finish_run(&finished1).await.expect("finish 1");
    let stored = repo.find_config(c.id).await.expect("find").expect("config");
    assert_eq!(
        (stored.last_sync_at, stored.last_sync_status),
        (Some(at(200)), Some(SyncStatus::Partial))
    );

    let run2 = run(c.id, 300, "r1");
    let run3 = SyncRunRecord {
        trigger: SyncTrigger::Manual,
        ..run(c.id, 400, "r2")
    };
    let elsewhere = run(other.id, 150, "r3");
    for r in [&run2, &run3, &elsewhere] {
        repo.insert_run(r).await.expect("insert run");
    }
    let (newest, more) = repo.list_runs(c.id, 0, 2).await.expect("page 1");
    assert_eq!((newest, more), (vec![run3.clone(), run2.clone()], true));
    let (oldest, more) = repo.list_runs(c.id, 2, 2).await.expect("page 2");
    assert_eq!((oldest, more), (vec![finished1.clone()], false));

    let finished3 = SyncRunRecord {
        finished_at: Some(at(420)),
        status: SyncStatus::Succeeded,
        ..run3.clone()
    };
    repo.finish_run(&finished3).await.expect("finish 3");
    let stored = repo.find_config(c.id).await.expect("find").expect("config");
    assert_eq!(
        (stored.last_sync_at, stored.last_sync_status),
        (Some(at(400)), Some(SyncStatus::Succeeded))
    );

    // Only this configuration's runs still running.
    let failed = repo
        .fail_abandoned_runs(c.id, at(450), "replica died")
        .await
        .expect("fail abandoned");
    assert_eq!(failed, 1);
    let abandoned = SyncRunRecord {
        status: SyncStatus::Failed,
        finished_at: Some(at(450)),
        message: Some("replica died".into()),
        ..run2.clone()
    };
    let (listed, _) = repo.list_runs(c.id, 0, 10).await.expect("runs");
    assert_eq!(
        listed,
        vec![finished3.clone(), abandoned, finished1.clone()]
    );
    let again = repo.fail_abandoned_runs(c.id, at(460), "again").await;
    assert_eq!(again.expect("fail abandoned again"), 0);
    let (others, _) = repo.list_runs(other.id, 0, 10).await.expect("runs");
    assert_eq!(
        others,
        vec![elsewhere.clone()],
        "other configurations untouched"
    );

    // Deleting a configuration removes its history, not other history or mirrored content.
    assert!(repo.delete_config(c.id).await.expect("delete"));
    assert_eq!(
        repo.list_runs(c.id, 0, 10).await.expect("runs"),
        (vec![], false)
    );
    repo.finish_run(&finished3)
        .await
        .expect("finishing a deleted run is ignored");
    assert_eq!(
        repo.list_runs(other.id, 0, 10).await.expect("runs").0.len(),
        1
    );
    let tf = RegistryHost::terraform_registry();
    let kept = repo.find_mirrored(&tf, &address("hashicorp", "aws")).await;
    assert!(kept.expect("find").is_some(), "mirrored content stays");
}
