//! The transparency log for sealed session artefacts: an append-only RFC 9162 Merkle tree and
//! its C2SP signed checkpoints. Pure logic, no IO: the caller stores leaves durably and feeds
//! them in.
//!
//! Contract: [`merkle`] owns the tree hashing of RFC 9162 section 2.1 (leaf hash
//! `SHA-256(0x00 || data)`, node hash `SHA-256(0x01 || left || right)`, empty root
//! `SHA-256("")`), the inclusion and consistency proofs a log hands out, and their verification
//! by the exact algorithms of sections 2.1.3.2 and 2.1.4.2. [`checkpoint`] owns the
//! `c2sp.org/tlog-checkpoint` body (`<origin>\n<size>\n<base64 root>\n`) and the
//! `c2sp.org/signed-note` envelope with Ed25519 signatures, byte-compatible with
//! `golang.org/x/mod/sumdb/note`. Every failure is its own [`LogError`] variant; no input,
//! however malformed, makes this module panic.

pub mod checkpoint;
pub mod merkle;

#[cfg(test)]
mod tests;

pub use checkpoint::{
    Checkpoint, LogSigner, LogVerifier, MAX_NOTE_SIGNATURES, key_id, open_note, sign_note,
    verify_note,
};
pub use merkle::{
    EMPTY_ROOT, Hash, MerkleLog, consistency_proof, inclusion_proof, leaf_hash, node_hash, root,
    verify_consistency, verify_inclusion,
};

/// Every way building, proving, signing or verifying can fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A leaf index that is not inside the tree it is proved against.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// An operation that needs at least one leaf was asked about an empty tree.
    #[error("the tree has size 0, which has no leaves to prove")]
    EmptyTree,
    /// A tree size larger than the number of leaves available.
    #[error("tree size {requested} is larger than the {available} leaves available")]
    SizeOutOfRange { requested: u64, available: u64 },
    /// A consistency proof asked from a larger tree to a smaller one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    OldSizeTooLarge { old_size: u64, new_size: u64 },
    /// The proof had hashes left over once the path reached the root.
    #[error("proof is too long: it has hashes past the root of the tree")]
    ProofTooLong,
    /// The proof ran out of hashes before the path reached the root.
    #[error("proof is too short: it ends before the root of the tree")]
    ProofTooShort,
    /// A consistency proof between different, non-empty sizes was empty.
    #[error("consistency proof is empty but the tree sizes differ")]
    EmptyProof,
    /// A proof was given where none is needed (equal sizes, or an empty old tree).
    #[error("proof has {len} hashes but must be empty for these tree sizes")]
    ProofNotEmpty { len: usize },
    /// The root recomputed from an inclusion proof is not the expected root.
    #[error("root recomputed from the proof does not match the expected root")]
    RootMismatch,
    /// The old root recomputed from a consistency proof is not the expected old root.
    #[error("old root recomputed from the consistency proof does not match the old root")]
    OldRootMismatch,
    /// The new root recomputed from a consistency proof is not the expected new root.
    #[error("new root recomputed from the consistency proof does not match the new root")]
    NewRootMismatch,
    /// A checkpoint body that does not follow c2sp.org/tlog-checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// A signed note that does not follow c2sp.org/signed-note.
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    /// A note with more signature lines than [`MAX_NOTE_SIGNATURES`].
    #[error("note has more than {MAX_NOTE_SIGNATURES} signatures")]
    TooManySignatures,
    /// A key name that is empty or has a Unicode space or a `+`.
    #[error("key name {0:?} is empty or contains a space or '+'")]
    InvalidKeyName(String),
    /// A verifier key string that is not `<name>+<8 hex key id>+<base64(0x01 || key)>`.
    #[error("malformed verifier key: {0}")]
    MalformedVerifierKey(&'static str),
    /// A signer key string that is not `PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || seed)>`.
    #[error("malformed signer key: {0}")]
    MalformedSignerKey(&'static str),
    /// A key of a signature type other than Ed25519 (0x01).
    #[error("key algorithm 0x{0:02x} is not supported, only Ed25519 (0x01) is")]
    UnsupportedAlgorithm(u8),
    /// A key string whose key id is not the one derived from its name and key.
    #[error("key id {stated:08x} does not match {computed:08x} derived from the name and key")]
    KeyIdMismatch { stated: u32, computed: u32 },
    /// Key material that ring refuses (bad PKCS#8 document, bad seed, or generation failure).
    #[error("key rejected: {0}")]
    KeyRejected(String),
    /// The note has no signature by the expected key.
    #[error("note has no signature by key {name}+{key_id:08x}")]
    UnknownKey { name: String, key_id: u32 },
    /// A signature by the expected key that does not verify.
    #[error("invalid signature for key {name}+{key_id:08x}")]
    InvalidSignature { name: String, key_id: u32 },
    /// A checkpoint signed for another log than the one expected.
    #[error("checkpoint origin {found:?} is not the expected origin {expected:?}")]
    OriginMismatch { expected: String, found: String },
}
