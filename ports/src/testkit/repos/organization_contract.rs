//! `organization_repository_contract`.

use chrono::Duration;
use tfr_core::{Scope, ScopeSet};
use uuid::Uuid;

use super::identity_fixtures::{assert_conflict, member, org, template, user};
use super::{IdentityRepos, at, default_organization};
use crate::driven::{
    ApiKeyRecord, DEFAULT_ORGANIZATION_ID, KeyOwner, MembershipSource, NamespaceRecord,
    OrganizationRecord, VIEWER_TEMPLATE_ID,
};

fn org_key(organization: Uuid, name: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        id: Uuid::now_v7(),
        owner: KeyOwner::Organization(organization),
        name: name.to_string(),
        prefix: "tfr_org000".to_string(),
        key_hash: format!("$2b$12${name}"),
        scopes: ScopeSet::new([Scope::ModulesWrite]),
        created_at: at(0),
        expires_at: Some(at(0) + Duration::days(1)),
        last_used_at: None,
        revoked_at: None,
    }
}

/// The documented behaviour of [`OrganizationRepository`](crate::driven::OrganizationRepository),
/// on a fresh database (only the seeded default organization exists).
pub async fn organization_repository_contract(r: IdentityRepos<'_>) {
    let orgs = r.organizations;
    assert_eq!(
        orgs.list().await.expect("list"),
        vec![default_organization()],
        "a fresh database holds the default organization"
    );
    assert_eq!(
        orgs.find(DEFAULT_ORGANIZATION_ID).await.expect("find"),
        Some(default_organization())
    );

    let platform = org("platform", 10);
    let apps = org("apps", 20);
    orgs.insert(&platform).await.expect("insert platform");
    orgs.insert(&apps).await.expect("insert apps");
    assert_conflict(
        orgs.insert(&OrganizationRecord {
            id: Uuid::now_v7(),
            ..platform.clone()
        })
        .await,
        "a taken name",
    );
    assert_conflict(
        orgs.insert(&OrganizationRecord {
            name: "other".into(),
            ..platform.clone()
        })
        .await,
        "a taken id",
    );

    assert_eq!(orgs.find(apps.id).await.expect("find"), Some(apps.clone()));
    assert_eq!(orgs.find(Uuid::now_v7()).await.expect("find"), None);
    assert_eq!(
        orgs.find_by_name("platform").await.expect("by name"),
        Some(platform.clone())
    );
    assert_eq!(orgs.find_by_name("nobody").await.expect("by name"), None);
    let names: Vec<String> = orgs
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, ["apps", "default", "platform"], "ordered by name");

    // Only the display name changes.
    let renamed = OrganizationRecord {
        name: "ignored".into(),
        display_name: "Applications".into(),
        created_at: at(999),
        ..apps.clone()
    };
    assert!(orgs.update(&renamed).await.expect("update"));
    assert_eq!(
        orgs.find(apps.id).await.expect("find"),
        Some(OrganizationRecord {
            display_name: "Applications".into(),
            ..apps.clone()
        })
    );
    assert!(!orgs.update(&org("ghost", 0)).await.expect("update unknown"));

    // An organization that owns a namespace cannot go.
    let ns = NamespaceRecord {
        id: Uuid::now_v7(),
        name: "Platform".into(),
        organization_id: platform.id,
        public: false,
        created_at: at(30),
    };
    r.namespaces.insert(&ns).await.expect("namespace");
    assert_conflict(
        orgs.delete(platform.id).await,
        "deleting an owner of a namespace",
    );
    assert!(
        r.namespaces
            .update(&NamespaceRecord {
                organization_id: DEFAULT_ORGANIZATION_ID,
                ..ns.clone()
            })
            .await
            .expect("move the namespace")
    );

    // Nor one with a live key; its revoked keys go with it.
    let live = org_key(platform.id, "ci");
    r.api_keys.insert(&live).await.expect("key");
    assert_conflict(
        orgs.delete(platform.id).await,
        "deleting an owner of a live key",
    );
    assert!(r.api_keys.revoke(live.id, at(40)).await.expect("revoke"));

    // A template of the organization held in another organization keeps it too.
    let deployer = template(platform.id, "deployer", &[Scope::ModulesWrite]);
    r.templates.insert(&deployer).await.expect("template");
    let alice = user("alice", 0);
    r.users.insert(&alice).await.expect("user");
    let borrowed = member(apps.id, alice.id, deployer.id, MembershipSource::Manual, 50);
    r.memberships.upsert(&borrowed).await.expect("member");
    assert_conflict(
        orgs.delete(platform.id).await,
        "deleting an organization whose template is held elsewhere",
    );
    assert!(orgs.find(platform.id).await.expect("find").is_some());
    assert!(r.templates.find(deployer.id).await.expect("find").is_some());

    // Members and own templates go with it.
    r.memberships
        .upsert(&member(
            apps.id,
            alice.id,
            VIEWER_TEMPLATE_ID,
            MembershipSource::Manual,
            50,
        ))
        .await
        .expect("member elsewhere");
    r.memberships
        .upsert(&member(
            platform.id,
            alice.id,
            deployer.id,
            MembershipSource::Sso,
            60,
        ))
        .await
        .expect("member");
    assert!(orgs.delete(platform.id).await.expect("delete"));
    assert_eq!(orgs.find(platform.id).await.expect("find"), None);
    assert_eq!(r.templates.find(deployer.id).await.expect("find"), None);
    assert_eq!(r.api_keys.find_by_id(live.id).await.expect("key"), None);
    let left: Vec<Uuid> = r
        .memberships
        .list_for_user(alice.id)
        .await
        .expect("memberships")
        .into_iter()
        .map(|m| m.organization_id)
        .collect();
    assert_eq!(left, vec![apps.id]);
    assert!(!orgs.delete(platform.id).await.expect("delete again"));
    assert!(!orgs.delete(Uuid::now_v7()).await.expect("delete unknown"));
    assert_eq!(
        r.namespaces
            .find_by_name("platform")
            .await
            .expect("namespace")
            .map(|n| n.organization_id),
        Some(DEFAULT_ORGANIZATION_ID)
    );
}
