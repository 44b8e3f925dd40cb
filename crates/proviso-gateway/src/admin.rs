//! The admin API under `/admin/`: keys and applications, policy, usage.
//! Authenticated by the admin token (`[admin] token`), which is never a
//! client key; JSON in and out; described in `docs/openapi.yaml`. It does
//! what `proviso keys` and `proviso policy` do, and records the same
//! ledger events (through the gateway's own ledger writer).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use proviso_access::{
    AccessError, Application, Approval, Change, KeyEvent, KeyRecord, KeyStore, NewKey, Quotas,
};
use proviso_types::{KeyId, RecordId, UnixMillis};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

pub use crate::config::AdminConfig;

/// The admin routes (mounted under `/admin`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/keys", get(list_keys).post(create_key))
        .route("/keys/{id}", get(get_key))
        .route("/keys/{id}/approve", post(approve))
        .route("/keys/{id}/deny", post(deny))
        .route("/keys/{id}/suspend", post(suspend))
        .route("/keys/{id}/reinstate", post(reinstate))
        .route("/keys/{id}/revoke", post(revoke))
        .route("/applications", get(list_applications).post(apply))
        .route("/policy", get(policy))
        .route("/policy/check", post(policy_check))
        .route("/policy/lint", get(policy_lint))
        .route("/usage", get(usage))
        .route("/monitor", get(monitor))
        .route("/monitor/keys/{id}/clear", post(monitor_clear))
        .route("/clock", get(clock).post(set_clock))
}

fn err(status: StatusCode, code: ErrorCode, msg: String) -> ApiError {
    ApiError::admin(status, code, msg)
}

fn access_err(e: AccessError) -> ApiError {
    match e {
        AccessError::UnknownKey(id) => err(
            StatusCode::NOT_FOUND,
            ErrorCode::KeyNotFound,
            format!("no key with id {id}"),
        ),
        AccessError::BadTransition { .. } => err(
            StatusCode::CONFLICT,
            ErrorCode::InvalidTransition,
            e.to_string(),
        ),
        AccessError::Invalid(m) => err(StatusCode::BAD_REQUEST, ErrorCode::InvalidField, m),
        AccessError::Conflict(_) => err(StatusCode::CONFLICT, ErrorCode::KeyChanged, e.to_string()),
        AccessError::NotRecorded(why) => ApiError::ledger_unavailable(&why),
        other => ApiError::internal(other),
    }
}

/// Checks the admin token in constant time; returns who acts.
fn admin(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(want) = state
        .config
        .admin
        .token
        .as_ref()
        .map(|t| t.as_str())
        .filter(|t| !t.is_empty())
    else {
        return Err(err(
            StatusCode::NOT_FOUND,
            ErrorCode::AdminDisabled,
            "The admin API is off: set [admin] token.".into(),
        ));
    };
    let got = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let (a, b) = (
        Sha256::digest(got.as_bytes()),
        Sha256::digest(want.as_bytes()),
    );
    let same = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0;
    if !same {
        return Err(err(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidAdminToken,
            "Missing or wrong admin token.".into(),
        ));
    }
    Ok(headers
        .get("proviso-actor")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
        .unwrap_or("admin-api")
        .to_owned())
}

fn body<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    let raw = if raw.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        raw
    };
    serde_json::from_slice(raw).map_err(|e| {
        err(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidJson,
            format!("The request body is not valid: {e}"),
        )
    })
}

/// Runs one lifecycle change against the key store and records it, on the
/// blocking pool (the store and the ledger's commit are waited for), through
/// the one lifecycle path ([`crate::lifecycle::change_key`]).
async fn change(
    state: &AppState,
    by: &str,
    event: KeyEvent,
    reason: &str,
    f: impl FnOnce(&mut KeyStore, &Change<'_>) -> Result<(KeyRecord, Option<String>), AccessError>
    + Send
    + 'static,
) -> Result<(KeyRecord, Option<String>), ApiError> {
    let st = state.clone();
    let (by, reason) = (by.to_owned(), reason.to_owned());
    let now = state.clock.now();
    let done = tokio::task::spawn_blocking(move || {
        st.keys.with_store(|s| {
            crate::lifecycle::change_key(
                s,
                crate::lifecycle::to_ledger(&st.ledger),
                event,
                &crate::lifecycle::Actor {
                    by: &by,
                    reason: &reason,
                    now,
                },
                |t: &(KeyRecord, Option<String>)| Some(&t.0),
                f,
            )
        })
    })
    .await
    .map_err(ApiError::internal)?;
    let (key, secret) = done.map_err(access_err)?;
    let _ = state.keys.refresh();
    Ok((key, secret))
}

fn key_json(k: &KeyRecord, now: UnixMillis) -> Value {
    let mut v = serde_json::to_value(k).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("effective_state".into(), json!(k.effective_state(now)));
    }
    v
}

fn with_secret(k: &KeyRecord, secret: Option<String>, now: UnixMillis) -> Response {
    let mut v = key_json(k, now);
    if let (Some(o), Some(s)) = (v.as_object_mut(), secret) {
        o.insert("secret".into(), json!(s));
    }
    (StatusCode::OK, Json(v)).into_response()
}

type R = Result<Response, ApiError>;

async fn list_keys(State(s): State<AppState>, h: HeaderMap) -> R {
    admin(&s, &h)?;
    let keys = s.keys.with_store(|st| st.list()).map_err(access_err)?;
    let now = s.clock.now();
    Ok(Json(keys.iter().map(|k| key_json(k, now)).collect::<Vec<_>>()).into_response())
}

async fn get_key(State(s): State<AppState>, h: HeaderMap, Path(id): Path<String>) -> R {
    admin(&s, &h)?;
    let k = s
        .keys
        .with_store(|st| st.get(&KeyId(id.clone())))
        .map_err(access_err)?;
    let k = k.ok_or_else(|| access_err(AccessError::UnknownKey(id)))?;
    Ok(Json(key_json(&k, s.clock.now())).into_response())
}

async fn list_applications(State(s): State<AppState>, h: HeaderMap) -> R {
    admin(&s, &h)?;
    let keys = s.keys.with_store(|st| st.list()).map_err(access_err)?;
    let pending: Vec<Value> = keys
        .iter()
        .filter(|k| k.state == proviso_access::KeyState::Pending)
        .map(|k| key_json(k, s.clock.now()))
        .collect();
    Ok(Json(pending).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    team: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    purposes: Vec<String>,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    default_purpose: Option<String>,
    #[serde(default)]
    quotas: Quotas,
    #[serde(default)]
    expires: Option<String>,
}

fn when(s: Option<&str>) -> Result<Option<UnixMillis>, ApiError> {
    s.map(|s| {
        UnixMillis::parse(s).map_err(|e| err(StatusCode::BAD_REQUEST, ErrorCode::InvalidField, e))
    })
    .transpose()
}

async fn create_key(State(s): State<AppState>, h: HeaderMap, raw: axum::body::Bytes) -> R {
    let by = admin(&s, &h)?;
    let b: CreateBody = body(&raw)?;
    let new = NewKey {
        team: b.team,
        name: b.name,
        purposes: b.purposes,
        models: b.models,
        default_purpose: b.default_purpose,
        quotas: b.quotas,
        expires: when(b.expires.as_deref())?,
    };
    let (k, secret) = change(
        &s,
        &by,
        KeyEvent::Created,
        "issued by administrator",
        move |st, c| st.create(&new, c).map(|(k, s)| (k, Some(s))),
    )
    .await?;
    Ok(with_secret(&k, secret, s.clock.now()))
}

async fn apply(State(s): State<AppState>, h: HeaderMap, raw: axum::body::Bytes) -> R {
    let by = admin(&s, &h)?;
    let app: Application = body(&raw)?;
    let reason = app.justification.clone();
    let (k, _) = change(&s, &by, KeyEvent::Applied, &reason, move |st, c| {
        st.apply(&app, c).map(|k| (k, None))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(key_json(&k, s.clock.now()))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    #[serde(flatten)]
    approval: Approval,
    #[serde(default)]
    reason: Option<String>,
}

async fn approve(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> R {
    let by = admin(&s, &h)?;
    let b: ApproveBody = body(&raw)?;
    let reason = b.reason.unwrap_or_else(|| "approved".into());
    let (k, secret) = change(&s, &by, KeyEvent::Approved, &reason, move |st, c| {
        st.approve(&KeyId(id), &b.approval, c)
            .map(|(k, s)| (k, Some(s)))
    })
    .await?;
    Ok(with_secret(&k, secret, s.clock.now()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    notice_seconds: Option<u64>,
}

fn reason(b: &ReasonBody, required: bool, default: &str) -> Result<String, ApiError> {
    match (&b.reason, required) {
        (Some(r), _) if !r.trim().is_empty() => Ok(r.clone()),
        (_, true) => Err(ApiError::missing_field("reason")),
        _ => Ok(default.into()),
    }
}

/// What a state change needs from its request body.
struct Transition {
    event: KeyEvent,
    /// `None`: a reason is required.
    default_reason: Option<&'static str>,
    apply:
        fn(&mut KeyStore, &KeyId, Option<Duration>, &Change<'_>) -> Result<KeyRecord, AccessError>,
}

/// deny, suspend, reinstate and revoke: read the reason (and notice),
/// change the key, record the event, answer the key.
async fn transition(
    s: AppState,
    h: HeaderMap,
    id: String,
    raw: axum::body::Bytes,
    t: Transition,
) -> R {
    let by = admin(&s, &h)?;
    let b: ReasonBody = body(&raw)?;
    let r = reason(
        &b,
        t.default_reason.is_none(),
        t.default_reason.unwrap_or_default(),
    )?;
    let notice = b.notice_seconds.map(Duration::from_secs);
    let apply = t.apply;
    let (k, _) = change(&s, &by, t.event, &r, move |st, c| {
        apply(st, &KeyId(id), notice, c).map(|k| (k, None))
    })
    .await?;
    Ok(Json(key_json(&k, s.clock.now())).into_response())
}

async fn deny(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> R {
    let apply = |st: &mut KeyStore, id: &KeyId, _: Option<Duration>, c: &Change<'_>| st.deny(id, c);
    transition(
        s,
        h,
        id,
        raw,
        Transition {
            event: KeyEvent::Denied,
            default_reason: None,
            apply,
        },
    )
    .await
}

async fn suspend(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> R {
    let apply =
        |st: &mut KeyStore, id: &KeyId, n: Option<Duration>, c: &Change<'_>| st.suspend(id, n, c);
    transition(
        s,
        h,
        id,
        raw,
        Transition {
            event: KeyEvent::Suspended,
            default_reason: None,
            apply,
        },
    )
    .await
}

async fn reinstate(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> R {
    let apply =
        |st: &mut KeyStore, id: &KeyId, _: Option<Duration>, c: &Change<'_>| st.reinstate(id, c);
    let default_reason = Some("reinstated after review");
    transition(
        s,
        h,
        id,
        raw,
        Transition {
            event: KeyEvent::Reinstated,
            default_reason,
            apply,
        },
    )
    .await
}

async fn revoke(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> R {
    let apply =
        |st: &mut KeyStore, id: &KeyId, _: Option<Duration>, c: &Change<'_>| st.revoke(id, c);
    let default_reason = Some("revoked by administrator");
    transition(
        s,
        h,
        id,
        raw,
        Transition {
            event: KeyEvent::Revoked,
            default_reason,
            apply,
        },
    )
    .await
}

async fn policy(State(s): State<AppState>, h: HeaderMap) -> R {
    admin(&s, &h)?;
    Ok(Json(json!({"purposes": s.policy.purposes(), "rules": s.policy.rules()})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    key: String,
    #[serde(default)]
    purpose: Option<String>,
    model: String,
}

async fn policy_check(State(s): State<AppState>, h: HeaderMap, raw: axum::body::Bytes) -> R {
    admin(&s, &h)?;
    let b: CheckBody = body(&raw)?;
    let key = s
        .keys
        .with_store(|st| st.get(&KeyId(b.key.clone())))
        .map_err(access_err)?;
    let key = key.ok_or_else(|| access_err(AccessError::UnknownKey(b.key.clone())))?;
    let deps = s.upstreams.resolve(&b.model);
    if deps.is_empty() {
        return Err(ApiError::model_not_found(&b.model));
    }
    let ev = s.policy.evaluate_explained(
        &crate::caller::ask(&key, b.purpose.as_deref(), &b.model),
        deps,
    );
    let state = key.effective_state(s.clock.now());
    let per: Vec<Value> = ev
        .decisions
        .iter()
        .map(|(d, dec)| json!({"upstream": d.upstream.name, "upstream_model": d.model, "decision": dec}))
        .collect();
    Ok(Json(json!({
        "allowed": ev.allowed() && state.is_usable(),
        "key": key.id, "key_state": state, "team": key.team, "purpose": ev.purpose,
        "model": b.model, "key_scope_error": ev.scope_error, "deployments": per,
    }))
    .into_response())
}

async fn policy_lint(State(s): State<AppState>, h: HeaderMap) -> R {
    admin(&s, &h)?;
    let teams = s.keys.with_store(|st| st.list()).map_err(access_err)?;
    let mut teams: Vec<String> = teams.into_iter().map(|k| k.team).collect();
    teams.sort();
    teams.dedup();
    let known = proviso_policy::Known {
        upstreams: s.config.upstreams.iter().map(|u| u.name.clone()).collect(),
        models: s.upstreams.model_names().to_vec(),
        teams,
    };
    Ok(Json(proviso_policy::lint(&s.policy, &known)).into_response())
}

async fn usage(State(s): State<AppState>, h: HeaderMap) -> R {
    admin(&s, &h)?;
    let Some(open) = s.config.ledger_reader.clone() else {
        return Ok(Json(json!([])).into_response());
    };
    // Reading the ledger blocks (a file, or PostgreSQL's own client).
    let by_key = tokio::task::spawn_blocking(move || (open.0)()?.usage_by_key())
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let keys = s.keys.with_store(|st| st.list()).map_err(access_err)?;
    let rows: Vec<Value> = keys
        .iter()
        .map(|k| {
            let (n, t, last) = by_key.get(&k.id.0).copied().unwrap_or((0, 0, UnixMillis(0)));
            json!({"key_id": k.id, "team": k.team, "requests": n, "tokens": t, "last": (n > 0).then(|| last.to_rfc3339())})
        })
        .collect();
    Ok(Json(rows).into_response())
}

fn monitor_off() -> ApiError {
    err(
        StatusCode::NOT_FOUND,
        ErrorCode::MonitorDisabled,
        "The monitor is off: [monitor] enabled = false.".into(),
    )
}

/// `GET /admin/monitor`: keys and clusters by risk, each signal's value and
/// contribution, the level, what the ladder enforced, and evidence.
async fn monitor(State(s): State<AppState>, h: HeaderMap) -> R {
    admin(&s, &h)?;
    let m = s.monitor.as_ref().ok_or_else(monitor_off)?;
    if let Some(src) = s.config.monitor_report.clone() {
        // Another replica runs the deployment's monitor: its report.
        let published = tokio::task::spawn_blocking(move || (src.0)())
            .await
            .map_err(ApiError::internal)?;
        match published {
            Some(Ok(json)) => {
                return Ok((
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    json,
                )
                    .into_response());
            }
            Some(Err(e)) => {
                return Err(ApiError::internal(format!(
                    "the deployment's monitor report cannot be read: {e}"
                )));
            }
            None => {}
        }
    }
    Ok(Json(m.report()).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClearBody {
    reason: String,
}

/// `POST /admin/monitor/keys/{id}/clear`: an administrator closes a review:
/// the notice and throttle are lifted and the key is watched afresh.
async fn monitor_clear(
    State(s): State<AppState>,
    h: HeaderMap,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> R {
    let by = admin(&s, &h)?;
    let m = s.monitor.as_ref().ok_or_else(monitor_off)?;
    let b: ClearBody = body(&raw)?;
    let key = s
        .keys
        .with_store(|st| st.get(&KeyId(id.clone())))
        .map_err(access_err)?
        .ok_or_else(|| access_err(AccessError::UnknownKey(id.clone())))?;
    let now = s.clock.now();
    let rec = proviso_ledger::Record::event(
        RecordId::new_at(now),
        "monitor.cleared",
        Some(key.id.clone()),
        Some(key.team.clone()),
        json!({"by": by, "reason": b.reason}).to_string(),
    );
    match s.ledger.append(rec).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(ApiError::ledger_unavailable(&e.to_string())),
        Err(_) => return Err(ApiError::ledger_unavailable("the ledger writer stopped")),
    }
    m.clear(&key.id.0, &s.quotas);
    Ok(Json(json!({"key_id": key.id, "cleared": true})).into_response())
}

/// `GET /admin/clock`: the gateway's time.
async fn clock(State(s): State<AppState>, h: HeaderMap) -> R {
    admin(&s, &h)?;
    let now = s.clock.now();
    Ok(
        Json(
            json!({"now_ms": now.0, "now": now.to_rfc3339(), "simulated": s.clock.is_simulated()}),
        )
        .into_response(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    now_ms: i64,
}

/// `POST /admin/clock`: sets a simulated clock (also backwards, to test
/// clock jumps); refused on the system clock.
async fn set_clock(State(s): State<AppState>, h: HeaderMap, raw: axum::body::Bytes) -> R {
    admin(&s, &h)?;
    let b: ClockBody = body(&raw)?;
    if !s.clock.set(UnixMillis(b.now_ms)) {
        return Err(err(
            StatusCode::CONFLICT,
            ErrorCode::ClockNotSimulated,
            "The gateway runs on the system clock ([server] clock = \"system\").".into(),
        ));
    }
    clock(State(s), h).await
}
