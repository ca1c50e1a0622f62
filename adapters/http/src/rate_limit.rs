//! Rate limiting, before authentication (so credential stuffing cannot exhaust bcrypt).
//!
//! - A request carrying a credential (an `Authorization` header, or the `tfr_session`
//!   cookie) is limited per credential, keyed by a salted SHA-256 of it (the credential
//!   itself is never kept), with the authenticated quota. A credential whose bucket is
//!   fresh (unseen, or idle long enough to refill) also costs one anonymous token of the
//!   client address, so inventing a new credential per request does not escape the
//!   address's limit.
//! - Any other request is limited per client address with the anonymous quota.
//! - Failed authentication: each 401 answered to an address is charged to its
//!   failed-auth quota. Once that is used up the address is refused with 429 before the
//!   inner endpoint runs (no credential check, no bcrypt), whatever it sends, until a
//!   token refills.
//!
//! The client address is the peer address, or the first `X-Forwarded-For` entry when
//! that is trusted. IPv6 clients are grouped by /64 (one host usually owns a whole /64).
//! `/health` and `/ready` are exempt. 429 answers carry `Retry-After` (whole seconds, at
//! least 1) and `{"errors":["rate limit exceeded; retry in N s"]}`.
//!
//! Memory stays bounded: idle keys are dropped (governor's `retain_recent`) every
//! [`SWEEP_INTERVAL`], and a limiter that still tracks more than `max_tracked_keys`
//! keys after that is reset (an attacker able to spread that many addresses already has
//! that many fresh buckets).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::{StateInformationMiddleware, StateSnapshot};
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, Middleware, Request, Response, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::access::SESSION_COOKIE;

/// How often idle keys are dropped.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(10);
/// Every this many requests, the limiters' sizes are checked against the cap.
const SIZE_CHECK_EVERY: u64 = 1024;

/// Quotas: a sustained rate per minute and a burst (the bucket size). `0` per minute
/// means unlimited; a burst of `0` is taken as 1.
///
/// Defaults, per minute (burst):
/// - anonymous, per client address: 1200 (300). `terraform init` makes dozens of
///   requests (discovery, versions, downloads, the signed file links), and a whole
///   office or CI fleet may share one NAT address; 300 at once and 20 per second
///   sustained leave room for several runs in parallel while stopping scraping and
///   floods.
/// - authenticated, per credential: 6000 (1000). One CI key is often shared by many
///   parallel jobs; the limit is a safety net against a runaway client, not a quota.
/// - failed authentication, per client address: 30 (10). A person or a misconfigured
///   job retrying with a wrong token trips it after ten 401s and then gets one attempt
///   every two seconds, which also caps the bcrypt work an address can cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    pub anonymous_per_minute: u32,
    pub anonymous_burst: u32,
    pub authenticated_per_minute: u32,
    pub authenticated_burst: u32,
    pub failed_auth_per_minute: u32,
    pub failed_auth_burst: u32,
    /// Most keys one limiter tracks (about 100 bytes each).
    pub max_tracked_keys: usize,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            anonymous_per_minute: 1200,
            anonymous_burst: 300,
            authenticated_per_minute: 6000,
            authenticated_burst: 1000,
            failed_auth_per_minute: 30,
            failed_auth_burst: 10,
            max_tracked_keys: 100_000,
        }
    }
}

impl RateLimits {
    /// No limits at all.
    pub fn unlimited() -> Self {
        Self {
            anonymous_per_minute: 0,
            authenticated_per_minute: 0,
            failed_auth_per_minute: 0,
            ..Self::default()
        }
    }
}

type Governor<K> = RateLimiter<K, DashMapStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// One keyed limiter that can be reset when it grows past the cap.
struct Keyed<K: std::hash::Hash + Eq + Clone> {
    name: &'static str,
    quota: Quota,
    current: RwLock<Arc<Governor<K>>>,
}

impl<K: std::hash::Hash + Eq + Clone> Keyed<K> {
    fn new(name: &'static str, per_minute: u32, burst: u32) -> Option<Self> {
        let per_minute = NonZeroU32::new(per_minute)?;
        let period = Duration::from_nanos(60_000_000_000 / u64::from(per_minute.get()));
        let quota = Quota::with_period(period)?
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        Some(Self {
            name,
            quota,
            current: RwLock::new(Arc::new(Self::governor(quota))),
        })
    }

    fn governor(quota: Quota) -> Governor<K> {
        RateLimiter::dashmap(quota).with_middleware::<StateInformationMiddleware>()
    }

    fn get(&self) -> Arc<Governor<K>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Takes one token: the state left, or how long until one is available.
    fn check(&self, key: &K) -> std::result::Result<StateSnapshot, Duration> {
        let limiter = self.get();
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }

    fn len(&self) -> usize {
        self.get().len()
    }

    fn sweep(&self, max_keys: usize) {
        let limiter = self.get();
        limiter.retain_recent();
        limiter.shrink_to_fit();
        let len = limiter.len();
        if len > max_keys {
            tracing::warn!(
                limiter = self.name,
                keys = len,
                max_keys,
                "rate limiter tracks too many clients; resetting it"
            );
            *self.current.write().unwrap_or_else(|e| e.into_inner()) =
                Arc::new(Self::governor(self.quota));
        }
    }
}

/// The client address bucket: IPv4 as is, IPv6 by /64.
type ClientKey = IpAddr;
type CredentialKey = [u8; 32];

struct Limiters {
    anonymous: Option<Keyed<ClientKey>>,
    authenticated: Option<Keyed<CredentialKey>>,
    failed_auth: Option<Keyed<ClientKey>>,
    /// Addresses whose failed-auth quota is used up, and until when.
    locked_out: RwLock<HashMap<ClientKey, Instant>>,
    trust_forwarded_for: bool,
    max_keys: usize,
    /// Per-process salt of the credential hashes.
    salt: [u8; 16],
    started: Instant,
    last_sweep_ms: AtomicU64,
    requests: AtomicU64,
}

/// The rate limiting middleware. See the module documentation.
#[derive(Clone)]
pub struct RateLimit {
    limiters: Arc<Limiters>,
}

impl RateLimit {
    pub fn new(limits: &RateLimits, trust_forwarded_for: bool) -> Self {
        let mut salt = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
        Self {
            limiters: Arc::new(Limiters {
                anonymous: Keyed::new(
                    "anonymous",
                    limits.anonymous_per_minute,
                    limits.anonymous_burst,
                ),
                authenticated: Keyed::new(
                    "authenticated",
                    limits.authenticated_per_minute,
                    limits.authenticated_burst,
                ),
                failed_auth: Keyed::new(
                    "failed_auth",
                    limits.failed_auth_per_minute,
                    limits.failed_auth_burst,
                ),
                locked_out: RwLock::new(HashMap::new()),
                trust_forwarded_for,
                max_keys: limits.max_tracked_keys.max(1),
                salt,
                started: Instant::now(),
                last_sweep_ms: AtomicU64::new(0),
                requests: AtomicU64::new(0),
            }),
        }
    }
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit").finish_non_exhaustive()
    }
}

impl<E: Endpoint> Middleware<E> for RateLimit {
    type Output = RateLimitEndpoint<E>;
    fn transform(&self, ep: E) -> Self::Output {
        RateLimitEndpoint {
            inner: ep,
            limiters: self.limiters.clone(),
        }
    }
}

pub struct RateLimitEndpoint<E> {
    inner: E,
    limiters: Arc<Limiters>,
}

/// The address a request comes from: the peer, or the first `X-Forwarded-For` entry
/// when trusted (an unparsable entry falls back to the peer).
pub fn client_address(req: &Request, trust_forwarded_for: bool) -> Option<IpAddr> {
    let forwarded = trust_forwarded_for
        .then(|| req.headers().get("x-forwarded-for"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .and_then(|v| {
            v.parse::<IpAddr>()
                .ok()
                .or_else(|| v.parse::<SocketAddr>().ok().map(|s| s.ip()))
        });
    forwarded.or_else(|| req.remote_addr().as_socket_addr().map(|s| s.ip()))
}

fn bucket(ip: IpAddr) -> ClientKey {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(
                u128::from(v6) & 0xffff_ffff_ffff_ffff_0000_0000_0000_0000,
            )),
        },
    }
}

/// The credential a request carries, as the authentication middleware will read it:
/// the `Authorization` header first, else the session cookie.
fn credential(req: &Request) -> Option<&[u8]> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        return Some(value.as_bytes());
    }
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|part| part.trim().split_once('='))
        .find(|(name, value)| *name == SESSION_COOKIE && !value.is_empty())
        .map(|(_, value)| value.as_bytes())
}

/// 429 with `Retry-After` in whole seconds (at least 1).
pub fn too_many_requests(wait: Duration) -> Response {
    let secs = wait
        .as_secs()
        .saturating_add(u64::from(wait.subsec_nanos() > 0))
        .max(1);
    Response::builder()
        .status(StatusCode::TOO_MANY_REQUESTS)
        .header(header::RETRY_AFTER, HeaderValue::from(secs))
        .content_type("application/json")
        .body(
            serde_json::json!({ "errors": [format!("rate limit exceeded; retry in {secs} s")] })
                .to_string(),
        )
}

impl Limiters {
    fn credential_key(&self, credential: &[u8]) -> CredentialKey {
        Sha256::new()
            .chain_update(self.salt)
            .chain_update(credential)
            .finalize()
            .into()
    }

    fn locked_out_for(&self, key: &ClientKey) -> Option<Duration> {
        let locked = self.locked_out.read().unwrap_or_else(|e| e.into_inner());
        let until = *locked.get(key)?;
        until.checked_duration_since(Instant::now())
    }

    /// Charges a 401 to the address; locks it out once its quota is used up.
    fn charge_failed_auth(&self, key: ClientKey, ip: IpAddr) {
        let Some(failed) = &self.failed_auth else {
            return;
        };
        let wait = match failed.check(&key) {
            Ok(state) if state.remaining_burst_capacity() > 0 => return,
            // That was the last token: the next one comes after one period at most.
            Ok(state) => state.quota().replenish_interval(),
            Err(wait) => wait,
        };
        tracing::warn!(
            client_ip = %ip,
            retry_after_ms = wait.as_millis() as u64,
            "too many failed authentications; refusing this client for a while"
        );
        self.locked_out
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, Instant::now() + wait);
    }

    /// `Err(wait)` when the request must be refused.
    fn admit(
        &self,
        req: &Request,
        key: ClientKey,
    ) -> std::result::Result<(), (Duration, &'static str)> {
        if let Some(wait) = self.locked_out_for(&key) {
            return Err((wait, "failed_auth"));
        }
        match (credential(req), &self.authenticated) {
            (Some(credential), Some(authenticated)) => {
                let state = authenticated
                    .check(&self.credential_key(credential))
                    .map_err(|wait| (wait, "authenticated"))?;
                // A credential seen recently is the client's own business; a fresh one
                // also costs the address an anonymous token.
                let fresh =
                    state.remaining_burst_capacity() + 1 >= state.quota().burst_size().get();
                if !fresh {
                    return Ok(());
                }
            }
            // Credentialed traffic is unlimited.
            (Some(_), None) => return Ok(()),
            (None, _) => {}
        }
        match &self.anonymous {
            Some(anonymous) => anonymous
                .check(&key)
                .map(|_| ())
                .map_err(|wait| (wait, "anonymous")),
            None => Ok(()),
        }
    }

    fn maybe_sweep(&self) {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        let due = now_ms.saturating_sub(last) >= SWEEP_INTERVAL.as_millis() as u64;
        let oversized = n % SIZE_CHECK_EVERY == SIZE_CHECK_EVERY - 1 && self.oversized();
        if (due || oversized)
            && self
                .last_sweep_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.sweep();
        }
    }

    fn oversized(&self) -> bool {
        let over = |len: usize| len > self.max_keys;
        self.anonymous.as_ref().is_some_and(|l| over(l.len()))
            || self.authenticated.as_ref().is_some_and(|l| over(l.len()))
            || self.failed_auth.as_ref().is_some_and(|l| over(l.len()))
            || over(
                self.locked_out
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .len(),
            )
    }

    fn sweep(&self) {
        if let Some(l) = &self.anonymous {
            l.sweep(self.max_keys);
        }
        if let Some(l) = &self.authenticated {
            l.sweep(self.max_keys);
        }
        if let Some(l) = &self.failed_auth {
            l.sweep(self.max_keys);
        }
        let now = Instant::now();
        let mut locked = self.locked_out.write().unwrap_or_else(|e| e.into_inner());
        locked.retain(|_, until| *until > now);
        if locked.len() > self.max_keys {
            tracing::warn!(
                clients = locked.len(),
                "too many clients locked out for failed authentication; forgetting them"
            );
            locked.clear();
        }
        locked.shrink_to_fit();
    }

    /// Keys currently tracked (for tests and metrics): anonymous, authenticated,
    /// failed-auth, locked out.
    fn sizes(&self) -> [usize; 4] {
        [
            self.anonymous.as_ref().map_or(0, Keyed::len),
            self.authenticated.as_ref().map_or(0, Keyed::len),
            self.failed_auth.as_ref().map_or(0, Keyed::len),
            self.locked_out
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .len(),
        ]
    }
}

impl RateLimit {
    /// Runs the housekeeping now (normally every [`SWEEP_INTERVAL`]).
    pub fn sweep(&self) {
        self.limiters.sweep();
    }

    /// Keys currently tracked: anonymous, authenticated, failed-auth, locked out.
    pub fn tracked_keys(&self) -> [usize; 4] {
        self.limiters.sizes()
    }
}

fn exempt(path: &str) -> bool {
    matches!(path, "/health" | "/ready")
}

impl<E: Endpoint> Endpoint for RateLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        if exempt(req.uri().path()) {
            return Ok(self.inner.get_response(req).await);
        }
        let limits = &self.limiters;
        limits.maybe_sweep();
        let ip = client_address(&req, limits.trust_forwarded_for)
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let key = bucket(ip);
        if let Err((wait, limit)) = limits.admit(&req, key) {
            tracing::info!(
                client_ip = %ip,
                limit,
                method = %req.method(),
                path = %req.uri().path(),
                retry_after_ms = wait.as_millis() as u64,
                "request throttled"
            );
            return Ok(too_many_requests(wait));
        }
        let resp = self.inner.get_response(req).await;
        if resp.status() == StatusCode::UNAUTHORIZED {
            limits.charge_failed_auth(key, ip);
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_is_grouped_by_64_and_mapped_v4_unwrapped() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(bucket(a), bucket(b));
        assert_ne!(bucket(a), bucket(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(bucket(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let secs = |d| {
            too_many_requests(d)
                .headers()
                .get(header::RETRY_AFTER)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(secs(Duration::ZERO), "1");
        assert_eq!(secs(Duration::from_millis(10)), "1");
        assert_eq!(secs(Duration::from_millis(1000)), "1");
        assert_eq!(secs(Duration::from_millis(1001)), "2");
        assert_eq!(secs(Duration::from_secs(60)), "60");
    }

    #[test]
    fn zero_per_minute_is_unlimited() {
        assert!(Keyed::<IpAddr>::new("t", 0, 10).is_none());
        let l = Keyed::<IpAddr>::new("t", 1, 0).unwrap();
        assert_eq!(l.quota.burst_size().get(), 1);
    }
}
