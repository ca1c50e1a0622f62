//! `TerraformLogin`: the authorization request checks, single-use codes and the token
//! exchange (PKCE S256) that turns a code into an API key owned by the user.
#![cfg(feature = "testkit")]

mod identity_common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use sha2::{Digest, Sha256};
use tfr_core::Scope::*;
use tfr_ports::driven::{
    ADMIN_TEMPLATE_ID, ApiKeyRepository, Clock, KeyOwner, LoginCodeRepository,
    PUBLISHER_TEMPLATE_ID, UserRecord, UserRepository, VIEWER_TEMPLATE_ID,
};
use tfr_ports::service::{
    AuthMethod, AuthorizeError, AuthorizeParams, OAuthError, TERRAFORM_CLIENT_ID, TerraformLogin,
    TerraformLoginSettings, TokenFailure, TokenParams, ValidAuthorize,
};
use uuid::Uuid;

use identity_common::{World, scopes};

const REDIRECT: &str = "http://localhost:10000/login";
const VERIFIER: &str = "a-perfectly-valid-pkce-verifier-of-fifty-characters";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

struct Login {
    w: World,
    login: TerraformLogin,
}

fn terraform_login() -> Login {
    let w = World::new();
    let login = TerraformLogin::new(
        w.repos.login_codes.clone(),
        w.api_keys.clone(),
        w.authenticator.clone(),
        w.secrets.clone(),
        w.clock.clone(),
        TerraformLoginSettings {
            ports: 10000..10010,
            token_lifetime: Duration::days(30),
        },
    );
    Login { w, login }
}

fn params() -> AuthorizeParams {
    AuthorizeParams {
        client_id: Some(TERRAFORM_CLIENT_ID.into()),
        redirect_uri: Some(REDIRECT.into()),
        response_type: Some("code".into()),
        code_challenge: Some(challenge(VERIFIER)),
        code_challenge_method: Some("S256".into()),
        state: Some("st-123".into()),
    }
}

fn token_params(code: &str) -> TokenParams {
    TokenParams {
        grant_type: Some("authorization_code".into()),
        code: Some(code.into()),
        redirect_uri: Some(REDIRECT.into()),
        client_id: Some(TERRAFORM_CLIENT_ID.into()),
        code_verifier: Some(VERIFIER.into()),
    }
}

/// The `code` query parameter of the redirect back to terraform.
fn code_of(url: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("code="))
        .unwrap()
        .to_string()
}

/// A publisher in a new organization, signed in; returns the user and a fresh code.
async fn signed_in(l: &Login) -> (UserRecord, String) {
    let org = l.w.org("platform").await;
    let user = l.w.user("alice").await;
    l.w.member(org.id, user.id, PUBLISHER_TEMPLATE_ID).await;
    let code = code_for(l, user.id).await;
    (user, code)
}

async fn code_for(l: &Login, user: Uuid) -> String {
    let valid = l.login.validate(&params()).unwrap();
    code_of(&l.login.issue_code(&valid, user).await.unwrap())
}

#[track_caller]
fn assert_oauth<T: std::fmt::Debug>(result: Result<T, TokenFailure>, error: &str) -> OAuthError {
    match result {
        Err(TokenFailure::OAuth(e)) if e.error == error => e,
        other => panic!("expected OAuth {error}, got {other:?}"),
    }
}

// ------------------------------------------------------------------ validate

#[test]
fn validate_accepts_terraforms_request() {
    let l = terraform_login();
    assert_eq!(
        l.login.validate(&params()),
        Ok(ValidAuthorize {
            redirect_uri: REDIRECT.into(),
            code_challenge: challenge(VERIFIER),
            state: Some("st-123".into()),
        })
    );
    let last_port = AuthorizeParams {
        redirect_uri: Some("http://localhost:10009/login".into()),
        state: None,
        ..params()
    };
    let valid = l.login.validate(&last_port).unwrap();
    assert_eq!(valid.redirect_uri, "http://localhost:10009/login");
    assert_eq!(valid.state, None);
}

#[test]
fn validate_refuses_an_unknown_client_without_redirecting() {
    let l = terraform_login();
    for client in [None, Some("terraform"), Some("TERRAFORM-CLI"), Some("")] {
        let p = AuthorizeParams {
            client_id: client.map(str::to_string),
            ..params()
        };
        assert!(
            matches!(
                l.login.validate(&p),
                Err(AuthorizeError::NotRedirectable(_))
            ),
            "{client:?}"
        );
    }
}

#[test]
fn validate_refuses_redirect_uris_terraform_would_not_send_without_redirecting() {
    let l = terraform_login();
    for uri in [
        None,
        Some("http://127.0.0.1:10000/login"),
        Some("http://localhost:9999/login"),
        Some("http://localhost:10010/login"),
        Some("http://localhost:65535/login"),
        Some("http://localhost:99999/login"),
        Some("http://localhost:10000/login/"),
        Some("http://localhost:10000/"),
        Some("http://localhost:10000/login?x=1"),
        Some("https://localhost:10000/login"),
        Some("http://localhost/login"),
        Some("http://localhost:/login"),
        Some("http://localhost:010000/login"),
        Some("http://localhost:+10000/login"),
        Some("http://localhost:10000@evil.example/login"),
        Some("http://evil.example:10000/login"),
    ] {
        let p = AuthorizeParams {
            redirect_uri: uri.map(str::to_string),
            ..params()
        };
        match l.login.validate(&p) {
            Err(AuthorizeError::NotRedirectable(msg)) => {
                assert!(msg.contains("10000-10009"), "{msg}")
            }
            other => panic!("{uri:?} must not be redirected to: {other:?}"),
        }
    }
}

#[track_caller]
fn assert_redirected(p: AuthorizeParams, expected_error: &str) {
    let l = terraform_login();
    match l.login.validate(&p) {
        Err(AuthorizeError::Redirect {
            redirect_uri,
            error,
            state,
            ..
        }) => {
            assert_eq!(redirect_uri, REDIRECT);
            assert_eq!(error, expected_error);
            assert_eq!(state, p.state, "the state is echoed");
        }
        other => panic!("expected a redirect with {expected_error}, got {other:?}"),
    }
}

#[test]
fn validate_redirects_other_mistakes_with_the_state() {
    for response_type in [None, Some("token"), Some("CODE")] {
        assert_redirected(
            AuthorizeParams {
                response_type: response_type.map(str::to_string),
                ..params()
            },
            "unsupported_response_type",
        );
    }
    for method in [None, Some("plain"), Some("s256")] {
        assert_redirected(
            AuthorizeParams {
                code_challenge_method: method.map(str::to_string),
                ..params()
            },
            "invalid_request",
        );
    }
    let c = challenge(VERIFIER);
    for bad in [
        None,
        Some(c[..42].to_string()),
        Some(format!("{c}A")),
        Some(format!("{}=", &c[..42])),
        Some(format!("{}+", &c[..42])),
        Some(VERIFIER.to_string()),
    ] {
        assert_redirected(
            AuthorizeParams {
                code_challenge: bad,
                ..params()
            },
            "invalid_request",
        );
    }
    assert_redirected(
        AuthorizeParams {
            response_type: Some("token".into()),
            state: None,
            ..params()
        },
        "unsupported_response_type",
    );
}

// ------------------------------------------------------------------ codes and tokens

#[tokio::test]
async fn the_redirect_carries_the_code_and_the_encoded_state() {
    let l = terraform_login();
    let user = l.w.user("alice").await;
    let valid = l
        .login
        .validate(&AuthorizeParams {
            state: Some("a b&c=d/é".into()),
            ..params()
        })
        .unwrap();
    let url = l.login.issue_code(&valid, user.id).await.unwrap();
    let code = code_of(&url);
    assert_eq!(
        url,
        format!("{REDIRECT}?code={code}&state=a%20b%26c%3Dd%2F%C3%A9")
    );

    let valid = l
        .login
        .validate(&AuthorizeParams {
            state: None,
            ..params()
        })
        .unwrap();
    let url = l.login.issue_code(&valid, user.id).await.unwrap();
    assert!(!url.contains("state="), "{url}");
}

#[tokio::test]
async fn the_code_is_stored_hashed_with_the_request() {
    let l = terraform_login();
    let user = l.w.user("alice").await;
    let code = code_for(&l, user.id).await;
    assert!(
        l.w.repos.login_codes.take(&code).await.unwrap().is_none(),
        "the raw code is not a key"
    );
    let hash = hex::encode(Sha256::digest(code.as_bytes()));
    let stored =
        l.w.repos
            .login_codes
            .take(&hash)
            .await
            .unwrap()
            .expect("stored under its SHA-256");
    assert_ne!(stored.code_hash, code);
    assert_eq!(stored.user_id, user.id);
    assert_eq!(stored.client_id, TERRAFORM_CLIENT_ID);
    assert_eq!(stored.redirect_uri, REDIRECT);
    assert_eq!(stored.code_challenge, challenge(VERIFIER));
    assert_eq!(stored.expires_at, l.w.clock.now() + Duration::minutes(5));
}

#[tokio::test]
async fn a_code_becomes_a_key_owned_by_the_user_with_the_users_scopes() {
    let l = terraform_login();
    let (user, code) = signed_in(&l).await;
    let issued = l.login.exchange(&token_params(&code)).await.unwrap();
    assert_eq!(issued.user_id, user.id);

    let key =
        l.w.repos
            .api_keys
            .find_by_id(issued.key_id)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(key.owner, KeyOwner::User(user.id));
    assert!(
        key.name.starts_with("terraform login "),
        "named after the login: {}",
        key.name
    );
    assert_eq!(key.name, "terraform login 2026-01-01 00:00 UTC");
    assert_eq!(
        key.scopes,
        scopes(&[
            ModulesRead,
            ModulesWrite,
            ProvidersRead,
            ProvidersWrite,
            MirrorsRead
        ])
    );
    assert_eq!(key.expires_at, Some(l.w.clock.now() + Duration::days(30)));

    let p =
        l.w.bearer(&issued.access_token)
            .await
            .expect("the token works");
    assert_eq!(p.user_id, Some(user.id));
    assert_eq!(p.key_id, Some(issued.key_id));
    assert_eq!(p.method, AuthMethod::ApiKey);
    assert!(p.grants.allows_somewhere(ModulesWrite));

    l.w.clock.advance(Duration::days(30));
    assert!(
        l.w.bearer(&issued.access_token).await.is_none(),
        "expires with the configured lifetime"
    );
}

#[tokio::test]
async fn a_global_admin_gets_every_scope() {
    let l = terraform_login();
    let root = l.w.global_user("root", ADMIN_TEMPLATE_ID).await;
    let code = code_for(&l, root.id).await;
    let issued = l.login.exchange(&token_params(&code)).await.unwrap();
    let key = l.w.api_keys.find(issued.key_id).await.unwrap().unwrap();
    assert_eq!(key.scopes, scopes(&tfr_core::Scope::ALL));
}

#[tokio::test]
async fn a_code_is_single_use() {
    let l = terraform_login();
    let (_, code) = signed_in(&l).await;
    l.login.exchange(&token_params(&code)).await.unwrap();
    let e = assert_oauth(
        l.login.exchange(&token_params(&code)).await,
        "invalid_grant",
    );
    assert!(e.description.contains("already used"), "{}", e.description);
    assert_eq!(l.w.api_keys.list(None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let l = terraform_login();
    let (_, code) = signed_in(&l).await;
    l.w.clock.advance(Duration::minutes(5));
    let e = assert_oauth(
        l.login.exchange(&token_params(&code)).await,
        "invalid_grant",
    );
    assert!(e.description.contains("expired"), "{}", e.description);
}

#[tokio::test]
async fn a_code_just_before_expiry_is_accepted() {
    let l = terraform_login();
    let (_, code) = signed_in(&l).await;
    l.w.clock
        .advance(Duration::minutes(5) - Duration::seconds(1));
    assert!(l.login.exchange(&token_params(&code)).await.is_ok());
}

#[tokio::test]
async fn a_wrong_verifier_is_refused_and_spends_the_code() {
    let l = terraform_login();
    let (_, code) = signed_in(&l).await;
    let wrong = TokenParams {
        code_verifier: Some("another-perfectly-valid-pkce-verifier-of-50-chars".into()),
        ..token_params(&code)
    };
    let e = assert_oauth(l.login.exchange(&wrong).await, "invalid_grant");
    assert!(e.description.contains("code_verifier"), "{}", e.description);
    assert_oauth(
        l.login.exchange(&token_params(&code)).await,
        "invalid_grant",
    );
    assert!(l.w.api_keys.list(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_redirect_uri_or_client_id_other_than_the_requests_is_refused() {
    let l = terraform_login();
    let (user, code) = signed_in(&l).await;
    let other_port = TokenParams {
        redirect_uri: Some("http://localhost:10001/login".into()),
        ..token_params(&code)
    };
    assert_oauth(l.login.exchange(&other_port).await, "invalid_grant");

    let code = code_for(&l, user.id).await;
    let no_redirect = TokenParams {
        redirect_uri: None,
        ..token_params(&code)
    };
    assert_oauth(l.login.exchange(&no_redirect).await, "invalid_grant");

    for client in [Some("someone-else"), None] {
        let code = code_for(&l, user.id).await;
        let other_client = TokenParams {
            client_id: client.map(str::to_string),
            ..token_params(&code)
        };
        assert_oauth(l.login.exchange(&other_client).await, "invalid_client");
    }
    assert!(l.w.api_keys.list(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn malformed_token_requests_are_refused() {
    let l = terraform_login();
    let (_, code) = signed_in(&l).await;
    for grant in [None, Some("refresh_token"), Some("client_credentials")] {
        assert_oauth(
            l.login
                .exchange(&TokenParams {
                    grant_type: grant.map(str::to_string),
                    ..token_params(&code)
                })
                .await,
            "unsupported_grant_type",
        );
    }
    assert_oauth(
        l.login
            .exchange(&TokenParams {
                code: None,
                ..token_params(&code)
            })
            .await,
        "invalid_request",
    );
    assert_oauth(
        l.login
            .exchange(&TokenParams {
                code_verifier: None,
                ..token_params(&code)
            })
            .await,
        "invalid_request",
    );
    // None of that spent the code.
    assert!(l.login.exchange(&token_params(&code)).await.is_ok());
}

#[tokio::test]
async fn a_verifier_that_is_not_pkce_text_is_refused() {
    let l = terraform_login();
    let (user, _) = signed_in(&l).await;
    for bad in [
        "short".to_string(),
        "x".repeat(129),
        format!("{}!", &VERIFIER[..45]),
        format!("{} spaces", &VERIFIER[..40]),
    ] {
        // The challenge matches the bad verifier: only its syntax is wrong.
        let valid = l
            .login
            .validate(&AuthorizeParams {
                code_challenge: Some(challenge(&bad)),
                ..params()
            })
            .unwrap();
        let code = code_of(&l.login.issue_code(&valid, user.id).await.unwrap());
        assert_oauth(
            l.login
                .exchange(&TokenParams {
                    code_verifier: Some(bad.clone()),
                    ..token_params(&code)
                })
                .await,
            "invalid_request",
        );
    }
}

#[tokio::test]
async fn a_user_without_scopes_or_disabled_gets_no_token() {
    let l = terraform_login();
    let nobody = l.w.user("nobody").await;
    let code = code_for(&l, nobody.id).await;
    let e = assert_oauth(
        l.login.exchange(&token_params(&code)).await,
        "invalid_grant",
    );
    assert!(e.description.contains("no role"), "{}", e.description);

    let org = l.w.org("platform").await;
    let alice = l.w.user("alice").await;
    l.w.member(org.id, alice.id, VIEWER_TEMPLATE_ID).await;
    let code = code_for(&l, alice.id).await;
    let disabled = UserRecord {
        disabled_at: Some(l.w.clock.now()),
        ..alice
    };
    UserRepository::update(&*l.w.repos.identity, &disabled)
        .await
        .unwrap();
    let e = assert_oauth(
        l.login.exchange(&token_params(&code)).await,
        "invalid_grant",
    );
    assert!(e.description.contains("disabled"), "{}", e.description);
    assert!(l.w.api_keys.list(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn purge_drops_expired_codes_only() {
    let l = terraform_login();
    let user = l.w.user("alice").await;
    code_for(&l, user.id).await;
    l.w.clock.advance(Duration::minutes(3));
    let fresh = code_for(&l, user.id).await;
    l.w.clock.advance(Duration::minutes(3));
    assert_eq!(l.login.purge_expired().await.unwrap(), 1);
    let hash = hex::encode(Sha256::digest(fresh.as_bytes()));
    assert!(l.w.repos.login_codes.take(&hash).await.unwrap().is_some());
}

#[test]
fn the_default_settings_leave_terraform_room() {
    let settings = TerraformLoginSettings::default();
    assert!(settings.ports.len() >= 2);
    assert!(settings.token_lifetime > Duration::zero());
}
