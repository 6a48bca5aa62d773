//! The hub secret (`<data_dir>/hub-secret`, 32 random bytes, mode 0600) and what is derived
//! from it: the keyed hash of identity numbers, and a per-case AES-256-GCM key that encrypts
//! document stills and uploads at rest.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::{hkdf, hmac};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    #[error("hub secret {path}: {reason}")]
    Secret { path: String, reason: String },
    #[error("encryption failed")]
    Seal,
    #[error("the stored document is damaged or was encrypted for another case")]
    Open,
}

pub struct Vault {
    identity_key: hmac::Key,
    documents: hkdf::Prk,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(***)")
    }
}

struct KeyLen;

impl hkdf::KeyType for KeyLen {
    fn len(&self) -> usize {
        32
    }
}

impl Vault {
    pub fn from_secret(secret: &[u8]) -> Self {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"globallink vault v1");
        let prk = salt.extract(secret);
        let mut identity = [0u8; 32];
        // `fill` fails only when the requested length exceeds 255 × 32 bytes.
        let _ = prk
            .expand(&[b"identity numbers"], KeyLen)
            .and_then(|okm| okm.fill(&mut identity));
        Self {
            identity_key: hmac::Key::new(hmac::HMAC_SHA256, &identity),
            documents: salt.extract(&[secret, b"documents"].concat()),
        }
    }

    /// Read the secret at `path`, creating it on first start.
    pub fn open_or_create(path: &Path) -> Result<Self, VaultError> {
        let err = |reason: String| VaultError::Secret {
            path: path.display().to_string(),
            reason,
        };
        if !path.exists() {
            let mut bytes = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| err(e.to_string()))?;
            f.write_all(&bytes)
                .and_then(|_| f.sync_all())
                .map_err(|e| err(e.to_string()))?;
        }
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        if bytes.len() < 32 {
            return Err(err("shorter than 32 bytes".into()));
        }
        Ok(Self::from_secret(&bytes))
    }

    /// Keyed hash of an identity number: lets two records of one document be matched without
    /// storing the number (a plain hash of so small a space could be brute-forced).
    pub fn identity_hmac(&self, number: &str) -> String {
        hex::encode(hmac::sign(&self.identity_key, number.as_bytes()).as_ref())
    }

    fn case_key(&self, case: &str) -> Result<LessSafeKey, VaultError> {
        let mut key = [0u8; 32];
        self.documents
            .expand(&[b"case ", case.as_bytes()], KeyLen)
            .and_then(|okm| okm.fill(&mut key))
            .map_err(|_| VaultError::Seal)?;
        let unbound = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| VaultError::Seal)?;
        Ok(LessSafeKey::new(unbound))
    }

    /// Encrypt `plain` for `case`; `label` (the document's name) is bound as associated data.
    /// Output: 12-byte random nonce, then ciphertext and tag.
    pub fn seal(&self, case: &str, label: &str, plain: &[u8]) -> Result<Vec<u8>, VaultError> {
        let key = self.case_key(case)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let mut data = plain.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(label.as_bytes()),
            &mut data,
        )
        .map_err(|_| VaultError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(out)
    }

    pub fn open(&self, case: &str, label: &str, sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
        if sealed.len() < NONCE_LEN {
            return Err(VaultError::Open);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| VaultError::Open)?;
        let key = self.case_key(case)?;
        let mut data = body.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(label.as_bytes()), &mut data)
            .map_err(|_| VaultError::Open)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip_only_for_their_case_and_name() {
        let v = Vault::from_secret(&[7u8; 32]);
        let sealed = v
            .seal("case-a", "still-1.jpg", b"\xFF\xD8\xFFphoto")
            .expect("seal");
        assert!(
            !sealed.windows(5).any(|w| w == b"photo"),
            "ciphertext hides the content"
        );
        assert_eq!(
            v.open("case-a", "still-1.jpg", &sealed).expect("open"),
            b"\xFF\xD8\xFFphoto"
        );
        assert!(
            v.open("case-b", "still-1.jpg", &sealed).is_err(),
            "another case's key"
        );
        assert!(
            v.open("case-a", "other.jpg", &sealed).is_err(),
            "another name"
        );
        let mut flipped = sealed.clone();
        flipped[20] ^= 1;
        assert!(
            v.open("case-a", "still-1.jpg", &flipped).is_err(),
            "tampered"
        );
        assert!(
            v.open("case-a", "still-1.jpg", &sealed[..5]).is_err(),
            "truncated"
        );
        let other = Vault::from_secret(&[8u8; 32]);
        assert!(
            other.open("case-a", "still-1.jpg", &sealed).is_err(),
            "another hub"
        );
    }

    #[test]
    fn identity_hmac_is_keyed_and_stable() {
        let a = Vault::from_secret(&[1u8; 32]);
        let b = Vault::from_secret(&[2u8; 32]);
        assert_eq!(
            a.identity_hmac("11010519491231002X"),
            a.identity_hmac("11010519491231002X")
        );
        assert_ne!(
            a.identity_hmac("11010519491231002X"),
            b.identity_hmac("11010519491231002X")
        );
        assert_ne!(
            a.identity_hmac("11010519491231002X"),
            crate::evidence::sha256_hex(b"11010519491231002X")
        );
    }
}
