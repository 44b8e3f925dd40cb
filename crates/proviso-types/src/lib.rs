//! Identifiers and value types shared by every Proviso crate.
//!
//! Nothing here does I/O; everything is `serde`-serialisable so that the
//! ledger, the gateway and the CLI speak of the same things.
//!
//! ```
//! use proviso_types::{RecordId, UnixMillis};
//! let a = RecordId::new_at(UnixMillis(1_700_000_000_000));
//! let b = RecordId::new_at(UnixMillis(1_700_000_000_001));
//! assert!(a < b, "record ids sort by time");
//! ```
#![deny(missing_docs)]

mod clock;
mod ids;
mod time_ms;
mod usage;

pub use clock::Clock;
pub use ids::{KeyId, RecordId};
pub use time_ms::UnixMillis;
pub use usage::Usage;
