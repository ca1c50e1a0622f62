//! Identity ports: organizations, users, role templates, memberships, namespace
//! ownership. Same habits as `repo.rs`: one call is one transaction; "not found" is
//! `Ok(None)` or `false`; a unique violation is `RepoError::Conflict`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tfr_core::ScopeSet;
use uuid::{Uuid, uuid};

use crate::driven::RepoError;

/// The organization every installation starts with; namespaces published before
/// organizations existed belong to it. Created by the migration.
pub const DEFAULT_ORGANIZATION_ID: Uuid = uuid!("00000000-0000-7000-8000-000000000001");

/// The system role templates, created by the migration and never editable.
pub const VIEWER_TEMPLATE_ID: Uuid = uuid!("00000000-0000-7000-8000-000000000101");
pub const PUBLISHER_TEMPLATE_ID: Uuid = uuid!("00000000-0000-7000-8000-000000000102");
pub const ADMIN_TEMPLATE_ID: Uuid = uuid!("00000000-0000-7000-8000-000000000103");
pub const AUDITOR_TEMPLATE_ID: Uuid = uuid!("00000000-0000-7000-8000-000000000104");

// ---------------------------------------------------------------- organizations

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationRecord {
    pub id: Uuid,
    /// Unique, lower-case, URL-safe (`platform-team`).
    pub name: String,
    pub display_name: String,
    pub created_at: DateTime<Utc>,
}

#[async_trait]
pub trait OrganizationRepository: Send + Sync {
    async fn insert(&self, org: &OrganizationRecord) -> Result<(), RepoError>;
    async fn find(&self, id: Uuid) -> Result<Option<OrganizationRecord>, RepoError>;
    async fn find_by_name(&self, name: &str) -> Result<Option<OrganizationRecord>, RepoError>;
    /// Ordered by name.
    async fn list(&self) -> Result<Vec<OrganizationRecord>, RepoError>;
    /// Updates the display name; `false` when no such organization.
    async fn update(&self, org: &OrganizationRecord) -> Result<bool, RepoError>;
    /// Deletes an organization with its members and its own role templates; `Conflict`
    /// while it still owns namespaces or API keys, `false` when no such organization.
    async fn delete(&self, id: Uuid) -> Result<bool, RepoError>;
}

// ---------------------------------------------------------------- users

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: Uuid,
    /// Unique display handle, from the SSO username claim.
    pub username: String,
    /// Lower-case.
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// The configured SSO provider id (`oidc`, `azure`) the user signs in with.
    pub identity_provider: String,
    /// The provider's stable subject (`sub`; `oid` for Azure AD). Unique with the provider.
    pub subject: String,
    /// A role template held across every organization (bootstrap admins, auditors).
    pub global_role_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    /// A disabled user cannot sign in, and their sessions and keys stop working.
    pub disabled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Case-insensitive substring over username, email and display name.
    pub search: Option<String>,
    pub offset: u64,
    pub limit: u64,
}

#[async_trait]
pub trait UserRepository: Send + Sync {
    async fn insert(&self, user: &UserRecord) -> Result<(), RepoError>;
    async fn find(&self, id: Uuid) -> Result<Option<UserRecord>, RepoError>;
    async fn find_by_subject(
        &self,
        identity_provider: &str,
        subject: &str,
    ) -> Result<Option<UserRecord>, RepoError>;
    /// Ordered by username; with the total matching count.
    async fn list(&self, query: &UserQuery) -> Result<(Vec<UserRecord>, u64), RepoError>;
    /// Replaces every field but `id`, `identity_provider`, `subject` and `created_at`;
    /// `false` when no such user.
    async fn update(&self, user: &UserRecord) -> Result<bool, RepoError>;
}

// ---------------------------------------------------------------- role templates

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleTemplateRecord {
    pub id: Uuid,
    /// `None` for the system templates (viewer, publisher, admin, auditor).
    pub organization_id: Option<Uuid>,
    /// Unique within its organization (system names are reserved everywhere).
    pub name: String,
    pub description: String,
    pub scopes: ScopeSet,
    pub created_at: DateTime<Utc>,
}

impl RoleTemplateRecord {
    pub fn is_system(&self) -> bool {
        self.organization_id.is_none()
    }
}

#[async_trait]
pub trait RoleTemplateRepository: Send + Sync {
    async fn insert(&self, template: &RoleTemplateRecord) -> Result<(), RepoError>;
    async fn find(&self, id: Uuid) -> Result<Option<RoleTemplateRecord>, RepoError>;
    /// The system templates plus, with `Some(org)`, that organization's own; by name.
    async fn list(
        &self,
        organization_id: Option<Uuid>,
    ) -> Result<Vec<RoleTemplateRecord>, RepoError>;
    /// Replaces name, description and scopes; `false` when no such template.
    async fn update(&self, template: &RoleTemplateRecord) -> Result<bool, RepoError>;
    /// `Conflict` while a member or user holds it; `false` when no such template.
    async fn delete(&self, id: Uuid) -> Result<bool, RepoError>;
}

// ---------------------------------------------------------------- memberships

/// Where a membership came from: SSO group mappings are re-applied at every login and
/// may replace or remove their own memberships, never manual ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipSource {
    Manual,
    Sso,
}

impl MembershipSource {
    pub fn as_str(self) -> &'static str {
        match self {
            MembershipSource::Manual => "manual",
            MembershipSource::Sso => "sso",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "manual" => Some(MembershipSource::Manual),
            "sso" => Some(MembershipSource::Sso),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRecord {
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub role_template_id: Uuid,
    pub source: MembershipSource,
    pub created_at: DateTime<Utc>,
}

/// What a user may do, loaded on every authenticated request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserGrants {
    /// Scopes of the user's global role template, if any.
    pub global: ScopeSet,
    /// Scopes per organization the user is a member of.
    pub organizations: Vec<(Uuid, ScopeSet)>,
}

#[async_trait]
pub trait MembershipRepository: Send + Sync {
    /// Inserts or replaces (role and source) the membership of that user in that
    /// organization.
    async fn upsert(&self, membership: &MembershipRecord) -> Result<(), RepoError>;
    /// `false` when the user was not a member.
    async fn remove(&self, organization_id: Uuid, user_id: Uuid) -> Result<bool, RepoError>;
    async fn list_for_organization(
        &self,
        organization_id: Uuid,
    ) -> Result<Vec<MembershipRecord>, RepoError>;
    async fn list_for_user(&self, user_id: Uuid) -> Result<Vec<MembershipRecord>, RepoError>;
    /// The user's global and per-organization scopes in one query; `None` for an
    /// unknown or disabled user.
    async fn grants_for_user(&self, user_id: Uuid) -> Result<Option<UserGrants>, RepoError>;
}

// ---------------------------------------------------------------- namespaces

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceRecord {
    pub id: Uuid,
    /// Display case.
    pub name: String,
    pub organization_id: Uuid,
    /// Readable without a credential even when anonymous read is off.
    pub public: bool,
    pub created_at: DateTime<Utc>,
}

#[async_trait]
pub trait NamespaceRepository: Send + Sync {
    /// Case-insensitive.
    async fn find_by_name(&self, name: &str) -> Result<Option<NamespaceRecord>, RepoError>;
    /// Ordered by name; `Some(org)` restricts to one organization.
    async fn list(&self, organization_id: Option<Uuid>) -> Result<Vec<NamespaceRecord>, RepoError>;
    /// `Conflict` when the name (case-insensitively) exists.
    async fn insert(&self, namespace: &NamespaceRecord) -> Result<(), RepoError>;
    /// Updates organization and public flag; `false` when no such namespace.
    async fn update(&self, namespace: &NamespaceRecord) -> Result<bool, RepoError>;
}
