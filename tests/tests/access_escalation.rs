//! Nobody hands out, keeps or reaches more than they hold: keys stay within their owner's
//! current grants, organization managers stay inside their organization and below their
//! own role, and `users:write` does not reach above itself.

use reqwest::Method;
use serde_json::{Value, json};
use tfr_tests::access::Body;
use tfr_tests::archives;
use tfr_tests::oidc::TestUser;
use tfr_tests::world::{Caller, SsoWorld, expect, publish_module_ok, str_at, templates};

/// A namespace of the default organization, published into before anyone else acts.
const NS: &str = "home";

fn user(name: &str) -> TestUser {
    TestUser::new(name)
        .email(format!("{name}@example.com"), true)
        .username(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_gets_more_than_they_hold() {
    let world = SsoWorld::start(false, &user("escalation-admin")).await;
    let reg = &world.reg;
    publish_module_ok(reg, &format!("{NS}/net/aws"), "1.0.0", &world.admin).await;
    let admin = world.as_admin();
    let system = templates(reg, &world.admin).await;
    let publisher = system["publisher"].clone();
    let admin_role = system["admin"].clone();

    // Bob signs in holding nothing.
    let bob = world.sign_in(&user("bob")).await;
    let bob_s = Caller::new(reg, Some(&bob.token));
    let me = bob_s
        .expect(Method::GET, "/api/v1/auth/me", Value::Null, 200, "me")
        .await;
    assert_eq!(me.json()["global_scopes"], json!([]), "{}", me.text);
    assert_eq!(me.json()["organizations"], json!([]), "{}", me.text);
    let why = "a key with a scope its owner lacks";
    let body = json!({"name": "nothing", "scopes": ["modules:read"]});
    bob_s
        .expect(Method::POST, "/api/v1/keys", body, 403, why)
        .await;
    let versions = format!("/v1/modules/{NS}/net/aws/versions");
    let why = "a read without the scope";
    bob_s
        .expect(Method::GET, &versions, Value::Null, 403, why)
        .await;

    // Made a publisher in default, Bob makes a key and publishes with it.
    let bob_member = format!(
        "/api/v1/admin/organizations/default/members/{}",
        bob.user_id
    );
    let as_publisher = json!({"role_template_id": publisher});
    let why = "making bob a publisher";
    admin
        .expect(Method::PUT, &bob_member, as_publisher.clone(), 200, why)
        .await;
    let body = json!({"name": "bob ci", "scopes": ["modules:write"]});
    let why = "a key within bob's role";
    let created = bob_s
        .expect(Method::POST, "/api/v1/keys", body, 201, why)
        .await;
    let bob_key = str_at(&created, "/secret");
    let k = Caller::new(reg, Some(&bob_key));
    let publish = |version: &str| {
        let label = format!("bob {version}");
        k.call(
            Method::POST,
            format!("/api/v1/modules/bobns/net/aws/{version}"),
        )
        .body(Body::Raw(archives::GZIP, archives::module_tar_gz(&label)))
    };
    expect(reg, publish("1.0.0"), 201, "publishing with bob's key").await;
    for (scopes, why) in [
        (
            json!(["modules:write", "organizations:write"]),
            "a key beyond its owner",
        ),
        (
            json!(["providers:write"]),
            "a key beyond the key that asks (though its owner holds it)",
        ),
    ] {
        let body = json!({"name": "more", "scopes": scopes});
        k.expect(Method::POST, "/api/v1/keys", body, 403, why).await;
    }
    for bearer in [k, bob_s] {
        let body = json!({"role_template_id": admin_role});
        let why = "bob making himself admin";
        bearer
            .expect(Method::PUT, &bob_member, body, 403, why)
            .await;
    }
    bob_s
        .expect(
            Method::POST,
            "/api/v1/admin/organizations/default/role-templates",
            json!({"name": "root", "scopes": ["admin:*"]}),
            403,
            "bob making an all-powerful template",
        )
        .await;
    // The key follows its owner's current role: removed from default, it cannot publish
    // or read there; restored, it can again; the owner disabled, it is not a credential.
    let why = "removing bob";
    admin
        .expect(Method::DELETE, &bob_member, Value::Null, 204, why)
        .await;
    expect(
        reg,
        publish("1.1.0"),
        403,
        "a key whose owner lost the scope",
    )
    .await;
    let why = "a read by a key whose owner lost the scope";
    let bob_versions = "/v1/modules/bobns/net/aws/versions";
    k.expect(Method::GET, bob_versions, Value::Null, 403, why)
        .await;
    let why = "restoring bob";
    admin
        .expect(Method::PUT, &bob_member, as_publisher, 200, why)
        .await;
    expect(reg, publish("1.1.0"), 201, "the key, its owner restored").await;
    let bob_user = format!("/api/v1/admin/users/{}", bob.user_id);
    let why = "disabling bob";
    admin
        .expect(
            Method::PATCH,
            &bob_user,
            json!({"disabled": true}),
            200,
            why,
        )
        .await;
    for bearer in [k, bob_s] {
        let why = "a disabled user's credential";
        bearer
            .expect(Method::GET, "/api/v1/auth/me", Value::Null, 401, why)
            .await;
    }

    // Carol manages organization team, and nothing else.
    let team = json!({"name": "team"});
    admin
        .expect(
            Method::POST,
            "/api/v1/admin/organizations",
            team,
            201,
            "team",
        )
        .await;
    let manager = admin
        .expect(
            Method::POST,
            "/api/v1/admin/organizations/team/role-templates",
            json!({"name": "manager", "scopes": ["organizations:write"]}),
            201,
            "the manager template",
        )
        .await;
    let manager = str_at(&manager, "/id");
    let teamns = json!({"name": "teamns"});
    let path = "/api/v1/admin/organizations/team/namespaces";
    admin
        .expect(Method::POST, path, teamns, 201, "teamns")
        .await;
    publish_module_ok(reg, "teamns/net/aws", "1.0.0", &world.admin).await;
    let carol = world.sign_in(&user("carol")).await;
    let c = Caller::new(reg, Some(&carol.token));
    let carol_member = format!("/api/v1/admin/organizations/team/members/{}", carol.user_id);
    let as_manager = json!({"role_template_id": manager});
    let why = "making carol team's manager";
    admin
        .expect(Method::PUT, &carol_member, as_manager.clone(), 200, why)
        .await;
    let bob_in_team = format!("/api/v1/admin/organizations/team/members/{}", bob.user_id);
    let refused: Vec<(Method, String, Value, &str)> = vec![
        (
            Method::GET,
            "/api/v1/admin/organizations/default".into(),
            Value::Null,
            "another organization",
        ),
        (
            Method::GET,
            "/api/v1/admin/organizations".into(),
            Value::Null,
            "every organization (global)",
        ),
        (
            Method::PUT,
            carol_member.clone(),
            json!({"role_template_id": admin_role}),
            "making herself admin",
        ),
        (
            Method::PUT,
            bob_in_team.clone(),
            json!({"role_template_id": publisher}),
            "granting scopes she lacks",
        ),
        (
            Method::POST,
            "/api/v1/admin/organizations/team/role-templates".into(),
            json!({"name": "root", "scopes": ["admin:*"]}),
            "a template beyond her",
        ),
        (
            Method::PUT,
            format!("/api/v1/admin/organizations/team/role-templates/{manager}"),
            json!({"name": "manager", "scopes": ["organizations:write", "modules:write"]}),
            "widening her own template",
        ),
        (
            Method::POST,
            "/api/v1/admin/organizations/team/api-keys".into(),
            json!({"name": "ci", "scopes": ["modules:write"]}),
            "an organization key beyond her",
        ),
        (
            Method::PATCH,
            "/api/v1/admin/namespaces/teamns".into(),
            json!({"organization": "default"}),
            "moving a namespace into an organization she does not manage",
        ),
        (
            Method::PATCH,
            format!("/api/v1/admin/namespaces/{NS}"),
            json!({"public": true}),
            "opening another organization's namespace",
        ),
        (
            Method::POST,
            "/api/v1/admin/organizations".into(),
            json!({"name": "mine"}),
            "creating an organization (global)",
        ),
        (
            Method::DELETE,
            "/api/v1/admin/organizations/team".into(),
            Value::Null,
            "deleting her organization (global)",
        ),
        (
            Method::PATCH,
            format!("/api/v1/admin/users/{}", carol.user_id),
            json!({"global_role_id": admin_role}),
            "a global role",
        ),
        (
            Method::POST,
            "/api/v1/keys".into(),
            json!({"name": "k", "scopes": ["modules:read"]}),
            "a key with a scope she lacks",
        ),
    ];
    for (method, path, body, why) in refused {
        c.expect(method, path, body, 403, why).await;
    }
    let publish_team = c
        .call(Method::POST, "/api/v1/modules/teamns/net/aws/9.0.0")
        .body(Body::Raw(archives::GZIP, archives::module_tar_gz("carol")));
    expect(reg, publish_team, 403, "publishing without modules:write").await;
    // What she holds she may use and hand out.
    let team = "/api/v1/admin/organizations/team";
    c.expect(Method::GET, team, Value::Null, 200, "her organization")
        .await;
    let why = "granting her own role";
    c.expect(Method::PUT, &bob_in_team, as_manager, 200, why)
        .await;
    let why = "removing a member she outranks";
    c.expect(Method::DELETE, &bob_in_team, Value::Null, 204, why)
        .await;
    let team_keys = "/api/v1/admin/organizations/team/api-keys";
    let body = json!({"name": "reader", "scopes": ["organizations:read"]});
    let why = "an organization key within her role";
    let team_key = c.expect(Method::POST, team_keys, body, 201, why).await;
    assert!(team_key.json()["secret"].is_string());
    let body = json!({"name": "k", "scopes": ["organizations:write"]});
    let why = "a key of her own within her role";
    c.expect(Method::POST, "/api/v1/keys", body, 201, why).await;

    // An organization's read key lists its own namespaces only.
    let body = json!({"name": "team reader", "scopes": ["modules:read"]});
    let reader = admin
        .expect(Method::POST, team_keys, body, 201, "a team read key")
        .await;
    let reader = str_at(&reader, "/secret");
    for path in ["/v1/modules", "/v1/modules/search?q=net"] {
        let listing = Caller::new(reg, Some(&reader))
            .expect(Method::GET, path, Value::Null, 200, "a listing")
            .await;
        assert!(
            listing.text.contains("\"teamns\""),
            "{path}: {}",
            listing.text
        );
        assert!(
            !listing.text.contains(&format!("\"{NS}\"")),
            "{path} shows another organization's namespace to a team key: {}",
            listing.text
        );
    }

    // users:write alone does not reach above itself: it cannot strip a global admin's
    // role nor disable them (as a membership cannot be changed by someone the member
    // outranks).
    let user_admin = reg.key_with_scopes("users:write").await;
    let target = format!("/api/v1/admin/users/{}", world.user.user_id);
    for (body, why) in [
        (
            json!({"global_role_id": null}),
            "users:write removing a global admin's role",
        ),
        (
            json!({"disabled": true}),
            "users:write disabling a global admin",
        ),
    ] {
        Caller::new(reg, Some(&user_admin))
            .expect(Method::PATCH, &target, body, 403, why)
            .await;
    }
    Caller::new(reg, Some(&world.user.token))
        .expect(
            Method::GET,
            "/api/v1/admin/users",
            Value::Null,
            200,
            "the admin is still an admin",
        )
        .await;
    world.reg.shutdown().await;
}
