//! `put_staged` sends a staged file straight from disk: one Put Blob under a block,
//! blocks read from the file beyond, with the file's SHA-256 and content type recorded,
//! never over an existing blob, and nothing committed when the file is shorter than
//! recorded.

mod common;

use azure_storage_blobs::blob::{BlobBlockType, BlockListType};
use tfr_blob_azure::BLOCK_SIZE;
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobStore};
use tfr_ports::testkit::blob::{payload, read_all, sha256_hex, stage_bytes};

use common::*;

const CONTAINER: &str = "tfr-staged";
const MIB: usize = 1 << 20;

fn key(name: &str) -> BlobKey {
    BlobKey::parse(name).expect("key")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staged_files_round_trip_whatever_their_size() -> anyhow::Result<()> {
    let emu = azurite_with(CONTAINER).await?;
    let store = store(&emu, CONTAINER, "tenant");
    for (name, len) in [
        // Several blocks, the last one short.
        ("staged/large.zip", 20 * MIB + 12345),
        // Exactly one block, one byte more (two blocks), and a small file.
        ("staged/one-block.zip", BLOCK_SIZE),
        ("staged/one-block-and-a-byte.zip", BLOCK_SIZE + 1),
        ("staged/small.zip", 300 * 1024),
        ("staged/empty.zip", 0),
    ] {
        let data = payload(len as u64, len);
        let (staged, dir) = stage_bytes(&data).await;
        let k = key(name);
        let meta = store
            .put_staged(&k, &staged, Some("application/zip".into()))
            .await
            .unwrap_or_else(|e| panic!("{name}: put_staged: {e:?}"));
        assert_eq!(meta.size, data.len() as u64, "{name}: meta size");
        assert_eq!(
            meta.sha256.as_deref(),
            Some(sha256_hex(&data).as_str()),
            "{name}: meta sha256"
        );
        assert_eq!(meta.content_type.as_deref(), Some("application/zip"));

        let again = store.put_staged(&k, &staged, None).await;
        assert!(
            matches!(again, Err(BlobError::AlreadyExists(_))),
            "{name}: a second put_staged must be refused, got {again:?}"
        );
        drop(staged);
        let _ = std::fs::remove_dir_all(&dir);

        let head = store.metadata(&k).await?.expect("present");
        assert_eq!(head.size, data.len() as u64, "{name}: stored size");
        assert_eq!(
            head.sha256.as_deref(),
            Some(sha256_hex(&data).as_str()),
            "{name}: recorded sha256"
        );
        assert_eq!(head.content_type.as_deref(), Some("application/zip"));
        let obj = store.get(&k).await?.expect("present");
        let body = read_all(obj.body).await?;
        assert_eq!(body.len(), data.len(), "{name}: body length");
        assert!(body == data, "{name}: body differs");

        if len >= BLOCK_SIZE {
            // Block path: every block committed, all full but the last.
            let blocks = raw_container(&emu, CONTAINER)
                .blob_client(format!("tenant/{name}"))
                .get_block_list()
                .block_list_type(BlockListType::All)
                .await?
                .block_with_size_list
                .blocks;
            let sizes: Vec<u64> = blocks.iter().map(|b| b.size_in_bytes).collect();
            let mut want = vec![BLOCK_SIZE as u64; len / BLOCK_SIZE];
            if len % BLOCK_SIZE != 0 {
                want.push((len % BLOCK_SIZE) as u64);
            }
            assert_eq!(sizes, want, "{name}: committed blocks");
            assert!(
                blocks
                    .iter()
                    .all(|b| matches!(b.block_list_type, BlobBlockType::Committed(_))),
                "{name}: nothing left uncommitted"
            );
        }
    }
    Ok(())
}

/// A staged file cut short on disk after staging is a `Body` error, and nothing is
/// committed, whether it would have gone up as blocks or as one Put Blob.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_truncated_staged_file_is_a_body_error_and_stores_nothing() -> anyhow::Result<()> {
    let emu = azurite_with(CONTAINER).await?;
    let store = store(&emu, CONTAINER, "tenant");
    for (name, len, cut) in [
        ("short/large.zip", 20 * MIB + 12345, 17 * MIB),
        ("short/small.zip", 300 * 1024, 100 * 1024),
    ] {
        let data = payload(5, len);
        let (staged, dir) = stage_bytes(&data).await;
        std::fs::OpenOptions::new()
            .write(true)
            .open(staged.path())?
            .set_len(cut as u64)?;
        let k = key(name);
        let result = store.put_staged(&k, &staged, None).await;
        assert!(
            matches!(result, Err(BlobError::Body(_))),
            "{name}: wanted a Body error, got {result:?}"
        );
        assert!(!store.exists(&k).await?, "{name}: nothing may be stored");
        drop(staged);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
