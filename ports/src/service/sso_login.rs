//! Signing in through SSO: start a login at a provider, finish it at the callback, and
//! provision the user (created on first login; bootstrap admins; group -> organization
//! role mappings re-applied at every login; a default role for everyone else).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::driven::{
    ADMIN_TEMPLATE_ID, Clock, ExternalIdentity, IdentityProvider, MembershipRecord,
    MembershipRepository, MembershipSource, OrganizationRepository, RoleTemplateRepository,
    SsoError, StateSealer, UserRecord, UserRepository,
};
use crate::service::ServiceError;

/// How long a started login may take before its callback is refused.
const PENDING_LOGIN_TTL: Duration = Duration::minutes(10);

/// `group` (as the provider sends it: a name or, for Azure AD, an object id) gives
/// `role` (a role template name) in `organization` (a name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMapping {
    pub group: String,
    pub organization: String,
    pub role: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SsoPolicy {
    /// Lower-case emails that are made global admins at login (verified email only).
    pub bootstrap_admins: Vec<String>,
    /// In order: for one organization, the first mapping that matches wins.
    pub group_mappings: Vec<GroupMapping>,
    /// `(organization, role)` for users no mapping places anywhere.
    pub default_role: Option<(String, String)>,
}

/// A login in progress, kept sealed in a browser cookie until the callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    pub provider: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// A local path to return to after login.
    pub return_to: String,
    pub started_at: i64,
}

/// Login started: send the browser to `url` with the sealed pending login as a cookie.
pub struct StartedLogin {
    pub url: String,
    pub sealed: String,
}

pub struct SsoLogin {
    providers: Vec<Arc<dyn IdentityProvider>>,
    sealer: Arc<dyn StateSealer>,
    users: Arc<dyn UserRepository>,
    organizations: Arc<dyn OrganizationRepository>,
    templates: Arc<dyn RoleTemplateRepository>,
    memberships: Arc<dyn MembershipRepository>,
    clock: Arc<dyn Clock>,
    policy: SsoPolicy,
}

/// A safe place to return to: a local absolute path, never another origin.
pub fn safe_return_to(candidate: Option<&str>) -> String {
    match candidate {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(char::is_control) =>
        {
            p.to_string()
        }
        _ => "/".to_string(),
    }
}

impl SsoLogin {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        providers: Vec<Arc<dyn IdentityProvider>>,
        sealer: Arc<dyn StateSealer>,
        users: Arc<dyn UserRepository>,
        organizations: Arc<dyn OrganizationRepository>,
        templates: Arc<dyn RoleTemplateRepository>,
        memberships: Arc<dyn MembershipRepository>,
        clock: Arc<dyn Clock>,
        policy: SsoPolicy,
    ) -> Self {
        Self {
            providers,
            sealer,
            users,
            organizations,
            templates,
            memberships,
            clock,
            policy,
        }
    }

    pub fn providers(&self) -> &[Arc<dyn IdentityProvider>] {
        &self.providers
    }

    fn provider(&self, id: Option<&str>) -> Result<&Arc<dyn IdentityProvider>, ServiceError> {
        match id {
            Some(id) => self.providers.iter().find(|p| p.id() == id).ok_or_else(|| {
                ServiceError::invalid(
                    "provider",
                    format!(
                        "no SSO provider {id:?} (configured: {})",
                        self.provider_ids()
                    ),
                )
            }),
            None if self.providers.len() == 1 => Ok(&self.providers[0]),
            None if self.providers.is_empty() => Err(ServiceError::NotFound(
                "SSO is not configured on this registry".into(),
            )),
            None => Err(ServiceError::invalid(
                "provider",
                format!(
                    "choose a provider with ?provider= (configured: {})",
                    self.provider_ids()
                ),
            )),
        }
    }

    fn provider_ids(&self) -> String {
        self.providers
            .iter()
            .map(|p| p.id().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Starts a login at `provider` (optional when only one is configured).
    pub async fn start(
        &self,
        provider: Option<&str>,
        redirect_uri: &str,
        return_to: Option<&str>,
    ) -> Result<StartedLogin, ServiceError> {
        let provider = self.provider(provider)?;
        let request = provider
            .authorization_request(redirect_uri)
            .await
            .map_err(sso_error)?;
        let pending = PendingLogin {
            provider: provider.id().to_string(),
            state: request.state,
            nonce: request.nonce,
            pkce_verifier: request.pkce_verifier,
            return_to: safe_return_to(return_to),
            started_at: self.clock.now().timestamp(),
        };
        let json = serde_json::json!({
            "p": pending.provider, "s": pending.state, "n": pending.nonce,
            "v": pending.pkce_verifier, "r": pending.return_to, "t": pending.started_at,
        });
        Ok(StartedLogin {
            url: request.url,
            sealed: self.sealer.seal(json.to_string().as_bytes()),
        })
    }

    fn open(&self, sealed: &str) -> Option<PendingLogin> {
        let bytes = self.sealer.open(sealed)?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        Some(PendingLogin {
            provider: s("p")?,
            state: s("s")?,
            nonce: s("n")?,
            pkce_verifier: s("v")?,
            return_to: s("r")?,
            started_at: v.get("t")?.as_i64()?,
        })
    }

    /// Finishes a login at the callback: checks the state against the sealed cookie,
    /// lets the provider validate the code and ID token, then provisions the user.
    /// Returns the user and where to send the browser.
    pub async fn complete(
        &self,
        sealed: Option<&str>,
        state: &str,
        code: &str,
        redirect_uri: &str,
    ) -> Result<(UserRecord, String), LoginFailure> {
        let pending = sealed
            .and_then(|s| self.open(s))
            .ok_or(LoginFailure::Rejected(
                "no login in progress in this browser (the login cookie is missing, expired or was tampered with)".into(),
            ))?;
        let age = self.clock.now().timestamp() - pending.started_at;
        if !(0..=PENDING_LOGIN_TTL.num_seconds()).contains(&age) {
            return Err(LoginFailure::Rejected(
                "the login took too long; start again".into(),
            ));
        }
        if !bool::from(state.as_bytes().ct_eq(pending.state.as_bytes())) {
            return Err(LoginFailure::Rejected(
                "the state does not match the login in progress".into(),
            ));
        }
        let provider = self
            .provider(Some(&pending.provider))
            .map_err(|e| LoginFailure::Rejected(e.to_string()))?;
        let identity = provider
            .complete(redirect_uri, code, &pending.pkce_verifier, &pending.nonce)
            .await
            .map_err(|e| match e {
                SsoError::Rejected(msg) => LoginFailure::Rejected(msg),
                SsoError::Unavailable(msg) => LoginFailure::Unavailable(msg),
            })?;
        let user = self
            .provision(provider.id(), identity)
            .await
            .map_err(LoginFailure::Service)?;
        Ok((user, pending.return_to))
    }

    /// Finds or creates the user and applies the role policy.
    pub async fn provision(
        &self,
        provider: &str,
        identity: ExternalIdentity,
    ) -> Result<UserRecord, ServiceError> {
        let now = self.clock.now();
        let email = identity.email.as_ref().map(|e| e.to_lowercase());
        let mut user = match self
            .users
            .find_by_subject(provider, &identity.subject)
            .await?
        {
            Some(user) => user,
            None => {
                self.create_user(provider, &identity, email.clone(), now)
                    .await?
            }
        };
        if user.disabled_at.is_some() {
            return Err(ServiceError::Forbidden(format!(
                "the account {} is disabled",
                user.username
            )));
        }
        user.email = email.clone().or(user.email);
        user.display_name = identity.display_name.clone().or(user.display_name);
        user.last_login_at = Some(now);
        if identity.email_verified
            && email
                .as_ref()
                .is_some_and(|e| self.policy.bootstrap_admins.contains(e))
            && user.global_role_id.is_none()
        {
            tracing::warn!(user_id = %user.id, username = %user.username, "bootstrap admin: granting the admin role everywhere");
            user.global_role_id = Some(ADMIN_TEMPLATE_ID);
        }
        self.users.update(&user).await?;
        self.apply_group_mappings(&user, &identity.groups, now)
            .await?;
        Ok(user)
    }

    async fn create_user(
        &self,
        provider: &str,
        identity: &ExternalIdentity,
        email: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<UserRecord, ServiceError> {
        // The first candidate with something printable left: never an empty username.
        let printable = |s: String| -> String {
            let kept: String = s.chars().filter(|c| !c.is_control()).take(100).collect();
            kept.trim().to_string()
        };
        let email_local = email
            .as_ref()
            .map(|e| e.split('@').next().unwrap_or(e).to_string());
        let base = [
            identity.username.clone(),
            email_local,
            Some(identity.subject.clone()),
        ]
        .into_iter()
        .flatten()
        .map(printable)
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "user".to_string());
        for attempt in 0..20u32 {
            let username = if attempt == 0 {
                base.clone()
            } else {
                format!("{base}-{}", attempt + 1)
            };
            let user = UserRecord {
                id: Uuid::now_v7(),
                username,
                email: email.clone(),
                display_name: identity.display_name.clone(),
                identity_provider: provider.to_string(),
                subject: identity.subject.clone(),
                global_role_id: None,
                created_at: now,
                last_login_at: Some(now),
                disabled_at: None,
            };
            match self.users.insert(&user).await {
                Ok(()) => {
                    tracing::info!(user_id = %user.id, username = %user.username, provider, "user created at first login");
                    return Ok(user);
                }
                Err(crate::driven::RepoError::Conflict(_)) => {
                    // Same subject created concurrently? Then use it.
                    if let Some(existing) = self
                        .users
                        .find_by_subject(provider, &identity.subject)
                        .await?
                    {
                        return Ok(existing);
                    }
                }
                Err(err) => return Err(err.into()),
            }
        }
        Err(ServiceError::Conflict(format!(
            "could not find a free username for {base}"
        )))
    }

    /// Memberships from SSO groups: added or changed when a mapping matches, removed
    /// when none does any more; manual memberships are never touched. A user left with
    /// no membership at all gets the default role.
    async fn apply_group_mappings(
        &self,
        user: &UserRecord,
        groups: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let mut wanted: HashMap<Uuid, Uuid> = HashMap::new();
        for mapping in &self.policy.group_mappings {
            if !groups.iter().any(|g| g == &mapping.group) {
                continue;
            }
            let Some((org, role)) = self.resolve(&mapping.organization, &mapping.role).await?
            else {
                continue;
            };
            wanted.entry(org).or_insert(role);
        }
        let current = self.memberships.list_for_user(user.id).await?;
        // The default role is part of what SSO wants, so an unchanged login writes nothing.
        let placed = !wanted.is_empty()
            || current.iter().any(|m| m.source == MembershipSource::Manual)
            || user.global_role_id.is_some();
        if !placed
            && let Some((org_name, role_name)) = &self.policy.default_role
            && let Some((org, role)) = self.resolve(org_name, role_name).await?
        {
            wanted.insert(org, role);
        }
        for m in &current {
            if m.source == MembershipSource::Sso && !wanted.contains_key(&m.organization_id) {
                self.memberships.remove(m.organization_id, user.id).await?;
            }
        }
        for (org, role) in &wanted {
            let existing = current.iter().find(|m| m.organization_id == *org);
            match existing {
                Some(m) if m.source == MembershipSource::Manual => continue,
                Some(m) if m.role_template_id == *role => continue,
                _ => {}
            }
            self.memberships
                .upsert(&MembershipRecord {
                    organization_id: *org,
                    user_id: user.id,
                    role_template_id: *role,
                    source: MembershipSource::Sso,
                    created_at: now,
                })
                .await?;
        }
        Ok(())
    }

    /// Organization and role template ids from names; `None` (logged) when either is
    /// missing, so a stale mapping does not lock everyone out.
    async fn resolve(&self, org: &str, role: &str) -> Result<Option<(Uuid, Uuid)>, ServiceError> {
        let Some(organization) = self.organizations.find_by_name(&org.to_lowercase()).await? else {
            tracing::warn!(
                organization = org,
                "SSO role mapping names an unknown organization; skipped"
            );
            return Ok(None);
        };
        let templates = self.templates.list(Some(organization.id)).await?;
        match templates
            .into_iter()
            .find(|t| t.name.eq_ignore_ascii_case(role))
        {
            Some(t) => Ok(Some((organization.id, t.id))),
            None => {
                tracing::warn!(
                    organization = org,
                    role,
                    "SSO role mapping names an unknown role template; skipped"
                );
                Ok(None)
            }
        }
    }
}

/// Why a callback failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginFailure {
    /// The login itself is not valid (state, code, token, policy): 401.
    #[error("{0}")]
    Rejected(String),
    /// The identity provider could not be reached: 502.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Service(ServiceError),
}

fn sso_error(err: SsoError) -> ServiceError {
    match err {
        SsoError::Rejected(msg) => ServiceError::Unauthorized(msg),
        SsoError::Unavailable(msg) => ServiceError::Unavailable(msg),
    }
}
