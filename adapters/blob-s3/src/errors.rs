//! Reading SDK errors: one classification ([`Failure`]) mapped onto the port's
//! `BlobError` and `StoreCheckError`.

use std::error::Error as StdError;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use tfr_ports::driven::{BlobError, StoreCheckError};

use crate::S3BlobStore;

/// What went wrong, as far as tfr cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The object (or, from a HEAD, possibly the bucket: HEAD answers carry no code).
    NotFound,
    BucketMissing,
    /// A create precondition failed (`If-None-Match: *`): the object exists, or another
    /// writer is completing it right now.
    AlreadyExists,
    /// The store refused the credentials, or there were none to send.
    CredentialsRejected,
    AccessDenied,
    /// The bucket lives in another region (the store names it when it can).
    WrongRegion(Option<String>),
    /// No answer, a timeout, or a server-side failure after retries: worth retrying later.
    Unreachable,
    Other,
}

/// Error codes meaning "these credentials are not good", as opposed to "not allowed".
const CREDENTIAL_CODES: &[&str] = &[
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "InvalidClientTokenId",
];

pub(crate) fn classify<E>(err: &SdkError<E>) -> Failure
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    match err {
        SdkError::TimeoutError(_) => Failure::Unreachable,
        SdkError::DispatchFailure(dispatch) => {
            if mentions_credentials(err) {
                Failure::CredentialsRejected
            } else if dispatch.is_user() {
                Failure::Other
            } else {
                Failure::Unreachable
            }
        }
        SdkError::ConstructionFailure(_) => {
            if mentions_credentials(err) {
                Failure::CredentialsRejected
            } else {
                Failure::Other
            }
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let region = service
                .raw()
                .headers()
                .get("x-amz-bucket-region")
                .map(str::to_string);
            by_code(service.err().code(), status, region)
        }
        SdkError::ResponseError(response) => {
            let status = response.raw().status().as_u16();
            by_code(None, status, None)
        }
        _ => Failure::Other,
    }
}

fn by_code(code: Option<&str>, status: u16, region: Option<String>) -> Failure {
    match code {
        Some("NoSuchKey" | "NotFound") => return Failure::NotFound,
        Some("NoSuchBucket") => return Failure::BucketMissing,
        Some("PreconditionFailed" | "ConditionalRequestConflict") => {
            return Failure::AlreadyExists;
        }
        Some(c) if CREDENTIAL_CODES.contains(&c) => return Failure::CredentialsRejected,
        Some("AccessDenied" | "AllAccessDisabled" | "AccountProblem") => {
            return Failure::AccessDenied;
        }
        Some(
            "PermanentRedirect"
            | "AuthorizationHeaderMalformed"
            | "IllegalLocationConstraintException",
        ) => {
            return Failure::WrongRegion(region);
        }
        Some("SlowDown" | "ServiceUnavailable" | "InternalError" | "RequestTimeout") => {
            return Failure::Unreachable;
        }
        _ => {}
    }
    match status {
        404 => Failure::NotFound,
        412 => Failure::AlreadyExists,
        // A HEAD answer has no body, so no code: the credentials may be bad or just not
        // allowed. Callers that must tell them apart ask again with a GET.
        403 => Failure::AccessDenied,
        301 | 307 => Failure::WrongRegion(region),
        408 | 429 | 500..=599 => Failure::Unreachable,
        _ => Failure::Other,
    }
}

/// Whether the failure came from resolving credentials (none in the chain, an expired
/// SSO session, a failing IMDS or STS call...), not from the store.
fn mentions_credentials(err: &(dyn StdError + 'static)) -> bool {
    credentials_error(err).is_some()
}

/// The credentials error among `err`'s causes, if any.
fn credentials_error<'a>(
    err: &'a (dyn StdError + 'static),
) -> Option<&'a (dyn StdError + 'static)> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if e.downcast_ref::<CredentialsError>().is_some() {
            return Some(e);
        }
        current = e.source();
    }
    None
}

/// A one-line description for operators: the service's code and message with the HTTP
/// status and request id, or the chain of causes (connection refused, timeout...). Never
/// holds credentials: SDK errors carry no request URLs or signing material.
pub(crate) fn describe<E>(err: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    if let SdkError::ServiceError(service) = err {
        let status = service.raw().status().as_u16();
        let meta = service.err().meta();
        let mut details = format!("HTTP {status}");
        if let Some(id) = meta.extra("aws_request_id") {
            details.push_str(&format!(", request id {id}"));
        }
        return match (meta.code(), meta.message()) {
            (Some(code), Some(message)) => format!("{code}: {message} ({details})"),
            (Some(code), None) => format!("{code} ({details})"),
            // HEAD answers have no body, hence no code.
            _ => details,
        };
    }
    // Failing to load credentials surfaces as a "dispatch failure": start the story at
    // the credentials error instead.
    let credentials = credentials_error(err);
    let mut parts: Vec<String> = Vec::new();
    if credentials.is_some() {
        parts.push("could not load credentials".into());
    }
    let mut current: Option<&(dyn StdError + 'static)> = credentials.or(Some(err));
    while let Some(e) = current {
        // One line, whatever the SDK's message looks like.
        let text = e
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// An S3 call that failed in a way tfr cannot act on.
#[derive(Debug, thiserror::Error)]
#[error("S3 {operation} of {target} failed: {detail}")]
pub(crate) struct S3Failure {
    pub operation: &'static str,
    pub target: String,
    pub detail: String,
}

/// Maps a failed call on object `key` (the port's key, for messages) onto `BlobError`.
/// `NotFound` and `AlreadyExists` are only meaningful for some calls; callers that expect
/// them match [`classify`] first.
pub(crate) fn blob_error<E>(operation: &'static str, key: &str, err: SdkError<E>) -> BlobError
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let failure = classify(&err);
    let detail = describe(&err);
    tracing::debug!(operation, key, ?failure, error = %detail, "s3 call failed");
    match failure {
        Failure::AlreadyExists => BlobError::AlreadyExists(key.to_string()),
        Failure::Unreachable => {
            BlobError::Unavailable(format!("S3 {operation} of {key}: {detail}"))
        }
        Failure::BucketMissing => BlobError::Unavailable(format!(
            "S3 {operation} of {key}: the bucket does not exist ({detail})"
        )),
        Failure::NotFound
        | Failure::CredentialsRejected
        | Failure::AccessDenied
        | Failure::WrongRegion(_)
        | Failure::Other => BlobError::Internal(Box::new(S3Failure {
            operation,
            target: key.to_string(),
            detail,
        })),
    }
}

/// Maps a failed startup-check call onto `StoreCheckError`, naming what to fix.
pub(crate) fn check_error<E>(what: &str, store: &S3BlobStore, err: &SdkError<E>) -> StoreCheckError
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let (bucket, region) = (store.bucket.as_str(), store.region.as_str());
    let detail = describe(err);
    match classify(err) {
        Failure::BucketMissing | Failure::NotFound => {
            StoreCheckError::BucketMissing(bucket.to_string())
        }
        Failure::CredentialsRejected => {
            StoreCheckError::CredentialsRejected(format!("{what} on bucket {bucket}: {detail}"))
        }
        Failure::AccessDenied => StoreCheckError::AccessDenied(format!(
            "{what} on bucket {bucket}: {detail} (tfr needs s3:ListBucket on the bucket and \
             s3:GetObject, s3:PutObject, s3:DeleteObject and s3:AbortMultipartUpload on its \
             objects under the prefix)"
        )),
        Failure::WrongRegion(actual) => StoreCheckError::Other(match actual {
            Some(actual) => format!(
                "bucket {bucket} is in region {actual}, not {region}: set the S3 region to {actual}"
            ),
            None => format!(
                "bucket {bucket} is not in region {region} (or the endpoint is wrong): {detail}"
            ),
        }),
        Failure::Unreachable => StoreCheckError::Unreachable(format!(
            "{what} on bucket {bucket} at {}: {detail}",
            store.endpoint.as_deref().unwrap_or("AWS S3")
        )),
        Failure::AlreadyExists | Failure::Other => {
            StoreCheckError::Other(format!("{what} on bucket {bucket}: {detail}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_win_over_statuses() {
        assert_eq!(by_code(Some("NoSuchKey"), 404, None), Failure::NotFound);
        assert_eq!(
            by_code(Some("NoSuchBucket"), 404, None),
            Failure::BucketMissing
        );
        assert_eq!(
            by_code(Some("InvalidAccessKeyId"), 403, None),
            Failure::CredentialsRejected
        );
        assert_eq!(
            by_code(Some("SignatureDoesNotMatch"), 403, None),
            Failure::CredentialsRejected
        );
        assert_eq!(
            by_code(Some("AccessDenied"), 403, None),
            Failure::AccessDenied
        );
        assert_eq!(by_code(None, 403, None), Failure::AccessDenied);
        assert_eq!(
            by_code(Some("PreconditionFailed"), 412, None),
            Failure::AlreadyExists
        );
        assert_eq!(
            by_code(Some("ConditionalRequestConflict"), 409, None),
            Failure::AlreadyExists
        );
        assert_eq!(by_code(None, 503, None), Failure::Unreachable);
        assert_eq!(
            by_code(None, 301, Some("eu-west-1".into())),
            Failure::WrongRegion(Some("eu-west-1".into()))
        );
        assert_eq!(by_code(Some("Weird"), 400, None), Failure::Other);
    }
}
