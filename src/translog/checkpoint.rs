//! C2SP checkpoints (`c2sp.org/tlog-checkpoint`) in signed notes (`c2sp.org/signed-note`),
//! signed and verified with Ed25519.
//!
//! Contract: a checkpoint body is exactly `<origin>\n<decimal size>\n<base64 root>\n`, written
//! without extension lines and read with them tolerated (and ignored). A signed note is the body,
//! a blank line, then lines `— <key name> <base64(key id || signature)>\n`, where the dash is
//! U+2014 and the signature is Ed25519 over the body bytes including its final newline. Key ids
//! are `SHA-256(name || 0x0A || 0x01 || public key)[:4]` read big-endian, and verifier keys are
//! `<name>+<8 hex digits key id>+<base64(0x01 || public key)>`. The formats and the parsing
//! rules (valid key names, no control characters other than newline, the text ends at the last
//! blank line, at most [`MAX_NOTE_SIGNATURES`] signatures) are those of
//! `golang.org/x/mod/sumdb/note`, so notes interoperate with Go tooling both ways. Opening a
//! note ignores signatures by other keys, fails if any signature by the expected key does not
//! verify, and fails if there is none. Base64 is decoded strictly (padding and zero trailing
//! bits required), which Go's encoder always produces.

use super::LogError;
use super::merkle::Hash;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use std::fmt;
use std::str::FromStr;

/// Most signature lines a note may carry before it is rejected, as in Go's `note.Open`.
pub const MAX_NOTE_SIGNATURES: usize = 100;

/// Signature type byte of Ed25519 keys in c2sp.org/signed-note.
const ALG_ED25519: u8 = 0x01;
/// Start of every signature line: U+2014 EM DASH and a space.
const SIG_PREFIX: &str = "\u{2014} ";
const ED25519_PUBLIC_KEY_LEN: usize = 32;
const ED25519_SEED_LEN: usize = 32;

/// A checkpoint: the log's origin, its tree size and the root hash at that size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Unique identity of the log, e.g. `notary.example/translog`.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 9162 root hash of the tree at `size`.
    pub root: Hash,
}

/// Whether `s` has an ASCII control character (below U+0020), newline included.
fn has_control(s: &str) -> bool {
    s.chars().any(|c| c < '\u{20}')
}

/// Whether `s` has an ASCII control character other than newline, which notes may not contain.
fn has_control_except_newline(s: &str) -> bool {
    s.chars().any(|c| c < '\u{20}' && c != '\n')
}

/// Key names are non-empty and hold no Unicode space and no `+`.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

fn check_name(name: &str) -> Result<(), LogError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(LogError::InvalidKeyName(name.to_owned()))
    }
}

fn check_origin(origin: &str) -> Result<(), LogError> {
    if origin.is_empty() {
        return Err(LogError::MalformedCheckpoint("origin is empty"));
    }
    if has_control(origin) {
        return Err(LogError::MalformedCheckpoint(
            "origin contains a newline or another control character",
        ));
    }
    Ok(())
}

fn parse_size(line: &str) -> Result<u64, LogError> {
    if line.is_empty() || !line.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LogError::MalformedCheckpoint(
            "tree size is not a decimal number",
        ));
    }
    if line.len() > 1 && line.starts_with('0') {
        return Err(LogError::MalformedCheckpoint(
            "tree size has a leading zero",
        ));
    }
    line.parse::<u64>()
        .map_err(|_| LogError::MalformedCheckpoint("tree size does not fit in 64 bits"))
}

fn parse_root(line: &str) -> Result<Hash, LogError> {
    let bytes = STANDARD
        .decode(line)
        .map_err(|_| LogError::MalformedCheckpoint("root hash is not standard base64"))?;
    Hash::try_from(bytes.as_slice())
        .map_err(|_| LogError::MalformedCheckpoint("root hash is not 32 bytes"))
}

impl Checkpoint {
    /// A checkpoint, refusing an origin that is empty or has control characters.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Result<Self, LogError> {
        let origin = origin.into();
        check_origin(&origin)?;
        Ok(Self { origin, size, root })
    }

    /// The note body: `<origin>\n<size>\n<base64 root>\n`, with no extension lines.
    pub fn to_body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        )
    }

    /// Parses a checkpoint body. Extension lines after the root are tolerated (they must be
    /// non-empty) and dropped.
    pub fn parse(body: &str) -> Result<Self, LogError> {
        let Some(text) = body.strip_suffix('\n') else {
            return Err(LogError::MalformedCheckpoint(
                "body does not end with a newline",
            ));
        };
        if has_control_except_newline(text) {
            return Err(LogError::MalformedCheckpoint(
                "body contains a control character",
            ));
        }
        let mut lines = text.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(LogError::MalformedCheckpoint(
                "body has fewer than three lines",
            ));
        };
        check_origin(origin)?;
        let size = parse_size(size)?;
        let root = parse_root(root)?;
        if lines.any(str::is_empty) {
            return Err(LogError::MalformedCheckpoint("extension line is empty"));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

/// Key id of an Ed25519 key: the first four bytes, big-endian, of
/// `SHA-256(name || 0x0A || 0x01 || public key)`.
pub fn key_id(name: &str, public_key: &[u8; ED25519_PUBLIC_KEY_LEN]) -> u32 {
    key_hash(name, &[&[ALG_ED25519], public_key])
}

/// Key hash over a name and the parts of an encoded key (type byte, then the key).
fn key_hash(name: &str, encoded_key: &[&[u8]]) -> u32 {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(name.as_bytes());
    ctx.update(b"\n");
    for part in encoded_key {
        ctx.update(part);
    }
    let sum = ctx.finish();
    sum.as_ref()
        .first_chunk::<4>()
        .map_or(0, |id| u32::from_be_bytes(*id))
}

/// Splits at the first `sep`: the text before and after it, or all of `s` and "".
fn chop(s: &str, sep: char) -> (&str, &str) {
    s.split_once(sep).unwrap_or((s, ""))
}

fn parse_key_id(hex8: &str) -> Option<u32> {
    if hex8.len() != 8 || !hex8.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex8, 16).ok()
}

/// Signs `body` as a note with one signature line by `key_pair` under key name `name`.
///
/// The body must end with a newline and hold no control characters other than newlines.
pub fn sign_note(body: &str, name: &str, key_pair: &Ed25519KeyPair) -> Result<String, LogError> {
    check_name(name)?;
    if !body.ends_with('\n') {
        return Err(LogError::MalformedNote("text does not end with a newline"));
    }
    if has_control_except_newline(body) {
        return Err(LogError::MalformedNote(
            "text contains a control character other than newline",
        ));
    }
    let public_key: &[u8; ED25519_PUBLIC_KEY_LEN] = key_pair
        .public_key()
        .as_ref()
        .try_into()
        .map_err(|_| LogError::KeyRejected("Ed25519 public key is not 32 bytes".into()))?;
    let id = key_id(name, public_key);
    let signature = key_pair.sign(body.as_bytes());
    let mut raw = Vec::with_capacity(4 + signature.as_ref().len());
    raw.extend_from_slice(&id.to_be_bytes());
    raw.extend_from_slice(signature.as_ref());
    Ok(format!(
        "{body}\n{SIG_PREFIX}{name} {}\n",
        STANDARD.encode(raw)
    ))
}

/// Checks the signed note `note` against `verifier` and returns its text (the body, final
/// newline included).
///
/// Fails on a malformed note, on more than [`MAX_NOTE_SIGNATURES`] signatures, on any signature
/// by the verifier's key that does not verify, and when there is no signature by that key.
/// Signatures by other keys are ignored, as the signed-note specification requires.
pub fn verify_note<'a>(note: &'a str, verifier: &LogVerifier) -> Result<&'a str, LogError> {
    if has_control_except_newline(note) {
        return Err(LogError::MalformedNote(
            "note contains a control character other than newline",
        ));
    }
    let Some(split) = note.rfind("\n\n") else {
        return Err(LogError::MalformedNote(
            "no blank line separates the text from the signatures",
        ));
    };
    let (Some(text), Some(sigs)) = (note.get(..split + 1), note.get(split + 2..)) else {
        return Err(LogError::MalformedNote(
            "no blank line separates the text from the signatures",
        ));
    };
    let Some(sigs) = sigs.strip_suffix('\n') else {
        return Err(LogError::MalformedNote(
            "signature block is empty or does not end with a newline",
        ));
    };
    let mut verified = false;
    for (count, line) in sigs.split('\n').enumerate() {
        if count >= MAX_NOTE_SIGNATURES {
            return Err(LogError::TooManySignatures);
        }
        let Some(line) = line.strip_prefix(SIG_PREFIX) else {
            return Err(LogError::MalformedNote(
                "signature line does not start with an em dash and a space",
            ));
        };
        let (name, b64) = chop(line, ' ');
        if !is_valid_name(name) {
            return Err(LogError::MalformedNote(
                "signature key name is empty or contains a space or '+'",
            ));
        }
        if b64.is_empty() {
            return Err(LogError::MalformedNote("signature line has no signature"));
        }
        let raw = STANDARD
            .decode(b64)
            .map_err(|_| LogError::MalformedNote("signature is not standard base64"))?;
        let Some((id, signature)) = raw.split_first_chunk::<4>() else {
            return Err(LogError::MalformedNote(
                "signature is shorter than a key id and one byte",
            ));
        };
        if signature.is_empty() {
            return Err(LogError::MalformedNote(
                "signature is shorter than a key id and one byte",
            ));
        }
        let id = u32::from_be_bytes(*id);
        if name != verifier.name || id != verifier.key_id {
            continue;
        }
        UnparsedPublicKey::new(&ED25519, &verifier.public_key)
            .verify(text.as_bytes(), signature)
            .map_err(|_| LogError::InvalidSignature {
                name: verifier.name.clone(),
                key_id: verifier.key_id,
            })?;
        verified = true;
    }
    if !verified {
        return Err(LogError::UnknownKey {
            name: verifier.name.clone(),
            key_id: verifier.key_id,
        });
    }
    Ok(text)
}

/// Verifies a signed checkpoint against `verifier` ([`verify_note`]) and parses its body.
///
/// The origin is not compared with anything: use [`LogVerifier::open_checkpoint`] to also
/// require the expected origin.
pub fn open_note(note: &str, verifier: &LogVerifier) -> Result<Checkpoint, LogError> {
    Checkpoint::parse(verify_note(note, verifier)?)
}

/// The public half of a log key: name, key id and Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogVerifier {
    name: String,
    key_id: u32,
    public_key: [u8; ED25519_PUBLIC_KEY_LEN],
}

impl LogVerifier {
    /// Parses a verifier key `<name>+<8 hex digits key id>+<base64(0x01 || public key)>`,
    /// checking that the key id is the one derived from the name and key.
    pub fn new(vkey: &str) -> Result<Self, LogError> {
        let (name, rest) = chop(vkey, '+');
        let (hex8, key64) = chop(rest, '+');
        check_name(name)?;
        let stated = parse_key_id(hex8).ok_or(LogError::MalformedVerifierKey(
            "key id is not 8 hexadecimal digits",
        ))?;
        let encoded = STANDARD
            .decode(key64)
            .map_err(|_| LogError::MalformedVerifierKey("key is not standard base64"))?;
        let Some((&alg, key)) = encoded.split_first() else {
            return Err(LogError::MalformedVerifierKey("key is empty"));
        };
        let computed = key_hash(name, &[&encoded]);
        if computed != stated {
            return Err(LogError::KeyIdMismatch { stated, computed });
        }
        if alg != ALG_ED25519 {
            return Err(LogError::UnsupportedAlgorithm(alg));
        }
        let public_key = <[u8; ED25519_PUBLIC_KEY_LEN]>::try_from(key)
            .map_err(|_| LogError::MalformedVerifierKey("Ed25519 public key is not 32 bytes"))?;
        Ok(Self {
            name: name.to_owned(),
            key_id: stated,
            public_key,
        })
    }

    /// A verifier for a raw Ed25519 public key under key name `name`.
    pub fn from_public_key(
        name: &str,
        public_key: [u8; ED25519_PUBLIC_KEY_LEN],
    ) -> Result<Self, LogError> {
        check_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, &public_key),
            public_key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> &[u8; ED25519_PUBLIC_KEY_LEN] {
        &self.public_key
    }

    /// The verifier key string, `<name>+<key id>+<base64(0x01 || public key)>`.
    pub fn vkey(&self) -> String {
        let mut encoded = Vec::with_capacity(1 + ED25519_PUBLIC_KEY_LEN);
        encoded.push(ALG_ED25519);
        encoded.extend_from_slice(&self.public_key);
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(encoded)
        )
    }

    /// [`verify_note`] with this key.
    pub fn verify_note<'a>(&self, note: &'a str) -> Result<&'a str, LogError> {
        verify_note(note, self)
    }

    /// Verifies a signed checkpoint and requires its origin to be `origin`.
    pub fn open_checkpoint(&self, note: &str, origin: &str) -> Result<Checkpoint, LogError> {
        let checkpoint = open_note(note, self)?;
        if checkpoint.origin != origin {
            return Err(LogError::OriginMismatch {
                expected: origin.to_owned(),
                found: checkpoint.origin,
            });
        }
        Ok(checkpoint)
    }
}

impl FromStr for LogVerifier {
    type Err = LogError;

    fn from_str(vkey: &str) -> Result<Self, LogError> {
        Self::new(vkey)
    }
}

impl fmt::Display for LogVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.vkey())
    }
}

/// The private half of a log key: name and Ed25519 key pair. Signs checkpoints.
pub struct LogSigner {
    name: String,
    key_id: u32,
    public_key: [u8; ED25519_PUBLIC_KEY_LEN],
    key_pair: Ed25519KeyPair,
}

impl fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

impl LogSigner {
    /// A signer for `key_pair` under key name `name`.
    pub fn new(name: &str, key_pair: Ed25519KeyPair) -> Result<Self, LogError> {
        check_name(name)?;
        let public_key =
            <[u8; ED25519_PUBLIC_KEY_LEN]>::try_from(key_pair.public_key().as_ref())
                .map_err(|_| LogError::KeyRejected("Ed25519 public key is not 32 bytes".into()))?;
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, &public_key),
            public_key,
            key_pair,
        })
    }

    /// A signer from a PKCS#8 Ed25519 private key (v2 as ring writes it, or v1 as OpenSSL
    /// does). A v2 document whose public key does not match its private key is refused.
    pub fn from_pkcs8(name: &str, pkcs8: &[u8]) -> Result<Self, LogError> {
        // ring checks a v2 document's public key against its seed; v1 has none to check.
        let key_pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .map_err(|e| LogError::KeyRejected(e.to_string()))?;
        Self::new(name, key_pair)
    }

    /// A signer from a raw 32-byte Ed25519 seed (the RFC 8032 private key).
    pub fn from_seed(name: &str, seed: &[u8; ED25519_SEED_LEN]) -> Result<Self, LogError> {
        let key_pair = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|e| LogError::KeyRejected(e.to_string()))?;
        Self::new(name, key_pair)
    }

    /// A signer from a Go `note` signer key,
    /// `PRIVATE+KEY+<name>+<8 hex digits key id>+<base64(0x01 || seed)>`, checking that the key
    /// id matches the derived public key.
    pub fn from_skey(skey: &str) -> Result<Self, LogError> {
        let (private, rest) = chop(skey, '+');
        let (key, rest) = chop(rest, '+');
        let (name, rest) = chop(rest, '+');
        let (hex8, key64) = chop(rest, '+');
        if private != "PRIVATE" || key != "KEY" {
            return Err(LogError::MalformedSignerKey(
                "does not start with PRIVATE+KEY+",
            ));
        }
        check_name(name)?;
        let stated = parse_key_id(hex8).ok_or(LogError::MalformedSignerKey(
            "key id is not 8 hexadecimal digits",
        ))?;
        let encoded = STANDARD
            .decode(key64)
            .map_err(|_| LogError::MalformedSignerKey("key is not standard base64"))?;
        let Some((&alg, seed)) = encoded.split_first() else {
            return Err(LogError::MalformedSignerKey("key is empty"));
        };
        if alg != ALG_ED25519 {
            return Err(LogError::UnsupportedAlgorithm(alg));
        }
        let seed = <[u8; ED25519_SEED_LEN]>::try_from(seed)
            .map_err(|_| LogError::MalformedSignerKey("Ed25519 seed is not 32 bytes"))?;
        let signer = Self::from_seed(name, &seed)?;
        if signer.key_id != stated {
            return Err(LogError::KeyIdMismatch {
                stated,
                computed: signer.key_id,
            });
        }
        Ok(signer)
    }

    /// Generates a fresh key and returns the signer with its PKCS#8 v2 document, which the
    /// caller stores (secretly) to rebuild the signer with [`LogSigner::from_pkcs8`].
    pub fn generate(name: &str) -> Result<(Self, Vec<u8>), LogError> {
        check_name(name)?;
        let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| LogError::KeyRejected("random number generator failed".into()))?;
        let pkcs8 = document.as_ref().to_vec();
        let signer = Self::from_pkcs8(name, &pkcs8)?;
        Ok((signer, pkcs8))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> &[u8; ED25519_PUBLIC_KEY_LEN] {
        &self.public_key
    }

    /// The matching verifier.
    pub fn verifier(&self) -> LogVerifier {
        LogVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            public_key: self.public_key,
        }
    }

    /// The verifier key string to publish.
    pub fn vkey(&self) -> String {
        self.verifier().vkey()
    }

    /// Signs an arbitrary note text ([`sign_note`] with this key).
    pub fn sign_note(&self, body: &str) -> Result<String, LogError> {
        sign_note(body, &self.name, &self.key_pair)
    }

    /// Signs a checkpoint, refusing an origin that is empty or has control characters.
    pub fn sign_checkpoint(&self, checkpoint: &Checkpoint) -> Result<String, LogError> {
        check_origin(&checkpoint.origin)?;
        self.sign_note(&checkpoint.to_body())
    }
}
