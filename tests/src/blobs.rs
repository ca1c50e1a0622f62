//! Snapshots of a directory tree (the filesystem blob store lives at `<data_dir>/blobs`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Every regular file (and symlink) under `root`, relative to it. A missing root is empty.
pub fn files_under(root: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(_) => {
                    out.insert(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
                }
                Err(_) => {}
            }
        }
    }
    out
}

/// Waits (up to 5 s, for clean-up that runs just after the response) until the files under
/// `root` equal `expected`, then returns the final set; the caller asserts on it.
pub async fn settle_to(root: &Path, expected: &BTreeSet<PathBuf>) -> BTreeSet<PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = files_under(root);
        if &now == expected || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
