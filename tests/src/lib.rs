//! Support library for tfr's black-box tests (`tests/tests/*.rs`).
//!
//! Nothing here knows tfr's internals: it starts the server through the app crate's public
//! API (`tfr::start`), talks to it over HTTP(S) and runs the real `terraform` CLI against it.
//!
//! - [`ca`]: a throwaway CA and a server certificate for `localhost` and `127.0.0.1`.
//! - [`terraform`]: find terraform binaries and run them in an isolated environment.
//! - [`archives`]: module archives, good and hostile.
//! - [`provider`]: goreleaser-style provider dists (zips, SHA256SUMS, detached signature).
//! - [`postgres`]: a fresh PostgreSQL database per test, dropped afterwards.
//! - [`blobs`]: snapshots of the filesystem blob store, to prove nothing was left behind.
//! - [`cloud`]: storage settings for the emulators, and a store's contents read back.
//! - [`harness`]: a running tfr with an HTTP client and publishing helpers.
//! - [`init_scenario`]: the foundation's publish-then-`terraform init` scenario.
//! - [`oidc`]: a real OpenID provider (npm oidc-provider) for SSO tests.
//! - [`browser`]: a cookie-keeping client that follows redirects by hand, like a browser.
//! - [`sso_flow`]: tfr's SSO settings for that provider, and browser sign-ins.
//! - [`access`]: the OpenAPI operations with their declared requirement, requests with a
//!   chosen credential, and the audit log read back.
//! - [`sso`]: signing a user in through the real SSO flow (with [`oidc`]'s provider).
//! - [`world`]: a registry with SSO and a signed-in admin, and request helpers that assert
//!   a status with context (shared by the access and audit tests).

pub mod access;
pub mod archives;
pub mod blobs;
pub mod browser;
pub mod ca;
pub mod cloud;
pub mod fake_upstream;
pub mod harness;
pub mod init_scenario;
pub mod mirror;
pub mod oidc;
pub mod postgres;
pub mod provider;
pub mod sso;
pub mod sso_flow;
pub mod terraform;
pub mod world;

pub use ca::TestCa;
pub use harness::{TestRegistry, TestRegistryBuilder};
pub use terraform::{Terraform, TerraformOutput, terraform_binaries};
