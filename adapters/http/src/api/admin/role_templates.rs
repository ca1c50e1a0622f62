//! Role templates: named scope sets given to members. The system ones (viewer, publisher,
//! admin, auditor) are read-only; organizations add their own.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use tfr_core::Scope;
use tfr_ports::driven::RoleTemplateRecord;
use uuid::Uuid;

use super::{DeletedResponse, note_resource, org_resource, organization_with};
use crate::api::ApiTags;
use crate::api::keys::parse_scopes;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::state::AppState;

#[derive(Debug, Object)]
pub struct RoleTemplateDto {
    id: Uuid,
    /// Absent for the system templates.
    #[oai(skip_serializing_if_is_none)]
    organization_id: Option<Uuid>,
    name: String,
    description: String,
    scopes: Vec<String>,
    /// A system template (read-only, usable in every organization and as a global role).
    system: bool,
    created_at: DateTime<Utc>,
}

impl From<RoleTemplateRecord> for RoleTemplateDto {
    fn from(t: RoleTemplateRecord) -> Self {
        Self {
            system: t.is_system(),
            id: t.id,
            organization_id: t.organization_id,
            name: t.name,
            description: t.description,
            scopes: t.scopes.to_strings(),
            created_at: t.created_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct RoleTemplateRequest {
    /// 1-64 characters, unique in the organization; the system names are reserved.
    name: String,
    /// At most 500 characters.
    #[oai(default)]
    description: String,
    /// At least one scope; only scopes you hold in the organization yourself.
    scopes: Vec<String>,
}

#[derive(ApiResponse)]
enum RoleTemplateCreatedResponse {
    #[oai(status = 201)]
    Created(Json<RoleTemplateDto>),
}

#[derive(Default)]
pub struct RoleTemplatesApi;

#[OpenApi(tag = "ApiTags::Admin")]
impl RoleTemplatesApi {
    /// Lists the system role templates. Any signed-in user.
    ///
    /// What can be given as a global role, or in any organization.
    #[oai(
        path = "/api/v1/admin/role-templates",
        method = "get",
        operation_id = "listSystemRoleTemplates"
    )]
    async fn list_system(
        &self,
        _auth: Auth,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<Vec<RoleTemplateDto>>> {
        let templates = state.identity.templates(None).await?;
        Ok(Json(
            templates
                .into_iter()
                .filter(RoleTemplateRecord::is_system)
                .map(RoleTemplateDto::from)
                .collect(),
        ))
    }

    /// Lists an organization's role templates. Needs `organizations:read` in it.
    ///
    /// The system templates and the organization's own.
    #[oai(
        path = "/api/v1/admin/organizations/:organization/role-templates",
        method = "get",
        operation_id = "listRoleTemplates"
    )]
    async fn list(
        &self,
        auth: Auth,
        organization: Path<String>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<Vec<RoleTemplateDto>>> {
        let org =
            organization_with(&state, &auth, req, &organization, Scope::OrganizationsRead).await?;
        let templates = state.identity.templates(Some(org.id)).await?;
        Ok(Json(
            templates.into_iter().map(RoleTemplateDto::from).collect(),
        ))
    }

    /// Creates a role template in an organization. Needs `organizations:write` in it.
    ///
    /// Only scopes you hold in the organization yourself (403 otherwise).
    #[oai(
        path = "/api/v1/admin/organizations/:organization/role-templates",
        method = "post",
        operation_id = "createRoleTemplate"
    )]
    async fn create(
        &self,
        auth: Auth,
        organization: Path<String>,
        body: Json<RoleTemplateRequest>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<RoleTemplateCreatedResponse> {
        let org =
            organization_with(&state, &auth, req, &organization, Scope::OrganizationsWrite).await?;
        let scopes = parse_scopes(&body.0.scopes)?;
        let template = state
            .identity
            .create_template(
                auth.principal(),
                &org,
                &body.0.name,
                &body.0.description,
                scopes,
            )
            .await?;
        note_resource(
            req,
            org_resource(&org, format_args!("role_template:{}", template.id)),
        );
        Ok(RoleTemplateCreatedResponse::Created(Json(template.into())))
    }

    /// Replaces a role template. Needs `organizations:write` in its organization.
    ///
    /// Name, description and scopes, each only scopes you hold there (403 otherwise).
    /// Takes effect on the next request of every holder. System templates are read-only
    /// (403).
    #[oai(
        path = "/api/v1/admin/organizations/:organization/role-templates/:id",
        method = "put",
        operation_id = "updateRoleTemplate"
    )]
    async fn update(
        &self,
        auth: Auth,
        organization: Path<String>,
        id: Path<Uuid>,
        body: Json<RoleTemplateRequest>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<RoleTemplateDto>> {
        let org =
            organization_with(&state, &auth, req, &organization, Scope::OrganizationsWrite).await?;
        let scopes = parse_scopes(&body.0.scopes)?;
        let template = state
            .identity
            .update_template(
                auth.principal(),
                &org,
                id.0,
                &body.0.name,
                &body.0.description,
                scopes,
            )
            .await?;
        Ok(Json(template.into()))
    }

    /// Deletes an organization's role template. Needs `organizations:write` in it.
    ///
    /// 409 while a member holds it; system templates are read-only (403).
    #[oai(
        path = "/api/v1/admin/organizations/:organization/role-templates/:id",
        method = "delete",
        operation_id = "deleteRoleTemplate"
    )]
    async fn delete(
        &self,
        auth: Auth,
        organization: Path<String>,
        id: Path<Uuid>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<DeletedResponse> {
        let org =
            organization_with(&state, &auth, req, &organization, Scope::OrganizationsWrite).await?;
        state.identity.delete_template(&org, id.0).await?;
        Ok(DeletedResponse::Deleted)
    }
}
