//! `api_key_repository_contract`.

use chrono::Duration;
use tfr_core::{Scope, ScopeSet};
use uuid::Uuid;

use super::at;
use crate::driven::{ApiKeyRecord, ApiKeyRepository, KeyOwner, RepoError};

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

/// The documented behaviour of [`ApiKeyRepository`], on an empty repository.
pub async fn api_key_repository_contract(repo: &dyn ApiKeyRepository) {
    let a = api_key(
        "ci",
        "tfr_abc123",
        &[Scope::ModulesWrite, Scope::ProvidersRead],
        0,
    );
    let b = ApiKeyRecord {
        expires_at: None,
        ..api_key("admin", "tfr_abc123", &[Scope::Admin], 60)
    };
    let c = api_key("reader", "tfr_zzz999", &[], 120);
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
}
