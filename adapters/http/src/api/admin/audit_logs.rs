//! The audit log, read-only: nothing in the API changes or deletes a row.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use tfr_core::Scope;
use tfr_ports::driven::{AuditOutcome, AuditQuery, AuditRecord};
use tfr_ports::service::ServiceError;
use uuid::Uuid;

use super::page;
use crate::api::ApiTags;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = tfr_ports::service::audit_log::MAX_PAGE;

#[derive(Debug, Object)]
pub struct AuditRecordDto {
    id: Uuid,
    at: DateTime<Utc>,
    /// `user:<id>` or `key:<id>`; absent when no credential was accepted.
    #[oai(skip_serializing_if_is_none)]
    principal: Option<String>,
    /// The username or key name.
    #[oai(skip_serializing_if_is_none)]
    principal_name: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    organization_id: Option<Uuid>,
    /// Dotted verb: `module.publish`, `api_key.create`, `auth.login`...
    action: String,
    /// What was acted on: `module:acme/net/aws/1.0.0`, `organization:platform/api_key:<id>`...
    resource: String,
    /// `success`, `denied` or `failed`.
    outcome: String,
    /// The HTTP status answered.
    status: u16,
    #[oai(skip_serializing_if_is_none)]
    client_ip: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    request_id: Option<String>,
    /// A short reason for denied and failed outcomes.
    #[oai(skip_serializing_if_is_none)]
    detail: Option<String>,
}

impl From<AuditRecord> for AuditRecordDto {
    fn from(r: AuditRecord) -> Self {
        Self {
            id: r.id,
            at: r.at,
            principal: r.principal,
            principal_name: r.principal_name,
            organization_id: r.organization_id,
            action: r.action,
            resource: r.resource,
            outcome: r.outcome.as_str().to_string(),
            status: r.status,
            client_ip: r.client_ip,
            request_id: r.request_id,
            detail: r.detail,
        }
    }
}

#[derive(Debug, Object)]
pub struct AuditLogPageDto {
    /// Newest first.
    items: Vec<AuditRecordDto>,
    /// Rows matching the filters, over all pages.
    total: u64,
    limit: u64,
    offset: u64,
}

fn non_blank(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

#[derive(Default)]
pub struct AuditLogsApi;

#[OpenApi(tag = "ApiTags::Admin")]
impl AuditLogsApi {
    /// Searches the audit log, newest first. Needs `audit:read` (global).
    ///
    /// Filters: `action` (exact), `resource` (prefix), `principal` (`user:<id>` or
    /// `key:<id>`), `outcome` (`success`, `denied` or `failed`), `organization` (id or
    /// name), `since` (inclusive) and `until` (exclusive) as RFC 3339 times. `limit`
    /// defaults to 100 (at most 500).
    #[allow(clippy::too_many_arguments)]
    #[oai(
        path = "/api/v1/admin/audit-logs",
        method = "get",
        operation_id = "listAuditLogs"
    )]
    async fn list(
        &self,
        auth: Auth,
        action: Query<Option<String>>,
        resource: Query<Option<String>>,
        principal: Query<Option<String>>,
        outcome: Query<Option<String>>,
        organization: Query<Option<String>>,
        since: Query<Option<DateTime<Utc>>>,
        until: Query<Option<DateTime<Utc>>>,
        limit: Query<Option<u64>>,
        offset: Query<Option<u64>>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<AuditLogPageDto>> {
        auth.require_global(Scope::AuditRead)?;
        let outcome = match non_blank(outcome.0) {
            Some(o) => Some(AuditOutcome::parse(o.trim()).ok_or_else(|| {
                ApiError::bad_request("outcome", "outcome is success, denied or failed")
            })?),
            None => None,
        };
        // An id is taken as is (rows outlive a deleted organization); a name must exist.
        let organization_id = match non_blank(organization.0) {
            Some(o) => match Uuid::parse_str(o.trim()) {
                Ok(id) => Some(id),
                Err(_) => match state.identity.organization(o.trim()).await {
                    Ok(org) => Some(org.id),
                    Err(ServiceError::NotFound(_)) => {
                        return Err(ApiError::bad_request(
                            "organization",
                            format!(
                                "no organization {}",
                                o.trim().chars().take(64).collect::<String>()
                            ),
                        ));
                    }
                    Err(err) => return Err(err.into()),
                },
            },
            None => None,
        };
        let (limit, offset) = page(limit.0, offset.0, DEFAULT_LIMIT, MAX_LIMIT);
        let (rows, total) = state
            .audit
            .query(AuditQuery {
                action: non_blank(action.0),
                resource: non_blank(resource.0),
                principal: non_blank(principal.0),
                outcome,
                organization_id,
                since: since.0,
                until: until.0,
                offset,
                limit,
            })
            .await?;
        Ok(Json(AuditLogPageDto {
            items: rows.into_iter().map(AuditRecordDto::from).collect(),
            total,
            limit,
            offset,
        }))
    }
}
