//! Stills and supporting documents: type sniffing from content (never from the name or the
//! declared type alone), size limits, and their encrypted files under
//! `<data_dir>/documents/<session>/`.

use crate::ids::{CaseId, SessionId};
use crate::vault::Vault;
use std::path::{Path, PathBuf};

/// Largest upload accepted.
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    Pdf,
    Jpeg,
    Png,
}

impl MediaType {
    pub fn mime(self) -> &'static str {
        match self {
            MediaType::Pdf => "application/pdf",
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            MediaType::Pdf => "pdf",
            MediaType::Jpeg => "jpg",
            MediaType::Png => "png",
        }
    }

    fn from_mime(mime: &str) -> Option<Self> {
        match mime
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "application/pdf" => Some(MediaType::Pdf),
            "image/jpeg" | "image/jpg" => Some(MediaType::Jpeg),
            "image/png" => Some(MediaType::Png),
            _ => None,
        }
    }
}

/// What the bytes are, by their magic numbers.
pub fn sniff(bytes: &[u8]) -> Option<MediaType> {
    if bytes.starts_with(b"%PDF-") {
        Some(MediaType::Pdf)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(MediaType::Jpeg)
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some(MediaType::Png)
    } else {
        None
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DocumentError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {size} bytes; the limit is {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error(
        "the declared type {0:?} is not accepted; send application/pdf, image/jpeg or image/png"
    )]
    DeclaredType(String),
    #[error("the content is not a PDF, JPEG or PNG file")]
    UnknownContent,
    #[error("the content is {actual}, not the declared {declared}")]
    Mismatch {
        declared: &'static str,
        actual: &'static str,
    },
    #[error("a still must be a JPEG or PNG image")]
    StillNotImage,
    #[error("category must be \"still\" or \"document\"")]
    Category,
}

impl DocumentError {
    pub fn code(&self) -> &'static str {
        match self {
            DocumentError::TooLarge { .. } => "too_large",
            DocumentError::DeclaredType(_)
            | DocumentError::UnknownContent
            | DocumentError::Mismatch { .. } => "unsupported_type",
            _ => "invalid",
        }
    }
}

/// Check an upload: declared type accepted, content sniffed and equal to it, size in bounds.
pub fn validate(category: &str, declared: &str, bytes: &[u8]) -> Result<MediaType, DocumentError> {
    if category != "still" && category != "document" {
        return Err(DocumentError::Category);
    }
    if bytes.is_empty() {
        return Err(DocumentError::Empty);
    }
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(DocumentError::TooLarge {
            size: bytes.len(),
            max: MAX_UPLOAD_BYTES,
        });
    }
    let declared_type = MediaType::from_mime(declared)
        .ok_or_else(|| DocumentError::DeclaredType(declared.chars().take(80).collect()))?;
    let actual = sniff(bytes).ok_or(DocumentError::UnknownContent)?;
    if actual != declared_type {
        return Err(DocumentError::Mismatch {
            declared: declared_type.mime(),
            actual: actual.mime(),
        });
    }
    if category == "still" && actual == MediaType::Pdf {
        return Err(DocumentError::StillNotImage);
    }
    Ok(actual)
}

/// Where a session's encrypted documents live.
pub fn session_dir(data: &Path, session: SessionId) -> PathBuf {
    data.join("documents").join(session.to_string())
}

/// Encrypt and store a document; returns its name in the bundle.
pub fn store(
    vault: &Vault,
    dir: &Path,
    case: CaseId,
    category: &str,
    kind: &str,
    media: MediaType,
    bytes: &[u8],
) -> std::io::Result<String> {
    std::fs::create_dir_all(dir)?;
    let mut n = 1;
    let name = loop {
        let candidate = format!("{category}-{kind}-{n}.{}", media.extension());
        if !dir.join(format!("{candidate}.enc")).exists() {
            break candidate;
        }
        n += 1;
    };
    let sealed = vault
        .seal(&case.to_string(), &name, bytes)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, &sealed)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(format!("{name}.enc")))?;
    Ok(name)
}

/// Decrypt every stored document of a session, for sealing.
pub fn load_all(
    vault: &Vault,
    dir: &Path,
    case: CaseId,
) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = file_name.strip_suffix(".enc") else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let sealed = std::fs::read(entry.path())?;
        let plain = vault
            .open(&case.to_string(), name, &sealed)
            .map_err(|e| std::io::Error::other(format!("{name}: {e}")))?;
        out.push((name.to_owned(), plain));
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &[u8] = b"%PDF-1.7\n...";
    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10];
    const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0];

    #[test]
    fn content_decides_not_the_label() {
        assert_eq!(
            validate("document", "application/pdf", PDF),
            Ok(MediaType::Pdf)
        );
        assert_eq!(validate("still", "image/jpeg", JPEG), Ok(MediaType::Jpeg));
        assert_eq!(
            validate("still", "image/png; charset=binary", PNG),
            Ok(MediaType::Png)
        );
        assert_eq!(
            validate("document", "application/pdf", JPEG),
            Err(DocumentError::Mismatch {
                declared: "application/pdf",
                actual: "image/jpeg"
            })
        );
        assert_eq!(
            validate("document", "application/pdf", b"MZ\x90\0 not a pdf"),
            Err(DocumentError::UnknownContent)
        );
        assert!(matches!(
            validate("document", "text/html", PDF),
            Err(DocumentError::DeclaredType(_))
        ));
        assert_eq!(
            validate("still", "application/pdf", PDF),
            Err(DocumentError::StillNotImage)
        );
        assert_eq!(
            validate("document", "application/pdf", b""),
            Err(DocumentError::Empty)
        );
        assert_eq!(
            validate("selfie", "image/png", PNG),
            Err(DocumentError::Category)
        );
        let mut big = PDF.to_vec();
        big.resize(MAX_UPLOAD_BYTES + 1, b' ');
        assert!(matches!(
            validate("document", "application/pdf", &big),
            Err(DocumentError::TooLarge { .. })
        ));
    }

    #[test]
    fn stored_documents_are_encrypted_and_load_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vault = Vault::from_secret(&[3u8; 32]);
        let case = CaseId::random();
        let a = store(
            &vault,
            dir.path(),
            case,
            "document",
            "death-certificate",
            MediaType::Pdf,
            PDF,
        )
        .expect("store");
        let b = store(
            &vault,
            dir.path(),
            case,
            "document",
            "death-certificate",
            MediaType::Pdf,
            PDF,
        )
        .expect("store");
        assert_eq!(
            (a.as_str(), b.as_str()),
            (
                "document-death-certificate-1.pdf",
                "document-death-certificate-2.pdf"
            )
        );
        let raw = std::fs::read(dir.path().join(format!("{a}.enc"))).expect("file");
        assert!(!raw.windows(5).any(|w| w == b"%PDF-"), "encrypted at rest");
        let all = load_all(&vault, dir.path(), case).expect("load");
        assert_eq!(all, vec![(a, PDF.to_vec()), (b, PDF.to_vec())]);
        assert!(
            load_all(&vault, dir.path(), CaseId::random()).is_err(),
            "another case cannot read"
        );
        assert!(
            load_all(&vault, &dir.path().join("none"), case)
                .expect("empty")
                .is_empty()
        );
    }
}
