//! Organization API keys: keys that act within one organization (automation, CI), owned
//! by the organization rather than a user.

use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use tfr_core::Scope;
use tfr_ports::driven::{KeyOwner, OrganizationRecord};
use tfr_ports::service::Principal;
use uuid::Uuid;

use super::{org_resource, organization_with};
use crate::api::ApiTags;
use crate::api::keys::{
    ApiKeyDto, CreateApiKeyRequest, KeyCreatedResponse, KeyRevokedResponse, KeyRotatedResponse,
    note_key, revoke_owned, rotate_owned,
};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

/// Rotating hands over a working secret: only to someone who could have created the key.
fn require_can_hold(
    principal: &Principal,
    org: &OrganizationRecord,
    scopes: &tfr_core::ScopeSet,
) -> ApiResult<()> {
    if scopes.iter().all(|s| principal.grants.allows_in(s, org.id)) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(ErrorBody::new(
            "you cannot rotate a key with scopes you do not hold in its organization",
        )))
    }
}

#[derive(Default)]
pub struct OrganizationKeysApi;

#[OpenApi(tag = "ApiTags::Admin")]
impl OrganizationKeysApi {
    /// Lists an organization's API keys. Needs `organizations:read` in it.
    ///
    /// Newest first, revoked and expired ones included; secrets are never listed.
    #[oai(
        path = "/api/v1/admin/organizations/:organization/api-keys",
        method = "get",
        operation_id = "listOrganizationApiKeys"
    )]
    async fn list(
        &self,
        auth: Auth,
        organization: Path<String>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<Vec<ApiKeyDto>>> {
        let org =
            organization_with(&state, &auth, req, &organization, Scope::OrganizationsRead).await?;
        ApiKeyDto::list(&state, KeyOwner::Organization(org.id)).await
    }

    /// Creates an API key owned by an organization. Needs `organizations:write` in it.
    ///
    /// The key's scopes must be ones you hold in the organization (403 otherwise). The
    /// response carries the secret; it is shown only this once.
    #[oai(
        path = "/api/v1/admin/organizations/:organization/api-keys",
        method = "post",
        operation_id = "createOrganizationApiKey"
    )]
    async fn create(
        &self,
        auth: Auth,
        organization: Path<String>,
        body: Json<CreateApiKeyRequest>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<KeyCreatedResponse> {
        let org =
            organization_with(&state, &auth, req, &organization, Scope::OrganizationsWrite).await?;
        let now = state.audit.now();
        let request = body.0.check(now)?;
        let created = request
            .create(&state, auth.principal(), KeyOwner::Organization(org.id))
            .await?;
        note_key(
            req,
            org_resource(&org, format_args!("api_key:{}", created.record.id)),
            Some(org.id),
        );
        Ok(KeyCreatedResponse::new(created, now))
    }

    /// Revokes an organization's API key. Needs `organizations:write` in it.
    #[oai(
        path = "/api/v1/admin/organizations/:organization/api-keys/:id",
        method = "delete",
        operation_id = "revokeOrganizationApiKey"
    )]
    async fn revoke(
        &self,
        auth: Auth,
        organization: Path<String>,
        id: Path<Uuid>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<KeyRevokedResponse> {
        let org =
            organization_with(&state, &auth, req, &organization, Scope::OrganizationsWrite).await?;
        revoke_owned(&state, KeyOwner::Organization(org.id), id.0).await?;
        Ok(KeyRevokedResponse::Revoked)
    }

    /// Gives an organization's API key a new secret. Needs `organizations:write` in it.
    ///
    /// You must also hold every scope of the key in the organization (403 otherwise).
    /// Same id, name, scopes and expiry; the old secret stops working. The response
    /// carries the new secret, shown only this once.
    #[oai(
        path = "/api/v1/admin/organizations/:organization/api-keys/:id/rotate",
        method = "post",
        operation_id = "rotateOrganizationApiKey"
    )]
    async fn rotate(
        &self,
        auth: Auth,
        organization: Path<String>,
        id: Path<Uuid>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<KeyRotatedResponse> {
        let org =
            organization_with(&state, &auth, req, &organization, Scope::OrganizationsWrite).await?;
        rotate_owned(&state, KeyOwner::Organization(org.id), id.0, |scopes| {
            require_can_hold(auth.principal(), &org, scopes)
        })
        .await
    }
}
