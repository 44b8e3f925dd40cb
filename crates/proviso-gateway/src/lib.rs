//! Proviso's OpenAI-compatible gateway.
//!
//! [`app`] builds the axum router over one [`AppState`]; [`serve`] runs it
//! with graceful shutdown. Every proxied request goes through
//! [`pipeline::run`], whose stages are named as in docs/design.md (and
//! followed one by one in docs/life-of-a-request.md).
#![deny(missing_docs)]

pub mod admin;
pub mod answer_bytes;
pub mod batch;
mod build;
pub mod caller;
pub mod config;
pub mod conversations;
pub mod env;
pub mod error;
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
pub mod responses_chat;
mod server;
pub mod sse;
pub mod state;
pub mod upstream;

use axum::Router;
use axum::routing::{get, post};

pub use build::state;
pub use config::GatewayConfig;
pub use error::ApiError;
pub use server::{serve, start_monitor};
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

/// The Batch API's routes under `prefix`; an upload may be as large as
/// `[batch] max_file_bytes`.
fn batch_routes(prefix: &str, state: &AppState) -> Router<AppState> {
    use batch::{files, read, submit};
    let upload_limit = state.config.batch.max_file_bytes.saturating_add(64 * 1024);
    let na = handlers::method_not_allowed;
    Router::new()
        .route(
            &format!("{prefix}/files"),
            post(files::upload)
                .layer(axum::extract::DefaultBodyLimit::max(upload_limit))
                .get(files::list_files)
                .fallback(na),
        )
        .route(
            &format!("{prefix}/files/{{id}}"),
            get(files::get_file).delete(files::delete_file).fallback(na),
        )
        .route(
            &format!("{prefix}/files/{{id}}/content"),
            get(files::file_content).fallback(na),
        )
        .route(
            &format!("{prefix}/batches"),
            post(submit::create).get(read::list_batches).fallback(na),
        )
        .route(
            &format!("{prefix}/batches/{{id}}"),
            get(read::get_batch).fallback(na),
        )
        .route(
            &format!("{prefix}/batches/{{id}}/cancel"),
            post(read::cancel_batch).fallback(na),
        )
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
            "/v1/responses",
            post(handlers::responses).fallback(handlers::method_not_allowed),
        )
        .route(
            "/v1/responses/{id}",
            get(handlers::stored_response)
                .delete(handlers::stored_response)
                .fallback(handlers::method_not_allowed),
        )
        .route(
            "/v1/responses/{id}/input_items",
            get(handlers::stored_input_items).fallback(handlers::method_not_allowed),
        )
        .route(
            "/v1/models",
            get(handlers::models).fallback(handlers::method_not_allowed),
        )
        .merge(batch_routes("/v1", &state))
        .merge(batch_routes("/openai/v1", &state))
        // Azure OpenAI's own routes of the Batch API (the `AzureOpenAI`
        // client's): deployments in the lines' `model`.
        .merge(batch_routes("/openai", &state))
        // Azure OpenAI's routes, for its clients unchanged: the deployment
        // in the path names the model; `/openai/v1/…` is the OpenAI API.
        .route(
            "/openai/deployments/{deployment}/chat/completions",
            post(handlers::azure_chat).fallback(handlers::method_not_allowed),
        )
        .route(
            "/openai/deployments/{deployment}/completions",
            post(handlers::azure_completions).fallback(handlers::method_not_allowed),
        )
        .route(
            "/openai/deployments/{deployment}/embeddings",
            post(handlers::azure_embeddings).fallback(handlers::method_not_allowed),
        )
        .route(
            "/openai/v1/chat/completions",
            post(handlers::chat).fallback(handlers::method_not_allowed),
        )
        .route(
            "/openai/v1/completions",
            post(handlers::completions).fallback(handlers::method_not_allowed),
        )
        .route(
            "/openai/v1/embeddings",
            post(handlers::embeddings).fallback(handlers::method_not_allowed),
        )
        .route(
            "/openai/v1/responses",
            post(handlers::responses).fallback(handlers::method_not_allowed),
        )
        .route(
            "/openai/v1/responses/{id}",
            get(handlers::stored_response)
                .delete(handlers::stored_response)
                .fallback(handlers::method_not_allowed),
        )
        .route(
            "/openai/v1/responses/{id}/input_items",
            get(handlers::stored_input_items).fallback(handlers::method_not_allowed),
        )
        .route(
            "/openai/v1/models",
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
