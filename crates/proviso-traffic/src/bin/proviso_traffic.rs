//! `proviso-traffic`: drives a running gateway (started with `[server]
//! clock = "simulated"` and `trust_forwarded_for = true`, by
//! `proviso serve --allow-simulated-clock` on loopback) with a seeded
//! scenario, then reads `/admin/monitor` and reports detection per
//! workload: which keys were caught, after how many of their extraction
//! requests, and which benign keys were flagged.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Parser;
use proviso_traffic::{Corpus, Options, Role, scenario};
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore};

#[derive(Parser)]
#[command(name = "proviso-traffic", version, about)]
struct Cli {
    /// The gateway's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    gateway: String,
    /// The gateway's admin token (to create keys and read the monitor).
    #[arg(long, env = "PROVISO_ADMIN_TOKEN")]
    admin_token: String,
    /// The folder with `traffic_prompts.json` and `c4_human.jsonl`.
    #[arg(long, default_value = "tests/fixtures")]
    fixtures: PathBuf,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Simulated days.
    #[arg(long, default_value_t = 1)]
    days: u32,
    /// Ordinary chat users.
    #[arg(long, default_value_t = 20)]
    users: usize,
    /// Keys of the hydra campaign.
    #[arg(long, default_value_t = 12)]
    hydra_keys: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Simulated start, ms since the epoch (default: the first Monday 00:00
    /// UTC at least a day from now, so that simulated time stays ahead of
    /// the key store's wall clock).
    #[arg(long)]
    start_ms: Option<i64>,
    /// The model to ask for.
    #[arg(long, default_value = "gpt-4o-mini")]
    model: String,
    /// Write the report (JSON) here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only print the scenario's size.
    #[arg(long)]
    dry_run: bool,
    /// Run the workload families (`proviso_traffic::families`) instead of
    /// the first scenario; `--users` people are the held-out chat users.
    #[arg(long)]
    families: bool,
    /// With --families: keys per extraction and product family.
    #[arg(long, default_value_t = 2)]
    family_keys: usize,
    /// With --families: most requests per extraction key.
    #[arg(long, default_value_t = 300)]
    family_cap: usize,
    /// With --families: only these families (comma-separated).
    #[arg(long)]
    only: Option<String>,
    /// Run a scenario written elsewhere (a JSON `proviso_traffic::Scenario`,
    /// as bench/redteam*/gen.py write) instead, moved in time to the week of
    /// the simulated start (the same weekdays and hours); `--only` keeps
    /// those workloads, `--family-cap` at most that many requests a key.
    #[arg(long, conflicts_with = "families")]
    scenario: Option<PathBuf>,
    /// Ask the fake upstream for answers as long as each workload expects
    /// (`fake_answer_tokens` in the body; only the fake understands it).
    #[arg(long)]
    fake_answer_lengths: bool,
}

#[derive(Default, Clone)]
struct Seen {
    sent: u64,
    extraction_sent: u64,
    ok: u64,
    limited: u64,
    suspended: u64,
    /// Extraction requests sent before the first response that carried a
    /// notice or a refusal by the ladder.
    detected_after: Option<u64>,
    first_effect: Option<&'static str>,
}

fn next_monday_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let day = 86_400_000i64;
    // The first Monday on or after tomorrow 00:00: the Monday of the week
    // six days after it.
    proviso_traffic::monday_of((now / day + 1) * day + 6 * day)
}

/// The scenario's workloads named in `--only` (comma-separated), or all.
fn only(sc: proviso_traffic::Scenario, only: Option<&str>) -> proviso_traffic::Scenario {
    match only {
        Some(only) => {
            let wanted: Vec<&str> = only.split(',').map(str::trim).collect();
            proviso_traffic::keep_workloads(sc, &wanted)
        }
        None => sc,
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("proviso-traffic: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let corpus = Corpus::from_fixtures(&cli.fixtures)?;
    let opt = Options {
        seed: cli.seed,
        days: cli.days,
        users: cli.users,
        hydra_keys: cli.hydra_keys,
        start_ms: cli.start_ms.unwrap_or_else(next_monday_ms),
    };
    let mut sc = if let Some(path) = &cli.scenario {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the scenario {}", path.display()))?;
        let sc: proviso_traffic::Scenario = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a scenario", path.display()))?;
        proviso_traffic::moved_to_week_of(
            proviso_traffic::capped_per_key(only(sc, cli.only.as_deref()), cli.family_cap),
            opt.start_ms,
        )
    } else if cli.families {
        let f = proviso_traffic::families::FamilyOptions {
            seed: cli.seed,
            start_ms: opt.start_ms,
            extraction_keys: cli.family_keys,
            campaigns: 1,
            chat_tune: 0,
            chat_held_out: cli.users,
            product_keys: cli.family_keys,
            max_extraction_requests: cli.family_cap,
        };
        only(
            proviso_traffic::families::families(&corpus, &f),
            cli.only.as_deref(),
        )
    } else {
        scenario(&corpus, &opt)
    };
    for r in &mut sc.requests {
        if let Some(m) = r.body.as_object_mut() {
            m.insert("model".into(), json!(cli.model));
            if let (true, Some(n)) = (cli.fake_answer_lengths, r.answer_tokens) {
                m.insert("fake_answer_tokens".into(), json!(n));
            }
        }
    }
    eprintln!(
        "scenario: seed {}, {} days, {} keys, {} requests",
        opt.seed,
        opt.days,
        sc.keys.len(),
        sc.requests.len()
    );
    if cli.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(cli.concurrency * 2)
        .build()?;
    let base = cli.gateway.trim_end_matches('/').to_owned();
    let admin = format!("Bearer {}", cli.admin_token);
    // Keys, through the admin API.
    let mut secrets = Vec::with_capacity(sc.keys.len());
    let mut ids = Vec::with_capacity(sc.keys.len());
    for k in &sc.keys {
        let mut body = json!({"team": k.team, "name": k.name, "purposes": [k.purpose]});
        if let Some(rpm) = k.requests_per_minute {
            body["quotas"] = json!({"requests_per_minute": rpm});
        }
        let r = http
            .post(format!("{base}/admin/keys"))
            .header("authorization", &admin)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .with_context(|| format!("creating key {}", k.name))?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("creating key {}: {status} {v}", k.name);
        }
        let secret = v.get("secret").and_then(Value::as_str).unwrap_or_default();
        let id = v.get("id").and_then(Value::as_str).unwrap_or_default();
        secrets.push(format!("Bearer {secret}"));
        ids.push(id.to_owned());
    }
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::new(Mutex::new(vec![Seen::default(); sc.keys.len()]));
    let sem = Arc::new(Semaphore::new(cli.concurrency.max(1)));
    let started = std::time::Instant::now();
    let mut tasks = Vec::with_capacity(sc.requests.len());
    for r in sc.requests {
        let permit = sem.clone().acquire_owned().await?;
        let (http, seen) = (http.clone(), seen.clone());
        let url = format!("{base}/v1/chat/completions");
        let auth = secrets[r.key].clone();
        let purpose = sc.keys[r.key].purpose.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            {
                let mut s = seen.lock().await;
                let e = &mut s[r.key];
                e.sent += 1;
                if r.extraction || e.extraction_sent > 0 {
                    e.extraction_sent += 1;
                }
            }
            let resp = http
                .post(url)
                .header("authorization", auth)
                .header("proviso-purpose", purpose)
                .header("proviso-sim-time", r.t.to_string())
                .header("x-forwarded-for", &r.client)
                .header("content-type", "application/json")
                .body(r.body.to_string())
                .send()
                .await;
            let Ok(resp) = resp else { return };
            let status = resp.status().as_u16();
            let notice = resp.headers().contains_key("proviso-notice");
            let code = if status >= 400 {
                resp.json::<Value>().await.ok().and_then(|v| {
                    v.pointer("/error/code")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
            } else {
                let _ = resp.bytes().await;
                None
            };
            let mut s = seen.lock().await;
            let e = &mut s[r.key];
            match status {
                200 => e.ok += 1,
                429 => e.limited += 1,
                _ => {}
            }
            let suspended = matches!(code.as_deref(), Some("key_suspended" | "key_revoked"));
            if suspended {
                e.suspended += 1;
            }
            if e.first_effect.is_none() && (notice || suspended) {
                e.first_effect = Some(if notice { "notice" } else { "suspended" });
                e.detected_after = Some(e.extraction_sent);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed();
    // Let the monitor finish its backlog before reading its verdicts.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let m = http
            .get(format!("{base}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        let val = |name: &str| {
            m.lines().find_map(|l| {
                l.strip_prefix(name)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
        };
        match (
            val("proviso_monitor_queued_total"),
            val("proviso_monitor_processed_total"),
        ) {
            (Some(q), Some(p)) if p >= q => break,
            (None, _) | (_, None) => {
                bail!("the gateway's monitor is off ([monitor] enabled = false)")
            }
            _ if std::time::Instant::now() > deadline => {
                bail!("the monitor did not catch up within 120 s")
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    let report: Value = http
        .get(format!("{base}/admin/monitor"))
        .header("authorization", &admin)
        .send()
        .await?
        .json()
        .await?;
    let actors = report.as_array().cloned().unwrap_or_default();
    let by_id: HashMap<&str, &Value> = actors
        .iter()
        .filter_map(|a| Some((a.get("key_id")?.as_str()?, a)))
        .collect();
    let seen = seen.lock().await.clone();
    let mut rows = Vec::new();
    let (mut ext, mut ext_found, mut ext_500, mut benign, mut benign_flagged) = (0, 0, 0, 0, 0);
    println!(
        "{:<16} {:<18} {:<10} {:>6} {:>6} {:>5} {:>5} {:>9} {:>7} {:<8} {:<8}",
        "key",
        "workload",
        "role",
        "sent",
        "ok",
        "429",
        "403",
        "detected",
        "score",
        "level",
        "enforced"
    );
    for (i, k) in sc.keys.iter().enumerate() {
        let s = &seen[i];
        let a = by_id.get(ids[i].as_str());
        let level = a
            .and_then(|a| a.get("level"))
            .and_then(Value::as_str)
            .unwrap_or("ok");
        let enforced = a
            .and_then(|a| a.get("enforced"))
            .and_then(Value::as_str)
            .unwrap_or("ok");
        let score = a
            .and_then(|a| a.get("score"))
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        match k.role {
            Role::Extraction => {
                ext += 1;
                if s.detected_after.is_some() || enforced != "ok" {
                    ext_found += 1;
                }
                if s.detected_after.is_some_and(|d| d <= 500) {
                    ext_500 += 1;
                }
            }
            Role::Benign => {
                benign += 1;
                if !matches!(enforced, "ok" | "notice") {
                    benign_flagged += 1;
                }
            }
        }
        println!(
            "{:<16} {:<18} {:<10} {:>6} {:>6} {:>5} {:>5} {:>9} {:>7.3} {:<8} {:<8}",
            k.name,
            k.workload,
            format!("{:?}", k.role).to_lowercase(),
            s.sent,
            s.ok,
            s.limited,
            s.suspended,
            s.detected_after.map_or("-".into(), |d| d.to_string()),
            score,
            level,
            enforced
        );
        rows.push(json!({
            "name": k.name, "key_id": ids[i], "team": k.team, "workload": k.workload,
            "role": k.role, "sent": s.sent, "extraction_sent": s.extraction_sent, "ok": s.ok,
            "rate_limited": s.limited, "refused_suspended": s.suspended,
            "detected_after": s.detected_after, "first_effect": s.first_effect,
            "score": score, "level": level, "enforced": enforced,
        }));
    }
    let clusters: Vec<&Value> = actors
        .iter()
        .filter(|a| a.get("kind").and_then(Value::as_str) == Some("cluster"))
        .collect();
    for c in &clusters {
        println!(
            "cluster {} score {} level {} members {}",
            c.get("key_id").and_then(Value::as_str).unwrap_or_default(),
            c.get("score").and_then(Value::as_f64).unwrap_or(0.0),
            c.get("level").and_then(Value::as_str).unwrap_or_default(),
            c.get("members")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        );
    }
    let summary = json!({
        "seed": opt.seed, "days": opt.days, "requests": seen.iter().map(|s| s.sent).sum::<u64>(),
        "wall_seconds": elapsed.as_secs_f64(),
        "extraction_keys": ext, "extraction_detected": ext_found, "extraction_detected_within_500": ext_500,
        "benign_keys": benign, "benign_above_notice": benign_flagged,
    });
    println!("{summary}");
    if let Some(p) = &cli.out {
        let doc =
            json!({"summary": summary, "keys": rows, "clusters": clusters, "monitor": actors});
        std::fs::write(p, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
