//! Which organization owns a namespace, and whether a principal may act in it. Consulted
//! on every namespaced request, so lookups are cached per replica (cleared here on any
//! namespace change; other replicas see it within the TTL).

use std::sync::Arc;
use std::time::Duration;

use tfr_core::Scope;
use uuid::Uuid;

use crate::driven::{DEFAULT_ORGANIZATION_ID, KeyOwner, NamespaceRecord, NamespaceRepository};
use crate::service::ServiceError;
use crate::service::access::Principal;
use crate::service::ttl_map::TtlMap;

/// The outcome of a namespace access check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceDecision {
    /// Allowed; the organization that owns (or, for a publish that creates the
    /// namespace, will own) it.
    Allowed { organization_id: Uuid },
    /// No credential, and one is needed.
    Unauthenticated,
    /// A credential without the scope there.
    Forbidden(String),
}

pub struct NamespaceAccess {
    namespaces: Arc<dyn NamespaceRepository>,
    cache: TtlMap<String, NamespaceRecord>,
    ttl: Duration,
    anonymous_read: bool,
}

impl NamespaceAccess {
    pub fn new(
        namespaces: Arc<dyn NamespaceRepository>,
        ttl: Duration,
        anonymous_read: bool,
    ) -> Self {
        Self {
            namespaces,
            cache: TtlMap::new(),
            ttl,
            anonymous_read,
        }
    }

    pub fn anonymous_read(&self) -> bool {
        self.anonymous_read
    }

    pub async fn find(&self, name: &str) -> Result<Option<Arc<NamespaceRecord>>, ServiceError> {
        let key = name.to_ascii_lowercase();
        let repo = self.namespaces.clone();
        let lookup = key.clone();
        Ok(self
            .cache
            .get_or_load(key, self.ttl, move || async move {
                repo.find_by_name(&lookup).await
            })
            .await?)
    }

    /// Forget a namespace after it was created, moved or made (non-)public here.
    pub fn invalidate(&self, name: &str) {
        self.cache.remove(&name.to_ascii_lowercase());
    }

    /// A read (`modules:read`, `providers:read`) of something in `namespace`.
    pub async fn check_read(
        &self,
        principal: Option<&Principal>,
        namespace: &str,
        scope: Scope,
    ) -> Result<NamespaceDecision, ServiceError> {
        let found = self.find(namespace).await?;
        let organization_id = found
            .as_ref()
            .map_or(DEFAULT_ORGANIZATION_ID, |n| n.organization_id);
        if self.anonymous_read || found.as_ref().is_some_and(|n| n.public) {
            return Ok(NamespaceDecision::Allowed { organization_id });
        }
        let Some(principal) = principal else {
            return Ok(NamespaceDecision::Unauthenticated);
        };
        match found {
            // Unknown: let the handler answer 404 to whoever holds the scope somewhere.
            None if principal.grants.allows_somewhere(scope) => {
                Ok(NamespaceDecision::Allowed { organization_id })
            }
            Some(ns) if principal.grants.allows_in(scope, ns.organization_id) => {
                Ok(NamespaceDecision::Allowed { organization_id })
            }
            _ => Ok(NamespaceDecision::Forbidden(format!(
                "the {scope} scope is required in the organization that owns namespace {namespace}"
            ))),
        }
    }

    /// A write (`modules:write`, `providers:write`, `organizations:write`) in `namespace`.
    /// A namespace that does not exist yet goes to the principal's organization: a key's
    /// own organization, else the only organization where the user holds the scope,
    /// else the default organization.
    pub async fn check_write(
        &self,
        principal: Option<&Principal>,
        namespace: &str,
        scope: Scope,
    ) -> Result<NamespaceDecision, ServiceError> {
        let Some(principal) = principal else {
            return Ok(NamespaceDecision::Unauthenticated);
        };
        let organization_id = match self.find(namespace).await? {
            Some(ns) => ns.organization_id,
            None => home_organization(principal, scope),
        };
        if principal.grants.allows_in(scope, organization_id) {
            Ok(NamespaceDecision::Allowed { organization_id })
        } else {
            Ok(NamespaceDecision::Forbidden(format!(
                "the {scope} scope is required in the organization that owns namespace {namespace}"
            )))
        }
    }
}

/// Where a new namespace created by `principal` goes.
fn home_organization(principal: &Principal, scope: Scope) -> Uuid {
    if let Some(KeyOwner::Organization(org)) = principal.key_owner {
        return org;
    }
    match principal.grants.organizations_with(scope) {
        crate::service::OrganizationFilter::Only(orgs) if orgs.len() == 1 => orgs[0],
        _ => DEFAULT_ORGANIZATION_ID,
    }
}
