//! `Grants` and `Principal`: global and per-organization scopes, the ceiling a user's key
//! puts over its owner's grants, organization and system keys.
#![cfg(feature = "testkit")]

mod identity_common;

use tfr_core::Scope::{self, *};
use tfr_ports::driven::{KeyOwner, UserGrants};
use tfr_ports::service::{AuthMethod, Grants, OrganizationFilter, Principal, ServiceError};
use uuid::Uuid;

use identity_common::scopes;

fn orgs() -> (Uuid, Uuid, Uuid) {
    let mut ids = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
    ids.sort();
    (ids[0], ids[1], ids[2])
}

fn user_grants(global: &[Scope], organizations: &[(Uuid, &[Scope])]) -> UserGrants {
    UserGrants {
        global: scopes(global),
        organizations: organizations
            .iter()
            .map(|(org, held)| (*org, scopes(held)))
            .collect(),
    }
}

fn principal(grants: Grants, user_id: Option<Uuid>, key_id: Option<Uuid>) -> Principal {
    Principal {
        user_id,
        key_id,
        key_owner: None,
        name: "someone".into(),
        method: AuthMethod::Session,
        grants,
    }
}

#[test]
fn global_scopes_hold_in_every_organization() {
    let (a, b, _) = orgs();
    let grants = Grants::new(scopes(&[ModulesRead]), []);
    assert!(grants.allows_global(ModulesRead));
    assert!(grants.allows_in(ModulesRead, a));
    assert!(grants.allows_in(ModulesRead, b));
    assert!(grants.allows_somewhere(ModulesRead));
    assert!(!grants.allows_global(ModulesWrite));
    assert_eq!(
        grants.organizations_with(ModulesRead),
        OrganizationFilter::All
    );
    assert!(
        grants.organizations().is_empty(),
        "no organization is listed"
    );
}

#[test]
fn organization_scopes_hold_only_in_that_organization() {
    let (a, b, _) = orgs();
    let grants = Grants::new(scopes(&[]), [(a, scopes(&[ModulesWrite]))]);
    assert!(grants.allows_in(ModulesWrite, a));
    assert!(grants.allows_in(ModulesRead, a), "write implies read");
    assert!(!grants.allows_in(ModulesWrite, b));
    assert!(!grants.allows_in(ModulesRead, b));
    assert!(!grants.allows_global(ModulesRead));
    assert!(grants.allows_somewhere(ModulesRead));
    assert!(!grants.allows_somewhere(ProvidersRead));
    assert_eq!(grants.organizations(), vec![a]);
}

#[test]
fn a_global_admin_holds_every_scope_everywhere() {
    let (a, _, _) = orgs();
    let grants = Grants::from_user(user_grants(&[Admin], &[]));
    for scope in Scope::ALL {
        assert!(grants.allows_global(scope), "{scope}");
        assert!(grants.allows_in(scope, a), "{scope}");
    }
    assert_eq!(grants.scopes_anywhere(), scopes(&Scope::ALL));
    assert_eq!(grants.effective_global(), scopes(&Scope::ALL));
}

#[test]
fn effective_in_merges_global_and_organization_scopes() {
    let (a, b, _) = orgs();
    let grants = Grants::from_user(user_grants(&[AuditRead], &[(a, &[ProvidersWrite])]));
    assert_eq!(
        grants.effective_in(a),
        scopes(&[AuditRead, ProvidersRead, ProvidersWrite])
    );
    assert_eq!(grants.effective_in(b), scopes(&[AuditRead]));
    assert_eq!(grants.effective_global(), scopes(&[AuditRead]));
}

#[test]
fn a_user_key_is_capped_by_its_own_scopes() {
    let (a, _, _) = orgs();
    let owner = user_grants(&[], &[(a, &[ModulesWrite, ProvidersWrite])]);
    let grants = Grants::for_key(
        KeyOwner::User(Uuid::now_v7()),
        &scopes(&[ModulesRead]),
        Some(owner),
    );
    assert!(grants.allows_in(ModulesRead, a));
    assert!(
        !grants.allows_in(ModulesWrite, a),
        "the user may write, the key may not"
    );
    assert!(!grants.allows_in(ProvidersRead, a));
    assert_eq!(grants.effective_in(a), scopes(&[ModulesRead]));
    assert_eq!(grants.scopes_anywhere(), scopes(&[ModulesRead]));
}

#[test]
fn a_user_key_never_exceeds_its_owner() {
    let (a, b, _) = orgs();
    let owner = user_grants(&[], &[(a, &[ModulesRead])]);
    let grants = Grants::for_key(
        KeyOwner::User(Uuid::now_v7()),
        &scopes(&[ModulesWrite]),
        Some(owner),
    );
    assert!(
        !grants.allows_in(ModulesWrite, a),
        "the key may write, the user may not"
    );
    assert!(
        grants.allows_in(ModulesRead, a),
        "the key's write implies read, which the user holds"
    );
    assert!(!grants.allows_in(ModulesRead, b));
}

#[test]
fn an_admin_user_key_holds_what_its_owner_holds_and_no_more() {
    let (a, b, _) = orgs();
    let owner = user_grants(&[], &[(a, &[ModulesRead, ProvidersRead, MirrorsRead])]);
    let grants = Grants::for_key(
        KeyOwner::User(Uuid::now_v7()),
        &scopes(&[Admin]),
        Some(owner),
    );
    assert_eq!(
        grants.effective_in(a),
        scopes(&[ModulesRead, ProvidersRead, MirrorsRead])
    );
    assert!(!grants.allows_in(ModulesWrite, a));
    assert!(!grants.allows_in(Admin, a));
    assert!(!grants.allows_in(ModulesRead, b));
}

#[test]
fn a_narrow_key_of_a_global_admin_holds_only_its_scopes() {
    let (a, _, _) = orgs();
    let grants = Grants::for_key(
        KeyOwner::User(Uuid::now_v7()),
        &scopes(&[ModulesRead]),
        Some(user_grants(&[Admin], &[])),
    );
    assert!(grants.allows_global(ModulesRead));
    assert!(!grants.allows_global(ModulesWrite));
    assert!(!grants.allows_in(Admin, a));
    assert_eq!(grants.effective_global(), scopes(&[ModulesRead]));
    assert_eq!(
        grants.organizations_with(ModulesRead),
        OrganizationFilter::All
    );
    assert_eq!(
        grants.organizations_with(ModulesWrite),
        OrganizationFilter::Only(vec![])
    );
}

#[test]
fn a_user_key_without_owner_grants_holds_nothing() {
    let (a, _, _) = orgs();
    let grants = Grants::for_key(KeyOwner::User(Uuid::now_v7()), &scopes(&[Admin]), None);
    for scope in Scope::ALL {
        assert!(!grants.allows_somewhere(scope), "{scope}");
        assert!(!grants.allows_in(scope, a), "{scope}");
    }
    assert!(grants.scopes_anywhere().is_empty());
}

#[test]
fn an_organization_key_acts_only_in_its_organization() {
    let (a, b, _) = orgs();
    // User grants passed along are ignored: an organization key has no user behind it.
    let grants = Grants::for_key(
        KeyOwner::Organization(a),
        &scopes(&[ModulesWrite]),
        Some(user_grants(&[Admin], &[])),
    );
    assert!(grants.allows_in(ModulesWrite, a));
    assert!(grants.allows_in(ModulesRead, a));
    assert!(!grants.allows_in(ProvidersWrite, a));
    assert!(!grants.allows_in(ModulesRead, b));
    assert!(!grants.allows_global(ModulesRead));
    assert_eq!(
        grants.organizations_with(ModulesRead),
        OrganizationFilter::Only(vec![a])
    );
}

#[test]
fn a_system_key_acts_everywhere_with_its_scopes() {
    let (a, b, _) = orgs();
    let grants = Grants::for_key(KeyOwner::System, &scopes(&[ProvidersWrite]), None);
    assert!(grants.allows_global(ProvidersWrite));
    assert!(grants.allows_in(ProvidersRead, a));
    assert!(grants.allows_in(ProvidersWrite, b));
    assert!(!grants.allows_global(ModulesRead));
    assert_eq!(
        grants.organizations_with(ProvidersRead),
        OrganizationFilter::All
    );
    assert_eq!(
        grants.organizations_with(ModulesRead),
        OrganizationFilter::Only(vec![])
    );
}

#[test]
fn organizations_with_lists_only_the_organizations_holding_the_scope_sorted() {
    let (a, b, c) = orgs();
    let grants = Grants::from_user(user_grants(
        &[],
        &[
            (c, &[ModulesRead]),
            (a, &[ModulesWrite]),
            (b, &[ProvidersRead]),
        ],
    ));
    assert_eq!(
        grants.organizations_with(ModulesRead),
        OrganizationFilter::Only(vec![a, c])
    );
    assert_eq!(
        grants.organizations_with(ModulesWrite),
        OrganizationFilter::Only(vec![a])
    );
    assert_eq!(
        grants.organizations_with(AuditRead),
        OrganizationFilter::Only(vec![])
    );

    // Under a ceiling without the scope, no organization qualifies.
    let capped = Grants::for_key(
        KeyOwner::User(Uuid::now_v7()),
        &scopes(&[ProvidersRead]),
        Some(user_grants(
            &[],
            &[(a, &[ModulesWrite]), (b, &[ProvidersRead])],
        )),
    );
    assert_eq!(
        capped.organizations_with(ModulesRead),
        OrganizationFilter::Only(vec![])
    );
    assert_eq!(
        capped.organizations_with(ProvidersRead),
        OrganizationFilter::Only(vec![b])
    );
}

#[test]
fn scopes_anywhere_is_the_union_of_global_and_every_organization_with_implied_reads() {
    let (a, b, _) = orgs();
    let grants = Grants::from_user(user_grants(
        &[AuditRead],
        &[(a, &[ModulesWrite]), (b, &[ProvidersRead])],
    ));
    assert_eq!(
        grants.scopes_anywhere(),
        scopes(&[AuditRead, ModulesRead, ModulesWrite, ProvidersRead])
    );
}

#[test]
fn organizations_skips_memberships_without_scopes() {
    let (a, b, _) = orgs();
    let grants = Grants::new(scopes(&[]), [(b, scopes(&[ModulesRead])), (a, scopes(&[]))]);
    assert_eq!(grants.organizations(), vec![b]);
}

#[test]
fn require_answers_forbidden_naming_the_scope() {
    let (a, b, _) = orgs();
    let p = principal(
        Grants::new(scopes(&[]), [(a, scopes(&[ModulesWrite]))]),
        Some(Uuid::now_v7()),
        None,
    );
    assert!(p.require_in(ModulesWrite, a).is_ok());
    match p.require_in(ModulesWrite, b) {
        Err(ServiceError::Forbidden(msg)) => assert!(msg.contains("modules:write"), "{msg}"),
        other => panic!("expected Forbidden, got {other:?}"),
    }
    match p.require_global(ModulesRead) {
        Err(ServiceError::Forbidden(msg)) => assert!(msg.contains("modules:read"), "{msg}"),
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

#[test]
fn audit_id_prefers_the_key_then_the_user() {
    let user = Uuid::now_v7();
    let key = Uuid::now_v7();
    assert_eq!(
        principal(Grants::default(), Some(user), Some(key)).audit_id(),
        format!("key:{key}")
    );
    assert_eq!(
        principal(Grants::default(), Some(user), None).audit_id(),
        format!("user:{user}")
    );
    assert_eq!(
        principal(Grants::default(), None, None).audit_id(),
        "anonymous"
    );
}
