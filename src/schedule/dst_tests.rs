//! Property tests across the DST transitions of the applicants' zones (Lisbon, Milan, Madrid,
//! Paris, New York, São Paulo — which observed DST until 2019 —, Johannesburg, Dubai, Sydney):
//! every slot's local reading exists and maps back to the slot's instant, every shown time
//! carries the offset that disambiguates it, slots stay inside the window and the shifts.

use super::*;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use proptest::prelude::*;

const ZONES: [Tz; 9] = [
    chrono_tz::Europe::Lisbon,
    chrono_tz::Europe::Rome,
    chrono_tz::Europe::Madrid,
    chrono_tz::Europe::Paris,
    chrono_tz::America::New_York,
    chrono_tz::America::Sao_Paulo,
    chrono_tz::Africa::Johannesburg,
    chrono_tz::Asia::Dubai,
    chrono_tz::Australia::Sydney,
];

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

/// An officer working every day, round the clock in three shifts (Shanghai), so that every
/// applicant window meets some shift.
fn all_day() -> OfficerSchedule {
    let mut weekly = Vec::new();
    for day in [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ] {
        for (s, e) in [((0, 0), (8, 0)), ((8, 0), (16, 0)), ((16, 0), (23, 59))] {
            weekly.push(WeeklyShift {
                weekday: day,
                start: hm(s.0, s.1),
                end: hm(e.0, e.1),
            });
        }
    }
    OfficerSchedule {
        pattern: ShiftPattern {
            zone: chrono_tz::Asia::Shanghai,
            weekly,
        },
        exceptions: Vec::new(),
        max_sessions: 1,
        override_status: None,
    }
}

/// The local reading `shown` (`YYYY-MM-DD HH:MM` plus its offset) names the instant `t`.
fn reading_names_instant(t: DateTime<Utc>, zone: Tz) -> bool {
    let shown = show(t, zone);
    let Ok(naive) = chrono::NaiveDateTime::parse_from_str(&shown.local, "%Y-%m-%d %H:%M") else {
        return false;
    };
    let candidates: Vec<DateTime<Utc>> = match zone.from_local_datetime(&naive) {
        chrono::LocalResult::Single(a) => vec![a.with_timezone(&Utc)],
        chrono::LocalResult::Ambiguous(a, b) => vec![a.with_timezone(&Utc), b.with_timezone(&Utc)],
        chrono::LocalResult::None => vec![], // a reading that does not exist
    };
    let t_minute = t - Duration::seconds(i64::from(t.timestamp().rem_euclid(60) as u32));
    // The offset printed picks exactly one of the candidates, and it is this instant.
    candidates.contains(&t_minute)
        && candidates
            .iter()
            .filter(|c| show(**c, zone).utc_offset == shown.utc_offset)
            .count()
            == 1
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn slots_around_dst_changes_exist_locally_and_stay_in_bounds(
        zone_index in 0usize..ZONES.len(),
        year in 2015i32..2031,
        // Around the March/April and September–November changes of both hemispheres.
        month in prop::sample::select(vec![3u32, 4, 9, 10, 11]),
        day in 1u32..28,
        earliest_h in 0u32..12,
        span_h in 6u32..12,
    ) {
        let zone = ZONES[zone_index];
        let from = Utc.with_ymd_and_hms(year, month, day, 0, 0, 0).single().expect("valid date");
        let window = ApplicantWindow {
            zone,
            earliest: hm(earliest_h, 0),
            latest: hm(earliest_h + span_h, 0),
        };
        let officers = vec![("o".to_owned(), all_day())];
        let calendar = Calendar { holidays: Vec::new() };
        let q = SlotQuery {
            officers: &officers,
            calendar: &calendar,
            applicant: &window,
            duration: Duration::minutes(30),
            step: Duration::minutes(30),
            from,
            days: 7,
            busy: &[],
        };
        let slots = find_slots(&q).expect("valid query");
        prop_assert!(!slots.is_empty(), "an all-day officer always fits a {span_h}-hour window");
        for s in &slots {
            // Every slot's local start and end are real readings that name the slot's instants.
            prop_assert!(reading_names_instant(s.start, zone), "{} in {zone}", s.start);
            prop_assert!(reading_names_instant(s.end, zone), "{} in {zone}", s.end);
            // Inside the applicant's acceptable hours on their local date.
            let local = s.start.with_timezone(&zone);
            let local_end = s.end.with_timezone(&zone);
            prop_assert!(local.time() >= window.earliest || local.date_naive() != local_end.date_naive());
            prop_assert!(local_end.time() <= window.latest || local_end.time() == NaiveTime::MIN);
            // Inside a shift of the office date.
            let office_date: NaiveDate = s.start.with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
            let shifts = shifts_on(&officers[0].1, &calendar, office_date);
            prop_assert!(shifts.iter().any(|(a, b)| *a <= s.start && s.end <= *b), "{s:?}");
        }
    }
}
