//! tfr-db-seaorm: the repository ports on sea-orm, for SQLite and PostgreSQL.
//!
//! Connect with [`SeaOrmDatabase::connect`], apply the schema with
//! [`SeaOrmDatabase::migrate`], then take the repositories from it. Entities are private
//! to this crate; rows convert to the port records in each repository module.

mod api_key_repository;
mod common;
mod database;
mod entities;
mod error;
mod module_repository;
mod provider_repository;
mod provider_rows;

pub use api_key_repository::SeaOrmApiKeyRepository;
pub use database::{PoolSettings, SeaOrmDatabase};
pub use module_repository::SeaOrmModuleRepository;
pub use provider_repository::SeaOrmProviderRepository;
