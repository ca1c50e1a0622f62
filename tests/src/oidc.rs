//! A real OpenID provider for SSO tests: npm `oidc-provider` run by `tests/oidc/server.mjs`
//! on 127.0.0.1 (a free port), plus a browser-less driver of the authorization-code flow.
//!
//! ```ignore
//! let idp = OidcTestProvider::start(OidcTestOptions::default()).await?;
//! idp.set_user(&TestUser::new("alice").email("alice@example.com", true).groups(["dev"])).await?;
//! // ... the app sends the browser to `authorization_url` ...
//! let callback = drive_authorization_code_flow(&authorization_url, "http://127.0.0.1:8080/callback").await?;
//! // `callback` carries `code` and `state`: call the app's callback with it.
//! ```
//!
//! Needs `node` and `tests/oidc/node_modules` (`bash .ci/install` runs `npm ci` there).
//! This file is self-contained (reqwest, serde_json, anyhow, tokio only) so adapter test
//! suites can compile it with `#[path]` without depending on the whole black-box crate.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

pub const DEFAULT_CLIENT_ID: &str = "tfr-test";
pub const DEFAULT_CLIENT_SECRET: &str = "tfr-test-secret~with.special_chars-";
/// Registered by default. Any port on 127.0.0.1 matches (the provider compares loopback
/// redirect URIs without their port), so a callback on a port chosen later still works.
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1/callback";

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_HOPS: usize = 20;
const MAX_LOG_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct OidcTestOptions {
    /// Mount the issuer under a path, e.g. `/<tenant>/v2.0` (Azure AD shape).
    pub issuer_path: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
    /// The first user to sign in (the provider's default is `alice`, see server.mjs).
    pub user: Option<TestUser>,
}

impl Default for OidcTestOptions {
    fn default() -> Self {
        Self {
            issuer_path: None,
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: DEFAULT_CLIENT_SECRET.into(),
            redirect_uris: vec![DEFAULT_REDIRECT_URI.into()],
            user: None,
        }
    }
}

impl OidcTestOptions {
    /// The issuer at `http://127.0.0.1:PORT/<tenant>/v2.0`, so an Azure AD provider with
    /// `authority_host = http://127.0.0.1:PORT` finds it.
    pub fn azure_tenant(tenant_id: &str) -> Self {
        Self {
            issuer_path: Some(format!("/{tenant_id}/v2.0")),
            ..Self::default()
        }
    }

    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }

    pub fn user(mut self, user: TestUser) -> Self {
        self.user = Some(user);
        self
    }
}

/// Who signs in next: the claims the provider releases (with the `openid` scope: `groups`,
/// `roles`, `oid`, `tid`, `upn`, `xms_edov`; `email`: `email`, `email_verified`; `profile`:
/// `name`, `given_name`, `family_name`, `preferred_username`). All land in the ID token.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestUser {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub preferred_username: Option<String>,
    pub name: Option<String>,
    pub groups: Option<Vec<String>>,
    pub oid: Option<String>,
    pub tid: Option<String>,
    /// Any other claim (`roles`, `upn`, `xms_edov`...).
    pub extra: Map<String, Value>,
    /// Claims left out of the ID token (only userinfo answers them).
    pub userinfo_only: Vec<String>,
}

impl TestUser {
    pub fn new(sub: impl Into<String>) -> Self {
        Self {
            sub: sub.into(),
            ..Self::default()
        }
    }

    pub fn email(mut self, email: impl Into<String>, verified: bool) -> Self {
        self.email = Some(email.into());
        self.email_verified = Some(verified);
        self
    }

    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.preferred_username = Some(username.into());
        self
    }

    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn groups<I, S>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups = Some(groups.into_iter().map(Into::into).collect());
        self
    }

    /// Azure AD's object id and tenant id.
    pub fn azure(mut self, oid: impl Into<String>, tid: impl Into<String>) -> Self {
        self.oid = Some(oid.into());
        self.tid = Some(tid.into());
        self
    }

    pub fn claim(mut self, name: impl Into<String>, value: Value) -> Self {
        self.extra.insert(name.into(), value);
        self
    }

    /// Keeps `claims` out of the ID token: only the userinfo endpoint answers them.
    pub fn userinfo_only<I, S>(mut self, claims: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.userinfo_only = claims.into_iter().map(Into::into).collect();
        self
    }

    pub fn to_json(&self) -> Value {
        let mut claims = self.extra.clone();
        if !self.userinfo_only.is_empty() {
            claims.insert("_userinfo_only".into(), json!(self.userinfo_only));
        }
        claims.insert("sub".into(), json!(self.sub));
        let optional = [
            ("email", self.email.clone().map(Value::from)),
            ("email_verified", self.email_verified.map(Value::from)),
            (
                "preferred_username",
                self.preferred_username.clone().map(Value::from),
            ),
            ("name", self.name.clone().map(Value::from)),
            ("groups", self.groups.clone().map(Value::from)),
            ("oid", self.oid.clone().map(Value::from)),
            ("tid", self.tid.clone().map(Value::from)),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                claims.insert(name.into(), value);
            }
        }
        Value::Object(claims)
    }
}

/// A running `tests/oidc/server.mjs`; killed on drop.
pub struct OidcTestProvider {
    child: Child,
    issuer: String,
    port: u16,
    client_id: String,
    client_secret: String,
    logs: Arc<Mutex<String>>,
    http: reqwest::Client,
}

impl OidcTestProvider {
    /// Spawns `node tests/oidc/server.mjs` on a free port and waits for its ready line.
    pub async fn start(options: OidcTestOptions) -> anyhow::Result<Self> {
        let dir = provider_dir()?;
        let node = std::env::var("TFR_TEST_NODE").unwrap_or_else(|_| "node".into());
        let mut command = Command::new(&node);
        command
            .arg(dir.join("server.mjs"))
            .current_dir(&dir)
            .env("PORT", "0")
            .env("CLIENT_ID", &options.client_id)
            .env("CLIENT_SECRET", &options.client_secret)
            .env("REDIRECT_URIS", options.redirect_uris.join(","))
            .env("ISSUER_PATH", options.issuer_path.as_deref().unwrap_or(""))
            .env_remove("ISSUER")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| {
            anyhow::anyhow!(
                "cannot run `{node}` for the OIDC test provider ({e}): install Node.js 20+ \
                 and run `bash .ci/install` (or set TFR_TEST_NODE)"
            )
        })?;
        let logs = Arc::new(Mutex::new(String::new()));
        collect(child.stderr.take().expect("piped stderr"), logs.clone());
        let ready = watch_stdout(child.stdout.take().expect("piped stdout"), logs.clone());

        let deadline = Instant::now() + READY_TIMEOUT;
        let line = loop {
            match ready.try_recv() {
                Ok(line) => break line,
                Err(mpsc::TryRecvError::Disconnected) | Err(mpsc::TryRecvError::Empty)
                    if child.try_wait()?.is_some() =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let logs = logs.lock().unwrap().clone();
                    bail!("the OIDC test provider exited before it was ready:\n{logs}");
                }
                Err(_) if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let logs = logs.lock().unwrap().clone();
                    bail!("the OIDC test provider was not ready within {READY_TIMEOUT:?}:\n{logs}");
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        let ready: Value = serde_json::from_str(&line)
            .with_context(|| format!("the provider's ready line is not JSON: {line}"))?;
        let issuer = ready["issuer"]
            .as_str()
            .context("no issuer in the ready line")?
            .to_string();
        let port = ready["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .context("no port in the ready line")?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()?;
        let provider = Self {
            child,
            issuer,
            port,
            client_id: options.client_id,
            client_secret: options.client_secret,
            logs,
            http,
        };
        if let Some(user) = &options.user {
            provider.set_user(user).await?;
        }
        Ok(provider)
    }

    /// `http://127.0.0.1:PORT[/<issuer path>]`, exactly as in the discovery document.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `http://127.0.0.1:PORT` (Azure AD's `authority_host` in tests).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// What the provider wrote to stderr so far (warnings, errors).
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// The next login (from a new browser session) signs in as `user`.
    pub async fn set_user(&self, user: &TestUser) -> anyhow::Result<()> {
        self.control("user", user.to_json()).await.map(|_| ())
    }

    /// A new signing key (new `kid`); the old key leaves the JWKS. Returns the new kid.
    pub async fn rotate_keys(&self) -> anyhow::Result<String> {
        let answer = self.control("rotate-keys", json!({})).await?;
        Ok(answer["kid"].as_str().unwrap_or_default().to_string())
    }

    async fn control(&self, what: &str, body: Value) -> anyhow::Result<Value> {
        let url = format!("{}/__test/{what}", self.base_url());
        let response = self
            .http
            .post(&url)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("POST {url}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// [`drive_authorization_code_flow`] (a fresh cookie jar: a new login every time).
    pub async fn drive_login(
        &self,
        authorization_url: &str,
        redirect_uri_prefix: &str,
    ) -> anyhow::Result<String> {
        drive_authorization_code_flow(authorization_url, redirect_uri_prefix)
            .await
            .with_context(|| format!("provider logs:\n{}", self.logs()))
    }
}

impl Drop for OidcTestProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Plays the browser: GETs `authorization_url` and follows every redirect by hand, keeping
/// cookies (one jar for the whole run, no path or domain scoping: everything is on
/// 127.0.0.1), until a redirect points at `redirect_uri_prefix`. Returns that URL (with
/// `code` and `state`, or `error`). Any other non-redirect answer is an error.
pub async fn drive_authorization_code_flow(
    authorization_url: &str,
    redirect_uri_prefix: &str,
) -> anyhow::Result<String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut cookies: BTreeMap<String, String> = BTreeMap::new();
    let mut url = reqwest::Url::parse(authorization_url)
        .with_context(|| format!("authorization URL {authorization_url:?}"))?;
    for _ in 0..MAX_HOPS {
        let mut request = client.get(url.clone());
        if !cookies.is_empty() {
            let header = cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.header(reqwest::header::COOKIE, header);
        }
        let response = request.send().await.with_context(|| format!("GET {url}"))?;
        for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
            if let Ok(text) = value.to_str() {
                store_cookie(&mut cookies, text);
            }
        }
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .with_context(|| format!("{status} without Location at {url}"))?;
            let next = url
                .join(location)
                .with_context(|| format!("bad Location {location:?} at {url}"))?;
            if next.as_str().starts_with(redirect_uri_prefix) {
                return Ok(next.to_string());
            }
            url = next;
            continue;
        }
        let body = response.text().await.unwrap_or_default();
        let body: String = body.chars().take(1000).collect();
        bail!("the authorization flow stopped at {url} with {status} (no redirect): {body}");
    }
    bail!("more than {MAX_HOPS} redirects from {authorization_url}")
}

/// The query parameters of a callback URL (`code`, `state`, `iss`, `error`...).
pub fn callback_params(url: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let url = reqwest::Url::parse(url).with_context(|| format!("callback URL {url:?}"))?;
    Ok(url.query_pairs().into_owned().collect())
}

fn store_cookie(jar: &mut BTreeMap<String, String>, set_cookie: &str) {
    let mut parts = set_cookie.split(';');
    let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
        return;
    };
    let (name, value) = (name.trim().to_string(), value.trim().to_string());
    let expired = parts.any(|attr| {
        let attr = attr.trim().to_ascii_lowercase();
        attr == "max-age=0" || attr.starts_with("max-age=-") || attr.contains("1970")
    });
    if expired || value.is_empty() {
        jar.remove(&name);
    } else {
        jar.insert(name, value);
    }
}

/// `tests/oidc` with its node_modules: `TFR_TEST_OIDC_DIR`, else found upwards from this
/// crate's manifest dir (works from the black-box crate and from adapter crates alike).
fn provider_dir() -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("TFR_TEST_OIDC_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|a| a.join("tests").join("oidc"))
            .find(|d| d.join("server.mjs").is_file())
            .context("tests/oidc/server.mjs not found above this crate (set TFR_TEST_OIDC_DIR)")?,
    };
    if !dir.join("node_modules").join("oidc-provider").is_dir() {
        bail!(
            "{} has no node_modules/oidc-provider: run `bash .ci/install` \
             (or `npm ci --prefix {}`) first",
            dir.display(),
            dir.display()
        );
    }
    Ok(dir)
}

/// Appends a child's output to `logs` (bounded) on a thread.
fn collect(stream: impl Read + Send + 'static, logs: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            append(&logs, &line);
        }
    });
}

/// Sends the JSON of the `READY ...` line, then keeps draining stdout into `logs`.
fn watch_stdout(
    stream: impl Read + Send + 'static,
    logs: Arc<Mutex<String>>,
) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            match line.strip_prefix("READY ") {
                Some(json) => {
                    let _ = tx.send(json.to_string());
                }
                None => append(&logs, &line),
            }
        }
    });
    rx
}

fn append(logs: &Mutex<String>, line: &str) {
    let mut logs = logs.lock().unwrap();
    if logs.len() < MAX_LOG_BYTES {
        logs.push_str(line);
        logs.push('\n');
    }
}
