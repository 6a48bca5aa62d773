//! Office-wide public holidays, read from an operator-editable TOML file.
//!
//! Contract: a [`Calendar`] is a list of local dates (in each officer's office zone) on which
//! no weekly shift runs. Make-up working days are not its business: they are per-officer
//! `Extra` exceptions. [`DEFAULT_CALENDAR_TOML`] is the shipped default for mainland China.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::ScheduleError;

/// Mainland China's public holidays for 2026 (as published) and 2027 (a provisional estimate).
///
/// An operator-editable default, not an authority: it lives in `china_holidays.toml` beside
/// this file, whose comments say which dates are confirmed and which are guesses. Deployments
/// should load their own copy through [`Calendar::parse_toml`].
pub const DEFAULT_CALENDAR_TOML: &str = include_str!("china_holidays.toml");

/// The office's public holidays.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calendar {
    /// Named `holiday` on the wire, as each `[[holiday]]` table in the file is one day.
    #[serde(rename = "holiday", default)]
    pub holidays: Vec<Holiday>,
}

/// One day off for the whole office.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holiday {
    pub date: NaiveDate,
    pub name: String,
}

/// The file as written, before its dates are checked: operators may quote a date or write a
/// bare TOML date, and both must land as a [`NaiveDate`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    #[serde(default)]
    holiday: Vec<RawHoliday>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoliday {
    date: toml::Value,
    name: String,
}

impl Calendar {
    /// Parse a calendar file of `[[holiday]]` tables with `date` and `name`.
    ///
    /// Unknown keys are rejected, so a misspelt `[[holidays]]` cannot silently empty the
    /// calendar.
    pub fn parse_toml(text: &str) -> Result<Calendar, ScheduleError> {
        let raw: RawCalendar = toml::from_str(text)?;
        let holidays = raw
            .holiday
            .into_iter()
            .enumerate()
            .map(|(index, entry)| {
                let date = parse_date(&entry.date).ok_or_else(|| ScheduleError::CalendarEntry {
                    index,
                    reason: format!("date {} is not a YYYY-MM-DD date", entry.date),
                })?;
                if entry.name.trim().is_empty() {
                    return Err(ScheduleError::CalendarEntry {
                        index,
                        reason: format!("holiday on {date} has no name"),
                    });
                }
                Ok(Holiday {
                    date,
                    name: entry.name,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Calendar { holidays })
    }

    /// The holiday on `date`, if the office is closed that day.
    pub fn holiday(&self, date: NaiveDate) -> Option<&Holiday> {
        self.holidays.iter().find(|h| h.date == date)
    }

    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.holiday(date).is_some()
    }
}

fn parse_date(value: &toml::Value) -> Option<NaiveDate> {
    match value {
        toml::Value::String(text) => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok(),
        toml::Value::Datetime(stamp) if stamp.time.is_none() && stamp.offset.is_none() => {
            let date = stamp.date?;
            NaiveDate::from_ymd_opt(
                i32::from(date.year),
                u32::from(date.month),
                u32::from(date.day),
            )
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("test date")
    }

    #[test]
    fn parses_the_documented_format() {
        let text = "[[holiday]]\ndate = \"2027-01-01\"\nname = \"New Year's Day\"\n";
        let cal = Calendar::parse_toml(text).expect("valid calendar");
        assert_eq!(
            cal.holidays,
            vec![Holiday {
                date: d(2027, 1, 1),
                name: "New Year's Day".into()
            }]
        );
        assert!(cal.is_holiday(d(2027, 1, 1)));
        assert!(!cal.is_holiday(d(2027, 1, 4)));
    }

    #[test]
    fn accepts_bare_toml_dates() {
        let text = "[[holiday]]\ndate = 2027-10-01\nname = \"National Day\"\n";
        let cal = Calendar::parse_toml(text).expect("valid calendar");
        assert_eq!(
            cal.holiday(d(2027, 10, 1)).map(|h| h.name.as_str()),
            Some("National Day")
        );
    }

    #[test]
    fn empty_file_is_an_empty_calendar() {
        assert_eq!(
            Calendar::parse_toml("").expect("empty is fine"),
            Calendar::default()
        );
    }

    #[test]
    fn rejects_bad_entries() {
        let cases = [
            "[[holiday]]\ndate = \"2027-02-30\"\nname = \"x\"\n",
            "[[holiday]]\ndate = \"01/10/2027\"\nname = \"x\"\n",
            "[[holiday]]\ndate = 2027-10-01T09:00:00\nname = \"x\"\n",
            "[[holiday]]\ndate = 20271001\nname = \"x\"\n",
            "[[holiday]]\ndate = \"2027-10-01\"\nname = \"  \"\n",
        ];
        for text in cases {
            let err = Calendar::parse_toml(text).expect_err(text);
            assert!(
                matches!(err, ScheduleError::CalendarEntry { index: 0, .. }),
                "{text}: {err}"
            );
        }
        for text in [
            "[[holidays]]\ndate = \"2027-10-01\"\nname = \"x\"\n",
            "[[holiday]]\ndate = \"2027-10-01\"\n",
            "[[holiday]]\ndate = \"2027-10-01\"\nname = \"x\"\nkind = \"y\"\n",
            "not toml at all [",
        ] {
            let err = Calendar::parse_toml(text).expect_err(text);
            assert!(
                matches!(err, ScheduleError::CalendarToml(_)),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn default_calendar_has_the_expected_days() {
        let cal = Calendar::parse_toml(DEFAULT_CALENDAR_TOML).expect("shipped calendar parses");
        let count = |year: i32| {
            cal.holidays
                .iter()
                .filter(|h| h.date.year() == year)
                .count()
        };
        assert_eq!(count(2026), 33);
        assert_eq!(count(2027), 29);
        for (date, name) in [
            (d(2026, 1, 1), "New Year's Day"),
            (d(2026, 2, 17), "Spring Festival"),
            (d(2026, 2, 23), "Spring Festival"),
            (d(2026, 4, 5), "Qingming Festival"),
            (d(2026, 5, 5), "Labour Day"),
            (d(2026, 6, 19), "Dragon Boat Festival"),
            (d(2026, 9, 25), "Mid-Autumn Festival"),
            (d(2026, 10, 7), "National Day"),
            (d(2027, 2, 6), "Spring Festival"),
            (d(2027, 6, 9), "Dragon Boat Festival"),
            (d(2027, 9, 15), "Mid-Autumn Festival"),
            (d(2027, 10, 1), "National Day"),
        ] {
            assert_eq!(
                cal.holiday(date).map(|h| h.name.as_str()),
                Some(name),
                "{date}"
            );
        }
        // Make-up working days are not holidays.
        for date in [
            d(2026, 1, 4),
            d(2026, 2, 14),
            d(2026, 2, 28),
            d(2026, 10, 10),
        ] {
            assert!(!cal.is_holiday(date), "{date}");
        }
        let mut dates: Vec<_> = cal.holidays.iter().map(|h| h.date).collect();
        let before = dates.len();
        dates.sort();
        dates.dedup();
        assert_eq!(dates.len(), before, "no day listed twice");
    }
}
