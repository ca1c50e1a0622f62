//! What every handler can reach: the use cases, wired by the app at startup.

use std::path::PathBuf;
use std::sync::Arc;

use tfr_ports::driven::{BlobStore, DatabaseHealth};
use tfr_ports::service::{
    ApiKeys, DeleteModuleVersion, DeleteProviderVersion, DownloadLinks, ModuleCatalog,
    ProviderCatalog, PublishModule, PublishProvider,
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
    pub links: Arc<DownloadLinks>,
    pub blobs: Arc<dyn BlobStore>,
    pub health: Arc<dyn DatabaseHealth>,
    /// Where uploads are spooled before they are checked.
    pub staging_dir: PathBuf,
}
