//! Mirror rows to port records and back, and the batched loads the read paths share.

use std::collections::HashMap;

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde_json::{Value, json};
use tfr_core::{MirrorFilter, Platform, RegistryHost, VersionConstraint};
use tfr_ports::driven::{
    MirrorConfigRecord, MirroredPackageRecord, MirroredProviderRecord, MirroredVersionRecord,
    PackageFailure, RepoError, SyncRunRecord, SyncStatus, SyncTrigger,
};
use uuid::Uuid;

use crate::entities::{
    mirror_configuration as config, mirror_sync_history as history, mirrored_provider as provider,
    mirrored_provider_package as package, mirrored_provider_version as version,
};
use crate::error::{corrupt, db_err, to_i64, to_u64};
use crate::provider_rows::blob_key;

const CONFIGS: &str = "mirror_configurations";
const HISTORY: &str = "mirror_sync_history";
pub(crate) const PROVIDERS: &str = "mirrored_providers";
pub(crate) const VERSIONS: &str = "mirrored_provider_versions";
pub(crate) const PACKAGES: &str = "mirrored_provider_packages";

fn strings_from_json(table: &'static str, value: Value) -> Result<Vec<String>, RepoError> {
    serde_json::from_value(value).map_err(|e| corrupt(table, e.to_string()))
}

pub(crate) fn parse_all<T, E: ToString>(
    table: &'static str,
    value: Value,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, RepoError> {
    strings_from_json(table, value)?
        .iter()
        .map(|s| parse(s).map_err(|e| corrupt(table, e.to_string())))
        .collect()
}

fn status(table: &'static str, value: &str) -> Result<SyncStatus, RepoError> {
    SyncStatus::parse(value).ok_or_else(|| corrupt(table, format!("unknown status {value:?}")))
}

fn host(table: &'static str, value: &str) -> Result<RegistryHost, RepoError> {
    RegistryHost::parse(value).map_err(|e| corrupt(table, e.to_string()))
}

/// The operator-editable columns; id, lease and sync state are left unset.
pub(crate) fn editable_columns(c: &MirrorConfigRecord) -> Result<config::ActiveModel, RepoError> {
    let f = &c.filter;
    Ok(config::ActiveModel {
        name: Set(c.name.clone()),
        upstream: Set(c.upstream.as_str().to_string()),
        hostnames: Set(json!(
            c.hostnames
                .iter()
                .map(RegistryHost::as_str)
                .collect::<Vec<_>>()
        )),
        namespaces: Set(json!(f.namespaces)),
        provider_types: Set(json!(f.provider_types)),
        version_constraint: Set(f.versions.as_ref().map(ToString::to_string)),
        platforms: Set(json!(
            f.platforms
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        )),
        enabled: Set(c.enabled),
        sync_interval_secs: Set(to_i64(CONFIGS, c.sync_interval_secs)?),
        updated_at: Set(c.updated_at),
        ..Default::default()
    })
}

pub(crate) fn config_record(row: config::Model) -> Result<MirrorConfigRecord, RepoError> {
    let versions = row
        .version_constraint
        .as_deref()
        .map(VersionConstraint::parse)
        .transpose()
        .map_err(|e| corrupt(CONFIGS, e.to_string()))?;
    Ok(MirrorConfigRecord {
        id: row.id,
        upstream: host(CONFIGS, &row.upstream)?,
        hostnames: parse_all(CONFIGS, row.hostnames, RegistryHost::parse)?,
        filter: MirrorFilter {
            namespaces: strings_from_json(CONFIGS, row.namespaces)?,
            provider_types: strings_from_json(CONFIGS, row.provider_types)?,
            versions,
            platforms: parse_all(CONFIGS, row.platforms, Platform::parse)?,
        },
        enabled: row.enabled,
        sync_interval_secs: to_u64(CONFIGS, row.sync_interval_secs)?,
        created_at: row.created_at,
        updated_at: row.updated_at,
        last_sync_at: row.last_sync_at,
        last_sync_status: row
            .last_sync_status
            .as_deref()
            .map(|s| status(CONFIGS, s))
            .transpose()?,
        name: row.name,
    })
}

fn failures_json(failures: &[PackageFailure]) -> Value {
    Value::Array(
        failures
            .iter()
            .map(|f| {
                json!({
                    "provider": f.provider,
                    "version": f.version,
                    "platform": f.platform,
                    "reason": f.reason,
                })
            })
            .collect(),
    )
}

fn failures_from_json(value: Value) -> Result<Vec<PackageFailure>, RepoError> {
    let bad = || corrupt(HISTORY, "failures must be an array of objects");
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let Value::Array(items) = value else {
        return Err(bad());
    };
    items
        .iter()
        .map(|v| {
            Ok(PackageFailure {
                provider: text(v, "provider").ok_or_else(bad)?,
                version: text(v, "version"),
                platform: text(v, "platform"),
                reason: text(v, "reason").ok_or_else(bad)?,
            })
        })
        .collect()
}

pub(crate) fn run_record(row: history::Model) -> Result<SyncRunRecord, RepoError> {
    Ok(SyncRunRecord {
        id: row.id,
        config_id: row.config_id,
        trigger: SyncTrigger::parse(&row.trigger)
            .ok_or_else(|| corrupt(HISTORY, format!("unknown trigger {:?}", row.trigger)))?,
        holder: row.holder,
        started_at: row.started_at,
        finished_at: row.finished_at,
        status: status(HISTORY, &row.status)?,
        versions_fetched: to_u64(HISTORY, row.versions_fetched)?,
        packages_fetched: to_u64(HISTORY, row.packages_fetched)?,
        bytes_fetched: to_u64(HISTORY, row.bytes_fetched)?,
        failures: failures_from_json(row.failures)?,
        message: row.message,
    })
}

/// The outcome columns `finish_run` writes.
pub(crate) fn outcome_columns(run: &SyncRunRecord) -> Result<history::ActiveModel, RepoError> {
    Ok(history::ActiveModel {
        finished_at: Set(run.finished_at),
        status: Set(run.status.as_str().to_string()),
        versions_fetched: Set(to_i64(HISTORY, run.versions_fetched)?),
        packages_fetched: Set(to_i64(HISTORY, run.packages_fetched)?),
        bytes_fetched: Set(to_i64(HISTORY, run.bytes_fetched)?),
        failures: Set(failures_json(&run.failures)),
        message: Set(run.message.clone()),
        ..Default::default()
    })
}

pub(crate) fn provider_record(row: provider::Model) -> Result<MirroredProviderRecord, RepoError> {
    Ok(MirroredProviderRecord {
        id: row.id,
        upstream: host(PROVIDERS, &row.upstream)?,
        namespace: row.namespace,
        provider_type: row.provider_type,
        created_at: row.created_at,
        last_synced_at: row.last_synced_at,
    })
}

fn package_record(row: package::Model) -> Result<MirroredPackageRecord, RepoError> {
    Ok(MirroredPackageRecord {
        id: row.id,
        platform: Platform::new(&row.os, &row.arch)
            .map_err(|e| corrupt(PACKAGES, e.to_string()))?,
        size: to_u64(PACKAGES, row.size)?,
        blob_key: blob_key(PACKAGES, &row.blob_key)?,
        filename: row.filename,
        sha256: row.sha256,
        h1: row.h1,
        fetched_at: row.fetched_at,
    })
}

pub(crate) fn version_record(
    row: version::Model,
    packages: Vec<MirroredPackageRecord>,
) -> Result<MirroredVersionRecord, RepoError> {
    Ok(MirroredVersionRecord {
        id: row.id,
        protocols: strings_from_json(VERSIONS, row.protocols)?,
        version: row.version,
        shasums: row.shasums,
        key_fingerprint: row.key_fingerprint,
        verified_at: row.verified_at,
        packages,
    })
}

/// Packages of `version_ids` by version, sorted by os and arch: one query.
pub(crate) async fn load_packages(
    db: &impl ConnectionTrait,
    version_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Vec<MirroredPackageRecord>>, RepoError> {
    let mut out: HashMap<Uuid, Vec<MirroredPackageRecord>> = HashMap::new();
    if version_ids.is_empty() {
        return Ok(out);
    }
    let rows = package::Entity::find()
        .filter(package::Column::VersionId.is_in(version_ids))
        .order_by_asc(package::Column::Os)
        .order_by_asc(package::Column::Arch)
        .all(db)
        .await
        .map_err(db_err)?;
    for row in rows {
        out.entry(row.version_id)
            .or_default()
            .push(package_record(row)?);
    }
    Ok(out)
}

/// Versions (oldest id first) with their packages, by provider: two queries.
pub(crate) async fn load_versions(
    db: &impl ConnectionTrait,
    provider_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Vec<MirroredVersionRecord>>, RepoError> {
    let mut out: HashMap<Uuid, Vec<MirroredVersionRecord>> = HashMap::new();
    if provider_ids.is_empty() {
        return Ok(out);
    }
    let rows = version::Entity::find()
        .filter(version::Column::ProviderId.is_in(provider_ids))
        .order_by_asc(version::Column::Id)
        .all(db)
        .await
        .map_err(db_err)?;
    let mut packages = load_packages(db, rows.iter().map(|v| v.id).collect()).await?;
    for row in rows {
        let provider_id = row.provider_id;
        let version_packages = packages.remove(&row.id).unwrap_or_default();
        out.entry(provider_id)
            .or_default()
            .push(version_record(row, version_packages)?);
    }
    Ok(out)
}
