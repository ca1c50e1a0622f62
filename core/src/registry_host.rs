//! The host part of a provider source address (`registry.terraform.io`,
//! `registry.opentofu.org`, `example.com:8443`): what a network mirror path carries as
//! `:hostname`, and where a mirror's upstream registry lives.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid registry hostname {0:?}: expected a DNS name such as registry.terraform.io, optionally with :port"
)]
pub struct HostError(pub String);

/// A lower-case DNS name with an optional port. Terraform lower-cases hostnames, so
/// lookups are exact on the stored form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegistryHost(String);

/// The host Terraform assumes for `namespace/type`.
pub const TERRAFORM_REGISTRY: &str = "registry.terraform.io";
/// The host OpenTofu assumes for `namespace/type`.
pub const OPENTOFU_REGISTRY: &str = "registry.opentofu.org";

fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl RegistryHost {
    /// Accepts any case and lower-cases it; refuses schemes, paths, user info, empty
    /// labels and ports outside 1-65535.
    pub fn parse(value: &str) -> Result<Self, HostError> {
        let err = || HostError(value.to_string());
        let lower = value.trim().to_ascii_lowercase();
        // At most 255 bytes in all, so that `key()` is always a valid blob-key segment.
        if lower.is_empty() || lower.len() > 255 {
            return Err(err());
        }
        let (name, port) = match lower.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (lower.as_str(), None),
        };
        if name.len() > 253 || !name.split('.').all(valid_label) {
            return Err(err());
        }
        if let Some(port) = port
            && !(port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|p| p > 0))
        {
            return Err(err());
        }
        Ok(Self(lower))
    }

    pub fn terraform_registry() -> Self {
        Self(TERRAFORM_REGISTRY.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host as a blob-key segment (`:` is not a safe key character).
    pub fn key(&self) -> String {
        self.0.replace(':', "_")
    }
}

impl fmt::Display for RegistryHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
