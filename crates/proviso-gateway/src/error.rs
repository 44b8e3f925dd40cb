//! Errors as the client sees them: OpenAI's error JSON with the right status.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// OpenAI's error `type`: what kind of failure, for a client's retry logic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    /// The request itself is wrong (400, 401, 404, 408, 413, 409).
    InvalidRequest,
    /// The key may not do this (403).
    Permission,
    /// A request-rate limit (429).
    Requests,
    /// A token-rate limit (429).
    Tokens,
    /// A budget is spent (429).
    InsufficientQuota,
    /// The gateway cannot serve now (500, 503).
    Server,
    /// The upstream failed (502, 504, or its own status).
    Upstream,
}

impl ErrorType {
    /// As OpenAI writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidRequest => "invalid_request_error",
            ErrorType::Permission => "permission_error",
            ErrorType::Requests => "requests",
            ErrorType::Tokens => "tokens",
            ErrorType::InsufficientQuota => "insufficient_quota",
            ErrorType::Server => "server_error",
            ErrorType::Upstream => "upstream_error",
        }
    }
}

/// Declares [`ErrorCode`]: each code's variant and its name as clients
/// and the ledger see it (every one documented in `docs/errors.md`).
macro_rules! error_codes {
    ($($variant:ident => $name:literal,)*) => {
        /// OpenAI's error `code`: what went wrong, for a client's handling
        /// and for the ledger's `error_code`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl ErrorCode {
            /// Every code.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// As clients and the ledger see it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                }
            }
        }
    };
}

error_codes! {
    InvalidJson => "invalid_json",
    MissingField => "missing_field",
    InvalidField => "invalid_field",
    MissingApiKey => "missing_api_key",
    InvalidApiKey => "invalid_api_key",
    KeyRevoked => "key_revoked",
    KeyExpired => "key_expired",
    KeySuspended => "key_suspended",
    PolicyDenied => "policy_denied",
    RateLimitExceeded => "rate_limit_exceeded",
    BudgetExceeded => "budget_exceeded",
    QuotaUnavailable => "quota_unavailable",
    Overloaded => "overloaded",
    RequestTimeout => "request_timeout",
    ModelNotFound => "model_not_found",
    RequestTooLarge => "request_too_large",
    UpstreamTimeout => "upstream_timeout",
    UpstreamUnreachable => "upstream_unreachable",
    UpstreamError => "upstream_error",
    UpstreamAuthFailed => "upstream_auth_failed",
    UpstreamBadResponse => "upstream_bad_response",
    LedgerUnavailable => "ledger_unavailable",
    KeyStoreUnavailable => "key_store_unavailable",
    NotFound => "not_found",
    UnsupportedEndpoint => "unsupported_endpoint",
    MethodNotAllowed => "method_not_allowed",
    InternalError => "internal_error",
    KeyNotFound => "key_not_found",
    InvalidTransition => "invalid_transition",
    KeyChanged => "key_changed",
    AdminDisabled => "admin_disabled",
    InvalidAdminToken => "invalid_admin_token",
    MonitorDisabled => "monitor_disabled",
    ClockNotSimulated => "clock_not_simulated",
    ClientDisconnected => "client_disconnected",
    UpstreamStreamBroken => "upstream_stream_broken",
    BatchRefused => "batch_refused",
    InvalidFile => "invalid_file",
    BatchNotSupported => "batch_not_supported",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An error answered to the client.
#[derive(Clone, Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// OpenAI's `type`.
    pub kind: ErrorType,
    /// OpenAI's `code`; documented in `docs/errors.md`.
    pub code: ErrorCode,
    /// Human message (never contains secrets, prompts or outputs).
    pub message: String,
    /// The request field at fault.
    pub param: Option<String>,
    /// An OpenAI-format error body from the upstream, passed through as is.
    pub upstream_body: Option<Box<Value>>,
    /// Seconds the client should wait (sets `retry-after`).
    pub retry_after: Option<u64>,
    /// Fields added to the error object beside `message` and `code` (the
    /// refused lines of a batch).
    pub details: Option<Box<serde_json::Map<String, Value>>>,
}

impl ApiError {
    fn new(status: StatusCode, kind: ErrorType, code: ErrorCode, msg: String) -> Self {
        Self {
            status,
            kind,
            code,
            message: msg,
            param: None,
            upstream_body: None,
            retry_after: None,
            details: None,
        }
    }

    /// An error of the admin API (`docs/errors.md`, admin section).
    pub fn admin(status: StatusCode, code: ErrorCode, message: String) -> Self {
        Self::new(status, ErrorType::InvalidRequest, code, message)
    }

    /// 400 `invalid_json`.
    pub fn invalid_json(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequest,
            ErrorCode::InvalidJson,
            format!("The request body is not valid JSON: {detail}"),
        )
    }

    /// 400 `missing_field`.
    pub fn missing_field(field: &str) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequest,
            ErrorCode::MissingField,
            format!("Missing required parameter: '{field}'."),
        );
        e.param = Some(field.into());
        e
    }

    /// 400 `invalid_field`.
    pub fn invalid_field(field: &str, why: &str) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequest,
            ErrorCode::InvalidField,
            format!("Invalid value for '{field}': {why}"),
        );
        e.param = Some(field.into());
        e
    }

    /// 401 `missing_api_key`.
    pub fn missing_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorType::InvalidRequest,
            ErrorCode::MissingApiKey,
            "No API key provided. Send your Proviso key as 'Authorization: Bearer <key>' \
             (or in the 'api-key' header)."
                .into(),
        )
    }

    /// 401 `invalid_api_key`.
    pub fn invalid_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorType::InvalidRequest,
            ErrorCode::InvalidApiKey,
            "Incorrect API key provided. Ask your Proviso administrator for a key.".into(),
        )
    }

    /// 401 `key_revoked`.
    pub fn key_revoked(id: &str, reason: Option<&str>) -> Self {
        let why = reason.map(|r| format!(" Reason: {r}.")).unwrap_or_default();
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorType::InvalidRequest,
            ErrorCode::KeyRevoked,
            format!("API key {id} has been revoked.{why}"),
        )
    }

    /// 401 `key_expired`.
    pub fn key_expired(id: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorType::InvalidRequest,
            ErrorCode::KeyExpired,
            format!("API key {id} has expired. Ask your Proviso administrator for a new one."),
        )
    }

    /// 403 `key_suspended`, with the reason and the ledger record of the
    /// suspension.
    pub fn key_suspended(id: &str, reason: Option<&str>, reference: Option<&str>) -> Self {
        let why = reason.map(|r| format!(" Reason: {r}.")).unwrap_or_default();
        let r = reference
            .map(|r| format!(" Reference: {r}."))
            .unwrap_or_default();
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorType::Permission,
            ErrorCode::KeySuspended,
            format!("API key {id} is suspended pending review.{why}{r}"),
        )
    }

    /// 403 `policy_denied`, naming the rule, its reason and the clause of
    /// the terms behind it.
    pub fn policy_denied(rule: &str, reason: &str, reference: Option<&str>) -> Self {
        let r = reference
            .map(|r| format!(" Reference: {r}"))
            .unwrap_or_default();
        let mut e = Self::new(
            StatusCode::FORBIDDEN,
            ErrorType::Permission,
            ErrorCode::PolicyDenied,
            format!("Refused by policy rule '{rule}': {reason}.{r}"),
        );
        e.param = Some(rule.to_owned());
        e
    }

    /// 429 `rate_limit_exceeded`.
    pub fn rate_limited(what: &str, retry_after_ms: u64, never: bool, tokens: bool) -> Self {
        let msg = if never {
            format!(
                "This request alone exceeds the limit ({what}); reduce max_tokens or the prompt."
            )
        } else {
            format!(
                "Rate limit reached ({what}). Try again in {}.",
                format_reset(retry_after_ms)
            )
        };
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            if tokens {
                ErrorType::Tokens
            } else {
                ErrorType::Requests
            },
            ErrorCode::RateLimitExceeded,
            msg,
        );
        e.retry_after = Some(retry_after_ms.div_ceil(1000).max(1));
        e
    }

    /// 429 `budget_exceeded`.
    pub fn budget_exceeded(what: &str, retry_after_ms: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorType::InsufficientQuota,
            ErrorCode::BudgetExceeded,
            format!(
                "Monthly budget exhausted ({what}). It renews at the start of next month (UTC)."
            ),
        );
        e.retry_after = Some(retry_after_ms.div_ceil(1000).max(1));
        e
    }

    /// 503 `quota_unavailable`: the shared quota store cannot be reached and
    /// the configuration says fail closed.
    pub fn quota_unavailable(why: &str) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Server,
            ErrorCode::QuotaUnavailable,
            format!(
                "Quotas cannot be checked right now ({why}); the gateway refuses rather than overspend. Retry later."
            ),
        );
        e.retry_after = Some(1);
        e
    }

    /// 503 `overloaded`: more requests are in flight than
    /// `[server] max_concurrent_requests`.
    pub fn overloaded(limit: usize) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Server,
            ErrorCode::Overloaded,
            format!(
                "The gateway is handling its limit of {limit} requests at once. Retry shortly."
            ),
        );
        e.retry_after = Some(1);
        e
    }

    /// 408 `request_timeout`: the body did not arrive within
    /// `[server] body_read_timeout_ms`.
    pub fn body_timeout(ms: u64) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorType::InvalidRequest,
            ErrorCode::RequestTimeout,
            format!("The request body did not arrive within {ms} ms."),
        )
    }

    /// 404 `model_not_found`.
    pub fn model_not_found(model: &str) -> Self {
        let mut e = Self::new(
            StatusCode::NOT_FOUND,
            ErrorType::InvalidRequest,
            ErrorCode::ModelNotFound,
            format!("The model '{model}' does not exist or is not served by this gateway."),
        );
        e.param = Some("model".into());
        e
    }

    /// 413 `request_too_large`.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorType::InvalidRequest,
            ErrorCode::RequestTooLarge,
            format!("The request body exceeds the limit of {limit} bytes."),
        )
    }

    /// 504 `upstream_timeout`.
    pub fn upstream_timeout(upstream: &str, what: &str) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            ErrorType::Upstream,
            ErrorCode::UpstreamTimeout,
            format!("Upstream '{upstream}' timed out ({what})."),
        )
    }

    /// 502 `upstream_unreachable`.
    pub fn upstream_unreachable(upstream: &str) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            ErrorType::Upstream,
            ErrorCode::UpstreamUnreachable,
            format!("Upstream '{upstream}' could not be reached."),
        )
    }

    /// 502 `upstream_error`, passing an OpenAI-format body through when the
    /// upstream sent one.
    pub fn upstream_error(upstream: &str, status: u16, body: Option<Value>) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_GATEWAY,
            ErrorType::Upstream,
            ErrorCode::UpstreamError,
            format!("Upstream '{upstream}' failed with HTTP {status}."),
        );
        e.upstream_body = body.map(Box::new);
        e
    }

    /// 502 `upstream_auth_failed`: the upstream refused Proviso's own key.
    pub fn upstream_auth(upstream: &str) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            ErrorType::Upstream,
            ErrorCode::UpstreamAuthFailed,
            format!(
                "Upstream '{upstream}' rejected the gateway's credentials; tell your Proviso \
                 administrator."
            ),
        )
    }

    /// 502 `upstream_bad_response`.
    pub fn upstream_bad_response(upstream: &str, why: &str) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            ErrorType::Upstream,
            ErrorCode::UpstreamBadResponse,
            format!("Upstream '{upstream}' sent a response that is not valid: {why}."),
        )
    }

    /// The key store has not answered for too long: a key's state
    /// (revoked on another replica, say) cannot be confirmed, so no key is
    /// taken on trust. 503 with `retry-after: 1`.
    pub fn key_store_unavailable(why: &str) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Server,
            ErrorCode::KeyStoreUnavailable,
            format!("The gateway cannot confirm API keys now: {why}. Retry later."),
        );
        e.retry_after = Some(1);
        e
    }

    /// 503 `ledger_unavailable`: fail closed.
    pub fn ledger_unavailable(why: &str) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Server,
            ErrorCode::LedgerUnavailable,
            format!(
                "The gateway cannot record this exchange, so it will not serve it: {why}. \
                 Retry later."
            ),
        );
        e.retry_after = Some(1);
        e
    }

    /// 404 `unsupported_endpoint`: a part of the OpenAI API (`family`)
    /// Proviso does not govern, refused so that nothing passes ungoverned.
    pub fn unsupported_endpoint(path: &str, family: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorType::InvalidRequest,
            ErrorCode::UnsupportedEndpoint,
            format!(
                "{path}: the {family} API is not supported by this Proviso gateway, and is refused rather than passed through ungoverned. Supported: chat completions, completions, embeddings, responses (creating them, reading back and deleting stored ones), files of purpose batch, batches, and models (under /v1/, /openai/v1/ and Azure's /openai/deployments/)."
            ),
        )
    }

    /// 400 `batch_refused`: lines of a batch that would be refused as
    /// requests (or that do not fit the batch), each with its line number,
    /// `custom_id`, code and message in the error's `lines`; nothing of the
    /// batch was sent.
    pub fn batch_refused(lines: Vec<Value>, more: usize) -> Self {
        let n = lines.len() + more;
        let first = lines
            .first()
            .map(|l| {
                format!(
                    " Line {}: {}",
                    l.get("line").and_then(Value::as_u64).unwrap_or(0),
                    l.get("message").and_then(Value::as_str).unwrap_or("")
                )
            })
            .unwrap_or_default();
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequest,
            ErrorCode::BatchRefused,
            format!(
                "The batch is refused: {n} line(s) would be refused as requests; see error.lines, and nothing of it was sent.{first}"
            ),
        );
        e.param = Some("input_file_id".into());
        let mut d = serde_json::Map::new();
        d.insert("lines".into(), Value::Array(lines));
        d.insert("more_lines".into(), json!(more));
        e.details = Some(Box::new(d));
        e
    }

    /// 400 `invalid_file`: an upload that is not a batch input file.
    pub fn invalid_file(why: &str, lines: Vec<Value>) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequest,
            ErrorCode::InvalidFile,
            format!("The file is not a batch input file: {why}"),
        );
        e.param = Some("file".into());
        if !lines.is_empty() {
            let mut d = serde_json::Map::new();
            d.insert("lines".into(), Value::Array(lines));
            e.details = Some(Box::new(d));
        }
        e
    }

    /// 400 `batch_not_supported`: none of the deployments the batch may use
    /// takes batches.
    pub fn batch_not_supported(model: &str, why: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequest,
            ErrorCode::BatchNotSupported,
            format!("Model '{model}' cannot be used in a batch here: {why}"),
        )
    }

    /// 404 `not_found` for a file or batch this key does not own (or that
    /// does not exist: the two are not told apart).
    pub fn object_not_found(what: &str, id: &str, param: &str) -> Self {
        let mut e = Self::new(
            StatusCode::NOT_FOUND,
            ErrorType::InvalidRequest,
            ErrorCode::NotFound,
            format!("No {what} with id '{id}' belongs to this key."),
        );
        e.param = Some(param.into());
        e
    }

    /// 409 `invalid_transition`: a batch that has ended cannot be cancelled.
    pub fn batch_ended(id: &str, status: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            ErrorType::InvalidRequest,
            ErrorCode::InvalidTransition,
            format!("Batch '{id}' is {status}: it cannot be cancelled."),
        )
    }

    /// 404 `not_found` for a stored response this gateway does not know
    /// for this key.
    pub fn response_not_found(id: &str) -> Self {
        Self::response_not_found_as(id, "response_id")
    }

    /// [`ApiError::response_not_found`] for the request field `param`.
    pub fn response_not_found_as(id: &str, param: &str) -> Self {
        let mut e = Self::new(
            StatusCode::NOT_FOUND,
            ErrorType::InvalidRequest,
            ErrorCode::NotFound,
            format!(
                "No response with id '{id}' made by this key through this gateway: it knows the {} most recent responses since it started, each for the key that created it; a response answered by a chat-completions upstream is not stored.",
                crate::conversations::CAPACITY
            ),
        );
        e.param = Some(param.into());
        e
    }

    /// 404 `not_found` for unknown paths.
    pub fn no_route(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorType::InvalidRequest,
            ErrorCode::NotFound,
            format!("Unknown request URL: {path}."),
        )
    }

    /// 405 `method_not_allowed`.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorType::InvalidRequest,
            ErrorCode::MethodNotAllowed,
            "Method not allowed for this URL.".into(),
        )
    }

    /// 500 `internal_error`: the detail goes to the log, not the client.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::Server,
            ErrorCode::InternalError,
            "The gateway failed to handle the request.".into(),
        )
    }

    /// The JSON body the client receives.
    pub fn body(&self) -> Value {
        if let Some(b) = &self.upstream_body {
            return (**b).clone();
        }
        let mut e = json!({"message": self.message, "type": self.kind.as_str(), "param": self.param, "code": self.code});
        if let (Some(d), Value::Object(o)) = (&self.details, &mut e) {
            for (k, v) in d.iter() {
                o.insert(k.clone(), v.clone());
            }
        }
        json!({ "error": e })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(self.body())).into_response();
        if let Some(v) = self
            .retry_after
            .and_then(|s| HeaderValue::from_str(&s.to_string()).ok())
        {
            r.headers_mut().insert("retry-after", v);
        }
        r.extensions_mut().insert(self);
        r
    }
}

/// Whether `v` looks like OpenAI's `{"error": {"message": …}}`.
pub fn is_openai_error(v: &Value) -> bool {
    v.get("error")
        .and_then(|e| e.get("message"))
        .is_some_and(Value::is_string)
}

/// OpenAI's duration form for `x-ratelimit-reset-*`: `20ms`, `1.5s`, `6m0s`.
pub fn format_reset(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = ms as f64 / 1000.0;
    if secs < 60.0 {
        let s = format!("{secs:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        return format!("{s}s");
    }
    let total = ms / 1000;
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else {
        format!("{m}m{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::format_reset;

    #[test]
    fn reset_format() {
        assert_eq!(format_reset(20), "20ms");
        assert_eq!(format_reset(1500), "1.5s");
        assert_eq!(format_reset(1000), "1s");
        assert_eq!(format_reset(360_000), "6m0s");
        assert_eq!(format_reset(86_400_000), "24h0m0s");
    }
}
