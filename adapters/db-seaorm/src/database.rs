//! The connection pool: connect, migrate, health, and the repositories built on it.

use std::time::Duration;

use async_trait::async_trait;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use tfr_migrations::{Migrator, MigratorTrait};
use tfr_ports::driven::{DatabaseHealth, RepoError};

use crate::error::db_err;
use crate::{
    SeaOrmApiKeyRepository, SeaOrmAuditRepository, SeaOrmLoginCodeRepository,
    SeaOrmMembershipRepository, SeaOrmMirrorRepository, SeaOrmModuleRepository,
    SeaOrmNamespaceRepository, SeaOrmOrganizationRepository, SeaOrmProviderRepository,
    SeaOrmRevokedSessionRepository, SeaOrmRoleTemplateRepository, SeaOrmUserRepository,
};

/// Pool sizes and timeouts; the defaults suit a small registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// PostgreSQL pool size. SQLite files use `sqlite_max_connections` (WAL allows
    /// concurrent readers; writers queue on `busy_timeout`); in-memory SQLite uses one.
    pub max_connections: u32,
    pub sqlite_max_connections: u32,
    pub connect_timeout: Duration,
    pub acquire_timeout: Duration,
    /// How long a SQLite writer waits for the lock before giving up.
    pub busy_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            sqlite_max_connections: 4,
            connect_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(10),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// A sea-orm connection pool on SQLite or PostgreSQL.
///
/// ```no_run
/// # async fn demo() -> Result<(), tfr_ports::driven::RepoError> {
/// let db = tfr_db_seaorm::SeaOrmDatabase::connect("sqlite:///var/lib/tfr/tfr.db?mode=rwc").await?;
/// db.migrate().await?;
/// let modules = db.module_repository();
/// # let _ = modules; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SeaOrmDatabase {
    conn: DatabaseConnection,
}

impl SeaOrmDatabase {
    /// Connects with default pool settings. A SQLite file is created when missing (unless
    /// the URL sets its own `mode=`) and opened in WAL mode with a busy timeout.
    pub async fn connect(url: &str) -> Result<Self, RepoError> {
        Self::connect_with(url, &PoolSettings::default()).await
    }

    pub async fn connect_with(url: &str, settings: &PoolSettings) -> Result<Self, RepoError> {
        let mut options = ConnectOptions::new(url);
        options
            .sqlx_logging(false)
            .connect_timeout(settings.connect_timeout)
            .acquire_timeout(settings.acquire_timeout)
            .max_connections(settings.max_connections)
            .min_connections(1);
        if url.starts_with("sqlite:") {
            let memory = url.contains(":memory:") || url.contains("mode=memory");
            let explicit_mode = url.contains("mode=");
            let busy = settings.busy_timeout;
            if memory {
                // Every connection to `:memory:` is its own database: keep exactly one, forever.
                options
                    .max_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None);
            } else {
                options.max_connections(settings.sqlite_max_connections.max(1));
            }
            options.map_sqlx_sqlite_opts(move |opts| {
                let mut opts = opts.busy_timeout(busy).foreign_keys(true);
                if !memory {
                    opts = opts
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal);
                }
                if !explicit_mode {
                    opts = opts.create_if_missing(true);
                }
                opts
            });
        }
        let conn = Database::connect(options)
            .await
            .map_err(|e| RepoError::Unavailable(format!("cannot connect to the database: {e}")))?;
        Ok(Self { conn })
    }

    /// Wraps an existing connection.
    pub fn from_connection(conn: DatabaseConnection) -> Self {
        Self { conn }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Applies every pending migration; a no-op when the schema is current.
    pub async fn migrate(&self) -> Result<(), RepoError> {
        Migrator::up(&self.conn, None).await.map_err(db_err)
    }

    pub fn module_repository(&self) -> SeaOrmModuleRepository {
        SeaOrmModuleRepository::new(self.conn.clone())
    }

    pub fn provider_repository(&self) -> SeaOrmProviderRepository {
        SeaOrmProviderRepository::new(self.conn.clone())
    }

    pub fn api_key_repository(&self) -> SeaOrmApiKeyRepository {
        SeaOrmApiKeyRepository::new(self.conn.clone())
    }

    pub fn organization_repository(&self) -> SeaOrmOrganizationRepository {
        SeaOrmOrganizationRepository::new(self.conn.clone())
    }

    pub fn user_repository(&self) -> SeaOrmUserRepository {
        SeaOrmUserRepository::new(self.conn.clone())
    }

    pub fn role_template_repository(&self) -> SeaOrmRoleTemplateRepository {
        SeaOrmRoleTemplateRepository::new(self.conn.clone())
    }

    pub fn membership_repository(&self) -> SeaOrmMembershipRepository {
        SeaOrmMembershipRepository::new(self.conn.clone())
    }

    pub fn namespace_repository(&self) -> SeaOrmNamespaceRepository {
        SeaOrmNamespaceRepository::new(self.conn.clone())
    }

    pub fn audit_repository(&self) -> SeaOrmAuditRepository {
        SeaOrmAuditRepository::new(self.conn.clone())
    }

    pub fn revoked_session_repository(&self) -> SeaOrmRevokedSessionRepository {
        SeaOrmRevokedSessionRepository::new(self.conn.clone())
    }

    pub fn login_code_repository(&self) -> SeaOrmLoginCodeRepository {
        SeaOrmLoginCodeRepository::new(self.conn.clone())
    }

    pub fn mirror_repository(&self) -> SeaOrmMirrorRepository {
        SeaOrmMirrorRepository::new(self.conn.clone())
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(self) -> Result<(), RepoError> {
        self.conn.close().await.map_err(db_err)
    }
}

#[async_trait]
impl DatabaseHealth for SeaOrmDatabase {
    async fn ready(&self) -> Result<(), RepoError> {
        self.conn
            .ping()
            .await
            .map_err(|e| RepoError::Unavailable(format!("database unreachable: {e}")))?;
        let pending = Migrator::get_pending_migrations_read_only(&self.conn)
            .await
            .map_err(|e| RepoError::Unavailable(format!("cannot read migration status: {e}")))?;
        if !pending.is_empty() {
            let names: Vec<&str> = pending.iter().map(|m| m.name()).collect();
            return Err(RepoError::Unavailable(format!(
                "{} migration(s) pending: {}",
                names.len(),
                names.join(", ")
            )));
        }
        Ok(())
    }
}
