//! `audit_repository_contract`.

use uuid::Uuid;

use super::at;
use super::identity_fixtures::assert_conflict;
use crate::driven::{AuditOutcome, AuditQuery, AuditRecord, AuditRepository};

fn record(secs: i64, action: &str, resource: &str, outcome: AuditOutcome) -> AuditRecord {
    AuditRecord {
        id: Uuid::now_v7(),
        at: at(secs),
        principal: None,
        principal_name: None,
        organization_id: None,
        action: action.to_string(),
        resource: resource.to_string(),
        outcome,
        status: 200,
        client_ip: None,
        request_id: None,
        detail: None,
    }
}

fn query(f: impl FnOnce(&mut AuditQuery)) -> AuditQuery {
    let mut q = AuditQuery {
        limit: 100,
        ..AuditQuery::default()
    };
    f(&mut q);
    q
}

/// The documented behaviour of [`AuditRepository`], on an empty log.
pub async fn audit_repository_contract(repo: &dyn AuditRepository) {
    let org = Uuid::now_v7();
    let publish = AuditRecord {
        principal: Some("user:0001".into()),
        principal_name: Some("alice".into()),
        organization_id: Some(org),
        status: 201,
        client_ip: Some("10.0.0.7".into()),
        request_id: Some("req-1".into()),
        ..record(
            0,
            "module.publish",
            "module:hashicorp/consul/aws/1.2.0",
            AuditOutcome::Success,
        )
    };
    let denied = AuditRecord {
        status: 403,
        detail: Some("missing modules:write".into()),
        principal: Some("key:0002".into()),
        ..record(
            60,
            "module.publish",
            "module:acme/net_100%/aws/1.0.0",
            AuditOutcome::Denied,
        )
    };
    let login = AuditRecord {
        principal: Some("user:0001".into()),
        ..record(120, "auth.login", "user:alice", AuditOutcome::Success)
    };
    let failed = AuditRecord {
        status: 500,
        organization_id: Some(org),
        ..record(
            120,
            "provider.publish",
            "provider:hashicorp/aws/5.0.0",
            AuditOutcome::Failed,
        )
    };
    let anonymous = AuditRecord {
        status: 401,
        ..record(
            180,
            "module.download",
            "Module:hashicorp/consul/aws/1.2.0",
            AuditOutcome::Denied,
        )
    };
    for r in [&publish, &denied, &login, &failed, &anonymous] {
        repo.append(r).await.expect("append");
    }
    assert_conflict(repo.append(&publish).await, "a taken id");

    // Same instant: the later id first.
    let mut same_time = [login.clone(), failed.clone()];
    same_time.sort_by_key(|r| std::cmp::Reverse(r.id));
    let newest_first: Vec<AuditRecord> = [anonymous.clone()]
        .into_iter()
        .chain(same_time)
        .chain([denied.clone(), publish.clone()])
        .collect();
    assert_eq!(
        repo.query(&query(|_| {})).await.expect("query"),
        (newest_first.clone(), 5),
        "newest first; every field round-trips"
    );
    assert_eq!(
        repo.query(&query(|q| {
            q.offset = 1;
            q.limit = 2
        }))
        .await
        .expect("query"),
        (newest_first[1..3].to_vec(), 5)
    );
    assert_eq!(
        repo.query(&query(|q| q.offset = 5)).await.expect("query"),
        (vec![], 5)
    );

    let cases: Vec<(AuditQuery, Vec<&AuditRecord>)> = vec![
        (
            query(|q| q.action = Some("module.publish".into())),
            vec![&denied, &publish],
        ),
        (
            query(|q| q.resource = Some("module:hashicorp/".into())),
            vec![&publish],
        ),
        (
            query(|q| q.resource = Some("module:acme/net_100%".into())),
            vec![&denied],
        ),
        (
            query(|q| q.resource = Some("module:acme/net%".into())),
            vec![],
        ),
        (
            query(|q| q.principal = Some("user:0001".into())),
            vec![&login, &publish],
        ),
        (
            query(|q| q.outcome = Some(AuditOutcome::Denied)),
            vec![&anonymous, &denied],
        ),
        (
            query(|q| q.organization_id = Some(org)),
            vec![&failed, &publish],
        ),
        (
            query(|q| {
                q.since = Some(at(60));
                q.until = Some(at(180))
            }),
            vec![&login, &failed, &denied],
        ),
        (
            query(|q| {
                q.action = Some("module.publish".into());
                q.outcome = Some(AuditOutcome::Success);
                q.since = Some(at(0));
            }),
            vec![&publish],
        ),
    ];
    for (q, expected) in cases {
        let (mut found, total) = repo.query(&q).await.expect("query");
        let mut expected: Vec<AuditRecord> = expected.into_iter().cloned().collect();
        // Ties at one instant are ordered by id; compare as sets of ids there.
        found.sort_by_key(|r| std::cmp::Reverse((r.at, r.id)));
        expected.sort_by_key(|r| std::cmp::Reverse((r.at, r.id)));
        assert_eq!(total, expected.len() as u64, "total for {q:?}");
        assert_eq!(found, expected, "query {q:?}");
    }
}
