//! `IdentityAdmin`, role templates, namespaces and API keys: system templates read-only,
//! nobody granting more than they hold, namespace moves, key rotation and revocation.
#![cfg(feature = "testkit")]

mod identity_common;

use tfr_core::Scope::*;
use tfr_ports::driven::{ADMIN_TEMPLATE_ID, KeyOwner, VIEWER_TEMPLATE_ID};
use tfr_ports::service::{ServiceError, UserChanges};
use uuid::Uuid;

use identity_common::admin::{
    assert_conflict, assert_forbidden, assert_invalid, assert_not_found, error_of, setup,
};
use identity_common::scopes;

// ------------------------------------------------------------------ role templates

#[tokio::test]
async fn system_templates_cannot_be_updated_or_deleted() {
    let s = setup().await;
    for id in [VIEWER_TEMPLATE_ID, ADMIN_TEMPLATE_ID] {
        assert_forbidden(
            s.w.admin
                .update_template(&s.root, &s.platform, id, "mine", "", scopes(&[ModulesRead]))
                .await,
        );
        assert_forbidden(s.w.admin.delete_template(&s.platform, id).await);
    }
    let viewer = s.w.admin.template(VIEWER_TEMPLATE_ID).await.unwrap();
    assert_eq!(viewer.name, "viewer");
    assert_eq!(
        viewer.scopes,
        scopes(&[ModulesRead, ProvidersRead, MirrorsRead])
    );
}

#[tokio::test]
async fn system_template_names_are_reserved() {
    let s = setup().await;
    for name in ["viewer", "Publisher", " ADMIN ", "auditor"] {
        assert_conflict(
            s.w.admin
                .create_template(&s.root, &s.platform, name, "", scopes(&[ModulesRead]))
                .await,
        );
    }
    let mine =
        s.w.admin
            .create_template(
                &s.root,
                &s.platform,
                "readers",
                "Read",
                scopes(&[ModulesRead]),
            )
            .await
            .unwrap();
    assert_conflict(
        s.w.admin
            .update_template(
                &s.root,
                &s.platform,
                mine.id,
                "viewer",
                "",
                scopes(&[ModulesRead]),
            )
            .await,
    );
}

#[tokio::test]
async fn template_rules() {
    let s = setup().await;
    assert_invalid(
        s.w.admin
            .create_template(&s.root, &s.platform, "empty", "", scopes(&[]))
            .await,
        "scopes",
    );
    assert_invalid(
        s.w.admin
            .create_template(&s.root, &s.platform, " ", "", scopes(&[ModulesRead]))
            .await,
        "name",
    );
    assert_invalid(
        s.w.admin
            .create_template(
                &s.root,
                &s.platform,
                "wordy",
                &"x".repeat(501),
                scopes(&[ModulesRead]),
            )
            .await,
        "description",
    );
    // The lead cannot create a role holding more than they do.
    assert_forbidden(
        s.w.admin
            .create_template(&s.lead, &s.platform, "pubs", "", scopes(&[ProvidersWrite]))
            .await,
    );
    let made =
        s.w.admin
            .create_template(&s.lead, &s.platform, "pubs", "", scopes(&[ModulesWrite]))
            .await
            .unwrap();
    assert_eq!(made.organization_id, Some(s.platform.id));
    assert_conflict(
        s.w.admin
            .create_template(&s.lead, &s.platform, "pubs", "", scopes(&[ModulesRead]))
            .await,
    );
    // Another organization's template is not found through this one.
    assert_not_found(
        s.w.admin
            .update_template(&s.root, &s.data, made.id, "x", "", scopes(&[ModulesRead]))
            .await,
    );
    assert_not_found(s.w.admin.delete_template(&s.data, made.id).await);
    // Widening beyond the actor's scopes is refused too.
    assert_forbidden(
        s.w.admin
            .update_template(&s.lead, &s.platform, made.id, "pubs", "", scopes(&[Admin]))
            .await,
    );
}

#[tokio::test]
async fn a_template_update_reaches_every_holder_at_once_and_a_held_one_stays() {
    let s = setup().await;
    let role =
        s.w.admin
            .create_template(&s.root, &s.platform, "readers", "", scopes(&[ModulesRead]))
            .await
            .unwrap();
    let alice = s.w.user("alice").await;
    s.w.admin
        .set_member(&s.root, &s.platform, alice.id, role.id)
        .await
        .unwrap();
    let token = s.w.sessions.issue(alice.id).token;
    assert!(
        !s.w.bearer(&token)
            .await
            .unwrap()
            .grants
            .allows_in(ProvidersRead, s.platform.id)
    );
    s.w.admin
        .update_template(
            &s.root,
            &s.platform,
            role.id,
            "readers",
            "modules and providers",
            scopes(&[ModulesRead, ProvidersRead]),
        )
        .await
        .unwrap();
    assert!(
        s.w.bearer(&token)
            .await
            .unwrap()
            .grants
            .allows_in(ProvidersRead, s.platform.id)
    );
    assert_conflict(s.w.admin.delete_template(&s.platform, role.id).await);
    s.w.admin
        .remove_member(&s.root, &s.platform, alice.id)
        .await
        .unwrap();
    s.w.admin
        .delete_template(&s.platform, role.id)
        .await
        .unwrap();
    assert_not_found(s.w.admin.template(role.id).await);
}

// ------------------------------------------------------------------ namespaces

#[tokio::test]
async fn moving_a_namespace_needs_organizations_write_in_the_target() {
    let s = setup().await;
    let ns =
        s.w.admin
            .create_namespace(&s.platform, "infra", false)
            .await
            .unwrap();
    assert_eq!(ns.organization_id, s.platform.id);
    assert_forbidden(
        s.w.admin
            .update_namespace(&s.lead, "infra", Some(&s.data), None)
            .await,
    );
    assert_eq!(
        s.w.admin.namespace("infra").await.unwrap().organization_id,
        s.platform.id
    );
    // The public flag alone needs no target.
    let flipped =
        s.w.admin
            .update_namespace(&s.lead, "infra", None, Some(true))
            .await
            .unwrap();
    assert!(flipped.public);

    // With organizations:write in data too, the lead may move it there.
    let data_admins =
        s.w.template(s.data.id, "admins", &[OrganizationsWrite])
            .await;
    s.w.member(s.data.id, s.lead.user_id.unwrap(), data_admins.id)
        .await;
    s.w.authenticator.invalidate_user(s.lead.user_id.unwrap());
    let lead = s.w.session_principal(s.lead.user_id.unwrap()).await;
    let moved =
        s.w.admin
            .update_namespace(&lead, "INFRA", Some(&s.data), None)
            .await
            .unwrap();
    assert_eq!(moved.organization_id, s.data.id);
    assert!(moved.public, "unchanged");
    assert_eq!(
        s.w.namespace_access
            .find("infra")
            .await
            .unwrap()
            .unwrap()
            .organization_id,
        s.data.id
    );
    assert_not_found(
        s.w.admin
            .update_namespace(&s.root, "ghost", Some(&s.data), None)
            .await,
    );
}

#[tokio::test]
async fn namespace_names_are_validated_and_unique() {
    let s = setup().await;
    assert_invalid(
        s.w.admin
            .create_namespace(&s.platform, "not a name!", false)
            .await,
        "namespace",
    );
    s.w.admin
        .create_namespace(&s.platform, "Infra", false)
        .await
        .unwrap();
    assert_conflict(s.w.admin.create_namespace(&s.data, "infra", true).await);
    assert_eq!(
        s.w.admin
            .list_namespaces(Some(s.platform.id))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        s.w.admin
            .list_namespaces(Some(s.data.id))
            .await
            .unwrap()
            .is_empty()
    );
}

// ------------------------------------------------------------------ API keys

#[tokio::test]
async fn a_users_key_stays_within_the_users_scopes() {
    let s = setup().await;
    let alice = s.w.user("alice").await;
    s.w.member(s.platform.id, alice.id, VIEWER_TEMPLATE_ID)
        .await;
    let owner = KeyOwner::User(alice.id);
    for too_much in [&[ModulesWrite][..], &[Admin], &[ModulesRead, AuditRead]] {
        match error_of(
            s.w.admin
                .create_key(&s.root, owner, "k", scopes(too_much), None)
                .await,
        ) {
            ServiceError::Forbidden(msg) => assert!(msg.contains("modules:read"), "{msg}"),
            other => panic!("{too_much:?}: expected Forbidden, got {other:?}"),
        }
    }
    let key =
        s.w.admin
            .create_key(
                &s.root,
                owner,
                "laptop",
                scopes(&[ModulesRead, MirrorsRead]),
                None,
            )
            .await
            .unwrap();
    assert_eq!(key.record.owner, owner);
    assert_eq!(s.w.admin.keys(owner).await.unwrap().len(), 1);

    let disabled =
        s.w.admin
            .update_user(
                &s.root,
                alice.id,
                UserChanges {
                    disabled: Some(true),
                    ..UserChanges::default()
                },
            )
            .await
            .unwrap();
    assert!(disabled.disabled_at.is_some());
    assert_forbidden(
        s.w.admin
            .create_key(&s.root, owner, "k", scopes(&[ModulesRead]), None)
            .await,
    );
}

#[tokio::test]
async fn organization_and_system_keys_stay_within_the_actors_scopes() {
    let s = setup().await;
    let platform_key = KeyOwner::Organization(s.platform.id);
    assert_forbidden(
        s.w.admin
            .create_key(&s.lead, platform_key, "ci", scopes(&[ProvidersWrite]), None)
            .await,
    );
    assert_forbidden(
        s.w.admin
            .create_key(
                &s.lead,
                KeyOwner::Organization(s.data.id),
                "ci",
                scopes(&[ModulesRead]),
                None,
            )
            .await,
    );
    assert_forbidden(
        s.w.admin
            .create_key(
                &s.lead,
                KeyOwner::System,
                "ops",
                scopes(&[ModulesRead]),
                None,
            )
            .await,
    );
    let ok =
        s.w.admin
            .create_key(&s.lead, platform_key, "ci", scopes(&[ModulesWrite]), None)
            .await
            .unwrap();
    assert_eq!(ok.record.owner, platform_key);
    s.w.admin
        .create_key(&s.root, KeyOwner::System, "ops", scopes(&[Admin]), None)
        .await
        .unwrap();
    assert_eq!(s.w.api_keys.list(None).await.unwrap().len(), 2);
}

#[tokio::test]
async fn rotate_replaces_the_secret_and_revoke_stops_the_key() {
    let s = setup().await;
    let owner = KeyOwner::Organization(s.platform.id);
    let created =
        s.w.admin
            .create_key(&s.root, owner, "ci", scopes(&[ModulesWrite]), None)
            .await
            .unwrap();
    let old = created.secret.clone();
    assert!(s.w.bearer(&old).await.is_some());

    let record = s.w.admin.owned_key(owner, created.record.id).await.unwrap();
    let rotated = s.w.admin.rotate_key(&record).await.unwrap();
    assert_ne!(rotated.secret, old);
    assert_eq!(rotated.record.id, created.record.id);
    assert_eq!(rotated.record.scopes, created.record.scopes);
    assert_eq!(rotated.record.prefix, &rotated.secret[..10]);
    assert!(s.w.bearer(&old).await.is_none(), "the old secret is dead");
    let p =
        s.w.bearer(&rotated.secret)
            .await
            .expect("the new one works");
    assert_eq!(p.key_id, Some(created.record.id));

    let record = s.w.admin.owned_key(owner, created.record.id).await.unwrap();
    let revoked = s.w.admin.revoke_key(record).await.unwrap();
    assert_eq!(revoked.id, created.record.id);
    assert!(s.w.bearer(&rotated.secret).await.is_none());
    let record = s.w.admin.owned_key(owner, created.record.id).await.unwrap();
    assert!(record.revoked_at.is_some());
    assert_not_found(s.w.admin.rotate_key(&record).await);
}

#[tokio::test]
async fn a_key_of_another_owner_is_not_found() {
    let s = setup().await;
    let created =
        s.w.admin
            .create_key(
                &s.root,
                KeyOwner::Organization(s.platform.id),
                "ci",
                scopes(&[ModulesRead]),
                None,
            )
            .await
            .unwrap();
    assert_not_found(
        s.w.admin
            .owned_key(KeyOwner::Organization(s.data.id), created.record.id)
            .await,
    );
    assert_not_found(
        s.w.admin
            .owned_key(KeyOwner::System, created.record.id)
            .await,
    );
    assert_not_found(
        s.w.admin
            .owned_key(KeyOwner::Organization(s.platform.id), Uuid::now_v7())
            .await,
    );
}
