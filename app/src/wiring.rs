//! Builds the adapters and use cases from [`Settings`]: the only place that knows which
//! adapter implements which port.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tfr_archive::SafeArchiveInspector;
use tfr_core::ArchiveLimits;
use tfr_db_seaorm::SeaOrmDatabase;
use tfr_http::{AppState, HttpSecurity, RateLimits, WebSettings};
use tfr_ports::driven::{
    ApiKeyRepository, ArchiveInspector, BlobStore, Clock, DatabaseHealth, MembershipRepository,
    MirrorRepository, ModuleRepository, NamespaceRepository, OrganizationRepository,
    ProviderRepository, RoleTemplateRepository, SecretGenerator, SecretHasher, SessionTokenCodec,
    SignatureVerifier, StateSealer, SystemClock, UpstreamRegistry, UrlSigner, UserRepository,
};
use tfr_ports::service::{
    ApiKeys, AuditLog, Authenticator, CatalogCache, DeleteModuleVersion, DeleteProviderVersion,
    DownloadLinks, GroupMapping, IdentityAdmin, MirrorCatalog, MirrorCatalogSettings,
    MirrorConfigs, MirrorFetcher, MirrorSync, ModuleCatalog, NamespaceAccess, ProviderCatalog,
    PublishModule, PublishProvider, Sessions, SsoLogin, SsoPolicy, SyncSettings, TerraformLogin,
    TerraformLoginSettings,
};
use tfr_security::{
    BcryptHasher, ChaChaStateSealer, HmacUrlSigner, JwtSessionCodec, PgpSignatureVerifier,
    RandomSecrets,
};
use tfr_upstream_http::{HttpUpstreamRegistry, UpstreamSettings};

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

/// What the server runs: the HTTP state, its security settings, and the periodic work.
pub struct Wired {
    pub state: AppState,
    pub http_security: HttpSecurity,
    pub housekeeping: Housekeeping,
}

/// The periodic work: expired rows to delete now and then, and the scheduled mirror sync.
pub struct Housekeeping {
    pub sessions: Arc<Sessions>,
    pub terraform_login: Arc<TerraformLogin>,
    pub mirror_sync: Arc<MirrorSync>,
    /// How often the scheduler looks for due mirror configurations; `None`: this replica
    /// runs no scheduled sync.
    pub mirror_scheduler_interval: Option<Duration>,
}

/// Everything the HTTP adapter needs, wired from `settings`. Connects and migrates the
/// database, prepares the data directory, checks the blob store is writable and
/// discovers the SSO providers. `public_url` is where browsers reach this server.
pub async fn build(settings: &Settings, public_url: &str) -> anyhow::Result<Wired> {
    let db = database(settings).await?;

    let staging_dir = settings.staging_dir();
    std::fs::create_dir_all(&staging_dir)
        .with_context(|| format!("creating the staging directory {}", staging_dir.display()))?;
    remove_stale_uploads(&staging_dir, STALE_UPLOAD_AGE);
    let blobs = crate::storage::open_checked(&settings.storage, &settings.data_dir)
        .await
        .map_err(anyhow::Error::new)?;

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

    let identity = identity(settings, &db, clock.clone(), public_url).await?;
    let mirror = mirror(
        settings,
        &db,
        Collaborators {
            blobs: blobs.clone(),
            inspector: inspector.clone(),
            verifier: verifier.clone(),
            clock: clock.clone(),
            links: links.clone(),
        },
    )?;

    let state = AppState {
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
        api_keys: identity.api_keys,
        authenticator: identity.authenticator,
        namespace_access: identity.namespace_access,
        audit: identity.audit,
        identity: identity.admin,
        sso: identity.sso,
        terraform_login: identity.terraform_login.clone(),
        mirror_catalog: mirror.catalog,
        mirror_configs: mirror.configs,
        mirror_sync: mirror.sync.clone(),
        web: WebSettings {
            public_url: public_url.trim_end_matches('/').to_string(),
            trust_forwarded_for: settings.auth.trust_forwarded_for,
        },
        links,
        blobs,
        health,
        staging_dir,
    };
    Ok(Wired {
        state,
        http_security: http_security(settings, public_url),
        housekeeping: Housekeeping {
            sessions: identity.sessions,
            terraform_login: identity.terraform_login,
            mirror_sync: mirror.sync,
            mirror_scheduler_interval: settings
                .mirror
                .sync_enabled
                .then(|| Duration::from_secs(settings.mirror.scheduler_interval_secs)),
        },
    })
}

/// Security headers, CORS and rate limits from the settings. Bursts scale with the
/// per-minute rates (a quarter of a minute's worth, at least the defaults' ratio).
fn http_security(settings: &Settings, public_url: &str) -> HttpSecurity {
    let auth = &settings.auth;
    let burst = |per_minute: u32, default_burst: u32, default_rate: u32| {
        if default_rate == 0 {
            default_burst
        } else {
            (u64::from(per_minute) * u64::from(default_burst) / u64::from(default_rate)).max(1)
                as u32
        }
    };
    let defaults = RateLimits::default();
    HttpSecurity {
        tls: settings.tls_enabled() || public_url.starts_with("https://"),
        cors_allowed_origins: auth.cors_allowed_origins.clone(),
        rate_limits: RateLimits {
            anonymous_per_minute: auth.rate_limit_anonymous_per_minute,
            anonymous_burst: burst(
                auth.rate_limit_anonymous_per_minute,
                defaults.anonymous_burst,
                defaults.anonymous_per_minute,
            ),
            authenticated_per_minute: auth.rate_limit_authenticated_per_minute,
            authenticated_burst: burst(
                auth.rate_limit_authenticated_per_minute,
                defaults.authenticated_burst,
                defaults.authenticated_per_minute,
            ),
            failed_auth_per_minute: auth.rate_limit_failed_auth_per_minute,
            failed_auth_burst: burst(
                auth.rate_limit_failed_auth_per_minute,
                defaults.failed_auth_burst,
                defaults.failed_auth_per_minute,
            ),
            ..defaults
        },
        trust_forwarded_for: auth.trust_forwarded_for,
    }
}

/// What the mirror use cases share with the rest.
struct Collaborators {
    blobs: Arc<dyn BlobStore>,
    inspector: Arc<dyn ArchiveInspector>,
    verifier: Arc<dyn SignatureVerifier>,
    clock: Arc<dyn Clock>,
    links: Arc<DownloadLinks>,
}

/// The mirror use cases, wired.
struct Mirror {
    catalog: Arc<MirrorCatalog>,
    configs: Arc<MirrorConfigs>,
    sync: Arc<MirrorSync>,
}

/// The upstream registry client, the mirror repository and the use cases over them.
fn mirror(settings: &Settings, db: &SeaOrmDatabase, with: Collaborators) -> anyhow::Result<Mirror> {
    let m = &settings.mirror;
    let upstream: Arc<dyn UpstreamRegistry> = Arc::new(
        HttpUpstreamRegistry::new(UpstreamSettings {
            api_timeout: Duration::from_secs(m.api_timeout_secs),
            download_timeout: Duration::from_secs(m.download_timeout_secs),
            extra_ca_files: m.extra_ca_files.clone(),
            ..UpstreamSettings::default()
        })
        .context(
            "building the upstream registry client (TFR_MIRROR_EXTRA_CA_FILES, SSL_CERT_FILE)",
        )?,
    );
    let repo: Arc<dyn MirrorRepository> = Arc::new(db.mirror_repository());
    let fetcher = Arc::new(MirrorFetcher::new(
        repo.clone(),
        upstream.clone(),
        with.blobs,
        with.inspector,
        with.verifier,
        with.clock.clone(),
        settings.staging_dir(),
        archive_limits(m.max_package_bytes),
    ));
    let holder = sync_holder();
    let catalog = Arc::new(MirrorCatalog::new(
        repo.clone(),
        upstream.clone(),
        fetcher.clone(),
        with.links,
        with.clock.clone(),
        MirrorCatalogSettings {
            metadata_ttl: Duration::from_secs(m.metadata_ttl_secs),
            holder: holder.clone(),
            ..MirrorCatalogSettings::default()
        },
    ));
    let configs = Arc::new(MirrorConfigs::new(
        repo.clone(),
        catalog.clone(),
        with.clock.clone(),
    ));
    let sync = Arc::new(MirrorSync::new(
        repo,
        upstream,
        fetcher,
        with.clock,
        SyncSettings {
            holder,
            lease: Duration::from_secs(m.lease_secs),
            concurrency: m.concurrency,
            ..SyncSettings::default()
        },
    ));
    Ok(Mirror {
        catalog,
        configs,
        sync,
    })
}

/// This replica's name in sync leases and history: host name, process id and a short
/// random part (a restarted process on the same host is another holder).
fn sync_holder() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "tfr".to_string());
    let host: String = host.chars().take(64).collect();
    format!(
        "{host}-{}-{:06x}",
        std::process::id(),
        rand::random::<u32>() & 0xff_ffff
    )
}

/// The identity use cases, wired.
struct Identity {
    api_keys: Arc<ApiKeys>,
    authenticator: Arc<Authenticator>,
    sessions: Arc<Sessions>,
    namespace_access: Arc<NamespaceAccess>,
    audit: Arc<AuditLog>,
    admin: Arc<IdentityAdmin>,
    sso: Arc<SsoLogin>,
    terraform_login: Arc<TerraformLogin>,
}

async fn identity(
    settings: &Settings,
    db: &SeaOrmDatabase,
    clock: Arc<dyn Clock>,
    public_url: &str,
) -> anyhow::Result<Identity> {
    let auth = &settings.auth;
    let cache_ttl = Duration::from_secs(settings.api_key_cache_ttl_secs);
    let secrets: Arc<dyn SecretGenerator> = Arc::new(RandomSecrets);
    let api_keys = Arc::new(api_keys(settings, db)?);

    let jwt_secret = crate::signing_key::resolve_jwt_secret(settings)?;
    let codec: Arc<dyn SessionTokenCodec> =
        Arc::new(JwtSessionCodec::new(jwt_secret.expose().as_bytes()).context("jwt_secret")?);
    let sealer: Arc<dyn StateSealer> =
        Arc::new(ChaChaStateSealer::new(jwt_secret.expose().as_bytes()).context("jwt_secret")?);
    let sessions = Arc::new(Sessions::new(
        codec,
        Arc::new(db.revoked_session_repository()),
        secrets.clone(),
        clock.clone(),
        Duration::from_secs(auth.session_ttl_secs),
        cache_ttl,
    ));
    let users: Arc<dyn UserRepository> = Arc::new(db.user_repository());
    let memberships: Arc<dyn MembershipRepository> = Arc::new(db.membership_repository());
    let organizations: Arc<dyn OrganizationRepository> = Arc::new(db.organization_repository());
    let templates: Arc<dyn RoleTemplateRepository> = Arc::new(db.role_template_repository());
    let namespaces: Arc<dyn NamespaceRepository> = Arc::new(db.namespace_repository());

    let authenticator = Arc::new(Authenticator::new(
        api_keys.clone(),
        sessions.clone(),
        users.clone(),
        memberships.clone(),
        cache_ttl,
    ));
    let namespace_access = Arc::new(NamespaceAccess::new(
        namespaces.clone(),
        Duration::from_secs(settings.read_cache_ttl_secs),
        auth.anonymous_read,
    ));
    let audit = Arc::new(AuditLog::new(
        Arc::new(db.audit_repository()),
        clock.clone(),
    ));
    let admin = Arc::new(IdentityAdmin::new(
        organizations.clone(),
        users.clone(),
        templates.clone(),
        memberships.clone(),
        namespaces,
        api_keys.clone(),
        authenticator.clone(),
        namespace_access.clone(),
        clock.clone(),
    ));
    let providers = crate::sso::providers(auth, public_url).await?;
    let sso = Arc::new(SsoLogin::new(
        providers,
        sealer,
        users,
        organizations,
        templates,
        memberships,
        clock.clone(),
        SsoPolicy {
            bootstrap_admins: auth.bootstrap_admins.clone(),
            group_mappings: auth
                .group_mappings
                .iter()
                .map(|m| GroupMapping {
                    group: m.group.clone(),
                    organization: m.organization.clone(),
                    role: m.role.clone(),
                })
                .collect(),
            default_role: auth.default_role.clone(),
        },
    ));
    let terraform_login = Arc::new(TerraformLogin::new(
        Arc::new(db.login_code_repository()),
        api_keys.clone(),
        authenticator.clone(),
        secrets,
        clock,
        TerraformLoginSettings {
            ports: auth.terraform_login_ports.0..auth.terraform_login_ports.1,
            token_lifetime: chrono::Duration::days(i64::from(auth.terraform_login_token_ttl_days)),
        },
    ));
    Ok(Identity {
        api_keys,
        authenticator,
        sessions,
        namespace_access,
        audit,
        admin,
        sso,
        terraform_login,
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
