//! Prometheus metrics. Request metrics are updated only through the typed
//! events in `events.rs`; ledger gauges are read from the writer's
//! counters at scrape time.

use std::fmt::Write as _;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use proviso_ledger::LedgerStats;

/// Labels of `proviso_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `chat`, `completions`, `embeddings`, `models`.
    pub endpoint: String,
    /// A configured model name, or `other`.
    pub model: String,
    /// The key's team, or `none`.
    pub team: String,
    /// HTTP status.
    pub status: String,
}

/// Labels of the latency histograms.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    /// Endpoint label.
    pub endpoint: String,
}

/// Labels of `proviso_upstream_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabels {
    /// Upstream name.
    pub upstream: String,
    /// `timeout`, `unreachable`, `status_5xx`, `status_4xx`, `bad_response`,
    /// `stream_broken`.
    pub kind: String,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        5.0, 10.0, 30.0, 60.0,
    ]
    .into_iter()
}

/// All metric families.
pub struct Metrics {
    registry: Registry,
    /// Requests by endpoint, model, team and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Total time per request.
    pub duration: Family<EndpointLabels, Histogram>,
    /// Time spent in Proviso (total minus upstream), non-streamed requests.
    pub added: Family<EndpointLabels, Histogram>,
    /// Upstream failures.
    pub upstream_errors: Family<UpstreamLabels, Counter>,
    /// API requests answered 503 `overloaded` (over `max_concurrent_requests`).
    pub overloaded: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let duration = Family::<EndpointLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(latency_buckets())) as fn() -> Histogram,
        );
        let added = Family::<EndpointLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(latency_buckets())) as fn() -> Histogram,
        );
        let upstream_errors = Family::<UpstreamLabels, Counter>::default();
        registry.register("proviso_requests", "Requests handled", requests.clone());
        registry.register(
            "proviso_request_duration_seconds",
            "Time from request to the end of the response",
            duration.clone(),
        );
        registry.register(
            "proviso_added_latency_seconds",
            "Time spent in Proviso itself (total minus upstream), non-streamed requests",
            added.clone(),
        );
        registry.register(
            "proviso_upstream_errors",
            "Upstream failures",
            upstream_errors.clone(),
        );
        let overloaded = Counter::default();
        registry.register(
            "proviso_overloaded",
            "API requests refused with 503 overloaded (max_concurrent_requests)",
            overloaded.clone(),
        );
        Self {
            registry,
            requests,
            duration,
            added,
            upstream_errors,
            overloaded,
        }
    }
}

impl Metrics {
    /// The Prometheus text exposition, including the ledger's gauges.
    pub fn render(&self, ledger: &LedgerStats) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode_registry(&mut out, &self.registry).is_err() {
            out.clear();
        }
        let g = |out: &mut String, name: &str, help: &str, kind: &str, v: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        };
        g(
            &mut out,
            "proviso_ledger_queue_depth",
            "Records waiting for the ledger writer",
            "gauge",
            ledger.queue_depth.to_string(),
        );
        g(
            &mut out,
            "proviso_ledger_backlog",
            "Records whose write failed, waiting for retry",
            "gauge",
            ledger.backlog.to_string(),
        );
        g(
            &mut out,
            "proviso_ledger_healthy",
            "1 when the ledger is writable",
            "gauge",
            u8::from(ledger.healthy).to_string(),
        );
        g(
            &mut out,
            "proviso_ledger_records_committed_total",
            "Records committed",
            "counter",
            ledger.committed_records.to_string(),
        );
        g(
            &mut out,
            "proviso_ledger_failed_batches_total",
            "Ledger transactions that failed",
            "counter",
            ledger.failed_batches.to_string(),
        );
        g(
            &mut out,
            "proviso_ledger_dropped_total",
            "Records refused because the backlog was full",
            "counter",
            ledger.dropped.to_string(),
        );
        if let Some(w) = ledger.wal_bytes {
            g(
                &mut out,
                "proviso_ledger_wal_bytes",
                "Size of the ledger's SQLite write-ahead log",
                "gauge",
                w.to_string(),
            );
        }
        let name = "proviso_ledger_commit_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time to commit one batch\n# TYPE {name} histogram"
        );
        for (i, b) in proviso_ledger::COMMIT_BUCKETS_SECONDS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{b}\"}} {}",
                ledger.commit_buckets.get(i).copied().unwrap_or(0)
            );
        }
        let total = ledger.commit_buckets.last().copied().unwrap_or(0);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
        let _ = writeln!(
            out,
            "{name}_sum {}\n{name}_count {total}",
            ledger.commit_sum_seconds
        );
        out.push_str("# EOF\n");
        out
    }
}
