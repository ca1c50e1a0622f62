//! `list`: every object under the prefix, page by page, as keys.

use futures::stream::{self, BoxStream, StreamExt};
use gcloud_storage::http::objects::list::ListObjectsRequest;
use tfr_ports::driven::{BlobError, BlobListing};

use crate::GcsBlobStore;
use crate::errors::blob_error;

const PAGE_SIZE: i32 = 1000;

/// Where the listing stands between pages.
enum Page {
    Next(Option<String>),
    Done,
}

impl GcsBlobStore {
    pub(crate) fn list_stream(&self) -> BoxStream<'_, Result<BlobListing, BlobError>> {
        stream::unfold(Page::Next(None), move |page| async move {
            let Page::Next(token) = page else {
                return None;
            };
            let req = ListObjectsRequest {
                bucket: self.bucket.clone(),
                prefix: self.names.list_prefix(),
                page_token: token,
                max_results: Some(PAGE_SIZE),
                ..Default::default()
            };
            match self.client.list_objects(&req).await {
                Ok(resp) => {
                    let items: Vec<Result<BlobListing, BlobError>> = resp
                        .items
                        .unwrap_or_default()
                        .into_iter()
                        // Probes, folder placeholders, foreign objects: not tfr's.
                        .filter_map(|object| {
                            let key = self.names.key(&object.name)?;
                            let size = u64::try_from(object.size).unwrap_or(0);
                            Some(Ok(BlobListing { key, size }))
                        })
                        .collect();
                    let next = match resp.next_page_token.filter(|t| !t.is_empty()) {
                        Some(token) => Page::Next(Some(token)),
                        None => Page::Done,
                    };
                    Some((items, next))
                }
                Err(e) => {
                    let failed = blob_error(format_args!("listing bucket {}", self.bucket), &e);
                    Some((vec![Err(failed)], Page::Done))
                }
            }
        })
        .flat_map(stream::iter)
        .boxed()
    }
}
