//! What the app hands the adapter, and its validation (bucket, prefix, endpoint). Debug
//! output never shows credentials.

use std::fmt;
use std::path::PathBuf;

use tfr_core::BlobKey;

/// Where and how to reach the bucket.
#[derive(Clone)]
pub struct GcsConfig {
    pub bucket: String,
    /// `""` or `a/b` (surrounding slashes are ignored): objects live at `{prefix}/{key}`.
    pub prefix: String,
    /// An emulator or private endpoint, e.g. `http://127.0.0.1:9023` (the value of
    /// `STORAGE_EMULATOR_HOST`; a bare `host:port` means `http://`). `None` is
    /// `https://storage.googleapis.com`.
    pub endpoint: Option<String>,
    pub credentials: GcsCredentials,
}

/// How requests are authenticated and URLs signed.
#[derive(Clone)]
pub enum GcsCredentials {
    /// Application default credentials: `GOOGLE_APPLICATION_CREDENTIALS` (or
    /// `GOOGLE_APPLICATION_CREDENTIALS_JSON`), gcloud's user credentials, else the metadata
    /// server (GCE, GKE workload identity). URLs are signed with the key when the file has
    /// one, through IAM `signBlob` on the metadata server, and not at all for user
    /// credentials.
    ApplicationDefault,
    /// A service-account key file (JSON).
    ServiceAccountFile(PathBuf),
    /// A service-account key (the JSON text itself).
    ServiceAccountJson(String),
    /// No credentials at all: for emulators only. Cannot sign URLs.
    Anonymous,
}

impl fmt::Debug for GcsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcsConfig")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl fmt::Debug for GcsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ApplicationDefault => f.write_str("ApplicationDefault"),
            // The path is not a secret; the file's content is never read into Debug.
            Self::ServiceAccountFile(path) => {
                f.debug_tuple("ServiceAccountFile").field(path).finish()
            }
            Self::ServiceAccountJson(_) => f.write_str("ServiceAccountJson(<redacted>)"),
            Self::Anonymous => f.write_str("Anonymous"),
        }
    }
}

/// A configuration the adapter cannot use; the message names the setting.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(pub String);

/// The JSON API endpoint, split the ways the client and the URL signer need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// `scheme://host[:port][/path]`, no trailing slash: the client's base URL.
    pub base: String,
    /// `host[:port]` as a client sends it in `Host` (the port only when not the default).
    pub authority: String,
    /// `""` or `/path`: a path the endpoint sits under.
    pub path: String,
    pub insecure: bool,
}

pub(crate) const DEFAULT_ENDPOINT: &str = "https://storage.googleapis.com";

impl Endpoint {
    pub fn parse(value: Option<&str>) -> Result<Self, SetupError> {
        let raw = value.map(str::trim).filter(|v| !v.is_empty());
        let text = match raw {
            None => DEFAULT_ENDPOINT.to_string(),
            // STORAGE_EMULATOR_HOST is often a bare host:port.
            Some(v) if !v.contains("://") => format!("http://{v}"),
            Some(v) => v.to_string(),
        };
        let invalid = |why: &str| {
            SetupError(format!(
                "invalid GCS endpoint {text:?}: {why} (expected http(s)://host[:port][/path])"
            ))
        };
        let url = url::Url::parse(&text).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("it must not carry credentials"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("it must not have a query or fragment"));
        }
        let host = url.host_str().ok_or_else(|| invalid("no host"))?;
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let path = url.path().trim_end_matches('/').to_string();
        Ok(Self {
            base: format!("{}://{authority}{path}", url.scheme()),
            authority,
            path,
            insecure: url.scheme() == "http",
        })
    }
}

/// Maps keys to object names under the configured prefix, and back.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    /// `""` or `a/b/` (with the trailing slash).
    prefix: String,
}

impl Names {
    pub fn new(prefix: &str) -> Result<Self, SetupError> {
        let trimmed = prefix.trim().trim_matches('/');
        if trimmed.is_empty() {
            return Ok(Self {
                prefix: String::new(),
            });
        }
        // A prefix made of key segments keeps every object name URL- and signing-safe.
        if BlobKey::parse(trimmed).is_err() {
            return Err(SetupError(format!(
                "invalid GCS prefix {prefix:?} (segments of letters, digits, '-', '_' and '.', separated by '/')"
            )));
        }
        Ok(Self {
            prefix: format!("{trimmed}/"),
        })
    }

    pub fn object(&self, key: &BlobKey) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The key an object name stands for; `None` outside the prefix or for names that
    /// are not keys (probes, folder placeholders, foreign objects).
    pub fn key(&self, object: &str) -> Option<BlobKey> {
        let rest = object.strip_prefix(&self.prefix)?;
        BlobKey::parse(rest).ok()
    }

    /// The listing prefix: `None` for the whole bucket.
    pub fn list_prefix(&self) -> Option<String> {
        (!self.prefix.is_empty()).then(|| self.prefix.clone())
    }

    /// A fresh probe name; `@` makes sure it is never a valid key.
    pub fn probe(&self) -> String {
        format!("{}@probe-{}", self.prefix, uuid::Uuid::new_v4())
    }
}

/// GCS's bucket naming rules, loosely: enough to keep the name out of trouble in a URL.
pub(crate) fn check_bucket(bucket: &str) -> Result<(), SetupError> {
    let ok = (3..=222).contains(&bucket.len())
        && bucket.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(SetupError(format!(
            "invalid GCS bucket name {bucket:?} (3-222 of a-z, 0-9, '.', '-', '_')"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let default = Endpoint::parse(None).unwrap();
        assert_eq!(default.base, "https://storage.googleapis.com");
        assert_eq!(default.authority, "storage.googleapis.com");
        assert!(!default.insecure);

        let emu = Endpoint::parse(Some("http://127.0.0.1:9023/")).unwrap();
        assert_eq!(emu.base, "http://127.0.0.1:9023");
        assert_eq!(emu.authority, "127.0.0.1:9023");
        assert_eq!(emu.path, "");
        assert!(emu.insecure);

        let bare = Endpoint::parse(Some("localhost:9023")).unwrap();
        assert_eq!(bare.base, "http://localhost:9023");

        let private = Endpoint::parse(Some("https://gcs.internal:443/base/")).unwrap();
        assert_eq!(private.base, "https://gcs.internal/base");
        assert_eq!(private.authority, "gcs.internal");
        assert_eq!(private.path, "/base");

        for bad in ["ftp://x", "http://u:p@x", "http://x/?a=b", "http://"] {
            assert!(Endpoint::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_under_a_prefix() {
        let key = BlobKey::parse("modules/a/b.zip").unwrap();
        let names = Names::new("/tenant/blobs/").unwrap();
        assert_eq!(names.object(&key), "tenant/blobs/modules/a/b.zip");
        assert_eq!(names.key("tenant/blobs/modules/a/b.zip"), Some(key.clone()));
        assert_eq!(names.key("other/modules/a/b.zip"), None);
        assert_eq!(names.key("tenant/blobs/dir/"), None);
        assert_eq!(names.list_prefix().as_deref(), Some("tenant/blobs/"));
        let probe = names.probe();
        assert!(probe.starts_with("tenant/blobs/@probe-"));
        assert_eq!(names.key(&probe), None);

        let root = Names::new("").unwrap();
        assert_eq!(root.object(&key), "modules/a/b.zip");
        assert_eq!(root.key("modules/a/b.zip"), Some(key));
        assert_eq!(root.list_prefix(), None);

        assert!(Names::new("a/../b").is_err());
        assert!(Names::new("a b").is_err());
    }

    #[test]
    fn debug_redacts_the_key() {
        let config = GcsConfig {
            bucket: "b".into(),
            prefix: String::new(),
            endpoint: None,
            credentials: GcsCredentials::ServiceAccountJson(
                r#"{"private_key":"-----BEGIN PRIVATE KEY-----SECRET"}"#.into(),
            ),
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn bucket_names() {
        assert!(check_bucket("tfr-blobs_1.x").is_ok());
        for bad in ["", "ab", "Upper", "a/b", "a b"] {
            assert!(check_bucket(bad).is_err(), "{bad}");
        }
    }
}
