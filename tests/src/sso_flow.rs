//! SSO test helpers (browser sign-ins): the identity provider of [`crate::oidc`] with tfr's callback registered,
//! tfr's settings for it, and browser sign-ins through [`crate::browser`].

use serde_json::Value;

use crate::browser::{Browser, Hop};
use crate::oidc::{OidcTestOptions, OidcTestProvider};

/// tfr's SSO callback (the redirect URI registered at the identity provider).
pub const CALLBACK_PATH: &str = "/api/v1/auth/callback";
/// The browser session (HttpOnly).
pub const SESSION_COOKIE: &str = "tfr_session";
/// The session's CSRF token, echoed in [`CSRF_HEADER`] on cookie-authenticated mutations.
pub const CSRF_COOKIE: &str = "tfr_csrf";
/// The pending login, sealed, scoped to [`CALLBACK_PATH`].
pub const SSO_COOKIE: &str = "tfr_sso";
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// The provider's options with tfr's callback registered over HTTP and HTTPS (the provider
/// matches loopback redirect URIs whatever their port).
pub fn with_tfr_callback(options: OidcTestOptions) -> OidcTestOptions {
    options
        .redirect_uri(format!("http://127.0.0.1{CALLBACK_PATH}"))
        .redirect_uri(format!("https://127.0.0.1{CALLBACK_PATH}"))
}

/// tfr's generic OIDC settings for `idp` (verified email required, default claims).
pub fn oidc_settings(idp: &OidcTestProvider) -> tfr::config::OidcSettings {
    tfr::config::OidcSettings {
        issuer_url: idp.issuer().to_string(),
        client_id: idp.client_id().to_string(),
        client_secret: tfr::Secret::new(idp.client_secret()),
        display_name: "Test IdP".into(),
        scopes: vec!["openid".into(), "email".into(), "profile".into()],
        username_claim: "preferred_username".into(),
        email_claim: "email".into(),
        groups_claim: "groups".into(),
        require_verified_email: true,
    }
}

/// tfr's Azure AD settings for `idp` started with [`OidcTestOptions::azure_tenant`].
pub fn azure_settings(
    idp: &OidcTestProvider,
    tenant_id: &str,
    groups_claim: &str,
) -> tfr::config::AzureSettings {
    tfr::config::AzureSettings {
        tenant_id: tenant_id.to_string(),
        client_id: idp.client_id().to_string(),
        client_secret: tfr::Secret::new(idp.client_secret()),
        authority_host: idp.base_url(),
        groups_claim: groups_claim.to_string(),
        display_name: "Contoso".into(),
    }
}

/// `GROUP=ORGANIZATION:ROLE`.
pub fn group_mapping(
    group: &str,
    organization: &str,
    role: &str,
) -> tfr::config::GroupMappingSetting {
    tfr::config::GroupMappingSetting {
        group: group.into(),
        organization: organization.into(),
        role: role.into(),
    }
}

/// A login started at `{base_url}/api/v1/auth/login{query}` and played through the
/// identity provider, stopped just before the browser reaches tfr's callback.
pub struct PendingCallback {
    /// Every hop so far: the first is tfr's redirect to the provider.
    pub hops: Vec<Hop>,
    /// Where the provider sends the browser: tfr's callback with `code` and `state`.
    pub callback_url: String,
}

impl PendingCallback {
    /// tfr's answer to `/api/v1/auth/login`.
    pub fn login_hop(&self) -> &Hop {
        &self.hops[0]
    }

    /// A query parameter of the callback URL.
    pub fn param(&self, name: &str) -> Option<String> {
        reqwest::Url::parse(&self.callback_url)
            .ok()?
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The callback URL with `name` set to `value` (other parameters kept).
    pub fn with_param(&self, name: &str, value: &str) -> String {
        let mut url = reqwest::Url::parse(&self.callback_url).expect("callback URL");
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .into_owned()
            .map(|(k, v)| {
                if k == name {
                    (k, value.to_string())
                } else {
                    (k, v)
                }
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        url.to_string()
    }
}

/// Starts a login in `browser` and follows it through the identity provider up to (not
/// into) tfr's callback.
pub async fn start_login(
    browser: &Browser,
    base_url: &str,
    query: &str,
) -> anyhow::Result<PendingCallback> {
    let hops = browser
        .follow_to(
            &format!("{base_url}/api/v1/auth/login{query}"),
            &format!("{base_url}{CALLBACK_PATH}"),
        )
        .await?;
    let callback_url = hops
        .last()
        .and_then(|h| h.location.clone())
        .expect("follow_to ends at a redirect")
        .to_string();
    Ok(PendingCallback { hops, callback_url })
}

/// A whole sign-in: [`start_login`], then the callback. Returns the callback's answer (a
/// redirect with the session cookies when the login worked).
pub async fn sign_in(browser: &Browser, base_url: &str, query: &str) -> anyhow::Result<Hop> {
    let pending = start_login(browser, base_url, query).await?;
    browser.get(&pending.callback_url).await
}

/// `GET /api/v1/auth/me` with the browser's cookies: status and body.
pub async fn me(browser: &Browser, base_url: &str) -> anyhow::Result<(u16, Value)> {
    let hop = browser.get(&format!("{base_url}/api/v1/auth/me")).await?;
    let body = serde_json::from_str(&hop.body).unwrap_or(Value::String(hop.body.clone()));
    Ok((hop.status, body))
}

/// The scopes `/auth/me` lists for `organization` (by name), if it lists it.
pub fn scopes_in(me: &Value, organization: &str) -> Option<Vec<String>> {
    me["organizations"]
        .as_array()?
        .iter()
        .find(|o| o["organization"] == organization)
        .map(|o| {
            o["scopes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
}
