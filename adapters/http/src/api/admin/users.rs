//! Users: list and search, details with memberships, global role and disabling, and
//! their API keys.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{Object, OpenApi};
use tfr_core::Scope;
use tfr_ports::driven::{KeyOwner, MembershipRecord, UserQuery, UserRecord};
use tfr_ports::service::UserChanges;
use uuid::Uuid;

use super::{DeletedResponse, organization_names, page};
use crate::api::ApiTags;
use crate::api::keys::{ApiKeyDto, revoke_owned};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::state::AppState;

const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 500;

#[derive(Debug, Object)]
pub struct UserDto {
    id: Uuid,
    username: String,
    #[oai(skip_serializing_if_is_none)]
    email: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    display_name: Option<String>,
    /// The SSO provider the user signs in with.
    identity_provider: String,
    /// The provider's stable subject for the user.
    subject: String,
    /// A system role template held in every organization.
    #[oai(skip_serializing_if_is_none)]
    global_role_id: Option<Uuid>,
    disabled: bool,
    created_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    last_login_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    disabled_at: Option<DateTime<Utc>>,
}

impl From<UserRecord> for UserDto {
    fn from(u: UserRecord) -> Self {
        Self {
            id: u.id,
            username: u.username,
            email: u.email,
            display_name: u.display_name,
            identity_provider: u.identity_provider,
            subject: u.subject,
            global_role_id: u.global_role_id,
            disabled: u.disabled_at.is_some(),
            created_at: u.created_at,
            last_login_at: u.last_login_at,
            disabled_at: u.disabled_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct UserPageDto {
    items: Vec<UserDto>,
    /// Users matching the search, over all pages.
    total: u64,
    limit: u64,
    offset: u64,
}

/// A user's membership of one organization.
#[derive(Debug, Object)]
pub struct UserMembershipDto {
    organization_id: Uuid,
    /// The organization's name (absent if it vanished meanwhile).
    #[oai(skip_serializing_if_is_none)]
    organization: Option<String>,
    role_template_id: Uuid,
    #[oai(skip_serializing_if_is_none)]
    role_template: Option<String>,
    /// `manual` (set through this API) or `sso` (from group mappings at login).
    source: String,
    created_at: DateTime<Utc>,
}

#[derive(Debug, Object)]
pub struct UserDetailDto {
    #[oai(flatten)]
    user: UserDto,
    /// The global role template's name.
    #[oai(skip_serializing_if_is_none)]
    global_role: Option<String>,
    memberships: Vec<UserMembershipDto>,
}

/// Only the fields present change.
#[derive(Debug, Object)]
pub struct UpdateUserRequest {
    /// A system role template held in every organization; `null` removes it. You can
    /// only grant scopes you hold everywhere yourself.
    global_role_id: MaybeUndefined<Uuid>,
    /// Disabling stops the user's sign-ins, sessions and keys at once; you cannot
    /// disable yourself.
    disabled: Option<bool>,
}

#[derive(Default)]
pub struct UsersApi;

impl UsersApi {
    async fn memberships(
        state: &AppState,
        memberships: Vec<MembershipRecord>,
    ) -> ApiResult<Vec<UserMembershipDto>> {
        let organizations = organization_names(state).await?;
        let mut templates: HashMap<Uuid, Option<String>> = HashMap::new();
        let mut out = Vec::with_capacity(memberships.len());
        for m in memberships {
            let template = match templates.get(&m.role_template_id) {
                Some(name) => name.clone(),
                None => {
                    let name = state
                        .identity
                        .template(m.role_template_id)
                        .await
                        .ok()
                        .map(|t| t.name);
                    templates.insert(m.role_template_id, name.clone());
                    name
                }
            };
            out.push(UserMembershipDto {
                organization_id: m.organization_id,
                organization: organizations.get(&m.organization_id).cloned(),
                role_template_id: m.role_template_id,
                role_template: template,
                source: m.source.as_str().to_string(),
                created_at: m.created_at,
            });
        }
        Ok(out)
    }
}

#[OpenApi(tag = "ApiTags::Admin")]
impl UsersApi {
    /// Lists users, by username. Needs `users:read` (global).
    ///
    /// `search` matches a substring of the username, email or display name
    /// (case-insensitive); `limit` defaults to 50 (at most 500).
    #[oai(
        path = "/api/v1/admin/users",
        method = "get",
        operation_id = "listUsers"
    )]
    async fn list(
        &self,
        auth: Auth,
        search: Query<Option<String>>,
        limit: Query<Option<u64>>,
        offset: Query<Option<u64>>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<UserPageDto>> {
        auth.require_global(Scope::UsersRead)?;
        let (limit, offset) = page(limit.0, offset.0, DEFAULT_LIMIT, MAX_LIMIT);
        let (users, total) = state
            .identity
            .list_users(UserQuery {
                search: search.0.filter(|s| !s.trim().is_empty()),
                offset,
                limit,
            })
            .await?;
        Ok(Json(UserPageDto {
            items: users.into_iter().map(UserDto::from).collect(),
            total,
            limit,
            offset,
        }))
    }

    /// Shows one user with their memberships. Needs `users:read` (global).
    ///
    /// Includes the global role and every organization membership.
    #[oai(
        path = "/api/v1/admin/users/:id",
        method = "get",
        operation_id = "getUser"
    )]
    async fn get(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<UserDetailDto>> {
        auth.require_global(Scope::UsersRead)?;
        let user = state.identity.user(id.0).await?;
        let global_role = match user.global_role_id {
            Some(role) => state.identity.template(role).await.ok().map(|t| t.name),
            None => None,
        };
        let memberships = state.identity.memberships_of(user.id).await?;
        Ok(Json(UserDetailDto {
            memberships: Self::memberships(&state, memberships).await?,
            global_role,
            user: user.into(),
        }))
    }

    /// Changes a user's global role or disabled flag. Needs `users:write` (global).
    ///
    /// A global role must be a system role template, and you can only grant scopes you
    /// hold everywhere yourself (403 otherwise).
    #[oai(
        path = "/api/v1/admin/users/:id",
        method = "patch",
        operation_id = "updateUser"
    )]
    async fn update(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<UpdateUserRequest>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<UserDto>> {
        let principal = auth.require_global(Scope::UsersWrite)?;
        let changes = UserChanges {
            global_role_id: match body.0.global_role_id {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(role) => Some(Some(role)),
            },
            disabled: body.0.disabled,
        };
        let user = state.identity.update_user(principal, id.0, changes).await?;
        Ok(Json(user.into()))
    }

    /// Lists a user's API keys. Needs `users:read` (global).
    ///
    /// Newest first, revoked and expired ones included; secrets are never listed.
    #[oai(
        path = "/api/v1/admin/users/:id/api-keys",
        method = "get",
        operation_id = "listUserApiKeys"
    )]
    async fn keys(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<Vec<ApiKeyDto>>> {
        auth.require_global(Scope::UsersRead)?;
        let user = state.identity.user(id.0).await?;
        ApiKeyDto::list(&state, KeyOwner::User(user.id)).await
    }

    /// Revokes one of a user's API keys. Needs `users:write` (global).
    #[oai(
        path = "/api/v1/admin/users/:id/api-keys/:key",
        method = "delete",
        operation_id = "revokeUserApiKey"
    )]
    async fn revoke_key(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        key: Path<Uuid>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<DeletedResponse> {
        auth.require_global(Scope::UsersWrite)?;
        let user = state.identity.user(id.0).await?;
        state
            .identity
            .require_outranks_user(auth.principal(), &user)
            .await?;
        revoke_owned(&state, KeyOwner::User(id.0), key.0).await?;
        Ok(DeletedResponse::Deleted)
    }
}
