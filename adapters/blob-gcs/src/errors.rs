//! Turning gcloud-storage errors into the port's errors, with messages that never carry a
//! URL: a resumable session URL is itself a credential for that upload.

use std::error::Error as StdError;
use std::fmt::Display;

use gcloud_storage::client::google_cloud_auth::error::Error as AuthError;
use gcloud_storage::http::Error;
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, StoreCheckError};

/// A failed GCS call, described (the message is all the caller needs).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct GcsFailure(pub String);

/// How a call failed, as far as the port cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// GCS answered with this HTTP status.
    Status(u16),
    /// No answer: connection refused or reset, DNS, TLS, timeout.
    Unreachable,
    /// No access token could be had (bad key, revoked account, no credentials found).
    Credentials,
    Other,
}

pub(crate) fn kind(e: &Error) -> Kind {
    match e {
        Error::Response(r) => Kind::Status(r.code),
        Error::HttpClient(re) | Error::RawResponse(re, _) => reqwest_kind(re),
        Error::TokenSource(inner) => match inner.downcast_ref::<AuthError>() {
            Some(AuthError::HttpError(re)) if reqwest_kind(re) == Kind::Unreachable => {
                Kind::Unreachable
            }
            _ => Kind::Credentials,
        },
        Error::HttpMiddleware(_) | Error::InvalidRangeHeader(_) => Kind::Other,
    }
}

fn reqwest_kind(re: &reqwest::Error) -> Kind {
    if let Some(status) = re.status() {
        Kind::Status(status.as_u16())
    } else if re.is_decode() || re.is_builder() {
        Kind::Other
    } else {
        Kind::Unreachable
    }
}

pub(crate) fn status(e: &Error) -> Option<u16> {
    match kind(e) {
        Kind::Status(code) => Some(code),
        _ => None,
    }
}

/// Worth trying again later (the port's `Unavailable`).
fn transient(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Unreachable | Kind::Status(408 | 429 | 500..=599)
    )
}

/// A one-line description without URLs.
pub(crate) fn describe(e: &Error) -> String {
    match e {
        Error::Response(r) => format!("HTTP {}: {}", r.code, r.message),
        Error::HttpClient(re) => describe_reqwest(re),
        Error::RawResponse(re, detail) => {
            format!("{}: {}", describe_reqwest(re), truncate(detail, 300))
        }
        Error::TokenSource(inner) => {
            format!(
                "obtaining an access token failed: {}",
                chain(inner.as_ref())
            )
        }
        other => chain(other),
    }
}

/// reqwest's own `Display` names the URL, so build the text from its kind and sources.
fn describe_reqwest(re: &reqwest::Error) -> String {
    let head = if let Some(status) = re.status() {
        format!("HTTP {status}")
    } else if re.is_timeout() {
        "timed out".to_string()
    } else if re.is_connect() {
        "cannot connect".to_string()
    } else if re.is_decode() {
        "unexpected response".to_string()
    } else if re.is_body() {
        "the connection failed mid-body".to_string()
    } else {
        "the request failed".to_string()
    };
    match re.source() {
        Some(source) => format!("{head}: {}", chain(source)),
        None => head,
    }
}

/// `error: cause: cause ...`, skipping causes whose text repeats the previous one.
fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut text = e.to_string();
    let mut last = text.clone();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !last.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        last = part;
        source = s.source();
    }
    text
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// A failed call as the port's error: transient failures are `Unavailable`.
pub(crate) fn blob_error(context: impl Display, e: &Error) -> BlobError {
    let message = format!("{context}: {}", describe(e));
    if transient(kind(e)) {
        BlobError::Unavailable(message)
    } else {
        BlobError::Internal(Box::new(GcsFailure(message)))
    }
}

/// A failed create: 412 means the precondition `ifGenerationMatch=0` found an object.
pub(crate) fn put_error(key: &BlobKey, e: &Error) -> BlobError {
    if status(e) == Some(412) {
        BlobError::AlreadyExists(key.to_string())
    } else {
        blob_error(format_args!("storing {key}"), e)
    }
}

/// A failed startup-check call, sorted so the configuration layer can name the setting.
pub(crate) fn check_error(context: impl Display, bucket: &str, e: &Error) -> StoreCheckError {
    let message = format!("{context}: {}", describe(e));
    match kind(e) {
        Kind::Status(404) => StoreCheckError::BucketMissing(bucket.to_string()),
        Kind::Status(401) | Kind::Credentials => StoreCheckError::CredentialsRejected(message),
        Kind::Status(403) => StoreCheckError::AccessDenied(message),
        Kind::Unreachable => StoreCheckError::Unreachable(message),
        _ => StoreCheckError::Other(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gcloud_storage::http::error::ErrorResponse;

    fn response(code: u16) -> Error {
        Error::Response(ErrorResponse {
            code,
            errors: Vec::new(),
            message: format!("status {code}"),
        })
    }

    #[test]
    fn statuses_are_sorted() {
        let key = BlobKey::parse("a/b").unwrap();
        assert!(
            matches!(put_error(&key, &response(412)), BlobError::AlreadyExists(k) if k == "a/b")
        );
        assert!(matches!(
            put_error(&key, &response(503)),
            BlobError::Unavailable(_)
        ));
        assert!(matches!(
            put_error(&key, &response(400)),
            BlobError::Internal(_)
        ));
        assert!(matches!(
            check_error("x", "bkt", &response(404)),
            StoreCheckError::BucketMissing(b) if b == "bkt"
        ));
        assert!(matches!(
            check_error("x", "bkt", &response(401)),
            StoreCheckError::CredentialsRejected(_)
        ));
        assert!(matches!(
            check_error("x", "bkt", &response(403)),
            StoreCheckError::AccessDenied(_)
        ));
        assert!(matches!(
            check_error("x", "bkt", &response(500)),
            StoreCheckError::Other(_)
        ));
    }

    #[test]
    fn token_failures_are_credential_problems() {
        let e = Error::TokenSource(Box::new(AuthError::TokenErrorResponse {
            status: 400,
            error: "invalid_grant".into(),
            error_description: "Invalid JWT Signature.".into(),
        }));
        assert_eq!(kind(&e), Kind::Credentials);
        let text = describe(&e);
        assert!(text.contains("invalid_grant"), "{text}");
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("hi", 10), "hi");
    }
}
