//! The application state over the testkit fakes, shared by the HTTP test files.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use poem::http::StatusCode;
use poem::test::{TestClient, TestResponse};
use tfr_core::{ArchiveLimits, Scope, ScopeSet};
use tfr_http::{AppState, WebSettings, build};
use tfr_ports::driven::{
    ADMIN_TEMPLATE_ID, BlobStore, Clock, DatabaseHealth, KeyOwner, MembershipRecord,
    MembershipRepository, MembershipSource, RepoError, SessionClaims, SessionTokenCodec,
    StateSealer, TokenError, UserRecord, UserRepository,
};
use tfr_ports::service::{
    ApiKeys, AuditLog, Authenticator, CatalogCache, DeleteModuleVersion, DeleteProviderVersion,
    DownloadLinks, IdentityAdmin, MirrorCatalog, MirrorCatalogSettings, MirrorConfigs,
    MirrorFetcher, MirrorSync, ModuleCatalog, NamespaceAccess, ProviderCatalog, PublishModule,
    PublishProvider, Sessions, SsoLogin, SsoPolicy, SyncSettings, TerraformLogin,
    TerraformLoginSettings,
};
use tfr_ports::testkit::ManualClock;
use tfr_ports::testkit::blob::InMemoryBlobStore;
use tfr_ports::testkit::fakes::{StubArchiveInspector, StubSignatureVerifier};
use tfr_ports::testkit::repos::{
    InMemoryApiKeyRepository, InMemoryAuditRepository, InMemoryIdentity,
    InMemoryLoginCodeRepository, InMemoryMirrorRepository, InMemoryModuleRepository,
    InMemoryNamespaceRepository, InMemoryProviderRepository, InMemoryRevokedSessionRepository,
};
use tfr_ports::testkit::security::{FakeUrlSigner, PlainHasher, SequentialSecrets};
use tfr_ports::testkit::upstream::FakeUpstreamRegistry;
use uuid::Uuid;

pub type Client = TestClient<poem::endpoint::BoxEndpoint<'static>>;

/// Readiness that the test decides.
struct Health(bool);

#[async_trait]
impl DatabaseHealth for Health {
    async fn ready(&self) -> Result<(), RepoError> {
        if self.0 {
            Ok(())
        } else {
            Err(RepoError::Unavailable("connection refused".into()))
        }
    }
}

/// Session "tokens" as readable, unsigned three-part strings (`h.<claims>.s`): enough
/// for the authenticator to recognize and parse them. Insecure: tests only.
struct FakeSessionCodec;

impl SessionTokenCodec for FakeSessionCodec {
    fn issue(&self, c: &SessionClaims) -> String {
        let claims = format!(
            "{}|{}|{}|{}|{}",
            c.subject, c.jti, c.csrf, c.issued_at, c.expires_at
        );
        format!("h.{}.s", URL_SAFE_NO_PAD.encode(claims))
    }

    fn verify(&self, token: &str) -> Result<SessionClaims, TokenError> {
        let middle = token.split('.').nth(1).ok_or(TokenError::Invalid)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(middle)
            .map_err(|_| TokenError::Invalid)?;
        let text = String::from_utf8(bytes).map_err(|_| TokenError::Invalid)?;
        let parts: Vec<&str> = text.split('|').collect();
        let [subject, jti, csrf, issued_at, expires_at] = parts[..] else {
            return Err(TokenError::Invalid);
        };
        Ok(SessionClaims {
            subject: subject.parse().map_err(|_| TokenError::Invalid)?,
            jti: jti.to_string(),
            csrf: csrf.to_string(),
            issued_at: issued_at.parse().map_err(|_| TokenError::Invalid)?,
            expires_at: expires_at.parse().map_err(|_| TokenError::Invalid)?,
        })
    }
}

/// "Seals" by base64 only. Insecure: tests only.
struct FakeSealer;

impl StateSealer for FakeSealer {
    fn seal(&self, plaintext: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(plaintext)
    }
    fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(sealed).ok()
    }
}

/// How to build the application.
#[derive(Debug, Clone)]
pub struct Options {
    pub ready: bool,
    pub max_archive_bytes: u64,
    pub anonymous_read: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            ready: true,
            max_archive_bytes: 1024,
            anonymous_read: false,
        }
    }
}

pub struct TestApp {
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub identity: Arc<InMemoryIdentity>,
    pub audit: Arc<InMemoryAuditRepository>,
    /// Mirror configurations, runs and mirrored content.
    pub mirrors: Arc<InMemoryMirrorRepository>,
    /// The upstream registry every mirror configuration reaches (empty: 404 for all).
    pub upstream: Arc<FakeUpstreamRegistry>,
    _staging: tempfile::TempDir,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with(Options::default())
    }

    pub fn with(options: Options) -> Self {
        let clock = Arc::new(ManualClock::default());
        let blobs = Arc::new(InMemoryBlobStore::new());
        let namespaces = InMemoryNamespaceRepository::new();
        let api_key_repo = InMemoryApiKeyRepository::new();
        let identity = Arc::new(InMemoryIdentity::with_stores(&namespaces, &api_key_repo));
        let audit_repo = Arc::new(InMemoryAuditRepository::new());
        let modules = Arc::new(InMemoryModuleRepository::with_namespaces(&namespaces));
        let providers = Arc::new(InMemoryProviderRepository::with_namespaces(&namespaces));
        let namespaces = Arc::new(namespaces);
        let inspector = Arc::new(StubArchiveInspector::new());
        let mirrors = Arc::new(InMemoryMirrorRepository::new());
        let upstream = Arc::new(FakeUpstreamRegistry::new());
        let secrets = Arc::new(SequentialSecrets::default());
        let links = Arc::new(DownloadLinks::new(
            blobs.clone(),
            Arc::new(FakeUrlSigner),
            clock.clone(),
            Duration::from_secs(300),
            None,
        ));
        let cache = Arc::new(CatalogCache::new(Duration::from_secs(5)));
        let staging = tempfile::tempdir().expect("staging dir");
        let limits = ArchiveLimits {
            max_archive_bytes: options.max_archive_bytes,
            ..ArchiveLimits::default()
        };
        let api_keys = Arc::new(ApiKeys::new(
            Arc::new(api_key_repo),
            Arc::new(PlainHasher),
            secrets.clone(),
            clock.clone(),
        ));
        let sessions = Arc::new(Sessions::new(
            Arc::new(FakeSessionCodec),
            Arc::new(InMemoryRevokedSessionRepository::new()),
            secrets.clone(),
            clock.clone(),
            Duration::from_secs(3600),
            Duration::from_secs(60),
        ));
        let authenticator = Arc::new(Authenticator::new(
            api_keys.clone(),
            sessions,
            identity.clone(),
            identity.clone(),
            Duration::ZERO,
        ));
        let namespace_access = Arc::new(NamespaceAccess::new(
            namespaces.clone(),
            Duration::ZERO,
            options.anonymous_read,
        ));
        let admin = Arc::new(IdentityAdmin::new(
            identity.clone(),
            identity.clone(),
            identity.clone(),
            identity.clone(),
            namespaces,
            api_keys.clone(),
            authenticator.clone(),
            namespace_access.clone(),
            clock.clone(),
        ));
        let sso = Arc::new(SsoLogin::new(
            Vec::new(),
            Arc::new(FakeSealer),
            identity.clone(),
            identity.clone(),
            identity.clone(),
            identity.clone(),
            clock.clone(),
            SsoPolicy::default(),
        ));
        let terraform_login = Arc::new(TerraformLogin::new(
            Arc::new(InMemoryLoginCodeRepository::new()),
            api_keys.clone(),
            authenticator.clone(),
            secrets,
            clock.clone(),
            TerraformLoginSettings::default(),
        ));
        let fetcher = Arc::new(MirrorFetcher::new(
            mirrors.clone(),
            upstream.clone(),
            blobs.clone(),
            inspector.clone(),
            Arc::new(StubSignatureVerifier),
            clock.clone(),
            staging.path().to_path_buf(),
            limits,
        ));
        let mirror_catalog = Arc::new(MirrorCatalog::new(
            mirrors.clone(),
            upstream.clone(),
            fetcher.clone(),
            links.clone(),
            clock.clone(),
            MirrorCatalogSettings::default(),
        ));
        let mirror_configs = Arc::new(MirrorConfigs::new(
            mirrors.clone(),
            mirror_catalog.clone(),
            clock.clone(),
        ));
        let mirror_sync = Arc::new(MirrorSync::new(
            mirrors.clone(),
            upstream.clone(),
            fetcher,
            clock.clone(),
            SyncSettings::default(),
        ));
        let state = AppState {
            module_catalog: Arc::new(ModuleCatalog::new(
                modules.clone(),
                links.clone(),
                cache.clone(),
            )),
            provider_catalog: Arc::new(ProviderCatalog::new(
                providers.clone(),
                links.clone(),
                cache.clone(),
            )),
            publish_module: Arc::new(PublishModule::new(
                modules.clone(),
                blobs.clone(),
                inspector.clone(),
                clock.clone(),
                limits,
                cache.clone(),
            )),
            publish_provider: Arc::new(PublishProvider::new(
                providers.clone(),
                blobs.clone(),
                inspector,
                Arc::new(StubSignatureVerifier),
                clock.clone(),
                limits,
                cache.clone(),
            )),
            delete_module: Arc::new(DeleteModuleVersion::new(
                modules,
                blobs.clone(),
                cache.clone(),
            )),
            delete_provider: Arc::new(DeleteProviderVersion::new(providers, blobs.clone(), cache)),
            api_keys,
            authenticator,
            namespace_access,
            audit: Arc::new(AuditLog::new(audit_repo.clone(), clock.clone())),
            identity: admin,
            sso,
            terraform_login,
            mirror_catalog,
            mirror_configs,
            mirror_sync,
            web: WebSettings {
                public_url: "http://registry.test".into(),
                trust_forwarded_for: false,
            },
            links,
            blobs: blobs as Arc<dyn BlobStore>,
            health: Arc::new(Health(options.ready)),
            staging_dir: PathBuf::from(staging.path()),
        };
        Self {
            state,
            clock,
            identity,
            audit: audit_repo,
            mirrors,
            upstream,
            _staging: staging,
        }
    }

    pub fn client(&self) -> Client {
        TestClient::new(build(self.state.clone()))
    }

    /// A fresh app, a client and a global administrator's key.
    pub async fn with_admin() -> (Self, Client, String) {
        let app = Self::new().await;
        let cli = app.client();
        let admin = app.admin_token().await;
        (app, cli, admin)
    }

    pub fn clock_now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A user signed in through SSO once, member of nothing.
    pub async fn user(&self, username: &str) -> Uuid {
        let id = Uuid::now_v7();
        let record = UserRecord {
            id,
            username: username.to_string(),
            email: Some(format!("{username}@example.com")),
            display_name: Some(username.to_uppercase()),
            identity_provider: "oidc".into(),
            subject: format!("sub-{username}"),
            global_role_id: None,
            created_at: self.clock.now(),
            last_login_at: None,
            disabled_at: None,
        };
        UserRepository::insert(self.identity.as_ref(), &record)
            .await
            .expect("insert user");
        id
    }

    /// Makes `user` a member of `organization` (a name or id) with `template`.
    pub async fn member(&self, organization: &str, user: Uuid, template: Uuid) {
        let org = self
            .state
            .identity
            .organization(organization)
            .await
            .expect("organization");
        let membership = MembershipRecord {
            organization_id: org.id,
            user_id: user,
            role_template_id: template,
            source: MembershipSource::Manual,
            created_at: self.clock.now(),
        };
        self.identity
            .upsert(&membership)
            .await
            .expect("upsert membership");
    }

    /// A global administrator and a key of theirs with `admin:*`.
    pub async fn admin(&self) -> (Uuid, String) {
        let id = self.user("root").await;
        let mut record = self
            .state
            .identity
            .user(id)
            .await
            .expect("the user just inserted");
        record.global_role_id = Some(ADMIN_TEMPLATE_ID);
        UserRepository::update(self.identity.as_ref(), &record)
            .await
            .expect("update user");
        let token = self.user_key(id, &[Scope::Admin]).await;
        (id, token)
    }

    pub async fn admin_token(&self) -> String {
        self.admin().await.1
    }

    /// A key owned by `user` (within the user's grants at each request).
    pub async fn user_key(&self, user: Uuid, scopes: &[Scope]) -> String {
        self.key(KeyOwner::User(user), scopes).await
    }

    /// A key owned by `user`, with its id.
    pub async fn user_key_with_id(&self, user: Uuid, scopes: &[Scope]) -> (Uuid, String) {
        self.key_with_id(KeyOwner::User(user), scopes).await
    }

    /// A key owned by organization `organization` (its scopes there only).
    pub async fn organization_key(&self, organization: Uuid, scopes: &[Scope]) -> String {
        self.key(KeyOwner::Organization(organization), scopes).await
    }

    /// A system key (`tfr keys create`): its scopes everywhere.
    pub async fn system_key(&self, scopes: &[Scope]) -> String {
        self.key(KeyOwner::System, scopes).await
    }

    async fn key(&self, owner: KeyOwner, scopes: &[Scope]) -> String {
        self.key_with_id(owner, scopes).await.1
    }

    async fn key_with_id(&self, owner: KeyOwner, scopes: &[Scope]) -> (Uuid, String) {
        let created = self
            .state
            .api_keys
            .create(owner, "test", ScopeSet::new(scopes.iter().copied()), None)
            .await
            .expect("create key");
        (created.record.id, created.secret)
    }

    /// The status of `GET /api/v1/auth/me` with `token`: is it a working credential?
    pub async fn me(&self, token: &str) -> StatusCode {
        self.client()
            .get("/api/v1/auth/me")
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .await
            .0
            .status()
    }
}

pub async fn body(resp: TestResponse) -> serde_json::Value {
    let bytes = resp.0.into_body().into_bytes().await.unwrap_or_default();
    if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
    }
}

/// A status and the JSON body (`null` when empty or not JSON).
pub type Reply = (StatusCode, serde_json::Value);

/// Checks on a [`Reply`].
pub trait ReplyExt {
    /// Asserts the status (showing the body otherwise); the body.
    fn expect_status(self, status: StatusCode) -> serde_json::Value;
}

impl ReplyExt for Reply {
    fn expect_status(self, status: StatusCode) -> serde_json::Value {
        assert_eq!(self.0, status, "{}", self.1);
        self.1
    }
}

/// Requests with one bearer token, answering status and JSON body.
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    cli: &'a Client,
    token: &'a str,
}

impl<'a> Caller<'a> {
    pub fn new(cli: &'a Client, token: &'a str) -> Self {
        Self { cli, token }
    }

    pub async fn send(self, method: &str, path: &str, payload: Option<serde_json::Value>) -> Reply {
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

    pub async fn get(self, path: &str) -> Reply {
        self.send("GET", path, None).await
    }
    pub async fn post(self, path: &str, payload: serde_json::Value) -> Reply {
        self.send("POST", path, Some(payload)).await
    }
    pub async fn post_empty(self, path: &str) -> Reply {
        self.send("POST", path, None).await
    }
    pub async fn put(self, path: &str, payload: serde_json::Value) -> Reply {
        self.send("PUT", path, Some(payload)).await
    }
    pub async fn patch(self, path: &str, payload: serde_json::Value) -> Reply {
        self.send("PATCH", path, Some(payload)).await
    }
    pub async fn delete(self, path: &str) -> Reply {
        self.send("DELETE", path, None).await
    }
}

/// Every audit row, newest first.
pub async fn audit_rows(app: &TestApp) -> Vec<tfr_ports::driven::AuditRecord> {
    app.state
        .audit
        .query(tfr_ports::driven::AuditQuery {
            limit: 500,
            ..tfr_ports::driven::AuditQuery::default()
        })
        .await
        .expect("audit query")
        .0
}
