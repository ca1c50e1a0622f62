//! Security headers on every kind of response (a fresh CSP nonce per response, matching the
//! page's inline tags; HSTS over TLS only; nosniff, framing refused, no referrer), and
//! secrets never written to the logs.
//!
//! The log test runs a scenario in a child process (this test binary again, running the
//! ignored `log_scenario` test) whose logging is set up by tfr's own `telemetry::init`, at
//! debug level and trace for tfr's crates, writing to its stdout; the parent reads that
//! output and looks for every secret the scenario used or was given.

use std::process::Command;

use reqwest::Method;
use serde_json::{Value, json};
use tfr_tests::TestRegistry;
use tfr_tests::access::{Body, Call, Reply, bogus_key};
use tfr_tests::archives;
use tfr_tests::oidc::{OidcTestProvider, TestUser};
use tfr_tests::provider::generate_signing_key;
use tfr_tests::sso;
use tfr_tests::world::{publish_module_ok, publish_provider_ok};

/// The CSP nonce of a response (`'nonce-...'` in script-src, the same in style-src).
fn csp_nonce(reply: &Reply, what: &str) -> String {
    let csp = reply
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"));
    let nonces: Vec<&str> = csp
        .split('\'')
        .filter_map(|part| part.strip_prefix("nonce-"))
        .collect();
    assert_eq!(
        nonces.len(),
        2,
        "{what}: script-src and style-src nonces: {csp}"
    );
    assert_eq!(
        nonces[0], nonces[1],
        "{what}: one nonce per response: {csp}"
    );
    assert!(
        nonces[0].len() >= 22,
        "{what}: a nonce of at least 128 bits: {csp}"
    );
    nonces[0].to_string()
}

/// The opening `<script` and `<style` tags of a page.
fn inline_tags(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut tags = Vec::new();
    let mut at = 0;
    while let Some(pos) = lower[at..].find('<').map(|p| p + at) {
        let rest = &lower[pos + 1..];
        let is_tag = ["script", "style"].iter().any(|name| {
            rest.starts_with(name)
                && rest[name.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_whitespace() || c == '>' || c == '/')
        });
        if is_tag {
            let end = lower[pos..].find('>').map_or(html.len(), |e| pos + e + 1);
            tags.push(html[pos..end].to_string());
            // Skip the element's contents (they may contain "<script" as text).
            let name = if rest.starts_with("script") {
                "</script"
            } else {
                "</style"
            };
            at = lower[end..].find(name).map_or(html.len(), |e| end + e + 1);
        } else {
            at = pos + 1;
        }
    }
    tags
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csp_nonce_is_fresh_per_response_and_on_every_inline_tag() {
    let reg = TestRegistry::start().await.expect("start tfr");
    let mut seen = Vec::new();
    for _ in 0..3 {
        let page = Call::new(Method::GET, "/api-docs/").send(&reg).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(
            page.header("content-type")
                .is_some_and(|ct| ct.starts_with("text/html")),
            "{:?}",
            page.headers
        );
        let nonce = csp_nonce(&page, "/api-docs/");
        let tags = inline_tags(&page.text);
        assert!(!tags.is_empty(), "the API docs page has inline scripts");
        let attribute = format!("nonce=\"{nonce}\"");
        for tag in &tags {
            assert!(
                tag.contains(&attribute),
                "{tag} lacks this response's nonce {nonce}"
            );
        }
        assert_eq!(
            page.text.matches(&attribute).count(),
            tags.len(),
            "the nonce appears on the inline tags only"
        );
        assert_eq!(page.header("cache-control"), Some("no-store"));
        seen.push(nonce);
    }
    // JSON answers get a policy (and a nonce) of their own too.
    let json = Call::new(Method::GET, "/.well-known/terraform.json")
        .send(&reg)
        .await;
    seen.push(csp_nonce(&json, "discovery"));
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        seen.len(),
        "a nonce is never reused: {seen:?}"
    );
    reg.shutdown().await;
}

/// The headers every response carries, whatever produced it.
fn assert_security_headers(reply: &Reply, tls: bool, what: &str) {
    let h = |name: &str| reply.header(name).map(str::to_string);
    assert_eq!(
        h("x-content-type-options").as_deref(),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(h("x-frame-options").as_deref(), Some("DENY"), "{what}");
    assert_eq!(
        h("referrer-policy").as_deref(),
        Some("no-referrer"),
        "{what}"
    );
    let csp = h("content-security-policy").unwrap_or_else(|| panic!("{what}: no CSP"));
    for directive in [
        "frame-ancestors 'none'",
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(
            csp.contains(directive),
            "{what}: CSP lacks {directive}: {csp}"
        );
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    let hsts = h("strict-transport-security");
    if tls {
        let hsts = hsts.unwrap_or_else(|| panic!("{what}: no HSTS over TLS"));
        let max_age: u64 = hsts
            .split(';')
            .find_map(|p| p.trim().strip_prefix("max-age="))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{what}: HSTS without max-age: {hsts}"));
        assert!(max_age >= 31_536_000, "{what}: {hsts}");
    } else {
        assert_eq!(hsts, None, "{what}: HSTS over plain HTTP");
    }
}

async fn every_kind_of_response(tls: bool) {
    let mut builder = TestRegistry::builder();
    if tls {
        builder = builder.tls();
    }
    let reg = builder.start().await.expect("start tfr");
    reg.publish_sample_module("acme/net/aws", "1.0.0").await;
    let token = reg.token.clone();
    let download = Call::new(Method::GET, "/v1/modules/acme/net/aws/1.0.0/download")
        .bearer(Some(&token))
        .send(&reg)
        .await;
    assert_eq!(download.status, 204, "{}", download.text);
    let link = download
        .header("x-terraform-get")
        .expect("X-Terraform-Get")
        .to_string();
    let file_path = link
        .strip_prefix(&reg.base_url)
        .unwrap_or(&link)
        .to_string();
    let tampered = format!("{file_path}x");

    let cases: Vec<(&str, Call<'_>, u16)> = vec![
        (
            "JSON",
            Call::new(Method::GET, "/.well-known/terraform.json"),
            200,
        ),
        ("health", Call::new(Method::GET, "/health"), 200),
        (
            "a protocol read",
            Call::new(Method::GET, "/v1/modules/acme/net/aws/versions").bearer(Some(&token)),
            200,
        ),
        ("a signed file", Call::new(Method::GET, &file_path), 200),
        (
            "a tampered signed link",
            Call::new(Method::GET, &tampered),
            403,
        ),
        (
            "no credential",
            Call::new(Method::GET, "/v1/modules/acme/net/aws/versions"),
            401,
        ),
        (
            "an invalid credential",
            Call::new(Method::GET, "/api/v1/auth/me").bearer(Some("tfr_not-a-key")),
            401,
        ),
        (
            "a missing scope",
            Call::new(Method::GET, "/api/v1/admin/audit-logs").bearer(Some(&token)),
            403,
        ),
        ("not found", Call::new(Method::GET, "/no/such/page"), 404),
        (
            "method not allowed",
            Call::new(Method::PATCH, "/.well-known/terraform.json"),
            405,
        ),
        (
            "a bad request",
            Call::new(Method::POST, "/api/v1/modules/acme/net/aws/1.1.0")
                .bearer(Some(&token))
                .body(Body::Raw(archives::GZIP, b"not gzip".to_vec())),
            400,
        ),
        (
            "the OpenAPI document",
            Call::new(Method::GET, "/openapi.json"),
            200,
        ),
        ("HTML", Call::new(Method::GET, "/api-docs/"), 200),
    ];
    for (what, call, status) in cases {
        let reply = call.send(&reg).await;
        assert_eq!(reply.status, status, "{what}: {}", reply.text);
        assert_security_headers(&reply, tls, what);
        if status >= 400 {
            assert!(
                reply
                    .header("content-type")
                    .is_some_and(|ct| ct.starts_with("application/json")),
                "{what}: errors are JSON: {:?}",
                reply.headers
            );
            assert!(
                reply.json()["errors"][0].is_string(),
                "{what}: {}",
                reply.text
            );
        }
    }
    reg.shutdown().await;

    // A throttled answer carries them too.
    let mut builder = TestRegistry::builder().configure(|s| {
        s.auth.rate_limit_anonymous_per_minute = 4;
    });
    if tls {
        builder = builder.tls();
    }
    let reg = builder.start().await.expect("start tfr");
    let mut last = None;
    for _ in 0..5 {
        last = Some(
            Call::new(Method::GET, "/.well-known/terraform.json")
                .send(&reg)
                .await,
        );
    }
    let throttled = last.expect("a reply");
    assert_eq!(throttled.status, 429, "{}", throttled.text);
    assert_security_headers(&throttled, tls, "429");
    reg.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_over_plain_http_without_hsts() {
    every_kind_of_response(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_over_tls_with_hsts() {
    every_kind_of_response(true).await;
}

// ---------------------------------------------------------------------------------------
// Secrets never in the logs.

const CHILD_OUT: &str = "TFR_LOG_SCENARIO_OUT";
const CHILD_FORMAT: &str = "TFR_LOG_SCENARIO_FORMAT";
/// Debug everywhere, trace in tfr's crates; the transport crates' chatter kept out.
const LOG_FILTER: &str = "debug,tfr=trace,tfr_http=trace,tfr_ports=trace,tfr_core=trace,\
tfr_db_seaorm=trace,tfr_security=trace,tfr_sso=trace,tfr_archive=trace,tfr_blob_fs=trace,\
hyper=info,hyper_util=info,h2=info,rustls=info";

#[test]
fn secrets_never_appear_in_logs_json() {
    secrets_never_appear_in_logs("json");
}

#[test]
fn secrets_never_appear_in_logs_text() {
    secrets_never_appear_in_logs("text");
}

fn secrets_never_appear_in_logs(format: &str) {
    let out = tempfile::NamedTempFile::new().expect("temp file");
    let child = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--ignored", "--exact", "log_scenario", "--nocapture"])
        .env(CHILD_OUT, out.path())
        .env(CHILD_FORMAT, format)
        .env("RUST_LOG", LOG_FILTER)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run the log scenario");
    let logs = format!(
        "{}\n{}",
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
    assert!(
        child.status.success(),
        "the log scenario failed ({}):\n{}",
        child.status,
        logs.chars()
            .rev()
            .take(20_000)
            .collect::<String>()
            .chars()
            .rev()
            .collect::<String>()
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(out.path()).expect("report"))
        .expect("the scenario's report is JSON");
    let secrets: Vec<(String, String)> = report["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .map(|s| {
            (
                s[0].as_str().expect("what").to_string(),
                s[1].as_str().expect("secret").to_string(),
            )
        })
        .collect();
    assert!(secrets.len() >= 15, "{} secrets", secrets.len());

    // The capture works: the scenario's events are there.
    let lines = logs.lines().count();
    assert!(lines > 50, "only {lines} lines of logs captured:\n{logs}");
    for expected in [
        "API key created",
        "signed in",
        "request with an invalid credential",
        "/api/v1/keys",
        "/v1/files/",
        "too many failed authentications",
    ] {
        assert!(
            logs.contains(expected),
            "{format} logs lack {expected:?}: the capture is broken or the scenario changed"
        );
    }
    if format == "json" {
        let json_lines = logs
            .lines()
            .filter(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v["level"].is_string()))
            .count();
        assert!(json_lines > 50, "{json_lines} JSON log lines");
    }

    let mut leaks = Vec::new();
    for (what, secret) in &secrets {
        assert!(
            secret.len() >= 16,
            "{what}: a secret that short proves nothing"
        );
        // A key's first 10 characters are its public prefix; what follows is secret.
        let tail = if secret.starts_with("tfr_") {
            &secret[10..]
        } else {
            secret.as_str()
        };
        if logs.contains(tail) {
            let line = logs
                .lines()
                .find(|l| l.contains(tail))
                .unwrap_or_default()
                .replace(tail, "<SECRET>");
            leaks.push(format!(
                "{what}: {}",
                line.chars().take(600).collect::<String>()
            ));
        }
    }
    assert!(
        leaks.is_empty(),
        "secrets in the {format} logs:\n{}",
        leaks.join("\n")
    );
}

/// Run by [`secrets_never_appear_in_logs`] in a child process; does nothing useful alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child half of secrets_never_appear_in_logs_*"]
async fn log_scenario() {
    let Some(out) = std::env::var_os(CHILD_OUT) else {
        return;
    };
    let format = match std::env::var(CHILD_FORMAT).as_deref() {
        Ok("text") => tfr::LogFormat::Text,
        _ => tfr::LogFormat::Json,
    };
    tfr::telemetry::init(format, true, "debug");
    let mut secrets: Vec<(String, String)> = Vec::new();
    let mut keep = |what: &str, s: &str| secrets.push((what.to_string(), s.to_string()));

    let admin_email = "logs-admin@example.com";
    let idp = OidcTestProvider::start(sso::idp_options())
        .await
        .expect("OIDC provider");
    let reg = TestRegistry::builder()
        .configure(sso::configure(&idp, &[admin_email]))
        .configure(|s| {
            s.auth.rate_limit_failed_auth_per_minute = 6;
            s.auth.trust_forwarded_for = true;
        })
        .start()
        .await
        .expect("start tfr");
    keep("the OIDC client secret", idp.client_secret());
    let settings = &reg.settings;
    keep(
        "jwt_secret",
        settings
            .auth
            .jwt_secret
            .as_ref()
            .expect("jwt secret")
            .expose(),
    );
    keep(
        "url_signing_key",
        settings
            .url_signing_key
            .as_ref()
            .expect("url signing key")
            .expose(),
    );
    keep("the harness key", &reg.token);

    // System keys, used.
    let admin = reg.key_with_scopes("admin:*").await;
    keep("a system key", &admin);
    let reader = reg.key_with_scopes("modules:read,providers:read").await;
    keep("a read key", &reader);
    publish_module_ok(&reg, "logs/net/aws", "1.0.0", &admin).await;
    publish_provider_ok(&reg, &generate_signing_key(), "logs", "1.0.0", &admin).await;
    let versions = Call::new(Method::GET, "/v1/modules/logs/net/aws/versions")
        .bearer(Some(&reader))
        .send(&reg)
        .await;
    assert_eq!(versions.status, 200);
    // Signed download links: their signatures travel in query strings.
    let download = Call::new(Method::GET, "/v1/modules/logs/net/aws/1.0.0/download")
        .bearer(Some(&reader))
        .send(&reg)
        .await;
    let link = download
        .header("x-terraform-get")
        .expect("a module link")
        .to_string();
    let provider = Call::new(
        Method::GET,
        "/v1/providers/logs/fake/1.0.0/download/linux/amd64",
    )
    .bearer(Some(&reader))
    .send(&reg)
    .await;
    assert_eq!(provider.status, 200, "{}", provider.text);
    let provider = provider.json();
    for url in [
        link.as_str(),
        provider["download_url"].as_str().expect("download_url"),
        provider["shasums_url"].as_str().expect("shasums_url"),
    ] {
        let (path, query) = url.split_once('?').expect("a signed link has a query");
        keep("a download link's signature", query);
        let path = path.strip_prefix(&reg.base_url).unwrap_or(path);
        let fetched = Call::new(Method::GET, format!("{path}?{query}"))
            .send(&reg)
            .await;
        assert_eq!(fetched.status, 200, "{url}");
    }

    // Bad keys (one with a real key's prefix, so it is checked against that key's hash),
    // from addresses of their own: enough for one to be locked out (and logged as such).
    for (i, bad) in [
        bogus_key(),
        format!("{}{}", &admin[..10], &bogus_key()[10..]),
        bogus_key(),
        bogus_key(),
    ]
    .into_iter()
    .enumerate()
    {
        keep("a bad key", &bad);
        let reply = Call::new(Method::GET, "/api/v1/auth/me")
            .bearer(Some(&bad))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .send(&reg)
            .await;
        assert_eq!(reply.status, 401);
        for _ in 0..3 {
            let reply = Call::new(Method::DELETE, "/api/v1/modules/logs/net/aws/1.0.0")
                .bearer(Some(&bad))
                .header("x-forwarded-for", "203.0.113.66")
                .send(&reg)
                .await;
            assert!(
                reply.status == 401 || reply.status == 429,
                "{}",
                reply.status
            );
        }
    }

    // A user signs in, makes, rotates and revokes a key, and uses the session both ways.
    let user = sso::sign_in(
        &reg,
        &idp,
        &TestUser::new("logs-admin")
            .email(admin_email, true)
            .username("logs-admin"),
    )
    .await
    .expect("sign in");
    keep("a session token", &user.token);
    keep("a CSRF token", &user.csrf);
    let created = Call::new(Method::POST, "/api/v1/keys")
        .bearer(Some(&user.token))
        .json(json!({"name": "laptop", "scopes": ["modules:read"]}))
        .send(&reg)
        .await;
    assert_eq!(created.status, 201);
    let created = created.json();
    let user_key = created["secret"].as_str().expect("secret").to_string();
    keep("a user's key", &user_key);
    let id = created["key"]["id"].as_str().expect("id").to_string();
    let used = Call::new(Method::GET, "/v1/modules/logs/net/aws/versions")
        .bearer(Some(&user_key))
        .send(&reg)
        .await;
    assert_eq!(used.status, 200);
    let cookie = format!("tfr_session={}; tfr_csrf={}", user.token, user.csrf);
    let rotated = Call::new(Method::POST, format!("/api/v1/keys/{id}/rotate"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &user.csrf)
        .send(&reg)
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    keep(
        "a rotated key",
        rotated.json()["secret"].as_str().expect("secret"),
    );
    let no_csrf = Call::new(Method::DELETE, format!("/api/v1/keys/{id}"))
        .header("cookie", &cookie)
        .send(&reg)
        .await;
    assert_eq!(no_csrf.status, 403);
    let revoked = Call::new(Method::DELETE, format!("/api/v1/keys/{id}"))
        .bearer(Some(&user.token))
        .send(&reg)
        .await;
    assert_eq!(revoked.status, 204);
    let stale = Call::new(Method::GET, "/api/v1/auth/me")
        .bearer(Some(&user_key))
        .header("x-forwarded-for", "192.0.2.201")
        .send(&reg)
        .await;
    assert_eq!(stale.status, 401, "a revoked key stops working");
    // An organization key.
    let org_key = Call::new(Method::POST, "/api/v1/admin/organizations/default/api-keys")
        .bearer(Some(&admin))
        .json(json!({"name": "ci", "scopes": ["modules:write"]}))
        .send(&reg)
        .await;
    assert_eq!(org_key.status, 201, "{}", org_key.text);
    keep(
        "an organization key",
        org_key.json()["secret"].as_str().expect("secret"),
    );
    // A refreshed session, then logging out.
    let refreshed = Call::new(Method::POST, "/api/v1/auth/refresh")
        .header("cookie", &cookie)
        .header("x-csrf-token", &user.csrf)
        .send(&reg)
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let mut session = None;
    for value in refreshed
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        if let Some((name, rest)) = value.split_once('=') {
            let token = rest.split(';').next().unwrap_or_default();
            if !token.is_empty() {
                keep(&format!("the refreshed {name} cookie"), token);
                if name == "tfr_session" {
                    session = Some(token.to_string());
                }
            }
        }
    }
    // The refresh revoked the first session token; the new one logs out.
    let session = session.expect("a refreshed session cookie");
    let stale = Call::new(Method::GET, "/api/v1/auth/me")
        .bearer(Some(&user.token))
        .header("x-forwarded-for", "192.0.2.202")
        .send(&reg)
        .await;
    assert_eq!(stale.status, 401, "{}", stale.text);
    let logout = Call::new(Method::POST, "/api/v1/auth/logout")
        .bearer(Some(&session))
        .send(&reg)
        .await;
    assert_eq!(logout.status, 204, "{}", logout.text);
    let after = Call::new(Method::GET, "/api/v1/auth/me")
        .bearer(Some(&session))
        .header("x-forwarded-for", "192.0.2.203")
        .send(&reg)
        .await;
    assert_eq!(after.status, 401, "a logged-out session stops working");
    reg.shutdown().await;

    std::fs::write(out, json!({ "secrets": secrets }).to_string()).expect("write the report");
}
