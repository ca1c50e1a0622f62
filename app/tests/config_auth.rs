//! Identity settings: sessions, SSO providers, role mappings, terraform login, CORS and
//! rate limits. Errors name the key as the user wrote it.

use std::path::PathBuf;

use common::{jail, load_err, refused};
use tfr::config::{GroupMappingSetting, Settings};

mod common;

#[test]
fn identity_defaults_are_safe() {
    jail(|_| {
        let a = Settings::load(None).unwrap().auth;
        assert!(!a.anonymous_read, "reads need a credential by default");
        assert!(a.jwt_secret.is_none(), "generated into the data directory");
        assert_eq!(a.session_ttl_secs, 1800);
        assert_eq!(a.default_role, Some(("default".into(), "viewer".into())));
        assert!(a.oidc.is_none() && a.azure.is_none());
        assert_eq!(a.terraform_login_ports, (10000, 10010));
        assert!(a.cors_allowed_origins.is_empty());
        assert!(a.rate_limit_failed_auth_per_minute > 0);
        assert!(!a.trust_forwarded_for);
    });
}

#[test]
fn a_short_jwt_secret_stops_startup() {
    refused(
        &[("TFR_JWT_SECRET", "too-short")],
        "TFR_JWT_SECRET",
        "at least 32 bytes",
    );
    jail(|jail| {
        jail.create_file("jwt", "short\n").unwrap();
        jail.set_env("TFR_JWT_SECRET_FILE", "jwt");
        let err = load_err(None);
        assert_eq!(err.key, "TFR_JWT_SECRET_FILE", "{err}");
    });
}

#[test]
fn oidc_needs_client_id_and_secret() {
    refused(
        &[("TFR_OIDC_ISSUER_URL", "https://idp.example.com")],
        "oidc_client_id",
        "required",
    );
    refused(
        &[
            ("TFR_OIDC_ISSUER_URL", "https://idp.example.com"),
            ("TFR_OIDC_CLIENT_ID", "tfr"),
        ],
        "oidc_client_secret",
        "required",
    );
    refused(
        &[
            ("TFR_OIDC_ISSUER_URL", "not a url"),
            ("TFR_OIDC_CLIENT_ID", "tfr"),
            ("TFR_OIDC_CLIENT_SECRET", "s"),
        ],
        "TFR_OIDC_ISSUER_URL",
        "absolute URL",
    );
}

#[test]
fn oidc_and_azure_load_together() {
    jail(|jail| {
        jail.create_file("secret", "azure-secret\n").unwrap();
        jail.set_env("TFR_OIDC_ISSUER_URL", "https://idp.example.com/");
        jail.set_env("TFR_OIDC_CLIENT_ID", "tfr");
        jail.set_env("TFR_OIDC_CLIENT_SECRET", "oidc-secret");
        jail.set_env("TFR_OIDC_SCOPES", "openid email profile groups");
        jail.set_env(
            "TFR_AZURE_TENANT_ID",
            "11111111-2222-3333-4444-555555555555",
        );
        jail.set_env("TFR_AZURE_CLIENT_ID", "app");
        jail.set_env("TFR_AZURE_CLIENT_SECRET_FILE", "secret");
        jail.set_env("TFR_AZURE_GROUPS_CLAIM", "roles");
        let a = Settings::load(None).unwrap().auth;
        let oidc = a.oidc.expect("oidc on");
        assert_eq!(oidc.issuer_url, "https://idp.example.com");
        assert_eq!(oidc.scopes, ["openid", "email", "profile", "groups"]);
        assert!(oidc.require_verified_email);
        assert_eq!(oidc.client_secret.expose(), "oidc-secret");
        let azure = a.azure.expect("azure on");
        assert_eq!(azure.client_secret.expose(), "azure-secret");
        assert_eq!(azure.groups_claim, "roles");
        assert_eq!(azure.authority_host, "https://login.microsoftonline.com");
    });
    refused(
        &[
            ("TFR_AZURE_TENANT_ID", "t"),
            ("TFR_AZURE_CLIENT_ID", "app"),
            ("TFR_AZURE_CLIENT_SECRET", "s"),
            ("TFR_AZURE_GROUPS_CLAIM", "wids"),
        ],
        "TFR_AZURE_GROUPS_CLAIM",
        "groups, roles",
    );
}

#[test]
fn client_secrets_are_redacted() {
    jail(|jail| {
        jail.set_env("TFR_OIDC_ISSUER_URL", "https://idp.example.com");
        jail.set_env("TFR_OIDC_CLIENT_ID", "tfr");
        jail.set_env("TFR_OIDC_CLIENT_SECRET", "very-secret-value");
        jail.set_env("TFR_JWT_SECRET", "0123456789abcdef0123456789abcdef-jwt");
        let s = Settings::load(None).unwrap();
        for shown in [format!("{s:?}"), s.to_redacted_json()] {
            assert!(!shown.contains("very-secret-value"), "{shown}");
            assert!(
                !shown.contains("0123456789abcdef0123456789abcdef-jwt"),
                "{shown}"
            );
            assert!(shown.contains("tfr"), "the rest is shown: {shown}");
        }
    });
}

#[test]
fn group_mappings_and_default_role_parse() {
    jail(|jail| {
        jail.set_env(
            "TFR_AUTH_GROUP_MAPPINGS",
            "platform=Default:publisher; Azure Group 1=team-a:viewer",
        );
        jail.set_env("TFR_AUTH_DEFAULT_ROLE", "none");
        jail.set_env(
            "TFR_AUTH_BOOTSTRAP_ADMINS",
            "Alice@Example.com, bob@example.com",
        );
        let a = Settings::load(None).unwrap().auth;
        assert_eq!(
            a.group_mappings,
            vec![
                GroupMappingSetting {
                    group: "platform".into(),
                    organization: "default".into(),
                    role: "publisher".into()
                },
                GroupMappingSetting {
                    group: "Azure Group 1".into(),
                    organization: "team-a".into(),
                    role: "viewer".into()
                },
            ]
        );
        assert_eq!(a.default_role, None);
        assert_eq!(a.bootstrap_admins, ["alice@example.com", "bob@example.com"]);
    });
    refused(
        &[("TFR_AUTH_GROUP_MAPPINGS", "platform=publisher")],
        "TFR_AUTH_GROUP_MAPPINGS",
        "GROUP=ORGANIZATION:ROLE",
    );
    refused(
        &[("TFR_AUTH_BOOTSTRAP_ADMINS", "alice")],
        "TFR_AUTH_BOOTSTRAP_ADMINS",
        "not an email",
    );
}

#[test]
fn group_mappings_as_a_toml_list() {
    jail(|jail| {
        jail.create_file(
            "tfr.toml",
            r#"
                auth_group_mappings = ["ops=default:admin", "dev=default:publisher"]
                auth_anonymous_read = true
                cors_allowed_origins = ["https://ui.example.com"]
            "#,
        )
        .unwrap();
        let a = Settings::load(Some(&PathBuf::from("tfr.toml")))
            .unwrap()
            .auth;
        assert_eq!(a.group_mappings.len(), 2);
        assert!(a.anonymous_read);
        assert_eq!(a.cors_allowed_origins, ["https://ui.example.com"]);
    });
}

#[test]
fn terraform_login_ports_and_origins_are_checked() {
    jail(|jail| {
        jail.set_env("TFR_TERRAFORM_LOGIN_PORTS", "20000-20005");
        jail.set_env("TFR_AUTH_ANONYMOUS_READ", "true");
        let a = Settings::load(None).unwrap().auth;
        assert_eq!(a.terraform_login_ports, (20000, 20005));
        assert!(a.anonymous_read);
    });
    refused(
        &[("TFR_TERRAFORM_LOGIN_PORTS", "10000-10000")],
        "TFR_TERRAFORM_LOGIN_PORTS",
        "two ports",
    );
    refused(
        &[("TFR_CORS_ALLOWED_ORIGINS", "https://ui.example.com/app")],
        "TFR_CORS_ALLOWED_ORIGINS",
        "not an origin",
    );
}

#[test]
fn unknown_keys_in_the_file_are_named() {
    jail(|jail| {
        jail.create_file("tfr.toml", "oidc_issuer = \"https://x\"\n")
            .unwrap();
        let err = load_err(Some(&PathBuf::from("tfr.toml")));
        assert!(err.message.contains("unknown key `oidc_issuer`"), "{err}");
        assert!(err.key.contains("oidc_issuer"), "{err}");
    });
}
