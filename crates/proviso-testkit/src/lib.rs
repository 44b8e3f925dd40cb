//! Test support for Proviso: the deterministic fake OpenAI-compatible
//! upstream ([`fake`]) behind the `proviso-fake-upstream` binary, and helpers
//! that spawn binaries on free loopback ports ([`spawn`]).
//!
//! Not published; used by tests, benchmarks and the quickstart.
#![deny(missing_docs)]

pub mod fake;
mod fake_batch;
pub mod spawn;
