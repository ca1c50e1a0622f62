//! `InMemoryAuditRepository`.

use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::driven::{AuditQuery, AuditRecord, AuditRepository, RepoError};

/// The audit log in memory.
#[derive(Debug, Default)]
pub struct InMemoryAuditRepository(Mutex<Vec<AuditRecord>>);

impl InMemoryAuditRepository {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every record, in the order appended (for assertions).
    pub fn all(&self) -> Vec<AuditRecord> {
        lock(&self.0).clone()
    }
}

fn matches(r: &AuditRecord, q: &AuditQuery) -> bool {
    q.action.as_ref().is_none_or(|a| *a == r.action)
        && q.resource
            .as_ref()
            .is_none_or(|p| r.resource.starts_with(p.as_str()))
        && q.principal
            .as_ref()
            .is_none_or(|p| r.principal.as_ref() == Some(p))
        && q.outcome.is_none_or(|o| o == r.outcome)
        && q.organization_id
            .is_none_or(|o| r.organization_id == Some(o))
        && q.since.is_none_or(|since| r.at >= since)
        && q.until.is_none_or(|until| r.at < until)
}

#[async_trait]
impl AuditRepository for InMemoryAuditRepository {
    async fn append(&self, record: &AuditRecord) -> Result<(), RepoError> {
        let mut all = lock(&self.0);
        if all.iter().any(|r| r.id == record.id) {
            return Err(RepoError::Conflict(format!(
                "audit record {} already exists",
                record.id
            )));
        }
        all.push(record.clone());
        Ok(())
    }

    async fn query(&self, query: &AuditQuery) -> Result<(Vec<AuditRecord>, u64), RepoError> {
        let mut found: Vec<AuditRecord> = lock(&self.0)
            .iter()
            .filter(|r| matches(r, query))
            .cloned()
            .collect();
        found.sort_by_key(|r| std::cmp::Reverse((r.at, r.id)));
        let total = found.len() as u64;
        let offset = usize::try_from(query.offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
        Ok((found.into_iter().skip(offset).take(limit).collect(), total))
    }
}
