//! The hub's transparency log: the durable, signed edge of [`crate::translog`].
//!
//! Contract: every sealed artefact's canonical `manifest.json` becomes one leaf, appended in
//! order and committed to the store before its inclusion proof is handed out, so no bundle can
//! carry a proof the log forgets after a crash. One [`Transparency`] per hub process serialises
//! appends (the store refuses a taken or skipped index as well). Checkpoints are C2SP signed
//! notes under the log's Ed25519 key, kept at `<data>/pki/log.key` (PKCS#8 PEM, mode 0600);
//! the verifier key is published at `<data>/pki/log.vkey` and `GET /api/log/key`, and its
//! name is the log's origin, fixed when the key is made.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use crate::ids::ArtefactId;
use crate::seal::bundle::{LOG_PROOF_FORMAT, LogInclusion};
use crate::seal::pki::{pem_encode, read_pem, warn_if_exposed, write_new};
use crate::store::{Store, StoreError};
use crate::translog::{self, Checkpoint, LogError, LogSigner, LogVerifier, MerkleLog};

/// The private key file inside the PKI directory.
pub const LOG_KEY_FILE: &str = "log.key";
/// The verifier key file (`<origin>+<key id>+<base64 key>`) inside the PKI directory.
pub const LOG_VKEY_FILE: &str = "log.vkey";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransparencyError {
    #[error("log key {}: {reason}", path.display())]
    Key { path: PathBuf, reason: String },
    #[error("transparency log: {0}")]
    Log(#[from] LogError),
    #[error("transparency log storage: {0}")]
    Store(#[from] StoreError),
}

/// The log of one hub: its signer, its tree and where the tree is stored.
pub struct Transparency {
    signer: LogSigner,
    tree: Mutex<MerkleLog>,
    store: Arc<dyn Store>,
}

impl Transparency {
    /// Load the log key from `pki_dir` (creating it, named `origin`, on first start) and the
    /// leaves from the store.
    pub async fn open(
        pki_dir: &Path,
        origin: &str,
        store: Arc<dyn Store>,
    ) -> Result<Self, TransparencyError> {
        let signer = load_or_create_key(pki_dir, origin)?;
        let leaves = store.log_leaves().await?;
        Ok(Self {
            signer,
            tree: Mutex::new(MerkleLog::from_leaf_hashes(leaves)),
            store,
        })
    }

    /// The log's origin (its key's name).
    pub fn origin(&self) -> &str {
        self.signer.name()
    }

    /// The verifier key auditors trust: `<origin>+<key id>+<base64 key>`.
    pub fn vkey(&self) -> String {
        self.signer.vkey()
    }

    /// The verifier for this log's own checkpoints.
    pub fn verifier(&self) -> LogVerifier {
        self.signer.verifier()
    }

    /// Append `leaf` (a canonical manifest) for `artefact`, commit it, and prove it against
    /// the tree that now ends with it.
    pub async fn append(
        &self,
        leaf: &[u8],
        artefact: ArtefactId,
        at: DateTime<Utc>,
    ) -> Result<LogInclusion, TransparencyError> {
        let leaf_hash = translog::leaf_hash(leaf);
        let mut tree = self.tree.lock().await;
        let index = tree.size();
        self.store
            .append_log_leaf(index, &leaf_hash, artefact, at)
            .await?;
        tree.append_leaf_hash(leaf_hash);
        Ok(prove(&self.signer, &tree, index)?)
    }

    /// The signed checkpoint of the whole log as it stands.
    pub async fn checkpoint(&self) -> Result<String, TransparencyError> {
        let tree = self.tree.lock().await;
        self.sign(tree.size(), tree.root())
    }

    /// The inclusion path of leaf `index` in the tree of `size` leaves.
    pub async fn inclusion(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Vec<translog::Hash>, TransparencyError> {
        Ok(self.tree.lock().await.inclusion_proof(index, size)?)
    }

    /// The consistency proof from the tree of `old` leaves to the tree of `new` leaves.
    pub async fn consistency(
        &self,
        old: u64,
        new: u64,
    ) -> Result<Vec<translog::Hash>, TransparencyError> {
        Ok(self.tree.lock().await.consistency_proof(old, new)?)
    }

    fn sign(&self, size: u64, root: translog::Hash) -> Result<String, TransparencyError> {
        let checkpoint = Checkpoint::new(self.origin(), size, root)?;
        Ok(self.signer.sign_checkpoint(&checkpoint)?)
    }
}

/// The `log.json` for leaf `index` of `tree` as it stands, with a checkpoint signed now.
pub fn prove(signer: &LogSigner, tree: &MerkleLog, index: u64) -> Result<LogInclusion, LogError> {
    let size = tree.size();
    let proof = tree.inclusion_proof(index, size)?;
    let checkpoint = signer.sign_checkpoint(&Checkpoint::new(signer.name(), size, tree.root())?)?;
    Ok(LogInclusion {
        format: LOG_PROOF_FORMAT.to_owned(),
        origin: signer.name().to_owned(),
        leaf_index: index,
        tree_size: size,
        inclusion_proof: proof.iter().map(hex::encode).collect(),
        checkpoint,
    })
}

/// Read the log key, or make one named `origin` when the directory has none.
fn load_or_create_key(dir: &Path, origin: &str) -> Result<LogSigner, TransparencyError> {
    let key_path = dir.join(LOG_KEY_FILE);
    let vkey_path = dir.join(LOG_VKEY_FILE);
    let key_err = |path: &Path, reason: String| TransparencyError::Key {
        path: path.to_owned(),
        reason,
    };
    if key_path.exists() {
        warn_if_exposed(&key_path);
        let der =
            read_pem(&key_path, "PRIVATE KEY").map_err(|e| key_err(&key_path, e.to_string()))?;
        // The name is the origin the key was made for, read back from the public file.
        let vkey = std::fs::read_to_string(&vkey_path)
            .map_err(|e| key_err(&vkey_path, format!("{e} (it names the log)")))?;
        let verifier =
            LogVerifier::new(vkey.trim()).map_err(|e| key_err(&vkey_path, e.to_string()))?;
        let signer = LogSigner::from_pkcs8(verifier.name(), &der)
            .map_err(|e| key_err(&key_path, e.to_string()))?;
        if signer.vkey() != verifier.vkey() {
            return Err(key_err(
                &vkey_path,
                "does not match the private key beside it".to_owned(),
            ));
        }
        return Ok(signer);
    }
    let (signer, pkcs8) = LogSigner::generate(origin)?;
    write_new(
        &key_path,
        pem_encode("PRIVATE KEY", &pkcs8).as_bytes(),
        0o600,
    )
    .map_err(|e| key_err(&key_path, e.to_string()))?;
    write_new(&vkey_path, format!("{}\n", signer.vkey()).as_bytes(), 0o644)
        .map_err(|e| key_err(&vkey_path, e.to_string()))?;
    tracing::info!(origin, vkey = %signer.vkey(), "created the transparency log key");
    Ok(signer)
}

/// The log origin for a hub reached at `public_url`: its host, port and path, plus `/log`.
pub fn origin_for(public_url: &str) -> String {
    let rest = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest)
        .trim_end_matches('/');
    format!("{rest}/log")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::TestDatabase;

    /// The store on `db` for a hub in `dir` (the same data each time it is opened).
    async fn store(db: &TestDatabase, dir: &Path) -> Arc<dyn Store> {
        db.open(dir).await.expect("opens")
    }

    fn database() -> TestDatabase {
        TestDatabase::fresh().expect("a fresh test database")
    }

    #[test]
    fn origin_is_host_and_path() {
        assert_eq!(
            origin_for("https://hub.example.org/"),
            "hub.example.org/log"
        );
        assert_eq!(origin_for("http://127.0.0.1:8080"), "127.0.0.1:8080/log");
    }

    #[tokio::test]
    async fn appends_survive_a_restart_and_prove_against_signed_checkpoints() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database();
        let pki = dir.path().join("pki");
        std::fs::create_dir_all(&pki).expect("pki dir");
        let now = Utc::now();
        let log = Transparency::open(&pki, "hub.test/log", store(&db, dir.path()).await)
            .await
            .expect("opens");
        let first = log
            .append(b"manifest one", ArtefactId::random(), now)
            .await
            .expect("appends");
        let second = log
            .append(b"manifest two", ArtefactId::random(), now)
            .await
            .expect("appends");
        assert_eq!((first.leaf_index, first.tree_size), (0, 1));
        assert_eq!((second.leaf_index, second.tree_size), (1, 2));
        let verifier = log.verifier();
        let checkpoint = verifier
            .open_checkpoint(&second.checkpoint, "hub.test/log")
            .expect("signed by the log");
        let proof: Vec<translog::Hash> = second
            .inclusion_proof
            .iter()
            .map(|h| hex::decode(h).expect("hex").try_into().expect("32 bytes"))
            .collect();
        translog::verify_inclusion(
            &translog::leaf_hash(b"manifest two"),
            1,
            2,
            &proof,
            &checkpoint.root,
        )
        .expect("included");
        let vkey = log.vkey();
        let mode = {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::metadata(pki.join(LOG_KEY_FILE))
                .expect("key file")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode, 0o600);
        drop(log);

        // Same key, same leaves, after a restart; the origin sticks to the key.
        let again = Transparency::open(&pki, "other.origin/log", store(&db, dir.path()).await)
            .await
            .expect("reopens");
        assert_eq!(again.vkey(), vkey);
        assert_eq!(again.origin(), "hub.test/log");
        let third = again
            .append(b"manifest three", ArtefactId::random(), now)
            .await
            .expect("appends");
        assert_eq!(third.leaf_index, 2);
        let old = verifier
            .open_checkpoint(&second.checkpoint, "hub.test/log")
            .expect("old");
        let new = verifier
            .open_checkpoint(&third.checkpoint, "hub.test/log")
            .expect("new");
        let consistency = again.consistency(2, 3).await.expect("proof");
        translog::verify_consistency(2, 3, &old.root, &new.root, &consistency)
            .expect("append-only");
    }

    #[tokio::test]
    async fn the_store_refuses_a_forked_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database();
        let store = store(&db, dir.path()).await;
        let now = Utc::now();
        store
            .append_log_leaf(0, &[1; 32], ArtefactId::random(), now)
            .await
            .expect("first leaf");
        for index in [0, 2] {
            let err = store
                .append_log_leaf(index, &[2; 32], ArtefactId::random(), now)
                .await
                .expect_err("taken or skipped index");
            assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        }
        assert_eq!(store.log_leaves().await.expect("leaves"), vec![[1; 32]]);
    }

    #[tokio::test]
    async fn a_vkey_that_does_not_match_the_key_stops_start_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = database();
        let pki = dir.path().join("pki");
        std::fs::create_dir_all(&pki).expect("pki dir");
        Transparency::open(&pki, "hub.test/log", store(&db, dir.path()).await)
            .await
            .expect("creates");
        let (other, _) = LogSigner::generate("hub.test/log").expect("key");
        std::fs::write(pki.join(LOG_VKEY_FILE), other.vkey()).expect("overwrite");
        let err = Transparency::open(&pki, "hub.test/log", store(&db, dir.path()).await)
            .await
            .err()
            .expect("mismatch refused");
        assert!(err.to_string().contains("does not match"), "{err}");
    }
}
