//! The audit trail, read back through its API: each mutation leaves exactly one row naming
//! what was done, to what, by whom and how it ended (success, denied, failed); no row
//! holds a secret; nothing in the API changes or deletes a row.

use std::collections::BTreeMap;
use std::ops::Deref;

use reqwest::Method;
use serde_json::{Value, json};
use tfr_tests::access::{Body, Call, Reply, audit_rows, audit_rows_of, bogus_key, request_id};
use tfr_tests::archives;
use tfr_tests::oidc::TestUser;
use tfr_tests::provider::generate_signing_key;
use tfr_tests::world::{SsoWorld, fake_provider, key_id, str_at, templates};

struct Trail {
    base: SsoWorld,
    admin_id: String,
    /// System key, `audit:read`.
    auditor: String,
    /// Every secret the run used or was given: none may appear in the audit log.
    secrets: Vec<String>,
}

impl Deref for Trail {
    type Target = SsoWorld;
    fn deref(&self) -> &SsoWorld {
        &self.base
    }
}

/// What one request's single audit row must say (an empty `resource`: checked by the caller).
struct Expect<'a> {
    action: &'a str,
    resource: &'a str,
    outcome: &'a str,
    status: u16,
    /// `Some(principal)`, or `None` for a row without one.
    principal: Option<&'a str>,
}

impl<'a> Expect<'a> {
    fn success(action: &'a str, resource: &'a str, status: u16, by: Option<&'a str>) -> Self {
        Expect {
            action,
            resource,
            outcome: "success",
            status,
            principal: by,
        }
    }

    fn denied(action: &'a str, resource: &'a str, status: u16, by: Option<&'a str>) -> Self {
        Expect {
            outcome: "denied",
            ..Self::success(action, resource, status, by)
        }
    }

    fn failed(action: &'a str, resource: &'a str, status: u16, by: Option<&'a str>) -> Self {
        Expect {
            outcome: "failed",
            ..Self::success(action, resource, status, by)
        }
    }
}

impl Trail {
    async fn start(postgres: bool) -> Trail {
        let admin_user = TestUser::new("audit-admin")
            .email("audit-admin@example.com", true)
            .username("audit-admin");
        let base = SsoWorld::start(postgres, &admin_user).await;
        let auditor = base.reg.key_with_scopes("audit:read").await;
        let admin_id = key_id(&base.reg, &base.admin).await;
        let secrets = vec![
            base.admin.clone(),
            auditor.clone(),
            base.reg.token.clone(),
            base.user.token.clone(),
            base.user.csrf.clone(),
        ];
        Trail {
            base,
            admin_id,
            auditor,
            secrets,
        }
    }

    /// A request with the admin key.
    fn admin_call(&self, method: Method, path: impl Into<String>) -> Call<'_> {
        Call::new(method, path).bearer(Some(&self.base.admin))
    }

    /// Sends `call` with a fresh request id and checks that exactly one audit row carries
    /// that id, saying what `expect` says. Returns the reply and the row.
    async fn one_row(&self, call: Call<'_>, expect: Expect<'_>) -> (Reply, Value) {
        let label = format!("{} {}", call.method, call.path);
        let rid = request_id("audit");
        let reply = call.request_id(&rid).send(&self.reg).await;
        assert_eq!(
            reply.status, expect.status,
            "{label}: unexpected status: {}",
            reply.text
        );
        let rows = audit_rows_of(&self.reg, &self.auditor, &rid).await;
        assert_eq!(
            rows.len(),
            1,
            "{label}: expected exactly one audit row, got {rows:#?}"
        );
        let row = rows.into_iter().next().expect("one row");
        let mut want = json!({
            "action": expect.action,
            "outcome": expect.outcome,
            "status": expect.status,
        });
        // An empty resource: only known from the reply (the caller checks it).
        if !expect.resource.is_empty() {
            want["resource"] = json!(expect.resource);
        }
        for (field, value) in want.as_object().expect("object") {
            assert_eq!(
                &row[field], value,
                "{label}: audit row field {field}: {row:#}"
            );
        }
        match expect.principal {
            Some(p) => assert_eq!(row["principal"], json!(p), "{label}: principal: {row:#}"),
            None => assert!(
                row.get("principal").is_none_or(Value::is_null),
                "{label}: a row without a principal expected: {row:#}"
            ),
        }
        assert_eq!(row["client_ip"], json!("127.0.0.1"), "{label}: {row:#}");
        assert!(
            row["at"].as_str().is_some_and(|at| at.len() >= 20),
            "{label}: {row:#}"
        );
        if expect.outcome != "success" {
            assert!(
                row["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "{label}: a {} row says why: {row:#}",
                expect.outcome
            );
        }
        (reply, row)
    }

    fn key(&self) -> String {
        format!("key:{}", self.admin_id)
    }

    /// A secret from a created or rotated key's answer, remembered.
    fn keep_secret(&mut self, reply: &Reply) -> (String, String) {
        let secret = str_at(reply, "/secret");
        let id = str_at(reply, "/key/id");
        self.secrets.push(secret.clone());
        (id, secret)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutation_leaves_exactly_one_row() {
    trail(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutation_leaves_exactly_one_row_on_postgres() {
    trail(true).await;
}

async fn trail(postgres: bool) {
    let mut t = Trail::start(postgres).await;
    let admin = t.admin.clone();
    let by_admin = t.key();
    let by_admin = Some(by_admin.as_str());

    // Publishing and deleting a module version.
    let tarball = archives::module_tar_gz("acme/net/aws 1.0.0");
    t.one_row(
        t.admin_call(Method::POST, "/api/v1/modules/acme/net/aws/1.0.0")
            .body(Body::Raw(archives::GZIP, tarball.clone())),
        Expect::success("module.publish", "module:acme/net/aws/1.0.0", 201, by_admin),
    )
    .await;
    t.one_row(
        t.admin_call(Method::POST, "/api/v1/modules/acme/net/aws/1.1.0")
            .body(Body::Raw(archives::GZIP, tarball)),
        Expect::success("module.publish", "module:acme/net/aws/1.1.0", 201, by_admin),
    )
    .await;
    t.one_row(
        t.admin_call(Method::DELETE, "/api/v1/modules/acme/net/aws/1.1.0"),
        Expect::success("module.delete", "module:acme/net/aws/1.1.0", 204, by_admin),
    )
    .await;
    // A publish that fails (not an archive) is recorded as failed.
    let (reply, _) = t
        .one_row(
            t.admin_call(Method::POST, "/api/v1/modules/acme/net/aws/2.0.0")
                .body(Body::Raw(archives::GZIP, b"this is not a tarball".to_vec())),
            Expect::failed("module.publish", "module:acme/net/aws/2.0.0", 400, by_admin),
        )
        .await;
    assert!(!reply.message().is_empty());

    // Publishing and deleting a provider version.
    let signing = generate_signing_key();
    t.one_row(
        t.admin_call(Method::POST, "/api/v1/providers/acme/fake/1.0.0")
            .body(Body::Provider(fake_provider(&signing, "1.0.0"))),
        Expect::success(
            "provider.publish",
            "provider:acme/fake/1.0.0",
            201,
            by_admin,
        ),
    )
    .await;
    t.one_row(
        t.admin_call(Method::DELETE, "/api/v1/providers/acme/fake/1.0.0"),
        Expect::success("provider.delete", "provider:acme/fake/1.0.0", 204, by_admin),
    )
    .await;

    // Organizations and members.
    t.one_row(
        t.admin_call(Method::POST, "/api/v1/admin/organizations")
            .json(json!({"name": "audited", "display_name": "Audited"})),
        Expect::success("organization.create", "organization:audited", 201, by_admin),
    )
    .await;
    let viewer = templates(&t.reg, &admin).await["viewer"].clone();
    let uid = t.user.user_id.clone();
    let member = format!("organization:audited/member:{uid}");
    t.one_row(
        t.admin_call(
            Method::PUT,
            format!("/api/v1/admin/organizations/audited/members/{uid}"),
        )
        .json(json!({"role_template_id": viewer})),
        Expect::success("member.set", &member, 200, by_admin),
    )
    .await;
    t.one_row(
        t.admin_call(
            Method::DELETE,
            format!("/api/v1/admin/organizations/audited/members/{uid}"),
        ),
        Expect::success("member.remove", &member, 204, by_admin),
    )
    .await;

    // A user's own keys: create, rotate, revoke (through the user's session).
    let session = t.user.token.clone();
    let by_user = format!("user:{uid}");
    let (reply, row) = t
        .one_row(
            Call::new(Method::POST, "/api/v1/keys")
                .bearer(Some(&session))
                .json(json!({"name": "ci", "scopes": ["modules:read"]})),
            Expect::success("api_key.create", "", 201, Some(&by_user)),
        )
        .await
        .pipe_resource_check("api_key:");
    let (user_key_id, user_key) = t.keep_secret(&reply);
    assert_eq!(row["resource"], json!(format!("api_key:{user_key_id}")));
    let resource = format!("api_key:{user_key_id}");
    let (reply, _) = t
        .one_row(
            Call::new(Method::POST, format!("/api/v1/keys/{user_key_id}/rotate"))
                .bearer(Some(&session)),
            Expect::success("api_key.rotate", &resource, 200, Some(&by_user)),
        )
        .await;
    let (_, rotated_user_key) = t.keep_secret(&reply);
    // The old secret stopped working: using it is a denied 401 (no principal).
    t.one_row(
        Call::new(Method::POST, "/api/v1/modules/acme/net/aws/3.0.0")
            .bearer(Some(&user_key))
            .body(Body::Raw(archives::GZIP, vec![1, 2, 3])),
        Expect::denied("module.publish", "module:acme/net/aws/3.0.0", 401, None),
    )
    .await;
    t.one_row(
        Call::new(Method::DELETE, format!("/api/v1/keys/{user_key_id}")).bearer(Some(&session)),
        Expect::success("api_key.revoke", &resource, 204, Some(&by_user)),
    )
    .await;
    let gone = Call::new(Method::GET, "/api/v1/auth/me")
        .bearer(Some(&rotated_user_key))
        .send(&t.reg)
        .await;
    assert_eq!(gone.status, 401, "a revoked key stops working");

    // An organization's keys: create, rotate, revoke.
    let (reply, row) = t
        .one_row(
            t.admin_call(Method::POST, "/api/v1/admin/organizations/audited/api-keys")
                .json(json!({"name": "deployer", "scopes": ["modules:write"]})),
            Expect::success("api_key.create", "", 201, by_admin),
        )
        .await
        .pipe_resource_check("organization:audited/api_key:");
    let (org_key_id, org_key) = t.keep_secret(&reply);
    let resource = format!("organization:audited/api_key:{org_key_id}");
    assert_eq!(row["resource"], json!(resource));
    // The organization key acts in its organization: its rows name it.
    let by_org_key = format!("key:{}", key_id(&t.reg, &org_key).await);
    t.one_row(
        Call::new(Method::POST, "/api/v1/modules/audited-ns/net/aws/1.0.0")
            .bearer(Some(&org_key))
            .body(Body::Raw(
                archives::GZIP,
                archives::module_tar_gz("audited-ns"),
            )),
        Expect::success(
            "module.publish",
            "module:audited-ns/net/aws/1.0.0",
            201,
            Some(&by_org_key),
        ),
    )
    .await;
    let (reply, _) = t
        .one_row(
            t.admin_call(
                Method::POST,
                format!("/api/v1/admin/organizations/audited/api-keys/{org_key_id}/rotate"),
            ),
            Expect::success("api_key.rotate", &resource, 200, by_admin),
        )
        .await;
    t.keep_secret(&reply);
    t.one_row(
        t.admin_call(
            Method::DELETE,
            format!("/api/v1/admin/organizations/audited/api-keys/{org_key_id}"),
        ),
        Expect::success("api_key.revoke", &resource, 204, by_admin),
    )
    .await;

    // Refusals: a key lacking the scope (403, the key named), an invalid key and no
    // credential at all (401, nobody named).
    let reader = t.reg.key_with_scopes("modules:read").await;
    t.secrets.push(reader.clone());
    let by_reader = format!("key:{}", key_id(&t.reg, &reader).await);
    for (path, action, resource) in [
        (
            "/api/v1/modules/acme/net/aws/4.0.0",
            "module.publish",
            "module:acme/net/aws/4.0.0",
        ),
        (
            "/api/v1/admin/organizations",
            "organization.create",
            "organization",
        ),
    ] {
        let body = if action == "module.publish" {
            Body::Raw(archives::GZIP, archives::module_tar_gz("denied"))
        } else {
            Body::Json(json!({"name": "never"}))
        };
        let bogus = bogus_key();
        t.secrets.push(bogus.clone());
        for (bearer, status, principal) in [
            (Some(reader.as_str()), 403, Some(by_reader.as_str())),
            (Some(bogus.as_str()), 401, None),
            (None, 401, None),
        ] {
            t.one_row(
                Call::new(Method::POST, path)
                    .bearer(bearer)
                    .body(body.clone()),
                Expect::denied(action, resource, status, principal),
            )
            .await;
        }
    }
    // The organization that was never created does not exist.
    let never = t
        .admin_call(Method::GET, "/api/v1/admin/organizations/never")
        .send(&t.reg)
        .await;
    assert_eq!(never.status, 404, "{}", never.text);

    // Reads are not audited.
    let rid = request_id("read");
    let read = t
        .admin_call(Method::GET, "/v1/modules/acme/net/aws/versions")
        .request_id(&rid)
        .send(&t.reg)
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert!(audit_rows_of(&t.reg, &t.auditor, &rid).await.is_empty());

    // The filters find what was recorded.
    let filtered = |query: &'static str| {
        let reg = &t.reg;
        let auditor = t.auditor.clone();
        async move { audit_rows(reg, &auditor, query).await }
    };
    let publishes = filtered("action=module.publish").await;
    assert!(publishes.iter().all(|r| r["action"] == "module.publish"));
    assert_eq!(
        publishes.len(),
        8,
        "module.publish rows: 3 successes (1.0.0, 1.1.0, audited-ns), 1 failure, 1 stale key, 3 refusals: {publishes:#?}"
    );
    let denied = filtered("outcome=denied").await;
    assert!(!denied.is_empty() && denied.iter().all(|r| r["outcome"] == "denied"));
    let failed = filtered("outcome=failed").await;
    assert!(!failed.is_empty() && failed.iter().all(|r| r["outcome"] == "failed"));
    let under_org = filtered("resource=organization:audited").await;
    assert!(
        under_org.len() == 6
            && under_org.iter().all(|r| r["resource"]
                .as_str()
                .is_some_and(|s| s.starts_with("organization:audited"))),
        "{under_org:#?}"
    );
    let by_reader_rows = audit_rows(&t.reg, &t.auditor, &format!("principal={by_reader}")).await;
    assert_eq!(by_reader_rows.len(), 2, "{by_reader_rows:#?}");
    let bad_outcome = Call::new(Method::GET, "/api/v1/admin/audit-logs?outcome=maybe")
        .bearer(Some(&t.auditor))
        .send(&t.reg)
        .await;
    assert_eq!(bad_outcome.status, 400, "{}", bad_outcome.text);

    // No secret anywhere in the log.
    let all = audit_rows(&t.reg, &t.auditor, "").await;
    let text = serde_json::to_string(&all).expect("json");
    for secret in &t.secrets {
        assert!(
            !text.contains(secret.as_str()),
            "the audit log holds a secret ({}...)",
            &secret[..secret.len().min(10)]
        );
        // Not even the part after a key's recognisable prefix.
        if secret.starts_with("tfr_") && secret.len() > 20 {
            assert!(
                !text.contains(&secret[10..]),
                "the audit log holds the secret part of a key"
            );
        }
    }

    immutable(&t).await;
    t.base.reg.shutdown().await;
}

/// There is no way to change or delete audit rows through the API.
async fn immutable(t: &Trail) {
    let before = audit_rows(&t.reg, &t.auditor, "").await;
    assert!(before.len() > 20, "{} rows", before.len());
    let by_id: BTreeMap<String, Value> = before
        .iter()
        .map(|r| (r["id"].as_str().expect("id").to_string(), r.clone()))
        .collect();
    let some_id = before[before.len() / 2]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let mut answers = Vec::new();
    for path in [
        "/api/v1/admin/audit-logs".to_string(),
        format!("/api/v1/admin/audit-logs/{some_id}"),
    ] {
        for method in [Method::PUT, Method::PATCH, Method::DELETE, Method::POST] {
            for key in [&t.admin, &t.auditor] {
                let reply = Call::new(method.clone(), &path)
                    .bearer(Some(key))
                    .json(json!({"outcome": "success", "action": "nothing.happened"}))
                    .send(&t.reg)
                    .await;
                assert!(
                    reply.status == 404 || reply.status == 405,
                    "{method} {path}: expected 404 or 405, got {} {}",
                    reply.status,
                    reply.text
                );
                answers.push(reply.status);
            }
        }
    }
    let after = audit_rows(&t.reg, &t.auditor, "").await;
    for (id, row) in &by_id {
        let now = after
            .iter()
            .find(|r| r["id"].as_str() == Some(id))
            .unwrap_or_else(|| panic!("audit row {id} disappeared"));
        assert_eq!(now, row, "audit row {id} changed");
    }
    // The attempts themselves are on the record (as mutations of no known route).
    assert_eq!(after.len(), before.len() + answers.len());
}

/// Checks a row's resource starts with `prefix` (its id is only known from the reply).
trait ResourceCheck {
    fn pipe_resource_check(self, prefix: &str) -> Self;
}

impl ResourceCheck for (Reply, Value) {
    fn pipe_resource_check(self, prefix: &str) -> Self {
        let resource = self.1["resource"].as_str().unwrap_or_default();
        assert!(
            resource.starts_with(prefix),
            "resource {resource:?} should start with {prefix:?}"
        );
        self
    }
}
