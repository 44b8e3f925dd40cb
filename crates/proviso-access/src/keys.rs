//! Keys and their lifecycle: states, records, what an application and an
//! approval hold, and the change events. The SQLite store is `store.rs`.

use proviso_types::{KeyId, UnixMillis};
use serde::{Deserialize, Serialize};

use crate::Quotas;

/// Where a key stands in its lifecycle:
/// `pending` → `active` (approved) → `suspended` → `revoked`; `pending` →
/// `denied`. `expired` and the end of a suspension's notice period are
/// derived from times (see [`KeyRecord::effective_state`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Applied for; waiting for an administrator. Has no secret yet.
    Pending,
    /// Approved and usable.
    Active,
    /// Temporarily refused, pending review; may carry a notice period after
    /// which it is revoked unless reinstated.
    Suspended,
    /// Permanently unusable.
    Revoked,
    /// The application was refused. Has no secret.
    Denied,
    /// Its expiry time has passed (derived, never stored).
    Expired,
}

impl KeyState {
    /// Whether requests with this key may proceed.
    pub fn is_usable(self) -> bool {
        matches!(self, KeyState::Active)
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Pending => "pending",
            KeyState::Active => "active",
            KeyState::Suspended => "suspended",
            KeyState::Revoked => "revoked",
            KeyState::Denied => "denied",
            KeyState::Expired => "expired",
        }
    }

    /// Parses the stored name (an unknown one reads as `revoked`, so a
    /// damaged row never grants access).
    pub fn parse(s: &str) -> Self {
        match s {
            "pending" => KeyState::Pending,
            "active" => KeyState::Active,
            "suspended" => KeyState::Suspended,
            "denied" => KeyState::Denied,
            // Anything unknown is treated as unusable: fail closed.
            _ => KeyState::Revoked,
        }
    }
}

impl std::fmt::Display for KeyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A client key as stored (never with its secret).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeyRecord {
    /// Public id, `key_…`.
    pub id: KeyId,
    /// The team it belongs to.
    pub team: String,
    /// A label.
    pub name: Option<String>,
    /// Stored lifecycle state (see [`KeyRecord::effective_state`]).
    pub state: KeyState,
    /// Who to contact about the key.
    pub contact: Option<String>,
    /// Why access was asked for.
    pub justification: Option<String>,
    /// Purposes the key may declare; empty means any purpose of the
    /// vocabulary.
    pub purposes: Vec<String>,
    /// Models (names or globs) the key may use; empty means any.
    pub models: Vec<String>,
    /// The purpose assumed when a request declares none.
    pub default_purpose: Option<String>,
    /// The key's own limits.
    pub quotas: Quotas,
    /// When the key stops working, if ever.
    pub expires: Option<UnixMillis>,
    /// For a suspension with notice: when it becomes a revocation.
    pub revoke_at: Option<UnixMillis>,
    /// When it was created (or applied for).
    pub created: UnixMillis,
    /// When its state last changed.
    pub updated: UnixMillis,
    /// Why its state last changed.
    pub reason: Option<String>,
    /// Who changed it last.
    pub updated_by: Option<String>,
    /// The ledger record of the last lifecycle change.
    pub reason_ref: Option<String>,
}

impl KeyRecord {
    /// The state in force at `now`: an active key past its expiry is
    /// `Expired`; a suspended key past its notice period is `Revoked`.
    pub fn effective_state(&self, now: UnixMillis) -> KeyState {
        match self.state {
            KeyState::Active if self.expires.is_some_and(|e| e <= now) => KeyState::Expired,
            KeyState::Suspended if self.revoke_at.is_some_and(|t| t <= now) => KeyState::Revoked,
            s => s,
        }
    }

    /// The purpose assumed when a request declares none.
    pub fn implied_purpose(&self) -> Option<&str> {
        self.default_purpose
            .as_deref()
            .or(match self.purposes.as_slice() {
                [only] => Some(only.as_str()),
                _ => None,
            })
    }
}

/// What `create` (an administrator issuing a key directly) needs.
#[derive(Clone, Debug, Default)]
pub struct NewKey {
    /// The team the key belongs to.
    pub team: String,
    /// An optional label.
    pub name: Option<String>,
    /// Purposes (empty: any).
    pub purposes: Vec<String>,
    /// Models (empty: any).
    pub models: Vec<String>,
    /// Default purpose.
    pub default_purpose: Option<String>,
    /// Limits.
    pub quotas: Quotas,
    /// Expiry.
    pub expires: Option<UnixMillis>,
}

/// An application for access.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// The team asking.
    pub team: String,
    /// Who to contact.
    pub contact: String,
    /// Purposes asked for (at least one).
    pub purposes: Vec<String>,
    /// Models asked for (at least one; globs allowed).
    pub models: Vec<String>,
    /// Why.
    pub justification: String,
    /// A label.
    #[serde(default)]
    pub name: Option<String>,
    /// Limits asked for.
    #[serde(default)]
    pub quotas: Quotas,
}

/// An administrator's approval, possibly narrowing the application.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// Purposes granted (a subset of those applied for); default: all asked.
    #[serde(default)]
    pub purposes: Option<Vec<String>>,
    /// Models granted (a subset); default: all asked.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// Limits granted; default: those asked.
    #[serde(default)]
    pub quotas: Option<Quotas>,
    /// Expiry.
    #[serde(default)]
    pub expires: Option<UnixMillis>,
    /// Default purpose.
    #[serde(default)]
    pub default_purpose: Option<String>,
}

/// Who made a change and why; recorded on the key and in the ledger.
#[derive(Clone, Debug)]
pub struct Change<'a> {
    /// The administrator (or `monitor`, `system`).
    pub by: &'a str,
    /// Why.
    pub reason: &'a str,
    /// The id of the ledger event that records it.
    pub record_id: &'a str,
    /// When the change is made, on the caller's clock (the gateway's may be
    /// simulated): the key's `updated`, and the start of a notice period.
    pub now: UnixMillis,
}

/// A change in a key's life, named as its ledger event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyEvent {
    /// An administrator issued a key directly.
    Created,
    /// A team applied for a key.
    Applied,
    /// An application was approved (the key is active).
    Approved,
    /// An application was refused.
    Denied,
    /// A key was suspended (or its suspension given a notice period).
    Suspended,
    /// A suspended key was reinstated.
    Reinstated,
    /// A key was revoked for good.
    Revoked,
}

impl KeyEvent {
    /// The ledger event's name (`key.created`, …).
    pub fn name(self) -> &'static str {
        match self {
            KeyEvent::Created => "key.created",
            KeyEvent::Applied => "key.applied",
            KeyEvent::Approved => "key.approved",
            KeyEvent::Denied => "key.denied",
            KeyEvent::Suspended => "key.suspended",
            KeyEvent::Reinstated => "key.reinstated",
            KeyEvent::Revoked => "key.revoked",
        }
    }
}
