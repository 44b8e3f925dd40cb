//! Formats frozen by golden files: a ledger written by encoding v1
//! (`tests/compat/ledger-v1.db`, with its head hash and Merkle root beside
//! it in `ledger-v1.json`) must verify, record for record, with today's
//! code. A change to the record encoding or the chain that would break
//! `verify` for every existing ledger fails here, while every test that
//! writes and reads with the same code still passes.
//!
//! The files were written by `write_golden_ledger` below (run it with
//! `cargo test -p proviso-ledger --test compat -- --ignored` only when a
//! new format version is introduced, beside the old files, never over
//! them).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests opt out: a failed unwrap is a failed test

use std::path::PathBuf;

use proviso_ledger::{
    LedgerReader, LedgerStore, Outcome, Record, RecordKind, SqliteConfig, SqliteStore, verify,
};
use proviso_types::{KeyId, RecordId, UnixMillis, Usage};

fn compat() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/compat"))
}

/// The records of the golden ledger: every kind, outcome and optional
/// field, with fixed ids and times so the file is reproducible.
fn golden_records() -> Vec<Record> {
    let id = |n: u64| -> RecordId { format!("01KA0000000000000000000{n:03}").parse().unwrap() };
    let t = |n: i64| UnixMillis(1_780_000_000_000 + n);
    let mut ok = Record::test("Rivers carry water from the hills to the sea.");
    ok.id = id(1);
    ok.time = t(1);
    ok.key_id = Some(KeyId("key_golden0000000001".into()));
    ok.team = Some("research".into());
    ok.model = Some("gpt-4o-mini".into());
    ok.upstream = Some("openai".into());
    ok.upstream_model = Some("gpt-4o-mini-2024-07-18".into());
    ok.request =
        r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Rivers? <EMAIL_1>"}]}"#
            .into();
    ok.response = Some(r#"{"choices":[{"message":{"content":"Rivers carry water"}}]}"#.into());
    ok.finish_reason = Some("stop".into());
    ok.usage = Some(Usage {
        prompt_tokens: 12,
        completion_tokens: 9,
        total_tokens: 21,
    });
    ok.latency_ms = 321;
    ok.ttfb_ms = Some(120);
    ok.detail = Some(r#"{"purpose":"research","desensitized":{"replaced":1}}"#.into());
    let mut refused = Record::test("");
    refused.id = id(2);
    refused.time = t(2);
    refused.status = 429;
    refused.outcome = Outcome::Refused;
    refused.error_code = Some("rate_limit_exceeded".into());
    refused.error = Some("Rate limit reached (key key_golden: 10 requests per minute).".into());
    let mut partial = Record::test("Once upon a ti");
    partial.id = id(3);
    partial.time = t(3);
    partial.stream = true;
    partial.outcome = Outcome::Partial;
    partial.error_code = Some("client_disconnected".into());
    let event = Record::event(
        id(4),
        "key.created",
        Some(KeyId("key_golden0000000001".into())),
        Some("research".into()),
        r#"{"by":"admin","purposes":["research"]}"#.into(),
    );
    let mut withheld = Record::test("withheld answer");
    withheld.id = id(5);
    withheld.time = t(5);
    withheld.status = 503;
    withheld.outcome = Outcome::Withheld;
    withheld.error_code = Some("ledger_unavailable".into());
    let mut unicode = Record::test("答案：河流把水从山上带到海里。🌊 \u{0} \"quoted\"\n");
    unicode.id = id(6);
    unicode.time = t(6);
    unicode.outcome = Outcome::Failed;
    unicode.status = 502;
    unicode.error_code = Some("upstream_error".into());
    let mut out = vec![ok, refused, partial, event, withheld, unicode];
    for (i, r) in out.iter_mut().enumerate() {
        if r.kind == RecordKind::Exchange && r.key_id.is_none() {
            r.team = Some(format!("team{i}"));
        }
    }
    out
}

#[test]
#[ignore = "writes golden files"]
fn write_golden_ledger() {
    let path = compat().join("ledger-v1.db");
    assert!(!path.exists(), "never overwrite a golden file");
    let mut store = SqliteStore::open(
        &path,
        SqliteConfig {
            checkpoint_every: 4,
            ..SqliteConfig::default()
        },
    )
    .unwrap();
    store.append(&golden_records()).unwrap();
    store.maintain().unwrap();
    let st = store.tree_state().unwrap();
    let meta = serde_json::json!({
        "encoding": String::from_utf8_lossy(proviso_ledger::ENCODING_V1),
        "records": st.size(),
        "head_hash": hex::encode(st.last_hash),
        "root": hex::encode(st.frontier.root()),
    });
    drop(store);
    let _ = std::fs::remove_file(compat().join("ledger-v1.db-wal"));
    let _ = std::fs::remove_file(compat().join("ledger-v1.db-shm"));
    std::fs::write(
        compat().join("ledger-v1.json"),
        serde_json::to_string_pretty(&meta).unwrap() + "\n",
    )
    .unwrap();
}

#[test]
fn a_v1_ledger_verifies_with_todays_code() {
    // Opened from a copy: opening writes (WAL files, schema checks).
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    std::fs::copy(compat().join("ledger-v1.db"), &db).unwrap();
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(compat().join("ledger-v1.json")).unwrap())
            .unwrap();
    let store = SqliteStore::open_existing(&db, SqliteConfig::default()).unwrap();
    let report = verify(&store).unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.records, meta["records"].as_u64().unwrap());
    assert_eq!(report.root, meta["root"].as_str().unwrap(), "Merkle root");
    let st = store.tree_state().unwrap();
    assert_eq!(
        hex::encode(st.last_hash),
        meta["head_hash"].as_str().unwrap()
    );
    // Decoded, the records are the ones written.
    let mut got = Vec::new();
    store
        .scan(0, &mut |c| {
            got.push(c.record);
            true
        })
        .unwrap();
    assert_eq!(got, golden_records());
}
