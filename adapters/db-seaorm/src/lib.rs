//! tfr-db-seaorm: the repository ports on sea-orm, for SQLite and PostgreSQL.
//!
//! Connect with [`SeaOrmDatabase::connect`], apply the schema with
//! [`SeaOrmDatabase::migrate`], then take the repositories from it. Entities are private
//! to this crate; rows convert to the port records in each repository module.

mod api_key_repository;
mod audit_repository;
mod common;
mod database;
mod entities;
mod error;
mod login_code_repository;
mod membership_repository;
mod mirror_repository;
mod mirror_rows;
mod module_repository;
mod namespace_repository;
mod organization_repository;
mod provider_repository;
mod provider_rows;
mod revoked_session_repository;
mod role_template_repository;
mod user_repository;

pub use api_key_repository::SeaOrmApiKeyRepository;
pub use audit_repository::SeaOrmAuditRepository;
pub use database::{PoolSettings, SeaOrmDatabase};
pub use login_code_repository::SeaOrmLoginCodeRepository;
pub use membership_repository::SeaOrmMembershipRepository;
pub use mirror_repository::SeaOrmMirrorRepository;
pub use module_repository::SeaOrmModuleRepository;
pub use namespace_repository::SeaOrmNamespaceRepository;
pub use organization_repository::SeaOrmOrganizationRepository;
pub use provider_repository::SeaOrmProviderRepository;
pub use revoked_session_repository::SeaOrmRevokedSessionRepository;
pub use role_template_repository::SeaOrmRoleTemplateRepository;
pub use user_repository::SeaOrmUserRepository;
