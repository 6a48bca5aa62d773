//! One session's state machine: who is present, the consents (recording consent gates the
//! recorder), identity checks, liveness prompts, documents, declarations, the checklist, and
//! closing. Pure: [`Room::handle`] takes the clock reading and an input and returns
//! [`Effect`]s for the driver (`session.rs`) to carry out in order; the driver reports each
//! committed event back through [`Room::committed`].
//!
//! The lobby: everyone but the officer arrives knocking (`participant_knocked`) and stays in
//! the lobby until the officer admits (`participant_admitted`) or denies
//! (`participant_denied`, which closes the session as `denied`) them. Until then the room
//! refuses everything that involves the applicant, from either side, with `not_admitted`, and
//! [`Room::is_admitted`] tells the driver to refuse their media offer.
//!
//! Invariants: `StartRecording` is only emitted after the `consent_granted` event it depends
//! on; `StopRecording` comes first when recording consent is withdrawn and before any event
//! that ends the session; once ended, every input is refused.

use crate::catalogue::Checklist;
use crate::checklist::ChecklistState;
use crate::consent::{self, ShownText};
use crate::evidence::{EventKind, ParticipantRole};
use crate::signal::protocol::{ConsentRecord, NoticeText, ServerMsg};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Why an input was refused. Refusals change nothing.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoomError {
    #[error("the session is closed")]
    Closed,
    #[error("unknown consent {0:?}")]
    UnknownConsent(String),
    #[error("unknown declaration {0:?}")]
    UnknownDeclaration(String),
    #[error("no {0} request is pending")]
    NotRequested(&'static str),
    #[error("consent {0:?} was already granted")]
    AlreadyGranted(String),
    #[error("consent {0:?} is not granted, so it cannot be withdrawn")]
    NotGranted(String),
    #[error("recording consent was withdrawn; a new session is needed to record again")]
    RecordingWithdrawn,
    #[error("the text confirmed is not the text shown (hash mismatch)")]
    TextMismatch,
    #[error("only the {0} may do this")]
    WrongRole(&'static str),
    #[error("the applicant is still in the lobby: the officer has not admitted them")]
    NotAdmitted,
    #[error("nobody is waiting in the lobby")]
    NobodyWaiting,
    #[error("{0}")]
    Invalid(String),
}

impl RoomError {
    pub fn code(&self) -> &'static str {
        match self {
            RoomError::Closed => "session_closed",
            RoomError::UnknownConsent(_)
            | RoomError::UnknownDeclaration(_)
            | RoomError::Invalid(_) => "invalid",
            RoomError::NotRequested(_)
            | RoomError::AlreadyGranted(_)
            | RoomError::NotGranted(_)
            | RoomError::RecordingWithdrawn
            | RoomError::TextMismatch
            | RoomError::NobodyWaiting => "conflict",
            RoomError::WrongRole(_) => "forbidden",
            RoomError::NotAdmitted => "not_admitted",
        }
    }
}

/// An identity document already checked by `identity::check`; the number arrives masked and
/// keyed-hashed, the room never sees it in clear.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedIdentity {
    pub document_type: String,
    pub masked: String,
    pub hmac: String,
    pub expiry: Option<String>,
    pub renewal: Option<String>,
    pub summary: String,
}

/// A stored document or still.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredDocument {
    pub category: String,
    pub kind: String,
    pub media_type: String,
    pub sha256: String,
    pub size: u64,
    pub file: String,
}

/// Inputs from participants (already authenticated as members of this session).
#[derive(Clone, Debug, PartialEq)]
pub enum RoomInput {
    /// The participant arrived. The officer is in at once; anyone else knocks and waits in
    /// the lobby. `name` is shown to the officer, never written to the chain.
    Joined {
        role: ParticipantRole,
        tz: String,
        name: String,
    },
    /// Officer: let the participant waiting in the lobby in.
    Admit,
    /// Officer: turn the participant waiting in the lobby away; the session closes.
    Deny,
    Left {
        role: ParticipantRole,
        reason: String,
    },
    /// The participant's connection dropped; the driver starts the grace timer.
    Disconnected {
        role: ParticipantRole,
    },
    /// The participant came back within the grace period.
    Reconnected {
        role: ParticipantRole,
    },
    /// The grace period ran out while the participant was away.
    GraceExpired {
        role: ParticipantRole,
    },
    /// The hub is shutting down: the session ends as interrupted, sealed with what was
    /// recorded so far.
    Shutdown {
        reason: String,
    },
    RequestConsent {
        consent: String,
    },
    ConsentAnswer {
        consent: String,
        granted: bool,
    },
    WithdrawConsent {
        consent: String,
    },
    MyConsents,
    IdentityCheck {
        document: CheckedIdentity,
        attestation: String,
        face_match: bool,
    },
    /// The driver picks the prompt (randomness stays out of the room): `text` in the
    /// applicant's language, `officer_text` for the console.
    LivenessPrompt {
        prompt_id: String,
        lang: String,
        text: String,
        officer_text: String,
    },
    LivenessDone,
    LivenessResult {
        passed: bool,
    },
    DocumentAdded(StoredDocument),
    RequestDeclaration {
        declaration: String,
    },
    ConfirmDeclaration {
        declaration: String,
        text_sha256: String,
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
        reason: Option<String>,
    },
    /// Mark the session interrupted and seal what there is.
    Interrupt {
        reason: String,
    },
    /// The participant was admitted: the driver sends them `paired` so they make their offer.
    Admit {
        role: ParticipantRole,
    },
    /// Start (true) or cancel (false) the reconnection grace timer of a participant.
    Grace {
        role: ParticipantRole,
        running: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Answer {
    Pending,
    Granted,
    Refused,
    Withdrawn,
}

#[derive(Clone, Debug)]
struct ConsentState {
    text: consent::ConsentText,
    answer: Answer,
    at: Option<DateTime<Utc>>,
}

/// Someone waiting in the lobby.
#[derive(Clone, Debug)]
struct Knock {
    name: String,
    tz: String,
    since: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Room {
    applicant_lang: String,
    consents: BTreeMap<String, ConsentState>,
    notice_shown: bool,
    recording_since: Option<DateTime<Utc>>,
    liveness: Option<(String, bool)>,
    declaration: Option<ShownText>,
    checklist: ChecklistState,
    present: [bool; 2],
    /// Dropped and not back yet.
    away: [bool; 2],
    /// The applicant was let in by the officer (the officer is always in).
    admitted: bool,
    /// The applicant waiting in the lobby, if any.
    knock: Option<Knock>,
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

fn need(from: ParticipantRole, wanted: ParticipantRole) -> Result<(), RoomError> {
    if from == wanted {
        Ok(())
    } else {
        Err(RoomError::WrongRole(role_name(wanted)))
    }
}

impl Room {
    pub fn new(applicant_lang: String, checklist: &Checklist) -> Self {
        Self {
            applicant_lang,
            consents: BTreeMap::new(),
            notice_shown: false,
            recording_since: None,
            liveness: None,
            declaration: None,
            checklist: ChecklistState::new(checklist),
            present: [false; 2],
            away: [false; 2],
            admitted: false,
            knock: None,
            ended: false,
        }
    }

    /// Whether `role` is in the call (not waiting in the lobby): only then may they send media.
    pub fn is_admitted(&self, role: ParticipantRole) -> bool {
        match role {
            ParticipantRole::Officer => true,
            ParticipantRole::Applicant => self.admitted,
        }
    }

    /// The `knock` for the officer while someone waits in the lobby (sent again when the
    /// officer's console reconnects).
    pub fn knock(&self) -> Option<ServerMsg> {
        self.knock.as_ref().map(|k| ServerMsg::Knock {
            role: "applicant".into(),
            name: k.name.clone(),
            tz: k.tz.clone(),
            since: k.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
    }

    /// Inputs that involve the applicant, refused while they wait in the lobby. Exhaustive on
    /// purpose: a new input has to say which side of the lobby door it belongs to.
    fn needs_admission(input: &RoomInput) -> bool {
        match input {
            RoomInput::RequestConsent { .. }
            | RoomInput::ConsentAnswer { .. }
            | RoomInput::WithdrawConsent { .. }
            | RoomInput::MyConsents
            | RoomInput::IdentityCheck { .. }
            | RoomInput::LivenessPrompt { .. }
            | RoomInput::LivenessDone
            | RoomInput::LivenessResult { .. }
            | RoomInput::DocumentAdded(_)
            | RoomInput::RequestDeclaration { .. }
            | RoomInput::ConfirmDeclaration { .. } => true,
            RoomInput::Joined { .. }
            | RoomInput::Admit
            | RoomInput::Deny
            | RoomInput::Left { .. }
            | RoomInput::Disconnected { .. }
            | RoomInput::Reconnected { .. }
            | RoomInput::GraceExpired { .. }
            | RoomInput::Shutdown { .. }
            | RoomInput::Close => false,
        }
    }

    pub fn is_recording(&self) -> bool {
        self.recording_since.is_some()
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Whether `role` is still part of the session (possibly away within its grace period).
    pub fn is_present(&self, role: ParticipantRole) -> bool {
        !self.ended && self.present[slot(role)]
    }

    pub fn checklist(&self) -> &ChecklistState {
        &self.checklist
    }

    /// Milliseconds into the recording, if recording.
    fn offset(&self, now: DateTime<Utc>) -> Option<u64> {
        self.recording_since
            .map(|since| (now - since).num_milliseconds().max(0) as u64)
    }

    /// The driver reports each committed event, so the checklist follows the chain.
    pub fn committed(&mut self, seq: u64, kind: &EventKind) -> Vec<Effect> {
        self.checklist.observe(seq, kind);
        vec![Effect::Send {
            to: ParticipantRole::Officer,
            msg: ServerMsg::Checklist {
                items: self.checklist.items(),
            },
        }]
    }

    pub fn handle(
        &mut self,
        now: DateTime<Utc>,
        from: ParticipantRole,
        input: RoomInput,
    ) -> Result<Vec<Effect>, RoomError> {
        use ParticipantRole::{Applicant, Officer};
        if self.ended {
            return Err(RoomError::Closed);
        }
        if !self.admitted && Self::needs_admission(&input) {
            return Err(RoomError::NotAdmitted);
        }
        let persist = |kind| Effect::Persist {
            kind,
            reply_to: None,
        };
        match input {
            RoomInput::Joined { role, tz, name } => {
                self.present[slot(role)] = true;
                if self.is_admitted(role) {
                    let mut effects = vec![persist(EventKind::ParticipantJoined { role, tz })];
                    if self.is_admitted(other(role)) {
                        effects.push(Effect::Send {
                            to: other(role),
                            msg: ServerMsg::PeerState {
                                role: role_name(role).into(),
                                state: "joined".into(),
                            },
                        });
                    }
                    return Ok(effects);
                }
                // Arriving early (or on time, with a booking) bypasses nothing: the lobby.
                self.knock = Some(Knock {
                    name,
                    tz: tz.clone(),
                    since: now,
                });
                let mut effects = vec![persist(EventKind::ParticipantKnocked { role, tz })];
                effects.extend(self.knock().map(|msg| Effect::Send { to: Officer, msg }));
                effects.push(Effect::Send {
                    to: role,
                    msg: ServerMsg::Lobby {
                        state: "waiting".into(),
                    },
                });
                Ok(effects)
            }
            RoomInput::Admit => {
                need(from, Officer)?;
                if self.knock.take().is_none() {
                    return Err(RoomError::NobodyWaiting);
                }
                self.admitted = true;
                Ok(vec![
                    persist(EventKind::ParticipantAdmitted { role: Applicant }),
                    Effect::Send {
                        to: Applicant,
                        msg: ServerMsg::Lobby {
                            state: "admitted".into(),
                        },
                    },
                    Effect::Admit { role: Applicant },
                    Effect::Send {
                        to: Officer,
                        msg: ServerMsg::PeerState {
                            role: "applicant".into(),
                            state: "joined".into(),
                        },
                    },
                ])
            }
            RoomInput::Deny => {
                need(from, Officer)?;
                if self.knock.take().is_none() {
                    return Err(RoomError::NobodyWaiting);
                }
                let reason = "the officer did not admit the applicant".to_owned();
                // Nothing can be recording (consent needs admission); stop anyway, by rule.
                let mut effects = self.stop_recording(now, "entry denied");
                effects.extend([
                    persist(EventKind::ParticipantDenied { role: Applicant }),
                    Effect::Send {
                        to: Applicant,
                        msg: ServerMsg::Lobby {
                            state: "denied".into(),
                        },
                    },
                    persist(EventKind::SessionClosed {
                        outcome: "denied".into(),
                        reason: Some(reason.clone()),
                    }),
                    Effect::Seal {
                        outcome: "denied".into(),
                        reason: Some(reason),
                    },
                ]);
                self.ended = true;
                Ok(effects)
            }
            RoomInput::Disconnected { role } => {
                if self.away[slot(role)] || !self.present[slot(role)] {
                    return Ok(Vec::new());
                }
                self.away[slot(role)] = true;
                let mut effects = vec![persist(EventKind::ParticipantDisconnected { role })];
                effects.extend(self.tell_peer(role, "reconnecting"));
                effects.push(Effect::Grace {
                    role,
                    running: true,
                });
                Ok(effects)
            }
            RoomInput::Reconnected { role } => {
                if !self.away[slot(role)] {
                    // A second window taking over a live connection: nothing dropped.
                    return Ok(Vec::new());
                }
                self.away[slot(role)] = false;
                let mut effects = vec![
                    Effect::Grace {
                        role,
                        running: false,
                    },
                    persist(EventKind::ParticipantReconnected { role }),
                ];
                effects.extend(self.tell_peer(role, "rejoined"));
                Ok(effects)
            }
            RoomInput::Shutdown { reason } => {
                let mut effects = self.stop_recording(now, "hub shutting down");
                effects.push(persist(EventKind::SessionInterrupted {
                    reason: format!("hub shutting down: {reason}"),
                }));
                effects.push(Effect::Interrupt {
                    reason: format!("hub shutting down: {reason}"),
                });
                self.ended = true;
                Ok(effects)
            }
            RoomInput::GraceExpired { role } => {
                if !self.away[slot(role)] {
                    return Ok(Vec::new());
                }
                self.away[slot(role)] = false;
                self.handle(
                    now,
                    from,
                    RoomInput::Left {
                        role,
                        reason: "did not reconnect in time".into(),
                    },
                )
            }
            RoomInput::Left { role, reason } => {
                self.present[slot(role)] = false;
                if role == Applicant {
                    self.knock = None;
                }
                let mut effects = vec![persist(EventKind::ParticipantLeft {
                    role,
                    reason: reason.clone(),
                })];
                if role == Officer {
                    // Without the officer nobody may continue or close: end as interrupted.
                    effects.extend(self.stop_recording(now, "officer left"));
                    effects.push(persist(EventKind::SessionInterrupted {
                        reason: format!("officer left: {reason}"),
                    }));
                    effects.push(Effect::Interrupt { reason });
                    self.ended = true;
                } else {
                    effects.push(Effect::Send {
                        to: Officer,
                        msg: ServerMsg::PeerState {
                            role: "applicant".into(),
                            state: "left".into(),
                        },
                    });
                }
                Ok(effects)
            }
            RoomInput::RequestConsent { consent } => {
                need(from, Officer)?;
                let text = consent::current(&consent, &self.applicant_lang)
                    .ok_or(RoomError::UnknownConsent(consent.clone()))?;
                match self.consents.get(&consent).map(|c| &c.answer) {
                    Some(Answer::Granted) => return Err(RoomError::AlreadyGranted(consent)),
                    Some(Answer::Withdrawn) if consent == "recording" => {
                        return Err(RoomError::RecordingWithdrawn);
                    }
                    _ => {}
                }
                let mut effects = Vec::new();
                let notice = if self.notice_shown {
                    None
                } else {
                    let n = consent::stored_anyway(&self.applicant_lang)
                        .ok_or_else(|| RoomError::Invalid("no notice text".into()))?;
                    self.notice_shown = true;
                    effects.push(persist(EventKind::NoticeShown {
                        text_id: n.id.into(),
                        text_version: n.version,
                        lang: n.lang.into(),
                        text_sha256: n.sha256.clone(),
                    }));
                    Some(NoticeText {
                        text: n.text.into(),
                        text_sha256: n.sha256,
                    })
                };
                let (meta, shown) = (text.meta, text.shown.clone());
                effects.push(persist(EventKind::ConsentRequested {
                    consent: consent.clone(),
                    text_id: shown.id.into(),
                    text_version: shown.version,
                    lang: shown.lang.into(),
                    text_sha256: shown.sha256.clone(),
                    legal_basis: meta.legal_basis.into(),
                    retention: meta.retention.into(),
                    recipient: meta.recipient.map(Into::into),
                }));
                effects.push(Effect::Send {
                    to: Applicant,
                    msg: ServerMsg::ConsentRequested {
                        consent: consent.clone(),
                        text_id: shown.id.into(),
                        text_version: shown.version,
                        lang: shown.lang.into(),
                        text: shown.text.into(),
                        text_sha256: shown.sha256,
                        legal_basis: meta.legal_basis.into(),
                        retention: meta.retention.into(),
                        recipient: meta.recipient.map(Into::into),
                        notice,
                    },
                });
                self.consents.insert(
                    consent,
                    ConsentState {
                        text,
                        answer: Answer::Pending,
                        at: None,
                    },
                );
                Ok(effects)
            }
            RoomInput::ConsentAnswer { consent, granted } => {
                need(from, Applicant)?;
                let state = self
                    .consents
                    .get_mut(&consent)
                    .ok_or(RoomError::NotRequested("consent"))?;
                if state.answer != Answer::Pending {
                    return Err(RoomError::NotRequested("consent"));
                }
                state.answer = if granted {
                    Answer::Granted
                } else {
                    Answer::Refused
                };
                state.at = Some(now);
                let (meta, shown) = (state.text.meta, state.text.shown.clone());
                let offset = self.offset(now);
                let reply_to = Some(Applicant);
                let fields = (
                    consent.clone(),
                    shown.id.to_owned(),
                    shown.version,
                    shown.lang.to_owned(),
                    shown.sha256.clone(),
                    meta.legal_basis.to_owned(),
                    meta.retention.to_owned(),
                );
                let (consent_id, text_id, text_version, lang, text_sha256, legal_basis, retention) =
                    fields;
                if granted {
                    let kind = EventKind::ConsentGranted {
                        consent: consent_id,
                        text_id,
                        text_version,
                        lang,
                        text_sha256,
                        legal_basis,
                        retention,
                        recording_offset_ms: offset,
                    };
                    let mut effects = vec![Effect::Persist { kind, reply_to }];
                    if consent == "recording" {
                        self.recording_since = Some(now);
                        effects.push(Effect::StartRecording);
                    }
                    Ok(effects)
                } else {
                    let kind = EventKind::ConsentRefused {
                        consent: consent_id,
                        text_id,
                        text_version,
                        lang,
                        text_sha256,
                        legal_basis,
                        retention,
                        recording_offset_ms: offset,
                    };
                    Ok(vec![Effect::Persist { kind, reply_to }])
                }
            }
            RoomInput::WithdrawConsent { consent } => {
                need(from, Applicant)?;
                let state = self
                    .consents
                    .get_mut(&consent)
                    .filter(|s| s.answer == Answer::Granted)
                    .ok_or(RoomError::NotGranted(consent.clone()))?;
                state.answer = Answer::Withdrawn;
                state.at = Some(now);
                let text_sha256 = state.text.shown.sha256.clone();
                let offset = self.offset(now);
                let mut effects = Vec::new();
                if consent == "recording" {
                    // Stop first: not one more packet is written after the withdrawal.
                    effects.extend(self.stop_recording(now, "recording consent withdrawn"));
                }
                effects.insert(
                    usize::from(consent == "recording"),
                    Effect::Persist {
                        kind: EventKind::ConsentWithdrawn {
                            consent,
                            text_sha256,
                            recording_offset_ms: offset,
                        },
                        reply_to: Some(Applicant),
                    },
                );
                Ok(effects)
            }
            RoomInput::MyConsents => {
                need(from, Applicant)?;
                let items = self
                    .consents
                    .iter()
                    .map(|(id, c)| ConsentRecord {
                        consent: id.clone(),
                        text_id: c.text.shown.id.into(),
                        text_version: c.text.shown.version,
                        lang: c.text.shown.lang.into(),
                        text: c.text.shown.text.into(),
                        text_sha256: c.text.shown.sha256.clone(),
                        answer: match c.answer {
                            Answer::Pending => "pending",
                            Answer::Granted => "granted",
                            Answer::Refused => "refused",
                            Answer::Withdrawn => "withdrawn",
                        }
                        .into(),
                        at: c.at.map(|t| t.to_rfc3339()),
                        legal_basis: c.text.meta.legal_basis.into(),
                        retention: c.text.meta.retention.into(),
                        recipient: c.text.meta.recipient.map(Into::into),
                    })
                    .collect();
                Ok(vec![Effect::Send {
                    to: Applicant,
                    msg: ServerMsg::Consents { items },
                }])
            }
            RoomInput::IdentityCheck {
                document,
                attestation,
                face_match,
            } => {
                need(from, Officer)?;
                if attestation.trim().is_empty() || attestation.len() > 2000 {
                    return Err(RoomError::Invalid(
                        "attestation must be 1 to 2000 bytes".into(),
                    ));
                }
                Ok(vec![persist(EventKind::IdentityCheckRecorded {
                    document_type: document.document_type,
                    document_number_masked: document.masked,
                    document_number_hmac: document.hmac,
                    expiry: document.expiry,
                    renewal: document.renewal,
                    summary: document.summary,
                    attestation,
                    outcome: if face_match { "match" } else { "mismatch" }.into(),
                    recording_offset_ms: self.offset(now),
                })])
            }
            RoomInput::LivenessPrompt {
                prompt_id,
                lang,
                text,
                officer_text,
            } => {
                need(from, Officer)?;
                self.liveness = Some((prompt_id.clone(), false));
                Ok(vec![
                    persist(EventKind::LivenessPrompted {
                        prompt_id: prompt_id.clone(),
                        lang,
                        text_sha256: crate::evidence::sha256_hex(text.as_bytes()),
                        recording_offset_ms: self.offset(now),
                    }),
                    Effect::Send {
                        to: Officer,
                        msg: ServerMsg::LivenessPrompt {
                            prompt_id: prompt_id.clone(),
                            text: officer_text,
                        },
                    },
                    Effect::Send {
                        to: Applicant,
                        msg: ServerMsg::LivenessPrompt { prompt_id, text },
                    },
                ])
            }
            RoomInput::LivenessDone => {
                need(from, Applicant)?;
                let (prompt_id, answered) = self
                    .liveness
                    .as_mut()
                    .ok_or(RoomError::NotRequested("liveness"))?;
                if *answered {
                    return Err(RoomError::NotRequested("liveness"));
                }
                *answered = true;
                let prompt_id = prompt_id.clone();
                Ok(vec![Effect::Persist {
                    kind: EventKind::LivenessResponded {
                        prompt_id,
                        recording_offset_ms: self.offset(now),
                    },
                    reply_to: Some(Applicant),
                }])
            }
            RoomInput::LivenessResult { passed } => {
                need(from, Officer)?;
                let (prompt_id, _) = self
                    .liveness
                    .take()
                    .ok_or(RoomError::NotRequested("liveness"))?;
                Ok(vec![persist(EventKind::LivenessAttested {
                    prompt_id,
                    passed,
                    recording_offset_ms: self.offset(now),
                })])
            }
            RoomInput::DocumentAdded(doc) => {
                need(from, Officer)?;
                Ok(vec![persist(EventKind::DocumentAdded {
                    category: doc.category,
                    document: doc.kind,
                    media_type: doc.media_type,
                    sha256: doc.sha256,
                    size: doc.size,
                    file: doc.file,
                    recording_offset_ms: self.offset(now),
                })])
            }
            RoomInput::RequestDeclaration { declaration } => {
                need(from, Officer)?;
                let text = consent::declaration(&declaration, &self.applicant_lang)
                    .ok_or(RoomError::UnknownDeclaration(declaration))?;
                self.declaration = Some(text.clone());
                Ok(vec![
                    persist(EventKind::DeclarationRequested {
                        declaration: text.id.into(),
                        version: text.version,
                        lang: text.lang.into(),
                        text_sha256: text.sha256.clone(),
                    }),
                    Effect::Send {
                        to: Applicant,
                        msg: ServerMsg::DeclarationRequested {
                            declaration: text.id.into(),
                            version: text.version,
                            lang: text.lang.into(),
                            text: text.text.into(),
                            text_sha256: text.sha256,
                        },
                    },
                ])
            }
            RoomInput::ConfirmDeclaration {
                declaration,
                text_sha256,
            } => {
                need(from, Applicant)?;
                let shown = self
                    .declaration
                    .as_ref()
                    .filter(|d| d.id == declaration)
                    .ok_or(RoomError::NotRequested("declaration"))?;
                if shown.sha256 != text_sha256 {
                    return Err(RoomError::TextMismatch);
                }
                let kind = EventKind::DeclarationConfirmed {
                    declaration,
                    version: shown.version,
                    lang: shown.lang.into(),
                    text_sha256,
                    recording_offset_ms: self.offset(now),
                };
                self.declaration = None;
                Ok(vec![Effect::Persist {
                    kind,
                    reply_to: Some(Applicant),
                }])
            }
            RoomInput::Close => {
                need(from, Officer)?;
                let mut effects = self.stop_recording(now, "session closed");
                let outcome = self.checklist.outcome();
                effects.push(persist(EventKind::SessionClosed {
                    outcome: outcome.outcome.into(),
                    reason: outcome.reason.clone(),
                }));
                effects.push(Effect::Seal {
                    outcome: outcome.outcome.into(),
                    reason: outcome.reason,
                });
                self.ended = true;
                Ok(effects)
            }
        }
    }

    /// Tell the other participant how `role` is doing, unless they wait in the lobby.
    fn tell_peer(&self, role: ParticipantRole, state: &str) -> Option<Effect> {
        self.is_admitted(other(role)).then(|| Effect::Send {
            to: other(role),
            msg: ServerMsg::PeerState {
                role: role_name(role).into(),
                state: state.into(),
            },
        })
    }

    fn stop_recording(&mut self, now: DateTime<Utc>, reason: &str) -> Vec<Effect> {
        let Some(offset) = self.offset(now) else {
            return Vec::new();
        };
        self.recording_since = None;
        vec![
            Effect::StopRecording,
            Effect::Persist {
                kind: EventKind::RecordingStopped {
                    reason: reason.into(),
                    recording_offset_ms: Some(offset),
                },
                reply_to: None,
            },
        ]
    }
}

#[cfg(test)]
mod tests;
