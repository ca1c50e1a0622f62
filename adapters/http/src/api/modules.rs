//! The Module Registry Protocol (`versions`, `download`) and the listing API beside it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use tfr_core::{ModuleAddress, ModuleVersion};
use tfr_ports::driven::ModuleListQuery;
use tfr_ports::service::ModuleSummary;

use crate::api::ApiTags;
use crate::api::pagination::{PageMeta, clamp_limit, meta};
use crate::error::{ApiError, ApiResult};
use crate::payload::RenderedJson;
use crate::render_memo::{HotRenders, to_json_bytes};
use crate::state::AppState;

#[derive(Debug, Object)]
pub struct VersionDto {
    version: String,
}

#[derive(Debug, Object)]
pub struct ModuleVersionsEntryDto {
    versions: Vec<VersionDto>,
}

/// `{"modules":[{"versions":[{"version":"1.0.0"}]}]}`: Terraform reads only
/// `modules[0].versions[].version`.
#[derive(Debug, Object)]
pub struct ModuleVersionsDto {
    modules: Vec<ModuleVersionsEntryDto>,
}

/// A module version as the public registry's listing API shows it.
#[derive(Debug, Object)]
pub struct ModuleDto {
    /// `namespace/name/provider/version`
    id: String,
    owner: String,
    namespace: String,
    name: String,
    version: String,
    /// The target system (the registry API calls it "provider").
    provider: String,
    #[oai(skip_serializing_if_is_none)]
    description: Option<String>,
    source: String,
    published_at: DateTime<Utc>,
    downloads: u64,
    verified: bool,
}

/// One module version with its README and every version of the module.
#[derive(Debug, Object)]
pub struct ModuleDetailDto {
    #[oai(flatten)]
    module: ModuleDto,
    #[oai(skip_serializing_if_is_none)]
    readme: Option<String>,
    /// Every version, newest first.
    versions: Vec<String>,
}

#[derive(Debug, Object)]
pub struct ModuleListDto {
    meta: PageMeta,
    modules: Vec<ModuleDto>,
}

#[derive(ApiResponse)]
enum DownloadResponse {
    /// The archive link is in `X-Terraform-Get` (a short-lived signed URL).
    #[oai(status = 204)]
    Found(#[oai(header = "X-Terraform-Get")] String),
}

#[derive(ApiResponse)]
enum LatestDownloadResponse {
    /// Redirects to the download endpoint of the latest version.
    #[oai(status = 302)]
    Redirect(#[oai(header = "Location")] String),
}

fn to_dto(summary: &ModuleSummary) -> ModuleDto {
    let (m, v) = (&summary.module, &summary.version);
    ModuleDto {
        id: format!("{}/{}/{}/{}", m.namespace, m.name, m.system, v.version),
        owner: String::new(),
        namespace: m.namespace.clone(),
        name: m.name.clone(),
        version: v.version.clone(),
        provider: m.system.clone(),
        description: v.description.clone(),
        source: String::new(),
        published_at: v.published_at,
        downloads: v.downloads,
        verified: false,
    }
}

fn detail(summary: ModuleSummary) -> ModuleDetailDto {
    ModuleDetailDto {
        module: to_dto(&summary),
        readme: summary.version.readme,
        versions: summary.versions,
    }
}

/// Protocol reads answer 404 for names that cannot exist, so Terraform says "not found".
fn address(namespace: &str, name: &str, system: &str) -> ApiResult<ModuleAddress> {
    ModuleAddress::parse(namespace, name, system)
        .map_err(|e| ApiError::not_found(format!("module not found: {e}")))
}

fn version(value: &str) -> ApiResult<ModuleVersion> {
    ModuleVersion::parse(value)
        .map_err(|e| ApiError::not_found(format!("module version not found: {e}")))
}

pub struct ModulesApi;

impl ModulesApi {
    async fn page(
        &self,
        state: &AppState,
        req: &poem::Request,
        path: &str,
        mut query: ModuleListQuery,
        filters: Vec<(&str, String)>,
        limit: Option<u64>,
        offset: Option<u64>,
    ) -> ApiResult<Json<ModuleListDto>> {
        query.limit = clamp_limit(limit);
        query.offset = offset.unwrap_or(0);
        query.organizations = crate::access::readable_organizations(
            req,
            state.namespace_access.anonymous_read(),
            tfr_core::Scope::ModulesRead,
        );
        let (items, has_more) = state.module_catalog.list(&query).await?;
        Ok(Json(ModuleListDto {
            meta: meta(path, &filters, query.limit, query.offset, has_more),
            modules: items.iter().map(to_dto).collect(),
        }))
    }
}

#[OpenApi(tag = "ApiTags::Modules")]
impl ModulesApi {
    /// Lists every version of a module (Module Registry Protocol).
    #[oai(
        path = "/v1/modules/:namespace/:name/:system/versions",
        method = "get",
        operation_id = "moduleVersions"
    )]
    async fn versions(
        &self,
        namespace: Path<String>,
        name: Path<String>,
        system: Path<String>,
        state: Data<&Arc<AppState>>,
        renders: Data<&Arc<HotRenders>>,
    ) -> ApiResult<RenderedJson<ModuleVersionsDto>> {
        let addr = address(&namespace, &name, &system)?;
        let cached = state.module_catalog.versions(&addr).await?;
        let body = renders.modules.get_or_render(&cached, |m| {
            to_json_bytes(&ModuleVersionsDto {
                modules: vec![ModuleVersionsEntryDto {
                    versions: m
                        .versions
                        .iter()
                        .map(|v| VersionDto {
                            version: v.version.clone(),
                        })
                        .collect(),
                }],
            })
        });
        Ok(RenderedJson::new(body))
    }

    /// Where to download one version: `204` with `X-Terraform-Get` (Module Registry Protocol).
    #[oai(
        path = "/v1/modules/:namespace/:name/:system/:version/download",
        method = "get",
        operation_id = "moduleDownload"
    )]
    async fn download(
        &self,
        namespace: Path<String>,
        name: Path<String>,
        system: Path<String>,
        version: Path<String>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<DownloadResponse> {
        let addr = address(&namespace, &name, &system)?;
        let v = self::version(&version)?;
        let link = state.module_catalog.download_link(&addr, &v).await?;
        Ok(DownloadResponse::Found(link))
    }

    /// Lists modules, each with its latest version.
    #[oai(path = "/v1/modules", method = "get", operation_id = "listModules")]
    async fn list(
        &self,
        /// Filter by target system.
        provider: Query<Option<String>>,
        limit: Query<Option<u64>>,
        offset: Query<Option<u64>>,
        req: &poem::Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<ModuleListDto>> {
        let mut filters = Vec::new();
        if let Some(p) = &provider.0 {
            filters.push(("provider", p.clone()));
        }
        let query = ModuleListQuery {
            system: provider.0.clone(),
            ..Default::default()
        };
        self.page(
            &state,
            req,
            "/v1/modules",
            query,
            filters,
            limit.0,
            offset.0,
        )
        .await
    }

    /// Searches modules by namespace, name and description.
    #[oai(
        path = "/v1/modules/search",
        method = "get",
        operation_id = "searchModules"
    )]
    async fn search(
        &self,
        q: Query<String>,
        namespace: Query<Option<String>>,
        provider: Query<Option<String>>,
        limit: Query<Option<u64>>,
        offset: Query<Option<u64>>,
        req: &poem::Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<ModuleListDto>> {
        let term = q.0.trim().to_string();
        if term.is_empty() {
            return Err(ApiError::bad_request(
                "q",
                "the search term q must not be empty",
            ));
        }
        let mut filters = vec![("q", term.clone())];
        if let Some(ns) = &namespace.0 {
            filters.push(("namespace", ns.clone()));
        }
        if let Some(p) = &provider.0 {
            filters.push(("provider", p.clone()));
        }
        let query = ModuleListQuery {
            search: Some(term.to_ascii_lowercase()),
            namespace: namespace.0.as_deref().map(str::to_ascii_lowercase),
            system: provider.0.clone(),
            ..Default::default()
        };
        self.page(
            &state,
            req,
            "/v1/modules/search",
            query,
            filters,
            limit.0,
            offset.0,
        )
        .await
    }

    /// Lists the modules of one namespace.
    #[oai(
        path = "/v1/modules/:namespace",
        method = "get",
        operation_id = "listNamespaceModules"
    )]
    async fn list_namespace(
        &self,
        namespace: Path<String>,
        provider: Query<Option<String>>,
        limit: Query<Option<u64>>,
        offset: Query<Option<u64>>,
        req: &poem::Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<ModuleListDto>> {
        let mut filters = Vec::new();
        if let Some(p) = &provider.0 {
            filters.push(("provider", p.clone()));
        }
        let query = ModuleListQuery {
            namespace: Some(namespace.0.to_ascii_lowercase()),
            system: provider.0.clone(),
            ..Default::default()
        };
        let path = format!("/v1/modules/{}", namespace.0);
        self.page(&state, req, &path, query, filters, limit.0, offset.0)
            .await
    }

    /// The latest version of a module (newest release; a prerelease only when there is no release).
    #[oai(
        path = "/v1/modules/:namespace/:name/:system",
        method = "get",
        operation_id = "latestModule"
    )]
    async fn latest(
        &self,
        namespace: Path<String>,
        name: Path<String>,
        system: Path<String>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<ModuleDetailDto>> {
        let addr = address(&namespace, &name, &system)?;
        let summary = state.module_catalog.latest(&addr).await?;
        let version = ModuleVersion::parse(&summary.version.version)
            .map_err(|e| ApiError::not_found(e.to_string()))?;
        // `latest` skips README text; fetch the one version with it.
        Ok(Json(detail(
            state.module_catalog.version(&addr, &version).await?,
        )))
    }

    /// One version of a module, with its README.
    #[oai(
        path = "/v1/modules/:namespace/:name/:system/:version",
        method = "get",
        operation_id = "moduleVersion"
    )]
    async fn version(
        &self,
        namespace: Path<String>,
        name: Path<String>,
        system: Path<String>,
        version: Path<String>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<ModuleDetailDto>> {
        let addr = address(&namespace, &name, &system)?;
        let v = self::version(&version)?;
        Ok(Json(detail(state.module_catalog.version(&addr, &v).await?)))
    }

    /// Redirects (302) to the download endpoint of the latest version.
    #[oai(
        path = "/v1/modules/:namespace/:name/:system/download",
        method = "get",
        operation_id = "latestModuleDownload"
    )]
    async fn download_latest(
        &self,
        namespace: Path<String>,
        name: Path<String>,
        system: Path<String>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<LatestDownloadResponse> {
        let addr = address(&namespace, &name, &system)?;
        let summary = state.module_catalog.latest(&addr).await?;
        Ok(LatestDownloadResponse::Redirect(format!(
            "/v1/modules/{}/{}/{}/{}/download",
            namespace.0, name.0, system.0, summary.version.version
        )))
    }
}
