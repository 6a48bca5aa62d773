//! Identity documents shown in a session: passports and foreign ID cards (ICAO 9303 MRZ),
//! Chinese resident identity cards and Chinese driving licences.
//!
//! Everything here is pure and deterministic: the caller passes the date, and [`office_date`]
//! turns the session clock into the date in the office zone (Asia/Shanghai), against which
//! expiry is judged. [`check`] is the one entry point for a session; it returns a
//! [`CheckedDocument`] whose full number is meant only for keyed hashing and never appears in
//! its `Debug`, its serialised form or its summary.

pub mod licence;
pub mod mrz;
pub mod resident_id;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Asia::Shanghai;
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use licence::{DrivingLicence, LicenceError, RenewalStatus, Validity};
pub use mrz::{Mrz, MrzError, MrzFormat};
pub use resident_id::{ResidentId, ResidentIdError};

/// Sex as recorded on a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Male,
    Female,
    /// MRZ `<` or `X`.
    Unspecified,
}

/// The session date in the office zone (Asia/Shanghai), against which expiry is judged.
pub fn office_date(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&Shanghai).date_naive()
}

/// The kinds of document an applicant may show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocumentType {
    IdCard,
    Passport,
    DrivingLicence,
}

impl DocumentType {
    /// The wire name: `id-card`, `passport`, `driving-licence`.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentType::IdCard => "id-card",
            DocumentType::Passport => "passport",
            DocumentType::DrivingLicence => "driving-licence",
        }
    }

    /// The name used in sentences for officers.
    pub fn label(self) -> &'static str {
        match self {
            DocumentType::IdCard => "ID card",
            DocumentType::Passport => "passport",
            DocumentType::DrivingLicence => "driving licence",
        }
    }
}

impl fmt::Display for DocumentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A document type name that is not one of `id-card`, `passport`, `driving-licence`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("unknown document type; expected id-card, passport or driving-licence")]
pub struct UnknownDocumentType;

impl FromStr for DocumentType {
    type Err = UnknownDocumentType;

    /// Accepts the wire names, ignoring ASCII case and surrounding whitespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        [
            DocumentType::IdCard,
            DocumentType::Passport,
            DocumentType::DrivingLicence,
        ]
        .into_iter()
        .find(|kind| kind.as_str().eq_ignore_ascii_case(s))
        .ok_or(UnknownDocumentType)
    }
}

/// What the applicant or officer entered for a document. Which fields are needed depends on the
/// [`DocumentType`]; see [`check`].
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
pub struct DocumentInput {
    /// The machine-readable zone, lines separated by newlines.
    pub mrz: Option<String>,
    /// A Chinese resident identity number (18 characters, or an old 15-digit one).
    pub number: Option<String>,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    pub long_term: Option<bool>,
}

impl fmt::Debug for DocumentInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |present: bool| if present { Some("***") } else { None };
        f.debug_struct("DocumentInput")
            .field("mrz", &redacted(self.mrz.is_some()))
            .field("number", &redacted(self.number.is_some()))
            .field("valid_from", &self.valid_from)
            .field("valid_until", &self.valid_until)
            .field("long_term", &self.long_term)
            .finish()
    }
}

/// A document that passed [`check`].
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct CheckedDocument {
    pub document_type: DocumentType,
    /// The full document number, for keyed hashing only: never shown, logged or serialised.
    #[serde(skip_serializing)]
    pub number: String,
    pub masked: String,
    /// The last valid day; `None` for long-term documents.
    pub expiry: Option<NaiveDate>,
    /// Driving licences only.
    pub renewal: Option<RenewalStatus>,
    /// One line for the officer, without the full number.
    pub summary: String,
}

impl fmt::Debug for CheckedDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckedDocument")
            .field("document_type", &self.document_type)
            .field("masked", &self.masked)
            .field("expiry", &self.expiry)
            .field("renewal", &self.renewal)
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

/// Why a document was refused. Each message is a sentence an officer can read out.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IdentityError {
    #[error("The machine-readable zone was not accepted: {0}.")]
    Mrz(#[from] MrzError),
    #[error("The resident identity number was not accepted: {0}.")]
    ResidentId(#[from] ResidentIdError),
    #[error("The driving licence was not accepted: {0}.")]
    Licence(#[from] LicenceError),
    /// Holds the input field name (`mrz`, `number`, `valid_from`, `valid_until`).
    #[error("The {} is missing.", field_label(.0))]
    Missing(&'static str),
    #[error("The {document} was given in the wrong form: expected {expected}.")]
    WrongFormat {
        document: DocumentType,
        expected: &'static str,
    },
    #[error("The {document} expired on {expired_on} and cannot be used.")]
    Expired {
        document: DocumentType,
        expired_on: NaiveDate,
    },
}

impl IdentityError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            IdentityError::Mrz(e) => e.code(),
            IdentityError::ResidentId(e) => e.code(),
            IdentityError::Licence(e) => e.code(),
            IdentityError::Missing(_) => "document_field_missing",
            IdentityError::WrongFormat { .. } => "document_wrong_format",
            IdentityError::Expired { .. } => "document_expired",
        }
    }
}

fn field_label(field: &str) -> &'static str {
    match field {
        "mrz" => "machine-readable zone (mrz)",
        "number" => "document number (number)",
        "valid_from" => "start of validity (valid_from)",
        "valid_until" => "expiry date (valid_until, or long_term for a long-term document)",
        _ => "required field",
    }
}

/// Check a document for a session held on `on` (see [`office_date`]).
///
/// - Passport: `mrz` in TD3 form; must not have expired.
/// - ID card: either a Chinese resident identity `number` (18 characters, or 15 digits which are
///   upgraded) with `valid_until` or `long_term: true`, or a foreign card's TD1 `mrz`; must not
///   have expired.
/// - Driving licence: `number`, `valid_from`, and `valid_until` or `long_term: true`. An
///   expired licence is accepted (renewing it may be why the session exists) and reported in
///   [`CheckedDocument::renewal`]; a licence not yet valid is refused.
pub fn check(
    document_type: DocumentType,
    input: &DocumentInput,
    on: NaiveDate,
) -> Result<CheckedDocument, IdentityError> {
    match document_type {
        DocumentType::Passport => {
            let mrz = input.mrz.as_deref().ok_or(IdentityError::Missing("mrz"))?;
            check_mrz(document_type, mrz, on)
        }
        DocumentType::IdCard => match (input.mrz.as_deref(), input.number.as_deref()) {
            (Some(_), Some(_)) => Err(IdentityError::WrongFormat {
                document: document_type,
                expected: "either a resident identity number or a machine-readable zone, not both",
            }),
            (Some(mrz), None) => check_mrz(document_type, mrz, on),
            (None, Some(number)) => check_resident_card(number, input, on),
            (None, None) => Err(IdentityError::Missing("number")),
        },
        DocumentType::DrivingLicence => check_licence(input, on),
    }
}

fn check_mrz(
    document: DocumentType,
    text: &str,
    on: NaiveDate,
) -> Result<CheckedDocument, IdentityError> {
    let mrz = mrz::parse(text, on)?;
    let (format, code_ok, expected) = match document {
        DocumentType::Passport => (
            MrzFormat::Td3,
            mrz.document_code.starts_with('P'),
            "a passport zone (TD3) of 2 lines of 44 characters, document code starting with P",
        ),
        _ => (
            MrzFormat::Td1,
            mrz.document_code.starts_with(['I', 'A', 'C']),
            "an ID card zone of 3 lines of 30 characters (TD1)",
        ),
    };
    if mrz.format != format || !code_ok {
        return Err(IdentityError::WrongFormat { document, expected });
    }
    if mrz.expiry_date < on {
        return Err(IdentityError::Expired {
            document,
            expired_on: mrz.expiry_date,
        });
    }
    let masked = mask_mrz_number(&mrz.document_number);
    let kind = match document {
        DocumentType::Passport => "Passport",
        _ => "ID card",
    };
    let summary = format!(
        "{kind} {masked} issued by {}, valid until {}.",
        mrz.issuing_state, mrz.expiry_date
    );
    Ok(CheckedDocument {
        document_type: document,
        number: mrz.document_number,
        masked,
        expiry: Some(mrz.expiry_date),
        renewal: None,
        summary,
    })
}

/// Parse an 18-character number, or upgrade a 15-digit one. The flag says it was upgraded.
fn resident_id(number: &str, on: NaiveDate) -> Result<(ResidentId, bool), ResidentIdError> {
    if number.trim().chars().count() == 15 {
        ResidentId::upgrade_15(number, on).map(|id| (id, true))
    } else {
        ResidentId::parse(number, on).map(|id| (id, false))
    }
}

/// `valid_until` or `long_term: true`, but not both.
fn validity(document: DocumentType, input: &DocumentInput) -> Result<Validity, IdentityError> {
    match (input.valid_until, input.long_term.unwrap_or(false)) {
        (Some(until), false) => Ok(Validity::Until(until)),
        (None, true) => Ok(Validity::LongTerm),
        (Some(_), true) => Err(IdentityError::WrongFormat {
            document,
            expected: "either an expiry date (valid_until) or long_term, not both",
        }),
        (None, false) => Err(IdentityError::Missing("valid_until")),
    }
}

fn check_resident_card(
    number: &str,
    input: &DocumentInput,
    on: NaiveDate,
) -> Result<CheckedDocument, IdentityError> {
    let document = DocumentType::IdCard;
    let (id, upgraded) = resident_id(number, on)?;
    let validity = validity(document, input)?;
    if let Validity::Until(until) = validity
        && until < on
    {
        return Err(IdentityError::Expired {
            document,
            expired_on: until,
        });
    }
    let masked = id.masked();
    let until = match validity {
        Validity::Until(until) => format!("valid until {until}"),
        Validity::LongTerm => "valid long-term".to_owned(),
    };
    let note = if upgraded {
        " (upgraded from a 15-digit number)"
    } else {
        ""
    };
    Ok(CheckedDocument {
        document_type: document,
        summary: format!("Resident identity card {masked}{note}, {until}."),
        number: id.as_str().to_owned(),
        masked,
        expiry: validity.end(),
        renewal: None,
    })
}

fn check_licence(input: &DocumentInput, on: NaiveDate) -> Result<CheckedDocument, IdentityError> {
    let document = DocumentType::DrivingLicence;
    let number = input
        .number
        .as_deref()
        .ok_or(IdentityError::Missing("number"))?;
    let valid_from = input
        .valid_from
        .ok_or(IdentityError::Missing("valid_from"))?;
    let validity = validity(document, input)?;
    let (id, _) = resident_id(number, on)?;
    let licence = DrivingLicence::new(id, valid_from, validity, on)?;
    let renewal = licence.renewal(on);
    let masked = licence.number.masked();
    let period = match licence.valid_until {
        Validity::Until(until) => format!("valid {valid_from} to {until}"),
        Validity::LongTerm => format!("valid long-term from {valid_from}"),
    };
    let status = match renewal {
        RenewalStatus::NotDue { days_left } => {
            format!("not due for renewal ({days_left} days left)")
        }
        RenewalStatus::Due { days_left } => {
            format!("renewal due: {days_left} days left, renewal may be applied for")
        }
        RenewalStatus::Overdue { days_over } => format!(
            "EXPIRED {days_over} days ago; it can still be renewed within one year of expiry"
        ),
        RenewalStatus::Lapsed { days_over } => {
            format!("EXPIRED {days_over} days ago, more than a year: the licence has lapsed")
        }
        RenewalStatus::LongTerm => "long-term, no renewal needed".to_owned(),
    };
    Ok(CheckedDocument {
        document_type: document,
        summary: format!("Driving licence {masked}, {period}: {status}."),
        number: licence.number.as_str().to_owned(),
        masked,
        expiry: licence.valid_until.end(),
        renewal: Some(renewal),
    })
}

/// Keep the first 2 and last 2 characters of an MRZ document number: `L8*****C3`. Numbers of 4
/// characters or fewer are masked entirely.
pub fn mask_mrz_number(number: &str) -> String {
    let len = number.chars().count();
    number
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if len > 4 && (i < 2 || i + 2 >= len) {
                c
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    const TD3: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n\
                       L898902C36UTO7408122F1204159ZE184226B<<<<<10";
    const TD1: &str = "I<UTOD231458907<<<<<<<<<<<<<<<\n\
                       7408122F1204159UTO<<<<<<<<<<<6\n\
                       ERIKSSON<<ANNA<MARIA<<<<<<<<<<";
    const ID: &str = "11010519491231002X";

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn mrz(text: &str) -> DocumentInput {
        DocumentInput {
            mrz: Some(text.into()),
            ..DocumentInput::default()
        }
    }

    fn card(number: &str, until: Option<NaiveDate>, long_term: Option<bool>) -> DocumentInput {
        DocumentInput {
            number: Some(number.into()),
            valid_until: until,
            long_term,
            ..DocumentInput::default()
        }
    }

    fn licence(from: NaiveDate, until: Option<NaiveDate>) -> DocumentInput {
        DocumentInput {
            number: Some(ID.into()),
            valid_from: Some(from),
            valid_until: until,
            long_term: until.is_none().then_some(true),
            ..DocumentInput::default()
        }
    }

    #[test]
    fn office_date_is_shanghai_date() {
        let before = Utc.with_ymd_and_hms(2026, 11, 27, 15, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 11, 27, 16, 0, 0).unwrap();
        assert_eq!(office_date(before), date(2026, 11, 27));
        assert_eq!(office_date(after), date(2026, 11, 28));
    }

    #[test]
    fn document_type_names() {
        for (kind, name) in [
            (DocumentType::IdCard, "id-card"),
            (DocumentType::Passport, "passport"),
            (DocumentType::DrivingLicence, "driving-licence"),
        ] {
            assert_eq!(name.parse::<DocumentType>(), Ok(kind));
            assert_eq!(kind.as_str(), name);
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
            let back: DocumentType = serde_json::from_str(&format!("\"{name}\"")).unwrap();
            assert_eq!(back, kind);
        }
        assert_eq!(
            " Passport ".parse::<DocumentType>(),
            Ok(DocumentType::Passport)
        );
        assert_eq!("id_card".parse::<DocumentType>(), Err(UnknownDocumentType));
    }

    #[test]
    fn input_deserialises_and_debug_redacts() {
        let input: DocumentInput = serde_json::from_str(
            r#"{"number":"11010519491231002X","valid_until":"2030-01-01","long_term":false}"#,
        )
        .unwrap();
        assert_eq!(input.valid_until, Some(date(2030, 1, 1)));
        assert!(!format!("{input:?}").contains("1949"));
    }

    #[test]
    fn mask_keeps_two_at_each_end() {
        assert_eq!(mask_mrz_number("L898902C3"), "L8*****C3");
        assert_eq!(mask_mrz_number("AB1CD"), "AB*CD");
        assert_eq!(mask_mrz_number("ABCD"), "****");
        assert_eq!(mask_mrz_number(""), "");
    }

    #[test]
    fn passport_valid_and_expired() {
        let doc = check(DocumentType::Passport, &mrz(TD3), date(2012, 4, 15)).unwrap();
        assert_eq!(doc.number, "L898902C3");
        assert_eq!(doc.masked, "L8*****C3");
        assert_eq!(doc.expiry, Some(date(2012, 4, 15)));
        assert_eq!(doc.renewal, None);
        assert_eq!(
            doc.summary,
            "Passport L8*****C3 issued by UTO, valid until 2012-04-15."
        );
        assert_eq!(
            check(DocumentType::Passport, &mrz(TD3), date(2012, 4, 16)),
            Err(IdentityError::Expired {
                document: DocumentType::Passport,
                expired_on: date(2012, 4, 15)
            })
        );
    }

    #[test]
    fn passport_needs_td3() {
        assert_eq!(
            check(
                DocumentType::Passport,
                &DocumentInput::default(),
                date(2010, 1, 1)
            ),
            Err(IdentityError::Missing("mrz"))
        );
        let err = check(DocumentType::Passport, &mrz(TD1), date(2010, 1, 1)).unwrap_err();
        assert_eq!(err.code(), "document_wrong_format");
        let err = check(DocumentType::Passport, &mrz("P<UTO"), date(2010, 1, 1)).unwrap_err();
        assert_eq!(err, IdentityError::Mrz(MrzError::LineCount { found: 1 }));
        assert_eq!(err.code(), "mrz_layout");
    }

    #[test]
    fn id_card_by_td1() {
        let doc = check(DocumentType::IdCard, &mrz(TD1), date(2012, 1, 1)).unwrap();
        assert_eq!(doc.masked, "D2*****90");
        assert_eq!(
            doc.summary,
            "ID card D2*****90 issued by UTO, valid until 2012-04-15."
        );
        assert!(matches!(
            check(DocumentType::IdCard, &mrz(TD1), date(2013, 1, 1)),
            Err(IdentityError::Expired { .. })
        ));
        assert!(matches!(
            check(DocumentType::IdCard, &mrz(TD3), date(2010, 1, 1)),
            Err(IdentityError::WrongFormat { .. })
        ));
    }

    #[test]
    fn id_card_by_resident_number() {
        let on = date(2026, 6, 15);
        let doc = check(DocumentType::IdCard, &card(ID, Some(on), None), on).unwrap();
        assert_eq!(doc.number, ID);
        assert_eq!(doc.masked, "110105********002X");
        assert_eq!(doc.expiry, Some(on));
        assert_eq!(
            doc.summary,
            "Resident identity card 110105********002X, valid until 2026-06-15."
        );

        let doc = check(
            DocumentType::IdCard,
            &card("110105491231002", None, Some(true)),
            on,
        )
        .unwrap();
        assert_eq!(doc.number, ID);
        assert_eq!(doc.expiry, None);
        assert_eq!(
            doc.summary,
            "Resident identity card 110105********002X (upgraded from a 15-digit number), \
             valid long-term."
        );

        assert_eq!(
            check(
                DocumentType::IdCard,
                &card(ID, Some(date(2026, 6, 14)), None),
                on
            ),
            Err(IdentityError::Expired {
                document: DocumentType::IdCard,
                expired_on: date(2026, 6, 14)
            })
        );
        assert_eq!(
            check(DocumentType::IdCard, &card(ID, None, None), on),
            Err(IdentityError::Missing("valid_until"))
        );
        assert_eq!(
            check(DocumentType::IdCard, &card(ID, None, Some(false)), on),
            Err(IdentityError::Missing("valid_until"))
        );
        assert!(matches!(
            check(DocumentType::IdCard, &card(ID, Some(on), Some(true)), on),
            Err(IdentityError::WrongFormat { .. })
        ));
        assert_eq!(
            check(DocumentType::IdCard, &DocumentInput::default(), on),
            Err(IdentityError::Missing("number"))
        );
        let both = DocumentInput {
            mrz: Some(TD1.into()),
            ..card(ID, Some(on), None)
        };
        assert!(matches!(
            check(DocumentType::IdCard, &both, on),
            Err(IdentityError::WrongFormat { .. })
        ));
        let err = check(
            DocumentType::IdCard,
            &card("110105194912310021", Some(on), None),
            on,
        )
        .unwrap_err();
        assert_eq!(err.code(), "resident_id_check_character");
    }

    #[test]
    fn driving_licence_statuses() {
        let on = date(2026, 6, 15);
        let doc = check(
            DocumentType::DrivingLicence,
            &licence(date(2020, 7, 1), Some(date(2026, 7, 1))),
            on,
        )
        .unwrap();
        assert_eq!(doc.renewal, Some(RenewalStatus::Due { days_left: 16 }));
        assert_eq!(doc.expiry, Some(date(2026, 7, 1)));
        assert_eq!(
            doc.summary,
            "Driving licence 110105********002X, valid 2020-07-01 to 2026-07-01: renewal due: \
             16 days left, renewal may be applied for."
        );

        let overdue = check(
            DocumentType::DrivingLicence,
            &licence(date(2016, 6, 1), Some(date(2026, 5, 31))),
            on,
        )
        .unwrap();
        assert_eq!(
            overdue.renewal,
            Some(RenewalStatus::Overdue { days_over: 15 })
        );
        assert!(overdue.summary.contains("EXPIRED 15 days ago"));

        let lapsed = check(
            DocumentType::DrivingLicence,
            &licence(date(2015, 1, 1), Some(date(2025, 1, 1))),
            on,
        )
        .unwrap();
        assert!(matches!(lapsed.renewal, Some(RenewalStatus::Lapsed { .. })));
        assert!(lapsed.summary.contains("lapsed"));

        let long = check(
            DocumentType::DrivingLicence,
            &licence(date(2010, 1, 1), None),
            on,
        )
        .unwrap();
        assert_eq!(long.renewal, Some(RenewalStatus::LongTerm));
        assert_eq!(long.expiry, None);
    }

    #[test]
    fn driving_licence_errors() {
        let on = date(2026, 6, 15);
        assert_eq!(
            check(
                DocumentType::DrivingLicence,
                &licence(date(2026, 6, 16), Some(date(2032, 6, 16))),
                on
            ),
            Err(IdentityError::Licence(LicenceError::NotYetValid {
                valid_from: date(2026, 6, 16)
            }))
        );
        let err = check(
            DocumentType::DrivingLicence,
            &licence(date(2020, 1, 1), Some(date(2027, 1, 1))),
            on,
        )
        .unwrap_err();
        assert_eq!(err.code(), "licence_period");
        let no_from = DocumentInput {
            valid_from: None,
            ..licence(date(2020, 1, 1), None)
        };
        assert_eq!(
            check(DocumentType::DrivingLicence, &no_from, on),
            Err(IdentityError::Missing("valid_from"))
        );
        let no_number = DocumentInput {
            number: None,
            ..licence(date(2020, 1, 1), None)
        };
        assert_eq!(
            check(DocumentType::DrivingLicence, &no_number, on),
            Err(IdentityError::Missing("number"))
        );
    }

    #[test]
    fn full_number_stays_out_of_debug_and_json() {
        let on = date(2026, 6, 15);
        let doc = check(DocumentType::IdCard, &card(ID, None, Some(true)), on).unwrap();
        let debug = format!("{doc:?}");
        let json = serde_json::to_string(&doc).unwrap();
        for shown in [&debug, &json, &doc.summary] {
            assert!(!shown.contains(ID), "{shown}");
            assert!(shown.contains("110105********002X"), "{shown}");
        }
    }

    #[test]
    fn error_messages_are_sentences() {
        let errors = [
            IdentityError::Missing("valid_until"),
            IdentityError::Expired {
                document: DocumentType::Passport,
                expired_on: date(2012, 4, 15),
            },
            IdentityError::Mrz(MrzError::CheckDigit {
                field: "document number",
                expected: '6',
                found: '7',
            }),
        ];
        let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "The expiry date (valid_until, or long_term for a long-term document) is missing.",
                "The passport expired on 2012-04-15 and cannot be used.",
                "The machine-readable zone was not accepted: the document number check digit is \
                 wrong: expected '6', found '7'.",
            ]
        );
    }

    fn any_date() -> impl Strategy<Value = NaiveDate> {
        prop_oneof![
            any::<i32>()
                .prop_map(|d| NaiveDate::from_num_days_from_ce_opt(d).unwrap_or(NaiveDate::MAX)),
            (700_000i32..760_000).prop_map(|d| NaiveDate::from_num_days_from_ce_opt(d).unwrap()),
            Just(NaiveDate::MIN),
            Just(NaiveDate::MAX),
        ]
    }

    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[0-9Xx]{15,18}",
            "[A-Z0-9<]{44}\n[A-Z0-9<]{44}",
            "[A-Z0-9<]{30}\n[A-Z0-9<]{30}\n[A-Z0-9<]{30}",
            ".{0,2000}",
        ]
    }

    proptest! {
        #[test]
        fn check_never_panics(
            kind in prop::sample::select(vec![
                DocumentType::IdCard,
                DocumentType::Passport,
                DocumentType::DrivingLicence,
            ]),
            mrz in prop::option::of(any_text()),
            number in prop::option::of(any_text()),
            valid_from in prop::option::of(any_date()),
            valid_until in prop::option::of(any_date()),
            long_term in any::<Option<bool>>(),
            on in any_date(),
        ) {
            let input = DocumentInput { mrz, number, valid_from, valid_until, long_term };
            if let Err(e) = check(kind, &input, on) {
                let _ = (e.code(), e.to_string());
            }
        }

        #[test]
        fn document_type_from_str_never_panics(s in any::<String>()) {
            let _ = s.parse::<DocumentType>();
        }
    }
}
