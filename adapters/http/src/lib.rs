//! tfr-http: the driving HTTP adapter (poem + poem-openapi).
//!
//! Serves the Terraform protocols (discovery, modules, providers), tfr's signed file
//! links, the publishing API and health probes. DTOs live here and convert from the
//! ports' records; nothing below this crate knows about HTTP.

mod access;
mod api;
mod auth;
mod cookies;
mod cors;
mod detached;
mod error;
mod files;
mod middleware;
mod payload;
mod rate_limit;
mod render_memo;
mod security_headers;
mod state;
mod upload;

use poem::endpoint::BoxEndpoint;
use poem::{EndpointExt, Route};
use poem_openapi::OpenApiService;

pub use cors::CorsPolicy;
pub use error::ErrorBody;
pub use rate_limit::{RateLimit, RateLimits};
pub use security_headers::{CspNonce, HttpSecurity, SecurityHeaders};
pub use state::{AppState, WebSettings};

const API_TITLE: &str = "tfr";
const API_DESCRIPTION: &str = "A private Terraform registry: the Module Registry Protocol, the Provider Registry Protocol, the Provider Network Mirror Protocol, and tfr's publishing and administration API.";

fn service() -> OpenApiService<api::Apis, ()> {
    OpenApiService::new(api::apis(), API_TITLE, env!("CARGO_PKG_VERSION"))
        .description(API_DESCRIPTION)
}

/// The OpenAPI document (JSON) that clients are generated from. Each operation carries
/// `x-tfr-scope`: what it requires, from the same table the RBAC middleware enforces;
/// one whose requirement differs for some parameter values also carries
/// `x-tfr-scope-refined` (the refining rule's path, such as
/// `/v1/mirror/{hostname}/{namespace}/{type}/{file}.zip`, to its requirement).
pub fn openapi_json() -> String {
    let spec = service().spec();
    let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(&spec) else {
        return spec;
    };
    if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for (path, ops) in paths.iter_mut() {
            let Some(ops) = ops.as_object_mut() else {
                continue;
            };
            for (method, op) in ops.iter_mut() {
                let rule = access::routes::ROUTES
                    .iter()
                    .find(|r| r.path == path && r.method.as_str().eq_ignore_ascii_case(method));
                let Some(op) = op.as_object_mut() else {
                    continue;
                };
                if let Some(rule) = rule {
                    op.insert(
                        "x-tfr-scope".into(),
                        serde_json::Value::String(rule.requirement.describe()),
                    );
                }
                // Rules refining this operation for parameter values with a suffix
                // (`{file}.zip`), by their path.
                let refined: serde_json::Map<String, serde_json::Value> = access::routes::ROUTES
                    .iter()
                    .filter(|r| {
                        r.method.as_str().eq_ignore_ascii_case(method)
                            && access::routes::refined_operation(r.path).as_deref()
                                == Some(path.as_str())
                    })
                    .map(|r| {
                        (
                            r.path.to_string(),
                            serde_json::Value::String(r.requirement.describe()),
                        )
                    })
                    .collect();
                if !refined.is_empty() {
                    op.insert(
                        "x-tfr-scope-refined".into(),
                        serde_json::Value::Object(refined),
                    );
                }
            }
        }
    }
    serde_json::to_string_pretty(&doc).unwrap_or(spec)
}

/// [`build_with`] the default [`HttpSecurity`].
pub fn build(state: AppState) -> BoxEndpoint<'static> {
    build_with(state, HttpSecurity::default())
}

/// The whole HTTP application: routes plus the middleware chain, outermost first:
/// request id, access log, JSON errors, security headers, CORS, rate limiting,
/// authentication, RBAC, audit.
pub fn build_with(state: AppState, security: HttpSecurity) -> BoxEndpoint<'static> {
    let service = service();
    let docs = service.swagger_ui();
    let spec = openapi_json();
    let state = std::sync::Arc::new(state);
    Route::new()
        .nest("/", service)
        .at("/v1/files/*key", files::endpoint())
        .nest("/api-docs", docs)
        .at(
            "/openapi.json",
            poem::endpoint::make_sync(move |_| {
                poem::Response::builder()
                    .content_type("application/json")
                    .body(spec.clone())
            }),
        )
        .data(state.clone())
        .data(std::sync::Arc::new(render_memo::HotRenders::default()))
        .with(access::AuditTrail(state.clone()))
        .with(access::Authorize(state.clone()))
        .with(access::Authenticate(state))
        .with(RateLimit::new(
            &security.rate_limits,
            security.trust_forwarded_for,
        ))
        .with(CorsPolicy::new(&security.cors_allowed_origins))
        .with(SecurityHeaders::new(security.tls))
        .with(middleware::JsonErrors)
        .with(middleware::AccessLog)
        .with(poem::middleware::RequestId::default().reuse_id(poem::middleware::ReuseId::Use))
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The route table and the OpenAPI document list the same operations: every
    /// operation has its rule (`x-tfr-scope`), every rule its operation (refining rules,
    /// `{file}.zip`, the operation they refine).
    #[test]
    fn route_table_and_document_list_the_same_operations() {
        let doc: serde_json::Value = serde_json::from_str(&openapi_json()).expect("JSON");
        let paths = doc["paths"].as_object().expect("paths");
        let mut operations = 0;
        for (path, ops) in paths {
            for (method, op) in ops.as_object().expect("operations") {
                operations += 1;
                assert!(
                    op["x-tfr-scope"].is_string(),
                    "{method} {path} has no rule in the route table"
                );
            }
        }
        for rule in access::routes::ROUTES {
            let path = access::routes::refined_operation(rule.path)
                .unwrap_or_else(|| rule.path.to_string());
            let method = rule.method.as_str().to_ascii_lowercase();
            assert!(
                paths.get(&path).and_then(|ops| ops.get(&method)).is_some(),
                "{} {} is in the route table but not served",
                rule.method,
                rule.path
            );
        }
        assert!(operations >= 60, "{operations} operations");
    }
}
