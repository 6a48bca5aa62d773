use super::*;
use crate::catalogue::{Catalogue, DEFAULT_TOML};
use ParticipantRole::{Applicant, Officer};
use chrono::TimeZone;

fn t(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_795_000_000_000 + ms)
        .single()
        .expect("valid")
}

/// A room both participants joined, the applicant still knocking.
fn lobby(lang: &str) -> Room {
    let c = Catalogue::parse(DEFAULT_TOML).expect("catalogue");
    let mut r = Room::new(
        lang.into(),
        &c.service("inheritance").expect("service").checklist,
        GuestPolicy::default(),
    );
    r.handle(t(0), Officer, joined(Officer))
        .expect("officer joins");
    r.handle(t(0), Applicant, joined(Applicant))
        .expect("applicant knocks");
    r
}

/// A room with the applicant admitted from the lobby.
fn room(lang: &str) -> Room {
    let mut r = lobby(lang);
    r.handle(t(0), Officer, RoomInput::Admit(None))
        .expect("admitted");
    r
}

fn joined(role: ParticipantRole) -> RoomInput {
    match role {
        Applicant => RoomInput::Joined {
            role,
            tz: "Europe/Lisbon".into(),
            name: "Chen Jing".into(),
        },
        Officer => RoomInput::Joined {
            role,
            tz: "Asia/Shanghai".into(),
            name: "Officer Li".into(),
        },
        ParticipantRole::Guest { .. } => RoomInput::Joined {
            role,
            tz: "Europe/Rome".into(),
            name: "Guest".into(),
        },
    }
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
            Effect::Admit { .. } => "admit".into(),
            Effect::GuestInvited { .. } => "invited".into(),
            Effect::Departed { .. } => "departed".into(),
            Effect::PermissionsChanged { .. } => "permissions".into(),
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

fn sent(effects: &[Effect], to: ParticipantRole) -> Vec<ServerMsg> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { to: t, msg } if *t == to => Some(msg.clone()),
            _ => None,
        })
        .collect()
}

fn lobby_state(state: &str) -> ServerMsg {
    ServerMsg::Lobby {
        state: state.into(),
    }
}

#[test]
fn the_applicant_knocks_and_the_officer_sees_who_and_their_local_zone() {
    let c = Catalogue::parse(DEFAULT_TOML).expect("catalogue");
    let mut r = Room::new(
        "en".into(),
        &c.service("inheritance").expect("s").checklist,
        GuestPolicy::default(),
    );
    let fx = r.handle(t(0), Officer, joined(Officer)).expect("ok");
    assert_eq!(
        names(&fx),
        ["participant_joined"],
        "the officer is in at once"
    );
    assert!(r.is_admitted(Officer));
    let fx = r.handle(t(5), Applicant, joined(Applicant)).expect("ok");
    assert_eq!(names(&fx), ["participant_knocked", "send", "send"]);
    assert!(matches!(
        &fx[0],
        Effect::Persist {
            kind: EventKind::ParticipantKnocked { role: Applicant, tz },
            ..
        } if tz == "Europe/Lisbon"
    ));
    let knock = ServerMsg::Knock {
        role: "applicant".into(),
        name: "Chen Jing".into(),
        tz: "Europe/Lisbon".into(),
        since: "2026-11-18T11:06:40Z".into(),
    };
    assert_eq!(sent(&fx, Officer), std::slice::from_ref(&knock));
    assert_eq!(sent(&fx, Applicant), [lobby_state("waiting")]);
    assert!(!r.is_admitted(Applicant));
    assert!(r.is_present(Applicant));
    // The console asks again after a reconnect: the same knock.
    assert_eq!(r.knocks(), vec![knock]);
}

#[test]
fn admitting_lets_the_applicant_in_and_pairs_them() {
    let mut r = lobby("en");
    let fx = r.handle(t(1), Officer, RoomInput::Admit(None)).expect("ok");
    assert_eq!(
        names(&fx),
        ["participant_admitted", "send", "admit", "send"]
    );
    assert_eq!(sent(&fx, Applicant), [lobby_state("admitted")]);
    assert!(fx.contains(&Effect::Admit { role: Applicant }));
    assert!(r.is_admitted(Applicant));
    assert_eq!(r.knocks(), vec![]);
    // Nobody left to admit or deny.
    assert_eq!(
        r.handle(t(2), Officer, RoomInput::Admit(None)),
        Err(RoomError::NobodyWaiting)
    );
    assert_eq!(
        r.handle(t(2), Officer, RoomInput::Deny(None)),
        Err(RoomError::NobodyWaiting)
    );
    assert_eq!(RoomError::NobodyWaiting.code(), "conflict");
    // And now the checklist may begin.
    r.handle(t(3), Officer, ask("recording")).expect("ok");
}

#[test]
fn denying_tells_the_applicant_and_closes_the_session_as_denied() {
    let mut r = lobby("en");
    let fx = r.handle(t(1), Officer, RoomInput::Deny(None)).expect("ok");
    assert_eq!(
        names(&fx),
        [
            "participant_denied",
            "send",
            "session_closed",
            "seal:denied"
        ]
    );
    assert_eq!(sent(&fx, Applicant), [lobby_state("denied")]);
    assert!(matches!(
        &fx[2],
        Effect::Persist {
            kind: EventKind::SessionClosed { outcome, reason: Some(_) },
            ..
        } if outcome == "denied"
    ));
    assert!(r.is_ended());
    assert_eq!(
        r.handle(t(2), Officer, RoomInput::Admit(None)),
        Err(RoomError::Closed)
    );
}

#[test]
fn nothing_involving_the_applicant_happens_before_admission() {
    let mut r = lobby("en");
    let refused = [
        (Officer, ask("recording")),
        (Applicant, answer("recording", true)),
        (
            Applicant,
            RoomInput::WithdrawConsent {
                consent: "recording".into(),
            },
        ),
        (Applicant, RoomInput::MyConsents),
        (
            Officer,
            RoomInput::LivenessPrompt {
                prompt_id: "p".into(),
                lang: "en".into(),
                text: "t".into(),
                officer_text: "t".into(),
            },
        ),
        (Applicant, RoomInput::LivenessDone),
        (Officer, RoomInput::LivenessResult { passed: true }),
        (
            Officer,
            RoomInput::RequestDeclaration {
                declaration: "inheritance".into(),
            },
        ),
        (
            Applicant,
            RoomInput::ConfirmDeclaration {
                declaration: "inheritance".into(),
                text_sha256: "00".into(),
            },
        ),
        (
            Officer,
            RoomInput::DocumentAdded(StoredDocument {
                category: "still".into(),
                kind: "identity-document".into(),
                media_type: "image/jpeg".into(),
                sha256: "00".into(),
                size: 1,
                file: "still-identity-document-1.jpg".into(),
            }),
        ),
    ];
    for (from, input) in refused {
        assert_eq!(
            r.handle(t(1), from, input.clone()),
            Err(RoomError::NotAdmitted),
            "{from:?} {input:?}"
        );
    }
    assert_eq!(RoomError::NotAdmitted.code(), "not_admitted");
    assert!(!r.is_recording());
    // Refusals change nothing: the applicant still knocks, and the officer may still close.
    assert!(!r.knocks().is_empty());
    let fx = r.handle(t(2), Officer, RoomInput::Close).expect("ok");
    assert!(names(&fx).contains(&"session_closed".to_owned()));
}

#[test]
fn only_the_officer_admits_or_denies() {
    let mut r = lobby("en");
    for input in [RoomInput::Admit(None), RoomInput::Deny(None)] {
        let e = r.handle(t(1), Applicant, input).expect_err("refused");
        assert_eq!(e, RoomError::WrongRole("officer"));
        assert_eq!(e.code(), "forbidden");
    }
    assert!(!r.is_admitted(Applicant));
    assert!(!r.knocks().is_empty());
}

#[test]
fn an_admitted_applicant_who_reconnects_stays_admitted() {
    let mut r = room("en");
    r.handle(t(1), Applicant, RoomInput::Disconnected { role: Applicant })
        .expect("ok");
    let fx = r
        .handle(t(2), Applicant, RoomInput::Reconnected { role: Applicant })
        .expect("ok");
    assert_eq!(
        names(&fx),
        ["grace:false", "participant_reconnected", "send"]
    );
    assert!(r.is_admitted(Applicant));
    assert_eq!(r.knocks(), vec![], "no second knock");
    r.handle(t(3), Officer, ask("recording")).expect("still in");
}

#[test]
fn a_knocking_applicant_who_drops_still_knocks_and_one_who_leaves_does_not() {
    let mut r = lobby("en");
    let fx = r
        .handle(t(1), Applicant, RoomInput::Disconnected { role: Applicant })
        .expect("ok");
    assert_eq!(
        names(&fx),
        ["participant_disconnected", "send", "grace:true"]
    );
    r.handle(t(2), Applicant, RoomInput::Reconnected { role: Applicant })
        .expect("ok");
    assert!(!r.knocks().is_empty() && !r.is_admitted(Applicant));
    // The officer's drop is not reported to someone in the lobby.
    let fx = r
        .handle(t(3), Officer, RoomInput::Disconnected { role: Officer })
        .expect("ok");
    assert_eq!(names(&fx), ["participant_disconnected", "grace:true"]);
    r.handle(t(4), Officer, RoomInput::Reconnected { role: Officer })
        .expect("ok");
    r.handle(
        t(5),
        Applicant,
        RoomInput::Left {
            role: Applicant,
            reason: "closed the page".into(),
        },
    )
    .expect("ok");
    assert_eq!(r.knocks(), vec![]);
    assert_eq!(
        r.handle(t(6), Officer, RoomInput::Admit(None)),
        Err(RoomError::NobodyWaiting)
    );
}

fn invite(r: &mut Room, role: GuestRole) -> Result<ParticipantRole, RoomError> {
    let fx = r.handle(
        t(10),
        Officer,
        RoomInput::InviteGuest {
            role,
            name: "Guest".into(),
            tz: String::new(),
        },
    )?;
    assert_eq!(names(&fx), ["guest_invited", "invited"]);
    match &fx[1] {
        Effect::GuestInvited { role, .. } => Ok(*role),
        other => panic!("{other:?}"),
    }
}

fn declaration_text(fx: &[Effect], to: ParticipantRole) -> String {
    sent(fx, to)
        .into_iter()
        .find_map(|m| match m {
            ServerMsg::DeclarationRequested { text_sha256, .. } => Some(text_sha256),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no declaration for {to}: {fx:?}"))
}

fn confirm(sha: &str) -> RoomInput {
    RoomInput::ConfirmDeclaration {
        declaration: "inheritance".into(),
        text_sha256: sha.into(),
    }
}

#[test]
fn guests_are_invited_by_the_officer_and_knock_with_their_role() {
    let mut r = room("en");
    assert_eq!(
        r.handle(
            t(1),
            Applicant,
            RoomInput::InviteGuest {
                role: GuestRole::Relative,
                name: String::new(),
                tz: String::new()
            }
        ),
        Err(RoomError::WrongRole("officer"))
    );
    let fx = r
        .handle(
            t(1),
            Officer,
            RoomInput::InviteGuest {
                role: GuestRole::Interpreter,
                name: "Ana".into(),
                tz: "Europe/Lisbon".into(),
            },
        )
        .expect("ok");
    let guest = ParticipantRole::Guest {
        n: 1,
        role: GuestRole::Interpreter,
    };
    assert_eq!(guest.to_string(), "interpreter-1");
    assert!(matches!(
        &fx[0],
        Effect::Persist {
            kind: EventKind::GuestInvited {
                role,
                may_publish: true,
                recorded: true,
                may_confirm_declarations: false
            },
            ..
        } if *role == guest
    ));
    // Not present yet, so not in the call; their link still opens the session.
    assert!(r.is_invited(guest) && !r.is_present(guest));
    let fx = r.handle(t(2), guest, joined(guest)).expect("knocks");
    assert_eq!(names(&fx), ["participant_knocked", "send", "send"]);
    assert_eq!(sent(&fx, guest), [lobby_state("waiting")]);
    assert!(matches!(
        &sent(&fx, Officer)[..],
        [ServerMsg::Knock { role, tz, .. }] if role == "interpreter-1" && tz == "Europe/Rome"
    ));
    // Guests only come and go: everything else from them is refused.
    assert_eq!(
        r.handle(t(3), guest, ask("recording")),
        Err(RoomError::WrongRole("officer"))
    );
    let fx = r
        .handle(t(3), Officer, RoomInput::Admit(Some(guest)))
        .expect("ok");
    assert_eq!(
        names(&fx),
        ["participant_admitted", "send", "admit", "send", "send"]
    );
    // Those already in the call hear about the newcomer.
    for to in [Applicant, Officer] {
        assert_eq!(
            sent(&fx, to),
            [ServerMsg::PeerState {
                role: "interpreter-1".into(),
                state: "joined".into()
            }]
        );
    }
    assert!(r.is_admitted(guest));
    assert_eq!(r.in_call(), [Applicant, Officer, guest]);
}

#[test]
fn an_uninvited_guest_is_refused_and_so_is_one_turned_away() {
    let mut r = room("en");
    let stranger = ParticipantRole::Guest {
        n: 3,
        role: GuestRole::Relative,
    };
    assert_eq!(
        r.handle(t(1), stranger, joined(stranger)),
        Err(RoomError::NotInvited(stranger))
    );
    assert_eq!(RoomError::NotInvited(stranger).code(), "forbidden");
    let guest = invite(&mut r, GuestRole::Relative).expect("invited");
    r.handle(t(2), guest, joined(guest)).expect("knocks");
    let fx = r
        .handle(t(3), Officer, RoomInput::Deny(Some(guest)))
        .expect("ok");
    assert_eq!(names(&fx), ["participant_denied", "send", "departed"]);
    assert_eq!(sent(&fx, guest), [lobby_state("denied")]);
    // Turning a guest away does not end the session.
    assert!(!r.is_ended() && r.is_admitted(Applicant));
    assert!(!r.is_invited(guest));
    assert_eq!(
        r.handle(t(4), guest, joined(guest)),
        Err(RoomError::NotInvited(guest))
    );
}

#[test]
fn with_several_knocking_the_officer_names_whom_to_admit() {
    let mut r = lobby("en");
    let guest = invite(&mut r, GuestRole::CoHeir).expect("invited");
    r.handle(t(2), guest, joined(guest)).expect("knocks");
    assert_eq!(r.knocks().len(), 2);
    assert_eq!(
        r.handle(t(3), Officer, RoomInput::Admit(None)),
        Err(RoomError::WhichOne)
    );
    let other = ParticipantRole::Guest {
        n: 2,
        role: GuestRole::CoHeir,
    };
    assert_eq!(
        r.handle(t(3), Officer, RoomInput::Admit(Some(other))),
        Err(RoomError::NobodyWaiting)
    );
    r.handle(t(3), Officer, RoomInput::Admit(Some(Applicant)))
        .expect("ok");
    // One left waiting: no name needed.
    r.handle(t(4), Officer, RoomInput::Admit(None)).expect("ok");
    assert!(r.is_admitted(guest) && r.knocks().is_empty());
}

#[test]
fn a_seventh_participant_is_refused() {
    let mut r = room("en");
    let mut guests = Vec::new();
    for role in GuestRole::ALL {
        guests.push(invite(&mut r, role).expect("a seat"));
    }
    assert_eq!(
        guests.iter().map(|g| g.to_string()).collect::<Vec<_>>(),
        [
            "relative-1",
            "interpreter-2",
            "site_assistant-3",
            "co_heir-4"
        ]
    );
    let seventh = r.handle(
        t(20),
        Officer,
        RoomInput::InviteGuest {
            role: GuestRole::Relative,
            name: String::new(),
            tz: String::new(),
        },
    );
    assert_eq!(seventh, Err(RoomError::Full));
    assert_eq!(RoomError::Full.code(), "session_full");
    // A guest who leaves frees a seat; numbering never reuses a name.
    r.handle(t(21), guests[0], joined(guests[0]))
        .expect("knocks");
    r.handle(t(22), Officer, RoomInput::Admit(Some(guests[0])))
        .expect("ok");
    let fx = r
        .handle(
            t(23),
            guests[0],
            RoomInput::Left {
                role: guests[0],
                reason: "closed the page".into(),
            },
        )
        .expect("ok");
    assert!(names(&fx).contains(&"departed".to_owned()));
    assert!(!r.is_invited(guests[0]));
    assert_eq!(
        invite(&mut r, GuestRole::Relative).expect("a seat again"),
        ParticipantRole::Guest {
            n: 5,
            role: GuestRole::Relative
        }
    );
}

#[test]
fn media_goes_to_everyone_in_the_call_from_those_who_may_publish() {
    let mut r = room("en");
    let relative = invite(&mut r, GuestRole::Relative).expect("invited");
    let assistant = invite(&mut r, GuestRole::SiteAssistant).expect("invited");
    for g in [relative, assistant] {
        r.handle(t(2), g, joined(g)).expect("knocks");
        r.handle(t(3), Officer, RoomInput::Admit(Some(g)))
            .expect("ok");
    }
    assert!(!r.permissions(assistant).publish);
    assert_eq!(r.sources_for(Officer), [Applicant, relative]);
    assert_eq!(r.sources_for(Applicant), [Officer, relative]);
    assert_eq!(r.sources_for(assistant), [Applicant, Officer, relative]);
    assert_eq!(r.sources_for(relative), [Applicant, Officer]);
    // A configured policy changes what a role may do.
    let c = Catalogue::parse(DEFAULT_TOML).expect("catalogue");
    let quiet = GuestPermissions {
        publish: false,
        recorded: false,
        confirm_declarations: false,
    };
    let mut r2 = Room::new(
        "en".into(),
        &c.service("inheritance").expect("s").checklist,
        GuestPolicy::default().with(GuestRole::Relative, quiet),
    );
    r2.handle(t(0), Officer, joined(Officer)).expect("ok");
    let g = invite(&mut r2, GuestRole::Relative).expect("invited");
    assert_eq!(r2.permissions(g), quiet);
}

#[test]
fn a_co_heir_confirms_the_declaration_too_but_a_relative_may_not() {
    let mut r = room("pt");
    let heir = invite(&mut r, GuestRole::CoHeir).expect("invited");
    let relative = invite(&mut r, GuestRole::Relative).expect("invited");
    r.handle(t(2), heir, joined(heir)).expect("knocks");
    // Still in the lobby: no declaring yet.
    assert_eq!(
        r.handle(t(2), heir, confirm("x")),
        Err(RoomError::NotAdmitted)
    );
    r.handle(t(3), Officer, RoomInput::Admit(Some(heir)))
        .expect("ok");
    r.handle(t(3), relative, joined(relative)).expect("knocks");
    r.handle(t(3), Officer, RoomInput::Admit(Some(relative)))
        .expect("ok");
    let fx = r
        .handle(
            t(4),
            Officer,
            RoomInput::RequestDeclaration {
                declaration: "inheritance".into(),
            },
        )
        .expect("ok");
    let sha = declaration_text(&fx, Applicant);
    assert_eq!(declaration_text(&fx, heir), sha, "the same text");
    assert!(sent(&fx, relative).is_empty(), "{fx:?}");
    assert_eq!(
        r.handle(t(5), relative, confirm(&sha)),
        Err(RoomError::NotPermitted(
            GuestRole::Relative,
            "confirm declarations"
        ))
    );
    let fx = r.handle(t(5), heir, confirm(&sha)).expect("ok");
    assert!(matches!(
        &fx[0],
        Effect::Persist {
            kind: EventKind::DeclarationConfirmed { by: Some(by), .. },
            reply_to: Some(to),
        } if *by == heir && *to == heir
    ));
    assert_eq!(
        r.handle(t(6), heir, confirm(&sha)),
        Err(RoomError::NotRequested("declaration")),
        "once each"
    );
    // The co-heir's confirmation does not stand in for the applicant's.
    if let Effect::Persist { kind, .. } = &fx[0] {
        r.committed(9, kind);
    }
    assert!(
        r.checklist()
            .items()
            .iter()
            .any(|i| i.item.contains("inheritance") && i.satisfied_by.is_none()),
        "{:?}",
        r.checklist().items()
    );
    let fx = r.handle(t(7), Applicant, confirm(&sha)).expect("ok");
    assert!(matches!(
        &fx[0],
        Effect::Persist {
            kind: EventKind::DeclarationConfirmed { by: None, .. },
            ..
        }
    ));
}

#[test]
fn the_officer_changes_what_a_guest_may_do_and_the_chain_says_so() {
    let mut r = room("en");
    let relative = invite(&mut r, GuestRole::Relative).expect("invited");
    r.handle(t(2), relative, joined(relative)).expect("knocks");
    r.handle(t(3), Officer, RoomInput::Admit(Some(relative)))
        .expect("ok");
    assert_eq!(r.sources_for(Officer), [Applicant, relative]);
    let quiet = GuestPermissions {
        publish: false,
        recorded: false,
        confirm_declarations: false,
    };
    let set = |who| RoomInput::SetPermissions {
        who,
        permissions: quiet,
    };
    assert_eq!(
        r.handle(t(4), Applicant, set(relative)),
        Err(RoomError::WrongRole("officer"))
    );
    assert_eq!(
        r.handle(t(4), Officer, set(Applicant)),
        Err(RoomError::NotInvited(Applicant))
    );
    let fx = r.handle(t(4), Officer, set(relative)).expect("ok");
    assert_eq!(names(&fx), ["guest_permissions_changed", "permissions"]);
    assert_eq!(
        fx[1],
        Effect::PermissionsChanged {
            role: relative,
            publish_changed: true
        }
    );
    assert_eq!(r.permissions(relative), quiet);
    // No longer a sender: nobody receives them any more.
    assert_eq!(r.sources_for(Officer), [Applicant]);
    // The same again changes nothing and records nothing.
    assert_eq!(r.handle(t(5), Officer, set(relative)), Ok(vec![]));
    // Allowed to declare: now they get the declaration and may confirm it.
    let declares = GuestPermissions {
        confirm_declarations: true,
        ..quiet
    };
    r.handle(
        t(6),
        Officer,
        RoomInput::SetPermissions {
            who: relative,
            permissions: declares,
        },
    )
    .expect("ok");
    let fx = r
        .handle(
            t(7),
            Officer,
            RoomInput::RequestDeclaration {
                declaration: "inheritance".into(),
            },
        )
        .expect("ok");
    let sha = declaration_text(&fx, relative);
    r.handle(t(8), relative, confirm(&sha)).expect("confirms");
}
