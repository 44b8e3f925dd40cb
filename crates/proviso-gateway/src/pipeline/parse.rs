//! Stage 2: read the body (within the size limit) and check the fields the
//! gateway itself needs. Everything else passes through untouched.

use axum::body::Body;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::pipeline::Context;
use crate::upstream::Endpoint;

/// Reads and validates the body into `ctx`; gives the requested model.
pub async fn run(
    ctx: &mut Context,
    body: Body,
    limit: usize,
    deadline: std::time::Duration,
) -> Result<String, ApiError> {
    // A client that sends its body slowly holds a connection and a request
    // slot: it gets 408 when the deadline passes.
    let read = tokio::time::timeout(deadline, axum::body::to_bytes(body, limit))
        .await
        .map_err(|_| {
            ApiError::body_timeout(u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX))
        })?;
    let bytes = read.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util_limited::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            ApiError::too_large(limit)
        } else {
            ApiError::invalid_json(e)
        }
    })?;
    let endpoint = ctx.endpoint;
    let route_model = ctx.route_model.clone();
    let (text, parsed) = crate::pipeline::offload::offload(bytes.len(), move || {
        let parsed = check_as(endpoint, &bytes, route_model.as_deref());
        // With a route's model the body as sent and recorded names it.
        let text = match (&parsed, route_model) {
            (Ok(p), Some(_)) => Value::Object(p.body.clone()).to_string(),
            _ => String::from_utf8_lossy(&bytes).into_owned(),
        };
        (text, parsed)
    })
    .await?;
    ctx.request_text = text;
    let p = match parsed {
        Ok(p) => p,
        Err(r) => {
            // The refusal's record names the model when the body had one.
            ctx.model = r.model;
            return Err(r.error);
        }
    };
    ctx.model = Some(p.model.clone());
    ctx.stream = p.stream;
    ctx.client_wants_usage = p.client_wants_usage;
    ctx.body = p.body;
    Ok(p.model)
}

/// What the gateway needs of a request body.
#[derive(Debug)]
pub struct Parsed {
    /// The whole body as an object (passed through).
    pub body: Map<String, Value>,
    /// `model`.
    pub model: String,
    /// `stream: true` (never for embeddings).
    pub stream: bool,
    /// The client asked for `stream_options.include_usage` itself.
    pub client_wants_usage: bool,
}

/// A body the gateway refuses, and the model it named if it named one (for
/// the refusal's record).
#[derive(Debug)]
pub struct Rejected {
    /// Why.
    pub error: ApiError,
    /// The body's `model`, when it was a non-empty string.
    pub model: Option<String>,
}

/// Parses and checks a request body for `endpoint`: a JSON object with a
/// non-empty `model`, the endpoint's required field, and a boolean
/// `stream` if any. Pure: the parse stage runs it (on the blocking pool
/// for a large body), and the fuzz target `request_json` feeds it anything.
pub fn check(endpoint: Endpoint, bytes: &[u8]) -> Result<Parsed, Rejected> {
    check_as(endpoint, bytes, None)
}

/// [`check`], with the model the route names (an Azure deployment's) in
/// place of the body's `model`, which may then be absent.
pub fn check_as(
    endpoint: Endpoint,
    bytes: &[u8],
    route_model: Option<&str>,
) -> Result<Parsed, Rejected> {
    let no_model = |error| Rejected { error, model: None };
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| no_model(ApiError::invalid_json(e)))?;
    let Value::Object(map) = value else {
        return Err(no_model(ApiError::invalid_json("expected a JSON object")));
    };
    check_map(endpoint, map, route_model)
}

/// [`check_as`] on a body already parsed (a batch's line).
pub fn check_map(
    endpoint: Endpoint,
    mut map: Map<String, Value>,
    route_model: Option<&str>,
) -> Result<Parsed, Rejected> {
    let no_model = |error| Rejected { error, model: None };
    if let Some(m) = route_model {
        map.insert("model".into(), Value::String(m.to_owned()));
    }
    let model = match map.get("model") {
        None | Some(Value::Null) => return Err(no_model(ApiError::missing_field("model"))),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => {
            return Err(no_model(ApiError::invalid_field(
                "model",
                "expected a non-empty string",
            )));
        }
    };
    let named = |error| Rejected {
        error,
        model: Some(model.clone()),
    };
    let required = match endpoint {
        Endpoint::Chat => "messages",
        Endpoint::Completions => "prompt",
        Endpoint::Embeddings => "input",
        Endpoint::Responses => "input",
        Endpoint::StoredResponse | Endpoint::Models | Endpoint::Files | Endpoint::Batches => "",
    };
    match map.get(required) {
        None | Some(Value::Null) if !required.is_empty() => {
            return Err(named(ApiError::missing_field(required)));
        }
        Some(v) if required == "messages" && !v.is_array() => {
            return Err(named(ApiError::invalid_field(
                "messages",
                "expected an array",
            )));
        }
        _ => {}
    }
    let stream = match map.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b && endpoint != Endpoint::Embeddings,
        Some(_) => {
            return Err(named(ApiError::invalid_field(
                "stream",
                "expected a boolean",
            )));
        }
    };
    // The Responses API reports usage in its last event, asked or not.
    let client_wants_usage = endpoint == Endpoint::Responses
        || map
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            == Some(true);
    Ok(Parsed {
        body: map,
        model,
        stream,
        client_wants_usage,
    })
}

/// axum's body-limit error type, under a name that says what it is.
mod http_body_util_limited {
    pub use http_body_util::LengthLimitError;
}
