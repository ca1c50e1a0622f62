//! Records the identity contracts insert.

use tfr_core::{Scope, ScopeSet};
use uuid::Uuid;

use super::at;
use crate::driven::{
    MembershipRecord, MembershipSource, OrganizationRecord, RoleTemplateRecord, UserRecord,
};

pub(super) fn org(name: &str, secs: i64) -> OrganizationRecord {
    OrganizationRecord {
        id: Uuid::now_v7(),
        name: name.to_string(),
        display_name: format!("The {name} team"),
        created_at: at(secs),
    }
}

pub(super) fn user(username: &str, secs: i64) -> UserRecord {
    UserRecord {
        id: Uuid::now_v7(),
        username: username.to_string(),
        email: Some(format!("{username}@example.com")),
        display_name: None,
        identity_provider: "oidc".to_string(),
        subject: format!("sub-{username}"),
        global_role_id: None,
        created_at: at(secs),
        last_login_at: None,
        disabled_at: None,
    }
}

pub(super) fn template(organization: Uuid, name: &str, scopes: &[Scope]) -> RoleTemplateRecord {
    RoleTemplateRecord {
        id: Uuid::now_v7(),
        organization_id: Some(organization),
        name: name.to_string(),
        description: format!("Can {name}"),
        scopes: ScopeSet::new(scopes.iter().copied()),
        created_at: at(0),
    }
}

pub(super) fn member(
    organization: Uuid,
    user: Uuid,
    template: Uuid,
    source: MembershipSource,
    secs: i64,
) -> MembershipRecord {
    MembershipRecord {
        organization_id: organization,
        user_id: user,
        role_template_id: template,
        source,
        created_at: at(secs),
    }
}

/// Asserts `result` is a `Conflict`.
#[track_caller]
pub(super) fn assert_conflict<T: std::fmt::Debug>(
    result: Result<T, crate::driven::RepoError>,
    what: &str,
) {
    assert!(
        matches!(result, Err(crate::driven::RepoError::Conflict(_))),
        "{what} must conflict: {result:?}"
    );
}
