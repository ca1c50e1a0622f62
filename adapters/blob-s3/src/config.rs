//! What the app hands the adapter ([`S3Config`]) and how it becomes an SDK client.

use std::fmt;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::meta::region::RegionProviderChain;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};

/// Region used when neither the settings nor the AWS chain name one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Time to open a TCP (and TLS) connection. Streaming calls have no overall limit: a
/// multi-GiB body over a slow link is legitimate.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Per-attempt limit for calls that move no body (HEAD, DELETE, LIST, multipart
/// bookkeeping, and a GET up to its response headers): a hung store fails them instead
/// of blocking a request forever. Retries apply on top.
const QUICK_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and how to reach the bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    /// `None`: from the AWS chain (`AWS_REGION`, profile), falling back to us-east-1.
    pub region: Option<String>,
    /// `""` or `a/b` (no leading or trailing `/`): objects live at `{prefix}/{key}`.
    pub prefix: String,
    /// For S3-compatible stores (MinIO, Ceph, moto, ...).
    pub endpoint: Option<String>,
    /// `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key` (most
    /// S3-compatible stores want this).
    pub force_path_style: bool,
    pub credentials: S3Credentials,
}

/// Which credentials sign requests (and presigned URLs).
#[derive(Clone, PartialEq, Eq)]
pub enum S3Credentials {
    /// The standard AWS chain: environment, profile, web identity (IRSA), ECS container
    /// credentials, instance metadata.
    Chain,
    Static {
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
    },
}

impl fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Chain => f.write_str("Chain"),
            // The key id names the key (AWS logs it too); the secret and token never print.
            Self::Static {
                access_key_id,
                session_token,
                ..
            } => f
                .debug_struct("Static")
                .field("access_key_id", access_key_id)
                .field("secret_access_key", &"<redacted>")
                .field(
                    "session_token",
                    &session_token.as_ref().map(|_| "<redacted>"),
                )
                .finish(),
        }
    }
}

/// A setting the adapter cannot work with.
#[derive(Debug, thiserror::Error)]
#[error("invalid S3 storage settings: {0}")]
pub struct ConfigError(pub String);

/// The bucket and prefix, checked.
#[derive(Clone, Debug)]
pub(crate) struct Location {
    pub bucket: String,
    pub prefix: String,
}

impl S3Config {
    /// Checks the bucket and normalises the prefix (surrounding `/` are dropped).
    pub(crate) fn location(&self) -> Result<Location, ConfigError> {
        let bucket = self.bucket.trim();
        if bucket.is_empty() || bucket.contains('/') {
            return Err(ConfigError(format!(
                "bucket {:?} is not a bucket name",
                self.bucket
            )));
        }
        let prefix = self.prefix.trim().trim_matches('/');
        if prefix.split('/').any(str::is_empty) && !prefix.is_empty() {
            return Err(ConfigError(format!(
                "prefix {:?} has an empty path segment",
                self.prefix
            )));
        }
        Ok(Location {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// Builds the client. Loading the AWS chain reads the environment and profile files;
    /// credentials themselves are resolved lazily, on the first request.
    pub(crate) async fn client(&self) -> (aws_sdk_s3::Client, String) {
        let explicit = self
            .region
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| Region::new(r.to_string()));
        let region = RegionProviderChain::first_try(explicit)
            .or_default_provider()
            .or_else(Region::new(DEFAULT_REGION));
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
        if let S3Credentials::Static {
            access_key_id,
            secret_access_key,
            session_token,
        } = &self.credentials
        {
            loader = loader.credentials_provider(Credentials::new(
                access_key_id,
                secret_access_key,
                session_token.clone(),
                None,
                "tfr-static",
            ));
        }
        let shared = loader.load().await;
        let region = shared
            .region()
            .map_or_else(|| DEFAULT_REGION.to_string(), |r| r.to_string());

        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(self.force_path_style)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .build(),
            )
            // Checksums only where S3 requires them: S3-compatible stores differ in their
            // support for the SDK's default trailing CRC checksums (aws-chunked), and the
            // AWS path should be the one the emulator tests exercise. Small puts carry an
            // explicit SHA-256 instead (see `upload`).
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = self.endpoint.as_deref().filter(|e| !e.trim().is_empty()) {
            builder = builder.endpoint_url(endpoint.trim());
        }
        (aws_sdk_s3::Client::from_conf(builder.build()), region)
    }
}

/// Per-call override for bodiless calls: connect limit plus an attempt limit.
pub(crate) fn quick() -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::default().timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(QUICK_ATTEMPT_TIMEOUT)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(bucket: &str, prefix: &str) -> S3Config {
        S3Config {
            bucket: bucket.into(),
            region: None,
            prefix: prefix.into(),
            endpoint: None,
            force_path_style: false,
            credentials: S3Credentials::Chain,
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let mut c = config("b", "");
        c.credentials = S3Credentials::Static {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "very-secret-key".into(),
            session_token: Some("very-secret-token".into()),
        };
        let shown = format!("{c:?} {c:#?}");
        assert!(shown.contains("AKIDEXAMPLE"), "{shown}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn prefix_is_normalised_and_checked() {
        assert_eq!(config("b", "").location().unwrap().prefix, "");
        assert_eq!(config("b", "/a/b/").location().unwrap().prefix, "a/b");
        assert_eq!(config("b", "tenant").location().unwrap().prefix, "tenant");
        assert!(config("b", "a//b").location().is_err());
        assert!(config("", "a").location().is_err());
        assert!(config("a/b", "").location().is_err());
    }
}
