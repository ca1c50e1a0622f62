//! What tfr records on a blob and how Azure's properties become a [`BlobMeta`].

use azure_storage_blobs::blob::Blob;
use chrono::{DateTime, Utc};
use tfr_ports::driven::BlobMeta;
use time::OffsetDateTime;

/// Metadata name of the body's lower-case hex SHA-256 (`x-ms-meta-sha256`).
pub(crate) const SHA256_META: &str = "sha256";
/// Metadata name of the put that wrote the blob (see `upload`).
pub(crate) const UPLOAD_ID_META: &str = "tfrupload";
/// What Azure would assume anyway; set explicitly so `metadata` and `put` agree.
pub(crate) const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

pub(crate) fn to_chrono(t: OffsetDateTime) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp(t.unix_timestamp(), t.nanosecond())
}

/// Only a well-formed digest counts; anything else in the metadata is ignored.
fn recorded_sha256(blob: &Blob) -> Option<String> {
    let value = blob.metadata.as_ref()?.get(SHA256_META)?;
    let ok = value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| value.to_ascii_lowercase())
}

/// `size` is passed in: on a ranged GET, `Content-Length` is the range's, not the blob's.
pub(crate) fn blob_meta(blob: &Blob, size: u64) -> BlobMeta {
    BlobMeta {
        size,
        sha256: recorded_sha256(blob),
        content_type: Some(blob.properties.content_type.clone()),
        last_modified: to_chrono(blob.properties.last_modified),
    }
}
