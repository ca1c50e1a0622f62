//! The HTTP layer in isolation (poem TestClient over the testkit fakes): status codes,
//! the one JSON error shape, headers, and authentication before any body is read.

mod common;

use poem::http::StatusCode;
use tfr_core::Scope;

use common::{Options, TestApp};

/// The registry as a Terraform client sees it: anonymous read on.
fn fixture(ready: bool) -> TestApp {
    TestApp::with(Options {
        ready,
        anonymous_read: true,
        ..Options::default()
    })
}

async fn key(f: &TestApp, scopes: &[Scope]) -> String {
    f.system_key(scopes).await
}

fn client(f: &TestApp) -> common::Client {
    f.client()
}

async fn json(resp: poem::test::TestResponse) -> serde_json::Value {
    resp.json().await.value().deserialize()
}

#[tokio::test]
async fn discovery_is_json_with_trailing_slashes_and_security_headers() {
    let f = fixture(true);
    let resp = client(&f).get("/.well-known/terraform.json").send().await;
    resp.assert_status_is_ok();
    resp.assert_content_type("application/json; charset=utf-8");
    resp.assert_header("x-content-type-options", "nosniff");
    resp.assert_header("x-frame-options", "DENY");
    assert!(
        resp.0.headers().contains_key("x-request-id"),
        "request id header"
    );
    let body = json(resp).await;
    assert_eq!(body["modules.v1"], "/v1/modules/");
    assert_eq!(body["providers.v1"], "/v1/providers/");
}

#[tokio::test]
async fn unknown_routes_and_modules_answer_json_404() {
    let f = fixture(true);
    let cli = client(&f);
    for path in [
        "/no/such/route",
        "/v1/modules/acme/net/aws/versions",
        "/v1/modules/bad!ns/net/aws/versions",
    ] {
        let resp = cli.get(path).send().await;
        resp.assert_status(StatusCode::NOT_FOUND);
        let body = json(resp).await;
        assert!(
            body["errors"][0].as_str().is_some_and(|e| !e.is_empty()),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn readiness_reports_the_database() {
    let up = fixture(true);
    client(&up).get("/ready").send().await.assert_status_is_ok();
    let down = fixture(false);
    let resp = client(&down).get("/ready").send().await;
    resp.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    let body = json(resp).await;
    assert!(
        body["errors"][0]
            .as_str()
            .unwrap_or_default()
            .contains("not ready"),
        "{body}"
    );
    client(&down)
        .get("/health")
        .send()
        .await
        .assert_status_is_ok();
}

#[tokio::test]
async fn publishing_needs_a_valid_key_with_the_write_scope() {
    let f = fixture(true);
    let cli = client(&f);
    let url = "/api/v1/modules/acme/net/aws/1.0.0";

    let resp = cli
        .post(url)
        .content_type("application/gzip")
        .body("x")
        .send()
        .await;
    resp.assert_status(StatusCode::UNAUTHORIZED);
    assert!(json(resp).await["errors"][0].is_string());

    let resp = cli
        .post(url)
        .header("Authorization", "Bearer tfr_0000000000wrong")
        .content_type("application/gzip")
        .body("x")
        .send()
        .await;
    resp.assert_status(StatusCode::UNAUTHORIZED);
    resp.assert_header("www-authenticate", "Bearer");

    let read_only = key(&f, &[Scope::ModulesRead]).await;
    let resp = cli
        .post(url)
        .header("Authorization", format!("Bearer {read_only}"))
        .content_type("application/gzip")
        .body("x")
        .send()
        .await;
    resp.assert_status(StatusCode::FORBIDDEN);
    assert!(
        json(resp).await["errors"][0]
            .as_str()
            .unwrap_or_default()
            .contains("modules:write")
    );
}

#[tokio::test]
async fn module_publish_checks_content_type_size_and_address() {
    let f = fixture(true);
    let cli = client(&f);
    let token = format!("Bearer {}", key(&f, &[Scope::ModulesWrite]).await);

    let resp = cli
        .post("/api/v1/modules/acme/net/aws/1.0.0")
        .header("Authorization", &token)
        .content_type("text/plain")
        .body("x")
        .send()
        .await;
    resp.assert_status(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(json(resp).await["errors"][0].is_string());

    let resp = cli
        .post("/api/v1/modules/acme/net/aws/1.0.0")
        .header("Authorization", &token)
        .content_type("application/gzip")
        .body(vec![0u8; 4096])
        .send()
        .await;
    resp.assert_status(StatusCode::PAYLOAD_TOO_LARGE);

    let resp = cli
        .post("/api/v1/modules/acme/net/AWS/1.0.0")
        .header("Authorization", &token)
        .content_type("application/gzip")
        .body("x")
        .send()
        .await;
    resp.assert_status(StatusCode::BAD_REQUEST);
    let body = json(resp).await;
    assert_eq!(body["check"], "address", "{body}");

    // Accepted by the (stub) inspector: 201, then listed in canonical form.
    let resp = cli
        .post("/api/v1/modules/acme/net/aws/v1.2")
        .header("Authorization", &token)
        .content_type("application/gzip")
        .body("archive")
        .send()
        .await;
    resp.assert_status(StatusCode::CREATED);
    let resp = cli.get("/v1/modules/ACME/Net/aws/versions").send().await;
    resp.assert_status_is_ok();
    assert_eq!(
        json(resp).await["modules"][0]["versions"][0]["version"],
        "1.2.0"
    );
    let resp = cli
        .get("/v1/modules/acme/net/aws/1.2.0/download")
        .send()
        .await;
    resp.assert_status(StatusCode::NO_CONTENT);
    let link = resp.0.headers()["x-terraform-get"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        link.starts_with("/v1/files/modules/acme/net/aws/1.2.0/") && link.contains("signature="),
        "{link}"
    );
}

#[tokio::test]
async fn provider_publish_reads_multipart_with_a_boundary() {
    let f = fixture(true);
    let token = format!("Bearer {}", key(&f, &[Scope::ProvidersWrite]).await);
    let boundary = "XyZ";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"shasums\"\r\n\r\nnot sums\r\n--{boundary}--\r\n"
    );
    let resp = client(&f)
        .post("/api/v1/providers/acme/fake/1.0.0")
        .header("Authorization", &token)
        .content_type(format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await;
    // Parsed (not 415): refused for the missing signature part, by name.
    resp.assert_status(StatusCode::BAD_REQUEST);
    let body = json(resp).await;
    assert!(
        body["errors"][0]
            .as_str()
            .unwrap_or_default()
            .contains("signature"),
        "{body}"
    );
}

#[tokio::test]
async fn file_links_must_be_signed() {
    let f = fixture(true);
    let cli = client(&f);
    let resp = cli
        .get("/v1/files/modules/a/b/c/1.0.0/x/b-c-1.0.0.tar.gz")
        .send()
        .await;
    resp.assert_status(StatusCode::FORBIDDEN);
    assert!(json(resp).await["errors"][0].is_string());
    let resp = cli
        .get(
            "/v1/files/modules/a/b/c/1.0.0/x/b-c-1.0.0.tar.gz?expires=99999999999&signature=forged",
        )
        .send()
        .await;
    resp.assert_status(StatusCode::FORBIDDEN);
    // A malformed expiry is a bad link too, not a bad request.
    let resp = cli
        .get("/v1/files/modules/a/b/c/1.0.0/x/b-c-1.0.0.tar.gz?expires=soon&signature=forged")
        .send()
        .await;
    resp.assert_status(StatusCode::FORBIDDEN);
}
