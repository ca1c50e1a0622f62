//! Credentials and spellings that must not get through: no spelling of a protected path
//! bypasses the access layer, and a key stops working the moment it expires, is revoked or
//! rotated.

use reqwest::Method;
use serde_json::{Value, json};
use tfr_tests::TestRegistry;
use tfr_tests::access::{Body, Call, fetch_spec, operations};
use tfr_tests::world::{Caller, protocol_values, publish_module_ok, str_at};

/// The namespace the fixture module is published into.
const NS: &str = "variants";

/// Spellings of `path` a router or proxy might treat as the same route: a trailing
/// slash, a doubled slash, a percent-encoded letter in a literal segment, an upper-case
/// first segment.
fn path_variants(path: &str) -> Vec<String> {
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, format!("?{q}")),
        None => (path, String::new()),
    };
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = vec![format!("{path}/{query}")];
    for i in 1..segments.len() {
        let mut doubled = segments.clone();
        doubled.insert(i, "");
        out.push(format!("{}{query}", doubled.join("/")));
    }
    for (i, segment) in segments.iter().enumerate() {
        let Some(first) = segment.chars().next().filter(char::is_ascii_alphabetic) else {
            continue;
        };
        let mut encoded = segments.clone();
        let replaced = format!("%{:02X}{}", first as u32, &segment[1..]);
        encoded[i] = &replaced;
        out.push(format!("{}{query}", encoded.join("/")));
        if i == 1 {
            let mut upper = segments.clone();
            let up = segment.to_ascii_uppercase();
            upper[i] = &up;
            out.push(format!("{}{query}", upper.join("/")));
        }
    }
    out
}

/// No spelling of a protected route reaches its handler without a credential (or with a
/// key lacking the scope): the access layer and the router agree on what a path is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_variants_never_bypass_access_control() {
    let reg = TestRegistry::start().await.expect("start tfr");
    let admin = reg.key_with_scopes("admin:*").await;
    let unrelated = reg.key_with_scopes("mirrors:read").await;
    publish_module_ok(&reg, &format!("{NS}/net/aws"), "1.0.0", &admin).await;
    let spec = fetch_spec(&reg).await;
    let values = protocol_values(NS);
    let mut failures = Vec::new();
    let mut sent = 0;
    for op in operations(&spec) {
        let req = op.requirement().expect("x-tfr-scope");
        if !req.needs_credential() {
            continue;
        }
        let mut methods = vec![op.method.clone()];
        if op.method == Method::GET {
            methods.push(Method::HEAD);
        }
        for variant in path_variants(&op.fill(&values)) {
            for method in &methods {
                let mut credentials = vec![("no credential", None)];
                if req.refuses_other_scopes() {
                    credentials.push(("an unrelated key", Some(unrelated.as_str())));
                }
                for (who, bearer) in credentials {
                    let body = if op.body_types.is_empty() {
                        Body::None
                    } else {
                        Body::Json(json!({}))
                    };
                    let reply = Call::new(method.clone(), &variant)
                        .bearer(bearer)
                        .body(body)
                        .send(&reg)
                        .await;
                    sent += 1;
                    let refused = match who {
                        "no credential" => [401, 404, 405].contains(&reply.status),
                        _ => [403, 404, 405].contains(&reply.status),
                    };
                    if !refused {
                        failures.push(format!(
                            "{method} {variant} ({} [{}]) as {who}: {} {}",
                            op.label(),
                            op.declared.as_deref().unwrap_or("-"),
                            reply.status,
                            reply.text.chars().take(200).collect::<String>()
                        ));
                    }
                }
            }
        }
    }
    println!("path variants: {sent} requests");
    assert!(sent > 500, "{sent} requests");
    assert!(
        failures.is_empty(),
        "{} path variants got past the access layer:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The fixture is untouched.
    let still = Call::new(Method::GET, format!("/v1/modules/{NS}/net/aws/versions"))
        .bearer(Some(&admin))
        .send(&reg)
        .await;
    assert!(still.text.contains("1.0.0"), "{}", still.text);
    reg.shutdown().await;
}

/// A key stops working the moment it expires, is revoked or rotated, even though verified
/// keys are cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_revoked_and_rotated_keys_stop_working() {
    let reg = TestRegistry::start().await.expect("start tfr");
    assert!(
        reg.settings.api_key_cache_ttl_secs > 0,
        "the verification cache is on"
    );
    let admin = reg.key_with_scopes("admin:*").await;
    let keys = "/api/v1/admin/organizations/default/api-keys";
    let as_admin = Caller::new(&reg, Some(&admin));
    let create = |body: Value| async move {
        let created = as_admin
            .expect(Method::POST, keys, body, 201, "creating a key")
            .await;
        (str_at(&created, "/key/id"), str_at(&created, "/secret"))
    };
    let me = |key: String| {
        let reg = &reg;
        async move {
            Call::new(Method::GET, "/api/v1/auth/me")
                .bearer(Some(&key))
                .send(reg)
                .await
                .status
        }
    };
    let expires_at = tfr_tests::access::rfc3339_from_now(3);
    let (_, expiring) = create(json!({
        "name": "short-lived", "scopes": ["modules:read"], "expires_at": expires_at
    }))
    .await;
    let (revoked_id, revoked) =
        create(json!({"name": "revoked", "scopes": ["modules:read"]})).await;
    let (rotated_id, rotated) =
        create(json!({"name": "rotated", "scopes": ["modules:read"]})).await;
    for key in [&expiring, &revoked, &rotated] {
        // Twice: the second answer comes from the verification cache.
        assert_eq!(me(key.clone()).await, 200);
        assert_eq!(me(key.clone()).await, 200);
    }
    let why = "revoking a key";
    let revoke = format!("{keys}/{revoked_id}");
    as_admin
        .expect(Method::DELETE, revoke, Value::Null, 204, why)
        .await;
    assert_eq!(me(revoked.clone()).await, 401, "a revoked key, at once");
    let why = "rotating a key";
    let rotate = format!("{keys}/{rotated_id}/rotate");
    let done = as_admin
        .expect(Method::POST, rotate, Value::Null, 200, why)
        .await;
    let new_secret = str_at(&done, "/secret");
    assert_eq!(me(rotated.clone()).await, 401, "a rotated key's old secret");
    assert_eq!(me(new_secret).await, 200, "its new secret");
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert_eq!(me(expiring).await, 401, "an expired key");
    reg.shutdown().await;
}
