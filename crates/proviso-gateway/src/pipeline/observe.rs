//! Stage: observe. Hands each committed exchange (without its output) to
//! the monitor's bounded queue. Never waits: a full queue drops the
//! observation and counts it.

use proviso_ledger::Record;

use crate::state::AppState;

/// The copy the monitor will get, taken before the record moves to the
/// ledger; `None` when there is no monitor or nothing to learn.
pub fn prepare(state: &AppState, rec: &Record) -> Option<Record> {
    state.monitor.as_ref()?;
    crate::monitor::observable(rec).then(|| crate::monitor::slim(rec))
}

/// Queues it, once the record is committed.
pub fn run(state: &AppState, rec: Option<Record>) {
    if let (Some(m), Some(r)) = (&state.monitor, rec) {
        m.observe(r);
    }
}
