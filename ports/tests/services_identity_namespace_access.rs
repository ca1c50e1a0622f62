//! `NamespaceAccess`: anonymous and public reads, reads and writes across organizations,
//! where a namespace created by a publish goes, and the lookup cache.
#![cfg(feature = "testkit")]

mod identity_common;

use tfr_core::Scope::*;
use tfr_ports::driven::{
    DEFAULT_ORGANIZATION_ID, KeyOwner, PUBLISHER_TEMPLATE_ID, VIEWER_TEMPLATE_ID,
};
use tfr_ports::service::{NamespaceDecision, Principal};

use identity_common::World;

fn allowed(org: uuid::Uuid) -> NamespaceDecision {
    NamespaceDecision::Allowed {
        organization_id: org,
    }
}

#[track_caller]
fn assert_forbidden(decision: NamespaceDecision, scope: &str) {
    match decision {
        NamespaceDecision::Forbidden(msg) => assert!(msg.contains(scope), "{msg}"),
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

/// A user with `template` in `org`, as a session principal.
async fn member_of(w: &World, name: &str, org: uuid::Uuid, template: uuid::Uuid) -> Principal {
    let user = w.user(name).await;
    w.member(org, user.id, template).await;
    w.session_principal(user.id).await
}

#[tokio::test]
async fn anonymous_read_on_lets_anyone_read_anything() {
    let w = World::with_anonymous_read(true);
    assert!(w.namespace_access.anonymous_read());
    let org = w.org("platform").await;
    w.namespace(org.id, "private", false).await;
    let na = &w.namespace_access;
    assert_eq!(
        na.check_read(None, "private", ModulesRead).await.unwrap(),
        allowed(org.id)
    );
    assert_eq!(
        na.check_read(None, "unknown", ProvidersRead).await.unwrap(),
        allowed(DEFAULT_ORGANIZATION_ID)
    );
    // Writes still need a credential.
    assert_eq!(
        na.check_write(None, "private", ModulesWrite).await.unwrap(),
        NamespaceDecision::Unauthenticated
    );
}

#[tokio::test]
async fn anonymous_read_off_needs_a_credential_except_for_public_namespaces() {
    let w = World::new();
    assert!(!w.namespace_access.anonymous_read());
    let org = w.org("platform").await;
    w.namespace(org.id, "Open", true).await;
    w.namespace(org.id, "closed", false).await;
    let na = &w.namespace_access;
    assert_eq!(
        na.check_read(None, "open", ModulesRead).await.unwrap(),
        allowed(org.id),
        "public, case-insensitive"
    );
    assert_eq!(
        na.check_read(None, "closed", ModulesRead).await.unwrap(),
        NamespaceDecision::Unauthenticated
    );
    assert_eq!(
        na.check_read(None, "unknown", ModulesRead).await.unwrap(),
        NamespaceDecision::Unauthenticated
    );
    // A public namespace is readable by a principal without any scope too.
    let nobody = w.user("nobody").await;
    let p = w.session_principal(nobody.id).await;
    assert_eq!(
        na.check_read(Some(&p), "open", ModulesRead).await.unwrap(),
        allowed(org.id)
    );
}

#[tokio::test]
async fn reads_need_the_scope_in_the_owning_organization() {
    let w = World::new();
    let platform = w.org("platform").await;
    let data = w.org("data").await;
    w.namespace(platform.id, "infra", false).await;
    w.namespace(data.id, "lake", false).await;
    let p = member_of(&w, "alice", platform.id, VIEWER_TEMPLATE_ID).await;
    let na = &w.namespace_access;
    assert_eq!(
        na.check_read(Some(&p), "infra", ModulesRead).await.unwrap(),
        allowed(platform.id)
    );
    assert_forbidden(
        na.check_read(Some(&p), "lake", ModulesRead).await.unwrap(),
        "modules:read",
    );
    // Viewer reads modules but holds nothing on audit.
    assert_forbidden(
        na.check_read(Some(&p), "infra", AuditRead).await.unwrap(),
        "audit:read",
    );
}

#[tokio::test]
async fn an_unknown_namespace_is_left_to_404_for_whoever_reads_somewhere() {
    let w = World::new();
    let platform = w.org("platform").await;
    let reader = member_of(&w, "alice", platform.id, VIEWER_TEMPLATE_ID).await;
    let nobody = w.user("nobody").await;
    let nobody = w.session_principal(nobody.id).await;
    let na = &w.namespace_access;
    assert_eq!(
        na.check_read(Some(&reader), "ghost", ModulesRead)
            .await
            .unwrap(),
        allowed(DEFAULT_ORGANIZATION_ID)
    );
    assert_forbidden(
        na.check_read(Some(&nobody), "ghost", ModulesRead)
            .await
            .unwrap(),
        "modules:read",
    );
}

#[tokio::test]
async fn writes_into_an_existing_namespace_need_the_scope_in_its_organization() {
    let w = World::new();
    let platform = w.org("platform").await;
    let data = w.org("data").await;
    w.namespace(data.id, "lake", false).await;
    w.namespace(platform.id, "infra", true).await;
    let p = member_of(&w, "alice", platform.id, PUBLISHER_TEMPLATE_ID).await;
    let na = &w.namespace_access;
    assert_eq!(
        na.check_write(Some(&p), "infra", ModulesWrite)
            .await
            .unwrap(),
        allowed(platform.id)
    );
    assert_forbidden(
        na.check_write(Some(&p), "lake", ModulesWrite)
            .await
            .unwrap(),
        "modules:write",
    );
    // Public only opens reads.
    let viewer = member_of(&w, "bob", data.id, VIEWER_TEMPLATE_ID).await;
    assert_forbidden(
        na.check_write(Some(&viewer), "infra", ModulesWrite)
            .await
            .unwrap(),
        "modules:write",
    );
}

#[tokio::test]
async fn a_new_namespace_from_an_organization_key_goes_to_the_keys_organization() {
    let w = World::new();
    let platform = w.org("platform").await;
    let secret = w
        .key(KeyOwner::Organization(platform.id), "ci", &[ModulesWrite])
        .await;
    let p = w.bearer(&secret).await.unwrap();
    assert_eq!(
        w.namespace_access
            .check_write(Some(&p), "brand-new", ModulesWrite)
            .await
            .unwrap(),
        allowed(platform.id)
    );
    assert_forbidden(
        w.namespace_access
            .check_write(Some(&p), "brand-new", ProvidersWrite)
            .await
            .unwrap(),
        "providers:write",
    );
}

#[tokio::test]
async fn a_new_namespace_from_a_user_goes_to_their_single_writable_organization() {
    let w = World::new();
    let platform = w.org("platform").await;
    let data = w.org("data").await;
    let alice = w.user("alice").await;
    w.member(platform.id, alice.id, PUBLISHER_TEMPLATE_ID).await;
    w.member(data.id, alice.id, VIEWER_TEMPLATE_ID).await;
    let p = w.session_principal(alice.id).await;
    assert_eq!(
        w.namespace_access
            .check_write(Some(&p), "brand-new", ModulesWrite)
            .await
            .unwrap(),
        allowed(platform.id),
        "the only organization where alice may write"
    );
}

#[tokio::test]
async fn a_new_namespace_goes_to_the_default_organization_when_the_home_is_ambiguous() {
    let w = World::new();
    let platform = w.org("platform").await;
    let data = w.org("data").await;
    let na = &w.namespace_access;

    // Writable in two organizations, not in the default one: refused.
    let two = w.user("two").await;
    w.member(platform.id, two.id, PUBLISHER_TEMPLATE_ID).await;
    w.member(data.id, two.id, PUBLISHER_TEMPLATE_ID).await;
    let p = w.session_principal(two.id).await;
    assert_forbidden(
        na.check_write(Some(&p), "brand-new", ModulesWrite)
            .await
            .unwrap(),
        "modules:write",
    );

    // Writable in the default organization and another: the default one.
    let both = w.user("both").await;
    w.member(DEFAULT_ORGANIZATION_ID, both.id, PUBLISHER_TEMPLATE_ID)
        .await;
    w.member(data.id, both.id, PUBLISHER_TEMPLATE_ID).await;
    let p = w.session_principal(both.id).await;
    assert_eq!(
        na.check_write(Some(&p), "brand-new", ModulesWrite)
            .await
            .unwrap(),
        allowed(DEFAULT_ORGANIZATION_ID)
    );

    // A system key (global scopes): the default organization.
    let system = w.key(KeyOwner::System, "ops", &[ModulesWrite]).await;
    let p = w.bearer(&system).await.unwrap();
    assert_eq!(
        na.check_write(Some(&p), "brand-new", ModulesWrite)
            .await
            .unwrap(),
        allowed(DEFAULT_ORGANIZATION_ID)
    );

    // No write anywhere: refused.
    let viewer = member_of(&w, "viewer", platform.id, VIEWER_TEMPLATE_ID).await;
    assert_forbidden(
        na.check_write(Some(&viewer), "brand-new", ModulesWrite)
            .await
            .unwrap(),
        "modules:write",
    );
}

#[tokio::test]
async fn lookups_are_cached_until_invalidated() {
    let w = World::new();
    let platform = w.org("platform").await;
    let p = member_of(&w, "alice", platform.id, PUBLISHER_TEMPLATE_ID).await;
    let na = &w.namespace_access;
    assert!(na.find("Infra").await.unwrap().is_none());

    // Created straight in the repository (another replica, or a publish): the cached
    // "not found" stands until invalidated.
    w.namespace(platform.id, "Infra", true).await;
    assert!(na.find("infra").await.unwrap().is_none(), "cached miss");
    assert_eq!(
        na.check_read(None, "infra", ModulesRead).await.unwrap(),
        NamespaceDecision::Unauthenticated
    );

    na.invalidate("INFRA");
    let found = na
        .find("infra")
        .await
        .unwrap()
        .expect("seen after invalidate");
    assert_eq!(found.organization_id, platform.id);
    assert_eq!(found.name, "Infra");
    assert_eq!(
        na.check_read(None, "infra", ModulesRead).await.unwrap(),
        allowed(platform.id)
    );
    assert_eq!(
        na.check_write(Some(&p), "infra", ModulesWrite)
            .await
            .unwrap(),
        allowed(platform.id)
    );
}

#[tokio::test]
async fn admin_namespace_changes_are_seen_at_once() {
    let w = World::new();
    let platform = w.org("platform").await;
    let data = w.org("data").await;
    let root = w
        .global_user("root", tfr_ports::driven::ADMIN_TEMPLATE_ID)
        .await;
    let actor = w.session_principal(root.id).await;
    let na = &w.namespace_access;

    assert!(na.find("infra").await.unwrap().is_none());
    w.admin
        .create_namespace(&platform, "infra", false)
        .await
        .unwrap();
    assert_eq!(
        na.find("infra").await.unwrap().unwrap().organization_id,
        platform.id,
        "create invalidates"
    );
    assert_eq!(
        na.check_read(None, "infra", ModulesRead).await.unwrap(),
        NamespaceDecision::Unauthenticated
    );

    w.admin
        .update_namespace(&actor, "infra", Some(&data), Some(true))
        .await
        .unwrap();
    assert_eq!(
        na.check_read(None, "infra", ModulesRead).await.unwrap(),
        allowed(data.id),
        "update invalidates: now public, in data"
    );
}
