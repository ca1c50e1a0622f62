//! Turns a presented credential into a [`Principal`]: a session token first (a signature
//! check, no database), then an API key (prefix lookup + bcrypt, cached briefly). The
//! principal's scopes are loaded from the user's memberships on every request, through a
//! short per-replica cache that this replica clears on any identity change.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::driven::{KeyOwner, MembershipRepository, SessionClaims, UserGrants, UserRepository};
use crate::service::access::{AuthMethod, Grants, Principal};
use crate::service::ttl_map::TtlMap;
use crate::service::{ApiKeys, ServiceError, Sessions};

/// A successful authentication; `session` is set for session tokens (for CSRF and logout).
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub session: Option<SessionClaims>,
}

/// A user's name and grants, as cached.
#[derive(Debug, Clone)]
struct UserAccess {
    username: String,
    grants: UserGrants,
}

pub struct Authenticator {
    api_keys: Arc<ApiKeys>,
    sessions: Arc<Sessions>,
    users: Arc<dyn UserRepository>,
    memberships: Arc<dyn MembershipRepository>,
    access: TtlMap<Uuid, UserAccess>,
    access_ttl: Duration,
}

/// Session tokens are JWTs (three dot-separated parts); API keys start with `tfr_`.
fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

impl Authenticator {
    /// `access_ttl`: how long a user's scopes are reused on this replica before being
    /// re-read (a change made on another replica takes effect within it).
    pub fn new(
        api_keys: Arc<ApiKeys>,
        sessions: Arc<Sessions>,
        users: Arc<dyn UserRepository>,
        memberships: Arc<dyn MembershipRepository>,
        access_ttl: Duration,
    ) -> Self {
        Self {
            api_keys,
            sessions,
            users,
            memberships,
            access: TtlMap::new(),
            access_ttl,
        }
    }

    pub fn sessions(&self) -> &Arc<Sessions> {
        &self.sessions
    }

    /// An `Authorization: Bearer` token: a session token or an API key. `Ok(None)` when
    /// it is not valid (unknown, expired, revoked, or its user is disabled).
    pub async fn authenticate_bearer(
        &self,
        token: &str,
    ) -> Result<Option<Authenticated>, ServiceError> {
        if looks_like_jwt(token) {
            return self.authenticate_session(token).await;
        }
        let Some(key) = self.api_keys.authenticate(token).await? else {
            return Ok(None);
        };
        let grants = match key.owner {
            KeyOwner::User(user_id) => match self.user_access(user_id).await? {
                Some(access) => {
                    Grants::for_key(key.owner, &key.scopes, Some(access.grants.clone()))
                }
                // The owner was disabled or deleted: the key dies with them.
                None => return Ok(None),
            },
            owner => Grants::for_key(owner, &key.scopes, None),
        };
        let user_id = match key.owner {
            KeyOwner::User(id) => Some(id),
            _ => None,
        };
        Ok(Some(Authenticated {
            principal: Principal {
                user_id,
                key_id: Some(key.id),
                key_owner: Some(key.owner),
                name: key.name,
                method: AuthMethod::ApiKey,
                grants,
            },
            session: None,
        }))
    }

    /// A session token (from the cookie or a bearer header).
    pub async fn authenticate_session(
        &self,
        token: &str,
    ) -> Result<Option<Authenticated>, ServiceError> {
        let Some(claims) = self.sessions.verify(token).await? else {
            return Ok(None);
        };
        let Some(access) = self.user_access(claims.subject).await? else {
            return Ok(None);
        };
        Ok(Some(Authenticated {
            principal: Principal {
                user_id: Some(claims.subject),
                key_id: None,
                key_owner: None,
                name: access.username.clone(),
                method: AuthMethod::Session,
                grants: Grants::from_user(access.grants.clone()),
            },
            session: Some(claims),
        }))
    }

    /// The current grants of a user, uncached (for decisions that change access, such as
    /// creating a key).
    pub async fn fresh_grants(&self, user_id: Uuid) -> Result<Option<Grants>, ServiceError> {
        Ok(self
            .memberships
            .grants_for_user(user_id)
            .await?
            .map(Grants::from_user))
    }

    /// Forget cached scopes after a change to a user, membership or role template.
    pub fn invalidate_user(&self, user_id: Uuid) {
        self.access.remove(&user_id);
    }

    /// Forget every cached scope (a role template changed: many users may hold it).
    pub fn invalidate_all(&self) {
        self.access.clear();
    }

    async fn user_access(&self, user_id: Uuid) -> Result<Option<Arc<UserAccess>>, ServiceError> {
        let users = self.users.clone();
        let memberships = self.memberships.clone();
        Ok(self
            .access
            .get_or_load(user_id, self.access_ttl, move || async move {
                let Some(user) = users.find(user_id).await? else {
                    return Ok(None);
                };
                if user.disabled_at.is_some() {
                    return Ok(None);
                }
                Ok(memberships
                    .grants_for_user(user_id)
                    .await?
                    .map(|grants| UserAccess {
                        username: user.username,
                        grants,
                    }))
            })
            .await?)
    }
}
