//! Rate limiting over HTTP: failed authentication locks an address out before any
//! credential is checked, the anonymous and per-credential quotas answer 429 with
//! `Retry-After` and a JSON error, `/health` is never limited, and one client's limit does
//! not touch another's.
//!
//! Loopback gives every request the same peer address, so the registries here trust
//! `X-Forwarded-For` and each simulated client sends its own.

use reqwest::Method;
use serde_json::json;
use tfr_tests::TestRegistry;
use tfr_tests::access::{Body, Call, Reply, audit_rows, bogus_key};
use tfr_tests::archives;

/// The burst tfr derives from a per-minute rate: the default burst scaled by the rate
/// against the default rate (see `http_security` in app/src/wiring.rs).
fn derived_burst(per_minute: u32, default_burst: u32, default_per_minute: u32) -> u32 {
    ((u64::from(per_minute) * u64::from(default_burst) / u64::from(default_per_minute)).max(1))
        as u32
}

/// Defaults of `RateLimits` (adapters/http/src/rate_limit.rs): per minute and burst.
const ANONYMOUS: (u32, u32) = (1200, 300);
const AUTHENTICATED: (u32, u32) = (6000, 1000);
const FAILED_AUTH: (u32, u32) = (30, 10);

async fn registry(
    anonymous: u32,
    authenticated: u32,
    failed_auth: u32,
    trust_forwarded_for: bool,
) -> TestRegistry {
    TestRegistry::builder()
        .configure(move |s| {
            s.auth.rate_limit_anonymous_per_minute = anonymous;
            s.auth.rate_limit_authenticated_per_minute = authenticated;
            s.auth.rate_limit_failed_auth_per_minute = failed_auth;
            s.auth.trust_forwarded_for = trust_forwarded_for;
        })
        .start()
        .await
        .expect("start tfr")
}

async fn from(
    reg: &TestRegistry,
    ip: &str,
    method: Method,
    path: &str,
    key: Option<&str>,
) -> Reply {
    Call::new(method, path)
        .bearer(key)
        .header("x-forwarded-for", ip)
        .send(reg)
        .await
}

/// A 429 as documented: `Retry-After` in whole seconds (at least 1, at most `max_secs`)
/// and `{"errors":["rate limit exceeded; retry in N s"]}`. Returns the wait.
fn assert_throttled(reply: &Reply, max_secs: u64, what: &str) -> u64 {
    assert_eq!(reply.status, 429, "{what}: {}", reply.text);
    let secs: u64 = reply
        .header("retry-after")
        .unwrap_or_else(|| panic!("{what}: 429 without Retry-After"))
        .parse()
        .unwrap_or_else(|e| panic!("{what}: Retry-After is not whole seconds: {e}"));
    assert!(
        (1..=max_secs).contains(&secs),
        "{what}: Retry-After {secs} not in 1..={max_secs}"
    );
    assert!(
        reply
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json")),
        "{what}: 429 is not JSON: {:?}",
        reply.headers
    );
    let message = reply.json()["errors"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: not {{\"errors\":[...]}}: {}", reply.text))
        .to_string();
    assert!(
        message.contains("rate limit") && message.contains(&format!("{secs} s")),
        "{what}: {message:?}"
    );
    secs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentication_locks_an_address_out_before_any_credential_check() {
    let per_minute = 6;
    let burst = derived_burst(per_minute, FAILED_AUTH.1, FAILED_AUTH.0);
    assert_eq!(
        burst, 2,
        "6 per minute scales the default burst of 10 per 30"
    );
    let reg = registry(0, 0, per_minute, true).await;
    let admin = reg.key_with_scopes("admin:*").await;
    // Bad keys with a real key's prefix: the lookup finds a candidate and bcrypt runs for
    // each one that gets as far as authentication.
    let prefix = &admin[..10];
    let attacker = "203.0.113.7";
    let attempts = 20;
    let mut statuses = Vec::new();
    let mut throttled = Vec::new();
    for i in 0..attempts {
        let bad = format!("{prefix}{}", &bogus_key()[10..]);
        assert_ne!(bad, admin);
        let reply = Call::new(Method::POST, "/api/v1/modules/acme/net/aws/1.0.0")
            .bearer(Some(&bad))
            .header("x-forwarded-for", attacker)
            .body(Body::Raw(archives::GZIP, vec![0u8; 16]))
            .send(&reg)
            .await;
        statuses.push(reply.status);
        match reply.status {
            401 => {}
            429 => throttled.push(assert_throttled(&reply, 10, &format!("attempt {i}"))),
            other => panic!(
                "attempt {i}: expected 401 or 429, got {other}: {}",
                reply.text
            ),
        }
    }
    let refused_401 = statuses.iter().filter(|s| **s == 401).count() as u32;
    assert!(
        (1..=burst + 1).contains(&refused_401),
        "{refused_401} bad keys were checked (401) with a burst of {burst}: {statuses:?}"
    );
    assert_eq!(
        statuses.iter().position(|s| *s == 429),
        Some(refused_401 as usize),
        "every answer after the burst is 429: {statuses:?}"
    );
    // Proof that the 429s were answered before authentication: a credential refused by
    // authentication leaves a denied audit row (401); a throttled request leaves none.
    let rows: Vec<_> = audit_rows(&reg, &admin, "action=module.publish")
        .await
        .into_iter()
        .filter(|r| r["client_ip"] == json!(attacker))
        .collect();
    assert_eq!(
        rows.len() as u32,
        refused_401,
        "one audit row per credential that reached authentication: {rows:#?}"
    );
    assert!(rows.iter().all(|r| r["status"] == json!(401)), "{rows:#?}");

    // Locked out, the address is refused whatever it sends, even a good key...
    let good = from(&reg, attacker, Method::GET, "/api/v1/auth/me", Some(&admin)).await;
    assert_throttled(&good, 10, "a valid key from the locked-out address");
    // ...but never on /health and /ready.
    for _ in 0..30 {
        let health = from(&reg, attacker, Method::GET, "/health", None).await;
        assert_eq!(health.status, 200, "/health is never limited");
    }
    assert_eq!(
        from(&reg, attacker, Method::GET, "/ready", None)
            .await
            .status,
        200
    );

    // Another client is not affected: its valid key works, its bad keys are its own.
    let other = "198.51.100.9";
    for _ in 0..20 {
        let ok = from(&reg, other, Method::GET, "/api/v1/auth/me", Some(&admin)).await;
        assert_eq!(ok.status, 200, "{}", ok.text);
    }
    let bad = from(
        &reg,
        other,
        Method::GET,
        "/api/v1/auth/me",
        Some(&bogus_key()),
    )
    .await;
    assert_eq!(bad.status, 401, "{}", bad.text);
    // So is the peer itself (no X-Forwarded-For).
    let me = Call::new(Method::GET, "/api/v1/auth/me")
        .bearer(Some(&admin))
        .send(&reg)
        .await;
    assert_eq!(me.status, 200, "{}", me.text);

    // After Retry-After, a token has refilled and the address may try again.
    let wait = from(&reg, attacker, Method::GET, "/api/v1/auth/me", Some(&admin)).await;
    let secs = assert_throttled(&wait, 10, "still locked out");
    tokio::time::sleep(std::time::Duration::from_millis(secs * 1000 + 300)).await;
    let back = from(&reg, attacker, Method::GET, "/api/v1/auth/me", Some(&admin)).await;
    assert_eq!(back.status, 200, "after Retry-After: {}", back.text);
    reg.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_quota_is_per_address_and_spares_health_and_credentials() {
    let per_minute = 12;
    let burst = derived_burst(per_minute, ANONYMOUS.1, ANONYMOUS.0);
    assert_eq!(burst, 3);
    let reg = registry(per_minute, 0, 0, true).await;
    let key = reg.key_with_scopes("modules:read").await;
    let a = "192.0.2.10";
    let mut statuses = Vec::new();
    for i in 0..10 {
        let reply = from(&reg, a, Method::GET, "/.well-known/terraform.json", None).await;
        if reply.status == 429 {
            assert_throttled(&reply, 5, &format!("anonymous request {i}"));
        }
        statuses.push(reply.status);
    }
    let expected: Vec<u16> = (0..10).map(|i| if i < burst { 200 } else { 429 }).collect();
    assert_eq!(statuses, expected, "{burst} anonymous requests, then 429");
    // Errors are throttled the same way (an unknown path is still a request).
    let unknown = from(&reg, a, Method::GET, "/no/such/page", None).await;
    assert_throttled(&unknown, 5, "an unknown path");

    for _ in 0..50 {
        assert_eq!(
            from(&reg, a, Method::GET, "/health", None).await.status,
            200
        );
    }
    assert_eq!(from(&reg, a, Method::GET, "/ready", None).await.status, 200);
    // Another address has its own quota.
    let b = "192.0.2.20";
    assert_eq!(
        from(&reg, b, Method::GET, "/.well-known/terraform.json", None)
            .await
            .status,
        200
    );
    // Credentialed traffic is not charged to the anonymous quota when the authenticated
    // limit is off.
    for _ in 0..20 {
        let ok = from(&reg, a, Method::GET, "/v1/modules", Some(&key)).await;
        assert_eq!(ok.status, 200, "{}", ok.text);
    }
    reg.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_credential_has_its_own_quota_and_new_ones_cost_the_address() {
    let (anon_rate, auth_rate) = (12, 60);
    let anon_burst = derived_burst(anon_rate, ANONYMOUS.1, ANONYMOUS.0);
    let auth_burst = derived_burst(auth_rate, AUTHENTICATED.1, AUTHENTICATED.0);
    assert_eq!((anon_burst, auth_burst), (3, 10));
    let reg = registry(anon_rate, auth_rate, 0, true).await;
    let first = reg.key_with_scopes("modules:read").await;
    let second = reg.key_with_scopes("modules:read").await;
    let ip = "192.0.2.30";

    // One key: its burst, then 429 (its first use also took one anonymous token).
    let mut statuses = Vec::new();
    for i in 0..auth_burst + 3 {
        let reply = from(&reg, ip, Method::GET, "/v1/modules", Some(&first)).await;
        if reply.status == 429 {
            assert_throttled(&reply, 10, &format!("request {i} with one key"));
        }
        statuses.push(reply.status);
    }
    let expected: Vec<u16> = (0..auth_burst + 3)
        .map(|i| if i < auth_burst { 200 } else { 429 })
        .collect();
    assert_eq!(
        statuses, expected,
        "{auth_burst} requests per key, then 429"
    );

    // Another key from the same address is not limited by the first one's quota.
    for _ in 0..5 {
        let ok = from(&reg, ip, Method::GET, "/v1/modules", Some(&second)).await;
        assert_eq!(ok.status, 200, "{}", ok.text);
    }

    // Inventing a new credential per request does not escape the address's limit: each
    // fresh one costs an anonymous token (two are spent already, by the two keys).
    let other_ip = "192.0.2.31";
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let reply = from(
            &reg,
            other_ip,
            Method::GET,
            "/v1/modules",
            Some(&bogus_key()),
        )
        .await;
        statuses.push(reply.status);
    }
    let expected: Vec<u16> = (0..6)
        .map(|i| if i < anon_burst { 401 } else { 429 })
        .collect();
    assert_eq!(statuses, expected, "fresh credentials from one address");
    // The first address spent two of its three on the two keys: one more fresh credential
    // goes through (and is refused as unknown), the next is throttled.
    let last = from(&reg, ip, Method::GET, "/v1/modules", Some(&bogus_key())).await;
    assert_eq!(last.status, 401, "{}", last.text);
    let spent = from(&reg, ip, Method::GET, "/v1/modules", Some(&bogus_key())).await;
    assert_throttled(
        &spent,
        5,
        "a fresh credential from an address out of tokens",
    );
    // The keys already in use keep working (within their own quota).
    let ok = from(&reg, ip, Method::GET, "/v1/modules", Some(&second)).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    reg.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_ignored_unless_trusted() {
    let reg = registry(12, 0, 0, false).await;
    let burst = derived_burst(12, ANONYMOUS.1, ANONYMOUS.0);
    for i in 0..burst {
        let ip = format!("192.0.2.{}", 100 + i);
        let reply = from(&reg, &ip, Method::GET, "/.well-known/terraform.json", None).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    // Every request came from 127.0.0.1, whatever the header said.
    let reply = from(
        &reg,
        "192.0.2.250",
        Method::GET,
        "/.well-known/terraform.json",
        None,
    )
    .await;
    assert_throttled(&reply, 5, "a made-up X-Forwarded-For");
    reg.shutdown().await;
}
