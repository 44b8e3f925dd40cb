use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::UnixMillis;

/// A ledger record id: a ULID, so ids sort by creation time and need no
/// coordination between gateway replicas.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct RecordId(ulid::Ulid);

impl RecordId {
    /// A new id for a record created now.
    pub fn new() -> Self {
        Self(ulid::Ulid::new())
    }

    /// A new id for a record created at `at` (random low bits).
    pub fn new_at(at: UnixMillis) -> Self {
        let ms = u64::try_from(at.0).unwrap_or(0);
        Self(ulid::Ulid::from_parts(ms, rand_u128()))
    }

    /// The creation time encoded in the id.
    pub fn timestamp(&self) -> UnixMillis {
        UnixMillis(i64::try_from(self.0.timestamp_ms()).unwrap_or(i64::MAX))
    }
}

fn rand_u128() -> u128 {
    // ulid's generator uses `rand`; we reuse it through `Ulid::new()` for the
    // random part, keeping one source of randomness.
    ulid::Ulid::new().random()
}

impl Default for RecordId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({})", self.0)
    }
}

impl FromStr for RecordId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ulid::Ulid::from_string(s)
            .map(Self)
            .map_err(|e| format!("invalid record id {s:?}: {e}"))
    }
}

impl From<RecordId> for String {
    fn from(id: RecordId) -> Self {
        id.to_string()
    }
}

impl TryFrom<String> for RecordId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// The public id of a client key (`key_…`). The secret itself is never a
/// `KeyId`; only its SHA-256 is stored.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub String);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_id_round_trips_through_json() {
        let id = RecordId::new();
        let s = serde_json::to_string(&id).unwrap();
        let back: RecordId = serde_json::from_str(&s).unwrap();
        assert_eq!(id, back);
    }

    #[test]
    fn record_id_rejects_garbage() {
        assert!("not-a-ulid".parse::<RecordId>().is_err());
    }
}
