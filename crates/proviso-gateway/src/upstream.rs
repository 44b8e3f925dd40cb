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
    /// `/v1/responses` (the Responses API)
    Responses,
    /// `/v1/responses/{id}` and its `input_items`: a stored response read
    /// back or deleted (recorded apart from the responses created)
    StoredResponse,
    /// `/v1/models` (never proxied; recorded only when refused)
    Models,
    /// `/v1/files` (the Batch API's files; never proxied)
    Files,
    /// `/v1/batches` (a batch submitted, read, cancelled; its lines are
    /// recorded under their own endpoints)
    Batches,
}

impl Endpoint {
    /// The client-facing path.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Chat => "/v1/chat/completions",
            Endpoint::Completions => "/v1/completions",
            Endpoint::Embeddings => "/v1/embeddings",
            Endpoint::Responses => "/v1/responses",
            Endpoint::StoredResponse => "/v1/responses/{id}",
            Endpoint::Models => "/v1/models",
            Endpoint::Files => "/v1/files",
            Endpoint::Batches => "/v1/batches",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat/completions",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Responses | Endpoint::StoredResponse => "responses",
            Endpoint::Models => "models",
            Endpoint::Files => "files",
            Endpoint::Batches => "batches",
        }
    }

    /// The endpoint a batch line's `url` names.
    pub fn of_batch_url(url: &str) -> Option<Self> {
        [
            Endpoint::Chat,
            Endpoint::Completions,
            Endpoint::Embeddings,
            Endpoint::Responses,
        ]
        .into_iter()
        .find(|e| e.path() == url)
    }

    /// A short label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Responses => "responses",
            Endpoint::StoredResponse => "stored_responses",
            Endpoint::Models => "models",
            Endpoint::Files => "files",
            Endpoint::Batches => "batches",
        }
    }
}

/// A configuration problem found at start-up.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct UpstreamConfigError(pub String);

/// The endpoints a request is proxied to (with a body, by [`Upstream::post`]).
const PROXIED: [Endpoint; 4] = [
    Endpoint::Chat,
    Endpoint::Completions,
    Endpoint::Embeddings,
    Endpoint::Responses,
];

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
    /// The URLs of the proxied endpoints, parsed once (a URL is not the
    /// same for every model only on Azure): see [`Upstream::post`].
    plain_urls: Vec<(Endpoint, reqwest::Url)>,
    /// Time to the response headers.
    pub first_byte_timeout: Duration,
    /// Longest gap between stream chunks.
    pub stream_idle_timeout: Duration,
    /// Whole exchange.
    pub total_timeout: Duration,
    /// The Responses API reaches it as chat completions (translated).
    pub translate_responses: bool,
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
        if c.kind == UpstreamKind::Azure && reqwest::Url::parse(&base).is_err() {
            return Err(UpstreamConfigError(format!(
                "upstream '{}': base_url {base:?} is not a URL",
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
            // A redirect would send the prompt to a host the ledger does not
            // name as its upstream: an upstream's 3xx is its answer (an
            // upstream error to the client), never followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| UpstreamConfigError(format!("upstream '{}': {e}", c.name)))?;
        let mut up = Self {
            name: c.name.clone(),
            region: c.region.clone(),
            kind: c.kind,
            plain_urls: Vec::new(),
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
            translate_responses: match c.responses {
                Some(m) => m == crate::config::ResponsesMode::Translate,
                None => c.kind == UpstreamKind::OpenaiCompatible,
            },
        };
        if up.kind != UpstreamKind::Azure {
            // The same URLs `url` gives (on Azure they depend on the model).
            up.plain_urls = PROXIED
                .iter()
                .filter_map(|&e| Some((e, reqwest::Url::parse(&up.url(e, "")).ok()?)))
                .collect();
        }
        Ok(up)
    }

    /// The kind as policy rules name it.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            UpstreamKind::Openai => "openai",
            UpstreamKind::Azure => "azure",
            UpstreamKind::OpenaiCompatible => "openai-compatible",
        }
    }

    /// The URL for `endpoint` with upstream model (or Azure deployment)
    /// `model`. An Azure deployment name is one path segment, percent-encoded
    /// (callers admit only [`valid_deployment_name`]s; the encoding is the
    /// second guard), and `api-version` a query parameter.
    pub fn url(&self, endpoint: Endpoint, model: &str) -> String {
        match self.kind {
            // Azure's Responses API is under its v1 routes, the deployment
            // named by the body's `model`.
            UpstreamKind::Azure if endpoint == Endpoint::Responses => {
                format!(
                    "{}/openai/v1/responses",
                    self.base_url.trim_end_matches('/')
                )
            }
            UpstreamKind::Azure => {
                let Ok(mut url) = reqwest::Url::parse(&self.base_url) else {
                    // base_url was checked at start-up; an unparsable one
                    // goes nowhere rather than somewhere unintended.
                    return "http://invalid.invalid/".into();
                };
                if let Ok(mut segs) = url.path_segments_mut() {
                    segs.pop_if_empty().extend(["openai", "deployments", model]);
                    segs.extend(endpoint.suffix().split('/'));
                }
                url.query_pairs_mut().append_pair(
                    "api-version",
                    self.api_version.as_deref().unwrap_or_default(),
                );
                url.into()
            }
            _ => format!("{}/{}", self.base_url, endpoint.suffix()),
        }
    }

    /// A POST with the upstream's authentication.
    pub fn post(&self, endpoint: Endpoint, model: &str) -> RequestBuilder {
        let parsed = self.plain_urls.iter().find(|(e, _)| *e == endpoint);
        let rb = match parsed {
            Some((_, url)) => self.client.post(url.clone()),
            None => self.client.post(self.url(endpoint, model)),
        }
        .header(reqwest::header::CONTENT_TYPE, "application/json");
        self.authed(rb)
    }

    /// A request about the stored response `id` (`tail`: empty or
    /// `/input_items`, and a query): `{base_url}/responses/{id}{tail}`, or
    /// Azure's `{resource}/openai/v1/responses/{id}{tail}`. `id` and the
    /// query must be checked by the caller (one path segment; plain
    /// values).
    pub fn stored_response(&self, method: reqwest::Method, id: &str, tail: &str) -> RequestBuilder {
        let base = match self.kind {
            UpstreamKind::Azure => format!("{}/openai/v1", self.base_url.trim_end_matches('/')),
            _ => self.base_url.clone(),
        };
        self.authed(
            self.client
                .request(method, format!("{base}/responses/{id}{tail}")),
        )
    }

    /// Whether it takes OpenAI's Batch API (files and batches under its
    /// base URL). Azure's batch routes are not spoken yet.
    pub fn takes_batches(&self) -> bool {
        self.kind != UpstreamKind::Azure
    }

    /// A request to `{base_url}/{path}` with the upstream's authentication
    /// (the Batch API's files and batches; `path` is built by the caller
    /// from checked ids).
    pub fn api(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.authed(
            self.client
                .request(method, format!("{}/{path}", self.base_url)),
        )
    }

    fn authed(&self, rb: RequestBuilder) -> RequestBuilder {
        match (&self.api_key, self.kind) {
            (Some(k), UpstreamKind::Azure) => rb.header("api-key", k),
            (Some(k), _) => rb.bearer_auth(k),
            (None, _) => rb,
        }
    }
}

/// Whether `name` can be an Azure deployment name: 1 to 64 letters, digits,
/// `-`, `_` or `.`, not made of dots alone. A client's model string that is
/// not one is never put into an Azure URL (`x/../other`, `?`, `#`, `%2F`).
pub fn valid_deployment_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.bytes().all(|b| b == b'.')
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
    by_name: HashMap<String, Arc<Upstream>>,
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
                if c.kind == UpstreamKind::Azure && m != "*" && !valid_deployment_name(m) {
                    return Err(UpstreamConfigError(format!(
                        "upstream '{}': {m:?} is not a valid Azure deployment name (letters, digits, '-', '_', '.')",
                        c.name
                    )));
                }
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
                let model = d.model.clone().unwrap_or_else(|| m.name.clone());
                if up.kind == UpstreamKind::Azure && !valid_deployment_name(&model) {
                    return Err(UpstreamConfigError(format!(
                        "model '{}': {model:?} is not a valid Azure deployment name on upstream '{}' (letters, digits, '-', '_', '.')",
                        m.name, d.upstream
                    )));
                }
                deps.push(Deployment {
                    upstream: up.clone(),
                    model,
                });
            }
            if !names.contains(&m.name) {
                names.push(m.name.clone());
            }
            // An explicit [[models]] entry takes precedence over upstream lists.
            models.insert(m.name.clone(), deps);
        }
        Ok(Self {
            by_name,
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
        // A wildcard Azure upstream takes the client's string as the
        // deployment name: only if it is a valid one.
        self.wildcard
            .iter()
            .filter(|u| u.kind != UpstreamKind::Azure || valid_deployment_name(model))
            .map(|u| Deployment {
                upstream: u.clone(),
                model: model.to_owned(),
            })
            .collect()
    }

    /// The upstream called `name`.
    pub fn by_name(&self, name: &str) -> Option<Arc<Upstream>> {
        self.by_name.get(name).cloned()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{GatewayConfig, UpstreamConfig, UpstreamKind};

    fn azure(models: &[&str]) -> GatewayConfig {
        let mut u = UpstreamConfig::default_openai(Some("k".into()));
        u.name = "az".into();
        u.kind = UpstreamKind::Azure;
        u.base_url = Some(crate::env::EnvString::literal(
            "https://res.openai.azure.com/",
        ));
        u.api_version = Some("2024-10-21".into());
        u.models = models.iter().map(|m| (*m).to_owned()).collect();
        GatewayConfig {
            upstreams: vec![u],
            ..GatewayConfig::default()
        }
    }

    #[test]
    fn deployment_names() {
        for ok in ["gpt-4o", "gpt-4o-mini_eu.2", "a", &"x".repeat(64)] {
            assert!(valid_deployment_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "x/../other",
            "a?b",
            "a#b",
            "a b",
            "a%2Fb",
            "é",
            &"x".repeat(65),
        ] {
            assert!(!valid_deployment_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_wildcard_azure_upstream_never_takes_a_path_from_the_model() {
        let ups = Upstreams::from_config(&azure(&["*"])).unwrap();
        for bad in [
            "x/../other-deployment",
            "gpt?x=1",
            "gpt#frag",
            "../../admin",
        ] {
            assert!(ups.resolve(bad).is_empty(), "{bad} was routed");
        }
        let d = ups.resolve("gpt-4o");
        assert_eq!(
            d[0].upstream.url(Endpoint::Chat, &d[0].model),
            "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
        );
    }

    #[test]
    fn azure_urls_encode_the_deployment_as_one_segment() {
        let ups = Upstreams::from_config(&azure(&["gpt-4o"])).unwrap();
        let up = &ups.resolve("gpt-4o")[0].upstream;
        // Even if a bad name got this far, it stays one segment.
        let u = up.url(Endpoint::Embeddings, "x/../y?z#w");
        assert_eq!(
            u,
            "https://res.openai.azure.com/openai/deployments/x%2F..%2Fy%3Fz%23w/embeddings?api-version=2024-10-21"
        );
    }

    #[test]
    fn a_request_goes_to_the_url_its_endpoint_names() {
        // The URLs parsed once at start-up are the ones `url` would give,
        // for every proxied endpoint, on a base with a path and on Azure.
        let mut cfg = azure(&["gpt-4o"]);
        let mut plain = UpstreamConfig::default_openai(None);
        plain.name = "local".into();
        plain.kind = UpstreamKind::OpenaiCompatible;
        plain.base_url = Some(crate::env::EnvString::literal("http://127.0.0.1:9/v1/"));
        plain.models = vec!["m".into()];
        cfg.upstreams.push(plain);
        let ups = Upstreams::from_config(&cfg).unwrap();
        for model in ["m", "gpt-4o"] {
            let d = &ups.resolve(model)[0];
            for e in PROXIED {
                let sent = d.upstream.post(e, &d.model).build().unwrap();
                assert_eq!(
                    sent.url().as_str(),
                    d.upstream.url(e, &d.model),
                    "{model} {e:?}"
                );
            }
        }
        let local = &ups.resolve("m")[0].upstream;
        let sent = local.post(Endpoint::Chat, "m").build().unwrap();
        assert_eq!(
            sent.url().as_str(),
            "http://127.0.0.1:9/v1/chat/completions"
        );
    }

    #[test]
    fn invalid_configured_deployment_names_are_refused_at_start() {
        assert!(Upstreams::from_config(&azure(&["a/b"])).is_err());
    }
}
