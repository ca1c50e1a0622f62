//! Configuration of the two provider flavours. The app builds these from its settings; the
//! client secret never reaches a log line (`Debug` redacts it).

use std::fmt;

const REDACTED: &str = "[redacted]";

pub const DEFAULT_USERNAME_CLAIM: &str = "preferred_username";
pub const DEFAULT_EMAIL_CLAIM: &str = "email";
pub const DEFAULT_GROUPS_CLAIM: &str = "groups";
pub const DEFAULT_AZURE_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

/// `openid email profile`.
pub fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile"]
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// A generic OpenID Connect provider (Keycloak, Okta, Auth0, Google, Dex, Authentik...).
#[derive(Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The provider id used in URLs and stored on users (e.g. `oidc`).
    pub id: String,
    /// "Sign in with ..." on the login page.
    pub display_name: String,
    /// Exactly as the provider's discovery document spells `issuer` (a trailing-slash
    /// difference is tolerated at discovery).
    pub issuer_url: String,
    pub client_id: String,
    /// Never logged: `Debug` prints `[redacted]`.
    pub client_secret: String,
    /// Requested scopes; `openid` is always sent (default `openid email profile`).
    pub scopes: Vec<String>,
    /// The claim that gives the username (default `preferred_username`). A dotted path
    /// (`realm_access.roles`-style) reaches into a nested object when no top-level claim has
    /// the whole name; the same holds for the two claims below.
    pub username_claim: String,
    /// The claim that gives the email address (default `email`).
    pub email_claim: String,
    /// The claim that lists the user's groups (default `groups`): an array of strings or a
    /// single string.
    pub groups_claim: String,
    /// Refuse the login unless the provider says the email is verified (`email_verified`).
    pub require_verified_email: bool,
}

impl OidcConfig {
    /// A provider with id `oidc`, the default claims and scopes, and verified email not
    /// required.
    pub fn new(
        issuer_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self {
            id: "oidc".into(),
            display_name: "Single sign-on".into(),
            issuer_url: issuer_url.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            scopes: default_scopes(),
            username_claim: DEFAULT_USERNAME_CLAIM.into(),
            email_claim: DEFAULT_EMAIL_CLAIM.into(),
            groups_claim: DEFAULT_GROUPS_CLAIM.into(),
            require_verified_email: false,
        }
    }
}

impl fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcConfig")
            .field("id", &self.id)
            .field("display_name", &self.display_name)
            .field("issuer_url", &self.issuer_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &REDACTED)
            .field("scopes", &self.scopes)
            .field("username_claim", &self.username_claim)
            .field("email_claim", &self.email_claim)
            .field("groups_claim", &self.groups_claim)
            .field("require_verified_email", &self.require_verified_email)
            .finish()
    }
}

/// Which Azure AD claim lists the user's groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AzureGroupsClaim {
    /// `groups`: security group object ids (needs "groups claim" in the app registration's
    /// token configuration; beyond 200 groups Azure sends an overage marker instead).
    #[default]
    Groups,
    /// `roles`: the app roles assigned to the user (names chosen in the app registration).
    Roles,
}

impl AzureGroupsClaim {
    pub fn claim_name(self) -> &'static str {
        match self {
            AzureGroupsClaim::Groups => "groups",
            AzureGroupsClaim::Roles => "roles",
        }
    }
}

impl std::str::FromStr for AzureGroupsClaim {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "groups" => Ok(AzureGroupsClaim::Groups),
            "roles" => Ok(AzureGroupsClaim::Roles),
            other => Err(format!("{other:?} is not one of groups, roles")),
        }
    }
}

/// Azure AD (Microsoft Entra ID), single tenant: OpenID Connect against
/// `{authority_host}/{tenant_id}/v2.0`, with the user keyed by `oid`.
///
/// Verified email: Azure's ID tokens carry no `email_verified`. The `email` claim is a
/// directory attribute an administrator (or, for guests, another tenant) sets, so this adapter
/// reports `email_verified = true` only when the token says so explicitly: `email_verified`
/// true, or the optional claim `xms_edov` ("email domain owner verified") true. Add `xms_edov`
/// under the app registration's Token configuration -> Optional claims if bootstrap admins
/// (which need a verified email) should work with Azure. `require_verified_email` therefore
/// defaults to false: with it on, every login without `xms_edov` would be refused.
#[derive(Clone, PartialEq, Eq)]
pub struct AzureAdConfig {
    /// Default `azure`.
    pub id: String,
    /// Default `Microsoft`.
    pub display_name: String,
    /// The directory (tenant) id, a GUID. `common`, `organizations` and `consumers` are
    /// refused: the issuer and `tid` must name one tenant.
    pub tenant_id: String,
    pub client_id: String,
    /// Never logged: `Debug` prints `[redacted]`.
    pub client_secret: String,
    /// Default `https://login.microsoftonline.com` (other clouds: `login.microsoftonline.us`,
    /// `login.chinacloudapi.cn`; tests: a local provider).
    pub authority_host: String,
    pub groups_claim: AzureGroupsClaim,
    /// Default false; see the type's documentation.
    pub require_verified_email: bool,
}

impl AzureAdConfig {
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self {
            id: "azure".into(),
            display_name: "Microsoft".into(),
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            authority_host: DEFAULT_AZURE_AUTHORITY_HOST.into(),
            groups_claim: AzureGroupsClaim::Groups,
            require_verified_email: false,
        }
    }

    /// `{authority_host}/{tenant_id}/v2.0`.
    pub fn issuer_url(&self) -> String {
        format!(
            "{}/{}/v2.0",
            self.authority_host.trim_end_matches('/'),
            self.tenant_id.trim()
        )
    }
}

impl fmt::Debug for AzureAdConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureAdConfig")
            .field("id", &self.id)
            .field("display_name", &self.display_name)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &REDACTED)
            .field("authority_host", &self.authority_host)
            .field("groups_claim", &self.groups_claim)
            .field("require_verified_email", &self.require_verified_email)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let oidc = OidcConfig::new("https://idp.example.com", "tfr", "s3cr3t-value");
        let azure = AzureAdConfig::new("tenant", "tfr", "s3cr3t-value");
        for text in [format!("{oidc:?}"), format!("{azure:?}")] {
            assert!(!text.contains("s3cr3t-value"), "{text}");
            assert!(text.contains("[redacted]"), "{text}");
        }
    }

    #[test]
    fn defaults_and_azure_issuer() {
        let oidc = OidcConfig::new("https://idp.example.com", "tfr", "s");
        assert_eq!(oidc.scopes, ["openid", "email", "profile"]);
        assert_eq!(oidc.username_claim, "preferred_username");
        assert_eq!(oidc.email_claim, "email");
        assert_eq!(oidc.groups_claim, "groups");
        let mut azure = AzureAdConfig::new(" 72f988bf-86f1-41af-91ab-2d7cd011db47 ", "app", "s");
        assert_eq!(
            azure.issuer_url(),
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
        );
        azure.authority_host = "http://127.0.0.1:8080/".into();
        assert_eq!(
            azure.issuer_url(),
            "http://127.0.0.1:8080/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
        );
        assert_eq!("roles".parse(), Ok(AzureGroupsClaim::Roles));
        assert!("other".parse::<AzureGroupsClaim>().is_err());
    }
}
