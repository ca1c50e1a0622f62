//! The security schemes operations declare in the OpenAPI document. Authentication itself
//! already happened (the `access` middlewares); these only hand the principal to the
//! handler, and answer 401 when there is none.

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::{ApiKey, Bearer};
use tfr_core::Scope;
use tfr_ports::service::Principal;
use uuid::Uuid;

use crate::access::{RequestAuth, TargetOrganization};
use crate::error::{ApiError, ApiResult};

fn authenticated(req: &Request) -> poem::Result<Principal> {
    req.data::<RequestAuth>()
        .and_then(|a| a.principal.clone())
        .ok_or_else(|| ApiError::unauthorized("a credential is required").into())
}

async fn from_bearer(req: &Request, _bearer: Bearer) -> poem::Result<Principal> {
    authenticated(req)
}

async fn from_cookie(req: &Request, _cookie: ApiKey) -> poem::Result<Principal> {
    authenticated(req)
}

/// `Authorization: Bearer <token>`: an API key (`tfr_...`), a `terraform login` token,
/// or a session token.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "from_bearer")]
pub struct BearerAuth(pub Principal);

/// The browser session cookie set at SSO login. Mutations must also send the
/// `X-CSRF-Token` header with the value of the `tfr_csrf` cookie.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "tfr_session",
    key_in = "cookie",
    checker = "from_cookie"
)]
pub struct SessionCookieAuth(pub Principal);

/// Either credential.
#[derive(SecurityScheme)]
pub enum Auth {
    Bearer(BearerAuth),
    SessionCookie(SessionCookieAuth),
}

impl Auth {
    pub fn principal(&self) -> &Principal {
        match self {
            Auth::Bearer(BearerAuth(p)) | Auth::SessionCookie(SessionCookieAuth(p)) => p,
        }
    }

    /// The user behind the request; keys without a user (system and organization keys)
    /// cannot use user-only operations.
    pub fn user_id(&self) -> ApiResult<Uuid> {
        self.principal().user_id.ok_or_else(|| {
            ApiError::Forbidden(crate::error::ErrorBody::new(
                "this operation acts on a user's own account; use a session or a key owned by a user",
            ))
        })
    }

    /// A scope held everywhere (checked again here: handlers never trust only the
    /// route table).
    pub fn require_global(&self, scope: Scope) -> ApiResult<&Principal> {
        self.principal().require_global(scope)?;
        Ok(self.principal())
    }
}

/// The organization RBAC resolved for this request.
pub fn target_organization(req: &Request) -> ApiResult<Uuid> {
    req.data::<TargetOrganization>()
        .map(|t| t.0)
        .ok_or_else(|| {
            ApiError::Forbidden(crate::error::ErrorBody::new(
                "no organization resolved for this request",
            ))
        })
}
