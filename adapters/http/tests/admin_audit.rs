//! The audit trail of the admin API: filters and pages of the audit-log endpoint, one row
//! per mutation (allowed, failed or refused) and never a secret in it; and the route
//! table covering every admin and own-key operation.

mod common;

use chrono::Duration;
use poem::http::StatusCode;
use serde_json::{Value, json};
use tfr_core::Scope;
use tfr_ports::driven::VIEWER_TEMPLATE_ID;

use common::{Caller, ReplyExt, TestApp, audit_rows};

#[tokio::test]
async fn audit_log_filters_and_pages() {
    let (app, cli, admin) = TestApp::with_admin().await;
    let as_admin = Caller::new(&cli, &admin);
    let start = app.clock_now();
    for name in ["a1", "a2", "a3"] {
        app.clock.advance(Duration::seconds(10));
        as_admin
            .post("/api/v1/admin/organizations", json!({"name": name}))
            .await
            .expect_status(StatusCode::CREATED);
    }
    app.clock.advance(Duration::seconds(10));
    as_admin
        .post(
            "/api/v1/admin/organizations/a1/namespaces",
            json!({"name": "ns1"}),
        )
        .await;
    let reader = app.system_key(&[Scope::ModulesRead]).await;
    let as_reader = Caller::new(&cli, &reader);
    as_reader
        .post("/api/v1/admin/organizations", json!({"name": "nope"}))
        .await
        .expect_status(StatusCode::FORBIDDEN);
    // Reading the audit log needs audit:read.
    as_reader
        .get("/api/v1/admin/audit-logs")
        .await
        .expect_status(StatusCode::FORBIDDEN);

    let logs = "/api/v1/admin/audit-logs";
    let (status, page) = as_admin
        .get(&format!("{logs}?action=organization.create&limit=2"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 4, "three created and one denied: {page}");
    assert_eq!(page["limit"], 2);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    let (_, next) = as_admin
        .get(&format!(
            "{logs}?action=organization.create&limit=2&offset=2"
        ))
        .await;
    assert_eq!(next["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(next["offset"], 2);

    let (_, denied) = as_admin.get(&format!("{logs}?outcome=denied")).await;
    assert_eq!(denied["total"], 1, "{denied}");
    assert_eq!(denied["items"][0]["action"], "organization.create");
    assert!(
        denied["items"][0]["principal"]
            .as_str()
            .is_some_and(|p| p.starts_with("key:")),
        "{denied}"
    );
    let principal = denied["items"][0]["principal"]
        .as_str()
        .expect("principal")
        .to_string();
    let (_, by_principal) = as_admin.get(&format!("{logs}?principal={principal}")).await;
    assert_eq!(by_principal["total"], 1);
    let (status, err) = as_admin.get(&format!("{logs}?outcome=maybe")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["check"], "outcome");

    let (_, by_resource) = as_admin
        .get(&format!("{logs}?resource=organization:a1"))
        .await;
    assert_eq!(
        by_resource["total"], 2,
        "a1 and its namespace: {by_resource}"
    );
    let (_, by_org) = as_admin.get(&format!("{logs}?organization=a1")).await;
    assert_eq!(by_org["total"], 2, "{by_org}");
    assert_eq!(
        by_org["items"][0]["resource"],
        "organization:a1/namespace:ns1"
    );
    as_admin
        .get(&format!("{logs}?organization=zz"))
        .await
        .expect_status(StatusCode::BAD_REQUEST);

    // since inclusive, until exclusive.
    let t = |secs: i64| {
        (start + Duration::seconds(secs))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            .replace('+', "%2B")
    };
    let (_, window) = as_admin
        .get(&format!(
            "{logs}?action=organization.create&since={}&until={}",
            t(20),
            t(30)
        ))
        .await;
    assert_eq!(window["total"], 1, "{window}");
    assert_eq!(window["items"][0]["resource"], "organization:a2");
    as_admin
        .get(&format!("{logs}?since={}&until={}", t(30), t(20)))
        .await
        .expect_status(StatusCode::BAD_REQUEST);
    let (_, clamped) = as_admin.get(&format!("{logs}?limit=9999")).await;
    assert_eq!(clamped["limit"], 500);
    let (_, default) = as_admin.get(logs).await;
    assert_eq!(default["limit"], 100);
    assert_eq!(default["offset"], 0);
}

#[tokio::test]
async fn every_mutation_leaves_exactly_one_audit_row_without_secrets() {
    let (app, cli, admin) = TestApp::with_admin().await;
    let as_admin = Caller::new(&cli, &admin);
    let user = app.user("frank").await;
    let mut secrets = Vec::new();
    let steps: Vec<(&str, String, Option<Value>, &str, StatusCode)> = vec![
        (
            "POST",
            "/api/v1/admin/organizations".into(),
            Some(json!({"name": "audited"})),
            "organization.create",
            StatusCode::CREATED,
        ),
        (
            "POST",
            "/api/v1/admin/organizations".into(),
            Some(json!({"name": "audited"})),
            "organization.create",
            StatusCode::CONFLICT,
        ),
        (
            "PATCH",
            "/api/v1/admin/organizations/audited".into(),
            Some(json!({"display_name": "Audited"})),
            "organization.update",
            StatusCode::OK,
        ),
        (
            "POST",
            "/api/v1/admin/organizations/audited/namespaces".into(),
            Some(json!({"name": "aud"})),
            "namespace.create",
            StatusCode::CREATED,
        ),
        (
            "PATCH",
            "/api/v1/admin/namespaces/aud".into(),
            Some(json!({"public": true})),
            "namespace.update",
            StatusCode::OK,
        ),
        (
            "PUT",
            format!("/api/v1/admin/organizations/audited/members/{user}"),
            Some(json!({"role_template_id": VIEWER_TEMPLATE_ID})),
            "member.set",
            StatusCode::OK,
        ),
        (
            "POST",
            "/api/v1/admin/organizations/audited/api-keys".into(),
            Some(json!({"name": "ci", "scopes": ["modules:read"]})),
            "api_key.create",
            StatusCode::CREATED,
        ),
        (
            "POST",
            "/api/v1/keys".into(),
            Some(json!({"name": "own", "scopes": ["modules:read"]})),
            "api_key.create",
            StatusCode::CREATED,
        ),
        (
            "POST",
            "/api/v1/keys".into(),
            Some(json!({"name": "own", "scopes": ["nonsense"]})),
            "api_key.create",
            StatusCode::BAD_REQUEST,
        ),
        (
            "PATCH",
            format!("/api/v1/admin/users/{user}"),
            Some(json!({"disabled": true})),
            "user.update",
            StatusCode::OK,
        ),
        (
            "DELETE",
            format!("/api/v1/admin/organizations/audited/members/{user}"),
            None,
            "member.remove",
            StatusCode::NO_CONTENT,
        ),
        (
            "DELETE",
            "/api/v1/admin/organizations/audited".into(),
            None,
            "organization.delete",
            StatusCode::CONFLICT,
        ),
    ];
    for (method, path, payload, action, expected) in steps {
        let before = audit_rows(&app).await.len();
        app.clock.advance(Duration::seconds(1));
        let (status, resp) = as_admin.send(method, &path, payload).await;
        assert_eq!(status, expected, "{method} {path}: {resp}");
        if let Some(secret) = resp["secret"].as_str() {
            secrets.push(secret.to_string());
        }
        let rows = audit_rows(&app).await;
        assert_eq!(rows.len(), before + 1, "{method} {path}");
        assert_eq!(rows[0].action, action, "{method} {path}");
        assert_eq!(rows[0].status, expected.as_u16());
    }
    // Reads leave nothing.
    let before = audit_rows(&app).await.len();
    as_admin.get("/api/v1/admin/organizations").await;
    as_admin.get("/api/v1/admin/audit-logs").await;
    assert_eq!(audit_rows(&app).await.len(), before);

    let rows = audit_rows(&app).await;
    let org_key = rows
        .iter()
        .find(|r| r.action == "api_key.create" && r.resource.starts_with("organization:"))
        .expect("organization key row");
    assert!(
        org_key
            .resource
            .starts_with("organization:audited/api_key:"),
        "{}",
        org_key.resource
    );
    assert!(org_key.organization_id.is_some());
    assert!(
        rows.iter()
            .any(|r| r.action == "api_key.create" && r.resource.starts_with("api_key:"))
    );
    let all = format!("{rows:?}");
    assert_eq!(secrets.len(), 2);
    for secret in &secrets {
        assert!(!all.contains(secret.as_str()), "a secret in the audit log");
    }
    assert!(!all.contains("plain:"), "a key hash in the audit log");
}

#[tokio::test]
async fn a_key_without_the_scope_is_refused_and_the_refusal_audited() {
    let app = TestApp::new().await;
    let cli = app.client();
    let key = app.system_key(&[Scope::ModulesRead]).await;
    let as_key = Caller::new(&cli, &key);
    for (method, path, payload, action) in [
        (
            "POST",
            "/api/v1/admin/organizations",
            Some(json!({"name": "x"})),
            "organization.create",
        ),
        (
            "POST",
            "/api/v1/admin/organizations/default/api-keys",
            Some(json!({"name": "x", "scopes": ["modules:read"]})),
            "api_key.create",
        ),
        (
            "PATCH",
            "/api/v1/admin/users/00000000-0000-7000-8000-00000000ffff",
            Some(json!({"disabled": true})),
            "user.update",
        ),
    ] {
        let before = audit_rows(&app).await.len();
        let (status, err) = as_key.send(method, path, payload).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {err}");
        assert!(err["errors"][0].is_string());
        let rows = audit_rows(&app).await;
        assert_eq!(rows.len(), before + 1, "{path}");
        assert_eq!(rows[0].action, action);
        assert_eq!(rows[0].outcome.as_str(), "denied");
        assert_eq!(rows[0].status, 403);
        assert!(
            rows[0]
                .principal
                .as_deref()
                .is_some_and(|p| p.starts_with("key:"))
        );
    }
    // Without a credential: 401, and the mutation attempt is audited too.
    let resp = cli
        .post("/api/v1/admin/organizations")
        .body_json(&json!({"name": "anon"}))
        .send()
        .await;
    resp.assert_status(StatusCode::UNAUTHORIZED);
    let rows = audit_rows(&app).await;
    assert_eq!(rows[0].outcome.as_str(), "denied");
    assert_eq!(rows[0].principal, None);
    // Refused reads are not audited.
    let before = rows.len();
    as_key
        .get("/api/v1/admin/users")
        .await
        .expect_status(StatusCode::FORBIDDEN);
    assert_eq!(audit_rows(&app).await.len(), before);
}

#[test]
fn every_admin_and_key_operation_is_in_the_route_table() {
    let spec: Value = serde_json::from_str(&tfr_http::openapi_json()).expect("valid JSON");
    let paths = spec["paths"].as_object().expect("paths");
    let mut count = 0;
    for (path, ops) in paths {
        if !(path.starts_with("/api/v1/admin") || path.starts_with("/api/v1/keys")) {
            continue;
        }
        for (method, op) in ops.as_object().expect("operations") {
            count += 1;
            assert!(
                op["x-tfr-scope"].is_string(),
                "{method} {path} has no row in the route table"
            );
            assert!(op["operationId"].is_string(), "{method} {path}");
            let summary = op["summary"].as_str().unwrap_or_default();
            assert!(
                !summary.is_empty() && !summary.contains('\n'),
                "{method} {path}: {summary:?}"
            );
        }
    }
    assert_eq!(count, 38, "every admin and own-key route is served");
}
