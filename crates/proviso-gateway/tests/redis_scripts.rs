//! The quota service's Redis scripts against a real `redis-server`, started
//! by the test on a free loopback port (never the machine's own Redis):
//! budgets keep their month, a refusal's `retry_after` is in the right
//! unit, and a refund after the month's key expired does not bring it back.
//!
//! Needs `redis-server` on the PATH (`.ci/run` installs it). Outside CI the
//! tests skip with a message when it is missing; under `CI=true` they fail.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests opt out: a failed unwrap is a failed test

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proviso_access::{KeyRecord, KeyState, Quotas};
use proviso_gateway::quota::{Backend, QuotaConfig, QuotaError, QuotaService};
use proviso_types::{KeyId, UnixMillis};
use serde_json::{Map, Value, json};

struct Redis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a private `redis-server`, or returns `None` (skip) when there is
/// none outside CI.
fn start_redis() -> Option<Redis> {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "redis-server is not installed (CI must install it)"
        );
        eprintln!("skipping: redis-server is not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            dir.path().to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let r = Redis {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(mut c) = redis_conn(port)
            && redis::cmd("PING").query::<String>(&mut c).is_ok()
        {
            return Some(r);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("redis-server on port {port} did not answer");
}

fn redis_conn(port: u16) -> redis::RedisResult<redis::Connection> {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))?.get_connection()
}

fn key(quotas: Quotas) -> KeyRecord {
    KeyRecord {
        id: KeyId("key_redis_test".into()),
        team: "research".into(),
        name: None,
        state: KeyState::Active,
        contact: None,
        justification: None,
        purposes: Vec::new(),
        models: Vec::new(),
        default_purpose: None,
        quotas,
        expires: None,
        revoke_at: None,
        created: UnixMillis(0),
        updated: UnixMillis(0),
        reason: None,
        updated_by: None,
        reason_ref: None,
    }
}

fn body(max_tokens: u64) -> Map<String, Value> {
    let v = json!({"model": "gpt-4o-mini", "max_tokens": max_tokens,
                   "messages": [{"role": "user", "content": "hello there"}]});
    v.as_object().unwrap().clone()
}

fn service(port: u16, prefix: &str) -> Arc<QuotaService> {
    QuotaService::new(QuotaConfig {
        backend: Backend::Redis,
        redis_url: proviso_gateway::env::EnvString::literal(format!("redis://127.0.0.1:{port}/")),
        key_prefix: prefix.into(),
        redis_timeout_ms: 2_000,
        ..QuotaConfig::default()
    })
    .unwrap()
}

fn budget_key(prefix: &str, k: &KeyRecord) -> String {
    let (month, _) = UnixMillis::now().month();
    format!("{prefix}:budget:key:{}:tok:{month}", k.id.0)
}

const DAY_MS: i64 = 86_400_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monthly_budget_key_lives_to_the_end_of_its_month_and_a_day() {
    let Some(r) = start_redis() else { return };
    let k = key(Quotas {
        monthly_tokens: Some(1_000_000),
        ..Quotas::default()
    });
    let q = service(r.port, "t1");
    let res = q
        .reserve(q.plan(&k, "gpt-4o-mini", "/v1/chat/completions", &body(10)))
        .await
        .unwrap_or_else(|_| panic!("reserve refused"));
    res.settle(None);
    let (_, to_month_end) = UnixMillis::now().month();
    let pttl: i64 = redis::cmd("PTTL")
        .arg(budget_key("t1", &k))
        .query(&mut redis_conn(r.port).unwrap())
        .unwrap();
    // The key must outlive its month (plus a day's slack for late
    // settlements), not expire a day after the last charge.
    assert!(
        pttl > to_month_end + DAY_MS - 60_000 && pttl <= to_month_end + DAY_MS + 60_000,
        "budget key expires in {pttl} ms; the month ends in {to_month_end} ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_says_to_retry_at_the_end_of_the_month() {
    let Some(r) = start_redis() else { return };
    let k = key(Quotas {
        monthly_tokens: Some(40),
        ..Quotas::default()
    });
    let q = service(r.port, "t2");
    let first = q
        .reserve(q.plan(&k, "gpt-4o-mini", "/v1/chat/completions", &body(20)))
        .await
        .unwrap_or_else(|_| panic!("first reserve refused"));
    first.settle(None);
    let second = q
        .reserve(q.plan(&k, "gpt-4o-mini", "/v1/chat/completions", &body(20)))
        .await;
    let Err(QuotaError::Refused(refusal)) = second else {
        panic!("the spent budget admitted a second request")
    };
    assert!(refusal.budget, "{refusal:?}");
    let (_, to_month_end) = UnixMillis::now().month();
    let to_month_end = u64::try_from(to_month_end).unwrap();
    assert!(
        refusal.retry_after_ms.abs_diff(to_month_end) < 60_000,
        "retry after {} ms; the month ends in {to_month_end} ms",
        refusal.retry_after_ms
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_refusal_says_to_retry_within_the_minute() {
    let Some(r) = start_redis() else { return };
    let k = key(Quotas {
        requests_per_minute: Some(1),
        ..Quotas::default()
    });
    let q = service(r.port, "t3");
    let first = q
        .reserve(q.plan(&k, "gpt-4o-mini", "/v1/chat/completions", &body(5)))
        .await
        .unwrap_or_else(|_| panic!("first reserve refused"));
    first.settle(None);
    let Err(QuotaError::Refused(refusal)) = q
        .reserve(q.plan(&k, "gpt-4o-mini", "/v1/chat/completions", &body(5)))
        .await
    else {
        panic!("1 request per minute admitted two")
    };
    assert!(!refusal.budget);
    assert!(
        (55_000..=60_000).contains(&refusal.retry_after_ms),
        "retry after {} ms for 1 request per minute",
        refusal.retry_after_ms
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settling_refunds_and_a_refund_after_expiry_makes_no_key() {
    let Some(r) = start_redis() else { return };
    let k = key(Quotas {
        monthly_tokens: Some(1_000_000),
        ..Quotas::default()
    });
    let q = service(r.port, "t4");
    let mut conn = redis_conn(r.port).unwrap();
    let bkey = budget_key("t4", &k);
    let get = |c: &mut redis::Connection| -> Option<i64> {
        redis::cmd("GET").arg(&bkey).query(c).unwrap()
    };
    let wait_for = |c: &mut redis::Connection, want: Option<i64>| {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let v = get(c);
            if v == want || Instant::now() > deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    // A refund: the reservation was prompt + 100 allowance, 3 tokens used.
    let res = q
        .reserve(q.plan(&k, "gpt-4o-mini", "/v1/chat/completions", &body(100)))
        .await
        .unwrap_or_else(|_| panic!("reserve refused"));
    let reserved = get(&mut conn).unwrap();
    assert!(reserved > 100, "reserved {reserved}");
    res.settle(Some(3));
    assert_eq!(wait_for(&mut conn, Some(3)), Some(3), "settled to 3 tokens");
    let ttl: i64 = redis::cmd("PTTL").arg(&bkey).query(&mut conn).unwrap();
    assert!(ttl > DAY_MS, "the refund kept the key's expiry ({ttl} ms)");

    // The month's key expires before a late settlement arrives. A token
    // rate limit settled by the same script shows when the script has run.
    let k = key(Quotas {
        monthly_tokens: Some(1_000_000),
        tokens_per_minute: Some(1_000_000),
        ..Quotas::default()
    });
    let rkey = "t4:rate:key:key_redis_test:tok:60";
    let tat = |c: &mut redis::Connection| -> Option<String> {
        redis::cmd("GET").arg(rkey).query(c).unwrap()
    };
    let res = q
        .reserve(q.plan(&k, "gpt-4o-mini", "/v1/chat/completions", &body(100)))
        .await
        .unwrap_or_else(|_| panic!("reserve refused"));
    let before = tat(&mut conn).expect("the rate key was charged");
    let _: i64 = redis::cmd("DEL").arg(&bkey).query(&mut conn).unwrap();
    res.settle(Some(1));
    let deadline = Instant::now() + Duration::from_secs(5);
    while tat(&mut conn).as_ref() == Some(&before) {
        assert!(Instant::now() < deadline, "the settlement never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        get(&mut conn),
        None,
        "a late refund recreated the budget key"
    );
}
