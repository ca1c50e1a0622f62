//! The openidconnect types with a catch-all additional-claims type, and ID token checks.

use std::collections::HashMap;

use chrono::Utc;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AdditionalClaims, ClaimsVerificationError, Client,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdToken, IdTokenFields,
    Nonce, SignatureVerificationError, StandardErrorResponse, StandardTokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tfr_ports::driven::SsoError;

/// Tolerated clock difference with the provider when checking `exp`.
pub(crate) const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Every claim of the ID token beyond the standard ones, by name: the configured username,
/// email and groups claims, Azure's `oid`, `tid`, `roles`...
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct ExtraClaims(HashMap<String, Value>);

impl AdditionalClaims for ExtraClaims {}

pub(crate) type ExtraIdTokenFields = IdTokenFields<
    ExtraClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
pub(crate) type ExtraTokenResponse = StandardTokenResponse<ExtraIdTokenFields, CoreTokenType>;
pub(crate) type ExtraIdToken = IdToken<
    ExtraClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
/// `CoreClient` with [`ExtraClaims`]; endpoints as `from_provider_metadata` sets them.
pub(crate) type OidcClient = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    ExtraTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why an ID token did not verify: an unknown signing key may be a rotation.
pub(crate) enum VerifyFailure {
    UnknownKey,
    Rejected(SsoError),
}

/// Verifies signature, issuer, audience, expiry (with [`CLOCK_SKEW`]), nonce and `at_hash`,
/// and returns every claim as JSON.
pub(crate) fn verify_id_token(
    client: &OidcClient,
    id_token: &ExtraIdToken,
    nonce: &Nonce,
    access_token: &AccessToken,
) -> Result<Map<String, Value>, VerifyFailure> {
    let verifier = client
        .id_token_verifier()
        .set_time_fn(|| Utc::now() - CLOCK_SKEW);
    let claims = id_token.claims(&verifier, nonce).map_err(|err| match err {
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        ) => VerifyFailure::UnknownKey,
        other => VerifyFailure::Rejected(SsoError::Rejected(format!(
            "the ID token is not valid: {other}"
        ))),
    })?;
    if let Some(expected) = claims.access_token_hash() {
        let reject = |what: String| {
            VerifyFailure::Rejected(SsoError::Rejected(format!(
                "cannot check the ID token's at_hash: {what}"
            )))
        };
        let alg = id_token.signing_alg().map_err(|e| reject(e.to_string()))?;
        let key = id_token
            .signing_key(&verifier)
            .map_err(|e| reject(e.to_string()))?;
        let actual = AccessTokenHash::from_token(access_token, alg, key)
            .map_err(|e| reject(e.to_string()))?;
        if actual != *expected {
            return Err(VerifyFailure::Rejected(SsoError::Rejected(
                "the access token does not belong to the ID token (at_hash mismatch)".into(),
            )));
        }
    }
    match serde_json::to_value(claims) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(VerifyFailure::Rejected(SsoError::Rejected(
            "the ID token's claims are not a JSON object".into(),
        ))),
    }
}
