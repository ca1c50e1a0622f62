//! Identity: organizations, role templates, users, memberships, namespace ownership, API
//! key owners, the audit log, revoked sessions and `terraform login` codes.
//!
//! New tables declare their foreign keys inside `create_table` on both backends. Columns
//! added to existing tables (`namespaces.organization_id`, `api_keys.user_id`,
//! `api_keys.organization_id`) get their foreign keys on PostgreSQL only: SQLite can add
//! neither a `REFERENCES` column with a non-null default (with foreign keys on) nor drop a
//! column that has one, and rebuilding `namespaces` would cascade-delete every module. On
//! SQLite the repositories enforce those rules in their (serialised) write transactions.
//!
//! UUIDs are stored natively on PostgreSQL and as 16-byte blobs on SQLite (how sqlx binds
//! them), so the default organization id is written per backend.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::prelude::{ChronoDateTimeUtc, Uuid};
use sea_orm_migration::sea_orm::{DbBackend, JsonValue};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Must equal `tfr_ports::driven::DEFAULT_ORGANIZATION_ID` (tested in tfr-db-seaorm).
pub const DEFAULT_ORGANIZATION_ID: Uuid = Uuid::from_u128(0x00000000_0000_7000_8000_000000000001);
/// Must equal the `*_TEMPLATE_ID` constants of `tfr_ports::driven`.
pub const VIEWER_TEMPLATE_ID: Uuid = Uuid::from_u128(0x00000000_0000_7000_8000_000000000101);
pub const PUBLISHER_TEMPLATE_ID: Uuid = Uuid::from_u128(0x00000000_0000_7000_8000_000000000102);
pub const ADMIN_TEMPLATE_ID: Uuid = Uuid::from_u128(0x00000000_0000_7000_8000_000000000103);
pub const AUDITOR_TEMPLATE_ID: Uuid = Uuid::from_u128(0x00000000_0000_7000_8000_000000000104);

/// The seeded rows' `created_at`: 2026-11-26T00:00:00Z.
const SEEDED_AT: i64 = 1_795_651_200;

/// The system role templates: id, name, description, scopes.
const SYSTEM_TEMPLATES: [(Uuid, &str, &str, &[&str]); 4] = [
    (
        VIEWER_TEMPLATE_ID,
        "viewer",
        "Reads modules, providers and mirrors.",
        &["modules:read", "providers:read", "mirrors:read"],
    ),
    (
        PUBLISHER_TEMPLATE_ID,
        "publisher",
        "Publishes and deletes modules and providers; reads mirrors.",
        &["modules:write", "providers:write", "mirrors:read"],
    ),
    (
        ADMIN_TEMPLATE_ID,
        "admin",
        "Everything, including users, organizations and keys.",
        &["admin:*"],
    ),
    (
        AUDITOR_TEMPLATE_ID,
        "auditor",
        "Reads the audit log and everything else, changes nothing.",
        &[
            "audit:read",
            "modules:read",
            "providers:read",
            "mirrors:read",
            "users:read",
            "organizations:read",
        ],
    ),
];

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Name,
    DisplayName,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RoleTemplates {
    Table,
    Id,
    OrganizationId,
    Name,
    Description,
    Scopes,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    Email,
    DisplayName,
    IdentityProvider,
    Subject,
    GlobalRoleId,
    CreatedAt,
    LastLoginAt,
    DisabledAt,
}

#[derive(DeriveIden)]
enum OrganizationMembers {
    Table,
    OrganizationId,
    UserId,
    RoleTemplateId,
    Source,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Namespaces {
    Table,
    OrganizationId,
    Public,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    UserId,
    OrganizationId,
}

#[derive(DeriveIden)]
enum AuditLogs {
    Table,
    Id,
    At,
    Principal,
    PrincipalName,
    OrganizationId,
    Action,
    Resource,
    Outcome,
    Status,
    ClientIp,
    RequestId,
    Detail,
}

#[derive(DeriveIden)]
enum RevokedSessions {
    Table,
    Jti,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum LoginCodes {
    Table,
    CodeHash,
    UserId,
    ClientId,
    RedirectUri,
    CodeChallenge,
    ExpiresAt,
}

/// Shared with `organizations`: every table keyed by id.
#[derive(DeriveIden)]
enum Common {
    Id,
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: impl IntoIden,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to, Common::Id)
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::NoAction)
        .to_owned()
}

fn index(
    name: &str,
    table: impl IntoIden,
    cols: Vec<DynIden>,
    unique: bool,
) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(col);
    }
    if unique {
        stmt.unique();
    }
    stmt.to_owned()
}

fn tables() -> Vec<TableCreateStatement> {
    vec![
        Table::create()
            .table(Organizations::Table)
            .col(pk_uuid(Organizations::Id))
            .col(string(Organizations::Name))
            .col(string(Organizations::DisplayName))
            .col(timestamp_with_time_zone(Organizations::CreatedAt))
            .to_owned(),
        Table::create()
            .table(RoleTemplates::Table)
            .col(pk_uuid(RoleTemplates::Id))
            .col(uuid_null(RoleTemplates::OrganizationId))
            .col(string(RoleTemplates::Name))
            .col(text(RoleTemplates::Description))
            .col(json_binary(RoleTemplates::Scopes))
            .col(timestamp_with_time_zone(RoleTemplates::CreatedAt))
            .foreign_key(&mut fk(
                "fk_role_templates_organization",
                (RoleTemplates::Table, RoleTemplates::OrganizationId),
                Organizations::Table,
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
        Table::create()
            .table(Users::Table)
            .col(pk_uuid(Users::Id))
            .col(string(Users::Username))
            .col(string_null(Users::Email))
            .col(string_null(Users::DisplayName))
            .col(string(Users::IdentityProvider))
            .col(string(Users::Subject))
            .col(uuid_null(Users::GlobalRoleId))
            .col(timestamp_with_time_zone(Users::CreatedAt))
            .col(timestamp_with_time_zone_null(Users::LastLoginAt))
            .col(timestamp_with_time_zone_null(Users::DisabledAt))
            // NO ACTION (checked at the end of the statement): a template still held is
            // refused, yet cascades that remove holder and template together succeed.
            .foreign_key(&mut fk(
                "fk_users_global_role",
                (Users::Table, Users::GlobalRoleId),
                RoleTemplates::Table,
                ForeignKeyAction::NoAction,
            ))
            .to_owned(),
        Table::create()
            .table(OrganizationMembers::Table)
            .col(uuid(OrganizationMembers::OrganizationId))
            .col(uuid(OrganizationMembers::UserId))
            .col(uuid(OrganizationMembers::RoleTemplateId))
            .col(string(OrganizationMembers::Source))
            .col(timestamp_with_time_zone(OrganizationMembers::CreatedAt))
            .primary_key(
                Index::create()
                    .col(OrganizationMembers::OrganizationId)
                    .col(OrganizationMembers::UserId),
            )
            .foreign_key(&mut fk(
                "fk_organization_members_organization",
                (
                    OrganizationMembers::Table,
                    OrganizationMembers::OrganizationId,
                ),
                Organizations::Table,
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_organization_members_user",
                (OrganizationMembers::Table, OrganizationMembers::UserId),
                Users::Table,
                ForeignKeyAction::Cascade,
            ))
            .foreign_key(&mut fk(
                "fk_organization_members_role_template",
                (
                    OrganizationMembers::Table,
                    OrganizationMembers::RoleTemplateId,
                ),
                RoleTemplates::Table,
                ForeignKeyAction::NoAction,
            ))
            .to_owned(),
        Table::create()
            .table(AuditLogs::Table)
            .col(pk_uuid(AuditLogs::Id))
            .col(timestamp_with_time_zone(AuditLogs::At))
            .col(string_null(AuditLogs::Principal))
            .col(string_null(AuditLogs::PrincipalName))
            .col(uuid_null(AuditLogs::OrganizationId))
            .col(string(AuditLogs::Action))
            .col(text(AuditLogs::Resource))
            .col(string(AuditLogs::Outcome))
            .col(integer(AuditLogs::Status))
            .col(string_null(AuditLogs::ClientIp))
            .col(string_null(AuditLogs::RequestId))
            .col(text_null(AuditLogs::Detail))
            .to_owned(),
        Table::create()
            .table(RevokedSessions::Table)
            .col(string(RevokedSessions::Jti).primary_key())
            .col(timestamp_with_time_zone(RevokedSessions::ExpiresAt))
            .to_owned(),
        Table::create()
            .table(LoginCodes::Table)
            .col(string(LoginCodes::CodeHash).primary_key())
            .col(uuid(LoginCodes::UserId))
            .col(string(LoginCodes::ClientId))
            .col(text(LoginCodes::RedirectUri))
            .col(string(LoginCodes::CodeChallenge))
            .col(timestamp_with_time_zone(LoginCodes::ExpiresAt))
            .foreign_key(&mut fk(
                "fk_login_codes_user",
                (LoginCodes::Table, LoginCodes::UserId),
                Users::Table,
                ForeignKeyAction::Cascade,
            ))
            .to_owned(),
    ]
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        index(
            "ux_organizations_name",
            Organizations::Table,
            vec![Organizations::Name.into_iden()],
            true,
        ),
        // NULLs are distinct: system templates (no organization) are unique by the
        // application only.
        index(
            "ux_role_templates_organization_name",
            RoleTemplates::Table,
            vec![
                RoleTemplates::OrganizationId.into_iden(),
                RoleTemplates::Name.into_iden(),
            ],
            true,
        ),
        index(
            "ux_users_username",
            Users::Table,
            vec![Users::Username.into_iden()],
            true,
        ),
        index(
            "ux_users_provider_subject",
            Users::Table,
            vec![
                Users::IdentityProvider.into_iden(),
                Users::Subject.into_iden(),
            ],
            true,
        ),
        index(
            "ix_users_email",
            Users::Table,
            vec![Users::Email.into_iden()],
            false,
        ),
        index(
            "ix_users_global_role",
            Users::Table,
            vec![Users::GlobalRoleId.into_iden()],
            false,
        ),
        index(
            "ix_organization_members_user",
            OrganizationMembers::Table,
            vec![OrganizationMembers::UserId.into_iden()],
            false,
        ),
        index(
            "ix_organization_members_role_template",
            OrganizationMembers::Table,
            vec![OrganizationMembers::RoleTemplateId.into_iden()],
            false,
        ),
        index(
            "ix_audit_logs_at",
            AuditLogs::Table,
            vec![AuditLogs::At.into_iden()],
            false,
        ),
        index(
            "ix_audit_logs_principal",
            AuditLogs::Table,
            vec![AuditLogs::Principal.into_iden()],
            false,
        ),
        index(
            "ix_audit_logs_action",
            AuditLogs::Table,
            vec![AuditLogs::Action.into_iden()],
            false,
        ),
        index(
            "ix_audit_logs_organization",
            AuditLogs::Table,
            vec![AuditLogs::OrganizationId.into_iden()],
            false,
        ),
        index(
            "ix_revoked_sessions_expires_at",
            RevokedSessions::Table,
            vec![RevokedSessions::ExpiresAt.into_iden()],
            false,
        ),
        index(
            "ix_login_codes_expires_at",
            LoginCodes::Table,
            vec![LoginCodes::ExpiresAt.into_iden()],
            false,
        ),
    ]
}

/// Indexes on the columns added to existing tables (dropped before the columns in `down`:
/// SQLite cannot drop an indexed column).
const ADDED_COLUMN_INDEXES: [&str; 3] = [
    "ix_namespaces_organization",
    "ix_api_keys_user",
    "ix_api_keys_organization",
];

fn added_column_indexes() -> [IndexCreateStatement; 3] {
    [
        index(
            ADDED_COLUMN_INDEXES[0],
            Namespaces::Table,
            vec![Namespaces::OrganizationId.into_iden()],
            false,
        ),
        index(
            ADDED_COLUMN_INDEXES[1],
            ApiKeys::Table,
            vec![ApiKeys::UserId.into_iden()],
            false,
        ),
        index(
            ADDED_COLUMN_INDEXES[2],
            ApiKeys::Table,
            vec![ApiKeys::OrganizationId.into_iden()],
            false,
        ),
    ]
}

/// The default organization id as a column default: a native UUID on PostgreSQL, the
/// 16-byte blob sqlx writes on SQLite.
fn default_organization(backend: DbBackend) -> Expr {
    match backend {
        DbBackend::Sqlite => Expr::val(Value::Bytes(Some(
            DEFAULT_ORGANIZATION_ID.as_bytes().to_vec(),
        ))),
        _ => Expr::val(DEFAULT_ORGANIZATION_ID),
    }
}

/// One `ALTER TABLE ... ADD COLUMN` per statement (SQLite takes one at a time).
fn add_column(table: impl IntoIden, column: ColumnDef) -> TableAlterStatement {
    Table::alter().table(table).add_column(column).to_owned()
}

async fn add_columns(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    let mut organization = uuid(Namespaces::OrganizationId);
    organization.default(default_organization(backend));
    manager
        .alter_table(add_column(Namespaces::Table, organization))
        .await?;
    manager
        .alter_table(add_column(
            Namespaces::Table,
            boolean(Namespaces::Public).default(false).to_owned(),
        ))
        .await?;
    manager
        .alter_table(add_column(ApiKeys::Table, uuid_null(ApiKeys::UserId)))
        .await?;
    manager
        .alter_table(add_column(
            ApiKeys::Table,
            uuid_null(ApiKeys::OrganizationId),
        ))
        .await?;
    if backend == DbBackend::Postgres {
        for stmt in [
            fk(
                "fk_namespaces_organization",
                (Namespaces::Table, Namespaces::OrganizationId),
                Organizations::Table,
                ForeignKeyAction::NoAction,
            ),
            fk(
                "fk_api_keys_user",
                (ApiKeys::Table, ApiKeys::UserId),
                Users::Table,
                ForeignKeyAction::Cascade,
            ),
            fk(
                "fk_api_keys_organization",
                (ApiKeys::Table, ApiKeys::OrganizationId),
                Organizations::Table,
                ForeignKeyAction::NoAction,
            ),
        ] {
            manager.create_foreign_key(stmt).await?;
        }
    }
    Ok(())
}

async fn seed(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let created_at = ChronoDateTimeUtc::from_timestamp(SEEDED_AT, 0)
        .ok_or_else(|| DbErr::Custom("invalid seed timestamp".into()))?;
    manager
        .exec_stmt(
            Query::insert()
                .into_table(Organizations::Table)
                .columns([
                    Organizations::Id,
                    Organizations::Name,
                    Organizations::DisplayName,
                    Organizations::CreatedAt,
                ])
                .values([
                    DEFAULT_ORGANIZATION_ID.into(),
                    "default".into(),
                    "Default organization".into(),
                    created_at.into(),
                ])
                .map_err(|e| DbErr::Custom(e.to_string()))?
                .to_owned(),
        )
        .await?;
    let mut templates = Query::insert();
    templates.into_table(RoleTemplates::Table).columns([
        RoleTemplates::Id,
        RoleTemplates::OrganizationId,
        RoleTemplates::Name,
        RoleTemplates::Description,
        RoleTemplates::Scopes,
        RoleTemplates::CreatedAt,
    ]);
    for (id, name, description, scopes) in SYSTEM_TEMPLATES {
        templates
            .values([
                id.into(),
                Value::Uuid(None).into(),
                name.into(),
                description.into(),
                JsonValue::from(scopes.to_vec()).into(),
                created_at.into(),
            ])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
    }
    manager.exec_stmt(templates).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        seed(manager).await?;
        add_columns(manager).await?;
        for index in added_column_indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ADDED_COLUMN_INDEXES {
            manager
                .drop_index(Index::drop().name(name).to_owned())
                .await?;
        }
        // Dropping a column drops its PostgreSQL foreign key with it.
        let drops: [(DynIden, DynIden); 4] = [
            (
                ApiKeys::Table.into_iden(),
                ApiKeys::OrganizationId.into_iden(),
            ),
            (ApiKeys::Table.into_iden(), ApiKeys::UserId.into_iden()),
            (
                Namespaces::Table.into_iden(),
                Namespaces::Public.into_iden(),
            ),
            (
                Namespaces::Table.into_iden(),
                Namespaces::OrganizationId.into_iden(),
            ),
        ];
        for (table, column) in drops {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        let tables: [DynIden; 7] = [
            LoginCodes::Table.into_iden(),
            RevokedSessions::Table.into_iden(),
            AuditLogs::Table.into_iden(),
            OrganizationMembers::Table.into_iden(),
            Users::Table.into_iden(),
            RoleTemplates::Table.into_iden(),
            Organizations::Table.into_iden(),
        ];
        for table in tables {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }

    /// Never leave a half-applied migration.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
