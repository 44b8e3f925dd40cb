//! The per-request context the stages fill in, and the ledger record made
//! from it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use proviso_access::KeyRecord;
use proviso_ledger::{Outcome, Record, RecordKind};
use proviso_types::{RecordId, UnixMillis, Usage};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::upstream::Endpoint;

/// What is known about one request so far.
pub struct Context {
    /// The ledger record id (also sent to the client as `x-proviso-record-id`).
    pub id: RecordId,
    /// Arrival time.
    pub time: UnixMillis,
    /// Arrival instant, for latencies.
    pub started: Instant,
    /// Which endpoint.
    pub endpoint: Endpoint,
    /// The caller's key, once looked up (for the record; the stages after
    /// authentication get it as [`Admitted::key`]).
    pub key: Option<Arc<KeyRecord>>,
    /// The body as received (replaced by the body as sent, once sent).
    pub request_text: String,
    /// The parsed body.
    pub body: Map<String, Value>,
    /// The model the route names (an Azure deployment's), which replaces
    /// the body's `model`.
    pub route_model: Option<String>,
    /// The requested model, when the body named one (for the record; the
    /// stages after parsing get it as [`Admitted::model`]).
    pub model: Option<String>,
    /// `stream: true`.
    pub stream: bool,
    /// The client asked for `stream_options.include_usage` itself.
    pub client_wants_usage: bool,
    /// The upstream that answered.
    pub upstream: Option<String>,
    /// The model name used there.
    pub upstream_model: Option<String>,
    /// Time to the upstream's response headers.
    pub ttfb: Option<Duration>,
    /// Time spent waiting on the upstream (non-streamed).
    pub upstream_elapsed: Option<Duration>,
    /// The declared (or implied) purpose.
    pub purpose: Option<String>,
    /// The policy decision.
    pub decision: Option<proviso_policy::Decision>,
    /// The quota charge, until settled.
    pub reservation: Option<crate::quota::Reservation>,
    /// Prompt tokens counted before the call (when quotas apply).
    pub counted_prompt_tokens: Option<u64>,
    /// Rate-limit states after the charge, for `x-ratelimit-*` headers.
    pub limit_states: Vec<proviso_access::limits::LimitState>,
    /// What to mask: the strictest demand of the deployments the prompt
    /// may reach (`Some(empty)`: every entity type).
    pub desensitize: Option<Vec<String>>,
    /// Every upstream the prompt was sent to, in order, and how each
    /// attempt ended (for the record: a prompt that reached a failing
    /// upstream still reached it).
    pub attempts: Vec<serde_json::Value>,
    /// The `exchange.opened` record of a stream, once committed.
    pub opened: Option<RecordId>,
    /// The placeholders of a desensitized prompt, for restore.
    pub session: Option<proviso_redact::Session>,
    /// What desensitize did, for the record's `detail`.
    pub redaction: Option<serde_json::Value>,
    /// The client's address.
    pub client: Option<String>,
    /// The monitor's notice on the key, for the `Proviso-Notice` header.
    pub notice: Option<String>,
}

/// A record's `detail`, as [`Context::detail`] writes it.
#[derive(serde::Serialize)]
struct Detail<'a> {
    purpose: Option<&'a str>,
    client: Option<&'a str>,
    counted_prompt_tokens: Option<u64>,
    desensitized: Option<&'a Value>,
    attempts: Option<&'a Vec<Value>>,
    opened: Option<String>,
    policy: Option<DetailPolicy<'a>>,
}

/// The policy's decision in a record's `detail`.
#[derive(serde::Serialize)]
struct DetailPolicy<'a> {
    allowed: bool,
    rule: &'a str,
    reference: Option<&'a str>,
    desensitize: Option<&'a [String]>,
}

/// What authentication and parsing established, handed to the stages
/// after them as values (never re-checked at run time).
pub struct Admitted {
    /// The authenticated (usable) key.
    pub key: Arc<KeyRecord>,
    /// The requested model.
    pub model: String,
}

/// How an exchange that reached an upstream ended: what its record says
/// and the usage its quota is settled with (see `pipeline::finish`).
pub struct Ended {
    /// The record's outcome.
    pub outcome: Outcome,
    /// What the record says beyond the context.
    pub ending: Ending,
    /// The usage to settle the reservation with (`None`: the whole
    /// reservation stands).
    pub charge: Option<Usage>,
}

/// What a record says beyond the context.
#[derive(Default)]
pub struct Ending {
    /// HTTP status served.
    pub status: u16,
    /// Output text.
    pub output: String,
    /// Response body as served (non-streamed).
    pub response: Option<String>,
    /// Finish reason.
    pub finish_reason: Option<String>,
    /// Usage.
    pub usage: Option<Usage>,
    /// Error code and message.
    pub error: Option<(String, String)>,
}

impl Context {
    /// A fresh context for a request that arrived at `time`.
    pub fn new(endpoint: Endpoint, time: UnixMillis) -> Self {
        Self {
            id: RecordId::new_at(time),
            time,
            started: Instant::now(),
            endpoint,
            key: None,
            request_text: String::new(),
            body: Map::new(),
            route_model: None,
            model: None,
            stream: false,
            client_wants_usage: false,
            upstream: None,
            upstream_model: None,
            ttfb: None,
            upstream_elapsed: None,
            purpose: None,
            decision: None,
            reservation: None,
            counted_prompt_tokens: None,
            limit_states: Vec::new(),
            desensitize: None,
            attempts: Vec::new(),
            opened: None,
            session: None,
            redaction: None,
            client: None,
            notice: None,
        }
    }

    /// Sets the request's time (a simulated clock moved by the caller), and
    /// an id made at that time.
    pub fn set_time(&mut self, time: UnixMillis) {
        self.time = time;
        self.id = RecordId::new_at(time);
    }

    /// The team label for metrics.
    pub fn team(&self) -> &str {
        self.key.as_ref().map_or("none", |k| k.team.as_str())
    }

    /// The record of this exchange.
    pub fn record(&self, outcome: Outcome, end: Ending) -> Record {
        let (error_code, error) = match end.error {
            Some((c, m)) => (Some(c), Some(m)),
            None => (None, None),
        };
        Record {
            id: self.id,
            time: self.time,
            kind: RecordKind::Exchange,
            key_id: self.key.as_ref().map(|k| k.id.clone()),
            team: self.key.as_ref().map(|k| k.team.clone()),
            endpoint: self.endpoint.path().to_owned(),
            model: self.model.clone(),
            upstream: self.upstream.clone(),
            upstream_model: self.upstream_model.clone(),
            status: end.status,
            outcome,
            stream: self.stream,
            request: self.request_text.clone(),
            output: end.output,
            response: end.response,
            finish_reason: end.finish_reason,
            usage: end.usage,
            latency_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            ttfb_ms: self
                .ttfb
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            error_code,
            error,
            detail: (self.purpose.is_some()
                || self.decision.is_some()
                || self.redaction.is_some()
                || !self.attempts.is_empty()
                || self.opened.is_some())
            .then(|| self.detail()),
        }
    }

    /// The record committed before a streamed answer's first byte is
    /// relayed: the request as sent, the key, the upstream, and the id of
    /// the exchange record that will close it.
    pub fn opened_record(&self) -> Record {
        let detail = serde_json::json!({
            "exchange": self.id.to_string(),
            "purpose": self.purpose,
            "client": self.client,
            "attempts": self.attempts,
        });
        Record {
            endpoint: proviso_ledger::OPENED_EVENT.into(),
            model: self.model.clone(),
            upstream: self.upstream.clone(),
            upstream_model: self.upstream_model.clone(),
            stream: true,
            request: self.request_text.clone(),
            ..Record::event(
                RecordId::new_at(self.time),
                proviso_ledger::OPENED_EVENT,
                self.key.as_ref().map(|k| k.id.clone()),
                self.key.as_ref().map(|k| k.team.clone()),
                detail.to_string(),
            )
        }
    }

    /// A record's `detail`: the purpose, the client, the counted prompt, what
    /// was masked, the policy's decision, every upstream attempt, the opened
    /// record of a stream (as JSON, keys in this order, absent ones null).
    pub fn detail(&self) -> String {
        let detail = Detail {
            purpose: self.purpose.as_deref(),
            client: self.client.as_deref(),
            counted_prompt_tokens: self.counted_prompt_tokens,
            desensitized: self.redaction.as_ref(),
            attempts: (!self.attempts.is_empty()).then_some(&self.attempts),
            opened: self.opened.map(|id| id.to_string()),
            policy: self.decision.as_ref().map(|d| DetailPolicy {
                allowed: d.allowed,
                rule: &d.rule,
                reference: d.reference.as_deref(),
                desensitize: d.desensitize.as_deref(),
            }),
        };
        // Written straight from the context: a tree of values built only to
        // be printed cost as much as the rest of the record.
        serde_json::to_string(&detail).unwrap_or_default()
    }

    /// The record of a request that ends with `err`.
    pub fn error_record(&self, err: &ApiError) -> Record {
        let outcome = if err.kind == crate::error::ErrorType::Upstream {
            Outcome::Failed
        } else {
            Outcome::Refused
        };
        let outcome = if err.code == crate::error::ErrorCode::LedgerUnavailable {
            Outcome::Withheld
        } else {
            outcome
        };
        let message = match &err.upstream_body {
            Some(b) => b
                .pointer("/error/message")
                .and_then(Value::as_str)
                .map_or_else(
                    || err.message.clone(),
                    |m| format!("{} Upstream said: {m}", err.message),
                ),
            None => err.message.clone(),
        };
        self.record(
            outcome,
            Ending {
                status: err.status.as_u16(),
                // An upstream's error body, or the refusal's own details
                // (a batch's refused lines) as the client got them.
                response: err
                    .upstream_body
                    .as_ref()
                    .map(|b| b.to_string())
                    .or_else(|| err.details.is_some().then(|| err.body().to_string())),
                error: Some((err.code.as_str().to_owned(), message)),
                ..Ending::default()
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `detail` as a tree of values, the way a reader of the ledger sees it.
    fn as_values(ctx: &Context) -> Value {
        json!({
            "purpose": ctx.purpose,
            "client": ctx.client,
            "counted_prompt_tokens": ctx.counted_prompt_tokens,
            "desensitized": ctx.redaction,
            "attempts": (!ctx.attempts.is_empty()).then_some(&ctx.attempts),
            "opened": ctx.opened.map(|id| id.to_string()),
            "policy": ctx.decision.as_ref().map(|d| json!({
                "allowed": d.allowed,
                "rule": d.rule,
                "reference": d.reference,
                "desensitize": d.desensitize,
            })),
        })
    }

    #[test]
    fn detail_names_every_field_in_order_and_nulls_what_is_unknown() {
        let mut ctx = Context::new(Endpoint::Chat, UnixMillis(1_767_571_200_000));
        let bare = ctx.detail();
        assert_eq!(bare, as_values(&ctx).to_string());
        assert!(
            bare.starts_with(r#"{"purpose":null,"client":null,"#),
            "{bare}"
        );
        ctx.purpose = Some("product \"q\"".into());
        ctx.client = Some("10.0.0.1".into());
        ctx.counted_prompt_tokens = Some(42);
        ctx.redaction = Some(json!({"EMAIL": 2, "z": [1, {"b": null, "a": "é"}]}));
        ctx.attempts = vec![json!({"upstream": "u", "model": "m", "ended": "HTTP 200"})];
        ctx.opened = Some(RecordId::new_at(UnixMillis(1_767_571_200_001)));
        ctx.decision = Some(proviso_policy::Decision {
            allowed: true,
            rule: "allow-all".into(),
            reason: "r".into(),
            reference: Some("§4\n".into()),
            desensitize: Some(vec!["EMAIL".into()]),
            trace: Vec::new(),
        });
        let full = ctx.detail();
        assert_eq!(full, as_values(&ctx).to_string());
        let back: Value = serde_json::from_str(&full).unwrap();
        assert_eq!(back["policy"]["desensitize"], json!(["EMAIL"]));
        assert_eq!(back["counted_prompt_tokens"], json!(42));
    }
}
