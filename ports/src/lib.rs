//! tfr-ports: the hexagon's boundary.
//!
//! `driven` holds the traits adapters implement (repositories, blob storage, security,
//! archive inspection, clock); `service` holds the use cases, the only code that calls
//! them; `testkit` (feature `testkit`) holds in-memory fakes and the contract suites every
//! adapter runs.

pub mod driven;
mod panics;
pub mod service;
pub mod stream;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

pub use panics::panic_message;
pub use stream::{ByteStream, StagedFile};
