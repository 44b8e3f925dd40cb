//! Proviso's OpenAI-compatible gateway.
//!
//! [`app`] builds the axum router over one [`AppState`]; [`serve`] runs it
//! with graceful shutdown. Every proxied request goes through
//! [`pipeline::run`], whose stages are named as in docs/design.md (and
//! followed one by one in docs/life-of-a-request.md).
#![deny(missing_docs)]

pub mod admin;
pub mod config;
pub mod env;
pub mod error;
pub mod evaluate;
pub mod events;
pub mod flood;
mod handlers;
pub mod key_cache;
pub mod lifecycle;
pub mod metrics;
pub mod monitor;
pub mod pipeline;
pub mod quota;
pub mod redaction;
pub mod sse;
pub mod state;
pub mod upstream;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use proviso_access::KeyStore;
use proviso_ledger::LedgerHandle;

pub use config::GatewayConfig;
pub use error::ApiError;
pub use state::{AppState, Services};

/// Errors starting the gateway.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The upstream or model configuration is inconsistent.
    #[error("configuration: {0}")]
    Config(String),
    /// The key store could not be read.
    #[error("key store: {0}")]
    Keys(#[from] proviso_access::AccessError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("server: {0}")]
    Serve(std::io::Error),
}

/// Builds the shared state. With Redis quotas, call it inside a Tokio
/// runtime.
pub fn state(
    config: GatewayConfig,
    ledger: LedgerHandle,
    keys: KeyStore,
) -> Result<AppState, StartError> {
    let upstreams =
        upstream::Upstreams::from_config(&config).map_err(|e| StartError::Config(e.0))?;
    if let Some(t) = config.admin.token.as_ref().map(|t| t.as_str()) {
        if t.len() < 16 {
            return Err(StartError::Config(
                "[admin] token must be at least 16 characters".into(),
            ));
        }
        if keys.authenticate(t)?.is_some() {
            return Err(StartError::Config(
                "[admin] token is a client key; use a separate secret".into(),
            ));
        }
    }
    let keys = std::sync::Arc::new(key_cache::KeyCache::new(keys)?);
    let clock = match config.server.clock {
        config::ClockKind::System => proviso_types::Clock::System,
        config::ClockKind::Simulated => {
            // Anyone who can set the time can expire keys, reset limits and
            // end suspension notices: only for tests, on loopback.
            if !config.allow_simulated_clock {
                return Err(StartError::Config(
                    "[server] clock = \"simulated\" lets clients move the gateway's time; it needs the test flag --allow-simulated-clock".into(),
                ));
            }
            if !listen_is_loopback(&config.server.listen) {
                return Err(StartError::Config(format!(
                    "[server] clock = \"simulated\" is allowed only on a loopback listener, not {}",
                    config.server.listen
                )));
            }
            tracing::warn!(
                "[server] clock = \"simulated\": clients set the time with Proviso-Sim-Time; for simulations and tests only"
            );
            proviso_types::Clock::simulated(proviso_types::UnixMillis::now())
        }
    };
    // `[monitor] webhook_url` may name environment variables (a token in
    // the URL belongs in the environment, not the file); expanded once here.
    let mut config = config;
    if let Some(u) = config.monitor.webhook_url.as_deref() {
        let expanded = env::expand(u, |n| std::env::var(n).ok())
            .map_err(|e| StartError::Config(format!("[monitor] webhook_url: {e}")))?;
        config.monitor.webhook_url = Some(expanded);
    }
    let monitor = if config.monitor.enabled {
        // Vectors from an embeddings model only from a self-hosted upstream:
        // the monitor's own calls are not exchanges, so prompts must not
        // leave for a third-party API this way.
        let embeddings = match config.monitor.embeddings_model.as_deref() {
            None => None,
            Some(m) => Some(
                upstreams
                    .resolve(m)
                    .into_iter()
                    .find(|d| d.upstream.kind_name() == "openai-compatible")
                    .ok_or_else(|| {
                        StartError::Config(format!(
                            "[monitor] embeddings_model = {m:?}: no openai-compatible (self-hosted) upstream serves it; the monitor sends prompts only to one"
                        ))
                    })?,
            ),
        };
        Some(
            monitor::MonitorHandle::new(config.monitor.clone(), embeddings)
                .map_err(|e| StartError::Config(e.to_string()))?,
        )
    } else {
        None
    };
    let policy = proviso_policy::Policy::new(config.policy.clone())
        .map_err(|e| StartError::Config(e.to_string()))?;
    let quotas = quota::QuotaService::with_clock(config.quotas.clone(), clock.clone())
        .map_err(StartError::Config)?;
    for r in policy.rules() {
        for e in &r.entities {
            e.parse::<proviso_redact::EntityKind>()
                .map_err(|m| StartError::Config(format!("policy rule '{}': {m}", r.name)))?;
        }
    }
    if let Some(k) = config.redact.mapping_key.as_ref() {
        proviso_redact::Session::default()
            .seal(k.as_str())
            .map_err(|e| StartError::Config(format!("[redact] mapping_key: {e}")))?;
    }
    let trusted_proxies = config
        .server
        .trusted_proxies
        .iter()
        .map(|c| config::Cidr::parse(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StartError::Config(format!("[server] trusted_proxies: {e}")))?;
    if config.server.trust_forwarded_for
        && trusted_proxies.iter().all(|c| {
            c.contains(std::net::Ipv4Addr::LOCALHOST.into())
                || c.contains(std::net::Ipv6Addr::LOCALHOST.into())
        })
    {
        tracing::warn!(
            "[server] trust_forwarded_for = true, and only loopback proxies are trusted: behind a load balancer on another address, list it in [server] trusted_proxies, or every client is recorded as the balancer"
        );
    }
    let redactor = proviso_redact::Redactor::new(config.redact.redact_config())
        .map_err(|e| StartError::Config(format!("[redact]: {e}")))?;
    let inflight = Arc::new(tokio::sync::Semaphore::new(
        config
            .server
            .max_concurrent_requests
            .clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
    ));
    let config_flood = config.server.unauthenticated_records_per_minute;
    Ok(AppState(Arc::new(Services {
        config,
        upstreams,
        ledger,
        keys,
        policy,
        quotas,
        redactor,
        metrics: metrics::Metrics::default(),
        clock,
        inflight,
        flood: flood::FloodGate::new(config_flood),
        trusted_proxies,
        monitor,
    })))
}

/// Accepts connections until `stop` turns true, at most `max_connections`
/// open at once (more wait in the kernel's listen queue), each served as
/// HTTP/1.1 with a header-read timeout (slow or idle clients are closed);
/// then lets the connections finish their requests, up to the grace period.
async fn accept_loop(
    app: Router,
    server: &config::ServerConfig,
    listener: tokio::net::TcpListener,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), StartError> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let grace = Duration::from_millis(server.shutdown_grace_ms);
    let conns = Arc::new(tokio::sync::Semaphore::new(
        server
            .max_connections
            .clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
    ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(server.header_read_timeout_ms.max(1)))
        .keep_alive(true);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            p = conns.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stop.wait_for(|v| *v) => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|v| *v) => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: wait, do not spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                let mut app = app.clone();
                async move {
                    tower_service::Service::call(&mut app, req.map(axum::body::Body::new)).await
                }
            });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!("grace period over; abandoning remaining requests");
        }
    }
    Ok(())
}

/// Whether a `listen` address is on the loopback interface only.
fn listen_is_loopback(listen: &str) -> bool {
    let host = match listen.rsplit_once(':') {
        Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']'),
        None => listen,
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The router: the OpenAI endpoints, health, readiness and metrics.
pub fn app(state: AppState) -> Router {
    let limit = state.config.server.max_body_bytes;
    // The API routes share `max_concurrent_requests` slots; health,
    // readiness and metrics stay answerable under any load.
    let api = Router::new()
        .route(
            "/v1/chat/completions",
            post(handlers::chat).fallback(handlers::method_not_allowed),
        )
        .route(
            "/v1/completions",
            post(handlers::completions).fallback(handlers::method_not_allowed),
        )
        .route(
            "/v1/embeddings",
            post(handlers::embeddings).fallback(handlers::method_not_allowed),
        )
        .route(
            "/v1/models",
            get(handlers::models).fallback(handlers::method_not_allowed),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            handlers::limit_concurrency,
        ));
    Router::new()
        .merge(api)
        .nest("/admin", admin::routes())
        .route("/healthz", get(handlers::healthz))
        .route("/readyz", get(handlers::readyz))
        .route("/metrics", get(handlers::metrics))
        .fallback(handlers::fallback)
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Serves on `listener` until `shutdown` resolves, then stops accepting,
/// lets in-flight requests finish (up to `shutdown_grace_ms`) and flushes
/// the ledger.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let refresh = Duration::from_millis(state.config.server.key_refresh_ms.max(10));
    if let Some(m) = &state.monitor {
        m.start(
            state.ledger.clone(),
            state.keys.clone(),
            state.quotas.clone(),
            tokio::runtime::Handle::current(),
        );
        state.ledger.set_tap(pipeline::observe::tap(m.clone()));
    }
    let st = state.clone();
    let refresher = tokio::spawn(async move {
        let mut tick = tokio::time::interval(refresh);
        loop {
            tick.tick().await;
            if let Err(e) = st.keys.refresh() {
                tracing::warn!(error = %e, "key refresh failed");
            }
            let (keys, ledger) = (st.clone(), st.ledger.clone());
            let now = st.clock.now();
            for summary in st.flood.flush(Some(now)) {
                st.ledger.submit(summary);
            }
            let swept =
                tokio::task::spawn_blocking(move || keys.keys.revoke_due(&ledger, now)).await;
            if let Ok(Err(e)) = swept {
                tracing::warn!(error = %e, "revoking keys at the end of their notice failed");
            }
        }
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        let _ = stop_tx.send(true);
    });
    let result = accept_loop(app(state.clone()), &state.config.server, listener, stop_rx).await;
    refresher.abort();
    for summary in state.flood.flush(None) {
        state.ledger.submit(summary);
    }
    let ledger = state.ledger.clone();
    let _ = tokio::task::spawn_blocking(move || ledger.shutdown()).await;
    tracing::info!("ledger flushed; stopped");
    result
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_listeners() {
        for l in [
            "127.0.0.1:8080",
            "127.3.4.5:0",
            "[::1]:9000",
            "localhost:80",
        ] {
            assert!(super::listen_is_loopback(l), "{l}");
        }
        for l in ["0.0.0.0:8080", "[::]:80", "10.0.0.1:80", "example.com:80"] {
            assert!(!super::listen_is_loopback(l), "{l}");
        }
    }
}
