//! `check_writable`: the startup check, with an error that names what to fix.

use aws_sdk_s3::primitives::ByteStream as SdkBody;
use tfr_ports::driven::StoreCheckError;

use crate::S3BlobStore;
use crate::config::quick;
use crate::errors::{Failure, check_error, classify};

impl S3BlobStore {
    /// HeadBucket (the bucket exists, the credentials are good, the region is right),
    /// then a probe object written and removed under the prefix. The probe's name
    /// (`@probe-<uuid>`) is never a valid `BlobKey`, so `list` skips it if it lingers.
    pub(crate) async fn check(&self) -> Result<(), StoreCheckError> {
        let head = self
            .client
            .head_bucket()
            .bucket(&self.bucket)
            .customize()
            .config_override(quick())
            .send()
            .await;
        if let Err(e) = head {
            let failure = classify(&e);
            if failure == Failure::AccessDenied {
                // A HEAD answer carries no error code: ask again with a GET to tell bad
                // credentials from missing permissions.
                return Err(self
                    .explain_refusal()
                    .await
                    .unwrap_or_else(|| check_error("HeadBucket", self, &e)));
            }
            return Err(check_error("HeadBucket", self, &e));
        }

        let probe = self.object_name(&format!("@probe-{}", uuid::Uuid::new_v4()));
        let put = |body: &'static [u8]| {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(&probe)
                .if_none_match("*")
                .body(SdkBody::from(bytes::Bytes::from_static(body)))
                .customize()
                .config_override(quick())
                .send()
        };
        put(b"tfr write probe\n")
            .await
            .map_err(|e| check_error("writing a probe object", self, &e))?;
        // tfr relies on conditional creates to keep blobs immutable; a store that ignores
        // them still works (the HEAD before each put refuses most overwrites), but say so.
        match put(b"tfr write probe, again\n").await {
            Ok(_) => tracing::warn!(
                bucket = %self.bucket,
                "the S3 store ignores If-None-Match on PutObject: concurrent writers of one key could replace each other"
            ),
            Err(e) if classify(&e) == Failure::AlreadyExists => {}
            Err(e) => tracing::warn!(
                bucket = %self.bucket,
                error = %crate::errors::describe(&e),
                "unexpected answer to a conditional probe write"
            ),
        }
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&probe)
            .customize()
            .config_override(quick())
            .send()
            .await
            .map_err(|e| check_error("deleting a probe object", self, &e))?;
        tracing::debug!(bucket = %self.bucket, prefix = %self.prefix, "s3 store is writable");
        Ok(())
    }

    /// Lists one key to learn why HeadBucket was refused; `None` if that tells nothing.
    async fn explain_refusal(&self) -> Option<StoreCheckError> {
        let err = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .max_keys(1)
            .customize()
            .config_override(quick())
            .send()
            .await
            .err()?;
        Some(check_error("HeadBucket", self, &err))
    }
}
