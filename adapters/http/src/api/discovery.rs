//! `/.well-known/terraform.json` and the health probes.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::api::ApiTags;
use crate::error::ErrorBody;
use crate::state::AppState;

/// Service discovery. Base URLs end in `/`: Terraform's provider client does not add one.
#[derive(Debug, Object)]
pub struct DiscoveryDto {
    #[oai(rename = "modules.v1")]
    modules_v1: String,
    #[oai(rename = "providers.v1")]
    providers_v1: String,
    /// Advertised when SSO is configured, so `terraform login` works.
    #[oai(rename = "login.v1", skip_serializing_if_is_none)]
    login_v1: Option<LoginV1Dto>,
}

/// terraform's login.v1 service: an OAuth client for the public client `terraform-cli`.
#[derive(Debug, Object)]
pub struct LoginV1Dto {
    client: String,
    grant_types: Vec<String>,
    authz: String,
    token: String,
    /// The callback port range terraform listens in (`[min, max)`).
    ports: Vec<u16>,
}

#[derive(Debug, Object)]
pub struct StatusDto {
    status: String,
}

#[derive(ApiResponse)]
enum ReadyResponse {
    /// The database is reachable and every migration is applied.
    #[oai(status = 200)]
    Ready(Json<StatusDto>),
    #[oai(status = 503)]
    NotReady(Json<ErrorBody>),
}

pub struct DiscoveryApi;

#[OpenApi(tag = "ApiTags::Discovery")]
impl DiscoveryApi {
    /// Terraform's remote service discovery document.
    #[oai(
        path = "/.well-known/terraform.json",
        method = "get",
        operation_id = "discovery"
    )]
    async fn discovery(&self, state: Data<&Arc<AppState>>) -> Json<DiscoveryDto> {
        let login_v1 = (!state.sso.providers().is_empty()).then(|| {
            let ports = &state.terraform_login.settings().ports;
            LoginV1Dto {
                client: tfr_ports::service::TERRAFORM_CLIENT_ID.to_string(),
                grant_types: vec!["authz_code".to_string()],
                authz: "/oauth/authorization".to_string(),
                token: "/oauth/token".to_string(),
                ports: vec![ports.start, ports.end],
            }
        });
        Json(DiscoveryDto {
            modules_v1: "/v1/modules/".to_string(),
            providers_v1: "/v1/providers/".to_string(),
            login_v1,
        })
    }

    /// Liveness: the process is up.
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self) -> Json<StatusDto> {
        Json(StatusDto {
            status: "ok".to_string(),
        })
    }

    /// Readiness: the database is reachable and migrated.
    #[oai(path = "/ready", method = "get", operation_id = "ready")]
    async fn ready(&self, state: Data<&Arc<AppState>>) -> ReadyResponse {
        match state.health.ready().await {
            Ok(()) => ReadyResponse::Ready(Json(StatusDto {
                status: "ready".to_string(),
            })),
            Err(err) => {
                tracing::warn!(error = %err, "readiness check failed");
                ReadyResponse::NotReady(ErrorBody::new(format!("not ready: {err}")))
            }
        }
    }
}
