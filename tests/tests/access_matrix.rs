//! Access control across the whole API, generated from the OpenAPI document: every
//! operation is sent without a credential, with an invalid one, with keys lacking its
//! scope (an unrelated scope, the read scope beside a write scope, the scope held only in
//! another organization) and with a key holding exactly its scope, and the answers are
//! checked against the requirement the operation publishes in `x-tfr-scope`. Each request
//! is also checked against the audit log: a mutation leaves exactly one row, a read none.
//!
//! An operation without `x-tfr-scope`, with a form this suite does not know, or with a path
//! parameter it cannot fill fails the test: no route is left out.
//!
//! (Escalation between users and organizations: `access_escalation.rs`; anonymous and
//! public reads: `access_reads.rs`; path spellings and dead keys: `access_bypass.rs`.)

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, Ordering};

use reqwest::Method;
use serde_json::{Value, json};
use tfr_tests::access::{
    Body, Call, Operation, Reply, Requirement, audit_total, bogus_key, expected_outcome,
    fetch_spec, newest_audit_rows, operations, request_id, unrelated_scope, weaker_sibling,
};
use tfr_tests::archives;
use tfr_tests::oidc::TestUser;
use tfr_tests::provider::{TestSigningKey, generate_signing_key};
use tfr_tests::sso::SignedIn;
use tfr_tests::world::{
    Caller, SsoWorld, fake_provider, protocol_values, publish_module_ok, publish_provider_ok,
    str_at,
};
use tokio::sync::Mutex;

/// The namespace the fixtures are published into (in the default organization).
const NS: &str = "matrix";
/// An organization besides `default`, whose keys must not reach into `default`.
const ELSEWHERE: &str = "elsewhere";
/// The built-in `viewer` role template.
const VIEWER: &str = "00000000-0000-7000-8000-000000000101";

/// A running registry with SSO, a signed-in global admin and the fixtures every operation
/// can point at.
struct World {
    base: SsoWorld,
    /// A plain member's session (the default role, viewer): the user that the user
    /// administration routes act on, since acting on an admin needs admin scopes.
    member: SignedIn,
    /// A key owned by the admin user (`modules:read`): what `authenticated` operations get.
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

impl Deref for World {
    type Target = SsoWorld;
    fn deref(&self) -> &SsoWorld {
        &self.base
    }
}

impl World {
    async fn start(postgres: bool) -> World {
        let admin = TestUser::new("matrix-admin")
            .email("matrix-admin@example.com", true)
            .username("matrix-admin")
            .name("Matrix Admin");
        let base = SsoWorld::start(postgres, &admin).await;
        let member = base
            .sign_in(
                &TestUser::new("matrix-member")
                    .email("member@example.com", true)
                    .username("matrix-member")
                    .name("Matrix Member"),
            )
            .await;
        let mut world = World {
            base,
            member,
            user_key: String::new(),
            template_id: String::new(),
            signing: generate_signing_key(),
            system_keys: Mutex::new(HashMap::new()),
            elsewhere_keys: Mutex::new(HashMap::new()),
            counter: AtomicU32::new(0),
            audit_problems: Mutex::new(Vec::new()),
        };
        let created = world.own_key("matrix user key", &["modules:read"]).await;
        world.user_key = str_at(&created, "/secret");
        // The plain member reads in `default` (viewer), nothing more.
        let member_path = format!(
            "/api/v1/admin/organizations/default/members/{}",
            world.member.user_id
        );
        world
            .fixture(
                Method::PUT,
                &member_path,
                json!({"role_template_id": VIEWER}),
                200,
            )
            .await;
        world.publish_module(NS, "1.0.0").await;
        world.publish_provider(NS, "1.0.0").await;
        world.template_id = world.fresh_template("matrix-reader").await;
        world
            .fixture(
                Method::POST,
                "/api/v1/admin/organizations",
                json!({"name": ELSEWHERE}),
                201,
            )
            .await;
        world
    }

    fn next(&self) -> u32 {
        self.counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Sends with the admin key (`body` as JSON unless `null`) and asserts `status`.
    async fn fixture(&self, method: Method, path: &str, body: Value, status: u16) -> Reply {
        self.as_admin()
            .expect(method, path, body, status, "fixture")
            .await
    }

    /// A key owned by `session`'s user, made with that session: the created-key reply.
    async fn key_of(&self, session: &SignedIn, name: &str, scopes: &[&str]) -> Reply {
        Caller::new(&self.reg, Some(&session.token))
            .expect(
                Method::POST,
                "/api/v1/keys",
                json!({"name": name, "scopes": scopes}),
                201,
                "creating a user key",
            )
            .await
    }

    /// A key owned by the signed-in admin user; the created-key reply.
    async fn own_key(&self, name: &str, scopes: &[&str]) -> Reply {
        self.key_of(&self.user, name, scopes).await
    }

    async fn publish_module(&self, ns: &str, version: &str) {
        publish_module_ok(&self.reg, &format!("{ns}/net/aws"), version, &self.admin).await;
    }

    async fn publish_provider(&self, ns: &str, version: &str) {
        publish_provider_ok(&self.reg, &self.signing, ns, version, &self.admin).await;
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
        let reply = self
            .as_admin()
            .call(
                Method::POST,
                format!("/api/v1/admin/organizations/{ELSEWHERE}/api-keys"),
            )
            .json(json!({"name": format!("elsewhere {scope}"), "scopes": [scope]}))
            .send(&self.reg)
            .await;
        let key = (reply.status == 201).then(|| str_at(&reply, "/secret"));
        keys.insert(scope.to_string(), key.clone());
        key
    }

    /// A fresh organization key of `default` (`organizations:read`); its id.
    async fn fresh_org_key(&self) -> String {
        let n = self.next();
        let body = json!({"name": format!("org key {n}"), "scopes": ["organizations:read"]});
        let path = "/api/v1/admin/organizations/default/api-keys";
        str_at(
            &self.fixture(Method::POST, path, body, 201).await,
            "/key/id",
        )
    }

    /// A fresh key of the signed-in user (`modules:read`); its id.
    async fn fresh_user_key(&self) -> String {
        let name = format!("user key {}", self.next());
        str_at(&self.own_key(&name, &["modules:read"]).await, "/key/id")
    }

    /// A fresh key of the plain member (`modules:read`); its id.
    async fn fresh_member_key(&self) -> String {
        let name = format!("member key {}", self.next());
        let created = self.key_of(&self.member, &name, &["modules:read"]).await;
        str_at(&created, "/key/id")
    }

    /// A fresh role template of `default` granting `organizations:read`; its id.
    async fn fresh_template(&self, name: &str) -> String {
        let path = "/api/v1/admin/organizations/default/role-templates";
        let body = json!({"name": name, "scopes": ["organizations:read"]});
        str_at(&self.fixture(Method::POST, path, body, 201).await, "/id")
    }

    /// A fresh mirror configuration; its id. Disabled and answering for a hostname no
    /// request names, with no sync targets: nothing in the matrix reaches an upstream.
    async fn fresh_mirror(&self) -> String {
        let body = mirror_body(&format!("matrix-{}", self.next()));
        str_at(
            &self
                .fixture(Method::POST, "/api/v1/admin/mirrors", body, 201)
                .await,
            "/id",
        )
    }

    /// A fresh, empty organization; its name.
    async fn fresh_org(&self) -> String {
        let name = format!("doomed-{}", self.next());
        let path = "/api/v1/admin/organizations";
        self.fixture(Method::POST, path, json!({"name": name}), 201)
            .await;
        name
    }

    /// The path and body to send for `op`: plausible values for every path parameter
    /// (fresh resources for operations that consume them) and a minimal valid body.
    async fn prepare(&self, op: &Operation) -> (String, Body) {
        let n = self.next();
        // Ids are filled only where a fresh resource is made below: an unknown `{id}` fails.
        let mut v = protocol_values(NS);
        v.remove("id");
        v.remove("key");
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
                body = Body::Provider(fake_provider(&self.signing, &version));
            }
            v.insert("version".into(), version);
        } else if p == "/api/v1/admin/organizations/{organization}" && *m == Method::DELETE {
            v.insert("organization".into(), self.fresh_org().await);
        } else if p.starts_with("/api/v1/admin/organizations/{organization}/api-keys/{id}") {
            v.insert("id".into(), self.fresh_org_key().await);
        } else if p.starts_with("/api/v1/admin/organizations/{organization}/role-templates/{id}") {
            let name = format!("tpl-{}", self.next());
            v.insert("id".into(), self.fresh_template(&name).await);
        } else if p.starts_with("/api/v1/admin/users/{id}") {
            v.insert("id".into(), self.member.user_id.clone());
            if p.contains("{key}") {
                v.insert("key".into(), self.fresh_member_key().await);
            }
        } else if p.starts_with("/api/v1/keys/{id}") {
            v.insert("id".into(), self.fresh_user_key().await);
        } else if p.starts_with("/api/v1/admin/mirrors/{id}") {
            v.insert("id".into(), self.fresh_mirror().await);
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
            ("POST", "/api/v1/admin/mirrors") | ("PUT", "/api/v1/admin/mirrors/{id}") => {
                body = Body::Json(mirror_body(&named("mirror")));
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

/// A mirror configuration that serves nothing the matrix asks for and syncs nothing.
fn mirror_body(name: &str) -> Value {
    json!({
        "name": name,
        "upstream": "upstream.matrix.invalid",
        "hostnames": ["mirror.matrix.invalid"],
        "enabled": false,
    })
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

impl Cell {
    fn new(who: &str, reply: &Reply) -> Self {
        Cell {
            who: who.to_string(),
            status: reply.status,
        }
    }
}

impl Findings {
    /// A key lacking `req`'s scope: refused with 403 where other scopes are refused, and
    /// otherwise answered (filtered), never refused.
    fn lacking(&mut self, op: &Operation, req: &Requirement, who: &str, path: &str, reply: &Reply) {
        if req.refuses_other_scopes() {
            if reply.status != 403 {
                self.fail(op, who, path, "403", reply);
            }
        } else if reply.is_refusal() {
            self.fail(op, who, path, "a filtered answer", reply);
        }
    }

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
        row.push(Cell::new("none", &reply));
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
        row.push(Cell::new("invalid", &reply));
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
                row.push(Cell::new(&other, &reply));
                findings.lacking(op, &req, &format!("system key {other}"), &path, &reply);
            }
            // The scope, but only in another organization: enough where any organization
            // will do, refused (or filtered) elsewhere.
            match world.elsewhere_key(scope).await {
                Some(key) => {
                    let (path, reply) = world.send(op, Some(&key)).await;
                    row.push(Cell::new(&format!("{ELSEWHERE}:{scope}"), &reply));
                    let who = format!("{ELSEWHERE} key {scope}");
                    if !req.held_in_any_organization() {
                        findings.lacking(op, &req, &who, &path, &reply);
                    } else if reply.is_refusal() || reply.status >= 500 {
                        findings.fail(op, &who, &path, "neither a refusal nor an error", &reply);
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
        row.push(Cell::new("holder", &reply));
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
    world.base.reg.shutdown().await;
}
