//! The security schemes operations declare in the OpenAPI document. Authentication itself
//! already happened (the `access` middlewares); these only hand the principal to the
//! handler, and answer 401 when there is none.

use poem::{Request, RequestBody};
use poem_openapi::auth::Bearer;
use poem_openapi::error::AuthorizationError;
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, SecurityScheme};
use tfr_core::Scope;
use tfr_ports::service::Principal;
use uuid::Uuid;

use crate::access::{RequestAuth, SESSION_COOKIE, TargetOrganization};
use crate::cookies::read_cookie;
use crate::error::{ApiError, ApiResult};

fn authenticated(req: &Request) -> poem::Result<Principal> {
    req.data::<RequestAuth>()
        .and_then(|a| a.principal.clone())
        .ok_or_else(|| ApiError::unauthorized("a credential is required").into())
}

async fn from_bearer(req: &Request, _bearer: Bearer) -> poem::Result<Principal> {
    authenticated(req)
}

/// `Authorization: Bearer <token>`: an API key (`tfr_...`), a `terraform login` token,
/// or a session token.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "from_bearer")]
pub struct BearerAuth(pub Principal);

/// The browser session cookie set at SSO login. Mutations must also send the
/// `X-CSRF-Token` header with the value of the `tfr_csrf` cookie.
///
/// Written by hand rather than derived (`ty = "api_key", key_in = "cookie"`): the derived
/// extractor reads cookies through poem's `CookieJar`, which needs poem-openapi's `cookie`
/// feature and the `CookieJarManager` middleware, and without them panics
/// (`unreachable!()` in `ApiKey::from_request`) on every cookie-authenticated request.
/// The OpenAPI registration is the one the derive would produce.
pub struct SessionCookieAuth(pub Principal);

const SESSION_COOKIE_SCHEME: &str = "SessionCookieAuth";

impl<'a> ApiExtractor<'a> for SessionCookieAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            SESSION_COOKIE_SCHEME,
            MetaSecurityScheme {
                ty: "apiKey",
                description: Some(
                    "The browser session cookie set at SSO login. Mutations must also send the\n`X-CSRF-Token` header with the value of the `tfr_csrf` cookie.",
                ),
                name: Some(SESSION_COOKIE),
                key_in: Some("cookie"),
                scheme: None,
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![SESSION_COOKIE_SCHEME]
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        // The access middleware already authenticated the cookie; this only requires that
        // one was sent and hands the principal over.
        if read_cookie(req, SESSION_COOKIE).is_none() {
            return Err(AuthorizationError.into());
        }
        authenticated(req).map(Self)
    }
}

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
