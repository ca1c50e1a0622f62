//! When to retry and how long to wait: exponential backoff with jitter, `Retry-After`
//! honoured, both capped.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// The first backoff; doubled per attempt up to the configured maximum.
pub(crate) const BASE_BACKOFF: Duration = Duration::from_millis(250);

/// 429 and 5xx are worth another attempt; 501 (Not Implemented) never changes.
pub(crate) fn retryable_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || (status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED)
}

/// `Retry-After` as delta-seconds or an HTTP date (a date in the past means now).
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The wait after failed attempt `attempt` (1-based): what upstream asked for when it
/// said so, else `BASE_BACKOFF * 2^(attempt-1)` scaled by `jitter` (in `[0.5, 1.0]`);
/// never more than `max`.
pub(crate) fn delay(
    attempt: u32,
    retry_after: Option<Duration>,
    max: Duration,
    jitter: f64,
) -> Duration {
    if let Some(asked) = retry_after {
        return asked.min(max);
    }
    let exp = BASE_BACKOFF.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    exp.min(max).mul_f64(jitter.clamp(0.5, 1.0))
}

/// A random factor for [`delay`].
pub(crate) fn jitter() -> f64 {
    rand::random_range(0.5..=1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(
            retry_after(&headers("7"), now),
            Some(Duration::from_secs(7))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(42));
        assert_eq!(
            retry_after(&headers(&later), now),
            Some(Duration::from_secs(42))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(5));
        assert_eq!(retry_after(&headers(&earlier), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn retry_after_wins_but_is_capped() {
        let max = Duration::from_secs(10);
        assert_eq!(
            delay(1, Some(Duration::from_secs(3)), max, 1.0),
            Duration::from_secs(3)
        );
        assert_eq!(delay(3, Some(Duration::from_secs(3600)), max, 0.5), max);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_cap() {
        let max = Duration::from_secs(2);
        assert_eq!(delay(1, None, max, 1.0), Duration::from_millis(250));
        assert_eq!(delay(2, None, max, 1.0), Duration::from_millis(500));
        assert_eq!(delay(3, None, max, 0.5), Duration::from_millis(500));
        assert_eq!(delay(30, None, max, 1.0), max);
        let j = jitter();
        assert!((0.5..=1.0).contains(&j));
    }

    #[test]
    fn which_statuses_are_retried() {
        for code in [429, 408, 500, 502, 503, 504] {
            assert!(
                retryable_status(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
        for code in [200, 400, 401, 403, 404, 501] {
            assert!(
                !retryable_status(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
    }
}
