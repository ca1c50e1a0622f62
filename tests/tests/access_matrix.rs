//! Access control across the whole API, generated from the OpenAPI document: every
//! operation is sent without a credential, with an invalid one, with keys lacking its
//! scope (an unrelated scope, the read scope beside a write scope, the scope held only in
//! another organization) and with a key holding exactly its scope, and the answers are
//! checked against the requirement the operation publishes in `x-tfr-scope`.
//!
//! An operation without `x-tfr-scope`, with a form this suite does not know, or with a path
//! parameter it cannot fill fails the test: no route is left out.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};

use reqwest::Method;
use serde_json::{Value, json};
use tfr_tests::TestRegistry;
use tfr_tests::access::{
    Body, Call, Operation, Reply, Requirement, audit_total, bogus_key, expected_outcome,
    fetch_spec, newest_audit_rows, operations, request_id, unrelated_scope, weaker_sibling,
};
use tfr_tests::archives;
use tfr_tests::oidc::{OidcTestProvider, TestUser};
use tfr_tests::provider::{ProviderDist, TestSigningKey, generate_signing_key};
use tfr_tests::sso::{self, SignedIn};
use tokio::sync::Mutex;

const ADMIN_EMAIL: &str = "matrix-admin@example.com";
/// The namespace the fixtures are published into (in the default organization).
const NS: &str = "matrix";
/// An organization besides `default`, whose keys must not reach into `default`.
const ELSEWHERE: &str = "elsewhere";

/// A running registry with SSO, a signed-in global admin and the fixtures every operation
/// can point at.
struct World {
    reg: TestRegistry,
    _idp: OidcTestProvider,
    /// A system key with `admin:*`, for fixtures.
    admin: String,
    /// The bootstrap admin's session.
    user: SignedIn,
    /// A plain member's session (the default role, viewer): the user that the user
    /// administration routes act on, since acting on an admin needs admin scopes.
    member: SignedIn,
    /// A key owned by that user (`modules:read`): what `authenticated` operations get.
    user_key: String,
    /// A role template of `default` granting `organizations:read` only.
    template_id: String,
    signing: TestSigningKey,
    /// System keys by scope.
    system_keys: Mutex<HashMap<String, String>>,
    /// Keys of organization `elsewhere` by scope (`None`: such a key cannot be made).
    elsewhere_keys: Mutex<HashMap<String, Option<String>>>,
    counter: AtomicU32,
    /// Requests whose audit rows were not as expected.
    audit_problems: Mutex<Vec<String>>,
}

fn admin_user() -> TestUser {
    TestUser::new("matrix-admin")
        .email(ADMIN_EMAIL, true)
        .username("matrix-admin")
        .name("Matrix Admin")
}

fn member_user() -> TestUser {
    TestUser::new("matrix-member")
        .email("member@example.com", true)
        .username("matrix-member")
        .name("Matrix Member")
}

impl World {
    async fn start(postgres: bool) -> World {
        let idp = OidcTestProvider::start(sso::idp_options())
            .await
            .expect("start the OIDC test provider");
        let reg = TestRegistry::builder()
            .postgres_if(postgres)
            .configure(sso::configure(&idp, &[ADMIN_EMAIL]))
            .start()
            .await
            .expect("start tfr");
        let admin = reg.key_with_scopes("admin:*").await;
        let user = sso::sign_in(&reg, &idp, &admin_user())
            .await
            .expect("SSO sign-in");
        let member = sso::sign_in(&reg, &idp, &member_user())
            .await
            .expect("SSO sign-in of a plain member");
        let signing = generate_signing_key();
        let mut world = World {
            reg,
            _idp: idp,
            admin,
            user,
            member,
            user_key: String::new(),
            template_id: String::new(),
            signing,
            system_keys: Mutex::new(HashMap::new()),
            elsewhere_keys: Mutex::new(HashMap::new()),
            counter: AtomicU32::new(0),
            audit_problems: Mutex::new(Vec::new()),
        };
        let created = world.own_key("matrix user key", &["modules:read"]).await;
        world.user_key = created["secret"].as_str().expect("secret").to_string();
        // The plain member reads in `default` (viewer), nothing more.
        let member_path = format!(
            "/api/v1/admin/organizations/default/members/{}",
            world.member.user_id
        );
        world
            .ok(
                Call::new(Method::PUT, &member_path)
                    .json(json!({"role_template_id": "00000000-0000-7000-8000-000000000101"})),
                200,
            )
            .await;
        world.publish_module(NS, "1.0.0").await;
        world.publish_provider(NS, "1.0.0").await;
        let template = world
            .ok(
                Call::new(
                    Method::POST,
                    "/api/v1/admin/organizations/default/role-templates",
                )
                .json(json!({"name": "matrix-reader", "scopes": ["organizations:read"]})),
                201,
            )
            .await;
        world.template_id = template["id"].as_str().expect("template id").to_string();
        world
            .ok(
                Call::new(Method::POST, "/api/v1/admin/organizations")
                    .json(json!({"name": ELSEWHERE})),
                201,
            )
            .await;
        world
    }

    fn next(&self) -> u32 {
        self.counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Sends with the admin key and asserts `status`; returns the JSON body.
    async fn ok(&self, call: Call<'_>, status: u16) -> Value {
        let label = format!("{} {}", call.method, call.path);
        let reply = call.bearer(Some(&self.admin)).send(&self.reg).await;
        assert_eq!(reply.status, status, "fixture {label}: {}", reply.text);
        reply.json()
    }

    /// A key owned by the signed-in user (made with the session); the created-key JSON.
    async fn own_key(&self, name: &str, scopes: &[&str]) -> Value {
        let reply = Call::new(Method::POST, "/api/v1/keys")
            .bearer(Some(&self.user.token))
            .json(json!({"name": name, "scopes": scopes}))
            .send(&self.reg)
            .await;
        assert_eq!(reply.status, 201, "creating a user key: {}", reply.text);
        reply.json()
    }

    async fn publish_module(&self, ns: &str, version: &str) {
        let address = format!("{ns}/net/aws");
        let body = archives::module_tar_gz(&format!("{address} {version}"));
        let resp = self
            .reg
            .publish_module_with(&address, version, body, archives::GZIP, Some(&self.admin))
            .await;
        assert_eq!(
            resp.status().as_u16(),
            201,
            "publishing {address} {version}"
        );
    }

    fn provider_upload(&self, version: &str) -> tfr_tests::provider::ProviderUpload {
        ProviderDist::build(&self.signing, "fake", version, &[("linux", "amd64")]).upload()
    }

    async fn publish_provider(&self, ns: &str, version: &str) {
        let address = format!("{ns}/fake");
        let resp = self
            .reg
            .publish_provider_with(
                &address,
                version,
                &self.provider_upload(version),
                Some(&self.admin),
            )
            .await;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(status, 201, "publishing {address} {version}: {text}");
    }

    /// A system key holding exactly `scope`.
    async fn system_key(&self, scope: &str) -> String {
        let mut keys = self.system_keys.lock().await;
        if let Some(k) = keys.get(scope) {
            return k.clone();
        }
        let key = self.reg.key_with_scopes(scope).await;
        keys.insert(scope.to_string(), key.clone());
        key
    }

    /// A key of organization `elsewhere` holding `scope` there, if tfr lets one be made.
    async fn elsewhere_key(&self, scope: &str) -> Option<String> {
        let mut keys = self.elsewhere_keys.lock().await;
        if let Some(k) = keys.get(scope) {
            return k.clone();
        }
        let reply = Call::new(
            Method::POST,
            format!("/api/v1/admin/organizations/{ELSEWHERE}/api-keys"),
        )
        .bearer(Some(&self.admin))
        .json(json!({"name": format!("elsewhere {scope}"), "scopes": [scope]}))
        .send(&self.reg)
        .await;
        let key = (reply.status == 201)
            .then(|| reply.json()["secret"].as_str().expect("secret").to_string());
        keys.insert(scope.to_string(), key.clone());
        key
    }

    /// A fresh organization key of `default` (`organizations:read`); its id.
    async fn fresh_org_key(&self) -> String {
        let n = self.next();
        let created = self
            .ok(
                Call::new(Method::POST, "/api/v1/admin/organizations/default/api-keys").json(
                    json!({"name": format!("org key {n}"), "scopes": ["organizations:read"]}),
                ),
                201,
            )
            .await;
        created["key"]["id"].as_str().expect("key id").to_string()
    }

    /// A fresh key of the signed-in user (`modules:read`); its id.
    async fn fresh_user_key(&self) -> String {
        let n = self.next();
        let created = self
            .own_key(&format!("user key {n}"), &["modules:read"])
            .await;
        created["key"]["id"].as_str().expect("key id").to_string()
    }

    /// A fresh key of the plain member (`modules:read`); its id.
    async fn fresh_member_key(&self) -> String {
        let n = self.next();
        let reply = Call::new(Method::POST, "/api/v1/keys")
            .bearer(Some(&self.member.token))
            .json(json!({"name": format!("member key {n}"), "scopes": ["modules:read"]}))
            .send(&self.reg)
            .await;
        assert_eq!(reply.status, 201, "creating a member key: {}", reply.text);
        reply.json()["key"]["id"]
            .as_str()
            .expect("key id")
            .to_string()
    }

    /// A fresh role template of `default`; its id.
    async fn fresh_template(&self) -> String {
        let n = self.next();
        let created = self
            .ok(
                Call::new(
                    Method::POST,
                    "/api/v1/admin/organizations/default/role-templates",
                )
                .json(json!({"name": format!("tpl-{n}"), "scopes": ["organizations:read"]})),
                201,
            )
            .await;
        created["id"].as_str().expect("template id").to_string()
    }

    /// A fresh, empty organization; its name.
    async fn fresh_org(&self) -> String {
        let name = format!("doomed-{}", self.next());
        self.ok(
            Call::new(Method::POST, "/api/v1/admin/organizations").json(json!({"name": name})),
            201,
        )
        .await;
        name
    }

    /// The path and body to send for `op`: plausible values for every path parameter
    /// (fresh resources for operations that consume them) and a minimal valid body.
    async fn prepare(&self, op: &Operation) -> (String, Body) {
        let n = self.next();
        let mut v: BTreeMap<String, String> = [
            ("organization", "default"),
            ("namespace", NS),
            ("name", "net"),
            ("system", "aws"),
            ("version", "1.0.0"),
            ("type", "fake"),
            ("os", "linux"),
            ("arch", "amd64"),
            ("q", "net"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        v.insert("user".into(), self.user.user_id.clone());
        let m = &op.method;
        let p = op.path.as_str();
        let mut body = Body::None;
        if op
            .body_types
            .iter()
            .any(|t| t.starts_with("application/json"))
        {
            body = Body::Json(json!({}));
        }
        // Path parameters that name something made for this request.
        if p.starts_with("/api/v1/modules/") {
            let version = format!("{n}.0.0");
            if *m == Method::DELETE {
                self.publish_module(NS, &version).await;
            } else {
                let label = format!("{NS}/net/aws {version}");
                body = Body::Raw(archives::GZIP, archives::module_tar_gz(&label));
            }
            v.insert("version".into(), version);
        } else if p.starts_with("/api/v1/providers/") {
            let version = format!("{n}.0.0");
            if *m == Method::DELETE {
                self.publish_provider(NS, &version).await;
            } else {
                body = Body::Provider(self.provider_upload(&version));
            }
            v.insert("version".into(), version);
        } else if p == "/api/v1/admin/organizations/{organization}" && *m == Method::DELETE {
            v.insert("organization".into(), self.fresh_org().await);
        } else if p.starts_with("/api/v1/admin/organizations/{organization}/api-keys/{id}") {
            v.insert("id".into(), self.fresh_org_key().await);
        } else if p.starts_with("/api/v1/admin/organizations/{organization}/role-templates/{id}") {
            v.insert("id".into(), self.fresh_template().await);
        } else if p.starts_with("/api/v1/admin/users/{id}") {
            v.insert("id".into(), self.member.user_id.clone());
            if p.contains("{key}") {
                v.insert("key".into(), self.fresh_member_key().await);
            }
        } else if p.starts_with("/api/v1/keys/{id}") {
            v.insert("id".into(), self.fresh_user_key().await);
        }
        // Bodies: the smallest valid request, within what the key under test holds.
        let named = |what: &str| format!("{what}-{n}");
        match (m.as_str(), p) {
            ("POST", "/api/v1/admin/organizations") => {
                body = Body::Json(json!({"name": named("org")}));
            }
            ("PATCH", "/api/v1/admin/organizations/{organization}") => {
                body = Body::Json(json!({"display_name": "Default"}));
            }
            ("PUT", "/api/v1/admin/organizations/{organization}/members/{user}") => {
                body = Body::Json(json!({"role_template_id": self.template_id}));
            }
            ("POST", "/api/v1/admin/organizations/{organization}/role-templates")
            | ("PUT", "/api/v1/admin/organizations/{organization}/role-templates/{id}") => {
                body = Body::Json(json!({"name": named("tpl"), "scopes": ["organizations:read"]}));
            }
            ("POST", "/api/v1/admin/organizations/{organization}/namespaces") => {
                body = Body::Json(json!({"name": named("ns")}));
            }
            ("POST", "/api/v1/admin/organizations/{organization}/api-keys") => {
                body = Body::Json(json!({"name": named("key"), "scopes": ["organizations:read"]}));
            }
            ("PATCH", "/api/v1/admin/namespaces/{namespace}") => {
                body = Body::Json(json!({"public": false}));
            }
            ("POST", "/api/v1/keys") => {
                body = Body::Json(json!({"name": named("key"), "scopes": ["modules:read"]}));
            }
            ("POST", "/oauth/token") => {
                body = Body::Raw(
                    "application/x-www-form-urlencoded",
                    b"grant_type=authorization_code&code=bogus&client_id=terraform-cli&code_verifier=x&redirect_uri=http%3A%2F%2Flocalhost%3A10000%2Flogin".to_vec(),
                );
            }
            _ => {}
        }
        let unknown: Vec<String> = op
            .params()
            .into_iter()
            .filter(|name| !v.contains_key(name))
            .collect();
        assert!(
            unknown.is_empty(),
            "{}: this suite does not know how to fill {unknown:?}; add them to World::prepare",
            op.label()
        );
        (op.fill(&v), body)
    }

    /// Sends `op` as `bearer`; also checks that a mutation (or a sign-in) left exactly one
    /// audit row, with this request's id, status and outcome, and a read none.
    async fn send(&self, op: &Operation, bearer: Option<&str>) -> (String, Reply) {
        let (path, body) = self.prepare(op).await;
        let auditor = self.system_key("audit:read").await;
        let before = audit_total(&self.reg, &auditor).await;
        let rid = request_id("matrix");
        let reply = Call::new(op.method.clone(), &path)
            .bearer(bearer)
            .body(body)
            .request_id(&rid)
            .send(&self.reg)
            .await;
        let added = audit_total(&self.reg, &auditor)
            .await
            .saturating_sub(before);
        let rows = newest_audit_rows(&self.reg, &auditor, added).await;
        // The SSO callback is a GET that signs in: every attempt is audited (`auth.login`).
        let audited = op.is_mutation() || op.path == "/api/v1/auth/callback";
        let problem = if !audited {
            (added != 0).then(|| format!("a read left {added} audit rows: {rows:?}"))
        } else if added != 1 {
            Some(format!(
                "expected exactly one audit row, got {added}: {rows:?}"
            ))
        } else {
            let row = &rows[0];
            let outcome = expected_outcome(reply.status);
            (row["request_id"] != json!(rid)
                || row["status"] != json!(reply.status)
                || row["outcome"] != json!(outcome))
            .then(|| {
                format!(
                    "the audit row does not match the request ({rid}, {}, {outcome}): {row}",
                    reply.status
                )
            })
        };
        if let Some(problem) = problem {
            self.audit_problems.lock().await.push(format!(
                "{} ({path}, status {}): {problem}",
                op.label(),
                reply.status
            ));
        }
        (path, reply)
    }
}

/// A 401 the access layer answers (not a login that failed on its own terms).
fn access_refusal(reply: &Reply) -> bool {
    match reply.status {
        403 => true,
        401 => reply.message().contains("credential"),
        _ => false,
    }
}

/// One checked cell of the matrix.
struct Cell {
    who: String,
    status: u16,
}

#[derive(Default)]
struct Findings {
    failures: Vec<String>,
    rows: Vec<String>,
}

impl Findings {
    fn fail(&mut self, op: &Operation, who: &str, path: &str, expected: &str, reply: &Reply) {
        self.failures.push(format!(
            "{} [{}] as {who} ({path}): expected {expected}, got {} {}",
            op.label(),
            op.declared.as_deref().unwrap_or("-"),
            reply.status,
            reply.text.chars().take(300).collect::<String>()
        ));
    }
}

/// Mutations last (deletes at the very end), so reads see the fixtures as made.
fn run_order(op: &Operation) -> u8 {
    match op.method {
        Method::GET | Method::HEAD => 0,
        Method::DELETE => 2,
        _ => 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_operation_enforces_its_declared_requirement() {
    matrix(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_operation_enforces_its_declared_requirement_on_postgres() {
    matrix(true).await;
}

async fn matrix(postgres: bool) {
    let world = World::start(postgres).await;
    let spec = fetch_spec(&world.reg).await;
    let mut ops = operations(&spec);
    ops.sort_by_key(run_order);
    let mut findings = Findings::default();

    let missing: Vec<String> = ops
        .iter()
        .filter(|op| op.requirement().is_err())
        .map(|op| {
            op.requirement()
                .expect_err("filtered on errors")
                .to_string()
        })
        .collect();
    assert!(
        missing.is_empty(),
        "operations without a known x-tfr-scope: {missing:#?}"
    );
    let api_ops = ops
        .iter()
        .filter(|op| op.path.starts_with("/api/") || op.path.starts_with("/oauth/"))
        .count();
    assert!(api_ops >= 40, "only {api_ops} /api and /oauth operations");

    let mut checked = 0;
    let mut cells = 0;
    for op in &ops {
        let req = op.requirement().expect("checked above");
        let mut row: Vec<Cell> = Vec::new();

        // No credential.
        let (path, reply) = world.send(op, None).await;
        row.push(Cell {
            who: "none".into(),
            status: reply.status,
        });
        if req.needs_credential() {
            if reply.status != 401 {
                findings.fail(op, "no credential", &path, "401", &reply);
            } else if !reply
                .header("content-type")
                .is_some_and(|ct| ct.starts_with("application/json"))
            {
                findings.fail(op, "no credential", &path, "a JSON 401", &reply);
            }
        } else if access_refusal(&reply) {
            findings.fail(op, "no credential", &path, "no refusal (public)", &reply);
        }

        // An invalid credential: refused on every protected route, ignored on public ones.
        let bogus = bogus_key();
        let (path, reply) = world.send(op, Some(&bogus)).await;
        row.push(Cell {
            who: "invalid".into(),
            status: reply.status,
        });
        if req.needs_credential() {
            if reply.status != 401 {
                findings.fail(op, "an invalid key", &path, "401", &reply);
            }
        } else if access_refusal(&reply) {
            findings.fail(
                op,
                "an invalid key",
                &path,
                "the key ignored (public)",
                &reply,
            );
        }

        if let Some(scope) = req.scope() {
            // Keys lacking the scope.
            let mut lacking = vec![unrelated_scope(scope).to_string()];
            lacking.extend(weaker_sibling(scope));
            for other in lacking {
                let key = world.system_key(&other).await;
                let (path, reply) = world.send(op, Some(&key)).await;
                let who = format!("system key {other}");
                row.push(Cell {
                    who: other.clone(),
                    status: reply.status,
                });
                if req.refuses_other_scopes() {
                    if reply.status != 403 {
                        findings.fail(op, &who, &path, "403", &reply);
                    }
                } else if reply.is_refusal() {
                    findings.fail(op, &who, &path, "a filtered answer", &reply);
                }
            }
            // The scope, but only in another organization.
            match world.elsewhere_key(scope).await {
                Some(key) => {
                    let (path, reply) = world.send(op, Some(&key)).await;
                    let who = format!("{ELSEWHERE} key {scope}");
                    row.push(Cell {
                        who: format!("{ELSEWHERE}:{scope}"),
                        status: reply.status,
                    });
                    if req.refuses_other_scopes() {
                        if reply.status != 403 {
                            findings.fail(op, &who, &path, "403", &reply);
                        }
                    } else if reply.is_refusal() {
                        findings.fail(op, &who, &path, "a filtered answer", &reply);
                    }
                }
                None => row.push(Cell {
                    who: format!("{ELSEWHERE}:{scope}"),
                    status: 0,
                }),
            }
        }

        // A credential that holds the requirement.
        let holder = match &req {
            Requirement::Public => None,
            Requirement::Authenticated => Some(world.user_key.clone()),
            other => Some(world.system_key(other.scope().expect("a scope")).await),
        };
        let (path, reply) = world.send(op, holder.as_deref()).await;
        let who = match &req {
            Requirement::Public => "no credential (public)".to_string(),
            Requirement::Authenticated => "a user's key".to_string(),
            other => format!("system key {}", other.scope().unwrap_or_default()),
        };
        row.push(Cell {
            who: "holder".into(),
            status: reply.status,
        });
        let allowed = if req == Requirement::Public {
            !access_refusal(&reply)
        } else {
            !reply.is_refusal()
        };
        if !allowed {
            findings.fail(op, &who, &path, "neither 401 nor 403", &reply);
        }
        if reply.status >= 500 {
            findings.fail(op, &who, &path, "no server error", &reply);
        }

        checked += 1;
        cells += row.len();
        findings.rows.push(format!(
            "{:<7} {:<70} {:<75} {}",
            op.method.as_str(),
            op.path,
            op.declared.as_deref().unwrap_or("-"),
            row.iter()
                .map(|c| format!("{}={}", c.who, c.status))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    println!(
        "access matrix ({}): {checked} operations ({api_ops} under /api and /oauth), {cells} requests\n{}",
        if postgres { "PostgreSQL" } else { "SQLite" },
        findings.rows.join("\n")
    );
    assert_eq!(checked, ops.len());
    assert!(
        findings.failures.is_empty(),
        "{} of {cells} checks failed:\n{}",
        findings.failures.len(),
        findings.failures.join("\n")
    );
    let audit_problems = world.audit_problems.lock().await.clone();
    assert!(
        audit_problems.is_empty(),
        "{} of {cells} requests left unexpected audit rows:\n{}",
        audit_problems.len(),
        audit_problems.join("\n")
    );
    world.reg.shutdown().await;
}

/// The protocol reads (and listings), as a plain registry serves them: without anonymous
/// read they need a credential holding the read scope; with it they are open to anyone,
/// and nothing else is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_reads_with_and_without_anonymous_read() {
    for anonymous_read in [false, true] {
        let reg = TestRegistry::builder()
            .configure(move |s| s.auth.anonymous_read = anonymous_read)
            .start()
            .await
            .expect("start tfr");
        let admin = reg.key_with_scopes("admin:*").await;
        let body = archives::module_tar_gz("reads");
        let resp = reg
            .publish_module_with("reads/net/aws", "1.0.0", body, archives::GZIP, Some(&admin))
            .await;
        assert_eq!(resp.status().as_u16(), 201);
        let signing = generate_signing_key();
        let dist = ProviderDist::build(&signing, "fake", "1.0.0", &[("linux", "amd64")]);
        let resp = reg
            .publish_provider_with("reads/fake", "1.0.0", &dist.upload(), Some(&admin))
            .await;
        assert_eq!(resp.status().as_u16(), 201);
        let unrelated = reg.key_with_scopes("mirrors:read").await;
        let modules_read = reg.key_with_scopes("modules:read").await;
        let providers_read = reg.key_with_scopes("providers:read").await;

        let spec = fetch_spec(&reg).await;
        let values: BTreeMap<String, String> = [
            ("namespace", "reads"),
            ("name", "net"),
            ("system", "aws"),
            ("version", "1.0.0"),
            ("type", "fake"),
            ("os", "linux"),
            ("arch", "amd64"),
            ("organization", "default"),
            ("id", "00000000-0000-4000-8000-000000000000"),
            ("user", "00000000-0000-4000-8000-000000000000"),
            ("key", "00000000-0000-4000-8000-000000000000"),
            ("q", "net"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut failures = Vec::new();
        let mut reads = 0;
        for op in operations(&spec) {
            let req = op.requirement().expect("x-tfr-scope");
            let path = op.fill(&values);
            fn call_with<'a>(op: &Operation, path: &str, bearer: Option<&'a str>) -> Call<'a> {
                Call::new(op.method.clone(), path).bearer(bearer).body(
                    if op.body_types.is_empty() {
                        Body::None
                    } else {
                        Body::Json(json!({}))
                    },
                )
            }
            let call = |bearer| call_with(&op, &path, bearer);
            let mut expect = |who: &str, reply: &Reply, ok: bool, want: &str| {
                if !ok {
                    failures.push(format!(
                        "anonymous_read={anonymous_read}: {} as {who}: expected {want}, got {} {}",
                        op.label(),
                        reply.status,
                        reply.text.chars().take(200).collect::<String>()
                    ));
                }
            };
            match &req {
                Requirement::NamespaceRead(scope) | Requirement::Listing(scope) => {
                    reads += 1;
                    let holder = if scope == "providers:read" {
                        &providers_read
                    } else {
                        &modules_read
                    };
                    let anon = call(None).send(&reg).await;
                    let with_scope = call(Some(holder)).send(&reg).await;
                    let other = call(Some(&unrelated)).send(&reg).await;
                    expect(
                        "a key with the scope",
                        &with_scope,
                        (200..400).contains(&with_scope.status),
                        "success",
                    );
                    if anonymous_read {
                        expect(
                            "no credential",
                            &anon,
                            (200..400).contains(&anon.status),
                            "success",
                        );
                        expect(
                            "an unrelated key",
                            &other,
                            (200..400).contains(&other.status),
                            "success",
                        );
                    } else {
                        expect("no credential", &anon, anon.status == 401, "401");
                        let want = if matches!(req, Requirement::Listing(_)) {
                            (200..300).contains(&other.status)
                        } else {
                            other.status == 403
                        };
                        expect("an unrelated key", &other, want, "403 (200 for listings)");
                    }
                }
                // Anonymous read opens reads, nothing else.
                Requirement::Public => {}
                _ => {
                    let anon = call(None).send(&reg).await;
                    expect("no credential", &anon, anon.status == 401, "401");
                }
            }
        }
        assert_eq!(reads, 10, "protocol reads and listings in the document");
        assert!(failures.is_empty(), "{}", failures.join("\n"));

        // A listing without anonymous read shows only what the caller may read.
        let listing = Call::new(Method::GET, "/v1/modules")
            .bearer(Some(&unrelated))
            .send(&reg)
            .await;
        assert_eq!(listing.status, 200, "{}", listing.text);
        let shown = listing.text.contains("\"reads\"");
        assert_eq!(
            shown, anonymous_read,
            "a key without modules:read sees the private namespace only with anonymous read: {}",
            listing.text
        );
        reg.shutdown().await;
    }
}

/// A namespace marked public is readable without a credential even with anonymous read
/// off; its neighbours are not, and listings include it for everyone signed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_namespace_is_readable_anonymously() {
    let reg = TestRegistry::start().await.expect("start tfr");
    let admin = reg.key_with_scopes("admin:*").await;
    let signing = generate_signing_key();
    for ns in ["opened", "closed"] {
        let body = archives::module_tar_gz(ns);
        let resp = reg
            .publish_module_with(
                &format!("{ns}/net/aws"),
                "1.0.0",
                body,
                archives::GZIP,
                Some(&admin),
            )
            .await;
        assert_eq!(resp.status().as_u16(), 201);
        let dist = ProviderDist::build(&signing, "fake", "1.0.0", &[("linux", "amd64")]);
        let resp = reg
            .publish_provider_with(&format!("{ns}/fake"), "1.0.0", &dist.upload(), Some(&admin))
            .await;
        assert_eq!(resp.status().as_u16(), 201);
    }
    // Making it public needs organizations:write in its organization.
    let publisher = reg.key_with_scopes("modules:write").await;
    let patch = |key: Option<&str>| {
        let key = key.map(str::to_string);
        let reg = &reg;
        async move {
            Call::new(Method::PATCH, "/api/v1/admin/namespaces/opened")
                .bearer(key.as_deref())
                .json(json!({"public": true}))
                .send(reg)
                .await
        }
    };
    assert_eq!(patch(None).await.status, 401);
    assert_eq!(patch(Some(&publisher)).await.status, 403);
    let done = patch(Some(&admin)).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.json()["public"], json!(true), "{}", done.text);

    let spec = fetch_spec(&reg).await;
    let mut failures = Vec::new();
    let mut reads = 0;
    for op in operations(&spec) {
        if !matches!(op.requirement(), Ok(Requirement::NamespaceRead(_))) {
            continue;
        }
        reads += 1;
        for (ns, open) in [("opened", true), ("closed", false)] {
            let values: BTreeMap<String, String> = [
                ("namespace", ns),
                ("name", "net"),
                ("system", "aws"),
                ("version", "1.0.0"),
                ("type", "fake"),
                ("os", "linux"),
                ("arch", "amd64"),
                ("q", "net"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let path = op.fill(&values);
            let reply = Call::new(op.method.clone(), &path).send(&reg).await;
            let ok = if open {
                (200..400).contains(&reply.status)
            } else {
                reply.status == 401
            };
            if !ok {
                failures.push(format!(
                    "{path} anonymously: expected {}, got {} {}",
                    if open { "success" } else { "401" },
                    reply.status,
                    reply.text
                ));
            }
        }
    }
    assert_eq!(reads, 8, "protocol reads in the document");
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Public is about reading: writes still need the scope.
    let reader = reg.key_with_scopes("modules:read").await;
    for (bearer, status) in [(None, 401), (Some(reader.as_str()), 403)] {
        let publish = Call::new(Method::POST, "/api/v1/modules/opened/net/aws/2.0.0")
            .bearer(bearer)
            .body(Body::Raw(archives::GZIP, archives::module_tar_gz("nope")))
            .send(&reg)
            .await;
        assert_eq!(publish.status, status, "{}", publish.text);
        let delete = Call::new(Method::DELETE, "/api/v1/modules/opened/net/aws/1.0.0")
            .bearer(bearer)
            .send(&reg)
            .await;
        assert_eq!(delete.status, status, "{}", delete.text);
        let close = Call::new(Method::PATCH, "/api/v1/admin/namespaces/opened")
            .bearer(bearer)
            .json(json!({"public": false}))
            .send(&reg)
            .await;
        assert_eq!(close.status, status, "{}", close.text);
    }

    // Listings still need a credential; signed in without modules:read, one sees the public
    // namespace only.
    let anon = Call::new(Method::GET, "/v1/modules").send(&reg).await;
    assert_eq!(anon.status, 401, "{}", anon.text);
    let unrelated = reg.key_with_scopes("mirrors:read").await;
    let listing = Call::new(Method::GET, "/v1/modules")
        .bearer(Some(&unrelated))
        .send(&reg)
        .await;
    assert_eq!(listing.status, 200, "{}", listing.text);
    assert!(listing.text.contains("\"opened\""), "{}", listing.text);
    assert!(!listing.text.contains("\"closed\""), "{}", listing.text);
    reg.shutdown().await;
}

/// Name -> id of the role templates visible to `key`.
async fn templates(reg: &TestRegistry, key: &str) -> BTreeMap<String, String> {
    let reply = Call::new(Method::GET, "/api/v1/admin/role-templates")
        .bearer(Some(key))
        .send(reg)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply
        .json()
        .as_array()
        .expect("templates")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().expect("name").to_string(),
                t["id"].as_str().expect("id").to_string(),
            )
        })
        .collect()
}

/// Sends and asserts the status; returns the reply.
async fn expect(reg: &TestRegistry, call: Call<'_>, status: u16, why: &str) -> Reply {
    let label = format!("{} {}", call.method, call.path);
    let reply = call.send(reg).await;
    assert_eq!(
        reply.status, status,
        "{why}: {label} answered {}: {}",
        reply.status, reply.text
    );
    reply
}

/// Nobody hands out, keeps or reaches more than they hold: keys stay within their owner's
/// current grants, organization managers stay inside their organization and below their
/// own role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_gets_more_than_they_hold() {
    let world = World::start(false).await;
    let reg = &world.reg;
    let admin = world.admin.as_str();
    let system = templates(reg, admin).await;
    let publisher = system["publisher"].clone();
    let admin_role = system["admin"].clone();

    // Bob signs in holding nothing.
    let bob = sso::sign_in(
        reg,
        &world._idp,
        &TestUser::new("bob")
            .email("bob@example.com", true)
            .username("bob"),
    )
    .await
    .expect("bob signs in");
    let bob_s = Some(bob.token.as_str());
    let me = expect(
        reg,
        Call::new(Method::GET, "/api/v1/auth/me").bearer(bob_s),
        200,
        "me",
    )
    .await;
    assert_eq!(me.json()["global_scopes"], json!([]), "{}", me.text);
    assert_eq!(me.json()["organizations"], json!([]), "{}", me.text);
    expect(
        reg,
        Call::new(Method::POST, "/api/v1/keys")
            .bearer(bob_s)
            .json(json!({"name": "nothing", "scopes": ["modules:read"]})),
        403,
        "a key with a scope its owner lacks",
    )
    .await;
    expect(
        reg,
        Call::new(Method::GET, format!("/v1/modules/{NS}/net/aws/versions")).bearer(bob_s),
        403,
        "a read without the scope",
    )
    .await;

    // Made a publisher in default, Bob makes a key and publishes with it.
    let bob_member = format!(
        "/api/v1/admin/organizations/default/members/{}",
        bob.user_id
    );
    expect(
        reg,
        Call::new(Method::PUT, &bob_member)
            .bearer(Some(admin))
            .json(json!({"role_template_id": publisher})),
        200,
        "making bob a publisher",
    )
    .await;
    let created = expect(
        reg,
        Call::new(Method::POST, "/api/v1/keys")
            .bearer(bob_s)
            .json(json!({"name": "bob ci", "scopes": ["modules:write"]})),
        201,
        "a key within bob's role",
    )
    .await;
    let bob_key = created.json()["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let k = Some(bob_key.as_str());
    let publish = |version: &str| {
        Call::new(
            Method::POST,
            format!("/api/v1/modules/bobns/net/aws/{version}"),
        )
        .bearer(k)
        .body(Body::Raw(
            archives::GZIP,
            archives::module_tar_gz(&format!("bob {version}")),
        ))
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
        expect(
            reg,
            Call::new(Method::POST, "/api/v1/keys")
                .bearer(k)
                .json(json!({"name": "more", "scopes": scopes})),
            403,
            why,
        )
        .await;
    }
    for bearer in [k, bob_s] {
        expect(
            reg,
            Call::new(Method::PUT, &bob_member)
                .bearer(bearer)
                .json(json!({"role_template_id": admin_role})),
            403,
            "bob making himself admin",
        )
        .await;
    }
    expect(
        reg,
        Call::new(
            Method::POST,
            "/api/v1/admin/organizations/default/role-templates",
        )
        .bearer(bob_s)
        .json(json!({"name": "root", "scopes": ["admin:*"]})),
        403,
        "bob making an all-powerful template",
    )
    .await;
    // The key follows its owner's current role: removed from default, it cannot publish
    // or read there; restored, it can again; the owner disabled, it is not a credential.
    expect(
        reg,
        Call::new(Method::DELETE, &bob_member).bearer(Some(admin)),
        204,
        "removing bob",
    )
    .await;
    expect(
        reg,
        publish("1.1.0"),
        403,
        "a key whose owner lost the scope",
    )
    .await;
    expect(
        reg,
        Call::new(Method::GET, "/v1/modules/bobns/net/aws/versions").bearer(k),
        403,
        "a read by a key whose owner lost the scope",
    )
    .await;
    expect(
        reg,
        Call::new(Method::PUT, &bob_member)
            .bearer(Some(admin))
            .json(json!({"role_template_id": publisher})),
        200,
        "restoring bob",
    )
    .await;
    expect(reg, publish("1.1.0"), 201, "the key, its owner restored").await;
    let bob_user = format!("/api/v1/admin/users/{}", bob.user_id);
    expect(
        reg,
        Call::new(Method::PATCH, &bob_user)
            .bearer(Some(admin))
            .json(json!({"disabled": true})),
        200,
        "disabling bob",
    )
    .await;
    for bearer in [k, bob_s] {
        expect(
            reg,
            Call::new(Method::GET, "/api/v1/auth/me").bearer(bearer),
            401,
            "a disabled user's credential",
        )
        .await;
    }

    // Carol manages organization team, and nothing else.
    expect(
        reg,
        Call::new(Method::POST, "/api/v1/admin/organizations")
            .bearer(Some(admin))
            .json(json!({"name": "team"})),
        201,
        "team",
    )
    .await;
    let manager = expect(
        reg,
        Call::new(
            Method::POST,
            "/api/v1/admin/organizations/team/role-templates",
        )
        .bearer(Some(admin))
        .json(json!({"name": "manager", "scopes": ["organizations:write"]})),
        201,
        "the manager template",
    )
    .await
    .json()["id"]
        .as_str()
        .expect("id")
        .to_string();
    expect(
        reg,
        Call::new(Method::POST, "/api/v1/admin/organizations/team/namespaces")
            .bearer(Some(admin))
            .json(json!({"name": "teamns"})),
        201,
        "teamns",
    )
    .await;
    world.publish_module("teamns", "1.0.0").await;
    let carol = sso::sign_in(
        reg,
        &world._idp,
        &TestUser::new("carol")
            .email("carol@example.com", true)
            .username("carol"),
    )
    .await
    .expect("carol signs in");
    let c = Some(carol.token.as_str());
    let carol_member = format!("/api/v1/admin/organizations/team/members/{}", carol.user_id);
    expect(
        reg,
        Call::new(Method::PUT, &carol_member)
            .bearer(Some(admin))
            .json(json!({"role_template_id": manager})),
        200,
        "making carol team's manager",
    )
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
        let mut call = Call::new(method, path).bearer(c);
        if !body.is_null() {
            call = call.json(body);
        }
        expect(reg, call, 403, why).await;
    }
    let publish_team = Call::new(Method::POST, "/api/v1/modules/teamns/net/aws/9.0.0")
        .bearer(c)
        .body(Body::Raw(archives::GZIP, archives::module_tar_gz("carol")));
    expect(reg, publish_team, 403, "publishing without modules:write").await;
    // What she holds she may use and hand out.
    expect(
        reg,
        Call::new(Method::GET, "/api/v1/admin/organizations/team").bearer(c),
        200,
        "her organization",
    )
    .await;
    expect(
        reg,
        Call::new(Method::PUT, &bob_in_team)
            .bearer(c)
            .json(json!({"role_template_id": manager})),
        200,
        "granting her own role",
    )
    .await;
    expect(
        reg,
        Call::new(Method::DELETE, &bob_in_team).bearer(c),
        204,
        "removing a member she outranks",
    )
    .await;
    let team_key = expect(
        reg,
        Call::new(Method::POST, "/api/v1/admin/organizations/team/api-keys")
            .bearer(c)
            .json(json!({"name": "reader", "scopes": ["organizations:read"]})),
        201,
        "an organization key within her role",
    )
    .await;
    assert!(team_key.json()["secret"].is_string());
    expect(
        reg,
        Call::new(Method::POST, "/api/v1/keys")
            .bearer(c)
            .json(json!({"name": "k", "scopes": ["organizations:write"]})),
        201,
        "a key of her own within her role",
    )
    .await;

    // An organization's read key lists its own namespaces only.
    let reader = expect(
        reg,
        Call::new(Method::POST, "/api/v1/admin/organizations/team/api-keys")
            .bearer(Some(admin))
            .json(json!({"name": "team reader", "scopes": ["modules:read"]})),
        201,
        "a team read key",
    )
    .await
    .json()["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    for path in ["/v1/modules", "/v1/modules/search?q=net"] {
        let listing = expect(
            reg,
            Call::new(Method::GET, path).bearer(Some(&reader)),
            200,
            "a listing",
        )
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
    let user_admin = world.system_key("users:write").await;
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
        expect(
            reg,
            Call::new(Method::PATCH, &target)
                .bearer(Some(&user_admin))
                .json(body),
            403,
            why,
        )
        .await;
    }
    expect(
        reg,
        Call::new(Method::GET, "/api/v1/admin/users").bearer(Some(&world.user.token)),
        200,
        "the admin is still an admin",
    )
    .await;
    world.reg.shutdown().await;
}

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
    let resp = reg
        .publish_module_with(
            &format!("{NS}/net/aws"),
            "1.0.0",
            archives::module_tar_gz("variants"),
            archives::GZIP,
            Some(&admin),
        )
        .await;
    assert_eq!(resp.status().as_u16(), 201);
    let spec = fetch_spec(&reg).await;
    let uuid = "00000000-0000-4000-8000-000000000000";
    let values: BTreeMap<String, String> = [
        ("organization", "default"),
        ("namespace", NS),
        ("name", "net"),
        ("system", "aws"),
        ("version", "1.0.0"),
        ("type", "fake"),
        ("os", "linux"),
        ("arch", "amd64"),
        ("id", uuid),
        ("user", uuid),
        ("key", uuid),
        ("q", "net"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
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
    let create = |body: Value| {
        let admin = admin.clone();
        let reg = &reg;
        async move {
            let reply = Call::new(Method::POST, "/api/v1/admin/organizations/default/api-keys")
                .bearer(Some(&admin))
                .json(body)
                .send(reg)
                .await;
            assert_eq!(reply.status, 201, "{}", reply.text);
            let json = reply.json();
            (
                json["key"]["id"].as_str().expect("id").to_string(),
                json["secret"].as_str().expect("secret").to_string(),
            )
        }
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
    let base = "/api/v1/admin/organizations/default/api-keys";
    let done = Call::new(Method::DELETE, format!("{base}/{revoked_id}"))
        .bearer(Some(&admin))
        .send(&reg)
        .await;
    assert_eq!(done.status, 204, "{}", done.text);
    assert_eq!(me(revoked.clone()).await, 401, "a revoked key, at once");
    let done = Call::new(Method::POST, format!("{base}/{rotated_id}/rotate"))
        .bearer(Some(&admin))
        .send(&reg)
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    let new_secret = done.json()["secret"].as_str().expect("secret").to_string();
    assert_eq!(me(rotated.clone()).await, 401, "a rotated key's old secret");
    assert_eq!(me(new_secret).await, 200, "its new secret");
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert_eq!(me(expiring).await, 401, "an expired key");
    reg.shutdown().await;
}
