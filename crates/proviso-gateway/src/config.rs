//! The gateway's sections of the configuration file. Every field is
//! documented in `docs/configuration.md`; a test checks that each key
//! appears there.

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
    /// Take the client address from the first `X-Forwarded-For` hop (behind
    /// a trusted proxy); otherwise it is the TCP peer.
    #[serde(default)]
    pub trust_forwarded_for: bool,
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
    pub quotas: crate::quota::QuotaConfig,
    /// `[admin]`.
    pub admin: crate::admin::AdminConfig,
    /// `[redact]`.
    pub redact: crate::redaction::RedactSection,
    /// `[monitor]`.
    pub monitor: proviso_monitor::MonitorConfig,
    /// The ledger file, for usage reports (set by the binary, not a key).
    pub ledger_path: Option<std::path::PathBuf>,
}
