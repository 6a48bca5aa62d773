//! Officer profiles: skills (catalogue service skills), languages (including dialects such as
//! Qingtian and Wenzhou), the offices they work for, and the shift schedule, stored as JSON per
//! officer. [`Scope`] is what an officer's offices let them see: the cases (and their sessions,
//! artefacts, bookings and queue entries) of those offices' services.

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
    /// The catalogue offices (`office` of a service) this officer works for; empty: every
    /// office.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offices: Vec<String>,
    pub schedule: OfficerSchedule,
}

/// Which cases a staff member may see, by their service's office.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Scope {
    /// Every office: auditors, and officers whose profile names no office.
    #[default]
    All,
    /// The services of these offices (their catalogue codes).
    Services(Vec<String>),
}

impl Scope {
    /// What `offices` (empty: all) open in `catalogue`.
    pub fn of_offices(catalogue: &crate::catalogue::Catalogue, offices: &[String]) -> Scope {
        if offices.is_empty() {
            return Scope::All;
        }
        Scope::Services(
            catalogue
                .services()
                .iter()
                .filter(|s| offices.contains(&s.office))
                .map(|s| s.code.clone())
                .collect(),
        )
    }

    /// The scope of `user`: an officer's offices from their profile, every office for others.
    /// An unreadable profile opens nothing.
    pub async fn of(
        store: &dyn Store,
        catalogue: &crate::catalogue::Catalogue,
        user: &crate::store::UserRecord,
    ) -> Result<Scope, StoreError> {
        if user.role != crate::store::Role::Officer {
            return Ok(Scope::All);
        }
        #[derive(Deserialize)]
        struct Offices {
            #[serde(default)]
            offices: Vec<String>,
        }
        Ok(match store.officer_profile(user.id).await? {
            None => Scope::All,
            Some(json) => match serde_json::from_str::<Offices>(&json) {
                Ok(p) => Scope::of_offices(catalogue, &p.offices),
                Err(e) => {
                    tracing::warn!(officer = %user.id, "unreadable officer profile: {e}");
                    Scope::Services(Vec::new())
                }
            },
        })
    }

    /// Whether a case of `service` is in scope.
    pub fn allows(&self, service: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Services(services) => services.iter().any(|s| s == service),
        }
    }
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
        offices: Vec::new(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_officers_offices_open_their_services_only() {
        let catalogue = crate::catalogue::Catalogue::load(None).expect("built-in catalogue");
        let vehicles = Scope::of_offices(&catalogue, &["lishui-vehicle-administration".into()]);
        assert!(vehicles.allows("driving-licence-renewal"));
        assert!(!vehicles.allows("inheritance"));
        assert!(!vehicles.allows("id-card-renewal"));
        let two = Scope::of_offices(
            &catalogue,
            &[
                "lishui-notary-office".into(),
                "lishui-public-security-bureau".into(),
            ],
        );
        assert!(two.allows("inheritance") && two.allows("id-card-renewal"));
        assert!(!two.allows("driving-licence-renewal"));
        assert_eq!(Scope::of_offices(&catalogue, &[]), Scope::All);
        assert!(Scope::All.allows("anything"));
        // An office the catalogue does not know opens nothing.
        assert!(!Scope::of_offices(&catalogue, &["elsewhere".into()]).allows("inheritance"));
    }

    #[test]
    fn profiles_without_offices_still_read() {
        let json = serde_json::to_string(&dev_profile(vec!["inheritance".into()])).unwrap();
        assert!(!json.contains("offices"), "{json}");
        let back: OfficerProfile = serde_json::from_str(&json).unwrap();
        assert!(back.offices.is_empty());
    }
}
