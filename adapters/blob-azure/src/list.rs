//! `list`: the container's blobs under the prefix, a page (up to 5,000 names) at a
//! time, as keys. Names that are not valid keys (probes, foreign files) are skipped.

use std::num::NonZeroU32;

use azure_core::request_options::MaxResults;
use azure_storage_blobs::prelude::ContainerClient;
use futures::stream::{self, BoxStream, StreamExt};
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobListing};

use crate::errors::blob_error;

const PAGE: NonZeroU32 = NonZeroU32::new(5000).expect("non-zero");

/// `prefix` is `"a/b/"` (stripped from every name) or `None` for the whole container.
pub(crate) fn list(
    container: &ContainerClient,
    prefix: Option<String>,
) -> BoxStream<'static, Result<BlobListing, BlobError>> {
    let mut request = container.list_blobs().max_results(MaxResults::new(PAGE));
    if let Some(prefix) = &prefix {
        request = request.prefix(prefix.clone());
    }
    let strip = prefix.unwrap_or_default();
    request
        .into_stream()
        .flat_map(move |page| {
            let items: Vec<Result<BlobListing, BlobError>> = match page {
                Ok(page) => page
                    .blobs
                    .blobs()
                    .filter_map(|blob| {
                        let key = BlobKey::parse(blob.name.strip_prefix(strip.as_str())?).ok()?;
                        Some(Ok(BlobListing {
                            key,
                            size: blob.properties.content_length,
                        }))
                    })
                    .collect(),
                // The SDK ends the stream after an error.
                Err(e) => vec![Err(blob_error("listing blobs", e))],
            };
            stream::iter(items)
        })
        .boxed()
}
