//! `SsoLogin`: start and complete a login through a scripted provider, the sealed
//! pending-login cookie, user provisioning, bootstrap admins, group mappings and the
//! default role.
#![cfg(feature = "testkit")]

mod identity_common;

use std::sync::Arc;

use chrono::Duration;
use tfr_core::Scope::*;
use tfr_ports::driven::{
    ADMIN_TEMPLATE_ID, AUDITOR_TEMPLATE_ID, Clock, DEFAULT_ORGANIZATION_ID, ExternalIdentity,
    IdentityProvider, MembershipSource, PUBLISHER_TEMPLATE_ID, UserQuery, UserRecord,
    UserRepository, VIEWER_TEMPLATE_ID,
};
use tfr_ports::service::sso_login::safe_return_to;
use tfr_ports::service::{GroupMapping, LoginFailure, ServiceError, SsoLogin, SsoPolicy};
use uuid::Uuid;

use identity_common::{Answer, FakeSealer, ScriptedProvider, World, identity};

const CALLBACK: &str = "https://registry.test/auth/callback";

struct Sso {
    w: World,
    provider: Arc<ScriptedProvider>,
    login: SsoLogin,
}

fn sso_with(policy: SsoPolicy, providers: Vec<Arc<ScriptedProvider>>) -> Sso {
    let w = World::new();
    let login = SsoLogin::new(
        providers
            .iter()
            .map(|p| p.clone() as Arc<dyn IdentityProvider>)
            .collect(),
        Arc::new(FakeSealer::default()),
        w.repos.identity.clone(),
        w.repos.identity.clone(),
        w.repos.identity.clone(),
        w.repos.identity.clone(),
        w.clock.clone(),
        policy,
    );
    let provider = providers
        .first()
        .cloned()
        .unwrap_or_else(|| ScriptedProvider::new("none"));
    Sso { w, provider, login }
}

fn sso(policy: SsoPolicy) -> Sso {
    sso_with(policy, vec![ScriptedProvider::new("oidc")])
}

fn mapping(group: &str, organization: &str, role: &str) -> GroupMapping {
    GroupMapping {
        group: group.into(),
        organization: organization.into(),
        role: role.into(),
    }
}

fn with_groups(mut id: ExternalIdentity, groups: &[&str]) -> ExternalIdentity {
    id.groups = groups.iter().map(|g| g.to_string()).collect();
    id
}

/// A started login: the sealed cookie and the state the provider sent back.
async fn start(s: &Sso, return_to: Option<&str>) -> (String, String) {
    let started = s.login.start(None, CALLBACK, return_to).await.unwrap();
    let request = s.provider.issued().pop().unwrap();
    assert_eq!(started.url, request.url);
    (started.sealed, request.state)
}

/// A whole login of `who` through the single provider.
async fn login(s: &Sso, who: ExternalIdentity) -> Result<(UserRecord, String), LoginFailure> {
    s.provider.signs_in(who);
    let (sealed, state) = start(s, Some("/ui/modules")).await;
    s.login
        .complete(Some(&sealed), &state, "the-code", CALLBACK)
        .await
}

async fn user_count(w: &World) -> u64 {
    UserRepository::list(
        &*w.repos.identity,
        &UserQuery {
            limit: 100,
            ..UserQuery::default()
        },
    )
    .await
    .unwrap()
    .1
}

#[track_caller]
fn assert_rejected<T: std::fmt::Debug>(result: Result<T, LoginFailure>, containing: &str) {
    match result {
        Err(LoginFailure::Rejected(msg)) => assert!(msg.contains(containing), "{msg}"),
        other => panic!("expected Rejected({containing}), got {other:?}"),
    }
}

/// `(organization, template, source)` of each membership of `user`, sorted.
async fn memberships(w: &World, user: Uuid) -> Vec<(Uuid, Uuid, MembershipSource)> {
    let mut out: Vec<_> = w
        .memberships(user)
        .await
        .into_iter()
        .map(|m| (m.organization_id, m.role_template_id, m.source))
        .collect();
    out.sort_by_key(|(org, _, _)| *org);
    out
}

// ------------------------------------------------------------------ the flow

#[tokio::test]
async fn a_first_login_creates_the_user_from_the_claims() {
    let s = sso(SsoPolicy::default());
    let mut who = identity("sub-1", Some("alice"), Some("Alice@Example.COM"));
    who.display_name = Some("Alice Liddell".into());
    let (user, return_to) = login(&s, who).await.unwrap();

    assert_eq!(return_to, "/ui/modules");
    assert_eq!(user.username, "alice");
    assert_eq!(user.email.as_deref(), Some("alice@example.com"));
    assert_eq!(user.display_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(user.identity_provider, "oidc");
    assert_eq!(user.subject, "sub-1");
    assert_eq!(user.global_role_id, None);
    assert_eq!(user.last_login_at, Some(s.w.clock.now()));
    assert_eq!(s.w.stored_user(user.id).await.as_ref(), Some(&user));

    // The provider got back exactly what it handed out at the start.
    let issued = s.provider.issued();
    let completions = s.provider.completions();
    assert_eq!(completions.len(), 1);
    assert_eq!(completions[0].pkce_verifier, issued[0].pkce_verifier);
    assert_eq!(completions[0].nonce, issued[0].nonce);
    assert_eq!(completions[0].code, "the-code");
    assert_eq!(completions[0].redirect_uri, CALLBACK);
}

#[tokio::test]
async fn a_second_login_finds_the_same_user_by_subject() {
    let s = sso(SsoPolicy::default());
    let (first, _) = login(&s, identity("sub-1", Some("alice"), Some("a@example.com")))
        .await
        .unwrap();
    s.w.clock.advance(Duration::days(3));
    let mut again = identity("sub-1", Some("alice-renamed"), Some("new@example.com"));
    again.display_name = Some("Alice".into());
    let (second, _) = login(&s, again).await.unwrap();

    assert_eq!(second.id, first.id);
    assert_eq!(second.username, "alice", "the username is kept");
    assert_eq!(second.email.as_deref(), Some("new@example.com"));
    assert_eq!(second.display_name.as_deref(), Some("Alice"));
    assert_eq!(second.last_login_at, Some(s.w.clock.now()));
    assert_eq!(s.w.stored_user(first.id).await.unwrap(), second);
    assert_eq!(user_count(&s.w).await, 1);
}

#[tokio::test]
async fn username_collisions_get_a_numeric_suffix() {
    let s = sso(SsoPolicy::default());
    let mut names = Vec::new();
    for subject in ["sub-1", "sub-2", "sub-3"] {
        let (user, _) = login(&s, identity(subject, Some("alice"), None))
            .await
            .unwrap();
        names.push(user.username);
    }
    assert_eq!(names, ["alice", "alice-2", "alice-3"]);
    assert_eq!(user_count(&s.w).await, 3);
}

#[tokio::test]
async fn the_username_falls_back_to_the_email_then_the_subject() {
    let s = sso(SsoPolicy::default());
    let (by_email, _) = login(&s, identity("sub-1", None, Some("Bob@Example.com")))
        .await
        .unwrap();
    assert_eq!(by_email.username, "bob");
    let (by_subject, _) = login(&s, identity("00u-xyz", None, None)).await.unwrap();
    assert_eq!(by_subject.username, "00u-xyz");
}

#[tokio::test]
async fn usernames_lose_control_characters_and_are_capped() {
    let s = sso(SsoPolicy::default());
    let (user, _) = login(&s, identity("sub-1", Some("al\u{7}ice\n"), None))
        .await
        .unwrap();
    assert_eq!(user.username, "alice");
    let long = "x".repeat(300);
    let (user, _) = login(&s, identity("sub-2", Some(&long), None))
        .await
        .unwrap();
    assert_eq!(user.username, "x".repeat(100));
}

#[tokio::test]
async fn a_username_claim_with_nothing_printable_falls_back_to_the_email() {
    let s = sso(SsoPolicy::default());
    let (user, _) = login(
        &s,
        identity("sub-1", Some("\u{7}\u{1b}"), Some("bob@example.com")),
    )
    .await
    .unwrap();
    assert_eq!(user.username, "bob", "never an empty username");
    let (user, _) = login(&s, identity("sub-2", None, Some("@example.com")))
        .await
        .unwrap();
    assert_eq!(user.username, "sub-2");
}

#[tokio::test]
async fn the_return_path_is_kept_only_when_local() {
    let s = sso(SsoPolicy::default());
    s.provider.signs_in(identity("sub-1", Some("alice"), None));
    for (asked, expected) in [
        (Some("/ui/keys?x=1"), "/ui/keys?x=1"),
        (Some("//evil.example/x"), "/"),
        (Some("https://evil.example/"), "/"),
        (None, "/"),
    ] {
        let (sealed, state) = start(&s, asked).await;
        let (_, return_to) = s
            .login
            .complete(Some(&sealed), &state, "c", CALLBACK)
            .await
            .unwrap();
        assert_eq!(return_to, expected, "{asked:?}");
    }
}

#[test]
fn safe_return_to_refuses_other_origins() {
    for bad in [
        "//evil.example",
        "https://evil.example",
        "http://evil.example/ui",
        "/\\evil.example",
        "\\\\evil.example",
        "/ui\\..\\x",
        "ui/relative",
        "",
        "/ui\nSet-Cookie: x",
        "javascript:alert(1)",
    ] {
        assert_eq!(safe_return_to(Some(bad)), "/", "{bad:?}");
    }
    assert_eq!(safe_return_to(None), "/");
    for good in ["/", "/ui/modules/hashicorp", "/ui?tab=keys#top"] {
        assert_eq!(safe_return_to(Some(good)), good);
    }
}

// ------------------------------------------------------------------ refusals

#[tokio::test]
async fn a_missing_tampered_or_foreign_cookie_is_rejected() {
    let s = sso(SsoPolicy::default());
    s.provider.signs_in(identity("sub-1", Some("alice"), None));
    let (sealed, state) = start(&s, None).await;

    assert_rejected(
        s.login.complete(None, &state, "c", CALLBACK).await,
        "no login in progress",
    );

    let mut parts: Vec<String> = sealed.split('.').map(str::to_string).collect();
    parts[1] = parts[1].replacen('e', "f", 1);
    let tampered = parts.join(".");
    assert_ne!(tampered, sealed);
    assert_rejected(
        s.login
            .complete(Some(&tampered), &state, "c", CALLBACK)
            .await,
        "no login in progress",
    );

    let foreign = FakeSealer::with_key("another-key");
    let resealed = {
        use tfr_ports::driven::StateSealer;
        foreign.seal(&FakeSealer::default().open(&sealed).unwrap())
    };
    assert_rejected(
        s.login
            .complete(Some(&resealed), &state, "c", CALLBACK)
            .await,
        "no login in progress",
    );
    assert_rejected(
        s.login
            .complete(Some("garbage"), &state, "c", CALLBACK)
            .await,
        "no login in progress",
    );
    assert!(s.provider.completions().is_empty(), "never reached the IdP");

    // The untouched cookie still works.
    assert!(
        s.login
            .complete(Some(&sealed), &state, "c", CALLBACK)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_state_that_does_not_match_the_cookie_is_rejected() {
    let s = sso(SsoPolicy::default());
    s.provider.signs_in(identity("sub-1", Some("alice"), None));
    let (sealed_a, state_a) = start(&s, None).await;
    let (sealed_b, state_b) = start(&s, None).await;
    assert_ne!(state_a, state_b);
    assert_rejected(
        s.login
            .complete(Some(&sealed_a), &state_b, "c", CALLBACK)
            .await,
        "state does not match",
    );
    assert_rejected(
        s.login.complete(Some(&sealed_b), "", "c", CALLBACK).await,
        "state does not match",
    );
    assert!(s.provider.completions().is_empty());
}

#[tokio::test]
async fn a_login_older_than_ten_minutes_is_rejected() {
    let s = sso(SsoPolicy::default());
    s.provider.signs_in(identity("sub-1", Some("alice"), None));

    let (sealed, state) = start(&s, None).await;
    s.w.clock
        .advance(Duration::minutes(10) + Duration::seconds(1));
    assert_rejected(
        s.login.complete(Some(&sealed), &state, "c", CALLBACK).await,
        "too long",
    );

    let (sealed, state) = start(&s, None).await;
    s.w.clock.advance(Duration::minutes(9));
    assert!(
        s.login
            .complete(Some(&sealed), &state, "c", CALLBACK)
            .await
            .is_ok(),
        "nine minutes is fine"
    );

    // A cookie from the future (clock skew, forgery) is no better.
    let (sealed, state) = start(&s, None).await;
    s.w.clock.advance(Duration::minutes(-5));
    assert_rejected(
        s.login.complete(Some(&sealed), &state, "c", CALLBACK).await,
        "too long",
    );
}

#[tokio::test]
async fn provider_failures_are_mapped() {
    let s = sso(SsoPolicy::default());
    s.provider
        .answer(Answer::Reject("ID token signature invalid".into()));
    let (sealed, state) = start(&s, None).await;
    assert_rejected(
        s.login.complete(Some(&sealed), &state, "c", CALLBACK).await,
        "signature invalid",
    );

    s.provider
        .answer(Answer::Unavailable("connect timeout".into()));
    let (sealed, state) = start(&s, None).await;
    match s.login.complete(Some(&sealed), &state, "c", CALLBACK).await {
        Err(LoginFailure::Unavailable(msg)) => assert!(msg.contains("timeout"), "{msg}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert_eq!(user_count(&s.w).await, 0);
}

#[tokio::test]
async fn provider_selection() {
    let oidc = ScriptedProvider::new("oidc");
    let azure = ScriptedProvider::new("azure");
    let s = sso_with(SsoPolicy::default(), vec![oidc.clone(), azure.clone()]);
    assert_eq!(s.login.providers().len(), 2);
    assert!(matches!(
        s.login.start(None, CALLBACK, None).await,
        Err(ServiceError::Invalid {
            check: "provider",
            ..
        })
    ));
    assert!(matches!(
        s.login.start(Some("okta"), CALLBACK, None).await,
        Err(ServiceError::Invalid {
            check: "provider",
            ..
        })
    ));

    azure.signs_in(identity("oid-1", Some("alice"), None));
    let started = s.login.start(Some("azure"), CALLBACK, None).await.unwrap();
    assert!(started.url.starts_with("https://idp.test/azure/"));
    let state = azure.issued()[0].state.clone();
    let (user, _) = s
        .login
        .complete(Some(&started.sealed), &state, "c", CALLBACK)
        .await
        .unwrap();
    assert_eq!(user.identity_provider, "azure");
    assert_eq!(azure.completions().len(), 1);
    assert!(
        oidc.completions().is_empty(),
        "the cookie names the provider"
    );

    let none = sso_with(SsoPolicy::default(), vec![]);
    assert!(matches!(
        none.login.start(None, CALLBACK, None).await,
        Err(ServiceError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_cookie_naming_a_provider_no_longer_configured_is_rejected() {
    let azure = ScriptedProvider::new("azure");
    let before = sso_with(SsoPolicy::default(), vec![azure.clone()]);
    let started = before.login.start(None, CALLBACK, None).await.unwrap();
    let state = azure.issued()[0].state.clone();
    // Same sealing key, reconfigured with another provider.
    let after = sso(SsoPolicy::default());
    after
        .provider
        .signs_in(identity("sub-1", Some("alice"), None));
    assert_rejected(
        after
            .login
            .complete(Some(&started.sealed), &state, "c", CALLBACK)
            .await,
        "azure",
    );
    assert!(after.provider.completions().is_empty());
}

#[tokio::test]
async fn a_disabled_user_cannot_sign_in() {
    let s = sso(SsoPolicy::default());
    let (user, _) = login(&s, identity("sub-1", Some("alice"), None))
        .await
        .unwrap();
    let disabled = UserRecord {
        disabled_at: Some(s.w.clock.now()),
        ..user.clone()
    };
    assert!(
        UserRepository::update(&*s.w.repos.identity, &disabled)
            .await
            .unwrap()
    );
    s.w.clock.advance(Duration::hours(1));
    match login(&s, identity("sub-1", Some("alice"), None)).await {
        Err(LoginFailure::Service(ServiceError::Forbidden(msg))) => {
            assert!(msg.contains("alice"), "{msg}")
        }
        other => panic!("expected Forbidden, got {other:?}"),
    }
    let stored = s.w.stored_user(user.id).await.unwrap();
    assert_eq!(stored.last_login_at, user.last_login_at, "not recorded");
}

// ------------------------------------------------------------------ roles

#[tokio::test]
async fn bootstrap_admins_need_a_verified_email() {
    let s = sso(SsoPolicy {
        bootstrap_admins: vec!["boss@example.com".into()],
        ..SsoPolicy::default()
    });
    let mut unverified = identity("sub-1", Some("boss"), Some("Boss@Example.com"));
    unverified.email_verified = false;
    let (user, _) = login(&s, unverified.clone()).await.unwrap();
    assert_eq!(user.global_role_id, None, "unverified email");

    let (user, _) = login(
        &s,
        ExternalIdentity {
            email_verified: true,
            ..unverified
        },
    )
    .await
    .unwrap();
    assert_eq!(user.global_role_id, Some(ADMIN_TEMPLATE_ID));
    assert_eq!(
        s.w.stored_user(user.id).await.unwrap().global_role_id,
        Some(ADMIN_TEMPLATE_ID)
    );
    assert!(
        memberships(&s.w, user.id).await.is_empty(),
        "an admin needs no membership"
    );

    let (other, _) = login(
        &s,
        identity("sub-2", Some("pleb"), Some("pleb@example.com")),
    )
    .await
    .unwrap();
    assert_eq!(other.global_role_id, None, "not on the list");
}

#[tokio::test]
async fn a_bootstrap_admin_keeps_a_global_role_set_by_an_administrator() {
    let s = sso(SsoPolicy {
        bootstrap_admins: vec!["boss@example.com".into()],
        ..SsoPolicy::default()
    });
    let (user, _) = login(
        &s,
        identity("sub-1", Some("boss"), Some("boss@example.com")),
    )
    .await
    .unwrap();
    let demoted = UserRecord {
        global_role_id: Some(AUDITOR_TEMPLATE_ID),
        ..user
    };
    UserRepository::update(&*s.w.repos.identity, &demoted)
        .await
        .unwrap();
    let (again, _) = login(
        &s,
        identity("sub-1", Some("boss"), Some("boss@example.com")),
    )
    .await
    .unwrap();
    assert_eq!(again.global_role_id, Some(AUDITOR_TEMPLATE_ID));
}

#[tokio::test]
async fn group_mappings_add_change_and_remove_sso_memberships_but_never_manual_ones() {
    let s = sso(SsoPolicy {
        group_mappings: vec![
            mapping("devs", "Platform", "publisher"),
            mapping("readers", "platform", "Viewer"),
        ],
        ..SsoPolicy::default()
    });
    let platform = s.w.org("platform").await;
    let ops = s.w.org("ops").await;
    let who = identity("sub-1", Some("alice"), None);

    let (user, _) = login(&s, with_groups(who.clone(), &["devs", "unmapped"]))
        .await
        .unwrap();
    s.w.member(ops.id, user.id, VIEWER_TEMPLATE_ID).await;
    let manual = (ops.id, VIEWER_TEMPLATE_ID, MembershipSource::Manual);
    let mut expected = vec![
        (platform.id, PUBLISHER_TEMPLATE_ID, MembershipSource::Sso),
        manual,
    ];
    expected.sort_by_key(|(org, _, _)| *org);
    assert_eq!(memberships(&s.w, user.id).await, expected);

    // The group changed: so does the role.
    login(&s, with_groups(who.clone(), &["readers"]))
        .await
        .unwrap();
    let mut expected = vec![
        (platform.id, VIEWER_TEMPLATE_ID, MembershipSource::Sso),
        manual,
    ];
    expected.sort_by_key(|(org, _, _)| *org);
    assert_eq!(memberships(&s.w, user.id).await, expected);

    // No mapped group left: the SSO membership goes, the manual one stays.
    login(&s, with_groups(who, &[])).await.unwrap();
    assert_eq!(memberships(&s.w, user.id).await, vec![manual]);
}

#[tokio::test]
async fn a_mapping_never_overrides_a_manual_membership_in_its_organization() {
    let s = sso(SsoPolicy {
        group_mappings: vec![mapping("devs", "platform", "publisher")],
        ..SsoPolicy::default()
    });
    let platform = s.w.org("platform").await;
    let who = identity("sub-1", Some("alice"), None);
    let (user, _) = login(&s, who.clone()).await.unwrap();
    s.w.member(platform.id, user.id, VIEWER_TEMPLATE_ID).await;

    login(&s, with_groups(who.clone(), &["devs"]))
        .await
        .unwrap();
    assert_eq!(
        memberships(&s.w, user.id).await,
        vec![(platform.id, VIEWER_TEMPLATE_ID, MembershipSource::Manual)]
    );
    login(&s, who).await.unwrap();
    assert_eq!(
        memberships(&s.w, user.id).await,
        vec![(platform.id, VIEWER_TEMPLATE_ID, MembershipSource::Manual)]
    );
}

#[tokio::test]
async fn the_first_matching_mapping_for_an_organization_wins() {
    let s = sso(SsoPolicy {
        group_mappings: vec![
            mapping("readers", "platform", "viewer"),
            mapping("devs", "platform", "publisher"),
        ],
        ..SsoPolicy::default()
    });
    let platform = s.w.org("platform").await;
    let (user, _) = login(
        &s,
        with_groups(identity("sub-1", Some("alice"), None), &["devs", "readers"]),
    )
    .await
    .unwrap();
    assert_eq!(
        memberships(&s.w, user.id).await,
        vec![(platform.id, VIEWER_TEMPLATE_ID, MembershipSource::Sso)]
    );
}

#[tokio::test]
async fn mappings_naming_an_unknown_organization_or_role_are_skipped() {
    let s = sso(SsoPolicy {
        group_mappings: vec![
            mapping("devs", "nowhere", "publisher"),
            mapping("devs", "platform", "no-such-role"),
            mapping("devs", "data", "Deployers"),
        ],
        ..SsoPolicy::default()
    });
    s.w.org("platform").await;
    let data = s.w.org("data").await;
    let deployers = s.w.template(data.id, "deployers", &[ModulesWrite]).await;
    let (user, _) = login(
        &s,
        with_groups(identity("sub-1", Some("alice"), None), &["devs"]),
    )
    .await
    .unwrap();
    assert_eq!(
        memberships(&s.w, user.id).await,
        vec![(data.id, deployers.id, MembershipSource::Sso)]
    );
}

#[tokio::test]
async fn a_role_template_of_another_organization_does_not_resolve() {
    let s = sso(SsoPolicy {
        group_mappings: vec![mapping("devs", "platform", "deployers")],
        ..SsoPolicy::default()
    });
    s.w.org("platform").await;
    let data = s.w.org("data").await;
    s.w.template(data.id, "deployers", &[ModulesWrite]).await;
    let (user, _) = login(
        &s,
        with_groups(identity("sub-1", Some("alice"), None), &["devs"]),
    )
    .await
    .unwrap();
    assert!(memberships(&s.w, user.id).await.is_empty());
}

fn default_role_policy(group_mappings: Vec<GroupMapping>) -> SsoPolicy {
    SsoPolicy {
        group_mappings,
        default_role: Some(("default".into(), "viewer".into())),
        bootstrap_admins: vec!["boss@example.com".into()],
    }
}

#[tokio::test]
async fn the_default_role_places_users_nothing_else_places() {
    let s = sso(default_role_policy(vec![mapping(
        "devs",
        "platform",
        "publisher",
    )]));
    let platform = s.w.org("platform").await;
    let who = identity("sub-1", Some("alice"), None);

    let (user, _) = login(&s, who.clone()).await.unwrap();
    let default_viewer = vec![(
        DEFAULT_ORGANIZATION_ID,
        VIEWER_TEMPLATE_ID,
        MembershipSource::Sso,
    )];
    assert_eq!(memberships(&s.w, user.id).await, default_viewer);

    // Placed by a mapping: no default role.
    login(&s, with_groups(who.clone(), &["devs"]))
        .await
        .unwrap();
    assert_eq!(
        memberships(&s.w, user.id).await,
        vec![(platform.id, PUBLISHER_TEMPLATE_ID, MembershipSource::Sso)]
    );

    // The group is gone: back to the default role.
    login(&s, who.clone()).await.unwrap();
    assert_eq!(memberships(&s.w, user.id).await, default_viewer);
    // And it stays stable across logins.
    login(&s, who).await.unwrap();
    assert_eq!(memberships(&s.w, user.id).await, default_viewer);
}

#[tokio::test]
async fn the_default_role_is_not_given_to_members_or_global_roles() {
    let s = sso(default_role_policy(vec![]));
    let platform = s.w.org("platform").await;

    let alice = identity("sub-1", Some("alice"), None);
    let (user, _) = login(&s, alice.clone()).await.unwrap();
    // An administrator makes her a manual member of platform: at her next login the
    // default-role membership (an SSO one nothing maps any more) goes.
    s.w.member(platform.id, user.id, PUBLISHER_TEMPLATE_ID)
        .await;
    login(&s, alice).await.unwrap();
    assert_eq!(
        memberships(&s.w, user.id).await,
        vec![(platform.id, PUBLISHER_TEMPLATE_ID, MembershipSource::Manual)],
        "a manual member gets no default role"
    );

    let (boss, _) = login(
        &s,
        identity("sub-2", Some("boss"), Some("boss@example.com")),
    )
    .await
    .unwrap();
    assert_eq!(boss.global_role_id, Some(ADMIN_TEMPLATE_ID));
    assert!(
        memberships(&s.w, boss.id).await.is_empty(),
        "a global admin gets no default role"
    );
}

#[tokio::test]
async fn a_login_takes_effect_on_the_users_grants() {
    let s = sso(SsoPolicy {
        group_mappings: vec![mapping("devs", "platform", "publisher")],
        ..SsoPolicy::default()
    });
    let platform = s.w.org("platform").await;
    let (user, _) = login(
        &s,
        with_groups(identity("sub-1", Some("alice"), None), &["devs"]),
    )
    .await
    .unwrap();
    let p = s.w.session_principal(user.id).await;
    assert!(p.grants.allows_in(ModulesWrite, platform.id));
    assert!(!p.grants.allows_in(ModulesWrite, DEFAULT_ORGANIZATION_ID));
}
