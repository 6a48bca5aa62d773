//! Officer rota, on-duty status and appointment slots across time zones.
//!
//! Officers work local shifts in their office zone (Lishui: `Asia/Shanghai`); applicants book
//! from their own zone. This module owns the rules that join the two and nothing else: it is
//! pure, takes the clock as a parameter (`now`, `from`) and never reads the system time.
//!
//! Contract:
//! - Every instant that crosses this module's boundary is UTC; local times are only inputs
//!   (shift patterns, applicant windows) or display strings ([`show`]).
//! - One rule turns a local time into an instant, in every zone: a time skipped by a DST gap
//!   means the end of the gap, a time repeated by a fall-back means the earlier instant.
//! - No input panics. Bad schedules, windows and queries are [`ScheduleError`]s.
//!
//! [`shifts`] holds the rota ([`OfficerSchedule`], [`shifts_on`], [`on_duty`]); `calendar` the
//! office-wide holidays ([`Calendar`], [`DEFAULT_CALENDAR_TOML`]); [`slots`] the applicant side
//! ([`find_slots`], [`show`]).

mod calendar;
#[cfg(test)]
mod dst_tests;
mod local;
pub mod shifts;
pub mod slots;

pub use calendar::{Calendar, DEFAULT_CALENDAR_TOML, Holiday};
pub use shifts::{
    DutyOverride, DutyStatus, Exception, OfficerSchedule, ShiftPattern, WeeklyShift, next_opening,
    on_duty, shifts_on,
};
pub use slots::{
    ApplicantWindow, MAX_SEARCH_DAYS, ShownTime, Slot, SlotQuery, SlotTable, find_slots,
    local_hour_is_night, search_slots, show,
};

use chrono::{NaiveDate, NaiveTime, TimeDelta, Weekday};

/// The most sessions an officer may be booked into at once.
pub const MAX_SESSIONS_LIMIT: u32 = 20;

/// Everything that can be wrong with a schedule, a calendar file or a slot query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    #[error("shift on {weekday} must start before it ends ({start}..{end})")]
    ShiftNotOrdered {
        weekday: Weekday,
        start: NaiveTime,
        end: NaiveTime,
    },
    #[error("shifts on {weekday} overlap ({first:?} and {second:?})")]
    OverlappingShifts {
        weekday: Weekday,
        first: (NaiveTime, NaiveTime),
        second: (NaiveTime, NaiveTime),
    },
    #[error("extra shift on {date} must start before it ends ({start}..{end})")]
    ExtraNotOrdered {
        date: NaiveDate,
        start: NaiveTime,
        end: NaiveTime,
    },
    #[error("leave from {from} to {to} ends before it starts")]
    LeaveNotOrdered { from: NaiveDate, to: NaiveDate },
    #[error("max_sessions must be 1..={MAX_SESSIONS_LIMIT}, got {0}")]
    MaxSessions(u32),
    #[error("calendar file is not valid TOML: {0}")]
    CalendarToml(#[from] toml::de::Error),
    #[error("calendar holiday #{index}: {reason}")]
    CalendarEntry { index: usize, reason: String },
    #[error("applicant window starts after it ends ({earliest}..{latest})")]
    WindowInverted {
        earliest: NaiveTime,
        latest: NaiveTime,
    },
    #[error("a slot search covers 1..={max} days, got {0}", max = slots::MAX_SEARCH_DAYS)]
    Days(u32),
    #[error("slot duration must be between 1 minute and 24 hours, got {0}")]
    Duration(TimeDelta),
    #[error("slot step must be between 1 minute and 24 hours, got {0}")]
    Step(TimeDelta),
    #[error("the search range is outside the supported dates")]
    OutOfRange,
    #[error("officer {officer}: {source}")]
    Officer {
        officer: String,
        #[source]
        source: Box<ScheduleError>,
    },
}

/// The instant local `date` begins in `zone` (a midnight skipped by DST: the end of the gap).
pub fn start_of_day(zone: chrono_tz::Tz, date: NaiveDate) -> Option<chrono::DateTime<chrono::Utc>> {
    local::resolve(zone, date, NaiveTime::MIN)
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Fixtures shared by this module's tests: the Lishui office rota and short constructors.

    use super::{OfficerSchedule, ShiftPattern, WeeklyShift};
    use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
    use chrono_tz::Asia::Shanghai;

    pub(crate) fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("test date")
    }

    pub(crate) fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("test time")
    }

    pub(crate) fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("test instant")
    }

    /// A Shanghai wall-clock reading as UTC.
    pub(crate) fn sh(y: i32, m: u32, day: u32, h: u32, min: u32) -> DateTime<Utc> {
        Shanghai
            .with_ymd_and_hms(y, m, day, h, min, 0)
            .single()
            .expect("Shanghai has no DST")
            .with_timezone(&Utc)
    }

    /// Lishui office hours: 09:00–12:00 and 13:30–17:30, Monday to Friday.
    pub(crate) fn lishui() -> OfficerSchedule {
        let days = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ];
        let weekly = days
            .into_iter()
            .flat_map(|weekday| {
                [
                    WeeklyShift {
                        weekday,
                        start: t(9, 0),
                        end: t(12, 0),
                    },
                    WeeklyShift {
                        weekday,
                        start: t(13, 30),
                        end: t(17, 30),
                    },
                ]
            })
            .collect();
        OfficerSchedule {
            pattern: ShiftPattern {
                zone: Shanghai,
                weekly,
            },
            exceptions: vec![],
            max_sessions: 1,
            override_status: None,
        }
    }
}
