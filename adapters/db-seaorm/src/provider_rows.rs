//! Provider rows to port records, and the batched loads the read paths share.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use tfr_core::{BlobKey, Platform};
use tfr_ports::driven::{
    ProviderPlatformRecord, ProviderRecord, ProviderVersionRecord, RepoError, SigningKeyRecord,
};
use uuid::Uuid;

use crate::entities::{provider, provider_platform, provider_version, signing_key};
use crate::error::{corrupt, db_err, to_u64};

pub(crate) fn blob_key(table: &'static str, value: &str) -> Result<BlobKey, RepoError> {
    BlobKey::parse(value).map_err(|e| corrupt(table, e.to_string()))
}

pub(crate) fn provider_record(row: provider::Model, namespace: &str) -> ProviderRecord {
    ProviderRecord {
        id: row.id,
        namespace: namespace.to_string(),
        provider_type: row.provider_type,
        created_at: row.created_at,
    }
}

pub(crate) fn key_record(row: signing_key::Model, namespace: &str) -> SigningKeyRecord {
    SigningKeyRecord {
        id: row.id,
        namespace: namespace.to_string(),
        key_id: row.key_id,
        fingerprint: row.fingerprint,
        ascii_armor: row.ascii_armor,
        source: row.source,
        source_url: row.source_url,
        created_at: row.created_at,
    }
}

pub(crate) fn platform_record(
    row: provider_platform::Model,
) -> Result<ProviderPlatformRecord, RepoError> {
    const T: &str = "provider_platforms";
    Ok(ProviderPlatformRecord {
        id: row.id,
        platform: Platform::new(&row.os, &row.arch).map_err(|e| corrupt(T, e.to_string()))?,
        size: to_u64(T, row.size)?,
        blob_key: blob_key(T, &row.blob_key)?,
        filename: row.filename,
        sha256: row.sha256,
        h1: row.h1,
    })
}

pub(crate) fn version_record(
    row: provider_version::Model,
    key: SigningKeyRecord,
    platforms: Vec<ProviderPlatformRecord>,
) -> Result<ProviderVersionRecord, RepoError> {
    const T: &str = "provider_versions";
    let protocols = serde_json::from_value(row.protocols).map_err(|e| corrupt(T, e.to_string()))?;
    Ok(ProviderVersionRecord {
        id: row.id,
        provider_id: row.provider_id,
        version: row.version,
        protocols,
        shasums_key: blob_key(T, &row.shasums_key)?,
        shasums_signature_key: blob_key(T, &row.shasums_signature_key)?,
        signing_key: key,
        platforms,
        published_at: row.published_at,
        published_by: row.published_by,
    })
}

/// The platforms of `version_ids`, grouped by version and sorted by os and arch: one query.
pub(crate) async fn load_platforms(
    db: &impl ConnectionTrait,
    version_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Vec<ProviderPlatformRecord>>, RepoError> {
    let mut out: HashMap<Uuid, Vec<ProviderPlatformRecord>> = HashMap::new();
    if version_ids.is_empty() {
        return Ok(out);
    }
    let rows = provider_platform::Entity::find()
        .filter(provider_platform::Column::ProviderVersionId.is_in(version_ids))
        .order_by_asc(provider_platform::Column::Os)
        .order_by_asc(provider_platform::Column::Arch)
        .all(db)
        .await
        .map_err(db_err)?;
    for row in rows {
        let version_id = row.provider_version_id;
        out.entry(version_id)
            .or_default()
            .push(platform_record(row)?);
    }
    Ok(out)
}

/// Versions (with key and platforms) of `rows`, in two queries at most.
pub(crate) async fn assemble(
    db: &impl ConnectionTrait,
    namespace: &str,
    rows: Vec<(provider_version::Model, Option<signing_key::Model>)>,
) -> Result<Vec<ProviderVersionRecord>, RepoError> {
    let mut platforms = load_platforms(db, rows.iter().map(|(v, _)| v.id).collect()).await?;
    rows.into_iter()
        .map(|(version, key)| {
            let key =
                key.ok_or_else(|| corrupt("provider_versions", "version without signing key"))?;
            let platforms = platforms.remove(&version.id).unwrap_or_default();
            version_record(version, key_record(key, namespace), platforms)
        })
        .collect()
}
