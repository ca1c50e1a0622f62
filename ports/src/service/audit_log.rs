//! The audit log: one row per mutating request (allowed, denied or failed) and per login.
//! Rows are appended, never changed; they hold names and ids, never secrets.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::driven::{AuditOutcome, AuditQuery, AuditRecord, AuditRepository, Clock};
use crate::service::ServiceError;
use crate::service::access::Principal;

/// Longest detail kept (error messages are short; this bounds a hostile one).
const MAX_DETAIL: usize = 500;
pub const MAX_PAGE: u64 = 500;

/// What happened, as the HTTP layer saw it.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub action: String,
    pub resource: String,
    pub outcome: AuditOutcome,
    pub status: u16,
    pub organization_id: Option<Uuid>,
    pub client_ip: Option<String>,
    pub request_id: Option<String>,
    pub detail: Option<String>,
}

/// A principal as recorded: for logins, the user signing in.
#[derive(Debug, Clone, Default)]
pub struct AuditActor {
    pub id: Option<String>,
    pub name: Option<String>,
}

impl From<&Principal> for AuditActor {
    fn from(p: &Principal) -> Self {
        Self {
            id: Some(p.audit_id()),
            name: Some(p.name.clone()),
        }
    }
}

pub struct AuditLog {
    repo: Arc<dyn AuditRepository>,
    clock: Arc<dyn Clock>,
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

impl AuditLog {
    pub fn new(repo: Arc<dyn AuditRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { repo, clock }
    }

    /// Appends a row. A failure is logged and returned; callers that already answered
    /// the client log it and go on.
    pub async fn record(&self, actor: AuditActor, event: AuditEvent) -> Result<(), ServiceError> {
        let record = AuditRecord {
            id: Uuid::now_v7(),
            at: self.clock.now(),
            principal: actor.id,
            principal_name: actor.name.map(|n| truncate(n, 200)),
            organization_id: event.organization_id,
            action: truncate(event.action, 100),
            resource: truncate(event.resource, 500),
            outcome: event.outcome,
            status: event.status,
            client_ip: event.client_ip.map(|ip| truncate(ip, 100)),
            request_id: event.request_id.map(|id| truncate(id, 100)),
            detail: event.detail.map(|d| truncate(d, MAX_DETAIL)),
        };
        if let Err(err) = self.repo.append(&record).await {
            tracing::error!(error = %err, action = %record.action, resource = %record.resource,
                outcome = record.outcome.as_str(), "could not write the audit log");
            return Err(err.into());
        }
        Ok(())
    }

    /// Newest first, with the total count. Limits are clamped to 1..=500.
    pub async fn query(
        &self,
        mut query: AuditQuery,
    ) -> Result<(Vec<AuditRecord>, u64), ServiceError> {
        query.limit = query.limit.clamp(1, MAX_PAGE);
        if let (Some(since), Some(until)) = (query.since, query.until)
            && since >= until
        {
            return Err(ServiceError::invalid(
                "time_range",
                "`since` must be before `until`",
            ));
        }
        Ok(self.repo.query(&query).await?)
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
