//! The administration tests' setup and error assertions.

use tfr_core::Scope::{self, *};
use tfr_ports::driven::{ADMIN_TEMPLATE_ID, OrganizationRecord};
use tfr_ports::service::{Principal, ServiceError};

use super::World;

/// The error of a call that must fail (results holding a secret are not `Debug`).
#[track_caller]
pub fn error_of<T>(result: Result<T, ServiceError>) -> ServiceError {
    match result {
        Ok(_) => panic!("expected an error, got Ok"),
        Err(e) => e,
    }
}

#[track_caller]
pub fn assert_invalid<T>(result: Result<T, ServiceError>, field: &str) {
    match error_of(result) {
        ServiceError::Invalid { check, .. } if check == field => {}
        other => panic!("expected Invalid({field}), got {other:?}"),
    }
}

#[track_caller]
pub fn assert_forbidden<T>(result: Result<T, ServiceError>) {
    let e = error_of(result);
    assert!(
        matches!(e, ServiceError::Forbidden(_)),
        "expected Forbidden, got {e:?}"
    );
}

#[track_caller]
pub fn assert_conflict<T>(result: Result<T, ServiceError>) {
    let e = error_of(result);
    assert!(
        matches!(e, ServiceError::Conflict(_)),
        "expected Conflict, got {e:?}"
    );
}

#[track_caller]
pub fn assert_not_found<T>(result: Result<T, ServiceError>) {
    let e = error_of(result);
    assert!(
        matches!(e, ServiceError::NotFound(_)),
        "expected NotFound, got {e:?}"
    );
}

/// Two organizations, a global admin and an organization lead of `platform` whose role
/// lacks `providers:write`.
pub struct Setup {
    pub w: World,
    pub platform: OrganizationRecord,
    pub data: OrganizationRecord,
    pub root: Principal,
    pub lead: Principal,
}

pub const LEAD_SCOPES: [Scope; 5] = [
    ModulesWrite,
    ProvidersRead,
    MirrorsRead,
    UsersWrite,
    OrganizationsWrite,
];

pub async fn setup() -> Setup {
    let w = World::new();
    let platform = w.org("platform").await;
    let data = w.org("data").await;
    let root = w.global_user("root", ADMIN_TEMPLATE_ID).await;
    let root = w.session_principal(root.id).await;
    let lead_role = w.template(platform.id, "lead", &LEAD_SCOPES).await;
    let lead = w.user("lead").await;
    w.member(platform.id, lead.id, lead_role.id).await;
    let lead = w.session_principal(lead.id).await;
    Setup {
        w,
        platform,
        data,
        root,
        lead,
    }
}
