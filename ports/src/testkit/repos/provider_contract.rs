//! `provider_repository_contract`.

use tfr_core::{BlobKey, Platform, ProviderAddress, ProviderVersion};
use uuid::Uuid;

use super::at;
use crate::driven::{
    NewProviderPlatform, NewProviderVersion, NewSigningKey, ProviderListQuery, ProviderPage,
    ProviderRepository, ProviderVersionRecord, RepoError,
};

pub(super) fn paddr(ns: &str, ty: &str) -> ProviderAddress {
    ProviderAddress::parse(ns, ty).expect("valid provider address")
}

pub(super) fn signing_key(fingerprint: &str) -> NewSigningKey {
    NewSigningKey {
        id: Uuid::now_v7(),
        key_id: fingerprint[fingerprint.len().saturating_sub(16)..].to_string(),
        fingerprint: fingerprint.to_string(),
        ascii_armor: format!(
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n{fingerprint}\n-----END PGP PUBLIC KEY BLOCK-----\n"
        ),
    }
}

pub(super) fn new_provider(
    address: &ProviderAddress,
    version: &str,
    key: NewSigningKey,
    platforms: &[&str],
    secs: i64,
) -> NewProviderVersion {
    let version = ProviderVersion::parse(version).expect("valid provider version");
    let id = Uuid::now_v7();
    let upload = id.as_u128();
    let platforms = platforms
        .iter()
        .map(|p| {
            let platform = Platform::parse(p).expect("valid platform");
            let blob_key = BlobKey::provider_package(address, &version, &platform, upload);
            NewProviderPlatform {
                id: Uuid::now_v7(),
                filename: blob_key.file_name().to_string(),
                sha256: "cd".repeat(32),
                size: 42_000_000,
                h1: "h1:6tzEc8Ec1sDqrvn1NvTHqZtz9JJU8F+oJNDd1/hVeaM=".to_string(),
                blob_key,
                platform,
            }
        })
        .collect();
    NewProviderVersion {
        id,
        shasums_key: BlobKey::provider_shasums(address, &version, upload),
        shasums_signature_key: BlobKey::provider_shasums_signature(address, &version, upload),
        address: address.clone(),
        version,
        protocols: vec!["5.0".to_string(), "6.0".to_string()],
        signing_key: key,
        platforms,
        published_at: at(secs),
        namespace_organization: crate::driven::DEFAULT_ORGANIZATION_ID,
        published_by: None,
    }
}

pub(super) fn provider_names(page: &ProviderPage) -> Vec<String> {
    page.items
        .iter()
        .map(|p| format!("{}/{}", p.provider.namespace, p.provider.provider_type))
        .collect()
}

pub(super) fn pquery(f: impl FnOnce(&mut ProviderListQuery)) -> ProviderListQuery {
    let mut q = ProviderListQuery {
        limit: 100,
        ..ProviderListQuery::default()
    };
    f(&mut q);
    q
}

/// The documented behaviour of [`ProviderRepository`], on an empty repository.
pub async fn provider_repository_contract(repo: &dyn ProviderRepository) {
    const FP1: &str = "C874011F0AB405110D02105534365D9472D7468F";
    const FP2: &str = "0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F";
    let addr = paddr("hashicorp", "aws");
    let key1 = signing_key(FP1);
    let new = new_provider(
        &addr,
        "1.0.0",
        key1.clone(),
        &["linux_amd64", "darwin_arm64"],
        0,
    );
    let r1 = repo
        .insert_version(new.clone())
        .await
        .expect("insert provider version");
    assert_eq!((r1.id, r1.version.as_str()), (new.id, "1.0.0"));
    assert_eq!(r1.protocols, vec!["5.0", "6.0"]);
    assert_eq!(
        (&r1.shasums_key, &r1.shasums_signature_key),
        (&new.shasums_key, &new.shasums_signature_key)
    );
    assert_eq!((r1.published_at, r1.published_by), (at(0), None));
    let key = &r1.signing_key;
    assert_eq!((key.id, key.namespace.as_str()), (key1.id, "hashicorp"));
    assert_eq!(
        (&key.key_id, &key.fingerprint, &key.ascii_armor),
        (&key1.key_id, &key1.fingerprint, &key1.ascii_armor)
    );
    assert_eq!(key.created_at, at(0));
    let platforms: Vec<String> = r1
        .platforms
        .iter()
        .map(|p| p.platform.to_string())
        .collect();
    assert_eq!(
        platforms,
        vec!["darwin_arm64", "linux_amd64"],
        "platforms sorted by os, arch"
    );
    let linux = new
        .platforms
        .iter()
        .find(|p| p.platform.os() == "linux")
        .expect("linux platform");
    let stored = &r1.platforms[1];
    assert_eq!(
        (stored.id, &stored.filename, &stored.sha256),
        (linux.id, &linux.filename, &linux.sha256)
    );
    assert_eq!(
        (stored.size, &stored.h1, &stored.blob_key),
        (linux.size, &linux.h1, &linux.blob_key)
    );

    let found = repo
        .find_provider(&addr)
        .await
        .expect("find")
        .expect("found");
    assert_eq!(found.provider.id, r1.provider_id);
    assert_eq!(
        (
            found.provider.namespace.as_str(),
            found.provider.provider_type.as_str()
        ),
        ("hashicorp", "aws")
    );
    assert_eq!(found.provider.created_at, at(0));
    assert_eq!(found.versions, vec![r1.clone()]);

    // The namespace's key is reused by fingerprint.
    let r2 = repo
        .insert_version(new_provider(
            &addr,
            "1.1.0",
            signing_key(FP1),
            &["linux_amd64"],
            60,
        ))
        .await
        .expect("second version");
    assert_eq!(r2.signing_key, r1.signing_key, "same fingerprint, same key");
    assert_eq!(r2.provider_id, r1.provider_id);

    let dup = repo
        .insert_version(new_provider(
            &addr,
            "1.0.0",
            signing_key(FP2),
            &["linux_amd64"],
            120,
        ))
        .await;
    assert!(
        matches!(dup, Err(RepoError::Conflict(_))),
        "duplicate version must conflict: {dup:?}"
    );
    let twice = new_provider(
        &addr,
        "1.2.0",
        signing_key(FP1),
        &["linux_amd64", "linux_amd64"],
        120,
    );
    let twice = repo.insert_version(twice).await;
    assert!(
        matches!(twice, Err(RepoError::Conflict(_))),
        "duplicate platform must conflict: {twice:?}"
    );
    let found = repo
        .find_provider(&addr)
        .await
        .expect("find")
        .expect("found");
    let mut versions = found.versions.clone();
    versions.sort_by_key(|v| v.id);
    assert_eq!(
        versions,
        vec![r1.clone(), r2.clone()],
        "failed inserts leave nothing behind"
    );

    // Keys belong to a namespace.
    let key3 = signing_key(FP1);
    let other = repo
        .insert_version(new_provider(
            &paddr("other", "aws"),
            "1.0.0",
            key3.clone(),
            &["linux_amd64"],
            180,
        ))
        .await
        .expect("other namespace");
    assert_eq!(
        (other.signing_key.id, other.signing_key.namespace.as_str()),
        (key3.id, "other")
    );
    repo.insert_version(new_provider(
        &paddr("hashicorp", "google"),
        "5.0.0",
        signing_key(FP2),
        &["windows_386"],
        240,
    ))
    .await
    .expect("google");

    let one = repo
        .find_version(&addr, &r2_version(&r2))
        .await
        .expect("find_version")
        .expect("found");
    assert_eq!(one, r2);
    let missing = ProviderVersion::parse("2.0.0").expect("version");
    assert!(
        repo.find_version(&addr, &missing)
            .await
            .expect("find_version")
            .is_none()
    );
    assert!(
        repo.find_provider(&paddr("nobody", "aws"))
            .await
            .expect("find")
            .is_none()
    );

    // Listing.
    let all = ["hashicorp/aws", "hashicorp/google", "other/aws"];
    let first = repo.list(&pquery(|q| q.limit = 2)).await.expect("list");
    assert_eq!(provider_names(&first), all[..2]);
    assert!(first.has_more);
    let mut listed = first.items[0].versions.clone();
    listed.sort_by_key(|v| v.id);
    assert_eq!(
        listed,
        vec![r1.clone(), r2.clone()],
        "versions with keys and platforms"
    );
    let rest = repo
        .list(&pquery(|q| {
            q.offset = 2;
            q.limit = 2
        }))
        .await
        .expect("list");
    assert_eq!(provider_names(&rest), all[2..]);
    assert!(!rest.has_more);
    let cases: Vec<(ProviderListQuery, Vec<&str>)> = vec![
        (
            pquery(|q| q.namespace = Some("other".into())),
            all[2..].to_vec(),
        ),
        (
            pquery(|q| q.search = Some("goo".into())),
            all[1..2].to_vec(),
        ),
        (
            pquery(|q| q.search = Some("AWS".into())),
            vec![all[0], all[2]],
        ),
        (
            pquery(|q| q.search = Some("HASHI".into())),
            all[..2].to_vec(),
        ),
        (pquery(|q| q.search = Some("%".into())), vec![]),
    ];
    for (query, expected) in cases {
        let page = repo.list(&query).await.expect("list");
        assert_eq!(provider_names(&page), expected, "list {query:?}");
        assert!(!page.has_more);
    }

    // Deleting versions, then the provider with its last version; keys stay.
    assert!(repo.delete_version(r1.id).await.expect("delete"));
    assert!(
        repo.find_version(&addr, &r2_version(&r1))
            .await
            .expect("find")
            .is_none()
    );
    let found = repo
        .find_provider(&addr)
        .await
        .expect("find")
        .expect("found");
    assert_eq!(found.versions, vec![r2.clone()]);
    assert!(repo.delete_version(r2.id).await.expect("delete"));
    assert!(repo.find_provider(&addr).await.expect("find").is_none());
    assert!(!repo.delete_version(r2.id).await.expect("delete again"));
    let again = repo
        .insert_version(new_provider(
            &addr,
            "2.0.0",
            signing_key(FP1),
            &["linux_arm64"],
            300,
        ))
        .await
        .expect("publish again");
    assert_eq!(
        again.signing_key.id, key1.id,
        "the namespace's key outlives its versions"
    );
    assert_ne!(again.provider_id, r1.provider_id);

    // A newer export of the same key (same fingerprint, e.g. a signing subkey added)
    // replaces the armor served for every version signed with it.
    let mut newer = signing_key(FP1);
    newer.ascii_armor =
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnewer export\n-----END PGP PUBLIC KEY BLOCK-----\n".into();
    let latest = repo
        .insert_version(new_provider(
            &addr,
            "2.1.0",
            newer.clone(),
            &["linux_arm64"],
            360,
        ))
        .await
        .expect("publish with a newer export");
    assert_eq!(latest.signing_key.id, key1.id, "still the same key record");
    assert_eq!(latest.signing_key.ascii_armor, newer.ascii_armor);
    let older = repo
        .find_version(&addr, &r2_version(&again))
        .await
        .expect("find")
        .expect("found");
    assert_eq!(
        older.signing_key.ascii_armor, newer.ascii_armor,
        "older versions are served the current export"
    );
}

fn r2_version(record: &ProviderVersionRecord) -> ProviderVersion {
    ProviderVersion::parse(&record.version).expect("stored version parses")
}
