//! Upstreams and the mapping from a client's model name to deployments.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::RequestBuilder;
use thiserror::Error;

use crate::config::{GatewayConfig, UpstreamConfig, UpstreamKind};

/// The OpenAI endpoint a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/v1/chat/completions`
    Chat,
    /// `/v1/completions`
    Completions,
    /// `/v1/embeddings`
    Embeddings,
    /// `/v1/models` (never proxied; recorded only when refused)
    Models,
}

impl Endpoint {
    /// The client-facing path.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Chat => "/v1/chat/completions",
            Endpoint::Completions => "/v1/completions",
            Endpoint::Embeddings => "/v1/embeddings",
            Endpoint::Models => "/v1/models",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat/completions",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Models => "models",
        }
    }

    /// A short label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Models => "models",
        }
    }
}

/// A configuration problem found at start-up.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct UpstreamConfigError(pub String);

/// One configured upstream with its pooled HTTP client.
pub struct Upstream {
    /// Its name.
    pub name: String,
    /// Its market or region, for policy rules.
    pub region: Option<String>,
    kind: UpstreamKind,
    base_url: String,
    api_key: Option<String>,
    api_version: Option<String>,
    client: reqwest::Client,
    /// Time to the response headers.
    pub first_byte_timeout: Duration,
    /// Longest gap between stream chunks.
    pub stream_idle_timeout: Duration,
    /// Whole exchange.
    pub total_timeout: Duration,
}

impl Upstream {
    fn new(c: &UpstreamConfig) -> Result<Self, UpstreamConfigError> {
        let base = match (c.kind, &c.base_url) {
            (_, Some(u)) => u.as_str().trim_end_matches('/').to_string(),
            (UpstreamKind::Openai, None) => "https://api.openai.com/v1".into(),
            (k, None) => {
                return Err(UpstreamConfigError(format!(
                    "upstream '{}': kind {k:?} needs base_url",
                    c.name
                )));
            }
        };
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(UpstreamConfigError(format!(
                "upstream '{}': base_url must start with http:// or https://",
                c.name
            )));
        }
        if c.kind == UpstreamKind::Azure && c.api_version.is_none() {
            return Err(UpstreamConfigError(format!(
                "upstream '{}': kind azure needs api_version (e.g. \"2024-10-21\")",
                c.name
            )));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(c.connect_timeout_ms))
            .pool_max_idle_per_host(c.pool_max_idle)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| UpstreamConfigError(format!("upstream '{}': {e}", c.name)))?;
        Ok(Self {
            name: c.name.clone(),
            region: c.region.clone(),
            kind: c.kind,
            base_url: base,
            api_key: c
                .api_key
                .as_ref()
                .map(|k| k.as_str().to_owned())
                .filter(|k| !k.is_empty()),
            api_version: c.api_version.clone(),
            client,
            first_byte_timeout: Duration::from_millis(c.first_byte_timeout_ms),
            stream_idle_timeout: Duration::from_millis(c.stream_idle_timeout_ms),
            total_timeout: Duration::from_millis(c.total_timeout_ms),
        })
    }

    /// The kind as policy rules name it.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            UpstreamKind::Openai => "openai",
            UpstreamKind::Azure => "azure",
            UpstreamKind::OpenaiCompatible => "openai-compatible",
        }
    }

    /// The URL for `endpoint` with upstream model (or Azure deployment) `model`.
    pub fn url(&self, endpoint: Endpoint, model: &str) -> String {
        match self.kind {
            UpstreamKind::Azure => format!(
                "{}/openai/deployments/{}/{}?api-version={}",
                self.base_url,
                model,
                endpoint.suffix(),
                self.api_version.as_deref().unwrap_or_default()
            ),
            _ => format!("{}/{}", self.base_url, endpoint.suffix()),
        }
    }

    /// A POST with the upstream's authentication.
    pub fn post(&self, endpoint: Endpoint, model: &str) -> RequestBuilder {
        let rb = self
            .client
            .post(self.url(endpoint, model))
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        match (&self.api_key, self.kind) {
            (Some(k), UpstreamKind::Azure) => rb.header("api-key", k),
            (Some(k), _) => rb.bearer_auth(k),
            (None, _) => rb,
        }
    }
}

/// Where a model is served: an upstream and the name to use there.
#[derive(Clone)]
pub struct Deployment {
    /// The upstream.
    pub upstream: Arc<Upstream>,
    /// Model (or Azure deployment) name upstream.
    pub model: String,
}

/// All upstreams and the model map.
pub struct Upstreams {
    models: HashMap<String, Vec<Deployment>>,
    wildcard: Vec<Arc<Upstream>>,
    names: Vec<String>,
}

impl Upstreams {
    /// Builds clients and checks references.
    pub fn from_config(cfg: &GatewayConfig) -> Result<Self, UpstreamConfigError> {
        let mut by_name: HashMap<String, Arc<Upstream>> = HashMap::new();
        let mut models: HashMap<String, Vec<Deployment>> = HashMap::new();
        let mut wildcard = Vec::new();
        let mut names = Vec::new();
        for c in &cfg.upstreams {
            if by_name.contains_key(&c.name) {
                return Err(UpstreamConfigError(format!(
                    "upstream '{}' is defined twice",
                    c.name
                )));
            }
            let up = Arc::new(Upstream::new(c)?);
            for m in &c.models {
                if m == "*" {
                    wildcard.push(up.clone());
                } else {
                    if !names.contains(m) {
                        names.push(m.clone());
                    }
                    models.entry(m.clone()).or_default().push(Deployment {
                        upstream: up.clone(),
                        model: m.clone(),
                    });
                }
            }
            by_name.insert(c.name.clone(), up);
        }
        for m in &cfg.models {
            if m.deployments.is_empty() {
                return Err(UpstreamConfigError(format!(
                    "model '{}' has no deployments",
                    m.name
                )));
            }
            let mut deps = Vec::new();
            for d in &m.deployments {
                let up = by_name.get(&d.upstream).ok_or_else(|| {
                    UpstreamConfigError(format!(
                        "model '{}' names upstream '{}', which is not defined",
                        m.name, d.upstream
                    ))
                })?;
                deps.push(Deployment {
                    upstream: up.clone(),
                    model: d.model.clone().unwrap_or_else(|| m.name.clone()),
                });
            }
            if !names.contains(&m.name) {
                names.push(m.name.clone());
            }
            // An explicit [[models]] entry takes precedence over upstream lists.
            models.insert(m.name.clone(), deps);
        }
        Ok(Self {
            models,
            wildcard,
            names,
        })
    }

    /// Deployments for `model`, in order of preference; empty if unknown.
    pub fn resolve(&self, model: &str) -> Vec<Deployment> {
        if let Some(d) = self.models.get(model) {
            return d.clone();
        }
        self.wildcard
            .iter()
            .map(|u| Deployment {
                upstream: u.clone(),
                model: model.to_owned(),
            })
            .collect()
    }

    /// Whether `model` is named in the configuration (for metric labels).
    pub fn is_named(&self, model: &str) -> bool {
        self.models.contains_key(model)
    }

    /// Model names listed by `/v1/models`.
    pub fn model_names(&self) -> &[String] {
        &self.names
    }
}
