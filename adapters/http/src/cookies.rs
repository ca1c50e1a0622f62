//! The cookies tfr sets, and a response wrapper that adds `Set-Cookie` headers to any
//! operation's response without changing its documented shape.

use poem::http::{HeaderValue, header};
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::registry::{MetaResponses, Registry};

use crate::access::{CSRF_COOKIE, SESSION_COOKIE};

/// The pending SSO login (sealed), scoped to the callback path.
pub const SSO_COOKIE: &str = "tfr_sso";
pub const SSO_COOKIE_PATH: &str = "/api/v1/auth/callback";

/// A `Set-Cookie` value. Always `Secure` and `SameSite=Lax`: browsers accept Secure
/// cookies from `http://localhost` too, and Lax lets the cookie come back on the
/// top-level redirect from the identity provider.
pub fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    http_only: bool,
    max_age_secs: i64,
) -> String {
    let mut cookie = format!(
        "{name}={value}; Path={path}; Secure; SameSite=Lax; Max-Age={}",
        max_age_secs.max(0)
    );
    if http_only {
        cookie.push_str("; HttpOnly");
    }
    cookie
}

/// The session cookie and its CSRF companion (readable by the page's script, which
/// echoes it in `X-CSRF-Token`).
pub fn session_cookies(token: &str, csrf: &str, max_age_secs: i64) -> Vec<String> {
    vec![
        set_cookie(SESSION_COOKIE, token, "/", true, max_age_secs),
        set_cookie(CSRF_COOKIE, csrf, "/", false, max_age_secs),
    ]
}

pub fn clear_session_cookies() -> Vec<String> {
    session_cookies("", "", 0)
}

/// `T` plus cookies.
pub struct WithCookies<T> {
    pub inner: T,
    pub cookies: Vec<String>,
}

impl<T> WithCookies<T> {
    pub fn new(inner: T, cookies: Vec<String>) -> Self {
        Self { inner, cookies }
    }
}

impl<T: IntoResponse> IntoResponse for WithCookies<T> {
    fn into_response(self) -> Response {
        let mut resp = self.inner.into_response();
        for cookie in self.cookies {
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        resp
    }
}

impl<T: ApiResponse> ApiResponse for WithCookies<T> {
    const BAD_REQUEST_HANDLER: bool = T::BAD_REQUEST_HANDLER;
    fn meta() -> MetaResponses {
        T::meta()
    }
    fn register(registry: &mut Registry) {
        T::register(registry)
    }
    fn from_parse_request_error(err: poem::Error) -> Self {
        Self::new(T::from_parse_request_error(err), Vec::new())
    }
}

/// A cookie's value from the request (first occurrence).
pub fn read_cookie<'a>(req: &'a poem::Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|part| part.trim().split_once('='))
        .find(|(n, v)| *n == name && !v.is_empty())
        .map(|(_, v)| v)
}
