//! Chinese motor-vehicle driving licences. The licence number is the holder's resident identity
//! number; a licence is valid for 6 years, then 10 years, then long-term.
//!
//! [`DrivingLicence::new`] accepts a period of exactly 6 or 10 years, either to the same date or
//! to the day before (both conventions appear on licences), or a long-term licence, and refuses a
//! licence that starts after the check date. [`DrivingLicence::renewal`] tells where the holder
//! stands: renewal may be applied for in the 90 days before expiry and up to one year after it;
//! beyond that the licence has lapsed.

use chrono::{Months, NaiveDate};
use serde::Serialize;
use thiserror::Error;

use super::resident_id::ResidentId;

/// Validity periods a licence may have, in years.
const PERIODS_YEARS: [u32; 2] = [6, 10];

/// Renewal may be applied for this many days before expiry.
pub const RENEWAL_WINDOW_DAYS: i64 = 90;

/// A licence whose period and start have been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrivingLicence {
    pub number: ResidentId,
    pub valid_from: NaiveDate,
    pub valid_until: Validity,
}

/// End of a licence's validity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// Valid up to and including this date.
    Until(NaiveDate),
    LongTerm,
}

impl Validity {
    /// The last valid day, if there is one.
    pub fn end(self) -> Option<NaiveDate> {
        match self {
            Validity::Until(date) => Some(date),
            Validity::LongTerm => None,
        }
    }
}

/// Where a licence stands on a given day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum RenewalStatus {
    /// More than 90 days of validity left.
    NotDue {
        days_left: i64,
    },
    /// Within 90 days before expiry (0 on the last valid day): renewal may be applied for.
    Due {
        days_left: i64,
    },
    /// Expired, but within one year: it can still be renewed.
    Overdue {
        days_over: i64,
    },
    /// More than a year past expiry: the licence has lapsed and cannot simply be renewed.
    Lapsed {
        days_over: i64,
    },
    LongTerm,
}

/// Why licence data was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LicenceError {
    #[error(
        "a licence is valid for 6 or 10 years or long-term, but {valid_from} to {valid_until} is \
         neither"
    )]
    InvalidPeriod {
        valid_from: NaiveDate,
        valid_until: NaiveDate,
    },
    #[error("the licence is only valid from {valid_from}")]
    NotYetValid { valid_from: NaiveDate },
    #[error("the licence's validity starts before the holder's date of birth")]
    BeforeBirth,
}

impl LicenceError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            LicenceError::InvalidPeriod { .. } => "licence_period",
            LicenceError::NotYetValid { .. } => "licence_not_yet_valid",
            LicenceError::BeforeBirth => "licence_before_birth",
        }
    }
}

impl DrivingLicence {
    /// Check the validity period and that the licence is in force from `on` (the session date)
    /// or earlier. An expired licence is accepted: see [`renewal`](Self::renewal).
    pub fn new(
        number: ResidentId,
        valid_from: NaiveDate,
        valid_until: Validity,
        on: NaiveDate,
    ) -> Result<Self, LicenceError> {
        if valid_from < number.birth_date() {
            return Err(LicenceError::BeforeBirth);
        }
        if let Validity::Until(until) = valid_until {
            let matches = |years: u32| {
                valid_from
                    .checked_add_months(Months::new(years * 12))
                    .is_some_and(|end| end == until || end.pred_opt() == Some(until))
            };
            if !PERIODS_YEARS.into_iter().any(matches) {
                return Err(LicenceError::InvalidPeriod {
                    valid_from,
                    valid_until: until,
                });
            }
        }
        if valid_from > on {
            return Err(LicenceError::NotYetValid { valid_from });
        }
        Ok(DrivingLicence {
            number,
            valid_from,
            valid_until,
        })
    }

    /// The renewal status on day `on`.
    pub fn renewal(&self, on: NaiveDate) -> RenewalStatus {
        let Validity::Until(until) = self.valid_until else {
            return RenewalStatus::LongTerm;
        };
        if on <= until {
            let days_left = (until - on).num_days();
            if days_left <= RENEWAL_WINDOW_DAYS {
                RenewalStatus::Due { days_left }
            } else {
                RenewalStatus::NotDue { days_left }
            }
        } else {
            let days_over = (on - until).num_days();
            // Past the end of the calendar; a year after it cannot have been reached either.
            let lapses = until.checked_add_months(Months::new(12));
            if lapses.is_some_and(|lapses| on > lapses) {
                RenewalStatus::Lapsed { days_over }
            } else {
                RenewalStatus::Overdue { days_over }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn holder() -> ResidentId {
        ResidentId::parse("11010519491231002X", date(2026, 6, 15)).unwrap()
    }

    fn licence(from: NaiveDate, until: Validity) -> Result<DrivingLicence, LicenceError> {
        DrivingLicence::new(holder(), from, until, date(2026, 6, 15))
    }

    #[test]
    fn accepts_six_and_ten_years_with_either_end_convention() {
        let from = date(2020, 3, 1);
        for until in [
            date(2026, 3, 1),
            date(2026, 2, 28),
            date(2030, 3, 1),
            date(2030, 2, 28),
        ] {
            assert!(licence(from, Validity::Until(until)).is_ok(), "{until}");
        }
        assert!(licence(from, Validity::LongTerm).is_ok());
    }

    #[test]
    fn leap_day_start_clamps_to_end_of_february() {
        let from = date(2020, 2, 29);
        assert!(licence(from, Validity::Until(date(2026, 2, 28))).is_ok());
        assert!(licence(from, Validity::Until(date(2026, 2, 27))).is_ok());
    }

    #[test]
    fn rejects_other_periods() {
        let from = date(2020, 3, 1);
        for until in [
            date(2026, 3, 2),
            date(2026, 2, 27),
            date(2025, 3, 1),
            date(2035, 3, 1),
            date(2019, 3, 1),
        ] {
            assert_eq!(
                licence(from, Validity::Until(until)),
                Err(LicenceError::InvalidPeriod {
                    valid_from: from,
                    valid_until: until
                })
            );
        }
    }

    #[test]
    fn rejects_licences_not_yet_valid_or_before_birth() {
        let from = date(2026, 6, 16);
        assert_eq!(
            licence(from, Validity::Until(date(2032, 6, 16))),
            Err(LicenceError::NotYetValid { valid_from: from })
        );
        assert!(licence(date(2026, 6, 15), Validity::Until(date(2032, 6, 14))).is_ok());
        assert_eq!(
            licence(date(1940, 1, 1), Validity::LongTerm),
            Err(LicenceError::BeforeBirth)
        );
    }

    #[test]
    fn extreme_dates_do_not_panic() {
        let until = Validity::Until(NaiveDate::MAX);
        assert!(DrivingLicence::new(holder(), NaiveDate::MAX, until, NaiveDate::MAX).is_err());
        let lic = DrivingLicence {
            number: holder(),
            valid_from: NaiveDate::MIN,
            valid_until: Validity::Until(NaiveDate::MAX),
        };
        assert!(matches!(
            lic.renewal(NaiveDate::MIN),
            RenewalStatus::NotDue { .. }
        ));
        let lic = DrivingLicence {
            valid_until: Validity::Until(NaiveDate::MIN),
            ..lic
        };
        assert!(matches!(
            lic.renewal(NaiveDate::MAX),
            RenewalStatus::Lapsed { .. }
        ));
    }

    #[test]
    fn renewal_windows() {
        let lic = licence(date(2020, 6, 15), Validity::Until(date(2026, 6, 15))).unwrap();
        let cases = [
            (date(2026, 3, 16), RenewalStatus::NotDue { days_left: 91 }),
            (date(2026, 3, 17), RenewalStatus::Due { days_left: 90 }),
            (date(2026, 6, 15), RenewalStatus::Due { days_left: 0 }),
            (date(2026, 6, 16), RenewalStatus::Overdue { days_over: 1 }),
            (date(2027, 6, 15), RenewalStatus::Overdue { days_over: 365 }),
            (date(2027, 6, 16), RenewalStatus::Lapsed { days_over: 366 }),
        ];
        for (on, status) in cases {
            assert_eq!(lic.renewal(on), status, "{on}");
        }
        let long = licence(date(2010, 1, 1), Validity::LongTerm).unwrap();
        assert_eq!(long.renewal(date(2090, 1, 1)), RenewalStatus::LongTerm);
    }

    #[test]
    fn status_serialises_with_a_tag() {
        let json = serde_json::to_string(&RenewalStatus::Overdue { days_over: 3 }).unwrap();
        assert_eq!(json, r#"{"status":"overdue","days_over":3}"#);
        let json = serde_json::to_string(&RenewalStatus::LongTerm).unwrap();
        assert_eq!(json, r#"{"status":"long-term"}"#);
    }
}
