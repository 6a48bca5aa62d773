//! Officer shift patterns, exceptions and on-duty status.
//!
//! Contract: an officer's rota is a weekly pattern of local shifts in the office zone, minus
//! office holidays and personal leave, plus `Extra` worked days. [`shifts_on`] turns one local
//! date of it into UTC intervals; [`on_duty`] and [`next_opening`] answer "who is here now"
//! for a clock reading passed in. Manual overrides change live status only, never the rota.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::local::{dates, local_date, resolve, tz_serde};
use super::{Calendar, MAX_SESSIONS_LIMIT, ScheduleError};

/// How far ahead [`on_duty`] looks for the next shift, in days.
const LOOKAHEAD_DAYS: i64 = 30;

/// How long an `OnDuty` override lasts when no shift is left today to end it.
const OVERRIDE_GRACE: TimeDelta = TimeDelta::hours(1);

/// An officer's regular week, in local times of the office zone.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ShiftPattern {
    /// The office zone every local time of this pattern is read in (Lishui: `Asia/Shanghai`).
    #[serde(with = "tz_serde")]
    pub zone: Tz,
    pub weekly: Vec<WeeklyShift>,
}

/// One shift on one weekday: `start < end` on the same local day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WeeklyShift {
    pub weekday: Weekday,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// A change to one officer's regular week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Exception {
    /// No weekly shifts from `from` to `to`, both inclusive. `Extra` days inside still count.
    Leave { from: NaiveDate, to: NaiveDate },
    /// A worked shift on a date, e.g. a make-up working Saturday; it counts even on a holiday.
    Extra {
        date: NaiveDate,
        start: NaiveTime,
        end: NaiveTime,
    },
}

/// Everything that decides when one officer works.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficerSchedule {
    pub pattern: ShiftPattern,
    #[serde(default)]
    pub exceptions: Vec<Exception>,
    /// Sessions the officer can hold at once, `1..=20`.
    pub max_sessions: u32,
    /// A manual switch from the desk; it wins over the rota for live status only.
    #[serde(default)]
    pub override_status: Option<DutyOverride>,
}

/// A manual on/off-duty switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DutyOverride {
    OnDuty,
    OffDuty,
}

/// Whether an officer is working at a given instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DutyStatus {
    OnDuty {
        until: DateTime<Utc>,
    },
    /// `next_start` is `None` when nothing starts within 30 days.
    OffDuty {
        next_start: Option<DateTime<Utc>>,
    },
}

impl ShiftPattern {
    /// Every shift starts before it ends, and no two shifts on one weekday overlap (touching,
    /// one ending when the next starts, is allowed).
    pub fn validate(&self) -> Result<(), ScheduleError> {
        for shift in &self.weekly {
            if shift.start >= shift.end {
                return Err(ScheduleError::ShiftNotOrdered {
                    weekday: shift.weekday,
                    start: shift.start,
                    end: shift.end,
                });
            }
        }
        let mut sorted: Vec<&WeeklyShift> = self.weekly.iter().collect();
        sorted.sort_by_key(|s| (s.weekday.num_days_from_monday(), s.start, s.end));
        for pair in sorted.windows(2) {
            if let [a, b] = pair
                && a.weekday == b.weekday
                && b.start < a.end
            {
                return Err(ScheduleError::OverlappingShifts {
                    weekday: a.weekday,
                    first: (a.start, a.end),
                    second: (b.start, b.end),
                });
            }
        }
        Ok(())
    }
}

impl OfficerSchedule {
    /// The pattern is valid, every exception is ordered and `max_sessions` is `1..=20`.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        self.pattern.validate()?;
        if self.max_sessions == 0 || self.max_sessions > MAX_SESSIONS_LIMIT {
            return Err(ScheduleError::MaxSessions(self.max_sessions));
        }
        for exception in &self.exceptions {
            match *exception {
                Exception::Leave { from, to } if from > to => {
                    return Err(ScheduleError::LeaveNotOrdered { from, to });
                }
                Exception::Extra { date, start, end } if start >= end => {
                    return Err(ScheduleError::ExtraNotOrdered { date, start, end });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Whether `date` falls in one of the officer's leaves.
    pub fn on_leave(&self, date: NaiveDate) -> bool {
        self.exceptions.iter().any(|e| match *e {
            Exception::Leave { from, to } => from <= date && date <= to,
            Exception::Extra { .. } => false,
        })
    }
}

/// The UTC intervals the officer works on local `date` in the office zone, sorted by start.
///
/// The weekly pattern applies unless `date` is an office holiday or the officer is on leave;
/// `Extra` shifts apply regardless. Overlapping intervals (an `Extra` on top of a weekly shift)
/// are merged; empty or inverted ones, from an unvalidated schedule or a DST gap swallowing a
/// whole shift, are dropped.
pub fn shifts_on(
    schedule: &OfficerSchedule,
    calendar: &Calendar,
    date: NaiveDate,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let regular = !calendar.is_holiday(date) && !schedule.on_leave(date);
    let weekly = schedule
        .pattern
        .weekly
        .iter()
        .filter(|s| regular && s.weekday == date.weekday())
        .map(|s| (s.start, s.end));
    let extra = schedule.exceptions.iter().filter_map(|e| match *e {
        Exception::Extra {
            date: on,
            start,
            end,
        } if on == date => Some((start, end)),
        _ => None,
    });
    day_shifts(schedule.pattern.zone, date, weekly.chain(extra))
}

/// Local `(start, end)` times on `date` in `zone` as sorted, merged UTC intervals; empty or
/// inverted ones, including those a DST gap swallows, are dropped.
pub(crate) fn day_shifts(
    zone: Tz,
    date: NaiveDate,
    times: impl Iterator<Item = (NaiveTime, NaiveTime)>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut intervals: Vec<_> = times
        .filter_map(|(start, end)| Some((resolve(zone, date, start)?, resolve(zone, date, end)?)))
        .filter(|(start, end)| start < end)
        .collect();
    intervals.sort();
    let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(intervals.len());
    for (start, end) in intervals {
        match merged.last_mut() {
            Some(last) if start < last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// The officer's shifts that overlap `[from, to)`, whole (not clipped), sorted by start.
///
/// The plain form of what [`super::slots::search_slots`] computes with work shared between
/// officers; the slot tests hold the two to the same answers.
#[cfg(test)]
pub(crate) fn shifts_between(
    schedule: &OfficerSchedule,
    calendar: &Calendar,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let zone = schedule.pattern.zone;
    let (Some(first), Some(last)) = (local_date(from, zone), local_date(to, zone)) else {
        return Vec::new();
    };
    // A day either side: cheap, and safe against a transition moving a date's edge.
    let first = first.pred_opt().unwrap_or(first);
    let last = last.succ_opt().unwrap_or(last);
    dates(first, last)
        .flat_map(|date| shifts_on(schedule, calendar, date))
        .filter(|&(start, end)| end > from && start < to)
        .collect()
}

/// Whether the officer is on duty at `now`, and until when or from when.
///
/// Without an override: on duty inside a shift, until its end (running on through shifts that
/// start exactly when it ends); otherwise off duty until the next shift start within 30 days.
/// An `OnDuty` override lasts until the end of today's last shift, or an hour from `now` when
/// that has passed. An `OffDuty` override points at the first shift of a later local day.
pub fn on_duty(schedule: &OfficerSchedule, calendar: &Calendar, now: DateTime<Utc>) -> DutyStatus {
    let zone = schedule.pattern.zone;
    let Some(today) = local_date(now, zone) else {
        return DutyStatus::OffDuty { next_start: None };
    };
    let horizon = now
        .checked_add_signed(TimeDelta::days(LOOKAHEAD_DAYS))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let last_day = today
        .checked_add_days(Days::new(LOOKAHEAD_DAYS.unsigned_abs() + 1))
        .unwrap_or(NaiveDate::MAX);
    let within = |start: DateTime<Utc>| (start > now && start <= horizon).then_some(start);
    match schedule.override_status {
        Some(DutyOverride::OnDuty) => {
            let until = shifts_on(schedule, calendar, today)
                .last()
                .map(|&(_, end)| end)
                .filter(|&end| end > now)
                .or_else(|| now.checked_add_signed(OVERRIDE_GRACE))
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            DutyStatus::OnDuty { until }
        }
        Some(DutyOverride::OffDuty) => {
            let next_start = today.succ_opt().and_then(|tomorrow| {
                dates(tomorrow, last_day)
                    .flat_map(|date| shifts_on(schedule, calendar, date))
                    .find_map(|(start, _)| within(start))
            });
            DutyStatus::OffDuty { next_start }
        }
        None => {
            let first = today.pred_opt().unwrap_or(today);
            let mut upcoming = dates(first, last_day)
                .flat_map(|date| shifts_on(schedule, calendar, date))
                .skip_while(|&(_, end)| end <= now);
            match upcoming.next() {
                Some((start, end)) if start <= now => {
                    let mut until = end;
                    for (next, next_end) in upcoming {
                        if next > until {
                            break;
                        }
                        until = until.max(next_end);
                    }
                    DutyStatus::OnDuty { until }
                }
                Some((start, _)) => DutyStatus::OffDuty {
                    next_start: within(start),
                },
                None => DutyStatus::OffDuty { next_start: None },
            }
        }
    }
}

/// The earliest instant at or after `now` when any of `schedules` is on duty: `now` itself if
/// someone is, `None` if nobody starts within 30 days. Overrides count, as in [`on_duty`].
pub fn next_opening(
    schedules: &[OfficerSchedule],
    calendar: &Calendar,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    schedules
        .iter()
        .filter_map(|schedule| match on_duty(schedule, calendar, now) {
            DutyStatus::OnDuty { .. } => Some(now),
            DutyStatus::OffDuty { next_start } => next_start,
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::test_support::{d, lishui, sh, t, utc};
    use chrono_tz::{America, Asia, Europe};

    fn default_calendar() -> Calendar {
        Calendar::parse_toml(crate::schedule::DEFAULT_CALENDAR_TOML).expect("shipped calendar")
    }

    #[test]
    fn valid_lishui_schedule_passes() {
        assert!(lishui().validate().is_ok());
    }

    #[test]
    fn validation_rejects_bad_schedules() {
        let mut inverted = lishui();
        inverted.pattern.weekly[0].end = inverted.pattern.weekly[0].start;
        assert!(matches!(
            inverted.validate(),
            Err(ScheduleError::ShiftNotOrdered { .. })
        ));

        let mut overlapping = lishui();
        overlapping.pattern.weekly.push(WeeklyShift {
            weekday: Weekday::Wed,
            start: t(11, 0),
            end: t(14, 0),
        });
        let err = overlapping.validate().expect_err("overlap");
        assert!(matches!(
            err,
            ScheduleError::OverlappingShifts {
                weekday: Weekday::Wed,
                ..
            }
        ));

        let mut touching = lishui();
        touching.pattern.weekly.push(WeeklyShift {
            weekday: Weekday::Sat,
            start: t(9, 0),
            end: t(12, 0),
        });
        touching.pattern.weekly.push(WeeklyShift {
            weekday: Weekday::Sat,
            start: t(12, 0),
            end: t(13, 0),
        });
        assert!(touching.validate().is_ok(), "touching shifts are fine");

        for bad in [0, 21] {
            let mut s = lishui();
            s.max_sessions = bad;
            assert!(matches!(s.validate(), Err(ScheduleError::MaxSessions(n)) if n == bad));
        }
        let mut s = lishui();
        s.max_sessions = 20;
        assert!(s.validate().is_ok());

        let mut leave = lishui();
        leave.exceptions.push(Exception::Leave {
            from: d(2026, 12, 3),
            to: d(2026, 12, 1),
        });
        assert!(matches!(
            leave.validate(),
            Err(ScheduleError::LeaveNotOrdered { .. })
        ));

        let mut extra = lishui();
        extra.exceptions.push(Exception::Extra {
            date: d(2026, 12, 5),
            start: t(12, 0),
            end: t(9, 0),
        });
        assert!(matches!(
            extra.validate(),
            Err(ScheduleError::ExtraNotOrdered { .. })
        ));
    }

    #[test]
    fn weekday_shifts_in_utc() {
        let cal = Calendar::default();
        // Monday 2026-11-30 in Shanghai.
        let got = shifts_on(&lishui(), &cal, d(2026, 11, 30));
        assert_eq!(
            got,
            vec![
                (utc("2026-11-30T01:00:00Z"), utc("2026-11-30T04:00:00Z")),
                (utc("2026-11-30T05:30:00Z"), utc("2026-11-30T09:30:00Z")),
            ]
        );
        assert!(
            shifts_on(&lishui(), &cal, d(2026, 11, 29)).is_empty(),
            "Sunday"
        );
    }

    #[test]
    fn holidays_and_leave_remove_shifts_and_extra_adds() {
        let cal = default_calendar();
        assert!(
            shifts_on(&lishui(), &cal, d(2027, 10, 4)).is_empty(),
            "National Day, Monday"
        );
        assert_eq!(
            shifts_on(&lishui(), &cal, d(2027, 10, 8)).len(),
            2,
            "back on Friday"
        );

        let mut s = lishui();
        s.exceptions.push(Exception::Leave {
            from: d(2026, 12, 1),
            to: d(2026, 12, 2),
        });
        // Make-up working Saturday, and an extra evening on a leave day.
        s.exceptions.push(Exception::Extra {
            date: d(2026, 10, 10),
            start: t(9, 0),
            end: t(12, 0),
        });
        s.exceptions.push(Exception::Extra {
            date: d(2026, 12, 2),
            start: t(18, 0),
            end: t(19, 0),
        });
        assert!(shifts_on(&s, &cal, d(2026, 12, 1)).is_empty());
        assert_eq!(
            shifts_on(&s, &cal, d(2026, 12, 2)),
            vec![(utc("2026-12-02T10:00:00Z"), utc("2026-12-02T11:00:00Z"))]
        );
        assert_eq!(
            shifts_on(&s, &cal, d(2026, 12, 3)).len(),
            2,
            "leave is inclusive, then over"
        );
        assert_eq!(
            shifts_on(&s, &cal, d(2026, 10, 10)),
            vec![(utc("2026-10-10T01:00:00Z"), utc("2026-10-10T04:00:00Z"))]
        );
    }

    #[test]
    fn extra_overlapping_a_weekly_shift_is_merged() {
        let mut s = lishui();
        s.exceptions.push(Exception::Extra {
            date: d(2026, 11, 30),
            start: t(11, 0),
            end: t(14, 0),
        });
        assert_eq!(
            shifts_on(&s, &Calendar::default(), d(2026, 11, 30)),
            vec![(utc("2026-11-30T01:00:00Z"), utc("2026-11-30T09:30:00Z"))]
        );
    }

    fn sunday_office(zone: Tz, start: NaiveTime, end: NaiveTime) -> OfficerSchedule {
        OfficerSchedule {
            pattern: ShiftPattern {
                zone,
                weekly: vec![WeeklyShift {
                    weekday: Weekday::Sun,
                    start,
                    end,
                }],
            },
            exceptions: vec![],
            max_sessions: 1,
            override_status: None,
        }
    }

    #[test]
    fn dst_gap_and_overlap_in_office_zones() {
        let cal = Calendar::default();
        // Lisbon spring-forward: 01:30 does not exist, the shift starts when the gap ends.
        let s = sunday_office(Europe::Lisbon, t(1, 30), t(3, 0));
        assert_eq!(
            shifts_on(&s, &cal, d(2027, 3, 28)),
            vec![(utc("2027-03-28T01:00:00Z"), utc("2027-03-28T02:00:00Z"))]
        );
        // Lisbon fall-back: 01:30 happens twice, the earlier one counts; 03:00 is WET.
        assert_eq!(
            shifts_on(&s, &cal, d(2026, 10, 25)),
            vec![(utc("2026-10-25T00:30:00Z"), utc("2026-10-25T03:00:00Z"))]
        );
        // New York spring-forward.
        let s = sunday_office(America::New_York, t(2, 30), t(4, 0));
        assert_eq!(
            shifts_on(&s, &cal, d(2027, 3, 14)),
            vec![(utc("2027-03-14T07:00:00Z"), utc("2027-03-14T08:00:00Z"))]
        );
        // A shift wholly inside the gap is empty, so it is dropped.
        let s = sunday_office(America::New_York, t(2, 0), t(2, 45));
        assert!(shifts_on(&s, &cal, d(2027, 3, 14)).is_empty());
        assert_eq!(shifts_on(&s, &cal, d(2027, 3, 21)).len(), 1);
    }

    #[test]
    fn on_duty_inside_shift_and_at_lunch() {
        let cal = Calendar::default();
        let s = lishui();
        assert_eq!(
            on_duty(&s, &cal, sh(2026, 11, 30, 10, 0)),
            DutyStatus::OnDuty {
                until: sh(2026, 11, 30, 12, 0)
            }
        );
        assert_eq!(
            on_duty(&s, &cal, sh(2026, 11, 30, 9, 0)),
            DutyStatus::OnDuty {
                until: sh(2026, 11, 30, 12, 0)
            },
            "start is inclusive"
        );
        assert_eq!(
            on_duty(&s, &cal, sh(2026, 11, 30, 12, 0)),
            DutyStatus::OffDuty {
                next_start: Some(sh(2026, 11, 30, 13, 30))
            },
            "end is exclusive"
        );
    }

    #[test]
    fn on_duty_runs_through_touching_shifts() {
        let mut s = lishui();
        s.exceptions.push(Exception::Extra {
            date: d(2026, 11, 30),
            start: t(12, 0),
            end: t(13, 30),
        });
        assert_eq!(
            on_duty(&s, &Calendar::default(), sh(2026, 11, 30, 10, 0)),
            DutyStatus::OnDuty {
                until: sh(2026, 11, 30, 17, 30)
            }
        );
    }

    #[test]
    fn off_duty_across_the_weekend() {
        let cal = Calendar::default();
        let s = lishui();
        let monday = Some(sh(2026, 11, 30, 9, 0));
        for now in [
            sh(2026, 11, 27, 17, 30),
            sh(2026, 11, 28, 10, 0),
            sh(2026, 11, 29, 23, 59),
        ] {
            assert_eq!(
                on_duty(&s, &cal, now),
                DutyStatus::OffDuty { next_start: monday },
                "{now}"
            );
            assert_eq!(
                next_opening(std::slice::from_ref(&s), &cal, now),
                monday,
                "{now}"
            );
        }
    }

    #[test]
    fn off_duty_across_national_day_week() {
        let cal = default_calendar();
        let s = lishui();
        // Thursday 2027-09-30 after hours; 10-01 (Fri) to 10-07 (Thu) are holidays.
        let expected = Some(sh(2027, 10, 8, 9, 0));
        for now in [sh(2027, 9, 30, 18, 0), sh(2027, 10, 4, 10, 0)] {
            assert_eq!(
                on_duty(&s, &cal, now),
                DutyStatus::OffDuty {
                    next_start: expected
                }
            );
        }
        // Without the calendar the officer would be back on Friday 10-01.
        assert_eq!(
            on_duty(&s, &Calendar::default(), sh(2027, 9, 30, 18, 0)),
            DutyStatus::OffDuty {
                next_start: Some(sh(2027, 10, 1, 9, 0))
            }
        );
    }

    #[test]
    fn next_opening_takes_the_earliest_officer() {
        let cal = default_calendar();
        let mut on_leave = lishui();
        on_leave.exceptions.push(Exception::Leave {
            from: d(2027, 10, 8),
            to: d(2027, 10, 15),
        });
        let mut weekend = lishui();
        weekend.exceptions.push(Exception::Extra {
            date: d(2027, 10, 9),
            start: t(14, 0),
            end: t(16, 0),
        });
        let now = sh(2027, 10, 3, 10, 0);
        assert_eq!(
            next_opening(&[on_leave.clone()], &cal, now),
            Some(sh(2027, 10, 18, 9, 0))
        );
        assert_eq!(
            next_opening(&[on_leave.clone(), lishui()], &cal, now),
            Some(sh(2027, 10, 8, 9, 0))
        );
        // An Extra on a holiday counts.
        let mut holiday_extra = on_leave.clone();
        holiday_extra.exceptions.push(Exception::Extra {
            date: d(2027, 10, 5),
            start: t(10, 0),
            end: t(11, 0),
        });
        assert_eq!(
            next_opening(&[on_leave.clone(), holiday_extra, weekend], &cal, now),
            Some(sh(2027, 10, 5, 10, 0))
        );
        // Someone on duty now.
        let workday = sh(2027, 10, 11, 10, 0);
        assert_eq!(
            next_opening(&[on_leave.clone(), lishui()], &cal, workday),
            Some(workday)
        );
        assert_eq!(next_opening(&[], &cal, workday), None);
    }

    #[test]
    fn nothing_within_thirty_days() {
        let mut s = lishui();
        s.exceptions.push(Exception::Leave {
            from: d(2026, 11, 1),
            to: d(2026, 12, 31),
        });
        let now = sh(2026, 11, 2, 10, 0);
        assert_eq!(
            on_duty(&s, &Calendar::default(), now),
            DutyStatus::OffDuty { next_start: None }
        );
        assert_eq!(next_opening(&[s], &Calendar::default(), now), None);
        // 29 days of leave: still found.
        let mut s = lishui();
        s.exceptions.push(Exception::Leave {
            from: d(2026, 11, 2),
            to: d(2026, 11, 29),
        });
        assert_eq!(
            on_duty(&s, &Calendar::default(), now),
            DutyStatus::OffDuty {
                next_start: Some(sh(2026, 11, 30, 9, 0))
            }
        );
    }

    #[test]
    fn overrides_win() {
        let cal = Calendar::default();
        let mut s = lishui();
        s.override_status = Some(DutyOverride::OnDuty);
        let sunday = sh(2026, 11, 29, 10, 0);
        assert_eq!(
            on_duty(&s, &cal, sunday),
            DutyStatus::OnDuty {
                until: sh(2026, 11, 29, 11, 0)
            }
        );
        assert_eq!(
            on_duty(&s, &cal, sh(2026, 11, 30, 12, 15)),
            DutyStatus::OnDuty {
                until: sh(2026, 11, 30, 17, 30)
            },
            "lunch break, but overridden on: until today's last shift ends"
        );
        assert_eq!(
            on_duty(&s, &cal, sh(2026, 11, 30, 19, 0)),
            DutyStatus::OnDuty {
                until: sh(2026, 11, 30, 20, 0)
            }
        );
        assert_eq!(next_opening(&[s.clone()], &cal, sunday), Some(sunday));

        s.override_status = Some(DutyOverride::OffDuty);
        assert_eq!(
            on_duty(&s, &cal, sh(2026, 11, 30, 10, 0)),
            DutyStatus::OffDuty {
                next_start: Some(sh(2026, 12, 1, 9, 0))
            },
            "not the afternoon shift: that is still today"
        );
        assert_eq!(
            next_opening(&[s], &cal, sh(2026, 11, 30, 10, 0)),
            Some(sh(2026, 12, 1, 9, 0))
        );
    }

    #[test]
    fn schedule_reads_from_toml() {
        let text = r#"
            max_sessions = 2
            override_status = "off_duty"
            [pattern]
            zone = "Asia/Shanghai"
            weekly = [
                { weekday = "Mon", start = "09:00:00", end = "12:00:00" },
                { weekday = "Tue", start = "13:30:00", end = "17:30:00" },
            ]
            [[exceptions]]
            kind = "leave"
            from = "2027-01-04"
            to = "2027-01-08"
            [[exceptions]]
            kind = "extra"
            date = "2027-01-09"
            start = "09:00:00"
            end = "12:00:00"
        "#;
        let s: OfficerSchedule = toml::from_str(text).expect("schedule parses");
        assert_eq!(s.pattern.zone, Asia::Shanghai);
        assert_eq!(s.pattern.weekly.len(), 2);
        assert_eq!(s.override_status, Some(DutyOverride::OffDuty));
        assert_eq!(
            s.exceptions[0],
            Exception::Leave {
                from: d(2027, 1, 4),
                to: d(2027, 1, 8)
            }
        );
        let back: OfficerSchedule =
            toml::from_str(&toml::to_string(&s).expect("serializes")).expect("round trip");
        assert_eq!(back, s);
        let bad = text.replace("Asia/Shanghai", "Asia/Lishui");
        assert!(toml::from_str::<OfficerSchedule>(&bad).is_err());
    }
}
