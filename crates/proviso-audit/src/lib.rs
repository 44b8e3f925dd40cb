//! The training-data audit: finds provider outputs in training data, says
//! where (file, line, byte ranges) and from which reference (ledger record
//! or source file row) they came.
//!
//! [`audit_batch`] audits an Arrow record batch (a data engine's worker);
//! [`read`] turns files, directories and globs (JSON lines, JSON arrays,
//! plain text; gzip or zstd) into documents, counting every bad line with
//! its file and line; [`scan`] queries the index over all cores;
//! [`sample`] draws a uniform sample and [`stats`] gives the contaminated
//! fraction with Wilson and Clopper–Pearson intervals. No async runtime and
//! no terminal code here: the CLI drives it.
#![deny(missing_docs)]

mod batch;
mod fields;
mod files;
mod json_field;
mod read;
mod report;
mod sample;
pub mod stats;

pub use batch::{BATCH_SOURCE, BatchError, audit_batch, findings_schema};
pub use read::{BadInput, Document, FieldSpec, Progress, read, read_references, read_tracked};
pub use report::{AttributedMatch, Flagged, Found, Summary, scan, scan_paths};
pub use sample::{Sampler, sample};
