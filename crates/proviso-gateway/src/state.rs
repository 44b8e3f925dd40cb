//! The one explicit state struct every handler and stage receives.

use std::sync::Arc;

use proviso_ledger::LedgerHandle;

use crate::config::GatewayConfig;
use crate::key_cache::KeyCache;
use crate::metrics::Metrics;
use crate::upstream::Upstreams;

/// Shared services of the gateway. Cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<Services>);

/// What the stages use.
pub struct Services {
    /// The configuration the gateway started with.
    pub config: GatewayConfig,
    /// Upstreams and the model map.
    pub upstreams: Upstreams,
    /// The ledger writer.
    pub ledger: LedgerHandle,
    /// Client keys.
    pub keys: std::sync::Arc<KeyCache>,
    /// The usage specification.
    pub policy: proviso_policy::Policy,
    /// Quotas.
    pub quotas: std::sync::Arc<crate::quota::QuotaService>,
    /// The desensitizer.
    pub redactor: proviso_redact::Redactor,
    /// Metrics.
    pub metrics: Metrics,
    /// The gateway's time (system, or simulated).
    pub clock: proviso_types::Clock,
    /// Slots for API requests in flight (`[server] max_concurrent_requests`).
    pub inflight: Arc<tokio::sync::Semaphore>,
    /// Unauthenticated refusals per client address, for summarising floods.
    pub flood: crate::flood::FloodGate,
    /// `[server] trusted_proxies`, parsed.
    pub trusted_proxies: Vec<crate::config::Cidr>,
    /// The placeholders of recent Responses API answers, for the turns
    /// that name them (`previous_response_id`).
    pub conversations: crate::conversations::Conversations,
    /// The Batch API, unless `[batch] enabled = false`.
    pub batches: Option<Arc<crate::batch::service::Batches>>,
    /// The monitor, unless `[monitor] enabled = false`.
    pub monitor: Option<std::sync::Arc<crate::monitor::MonitorHandle>>,
}

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}
