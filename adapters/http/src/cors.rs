//! CORS for a configured list of browser origins, with credentials.
//!
//! poem's own `Cors` middleware does not fit: with no origin configured it allows every
//! origin (reflecting it, with credentials), and with some configured it answers 403 to
//! any request whose `Origin` is not listed, which includes the UI's own same-origin
//! `POST`s (browsers send `Origin` on those). This one:
//! - answers a preflight (`OPTIONS` + `Origin` + `Access-Control-Request-Method`) itself:
//!   204 with the CORS headers for a listed origin asking for an allowed method and
//!   headers, 403 without CORS headers otherwise (with nothing configured, every
//!   preflight is refused);
//! - passes every other request on, adding `Access-Control-Allow-*` headers only for a
//!   listed origin. Requests from other origins still run (CORS only stops the browser
//!   from reading the answer); cookie-authenticated mutations are protected by the CSRF
//!   token and `SameSite` cookies, not by CORS.

use std::sync::Arc;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, Middleware, Request, Response, Result};

/// Methods a listed origin may use.
pub const CORS_METHODS: &[Method] = &[
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];
/// Request headers a listed origin may send (besides the CORS-safelisted ones).
pub const CORS_REQUEST_HEADERS: &[&str] = &["authorization", "content-type", "x-csrf-token"];
/// Response headers a listed origin's script may read (besides the safelisted ones).
pub const CORS_EXPOSED_HEADERS: &[&str] = &["retry-after", "x-request-id"];
/// How long a browser may cache a preflight answer (seconds): short, so a changed list
/// takes effect soon.
pub const CORS_MAX_AGE_SECS: u32 = 600;

/// Checks one configured origin: `http(s)://host[:port]`, nothing else (no path, no
/// wildcard, not `null`).
pub fn check_origin(origin: &str) -> std::result::Result<(), String> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let valid = rest.is_some_and(|host| {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
    });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "cors_allowed_origins: {origin:?} is not an origin like https://ui.example.com (scheme and host, optional port, no path, no wildcard)"
        ))
    }
}

/// The CORS middleware. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct CorsPolicy {
    origins: Arc<Vec<String>>,
}

impl CorsPolicy {
    /// Origins are compared case-insensitively; a trailing `/` is ignored.
    pub fn new<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let origins = origins
            .into_iter()
            .map(|o| o.as_ref().trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|o| !o.is_empty())
            .collect();
        Self {
            origins: Arc::new(origins),
        }
    }
}

impl<E: Endpoint> Middleware<E> for CorsPolicy {
    type Output = CorsEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        CorsEndpoint {
            inner: ep,
            origins: self.origins.clone(),
        }
    }
}

pub struct CorsEndpoint<E> {
    inner: E,
    origins: Arc<Vec<String>>,
}

impl<E> CorsEndpoint<E> {
    fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }
}

fn refused(message: &str) -> Response {
    Response::builder()
        .status(StatusCode::FORBIDDEN)
        .content_type("application/json")
        .body(serde_json::json!({ "errors": [message] }).to_string())
}

fn joined<T: AsRef<str>>(items: &[T]) -> HeaderValue {
    let list = items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ");
    HeaderValue::from_str(&list).unwrap_or(HeaderValue::from_static(""))
}

/// Every header the browser asks to send is one we allow.
fn headers_allowed(requested: Option<&HeaderValue>) -> bool {
    let Some(requested) = requested else {
        return true;
    };
    let Ok(requested) = requested.to_str() else {
        return false;
    };
    requested
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .all(|h| {
            CORS_REQUEST_HEADERS
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(h))
        })
}

impl<E: Endpoint> Endpoint for CorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let origin = req.headers().get(header::ORIGIN).cloned();
        let allowed = origin
            .as_ref()
            .and_then(|o| o.to_str().ok())
            .is_some_and(|o| self.allows(o));
        let preflight = req.method() == Method::OPTIONS
            && origin.is_some()
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);

        if preflight {
            return Ok(self.preflight(&req, allowed, origin));
        }

        let mut resp = self.inner.get_response(req).await;
        if !self.origins.is_empty() {
            // The answer depends on the Origin header: shared caches must not mix them.
            resp.headers_mut()
                .append(header::VARY, HeaderValue::from_static("Origin"));
        }
        if let (true, Some(origin)) = (allowed, origin) {
            let headers = resp.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                joined(CORS_EXPOSED_HEADERS),
            );
        }
        Ok(resp)
    }
}

impl<E> CorsEndpoint<E> {
    fn preflight(&self, req: &Request, allowed: bool, origin: Option<HeaderValue>) -> Response {
        let (true, Some(origin)) = (allowed, origin) else {
            tracing::info!(
                origin = ?req.headers().get(header::ORIGIN),
                path = %req.uri().path(),
                "CORS preflight from an origin that is not allowed"
            );
            return refused("CORS preflight refused: this origin is not allowed");
        };
        let method_allowed = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| m.to_str().ok())
            .and_then(|m| m.parse::<Method>().ok())
            .is_some_and(|m| CORS_METHODS.contains(&m));
        if !method_allowed {
            return refused("CORS preflight refused: this method is not allowed");
        }
        if !headers_allowed(req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS)) {
            return refused("CORS preflight refused: a requested header is not allowed");
        }
        let methods: Vec<&str> = CORS_METHODS.iter().map(Method::as_str).collect();
        let mut resp = Response::builder()
            .status(StatusCode::NO_CONTENT)
            .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin)
            .header(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true")
            .header(header::ACCESS_CONTROL_ALLOW_METHODS, joined(&methods))
            .header(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                joined(CORS_REQUEST_HEADERS),
            )
            .header(header::ACCESS_CONTROL_MAX_AGE, CORS_MAX_AGE_SECS)
            .finish();
        for vary in [
            "Origin",
            "Access-Control-Request-Method",
            "Access-Control-Request-Headers",
        ] {
            resp.headers_mut()
                .append(header::VARY, HeaderValue::from_static(vary));
        }
        resp
    }
}
