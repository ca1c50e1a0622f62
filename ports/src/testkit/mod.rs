//! In-memory fakes, a manual clock and the contract suites every adapter runs.
//! Fakes are for use-case unit tests; adapters are tested against real systems with the
//! same contract suites.

pub mod blob;
pub mod clock;
pub mod fakes;
pub mod go_getter;
pub mod repos;
pub mod security;
pub mod upstream;

pub use clock::ManualClock;
