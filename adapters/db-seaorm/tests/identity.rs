//! The identity, API key, namespace visibility, audit and session contracts on real SQLite
//! and real PostgreSQL (a fresh, migrated database per test), plus what only a database
//! shows: the seeded rows, upgrading existing rows, and racing `take`s.

mod common;

use std::sync::Arc;

use tfr_db_seaorm::{
    SeaOrmApiKeyRepository, SeaOrmDatabase, SeaOrmMembershipRepository, SeaOrmNamespaceRepository,
    SeaOrmOrganizationRepository, SeaOrmRoleTemplateRepository, SeaOrmUserRepository,
};
use tfr_ports::driven::{
    ADMIN_TEMPLATE_ID, AUDITOR_TEMPLATE_ID, ApiKeyRepository, DEFAULT_ORGANIZATION_ID, KeyOwner,
    LoginCodeRecord, LoginCodeRepository, NamespaceRepository, OrganizationRepository,
    PUBLISHER_TEMPLATE_ID, RoleTemplateRepository, UserRepository, VIEWER_TEMPLATE_ID,
};
use tfr_ports::testkit::repos::{
    IdentityRepos, api_key_repository_contract, audit_repository_contract, default_organization,
    login_code_repository_contract, membership_repository_contract, module_visibility_contract,
    namespace_repository_contract, organization_repository_contract, provider_visibility_contract,
    revoked_session_repository_contract, role_template_repository_contract, system_templates,
    user_repository_contract,
};
use uuid::Uuid;

/// The identity repositories of one database.
struct Repos {
    organizations: SeaOrmOrganizationRepository,
    users: SeaOrmUserRepository,
    templates: SeaOrmRoleTemplateRepository,
    memberships: SeaOrmMembershipRepository,
    namespaces: SeaOrmNamespaceRepository,
    api_keys: SeaOrmApiKeyRepository,
}

impl Repos {
    fn of(db: &SeaOrmDatabase) -> Self {
        Self {
            organizations: db.organization_repository(),
            users: db.user_repository(),
            templates: db.role_template_repository(),
            memberships: db.membership_repository(),
            namespaces: db.namespace_repository(),
            api_keys: db.api_key_repository(),
        }
    }

    fn identity(&self) -> IdentityRepos<'_> {
        IdentityRepos {
            organizations: &self.organizations,
            users: &self.users,
            templates: &self.templates,
            memberships: &self.memberships,
            namespaces: &self.namespaces,
            api_keys: &self.api_keys,
        }
    }
}

/// One `#[tokio::test]` per backend for a check taking `&SeaOrmDatabase`.
macro_rules! on_both {
    ($check:ident) => {
        mod $check {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t = super::common::sqlite(true).await;
                super::$check(&t.db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let t = super::common::postgres(true).await;
                super::$check(&t.db).await;
            }
        }
    };
}

async fn organizations(db: &SeaOrmDatabase) {
    organization_repository_contract(Repos::of(db).identity()).await;
}
on_both!(organizations);

async fn users(db: &SeaOrmDatabase) {
    user_repository_contract(Repos::of(db).identity()).await;
}
on_both!(users);

async fn role_templates(db: &SeaOrmDatabase) {
    role_template_repository_contract(Repos::of(db).identity()).await;
}
on_both!(role_templates);

async fn memberships(db: &SeaOrmDatabase) {
    membership_repository_contract(Repos::of(db).identity()).await;
}
on_both!(memberships);

async fn namespaces(db: &SeaOrmDatabase) {
    namespace_repository_contract(Repos::of(db).identity()).await;
}
on_both!(namespaces);

async fn api_keys(db: &SeaOrmDatabase) {
    api_key_repository_contract(Repos::of(db).identity()).await;
}
on_both!(api_keys);

async fn module_visibility(db: &SeaOrmDatabase) {
    module_visibility_contract(&db.module_repository(), Repos::of(db).identity()).await;
}
on_both!(module_visibility);

async fn provider_visibility(db: &SeaOrmDatabase) {
    provider_visibility_contract(&db.provider_repository(), Repos::of(db).identity()).await;
}
on_both!(provider_visibility);

async fn audit_log(db: &SeaOrmDatabase) {
    audit_repository_contract(&db.audit_repository()).await;
}
on_both!(audit_log);

async fn revoked_sessions(db: &SeaOrmDatabase) {
    revoked_session_repository_contract(&db.revoked_session_repository()).await;
}
on_both!(revoked_sessions);

async fn login_codes(db: &SeaOrmDatabase) {
    login_code_repository_contract(&db.login_code_repository(), &db.user_repository()).await;
}
on_both!(login_codes);

// ---------------------------------------------------------------- seeded rows

#[test]
fn migration_ids_are_the_ports_constants() {
    use tfr_migrations::m20261126_000002_identity as m;
    assert_eq!(m::DEFAULT_ORGANIZATION_ID, DEFAULT_ORGANIZATION_ID);
    assert_eq!(m::VIEWER_TEMPLATE_ID, VIEWER_TEMPLATE_ID);
    assert_eq!(m::PUBLISHER_TEMPLATE_ID, PUBLISHER_TEMPLATE_ID);
    assert_eq!(m::ADMIN_TEMPLATE_ID, ADMIN_TEMPLATE_ID);
    assert_eq!(m::AUDITOR_TEMPLATE_ID, AUDITOR_TEMPLATE_ID);
}

/// The migration seeds exactly what the fakes are seeded with.
async fn seeded_rows(db: &SeaOrmDatabase) {
    let r = Repos::of(db);
    assert_eq!(
        r.organizations.list().await.expect("organizations"),
        vec![default_organization()]
    );
    assert_eq!(
        r.templates.list(None).await.expect("templates"),
        system_templates()
    );
}
on_both!(seeded_rows);

// ---------------------------------------------------------------- upgrading

/// Rows written before the identity migration: namespaces land in the default
/// organization (not public), keys become system keys.
async fn upgrade_keeps_existing_rows(db: &SeaOrmDatabase) {
    use sea_orm::sea_query::{Alias, Query};
    use sea_orm::{ConnectionTrait, Value};
    use tfr_migrations::MigratorTrait;

    tfr_migrations::Migrator::up(db.connection(), Some(1))
        .await
        .expect("initial migration only");
    let conn = db.connection();
    let at = chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("time");
    let (ns_id, key_id) = (Uuid::now_v7(), Uuid::now_v7());
    let namespace = Query::insert()
        .into_table(Alias::new("namespaces"))
        .columns(["id", "name", "name_key", "created_at"].map(Alias::new))
        .values_panic([ns_id.into(), "Legacy".into(), "legacy".into(), at.into()])
        .to_owned();
    let key = Query::insert()
        .into_table(Alias::new("api_keys"))
        .columns(["id", "name", "prefix", "key_hash", "scopes", "created_at"].map(Alias::new))
        .values_panic([
            key_id.into(),
            "old".into(),
            "tfr_old000".into(),
            "$2b$12$old".into(),
            Value::Json(Some(Box::new(serde_json::json!(["modules:read"])))).into(),
            at.into(),
        ])
        .to_owned();
    for stmt in [namespace, key] {
        conn.execute(&stmt).await.expect("legacy row");
    }
    db.migrate().await.expect("identity migration");

    let r = Repos::of(db);
    let ns = r
        .namespaces
        .find_by_name("legacy")
        .await
        .expect("find")
        .expect("kept");
    assert_eq!(
        (ns.id, ns.name.as_str(), ns.organization_id, ns.public),
        (ns_id, "Legacy", DEFAULT_ORGANIZATION_ID, false)
    );
    let key = r
        .api_keys
        .find_by_id(key_id)
        .await
        .expect("find")
        .expect("kept");
    assert_eq!(key.owner, KeyOwner::System);
    assert_conflict(
        r.organizations.delete(DEFAULT_ORGANIZATION_ID).await,
        "the default organization owns the legacy namespace",
    );
}

fn assert_conflict<T: std::fmt::Debug>(
    result: Result<T, tfr_ports::driven::RepoError>,
    what: &str,
) {
    assert!(
        matches!(result, Err(tfr_ports::driven::RepoError::Conflict(_))),
        "{what}: {result:?}"
    );
}

#[tokio::test]
async fn sqlite_upgrade_keeps_existing_rows() {
    let t = common::sqlite(false).await;
    upgrade_keeps_existing_rows(&t.db).await;
}

#[tokio::test]
async fn postgres_upgrade_keeps_existing_rows() {
    let t = common::postgres(false).await;
    upgrade_keeps_existing_rows(&t.db).await;
}

/// PostgreSQL also has foreign keys on the columns added to existing tables (SQLite
/// cannot add them; its repositories check in their write transactions).
#[tokio::test]
async fn postgres_foreign_keys_guard_added_columns() {
    let t = common::postgres(true).await;
    let r = Repos::of(&t.db);
    let orphan = tfr_ports::driven::NamespaceRecord {
        id: Uuid::now_v7(),
        name: "orphan".into(),
        organization_id: Uuid::now_v7(),
        public: false,
        created_at: chrono::Utc::now(),
    };
    assert_conflict(
        r.namespaces.insert(&orphan).await,
        "a namespace of an unknown organization",
    );
    let key = |owner| tfr_ports::driven::ApiKeyRecord {
        id: Uuid::now_v7(),
        owner,
        name: "k".into(),
        prefix: "tfr_fk0000".into(),
        key_hash: "$2b$12$k".into(),
        scopes: tfr_core::ScopeSet::default(),
        created_at: chrono::Utc::now(),
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
    };
    assert_conflict(
        r.api_keys
            .insert(&key(KeyOwner::User(Uuid::now_v7())))
            .await,
        "a key of an unknown user",
    );
    assert_conflict(
        r.api_keys
            .insert(&key(KeyOwner::Organization(Uuid::now_v7())))
            .await,
        "a key of an unknown organization",
    );
}

// ---------------------------------------------------------------- races

/// Many replicas redeeming one code at once: exactly one gets it.
async fn racing_takes(db: &SeaOrmDatabase) {
    let user = tfr_ports::driven::UserRecord {
        id: Uuid::now_v7(),
        username: "racer".into(),
        email: None,
        display_name: None,
        identity_provider: "oidc".into(),
        subject: "racer".into(),
        global_role_id: None,
        created_at: chrono::Utc::now(),
        last_login_at: None,
        disabled_at: None,
    };
    db.user_repository().insert(&user).await.expect("user");
    let codes: Arc<dyn LoginCodeRepository> = Arc::new(db.login_code_repository());
    for round in 0..5 {
        let hash = format!("{round:064}");
        codes
            .insert(&LoginCodeRecord {
                code_hash: hash.clone(),
                user_id: user.id,
                client_id: "terraform-cli".into(),
                redirect_uri: "http://localhost:10000/login".into(),
                code_challenge: "challenge".into(),
                expires_at: chrono::Utc::now(),
            })
            .await
            .expect("insert");
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let (codes, hash) = (codes.clone(), hash.clone());
                tokio::spawn(async move { codes.take(&hash).await })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            if task.await.expect("join").expect("take").is_some() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
}
on_both!(racing_takes);
