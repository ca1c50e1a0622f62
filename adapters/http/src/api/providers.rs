//! The Provider Registry Protocol: `versions` and `download/{os}/{arch}`.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use tfr_core::{Platform, ProviderAddress, ProviderVersion};

use crate::api::ApiTags;
use crate::error::{ApiError, ApiResult};
use crate::payload::RenderedJson;
use crate::render_memo::{HotRenders, to_json_bytes};
use crate::state::AppState;

#[derive(Debug, Object)]
pub struct PlatformDto {
    os: String,
    arch: String,
}

#[derive(Debug, Object)]
pub struct ProviderVersionDto {
    /// Strict semver, never `v`-prefixed.
    version: String,
    protocols: Vec<String>,
    platforms: Vec<PlatformDto>,
}

#[derive(Debug, Object)]
pub struct ProviderVersionsDto {
    versions: Vec<ProviderVersionDto>,
}

#[derive(Debug, Object)]
pub struct GpgPublicKeyDto {
    key_id: String,
    ascii_armor: String,
    /// Always empty: a non-empty value makes Terraform check HashiCorp's partner key.
    trust_signature: String,
    source: String,
    source_url: String,
}

#[derive(Debug, Object)]
pub struct SigningKeysDto {
    gpg_public_keys: Vec<GpgPublicKeyDto>,
}

#[derive(Debug, Object)]
pub struct ProviderDownloadDto {
    protocols: Vec<String>,
    os: String,
    arch: String,
    filename: String,
    download_url: String,
    shasums_url: String,
    shasums_signature_url: String,
    shasum: String,
    signing_keys: SigningKeysDto,
}

fn address(namespace: &str, provider_type: &str) -> ApiResult<ProviderAddress> {
    // Terraform lower-cases provider addresses; accept any case on reads.
    ProviderAddress::parse(
        &namespace.to_ascii_lowercase(),
        &provider_type.to_ascii_lowercase(),
    )
    .map_err(|e| ApiError::not_found(format!("provider not found: {e}")))
}

pub struct ProvidersApi;

#[OpenApi(tag = "ApiTags::Providers")]
impl ProvidersApi {
    /// Lists every version of a provider with its protocols and platforms.
    #[oai(
        path = "/v1/providers/:namespace/:type/versions",
        method = "get",
        operation_id = "providerVersions"
    )]
    async fn versions(
        &self,
        namespace: Path<String>,
        #[oai(name = "type")] provider_type: Path<String>,
        state: Data<&Arc<AppState>>,
        renders: Data<&Arc<HotRenders>>,
    ) -> ApiResult<RenderedJson<ProviderVersionsDto>> {
        let addr = address(&namespace, &provider_type)?;
        let cached = state.provider_catalog.versions(&addr).await?;
        let body = renders.providers.get_or_render(&cached, |p| {
            to_json_bytes(&ProviderVersionsDto {
                versions: p
                    .versions
                    .iter()
                    .map(|v| ProviderVersionDto {
                        version: v.version.clone(),
                        protocols: v.protocols.clone(),
                        platforms: v
                            .platforms
                            .iter()
                            .map(|p| PlatformDto {
                                os: p.platform.os().to_string(),
                                arch: p.platform.arch().to_string(),
                            })
                            .collect(),
                    })
                    .collect(),
            })
        });
        Ok(RenderedJson::new(body))
    }

    /// Where to download one platform's package, its SHA256SUMS, signature and signing key.
    #[oai(
        path = "/v1/providers/:namespace/:type/:version/download/:os/:arch",
        method = "get",
        operation_id = "providerDownload"
    )]
    async fn download(
        &self,
        namespace: Path<String>,
        #[oai(name = "type")] provider_type: Path<String>,
        version: Path<String>,
        os: Path<String>,
        arch: Path<String>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<ProviderDownloadDto>> {
        let addr = address(&namespace, &provider_type)?;
        let version = ProviderVersion::parse(&version)
            .map_err(|e| ApiError::not_found(format!("provider version not found: {e}")))?;
        let platform = Platform::new(&os, &arch)
            .map_err(|e| ApiError::not_found(format!("platform not found: {e}")))?;
        let d = state
            .provider_catalog
            .download(&addr, &version, &platform)
            .await?;
        Ok(Json(ProviderDownloadDto {
            protocols: d.protocols,
            os: d.platform.os().to_string(),
            arch: d.platform.arch().to_string(),
            filename: d.filename,
            download_url: d.download_url,
            shasums_url: d.shasums_url,
            shasums_signature_url: d.shasums_signature_url,
            shasum: d.shasum,
            signing_keys: SigningKeysDto {
                gpg_public_keys: vec![GpgPublicKeyDto {
                    key_id: d.signing_key.key_id,
                    ascii_armor: d.signing_key.ascii_armor,
                    trust_signature: String::new(),
                    source: d.signing_key.source.unwrap_or_default(),
                    source_url: d.signing_key.source_url.unwrap_or_default(),
                }],
            },
        }))
    }
}
