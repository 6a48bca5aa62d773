//! Recordings at rest: AES-256-GCM in fixed chunks under a per-artefact key.
//!
//! Contract: a sealed artefact keeps each recording as `recordings/<name>.enc` (see
//! `docs/bundle.md`, "Retention"), the plaintext never touches the artefact directory. The file
//! is [`MAGIC`] followed by chunks, each [`CHUNK`] bytes of plaintext (the last one 0 to
//! [`CHUNK`]) encrypted with a 16-byte tag. Every file is encrypted under its own key, derived
//! (HKDF-SHA256) from the artefact's [`RecordingKey`] and the file's name, so chunk nonces (the
//! chunk's index) never repeat under one key. The associated data of a chunk binds the file
//! name, the chunk's index and whether it is the last, so a chunk moved, dropped, swapped with
//! another file's or cut off at the end fails to open. The plaintext length follows from the
//! ciphertext length ([`plain_len`]), so a download knows its size before decrypting.
//!
//! Destroying the [`RecordingKey`] (`seal::retention`) makes every file encrypted under it
//! unreadable: nothing else the hub holds derives it.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::{digest, hkdf};
use std::io::{self, Read, Write};

/// First bytes of every encrypted recording: names the format, and is not the EBML magic, so
/// nothing mistakes the file for a playable WebM.
pub const MAGIC: &[u8; 16] = b"GLREC-AESGCM-v1\n";
/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 << 10;
/// AES-GCM tag length: what each chunk adds to its plaintext.
pub const TAG: usize = 16;
/// Suffix of an encrypted recording at rest.
pub const SEALED_SUFFIX: &str = ".enc";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestError {
    #[error("reading or writing a recording: {0}")]
    Io(#[from] io::Error),
    #[error("not an encrypted recording (wrong magic or length)")]
    Format,
    #[error("chunk {chunk} does not open: wrong key, or the file was changed, cut or reordered")]
    Open { chunk: u64 },
    #[error("encryption failed")]
    Seal,
}

impl From<RestError> for io::Error {
    fn from(e: RestError) -> Self {
        match e {
            RestError::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

/// A fresh random 256-bit key for one artefact's recordings. Kept only wrapped in the store
/// (`vault::Vault::wrap_recording_key`); [`std::fmt::Debug`] never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordingKey([u8; 32]);

impl std::fmt::Debug for RecordingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordingKey(***)")
    }
}

impl Drop for RecordingKey {
    fn drop(&mut self) {
        // Best effort: the bytes do not outlive the value in this buffer.
        self.0 = [0u8; 32];
    }
}

struct KeyLen;

impl hkdf::KeyType for KeyLen {
    fn len(&self) -> usize {
        32
    }
}

impl RecordingKey {
    /// A new key from `rng`.
    pub fn generate(rng: &mut impl rand::RngCore) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key of the file `name`.
    fn file_key(&self, name: &str) -> Result<LessSafeKey, RestError> {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"globallink recording v1");
        let mut key = [0u8; 32];
        salt.extract(&self.0)
            .expand(&[b"file ", name.as_bytes()], KeyLen)
            .and_then(|okm| okm.fill(&mut key))
            .map_err(|_| RestError::Seal)?;
        let unbound = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| RestError::Seal)?;
        Ok(LessSafeKey::new(unbound))
    }
}

fn nonce(index: u64) -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    n[NONCE_LEN - 8..].copy_from_slice(&index.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

fn aad(name: &str, index: u64, last: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 10);
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.extend_from_slice(&index.to_be_bytes());
    out.push(u8::from(last));
    out
}

/// Length of the encrypted form of `plain` bytes.
pub fn sealed_len(plain: u64) -> u64 {
    let chunks = plain.div_ceil(CHUNK as u64).max(1);
    MAGIC.len() as u64 + plain + chunks * TAG as u64
}

/// Length of the plaintext of an encrypted file of `sealed` bytes, or `None` when no
/// plaintext encrypts to that length.
pub fn plain_len(sealed: u64) -> Option<u64> {
    let body = sealed.checked_sub(MAGIC.len() as u64)?;
    let chunks = body.div_ceil((CHUNK + TAG) as u64);
    let plain = body.checked_sub(chunks.checked_mul(TAG as u64)?)?;
    (chunks >= 1 && sealed_len(plain) == sealed).then_some(plain)
}

/// Read from `from` until `buf` is full or the input ends; returns the bytes read.
pub(crate) fn fill(from: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match from.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The encrypting side of one file, a chunk at a time and in order, for callers that read,
/// hash and write elsewhere (`seal::bundle` runs those on other threads). [`encrypt`] is the
/// same loop on one thread; both write the same bytes.
pub struct ChunkSealer {
    key: LessSafeKey,
    name: String,
    index: u64,
    done: bool,
}

impl ChunkSealer {
    /// The sealer of recording `name` under `key`; its output starts with [`MAGIC`].
    pub fn new(key: &RecordingKey, name: &str) -> Result<Self, RestError> {
        Ok(Self {
            key: key.file_key(name)?,
            name: name.to_owned(),
            index: 0,
            done: false,
        })
    }

    /// Encrypt the next chunk in place: `chunk` is its plaintext ([`CHUNK`] bytes, 0 to
    /// [`CHUNK`] for the `last`) followed by [`TAG`] bytes that receive the tag. Refuses a
    /// chunk of the wrong size and anything after the last.
    pub fn seal_chunk(&mut self, chunk: &mut [u8], last: bool) -> Result<(), RestError> {
        let plain = chunk.len().checked_sub(TAG).ok_or(RestError::Seal)?;
        if self.done || plain > CHUNK || (!last && plain != CHUNK) {
            return Err(RestError::Seal);
        }
        let (text, room) = chunk.split_at_mut(plain);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                nonce(self.index),
                Aad::from(aad(&self.name, self.index, last)),
                text,
            )
            .map_err(|_| RestError::Seal)?;
        room.copy_from_slice(tag.as_ref());
        self.index += 1;
        self.done = last;
        Ok(())
    }
}

/// Encrypt everything `from` holds into `to` as recording `name` under `key`, and return the
/// SHA-256 (hex) and length of the plaintext, read once. Refuses more than `max` plaintext bytes.
pub fn encrypt(
    key: &RecordingKey,
    name: &str,
    from: &mut impl Read,
    to: &mut impl Write,
    max: u64,
) -> Result<(String, u64), RestError> {
    let mut sealer = ChunkSealer::new(key, name)?;
    let mut hash = digest::Context::new(&digest::SHA256);
    to.write_all(MAGIC)?;
    // One chunk read ahead: a chunk is the last one when nothing follows it.
    let mut current = vec![0u8; CHUNK + TAG];
    let mut next = vec![0u8; CHUNK + TAG];
    let mut len = fill(from, &mut current[..CHUNK])?;
    let mut total = 0u64;
    loop {
        let next_len = if len == CHUNK {
            fill(from, &mut next[..CHUNK])?
        } else {
            0
        };
        let last = next_len == 0;
        total += len as u64;
        if total > max {
            return Err(RestError::Io(io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("more than {max} bytes"),
            )));
        }
        hash.update(&current[..len]);
        sealer.seal_chunk(&mut current[..len + TAG], last)?;
        to.write_all(&current[..len + TAG])?;
        if last {
            break;
        }
        std::mem::swap(&mut current, &mut next);
        len = next_len;
    }
    Ok((hex::encode(hash.finish()), total))
}

/// A reader of the plaintext of an encrypted recording, one chunk in memory at a time. Any
/// failure to open a chunk (wrong key, changed, reordered or cut file) is an
/// [`io::ErrorKind::InvalidData`] error; no plaintext of an unauthenticated chunk is returned.
pub struct Decryptor<R> {
    inner: R,
    key: LessSafeKey,
    name: String,
    /// Ciphertext read but not yet opened (at most a chunk and one byte).
    pending: Vec<u8>,
    /// Opened plaintext not yet returned: `plain[at..]`.
    plain: Vec<u8>,
    at: usize,
    index: u64,
    started: bool,
    done: bool,
}

impl<R: Read> Decryptor<R> {
    pub fn new(inner: R, key: &RecordingKey, name: &str) -> Result<Self, RestError> {
        Ok(Self {
            inner,
            key: key.file_key(name)?,
            name: name.to_owned(),
            pending: Vec::with_capacity(CHUNK + TAG + 1),
            plain: Vec::with_capacity(CHUNK + TAG),
            at: 0,
            index: 0,
            started: false,
            done: false,
        })
    }

    /// Open the next chunk into `plain`.
    fn next_chunk(&mut self) -> Result<(), RestError> {
        if !self.started {
            let mut magic = [0u8; 16];
            if fill(&mut self.inner, &mut magic)? != MAGIC.len() || &magic != MAGIC {
                return Err(RestError::Format);
            }
            self.started = true;
        }
        // Read up to one byte past a full chunk: whether it exists says if this chunk is last.
        let want = CHUNK + TAG + 1;
        let have = self.pending.len();
        self.pending.resize(want, 0);
        let n = fill(&mut self.inner, &mut self.pending[have..])?;
        self.pending.truncate(have + n);
        let last = self.pending.len() < want;
        let take = self.pending.len().min(CHUNK + TAG);
        if take < TAG {
            return Err(RestError::Open { chunk: self.index });
        }
        self.plain.clear();
        self.plain.extend(self.pending.drain(..take));
        let opened = self
            .key
            .open_in_place(
                nonce(self.index),
                Aad::from(aad(&self.name, self.index, last)),
                &mut self.plain,
            )
            .map_err(|_| RestError::Open { chunk: self.index })?
            .len();
        self.plain.truncate(opened);
        self.at = 0;
        self.index += 1;
        self.done = last;
        Ok(())
    }
}

impl<R: Read> Read for Decryptor<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.plain.len() {
            if self.done {
                return Ok(0);
            }
            if let Err(e) = self.next_chunk() {
                // Nothing more is returned after a failure.
                self.done = true;
                self.plain.clear();
                self.at = 0;
                return Err(e.into());
            }
        }
        let n = buf.len().min(self.plain.len() - self.at);
        buf[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;

    fn key(seed: u64) -> RecordingKey {
        RecordingKey::generate(&mut rand::rngs::StdRng::seed_from_u64(seed))
    }

    fn plaintext(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    fn seal(key: &RecordingKey, name: &str, plain: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let (sha, len) = encrypt(key, name, &mut &plain[..], &mut out, u64::MAX).expect("encrypt");
        assert_eq!(sha, crate::evidence::sha256_hex(plain));
        assert_eq!(len, plain.len() as u64);
        out
    }

    fn open(key: &RecordingKey, name: &str, sealed: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Decryptor::new(sealed, key, name)
            .map_err(io::Error::from)?
            .read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn round_trips_at_every_chunk_boundary_and_lengths_agree() {
        let k = key(1);
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 17] {
            let plain = plaintext(len);
            let sealed = seal(&k, "applicant.webm", &plain);
            assert_eq!(sealed.len() as u64, sealed_len(len as u64), "{len}");
            assert_eq!(plain_len(sealed.len() as u64), Some(len as u64), "{len}");
            assert!(sealed.starts_with(MAGIC));
            if len > 64 {
                assert!(
                    !sealed.windows(64).any(|w| w == &plain[..64]),
                    "the plaintext does not show through"
                );
            }
            assert_eq!(open(&k, "applicant.webm", &sealed).expect("open"), plain);
        }
        assert_eq!(plain_len(3), None, "shorter than the magic");
        assert_eq!(
            plain_len(MAGIC.len() as u64 + 5),
            None,
            "shorter than a tag"
        );
    }

    #[test]
    fn any_flipped_byte_fails_and_returns_no_plaintext_of_its_chunk() {
        let k = key(2);
        let plain = plaintext(2 * CHUNK + 100);
        let sealed = seal(&k, "officer.webm", &plain);
        for at in [0, 20, MAGIC.len() + CHUNK + 3, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[at] ^= 0x40;
            let mut out = Vec::new();
            let mut reader = Decryptor::new(&bad[..], &k, "officer.webm").expect("reader");
            let err = reader.read_to_end(&mut out).expect_err("tampered");
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "byte {at}");
            assert!(
                out.len() % CHUNK == 0 && out.len() < plain.len(),
                "byte {at}"
            );
            assert_eq!(
                out,
                plain[..out.len()],
                "only authenticated chunks come out"
            );
        }
    }

    #[test]
    fn truncation_at_or_inside_a_chunk_fails() {
        let k = key(3);
        let plain = plaintext(2 * CHUNK + 100);
        let sealed = seal(&k, "a.webm", &plain);
        let chunk = CHUNK + TAG;
        for cut in [
            MAGIC.len() + chunk,     // drop the last two chunks: a whole-chunk cut
            MAGIC.len() + 2 * chunk, // drop the short last chunk
            sealed.len() - 1,
            MAGIC.len(),
        ] {
            assert!(open(&k, "a.webm", &sealed[..cut]).is_err(), "cut at {cut}");
        }
        // An exact multiple of the chunk size: dropping the (full) last chunk is caught too.
        let even = seal(&k, "a.webm", &plaintext(2 * CHUNK));
        assert!(open(&k, "a.webm", &even[..MAGIC.len() + chunk]).is_err());
    }

    #[test]
    fn reordered_chunks_other_names_and_other_keys_fail() {
        let k = key(4);
        let plain = plaintext(3 * CHUNK);
        let sealed = seal(&k, "a.webm", &plain);
        let chunk = CHUNK + TAG;
        let mut swapped = sealed.clone();
        let (first, second) = (MAGIC.len(), MAGIC.len() + chunk);
        let one = sealed[first..first + chunk].to_vec();
        let two = sealed[second..second + chunk].to_vec();
        swapped[first..first + chunk].copy_from_slice(&two);
        swapped[second..second + chunk].copy_from_slice(&one);
        assert!(open(&k, "a.webm", &swapped).is_err(), "swapped chunks");
        assert!(open(&k, "b.webm", &sealed).is_err(), "another file's name");
        assert!(open(&key(5), "a.webm", &sealed).is_err(), "another key");
        // A chunk of another file under the same artefact key does not open here either.
        let other = seal(&k, "b.webm", &plain);
        let mut spliced = sealed.clone();
        spliced[first..first + chunk].copy_from_slice(&other[first..first + chunk]);
        assert!(open(&k, "a.webm", &spliced).is_err(), "spliced from b.webm");
        let mut plain_file = b"\x1a\x45\xdf\xa3".to_vec();
        plain_file.extend_from_slice(&plain);
        assert!(
            open(&k, "a.webm", &plain_file).is_err(),
            "not encrypted at all"
        );
    }

    #[test]
    fn encrypt_refuses_more_than_the_limit() {
        let mut out = Vec::new();
        let plain = plaintext(CHUNK + 10);
        let err = encrypt(&key(6), "a.webm", &mut &plain[..], &mut out, CHUNK as u64)
            .expect_err("too large");
        assert!(matches!(err, RestError::Io(ref e) if e.kind() == io::ErrorKind::FileTooLarge));
    }

    #[test]
    fn the_key_is_not_printed() {
        let k = RecordingKey::from_bytes([0xAB; 32]);
        assert_eq!(format!("{k:?}"), "RecordingKey(***)");
    }
}
