//! Authentication: a bearer token (a session JWT first, then an API key) or the session
//! cookie. An invalid credential is refused with 401 except on public routes, where it is
//! ignored. Cookie-authenticated mutations must echo the session's CSRF token in a header
//! (double submit, bound to the signed session).

use std::sync::Arc;

use poem::http::header;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use subtle::ConstantTimeEq;

use super::routes::{Requirement, is_mutation, match_route};
use super::{CSRF_HEADER, RequestAuth, SESSION_COOKIE, audit};
use crate::error::ApiError;
use crate::state::AppState;

pub struct Authenticate(pub Arc<AppState>);

impl<E: Endpoint> Middleware<E> for Authenticate {
    type Output = AuthenticateEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        AuthenticateEndpoint {
            inner: ep,
            state: self.0.clone(),
        }
    }
}

pub struct AuthenticateEndpoint<E> {
    inner: E,
    state: Arc<AppState>,
}

enum Presented {
    Bearer(String),
    Cookie(String),
    Nothing,
}

fn presented(req: &Request) -> Presented {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().unwrap_or_default();
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .unwrap_or_default()
            .trim();
        return Presented::Bearer(token.to_string());
    }
    for value in req.headers().get_all(header::COOKIE) {
        if let Ok(value) = value.to_str() {
            for part in value.split(';') {
                if let Some((name, v)) = part.trim().split_once('=')
                    && name == SESSION_COOKIE
                    && !v.is_empty()
                {
                    return Presented::Cookie(v.to_string());
                }
            }
        }
    }
    Presented::Nothing
}

impl<E: Endpoint> Endpoint for AuthenticateEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let route = match_route(req.method(), req.uri().path());
        let public = route
            .as_ref()
            .is_none_or(|r| r.rule.requirement == Requirement::Public);
        let authenticator = &self.state.authenticator;
        let (outcome, via_cookie) = match presented(&req) {
            Presented::Nothing => (Ok(None), false),
            Presented::Bearer(token) => (authenticator.authenticate_bearer(&token).await, false),
            Presented::Cookie(token) => (authenticator.authenticate_session(&token).await, true),
        };
        let mut auth = RequestAuth {
            via_cookie,
            ..RequestAuth::default()
        };
        let credential_sent = !matches!(presented(&req), Presented::Nothing);
        match outcome {
            Ok(Some(found)) => {
                auth.principal = Some(found.principal);
                auth.session = found.session;
            }
            Ok(None) if credential_sent && !public => {
                let message = if via_cookie {
                    "the session has expired or was logged out; sign in again"
                } else {
                    "the credential is not valid (unknown, revoked or expired)"
                };
                tracing::info!(path = %req.uri().path(), "request with an invalid credential");
                audit::record_refusal(&self.state, &req, route.as_ref(), None, 401, message).await;
                return Ok(ApiError::unauthorized(message).into_response());
            }
            Ok(None) => {}
            Err(err) if public => {
                tracing::warn!(error = %err, "authentication failed on a public route; treated as anonymous");
            }
            Err(err) => return Ok(ApiError::from(err).into_response()),
        }

        if auth.via_cookie && auth.principal.is_some() && is_mutation(req.method()) {
            let expected = auth
                .session
                .as_ref()
                .map(|s| s.csrf.as_str())
                .unwrap_or_default();
            let sent = req
                .headers()
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if expected.is_empty() || !bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
                let message =
                    "missing or wrong X-CSRF-Token header (send the value of the tfr_csrf cookie)";
                audit::record_refusal(
                    &self.state,
                    &req,
                    route.as_ref(),
                    auth.principal.as_ref(),
                    403,
                    message,
                )
                .await;
                return Ok(
                    ApiError::Forbidden(crate::error::ErrorBody::new(message)).into_response()
                );
            }
        }
        req.set_data(auth);
        if let Some(route) = route {
            // Matched once per request; RBAC and the audit trail reuse it.
            req.set_data(route);
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}
