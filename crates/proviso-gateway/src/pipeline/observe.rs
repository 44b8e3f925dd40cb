//! Stage: observe. Every committed exchange goes to the monitor — but not
//! from the request path: the ledger's writer thread hands each committed
//! batch to [`tap`], after the callers were answered, which moves the
//! records (no copy) into the monitor's bounded queue without waiting. A
//! full queue drops the observation and counts it; a request is never
//! slowed or failed by the monitor.

use proviso_ledger::{Record, Tap};

use crate::monitor::{MonitorHandle, observable, slim};
use std::sync::Arc;

/// The ledger tap that feeds `monitor`.
pub fn tap(monitor: Arc<MonitorHandle>) -> Tap {
    Box::new(move |records: Vec<Record>| {
        for r in records {
            if observable(&r) {
                monitor.observe(slim(r));
            }
        }
    })
}
