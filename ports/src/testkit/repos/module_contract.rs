//! `module_repository_contract`.

use tfr_core::{ArchiveFormat, BlobKey, ModuleAddress, ModuleVersion};
use uuid::Uuid;

use super::{at, without_readme};
use crate::driven::{ModuleListQuery, ModulePage, ModuleRepository, NewModuleVersion, RepoError};

pub(super) fn maddr(ns: &str, name: &str, system: &str) -> ModuleAddress {
    ModuleAddress::parse(ns, name, system).expect("valid module address")
}

fn mver(v: &str) -> ModuleVersion {
    ModuleVersion::parse(v).expect("valid module version")
}

pub(super) fn new_module(
    address: &ModuleAddress,
    version: &str,
    description: Option<&str>,
    secs: i64,
) -> NewModuleVersion {
    let version = mver(version);
    let id = Uuid::now_v7();
    NewModuleVersion {
        id,
        blob_key: BlobKey::module_archive(address, &version, ArchiveFormat::TarGz, id.as_u128()),
        address: address.clone(),
        version,
        description: description.map(str::to_string),
        readme: Some(format!("# {}\n", address.name.as_str())),
        format: ArchiveFormat::TarGz,
        size: 1234,
        sha256: "ab".repeat(32),
        published_at: at(secs),
        namespace_organization: crate::driven::DEFAULT_ORGANIZATION_ID,
        published_by: Some(Uuid::now_v7()),
    }
}

pub(super) fn names(page: &ModulePage) -> Vec<String> {
    page.items
        .iter()
        .map(|m| {
            format!(
                "{}/{}/{}",
                m.module.namespace, m.module.name, m.module.system
            )
            .to_lowercase()
        })
        .collect()
}

pub(super) fn mquery(f: impl FnOnce(&mut ModuleListQuery)) -> ModuleListQuery {
    let mut q = ModuleListQuery {
        limit: 100,
        ..ModuleListQuery::default()
    };
    f(&mut q);
    q
}

// ---------------------------------------------------------------- module contract

/// The documented behaviour of [`ModuleRepository`], on an empty repository.
pub async fn module_repository_contract(repo: &dyn ModuleRepository) {
    let addr = maddr("HashiCorp", "Consul", "aws");
    let new = new_module(&addr, "v1.0", Some("Consul cluster on AWS"), 0);
    let v1 = repo
        .insert_version(new.clone())
        .await
        .expect("insert first version");
    assert_eq!(v1.id, new.id);
    assert_eq!(v1.version, "1.0.0", "versions are stored in canonical form");
    assert_eq!(v1.description, new.description);
    assert_eq!(v1.readme, new.readme);
    assert_eq!(v1.format, ArchiveFormat::TarGz);
    assert_eq!(v1.blob_key, new.blob_key);
    assert_eq!(
        (v1.size, v1.sha256.as_str(), v1.downloads),
        (1234, new.sha256.as_str(), 0)
    );
    assert_eq!(
        (v1.published_at, v1.published_by),
        (at(0), new.published_by)
    );

    // Case-insensitive lookup; the display case of the first publish is kept.
    let found = repo
        .find_module(&maddr("hashicorp", "consul", "aws"))
        .await
        .expect("find")
        .expect("found");
    assert_eq!(found.module.id, v1.module_id);
    assert_eq!(
        (
            found.module.namespace.as_str(),
            found.module.name.as_str(),
            found.module.system.as_str()
        ),
        ("HashiCorp", "Consul", "aws")
    );
    assert_eq!(found.module.created_at, at(0));
    assert_eq!(
        found.versions,
        vec![without_readme(&v1)],
        "find_module never loads README text"
    );

    let v2 = repo
        .insert_version(new_module(
            &maddr("hashicorp", "CONSUL", "aws"),
            "1.1.0",
            Some("Second"),
            60,
        ))
        .await
        .expect("second version in another case");
    assert_eq!(v2.module_id, v1.module_id, "same module whatever the case");
    let found = repo.find_module(&addr).await.expect("find").expect("found");
    assert_eq!(
        (found.module.namespace.as_str(), found.module.name.as_str()),
        ("HashiCorp", "Consul")
    );
    let mut versions = found.versions.clone();
    versions.sort_by_key(|v| v.id);
    assert_eq!(versions, vec![without_readme(&v1), without_readme(&v2)]);

    // A duplicate version, in another case, conflicts and changes nothing.
    let dup = repo
        .insert_version(new_module(
            &maddr("HASHICORP", "consul", "aws"),
            "1.0.0",
            None,
            120,
        ))
        .await;
    assert!(
        matches!(dup, Err(RepoError::Conflict(_))),
        "duplicate version must conflict: {dup:?}"
    );
    let after = repo.find_module(&addr).await.expect("find").expect("found");
    assert_eq!(after.versions.len(), 2);

    // find_version matches the canonical form and the address in any case.
    let (module, version) = repo
        .find_version(&maddr("HASHICORP", "Consul", "aws"), &mver("1.1"))
        .await
        .expect("find_version")
        .expect("version found");
    assert_eq!(
        (module.id, module.namespace.as_str()),
        (v1.module_id, "HashiCorp")
    );
    assert_eq!(version, v2, "find_version returns the README");
    assert!(version.readme.is_some());
    assert!(
        repo.find_version(&addr, &mver("9.9.9"))
            .await
            .expect("find_version")
            .is_none()
    );
    assert!(
        repo.find_module(&maddr("hashicorp", "consul", "gcp"))
            .await
            .expect("find")
            .is_none()
    );
    assert!(
        repo.find_module(&maddr("nobody", "consul", "aws"))
            .await
            .expect("find")
            .is_none()
    );

    // Downloads.
    repo.record_downloads(v1.id, 1).await.expect("download");
    repo.record_downloads(v1.id, 2).await.expect("downloads");
    repo.record_downloads(Uuid::now_v7(), 1)
        .await
        .expect("download of an unknown version is a no-op");
    let (_, counted) = repo
        .find_version(&addr, &mver("1.0.0"))
        .await
        .expect("find")
        .expect("found");
    assert_eq!(counted.downloads, 3);

    // A namespace keeps its first display case for every module in it.
    let vault = repo
        .insert_version(new_module(
            &maddr("hashicorp", "vault", "aws"),
            "0.1.0",
            Some("Secrets"),
            180,
        ))
        .await
        .expect("insert vault");
    let found = repo
        .find_module(&maddr("hashicorp", "vault", "aws"))
        .await
        .expect("find")
        .expect("found");
    assert_eq!(found.module.namespace, "HashiCorp");
    assert_ne!(vault.module_id, v1.module_id);
    repo.insert_version(new_module(
        &maddr("acme", "consul", "azurerm"),
        "2.0.0",
        Some("Networking HELPERS"),
        240,
    ))
    .await
    .expect("insert acme");
    repo.insert_version(new_module(
        &maddr("Zeta", "app", "aws"),
        "1.0.0",
        Some("Has 100% coverage"),
        300,
    ))
    .await
    .expect("insert zeta");

    // Listing: ordered by namespace, name, system; paginated with has_more.
    let all = [
        "acme/consul/azurerm",
        "hashicorp/consul/aws",
        "hashicorp/vault/aws",
        "zeta/app/aws",
    ];
    let first = repo.list(&mquery(|q| q.limit = 2)).await.expect("list");
    assert_eq!(names(&first), all[..2]);
    assert!(first.has_more);
    assert_eq!(
        first.items[1].versions.len(),
        2,
        "versions are loaded with the page"
    );
    assert!(
        first.items[1].versions.iter().all(|v| v.readme.is_none()),
        "list never loads README text"
    );
    let second = repo
        .list(&mquery(|q| {
            q.offset = 2;
            q.limit = 2
        }))
        .await
        .expect("list");
    assert_eq!(names(&second), all[2..]);
    assert!(!second.has_more);
    let past = repo.list(&mquery(|q| q.offset = 4)).await.expect("list");
    assert!(past.items.is_empty() && !past.has_more);
    let none = repo.list(&mquery(|q| q.limit = 0)).await.expect("list");
    assert!(none.items.is_empty() && none.has_more);

    let cases: Vec<(ModuleListQuery, Vec<&str>)> = vec![
        (
            mquery(|q| q.namespace = Some("hashicorp".into())),
            all[1..3].to_vec(),
        ),
        (
            mquery(|q| q.name = Some("consul".into())),
            all[..2].to_vec(),
        ),
        (
            mquery(|q| q.system = Some("azurerm".into())),
            all[..1].to_vec(),
        ),
        (
            mquery(|q| q.search = Some("CONS".into())),
            all[..2].to_vec(),
        ),
        (
            mquery(|q| q.search = Some("hashi".into())),
            all[1..3].to_vec(),
        ),
        (
            mquery(|q| q.search = Some("networking helpers".into())),
            all[..1].to_vec(),
        ),
        (
            mquery(|q| q.search = Some("100%".into())),
            all[3..].to_vec(),
        ),
        (mquery(|q| q.search = Some("_".into())), vec![]),
        (mquery(|q| q.search = Some("%".into())), all[3..].to_vec()),
        (mquery(|q| q.search = Some("  ".into())), all.to_vec()),
        (
            mquery(|q| {
                q.namespace = Some("hashicorp".into());
                q.search = Some("VAULT".into())
            }),
            all[2..3].to_vec(),
        ),
    ];
    for (query, expected) in cases {
        let page = repo.list(&query).await.expect("list");
        assert_eq!(names(&page), expected, "list {query:?}");
        assert!(!page.has_more);
    }

    // Deleting the last version removes the module; the namespace stays.
    assert!(repo.delete_version(v1.id).await.expect("delete"));
    let found = repo
        .find_module(&addr)
        .await
        .expect("find")
        .expect("module still has a version");
    assert_eq!(found.versions, vec![without_readme(&v2)]);
    assert!(repo.delete_version(v2.id).await.expect("delete"));
    assert!(repo.find_module(&addr).await.expect("find").is_none());
    assert!(
        repo.find_version(&addr, &mver("1.1.0"))
            .await
            .expect("find")
            .is_none()
    );
    assert!(!repo.delete_version(v2.id).await.expect("delete again"));
    assert!(
        !repo
            .delete_version(Uuid::now_v7())
            .await
            .expect("delete unknown")
    );
    let left = repo
        .list(&mquery(|q| q.namespace = Some("HashiCorp".into())))
        .await
        .expect("list");
    assert_eq!(names(&left), vec!["hashicorp/vault/aws"]);

    let again = repo
        .insert_version(new_module(
            &maddr("hashicorp", "consul", "aws"),
            "1.0.0",
            None,
            360,
        ))
        .await
        .expect("a deleted version can be published again");
    let found = repo.find_module(&addr).await.expect("find").expect("found");
    assert_ne!(found.module.id, v1.module_id, "a new module row");
    assert_eq!(
        (found.module.namespace.as_str(), found.module.name.as_str()),
        ("HashiCorp", "consul")
    );
    assert_eq!(found.versions, vec![without_readme(&again)]);
}
