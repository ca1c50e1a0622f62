//! `AuditLog`: rows recorded with the principal and the clock's time, long fields cut
//! (at a character boundary), queries clamped and checked.
#![cfg(feature = "testkit")]

mod identity_common;

use std::sync::Arc;

use chrono::Duration;
use tfr_ports::driven::{AuditOutcome, AuditQuery, Clock, KeyOwner};
use tfr_ports::service::{AuditActor, AuditEvent, AuditLog, ServiceError};
use tfr_ports::testkit::ManualClock;
use tfr_ports::testkit::repos::InMemoryAuditRepository;

use identity_common::World;

struct Audit {
    repo: Arc<InMemoryAuditRepository>,
    clock: Arc<ManualClock>,
    log: AuditLog,
}

fn audit() -> Audit {
    let repo = Arc::new(InMemoryAuditRepository::new());
    let clock = Arc::new(ManualClock::default());
    let log = AuditLog::new(repo.clone(), clock.clone());
    Audit { repo, clock, log }
}

fn event(action: &str) -> AuditEvent {
    AuditEvent {
        action: action.into(),
        resource: "module:hashicorp/consul/aws/1.0.0".into(),
        outcome: AuditOutcome::Success,
        status: 201,
        organization_id: None,
        client_ip: Some("192.0.2.1".into()),
        request_id: Some("req-1".into()),
        detail: None,
    }
}

#[tokio::test]
async fn a_record_carries_the_principal_and_the_clocks_time() {
    let w = World::new();
    let a = audit();
    let secret = w
        .key(KeyOwner::System, "ops", &[tfr_core::Scope::ModulesWrite])
        .await;
    let p = w.bearer(&secret).await.unwrap();
    a.log
        .record(AuditActor::from(&p), event("module.publish"))
        .await
        .unwrap();
    let rows = a.repo.all();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.principal, Some(format!("key:{}", p.key_id.unwrap())));
    assert_eq!(row.principal_name.as_deref(), Some("ops"));
    assert_eq!(row.at, a.clock.now());
    assert_eq!(row.action, "module.publish");
    assert_eq!(row.status, 201);
    assert_eq!(row.outcome, AuditOutcome::Success);
    assert_eq!(a.log.now(), a.clock.now());

    a.log
        .record(AuditActor::default(), event("auth.login"))
        .await
        .unwrap();
    assert_eq!(a.repo.all()[1].principal, None, "no credential accepted");
}

#[tokio::test]
async fn long_fields_are_truncated_at_a_character_boundary() {
    let a = audit();
    let actor = AuditActor {
        id: Some("user:x".into()),
        name: Some("n".repeat(300)),
    };
    let e = AuditEvent {
        action: "a".repeat(150),
        resource: "r".repeat(900),
        client_ip: Some("i".repeat(150)),
        request_id: Some("q".repeat(150)),
        // 'é' is two bytes: 499 ASCII bytes then 'é' would straddle the 500-byte cut.
        detail: Some(format!("{}é{}", "d".repeat(499), "x".repeat(1000))),
        ..event("ignored")
    };
    a.log.record(actor, e).await.unwrap();
    let row = &a.repo.all()[0];
    assert_eq!(row.principal_name.as_ref().unwrap().len(), 200);
    assert_eq!(row.action.len(), 100);
    assert_eq!(row.resource.len(), 500);
    assert_eq!(row.client_ip.as_ref().unwrap().len(), 100);
    assert_eq!(row.request_id.as_ref().unwrap().len(), 100);
    assert_eq!(row.detail.as_deref(), Some("d".repeat(499).as_str()));

    // Short fields are kept as they are.
    a.log
        .record(
            AuditActor::default(),
            AuditEvent {
                detail: Some("denied: é".into()),
                ..event("module.delete")
            },
        )
        .await
        .unwrap();
    let row = &a.repo.all()[1];
    assert_eq!(row.detail.as_deref(), Some("denied: é"));
    assert_eq!(row.action, "module.delete");
}

#[tokio::test]
async fn query_clamps_the_limit() {
    let a = audit();
    for i in 0..3 {
        a.clock.advance(Duration::seconds(1));
        a.log
            .record(AuditActor::default(), event(&format!("action.{i}")))
            .await
            .unwrap();
    }
    let (rows, total) = a
        .log
        .query(AuditQuery {
            limit: 0,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 3);
    assert_eq!(rows.len(), 1, "a limit of 0 is raised to 1");
    assert_eq!(rows[0].action, "action.2", "newest first");

    let (rows, _) = a
        .log
        .query(AuditQuery {
            limit: u64::MAX,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
}

#[tokio::test]
async fn query_refuses_an_empty_or_reversed_time_range() {
    let a = audit();
    a.log
        .record(AuditActor::default(), event("x"))
        .await
        .unwrap();
    let now = a.clock.now();
    for (since, until) in [(now, now), (now + Duration::seconds(1), now)] {
        match a
            .log
            .query(AuditQuery {
                since: Some(since),
                until: Some(until),
                limit: 10,
                ..AuditQuery::default()
            })
            .await
        {
            Err(ServiceError::Invalid { check, .. }) => assert_eq!(check, "time_range"),
            other => panic!("expected Invalid(time_range), got {other:?}"),
        }
    }
    let (rows, _) = a
        .log
        .query(AuditQuery {
            since: Some(now),
            until: Some(now + Duration::seconds(1)),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "since is inclusive");
}
