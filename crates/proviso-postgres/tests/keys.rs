//! The key store on PostgreSQL: the same lifecycle as on SQLite, seen by
//! every replica, guarded against concurrent writers, and announced.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests opt out: a failed unwrap is a failed test

use std::time::{Duration, Instant};

use proviso_access::{
    AccessError, Application, Approval, Change, KeyRow, KeyState, KeyStore, KeyTable, NewKey,
};
use proviso_postgres::{PgConfig, PgKeys, TestDatabase};
use proviso_types::UnixMillis;

fn ch(reason: &str) -> Change<'_> {
    Change {
        by: "admin",
        reason,
        record_id: "01TEST",
        now: UnixMillis::now(),
    }
}

fn store(db: &TestDatabase) -> KeyStore {
    KeyStore::with_table(Box::new(PgKeys::open(PgConfig::new(db.url())).unwrap()))
}

/// An active key of team `ml`.
fn new_key(s: &mut KeyStore) -> (proviso_access::KeyRecord, String) {
    let new = NewKey {
        team: "ml".into(),
        ..NewKey::default()
    };
    s.create(&new, &ch("new")).unwrap()
}

#[test]
fn the_lifecycle_holds_and_every_replica_sees_it() {
    let db = TestDatabase::create().unwrap();
    let (mut a, b) = (store(&db), store(&db));
    let (key, secret) = a
        .create(
            &NewKey {
                team: "ml".into(),
                purposes: vec!["evaluation".into()],
                ..NewKey::default()
            },
            &ch("new"),
        )
        .unwrap();
    let seen = b.authenticate(&secret).unwrap().unwrap();
    assert_eq!(seen, key, "replica b reads what a wrote, field for field");
    assert_eq!(seen.purposes, vec!["evaluation"]);

    // An application narrowed at approval.
    let app = a
        .apply(
            &Application {
                team: "research".into(),
                contact: "r@example.com".into(),
                justification: "benchmarks".into(),
                purposes: vec!["evaluation".into(), "research".into()],
                models: vec!["gpt-4o".into(), "gpt-4o-mini".into()],
                ..Application::default()
            },
            &ch("asked"),
        )
        .unwrap();
    assert_eq!(b.get(&app.id).unwrap().unwrap().state, KeyState::Pending);
    let narrowed = Approval {
        purposes: Some(vec!["evaluation".into()]),
        ..Approval::default()
    };
    let too_wide = Approval {
        models: Some(vec!["o3".into()]),
        ..Approval::default()
    };
    assert!(a.approve(&app.id, &too_wide, &ch("no")).is_err());
    let (approved, s2) = a.approve(&app.id, &narrowed, &ch("ok")).unwrap();
    assert_eq!(approved.purposes, vec!["evaluation"]);
    assert_eq!(
        b.authenticate(&s2).unwrap().unwrap().state,
        KeyState::Active
    );

    // Suspended through a, seen by b; reinstated; revoked for good.
    a.suspend(&key.id, Some(Duration::from_secs(3600)), &ch("look"))
        .unwrap();
    let k = b.get(&key.id).unwrap().unwrap();
    assert_eq!(k.state, KeyState::Suspended);
    assert!(k.revoke_at.is_some());
    a.reinstate(&key.id, &ch("fine")).unwrap();
    a.revoke(&key.id, &ch("leaked")).unwrap();
    assert!(!b.authenticate(&secret).unwrap().unwrap().state.is_usable());
    assert!(matches!(
        a.reinstate(&key.id, &ch("again")),
        Err(AccessError::BadTransition { .. })
    ));
    assert_eq!(b.list().unwrap().len(), 2);
}

#[test]
fn a_write_on_a_stale_read_is_refused() {
    let db = TestDatabase::create().unwrap();
    let mut a = store(&db);
    let (key, _) = new_key(&mut a);
    let mut t = PgKeys::open(PgConfig::new(db.url())).unwrap();
    // Another writer suspends the key after we read it.
    let stale = key.clone();
    a.suspend(&key.id, None, &ch("someone else")).unwrap();
    let row = KeyRow {
        record: proviso_access::KeyRecord {
            state: KeyState::Revoked,
            ..stale.clone()
        },
        secret_sha256: None,
    };
    assert!(!t.replace_if(&row, "active", stale.updated).unwrap());
    assert_eq!(
        t.get(&key.id.0).unwrap().unwrap().state,
        KeyState::Suspended
    );
}

#[test]
fn a_change_whose_event_is_not_recorded_is_undone_everywhere() {
    let db = TestDatabase::create().unwrap();
    let (mut a, b) = (store(&db), store(&db));
    let (key, _) = new_key(&mut a);
    let r = a.recorded(
        |s| s.revoke(&key.id, &ch("x")),
        |_| Err("ledger down".into()),
    );
    assert!(matches!(r, Err(AccessError::NotRecorded(_))));
    assert_eq!(b.get(&key.id).unwrap().unwrap().state, KeyState::Active);
    // And one that is recorded stands.
    a.recorded(|s| s.revoke(&key.id, &ch("x")), |_| Ok(()))
        .unwrap();
    assert_eq!(b.get(&key.id).unwrap().unwrap().state, KeyState::Revoked);
}

#[test]
fn changes_are_announced_to_listening_replicas() {
    let db = TestDatabase::create().unwrap();
    let mut a = store(&db);
    let b = PgKeys::open(PgConfig::new(db.url())).unwrap();
    let mut listener = b.change_listener().unwrap();
    let v0 = b.version().unwrap();
    assert!(!listener.wait(Duration::from_millis(100)), "nothing yet");
    let (key, _) = new_key(&mut a);
    let t = Instant::now();
    assert!(
        listener.wait(Duration::from_secs(5)),
        "the creation is announced"
    );
    assert!(t.elapsed() < Duration::from_secs(2));
    a.revoke(&key.id, &ch("leaked")).unwrap();
    assert!(
        listener.wait(Duration::from_secs(5)),
        "the revocation is announced"
    );
    assert!(b.version().unwrap() >= v0 + 2, "the version moved");
    // A change undone (its event not recorded) is not announced, and does
    // not stand.
    let (other, _) = new_key(&mut a);
    assert!(listener.wait(Duration::from_secs(5)));
    let v1 = b.version().unwrap();
    let r = a.recorded(|s| s.revoke(&other.id, &ch("x")), |_| Err("no".into()));
    assert!(r.is_err());
    assert!(!listener.wait(Duration::from_millis(300)));
    assert_eq!(b.version().unwrap(), v1);
    assert_eq!(b.get(&other.id.0).unwrap().unwrap().state, KeyState::Active);
}
