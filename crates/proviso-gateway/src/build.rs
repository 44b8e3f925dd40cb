//! Building the shared state from the configuration: upstreams, keys,
//! clock, monitor, policy, quotas, redactor, checked before anything
//! listens.

use std::sync::Arc;

use proviso_access::KeyStore;
use proviso_ledger::LedgerHandle;

use crate::{
    AppState, GatewayConfig, Services, StartError, config, env, flood, key_cache, metrics, monitor,
    quota, upstream,
};

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
    let refresh = std::time::Duration::from_millis(config.server.key_refresh_ms);
    let keys = std::sync::Arc::new(key_cache::KeyCache::new(keys)?.trust_for(refresh * 10));
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
    // The binary always names the directory (`<data_dir>/batches` by
    // default); a library caller that names none has no Batch API.
    let batches = if config.batch.enabled && config.batch.path.is_some() {
        let b = crate::batch::service::Batches::open(config.batch.clone())
            .map_err(|e| StartError::Config(format!("[batch]: {e}")))?;
        Some(Arc::new(b))
    } else {
        None
    };
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
        conversations: crate::conversations::Conversations::default(),
        batches,
        monitor,
    })))
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
