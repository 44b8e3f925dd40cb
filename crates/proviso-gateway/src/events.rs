//! Telemetry as typed events: each `emit` writes the log line and updates
//! the metrics together. Prompts and outputs are never logged.

use std::time::Duration;

use crate::metrics::{EndpointLabels, Metrics, RequestLabels, UpstreamLabels};

/// A client request finished (any status).
pub struct RequestFinished<'a> {
    /// Record id.
    pub record_id: &'a str,
    /// Endpoint label.
    pub endpoint: &'a str,
    /// Model label (a configured name or `other`).
    pub model: &'a str,
    /// Team, or `none`.
    pub team: &'a str,
    /// HTTP status.
    pub status: u16,
    /// Error code, if any.
    pub code: Option<&'a str>,
    /// Total time.
    pub total: Duration,
    /// Time spent waiting on the upstream, when known and not streamed.
    pub upstream: Option<Duration>,
    /// Whether streamed.
    pub stream: bool,
}

impl RequestFinished<'_> {
    /// Logs and counts.
    pub fn emit(&self, m: &Metrics) {
        m.requests
            .get_or_create(&RequestLabels {
                endpoint: self.endpoint.to_owned(),
                model: self.model.to_owned(),
                team: self.team.to_owned(),
                status: self.status.to_string(),
            })
            .inc();
        let ep = EndpointLabels {
            endpoint: self.endpoint.to_owned(),
        };
        m.duration
            .get_or_create(&ep)
            .observe(self.total.as_secs_f64());
        if let Some(up) = self.upstream {
            m.added
                .get_or_create(&ep)
                .observe(self.total.saturating_sub(up).as_secs_f64());
        }
        tracing::info!(
            record_id = self.record_id,
            endpoint = self.endpoint,
            model = self.model,
            team = self.team,
            status = self.status,
            code = self.code.unwrap_or(""),
            stream = self.stream,
            latency_ms = self.total.as_secs_f64() * 1e3,
            "request"
        );
    }
}

/// An upstream failed (before or during the response).
pub struct UpstreamFailed<'a> {
    /// Upstream name.
    pub upstream: &'a str,
    /// Failure kind (see [`UpstreamLabels`]).
    pub kind: &'a str,
    /// Detail for the log.
    pub detail: &'a str,
    /// Whether another deployment will be tried.
    pub retrying: bool,
}

impl UpstreamFailed<'_> {
    /// Logs and counts.
    pub fn emit(&self, m: &Metrics) {
        m.upstream_errors
            .get_or_create(&UpstreamLabels {
                upstream: self.upstream.to_owned(),
                kind: self.kind.to_owned(),
            })
            .inc();
        tracing::warn!(
            upstream = self.upstream,
            kind = self.kind,
            detail = self.detail,
            retrying = self.retrying,
            "upstream failure"
        );
    }
}
