//! The time source of the gateway and its monitor: the system clock in
//! production, or a clock a simulation drives (`[server] clock =
//! "simulated"`), so that days of traffic run in minutes.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::UnixMillis;

/// A cheap, clonable clock.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// Wall-clock time.
    #[default]
    System,
    /// Simulated time: set or advanced explicitly, shared by all clones.
    Simulated(Arc<AtomicI64>),
}

impl Clock {
    /// A simulated clock starting at `start`.
    pub fn simulated(start: UnixMillis) -> Self {
        Clock::Simulated(Arc::new(AtomicI64::new(start.0)))
    }

    /// The current time.
    pub fn now(&self) -> UnixMillis {
        match self {
            Clock::System => UnixMillis::now(),
            Clock::Simulated(t) => UnixMillis(t.load(Ordering::Relaxed)),
        }
    }

    /// Whether this clock is simulated.
    pub fn is_simulated(&self) -> bool {
        matches!(self, Clock::Simulated(_))
    }

    /// Moves a simulated clock forward to `t` (never back); returns the time
    /// in force. The system clock ignores it.
    pub fn advance_to(&self, t: UnixMillis) -> UnixMillis {
        match self {
            Clock::System => UnixMillis::now(),
            Clock::Simulated(c) => UnixMillis(c.fetch_max(t.0, Ordering::Relaxed).max(t.0)),
        }
    }

    /// Sets a simulated clock to `t`, backwards too (to test clock jumps).
    /// Returns false for the system clock.
    pub fn set(&self, t: UnixMillis) -> bool {
        match self {
            Clock::System => false,
            Clock::Simulated(c) => {
                c.store(t.0, Ordering::Relaxed);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_clock_moves_forward_only_unless_set() {
        let c = Clock::simulated(UnixMillis(1000));
        let d = c.clone();
        assert_eq!(d.advance_to(UnixMillis(5000)), UnixMillis(5000));
        assert_eq!(c.now(), UnixMillis(5000));
        assert_eq!(c.advance_to(UnixMillis(10)), UnixMillis(5000));
        assert!(c.set(UnixMillis(10)));
        assert_eq!(d.now(), UnixMillis(10));
        assert!(!Clock::System.set(UnixMillis(1)));
        assert!(Clock::System.now().0 > 1_700_000_000_000);
    }
}
