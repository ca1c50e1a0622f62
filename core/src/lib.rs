//! tfr-core: the registry's domain. Pure and synchronous: no I/O crates.
//!
//! Everything the rest of tfr agrees on lives here: validated names and addresses,
//! versions with Terraform's parsing rules, platforms, blob keys (every storage path is
//! built in this crate), scopes, archive safety rules and provider package rules.

pub mod archive;
pub mod blob_key;
pub mod constraint;
pub mod hash;
pub mod mirror;
pub mod names;
pub mod platform;
pub mod provider_package;
pub mod registry_host;
pub mod scope;
pub mod version;

pub use archive::{
    ArchiveEntry, ArchiveFormat, ArchiveLimits, ArchiveSummary, ArchiveViolation, EntryKind,
};
pub use blob_key::{BlobKey, BlobKeyError};
pub use constraint::{ConstraintError, VersionConstraint};
pub use mirror::MirrorFilter;
pub use names::{
    ModuleAddress, ModuleName, ModuleSystem, NameError, Namespace, ProviderAddress, ProviderType,
};
pub use platform::{Platform, PlatformError};
pub use registry_host::{HostError, RegistryHost};
pub use scope::{Scope, ScopeError, ScopeSet};
pub use version::{ModuleVersion, ProviderVersion, Version, VersionError};
