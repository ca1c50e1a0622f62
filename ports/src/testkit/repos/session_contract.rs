//! `revoked_session_repository_contract` and `login_code_repository_contract`.

use super::at;
use super::identity_fixtures::{assert_conflict, user};
use crate::driven::{
    LoginCodeRecord, LoginCodeRepository, RevokedSessionRepository, UserRepository,
};

/// The documented behaviour of [`RevokedSessionRepository`], on an empty denylist.
pub async fn revoked_session_repository_contract(repo: &dyn RevokedSessionRepository) {
    assert!(repo.list_unexpired(at(0)).await.expect("list").is_empty());
    repo.revoke("jti-a", at(100)).await.expect("revoke");
    repo.revoke("jti-b", at(200)).await.expect("revoke");
    repo.revoke("jti-a", at(100))
        .await
        .expect("revoking again is a no-op");

    let mut live = repo.list_unexpired(at(50)).await.expect("list");
    live.sort();
    assert_eq!(live, ["jti-a", "jti-b"]);
    assert_eq!(
        repo.list_unexpired(at(100)).await.expect("list"),
        ["jti-b"],
        "a token expiring now has expired"
    );
    assert_eq!(repo.purge_expired(at(99)).await.expect("purge"), 0);
    assert_eq!(repo.purge_expired(at(100)).await.expect("purge"), 1);
    assert_eq!(repo.list_unexpired(at(0)).await.expect("list"), ["jti-b"]);
    assert_eq!(repo.purge_expired(at(1000)).await.expect("purge"), 1);
    assert!(repo.list_unexpired(at(0)).await.expect("list").is_empty());
}

/// The documented behaviour of [`LoginCodeRepository`], on an empty repository; `users`
/// is the same database's (codes belong to users).
pub async fn login_code_repository_contract(
    repo: &dyn LoginCodeRepository,
    users: &dyn UserRepository,
) {
    let alice = user("alice", 0);
    users.insert(&alice).await.expect("user");
    let code = |hash: &str, secs: i64| LoginCodeRecord {
        code_hash: hash.to_string(),
        user_id: alice.id,
        client_id: "terraform-cli".to_string(),
        redirect_uri: "http://localhost:10000/login".to_string(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_string(),
        expires_at: at(secs),
    };
    let fresh = code(&"a".repeat(64), 100);
    let stale = code(&"b".repeat(64), 10);
    repo.insert(&fresh).await.expect("insert");
    repo.insert(&stale).await.expect("insert");
    assert_conflict(repo.insert(&fresh).await, "a taken code");

    assert_eq!(
        repo.take(&fresh.code_hash).await.expect("take"),
        Some(fresh.clone())
    );
    assert_eq!(
        repo.take(&fresh.code_hash).await.expect("take again"),
        None,
        "a code is used once"
    );
    assert_eq!(repo.take("unknown").await.expect("take"), None);

    assert_eq!(repo.purge_expired(at(10)).await.expect("purge"), 1);
    assert_eq!(repo.take(&stale.code_hash).await.expect("take"), None);

    // Two takes at once: exactly one gets the code.
    let raced = code(&"c".repeat(64), 100);
    repo.insert(&raced).await.expect("insert");
    let (first, second) = futures::join!(repo.take(&raced.code_hash), repo.take(&raced.code_hash));
    let winners = [first.expect("take"), second.expect("take")]
        .into_iter()
        .flatten()
        .count();
    assert_eq!(winners, 1);
    // An expired code is still returned by take (the caller checks).
    let expired = code(&"d".repeat(64), -100);
    repo.insert(&expired).await.expect("insert");
    assert_eq!(
        repo.take(&expired.code_hash).await.expect("take"),
        Some(expired)
    );
}
