//! Browser sign-in through SSO: the provider list, the login redirect, the callback that
//! opens a session, logout, refresh, and who am I.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::{Html, Json};
use poem_openapi::{ApiResponse, Object, OpenApi};
use tfr_ports::driven::{AuditOutcome, MembershipRecord};
use tfr_ports::service::{AuditActor, AuditEvent, AuthMethod, LoginFailure, ServiceError};
use uuid::Uuid;

use crate::access::{RequestAuth, client_ip, request_id};
use crate::api::ApiTags;
use crate::auth::Auth;
use crate::cookies::{
    SSO_COOKIE, SSO_COOKIE_PATH, WithCookies, clear_session_cookies, read_cookie, session_cookies,
    set_cookie,
};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

pub const CALLBACK_PATH: &str = "/api/v1/auth/callback";
const PENDING_LOGIN_MAX_AGE: i64 = 600;

#[derive(Debug, Object)]
pub struct SsoProviderDto {
    /// Use as `?provider=` on the login URL.
    id: String,
    display_name: String,
    /// `oidc` or `azure_ad`.
    kind: String,
    login_url: String,
}

#[derive(ApiResponse)]
enum RedirectResponse {
    /// Go there.
    #[oai(status = 302)]
    Found(#[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
enum LoginResponse {
    /// To the identity provider.
    #[oai(status = 302)]
    Found(#[oai(header = "Location")] String),
    /// Several providers are configured and none was chosen: a page to pick one.
    #[oai(status = 200)]
    Choose(Html<String>),
}

#[derive(Debug, Object)]
pub struct SessionDto {
    /// When the session token expires; refresh before.
    expires_at: DateTime<Utc>,
    /// Echo it in `X-CSRF-Token` on mutations (also in the `tfr_csrf` cookie).
    csrf_token: String,
}

#[derive(ApiResponse)]
enum SessionResponse {
    #[oai(status = 200)]
    Ok(Json<SessionDto>),
}

#[derive(ApiResponse)]
enum LoggedOutResponse {
    /// The session token is revoked and the cookies cleared.
    #[oai(status = 204)]
    LoggedOut,
}

#[derive(Debug, Object)]
pub struct MembershipDto {
    organization_id: Uuid,
    organization: String,
    role_template_id: Uuid,
    /// Scopes held in that organization (global ones included).
    scopes: Vec<String>,
}

#[derive(Debug, Object)]
pub struct MeDto {
    /// `session` or `api_key`.
    method: String,
    /// Username, or the key's name.
    name: String,
    #[oai(skip_serializing_if_is_none)]
    user_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    email: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    key_id: Option<Uuid>,
    /// Scopes held everywhere.
    global_scopes: Vec<String>,
    organizations: Vec<MembershipDto>,
    /// For sessions: when the token expires.
    #[oai(skip_serializing_if_is_none)]
    session_expires_at: Option<DateTime<Utc>>,
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn percent(s: &str) -> String {
    tfr_ports::service::terraform_login::percent_encode(s)
}

fn callback_uri(state: &AppState) -> String {
    format!("{}{CALLBACK_PATH}", state.web.public_url)
}

pub struct SignInApi;

impl SignInApi {
    async fn audit_login(
        state: &AppState,
        req: &Request,
        actor: AuditActor,
        outcome: AuditOutcome,
        status: u16,
        detail: Option<String>,
    ) {
        let event = AuditEvent {
            action: "auth.login".into(),
            resource: "session".into(),
            outcome,
            status,
            organization_id: None,
            client_ip: client_ip(req, state.web.trust_forwarded_for),
            request_id: request_id(req),
            detail,
        };
        let _ = state.audit.record(actor, event).await;
    }
}

#[OpenApi(tag = "ApiTags::SignIn")]
impl SignInApi {
    /// The configured SSO providers.
    #[oai(
        path = "/api/v1/auth/providers",
        method = "get",
        operation_id = "listSsoProviders"
    )]
    async fn providers(&self, state: Data<&Arc<AppState>>) -> Json<Vec<SsoProviderDto>> {
        Json(
            state
                .sso
                .providers()
                .iter()
                .map(|p| SsoProviderDto {
                    id: p.id().to_string(),
                    display_name: p.display_name().to_string(),
                    kind: p.kind().to_string(),
                    login_url: format!("/api/v1/auth/login?provider={}", percent(p.id())),
                })
                .collect(),
        )
    }

    /// Starts a browser login: redirects to the identity provider. `provider` may be
    /// left out when only one is configured; `return_to` is a local path to come back to.
    #[oai(path = "/api/v1/auth/login", method = "get", operation_id = "login")]
    async fn login(
        &self,
        provider: Query<Option<String>>,
        return_to: Query<Option<String>>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<WithCookies<LoginResponse>> {
        let providers = state.sso.providers();
        if provider.0.is_none() && providers.len() > 1 {
            let back = return_to
                .0
                .as_deref()
                .map(|r| format!("&return_to={}", percent(r)))
                .unwrap_or_default();
            let links: String = providers
                .iter()
                .map(|p| {
                    format!(
                        "<li><a href=\"/api/v1/auth/login?provider={}{}\">Sign in with {}</a></li>",
                        html_escape(&percent(p.id())),
                        html_escape(&back),
                        html_escape(p.display_name())
                    )
                })
                .collect();
            let page = format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign in to tfr</title></head><body><h1>Sign in</h1><ul>{links}</ul></body></html>"
            );
            return Ok(WithCookies::new(
                LoginResponse::Choose(Html(page)),
                Vec::new(),
            ));
        }
        let started = state
            .sso
            .start(
                provider.0.as_deref(),
                &callback_uri(&state),
                return_to.0.as_deref(),
            )
            .await?;
        let cookie = set_cookie(
            SSO_COOKIE,
            &started.sealed,
            SSO_COOKIE_PATH,
            true,
            PENDING_LOGIN_MAX_AGE,
        );
        Ok(WithCookies::new(
            LoginResponse::Found(started.url),
            vec![cookie],
        ))
    }

    /// Where the identity provider sends the browser back. Checks the state, validates
    /// the ID token, signs the user in (session cookie) and redirects to `return_to`.
    #[oai(
        path = "/api/v1/auth/callback",
        method = "get",
        operation_id = "loginCallback"
    )]
    async fn callback(
        &self,
        code: Query<Option<String>>,
        #[oai(name = "state")] login_state: Query<Option<String>>,
        error: Query<Option<String>>,
        error_description: Query<Option<String>>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<WithCookies<RedirectResponse>> {
        let clear_pending = set_cookie(SSO_COOKIE, "", SSO_COOKIE_PATH, true, 0);
        let state: &AppState = &state;
        let refused = |message: String| async move {
            tracing::info!(reason = %message, "SSO login refused");
            Self::audit_login(
                state,
                req,
                AuditActor::default(),
                AuditOutcome::Denied,
                401,
                Some(message.clone()),
            )
            .await;
            ApiError::unauthorized(format!("login failed: {message}"))
        };
        if let Some(err) = error.0 {
            let detail = error_description.0.unwrap_or_default();
            let message: String = format!("the identity provider answered {err}: {detail}")
                .chars()
                .take(300)
                .collect();
            return Err(refused(message).await);
        }
        let (Some(code), Some(login_state)) = (code.0, login_state.0) else {
            return Err(refused("code and state are required".into()).await);
        };
        let sealed = read_cookie(req, SSO_COOKIE);
        let (user, return_to) = match state
            .sso
            .complete(sealed, &login_state, &code, &callback_uri(state))
            .await
        {
            Ok(done) => done,
            Err(LoginFailure::Rejected(msg)) => return Err(refused(msg).await),
            Err(LoginFailure::Unavailable(msg)) => {
                Self::audit_login(
                    state,
                    req,
                    AuditActor::default(),
                    AuditOutcome::Failed,
                    503,
                    Some(msg.clone()),
                )
                .await;
                return Err(ServiceError::Unavailable(msg).into());
            }
            Err(LoginFailure::Service(ServiceError::Forbidden(msg))) => {
                Self::audit_login(
                    state,
                    req,
                    AuditActor::default(),
                    AuditOutcome::Denied,
                    403,
                    Some(msg.clone()),
                )
                .await;
                return Err(ApiError::Forbidden(ErrorBody::new(msg)));
            }
            Err(LoginFailure::Service(err)) => {
                Self::audit_login(
                    state,
                    req,
                    AuditActor::default(),
                    AuditOutcome::Failed,
                    500,
                    Some(err.to_string()),
                )
                .await;
                return Err(err.into());
            }
        };
        // The user's memberships may have changed at this login.
        state.authenticator.invalidate_user(user.id);
        let session = state.authenticator.sessions().issue(user.id);
        let actor = AuditActor {
            id: Some(format!("user:{}", user.id)),
            name: Some(user.username.clone()),
        };
        Self::audit_login(state, req, actor, AuditOutcome::Success, 302, None).await;
        tracing::info!(user_id = %user.id, username = %user.username, "signed in");
        let max_age = session.claims.expires_at - session.claims.issued_at;
        let mut cookies = session_cookies(&session.token, &session.claims.csrf, max_age);
        cookies.push(clear_pending);
        Ok(WithCookies::new(
            RedirectResponse::Found(return_to),
            cookies,
        ))
    }

    /// Ends the session: its token is revoked (until it would have expired) and the
    /// cookies cleared.
    #[oai(path = "/api/v1/auth/logout", method = "post", operation_id = "logout")]
    async fn logout(
        &self,
        _auth: Auth,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<WithCookies<LoggedOutResponse>> {
        let session = req.data::<RequestAuth>().and_then(|a| a.session.clone());
        let Some(claims) = session else {
            return Err(ApiError::bad_request(
                "session",
                "this request is not authenticated by a session; API keys are revoked instead",
            ));
        };
        state.authenticator.sessions().logout(&claims).await?;
        Ok(WithCookies::new(
            LoggedOutResponse::LoggedOut,
            clear_session_cookies(),
        ))
    }

    /// A fresh session token (and CSRF token) for the current session, which is revoked.
    #[oai(
        path = "/api/v1/auth/refresh",
        method = "post",
        operation_id = "refreshSession"
    )]
    async fn refresh(
        &self,
        _auth: Auth,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<WithCookies<SessionResponse>> {
        let session = req.data::<RequestAuth>().and_then(|a| a.session.clone());
        let Some(claims) = session else {
            return Err(ApiError::bad_request(
                "session",
                "this request is not authenticated by a session",
            ));
        };
        let next = state.authenticator.sessions().refresh(&claims).await?;
        let max_age = next.claims.expires_at - next.claims.issued_at;
        let dto = SessionDto {
            expires_at: DateTime::from_timestamp(next.claims.expires_at, 0).unwrap_or_default(),
            csrf_token: next.claims.csrf.clone(),
        };
        Ok(WithCookies::new(
            SessionResponse::Ok(Json(dto)),
            session_cookies(&next.token, &next.claims.csrf, max_age),
        ))
    }

    /// Who the caller is: user or key, scopes everywhere and per organization.
    #[oai(path = "/api/v1/auth/me", method = "get", operation_id = "me")]
    async fn me(
        &self,
        auth: Auth,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<MeDto>> {
        let principal = auth.principal();
        let session = req.data::<RequestAuth>().and_then(|a| a.session.clone());
        let (email, memberships): (Option<String>, Vec<MembershipRecord>) = match principal.user_id
        {
            Some(id) => {
                let user = state.identity.user(id).await?;
                (user.email, state.identity.memberships_of(id).await?)
            }
            None => (None, Vec::new()),
        };
        let mut organizations = Vec::new();
        let mut org_ids: Vec<Uuid> = memberships.iter().map(|m| m.organization_id).collect();
        for id in principal.grants.organizations() {
            if !org_ids.contains(&id) {
                org_ids.push(id);
            }
        }
        for org_id in org_ids {
            let Ok(org) = state.identity.organization(&org_id.to_string()).await else {
                continue;
            };
            let scopes = principal.grants.effective_in(org_id);
            if scopes.is_empty() {
                continue;
            }
            organizations.push(MembershipDto {
                organization_id: org_id,
                organization: org.name,
                role_template_id: memberships
                    .iter()
                    .find(|m| m.organization_id == org_id)
                    .map(|m| m.role_template_id)
                    .unwrap_or_default(),
                scopes: scopes.to_strings(),
            });
        }
        Ok(Json(MeDto {
            method: match principal.method {
                AuthMethod::Session => "session",
                AuthMethod::ApiKey => "api_key",
            }
            .to_string(),
            name: principal.name.clone(),
            user_id: principal.user_id,
            email,
            key_id: principal.key_id,
            global_scopes: principal.grants.effective_global().to_strings(),
            organizations,
            session_expires_at: session.and_then(|s| DateTime::from_timestamp(s.expires_at, 0)),
        }))
    }
}
