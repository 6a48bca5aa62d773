use super::*;
use crate::catalogue::{Catalogue, DEFAULT_TOML};
use ParticipantRole::{Applicant, Officer};
use chrono::TimeZone;

fn t(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_795_000_000_000 + ms)
        .single()
        .expect("valid")
}

fn room(lang: &str) -> Room {
    let c = Catalogue::parse(DEFAULT_TOML).expect("catalogue");
    Room::new(
        lang.into(),
        &c.service("inheritance").expect("service").checklist,
    )
}

fn names(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .map(|e| match e {
            Effect::Persist { kind, .. } => kind.name().to_owned(),
            Effect::Send { .. } => "send".into(),
            Effect::StartRecording => "start".into(),
            Effect::StopRecording => "stop".into(),
            Effect::Seal { outcome, .. } => format!("seal:{outcome}"),
            Effect::Interrupt { .. } => "interrupt".into(),
            Effect::Grace { running, .. } => format!("grace:{running}"),
        })
        .collect()
}

fn answer(consent: &str, granted: bool) -> RoomInput {
    RoomInput::ConsentAnswer {
        consent: consent.into(),
        granted,
    }
}

fn ask(consent: &str) -> RoomInput {
    RoomInput::RequestConsent {
        consent: consent.into(),
    }
}

#[test]
fn the_notice_comes_before_the_first_consent_only() {
    let mut r = room("pt");
    let fx = r
        .handle(t(0), Officer, ask("personal-information"))
        .expect("ok");
    assert_eq!(names(&fx), ["notice_shown", "consent_requested", "send"]);
    let Effect::Send {
        msg:
            ServerMsg::ConsentRequested {
                notice,
                lang,
                legal_basis,
                ..
            },
        ..
    } = &fx[2]
    else {
        panic!("consent text for the applicant: {fx:?}");
    };
    assert!(notice.is_some() && lang == "pt" && legal_basis.contains("PIPL"));
    let fx = r
        .handle(t(1), Officer, ask("cross-border-transfer"))
        .expect("ok");
    assert_eq!(names(&fx), ["consent_requested", "send"]);
    let Effect::Persist {
        kind: EventKind::ConsentRequested { recipient, .. },
        ..
    } = &fx[0]
    else {
        panic!("{fx:?}");
    };
    assert!(recipient.as_deref().is_some_and(|r| r.contains("Lishui")));
}

#[test]
fn recording_starts_only_after_the_grant_and_offsets_count_from_it() {
    let mut r = room("en");
    assert_eq!(
        r.handle(t(0), Applicant, answer("recording", true)),
        Err(RoomError::NotRequested("consent"))
    );
    r.handle(t(0), Officer, ask("recording")).expect("ok");
    assert!(!r.is_recording());
    let fx = r
        .handle(t(1000), Applicant, answer("recording", true))
        .expect("ok");
    assert_eq!(names(&fx), ["consent_granted", "start"]);
    let fx = r
        .handle(
            t(4500),
            Officer,
            RoomInput::LivenessPrompt {
                prompt_id: "wave-left".into(),
                lang: "en".into(),
                text: "Wave".into(),
                officer_text: "挥手 / Wave".into(),
            },
        )
        .expect("ok");
    let Effect::Persist {
        kind:
            EventKind::LivenessPrompted {
                recording_offset_ms,
                ..
            },
        ..
    } = &fx[0]
    else {
        panic!("{fx:?}");
    };
    assert_eq!(*recording_offset_ms, Some(3500));
    assert_eq!(
        r.handle(t(5000), Officer, ask("recording")),
        Err(RoomError::AlreadyGranted("recording".into()))
    );
}

#[test]
fn withdrawal_stops_the_recorder_first_and_is_final() {
    let mut r = room("en");
    r.handle(t(0), Officer, ask("recording")).expect("ok");
    r.handle(t(0), Applicant, answer("recording", true))
        .expect("ok");
    let fx = r
        .handle(
            t(2000),
            Applicant,
            RoomInput::WithdrawConsent {
                consent: "recording".into(),
            },
        )
        .expect("ok");
    assert_eq!(
        names(&fx),
        ["stop", "consent_withdrawn", "recording_stopped"]
    );
    assert!(!r.is_recording());
    assert_eq!(
        r.handle(t(3000), Officer, ask("recording")),
        Err(RoomError::RecordingWithdrawn)
    );
    assert_eq!(
        r.handle(
            t(3000),
            Applicant,
            RoomInput::WithdrawConsent {
                consent: "recording".into()
            }
        ),
        Err(RoomError::NotGranted("recording".into()))
    );
    // Other consents can be withdrawn without touching the recorder.
    r.handle(t(0), Officer, ask("e-signature")).expect("ok");
    r.handle(t(0), Applicant, answer("e-signature", true))
        .expect("ok");
    let fx = r
        .handle(
            t(4000),
            Applicant,
            RoomInput::WithdrawConsent {
                consent: "e-signature".into(),
            },
        )
        .expect("ok");
    assert_eq!(names(&fx), ["consent_withdrawn"]);
}

#[test]
fn the_applicant_sees_what_they_agreed_to() {
    let mut r = room("it");
    r.handle(t(0), Officer, ask("personal-information"))
        .expect("ok");
    r.handle(t(10), Applicant, answer("personal-information", true))
        .expect("ok");
    r.handle(t(20), Officer, ask("e-signature")).expect("ok");
    r.handle(t(30), Applicant, answer("e-signature", false))
        .expect("ok");
    let fx = r
        .handle(t(40), Applicant, RoomInput::MyConsents)
        .expect("ok");
    let Effect::Send {
        to: Applicant,
        msg: ServerMsg::Consents { items },
    } = &fx[0]
    else {
        panic!("{fx:?}");
    };
    let answers: Vec<_> = items
        .iter()
        .map(|i| (i.consent.as_str(), i.answer.as_str()))
        .collect();
    assert_eq!(
        answers,
        [
            ("e-signature", "refused"),
            ("personal-information", "granted")
        ]
    );
    assert!(items.iter().all(|i| i.lang == "it" && !i.text.is_empty()));
    assert_eq!(
        r.handle(t(50), Officer, RoomInput::MyConsents),
        Err(RoomError::WrongRole("applicant"))
    );
}

#[test]
fn declarations_must_confirm_the_text_shown() {
    let mut r = room("es");
    assert_eq!(
        r.handle(
            t(0),
            Applicant,
            RoomInput::ConfirmDeclaration {
                declaration: "inheritance".into(),
                text_sha256: "x".into()
            }
        ),
        Err(RoomError::NotRequested("declaration"))
    );
    let fx = r
        .handle(
            t(0),
            Officer,
            RoomInput::RequestDeclaration {
                declaration: "inheritance".into(),
            },
        )
        .expect("ok");
    let Effect::Send {
        msg: ServerMsg::DeclarationRequested {
            text_sha256, lang, ..
        },
        ..
    } = &fx[1]
    else {
        panic!("{fx:?}");
    };
    assert_eq!(lang, "es");
    let sha = text_sha256.clone();
    assert_eq!(
        r.handle(
            t(1),
            Applicant,
            RoomInput::ConfirmDeclaration {
                declaration: "inheritance".into(),
                text_sha256: "0".repeat(64)
            }
        ),
        Err(RoomError::TextMismatch)
    );
    let fx = r
        .handle(
            t(2),
            Applicant,
            RoomInput::ConfirmDeclaration {
                declaration: "inheritance".into(),
                text_sha256: sha,
            },
        )
        .expect("ok");
    assert_eq!(names(&fx), ["declaration_confirmed"]);
    assert!(matches!(
        r.handle(
            t(3),
            Officer,
            RoomInput::RequestDeclaration {
                declaration: "nope".into()
            }
        ),
        Err(RoomError::UnknownDeclaration(_))
    ));
}

#[test]
fn close_reports_the_checklist_outcome_and_ends_the_room() {
    let mut r = room("en");
    r.handle(t(0), Officer, ask("recording")).expect("ok");
    let fx = r
        .handle(t(0), Applicant, answer("recording", false))
        .expect("ok");
    if let Effect::Persist { kind, .. } = &fx[0] {
        r.committed(7, kind);
    }
    let fx = r.handle(t(1), Officer, RoomInput::Close).expect("ok");
    assert_eq!(names(&fx), ["session_closed", "seal:refused"]);
    assert_eq!(
        r.handle(t(2), Officer, RoomInput::Close),
        Err(RoomError::Closed)
    );
    assert_eq!(
        r.handle(t(2), Applicant, RoomInput::MyConsents),
        Err(RoomError::Closed)
    );
}

#[test]
fn roles_are_enforced() {
    let mut r = room("en");
    assert_eq!(
        r.handle(t(0), Applicant, ask("recording")),
        Err(RoomError::WrongRole("officer"))
    );
    assert_eq!(
        r.handle(t(0), Applicant, RoomInput::Close),
        Err(RoomError::WrongRole("officer"))
    );
    assert_eq!(
        r.handle(t(0), Applicant, RoomInput::LivenessResult { passed: true }),
        Err(RoomError::WrongRole("officer"))
    );
    r.handle(t(0), Officer, ask("recording")).expect("ok");
    assert_eq!(
        r.handle(t(0), Officer, answer("recording", true)),
        Err(RoomError::WrongRole("applicant"))
    );
    assert!(matches!(
        r.handle(t(0), Officer, ask("x")),
        Err(RoomError::UnknownConsent(_))
    ));
}

#[test]
fn officer_leaving_interrupts_and_stops_recording() {
    let mut r = room("en");
    r.handle(t(0), Officer, ask("recording")).expect("ok");
    r.handle(t(0), Applicant, answer("recording", true))
        .expect("ok");
    let fx = r
        .handle(
            t(9),
            Officer,
            RoomInput::Left {
                role: Officer,
                reason: "socket closed".into(),
            },
        )
        .expect("ok");
    assert_eq!(
        names(&fx),
        [
            "participant_left",
            "stop",
            "recording_stopped",
            "session_interrupted",
            "interrupt"
        ]
    );
    assert!(r.is_ended());
}

#[test]
fn shutdown_interrupts_stops_recording_and_ends_the_room() {
    let mut r = room("en");
    r.handle(t(0), Officer, ask("recording")).expect("ok");
    r.handle(t(0), Applicant, answer("recording", true))
        .expect("ok");
    let fx = r
        .handle(
            t(9),
            Officer,
            RoomInput::Shutdown {
                reason: "SIGTERM".into(),
            },
        )
        .expect("ok");
    assert_eq!(
        names(&fx),
        [
            "stop",
            "recording_stopped",
            "session_interrupted",
            "interrupt"
        ]
    );
    assert!(r.is_ended());
    assert_eq!(
        r.handle(t(10), Officer, ask("recording")),
        Err(RoomError::Closed)
    );
}

#[test]
fn a_dropped_participant_has_a_grace_period() {
    let mut r = room("en");
    r.handle(
        t(0),
        Officer,
        RoomInput::Joined {
            role: Applicant,
            tz: "Europe/Lisbon".into(),
        },
    )
    .expect("ok");
    r.handle(
        t(0),
        Officer,
        RoomInput::Joined {
            role: Officer,
            tz: "Asia/Shanghai".into(),
        },
    )
    .expect("ok");
    let fx = r
        .handle(t(1), Applicant, RoomInput::Disconnected { role: Applicant })
        .expect("ok");
    assert_eq!(
        names(&fx),
        ["participant_disconnected", "send", "grace:true"]
    );
    // A second drop report changes nothing.
    assert!(
        r.handle(t(2), Applicant, RoomInput::Disconnected { role: Applicant })
            .expect("ok")
            .is_empty()
    );
    let fx = r
        .handle(t(3), Applicant, RoomInput::Reconnected { role: Applicant })
        .expect("ok");
    assert_eq!(
        names(&fx),
        ["grace:false", "participant_reconnected", "send"]
    );
    // Expiry after coming back is ignored.
    assert!(
        r.handle(t(4), Applicant, RoomInput::GraceExpired { role: Applicant })
            .expect("ok")
            .is_empty()
    );
    // The officer drops and does not come back: the session ends as interrupted.
    r.handle(t(5), Officer, RoomInput::Disconnected { role: Officer })
        .expect("ok");
    let fx = r
        .handle(t(6), Officer, RoomInput::GraceExpired { role: Officer })
        .expect("ok");
    assert_eq!(
        names(&fx),
        ["participant_left", "session_interrupted", "interrupt"]
    );
    assert!(r.is_ended());
}
