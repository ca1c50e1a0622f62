//! The admin API and the self-service key endpoints over the testkit fakes: status codes,
//! secrets shown once, the "nobody grants more than they hold" rules, and the audit trail
//! every mutation leaves.

mod common;

use chrono::Duration;
use poem::http::StatusCode;
use serde_json::{Value, json};
use tfr_core::Scope;
use tfr_ports::driven::{
    ADMIN_TEMPLATE_ID, AuditQuery, AuditRecord, DEFAULT_ORGANIZATION_ID, VIEWER_TEMPLATE_ID,
};

use common::{Client, TestApp, body};

/// Requests with one bearer token, answering status and JSON body.
#[derive(Clone, Copy)]
struct Caller<'a> {
    cli: &'a Client,
    token: &'a str,
}

impl<'a> Caller<'a> {
    fn new(cli: &'a Client, token: &'a str) -> Self {
        Self { cli, token }
    }

    async fn send(self, method: &str, path: &str, payload: Option<Value>) -> (StatusCode, Value) {
        let req = match method {
            "GET" => self.cli.get(path),
            "POST" => self.cli.post(path),
            "PUT" => self.cli.put(path),
            "PATCH" => self.cli.patch(path),
            "DELETE" => self.cli.delete(path),
            other => panic!("method {other}"),
        }
        .header("Authorization", format!("Bearer {}", self.token));
        let req = match payload {
            Some(p) => req.body_json(&p),
            None => req,
        };
        let resp = req.send().await;
        let status = resp.0.status();
        (status, body(resp).await)
    }

    async fn get(self, path: &str) -> (StatusCode, Value) {
        self.send("GET", path, None).await
    }
    async fn post(self, path: &str, payload: Value) -> (StatusCode, Value) {
        self.send("POST", path, Some(payload)).await
    }
    async fn post_empty(self, path: &str) -> (StatusCode, Value) {
        self.send("POST", path, None).await
    }
    async fn put(self, path: &str, payload: Value) -> (StatusCode, Value) {
        self.send("PUT", path, Some(payload)).await
    }
    async fn patch(self, path: &str, payload: Value) -> (StatusCode, Value) {
        self.send("PATCH", path, Some(payload)).await
    }
    async fn delete(self, path: &str) -> (StatusCode, Value) {
        self.send("DELETE", path, None).await
    }
}

async fn audit_rows(app: &TestApp) -> Vec<AuditRecord> {
    app.state
        .audit
        .query(AuditQuery {
            limit: 500,
            ..AuditQuery::default()
        })
        .await
        .expect("audit query")
        .0
}

#[tokio::test]
async fn organization_namespace_and_key_lifecycle() {
    let app = TestApp::new().await;
    let cli = app.client();
    let admin = app.admin_token().await;

    let (status, org) = admin.post("/api/v1/admin/organizations", json!({"name": "platform", "display_name": "Platform team"}))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    assert_eq!(org["name"], "platform");
    assert_eq!(org["default"], false);
    let org_id = org["id"].as_str().expect("id").to_string();

    let (status, _) = admin.post("/api/v1/admin/organizations", json!({"name": "platform"}))
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, err) = admin.post("/api/v1/admin/organizations", json!({"name": "Not Valid"}))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["check"], "name", "{err}");

    // By name or by id; unknown is 404 for whoever may read every organization.
    for key in ["platform", org_id.as_str()] {
        let (status, got) = admin.get(&format!("/api/v1/admin/organizations/{key}"))
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got["id"], org_id.as_str());
    }
    let (status, _) = admin.get("/api/v1/admin/organizations/nowhere")
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, renamed) = admin.patch("/api/v1/admin/organizations/platform", json!({"display_name": "Platform"}))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(renamed["display_name"], "Platform");
    let (_, list) = admin.get("/api/v1/admin/organizations").await;
    let names: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert!(
        names.contains(&"platform") && names.contains(&"default"),
        "{list}"
    );

    // A namespace owned by the organization.
    let (status, ns) = admin.post("/api/v1/admin/organizations/platform/namespaces", json!({"name": "acme", "public": true}))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{ns}");
    assert_eq!(ns["organization"], "platform");
    assert_eq!(ns["public"], true);
    let (status, _) = admin.post("/api/v1/admin/organizations/platform/namespaces", json!({"name": "ACME"}))
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, listed) = admin.get("/api/v1/admin/organizations/platform/namespaces")
    .await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let (_, all) = admin.get("/api/v1/admin/namespaces").await;
    assert!(
        all.as_array()
            .expect("array")
            .iter()
            .any(|n| n["name"] == "acme"),
        "{all}"
    );

    // An organization key: the secret once, never in a listing.
    let (status, created) = admin.post("/api/v1/admin/organizations/platform/api-keys", json!({"name": "ci", "scopes": ["modules:write"], "expires_in_days": 30}))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().expect("secret").to_string();
    assert!(secret.starts_with("tfr_"));
    let key_id = created["key"]["id"].as_str().expect("key id").to_string();
    assert_eq!(created["key"]["owner_type"], "organization");
    assert_eq!(created["key"]["owner_id"], org_id.as_str());
    assert_eq!(created["key"]["scopes"], json!(["modules:write"]));
    assert_eq!(created["key"]["status"], "active");
    assert!(created["key"]["expires_at"].is_string());
    assert!(created["key"].get("key_hash").is_none());
    let (status, keys) = admin.get("/api/v1/admin/organizations/platform/api-keys")
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys.as_array().map(Vec::len), Some(1));
    let text = keys.to_string();
    assert!(
        !text.contains(&secret) && !text.contains("secret") && !text.contains("hash"),
        "{text}"
    );
    assert!(app.me(&secret).await.is_success());

    // Rotate: same key, new secret; the old one stops working.
    let (status, rotated) = admin.post_empty(&format!("/api/v1/admin/organizations/platform/api-keys/{key_id}/rotate"))
    .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_eq!(rotated["key"]["id"], key_id.as_str());
    let new_secret = rotated["secret"].as_str().expect("secret").to_string();
    assert_ne!(new_secret, secret);
    assert_eq!(app.me(&secret).await, StatusCode::UNAUTHORIZED);
    assert!(app.me(&new_secret).await.is_success());

    // Revoke: gone at once; listed as revoked; a revoked key is not rotated.
    let (status, _) = admin.delete(&format!("/api/v1/admin/organizations/platform/api-keys/{key_id}"))
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.me(&new_secret).await, StatusCode::UNAUTHORIZED);
    let (_, keys) = admin.get("/api/v1/admin/organizations/platform/api-keys")
    .await;
    assert_eq!(keys[0]["status"], "revoked", "{keys}");
    let (status, _) = admin.post_empty(&format!("/api/v1/admin/organizations/platform/api-keys/{key_id}/rotate"))
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Another organization's key id is "not found" here.
    let (status, _) = admin.delete(&format!("/api/v1/admin/organizations/default/api-keys/{key_id}"))
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Deleting: refused while it owns things, never for the default organization.
    let (status, _) = admin.delete("/api/v1/admin/organizations/platform")
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = admin.delete(&format!("/api/v1/admin/organizations/{DEFAULT_ORGANIZATION_ID}"))
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = admin.post("/api/v1/admin/organizations", json!({"name": "scratch"}))
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = admin.delete("/api/v1/admin/organizations/scratch")
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = admin.get("/api/v1/admin/organizations/scratch")
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn namespaces_move_between_organizations_the_caller_administers() {
    let app = TestApp::new().await;
    let cli = app.client();
    let admin = app.admin_token().await;
    for name in ["one", "two"] {
        let (status, _) = admin.post("/api/v1/admin/organizations", json!({"name": name}))
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, _) = admin.post("/api/v1/admin/organizations/one/namespaces", json!({"name": "tools"}))
    .await;
    assert_eq!(status, StatusCode::CREATED);

    // An administrator of `one` only cannot move it into `two`.
    let lead = app.user("lead").await;
    app.member("one", lead, ADMIN_TEMPLATE_ID).await;
    let lead_token = app.user_key(lead, &[Scope::Admin]).await;
    let (status, _) = lead_token.patch("/api/v1/admin/namespaces/tools", json!({"organization": "two"}))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, ns) = lead_token.patch("/api/v1/admin/namespaces/tools", json!({"public": true}))
    .await;
    assert_eq!(status, StatusCode::OK, "{ns}");
    assert_eq!(ns["public"], true);
    assert_eq!(ns["organization"], "one");

    let (status, ns) = admin.patch("/api/v1/admin/namespaces/TOOLS", json!({"organization": "two"}))
    .await;
    assert_eq!(status, StatusCode::OK, "{ns}");
    assert_eq!(ns["organization"], "two");
    // Now outside what the lead administers.
    let (status, _) = lead_token.patch("/api/v1/admin/namespaces/tools", json!({"public": false}))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let moved = audit_rows(&app)
        .await
        .into_iter()
        .find(|r| {
            r.action == "namespace.update" && r.outcome.as_str() == "success" && r.detail.is_some()
        })
        .expect("the move is audited");
    assert_eq!(moved.resource, "namespace:tools");
    assert_eq!(moved.detail.as_deref(), Some("moved to organization two"));
}

#[tokio::test]
async fn members_and_a_custom_role_template() {
    let app = TestApp::new().await;
    let cli = app.client();
    let admin = app.admin_token().await;
    let (status, _) = admin.post("/api/v1/admin/organizations", json!({"name": "team"}))
    .await;
    assert_eq!(status, StatusCode::CREATED);

    let path = "/api/v1/admin/organizations/team/role-templates";
    let (status, template) = admin.post(path, json!({
            "name": "deployer",
            "description": "publishes modules",
            "scopes": ["modules:write", "organizations:read"]
        }))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{template}");
    assert_eq!(template["system"], false);
    let template_id = template["id"].as_str().expect("id").to_string();
    for (payload, expected, check) in [
        (
            json!({"name": "viewer", "scopes": ["modules:read"]}),
            StatusCode::CONFLICT,
            None,
        ),
        (
            json!({"name": "x", "scopes": ["modules:delete"]}),
            StatusCode::BAD_REQUEST,
            Some("scopes"),
        ),
        (
            json!({"name": "x", "scopes": []}),
            StatusCode::BAD_REQUEST,
            Some("scopes"),
        ),
    ] {
        let (status, err) = admin.post(path, payload.clone()).await;
        assert_eq!(status, expected, "{payload}: {err}");
        if let Some(check) = check {
            assert_eq!(err["check"], check, "{err}");
        }
    }
    let (_, templates) = admin.get(path).await;
    let names: Vec<&str> = templates
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"deployer") && names.contains(&"viewer"),
        "{templates}"
    );
    let alice = app.user("alice").await;
    let alice_token = app
        .user_key(alice, &[Scope::ModulesWrite, Scope::OrganizationsRead])
        .await;
    // Any signed-in user sees the system templates, and only them.
    let (status, system) = alice_token.get("/api/v1/admin/role-templates")
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        system
            .as_array()
            .expect("array")
            .iter()
            .all(|t| t["system"] == true),
        "{system}"
    );
    let (status, _) = admin.put(&format!("{path}/{VIEWER_TEMPLATE_ID}"), json!({"name": "viewer2", "scopes": ["modules:read"]}))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Alice joins with the custom template and can then read the organization.
    let members = "/api/v1/admin/organizations/team/members";
    let (status, _) = alice_token.get(members).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, member) = admin.put(&format!("{members}/{alice}"), json!({"role_template_id": template_id}))
    .await;
    assert_eq!(status, StatusCode::OK, "{member}");
    assert_eq!(member["username"], "alice");
    assert_eq!(member["role_template"], "deployer");
    assert_eq!(member["source"], "manual");
    let (status, listed) = alice_token.get(members).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed[0]["user_id"], alice.to_string());
    assert_eq!(
        listed[0]["scopes"],
        json!(["modules:write", "organizations:read"])
    );
    let (status, user) = admin.get(&format!("/api/v1/admin/users/{alice}"))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["memberships"][0]["organization"], "team", "{user}");
    assert_eq!(user["memberships"][0]["role_template"], "deployer");

    // Changing the template changes what she may do on her next request.
    let (status, updated) = admin.put(&format!("{path}/{template_id}"), json!({"name": "deployer", "scopes": ["modules:write"]}))
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let (status, _) = alice_token.get(members).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A held template cannot go; after removing her it can.
    let (status, _) = admin.delete(&format!("{path}/{template_id}"))
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = admin.delete(&format!("{members}/{alice}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = admin.delete(&format!("{members}/{alice}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin.delete(&format!("{path}/{template_id}"))
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn nobody_grants_scopes_they_do_not_hold() {
    let app = TestApp::new().await;
    let cli = app.client();
    let admin = app.admin_token().await;
    for name in ["team", "other"] {
        admin.post("/api/v1/admin/organizations", json!({"name": name}))
        .await;
    }
    let templates = "/api/v1/admin/organizations/team/role-templates";
    let (_, manager) = admin.post(templates, json!({"name": "manager", "scopes": ["organizations:write", "modules:read"]}))
    .await;
    let lead = app.user("lead").await;
    let bob = app.user("bob").await;
    let (status, _) = admin.put(&format!("/api/v1/admin/organizations/team/members/{lead}"), json!({"role_template_id": manager["id"]}))
    .await;
    assert_eq!(status, StatusCode::OK);
    let lead_token = app
        .user_key(lead, &[Scope::OrganizationsWrite, Scope::ModulesRead])
        .await;

    // A template, a membership and a key only with scopes the lead holds in `team`.
    let (status, err) = lead_token.post(templates, json!({"name": "writer", "scopes": ["modules:write"]}))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    let (status, reader) = lead_token.post(templates, json!({"name": "reader", "scopes": ["modules:read"]}))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{reader}");
    let bob_member = format!("/api/v1/admin/organizations/team/members/{bob}");
    let (status, _) = lead_token.put(&bob_member, json!({"role_template_id": ADMIN_TEMPLATE_ID}))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = lead_token.put(&bob_member, json!({"role_template_id": reader["id"]}))
    .await;
    assert_eq!(status, StatusCode::OK);
    let org_keys = "/api/v1/admin/organizations/team/api-keys";
    let (status, _) = lead_token.post(org_keys, json!({"name": "ci", "scopes": ["modules:write"]}))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = lead_token.post(org_keys, json!({"name": "ci", "scopes": ["modules:read"]}))
    .await;
    assert_eq!(status, StatusCode::CREATED);

    // Outside `team`, and for global operations, the lead holds nothing.
    let (status, _) = lead_token.post("/api/v1/admin/organizations/other/namespaces", json!({"name": "sneaky"}))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = lead_token.patch(&format!("/api/v1/admin/users/{bob}"), json!({"global_role_id": ADMIN_TEMPLATE_ID}))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // An organization they cannot see does not even exist for them.
    let (status, _) = lead_token.get("/api/v1/admin/organizations/nowhere")
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn own_keys_stay_within_the_owner_and_the_credential() {
    let app = TestApp::new().await;
    let cli = app.client();
    let bob = app.user("bob").await;
    app.member("default", bob, VIEWER_TEMPLATE_ID).await;
    let bob_token = app.user_key(bob, &[Scope::ModulesRead]).await;

    let (status, err) = bob_token.post("/api/v1/keys", json!({"name": "mine", "scopes": ["modules:write"]}))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    let (status, err) = bob_token.post("/api/v1/keys", json!({"name": "mine", "scopes": ["modules:wrong"]}))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["check"], "scopes");
    let (status, err) = bob_token.post("/api/v1/keys", json!({
            "name": "mine",
            "scopes": ["modules:read"],
            "expires_at": "2030-01-01T00:00:00Z",
            "expires_in_days": 3
        }))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["check"], "expires_at");
    let (status, err) = bob_token.post("/api/v1/keys", json!({"name": "mine", "scopes": ["modules:read"], "expires_at": "2020-01-01T00:00:00Z"}))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (status, created) = bob_token.post("/api/v1/keys", json!({"name": "mine", "scopes": ["modules:read"], "expires_at": "2030-01-01T00:00:00Z"}))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["key"]["owner_id"], bob.to_string());
    let expires: chrono::DateTime<chrono::Utc> = created["key"]["expires_at"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("expires_at");
    assert_eq!(expires.to_rfc3339(), "2030-01-01T00:00:00+00:00");
    let secret = created["secret"].as_str().expect("secret").to_string();
    let id = created["key"]["id"].as_str().expect("id").to_string();
    let (status, listed) = bob_token.get("/api/v1/keys").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    assert!(!listed.to_string().contains(&secret));

    // Through a narrower key, the user's other scopes are out of reach.
    let lead = app.user("lead").await;
    app.member("default", lead, ADMIN_TEMPLATE_ID).await;
    let narrow = app.user_key(lead, &[Scope::ModulesRead]).await;
    let (status, _) = narrow.post("/api/v1/keys", json!({"name": "wider", "scopes": ["organizations:write"]}))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let wide = app.user_key(lead, &[Scope::Admin]).await;
    let (_, lead_keys) = narrow.get("/api/v1/keys").await;
    let wide_id = lead_keys
        .as_array()
        .expect("array")
        .iter()
        .find(|k| k["scopes"] == json!(["admin:*"]))
        .and_then(|k| k["id"].as_str())
        .expect("the wide key is listed")
        .to_string();
    let (status, _) = narrow.post_empty(&format!("/api/v1/keys/{wide_id}/rotate"))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(app.me(&wide).await.is_success());

    // Someone else's key is not found; one's own rotates and revokes.
    let (status, _) = bob_token.delete(&format!("/api/v1/keys/{wide_id}"))
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, rotated) = bob_token.post_empty(&format!("/api/v1/keys/{id}/rotate"))
    .await;
    assert_eq!(status, StatusCode::OK);
    let rotated_secret = rotated["secret"].as_str().expect("secret").to_string();
    assert_eq!(app.me(&secret).await, StatusCode::UNAUTHORIZED);
    assert!(app.me(&rotated_secret).await.is_success());
    let (status, _) = bob_token.delete(&format!("/api/v1/keys/{id}"))
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.me(&rotated_secret).await, StatusCode::UNAUTHORIZED);

    // A key with no user behind it has no own keys.
    let system = app.system_key(&[Scope::Admin]).await;
    let (status, _) = system.get("/api/v1/keys").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn users_are_listed_changed_disabled_and_their_keys_revoked() {
    let app = TestApp::new().await;
    let cli = app.client();
    let (root, admin) = app.admin().await;
    for name in ["carol", "dave", "erin"] {
        app.user(name).await;
    }
    let (status, page) = admin.get("/api/v1/admin/users?limit=2&offset=1")
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 4);
    assert_eq!(page["limit"], 2);
    assert_eq!(page["offset"], 1);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    let (_, found) = admin.get("/api/v1/admin/users?search=DAV").await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["items"][0]["username"], "dave");
    let dave = found["items"][0]["id"].as_str().expect("id").to_string();

    let user_path = format!("/api/v1/admin/users/{dave}");
    let (status, changed) = admin.patch(&user_path, json!({"global_role_id": VIEWER_TEMPLATE_ID}))
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["global_role_id"], VIEWER_TEMPLATE_ID.to_string());
    // Absent leaves it; null removes it.
    let (_, changed) = admin.patch(&user_path, json!({"disabled": false}))
    .await;
    assert_eq!(changed["global_role_id"], VIEWER_TEMPLATE_ID.to_string());
    let (_, changed) = admin.patch(&user_path, json!({"global_role_id": null}))
    .await;
    assert!(changed.get("global_role_id").is_none(), "{changed}");
    let (status, _) = admin.patch(&format!("/api/v1/admin/users/{root}"), json!({"disabled": true}))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = admin.get(&format!("/api/v1/admin/users/{}", uuid::Uuid::now_v7()))
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Dave's keys: listed without secrets, revocable; disabling him stops them all.
    let dave_id = dave.parse().expect("uuid");
    app.member("default", dave_id, VIEWER_TEMPLATE_ID).await;
    let (first_id, first) = app.user_key_with_id(dave_id, &[Scope::ModulesRead]).await;
    let second = app.user_key(dave_id, &[Scope::ModulesRead]).await;
    let (status, keys) = admin.get(&format!("{user_path}/api-keys")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys.as_array().map(Vec::len), Some(2));
    assert!(!keys.to_string().contains(&first));
    let (status, _) = admin.delete(&format!("{user_path}/api-keys/{first_id}"))
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.me(&first).await, StatusCode::UNAUTHORIZED);
    assert!(app.me(&second).await.is_success());
    let (status, disabled) = admin.patch(&user_path, json!({"disabled": true}))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(disabled["disabled"], true);
    assert_eq!(app.me(&second).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn audit_log_filters_and_pages() {
    let app = TestApp::new().await;
    let cli = app.client();
    let admin = app.admin_token().await;
    let start = app.clock_now();
    for name in ["a1", "a2", "a3"] {
        app.clock.advance(Duration::seconds(10));
        let (status, _) = admin.post("/api/v1/admin/organizations", json!({"name": name}))
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    app.clock.advance(Duration::seconds(10));
    admin.post("/api/v1/admin/organizations/a1/namespaces", json!({"name": "ns1"}))
    .await;
    let reader = app.system_key(&[Scope::ModulesRead]).await;
    let (status, _) = reader.post("/api/v1/admin/organizations", json!({"name": "nope"}))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Reading the audit log needs audit:read.
    let (status, _) = reader.get("/api/v1/admin/audit-logs").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let logs = "/api/v1/admin/audit-logs";
    let (status, page) = admin.get(&format!("{logs}?action=organization.create&limit=2"))
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 4, "three created and one denied: {page}");
    assert_eq!(page["limit"], 2);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    let (_, next) = admin.get(&format!("{logs}?action=organization.create&limit=2&offset=2"))
    .await;
    assert_eq!(next["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(next["offset"], 2);

    let (_, denied) = admin.get(&format!("{logs}?outcome=denied")).await;
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
    let (_, by_principal) = admin.get(&format!("{logs}?principal={principal}"))
    .await;
    assert_eq!(by_principal["total"], 1);
    let (status, err) = admin.get(&format!("{logs}?outcome=maybe")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["check"], "outcome");

    let (_, by_resource) = admin.get(&format!("{logs}?resource=organization:a1"))
    .await;
    assert_eq!(
        by_resource["total"], 2,
        "a1 and its namespace: {by_resource}"
    );
    let (_, by_org) = admin.get(&format!("{logs}?organization=a1"))
    .await;
    assert_eq!(by_org["total"], 2, "{by_org}");
    assert_eq!(
        by_org["items"][0]["resource"],
        "organization:a1/namespace:ns1"
    );
    let (status, _) = admin.get(&format!("{logs}?organization=zz"))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // since inclusive, until exclusive.
    let t = |secs: i64| {
        (start + Duration::seconds(secs))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            .replace('+', "%2B")
    };
    let (_, window) = admin.get(&format!(
            "{logs}?action=organization.create&since={}&until={}",
            t(20),
            t(30)
        ))
    .await;
    assert_eq!(window["total"], 1, "{window}");
    assert_eq!(window["items"][0]["resource"], "organization:a2");
    let (status, _) = admin.get(&format!("{logs}?since={}&until={}", t(30), t(20)))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, clamped) = admin.get(&format!("{logs}?limit=9999")).await;
    assert_eq!(clamped["limit"], 500);
    let (_, default) = admin.get(logs).await;
    assert_eq!(default["limit"], 100);
    assert_eq!(default["offset"], 0);
}

#[tokio::test]
async fn every_mutation_leaves_exactly_one_audit_row_without_secrets() {
    let app = TestApp::new().await;
    let cli = app.client();
    let admin = app.admin_token().await;
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
        let (status, resp) = admin.send(method, &path, payload).await;
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
    admin.get("/api/v1/admin/organizations").await;
    admin.get("/api/v1/admin/audit-logs").await;
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
        let (status, err) = key.send(method, path, payload).await;
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
    let (status, _) = key.get("/api/v1/admin/users").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
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
    assert_eq!(count, 31, "every admin and own-key route is served");
}
