//! Organizations: list, create, show, rename, delete. `{organization}` is an id or a name.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use tfr_core::Scope;
use tfr_ports::driven::{DEFAULT_ORGANIZATION_ID, OrganizationRecord};
use uuid::Uuid;

use super::{DeletedResponse, note_organization, organization_with};
use crate::access::AuditSlot;
use crate::api::ApiTags;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::state::AppState;

#[derive(Debug, Object)]
pub struct OrganizationDto {
    id: Uuid,
    /// Unique, lower-case, URL-safe; usable wherever an organization id is.
    name: String,
    display_name: String,
    /// The organization every installation starts with (it cannot be deleted).
    default: bool,
    created_at: DateTime<Utc>,
}

impl From<OrganizationRecord> for OrganizationDto {
    fn from(o: OrganizationRecord) -> Self {
        Self {
            default: o.id == DEFAULT_ORGANIZATION_ID,
            id: o.id,
            name: o.name,
            display_name: o.display_name,
            created_at: o.created_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct CreateOrganizationRequest {
    /// 1-63 lower-case letters, digits and inner hyphens.
    name: String,
    /// Shown in the UI; defaults to the name.
    display_name: Option<String>,
}

#[derive(Debug, Object)]
pub struct UpdateOrganizationRequest {
    /// 1-200 printable characters.
    display_name: Option<String>,
}

#[derive(ApiResponse)]
enum OrganizationCreatedResponse {
    #[oai(status = 201)]
    Created(Json<OrganizationDto>),
}

#[derive(Default)]
pub struct OrganizationsApi;

#[OpenApi(tag = "ApiTags::Admin")]
impl OrganizationsApi {
    /// Lists the organizations, by name. Needs `organizations:read` (global).
    #[oai(
        path = "/api/v1/admin/organizations",
        method = "get",
        operation_id = "listOrganizations"
    )]
    async fn list(
        &self,
        auth: Auth,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<Vec<OrganizationDto>>> {
        auth.require_global(Scope::OrganizationsRead)?;
        let orgs = state.identity.list_organizations().await?;
        Ok(Json(orgs.into_iter().map(OrganizationDto::from).collect()))
    }

    /// Creates an organization. Needs `organizations:write` (global).
    #[oai(
        path = "/api/v1/admin/organizations",
        method = "post",
        operation_id = "createOrganization"
    )]
    async fn create(
        &self,
        auth: Auth,
        body: Json<CreateOrganizationRequest>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<OrganizationCreatedResponse> {
        auth.require_global(Scope::OrganizationsWrite)?;
        let org = state
            .identity
            .create_organization(&body.0.name, body.0.display_name.as_deref())
            .await?;
        AuditSlot::note(req, |n| {
            n.resource = Some(format!("organization:{}", org.name));
            n.organization_id = Some(org.id);
        });
        Ok(OrganizationCreatedResponse::Created(Json(org.into())))
    }

    /// Shows one organization. Needs `organizations:read` in it.
    #[oai(
        path = "/api/v1/admin/organizations/:organization",
        method = "get",
        operation_id = "getOrganization"
    )]
    async fn get(
        &self,
        auth: Auth,
        organization: Path<String>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<OrganizationDto>> {
        let org =
            organization_with(&state, &auth, req, &organization, Scope::OrganizationsRead).await?;
        Ok(Json(org.into()))
    }

    /// Changes an organization's display name. Needs `organizations:write` in it.
    #[oai(
        path = "/api/v1/admin/organizations/:organization",
        method = "patch",
        operation_id = "updateOrganization"
    )]
    async fn update(
        &self,
        auth: Auth,
        organization: Path<String>,
        body: Json<UpdateOrganizationRequest>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<OrganizationDto>> {
        let org =
            organization_with(&state, &auth, req, &organization, Scope::OrganizationsWrite).await?;
        let org = match body.0.display_name {
            Some(display_name) => {
                state
                    .identity
                    .rename_organization(&org, &display_name)
                    .await?
            }
            None => org,
        };
        Ok(Json(org.into()))
    }

    /// Deletes an organization. Needs `organizations:write` (global).
    ///
    /// Its members and role templates go with it. 409 while it still owns namespaces or
    /// API keys (move or revoke them first); the default organization cannot be deleted.
    #[oai(
        path = "/api/v1/admin/organizations/:organization",
        method = "delete",
        operation_id = "deleteOrganization"
    )]
    async fn delete(
        &self,
        auth: Auth,
        organization: Path<String>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<DeletedResponse> {
        auth.require_global(Scope::OrganizationsWrite)?;
        let org = state.identity.organization(&organization).await?;
        note_organization(req, &organization, &org);
        state.identity.delete_organization(&org).await?;
        Ok(DeletedResponse::Deleted)
    }
}
