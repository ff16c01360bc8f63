//! [`Clock`]: where the time comes from. Only the edges (`cli`, `daemon`)
//! make one from the system clock; everything below takes it, or the time
//! itself, as a parameter, so tests can pin it.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// A source of the current time.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    /// A clock reading `now` (the edges pass `chrono::Utc::now`).
    pub fn new(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// A clock that always reads `at`.
    pub fn fixed(at: DateTime<Utc>) -> Clock {
        Clock::new(move || at)
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now().to_rfc3339())
    }
}
