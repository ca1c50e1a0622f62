//! Credentials: the access token requests carry and the identity URLs are signed with.
//!
//! Tokens are fetched lazily (the first call, then refreshed by gcloud-auth): `connect`
//! never needs the network, and a rejected key surfaces in `check_writable` as
//! `CredentialsRejected` rather than as an opaque connect error. Everything that can be
//! checked offline (the file exists, is JSON, holds a usable RSA key) is checked in
//! `connect`.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use gcloud_storage::client::google_cloud_auth::credentials::CredentialsFile;
use gcloud_storage::client::google_cloud_auth::error::Error as AuthError;
use gcloud_storage::client::google_cloud_auth::project::Config;
use gcloud_storage::client::google_cloud_auth::token::DefaultTokenSourceProvider;
use gcloud_storage::http::storage_client::SCOPES;
use gcloud_storage::sign::{RsaKeyPair, SignBy};
use token_source::{TokenSource, TokenSourceProvider};
use tokio::sync::OnceCell;

use crate::config::{GcsCredentials, SetupError};

const SERVICE_ACCOUNT: &str = "service_account";
const ADC_PATH_VAR: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// The credential files gcloud-auth can get tokens for (as built here: no external
/// accounts, no impersonation).
const ADC_TYPES: &[&str] = &[SERVICE_ACCOUNT, "authorized_user"];

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the credentials give: a token source (none when anonymous) and a signer (none
/// when URLs cannot be signed).
pub(crate) struct Auth {
    pub token: Option<Arc<LazyTokenSource>>,
    pub signer: Option<Signer>,
}

/// Who signs URLs, and how.
pub(crate) enum Signer {
    /// A service-account key: signed here.
    Key { email: String, pem: Vec<u8> },
    /// The metadata server's account (GCE, GKE): signed by IAM `signBlob`, which needs
    /// the account to hold `iam.serviceAccounts.signBlob` on itself. Its email is looked
    /// up on first use; `refused_at` remembers when IAM last said no (see `sign.rs`).
    SignBlob {
        email: OnceCell<String>,
        refused_at: Mutex<Option<Instant>>,
    },
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key { email, .. } => f.debug_struct("Key").field("email", email).finish(),
            Self::SignBlob { email, .. } => f
                .debug_struct("SignBlob")
                .field("email", &email.get())
                .finish(),
        }
    }
}

impl Signer {
    /// Whether IAM refused to sign less than `cooldown` ago.
    pub fn recently_refused(&self, cooldown: Duration) -> bool {
        match self {
            Self::Key { .. } => false,
            Self::SignBlob { refused_at, .. } => refused_at
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some_and(|at| at.elapsed() < cooldown),
        }
    }

    /// Remembers that IAM refused to sign just now.
    pub fn note_refusal(&self) {
        if let Self::SignBlob { refused_at, .. } = self {
            *refused_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        }
    }

    /// The `GoogleAccessId` and signing method for a URL.
    pub async fn identity(&self) -> Result<(String, SignBy), String> {
        match self {
            Self::Key { email, pem } => Ok((email.clone(), SignBy::PrivateKey(pem.clone()))),
            Self::SignBlob { email, .. } => {
                let email = email
                    .get_or_try_init(|| gcloud_metadata::email("default"))
                    .await
                    .map_err(|e| {
                        format!("looking up the service account on the metadata server: {e}")
                    })?;
                Ok((email.clone(), SignBy::SignBytes))
            }
        }
    }
}

pub(crate) async fn resolve(credentials: &GcsCredentials) -> Result<Auth, SetupError> {
    match credentials {
        GcsCredentials::Anonymous => Ok(Auth {
            token: None,
            signer: None,
        }),
        GcsCredentials::ServiceAccountFile(path) => {
            let what = format!("the GCS credentials file {}", path.display());
            let text = tokio::fs::read_to_string(path)
                .await
                .map_err(|e| SetupError(format!("cannot read {what}: {e}")))?;
            service_account(&text, &what).await
        }
        GcsCredentials::ServiceAccountJson(text) => {
            service_account(text, "the GCS credentials JSON").await
        }
        GcsCredentials::ApplicationDefault => application_default().await,
    }
}

/// An explicit service-account key: it must parse and hold a usable key.
async fn service_account(text: &str, what: &str) -> Result<Auth, SetupError> {
    // serde_json's messages name a line and column, never the content.
    let file = CredentialsFile::new_from_str(text)
        .await
        .map_err(|e| SetupError(format!("{what} is not a credentials JSON file: {e}")))?;
    if file.tp != SERVICE_ACCOUNT {
        return Err(SetupError(format!(
            "{what} holds {:?} credentials; a service-account key (\"type\": \"service_account\") is needed",
            file.tp
        )));
    }
    let signer = key_signer(&file, what)?;
    Ok(Auth {
        token: Some(LazyTokenSource::new(Init::File(Box::new(file)))),
        signer: Some(signer),
    })
}

fn key_signer(file: &CredentialsFile, what: &str) -> Result<Signer, SetupError> {
    let email = file
        .client_email
        .clone()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| SetupError(format!("{what} has no client_email")))?;
    let pem = file
        .private_key
        .clone()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| SetupError(format!("{what} has no private_key")))?
        .into_bytes();
    // The same parse the URL signer does, so a bad key fails here and not per request.
    RsaKeyPair::try_from(&pem).map_err(|e| {
        SetupError(format!(
            "the private_key in {what} is not a PKCS#8 RSA key: {e}"
        ))
    })?;
    Ok(Signer::Key { email, pem })
}

/// ADC as Google's libraries resolve it: a credentials file when one is configured or
/// gcloud left one, else the metadata server.
async fn application_default() -> Result<Auth, SetupError> {
    match CredentialsFile::new().await {
        Ok(file) if !ADC_TYPES.contains(&file.tp.as_str()) => Err(SetupError(format!(
            "application default credentials of type {:?} are not supported for GCS (use a service-account key, gcloud user credentials or the metadata server)",
            file.tp
        ))),
        Ok(file) => {
            // A service-account key signs locally; user credentials cannot sign (tfr
            // then serves its own signed links).
            let signer = if file.tp == SERVICE_ACCOUNT {
                match key_signer(&file, "the application default credentials") {
                    Ok(signer) => Some(signer),
                    Err(e) => {
                        tracing::warn!(error = %e, "GCS presigned URLs disabled");
                        None
                    }
                }
            } else {
                None
            };
            Ok(Auth {
                token: Some(LazyTokenSource::new(Init::File(Box::new(file)))),
                signer,
            })
        }
        Err(e) if no_adc_file(&e) => Ok(Auth {
            token: Some(LazyTokenSource::new(Init::MetadataServer)),
            signer: Some(Signer::SignBlob {
                email: OnceCell::new(),
                refused_at: Mutex::new(None),
            }),
        }),
        Err(e) => Err(SetupError(format!(
            "application default credentials for GCS: {e}"
        ))),
    }
}

/// No credentials file anywhere (and none was named): the metadata server is next. A
/// named file that is missing or broken is an error instead.
fn no_adc_file(e: &AuthError) -> bool {
    let named = std::env::var_os(ADC_PATH_VAR).is_some_and(|v| !v.is_empty());
    let nothing_found = match e {
        AuthError::CredentialsIOError(io) => io.kind() == std::io::ErrorKind::NotFound,
        AuthError::NoHomeDirectoryFound | AuthError::VarError(_) => true,
        _ => false,
    };
    !named && nothing_found
}

enum Init {
    File(Box<CredentialsFile>),
    MetadataServer,
}

/// A token source made on first use (gcloud-auth's own constructors fetch a token at
/// once), then kept: gcloud-auth caches and refreshes the token itself.
pub(crate) struct LazyTokenSource {
    init: Init,
    inner: OnceCell<Arc<dyn TokenSource>>,
}

impl fmt::Debug for LazyTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match self.init {
            Init::File(_) => "credentials file",
            Init::MetadataServer => "metadata server",
        };
        f.debug_struct("LazyTokenSource")
            .field("source", &source)
            .field("started", &self.inner.initialized())
            .finish()
    }
}

impl LazyTokenSource {
    fn new(init: Init) -> Arc<Self> {
        Arc::new(Self {
            init,
            inner: OnceCell::new(),
        })
    }

    async fn start(&self) -> Result<Arc<dyn TokenSource>, AuthError> {
        let config = Config::default().with_scopes(&SCOPES);
        let provider = match &self.init {
            Init::File(file) => {
                DefaultTokenSourceProvider::new_with_credentials(config, file.clone()).await?
            }
            Init::MetadataServer => DefaultTokenSourceProvider::new(config).await?,
        };
        Ok(provider.token_source())
    }

    /// A `TokenSourceProvider` for gcloud-storage's client, sharing this source.
    pub fn provider(self: &Arc<Self>) -> Box<dyn TokenSourceProvider> {
        Box::new(Provider(self.clone()))
    }
}

#[async_trait]
impl TokenSource for LazyTokenSource {
    /// `Bearer <token>`, ready for the `Authorization` header.
    async fn token(&self) -> Result<String, BoxError> {
        let inner = self
            .inner
            .get_or_try_init(|| self.start())
            .await
            .map_err(|e| Box::new(e) as BoxError)?;
        inner.token().await
    }
}

#[derive(Debug)]
struct Provider(Arc<LazyTokenSource>);

impl TokenSourceProvider for Provider {
    fn token_source(&self) -> Arc<dyn TokenSource> {
        self.0.clone()
    }
}
