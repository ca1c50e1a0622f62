//! The Provider Registry Protocol (`versions` and `download/{os}/{arch}`) and the
//! provider listing beside it (published or mirrored providers).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use tfr_core::{Platform, ProviderAddress, ProviderVersion};
use tfr_ports::driven::{
    MirroredListQuery, MirroredProvider, ProviderListQuery, ProviderWithVersions,
};

use crate::api::ApiTags;
use crate::api::pagination::{PageMeta, clamp_limit, meta};
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

/// Which providers the listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum ProviderSource {
    /// Published to this registry.
    Published,
    /// Copied from an upstream registry by a mirror.
    Mirrored,
}

/// Where a mirrored provider comes from.
#[derive(Debug, Object)]
pub struct MirroredFromDto {
    /// The upstream registry (`registry.terraform.io`).
    upstream: String,
    /// When a sync last finished this provider.
    #[oai(skip_serializing_if_is_none)]
    last_synced_at: Option<DateTime<Utc>>,
}

/// A provider in the listing, published or mirrored.
#[derive(Debug, Object)]
pub struct ProviderSummaryDto {
    /// `namespace/type`, or `upstream/namespace/type` for a mirrored provider.
    id: String,
    namespace: String,
    /// The provider type (`aws`).
    name: String,
    /// Newest first, each with the platforms tfr holds.
    versions: Vec<ProviderVersionDto>,
    /// Present for mirrored providers only.
    #[oai(skip_serializing_if_is_none)]
    mirrored: Option<MirroredFromDto>,
}

#[derive(Debug, Object)]
pub struct ProviderListDto {
    meta: PageMeta,
    providers: Vec<ProviderSummaryDto>,
}

fn platform_dto(p: &Platform) -> PlatformDto {
    PlatformDto {
        os: p.os().to_string(),
        arch: p.arch().to_string(),
    }
}

impl From<ProviderWithVersions> for ProviderSummaryDto {
    fn from(p: ProviderWithVersions) -> Self {
        Self {
            id: format!("{}/{}", p.provider.namespace, p.provider.provider_type),
            namespace: p.provider.namespace,
            name: p.provider.provider_type,
            versions: p
                .versions
                .into_iter()
                .map(|v| ProviderVersionDto {
                    version: v.version,
                    protocols: v.protocols,
                    platforms: v
                        .platforms
                        .iter()
                        .map(|p| platform_dto(&p.platform))
                        .collect(),
                })
                .collect(),
            mirrored: None,
        }
    }
}

impl From<MirroredProvider> for ProviderSummaryDto {
    fn from(m: MirroredProvider) -> Self {
        let p = m.provider;
        Self {
            id: format!("{}/{}/{}", p.upstream, p.namespace, p.provider_type),
            namespace: p.namespace,
            name: p.provider_type,
            // Only what can be served: a verified version without packages is not.
            versions: m
                .versions
                .into_iter()
                .filter(|v| !v.packages.is_empty())
                .map(|v| ProviderVersionDto {
                    version: v.version,
                    protocols: v.protocols,
                    platforms: v
                        .packages
                        .iter()
                        .map(|p| platform_dto(&p.platform))
                        .collect(),
                })
                .collect(),
            mirrored: Some(MirroredFromDto {
                upstream: p.upstream.to_string(),
                last_synced_at: p.last_synced_at,
            }),
        }
    }
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
    /// Lists providers with their versions and platforms.
    ///
    /// `source=published` (the default): providers published here, those the caller may
    /// read. `source=mirrored`: providers copied from upstream registries, with where
    /// they come from (readable by anyone signed in, or anyone with anonymous read).
    /// `namespace` filters exactly, `q` by a substring of namespace or type. `limit`
    /// defaults to 15 (at most 100).
    #[allow(clippy::too_many_arguments)]
    #[oai(
        path = "/api/v1/providers",
        method = "get",
        operation_id = "listProviders"
    )]
    async fn list(
        &self,
        source: Query<Option<ProviderSource>>,
        namespace: Query<Option<String>>,
        q: Query<Option<String>>,
        limit: Query<Option<u64>>,
        offset: Query<Option<u64>>,
        req: &poem::Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<ProviderListDto>> {
        let source = source.0.unwrap_or(ProviderSource::Published);
        let namespace = namespace
            .0
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| !n.is_empty());
        let search = q.0.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
        let limit = clamp_limit(limit.0);
        let offset = offset.0.unwrap_or(0);
        let mut filters = Vec::new();
        if source == ProviderSource::Mirrored {
            filters.push(("source", "mirrored".to_string()));
        }
        if let Some(ns) = &namespace {
            filters.push(("namespace", ns.clone()));
        }
        if let Some(term) = &search {
            filters.push(("q", term.clone()));
        }
        let search = search.map(|t| t.to_ascii_lowercase());
        let (providers, has_more) = match source {
            ProviderSource::Published => {
                let query = ProviderListQuery {
                    namespace,
                    search,
                    organizations: crate::access::readable_organizations(
                        req,
                        state.namespace_access.anonymous_read(),
                        tfr_core::Scope::ProvidersRead,
                    ),
                    offset,
                    limit,
                };
                let (items, has_more) = state.provider_catalog.list(&query).await?;
                (items.into_iter().map(Into::into).collect(), has_more)
            }
            ProviderSource::Mirrored => {
                let query = MirroredListQuery {
                    namespace,
                    search,
                    offset,
                    limit,
                };
                let page = state.mirror_catalog.list(&query).await?;
                (
                    page.items.into_iter().map(Into::into).collect(),
                    page.has_more,
                )
            }
        };
        Ok(Json(ProviderListDto {
            meta: meta("/api/v1/providers", &filters, limit, offset, has_more),
            providers,
        }))
    }

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
