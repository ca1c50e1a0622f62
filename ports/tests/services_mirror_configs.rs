//! MirrorConfigs (the admin side of the mirror) against the testkit fakes: validation,
//! defaults and normalisation, CRUD and sync history.
#![cfg(feature = "testkit")]

mod common;
mod mirror_common;

use chrono::Duration as Span;
use tfr_core::{Platform, ProviderAddress, RegistryHost, VersionConstraint};
use tfr_ports::driven::{
    Clock, MirrorConfigRecord, MirrorRepository, SyncRunRecord, SyncStatus, SyncTrigger,
};
use tfr_ports::service::{MirrorConfigInput, ServiceError};
use uuid::Uuid;

use mirror_common::{World, addr, assert_not_found, strings, tf};

impl World {
    /// A run of `config` started `secs` after the clock's start, finished.
    async fn add_run(&self, config: &MirrorConfigRecord, secs: i64) -> SyncRunRecord {
        let started = self.clock.now() + Span::seconds(secs);
        let run = SyncRunRecord {
            id: Uuid::now_v7(),
            config_id: config.id,
            trigger: SyncTrigger::Scheduled,
            holder: "replica-a".to_string(),
            started_at: started,
            finished_at: Some(started + Span::seconds(5)),
            status: SyncStatus::Succeeded,
            versions_fetched: 1,
            packages_fetched: 2,
            bytes_fetched: 30,
            failures: vec![],
            message: None,
        };
        self.repo.insert_run(&run).await.unwrap();
        self.repo.finish_run(&run).await.unwrap();
        run
    }
}

fn input(name: &str) -> MirrorConfigInput {
    MirrorConfigInput {
        name: name.to_string(),
        enabled: true,
        ..MirrorConfigInput::default()
    }
}

fn host(h: &str) -> RegistryHost {
    RegistryHost::parse(h).unwrap()
}

fn expect_invalid<T: std::fmt::Debug>(result: Result<T, ServiceError>, expected: &str) {
    match result {
        Err(ServiceError::Invalid { check, .. }) => assert_eq!(check, expected),
        other => panic!("expected Invalid({expected}), got {other:?}"),
    }
}

#[tokio::test]
async fn defaults_fill_what_the_operator_left_out() {
    let w = World::new();
    let created = w.create(input("main")).await;

    assert_eq!(created.name, "main");
    assert_eq!(created.upstream, RegistryHost::terraform_registry());
    assert_eq!(created.hostnames, vec![RegistryHost::terraform_registry()]);
    assert_eq!(created.sync_interval_secs, 600);
    assert!(created.enabled);
    assert_eq!(created.filter, tfr_core::MirrorFilter::default());
    assert_eq!(created.created_at, w.clock.now());
    assert_eq!(created.updated_at, w.clock.now());
    assert_eq!(created.last_sync_at, None);
    assert_eq!(created.last_sync_status, None);

    assert_eq!(w.configs.get(created.id).await.unwrap(), created);
    assert_eq!(w.configs.list().await.unwrap(), vec![created]);

    // The hostnames default to the upstream given.
    let tofu = w
        .create(MirrorConfigInput {
            upstream: Some("registry.opentofu.org".to_string()),
            ..input("tofu")
        })
        .await;
    assert_eq!(tofu.hostnames, vec![host("registry.opentofu.org")]);
}

#[tokio::test]
async fn values_are_trimmed_lower_cased_and_deduplicated() {
    let w = World::new();
    let created = w
        .create(MirrorConfigInput {
            name: "  Main mirror ".to_string(),
            upstream: Some(" Registry.Terraform.IO ".to_string()),
            hostnames: strings(&[
                "Registry.Terraform.IO",
                "registry.terraform.io",
                "registry.opentofu.org",
                "Mirror.Example.com:8443",
            ]),
            namespaces: strings(&["HashiCorp", "hashicorp", " integrations "]),
            provider_types: strings(&["AWS", "aws", " Random"]),
            version_constraint: Some("  >= 1.0, < 2.0 ".to_string()),
            platforms: strings(&["linux_amd64", " linux_amd64", "darwin_arm64"]),
            enabled: false,
            sync_interval_secs: Some(3600),
        })
        .await;

    assert_eq!(created.name, "Main mirror");
    assert_eq!(created.upstream, RegistryHost::terraform_registry());
    assert_eq!(
        created.hostnames,
        vec![
            RegistryHost::terraform_registry(),
            host("registry.opentofu.org"),
            host("mirror.example.com:8443"),
        ]
    );
    assert_eq!(created.filter.namespaces, ["hashicorp", "integrations"]);
    assert_eq!(created.filter.provider_types, ["aws", "random"]);
    assert_eq!(
        created.filter.versions,
        Some(VersionConstraint::parse(">= 1.0, < 2.0").unwrap())
    );
    assert_eq!(
        created.filter.platforms,
        vec![
            Platform::parse("linux_amd64").unwrap(),
            Platform::parse("darwin_arm64").unwrap()
        ]
    );
    assert!(!created.enabled);
    assert_eq!(created.sync_interval_secs, 3600);

    // What the filter then lets through.
    let aws = ProviderAddress::parse("hashicorp", "aws").unwrap();
    assert!(created.filter.allows_provider(&aws));
    assert_eq!(created.filter.sync_targets().len(), 4);

    // A blank constraint or upstream means "none" / the default.
    let blank = w
        .create(MirrorConfigInput {
            upstream: Some("  ".to_string()),
            version_constraint: Some("   ".to_string()),
            ..input("blank")
        })
        .await;
    assert_eq!(blank.upstream, RegistryHost::terraform_registry());
    assert_eq!(blank.filter.versions, None);
}

#[tokio::test]
async fn each_field_is_validated_and_named() {
    let w = World::new();
    let cases: Vec<(MirrorConfigInput, &str)> = vec![
        (input(""), "name"),
        (input("   "), "name"),
        (input("a/b"), "name"),
        (input(&"x".repeat(65)), "name"),
        (
            MirrorConfigInput {
                upstream: Some("https://registry.terraform.io".into()),
                ..input("u")
            },
            "upstream",
        ),
        (
            MirrorConfigInput {
                upstream: Some("registry.terraform.io:0".into()),
                ..input("u")
            },
            "upstream",
        ),
        (
            MirrorConfigInput {
                hostnames: strings(&["registry.terraform.io", "not a host"]),
                ..input("h")
            },
            "hostnames",
        ),
        (
            MirrorConfigInput {
                hostnames: strings(&["example.com/v1/mirror"]),
                ..input("h")
            },
            "hostnames",
        ),
        (
            MirrorConfigInput {
                hostnames: strings(&[""]),
                ..input("h")
            },
            "hostnames",
        ),
        (
            MirrorConfigInput {
                namespaces: strings(&["-hashicorp"]),
                ..input("n")
            },
            "namespaces",
        ),
        (
            MirrorConfigInput {
                namespaces: strings(&["hashicorp/aws"]),
                ..input("n")
            },
            "namespaces",
        ),
        (
            // A module namespace, never a provider's: it could match nothing.
            MirrorConfigInput {
                namespaces: strings(&["my_org"]),
                ..input("n")
            },
            "namespaces",
        ),
        (
            MirrorConfigInput {
                provider_types: strings(&["terraform-provider-aws"]),
                ..input("t")
            },
            "provider_types",
        ),
        (
            MirrorConfigInput {
                provider_types: strings(&["my_type"]),
                ..input("t")
            },
            "provider_types",
        ),
        (
            MirrorConfigInput {
                provider_types: strings(&[""]),
                ..input("t")
            },
            "provider_types",
        ),
        (
            MirrorConfigInput {
                version_constraint: Some(">> 1.0".into()),
                ..input("v")
            },
            "version_constraint",
        ),
        (
            MirrorConfigInput {
                version_constraint: Some("~>".into()),
                ..input("v")
            },
            "version_constraint",
        ),
        (
            MirrorConfigInput {
                platforms: strings(&["linux"]),
                ..input("p")
            },
            "platforms",
        ),
        (
            MirrorConfigInput {
                platforms: strings(&["linux_amd64", "linux-amd64"]),
                ..input("p")
            },
            "platforms",
        ),
        (
            MirrorConfigInput {
                sync_interval_secs: Some(59),
                ..input("i")
            },
            "sync_interval_secs",
        ),
        (
            MirrorConfigInput {
                sync_interval_secs: Some(0),
                ..input("i")
            },
            "sync_interval_secs",
        ),
        (
            MirrorConfigInput {
                sync_interval_secs: Some(7 * 24 * 3600 + 1),
                ..input("i")
            },
            "sync_interval_secs",
        ),
    ];
    for (case, check) in cases {
        let described = format!("{case:?}");
        match w.configs.create(case).await {
            Err(ServiceError::Invalid { check: got, .. }) => {
                assert_eq!(got, check, "{described}")
            }
            other => panic!("{described}: expected Invalid({check}), got {other:?}"),
        }
    }
    assert!(w.configs.list().await.unwrap().is_empty());

    // The bounds themselves are accepted.
    for (name, secs) in [("min", 60), ("max", 7 * 24 * 3600)] {
        let created = w
            .create(MirrorConfigInput {
                sync_interval_secs: Some(secs),
                ..input(name)
            })
            .await;
        assert_eq!(created.sync_interval_secs, secs);
    }
    // Updates are validated the same way.
    let existing = w.configs.list().await.unwrap().remove(0);
    expect_invalid(
        w.configs
            .update(
                existing.id,
                MirrorConfigInput {
                    platforms: strings(&["linux"]),
                    ..input("min")
                },
            )
            .await,
        "platforms",
    );
}

#[tokio::test]
async fn a_taken_name_conflicts() {
    let w = World::new();
    let main = w.create(input("main")).await;
    let other = w.create(input("other")).await;

    let err = w.configs.create(input("main")).await.unwrap_err();
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
    let err = w.configs.update(other.id, input("main")).await.unwrap_err();
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
    // Keeping one's own name is fine.
    w.configs.update(main.id, input("main")).await.unwrap();
    assert_eq!(w.configs.list().await.unwrap().len(), 2);
}

#[tokio::test]
async fn update_replaces_the_operator_fields_and_keeps_the_rest() {
    let w = World::new();
    let created = w.create(input("main")).await;
    let run = w.add_run(&created, 10).await;
    w.clock.advance(Span::seconds(100));

    let updated = w
        .configs
        .update(
            created.id,
            MirrorConfigInput {
                namespaces: strings(&["hashicorp"]),
                hostnames: strings(&["registry.opentofu.org"]),
                enabled: false,
                sync_interval_secs: Some(900),
                ..input("renamed")
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.name, "renamed");
    assert_eq!(updated.hostnames, vec![host("registry.opentofu.org")]);
    assert_eq!(updated.filter.namespaces, ["hashicorp"]);
    assert!(!updated.enabled);
    assert_eq!(updated.sync_interval_secs, 900);
    assert_eq!(updated.created_at, created.created_at);
    assert_eq!(updated.updated_at, w.clock.now());
    assert_eq!(updated.last_sync_at, Some(run.started_at));
    assert_eq!(updated.last_sync_status, Some(SyncStatus::Succeeded));
    assert_eq!(w.configs.get(created.id).await.unwrap(), updated);
}

#[tokio::test]
async fn unknown_configurations_are_not_found() {
    let w = World::new();
    let unknown = Uuid::now_v7();
    assert_not_found(w.configs.get(unknown).await);
    assert_not_found(w.configs.update(unknown, input("x")).await);
    assert_not_found(w.configs.delete(unknown).await);
    assert_not_found(w.configs.history(unknown, 0, 10).await);
    assert!(w.configs.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn delete_removes_the_configuration_and_its_history() {
    let w = World::new();
    let created = w.create(input("main")).await;
    w.add_run(&created, 1).await;
    let kept = w.create(input("kept")).await;
    w.add_run(&kept, 1).await;

    w.configs.delete(created.id).await.unwrap();
    assert_not_found(w.configs.get(created.id).await);
    assert!(
        w.repo
            .list_runs(created.id, 0, 10)
            .await
            .unwrap()
            .0
            .is_empty()
    );
    let ids: Vec<Uuid> = w
        .configs
        .list()
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, [kept.id]);
    assert_eq!(w.configs.history(kept.id, 0, 10).await.unwrap().0.len(), 1);
    // Deleting twice: gone.
    assert_not_found(w.configs.delete(created.id).await);
}

#[tokio::test]
async fn history_pages_newest_first() {
    let w = World::new();
    let created = w.create(input("main")).await;
    let first = w.add_run(&created, 0).await;
    let second = w.add_run(&created, 600).await;
    let third = w.add_run(&created, 1200).await;

    let (page, more) = w.configs.history(created.id, 0, 2).await.unwrap();
    assert_eq!(page, vec![third, second]);
    assert!(more);
    let (page, more) = w.configs.history(created.id, 2, 2).await.unwrap();
    assert_eq!(page, vec![first]);
    assert!(!more);
}

#[tokio::test]
async fn changes_reach_this_replicas_mirror_at_once() {
    let w = World::new();
    let (tf, random) = (tf(), addr("random"));
    w.upstream
        .add_version(&tf, &random, "1.0.0", &["linux_amd64"]);

    // Cached before anything exists.
    assert_not_found(w.catalog.index(&tf, &random).await);
    let created = w
        .create(MirrorConfigInput {
            namespaces: strings(&["hashicorp"]),
            ..input("main")
        })
        .await;
    assert_eq!(w.catalog.index(&tf, &random).await.unwrap(), ["1.0.0"]);

    w.configs
        .update(
            created.id,
            MirrorConfigInput {
                namespaces: strings(&["hashicorp"]),
                enabled: false,
                ..input("main")
            },
        )
        .await
        .unwrap();
    assert_not_found(w.catalog.index(&tf, &random).await);

    w.configs
        .update(
            created.id,
            MirrorConfigInput {
                namespaces: strings(&["hashicorp"]),
                ..input("main")
            },
        )
        .await
        .unwrap();
    assert_eq!(w.catalog.index(&tf, &random).await.unwrap(), ["1.0.0"]);
    w.configs.delete(created.id).await.unwrap();
    assert_not_found(w.catalog.index(&tf, &random).await);
}
