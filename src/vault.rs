//! The hub secret (`<data_dir>/hub-secret`, 32 random bytes, mode 0600) and what is derived
//! from it: the keyed hash of identity numbers, and a per-case AES-256-GCM key that encrypts
//! document stills and uploads at rest, and the key that wraps each artefact's recording key
//! (`seal::rest`) in the store.

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
    #[error("the wrapped recording key is damaged or belongs to another artefact")]
    Unwrap,
}

pub struct Vault {
    identity_key: hmac::Key,
    documents: hkdf::Prk,
    /// Wraps recording keys: a key of its own, so the document keys never touch them.
    recording_wrap: LessSafeKey,
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
        let mut wrap = [0u8; 32];
        // As above: 32 bytes never exceed the limit.
        let _ = prk
            .expand(&[b"recording key wrap"], KeyLen)
            .and_then(|okm| okm.fill(&mut wrap));
        // AES-256 takes any 32 bytes, so this cannot fail.
        let unbound = UnboundKey::new(&AES_256_GCM, &wrap).unwrap_or_else(|_| unreachable!());
        Self {
            identity_key: hmac::Key::new(hmac::HMAC_SHA256, &identity),
            documents: salt.extract(&[secret, b"documents"].concat()),
            recording_wrap: LessSafeKey::new(unbound),
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

    /// Wrap (encrypt) the recording key of `artefact` for the store: a random nonce, then the
    /// key encrypted with the artefact id as associated data, so a wrapped key copied onto
    /// another artefact's row does not unwrap.
    pub fn wrap_recording_key(
        &self,
        artefact: &str,
        key: &crate::seal::rest::RecordingKey,
    ) -> Result<Vec<u8>, VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let mut data = key.as_bytes().to_vec();
        self.recording_wrap
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(wrap_aad(artefact)),
                &mut data,
            )
            .map_err(|_| VaultError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(out)
    }

    /// The recording key [`Vault::wrap_recording_key`] wrapped for `artefact`.
    pub fn unwrap_recording_key(
        &self,
        artefact: &str,
        wrapped: &[u8],
    ) -> Result<crate::seal::rest::RecordingKey, VaultError> {
        if wrapped.len() != NONCE_LEN + 32 + 16 {
            return Err(VaultError::Unwrap);
        }
        let (nonce, body) = wrapped.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| VaultError::Unwrap)?;
        let mut data = body.to_vec();
        let plain = self
            .recording_wrap
            .open_in_place(nonce, Aad::from(wrap_aad(artefact)), &mut data)
            .map_err(|_| VaultError::Unwrap)?;
        let bytes: [u8; 32] = plain.try_into().map_err(|_| VaultError::Unwrap)?;
        data.fill(0);
        Ok(crate::seal::rest::RecordingKey::from_bytes(bytes))
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

fn wrap_aad(artefact: &str) -> Vec<u8> {
    [
        b"recording key of artefact ".as_slice(),
        artefact.as_bytes(),
    ]
    .concat()
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
    fn recording_keys_unwrap_only_for_their_artefact_and_hub() {
        use crate::seal::rest::RecordingKey;
        let v = Vault::from_secret(&[7u8; 32]);
        let key = RecordingKey::from_bytes([0x5A; 32]);
        let wrapped = v.wrap_recording_key("art-1", &key).expect("wrap");
        assert!(
            !wrapped.windows(8).any(|w| w == [0x5A; 8]),
            "wrapped hides the key"
        );
        assert_eq!(
            v.unwrap_recording_key("art-1", &wrapped).expect("unwrap"),
            key
        );
        assert!(
            v.unwrap_recording_key("art-2", &wrapped).is_err(),
            "another artefact"
        );
        let other = Vault::from_secret(&[8u8; 32]);
        assert!(
            other.unwrap_recording_key("art-1", &wrapped).is_err(),
            "another hub"
        );
        let mut flipped = wrapped.clone();
        flipped[14] ^= 1;
        assert!(
            v.unwrap_recording_key("art-1", &flipped).is_err(),
            "tampered"
        );
        assert!(
            v.unwrap_recording_key("art-1", &wrapped[..40]).is_err(),
            "short"
        );
        // The wrapping key is not the documents' key of any case.
        assert!(v.open("art-1", "recording key", &wrapped).is_err());
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
