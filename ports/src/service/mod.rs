//! Use cases: the only code that calls the driven ports. One use case per file.

pub mod access;
pub mod api_keys;
pub mod audit_log;
pub mod authenticator;
pub mod catalog_cache;
pub mod delete_module_version;
pub mod delete_provider_version;
pub mod download_links;
pub mod error;
pub mod identity_admin;
pub mod mirror_catalog;
pub mod mirror_configs;
pub mod mirror_fetch;
pub mod mirror_sync;
pub mod module_catalog;
pub mod namespace_access;
pub mod provider_catalog;
pub mod publish_module;
pub mod publish_provider;
pub mod sessions;
pub mod sso_login;
pub mod terraform_login;
mod ttl_map;
pub mod verified_keys;

pub use access::{AuthMethod, Grants, OrganizationFilter, Principal};
pub use api_keys::{ApiKeys, NewApiKey, VerifiedKey};
pub use audit_log::{AuditActor, AuditEvent, AuditLog};
pub use authenticator::{Authenticated, Authenticator};
pub use catalog_cache::{CachedModule, CachedProvider, CatalogCache};
pub use delete_module_version::DeleteModuleVersion;
pub use delete_provider_version::DeleteProviderVersion;
pub use download_links::{DownloadLinks, LinkError};
pub use error::ServiceError;
pub use identity_admin::{IdentityAdmin, UserChanges};
pub use mirror_catalog::{MirrorArchive, MirrorCatalog, MirrorCatalogSettings};
pub use mirror_configs::{MirrorConfigInput, MirrorConfigs};
pub use mirror_fetch::{FetchError, FetchedPackage, MirrorFetcher};
pub use mirror_sync::{MirrorSync, SyncSettings};
pub use module_catalog::{ModuleCatalog, ModuleSummary};
pub use namespace_access::{NamespaceAccess, NamespaceDecision};
pub use provider_catalog::{ProviderCatalog, ProviderDownload};
pub use publish_module::{ModuleUpload, PublishModule};
pub use publish_provider::{PackageUpload, ProviderUpload, PublishProvider, PublishedProvider};
pub use sessions::{IssuedSession, Sessions};
pub use sso_login::{GroupMapping, LoginFailure, SsoLogin, SsoPolicy, StartedLogin};
pub use terraform_login::{
    AuthorizeError, AuthorizeParams, IssuedToken, OAuthError, TERRAFORM_CLIENT_ID, TerraformLogin,
    TerraformLoginSettings, TokenFailure, TokenParams, ValidAuthorize,
};
