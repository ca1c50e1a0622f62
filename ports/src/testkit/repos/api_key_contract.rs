//! `api_key_repository_contract`.

use chrono::Duration;
use tfr_core::{Scope, ScopeSet};
use uuid::Uuid;

use super::identity_fixtures::{org, user};
use super::{IdentityRepos, at};
use crate::driven::{ApiKeyRecord, KeyOwner, RepoError};

fn api_key(name: &str, prefix: &str, scopes: &[Scope], secs: i64) -> ApiKeyRecord {
    ApiKeyRecord {
        id: Uuid::now_v7(),
        owner: KeyOwner::System,
        name: name.to_string(),
        prefix: prefix.to_string(),
        key_hash: format!("$2b$12${name}"),
        scopes: ScopeSet::new(scopes.iter().copied()),
        created_at: at(secs),
        expires_at: Some(at(secs) + Duration::days(30)),
        last_used_at: None,
        revoked_at: None,
    }
}

/// The documented behaviour of [`ApiKeyRepository`](crate::driven::ApiKeyRepository), on a
/// fresh database (keys belong to users and organizations of the same database).
pub async fn api_key_repository_contract(r: IdentityRepos<'_>) {
    let repo = r.api_keys;
    let alice = user("alice", 0);
    r.users.insert(&alice).await.expect("user");
    let platform = org("platform", 0);
    r.organizations.insert(&platform).await.expect("org");

    let a = api_key(
        "ci",
        "tfr_abc123",
        &[Scope::ModulesWrite, Scope::ProvidersRead],
        0,
    );
    let b = ApiKeyRecord {
        expires_at: None,
        owner: KeyOwner::User(alice.id),
        ..api_key("admin", "tfr_abc123", &[Scope::Admin], 60)
    };
    let c = ApiKeyRecord {
        owner: KeyOwner::Organization(platform.id),
        ..api_key("reader", "tfr_zzz999", &[], 120)
    };
    for key in [&a, &b, &c] {
        repo.insert(key).await.expect("insert key");
    }
    let dup = repo.insert(&a).await;
    assert!(
        matches!(dup, Err(RepoError::Conflict(_))),
        "duplicate id must conflict: {dup:?}"
    );

    let mut shared = vec![a.clone(), b.clone()];
    shared.sort_by_key(|k| k.id);
    let mut by_prefix = repo.find_by_prefix("tfr_abc123").await.expect("by prefix");
    by_prefix.sort_by_key(|k| k.id);
    assert_eq!(
        by_prefix, shared,
        "keys share a prefix; scopes and times round-trip"
    );
    assert!(
        repo.find_by_prefix("tfr_nope00")
            .await
            .expect("by prefix")
            .is_empty()
    );
    assert_eq!(repo.find_by_id(c.id).await.expect("by id"), Some(c.clone()));
    assert_eq!(repo.find_by_id(Uuid::now_v7()).await.expect("by id"), None);
    assert_eq!(
        repo.list(None).await.expect("list"),
        vec![c.clone(), b.clone(), a.clone()],
        "newest first"
    );
    for (owner, expected) in [
        (KeyOwner::System, vec![a.clone()]),
        (KeyOwner::User(alice.id), vec![b.clone()]),
        (KeyOwner::Organization(platform.id), vec![c.clone()]),
        (KeyOwner::User(platform.id), vec![]),
        (KeyOwner::Organization(alice.id), vec![]),
    ] {
        assert_eq!(
            repo.list(Some(owner)).await.expect("list by owner"),
            expected,
            "keys of {owner:?}"
        );
    }

    // Revocation keeps the key (the caller refuses it) and its first revocation time.
    assert!(repo.revoke(a.id, at(600)).await.expect("revoke"));
    assert!(repo.revoke(a.id, at(900)).await.expect("revoke again"));
    assert!(
        !repo
            .revoke(Uuid::now_v7(), at(600))
            .await
            .expect("revoke unknown")
    );
    let revoked = repo
        .find_by_id(a.id)
        .await
        .expect("by id")
        .expect("still there");
    assert_eq!(revoked.revoked_at, Some(at(600)));
    assert_eq!(
        repo.find_by_prefix("tfr_abc123")
            .await
            .expect("by prefix")
            .len(),
        2
    );

    repo.touch_last_used(b.id, at(700)).await.expect("touch");
    repo.touch_last_used(b.id, at(800)).await.expect("touch");
    repo.touch_last_used(Uuid::now_v7(), at(800))
        .await
        .expect("touching an unknown key is a no-op");
    let used = repo.find_by_id(b.id).await.expect("by id").expect("found");
    assert_eq!(used.last_used_at, Some(at(800)));
    assert_eq!(used.revoked_at, None);
    assert!(used.scopes.allows(Scope::ProvidersWrite));
    assert_eq!(used.owner, KeyOwner::User(alice.id));

    check_rotate(r, &used, &revoked).await;
}

/// Rotation replaces prefix and hash of live keys only.
async fn check_rotate(r: IdentityRepos<'_>, live: &ApiKeyRecord, revoked: &ApiKeyRecord) {
    let repo = r.api_keys;
    assert!(
        repo.rotate(live.id, "tfr_new000", "$2b$12$new", at(1000))
            .await
            .expect("rotate")
    );
    let rotated = repo
        .find_by_id(live.id)
        .await
        .expect("by id")
        .expect("found");
    assert_eq!(
        rotated,
        ApiKeyRecord {
            prefix: "tfr_new000".into(),
            key_hash: "$2b$12$new".into(),
            ..live.clone()
        },
        "only the secret changes"
    );
    assert_eq!(
        repo.find_by_prefix("tfr_new000").await.expect("by prefix"),
        vec![rotated]
    );
    assert!(
        !repo
            .rotate(revoked.id, "tfr_new111", "$2b$12$x", at(1000))
            .await
            .expect("rotate revoked"),
        "a revoked key is not rotated"
    );
    assert_eq!(
        repo.find_by_id(revoked.id).await.expect("by id").as_ref(),
        Some(revoked)
    );
    assert!(
        !repo
            .rotate(Uuid::now_v7(), "tfr_new222", "$2b$12$y", at(1000))
            .await
            .expect("rotate unknown")
    );
}
