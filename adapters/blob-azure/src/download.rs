//! `get`: one GET whose body is handed on as a stream, never collected.
//!
//! The SDK always sends a range; asking for one larger than any blob gets the whole
//! blob in one response. Any range on an empty blob is refused (416 InvalidRange, on
//! Azure and Azurite alike), so that case is confirmed with a HEAD.

use bytes::Bytes;
use futures::{StreamExt, stream};
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobObject};
use tfr_ports::stream::ByteStream;

use azure_storage_blobs::prelude::BlobClient;

use crate::errors::{blob_error, io_error, is_blob_absent, status};
use crate::meta::blob_meta;

/// Larger than any blob (Azure's limit is about 190 TiB), small enough for every parser.
const WHOLE_BLOB: u64 = 1 << 50;

pub(crate) async fn get(blob: &BlobClient, key: &BlobKey) -> Result<Option<BlobObject>, BlobError> {
    let mut pages = blob.get().chunk_size(WHOLE_BLOB).into_stream();
    let first = match pages.next().await {
        Some(Ok(first)) => first,
        Some(Err(e)) if is_blob_absent(&e) => return Ok(None),
        Some(Err(e)) if status(&e) == Some(416) => {
            return empty_blob(blob, key, e).await;
        }
        Some(Err(e)) => return Err(blob_error(&format!("reading {key}"), e)),
        None => {
            return Err(BlobError::Internal(
                format!("azure: reading {key}: no response").into(),
            ));
        }
    };
    let meta = blob_meta(&first.blob, first.blob.properties.content_length);
    // Further pages only if the service ever cut the range short.
    let rest = pages.flat_map(|page| match page {
        Ok(page) => page.data.map(|r| r.map_err(io_error)).boxed(),
        Err(e) => stream::once(async move { Err(io_error(e)) }).boxed(),
    });
    let body: ByteStream = Box::pin(first.data.map(|r| r.map_err(io_error)).chain(rest));
    Ok(Some(BlobObject { meta, body }))
}

/// After a failed ranged GET: an empty blob (served as an empty stream), an absent one,
/// or the original error.
async fn empty_blob(
    blob: &BlobClient,
    key: &BlobKey,
    original: azure_core::Error,
) -> Result<Option<BlobObject>, BlobError> {
    match blob.get_properties().await {
        Ok(props) if props.blob.properties.content_length == 0 => Ok(Some(BlobObject {
            meta: blob_meta(&props.blob, 0),
            body: Box::pin(stream::empty::<std::io::Result<Bytes>>()),
        })),
        Err(e) if is_blob_absent(&e) => Ok(None),
        _ => Err(blob_error(&format!("reading {key}"), original)),
    }
}
