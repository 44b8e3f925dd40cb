//! `proviso_audit._native`: the audit core as a Python extension. An
//! [`Index`] opens an index directory once (its segments memory-mapped,
//! read-only) and audits Arrow record batches with it; pyarrow arrays cross
//! by the Arrow C data interface, without a copy. The Python package
//! (`proviso_audit/__init__.py`) builds the engines' adapters on it.

use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use arrow_pyarrow::PyArrowType;
use proviso_audit::{BatchError, Summary};
use proviso_index::{IndexError, IndexSet};
use pyo3::exceptions::{
    PyFileNotFoundError, PyKeyError, PyOSError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// An index directory, opened once and shared by every batch a worker
/// audits.
#[pyclass(module = "proviso_audit._native", frozen)]
struct Index {
    set: IndexSet,
    path: String,
    segments: usize,
}

fn open_error(path: &str, e: IndexError) -> PyErr {
    match e {
        IndexError::Io { path: p, source }
            if p == path && source.kind() == std::io::ErrorKind::NotFound =>
        {
            PyFileNotFoundError::new_err(format!(
                "no index at {path} (run `proviso index add` or `proviso index rebuild`): {source}"
            ))
        }
        IndexError::Io { path: p, source } => PyOSError::new_err(format!("{p}: {source}")),
        e => PyValueError::new_err(e.to_string()),
    }
}

/// The threads of this process's audits. Rayon's global pool does not
/// survive a `fork` (Hugging Face `datasets` forks its `num_proc` workers,
/// as do some Spark and multiprocessing set-ups): a child that inherited a
/// used pool would wait for threads that do not exist. So each process
/// makes its own pool, and a process that finds one made by its parent
/// makes another.
fn pool() -> PyResult<Arc<rayon::ThreadPool>> {
    static POOL: Mutex<Option<(u32, Arc<rayon::ThreadPool>)>> = Mutex::new(None);
    let me = std::process::id();
    let mut slot = POOL
        .lock()
        .map_err(|_| PyRuntimeError::new_err("the audit's thread pool lock is poisoned"))?;
    if let Some((pid, p)) = slot.as_ref()
        && *pid == me
    {
        return Ok(Arc::clone(p));
    }
    // RAYON_NUM_THREADS is read by the builder, as by the global pool.
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .build()
            .map_err(|e| PyRuntimeError::new_err(format!("starting the audit's threads: {e}")))?,
    );
    *slot = Some((me, Arc::clone(&p)));
    Ok(p)
}

#[pymethods]
impl Index {
    /// Opens the index directory `path` (every `*.pvx` segment and the
    /// background), checking each segment's checksum.
    #[new]
    fn new(py: Python<'_>, path: &str) -> PyResult<Self> {
        // Checking the segments' checksums reads them whole: without the GIL.
        let (set, segments) = py
            .detach(|| proviso_index::open_dir(Path::new(path), proviso_index::read_segment))
            .map_err(|e| open_error(path, e))?;
        Ok(Self {
            set,
            path: path.to_owned(),
            segments: segments.len(),
        })
    }

    /// The directory it was opened from.
    #[getter]
    fn path(&self) -> &str {
        &self.path
    }

    /// How many segments it holds.
    #[getter]
    fn segments(&self) -> usize {
        self.segments
    }

    /// How many reference outputs it holds.
    #[getter]
    fn references(&self) -> usize {
        self.set.len()
    }

    /// Audits the text column `field` of `batch` (a `pyarrow.RecordBatch`
    /// whose first row is row `first_row` of the whole input) on every
    /// core, without the GIL. Returns the findings (a `RecordBatch`, a row
    /// per input row) and the batch's counts (a dict).
    #[pyo3(signature = (batch, field = "text", first_row = 0))]
    fn audit_batch<'py>(
        &self,
        py: Python<'py>,
        batch: PyArrowType<RecordBatch>,
        field: &str,
        first_row: u64,
    ) -> PyResult<(PyArrowType<RecordBatch>, Bound<'py, PyDict>)> {
        let batch = batch.0;
        let pool = pool()?;
        let (out, summary) = py
            .detach(|| {
                pool.install(|| {
                    let mut summary = Summary::default();
                    proviso_audit::audit_batch(&self.set, &batch, field, first_row, &mut summary)
                        .map(|out| (out, summary))
                })
            })
            .map_err(|e| match e {
                BatchError::NoColumn { .. } => PyKeyError::new_err(e.to_string()),
                BatchError::NotText { .. } => PyTypeError::new_err(e.to_string()),
                e => PyRuntimeError::new_err(e.to_string()),
            })?;
        let counts = PyDict::new(py);
        counts.set_item("audited", summary.audited)?;
        counts.set_item("flagged", summary.flagged)?;
        counts.set_item("bytes", summary.bytes)?;
        counts.set_item("tokens", summary.tokens)?;
        counts.set_item("flagged_tokens", summary.flagged_tokens())?;
        let errors: Vec<(u64, String)> = summary
            .errors
            .into_iter()
            .map(|b| (b.line, b.error))
            .collect();
        counts.set_item("errors", errors)?;
        Ok((PyArrowType(out), counts))
    }

    fn __repr__(&self) -> String {
        format!(
            "Index({:?}: {} references in {} segments)",
            self.path,
            self.set.len(),
            self.segments
        )
    }
}

/// The 95% Wilson and Clopper–Pearson intervals of `flagged` out of
/// `audited`, as `proviso audit` reports them:
/// `((wilson_lo, wilson_hi), (cp_lo, cp_hi))`.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn intervals(flagged: u64, audited: u64) -> PyResult<((f64, f64), (f64, f64))> {
    if flagged > audited {
        return Err(PyValueError::new_err(format!(
            "flagged ({flagged}) is more than audited ({audited})"
        )));
    }
    Ok((
        proviso_audit::stats::wilson(flagged, audited),
        proviso_audit::stats::clopper_pearson(flagged, audited),
    ))
}

/// The findings' column names, in order.
#[pyfunction]
fn findings_columns() -> Vec<String> {
    proviso_audit::findings_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Index>()?;
    m.add_function(wrap_pyfunction!(intervals, m)?)?;
    m.add_function(wrap_pyfunction!(findings_columns, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
