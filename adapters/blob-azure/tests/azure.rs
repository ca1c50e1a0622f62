//! Azure-specific behaviour against azurite: SAS URLs (re-encoded, expired, tampered),
//! the startup check's error variants, uploads that fail midway (nothing is left), and
//! the block upload path.

mod common;

use std::io;
use std::time::Duration;

use azure_storage_blobs::blob::{BlobBlockType, BlockListType};
use bytes::Bytes;
use futures::{StreamExt, stream};
use tfr_blob_azure::{AzureBlobStore, AzureCredentials, BLOCK_SIZE};
use tfr_core::BlobKey;
use tfr_emulators::{AZURITE_ACCOUNT, AZURITE_KEY};
use tfr_ports::driven::{BlobError, BlobStore, PutExpectation, StoreCheckError};
use tfr_ports::stream::ByteStream;
use tfr_ports::testkit::blob::{bytes_stream, read_all, sha256_hex};
use tfr_ports::testkit::go_getter::requery;

use common::*;

const CONTAINER: &str = "tfr-azure";

fn key(name: &str) -> BlobKey {
    BlobKey::parse(name).expect("valid key")
}

/// `len` bytes of a cheap pattern that still differs block to block.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 20) as u8)
        .collect()
}

/// `data` in 1 MiB chunks.
fn chunked(data: Vec<u8>) -> ByteStream {
    let data = Bytes::from(data);
    let chunks: Vec<io::Result<Bytes>> = (0..data.len())
        .step_by(1 << 20)
        .map(|s| Ok(data.slice(s..(s + (1 << 20)).min(data.len()))))
        .collect();
    Box::pin(stream::iter(chunks))
}

/// The URL with query parameter `name` set to `value` (same encoding otherwise).
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("url");
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

fn param(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in the SAS"))
}

async fn put_small(store: &AzureBlobStore, k: &BlobKey, data: &[u8]) {
    store
        .put(k, bytes_stream(data.to_vec()), PutExpectation::default())
        .await
        .expect("put");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sas_urls_survive_go_reencoding_and_refuse_tampering_and_expiry() -> anyhow::Result<()> {
    let emu = azurite_with(CONTAINER).await?;
    let store = store(&emu, CONTAINER, "sas/prefix");
    let fetch = fetcher();
    let k = key("providers/hashicorp/aws/5.0.0/terraform-provider-aws_5.0.0_linux_amd64.zip");
    let data = pattern(70_000, 3);
    put_small(&store, &k, &data).await;

    let url = store
        .presigned_url(&k, Duration::from_secs(300))
        .await?
        .expect("azure signs URLs");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(param(&url, "sp"), "r", "read-only");
    assert_eq!(param(&url, "sr"), "b", "one blob");
    assert!(
        url.contains("/sas/prefix/providers/"),
        "blob path under the prefix"
    );

    let (status, body) = fetch(url.clone()).await;
    assert_eq!(status, 200, "as signed");
    assert_eq!(body, data);

    let reencoded = requery(&url);
    assert_ne!(reencoded, url, "the re-encoding changes the query");
    let (status, body) = fetch(reencoded.clone()).await;
    assert_eq!(
        status, 200,
        "re-sorted and re-encoded like url.Values.Encode"
    );
    assert_eq!(sha256_hex(&body), sha256_hex(&data));

    // Tampering: another signature, a later expiry, more permissions.
    let sig = param(&url, "sig");
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    let tampered_sig = with_param(&url, "sig", &format!("{flipped}{}", &sig[1..]));
    assert_eq!(fetch(tampered_sig).await.0, 403, "changed sig");
    let later = param(&url, "se").replacen("20", "21", 1);
    assert_eq!(
        fetch(with_param(&url, "se", &later)).await.0,
        403,
        "changed se"
    );
    assert_eq!(
        fetch(with_param(&url, "sp", "rw")).await.0,
        403,
        "changed sp"
    );
    // The signature is for this blob only.
    let other = key("providers/other.zip");
    put_small(&store, &other, b"other").await;
    let moved = url.replace(
        "hashicorp/aws/5.0.0/terraform-provider-aws_5.0.0_linux_amd64.zip",
        "other.zip",
    );
    assert!(
        moved.contains("/sas/prefix/providers/other.zip?"),
        "{moved}"
    );
    assert_eq!(fetch(moved).await.0, 403, "another blob with this SAS");

    // Expiry.
    let short = store
        .presigned_url(&k, Duration::from_secs(1))
        .await?
        .expect("url");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(fetch(short).await.0, 403, "expired SAS");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_writable_names_what_is_wrong() -> anyhow::Result<()> {
    let mut emu = azurite_with(CONTAINER).await?;

    store(&emu, CONTAINER, "p").check_writable().await?;
    // The probe is gone and was never a key.
    let leftovers: Vec<_> = raw_container(&emu, CONTAINER)
        .list_blobs()
        .into_stream()
        .collect()
        .await;
    let names: Vec<String> = leftovers
        .into_iter()
        .flat_map(|page| {
            page.expect("list")
                .blobs
                .blobs()
                .map(|b| b.name.clone())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(names.is_empty(), "probe left behind: {names:?}");

    match store(&emu, "no-such-container", "").check_writable().await {
        Err(StoreCheckError::BucketMissing(name)) => {
            assert!(name.contains("no-such-container"), "{name}")
        }
        other => panic!("missing container: {other:?}"),
    }

    let mut wrong = config(&emu, CONTAINER, "");
    // A valid base64 key of the right length that is not the account's.
    wrong.credentials = AzureCredentials::AccountKey(AZURITE_KEY.replace('E', "F"));
    match AzureBlobStore::new(wrong)?.check_writable().await {
        Err(StoreCheckError::CredentialsRejected(msg)) => {
            assert!(!msg.contains(&AZURITE_KEY.replace('E', "F")), "{msg}")
        }
        other => panic!("wrong key: {other:?}"),
    }

    // The same through a connection string.
    let via_cs = AzureBlobStore::new(tfr_blob_azure::AzureConfig {
        account: String::new(),
        container: CONTAINER.into(),
        prefix: String::new(),
        endpoint: None,
        credentials: AzureCredentials::ConnectionString(emu.azurite_connection_string()),
    })?;
    via_cs.check_writable().await?;
    assert!(!format!("{via_cs:?}").contains(AZURITE_KEY));

    let s = store(&emu, CONTAINER, "");
    emu.stop().await;
    match s.check_writable().await {
        Err(StoreCheckError::Unreachable(_)) => {}
        other => panic!("stopped emulator: {other:?}"),
    }
    // Operations say "unavailable", too.
    match s.metadata(&key("a/b")).await {
        Err(BlobError::Unavailable(_)) => {}
        other => panic!("metadata on a stopped emulator: {other:?}"),
    }
    emu.restart().await?;
    s.check_writable().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_go_up_in_blocks_with_the_digest_recorded() -> anyhow::Result<()> {
    let emu = azurite_with(CONTAINER).await?;
    let store = store(&emu, CONTAINER, "big");
    let k = key("large/twenty.bin");
    let data = pattern(20 * 1024 * 1024, 9);
    let sha = sha256_hex(&data);
    let meta = store
        .put(
            &k,
            chunked(data.clone()),
            PutExpectation {
                sha256: Some(sha.clone()),
                size: Some(data.len() as u64),
                content_type: Some("application/zip".into()),
            },
        )
        .await?;
    assert_eq!(meta.sha256.as_deref(), Some(sha.as_str()));
    assert_eq!(meta.size, data.len() as u64);

    let stored = store.metadata(&k).await?.expect("present");
    assert_eq!(
        stored.sha256.as_deref(),
        Some(sha.as_str()),
        "x-ms-meta-sha256"
    );
    assert_eq!(stored.size, data.len() as u64);
    assert_eq!(stored.content_type.as_deref(), Some("application/zip"));
    let blocks = raw_container(&emu, CONTAINER)
        .blob_client("big/large/twenty.bin")
        .get_block_list()
        .block_list_type(BlockListType::All)
        .await?
        .block_with_size_list
        .blocks;
    let sizes: Vec<u64> = blocks.iter().map(|b| b.size_in_bytes).collect();
    assert_eq!(sizes, [8 << 20, 8 << 20, 4 << 20], "committed blocks");
    assert!(
        blocks
            .iter()
            .all(|b| matches!(b.block_list_type, BlobBlockType::Committed(_))),
        "nothing left uncommitted"
    );

    let obj = store.get(&k).await?.expect("present");
    assert_eq!(obj.meta.size, data.len() as u64);
    assert_eq!(obj.meta.sha256.as_deref(), Some(sha.as_str()));
    let body = read_all(obj.body).await?;
    assert!(body == data, "20 MiB round trip");

    // A block-sized body with a wrong digest: refused, nothing visible.
    let k2 = key("large/mismatch.bin");
    let wrong = store
        .put(
            &k2,
            chunked(pattern(BLOCK_SIZE + 5, 1)),
            PutExpectation {
                sha256: Some(sha.clone()),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(wrong, Err(BlobError::ChecksumMismatch { .. })),
        "{wrong:?}"
    );
    assert!(!store.exists(&k2).await?);
    // Too long for its declared size: refused as soon as it passes it.
    let too_long = store
        .put(
            &k2,
            chunked(pattern(3 * BLOCK_SIZE, 1)),
            PutExpectation {
                size: Some(BLOCK_SIZE as u64 + 1),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(too_long, Err(BlobError::SizeMismatch { .. })),
        "{too_long:?}"
    );
    assert!(!store.exists(&k2).await?);

    // Two concurrent block uploads of one key: one wins, the other is refused.
    let k3 = key("large/race.bin");
    let (a, b) = (pattern(BLOCK_SIZE + 100, 4), pattern(BLOCK_SIZE + 200, 5));
    let (ra, rb) = futures::join!(
        store.put(&k3, chunked(a.clone()), PutExpectation::default()),
        store.put(&k3, chunked(b.clone()), PutExpectation::default())
    );
    let winner = match (&ra, &rb) {
        (Ok(_), Err(BlobError::AlreadyExists(_))) => &a,
        (Err(BlobError::AlreadyExists(_)), Ok(_)) => &b,
        _ => panic!("wanted one Ok and one AlreadyExists, got {ra:?} and {rb:?}"),
    };
    let got = read_all(store.get(&k3).await?.expect("present").body).await?;
    assert!(&got == winner, "the winner's bytes");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_failing_midway_leaves_nothing() -> anyhow::Result<()> {
    let emu = azurite_with(CONTAINER).await?;
    let store = store(&emu, CONTAINER, "");
    let k = key("broken/body.bin");
    // Two full blocks are sent before the body fails.
    let good = Bytes::from(pattern(1 << 20, 2));
    let body = stream::iter(0..20).map(move |i| {
        if i < 18 {
            Ok(good.clone())
        } else {
            Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "client went away",
            ))
        }
    });
    let result = store
        .put(&k, Box::pin(body), PutExpectation::default())
        .await;
    assert!(matches!(result, Err(BlobError::Body(_))), "{result:?}");
    assert!(!store.exists(&k).await?);
    assert!(store.get(&k).await?.is_none());
    // Nothing half-written blocks the next put.
    put_small(&store, &k, b"fine").await;
    assert_eq!(
        read_all(store.get(&k).await?.expect("present").body).await?,
        b"fine"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_dying_mid_upload_leaves_nothing() -> anyhow::Result<()> {
    let mut emu = azurite_with(CONTAINER).await?;
    let store = store(&emu, CONTAINER, "dying");
    let k = key("dying/upload.bin");

    // After 10 MiB the body asks for the emulator to be stopped, waits until it is,
    // then goes on for another 10 MiB.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let chunk = Bytes::from(pattern(1 << 20, 7));
    let mut signals = Some((stop_tx, stopped_rx));
    let body = stream::iter(0..20).then(move |i| {
        let chunk = chunk.clone();
        let signal = if i == 10 { signals.take() } else { None };
        async move {
            if let Some((stop, stopped)) = signal {
                let _ = stop.send(());
                let _ = stopped.await;
            }
            Ok::<_, io::Error>(chunk)
        }
    });
    let put = store.put(&k, Box::pin(body), PutExpectation::default());
    let killer = async {
        let _ = stop_rx.await;
        emu.stop().await;
        let _ = stopped_tx.send(());
    };
    let (result, ()) = tokio::time::timeout(Duration::from_secs(120), async {
        futures::join!(put, killer)
    })
    .await?;
    assert!(
        matches!(result, Err(BlobError::Unavailable(_))),
        "put while the store died: {result:?}"
    );

    emu.restart().await?;
    assert!(
        !store.exists(&k).await?,
        "nothing visible after the failed upload"
    );
    assert!(store.get(&k).await?.is_none());
    let listed: Vec<_> = store.list().collect().await;
    assert!(listed.is_empty(), "{listed:?}");
    // And the key takes a complete upload afterwards.
    let data = pattern(BLOCK_SIZE + 1, 8);
    store
        .put(&k, chunked(data.clone()), PutExpectation::default())
        .await?;
    assert!(read_all(store.get(&k).await?.expect("present").body).await? == data);
    Ok(())
}

#[tokio::test]
async fn debug_output_redacts_secrets() {
    let config = tfr_blob_azure::AzureConfig {
        account: AZURITE_ACCOUNT.into(),
        container: CONTAINER.into(),
        prefix: String::new(),
        endpoint: Some("http://127.0.0.1:1/devstoreaccount1".into()),
        credentials: AzureCredentials::AccountKey(AZURITE_KEY.into()),
    };
    assert!(!format!("{config:?}").contains(AZURITE_KEY));
    let store = AzureBlobStore::new(config).expect("store");
    let shown = format!("{store:?}");
    assert!(!shown.contains(AZURITE_KEY), "{shown}");
    assert!(shown.contains(CONTAINER), "{shown}");
}

#[tokio::test]
async fn sas_is_https_only_on_https_endpoints() {
    // No request is made: signing is local.
    let mut config = tfr_blob_azure::AzureConfig {
        account: "acct1".into(),
        container: CONTAINER.into(),
        prefix: "p".into(),
        endpoint: None,
        credentials: AzureCredentials::AccountKey(AZURITE_KEY.into()),
    };
    let store = AzureBlobStore::new(config.clone()).expect("store");
    let url = store
        .presigned_url(&key("a/b.zip"), Duration::from_secs(60))
        .await
        .expect("sign")
        .expect("url");
    assert!(
        url.starts_with("https://acct1.blob.core.windows.net/tfr-azure/p/a/b.zip?"),
        "{url}"
    );
    assert_eq!(param(&url, "spr"), "https");
    assert!(param(&url, "st") < param(&url, "se"));

    config.endpoint = Some("http://127.0.0.1:1/acct1".into());
    let store = AzureBlobStore::new(config).expect("store");
    let url = store
        .presigned_url(&key("a/b.zip"), Duration::from_secs(60))
        .await
        .expect("sign")
        .expect("url");
    assert!(!url.contains("spr="), "{url}");
    // A ttl no clock can represent is not a panic.
    assert!(
        store
            .presigned_url(&key("a/b.zip"), Duration::MAX)
            .await
            .expect("sign")
            .is_none()
    );
}

#[tokio::test]
async fn managed_identity_leaves_week_long_links_to_tfr() {
    // User delegation SAS cannot outlive 7 days; this returns before any token request.
    let store = AzureBlobStore::new(tfr_blob_azure::AzureConfig {
        account: "acct1".into(),
        container: CONTAINER.into(),
        prefix: String::new(),
        endpoint: Some("http://127.0.0.1:1/acct1".into()),
        credentials: AzureCredentials::ManagedIdentity,
    })
    .expect("store");
    let ttl = Duration::from_secs(8 * 24 * 3600);
    assert!(
        store
            .presigned_url(&key("a"), ttl)
            .await
            .expect("presign")
            .is_none()
    );
}

/// Collects what the fmt subscriber writes.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

// Current-thread runtime: the thread-local subscriber sees every request.
#[tokio::test]
async fn trace_logs_carry_no_credentials() -> anyhow::Result<()> {
    let emu = azurite_with(CONTAINER).await?;
    let store = store(&emu, CONTAINER, "logs");
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let k = key("logged/object");
    put_small(&store, &k, b"payload").await;
    let url = store
        .presigned_url(&k, Duration::from_secs(60))
        .await?
        .expect("url");
    assert!(store.get(&k).await?.is_some());
    let missing = store.metadata(&key("logged/missing")).await?;
    assert!(missing.is_none());
    drop(_guard);

    let text =
        String::from_utf8_lossy(&logs.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    assert!(
        text.contains("[scrubbed]"),
        "the SDK logged requests at trace:\n{text}"
    );
    if let Some(at) = text.find("SharedKey ") {
        let from = text[..at].rfind('\n').unwrap_or(0);
        let to = (at + 200).min(text.len());
        panic!("a request signature was logged: {}", &text[from..to]);
    }
    assert!(!text.contains(AZURITE_KEY));
    assert!(
        !text.contains(&param(&url, "sig")),
        "a SAS signature was logged"
    );
    Ok(())
}
