//! `GET|HEAD /v1/files/{key}?expires=..&signature=..`: tfr's own signed download links.
//! Terraform sends no token here, so the link itself is the credential: short-lived and
//! HMAC-signed over key and expiry. An expired or altered link gets 403.

use std::sync::Arc;

use poem::http::{Method, StatusCode, header};
use poem::web::{Data, Path, Query};
use poem::{Body, Endpoint, EndpointExt, Response, handler};
use serde::Deserialize;
use tfr_core::BlobKey;

use crate::state::AppState;

#[derive(Debug, Deserialize)]
struct LinkQuery {
    /// Kept as text: a malformed value is a bad link (403), not a bad request.
    expires: Option<String>,
    signature: Option<String>,
}

fn json_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "errors": [message] });
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

fn content_type_for(name: &str) -> &'static str {
    if name.ends_with(".zip") {
        "application/zip"
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        "application/gzip"
    } else if name.ends_with(".sig") {
        "application/pgp-signature"
    } else if name.ends_with("SHA256SUMS") {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

#[handler]
async fn serve_file(
    method: Method,
    Path(key): Path<String>,
    Query(query): Query<LinkQuery>,
    state: Data<&Arc<AppState>>,
) -> Response {
    let expires = query.expires.as_deref().and_then(|e| e.parse::<i64>().ok());
    let (Some(expires), Some(signature)) = (expires, query.signature.as_deref()) else {
        return json_error(StatusCode::FORBIDDEN, "download link is not signed");
    };
    if let Err(err) = state.links.verify(&key, expires, signature) {
        tracing::info!(%key, error = %err, "refused a download link");
        return json_error(StatusCode::FORBIDDEN, &err.to_string());
    }
    let Ok(blob_key) = BlobKey::parse(&key) else {
        return json_error(StatusCode::NOT_FOUND, "file not found");
    };
    match state.blobs.get(&blob_key).await {
        Ok(Some(object)) => {
            let builder = Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, content_type_for(blob_key.file_name()))
                .header(header::CONTENT_LENGTH, object.meta.size)
                .header(header::CACHE_CONTROL, "private, max-age=300");
            if method == Method::HEAD {
                builder.body(Body::empty())
            } else {
                builder.body(Body::from_bytes_stream(object.body))
            }
        }
        Ok(None) => json_error(StatusCode::NOT_FOUND, "file not found"),
        Err(err) => {
            tracing::error!(%key, error = %err, "reading a blob failed");
            json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage is temporarily unavailable; retry later",
            )
        }
    }
}

pub fn endpoint() -> impl Endpoint {
    poem::get(serve_file).head(serve_file).map_to_response()
}
