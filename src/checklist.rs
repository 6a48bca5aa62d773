//! Checklist progress of one session: which required items of its service's checklist are
//! satisfied, by which evidence event, and the outcome the session may close with. Pure: fed
//! committed events.

use crate::catalogue::Checklist;
use crate::evidence::EventKind;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Consent(String),
    Identity(Vec<String>),
    Liveness,
    Still(String),
    Document(String),
    Declaration(String),
}

/// One item as the officer and the manifest see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemStatus {
    /// `consent:recording`, `identity:passport|id-card`, `liveness`, `still:identity-document`,
    /// `document:death-certificate`, `declaration:inheritance`.
    pub item: String,
    /// Sequence number of the evidence event that satisfied it.
    pub satisfied_by: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChecklistState {
    items: Vec<(String, Requirement, Option<u64>)>,
    /// Consents the applicant refused or withdrew.
    refused: Vec<String>,
}

/// How a session may close.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// `completed`, `incomplete` or `refused`.
    pub outcome: &'static str,
    pub reason: Option<String>,
}

impl ChecklistState {
    pub fn new(checklist: &Checklist) -> Self {
        let mut items = Vec::new();
        for c in &checklist.consents {
            items.push((
                format!("consent:{c}"),
                Requirement::Consent(c.clone()),
                None,
            ));
        }
        for alternatives in &checklist.identity {
            let id = format!("identity:{}", alternatives.join("|"));
            items.push((id, Requirement::Identity(alternatives.clone()), None));
        }
        if checklist.liveness {
            items.push(("liveness".into(), Requirement::Liveness, None));
        }
        for s in &checklist.stills {
            items.push((format!("still:{s}"), Requirement::Still(s.clone()), None));
        }
        for d in &checklist.documents {
            items.push((
                format!("document:{d}"),
                Requirement::Document(d.clone()),
                None,
            ));
        }
        for d in &checklist.declarations {
            items.push((
                format!("declaration:{d}"),
                Requirement::Declaration(d.clone()),
                None,
            ));
        }
        Self {
            items,
            refused: Vec::new(),
        }
    }

    /// Take a committed event into account.
    pub fn observe(&mut self, seq: u64, kind: &EventKind) {
        match kind {
            EventKind::ConsentRefused { consent, .. }
            | EventKind::ConsentWithdrawn { consent, .. } => {
                if !self.refused.contains(consent) {
                    self.refused.push(consent.clone());
                }
                for (_, req, by) in &mut self.items {
                    if *req == Requirement::Consent(consent.clone()) {
                        *by = None;
                    }
                }
                return;
            }
            EventKind::ConsentGranted { consent, .. } => {
                self.refused.retain(|c| c != consent);
            }
            _ => {}
        }
        for (_, req, by) in &mut self.items {
            if by.is_some() {
                continue;
            }
            let hit = match (&*req, kind) {
                (Requirement::Consent(c), EventKind::ConsentGranted { consent, .. }) => {
                    c == consent
                }
                (
                    Requirement::Identity(alts),
                    EventKind::IdentityCheckRecorded {
                        document_type,
                        outcome,
                        ..
                    },
                ) => outcome == "match" && alts.contains(document_type),
                (Requirement::Liveness, EventKind::LivenessAttested { passed, .. }) => *passed,
                (
                    Requirement::Still(s),
                    EventKind::DocumentAdded {
                        category, document, ..
                    },
                ) => category == "still" && document == s,
                (
                    Requirement::Document(d),
                    EventKind::DocumentAdded {
                        category, document, ..
                    },
                ) => category == "document" && document == d,
                (
                    Requirement::Declaration(d),
                    EventKind::DeclarationConfirmed {
                        declaration,
                        by: None,
                        ..
                    },
                ) => declaration == d,
                _ => false,
            };
            if hit {
                *by = Some(seq);
            }
        }
    }

    pub fn items(&self) -> Vec<ItemStatus> {
        self.items
            .iter()
            .map(|(item, _, by)| ItemStatus {
                item: item.clone(),
                satisfied_by: *by,
            })
            .collect()
    }

    /// Whether `id` is a document or still kind this checklist asks for.
    pub fn wants_document(&self, category: &str, kind: &str) -> bool {
        self.items.iter().any(|(_, req, _)| match req {
            Requirement::Still(s) => category == "still" && s == kind,
            Requirement::Document(d) => category == "document" && d == kind,
            _ => false,
        })
    }

    pub fn outcome(&self) -> Outcome {
        let missing: Vec<&str> = self
            .items
            .iter()
            .filter(|(_, _, by)| by.is_none())
            .map(|(id, _, _)| id.as_str())
            .collect();
        if missing.is_empty() {
            return Outcome {
                outcome: "completed",
                reason: None,
            };
        }
        let required_refused: Vec<&str> = self
            .refused
            .iter()
            .filter(|c| {
                self.items
                    .iter()
                    .any(|(_, r, _)| *r == Requirement::Consent((*c).clone()))
            })
            .map(String::as_str)
            .collect();
        if !required_refused.is_empty() {
            return Outcome {
                outcome: "refused",
                reason: Some(format!(
                    "the applicant refused or withdrew: {}",
                    required_refused.join(", ")
                )),
            };
        }
        Outcome {
            outcome: "incomplete",
            reason: Some(format!("missing: {}", missing.join(", "))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{Catalogue, DEFAULT_TOML};

    fn granted(c: &str) -> EventKind {
        EventKind::ConsentGranted {
            consent: c.into(),
            text_id: c.into(),
            text_version: 1,
            lang: "en".into(),
            text_sha256: "h".into(),
            legal_basis: "b".into(),
            retention: "r".into(),
            recording_offset_ms: None,
        }
    }

    fn doc(category: &str, kind: &str) -> EventKind {
        EventKind::DocumentAdded {
            category: category.into(),
            document: kind.into(),
            media_type: "application/pdf".into(),
            sha256: "h".into(),
            size: 1,
            file: "f".into(),
            recording_offset_ms: None,
        }
    }

    fn identity(t: &str, outcome: &str) -> EventKind {
        EventKind::IdentityCheckRecorded {
            document_type: t.into(),
            document_number_masked: "x".into(),
            document_number_hmac: "h".into(),
            expiry: None,
            renewal: None,
            summary: "s".into(),
            attestation: "a".into(),
            outcome: outcome.into(),
            recording_offset_ms: None,
        }
    }

    fn inheritance() -> ChecklistState {
        let c = Catalogue::parse(DEFAULT_TOML).expect("catalogue");
        ChecklistState::new(&c.service("inheritance").expect("service").checklist)
    }

    #[test]
    fn every_item_satisfied_completes_and_names_its_event() {
        let mut s = inheritance();
        let mut seq = 0;
        let mut feed = |s: &mut ChecklistState, k: EventKind| {
            seq += 1;
            s.observe(seq, &k);
        };
        for c in [
            "recording",
            "personal-information",
            "cross-border-transfer",
            "e-signature",
        ] {
            feed(&mut s, granted(c));
        }
        feed(&mut s, identity("passport", "mismatch"));
        assert!(
            s.outcome()
                .reason
                .unwrap_or_default()
                .contains("identity:passport|id-card")
        );
        feed(&mut s, identity("id-card", "match"));
        feed(
            &mut s,
            EventKind::LivenessAttested {
                prompt_id: "p".into(),
                passed: true,
                recording_offset_ms: None,
            },
        );
        feed(&mut s, doc("still", "identity-document"));
        feed(&mut s, doc("document", "death-certificate"));
        let o = s.outcome();
        assert_eq!(o.outcome, "incomplete");
        assert!(
            o.reason
                .as_deref()
                .unwrap_or_default()
                .contains("document:kinship-proof")
        );
        feed(&mut s, doc("document", "kinship-proof"));
        feed(
            &mut s,
            EventKind::DeclarationConfirmed {
                declaration: "inheritance".into(),
                version: 1,
                lang: "en".into(),
                text_sha256: "h".into(),
                recording_offset_ms: None,
                by: None,
            },
        );
        assert_eq!(
            s.outcome(),
            Outcome {
                outcome: "completed",
                reason: None
            }
        );
        let items = s.items();
        assert_eq!(
            items
                .iter()
                .find(|i| i.item == "identity:passport|id-card")
                .and_then(|i| i.satisfied_by),
            Some(6)
        );
        assert!(items.iter().all(|i| i.satisfied_by.is_some()));
    }

    #[test]
    fn a_withdrawn_consent_unsatisfies_and_refuses() {
        let mut s = inheritance();
        s.observe(1, &granted("recording"));
        s.observe(
            2,
            &EventKind::ConsentWithdrawn {
                consent: "recording".into(),
                text_sha256: "h".into(),
                recording_offset_ms: Some(5),
            },
        );
        let o = s.outcome();
        assert_eq!(o.outcome, "refused");
        assert!(o.reason.unwrap_or_default().contains("recording"));
        assert_eq!(s.items()[0].satisfied_by, None);
        assert!(s.wants_document("document", "death-certificate"));
        assert!(!s.wants_document("document", "medical-certificate"));
    }
}
