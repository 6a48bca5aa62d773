//! Texts shown to applicants, versioned and embedded in the binary so that the exact text an
//! applicant saw can always be reproduced from its id, version, language and SHA-256:
//! consents (`consents/<id>.v<n>.<lang>.txt`) with their legal basis and retention, the
//! "stored anyway" notice shown before any consent, declarations
//! (`declarations/<id>.v<n>.<lang>.txt`) and liveness prompts.

use crate::evidence::sha256_hex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Languages applicants can choose.
pub const LANGUAGES: [&str; 5] = ["zh-Hans", "en", "pt", "it", "es"];

macro_rules! five {
    ($dir:literal, $id:literal) => {
        [
            (
                "zh-Hans",
                include_str!(concat!("../", $dir, "/", $id, ".v1.zh-Hans.txt")),
            ),
            (
                "en",
                include_str!(concat!("../", $dir, "/", $id, ".v1.en.txt")),
            ),
            (
                "pt",
                include_str!(concat!("../", $dir, "/", $id, ".v1.pt.txt")),
            ),
            (
                "it",
                include_str!(concat!("../", $dir, "/", $id, ".v1.it.txt")),
            ),
            (
                "es",
                include_str!(concat!("../", $dir, "/", $id, ".v1.es.txt")),
            ),
        ]
    };
}

type Texts = [(&'static str, &'static str); 5];

/// What the law and the office say about one consent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsentMeta {
    pub id: &'static str,
    pub version: u32,
    pub legal_basis: &'static str,
    pub retention: &'static str,
    /// Named recipient, for transfers across the border.
    pub recipient: Option<&'static str>,
    texts: Texts,
}

const RETENTION: &str = "notarial archive retention period required by law";

const CONSENTS: [ConsentMeta; 4] = [
    ConsentMeta {
        id: "recording",
        version: 1,
        legal_basis: "consent (PIPL art. 13(1)(1)); notarial record keeping",
        retention: RETENTION,
        recipient: None,
        texts: five!("consents", "recording"),
    },
    ConsentMeta {
        id: "personal-information",
        version: 1,
        legal_basis: "consent (PIPL art. 13(1)(1) and art. 14)",
        retention: RETENTION,
        recipient: None,
        texts: five!("consents", "personal-information"),
    },
    ConsentMeta {
        id: "cross-border-transfer",
        version: 1,
        legal_basis: "separate consent (PIPL art. 39)",
        retention: RETENTION,
        recipient: Some(
            "the notarial office handling your case, Lishui, Zhejiang, People's Republic of China",
        ),
        texts: five!("consents", "cross-border-transfer"),
    },
    ConsentMeta {
        id: "e-signature",
        version: 1,
        legal_basis: "consent to electronic signature (Electronic Signature Law art. 3)",
        retention: RETENTION,
        recipient: None,
        texts: five!("consents", "e-signature"),
    },
];

const STORED_ANYWAY: Texts = five!("consents", "stored-anyway");

const DECLARATIONS: [(&str, Texts); 3] = [
    ("inheritance", five!("declarations", "inheritance")),
    (
        "driving-licence-renewal",
        five!("declarations", "driving-licence-renewal"),
    ),
    ("id-card-renewal", five!("declarations", "id-card-renewal")),
];

const LIVENESS_JSON: &str = include_str!("../consents/liveness-prompts.json");

/// One text as shown to an applicant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShownText {
    pub id: &'static str,
    pub version: u32,
    pub lang: &'static str,
    pub text: &'static str,
    pub sha256: String,
}

/// A consent text with its metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentText {
    pub meta: ConsentMeta,
    pub shown: ShownText,
}

fn pick(id: &'static str, version: u32, texts: &Texts, lang: &str) -> Option<ShownText> {
    let (lang, text) = texts
        .iter()
        .find(|(l, _)| *l == lang)
        .or_else(|| texts.iter().find(|(l, _)| *l == "en"))?;
    Some(ShownText {
        id,
        version,
        lang,
        text,
        sha256: sha256_hex(text.as_bytes()),
    })
}

/// Every consent this hub can ask for.
pub fn consent_ids() -> impl Iterator<Item = &'static str> {
    CONSENTS.iter().map(|c| c.id)
}

/// The current text of `consent` in `lang` (English for other languages), or `None` for a
/// consent this hub does not know.
pub fn current(consent: &str, lang: &str) -> Option<ConsentText> {
    let meta = CONSENTS.iter().find(|c| c.id == consent)?;
    let shown = pick(meta.id, meta.version, &meta.texts, lang)?;
    Some(ConsentText { meta: *meta, shown })
}

/// The notice of what is kept whatever the applicant answers.
pub fn stored_anyway(lang: &str) -> Option<ShownText> {
    pick("stored-anyway", 1, &STORED_ANYWAY, lang)
}

/// A declaration text.
pub fn declaration(id: &str, lang: &str) -> Option<ShownText> {
    let (id, texts) = DECLARATIONS.iter().find(|(d, _)| *d == id)?;
    pick(id, 1, texts, lang)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LivenessPrompt {
    pub id: String,
    pub text: BTreeMap<String, String>,
}

/// The liveness prompts, parsed once. The file is checked by a test, so an empty list here
/// only happens if that test was ignored.
pub fn liveness_prompts() -> &'static [LivenessPrompt] {
    static PROMPTS: OnceLock<Vec<LivenessPrompt>> = OnceLock::new();
    PROMPTS.get_or_init(|| serde_json::from_str(LIVENESS_JSON).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_exists_in_every_language_and_differs() {
        for id in consent_ids() {
            let hashes: std::collections::HashSet<_> = LANGUAGES
                .iter()
                .map(|l| current(id, l).expect("text").shown.sha256)
                .collect();
            assert_eq!(hashes.len(), LANGUAGES.len(), "{id}");
            for lang in LANGUAGES {
                let t = current(id, lang).expect("text");
                assert_eq!(t.shown.lang, lang);
                assert!(t.shown.text.trim().len() > 80, "{id} {lang} is a real text");
            }
        }
        for (id, _) in DECLARATIONS {
            for lang in LANGUAGES {
                assert!(declaration(id, lang).expect("declaration").text.len() > 80);
            }
        }
        assert_eq!(
            current("recording", "fr").expect("fallback").shown.lang,
            "en"
        );
        assert!(current("telepathy", "en").is_none());
        assert!(
            current("cross-border-transfer", "en")
                .expect("known")
                .meta
                .recipient
                .is_some()
        );
        for lang in LANGUAGES {
            assert!(stored_anyway(lang).is_some());
        }
    }

    #[test]
    fn liveness_prompts_parse_with_every_language() {
        let prompts = liveness_prompts();
        assert!(prompts.len() >= 8);
        for p in prompts {
            for lang in LANGUAGES {
                assert!(
                    p.text.get(lang).is_some_and(|t| !t.is_empty()),
                    "{} {lang}",
                    p.id
                );
            }
        }
    }
}
