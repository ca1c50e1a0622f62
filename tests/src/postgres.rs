//! A fresh PostgreSQL database per test, created and dropped with `psql`.

use std::process::Command;

/// Admin URL: `TFR_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`.
pub fn admin_url() -> String {
    std::env::var("TFR_TEST_POSTGRES_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

fn psql(admin: &str, sql: &str) -> anyhow::Result<()> {
    let out = Command::new("psql")
        .arg(admin)
        .args(["-v", "ON_ERROR_STOP=1", "-X", "-q", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .map_err(|e| anyhow::anyhow!("running psql (is postgresql-client installed?): {e}"))?;
    anyhow::ensure!(
        out.status.success(),
        "psql {sql:?} failed ({}): {} -- is PostgreSQL up at {admin}? `bash .ci/run` starts it",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Drops the database when dropped (`WITH (FORCE)`, so open connections do not block it).
pub struct PgGuard {
    admin: String,
    name: String,
}

impl PgGuard {
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for PgGuard {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        if let Err(e) = psql(&self.admin, &sql) {
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}

/// Creates `tfr_bb_<uuid>` and returns its URL and the guard that drops it.
pub fn fresh_postgres_db() -> anyhow::Result<(String, PgGuard)> {
    let admin = admin_url();
    let name = format!("tfr_bb_{}", uuid::Uuid::new_v4().simple());
    psql(&admin, &format!("CREATE DATABASE \"{name}\""))?;
    let (base, _) = admin
        .rsplit_once('/')
        .ok_or_else(|| anyhow::anyhow!("TFR_TEST_POSTGRES_URL has no database part: {admin}"))?;
    let base = base.to_string();
    let query = admin.split_once('?').map(|(_, q)| format!("?{q}"));
    let url = format!("{base}/{name}{}", query.unwrap_or_default());
    Ok((url, PgGuard { admin, name }))
}
