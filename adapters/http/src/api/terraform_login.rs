//! `terraform login` (login.v1): the authorization endpoint (signs the browser in through
//! SSO first when needed) and the token endpoint (code + PKCE -> API key).

use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::{Form, Json};
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::Deserialize;
use tfr_ports::service::terraform_login::percent_encode;
use tfr_ports::service::{AuthMethod, AuthorizeError, AuthorizeParams, TokenFailure, TokenParams};

use crate::access::{AuditSlot, RequestAuth};
use crate::api::ApiTags;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

#[derive(ApiResponse)]
enum AuthorizeResponse {
    /// Back to terraform with a code (or an OAuth error), or to the SSO login first.
    #[oai(status = 302)]
    Found(#[oai(header = "Location")] String),
}

/// The token request, as `application/x-www-form-urlencoded`.
#[derive(Debug, Deserialize, Object)]
pub struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    client_id: Option<String>,
    code_verifier: Option<String>,
}

#[derive(Debug, Object)]
pub struct TokenDto {
    /// An API key owned by the signed-in user (listed and revocable like any key).
    access_token: String,
    /// Always `bearer`.
    token_type: String,
}

/// RFC 6749 section 5.2.
#[derive(Debug, Object)]
pub struct OAuthErrorDto {
    error: String,
    error_description: String,
}

#[derive(ApiResponse)]
enum TokenResponse {
    #[oai(status = 200)]
    Issued(Json<TokenDto>, #[oai(header = "Cache-Control")] String),
    /// `invalid_request`, `invalid_grant`, `invalid_client`, `unsupported_grant_type`.
    #[oai(status = 400)]
    OAuthError(Json<OAuthErrorDto>, #[oai(header = "Cache-Control")] String),
}

pub struct TerraformLoginApi;

#[OpenApi(tag = "ApiTags::SignIn")]
impl TerraformLoginApi {
    /// The login.v1 authorization endpoint. Without a browser session it first sends the
    /// browser through SSO and comes back here.
    #[allow(clippy::too_many_arguments)]
    #[oai(
        path = "/oauth/authorization",
        method = "get",
        operation_id = "terraformLoginAuthorize"
    )]
    async fn authorize(
        &self,
        client_id: Query<Option<String>>,
        redirect_uri: Query<Option<String>>,
        response_type: Query<Option<String>>,
        code_challenge: Query<Option<String>>,
        code_challenge_method: Query<Option<String>>,
        #[oai(name = "state")] login_state: Query<Option<String>>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<AuthorizeResponse> {
        let params = AuthorizeParams {
            client_id: client_id.0,
            redirect_uri: redirect_uri.0,
            response_type: response_type.0,
            code_challenge: code_challenge.0,
            code_challenge_method: code_challenge_method.0,
            state: login_state.0,
        };
        let valid = match state.terraform_login.validate(&params) {
            Ok(valid) => valid,
            Err(AuthorizeError::NotRedirectable(msg)) => {
                return Err(ApiError::bad_request("terraform_login", msg));
            }
            Err(AuthorizeError::Redirect {
                redirect_uri,
                error,
                description,
                state: client_state,
            }) => {
                let mut url = format!(
                    "{redirect_uri}?error={error}&error_description={}",
                    percent_encode(&description)
                );
                if let Some(s) = client_state {
                    url.push_str(&format!("&state={}", percent_encode(&s)));
                }
                return Ok(AuthorizeResponse::Found(url));
            }
        };
        let user = req
            .data::<RequestAuth>()
            .and_then(|a| a.principal.as_ref())
            .filter(|p| p.method == AuthMethod::Session)
            .and_then(|p| p.user_id);
        let Some(user_id) = user else {
            if state.sso.providers().is_empty() {
                return Err(ApiError::NotFound(ErrorBody::new(
                    "terraform login needs SSO, and no SSO provider is configured on this registry",
                )));
            }
            let back = req
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            return Ok(AuthorizeResponse::Found(format!(
                "/api/v1/auth/login?return_to={}",
                percent_encode(&back)
            )));
        };
        let url = state.terraform_login.issue_code(&valid, user_id).await?;
        tracing::info!(%user_id, "terraform login: code issued");
        Ok(AuthorizeResponse::Found(url))
    }

    /// The login.v1 token endpoint: exchanges the code (with its PKCE verifier) for a
    /// token.
    #[oai(
        path = "/oauth/token",
        method = "post",
        operation_id = "terraformLoginToken"
    )]
    async fn token(
        &self,
        form: Form<TokenForm>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<TokenResponse> {
        let form = form.0;
        let params = TokenParams {
            grant_type: form.grant_type,
            code: form.code,
            redirect_uri: form.redirect_uri,
            client_id: form.client_id,
            code_verifier: form.code_verifier,
        };
        let no_store = || "no-store".to_string();
        match state.terraform_login.exchange(&params).await {
            Ok(issued) => {
                let name = state
                    .identity
                    .user(issued.user_id)
                    .await
                    .map(|u| u.username)
                    .unwrap_or_default();
                AuditSlot::note(req, |n| {
                    n.resource = Some(format!("api_key:{}", issued.key_id));
                    n.actor = Some((format!("user:{}", issued.user_id), name));
                });
                tracing::info!(user_id = %issued.user_id, key_id = %issued.key_id, "terraform login: token issued");
                Ok(TokenResponse::Issued(
                    Json(TokenDto {
                        access_token: issued.access_token,
                        token_type: "bearer".into(),
                    }),
                    no_store(),
                ))
            }
            Err(TokenFailure::OAuth(err)) => {
                tracing::info!(error = err.error, reason = %err.description, "terraform login: token refused");
                AuditSlot::note(req, |n| n.detail = Some(err.to_string()));
                Ok(TokenResponse::OAuthError(
                    Json(OAuthErrorDto {
                        error: err.error.to_string(),
                        error_description: err.description,
                    }),
                    no_store(),
                ))
            }
            Err(TokenFailure::Service(err)) => Err(err.into()),
        }
    }
}
