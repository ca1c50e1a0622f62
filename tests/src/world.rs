//! Fixtures shared by the access and audit tests: a registry with SSO turned on and a
//! signed-in global admin ([`SsoWorld`]), and small request helpers that assert a status
//! with context ([`expect`], [`Caller`]) or publish fixtures and assert they were made.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::Value;

use crate::access::{Body, Call, Reply};
use crate::archives;
use crate::harness::TestRegistry;
use crate::oidc::{OidcTestProvider, TestUser};
use crate::provider::{ProviderDist, ProviderUpload, TestSigningKey};
use crate::sso::{self, SignedIn};

/// A running registry with OIDC sign-in, a system key with `admin:*` and a user signed in
/// through SSO as a bootstrap (global) admin.
pub struct SsoWorld {
    pub reg: TestRegistry,
    pub idp: OidcTestProvider,
    /// A system key with `admin:*`.
    pub admin: String,
    /// The bootstrap admin's session.
    pub user: SignedIn,
}

impl SsoWorld {
    /// Starts the provider and tfr (on PostgreSQL if `postgres`), makes the admin key and
    /// signs `admin_user` in; its (verified) email makes it a global admin.
    pub async fn start(postgres: bool, admin_user: &TestUser) -> SsoWorld {
        let email = admin_user
            .email
            .clone()
            .expect("the admin user has an email");
        let idp = OidcTestProvider::start(sso::idp_options())
            .await
            .expect("start the OIDC test provider");
        let reg = TestRegistry::builder()
            .postgres_if(postgres)
            .configure(sso::configure(&idp, &[email.as_str()]))
            .start()
            .await
            .expect("start tfr");
        let admin = reg.key_with_scopes("admin:*").await;
        let user = sso::sign_in(&reg, &idp, admin_user)
            .await
            .expect("SSO sign-in");
        SsoWorld {
            reg,
            idp,
            admin,
            user,
        }
    }

    /// Signs another user in (holding whatever tfr gives a new user: nothing here).
    pub async fn sign_in(&self, user: &TestUser) -> SignedIn {
        sso::sign_in(&self.reg, &self.idp, user)
            .await
            .unwrap_or_else(|e| panic!("SSO sign-in of {}: {e}", user.sub))
    }

    /// Requests made with the admin key.
    pub fn as_admin(&self) -> Caller<'_> {
        Caller::new(&self.reg, Some(&self.admin))
    }
}

/// Sends `call` and asserts its status, saying `why` and what was sent; returns the reply.
pub async fn expect(reg: &TestRegistry, call: Call<'_>, status: u16, why: &str) -> Reply {
    let label = format!("{} {}", call.method, call.path);
    let reply = call.send(reg).await;
    assert_eq!(
        reply.status, status,
        "{why}: {label} answered {}: {}",
        reply.status, reply.text
    );
    reply
}

/// One credential (or none) against one registry.
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    pub reg: &'a TestRegistry,
    pub bearer: Option<&'a str>,
}

impl<'a> Caller<'a> {
    pub fn new(reg: &'a TestRegistry, bearer: Option<&'a str>) -> Self {
        Self { reg, bearer }
    }

    /// A request with this credential.
    pub fn call(&self, method: Method, path: impl Into<String>) -> Call<'a> {
        Call::new(method, path).bearer(self.bearer)
    }

    /// Sends `method path` (with `body` as JSON unless it is `null`) and asserts `status`.
    pub async fn expect(
        &self,
        method: Method,
        path: impl Into<String>,
        body: Value,
        status: u16,
        why: &str,
    ) -> Reply {
        let mut call = self.call(method, path);
        if !body.is_null() {
            call = call.json(body);
        }
        expect(self.reg, call, status, why).await
    }
}

/// The string at JSON `pointer` (`/key/id`) of a reply, which must be there.
pub fn str_at(reply: &Reply, pointer: &str) -> String {
    let json = reply.json();
    json.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {}", reply.text))
        .to_string()
}

/// The id of the key `secret` (as `GET /api/v1/auth/me` names it).
pub async fn key_id(reg: &TestRegistry, secret: &str) -> String {
    let me = Caller::new(reg, Some(secret))
        .expect(Method::GET, "/api/v1/auth/me", Value::Null, 200, "whoami")
        .await;
    str_at(&me, "/key_id")
}

/// Name -> id of the role templates visible to `key`.
pub async fn templates(reg: &TestRegistry, key: &str) -> BTreeMap<String, String> {
    let reply = Caller::new(reg, Some(key))
        .expect(
            Method::GET,
            "/api/v1/admin/role-templates",
            Value::Null,
            200,
            "role templates",
        )
        .await;
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

/// Publishes the sample module at `address` (`ns/name/system`) with `key`; asserts 201.
pub async fn publish_module_ok(reg: &TestRegistry, address: &str, version: &str, key: &str) {
    let body = archives::module_tar_gz(&format!("{address} {version}"));
    let call = Call::new(Method::POST, format!("/api/v1/modules/{address}/{version}"))
        .bearer(Some(key))
        .body(Body::Raw(archives::GZIP, body));
    expect(reg, call, 201, "publishing a module").await;
}

/// A provider `fake` for linux/amd64, signed with `signing`.
pub fn fake_provider(signing: &TestSigningKey, version: &str) -> ProviderUpload {
    ProviderDist::build(signing, "fake", version, &[("linux", "amd64")]).upload()
}

/// Publishes provider `{ns}/fake` (see [`fake_provider`]) with `key`; asserts 201.
pub async fn publish_provider_ok(
    reg: &TestRegistry,
    signing: &TestSigningKey,
    ns: &str,
    version: &str,
    key: &str,
) {
    let call = Call::new(
        Method::POST,
        format!("/api/v1/providers/{ns}/fake/{version}"),
    )
    .bearer(Some(key))
    .body(Body::Provider(fake_provider(signing, version)));
    expect(reg, call, 201, "publishing a provider").await;
}

/// Path parameter values, from pairs.
pub fn path_values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Values for every path parameter of the protocol routes, for namespace `ns` (version
/// 1.0.0, provider `fake` on linux/amd64, organization `default`, ids that name nothing).
pub fn protocol_values(ns: &str) -> BTreeMap<String, String> {
    let uuid = "00000000-0000-4000-8000-000000000000";
    path_values(&[
        ("organization", "default"),
        ("namespace", ns),
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
        // the Provider Network Mirror Protocol: the provider's origin host and the
        // document (archives, `*.zip`, are public behind their signed link)
        ("hostname", "registry.terraform.io"),
        ("file", "index.json"),
    ])
}
