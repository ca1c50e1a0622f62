use serde_json::{Map, Value, json};
use tfr_ports::driven::SsoError;

use super::*;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().expect("an object").clone()
}

fn oidc_rules() -> ClaimRules {
    ClaimRules::for_oidc(&OidcConfig::new("https://idp.example.com", "tfr", "secret"))
}

fn azure_rules() -> ClaimRules {
    ClaimRules::for_azure(&AzureAdConfig::new(TENANT, "app", "secret"))
}

fn rejected_message(result: Result<ExternalIdentity, SsoError>) -> String {
    match result {
        Err(SsoError::Rejected(m)) => m,
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[test]
fn oidc_maps_the_standard_claims() {
    let claims = obj(json!({
        "sub": "u-123",
        "email": "  Alice@Example.COM ",
        "email_verified": true,
        "preferred_username": "alice",
        "name": "Alice Example",
        "groups": ["platform", "developers", "platform", ""],
    }));
    let id = map_claims(&claims, &oidc_rules()).unwrap();
    assert_eq!(
        id,
        ExternalIdentity {
            subject: "u-123".into(),
            email: Some("alice@example.com".into()),
            email_verified: true,
            username: Some("alice".into()),
            display_name: Some("Alice Example".into()),
            groups: vec!["platform".into(), "developers".into()],
        }
    );
}

#[test]
fn oidc_groups_as_one_string_numbers_or_absent() {
    let rules = oidc_rules();
    let one = obj(json!({"sub": "s", "groups": "admins"}));
    assert_eq!(map_claims(&one, &rules).unwrap().groups, ["admins"]);
    let numbers = obj(json!({"sub": "s", "groups": [7, "x", null, {"a": 1}]}));
    assert_eq!(map_claims(&numbers, &rules).unwrap().groups, ["7", "x"]);
    let none = obj(json!({"sub": "s"}));
    let id = map_claims(&none, &rules).unwrap();
    assert!(id.groups.is_empty());
    assert_eq!(id.email, None);
    assert!(!id.email_verified);
    assert_eq!(id.username, None);
}

#[test]
fn oidc_custom_and_nested_claim_names() {
    let rules = ClaimRules::Oidc {
        username_claim: "nickname".into(),
        email_claim: "mail".into(),
        groups_claim: "realm_access.roles".into(),
        require_verified_email: false,
    };
    let claims = obj(json!({
        "sub": "s",
        "nickname": "bob",
        "mail": "Bob@Example.com",
        "email": "other@example.com",
        "email_verified": true,
        "realm_access": {"roles": ["ops", "dev"]},
    }));
    let id = map_claims(&claims, &rules).unwrap();
    assert_eq!(id.username.as_deref(), Some("bob"));
    assert_eq!(id.email.as_deref(), Some("bob@example.com"));
    // email_verified is about `email`, which differs from the configured claim.
    assert!(!id.email_verified);
    assert_eq!(id.groups, ["ops", "dev"]);
}

#[test]
fn oidc_missing_subject_is_rejected() {
    let msg = rejected_message(map_claims(&obj(json!({"email": "a@b.c"})), &oidc_rules()));
    assert!(msg.contains("sub"), "{msg}");
    let blank = obj(json!({"sub": "  "}));
    assert!(matches!(
        map_claims(&blank, &oidc_rules()),
        Err(SsoError::Rejected(_))
    ));
}

#[test]
fn oidc_required_verified_email() {
    let ClaimRules::Oidc {
        username_claim,
        email_claim,
        groups_claim,
        ..
    } = oidc_rules()
    else {
        unreachable!()
    };
    let rules = ClaimRules::Oidc {
        username_claim,
        email_claim,
        groups_claim,
        require_verified_email: true,
    };
    let unverified = obj(json!({"sub": "s", "email": "a@example.com", "email_verified": false}));
    let msg = rejected_message(map_claims(&unverified, &rules));
    assert!(msg.contains("verified"), "{msg}");
    let absent_flag = obj(json!({"sub": "s", "email": "a@example.com"}));
    assert!(map_claims(&absent_flag, &rules).is_err());
    let no_email = obj(json!({"sub": "s"}));
    assert!(
        rejected_message(map_claims(&no_email, &rules)).contains("no email"),
        "no email at all is refused too"
    );
    let string_true = obj(json!({"sub": "s", "email": "a@example.com", "email_verified": "true"}));
    assert!(map_claims(&string_true, &rules).unwrap().email_verified);
    let verified = obj(json!({"sub": "s", "email": "a@example.com", "email_verified": true}));
    assert!(map_claims(&verified, &rules).unwrap().email_verified);
}

#[test]
fn implausible_emails_are_dropped() {
    for bad in [
        "",
        "no-at-sign",
        "@example.com",
        "a@",
        "a@b@c",
        "a b@example.com",
    ] {
        assert_eq!(normalize_email(bad), None, "{bad:?}");
    }
    assert_eq!(
        normalize_email(" A.B+x@Example.Org ").as_deref(),
        Some("a.b+x@example.org")
    );
}

#[test]
fn display_name_falls_back_to_given_and_family_names() {
    let claims = obj(json!({"sub": "s", "given_name": "Ada", "family_name": "Lovelace"}));
    let id = map_claims(&claims, &oidc_rules()).unwrap();
    assert_eq!(id.display_name.as_deref(), Some("Ada Lovelace"));
}

#[test]
fn azure_uses_oid_and_checks_the_tenant() {
    let claims = obj(json!({
        "sub": "pairwise-per-app",
        "oid": "00000000-0000-0000-0000-00000000a11c",
        "tid": TENANT.to_uppercase(),
        "preferred_username": "Alice@Contoso.com",
        "name": "Alice",
        "email": "alice@contoso.com",
        "groups": ["g-1", "g-2"],
        "roles": ["Registry.Admin"],
    }));
    let id = map_claims(&claims, &azure_rules()).unwrap();
    assert_eq!(id.subject, "00000000-0000-0000-0000-00000000a11c");
    assert_eq!(id.email.as_deref(), Some("alice@contoso.com"));
    assert!(
        !id.email_verified,
        "Azure email is unverified unless said so"
    );
    assert_eq!(id.username.as_deref(), Some("Alice"));
    assert_eq!(id.display_name.as_deref(), Some("Alice"));
    assert_eq!(id.groups, ["g-1", "g-2"]);

    let roles = ClaimRules::for_azure(&AzureAdConfig {
        groups_claim: AzureGroupsClaim::Roles,
        ..AzureAdConfig::new(TENANT, "app", "secret")
    });
    assert_eq!(
        map_claims(&claims, &roles).unwrap().groups,
        ["Registry.Admin"]
    );

    let mut other_tenant = claims.clone();
    other_tenant.insert("tid".into(), json!("11111111-2222-3333-4444-555555555555"));
    let msg = rejected_message(map_claims(&other_tenant, &azure_rules()));
    assert!(msg.contains("tenant"), "{msg}");

    let mut no_tid = claims.clone();
    no_tid.remove("tid");
    assert!(rejected_message(map_claims(&no_tid, &azure_rules())).contains("tid"));

    let mut no_oid = claims.clone();
    no_oid.remove("oid");
    let msg = rejected_message(map_claims(&no_oid, &azure_rules()));
    assert!(msg.contains("oid"), "{msg}");
}

#[test]
fn azure_email_fallbacks_and_verification() {
    let base = json!({"oid": "o", "tid": TENANT});
    let mut upn_only = obj(base.clone());
    upn_only.insert("upn".into(), json!("Carol@Contoso.com"));
    let id = map_claims(&upn_only, &azure_rules()).unwrap();
    assert_eq!(id.email.as_deref(), Some("carol@contoso.com"));
    assert!(!id.email_verified);
    assert_eq!(id.username.as_deref(), Some("Carol"));

    let mut not_an_email = obj(base.clone());
    not_an_email.insert("preferred_username".into(), json!("carol"));
    let id = map_claims(&not_an_email, &azure_rules()).unwrap();
    assert_eq!(id.email, None);
    assert_eq!(id.username.as_deref(), Some("carol"));

    let mut edov = obj(base.clone());
    edov.insert("email".into(), json!("dave@contoso.com"));
    edov.insert("xms_edov".into(), json!(true));
    assert!(map_claims(&edov, &azure_rules()).unwrap().email_verified);

    let strict = ClaimRules::for_azure(&AzureAdConfig {
        require_verified_email: true,
        ..AzureAdConfig::new(TENANT, "app", "secret")
    });
    assert!(map_claims(&edov, &strict).is_ok());
    assert!(matches!(
        map_claims(&upn_only, &strict),
        Err(SsoError::Rejected(_))
    ));
}

#[test]
fn azure_groups_overage_gives_no_groups() {
    let claims = obj(json!({
        "oid": "o",
        "tid": TENANT,
        "_claim_names": {"groups": "src1"},
        "_claim_sources": {"src1": {"endpoint": "https://graph.microsoft.com/..."}},
    }));
    assert!(
        map_claims(&claims, &azure_rules())
            .unwrap()
            .groups
            .is_empty()
    );
}

#[test]
fn tenant_ids_must_name_one_directory() {
    assert!(validate_tenant_id(TENANT).is_ok());
    assert!(validate_tenant_id(&TENANT.to_uppercase()).is_ok());
    for bad in [
        "",
        "common",
        "Organizations",
        "consumers",
        "contoso.onmicrosoft.com",
        "72f988bf-86f1-41af-91ab-2d7cd011db4",
        "72f988bf-86f1-41af-91ab-2d7cd011db4z",
        "a/b",
    ] {
        assert!(validate_tenant_id(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn missing_claims_lists_what_userinfo_could_fill() {
    let rules = oidc_rules();
    let full = obj(json!({
        "sub": "s", "email": "a@b.c", "email_verified": true,
        "preferred_username": "a", "groups": []
    }));
    assert!(rules.missing_claims(&full).is_empty());
    let thin = obj(json!({"sub": "s", "email": null}));
    assert_eq!(
        rules.missing_claims(&thin),
        ["preferred_username", "email", "groups", "email_verified"]
    );
}
