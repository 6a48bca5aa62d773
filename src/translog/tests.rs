//! Tests of the transparency log against published reference vectors, plus property tests.
//!
//! Vector sources (copied verbatim, hex or base64 as published):
//! - transparency-dev/merkle `testonly/constants.go`: `LeafInputs()`, `NodeHashes()`,
//!   `RootHashes()` (the same inputs and roots as google/certificate-transparency
//!   `cpp/merkletree/merkle_tree_test.cc` `kInputs` / `kSHA256Roots`).
//! - transparency-dev/merkle `proof/verify_test.go`: `inclusionProofs`, `consistencyProofs` and
//!   the corruption probes (= certificate-transparency `kSHA256Paths` / `kSHA256Proofs`).
//! - transparency-dev/merkle `proof/proof_test.go`: which node ids make up each proof in
//!   `TestInclusion` / `TestConsistency`; the expected hashes are those ids looked up in
//!   `NodeHashes()`, with `rehash` ranges folded as `node_hash(i, j)` (see `TestRehash`).
//! - golang/mod `sumdb/note/note_test.go`: PeterNeumann / EnochRoot keys and signed notes.
//! - C2SP/C2SP `tlog-checkpoint.md` and `signed-note.md`: the example notes.

use super::checkpoint::{Checkpoint, LogSigner, LogVerifier, open_note, sign_note, verify_note};
use super::merkle::{
    EMPTY_ROOT, Hash, MerkleLog, consistency_proof, inclusion_proof, leaf_hash, node_hash, root,
    verify_consistency, verify_inclusion,
};
use super::{LogError, MAX_NOTE_SIGNATURES, key_id};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;

fn h(hex_str: &str) -> Hash {
    let bytes = hex::decode(hex_str).expect("test vector is hex");
    Hash::try_from(bytes.as_slice()).expect("test vector is 32 bytes")
}

fn hs(hexes: &[&str]) -> Vec<Hash> {
    hexes.iter().map(|x| h(x)).collect()
}

// ---------------------------------------------------------------------------------------------
// Reference vectors: transparency-dev/merkle testonly/constants.go

/// `LeafInputs()`, hex.
const LEAF_INPUTS: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// `NodeHashes()`: level 0 (leaf hashes) to level 3 (root of all eight).
const NODE_HASHES: [&[&str]; 4] = [
    &[
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    &[
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];

/// `RootHashes()`, indexed by tree size 0..=8 (size 0 is `EmptyRootHash()`).
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

// Reference vectors: transparency-dev/merkle proof/verify_test.go

/// `sha256SomeHash`.
const SOME_HASH: &str = "abacaba000000000000000000000000000000000000000000060061e00123456";

/// `inclusionProofs` as (1-based leaf, tree size, proof); `{0, 0, nil}` is the invalid entry the
/// Go test skips too.
const INCLUSION_PROOFS: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        3,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        2,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// `consistencyProofs` as (size1, size2, proof).
const CONSISTENCY_PROOFS: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn leaf_inputs() -> Vec<Vec<u8>> {
    LEAF_INPUTS
        .iter()
        .map(|x| hex::decode(x).expect("hex"))
        .collect()
}

fn reference_leaf_hashes() -> Vec<Hash> {
    leaf_inputs().iter().map(|d| leaf_hash(d)).collect()
}

fn roots() -> Vec<Hash> {
    ROOTS.iter().map(|x| h(x)).collect()
}

/// `NodeHashes()[level][index]`, i.e. `compact.NewNodeID(level, index)` in proof_test.go.
fn id(level: usize, index: usize) -> Hash {
    h(NODE_HASHES[level][index])
}

// ---------------------------------------------------------------------------------------------
// Hashing and roots

#[test]
fn empty_root_is_sha256_of_nothing() {
    assert_eq!(root(&[]), EMPTY_ROOT);
    assert_eq!(EMPTY_ROOT, h(ROOTS[0]));
    assert_eq!(MerkleLog::new().root(), EMPTY_ROOT);
}

#[test]
fn leaf_and_node_hashes_match_reference() {
    let leaves = reference_leaf_hashes();
    assert_eq!(leaves, hs(NODE_HASHES[0]));
    for (level, hashes) in NODE_HASHES.iter().enumerate().skip(1) {
        for (i, want) in hashes.iter().enumerate() {
            let got = node_hash(&id(level - 1, 2 * i), &id(level - 1, 2 * i + 1));
            assert_eq!(got, h(want), "node ({level}, {i})");
        }
    }
}

#[test]
fn roots_match_reference_for_every_size() {
    let leaves = reference_leaf_hashes();
    let want = roots();
    for size in 0..=8 {
        assert_eq!(root(&leaves[..size]), want[size], "root of size {size}");
    }
}

#[test]
fn merkle_log_matches_reference_one_at_a_time_and_in_chunks() {
    let want = roots();
    let mut log = MerkleLog::new();
    for (i, data) in leaf_inputs().iter().enumerate() {
        assert_eq!(log.append(data), i as u64);
        assert_eq!(log.size(), i as u64 + 1);
        assert_eq!(log.root(), want[i + 1]);
        for (size, want_root) in want.iter().enumerate().take(i + 2) {
            assert_eq!(log.root_at(size as u64), Ok(*want_root));
        }
        assert_eq!(
            log.root_at(i as u64 + 2),
            Err(LogError::SizeOutOfRange {
                requested: i as u64 + 2,
                available: i as u64 + 1
            })
        );
    }
    let leaves = reference_leaf_hashes();
    let mut chunks = MerkleLog::from_leaf_hashes(leaves[..3].to_vec());
    assert_eq!(chunks.root(), want[3]);
    for hash in &leaves[3..] {
        chunks.append_leaf_hash(*hash);
    }
    assert_eq!(chunks, log);
    assert_eq!(chunks.root(), want[8]);
    assert_eq!(chunks.leaf_hash(7), Some(leaves[7]));
    assert_eq!(chunks.leaf_hash(8), None);
    assert_eq!(chunks.leaf_hash(u64::MAX), None);
}

#[test]
fn large_log_root_is_linear() {
    // 100k leaves: the incremental root, the recursive MTH and a root after reload all agree.
    let mut log = MerkleLog::new();
    for i in 0u32..100_000 {
        log.append(&i.to_be_bytes());
    }
    let start = std::time::Instant::now();
    let recursive = root(log.leaf_hashes());
    let elapsed = start.elapsed();
    assert_eq!(log.root(), recursive);
    assert_eq!(log.root_at(100_000), Ok(recursive));
    assert_eq!(
        MerkleLog::from_leaf_hashes(log.leaf_hashes().to_vec()).root(),
        recursive
    );
    // ~100k node hashes; quadratic work would take minutes.
    assert!(
        elapsed.as_secs() < 20,
        "root of 100k leaves took {elapsed:?}"
    );
    let proof = log.inclusion_proof(77_777, 100_000).expect("in range");
    assert_eq!(proof.len(), 17);
    verify_inclusion(
        &log.leaf_hashes()[77_777],
        77_777,
        100_000,
        &proof,
        &recursive,
    )
    .expect("verifies");
}

// ---------------------------------------------------------------------------------------------
// Inclusion proofs

/// The corruption probes of `corruptInclusionProof` in proof/verify_test.go, with garbage of the
/// fixed 32-byte hash size where the Go test uses an empty or short slice.
fn corrupt_inclusion(
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
    leaf: &Hash,
) -> Vec<(String, u64, u64, Vec<Hash>, Hash, Hash)> {
    let some = h(SOME_HASH);
    let garbage = [0u8; 32];
    let mut probes = vec![
        (
            "leafIndex - 1".to_owned(),
            index.wrapping_sub(1),
            size,
            proof.to_vec(),
            *root,
            *leaf,
        ),
        (
            "leafIndex + 1".to_owned(),
            index + 1,
            size,
            proof.to_vec(),
            *root,
            *leaf,
        ),
        (
            "leafIndex ^ 2".to_owned(),
            index ^ 2,
            size,
            proof.to_vec(),
            *root,
            *leaf,
        ),
        (
            "treeSize * 2".to_owned(),
            index,
            size * 2,
            proof.to_vec(),
            *root,
            *leaf,
        ),
        (
            "treeSize / 2".to_owned(),
            index,
            size / 2,
            proof.to_vec(),
            *root,
            *leaf,
        ),
        (
            "wrong leaf".to_owned(),
            index,
            size,
            proof.to_vec(),
            *root,
            leaf_hash(b"WrongLeaf"),
        ),
        (
            "empty root".to_owned(),
            index,
            size,
            proof.to_vec(),
            EMPTY_ROOT,
            *leaf,
        ),
        (
            "random root".to_owned(),
            index,
            size,
            proof.to_vec(),
            some,
            *leaf,
        ),
        (
            "trailing garbage".to_owned(),
            index,
            size,
            [proof, &[garbage][..]].concat(),
            *root,
            *leaf,
        ),
        (
            "trailing root".to_owned(),
            index,
            size,
            [proof, &[*root][..]].concat(),
            *root,
            *leaf,
        ),
        (
            "preceding garbage".to_owned(),
            index,
            size,
            [&[garbage][..], proof].concat(),
            *root,
            *leaf,
        ),
        (
            "preceding root".to_owned(),
            index,
            size,
            [&[*root][..], proof].concat(),
            *root,
            *leaf,
        ),
    ];
    for i in 0..proof.len() {
        let mut wrong = proof.to_vec();
        wrong[i][0] ^= 8;
        probes.push((
            format!("modified proof[{i}] bit 3"),
            index,
            size,
            wrong,
            *root,
            *leaf,
        ));
    }
    if let Some((_, init)) = proof.split_last() {
        probes.push((
            "removed component".to_owned(),
            index,
            size,
            init.to_vec(),
            *root,
            *leaf,
        ));
    }
    if proof.len() > 1 {
        let wrong = [&proof[..1], &[some][..], &proof[1..]].concat();
        probes.push((
            "inserted component".to_owned(),
            index,
            size,
            wrong,
            *root,
            *leaf,
        ));
    }
    probes
}

fn check_inclusion_and_corruptions(
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
    leaf: &Hash,
) {
    verify_inclusion(leaf, index, size, proof, root).expect("known good proof verifies");
    for (desc, i, s, p, r, l) in corrupt_inclusion(index, size, proof, root, leaf) {
        assert!(
            verify_inclusion(&l, i, s, &p, &r).is_err(),
            "incorrectly verified against {desc} (index {index}, size {size})"
        );
    }
}

#[test]
fn inclusion_proofs_match_reference_vectors() {
    let leaves = reference_leaf_hashes();
    let want_roots = roots();
    for (leaf, size, proof) in INCLUSION_PROOFS {
        let index = leaf - 1;
        let want = hs(proof);
        let got = inclusion_proof(&leaves[..size as usize], index).expect("in range");
        assert_eq!(got, want, "inclusion proof for {index} in {size}");
        let root = want_roots[size as usize];
        check_inclusion_and_corruptions(index, size, &want, &root, &leaves[index as usize]);
    }
}

#[test]
fn inclusion_proofs_match_reference_node_layout() {
    // proof/proof_test.go TestInclusion; a..j are the leaves, g h i level 1, k l level 2.
    let (a, b, c, d, e, f, j) = (
        id(0, 0),
        id(0, 1),
        id(0, 2),
        id(0, 3),
        id(0, 4),
        id(0, 5),
        id(0, 6),
    );
    let (g, hh, i) = (id(1, 0), id(1, 1), id(1, 2));
    let k = id(2, 0);
    let l7 = node_hash(&i, &j); // rehash(2, 4): l = hash(i, j)
    let cases: Vec<(u64, u64, Vec<Hash>)> = vec![
        (1, 0, vec![]),
        (2, 0, vec![b]),
        (2, 1, vec![a]),
        (3, 1, vec![a, c]),
        (7, 0, vec![b, hh, l7]),
        (7, 1, vec![a, hh, l7]),
        (7, 2, vec![d, g, l7]),
        (7, 3, vec![c, g, l7]),
        (7, 4, vec![f, j, k]),
        (7, 5, vec![e, j, k]),
        (7, 6, vec![i, k]),
        (4, 2, vec![d, g]),
        (5, 3, vec![c, g, e]),
        (6, 3, vec![c, g, i]),
        (6, 4, vec![f, k]),
    ];
    let leaves = reference_leaf_hashes();
    let want_roots = roots();
    for (size, index, want) in cases {
        let got = inclusion_proof(&leaves[..size as usize], index).expect("in range");
        assert_eq!(got, want, "inclusion proof for {index} in {size}");
        verify_inclusion(
            &leaves[index as usize],
            index,
            size,
            &got,
            &want_roots[size as usize],
        )
        .expect("verifies");
    }
}

#[test]
fn every_inclusion_proof_of_the_reference_tree_verifies() {
    let leaves = reference_leaf_hashes();
    let want_roots = roots();
    let log = MerkleLog::from_leaf_hashes(leaves.clone());
    for size in 1..=8u64 {
        for index in 0..size {
            let proof = log.inclusion_proof(index, size).expect("in range");
            check_inclusion_and_corruptions(
                index,
                size,
                &proof,
                &want_roots[size as usize],
                &leaves[index as usize],
            );
        }
    }
}

#[test]
fn inclusion_rejects_bad_parameters() {
    // proof/verify_test.go TestVerifyInclusion probes {0,0} {0,1} {1,0} {2,1}.
    let some = h(SOME_HASH);
    for (index, size) in [(0, 0), (0, 1), (1, 0), (2, 1)] {
        assert!(verify_inclusion(&some, index, size, &[], &EMPTY_ROOT).is_err());
        assert!(verify_inclusion(&EMPTY_ROOT, index, size, &[], &some).is_err());
    }
    assert_eq!(
        verify_inclusion(&some, 0, 0, &[], &some),
        Err(LogError::EmptyTree)
    );
    assert_eq!(
        verify_inclusion(&some, 2, 1, &[], &some),
        Err(LogError::IndexOutOfRange { index: 2, size: 1 })
    );
    assert_eq!(inclusion_proof(&[], 0), Err(LogError::EmptyTree));
    let leaves = reference_leaf_hashes();
    assert_eq!(
        inclusion_proof(&leaves, 8),
        Err(LogError::IndexOutOfRange { index: 8, size: 8 })
    );
    assert_eq!(
        inclusion_proof(&leaves, u64::MAX),
        Err(LogError::IndexOutOfRange {
            index: u64::MAX,
            size: 8
        })
    );
    let log = MerkleLog::from_leaf_hashes(leaves.clone());
    assert_eq!(
        log.inclusion_proof(0, 9),
        Err(LogError::SizeOutOfRange {
            requested: 9,
            available: 8
        })
    );
    // Length errors are reported as such.
    let proof = log.inclusion_proof(5, 8).expect("in range");
    let root8 = log.root();
    assert_eq!(
        verify_inclusion(&leaves[5], 5, 8, &proof[..2], &root8),
        Err(LogError::ProofTooShort)
    );
    assert_eq!(
        verify_inclusion(
            &leaves[5],
            5,
            8,
            &[proof.clone(), vec![root8]].concat(),
            &root8
        ),
        Err(LogError::ProofTooLong)
    );
    assert_eq!(
        verify_inclusion(&leaves[4], 5, 8, &proof, &root8),
        Err(LogError::RootMismatch)
    );
}

#[test]
fn inclusion_single_entry() {
    // proof/verify_test.go TestVerifyInclusionSingleEntry.
    let hash = leaf_hash(b"data");
    assert_eq!(verify_inclusion(&hash, 0, 1, &[], &hash), Ok(()));
    assert_eq!(
        verify_inclusion(&hash, 0, 1, &[], &EMPTY_ROOT),
        Err(LogError::RootMismatch)
    );
    assert_eq!(
        verify_inclusion(&EMPTY_ROOT, 0, 1, &[], &hash),
        Err(LogError::RootMismatch)
    );
}

// ---------------------------------------------------------------------------------------------
// Consistency proofs

/// The corruption probes of `corruptConsistencyProof` in proof/verify_test.go.
fn corrupt_consistency(
    size1: u64,
    size2: u64,
    root1: &Hash,
    root2: &Hash,
    proof: &[Hash],
) -> Vec<(String, u64, u64, Hash, Hash, Vec<Hash>)> {
    let wrong_root = leaf_hash(b"WrongRoot");
    let garbage = [0u8; 32];
    let p = proof.to_vec();
    let mut probes = vec![
        (
            "size1 - 1".to_owned(),
            size1.wrapping_sub(1),
            size2,
            *root1,
            *root2,
            p.clone(),
        ),
        (
            "size1 + 1".to_owned(),
            size1 + 1,
            size2,
            *root1,
            *root2,
            p.clone(),
        ),
        (
            "size1 ^ 2".to_owned(),
            size1 ^ 2,
            size2,
            *root1,
            *root2,
            p.clone(),
        ),
        (
            "size2 * 2".to_owned(),
            size1,
            size2 * 2,
            *root1,
            *root2,
            p.clone(),
        ),
        (
            "size2 / 2".to_owned(),
            size1,
            size2 / 2,
            *root1,
            *root2,
            p.clone(),
        ),
        (
            "wrong root1".to_owned(),
            size1,
            size2,
            wrong_root,
            *root2,
            p.clone(),
        ),
        (
            "wrong root2".to_owned(),
            size1,
            size2,
            *root1,
            wrong_root,
            p.clone(),
        ),
        (
            "swapped roots".to_owned(),
            size1,
            size2,
            *root2,
            *root1,
            p.clone(),
        ),
        (
            "empty proof".to_owned(),
            size1,
            size2,
            *root1,
            *root2,
            vec![],
        ),
        (
            "trailing garbage".to_owned(),
            size1,
            size2,
            *root1,
            *root2,
            [proof, &[garbage][..]].concat(),
        ),
        (
            "trailing root1".to_owned(),
            size1,
            size2,
            *root1,
            *root2,
            [proof, &[*root1][..]].concat(),
        ),
        (
            "trailing root2".to_owned(),
            size1,
            size2,
            *root1,
            *root2,
            [proof, &[*root2][..]].concat(),
        ),
        (
            "preceding garbage".to_owned(),
            size1,
            size2,
            *root1,
            *root2,
            [&[garbage][..], proof].concat(),
        ),
        (
            "preceding root1".to_owned(),
            size1,
            size2,
            *root1,
            *root2,
            [&[*root1][..], proof].concat(),
        ),
        (
            "preceding root2".to_owned(),
            size1,
            size2,
            *root1,
            *root2,
            [&[*root2][..], proof].concat(),
        ),
    ];
    if let Some(first) = proof.first() {
        probes.push((
            "preceding proof[0]".to_owned(),
            size1,
            size2,
            *root1,
            *root2,
            [&[*first][..], proof].concat(),
        ));
    }
    if let Some((_, init)) = proof.split_last() {
        probes.push((
            "truncated proof".to_owned(),
            size1,
            size2,
            *root1,
            *root2,
            init.to_vec(),
        ));
    }
    for i in 0..proof.len() {
        let mut wrong = p.clone();
        wrong[i][0] ^= 16;
        probes.push((
            format!("modified proof[{i}] bit 4"),
            size1,
            size2,
            *root1,
            *root2,
            wrong,
        ));
    }
    probes
}

fn check_consistency_and_corruptions(
    size1: u64,
    size2: u64,
    root1: &Hash,
    root2: &Hash,
    proof: &[Hash],
) {
    verify_consistency(size1, size2, root1, root2, proof).expect("known good proof verifies");
    // Like the Go test, probe only non-trivial proofs.
    if proof.is_empty() {
        return;
    }
    for (desc, s1, s2, r1, r2, p) in corrupt_consistency(size1, size2, root1, root2, proof) {
        assert!(
            verify_consistency(s1, s2, &r1, &r2, &p).is_err(),
            "incorrectly verified against {desc} ({size1} -> {size2})"
        );
    }
}

#[test]
fn consistency_proofs_match_reference_vectors() {
    let leaves = reference_leaf_hashes();
    let want_roots = roots();
    for (size1, size2, proof) in CONSISTENCY_PROOFS {
        let want = hs(proof);
        let got = consistency_proof(&leaves[..size2 as usize], size1).expect("in range");
        assert_eq!(got, want, "consistency proof {size1} -> {size2}");
        check_consistency_and_corruptions(
            size1,
            size2,
            &want_roots[size1 as usize],
            &want_roots[size2 as usize],
            &want,
        );
    }
}

#[test]
fn consistency_proofs_match_reference_node_layout() {
    // proof/proof_test.go TestConsistency.
    let (b, c, d, e, f, j, leaf7) = (
        id(0, 1),
        id(0, 2),
        id(0, 3),
        id(0, 4),
        id(0, 5),
        id(0, 6),
        id(0, 7),
    );
    let (g, hh, i) = (id(1, 0), id(1, 1), id(1, 2));
    let (k, l) = (id(2, 0), id(2, 1));
    let l7 = node_hash(&i, &j); // rehash: l = hash(i, j) in the tree of size 7
    let cases: Vec<(u64, u64, Vec<Hash>)> = vec![
        (1, 2, vec![b]),
        (1, 4, vec![b, hh]),
        (1, 6, vec![b, hh, i]),
        (2, 3, vec![c]),
        (2, 8, vec![hh, l]),
        (3, 7, vec![c, d, g, l7]),
        (4, 7, vec![l7]),
        (5, 7, vec![e, f, j, k]),
        (6, 7, vec![i, j, k]),
        (7, 8, vec![j, leaf7, i, k]),
        (1, 1, vec![]),
        (2, 2, vec![]),
        (3, 3, vec![]),
        (4, 4, vec![]),
        (5, 5, vec![]),
        (7, 7, vec![]),
        (8, 8, vec![]),
        (2, 4, vec![hh]),
        (3, 5, vec![c, d, g, e]),
        (3, 6, vec![c, d, g, i]),
        (4, 6, vec![i]),
        (1, 7, vec![b, hh, l7]),
    ];
    let leaves = reference_leaf_hashes();
    let want_roots = roots();
    for (size1, size2, want) in cases {
        let got = consistency_proof(&leaves[..size2 as usize], size1).expect("in range");
        assert_eq!(got, want, "consistency proof {size1} -> {size2}");
        verify_consistency(
            size1,
            size2,
            &want_roots[size1 as usize],
            &want_roots[size2 as usize],
            &got,
        )
        .expect("verifies");
    }
    // Errors: {5, 0} and {9, 8}.
    assert_eq!(
        consistency_proof(&[], 5),
        Err(LogError::OldSizeTooLarge {
            old_size: 5,
            new_size: 0
        })
    );
    assert_eq!(
        consistency_proof(&leaves, 9),
        Err(LogError::OldSizeTooLarge {
            old_size: 9,
            new_size: 8
        })
    );
}

#[test]
fn every_consistency_proof_of_the_reference_tree_verifies() {
    let want_roots = roots();
    let log = MerkleLog::from_leaf_hashes(reference_leaf_hashes());
    for size2 in 0..=8u64 {
        for size1 in 0..=size2 {
            let proof = log.consistency_proof(size1, size2).expect("in range");
            check_consistency_and_corruptions(
                size1,
                size2,
                &want_roots[size1 as usize],
                &want_roots[size2 as usize],
                &proof,
            );
        }
    }
}

/// (size1, size2, root1, root2, proof, want error).
type ConsistencyCase<'a> = (u64, u64, Hash, Hash, &'a [Hash], bool);

#[test]
fn consistency_edge_cases() {
    // proof/verify_test.go TestVerifyConsistency, with fixed hashes for the "don't care" roots.
    let root1 = leaf_hash(b"don't care 1");
    let root2 = leaf_hash(b"don't care 2");
    let empty: &[Hash] = &[];
    let one = [EMPTY_ROOT];
    let cases: Vec<ConsistencyCase> = vec![
        (0, 0, root1, root2, empty, true),
        (1, 1, root1, root2, empty, true),
        // Sizes that are always consistent.
        (0, 0, root1, root1, empty, false),
        // Stricter than Go, which ignores root1 here: the size-0 root must be the empty root.
        (0, 1, EMPTY_ROOT, root2, empty, false),
        (0, 1, root1, root2, empty, true),
        (1, 1, root2, root2, empty, false),
        // Time travel to the past.
        (1, 0, root1, root2, empty, true),
        (2, 1, root1, root2, empty, true),
        // Empty proof.
        (1, 2, root1, root2, empty, true),
        // Roots don't match.
        (0, 0, EMPTY_ROOT, root2, empty, true),
        (1, 1, EMPTY_ROOT, root2, empty, true),
        // Roots match but the proof is not empty.
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, &one, true),
        (0, 1, EMPTY_ROOT, EMPTY_ROOT, &one, true),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, &one, true),
    ];
    for (size1, size2, r1, r2, proof, want_err) in cases {
        let got = verify_consistency(size1, size2, &r1, &r2, proof);
        assert_eq!(got.is_err(), want_err, "{size1} -> {size2}: {got:?}");
    }
    assert_eq!(
        verify_consistency(1, 2, &root1, &root2, &[]),
        Err(LogError::EmptyProof)
    );
    assert_eq!(
        verify_consistency(2, 1, &root1, &root2, &[]),
        Err(LogError::OldSizeTooLarge {
            old_size: 2,
            new_size: 1
        })
    );
    assert_eq!(
        verify_consistency(1, 1, &root1, &root1, &one),
        Err(LogError::ProofNotEmpty { len: 1 })
    );
    let log = MerkleLog::from_leaf_hashes(reference_leaf_hashes());
    let proof = log.consistency_proof(6, 8).expect("in range");
    let (r6, r8) = (log.root_at(6).expect("size 6"), log.root());
    assert_eq!(
        verify_consistency(6, 8, &r6, &r8, &proof[..2]),
        Err(LogError::ProofTooShort)
    );
    assert_eq!(
        verify_consistency(6, 8, &r6, &r8, &[proof.clone(), vec![r8]].concat()),
        Err(LogError::ProofTooLong)
    );
    assert_eq!(
        verify_consistency(6, 8, &r8, &r8, &proof),
        Err(LogError::OldRootMismatch)
    );
    assert_eq!(
        verify_consistency(6, 8, &r6, &r6, &proof),
        Err(LogError::NewRootMismatch)
    );
    assert_eq!(
        log.consistency_proof(3, 9),
        Err(LogError::SizeOutOfRange {
            requested: 9,
            available: 8
        })
    );
    assert_eq!(
        log.consistency_proof(5, 4),
        Err(LogError::OldSizeTooLarge {
            old_size: 5,
            new_size: 4
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Property tests

fn make_leaves(size: usize, salt: u8) -> Vec<Hash> {
    (0..size)
        .map(|i| leaf_hash(&[&[salt][..], &(i as u64).to_be_bytes()].concat()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn prop_every_inclusion_proof_verifies(size in 1usize..160, salt: u8) {
        let leaves = make_leaves(size, salt);
        let log = MerkleLog::from_leaf_hashes(leaves.clone());
        let root = log.root();
        prop_assert_eq!(root, super::merkle::root(&leaves));
        for index in 0..size as u64 {
            let proof = log.inclusion_proof(index, size as u64).expect("in range");
            prop_assert_eq!(
                verify_inclusion(&leaves[index as usize], index, size as u64, &proof, &root),
                Ok(())
            );
        }
    }

    #[test]
    fn prop_every_consistency_proof_verifies(size2 in 0usize..120, salt: u8) {
        let log = MerkleLog::from_leaf_hashes(make_leaves(size2, salt));
        let root2 = log.root();
        for size1 in 0..=size2 as u64 {
            let root1 = log.root_at(size1).expect("in range");
            let proof = log.consistency_proof(size1, size2 as u64).expect("in range");
            prop_assert_eq!(
                verify_consistency(size1, size2 as u64, &root1, &root2, &proof),
                Ok(())
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn prop_flipping_any_byte_breaks_inclusion(
        size in 1u64..600,
        index_seed: u64,
        mask in 1u8..=255,
        salt: u8,
    ) {
        let leaves = make_leaves(size as usize, salt);
        let index = index_seed % size;
        let proof = inclusion_proof(&leaves, index).expect("in range");
        let root = root(&leaves);
        let leaf = leaves[index as usize];
        prop_assert_eq!(verify_inclusion(&leaf, index, size, &proof, &root), Ok(()));
        for i in 0..proof.len() {
            for byte in 0..32 {
                let mut wrong = proof.clone();
                wrong[i][byte] ^= mask;
                prop_assert!(verify_inclusion(&leaf, index, size, &wrong, &root).is_err());
            }
        }
        for byte in 0..32 {
            let mut wrong_root = root;
            wrong_root[byte] ^= mask;
            prop_assert!(verify_inclusion(&leaf, index, size, &proof, &wrong_root).is_err());
            let mut wrong_leaf = leaf;
            wrong_leaf[byte] ^= mask;
            prop_assert!(verify_inclusion(&wrong_leaf, index, size, &proof, &root).is_err());
        }
    }

    #[test]
    fn prop_flipping_any_byte_breaks_consistency(
        size2 in 1u64..600,
        size1_seed: u64,
        mask in 1u8..=255,
        salt: u8,
    ) {
        let leaves = make_leaves(size2 as usize, salt);
        let size1 = size1_seed % (size2 + 1);
        let proof = consistency_proof(&leaves, size1).expect("in range");
        let root1 = root(&leaves[..size1 as usize]);
        let root2 = root(&leaves);
        prop_assert_eq!(verify_consistency(size1, size2, &root1, &root2, &proof), Ok(()));
        for i in 0..proof.len() {
            for byte in 0..32 {
                let mut wrong = proof.clone();
                wrong[i][byte] ^= mask;
                prop_assert!(verify_consistency(size1, size2, &root1, &root2, &wrong).is_err());
            }
        }
        for byte in 0..32 {
            let mut wrong1 = root1;
            wrong1[byte] ^= mask;
            prop_assert!(verify_consistency(size1, size2, &wrong1, &root2, &proof).is_err());
            // The empty tree is consistent with every tree, whatever its root.
            if size1 > 0 {
                let mut wrong2 = root2;
                wrong2[byte] ^= mask;
                prop_assert!(verify_consistency(size1, size2, &root1, &wrong2, &proof).is_err());
            }
        }
    }

    #[test]
    fn prop_verifiers_never_panic(
        index: u64,
        size: u64,
        other: u64,
        proof in proptest::collection::vec(any::<[u8; 32]>(), 0..70),
        a: [u8; 32],
        b: [u8; 32],
    ) {
        let _ = verify_inclusion(&a, index, size, &proof, &b);
        let _ = verify_inclusion(&a, index % 1024, size % 1024, &proof, &b);
        let _ = verify_consistency(other, size, &a, &b, &proof);
        let _ = verify_consistency(other % 1024, size % 1024, &a, &b, &proof);
    }

    #[test]
    fn prop_note_parsers_never_panic(text in "(?s).{0,300}", vkey in ".{0,120}") {
        let verifier = LogVerifier::new(
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ).expect("valid vkey");
        let _ = Checkpoint::parse(&text);
        let _ = verify_note(&text, &verifier);
        let _ = open_note(&text, &verifier);
        let _ = LogVerifier::new(&vkey);
        let _ = LogSigner::from_skey(&vkey);
        let noted = format!("{text}\n\n\u{2014} PeterNeumann {}\n", STANDARD.encode(text.as_bytes()));
        let _ = verify_note(&noted, &verifier);
    }

    #[test]
    fn prop_checkpoint_roundtrip(
        origin in "[a-z0-9./-]{1,40}",
        size: u64,
        root: [u8; 32],
        seed: [u8; 32],
    ) {
        let checkpoint = Checkpoint::new(origin.clone(), size, root).expect("valid origin");
        prop_assert_eq!(Checkpoint::parse(&checkpoint.to_body()), Ok(checkpoint.clone()));
        let signer = LogSigner::from_seed(&origin, &seed).expect("seed");
        let note = signer.sign_checkpoint(&checkpoint).expect("signs");
        prop_assert_eq!(open_note(&note, &signer.verifier()), Ok(checkpoint));
    }
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

/// The example of C2SP tlog-checkpoint.md.
const C2SP_CHECKPOINT: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

/// The example of C2SP signed-note.md.
const C2SP_NOTE: &str = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n\u{2014} quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";

#[test]
fn c2sp_checkpoint_example_parses() {
    let body = C2SP_CHECKPOINT
        .split("\n\n")
        .next()
        .expect("body")
        .to_owned()
        + "\n";
    let checkpoint = Checkpoint::parse(&body).expect("spec example parses");
    assert_eq!(checkpoint.origin, "example.com/behind-the-sofa");
    assert_eq!(checkpoint.size, 20_852_163);
    assert_eq!(
        STANDARD.encode(checkpoint.root),
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    );
    assert_eq!(checkpoint.to_body(), body);
    // Its key is not published: the signature is well-formed but by a key we do not know.
    let (signer, _) = LogSigner::generate("example.com/behind-the-sofa").expect("keygen");
    let verifier = signer.verifier();
    assert_eq!(
        open_note(C2SP_CHECKPOINT, &verifier),
        Err(LogError::UnknownKey {
            name: verifier.name().to_owned(),
            key_id: verifier.key_id()
        })
    );
}

#[test]
fn c2sp_signed_note_example_splits_at_the_last_blank_line() {
    // The text has a blank line of its own; only the last one separates the signatures.
    let (signer, _) = LogSigner::generate("quasimodo.example/salvatore").expect("keygen");
    assert!(matches!(
        verify_note(C2SP_NOTE, &signer.verifier()),
        Err(LogError::UnknownKey { .. })
    ));
    let text = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n";
    let ours = signer.sign_note(text).expect("signs");
    assert_eq!(verify_note(&ours, &signer.verifier()), Ok(text));
}

#[test]
fn checkpoint_parse_rejects_malformed_bodies() {
    let root = STANDARD.encode([7u8; 32]);
    let ok = format!("log.example/a\n42\n{root}\n");
    assert_eq!(
        Checkpoint::parse(&ok),
        Ok(Checkpoint {
            origin: "log.example/a".into(),
            size: 42,
            root: [7u8; 32]
        })
    );
    // Extension lines are tolerated and dropped.
    assert_eq!(
        Checkpoint::parse(&format!("{ok}ext one\next two\n")).map(|c| c.size),
        Ok(42)
    );
    let bad = [
        (
            format!("log.example/a\n42\n{root}"),
            "body does not end with a newline",
        ),
        (
            "log.example/a\n42\n".to_owned(),
            "body has fewer than three lines",
        ),
        (format!("\n42\n{root}\n"), "origin is empty"),
        (
            format!("log.example/a\n042\n{root}\n"),
            "tree size has a leading zero",
        ),
        (
            format!("log.example/a\n00\n{root}\n"),
            "tree size has a leading zero",
        ),
        (
            format!("log.example/a\n+42\n{root}\n"),
            "tree size is not a decimal number",
        ),
        (
            format!("log.example/a\n-1\n{root}\n"),
            "tree size is not a decimal number",
        ),
        (
            format!("log.example/a\n\n{root}\n"),
            "tree size is not a decimal number",
        ),
        (
            format!("log.example/a\n4 2\n{root}\n"),
            "tree size is not a decimal number",
        ),
        (
            format!("log.example/a\n18446744073709551616\n{root}\n"),
            "tree size does not fit in 64 bits",
        ),
        (
            "log.example/a\n42\n!!!!\n".to_owned(),
            "root hash is not standard base64",
        ),
        (
            format!("log.example/a\n42\n{}\n", STANDARD.encode([7u8; 31])),
            "root hash is not 32 bytes",
        ),
        (
            format!("log.example/a\n42\n{}\n", STANDARD.encode([7u8; 33])),
            "root hash is not 32 bytes",
        ),
        (
            format!("log.example/a\n42\n{}\n", root.trim_end_matches('=')),
            "root hash is not standard base64",
        ),
        (format!("{ok}\n"), "extension line is empty"),
        (
            format!("log.example/a\r\n42\n{root}\n"),
            "body contains a control character",
        ),
    ];
    for (body, reason) in bad {
        assert_eq!(
            Checkpoint::parse(&body),
            Err(LogError::MalformedCheckpoint(reason)),
            "{body:?}"
        );
    }
    assert_eq!(
        Checkpoint::parse("log.example/a\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"),
        Ok(Checkpoint {
            origin: "log.example/a".into(),
            size: 0,
            root: EMPTY_ROOT
        })
    );
    assert!(Checkpoint::new("", 1, EMPTY_ROOT).is_err());
    assert!(Checkpoint::new("a\nb", 1, EMPTY_ROOT).is_err());
}

// ---------------------------------------------------------------------------------------------
// Signed notes: golang/mod sumdb/note/note_test.go

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

#[test]
fn go_verifier_keys_parse() {
    let peter = LogVerifier::new(PETER_VKEY).expect("Go test key");
    assert_eq!(peter.name(), "PeterNeumann");
    assert_eq!(peter.key_id(), 0xc74f20a3);
    assert_eq!(peter.vkey(), PETER_VKEY);
    assert_eq!(peter.to_string(), PETER_VKEY);
    assert_eq!(key_id(peter.name(), peter.public_key()), 0xc74f20a3);
    let enoch: LogVerifier = ENOCH_VKEY.parse().expect("Go test key");
    assert_eq!(enoch.key_id(), 0xaf0cfe78);
    assert_eq!(enoch.vkey(), ENOCH_VKEY);
}

#[test]
fn go_verifier_key_manglings_are_rejected() {
    // TestNewVerifier: every proper substring and every single-byte increment fails.
    let b = PETER_VKEY.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if i != 0 || j != b.len() {
                let k = &PETER_VKEY[i..j];
                assert!(LogVerifier::new(k).is_err(), "accepted {k:?}");
            }
        }
    }
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] += 1;
        let k = String::from_utf8(m).expect("ascii");
        assert!(LogVerifier::new(&k).is_err(), "accepted {k:?}");
    }
    // Wrong length key and unknown algorithm, each with an adjusted key hash. Go decodes the
    // first one leniently (non-zero trailing bits); this module's base64 is strict, so it is
    // refused one step earlier.
    assert_eq!(
        LogVerifier::new(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        ),
        Err(LogError::MalformedVerifierKey("key is not standard base64"))
    );
    let long_key = [&[0x01u8][..], &[5u8; 33][..]].concat();
    let long_id = ring::digest::digest(
        &ring::digest::SHA256,
        &[&b"PeterNeumann\n"[..], &long_key[..]].concat(),
    );
    let long_vkey = format!(
        "PeterNeumann+{}+{}",
        hex::encode(&long_id.as_ref()[..4]),
        STANDARD.encode(&long_key)
    );
    assert_eq!(
        LogVerifier::new(&long_vkey),
        Err(LogError::MalformedVerifierKey(
            "Ed25519 public key is not 32 bytes"
        ))
    );
    assert_eq!(
        LogVerifier::new("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(LogError::UnsupportedAlgorithm(0x65))
    );
}

#[test]
fn go_signer_key_parses_and_manglings_are_rejected() {
    let signer = LogSigner::from_skey(PETER_SKEY).expect("Go test key");
    assert_eq!(signer.name(), "PeterNeumann");
    assert_eq!(signer.key_id(), 0xc74f20a3);
    // The public key derived from the private seed is the published verifier key.
    assert_eq!(signer.vkey(), PETER_VKEY);
    let b = PETER_SKEY.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if i != 0 || j != b.len() {
                let k = &PETER_SKEY[i..j];
                assert!(LogSigner::from_skey(k).is_err(), "accepted {k:?}");
            }
        }
    }
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] += 1;
        let k = String::from_utf8(m).expect("ascii");
        assert!(LogSigner::from_skey(&k).is_err(), "accepted {k:?}");
    }
}

#[test]
fn go_sign_vector_is_reproduced_byte_for_byte() {
    // TestSign: Ed25519 is deterministic, so ring must produce Go's exact note.
    let signer = LogSigner::from_skey(PETER_SKEY).expect("Go test key");
    let want = format!("{GO_TEXT}\n{PETER_SIG}");
    assert_eq!(signer.sign_note(GO_TEXT).expect("signs"), want);
    // Bad inputs: text without a final newline, invalid signer name.
    assert_eq!(
        signer.sign_note("abc"),
        Err(LogError::MalformedNote("text does not end with a newline"))
    );
    let key_pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&[1u8; 32]).expect("seed");
    assert_eq!(
        sign_note(GO_TEXT, "a+b", &key_pair),
        Err(LogError::InvalidKeyName("a+b".into()))
    );
    assert_eq!(
        sign_note(GO_TEXT, "bad name", &key_pair),
        Err(LogError::InvalidKeyName("bad name".into()))
    );
    assert!(sign_note("a\tb\n", "name", &key_pair).is_err());
}

#[test]
fn go_open_vectors() {
    let peter = LogVerifier::new(PETER_VKEY).expect("key");
    let enoch = LogVerifier::new(ENOCH_VKEY).expect("key");
    let both = format!("{GO_TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    // One signature verified, the other ignored; then the other way round.
    assert_eq!(verify_note(&both, &peter), Ok(GO_TEXT));
    assert_eq!(verify_note(&both, &enoch), Ok(GO_TEXT));
    assert_eq!(
        peter.verify_note(&format!("{GO_TEXT}\n{PETER_SIG}")),
        Ok(GO_TEXT)
    );
    // Repeated signatures are fine.
    let repeated = format!("{GO_TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}");
    assert_eq!(verify_note(&repeated, &peter), Ok(GO_TEXT));
    // No signature by the expected key.
    let (stranger, _) = LogSigner::generate("Stranger").expect("keygen");
    assert!(matches!(
        verify_note(&both, &stranger.verifier()),
        Err(LogError::UnknownKey { .. })
    ));
    // Too many signatures.
    let many = format!("{GO_TEXT}\n{}", PETER_SIG.repeat(MAX_NOTE_SIGNATURES + 1));
    assert_eq!(verify_note(&many, &peter), Err(LogError::TooManySignatures));
    let enough = format!("{GO_TEXT}\n{}", PETER_SIG.repeat(MAX_NOTE_SIGNATURES));
    assert_eq!(verify_note(&enough, &peter), Ok(GO_TEXT));
    // Invalid signature: "ABCD" spliced into the base64.
    let bad_sig = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert_eq!(
        verify_note(&format!("{GO_TEXT}\n{bad_sig}"), &peter),
        Err(LogError::InvalidSignature {
            name: "PeterNeumann".into(),
            key_id: 0xc74f20a3
        })
    );
    // A bad signature by the expected key fails the note even next to a good one.
    assert!(verify_note(&format!("{GO_TEXT}\n{PETER_SIG}{bad_sig}"), &peter).is_err());
    // A bad signature by another key is ignored.
    let enoch_bad = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
    assert_eq!(
        verify_note(&format!("{GO_TEXT}\n{PETER_SIG}{enoch_bad}"), &peter),
        Ok(GO_TEXT)
    );
    // Invalid encoded message syntax (the "\xff" case cannot be a Rust &str at all).
    let bad_msgs = [
        GO_TEXT.to_owned(),
        format!("{GO_TEXT}\n"),
        format!("{GO_TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{GO_TEXT}\n{PETER_SIG}"),
        format!(
            "{GO_TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
        ),
        format!("{GO_TEXT}\n{PETER_SIG}Unexpected line.\n"),
    ];
    for msg in bad_msgs {
        assert!(
            matches!(verify_note(&msg, &peter), Err(LogError::MalformedNote(_))),
            "accepted {msg:?}: {:?}",
            verify_note(&msg, &peter)
        );
    }
    // A signature under another name, or with another key id, is not the expected key's.
    let misnamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego");
    assert!(matches!(
        verify_note(&format!("{GO_TEXT}\n{misnamed}"), &peter),
        Err(LogError::UnknownKey { .. })
    ));
    let wrong_hash = PETER_SIG.replace("x08g", "xxxx");
    assert!(matches!(
        verify_note(&format!("{GO_TEXT}\n{wrong_hash}"), &peter),
        Err(LogError::UnknownKey { .. })
    ));
    // The Go note text is not a checkpoint.
    assert!(matches!(
        open_note(&both, &peter),
        Err(LogError::MalformedCheckpoint(_))
    ));
}

#[test]
fn malformed_signature_lines_are_rejected() {
    let peter = LogVerifier::new(PETER_VKEY).expect("key");
    let cases = [
        format!("{GO_TEXT}\n- PeterNeumann AAAAAAA=\n"),
        format!("{GO_TEXT}\n\u{2014} PeterNeumann\n"),
        format!("{GO_TEXT}\n\u{2014} PeterNeumann \n"),
        format!("{GO_TEXT}\n\u{2014}  AAAAAAA=\n"),
        format!("{GO_TEXT}\n\u{2014} Peter+Neumann AAAAAAA=\n"),
        format!("{GO_TEXT}\n\u{2014} PeterNeumann AAAA\n"),
        format!("{GO_TEXT}\n\u{2014} PeterNeumann not-base64!\n"),
        format!("{GO_TEXT}\n\u{2014} PeterNeumann AAAAAAA= extra\n"),
        format!("{GO_TEXT}\n{PETER_SIG}\n"),
    ];
    for note in cases {
        assert!(
            matches!(verify_note(&note, &peter), Err(LogError::MalformedNote(_))),
            "accepted {note:?}: {:?}",
            verify_note(&note, &peter)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Our own checkpoints end to end

fn test_signer() -> LogSigner {
    let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
    LogSigner::from_seed("notary.example/translog", &seed).expect("seed")
}

#[test]
fn signed_checkpoint_round_trip_and_tampering() {
    let signer = test_signer();
    let verifier = LogVerifier::new(&signer.vkey()).expect("own vkey parses");
    assert_eq!(verifier, signer.verifier());
    let mut log = MerkleLog::new();
    for data in leaf_inputs() {
        log.append(&data);
    }
    let checkpoint =
        Checkpoint::new("notary.example/translog", log.size(), log.root()).expect("valid");
    let note = signer.sign_checkpoint(&checkpoint).expect("signs");
    assert!(note.starts_with(&format!(
        "notary.example/translog\n8\n{}\n\n\u{2014} notary.example/translog ",
        STANDARD.encode(h(ROOTS[8]))
    )));
    assert_eq!(open_note(&note, &verifier), Ok(checkpoint.clone()));
    assert_eq!(
        verifier.open_checkpoint(&note, "notary.example/translog"),
        Ok(checkpoint.clone())
    );
    assert_eq!(
        verifier.open_checkpoint(&note, "other.example/log"),
        Err(LogError::OriginMismatch {
            expected: "other.example/log".into(),
            found: "notary.example/translog".into()
        })
    );
    // Tampered size: the signature no longer covers the body.
    let tampered = note.replacen("\n8\n", "\n9\n", 1);
    assert_eq!(
        open_note(&tampered, &verifier),
        Err(LogError::InvalidSignature {
            name: verifier.name().into(),
            key_id: verifier.key_id()
        })
    );
    // Every single-byte change of the signature is caught.
    let sig_start = note.rfind(' ').expect("signature") + 1;
    for pos in sig_start..note.len() - 1 {
        let mut bytes = note.clone().into_bytes();
        bytes[pos] = if bytes[pos] == b'A' { b'B' } else { b'A' };
        if let Ok(text) = String::from_utf8(bytes)
            && text != note
        {
            assert!(
                open_note(&text, &verifier).is_err(),
                "accepted change at {pos}"
            );
        }
    }
    // Another key under the same name has another key id: its signature is not ours.
    let other = LogSigner::from_seed("notary.example/translog", &[9u8; 32]).expect("seed");
    assert!(matches!(
        open_note(
            &other.sign_checkpoint(&checkpoint).expect("signs"),
            &verifier
        ),
        Err(LogError::UnknownKey { .. })
    ));
    // Checkpoint with a bad origin is refused at signing time.
    let bad = Checkpoint {
        origin: "a\nb".into(),
        size: 1,
        root: EMPTY_ROOT,
    };
    assert!(matches!(
        signer.sign_checkpoint(&bad),
        Err(LogError::MalformedCheckpoint(_))
    ));
    // Cosigned by a witness whose key we do not know: still opens.
    let witness = LogSigner::from_seed("witness.example", &[3u8; 32]).expect("seed");
    let witness_line = witness.sign_checkpoint(&checkpoint).expect("signs");
    let witness_line = witness_line.rsplit_once("\n\n").expect("sig").1;
    let cosigned = format!("{note}{witness_line}");
    assert_eq!(open_note(&cosigned, &verifier), Ok(checkpoint));
}

#[test]
fn pkcs8_keys_load() {
    let (signer, pkcs8) = LogSigner::generate("notary.example/translog").expect("keygen");
    let reloaded = LogSigner::from_pkcs8("notary.example/translog", &pkcs8).expect("reload");
    assert_eq!(reloaded.vkey(), signer.vkey());
    // PKCS#8 v1 as OpenSSL writes it (RFC 8410 section 7): prefix || 32-byte seed.
    let seed = [42u8; 32];
    let v1 = [
        &hex::decode("302e020100300506032b657004220420").expect("hex")[..],
        &seed[..],
    ]
    .concat();
    let from_v1 = LogSigner::from_pkcs8("n", &v1).expect("v1 document");
    let from_seed = LogSigner::from_seed("n", &seed).expect("seed");
    assert_eq!(from_v1.public_key(), from_seed.public_key());
    assert!(matches!(
        LogSigner::from_pkcs8("n", b"not a key"),
        Err(LogError::KeyRejected(_))
    ));
    assert_eq!(
        LogSigner::from_seed("", &seed).map(|s| s.vkey()),
        Err(LogError::InvalidKeyName(String::new()))
    );
    assert!(LogVerifier::from_public_key("n", *from_seed.public_key()).is_ok());
    assert!(format!("{from_seed:?}").contains("key_id"));
}

#[test]
fn error_messages_are_clear() {
    let cases = [
        (
            LogError::IndexOutOfRange { index: 9, size: 8 },
            "leaf index 9 is out of range for a tree of size 8",
        ),
        (
            LogError::ProofTooShort,
            "proof is too short: it ends before the root of the tree",
        ),
        (
            LogError::RootMismatch,
            "root recomputed from the proof does not match the expected root",
        ),
        (LogError::MalformedNote("x"), "malformed note: x"),
        (
            LogError::InvalidSignature {
                name: "PeterNeumann".into(),
                key_id: 0xc74f20a3,
            },
            "invalid signature for key PeterNeumann+c74f20a3",
        ),
        (
            LogError::UnknownKey {
                name: "PeterNeumann".into(),
                key_id: 0x00000001,
            },
            "note has no signature by key PeterNeumann+00000001",
        ),
    ];
    for (error, want) in cases {
        assert_eq!(error.to_string(), want);
    }
}

// ---------------------------------------------------------------------------------------------
// Cross-check vector for verify_inclusion.py (run check_python.sh, or this test with
// --nocapture and feed the TRANSLOG_VECTOR line to the script).

#[test]
fn emit_python_vector() {
    let signer = test_signer();
    let mut log = MerkleLog::new();
    let leaves: Vec<Vec<u8>> = (0..13)
        .map(|i| format!("artefact-{i}").into_bytes())
        .collect();
    for data in &leaves {
        log.append(data);
    }
    let mut inclusion = Vec::new();
    for size in 1..=log.size() {
        let root = log.root_at(size).expect("in range");
        for index in 0..size {
            let proof = log.inclusion_proof(index, size).expect("in range");
            inclusion.push(serde_json::json!({
                "index": index,
                "size": size,
                "leaf": hex::encode(&leaves[index as usize]),
                "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
                "root": hex::encode(root),
            }));
        }
    }
    let checkpoint =
        Checkpoint::new("notary.example/translog", log.size(), log.root()).expect("valid");
    let note = signer.sign_checkpoint(&checkpoint).expect("signs");
    let vector = serde_json::json!({
        "inclusion": inclusion,
        "checkpoint": {
            "note": note,
            "vkey": signer.vkey(),
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root": hex::encode(checkpoint.root),
        },
    });
    println!("TRANSLOG_VECTOR {vector}");
}
