//! The Batch API's state, without any runtime: a batch input file read and
//! checked line by line ([`input`]), the result lines an upstream gives back
//! ([`output`]), and the store of files and batches ([`store`]: SQLite for
//! what is known of each, the files' bytes on disk beside it).
//!
//! The gateway does the rest: each line checked like a request, the masked
//! file sent upstream, the upstream polled, every line recorded.

pub mod input;
pub mod output;
pub mod store;

pub use input::{InputError, Limits, Line, LineError, SUPPORTED_URLS};
pub use output::ResultLine;
pub use store::{Batch, BatchStatus, FileInfo, NewBatch, Store, StoreError};
