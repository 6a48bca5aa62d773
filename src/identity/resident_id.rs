//! Chinese resident identity numbers (GB 11643-1999): 18 characters, a GB/T 2260 region code, a
//! `YYYYMMDD` birth date, a three-digit sequence whose last digit gives the sex, and an
//! ISO 7064 MOD 11-2 check character (`0`-`9` or `X`).
//!
//! A [`ResidentId`] exists only if all of that holds. `Display` and `Debug` show the masked form
//! (`110105********002X`); only [`ResidentId::as_str`] gives the full number, for keyed hashing.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use thiserror::Error;

use super::Sex;

/// ISO 7064 MOD 11-2 weights (2^(17-i) mod 11) of the first 17 digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Check character for each remainder of the weighted sum modulo 11.
const CHECK_CHARACTERS: [u8; 11] = *b"10X98765432";

/// Province-level codes of GB/T 2260 (83: residence permits for residents of Taiwan).
const PROVINCES: [u32; 35] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83,
];

/// A verified 18-character resident identity number.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResidentId {
    /// 18 ASCII characters: 17 digits and the check character (`X` upper-cased).
    number: String,
    birth_date: NaiveDate,
}

/// Why a resident identity number was refused. Messages never repeat the number.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ResidentIdError {
    #[error("the number has {found} characters; expected {expected}")]
    Length { expected: usize, found: usize },
    #[error("character {position} is {found:?}; expected a digit (or X as the 18th character)")]
    InvalidCharacter { position: usize, found: char },
    #[error(
        "the check character is wrong: expected {expected:?}, found {found:?}; the number was \
         probably mistyped"
    )]
    CheckCharacter { expected: char, found: char },
    #[error("the number starts with {code}, which is not a province-level code of GB/T 2260")]
    UnknownProvince { code: String },
    #[error("the region code names a whole province (ends in 0000); expected a city or county")]
    InvalidRegion,
    #[error("the birth date (characters 7 to 14) is not a real calendar date")]
    InvalidBirthDate,
    #[error("the birth date must be between 1900-01-01 and {latest}")]
    BirthDateOutOfRange { latest: NaiveDate },
}

impl ResidentIdError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ResidentIdError::Length { .. } => "resident_id_length",
            ResidentIdError::InvalidCharacter { .. } => "resident_id_character",
            ResidentIdError::CheckCharacter { .. } => "resident_id_check_character",
            ResidentIdError::UnknownProvince { .. } | ResidentIdError::InvalidRegion => {
                "resident_id_region"
            }
            ResidentIdError::InvalidBirthDate | ResidentIdError::BirthDateOutOfRange { .. } => {
                "resident_id_birth_date"
            }
        }
    }
}

impl ResidentId {
    /// Parse an 18-character number (surrounding whitespace ignored, `x` accepted for `X`).
    /// `today` is the latest acceptable birth date.
    pub fn parse(s: &str, today: NaiveDate) -> Result<Self, ResidentIdError> {
        let digits: [u8; 17] = digits(s.trim(), 18)?;
        let last = s.trim().chars().nth(17).unwrap_or_default();
        let found = match last {
            '0'..='9' | 'X' => last,
            'x' => 'X',
            _ => {
                return Err(ResidentIdError::InvalidCharacter {
                    position: 18,
                    found: last,
                });
            }
        };
        Self::from_parts(digits, found, today)
    }

    /// Upgrade an old 15-digit number (`YYMMDD` birth date, always 19YY): insert `19` before the
    /// year and append the check character.
    pub fn upgrade_15(s: &str, today: NaiveDate) -> Result<Self, ResidentIdError> {
        let old: [u8; 15] = digits(s.trim(), 15)?;
        let mut digits = [0u8; 17];
        for (slot, &digit) in digits
            .iter_mut()
            .zip(old.iter().take(6).chain(b"19").chain(old.iter().skip(6)))
        {
            *slot = digit;
        }
        let check = check_character(&digits);
        Self::from_parts(digits, check, today)
    }

    fn from_parts(
        digits: [u8; 17],
        found: char,
        today: NaiveDate,
    ) -> Result<Self, ResidentIdError> {
        let expected = check_character(&digits);
        if found != expected {
            return Err(ResidentIdError::CheckCharacter { expected, found });
        }
        let province = number(&digits[0..2]);
        if !PROVINCES.contains(&province) {
            return Err(ResidentIdError::UnknownProvince {
                code: text(&digits[0..2]),
            });
        }
        if number(&digits[2..6]) == 0 {
            return Err(ResidentIdError::InvalidRegion);
        }
        let birth_date = i32::try_from(number(&digits[6..10]))
            .ok()
            .and_then(|year| {
                NaiveDate::from_ymd_opt(year, number(&digits[10..12]), number(&digits[12..14]))
            })
            .ok_or(ResidentIdError::InvalidBirthDate)?;
        if birth_date.year() < 1900 || birth_date > today {
            return Err(ResidentIdError::BirthDateOutOfRange { latest: today });
        }
        let mut number = text(&digits);
        number.push(found);
        Ok(ResidentId { number, birth_date })
    }

    /// The full number. Use it only where the full value is needed (keyed hashing); show
    /// [`masked`](Self::masked) to people and logs.
    pub fn as_str(&self) -> &str {
        &self.number
    }

    /// The six-digit GB/T 2260 region code of the place of registration.
    pub fn region_code(&self) -> &str {
        self.number.get(..6).unwrap_or_default()
    }

    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// Odd 17th digit: male; even: female.
    pub fn sex(&self) -> Sex {
        match self.number.as_bytes().get(16) {
            Some(digit) if digit.saturating_sub(b'0') % 2 == 1 => Sex::Male,
            _ => Sex::Female,
        }
    }

    /// First 6 and last 4 characters kept: `110105********002X`.
    pub fn masked(&self) -> String {
        let region = self.number.get(..6).unwrap_or_default();
        let tail = self.number.get(14..).unwrap_or_default();
        format!("{region}********{tail}")
    }
}

impl fmt::Display for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({})", self.masked())
    }
}

/// Check that `s` has `len` characters of which the first `N` are ASCII digits, and return those.
fn digits<const N: usize>(s: &str, len: usize) -> Result<[u8; N], ResidentIdError> {
    let found = s.chars().count();
    if found != len {
        return Err(ResidentIdError::Length {
            expected: len,
            found,
        });
    }
    let mut digits = [0u8; N];
    for (position, (slot, c)) in digits.iter_mut().zip(s.chars()).enumerate() {
        if !c.is_ascii_digit() {
            return Err(ResidentIdError::InvalidCharacter {
                position: position + 1,
                found: c,
            });
        }
        // An ASCII digit is one byte.
        *slot = c as u8;
    }
    Ok(digits)
}

/// ISO 7064 MOD 11-2 check character of 17 ASCII digits.
fn check_character(digits: &[u8; 17]) -> char {
    let sum: u32 = digits
        .iter()
        .zip(WEIGHTS)
        .map(|(&digit, weight)| u32::from(digit.saturating_sub(b'0')) * weight)
        .sum();
    // The remainder is below 11, the length of the table.
    char::from(CHECK_CHARACTERS[(sum % 11) as usize])
}

/// Decimal value of a run of ASCII digits (at most 4 here, so no overflow).
fn number(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0, |n, &d| n * 10 + u32::from(d.saturating_sub(b'0')))
}

fn text(digits: &[u8]) -> String {
    digits.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn today() -> NaiveDate {
        date(2026, 6, 15)
    }

    /// Independent MOD 11-2: the check value makes the weighted sum of all 18 positions
    /// (weights 2^(n-1) mod 11, X = 10) congruent to 1 modulo 11.
    fn reference_check(first17: &str) -> char {
        let mut sum = 0u32;
        for (i, c) in first17.chars().enumerate() {
            let weight = 2u32.pow(17 - i as u32) % 11;
            sum += c.to_digit(10).unwrap() * weight;
        }
        let value = (12 - sum % 11) % 11;
        if value == 10 {
            'X'
        } else {
            char::from_digit(value, 10).unwrap()
        }
    }

    #[test]
    fn weights_and_table_agree_with_the_standard() {
        for (i, weight) in WEIGHTS.iter().enumerate() {
            assert_eq!(*weight, 2u32.pow(17 - i as u32) % 11);
        }
        assert_eq!(reference_check("11010519491231002"), 'X');
    }

    #[test]
    fn parses_the_standard_example() {
        let id = ResidentId::parse("11010519491231002X", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.region_code(), "110105");
        assert_eq!(id.birth_date(), date(1949, 12, 31));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(id.to_string(), "110105********002X");
        assert_eq!(format!("{id:?}"), "ResidentId(110105********002X)");
    }

    #[test]
    fn accepts_lowercase_x_and_surrounding_whitespace() {
        let id = ResidentId::parse(" 11010519491231002x\n", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
    }

    #[test]
    fn rejects_wrong_check_character() {
        assert_eq!(
            ResidentId::parse("110105194912310021", today()),
            Err(ResidentIdError::CheckCharacter {
                expected: 'X',
                found: '1'
            })
        );
    }

    #[test]
    fn rejects_bad_shape() {
        let parse = |s: &str| ResidentId::parse(s, today());
        assert_eq!(
            parse("11010519491231002"),
            Err(ResidentIdError::Length {
                expected: 18,
                found: 17
            })
        );
        assert_eq!(
            parse("1101051949123100２X"),
            Err(ResidentIdError::InvalidCharacter {
                position: 17,
                found: '２'
            })
        );
        assert_eq!(
            parse("11010519491231002Y"),
            Err(ResidentIdError::InvalidCharacter {
                position: 18,
                found: 'Y'
            })
        );
        assert_eq!(
            parse("X10105194912310021"),
            Err(ResidentIdError::InvalidCharacter {
                position: 1,
                found: 'X'
            })
        );
    }

    fn with_check(first17: &str) -> String {
        format!("{first17}{}", reference_check(first17))
    }

    #[test]
    fn rejects_bad_region_and_dates() {
        let parse = |first17: &str| ResidentId::parse(&with_check(first17), today());
        assert_eq!(
            parse("99010519491231002"),
            Err(ResidentIdError::UnknownProvince { code: "99".into() })
        );
        assert_eq!(
            parse("10010519491231002"),
            Err(ResidentIdError::UnknownProvince { code: "10".into() })
        );
        assert_eq!(
            parse("11000019491231002"),
            Err(ResidentIdError::InvalidRegion)
        );
        assert_eq!(
            parse("11010519490230002"),
            Err(ResidentIdError::InvalidBirthDate)
        );
        assert_eq!(
            parse("11010519491301002"),
            Err(ResidentIdError::InvalidBirthDate)
        );
        assert_eq!(
            parse("11010518991231002"),
            Err(ResidentIdError::BirthDateOutOfRange { latest: today() })
        );
        assert_eq!(
            parse("11010520260616002"),
            Err(ResidentIdError::BirthDateOutOfRange { latest: today() })
        );
        assert!(parse("11010520260615002").is_ok());
        assert!(parse("11010519000101002").is_ok());
        assert!(parse("83010520000229001").is_ok());
        assert_eq!(
            parse("11010519000229001"),
            Err(ResidentIdError::InvalidBirthDate)
        );
    }

    #[test]
    fn odd_sequence_digit_is_male() {
        let id = ResidentId::parse(&with_check("11010519491231001"), today()).unwrap();
        assert_eq!(id.sex(), Sex::Male);
    }

    #[test]
    fn upgrades_fifteen_digit_numbers() {
        let id = ResidentId::upgrade_15("110105491231002", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.birth_date(), date(1949, 12, 31));
        assert_eq!(
            ResidentId::upgrade_15("11010549123100", today()),
            Err(ResidentIdError::Length {
                expected: 15,
                found: 14
            })
        );
        assert_eq!(
            ResidentId::upgrade_15("11010549123100X", today()),
            Err(ResidentIdError::InvalidCharacter {
                position: 15,
                found: 'X'
            })
        );
        assert_eq!(
            ResidentId::upgrade_15("110105491331002", today()),
            Err(ResidentIdError::InvalidBirthDate)
        );
        assert_eq!(
            ResidentId::upgrade_15("990105491231002", today()),
            Err(ResidentIdError::UnknownProvince { code: "99".into() })
        );
    }

    fn valid_id() -> impl Strategy<Value = (String, NaiveDate, u32)> {
        let first = date(1900, 1, 1).num_days_from_ce();
        let last = today().num_days_from_ce();
        (
            prop::sample::select(PROVINCES.to_vec()),
            1u32..10_000,
            first..=last,
            0u32..1000,
        )
            .prop_map(|(province, rest, day, sequence)| {
                let birth = NaiveDate::from_num_days_from_ce_opt(day).unwrap();
                let first17 = format!(
                    "{province:02}{rest:04}{}{sequence:03}",
                    birth.format("%Y%m%d")
                );
                (with_check(&first17), birth, sequence)
            })
    }

    proptest! {
        // Long inputs are slow to generate; a few dozen cases cover the length paths.
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn parse_never_panics_on_long_text(
            long in prop::collection::vec(any::<char>(), 0..20_000),
        ) {
            let long: String = long.into_iter().collect();
            let _ = ResidentId::parse(&long, today());
            let _ = ResidentId::upgrade_15(&long, today());
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in any::<String>(), days in any::<i32>()) {
            let today = NaiveDate::from_num_days_from_ce_opt(days).unwrap_or(NaiveDate::MAX);
            let _ = ResidentId::parse(&s, today);
            let _ = ResidentId::upgrade_15(&s, today);
        }

        #[test]
        fn parse_never_panics_on_id_shaped_text(
            s in "[0-9Xx]{14,19}|[0-9]{15}",
            days in any::<i32>(),
        ) {
            let today = NaiveDate::from_num_days_from_ce_opt(days).unwrap_or(NaiveDate::MIN);
            let _ = ResidentId::parse(&s, today);
            let _ = ResidentId::upgrade_15(&s, today);
        }

        #[test]
        fn valid_ids_round_trip((number, birth, sequence) in valid_id()) {
            let id = ResidentId::parse(&number, today()).unwrap();
            prop_assert_eq!(id.as_str(), number.as_str());
            prop_assert_eq!(id.birth_date(), birth);
            prop_assert_eq!(id.region_code(), &number[..6]);
            let sex = if sequence % 2 == 1 { Sex::Male } else { Sex::Female };
            prop_assert_eq!(id.sex(), sex);
            prop_assert_eq!(id.masked(), format!("{}********{}", &number[..6], &number[14..]));
        }

        #[test]
        fn every_single_character_change_is_caught(
            (number, _, _) in valid_id(),
            position in 0usize..18,
            delta in 1usize..11,
        ) {
            // Replace the character by another one of the alphabet of its position: a digit,
            // or for the check character a digit or X.
            let alphabet: &[u8] = if position == 17 { b"0123456789X" } else { b"0123456789" };
            let mut bytes = number.clone().into_bytes();
            let old = alphabet.iter().position(|&b| b == bytes[position]).unwrap();
            let new = alphabet[(old + 1 + delta % (alphabet.len() - 1)) % alphabet.len()];
            prop_assert_ne!(new, bytes[position]);
            bytes[position] = new;
            let changed = String::from_utf8(bytes).unwrap();
            // MOD 11-2 catches every single substitution, so the check fails first.
            prop_assert!(
                matches!(
                    ResidentId::parse(&changed, today()),
                    Err(ResidentIdError::CheckCharacter { .. })
                ),
                "{} was accepted",
                changed
            );
        }
    }
}
