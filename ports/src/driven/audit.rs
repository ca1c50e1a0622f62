//! The audit log port: append-only. Nothing in the API changes or deletes a row.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::driven::RepoError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOutcome {
    Success,
    /// Refused by authentication or authorization (401/403/429).
    Denied,
    /// Authorized but failed (a client mistake or a server error).
    Failed,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Denied => "denied",
            AuditOutcome::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(AuditOutcome::Success),
            "denied" => Some(AuditOutcome::Denied),
            "failed" => Some(AuditOutcome::Failed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// `user:<id>`, `key:<id>`, or `None` when no credential was accepted.
    pub principal: Option<String>,
    /// Human-readable: the username or the key name. Never a secret.
    pub principal_name: Option<String>,
    pub organization_id: Option<Uuid>,
    /// Dotted verb such as `module.publish`, `api_key.create`, `auth.login`.
    pub action: String,
    /// What was acted on, such as `module:hashicorp/consul/aws/1.2.0`.
    pub resource: String,
    pub outcome: AuditOutcome,
    /// The HTTP status answered.
    pub status: u16,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    /// A short reason for denied and failed outcomes.
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub action: Option<String>,
    /// Prefix match (`module:hashicorp/` finds every module in that namespace).
    pub resource: Option<String>,
    /// Exact principal (`user:<id>` or `key:<id>`).
    pub principal: Option<String>,
    pub outcome: Option<AuditOutcome>,
    pub organization_id: Option<Uuid>,
    /// Inclusive.
    pub since: Option<DateTime<Utc>>,
    /// Exclusive.
    pub until: Option<DateTime<Utc>>,
    pub offset: u64,
    pub limit: u64,
}

#[async_trait]
pub trait AuditRepository: Send + Sync {
    async fn append(&self, record: &AuditRecord) -> Result<(), RepoError>;
    /// Newest first; with the total matching count.
    async fn query(&self, query: &AuditQuery) -> Result<(Vec<AuditRecord>, u64), RepoError>;
}
