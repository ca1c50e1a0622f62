//! Publishing and deleting provider versions (`multipart/form-data`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::{Data, Multipart};
use poem::{Body, FromRequest, Request, RequestBody};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use tfr_core::{ProviderAddress, ProviderVersion, Scope};
use tfr_ports::service::{PackageUpload, ProviderUpload};

use crate::api::ApiTags;
use crate::api::publish_modules::DeletedResponse;
use crate::auth::{Auth, target_organization};
use crate::detached::run_to_completion;
use crate::error::{ApiError, ApiResult};
use crate::payload::MultipartBody;
use crate::state::AppState;
use crate::upload::{DrainBudget, DrainableBody, stage};

/// Most platform zips one version may carry.
const MAX_PACKAGES: usize = 64;
const MAX_SHASUMS_BYTES: usize = 64 * 1024;
const MAX_SIGNATURE_BYTES: usize = 16 * 1024;
const MAX_KEY_BYTES: usize = 256 * 1024;
const MAX_SMALL_PART_BYTES: usize = 64 * 1024;

#[derive(Debug, Object)]
pub struct PublishedPlatformDto {
    os: String,
    arch: String,
    filename: String,
    shasum: String,
    h1: String,
}

#[derive(Debug, Object)]
pub struct PublishedProviderDto {
    namespace: String,
    #[oai(rename = "type")]
    provider_type: String,
    version: String,
    protocols: Vec<String>,
    key_id: String,
    platforms: Vec<PublishedPlatformDto>,
    published_at: DateTime<Utc>,
    /// Things the publisher should know, e.g. a signing key some Terraform versions cannot read.
    #[oai(skip_serializing_if_is_empty)]
    warnings: Vec<String>,
}

#[derive(ApiResponse)]
enum PublishProviderResponse {
    /// The version is published.
    #[oai(status = 201)]
    Created(Json<PublishedProviderDto>),
}

fn address(namespace: &str, provider_type: &str) -> ApiResult<ProviderAddress> {
    ProviderAddress::parse(namespace, provider_type)
        .map_err(|e| ApiError::bad_request("address", e))
}

fn version(value: &str) -> ApiResult<ProviderVersion> {
    ProviderVersion::parse(value).map_err(|e| ApiError::bad_request("version", e))
}

async fn small_part(field: poem::web::Field, name: &str, max: usize) -> ApiResult<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut data = Vec::new();
    let read = field
        .into_async_read()
        .take(max as u64 + 1)
        .read_to_end(&mut data)
        .await;
    read.map_err(|e| ApiError::bad_request("body", format!("reading part {name} failed: {e}")))?;
    if data.len() > max {
        return Err(ApiError::PayloadTooLarge(crate::error::ErrorBody::new(
            format!("size_limit: part {name} exceeds {max} bytes"),
        )));
    }
    Ok(data)
}

/// Most bytes read and discarded after a refused part, so the client gets to read the
/// error instead of a reset connection; past this the connection is simply closed.
const MAX_DRAIN_BYTES: u64 = 64 * 1024 * 1024;

/// Reads what is left of a refused form, discarding it; the body itself stops after
/// `MAX_DRAIN_BYTES` more (including the rest of the refused part).
async fn drain(multipart: &mut Multipart, budget: &DrainBudget) {
    budget.arm(MAX_DRAIN_BYTES);
    while let Ok(Some(field)) = multipart.next_field().await {
        if tokio::io::copy(&mut field.into_async_read(), &mut tokio::io::sink())
            .await
            .is_err()
        {
            return;
        }
    }
}

fn text(data: Vec<u8>, name: &str) -> ApiResult<String> {
    String::from_utf8(data)
        .map_err(|_| ApiError::bad_request("form", format!("part {name} must be UTF-8 text")))
}

fn missing(name: &str) -> ApiError {
    ApiError::bad_request("form", format!("the {name} part is required"))
}

/// Reads the form, spooling each package to the staging directory as it arrives.
async fn read_form(
    req: &Request,
    body: Body,
    address: ProviderAddress,
    version: ProviderVersion,
    state: &AppState,
    published_by: Option<uuid::Uuid>,
    organization_id: uuid::Uuid,
) -> ApiResult<ProviderUpload> {
    let (body, budget) = DrainableBody::new(body);
    let body = Body::from_bytes_stream(body);
    let mut multipart = Multipart::from_request(req, &mut RequestBody::new(body))
        .await
        .map_err(|e| {
            ApiError::bad_request("form", format!("not a multipart/form-data body: {e}"))
        })?;
    let max_package = state.publish_provider.limits().max_archive_bytes;
    let (mut packages, mut shasums, mut signature, mut key, mut protocols, mut manifest) =
        (Vec::new(), None, None, None, None, None);
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::bad_request("form", format!("malformed multipart body: {e}")))?;
        let Some(field) = field else { break };
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "package" => {
                if packages.len() >= MAX_PACKAGES {
                    return Err(ApiError::bad_request(
                        "packages",
                        format!("at most {MAX_PACKAGES} packages per version"),
                    ));
                }
                let filename = field.file_name().map(str::to_string).ok_or_else(|| {
                    ApiError::bad_request("file_name", "each package part needs a file name")
                })?;
                let stream = Box::pin(tokio_util::io::ReaderStream::new(field.into_async_read()));
                match stage(stream, &state.staging_dir, max_package, &filename).await {
                    Ok(file) => packages.push(PackageUpload { filename, file }),
                    Err(err) => {
                        drain(&mut multipart, &budget).await;
                        return Err(err);
                    }
                }
            }
            "shasums" => shasums = Some(small_part(field, "shasums", MAX_SHASUMS_BYTES).await?),
            "signature" => {
                signature = Some(small_part(field, "signature", MAX_SIGNATURE_BYTES).await?)
            }
            "gpg_public_key" => {
                key = Some(text(
                    small_part(field, "gpg_public_key", MAX_KEY_BYTES).await?,
                    "gpg_public_key",
                )?)
            }
            "protocols" => {
                protocols = Some(text(
                    small_part(field, "protocols", MAX_SMALL_PART_BYTES).await?,
                    "protocols",
                )?)
            }
            "manifest" => {
                manifest = Some(small_part(field, "manifest", MAX_SMALL_PART_BYTES).await?)
            }
            other => {
                return Err(ApiError::bad_request(
                    "form",
                    format!(
                        "unknown part {other:?} (expected package, shasums, signature, gpg_public_key, protocols, manifest)"
                    ),
                ));
            }
        }
    }
    Ok(ProviderUpload {
        address,
        version,
        packages,
        shasums: shasums.ok_or_else(|| missing("shasums"))?,
        signature: signature.ok_or_else(|| missing("signature"))?,
        public_key: key.ok_or_else(|| missing("gpg_public_key"))?,
        protocols,
        manifest,
        published_by,
        organization_id,
    })
}

pub struct PublishProvidersApi;

#[OpenApi(tag = "ApiTags::Publishing")]
impl PublishProvidersApi {
    /// Publishes a GPG-signed provider version. Needs `providers:write`.
    ///
    /// A `multipart/form-data` body with the parts `package` (one per platform zip, file
    /// name `terraform-provider-{type}_{version}_{os}_{arch}.zip`), `shasums` (the
    /// SHA256SUMS file), `signature` (its binary detached signature), `gpg_public_key`
    /// (ASCII-armored), and optionally `protocols` (`5.0,6.0`) and `manifest` (the
    /// goreleaser `_manifest.json`).
    #[oai(
        path = "/api/v1/providers/:namespace/:type/:version",
        method = "post",
        operation_id = "publishProvider"
    )]
    async fn publish(
        &self,
        auth: Auth,
        namespace: Path<String>,
        #[oai(name = "type")] provider_type: Path<String>,
        version: Path<String>,
        form: MultipartBody,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<PublishProviderResponse> {
        let principal = auth.principal();
        let organization_id = target_organization(req)?;
        principal.require_in(Scope::ProvidersWrite, organization_id)?;
        let address = address(&namespace, &provider_type)?;
        let version = self::version(&version)?;
        let upload = read_form(
            req,
            form.0,
            address.clone(),
            version,
            &state,
            principal.key_id.or(principal.user_id),
            organization_id,
        )
        .await?;
        let publisher = state.publish_provider.clone();
        let logged = address.clone();
        let published = run_to_completion(async move {
            publisher.execute(upload).await.inspect_err(
                |e| tracing::info!(provider = %logged, error = %e, "provider publish refused"),
            )
        })
        .await?;
        state.namespace_access.invalidate(&namespace);
        let record = published.record;
        Ok(PublishProviderResponse::Created(Json(
            PublishedProviderDto {
                namespace: address.namespace.to_string(),
                provider_type: address.provider_type.as_str().to_string(),
                version: record.version,
                protocols: record.protocols,
                key_id: record.signing_key.key_id,
                platforms: record
                    .platforms
                    .into_iter()
                    .map(|p| PublishedPlatformDto {
                        os: p.platform.os().to_string(),
                        arch: p.platform.arch().to_string(),
                        filename: p.filename,
                        shasum: p.sha256,
                        h1: p.h1,
                    })
                    .collect(),
                published_at: record.published_at,
                warnings: published.warnings,
            },
        )))
    }

    /// Deletes a provider version and its files. Needs `providers:write`.
    #[oai(
        path = "/api/v1/providers/:namespace/:type/:version",
        method = "delete",
        operation_id = "deleteProviderVersion"
    )]
    async fn delete(
        &self,
        auth: Auth,
        namespace: Path<String>,
        #[oai(name = "type")] provider_type: Path<String>,
        version: Path<String>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<DeletedResponse> {
        auth.principal()
            .require_in(Scope::ProvidersWrite, target_organization(req)?)?;
        let address = address(&namespace, &provider_type)?;
        let version = self::version(&version)?;
        state.delete_provider.execute(&address, &version).await?;
        Ok(DeletedResponse::Deleted)
    }
}
