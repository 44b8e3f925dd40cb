//! `[redact]`: how the gateway desensitizes prompts when a policy rule says
//! `desensitize` (or always), and whether the placeholder mapping is kept.
//! The section itself lives with the rest of the configuration.

pub use crate::config::RedactSection;
