//! Stored responses of the Responses API: `GET /v1/responses/{id}`, its
//! `input_items`, and `DELETE`. Read from the upstream that stored the
//! response, only by the key that created it (`crate::conversations`),
//! each exchange recorded before it is released: a response read back is
//! output served again, its text in the record's `output`.

use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use proviso_ledger::Outcome;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::pipeline::call_upstream::status_error;
use crate::pipeline::context::Ending;
use crate::pipeline::{Context, authenticate, record};
use crate::state::AppState;
use crate::upstream::Endpoint;

/// Whether `id` can be a response id (`resp_…`): letters, digits, `_`
/// and `-`, so that it is one path segment upstream.
fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The query passed on (pagination of `input_items`, and `include`), each
/// value checked (letters, digits, `_`, `-`, `.`), as `?k=v&…` or empty;
/// anything else is refused.
fn query_params(query: &str) -> Result<String, ApiError> {
    let pairs = query_pairs(query)?;
    if pairs.is_empty() {
        return Ok(String::new());
    }
    let joined: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={v}", k.replace("[]", "%5B%5D")))
        .collect();
    Ok(format!("?{}", joined.join("&")))
}

fn query_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let known = matches!(
            k,
            "after" | "before" | "limit" | "order" | "include" | "include[]" | "include%5B%5D"
        );
        let plain = v.len() <= 256
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !known || !plain {
            return Err(ApiError::invalid_field(
                k,
                "not a query parameter of stored responses (after, before, limit, order, include)",
            ));
        }
        let k = if k.starts_with("include") {
            "include[]"
        } else {
            k
        };
        out.push((k.to_owned(), v.to_owned()));
    }
    Ok(out)
}

/// Handles one request about a stored response (`tail`: empty, or
/// `/input_items`).
pub async fn run(
    state: AppState,
    method: Method,
    id: String,
    tail: &'static str,
    query: Option<String>,
    headers: HeaderMap,
    peer: Option<String>,
) -> Response {
    let mut ctx = Context::new(Endpoint::StoredResponse, state.clock.now());
    ctx.client = crate::pipeline::client(&state, &headers, peer);
    let query = query.unwrap_or_default();
    ctx.request_text = json!({"method": method.as_str(), "path": format!("/v1/responses/{id}{tail}"), "query": query})
        .to_string();
    match go(&state, &mut ctx, &method, &id, tail, &query, &headers).await {
        Ok(resp) => resp,
        Err(e) => record::refuse(&state, &mut ctx, e).await,
    }
}

async fn go(
    state: &AppState,
    ctx: &mut Context,
    method: &Method,
    id: &str,
    tail: &str,
    query: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let key = authenticate::run(state, ctx, headers).await?;
    let params = query_params(query)?;
    let stored = valid_id(id)
        .then(|| state.conversations.stored(id, &key.id.0))
        .flatten()
        .ok_or_else(|| ApiError::response_not_found(id))?;
    let up = &stored.deployment.upstream;
    ctx.model = Some(stored.model.clone());
    ctx.upstream = Some(up.name.clone());
    ctx.upstream_model = Some(stored.deployment.model.clone());
    ctx.attempts
        .push(json!({"upstream": up.name, "method": method.as_str(), "response": id}));
    record::ensure_writable(state)?;
    let sent = tokio::time::timeout(
        up.first_byte_timeout,
        up.stored_response(method.clone(), id, &format!("{tail}{params}"))
            .send(),
    )
    .await
    .map_err(|_| ApiError::upstream_timeout(&up.name, "no response in time"))?
    .map_err(|e| {
        if e.is_timeout() {
            ApiError::upstream_timeout(&up.name, "connect")
        } else {
            ApiError::upstream_unreachable(&up.name)
        }
    })?;
    ctx.ttfb = Some(ctx.started.elapsed());
    let status = sent.status().as_u16();
    let bytes: Bytes = tokio::time::timeout(up.total_timeout, sent.bytes())
        .await
        .map_err(|_| ApiError::upstream_timeout(&up.name, "total time exceeded"))?
        .map_err(|_| ApiError::upstream_bad_response(&up.name, "the connection broke"))?;
    if !(200..300).contains(&status) {
        return Err(status_error(state, &up.name, status, &bytes));
    }
    let mut parsed: Value = serde_json::from_slice(&bytes)
        .map_err(|_| ApiError::upstream_bad_response(&up.name, "the body is not JSON"))?;
    // The text served again: a response's output (its input items are the
    // caller's own; a deletion serves nothing).
    let (output, finish_reason) = if *method == Method::GET && tail.is_empty() {
        let (o, f, _) = crate::sse::non_stream_output(&parsed);
        (o, f)
    } else {
        (String::new(), None)
    };
    let ending = Ending {
        status,
        output,
        response: Some(String::from_utf8_lossy(&bytes).into_owned()),
        finish_reason,
        // Read back, not generated: nothing to charge.
        usage: None,
        error: None,
    };
    record::commit(state, ctx.record(Outcome::Ok, ending)).await?;
    if *method == Method::DELETE {
        state.conversations.forget(id);
    }
    record::emit(state, ctx, status, None, None);
    // The caller's values back in place of the placeholders it was sent
    // with, as when the response was first answered.
    let body = match state.conversations.get(id, &key.id.0) {
        Some(s) => {
            crate::pipeline::restore::texts(&mut parsed, &s);
            Bytes::from(parsed.to_string())
        }
        None => bytes,
    };
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    record::tag(&mut resp, ctx);
    Ok(resp)
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_parameters_are_checked() {
        assert_eq!(
            super::query_pairs("after=msg_1&limit=20&include%5B%5D=x.y").unwrap(),
            [("after", "msg_1"), ("limit", "20"), ("include[]", "x.y")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert_eq!(
            super::query_params("limit=2&order=asc").unwrap(),
            "?limit=2&order=asc"
        );
        assert_eq!(
            super::query_params("include[]=x").unwrap(),
            "?include%5B%5D=x"
        );
        assert!(super::query_params("").unwrap().is_empty());
        assert!(super::query_params("evil=1").is_err());
        assert!(super::query_params("after=a%2Fb").is_err());
    }

    #[test]
    fn ids_are_one_path_segment() {
        assert!(super::valid_id("resp_0a1B-2"));
        for bad in [
            "",
            "resp/../x",
            "resp?x",
            "resp%2F",
            "r#1",
            &"a".repeat(129),
        ] {
            assert!(!super::valid_id(bad), "{bad}");
        }
    }
}
