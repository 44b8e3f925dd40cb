//! The gateway's sections of the configuration file. Every field is
//! documented in `docs/configuration.md`; a test checks that each key
//! appears there.

use std::collections::BTreeMap;

use proviso_access::Quotas;
use proviso_redact::{Action, EntityKind, RedactConfig};
use serde::{Deserialize, Serialize};

use crate::env::EnvString;

/// `[server]`: how the gateway listens.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Largest request body accepted, bytes; larger bodies get 413.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// On SIGTERM, how long to wait for in-flight requests, milliseconds.
    #[serde(default = "default_grace")]
    pub shutdown_grace_ms: u64,
    /// How often key changes made by `proviso keys` are picked up, ms.
    #[serde(default = "default_key_refresh")]
    pub key_refresh_ms: u64,
    /// Worker threads of the async runtime (0: one per core).
    #[serde(default)]
    pub worker_threads: usize,
    /// `system`, or `simulated`: the gateway's time is driven by clients
    /// through the `Proviso-Sim-Time` header (for `proviso-traffic` and
    /// tests only; never in production).
    #[serde(default)]
    pub clock: ClockKind,
    /// Take the client address from `X-Forwarded-For` when the TCP peer is
    /// one of `trusted_proxies`: the rightmost hop that is not a trusted
    /// proxy (the leftmost is whatever the client wrote). Otherwise the
    /// address is the TCP peer.
    #[serde(default)]
    pub trust_forwarded_for: bool,
    /// The proxies whose `X-Forwarded-For` is believed, as addresses or
    /// CIDR ranges (`10.0.0.0/8`, `fd00::/8`).
    #[serde(default = "default_trusted_proxies")]
    pub trusted_proxies: Vec<String>,
    /// A connection must deliver a request's headers within this time
    /// (also how long an idle keep-alive connection is kept), ms.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout_ms: u64,
    /// A request's body must arrive within this time, ms (else 408).
    #[serde(default = "default_body_read_timeout")]
    pub body_read_timeout_ms: u64,
    /// Most open client connections; more wait in the listen queue.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Most API requests handled at once (streams count until they end);
    /// more are answered 503 `overloaded` with `retry-after`.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent_requests: usize,
    /// Unauthenticated refusals recorded one by one per client address and
    /// minute; the rest of the minute is recorded as one summary (0: all).
    #[serde(default = "default_unauth_per_minute")]
    pub unauthenticated_records_per_minute: u32,
}

fn default_unauth_per_minute() -> u32 {
    60
}

fn default_header_read_timeout() -> u64 {
    30_000
}
fn default_body_read_timeout() -> u64 {
    60_000
}
fn default_max_connections() -> usize {
    4096
}
fn default_max_concurrent() -> usize {
    1024
}

fn default_trusted_proxies() -> Vec<String> {
    vec!["127.0.0.0/8".into(), "::1/128".into()]
}

/// An address range: an address and how many leading bits must match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: std::net::IpAddr,
    bits: u8,
}

impl Cidr {
    /// Parses `1.2.3.4`, `1.2.0.0/16`, `::1`, `fd00::/8`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (a, b) = match s.trim().split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s.trim(), None),
        };
        let addr: std::net::IpAddr = a
            .parse()
            .map_err(|_| format!("{s:?} is not an address or CIDR range"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match b {
            None => max,
            Some(b) => b
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { addr, bits })
    }

    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr::{V4, V6};
        let (a, b, width) = match (self.addr, ip) {
            (V4(a), V4(b)) => (u128::from(a.to_bits()), u128::from(b.to_bits()), 32),
            (V6(a), V6(b)) => (a.to_bits(), b.to_bits(), 128),
            (V6(a), V4(b)) => (a.to_bits(), b.to_ipv6_mapped().to_bits(), 128),
            (V4(a), V6(b)) => match b.to_ipv4_mapped() {
                Some(b) => (u128::from(a.to_bits()), u128::from(b.to_bits()), 32),
                None => return false,
            },
        };
        let shift = width - u32::from(self.bits);
        shift >= width || (a >> shift) == (b >> shift)
    }
}

/// Where the gateway's time comes from.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// Wall-clock time.
    #[default]
    System,
    /// Simulated time, moved forward by the `Proviso-Sim-Time` header.
    Simulated,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_max_body() -> usize {
    4 * 1024 * 1024
}
fn default_grace() -> u64 {
    30_000
}
fn default_key_refresh() -> u64 {
    500
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            max_body_bytes: default_max_body(),
            shutdown_grace_ms: default_grace(),
            key_refresh_ms: default_key_refresh(),
            worker_threads: 0,
            clock: ClockKind::System,
            trust_forwarded_for: false,
            trusted_proxies: default_trusted_proxies(),
            header_read_timeout_ms: default_header_read_timeout(),
            body_read_timeout_ms: default_body_read_timeout(),
            max_connections: default_max_connections(),
            max_concurrent_requests: default_max_concurrent(),
            unauthenticated_records_per_minute: default_unauth_per_minute(),
        }
    }
}

/// The protocol an upstream speaks.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum UpstreamKind {
    /// api.openai.com: base URL + `Authorization: Bearer`.
    Openai,
    /// Azure OpenAI: resource URL, a deployment per model, `api-version`,
    /// `api-key` header.
    Azure,
    /// Any OpenAI-compatible server (vLLM, Ollama, …).
    OpenaiCompatible,
}

/// `[[upstreams]]`: a provider endpoint.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Name used by `[[models]]` and in the ledger.
    pub name: String,
    /// `openai`, `azure` or `openai-compatible`.
    pub kind: UpstreamKind,
    /// Base URL: for `openai` defaults to `https://api.openai.com/v1`; for
    /// `azure` the resource URL (`https://NAME.openai.azure.com`); for
    /// `openai-compatible` the URL that `/chat/completions` is appended to.
    #[serde(default)]
    pub base_url: Option<EnvString>,
    /// The upstream's key, usually `"${OPENAI_API_KEY}"`.
    #[serde(default)]
    pub api_key: Option<EnvString>,
    /// The market or region this upstream serves from (e.g. `eu-west`),
    /// matched by policy rules' `regions`.
    #[serde(default)]
    pub region: Option<String>,
    /// Azure only: the `api-version` query parameter.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Models served under the same name upstream; `"*"` passes any model
    /// name through.
    #[serde(default)]
    pub models: Vec<String>,
    /// TCP connect timeout, milliseconds.
    #[serde(default = "default_connect")]
    pub connect_timeout_ms: u64,
    /// Time from sending the request to the response headers, ms.
    #[serde(default = "default_first_byte")]
    pub first_byte_timeout_ms: u64,
    /// Longest silence between two chunks of a streamed response, ms.
    #[serde(default = "default_first_byte")]
    pub stream_idle_timeout_ms: u64,
    /// Whole exchange, from sending to the last byte, ms.
    #[serde(default = "default_total")]
    pub total_timeout_ms: u64,
    /// Idle keep-alive connections kept per upstream host.
    #[serde(default = "default_pool")]
    pub pool_max_idle: usize,
    /// How the Responses API reaches it: `native` (its own `/responses`)
    /// or `translate` (as chat completions, and back); default `native`
    /// for `openai` and `azure`, `translate` for `openai-compatible`.
    #[serde(default)]
    pub responses: Option<ResponsesMode>,
}

/// How an upstream takes the Responses API.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ResponsesMode {
    /// It speaks the Responses API.
    Native,
    /// It speaks chat completions only: Proviso translates.
    Translate,
}

fn default_connect() -> u64 {
    5_000
}
fn default_first_byte() -> u64 {
    60_000
}
fn default_total() -> u64 {
    600_000
}
fn default_pool() -> usize {
    256
}

impl UpstreamConfig {
    /// The upstream used when no config file names one: OpenAI with
    /// `OPENAI_API_KEY`, passing any model through.
    pub fn default_openai(api_key: Option<String>) -> Self {
        Self {
            name: "openai".into(),
            kind: UpstreamKind::Openai,
            base_url: None,
            api_key: api_key.map(EnvString::literal),
            region: None,
            api_version: None,
            models: vec!["*".into()],
            responses: None,
            connect_timeout_ms: default_connect(),
            first_byte_timeout_ms: default_first_byte(),
            stream_idle_timeout_ms: default_first_byte(),
            total_timeout_ms: default_total(),
            pool_max_idle: default_pool(),
        }
    }
}

/// `[[models]]`: a model name clients use, and where it is served.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The name clients send in `model`.
    pub name: String,
    /// Where it is served, in order of preference; a failure before the
    /// first byte moves on to the next.
    pub deployments: Vec<DeploymentConfig>,
    /// Azure deployment names that select this model on Proviso's Azure
    /// routes (`/openai/deployments/{name}/…`); a deployment name listed
    /// nowhere is taken as a model name.
    #[serde(default)]
    pub azure_deployments: Vec<String>,
}

impl GatewayConfig {
    /// The model an Azure deployment name selects: the model that lists it
    /// in `azure_deployments`, else the model of that name.
    pub fn model_of_azure_deployment(&self, deployment: &str) -> String {
        self.models
            .iter()
            .find(|m| m.azure_deployments.iter().any(|d| d == deployment))
            .map_or_else(|| deployment.to_owned(), |m| m.name.clone())
    }
}

/// `[[models.deployments]]`: one place a model is served.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentConfig {
    /// The upstream's `name`.
    pub upstream: String,
    /// The model name (for Azure: the deployment name) upstream; defaults
    /// to the model's `name`.
    #[serde(default)]
    pub model: Option<String>,
}

/// What the ledger is opened for reading with.
type OpenReader = dyn Fn() -> Result<Box<dyn proviso_ledger::LedgerReader + Send>, proviso_ledger::LedgerError>
    + Send
    + Sync;

/// Opens the ledger for reading. It may block (a file, a database): call
/// it off the async workers.
#[derive(Clone)]
pub struct LedgerOpener(pub std::sync::Arc<OpenReader>);

impl std::fmt::Debug for LedgerOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LedgerOpener")
    }
}

/// The deployment's monitor report as JSON, or `None` when this replica
/// runs the monitor and answers from its own. It may block.
type ReadReport = dyn Fn() -> Option<Result<String, String>> + Send + Sync;

/// Reads the monitor report another replica published.
#[derive(Clone)]
pub struct ReportSource(pub std::sync::Arc<ReadReport>);

impl std::fmt::Debug for ReportSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReportSource")
    }
}

/// Everything the gateway needs from the configuration file.
#[derive(Clone, Debug, Default)]
pub struct GatewayConfig {
    /// `[server]`.
    pub server: ServerConfig,
    /// `[[upstreams]]`.
    pub upstreams: Vec<UpstreamConfig>,
    /// `[[models]]`.
    pub models: Vec<ModelConfig>,
    /// `[policy]`.
    pub policy: proviso_policy::PolicyConfig,
    /// `[quotas]`.
    pub quotas: QuotaConfig,
    /// `[admin]`.
    pub admin: AdminConfig,
    /// `[redact]`.
    pub redact: RedactSection,
    /// `[monitor]`.
    pub monitor: proviso_monitor::MonitorConfig,
    /// `[batch]`.
    pub batch: BatchConfig,
    /// Opens the ledger for reading, for usage reports (set by the binary,
    /// not a key: the binary knows whether it is a file or PostgreSQL).
    pub ledger_reader: Option<LedgerOpener>,
    /// The monitor is fed by the binary from the shared ledger's chain
    /// (every replica's records), not by this replica's writer.
    pub monitor_from_chain: bool,
    /// Where `/admin/monitor` reads the deployment's report when this
    /// replica does not run the monitor (set by the binary).
    pub monitor_report: Option<ReportSource>,
    /// Whether `[server] clock = "simulated"` may be used: set only by the
    /// explicit test flag `proviso serve --allow-simulated-clock`, never by
    /// a configuration key, and honoured only on a loopback listener.
    pub allow_simulated_clock: bool,
}

/// `[batch]`: the Batch API (`/v1/files`, `/v1/batches`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Serve the Batch API (otherwise it is refused as unsupported).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The directory of uploaded files, results and batch state (default:
    /// `{data_dir}/batches`).
    #[serde(default)]
    pub path: Option<std::path::PathBuf>,
    /// How often unfinished batches are asked after upstream, ms.
    #[serde(default = "default_batch_poll")]
    pub poll_interval_ms: u64,
    /// Largest file a client may upload, bytes.
    #[serde(default = "default_batch_file_bytes")]
    pub max_file_bytes: usize,
    /// Most requests in one batch.
    #[serde(default = "default_batch_lines")]
    pub max_lines: usize,
}

fn default_true() -> bool {
    true
}
fn default_batch_poll() -> u64 {
    30_000
}
fn default_batch_file_bytes() -> usize {
    100 * 1024 * 1024
}
fn default_batch_lines() -> usize {
    50_000
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            path: None,
            poll_interval_ms: default_batch_poll(),
            max_file_bytes: default_batch_file_bytes(),
            max_lines: default_batch_lines(),
        }
    }
}

/// `[admin]`.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// The admin token (`Authorization: Bearer …` on `/admin/`), usually
    /// `"${PROVISO_ADMIN_TOKEN}"`. Without one the admin API is off.
    #[serde(default)]
    pub token: Option<EnvString>,
}

/// Where quota state lives.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// In this process (one replica).
    #[default]
    Memory,
    /// In Redis, shared by every replica.
    Redis,
}

/// What to do when Redis cannot be reached.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnRedisError {
    /// Refuse with 503 `quota_unavailable`.
    #[default]
    FailClosed,
    /// Enforce the limits per replica, in memory, until Redis is back.
    Local,
}

/// A model's price, for money budgets.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Model name or glob, as clients send it.
    pub model: String,
    /// US dollars per million prompt tokens.
    pub input_per_million_usd: f64,
    /// US dollars per million completion tokens.
    pub output_per_million_usd: f64,
}

/// `[quotas]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaConfig {
    /// `memory` or `redis`.
    #[serde(default)]
    pub backend: Backend,
    /// Redis URL (for `backend = "redis"`).
    #[serde(default = "default_redis_url")]
    pub redis_url: EnvString,
    /// `fail_closed` or `local`.
    #[serde(default)]
    pub on_redis_error: OnRedisError,
    /// Timeout of one Redis call, milliseconds.
    #[serde(default = "default_redis_timeout")]
    pub redis_timeout_ms: u64,
    /// Prefix of the Redis keys.
    #[serde(default = "default_prefix")]
    pub key_prefix: String,
    /// Completion tokens reserved when a request sets no `max_tokens`.
    #[serde(default = "default_max_tokens")]
    pub default_max_tokens: u64,
    /// Limits per team: `[quotas.teams.NAME]`.
    #[serde(default)]
    pub teams: BTreeMap<String, Quotas>,
    /// Prices per model: `[[quotas.prices]]`.
    #[serde(default)]
    pub prices: Vec<Price>,
}

fn default_redis_url() -> EnvString {
    EnvString::literal("redis://127.0.0.1:6379/")
}
fn default_redis_timeout() -> u64 {
    250
}
fn default_prefix() -> String {
    "proviso".into()
}
fn default_max_tokens() -> u64 {
    4096
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self {
            backend: Backend::Memory,
            redis_url: default_redis_url(),
            on_redis_error: OnRedisError::FailClosed,
            redis_timeout_ms: default_redis_timeout(),
            key_prefix: default_prefix(),
            default_max_tokens: default_max_tokens(),
            teams: BTreeMap::new(),
            prices: Vec::new(),
        }
    }
}

/// `[redact]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedactSection {
    /// Desensitize every request, not only those a `desensitize` rule
    /// matches.
    #[serde(default)]
    pub always: bool,
    /// Entity types looked for when the rule names none (default: all).
    #[serde(default)]
    pub entities: Option<Vec<EntityKind>>,
    /// Action per entity type: `pseudonymize` (default), `mask`, `redact`, `hash`.
    #[serde(default)]
    pub actions: BTreeMap<EntityKind, Action>,
    /// Minimum confidence (context words add 0.3).
    #[serde(default)]
    pub threshold: Option<f32>,
    /// Key of the `hash` action (HMAC-SHA256), e.g. `${PROVISO_HMAC_KEY}`.
    #[serde(default)]
    pub hmac_key: Option<EnvString>,
    /// 64 hex characters: when set, the placeholder mapping of each
    /// exchange is stored in its ledger record, sealed with AES-256-GCM, so
    /// a holder of this key can reverse it. Without it the mapping is kept
    /// only for the life of the request.
    #[serde(default)]
    pub mapping_key: Option<EnvString>,
}

impl RedactSection {
    /// The redactor's own configuration.
    pub fn redact_config(&self) -> RedactConfig {
        let d = RedactConfig::default();
        RedactConfig {
            entities: self.entities.clone().unwrap_or(d.entities),
            actions: self.actions.clone(),
            threshold: self.threshold.unwrap_or(d.threshold),
            hmac_key: self.hmac_key.as_ref().map(|k| k.as_str().to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cidr;

    #[test]
    fn cidr_ranges() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let r = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(r.contains(ip("10.200.3.4")) && !r.contains(ip("11.0.0.1")));
        assert!(r.contains(ip("::ffff:10.1.2.3")), "v4-mapped");
        let one = Cidr::parse("192.168.1.7").unwrap();
        assert!(one.contains(ip("192.168.1.7")) && !one.contains(ip("192.168.1.8")));
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "nope", "1.2.3.4/x", "::/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }
}
