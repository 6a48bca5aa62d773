//! One session's state machine: who is present, the recording consent (which gates the
//! recorder), and closing. Pure: [`Room::handle`] takes an input and returns [`Effect`]s for the
//! driver (`session.rs`) to carry out in order: persist an evidence event, send a message,
//! start or stop the recorder, seal.
//!
//! Invariant: `StartRecording` is only ever emitted after the `ConsentGranted` event it depends
//! on, and `StopRecording` comes before any event that ends the session.

use crate::consent;
use crate::evidence::{EventKind, ParticipantRole};
use crate::signal::protocol::ServerMsg;

#[derive(Clone, Debug, PartialEq, Eq)]
enum ConsentState {
    NotAsked,
    Requested { text_sha256: String },
    Granted,
    Refused,
}

/// Why an input was refused. Refusals change nothing.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoomError {
    #[error("the session is closed")]
    Closed,
    #[error("unknown consent {0:?}; protocol v1 knows \"recording\"")]
    UnknownConsent(String),
    #[error("no consent request is pending")]
    NotRequested,
    #[error("recording consent was already granted")]
    AlreadyGranted,
    #[error("only the {0} may do this")]
    WrongRole(&'static str),
    #[error("{0}")]
    Invalid(String),
}

impl RoomError {
    pub fn code(&self) -> &'static str {
        match self {
            RoomError::Closed => "session_closed",
            RoomError::UnknownConsent(_) | RoomError::Invalid(_) => "invalid",
            RoomError::NotRequested | RoomError::AlreadyGranted => "conflict",
            RoomError::WrongRole(_) => "forbidden",
        }
    }
}

/// Inputs from participants (already authorised as members of this session).
#[derive(Clone, Debug, PartialEq)]
pub enum RoomInput {
    Joined {
        role: ParticipantRole,
        tz: String,
    },
    Left {
        role: ParticipantRole,
        reason: String,
    },
    RequestConsent {
        consent: String,
    },
    ConsentAnswer {
        consent: String,
        granted: bool,
    },
    /// The number arrives masked and keyed-hashed; the room never sees it in clear.
    IdentityCheck {
        document_type: String,
        document_number_masked: String,
        document_number_hmac: String,
        attestation: String,
        outcome: String,
    },
    Close,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Commit an evidence event, then ack it to the officer and to `reply_to`.
    Persist {
        kind: EventKind,
        reply_to: Option<ParticipantRole>,
    },
    Send {
        to: ParticipantRole,
        msg: ServerMsg,
    },
    StartRecording,
    StopRecording,
    /// Close the session record and seal its artefact with this outcome.
    Seal {
        outcome: String,
    },
    /// Mark the session interrupted (no artefact sealed by the room).
    Interrupt {
        reason: String,
    },
}

#[derive(Debug)]
pub struct Room {
    applicant_lang: String,
    consent: ConsentState,
    recording: bool,
    present: [bool; 2],
    ended: bool,
}

fn slot(role: ParticipantRole) -> usize {
    match role {
        ParticipantRole::Applicant => 0,
        ParticipantRole::Officer => 1,
    }
}

pub fn other(role: ParticipantRole) -> ParticipantRole {
    match role {
        ParticipantRole::Applicant => ParticipantRole::Officer,
        ParticipantRole::Officer => ParticipantRole::Applicant,
    }
}

fn role_name(role: ParticipantRole) -> &'static str {
    match role {
        ParticipantRole::Applicant => "applicant",
        ParticipantRole::Officer => "officer",
    }
}

const DOCUMENT_TYPES: [&str; 3] = ["id-card", "passport", "driving-licence"];
const OUTCOMES: [&str; 2] = ["match", "mismatch"];

impl Room {
    pub fn new(applicant_lang: String) -> Self {
        Self {
            applicant_lang,
            consent: ConsentState::NotAsked,
            recording: false,
            present: [false; 2],
            ended: false,
        }
    }

    pub fn is_recording(&self) -> bool {
        self.recording
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    pub fn handle(
        &mut self,
        from: ParticipantRole,
        input: RoomInput,
    ) -> Result<Vec<Effect>, RoomError> {
        if self.ended {
            return Err(RoomError::Closed);
        }
        let officer_only = || {
            if from == ParticipantRole::Officer {
                Ok(())
            } else {
                Err(RoomError::WrongRole("officer"))
            }
        };
        match input {
            RoomInput::Joined { role, tz } => {
                self.present[slot(role)] = true;
                Ok(vec![
                    Effect::Persist {
                        kind: EventKind::ParticipantJoined { role, tz },
                        reply_to: None,
                    },
                    Effect::Send {
                        to: other(role),
                        msg: ServerMsg::PeerState {
                            role: role_name(role).into(),
                            state: "joined".into(),
                        },
                    },
                ])
            }
            RoomInput::Left { role, reason } => {
                self.present[slot(role)] = false;
                let mut effects = vec![Effect::Persist {
                    kind: EventKind::ParticipantLeft {
                        role,
                        reason: reason.clone(),
                    },
                    reply_to: None,
                }];
                if role == ParticipantRole::Officer {
                    // Without the officer nobody may continue or close: end as interrupted.
                    effects.extend(self.stop_recording("officer left"));
                    effects.push(Effect::Persist {
                        kind: EventKind::SessionInterrupted {
                            reason: format!("officer left: {reason}"),
                        },
                        reply_to: None,
                    });
                    effects.push(Effect::Interrupt { reason });
                    self.ended = true;
                } else {
                    effects.push(Effect::Send {
                        to: ParticipantRole::Officer,
                        msg: ServerMsg::PeerState {
                            role: "applicant".into(),
                            state: "left".into(),
                        },
                    });
                }
                Ok(effects)
            }
            RoomInput::RequestConsent { consent } => {
                officer_only()?;
                let text = consent::current(&consent, &self.applicant_lang)
                    .ok_or(RoomError::UnknownConsent(consent))?;
                if self.consent == ConsentState::Granted {
                    return Err(RoomError::AlreadyGranted);
                }
                self.consent = ConsentState::Requested {
                    text_sha256: text.sha256.clone(),
                };
                Ok(vec![
                    Effect::Persist {
                        kind: EventKind::ConsentRequested {
                            consent: text.consent.into(),
                            text_id: text.text_id.clone(),
                            text_version: text.version,
                            lang: text.lang.into(),
                            text_sha256: text.sha256.clone(),
                        },
                        reply_to: None,
                    },
                    Effect::Send {
                        to: ParticipantRole::Applicant,
                        msg: ServerMsg::ConsentRequested {
                            consent: text.consent.into(),
                            text_id: text.text_id,
                            text_version: text.version,
                            lang: text.lang.into(),
                            text: text.text.into(),
                            text_sha256: text.sha256,
                        },
                    },
                ])
            }
            RoomInput::ConsentAnswer { consent, granted } => {
                if from != ParticipantRole::Applicant {
                    return Err(RoomError::WrongRole("applicant"));
                }
                if consent != "recording" {
                    return Err(RoomError::UnknownConsent(consent));
                }
                let ConsentState::Requested { text_sha256 } = self.consent.clone() else {
                    return Err(RoomError::NotRequested);
                };
                let reply_to = Some(ParticipantRole::Applicant);
                if granted {
                    self.consent = ConsentState::Granted;
                    self.recording = true;
                    Ok(vec![
                        Effect::Persist {
                            kind: EventKind::ConsentGranted {
                                consent,
                                text_sha256,
                            },
                            reply_to,
                        },
                        Effect::StartRecording,
                    ])
                } else {
                    self.consent = ConsentState::Refused;
                    Ok(vec![Effect::Persist {
                        kind: EventKind::ConsentRefused {
                            consent,
                            text_sha256,
                        },
                        reply_to,
                    }])
                }
            }
            RoomInput::IdentityCheck {
                document_type,
                document_number_masked,
                document_number_hmac,
                attestation,
                outcome,
            } => {
                officer_only()?;
                if !DOCUMENT_TYPES.contains(&document_type.as_str()) {
                    return Err(RoomError::Invalid(format!(
                        "document_type must be one of {DOCUMENT_TYPES:?}"
                    )));
                }
                if !OUTCOMES.contains(&outcome.as_str()) {
                    return Err(RoomError::Invalid(format!(
                        "outcome must be one of {OUTCOMES:?}"
                    )));
                }
                if attestation.trim().is_empty() || attestation.len() > 2000 {
                    return Err(RoomError::Invalid(
                        "attestation must be 1 to 2000 bytes".into(),
                    ));
                }
                Ok(vec![Effect::Persist {
                    kind: EventKind::IdentityCheckRecorded {
                        document_type,
                        document_number_masked,
                        document_number_hmac,
                        attestation,
                        outcome,
                    },
                    reply_to: None,
                }])
            }
            RoomInput::Close => {
                officer_only()?;
                let mut effects = self.stop_recording("session closed");
                effects.push(Effect::Persist {
                    kind: EventKind::SessionClosed {
                        outcome: "completed".into(),
                    },
                    reply_to: None,
                });
                effects.push(Effect::Seal {
                    outcome: "completed".into(),
                });
                self.ended = true;
                Ok(effects)
            }
        }
    }

    fn stop_recording(&mut self, reason: &str) -> Vec<Effect> {
        if !self.recording {
            return Vec::new();
        }
        self.recording = false;
        vec![
            Effect::StopRecording,
            Effect::Persist {
                kind: EventKind::RecordingStopped {
                    reason: reason.into(),
                },
                reply_to: None,
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ParticipantRole::{Applicant, Officer};

    fn kinds(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .map(|e| match e {
                Effect::Persist { kind, .. } => kind.name().to_owned(),
                Effect::Send { msg, .. } => {
                    format!("send:{}", crate::signal::protocol::encode(msg).len().min(1))
                }
                Effect::StartRecording => "start".into(),
                Effect::StopRecording => "stop".into(),
                Effect::Seal { .. } => "seal".into(),
                Effect::Interrupt { .. } => "interrupt".into(),
            })
            .collect()
    }

    #[test]
    fn recording_starts_only_after_granted_consent_is_persisted() {
        let mut room = Room::new("pt".into());
        assert_eq!(
            room.handle(
                Applicant,
                RoomInput::ConsentAnswer {
                    consent: "recording".into(),
                    granted: true
                }
            ),
            Err(RoomError::NotRequested)
        );
        let fx = room
            .handle(
                Officer,
                RoomInput::RequestConsent {
                    consent: "recording".into(),
                },
            )
            .unwrap();
        let Effect::Send {
            to: Applicant,
            msg: ServerMsg::ConsentRequested { lang, .. },
        } = &fx[1]
        else {
            panic!("expected consent text for the applicant: {fx:?}");
        };
        assert_eq!(lang, "pt");
        assert!(!room.is_recording());
        let fx = room
            .handle(
                Applicant,
                RoomInput::ConsentAnswer {
                    consent: "recording".into(),
                    granted: true,
                },
            )
            .unwrap();
        assert_eq!(kinds(&fx), ["consent_granted", "start"]);
        assert!(room.is_recording());
        let fx = room.handle(Officer, RoomInput::Close).unwrap();
        assert_eq!(
            kinds(&fx),
            ["stop", "recording_stopped", "session_closed", "seal"]
        );
        assert_eq!(
            room.handle(Officer, RoomInput::Close),
            Err(RoomError::Closed)
        );
    }

    #[test]
    fn refusal_never_starts_the_recorder() {
        let mut room = Room::new("en".into());
        room.handle(
            Officer,
            RoomInput::RequestConsent {
                consent: "recording".into(),
            },
        )
        .unwrap();
        let fx = room
            .handle(
                Applicant,
                RoomInput::ConsentAnswer {
                    consent: "recording".into(),
                    granted: false,
                },
            )
            .unwrap();
        assert_eq!(kinds(&fx), ["consent_refused"]);
        assert!(!room.is_recording());
        assert_eq!(
            kinds(&room.handle(Officer, RoomInput::Close).unwrap()),
            ["session_closed", "seal"]
        );
    }

    #[test]
    fn roles_are_enforced() {
        let mut room = Room::new("en".into());
        assert_eq!(
            room.handle(
                Applicant,
                RoomInput::RequestConsent {
                    consent: "recording".into()
                }
            ),
            Err(RoomError::WrongRole("officer"))
        );
        assert_eq!(
            room.handle(Applicant, RoomInput::Close),
            Err(RoomError::WrongRole("officer"))
        );
        room.handle(
            Officer,
            RoomInput::RequestConsent {
                consent: "recording".into(),
            },
        )
        .unwrap();
        assert_eq!(
            room.handle(
                Officer,
                RoomInput::ConsentAnswer {
                    consent: "recording".into(),
                    granted: true
                }
            ),
            Err(RoomError::WrongRole("applicant"))
        );
        assert!(matches!(
            room.handle(
                Officer,
                RoomInput::RequestConsent {
                    consent: "x".into()
                }
            ),
            Err(RoomError::UnknownConsent(_))
        ));
    }

    #[test]
    fn identity_check_fields_are_validated() {
        let mut room = Room::new("en".into());
        let check = |t: &str, o: &str| RoomInput::IdentityCheck {
            document_type: t.into(),
            document_number_masked: "L8*****C3".into(),
            document_number_hmac: "h".into(),
            attestation: "match".into(),
            outcome: o.into(),
        };
        assert!(matches!(
            room.handle(Officer, check("library-card", "match")),
            Err(RoomError::Invalid(_))
        ));
        assert!(matches!(
            room.handle(Officer, check("passport", "maybe")),
            Err(RoomError::Invalid(_))
        ));
        assert_eq!(
            kinds(&room.handle(Officer, check("passport", "match")).unwrap()),
            ["identity_check_recorded"]
        );
    }

    #[test]
    fn officer_leaving_interrupts_and_stops_recording() {
        let mut room = Room::new("en".into());
        room.handle(
            Officer,
            RoomInput::RequestConsent {
                consent: "recording".into(),
            },
        )
        .unwrap();
        room.handle(
            Applicant,
            RoomInput::ConsentAnswer {
                consent: "recording".into(),
                granted: true,
            },
        )
        .unwrap();
        let fx = room
            .handle(
                Officer,
                RoomInput::Left {
                    role: Officer,
                    reason: "socket closed".into(),
                },
            )
            .unwrap();
        assert_eq!(
            kinds(&fx),
            [
                "participant_left",
                "stop",
                "recording_stopped",
                "session_interrupted",
                "interrupt"
            ]
        );
        assert!(room.is_ended());
    }
}
