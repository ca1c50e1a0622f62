//! Reading and removing objects: metadata, streamed downloads, deletes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use gcloud_storage::http::objects::Object;
use gcloud_storage::http::objects::delete::DeleteObjectRequest;
use gcloud_storage::http::objects::download::Range;
use gcloud_storage::http::objects::get::GetObjectRequest;
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobMeta, BlobObject};
use tfr_ports::stream::ByteStream;

use crate::GcsBlobStore;
use crate::errors::{GcsFailure, blob_error, describe, status};

/// The custom-metadata field holding the object's lower-case hex SHA-256.
pub(crate) const SHA256_FIELD: &str = "sha256";

impl GcsBlobStore {
    /// The object's resource, `None` when absent.
    pub(crate) async fn stat(&self, name: &str) -> Result<Option<Object>, BlobError> {
        let req = GetObjectRequest {
            bucket: self.bucket.clone(),
            object: name.to_string(),
            ..Default::default()
        };
        match self.client.get_object(&req).await {
            Ok(object) => Ok(Some(object)),
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(blob_error(format_args!("reading metadata of {name}"), &e)),
        }
    }

    pub(crate) async fn open(&self, key: &BlobKey) -> Result<Option<BlobObject>, BlobError> {
        let name = self.names.object(key);
        let Some(object) = self.stat(&name).await? else {
            return Ok(None);
        };
        // Pinned to the generation just read, so body and metadata belong together.
        let req = GetObjectRequest {
            bucket: self.bucket.clone(),
            object: name,
            generation: (object.generation != 0).then_some(object.generation),
            ..Default::default()
        };
        let stream = match self
            .client
            .download_streamed_object(&req, &Range::default())
            .await
        {
            Ok(stream) => stream,
            // Deleted between the two calls.
            Err(e) if status(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(blob_error(format_args!("downloading {key}"), &e)),
        };
        let body: ByteStream =
            Box::pin(stream.map_err(|e| std::io::Error::other(GcsFailure(describe(&e)))));
        Ok(Some(BlobObject {
            meta: blob_meta(&object),
            body,
        }))
    }

    pub(crate) async fn remove(&self, key: &BlobKey) -> Result<(), BlobError> {
        let name = self.names.object(key);
        self.delete_name(&name)
            .await
            .map_err(|e| blob_error(format_args!("deleting {key}"), &e))
    }

    /// Deletes an object by name; an absent object is not an error.
    pub(crate) async fn delete_name(&self, name: &str) -> Result<(), gcloud_storage::http::Error> {
        let req = DeleteObjectRequest {
            bucket: self.bucket.clone(),
            object: name.to_string(),
            ..Default::default()
        };
        match self.client.delete_object(&req).await {
            Err(e) if status(&e) == Some(404) => Ok(()),
            other => other,
        }
    }
}

pub(crate) fn blob_meta(object: &Object) -> BlobMeta {
    BlobMeta {
        size: u64::try_from(object.size).unwrap_or(0),
        sha256: recorded_sha256(object.metadata.as_ref()),
        content_type: object.content_type.clone(),
        // The content's age: `updated` also moves when metadata is patched.
        last_modified: object.time_created.or(object.updated).and_then(to_chrono),
    }
}

/// The recorded digest when it looks like one (anyone with bucket access can edit it).
fn recorded_sha256(metadata: Option<&HashMap<String, String>>) -> Option<String> {
    let value = metadata?.get(SHA256_FIELD)?;
    (value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| value.to_ascii_lowercase())
}

fn to_chrono(t: time::OffsetDateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_from_an_object() {
        let sha = "AB".repeat(32);
        let object = Object {
            size: 42,
            content_type: Some("application/zip".into()),
            metadata: Some(HashMap::from([(SHA256_FIELD.to_string(), sha)])),
            time_created: Some(time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()),
            ..Default::default()
        };
        let meta = blob_meta(&object);
        assert_eq!(meta.size, 42);
        assert_eq!(meta.sha256, Some("ab".repeat(32)));
        assert_eq!(meta.content_type.as_deref(), Some("application/zip"));
        assert_eq!(
            meta.last_modified.map(|t| t.timestamp()),
            Some(1_700_000_000)
        );
    }

    #[test]
    fn odd_metadata_is_ignored() {
        let object = Object {
            size: -1,
            metadata: Some(HashMap::from([(SHA256_FIELD.to_string(), "nope".into())])),
            ..Default::default()
        };
        let meta = blob_meta(&object);
        assert_eq!(meta.size, 0);
        assert_eq!(meta.sha256, None);
    }
}
