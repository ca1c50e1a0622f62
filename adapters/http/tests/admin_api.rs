//! The admin API and the self-service key endpoints over the testkit fakes: status codes,
//! secrets shown once, and the "nobody grants more than they hold" rules.

mod common;

use poem::http::StatusCode;
use serde_json::json;
use tfr_core::Scope;
use tfr_ports::driven::{ADMIN_TEMPLATE_ID, DEFAULT_ORGANIZATION_ID, VIEWER_TEMPLATE_ID};

use common::{Caller, ReplyExt, TestApp, audit_rows};

#[tokio::test]
async fn organization_namespace_and_key_lifecycle() {
    let (app, cli, admin) = TestApp::with_admin().await;
    let as_admin = Caller::new(&cli, &admin);

    let (status, org) = as_admin
        .post(
            "/api/v1/admin/organizations",
            json!({"name": "platform", "display_name": "Platform team"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    assert_eq!(org["name"], "platform");
    assert_eq!(org["default"], false);
    let org_id = org["id"].as_str().expect("id").to_string();

    as_admin
        .post("/api/v1/admin/organizations", json!({"name": "platform"}))
        .await
        .expect_status(StatusCode::CONFLICT);
    let (status, err) = as_admin
        .post("/api/v1/admin/organizations", json!({"name": "Not Valid"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["check"], "name", "{err}");

    // By name or by id; unknown is 404 for whoever may read every organization.
    for key in ["platform", org_id.as_str()] {
        let (status, got) = as_admin
            .get(&format!("/api/v1/admin/organizations/{key}"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got["id"], org_id.as_str());
    }
    as_admin
        .get("/api/v1/admin/organizations/nowhere")
        .await
        .expect_status(StatusCode::NOT_FOUND);
    let (status, renamed) = as_admin
        .patch(
            "/api/v1/admin/organizations/platform",
            json!({"display_name": "Platform"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(renamed["display_name"], "Platform");
    let (_, list) = as_admin.get("/api/v1/admin/organizations").await;
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
    let (status, ns) = as_admin
        .post(
            "/api/v1/admin/organizations/platform/namespaces",
            json!({"name": "acme", "public": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ns}");
    assert_eq!(ns["organization"], "platform");
    assert_eq!(ns["public"], true);
    as_admin
        .post(
            "/api/v1/admin/organizations/platform/namespaces",
            json!({"name": "ACME"}),
        )
        .await
        .expect_status(StatusCode::CONFLICT);
    let (_, listed) = as_admin
        .get("/api/v1/admin/organizations/platform/namespaces")
        .await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let (_, all) = as_admin.get("/api/v1/admin/namespaces").await;
    assert!(
        all.as_array()
            .expect("array")
            .iter()
            .any(|n| n["name"] == "acme"),
        "{all}"
    );

    // An organization key: the secret once, never in a listing.
    let (status, created) = as_admin
        .post(
            "/api/v1/admin/organizations/platform/api-keys",
            json!({"name": "ci", "scopes": ["modules:write"], "expires_in_days": 30}),
        )
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
    let (status, keys) = as_admin
        .get("/api/v1/admin/organizations/platform/api-keys")
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
    let (status, rotated) = as_admin
        .post_empty(&format!(
            "/api/v1/admin/organizations/platform/api-keys/{key_id}/rotate"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_eq!(rotated["key"]["id"], key_id.as_str());
    let new_secret = rotated["secret"].as_str().expect("secret").to_string();
    assert_ne!(new_secret, secret);
    assert_eq!(app.me(&secret).await, StatusCode::UNAUTHORIZED);
    assert!(app.me(&new_secret).await.is_success());

    // Revoke: gone at once; listed as revoked; a revoked key is not rotated.
    let (status, _) = as_admin
        .delete(&format!(
            "/api/v1/admin/organizations/platform/api-keys/{key_id}"
        ))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.me(&new_secret).await, StatusCode::UNAUTHORIZED);
    let (_, keys) = as_admin
        .get("/api/v1/admin/organizations/platform/api-keys")
        .await;
    assert_eq!(keys[0]["status"], "revoked", "{keys}");
    as_admin
        .post_empty(&format!(
            "/api/v1/admin/organizations/platform/api-keys/{key_id}/rotate"
        ))
        .await
        .expect_status(StatusCode::CONFLICT);
    // Another organization's key id is "not found" here.
    as_admin
        .delete(&format!(
            "/api/v1/admin/organizations/default/api-keys/{key_id}"
        ))
        .await
        .expect_status(StatusCode::NOT_FOUND);

    // Deleting: refused while it owns things, never for the default organization.
    as_admin
        .delete("/api/v1/admin/organizations/platform")
        .await
        .expect_status(StatusCode::CONFLICT);
    as_admin
        .delete(&format!(
            "/api/v1/admin/organizations/{DEFAULT_ORGANIZATION_ID}"
        ))
        .await
        .expect_status(StatusCode::CONFLICT);
    as_admin
        .post("/api/v1/admin/organizations", json!({"name": "scratch"}))
        .await
        .expect_status(StatusCode::CREATED);
    as_admin
        .delete("/api/v1/admin/organizations/scratch")
        .await
        .expect_status(StatusCode::NO_CONTENT);
    as_admin
        .get("/api/v1/admin/organizations/scratch")
        .await
        .expect_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn namespaces_move_between_organizations_the_caller_administers() {
    let (app, cli, admin) = TestApp::with_admin().await;
    let as_admin = Caller::new(&cli, &admin);
    for name in ["one", "two"] {
        as_admin
            .post("/api/v1/admin/organizations", json!({"name": name}))
            .await
            .expect_status(StatusCode::CREATED);
    }
    as_admin
        .post(
            "/api/v1/admin/organizations/one/namespaces",
            json!({"name": "tools"}),
        )
        .await
        .expect_status(StatusCode::CREATED);

    // An administrator of `one` only cannot move it into `two`.
    let lead = app.user("lead").await;
    app.member("one", lead, ADMIN_TEMPLATE_ID).await;
    let lead_token = app.user_key(lead, &[Scope::Admin]).await;
    let as_lead = Caller::new(&cli, &lead_token);
    as_lead
        .patch(
            "/api/v1/admin/namespaces/tools",
            json!({"organization": "two"}),
        )
        .await
        .expect_status(StatusCode::FORBIDDEN);
    let (status, ns) = as_lead
        .patch("/api/v1/admin/namespaces/tools", json!({"public": true}))
        .await;
    assert_eq!(status, StatusCode::OK, "{ns}");
    assert_eq!(ns["public"], true);
    assert_eq!(ns["organization"], "one");

    let (status, ns) = as_admin
        .patch(
            "/api/v1/admin/namespaces/TOOLS",
            json!({"organization": "two"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ns}");
    assert_eq!(ns["organization"], "two");
    // Now outside what the lead administers.
    as_lead
        .patch("/api/v1/admin/namespaces/tools", json!({"public": false}))
        .await
        .expect_status(StatusCode::FORBIDDEN);
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
    let (app, cli, admin) = TestApp::with_admin().await;
    let as_admin = Caller::new(&cli, &admin);
    as_admin
        .post("/api/v1/admin/organizations", json!({"name": "team"}))
        .await
        .expect_status(StatusCode::CREATED);

    let path = "/api/v1/admin/organizations/team/role-templates";
    let (status, template) = as_admin
        .post(
            path,
            json!({
                "name": "deployer",
                "description": "publishes modules",
                "scopes": ["modules:write", "organizations:read"]
            }),
        )
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
        let (status, err) = as_admin.post(path, payload.clone()).await;
        assert_eq!(status, expected, "{payload}: {err}");
        if let Some(check) = check {
            assert_eq!(err["check"], check, "{err}");
        }
    }
    let (_, templates) = as_admin.get(path).await;
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
    let as_alice = Caller::new(&cli, &alice_token);
    // Any signed-in user sees the system templates, and only them.
    let (status, system) = as_alice.get("/api/v1/admin/role-templates").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        system
            .as_array()
            .expect("array")
            .iter()
            .all(|t| t["system"] == true),
        "{system}"
    );
    as_admin
        .put(
            &format!("{path}/{VIEWER_TEMPLATE_ID}"),
            json!({"name": "viewer2", "scopes": ["modules:read"]}),
        )
        .await
        .expect_status(StatusCode::FORBIDDEN);

    // Alice joins with the custom template and can then read the organization.
    let members = "/api/v1/admin/organizations/team/members";
    as_alice
        .get(members)
        .await
        .expect_status(StatusCode::FORBIDDEN);
    let (status, member) = as_admin
        .put(
            &format!("{members}/{alice}"),
            json!({"role_template_id": template_id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{member}");
    assert_eq!(member["username"], "alice");
    assert_eq!(member["role_template"], "deployer");
    assert_eq!(member["source"], "manual");
    let (status, listed) = as_alice.get(members).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed[0]["user_id"], alice.to_string());
    assert_eq!(
        listed[0]["scopes"],
        json!(["modules:write", "organizations:read"])
    );
    let (status, user) = as_admin.get(&format!("/api/v1/admin/users/{alice}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["memberships"][0]["organization"], "team", "{user}");
    assert_eq!(user["memberships"][0]["role_template"], "deployer");

    // Changing the template changes what she may do on her next request.
    let (status, updated) = as_admin
        .put(
            &format!("{path}/{template_id}"),
            json!({"name": "deployer", "scopes": ["modules:write"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    as_alice
        .get(members)
        .await
        .expect_status(StatusCode::FORBIDDEN);

    // A held template cannot go; after removing her it can.
    as_admin
        .delete(&format!("{path}/{template_id}"))
        .await
        .expect_status(StatusCode::CONFLICT);
    as_admin
        .delete(&format!("{members}/{alice}"))
        .await
        .expect_status(StatusCode::NO_CONTENT);
    as_admin
        .delete(&format!("{members}/{alice}"))
        .await
        .expect_status(StatusCode::NOT_FOUND);
    as_admin
        .delete(&format!("{path}/{template_id}"))
        .await
        .expect_status(StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn nobody_grants_scopes_they_do_not_hold() {
    let (app, cli, admin) = TestApp::with_admin().await;
    let as_admin = Caller::new(&cli, &admin);
    for name in ["team", "other"] {
        as_admin
            .post("/api/v1/admin/organizations", json!({"name": name}))
            .await;
    }
    let templates = "/api/v1/admin/organizations/team/role-templates";
    let (_, manager) = as_admin
        .post(
            templates,
            json!({"name": "manager", "scopes": ["organizations:write", "modules:read"]}),
        )
        .await;
    let lead = app.user("lead").await;
    let bob = app.user("bob").await;
    as_admin
        .put(
            &format!("/api/v1/admin/organizations/team/members/{lead}"),
            json!({"role_template_id": manager["id"]}),
        )
        .await
        .expect_status(StatusCode::OK);
    let lead_token = app
        .user_key(lead, &[Scope::OrganizationsWrite, Scope::ModulesRead])
        .await;
    let as_lead = Caller::new(&cli, &lead_token);

    // A template, a membership and a key only with scopes the lead holds in `team`.
    let (status, err) = as_lead
        .post(
            templates,
            json!({"name": "writer", "scopes": ["modules:write"]}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    let (status, reader) = as_lead
        .post(
            templates,
            json!({"name": "reader", "scopes": ["modules:read"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reader}");
    let bob_member = format!("/api/v1/admin/organizations/team/members/{bob}");
    as_lead
        .put(&bob_member, json!({"role_template_id": ADMIN_TEMPLATE_ID}))
        .await
        .expect_status(StatusCode::FORBIDDEN);
    as_lead
        .put(&bob_member, json!({"role_template_id": reader["id"]}))
        .await
        .expect_status(StatusCode::OK);
    let org_keys = "/api/v1/admin/organizations/team/api-keys";
    as_lead
        .post(org_keys, json!({"name": "ci", "scopes": ["modules:write"]}))
        .await
        .expect_status(StatusCode::FORBIDDEN);
    as_lead
        .post(org_keys, json!({"name": "ci", "scopes": ["modules:read"]}))
        .await
        .expect_status(StatusCode::CREATED);

    // Outside `team`, and for global operations, the lead holds nothing.
    as_lead
        .post(
            "/api/v1/admin/organizations/other/namespaces",
            json!({"name": "sneaky"}),
        )
        .await
        .expect_status(StatusCode::FORBIDDEN);
    as_lead
        .patch(
            &format!("/api/v1/admin/users/{bob}"),
            json!({"global_role_id": ADMIN_TEMPLATE_ID}),
        )
        .await
        .expect_status(StatusCode::FORBIDDEN);
    // An organization they cannot see does not even exist for them.
    as_lead
        .get("/api/v1/admin/organizations/nowhere")
        .await
        .expect_status(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn own_keys_stay_within_the_owner_and_the_credential() {
    let app = TestApp::new().await;
    let cli = app.client();
    let bob = app.user("bob").await;
    app.member("default", bob, VIEWER_TEMPLATE_ID).await;
    let bob_token = app.user_key(bob, &[Scope::ModulesRead]).await;
    let as_bob = Caller::new(&cli, &bob_token);

    let (status, err) = as_bob
        .post(
            "/api/v1/keys",
            json!({"name": "mine", "scopes": ["modules:write"]}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    let (status, err) = as_bob
        .post(
            "/api/v1/keys",
            json!({"name": "mine", "scopes": ["modules:wrong"]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["check"], "scopes");
    let (status, err) = as_bob
        .post(
            "/api/v1/keys",
            json!({
                "name": "mine",
                "scopes": ["modules:read"],
                "expires_at": "2030-01-01T00:00:00Z",
                "expires_in_days": 3
            }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["check"], "expires_at");
    let (status, err) = as_bob.post("/api/v1/keys", json!({"name": "mine", "scopes": ["modules:read"], "expires_at": "2020-01-01T00:00:00Z"}))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (status, created) = as_bob.post("/api/v1/keys", json!({"name": "mine", "scopes": ["modules:read"], "expires_at": "2030-01-01T00:00:00Z"}))
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
    let (status, listed) = as_bob.get("/api/v1/keys").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    assert!(!listed.to_string().contains(&secret));

    // Through a narrower key, the user's other scopes are out of reach.
    let lead = app.user("lead").await;
    app.member("default", lead, ADMIN_TEMPLATE_ID).await;
    let narrow = app.user_key(lead, &[Scope::ModulesRead]).await;
    let as_narrow = Caller::new(&cli, &narrow);
    as_narrow
        .post(
            "/api/v1/keys",
            json!({"name": "wider", "scopes": ["organizations:write"]}),
        )
        .await
        .expect_status(StatusCode::FORBIDDEN);
    let wide = app.user_key(lead, &[Scope::Admin]).await;
    let (_, lead_keys) = as_narrow.get("/api/v1/keys").await;
    let wide_id = lead_keys
        .as_array()
        .expect("array")
        .iter()
        .find(|k| k["scopes"] == json!(["admin:*"]))
        .and_then(|k| k["id"].as_str())
        .expect("the wide key is listed")
        .to_string();
    as_narrow
        .post_empty(&format!("/api/v1/keys/{wide_id}/rotate"))
        .await
        .expect_status(StatusCode::FORBIDDEN);
    assert!(app.me(&wide).await.is_success());

    // Someone else's key is not found; one's own rotates and revokes.
    as_bob
        .delete(&format!("/api/v1/keys/{wide_id}"))
        .await
        .expect_status(StatusCode::NOT_FOUND);
    let (status, rotated) = as_bob
        .post_empty(&format!("/api/v1/keys/{id}/rotate"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let rotated_secret = rotated["secret"].as_str().expect("secret").to_string();
    assert_eq!(app.me(&secret).await, StatusCode::UNAUTHORIZED);
    assert!(app.me(&rotated_secret).await.is_success());
    as_bob
        .delete(&format!("/api/v1/keys/{id}"))
        .await
        .expect_status(StatusCode::NO_CONTENT);
    assert_eq!(app.me(&rotated_secret).await, StatusCode::UNAUTHORIZED);

    // A key with no user behind it has no own keys.
    let system = app.system_key(&[Scope::Admin]).await;
    let as_system = Caller::new(&cli, &system);
    as_system
        .get("/api/v1/keys")
        .await
        .expect_status(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn users_are_listed_changed_disabled_and_their_keys_revoked() {
    let app = TestApp::new().await;
    let cli = app.client();
    let (root, admin) = app.admin().await;
    let as_admin = Caller::new(&cli, &admin);
    for name in ["carol", "dave", "erin"] {
        app.user(name).await;
    }
    let (status, page) = as_admin.get("/api/v1/admin/users?limit=2&offset=1").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 4);
    assert_eq!(page["limit"], 2);
    assert_eq!(page["offset"], 1);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    let (_, found) = as_admin.get("/api/v1/admin/users?search=DAV").await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["items"][0]["username"], "dave");
    let dave = found["items"][0]["id"].as_str().expect("id").to_string();

    let user_path = format!("/api/v1/admin/users/{dave}");
    let (status, changed) = as_admin
        .patch(&user_path, json!({"global_role_id": VIEWER_TEMPLATE_ID}))
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["global_role_id"], VIEWER_TEMPLATE_ID.to_string());
    // Absent leaves it; null removes it.
    let (_, changed) = as_admin.patch(&user_path, json!({"disabled": false})).await;
    assert_eq!(changed["global_role_id"], VIEWER_TEMPLATE_ID.to_string());
    let (_, changed) = as_admin
        .patch(&user_path, json!({"global_role_id": null}))
        .await;
    assert!(changed.get("global_role_id").is_none(), "{changed}");
    as_admin
        .patch(
            &format!("/api/v1/admin/users/{root}"),
            json!({"disabled": true}),
        )
        .await
        .expect_status(StatusCode::BAD_REQUEST);
    as_admin
        .get(&format!("/api/v1/admin/users/{}", uuid::Uuid::now_v7()))
        .await
        .expect_status(StatusCode::NOT_FOUND);

    // Dave's keys: listed without secrets, revocable; disabling him stops them all.
    let dave_id = dave.parse().expect("uuid");
    app.member("default", dave_id, VIEWER_TEMPLATE_ID).await;
    let (first_id, first) = app.user_key_with_id(dave_id, &[Scope::ModulesRead]).await;
    let second = app.user_key(dave_id, &[Scope::ModulesRead]).await;
    let (status, keys) = as_admin.get(&format!("{user_path}/api-keys")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys.as_array().map(Vec::len), Some(2));
    assert!(!keys.to_string().contains(&first));
    as_admin
        .delete(&format!("{user_path}/api-keys/{first_id}"))
        .await
        .expect_status(StatusCode::NO_CONTENT);
    assert_eq!(app.me(&first).await, StatusCode::UNAUTHORIZED);
    assert!(app.me(&second).await.is_success());
    let (status, disabled) = as_admin.patch(&user_path, json!({"disabled": true})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(disabled["disabled"], true);
    assert_eq!(app.me(&second).await, StatusCode::UNAUTHORIZED);
}
