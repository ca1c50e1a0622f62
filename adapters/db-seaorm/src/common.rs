//! Helpers shared by the repositories: write transactions, namespace rows, LIKE patterns,
//! pages, scope lists.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QuerySelect, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use tfr_core::{Namespace, Scope, ScopeSet};
use tfr_ports::driven::RepoError;
use uuid::Uuid;

use crate::entities::namespace;
use crate::error::{corrupt, db_err};

/// Starts a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so the write lock is
/// taken up front (waiting `busy_timeout`) instead of failing on a read-to-write upgrade;
/// PostgreSQL ignores the mode.
pub(crate) async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, RepoError> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
    .map_err(db_err)
}

/// The namespace row for `ns`, created (with `ns`'s display case, in `organization`, not
/// public) when missing; an existing namespace keeps its organization.
pub(crate) async fn ensure_namespace(
    txn: &impl ConnectionTrait,
    ns: &Namespace,
    organization: Uuid,
    now: DateTime<Utc>,
) -> Result<namespace::Model, RepoError> {
    let key = ns.key();
    namespace::Entity::insert(namespace::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(ns.as_str().to_string()),
        name_key: Set(key.clone()),
        created_at: Set(now),
        organization_id: Set(organization),
        public: Set(false),
    })
    .on_conflict_do_nothing_on([namespace::Column::NameKey])
    .exec_without_returning(txn)
    .await
    .map_err(db_err)?;
    namespace::Entity::find()
        .filter(namespace::Column::NameKey.eq(key.as_str()))
        .one(txn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| {
            corrupt(
                "namespaces",
                format!("namespace {key:?} vanished after insert"),
            )
        })
}

/// Read protection on a query joined with `namespaces`: owned by one of `organizations`,
/// or public. An empty list leaves only public namespaces.
pub(crate) fn visible_in(organizations: &[Uuid]) -> Condition {
    Condition::any()
        .add(namespace::Column::OrganizationId.is_in(organizations.iter().copied()))
        .add(namespace::Column::Public.eq(true))
}

/// A case-insensitive substring pattern: lower-cased, with `%`, `_` and `\` escaped.
pub(crate) fn contains_pattern(search: &str) -> LikeExpr {
    let mut pattern = String::with_capacity(search.len() + 2);
    pattern.push('%');
    for c in search.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    LikeExpr::new(pattern).escape('\\')
}

/// `LOWER(expr) LIKE pattern ESCAPE '\'`, portable (SQLite has no ILIKE).
pub(crate) fn lower_like(expr: impl Into<Expr>, search: &str) -> Expr {
    Expr::expr(Func::lower(expr.into())).like(contains_pattern(search))
}

/// The search term, when it is not blank.
pub(crate) fn search_term(search: &Option<String>) -> Option<&str> {
    search.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `LIMIT`/`OFFSET` values that fit a signed BIGINT, with one extra row for `has_more`.
fn page_bounds(offset: u64, limit: u64) -> (u64, u64) {
    let max = i64::MAX as u64;
    (
        Ord::min(offset, max),
        Ord::min(limit.saturating_add(1), max),
    )
}

/// One page of `query` (already filtered and ordered): at most `limit` rows from `offset`,
/// read by `all`, and whether more rows follow (known from one extra row fetched).
pub(crate) async fn fetch_page<Q, T, Fut>(
    query: Q,
    offset: u64,
    limit: u64,
    all: impl FnOnce(Q) -> Fut,
) -> Result<(Vec<T>, bool), RepoError>
where
    Q: QuerySelect,
    Fut: Future<Output = Result<Vec<T>, DbErr>>,
{
    let (offset, fetch) = page_bounds(offset, limit);
    let mut rows = all(query.offset(offset).limit(fetch))
        .await
        .map_err(db_err)?;
    let has_more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok((rows, has_more))
}

/// A scope set as stored: a JSON array of scope strings.
pub(crate) fn scopes_to_json(
    table: &'static str,
    scopes: &ScopeSet,
) -> Result<serde_json::Value, RepoError> {
    serde_json::to_value(scopes.to_strings()).map_err(|e| corrupt(table, e.to_string()))
}

/// A stored scope list. A scope this build no longer knows is dropped (with a warning)
/// rather than making the row unreadable: its holder simply loses it.
pub(crate) fn scopes_from_json(
    table: &'static str,
    id: Uuid,
    value: serde_json::Value,
) -> Result<ScopeSet, RepoError> {
    let names: Vec<String> =
        serde_json::from_value(value).map_err(|e| corrupt(table, e.to_string()))?;
    Ok(ScopeSet::new(names.iter().filter_map(
        |name| match Scope::from_str(name) {
            Ok(scope) => Some(scope),
            Err(_) => {
                tracing::warn!(table, %id, scope = %name, "ignoring unknown stored scope");
                None
            }
        },
    )))
}
