//! The walk-in desk: one FIFO queue per service type, and pairing of the applicant at the head
//! with the officer who asks. Pure: fed a clock reading, it never touches a socket.
//!
//! Shifts, skills and languages (the time-zone issue) will narrow [`Desk::take_next`]; the
//! queue keeps each applicant's zone and language already so they can.

use crate::ids::CaseId;
use crate::signal::protocol::QueueEntry;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, VecDeque};

/// An applicant waiting in a queue.
#[derive(Clone, Debug, PartialEq)]
pub struct Waiting {
    pub case_id: CaseId,
    pub applicant_name: String,
    pub service: String,
    pub tz: String,
    pub lang: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeskError {
    #[error("this case is already waiting in the queue")]
    AlreadyQueued,
}

#[derive(Debug, Default)]
pub struct Desk {
    queues: BTreeMap<String, VecDeque<Waiting>>,
}

impl Desk {
    pub fn join(&mut self, waiting: Waiting) -> Result<(), DeskError> {
        if self.position(waiting.case_id).is_some() {
            return Err(DeskError::AlreadyQueued);
        }
        self.queues
            .entry(waiting.service.clone())
            .or_default()
            .push_back(waiting);
        Ok(())
    }

    /// Remove a case from its queue; `false` if it was not queued.
    pub fn leave(&mut self, case: CaseId) -> bool {
        for queue in self.queues.values_mut() {
            if let Some(i) = queue.iter().position(|w| w.case_id == case) {
                queue.remove(i);
                return true;
            }
        }
        false
    }

    /// Pop the head of `service`'s queue, or, with no service, whoever has waited longest.
    pub fn take_next(&mut self, service: Option<&str>) -> Option<Waiting> {
        let key = match service {
            Some(s) => s.to_owned(),
            None => self
                .queues
                .iter()
                .filter_map(|(k, q)| q.front().map(|w| (w.since, k)))
                .min()
                .map(|(_, k)| k.clone())?,
        };
        self.queues.get_mut(&key)?.pop_front()
    }

    /// `(position, length)` of a case in its service's queue, 1-based.
    pub fn position(&self, case: CaseId) -> Option<(usize, usize)> {
        self.queues.values().find_map(|q| {
            q.iter()
                .position(|w| w.case_id == case)
                .map(|i| (i + 1, q.len()))
        })
    }

    /// Every waiting applicant, longest wait first.
    pub fn entries(&self) -> Vec<QueueEntry> {
        let mut all: Vec<&Waiting> = self.queues.values().flatten().collect();
        all.sort_by_key(|w| w.since);
        all.into_iter()
            .map(|w| QueueEntry {
                case_id: w.case_id,
                applicant_name: w.applicant_name.clone(),
                service: w.service.clone(),
                tz: w.tz.clone(),
                lang: w.lang.clone(),
                waiting_since: w.since.to_rfc3339(),
            })
            .collect()
    }

    /// Every queued case with its position, for position broadcasts.
    pub fn positions(&self) -> Vec<(CaseId, usize, usize)> {
        self.queues
            .values()
            .flat_map(|q| {
                q.iter()
                    .enumerate()
                    .map(move |(i, w)| (w.case_id, i + 1, q.len()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn waiting(service: &str, minute: u32) -> Waiting {
        Waiting {
            case_id: CaseId::random(),
            applicant_name: format!("a{minute}"),
            service: service.into(),
            tz: "Europe/Lisbon".into(),
            lang: "pt".into(),
            since: Utc
                .with_ymd_and_hms(2026, 11, 27, 9, minute, 0)
                .single()
                .expect("valid"),
        }
    }

    #[test]
    fn fifo_per_service_with_live_positions() {
        let mut desk = Desk::default();
        let (a, b, c) = (
            waiting("id-card-renewal", 1),
            waiting("id-card-renewal", 2),
            waiting("inheritance", 0),
        );
        for w in [&a, &b, &c] {
            desk.join(w.clone()).unwrap();
        }
        assert_eq!(desk.join(a.clone()), Err(DeskError::AlreadyQueued));
        assert_eq!(desk.position(b.case_id), Some((2, 2)));
        assert_eq!(
            desk.take_next(Some("id-card-renewal")).map(|w| w.case_id),
            Some(a.case_id)
        );
        assert_eq!(desk.position(b.case_id), Some((1, 1)));
        // Without a service, the longest wait goes first.
        assert_eq!(desk.take_next(None).map(|w| w.case_id), Some(c.case_id));
        assert!(desk.leave(b.case_id));
        assert!(!desk.leave(b.case_id));
        assert_eq!(desk.take_next(None), None);
        assert_eq!(desk.take_next(Some("nope")), None);
    }

    #[test]
    fn entries_are_oldest_first() {
        let mut desk = Desk::default();
        desk.join(waiting("b", 5)).unwrap();
        desk.join(waiting("a", 7)).unwrap();
        desk.join(waiting("b", 3)).unwrap();
        let names: Vec<_> = desk
            .entries()
            .into_iter()
            .map(|e| e.applicant_name)
            .collect();
        assert_eq!(names, ["a3", "a5", "a7"]);
    }
}
