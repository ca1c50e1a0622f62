//! `check_writable`: the container can be listed with these credentials, and a probe
//! blob can be written and removed. The error variant names what to fix.

use std::num::NonZeroU32;

use azure_core::prelude::IfMatchCondition;
use azure_core::request_options::MaxResults;
use azure_storage_blobs::prelude::ContainerClient;
use futures::StreamExt;
use tfr_ports::driven::StoreCheckError;

use crate::errors::{check_error, is_blob_absent};

/// `probe_name` is `{prefix}/@probe-<uuid>`: `@` makes it an invalid key, so `list`
/// never reports it even if removing it fails.
pub(crate) async fn check_writable(
    container: &ContainerClient,
    probe_name: String,
) -> Result<(), StoreCheckError> {
    let name = container.container_name().to_string();
    // A GET (listing one name) rather than a HEAD: errors come with a message, which
    // tells bad credentials from missing permissions (see `errors::is_auth_failure`).
    let mut listing = container
        .list_blobs()
        .max_results(MaxResults::new(NonZeroU32::MIN))
        .into_stream();
    if let Some(Err(e)) = listing.next().await {
        return Err(check_error("listing the container", &name, &e));
    }
    let probe = container.blob_client(probe_name);
    probe
        .put_block_blob(bytes::Bytes::from_static(b"tfr write probe\n"))
        .content_type("text/plain")
        .if_match(IfMatchCondition::NotMatch("*".into()))
        .await
        .map_err(|e| check_error("writing a probe blob", &name, &e))?;
    match probe.delete().await {
        Ok(_) => Ok(()),
        Err(e) if is_blob_absent(&e) => Ok(()),
        Err(e) => Err(check_error("deleting the probe blob", &name, &e)),
    }
}
