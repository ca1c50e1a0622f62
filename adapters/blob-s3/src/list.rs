//! `list`: ListObjectsV2 page by page under the prefix (one page in memory at a time).

use futures::stream::{self, BoxStream, StreamExt};
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobListing};

use crate::S3BlobStore;
use crate::config::quick;
use crate::errors::blob_error;

/// Where the listing stands between pages.
enum Page {
    First,
    Next(String),
    Done,
}

impl S3BlobStore {
    pub(crate) fn list_objects(&self) -> BoxStream<'_, Result<BlobListing, BlobError>> {
        let pages = stream::unfold(Page::First, move |page| async move {
            let token = match page {
                Page::First => None,
                Page::Next(token) => Some(token),
                Page::Done => return None,
            };
            match self.list_page(token).await {
                Ok((items, next)) => {
                    let next = next.map_or(Page::Done, Page::Next);
                    Some((Ok(items), next))
                }
                Err(e) => Some((Err(e), Page::Done)),
            }
        });
        pages
            .flat_map(|page| match page {
                Ok(items) => stream::iter(items.into_iter().map(Ok)).boxed(),
                Err(e) => stream::once(async move { Err(e) }).boxed(),
            })
            .boxed()
    }

    /// One page: the tfr objects on it, and the token for the next page if any.
    async fn list_page(
        &self,
        token: Option<String>,
    ) -> Result<(Vec<BlobListing>, Option<String>), BlobError> {
        let scope = self.list_prefix();
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .set_prefix(scope.clone())
            .set_continuation_token(token)
            .customize()
            .config_override(quick())
            .send()
            .await
            .map_err(|e| blob_error("ListObjectsV2", scope.as_deref().unwrap_or(""), e))?;
        let items = out
            .contents()
            .iter()
            .filter_map(|object| {
                let name = object.key()?;
                let relative = match &scope {
                    Some(scope) => name.strip_prefix(scope.as_str())?,
                    None => name,
                };
                // Probes, foreign objects and "directory" markers are not tfr's keys.
                let key = BlobKey::parse(relative).ok()?;
                let size = object
                    .size()
                    .and_then(|s| u64::try_from(s).ok())
                    .unwrap_or(0);
                Some(BlobListing { key, size })
            })
            .collect();
        let next = match out.is_truncated() {
            Some(true) => out.next_continuation_token().map(str::to_string),
            _ => None,
        };
        Ok((items, next))
    }

    /// `{prefix}/`, or nothing for a store at the bucket's root.
    fn list_prefix(&self) -> Option<String> {
        (!self.prefix.is_empty()).then(|| format!("{}/", self.prefix))
    }
}
