//! The evidence chain: event kinds, their canonical JSON form (RFC 8785) and the SHA-256 hash
//! chain that links them.
//!
//! Contract: an event's hash is `SHA-256(JCS(event))` where the event object carries `seq`,
//! `session`, `at`, `prev_hash` and its kind-specific fields. The first event's `prev_hash` is
//! [`GENESIS`]. `events.jsonl` holds one canonical event per line, so a verifier needs nothing
//! but the file to recompute the chain. [`ChainBuilder`] is pure: it is fed a clock reading and
//! returns the next [`ChainedEvent`]; persisting it is the store's job.

use crate::ids::SessionId;
use chrono::{DateTime, Utc};
use ring::digest;
use serde::{Deserialize, Serialize};

/// `prev_hash` of the first event of every chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who a participant of a session is, as the evidence names them: `applicant`, `officer`, or
/// a guest the officer invited, written `<role>-<n>` (`interpreter-1`, `co_heir-2`) where `n`
/// counts the session's invitations from 1, so two relatives never share a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ParticipantRole {
    Applicant,
    Officer,
    Guest { n: u8, role: GuestRole },
}

/// The named roles a guest is invited in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuestRole {
    Relative,
    Interpreter,
    SiteAssistant,
    CoHeir,
}

impl GuestRole {
    pub const ALL: [GuestRole; 4] = [
        GuestRole::Relative,
        GuestRole::Interpreter,
        GuestRole::SiteAssistant,
        GuestRole::CoHeir,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GuestRole::Relative => "relative",
            GuestRole::Interpreter => "interpreter",
            GuestRole::SiteAssistant => "site_assistant",
            GuestRole::CoHeir => "co_heir",
        }
    }

    pub fn parse(s: &str) -> Option<GuestRole> {
        GuestRole::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for GuestRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ParticipantRole {
    /// The kind of participant, for metrics labels and permission checks: `applicant`,
    /// `officer` or `guest`.
    pub fn kind(self) -> &'static str {
        match self {
            ParticipantRole::Applicant => "applicant",
            ParticipantRole::Officer => "officer",
            ParticipantRole::Guest { .. } => "guest",
        }
    }

    pub fn is_guest(self) -> bool {
        matches!(self, ParticipantRole::Guest { .. })
    }

    /// Parse the evidence name back (`applicant`, `officer`, `relative-2`).
    pub fn parse(s: &str) -> Option<ParticipantRole> {
        match s {
            "applicant" => Some(ParticipantRole::Applicant),
            "officer" => Some(ParticipantRole::Officer),
            _ => {
                let (role, n) = s.rsplit_once('-')?;
                if n.starts_with('0') {
                    return None;
                }
                let n: u8 = n.parse().ok()?;
                Some(ParticipantRole::Guest {
                    n,
                    role: GuestRole::parse(role)?,
                })
            }
        }
    }
}

impl std::fmt::Display for ParticipantRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParticipantRole::Guest { n, role } => write!(f, "{}-{n}", role.as_str()),
            other => f.write_str(other.kind()),
        }
    }
}

impl Serialize for ParticipantRole {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ParticipantRole {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        ParticipantRole::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown participant {s:?}")))
    }
}

/// What happened. Tagged as `kind` in the canonical JSON. `recording_offset_ms` is the
/// offset into the session's recording (from `recording_started`) at which it happened, or
/// null when nothing was being recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    SessionOpened {
        case: String,
        service: String,
    },
    ParticipantJoined {
        role: ParticipantRole,
        /// IANA zone of the participant, so the record shows their local time.
        tz: String,
    },
    /// The participant arrived and waits in the lobby until the officer admits or denies them.
    ParticipantKnocked {
        role: ParticipantRole,
        /// IANA zone of the participant, so the record shows their local time.
        tz: String,
    },
    /// The officer let the waiting participant into the call.
    ParticipantAdmitted {
        role: ParticipantRole,
    },
    /// The officer turned the waiting participant away; the session closes.
    ParticipantDenied {
        role: ParticipantRole,
    },
    ParticipantLeft {
        role: ParticipantRole,
        reason: String,
    },
    /// The participant's connection dropped; they may come back within the grace period.
    ParticipantDisconnected {
        role: ParticipantRole,
    },
    ParticipantReconnected {
        role: ParticipantRole,
    },
    /// The officer changed what a guest may do (their role's permissions, for this session).
    GuestPermissionsChanged {
        role: ParticipantRole,
        may_publish: bool,
        recorded: bool,
        may_confirm_declarations: bool,
    },
    /// The officer invited a guest (`role` names them, e.g. `interpreter-1`) and was given
    /// their single-session link; what the role may do is recorded with it.
    GuestInvited {
        role: ParticipantRole,
        may_publish: bool,
        recorded: bool,
        may_confirm_declarations: bool,
    },
    /// The notice of what is kept whatever the applicant answers, shown before any consent.
    NoticeShown {
        text_id: String,
        text_version: u32,
        lang: String,
        text_sha256: String,
    },
    ConsentRequested {
        consent: String,
        text_id: String,
        text_version: u32,
        lang: String,
        text_sha256: String,
        legal_basis: String,
        retention: String,
        recipient: Option<String>,
    },
    ConsentGranted {
        consent: String,
        text_id: String,
        text_version: u32,
        lang: String,
        text_sha256: String,
        legal_basis: String,
        retention: String,
        recording_offset_ms: Option<u64>,
    },
    ConsentRefused {
        consent: String,
        text_id: String,
        text_version: u32,
        lang: String,
        text_sha256: String,
        legal_basis: String,
        retention: String,
        recording_offset_ms: Option<u64>,
    },
    /// A withdrawal is a new event, never an edit of the grant.
    ConsentWithdrawn {
        consent: String,
        text_sha256: String,
        recording_offset_ms: Option<u64>,
    },
    RecordingStarted {
        tracks: Vec<String>,
    },
    RecordingStopped {
        reason: String,
        recording_offset_ms: Option<u64>,
    },
    /// A closed piece of a recording file, hashed as it was written: the `header`, each run
    /// of ~10 s of `clusters`, and the `cues`. Together they tile the finished file, so a cut
    /// or an edit anywhere shows up as a piece that no longer matches.
    RecordingSegment {
        file: String,
        piece: String,
        index: u32,
        byte_start: u64,
        byte_end: u64,
        start_ms: Option<u64>,
        end_ms: Option<u64>,
        sha256: String,
    },
    /// A recording file could not be written further (a full disk, an I/O error): it keeps
    /// what was written before `recording_offset_ms`; the session goes on.
    RecordingFailed {
        file: String,
        reason: String,
        recording_offset_ms: Option<u64>,
    },
    /// A participant's media path to the hub stopped carrying packets (ICE disconnected or
    /// failed), noticed after `silence_ms` without any: their recording has a gap from
    /// `recording_offset_ms - silence_ms` until `media_restored`.
    MediaInterrupted {
        role: ParticipantRole,
        recording_offset_ms: Option<u64>,
        silence_ms: u64,
    },
    /// Their media path is back (ICE connected again, by itself or after a restart).
    MediaRestored {
        role: ParticipantRole,
        recording_offset_ms: Option<u64>,
    },
    IdentityCheckRecorded {
        document_type: String,
        /// Masked number, e.g. `110105********002X`. The full number is never in the chain.
        document_number_masked: String,
        /// HMAC-SHA256 of the full number under the hub secret, so two records of the same
        /// document can be matched without storing the number.
        document_number_hmac: String,
        expiry: Option<String>,
        renewal: Option<String>,
        summary: String,
        attestation: String,
        outcome: String,
        recording_offset_ms: Option<u64>,
    },
    LivenessPrompted {
        prompt_id: String,
        lang: String,
        text_sha256: String,
        recording_offset_ms: Option<u64>,
    },
    LivenessResponded {
        prompt_id: String,
        recording_offset_ms: Option<u64>,
    },
    LivenessAttested {
        prompt_id: String,
        passed: bool,
        recording_offset_ms: Option<u64>,
    },
    /// A still of a document held to the camera, or an uploaded supporting document.
    DocumentAdded {
        /// `still` or `document`.
        category: String,
        /// What it is: `identity-document`, `death-certificate`, …
        document: String,
        media_type: String,
        sha256: String,
        size: u64,
        /// Its name inside the bundle's `documents/`.
        file: String,
        recording_offset_ms: Option<u64>,
    },
    DeclarationRequested {
        declaration: String,
        version: u32,
        lang: String,
        text_sha256: String,
    },
    DeclarationConfirmed {
        declaration: String,
        version: u32,
        lang: String,
        text_sha256: String,
        recording_offset_ms: Option<u64>,
        /// A guest who may confirm declarations (a co-heir); absent for the applicant.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<ParticipantRole>,
    },
    SessionInterrupted {
        reason: String,
    },
    SessionClosed {
        outcome: String,
        reason: Option<String>,
    },
}

impl EventKind {
    /// The `kind` tag, for logs and acks.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::SessionOpened { .. } => "session_opened",
            EventKind::ParticipantJoined { .. } => "participant_joined",
            EventKind::ParticipantKnocked { .. } => "participant_knocked",
            EventKind::ParticipantAdmitted { .. } => "participant_admitted",
            EventKind::ParticipantDenied { .. } => "participant_denied",
            EventKind::ParticipantDisconnected { .. } => "participant_disconnected",
            EventKind::ParticipantReconnected { .. } => "participant_reconnected",
            EventKind::ParticipantLeft { .. } => "participant_left",
            EventKind::GuestInvited { .. } => "guest_invited",
            EventKind::GuestPermissionsChanged { .. } => "guest_permissions_changed",
            EventKind::NoticeShown { .. } => "notice_shown",
            EventKind::ConsentRequested { .. } => "consent_requested",
            EventKind::ConsentGranted { .. } => "consent_granted",
            EventKind::ConsentRefused { .. } => "consent_refused",
            EventKind::ConsentWithdrawn { .. } => "consent_withdrawn",
            EventKind::RecordingStarted { .. } => "recording_started",
            EventKind::RecordingStopped { .. } => "recording_stopped",
            EventKind::RecordingSegment { .. } => "recording_segment",
            EventKind::RecordingFailed { .. } => "recording_failed",
            EventKind::MediaInterrupted { .. } => "media_interrupted",
            EventKind::MediaRestored { .. } => "media_restored",
            EventKind::IdentityCheckRecorded { .. } => "identity_check_recorded",
            EventKind::LivenessPrompted { .. } => "liveness_prompted",
            EventKind::LivenessResponded { .. } => "liveness_responded",
            EventKind::LivenessAttested { .. } => "liveness_attested",
            EventKind::DocumentAdded { .. } => "document_added",
            EventKind::DeclarationRequested { .. } => "declaration_requested",
            EventKind::DeclarationConfirmed { .. } => "declaration_confirmed",
            EventKind::SessionInterrupted { .. } => "session_interrupted",
            EventKind::SessionClosed { .. } => "session_closed",
        }
    }
}

/// One event as it is hashed and stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub session: SessionId,
    pub at: DateTime<Utc>,
    pub prev_hash: String,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// An event with its canonical bytes and hash, ready to persist.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainedEvent {
    pub event: Event,
    /// RFC 8785 canonical JSON of `event`: exactly one line of `events.jsonl`.
    pub canonical: String,
    pub hash: String,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    #[error("line {line}: not valid JSON: {reason}")]
    Json { line: u64, reason: String },
    #[error("line {line}: not in RFC 8785 canonical form")]
    NotCanonical { line: u64 },
    #[error("line {line}: sequence number {found}, expected {expected}")]
    Sequence {
        line: u64,
        expected: u64,
        found: u64,
    },
    #[error("line {line}: prev_hash does not match the hash of the previous event")]
    Broken { line: u64 },
    #[error("line {line}: event belongs to session {found}, expected {expected}")]
    ForeignSession {
        line: u64,
        expected: SessionId,
        found: SessionId,
    },
    #[error("chain head {found} does not match the committed head {expected}")]
    Head { expected: String, found: String },
    #[error("chain has {found} events, the manifest commits to {expected}")]
    Length { expected: u64, found: u64 },
    #[error("cannot serialise event: {0}")]
    Serialise(String),
}

/// Hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, bytes))
}

/// RFC 8785 canonical JSON of any serialisable value.
pub fn canonical_json<T: Serialize>(value: &T) -> Result<String, ChainError> {
    serde_jcs::to_string(value).map_err(|e| ChainError::Serialise(e.to_string()))
}

impl ChainedEvent {
    fn seal(event: Event) -> Result<Self, ChainError> {
        let canonical = canonical_json(&event)?;
        let hash = sha256_hex(canonical.as_bytes());
        Ok(Self {
            event,
            canonical,
            hash,
        })
    }
}

/// Pure builder of one session's chain: holds the head and the next sequence number.
#[derive(Clone, Debug)]
pub struct ChainBuilder {
    session: SessionId,
    next_seq: u64,
    head: String,
}

impl ChainBuilder {
    /// A new, empty chain.
    pub fn new(session: SessionId) -> Self {
        Self {
            session,
            next_seq: 1,
            head: GENESIS.to_owned(),
        }
    }

    /// Continue a chain whose last stored event had `last_seq` and `head` (after a restart).
    pub fn resume(session: SessionId, last_seq: u64, head: String) -> Self {
        Self {
            session,
            next_seq: last_seq + 1,
            head,
        }
    }

    /// Build the next event. The builder advances only when the caller [`commit`]s it, so a
    /// failed write leaves the chain where it was.
    ///
    /// [`commit`]: ChainBuilder::commit
    pub fn next(&self, at: DateTime<Utc>, kind: EventKind) -> Result<ChainedEvent, ChainError> {
        ChainedEvent::seal(Event {
            seq: self.next_seq,
            session: self.session,
            at,
            prev_hash: self.head.clone(),
            kind,
        })
    }

    /// Advance past an event built by [`ChainBuilder::next`] once it is durable.
    pub fn commit(&mut self, event: &ChainedEvent) {
        self.next_seq = event.event.seq + 1;
        self.head = event.hash.clone();
    }

    pub fn head(&self) -> &str {
        &self.head
    }

    /// Number of committed events.
    pub fn len(&self) -> u64 {
        self.next_seq - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Summary of a verified chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedChain {
    pub events: u64,
    pub head: String,
    pub kinds: Vec<String>,
}

/// Verify `events.jsonl`: every line canonical, sequence numbers from 1, each `prev_hash` the
/// previous line's hash, and all events of one session.
pub fn verify_jsonl(jsonl: &[u8]) -> Result<VerifiedChain, ChainError> {
    let mut head = GENESIS.to_owned();
    let mut session: Option<SessionId> = None;
    let mut kinds = Vec::new();
    let mut count = 0u64;
    let text = std::str::from_utf8(jsonl).map_err(|e| ChainError::Json {
        line: 1,
        reason: e.to_string(),
    })?;
    for (index, line) in text.split_terminator('\n').enumerate() {
        let line_no = index as u64 + 1;
        let event: Event = serde_json::from_str(line).map_err(|e| ChainError::Json {
            line: line_no,
            reason: e.to_string(),
        })?;
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| ChainError::Json {
                line: line_no,
                reason: e.to_string(),
            })?;
        if canonical_json(&value)? != line || canonical_json(&event)? != line {
            return Err(ChainError::NotCanonical { line: line_no });
        }
        if event.seq != line_no {
            return Err(ChainError::Sequence {
                line: line_no,
                expected: line_no,
                found: event.seq,
            });
        }
        match session {
            None => session = Some(event.session),
            Some(s) if s != event.session => {
                return Err(ChainError::ForeignSession {
                    line: line_no,
                    expected: s,
                    found: event.session,
                });
            }
            Some(_) => {}
        }
        if event.prev_hash != head {
            return Err(ChainError::Broken { line: line_no });
        }
        head = sha256_hex(line.as_bytes());
        kinds.push(event.kind.name().to_owned());
        count = line_no;
    }
    Ok(VerifiedChain {
        events: count,
        head,
        kinds,
    })
}

/// Render a chain as `events.jsonl`.
pub fn to_jsonl<'a>(events: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for line in events {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(sec: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_790_000_000 + sec, 0)
            .single()
            .expect("valid timestamp")
    }

    fn sample_chain() -> (SessionId, Vec<ChainedEvent>) {
        let session = SessionId::random();
        let mut chain = ChainBuilder::new(session);
        let kinds = vec![
            EventKind::SessionOpened {
                case: "c".into(),
                service: "id-card-renewal".into(),
            },
            EventKind::ParticipantJoined {
                role: ParticipantRole::Applicant,
                tz: "Europe/Lisbon".into(),
            },
            EventKind::ConsentWithdrawn {
                consent: "recording".into(),
                text_sha256: "ab".into(),
                recording_offset_ms: Some(1500),
            },
            EventKind::SessionClosed {
                outcome: "completed".into(),
                reason: None,
            },
        ];
        let mut out = Vec::new();
        for (i, kind) in kinds.into_iter().enumerate() {
            let ev = chain.next(at(i as i64), kind).expect("serialisable");
            chain.commit(&ev);
            out.push(ev);
        }
        (session, out)
    }

    #[test]
    fn chain_links_and_verifies() {
        let (_, events) = sample_chain();
        assert_eq!(events[0].event.prev_hash, GENESIS);
        for pair in events.windows(2) {
            assert_eq!(pair[1].event.prev_hash, pair[0].hash);
        }
        let jsonl = to_jsonl(events.iter().map(|e| e.canonical.as_str()));
        let verified = verify_jsonl(jsonl.as_bytes()).expect("valid chain");
        assert_eq!(verified.events, 4);
        assert_eq!(verified.head, events[3].hash);
    }

    #[test]
    fn lobby_events_have_their_documented_form_and_verify() {
        let mut chain = ChainBuilder::new(SessionId::random());
        let kinds = [
            EventKind::ParticipantKnocked {
                role: ParticipantRole::Applicant,
                tz: "Europe/Lisbon".into(),
            },
            EventKind::ParticipantAdmitted {
                role: ParticipantRole::Applicant,
            },
            EventKind::ParticipantDenied {
                role: ParticipantRole::Applicant,
            },
        ];
        let mut lines = Vec::new();
        for (i, kind) in kinds.into_iter().enumerate() {
            let ev = chain.next(at(i as i64), kind).expect("serialisable");
            chain.commit(&ev);
            lines.push(ev.canonical);
        }
        assert!(lines[0].contains(r#""kind":"participant_knocked","prev_hash""#));
        assert!(lines[0].contains(r#""tz":"Europe/Lisbon""#));
        assert!(lines[1].contains(r#""kind":"participant_admitted""#));
        assert!(lines[2].contains(r#""kind":"participant_denied""#));
        let verified = verify_jsonl(to_jsonl(lines.iter().map(String::as_str)).as_bytes())
            .expect("valid chain");
        assert_eq!(verified.events, 3);
    }

    #[test]
    fn uncommitted_event_does_not_advance() {
        let mut chain = ChainBuilder::new(SessionId::random());
        let a = chain
            .next(
                at(0),
                EventKind::SessionClosed {
                    outcome: "x".into(),
                    reason: None,
                },
            )
            .unwrap();
        let b = chain
            .next(
                at(1),
                EventKind::SessionClosed {
                    outcome: "y".into(),
                    reason: None,
                },
            )
            .unwrap();
        assert_eq!(a.event.seq, b.event.seq);
        chain.commit(&a);
        let c = chain
            .next(
                at(2),
                EventKind::SessionClosed {
                    outcome: "z".into(),
                    reason: None,
                },
            )
            .unwrap();
        assert_eq!(c.event.seq, 2);
        assert_eq!(c.event.prev_hash, a.hash);
    }

    #[test]
    fn canonical_form_sorts_keys_and_has_no_whitespace() {
        let v = serde_json::json!({"b": 1, "a": [true, null, "é"], "c": 1.5e3});
        assert_eq!(
            canonical_json(&v).unwrap(),
            r#"{"a":[true,null,"é"],"b":1,"c":1500}"#
        );
    }

    #[test]
    fn any_flipped_byte_breaks_the_chain_or_the_head() {
        let (_, events) = sample_chain();
        let jsonl = to_jsonl(events.iter().map(|e| e.canonical.as_str()));
        let good = verify_jsonl(jsonl.as_bytes()).unwrap();
        for i in 0..jsonl.len() {
            let mut bytes = jsonl.clone().into_bytes();
            bytes[i] ^= 0x01;
            match verify_jsonl(&bytes) {
                Err(_) => {}
                Ok(v) => assert_ne!(v.head, good.head, "flip at {i} went unnoticed"),
            }
        }
    }

    #[test]
    fn reordered_or_dropped_lines_fail() {
        let (_, events) = sample_chain();
        let mut lines: Vec<&str> = events.iter().map(|e| e.canonical.as_str()).collect();
        lines.swap(1, 2);
        assert!(verify_jsonl(to_jsonl(lines.clone()).as_bytes()).is_err());
        lines.swap(1, 2);
        lines.remove(1);
        assert!(verify_jsonl(to_jsonl(lines).as_bytes()).is_err());
    }

    #[test]
    fn non_canonical_line_is_rejected() {
        let (_, events) = sample_chain();
        let spaced = events[0].canonical.replacen(':', ": ", 1);
        let err = verify_jsonl(format!("{spaced}\n").as_bytes()).unwrap_err();
        assert!(matches!(err, ChainError::NotCanonical { line: 1 }), "{err}");
    }
}

#[cfg(test)]
mod participant_tests {
    use super::*;

    #[test]
    fn participants_are_named_in_the_evidence_and_read_back() {
        let heir = ParticipantRole::Guest {
            n: 2,
            role: GuestRole::CoHeir,
        };
        for (role, name) in [
            (ParticipantRole::Applicant, "\"applicant\""),
            (ParticipantRole::Officer, "\"officer\""),
            (heir, "\"co_heir-2\""),
        ] {
            assert_eq!(serde_json::to_string(&role).expect("json"), name);
            assert_eq!(
                serde_json::from_str::<ParticipantRole>(name).expect("back"),
                role
            );
        }
        for bad in [
            "guest",
            "relative",
            "relative-0",
            "relative-01",
            "uncle-1",
            "relative-",
            "-1",
            "relative-256",
        ] {
            assert_eq!(ParticipantRole::parse(bad), None, "{bad}");
        }
        // Events of two-party sessions read exactly as before.
        let kind = EventKind::ParticipantAdmitted { role: heir };
        let json = serde_json::to_value(&kind).expect("json");
        assert_eq!(json["role"], "co_heir-2");
        let confirmed = EventKind::DeclarationConfirmed {
            declaration: "inheritance".into(),
            version: 1,
            lang: "en".into(),
            text_sha256: "h".into(),
            recording_offset_ms: None,
            by: None,
        };
        let json = serde_json::to_value(&confirmed).expect("json");
        assert!(json.get("by").is_none(), "{json}");
    }
}
