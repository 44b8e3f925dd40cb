//! Stage 2: read the body (within the size limit) and check the fields the
//! gateway itself needs. Everything else passes through untouched.

use axum::body::Body;
use serde_json::Value;

use crate::error::ApiError;
use crate::pipeline::Context;
use crate::upstream::Endpoint;

/// Reads and validates the body into `ctx`.
pub async fn run(
    ctx: &mut Context,
    body: Body,
    limit: usize,
    deadline: std::time::Duration,
) -> Result<(), ApiError> {
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
    let (text, value) = crate::pipeline::offload(bytes.len(), move || {
        (
            String::from_utf8_lossy(&bytes).into_owned(),
            serde_json::from_slice::<Value>(&bytes),
        )
    })
    .await?;
    ctx.request_text = text;
    let value = value.map_err(ApiError::invalid_json)?;
    let Value::Object(map) = value else {
        return Err(ApiError::invalid_json("expected a JSON object"));
    };
    let model = match map.get("model") {
        None | Some(Value::Null) => return Err(ApiError::missing_field("model")),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => {
            return Err(ApiError::invalid_field(
                "model",
                "expected a non-empty string",
            ));
        }
    };
    ctx.model = Some(model);
    let required = match ctx.endpoint {
        Endpoint::Chat => "messages",
        Endpoint::Completions => "prompt",
        Endpoint::Embeddings => "input",
        Endpoint::Models => "",
    };
    match map.get(required) {
        None | Some(Value::Null) if !required.is_empty() => {
            return Err(ApiError::missing_field(required));
        }
        Some(v) if required == "messages" && !v.is_array() => {
            return Err(ApiError::invalid_field("messages", "expected an array"));
        }
        _ => {}
    }
    match map.get("stream") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => ctx.stream = *b && ctx.endpoint != Endpoint::Embeddings,
        Some(_) => return Err(ApiError::invalid_field("stream", "expected a boolean")),
    }
    ctx.client_wants_usage = map
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        == Some(true);
    ctx.body = map;
    Ok(())
}

/// axum's body-limit error type, under a name that says what it is.
mod http_body_util_limited {
    pub use http_body_util::LengthLimitError;
}
