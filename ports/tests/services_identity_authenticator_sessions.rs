//! `Authenticator` and `Sessions`: API keys and session tokens turned into principals,
//! with grants read from the owner's current memberships (cached until invalidated),
//! logout, refresh and expiry.
#![cfg(feature = "testkit")]

mod identity_common;

use chrono::Duration;
use tfr_core::Scope::*;
use tfr_ports::driven::{
    ADMIN_TEMPLATE_ID, Clock, KeyOwner, PUBLISHER_TEMPLATE_ID, RevokedSessionRepository,
    RoleTemplateRepository, UserRepository, VIEWER_TEMPLATE_ID,
};
use tfr_ports::service::{AuthMethod, Authenticator, UserChanges};
use uuid::Uuid;

use identity_common::{SESSION_LIFETIME, World, scopes};

fn lifetime() -> Duration {
    Duration::from_std(SESSION_LIFETIME).unwrap()
}

#[tokio::test]
async fn a_user_key_authenticates_with_the_owners_current_grants_under_its_scopes() {
    let w = World::new();
    let org = w.org("platform").await;
    let alice = w.user("alice").await;
    w.member(org.id, alice.id, PUBLISHER_TEMPLATE_ID).await;
    let secret = w
        .key(KeyOwner::User(alice.id), "laptop", &[ModulesWrite])
        .await;

    let found = w
        .authenticator
        .authenticate_bearer(&secret)
        .await
        .unwrap()
        .expect("the key authenticates");
    assert!(found.session.is_none());
    let p = found.principal;
    assert_eq!(p.user_id, Some(alice.id));
    assert_eq!(p.key_owner, Some(KeyOwner::User(alice.id)));
    assert!(p.key_id.is_some());
    assert_eq!(p.name, "laptop");
    assert_eq!(p.method, AuthMethod::ApiKey);
    assert!(p.grants.allows_in(ModulesWrite, org.id));
    assert!(p.grants.allows_in(ModulesRead, org.id));
    assert!(
        !p.grants.allows_in(ProvidersWrite, org.id),
        "the owner may, the key may not"
    );
    assert!(!p.grants.allows_in(ModulesRead, Uuid::now_v7()));
    assert_eq!(p.audit_id(), format!("key:{}", p.key_id.unwrap()));
}

#[tokio::test]
async fn a_membership_change_takes_effect_after_invalidate_user() {
    let w = World::new();
    let org = w.org("platform").await;
    let alice = w.user("alice").await;
    w.member(org.id, alice.id, VIEWER_TEMPLATE_ID).await;
    let secret = w.key(KeyOwner::User(alice.id), "ci", &[Admin]).await;
    let session = w.sessions.issue(alice.id);

    let before = w.bearer(&secret).await.unwrap();
    assert!(!before.grants.allows_in(ModulesWrite, org.id));

    // Promoted behind the authenticator's back: the cached grants stay until invalidated.
    w.member(org.id, alice.id, PUBLISHER_TEMPLATE_ID).await;
    assert!(
        !w.bearer(&secret)
            .await
            .unwrap()
            .grants
            .allows_in(ModulesWrite, org.id),
        "grants are cached for the TTL"
    );
    assert!(
        w.authenticator
            .fresh_grants(alice.id)
            .await
            .unwrap()
            .unwrap()
            .allows_in(ModulesWrite, org.id),
        "fresh_grants reads through the cache"
    );

    w.authenticator.invalidate_user(alice.id);
    assert!(
        w.bearer(&secret)
            .await
            .unwrap()
            .grants
            .allows_in(ModulesWrite, org.id)
    );
    assert!(
        w.bearer(&session.token)
            .await
            .unwrap()
            .grants
            .allows_in(ModulesWrite, org.id),
        "the session sees the same grants"
    );
}

#[tokio::test]
async fn without_a_ttl_a_change_made_elsewhere_is_seen_on_the_next_request() {
    let w = World::new();
    // Another replica's authenticator would hold grants for its TTL; with none, the
    // next request re-reads them without any invalidation.
    let uncached = Authenticator::new(
        w.api_keys.clone(),
        w.sessions.clone(),
        w.repos.identity.clone(),
        w.repos.identity.clone(),
        std::time::Duration::ZERO,
    );
    let org = w.org("platform").await;
    let alice = w.user("alice").await;
    w.member(org.id, alice.id, VIEWER_TEMPLATE_ID).await;
    let token = w.sessions.issue(alice.id).token;
    let grants = |found: Option<tfr_ports::service::Authenticated>| found.unwrap().principal.grants;
    assert!(
        !grants(uncached.authenticate_bearer(&token).await.unwrap())
            .allows_in(ModulesWrite, org.id)
    );
    w.member(org.id, alice.id, PUBLISHER_TEMPLATE_ID).await;
    assert!(
        grants(uncached.authenticate_bearer(&token).await.unwrap()).allows_in(ModulesWrite, org.id)
    );
}

#[tokio::test]
async fn a_template_change_takes_effect_for_every_holder_after_invalidate_all() {
    let w = World::new();
    let org = w.org("platform").await;
    let role = w.template(org.id, "readers", &[ModulesRead]).await;
    let alice = w.user("alice").await;
    let bob = w.user("bob").await;
    w.member(org.id, alice.id, role.id).await;
    w.member(org.id, bob.id, role.id).await;
    let alice_session = w.sessions.issue(alice.id).token;
    let bob_session = w.sessions.issue(bob.id).token;
    for token in [&alice_session, &bob_session] {
        assert!(
            !w.bearer(token)
                .await
                .unwrap()
                .grants
                .allows_in(ProvidersRead, org.id)
        );
    }

    let widened = tfr_ports::driven::RoleTemplateRecord {
        scopes: scopes(&[ModulesRead, ProvidersRead]),
        ..role.clone()
    };
    assert!(
        RoleTemplateRepository::update(&*w.repos.identity, &widened)
            .await
            .unwrap()
    );
    assert!(
        !w.bearer(&alice_session)
            .await
            .unwrap()
            .grants
            .allows_in(ProvidersRead, org.id),
        "still cached"
    );

    w.authenticator.invalidate_all();
    for token in [&alice_session, &bob_session] {
        assert!(
            w.bearer(token)
                .await
                .unwrap()
                .grants
                .allows_in(ProvidersRead, org.id)
        );
    }
}

#[tokio::test]
async fn disabling_a_user_stops_their_sessions_and_keys_but_not_organization_keys() {
    let w = World::new();
    let org = w.org("platform").await;
    let admin = w.global_user("root", ADMIN_TEMPLATE_ID).await;
    let alice = w.user("alice").await;
    w.member(org.id, alice.id, PUBLISHER_TEMPLATE_ID).await;
    let user_key = w
        .key(KeyOwner::User(alice.id), "laptop", &[ModulesRead])
        .await;
    let org_key = w
        .key(KeyOwner::Organization(org.id), "ci", &[ModulesWrite])
        .await;
    let session = w.sessions.issue(alice.id).token;
    assert!(w.bearer(&user_key).await.is_some());
    assert!(w.bearer(&session).await.is_some());

    let actor = w.session_principal(admin.id).await;
    w.admin
        .update_user(
            &actor,
            alice.id,
            UserChanges {
                disabled: Some(true),
                ..UserChanges::default()
            },
        )
        .await
        .unwrap();

    assert!(w.bearer(&user_key).await.is_none(), "the user's key dies");
    assert!(w.bearer(&session).await.is_none(), "the session dies");
    assert!(
        w.authenticator
            .fresh_grants(alice.id)
            .await
            .unwrap()
            .is_none(),
        "no grants for a disabled user"
    );
    assert!(w.bearer(&org_key).await.is_some(), "org keys are not hers");

    w.admin
        .update_user(
            &actor,
            alice.id,
            UserChanges {
                disabled: Some(false),
                ..UserChanges::default()
            },
        )
        .await
        .unwrap();
    assert!(w.bearer(&user_key).await.is_some(), "re-enabled");
}

#[tokio::test]
async fn a_session_token_authenticates_as_its_user() {
    let w = World::new();
    let org = w.org("platform").await;
    let alice = w.user("alice").await;
    w.member(org.id, alice.id, VIEWER_TEMPLATE_ID).await;
    let issued = w.sessions.issue(alice.id);
    assert_eq!(issued.claims.subject, alice.id);
    assert_eq!(
        issued.claims.expires_at - issued.claims.issued_at,
        lifetime().num_seconds()
    );
    assert_eq!(issued.claims.issued_at, w.clock.now().timestamp());
    assert_ne!(issued.claims.jti, issued.claims.csrf);

    for found in [
        w.authenticator
            .authenticate_bearer(&issued.token)
            .await
            .unwrap(),
        w.authenticator
            .authenticate_session(&issued.token)
            .await
            .unwrap(),
    ] {
        let found = found.expect("the session authenticates");
        assert_eq!(found.session.as_ref(), Some(&issued.claims));
        let p = found.principal;
        assert_eq!(p.user_id, Some(alice.id));
        assert_eq!(p.key_id, None);
        assert_eq!(p.key_owner, None);
        assert_eq!(p.name, "alice");
        assert_eq!(p.method, AuthMethod::Session);
        assert!(p.grants.allows_in(ModulesRead, org.id));
        assert!(!p.grants.allows_in(ModulesWrite, org.id));
        assert_eq!(p.audit_id(), format!("user:{}", alice.id));
    }
}

#[tokio::test]
async fn a_logged_out_session_stops_working() {
    let w = World::new();
    let alice = w.user("alice").await;
    let issued = w.sessions.issue(alice.id);
    let other = w.sessions.issue(alice.id);
    // Used once first: a remembered token must stop working too.
    assert!(w.bearer(&issued.token).await.is_some());
    w.sessions.logout(&issued.claims).await.unwrap();
    assert!(w.bearer(&issued.token).await.is_none());
    assert!(w.sessions.verify(&issued.token).await.unwrap().is_none());
    assert!(
        w.bearer(&other.token).await.is_some(),
        "only that session is logged out"
    );
}

#[tokio::test]
async fn a_logout_on_another_replica_is_seen_when_the_denylist_is_reread() {
    let w = World::new();
    let alice = w.user("alice").await;
    let issued = w.sessions.issue(alice.id);
    let replica = w.other_replica_sessions();
    assert!(replica.verify(&issued.token).await.unwrap().is_some());
    w.sessions.logout(&issued.claims).await.unwrap();
    assert!(replica.verify(&issued.token).await.unwrap().is_none());
}

#[tokio::test]
async fn refresh_issues_a_new_token_and_revokes_the_old_one() {
    let w = World::new();
    let alice = w.user("alice").await;
    let first = w.sessions.issue(alice.id);
    w.clock.advance(Duration::minutes(10));
    let next = w.sessions.refresh(&first.claims).await.unwrap();
    assert_ne!(next.token, first.token);
    assert_ne!(next.claims.jti, first.claims.jti);
    assert_eq!(next.claims.subject, alice.id);
    assert_eq!(
        next.claims.expires_at,
        w.clock.now().timestamp() + lifetime().num_seconds()
    );
    assert!(w.bearer(&first.token).await.is_none());
    assert!(w.bearer(&next.token).await.is_some());
    let denied = w
        .repos
        .revoked_sessions
        .list_unexpired(w.clock.now())
        .await
        .unwrap();
    assert_eq!(denied, vec![first.claims.jti.clone()]);
}

#[tokio::test]
async fn an_expired_session_is_refused() {
    let w = World::new();
    let alice = w.user("alice").await;
    let issued = w.sessions.issue(alice.id);
    w.clock.advance(lifetime() - Duration::seconds(1));
    assert!(w.bearer(&issued.token).await.is_some(), "one second left");
    w.clock.advance(Duration::seconds(1));
    assert!(
        w.bearer(&issued.token).await.is_none(),
        "expired at expires_at"
    );
    assert!(w.sessions.verify(&issued.token).await.unwrap().is_none());
}

#[tokio::test]
async fn invalid_tokens_are_refused_without_error() {
    let w = World::new();
    let alice = w.user("alice").await;
    let issued = w.sessions.issue(alice.id);
    let mut parts: Vec<String> = issued.token.split('.').map(str::to_string).collect();
    parts[1] = parts[1].chars().rev().collect();
    let tampered = parts.join(".");
    for token in [
        "a.b.c",
        "fake.e30.00",
        tampered.as_str(),
        "",
        "tfr_",
        "tfr_nosuchkey00000000000000000000",
        "not-a-key",
        &format!("{}x", issued.token),
    ] {
        assert!(w.bearer(token).await.is_none(), "{token:?} must be refused");
    }
}

#[tokio::test]
async fn a_session_of_an_unknown_user_is_refused() {
    let w = World::new();
    let issued = w.sessions.issue(Uuid::now_v7());
    assert!(w.sessions.verify(&issued.token).await.unwrap().is_some());
    assert!(w.bearer(&issued.token).await.is_none());
}

#[tokio::test]
async fn organization_and_system_keys_have_no_user() {
    let w = World::new();
    let org = w.org("platform").await;
    let org_key = w
        .key(KeyOwner::Organization(org.id), "ci", &[ModulesWrite])
        .await;
    let system_key = w.key(KeyOwner::System, "ops", &[ProvidersRead]).await;

    let p = w.bearer(&org_key).await.unwrap();
    assert_eq!(p.user_id, None);
    assert_eq!(p.key_owner, Some(KeyOwner::Organization(org.id)));
    assert_eq!(p.name, "ci");
    assert_eq!(p.method, AuthMethod::ApiKey);
    assert!(p.grants.allows_in(ModulesWrite, org.id));
    assert!(!p.grants.allows_in(ModulesRead, Uuid::now_v7()));
    assert!(!p.grants.allows_global(ModulesRead));

    let p = w.bearer(&system_key).await.unwrap();
    assert_eq!(p.user_id, None);
    assert_eq!(p.key_owner, Some(KeyOwner::System));
    assert!(p.grants.allows_global(ProvidersRead));
    assert!(p.grants.allows_in(ProvidersRead, Uuid::now_v7()));
    assert!(!p.grants.allows_global(ProvidersWrite));
}

#[tokio::test]
async fn a_revoked_or_expired_key_is_refused() {
    let w = World::new();
    let revoked = w.key(KeyOwner::System, "old", &[ModulesRead]).await;
    let record = w.api_keys.authenticate(&revoked).await.unwrap().unwrap();
    w.api_keys.revoke(&record.id.to_string()).await.unwrap();
    assert!(w.bearer(&revoked).await.is_none());

    let expiring = w
        .api_keys
        .create(
            KeyOwner::System,
            "short",
            scopes(&[ModulesRead]),
            Some(w.clock.now() + Duration::hours(1)),
        )
        .await
        .unwrap()
        .secret;
    assert!(w.bearer(&expiring).await.is_some());
    w.clock.advance(Duration::hours(1));
    assert!(w.bearer(&expiring).await.is_none());
}

#[tokio::test]
async fn a_key_of_a_deleted_or_disabled_owner_dies_even_without_the_admin_use_case() {
    let w = World::new();
    let alice = w.user("alice").await;
    let key = w.key(KeyOwner::User(alice.id), "k", &[ModulesRead]).await;
    let gone = w
        .key(KeyOwner::User(Uuid::now_v7()), "k", &[ModulesRead])
        .await;
    assert!(w.bearer(&gone).await.is_none(), "owner does not exist");
    assert!(w.bearer(&key).await.is_some());

    let mut disabled = alice.clone();
    disabled.disabled_at = Some(w.clock.now());
    assert!(
        UserRepository::update(&*w.repos.identity, &disabled)
            .await
            .unwrap()
    );
    w.authenticator.invalidate_user(alice.id);
    assert!(w.bearer(&key).await.is_none());
}

#[tokio::test]
async fn a_global_role_gives_scopes_everywhere() {
    let w = World::new();
    let auditor = w
        .global_user("auditor", tfr_ports::driven::AUDITOR_TEMPLATE_ID)
        .await;
    let p = w.session_principal(auditor.id).await;
    let org = Uuid::now_v7();
    for scope in [AuditRead, ModulesRead, ProvidersRead, UsersRead] {
        assert!(p.grants.allows_global(scope), "{scope}");
        assert!(p.grants.allows_in(scope, org), "{scope}");
    }
    assert!(!p.grants.allows_global(ModulesWrite));
}

#[tokio::test]
async fn purge_drops_denylist_entries_of_expired_tokens_only() {
    let w = World::new();
    let alice = w.user("alice").await;
    let early = w.sessions.issue(alice.id);
    w.clock.advance(Duration::minutes(30));
    let late = w.sessions.issue(alice.id);
    w.sessions.logout(&early.claims).await.unwrap();
    w.sessions.logout(&late.claims).await.unwrap();
    w.clock.advance(Duration::minutes(31));
    assert_eq!(w.sessions.purge_expired().await.unwrap(), 1);
    assert_eq!(
        w.repos
            .revoked_sessions
            .list_unexpired(w.clock.now())
            .await
            .unwrap(),
        vec![late.claims.jti.clone()]
    );
    assert!(w.bearer(&late.token).await.is_none(), "still logged out");
}

/// Counts denylist reads and makes each one slow, so concurrent checks overlap it.
struct SlowDenylist {
    inner: std::sync::Arc<dyn RevokedSessionRepository>,
    reads: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl RevokedSessionRepository for SlowDenylist {
    async fn revoke(
        &self,
        jti: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), tfr_ports::driven::RepoError> {
        self.inner.revoke(jti, expires_at).await
    }
    async fn list_unexpired(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<String>, tfr_ports::driven::RepoError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        self.inner.list_unexpired(now).await
    }
    async fn purge_expired(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, tfr_ports::driven::RepoError> {
        self.inner.purge_expired(now).await
    }
}

#[tokio::test]
async fn a_stale_denylist_is_reread_once_while_other_checks_use_the_last_one() {
    let w = World::new();
    let alice = w.user("alice").await;
    let denylist = std::sync::Arc::new(SlowDenylist {
        inner: w.repos.revoked_sessions.clone(),
        reads: Default::default(),
    });
    // Re-read on every check: every concurrent check below finds the list stale.
    let sessions = std::sync::Arc::new(tfr_ports::service::Sessions::new(
        std::sync::Arc::new(identity_common::fakes::FakeSessionCodec::default()),
        denylist.clone(),
        w.secrets.clone(),
        w.clock.clone(),
        SESSION_LIFETIME,
        std::time::Duration::ZERO,
    ));
    let issued = sessions.issue(alice.id);
    assert!(sessions.verify(&issued.token).await.unwrap().is_some());
    let reads = || denylist.reads.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(reads(), 1, "the first check loads the list");

    let checks = (0..20).map(|_| {
        let sessions = sessions.clone();
        let token = issued.token.clone();
        tokio::spawn(async move { sessions.verify(&token).await.unwrap().is_some() })
    });
    let results = futures::future::join_all(checks).await;
    assert!(results.into_iter().all(|r| r.unwrap()));
    assert_eq!(
        reads(),
        2,
        "twenty concurrent checks of a stale list: one re-read"
    );

    // A logout elsewhere is still seen at the next re-read.
    w.repos
        .revoked_sessions
        .revoke(&issued.claims.jti, w.clock.now() + lifetime())
        .await
        .unwrap();
    assert!(sessions.verify(&issued.token).await.unwrap().is_none());
}
