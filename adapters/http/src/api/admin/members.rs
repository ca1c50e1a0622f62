//! Organization members: who belongs to an organization, with which role template.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use tfr_core::Scope;
use tfr_ports::driven::{MembershipRecord, RoleTemplateRecord, UserRecord};
use uuid::Uuid;

use super::{DeletedResponse, organization_with};
use crate::api::ApiTags;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::state::AppState;

#[derive(Debug, Object)]
pub struct MemberDto {
    user_id: Uuid,
    /// Absent if the user vanished meanwhile.
    #[oai(skip_serializing_if_is_none)]
    username: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    email: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    display_name: Option<String>,
    /// Whether the user is disabled.
    disabled: bool,
    role_template_id: Uuid,
    #[oai(skip_serializing_if_is_none)]
    role_template: Option<String>,
    /// The scopes the role template grants in this organization.
    scopes: Vec<String>,
    /// `manual` (set through this API) or `sso` (from group mappings, re-applied at each
    /// login).
    source: String,
    created_at: DateTime<Utc>,
}

impl MemberDto {
    fn new(
        m: MembershipRecord,
        user: Option<&UserRecord>,
        template: Option<&RoleTemplateRecord>,
    ) -> Self {
        Self {
            user_id: m.user_id,
            username: user.map(|u| u.username.clone()),
            email: user.and_then(|u| u.email.clone()),
            display_name: user.and_then(|u| u.display_name.clone()),
            disabled: user.is_some_and(|u| u.disabled_at.is_some()),
            role_template_id: m.role_template_id,
            role_template: template.map(|t| t.name.clone()),
            scopes: template.map(|t| t.scopes.to_strings()).unwrap_or_default(),
            source: m.source.as_str().to_string(),
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct SetMemberRequest {
    /// A system role template or one of this organization's. You can only grant scopes
    /// you hold in this organization yourself.
    role_template_id: Uuid,
}

#[derive(Default)]
pub struct MembersApi;

#[OpenApi(tag = "ApiTags::Admin")]
impl MembersApi {
    /// Lists an organization's members. Needs `organizations:read` in it.
    ///
    /// Each with the user's name and email, the role template and its scopes.
    #[oai(
        path = "/api/v1/admin/organizations/:organization/members",
        method = "get",
        operation_id = "listMembers"
    )]
    async fn list(
        &self,
        auth: Auth,
        organization: Path<String>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<Vec<MemberDto>>> {
        let org =
            organization_with(&state, &auth, req, &organization, Scope::OrganizationsRead).await?;
        let templates: HashMap<Uuid, RoleTemplateRecord> = state
            .identity
            .templates(Some(org.id))
            .await?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        let members = state.identity.members(&org).await?;
        let mut out = Vec::with_capacity(members.len());
        for m in members {
            let user = state.identity.user(m.user_id).await.ok();
            let template = templates.get(&m.role_template_id);
            out.push(MemberDto::new(m, user.as_ref(), template));
        }
        Ok(Json(out))
    }

    /// Adds a member or changes their role template. Needs `organizations:write` in it.
    ///
    /// You can only grant scopes you hold in the organization yourself (403 otherwise).
    /// A membership set here is manual: SSO group mappings never replace it.
    #[oai(
        path = "/api/v1/admin/organizations/:organization/members/:user",
        method = "put",
        operation_id = "setMember"
    )]
    async fn set(
        &self,
        auth: Auth,
        organization: Path<String>,
        user: Path<Uuid>,
        body: Json<SetMemberRequest>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<MemberDto>> {
        let org =
            organization_with(&state, &auth, req, &organization, Scope::OrganizationsWrite).await?;
        let membership = state
            .identity
            .set_member(auth.principal(), &org, user.0, body.0.role_template_id)
            .await?;
        let user = state.identity.user(user.0).await.ok();
        let template = state
            .identity
            .template(membership.role_template_id)
            .await
            .ok();
        Ok(Json(MemberDto::new(
            membership,
            user.as_ref(),
            template.as_ref(),
        )))
    }

    /// Removes a user from an organization. Needs `organizations:write` in it.
    #[oai(
        path = "/api/v1/admin/organizations/:organization/members/:user",
        method = "delete",
        operation_id = "removeMember"
    )]
    async fn remove(
        &self,
        auth: Auth,
        organization: Path<String>,
        user: Path<Uuid>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<DeletedResponse> {
        let org =
            organization_with(&state, &auth, req, &organization, Scope::OrganizationsWrite).await?;
        state
            .identity
            .remove_member(auth.principal(), &org, user.0)
            .await?;
        Ok(DeletedResponse::Deleted)
    }
}
