//! Desensitization: find personal data and secrets in text, replace them
//! before a prompt leaves, and put them back in the answer.
//!
//! Recognisers validate what they find (Luhn for cards, mod 97 for IBANs,
//! ISO 7064 MOD 11-2 and a real birth date for Chinese resident IDs, octet
//! ranges for IPv4, …), so look-alikes are not flagged; context words nearby
//! raise confidence. Overlapping findings are resolved before anything is
//! replaced: the longer wins, then the more confident.
//!
//! ```
//! use proviso_redact::{Redactor, RedactConfig, Session};
//! let r = Redactor::new(RedactConfig::default()).unwrap();
//! let mut s = Session::default();
//! let masked = r.redact("Mail ann@example.com or call +86 138 0013 8000.", None, &mut s);
//! assert_eq!(masked.text, "Mail <EMAIL_1> or call <PHONE_1>.");
//! assert_eq!(s.restore("Wrote to <EMAIL_1>."), "Wrote to ann@example.com.");
//! ```
#![deny(missing_docs)]

mod actions;
mod blocks;
mod entity;
pub mod evalset;
pub mod fold;
mod gate;
mod overlap;
pub mod recognizers;
mod redactor;
pub mod score;
mod session;
mod stream;

pub use actions::Action;
pub use blocks::{BLOCK, BlockRedactor, MARGIN};
pub use entity::{EntityKind, Finding};
pub use overlap::resolve;
pub use redactor::{RedactConfig, RedactError, Redacted, Redactor};
pub use session::{SealError, Session};
pub use stream::StreamRestorer;
