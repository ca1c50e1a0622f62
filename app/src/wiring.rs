//! Builds the adapters and use cases from [`Settings`]: the only place that knows which
//! adapter implements which port.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tfr_archive::SafeArchiveInspector;
use tfr_blob_fs::FsBlobStore;
use tfr_core::ArchiveLimits;
use tfr_db_seaorm::SeaOrmDatabase;
use tfr_http::AppState;
use tfr_ports::driven::{
    ApiKeyRepository, ArchiveInspector, BlobStore, Clock, DatabaseHealth, ModuleRepository,
    ProviderRepository, SecretGenerator, SecretHasher, SignatureVerifier, SystemClock, UrlSigner,
};
use tfr_ports::service::{
    ApiKeys, CatalogCache, DeleteModuleVersion, DeleteProviderVersion, DownloadLinks,
    ModuleCatalog, ProviderCatalog, PublishModule, PublishProvider,
};
use tfr_security::{BcryptHasher, HmacUrlSigner, PgpSignatureVerifier, RandomSecrets};

use crate::config::{Settings, redact_url};

/// Connects to the configured database and applies pending migrations.
pub async fn database(settings: &Settings) -> anyhow::Result<SeaOrmDatabase> {
    if settings.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.data_dir).with_context(|| {
            format!(
                "creating the data directory {}",
                settings.data_dir.display()
            )
        })?;
    }
    let shown = redact_url(&settings.database_url);
    let db = SeaOrmDatabase::connect(&settings.database_url)
        .await
        .with_context(|| format!("connecting to the database {shown}"))?;
    db.migrate()
        .await
        .with_context(|| format!("applying migrations to {shown}"))?;
    tracing::info!(database = %shown, "database ready, migrations applied");
    Ok(db)
}

/// The API key use case over the configured database (for `tfr keys ...`).
pub fn api_keys(settings: &Settings, db: &SeaOrmDatabase) -> anyhow::Result<ApiKeys> {
    let repo: Arc<dyn ApiKeyRepository> = Arc::new(db.api_key_repository());
    let hasher: Arc<dyn SecretHasher> =
        Arc::new(BcryptHasher::new(settings.bcrypt_cost).context("bcrypt_cost")?);
    let secrets: Arc<dyn SecretGenerator> = Arc::new(RandomSecrets);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Ok(ApiKeys::new(repo, hasher, secrets, clock)
        .with_verification_cache(Duration::from_secs(settings.api_key_cache_ttl_secs)))
}

/// Limits for one kind of upload: the compressed cap from configuration, the unpacked cap
/// at least four times that (provider binaries compress about 3:1).
pub fn archive_limits(max_archive_bytes: u64) -> ArchiveLimits {
    let defaults = ArchiveLimits::default();
    ArchiveLimits {
        max_archive_bytes,
        max_unpacked_bytes: defaults
            .max_unpacked_bytes
            .max(max_archive_bytes.saturating_mul(4)),
        ..defaults
    }
}

/// Everything the HTTP adapter needs, wired from `settings`. Connects and migrates the
/// database, prepares the data directory and checks the blob store is writable.
pub async fn build(settings: &Settings) -> anyhow::Result<AppState> {
    let db = database(settings).await?;

    let staging_dir = settings.staging_dir();
    std::fs::create_dir_all(&staging_dir)
        .with_context(|| format!("creating the staging directory {}", staging_dir.display()))?;
    remove_stale_uploads(&staging_dir, STALE_UPLOAD_AGE);
    let blob_dir = settings.blob_dir();
    let fs_store = FsBlobStore::new(blob_dir.clone())
        .with_context(|| format!("opening the blob store at {}", blob_dir.display()))?;
    fs_store
        .check_writable()
        .await
        .with_context(|| format!("the blob store at {} is not writable", blob_dir.display()))?;
    let blobs: Arc<dyn BlobStore> = Arc::new(fs_store);

    let signing_key = crate::signing_key::resolve(settings)?;
    let signer: Arc<dyn UrlSigner> =
        Arc::new(HmacUrlSigner::new(signing_key.expose().as_bytes()).context("url_signing_key")?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let inspector: Arc<dyn ArchiveInspector> = Arc::new(SafeArchiveInspector::new());
    let verifier: Arc<dyn SignatureVerifier> = Arc::new(PgpSignatureVerifier::new());

    let modules: Arc<dyn ModuleRepository> = Arc::new(db.module_repository());
    let providers: Arc<dyn ProviderRepository> = Arc::new(db.provider_repository());
    let health: Arc<dyn DatabaseHealth> = Arc::new(db.clone());

    let links = Arc::new(DownloadLinks::new(
        blobs.clone(),
        signer,
        clock.clone(),
        Duration::from_secs(settings.download_url_ttl_secs),
        settings.public_url.clone(),
    ));

    let cache = Arc::new(CatalogCache::new(Duration::from_secs(
        settings.read_cache_ttl_secs,
    )));

    Ok(AppState {
        module_catalog: Arc::new(ModuleCatalog::new(
            modules.clone(),
            links.clone(),
            cache.clone(),
        )),
        provider_catalog: Arc::new(ProviderCatalog::new(
            providers.clone(),
            links.clone(),
            cache.clone(),
        )),
        publish_module: Arc::new(PublishModule::new(
            modules.clone(),
            blobs.clone(),
            inspector.clone(),
            clock.clone(),
            archive_limits(settings.max_module_bytes),
            cache.clone(),
        )),
        publish_provider: Arc::new(PublishProvider::new(
            providers.clone(),
            blobs.clone(),
            inspector,
            verifier,
            clock,
            archive_limits(settings.max_provider_package_bytes),
            cache.clone(),
        )),
        delete_module: Arc::new(DeleteModuleVersion::new(
            modules,
            blobs.clone(),
            cache.clone(),
        )),
        delete_provider: Arc::new(DeleteProviderVersion::new(providers, blobs.clone(), cache)),
        api_keys: Arc::new(api_keys(settings, &db)?),
        links,
        blobs,
        health,
        staging_dir,
    })
}

/// Spooled uploads older than this are leftovers of a crash (a live upload's file is
/// removed when its request ends).
const STALE_UPLOAD_AGE: Duration = Duration::from_secs(3600);

/// Removes staging files left by a crash. Best effort: failures are logged.
pub fn remove_stale_uploads(dir: &std::path::Path, older_than: Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age >= older_than);
        if stale && path.is_file() {
            match std::fs::remove_file(&path) {
                Ok(()) => tracing::info!(path = %path.display(), "removed a stale staged upload"),
                Err(err) => {
                    tracing::warn!(path = %path.display(), error = %err, "could not remove a stale staged upload")
                }
            }
        }
    }
}
