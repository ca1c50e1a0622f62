//! In-memory repositories for use-case tests, and the contract suites every repository
//! adapter runs (the fakes run them too, so fakes and adapters agree).
//!
//! Each contract expects a fresh repository: empty, except for what the migrations seed
//! (the default organization and the system role templates), which the fakes seed too
//! ([`InMemoryIdentity::seeded`], [`InMemoryRepositories::seeded`]).

mod api_key_contract;
mod audit_contract;
mod fake_api_keys;
mod fake_audit;
mod fake_identity;
mod fake_identity_users;
mod fake_mirrors;
mod fake_modules;
mod fake_namespaces;
mod fake_providers;
mod fake_sessions;
mod identity_fixtures;
mod in_memory;
mod mirror_contract;
mod module_contract;
mod namespace_contract;
mod organization_contract;
mod provider_contract;
mod role_template_contract;
mod session_contract;
mod user_contract;
mod visibility_contract;

use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::driven::{
    ApiKeyRepository, MembershipRepository, ModuleVersionRecord, NamespaceRepository,
    OrganizationRepository, RoleTemplateRepository, UserRepository,
};

pub use api_key_contract::api_key_repository_contract;
pub use audit_contract::audit_repository_contract;
pub use fake_api_keys::InMemoryApiKeyRepository;
pub use fake_audit::InMemoryAuditRepository;
pub use fake_identity::{InMemoryIdentity, default_organization, seeded_at, system_templates};
pub use fake_mirrors::InMemoryMirrorRepository;
pub use fake_modules::InMemoryModuleRepository;
pub use fake_namespaces::InMemoryNamespaceRepository;
pub use fake_providers::InMemoryProviderRepository;
pub use fake_sessions::{InMemoryLoginCodeRepository, InMemoryRevokedSessionRepository};
pub use in_memory::InMemoryRepositories;
pub use mirror_contract::mirror_repository_contract;
pub use module_contract::module_repository_contract;
pub use namespace_contract::namespace_repository_contract;
pub use organization_contract::organization_repository_contract;
pub use provider_contract::provider_repository_contract;
pub use role_template_contract::role_template_repository_contract;
pub use session_contract::{login_code_repository_contract, revoked_session_repository_contract};
pub use user_contract::{membership_repository_contract, user_repository_contract};
pub use visibility_contract::{module_visibility_contract, provider_visibility_contract};

/// The repositories the identity contracts act through, all on one database (or one
/// [`InMemoryRepositories`]): organizations must exist for their namespaces, keys,
/// templates and members; users for their memberships and keys.
#[derive(Clone, Copy)]
pub struct IdentityRepos<'a> {
    pub organizations: &'a dyn OrganizationRepository,
    pub users: &'a dyn UserRepository,
    pub templates: &'a dyn RoleTemplateRepository,
    pub memberships: &'a dyn MembershipRepository,
    pub namespaces: &'a dyn NamespaceRepository,
    pub api_keys: &'a dyn ApiKeyRepository,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Lower-cased, non-blank search term (the adapters' rule).
fn search_term(search: &Option<String>) -> Option<String> {
    search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase)
}

/// Offset/limit over an ordered list, with `has_more`.
fn page<T>(all: Vec<T>, offset: u64, limit: u64) -> (Vec<T>, bool) {
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let rest: Vec<T> = all.into_iter().skip(offset).collect();
    let has_more = rest.len() > limit;
    (rest.into_iter().take(limit).collect(), has_more)
}

/// A module version as the read paths return it: without README text.
fn without_readme(v: &ModuleVersionRecord) -> ModuleVersionRecord {
    ModuleVersionRecord {
        readme: None,
        ..v.clone()
    }
}

/// A fixed instant plus `secs`, at microsecond precision (what every database keeps).
fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600 + secs, 123_456_000).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_memory_module_repository_honours_the_contract() {
        module_repository_contract(&InMemoryModuleRepository::new()).await;
    }

    #[tokio::test]
    async fn in_memory_provider_repository_honours_the_contract() {
        provider_repository_contract(&InMemoryProviderRepository::new()).await;
    }
}
