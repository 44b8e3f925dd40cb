//! What the monitor would observe of a simulated request, without a gateway
//! (no rate limits; answers as long as the workload expects, else 400
//! tokens, cut when `max_tokens` is lower; prompt tokens estimated over
//! everything an upstream counts): shared by `tests/simulated.rs`,
//! `benches/monitor_cost.rs` and `benches/families.rs`.

use proviso_monitor::Observation;
use proviso_traffic::{Scenario, SimRequest};
use proviso_types::{RecordId, UnixMillis};

/// What the model answered each request, as its client sends it back
/// ([`proviso_monitor::observation::replayed_answers`]).
pub fn answers(s: &Scenario) -> Vec<u64> {
    let requests: Vec<(u64, &serde_json::Value)> =
        s.requests.iter().map(|r| (r.key as u64, &r.body)).collect();
    proviso_monitor::observation::replayed_answers(&requests)
}

/// The observation of simulated request `r`, whose answer (as its client
/// sends it back) hashes to `replayed` ([`answers`]).
pub fn observation(s: &Scenario, r: &SimRequest, replayed: u64) -> Observation {
    let k = &s.keys[r.key];
    let prompt = proviso_monitor::observation::prompt_text(&r.body);
    let system = proviso_monitor::observation::system_text(&r.body);
    let definitions = proviso_monitor::observation::definitions_text(&r.body);
    let follow_up = proviso_monitor::observation::is_follow_up(&r.body);
    let earlier = proviso_monitor::observation::earlier_text(&r.body);
    let max_tokens = r.body.get("max_tokens").and_then(|v| v.as_u64());
    let answer = r.answer_tokens.map_or(400, u64::from);
    Observation {
        record_id: RecordId::new_at(UnixMillis(r.t)),
        time: UnixMillis(r.t),
        key: k.name.clone(),
        team: k.team.clone(),
        purpose: Some(k.purpose.clone()),
        client: Some(r.client.clone()),
        rate_limited: false,
        prompt_tokens: prompt_tokens(&r.body),
        completion_tokens: answer.min(max_tokens.unwrap_or(u64::MAX)),
        hit_max_tokens: max_tokens.is_some_and(|m| m <= answer),
        probing_params: r.body.get("logprobs").is_some(),
        sampling: (1000, 1000),
        vector: None,
        end_user: proviso_monitor::observation::end_user(&r.body),
        params: proviso_monitor::observation::params_signature(&r.body),
        // Answers stream at about 50 tokens a second.
        latency_ms: 300 + answer.min(max_tokens.unwrap_or(u64::MAX)) * 20,
        prompt,
        system,
        definitions,
        follow_up,
        earlier,
        continues: None,
        said: proviso_monitor::observation::said_turns(&r.body),
        answer: replayed,
        tool_step: proviso_monitor::observation::is_tool_step(&r.body),
        parts: proviso_monitor::observation::prompt_parts(&r.body),
    }
}

/// Prompt tokens as an upstream would count them, estimated: every
/// message's text (system, user, assistant, tool; tool calls' arguments)
/// and the tools' definitions, a CJK character a token and other words
/// four tokens in three.
pub fn prompt_tokens(body: &serde_json::Value) -> u64 {
    fn walk(v: &serde_json::Value, words: &mut u64, cjk: &mut u64) {
        match v {
            serde_json::Value::String(s) => {
                for w in s.split_whitespace() {
                    let c = w.chars().filter(|c| is_cjk(*c)).count() as u64;
                    *cjk += c;
                    if c < w.chars().count() as u64 {
                        *words += 1;
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, words, cjk)),
            // A picture, a sound or a file: some hundreds of tokens to an
            // upstream (85, a picture at low detail), not its URL's length.
            serde_json::Value::Object(o)
                if matches!(
                    o.get("type").and_then(serde_json::Value::as_str),
                    Some("image_url" | "input_image" | "input_audio" | "file" | "input_file")
                ) =>
            {
                *cjk += 85
            }
            serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, words, cjk)),
            _ => {}
        }
    }
    fn is_cjk(c: char) -> bool {
        matches!(c, '\u{3040}'..='\u{30ff}' | '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' | '\u{ac00}'..='\u{d7af}' | '\u{f900}'..='\u{faff}')
    }
    let (mut words, mut cjk) = (0, 0);
    for field in proviso_monitor::observation::PROMPT_FIELDS {
        if let Some(v) = body.get(field) {
            walk(v, &mut words, &mut cjk);
        }
    }
    // Each message's framing is a few tokens more.
    let framing = body
        .get("messages")
        .and_then(serde_json::Value::as_array)
        .map_or(0, |m| 4 * m.len() as u64);
    (words * 4) / 3 + cjk + framing + 1
}
