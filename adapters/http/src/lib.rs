//! tfr-http: the driving HTTP adapter (poem + poem-openapi).
//!
//! Serves the Terraform protocols (discovery, modules, providers), tfr's signed file
//! links, the publishing API and health probes. DTOs live here and convert from the
//! ports' records; nothing below this crate knows about HTTP.

mod api;
mod auth;
mod detached;
mod error;
mod files;
mod middleware;
mod payload;
mod render_memo;
mod state;
mod upload;

use poem::endpoint::BoxEndpoint;
use poem::{EndpointExt, Route};
use poem_openapi::OpenApiService;

pub use error::ErrorBody;
pub use state::AppState;

const API_TITLE: &str = "tfr";
const API_DESCRIPTION: &str = "A private Terraform registry: the Module Registry Protocol, the Provider Registry Protocol, and tfr's publishing API.";

fn service() -> OpenApiService<api::Apis, ()> {
    OpenApiService::new(api::apis(), API_TITLE, env!("CARGO_PKG_VERSION"))
        .description(API_DESCRIPTION)
}

/// The OpenAPI document (JSON) that clients are generated from.
pub fn openapi_json() -> String {
    service().spec()
}

/// The whole HTTP application: routes plus the middleware chain.
pub fn build(state: AppState) -> BoxEndpoint<'static> {
    let service = service();
    let docs = service.swagger_ui();
    let spec = service.spec_endpoint();
    Route::new()
        .nest("/", service)
        .at("/v1/files/*key", files::endpoint())
        .nest("/api-docs", docs)
        .at("/openapi.json", spec)
        .data(std::sync::Arc::new(state))
        .data(std::sync::Arc::new(render_memo::HotRenders::default()))
        .with(middleware::JsonErrors)
        .with(middleware::SecurityHeaders)
        .with(middleware::AccessLog)
        .with(poem::middleware::RequestId::default().reuse_id(poem::middleware::ReuseId::Use))
        .boxed()
}
