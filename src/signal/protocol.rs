//! The signalling wire contract, version [`PROTOCOL_VERSION`]: one enum per direction.
//!
//! Frames are JSON text. Every client frame is an object with a `type`; it may carry `v` (the
//! protocol version, checked when present) and `id` (echoed as `ref` in the matching `ack` or
//! `error`). Decoding never panics: any malformed, unknown or oversized input maps to a
//! [`DecodeError`] that the gateway turns into an `error` frame. `docs/protocol.md` documents
//! every message.

use crate::ids::{ArtefactId, CaseId, SessionId};
use serde::{Deserialize, Serialize};

/// Current protocol version.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest text frame accepted from a client, in bytes. An SDP offer with a few codecs is
/// about 6 KiB; 64 KiB leaves room without letting a peer pin memory.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// A client frame: envelope fields plus the message.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct ClientFrame {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    #[serde(flatten)]
    pub msg: ClientMsg,
}

/// Messages from a browser (or test peer) to the hub.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// First frame on every connection. Officers and auditors send a `ticket` from
    /// `POST /api/ws-ticket`; applicants send the `invite` token from their link.
    Auth {
        #[serde(default)]
        ticket: Option<String>,
        #[serde(default)]
        invite: Option<String>,
        /// A guest's token from the link the officer passed on.
        #[serde(default)]
        guest: Option<String>,
        /// A guest's IANA zone (from their browser), so the officer sees their local time.
        #[serde(default)]
        tz: Option<String>,
    },
    /// Applicant: enter the walk-in queue of their case's service.
    JoinQueue,
    /// Applicant: leave the queue.
    LeaveQueue,
    /// Officer: take the applicant at the head of a queue (any service when `service` is None).
    TakeNext {
        #[serde(default)]
        service: Option<String>,
    },
    /// Officer: let a participant waiting in the lobby into the call: `participant` as named
    /// in their `knock` (`applicant`, `interpreter-1`), or the only one waiting when absent.
    Admit {
        #[serde(default)]
        participant: Option<String>,
    },
    /// Officer: turn a participant waiting in the lobby away. Turning the applicant away
    /// closes the session; a guest is just not let in.
    Deny {
        #[serde(default)]
        participant: Option<String>,
    },
    /// Officer: change what a guest (`participant`, e.g. `relative-1`) may do in this session.
    SetGuestPermissions {
        participant: String,
        publish: bool,
        recorded: bool,
        confirm_declarations: bool,
    },
    /// Officer: invite a guest in a named role (`relative`, `interpreter`, `site_assistant`,
    /// `co_heir`); the hub answers with `guest_invite`, the link to pass on.
    InviteGuest {
        role: String,
        /// How the guest is shown to the others (not written to the evidence).
        #[serde(default)]
        name: String,
        /// The guest's IANA zone, if the officer knows it; otherwise their browser's.
        #[serde(default)]
        tz: Option<String>,
    },
    /// Participant in a session: an SDP offer for the peer connection with the hub. The hub
    /// answers with `answer`.
    Offer { sdp: String },
    /// Officer: ask the applicant for a consent (`recording`, `personal-information`,
    /// `cross-border-transfer`, `e-signature`).
    RequestConsent { consent: String },
    /// Applicant: answer a consent request. `session_id`, when sent, must be this session.
    ConsentAnswer {
        consent: String,
        granted: bool,
        #[serde(default)]
        session_id: Option<SessionId>,
    },
    /// Applicant: withdraw a consent given earlier. Recording stops at once.
    WithdrawConsent { consent: String },
    /// Applicant: list the consents of this session with their texts.
    MyConsents,
    /// Officer: record an identity check. The hub checks the document (MRZ check digits,
    /// resident-ID check character, validity) before anything is recorded.
    IdentityCheck {
        document_type: String,
        #[serde(default)]
        mrz: Option<String>,
        #[serde(default, alias = "document_number")]
        number: Option<String>,
        #[serde(default)]
        valid_from: Option<chrono::NaiveDate>,
        #[serde(default)]
        valid_until: Option<chrono::NaiveDate>,
        #[serde(default)]
        long_term: Option<bool>,
        attestation: String,
        /// `match` or `mismatch`: the officer's face-to-document comparison.
        outcome: String,
    },
    /// Officer: show the applicant a random liveness prompt.
    LivenessPrompt,
    /// Applicant: the prompt has been performed.
    LivenessDone,
    /// Officer: whether the applicant performed the prompt live.
    LivenessResult { passed: bool },
    /// Officer: show the applicant a declaration to read aloud and confirm.
    RequestDeclaration { declaration: String },
    /// Applicant: confirm the declaration shown, by its hash.
    ConfirmDeclaration {
        declaration: String,
        text_sha256: String,
    },
    /// Officer: close the session and seal its artefact.
    CloseSession,
    /// Application-level keepalive.
    Ping,
}

impl ClientMsg {
    pub fn name(&self) -> &'static str {
        match self {
            ClientMsg::Auth { .. } => "auth",
            ClientMsg::JoinQueue => "join_queue",
            ClientMsg::LeaveQueue => "leave_queue",
            ClientMsg::TakeNext { .. } => "take_next",
            ClientMsg::Admit { .. } => "admit",
            ClientMsg::Deny { .. } => "deny",
            ClientMsg::InviteGuest { .. } => "invite_guest",
            ClientMsg::SetGuestPermissions { .. } => "set_guest_permissions",
            ClientMsg::Offer { .. } => "offer",
            ClientMsg::RequestConsent { .. } => "request_consent",
            ClientMsg::ConsentAnswer { .. } => "consent_answer",
            ClientMsg::WithdrawConsent { .. } => "withdraw_consent",
            ClientMsg::MyConsents => "my_consents",
            ClientMsg::IdentityCheck { .. } => "identity_check",
            ClientMsg::LivenessPrompt => "liveness_prompt",
            ClientMsg::LivenessDone => "liveness_done",
            ClientMsg::LivenessResult { .. } => "liveness_result",
            ClientMsg::RequestDeclaration { .. } => "request_declaration",
            ClientMsg::ConfirmDeclaration { .. } => "confirm_declaration",
            ClientMsg::CloseSession => "close_session",
            ClientMsg::Ping => "ping",
        }
    }
}

/// One row of the officer's live queue.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct QueueEntry {
    pub case_id: CaseId,
    pub applicant_name: String,
    pub service: String,
    pub tz: String,
    pub lang: String,
    /// RFC 3339, UTC.
    pub waiting_since: String,
}

/// The notice of what is kept whatever the applicant answers.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct NoticeText {
    pub text: String,
    pub text_sha256: String,
}

/// One consent of the session as the applicant sees it.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct ConsentRecord {
    pub consent: String,
    pub text_id: String,
    pub text_version: u32,
    pub lang: String,
    pub text: String,
    pub text_sha256: String,
    /// `pending`, `granted`, `refused` or `withdrawn`.
    pub answer: String,
    /// RFC 3339, UTC, of the answer.
    pub at: Option<String>,
    pub legal_basis: String,
    pub retention: String,
    pub recipient: Option<String>,
}

/// One booking as the console lists it.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct BookingEntry {
    pub id: crate::ids::BookingId,
    pub case_id: CaseId,
    pub applicant_name: String,
    pub service: String,
    /// The applicant's IANA zone.
    pub tz: String,
    /// RFC 3339, UTC.
    pub start: String,
    pub end: String,
}

/// Who is on the other end of a session.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct PeerInfo {
    pub role: String,
    pub name: String,
    pub tz: String,
}

/// One participant's line in `call_stats`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct ParticipantStats {
    /// `officer` or `applicant`.
    pub role: String,
    #[serde(flatten)]
    pub stats: crate::media::stats::CallStats,
}

/// Messages from the hub to a client.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// TURN/STUN servers with short-lived credentials, sent before `paired` and again before
    /// they expire: use them for the peer connection (`setConfiguration` on a live one).
    IceServers {
        servers: Vec<crate::turn::IceServer>,
        expires_at: chrono::DateTime<chrono::Utc>,
    },
    Welcome {
        v: u32,
        role: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        case_id: Option<CaseId>,
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        service: Option<String>,
    },
    /// Applicant: their place in the queue (1 = next).
    QueuePosition {
        position: usize,
        length: usize,
        /// Expected wait, estimated from recent sessions.
        estimated_wait_minutes: Option<i64>,
    },
    /// Officer: bookings from 12 hours ago to 7 days ahead, sent on connect and on every
    /// change.
    Bookings {
        entries: Vec<BookingEntry>,
    },
    /// Officer: the whole queue, sent on every change.
    Queue {
        entries: Vec<QueueEntry>,
    },
    /// Both: a session was opened; send an `offer` now.
    Paired {
        session_id: SessionId,
        case_id: CaseId,
        peer: PeerInfo,
        /// True when a participant comes back to a session after a drop: send a fresh offer.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        resumed: bool,
        /// Whether this participant may send audio and video; when false (a guest who only
        /// watches), offer receive-only sections.
        publish: bool,
        /// Whose media the main video shows (`applicant`, or `officer` for the applicant);
        /// the others' streams arrive with their own stream ids.
        main: String,
        /// After a return (`resumed`): `resume` when the hub still holds this participant's
        /// peer connection (keep yours and make an ICE-restart offer on it), `rejoin` when it
        /// does not (make a new peer connection and offer).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media: Option<String>,
    },
    /// Officer: someone waits in the session's lobby. `tz` is their IANA zone, so the console
    /// shows their local time; `since` is when they arrived (RFC 3339, UTC).
    Knock {
        role: String,
        name: String,
        tz: String,
        since: String,
    },
    /// Officer: the link for the guest just invited. `participant` names them in the session
    /// and the evidence (`interpreter-1`); the link works for this session only, until
    /// `expires_at` or until they leave.
    GuestInvite {
        participant: String,
        role: String,
        link: String,
        expires_at: String,
    },
    /// Everyone in the call, sent to each of them whenever it changes; `role` names each one
    /// as the stream ids of their forwarded tracks do (`applicant`, `officer`, `relative-1`).
    Participants {
        participants: Vec<PeerInfo>,
    },
    /// Make a new `offer` on the existing peer connection, able to receive `receive` audio and
    /// video pairs (one per other participant sending media): someone joined or left.
    Renegotiate {
        receive: usize,
    },
    /// A participant waiting in the lobby: `waiting`, `admitted` or `denied`.
    Lobby {
        state: String,
    },
    /// The hub's SDP answer to an `offer`.
    Answer {
        sdp: String,
    },
    /// Applicant: the officer asks for a consent; show `notice` (first time only), then
    /// `text`, and answer.
    ConsentRequested {
        consent: String,
        text_id: String,
        text_version: u32,
        lang: String,
        text: String,
        text_sha256: String,
        legal_basis: String,
        retention: String,
        recipient: Option<String>,
        notice: Option<NoticeText>,
    },
    /// Applicant: the consents of this session (answer to `my_consents`).
    Consents {
        items: Vec<ConsentRecord>,
    },
    /// Applicant: perform this on camera, then send `liveness_done`.
    LivenessPrompt {
        prompt_id: String,
        text: String,
    },
    /// Applicant: read this aloud, then confirm it by its hash.
    DeclarationRequested {
        declaration: String,
        version: u32,
        lang: String,
        text: String,
        text_sha256: String,
    },
    /// Officer: checklist progress, sent on every committed event.
    Checklist {
        items: Vec<crate::checklist::ItemStatus>,
    },
    /// An evidence event was committed to disk. Sent to the client whose message caused it
    /// (with `ref`) and to the officer for every event.
    Ack {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<u64>,
        seq: u64,
        hash: String,
        event: String,
    },
    /// Whether the hub is recording this session.
    Recording {
        active: bool,
    },
    /// The other participant joined or left the call.
    PeerState {
        role: String,
        state: String,
    },
    /// Officer only: each participant's call quality over the last few seconds, from the hub's
    /// side of their peer connection (no addresses). Sent every `STATS_EVERY` while media flows.
    CallStats {
        participants: Vec<ParticipantStats>,
    },
    /// The hub is shutting down (a restart or an upgrade): it takes no new sessions, ends the
    /// open ones as interrupted (each participant then gets `session_closed`), and closes the
    /// connection. Clients reconnect after about `retry_after_secs`.
    Draining {
        retry_after_secs: u32,
    },
    /// Your session is held by another hub node: go on there. `url` is that node's public
    /// URL; a page opens the same path and fragment under it (the credential travels along).
    /// The hub closes this connection after sending it.
    Redirect {
        url: String,
    },
    /// The session was closed and sealed. For the applicant this is the receipt.
    SessionClosed {
        session_id: SessionId,
        artefact_id: Option<ArtefactId>,
        manifest_sha256: Option<String>,
        /// `completed`, `incomplete`, `refused`, `denied` or `interrupted`.
        outcome: String,
        reason: Option<String>,
    },
    Error {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<u64>,
        code: String,
        message: String,
    },
    Pong,
}

/// Why a client frame was refused before it reached a handler.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("frame of {size} bytes exceeds the {max}-byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("binary frames are not part of the protocol")]
    Binary,
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("unsupported protocol version {0}; this hub speaks version {PROTOCOL_VERSION}")]
    Version(u32),
}

impl DecodeError {
    /// Stable machine-readable code for the `error` frame.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::TooLarge { .. } => "too_large",
            DecodeError::Binary => "binary_frame",
            DecodeError::Malformed(_) => "malformed",
            DecodeError::Version(_) => "unsupported_version",
        }
    }
}

/// Decode one text frame. Never panics.
pub fn decode(text: &str) -> Result<ClientFrame, DecodeError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(DecodeError::TooLarge {
            size: text.len(),
            max: MAX_FRAME_BYTES,
        });
    }
    let frame: ClientFrame =
        serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    match frame.v {
        Some(v) if v != PROTOCOL_VERSION => Err(DecodeError::Version(v)),
        _ => Ok(frame),
    }
}

/// Encode a server message as a text frame.
pub fn encode(msg: &ServerMsg) -> String {
    // Serialising these plain structs cannot fail: all keys are strings and no map has
    // non-string keys.
    serde_json::to_string(msg).unwrap_or_else(|_| {
        r#"{"type":"error","code":"internal","message":"encoding failed"}"#.to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_auth_with_envelope() {
        let f = decode(r#"{"v":1,"id":7,"type":"auth","invite":"abc"}"#).unwrap();
        assert_eq!(f.id, Some(7));
        assert_eq!(
            f.msg,
            ClientMsg::Auth {
                ticket: None,
                invite: Some("abc".into()),
                guest: None,
                tz: None,
            }
        );
    }

    #[test]
    fn decodes_unit_and_struct_variants() {
        assert_eq!(
            decode(r#"{"type":"join_queue"}"#).unwrap().msg,
            ClientMsg::JoinQueue
        );
        assert_eq!(
            decode(r#"{"type":"consent_answer","consent":"recording","granted":true}"#)
                .unwrap()
                .msg,
            ClientMsg::ConsentAnswer {
                consent: "recording".into(),
                granted: true,
                session_id: None
            }
        );
    }

    #[test]
    fn malformed_inputs_are_errors_not_panics() {
        for bad in [
            "",
            "{",
            "null",
            "[]",
            "42",
            r#"{"type":"launch_missiles"}"#,
            r#"{"type":"offer"}"#,
            r#"{"type":"offer","sdp":5}"#,
            r#"{"type":"consent_answer","consent":"recording","granted":"yes"}"#,
            r#"{"no_type":true}"#,
            "\u{0}\u{1}",
        ] {
            let err = decode(bad).unwrap_err();
            assert_eq!(err.code(), "malformed", "input {bad:?}");
        }
    }

    #[test]
    fn wrong_version_is_refused() {
        assert_eq!(
            decode(r#"{"v":2,"type":"ping"}"#).unwrap_err(),
            DecodeError::Version(2)
        );
    }

    #[test]
    fn oversized_frame_is_refused_before_parsing() {
        let big = format!(
            r#"{{"type":"offer","sdp":"{}"}}"#,
            "a".repeat(MAX_FRAME_BYTES)
        );
        assert!(matches!(
            decode(&big).unwrap_err(),
            DecodeError::TooLarge { .. }
        ));
    }

    #[test]
    fn server_messages_have_the_documented_shape() {
        let e = ServerMsg::Error {
            reference: Some(3),
            code: "forbidden".into(),
            message: "no".into(),
        };
        let v: serde_json::Value = serde_json::from_str(&encode(&e)).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["ref"], 3);
        assert_eq!(v["code"], "forbidden");
        let p = ServerMsg::QueuePosition {
            position: 2,
            length: 5,
            estimated_wait_minutes: Some(20),
        };
        assert_eq!(
            encode(&p),
            r#"{"type":"queue_position","position":2,"length":5,"estimated_wait_minutes":20}"#
        );
        assert_eq!(
            decode(r#"{"type":"admit","id":4}"#).unwrap().msg,
            ClientMsg::Admit { participant: None }
        );
        assert_eq!(
            decode(r#"{"type":"deny","participant":"relative-1"}"#)
                .unwrap()
                .msg,
            ClientMsg::Deny {
                participant: Some("relative-1".into())
            }
        );
        assert_eq!(
            encode(&ServerMsg::Lobby {
                state: "waiting".into()
            }),
            r#"{"type":"lobby","state":"waiting"}"#
        );
        assert_eq!(
            encode(&ServerMsg::Draining {
                retry_after_secs: 30
            }),
            r#"{"type":"draining","retry_after_secs":30}"#
        );
        assert_eq!(
            encode(&ServerMsg::Redirect {
                url: "https://b.hub.example".into()
            }),
            r#"{"type":"redirect","url":"https://b.hub.example"}"#
        );
    }

    proptest::proptest! {
        #[test]
        fn decoding_never_panics(text in ".{0,300}") {
            let _ = decode(&text);
        }

        #[test]
        fn truncated_valid_frames_are_errors_not_panics(cut in 0usize..80) {
            let frame = r#"{"v":1,"id":9,"type":"consent_answer","consent":"recording","granted":true}"#;
            let end = cut.min(frame.len());
            if end < frame.len() {
                proptest::prop_assert!(decode(&frame[..end]).is_err());
            }
        }
    }
}
