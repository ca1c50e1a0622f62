//! Namespaces and the organizations that own them: list, create, move, make public.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use tfr_core::Scope;
use tfr_ports::driven::NamespaceRecord;
use uuid::Uuid;

use super::{note_resource, org_resource, organization_names, organization_with};
use crate::access::AuditSlot;
use crate::api::ApiTags;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::state::AppState;

#[derive(Debug, Object)]
pub struct NamespaceDto {
    id: Uuid,
    name: String,
    organization_id: Uuid,
    /// The owning organization's name.
    #[oai(skip_serializing_if_is_none)]
    organization: Option<String>,
    /// Readable without a credential even when anonymous read is off.
    public: bool,
    created_at: DateTime<Utc>,
}

impl NamespaceDto {
    fn new(ns: NamespaceRecord, organization: Option<String>) -> Self {
        Self {
            id: ns.id,
            name: ns.name,
            organization_id: ns.organization_id,
            organization,
            public: ns.public,
            created_at: ns.created_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct CreateNamespaceRequest {
    /// A registry namespace name (letters, digits, inner hyphens and underscores).
    name: String,
    /// Readable without a credential even when anonymous read is off.
    #[oai(default)]
    public: bool,
}

/// Only the fields present change.
#[derive(Debug, Object)]
pub struct UpdateNamespaceRequest {
    /// Move the namespace to this organization (id or name); needs
    /// `organizations:write` there too.
    organization: Option<String>,
    public: Option<bool>,
}

#[derive(ApiResponse)]
enum NamespaceCreatedResponse {
    #[oai(status = 201)]
    Created(Json<NamespaceDto>),
}

#[derive(Default)]
pub struct NamespacesApi;

#[OpenApi(tag = "ApiTags::Admin")]
impl NamespacesApi {
    /// Lists every namespace with its organization. Needs `organizations:read` (global).
    #[oai(
        path = "/api/v1/admin/namespaces",
        method = "get",
        operation_id = "listNamespaces"
    )]
    async fn list_all(
        &self,
        auth: Auth,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<Vec<NamespaceDto>>> {
        auth.require_global(Scope::OrganizationsRead)?;
        let names = organization_names(&state).await?;
        let namespaces = state.identity.list_namespaces(None).await?;
        Ok(Json(
            namespaces
                .into_iter()
                .map(|ns| {
                    let org = names.get(&ns.organization_id).cloned();
                    NamespaceDto::new(ns, org)
                })
                .collect(),
        ))
    }

    /// Lists an organization's namespaces. Needs `organizations:read` in it.
    #[oai(
        path = "/api/v1/admin/organizations/:organization/namespaces",
        method = "get",
        operation_id = "listOrganizationNamespaces"
    )]
    async fn list(
        &self,
        auth: Auth,
        organization: Path<String>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<Vec<NamespaceDto>>> {
        let org =
            organization_with(&state, &auth, req, &organization, Scope::OrganizationsRead).await?;
        let namespaces = state.identity.list_namespaces(Some(org.id)).await?;
        Ok(Json(
            namespaces
                .into_iter()
                .map(|ns| NamespaceDto::new(ns, Some(org.name.clone())))
                .collect(),
        ))
    }

    /// Creates a namespace owned by an organization. Needs `organizations:write` in it.
    ///
    /// 409 when the name exists (names are case-insensitive).
    #[oai(
        path = "/api/v1/admin/organizations/:organization/namespaces",
        method = "post",
        operation_id = "createNamespace"
    )]
    async fn create(
        &self,
        auth: Auth,
        organization: Path<String>,
        body: Json<CreateNamespaceRequest>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<NamespaceCreatedResponse> {
        let org =
            organization_with(&state, &auth, req, &organization, Scope::OrganizationsWrite).await?;
        let ns = state
            .identity
            .create_namespace(&org, &body.0.name, body.0.public)
            .await?;
        note_resource(
            req,
            org_resource(&org, format_args!("namespace:{}", ns.name)),
        );
        Ok(NamespaceCreatedResponse::Created(Json(NamespaceDto::new(
            ns,
            Some(org.name),
        ))))
    }

    /// Moves a namespace or changes its public flag. Needs `organizations:write` there.
    ///
    /// `organizations:write` is needed in the namespace's organization, and to move it in
    /// the target organization too.
    #[oai(
        path = "/api/v1/admin/namespaces/:namespace",
        method = "patch",
        operation_id = "updateNamespace"
    )]
    async fn update(
        &self,
        auth: Auth,
        namespace: Path<String>,
        body: Json<UpdateNamespaceRequest>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<NamespaceDto>> {
        let principal = auth.principal();
        let current = state.identity.namespace(&namespace).await?;
        // Checked against the namespace's owner as it is now (the service checks the
        // target organization of a move).
        principal.require_in(Scope::OrganizationsWrite, current.organization_id)?;
        let target = match body.0.organization.as_deref() {
            Some(id_or_name) => Some(state.identity.organization(id_or_name).await?),
            None => None,
        };
        let ns = state
            .identity
            .update_namespace(principal, &current.name, target.as_ref(), body.0.public)
            .await?;
        let moved_to = target
            .as_ref()
            .filter(|t| t.id != current.organization_id)
            .map(|t| t.name.clone());
        AuditSlot::note(req, |n| {
            n.resource = Some(format!("namespace:{}", ns.name));
            n.organization_id = Some(current.organization_id);
            if let Some(to) = moved_to {
                n.detail = Some(format!("moved to organization {to}"));
            }
        });
        let org_name = match &target {
            Some(t) => Some(t.name.clone()),
            None => state
                .identity
                .organization(&ns.organization_id.to_string())
                .await
                .ok()
                .map(|o| o.name),
        };
        Ok(Json(NamespaceDto::new(ns, org_name)))
    }
}
