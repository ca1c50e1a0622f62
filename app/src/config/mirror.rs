//! Provider mirror settings: the sync scheduler, its lease and concurrency, pull-through
//! caching, package size, the upstream client's timeouts and extra trust anchors.
//! Mirror configurations themselves (what is mirrored) live in the database and are
//! managed through the admin API.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::raw::Validator;
use super::values::byte_size;

pub const DEFAULT_MIRROR_SCHEDULER_INTERVAL_SECS: u64 = 600;
pub const DEFAULT_MIRROR_CONCURRENCY: usize = 4;
pub const DEFAULT_MIRROR_LEASE_SECS: u64 = 300;
pub const DEFAULT_MIRROR_METADATA_TTL_SECS: u64 = 300;
pub const DEFAULT_MIRROR_MAX_PACKAGE_BYTES: u64 = 2 * 1024 * 1024 * 1024;
pub const DEFAULT_MIRROR_API_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_MIRROR_DOWNLOAD_TIMEOUT_SECS: u64 = 600;

/// A list of paths given as a TOML array or as one comma-separated string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum PathList {
    One(String),
    Many(Vec<String>),
}

impl PathList {
    fn items(self) -> Vec<String> {
        let all = match self {
            PathList::One(s) => s.split(',').map(str::to_string).collect(),
            PathList::Many(v) => v,
        };
        all.into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// The raw mirror keys, as read (extracted beside `raw::RawSettings`).
#[derive(Debug, Default, Deserialize)]
pub(super) struct RawMirror {
    pub mirror_sync_enabled: Option<bool>,
    pub mirror_scheduler_interval_secs: Option<u64>,
    pub mirror_concurrency: Option<u64>,
    pub mirror_lease_secs: Option<u64>,
    pub mirror_metadata_ttl_secs: Option<u64>,
    #[serde(default, deserialize_with = "byte_size")]
    pub mirror_max_package_bytes: Option<u64>,
    pub mirror_api_timeout_secs: Option<u64>,
    pub mirror_download_timeout_secs: Option<u64>,
    pub mirror_extra_ca_files: Option<PathList>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorSettings {
    /// Run the scheduled sync on this replica (pull-through and manual syncs work
    /// either way).
    pub sync_enabled: bool,
    /// How often the scheduler looks for configurations that are due.
    pub scheduler_interval_secs: u64,
    /// Package downloads at once within one sync run.
    pub concurrency: usize,
    /// How long a replica's sync lease lasts without renewal (renewed every third).
    pub lease_secs: u64,
    /// How long upstream versions lists are reused by pull-through.
    pub metadata_ttl_secs: u64,
    /// Largest package (zip) fetched from upstream; the unpacked limit follows.
    pub max_package_bytes: u64,
    /// Timeout of upstream API calls and small documents.
    pub api_timeout_secs: u64,
    /// Timeout of one package download, body included.
    pub download_timeout_secs: u64,
    /// PEM files trusted for upstream TLS besides the system roots and `SSL_CERT_FILE`.
    pub extra_ca_files: Vec<PathBuf>,
}

impl Default for MirrorSettings {
    fn default() -> Self {
        Self {
            sync_enabled: true,
            scheduler_interval_secs: DEFAULT_MIRROR_SCHEDULER_INTERVAL_SECS,
            concurrency: DEFAULT_MIRROR_CONCURRENCY,
            lease_secs: DEFAULT_MIRROR_LEASE_SECS,
            metadata_ttl_secs: DEFAULT_MIRROR_METADATA_TTL_SECS,
            max_package_bytes: DEFAULT_MIRROR_MAX_PACKAGE_BYTES,
            api_timeout_secs: DEFAULT_MIRROR_API_TIMEOUT_SECS,
            download_timeout_secs: DEFAULT_MIRROR_DOWNLOAD_TIMEOUT_SECS,
            extra_ca_files: Vec::new(),
        }
    }
}

impl Validator<'_> {
    fn in_range(
        &self,
        key: &str,
        value: Option<u64>,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
        unit: &str,
    ) -> Result<u64, ConfigError> {
        let value = value.unwrap_or(default);
        if !range.contains(&value) {
            return Err(self.err(
                key,
                format!(
                    "{value} is out of range ({} to {}{unit})",
                    range.start(),
                    range.end()
                ),
            ));
        }
        Ok(value)
    }

    pub(super) fn mirror(&self, raw: RawMirror) -> Result<MirrorSettings, ConfigError> {
        let secs = " seconds";
        let scheduler_interval_secs = self.in_range(
            "mirror_scheduler_interval_secs",
            raw.mirror_scheduler_interval_secs,
            DEFAULT_MIRROR_SCHEDULER_INTERVAL_SECS,
            10..=86_400,
            secs,
        )?;
        let concurrency = self.in_range(
            "mirror_concurrency",
            raw.mirror_concurrency,
            DEFAULT_MIRROR_CONCURRENCY as u64,
            1..=64,
            "",
        )? as usize;
        let lease_secs = self.in_range(
            "mirror_lease_secs",
            raw.mirror_lease_secs,
            DEFAULT_MIRROR_LEASE_SECS,
            30..=86_400,
            secs,
        )?;
        let metadata_ttl_secs = self.in_range(
            "mirror_metadata_ttl_secs",
            raw.mirror_metadata_ttl_secs,
            DEFAULT_MIRROR_METADATA_TTL_SECS,
            0..=86_400,
            secs,
        )?;
        let max_package_bytes = raw
            .mirror_max_package_bytes
            .unwrap_or(DEFAULT_MIRROR_MAX_PACKAGE_BYTES);
        if max_package_bytes == 0 {
            return Err(self.err("mirror_max_package_bytes", "must be greater than 0"));
        }
        let api_timeout_secs = self.in_range(
            "mirror_api_timeout_secs",
            raw.mirror_api_timeout_secs,
            DEFAULT_MIRROR_API_TIMEOUT_SECS,
            1..=600,
            secs,
        )?;
        let download_timeout_secs = self.in_range(
            "mirror_download_timeout_secs",
            raw.mirror_download_timeout_secs,
            DEFAULT_MIRROR_DOWNLOAD_TIMEOUT_SECS,
            10..=86_400,
            secs,
        )?;
        let extra_ca_files: Vec<PathBuf> = raw
            .mirror_extra_ca_files
            .map(PathList::items)
            .unwrap_or_default()
            .into_iter()
            .map(PathBuf::from)
            .collect();
        if let Some(missing) = extra_ca_files.iter().find(|p| !p.is_file()) {
            return Err(self.err(
                "mirror_extra_ca_files",
                format!("file {} does not exist", missing.display()),
            ));
        }
        Ok(MirrorSettings {
            sync_enabled: raw.mirror_sync_enabled.unwrap_or(true),
            scheduler_interval_secs,
            concurrency,
            lease_secs,
            metadata_ttl_secs,
            max_package_bytes,
            api_timeout_secs,
            download_timeout_secs,
            extra_ca_files,
        })
    }
}
