//! A running tfr (through the app crate's public API) plus an HTTP client and helpers.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

use crate::archives;
use crate::blobs;
use crate::ca::{TestCa, base_client_builder};
use crate::postgres::{PgGuard, fresh_postgres_db};
use crate::provider::ProviderUpload;

/// Scopes of the key every registry is started with.
pub const WRITE_SCOPES: &str = "modules:write,providers:write";

type Configure = Box<dyn FnOnce(&mut tfr::Settings) + Send>;

#[derive(Default)]
pub struct TestRegistryBuilder {
    tls: bool,
    postgres: bool,
    upstreams_use_test_ca: bool,
    configure: Vec<Configure>,
}

impl TestRegistryBuilder {
    /// Serve HTTPS with a certificate from a fresh [`TestCa`] (needed by terraform).
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Use a fresh PostgreSQL database instead of SQLite in the data dir.
    pub fn postgres(mut self) -> Self {
        self.postgres = true;
        self
    }

    /// Serve HTTPS and trust the same test CA for upstream registries (a
    /// [`crate::fake_upstream::FakeUpstream`] started with this registry's CA).
    pub fn tls_trusted_by_upstreams(mut self) -> Self {
        self.tls = true;
        self.upstreams_use_test_ca = true;
        self
    }

    /// Use PostgreSQL when `yes`.
    pub fn postgres_if(mut self, yes: bool) -> Self {
        self.postgres = yes;
        self
    }

    /// Change settings before the server starts.
    pub fn configure(mut self, f: impl FnOnce(&mut tfr::Settings) + Send + 'static) -> Self {
        self.configure.push(Box::new(f));
        self
    }

    pub async fn start(self) -> anyhow::Result<TestRegistry> {
        let data_dir = tempfile::Builder::new().prefix("tfr-bb-").tempdir()?;
        let mut settings = tfr::Settings::for_tests(data_dir.path());
        let pg = if self.postgres {
            let (url, guard) = fresh_postgres_db()?;
            settings.database_url = url;
            Some(guard)
        } else {
            None
        };
        let ca = if self.tls {
            let ca = TestCa::new()?;
            settings.tls_cert_file = Some(ca.cert_file());
            settings.tls_key_file = Some(ca.key_file());
            if self.upstreams_use_test_ca {
                settings.mirror.extra_ca_files = vec![ca.ca_file()];
            }
            Some(ca)
        } else {
            None
        };
        for f in self.configure {
            f(&mut settings);
        }
        let server = tfr::start(settings.clone()).await.context("starting tfr")?;
        let addr = server.local_addr();
        let base_url = server.base_url().trim_end_matches('/').to_string();
        let client = match &ca {
            Some(ca) => ca.client()?,
            None => base_client_builder().build()?,
        };
        let token = tfr::create_api_key(&settings, "black-box tests", WRITE_SCOPES)
            .await
            .context("creating the test API key")?;
        Ok(TestRegistry {
            server: Some(server),
            pg,
            settings,
            base_url,
            addr,
            client,
            token,
            ca,
            data_dir,
        })
    }
}

/// A tfr server for one test. Call [`TestRegistry::shutdown`] at the end.
pub struct TestRegistry {
    // Field order is drop order: the server goes before its database and data dir.
    server: Option<tfr::RunningServer>,
    pg: Option<PgGuard>,
    pub settings: tfr::Settings,
    /// `http(s)://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// A key with [`WRITE_SCOPES`].
    pub token: String,
    pub ca: Option<TestCa>,
    data_dir: tempfile::TempDir,
}

impl TestRegistry {
    pub fn builder() -> TestRegistryBuilder {
        TestRegistryBuilder::default()
    }

    /// Plain HTTP on SQLite.
    pub async fn start() -> anyhow::Result<Self> {
        Self::builder().start().await
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Where the filesystem blob store keeps its files (`<data_dir>/blobs`).
    pub fn blobs_dir(&self) -> PathBuf {
        self.settings.blob_dir()
    }

    /// Every file under the blob folder and the upload staging folder right now (staging
    /// paths prefixed with `@staging/`): an orphan in either is something left behind.
    pub fn blob_files(&self) -> BTreeSet<PathBuf> {
        let mut files = blobs::files_under(&self.blobs_dir());
        let staging = self.settings.staging_dir();
        if !staging.starts_with(self.blobs_dir()) {
            files.extend(
                blobs::files_under(&staging)
                    .into_iter()
                    .map(|p| Path::new("@staging").join(p)),
            );
        }
        files
    }

    /// Waits (up to 5 s, for clean-up just after a response) until [`Self::blob_files`]
    /// equals `expected`; returns what is there.
    pub async fn blob_files_settled(&self, expected: &BTreeSet<PathBuf>) -> BTreeSet<PathBuf> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let now = self.blob_files();
            if &now == expected || std::time::Instant::now() > deadline {
                return now;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// Host for module sources (terraform needs a dot): `127.0.0.1:PORT`.
    pub fn module_host(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }

    /// Host for provider sources: `localhost:PORT`.
    pub fn provider_host(&self) -> String {
        format!("localhost:{}", self.addr.port())
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}", self.base_url, path)
        }
    }

    /// GET with the test key (reads need a credential unless anonymous read is on).
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// GET without any credential.
    pub async fn get_anonymous(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// CLI configuration `credentials` blocks giving terraform `token` for both hosts
    /// the tests use (1.0.x does not read `TF_TOKEN_*`).
    pub fn credentials_hcl(&self, token: &str) -> String {
        [self.module_host(), self.provider_host()]
            .iter()
            .map(|host| format!("credentials \"{host}\" {{\n  token = \"{token}\"\n}}\n"))
            .collect()
    }

    /// GET and parse JSON (panics when the body is not JSON).
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let resp = self.get(path).await;
        json_of(resp, path).await
    }

    /// A new API key with the given scopes.
    pub async fn key_with_scopes(&self, scopes: &str) -> String {
        tfr::create_api_key(&self.settings, &format!("key {scopes}"), scopes)
            .await
            .expect("create_api_key")
    }

    /// `POST /api/v1/modules/{address}/{version}` with the test key.
    pub async fn publish_module(
        &self,
        address: &str,
        version: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> reqwest::Response {
        self.publish_module_with(address, version, body, content_type, Some(&self.token))
            .await
    }

    pub async fn publish_module_with(
        &self,
        address: &str,
        version: &str,
        body: Vec<u8>,
        content_type: &str,
        token: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url(&format!("/api/v1/modules/{address}/{version}")))
            .header("Content-Type", content_type)
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("publishing module {address} {version}: {e}"))
    }

    /// Publishes the sample module as `.tar.gz` and asserts 201.
    pub async fn publish_sample_module(&self, address: &str, version: &str) -> Value {
        let body = archives::module_tar_gz(&format!("{address} {version}"));
        let resp = self
            .publish_module(address, version, body, archives::GZIP)
            .await;
        let (status, json) = json_of(resp, address).await;
        assert_eq!(status, 201, "publishing {address} {version}: {json}");
        json
    }

    /// `POST /api/v1/providers/{ns}/{type}/{version}` (multipart) with the test key.
    pub async fn publish_provider(
        &self,
        address: &str,
        version: &str,
        upload: &ProviderUpload,
    ) -> reqwest::Response {
        self.publish_provider_with(address, version, upload, Some(&self.token))
            .await
    }

    pub async fn publish_provider_with(
        &self,
        address: &str,
        version: &str,
        upload: &ProviderUpload,
        token: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url(&format!("/api/v1/providers/{address}/{version}")))
            .multipart(upload.form());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("publishing provider {address} {version}: {e}"))
    }

    /// Publishes and asserts 201.
    pub async fn publish_provider_ok(
        &self,
        address: &str,
        version: &str,
        upload: &ProviderUpload,
    ) -> Value {
        let resp = self.publish_provider(address, version, upload).await;
        let (status, json) = json_of(resp, address).await;
        assert_eq!(
            status, 201,
            "publishing provider {address} {version}: {json}"
        );
        json
    }

    /// `DELETE` with the test key.
    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DELETE {path}: {e}"))
    }

    pub async fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("tfr shut down cleanly");
        }
    }
}

/// Status and JSON body (panics with the raw body when it is not JSON).
pub async fn json_of(resp: reqwest::Response, what: &str) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{what}: status {status}, body is not JSON ({e}): {text:?}"));
    (status, json)
}

/// `errors[0]` of an error body, or panics saying the body is not `{"errors":[...]}`.
pub fn first_error(body: &Value) -> String {
    body.get("errors")
        .and_then(|e| e.as_array())
        .and_then(|a| a.first())
        .and_then(|s| s.as_str())
        .unwrap_or_else(|| panic!("expected {{\"errors\":[\"...\"]}}, got {body}"))
        .to_string()
}

/// Asserts the status, that the body is `{"errors":[...]}` and that `errors[0]` contains one
/// of `mentions` (case-insensitive). Returns the message.
pub async fn assert_error(
    resp: reqwest::Response,
    status: u16,
    mentions: &[&str],
    what: &str,
) -> String {
    let (got, body) = json_of(resp, what).await;
    assert_eq!(got, status, "{what}: expected {status}, got {got}: {body}");
    let msg = first_error(&body);
    let lower = msg.to_lowercase();
    assert!(
        mentions.iter().any(|m| lower.contains(&m.to_lowercase())),
        "{what}: errors[0] = {msg:?} mentions none of {mentions:?}"
    );
    msg
}
