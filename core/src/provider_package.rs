//! Provider package rules: file names, SHA256SUMS, the binary inside a zip, protocols.

use std::collections::BTreeMap;

use crate::names::ProviderType;
use crate::platform::Platform;
use crate::version::ProviderVersion;

/// `terraform-provider-{type}_{version}_{os}_{arch}.zip`
pub fn package_filename(
    provider_type: &ProviderType,
    version: &ProviderVersion,
    platform: &Platform,
) -> String {
    format!(
        "terraform-provider-{}_{version}_{platform}.zip",
        provider_type.as_str()
    )
}

/// `terraform-provider-{type}_{version}_SHA256SUMS`
pub fn shasums_filename(provider_type: &ProviderType, version: &ProviderVersion) -> String {
    format!(
        "terraform-provider-{}_{version}_SHA256SUMS",
        provider_type.as_str()
    )
}

/// The platform named by a package file name, if the name follows the convention for
/// this provider and version.
pub fn parse_package_filename(
    provider_type: &ProviderType,
    version: &ProviderVersion,
    filename: &str,
) -> Option<Platform> {
    let prefix = format!("terraform-provider-{}_{version}_", provider_type.as_str());
    let platform = filename.strip_prefix(&prefix)?.strip_suffix(".zip")?;
    Platform::parse(platform).ok()
}

/// Whether a zip entry is the provider executable Terraform looks for: a top-level file
/// whose name starts with `terraform-provider-{type}`, then nothing, `_` or `.`.
pub fn is_provider_binary_name(provider_type: &ProviderType, entry_name: &str) -> bool {
    if entry_name.contains('/') {
        return false;
    }
    let prefix = format!("terraform-provider-{}", provider_type.as_str());
    match entry_name.strip_prefix(&prefix) {
        Some("") => true,
        Some(rest) => rest.starts_with('_') || rest.starts_with('.'),
        None => false,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShasumsError {
    #[error("SHA256SUMS line {line}: expected \"<64 hex digits><two spaces><file name>\"")]
    Malformed { line: usize },
    #[error(
        "SHA256SUMS line {line} is in binary mode (\"*file\"); Terraform only reads text mode (two spaces)"
    )]
    BinaryMode { line: usize },
    #[error("SHA256SUMS lists {0:?} twice")]
    Duplicate(String),
    #[error("SHA256SUMS is empty")]
    Empty,
}

/// A parsed SHA256SUMS file, in `sha256sum` text format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sha256Sums(BTreeMap<String, String>);

impl Sha256Sums {
    /// Parses `sha256sum` text-mode output. Blank lines are skipped and a trailing `\r`
    /// is tolerated. A file name containing whitespace is refused: Terraform splits each
    /// line on whitespace, so such a name could never be matched.
    pub fn parse(text: &str) -> Result<Self, ShasumsError> {
        let mut map = BTreeMap::new();
        for (i, raw) in text.split('\n').enumerate() {
            let line_no = i + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.trim().is_empty() {
                continue;
            }
            let Some((hash, name)) = line.split_once("  ") else {
                let bytes = line.as_bytes();
                if bytes.len() > 65 && bytes[64] == b' ' && bytes[65] == b'*' {
                    return Err(ShasumsError::BinaryMode { line: line_no });
                }
                return Err(ShasumsError::Malformed { line: line_no });
            };
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) || name.is_empty() {
                return Err(ShasumsError::Malformed { line: line_no });
            }
            if name.starts_with('*') {
                return Err(ShasumsError::BinaryMode { line: line_no });
            }
            if name.chars().any(char::is_whitespace) {
                return Err(ShasumsError::Malformed { line: line_no });
            }
            if map
                .insert(name.to_string(), hash.to_ascii_lowercase())
                .is_some()
            {
                return Err(ShasumsError::Duplicate(name.to_string()));
            }
        }
        if map.is_empty() {
            return Err(ShasumsError::Empty);
        }
        Ok(Self(map))
    }

    /// Number of listed files.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false for a parsed value (parsing refuses an empty list).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The lower-case hex SHA-256 listed for `filename`.
    pub fn get(&self, filename: &str) -> Option<&str> {
        self.0.get(filename).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid protocol version {0:?}: expected MAJOR.MINOR such as 5.0 or 6.0")]
pub struct ProtocolError(pub String);

/// Plugin protocol versions such as `5.0` and `6.0`, canonicalised (`5` and `05.0`
/// become `5.0`) and de-duplicated in first-seen order. Empty items are skipped.
pub fn parse_protocols<'a>(
    items: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<String>, ProtocolError> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let parts: Vec<&str> = item.split('.').collect();
        let ok = parts.len() <= 2
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return Err(ProtocolError(item.to_string()));
        }
        // At most four digits each, so these parse.
        let major: u32 = parts[0]
            .parse()
            .map_err(|_| ProtocolError(item.to_string()))?;
        let minor: u32 = match parts.get(1) {
            Some(p) => p.parse().map_err(|_| ProtocolError(item.to_string()))?,
            None => 0,
        };
        let canonical = format!("{major}.{minor}");
        if !out.contains(&canonical) {
            out.push(canonical);
        }
    }
    Ok(out)
}
