//! Test databases: a SQLite file in a temp dir, or a fresh PostgreSQL database per test.
//!
//! PostgreSQL: the admin URL is `TFR_TEST_POSTGRES_URL` when set, else
//! `postgres://postgres@127.0.0.1:5432/postgres`. Each test creates
//! `tfr_test_<uuid>` and drops it (`WITH (FORCE)`) when the guard goes, even on panic.
// Each test binary uses a part of this module.
#![allow(dead_code)]

use sea_orm::{ConnectionTrait, Database};
use tempfile::TempDir;
use tfr_db_seaorm::SeaOrmDatabase;
use uuid::Uuid;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A SQLite database file in its own temp dir (removed on drop).
pub struct SqliteDb {
    pub db: SeaOrmDatabase,
    pub url: String,
    _dir: TempDir,
}

pub async fn sqlite(migrated: bool) -> SqliteDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("tfr.db").display());
    let db = SeaOrmDatabase::connect(&url)
        .await
        .expect("connect to SQLite");
    if migrated {
        db.migrate().await.expect("migrate SQLite");
    }
    SqliteDb { db, url, _dir: dir }
}

fn admin_url() -> String {
    std::env::var("TFR_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN_URL.to_string())
}

/// `url` with its database name replaced by `name` (query string kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{root}/{name}{query}")
}

/// A fresh PostgreSQL database, dropped with the guard.
pub struct PgDb {
    pub db: SeaOrmDatabase,
    pub url: String,
    name: String,
    admin: String,
}

pub async fn postgres(migrated: bool) -> PgDb {
    let admin = admin_url();
    let name = format!("tfr_test_{}", Uuid::new_v4().simple());
    let conn = Database::connect(admin.as_str()).await.unwrap_or_else(|e| {
        panic!("PostgreSQL admin connection to {admin} failed (set TFR_TEST_POSTGRES_URL): {e}")
    });
    conn.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create test database");
    conn.close().await.expect("close admin connection");
    let url = with_database(&admin, &name);
    let db = SeaOrmDatabase::connect(&url)
        .await
        .expect("connect to the test database");
    if migrated {
        db.migrate().await.expect("migrate PostgreSQL");
    }
    PgDb {
        db,
        url,
        name,
        admin,
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop runs inside the test's runtime; use a thread with its own runtime.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let conn = Database::connect(admin.as_str()).await?;
                conn.execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                ))
                .await?;
                conn.close().await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
            .map_err(|e| std::io::Error::other(e.to_string()))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!(
                "warning: could not drop test database {}: {dropped:?}",
                self.name
            );
        }
    }
}

#[test]
fn with_database_replaces_the_path() {
    assert_eq!(
        with_database("postgres://u@h:5432/postgres", "x"),
        "postgres://u@h:5432/x"
    );
    assert_eq!(
        with_database("postgres://u@h:5432", "x"),
        "postgres://u@h:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/postgres?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
}
