//! Cross-cutting HTTP concerns: request ids, access logs, and turning every error (ours,
//! poem's, poem-openapi's) into the JSON error body. Security headers, CORS and rate
//! limiting have their own modules.

use std::time::Instant;

use poem::http::{HeaderValue, StatusCode, header};
use poem::middleware::ReqId;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

/// Largest non-JSON error body that is wrapped into JSON (error texts are short).
const MAX_ERROR_TEXT: usize = 4096;

fn request_id(req: &Request) -> Option<String> {
    req.data::<ReqId>().map(|id| id.to_string())
}

/// Turns every error response into `{"errors":[...]}` and stamps server errors with the
/// request id.
pub struct JsonErrors;

impl<E: Endpoint> Middleware<E> for JsonErrors {
    type Output = JsonErrorsEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        JsonErrorsEndpoint(ep)
    }
}

pub struct JsonErrorsEndpoint<E>(E);

impl<E: Endpoint> Endpoint for JsonErrorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let id = request_id(&req);
        let resp = match self.0.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => err.into_response(),
        };
        let status = resp.status();
        if !(status.is_client_error() || status.is_server_error()) {
            return Ok(resp);
        }
        let is_json = resp
            .content_type()
            .is_some_and(|ct| ct.starts_with("application/json"));
        let (parts, body) = resp.into_parts();
        let bytes = body.into_bytes().await.unwrap_or_default();
        let mut json: serde_json::Value = if is_json {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| serde_json::json!({ "errors": [] }))
        } else {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_ERROR_TEXT)])
                .trim()
                .to_string();
            let message = if text.is_empty() {
                status
                    .canonical_reason()
                    .unwrap_or("error")
                    .to_ascii_lowercase()
            } else {
                text
            };
            serde_json::json!({ "errors": [message] })
        };
        if let (true, Some(obj), Some(id)) = (status.is_server_error(), json.as_object_mut(), id) {
            obj.insert("request_id".into(), serde_json::Value::String(id));
        }
        let mut resp = Response::from_parts(parts, json.to_string().into());
        resp.headers_mut().remove(header::CONTENT_LENGTH);
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body was not read: the connection cannot carry another
            // request, so tell the client not to pool it.
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Ok(resp)
    }
}

/// One structured log line per request. Logs the path only: query strings can carry
/// signed-link signatures.
pub struct AccessLog;

impl<E: Endpoint> Middleware<E> for AccessLog {
    type Output = AccessLogEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        AccessLogEndpoint(ep)
    }
}

pub struct AccessLogEndpoint<E>(E);

impl<E: Endpoint> Endpoint for AccessLogEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let id = request_id(&req).unwrap_or_default();
        let resp = match self.0.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => err.into_response(),
        };
        let status = resp.status();
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(request_id = %id, %method, %path, status = status.as_u16(), latency_ms, "request");
        } else {
            tracing::info!(request_id = %id, %method, %path, status = status.as_u16(), latency_ms, "request");
        }
        Ok(resp)
    }
}
