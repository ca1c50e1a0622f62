//! `role_template_repository_contract`.

use tfr_core::{Scope, ScopeSet};
use uuid::Uuid;

use super::identity_fixtures::{assert_conflict, member, org, template, user};
use super::{IdentityRepos, system_templates};
use crate::driven::{
    DEFAULT_ORGANIZATION_ID, MembershipSource, RoleTemplateRecord, UserRecord, VIEWER_TEMPLATE_ID,
};

fn names(templates: &[RoleTemplateRecord]) -> Vec<&str> {
    templates.iter().map(|t| t.name.as_str()).collect()
}

/// The documented behaviour of [`RoleTemplateRepository`](crate::driven::RoleTemplateRepository),
/// on a fresh database (only the seeded system templates exist).
pub async fn role_template_repository_contract(r: IdentityRepos<'_>) {
    let t = r.templates;
    let system = system_templates();
    assert_eq!(
        t.list(None).await.expect("list"),
        system,
        "a fresh database holds the system templates"
    );
    assert!(system.iter().all(RoleTemplateRecord::is_system));
    assert_eq!(
        t.find(VIEWER_TEMPLATE_ID).await.expect("find"),
        system.iter().find(|s| s.id == VIEWER_TEMPLATE_ID).cloned()
    );

    let platform = org("platform", 0);
    let apps = org("apps", 0);
    r.organizations.insert(&platform).await.expect("org");
    r.organizations.insert(&apps).await.expect("org");
    let deployer = template(
        platform.id,
        "deployer",
        &[Scope::ModulesWrite, Scope::ProvidersRead],
    );
    let bot = template(platform.id, "bot", &[Scope::ModulesRead]);
    t.insert(&deployer).await.expect("insert");
    t.insert(&bot).await.expect("insert");
    assert_conflict(t.insert(&deployer).await, "a taken id");
    assert_conflict(
        t.insert(&template(platform.id, "deployer", &[Scope::Admin]))
            .await,
        "a name taken in the organization",
    );
    assert_conflict(
        t.insert(&template(Uuid::now_v7(), "orphan", &[Scope::Admin]))
            .await,
        "an unknown organization",
    );
    let apps_deployer = template(apps.id, "deployer", &[Scope::ModulesRead]);
    t.insert(&apps_deployer)
        .await
        .expect("the same name in another organization");

    assert_eq!(
        t.find(deployer.id).await.expect("find"),
        Some(deployer.clone())
    );
    assert_eq!(t.find(Uuid::now_v7()).await.expect("find"), None);
    assert_eq!(
        names(&t.list(Some(platform.id)).await.expect("list")),
        ["admin", "auditor", "bot", "deployer", "publisher", "viewer"],
        "system templates and the organization's own, by name"
    );
    assert_eq!(
        names(&t.list(Some(DEFAULT_ORGANIZATION_ID)).await.expect("list")),
        ["admin", "auditor", "publisher", "viewer"]
    );
    assert_eq!(t.list(None).await.expect("list"), system);

    // Name, description and scopes change; the organization does not.
    let changed = RoleTemplateRecord {
        name: "releaser".into(),
        description: "Ships releases".into(),
        scopes: ScopeSet::new([Scope::ProvidersWrite]),
        organization_id: Some(apps.id),
        ..deployer.clone()
    };
    assert!(t.update(&changed).await.expect("update"));
    let stored = RoleTemplateRecord {
        organization_id: Some(platform.id),
        ..changed.clone()
    };
    assert_eq!(
        t.find(deployer.id).await.expect("find"),
        Some(stored.clone())
    );
    assert_conflict(
        t.update(&RoleTemplateRecord {
            name: "bot".into(),
            ..stored.clone()
        })
        .await,
        "renaming to a name taken in the organization",
    );
    assert!(
        !t.update(&template(platform.id, "ghost", &[]))
            .await
            .expect("update unknown")
    );

    // Held by a member or as a user's global role: not deletable.
    let alice = user("alice", 0);
    r.users.insert(&alice).await.expect("user");
    let membership = member(platform.id, alice.id, bot.id, MembershipSource::Manual, 0);
    r.memberships.upsert(&membership).await.expect("member");
    assert_conflict(t.delete(bot.id).await, "deleting a template a member holds");
    assert!(
        r.memberships
            .remove(platform.id, alice.id)
            .await
            .expect("remove")
    );
    let admin_alice = UserRecord {
        global_role_id: Some(bot.id),
        ..alice.clone()
    };
    assert!(r.users.update(&admin_alice).await.expect("global role"));
    assert_conflict(t.delete(bot.id).await, "deleting a template a user holds");
    assert!(r.users.update(&alice).await.expect("drop the global role"));

    assert!(t.delete(bot.id).await.expect("delete"));
    assert_eq!(t.find(bot.id).await.expect("find"), None);
    assert!(!t.delete(bot.id).await.expect("delete again"));
    assert!(!t.delete(Uuid::now_v7()).await.expect("delete unknown"));
    assert_eq!(
        names(&t.list(Some(platform.id)).await.expect("list")),
        ["admin", "auditor", "publisher", "releaser", "viewer"]
    );
}
