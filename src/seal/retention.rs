//! Retention of recordings: their key while it lasts, and its destruction at the deadline.
//!
//! Contract: each format-2 artefact has one recording key ([`super::rest::RecordingKey`]) in the
//! store, wrapped by the vault, with `retain_until`, the deadline its signed manifest commits
//! to. [`recording_key`] hands the key to a download while it exists. [`sweep`], given `now`
//! by the caller's clock, destroys every key whose deadline has passed (crypto-shredding: one
//! committed update clears it and records `destroyed_at`), then writes the artefact's
//! `retention.json` and deletes the encrypted files ([`super::bundle::destroy_recordings`]).
//! The key goes first, so a crash part way leaves files nobody can read, which [`resume`]
//! removes at the next start. The manifest, the signatures, the log proof and the chain (with
//! every `recording_segment` hash) are never touched, so the bundle still verifies and the
//! hashes stay checkable against any copy of a recording kept elsewhere.

use super::bundle::{
    BundleError, MANIFEST_JSON, Manifest, RECORDINGS_PREFIX, RETENTION_FORMAT, RetentionNote,
    StoredArtefact, destroy_recordings,
};
use super::rest::RecordingKey;
use crate::ids::ArtefactId;
use crate::store::{Store, StoreError};
use crate::vault::{Vault, VaultError};
use chrono::{DateTime, SubsecRound as _, Utc};
use std::path::Path;

/// How often the hub runs [`sweep`] after the one at start.
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RetentionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("recording key of artefact {artefact}: {source}")]
    Key {
        artefact: ArtefactId,
        #[source]
        source: VaultError,
    },
    #[error("artefact {artefact}: {reason}")]
    Artefact {
        artefact: ArtefactId,
        reason: String,
    },
    #[error("the destroying thread failed: {0}")]
    Join(String),
}

/// The key of `artefact`'s recordings while it is kept; `None` for an artefact without one
/// (sealed in format 1) or whose key was destroyed.
pub async fn recording_key(
    store: &dyn Store,
    vault: &Vault,
    artefact: ArtefactId,
) -> Result<Option<RecordingKey>, RetentionError> {
    let Some(record) = store.recording_key(artefact).await? else {
        return Ok(None);
    };
    let Some(wrapped) = record.wrapped_key else {
        return Ok(None);
    };
    vault
        .unwrap_recording_key(&artefact.to_string(), &wrapped)
        .map(Some)
        .map_err(|source| RetentionError::Key { artefact, source })
}

/// Destroy the recordings of every artefact whose retention ended at or before `now` (taken
/// to the whole second); returns the artefacts whose recordings were destroyed. An artefact
/// that cannot be handled is logged and left for the next sweep; the others go on.
pub async fn sweep(
    store: &dyn Store,
    artefacts: &Path,
    now: DateTime<Utc>,
) -> Result<Vec<ArtefactId>, RetentionError> {
    // Whole seconds, as deadlines are: the destruction time reads back from every store (and
    // in the note) exactly as recorded, and is never before a deadline it has passed.
    let now = now.trunc_subsecs(0);
    let mut done = Vec::new();
    for due in store.recording_keys_due(now).await? {
        let artefact = due.artefact_id;
        match end_retention(store, artefacts, artefact, now).await {
            Ok(true) => done.push(artefact),
            Ok(false) => {}
            Err(e) => tracing::error!(artefact = %artefact, "ending retention: {e}"),
        }
    }
    if !done.is_empty() {
        tracing::info!(
            artefacts = done.len(),
            "destroyed recordings at end of retention"
        );
    }
    Ok(done)
}

/// Destroy one artefact's key, then its files. False when there was nothing to destroy.
async fn end_retention(
    store: &dyn Store,
    artefacts: &Path,
    artefact: ArtefactId,
    now: DateTime<Utc>,
) -> Result<bool, RetentionError> {
    let Some(record) = store.artefact(artefact).await? else {
        // Sealing stopped between storing the key and recording the artefact: no artefact
        // holds files under this key, and nobody will read it.
        return Ok(store.destroy_recording_key(artefact, now).await?);
    };
    let StoredArtefact::Directory(dir) = StoredArtefact::locate(artefacts, &record.file_name)
    else {
        return Err(RetentionError::Artefact {
            artefact,
            reason: "a key for an artefact stored as a zip".into(),
        });
    };
    let manifest = read_manifest(&dir, artefact).await?;
    let deadline = match &manifest.retention {
        Some(r) if r.recordings_until <= now => r.recordings_until,
        // The signed deadline decides: destroying earlier would make the bundle fail.
        _ => {
            return Err(RetentionError::Artefact {
                artefact,
                reason: "the manifest's deadline has not passed; the key is kept".into(),
            });
        }
    };
    if !store.destroy_recording_key(artefact, now).await? {
        return Ok(false);
    }
    finish(store, &dir, &manifest, deadline, now).await?;
    tracing::info!(artefact = %artefact, "recording key destroyed at end of retention");
    Ok(true)
}

/// What a crash left behind, finished at start: for every artefact with a live recording key,
/// the recordings sealed but not yet encrypted at rest ([`crate::seal::bundle::encrypt_at_rest`])
/// and the recorder's plaintext files not yet removed (under `recordings/<session>/`, only
/// names the manifest lists); and for every artefact whose key is destroyed but that still
/// holds recordings, the note and the removal. Returns how many such repairs were made.
pub async fn resume(
    store: &dyn Store,
    vault: &Vault,
    artefacts: &Path,
    recordings: &Path,
) -> Result<usize, RetentionError> {
    let mut finished = 0;
    for record in store.artefacts().await? {
        let StoredArtefact::Directory(dir) = StoredArtefact::locate(artefacts, &record.file_name)
        else {
            continue;
        };
        let Some(key) = store.recording_key(record.id).await? else {
            continue;
        };
        if key.destroyed_at.is_none()
            && let Some(plain) = recording_key(store, vault, record.id).await?
        {
            let at = dir.clone();
            let encrypted = tokio::task::spawn_blocking(move || {
                crate::seal::bundle::encrypt_at_rest(&at, &plain, &[])
            })
            .await
            .map_err(|e| BundleError::Stored {
                path: dir.clone(),
                reason: format!("encryption at rest stopped: {e}"),
            })??;
            if encrypted > 0 {
                tracing::info!(artefact = %record.id, encrypted, "encrypted recordings a crash left in plaintext");
                finished += 1;
            }
        }
        let session_dir = recordings.join(record.session_id.to_string());
        if session_dir.is_dir() {
            let manifest = read_manifest(&dir, record.id).await?;
            let left: Vec<_> = manifest
                .files
                .iter()
                .filter_map(|f| f.path.strip_prefix(RECORDINGS_PREFIX))
                .map(|name| session_dir.join(name))
                .filter(|path| path.symlink_metadata().is_ok())
                .collect();
            if !left.is_empty() {
                for path in &left {
                    std::fs::remove_file(path).map_err(|source| BundleError::Io {
                        path: path.clone(),
                        source,
                    })?;
                }
                tracing::info!(artefact = %record.id, files = left.len(), "removed plaintext recordings left by a crash");
                finished += 1;
            }
        }
        if !dir.join("recordings").is_dir() {
            continue;
        }
        let Some(destroyed_at) = key.destroyed_at else {
            continue;
        };
        let manifest = read_manifest(&dir, record.id).await?;
        let Some(retention) = &manifest.retention else {
            continue;
        };
        finish(
            store,
            &dir,
            &manifest,
            retention.recordings_until,
            destroyed_at,
        )
        .await?;
        finished += 1;
    }
    Ok(finished)
}

async fn read_manifest(dir: &Path, artefact: ArtefactId) -> Result<Manifest, RetentionError> {
    let bytes = StoredArtefact::Directory(dir.to_owned()).small_entry(MANIFEST_JSON)?;
    serde_json::from_slice(&bytes).map_err(|e| RetentionError::Artefact {
        artefact,
        reason: format!("manifest.json: {e}"),
    })
}

/// Write the note and remove the files, off the async threads, and record the bundle's new
/// size.
async fn finish(
    store: &dyn Store,
    dir: &Path,
    manifest: &Manifest,
    deadline: DateTime<Utc>,
    destroyed_at: DateTime<Utc>,
) -> Result<(), RetentionError> {
    let note = RetentionNote {
        format: RETENTION_FORMAT.to_owned(),
        artefact_id: manifest.artefact_id,
        recordings_until: deadline,
        destroyed_at,
        destroyed: manifest
            .files
            .iter()
            .filter(|f| f.path.starts_with(RECORDINGS_PREFIX))
            .cloned()
            .collect(),
    };
    let dir = dir.to_owned();
    let size = tokio::task::spawn_blocking(move || -> Result<u64, BundleError> {
        destroy_recordings(&dir, &note)?;
        Ok(StoredArtefact::Directory(dir).zip()?.len())
    })
    .await
    .map_err(|e| RetentionError::Join(e.to_string()))??;
    store.set_artefact_size(manifest.artefact_id, size).await?;
    Ok(())
}

/// Run [`sweep`] now and then every [`SWEEP_EVERY`], reading the time from `clock`, until the
/// hub stops.
pub async fn run(
    store: std::sync::Arc<dyn Store>,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    artefacts: std::path::PathBuf,
) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(e) = sweep(store.as_ref(), &artefacts, clock.now()).await {
            tracing::warn!("retention sweep: {e}");
        }
    }
}
