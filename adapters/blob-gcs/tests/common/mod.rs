//! Test helpers: a fake service account (a fresh RSA key), a fake Google (the OAuth token
//! endpoint, and a scripted JSON API for what the emulator cannot show), the emulator with
//! a bucket, and a URL fetcher that re-encodes queries as Go does and checks V4
//! signatures independently of the crate that made them.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine;
use futures::future::BoxFuture;
use poem::listener::{Acceptor, Listener, TcpListener};
use sha2::{Digest, Sha256};
use tfr_blob_gcs::{GcsBlobStore, GcsConfig, GcsCredentials};
use tfr_emulators::Emulator;
use tfr_ports::testkit::go_getter::requery;

pub const SA_EMAIL: &str = "tfr-test@tfr-fake-project.iam.gserviceaccount.com";
pub const ACCESS_TOKEN: &str = "fake-access-token";

// ---------------------------------------------------------------------------------------
// A fake service account
// ---------------------------------------------------------------------------------------

pub struct FakeKey {
    /// PKCS#8 PEM, as in a service-account JSON key.
    pub pem: String,
    /// PKCS#1 `RSAPublicKey` DER, to verify signatures.
    pub public: Vec<u8>,
}

/// One RSA-2048 key per test binary (generating one takes a moment).
pub fn fake_key() -> &'static FakeKey {
    static KEY: OnceLock<FakeKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("generating an RSA key");
        let der: Pkcs8V1Der = pair.as_der().expect("PKCS#8 encoding");
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        FakeKey {
            pem,
            public: pair.public_key().as_ref().to_vec(),
        }
    })
}

/// A service-account key file for a fake project whose tokens come from `token_uri`.
pub fn service_account_json(token_uri: &str) -> String {
    serde_json::json!({
        "type": "service_account",
        "project_id": "tfr-fake-project",
        "private_key_id": "fake-key-1",
        "private_key": fake_key().pem,
        "client_email": SA_EMAIL,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.invalid/o/oauth2/auth",
        "token_uri": token_uri,
    })
    .to_string()
}

// ---------------------------------------------------------------------------------------
// A fake Google
// ---------------------------------------------------------------------------------------

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    /// The `Host` header (`127.0.0.1:PORT`), to build absolute URLs in answers.
    pub host: String,
    pub authorization: Option<String>,
    pub content_range: Option<String>,
    pub body: bytes::Bytes,
}

impl Seen {
    pub fn query_has(&self, pair: &str) -> bool {
        self.query.split('&').any(|p| p == pair)
    }
}

/// What the fake answers.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// A GCS JSON API error.
    pub fn error(status: u16, message: &str) -> Self {
        Self::json(
            status,
            serde_json::json!({"error": {"code": status, "message": message, "errors": [
                {"domain": "global", "reason": "fake", "message": message}
            ]}}),
        )
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A GCS object resource as the JSON API returns it.
pub fn object_json(bucket: &str, name: &str, size: u64) -> serde_json::Value {
    serde_json::json!({
        "kind": "storage#object",
        "id": format!("{bucket}/{name}/1"),
        "selfLink": format!("https://storage.googleapis.com/storage/v1/b/{bucket}/o/{name}"),
        "mediaLink": format!("https://storage.googleapis.com/download/storage/v1/b/{bucket}/o/{name}?alt=media"),
        "name": name,
        "bucket": bucket,
        "generation": "1",
        "metageneration": "1",
        "size": size.to_string(),
        "contentType": "application/octet-stream",
        "timeCreated": "2026-01-01T00:00:00Z",
        "updated": "2026-01-01T00:00:00Z",
    })
}

type Script = dyn Fn(&Seen) -> Reply + Send + Sync;

/// A loopback HTTP server: `POST /token` hands out [`ACCESS_TOKEN`] (or refuses, see
/// [`FakeGoogle::refuse_tokens`]); everything else goes to the script. Every request is
/// recorded.
pub struct FakeGoogle {
    addr: SocketAddr,
    state: Arc<FakeState>,
    task: tokio::task::JoinHandle<()>,
}

struct FakeState {
    script: Box<Script>,
    seen: Mutex<Vec<Seen>>,
    refuse_tokens: std::sync::atomic::AtomicBool,
}

struct FakeEndpoint(Arc<FakeState>);

impl poem::Endpoint for FakeEndpoint {
    type Output = poem::Response;

    async fn call(&self, mut req: poem::Request) -> poem::Result<Self::Output> {
        let body = req.take_body().into_bytes().await?;
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let seen = Seen {
            method: req.method().to_string(),
            path: req.uri().path().to_string(),
            query: req.uri().query().unwrap_or_default().to_string(),
            host: header("host").unwrap_or_default(),
            authorization: header("authorization"),
            content_range: header("content-range"),
            body,
        };
        let reply = if seen.method == "POST" && seen.path == "/token" {
            if self
                .0
                .refuse_tokens
                .load(std::sync::atomic::Ordering::SeqCst)
            {
                Reply::json(
                    400,
                    serde_json::json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}),
                )
            } else {
                Reply::json(
                    200,
                    serde_json::json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600}),
                )
            }
        } else {
            (self.0.script)(&seen)
        };
        self.0
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(seen);
        let mut resp = poem::Response::builder()
            .status(poem::http::StatusCode::from_u16(reply.status).expect("a valid status"));
        for (name, value) in &reply.headers {
            resp = resp.header(name.as_str(), value.as_str());
        }
        Ok(resp.body(reply.body))
    }
}

impl FakeGoogle {
    pub async fn start(script: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .expect("binding the fake");
        let addr = *acceptor.local_addr()[0]
            .as_socket_addr()
            .expect("a socket address");
        let state = Arc::new(FakeState {
            script: Box::new(script),
            seen: Mutex::new(Vec::new()),
            refuse_tokens: Default::default(),
        });
        let endpoint = FakeEndpoint(state.clone());
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor)
                .run(endpoint)
                .await;
        });
        Self { addr, state, task }
    }

    /// Only the token endpoint (for tests whose storage is the emulator).
    pub async fn token_only() -> Self {
        Self::start(|_| Reply::empty(404)).await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token_uri(&self) -> String {
        format!("{}/token", self.url())
    }

    pub fn refuse_tokens(&self) {
        self.state
            .refuse_tokens
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Requests other than token requests.
    pub fn api_calls(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path != "/token")
            .collect()
    }
}

impl Drop for FakeGoogle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------
// The emulator
// ---------------------------------------------------------------------------------------

pub async fn create_bucket(endpoint: &str, bucket: &str) {
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .post(format!("{endpoint}/storage/v1/b?project=tfr-fake-project"))
        .json(&serde_json::json!({ "name": bucket }))
        .send()
        .await
        .expect("creating a bucket on the emulator");
    assert!(
        resp.status().is_success(),
        "bucket create: {}",
        resp.status()
    );
}

/// The emulator with a fresh bucket, and a token endpoint for the fake service account.
pub struct Env {
    pub emulator: Emulator,
    pub google: FakeGoogle,
    pub bucket: String,
}

impl Env {
    pub async fn start() -> Self {
        let emulator = Emulator::gcs()
            .await
            .expect("starting gcp-storage-emulator");
        let bucket = format!("tfr-{}", uuid::Uuid::new_v4().simple());
        create_bucket(&emulator.endpoint(), &bucket).await;
        Self {
            emulator,
            google: FakeGoogle::token_only().await,
            bucket,
        }
    }

    pub fn config(&self, prefix: &str) -> GcsConfig {
        GcsConfig {
            bucket: self.bucket.clone(),
            prefix: prefix.to_string(),
            endpoint: Some(self.emulator.endpoint()),
            credentials: GcsCredentials::ServiceAccountJson(service_account_json(
                &self.google.token_uri(),
            )),
        }
    }

    pub async fn store(&self, prefix: &str) -> GcsBlobStore {
        GcsBlobStore::connect(self.config(prefix))
            .await
            .expect("connecting to the emulator")
    }

    /// The raw object names in the bucket (straight from the emulator).
    pub async fn object_names(&self) -> Vec<String> {
        let url = format!(
            "{}/storage/v1/b/{}/o",
            self.emulator.endpoint(),
            self.bucket
        );
        let listing: serde_json::Value = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .get(url)
            .send()
            .await
            .expect("listing")
            .json()
            .await
            .expect("listing JSON");
        let mut names: Vec<String> = listing["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

// ---------------------------------------------------------------------------------------
// Signed URLs
// ---------------------------------------------------------------------------------------

/// RFC 3986 encoding, as GCS canonicalises query parameters.
fn rfc3986(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The parts of a V4 signed URL a test looks at.
#[derive(Debug)]
pub struct SignedParts {
    pub credential: String,
    pub expires: u64,
    pub date: String,
}

/// Checks a V4 signed GET URL the way GCS documents it (canonical request from the URL as
/// sent, RSA-SHA256 over the string to sign) with the fake account's public key. Written
/// from Google's description, not from gcloud-storage's code.
pub fn verify_v4(url: &str, public_key: &[u8]) -> Result<SignedParts, String> {
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    let mut pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    let take = |pairs: &mut Vec<(String, String)>, name: &str| -> Result<String, String> {
        let i = pairs
            .iter()
            .position(|(k, _)| k == name)
            .ok_or(format!("no {name}"))?;
        Ok(pairs.remove(i).1)
    };
    let signature =
        hex::decode(take(&mut pairs, "X-Goog-Signature")?).map_err(|e| e.to_string())?;
    let get = |name: &str| -> Result<String, String> {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .ok_or(format!("no {name}"))
    };
    if get("X-Goog-Algorithm")? != "GOOG4-RSA-SHA256" {
        return Err("unexpected algorithm".into());
    }
    let credential = get("X-Goog-Credential")?;
    let date = get("X-Goog-Date")?;
    let expires: u64 = get("X-Goog-Expires")?.parse().map_err(|_| "bad expires")?;
    let signed_headers = get("X-Goog-SignedHeaders")?;
    if signed_headers != "host" {
        return Err(format!("signed headers {signed_headers:?}"));
    }
    let scope = credential
        .split_once('/')
        .map(|(_, scope)| scope.to_string())
        .ok_or("credential without scope")?;

    let mut query: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (rfc3986(k), rfc3986(v)))
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let host = match parsed.port() {
        Some(port) => format!("{}:{port}", parsed.host_str().unwrap_or_default()),
        None => parsed.host_str().unwrap_or_default().to_string(),
    };
    let canonical = format!(
        "GET\n{}\n{query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD",
        parsed.path()
    );
    let to_sign = format!(
        "GOOG4-RSA-SHA256\n{date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_key)
        .verify(to_sign.as_bytes(), &signature)
        .map_err(|_| format!("bad signature over canonical request:\n{canonical}"))?;
    Ok(SignedParts {
        credential,
        expires,
        date,
    })
}

/// GETs a URL with no credentials, after re-encoding its query as Go would and checking
/// its signature; `(status, body)`.
pub async fn fetch_signed(url: String) -> (u16, Vec<u8>) {
    let sent = requery(&url);
    if let Err(e) = verify_v4(&sent, &fake_key().public) {
        panic!("the signed URL does not verify: {e}");
    }
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .get(sent)
        .send()
        .await
        .expect("GET of a signed URL");
    let status = resp.status().as_u16();
    (status, resp.bytes().await.expect("body").to_vec())
}

/// [`fetch_signed`] as the contract's `UrlFetcher`.
pub fn fetcher() -> impl Fn(String) -> BoxFuture<'static, (u16, Vec<u8>)> + Send + Sync {
    |url: String| -> BoxFuture<'static, (u16, Vec<u8>)> { Box::pin(fetch_signed(url)) }
}

// ---------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------
