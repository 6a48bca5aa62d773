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
use crate::evidence::{EventKind, GuestRole, ParticipantRole};
use crate::signal::protocol::{ConsentRecord, NoticeText, ServerMsg};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// Most people in one session: the applicant, the officer and up to four guests.
pub const MAX_PARTICIPANTS: usize = 6;

/// What a guest role may do once admitted. The applicant and the officer always publish and
/// are recorded; only the applicant (and guests allowed to) confirm declarations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct GuestPermissions {
    /// May send audio and video (otherwise they only watch and listen).
    pub publish: bool,
    /// Their media goes into the recording (when recording consent is given).
    pub recorded: bool,
    /// May confirm the declarations the officer asks for (a co-heir declares too).
    pub confirm_declarations: bool,
}

impl GuestPermissions {
    /// The defaults: relatives and interpreters speak and are recorded; a site assistant sits
    /// beside the applicant and is seen through the applicant's camera, so publishes nothing
    /// of their own; a co-heir also confirms the declaration.
    pub fn default_for(role: GuestRole) -> GuestPermissions {
        let (publish, recorded, confirm_declarations) = match role {
            GuestRole::Relative | GuestRole::Interpreter => (true, true, false),
            GuestRole::SiteAssistant => (false, false, false),
            GuestRole::CoHeir => (true, true, true),
        };
        GuestPermissions {
            publish,
            recorded,
            confirm_declarations,
        }
    }
}

/// The permissions of every guest role (defaults, overridden by configuration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestPolicy(BTreeMap<GuestRole, GuestPermissions>);

impl Default for GuestPolicy {
    fn default() -> Self {
        GuestPolicy(
            GuestRole::ALL
                .into_iter()
                .map(|r| (r, GuestPermissions::default_for(r)))
                .collect(),
        )
    }
}

impl GuestPolicy {
    pub fn with(mut self, role: GuestRole, permissions: GuestPermissions) -> Self {
        self.0.insert(role, permissions);
        self
    }

    pub fn of(&self, role: GuestRole) -> GuestPermissions {
        self.0
            .get(&role)
            .copied()
            .unwrap_or_else(|| GuestPermissions::default_for(role))
    }
}

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
    #[error("several people are waiting: say which one")]
    WhichOne,
    #[error("the session already has {MAX_PARTICIPANTS} participants")]
    Full,
    #[error("{0} was not invited to this session, or has left it")]
    NotInvited(ParticipantRole),
    #[error("a {0} may not {1}")]
    NotPermitted(GuestRole, &'static str),
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
            | RoomError::NobodyWaiting
            | RoomError::WhichOne => "conflict",
            RoomError::Full => "session_full",
            RoomError::WrongRole(_) | RoomError::NotInvited(_) | RoomError::NotPermitted(..) => {
                "forbidden"
            }
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
    /// Officer: let a participant waiting in the lobby in (`None`: the only one waiting).
    Admit(Option<ParticipantRole>),
    /// Officer: turn a participant waiting in the lobby away (`None`: the only one waiting).
    /// Turning the applicant away closes the session; a guest is simply not let in.
    Deny(Option<ParticipantRole>),
    /// Officer: change what a guest may do in this session.
    SetPermissions {
        who: ParticipantRole,
        permissions: GuestPermissions,
    },
    /// Officer: invite a guest in a named role; the driver mints their link. `name` and `tz`
    /// (their IANA zone) are shown to the others, never written to the chain.
    InviteGuest {
        role: GuestRole,
        name: String,
        tz: String,
    },
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
    /// A guest seat was created: the driver mints the guest's link and gives it to the officer.
    GuestInvited {
        role: ParticipantRole,
        name: String,
        tz: String,
    },
    /// A guest's permissions changed: the driver restarts their media to match (publishing or
    /// not) and renegotiates the others.
    PermissionsChanged {
        role: ParticipantRole,
        publish_changed: bool,
    },
    /// The participant is out of the call for good (left, or turned away): the driver drops
    /// their media, and a guest's link stops working.
    Departed {
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

/// One participant's place in the session.
#[derive(Clone, Debug, Default)]
struct Seat {
    /// Arrived and not left (possibly away within the grace period).
    present: bool,
    /// Dropped and not back yet.
    away: bool,
    /// Let in by the officer (the officer is always in).
    admitted: bool,
    /// Waiting in the lobby.
    knock: Option<Knock>,
    /// A guest who left or was turned away: their seat is free and their link dead.
    gone: bool,
    /// What the officer changed a guest's permissions to, for this session.
    permissions: Option<GuestPermissions>,
}

#[derive(Clone, Debug)]
pub struct Room {
    applicant_lang: String,
    consents: BTreeMap<String, ConsentState>,
    notice_shown: bool,
    recording_since: Option<DateTime<Utc>>,
    liveness: Option<(String, bool)>,
    declaration: Option<ShownText>,
    /// Who confirmed the open declaration so far.
    confirmed: BTreeSet<ParticipantRole>,
    checklist: ChecklistState,
    seats: BTreeMap<ParticipantRole, Seat>,
    guests: GuestPolicy,
    /// Guests invited so far (numbering never reuses a name).
    invited: u8,
    ended: bool,
}

fn role_name(role: ParticipantRole) -> &'static str {
    role.kind()
}

fn need(from: ParticipantRole, wanted: ParticipantRole) -> Result<(), RoomError> {
    if from == wanted {
        Ok(())
    } else {
        Err(RoomError::WrongRole(role_name(wanted)))
    }
}

impl Room {
    pub fn new(applicant_lang: String, checklist: &Checklist, guests: GuestPolicy) -> Self {
        let mut seats = BTreeMap::new();
        seats.insert(ParticipantRole::Applicant, Seat::default());
        seats.insert(
            ParticipantRole::Officer,
            Seat {
                admitted: true,
                ..Seat::default()
            },
        );
        Self {
            applicant_lang,
            consents: BTreeMap::new(),
            notice_shown: false,
            recording_since: None,
            liveness: None,
            declaration: None,
            confirmed: BTreeSet::new(),
            checklist: ChecklistState::new(checklist),
            seats,
            guests,
            invited: 0,
            ended: false,
        }
    }

    fn seat(&self, role: ParticipantRole) -> Option<&Seat> {
        self.seats.get(&role)
    }

    /// Whether `role` is in the call (not waiting in the lobby): only then may they send media.
    pub fn is_admitted(&self, role: ParticipantRole) -> bool {
        self.seat(role).is_some_and(|s| s.admitted && !s.gone)
    }

    /// What a participant may do: guests by their role's permissions, the applicant and the
    /// officer everything but (for the officer) confirming declarations.
    pub fn permissions(&self, role: ParticipantRole) -> GuestPermissions {
        match role {
            ParticipantRole::Guest { role: guest, .. } => self
                .seat(role)
                .and_then(|s| s.permissions)
                .unwrap_or_else(|| self.guests.of(guest)),
            ParticipantRole::Applicant => GuestPermissions {
                publish: true,
                recorded: true,
                confirm_declarations: true,
            },
            ParticipantRole::Officer => GuestPermissions {
                publish: true,
                recorded: true,
                confirm_declarations: false,
            },
        }
    }

    /// Whether a guest link for `role` still opens this session.
    pub fn is_invited(&self, role: ParticipantRole) -> bool {
        !self.ended && self.seat(role).is_some_and(|s| !s.gone)
    }

    /// Everyone admitted and present, in a stable order (applicant, officer, guests).
    pub fn in_call(&self) -> Vec<ParticipantRole> {
        self.seats
            .iter()
            .filter(|(_, s)| s.admitted && s.present && !s.gone)
            .map(|(r, _)| *r)
            .collect()
    }

    /// Whose media `receiver` gets: everyone else admitted and present who may publish.
    pub fn sources_for(&self, receiver: ParticipantRole) -> Vec<ParticipantRole> {
        self.in_call()
            .into_iter()
            .filter(|r| *r != receiver && self.permissions(*r).publish)
            .collect()
    }

    /// A `knock` for the officer for each participant waiting in the lobby (sent again when
    /// the officer's console reconnects).
    pub fn knocks(&self) -> Vec<ServerMsg> {
        self.seats
            .iter()
            .filter_map(|(role, seat)| Some((role, seat.knock.as_ref()?)))
            .map(|(role, k)| knock_msg(*role, k))
            .collect()
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
            | RoomInput::Admit(_)
            | RoomInput::Deny(_)
            | RoomInput::InviteGuest { .. }
            | RoomInput::SetPermissions { .. }
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
        !self.ended && self.seat(role).is_some_and(|s| s.present && !s.gone)
    }

    pub fn checklist(&self) -> &ChecklistState {
        &self.checklist
    }

    /// Milliseconds into the recording at `now`, if recording.
    pub fn offset(&self, now: DateTime<Utc>) -> Option<u64> {
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

    /// The participant a lobby answer is about: the one named, or the only one waiting.
    fn waiting(&self, who: Option<ParticipantRole>) -> Result<ParticipantRole, RoomError> {
        let mut knocking = self
            .seats
            .iter()
            .filter(|(_, s)| s.knock.is_some())
            .map(|(r, _)| *r);
        match who {
            Some(who) => knocking.find(|r| *r == who).ok_or(RoomError::NobodyWaiting),
            None => match (knocking.next(), knocking.next()) {
                (Some(only), None) => Ok(only),
                (None, _) => Err(RoomError::NobodyWaiting),
                (Some(_), Some(_)) => Err(RoomError::WhichOne),
            },
        }
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
        if !self.is_admitted(Applicant) && Self::needs_admission(&input) {
            return Err(RoomError::NotAdmitted);
        }
        if let ParticipantRole::Guest { .. } = from
            && !matches!(
                input,
                RoomInput::ConfirmDeclaration { .. }
                    | RoomInput::Joined { .. }
                    | RoomInput::Left { .. }
                    | RoomInput::Disconnected { .. }
                    | RoomInput::Reconnected { .. }
                    | RoomInput::GraceExpired { .. }
            )
        {
            // Guests only come and go (the driver speaks for them) and confirm declarations.
            return Err(RoomError::WrongRole("officer"));
        }
        let persist = |kind| Effect::Persist {
            kind,
            reply_to: None,
        };
        match input {
            RoomInput::Joined { role, tz, name } => {
                if !self.is_invited(role) {
                    return Err(RoomError::NotInvited(role));
                }
                let others = self.in_call();
                let seat = self.seats.entry(role).or_default();
                seat.present = true;
                if seat.admitted {
                    let mut effects = vec![persist(EventKind::ParticipantJoined { role, tz })];
                    effects.extend(others.into_iter().map(|to| Effect::Send {
                        to,
                        msg: ServerMsg::PeerState {
                            role: role.to_string(),
                            state: "joined".into(),
                        },
                    }));
                    return Ok(effects);
                }
                // Arriving early (or on time, with a booking) bypasses nothing: the lobby.
                let knock = Knock {
                    name,
                    tz: tz.clone(),
                    since: now,
                };
                let msg = knock_msg(role, &knock);
                seat.knock = Some(knock);
                Ok(vec![
                    persist(EventKind::ParticipantKnocked { role, tz }),
                    Effect::Send { to: Officer, msg },
                    Effect::Send {
                        to: role,
                        msg: ServerMsg::Lobby {
                            state: "waiting".into(),
                        },
                    },
                ])
            }
            RoomInput::InviteGuest { role, name, tz } => {
                need(from, Officer)?;
                let taken = self.seats.values().filter(|s| !s.gone).count();
                if taken >= MAX_PARTICIPANTS {
                    return Err(RoomError::Full);
                }
                let n = self
                    .invited
                    .checked_add(1)
                    .ok_or(RoomError::Invalid("too many invitations".into()))?;
                self.invited = n;
                let guest = ParticipantRole::Guest { n, role };
                self.seats.insert(guest, Seat::default());
                let may = self.guests.of(role);
                Ok(vec![
                    persist(EventKind::GuestInvited {
                        role: guest,
                        may_publish: may.publish,
                        recorded: may.recorded,
                        may_confirm_declarations: may.confirm_declarations,
                    }),
                    Effect::GuestInvited {
                        role: guest,
                        name,
                        tz,
                    },
                ])
            }
            RoomInput::SetPermissions { who, permissions } => {
                need(from, Officer)?;
                if !who.is_guest() || !self.is_invited(who) {
                    return Err(RoomError::NotInvited(who));
                }
                let before = self.permissions(who);
                if before == permissions {
                    return Ok(Vec::new());
                }
                self.seats.entry(who).or_default().permissions = Some(permissions);
                Ok(vec![
                    persist(EventKind::GuestPermissionsChanged {
                        role: who,
                        may_publish: permissions.publish,
                        recorded: permissions.recorded,
                        may_confirm_declarations: permissions.confirm_declarations,
                    }),
                    Effect::PermissionsChanged {
                        role: who,
                        publish_changed: before.publish != permissions.publish,
                    },
                ])
            }
            RoomInput::Admit(who) => {
                need(from, Officer)?;
                let role = self.waiting(who)?;
                let others = self.in_call();
                let seat = self.seats.entry(role).or_default();
                seat.knock = None;
                seat.admitted = true;
                let mut effects = vec![
                    persist(EventKind::ParticipantAdmitted { role }),
                    Effect::Send {
                        to: role,
                        msg: ServerMsg::Lobby {
                            state: "admitted".into(),
                        },
                    },
                    Effect::Admit { role },
                ];
                effects.extend(others.into_iter().map(|to| Effect::Send {
                    to,
                    msg: ServerMsg::PeerState {
                        role: role.to_string(),
                        state: "joined".into(),
                    },
                }));
                Ok(effects)
            }
            RoomInput::Deny(who) => {
                need(from, Officer)?;
                let role = self.waiting(who)?;
                let seat = self.seats.entry(role).or_default();
                seat.knock = None;
                let denied = [
                    persist(EventKind::ParticipantDenied { role }),
                    Effect::Send {
                        to: role,
                        msg: ServerMsg::Lobby {
                            state: "denied".into(),
                        },
                    },
                ];
                if role.is_guest() {
                    // A guest turned away frees their seat; the session goes on.
                    seat.gone = true;
                    seat.present = false;
                    let mut effects = denied.to_vec();
                    effects.push(Effect::Departed { role });
                    return Ok(effects);
                }
                let reason = "the officer did not admit the applicant".to_owned();
                // Nothing can be recording (consent needs admission); stop anyway, by rule.
                let mut effects = self.stop_recording(now, "entry denied");
                effects.extend(denied);
                effects.extend([
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
                let Some(seat) = self.seats.get_mut(&role).filter(|s| s.present && !s.away) else {
                    return Ok(Vec::new());
                };
                seat.away = true;
                let mut effects = vec![persist(EventKind::ParticipantDisconnected { role })];
                effects.extend(self.tell_others(role, "reconnecting"));
                effects.push(Effect::Grace {
                    role,
                    running: true,
                });
                Ok(effects)
            }
            RoomInput::Reconnected { role } => {
                let Some(seat) = self.seats.get_mut(&role).filter(|s| s.away) else {
                    // A second window taking over a live connection: nothing dropped.
                    return Ok(Vec::new());
                };
                seat.away = false;
                let mut effects = vec![
                    Effect::Grace {
                        role,
                        running: false,
                    },
                    persist(EventKind::ParticipantReconnected { role }),
                ];
                effects.extend(self.tell_others(role, "rejoined"));
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
                let Some(seat) = self.seats.get_mut(&role).filter(|s| s.away) else {
                    return Ok(Vec::new());
                };
                seat.away = false;
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
                let seat = self.seats.entry(role).or_default();
                seat.present = false;
                seat.knock = None;
                if role.is_guest() {
                    seat.gone = true;
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
                    effects.push(Effect::Departed { role });
                    effects.extend(self.tell_others(role, "left"));
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
                self.confirmed.clear();
                let msg = ServerMsg::DeclarationRequested {
                    declaration: text.id.into(),
                    version: text.version,
                    lang: text.lang.into(),
                    text: text.text.into(),
                    text_sha256: text.sha256.clone(),
                };
                let mut effects = vec![persist(EventKind::DeclarationRequested {
                    declaration: text.id.into(),
                    version: text.version,
                    lang: text.lang.into(),
                    text_sha256: text.sha256,
                })];
                // The applicant, and every guest in the call who declares too (a co-heir).
                let guests: Vec<ParticipantRole> = self
                    .in_call()
                    .into_iter()
                    .filter(|r| r.is_guest() && self.permissions(*r).confirm_declarations)
                    .collect();
                effects.extend(guests.into_iter().map(|to| Effect::Send {
                    to,
                    msg: msg.clone(),
                }));
                effects.push(Effect::Send { to: Applicant, msg });
                Ok(effects)
            }
            RoomInput::ConfirmDeclaration {
                declaration,
                text_sha256,
            } => {
                if let ParticipantRole::Guest { role, .. } = from {
                    if !self.is_admitted(from) {
                        return Err(RoomError::NotAdmitted);
                    }
                    if !self.permissions(from).confirm_declarations {
                        return Err(RoomError::NotPermitted(role, "confirm declarations"));
                    }
                } else {
                    need(from, Applicant)?;
                }
                let shown = self
                    .declaration
                    .as_ref()
                    .filter(|d| d.id == declaration && !self.confirmed.contains(&from))
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
                    by: from.is_guest().then_some(from),
                };
                self.confirmed.insert(from);
                Ok(vec![Effect::Persist {
                    kind,
                    reply_to: Some(from),
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

    /// Tell everyone else in the call how `role` is doing.
    fn tell_others(&self, role: ParticipantRole, state: &str) -> Vec<Effect> {
        self.in_call()
            .into_iter()
            .filter(|to| *to != role)
            .map(|to| Effect::Send {
                to,
                msg: ServerMsg::PeerState {
                    role: role.to_string(),
                    state: state.into(),
                },
            })
            .collect()
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

fn knock_msg(role: ParticipantRole, k: &Knock) -> ServerMsg {
    ServerMsg::Knock {
        role: role.to_string(),
        name: k.name.clone(),
        tz: k.tz.clone(),
        since: k.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

#[cfg(test)]
mod tests;
