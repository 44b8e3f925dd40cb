//! Levels and the enforcement ladder: which steps to take when an actor's
//! level rises above what has been enforced on a key.

use serde::{Deserialize, Serialize};

use crate::config::{LadderConfig, Mode, Thresholds};

/// A risk level, in ladder order.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Nothing to do.
    #[default]
    Ok,
    /// Tell the customer (webhook, ledger event, `Proviso-Notice` header).
    Notice,
    /// Lower the key's limits.
    Throttle,
    /// Suspend pending review.
    Suspend,
    /// Revoke (after the notice period, unless reinstated).
    Revoke,
}

impl Level {
    /// All levels, in order.
    pub const ALL: [Level; 5] = [
        Level::Ok,
        Level::Notice,
        Level::Throttle,
        Level::Suspend,
        Level::Revoke,
    ];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Notice => "notice",
            Level::Throttle => "throttle",
            Level::Suspend => "suspend",
            Level::Revoke => "revoke",
        }
    }

    /// The level of `score`.
    pub fn of(score: f64, t: &Thresholds) -> Level {
        if score >= t.revoke {
            Level::Revoke
        } else if score >= t.suspend {
            Level::Suspend
        } else if score >= t.throttle {
            Level::Throttle
        } else if score >= t.notice {
            Level::Notice
        } else {
            Level::Ok
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The ladder mode of this step.
    pub fn mode(self, l: &LadderConfig) -> Mode {
        match self {
            Level::Ok => Mode::Off,
            Level::Notice => l.notice,
            Level::Throttle => l.throttle,
            Level::Suspend => l.suspend,
            Level::Revoke => l.revoke,
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The steps from `enforced` (exclusive) up to `target` (inclusive), in
/// order, with their modes; `off` steps are left out.
pub fn steps(enforced: Level, target: Level, l: &LadderConfig) -> Vec<(Level, Mode)> {
    Level::ALL
        .into_iter()
        .filter(|s| *s > enforced && *s <= target)
        .map(|s| (s, s.mode(l)))
        .filter(|(_, m)| *m != Mode::Off)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_come_in_order_and_skip_what_is_off() {
        let mut l = LadderConfig::default();
        assert_eq!(
            steps(Level::Ok, Level::Suspend, &l),
            vec![
                (Level::Notice, Mode::Auto),
                (Level::Throttle, Mode::Auto),
                (Level::Suspend, Mode::Auto)
            ]
        );
        l.throttle = Mode::Off;
        l.revoke = Mode::Manual;
        assert_eq!(
            steps(Level::Notice, Level::Revoke, &l),
            vec![(Level::Suspend, Mode::Auto), (Level::Revoke, Mode::Manual)]
        );
        assert!(steps(Level::Suspend, Level::Notice, &l).is_empty());
        let t = Thresholds::default();
        assert_eq!(Level::of(0.0, &t), Level::Ok);
        assert_eq!(Level::of(t.suspend, &t), Level::Suspend);
        assert_eq!(Level::parse("throttle"), Some(Level::Throttle));
    }
}
