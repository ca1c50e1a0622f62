//! Provider mirror configurations: what is mirrored from which upstream, for which
//! hostnames, how often it syncs; a sync on demand and the history of runs. Global
//! scopes: `mirrors:read` to look, `mirrors:manage` to change (mirrored providers belong
//! to no organization).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use tfr_core::Scope;
use tfr_ports::driven::{MirrorConfigRecord, PackageFailure, SyncRunRecord};
use tfr_ports::service::MirrorConfigInput;
use uuid::Uuid;

use super::{DeletedResponse, note_resource};
use crate::api::ApiTags;
use crate::api::pagination::{PageMeta, clamp_limit, meta};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::state::AppState;

#[derive(Debug, Object)]
pub struct MirrorConfigDto {
    id: Uuid,
    name: String,
    /// The registry packages are fetched from (`registry.terraform.io`).
    upstream: String,
    /// The `{hostname}`s this configuration answers for under `/v1/mirror/`.
    hostnames: Vec<String>,
    /// Upstream namespaces mirrored (lower-case); empty: any.
    namespaces: Vec<String>,
    /// Provider types mirrored; empty: any.
    provider_types: Vec<String>,
    /// Versions mirrored (`>= 5.0, < 6.0`); absent: any.
    #[oai(skip_serializing_if_is_none)]
    version_constraint: Option<String>,
    /// Platforms mirrored (`linux_amd64`); empty: any.
    platforms: Vec<String>,
    /// Disabled: neither served nor synced.
    enabled: bool,
    sync_interval_secs: u64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// When the last sync run started.
    #[oai(skip_serializing_if_is_none)]
    last_sync_at: Option<DateTime<Utc>>,
    /// `running`, `succeeded`, `partial` or `failed`.
    #[oai(skip_serializing_if_is_none)]
    last_sync_status: Option<String>,
}

impl From<MirrorConfigRecord> for MirrorConfigDto {
    fn from(c: MirrorConfigRecord) -> Self {
        Self {
            id: c.id,
            name: c.name,
            upstream: c.upstream.to_string(),
            hostnames: c.hostnames.iter().map(ToString::to_string).collect(),
            namespaces: c.filter.namespaces,
            provider_types: c.filter.provider_types,
            version_constraint: c.filter.versions.map(|v| v.to_string()),
            platforms: c.filter.platforms.iter().map(ToString::to_string).collect(),
            enabled: c.enabled,
            sync_interval_secs: c.sync_interval_secs,
            created_at: c.created_at,
            updated_at: c.updated_at,
            last_sync_at: c.last_sync_at,
            last_sync_status: c.last_sync_status.map(|s| s.as_str().to_string()),
        }
    }
}

/// A configuration as sent on create and on (full) update: absent fields take their
/// defaults. Unknown fields are refused, so a misspelt filter never means "any".
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct MirrorConfigRequest {
    /// Unique; 1-64 letters, digits, spaces, `-`, `_` or `.`.
    name: String,
    /// Default `registry.terraform.io`.
    upstream: Option<String>,
    /// Default: the upstream host alone. Add `registry.opentofu.org` to serve OpenTofu
    /// clients too.
    #[oai(default)]
    hostnames: Vec<String>,
    /// Upstream namespaces; empty: any. A scheduled sync needs both namespaces and
    /// provider types (a registry cannot list a namespace); without them the mirror only
    /// pulls through on request.
    #[oai(default)]
    namespaces: Vec<String>,
    #[oai(default)]
    provider_types: Vec<String>,
    /// A Terraform version constraint (`~> 5.0`); absent or empty: any.
    version_constraint: Option<String>,
    /// `os_arch` values; empty: any.
    #[oai(default)]
    platforms: Vec<String>,
    /// Default true.
    enabled: Option<bool>,
    /// 60 to 604800; default 600.
    sync_interval_secs: Option<u64>,
}

impl From<MirrorConfigRequest> for MirrorConfigInput {
    fn from(r: MirrorConfigRequest) -> Self {
        Self {
            name: r.name,
            upstream: r.upstream,
            hostnames: r.hostnames,
            namespaces: r.namespaces,
            provider_types: r.provider_types,
            version_constraint: r.version_constraint,
            platforms: r.platforms,
            enabled: r.enabled.unwrap_or(true),
            sync_interval_secs: r.sync_interval_secs,
        }
    }
}

/// Why one provider, version or package was not mirrored.
#[derive(Debug, Object)]
pub struct PackageFailureDto {
    /// `namespace/type`.
    provider: String,
    #[oai(skip_serializing_if_is_none)]
    version: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    platform: Option<String>,
    reason: String,
}

impl From<PackageFailure> for PackageFailureDto {
    fn from(f: PackageFailure) -> Self {
        Self {
            provider: f.provider,
            version: f.version,
            platform: f.platform,
            reason: f.reason,
        }
    }
}

#[derive(Debug, Object)]
pub struct SyncRunDto {
    id: Uuid,
    config_id: Uuid,
    /// `scheduled`, `manual`, or `pull-through` (a package fetched on demand was refused).
    trigger: String,
    /// The replica that ran it.
    holder: String,
    started_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    finished_at: Option<DateTime<Utc>>,
    /// `running`, `succeeded`, `partial` or `failed`.
    status: String,
    /// Versions newly verified (SHA256SUMS and its signature).
    versions_fetched: u64,
    packages_fetched: u64,
    bytes_fetched: u64,
    failures: Vec<PackageFailureDto>,
    /// A run-level error (an internal failure, an abandoned run).
    #[oai(skip_serializing_if_is_none)]
    message: Option<String>,
}

impl From<SyncRunRecord> for SyncRunDto {
    fn from(r: SyncRunRecord) -> Self {
        Self {
            id: r.id,
            config_id: r.config_id,
            trigger: r.trigger.as_str().to_string(),
            holder: r.holder,
            started_at: r.started_at,
            finished_at: r.finished_at,
            status: r.status.as_str().to_string(),
            versions_fetched: r.versions_fetched,
            packages_fetched: r.packages_fetched,
            bytes_fetched: r.bytes_fetched,
            failures: r
                .failures
                .into_iter()
                .map(PackageFailureDto::from)
                .collect(),
            message: r.message,
        }
    }
}

#[derive(Debug, Object)]
pub struct SyncHistoryDto {
    meta: PageMeta,
    /// Newest first.
    items: Vec<SyncRunDto>,
}

#[derive(ApiResponse)]
enum MirrorCreatedResponse {
    #[oai(status = 201)]
    Created(Json<MirrorConfigDto>),
}

#[derive(ApiResponse)]
enum SyncStartedResponse {
    /// The run started; it goes on in the background (see the history).
    #[oai(status = 202)]
    Started(Json<SyncRunDto>),
}

fn mirror_resource(id: Uuid) -> String {
    format!("mirror:{id}")
}

#[derive(Default)]
pub struct MirrorsApi;

#[OpenApi(tag = "ApiTags::Admin")]
impl MirrorsApi {
    /// Lists mirror configurations, by name. Needs `mirrors:read` (global).
    #[oai(
        path = "/api/v1/admin/mirrors",
        method = "get",
        operation_id = "listMirrors"
    )]
    async fn list(
        &self,
        auth: Auth,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<Vec<MirrorConfigDto>>> {
        auth.require_global(Scope::MirrorsRead)?;
        let configs = state.mirror_configs.list().await?;
        Ok(Json(
            configs.into_iter().map(MirrorConfigDto::from).collect(),
        ))
    }

    /// Creates a mirror configuration. Needs `mirrors:manage` (global).
    ///
    /// 400 names the field that failed its check (`check`); 409 when the name is taken.
    #[oai(
        path = "/api/v1/admin/mirrors",
        method = "post",
        operation_id = "createMirror"
    )]
    async fn create(
        &self,
        auth: Auth,
        body: Json<MirrorConfigRequest>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<MirrorCreatedResponse> {
        auth.require_global(Scope::MirrorsManage)?;
        let created = state.mirror_configs.create(body.0.into()).await?;
        note_resource(req, mirror_resource(created.id));
        Ok(MirrorCreatedResponse::Created(Json(created.into())))
    }

    /// Shows a mirror configuration. Needs `mirrors:read` (global).
    #[oai(
        path = "/api/v1/admin/mirrors/:id",
        method = "get",
        operation_id = "getMirror"
    )]
    async fn get(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<MirrorConfigDto>> {
        auth.require_global(Scope::MirrorsRead)?;
        Ok(Json(state.mirror_configs.get(id.0).await?.into()))
    }

    /// Replaces a mirror configuration. Needs `mirrors:manage` (global).
    ///
    /// Every field is replaced (absent ones take their defaults). Mirrored packages stay;
    /// the next sync follows the new filters.
    #[oai(
        path = "/api/v1/admin/mirrors/:id",
        method = "put",
        operation_id = "updateMirror"
    )]
    async fn update(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<MirrorConfigRequest>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<MirrorConfigDto>> {
        auth.require_global(Scope::MirrorsManage)?;
        let updated = state.mirror_configs.update(id.0, body.0.into()).await?;
        Ok(Json(updated.into()))
    }

    /// Deletes a mirror configuration and its history. Needs `mirrors:manage` (global).
    ///
    /// Mirrored packages stay stored (another configuration may serve them).
    #[oai(
        path = "/api/v1/admin/mirrors/:id",
        method = "delete",
        operation_id = "deleteMirror"
    )]
    async fn delete(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<DeletedResponse> {
        auth.require_global(Scope::MirrorsManage)?;
        state.mirror_configs.delete(id.0).await?;
        Ok(DeletedResponse::Deleted)
    }

    /// Starts a sync of a mirror configuration now. Needs `mirrors:manage` (global).
    ///
    /// 202 with the run as started; it goes on in the background (see the history). 409
    /// while a sync of it is running on any replica.
    #[oai(
        path = "/api/v1/admin/mirrors/:id/sync",
        method = "post",
        operation_id = "syncMirror"
    )]
    async fn sync(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<SyncStartedResponse> {
        auth.require_global(Scope::MirrorsManage)?;
        let run = state.mirror_sync.sync_now(id.0).await?;
        Ok(SyncStartedResponse::Started(Json(run.into())))
    }

    /// Lists a mirror configuration's sync runs, newest first. Needs `mirrors:read` (global).
    ///
    /// Each run with its trigger, replica, status, counters and failures. `limit`
    /// defaults to 15 (at most 100).
    #[oai(
        path = "/api/v1/admin/mirrors/:id/history",
        method = "get",
        operation_id = "mirrorSyncHistory"
    )]
    async fn history(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        limit: Query<Option<u64>>,
        offset: Query<Option<u64>>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<SyncHistoryDto>> {
        auth.require_global(Scope::MirrorsRead)?;
        let limit = clamp_limit(limit.0);
        let offset = offset.0.unwrap_or(0);
        let (runs, has_more) = state.mirror_configs.history(id.0, offset, limit).await?;
        let path = format!("/api/v1/admin/mirrors/{}/history", id.0);
        Ok(Json(SyncHistoryDto {
            meta: meta(&path, &[], limit, offset, has_more),
            items: runs.into_iter().map(SyncRunDto::from).collect(),
        }))
    }
}
