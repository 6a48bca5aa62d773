//! Appointment slots that suit both an officer's shift and an applicant's waking hours.
//!
//! Contract: [`find_slots`] lists every `[start, start + duration)` that starts on a `step` from
//! the start of one of the officer's shifts, lies wholly inside that shift and inside the
//! applicant's window, and would not push the officer past `max_sessions` concurrent bookings.
//! Each officer's slots are listed separately; [`distinct_times`] folds them per start time.
//! [`show`] and [`local_hour_is_night`] format instants for the people on either side.

use std::collections::HashSet;

use chrono::{DateTime, NaiveTime, TimeDelta, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::local::{local_date, resolve, tz_serde};
use super::shifts::shifts_between;
use super::{Calendar, OfficerSchedule, ScheduleError};

/// The longest search [`find_slots`] accepts, in days.
pub const MAX_SEARCH_DAYS: u32 = 60;

const MIN_GRAIN: TimeDelta = TimeDelta::minutes(1);
const MAX_GRAIN: TimeDelta = TimeDelta::hours(24);

/// The local hours an applicant accepts a call in, on any one local day of theirs.
///
/// The window opens at the instant the applicant's clock first reads `earliest` that day and
/// closes when it first reads `latest`. A reading skipped by a DST gap means the instant the gap
/// ends; a repeated reading means its first occurrence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicantWindow {
    #[serde(with = "tz_serde")]
    pub zone: Tz,
    #[serde(default = "default_earliest")]
    pub earliest: NaiveTime,
    #[serde(default = "default_latest")]
    pub latest: NaiveTime,
}

/// A bookable slot with one officer. `officer` is the caller's opaque officer id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Slot {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub officer: String,
}

/// What to search for; see [`find_slots`].
#[derive(Clone, Copy, Debug)]
pub struct SlotQuery<'a> {
    /// Officer id and rota. Overrides are ignored here: they are live status, not the rota.
    pub officers: &'a [(String, OfficerSchedule)],
    pub calendar: &'a Calendar,
    pub applicant: &'a ApplicantWindow,
    /// Slot length, 1 minute to 24 hours.
    pub duration: TimeDelta,
    /// Distance between slot starts, counted from each shift's start; 1 minute to 24 hours.
    pub step: TimeDelta,
    /// No slot starts before this; the search ends `days × 24 h` after it.
    pub from: DateTime<Utc>,
    /// `1..=60`.
    pub days: u32,
    /// Existing bookings: officer id, start, end. Entries for other officers are ignored, and so
    /// are empty or inverted intervals.
    pub busy: &'a [(String, DateTime<Utc>, DateTime<Utc>)],
}

/// An instant as a person in `zone` reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShownTime {
    /// `"2026-11-30 09:30"`.
    pub local: String,
    /// IANA name, `"Asia/Shanghai"`.
    pub zone: String,
    /// `"+08:00"`.
    pub utc_offset: String,
    /// `"Shanghai"`: the zone name's last segment, underscores as spaces.
    pub city: String,
}

/// 08:00. A const, so an invalid time would fail the build, never a run.
const DEFAULT_EARLIEST: NaiveTime = match NaiveTime::from_hms_opt(8, 0, 0) {
    Some(time) => time,
    None => panic!("08:00 is a valid time"),
};

/// 21:00. A const, so an invalid time would fail the build, never a run.
const DEFAULT_LATEST: NaiveTime = match NaiveTime::from_hms_opt(21, 0, 0) {
    Some(time) => time,
    None => panic!("21:00 is a valid time"),
};

fn default_earliest() -> NaiveTime {
    DEFAULT_EARLIEST
}

fn default_latest() -> NaiveTime {
    DEFAULT_LATEST
}

impl ApplicantWindow {
    /// An applicant in `zone` who takes calls from 08:00 to 21:00 local time.
    pub fn new(zone: Tz) -> Self {
        Self {
            zone,
            earliest: DEFAULT_EARLIEST,
            latest: DEFAULT_LATEST,
        }
    }

    /// `earliest` must not be after `latest`; equal times make an empty window.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        if self.earliest > self.latest {
            return Err(ScheduleError::WindowInverted {
                earliest: self.earliest,
                latest: self.latest,
            });
        }
        Ok(())
    }

    /// Whether `[start, end)` lies inside the window of the applicant's local date of `start`.
    fn contains(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        let Some(date) = local_date(start, self.zone) else {
            return false;
        };
        match (
            resolve(self.zone, date, self.earliest),
            resolve(self.zone, date, self.latest),
        ) {
            (Some(opens), Some(closes)) => opens <= start && end <= closes,
            _ => false,
        }
    }
}

/// Every slot matching `q`, sorted by start, then officer id, then end.
///
/// Fails on a bad query ([`ScheduleError::Days`], [`ScheduleError::Duration`],
/// [`ScheduleError::Step`], [`ScheduleError::WindowInverted`], [`ScheduleError::OutOfRange`])
/// or on an officer whose schedule does not validate ([`ScheduleError::Officer`]). A slot must
/// end by `from + days × 24 h`. An officer with `max_sessions = n` is offered a slot while at
/// most `n - 1` of their bookings run at any one moment of it.
pub fn find_slots(q: &SlotQuery<'_>) -> Result<Vec<Slot>, ScheduleError> {
    if q.days == 0 || q.days > MAX_SEARCH_DAYS {
        return Err(ScheduleError::Days(q.days));
    }
    if q.duration < MIN_GRAIN || q.duration > MAX_GRAIN {
        return Err(ScheduleError::Duration(q.duration));
    }
    if q.step < MIN_GRAIN || q.step > MAX_GRAIN {
        return Err(ScheduleError::Step(q.step));
    }
    q.applicant.validate()?;
    let to = q
        .from
        .checked_add_signed(TimeDelta::days(i64::from(q.days)))
        .ok_or(ScheduleError::OutOfRange)?;

    let mut slots = Vec::new();
    for (officer, schedule) in q.officers {
        schedule
            .validate()
            .map_err(|source| ScheduleError::Officer {
                officer: officer.clone(),
                source: Box::new(source),
            })?;
        // Validation bounds max_sessions to 1..=20, so the conversion cannot fail.
        let max_sessions = usize::try_from(schedule.max_sessions).unwrap_or(usize::MAX);
        let busy: Vec<(DateTime<Utc>, DateTime<Utc>)> = q
            .busy
            .iter()
            .filter(|(id, start, end)| id == officer && start < end && *start < to && *end > q.from)
            .map(|&(_, start, end)| (start, end))
            .collect();
        for (shift_start, shift_end) in shifts_between(schedule, q.calendar, q.from, to) {
            let mut start = shift_start;
            while let Some(end) = start.checked_add_signed(q.duration) {
                if end > shift_end || end > to {
                    break;
                }
                if start >= q.from
                    && q.applicant.contains(start, end)
                    && peak_bookings(&busy, start, end) < max_sessions
                {
                    slots.push(Slot {
                        start,
                        end,
                        officer: officer.clone(),
                    });
                }
                match start.checked_add_signed(q.step) {
                    Some(next) => start = next,
                    None => break,
                }
            }
        }
    }
    slots.sort_by(|a, b| (a.start, &a.officer, a.end).cmp(&(b.start, &b.officer, b.end)));
    // Only the same officer listed twice can repeat a slot exactly.
    slots.dedup();
    Ok(slots)
}

/// The most bookings running at one moment within `[start, end)`.
fn peak_bookings(
    busy: &[(DateTime<Utc>, DateTime<Utc>)],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> usize {
    let mut edges: Vec<(DateTime<Utc>, i8)> = busy
        .iter()
        .filter(|&&(b_start, b_end)| b_start < end && start < b_end)
        .flat_map(|&(b_start, b_end)| [(b_start.max(start), 1), (b_end.min(end), -1)])
        .collect();
    // At equal instants the -1 sorts first: a booking ending as another starts is not overlap.
    edges.sort_unstable();
    let (mut running, mut peak) = (0usize, 0usize);
    for (_, edge) in edges {
        if edge > 0 {
            running += 1;
            peak = peak.max(running);
        } else {
            running = running.saturating_sub(1);
        }
    }
    peak
}

/// One slot per start time, keeping the first officer listed for it (the lowest id when
/// `slots` comes from [`find_slots`]).
pub fn distinct_times(slots: &[Slot]) -> Vec<Slot> {
    let mut seen = HashSet::new();
    slots
        .iter()
        .filter(|slot| seen.insert(slot.start))
        .cloned()
        .collect()
}

/// `t` as read on a wall clock in `zone`.
pub fn show(t: DateTime<Utc>, zone: Tz) -> ShownTime {
    let local = t.with_timezone(&zone);
    let name = zone.name();
    ShownTime {
        local: local.format("%Y-%m-%d %H:%M").to_string(),
        zone: name.to_owned(),
        utc_offset: local.format("%:z").to_string(),
        city: name.rsplit('/').next().unwrap_or(name).replace('_', " "),
    }
}

/// Whether it is night in `zone` at `t`: before 07:00 or from 20:00 local time.
pub fn local_hour_is_night(t: DateTime<Utc>, zone: Tz) -> bool {
    let hour = t.with_timezone(&zone).time().hour();
    !(7..20).contains(&hour)
}

#[cfg(test)]
mod tests;
