//! `InMemoryRepositories`: every repository fake, wired to share state like repositories
//! on one database.

use std::sync::Arc;

use super::{
    IdentityRepos, InMemoryApiKeyRepository, InMemoryAuditRepository, InMemoryIdentity,
    InMemoryLoginCodeRepository, InMemoryModuleRepository, InMemoryNamespaceRepository,
    InMemoryProviderRepository, InMemoryRevokedSessionRepository,
};

/// Every repository fake on shared state: publishes create namespaces the namespace
/// repository sees, list filters read namespace owners, and the identity fake refuses to
/// delete an organization that owns namespaces or keys. Seeded like a freshly migrated
/// database (the default organization and the system role templates).
#[derive(Debug, Clone)]
pub struct InMemoryRepositories {
    pub namespaces: Arc<InMemoryNamespaceRepository>,
    pub modules: Arc<InMemoryModuleRepository>,
    pub providers: Arc<InMemoryProviderRepository>,
    pub api_keys: Arc<InMemoryApiKeyRepository>,
    /// Organizations, users, role templates and memberships.
    pub identity: Arc<InMemoryIdentity>,
    pub audit: Arc<InMemoryAuditRepository>,
    pub revoked_sessions: Arc<InMemoryRevokedSessionRepository>,
    pub login_codes: Arc<InMemoryLoginCodeRepository>,
}

impl InMemoryRepositories {
    pub fn seeded() -> Self {
        let namespaces = InMemoryNamespaceRepository::new();
        let api_keys = InMemoryApiKeyRepository::new();
        Self {
            modules: Arc::new(InMemoryModuleRepository::with_namespaces(&namespaces)),
            providers: Arc::new(InMemoryProviderRepository::with_namespaces(&namespaces)),
            identity: Arc::new(InMemoryIdentity::with_stores(&namespaces, &api_keys)),
            namespaces: Arc::new(namespaces),
            api_keys: Arc::new(api_keys),
            audit: Arc::new(InMemoryAuditRepository::new()),
            revoked_sessions: Arc::new(InMemoryRevokedSessionRepository::new()),
            login_codes: Arc::new(InMemoryLoginCodeRepository::new()),
        }
    }

    /// The identity repositories, for the contract suites.
    pub fn identity_repos(&self) -> IdentityRepos<'_> {
        IdentityRepos {
            organizations: self.identity.as_ref(),
            users: self.identity.as_ref(),
            templates: self.identity.as_ref(),
            memberships: self.identity.as_ref(),
            namespaces: self.namespaces.as_ref(),
            api_keys: self.api_keys.as_ref(),
        }
    }
}
