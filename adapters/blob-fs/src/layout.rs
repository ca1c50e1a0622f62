//! Where things live under the storage root.
//!
//! ```text
//! <root>/<key>                   the object's bytes, e.g. modules/acme/vpc/aws/1.0.0/vpc-aws-1.0.0.tar.gz
//! <root>/<key>@meta.json         its sidecar: sha256, size, content type
//! <root>/@tmp/<uuid>.part        uploads in flight (and crash leftovers), never visible as blobs
//! ```
//!
//! Every name tfr adds contains `@`, which no `BlobKey` segment may contain, so no key can
//! ever name a sidecar, the temp directory or a probe file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The directory (under root) holding uploads in flight.
pub const TMP_DIR: &str = "@tmp";
/// Appended to an object's file name to name its sidecar.
pub const SIDECAR_SUFFIX: &str = "@meta.json";

/// The object's path relative to the root, or `None` when `key` is not a plain relative
/// path of safe segments. `BlobKey` already guarantees this; the adapter checks again so a
/// path outside the root can never be built here, whatever the key type allows tomorrow.
pub fn relative_path(key: &str) -> Option<PathBuf> {
    if key.is_empty() || key.len() > 1024 {
        return None;
    }
    let mut path = PathBuf::new();
    for segment in key.split('/') {
        let safe = !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment.len() <= 255
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'));
        if !safe {
            return None;
        }
        path.push(segment);
    }
    Some(path)
}

/// The files behind one key.
#[derive(Debug, Clone)]
pub struct BlobPaths {
    pub data: PathBuf,
    pub sidecar: PathBuf,
}

impl BlobPaths {
    /// `None` when the key is unsafe or would resolve outside `root`.
    pub fn new(root: &Path, key: &str) -> Option<Self> {
        let data = root.join(relative_path(key)?);
        if !data.starts_with(root) || data == root {
            return None;
        }
        let mut sidecar = data.clone().into_os_string();
        sidecar.push(SIDECAR_SUFFIX);
        Some(Self {
            data,
            sidecar: PathBuf::from(sidecar),
        })
    }
}

/// What the filesystem cannot tell by itself about an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sidecar {
    pub sha256: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

impl Sidecar {
    /// Parses a sidecar, keeping it only when it describes an object of `size` bytes (a
    /// sidecar left by a crash mid-delete must not describe a later object).
    pub fn parse(raw: &[u8], size: u64) -> Option<Self> {
        serde_json::from_slice::<Self>(raw)
            .ok()
            .filter(|s| s.size == size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_path_refuses_anything_that_could_escape() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../b",
            "a/./b",
            "a//b",
            "a/",
            "a\\..\\b",
            "C:/x",
            "a/b@meta.json",
            "@tmp/x",
            "a/\0",
        ] {
            assert_eq!(relative_path(bad), None, "{bad:?} must be refused");
        }
        assert_eq!(
            relative_path("a/b.c/d+e_f-1"),
            Some(PathBuf::from("a").join("b.c").join("d+e_f-1"))
        );
    }

    #[test]
    fn paths_stay_under_root_and_sidecars_cannot_collide() {
        let root = Path::new("/srv/tfr");
        let paths = BlobPaths::new(root, "modules/a/b.zip").expect("valid");
        assert_eq!(paths.data, Path::new("/srv/tfr/modules/a/b.zip"));
        assert_eq!(
            paths.sidecar,
            Path::new("/srv/tfr/modules/a/b.zip@meta.json")
        );
        assert!(BlobPaths::new(root, "../outside").is_none());
        // The sidecar name is not a valid key, so no object can shadow it.
        assert!(
            relative_path(
                paths
                    .sidecar
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("")
            )
            .is_none()
        );
    }

    #[test]
    fn sidecar_round_trips_and_rejects_a_stale_size() {
        let side = Sidecar {
            sha256: "ab".repeat(32),
            size: 42,
            content_type: Some("application/zip".into()),
        };
        let raw = serde_json::to_vec(&side).expect("serialize");
        assert_eq!(Sidecar::parse(&raw, 42), Some(side));
        assert_eq!(Sidecar::parse(&raw, 43), None);
        assert_eq!(Sidecar::parse(b"not json", 42), None);
    }
}
