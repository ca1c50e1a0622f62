//! Scopes granted to API keys. Write implies read; `admin:*` implies everything.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown scope {0:?} (known: modules:read, modules:write, providers:read, providers:write, mirrors:read, mirrors:manage, users:read, users:write, organizations:read, organizations:write, audit:read, admin:*)"
)]
pub struct ScopeError(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    ModulesRead,
    ModulesWrite,
    ProvidersRead,
    ProvidersWrite,
    MirrorsRead,
    MirrorsManage,
    UsersRead,
    UsersWrite,
    OrganizationsRead,
    OrganizationsWrite,
    AuditRead,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 12] = [
        Scope::ModulesRead,
        Scope::ModulesWrite,
        Scope::ProvidersRead,
        Scope::ProvidersWrite,
        Scope::MirrorsRead,
        Scope::MirrorsManage,
        Scope::UsersRead,
        Scope::UsersWrite,
        Scope::OrganizationsRead,
        Scope::OrganizationsWrite,
        Scope::AuditRead,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ModulesRead => "modules:read",
            Scope::ModulesWrite => "modules:write",
            Scope::ProvidersRead => "providers:read",
            Scope::ProvidersWrite => "providers:write",
            Scope::MirrorsRead => "mirrors:read",
            Scope::MirrorsManage => "mirrors:manage",
            Scope::UsersRead => "users:read",
            Scope::UsersWrite => "users:write",
            Scope::OrganizationsRead => "organizations:read",
            Scope::OrganizationsWrite => "organizations:write",
            Scope::AuditRead => "audit:read",
            Scope::Admin => "admin:*",
        }
    }

    /// Whether holding `self` grants `required`.
    pub fn grants(self, required: Scope) -> bool {
        self == required
            || self == Scope::Admin
            || matches!(
                (self, required),
                (Scope::ModulesWrite, Scope::ModulesRead)
                    | (Scope::ProvidersWrite, Scope::ProvidersRead)
                    | (Scope::MirrorsManage, Scope::MirrorsRead)
                    | (Scope::UsersWrite, Scope::UsersRead)
                    | (Scope::OrganizationsWrite, Scope::OrganizationsRead)
            )
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s.trim())
            .ok_or_else(|| ScopeError(s.to_string()))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Self {
        Self(scopes.into_iter().collect())
    }

    /// Parses a comma-separated list such as `modules:write,providers:read`.
    pub fn parse_list(list: &str) -> Result<Self, ScopeError> {
        list.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(Scope::from_str)
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    pub fn allows(&self, required: Scope) -> bool {
        self.0.iter().any(|held| held.grants(required))
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether everything in `self` is granted by `other` (a key's scopes against its
    /// owner's).
    pub fn is_within(&self, other: &ScopeSet) -> bool {
        self.iter().all(|scope| other.allows(scope))
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.iter().map(|s| s.as_str().to_string()).collect()
    }
}
