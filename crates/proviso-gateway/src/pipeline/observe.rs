//! Stage: observe. Every committed exchange goes to the monitor — but not
//! from the request path: the ledger's writer thread hands each committed
//! batch to [`tap`], after the callers were answered, which moves the
//! records (no copy) into the monitor's bounded queue without waiting. A
//! full queue drops the observation and counts it, and the monitor reads
//! it back from the ledger when it has time (in the ledger's order); a
//! request is never slowed or failed by the monitor.

use proviso_ledger::{Record, Tap};

use crate::monitor::{MonitorHandle, observable, slim};
use std::sync::Arc;

/// The ledger tap that feeds `monitor`.
pub fn tap(monitor: Arc<MonitorHandle>) -> Tap {
    Box::new(move |records: Vec<Record>, seqs: Vec<Option<u64>>| {
        let mut seqs = seqs.into_iter();
        for r in records {
            let seq = seqs.next().flatten();
            if observable(&r) {
                monitor.observe_at(seq, slim(r));
            }
        }
    })
}
