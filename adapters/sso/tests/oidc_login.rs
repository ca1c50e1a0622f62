//! Full logins against a real OpenID provider (npm oidc-provider, tests/oidc/server.mjs).
//! Needs node and tests/oidc/node_modules (`bash .ci/install`).

// The provider harness of the black-box crate, compiled in here: tfr-tests depends on the app,
// which depends on this crate, so it is not a dev-dependency.
#[allow(dead_code)]
#[path = "../../../tests/src/oidc.rs"]
mod oidc;

use oidc::{OidcTestOptions, OidcTestProvider, TestUser, callback_params};
use tfr_ports::driven::{AuthorizationRequest, ExternalIdentity, IdentityProvider, SsoError};
use tfr_sso::{AzureAdConfig, AzureGroupsClaim, OidcConfig, OidcProvider};

const REDIRECT: &str = "http://127.0.0.1:9/auth/sso/callback";
const TENANT: &str = "3b0f5a6e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";

/// The provider with [`REDIRECT`] registered (any port on 127.0.0.1 matches).
fn options() -> OidcTestOptions {
    OidcTestOptions::default().redirect_uri(REDIRECT)
}

fn config_for(idp: &OidcTestProvider) -> OidcConfig {
    OidcConfig {
        id: "oidc".into(),
        display_name: "Test IdP".into(),
        ..OidcConfig::new(idp.issuer(), idp.client_id(), idp.client_secret())
    }
}

fn alice() -> TestUser {
    TestUser::new("alice-sub")
        .email("Alice@Example.COM", true)
        .username("alice")
        .name("Alice Example")
        .groups(["platform", "developers"])
}

/// authorization_request -> browser-less login -> (request, code).
async fn login(
    idp: &OidcTestProvider,
    provider: &OidcProvider,
) -> anyhow::Result<(AuthorizationRequest, String)> {
    let request = provider.authorization_request(REDIRECT).await?;
    let callback = idp.drive_login(&request.url, REDIRECT).await?;
    let params = callback_params(&callback)?;
    anyhow::ensure!(
        params.get("state") == Some(&request.state),
        "state must come back unchanged: {callback}"
    );
    let code = params
        .get("code")
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no code in {callback}"))?;
    Ok((request, code))
}

async fn complete(
    provider: &OidcProvider,
    request: &AuthorizationRequest,
    code: &str,
) -> Result<ExternalIdentity, SsoError> {
    provider
        .complete(REDIRECT, code, &request.pkce_verifier, &request.nonce)
        .await
}

fn rejected(result: Result<ExternalIdentity, SsoError>) -> String {
    match result {
        Err(SsoError::Rejected(message)) => message,
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[tokio::test]
async fn full_login_gives_the_mapped_identity() -> anyhow::Result<()> {
    let idp = OidcTestProvider::start(options().user(alice())).await?;
    let provider = OidcProvider::discover(OidcConfig {
        require_verified_email: true,
        ..config_for(&idp)
    })
    .await?;
    assert_eq!(provider.id(), "oidc");
    assert_eq!(provider.kind(), "oidc");
    assert_eq!(provider.display_name(), "Test IdP");
    assert_eq!(provider.issuer(), idp.issuer());

    let (request, code) = login(&idp, &provider).await?;
    let url = reqwest::Url::parse(&request.url)?;
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["nonce"], request.nonce);
    assert_eq!(query["scope"], "openid email profile");
    assert!(!request.url.contains(&request.pkce_verifier));

    let identity = complete(&provider, &request, &code).await?;
    assert_eq!(
        identity,
        ExternalIdentity {
            subject: "alice-sub".into(),
            email: Some("alice@example.com".into()),
            email_verified: true,
            username: Some("alice".into()),
            display_name: Some("Alice Example".into()),
            groups: vec!["platform".into(), "developers".into()],
        }
    );

    // The next login is somebody else, with one group as a plain string.
    idp.set_user(
        &TestUser::new("bob-sub")
            .username("bob")
            .claim("groups", serde_json::json!("ops")),
    )
    .await?;
    let (request, code) = login(&idp, &provider).await?;
    let message = rejected(complete(&provider, &request, &code).await);
    assert!(message.contains("no email"), "{message}");
    let lenient = OidcProvider::discover(config_for(&idp)).await?;
    let (request, code) = login(&idp, &lenient).await?;
    let bob = complete(&lenient, &request, &code).await?;
    assert_eq!(bob.subject, "bob-sub");
    assert_eq!(bob.groups, ["ops"]);
    assert_eq!(bob.email, None);
    assert!(!bob.email_verified);
    Ok(())
}

#[tokio::test]
async fn a_wrong_nonce_is_rejected() -> anyhow::Result<()> {
    let idp = OidcTestProvider::start(options()).await?;
    let provider = OidcProvider::discover(config_for(&idp)).await?;
    let (request, code) = login(&idp, &provider).await?;
    let message = rejected(
        provider
            .complete(REDIRECT, &code, &request.pkce_verifier, "not-the-nonce")
            .await,
    );
    assert!(message.contains("nonce"), "{message}");
    assert!(!message.contains(&code), "{message}");
    Ok(())
}

#[tokio::test]
async fn bad_replayed_or_unverifiable_codes_are_rejected() -> anyhow::Result<()> {
    let idp = OidcTestProvider::start(options()).await?;
    let provider = OidcProvider::discover(config_for(&idp)).await?;

    let (request, code) = login(&idp, &provider).await?;
    complete(&provider, &request, &code).await?;
    let replay = rejected(complete(&provider, &request, &code).await);
    assert!(replay.contains("invalid_grant"), "{replay}");
    assert!(!replay.contains(&code), "{replay}");

    let garbage = rejected(complete(&provider, &request, "not-a-code").await);
    assert!(garbage.contains("invalid_grant"), "{garbage}");

    // A fresh code with somebody else's PKCE verifier.
    let (request, code) = login(&idp, &provider).await?;
    let wrong_pkce = rejected(
        provider
            .complete(
                REDIRECT,
                &code,
                "a-verifier-that-was-never-used-for-this-login-0123456789",
                &request.nonce,
            )
            .await,
    );
    assert!(wrong_pkce.contains("invalid_grant"), "{wrong_pkce}");
    Ok(())
}

#[tokio::test]
async fn a_wrong_client_secret_is_rejected_without_echoing_it() -> anyhow::Result<()> {
    let idp = OidcTestProvider::start(options()).await?;
    let provider = OidcProvider::discover(OidcConfig {
        client_secret: "definitely-wrong-secret".into(),
        ..config_for(&idp)
    })
    .await?;
    let (request, code) = login(&idp, &provider).await?;
    let message = rejected(complete(&provider, &request, &code).await);
    assert!(message.contains("invalid_client"), "{message}");
    assert!(!message.contains("definitely-wrong-secret"), "{message}");
    assert!(!message.contains(&code), "{message}");
    assert!(!format!("{provider:?}").contains("definitely-wrong-secret"));
    Ok(())
}

#[tokio::test]
async fn an_unverified_email_is_rejected_when_required() -> anyhow::Result<()> {
    let user = TestUser::new("carol-sub").email("carol@example.com", false);
    let idp = OidcTestProvider::start(options().user(user)).await?;

    let strict = OidcProvider::discover(OidcConfig {
        require_verified_email: true,
        ..config_for(&idp)
    })
    .await?;
    let (request, code) = login(&idp, &strict).await?;
    let message = rejected(complete(&strict, &request, &code).await);
    assert!(message.contains("verified"), "{message}");

    let lenient = OidcProvider::discover(config_for(&idp)).await?;
    let (request, code) = login(&idp, &lenient).await?;
    let carol = complete(&lenient, &request, &code).await?;
    assert_eq!(carol.email.as_deref(), Some("carol@example.com"));
    assert!(!carol.email_verified);
    Ok(())
}

#[tokio::test]
async fn azure_ad_tenant_issuer_uses_oid_and_checks_tid() -> anyhow::Result<()> {
    let user = TestUser::new("pairwise-sub-for-this-app")
        .azure("00000000-0000-0000-0000-0000000000aa", TENANT)
        .email("Dana@Contoso.com", false)
        .username("dana@contoso.com")
        .name("Dana")
        .groups(["11111111-aaaa-bbbb-cccc-000000000001"])
        .claim("roles", serde_json::json!(["Registry.Admin"]));
    let idp = OidcTestProvider::start(
        OidcTestOptions::azure_tenant(TENANT)
            .redirect_uri(REDIRECT)
            .user(user),
    )
    .await?;
    assert_eq!(
        idp.issuer(),
        format!("http://127.0.0.1:{}/{TENANT}/v2.0", idp.port())
    );
    let config = AzureAdConfig {
        authority_host: idp.base_url(),
        ..AzureAdConfig::new(TENANT, idp.client_id(), idp.client_secret())
    };
    let azure = OidcProvider::discover_azure(config.clone()).await?;
    assert_eq!(azure.id(), "azure");
    assert_eq!(azure.kind(), "azure_ad");
    assert_eq!(azure.display_name(), "Microsoft");

    let (request, code) = login(&idp, &azure).await?;
    let dana = complete(&azure, &request, &code).await?;
    assert_eq!(
        dana,
        ExternalIdentity {
            subject: "00000000-0000-0000-0000-0000000000aa".into(),
            email: Some("dana@contoso.com".into()),
            email_verified: false,
            username: Some("dana".into()),
            display_name: Some("Dana".into()),
            groups: vec!["11111111-aaaa-bbbb-cccc-000000000001".into()],
        }
    );

    let roles = OidcProvider::discover_azure(AzureAdConfig {
        groups_claim: AzureGroupsClaim::Roles,
        ..config.clone()
    })
    .await?;
    let (request, code) = login(&idp, &roles).await?;
    assert_eq!(
        complete(&roles, &request, &code).await?.groups,
        ["Registry.Admin"]
    );

    // A token for another tenant (same issuer: a misbehaving or multi-tenant setup).
    idp.set_user(&TestUser::new("eve-sub").azure(
        "00000000-0000-0000-0000-0000000000ee",
        "99999999-9999-9999-9999-999999999999",
    ))
    .await?;
    let (request, code) = login(&idp, &azure).await?;
    let message = rejected(complete(&azure, &request, &code).await);
    assert!(message.contains("tenant"), "{message}");

    // The wrong tenant in the configuration: no such issuer.
    let elsewhere = OidcProvider::discover_azure(AzureAdConfig {
        tenant_id: "99999999-9999-9999-9999-999999999999".into(),
        ..config.clone()
    })
    .await;
    assert!(
        matches!(elsewhere, Err(SsoError::Unavailable(_))),
        "{elsewhere:?}"
    );
    let common = OidcProvider::discover_azure(AzureAdConfig {
        tenant_id: "common".into(),
        ..config
    })
    .await;
    assert!(matches!(common, Err(SsoError::Rejected(_))), "{common:?}");
    Ok(())
}

#[tokio::test]
async fn a_provider_that_is_down_is_unavailable() -> anyhow::Result<()> {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.port()
    };
    let down = OidcProvider::discover(OidcConfig::new(
        format!("http://127.0.0.1:{port}"),
        "tfr",
        "secret",
    ))
    .await;
    match down {
        Err(SsoError::Unavailable(message)) => {
            assert!(message.contains(&port.to_string()), "{message}");
            assert!(!message.contains("secret"), "{message}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }

    // Up, but the issuer is not there.
    let idp = OidcTestProvider::start(OidcTestOptions::azure_tenant(TENANT).redirect_uri(REDIRECT))
        .await?;
    let wrong_path =
        OidcProvider::discover(OidcConfig::new(idp.base_url(), "tfr-test", "secret")).await;
    assert!(
        matches!(wrong_path, Err(SsoError::Unavailable(_))),
        "{wrong_path:?}"
    );
    Ok(())
}

#[tokio::test]
async fn issuer_spelling_with_a_trailing_slash_is_tolerated() -> anyhow::Result<()> {
    let idp = OidcTestProvider::start(options()).await?;
    let provider = OidcProvider::discover(OidcConfig {
        issuer_url: format!("{}/", idp.issuer()),
        ..config_for(&idp)
    })
    .await?;
    assert_eq!(provider.issuer(), idp.issuer());
    let (request, code) = login(&idp, &provider).await?;
    assert_eq!(complete(&provider, &request, &code).await?.subject, "alice");
    Ok(())
}

#[tokio::test]
async fn claims_missing_from_the_id_token_come_from_userinfo() -> anyhow::Result<()> {
    let user = alice().userinfo_only(["groups", "preferred_username"]);
    let idp = OidcTestProvider::start(options().user(user)).await?;
    let provider = OidcProvider::discover(config_for(&idp)).await?;
    let (request, code) = login(&idp, &provider).await?;
    let identity = complete(&provider, &request, &code).await?;
    assert_eq!(identity.groups, ["platform", "developers"]);
    assert_eq!(identity.username.as_deref(), Some("alice"));
    assert_eq!(identity.email.as_deref(), Some("alice@example.com"));

    // Azure AD never calls userinfo (it lives on Microsoft Graph there).
    let user = TestUser::new("x")
        .azure("00000000-0000-0000-0000-0000000000bb", TENANT)
        .groups(["g"])
        .userinfo_only(["groups"]);
    let idp = OidcTestProvider::start(
        OidcTestOptions::azure_tenant(TENANT)
            .redirect_uri(REDIRECT)
            .user(user),
    )
    .await?;
    let azure = OidcProvider::discover_azure(AzureAdConfig {
        authority_host: idp.base_url(),
        ..AzureAdConfig::new(TENANT, idp.client_id(), idp.client_secret())
    })
    .await?;
    let (request, code) = login(&idp, &azure).await?;
    assert!(complete(&azure, &request, &code).await?.groups.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_rotated_signing_key_is_fetched_once() -> anyhow::Result<()> {
    let idp = OidcTestProvider::start(options()).await?;
    let provider = OidcProvider::discover(config_for(&idp)).await?;
    let kid = idp.rotate_keys().await?;
    assert!(!kid.is_empty());
    let (request, code) = login(&idp, &provider).await?;
    let identity = complete(&provider, &request, &code).await?;
    assert_eq!(identity.subject, "alice");
    Ok(())
}
