//! ApiKeys and DownloadLinks against the testkit fakes.
#![cfg(feature = "testkit")]

mod common;

use std::sync::Arc;

use chrono::Duration;
use tfr_core::{BlobKey, Scope, ScopeSet};
use tfr_ports::driven::{ApiKeyRepository, Clock};
use tfr_ports::service::api_keys::KEY_PREFIX_LEN;
use tfr_ports::service::{ApiKeys, LinkError, ServiceError};
use tfr_ports::testkit::ManualClock;
use tfr_ports::testkit::blob::InMemoryBlobStore;
use tfr_ports::testkit::repos::InMemoryApiKeyRepository;
use tfr_ports::testkit::security::{PlainHasher, SequentialSecrets};

use common::{LINK_TTL, links};

struct Keys {
    repo: Arc<InMemoryApiKeyRepository>,
    clock: Arc<ManualClock>,
    service: ApiKeys,
}

fn keys() -> Keys {
    let repo = Arc::new(InMemoryApiKeyRepository::new());
    let clock = Arc::new(ManualClock::default());
    let service = ApiKeys::new(
        repo.clone(),
        Arc::new(PlainHasher),
        Arc::new(SequentialSecrets::default()),
        clock.clone(),
    );
    Keys {
        repo,
        clock,
        service,
    }
}

fn read_modules() -> ScopeSet {
    ScopeSet::new([Scope::ModulesRead])
}

#[tokio::test]
async fn create_returns_a_tfr_key_whose_prefix_is_stored_and_authenticates() {
    let k = keys();
    let created = k
        .service
        .create(
            tfr_ports::driven::KeyOwner::System,
            "ci",
            read_modules(),
            None,
        )
        .await
        .unwrap();
    assert!(created.secret.starts_with("tfr_"), "{}", created.secret);
    assert_eq!(created.record.prefix, &created.secret[..KEY_PREFIX_LEN]);
    assert_eq!(created.record.prefix.len(), 10);
    assert_ne!(created.record.key_hash, created.secret);

    let stored = k.repo.find_by_id(created.record.id).await.unwrap().unwrap();
    assert_eq!(stored.prefix, created.record.prefix);

    let principal = k
        .service
        .authenticate(&created.secret)
        .await
        .unwrap()
        .expect("the fresh key authenticates");
    assert_eq!(principal.id, created.record.id);
    assert_eq!(principal.name, "ci");
    assert_eq!(principal.owner, tfr_ports::driven::KeyOwner::System);
    assert!(principal.scopes.allows(Scope::ModulesRead));
    assert!(!principal.scopes.allows(Scope::ProvidersWrite));
}

#[tokio::test]
async fn a_revoked_key_does_not_authenticate() {
    let k = keys();
    let created = k
        .service
        .create(
            tfr_ports::driven::KeyOwner::System,
            "ci",
            read_modules(),
            None,
        )
        .await
        .unwrap();
    k.service.revoke(&created.record.prefix).await.unwrap();
    assert!(
        k.service
            .authenticate(&created.secret)
            .await
            .unwrap()
            .is_none()
    );
    let stored = k.repo.find_by_id(created.record.id).await.unwrap().unwrap();
    assert_eq!(stored.revoked_at, Some(k.clock.now()));
}

#[tokio::test]
async fn an_expired_key_does_not_authenticate() {
    let k = keys();
    let expires = k.clock.now() + Duration::hours(1);
    let created = k
        .service
        .create(
            tfr_ports::driven::KeyOwner::System,
            "ci",
            read_modules(),
            Some(expires),
        )
        .await
        .unwrap();
    k.clock.advance(Duration::minutes(59));
    assert!(
        k.service
            .authenticate(&created.secret)
            .await
            .unwrap()
            .is_some()
    );
    k.clock.advance(Duration::minutes(1));
    assert!(
        k.service
            .authenticate(&created.secret)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_wrong_secret_with_the_same_prefix_does_not_authenticate() {
    let k = keys();
    let created = k
        .service
        .create(
            tfr_ports::driven::KeyOwner::System,
            "ci",
            read_modules(),
            None,
        )
        .await
        .unwrap();
    let forged = format!("{}{}", &created.secret[..KEY_PREFIX_LEN], "x".repeat(30));
    assert_eq!(&forged[..KEY_PREFIX_LEN], created.record.prefix);
    assert!(k.service.authenticate(&forged).await.unwrap().is_none());
    assert!(k.service.authenticate("not-a-key").await.unwrap().is_none());
}

#[tokio::test]
async fn a_key_needs_a_scope_a_name_and_a_future_expiry() {
    let k = keys();
    let err = k
        .service
        .create(
            tfr_ports::driven::KeyOwner::System,
            "ci",
            ScopeSet::new([]),
            None,
        )
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            ServiceError::Invalid {
                check: "scopes",
                ..
            }
        ),
        "{err:?}"
    );
    let err = k
        .service
        .create(
            tfr_ports::driven::KeyOwner::System,
            "  ",
            read_modules(),
            None,
        )
        .await
        .err()
        .unwrap();
    assert!(
        matches!(err, ServiceError::Invalid { check: "name", .. }),
        "{err:?}"
    );
    let err = k
        .service
        .create(
            tfr_ports::driven::KeyOwner::System,
            "ci",
            read_modules(),
            Some(k.clock.now()),
        )
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            ServiceError::Invalid {
                check: "expires_at",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(k.repo.list(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn own_links_verify_until_they_expire_and_not_when_tampered() {
    let clock = Arc::new(ManualClock::default());
    let links = links(Arc::new(InMemoryBlobStore::new()), clock.clone());
    let key = BlobKey::parse("modules/acme/network/aws/1.0.0/archive.tar.gz").unwrap();
    let link = links.link(&key).await.unwrap();

    let query = link
        .strip_prefix(&format!("/v1/files/{}?", key.as_str()))
        .expect("own link");
    let (expires, signature) = query
        .strip_prefix("expires=")
        .and_then(|q| q.split_once("&signature="))
        .expect("expires then signature");
    let expires: i64 = expires.parse().unwrap();
    assert_eq!(expires, clock.now().timestamp() + LINK_TTL.as_secs() as i64);

    assert_eq!(links.verify(key.as_str(), expires, signature), Ok(()));
    assert_eq!(
        links.verify(key.as_str(), expires + 60, signature),
        Err(LinkError::BadSignature)
    );
    assert_eq!(
        links.verify(key.as_str(), expires, "forged"),
        Err(LinkError::BadSignature)
    );
    assert_eq!(
        links.verify(
            "modules/other/x/aws/1.0.0/archive.tar.gz/longer",
            expires,
            signature
        ),
        Err(LinkError::BadSignature)
    );

    clock.advance(Duration::seconds(LINK_TTL.as_secs() as i64 + 1));
    assert_eq!(
        links.verify(key.as_str(), expires, signature),
        Err(LinkError::Expired)
    );
}
