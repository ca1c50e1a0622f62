//! API key scopes.

use std::str::FromStr;

use proptest::prelude::*;
use tfr_core::{Scope, ScopeError, ScopeSet};

#[test]
fn names_round_trip() {
    for s in Scope::ALL {
        assert_eq!(Scope::from_str(s.as_str()).unwrap(), s);
        assert_eq!(s.to_string(), s.as_str());
    }
    let names: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "modules:read",
            "modules:write",
            "providers:read",
            "providers:write",
            "mirrors:read",
            "mirrors:manage",
            "users:read",
            "users:write",
            "organizations:read",
            "organizations:write",
            "audit:read",
            "admin:*"
        ]
    );
    assert_eq!(
        Scope::from_str(" modules:read ").unwrap(),
        Scope::ModulesRead
    );
}

#[test]
fn unknown_scopes() {
    for bad in [
        "",
        "modules",
        "modules:READ",
        "Modules:read",
        "admin",
        "admin:all",
        "mirrors:write",
        "*",
    ] {
        let err = Scope::from_str(bad).unwrap_err();
        assert_eq!(err, ScopeError(bad.to_string()));
        assert!(
            err.to_string().contains("known: modules:read"),
            "the message lists the known scopes"
        );
    }
}

#[test]
fn write_implies_read_only_within_its_area() {
    use Scope::*;
    assert!(ModulesWrite.grants(ModulesRead));
    assert!(ProvidersWrite.grants(ProvidersRead));
    assert!(MirrorsManage.grants(MirrorsRead));
    assert!(!ModulesRead.grants(ModulesWrite));
    assert!(!ProvidersRead.grants(ProvidersWrite));
    assert!(!MirrorsRead.grants(MirrorsManage));
    assert!(!ModulesWrite.grants(ProvidersRead));
    assert!(!ProvidersWrite.grants(ModulesWrite));
    assert!(!MirrorsManage.grants(ProvidersWrite));
    for s in Scope::ALL {
        assert!(s.grants(s));
        assert!(Admin.grants(s), "admin grants {s}");
        if s != Admin {
            assert!(!s.grants(Admin), "{s} must not grant admin");
        }
    }
}

#[test]
fn grants_matrix_is_exact() {
    use Scope::*;
    let mut granted = 0;
    for held in Scope::ALL {
        for req in Scope::ALL {
            if held.grants(req) {
                granted += 1;
            }
        }
    }
    // 12 reflexive + 11 from admin + 5 write->read.
    assert_eq!(granted, 28);
    assert!(
        ModulesWrite.grants(ModulesRead)
            && ProvidersWrite.grants(ProvidersRead)
            && MirrorsManage.grants(MirrorsRead)
            && UsersWrite.grants(UsersRead)
            && OrganizationsWrite.grants(OrganizationsRead)
    );
    assert!(!AuditRead.grants(UsersRead) && !UsersWrite.grants(OrganizationsRead));
}

#[test]
fn is_within_follows_implication() {
    let owner = ScopeSet::parse_list("modules:write,audit:read").unwrap();
    assert!(
        ScopeSet::parse_list("modules:read")
            .unwrap()
            .is_within(&owner)
    );
    assert!(
        ScopeSet::parse_list("modules:write,audit:read")
            .unwrap()
            .is_within(&owner)
    );
    assert!(
        !ScopeSet::parse_list("providers:read")
            .unwrap()
            .is_within(&owner)
    );
    assert!(!ScopeSet::parse_list("admin:*").unwrap().is_within(&owner));
    let admin = ScopeSet::parse_list("admin:*").unwrap();
    assert!(
        ScopeSet::parse_list("users:write,organizations:write")
            .unwrap()
            .is_within(&admin)
    );
    assert!(ScopeSet::default().is_within(&ScopeSet::default()));
}

#[test]
fn parse_list() {
    let set = ScopeSet::parse_list("modules:write, providers:read").unwrap();
    assert!(set.allows(Scope::ModulesWrite));
    assert!(set.allows(Scope::ModulesRead));
    assert!(set.allows(Scope::ProvidersRead));
    assert!(!set.allows(Scope::ProvidersWrite));
    assert!(!set.allows(Scope::MirrorsRead));
    assert!(!set.allows(Scope::Admin));
    assert_eq!(set.to_strings(), ["modules:write", "providers:read"]);
    assert_eq!(set.iter().count(), 2);

    let dup = ScopeSet::parse_list("modules:read,modules:read,,").unwrap();
    assert_eq!(dup.to_strings(), ["modules:read"]);

    let empty = ScopeSet::parse_list(" , ").unwrap();
    assert!(empty.is_empty());
    assert!(!empty.allows(Scope::ModulesRead));
    assert_eq!(ScopeSet::default(), empty);

    let admin = ScopeSet::parse_list("admin:*").unwrap();
    for s in Scope::ALL {
        assert!(admin.allows(s));
    }
}

#[test]
fn parse_list_error_names_the_bad_scope() {
    let err = ScopeSet::parse_list("modules:read,modules:delete,providers:read").unwrap_err();
    assert_eq!(err, ScopeError("modules:delete".into()));
    assert!(err.to_string().contains("\"modules:delete\""));
}

#[test]
fn new_and_to_strings_are_sorted_and_deduplicated() {
    let set = ScopeSet::new([Scope::Admin, Scope::ModulesRead, Scope::Admin]);
    assert_eq!(set.to_strings(), ["modules:read", "admin:*"]);
    assert_eq!(
        ScopeSet::parse_list(&set.to_strings().join(",")).unwrap(),
        set
    );
}

proptest! {
    #[test]
    fn list_round_trip(idx in prop::collection::vec(0usize..7, 0..10)) {
        let set = ScopeSet::new(idx.iter().map(|i| Scope::ALL[*i]));
        let text = set.to_strings().join(",");
        prop_assert_eq!(ScopeSet::parse_list(&text).unwrap(), set.clone());
        // A set allows exactly what one of its members grants.
        for req in Scope::ALL {
            prop_assert_eq!(set.allows(req), set.iter().any(|h| h.grants(req)));
        }
    }

    #[test]
    fn grants_is_transitive(a in 0usize..7, b in 0usize..7, c in 0usize..7) {
        let (a, b, c) = (Scope::ALL[a], Scope::ALL[b], Scope::ALL[c]);
        if a.grants(b) && b.grants(c) {
            prop_assert!(a.grants(c));
        }
    }

    #[test]
    fn parse_never_panics(s in "\\PC{0,40}") {
        match ScopeSet::parse_list(&s) {
            Ok(set) => prop_assert!(set.iter().all(|sc| s.contains(sc.as_str()))),
            Err(ScopeError(bad)) => prop_assert!(s.contains(&bad)),
        }
    }
}
