//! Serving: the accept loop (connection cap, header-read timeout) and
//! graceful shutdown with the key refresher, the sweeper and the ledger's
//! flush.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::{AppState, StartError, app, config, pipeline};

/// Starts the monitor's thread (when `[monitor] enabled`) and taps the
/// ledger's writer so that every committed exchange reaches its queue. Call
/// within a tokio runtime (webhooks run on it); `serve` calls it.
pub fn start_monitor(state: &AppState) {
    if let Some(m) = &state.monitor {
        m.start(
            state.ledger.clone(),
            state.keys.clone(),
            state.quotas.clone(),
            tokio::runtime::Handle::current(),
        );
        if !state.config.monitor_from_chain {
            state.ledger.set_tap(pipeline::observe::tap(m.clone()));
        }
    }
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
    start_monitor(&state);
    let st = state.clone();
    let refresher = tokio::spawn(async move {
        let mut tick = tokio::time::interval(refresh);
        loop {
            tick.tick().await;
            // The key store may be a database a network away: off the
            // async workers.
            let keys = st.keys.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || keys.refresh()).await {
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
    let poller = crate::batch::poll::spawn(state.clone());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        let _ = stop_tx.send(true);
    });
    let result = accept_loop(app(state.clone()), &state.config.server, listener, stop_rx).await;
    refresher.abort();
    if let Some(p) = poller {
        p.abort();
    }
    for summary in state.flood.flush(None) {
        state.ledger.submit(summary);
    }
    let ledger = state.ledger.clone();
    let _ = tokio::task::spawn_blocking(move || ledger.shutdown()).await;
    tracing::info!("ledger flushed; stopped");
    result
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
