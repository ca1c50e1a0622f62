//! Behaviour only the filesystem backend has: layout on disk, crash leftovers, cleanup.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::stream;
use tfr_blob_fs::FsBlobStore;
use tfr_core::BlobKey;
use tfr_ports::driven::{BlobError, BlobStore, PutExpectation};
use tfr_ports::stream::ByteStream;
use tfr_ports::testkit::blob::{bytes_stream, read_all, sha256_hex};

fn key(s: &str) -> BlobKey {
    BlobKey::parse(s).expect("valid key")
}

fn open(dir: &tempfile::TempDir) -> FsBlobStore {
    FsBlobStore::new(dir.path().join("blobs")).expect("open store")
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).expect("under base");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[tokio::test]
async fn objects_land_at_root_slash_key_with_a_sidecar() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let k = key("modules/acme/vpc/aws/1.0.0/vpc-aws-1.0.0.tar.gz");
    let expect = PutExpectation {
        content_type: Some("application/gzip".into()),
        ..Default::default()
    };
    store
        .put(&k, bytes_stream(&b"archive bytes"[..]), expect)
        .await
        .expect("put");

    assert_eq!(
        files_under(store.root()),
        vec![
            "modules/acme/vpc/aws/1.0.0/vpc-aws-1.0.0.tar.gz".to_string(),
            "modules/acme/vpc/aws/1.0.0/vpc-aws-1.0.0.tar.gz@meta.json".to_string(),
        ]
    );
    let on_disk = std::fs::read(store.root().join(k.as_str())).expect("read object file");
    assert_eq!(on_disk, b"archive bytes");
    let meta = store
        .metadata(&k)
        .await
        .expect("metadata")
        .expect("present");
    assert_eq!(meta.sha256, Some(sha256_hex(b"archive bytes")));
    assert_eq!(meta.content_type.as_deref(), Some("application/gzip"));
    assert!(meta.last_modified.is_some());

    // Delete removes both files and prunes the now-empty directories, not the root.
    store.delete(&k).await.expect("delete");
    assert!(files_under(store.root()).is_empty());
    let mut top: Vec<_> = std::fs::read_dir(store.root())
        .expect("read root")
        .map(|e| e.expect("entry").file_name())
        .collect();
    top.sort();
    assert_eq!(top, vec![std::ffi::OsString::from("@tmp")]);
}

#[tokio::test]
async fn a_key_cannot_escape_the_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let outside = dir.path().join("secret.txt");
    std::fs::write(&outside, b"outside the root").expect("write outside");

    for bad in [
        "../secret.txt",
        "/etc/passwd",
        "a/../../secret.txt",
        "./x",
        "a//b",
        "@tmp/x",
        "a\\..\\b",
    ] {
        assert!(
            BlobKey::parse(bad).is_err(),
            "{bad:?} must not parse as a key"
        );
    }
    // Dots inside a segment are ordinary names, resolved under the root.
    let k = key("a/..b/...");
    store
        .put(&k, bytes_stream(&b"inside"[..]), PutExpectation::default())
        .await
        .expect("put");
    assert!(store.root().join("a").join("..b").join("...").is_file());
    assert_eq!(
        std::fs::read(&outside).expect("read outside"),
        b"outside the root"
    );
    assert!(!store.exists(&key("secret.txt")).await.expect("exists"));
}

#[tokio::test]
async fn crash_leftovers_in_tmp_are_not_blobs_and_stale_ones_are_cleaned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root: PathBuf = open(&dir).root().to_path_buf();
    let tmp = root.join("@tmp");
    // A put that crashed after writing its temp file but before publishing it.
    let stale = tmp.join("0b1c-stale.part");
    let fresh = tmp.join("0b1c-fresh.part");
    std::fs::write(&stale, b"half an upload").expect("write");
    std::fs::write(&fresh, b"an upload in flight").expect("write");
    let two_hours_ago = SystemTime::now() - Duration::from_secs(2 * 60 * 60);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .and_then(|f| f.set_modified(two_hours_ago))
        .expect("age the stale file");

    let store = FsBlobStore::new(root.clone()).expect("reopen");
    assert!(
        !stale.exists(),
        "a temp file older than an hour is removed at startup"
    );
    assert!(
        fresh.exists(),
        "a recent temp file may belong to a live upload and stays"
    );
    // Temp files are never reachable as objects: the directory name is not a valid key.
    assert!(BlobKey::parse("@tmp/0b1c-fresh.part").is_err());
    assert!(
        !store
            .exists(&key("tmp/0b1c-fresh.part"))
            .await
            .expect("exists")
    );
    assert!(
        store
            .get(&key("0b1c-fresh.part"))
            .await
            .expect("get")
            .is_none()
    );
}

#[tokio::test]
async fn failed_and_cancelled_puts_leave_no_temp_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let tmp = store.root().join("@tmp");

    let k = key("cancelled/object");
    let body: ByteStream = Box::pin(futures::StreamExt::chain(
        stream::iter(vec![Ok(Bytes::from(vec![7u8; 100_000]))]),
        stream::pending(),
    ));
    let put = store.put(&k, body, PutExpectation::default());
    let timed_out = tokio::time::timeout(Duration::from_millis(300), put).await;
    assert!(
        timed_out.is_err(),
        "the body never ends, so the put cannot finish"
    );
    assert_eq!(std::fs::read_dir(&tmp).expect("read tmp").count(), 0);
    assert!(!store.exists(&k).await.expect("exists"));

    let k = key("mismatch/object");
    let expect = PutExpectation {
        sha256: Some(sha256_hex(b"other")),
        ..Default::default()
    };
    let err = store.put(&k, bytes_stream(&b"data"[..]), expect).await;
    assert!(
        matches!(err, Err(BlobError::ChecksumMismatch { .. })),
        "{err:?}"
    );
    assert_eq!(std::fs::read_dir(&tmp).expect("read tmp").count(), 0);
    assert!(files_under(store.root()).is_empty());
}

#[tokio::test]
async fn an_object_without_sidecar_still_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let k = key("providers/acme/foo/1.0.0/file.zip");
    store
        .put(&k, bytes_stream(&b"zip"[..]), PutExpectation::default())
        .await
        .expect("put");
    // A crash between publishing the object and writing its sidecar.
    std::fs::remove_file(store.root().join(format!("{k}@meta.json"))).expect("remove sidecar");

    let meta = store
        .metadata(&k)
        .await
        .expect("metadata")
        .expect("present");
    assert_eq!(meta.size, 3);
    assert_eq!(
        meta.sha256, None,
        "without a sidecar the sha256 is unknown, not guessed"
    );
    let obj = store.get(&k).await.expect("get").expect("present");
    assert_eq!(read_all(obj.body).await.expect("read"), b"zip");
}

#[tokio::test]
async fn directories_are_not_objects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    store
        .put(
            &key("a/b/c"),
            bytes_stream(&b"c"[..]),
            PutExpectation::default(),
        )
        .await
        .expect("put");
    let prefix = key("a/b");
    assert!(!store.exists(&prefix).await.expect("exists"));
    assert!(store.get(&prefix).await.expect("get").is_none());
    assert!(store.metadata(&prefix).await.expect("metadata").is_none());
    store
        .delete(&prefix)
        .await
        .expect("deleting a prefix is a no-op");
    assert!(store.exists(&key("a/b/c")).await.expect("exists"));

    // A key below an existing object cannot be stored, and fails cleanly.
    let under_file = store
        .put(
            &key("a/b/c/d"),
            bytes_stream(&b"d"[..]),
            PutExpectation::default(),
        )
        .await;
    assert!(
        matches!(under_file, Err(BlobError::Internal(_))),
        "{under_file:?}"
    );
    // A key naming an existing directory is not reported as an existing blob.
    let over_dir = store
        .put(&prefix, bytes_stream(&b"x"[..]), PutExpectation::default())
        .await;
    assert!(
        matches!(over_dir, Err(BlobError::Internal(_))),
        "{over_dir:?}"
    );
    assert_eq!(
        std::fs::read_dir(store.root().join("@tmp"))
            .expect("read tmp")
            .count(),
        0
    );
}

#[tokio::test]
async fn check_writable_leaves_nothing_and_backend_is_fs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    store
        .check_writable()
        .await
        .expect("a temp dir is writable");
    assert!(files_under(store.root()).is_empty());
    assert_eq!(store.backend_name(), "fs");
    let k = key("x");
    assert_eq!(
        store
            .presigned_url(&k, Duration::from_secs(60))
            .await
            .expect("presign"),
        None
    );
}

/// A staged file on the store's filesystem is linked into place (same inode, no copy);
/// one elsewhere (here /dev/shm, a tmpfs) is copied; both hold the staged bytes.
#[tokio::test]
async fn put_staged_links_on_the_same_filesystem_and_copies_across() {
    use std::os::unix::fs::MetadataExt;
    use tfr_ports::stream::stage_stream;

    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir);
    let data = b"terraform-provider-linked".repeat(1000);

    let staged = stage_stream(
        bytes_stream(data.clone()),
        &dir.path().join("staging"),
        u64::MAX,
    )
    .await
    .expect("stage on the store's filesystem");
    let linked = key("linked/package.zip");
    store
        .put_staged(&linked, &staged, Some("application/zip".into()))
        .await
        .expect("put_staged");
    let stored = dir.path().join("blobs").join("linked/package.zip");
    assert_eq!(
        std::fs::metadata(&stored).expect("stored").ino(),
        std::fs::metadata(staged.path()).expect("staged").ino(),
        "the staged file was copied, not linked"
    );
    drop(staged);
    let body = store
        .get(&linked)
        .await
        .expect("get")
        .expect("present")
        .body;
    assert_eq!(read_all(body).await.expect("read"), data);

    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        let elsewhere = tempfile::tempdir_in(shm).expect("tempdir in /dev/shm");
        let staged = stage_stream(bytes_stream(data.clone()), elsewhere.path(), u64::MAX)
            .await
            .expect("stage on another filesystem");
        let copied = key("copied/package.zip");
        let meta = store
            .put_staged(&copied, &staged, None)
            .await
            .expect("put_staged across filesystems");
        assert_eq!(meta.sha256.as_deref(), Some(sha256_hex(&data).as_str()));
        drop(staged);
        let body = store
            .get(&copied)
            .await
            .expect("get")
            .expect("present")
            .body;
        assert_eq!(read_all(body).await.expect("read"), data);
    }
}
