//! Shared wiring for the identity use-case tests: every identity service over the
//! testkit fakes (one `InMemoryRepositories`, one `ManualClock`); small fakes of the ports
//! the testkit has none of (`fakes`); the administration tests' setup (`admin`).
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use tfr_core::{Scope, ScopeSet};
use tfr_ports::driven::{
    Clock, KeyOwner, MembershipRecord, MembershipRepository, MembershipSource, NamespaceRecord,
    NamespaceRepository, OrganizationRecord, OrganizationRepository, RoleTemplateRecord,
    RoleTemplateRepository, UserRecord, UserRepository,
};
use tfr_ports::service::{
    ApiKeys, Authenticator, IdentityAdmin, NamespaceAccess, Principal, Sessions,
};
use tfr_ports::testkit::ManualClock;
use tfr_ports::testkit::repos::InMemoryRepositories;
use tfr_ports::testkit::security::{PlainHasher, SequentialSecrets};
use uuid::Uuid;

pub mod admin;
pub mod fakes;

#[allow(unused_imports)] // not every test file uses every fake
pub use fakes::{Answer, Completion, FakeSealer, FakeSessionCodec, ScriptedProvider, identity};

pub const SESSION_LIFETIME: Duration = Duration::from_secs(3600);
/// Long enough that, within a test, only an invalidation refreshes a cache.
pub const CACHE_TTL: Duration = Duration::from_secs(600);

pub fn scopes(list: &[Scope]) -> ScopeSet {
    ScopeSet::new(list.iter().copied())
}

// ------------------------------------------------------------------ the world

/// Every identity service on one set of fakes.
pub struct World {
    pub repos: InMemoryRepositories,
    pub clock: Arc<ManualClock>,
    pub secrets: Arc<SequentialSecrets>,
    pub api_keys: Arc<ApiKeys>,
    pub sessions: Arc<Sessions>,
    pub authenticator: Arc<Authenticator>,
    pub namespace_access: Arc<NamespaceAccess>,
    pub admin: Arc<IdentityAdmin>,
}

impl World {
    pub fn new() -> Self {
        Self::with_anonymous_read(false)
    }

    pub fn with_anonymous_read(anonymous_read: bool) -> Self {
        let repos = InMemoryRepositories::seeded();
        let clock = Arc::new(ManualClock::default());
        let secrets = Arc::new(SequentialSecrets::default());
        let api_keys = Arc::new(ApiKeys::new(
            repos.api_keys.clone(),
            Arc::new(PlainHasher),
            secrets.clone(),
            clock.clone(),
        ));
        let sessions = Arc::new(Sessions::new(
            Arc::new(FakeSessionCodec::default()),
            repos.revoked_sessions.clone(),
            secrets.clone(),
            clock.clone(),
            SESSION_LIFETIME,
            Duration::from_secs(60),
        ));
        let authenticator = Arc::new(Authenticator::new(
            api_keys.clone(),
            sessions.clone(),
            repos.identity.clone(),
            repos.identity.clone(),
            CACHE_TTL,
        ));
        let namespace_access = Arc::new(NamespaceAccess::new(
            repos.namespaces.clone(),
            CACHE_TTL,
            anonymous_read,
        ));
        let admin = Arc::new(IdentityAdmin::new(
            repos.identity.clone(),
            repos.identity.clone(),
            repos.identity.clone(),
            repos.identity.clone(),
            repos.namespaces.clone(),
            api_keys.clone(),
            authenticator.clone(),
            namespace_access.clone(),
            clock.clone(),
        ));
        Self {
            repos,
            clock,
            secrets,
            api_keys,
            sessions,
            authenticator,
            namespace_access,
            admin,
        }
    }

    /// Another replica's session service on the same database (its own denylist copy,
    /// re-read on every check).
    pub fn other_replica_sessions(&self) -> Sessions {
        Sessions::new(
            Arc::new(FakeSessionCodec::default()),
            self.repos.revoked_sessions.clone(),
            self.secrets.clone(),
            self.clock.clone(),
            SESSION_LIFETIME,
            Duration::ZERO,
        )
    }

    pub async fn org(&self, name: &str) -> OrganizationRecord {
        let org = OrganizationRecord {
            id: Uuid::now_v7(),
            name: name.to_string(),
            display_name: format!("The {name} team"),
            created_at: self.clock.now(),
        };
        OrganizationRepository::insert(&*self.repos.identity, &org)
            .await
            .unwrap();
        org
    }

    pub async fn user(&self, username: &str) -> UserRecord {
        let user = UserRecord {
            id: Uuid::now_v7(),
            username: username.to_string(),
            email: Some(format!("{username}@example.com")),
            display_name: None,
            identity_provider: "oidc".to_string(),
            subject: format!("sub-{username}"),
            global_role_id: None,
            created_at: self.clock.now(),
            last_login_at: None,
            disabled_at: None,
        };
        UserRepository::insert(&*self.repos.identity, &user)
            .await
            .unwrap();
        user
    }

    /// A user holding `template` everywhere.
    pub async fn global_user(&self, username: &str, template: Uuid) -> UserRecord {
        let mut user = self.user(username).await;
        user.global_role_id = Some(template);
        assert!(
            UserRepository::update(&*self.repos.identity, &user)
                .await
                .unwrap()
        );
        user
    }

    pub async fn stored_user(&self, id: Uuid) -> Option<UserRecord> {
        UserRepository::find(&*self.repos.identity, id)
            .await
            .unwrap()
    }

    pub async fn template(&self, org: Uuid, name: &str, held: &[Scope]) -> RoleTemplateRecord {
        let template = RoleTemplateRecord {
            id: Uuid::now_v7(),
            organization_id: Some(org),
            name: name.to_string(),
            description: String::new(),
            scopes: scopes(held),
            created_at: self.clock.now(),
        };
        RoleTemplateRepository::insert(&*self.repos.identity, &template)
            .await
            .unwrap();
        template
    }

    /// A manual membership, written straight to the repository (no cache invalidation).
    pub async fn member(&self, org: Uuid, user: Uuid, template: Uuid) {
        self.member_from(org, user, template, MembershipSource::Manual)
            .await;
    }

    pub async fn member_from(
        &self,
        org: Uuid,
        user: Uuid,
        template: Uuid,
        source: MembershipSource,
    ) {
        self.repos
            .identity
            .upsert(&MembershipRecord {
                organization_id: org,
                user_id: user,
                role_template_id: template,
                source,
                created_at: self.clock.now(),
            })
            .await
            .unwrap();
    }

    pub async fn memberships(&self, user: Uuid) -> Vec<MembershipRecord> {
        self.repos.identity.list_for_user(user).await.unwrap()
    }

    /// A namespace, written straight to the repository (no cache invalidation).
    pub async fn namespace(&self, org: Uuid, name: &str, public: bool) -> NamespaceRecord {
        let record = NamespaceRecord {
            id: Uuid::now_v7(),
            name: name.to_string(),
            organization_id: org,
            public,
            created_at: self.clock.now(),
        };
        self.repos.namespaces.insert(&record).await.unwrap();
        record
    }

    /// The principal of a fresh browser session of `user`.
    pub async fn session_principal(&self, user: Uuid) -> Principal {
        let issued = self.sessions.issue(user);
        self.authenticator
            .authenticate_bearer(&issued.token)
            .await
            .unwrap()
            .expect("a fresh session authenticates")
            .principal
    }

    /// A new key for `owner` (no permission checks), and its secret.
    pub async fn key(&self, owner: KeyOwner, name: &str, held: &[Scope]) -> String {
        self.api_keys
            .create(owner, name, scopes(held), None)
            .await
            .unwrap()
            .secret
    }

    /// The principal a bearer token authenticates as, if any.
    pub async fn bearer(&self, token: &str) -> Option<Principal> {
        self.authenticator
            .authenticate_bearer(token)
            .await
            .unwrap()
            .map(|a| a.principal)
    }
}
