//! Signing a user in to a running tfr through its real SSO flow (the OIDC test provider of
//! [`crate::oidc`]) and keeping the session token, for tests that need a user behind a
//! credential: user-owned API keys, members, sessions. (Browser-level SSO tests use
//! [`crate::sso_flow`].)
//!
//! ```ignore
//! let idp = OidcTestProvider::start(sso::idp_options()).await?;
//! let reg = TestRegistry::builder().configure(sso::configure(&idp, &["admin@example.com"])).start().await?;
//! let admin = sso::sign_in(&reg, &idp, &TestUser::new("admin").email("admin@example.com", true)).await?;
//! // admin.token is the session token: sent as a bearer token it needs no CSRF header.
//! ```

use anyhow::{Context, bail};
use serde_json::Value;

use crate::harness::TestRegistry;
use crate::oidc::{OidcTestOptions, OidcTestProvider, TestUser};

/// The callback tfr registers (any port on 127.0.0.1 matches at the test provider).
pub const CALLBACK_URI: &str = "http://127.0.0.1/api/v1/auth/callback";

/// Test provider options that accept tfr's callback.
pub fn idp_options() -> OidcTestOptions {
    OidcTestOptions::default().redirect_uri(CALLBACK_URI)
}

/// A settings change turning on OIDC sign-in at `idp`, making `admins` (emails) global
/// admins at their first login, and giving nobody else a default role (so memberships
/// are only what a test sets).
pub fn configure(
    idp: &OidcTestProvider,
    admins: &[&str],
) -> impl FnOnce(&mut tfr::Settings) + Send + 'static {
    let issuer = idp.issuer().to_string();
    let client_id = idp.client_id().to_string();
    let client_secret = idp.client_secret().to_string();
    let admins: Vec<String> = admins.iter().map(|a| a.to_lowercase()).collect();
    move |s: &mut tfr::Settings| {
        s.auth.oidc = Some(tfr::config::OidcSettings {
            issuer_url: issuer,
            client_id,
            client_secret: tfr::Secret::new(client_secret),
            display_name: "Test IdP".into(),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            username_claim: "preferred_username".into(),
            email_claim: "email".into(),
            groups_claim: "groups".into(),
            require_verified_email: true,
        });
        s.auth.bootstrap_admins = admins;
        s.auth.default_role = None;
    }
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The session token (the `tfr_session` cookie's value); works as a bearer token.
    pub token: String,
    pub csrf: String,
    pub user_id: String,
    pub username: String,
}

fn cookie_value(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|nv| nv.split_once('='))
        .find(|(n, v)| n.trim() == name && !v.trim().is_empty())
        .map(|(_, v)| v.trim().to_string())
}

/// Signs `user` in: tfr's login redirect, the provider's authorization flow (played
/// without a browser), tfr's callback. Returns the session and who it is.
pub async fn sign_in(
    reg: &TestRegistry,
    idp: &OidcTestProvider,
    user: &TestUser,
) -> anyhow::Result<SignedIn> {
    idp.set_user(user).await?;
    let login = reg
        .client
        .get(reg.url("/api/v1/auth/login"))
        .send()
        .await
        .context("GET /api/v1/auth/login")?;
    if login.status().as_u16() != 302 {
        let status = login.status();
        bail!(
            "login: expected 302, got {status}: {}",
            login.text().await.unwrap_or_default()
        );
    }
    let pending =
        cookie_value(login.headers(), "tfr_sso").context("login: no tfr_sso cookie was set")?;
    let to_idp = login
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .context("login: no Location")?
        .to_string();
    let callback_prefix = reg.url("/api/v1/auth/callback");
    let callback = idp.drive_login(&to_idp, &callback_prefix).await?;
    let done = reg
        .client
        .get(&callback)
        .header(reqwest::header::COOKIE, format!("tfr_sso={pending}"))
        .send()
        .await
        .context("GET the callback")?;
    let status = done.status();
    let token = cookie_value(done.headers(), "tfr_session");
    let csrf = cookie_value(done.headers(), "tfr_csrf");
    let (Some(token), Some(csrf)) = (token, csrf) else {
        bail!(
            "callback: {status} without session cookies: {}",
            done.text().await.unwrap_or_default()
        );
    };
    let me = reg
        .client
        .get(reg.url("/api/v1/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .context("GET /api/v1/auth/me")?;
    let me: Value = me.json().await.context("me: not JSON")?;
    let user_id = me["user_id"]
        .as_str()
        .with_context(|| format!("me: no user_id in {me}"))?
        .to_string();
    let username = me["name"].as_str().unwrap_or_default().to_string();
    Ok(SignedIn {
        token,
        csrf,
        user_id,
        username,
    })
}
