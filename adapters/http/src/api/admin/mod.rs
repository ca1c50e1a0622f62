//! The admin API (`/api/v1/admin/...`): users, organizations, members, role templates,
//! namespaces, organization API keys, the audit log and provider mirrors. One area per
//! file.
//!
//! The RBAC middleware already enforced each route's row of the route table; every
//! handler checks the scope again against the principal (never trusting only the table),
//! in the organization the request turned out to be about.

mod audit_logs;
mod members;
mod mirrors;
mod namespaces;
mod organization_keys;
mod organizations;
mod role_templates;
mod users;

use std::collections::HashMap;

use poem::Request;
use poem_openapi::ApiResponse;
use tfr_core::Scope;
use tfr_ports::driven::OrganizationRecord;
use uuid::Uuid;

use crate::access::AuditSlot;
use crate::access::routes::MatchedRoute;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::state::AppState;

pub type AdminApis = (
    users::UsersApi,
    organizations::OrganizationsApi,
    members::MembersApi,
    role_templates::RoleTemplatesApi,
    namespaces::NamespacesApi,
    organization_keys::OrganizationKeysApi,
    audit_logs::AuditLogsApi,
    mirrors::MirrorsApi,
);

pub fn apis() -> AdminApis {
    AdminApis::default()
}

/// The `{organization}` path parameter (an id or a name), with `scope` checked there.
/// A mutation's audit row then names the organization by its name and id.
async fn organization_with(
    state: &AppState,
    auth: &Auth,
    req: &Request,
    id_or_name: &str,
    scope: Scope,
) -> ApiResult<OrganizationRecord> {
    let org = state.identity.organization(id_or_name).await?;
    auth.principal().require_in(scope, org.id)?;
    note_organization(req, id_or_name, &org);
    Ok(org)
}

/// Rewrites the route's audit resource (`organization:{organization}/...`) to use the
/// organization's name however the path named it, and records its id.
fn note_organization(req: &Request, id_or_name: &str, org: &OrganizationRecord) {
    let resource = req.data::<MatchedRoute>().map(MatchedRoute::resource);
    AuditSlot::note(req, |n| {
        n.organization_id = Some(org.id);
        let prefix = format!("organization:{id_or_name}");
        if let Some(rest) = resource.as_deref().and_then(|r| r.strip_prefix(&prefix))
            && (rest.is_empty() || rest.starts_with('/'))
            && n.resource.is_none()
        {
            n.resource = Some(format!("organization:{}{rest}", org.name));
        }
    });
}

/// The audit resource of something inside an organization.
fn org_resource(org: &OrganizationRecord, inner: impl std::fmt::Display) -> String {
    format!("organization:{}/{inner}", org.name)
}

/// Names the audit row's resource.
fn note_resource(req: &Request, resource: String) {
    AuditSlot::note(req, |n| n.resource = Some(resource));
}

/// Every organization's name, by id.
async fn organization_names(state: &AppState) -> ApiResult<HashMap<Uuid, String>> {
    Ok(state
        .identity
        .list_organizations()
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect())
}

/// `limit` (`default` when absent, clamped to 1..=`max`) and `offset` (0 when absent).
fn page(limit: Option<u64>, offset: Option<u64>, default: u64, max: u64) -> (u64, u64) {
    (limit.unwrap_or(default).clamp(1, max), offset.unwrap_or(0))
}

#[derive(ApiResponse)]
pub enum DeletedResponse {
    /// Done; nothing to return.
    #[oai(status = 204)]
    Deleted,
}
