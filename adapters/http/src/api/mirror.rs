//! The Provider Network Mirror Protocol under `/v1/mirror/`: `index.json`,
//! `{version}.json` and the package archives, with pull-through from the upstream a
//! mirror configuration names.
//!
//! The three share one path shape and are told apart by the last segment. Documents are
//! answered with `Content-Type: application/json` exactly. A 404 tells Terraform to try
//! its next installation method. Archive URLs in `{version}.json` are relative to the
//! document (tfr's signed archive route) or absolute (a held package's storage link);
//! Terraform sends no credential for them, so the archive route is public behind its
//! signed link (see the route table).

use std::collections::BTreeMap;
use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::{ApiResponse, Object, OpenApi, Union};
use tfr_core::{ProviderAddress, ProviderVersion, RegistryHost};

use crate::api::ApiTags;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::payload::ExactJson;
use crate::state::AppState;

/// A version's entry in `index.json`: always empty.
#[derive(Debug, Object)]
pub struct MirrorIndexEntryDto {}

/// `index.json`: every version the mirror offers, as object keys.
#[derive(Debug, Object)]
pub struct MirrorIndexDto {
    versions: BTreeMap<String, MirrorIndexEntryDto>,
}

#[derive(Debug, Object)]
pub struct MirrorArchiveDto {
    /// Relative to this document (`terraform-provider-..._linux_amd64.zip?expires=..`),
    /// or absolute.
    url: String,
    /// `h1:` (when tfr holds the package) and `zh:` (from upstream's signed SHA256SUMS).
    hashes: Vec<String>,
}

/// `{version}.json`: one archive per platform (`linux_amd64`).
#[derive(Debug, Object)]
pub struct MirrorVersionDto {
    archives: BTreeMap<String, MirrorArchiveDto>,
}

/// `index.json` or `{version}.json`, by the path's last segment.
#[derive(Debug, Union)]
pub enum MirrorDocument {
    Index(MirrorIndexDto),
    Version(MirrorVersionDto),
}

#[derive(ApiResponse)]
enum MirrorResponse {
    /// `index.json` or `{version}.json` (`Content-Type: application/json`).
    #[oai(status = 200)]
    Document(ExactJson<MirrorDocument>),
    /// An archive: redirects to where the package is downloaded (a short-lived signed
    /// link), fetching it from upstream first when tfr does not hold it yet.
    #[oai(status = 302)]
    Archive(#[oai(header = "Location")] String),
}

/// What the last path segment asks for.
enum Wanted<'a> {
    Index,
    Version(&'a str),
    Archive(&'a str),
}

fn request(file: &str) -> Option<Wanted<'_>> {
    // Archives first: the route table makes exactly the `*.zip` values public.
    if file.ends_with(".zip") {
        Some(Wanted::Archive(file))
    } else if file == "index.json" {
        Some(Wanted::Index)
    } else {
        file.strip_suffix(".json").map(Wanted::Version)
    }
}

fn hostname(value: &str) -> ApiResult<RegistryHost> {
    RegistryHost::parse(value).map_err(|e| ApiError::bad_request("hostname", e))
}

/// Terraform lower-cases provider addresses; so does the mirror.
fn address(namespace: &str, provider_type: &str) -> ApiResult<ProviderAddress> {
    ProviderAddress::parse(
        &namespace.to_ascii_lowercase(),
        &provider_type.to_ascii_lowercase(),
    )
    .map_err(|e| ApiError::bad_request("provider", e))
}

fn not_signed() -> ApiError {
    ApiError::Forbidden(ErrorBody::new(
        "the archive link is not signed; take it from the version document",
    ))
}

pub struct MirrorApi;

#[OpenApi(tag = "ApiTags::Mirror")]
impl MirrorApi {
    /// A Provider Network Mirror Protocol document or archive.
    ///
    /// The last segment says which: `index.json` (the versions), `{version}.json` (one
    /// archive per platform with its hashes) or a package archive
    /// (`terraform-provider-{type}_{version}_{os}_{arch}.zip?expires=..&signature=..`,
    /// answered with a redirect). `hostname` is the provider's origin registry
    /// (`registry.terraform.io`); an enabled mirror configuration answering for it and
    /// allowing the provider decides the upstream. 404 when no configuration serves the
    /// provider (Terraform then tries its next installation method); 400 for a malformed
    /// hostname, address or version. Archives need no credential: the signed link is one
    /// (403 when it is missing, altered or expired).
    #[oai(
        path = "/v1/mirror/:hostname/:namespace/:type/:file",
        method = "get",
        operation_id = "mirrorDocument"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn document(
        &self,
        hostname: Path<String>,
        namespace: Path<String>,
        #[oai(name = "type")] provider_type: Path<String>,
        /// `index.json`, `{version}.json` or a package archive's file name.
        file: Path<String>,
        /// Archives only: the signed link's expiry (Unix seconds).
        expires: Query<Option<String>>,
        /// Archives only: the signed link's signature.
        signature: Query<Option<String>>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<MirrorResponse> {
        let Some(wanted) = request(&file) else {
            return Err(ApiError::not_found(
                "the mirror serves index.json, {version}.json and package archives",
            ));
        };
        let host = self::hostname(&hostname)?;
        let addr = address(&namespace, &provider_type)?;
        let catalog = &state.mirror_catalog;
        match wanted {
            Wanted::Index => {
                let versions = catalog.index(&host, &addr).await?;
                Ok(document(MirrorDocument::Index(MirrorIndexDto {
                    versions: versions
                        .into_iter()
                        .map(|v| (v, MirrorIndexEntryDto {}))
                        .collect(),
                })))
            }
            Wanted::Version(version) => {
                let version = ProviderVersion::parse(version)
                    .map_err(|e| ApiError::bad_request("version", e))?;
                let archives = catalog.version(&host, &addr, &version).await?;
                Ok(document(MirrorDocument::Version(MirrorVersionDto {
                    archives: archives
                        .into_iter()
                        .map(|a| {
                            (
                                a.platform.to_string(),
                                MirrorArchiveDto {
                                    url: a.url,
                                    hashes: a.hashes,
                                },
                            )
                        })
                        .collect(),
                })))
            }
            Wanted::Archive(filename) => {
                // A malformed expiry is a bad link (403), not a bad request.
                let expires = expires.0.as_deref().and_then(|e| e.parse::<i64>().ok());
                let (Some(expires), Some(signature)) = (expires, signature.0.as_deref()) else {
                    return Err(not_signed());
                };
                let location = catalog
                    .archive(&host, &addr, filename, expires, signature)
                    .await?;
                Ok(MirrorResponse::Archive(location))
            }
        }
    }
}

fn document(doc: MirrorDocument) -> MirrorResponse {
    MirrorResponse::Document(ExactJson(doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_segment_decides() {
        assert!(matches!(request("index.json"), Some(Wanted::Index)));
        assert!(matches!(
            request("1.2.3.json"),
            Some(Wanted::Version("1.2.3"))
        ));
        assert!(matches!(
            request("terraform-provider-aws_1.0.0_linux_amd64.zip"),
            Some(Wanted::Archive(_))
        ));
        // Only `*.zip` is an archive (and so public in the route table).
        assert!(matches!(
            request("index.json.zip"),
            Some(Wanted::Archive(_))
        ));
        assert!(matches!(
            request("x.zip.json"),
            Some(Wanted::Version("x.zip"))
        ));
        assert!(request("README.md").is_none());
        assert!(request("index.JSON").is_none());
    }
}
