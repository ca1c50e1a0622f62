//! Bearer API key authentication for the publishing API.

use std::sync::Arc;

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;
use tfr_core::Scope;
use tfr_ports::service::Principal;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// `Authorization: Bearer tfr_...`: an API key created with `tfr keys create`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_api_key")]
pub struct ApiKeyAuth(pub Principal);

async fn check_api_key(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    let state = req.data::<Arc<AppState>>().ok_or_else(|| {
        poem::Error::from_string(
            "state missing",
            poem::http::StatusCode::INTERNAL_SERVER_ERROR,
        )
    })?;
    match state.api_keys.authenticate(&bearer.token).await {
        Ok(Some(principal)) => Ok(principal),
        Ok(None) => {
            tracing::info!("request with an unknown, revoked or expired API key");
            Err(
                ApiError::unauthorized("the API key is not valid (unknown, revoked or expired)")
                    .into(),
            )
        }
        Err(err) => Err(ApiError::from(err).into()),
    }
}

impl ApiKeyAuth {
    pub fn require(&self, scope: Scope) -> ApiResult<&Principal> {
        self.0.require(scope).map_err(ApiError::from)?;
        Ok(&self.0)
    }
}
