//! RFC 9162 section 2.1 Merkle tree: hashing, inclusion and consistency proofs.
//!
//! Contract: [`root`], [`inclusion_proof`] and [`consistency_proof`] follow the recursive
//! definitions MTH, PATH and SUBPROOF of RFC 9162 sections 2.1.1, 2.1.3.1 and 2.1.4.1 (split at
//! the largest power of two smaller than n), so their output is byte-identical to Certificate
//! Transparency and Go `transparency-dev/merkle` logs. [`verify_inclusion`] and
//! [`verify_consistency`] are the step-by-step algorithms of sections 2.1.3.2 and 2.1.4.2; the
//! cases those algorithms leave out (equal sizes, an empty old tree) are handled as
//! `transparency-dev/merkle` does, requiring an empty proof. Sizes and indices are `u64`
//! throughout, as on the wire. [`MerkleLog`] keeps the leaf hashes in memory together with the
//! roots of its largest perfect subtrees, so appending is amortised O(1) and the current root is
//! O(log n); roots of past sizes and proofs are O(n) hashes.

use super::LogError;
use ring::digest;

/// A SHA-256 tree hash.
pub type Hash = [u8; 32];

/// Root of the empty tree: SHA-256 of the empty string (RFC 9162 section 2.1.1).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

fn finish(ctx: digest::Context) -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Leaf hash: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&[LEAF_PREFIX]);
    ctx.update(data);
    finish(ctx)
}

/// Interior node hash: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&[NODE_PREFIX]);
    ctx.update(left);
    ctx.update(right);
    finish(ctx)
}

/// Largest power of two strictly smaller than `n`, for `n >= 2` (returns 1 below that).
fn split_point(n: usize) -> usize {
    if n < 2 {
        return 1;
    }
    let below = n - 1;
    1usize << (usize::BITS - 1 - below.leading_zeros())
}

fn to_u64(n: usize) -> u64 {
    // usize is at most 64 bits on every target Rust supports.
    n as u64
}

/// MTH over leaf hashes (RFC 9162 section 2.1.1): n - 1 node hashes, recursion depth log2(n).
pub fn root(leaf_hashes: &[Hash]) -> Hash {
    match leaf_hashes {
        [] => EMPTY_ROOT,
        [only] => *only,
        _ => {
            let (left, right) = leaf_hashes.split_at(split_point(leaf_hashes.len()));
            node_hash(&root(left), &root(right))
        }
    }
}

/// PATH(m, D[n]) into `out`, deepest sibling first. `leaves` is non-empty and `m < leaves.len()`.
fn path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    if leaves.len() < 2 {
        return;
    }
    let k = split_point(leaves.len());
    let (left, right) = leaves.split_at(k);
    if m < k {
        path(m, left, out);
        out.push(root(right));
    } else {
        path(m - k, right, out);
        out.push(root(left));
    }
}

/// SUBPROOF(m, D[n], b) into `out`, for `0 < m <= leaves.len()`.
fn subproof(m: usize, leaves: &[Hash], complete: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m >= n {
        if !complete {
            out.push(root(leaves));
        }
        return;
    }
    let k = split_point(n);
    let (left, right) = leaves.split_at(k);
    if m <= k {
        subproof(m, left, complete, out);
        out.push(root(right));
    } else {
        subproof(m - k, right, false, out);
        out.push(root(left));
    }
}

/// Inclusion proof (audit path) for leaf `index` in the tree made of all of `leaf_hashes`
/// (RFC 9162 section 2.1.3.1).
pub fn inclusion_proof(leaf_hashes: &[Hash], index: u64) -> Result<Vec<Hash>, LogError> {
    let size = to_u64(leaf_hashes.len());
    if size == 0 {
        return Err(LogError::EmptyTree);
    }
    let m = usize::try_from(index)
        .ok()
        .filter(|m| *m < leaf_hashes.len())
        .ok_or(LogError::IndexOutOfRange { index, size })?;
    let mut out = Vec::new();
    path(m, leaf_hashes, &mut out);
    Ok(out)
}

/// Consistency proof from the tree of the first `old_size` leaves to the tree made of all of
/// `leaf_hashes` (RFC 9162 section 2.1.4.1). Empty when `old_size` is 0 or the full size, the
/// cases in which [`verify_consistency`] expects an empty proof.
pub fn consistency_proof(leaf_hashes: &[Hash], old_size: u64) -> Result<Vec<Hash>, LogError> {
    let new_size = to_u64(leaf_hashes.len());
    let m = usize::try_from(old_size)
        .ok()
        .filter(|m| *m <= leaf_hashes.len())
        .ok_or(LogError::OldSizeTooLarge { old_size, new_size })?;
    let mut out = Vec::new();
    if m > 0 {
        subproof(m, leaf_hashes, true, &mut out);
    }
    Ok(out)
}

/// Right-shifts `fn_` and `sn` together until `fn_` has its low bit set or is 0.
fn shift_until_odd_or_zero(fn_: &mut u64, sn: &mut u64) {
    while *fn_ & 1 == 0 && *fn_ != 0 {
        *fn_ >>= 1;
        *sn >>= 1;
    }
}

/// Verifies that `leaf_hash` is leaf `index` of the tree of `tree_size` leaves whose root is
/// `root`, by the algorithm of RFC 9162 section 2.1.3.2, step for step.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), LogError> {
    if tree_size == 0 {
        return Err(LogError::EmptyTree);
    }
    // 1. leaf_index must be smaller than tree_size.
    if index >= tree_size {
        return Err(LogError::IndexOutOfRange {
            index,
            size: tree_size,
        });
    }
    // 2. fn = leaf_index, sn = tree_size - 1.
    let mut fn_ = index;
    let mut sn = tree_size - 1;
    // 3. r = hash.
    let mut r = *leaf_hash;
    // 4. For each p in the inclusion path:
    for p in proof {
        // a. sn = 0 with hashes left: fail.
        if sn == 0 {
            return Err(LogError::ProofTooLong);
        }
        // b. LSB(fn) set or fn = sn: p is a left sibling.
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                shift_until_odd_or_zero(&mut fn_, &mut sn);
            }
        } else {
            r = node_hash(&r, p);
        }
        // c. Shift once.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. sn must be 0 and r must equal the root.
    if sn != 0 {
        return Err(LogError::ProofTooShort);
    }
    if r != *root {
        return Err(LogError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `new_size` leaves with root `new_root` extends the tree of
/// `old_size` leaves with root `old_root`, by the algorithm of RFC 9162 section 2.1.4.2, step
/// for step. Outside `0 < old_size < new_size`: equal sizes need an empty proof and equal
/// roots, an empty old tree needs an empty proof and the empty root, and a shrinking tree fails.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), LogError> {
    if old_size > new_size {
        return Err(LogError::OldSizeTooLarge { old_size, new_size });
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(LogError::ProofNotEmpty { len: proof.len() });
        }
        if old_root != new_root {
            return Err(LogError::NewRootMismatch);
        }
        return Ok(());
    }
    if old_size == 0 {
        if !proof.is_empty() {
            return Err(LogError::ProofNotEmpty { len: proof.len() });
        }
        if *old_root != EMPTY_ROOT {
            return Err(LogError::OldRootMismatch);
        }
        return Ok(());
    }
    // From here 0 < first < second, the case RFC 9162 section 2.1.4.2 describes.
    // 1. An empty consistency_path fails.
    let Some((head, tail)) = proof.split_first() else {
        return Err(LogError::EmptyProof);
    };
    // 2. If first is an exact power of 2, prepend first_hash to consistency_path.
    let (start, rest): (&Hash, &[Hash]) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        (head, tail)
    };
    // 3. fn = first - 1, sn = second - 1.
    let mut fn_ = old_size - 1;
    let mut sn = new_size - 1;
    // 4. While LSB(fn) is set, shift both.
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5. fr = sr = the first value of consistency_path.
    let mut fr = *start;
    let mut sr = *start;
    // 6. For each subsequent value c:
    for c in rest {
        // a. sn = 0 with hashes left: fail.
        if sn == 0 {
            return Err(LogError::ProofTooLong);
        }
        // b. LSB(fn) set or fn = sn: c is a left sibling in both trees.
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                shift_until_odd_or_zero(&mut fn_, &mut sn);
            }
        } else {
            sr = node_hash(&sr, c);
        }
        // c. Shift once.
        fn_ >>= 1;
        sn >>= 1;
    }
    // 7. sn = 0, fr = first_hash, sr = second_hash.
    if sn != 0 {
        return Err(LogError::ProofTooShort);
    }
    if fr != *old_root {
        return Err(LogError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(LogError::NewRootMismatch);
    }
    Ok(())
}

/// An in-memory append-only Merkle log over leaf hashes.
///
/// Besides the leaf hashes it keeps the roots of the perfect subtrees that make up the current
/// tree (one per set bit of the size, largest first), so [`MerkleLog::root`] is O(log n).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MerkleLog {
    leaves: Vec<Hash>,
    frontier: Vec<Hash>,
}

impl MerkleLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// A log holding `leaf_hashes` in order, as loaded back from storage.
    pub fn from_leaf_hashes(leaf_hashes: Vec<Hash>) -> Self {
        let mut log = Self {
            leaves: Vec::with_capacity(leaf_hashes.len()),
            frontier: Vec::new(),
        };
        for hash in leaf_hashes {
            log.append_leaf_hash(hash);
        }
        log
    }

    /// Appends a leaf with the given data and returns its index.
    pub fn append(&mut self, data: &[u8]) -> u64 {
        self.append_leaf_hash(leaf_hash(data))
    }

    /// Appends an already computed leaf hash and returns its index.
    pub fn append_leaf_hash(&mut self, hash: Hash) -> u64 {
        let index = to_u64(self.leaves.len());
        self.leaves.push(hash);
        // Merge with every perfect subtree of equal height: one per trailing set bit of index.
        let mut node = hash;
        let mut carry = index;
        while carry & 1 == 1 {
            match self.frontier.pop() {
                Some(left) => node = node_hash(&left, &node),
                None => break,
            }
            carry >>= 1;
        }
        self.frontier.push(node);
        index
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        to_u64(self.leaves.len())
    }

    /// Whether the log has no leaves.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// All leaf hashes, in order.
    pub fn leaf_hashes(&self) -> &[Hash] {
        &self.leaves
    }

    /// The hash of leaf `index`, if it exists.
    pub fn leaf_hash(&self, index: u64) -> Option<Hash> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.leaves.get(i))
            .copied()
    }

    /// Root of the current tree, in O(log n).
    pub fn root(&self) -> Hash {
        let mut nodes = self.frontier.iter().rev();
        let Some(last) = nodes.next() else {
            return EMPTY_ROOT;
        };
        nodes.fold(*last, |acc, left| node_hash(left, &acc))
    }

    fn prefix(&self, size: u64) -> Result<&[Hash], LogError> {
        usize::try_from(size)
            .ok()
            .and_then(|n| self.leaves.get(..n))
            .ok_or(LogError::SizeOutOfRange {
                requested: size,
                available: self.size(),
            })
    }

    /// Root of the tree made of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, LogError> {
        if size == self.size() {
            return Ok(self.root());
        }
        Ok(root(self.prefix(size)?))
    }

    /// Inclusion proof for leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        inclusion_proof(self.prefix(size)?, index)
    }

    /// Consistency proof from the tree of the first `old_size` leaves to that of the first
    /// `new_size` leaves.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, LogError> {
        consistency_proof(self.prefix(new_size)?, old_size)
    }
}
