//! `module_visibility_contract` and `provider_visibility_contract`: the namespace a
//! publish creates belongs to `namespace_organization`, and list queries honour
//! `organizations` (owned by one of them, or public).

use uuid::Uuid;

use super::IdentityRepos;
use super::identity_fixtures::org;
use super::module_contract::{maddr, mquery, names, new_module};
use super::provider_contract::{new_provider, paddr, pquery, provider_names, signing_key};
use crate::driven::{
    DEFAULT_ORGANIZATION_ID, ModuleRepository, NamespaceRecord, NewModuleVersion,
    NewProviderVersion, ProviderRepository,
};

/// Creates `platform`, returns its id; publishes go through `publish`.
async fn platform(r: IdentityRepos<'_>) -> Uuid {
    let platform = org("platform", 0);
    r.organizations.insert(&platform).await.expect("org");
    platform.id
}

async fn namespace(r: IdentityRepos<'_>, name: &str) -> NamespaceRecord {
    r.namespaces
        .find_by_name(name)
        .await
        .expect("find namespace")
        .unwrap_or_else(|| panic!("the publish created namespace {name}"))
}

/// Makes namespace `name` public.
async fn publish_openly(r: IdentityRepos<'_>, name: &str) {
    let ns = namespace(r, name).await;
    assert!(
        r.namespaces
            .update(&NamespaceRecord { public: true, ..ns })
            .await
            .expect("update namespace")
    );
}

/// Organization filters and whether each expects: (filter, names listed).
fn filters(platform: Uuid) -> Vec<(Option<Vec<Uuid>>, Vec<&'static str>)> {
    vec![
        (None, vec!["acme", "hashicorp", "open"]),
        (Some(vec![]), vec!["open"]),
        (Some(vec![platform]), vec!["acme", "open"]),
        (
            Some(vec![DEFAULT_ORGANIZATION_ID]),
            vec!["hashicorp", "open"],
        ),
        (
            Some(vec![DEFAULT_ORGANIZATION_ID, platform]),
            vec!["acme", "hashicorp", "open"],
        ),
        (Some(vec![Uuid::now_v7()]), vec!["open"]),
    ]
}

fn namespaces_of(listed: Vec<String>) -> Vec<String> {
    listed
        .into_iter()
        .map(|n| n.split('/').next().unwrap_or_default().to_string())
        .collect()
}

/// On a fresh database: modules, namespaces and organizations of one database.
pub async fn module_visibility_contract(modules: &dyn ModuleRepository, r: IdentityRepos<'_>) {
    let platform = platform(r).await;
    let in_org = |ns: &str, org: Uuid, secs: i64| NewModuleVersion {
        namespace_organization: org,
        ..new_module(&maddr(ns, "net", "aws"), "1.0.0", None, secs)
    };
    for new in [
        in_org("acme", platform, 0),
        in_org("HashiCorp", DEFAULT_ORGANIZATION_ID, 10),
        in_org("open", platform, 20),
    ] {
        modules.insert_version(new).await.expect("publish");
    }
    let acme = namespace(r, "ACME").await;
    assert_eq!(
        (acme.organization_id, acme.public),
        (platform, false),
        "a publish creates its namespace in namespace_organization, not public"
    );
    // An existing namespace keeps its organization.
    modules
        .insert_version(NewModuleVersion {
            namespace_organization: DEFAULT_ORGANIZATION_ID,
            ..new_module(&maddr("Acme", "dns", "aws"), "1.0.0", None, 30)
        })
        .await
        .expect("publish into an existing namespace");
    assert_eq!(namespace(r, "acme").await, acme);
    publish_openly(r, "open").await;

    for (organizations, expected) in filters(platform) {
        let page = modules
            .list(&mquery(|q| q.organizations = organizations.clone()))
            .await
            .expect("list");
        let mut listed = namespaces_of(names(&page));
        listed.dedup();
        assert_eq!(listed, expected, "organizations {organizations:?}");
    }
    let page = modules
        .list(&mquery(|q| {
            q.organizations = Some(vec![platform]);
            q.limit = 2;
        }))
        .await
        .expect("list");
    assert_eq!(names(&page), ["acme/dns/aws", "acme/net/aws"]);
    assert!(page.has_more, "filters apply before pagination");
    let page = modules
        .list(&mquery(|q| {
            q.organizations = Some(vec![DEFAULT_ORGANIZATION_ID]);
            q.search = Some("acme".into());
        }))
        .await
        .expect("list");
    assert!(page.items.is_empty(), "filters combine");
}

/// On a fresh database: providers, namespaces and organizations of one database.
pub async fn provider_visibility_contract(
    providers: &dyn ProviderRepository,
    r: IdentityRepos<'_>,
) {
    let platform = platform(r).await;
    let fingerprint = "0123456789ABCDEF0123456789ABCDEF01234567";
    let in_org = |ns: &str, ty: &str, org: Uuid, secs: i64| NewProviderVersion {
        namespace_organization: org,
        ..new_provider(
            &paddr(ns, ty),
            "1.0.0",
            signing_key(fingerprint),
            &["linux_amd64"],
            secs,
        )
    };
    for new in [
        in_org("acme", "cloud", platform, 0),
        in_org("hashicorp", "aws", DEFAULT_ORGANIZATION_ID, 10),
        in_org("open", "dns", platform, 20),
    ] {
        providers.insert_version(new).await.expect("publish");
    }
    let acme = namespace(r, "acme").await;
    assert_eq!((acme.organization_id, acme.public), (platform, false));
    providers
        .insert_version(in_org("acme", "dns", DEFAULT_ORGANIZATION_ID, 30))
        .await
        .expect("publish into an existing namespace");
    assert_eq!(namespace(r, "acme").await, acme);
    publish_openly(r, "open").await;

    for (organizations, expected) in filters(platform) {
        let page = providers
            .list(&pquery(|q| q.organizations = organizations.clone()))
            .await
            .expect("list");
        let mut listed = namespaces_of(provider_names(&page));
        listed.dedup();
        assert_eq!(listed, expected, "organizations {organizations:?}");
    }
    let page = providers
        .list(&pquery(|q| {
            q.organizations = Some(vec![platform]);
            q.limit = 2;
        }))
        .await
        .expect("list");
    assert_eq!(provider_names(&page), ["acme/cloud", "acme/dns"]);
    assert!(page.has_more);
}
