//! What the app configures: timeouts, retries and extra trust anchors.

use std::path::PathBuf;
use std::time::Duration;

/// Settings of [`crate::HttpUpstreamRegistry`]. `Default` gives the production values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSettings {
    /// Whole-request timeout of the API client: discovery, versions, download
    /// documents, SHA256SUMS and signatures. Default 30 s.
    pub api_timeout: Duration,
    /// Whole-request timeout of the binary client (package downloads, body included).
    /// Default 10 min.
    pub download_timeout: Duration,
    /// TCP + TLS connect timeout of both clients. Default 10 s.
    pub connect_timeout: Duration,
    /// Attempts per request, the first included (0 counts as 1). Default 4.
    pub max_attempts: u32,
    /// Longest wait between attempts, for the exponential backoff and for an upstream
    /// `Retry-After` alike. Default 10 s.
    pub max_backoff: Duration,
    /// PEM files (each may hold several certificates) trusted in addition to the system
    /// roots and `SSL_CERT_FILE`.
    pub extra_ca_files: Vec<PathBuf>,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            api_timeout: Duration::from_secs(30),
            download_timeout: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(10),
            max_attempts: 4,
            max_backoff: Duration::from_secs(10),
            extra_ca_files: Vec::new(),
        }
    }
}
