//! What the monitor would observe of a simulated request, without a gateway
//! (no rate limits; answers as long as the workload expects, else 400
//! tokens, cut when `max_tokens` is lower): shared by `tests/simulated.rs`,
//! `benches/monitor_cost.rs` and `benches/families.rs`.

use proviso_monitor::Observation;
use proviso_traffic::{Scenario, SimRequest};
use proviso_types::{RecordId, UnixMillis};

pub fn observation(s: &Scenario, r: &SimRequest) -> Observation {
    let k = &s.keys[r.key];
    let prompt = proviso_monitor::observation::prompt_text(&r.body);
    let system = proviso_monitor::observation::system_text(&r.body);
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
        prompt_tokens: (prompt.split_whitespace().count() as u64 * 4) / 3 + 1,
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
        follow_up,
        earlier,
        continues: None,
        tool_step: proviso_monitor::observation::is_tool_step(&r.body),
    }
}
