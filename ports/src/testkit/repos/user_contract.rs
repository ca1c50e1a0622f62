//! `user_repository_contract` and `membership_repository_contract`.

use tfr_core::{Scope, ScopeSet};
use uuid::Uuid;

use super::identity_fixtures::{assert_conflict, member, org, template, user};
use super::{IdentityRepos, at, system_templates};
use crate::driven::{
    ADMIN_TEMPLATE_ID, DEFAULT_ORGANIZATION_ID, MembershipRecord, MembershipSource,
    PUBLISHER_TEMPLATE_ID, RoleTemplateRecord, UserGrants, UserQuery, UserRecord,
    VIEWER_TEMPLATE_ID,
};

fn query(search: Option<&str>, offset: u64, limit: u64) -> UserQuery {
    UserQuery {
        search: search.map(str::to_string),
        offset,
        limit,
    }
}

fn usernames(found: &(Vec<UserRecord>, u64)) -> (Vec<&str>, u64) {
    (
        found.0.iter().map(|u| u.username.as_str()).collect(),
        found.1,
    )
}

/// The documented behaviour of [`UserRepository`](crate::driven::UserRepository), on a
/// fresh database.
pub async fn user_repository_contract(r: IdentityRepos<'_>) {
    let users = r.users;
    let alice = user("alice", 0);
    let bob = UserRecord {
        global_role_id: Some(VIEWER_TEMPLATE_ID),
        display_name: Some("Robert Tables_100%".into()),
        email: None,
        identity_provider: "azure".into(),
        ..user("bob", 10)
    };
    let carol = UserRecord {
        email: Some("carol@EXAMPLE.org".into()),
        last_login_at: Some(at(30)),
        disabled_at: Some(at(40)),
        ..user("carol", 20)
    };
    for u in [&carol, &alice, &bob] {
        users.insert(u).await.expect("insert user");
    }
    assert_conflict(users.insert(&alice).await, "a taken id");
    assert_conflict(
        users
            .insert(&UserRecord {
                subject: "other".into(),
                ..user("alice", 0)
            })
            .await,
        "a taken username",
    );
    assert_conflict(
        users
            .insert(&UserRecord {
                username: "alice2".into(),
                ..user("alice", 0)
            })
            .await,
        "a taken provider and subject",
    );
    assert_conflict(
        users
            .insert(&UserRecord {
                global_role_id: Some(Uuid::now_v7()),
                ..user("dave", 0)
            })
            .await,
        "an unknown global role",
    );
    users
        .insert(&UserRecord {
            identity_provider: "azure".into(),
            subject: alice.subject.clone(),
            ..user("alice-azure", 50)
        })
        .await
        .expect("a subject is unique per provider only");

    assert_eq!(users.find(bob.id).await.expect("find"), Some(bob.clone()));
    assert_eq!(users.find(Uuid::now_v7()).await.expect("find"), None);
    assert_eq!(
        users
            .find_by_subject("oidc", "sub-carol")
            .await
            .expect("by subject"),
        Some(carol.clone())
    );
    assert_eq!(
        users
            .find_by_subject("azure", "sub-carol")
            .await
            .expect("by subject"),
        None
    );

    let cases: Vec<(UserQuery, (Vec<&str>, u64))> = vec![
        (
            query(None, 0, 100),
            (vec!["alice", "alice-azure", "bob", "carol"], 4),
        ),
        (query(None, 1, 2), (vec!["alice-azure", "bob"], 4)),
        (query(None, 4, 2), (vec![], 4)),
        (
            query(Some("  "), 0, 100),
            (vec!["alice", "alice-azure", "bob", "carol"], 4),
        ),
        (query(Some("ALICE"), 0, 1), (vec!["alice"], 2)),
        (query(Some("example.org"), 0, 100), (vec!["carol"], 1)),
        (query(Some("robert"), 0, 100), (vec!["bob"], 1)),
        (query(Some("_100%"), 0, 100), (vec!["bob"], 1)),
        (query(Some("%"), 0, 100), (vec!["bob"], 1)),
        (query(Some("nobody"), 0, 100), (vec![], 0)),
    ];
    for (q, expected) in cases {
        let found = users.list(&q).await.expect("list");
        assert_eq!(usernames(&found), expected, "list {q:?}");
    }

    // Everything but id, provider, subject and created_at is replaced.
    let changed = UserRecord {
        username: "alicia".into(),
        email: None,
        display_name: Some("Alicia".into()),
        global_role_id: Some(ADMIN_TEMPLATE_ID),
        last_login_at: Some(at(60)),
        disabled_at: Some(at(70)),
        identity_provider: "ignored".into(),
        subject: "ignored".into(),
        created_at: at(999),
        ..alice.clone()
    };
    assert!(users.update(&changed).await.expect("update"));
    let expected = UserRecord {
        identity_provider: alice.identity_provider.clone(),
        subject: alice.subject.clone(),
        created_at: alice.created_at,
        ..changed.clone()
    };
    assert_eq!(
        users.find(alice.id).await.expect("find"),
        Some(expected.clone())
    );
    let enabled = UserRecord {
        global_role_id: None,
        disabled_at: None,
        ..expected.clone()
    };
    assert!(users.update(&enabled).await.expect("clear fields"));
    assert_eq!(users.find(alice.id).await.expect("find"), Some(enabled));
    assert_conflict(
        users
            .update(&UserRecord {
                username: "bob".into(),
                ..expected.clone()
            })
            .await,
        "renaming to a taken username",
    );
    assert_conflict(
        users
            .update(&UserRecord {
                global_role_id: Some(Uuid::now_v7()),
                ..expected.clone()
            })
            .await,
        "an unknown global role",
    );
    assert!(
        !users
            .update(&user("ghost", 0))
            .await
            .expect("update unknown")
    );
}

fn scopes(of: &RoleTemplateRecord) -> ScopeSet {
    of.scopes.clone()
}

fn system(id: Uuid) -> RoleTemplateRecord {
    system_templates()
        .into_iter()
        .find(|t| t.id == id)
        .unwrap_or_else(|| panic!("no system template {id}"))
}

/// The documented behaviour of [`MembershipRepository`](crate::driven::MembershipRepository),
/// `grants_for_user` included, on a fresh database.
pub async fn membership_repository_contract(r: IdentityRepos<'_>) {
    let m = r.memberships;
    let platform = org("platform", 0);
    r.organizations.insert(&platform).await.expect("org");
    let deployer = template(platform.id, "deployer", &[Scope::ModulesWrite]);
    r.templates.insert(&deployer).await.expect("template");
    let alice = user("alice", 0);
    let bob = user("bob", 0);
    let carol = user("carol", 0);
    let loner = user("loner", 0);
    for u in [&alice, &bob, &carol, &loner] {
        r.users.insert(u).await.expect("user");
    }

    let alice_platform = member(
        platform.id,
        alice.id,
        VIEWER_TEMPLATE_ID,
        MembershipSource::Manual,
        10,
    );
    let alice_default = member(
        DEFAULT_ORGANIZATION_ID,
        alice.id,
        PUBLISHER_TEMPLATE_ID,
        MembershipSource::Sso,
        20,
    );
    let bob_platform = member(
        platform.id,
        bob.id,
        deployer.id,
        MembershipSource::Manual,
        5,
    );
    let carol_platform = member(
        platform.id,
        carol.id,
        deployer.id,
        MembershipSource::Manual,
        30,
    );
    for membership in [
        &alice_platform,
        &alice_default,
        &bob_platform,
        &carol_platform,
    ] {
        m.upsert(membership).await.expect("upsert");
    }
    assert_eq!(
        m.list_for_organization(platform.id).await.expect("members"),
        vec![
            bob_platform.clone(),
            alice_platform.clone(),
            carol_platform.clone()
        ],
        "ordered by when they joined"
    );
    assert_eq!(
        m.list_for_user(alice.id).await.expect("memberships"),
        vec![alice_platform.clone(), alice_default.clone()]
    );
    assert!(
        m.list_for_user(loner.id)
            .await
            .expect("memberships")
            .is_empty()
    );

    // Upserting again replaces role and source, and keeps when the user joined.
    m.upsert(&MembershipRecord {
        role_template_id: deployer.id,
        source: MembershipSource::Sso,
        created_at: at(99),
        ..alice_platform.clone()
    })
    .await
    .expect("replace");
    let replaced = MembershipRecord {
        role_template_id: deployer.id,
        source: MembershipSource::Sso,
        ..alice_platform.clone()
    };
    assert_eq!(
        m.list_for_user(alice.id).await.expect("memberships"),
        vec![replaced.clone(), alice_default.clone()]
    );
    for (bad, what) in [
        (
            member(
                platform.id,
                Uuid::now_v7(),
                VIEWER_TEMPLATE_ID,
                MembershipSource::Manual,
                0,
            ),
            "an unknown user",
        ),
        (
            member(
                Uuid::now_v7(),
                bob.id,
                VIEWER_TEMPLATE_ID,
                MembershipSource::Manual,
                0,
            ),
            "an unknown organization",
        ),
        (
            member(
                platform.id,
                bob.id,
                Uuid::now_v7(),
                MembershipSource::Manual,
                0,
            ),
            "an unknown role template",
        ),
    ] {
        assert_conflict(m.upsert(&bad).await, what);
    }

    // Grants: the global template plus one entry per membership, ordered by organization.
    let mut expected = vec![
        (
            DEFAULT_ORGANIZATION_ID,
            scopes(&system(PUBLISHER_TEMPLATE_ID)),
        ),
        (platform.id, scopes(&deployer)),
    ];
    expected.sort_by_key(|(org, _)| *org);
    assert_eq!(
        m.grants_for_user(alice.id).await.expect("grants"),
        Some(UserGrants {
            global: ScopeSet::default(),
            organizations: expected.clone(),
        })
    );
    assert!(
        r.users
            .update(&UserRecord {
                global_role_id: Some(ADMIN_TEMPLATE_ID),
                ..alice.clone()
            })
            .await
            .expect("make admin")
    );
    assert_eq!(
        m.grants_for_user(alice.id).await.expect("grants"),
        Some(UserGrants {
            global: ScopeSet::new([Scope::Admin]),
            organizations: expected,
        })
    );
    assert_eq!(
        m.grants_for_user(loner.id).await.expect("grants"),
        Some(UserGrants::default()),
        "a user without roles has no scopes"
    );
    assert_eq!(
        m.grants_for_user(Uuid::now_v7()).await.expect("grants"),
        None
    );

    // Templates are read live: a change shows on the next load.
    let widened = RoleTemplateRecord {
        scopes: ScopeSet::new([Scope::ModulesWrite, Scope::ProvidersWrite]),
        ..deployer.clone()
    };
    assert!(r.templates.update(&widened).await.expect("update template"));
    assert_eq!(
        m.grants_for_user(bob.id).await.expect("grants"),
        Some(UserGrants {
            global: ScopeSet::default(),
            organizations: vec![(platform.id, scopes(&widened))],
        })
    );

    // A disabled user has no grants at all.
    assert!(
        r.users
            .update(&UserRecord {
                disabled_at: Some(at(50)),
                ..carol.clone()
            })
            .await
            .expect("disable")
    );
    assert_eq!(m.grants_for_user(carol.id).await.expect("grants"), None);

    assert!(m.remove(platform.id, alice.id).await.expect("remove"));
    assert!(!m.remove(platform.id, alice.id).await.expect("remove again"));
    assert!(
        !m.remove(Uuid::now_v7(), bob.id)
            .await
            .expect("remove unknown")
    );
    assert_eq!(
        m.list_for_user(alice.id).await.expect("memberships"),
        vec![alice_default]
    );
    assert_eq!(
        m.list_for_organization(platform.id)
            .await
            .expect("members")
            .len(),
        2
    );
}
