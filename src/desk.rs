//! The walk-in desk: one FIFO queue per service type, and pairing of a waiting applicant with
//! the officer who asks. Pure: fed a clock reading, it never touches a socket.
//!
//! [`Desk::take_for`] picks, among the applicants whose service needs a skill the officer has:
//! first an applicant booked with this officer whose slot has come, then one who speaks a
//! language the officer speaks, oldest first — unless someone has waited past
//! [`STARVATION_BOUND`], who then goes first whatever the language, so nobody starves.

use crate::ids::{CaseId, UserId};
use crate::signal::protocol::QueueEntry;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;

/// An applicant waiting in a queue.
#[derive(Clone, Debug, PartialEq)]
pub struct Waiting {
    pub case_id: CaseId,
    pub applicant_name: String,
    /// The service, time zone, language and skill are shared among the entries that have the
    /// same ([`Desk::join`] keeps one copy of each).
    pub service: Arc<str>,
    pub tz: Arc<str>,
    pub lang: Arc<str>,
    /// The officer skill the service needs.
    pub skill: Arc<str>,
    /// A booking with this officer starting at this time, if the applicant booked.
    pub booked_with: Option<(UserId, DateTime<Utc>)>,
    pub since: DateTime<Utc>,
}

/// What an officer can take.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OfficerCaps {
    pub officer: Option<UserId>,
    /// Skills; empty means any.
    pub skills: Vec<String>,
    /// Languages; empty means any.
    pub languages: Vec<String>,
    /// The services of the officer's offices.
    pub scope: crate::officers::Scope,
}

/// After this long in the queue, an applicant is taken before better language matches.
pub const STARVATION_BOUND: chrono::Duration = chrono::Duration::minutes(15);
/// A booked applicant is served ahead of walk-ins from this long before their slot.
pub const BOOKING_EARLY: chrono::Duration = chrono::Duration::minutes(10);

/// Expected wait for someone with `ahead` applicants before them, served by `officers`
/// officers whose recent sessions took `recent` (or `typical` when there is no history).
pub fn estimated_wait(
    ahead: usize,
    officers: usize,
    recent: &[chrono::Duration],
    typical: chrono::Duration,
) -> chrono::Duration {
    let mean = if recent.is_empty() {
        typical
    } else {
        let total: i64 = recent.iter().map(|d| d.num_seconds().max(0)).sum();
        chrono::Duration::seconds(total / recent.len() as i64)
    };
    let rounds = ahead.div_ceil(officers.max(1)) as i32;
    mean * rounds
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeskError {
    #[error("this case is already waiting in the queue")]
    AlreadyQueued,
}

#[derive(Debug, Default)]
pub struct Desk {
    queues: BTreeMap<Arc<str>, VecDeque<Waiting>>,
    names: Names,
}

/// The few distinct services, skills, languages and time zones of the waiting, one copy each:
/// tens of thousands of entries then share them instead of holding their own
/// (`docs/benchmarks.md`, signalling load).
#[derive(Debug, Default)]
struct Names(HashSet<Arc<str>>);

impl Names {
    /// More distinct values than this are not kept (they are all checked when a case is made,
    /// so this only bounds the set).
    const MAX: usize = 4096;

    fn intern(&mut self, name: &Arc<str>) -> Arc<str> {
        if let Some(known) = self.0.get(&**name) {
            return known.clone();
        }
        if self.0.len() < Self::MAX {
            self.0.insert(name.clone());
        }
        name.clone()
    }
}

impl Desk {
    pub fn join(&mut self, mut waiting: Waiting) -> Result<(), DeskError> {
        if self.position(waiting.case_id).is_some() {
            return Err(DeskError::AlreadyQueued);
        }
        for name in [
            &mut waiting.service,
            &mut waiting.tz,
            &mut waiting.lang,
            &mut waiting.skill,
        ] {
            *name = self.names.intern(name);
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

    /// Take the applicant this officer should serve next (see the module header), limited to
    /// `service` when given.
    pub fn take_for(
        &mut self,
        caps: &OfficerCaps,
        service: Option<&str>,
        now: DateTime<Utc>,
    ) -> Option<Waiting> {
        let eligible = |w: &Waiting| {
            service.is_none_or(|s| *s == *w.service)
                && caps.scope.allows(&w.service)
                && (caps.skills.is_empty() || caps.skills.iter().any(|k| **k == *w.skill))
        };
        let speaks = |w: &Waiting| {
            caps.languages.is_empty() || caps.languages.iter().any(|l| **l == *w.lang)
        };
        let mine = |w: &Waiting| {
            matches!((caps.officer, w.booked_with), (Some(me), Some((o, at)))
                if me == o && at - BOOKING_EARLY <= now)
        };
        // Rank: booked with me and due, starving, language match; then oldest first.
        let best = self
            .queues
            .values()
            .flatten()
            .filter(|w| eligible(w))
            .min_by_key(|w| {
                let starving = now - w.since >= STARVATION_BOUND;
                (!mine(w), !starving, !speaks(w), w.since)
            })?
            .case_id;
        let queue = self
            .queues
            .values_mut()
            .find(|q| q.iter().any(|w| w.case_id == best))?;
        let i = queue.iter().position(|w| w.case_id == best)?;
        queue.remove(i)
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
                service: w.service.to_string(),
                tz: w.tz.to_string(),
                lang: w.lang.to_string(),
                waiting_since: w.since.to_rfc3339(),
            })
            .collect()
    }

    /// How many are waiting, over every service.
    pub fn len(&self) -> usize {
        self.queues.values().map(VecDeque::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every queued case with its service, position and queue length, for position broadcasts.
    pub fn positions(&self) -> Vec<(&str, CaseId, usize, usize)> {
        self.queues
            .iter()
            .flat_map(|(service, q)| {
                q.iter()
                    .enumerate()
                    .map(move |(i, w)| (&**service, w.case_id, i + 1, q.len()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn waiting_entries_share_one_copy_of_each_name() {
        let mut desk = Desk::default();
        desk.join(waiting("id-card-renewal", 1)).expect("joins");
        desk.join(waiting("id-card-renewal", 2)).expect("joins");
        let queue = &desk.queues["id-card-renewal"];
        let (a, b) = (&queue[0], &queue[1]);
        assert!(Arc::ptr_eq(&a.service, &b.service));
        assert!(Arc::ptr_eq(&a.tz, &b.tz));
        assert!(Arc::ptr_eq(&a.lang, &b.lang));
        // The skill is spelled like the service here: one copy serves both.
        assert!(Arc::ptr_eq(&a.skill, &a.service));
        assert_eq!(desk.names.0.len(), 3, "service, zone, language");
    }

    fn waiting(service: &str, minute: u32) -> Waiting {
        Waiting {
            case_id: CaseId::random(),
            applicant_name: format!("a{minute}"),
            service: service.into(),
            tz: "Europe/Lisbon".into(),
            lang: "pt".into(),
            skill: service.into(),
            booked_with: None,
            since: Utc
                .with_ymd_and_hms(2026, 11, 27, 9, minute, 0)
                .single()
                .expect("valid"),
        }
    }

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 9, minute, 0)
            .single()
            .expect("valid")
    }

    fn any() -> OfficerCaps {
        OfficerCaps::default()
    }

    #[test]
    fn an_officer_takes_only_their_offices_services() {
        let mut desk = Desk::default();
        let inheritance = waiting("inheritance", 0);
        let licence = waiting("driving-licence-renewal", 1);
        desk.join(inheritance.clone()).unwrap();
        desk.join(licence.clone()).unwrap();
        let vehicles = OfficerCaps {
            scope: crate::officers::Scope::Services(vec!["driving-licence-renewal".into()]),
            ..OfficerCaps::default()
        };
        // The inheritance case waited longer, but belongs to another office.
        let taken = desk.take_for(&vehicles, None, at(2)).map(|w| w.case_id);
        assert_eq!(taken, Some(licence.case_id));
        assert_eq!(desk.take_for(&vehicles, None, at(2)), None);
        assert_eq!(
            desk.take_for(&vehicles, Some("inheritance"), at(2)),
            None,
            "naming the service does not open it"
        );
        assert_eq!(
            desk.take_for(&any(), None, at(2)).map(|w| w.case_id),
            Some(inheritance.case_id)
        );
    }

    #[test]
    fn skill_then_booking_then_language_then_age_and_nobody_starves() {
        let officer = UserId::random();
        let caps = OfficerCaps {
            officer: Some(officer),
            skills: vec!["id-card-renewal".into(), "inheritance".into()],
            languages: vec!["zh-Hans".into(), "it".into()],
            ..OfficerCaps::default()
        };
        let mut desk = Desk::default();
        let licence = waiting("driving-licence-renewal", 0); // no skill for it
        let pt_old = waiting("id-card-renewal", 1);
        let it_new = Waiting {
            lang: "it".into(),
            ..waiting("inheritance", 5)
        };
        let booked = Waiting {
            booked_with: Some((officer, at(12))),
            ..waiting("id-card-renewal", 8)
        };
        for w in [&licence, &pt_old, &it_new, &booked] {
            desk.join(w.clone()).unwrap();
        }
        // At 09:06 the booking (09:12, served from 09:02) is due: it goes first.
        let first = desk.take_for(&caps, None, at(6)).map(|w| w.case_id);
        assert_eq!(first, Some(booked.case_id));
        // Then the Italian speaker, although the Portuguese speaker waited longer.
        assert_eq!(
            desk.take_for(&caps, None, at(9)).map(|w| w.case_id),
            Some(it_new.case_id)
        );
        // Past the starvation bound the oldest goes first whatever the language.
        let it_late = Waiting {
            lang: "it".into(),
            ..waiting("id-card-renewal", 10)
        };
        desk.join(it_late.clone()).unwrap();
        let later = at(1) + STARVATION_BOUND;
        assert_eq!(
            desk.take_for(&caps, None, later).map(|w| w.case_id),
            Some(pt_old.case_id)
        );
        // The licence applicant is never given to an officer without the skill.
        assert_eq!(
            desk.take_for(&caps, None, later).map(|w| w.case_id),
            Some(it_late.case_id)
        );
        assert_eq!(desk.take_for(&caps, None, later), None);
        assert_eq!(
            desk.take_for(&any(), None, later).map(|w| w.case_id),
            Some(licence.case_id)
        );
    }

    #[test]
    fn estimated_wait_uses_recent_sessions() {
        let m = chrono::Duration::minutes;
        assert_eq!(estimated_wait(0, 1, &[m(20)], m(30)), m(0));
        assert_eq!(estimated_wait(3, 1, &[m(10), m(20)], m(30)), m(45));
        assert_eq!(estimated_wait(3, 2, &[], m(30)), m(60));
        assert_eq!(
            estimated_wait(2, 0, &[m(10)], m(30)),
            m(20),
            "no officer counts as one"
        );
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
        let now = at(30);
        assert_eq!(
            desk.take_for(&any(), Some("id-card-renewal"), now)
                .map(|w| w.case_id),
            Some(a.case_id)
        );
        assert_eq!(desk.position(b.case_id), Some((1, 1)));
        // Without a service, the longest wait goes first.
        assert_eq!(
            desk.take_for(&any(), None, now).map(|w| w.case_id),
            Some(c.case_id)
        );
        assert!(desk.leave(b.case_id));
        assert!(!desk.leave(b.case_id));
        assert_eq!(desk.take_for(&any(), None, now), None);
        assert_eq!(desk.take_for(&any(), Some("nope"), now), None);
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
