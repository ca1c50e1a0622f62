//! V4 signed GET URLs (`GOOG4-RSA-SHA256`), made by gcloud-storage's signer.
//!
//! Two things are supplied here: the host (the crate's path style always names
//! `storage.googleapis.com`, which would be wrong with an emulator or private endpoint)
//! and the object path, percent-encoded per segment like Google's Go client does. The
//! crate would leave a `+` (valid in keys) raw in the URL yet sign it as `%20`; encoded
//! here, the URL and the signed path agree.

use std::time::Duration;

use gcloud_storage::sign::{SignedURLError, SignedURLMethod, SignedURLOptions, URLStyle};
use tfr_core::BlobKey;
use tfr_ports::driven::BlobError;

use crate::GcsBlobStore;
use crate::config::Endpoint;
use crate::errors::{GcsFailure, blob_error, describe, status};

/// GCS refuses V4 signatures valid for longer than seven days.
pub(crate) const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// After IAM refuses to sign, how long tfr serves its own links before asking again
/// (IAM grants take minutes to apply, so a fix is picked up without a restart).
const SIGN_BLOB_COOLDOWN: Duration = Duration::from_secs(10 * 60);

impl GcsBlobStore {
    pub(crate) async fn presign(
        &self,
        key: &BlobKey,
        ttl: Duration,
    ) -> Result<Option<String>, BlobError> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        if signer.recently_refused(SIGN_BLOB_COOLDOWN) {
            return Ok(None);
        }
        let (email, sign_by) = signer.identity().await.map_err(BlobError::Unavailable)?;
        let options = SignedURLOptions {
            method: SignedURLMethod::GET,
            // Whole seconds (the URL carries seconds), at least one.
            expires: Duration::from_secs(ttl.min(MAX_TTL).as_secs().max(1)),
            style: Box::new(EndpointStyle::new(&self.endpoint)),
            insecure: self.endpoint.insecure,
            ..Default::default()
        };
        let name = self.names.object(key);
        // Errors name the key, never the URL or its signature.
        match self
            .client
            .signed_url(&self.bucket, &name, Some(email), Some(sign_by), options)
            .await
        {
            Ok(url) => Ok(Some(url)),
            // The account may not sign (no signBlob permission, IAM Credentials API off):
            // a setup gap, not an outage. tfr's own signed links still work.
            Err(SignedURLError::SignBlob(e)) if matches!(status(&e), Some(400 | 403 | 404)) => {
                // Logged at most once per cooldown: later calls return early above.
                signer.note_refusal();
                tracing::warn!(
                    error = %describe(&e),
                    "GCS cannot sign URLs through IAM signBlob; serving tfr's own signed links. Grant the service account roles/iam.serviceAccountTokenCreator on itself and enable the IAM Service Account Credentials API."
                );
                Ok(None)
            }
            Err(SignedURLError::SignBlob(e)) => Err(blob_error(
                format_args!("signing a URL for {key} through IAM signBlob"),
                &e,
            )),
            Err(e) => Err(BlobError::Internal(Box::new(GcsFailure(format!(
                "signing a URL for {key}: {e}"
            ))))),
        }
    }
}

/// Path-style URLs on the configured endpoint.
struct EndpointStyle {
    authority: String,
    base_path: String,
}

impl EndpointStyle {
    fn new(endpoint: &Endpoint) -> Self {
        Self {
            authority: endpoint.authority.clone(),
            base_path: endpoint.path.clone(),
        }
    }
}

impl URLStyle for EndpointStyle {
    fn host(&self, _bucket: &str) -> String {
        self.authority.clone()
    }

    fn path(&self, bucket: &str, object: &str) -> String {
        format!("{}/{bucket}/{}", self.base_path, encode_path(object))
    }
}

/// Percent-encodes all but RFC 3986 unreserved characters and the `/` between segments.
fn encode_path(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_per_segment() {
        assert_eq!(encode_path("a/b-1.0.0+x_y~z.zip"), "a/b-1.0.0%2Bx_y~z.zip");
        assert_eq!(encode_path("@probe é"), "%40probe%20%C3%A9");
    }

    #[test]
    fn style_uses_the_endpoint() {
        let endpoint = Endpoint::parse(Some("http://127.0.0.1:9023/base")).unwrap();
        let style = EndpointStyle::new(&endpoint);
        assert_eq!(style.host("bkt"), "127.0.0.1:9023");
        assert_eq!(style.path("bkt", "p/k+1"), "/base/bkt/p/k%2B1");
    }
}
