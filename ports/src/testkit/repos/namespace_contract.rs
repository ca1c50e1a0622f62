//! `namespace_repository_contract`.

use uuid::Uuid;

use super::identity_fixtures::{assert_conflict, org};
use super::{IdentityRepos, at};
use crate::driven::{DEFAULT_ORGANIZATION_ID, NamespaceRecord};

fn namespace(name: &str, organization_id: Uuid, public: bool, secs: i64) -> NamespaceRecord {
    NamespaceRecord {
        id: Uuid::now_v7(),
        name: name.to_string(),
        organization_id,
        public,
        created_at: at(secs),
    }
}

/// The documented behaviour of [`NamespaceRepository`](crate::driven::NamespaceRepository),
/// on a fresh database.
pub async fn namespace_repository_contract(r: IdentityRepos<'_>) {
    let n = r.namespaces;
    assert!(n.list(None).await.expect("list").is_empty());
    assert_eq!(n.find_by_name("hashicorp").await.expect("find"), None);

    let platform = org("platform", 0);
    r.organizations.insert(&platform).await.expect("org");
    let hashicorp = namespace("HashiCorp", DEFAULT_ORGANIZATION_ID, false, 0);
    let acme = namespace("acme", platform.id, true, 10);
    let zeta = namespace("Zeta", platform.id, false, 20);
    for ns in [&zeta, &hashicorp, &acme] {
        n.insert(ns).await.expect("insert");
    }
    assert_conflict(
        n.insert(&namespace("HASHICORP", platform.id, false, 30))
            .await,
        "a name taken in another case",
    );
    assert_conflict(
        n.insert(&NamespaceRecord {
            name: "fresh".into(),
            ..acme.clone()
        })
        .await,
        "a taken id",
    );

    assert_eq!(
        n.find_by_name("hashiCORP").await.expect("find"),
        Some(hashicorp.clone()),
        "case-insensitive, display case kept"
    );
    assert_eq!(
        n.list(None).await.expect("list"),
        vec![acme.clone(), hashicorp.clone(), zeta.clone()],
        "ordered by name, ignoring case"
    );
    assert_eq!(
        n.list(Some(platform.id)).await.expect("list"),
        vec![acme.clone(), zeta.clone()]
    );
    assert_eq!(
        n.list(Some(DEFAULT_ORGANIZATION_ID)).await.expect("list"),
        vec![hashicorp.clone()]
    );
    assert!(n.list(Some(Uuid::now_v7())).await.expect("list").is_empty());

    // Organization and public flag change; name and creation time do not.
    let moved = NamespaceRecord {
        organization_id: platform.id,
        public: true,
        name: "ignored".into(),
        created_at: at(999),
        ..hashicorp.clone()
    };
    assert!(n.update(&moved).await.expect("update"));
    let expected = NamespaceRecord {
        organization_id: platform.id,
        public: true,
        ..hashicorp.clone()
    };
    assert_eq!(
        n.find_by_name("hashicorp").await.expect("find"),
        Some(expected.clone())
    );
    assert_eq!(
        n.list(Some(platform.id)).await.expect("list"),
        vec![acme, expected, zeta]
    );
    assert!(
        !n.update(&namespace("ghost", platform.id, true, 0))
            .await
            .expect("update unknown")
    );
}
