//! One upstream GET with retries: status classification, capped body reads, logging
//! without credentials (host and path only: query strings may hold presigned tokens).

use std::error::Error as StdError;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::ACCEPT;
use reqwest::{Client, Response, StatusCode, Url};
use tfr_ports::driven::UpstreamError;

use crate::retry;

/// The outcome of one attempt.
pub(crate) enum Step<T> {
    Done(T),
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    Fail(UpstreamError),
}

/// Where a request goes, in the forms logs and errors may show.
pub(crate) struct Target {
    pub url: Url,
    /// `host[:port]`.
    pub host: String,
    /// `scheme://host[:port]/path`: no user info, query or fragment.
    pub redacted: String,
}

impl Target {
    pub fn new(url: Url) -> Self {
        let host = authority(&url);
        let redacted = format!("{}://{}{}", url.scheme(), host, url.path());
        Self {
            url,
            host,
            redacted,
        }
    }

    pub fn protocol(&self, reason: impl Into<String>) -> UpstreamError {
        UpstreamError::Protocol {
            host: self.host.clone(),
            reason: reason.into(),
        }
    }
}

pub(crate) fn authority(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

/// A caller-supplied URL: parsed, http(s) only.
pub(crate) fn parse_url(raw: &str) -> Result<Target, UpstreamError> {
    let url = Url::parse(raw).map_err(|e| UpstreamError::Protocol {
        host: String::new(),
        reason: format!("not a valid URL: {e}"),
    })?;
    let target = Target::new(url);
    if !matches!(target.url.scheme(), "http" | "https") || target.host.is_empty() {
        return Err(target.protocol(format!(
            "unsupported URL {} (http or https only)",
            target.redacted
        )));
    }
    Ok(target)
}

/// Runs `attempt` up to `max_attempts` times, sleeping between retryable failures.
pub(crate) async fn with_retries<T, F, Fut>(
    target: &Target,
    max_attempts: u32,
    max_backoff: Duration,
    mut attempt: F,
) -> Result<T, UpstreamError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Step<T>>,
{
    let max_attempts = max_attempts.max(1);
    let mut last = String::new();
    for n in 1..=max_attempts {
        match attempt(n).await {
            Step::Done(value) => return Ok(value),
            Step::Fail(err) => return Err(err),
            Step::Retry {
                reason,
                retry_after,
            } => {
                last = reason;
                if n == max_attempts {
                    break;
                }
                let wait = retry::delay(n, retry_after, max_backoff, retry::jitter());
                tracing::debug!(
                    host = %target.host,
                    path = target.url.path(),
                    attempt = n,
                    reason = %last,
                    wait_ms = wait.as_millis() as u64,
                    "retrying upstream request"
                );
                tokio::time::sleep(wait).await;
            }
        }
    }
    Err(UpstreamError::Unavailable {
        host: target.host.clone(),
        reason: format!("{last} (gave up after {max_attempts} attempts)"),
    })
}

/// Sends the GET of attempt `n` and classifies the status. `Ok` carries a 2xx response
/// whose body is unread.
pub(crate) async fn send<T>(
    client: &Client,
    target: &Target,
    accept: &str,
    n: u32,
    not_found: &str,
) -> Result<Response, Step<T>> {
    let started = Instant::now();
    let sent = client
        .get(target.url.clone())
        .header(ACCEPT, accept)
        .send()
        .await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let response = match sent {
        Ok(response) => response,
        Err(err) => {
            let reason = describe(&err);
            tracing::debug!(host = %target.host, path = target.url.path(), attempt = n, latency_ms, error = %reason, "upstream request failed");
            return Err(transport_step(target, &err, reason));
        }
    };
    let status = response.status();
    tracing::debug!(
        host = %target.host,
        path = target.url.path(),
        status = status.as_u16(),
        attempt = n,
        latency_ms,
        "upstream request"
    );
    if status.is_success() {
        return Ok(response);
    }
    Err(status_step(target, status, &response, not_found))
}

fn status_step<T>(
    target: &Target,
    status: StatusCode,
    response: &Response,
    not_found: &str,
) -> Step<T> {
    if status == StatusCode::NOT_FOUND {
        return Step::Fail(UpstreamError::NotFound(not_found.to_string()));
    }
    if retry::retryable_status(status) {
        return Step::Retry {
            reason: format!("HTTP {status} from {}", target.redacted),
            retry_after: retry::retry_after(response.headers(), SystemTime::now()),
        };
    }
    let hint = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => " (upstream requires credentials)",
        _ => "",
    };
    Step::Fail(target.protocol(format!(
        "unexpected HTTP {status} for {}{hint}",
        target.redacted
    )))
}

fn transport_step<T>(target: &Target, err: &reqwest::Error, reason: String) -> Step<T> {
    if is_tls_failure(err) {
        // A certificate does not fix itself: no retry.
        return Step::Fail(UpstreamError::Unavailable {
            host: target.host.clone(),
            reason: format!("TLS handshake failed: {reason}"),
        });
    }
    if err.is_redirect() || err.is_builder() {
        return Step::Fail(target.protocol(reason));
    }
    Step::Retry {
        reason,
        retry_after: None,
    }
}

/// Reads a 2xx body, at most `max` bytes: the `Content-Length` is checked first, and
/// reading stops as soon as the cap is passed.
pub(crate) async fn read_capped(
    target: &Target,
    mut response: Response,
    max: u64,
) -> Step<(Url, Vec<u8>)> {
    let too_large = || {
        Step::Fail(UpstreamError::TooLarge {
            url: target.redacted.clone(),
            limit: max,
        })
    };
    if response.content_length().is_some_and(|len| len > max) {
        return too_large();
    }
    let final_url = response.url().clone();
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() as u64 + chunk.len() as u64 > max {
                    return too_large();
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Step::Done((final_url, body)),
            Err(err) => {
                return Step::Retry {
                    reason: format!("reading {}: {}", target.redacted, describe(&err)),
                    retry_after: None,
                };
            }
        }
    }
}

/// The error and its causes on one line, without the URL (it may hold tokens).
pub(crate) fn describe(err: &reqwest::Error) -> String {
    let stripped = err.to_string();
    let url_free = match err.url() {
        Some(url) => stripped.replace(&format!(" for url ({url})"), ""),
        None => stripped,
    };
    let mut out = url_free;
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    if err.is_timeout() && !out.contains("timed out") {
        out.push_str(" (timed out)");
    }
    out
}

fn is_tls_failure(err: &reqwest::Error) -> bool {
    // io::Error's `source()` skips the error it wraps, so unwrap those by hand (the
    // rustls error sits inside two of them).
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(cause) = next {
        if cause.is::<rustls::Error>() {
            return true;
        }
        next = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => cause.source(),
        };
    }
    false
}
