//! `InMemoryIdentity` as `UserRepository` and `MembershipRepository`.

use async_trait::async_trait;
use tfr_core::ScopeSet;
use uuid::Uuid;

use super::fake_identity::IdentityState;
use super::{InMemoryIdentity, search_term};
use crate::driven::{
    MembershipRecord, MembershipRepository, RepoError, UserGrants, UserQuery, UserRecord,
    UserRepository,
};

impl IdentityState {
    /// The database's foreign key from `users.global_role_id`.
    fn check_global_role(&self, user: &UserRecord) -> Result<(), RepoError> {
        match user.global_role_id {
            Some(role) if self.template(role).is_none() => {
                Err(RepoError::Conflict(format!("no role template {role}")))
            }
            _ => Ok(()),
        }
    }
}

fn contains(field: Option<&str>, term: &str) -> bool {
    field.is_some_and(|f| f.to_lowercase().contains(term))
}

#[async_trait]
impl UserRepository for InMemoryIdentity {
    async fn insert(&self, user: &UserRecord) -> Result<(), RepoError> {
        let mut s = self.state();
        if s.users.iter().any(|u| {
            u.id == user.id
                || u.username == user.username
                || (u.identity_provider == user.identity_provider && u.subject == user.subject)
        }) {
            return Err(RepoError::Conflict(format!(
                "user {} ({}/{}) already exists",
                user.username, user.identity_provider, user.subject
            )));
        }
        s.check_global_role(user)?;
        s.users.push(user.clone());
        Ok(())
    }

    async fn find(&self, id: Uuid) -> Result<Option<UserRecord>, RepoError> {
        Ok(self.state().users.iter().find(|u| u.id == id).cloned())
    }

    async fn find_by_subject(
        &self,
        identity_provider: &str,
        subject: &str,
    ) -> Result<Option<UserRecord>, RepoError> {
        Ok(self
            .state()
            .users
            .iter()
            .find(|u| u.identity_provider == identity_provider && u.subject == subject)
            .cloned())
    }

    async fn list(&self, query: &UserQuery) -> Result<(Vec<UserRecord>, u64), RepoError> {
        let term = search_term(&query.search);
        let mut matching: Vec<UserRecord> = self
            .state()
            .users
            .iter()
            .filter(|u| {
                term.as_deref().is_none_or(|t| {
                    contains(Some(&u.username), t)
                        || contains(u.email.as_deref(), t)
                        || contains(u.display_name.as_deref(), t)
                })
            })
            .cloned()
            .collect();
        matching.sort_by(|a, b| a.username.cmp(&b.username));
        let total = matching.len() as u64;
        let offset = usize::try_from(query.offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
        let page = matching.into_iter().skip(offset).take(limit).collect();
        Ok((page, total))
    }

    async fn update(&self, user: &UserRecord) -> Result<bool, RepoError> {
        let mut s = self.state();
        if !s.users.iter().any(|u| u.id == user.id) {
            return Ok(false);
        }
        if s.users
            .iter()
            .any(|u| u.id != user.id && u.username == user.username)
        {
            return Err(RepoError::Conflict(format!(
                "username {} is taken",
                user.username
            )));
        }
        s.check_global_role(user)?;
        if let Some(u) = s.users.iter_mut().find(|u| u.id == user.id) {
            *u = UserRecord {
                id: u.id,
                identity_provider: u.identity_provider.clone(),
                subject: u.subject.clone(),
                created_at: u.created_at,
                ..user.clone()
            };
        }
        Ok(true)
    }
}

#[async_trait]
impl MembershipRepository for InMemoryIdentity {
    async fn upsert(&self, membership: &MembershipRecord) -> Result<(), RepoError> {
        let mut s = self.state();
        let known = s
            .organizations
            .iter()
            .any(|o| o.id == membership.organization_id)
            && s.users.iter().any(|u| u.id == membership.user_id)
            && s.template(membership.role_template_id).is_some();
        if !known {
            return Err(RepoError::Conflict(format!(
                "unknown organization {}, user {} or role template {}",
                membership.organization_id, membership.user_id, membership.role_template_id
            )));
        }
        match s.memberships.iter_mut().find(|m| {
            m.organization_id == membership.organization_id && m.user_id == membership.user_id
        }) {
            Some(m) => {
                m.role_template_id = membership.role_template_id;
                m.source = membership.source;
            }
            None => s.memberships.push(membership.clone()),
        }
        Ok(())
    }

    async fn remove(&self, organization_id: Uuid, user_id: Uuid) -> Result<bool, RepoError> {
        let mut s = self.state();
        let before = s.memberships.len();
        s.memberships
            .retain(|m| !(m.organization_id == organization_id && m.user_id == user_id));
        Ok(s.memberships.len() < before)
    }

    async fn list_for_organization(
        &self,
        organization_id: Uuid,
    ) -> Result<Vec<MembershipRecord>, RepoError> {
        let mut out: Vec<_> = self
            .state()
            .memberships
            .iter()
            .filter(|m| m.organization_id == organization_id)
            .cloned()
            .collect();
        out.sort_by_key(|m| (m.created_at, m.user_id));
        Ok(out)
    }

    async fn list_for_user(&self, user_id: Uuid) -> Result<Vec<MembershipRecord>, RepoError> {
        let mut out: Vec<_> = self
            .state()
            .memberships
            .iter()
            .filter(|m| m.user_id == user_id)
            .cloned()
            .collect();
        out.sort_by_key(|m| (m.created_at, m.organization_id));
        Ok(out)
    }

    async fn grants_for_user(&self, user_id: Uuid) -> Result<Option<UserGrants>, RepoError> {
        let s = self.state();
        let Some(user) = s
            .users
            .iter()
            .find(|u| u.id == user_id && u.disabled_at.is_none())
        else {
            return Ok(None);
        };
        let scopes_of = |id: Uuid| s.template(id).map(|t| t.scopes.clone());
        let global = user
            .global_role_id
            .and_then(scopes_of)
            .unwrap_or_else(ScopeSet::default);
        let mut organizations: Vec<(Uuid, ScopeSet)> = s
            .memberships
            .iter()
            .filter(|m| m.user_id == user_id)
            .filter_map(|m| scopes_of(m.role_template_id).map(|sc| (m.organization_id, sc)))
            .collect();
        organizations.sort_by_key(|(org, _)| *org);
        Ok(Some(UserGrants {
            global,
            organizations,
        }))
    }
}
