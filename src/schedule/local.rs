//! Local wall-clock time ⇄ UTC, with one rule for every zone, and serde for [`Tz`].
//!
//! Contract: a local date and time resolve to exactly one UTC instant or to `None` (only when
//! the result falls outside chrono's range). A time skipped by a DST gap resolves to the instant
//! the gap ends; a time repeated by a fall-back resolves to its earlier instant. Nothing here
//! panics, whatever the date: chrono's own `naive_local()` can, so it is avoided.

use chrono::{
    DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;

/// How far past a skipped local time the end of its gap is searched for. Real gaps are an hour
/// or less; the widest on record (Samoa skipping 2011-12-30) is a whole day.
const GAP_SEARCH_MINUTES: i64 = 26 * 60;

/// The UTC instant of `time` on `date` in `zone` (gap → gap end, fall-back → earlier instant).
pub(crate) fn resolve(zone: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let naive = date.and_time(time);
    earliest(zone, naive).or_else(|| gap_end(zone, naive))
}

/// The local date of `t` in `zone`, or `None` at the very ends of chrono's range.
pub(crate) fn local_date(t: DateTime<Utc>, zone: Tz) -> Option<NaiveDate> {
    local_naive(t, zone).map(|n| n.date())
}

/// The local wall-clock reading of `t` in `zone`, or `None` at the ends of chrono's range.
pub(crate) fn local_naive(t: DateTime<Utc>, zone: Tz) -> Option<NaiveDateTime> {
    let offset = zone.offset_from_utc_datetime(&t.naive_utc()).fix();
    t.naive_utc().checked_add_offset(offset)
}

/// The calendar dates `first..=last`, empty when `first > last`.
pub(crate) fn dates(first: NaiveDate, last: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    std::iter::successors(Some(first), |d| d.succ_opt()).take_while(move |d| *d <= last)
}

fn earliest(zone: Tz, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

/// `naive` does not exist in `zone`: find the first local time after it that does. That time
/// is the wall-clock reading at the instant the gap ends, so its instant is the answer.
fn gap_end(zone: Tz, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    for minute in 1..=GAP_SEARCH_MINUTES {
        let probe = naive.checked_add_signed(TimeDelta::minutes(minute))?;
        let Some(mut found) = earliest(zone, probe) else {
            continue;
        };
        // The gap ended within the last minute; historic offsets carry seconds, so walk back to
        // the first existing second.
        for second in 1..60 {
            match probe
                .checked_sub_signed(TimeDelta::seconds(second))
                .and_then(|p| earliest(zone, p))
            {
                Some(t) => found = t,
                None => break,
            }
        }
        return Some(found);
    }
    None
}

/// Serde for [`Tz`] as its IANA name, so the crate needs no `chrono-tz/serde` feature.
pub(crate) mod tz_serde {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(crate) fn serialize<S: Serializer>(zone: &Tz, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(zone.name())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse::<Tz>()
            .map_err(|_| D::Error::custom(format!("unknown IANA time zone {name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America, Asia, Europe, Pacific};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("test date")
    }

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("test time")
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("test instant")
    }

    #[test]
    fn shanghai_is_plain_plus_eight() {
        let got = resolve(Asia::Shanghai, d(2026, 11, 30), t(9, 30));
        assert_eq!(got, Some(utc("2026-11-30T01:30:00Z")));
    }

    #[test]
    fn gap_resolves_to_gap_end() {
        // Lisbon 2027-03-28: 01:00 WET jumps to 02:00 WEST at 01:00 UTC.
        let got = resolve(Europe::Lisbon, d(2027, 3, 28), t(1, 30));
        assert_eq!(got, Some(utc("2027-03-28T01:00:00Z")));
        // New York 2027-03-14: 02:00 EST jumps to 03:00 EDT at 07:00 UTC.
        let got = resolve(America::New_York, d(2027, 3, 14), t(2, 30));
        assert_eq!(got, Some(utc("2027-03-14T07:00:00Z")));
    }

    #[test]
    fn whole_skipped_day_resolves_to_next_day_start() {
        // Samoa skipped 2011-12-30 entirely.
        let got = resolve(Pacific::Apia, d(2011, 12, 30), t(10, 0));
        assert_eq!(got, Some(utc("2011-12-30T10:00:00Z")));
        assert_eq!(
            local_date(utc("2011-12-30T10:00:00Z"), Pacific::Apia),
            Some(d(2011, 12, 31))
        );
    }

    #[test]
    fn ambiguous_resolves_to_earlier_instant() {
        // Lisbon 2026-10-25: 02:00 WEST falls back to 01:00 WET at 01:00 UTC.
        let got = resolve(Europe::Lisbon, d(2026, 10, 25), t(1, 30));
        assert_eq!(got, Some(utc("2026-10-25T00:30:00Z")));
        let got = resolve(America::New_York, d(2026, 11, 1), t(1, 30));
        assert_eq!(got, Some(utc("2026-11-01T05:30:00Z")));
    }

    #[test]
    fn extremes_do_not_panic() {
        let _ = resolve(Pacific::Kiritimati, NaiveDate::MAX, NaiveTime::MIN);
        let _ = resolve(Pacific::Kiritimati, NaiveDate::MAX, t(23, 59));
        let _ = resolve(America::Adak, NaiveDate::MIN, NaiveTime::MIN);
        assert_eq!(
            local_date(DateTime::<Utc>::MAX_UTC, Pacific::Kiritimati),
            None
        );
        assert_eq!(
            local_date(DateTime::<Utc>::MIN_UTC, America::New_York),
            None
        );
    }

    #[test]
    fn dates_are_inclusive() {
        let got: Vec<_> = dates(d(2026, 12, 30), d(2027, 1, 2)).collect();
        assert_eq!(
            got,
            vec![
                d(2026, 12, 30),
                d(2026, 12, 31),
                d(2027, 1, 1),
                d(2027, 1, 2)
            ]
        );
        assert_eq!(dates(d(2027, 1, 2), d(2027, 1, 1)).count(), 0);
        assert_eq!(dates(NaiveDate::MAX, NaiveDate::MAX).count(), 1);
    }
}
