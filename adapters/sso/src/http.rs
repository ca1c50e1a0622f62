//! The HTTP client openidconnect talks through, and error texts that never carry a secret,
//! an authorization code or a token.

use std::time::Duration;

use openidconnect::core::CoreErrorResponseType;
use openidconnect::reqwest;
use openidconnect::{
    DiscoveryError, HttpClientError, RequestTokenError, StandardErrorResponse, UserInfoError,
};
use tfr_ports::driven::SsoError;

/// Per request (connect included).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) type HttpError = HttpClientError<reqwest::Error>;
pub(crate) type TokenError =
    RequestTokenError<HttpError, StandardErrorResponse<CoreErrorResponseType>>;

/// reqwest 0.12 (the one openidconnect's `oauth2` speaks): redirects off (openidconnect's
/// SSRF advice: discovery, JWKS, token and userinfo URLs come from the provider), a 10 s
/// timeout, the webpki roots plus the CA certificates in `SSL_CERT_FILE` when set.
pub fn http_client() -> Result<reqwest::Client, SsoError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(HTTP_TIMEOUT)
        .connect_timeout(HTTP_TIMEOUT)
        .user_agent(concat!("tfr/", env!("CARGO_PKG_VERSION")));
    for cert in extra_root_certificates() {
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build()
        .map_err(|e| SsoError::Unavailable(format!("cannot build the HTTP client: {e}")))
}

/// The certificates of `SSL_CERT_FILE` (PEM, one or more). A file that is missing or holds
/// no certificate is skipped with a warning: the built-in roots still apply.
fn extra_root_certificates() -> Vec<reqwest::Certificate> {
    let Some(path) = std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty()) else {
        return Vec::new();
    };
    let path = std::path::PathBuf::from(path);
    match std::fs::read(&path) {
        Ok(pem) => match reqwest::Certificate::from_pem_bundle(&pem) {
            Ok(certs) if !certs.is_empty() => certs,
            Ok(_) => {
                tracing::warn!(path = %path.display(), "SSL_CERT_FILE holds no certificate; ignored");
                Vec::new()
            }
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "SSL_CERT_FILE is not PEM certificates; ignored");
                Vec::new()
            }
        },
        Err(err) => {
            tracing::warn!(path = %path.display(), error = %err, "cannot read SSL_CERT_FILE; ignored");
            Vec::new()
        }
    }
}

/// A transport failure, with its causes (reqwest names the URL, never a body).
pub(crate) fn describe_http(err: &HttpError) -> String {
    match err {
        HttpClientError::Reqwest(e) if e.is_timeout() => {
            format!(
                "{} (timed out after {} s)",
                chain(e.as_ref()),
                HTTP_TIMEOUT.as_secs()
            )
        }
        HttpClientError::Reqwest(e) => chain(e.as_ref()),
        other => chain(other),
    }
}

fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Discovery (metadata and JWKS) failures are all `Unavailable`: the provider cannot be used.
pub(crate) fn discovery_error(issuer: &str, err: DiscoveryError<HttpError>) -> SsoError {
    let detail = match err {
        DiscoveryError::Request(e) => describe_http(&e),
        DiscoveryError::Response(_, _, message) => message,
        // Public documents: the parse error may quote them.
        DiscoveryError::Parse(e) => format!("invalid discovery document or JWKS: {e}"),
        DiscoveryError::UrlParse(e) => format!("invalid URL: {e}"),
        DiscoveryError::Validation(message) => message,
        DiscoveryError::Other(message) => message,
        other => other.to_string(),
    };
    SsoError::Unavailable(format!("OpenID discovery for {issuer} failed: {detail}"))
}

/// The token endpoint's answer: a refusal (bad or replayed code, wrong PKCE verifier, bad
/// client credentials) is `Rejected`; transport trouble and garbage are `Unavailable`.
/// Bodies are never quoted: they may hold tokens.
pub(crate) fn token_error(err: TokenError) -> SsoError {
    match err {
        RequestTokenError::ServerResponse(response) => {
            let code = response.error().as_ref();
            let described = match response.error_description() {
                Some(d) => format!("{code}: {d}"),
                None => code.to_string(),
            };
            match response.error() {
                CoreErrorResponseType::Extension(e)
                    if e == "temporarily_unavailable" || e == "server_error" =>
                {
                    SsoError::Unavailable(format!("the token endpoint failed: {described}"))
                }
                CoreErrorResponseType::InvalidClient => SsoError::Rejected(format!(
                    "the identity provider refused the client credentials ({described}): check the client id and secret"
                )),
                _ => SsoError::Rejected(format!(
                    "the identity provider refused the authorization code ({described})"
                )),
            }
        }
        RequestTokenError::Request(e) => {
            SsoError::Unavailable(format!("the token request failed: {}", describe_http(&e)))
        }
        RequestTokenError::Parse(e, _body) => SsoError::Unavailable(format!(
            "the token endpoint's answer is not a valid token response (at `{}`: {})",
            e.path(),
            category(e.inner())
        )),
        RequestTokenError::Other(message) => {
            SsoError::Unavailable(format!("the token endpoint's answer: {message}"))
        }
    }
}

/// userinfo failures: `Err(Unavailable)` for transport trouble, else a text to log.
pub(crate) fn userinfo_error(err: UserInfoError<HttpError>) -> Result<String, SsoError> {
    match err {
        UserInfoError::Request(e) => Err(SsoError::Unavailable(format!(
            "the userinfo request failed: {}",
            describe_http(&e)
        ))),
        UserInfoError::ClaimsVerification(e) => Ok(format!("userinfo claims invalid: {e}")),
        UserInfoError::Response(status, _, message) => {
            Ok(format!("userinfo answered {status}: {message}"))
        }
        UserInfoError::Parse(e) => Ok(format!(
            "userinfo answer not understood (at `{}`: {})",
            e.path(),
            category(e.inner())
        )),
        other => Ok(other.to_string()),
    }
}

/// A serde_json error without the message (which may quote the offending value).
fn category(err: &serde_json::Error) -> &'static str {
    match err.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "malformed JSON",
        serde_json::error::Category::Data => "unexpected value",
        serde_json::error::Category::Eof => "truncated JSON",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_rejected_and_server_trouble_unavailable() {
        let refusal: StandardErrorResponse<CoreErrorResponseType> = serde_json::from_str(
            r#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#,
        )
        .unwrap();
        match token_error(RequestTokenError::ServerResponse(refusal)) {
            SsoError::Rejected(m) => assert!(m.contains("invalid_grant"), "{m}"),
            other => panic!("{other:?}"),
        }
        let busy: StandardErrorResponse<CoreErrorResponseType> =
            serde_json::from_str(r#"{"error":"temporarily_unavailable"}"#).unwrap();
        assert!(matches!(
            token_error(RequestTokenError::ServerResponse(busy)),
            SsoError::Unavailable(_)
        ));
        let client: StandardErrorResponse<CoreErrorResponseType> =
            serde_json::from_str(r#"{"error":"invalid_client"}"#).unwrap();
        match token_error(RequestTokenError::ServerResponse(client)) {
            SsoError::Rejected(m) => assert!(m.contains("client id and secret"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parse_errors_never_quote_the_body() {
        let body = br#"{"access_token":"SECRET-TOKEN","token_type":42}"#.to_vec();
        let err = serde_path_to_error::deserialize::<_, openidconnect::core::CoreTokenResponse>(
            &mut serde_json::Deserializer::from_slice(&body),
        )
        .unwrap_err();
        let text = match token_error(RequestTokenError::Parse(err, body)) {
            SsoError::Unavailable(m) => m,
            other => panic!("{other:?}"),
        };
        assert!(!text.contains("SECRET-TOKEN"), "{text}");
        assert!(!text.contains("42"), "{text}");
    }
}
