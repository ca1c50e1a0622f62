//! Time, behind a port so use cases can be tested with a manual clock.

use chrono::{DateTime, SubsecRound, Utc};

pub trait Clock: Send + Sync {
    /// Now, truncated to microseconds so values compare the same on every database.
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}
