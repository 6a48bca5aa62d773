//! The service catalogue: the matters the desk handles, read from a TOML data file that ships
//! with defaults (`catalogue/services.toml`) and that operators extend without code changes.
//! Each item names its office, the officer skill it needs, its languages, a typical duration
//! and its checklist, and how long its recordings are kept. [`Catalogue::parse`] checks the whole file once; a loaded catalogue only
//! holds items whose consents and declarations have texts.

use crate::consent;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// The catalogue compiled into the hub, used unless the configuration names another file.
pub const DEFAULT_TOML: &str = include_str!("../catalogue/services.toml");

/// Document types an identity requirement may name.
pub const DOCUMENT_TYPES: [&str; 3] = ["id-card", "passport", "driving-licence"];
/// Stills the hub knows how to ask for.
pub const STILL_KINDS: [&str; 1] = ["identity-document"];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Checklist {
    #[serde(default)]
    pub consents: Vec<String>,
    /// Each requirement is satisfied by a matching check of any one of its document types.
    #[serde(default)]
    pub identity: Vec<Vec<String>>,
    #[serde(default)]
    pub liveness: bool,
    #[serde(default)]
    pub stills: Vec<String>,
    #[serde(default)]
    pub documents: Vec<String>,
    #[serde(default)]
    pub declarations: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub code: String,
    /// Name per applicant language (`zh-Hans`, `en`, `pt`, `it`, `es`).
    pub name: BTreeMap<String, String>,
    pub office: String,
    pub skill: String,
    pub languages: Vec<String>,
    pub typical_minutes: u32,
    /// Days after sealing that the session's recordings stay readable; then their key is
    /// destroyed (`seal::retention`). Required: a retention period is a legal choice, so a
    /// catalogue never gets one by default.
    pub recording_retention_days: u32,
    pub checklist: Checklist,
}

/// Longest recording retention a catalogue may set: a century, far beyond any archive rule,
/// and small enough that a deadline never overflows a date.
pub const MAX_RETENTION_DAYS: u32 = 36_500;

impl Service {
    /// How long this matter's recordings are kept after sealing.
    pub fn recording_retention(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.recording_retention_days))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    service: Vec<Service>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalogue {
    services: Vec<Service>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogueError {
    #[error("cannot read the catalogue: {0}")]
    Io(String),
    #[error("the catalogue is not valid TOML for this schema: {0}")]
    Toml(String),
    #[error("line {line}: service {code:?}: {problem}")]
    Invalid {
        code: String,
        line: usize,
        problem: String,
    },
    #[error("the catalogue lists no service")]
    Empty,
    #[error("the catalogue is {size} bytes; the limit is {max}")]
    TooLarge { size: u64, max: u64 },
    #[error("catalogue {path}: {error}")]
    InFile {
        path: String,
        error: Box<CatalogueError>,
    },
}

/// Largest catalogue file accepted (a few hundred services fit in a fraction of it).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// 1-based line of the `code = "…"` entry of a service, for error messages.
fn line_of(text: &str, code: &str) -> usize {
    let needle = format!("\"{code}\"");
    text.lines()
        .position(|l| l.trim_start().starts_with("code") && l.contains(&needle))
        .map_or(0, |i| i + 1)
}

impl Catalogue {
    /// Parse and check a catalogue.
    pub fn parse(text: &str) -> Result<Catalogue, CatalogueError> {
        let file: File = toml::from_str(text).map_err(|e| CatalogueError::Toml(e.to_string()))?;
        if file.service.is_empty() {
            return Err(CatalogueError::Empty);
        }
        let mut seen = HashSet::new();
        for s in &file.service {
            let bad = |problem: String| CatalogueError::Invalid {
                code: s.code.clone(),
                line: line_of(text, &s.code),
                problem,
            };
            let code_ok = !s.code.is_empty()
                && s.code
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !code_ok {
                return Err(bad("code must be lowercase letters, digits and '-'".into()));
            }
            if !seen.insert(s.code.clone()) {
                return Err(bad("code appears twice".into()));
            }
            for lang in consent::LANGUAGES {
                if s.name.get(lang).is_none_or(|n| n.trim().is_empty()) {
                    return Err(bad(format!("name in {lang} is missing")));
                }
            }
            if let Some(l) = s
                .languages
                .iter()
                .find(|l| !consent::LANGUAGES.contains(&l.as_str()))
            {
                return Err(bad(format!(
                    "language {l:?} is not one of {:?}",
                    consent::LANGUAGES
                )));
            }
            if s.typical_minutes == 0 || s.typical_minutes > 480 {
                return Err(bad("typical_minutes must be between 1 and 480".into()));
            }
            if s.recording_retention_days == 0 || s.recording_retention_days > MAX_RETENTION_DAYS {
                return Err(bad(format!(
                    "recording_retention_days must be between 1 and {MAX_RETENTION_DAYS}"
                )));
            }
            let c = &s.checklist;
            if let Some(x) = c
                .consents
                .iter()
                .find(|x| consent::current(x, "en").is_none())
            {
                return Err(bad(format!("consent {x:?} has no text")));
            }
            if let Some(x) = c
                .declarations
                .iter()
                .find(|x| consent::declaration(x, "en").is_none())
            {
                return Err(bad(format!("declaration {x:?} has no text")));
            }
            for req in &c.identity {
                if req.is_empty() || req.iter().any(|d| !DOCUMENT_TYPES.contains(&d.as_str())) {
                    return Err(bad(format!(
                        "identity requirement {req:?} must list {DOCUMENT_TYPES:?}"
                    )));
                }
            }
            if let Some(x) = c.stills.iter().find(|x| !STILL_KINDS.contains(&x.as_str())) {
                return Err(bad(format!("still {x:?} must be one of {STILL_KINDS:?}")));
            }
            if let Some(x) = c
                .documents
                .iter()
                .find(|x| x.is_empty() || !x.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
            {
                return Err(bad(format!(
                    "document kind {x:?} must be lowercase letters and '-'"
                )));
            }
        }
        Ok(Catalogue {
            services: file.service,
        })
    }

    /// Read a catalogue file, or the built-in one.
    pub fn load(path: Option<&std::path::Path>) -> Result<Catalogue, CatalogueError> {
        let Some(p) = path else {
            return Catalogue::parse(DEFAULT_TOML);
        };
        let in_file = |error| CatalogueError::InFile {
            path: p.display().to_string(),
            error: Box::new(error),
        };
        let size = std::fs::metadata(p)
            .map_err(|e| in_file(CatalogueError::Io(e.to_string())))?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(in_file(CatalogueError::TooLarge {
                size,
                max: MAX_FILE_BYTES,
            }));
        }
        let text =
            std::fs::read_to_string(p).map_err(|e| in_file(CatalogueError::Io(e.to_string())))?;
        Catalogue::parse(&text).map_err(in_file)
    }

    pub fn services(&self) -> &[Service] {
        &self.services
    }

    pub fn service(&self, code: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.code == code)
    }

    /// How long recordings of a case of `service` are kept: the service's retention, or, for a
    /// service no longer in the catalogue, the longest any service has (evidence is kept
    /// rather than lost early).
    pub fn recording_retention(&self, service: &str) -> chrono::Duration {
        match self.service(service) {
            Some(s) => s.recording_retention(),
            None => self
                .services
                .iter()
                .map(Service::recording_retention)
                .max()
                .unwrap_or_else(|| chrono::Duration::days(i64::from(MAX_RETENTION_DAYS))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalogue_has_complete_entries_for_the_three_matters() {
        let c = Catalogue::parse(DEFAULT_TOML).expect("shipped catalogue is valid");
        let inheritance = c.service("inheritance").expect("inheritance");
        assert_eq!(
            inheritance.checklist.documents,
            ["death-certificate", "kinship-proof"]
        );
        assert!(
            inheritance
                .checklist
                .consents
                .iter()
                .any(|x| x == "cross-border-transfer")
        );
        let licence = c.service("driving-licence-renewal").expect("licence");
        assert!(
            licence
                .checklist
                .identity
                .iter()
                .any(|r| r == &["driving-licence"])
        );
        assert_eq!(licence.checklist.documents, ["medical-certificate"]);
        assert_eq!(inheritance.recording_retention_days, 3650);
        assert_eq!(licence.recording_retention_days, 1095);
        assert_eq!(
            c.service("id-card-renewal")
                .map(|s| s.recording_retention()),
            Some(chrono::Duration::days(1095))
        );
        assert!(c.service("moon-landing").is_none());
        assert_eq!(
            c.recording_retention("moon-landing"),
            chrono::Duration::days(3650),
            "an unknown service keeps recordings as long as the longest"
        );
    }

    #[test]
    fn mistakes_are_named() {
        let base = DEFAULT_TOML.to_owned();
        for (from, to, needle) in [
            (
                "code = \"inheritance\"",
                "code = \"Inheritance\"",
                "code must be",
            ),
            ("zh-Hans = \"房产继承公证\"\n", "", "name in zh-Hans"),
            (
                "declarations = [\"inheritance\"]",
                "declarations = [\"nope\"]",
                "declaration \"nope\"",
            ),
            (
                "identity = [[\"passport\", \"id-card\"]]",
                "identity = [[\"library-card\"]]",
                "identity requirement",
            ),
            (
                "typical_minutes = 45",
                "typical_minutes = 0",
                "typical_minutes",
            ),
            (
                "recording_retention_days = 3650",
                "recording_retention_days = 0",
                "recording_retention_days must be between 1",
            ),
            (
                "recording_retention_days = 3650\n",
                "",
                "missing field `recording_retention_days`",
            ),
            (
                "liveness = true\nstills",
                "colour = \"red\"\nliveness = true\nstills",
                "TOML",
            ),
        ] {
            let text = base.replacen(from, to, 1);
            assert_ne!(text, base, "pattern {from:?} present");
            let err = Catalogue::parse(&text).expect_err(from).to_string();
            assert!(err.contains(needle), "{err}");
        }
        assert!(matches!(
            Catalogue::parse("service = []"),
            Err(CatalogueError::Empty)
        ));
    }

    #[test]
    fn a_bad_file_is_named_with_the_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("services.toml");
        let text = DEFAULT_TOML.replacen("typical_minutes = 20", "typical_minutes = 0", 1);
        std::fs::write(&path, &text).expect("write");
        let err = Catalogue::load(Some(&path))
            .expect_err("invalid")
            .to_string();
        let line = text
            .lines()
            .position(|l| l.contains("code = \"driving-licence-renewal\""))
            .expect("line")
            + 1;
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains(&format!("line {line}:")), "{err}");
        std::fs::write(&path, "[[service]\ncode = 1").expect("write");
        let err = Catalogue::load(Some(&path))
            .expect_err("syntax")
            .to_string();
        assert!(err.contains("line 1"), "{err}");
        std::fs::write(&path, vec![b'#'; MAX_FILE_BYTES as usize + 1]).expect("write");
        let err = Catalogue::load(Some(&path))
            .expect_err("too large")
            .to_string();
        assert!(err.contains("limit"), "{err}");
        assert!(Catalogue::load(Some(&dir.path().join("none.toml"))).is_err());
    }
}
