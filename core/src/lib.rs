//! tfr-core: the registry's domain. Pure and synchronous: no I/O crates.
//!
//! Everything the rest of tfr agrees on lives here: validated names and addresses,
//! versions with Terraform's parsing rules, platforms, blob keys (every storage path is
//! built in this crate), scopes, archive safety rules and provider package rules.

pub mod archive;
pub mod blob_key;
pub mod hash;
pub mod names;
pub mod platform;
pub mod provider_package;
pub mod scope;
pub mod version;

pub use archive::{
    ArchiveEntry, ArchiveFormat, ArchiveLimits, ArchiveSummary, ArchiveViolation, EntryKind,
};
pub use blob_key::{BlobKey, BlobKeyError};
pub use names::{
    ModuleAddress, ModuleName, ModuleSystem, NameError, Namespace, ProviderAddress, ProviderType,
};
pub use platform::{Platform, PlatformError};
pub use scope::{Scope, ScopeError, ScopeSet};
pub use version::{ModuleVersion, ProviderVersion, Version, VersionError};
