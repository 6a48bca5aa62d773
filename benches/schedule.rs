//! Benchmarks for the two hot pure paths of the hub: appointment slot search over the officer
//! rota ([`search_slots`], which the booking API runs) and the walk-in desk's pairing decision ([`Desk::take_for`]).
//!
//! Run with `cargo bench --bench schedule`; `docs/benchmarks.md` records the figures and the
//! targets (under 10 ms per slot search, under 1 ms per pairing decision).
//!
//! Every input is built deterministically (a fixed-seed generator, fixed dates), so two runs
//! measure the same work.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::{America, Asia, Europe};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use globallink::desk::{Desk, OfficerCaps, Waiting};
use globallink::ids::{CaseId, UserId};
use globallink::officers::dev_profile;
use globallink::schedule::{
    ApplicantWindow, Calendar, DEFAULT_CALENDAR_TOML, Exception, OfficerSchedule, ShiftPattern,
    SlotQuery, WeeklyShift, search_slots,
};

const OFFICERS: usize = 500;
const SEARCH_DAYS: u32 = 90;
const BUSY_BOOKINGS: usize = 2_000;
const WAITING: usize = 10_000;

const SERVICES: [&str; 3] = ["id-card-renewal", "inheritance", "driving-licence-renewal"];
const LANGUAGES: [&str; 7] = ["zh-Hans", "pt", "it", "en", "es", "qingtian", "wenzhou"];

/// A small fixed-seed generator (SplitMix64), so the inputs need no extra crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is irrelevant here.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("literal time")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("literal date")
}

const WEEKDAYS: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];

/// A shift as `((start hour, minute), (end hour, minute))`.
type Span = ((u32, u32), (u32, u32));

fn week(days: &[Weekday], shifts: &[Span]) -> Vec<WeeklyShift> {
    days.iter()
        .flat_map(|&weekday| {
            shifts.iter().map(move |&(start, end)| WeeklyShift {
                weekday,
                start: time(start.0, start.1),
                end: time(end.0, end.1),
            })
        })
        .collect()
}

/// The rota of officer `i`: one of four weekly patterns like [`dev_profile`]'s, with leave for
/// every 7th officer, make-up/extra days for every 5th and `max_sessions` cycling 1–3.
fn officer_schedule(i: usize) -> OfficerSchedule {
    let weekly = match i % 4 {
        // The development officer: office hours, an evening desk for Europe, Saturday morning.
        0 => dev_profile(Vec::new()).schedule.pattern.weekly,
        // Lishui office hours only.
        1 => week(&WEEKDAYS, &[((9, 0), (12, 0)), ((13, 30), (17, 30))]),
        // Late office plus a long evening desk for Europe.
        2 => week(&WEEKDAYS, &[((13, 30), (17, 30)), ((18, 0), (22, 0))]),
        // Americas: early mornings Tuesday to Saturday (the US evening before) and late nights.
        _ => week(
            &[
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
            ],
            &[((7, 0), (11, 0)), ((20, 0), (23, 0))],
        ),
    };
    let mut exceptions = Vec::new();
    if i.is_multiple_of(7) {
        // A week of leave somewhere in the 90 days.
        let from = date(2026, 9, 7) + TimeDelta::days((i % 70) as i64);
        exceptions.push(Exception::Leave {
            from,
            to: from + TimeDelta::days(4),
        });
    }
    if i.is_multiple_of(5) {
        // The official make-up working Saturdays around National Day, and one extra evening.
        for day in [date(2026, 9, 20), date(2026, 10, 10)] {
            exceptions.push(Exception::Extra {
                date: day,
                start: time(9, 0),
                end: time(17, 0),
            });
        }
        exceptions.push(Exception::Extra {
            date: date(2026, 11, 15),
            start: time(18, 0),
            end: time(21, 30),
        });
    }
    OfficerSchedule {
        pattern: ShiftPattern {
            zone: Asia::Shanghai,
            weekly,
        },
        exceptions,
        max_sessions: 1 + (i % 3) as u32,
        override_status: None,
    }
}

struct SlotFixture {
    officers: Vec<(String, OfficerSchedule)>,
    /// The same officers with each shift starting `i % 60` minutes later.
    staggered: Vec<(String, OfficerSchedule)>,
    calendar: Calendar,
    busy: Vec<(String, DateTime<Utc>, DateTime<Utc>)>,
    from: DateTime<Utc>,
}

fn slot_fixture() -> SlotFixture {
    let mut rng = Rng(0x5EED_0001);
    let officers: Vec<(String, OfficerSchedule)> = (0..OFFICERS)
        .map(|i| {
            let id = uuid::Uuid::from_u64_pair(0x0FF1_CE00_0000_4000, rng.next()).to_string();
            (id, officer_schedule(i))
        })
        .collect();
    let calendar = Calendar::parse_toml(DEFAULT_CALENDAR_TOML).expect("shipped calendar");
    // "Now" plus the booking lead time: not on a half-hour, as in production.
    let from = Utc
        .with_ymd_and_hms(2026, 9, 1, 6, 17, 0)
        .single()
        .expect("valid instant");
    // Bookings of 30, 60 or 90 minutes on half-hours of Shanghai 07:00–22:00, anywhere in the
    // 90 days, over random officers (some land off shift, as stale bookings do).
    let busy = (0..BUSY_BOOKINGS)
        .map(|_| {
            let (officer, _) = &officers[rng.below(OFFICERS)];
            let day = rng.below(SEARCH_DAYS as usize) as i64;
            let half_hour = 14 + rng.below(30) as i64;
            let start = Asia::Shanghai
                .from_local_datetime(&date(2026, 9, 1).and_time(NaiveTime::MIN))
                .single()
                .expect("Shanghai has no DST")
                .with_timezone(&Utc)
                + TimeDelta::days(day)
                + TimeDelta::minutes(30 * half_hour);
            let end = start + TimeDelta::minutes(30 * (1 + rng.below(3) as i64));
            (officer.clone(), start, end)
        })
        .collect();
    let staggered = officers
        .iter()
        .enumerate()
        .map(|(i, (id, schedule))| {
            let mut schedule = schedule.clone();
            for shift in &mut schedule.pattern.weekly {
                shift.start += TimeDelta::minutes((i % 60) as i64);
            }
            (id.clone(), schedule)
        })
        .collect();
    SlotFixture {
        officers,
        staggered,
        calendar,
        busy,
        from,
    }
}

fn bench_slots(c: &mut Criterion) {
    let fixture = slot_fixture();
    let mut group = c.benchmark_group("search_slots/500_officers/90_days");
    // Tens of milliseconds per call: the same number of calls in every sample.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    for (name, zone) in [
        ("Europe_Lisbon", Europe::Lisbon),
        ("America_New_York", America::New_York),
    ] {
        let applicant = ApplicantWindow {
            zone,
            earliest: time(8, 0),
            latest: time(21, 0),
        };
        let query = SlotQuery {
            officers: &fixture.officers,
            calendar: &fixture.calendar,
            applicant: &applicant,
            duration: TimeDelta::minutes(30),
            step: TimeDelta::minutes(30),
            from: fixture.from,
            days: SEARCH_DAYS,
            busy: &fixture.busy,
        };
        let found = search_slots(&query).expect("valid query");
        println!(
            "search_slots {name}: {} officer slots at {} start times per search",
            found.len(),
            found.times().count()
        );
        group.bench_function(name, |b| b.iter(|| search_slots(black_box(&query))));
        // The worst case for the shared work: shifts staggered by a minute per officer, so
        // almost every officer has a rota of their own (240 distinct weekly patterns).
        let staggered = SlotQuery {
            officers: &fixture.staggered,
            ..query
        };
        let found = search_slots(&staggered).expect("valid query");
        println!(
            "search_slots {name}/distinct_rotas: {} officer slots at {} start times per search",
            found.len(),
            found.times().count()
        );
        group.bench_function(format!("{name}/distinct_rotas"), |b| {
            b.iter(|| search_slots(black_box(&staggered)))
        });
    }
    group.finish();
}

struct DeskFixture {
    desk: Desk,
    caps: OfficerCaps,
    now: DateTime<Utc>,
}

/// 10,000 applicants over three services, waiting up to 40 minutes (so some are past the
/// starvation bound), in seven languages; 20 of them booked, 5 with the officer who asks.
fn desk_fixture() -> DeskFixture {
    let mut rng = Rng(0x5EED_0002);
    let now = Utc
        .with_ymd_and_hms(2026, 11, 27, 10, 0, 0)
        .single()
        .expect("valid instant");
    let officer = UserId(uuid::Uuid::from_u64_pair(1, 1));
    let other = UserId(uuid::Uuid::from_u64_pair(1, 2));
    let mut desk = Desk::default();
    for i in 0..WAITING {
        let service = SERVICES[rng.below(SERVICES.len())];
        let booked_with = match i % 500 {
            // Booked with the asking officer: one due now, others later today.
            0 => Some((
                officer,
                now + TimeDelta::minutes(30 * (i / 500) as i64 - 60),
            )),
            250 => Some((other, now + TimeDelta::minutes(5))),
            _ => None,
        };
        let waiting = Waiting {
            case_id: CaseId(uuid::Uuid::from_u64_pair(2, rng.next())),
            applicant_name: format!("Applicant {i}"),
            service: service.into(),
            tz: "Europe/Lisbon".into(),
            lang: LANGUAGES[rng.below(LANGUAGES.len())].into(),
            skill: service.into(),
            booked_with,
            since: now - TimeDelta::seconds(rng.below(40 * 60) as i64),
        };
        desk.join(waiting).expect("fresh case ids");
    }
    let caps = OfficerCaps {
        officer: Some(officer),
        skills: vec!["id-card-renewal".to_owned(), "inheritance".to_owned()],
        languages: vec!["zh-Hans".to_owned(), "it".to_owned(), "qingtian".to_owned()],
        ..OfficerCaps::default()
    };
    DeskFixture { desk, caps, now }
}

/// Time `take_for` alone; the taken applicant is re-joined outside the timer, so every
/// decision sees 10,000 waiting.
fn time_take_for(
    desk: &mut Desk,
    caps: &OfficerCaps,
    service: Option<&str>,
    now: DateTime<Utc>,
    iters: u64,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let started = Instant::now();
        let taken = desk.take_for(black_box(caps), black_box(service), black_box(now));
        total += started.elapsed();
        let taken = taken.expect("someone is eligible");
        desk.join(taken).expect("was just taken");
    }
    total
}

fn bench_desk(c: &mut Criterion) {
    let DeskFixture {
        mut desk,
        caps,
        now,
    } = desk_fixture();
    let mut group = c.benchmark_group("take_for/10000_waiting");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("booked_officer_any_service", |b| {
        b.iter_custom(|iters| time_take_for(&mut desk, &caps, None, now, iters));
    });
    let walk_in = OfficerCaps {
        officer: None,
        ..caps.clone()
    };
    group.bench_function("walk_in_one_service", |b| {
        b.iter_custom(|iters| time_take_for(&mut desk, &walk_in, Some("inheritance"), now, iters));
    });
    // Take and re-join, both timed: join's duplicate check scans the queues too.
    group.bench_function("take_and_rejoin", |b| {
        b.iter(|| {
            let taken = desk
                .take_for(black_box(&walk_in), None, black_box(now))
                .expect("someone is eligible");
            desk.join(taken).expect("was just taken");
        });
    });
    group.finish();
}

criterion_group!(benches, bench_slots, bench_desk);
criterion_main!(benches);
