use proviso_types::{KeyId, RecordId, UnixMillis, Usage};
use serde::{Deserialize, Serialize};

use crate::Hash;

/// What a record is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// One client request and what became of it.
    Exchange,
    /// A change to a key (created, revoked, …) or another administrative act.
    Event,
}

impl RecordKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Exchange => "exchange",
            RecordKind::Event => "event",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "exchange" => Some(RecordKind::Exchange),
            "event" => Some(RecordKind::Event),
            _ => None,
        }
    }
}

/// How an exchange ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Served in full.
    Ok,
    /// Refused by Proviso before reaching an upstream (bad input, bad key, …).
    Refused,
    /// The upstream failed or timed out.
    Failed,
    /// A stream that ended early (client went away or upstream broke);
    /// `output` holds what was produced up to then.
    Partial,
    /// The upstream answered but the answer was withheld because the ledger
    /// could not record it in time (fail closed).
    Withheld,
}

impl Outcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
            Outcome::Partial => "partial",
            Outcome::Withheld => "withheld",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ok" => Outcome::Ok,
            "refused" => Outcome::Refused,
            "failed" => Outcome::Failed,
            "partial" => Outcome::Partial,
            "withheld" => Outcome::Withheld,
            _ => return None,
        })
    }
}

/// Why a record's JSON body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// It holds fields or values of a newer Proviso (named here).
    #[error("written by a newer Proviso: {0}")]
    Newer(String),
    /// It is not a record of any version.
    #[error("not a ledger record: {0}")]
    Unreadable(serde_json::Error),
}

/// One ledger record, before it is sequenced and chained.
///
/// The field order is the canonical encoding's order (see
/// [`crate::ENCODING_V1`]); adding a field means a new encoding version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Sortable unique id (ULID).
    pub id: RecordId,
    /// When the request arrived.
    pub time: UnixMillis,
    /// Exchange or event.
    pub kind: RecordKind,
    /// The client key, if one was presented and known.
    pub key_id: Option<KeyId>,
    /// The key's team.
    pub team: Option<String>,
    /// The API path, e.g. `/v1/chat/completions`; for events, the event name.
    pub endpoint: String,
    /// The model the client asked for.
    pub model: Option<String>,
    /// The upstream that served it (name from the config).
    pub upstream: Option<String>,
    /// The model or deployment name used upstream.
    pub upstream_model: Option<String>,
    /// The HTTP status the client received.
    pub status: u16,
    /// How the exchange ended.
    pub outcome: Outcome,
    /// Whether the response was streamed.
    pub stream: bool,
    /// The request body as sent upstream (as received, when it never left).
    pub request: String,
    /// The output text (for streams, assembled from the chunks).
    pub output: String,
    /// The response body as served, when not streamed (embedding vectors
    /// are summarised, not stored).
    pub response: Option<String>,
    /// Why generation stopped, as the upstream said.
    pub finish_reason: Option<String>,
    /// Token usage as the upstream reported it.
    pub usage: Option<Usage>,
    /// Total time from request to the end of the response, milliseconds.
    pub latency_ms: u64,
    /// Time to the upstream's first byte, milliseconds.
    pub ttfb_ms: Option<u64>,
    /// Machine-readable error code, if any.
    pub error_code: Option<String>,
    /// Human error message, if any.
    pub error: Option<String>,
    /// Extra JSON (purpose, policy decision, event details, …).
    pub detail: Option<String>,
}

impl Record {
    /// The bytes of its long texts: the request, the output, the response
    /// and the detail (what its size in memory and in its encoding grow
    /// with).
    pub fn texts_len(&self) -> usize {
        self.request.len()
            + self.output.len()
            + self.response.as_ref().map_or(0, String::len)
            + self.detail.as_ref().map_or(0, String::len)
    }

    /// Reads a record's serde JSON form (as a replica queues it). A record
    /// with fields or values this build does not know (a field added, an
    /// outcome or kind added) was written by a newer Proviso: read without
    /// them it is not the record its writer meant (its hash differs), so
    /// it is [`BodyError::Newer`], for the caller to leave alone rather
    /// than drop what it cannot read.
    pub fn from_json_checked(body: &[u8]) -> Result<Record, BodyError> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let mut unknown = Vec::new();
        let read: Result<Record, serde_json::Error> = serde_ignored::deserialize(&mut de, |path| {
            // `usage.?.x`: the `?` is the Option around `usage`.
            let p = path.to_string();
            unknown.push(
                p.split('.')
                    .filter(|s| *s != "?")
                    .collect::<Vec<_>>()
                    .join("."),
            );
        });
        let record = match read.and_then(|r| de.end().map(|()| r)) {
            Ok(r) => r,
            Err(e) if e.is_data() && e.to_string().contains("unknown variant") => {
                return Err(BodyError::Newer(format!(
                    "a value this build does not know: {e}"
                )));
            }
            Err(e) => return Err(BodyError::Unreadable(e)),
        };
        if unknown.is_empty() {
            Ok(record)
        } else {
            unknown.sort();
            Err(BodyError::Newer(format!(
                "fields this build does not know ({})",
                unknown.join(", ")
            )))
        }
    }

    /// An administrative event (`key.suspended`, …) about `key_id` of
    /// `team`, with its details as JSON. Its time is the id's
    /// ([`RecordId::new_at`] for a clock other than the system's).
    pub fn event(
        id: RecordId,
        name: &str,
        key_id: Option<KeyId>,
        team: Option<String>,
        detail: String,
    ) -> Self {
        Record {
            id,
            time: id.timestamp(),
            kind: RecordKind::Event,
            key_id,
            team,
            endpoint: name.into(),
            model: None,
            upstream: None,
            upstream_model: None,
            status: 0,
            outcome: Outcome::Ok,
            stream: false,
            request: String::new(),
            output: String::new(),
            response: None,
            finish_reason: None,
            usage: None,
            latency_ms: 0,
            ttfb_ms: None,
            error_code: None,
            error: None,
            detail: Some(detail),
        }
    }

    /// A minimal exchange record, for examples and tests.
    pub fn test(output: &str) -> Self {
        Record {
            kind: RecordKind::Exchange,
            endpoint: "/v1/chat/completions".into(),
            model: Some("test-model".into()),
            status: 200,
            request: "{}".into(),
            output: output.into(),
            detail: None,
            ..Record::event(RecordId::new(), "", None, None, String::new())
        }
    }
}

/// A record as it stands in the log: its sequence number and chain hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainedRecord {
    /// Position in the log, from 1, contiguous.
    pub seq: u64,
    /// The record.
    pub record: Record,
    /// The hash of the record before it (all zeros for the first).
    pub prev_hash: Hash,
    /// SHA-256 over the canonical encoding of the record and `prev_hash`.
    pub hash: Hash,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fields_of_a_newer_writer_are_named_not_dropped() {
        let r = Record::event(RecordId::new(), "key.created", None, None, "{}".into());
        let body = serde_json::to_vec(&r).unwrap();
        assert_eq!(Record::from_json_checked(&body).unwrap(), r);
        let newer = |v: &serde_json::Value| match Record::from_json_checked(
            &serde_json::to_vec(v).unwrap(),
        ) {
            Err(BodyError::Newer(m)) => m,
            other => panic!("{other:?}"),
        };
        // A newer writer's record: a field at the top and one inside usage.
        let mut v = serde_json::to_value(&r).unwrap();
        v["region"] = "eu".into();
        v["usage"] = serde_json::json!({"prompt_tokens": 1, "completion_tokens": 2,
            "total_tokens": 3, "audio_tokens": 7});
        assert!(
            newer(&v).contains("(region, usage.audio_tokens)"),
            "{}",
            newer(&v)
        );
        // An outcome added by a newer version.
        let mut v = serde_json::to_value(&r).unwrap();
        v["outcome"] = "cached".into();
        assert!(newer(&v).contains("cached"), "{}", newer(&v));
        assert!(matches!(
            Record::from_json_checked(b"{\"id\": 1}"),
            Err(BodyError::Unreadable(_))
        ));
        assert!(matches!(
            Record::from_json_checked(&[body.as_slice(), b" x"].concat()),
            Err(BodyError::Unreadable(_))
        ));
    }
}
