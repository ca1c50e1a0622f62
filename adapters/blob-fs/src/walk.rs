//! `list`: a depth-first walk of the root on a blocking thread, sending each object as it
//! is found (bounded channel: memory stays flat however many objects there are).

use std::path::Path;

use futures::stream::{self, BoxStream, StreamExt};
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobListing};
use tokio::sync::mpsc::{Receiver, Sender};

use crate::publish::io_failure;

type Item = Result<BlobListing, BlobError>;

/// Walks `root`, skipping every name with `@` (sidecars, temp and staging directories,
/// probes) and anything that is not a valid key. Stops when the receiver goes away.
pub fn list_blobs(root: &Path, tx: &Sender<Item>) {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                let _ = tx.blocking_send(Err(io_failure(format!("listing {}", dir.display()), e)));
                return;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    let _ =
                        tx.blocking_send(Err(io_failure(format!("listing {}", dir.display()), e)));
                    return;
                }
            };
            let name = entry.file_name();
            if name.to_string_lossy().contains('@') {
                continue;
            }
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            let Some(key) = path
                .strip_prefix(root)
                .ok()
                .and_then(|rel| rel.to_str())
                .and_then(|rel| BlobKey::parse(rel).ok())
            else {
                continue;
            };
            let item = BlobListing {
                key,
                size: meta.len(),
            };
            if tx.blocking_send(Ok(item)).is_err() {
                return;
            }
        }
    }
}

/// The receiving end as a stream.
pub fn receiver_stream(rx: Receiver<Item>) -> BoxStream<'static, Item> {
    stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed()
}
