//! `check_writable`: the bucket exists and takes a write, shown by real calls.

use bytes::Bytes;
use gcloud_storage::http::buckets::get::GetBucketRequest;
use tfr_ports::driven::StoreCheckError;

use crate::GcsBlobStore;
use crate::errors::{check_error, describe, status};
use crate::upload::NewObject;

const PROBE_BODY: &[u8] = b"tfr write probe\n";

impl GcsBlobStore {
    pub(crate) async fn check(&self) -> Result<(), StoreCheckError> {
        let bucket = &self.bucket;
        let req = GetBucketRequest {
            bucket: bucket.clone(),
            ..Default::default()
        };
        match self.client.get_bucket(&req).await {
            Ok(_) => {}
            // Object-only roles (roles/storage.objectAdmin) may not read the bucket's
            // metadata yet write fine: let the probe decide.
            Err(e) if status(&e) == Some(403) => {
                tracing::debug!(bucket = %bucket, error = %describe(&e), "bucket metadata not readable; probing a write");
            }
            Err(e) => {
                return Err(check_error(
                    format_args!("reading bucket {bucket} at {}", self.endpoint.base),
                    bucket,
                    &e,
                ));
            }
        }
        let probe = self.names.probe();
        let new = NewObject {
            name: &probe,
            content_type: Some("text/plain"),
            sha256: None,
        };
        self.insert(&new, Bytes::from_static(PROBE_BODY))
            .await
            .map_err(|e| {
                check_error(
                    format_args!("writing {probe} in bucket {bucket}"),
                    bucket,
                    &e,
                )
            })?;
        self.delete_name(&probe).await.map_err(|e| {
            check_error(
                format_args!("removing {probe} from bucket {bucket}"),
                bucket,
                &e,
            )
        })
    }
}
