//! API key administration against the configured database (`tfr keys ...`).

use anyhow::Context;
use chrono::{DateTime, Utc};
use tfr_core::ScopeSet;
use tfr_ports::driven::{ApiKeyRecord, KeyOwner};

use crate::config::Settings;

/// Creates a system API key (global scopes, no user behind it: made on the server host by
/// someone with database access) and returns the raw key (shown once; only its hash is
/// stored). `scopes` is a comma-separated list such as `modules:write,providers:write`.
pub async fn create_api_key(
    settings: &Settings,
    name: &str,
    scopes: &str,
) -> anyhow::Result<String> {
    create_api_key_expiring(settings, name, scopes, None).await
}

/// [`create_api_key`] with an optional expiry.
pub async fn create_api_key_expiring(
    settings: &Settings,
    name: &str,
    scopes: &str,
    expires_at: Option<DateTime<Utc>>,
) -> anyhow::Result<String> {
    let scopes = ScopeSet::parse_list(scopes).context("--scopes")?;
    let db = crate::wiring::database(settings).await?;
    let keys = crate::wiring::api_keys(settings, &db)?;
    let created = keys
        .create(KeyOwner::System, name, scopes, expires_at)
        .await?;
    Ok(created.secret)
}

/// Every key, secrets excluded (the records hold only prefixes and hashes).
pub async fn list_api_keys(settings: &Settings) -> anyhow::Result<Vec<ApiKeyRecord>> {
    let db = crate::wiring::database(settings).await?;
    let keys = crate::wiring::api_keys(settings, &db)?;
    Ok(keys.list(None).await?)
}

/// Revokes a key by id or prefix.
pub async fn revoke_api_key(
    settings: &Settings,
    id_or_prefix: &str,
) -> anyhow::Result<ApiKeyRecord> {
    let db = crate::wiring::database(settings).await?;
    let keys = crate::wiring::api_keys(settings, &db)?;
    Ok(keys.revoke(id_or_prefix).await?)
}

/// A new secret for an existing key (same id, owner and scopes); returns the raw key.
pub async fn rotate_api_key(settings: &Settings, id_or_prefix: &str) -> anyhow::Result<String> {
    let db = crate::wiring::database(settings).await?;
    let keys = crate::wiring::api_keys(settings, &db)?;
    let record = keys.resolve(id_or_prefix).await?;
    Ok(keys.rotate(record.id).await?.secret)
}

fn owner(o: KeyOwner) -> String {
    match o {
        KeyOwner::System => "system".into(),
        KeyOwner::User(id) => format!("user:{id}"),
        KeyOwner::Organization(id) => format!("org:{id}"),
    }
}

/// A plain-text table of keys: id, name, prefix, scopes, created, expires, last used,
/// revoked. Never prints a hash.
pub fn format_table(records: &[ApiKeyRecord]) -> String {
    let when = |t: Option<DateTime<Utc>>| {
        t.map_or_else(
            || "-".to_string(),
            |t| t.format("%Y-%m-%d %H:%M").to_string(),
        )
    };
    let header = [
        "ID",
        "NAME",
        "OWNER",
        "PREFIX",
        "SCOPES",
        "CREATED",
        "EXPIRES",
        "LAST USED",
        "REVOKED",
    ]
    .map(str::to_string);
    let rows: Vec<[String; 9]> = records
        .iter()
        .map(|r| {
            [
                r.id.to_string(),
                r.name.clone(),
                owner(r.owner),
                r.prefix.clone(),
                r.scopes.to_strings().join(","),
                when(Some(r.created_at)),
                when(r.expires_at),
                when(r.last_used_at),
                when(r.revoked_at),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows.iter()) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
