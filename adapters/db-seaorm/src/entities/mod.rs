//! sea-orm entities: the table shapes, mirrored from `tfr-migrations`. Only this crate sees
//! them; repositories convert rows to the port records with small `*_record` functions.

pub mod api_key;
pub mod audit_log;
pub mod login_code;
pub mod mirror_configuration;
pub mod mirror_sync_history;
pub mod mirrored_provider;
pub mod mirrored_provider_package;
pub mod mirrored_provider_version;
pub mod module;
pub mod module_version;
pub mod module_version_summary;
pub mod namespace;
pub mod organization;
pub mod organization_member;
pub mod provider;
pub mod provider_platform;
pub mod provider_version;
pub mod revoked_session;
pub mod role_template;
pub mod signing_key;
pub mod user;
