//! Publishing and deleting module versions. The body is the archive itself, streamed to
//! a staging file (size-capped, hashed in flight), checked, then stored.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem::{Body, Request};
use poem_openapi::param::Path;
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiRequest, ApiResponse, Object, OpenApi};
use tfr_core::{ArchiveFormat, ModuleAddress, ModuleVersion, Scope};
use tfr_ports::service::ModuleUpload;

use crate::api::ApiTags;
use crate::auth::{Auth, target_organization};
use crate::detached::run_to_completion;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::upload::{body_stream, check_content_length, stage};

/// The module archive.
#[derive(ApiRequest)]
enum ModuleArchiveBody {
    /// A `.tar.gz` archive.
    #[oai(content_type = "application/gzip")]
    TarGz(Binary<Body>),
    /// A `.zip` archive.
    #[oai(content_type = "application/zip")]
    Zip(Binary<Body>),
}

#[derive(Debug, Object)]
pub struct PublishedModuleDto {
    namespace: String,
    name: String,
    provider: String,
    /// Canonical form (`v1.2` is stored as `1.2.0`).
    version: String,
    #[oai(skip_serializing_if_is_none)]
    description: Option<String>,
    sha256: String,
    size: u64,
    published_at: DateTime<Utc>,
}

#[derive(ApiResponse)]
enum PublishModuleResponse {
    /// The version is published.
    #[oai(status = 201)]
    Created(Json<PublishedModuleDto>),
}

#[derive(ApiResponse)]
pub enum DeletedResponse {
    /// The version, its rows and its files are gone.
    #[oai(status = 204)]
    Deleted,
}

fn address(namespace: &str, name: &str, system: &str) -> ApiResult<ModuleAddress> {
    ModuleAddress::parse(namespace, name, system).map_err(|e| ApiError::bad_request("address", e))
}

fn version(value: &str) -> ApiResult<ModuleVersion> {
    ModuleVersion::parse(value).map_err(|e| ApiError::bad_request("version", e))
}

pub struct PublishModulesApi;

#[OpenApi(tag = "ApiTags::Publishing")]
impl PublishModulesApi {
    /// Publishes a module version from a `.tar.gz` or `.zip` archive. Needs `modules:write`.
    #[oai(
        path = "/api/v1/modules/:namespace/:name/:system/:version",
        method = "post",
        operation_id = "publishModule"
    )]
    async fn publish(
        &self,
        auth: Auth,
        namespace: Path<String>,
        name: Path<String>,
        system: Path<String>,
        version: Path<String>,
        body: ModuleArchiveBody,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<PublishModuleResponse> {
        let principal = auth.principal();
        let organization_id = target_organization(req)?;
        principal.require_in(Scope::ModulesWrite, organization_id)?;
        let address = address(&namespace, &name, &system)?;
        let version = self::version(&version)?;
        let max = state.publish_module.limits().max_archive_bytes;
        check_content_length(req, max)?;
        let (format, body) = match body {
            ModuleArchiveBody::TarGz(b) => (ArchiveFormat::TarGz, b.0),
            ModuleArchiveBody::Zip(b) => (ArchiveFormat::Zip, b.0),
        };
        let archive = stage(body_stream(body), &state.staging_dir, max, "the archive").await?;
        let publisher = state.publish_module.clone();
        let upload = ModuleUpload {
            address: address.clone(),
            version,
            format,
            archive,
            published_by: principal.key_id.or(principal.user_id),
            organization_id,
        };
        let logged = address.clone();
        let record = run_to_completion(async move {
            publisher.execute(upload).await.inspect_err(
                |e| tracing::info!(module = %logged, error = %e, "module publish refused"),
            )
        })
        .await?;
        state.namespace_access.invalidate(&namespace);
        Ok(PublishModuleResponse::Created(Json(PublishedModuleDto {
            namespace: address.namespace.to_string(),
            name: address.name.as_str().to_string(),
            provider: address.system.as_str().to_string(),
            version: record.version,
            description: record.description,
            sha256: record.sha256,
            size: record.size,
            published_at: record.published_at,
        })))
    }

    /// Deletes a module version and its archive. Needs `modules:write`.
    #[oai(
        path = "/api/v1/modules/:namespace/:name/:system/:version",
        method = "delete",
        operation_id = "deleteModuleVersion"
    )]
    async fn delete(
        &self,
        auth: Auth,
        namespace: Path<String>,
        name: Path<String>,
        system: Path<String>,
        version: Path<String>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<DeletedResponse> {
        auth.principal()
            .require_in(Scope::ModulesWrite, target_organization(req)?)?;
        let address = address(&namespace, &name, &system)?;
        let version = self::version(&version)?;
        state.delete_module.execute(&address, &version).await?;
        Ok(DeletedResponse::Deleted)
    }
}
