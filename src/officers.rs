//! Officer profiles: skills (catalogue service skills), languages (including dialects such as
//! Qingtian and Wenzhou) and the shift schedule, stored as JSON per officer.

use crate::clock::Clock;
use crate::ids::UserId;
use crate::schedule::{OfficerSchedule, ShiftPattern, WeeklyShift};
use crate::store::{Store, StoreError};
use chrono::{NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficerProfile {
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub schedule: OfficerSchedule,
}

fn time(h: u32, m: u32) -> NaiveTime {
    // Literal hours and minutes below are all valid.
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

/// The development officer: every skill of the catalogue, the desk's languages, and a week of
/// office hours plus an evening desk for Europe and a Saturday morning for the Americas.
pub fn dev_profile(skills: Vec<String>) -> OfficerProfile {
    let mut weekly = Vec::new();
    for day in [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ] {
        for (start, end) in [((9, 0), (12, 0)), ((13, 30), (17, 30)), ((19, 0), (21, 0))] {
            weekly.push(WeeklyShift {
                weekday: day,
                start: time(start.0, start.1),
                end: time(end.0, end.1),
            });
        }
    }
    weekly.push(WeeklyShift {
        weekday: Weekday::Sat,
        start: time(9, 0),
        end: time(12, 0),
    });
    OfficerProfile {
        skills,
        languages: ["zh-Hans", "en", "pt", "it", "es", "qingtian", "wenzhou"]
            .map(String::from)
            .to_vec(),
        schedule: OfficerSchedule {
            pattern: ShiftPattern {
                zone: chrono_tz::Asia::Shanghai,
                weekly,
            },
            exceptions: Vec::new(),
            max_sessions: 1,
            override_status: None,
        },
    }
}

/// Store a profile after checking its schedule.
pub async fn save(
    store: &dyn Store,
    clock: &dyn Clock,
    user: UserId,
    profile: &OfficerProfile,
) -> Result<(), StoreError> {
    profile
        .schedule
        .validate()
        .map_err(|e| StoreError::Conflict(format!("invalid schedule: {e}")))?;
    let json = serde_json::to_string(profile).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store.set_officer_profile(user, &json, clock.now()).await
}

/// Every officer with a readable profile.
pub async fn all(store: &dyn Store) -> Result<Vec<(UserId, OfficerProfile)>, StoreError> {
    let mut out = Vec::new();
    for (user, json) in store.officer_profiles().await? {
        match serde_json::from_str::<OfficerProfile>(&json) {
            Ok(profile) if profile.schedule.validate().is_ok() => out.push((user, profile)),
            Ok(_) => tracing::warn!(officer = %user, "officer with an invalid schedule skipped"),
            Err(e) => tracing::warn!(officer = %user, "unreadable officer profile skipped: {e}"),
        }
    }
    Ok(out)
}
