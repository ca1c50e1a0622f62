//! Download links. Terraform never sends its token when it fetches an archive, zip,
//! SHA256SUMS or signature, so every link tfr hands out is short-lived and signed: the
//! backend's own presigned URL where it can sign, else tfr's HMAC-signed `/v1/files/` link.

use std::sync::Arc;
use std::time::Duration;

use tfr_core::BlobKey;

use crate::driven::{BlobStore, Clock, UrlSigner};
use crate::service::ServiceError;

/// The path under which tfr serves its own signed links.
pub const FILES_PATH: &str = "/v1/files/";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("download link has expired")]
    Expired,
    #[error("download link signature is invalid")]
    BadSignature,
}

pub struct DownloadLinks {
    blobs: Arc<dyn BlobStore>,
    signer: Arc<dyn UrlSigner>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    /// Absolute base such as `https://registry.example.com` (from `TFR_PUBLIC_URL`); when
    /// unset, links are root-relative, which Terraform resolves against the response URL.
    public_base: Option<String>,
}

impl DownloadLinks {
    pub fn new(
        blobs: Arc<dyn BlobStore>,
        signer: Arc<dyn UrlSigner>,
        clock: Arc<dyn Clock>,
        ttl: Duration,
        public_base: Option<String>,
    ) -> Self {
        Self {
            blobs,
            signer,
            clock,
            ttl,
            public_base: public_base.map(|b| b.trim_end_matches('/').to_string()),
        }
    }

    /// A link to `key` valid for the configured TTL.
    pub async fn link(&self, key: &BlobKey) -> Result<String, ServiceError> {
        if let Some(url) = self.blobs.presigned_url(key, self.ttl).await? {
            return Ok(url);
        }
        Ok(self.own_link(key))
    }

    /// tfr's own signed link: `{base}/v1/files/{key}?expires=..&signature=..`. The query
    /// keys are already in sorted order, so go-getter's re-encoding keeps them intact.
    pub fn own_link(&self, key: &BlobKey) -> String {
        let expires = self.clock.now().timestamp() + self.ttl.as_secs() as i64;
        let signature = self.signer.sign(key.as_str(), expires);
        format!(
            "{}{FILES_PATH}{}?expires={expires}&signature={signature}",
            self.public_base.as_deref().unwrap_or(""),
            key.as_str()
        )
    }

    /// `expires=..&signature=..` for a tfr route that is not a blob (a mirror archive
    /// fetched on demand): `resource` names what the signature covers.
    pub fn signed_query(&self, resource: &str) -> String {
        let expires = self.clock.now().timestamp() + self.ttl.as_secs() as i64;
        let signature = self.signer.sign(resource, expires);
        format!("expires={expires}&signature={signature}")
    }

    /// Checks a presented link; the key must then still be parsed and fetched.
    pub fn verify(&self, key: &str, expires: i64, signature: &str) -> Result<(), LinkError> {
        if !self.signer.verify(key, expires, signature) {
            return Err(LinkError::BadSignature);
        }
        if expires < self.clock.now().timestamp() {
            return Err(LinkError::Expired);
        }
        Ok(())
    }
}
