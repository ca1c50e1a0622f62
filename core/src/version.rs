//! Versions as Terraform reads them.
//!
//! Modules are parsed leniently like hashicorp/go-version (`v` prefix, 1..n numeric
//! segments) and kept in canonical form (no `v`, at least three segments), because the
//! CLI normalises a listed version before it builds the download URL. Providers must be
//! strict `MAJOR.MINOR.PATCH[-pre][+build]`: one `v`-prefixed entry in a versions list
//! aborts `terraform init` before 1.13 and in every OpenTofu.

use std::cmp::Ordering;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("invalid version {0:?}: {1}")]
    Invalid(String, &'static str),
}

/// A parsed version: numeric segments, optional prerelease and build metadata.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    segments: Vec<u64>,
    pre: Option<String>,
    build: Option<String>,
}

/// Longest version string accepted. Kept short enough that every blob key built from a
/// version (`{name}-{system}-{version}.tar.gz`, `terraform-provider-{type}_{version}_{os}_{arch}.zip`)
/// stays within the 255-byte file-name limit of common filesystems.
pub const MAX_VERSION_LEN: usize = 64;

fn valid_ident_list(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl Version {
    fn parse_core(
        input: &str,
        min_segments: usize,
        max_segments: usize,
    ) -> Result<Self, VersionError> {
        let err = |why| VersionError::Invalid(input.to_string(), why);
        if input.is_empty() || input.len() > MAX_VERSION_LEN {
            return Err(err("must be 1-64 characters"));
        }
        let (rest, build) = match input.split_once('+') {
            Some((r, b)) => {
                if !valid_ident_list(b) {
                    return Err(err(
                        "build metadata must be dot-separated [0-9A-Za-z-] identifiers",
                    ));
                }
                (r, Some(b.to_string()))
            }
            None => (input, None),
        };
        let (numbers, pre) = match rest.split_once('-') {
            Some((n, p)) => {
                if !valid_ident_list(p) {
                    return Err(err(
                        "prerelease must be dot-separated [0-9A-Za-z-] identifiers",
                    ));
                }
                (n, Some(p.to_string()))
            }
            None => (rest, None),
        };
        let mut segments = Vec::new();
        for part in numbers.split('.') {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) || part.len() > 18 {
                return Err(err("expected numeric segments such as 1.2.3"));
            }
            segments.push(
                part.parse::<u64>()
                    .map_err(|_| err("numeric segment out of range"))?,
            );
        }
        if segments.len() < min_segments || segments.len() > max_segments {
            return Err(err(if max_segments == 3 {
                "expected MAJOR.MINOR.PATCH"
            } else {
                "expected numeric segments such as 1.2.3"
            }));
        }
        while segments.len() < 3 {
            segments.push(0);
        }
        Ok(Self {
            segments,
            pre,
            build,
        })
    }

    /// A version as written in a provider version constraint: 1-3 numeric segments,
    /// padded to three (`5` is `5.0.0`), no `v` prefix.
    pub fn parse_constraint_operand(input: &str) -> Result<Self, VersionError> {
        Self::parse_core(input, 1, 3)
    }

    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some()
    }
    pub fn segments(&self) -> &[u64] {
        &self.segments
    }
    pub fn prerelease(&self) -> Option<&str> {
        self.pre.as_deref()
    }
    /// Build metadata (after `+`); ignored for precedence.
    pub fn build(&self) -> Option<&str> {
        self.build.as_deref()
    }
    /// Compares by semver precedence only: numeric segments (missing ones count as 0),
    /// then prerelease. Build metadata and spelling differences (`1.2.3` vs `1.2.3.0`)
    /// compare equal here; use `Ord` for a total order consistent with `Eq`.
    pub fn cmp_precedence(&self, other: &Self) -> Ordering {
        let len = self.segments.len().max(other.segments.len());
        for i in 0..len {
            let a = self.segments.get(i).copied().unwrap_or(0);
            let b = other.segments.get(i).copied().unwrap_or(0);
            match a.cmp(&b) {
                Ordering::Equal => {}
                ord => return ord,
            }
        }
        match (&self.pre, &other.pre) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => cmp_prerelease(a, b),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nums: Vec<String> = self.segments.iter().map(u64::to_string).collect();
        f.write_str(&nums.join("."))?;
        if let Some(pre) = &self.pre {
            write!(f, "-{pre}")?;
        }
        if let Some(build) = &self.build {
            write!(f, "+{build}")?;
        }
        Ok(())
    }
}

fn is_numeric_ident(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Compares two all-digit strings by value without overflowing: ignore leading zeros,
/// then the longer number is larger, then compare digit by digit.
fn cmp_numeric(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Semver 2.0.0 rule 11 precedence for prerelease identifier lists: numeric identifiers
/// compare numerically and sort before alphanumeric ones, which compare in ASCII order;
/// a shorter list that is a prefix of a longer one sorts first.
fn cmp_prerelease(a: &str, b: &str) -> Ordering {
    let mut ai = a.split('.');
    let mut bi = b.split('.');
    loop {
        match (ai.next(), bi.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let ord = match (is_numeric_ident(x), is_numeric_ident(y)) {
                    (true, true) => cmp_numeric(x, y),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => x.cmp(y),
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

impl Ord for Version {
    /// Semver precedence (see [`Version::cmp_precedence`]). Versions of equal precedence
    /// are then ordered by their spelling (segment count, prerelease text, build
    /// metadata) so that the order is total and `a.cmp(b) == Equal` exactly when `a == b`.
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_precedence(other)
            .then_with(|| self.segments.len().cmp(&other.segments.len()))
            .then_with(|| self.pre.cmp(&other.pre))
            .then_with(|| self.build.cmp(&other.build))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A module version: lenient on input, canonical on output.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModuleVersion(Version);

impl ModuleVersion {
    /// Accepts what go-version accepts: `v1.2.3`, `1.2`, `1.2.3.4`, prereleases, build.
    pub fn parse(input: &str) -> Result<Self, VersionError> {
        let trimmed = input.strip_prefix('v').unwrap_or(input);
        Version::parse_core(trimmed, 1, 8)
            .map(Self)
            .map_err(|VersionError::Invalid(_, why)| VersionError::Invalid(input.to_string(), why))
    }
    pub fn version(&self) -> &Version {
        &self.0
    }
    pub fn is_prerelease(&self) -> bool {
        self.0.is_prerelease()
    }
}

impl fmt::Display for ModuleVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A provider version: strict `MAJOR.MINOR.PATCH[-pre][+build]`, no `v`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProviderVersion(Version);

impl ProviderVersion {
    pub fn parse(input: &str) -> Result<Self, VersionError> {
        if input.starts_with('v') {
            return Err(VersionError::Invalid(
                input.to_string(),
                "provider versions must not have a \"v\" prefix",
            ));
        }
        Version::parse_core(input, 3, 3).map(Self)
    }
    pub fn version(&self) -> &Version {
        &self.0
    }
    pub fn is_prerelease(&self) -> bool {
        self.0.is_prerelease()
    }
}

impl fmt::Display for ProviderVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
