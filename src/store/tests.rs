//! The store's contract, checked on the engine the environment selects: SQLite by default,
//! PostgreSQL when `GLOBALLINK_TEST_DATABASE_URL` names a server (see [`super::testing`]).
//! Every test runs unchanged on both, so the two implementations cannot drift apart.

use super::testing::TestDatabase;
use super::*;
use crate::evidence::{ChainBuilder, EventKind};
use chrono::TimeZone;

/// A fresh, migrated store, its database and its data dir (dropped in reverse order).
async fn store() -> (tempfile::TempDir, TestDatabase, Arc<dyn Store>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = TestDatabase::fresh().expect("a fresh test database");
    let store = db.open(dir.path()).await.expect("opens");
    (dir, db, store)
}

fn user() -> UserRecord {
    UserRecord {
        id: UserId::random(),
        username: "officer".into(),
        display_name: "Officer".into(),
        role: Role::Officer,
        password_hash: "x".into(),
        created_at: Utc::now(),
    }
}

#[tokio::test]
async fn events_cannot_fork_and_read_back_in_order() {
    let (_dir, _db, store) = store().await;
    let u = user();
    store.create_user(&u).await.unwrap();
    let now = Utc::now();
    let case = CaseRecord {
        id: CaseId::random(),
        service: "id-card-renewal".into(),
        applicant_name: "Chen".into(),
        applicant_tz: "Europe/Lisbon".into(),
        applicant_lang: "pt".into(),
        applicant_earliest: "08:00".into(),
        applicant_latest: "21:00".into(),
        created_by: u.id,
        created_at: now,
        invite_expires_at: now,
    };
    store.create_case(&case, "h").await.unwrap();
    let session = SessionRecord {
        id: SessionId::random(),
        case_id: case.id,
        officer_id: u.id,
        status: SessionStatus::Open,
        started_at: now,
        ended_at: None,
        events: 0,
        node: "node-a".into(),
    };
    store.create_session(&session).await.unwrap();
    let stored = store.session(session.id).await.unwrap().expect("stored");
    assert_eq!(stored.node, "node-a", "the session's node is kept");
    let mut chain = ChainBuilder::new(session.id);
    let a = chain
        .next(
            now,
            EventKind::SessionClosed {
                outcome: "a".into(),
                reason: None,
            },
        )
        .unwrap();
    store.append_event(&a).await.unwrap();
    chain.commit(&a);
    let b = chain
        .next(
            now,
            EventKind::SessionClosed {
                outcome: "b".into(),
                reason: None,
            },
        )
        .unwrap();
    store.append_event(&b).await.unwrap();
    // A second writer holding the old head cannot fork the chain.
    let mut stale = ChainBuilder::new(session.id);
    stale.commit(&a);
    let fork = stale
        .next(
            now,
            EventKind::SessionClosed {
                outcome: "fork".into(),
                reason: None,
            },
        )
        .unwrap();
    assert!(matches!(
        store.append_event(&fork).await,
        Err(StoreError::Conflict(_))
    ));
    let events = store.events(session.id).await.unwrap();
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(events[1].hash, b.hash);
    assert_eq!(store.session(session.id).await.unwrap().unwrap().events, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_bookings_never_double_book() {
    let (_dir, _db, store) = store().await;
    let u = user();
    store.create_user(&u).await.unwrap();
    let now = Utc::now();
    let start = now + chrono::Duration::days(1);
    let mut cases = Vec::new();
    for i in 0..12 {
        let case = CaseRecord {
            id: CaseId::random(),
            service: "id-card-renewal".into(),
            applicant_name: format!("a{i}"),
            applicant_tz: "Europe/Lisbon".into(),
            applicant_lang: "pt".into(),
            applicant_earliest: "08:00".into(),
            applicant_latest: "21:00".into(),
            created_by: u.id,
            created_at: now,
            invite_expires_at: now,
        };
        store.create_case(&case, &format!("h{i}")).await.unwrap();
        cases.push(case.id);
    }
    let mut tasks = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let store = Arc::clone(&store);
        // Twelve applicants race for the same officer; half of them for 10:00, the rest
        // for 10:15 (overlapping a 30-minute 10:00 booking).
        let offset = if i % 2 == 0 { 0 } else { 15 };
        let b = BookingRecord {
            id: BookingId::random(),
            case_id: *case,
            officer_id: u.id,
            starts_at: start + chrono::Duration::minutes(offset),
            ends_at: start + chrono::Duration::minutes(offset + 30),
            status: BookingStatus::Booked,
            created_at: now,
        };
        tasks.push(tokio::spawn(async move { store.book(&b, 1, None).await }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 1, "exactly one booking wins the officer");
    let live = store
        .bookings_between(
            start - chrono::Duration::hours(1),
            start + chrono::Duration::hours(2),
        )
        .await
        .unwrap();
    assert_eq!(live.len(), 1);
    // With two sessions at once allowed, a second overlapping booking fits, a third does not.
    let second = BookingRecord {
        id: BookingId::random(),
        case_id: cases[1],
        officer_id: u.id,
        starts_at: start,
        ends_at: start + chrono::Duration::minutes(30),
        status: BookingStatus::Booked,
        created_at: now,
    };
    let winner = live[0].case_id;
    let second = BookingRecord {
        case_id: if winner == cases[1] {
            cases[2]
        } else {
            cases[1]
        },
        ..second
    };
    store.book(&second, 2, None).await.expect("second seat");
    let third = BookingRecord {
        id: BookingId::random(),
        case_id: cases[3],
        ..second.clone()
    };
    let third = BookingRecord {
        case_id: if [winner, second.case_id].contains(&cases[3]) {
            cases[4]
        } else {
            cases[3]
        },
        ..third
    };
    assert!(matches!(
        store.book(&third, 2, None).await,
        Err(StoreError::Conflict(_))
    ));
    // Reschedule moves a booking atomically; cancel frees it.
    let moved = BookingRecord {
        id: BookingId::random(),
        starts_at: start + chrono::Duration::hours(3),
        ends_at: start + chrono::Duration::hours(3) + chrono::Duration::minutes(30),
        ..second.clone()
    };
    store
        .book(&moved, 1, Some(second.id))
        .await
        .expect("reschedule");
    assert_eq!(
        store.booking(second.id).await.unwrap().map(|b| b.status),
        Some(BookingStatus::Cancelled)
    );
    assert!(store.cancel_booking(moved.id).await.unwrap());
    assert!(
        !store.cancel_booking(moved.id).await.unwrap(),
        "already cancelled"
    );
}

#[tokio::test]
async fn expired_logins_are_not_honoured() {
    let (_dir, _db, store) = store().await;
    let u = user();
    store.create_user(&u).await.unwrap();
    let now = Utc::now();
    store
        .create_login("t", u.id, now + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        store.login("t", now).await.unwrap().map(|u| u.role),
        Some(Role::Officer)
    );
    assert!(
        store
            .login("t", now + chrono::Duration::hours(2))
            .await
            .unwrap()
            .is_none()
    );
    store.delete_login("t").await.unwrap();
    assert!(store.login("t", now).await.unwrap().is_none());
}

/// An instant both engines keep exactly (PostgreSQL stores microseconds).
fn instant(day: u32, hour: u32, micros: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0)
        .single()
        .expect("a valid UTC time")
        + chrono::Duration::microseconds(i64::from(micros))
}

fn case_at(created_by: UserId, created_at: DateTime<Utc>) -> CaseRecord {
    CaseRecord {
        id: CaseId::random(),
        service: "inheritance".into(),
        applicant_name: "Rossi".into(),
        applicant_tz: "Europe/Rome".into(),
        applicant_lang: "it".into(),
        applicant_earliest: "08:00".into(),
        applicant_latest: "21:00".into(),
        created_by,
        created_at,
        invite_expires_at: created_at + chrono::Duration::hours(72),
    }
}

#[tokio::test]
async fn records_read_back_as_written() {
    let (_dir, _db, store) = store().await;
    let u = UserRecord {
        created_at: instant(2, 9, 123_456),
        ..user()
    };
    store.create_user(&u).await.unwrap();
    assert_eq!(store.user(u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(
        store.user_by_name("officer").await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(store.count_users().await.unwrap(), 1);

    let older = case_at(u.id, instant(3, 9, 1));
    let newer = case_at(u.id, instant(4, 9, 2));
    store.create_case(&older, "older").await.unwrap();
    store.create_case(&newer, "newer").await.unwrap();
    assert_eq!(
        store.cases().await.unwrap(),
        vec![newer.clone(), older.clone()],
        "newest first"
    );
    assert_eq!(
        store.case_by_invite("older").await.unwrap(),
        Some(older.clone())
    );
    store
        .set_applicant_preferences(older.id, "America/Sao_Paulo", "10:00", "18:30", "pt")
        .await
        .unwrap();
    let moved = store.case(older.id).await.unwrap().expect("case");
    assert_eq!(
        (
            moved.applicant_tz.as_str(),
            moved.applicant_earliest.as_str(),
            moved.applicant_latest.as_str(),
            moved.applicant_lang.as_str()
        ),
        ("America/Sao_Paulo", "10:00", "18:30", "pt")
    );

    let session = SessionRecord {
        id: SessionId::random(),
        case_id: older.id,
        officer_id: u.id,
        status: SessionStatus::Open,
        started_at: instant(5, 10, 7),
        ended_at: None,
        events: 0,
        node: String::new(),
    };
    store.create_session(&session).await.unwrap();
    assert_eq!(
        store
            .sessions_with_status(SessionStatus::Open)
            .await
            .unwrap(),
        vec![session.clone()]
    );
    store
        .finish_session(session.id, SessionStatus::Interrupted, instant(5, 11, 8))
        .await
        .unwrap();
    assert!(
        store
            .sessions_with_status(SessionStatus::Open)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.sessions_for_case(older.id).await.unwrap(),
        vec![SessionRecord {
            status: SessionStatus::Interrupted,
            ended_at: Some(instant(5, 11, 8)),
            ..session.clone()
        }]
    );

    let artefact = ArtefactRecord {
        id: ArtefactId::random(),
        case_id: older.id,
        session_id: session.id,
        file_name: "a.zip".into(),
        manifest_sha256: "ab".repeat(32),
        size: 5_000_000_000,
        created_at: instant(5, 11, 9),
        outcome: "refused".into(),
    };
    store.create_artefact(&artefact).await.unwrap();
    assert_eq!(
        store.artefact(artefact.id).await.unwrap(),
        Some(artefact.clone())
    );
    assert_eq!(
        store.artefacts_for_case(older.id).await.unwrap(),
        vec![artefact.clone()]
    );
    assert_eq!(store.artefacts().await.unwrap(), vec![artefact.clone()]);
    // The officer's signature makes the download longer.
    assert!(
        store
            .set_artefact_size(artefact.id, 5_000_000_400)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_artefact_size(ArtefactId::random(), 1)
            .await
            .unwrap()
    );
    let artefact = ArtefactRecord {
        size: 5_000_000_400,
        ..artefact
    };
    assert_eq!(
        store.artefact(artefact.id).await.unwrap(),
        Some(artefact.clone())
    );

    // Views are kept newest first, with who, what and when.
    for (n, action) in ["list_artefacts", "timeline", "download"]
        .into_iter()
        .enumerate()
    {
        store
            .record_access(&AccessRecord {
                user_id: u.id,
                action: action.into(),
                target: artefact.id.to_string(),
                at: instant(5, 12, n as u32),
            })
            .await
            .unwrap();
    }
    let log = store.access_log(2).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].action, "download");
    assert_eq!(log[1].action, "timeline");
    assert_eq!((log[0].user_id, log[0].at), (u.id, instant(5, 12, 2)));

    assert_eq!(store.officer_profile(u.id).await.unwrap(), None);
    store
        .set_officer_profile(u.id, r#"{"skills":["a"]}"#, instant(6, 9, 0))
        .await
        .unwrap();
    store
        .set_officer_profile(u.id, r#"{"skills":["b"]}"#, instant(6, 10, 0))
        .await
        .unwrap();
    assert_eq!(
        store.officer_profiles().await.unwrap(),
        vec![(u.id, r#"{"skills":["b"]}"#.to_owned())],
        "a second save replaces the first"
    );
}

#[tokio::test]
async fn a_case_holds_one_live_booking() {
    let (_dir, _db, store) = store().await;
    let u = user();
    store.create_user(&u).await.unwrap();
    let case = case_at(u.id, instant(1, 8, 0));
    store.create_case(&case, "h").await.unwrap();
    let first = BookingRecord {
        id: BookingId::random(),
        case_id: case.id,
        officer_id: u.id,
        starts_at: instant(10, 9, 0),
        ends_at: instant(10, 10, 0),
        status: BookingStatus::Booked,
        created_at: instant(1, 8, 0),
    };
    store.book(&first, 4, None).await.unwrap();
    let later = BookingRecord {
        id: BookingId::random(),
        starts_at: instant(11, 9, 0),
        ends_at: instant(11, 10, 0),
        ..first.clone()
    };
    match store.book(&later, 4, None).await {
        Err(StoreError::Conflict(why)) => assert!(why.contains("already has a booking"), "{why}"),
        other => panic!("a second live booking for the case: {other:?}"),
    }
    assert_eq!(
        store.bookings_for_case(case.id).await.unwrap(),
        vec![first.clone()]
    );
    assert!(store.cancel_booking(first.id).await.unwrap());
    store
        .book(&later, 4, None)
        .await
        .expect("free after cancelling");
    assert_eq!(
        store
            .bookings_for_case(case.id)
            .await
            .unwrap()
            .iter()
            .map(|b| (b.id, b.status))
            .collect::<Vec<_>>(),
        vec![
            (first.id, BookingStatus::Cancelled),
            (later.id, BookingStatus::Booked)
        ]
    );
    assert_eq!(
        store
            .bookings_between(instant(11, 9, 30), instant(11, 9, 45))
            .await
            .unwrap(),
        vec![later.clone()]
    );
    assert!(
        store
            .bookings_between(instant(11, 10, 0), instant(11, 11, 0))
            .await
            .unwrap()
            .is_empty(),
        "a booking ending at 10:00 does not overlap [10:00, 11:00)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_refuses_a_taken_or_skipped_index_even_under_contention() {
    let (_dir, _db, store) = store().await;
    let at = instant(7, 9, 0);
    assert!(store.log_leaves().await.unwrap().is_empty());
    store
        .append_log_leaf(0, &[0; 32], ArtefactId::random(), at)
        .await
        .unwrap();
    store
        .append_log_leaf(1, &[1; 32], ArtefactId::random(), at)
        .await
        .unwrap();
    for index in [0, 1, 3] {
        assert!(
            matches!(
                store
                    .append_log_leaf(index, &[9; 32], ArtefactId::random(), at)
                    .await,
                Err(StoreError::Conflict(_))
            ),
            "index {index} is taken or skips one"
        );
    }
    // Eight appenders race for index 2: exactly one wins.
    let tasks: Vec<_> = (0..8u8)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .append_log_leaf(2, &[10 + i; 32], ArtefactId::random(), at)
                    .await
            })
        })
        .collect();
    let mut won = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await.expect("task") {
            Ok(()) => won.push(10 + i as u8),
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one append at index 2");
    assert_eq!(
        store.log_leaves().await.unwrap(),
        vec![[0; 32], [1; 32], [won[0]; 32]]
    );
}

#[tokio::test]
async fn officer_certificates_refuse_a_taken_serial_and_revoke_once() {
    let (_dir, _db, store) = store().await;
    let u = user();
    store.create_user(&u).await.unwrap();
    let cert = |serial: u64| OfficerCertRecord {
        serial,
        officer_id: u.id,
        der: vec![0x30, 0x82, serial as u8],
        not_before: instant(1, 0, 0),
        not_after: instant(30, 0, 0),
        issued_at: instant(1, 0, 5),
        revoked_at: None,
        reason: None,
    };
    store.add_officer_certificate(&cert(7)).await.unwrap();
    store.add_officer_certificate(&cert(3)).await.unwrap();
    assert!(matches!(
        store.add_officer_certificate(&cert(7)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.officer_certificates().await.unwrap(),
        vec![cert(3), cert(7)],
        "by serial"
    );
    let at = instant(2, 12, 500);
    assert!(
        store
            .revoke_officer_certificate(7, at, Some(1))
            .await
            .unwrap()
    );
    assert!(
        !store.revoke_officer_certificate(7, at, None).await.unwrap(),
        "already revoked"
    );
    assert!(
        !store
            .revoke_officer_certificate(99, at, None)
            .await
            .unwrap()
    );
    assert_eq!(
        store.officer_certificates().await.unwrap()[1],
        OfficerCertRecord {
            revoked_at: Some(at),
            reason: Some(1),
            ..cert(7)
        }
    );
}

#[tokio::test]
async fn open_refuses_an_unknown_scheme() {
    assert!(matches!(
        super::open("mysql://localhost/x").await,
        Err(StoreError::UnsupportedUrl)
    ));
    assert_eq!(Engine::of("sqlite::memory:"), Some(Engine::Sqlite));
    assert_eq!(Engine::of("postgresql://h/d"), Some(Engine::Postgres));
}

#[tokio::test]
async fn recording_keys_are_due_at_their_deadline_and_destroyed_once() {
    let (_dir, _db, store) = store().await;
    let t0 = Utc
        .with_ymd_and_hms(2026, 3, 1, 8, 0, 0)
        .single()
        .expect("time");
    let (a, b) = (ArtefactId::random(), ArtefactId::random());
    store
        .put_recording_key(a, &[1u8; 60], t0 + chrono::Duration::days(10))
        .await
        .expect("put a");
    store
        .put_recording_key(b, &[2u8; 60], t0 + chrono::Duration::days(20))
        .await
        .expect("put b");
    assert!(matches!(
        store.put_recording_key(a, &[3u8; 60], t0).await,
        Err(StoreError::Conflict(_))
    ));
    let read = store.recording_key(a).await.expect("read").expect("a");
    assert_eq!(read.wrapped_key.as_deref(), Some(&[1u8; 60][..]));
    assert_eq!(read.retain_until, t0 + chrono::Duration::days(10));
    assert_eq!(read.destroyed_at, None);
    assert!(
        !format!("{read:?}").contains("1, 1"),
        "the key is not printed"
    );

    let due = |n: i64| {
        let store = store.clone();
        async move {
            store
                .recording_keys_due(t0 + chrono::Duration::days(n))
                .await
                .expect("due")
                .into_iter()
                .map(|k| k.artefact_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(due(9).await, Vec::<ArtefactId>::new());
    assert_eq!(due(10).await, vec![a], "due at the deadline itself");
    assert_eq!(due(30).await, vec![a, b], "oldest first");

    let at = t0 + chrono::Duration::days(11);
    assert!(store.destroy_recording_key(a, at).await.expect("destroy"));
    assert!(
        !store.destroy_recording_key(a, at).await.expect("again"),
        "destroyed once"
    );
    assert!(
        !store
            .destroy_recording_key(ArtefactId::random(), at)
            .await
            .expect("unknown"),
        "no such key"
    );
    let gone = store
        .recording_key(a)
        .await
        .expect("read")
        .expect("row stays");
    assert_eq!(gone.wrapped_key, None);
    assert_eq!(gone.destroyed_at, Some(at));
    assert_eq!(due(30).await, vec![b], "a destroyed key is no longer due");
}
