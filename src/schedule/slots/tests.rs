//! Slot search against the Lishui rota, applicants in the hub's cities, DST and bookings.

use super::*;
use crate::schedule::test_support::{d, lishui, sh, t, utc};
use crate::schedule::{Exception, WeeklyShift, shifts_on};
use chrono::Weekday;
use chrono_tz::{Africa, America, Asia, Australia, Europe, UTC};

const HALF_HOUR: TimeDelta = TimeDelta::minutes(30);

struct Search {
    officers: Vec<(String, OfficerSchedule)>,
    calendar: Calendar,
    applicant: ApplicantWindow,
    duration: TimeDelta,
    from: DateTime<Utc>,
    days: u32,
    busy: Vec<(String, DateTime<Utc>, DateTime<Utc>)>,
}

impl Search {
    /// Officer "a" on the Lishui rota, half-hour slots on a half-hour step, one day.
    fn new(zone: Tz, from: DateTime<Utc>) -> Self {
        Self {
            officers: vec![("a".into(), lishui())],
            calendar: Calendar::default(),
            applicant: ApplicantWindow::new(zone),
            duration: HALF_HOUR,
            from,
            days: 1,
            busy: vec![],
        }
    }

    fn run(&self) -> Result<Vec<Slot>, ScheduleError> {
        find_slots(&SlotQuery {
            officers: &self.officers,
            calendar: &self.calendar,
            applicant: &self.applicant,
            duration: self.duration,
            step: HALF_HOUR,
            from: self.from,
            days: self.days,
            busy: &self.busy,
        })
    }

    /// Slot starts as Shanghai wall-clock readings.
    fn shanghai_starts(&self) -> Vec<String> {
        let slots = self.run().expect("valid query");
        slots
            .iter()
            .map(|s| show(s.start, Asia::Shanghai).local)
            .collect()
    }
}

/// `"YYYY-MM-DD HH:MM"` for each of `times` on `date`.
fn on(date: &str, times: &[&str]) -> Vec<String> {
    times.iter().map(|time| format!("{date} {time}")).collect()
}

#[test]
fn lisbon_in_november_gets_only_late_afternoon_slots() {
    // Monday 2026-11-30. Lisbon is UTC+0: the morning shift is 01:00–04:00 there, the
    // afternoon one 05:30–09:30, so only starts from Lisbon 08:00 (Shanghai 16:00) fit.
    let search = Search::new(Europe::Lisbon, sh(2026, 11, 30, 0, 0));
    assert_eq!(
        search.shanghai_starts(),
        on("2026-11-30", &["16:00", "16:30", "17:00"])
    );
    let slots = search.run().expect("valid query");
    let lisbon: Vec<_> = slots
        .iter()
        .map(|s| show(s.start, Europe::Lisbon).local)
        .collect();
    assert_eq!(lisbon, on("2026-11-30", &["08:00", "08:30", "09:00"]));
    assert_eq!(
        slots[2].end,
        sh(2026, 11, 30, 17, 30),
        "the last slot ends with the shift"
    );
    assert!(slots.iter().all(|s| s.officer == "a"));

    // A whole week: the same three slots on each of five weekdays.
    let mut week = Search::new(Europe::Lisbon, sh(2026, 11, 30, 0, 0));
    week.days = 7;
    let starts = week.shanghai_starts();
    assert_eq!(starts.len(), 15);
    assert_eq!(starts.last().map(String::as_str), Some("2026-12-04 17:00"));
}

#[test]
fn new_york_books_the_shanghai_morning_the_evening_before() {
    // Shanghai Monday 09:00 is New York Sunday 20:00 (EST, UTC-5).
    let search = Search::new(America::New_York, sh(2026, 11, 30, 0, 0));
    let slots = search.run().expect("valid query");
    let starts: Vec<_> = slots
        .iter()
        .map(|s| show(s.start, Asia::Shanghai).local)
        .collect();
    assert_eq!(starts, on("2026-11-30", &["09:00", "09:30"]));
    let ny: Vec<_> = slots
        .iter()
        .map(|s| show(s.start, America::New_York))
        .collect();
    assert_eq!(ny[0].local, "2026-11-29 20:00");
    assert_eq!(ny[1].local, "2026-11-29 20:30");
    assert_eq!(ny[0].utc_offset, "-05:00");
    for slot in &slots {
        let officer_date = local_date(slot.start, Asia::Shanghai);
        let applicant_date = local_date(slot.start, America::New_York);
        assert_eq!(officer_date, Some(d(2026, 11, 30)));
        assert_eq!(applicant_date, Some(d(2026, 11, 29)));
    }
    // An hour-long call must end by 21:00 New York too: 09:30 Shanghai would run to 21:30.
    let mut hour = Search::new(America::New_York, sh(2026, 11, 30, 0, 0));
    hour.duration = TimeDelta::hours(1);
    assert_eq!(hour.shanghai_starts(), on("2026-11-30", &["09:00"]));
}

#[test]
fn every_city_on_one_december_tuesday() {
    // Tuesday 2026-12-01: the north on standard time, Sydney on daylight time (UTC+11).
    let afternoon = |from: &str| {
        let all = [
            "13:30", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30", "17:00",
        ];
        let first = all.iter().position(|&x| x == from).expect("known start");
        on("2026-12-01", &all[first..])
    };
    let mut sydney = on(
        "2026-12-01",
        &["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"],
    );
    sydney.extend(afternoon("13:30"));
    let cases: [(Tz, Vec<String>); 9] = [
        (Europe::Lisbon, afternoon("16:00")),
        (Europe::Madrid, afternoon("15:00")),
        (Europe::Paris, afternoon("15:00")),
        (Europe::Rome, afternoon("15:00")),
        (America::New_York, on("2026-12-01", &["09:00", "09:30"])),
        (America::Sao_Paulo, vec![]),
        (Africa::Johannesburg, afternoon("14:00")),
        (Asia::Dubai, afternoon("13:30")),
        (Australia::Sydney, sydney),
    ];
    for (zone, expected) in cases {
        let search = Search::new(zone, sh(2026, 12, 1, 0, 0));
        assert_eq!(search.shanghai_starts(), expected, "{zone}");
    }
}

#[test]
fn sydney_in_november_takes_the_shanghai_morning() {
    let search = Search::new(Australia::Sydney, sh(2026, 11, 30, 0, 0));
    let slots = search.run().expect("valid query");
    let first = slots.first().expect("Sydney has slots");
    assert_eq!(first.start, sh(2026, 11, 30, 9, 0));
    let there = show(first.start, Australia::Sydney);
    assert_eq!(
        (there.local.as_str(), there.utc_offset.as_str()),
        ("2026-11-30 12:00", "+11:00")
    );
    assert_eq!(slots.len(), 14, "every slot of both shifts fits");
}

/// Shanghai start times for one officer day, seen from `zone` with the window closing at
/// `latest`.
fn starts_for(zone: Tz, latest: NaiveTime, day: DateTime<Utc>) -> Vec<String> {
    let mut search = Search::new(zone, day);
    search.applicant.latest = latest;
    search
        .shanghai_starts()
        .into_iter()
        .map(|s| s[11..].to_owned())
        .collect()
}

#[test]
fn us_spring_forward_moves_new_york_evenings_one_hour() {
    let (default, late) = (t(21, 0), t(22, 0));
    // Friday 2027-03-12 Shanghai = Thursday evening EST; Tuesday 03-16 = Monday evening EDT.
    let (before, after) = (sh(2027, 3, 12, 0, 0), sh(2027, 3, 16, 0, 0));
    assert_eq!(
        starts_for(America::New_York, default, before),
        ["09:00", "09:30"]
    );
    assert_eq!(
        starts_for(America::New_York, default, after),
        Vec::<String>::new()
    );
    assert_eq!(
        starts_for(America::New_York, late, before),
        ["09:00", "09:30", "10:00", "10:30"]
    );
    assert_eq!(
        starts_for(America::New_York, late, after),
        ["09:00", "09:30"]
    );
    // Monday 03-15 Shanghai is Sunday 03-14 evening in New York, already on EDT.
    assert_eq!(
        starts_for(America::New_York, late, sh(2027, 3, 15, 0, 0)),
        ["09:00", "09:30"]
    );
}

#[test]
fn eu_spring_forward_opens_lisbon_an_hour_earlier() {
    let late_afternoon = ["16:00", "16:30", "17:00"];
    let from_three = ["15:00", "15:30", "16:00", "16:30", "17:00"];
    // Friday 2027-03-26 (WET) and Monday 03-29 (WEST).
    assert_eq!(
        starts_for(Europe::Lisbon, t(21, 0), sh(2027, 3, 26, 0, 0)),
        late_afternoon
    );
    assert_eq!(
        starts_for(Europe::Lisbon, t(21, 0), sh(2027, 3, 29, 0, 0)),
        from_three
    );
    // Madrid moves the same way, an hour ahead of Lisbon.
    assert_eq!(
        starts_for(Europe::Madrid, t(21, 0), sh(2027, 3, 26, 0, 0)),
        from_three
    );
    assert_eq!(
        starts_for(Europe::Madrid, t(21, 0), sh(2027, 3, 29, 0, 0))[0],
        "14:00"
    );
}

#[test]
fn eu_fall_back_closes_lisbon_mornings_an_hour() {
    // Friday 2026-10-23 (WEST) and Monday 10-26 (WET).
    let from_three = ["15:00", "15:30", "16:00", "16:30", "17:00"];
    assert_eq!(
        starts_for(Europe::Lisbon, t(21, 0), sh(2026, 10, 23, 0, 0)),
        from_three
    );
    assert_eq!(
        starts_for(Europe::Lisbon, t(21, 0), sh(2026, 10, 26, 0, 0)),
        ["16:00", "16:30", "17:00"]
    );
    // Between the EU and US changes (Tuesday 10-27), Milan is UTC+1 and New York still EDT.
    assert_eq!(
        starts_for(Europe::Rome, t(21, 0), sh(2026, 10, 27, 0, 0)),
        from_three
    );
    assert_eq!(
        starts_for(America::New_York, t(21, 0), sh(2026, 10, 27, 0, 0)),
        Vec::<String>::new()
    );
}

#[test]
fn us_fall_back_gives_new_york_an_hour_more() {
    // Friday 2026-10-30 Shanghai = Thursday EDT; Monday 11-02 Shanghai = Sunday 11-01 EST.
    let late = t(22, 0);
    assert_eq!(
        starts_for(America::New_York, late, sh(2026, 10, 30, 0, 0)),
        ["09:00", "09:30"]
    );
    assert_eq!(
        starts_for(America::New_York, late, sh(2026, 11, 2, 0, 0)),
        ["09:00", "09:30", "10:00", "10:30"]
    );
    assert_eq!(
        starts_for(America::New_York, t(21, 0), sh(2026, 11, 2, 0, 0)),
        ["09:00", "09:30"]
    );
}

#[test]
fn applicant_window_on_a_dst_day_follows_the_first_reading() {
    // New York 2026-11-01: 01:00–02:00 happens twice. A window opening at 01:30 opens at the
    // first 01:30 (05:30 UTC); one opening at 02:30 on 2027-03-14 (skipped) opens at 03:00 EDT.
    // Sunday 12:00–16:00 Shanghai is 04:00–08:00 UTC.
    let mut night = lishui();
    night.pattern.weekly = vec![WeeklyShift {
        weekday: Weekday::Sun,
        start: t(12, 0),
        end: t(16, 0),
    }];
    let mut search = Search::new(America::New_York, utc("2026-11-01T00:00:00Z"));
    search.officers = vec![("a".into(), night.clone())];
    search.applicant.earliest = t(1, 30);
    search.applicant.latest = t(2, 0);
    let slots = search.run().expect("valid query");
    let starts: Vec<_> = slots.iter().map(|s| s.start).collect();
    // 05:30Z (first 01:30 EDT) up to 07:00Z (02:00 EST), the repeated hour included.
    let expected: Vec<_> = ["05:30", "06:00", "06:30"]
        .iter()
        .map(|hm| utc(&format!("2026-11-01T{hm}:00Z")))
        .collect();
    assert_eq!(starts, expected);

    let mut search = Search::new(America::New_York, utc("2027-03-14T00:00:00Z"));
    search.officers = vec![("a".into(), night)];
    search.applicant.earliest = t(2, 30);
    search.applicant.latest = t(4, 0);
    let slots = search.run().expect("valid query");
    let ny: Vec<_> = slots
        .iter()
        .map(|s| show(s.start, America::New_York).local)
        .collect();
    assert_eq!(ny, on("2027-03-14", &["03:00", "03:30"]));
}

#[test]
fn holidays_and_leave_remove_slots_and_extra_adds_them() {
    // Monday 2026-09-28 for a week, Sydney applicant (every shift slot fits, 14 a day).
    let mut search = Search::new(Australia::Sydney, sh(2026, 9, 28, 0, 0));
    search.days = 7;
    assert_eq!(search.run().expect("valid").len(), 5 * 14);

    search.calendar =
        Calendar::parse_toml(crate::schedule::DEFAULT_CALENDAR_TOML).expect("shipped calendar");
    let slots = search.run().expect("valid");
    assert_eq!(slots.len(), 3 * 14, "National Day from Thursday 10-01");
    assert!(slots.iter().all(|s| s.start < sh(2026, 10, 1, 0, 0)));

    search.officers[0].1.exceptions.push(Exception::Leave {
        from: d(2026, 9, 29),
        to: d(2026, 9, 29),
    });
    assert_eq!(search.run().expect("valid").len(), 2 * 14);

    // The make-up working Saturday 10-10 as an Extra.
    let mut search = Search::new(Australia::Sydney, sh(2026, 10, 10, 0, 0));
    assert!(search.run().expect("valid").is_empty(), "Saturday");
    search.officers[0].1.exceptions.push(Exception::Extra {
        date: d(2026, 10, 10),
        start: t(9, 0),
        end: t(12, 0),
    });
    let starts = search.shanghai_starts();
    assert_eq!(starts.len(), 6);
    assert_eq!(starts[0], "2026-10-10 09:00");
}

#[test]
fn busy_intervals_block_overlapping_slots() {
    let monday = sh(2026, 11, 30, 0, 0);
    let mut search = Search::new(Australia::Sydney, monday);
    search.busy = vec![
        ("a".into(), sh(2026, 11, 30, 10, 0), sh(2026, 11, 30, 11, 0)),
        ("b".into(), sh(2026, 11, 30, 9, 0), sh(2026, 11, 30, 12, 0)),
        ("a".into(), sh(2026, 11, 30, 15, 0), sh(2026, 11, 30, 14, 0)),
    ];
    let starts = search.shanghai_starts();
    let morning = on("2026-11-30", &["09:00", "09:30", "11:00", "11:30"]);
    assert_eq!(
        starts[..4],
        morning[..],
        "10:00 and 10:30 are taken; touching is fine"
    );
    assert_eq!(
        starts.len(),
        12,
        "other officers' and inverted bookings block nothing"
    );
}

#[test]
fn max_sessions_two_allows_one_overlap() {
    let monday = sh(2026, 11, 30, 0, 0);
    let mut search = Search::new(Australia::Sydney, monday);
    search.officers[0].1.max_sessions = 2;
    search.busy = vec![("a".into(), sh(2026, 11, 30, 10, 0), sh(2026, 11, 30, 11, 0))];
    assert_eq!(
        search.run().expect("valid").len(),
        14,
        "one booking leaves room for another"
    );

    search.busy.push((
        "a".into(),
        sh(2026, 11, 30, 10, 15),
        sh(2026, 11, 30, 10, 45),
    ));
    let starts = search.shanghai_starts();
    assert_eq!(
        starts[..4],
        on("2026-11-30", &["09:00", "09:30", "11:00", "11:30"])[..]
    );

    // Back-to-back bookings never run at once, so an hour across both still fits twice over.
    let mut search = Search::new(Australia::Sydney, monday);
    search.duration = TimeDelta::hours(1);
    search.busy = vec![
        (
            "a".into(),
            sh(2026, 11, 30, 10, 0),
            sh(2026, 11, 30, 10, 30),
        ),
        (
            "a".into(),
            sh(2026, 11, 30, 10, 30),
            sh(2026, 11, 30, 11, 0),
        ),
    ];
    let ten = sh(2026, 11, 30, 10, 0);
    assert!(
        !search.run().expect("valid").iter().any(|s| s.start == ten),
        "max 1: blocked"
    );
    search.officers[0].1.max_sessions = 2;
    assert!(
        search.run().expect("valid").iter().any(|s| s.start == ten),
        "max 2: fits"
    );
}

#[test]
fn officers_are_listed_separately_and_the_table_groups_them() {
    let mut search = Search::new(Europe::Lisbon, sh(2026, 11, 30, 0, 0));
    let mut late = lishui();
    late.pattern
        .weekly
        .iter_mut()
        .for_each(|s| s.end = s.end.max(t(12, 0)));
    late.pattern.weekly.push(WeeklyShift {
        weekday: Weekday::Mon,
        start: t(18, 0),
        end: t(19, 0),
    });
    search.officers = vec![("zhang".into(), lishui()), ("li".into(), late)];
    let slots = search.run().expect("valid");
    let listed: Vec<_> = slots
        .iter()
        .map(|s| {
            (
                show(s.start, Asia::Shanghai).local[11..].to_owned(),
                s.officer.as_str(),
            )
        })
        .collect();
    let expected = [
        ("16:00", "li"),
        ("16:00", "zhang"),
        ("16:30", "li"),
        ("16:30", "zhang"),
        ("17:00", "li"),
        ("17:00", "zhang"),
        ("18:00", "li"),
        ("18:30", "li"),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|&(time, who)| (time.to_owned(), who))
        .collect();
    assert_eq!(listed, expected);
    let query = query_of(&search);
    let table = search_slots(&query).expect("valid");
    let times: Vec<_> = table
        .times()
        .map(|(start, _)| show(start, Asia::Shanghai).local[11..].to_owned())
        .collect();
    assert_eq!(times, ["16:00", "16:30", "17:00", "18:00", "18:30"]);
    assert_eq!(table.len(), slots.len());
    assert_eq!(table.to_slots(), slots);
    let four = slots[0].start;
    assert_eq!(table.officers_at(four), ["li", "zhang"]);
    assert_eq!(table.officers_at(slots[7].start), ["li"]);
    assert!(table.officers_at(four + TimeDelta::minutes(1)).is_empty());
    search.officers.clear();
    let empty = search_slots(&query_of(&search)).expect("valid");
    assert!(empty.is_empty() && empty.times().next().is_none());
    assert_eq!(empty.len(), 0);
}

#[test]
fn slots_align_to_the_shift_and_respect_from_and_days() {
    // From Monday 16:10 Shanghai: not 16:10, the next step from 13:30 is 16:30.
    let mut search = Search::new(Europe::Lisbon, sh(2026, 11, 30, 16, 10));
    assert_eq!(search.shanghai_starts()[0], "2026-11-30 16:30");
    // One day from Monday 16:45 ends Tuesday 16:45: Tuesday 16:00 (ends 16:30) is the last.
    search.from = sh(2026, 11, 30, 16, 45);
    let starts = search.shanghai_starts();
    assert_eq!(starts, ["2026-11-30 17:00", "2026-12-01 16:00"]);
    // Hour-long slots on a half-hour step: 16:00, 16:30.
    let mut search = Search::new(Europe::Lisbon, sh(2026, 11, 30, 0, 0));
    search.duration = TimeDelta::hours(1);
    assert_eq!(
        search.shanghai_starts(),
        on("2026-11-30", &["16:00", "16:30"])
    );
}

#[test]
fn an_empty_window_is_fine_an_inverted_one_is_not() {
    let mut search = Search::new(Australia::Sydney, sh(2026, 11, 30, 0, 0));
    search.applicant.earliest = t(12, 0);
    search.applicant.latest = t(12, 0);
    assert!(search.run().expect("empty window is valid").is_empty());
    search.applicant.earliest = t(12, 1);
    assert!(matches!(
        search.run(),
        Err(ScheduleError::WindowInverted { .. })
    ));
}

#[test]
fn bad_queries_are_errors() {
    let base = || Search::new(Europe::Lisbon, sh(2026, 11, 30, 0, 0));
    for days in [0, 91] {
        let mut s = base();
        s.days = days;
        assert!(matches!(s.run(), Err(ScheduleError::Days(n)) if n == days));
    }
    let mut s = base();
    s.days = 90;
    assert!(s.run().is_ok());
    for duration in [
        TimeDelta::zero(),
        TimeDelta::seconds(59),
        -HALF_HOUR,
        TimeDelta::hours(25),
    ] {
        let mut s = base();
        s.duration = duration;
        assert!(
            matches!(s.run(), Err(ScheduleError::Duration(_))),
            "{duration}"
        );
    }
    for step in [TimeDelta::zero(), -HALF_HOUR, TimeDelta::days(2)] {
        let search = base();
        let q = SlotQuery {
            step,
            ..query_of(&search)
        };
        assert!(
            matches!(find_slots(&q), Err(ScheduleError::Step(_))),
            "{step}"
        );
    }
    let mut s = base();
    s.officers.push((
        "bad".into(),
        OfficerSchedule {
            max_sessions: 0,
            ..lishui()
        },
    ));
    match s.run() {
        Err(ScheduleError::Officer { officer, source }) => {
            assert_eq!(officer, "bad");
            assert!(matches!(*source, ScheduleError::MaxSessions(0)));
        }
        other => panic!("expected an officer error, got {other:?}"),
    }
    let mut s = base();
    s.from = DateTime::<Utc>::MAX_UTC - TimeDelta::hours(12);
    assert!(matches!(s.run(), Err(ScheduleError::OutOfRange)));
}

fn query_of(s: &Search) -> SlotQuery<'_> {
    SlotQuery {
        officers: &s.officers,
        calendar: &s.calendar,
        applicant: &s.applicant,
        duration: s.duration,
        step: HALF_HOUR,
        from: s.from,
        days: s.days,
        busy: &s.busy,
    }
}

#[test]
fn extreme_instants_do_not_panic() {
    for from in [
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC - TimeDelta::days(91),
    ] {
        let mut s = Search::new(Asia::Kolkata, from);
        s.days = 90;
        assert!(s.run().is_ok());
        let _ = show(from, Asia::Kolkata);
        let _ = local_hour_is_night(from, Asia::Kolkata);
        let _ = crate::schedule::on_duty(&lishui(), &s.calendar, from);
    }
}

#[test]
fn show_formats_offsets_and_cities() {
    let cases = [
        (
            "2026-11-30T01:30:00Z",
            Asia::Shanghai,
            "2026-11-30 09:30",
            "+08:00",
            "Shanghai",
        ),
        (
            "2026-07-15T12:00:00Z",
            Europe::Lisbon,
            "2026-07-15 13:00",
            "+01:00",
            "Lisbon",
        ),
        (
            "2026-01-15T12:00:00Z",
            Europe::Lisbon,
            "2026-01-15 12:00",
            "+00:00",
            "Lisbon",
        ),
        (
            "2026-11-30T01:30:00Z",
            Asia::Kolkata,
            "2026-11-30 07:00",
            "+05:30",
            "Kolkata",
        ),
        (
            "2026-01-15T12:00:00Z",
            America::New_York,
            "2026-01-15 07:00",
            "-05:00",
            "New York",
        ),
        (
            "2026-07-15T12:00:00Z",
            America::Sao_Paulo,
            "2026-07-15 09:00",
            "-03:00",
            "Sao Paulo",
        ),
        (
            "2026-01-15T12:00:00Z",
            Asia::Kathmandu,
            "2026-01-15 17:45",
            "+05:45",
            "Kathmandu",
        ),
        (
            "2026-01-15T12:00:00Z",
            America::Argentina::Buenos_Aires,
            "2026-01-15 09:00",
            "-03:00",
            "Buenos Aires",
        ),
        (
            "2026-01-15T12:00:00Z",
            UTC,
            "2026-01-15 12:00",
            "+00:00",
            "UTC",
        ),
    ];
    for (at, zone, local, offset, city) in cases {
        let shown = show(utc(at), zone);
        assert_eq!(
            shown,
            ShownTime {
                local: local.into(),
                zone: zone.name().into(),
                utc_offset: offset.into(),
                city: city.into(),
            }
        );
    }
}

#[test]
fn night_is_before_seven_and_from_eight_pm() {
    let cases = [
        (sh(2026, 11, 30, 6, 59), true),
        (sh(2026, 11, 30, 7, 0), false),
        (sh(2026, 11, 30, 19, 59), false),
        (sh(2026, 11, 30, 20, 0), true),
        (sh(2026, 11, 30, 0, 0), true),
    ];
    for (at, night) in cases {
        assert_eq!(local_hour_is_night(at, Asia::Shanghai), night, "{at}");
    }
    // Shanghai 09:00 is night in New York (20:00) and day in Sydney (12:00).
    assert!(local_hour_is_night(
        sh(2026, 11, 30, 9, 0),
        America::New_York
    ));
    assert!(!local_hour_is_night(
        sh(2026, 11, 30, 9, 0),
        Australia::Sydney
    ));
}

#[test]
fn applicant_window_defaults_and_serde() {
    let window = ApplicantWindow::new(Europe::Lisbon);
    assert_eq!((window.earliest, window.latest), (t(8, 0), t(21, 0)));
    let read: ApplicantWindow = toml::from_str("zone = \"Europe/Lisbon\"").expect("defaults");
    assert_eq!(read, window);
    let read: ApplicantWindow =
        toml::from_str("zone = \"America/New_York\"\nlatest = \"22:00:00\"").expect("partial");
    assert_eq!((read.zone, read.latest), (America::New_York, t(22, 0)));
    assert!(toml::from_str::<ApplicantWindow>("zone = \"Mars/Olympus\"").is_err());
}

mod properties {
    //! Random zones, dates, rotas, windows and bookings: no panic, and every slot obeys
    //! every rule, checked here without the code under test where that is possible.

    use super::*;
    use crate::schedule::local::local_naive;
    use chrono::{Days, NaiveDate, Offset, TimeZone};
    use chrono_tz::TZ_VARIANTS;
    use proptest::prelude::*;

    fn minutes(m: u32) -> NaiveTime {
        NaiveTime::from_num_seconds_from_midnight_opt(m.min(1439) * 60, 0).unwrap_or(NaiveTime::MIN)
    }

    /// A valid weekly pattern from random (weekday, start, length) triples, dropping overlaps.
    fn pattern(raw: &[(u8, u32, u32)]) -> Vec<WeeklyShift> {
        let mut weekly: Vec<WeeklyShift> = Vec::new();
        for &(day, start, len) in raw {
            let Ok(weekday) = Weekday::try_from(day % 7) else {
                continue;
            };
            let (start, end) = (minutes(start), minutes(start + len));
            let clash = weekly
                .iter()
                .any(|s| s.weekday == weekday && s.start < end && start < s.end);
            if start < end && !clash {
                weekly.push(WeeklyShift {
                    weekday,
                    start,
                    end,
                });
            }
        }
        weekly
    }

    fn offset_at(zone: Tz, t: DateTime<Utc>) -> i32 {
        zone.offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc()
    }

    /// The most of `busy` running at one moment in `[start, end)`, by brute force over every
    /// instant where the count can rise.
    fn peak(
        busy: &[(DateTime<Utc>, DateTime<Utc>)],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> usize {
        let points = std::iter::once(start)
            .chain(busy.iter().map(|b| b.0).filter(|&p| start <= p && p < end));
        points
            .map(|p| busy.iter().filter(|&&(s, e)| s <= p && p < e).count())
            .max()
            .unwrap_or(0)
    }

    #[derive(Debug, Clone)]
    struct Case {
        office: Tz,
        applicant: Tz,
        from: DateTime<Utc>,
        earliest: NaiveTime,
        latest: NaiveTime,
        weekly: Vec<WeeklyShift>,
        max_sessions: u32,
        duration: TimeDelta,
        step: TimeDelta,
        days: u32,
        busy: Vec<(String, DateTime<Utc>, DateTime<Utc>)>,
        holidays: Vec<NaiveDate>,
        exceptions: Vec<Exception>,
    }

    fn zone() -> impl Strategy<Value = Tz> {
        (0..TZ_VARIANTS.len()).prop_map(|i| TZ_VARIANTS[i])
    }

    prop_compose! {
        fn case()(
            office in zone(),
            applicant in zone(),
            // 2020-01-01 to 2036-01-01.
            from_secs in 1_577_836_800i64..2_082_758_400,
            earliest in 0u32..1440,
            // Mostly valid windows, an inverted one now and then.
            span in -120i64..1440,
            raw_shifts in prop::collection::vec((0u8..7, 0u32..1400, 15u32..720), 0..12),
            max_sessions in 1u32..=3,
            duration in 5i64..=120,
            step in 5i64..=60,
            days in 1u32..=7,
            raw_busy in prop::collection::vec((0i64..8 * 24 * 60, 5i64..240, 0usize..2), 0..16),
            holiday_offsets in prop::collection::vec(0u64..9, 0..3),
            leave in prop::option::of((0u64..9, 0u64..4)),
            extra in prop::option::of((0u64..9, 0u32..1400, 15u32..600)),
        ) -> Case {
            let from = DateTime::from_timestamp(from_secs, 0).unwrap_or_default();
            let base = from.date_naive();
            let day = |n: u64| base.checked_add_days(Days::new(n)).unwrap_or(base);
            let busy = raw_busy
                .into_iter()
                .map(|(at, len, who)| {
                    let start = from + TimeDelta::minutes(at);
                    (["a", "b"][who].to_owned(), start, start + TimeDelta::minutes(len))
                })
                .collect();
            let mut exceptions = Vec::new();
            if let Some((first, len)) = leave {
                exceptions.push(Exception::Leave { from: day(first), to: day(first + len) });
            }
            if let Some((on, start, len)) = extra {
                let (start, end) = (minutes(start), minutes(start + len));
                if start < end {
                    exceptions.push(Exception::Extra { date: day(on), start, end });
                }
            }
            Case {
                office,
                applicant,
                from,
                earliest: minutes(earliest),
                latest: minutes(u32::try_from((i64::from(earliest) + span).max(0)).unwrap_or(0)),
                weekly: pattern(&raw_shifts),
                max_sessions,
                duration: TimeDelta::minutes(duration),
                step: TimeDelta::minutes(step),
                days,
                busy,
                holidays: holiday_offsets.into_iter().map(day).collect(),
                exceptions,
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn every_slot_obeys_every_rule(c in case()) {
            let schedule = OfficerSchedule {
                pattern: crate::schedule::ShiftPattern { zone: c.office, weekly: c.weekly.clone() },
                exceptions: c.exceptions.clone(),
                max_sessions: c.max_sessions,
                override_status: None,
            };
            let officers = vec![
                ("a".to_owned(), schedule.clone()),
                ("b".to_owned(), OfficerSchedule { max_sessions: 1, ..schedule.clone() }),
            ];
            let calendar = Calendar {
                holidays: c
                    .holidays
                    .iter()
                    .map(|&date| crate::schedule::Holiday { date, name: "h".into() })
                    .collect(),
            };
            let applicant =
                ApplicantWindow { zone: c.applicant, earliest: c.earliest, latest: c.latest };
            let q = SlotQuery {
                officers: &officers,
                calendar: &calendar,
                applicant: &applicant,
                duration: c.duration,
                step: c.step,
                from: c.from,
                days: c.days,
                busy: &c.busy,
            };
            let result = find_slots(&q);
            if c.earliest > c.latest {
                let inverted = matches!(result, Err(ScheduleError::WindowInverted { .. }));
                prop_assert!(inverted, "expected WindowInverted, got {:?}", result);
                return Ok(());
            }
            let slots = result.expect("a valid query succeeds");
            let to = c.from + TimeDelta::days(i64::from(c.days));
            for pair in slots.windows(2) {
                prop_assert!((pair[0].start, &pair[0].officer) < (pair[1].start, &pair[1].officer));
            }
            for slot in &slots {
                let (officer, schedule) = officers
                    .iter()
                    .find(|(id, _)| *id == slot.officer)
                    .expect("slot names a known officer");
                prop_assert_eq!(slot.end - slot.start, c.duration);
                prop_assert!(slot.start >= c.from && slot.end <= to);

                // Inside one shift, on a step from its start.
                let office_day = local_naive(slot.start, c.office).expect("in range").date();
                let shift = [office_day.pred_opt(), Some(office_day), office_day.succ_opt()]
                    .into_iter()
                    .flatten()
                    .flat_map(|date| shifts_on(schedule, &calendar, date))
                    .find(|&(s, e)| s <= slot.start && slot.end <= e);
                let (shift_start, _) = shift.expect("slot lies inside a shift");
                let offset = (slot.start - shift_start).num_seconds();
                prop_assert_eq!(offset % c.step.num_seconds(), 0);

                // Inside the applicant's window (wall clock checked directly on steady days).
                prop_assert!(window_allows(&c, slot.start, slot.end));

                // Not over the officer's capacity.
                let busy: Vec<_> = c
                    .busy
                    .iter()
                    .filter(|(id, s, e)| id == officer && s < e)
                    .map(|&(_, s, e)| (s, e))
                    .collect();
                let limit = usize::try_from(schedule.max_sessions).expect("small");
                prop_assert!(peak(&busy, slot.start, slot.end) < limit);
            }
            // Nothing missed: every aligned candidate the rules allow is listed.
            let expected = brute_force(&c, &officers, &calendar);
            let got: Vec<_> = slots.iter().map(|s| (s.start, s.officer.clone())).collect();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn wide_instants_never_panic(
            office in zone(),
            applicant in zone(),
            secs in -8_200_000_000_000i64..8_200_000_000_000,
            days in 1u32..=90,
        ) {
            let Some(from) = DateTime::from_timestamp(secs, 0) else { return Ok(()) };
            let mut schedule = lishui();
            schedule.pattern.zone = office;
            let officers = vec![("a".to_owned(), schedule.clone())];
            let calendar = Calendar::default();
            let window = ApplicantWindow::new(applicant);
            let q = SlotQuery {
                officers: &officers,
                calendar: &calendar,
                applicant: &window,
                duration: HALF_HOUR,
                step: HALF_HOUR,
                from,
                days,
                busy: &[],
            };
            match find_slots(&q) {
                Ok(slots) => prop_assert!(slots.iter().all(|s| s.start >= from && s.end > s.start)),
                Err(err) => prop_assert!(matches!(err, ScheduleError::OutOfRange), "{err}"),
            }
            let horizon = from.checked_add_signed(TimeDelta::days(30));
            match crate::schedule::on_duty(&schedule, &calendar, from) {
                crate::schedule::DutyStatus::OnDuty { until } => prop_assert!(until > from),
                crate::schedule::DutyStatus::OffDuty { next_start: Some(start) } => {
                    prop_assert!(start > from && Some(start) <= horizon);
                }
                crate::schedule::DutyStatus::OffDuty { next_start: None } => {}
            }
            if let Some(open) = crate::schedule::next_opening(&[schedule], &calendar, from) {
                prop_assert!(open >= from);
            }
            let shown = show(from, applicant);
            prop_assert_eq!(shown.zone, applicant.name());
            let _ = local_hour_is_night(from, applicant);
        }
    }

    /// `find_slots` as first written: officer by officer, every shift date by date through
    /// `shifts_between`, bookings filtered and the window resolved afresh for every candidate,
    /// then one sort of every slot. `search_slots` shares that work between officers; it must
    /// return exactly this.
    fn reference_find_slots(q: &SlotQuery<'_>) -> Result<Vec<Slot>, ScheduleError> {
        use crate::schedule::shifts::shifts_between;
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
            let max_sessions = usize::try_from(schedule.max_sessions).unwrap_or(usize::MAX);
            let busy: Vec<(DateTime<Utc>, DateTime<Utc>)> = q
                .busy
                .iter()
                .filter(|(id, start, end)| {
                    id == officer && start < end && *start < to && *end > q.from
                })
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
        slots.dedup();
        Ok(slots)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Officers listed out of id order, one id twice, patterns shared and not, holidays,
        /// leave, extras and bookings: the shared-work search equals the reference, error or
        /// slots, exactly.
        #[test]
        fn find_slots_equals_the_reference(
            c in case(),
            second_zone in zone(),
            sub_second in 0u32..3,
            days in prop::option::weighted(0.1, 1u32..=MAX_SEARCH_DAYS + 1),
        ) {
            let schedule = OfficerSchedule {
                pattern: crate::schedule::ShiftPattern { zone: c.office, weekly: c.weekly.clone() },
                exceptions: c.exceptions.clone(),
                max_sessions: c.max_sessions,
                override_status: None,
            };
            let regular = OfficerSchedule { exceptions: Vec::new(), ..schedule.clone() };
            let elsewhere = OfficerSchedule {
                pattern: crate::schedule::ShiftPattern {
                    zone: second_zone,
                    weekly: c.weekly.clone(),
                },
                max_sessions: 1,
                ..regular.clone()
            };
            let officers = vec![
                ("b".to_owned(), schedule.clone()),
                ("c".to_owned(), elsewhere),
                ("a".to_owned(), OfficerSchedule { max_sessions: 1, ..schedule.clone() }),
                ("d".to_owned(), regular.clone()),
                ("b".to_owned(), regular),
            ];
            let calendar = Calendar {
                holidays: c
                    .holidays
                    .iter()
                    .map(|&date| crate::schedule::Holiday { date, name: "h".into() })
                    .collect(),
            };
            let applicant =
                ApplicantWindow { zone: c.applicant, earliest: c.earliest, latest: c.latest };
            // Now and then a start that is not on a whole second.
            let from = c.from + TimeDelta::nanoseconds(i64::from(sub_second) * 250_000_000);
            let mut busy = c.busy.clone();
            busy.push(("c".to_owned(), from, from + TimeDelta::days(2)));
            busy.push(("d".to_owned(), from + TimeDelta::hours(5), from + TimeDelta::hours(3)));
            // Back-to-back bookings: a slot can overlap several while only one runs at a time.
            let chain = from + c.step;
            for k in 0..3 * 24 * 3 {
                let start = chain + TimeDelta::minutes(20 * k);
                busy.push(("b".to_owned(), start, start + TimeDelta::minutes(20)));
            }
            let q = SlotQuery {
                officers: &officers,
                calendar: &calendar,
                applicant: &applicant,
                duration: c.duration,
                step: c.step,
                from,
                days: days.unwrap_or(c.days),
                busy: &busy,
            };
            match (find_slots(&q), reference_find_slots(&q)) {
                (Ok(got), Ok(want)) => prop_assert_eq!(got, want),
                (Err(got), Err(want)) => prop_assert_eq!(got.to_string(), want.to_string()),
                (got, want) => prop_assert!(false, "got {:?}, want {:?}", got, want),
            }
        }
    }

    /// The slots `c` should produce, enumerated shift by shift with this file's own window and
    /// capacity checks, as (start, officer) sorted like `find_slots` sorts them.
    fn brute_force(
        c: &Case,
        officers: &[(String, OfficerSchedule)],
        calendar: &Calendar,
    ) -> Vec<(DateTime<Utc>, String)> {
        let to = c.from + TimeDelta::days(i64::from(c.days));
        let mut out = Vec::new();
        for (officer, schedule) in officers {
            let busy: Vec<_> = c
                .busy
                .iter()
                .filter(|(id, s, e)| id == officer && s < e)
                .map(|&(_, s, e)| (s, e))
                .collect();
            let limit = usize::try_from(schedule.max_sessions).expect("small");
            let first_day = c.from.date_naive() - Days::new(2);
            let last_day = to.date_naive() + Days::new(2);
            let shifts = crate::schedule::local::dates(first_day, last_day)
                .flat_map(|date| shifts_on(schedule, calendar, date));
            for (shift_start, shift_end) in shifts {
                let mut start = shift_start;
                while start + c.duration <= shift_end {
                    let end = start + c.duration;
                    if start >= c.from
                        && end <= to
                        && window_allows(c, start, end)
                        && peak(&busy, start, end) < limit
                    {
                        out.push((start, officer.clone()));
                    }
                    start += c.step;
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn window_allows(c: &Case, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        let first = local_naive(start, c.applicant).expect("in range");
        let last = local_naive(end - TimeDelta::seconds(1), c.applicant).expect("in range");
        let day = first.date();
        let day_start = Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN)) - TimeDelta::hours(26);
        let day_end = day_start + TimeDelta::hours(76);
        if offset_at(c.applicant, day_start) == offset_at(c.applicant, day_end) {
            last.date() == day && first.time() >= c.earliest && last.time() < c.latest
        } else {
            let opens = resolve(c.applicant, day, c.earliest).expect("in range");
            let closes = resolve(c.applicant, day, c.latest).expect("in range");
            opens <= start && end <= closes
        }
    }
}
