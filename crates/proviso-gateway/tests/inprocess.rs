//! The gateway in process: `app(state).oneshot(…)` against the fake
//! upstream served on a free loopback port by this test process, with the
//! in-memory ledger, so each stage's behaviour is checked on every
//! `cargo test`, precisely and fast (the Python suite drives the real
//! binaries end to end).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests opt out: a failed unwrap is a failed test

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use proviso_access::{Change, KeyStore, NewKey, Quotas};
use proviso_gateway::config::{
    DeploymentConfig, GatewayConfig, ModelConfig, UpstreamConfig, UpstreamKind,
};
use proviso_gateway::env::EnvString;
use proviso_ledger::{LedgerHandle, MemoryStore, Outcome, RecordKind, WriterConfig};
use proviso_types::UnixMillis;
use serde_json::{Value, json};
use tower::ServiceExt;

const ADMIN: &str = "admin-token-0123456789abcdef";

struct Harness {
    app: axum::Router,
    store: MemoryStore,
    secret: String,
    key_id: String,
    fake: String,
    _dir: tempfile::TempDir,
}

/// A gateway over the fake upstream, one key (with `quotas`), and the
/// policy given as TOML (`[policy]` section body, may be empty).
async fn harness(quotas: Quotas, policy: &str, edit: impl FnOnce(&mut GatewayConfig)) -> Harness {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let fake = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(proviso_testkit::fake::serve(
        listener,
        proviso_testkit::fake::FakeConfig::default(),
        std::future::pending(),
    ));
    let dir = tempfile::tempdir().unwrap();
    let mut keys = KeyStore::open(&dir.path().join("keys.db")).unwrap();
    let (key, secret) = keys
        .create(
            &NewKey {
                team: "support".into(),
                quotas,
                ..NewKey::default()
            },
            &Change {
                by: "test",
                reason: "test",
                record_id: "01TEST",
                now: UnixMillis::now(),
            },
        )
        .unwrap();
    let store = MemoryStore::default();
    let ledger = LedgerHandle::spawn(Box::new(store.clone()), WriterConfig::default()).unwrap();
    let mut up = UpstreamConfig::default_openai(None);
    up.name = "fake".into();
    up.kind = UpstreamKind::OpenaiCompatible;
    up.base_url = Some(EnvString::literal(format!("{fake}/v1")));
    up.models = vec!["gpt-4o-mini".into()];
    let mut cfg = GatewayConfig {
        upstreams: vec![up],
        policy: if policy.is_empty() {
            proviso_policy::PolicyConfig::default()
        } else {
            toml::from_str(policy).unwrap()
        },
        ..GatewayConfig::default()
    };
    cfg.admin.token = Some(EnvString::literal(ADMIN));
    edit(&mut cfg);
    let state = proviso_gateway::state(cfg, ledger, keys).unwrap();
    proviso_gateway::start_monitor(&state);
    Harness {
        app: proviso_gateway::app(state),
        store,
        secret,
        key_id: key.id.0,
        fake,
        _dir: dir,
    }
}

fn chat(secret: &str, body: Value) -> Request<Body> {
    Request::post("/v1/chat/completions")
        .header("authorization", format!("Bearer {secret}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn hi(text: &str) -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]})
}

async fn body(resp: axum::response::Response) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let (parts, b) = resp.into_parts();
    (
        parts.status,
        parts.headers,
        b.collect().await.unwrap().to_bytes().to_vec(),
    )
}

/// Sends `req` through the gateway; the status, the headers and the body
/// as JSON (`Value::Null` when it is not JSON).
async fn send(h: &Harness, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let (status, headers, b) = body(h.app.clone().oneshot(req).await.unwrap()).await;
    (
        status,
        headers,
        serde_json::from_slice(&b).unwrap_or(Value::Null),
    )
}

async fn fake_seen(fake: &str) -> Vec<Value> {
    let v: Value = reqwest::get(format!("{fake}/_fake/requests"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn an_answer_is_recorded_before_it_is_released_and_tagged_with_its_record() {
    let h = harness(Quotas::default(), "", |_| {}).await;
    let (status, headers, v) = send(&h, chat(&h.secret, hi("ECHO: the river"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["choices"][0]["message"]["content"], "the river");
    let recs = h.store.with_records(|r| r.clone());
    assert_eq!(recs.len(), 1, "committed by the time the answer is out");
    let rec = &recs[0].record;
    assert_eq!(
        headers["x-proviso-record-id"].to_str().unwrap(),
        rec.id.to_string()
    );
    assert_eq!(rec.output, "the river");
    assert_eq!(rec.outcome, Outcome::Ok);
    assert_eq!(rec.key_id.as_ref().unwrap().0, h.key_id);
    assert!(rec.usage.is_some());
}

#[tokio::test]
async fn a_stream_is_opened_on_record_then_closed() {
    let h = harness(Quotas::default(), "", |_| {}).await;
    let mut req = hi("ECHO: one two three");
    req["stream"] = json!(true);
    let (status, _, b) = body(h.app.clone().oneshot(chat(&h.secret, req)).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(b).unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    let recs = h.store.with_records(|r| r.clone());
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].record.kind, RecordKind::Event);
    assert_eq!(recs[0].record.endpoint, "exchange.opened");
    assert_eq!(recs[1].record.output, "one two three");
    let d: Value = serde_json::from_str(recs[1].record.detail.as_deref().unwrap()).unwrap();
    assert_eq!(d["opened"], recs[0].record.id.to_string());
}

#[tokio::test]
async fn a_policy_refusal_is_403_recorded_and_nothing_leaves() {
    let policy = r#"
[[rules]]
name = "no-support"
effect = "deny"
teams = ["support"]
reason = "support may not call models"
"#;
    let h = harness(Quotas::default(), policy, |_| {}).await;
    let before = fake_seen(&h.fake).await.len();
    let (status, _, v) = send(&h, chat(&h.secret, hi("x"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["code"], "policy_denied");
    assert_eq!(fake_seen(&h.fake).await.len(), before);
    let recs = h.store.with_records(|r| r.clone());
    assert_eq!(recs[0].record.outcome, Outcome::Refused);
}

#[tokio::test]
async fn a_rate_limit_refuses_with_retry_after() {
    let q = Quotas {
        requests_per_minute: Some(1),
        ..Quotas::default()
    };
    let h = harness(q, "", |_| {}).await;
    let ok = h
        .app
        .clone()
        .oneshot(chat(&h.secret, hi("a")))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers()["x-ratelimit-limit-requests"], "1");
    let (status, headers, v) = send(&h, chat(&h.secret, hi("b"))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert_eq!(
        v["error"]["type"], "requests",
        "a request limit, not tokens"
    );
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((55..=60).contains(&wait), "{wait}");
}

#[tokio::test]
async fn personal_data_is_masked_upstream_and_restored_for_the_client() {
    let policy = r#"
[[rules]]
name = "mask"
effect = "desensitize"
reason = "customer text"
"#;
    let h = harness(Quotas::default(), policy, |_| {}).await;
    let (status, _, v) = send(&h, chat(&h.secret, hi("ECHO: write to ann@example.com"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "write to ann@example.com"
    );
    let seen = fake_seen(&h.fake).await;
    let sent = seen.last().unwrap()["body"]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(sent, "ECHO: write to <EMAIL_1>");
    let recs = h.store.with_records(|r| r.clone());
    assert!(!format!("{:?}", recs[0].record).contains("ann@example.com"));
}

#[tokio::test]
async fn a_ledger_that_cannot_write_refuses_before_anything_leaves() {
    let h = harness(Quotas::default(), "", |_| {}).await;
    assert_eq!(
        h.app
            .clone()
            .oneshot(chat(&h.secret, hi("a")))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    h.store.set_failure(Some("disk full"));
    // The first failure is found at commit time (the answer is withheld);
    // after it, requests are refused before the upstream is called.
    let r = h
        .app
        .clone()
        .oneshot(chat(&h.secret, hi("b")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let before = fake_seen(&h.fake).await.len();
    let (status, _, v) = send(&h, chat(&h.secret, hi("c"))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(v["error"]["code"], "ledger_unavailable");
    assert_eq!(
        fake_seen(&h.fake).await.len(),
        before,
        "nothing left for the upstream"
    );
}

#[tokio::test]
async fn the_admin_api_suspends_through_the_lifecycle_and_the_key_stops_working() {
    let h = harness(Quotas::default(), "", |_| {}).await;
    let req = Request::post(format!("/admin/keys/{}/suspend", h.key_id))
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("content-type", "application/json")
        .body(Body::from(json!({"reason": "incident 7"}).to_string()))
        .unwrap();
    let (status, _, v) = send(&h, req).await;
    assert_eq!(status, StatusCode::OK, "{}", v);
    assert_eq!(v["state"], "suspended");
    let recs = h.store.with_records(|r| r.clone());
    let ev = &recs.last().unwrap().record;
    assert_eq!(ev.endpoint, "key.suspended");
    assert_eq!(
        v["reason_ref"],
        ev.id.to_string(),
        "the key names its event"
    );
    let (status, _, v) = send(&h, chat(&h.secret, hi("x"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["code"], "key_suspended");
    // Suspending again does not apply to a suspended key.
    let again = Request::post(format!("/admin/keys/{}/suspend", h.key_id))
        .header("authorization", format!("Bearer {ADMIN}"))
        .body(Body::from(json!({"reason": "again"}).to_string()))
        .unwrap();
    assert_eq!(
        h.app.clone().oneshot(again).await.unwrap().status(),
        StatusCode::CONFLICT
    );
}

#[tokio::test]
async fn a_lifecycle_change_that_cannot_be_recorded_is_not_made() {
    let h = harness(Quotas::default(), "", |_| {}).await;
    h.store.set_failure(Some("disk full"));
    let req = Request::post(format!("/admin/keys/{}/revoke", h.key_id))
        .header("authorization", format!("Bearer {ADMIN}"))
        .body(Body::from(json!({"reason": "leaked"}).to_string()))
        .unwrap();
    let (status, _, v) = send(&h, req).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    h.store.set_failure(None);
    let get = Request::get(format!("/admin/keys/{}", h.key_id))
        .header("authorization", format!("Bearer {ADMIN}"))
        .body(Body::empty())
        .unwrap();
    let (_, _, v) = send(&h, get).await;
    assert_eq!(v["state"], "active", "the revocation was undone");
}

#[tokio::test]
async fn the_webhook_url_takes_environment_variables() {
    // PATH is set wherever tests run (setting a variable needs `unsafe`).
    let path = std::env::var("PATH").unwrap();
    let make = |url: &str| {
        let mut cfg = GatewayConfig::default();
        cfg.monitor.webhook_url = Some(url.into());
        let dir = tempfile::tempdir().unwrap();
        let keys = KeyStore::open(&dir.path().join("keys.db")).unwrap();
        let ledger =
            LedgerHandle::spawn(Box::new(MemoryStore::default()), WriterConfig::default()).unwrap();
        proviso_gateway::state(cfg, ledger, keys).map(|s| s.config.monitor.webhook_url.clone())
    };
    assert_eq!(
        make("https://hooks.example/${PATH}/x").unwrap(),
        Some(format!("https://hooks.example/{path}/x"))
    );
    let err = make("https://hooks.example/${PROVISO_NO_SUCH_VAR_7}").unwrap_err();
    assert!(err.to_string().contains("PROVISO_NO_SUCH_VAR_7"), "{err}");
}

#[tokio::test]
async fn a_monthly_budget_is_charged_what_was_used_and_refuses_until_the_month_ends() {
    let quotas = Quotas {
        monthly_tokens: Some(200),
        ..Quotas::default()
    };
    let h = harness(quotas, "", |_| {}).await;
    // Each request reserves its prompt plus `max_tokens` (over 100), but
    // uses a dozen tokens: settled with the upstream's usage, many fit in a
    // budget of 200 that only one would fit in were reservations kept.
    let ask = || {
        let mut b = hi("ECHO: hello");
        b["max_tokens"] = json!(100);
        chat(&h.secret, b)
    };
    let mut admitted = 0;
    let refusal = loop {
        let (status, headers, v) = send(&h, ask()).await;
        if status != StatusCode::OK {
            break (status, headers, v);
        }
        admitted += 1;
        assert!(admitted < 50, "the budget never ran out");
    };
    assert!(
        admitted >= 5,
        "only {admitted} admitted: reservations not settled"
    );
    let (status, headers, v) = refusal;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(v["error"]["code"], "budget_exceeded");
    assert_eq!(v["error"]["type"], "insufficient_quota");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        (1..=31 * 86_400).contains(&retry),
        "renews at the month's end, in seconds: {retry}"
    );
    let last = h.store.with_records(|r| r.last().unwrap().record.clone());
    assert_eq!(last.outcome, Outcome::Refused);
    assert_eq!(last.error_code.as_deref(), Some("budget_exceeded"));
    assert_eq!(
        fake_seen(&h.fake).await.len(),
        admitted,
        "the refused request never left"
    );
}

/// One refusal case: what, credentials, body, status, code.
type Case<'a> = (&'a str, Option<(&'a str, &'a str)>, String, u16, &'a str);

/// A request with `auth` (`None`: no credentials) and a raw body.
fn raw(auth: Option<(&str, &str)>, body: &str) -> Request<Body> {
    let mut r = Request::post("/v1/chat/completions").header("content-type", "application/json");
    if let Some((name, value)) = auth {
        r = r.header(name, value);
    }
    r.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test]
async fn each_early_stage_refuses_what_it_cannot_take_and_the_refusal_is_recorded() {
    let h = harness(Quotas::default(), "", |_| {}).await;
    let bearer = format!("Bearer {}", h.secret);
    let good = hi("ECHO: ok").to_string();
    // (what, credentials, body, status, code)
    let cases: [Case<'_>; 8] = [
        ("no credentials", None, good.clone(), 401, "missing_api_key"),
        (
            "a wrong key",
            Some(("authorization", "Bearer sk-nope")),
            good.clone(),
            401,
            "invalid_api_key",
        ),
        (
            "not JSON",
            Some(("authorization", &bearer)),
            "{not json".into(),
            400,
            "invalid_json",
        ),
        (
            "no messages",
            Some(("authorization", &bearer)),
            json!({"model": "gpt-4o-mini"}).to_string(),
            400,
            "missing_field",
        ),
        (
            "messages not an array",
            Some(("authorization", &bearer)),
            json!({"model": "gpt-4o-mini", "messages": "hi"}).to_string(),
            400,
            "invalid_field",
        ),
        (
            "stream not a boolean",
            Some(("authorization", &bearer)),
            json!({"model": "gpt-4o-mini", "messages": [], "stream": "yes"}).to_string(),
            400,
            "invalid_field",
        ),
        (
            "an unknown model",
            Some(("authorization", &bearer)),
            json!({"model": "gpt-9", "messages": []}).to_string(),
            404,
            "model_not_found",
        ),
        (
            "a model name that is not a string",
            Some(("api-key", &h.secret)),
            json!({"model": 4, "messages": []}).to_string(),
            400,
            "invalid_field",
        ),
    ];
    for (name, auth, body, status, code) in &cases {
        let (got, _, v) = send(&h, raw(*auth, body)).await;
        assert_eq!(got.as_u16(), *status, "{name}: {v}");
        assert_eq!(v["error"]["code"], *code, "{name}");
        let last = h.store.with_records(|r| r.last().unwrap().record.clone());
        assert_eq!(last.error_code.as_deref(), Some(*code), "{name}: recorded");
        assert_eq!(last.outcome, Outcome::Refused, "{name}");
    }
    // `api-key` (Azure's header) authenticates like a bearer token.
    let (status, _, v) = send(&h, raw(Some(("api-key", &h.secret)), &good)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        fake_seen(&h.fake).await.len(),
        1,
        "only the valid request reached the upstream"
    );
}

#[tokio::test]
async fn a_deployment_that_cannot_be_reached_fails_over_to_the_next_and_both_are_recorded() {
    // A port nothing listens on: the connection is refused at once.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/v1", dead.local_addr().unwrap());
    drop(dead);
    let h = harness(Quotas::default(), "", |cfg| {
        let mut down = cfg.upstreams[0].clone();
        down.name = "down".into();
        down.base_url = Some(EnvString::literal(dead_url));
        cfg.upstreams.push(down);
        cfg.models = vec![ModelConfig {
            azure_deployments: Vec::new(),
            name: "gpt-4o-mini".into(),
            deployments: vec![
                DeploymentConfig {
                    upstream: "down".into(),
                    model: None,
                },
                DeploymentConfig {
                    upstream: "fake".into(),
                    model: None,
                },
            ],
        }];
    })
    .await;
    let (status, _, v) = send(&h, chat(&h.secret, hi("ECHO: through"))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["choices"][0]["message"]["content"], "through");
    let rec = h.store.with_records(|r| r.last().unwrap().record.clone());
    assert_eq!(rec.upstream.as_deref(), Some("fake"));
    let detail: Value = serde_json::from_str(rec.detail.as_deref().unwrap()).unwrap();
    let attempts = detail["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{detail}");
    assert_eq!(attempts[0]["upstream"], "down");
    assert_eq!(attempts[1]["upstream"], "fake");
}

#[tokio::test]
async fn an_upstream_error_is_passed_on_in_openais_shape_and_recorded_as_failed() {
    let h = harness(Quotas::default(), "", |_| {}).await;
    let mut b = hi("ECHO: x");
    b["fake_fault"] = json!("status:400");
    let (status, _, v) = send(&h, chat(&h.secret, b)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    let rec = h.store.with_records(|r| r.last().unwrap().record.clone());
    assert_eq!(rec.outcome, Outcome::Failed);
    assert_eq!(rec.upstream.as_deref(), Some("fake"));
    let mut b = hi("ECHO: x");
    b["fake_fault"] = json!("garbage");
    let (status, _, v) = send(&h, chat(&h.secret, b)).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{v}");
    assert_eq!(v["error"]["code"], "upstream_bad_response");
}

#[tokio::test]
async fn every_committed_exchange_is_observed_by_the_monitor_off_the_request_path() {
    let h = harness(Quotas::default(), "", |cfg| cfg.monitor.enabled = true).await;
    for i in 0..3 {
        let (status, _, _) = send(&h, chat(&h.secret, hi(&format!("ECHO: {i}")))).await;
        assert_eq!(status, StatusCode::OK);
    }
    // Every committed record is queued and dealt with; a refused bad body
    // is not an observation (nothing reached a model).
    let (status, _, _) = send(&h, raw(Some(("api-key", &h.secret)), "{")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let metric = |text: &str, name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let r = h
            .app
            .clone()
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let (_, _, b) = body(r).await;
        let text = String::from_utf8(b).unwrap();
        let queued = metric(&text, "proviso_monitor_queued_total ");
        let processed = metric(&text, "proviso_monitor_processed_total ");
        if processed == 4 {
            assert_eq!(queued, 4, "every committed record is queued");
            let observed = metric(&text, "proviso_monitor_observed_total ");
            assert_eq!(observed, 3, "the three served requests are observed");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "monitor processed {processed} of {queued}:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A key table whose look-up by secret waits until the test opens a gate
/// (or 5 s pass): a key store a slow network away.
struct GatedKeys {
    inner: proviso_access::SqliteKeys,
    gate: std::sync::Arc<Gate>,
}

#[derive(Default)]
struct Gate {
    open: std::sync::Mutex<bool>,
    opened: std::sync::Condvar,
    entered: std::sync::atomic::AtomicBool,
    timed_out: std::sync::atomic::AtomicBool,
}

impl proviso_access::KeyTable for GatedKeys {
    fn insert(&mut self, row: &proviso_access::KeyRow) -> Result<(), proviso_access::AccessError> {
        self.inner.insert(row)
    }
    fn replace_if(
        &mut self,
        row: &proviso_access::KeyRow,
        state: &str,
        updated: UnixMillis,
    ) -> Result<bool, proviso_access::AccessError> {
        self.inner.replace_if(row, state, updated)
    }
    fn get(
        &self,
        id: &str,
    ) -> Result<Option<proviso_access::KeyRecord>, proviso_access::AccessError> {
        self.inner.get(id)
    }
    fn by_hash(
        &self,
        h: &str,
    ) -> Result<Option<proviso_access::KeyRecord>, proviso_access::AccessError> {
        use std::sync::atomic::Ordering;
        self.gate.entered.store(true, Ordering::SeqCst);
        let open = self.gate.open.lock().unwrap();
        let (open, wait) = self
            .gate
            .opened
            .wait_timeout_while(open, std::time::Duration::from_secs(5), |o| !*o)
            .unwrap();
        self.gate
            .timed_out
            .store(wait.timed_out(), Ordering::SeqCst);
        drop(open);
        self.inner.by_hash(h)
    }
    fn all_with_hashes(
        &self,
    ) -> Result<Vec<(String, proviso_access::KeyRecord)>, proviso_access::AccessError> {
        self.inner.all_with_hashes()
    }
    fn list(&self) -> Result<Vec<proviso_access::KeyRecord>, proviso_access::AccessError> {
        self.inner.list()
    }
    fn due_for_revocation(
        &self,
        now: UnixMillis,
    ) -> Result<Vec<proviso_access::KeyRecord>, proviso_access::AccessError> {
        self.inner.due_for_revocation(now)
    }
    fn version(&self) -> Result<i64, proviso_access::AccessError> {
        self.inner.version()
    }
    fn begin(&mut self) -> Result<(), proviso_access::AccessError> {
        self.inner.begin()
    }
    fn commit(&mut self) -> Result<(), proviso_access::AccessError> {
        self.inner.commit()
    }
    fn rollback(&mut self) {
        self.inner.rollback();
    }
}

/// A key not in the cache is looked up off the async workers: on a
/// runtime with one thread, other requests are answered while the store
/// is slow to reply (were the look-up on that thread, `/healthz` would
/// wait for the gate's 5 s time-out).
#[tokio::test(flavor = "current_thread")]
async fn a_slow_key_store_does_not_hold_the_async_workers() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let gate = std::sync::Arc::new(Gate::default());
    let table = GatedKeys {
        inner: proviso_access::SqliteKeys::open(&dir.path().join("keys.db")).unwrap(),
        gate: std::sync::Arc::clone(&gate),
    };
    let keys = KeyStore::with_table(Box::new(table));
    let ledger =
        LedgerHandle::spawn(Box::new(MemoryStore::default()), WriterConfig::default()).unwrap();
    let state = proviso_gateway::state(GatewayConfig::default(), ledger, keys).unwrap();
    let app = proviso_gateway::app(state);
    let unknown = tokio::spawn(
        app.clone()
            .oneshot(chat("pvk-not-a-key-anywhere", hi("hello"))),
    );
    let t0 = std::time::Instant::now();
    while !gate.entered.load(Ordering::SeqCst) {
        assert!(
            t0.elapsed().as_secs() < 30,
            "the look-up never reached the store"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let health = app
        .clone()
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    *gate.open.lock().unwrap() = true;
    gate.opened.notify_all();
    let resp = unknown.await.unwrap().unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        !gate.timed_out.load(Ordering::SeqCst),
        "the look-up held the only worker: /healthz waited for it"
    );
}
