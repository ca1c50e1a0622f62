//! Target platforms (`os_arch`) of provider packages.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid platform {0:?}: os and arch must be 1-32 lower-case letters or digits")]
pub struct PlatformError(pub String);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    os: String,
    arch: String,
}

fn valid_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

impl Platform {
    pub fn new(os: &str, arch: &str) -> Result<Self, PlatformError> {
        if !valid_part(os) || !valid_part(arch) {
            return Err(PlatformError(format!("{os}_{arch}")));
        }
        Ok(Self {
            os: os.to_string(),
            arch: arch.to_string(),
        })
    }
    /// Parses `linux_amd64`.
    pub fn parse(value: &str) -> Result<Self, PlatformError> {
        let (os, arch) = value
            .split_once('_')
            .ok_or_else(|| PlatformError(value.to_string()))?;
        Self::new(os, arch).map_err(|_| PlatformError(value.to_string()))
    }
    pub fn os(&self) -> &str {
        &self.os
    }
    pub fn arch(&self) -> &str {
        &self.arch
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.os, self.arch)
    }
}
