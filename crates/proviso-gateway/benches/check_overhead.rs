//! Added latency of the call specification check and quotas, per request:
//! policy evaluation (key scope + rules over one deployment) plus quota
//! plan, reserve and settle, in memory and against Redis, with a bare Redis
//! PING in the same run for comparison. Run by `bench/policy_quota.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: failing loudly is right

use std::time::Instant;

use proviso_access::{KeyRecord, KeyState, Quotas};
use proviso_gateway::caller::ask;
use proviso_gateway::config::{GatewayConfig, UpstreamConfig};
use proviso_gateway::quota::{Backend, QuotaConfig, QuotaService};
use proviso_gateway::upstream::Upstreams;
use proviso_policy::{Policy, PolicyConfig};
use proviso_types::{KeyId, UnixMillis};
use serde_json::json;

const POLICY: &str = r#"
[[rules]]
name = "product-and-evaluation"
effect = "allow"
purposes = ["product", "evaluation"]
[[rules]]
name = "research-eu"
effect = "allow"
teams = ["research"]
purposes = ["research"]
regions = ["eu-*"]
[[rules]]
name = "no-interns"
effect = "deny"
teams = ["interns"]
models = ["gpt-4o*"]
[[rules]]
name = "mask-support"
effect = "desensitize"
teams = ["support"]
[[rules]]
name = "self-hosted"
effect = "allow"
upstream_kinds = ["openai-compatible"]
"#;

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn key() -> KeyRecord {
    KeyRecord {
        id: KeyId("key_bench000000000000".into()),
        team: "ml".into(),
        name: None,
        state: KeyState::Active,
        contact: None,
        justification: None,
        purposes: vec!["product".into(), "evaluation".into()],
        models: vec!["gpt-4o*".into()],
        default_purpose: Some("product".into()),
        quotas: Quotas {
            requests_per_minute: Some(1_000_000_000),
            tokens_per_minute: Some(u64::MAX / 4),
            monthly_tokens: Some(u64::MAX / 4),
            ..Quotas::default()
        },
        expires: None,
        revoke_at: None,
        created: UnixMillis(0),
        updated: UnixMillis(0),
        reason: None,
        updated_by: None,
        reason_ref: None,
    }
}

fn main() {
    let iters: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let policy = Policy::new(toml::from_str::<PolicyConfig>(POLICY).unwrap()).unwrap();
    let mut up = UpstreamConfig::default_openai(Some("sk".into()));
    up.models = vec!["gpt-4o-mini".into()];
    let gw = GatewayConfig {
        upstreams: vec![up],
        ..GatewayConfig::default()
    };
    let ups = Upstreams::from_config(&gw).unwrap();
    let key = key();
    let body = json!({"model": "gpt-4o-mini", "max_tokens": 256,
        "messages": [{"role": "user", "content": "Summarise the attached meeting notes in three bullet points, please."}]});
    let body = body.as_object().unwrap().clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut rows = Vec::new();
    // Policy only.
    let mut t = Vec::with_capacity(iters);
    for _ in 0..iters {
        let s = Instant::now();
        let ev = policy.evaluate(
            &ask(&key, Some("product"), "gpt-4o-mini"),
            ups.resolve("gpt-4o-mini"),
        );
        assert!(ev.allowed());
        t.push(s.elapsed().as_secs_f64() * 1e6);
    }
    rows.push(("policy check (5 rules + 2 pack rules)", t));

    for backend in [Backend::Memory, Backend::Redis] {
        let _g = rt.enter();
        let cfg = QuotaConfig {
            backend,
            redis_url: serde_json::from_value(json!(redis_url)).unwrap(),
            key_prefix: format!("proviso-bench-{}", std::process::id()),
            ..QuotaConfig::default()
        };
        let q = QuotaService::new(cfg).unwrap();
        let n = if backend == Backend::Redis {
            iters / 10
        } else {
            iters
        };
        let mut t = Vec::with_capacity(n);
        rt.block_on(async {
            for _ in 0..n {
                let s = Instant::now();
                let ev = policy.evaluate(
                    &ask(&key, Some("product"), "gpt-4o-mini"),
                    ups.resolve("gpt-4o-mini"),
                );
                assert!(ev.allowed());
                let plan = q.plan(&key, "gpt-4o-mini", "/v1/chat/completions", &body);
                let r = q.reserve(plan).await.map_err(|e| format!("{e:?}")).unwrap();
                r.settle(Some(120));
                t.push(s.elapsed().as_secs_f64() * 1e6);
            }
        });
        let name = if backend == Backend::Memory {
            "policy + quotas, in memory (tokenise, reserve, settle)"
        } else {
            "policy + quotas, Redis (one EVALSHA round trip; settle is asynchronous)"
        };
        rows.push((name, t));
    }
    // A bare round trip to the same Redis, for comparison.
    let client = redis::Client::open(redis_url.as_str()).unwrap();
    let mut t = Vec::with_capacity(iters / 10);
    rt.block_on(async {
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        for _ in 0..iters / 10 {
            let s = Instant::now();
            let _: String = redis::cmd("PING").query_async(&mut c).await.unwrap();
            t.push(s.elapsed().as_secs_f64() * 1e6);
        }
    });
    rows.push(("bare Redis PING round trip (reference)", t));
    println!("| what | iterations | p50 µs | p99 µs |");
    println!("| --- | --- | --- | --- |");
    for (name, t) in rows {
        let n = t.len();
        println!(
            "| {name} | {n} | {:.2} | {:.2} |",
            pct(t.clone(), 0.5),
            pct(t, 0.99)
        );
    }
}
