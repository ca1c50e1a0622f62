//! Administration of organizations, users, memberships, role templates, namespaces and
//! API keys. Route-level scopes are checked by the HTTP layer; the rules that depend on
//! the data (a key's scopes within its owner's, system templates read-only, a namespace
//! moved only between organizations the caller administers) are checked here.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tfr_core::{Scope, ScopeSet};
use uuid::Uuid;

use crate::driven::{
    ApiKeyRecord, Clock, KeyOwner, MembershipRecord, MembershipRepository, MembershipSource,
    NamespaceRecord, NamespaceRepository, OrganizationRecord, OrganizationRepository,
    RoleTemplateRecord, RoleTemplateRepository, UserQuery, UserRecord, UserRepository,
};
use crate::service::access::Principal;
use crate::service::{ApiKeys, Authenticator, NamespaceAccess, NewApiKey, ServiceError};

const SYSTEM_TEMPLATE_NAMES: [&str; 4] = ["viewer", "publisher", "admin", "auditor"];

/// Scopes that give power over other people or their records: acting on someone who holds
/// one of these needs it too (nobody locks out or demotes someone above them). Package
/// scopes do not count: a user manager may still revoke a publisher's key.
fn is_administrative(scope: Scope) -> bool {
    matches!(
        scope,
        Scope::UsersRead
            | Scope::UsersWrite
            | Scope::OrganizationsRead
            | Scope::OrganizationsWrite
            | Scope::AuditRead
            | Scope::Admin
    )
}

pub struct IdentityAdmin {
    organizations: Arc<dyn OrganizationRepository>,
    users: Arc<dyn UserRepository>,
    templates: Arc<dyn RoleTemplateRepository>,
    memberships: Arc<dyn MembershipRepository>,
    namespaces: Arc<dyn NamespaceRepository>,
    api_keys: Arc<ApiKeys>,
    authenticator: Arc<Authenticator>,
    namespace_access: Arc<NamespaceAccess>,
    clock: Arc<dyn Clock>,
}

/// Lower-case letters, digits and inner hyphens, 1-63 characters.
pub fn valid_organization_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn check_display(field: &'static str, value: &str, max: usize) -> Result<String, ServiceError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            field,
            format!("{field} must be 1-{max} printable characters"),
        ));
    }
    Ok(value.to_string())
}

fn not_found(what: &str, id: impl std::fmt::Display) -> ServiceError {
    ServiceError::NotFound(format!("no {what} {id}"))
}

/// What may change on a user.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// `Some(None)` removes the global role.
    pub global_role_id: Option<Option<Uuid>>,
    pub disabled: Option<bool>,
}

impl IdentityAdmin {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        organizations: Arc<dyn OrganizationRepository>,
        users: Arc<dyn UserRepository>,
        templates: Arc<dyn RoleTemplateRepository>,
        memberships: Arc<dyn MembershipRepository>,
        namespaces: Arc<dyn NamespaceRepository>,
        api_keys: Arc<ApiKeys>,
        authenticator: Arc<Authenticator>,
        namespace_access: Arc<NamespaceAccess>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            organizations,
            users,
            templates,
            memberships,
            namespaces,
            api_keys,
            authenticator,
            namespace_access,
            clock,
        }
    }

    // ------------------------------------------------------------ organizations

    pub async fn organization(&self, id_or_name: &str) -> Result<OrganizationRecord, ServiceError> {
        let found = match Uuid::parse_str(id_or_name) {
            Ok(id) => self.organizations.find(id).await?,
            Err(_) => {
                self.organizations
                    .find_by_name(&id_or_name.to_ascii_lowercase())
                    .await?
            }
        };
        found.ok_or_else(|| not_found("organization", id_or_name))
    }

    pub async fn list_organizations(&self) -> Result<Vec<OrganizationRecord>, ServiceError> {
        Ok(self.organizations.list().await?)
    }

    pub async fn create_organization(
        &self,
        name: &str,
        display_name: Option<&str>,
    ) -> Result<OrganizationRecord, ServiceError> {
        let name = name.trim().to_string();
        if !valid_organization_name(&name) {
            return Err(ServiceError::invalid(
                "name",
                "organization names are 1-63 lower-case letters, digits and inner hyphens",
            ));
        }
        let display_name = check_display("display_name", display_name.unwrap_or(&name), 200)?;
        let org = OrganizationRecord {
            id: Uuid::now_v7(),
            name,
            display_name,
            created_at: self.clock.now(),
        };
        self.organizations.insert(&org).await?;
        Ok(org)
    }

    pub async fn rename_organization(
        &self,
        org: &OrganizationRecord,
        display_name: &str,
    ) -> Result<OrganizationRecord, ServiceError> {
        let updated = OrganizationRecord {
            display_name: check_display("display_name", display_name, 200)?,
            ..org.clone()
        };
        if !self.organizations.update(&updated).await? {
            return Err(not_found("organization", org.id));
        }
        Ok(updated)
    }

    pub async fn delete_organization(&self, org: &OrganizationRecord) -> Result<(), ServiceError> {
        if org.id == crate::driven::DEFAULT_ORGANIZATION_ID {
            return Err(ServiceError::Conflict(
                "the default organization cannot be deleted".into(),
            ));
        }
        if !self.organizations.delete(org.id).await? {
            return Err(not_found("organization", org.id));
        }
        self.authenticator.invalidate_all();
        Ok(())
    }

    // ------------------------------------------------------------ users

    pub async fn user(&self, id: Uuid) -> Result<UserRecord, ServiceError> {
        self.users
            .find(id)
            .await?
            .ok_or_else(|| not_found("user", id))
    }

    pub async fn list_users(
        &self,
        query: UserQuery,
    ) -> Result<(Vec<UserRecord>, u64), ServiceError> {
        Ok(self
            .users
            .list(&UserQuery {
                limit: query.limit.clamp(1, 500),
                ..query
            })
            .await?)
    }

    pub async fn update_user(
        &self,
        actor: &Principal,
        id: Uuid,
        changes: UserChanges,
    ) -> Result<UserRecord, ServiceError> {
        let mut user = self.user(id).await?;
        if changes.global_role_id.is_some() || changes.disabled.is_some() {
            self.require_outranks_user(actor, &user).await?;
        }
        if let Some(role) = changes.global_role_id {
            if let Some(role_id) = role {
                let template = self.template(role_id).await?;
                if !template.is_system() {
                    return Err(ServiceError::invalid(
                        "global_role",
                        "a global role must be a system role template",
                    ));
                }
                self.require_can_grant(actor, &template.scopes, None)?;
            }
            user.global_role_id = role;
        }
        if let Some(disabled) = changes.disabled {
            if disabled && actor.user_id == Some(id) {
                return Err(ServiceError::invalid(
                    "disabled",
                    "you cannot disable yourself",
                ));
            }
            user.disabled_at = match (disabled, user.disabled_at) {
                (true, None) => Some(self.clock.now()),
                (true, at) => at,
                (false, _) => None,
            };
        }
        if !self.users.update(&user).await? {
            return Err(not_found("user", id));
        }
        self.authenticator.invalidate_user(id);
        Ok(user)
    }

    /// Acting on a user (global role, disabling, their keys) needs every administrative
    /// scope they hold: those of their global role everywhere, and those of each
    /// membership in its organization. Nobody can lock out someone above them.
    pub async fn require_outranks_user(
        &self,
        actor: &Principal,
        user: &UserRecord,
    ) -> Result<(), ServiceError> {
        let refused = || {
            ServiceError::Forbidden(
                "you cannot act on a user who holds scopes you do not hold".into(),
            )
        };
        if let Some(current) = user.global_role_id {
            let template = self.template(current).await?;
            if !template
                .scopes
                .iter()
                .all(|s| actor.grants.allows_global(s))
            {
                return Err(refused());
            }
        }
        for m in self.memberships.list_for_user(user.id).await? {
            let template = self.template(m.role_template_id).await?;
            if !template
                .scopes
                .iter()
                .filter(|s| is_administrative(*s))
                .all(|s| actor.grants.allows_in(s, m.organization_id))
            {
                return Err(refused());
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ memberships

    pub async fn members(
        &self,
        org: &OrganizationRecord,
    ) -> Result<Vec<MembershipRecord>, ServiceError> {
        Ok(self.memberships.list_for_organization(org.id).await?)
    }

    pub async fn memberships_of(
        &self,
        user_id: Uuid,
    ) -> Result<Vec<MembershipRecord>, ServiceError> {
        Ok(self.memberships.list_for_user(user_id).await?)
    }

    pub async fn set_member(
        &self,
        actor: &Principal,
        org: &OrganizationRecord,
        user_id: Uuid,
        role_template_id: Uuid,
    ) -> Result<MembershipRecord, ServiceError> {
        self.user(user_id).await?;
        let template = self.template(role_template_id).await?;
        if template.organization_id.is_some_and(|o| o != org.id) {
            return Err(ServiceError::invalid(
                "role_template_id",
                "that role template belongs to another organization",
            ));
        }
        self.require_can_grant(actor, &template.scopes, Some(org.id))?;
        self.require_outranks_current(actor, org, user_id).await?;
        let membership = MembershipRecord {
            organization_id: org.id,
            user_id,
            role_template_id,
            source: MembershipSource::Manual,
            created_at: self.clock.now(),
        };
        self.memberships.upsert(&membership).await?;
        self.authenticator.invalidate_user(user_id);
        Ok(membership)
    }

    pub async fn remove_member(
        &self,
        actor: &Principal,
        org: &OrganizationRecord,
        user_id: Uuid,
    ) -> Result<(), ServiceError> {
        self.require_outranks_current(actor, org, user_id).await?;
        if !self.memberships.remove(org.id, user_id).await? {
            return Err(not_found("member", user_id));
        }
        self.authenticator.invalidate_user(user_id);
        Ok(())
    }

    /// Changing or removing someone's membership needs every administrative scope their
    /// current role gives there (an organization manager cannot demote someone above them).
    async fn require_outranks_current(
        &self,
        actor: &Principal,
        org: &OrganizationRecord,
        user_id: Uuid,
    ) -> Result<(), ServiceError> {
        let current = self
            .memberships
            .list_for_organization(org.id)
            .await?
            .into_iter()
            .find(|m| m.user_id == user_id);
        if let Some(current) = current {
            let template = self.template(current.role_template_id).await?;
            if !template
                .scopes
                .iter()
                .filter(|s| is_administrative(*s))
                .all(|s| actor.grants.allows_in(s, org.id))
            {
                return Err(ServiceError::Forbidden(
                    "you cannot change the membership of someone whose role holds scopes you do not".into(),
                ));
            }
        }
        Ok(())
    }

    /// Nobody hands out more than they hold: granting scopes in `org` (or everywhere)
    /// needs each of them there.
    fn require_can_grant(
        &self,
        actor: &Principal,
        scopes: &ScopeSet,
        org: Option<Uuid>,
    ) -> Result<(), ServiceError> {
        let ok = scopes.iter().all(|s| match org {
            Some(org) => actor.grants.allows_in(s, org),
            None => actor.grants.allows_global(s),
        });
        if ok {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(
                "you cannot grant scopes you do not hold yourself".into(),
            ))
        }
    }

    // ------------------------------------------------------------ role templates

    pub async fn template(&self, id: Uuid) -> Result<RoleTemplateRecord, ServiceError> {
        self.templates
            .find(id)
            .await?
            .ok_or_else(|| not_found("role template", id))
    }

    /// The system templates plus, with `Some(org)`, that organization's.
    pub async fn templates(
        &self,
        org: Option<Uuid>,
    ) -> Result<Vec<RoleTemplateRecord>, ServiceError> {
        Ok(self.templates.list(org).await?)
    }

    fn check_template(
        name: &str,
        description: &str,
        scopes: &ScopeSet,
    ) -> Result<(String, String), ServiceError> {
        let name = check_display("name", name, 64)?;
        if SYSTEM_TEMPLATE_NAMES
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&name))
        {
            return Err(ServiceError::Conflict(format!(
                "{name} is a system role template name"
            )));
        }
        if scopes.is_empty() {
            return Err(ServiceError::invalid(
                "scopes",
                "a role template needs at least one scope",
            ));
        }
        let description = description.trim();
        if description.chars().count() > 500 {
            return Err(ServiceError::invalid(
                "description",
                "description is at most 500 characters",
            ));
        }
        Ok((name, description.to_string()))
    }

    pub async fn create_template(
        &self,
        actor: &Principal,
        org: &OrganizationRecord,
        name: &str,
        description: &str,
        scopes: ScopeSet,
    ) -> Result<RoleTemplateRecord, ServiceError> {
        let (name, description) = Self::check_template(name, description, &scopes)?;
        self.require_can_grant(actor, &scopes, Some(org.id))?;
        let template = RoleTemplateRecord {
            id: Uuid::now_v7(),
            organization_id: Some(org.id),
            name,
            description,
            scopes,
            created_at: self.clock.now(),
        };
        self.templates.insert(&template).await?;
        Ok(template)
    }

    /// Changes take effect on the next request of every holder.
    pub async fn update_template(
        &self,
        actor: &Principal,
        org: &OrganizationRecord,
        id: Uuid,
        name: &str,
        description: &str,
        scopes: ScopeSet,
    ) -> Result<RoleTemplateRecord, ServiceError> {
        let existing = self.org_template(org, id).await?;
        let (name, description) = Self::check_template(name, description, &scopes)?;
        self.require_can_grant(actor, &scopes, Some(org.id))?;
        let updated = RoleTemplateRecord {
            name,
            description,
            scopes,
            ..existing
        };
        if !self.templates.update(&updated).await? {
            return Err(not_found("role template", id));
        }
        self.authenticator.invalidate_all();
        Ok(updated)
    }

    pub async fn delete_template(
        &self,
        org: &OrganizationRecord,
        id: Uuid,
    ) -> Result<(), ServiceError> {
        self.org_template(org, id).await?;
        if !self.templates.delete(id).await? {
            return Err(not_found("role template", id));
        }
        self.authenticator.invalidate_all();
        Ok(())
    }

    async fn org_template(
        &self,
        org: &OrganizationRecord,
        id: Uuid,
    ) -> Result<RoleTemplateRecord, ServiceError> {
        let template = self.template(id).await?;
        if template.is_system() {
            return Err(ServiceError::Forbidden(
                "system role templates cannot be changed".into(),
            ));
        }
        if template.organization_id != Some(org.id) {
            return Err(not_found("role template", id));
        }
        Ok(template)
    }

    // ------------------------------------------------------------ namespaces

    pub async fn list_namespaces(
        &self,
        org: Option<Uuid>,
    ) -> Result<Vec<NamespaceRecord>, ServiceError> {
        Ok(self.namespaces.list(org).await?)
    }

    pub async fn namespace(&self, name: &str) -> Result<NamespaceRecord, ServiceError> {
        self.namespaces
            .find_by_name(name)
            .await?
            .ok_or_else(|| not_found("namespace", name))
    }

    pub async fn create_namespace(
        &self,
        org: &OrganizationRecord,
        name: &str,
        public: bool,
    ) -> Result<NamespaceRecord, ServiceError> {
        let name = tfr_core::Namespace::parse(name)
            .map_err(|e| ServiceError::invalid("namespace", e.to_string()))?
            .to_string();
        let record = NamespaceRecord {
            id: Uuid::now_v7(),
            name,
            organization_id: org.id,
            public,
            created_at: self.clock.now(),
        };
        self.namespaces.insert(&record).await?;
        self.namespace_access.invalidate(&record.name);
        Ok(record)
    }

    /// Moves a namespace to another organization and/or changes its public flag. Moving
    /// needs `organizations:write` in the target organization too.
    pub async fn update_namespace(
        &self,
        actor: &Principal,
        name: &str,
        organization: Option<&OrganizationRecord>,
        public: Option<bool>,
    ) -> Result<NamespaceRecord, ServiceError> {
        let mut ns = self.namespace(name).await?;
        if let Some(target) = organization {
            actor.require_in(Scope::OrganizationsWrite, target.id)?;
            ns.organization_id = target.id;
        }
        if let Some(public) = public {
            ns.public = public;
        }
        if !self.namespaces.update(&ns).await? {
            return Err(not_found("namespace", name));
        }
        self.namespace_access.invalidate(&ns.name);
        Ok(ns)
    }

    // ------------------------------------------------------------ API keys

    /// Creates a key for `owner`, with scopes within what the owner holds (and what the
    /// caller holds, for organization keys).
    pub async fn create_key(
        &self,
        actor: &Principal,
        owner: KeyOwner,
        name: &str,
        scopes: ScopeSet,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<NewApiKey, ServiceError> {
        match owner {
            KeyOwner::User(user_id) => {
                let grants = self
                    .authenticator
                    .fresh_grants(user_id)
                    .await?
                    .ok_or_else(|| ServiceError::Forbidden("the account is disabled".into()))?;
                let held = grants.scopes_anywhere();
                if !scopes.is_within(&held) {
                    return Err(ServiceError::Forbidden(format!(
                        "a key's scopes must be within its owner's ({})",
                        held.to_strings().join(", ")
                    )));
                }
            }
            KeyOwner::Organization(org) => self.require_can_grant(actor, &scopes, Some(org))?,
            KeyOwner::System => self.require_can_grant(actor, &scopes, None)?,
        }
        self.api_keys.create(owner, name, scopes, expires_at).await
    }

    pub async fn keys(&self, owner: KeyOwner) -> Result<Vec<ApiKeyRecord>, ServiceError> {
        self.api_keys.list(Some(owner)).await
    }

    /// A key of `owner` (a key of anyone else is "not found").
    pub async fn owned_key(&self, owner: KeyOwner, id: Uuid) -> Result<ApiKeyRecord, ServiceError> {
        match self.api_keys.find(id).await? {
            Some(key) if key.owner == owner => Ok(key),
            _ => Err(not_found("API key", id)),
        }
    }

    pub async fn revoke_key(&self, key: ApiKeyRecord) -> Result<ApiKeyRecord, ServiceError> {
        self.api_keys.revoke_record(key).await
    }

    pub async fn rotate_key(&self, key: &ApiKeyRecord) -> Result<NewApiKey, ServiceError> {
        self.api_keys.rotate(key.id).await
    }
}
