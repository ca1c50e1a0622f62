//! tfr-sso: the SSO adapter. [`OidcProvider`] implements the `IdentityProvider` port for a
//! generic OpenID Connect provider ([`OidcConfig`]) and for Azure AD / Microsoft Entra ID
//! ([`AzureAdConfig`]), with the openidconnect crate:
//!
//! - discovery (`/.well-known/openid-configuration` and the JWKS) when built;
//! - the authorization-code flow with PKCE S256, `state` and `nonce`;
//! - the ID token checked against the issuer's JWKS (signature, issuer, audience, expiry with
//!   60 s of clock skew, nonce, `at_hash`); a token signed with a key id the cached JWKS lacks
//!   makes the adapter re-fetch the metadata and JWKS once (key rotation; at most every 10 s);
//! - claims mapped by pure functions ([`claims::map_claims`]): the configured username, email
//!   and groups claims (Azure: `oid` as subject, `tid` checked, `groups` or `roles`);
//! - generic OIDC only: when the ID token lacks a configured claim and the provider has a
//!   userinfo endpoint, the missing claims are taken from userinfo (same `sub` enforced).
//!   A userinfo transport failure fails the login (`Unavailable`), any other userinfo
//!   problem is logged and the ID token's claims are used alone;
//! - errors: transport trouble, 5xx and unparsable answers are `Unavailable`; refusals and
//!   failed checks are `Rejected`. No message holds the client secret, a code or a token.
//!
//! HTTP goes through reqwest 0.12 (the version openidconnect speaks), redirects off, 10 s
//! timeout, webpki roots plus the certificates of `SSL_CERT_FILE` when set.

pub mod claims;
mod config;
mod http;
mod id_token;
mod provider;

pub use claims::ClaimRules;
pub use config::{
    AzureAdConfig, AzureGroupsClaim, DEFAULT_AZURE_AUTHORITY_HOST, DEFAULT_EMAIL_CLAIM,
    DEFAULT_GROUPS_CLAIM, DEFAULT_USERNAME_CLAIM, OidcConfig, default_scopes,
};
pub use http::HTTP_TIMEOUT;
pub use provider::OidcProvider;
