//! Appointment slots that suit both an officer's shift and an applicant's waking hours.
//!
//! Contract: [`find_slots`] lists every `[start, start + duration)` that starts on a `step` from
//! the start of one of the officer's shifts, lies wholly inside that shift and inside the
//! applicant's window, and would not push the officer past `max_sessions` concurrent bookings.
//! [`search_slots`] groups them per start time ([`SlotTable`]); [`find_slots`] lists one
//! [`Slot`] per officer and start.
//! [`show`] and [`local_hour_is_night`] format instants for the people on either side.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::local::{dates, local_date, resolve, tz_serde};
use super::shifts::day_shifts;
use super::{Calendar, Exception, OfficerSchedule, ScheduleError, ShiftPattern, shifts_on};

/// The longest search [`find_slots`] accepts, in days.
pub const MAX_SEARCH_DAYS: u32 = 90;

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
    /// `1..=`[`MAX_SEARCH_DAYS`].
    pub days: u32,
    /// Existing bookings: officer id, start, end. Entries for other officers are ignored, and so
    /// are empty or inverted intervals.
    pub busy: &'a [(String, DateTime<Utc>, DateTime<Utc>)],
}

/// An instant as a person in `zone` reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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
    ///
    /// The rule `search_slots` applies with each date's window resolved once; tests hold the
    /// two to the same answers.
    #[cfg(test)]
    fn contains(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        local_date(start, self.zone)
            .and_then(|date| self.window_on(date))
            .is_some_and(|(opens, closes)| opens <= start && end <= closes)
    }

    /// The instants the window opens and closes on local `date`, if both exist.
    fn window_on(&self, date: NaiveDate) -> Option<Interval> {
        Some((
            resolve(self.zone, date, self.earliest)?,
            resolve(self.zone, date, self.latest)?,
        ))
    }
}

/// Every slot matching `q`, sorted by start, then officer id, then end.
///
/// Fails on a bad query ([`ScheduleError::Days`], [`ScheduleError::Duration`],
/// [`ScheduleError::Step`], [`ScheduleError::WindowInverted`], [`ScheduleError::OutOfRange`])
/// or on an officer whose schedule does not validate ([`ScheduleError::Officer`]). A slot must
/// end by `from + days × 24 h`. An officer with `max_sessions = n` is offered a slot while at
/// most `n - 1` of their bookings run at any one moment of it.
///
/// The flat form of [`search_slots`], one [`Slot`] (with its own copy of the officer id) per
/// officer and start.
pub fn find_slots(q: &SlotQuery<'_>) -> Result<Vec<Slot>, ScheduleError> {
    search_slots(q).map(|table| table.to_slots())
}

/// The slots of one search, grouped by start time: what [`search_slots`] returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotTable<'a> {
    /// Distinct `(start, end)` with at least one officer, sorted by start.
    times: Vec<Interval>,
    /// For each entry of `times`, the ids of the officers free then: sorted, no repeats.
    officers: Vec<Vec<&'a str>>,
}

impl<'a> SlotTable<'a> {
    /// Each start time once, with its end, in order.
    pub fn times(&self) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        self.times.iter().copied()
    }

    /// The ids of the officers free for the slot starting at `start`, in id order.
    pub fn officers_at(&self, start: DateTime<Utc>) -> &[&'a str] {
        self.times
            .binary_search_by_key(&start, |&(s, _)| s)
            .ok()
            .and_then(|i| self.officers.get(i))
            .map_or(&[], Vec::as_slice)
    }

    /// How many (start, officer) slots the table holds.
    pub fn len(&self) -> usize {
        self.officers.iter().map(Vec::len).sum()
    }

    /// Whether no officer is free at any time.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// One [`Slot`] per officer and start, sorted by start, then officer id.
    pub fn to_slots(&self) -> Vec<Slot> {
        self.times
            .iter()
            .zip(&self.officers)
            .flat_map(|(&(start, end), ids)| {
                ids.iter().map(move |id| Slot {
                    start,
                    end,
                    officer: (*id).to_owned(),
                })
            })
            .collect()
    }
}

/// [`find_slots`]'s answer as a [`SlotTable`], without building a [`Slot`] per officer.
///
/// Cost: what does not depend on the officer is worked out once per query. Each distinct
/// weekly pattern becomes UTC shifts and then candidate starts (inside the search, a shift and
/// the applicant's window) once, for every officer who works it; the applicant's window is
/// resolved once per local date. What is left per officer and day is the calendar, leave,
/// `Extra` shifts (a day with one is worked out in full, as [`shifts_on`] does) and bookings,
/// so a search is linear in officers × days plus the slots found (`docs/benchmarks.md`).
pub fn search_slots<'a>(q: &SlotQuery<'a>) -> Result<SlotTable<'a>, ScheduleError> {
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
    for (officer, schedule) in q.officers {
        schedule
            .validate()
            .map_err(|source| ScheduleError::Officer {
                officer: officer.clone(),
                source: Box::new(source),
            })?;
    }

    let planner = Planner::new(q, to);
    // Officers in id order (stable, so one id listed twice keeps its entries together): the
    // ids pushed per start time come out sorted.
    let mut order: Vec<&'a (String, OfficerSchedule)> = q.officers.iter().collect();
    order.sort_by(|a, b| a.0.cmp(&b.0));
    let mut busy: HashMap<&str, Vec<Interval>> = HashMap::new();
    for (id, start, end) in q.busy {
        if start < end && *start < to && *end > q.from {
            busy.entry(id.as_str()).or_default().push((*start, *end));
        }
    }

    // Pass 1: every candidate start, from the shared patterns and from officers' own days.
    let mut plans: Vec<PatternPlan> = Vec::new();
    let mut plan_of: HashMap<&ShiftPattern, usize> = HashMap::new();
    let mut rotas: Vec<OfficerRota> = Vec::with_capacity(order.len());
    for (_, schedule) in &order {
        let plan = *plan_of.entry(&schedule.pattern).or_insert_with(|| {
            plans.push(planner.plan(&schedule.pattern));
            plans.len() - 1
        });
        let own_days = planner.own_days(schedule, &plans[plan]);
        rotas.push(OfficerRota { plan, own_days });
    }
    let mut times: Vec<Interval> = plans
        .iter()
        .flat_map(|p| p.days.iter().flatten())
        .chain(
            rotas
                .iter()
                .flat_map(|r| r.own_days.iter().flat_map(|(_, c)| c)),
        )
        .copied()
        .collect();
    times.sort_unstable();
    times.dedup();
    let index = |start: DateTime<Utc>| times.binary_search_by_key(&start, |&(s, _)| s).ok();
    let indexed = |day: &[Interval]| -> Vec<usize> {
        day.iter().filter_map(|&(start, _)| index(start)).collect()
    };
    let plan_indices: Vec<Vec<Vec<usize>>> = plans
        .iter()
        .map(|p| p.days.iter().map(|day| indexed(day)).collect())
        .collect();

    // Pass 2: each officer's days, against the times their bookings leave them full.
    let mut officers: Vec<Vec<&'a str>> = vec![Vec::new(); times.len()];
    let mut previous: Option<&str> = None;
    for ((id, schedule), rota) in order.iter().zip(&rotas) {
        let plan = &plans[rota.plan];
        // Validation bounds max_sessions to 1..=20, so the conversion cannot fail.
        let max_sessions = usize::try_from(schedule.max_sessions).unwrap_or(usize::MAX);
        let full = busy
            .get(id.as_str())
            .map_or_else(Vec::new, |b| full_intervals(b, max_sessions));
        // Only an id listed twice (adjacent in id order) can offer one start twice.
        let repeated = previous == Some(id.as_str());
        previous = Some(id.as_str());
        let mut own = rota.own_days.iter().peekable();
        for (day, date) in plan.dates.iter().enumerate() {
            let candidates: Vec<usize>;
            let starts: &[usize] = match own.next_if(|(d, _)| *d == day) {
                Some((_, own_day)) => {
                    candidates = indexed(own_day);
                    &candidates
                }
                None if plan.holiday[day] || schedule.on_leave(*date) => &[],
                None => &plan_indices[rota.plan][day],
            };
            for &i in starts {
                let (start, end) = times[i];
                let list = &mut officers[i];
                if !(repeated && list.last() == Some(&id.as_str())) && free(&full, start, end) {
                    list.push(id.as_str());
                }
            }
        }
    }
    let (times, officers) = times
        .into_iter()
        .zip(officers)
        .filter(|(_, ids)| !ids.is_empty())
        .unzip();
    Ok(SlotTable { times, officers })
}

/// `[start, end)`.
type Interval = (DateTime<Utc>, DateTime<Utc>);

/// One weekly pattern over the search: the office dates it spans (a day either side of the
/// search, as a transition can move a date's edge), whether each is an office holiday, and
/// the candidate slots its regular shifts give on each.
struct PatternPlan {
    dates: Vec<NaiveDate>,
    holiday: Vec<bool>,
    days: Vec<Vec<Interval>>,
}

/// One officer's plan and the days (index into the plan's dates) that are their own: those
/// with an `Extra` shift, with their candidate slots worked out in full.
struct OfficerRota {
    plan: usize,
    own_days: Vec<(usize, Vec<Interval>)>,
}

/// What every plan of one query shares: the query, its end and the applicant's windows.
struct Planner<'q, 'a> {
    q: &'q SlotQuery<'a>,
    to: DateTime<Utc>,
    /// The applicant's local dates around the search, with the window of each, if any.
    window_dates: Vec<(NaiveDate, Option<Interval>)>,
    /// The windows that exist, sorted (resolution is monotonic, so they never overlap).
    windows: Vec<Interval>,
}

impl<'q, 'a> Planner<'q, 'a> {
    fn new(q: &'q SlotQuery<'a>, to: DateTime<Utc>) -> Self {
        let zone = q.applicant.zone;
        let window_dates: Vec<(NaiveDate, Option<Interval>)> =
            match (local_date(q.from, zone), local_date(to, zone)) {
                (Some(first), Some(last)) => dates(
                    first.pred_opt().unwrap_or(first),
                    last.succ_opt().unwrap_or(last),
                )
                .map(|date| (date, q.applicant.window_on(date)))
                .collect(),
                _ => Vec::new(),
            };
        let windows = window_dates.iter().filter_map(|(_, w)| *w).collect();
        Self {
            q,
            to,
            window_dates,
            windows,
        }
    }

    /// The office dates of `zone` the search touches, a day either side.
    fn office_dates(&self, zone: Tz) -> Vec<NaiveDate> {
        match (local_date(self.q.from, zone), local_date(self.to, zone)) {
            (Some(first), Some(last)) => dates(
                first.pred_opt().unwrap_or(first),
                last.succ_opt().unwrap_or(last),
            )
            .collect(),
            _ => Vec::new(),
        }
    }

    fn plan(&self, pattern: &ShiftPattern) -> PatternPlan {
        let dates = self.office_dates(pattern.zone);
        let holiday = dates
            .iter()
            .map(|&date| self.q.calendar.is_holiday(date))
            .collect();
        let days = dates
            .iter()
            .map(|&date| {
                let weekly = pattern
                    .weekly
                    .iter()
                    .filter(|s| s.weekday == date.weekday())
                    .map(|s| (s.start, s.end));
                self.candidates(&day_shifts(pattern.zone, date, weekly))
            })
            .collect();
        PatternPlan {
            dates,
            holiday,
            days,
        }
    }

    /// The days of `plan` on which `schedule` has an `Extra` shift, worked out in full.
    fn own_days(
        &self,
        schedule: &OfficerSchedule,
        plan: &PatternPlan,
    ) -> Vec<(usize, Vec<Interval>)> {
        let mut extra: Vec<usize> = schedule
            .exceptions
            .iter()
            .filter_map(|e| match *e {
                Exception::Extra { date, .. } => plan.dates.binary_search(&date).ok(),
                Exception::Leave { .. } => None,
            })
            .collect();
        extra.sort_unstable();
        extra.dedup();
        extra
            .into_iter()
            .map(|day| {
                let shifts = shifts_on(schedule, self.q.calendar, plan.dates[day]);
                (day, self.candidates(&shifts))
            })
            .collect()
    }

    /// The slots of `shifts` that start on a step from a shift's start, end inside it, start
    /// no earlier than the search, end by its end and lie inside the applicant's window.
    fn candidates(&self, shifts: &[Interval]) -> Vec<Interval> {
        let q = self.q;
        let mut found = Vec::new();
        for &(shift_start, shift_end) in shifts {
            let mut start = shift_start;
            while let Some(end) = start.checked_add_signed(q.duration) {
                if end > shift_end || end > self.to {
                    break;
                }
                if start >= q.from && self.in_window(start, end) {
                    found.push((start, end));
                }
                match start.checked_add_signed(q.step) {
                    Some(next) => start = next,
                    None => break,
                }
            }
        }
        found
    }

    /// `ApplicantWindow::contains`, with each local date's window resolved once.
    fn in_window(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        // Outside every window is a quick no (most candidates); inside one, the rule reads
        // the window of the start's own local date, as `contains` does.
        let i = self.windows.partition_point(|&(opens, _)| opens <= start);
        let inside_one = i
            .checked_sub(1)
            .and_then(|i| self.windows.get(i))
            .is_some_and(|&(_, closes)| end <= closes);
        inside_one
            && local_date(start, self.q.applicant.zone)
                .and_then(|date| {
                    let i = self
                        .window_dates
                        .binary_search_by_key(&date, |&(d, _)| d)
                        .ok()?;
                    self.window_dates.get(i)?.1
                })
                .is_some_and(|(opens, closes)| opens <= start && end <= closes)
    }
}

/// The sorted, disjoint intervals in which at least `max_sessions` of `bookings` run at once.
fn full_intervals(bookings: &[Interval], max_sessions: usize) -> Vec<Interval> {
    let mut edges: Vec<(DateTime<Utc>, i8)> = bookings
        .iter()
        .flat_map(|&(start, end)| [(start, 1), (end, -1)])
        .collect();
    // At equal instants the -1 sorts first: a booking ending as another starts is not overlap.
    edges.sort_unstable();
    let mut full = Vec::new();
    let (mut running, mut since) = (0usize, None);
    for (at, edge) in edges {
        if edge > 0 {
            running += 1;
            if running == max_sessions {
                since = Some(at);
            }
        } else {
            if running == max_sessions
                && let Some(from) = since.take().filter(|&from| from < at)
            {
                full.push((from, at));
            }
            running = running.saturating_sub(1);
        }
    }
    full
}

/// Whether `[start, end)` misses every interval of `full` (sorted, disjoint).
fn free(full: &[Interval], start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    let first_ending_after = full.partition_point(|&(_, f_end)| f_end <= start);
    full.get(first_ending_after)
        .is_none_or(|&(f_start, _)| f_start >= end)
}

/// The most bookings running at one moment within `[start, end)`: the plain rule behind
/// [`full_intervals`], which the tests' reference search applies.
#[cfg(test)]
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
