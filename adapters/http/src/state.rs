//! What every handler can reach: the use cases, wired by the app at startup.

use std::path::PathBuf;
use std::sync::Arc;

use tfr_ports::driven::{BlobStore, DatabaseHealth};
use tfr_ports::service::{
    ApiKeys, AuditLog, Authenticator, DeleteModuleVersion, DeleteProviderVersion, DownloadLinks,
    IdentityAdmin, MirrorCatalog, MirrorConfigs, MirrorSync, ModuleCatalog, NamespaceAccess,
    ProviderCatalog, PublishModule, PublishProvider, SsoLogin, TerraformLogin,
};

#[derive(Clone)]
pub struct AppState {
    pub module_catalog: Arc<ModuleCatalog>,
    pub provider_catalog: Arc<ProviderCatalog>,
    pub publish_module: Arc<PublishModule>,
    pub publish_provider: Arc<PublishProvider>,
    pub delete_module: Arc<DeleteModuleVersion>,
    pub delete_provider: Arc<DeleteProviderVersion>,
    pub api_keys: Arc<ApiKeys>,
    pub authenticator: Arc<Authenticator>,
    pub namespace_access: Arc<NamespaceAccess>,
    pub audit: Arc<AuditLog>,
    pub identity: Arc<IdentityAdmin>,
    pub sso: Arc<SsoLogin>,
    pub terraform_login: Arc<TerraformLogin>,
    /// The Provider Network Mirror Protocol with pull-through, and the mirrored listing.
    pub mirror_catalog: Arc<MirrorCatalog>,
    /// Mirror configurations (the admin API) and their sync history.
    pub mirror_configs: Arc<MirrorConfigs>,
    /// Operator-triggered syncs (the scheduler runs in the app).
    pub mirror_sync: Arc<MirrorSync>,
    pub web: WebSettings,
    pub links: Arc<DownloadLinks>,
    pub blobs: Arc<dyn BlobStore>,
    pub health: Arc<dyn DatabaseHealth>,
    /// Where uploads are spooled before they are checked.
    pub staging_dir: PathBuf,
}

/// How the registry is reached from outside.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// The external base URL (`https://registry.example.com`), no trailing slash: SSO
    /// redirect URIs are built from it.
    pub public_url: String,
    /// Take the client address from `X-Forwarded-For` (behind a trusted proxy only).
    pub trust_forwarded_for: bool,
}
