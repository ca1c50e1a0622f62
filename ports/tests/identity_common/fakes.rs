//! Fakes of the ports the testkit has none of: a session token codec, a state sealer
//! and a scripted identity provider.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use tfr_ports::driven::{
    AuthorizationRequest, ExternalIdentity, IdentityProvider, SessionClaims, SessionTokenCodec,
    SsoError, StateSealer, TokenError,
};

fn digest_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Session tokens as `fake.<base64url(JSON claims)>.<sha256(secret:payload)>`: three
/// dot-separated parts like a JWT, and any change to the claims breaks the check.
/// Expiry is left to `Sessions` (which checks it against the manual clock).
pub struct FakeSessionCodec {
    secret: &'static str,
}

impl Default for FakeSessionCodec {
    fn default() -> Self {
        Self::with_secret("session-secret")
    }
}

impl FakeSessionCodec {
    pub fn with_secret(secret: &'static str) -> Self {
        Self { secret }
    }
    fn sign(&self, payload: &str) -> String {
        digest_hex(&format!("{}:{payload}", self.secret))
    }
}

impl SessionTokenCodec for FakeSessionCodec {
    fn issue(&self, c: &SessionClaims) -> String {
        let json = serde_json::json!({
            "sub": c.subject.to_string(), "jti": c.jti, "csrf": c.csrf,
            "iat": c.issued_at, "exp": c.expires_at,
        });
        let payload = URL_SAFE_NO_PAD.encode(json.to_string());
        let signature = self.sign(&payload);
        format!("fake.{payload}.{signature}")
    }

    fn verify(&self, token: &str) -> Result<SessionClaims, TokenError> {
        let parts: Vec<&str> = token.split('.').collect();
        let ["fake", payload, signature] = parts[..] else {
            return Err(TokenError::Invalid);
        };
        if self.sign(payload) != signature {
            return Err(TokenError::Invalid);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Invalid)?;
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|_| TokenError::Invalid)?;
        let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let int = |k: &str| v.get(k).and_then(serde_json::Value::as_i64);
        Ok(SessionClaims {
            subject: text("sub")
                .and_then(|s| s.parse().ok())
                .ok_or(TokenError::Invalid)?,
            jti: text("jti").ok_or(TokenError::Invalid)?,
            csrf: text("csrf").ok_or(TokenError::Invalid)?,
            issued_at: int("iat").ok_or(TokenError::Invalid)?,
            expires_at: int("exp").ok_or(TokenError::Invalid)?,
        })
    }
}

/// "Seals" as `<key>.<base64url(plaintext)>.<checksum>`: refuses anything another key
/// sealed or anything changed since.
pub struct FakeSealer {
    key: &'static str,
}

impl Default for FakeSealer {
    fn default() -> Self {
        Self::with_key("sealer-key")
    }
}

impl FakeSealer {
    pub fn with_key(key: &'static str) -> Self {
        Self { key }
    }
    fn checksum(&self, body: &str) -> String {
        digest_hex(&format!("{}:{body}", self.key))[..16].to_string()
    }
}

impl StateSealer for FakeSealer {
    fn seal(&self, plaintext: &[u8]) -> String {
        let body = URL_SAFE_NO_PAD.encode(plaintext);
        format!("{}.{body}.{}", self.key, self.checksum(&body))
    }

    fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        let parts: Vec<&str> = sealed.split('.').collect();
        let [key, body, checksum] = parts[..] else {
            return None;
        };
        if key != self.key || checksum != self.checksum(body) {
            return None;
        }
        URL_SAFE_NO_PAD.decode(body).ok()
    }
}

/// What a [`ScriptedProvider`] answers at the callback.
#[derive(Debug, Clone)]
pub enum Answer {
    Identity(ExternalIdentity),
    Reject(String),
    Unavailable(String),
}

/// What the use case handed the provider at the callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub redirect_uri: String,
    pub code: String,
    pub pkce_verifier: String,
    pub nonce: String,
}

/// An identity provider that hands out numbered states, nonces and verifiers, refuses a
/// callback whose nonce and verifier are not a pair it issued, and otherwise answers
/// what the test scripted.
pub struct ScriptedProvider {
    id: String,
    counter: AtomicU64,
    issued: Mutex<Vec<AuthorizationRequest>>,
    answer: Mutex<Answer>,
    completions: Mutex<Vec<Completion>>,
}

impl ScriptedProvider {
    pub fn new(id: &str) -> Arc<Self> {
        Arc::new(Self {
            id: id.to_string(),
            counter: AtomicU64::new(0),
            issued: Mutex::new(Vec::new()),
            answer: Mutex::new(Answer::Reject("nothing scripted".into())),
            completions: Mutex::new(Vec::new()),
        })
    }
    pub fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }
    pub fn signs_in(&self, identity: ExternalIdentity) {
        self.answer(Answer::Identity(identity));
    }
    pub fn issued(&self) -> Vec<AuthorizationRequest> {
        self.issued.lock().unwrap().clone()
    }
    pub fn completions(&self) -> Vec<Completion> {
        self.completions.lock().unwrap().clone()
    }
}

#[async_trait]
impl IdentityProvider for ScriptedProvider {
    fn id(&self) -> &str {
        &self.id
    }
    fn display_name(&self) -> &str {
        "Scripted IdP"
    }
    fn kind(&self) -> &str {
        "oidc"
    }

    async fn authorization_request(
        &self,
        redirect_uri: &str,
    ) -> Result<AuthorizationRequest, SsoError> {
        let n = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        let state = format!("state-{}-{n}", self.id);
        let request = AuthorizationRequest {
            url: format!(
                "https://idp.test/{}/authorize?state={state}&redirect_uri={redirect_uri}",
                self.id
            ),
            state,
            nonce: format!("nonce-{}-{n}", self.id),
            pkce_verifier: format!("verifier-{}-{n}", self.id),
        };
        self.issued.lock().unwrap().push(request.clone());
        Ok(request)
    }

    async fn complete(
        &self,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<ExternalIdentity, SsoError> {
        self.completions.lock().unwrap().push(Completion {
            redirect_uri: redirect_uri.to_string(),
            code: code.to_string(),
            pkce_verifier: pkce_verifier.to_string(),
            nonce: nonce.to_string(),
        });
        let paired = self
            .issued
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.nonce == nonce && r.pkce_verifier == pkce_verifier);
        if !paired {
            return Err(SsoError::Rejected(
                "nonce or PKCE verifier does not match an authorization request".into(),
            ));
        }
        match self.answer.lock().unwrap().clone() {
            Answer::Identity(identity) => Ok(identity),
            Answer::Reject(msg) => Err(SsoError::Rejected(msg)),
            Answer::Unavailable(msg) => Err(SsoError::Unavailable(msg)),
        }
    }
}

/// An identity as a provider maps it.
pub fn identity(subject: &str, username: Option<&str>, email: Option<&str>) -> ExternalIdentity {
    ExternalIdentity {
        subject: subject.to_string(),
        email: email.map(str::to_string),
        email_verified: true,
        username: username.map(str::to_string),
        display_name: None,
        groups: Vec::new(),
    }
}
