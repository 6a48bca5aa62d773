//! Consent texts: versioned files under `consents/`, one per language, embedded in the binary
//! so the text an applicant was shown can always be reproduced from its id, version and hash.

use crate::evidence::sha256_hex;

/// Languages applicants can choose.
pub const LANGUAGES: [&str; 5] = ["zh-Hans", "en", "pt", "it", "es"];

/// One consent text as shown to an applicant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentText {
    pub consent: &'static str,
    pub text_id: String,
    pub version: u32,
    pub lang: &'static str,
    pub text: &'static str,
    pub sha256: String,
}

const RECORDING_V1: [(&str, &str); 5] = [
    (
        "zh-Hans",
        include_str!("../consents/recording.v1.zh-Hans.txt"),
    ),
    ("en", include_str!("../consents/recording.v1.en.txt")),
    ("pt", include_str!("../consents/recording.v1.pt.txt")),
    ("it", include_str!("../consents/recording.v1.it.txt")),
    ("es", include_str!("../consents/recording.v1.es.txt")),
];

/// The current text of `consent` in `lang`, falling back to English for other languages.
/// `None` for a consent this hub does not know.
pub fn current(consent: &str, lang: &str) -> Option<ConsentText> {
    match consent {
        "recording" => {
            let (lang, text) = RECORDING_V1
                .iter()
                .find(|(l, _)| *l == lang)
                .or_else(|| RECORDING_V1.iter().find(|(l, _)| *l == "en"))?;
            Some(ConsentText {
                consent: "recording",
                text_id: "recording".to_owned(),
                version: 1,
                lang,
                text,
                sha256: sha256_hex(text.as_bytes()),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_its_own_text_and_hash() {
        let hashes: std::collections::HashSet<_> = LANGUAGES
            .iter()
            .map(|l| current("recording", l).unwrap().sha256)
            .collect();
        assert_eq!(hashes.len(), LANGUAGES.len());
        assert_eq!(current("recording", "fr").unwrap().lang, "en");
        assert!(current("telepathy", "en").is_none());
    }
}
