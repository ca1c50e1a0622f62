//! Reading Azure errors (status, error code) and turning them into the port's errors with
//! short messages. Requests are signed in headers and SAS URLs are only built, never
//! sent, so no message here carries a secret.

use azure_core::error::ErrorKind;
use tfr_ports::driven::{BlobError, StoreCheckError};

/// The HTTP status of a service error.
pub(crate) fn status(e: &azure_core::Error) -> Option<u16> {
    match e.kind() {
        ErrorKind::HttpResponse { status, .. } => Some(u16::from(*status)),
        _ => None,
    }
}

/// Azure's error code (`x-ms-error-code`, or the XML body's `<Code>`).
pub(crate) fn code(e: &azure_core::Error) -> Option<&str> {
    match e.kind() {
        ErrorKind::HttpResponse { error_code, .. } => error_code.as_deref(),
        _ => None,
    }
}

/// "Blob absent": 404, unless the container itself is missing (a configuration error
/// that must not pass for an empty store).
pub(crate) fn is_blob_absent(e: &azure_core::Error) -> bool {
    status(e) == Some(404) && code(e) != Some("ContainerNotFound")
}

/// The create precondition failed: something is already at the name.
pub(crate) fn is_already_exists(e: &azure_core::Error) -> bool {
    matches!(
        (status(e), code(e)),
        (Some(409), Some("BlobAlreadyExists")) | (Some(412), _)
    )
}

/// No HTTP answer at all (connection refused, DNS, timeout, TLS).
pub(crate) fn is_unreachable(e: &azure_core::Error) -> bool {
    matches!(e.kind(), ErrorKind::Io)
}

/// One line: status, code and the service's message, or the error and its causes.
pub(crate) fn describe(e: &azure_core::Error) -> String {
    if let ErrorKind::HttpResponse { status, error_code } = e.kind() {
        let mut out = format!("HTTP {}", u16::from(*status));
        if let Some(code) = error_code {
            out.push(' ');
            out.push_str(code);
        }
        if let Some(message) = e.as_http_error().and_then(|h| h.error_message()) {
            // Azure appends "RequestId:...\nTime:..." on new lines; keep the first.
            let first = message.lines().next().unwrap_or_default().trim();
            if !first.is_empty() {
                out.push_str(": ");
                out.push_str(first);
            }
        }
        return out;
    }
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    let mut depth = 0;
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
        depth += 1;
        if depth > 4 {
            break;
        }
    }
    out
}

/// An error of `what` (an operation on a blob) as a [`BlobError`].
pub(crate) fn blob_error(what: &str, e: azure_core::Error) -> BlobError {
    let text = format!("azure: {what}: {}", describe(&e));
    if is_unreachable(&e)
        || matches!(status(&e), Some(408 | 429 | 500 | 502 | 503 | 504))
        || code(&e) == Some("ContainerNotFound")
    {
        BlobError::Unavailable(text)
    } else {
        BlobError::Internal(text.into())
    }
}

/// An error of the startup check as a [`StoreCheckError`].
pub(crate) fn check_error(what: &str, container: &str, e: &azure_core::Error) -> StoreCheckError {
    let text = format!("{what}: {}", describe(e));
    match (e.kind(), status(e), code(e)) {
        (_, Some(404), Some("ContainerNotFound") | None) => StoreCheckError::BucketMissing(
            format!("{container} (the container is missing in this storage account)"),
        ),
        (_, Some(403), _) if is_auth_failure(e) => StoreCheckError::CredentialsRejected(text),
        (_, Some(403), _) => StoreCheckError::AccessDenied(text),
        (ErrorKind::Credential, _, _) => StoreCheckError::CredentialsRejected(text),
        (ErrorKind::Io, _, _) => StoreCheckError::Unreachable(text),
        _ => StoreCheckError::Other(text),
    }
}

/// "Who are you?" rather than "you may not". Azure says `AuthenticationFailed`; Azurite
/// says `AuthorizationFailure` (Azure's code for firewall denials) with Azure's
/// authentication message, so the message decides. Only a response with a body has
/// one: the startup check reads with a GET, not a HEAD.
fn is_auth_failure(e: &azure_core::Error) -> bool {
    let by_code = matches!(
        code(e),
        Some("AuthenticationFailed" | "InvalidAuthenticationInfo" | "NoAuthenticationInformation")
    );
    let by_message = e
        .as_http_error()
        .and_then(|h| h.error_message())
        .is_some_and(|m| m.starts_with("Server failed to authenticate the request"));
    by_code || by_message
}

/// A body stream failure from the SDK (mid-download) as an `io::Error`.
pub(crate) fn io_error(e: azure_core::Error) -> std::io::Error {
    let kind = if is_unreachable(&e) {
        std::io::ErrorKind::ConnectionAborted
    } else {
        std::io::ErrorKind::Other
    };
    std::io::Error::new(kind, format!("azure: reading a blob: {}", describe(&e)))
}
