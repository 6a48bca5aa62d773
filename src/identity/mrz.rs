//! ICAO 9303 machine-readable zones: TD3 (passports, 2 lines of 44) and TD1 (ID cards, 3 lines
//! of 30).
//!
//! [`parse`] turns scanned or typed MRZ text into an [`Mrz`] whose every check digit has been
//! verified and whose dates are real calendar dates. It never panics: the text is checked to be
//! `A-Z0-9<` and of the exact layout before any fixed-position field is read.
//!
//! Decisions beyond the letter of ICAO 9303:
//! - Only the passport variant of TD3 is read: the document code must start with `P` (visas use
//!   another line-2 layout). TD1 document codes must start with `A`, `C` or `I`.
//! - Dates must be complete; zones with unknown date parts (`<` fillers) are refused, since an
//!   identity check needs a real birth and expiry date.
//! - Sex `X` (ICAO 9303, 8th edition) is read as [`Sex::Unspecified`], like `<`.
//! - A TD1 long document number must be more than 9 characters (at least one character plus the
//!   check digit in the optional data), as Part 5 prescribes; the overflow ends at the first `<`.
//! - Document numbers and country codes may only be padded with `<` at the end.
//! - For TD1 the two optional data fields are joined with a single space when both are present.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::Sex;

/// The two MRZ layouts the hub reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MrzFormat {
    /// ID cards: 3 lines of 30 characters.
    Td1,
    /// Passports: 2 lines of 44 characters.
    Td3,
}

impl MrzFormat {
    /// Number of lines in a zone of this format.
    pub fn lines(self) -> usize {
        match self {
            MrzFormat::Td1 => 3,
            MrzFormat::Td3 => 2,
        }
    }

    /// Characters per line.
    pub fn line_length(self) -> usize {
        match self {
            MrzFormat::Td1 => TD1_LEN,
            MrzFormat::Td3 => TD3_LEN,
        }
    }
}

impl fmt::Display for MrzFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MrzFormat::Td1 => "TD1 (ID card)",
            MrzFormat::Td3 => "TD3 (passport)",
        })
    }
}

/// A machine-readable zone whose layout, characters, check digits and dates have been verified.
///
/// Text fields have their `<` fillers removed. `Debug` masks the personal fields.
#[derive(Clone, PartialEq, Eq)]
pub struct Mrz {
    pub format: MrzFormat,
    /// `P`, `PO`, `I`, `ID`, `AC`… (trailing filler removed).
    pub document_code: String,
    /// Three-letter code of the issuing state or organisation (`D` for Germany).
    pub issuing_state: String,
    /// For TD1 long numbers, the full number including the part kept in the optional data.
    pub document_number: String,
    pub nationality: String,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub expiry_date: NaiveDate,
    pub surname: String,
    /// Given names separated by single spaces; empty when the document has none.
    pub given_names: String,
    /// TD3: the personal number. TD1: optional data of lines 1 and 2, space-separated.
    pub optional_data: String,
}

impl fmt::Debug for Mrz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mrz")
            .field("format", &self.format)
            .field("document_code", &self.document_code)
            .field("issuing_state", &self.issuing_state)
            .field(
                "document_number",
                &super::mask_mrz_number(&self.document_number),
            )
            .field("nationality", &self.nationality)
            .field("birth_date", &"***")
            .field("sex", &self.sex)
            .field("expiry_date", &self.expiry_date)
            .field("surname", &"***")
            .field("given_names", &"***")
            .field("optional_data", &"***")
            .finish()
    }
}

/// Why a machine-readable zone was refused. Messages name the field and what was expected, and
/// never repeat personal data.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MrzError {
    #[error(
        "the zone has {found} non-empty line(s); expected 2 lines (passport) or 3 lines (ID card)"
    )]
    LineCount { found: usize },
    #[error("line {line} has {found} characters; a {format} zone has {expected} per line")]
    LineLength {
        line: usize,
        format: MrzFormat,
        expected: usize,
        found: usize,
    },
    #[error("line {line}, position {position} holds {found:?}; only A-Z, 0-9 and '<' may appear")]
    InvalidCharacter {
        line: usize,
        position: usize,
        found: char,
    },
    #[error("the {field} check digit is wrong: expected {expected:?}, found {found:?}")]
    CheckDigit {
        field: &'static str,
        expected: char,
        found: char,
    },
    #[error("the {field} is not valid: expected {expected}")]
    InvalidField {
        field: &'static str,
        expected: &'static str,
    },
    #[error("the {field} is not a real calendar date (expected YYMMDD)")]
    InvalidDate { field: &'static str },
}

impl MrzError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            MrzError::LineCount { .. } | MrzError::LineLength { .. } => "mrz_layout",
            MrzError::InvalidCharacter { .. } => "mrz_character",
            MrzError::CheckDigit { .. } => "mrz_check_digit",
            MrzError::InvalidField { .. } => "mrz_field",
            MrzError::InvalidDate { .. } => "mrz_date",
        }
    }
}

const TD1_LEN: usize = 30;
const TD3_LEN: usize = 44;

const DOCUMENT_NUMBER: &str = "document number";
const BIRTH_DATE: &str = "birth date";
const EXPIRY_DATE: &str = "expiry date";
const PERSONAL_NUMBER: &str = "personal number";
const COMPOSITE: &str = "composite";

/// Parse and verify a TD3 or TD1 zone. `today` (the session date in the office zone) fixes the
/// century of the two-digit years.
///
/// Lines may be separated by `\n` or `\r\n`; each is trimmed, empty lines are ignored and
/// letters are upper-cased. Two lines make a TD3 zone, three a TD1 zone.
pub fn parse(text: &str, today: NaiveDate) -> Result<Mrz, MrzError> {
    let lines = || text.lines().map(str::trim).filter(|line| !line.is_empty());
    let format = match lines().count() {
        2 => MrzFormat::Td3,
        3 => MrzFormat::Td1,
        found => return Err(MrzError::LineCount { found }),
    };
    let mut numbered = lines().enumerate().map(|(index, line)| (index + 1, line));
    match format {
        MrzFormat::Td3 => {
            let l1 = next_line(&mut numbered, format)?;
            let l2 = next_line(&mut numbered, format)?;
            parse_td3(&l1, &l2, today)
        }
        MrzFormat::Td1 => {
            let l1 = next_line(&mut numbered, format)?;
            let l2 = next_line(&mut numbered, format)?;
            let l3 = next_line(&mut numbered, format)?;
            parse_td1(&l1, &l2, &l3, today)
        }
    }
}

/// Take the next (already counted) line, upper-case it, allow only `A-Z0-9<`, and check its
/// length into a fixed-size array, so that every field is then read at constant, in-bounds
/// positions.
fn next_line<'a, const N: usize>(
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
    format: MrzFormat,
) -> Result<[u8; N], MrzError> {
    let (number, line) = lines.next().ok_or(MrzError::LineCount {
        found: format.lines().saturating_sub(1),
    })?;
    let mut bytes = [b'<'; N];
    let mut length = 0;
    for (index, c) in line.chars().enumerate() {
        let c = c.to_ascii_uppercase();
        if !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '<') {
            return Err(MrzError::InvalidCharacter {
                line: number,
                position: index + 1,
                found: c,
            });
        }
        if let Some(slot) = bytes.get_mut(index) {
            // ASCII was just checked, so the character is one byte.
            *slot = c as u8;
        }
        length = index + 1;
    }
    if length != N {
        return Err(MrzError::LineLength {
            line: number,
            format,
            expected: N,
            found: length,
        });
    }
    Ok(bytes)
}

fn parse_td3(l1: &[u8; TD3_LEN], l2: &[u8; TD3_LEN], today: NaiveDate) -> Result<Mrz, MrzError> {
    let document_code = document_code(&l1[0..2], b"P", "'P' and a letter or '<' (a passport)")?;

    verify(DOCUMENT_NUMBER, &l2[0..9], l2[9])?;
    verify(BIRTH_DATE, &l2[13..19], l2[19])?;
    verify(EXPIRY_DATE, &l2[21..27], l2[27])?;
    let personal = &l2[28..42];
    if !(personal.iter().all(|&b| b == b'<') && l2[42] == b'<') {
        verify(PERSONAL_NUMBER, personal, l2[42])?;
    }
    let composite: Vec<u8> = [&l2[0..10], &l2[13..20], &l2[21..43]].concat();
    verify(COMPOSITE, &composite, l2[43])?;

    let (surname, given_names) = names(&l1[5..44])?;
    Ok(Mrz {
        format: MrzFormat::Td3,
        document_code,
        issuing_state: country(&l1[2..5], "issuing state")?,
        document_number: document_number(&l2[0..9])?,
        nationality: country(&l2[10..13], "nationality")?,
        birth_date: birth_date(&l2[13..19], today)?,
        sex: sex(l2[20])?,
        expiry_date: expiry_date(&l2[21..27], today)?,
        surname,
        given_names,
        optional_data: text(trim_fillers(personal)),
    })
}

fn parse_td1(
    l1: &[u8; TD1_LEN],
    l2: &[u8; TD1_LEN],
    l3: &[u8; TD1_LEN],
    today: NaiveDate,
) -> Result<Mrz, MrzError> {
    let document_code = document_code(
        &l1[0..2],
        b"ACI",
        "'A', 'C' or 'I' and a letter or '<' (an ID card)",
    )?;

    let principal = &l1[5..14];
    let optional_1 = &l1[15..30];
    let (number, optional_1) = if l1[14] == b'<' {
        // ICAO 9303-5 note j: the number goes on in the optional data, ends with its check
        // digit, and is closed by a filler.
        let end = optional_1
            .iter()
            .position(|&b| b == b'<')
            .unwrap_or(optional_1.len());
        let (overflow, rest) = optional_1
            .split_at_checked(end)
            .unwrap_or((optional_1, &[]));
        match overflow.split_last() {
            Some((&check, tail)) if !tail.is_empty() => {
                let number = [principal, tail].concat();
                verify(DOCUMENT_NUMBER, &number, check)?;
                (number, rest)
            }
            Some(_) => {
                return Err(MrzError::InvalidField {
                    field: DOCUMENT_NUMBER,
                    expected: "a check digit in position 15, or for a number longer than 9 \
                               characters a filler there and the rest of the number with its \
                               check digit in the optional data",
                });
            }
            None => {
                return Err(MrzError::CheckDigit {
                    field: DOCUMENT_NUMBER,
                    expected: char::from(check_digit(principal)),
                    found: '<',
                });
            }
        }
    } else {
        verify(DOCUMENT_NUMBER, principal, l1[14])?;
        (principal.to_vec(), optional_1)
    };
    verify(BIRTH_DATE, &l2[0..6], l2[6])?;
    verify(EXPIRY_DATE, &l2[8..14], l2[14])?;
    let composite: Vec<u8> = [&l1[5..30], &l2[0..7], &l2[8..15], &l2[18..29]].concat();
    verify(COMPOSITE, &composite, l2[29])?;

    let optional_data = [trim_fillers(optional_1), trim_fillers(&l2[18..29])]
        .into_iter()
        .filter(|part| !part.is_empty())
        .map(text)
        .collect::<Vec<_>>()
        .join(" ");
    let (surname, given_names) = names(l3)?;
    Ok(Mrz {
        format: MrzFormat::Td1,
        document_code,
        issuing_state: country(&l1[2..5], "issuing state")?,
        document_number: document_number(&number)?,
        nationality: country(&l2[15..18], "nationality")?,
        birth_date: birth_date(&l2[0..6], today)?,
        sex: sex(l2[7])?,
        expiry_date: expiry_date(&l2[8..14], today)?,
        surname,
        given_names,
        optional_data,
    })
}

/// Value of one MRZ character for check digits: digits as themselves, `A`=10 … `Z`=35, and `<`
/// (or anything else, which validated input never holds) as 0.
fn char_value(b: u8) -> u32 {
    match b {
        b'0'..=b'9' => u32::from(b - b'0'),
        b'A'..=b'Z' => u32::from(b - b'A') + 10,
        _ => 0,
    }
}

/// ICAO 9303-3 check digit (weights 7, 3, 1 repeating), as an ASCII digit.
pub fn check_digit(data: &[u8]) -> u8 {
    let sum = data
        .iter()
        .zip([7u32, 3, 1].into_iter().cycle())
        .fold(0u32, |sum, (&b, weight)| {
            (sum + char_value(b) * weight) % 10
        });
    // `sum` is below 10 after `% 10`, so this stays within '0'..='9'.
    b'0' + (sum % 10) as u8
}

fn verify(field: &'static str, data: &[u8], found: u8) -> Result<(), MrzError> {
    let expected = check_digit(data);
    if found == expected {
        Ok(())
    } else {
        Err(MrzError::CheckDigit {
            field,
            expected: char::from(expected),
            found: char::from(found),
        })
    }
}

fn document_code(code: &[u8], first: &[u8], expected: &'static str) -> Result<String, MrzError> {
    match code {
        [a, b] if first.contains(a) && (b.is_ascii_uppercase() || *b == b'<') => {
            Ok(text(trim_fillers(code)))
        }
        _ => Err(MrzError::InvalidField {
            field: "document code",
            expected,
        }),
    }
}

fn country(code: &[u8], field: &'static str) -> Result<String, MrzError> {
    let trimmed = trim_trailing_fillers(code);
    if trimmed.is_empty() || !trimmed.iter().all(u8::is_ascii_uppercase) {
        return Err(MrzError::InvalidField {
            field,
            expected: "a three-letter country code, padded with '<' at the end",
        });
    }
    Ok(text(trimmed))
}

fn document_number(number: &[u8]) -> Result<String, MrzError> {
    let trimmed = trim_trailing_fillers(number);
    if trimmed.is_empty() || trimmed.contains(&b'<') {
        return Err(MrzError::InvalidField {
            field: DOCUMENT_NUMBER,
            expected: "letters and digits, padded with '<' only at the end",
        });
    }
    Ok(text(trimmed))
}

fn sex(b: u8) -> Result<Sex, MrzError> {
    match b {
        b'M' => Ok(Sex::Male),
        b'F' => Ok(Sex::Female),
        b'<' | b'X' => Ok(Sex::Unspecified),
        _ => Err(MrzError::InvalidField {
            field: "sex",
            expected: "'M', 'F', 'X' or '<'",
        }),
    }
}

/// Split the name field at the first `<<` into surname and given names; single `<` become
/// spaces.
fn names(field: &[u8]) -> Result<(String, String), MrzError> {
    if !field.iter().all(|&b| b.is_ascii_uppercase() || b == b'<') {
        return Err(MrzError::InvalidField {
            field: "name",
            expected: "letters A-Z, with '<<' between surname and given names",
        });
    }
    let field = text(field);
    let (surname, given) = field.split_once("<<").unwrap_or((&field, ""));
    let words = |part: &str| {
        part.split('<')
            .filter(|word| !word.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (surname, given) = (words(surname), words(given));
    if surname.is_empty() && given.is_empty() {
        return Err(MrzError::InvalidField {
            field: "name",
            expected: "at least one name",
        });
    }
    Ok((surname, given))
}

/// Read `YYMMDD` as (year within the century, month, day).
fn yymmdd(field: &[u8], name: &'static str) -> Result<(i32, u32, u32), MrzError> {
    let invalid = MrzError::InvalidDate { field: name };
    let digit = |i: usize| match field.get(i) {
        Some(b) if b.is_ascii_digit() => Ok(u32::from(b - b'0')),
        _ => Err(invalid.clone()),
    };
    let pair = |i: usize| Ok::<u32, MrzError>(digit(i)? * 10 + digit(i + 1)?);
    let (yy, mm, dd) = (pair(0)?, pair(2)?, pair(4)?);
    // `yy` is at most 99.
    Ok((i32::try_from(yy).map_err(|_| invalid.clone())?, mm, dd))
}

fn century_of(date: NaiveDate) -> i32 {
    date.year() - date.year().rem_euclid(100)
}

/// The birth year is the latest one whose date is not after `today`.
fn birth_date(field: &[u8], today: NaiveDate) -> Result<NaiveDate, MrzError> {
    let (yy, month, day) = yymmdd(field, BIRTH_DATE)?;
    let mut year = century_of(today) + yy;
    if (year, month, day) > (today.year(), today.month(), today.day()) {
        year -= 100;
    }
    NaiveDate::from_ymd_opt(year, month, day).ok_or(MrzError::InvalidDate { field: BIRTH_DATE })
}

/// The expiry year is in today's century unless that is more than 50 years after `today`, in
/// which case it is in the century before (so `77` read in 2026 is 1977).
fn expiry_date(field: &[u8], today: NaiveDate) -> Result<NaiveDate, MrzError> {
    let (yy, month, day) = yymmdd(field, EXPIRY_DATE)?;
    let mut year = century_of(today) + yy;
    if (year, month, day) > (today.year() + 50, today.month(), today.day()) {
        year -= 100;
    }
    NaiveDate::from_ymd_opt(year, month, day).ok_or(MrzError::InvalidDate { field: EXPIRY_DATE })
}

fn trim_trailing_fillers(field: &[u8]) -> &[u8] {
    let end = field.iter().rposition(|&b| b != b'<').map_or(0, |i| i + 1);
    field.get(..end).unwrap_or_default()
}

fn trim_fillers(field: &[u8]) -> &[u8] {
    let trailing = trim_trailing_fillers(field);
    let start = trailing
        .iter()
        .position(|&b| b != b'<')
        .unwrap_or(trailing.len());
    trailing.get(start..).unwrap_or_default()
}

/// The bytes of a validated line are ASCII, so each byte is one character.
fn text(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TD3_1: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<";
    const TD3_2: &str = "L898902C36UTO7408122F1204159ZE184226B<<<<<10";
    const TD1_1: &str = "I<UTOD231458907<<<<<<<<<<<<<<<";
    const TD1_2: &str = "7408122F1204159UTO<<<<<<<<<<<6";
    const TD1_3: &str = "ERIKSSON<<ANNA<MARIA<<<<<<<<<<";

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn today() -> NaiveDate {
        date(2026, 6, 15)
    }

    /// An independent check digit, written out the long way.
    fn reference_check(data: &str) -> char {
        let weights = [7, 3, 1];
        let mut sum = 0u32;
        for (i, c) in data.chars().enumerate() {
            let value = match c {
                '<' => 0,
                '0'..='9' => c.to_digit(10).unwrap(),
                'A'..='Z' => c as u32 - 'A' as u32 + 10,
                _ => panic!("bad MRZ character {c:?}"),
            };
            sum += value * weights[i % 3];
        }
        char::from_digit(sum % 10, 10).unwrap()
    }

    fn set(line: &str, position: usize, c: char) -> String {
        let mut chars: Vec<char> = line.chars().collect();
        chars[position - 1] = c;
        chars.into_iter().collect()
    }

    /// Recompute every check digit of TD3 line 2 (1-based positions 10, 20, 28, 43, 44).
    fn fix_td3(l2: &str) -> String {
        let mut l2 = set(l2, 10, reference_check(&l2[0..9]));
        l2 = set(&l2, 20, reference_check(&l2[13..19]));
        l2 = set(&l2, 28, reference_check(&l2[21..27]));
        l2 = set(&l2, 43, reference_check(&l2[28..42]));
        let composite = format!("{}{}{}", &l2[0..10], &l2[13..20], &l2[21..43]);
        set(&l2, 44, reference_check(&composite))
    }

    fn td3(l1: &str, l2: &str) -> Result<Mrz, MrzError> {
        parse(&format!("{l1}\n{l2}"), today())
    }

    fn td1(l1: &str, l2: &str, l3: &str) -> Result<Mrz, MrzError> {
        parse(&format!("{l1}\n{l2}\n{l3}"), today())
    }

    fn check_digit_error(field: &'static str, expected: char, found: char) -> MrzError {
        MrzError::CheckDigit {
            field,
            expected,
            found,
        }
    }

    #[test]
    fn check_digit_matches_icao_examples() {
        assert_eq!(check_digit(b"L898902C3"), b'6');
        assert_eq!(check_digit(b"740812"), b'2');
        assert_eq!(check_digit(b"120415"), b'9');
        assert_eq!(check_digit(b"ZE184226B<<<<<"), b'1');
        assert_eq!(check_digit(b"<<<<<<<<<<<<<<"), b'0');
        assert_eq!(check_digit(b"D23145890734"), b'9');
    }

    #[test]
    fn parses_td3_specimen() {
        let mrz = td3(TD3_1, TD3_2).unwrap();
        assert_eq!(
            mrz,
            Mrz {
                format: MrzFormat::Td3,
                document_code: "P".into(),
                issuing_state: "UTO".into(),
                document_number: "L898902C3".into(),
                nationality: "UTO".into(),
                birth_date: date(1974, 8, 12),
                sex: Sex::Female,
                expiry_date: date(2012, 4, 15),
                surname: "ERIKSSON".into(),
                given_names: "ANNA MARIA".into(),
                optional_data: "ZE184226B".into(),
            }
        );
    }

    #[test]
    fn parses_td1_specimen() {
        let mrz = td1(TD1_1, TD1_2, TD1_3).unwrap();
        assert_eq!(
            mrz,
            Mrz {
                format: MrzFormat::Td1,
                document_code: "I".into(),
                issuing_state: "UTO".into(),
                document_number: "D23145890".into(),
                nationality: "UTO".into(),
                birth_date: date(1974, 8, 12),
                sex: Sex::Female,
                expiry_date: date(2012, 4, 15),
                surname: "ERIKSSON".into(),
                given_names: "ANNA MARIA".into(),
                optional_data: String::new(),
            }
        );
    }

    #[test]
    fn parses_td1_long_document_number() {
        // ICAO 9303-5 specimen with a 12-character document number.
        let mrz = td1(
            "I<UTOD23145890<7349<<<<<<<<<<<",
            "3407127M9507122UTO<<<<<<<<<<<2",
            "STEVENSON<<PETER<JOHN<<<<<<<<<",
        )
        .unwrap();
        assert_eq!(mrz.document_number, "D23145890734");
        assert_eq!(mrz.optional_data, "");
        assert_eq!(mrz.birth_date, date(1934, 7, 12));
        assert_eq!(mrz.expiry_date, date(1995, 7, 12));
        assert_eq!(mrz.sex, Sex::Male);
        assert_eq!(
            (mrz.surname.as_str(), mrz.given_names.as_str()),
            ("STEVENSON", "PETER JOHN")
        );
    }

    #[test]
    fn long_document_number_errors() {
        let l2 = "3407127M9507122UTO<<<<<<<<<<<2";
        let l3 = "STEVENSON<<PETER<JOHN<<<<<<<<<";
        // Wrong check digit for the full number.
        assert_eq!(
            td1("I<UTOD23145890<7348<<<<<<<<<<<", l2, l3),
            Err(check_digit_error(DOCUMENT_NUMBER, '9', '8'))
        );
        // Filler in the check digit position with nothing after it.
        assert_eq!(
            td1("I<UTOD23145890<<<<<<<<<<<<<<<<", l2, l3),
            Err(check_digit_error(DOCUMENT_NUMBER, '7', '<'))
        );
        // Only a check digit in the optional data: not a long number.
        assert!(matches!(
            td1("I<UTOD23145890<7<<<<<<<<<<<<<<", l2, l3),
            Err(MrzError::InvalidField {
                field: DOCUMENT_NUMBER,
                ..
            })
        ));
    }

    #[test]
    fn accepts_crlf_whitespace_blank_lines_and_lowercase() {
        let text = format!("\r\n  {}  \r\n\r\n\t{}\r\n", TD3_1.to_lowercase(), TD3_2);
        assert_eq!(parse(&text, today()), td3(TD3_1, TD3_2));
    }

    #[test]
    fn layout_errors() {
        assert_eq!(parse("", today()), Err(MrzError::LineCount { found: 0 }));
        assert_eq!(parse(TD3_1, today()), Err(MrzError::LineCount { found: 1 }));
        assert_eq!(
            parse(&format!("{TD1_1}\n{TD1_2}\n{TD1_3}\n{TD1_3}"), today()),
            Err(MrzError::LineCount { found: 4 })
        );
        assert_eq!(
            td3(TD3_1, &TD3_2[..43]),
            Err(MrzError::LineLength {
                line: 2,
                format: MrzFormat::Td3,
                expected: 44,
                found: 43
            })
        );
        assert_eq!(
            td1(TD1_1, TD1_2, &format!("{TD1_3}<")),
            Err(MrzError::LineLength {
                line: 3,
                format: MrzFormat::Td1,
                expected: 30,
                found: 31
            })
        );
        assert_eq!(
            td3(TD3_1, &set(TD3_2, 5, 'é')),
            Err(MrzError::InvalidCharacter {
                line: 2,
                position: 5,
                found: 'é'
            })
        );
        assert_eq!(
            td3(&set(TD3_1, 9, ' '), TD3_2),
            Err(MrzError::InvalidCharacter {
                line: 1,
                position: 9,
                found: ' '
            })
        );
    }

    /// The check digit error a corrupted TD3 line 2 must give: computed from the corrupted data.
    fn td3_expected(l2: &str, field: &'static str) -> MrzError {
        let (data, check) = match field {
            DOCUMENT_NUMBER => (l2[0..9].to_string(), 10),
            BIRTH_DATE => (l2[13..19].to_string(), 20),
            EXPIRY_DATE => (l2[21..27].to_string(), 28),
            PERSONAL_NUMBER => (l2[28..42].to_string(), 43),
            _ => (format!("{}{}{}", &l2[0..10], &l2[13..20], &l2[21..43]), 44),
        };
        let found = l2.chars().nth(check - 1).unwrap();
        let expected = reference_check(&data);
        assert_ne!(expected, found, "corruption of {field} not detectable");
        check_digit_error(field, expected, found)
    }

    #[test]
    fn td3_single_character_corruptions() {
        // The example from the brief: the document number check digit 6 read as 7.
        assert_eq!(
            td3(TD3_1, &set(TD3_2, 10, '7')),
            Err(check_digit_error(DOCUMENT_NUMBER, '6', '7'))
        );
        let cases = [
            (1, '2', DOCUMENT_NUMBER),
            (5, 'B', DOCUMENT_NUMBER),
            (9, '4', DOCUMENT_NUMBER),
            (10, '7', DOCUMENT_NUMBER),
            (15, '5', BIRTH_DATE),
            (20, '3', BIRTH_DATE),
            (27, '6', EXPIRY_DATE),
            (28, '0', EXPIRY_DATE),
            (35, '7', PERSONAL_NUMBER),
            (37, '<', PERSONAL_NUMBER),
            (43, '<', PERSONAL_NUMBER),
            (44, '1', COMPOSITE),
        ];
        for (position, c, field) in cases {
            let l2 = set(TD3_2, position, c);
            assert_eq!(
                td3(TD3_1, &l2),
                Err(td3_expected(&l2, field)),
                "position {position}"
            );
        }
        // Fields outside every check digit are validated by form.
        assert_eq!(
            td3(TD3_1, &set(TD3_2, 12, '0')),
            Err(MrzError::InvalidField {
                field: "nationality",
                expected: "a three-letter country code, padded with '<' at the end",
            })
        );
        assert_eq!(
            td3(TD3_1, &set(TD3_2, 21, 'Q')),
            Err(MrzError::InvalidField {
                field: "sex",
                expected: "'M', 'F', 'X' or '<'",
            })
        );
        assert!(matches!(
            td3(&set(TD3_1, 1, 'V'), TD3_2),
            Err(MrzError::InvalidField {
                field: "document code",
                ..
            })
        ));
        assert!(matches!(
            td3(&set(TD3_1, 4, '7'), TD3_2),
            Err(MrzError::InvalidField {
                field: "issuing state",
                ..
            })
        ));
        assert!(matches!(
            td3(&set(TD3_1, 8, '1'), TD3_2),
            Err(MrzError::InvalidField { field: "name", .. })
        ));
    }

    #[test]
    fn td1_single_character_corruptions() {
        let composite = |l1: &str, l2: &str| {
            reference_check(&format!(
                "{}{}{}{}",
                &l1[5..30],
                &l2[0..7],
                &l2[8..15],
                &l2[18..29]
            ))
        };
        let l1 = |position, c| set(TD1_1, position, c);
        let l2 = |position, c| set(TD1_2, position, c);
        let bad_number = l1(6, 'E');
        assert_eq!(
            td1(&bad_number, TD1_2, TD1_3),
            Err(check_digit_error(
                DOCUMENT_NUMBER,
                reference_check(&bad_number[5..14]),
                '7'
            ))
        );
        assert_eq!(
            td1(&l1(15, '8'), TD1_2, TD1_3),
            Err(check_digit_error(DOCUMENT_NUMBER, '7', '8'))
        );
        let bad_birth = l2(1, '8');
        assert_eq!(
            td1(TD1_1, &bad_birth, TD1_3),
            Err(check_digit_error(
                BIRTH_DATE,
                reference_check(&bad_birth[0..6]),
                '2'
            ))
        );
        assert_eq!(
            td1(TD1_1, &l2(7, '3'), TD1_3),
            Err(check_digit_error(BIRTH_DATE, '2', '3'))
        );
        let bad_expiry = l2(9, '2');
        assert_eq!(
            td1(TD1_1, &bad_expiry, TD1_3),
            Err(check_digit_error(
                EXPIRY_DATE,
                reference_check(&bad_expiry[8..14]),
                '9'
            ))
        );
        assert_eq!(
            td1(TD1_1, &l2(15, '1'), TD1_3),
            Err(check_digit_error(EXPIRY_DATE, '9', '1'))
        );
        // Optional data is covered by the composite only.
        // ('<' to 'A' at weight 1 would go unnoticed: 10 ≡ 0 mod 10, a known blind spot.)
        let bad_optional_1 = l1(20, 'B');
        assert_eq!(
            td1(&bad_optional_1, TD1_2, TD1_3),
            Err(check_digit_error(
                COMPOSITE,
                composite(&bad_optional_1, TD1_2),
                '6'
            ))
        );
        let bad_optional_2 = l2(25, '9');
        assert_eq!(
            td1(TD1_1, &bad_optional_2, TD1_3),
            Err(check_digit_error(
                COMPOSITE,
                composite(TD1_1, &bad_optional_2),
                '6'
            ))
        );
        assert_eq!(
            td1(TD1_1, &l2(30, '5'), TD1_3),
            Err(check_digit_error(COMPOSITE, '6', '5'))
        );
        assert!(matches!(
            td1(TD1_1, &l2(8, 'Z'), TD1_3),
            Err(MrzError::InvalidField { field: "sex", .. })
        ));
        assert!(matches!(
            td1(TD1_1, &l2(16, '<'), TD1_3),
            Err(MrzError::InvalidField {
                field: "nationality",
                ..
            })
        ));
        assert!(matches!(
            td1(&l1(1, 'P'), TD1_2, TD1_3),
            Err(MrzError::InvalidField {
                field: "document code",
                ..
            })
        ));
        assert!(matches!(
            td1(TD1_1, TD1_2, &set(TD1_3, 3, '5')),
            Err(MrzError::InvalidField { field: "name", .. })
        ));
    }

    #[test]
    fn dates_must_be_real() {
        // Check digits recomputed so that only the date itself is wrong.
        let bad_month = fix_td3(&TD3_2.replace("740812", "741312"));
        assert_eq!(
            td3(TD3_1, &bad_month),
            Err(MrzError::InvalidDate { field: BIRTH_DATE })
        );
        let bad_day = fix_td3(&TD3_2.replace("120415", "270229"));
        assert_eq!(
            td3(TD3_1, &bad_day),
            Err(MrzError::InvalidDate { field: EXPIRY_DATE })
        );
        let unknown = fix_td3(&TD3_2.replace("740812", "74<<<<"));
        assert_eq!(
            td3(TD3_1, &unknown),
            Err(MrzError::InvalidDate { field: BIRTH_DATE })
        );
        let leap = fix_td3(&TD3_2.replace("120415", "280229"));
        assert_eq!(td3(TD3_1, &leap).unwrap().expiry_date, date(2028, 2, 29));
    }

    #[test]
    fn birth_century_is_latest_not_after_today() {
        let day = |yymmdd: &str| birth_date(yymmdd.as_bytes(), today());
        assert_eq!(day("260615"), Ok(date(2026, 6, 15)));
        assert_eq!(day("260616"), Ok(date(1926, 6, 16)));
        assert_eq!(day("000101"), Ok(date(2000, 1, 1)));
        assert_eq!(day("991231"), Ok(date(1999, 12, 31)));
        // 2000 was a leap year, 1900 was not.
        assert_eq!(day("000229"), Ok(date(2000, 2, 29)));
        assert_eq!(
            birth_date(b"000229", date(1999, 1, 1)),
            Err(MrzError::InvalidDate { field: BIRTH_DATE })
        );
    }

    #[test]
    fn expiry_century_allows_fifty_years_ahead() {
        let day = |yymmdd: &str| expiry_date(yymmdd.as_bytes(), today());
        assert_eq!(day("120415"), Ok(date(2012, 4, 15)));
        assert_eq!(day("760615"), Ok(date(2076, 6, 15)));
        assert_eq!(day("760616"), Ok(date(1976, 6, 16)));
        assert_eq!(day("990101"), Ok(date(1999, 1, 1)));
        assert_eq!(day("000101"), Ok(date(2000, 1, 1)));
    }

    #[test]
    fn empty_personal_number_may_use_filler_or_zero_check() {
        let blank = "L898902C36UTO7408122F1204159<<<<<<<<<<<<<<<<";
        let with_filler = fix_td3(blank);
        let mrz = td3(TD3_1, &with_filler).unwrap();
        assert_eq!(mrz.optional_data, "");
        // `fix_td3` writes '0' for the personal number; a filler must also pass.
        let filler = set(&with_filler, 43, '<');
        let composite = format!("{}{}{}", &filler[0..10], &filler[13..20], &filler[21..43]);
        let filler = set(&filler, 44, reference_check(&composite));
        assert_eq!(td3(TD3_1, &filler).unwrap().optional_data, "");
    }

    #[test]
    fn sex_x_and_filler_are_unspecified() {
        for c in ['X', '<'] {
            let l2 = fix_td3(&set(TD3_2, 21, c));
            assert_eq!(td3(TD3_1, &l2).unwrap().sex, Sex::Unspecified);
        }
    }

    #[test]
    fn names_split_and_pad() {
        assert_eq!(
            names(b"SMITH<<<<<").unwrap(),
            ("SMITH".into(), String::new())
        );
        assert_eq!(
            names(b"<<ANNA<<<<").unwrap(),
            (String::new(), "ANNA".into())
        );
        assert_eq!(
            names(b"VAN<DER<BERG<<JAN<<<").unwrap(),
            ("VAN DER BERG".into(), "JAN".into())
        );
        assert!(names(b"<<<<<<<<<<").is_err());
    }

    #[test]
    fn debug_masks_personal_fields() {
        let shown = format!("{:?}", td3(TD3_1, TD3_2).unwrap());
        for secret in ["L898902C3", "ERIKSSON", "ANNA", "1974", "ZE184226B"] {
            assert!(!shown.contains(secret), "{secret} leaked in {shown}");
        }
        assert!(shown.contains("L8*****C3"));
    }

    #[derive(Clone, Debug)]
    struct Fields {
        code: String,
        state: String,
        number: String,
        nationality: String,
        birth: NaiveDate,
        sex: (char, Sex),
        expiry: NaiveDate,
        surname: Vec<String>,
        given: Vec<String>,
        optional: String,
        optional_2: String,
        filler_check: bool,
    }

    fn dates(from: NaiveDate, to: NaiveDate) -> impl Strategy<Value = NaiveDate> {
        let days = (to - from).num_days();
        (0..=days).prop_map(move |d| from + chrono::Days::new(d as u64))
    }

    fn fields(
        code: &'static str,
        number_len: std::ops::RangeInclusive<usize>,
    ) -> impl Strategy<Value = Fields> {
        (
            (
                prop::sample::select(code.split(' ').map(String::from).collect::<Vec<_>>()),
                "[A-Z]{1,3}",
                prop::collection::vec("[A-Z0-9]", number_len).prop_map(|chars| chars.concat()),
                "[A-Z]{3}",
            ),
            // Within 100 years before `today` and up to 50 years after: both round-trip.
            dates(date(1926, 6, 16), today()),
            prop::sample::select(vec![
                ('M', Sex::Male),
                ('F', Sex::Female),
                ('<', Sex::Unspecified),
                ('X', Sex::Unspecified),
            ]),
            dates(date(1976, 6, 16), date(2076, 6, 15)),
            (
                prop::collection::vec("[A-Z]{1,6}", 1..=2),
                prop::collection::vec("[A-Z]{1,6}", 0..=2),
            ),
            ("[A-Z0-9]{0,14}", "[A-Z0-9]{0,11}", any::<bool>()),
        )
            .prop_map(
                |((code, state, number, nationality), birth, sex, expiry, names, optional)| {
                    Fields {
                        code,
                        state,
                        number,
                        nationality,
                        birth,
                        sex,
                        expiry,
                        surname: names.0,
                        given: names.1,
                        optional: optional.0,
                        optional_2: optional.1,
                        filler_check: optional.2,
                    }
                },
            )
    }

    fn pad(s: &str, len: usize) -> String {
        format!("{s:<<len$}")
    }

    fn name_field(f: &Fields, len: usize) -> String {
        pad(
            &format!("{}<<{}", f.surname.join("<"), f.given.join("<")),
            len,
        )
    }

    fn build_td3(f: &Fields) -> String {
        let l1 = format!(
            "{}{}{}",
            pad(&f.code, 2),
            pad(&f.state, 3),
            name_field(f, 39)
        );
        let number = pad(&f.number, 9);
        let birth = f.birth.format("%y%m%d").to_string();
        let expiry = f.expiry.format("%y%m%d").to_string();
        let personal = pad(&f.optional, 14);
        let personal_check = if f.optional.is_empty() && f.filler_check {
            '<'
        } else {
            reference_check(&personal)
        };
        let first = format!("{number}{}", reference_check(&number));
        let middle = format!("{birth}{}", reference_check(&birth));
        let last = format!(
            "{expiry}{}{personal}{personal_check}",
            reference_check(&expiry)
        );
        let composite = reference_check(&format!("{first}{middle}{last}"));
        let l2 = format!(
            "{first}{}{middle}{}{last}{composite}",
            f.nationality, f.sex.0
        );
        format!("{l1}\n{l2}")
    }

    fn build_td1(f: &Fields) -> (String, String) {
        let (number_part, optional_1, optional) = if f.number.len() > 9 {
            let (principal, tail) = f.number.split_at(9);
            let room = 15 - tail.len() - 2;
            let rest = &f.optional[..f.optional.len().min(room)];
            let overflow = format!("{tail}{}<{rest}", reference_check(&f.number));
            (
                format!("{principal}<"),
                pad(&overflow, 15),
                rest.to_string(),
            )
        } else {
            let number = pad(&f.number, 9);
            let rest = &f.optional[..f.optional.len().min(15)];
            (
                format!("{number}{}", reference_check(&number)),
                pad(rest, 15),
                rest.to_string(),
            )
        };
        let l1 = format!(
            "{}{}{number_part}{optional_1}",
            pad(&f.code, 2),
            pad(&f.state, 3)
        );
        let birth = f.birth.format("%y%m%d").to_string();
        let expiry = f.expiry.format("%y%m%d").to_string();
        let optional_2 = pad(&f.optional_2, 11);
        let birth = format!("{birth}{}", reference_check(&birth));
        let expiry = format!("{expiry}{}", reference_check(&expiry));
        let composite = reference_check(&format!("{}{birth}{expiry}{optional_2}", &l1[5..30]));
        let l2 = format!(
            "{birth}{}{expiry}{}{optional_2}{composite}",
            f.sex.0, f.nationality
        );
        let expected = [optional, f.optional_2.clone()]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        (format!("{l1}\n{l2}\n{}", name_field(f, 30)), expected)
    }

    fn expected(f: &Fields, format: MrzFormat, optional_data: String) -> Mrz {
        Mrz {
            format,
            document_code: f.code.trim_end_matches('<').to_string(),
            issuing_state: f.state.clone(),
            document_number: f.number.clone(),
            nationality: f.nationality.clone(),
            birth_date: f.birth,
            sex: f.sex.1,
            expiry_date: f.expiry,
            surname: f.surname.join(" "),
            given_names: f.given.join(" "),
            optional_data,
        }
    }

    proptest! {
        // Long inputs are slow to generate; a few dozen cases cover the length paths.
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn parse_never_panics_on_long_text(
            chars in prop::collection::vec(any::<char>(), 0..20_000),
            tail in "[A-Z0-9<]{0,10000}",
        ) {
            let text: String = chars.into_iter().collect();
            let _ = parse(&text, today());
            let _ = parse(&format!("{}\n{tail}", &"P<UTO".repeat(9)[..44]), today());
            let _ = parse(&format!("{text}\n{tail}\n{tail}"), today());
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = parse(&text, today());
        }

        #[test]
        fn parse_never_panics_on_mrz_shaped_text(
            lines in prop::collection::vec("[A-Z0-9<a-z ]{28,46}", 0..5),
            days in -100_000_000i32..100_000_000,
        ) {
            let today = NaiveDate::from_num_days_from_ce_opt(days).unwrap_or(NaiveDate::MAX);
            let _ = parse(&lines.join("\n"), today);
            let _ = parse(&lines.join("\r\n"), NaiveDate::MAX);
            let _ = parse(&lines.join("\n"), NaiveDate::MIN);
        }

        #[test]
        fn td3_round_trips(f in fields("P P< PO PD", 1..=9)) {
            let text = build_td3(&f);
            let optional = f.optional.clone();
            prop_assert_eq!(parse(&text, today()), Ok(expected(&f, MrzFormat::Td3, optional)));
        }

        #[test]
        fn td1_round_trips(f in fields("I I< ID AC C<", 1..=22)) {
            let (text, optional) = build_td1(&f);
            prop_assert_eq!(parse(&text, today()), Ok(expected(&f, MrzFormat::Td1, optional)));
        }

        #[test]
        fn any_single_digit_change_in_a_checked_field_is_caught(
            f in fields("P", 1..=9),
            pick in any::<prop::sample::Index>(),
            delta in 1u32..10,
        ) {
            // Weights 7, 3 and 1 are all prime to 10, so any change of one digit in the
            // document number, dates or personal number breaks that field's check digit.
            let text = build_td3(&f);
            let (l1, l2) = text.split_once('\n').unwrap();
            let digits: Vec<usize> = (0..9)
                .chain(13..19)
                .chain(21..27)
                .chain(28..42)
                .filter(|&i| l2.as_bytes()[i].is_ascii_digit())
                .collect();
            let position = *pick.get(&digits);
            let old = l2.as_bytes()[position];
            let new = char::from_digit((u32::from(old - b'0') + delta) % 10, 10).unwrap();
            let corrupted = set(l2, position + 1, new);
            let result = parse(&format!("{l1}\n{corrupted}"), today());
            prop_assert!(
                matches!(result, Err(MrzError::CheckDigit { .. })),
                "{:?}",
                result
            );
        }
    }
}
