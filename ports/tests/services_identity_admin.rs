//! `IdentityAdmin`, organizations, memberships and users: the data-dependent rules, and
//! that each change reaches the authenticator's cache at once.
#![cfg(feature = "testkit")]

mod identity_common;

use tfr_core::Scope::*;
use tfr_ports::driven::{
    ADMIN_TEMPLATE_ID, AUDITOR_TEMPLATE_ID, DEFAULT_ORGANIZATION_ID, KeyOwner, MembershipSource,
    PUBLISHER_TEMPLATE_ID, UserQuery, VIEWER_TEMPLATE_ID,
};
use tfr_ports::service::UserChanges;
use uuid::Uuid;

use identity_common::World;
use identity_common::admin::{
    assert_conflict, assert_forbidden, assert_invalid, assert_not_found, setup,
};
use identity_common::scopes;

// ------------------------------------------------------------------ organizations

#[tokio::test]
async fn organization_names_are_lower_case_letters_digits_and_inner_hyphens() {
    let w = World::new();
    let created = w
        .admin
        .create_organization("  platform-team-2  ", None)
        .await
        .unwrap();
    assert_eq!(created.name, "platform-team-2");
    assert_eq!(
        created.display_name, "platform-team-2",
        "defaults to the name"
    );
    let named = w
        .admin
        .create_organization("data", Some("  Data Team "))
        .await
        .unwrap();
    assert_eq!(named.display_name, "Data Team");
    assert!(
        w.admin
            .create_organization(&"a".repeat(63), None)
            .await
            .is_ok()
    );

    for bad in [
        "",
        "Platform",
        "-platform",
        "platform-",
        "plat_form",
        "plat form",
        "platform.team",
        "ünïcode",
        &"a".repeat(64),
    ] {
        assert_invalid(w.admin.create_organization(bad, None).await, "name");
    }
    assert_invalid(
        w.admin.create_organization("ops", Some("tab\there")).await,
        "display_name",
    );
    assert_invalid(
        w.admin
            .create_organization("ops", Some(&"x".repeat(201)))
            .await,
        "display_name",
    );
    assert_conflict(w.admin.create_organization("data", None).await);
    assert_conflict(w.admin.create_organization("default", None).await);
}

#[tokio::test]
async fn organizations_are_found_by_id_or_name_and_renamed_with_the_same_rules() {
    let w = World::new();
    let org = w.admin.create_organization("platform", None).await.unwrap();
    assert_eq!(w.admin.organization("PLATFORM").await.unwrap(), org);
    assert_eq!(
        w.admin.organization(&org.id.to_string()).await.unwrap(),
        org
    );
    assert_not_found(w.admin.organization("nowhere").await);
    assert_not_found(w.admin.organization(&Uuid::now_v7().to_string()).await);

    let renamed = w
        .admin
        .rename_organization(&org, "Platform Team")
        .await
        .unwrap();
    assert_eq!(renamed.display_name, "Platform Team");
    assert_eq!(w.admin.organization("platform").await.unwrap(), renamed);
    assert_invalid(
        w.admin.rename_organization(&org, "  ").await,
        "display_name",
    );
}

#[tokio::test]
async fn the_default_organization_cannot_be_deleted() {
    let w = World::new();
    let default = w.admin.organization("default").await.unwrap();
    assert_eq!(default.id, DEFAULT_ORGANIZATION_ID);
    assert_conflict(w.admin.delete_organization(&default).await);
    assert!(w.admin.organization("default").await.is_ok());
}

#[tokio::test]
async fn an_organization_owning_namespaces_or_live_keys_cannot_be_deleted() {
    let s = setup().await;
    s.w.namespace(s.platform.id, "infra", false).await;
    assert_conflict(s.w.admin.delete_organization(&s.platform).await);

    let key =
        s.w.admin
            .create_key(
                &s.root,
                KeyOwner::Organization(s.data.id),
                "ci",
                scopes(&[ModulesRead]),
                None,
            )
            .await
            .unwrap();
    assert_conflict(s.w.admin.delete_organization(&s.data).await);
    s.w.admin.revoke_key(key.record).await.unwrap();
    s.w.admin.delete_organization(&s.data).await.unwrap();
    assert_not_found(s.w.admin.organization("data").await);
    assert_not_found(s.w.admin.delete_organization(&s.data).await);
}

#[tokio::test]
async fn deleting_an_organization_drops_its_members_grants_at_once() {
    let s = setup().await;
    let alice = s.w.user("alice").await;
    s.w.member(s.data.id, alice.id, PUBLISHER_TEMPLATE_ID).await;
    let token = s.w.sessions.issue(alice.id).token;
    assert!(
        s.w.bearer(&token)
            .await
            .unwrap()
            .grants
            .allows_somewhere(ModulesWrite)
    );
    s.w.admin.delete_organization(&s.data).await.unwrap();
    assert!(s.w.memberships(alice.id).await.is_empty());
    assert!(
        !s.w.bearer(&token)
            .await
            .unwrap()
            .grants
            .allows_somewhere(ModulesWrite),
        "the cached grants were dropped"
    );
}

// ------------------------------------------------------------------ memberships

#[tokio::test]
async fn set_member_refuses_to_grant_scopes_the_actor_lacks_there() {
    let s = setup().await;
    let alice = s.w.user("alice").await;
    // viewer = modules:read, providers:read, mirrors:read: all within the lead's role.
    let m =
        s.w.admin
            .set_member(&s.lead, &s.platform, alice.id, VIEWER_TEMPLATE_ID)
            .await
            .unwrap();
    assert_eq!(m.source, MembershipSource::Manual);
    assert_eq!(m.role_template_id, VIEWER_TEMPLATE_ID);
    // publisher adds providers:write, which the lead does not hold.
    let bob = s.w.user("bob").await;
    assert_forbidden(
        s.w.admin
            .set_member(&s.lead, &s.platform, bob.id, PUBLISHER_TEMPLATE_ID)
            .await,
    );
    // The lead holds nothing in data.
    assert_forbidden(
        s.w.admin
            .set_member(&s.lead, &s.data, bob.id, VIEWER_TEMPLATE_ID)
            .await,
    );
    assert!(s.w.memberships(bob.id).await.is_empty());
    // The global admin may.
    s.w.admin
        .set_member(&s.root, &s.data, bob.id, PUBLISHER_TEMPLATE_ID)
        .await
        .unwrap();
}

#[tokio::test]
async fn set_member_refuses_a_template_of_another_organization() {
    let s = setup().await;
    let alice = s.w.user("alice").await;
    let data_role = s.w.template(s.data.id, "loaders", &[ModulesRead]).await;
    assert_invalid(
        s.w.admin
            .set_member(&s.root, &s.platform, alice.id, data_role.id)
            .await,
        "role_template_id",
    );
    s.w.admin
        .set_member(&s.root, &s.data, alice.id, data_role.id)
        .await
        .unwrap();
    assert_not_found(
        s.w.admin
            .set_member(&s.root, &s.data, alice.id, Uuid::now_v7())
            .await,
    );
    assert_not_found(
        s.w.admin
            .set_member(&s.root, &s.data, Uuid::now_v7(), VIEWER_TEMPLATE_ID)
            .await,
    );
}

#[tokio::test]
async fn a_membership_change_reaches_the_members_session_at_once() {
    let s = setup().await;
    let alice = s.w.user("alice").await;
    let token = s.w.sessions.issue(alice.id).token;
    assert!(
        !s.w.bearer(&token)
            .await
            .unwrap()
            .grants
            .allows_in(ModulesRead, s.platform.id),
        "cached with no grants"
    );
    s.w.admin
        .set_member(&s.lead, &s.platform, alice.id, VIEWER_TEMPLATE_ID)
        .await
        .unwrap();
    assert!(
        s.w.bearer(&token)
            .await
            .unwrap()
            .grants
            .allows_in(ModulesRead, s.platform.id)
    );
    s.w.admin
        .remove_member(&s.lead, &s.platform, alice.id)
        .await
        .unwrap();
    assert!(
        !s.w.bearer(&token)
            .await
            .unwrap()
            .grants
            .allows_in(ModulesRead, s.platform.id)
    );
    assert_not_found(
        s.w.admin
            .remove_member(&s.lead, &s.platform, alice.id)
            .await,
    );
}

#[tokio::test]
async fn nobody_changes_the_membership_of_someone_above_them() {
    let s = setup().await;
    let bob = s.w.user("bob").await;
    // An administrator of the organization holds administrative scopes the lead lacks.
    s.w.admin
        .set_member(&s.root, &s.platform, bob.id, ADMIN_TEMPLATE_ID)
        .await
        .unwrap();
    assert_forbidden(
        s.w.admin
            .set_member(&s.lead, &s.platform, bob.id, VIEWER_TEMPLATE_ID)
            .await,
    );
    assert_forbidden(s.w.admin.remove_member(&s.lead, &s.platform, bob.id).await);
    assert_eq!(
        s.w.memberships(bob.id).await[0].role_template_id,
        ADMIN_TEMPLATE_ID
    );
    // Package scopes do not count: the lead may demote or remove a publisher.
    s.w.admin
        .set_member(&s.root, &s.platform, bob.id, PUBLISHER_TEMPLATE_ID)
        .await
        .unwrap();
    s.w.admin
        .set_member(&s.lead, &s.platform, bob.id, VIEWER_TEMPLATE_ID)
        .await
        .unwrap();
    s.w.admin
        .remove_member(&s.lead, &s.platform, bob.id)
        .await
        .unwrap();
}

// ------------------------------------------------------------------ users

#[tokio::test]
async fn update_user_rules() {
    let s = setup().await;
    let alice = s.w.user("alice").await;
    assert_invalid(
        s.w.admin
            .update_user(
                &s.root,
                s.root.user_id.unwrap(),
                UserChanges {
                    disabled: Some(true),
                    ..UserChanges::default()
                },
            )
            .await,
        "disabled",
    );
    let lead_role = s.w.admin.templates(Some(s.platform.id)).await.unwrap();
    let lead_role = lead_role.iter().find(|t| t.name == "lead").unwrap();
    assert_invalid(
        s.w.admin
            .update_user(
                &s.root,
                alice.id,
                UserChanges {
                    global_role_id: Some(Some(lead_role.id)),
                    ..UserChanges::default()
                },
            )
            .await,
        "global_role",
    );
    // A global role needs its scopes everywhere.
    assert_forbidden(
        s.w.admin
            .update_user(
                &s.lead,
                alice.id,
                UserChanges {
                    global_role_id: Some(Some(VIEWER_TEMPLATE_ID)),
                    ..UserChanges::default()
                },
            )
            .await,
    );

    let token = s.w.sessions.issue(alice.id).token;
    assert!(
        !s.w.bearer(&token)
            .await
            .unwrap()
            .grants
            .allows_global(AuditRead)
    );
    let updated =
        s.w.admin
            .update_user(
                &s.root,
                alice.id,
                UserChanges {
                    global_role_id: Some(Some(AUDITOR_TEMPLATE_ID)),
                    ..UserChanges::default()
                },
            )
            .await
            .unwrap();
    assert_eq!(updated.global_role_id, Some(AUDITOR_TEMPLATE_ID));
    assert!(
        s.w.bearer(&token)
            .await
            .unwrap()
            .grants
            .allows_global(AuditRead),
        "seen at once"
    );
    let cleared =
        s.w.admin
            .update_user(
                &s.root,
                alice.id,
                UserChanges {
                    global_role_id: Some(None),
                    ..UserChanges::default()
                },
            )
            .await
            .unwrap();
    assert_eq!(cleared.global_role_id, None);
    assert!(
        !s.w.bearer(&token)
            .await
            .unwrap()
            .grants
            .allows_global(AuditRead)
    );
    assert_not_found(
        s.w.admin
            .update_user(&s.root, Uuid::now_v7(), UserChanges::default())
            .await,
    );
}

#[tokio::test]
async fn disabling_twice_keeps_the_first_time() {
    let s = setup().await;
    let alice = s.w.user("alice").await;
    let disable = || UserChanges {
        disabled: Some(true),
        ..UserChanges::default()
    };
    let first =
        s.w.admin
            .update_user(&s.root, alice.id, disable())
            .await
            .unwrap();
    assert!(first.disabled_at.is_some());
    s.w.clock.advance(chrono::Duration::hours(1));
    let second =
        s.w.admin
            .update_user(&s.root, alice.id, disable())
            .await
            .unwrap();
    assert_eq!(second.disabled_at, first.disabled_at);
}

#[tokio::test]
async fn list_users_clamps_the_limit() {
    let s = setup().await;
    let (page, total) =
        s.w.admin
            .list_users(UserQuery {
                limit: 0,
                ..UserQuery::default()
            })
            .await
            .unwrap();
    assert_eq!(page.len(), 1, "a limit of 0 is raised to 1");
    assert_eq!(total, 2);
    let (page, _) =
        s.w.admin
            .list_users(UserQuery {
                limit: u64::MAX,
                ..UserQuery::default()
            })
            .await
            .unwrap();
    assert_eq!(page.len(), 2);
}
