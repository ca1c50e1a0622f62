//! Filled by the repository helper: in-memory repositories and repository contracts.
