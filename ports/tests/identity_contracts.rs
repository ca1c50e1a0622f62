//! The repository contracts that need several repositories of one database (identity,
//! API key owners, namespace visibility), and the audit and session contracts, against
//! the testkit fakes. The adapters run the same suites (tfr-db-seaorm's tests).
#![cfg(feature = "testkit")]

use tfr_ports::testkit::repos::{
    InMemoryAuditRepository, InMemoryLoginCodeRepository, InMemoryRepositories,
    InMemoryRevokedSessionRepository, api_key_repository_contract, audit_repository_contract,
    login_code_repository_contract, membership_repository_contract, module_repository_contract,
    module_visibility_contract, namespace_repository_contract, organization_repository_contract,
    provider_repository_contract, provider_visibility_contract,
    revoked_session_repository_contract, role_template_repository_contract,
    user_repository_contract,
};

#[tokio::test]
async fn organizations() {
    let fakes = InMemoryRepositories::seeded();
    organization_repository_contract(fakes.identity_repos()).await;
}

#[tokio::test]
async fn users() {
    let fakes = InMemoryRepositories::seeded();
    user_repository_contract(fakes.identity_repos()).await;
}

#[tokio::test]
async fn role_templates() {
    let fakes = InMemoryRepositories::seeded();
    role_template_repository_contract(fakes.identity_repos()).await;
}

#[tokio::test]
async fn memberships() {
    let fakes = InMemoryRepositories::seeded();
    membership_repository_contract(fakes.identity_repos()).await;
}

#[tokio::test]
async fn namespaces() {
    let fakes = InMemoryRepositories::seeded();
    namespace_repository_contract(fakes.identity_repos()).await;
}

#[tokio::test]
async fn api_keys() {
    let fakes = InMemoryRepositories::seeded();
    api_key_repository_contract(fakes.identity_repos()).await;
}

#[tokio::test]
async fn module_visibility() {
    let fakes = InMemoryRepositories::seeded();
    module_visibility_contract(fakes.modules.as_ref(), fakes.identity_repos()).await;
}

#[tokio::test]
async fn provider_visibility() {
    let fakes = InMemoryRepositories::seeded();
    provider_visibility_contract(fakes.providers.as_ref(), fakes.identity_repos()).await;
}

#[tokio::test]
async fn shared_namespaces_still_honour_the_catalog_contracts() {
    let fakes = InMemoryRepositories::seeded();
    module_repository_contract(fakes.modules.as_ref()).await;
    provider_repository_contract(fakes.providers.as_ref()).await;
}

#[tokio::test]
async fn audit_log() {
    audit_repository_contract(&InMemoryAuditRepository::new()).await;
}

#[tokio::test]
async fn revoked_sessions() {
    revoked_session_repository_contract(&InMemoryRevokedSessionRepository::new()).await;
}

#[tokio::test]
async fn login_codes() {
    let fakes = InMemoryRepositories::seeded();
    login_code_repository_contract(&InMemoryLoginCodeRepository::new(), fakes.identity.as_ref())
        .await;
}
