//! `AuditRepository` on sea-orm: append and filtered, paginated reads, newest first.

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select,
};
use tfr_ports::driven::{AuditOutcome, AuditQuery, AuditRecord, AuditRepository, RepoError};

use crate::entities::audit_log;
use crate::error::{corrupt, db_err, db_err_conflict};

const TABLE: &str = "audit_logs";

/// The audit log, backed by a sea-orm connection pool.
#[derive(Debug, Clone)]
pub struct SeaOrmAuditRepository {
    db: DatabaseConnection,
}

impl SeaOrmAuditRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn record(row: audit_log::Model) -> Result<AuditRecord, RepoError> {
    Ok(AuditRecord {
        outcome: AuditOutcome::parse(&row.outcome)
            .ok_or_else(|| corrupt(TABLE, format!("unknown outcome {:?}", row.outcome)))?,
        status: u16::try_from(row.status)
            .map_err(|_| corrupt(TABLE, format!("status {} out of range", row.status)))?,
        id: row.id,
        at: row.at,
        principal: row.principal,
        principal_name: row.principal_name,
        organization_id: row.organization_id,
        action: row.action,
        resource: row.resource,
        client_ip: row.client_ip,
        request_id: row.request_id,
        detail: row.detail,
    })
}

/// The query's filters. The resource prefix is compared exactly (`SUBSTR`), since `LIKE`
/// ignores case on SQLite but not on PostgreSQL.
fn filtered(query: &AuditQuery) -> Select<audit_log::Entity> {
    let mut select = audit_log::Entity::find();
    if let Some(action) = &query.action {
        select = select.filter(audit_log::Column::Action.eq(action.as_str()));
    }
    if let Some(prefix) = query.resource.as_deref().filter(|p| !p.is_empty()) {
        let len = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
        select = select.filter(
            Expr::expr(Func::cust("SUBSTR").args([
                Expr::col(audit_log::Column::Resource),
                Expr::val(1i32),
                Expr::val(len),
            ]))
            .eq(prefix),
        );
    }
    if let Some(principal) = &query.principal {
        select = select.filter(audit_log::Column::Principal.eq(principal.as_str()));
    }
    if let Some(outcome) = query.outcome {
        select = select.filter(audit_log::Column::Outcome.eq(outcome.as_str()));
    }
    if let Some(org) = query.organization_id {
        select = select.filter(audit_log::Column::OrganizationId.eq(org));
    }
    if let Some(since) = query.since {
        select = select.filter(audit_log::Column::At.gte(since));
    }
    if let Some(until) = query.until {
        select = select.filter(audit_log::Column::At.lt(until));
    }
    select
}

#[async_trait]
impl AuditRepository for SeaOrmAuditRepository {
    async fn append(&self, r: &AuditRecord) -> Result<(), RepoError> {
        audit_log::Entity::insert(audit_log::ActiveModel {
            id: Set(r.id),
            at: Set(r.at),
            principal: Set(r.principal.clone()),
            principal_name: Set(r.principal_name.clone()),
            organization_id: Set(r.organization_id),
            action: Set(r.action.clone()),
            resource: Set(r.resource.clone()),
            outcome: Set(r.outcome.as_str().to_string()),
            status: Set(i32::from(r.status)),
            client_ip: Set(r.client_ip.clone()),
            request_id: Set(r.request_id.clone()),
            detail: Set(r.detail.clone()),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(|e| db_err_conflict(e, || format!("audit record {} already exists", r.id)))?;
        Ok(())
    }

    async fn query(&self, query: &AuditQuery) -> Result<(Vec<AuditRecord>, u64), RepoError> {
        let select = filtered(query);
        let total = select.clone().count(&self.db).await.map_err(db_err)?;
        let max = i64::MAX as u64;
        let rows = select
            .order_by_desc(audit_log::Column::At)
            .order_by_desc(audit_log::Column::Id)
            .offset(Ord::min(query.offset, max))
            .limit(Ord::min(query.limit, max))
            .all(&self.db)
            .await
            .map_err(db_err)?;
        let records = rows.into_iter().map(record).collect::<Result<_, _>>()?;
        Ok((records, total))
    }
}
