//! The caller's own API keys: list, create, revoke, rotate. The key DTOs and the request
//! parsing here are shared with the organization keys of the admin API.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use tfr_core::{Scope, ScopeSet};
use tfr_ports::driven::{ApiKeyRecord, KeyOwner};
use tfr_ports::service::{NewApiKey, Principal};
use uuid::Uuid;

use crate::access::AuditSlot;
use crate::api::ApiTags;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

/// Longest expiry `expires_in_days` accepts (ten years).
const MAX_EXPIRY_DAYS: u32 = 3650;

/// An API key as listed: never its secret, never its hash.
#[derive(Debug, Object)]
pub struct ApiKeyDto {
    id: Uuid,
    name: String,
    /// The first characters of the secret, to recognize it (`tfr_000012`).
    prefix: String,
    /// `user`, `organization` or `system`.
    owner_type: String,
    /// The user or organization id (absent for system keys).
    #[oai(skip_serializing_if_is_none)]
    owner_id: Option<Uuid>,
    scopes: Vec<String>,
    /// `active`, `expired` or `revoked`.
    status: String,
    created_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    expires_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    last_used_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    revoked_at: Option<DateTime<Utc>>,
}

impl ApiKeyDto {
    pub fn new(key: &ApiKeyRecord, now: DateTime<Utc>) -> Self {
        let (owner_type, owner_id) = match key.owner {
            KeyOwner::System => ("system", None),
            KeyOwner::User(id) => ("user", Some(id)),
            KeyOwner::Organization(id) => ("organization", Some(id)),
        };
        let status = if key.revoked_at.is_some() {
            "revoked"
        } else if key.expires_at.is_some_and(|at| at <= now) {
            "expired"
        } else {
            "active"
        };
        Self {
            id: key.id,
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            owner_type: owner_type.into(),
            owner_id,
            scopes: key.scopes.to_strings(),
            status: status.into(),
            created_at: key.created_at,
            expires_at: key.expires_at,
            last_used_at: key.last_used_at,
            revoked_at: key.revoked_at,
        }
    }

    /// `owner`'s keys as the service lists them (never a secret).
    pub async fn list(state: &AppState, owner: KeyOwner) -> ApiResult<Json<Vec<Self>>> {
        let keys = state.identity.keys(owner).await?;
        let now = state.audit.now();
        Ok(Json(keys.iter().map(|k| Self::new(k, now)).collect()))
    }
}

/// A key just created or rotated: the secret is shown here once and never again.
#[derive(Debug, Object)]
pub struct NewApiKeyDto {
    key: ApiKeyDto,
    /// The whole key (`tfr_...`): send it as `Authorization: Bearer <secret>`.
    secret: String,
}

impl NewApiKeyDto {
    pub fn new(created: NewApiKey, now: DateTime<Utc>) -> Self {
        Self {
            key: ApiKeyDto::new(&created.record, now),
            secret: created.secret,
        }
    }
}

#[derive(Debug, Object)]
pub struct CreateApiKeyRequest {
    /// 1-100 characters, to recognize the key later.
    name: String,
    /// Scope names (`modules:read`, `modules:write`, ...), within what the owner holds.
    scopes: Vec<String>,
    /// When the key stops working (RFC 3339). At most one of `expires_at` and
    /// `expires_in_days`; neither means the key does not expire.
    expires_at: Option<DateTime<Utc>>,
    /// Days from now until the key stops working (1-3650).
    expires_in_days: Option<u32>,
}

/// A checked key request.
pub struct KeyRequest {
    pub name: String,
    pub scopes: ScopeSet,
    pub expires_at: Option<DateTime<Utc>>,
}

impl KeyRequest {
    /// Creates the key for `owner`, on `principal`'s authority.
    pub async fn create(
        self,
        state: &AppState,
        principal: &Principal,
        owner: KeyOwner,
    ) -> ApiResult<NewApiKey> {
        Ok(state
            .identity
            .create_key(principal, owner, &self.name, self.scopes, self.expires_at)
            .await?)
    }
}

impl CreateApiKeyRequest {
    pub fn check(self, now: DateTime<Utc>) -> ApiResult<KeyRequest> {
        let expires_at = match (self.expires_at, self.expires_in_days) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "expires_at",
                    "give expires_at or expires_in_days, not both",
                ));
            }
            (Some(at), None) => Some(at),
            (None, Some(days)) if (1..=MAX_EXPIRY_DAYS).contains(&days) => {
                Some(now + Duration::days(i64::from(days)))
            }
            (None, Some(_)) => {
                return Err(ApiError::bad_request(
                    "expires_in_days",
                    format!("expires_in_days must be 1-{MAX_EXPIRY_DAYS}"),
                ));
            }
            (None, None) => None,
        };
        Ok(KeyRequest {
            name: self.name,
            scopes: parse_scopes(&self.scopes)?,
            expires_at,
        })
    }
}

/// Scope names to a set; an unknown name is a 400 with check `scopes`.
pub fn parse_scopes(names: &[String]) -> ApiResult<ScopeSet> {
    let mut scopes = Vec::with_capacity(names.len());
    for name in names {
        let scope = Scope::from_str(name).map_err(|_| {
            let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request(
                "scopes",
                format!(
                    "unknown scope {:?}; known scopes: {}",
                    name.chars().take(64).collect::<String>(),
                    known.join(", ")
                ),
            )
        })?;
        scopes.push(scope);
    }
    Ok(ScopeSet::new(scopes))
}

/// A request acting through an API key cannot hand out (or recover, by rotating) a key
/// with more than that key itself may do.
pub fn require_within_own(principal: &Principal, scopes: &ScopeSet) -> ApiResult<()> {
    if scopes.is_within(&principal.grants.scopes_anywhere()) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(ErrorBody::new(
            "a key's scopes must be within what this credential may do",
        )))
    }
}

/// A revoked key stays revoked: rotating it is a conflict.
fn require_rotatable(key: &ApiKeyRecord) -> ApiResult<()> {
    if key.revoked_at.is_some() {
        return Err(ApiError::Conflict(ErrorBody::new(
            "a revoked key cannot be rotated; create a new one",
        )));
    }
    Ok(())
}

/// The audit row names the key (never its secret).
pub fn note_key(req: &Request, resource: String, organization_id: Option<Uuid>) {
    AuditSlot::note(req, |n| {
        n.resource = Some(resource);
        if organization_id.is_some() {
            n.organization_id = organization_id;
        }
    });
}

/// Revokes `owner`'s key `id`; revoking a revoked key changes nothing.
pub async fn revoke_owned(state: &AppState, owner: KeyOwner, id: Uuid) -> ApiResult<()> {
    let key = state.identity.owned_key(owner, id).await?;
    if key.revoked_at.is_none() {
        state.identity.revoke_key(key).await?;
    }
    Ok(())
}

/// Gives `owner`'s key `id` a new secret, once `may_hold` accepts its scopes (a revoked
/// key is a conflict).
pub async fn rotate_owned(
    state: &AppState,
    owner: KeyOwner,
    id: Uuid,
    may_hold: impl FnOnce(&ScopeSet) -> ApiResult<()>,
) -> ApiResult<KeyRotatedResponse> {
    let key = state.identity.owned_key(owner, id).await?;
    require_rotatable(&key)?;
    may_hold(&key.scopes)?;
    let rotated = state.identity.rotate_key(&key).await?;
    Ok(KeyRotatedResponse::Rotated(
        Json(NewApiKeyDto::new(rotated, state.audit.now())),
        NO_STORE.into(),
    ))
}

/// `Cache-Control` for responses that carry a secret.
const NO_STORE: &str = "no-store";

#[derive(ApiResponse)]
pub enum KeyCreatedResponse {
    /// The key, with its secret (shown only this once).
    #[oai(status = 201)]
    Created(Json<NewApiKeyDto>, #[oai(header = "Cache-Control")] String),
}

impl KeyCreatedResponse {
    pub fn new(created: NewApiKey, now: DateTime<Utc>) -> Self {
        Self::Created(Json(NewApiKeyDto::new(created, now)), NO_STORE.into())
    }
}

#[derive(ApiResponse)]
pub enum KeyRotatedResponse {
    /// The same key with a new secret (shown only this once); the old secret stops
    /// working.
    #[oai(status = 200)]
    Rotated(Json<NewApiKeyDto>, #[oai(header = "Cache-Control")] String),
}

#[derive(ApiResponse)]
pub enum KeyRevokedResponse {
    /// The key no longer works (revoking a revoked key changes nothing).
    #[oai(status = 204)]
    Revoked,
}

pub struct KeysApi;

#[OpenApi(tag = "ApiTags::Keys")]
impl KeysApi {
    /// Lists the caller's own API keys. Any signed-in user (no scope needed).
    ///
    /// Newest first, revoked and expired ones included; secrets are never listed.
    #[oai(path = "/api/v1/keys", method = "get", operation_id = "listOwnApiKeys")]
    async fn list(
        &self,
        auth: Auth,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<Json<Vec<ApiKeyDto>>> {
        let user_id = auth.user_id()?;
        ApiKeyDto::list(&state, KeyOwner::User(user_id)).await
    }

    /// Creates an API key acting as the caller. Any signed-in user.
    ///
    /// The key's scopes must be within the caller's (and, through an API key, within that
    /// key's); 403 otherwise. The response carries the secret; it is shown only this once.
    #[oai(
        path = "/api/v1/keys",
        method = "post",
        operation_id = "createOwnApiKey"
    )]
    async fn create(
        &self,
        auth: Auth,
        body: Json<CreateApiKeyRequest>,
        req: &Request,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<KeyCreatedResponse> {
        let user_id = auth.user_id()?;
        let now = state.audit.now();
        let request = body.0.check(now)?;
        require_within_own(auth.principal(), &request.scopes)?;
        let created = request
            .create(&state, auth.principal(), KeyOwner::User(user_id))
            .await?;
        note_key(req, format!("api_key:{}", created.record.id), None);
        Ok(KeyCreatedResponse::new(created, now))
    }

    /// Revokes one of the caller's own API keys. Any signed-in user.
    #[oai(
        path = "/api/v1/keys/:id",
        method = "delete",
        operation_id = "revokeOwnApiKey"
    )]
    async fn revoke(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<KeyRevokedResponse> {
        let user_id = auth.user_id()?;
        revoke_owned(&state, KeyOwner::User(user_id), id.0).await?;
        Ok(KeyRevokedResponse::Revoked)
    }

    /// Gives one of the caller's own API keys a new secret. Any signed-in user.
    ///
    /// Through an API key, only a key within that key's scopes (403 otherwise). Same id,
    /// name, scopes and expiry; the old secret stops working. The response carries the
    /// new secret, shown only this once.
    #[oai(
        path = "/api/v1/keys/:id/rotate",
        method = "post",
        operation_id = "rotateOwnApiKey"
    )]
    async fn rotate(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        state: Data<&Arc<AppState>>,
    ) -> ApiResult<KeyRotatedResponse> {
        let user_id = auth.user_id()?;
        rotate_owned(&state, KeyOwner::User(user_id), id.0, |scopes| {
            require_within_own(auth.principal(), scopes)
        })
        .await
    }
}
