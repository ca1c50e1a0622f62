//! Who a request acts as, and what it may do. Scopes are loaded at request time (from the
//! user's memberships or the key's owner), never carried in a token.

use std::collections::HashMap;

use tfr_core::{Scope, ScopeSet};
use uuid::Uuid;

use crate::driven::{KeyOwner, UserGrants};
use crate::service::ServiceError;

/// How the credential was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A browser session (JWT), in the cookie or as a bearer token.
    Session,
    /// An API key (including tokens issued by `terraform login`).
    ApiKey,
}

/// Which organizations a principal may read in, for filtering listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrganizationFilter {
    All,
    Only(Vec<Uuid>),
}

/// What a principal may do: scopes held everywhere, scopes per organization, and for a
/// user's API key a ceiling (the key's own scopes) over both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    global: ScopeSet,
    organizations: HashMap<Uuid, ScopeSet>,
    ceiling: Option<ScopeSet>,
}

impl Grants {
    pub fn new(
        global: ScopeSet,
        organizations: impl IntoIterator<Item = (Uuid, ScopeSet)>,
    ) -> Self {
        Self {
            global,
            organizations: organizations.into_iter().collect(),
            ceiling: None,
        }
    }

    pub fn from_user(grants: UserGrants) -> Self {
        Self::new(grants.global, grants.organizations)
    }

    /// What a key may do: a system key holds its scopes everywhere, an organization key
    /// within its organization, a user key within the user's current grants.
    pub fn for_key(owner: KeyOwner, key_scopes: &ScopeSet, user: Option<UserGrants>) -> Self {
        match owner {
            KeyOwner::System => Self::new(key_scopes.clone(), []),
            KeyOwner::Organization(org) => {
                Self::new(ScopeSet::default(), [(org, key_scopes.clone())])
            }
            KeyOwner::User(_) => Self {
                ceiling: Some(key_scopes.clone()),
                ..user.map(Self::from_user).unwrap_or_default()
            },
        }
    }

    fn under_ceiling(&self, scope: Scope) -> bool {
        self.ceiling.as_ref().is_none_or(|c| c.allows(scope))
    }

    /// Held everywhere (admin API routes that span organizations).
    pub fn allows_global(&self, scope: Scope) -> bool {
        self.global.allows(scope) && self.under_ceiling(scope)
    }

    /// Held in `organization` (or everywhere).
    pub fn allows_in(&self, scope: Scope, organization: Uuid) -> bool {
        (self.global.allows(scope)
            || self
                .organizations
                .get(&organization)
                .is_some_and(|s| s.allows(scope)))
            && self.under_ceiling(scope)
    }

    /// Held in at least one organization (or everywhere).
    pub fn allows_somewhere(&self, scope: Scope) -> bool {
        (self.global.allows(scope) || self.organizations.values().any(|s| s.allows(scope)))
            && self.under_ceiling(scope)
    }

    /// The organizations where `scope` is held.
    pub fn organizations_with(&self, scope: Scope) -> OrganizationFilter {
        if self.allows_global(scope) {
            return OrganizationFilter::All;
        }
        if !self.under_ceiling(scope) {
            return OrganizationFilter::Only(Vec::new());
        }
        let mut orgs: Vec<Uuid> = self
            .organizations
            .iter()
            .filter(|(_, s)| s.allows(scope))
            .map(|(org, _)| *org)
            .collect();
        orgs.sort();
        OrganizationFilter::Only(orgs)
    }

    /// The scopes held in `organization` (global ones included), under the ceiling.
    pub fn effective_in(&self, organization: Uuid) -> ScopeSet {
        ScopeSet::new(
            Scope::ALL
                .into_iter()
                .filter(|s| self.allows_in(*s, organization)),
        )
    }

    /// The scopes held everywhere, under the ceiling.
    pub fn effective_global(&self) -> ScopeSet {
        ScopeSet::new(Scope::ALL.into_iter().filter(|s| self.allows_global(*s)))
    }

    /// Every scope held somewhere, under the ceiling (the most a user's new key may get).
    pub fn scopes_anywhere(&self) -> ScopeSet {
        ScopeSet::new(Scope::ALL.into_iter().filter(|s| self.allows_somewhere(*s)))
    }

    /// Organization ids with at least one scope, sorted.
    pub fn organizations(&self) -> Vec<Uuid> {
        let mut orgs: Vec<Uuid> = self
            .organizations
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(org, _)| *org)
            .collect();
        orgs.sort();
        orgs
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user behind the request (a session, or a key a user owns).
    pub user_id: Option<Uuid>,
    /// The key presented, if the request came with an API key.
    pub key_id: Option<Uuid>,
    /// The owner of that key.
    pub key_owner: Option<KeyOwner>,
    /// Username, or the key's name. Never a secret.
    pub name: String,
    pub method: AuthMethod,
    pub grants: Grants,
}

impl Principal {
    /// `key:<id>` for API keys, `user:<id>` for sessions: what the audit log records.
    pub fn audit_id(&self) -> String {
        match (self.key_id, self.user_id) {
            (Some(key), _) => format!("key:{key}"),
            (None, Some(user)) => format!("user:{user}"),
            (None, None) => "anonymous".to_string(),
        }
    }

    pub fn require_global(&self, scope: Scope) -> Result<(), ServiceError> {
        if self.grants.allows_global(scope) {
            Ok(())
        } else {
            Err(forbidden(scope, None))
        }
    }

    pub fn require_in(&self, scope: Scope, organization: Uuid) -> Result<(), ServiceError> {
        if self.grants.allows_in(scope, organization) {
            Ok(())
        } else {
            Err(forbidden(scope, Some(organization)))
        }
    }
}

fn forbidden(scope: Scope, organization: Option<Uuid>) -> ServiceError {
    ServiceError::Forbidden(match organization {
        Some(_) => {
            format!("the {scope} scope is required in the organization that owns this resource")
        }
        None => format!("the {scope} scope is required"),
    })
}
