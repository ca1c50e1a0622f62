//! `InMemoryIdentity`: organizations, role templates, users and memberships in memory,
//! seeded like a freshly migrated database, with the database's conflict rules.
//! Organizations and role templates are here; users and memberships in
//! `fake_identity_users.rs`.

use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tfr_core::{Scope, ScopeSet};
use uuid::Uuid;

use super::{InMemoryApiKeyRepository, InMemoryNamespaceRepository, lock};
use crate::driven::{
    ADMIN_TEMPLATE_ID, AUDITOR_TEMPLATE_ID, DEFAULT_ORGANIZATION_ID, MembershipRecord,
    OrganizationRecord, OrganizationRepository, PUBLISHER_TEMPLATE_ID, RepoError,
    RoleTemplateRecord, RoleTemplateRepository, UserRecord, VIEWER_TEMPLATE_ID,
};

/// When the migration seeded its rows: 2026-11-26T00:00:00Z.
pub fn seeded_at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_651_200, 0).unwrap_or_default()
}

/// The default organization as the migration creates it.
pub fn default_organization() -> OrganizationRecord {
    OrganizationRecord {
        id: DEFAULT_ORGANIZATION_ID,
        name: "default".to_string(),
        display_name: "Default organization".to_string(),
        created_at: seeded_at(),
    }
}

/// The four system role templates as the migration creates them, ordered by name.
pub fn system_templates() -> Vec<RoleTemplateRecord> {
    use Scope::*;
    let template = |id, name: &str, description: &str, scopes: &[Scope]| RoleTemplateRecord {
        id,
        organization_id: None,
        name: name.to_string(),
        description: description.to_string(),
        scopes: ScopeSet::new(scopes.iter().copied()),
        created_at: seeded_at(),
    };
    vec![
        template(
            ADMIN_TEMPLATE_ID,
            "admin",
            "Everything, including users, organizations and keys.",
            &[Admin],
        ),
        template(
            AUDITOR_TEMPLATE_ID,
            "auditor",
            "Reads the audit log and everything else, changes nothing.",
            &[
                AuditRead,
                ModulesRead,
                ProvidersRead,
                MirrorsRead,
                UsersRead,
                OrganizationsRead,
            ],
        ),
        template(
            PUBLISHER_TEMPLATE_ID,
            "publisher",
            "Publishes and deletes modules and providers; reads mirrors.",
            &[ModulesWrite, ProvidersWrite, MirrorsRead],
        ),
        template(
            VIEWER_TEMPLATE_ID,
            "viewer",
            "Reads modules, providers and mirrors.",
            &[ModulesRead, ProvidersRead, MirrorsRead],
        ),
    ]
}

#[derive(Debug, Default)]
pub(super) struct IdentityState {
    pub organizations: Vec<OrganizationRecord>,
    pub templates: Vec<RoleTemplateRecord>,
    pub users: Vec<UserRecord>,
    pub memberships: Vec<MembershipRecord>,
}

impl IdentityState {
    pub fn template(&self, id: Uuid) -> Option<&RoleTemplateRecord> {
        self.templates.iter().find(|t| t.id == id)
    }
    /// Whether a membership or a user's global role holds template `id`.
    pub fn template_held(&self, id: Uuid) -> bool {
        self.memberships.iter().any(|m| m.role_template_id == id)
            || self.users.iter().any(|u| u.global_role_id == Some(id))
    }
    fn name_taken(&self, t: &RoleTemplateRecord) -> bool {
        // As a unique index on (organization_id, name): NULL organizations never clash.
        t.organization_id.is_some()
            && self
                .templates
                .iter()
                .any(|o| o.id != t.id && o.organization_id == t.organization_id && o.name == t.name)
    }
}

/// Organizations, role templates, users and memberships in memory; it implements
/// [`OrganizationRepository`], [`RoleTemplateRepository`],
/// [`UserRepository`](crate::driven::UserRepository) and
/// [`MembershipRepository`](crate::driven::MembershipRepository). It reads the namespace
/// and API key fakes it was built with: an organization owning namespaces or live keys
/// cannot be deleted, and its revoked keys go with it.
#[derive(Debug)]
pub struct InMemoryIdentity {
    pub(super) state: Mutex<IdentityState>,
    namespaces: InMemoryNamespaceRepository,
    api_keys: InMemoryApiKeyRepository,
}

impl InMemoryIdentity {
    /// Seeded like a freshly migrated database (the default organization and the system
    /// templates), with namespace and API key fakes of its own.
    pub fn seeded() -> Self {
        Self::with_stores(
            &InMemoryNamespaceRepository::new(),
            &InMemoryApiKeyRepository::new(),
        )
    }

    /// Seeded, sharing `namespaces` and `api_keys` (clones share state).
    pub fn with_stores(
        namespaces: &InMemoryNamespaceRepository,
        api_keys: &InMemoryApiKeyRepository,
    ) -> Self {
        Self {
            state: Mutex::new(IdentityState {
                organizations: vec![default_organization()],
                templates: system_templates(),
                ..IdentityState::default()
            }),
            namespaces: namespaces.clone(),
            api_keys: api_keys.clone(),
        }
    }

    pub(super) fn state(&self) -> MutexGuard<'_, IdentityState> {
        lock(&self.state)
    }
}

#[async_trait]
impl OrganizationRepository for InMemoryIdentity {
    async fn insert(&self, org: &OrganizationRecord) -> Result<(), RepoError> {
        let mut s = self.state();
        if s.organizations
            .iter()
            .any(|o| o.id == org.id || o.name == org.name)
        {
            return Err(RepoError::Conflict(format!(
                "organization {} already exists",
                org.name
            )));
        }
        s.organizations.push(org.clone());
        Ok(())
    }

    async fn find(&self, id: Uuid) -> Result<Option<OrganizationRecord>, RepoError> {
        Ok(self
            .state()
            .organizations
            .iter()
            .find(|o| o.id == id)
            .cloned())
    }

    async fn find_by_name(&self, name: &str) -> Result<Option<OrganizationRecord>, RepoError> {
        Ok(self
            .state()
            .organizations
            .iter()
            .find(|o| o.name == name)
            .cloned())
    }

    async fn list(&self) -> Result<Vec<OrganizationRecord>, RepoError> {
        let mut out = self.state().organizations.clone();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn update(&self, org: &OrganizationRecord) -> Result<bool, RepoError> {
        let mut s = self.state();
        match s.organizations.iter_mut().find(|o| o.id == org.id) {
            Some(o) => {
                o.display_name = org.display_name.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete(&self, id: Uuid) -> Result<bool, RepoError> {
        let mut s = self.state();
        if !s.organizations.iter().any(|o| o.id == id) {
            return Ok(false);
        }
        if self.namespaces.owned_by(id) || self.api_keys.live_key_of(id) {
            return Err(RepoError::Conflict(format!(
                "organization {id} still owns namespaces or live API keys"
            )));
        }
        // The organization's own templates go with it, unless something outside it
        // holds one (the database's foreign keys refuse that).
        let own: Vec<Uuid> = s
            .templates
            .iter()
            .filter(|t| t.organization_id == Some(id))
            .map(|t| t.id)
            .collect();
        let held_outside = s
            .memberships
            .iter()
            .any(|m| m.organization_id != id && own.contains(&m.role_template_id))
            || s.users
                .iter()
                .any(|u| u.global_role_id.is_some_and(|g| own.contains(&g)));
        if held_outside {
            return Err(RepoError::Conflict(format!(
                "a role template of organization {id} is still held elsewhere"
            )));
        }
        s.memberships.retain(|m| m.organization_id != id);
        s.templates.retain(|t| t.organization_id != Some(id));
        s.organizations.retain(|o| o.id != id);
        self.api_keys.remove_keys_of(id);
        Ok(true)
    }
}

#[async_trait]
impl RoleTemplateRepository for InMemoryIdentity {
    async fn insert(&self, template: &RoleTemplateRecord) -> Result<(), RepoError> {
        let mut s = self.state();
        if s.template(template.id).is_some() || s.name_taken(template) {
            return Err(RepoError::Conflict(format!(
                "role template {} already exists",
                template.name
            )));
        }
        if let Some(org) = template.organization_id
            && !s.organizations.iter().any(|o| o.id == org)
        {
            return Err(RepoError::Conflict(format!("no organization {org}")));
        }
        s.templates.push(template.clone());
        Ok(())
    }

    async fn find(&self, id: Uuid) -> Result<Option<RoleTemplateRecord>, RepoError> {
        Ok(self.state().template(id).cloned())
    }

    async fn list(
        &self,
        organization_id: Option<Uuid>,
    ) -> Result<Vec<RoleTemplateRecord>, RepoError> {
        let mut out: Vec<_> = self
            .state()
            .templates
            .iter()
            .filter(|t| t.organization_id.is_none() || t.organization_id == organization_id)
            .cloned()
            .collect();
        out.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
        Ok(out)
    }

    async fn update(&self, template: &RoleTemplateRecord) -> Result<bool, RepoError> {
        let mut s = self.state();
        let Some(existing) = s.template(template.id) else {
            return Ok(false);
        };
        let renamed = RoleTemplateRecord {
            name: template.name.clone(),
            ..existing.clone()
        };
        if s.name_taken(&renamed) {
            return Err(RepoError::Conflict(format!(
                "role template {} already exists",
                template.name
            )));
        }
        if let Some(t) = s.templates.iter_mut().find(|t| t.id == template.id) {
            t.name = template.name.clone();
            t.description = template.description.clone();
            t.scopes = template.scopes.clone();
        }
        Ok(true)
    }

    async fn delete(&self, id: Uuid) -> Result<bool, RepoError> {
        let mut s = self.state();
        if s.template(id).is_none() {
            return Ok(false);
        }
        if s.template_held(id) {
            return Err(RepoError::Conflict(format!(
                "role template {id} is still held"
            )));
        }
        s.templates.retain(|t| t.id != id);
        Ok(true)
    }
}
