//! The security middlewares (headers, CORS, rate limiting) around small endpoints,
//! stacked in the order the app uses: security headers -> CORS -> rate limiting -> inner.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use poem::endpoint::{BoxEndpoint, make_sync};
use poem::http::{HeaderMap, StatusCode};
use poem::test::{TestClient, TestResponse};
use poem::web::Html;
use poem::{EndpointExt, Request, Response, Route, handler};
use tfr_http::{CorsPolicy, CspNonce, HttpSecurity, RateLimit, RateLimits, SecurityHeaders};

// ---------------------------------------------------------------- helpers

const PAGE: &str = "<!doctype html><html><head><style>body{}</style><script>let s = \"<script>\";</script></head><body><script src=\"/app.js\"></script></body></html>";

#[handler]
fn ok() -> &'static str {
    "ok"
}

#[handler]
fn boom() -> poem::Result<()> {
    Err(poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR))
}

#[handler]
fn page(req: &Request) -> Html<String> {
    // The handler sees the nonce too; echo it so the test can compare.
    let nonce = req
        .data::<CspNonce>()
        .map(|n| n.0.clone())
        .unwrap_or_default();
    Html(format!("{PAGE}<!-- handler nonce {nonce} -->"))
}

#[handler]
fn json_with_markup() -> Response {
    Response::builder()
        .content_type("application/json")
        .body(r#"{"description":"<script>alert(1)</script>"}"#)
}

#[handler]
fn own_policy() -> Response {
    Response::builder()
        .content_type("text/html")
        .header("content-security-policy", "sandbox")
        .body("<script>1</script>")
}

#[handler]
fn big_page() -> Html<String> {
    Html(format!("<script>1</script>{}", "x".repeat(5 * 1024 * 1024)))
}

fn routes() -> Route {
    Route::new()
        .at("/ok", ok)
        .at("/boom", boom)
        .at("/page", page)
        .at("/json", json_with_markup)
        .at("/own-policy", own_policy)
        .at("/big", big_page)
}

fn security(tls: bool, origins: &[&str], limits: RateLimits) -> HttpSecurity {
    HttpSecurity {
        tls,
        cors_allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
        rate_limits: limits,
        trust_forwarded_for: true,
    }
}

/// The security layers in the app's order around `inner`.
fn stack<E: poem::Endpoint + 'static>(inner: E, s: &HttpSecurity) -> BoxEndpoint<'static> {
    inner
        .with(RateLimit::new(&s.rate_limits, s.trust_forwarded_for))
        .with(CorsPolicy::new(&s.cors_allowed_origins))
        .with(SecurityHeaders::new(s.tls))
        .boxed()
}

fn client(s: &HttpSecurity) -> Client {
    TestClient::new(stack(routes(), s))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn assert_no_header(resp: &TestResponse, name: &str) {
    assert!(resp.0.headers().get(name).is_none(), "unexpected {name}");
}

fn csp_nonce(headers: &HeaderMap) -> String {
    let csp = header(headers, "content-security-policy").expect("a CSP header");
    let start = csp.find("'nonce-").expect("a nonce in the CSP") + "'nonce-".len();
    let end = csp[start..].find('\'').unwrap() + start;
    csp[start..end].to_string()
}

fn assert_security_headers(resp: &TestResponse) {
    let h = resp.0.headers();
    assert_eq!(header(h, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(h, "x-frame-options"), Some("DENY"));
    assert_eq!(header(h, "referrer-policy"), Some("no-referrer"));
    let csp = header(h, "content-security-policy").expect("CSP");
    for directive in [
        "default-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    let nonce = csp_nonce(h);
    assert!(nonce.len() >= 22, "128-bit nonce: {nonce}");
    assert!(
        csp.contains(&format!("script-src 'self' 'nonce-{nonce}'")),
        "{csp}"
    );
    assert!(
        csp.contains(&format!("style-src 'self' 'nonce-{nonce}'")),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
}

fn limits(anonymous: (u32, u32), authenticated: (u32, u32), failed_auth: (u32, u32)) -> RateLimits {
    RateLimits {
        anonymous_per_minute: anonymous.0,
        anonymous_burst: anonymous.1,
        authenticated_per_minute: authenticated.0,
        authenticated_burst: authenticated.1,
        failed_auth_per_minute: failed_auth.0,
        failed_auth_burst: failed_auth.1,
        ..RateLimits::default()
    }
}

async fn body_text(resp: TestResponse) -> String {
    resp.0.into_body().into_string().await.unwrap()
}

// ---------------------------------------------------------------- security headers

#[tokio::test]
async fn headers_on_ok_not_found_and_server_error() {
    let cli = client(&HttpSecurity::default());
    for (path, status) in [
        ("/ok", StatusCode::OK),
        ("/nowhere", StatusCode::NOT_FOUND),
        ("/boom", StatusCode::INTERNAL_SERVER_ERROR),
    ] {
        let resp = cli.get(path).send().await;
        resp.assert_status(status);
        assert_security_headers(&resp);
        assert!(
            resp.0.headers().get("strict-transport-security").is_none(),
            "no HSTS without TLS"
        );
    }
}

#[tokio::test]
async fn hsts_only_with_tls() {
    let plain = client(&security(false, &[], RateLimits::unlimited()));
    let resp = plain.get("/ok").send().await;
    assert_no_header(&resp, "strict-transport-security");

    let tls = client(&security(true, &[], RateLimits::unlimited()));
    for path in ["/ok", "/nowhere", "/boom"] {
        let resp = tls.get(path).send().await;
        resp.assert_header(
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        );
    }
}

#[tokio::test]
async fn nonce_is_fresh_per_response_and_injected_into_inline_tags() {
    let cli = client(&HttpSecurity::default());
    let mut seen = Vec::new();
    for _ in 0..3 {
        let resp = cli.get("/page").send().await;
        resp.assert_status_is_ok();
        assert_security_headers(&resp);
        let nonce = csp_nonce(resp.0.headers());
        assert_eq!(header(resp.0.headers(), "cache-control"), Some("no-store"));
        let body = body_text(resp).await;
        let attr = format!("nonce=\"{nonce}\"");
        assert_eq!(body.matches(&attr).count(), 3, "{body}");
        assert_eq!(body.matches("nonce=").count(), 3, "only our nonce: {body}");
        assert!(
            body.contains(&format!("<style {attr}>body{{}}</style>")),
            "{body}"
        );
        assert!(
            body.contains(&format!("<script {attr}>let s = \"<script>\";</script>")),
            "script contents untouched: {body}"
        );
        assert!(
            body.contains(&format!("<script {attr} src=\"/app.js\">")),
            "{body}"
        );
        assert!(
            body.contains(&format!("handler nonce {nonce}")),
            "the handler got the same nonce as request data"
        );
        seen.push(nonce);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3, "a fresh nonce per response");
}

#[tokio::test]
async fn non_html_bodies_and_handler_policies_are_left_alone() {
    let cli = client(&HttpSecurity::default());
    let resp = cli.get("/json").send().await;
    assert_security_headers(&resp);
    assert_eq!(
        body_text(resp).await,
        r#"{"description":"<script>alert(1)</script>"}"#
    );

    let resp = cli.get("/own-policy").send().await;
    resp.assert_header("content-security-policy", "sandbox");
    resp.assert_header("x-frame-options", "DENY");
    assert_eq!(body_text(resp).await, "<script>1</script>");
}

#[tokio::test]
async fn oversized_html_is_streamed_unchanged() {
    let cli = client(&HttpSecurity::default());
    let resp = cli.get("/big").send().await;
    resp.assert_status_is_ok();
    assert_security_headers(&resp);
    let body = body_text(resp).await;
    assert_eq!(body.len(), "<script>1</script>".len() + 5 * 1024 * 1024);
    assert!(body.starts_with("<script>1</script>"));
}

struct DocsApi;

#[poem_openapi::OpenApi]
impl DocsApi {
    /// Says hello.
    #[oai(path = "/hello", method = "get")]
    async fn hello(&self) -> poem_openapi::payload::PlainText<&'static str> {
        poem_openapi::payload::PlainText("hello")
    }
}

#[tokio::test]
async fn swagger_ui_inline_bundle_gets_the_nonce() {
    let service = poem_openapi::OpenApiService::new(DocsApi, "t", "1");
    let raw_page = service.swagger_ui_html();
    let app = Route::new().nest("/api-docs", service.swagger_ui());
    let cli = TestClient::new(stack(app, &HttpSecurity::default()));
    let resp = cli.get("/api-docs/").send().await;
    resp.assert_status_is_ok();
    let nonce = csp_nonce(resp.0.headers());
    let body = body_text(resp).await;
    let attr = format!(" nonce=\"{nonce}\"");
    // Its <style>, the inlined bundle's <script>, and the bootstrap <script>: every
    // inline element the page has, and nothing inside them changed.
    assert_eq!(body.matches(&attr).count(), 3);
    assert_eq!(body.replace(&attr, ""), raw_page);
    assert!(body.contains(&format!("<style{attr} charset=\"UTF-8\">")));
}

// ---------------------------------------------------------------- CORS

const UI: &str = "https://ui.example.com";

#[tokio::test]
async fn cors_allowed_origin_gets_credentialed_headers() {
    let cli = client(&security(
        false,
        &[UI, "http://localhost:5173/"],
        RateLimits::unlimited(),
    ));
    let resp = cli.get("/ok").header("origin", UI).send().await;
    resp.assert_status_is_ok();
    resp.assert_header("access-control-allow-origin", UI);
    resp.assert_header("access-control-allow-credentials", "true");
    resp.assert_header("access-control-expose-headers", "retry-after, x-request-id");
    resp.assert_header("vary", "Origin");
    assert_security_headers(&resp);

    // Trailing slash in the configuration is ignored.
    let resp = cli
        .get("/ok")
        .header("origin", "http://localhost:5173")
        .send()
        .await;
    resp.assert_header("access-control-allow-origin", "http://localhost:5173");

    let resp = cli
        .options("/ok")
        .header("origin", UI)
        .header("access-control-request-method", "DELETE")
        .header(
            "access-control-request-headers",
            "authorization, content-type, x-csrf-token",
        )
        .send()
        .await;
    resp.assert_status(StatusCode::NO_CONTENT);
    resp.assert_header("access-control-allow-origin", UI);
    resp.assert_header("access-control-allow-credentials", "true");
    resp.assert_header(
        "access-control-allow-methods",
        "GET, POST, PUT, PATCH, DELETE, OPTIONS",
    );
    resp.assert_header(
        "access-control-allow-headers",
        "authorization, content-type, x-csrf-token",
    );
    resp.assert_header("access-control-max-age", "600");
}

#[tokio::test]
async fn cors_other_origin_gets_no_cors_headers() {
    let cli = client(&security(false, &[UI], RateLimits::unlimited()));
    for origin in [
        "https://evil.example.com",
        "null",
        "https://ui.example.com.evil.com",
    ] {
        // A simple request still runs (CORS is the browser's business) but carries no
        // grant, so the browser won't let the page read it.
        let resp = cli.get("/ok").header("origin", origin).send().await;
        resp.assert_status_is_ok();
        assert_no_header(&resp, "access-control-allow-origin");
        assert_no_header(&resp, "access-control-allow-credentials");
        resp.assert_header("vary", "Origin");

        let resp = cli
            .options("/ok")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
            .await;
        resp.assert_status(StatusCode::FORBIDDEN);
        assert_no_header(&resp, "access-control-allow-origin");
        assert_security_headers(&resp);
    }
}

#[tokio::test]
async fn cors_refuses_unlisted_methods_and_headers() {
    let cli = client(&security(false, &[UI], RateLimits::unlimited()));
    let preflight = |method: &'static str, headers: &'static str| {
        cli.options("/ok")
            .header("origin", UI)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", headers)
            .send()
    };
    preflight("TRACE", "")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    preflight("CONNECT", "")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    preflight("POST", "x-evil")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    preflight("POST", "authorization, x-evil")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    preflight("PUT", "Content-Type")
        .await
        .assert_status(StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn cors_none_configured_means_no_cors_at_all() {
    let cli = client(&HttpSecurity::default());
    let resp = cli.get("/ok").header("origin", UI).send().await;
    resp.assert_status_is_ok();
    assert_no_header(&resp, "access-control-allow-origin");
    assert_no_header(&resp, "vary");

    let resp = cli
        .options("/ok")
        .header("origin", UI)
        .header("access-control-request-method", "GET")
        .send()
        .await;
    resp.assert_status(StatusCode::FORBIDDEN);
    assert_no_header(&resp, "access-control-allow-origin");

    // Same-origin requests with an Origin header (browsers send it on POST) still work.
    let resp = cli
        .post("/ok")
        .header("origin", "https://registry.example.com")
        .send()
        .await;
    resp.assert_status_is_ok();
}

#[test]
fn cors_origins_are_validated() {
    let mut s = HttpSecurity {
        cors_allowed_origins: vec![UI.into(), "http://localhost:5173".into()],
        ..HttpSecurity::default()
    };
    assert!(s.validate().is_ok());
    for bad in [
        "*",
        "null",
        "ui.example.com",
        "https://ui.example.com/app",
        "https://*.example.com",
        "ftp://x",
    ] {
        s.cors_allowed_origins = vec![bad.into()];
        let err = s.validate().unwrap_err();
        assert!(err.contains("cors_allowed_origins"), "{err}");
    }
}

// ---------------------------------------------------------------- rate limiting

/// An endpoint that counts its calls and answers 401 unless the bearer token is "good".
fn guarded(calls: Arc<AtomicUsize>) -> Route {
    let check = make_sync(move |req: Request| {
        calls.fetch_add(1, Ordering::SeqCst);
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let cookie_ok = req
            .headers()
            .get("cookie")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.contains("tfr_session=good"));
        let accepted = auth == "Bearer good" || auth.starts_with("Bearer key-") || cookie_ok;
        if accepted || auth.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        }
    });
    Route::new()
        .at("/x", check)
        .at("/health", make_sync(|_| "up"))
        .at("/ready", make_sync(|_| "ready"))
}

type Client = TestClient<BoxEndpoint<'static>>;

fn limited(limits: RateLimits, trust_forwarded_for: bool) -> (Client, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let s = HttpSecurity {
        rate_limits: limits,
        trust_forwarded_for,
        cors_allowed_origins: vec![UI.into()],
        ..HttpSecurity::default()
    };
    (TestClient::new(stack(guarded(calls.clone()), &s)), calls)
}

/// `GET path` from `ip` (as `X-Forwarded-For`), with `headers` (a credential).
async fn get_from(cli: &Client, path: &str, ip: &str, headers: &[(&str, &str)]) -> TestResponse {
    let mut req = cli.get(path).header("x-forwarded-for", ip);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await
}

/// `GET /x` from `ip` with `Authorization: Bearer <token>`.
async fn get_bearer(cli: &Client, ip: &str, token: &str) -> TestResponse {
    let auth = format!("Bearer {token}");
    get_from(cli, "/x", ip, &[("authorization", &auth)]).await
}

async fn assert_throttled(resp: TestResponse) {
    resp.assert_status(StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = header(resp.0.headers(), "retry-after")
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    assert!(retry >= 1);
    assert_security_headers(&resp);
    resp.assert_content_type("application/json");
    let body: serde_json::Value = serde_json::from_str(&body_text(resp).await).unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "errors": [format!("rate limit exceeded; retry in {retry} s")] })
    );
}

#[tokio::test]
async fn anonymous_burst_then_429_with_retry_after() {
    let (cli, calls) = limited(limits((1, 3), (0, 0), (0, 0)), true);
    for _ in 0..3 {
        get_from(&cli, "/x", "198.51.100.1", &[])
            .await
            .assert_status_is_ok();
    }
    let resp = get_from(&cli, "/x", "198.51.100.1", &[]).await;
    let retry: u64 = header(resp.0.headers(), "retry-after")
        .unwrap()
        .parse()
        .unwrap();
    assert!((50..=60).contains(&retry), "one token a minute: {retry}");
    assert_throttled(resp).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "the throttled request never ran"
    );

    // Another address has its own bucket; probes are exempt.
    get_from(&cli, "/x", "198.51.100.2, 10.0.0.1", &[])
        .await
        .assert_status_is_ok();
    for path in ["/health", "/ready"] {
        for _ in 0..5 {
            get_from(&cli, path, "198.51.100.1", &[])
                .await
                .assert_status_is_ok();
        }
    }
}

#[tokio::test]
async fn throttled_answers_keep_cors_grants_for_the_ui() {
    let (cli, _) = limited(limits((1, 1), (0, 0), (0, 0)), true);
    cli.get("/x")
        .header("origin", UI)
        .send()
        .await
        .assert_status_is_ok();
    let resp = cli.get("/x").header("origin", UI).send().await;
    resp.assert_header("access-control-allow-origin", UI);
    resp.assert_header("access-control-expose-headers", "retry-after, x-request-id");
    assert_throttled(resp).await;
}

#[tokio::test]
async fn forwarded_for_is_ignored_unless_trusted() {
    let (cli, _) = limited(limits((1, 2), (0, 0), (0, 0)), false);
    for ip in ["203.0.113.1", "203.0.113.2"] {
        get_from(&cli, "/x", ip, &[]).await.assert_status_is_ok();
    }
    // A third made-up address does not buy a new bucket: all three share the peer's.
    assert_throttled(get_from(&cli, "/x", "203.0.113.3", &[]).await).await;
}

#[tokio::test]
async fn failed_auth_burst_locks_the_address_out_before_the_endpoint_runs() {
    let (cli, calls) = limited(limits((0, 0), (0, 0), (1, 3)), true);
    let attacker = "192.0.2.66";
    for i in 0..3 {
        get_bearer(&cli, attacker, &format!("guess-{i}"))
            .await
            .assert_status(StatusCode::UNAUTHORIZED);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    // Locked out: a fourth guess, a valid credential, a session cookie, or no credential
    // at all, none reaches the endpoint (no bcrypt).
    for credential in [
        &[("authorization", "Bearer guess-4")][..],
        &[("authorization", "Bearer good")],
        &[("cookie", "tfr_session=good")],
        &[],
    ] {
        assert_throttled(get_from(&cli, "/x", attacker, credential).await).await;
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "the endpoint did not run again"
    );

    // Another address is unaffected, with or without a credential.
    for credential in [&[("authorization", "Bearer good")][..], &[]] {
        get_from(&cli, "/x", "192.0.2.67", credential)
            .await
            .assert_status_is_ok();
    }
    // The same /64 is the same client.
    let (cli6, _) = limited(limits((0, 0), (0, 0), (1, 1)), true);
    get_bearer(&cli6, "2001:db8:5:6::1", "bad")
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    assert_throttled(get_from(&cli6, "/x", "2001:db8:5:6:ffff::2", &[]).await).await;
    get_from(&cli6, "/x", "2001:db8:5:7::1", &[])
        .await
        .assert_status_is_ok();
}

#[tokio::test]
async fn failed_auth_lockout_ends_when_a_token_refills() {
    // 60 a minute: one token a second.
    let (cli, calls) = limited(limits((0, 0), (0, 0), (60, 2)), true);
    let ip = "192.0.2.80";
    for _ in 0..2 {
        get_bearer(&cli, ip, "bad")
            .await
            .assert_status(StatusCode::UNAUTHORIZED);
    }
    let resp = get_from(&cli, "/x", ip, &[]).await;
    resp.assert_status(StatusCode::TOO_MANY_REQUESTS);
    resp.assert_header("retry-after", "1");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    get_bearer(&cli, ip, "good").await.assert_status_is_ok();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn per_credential_limit_is_independent_of_the_address() {
    let (cli, calls) = limited(limits((1, 2), (1, 3), (0, 0)), true);
    // Credential A: three requests from three addresses use up its bucket...
    for ip in ["198.51.100.10", "198.51.100.11", "198.51.100.12"] {
        get_bearer(&cli, ip, "key-a").await.assert_status_is_ok();
    }
    // ...so a fourth from a new address is refused,
    assert_throttled(get_bearer(&cli, "198.51.100.13", "key-a").await).await;
    // while credential B from A's first address still passes,
    get_bearer(&cli, "198.51.100.10", "key-b")
        .await
        .assert_status_is_ok();
    // and a session cookie is a credential of its own.
    for _ in 0..3 {
        get_from(
            &cli,
            "/x",
            "198.51.100.20",
            &[("cookie", "theme=dark; tfr_session=good")],
        )
        .await
        .assert_status_is_ok();
    }
    let cookie = [("cookie", "tfr_session=good")];
    assert_throttled(get_from(&cli, "/x", "198.51.100.21", &cookie).await).await;
    assert_eq!(calls.load(Ordering::SeqCst), 7);
}

#[tokio::test]
async fn reused_credential_does_not_spend_the_address_but_new_ones_do() {
    let (cli, _) = limited(limits((1, 2), (1, 100), (0, 0)), true);
    let ip = "198.51.100.30";
    // One credential, many requests: only its first one costs the address a token.
    for _ in 0..10 {
        get_bearer(&cli, ip, "key-same").await.assert_status_is_ok();
    }
    // A fresh credential costs the second (last) token; inventing a third is refused:
    // made-up credentials do not escape the address's anonymous limit.
    get_bearer(&cli, ip, "key-new-1")
        .await
        .assert_status_is_ok();
    assert_throttled(get_bearer(&cli, ip, "key-new-2").await).await;
    // The known credential keeps working.
    get_bearer(&cli, ip, "key-same").await.assert_status_is_ok();
}

#[tokio::test]
async fn zero_means_unlimited() {
    let (cli, calls) = limited(RateLimits::unlimited(), true);
    for i in 0..50 {
        get_bearer(&cli, "198.51.100.40", &format!("bad-{i}"))
            .await
            .assert_status(StatusCode::UNAUTHORIZED);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 50);
}

#[tokio::test]
async fn tracked_keys_stay_bounded() {
    // Fast refill (one token per ms) so idle keys are dropped by the sweep.
    let mut fast = limits((60_000, 1), (60_000, 1), (60_000, 1));
    fast.max_tracked_keys = 50;
    let limiter = RateLimit::new(&fast, true);
    let cli = TestClient::new(guarded(Arc::new(AtomicUsize::new(0))).with(limiter.clone()));
    for i in 0..40u32 {
        cli.get("/x")
            .header("x-forwarded-for", format!("10.0.{}.{}", i / 200, i % 200))
            .header("authorization", format!("Bearer bad-{i}"))
            .send()
            .await;
    }
    let [anon, auth, failed, locked] = limiter.tracked_keys();
    assert!(
        anon >= 40 && auth == 40 && failed == 40,
        "{anon} {auth} {failed}"
    );
    assert_eq!(
        locked, 40,
        "burst 1: each address is locked out after its 401"
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    limiter.sweep();
    assert_eq!(
        limiter.tracked_keys(),
        [0, 0, 0, 0],
        "idle keys are dropped"
    );

    // Slow refill: keys stay "recent", so the cap resets an overgrown limiter.
    let mut slow = limits((1, 5), (0, 0), (0, 0));
    slow.max_tracked_keys = 50;
    let limiter = RateLimit::new(&slow, true);
    let cli = TestClient::new(guarded(Arc::new(AtomicUsize::new(0))).with(limiter.clone()));
    for i in 0..120u32 {
        cli.get("/x")
            .header("x-forwarded-for", format!("10.1.{}.{}", i / 200, i % 200))
            .send()
            .await
            .assert_status_is_ok();
    }
    assert_eq!(limiter.tracked_keys()[0], 120);
    limiter.sweep();
    assert!(
        limiter.tracked_keys()[0] <= 50,
        "{:?}",
        limiter.tracked_keys()
    );
}

#[test]
fn defaults_are_production_sane() {
    let d = RateLimits::default();
    assert_eq!((d.anonymous_per_minute, d.anonymous_burst), (1200, 300));
    assert_eq!(
        (d.authenticated_per_minute, d.authenticated_burst),
        (6000, 1000)
    );
    assert_eq!((d.failed_auth_per_minute, d.failed_auth_burst), (30, 10));
    let s = HttpSecurity::default();
    assert!(!s.tls && !s.trust_forwarded_for && s.cors_allowed_origins.is_empty());
    let parsed: HttpSecurity =
        serde_json::from_str(r#"{"tls":true,"rate_limits":{"anonymous_per_minute":0}}"#).unwrap();
    assert!(parsed.tls);
    assert_eq!(parsed.rate_limits.anonymous_per_minute, 0);
    assert_eq!(parsed.rate_limits.authenticated_per_minute, 6000);
}
