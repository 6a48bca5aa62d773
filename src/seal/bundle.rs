//! The artefact bundle: a signed manifest, the evidence chain, the recordings and documents.
//!
//! Contract: a bundle has exactly the entries `manifest.json`, `manifest.jws`, `log.json`,
//! `events.jsonl`, `recordings/<name>` for each recording and `documents/<name>` for each
//! document or still; once its recordings' retention ended, `retention.json` instead of the
//! recordings. `manifest.json` is the RFC 8785 canonical JSON of
//! a [`Manifest`], which lists every other entry with its SHA-256 and size and commits to the
//! chain's length and head and (format 2) to the recordings' retention deadline;
//! `manifest.jws` is a detached JWS over those exact bytes. The
//! zip container itself (timestamps, compression, order) is not covered by the signature:
//! everything a verifier relies on is in the signed manifest.
//!
//! At rest a sealed artefact is a directory holding those entries as files, all read-only
//! (0444). Recordings are sealed as hard links to the files the recorder wrote (copies only
//! where linking fails), hashed in one read. With a [`SealRetention`] (format 2, what the hub
//! does) [`encrypt_at_rest`] then replaces each by `recordings/<name>.enc`, encrypted
//! ([`super::rest`]), and removes the recorder's plaintext: sealing (the evidence) does not wait
//! for encryption, which follows at once and which a crash leaves for the next start to finish.
//! Without (format 1) the hard links stay. [`StoredArtefact::zip_with_key`] turns a directory into the zip auditors
//! download, decrypting recordings on the fly, the same bytes on every call; it is the one way
//! any consumer gets a bundle's zip. [`destroy_recordings`] ends the retention: the note, then
//! no recordings. Artefacts of earlier versions stored as `<id>.zip` are served as they were
//! stored.
//!
//! [`seal`] refuses a broken or foreign chain, recording names that are not plain file names and
//! an artefact that already exists, and assembles the directory under a hidden temporary name
//! that is synced and renamed into place only once complete, so a crash never leaves a half
//! artefact under the final name.

mod archive;

use self::archive::{Archive, ArchiveError, Body, Entry};
use super::jws::{JwsError, JwsJson};
use super::pki::HubIdentity;
use super::rest::{self, RecordingKey, RestError, SEALED_SUFFIX};
use crate::evidence::{self, ChainError};
use crate::ids::{ArtefactId, CaseId, SessionId};
use chrono::{DateTime, Datelike as _, Timelike as _, Utc};
use ring::digest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// `format` of a manifest that commits to a retention deadline for its recordings, which are
/// kept encrypted at rest ([`super::rest`]) and destroyed at the deadline.
pub const MANIFEST_FORMAT: &str = "globallink-artefact/2";
/// `format` of a manifest without retention: recordings kept in plaintext, indefinitely.
/// Still accepted, and written when sealing without a [`SealRetention`].
pub const MANIFEST_FORMAT_V1: &str = "globallink-artefact/1";
/// Entry name of the note the retention sweep leaves when it destroys the recordings.
pub const RETENTION_JSON: &str = "retention.json";
/// `format` of every `retention.json`.
pub const RETENTION_FORMAT: &str = "globallink-retention/1";
/// Entry name of the canonical manifest.
pub const MANIFEST_JSON: &str = "manifest.json";
/// Entry name of the detached JWS over `manifest.json`.
pub const MANIFEST_JWS: &str = "manifest.jws";
/// Entry name of the evidence chain.
pub const EVENTS_JSONL: &str = "events.jsonl";
/// Prefix of recording entries.
pub const RECORDINGS_PREFIX: &str = "recordings/";
/// Prefix of document and still entries.
pub const DOCUMENTS_PREFIX: &str = "documents/";
/// Entry name of the transparency-log inclusion proof of `manifest.json`.
pub const LOG_JSON: &str = "log.json";
/// `format` of every `log.json`.
pub const LOG_PROOF_FORMAT: &str = "globallink-log-proof/1";
/// Largest entry a bundle may hold. The verifier enforces the same limit, so [`seal`] refuses
/// anything larger rather than produce a bundle that cannot be verified.
pub const MAX_ENTRY_SIZE: u64 = 2 << 30;
/// Directories of an artefact, named like the entry prefixes.
const RECORDINGS_DIR: &str = "recordings";
const DOCUMENTS_DIR: &str = "documents";
/// The small entries, in the order they close the zip.
const TEXT_ENTRIES: [&str; 4] = [EVENTS_JSONL, MANIFEST_JSON, MANIFEST_JWS, LOG_JSON];
/// The small entries a directory may hold besides [`TEXT_ENTRIES`], zipped after them.
const OPTIONAL_ENTRIES: [&str; 1] = [RETENTION_JSON];
/// Mode of every file of a sealed artefact.
const READ_ONLY: u32 = 0o444;

/// What a bundle commits to. Serialised as RFC 8785 canonical JSON into `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub artefact_id: ArtefactId,
    pub case: ManifestCase,
    pub session: ManifestSession,
    pub participants: Vec<ManifestParticipant>,
    pub chain: ManifestChain,
    /// Every item of the service's checklist with the event that satisfied it.
    pub checklist: Vec<crate::checklist::ItemStatus>,
    /// `events.jsonl` first, then the recordings, then the documents, each sorted by path.
    pub files: Vec<ManifestFile>,
    pub sealed_at: DateTime<Utc>,
    /// Until when the recordings are kept (format 2 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<ManifestRetention>,
}

/// The retention the manifest commits to: signed, so the deadline cannot be moved afterwards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestRetention {
    /// From this instant on, the hub destroys the recordings' key and files; a recording
    /// missing from the bundle is then "destroyed at end of retention", not tampering.
    pub recordings_until: DateTime<Utc>,
}

/// What the retention sweep leaves in an artefact as `retention.json` when it destroys the
/// recordings. Not signed: what a verifier relies on is the signed deadline
/// ([`ManifestRetention`]) and the manifest's hashes; the note says which files went and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionNote {
    /// [`RETENTION_FORMAT`].
    pub format: String,
    pub artefact_id: ArtefactId,
    /// The manifest's deadline.
    pub recordings_until: DateTime<Utc>,
    /// When the key was destroyed.
    pub destroyed_at: DateTime<Utc>,
    /// The recordings destroyed, with the manifest's hash and size of each.
    pub destroyed: Vec<ManifestFile>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestCase {
    pub id: CaseId,
    pub service: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSession {
    pub id: SessionId,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// `completed`, `incomplete`, `refused`, `denied` or `interrupted`.
    pub outcome: String,
    /// Why the session did not complete.
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestParticipant {
    pub role: String,
    /// IANA time zone, so the record can show each participant's local time.
    pub tz: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestChain {
    /// Number of events in `events.jsonl`.
    pub events: u64,
    /// Hash of the last event: committing to it commits to the whole chain.
    pub head: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Entry name inside the zip.
    pub path: String,
    /// Lower-case hex SHA-256 of the entry's content.
    pub sha256: String,
    pub size: u64,
}

/// What a bundle carries in `log.json` to prove its `manifest.json` is a leaf of the hub's
/// transparency log. It comes after the signatures, so the manifest cannot commit to it; the
/// verifier recomputes the leaf from `manifest.json` and checks the proof against the signed
/// checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogInclusion {
    /// [`LOG_PROOF_FORMAT`].
    pub format: String,
    /// The log's origin, also the name of its key.
    pub origin: String,
    /// 0-based position of the leaf: the bundle's exact `manifest.json` bytes.
    pub leaf_index: u64,
    /// Size of the tree the proof and the checkpoint are for.
    pub tree_size: u64,
    /// RFC 9162 inclusion path, lowest level first, as hex.
    pub inclusion_proof: Vec<String>,
    /// The C2SP signed note (checkpoint) of the tree at `tree_size`.
    pub checkpoint: String,
}

/// Everything a bundle is made of.
#[derive(Clone, Debug)]
pub struct SealInput {
    pub artefact_id: ArtefactId,
    pub case: ManifestCase,
    pub session: ManifestSession,
    pub participants: Vec<ManifestParticipant>,
    /// The session's `events.jsonl`, exactly as it will be stored.
    pub events_jsonl: Vec<u8>,
    /// `(name inside recordings/, file on disk)`. Names must be plain file names. Each file is
    /// hard-linked into the artefact and made read-only, so it must not change afterwards.
    pub recordings: Vec<(String, PathBuf)>,
    /// `(name inside documents/, content)`: stills and uploads, decrypted.
    pub documents: Vec<(String, Vec<u8>)>,
    pub checklist: Vec<crate::checklist::ItemStatus>,
    pub sealed_at: DateTime<Utc>,
    /// Encrypt the recordings at rest and commit to a deadline (format 2); `None` keeps them
    /// as plaintext hard links (format 1).
    pub retention: Option<SealRetention>,
}

/// How a format-2 artefact keeps its recordings.
#[derive(Clone, Debug)]
pub struct SealRetention {
    /// The artefact's fresh recording key; the caller stores it (wrapped) before
    /// [`Prepared::write`] commits the artefact.
    pub key: RecordingKey,
    pub recordings_until: DateTime<Utc>,
}

/// An artefact written to disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub manifest: Manifest,
    /// Hex SHA-256 of `manifest.json`, for the store and for logs.
    pub manifest_sha256: String,
    /// Size in bytes of the bundle's zip, as [`StoredArtefact::zip`] serves it.
    pub size: u64,
    /// With retention: the recorder's files, for [`encrypt_at_rest`] to remove.
    pub originals: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    #[error("refusing to seal a broken evidence chain: {0}")]
    Chain(#[from] ChainError),
    #[error("refusing to seal an empty evidence chain")]
    EmptyChain,
    #[error("evidence chain belongs to session {found}, the bundle is for session {expected}")]
    ForeignSession {
        expected: SessionId,
        found: SessionId,
    },
    #[error("recording name {0:?} is not a plain file name")]
    RecordingName(String),
    #[error("recording name {0:?} is given twice")]
    DuplicateRecording(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{}: {size} bytes, more than the {MAX_ENTRY_SIZE} a bundle entry may hold",
        path.display()
    )]
    TooLarge { path: PathBuf, size: u64 },
    #[error("cannot serialise the manifest: {0}")]
    Manifest(String),
    #[error("cannot sign the manifest: {0}")]
    Sign(#[from] JwsError),
    #[error("output path {} is not a file path", .0.display())]
    OutPath(PathBuf),
    #[error("an artefact already exists at {}", .0.display())]
    Exists(PathBuf),
    #[error("stored artefact {}: {reason}", path.display())]
    Stored { path: PathBuf, reason: String },
    #[error("{}: {source}", path.display())]
    Rest {
        path: PathBuf,
        #[source]
        source: RestError,
    },
}

/// Whether `name` may be used as `recordings/<name>`: a plain, visible file name that every
/// unzip tool extracts where it is expected.
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains("..")
        && !name.contains(['/', '\\', ':'])
        && !name.chars().any(char::is_control)
}

/// Seal a session into the artefact directory `out`, which must not exist yet: [`prepare`],
/// then `log` appends the manifest to the transparency log, then [`Prepared::write`].
pub fn seal(
    input: SealInput,
    id: &HubIdentity,
    log: impl FnOnce(&[u8]) -> Result<LogInclusion, BundleError>,
    out: &Path,
) -> Result<Sealed, BundleError> {
    let prepared = prepare(input, id, out)?;
    let inclusion = log(prepared.manifest_json())?;
    prepared.write(&inclusion)
}

/// An artefact half written: under a hidden temporary directory beside its final place, every
/// file the manifest lists is in place and the manifest is signed. What is left is to log it
/// and add `manifest.json`, `manifest.jws` and `log.json`. Dropped unwritten, its temporary
/// directory is removed.
pub struct Prepared {
    manifest: Manifest,
    manifest_json: String,
    manifest_jws: JwsJson,
    tmp: TempDir,
    out: PathBuf,
    /// The recorder's files of a format-2 artefact, removed by [`encrypt_at_rest`].
    originals: Vec<PathBuf>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("artefact", &self.manifest.artefact_id)
            .field("out", &self.out)
            .finish_non_exhaustive()
    }
}

/// Copy buffer for recordings that cannot be linked: large, so a 100 MiB file is a hundred
/// reads and writes.
const COPY_BUFFER: usize = 1 << 20;

/// Check the chain and names; in a temporary directory beside `out`, link every recording
/// (hashing the linked file: one read of each) and write the documents and the chain; and sign
/// the canonical manifest of what is there. Recordings are linked here rather than after the
/// log append so that what was hashed is the very file the artefact holds.
pub fn prepare(input: SealInput, id: &HubIdentity, out: &Path) -> Result<Prepared, BundleError> {
    prepare_with(input, id, out, |from, to| fs::hard_link(from, to))
}

/// [`prepare`] with the way a recording is linked into the artefact, so tests can make it fail.
fn prepare_with(
    input: SealInput,
    id: &HubIdentity,
    out: &Path,
    link: impl Fn(&Path, &Path) -> io::Result<()>,
) -> Result<Prepared, BundleError> {
    let chain = evidence::verify_jsonl(&input.events_jsonl)?;
    if chain.events == 0 {
        return Err(BundleError::EmptyChain);
    }
    let found = first_event_session(&input.events_jsonl)?;
    if found != input.session.id {
        return Err(BundleError::ForeignSession {
            expected: input.session.id,
            found,
        });
    }

    let mut recordings = input.recordings;
    recordings.sort_by(|a, b| a.0.cmp(&b.0));
    let mut seen = BTreeSet::new();
    for (name, _) in &recordings {
        if !is_plain_file_name(name) {
            return Err(BundleError::RecordingName(name.clone()));
        }
        if !seen.insert(name.as_str()) {
            return Err(BundleError::DuplicateRecording(name.clone()));
        }
    }
    let mut documents = input.documents;
    documents.sort_by(|a, b| a.0.cmp(&b.0));
    let mut seen_docs = BTreeSet::new();
    for (name, bytes) in &documents {
        if !is_plain_file_name(name) {
            return Err(BundleError::RecordingName(name.clone()));
        }
        if !seen_docs.insert(name.as_str()) {
            return Err(BundleError::DuplicateRecording(name.clone()));
        }
        if bytes.len() as u64 > MAX_ENTRY_SIZE {
            return Err(BundleError::RecordingName(name.clone()));
        }
    }
    if out.symlink_metadata().is_ok() {
        return Err(BundleError::Exists(out.to_owned()));
    }

    let tmp = TempDir::create(out)?;
    let mut placed = Vec::with_capacity(recordings.len());
    if !recordings.is_empty() {
        let dir = tmp.create_subdir(RECORDINGS_DIR)?;
        let mut buffer = Vec::new();
        for (name, path) in &recordings {
            let to = dir.join(name);
            let placement = place_recording(path, &to, &link, &mut buffer)?;
            placed.push((name, to, placement));
        }
    }
    let originals = match input.retention {
        Some(_) => recordings.iter().map(|(_, path)| path.clone()).collect(),
        None => Vec::new(),
    };
    let documents_dir = match documents.is_empty() {
        true => None,
        false => Some(tmp.create_subdir(DOCUMENTS_DIR)?),
    };
    // While this thread hashes the linked recordings, another syncs them (the recorder did when
    // it stopped, but not before a crash) and writes and syncs the chain and the documents.
    let (side, hashed) = std::thread::scope(|s| {
        let side = s.spawn(|| -> Result<(), BundleError> {
            for (_, to, placement) in &placed {
                if *placement == Placement::Linked {
                    sync_file(to)?;
                }
            }
            write_read_only(&tmp.path.join(EVENTS_JSONL), &input.events_jsonl)?;
            if let Some(dir) = &documents_dir {
                for (name, bytes) in &documents {
                    write_read_only(&dir.join(name), bytes)?;
                }
            }
            Ok(())
        });
        let hashed: Result<Vec<ManifestFile>, BundleError> = placed
            .iter()
            .map(|(name, to, placement)| {
                let (sha256, size) = match placement {
                    Placement::Linked => hash_file(to)?,
                    Placement::Copied { sha256, size } => (sha256.clone(), *size),
                };
                Ok(ManifestFile {
                    path: format!("{RECORDINGS_PREFIX}{name}"),
                    sha256,
                    size,
                })
            })
            .collect();
        let side = side
            .join()
            .unwrap_or_else(|_| Err(panicked(&tmp.path, "syncing")));
        (side, hashed)
    });
    side?;
    let mut files = vec![ManifestFile {
        path: EVENTS_JSONL.to_owned(),
        sha256: evidence::sha256_hex(&input.events_jsonl),
        size: input.events_jsonl.len() as u64,
    }];
    files.extend(hashed?);
    files.extend(documents.iter().map(|(name, bytes)| ManifestFile {
        path: format!("{DOCUMENTS_PREFIX}{name}"),
        sha256: evidence::sha256_hex(bytes),
        size: bytes.len() as u64,
    }));

    let manifest = Manifest {
        format: match input.retention {
            Some(_) => MANIFEST_FORMAT,
            None => MANIFEST_FORMAT_V1,
        }
        .to_owned(),
        artefact_id: input.artefact_id,
        case: input.case,
        session: input.session,
        participants: input.participants,
        chain: ManifestChain {
            events: chain.events,
            head: chain.head,
        },
        checklist: input.checklist,
        files,
        sealed_at: input.sealed_at,
        retention: input.retention.as_ref().map(|r| ManifestRetention {
            recordings_until: r.recordings_until,
        }),
    };
    let input_sealed_at = input.sealed_at;
    let manifest_json =
        evidence::canonical_json(&manifest).map_err(|e| BundleError::Manifest(e.to_string()))?;
    let manifest_jws = super::signatures::hub_only(manifest_json.as_bytes(), id, input_sealed_at)
        .map_err(|e| BundleError::Manifest(e.to_string()))?;
    Ok(Prepared {
        manifest,
        manifest_json,
        manifest_jws,
        tmp,
        out: out.to_owned(),
        originals,
    })
}

impl Prepared {
    /// The canonical manifest bytes: the transparency-log leaf.
    pub fn manifest_json(&self) -> &[u8] {
        self.manifest_json.as_bytes()
    }

    /// The signatures that will be written as `manifest.jws`, for adding a timestamp token.
    pub fn manifest_jws_mut(&mut self) -> &mut JwsJson {
        &mut self.manifest_jws
    }

    /// Add the signed manifest and `log` as `log.json`, sync the directory and move it into
    /// place.
    pub fn write(self, log: &LogInclusion) -> Result<Sealed, BundleError> {
        let Prepared {
            manifest,
            manifest_json,
            manifest_jws,
            tmp,
            out,
            originals,
        } = self;
        let log_json =
            evidence::canonical_json(log).map_err(|e| BundleError::Manifest(e.to_string()))?;
        let manifest_jws = manifest_jws.to_text();
        let last = [
            (MANIFEST_JSON, manifest_json.as_bytes()),
            (MANIFEST_JWS, manifest_jws.as_bytes()),
            (LOG_JSON, log_json.as_bytes()),
        ];
        // Side by side: the file system commits syncs that arrive together in one go.
        std::thread::scope(|s| {
            let writers: Vec<_> = last
                .iter()
                .map(|&(name, bytes)| {
                    let path = tmp.path.join(name);
                    s.spawn(move || write_read_only(&path, bytes))
                })
                .collect();
            writers.into_iter().try_for_each(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(panicked(&tmp.path, "writing")))
            })
        })?;
        for sub in [RECORDINGS_DIR, DOCUMENTS_DIR] {
            let dir = tmp.path.join(sub);
            if dir.is_dir() {
                sync_dir(&dir)?;
            }
        }
        sync_dir(&tmp.path)?;
        let size = zip_of_dir(&tmp.path)?.len();
        // Checked again just before the rename, which would otherwise replace an empty
        // directory left there.
        if out.symlink_metadata().is_ok() {
            return Err(BundleError::Exists(out));
        }
        tmp.commit(&out)?;
        tracing::info!(
            artefact = %manifest.artefact_id,
            session = %manifest.session.id,
            out = %out.display(),
            size,
            log_index = log.leaf_index,
            "sealed artefact",
        );
        Ok(Sealed {
            manifest_sha256: evidence::sha256_hex(manifest_json.as_bytes()),
            manifest,
            size,
            originals,
        })
    }
}

/// Replace `manifest.jws` of the artefact at `artefact_dir` with `manifest_jws`, atomically: a
/// temporary file beside it, synced, renamed over it, and the directory synced. Readers see the
/// old or the new file, never a mix, and a crash leaves one of the two.
pub fn replace_manifest_jws(artefact_dir: &Path, manifest_jws: &[u8]) -> Result<(), BundleError> {
    let target = artefact_dir.join(MANIFEST_JWS);
    let meta = target
        .symlink_metadata()
        .map_err(|source| BundleError::Io {
            path: target.clone(),
            source,
        })?;
    if !meta.is_file() {
        return Err(BundleError::Stored {
            path: artefact_dir.to_owned(),
            reason: format!("{MANIFEST_JWS} is not a regular file"),
        });
    }
    let tmp = TempFile(artefact_dir.join(format!(
        ".{MANIFEST_JWS}.{}.tmp",
        uuid::Uuid::new_v4().simple()
    )));
    write_read_only(&tmp.0, manifest_jws)?;
    fs::rename(&tmp.0, &target).map_err(|source| BundleError::Io {
        path: target.clone(),
        source,
    })?;
    tmp.disarm();
    sync_dir(artefact_dir)
}

/// End the retention of the artefact at `artefact_dir`, whose recording key the caller has
/// destroyed already: write `note` as `retention.json` (unless a note is there from an earlier,
/// interrupted run, which is kept), then remove every recording and the `recordings`
/// directory, syncing each step. Idempotent, so a crash part way is finished by the next run.
pub fn destroy_recordings(artefact_dir: &Path, note: &RetentionNote) -> Result<(), BundleError> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| BundleError::Io { path, source }
    };
    let target = artefact_dir.join(RETENTION_JSON);
    if target.symlink_metadata().is_err() {
        let json =
            evidence::canonical_json(note).map_err(|e| BundleError::Manifest(e.to_string()))?;
        let tmp = TempFile(artefact_dir.join(format!(
            ".{RETENTION_JSON}.{}.tmp",
            uuid::Uuid::new_v4().simple()
        )));
        write_read_only(&tmp.0, json.as_bytes())?;
        fs::rename(&tmp.0, &target).map_err(io_err(&target))?;
        tmp.disarm();
        sync_dir(artefact_dir)?;
    }
    let dir = artefact_dir.join(RECORDINGS_DIR);
    if dir.symlink_metadata().is_ok() {
        for (name, _) in list_visible(&dir)? {
            let path = dir.join(name);
            fs::remove_file(&path).map_err(io_err(&path))?;
        }
        // Hidden leftovers cannot be recordings of this artefact, but would keep the
        // directory from being removed.
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let path = entry.map_err(io_err(&dir))?.path();
            fs::remove_file(&path).map_err(io_err(&path))?;
        }
        fs::remove_dir(&dir).map_err(io_err(&dir))?;
        sync_dir(artefact_dir)?;
    }
    Ok(())
}

/// Remove what a crash left half written under `artefacts`: hidden temporary directories of
/// [`seal`] and hidden temporary `manifest.jws` files of [`replace_manifest_jws`] inside
/// artefact directories. Sealed artefacts and anything not named like a temporary are left as
/// they are. Run at start, before any session can seal. Returns how many were removed.
pub fn sweep_temporaries(artefacts: &Path) -> Result<usize, BundleError> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| BundleError::Io { path, source }
    };
    let is_temporary = |name: &std::ffi::OsStr| {
        let name = name.to_string_lossy();
        name.starts_with('.') && name.ends_with(".tmp")
    };
    let mut removed = 0;
    for entry in fs::read_dir(artefacts).map_err(io_err(artefacts))? {
        let entry = entry.map_err(io_err(artefacts))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io_err(&path))?;
        if is_temporary(&entry.file_name()) {
            if kind.is_dir() {
                make_writable(&path)?;
                fs::remove_dir_all(&path).map_err(io_err(&path))?;
            } else {
                fs::remove_file(&path).map_err(io_err(&path))?;
            }
            removed += 1;
        } else if kind.is_dir() {
            for inner in fs::read_dir(&path).map_err(io_err(&path))? {
                let inner = inner.map_err(io_err(&path))?;
                let is_file = inner.file_type().map_err(io_err(&inner.path()))?.is_file();
                if is_file && is_temporary(&inner.file_name()) {
                    fs::remove_file(inner.path()).map_err(io_err(&inner.path()))?;
                    removed += 1;
                }
            }
        }
    }
    Ok(removed)
}

/// Give the owner write permission on every directory under `dir` (the files in a half-written
/// artefact are read-only; their directories must be writable for them to be removed).
fn make_writable(dir: &Path) -> Result<(), BundleError> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| BundleError::Io { path, source }
    };
    let mut perms = fs::metadata(dir).map_err(io_err(dir))?.permissions();
    perms.set_mode(perms.mode() | 0o700);
    fs::set_permissions(dir, perms).map_err(io_err(dir))?;
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        if entry.file_type().map_err(io_err(&entry.path()))?.is_dir() {
            make_writable(&entry.path())?;
        }
    }
    Ok(())
}

/// How a recording got into an artefact.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Placement {
    /// Hard-linked: still to be hashed and synced.
    Linked,
    /// Copied: hashed while copying, and synced.
    Copied { sha256: String, size: u64 },
}

/// Check that the recording `from` is a regular file (not followed: a link to a symbolic link
/// would put the link itself into the artefact) within the entry size limit.
fn recording_source(from: &Path) -> Result<(), BundleError> {
    let io_err = |source| BundleError::Io {
        path: from.to_owned(),
        source,
    };
    let meta = from.symlink_metadata().map_err(io_err)?;
    if !meta.is_file() {
        let source = io::Error::new(io::ErrorKind::InvalidInput, "not a regular file");
        return Err(io_err(source));
    }
    if meta.len() > MAX_ENTRY_SIZE {
        return Err(BundleError::TooLarge {
            path: from.to_owned(),
            size: meta.len(),
        });
    }
    Ok(())
}

/// Put the regular file `from` at `to` by `link`, or by copying it when linking fails (another
/// file system, a file system without hard links), and make it read-only. A copy is hashed as
/// it is made and synced; a link is left to [`hash_file`] and [`sync_file`].
fn place_recording(
    from: &Path,
    to: &Path,
    link: impl Fn(&Path, &Path) -> io::Result<()>,
    buffer: &mut Vec<u8>,
) -> Result<Placement, BundleError> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| BundleError::Io { path, source }
    };
    recording_source(from)?;
    match link(from, to) {
        Ok(()) => {
            // The mode belongs to the file, so the recorder's name turns read-only too.
            fs::set_permissions(to, fs::Permissions::from_mode(READ_ONLY)).map_err(io_err(to))?;
            Ok(Placement::Linked)
        }
        Err(e) => {
            tracing::debug!(from = %from.display(), error = %e, "cannot hard-link; copying");
            let mut source = fs::File::open(from).map_err(io_err(from))?;
            let mut copy = create_read_only(to)?;
            buffer.resize(COPY_BUFFER, 0);
            let (sha256, size) = copy_hashed(&mut source, from, &mut copy, buffer)?;
            copy.sync_all().map_err(io_err(to))?;
            Ok(Placement::Copied { sha256, size })
        }
    }
}

/// Plaintext chunks per batch that [`encrypt_recording`] hands between its threads (1 MiB),
/// and how many batches are in flight.
const SEAL_BATCH_CHUNKS: usize = 16;
const SEAL_BATCHES: usize = 8;
/// Ciphertext written after which [`encrypt_recording`] has it synced in the background, so
/// the disk writes while the rest is hashed and encrypted and the final sync has little left,
/// and then dropped from the page cache: written once, it is read again only for a download,
/// and taking fresh pages for all of it cost more than hashing it (`docs/benchmarks.md`).
const SYNC_AHEAD: usize = 16 << 20;

/// Distance between the starts of two chunks in a [`Batch`]: a chunk and its tag.
const STRIDE: usize = rest::CHUNK + rest::TAG;

/// Part of a recording on its way through [`encrypt_recording`]. Chunk `i`'s plaintext starts at
/// `i * STRIDE`, with room for its tag after it, so once sealed in place the batch is
/// contiguous ciphertext.
struct Batch {
    buf: Vec<u8>,
    /// Plaintext bytes in the batch: all its chunks are full unless it is the last.
    plain: usize,
    /// The batch ends the recording.
    last: bool,
}

impl Batch {
    /// Start, plaintext length and lastness (of the whole recording) of each chunk.
    fn chunks(&self) -> impl Iterator<Item = (usize, usize, bool)> + use<> {
        // An empty recording is one empty chunk.
        let count = self.plain.div_ceil(rest::CHUNK).max(1);
        let (plain, last) = (self.plain, self.last);
        (0..count).map(move |i| {
            let len = (plain - i * rest::CHUNK).min(rest::CHUNK);
            (i * STRIDE, len, last && i + 1 == count)
        })
    }

    /// Bytes of the batch once sealed.
    fn sealed_len(&self) -> usize {
        self.plain + self.plain.div_ceil(rest::CHUNK).max(1) * rest::TAG
    }
}

/// Encrypt the regular file `from` (recording `name`) into the new read-only file `to` under
/// `key`, hashing the plaintext as it is read once, and sync it. The bytes are those of
/// [`rest::encrypt`]; the work is a pipeline of batches through bounded channels, so that
/// hashing (the slowest step) runs beside the rest: one thread reads, this one hashes, one
/// encrypts in place, one writes and returns the buffer to the reader, and one syncs what is
/// written every [`SYNC_AHEAD`] bytes and drops it from the page cache.
fn encrypt_recording(
    from: &Path,
    to: &Path,
    name: &str,
    key: &RecordingKey,
) -> Result<Placement, BundleError> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| BundleError::Io { path, source }
    };
    recording_source(from)?;
    let mut source = fs::File::open(from).map_err(io_err(from))?;
    let mut sealer = rest::ChunkSealer::new(key, name).map_err(|source| BundleError::Rest {
        path: from.to_owned(),
        source,
    })?;
    let mut file = create_read_only(to)?;
    let syncing = file.try_clone().map_err(io_err(to))?;

    let (free_tx, free_rx) = mpsc::sync_channel::<Vec<u8>>(SEAL_BATCHES);
    for _ in 0..SEAL_BATCHES {
        // The channel holds SEAL_BATCHES buffers, so this neither blocks nor fails.
        let _ = free_tx.send(vec![0u8; SEAL_BATCH_CHUNKS * STRIDE]);
    }
    let (read_tx, read_rx) = mpsc::sync_channel::<Batch>(SEAL_BATCHES);
    let (hashed_tx, hashed_rx) = mpsc::sync_channel::<Batch>(SEAL_BATCHES);
    let (sealed_tx, sealed_rx) = mpsc::sync_channel::<Batch>(SEAL_BATCHES);
    let (sync_tx, sync_rx) = mpsc::sync_channel::<u64>(1);

    std::thread::scope(|s| {
        // Each thread stops when its input ends or its output is gone (a later step failed);
        // the first failure in the order of the steps is the one reported.
        let reader = s.spawn(move || -> Result<(), BundleError> {
            let mut fill = |buf: &mut [u8]| -> io::Result<usize> {
                let mut plain = 0;
                for chunk in buf.chunks_mut(STRIDE) {
                    let n = rest::fill(
                        &mut source,
                        chunk.get_mut(..rest::CHUNK).unwrap_or_default(),
                    )?;
                    plain += n;
                    if n < rest::CHUNK {
                        break;
                    }
                }
                Ok(plain)
            };
            let Ok(mut buf) = free_rx.recv() else {
                return Ok(());
            };
            let mut plain = fill(&mut buf).map_err(io_err(from))?;
            let mut total = 0u64;
            loop {
                total += plain as u64;
                if total > MAX_ENTRY_SIZE {
                    return Err(BundleError::TooLarge {
                        path: from.to_owned(),
                        size: total,
                    });
                }
                // One batch read ahead: a full batch is the last when nothing follows it.
                let next = match plain == SEAL_BATCH_CHUNKS * rest::CHUNK {
                    true => {
                        let Ok(mut next) = free_rx.recv() else {
                            return Ok(());
                        };
                        let n = fill(&mut next).map_err(io_err(from))?;
                        (n > 0).then_some((next, n))
                    }
                    false => None,
                };
                let last = next.is_none();
                if read_tx.send(Batch { buf, plain, last }).is_err() {
                    return Ok(());
                }
                match next {
                    Some((next, n)) => (buf, plain) = (next, n),
                    None => return Ok(()),
                }
            }
        });
        let encryptor = s.spawn(move || -> Result<(), BundleError> {
            for mut batch in hashed_rx {
                for (start, len, last) in batch.chunks() {
                    let chunk = batch.buf.get_mut(start..start + len + rest::TAG);
                    sealer
                        .seal_chunk(chunk.unwrap_or_default(), last)
                        .map_err(|source| BundleError::Rest {
                            path: from.to_owned(),
                            source,
                        })?;
                }
                if sealed_tx.send(batch).is_err() {
                    break;
                }
            }
            Ok(())
        });
        let writer = s.spawn(move || -> Result<(), BundleError> {
            file.write_all(rest::MAGIC).map_err(io_err(to))?;
            let mut complete = false;
            let mut unsynced = 0;
            let mut written = rest::MAGIC.len() as u64;
            for batch in sealed_rx {
                let len = batch.sealed_len();
                file.write_all(batch.buf.get(..len).unwrap_or_default())
                    .map_err(io_err(to))?;
                complete = batch.last;
                unsynced += len;
                written += len as u64;
                if unsynced >= SYNC_AHEAD {
                    // Full: a sync is running, and takes what this wrote along.
                    let _ = sync_tx.try_send(written);
                    unsynced = 0;
                }
                // The reader may have stopped already.
                let _ = free_tx.send(batch.buf);
            }
            drop(sync_tx);
            if !complete {
                // Only after an earlier step failed, which is what gets reported.
                return Err(io_err(to)(io::Error::other("the recording ended early")));
            }
            file.sync_all().map_err(io_err(to))
        });
        let syncer = s.spawn(move || -> Result<(), BundleError> {
            for written in sync_rx {
                syncing.sync_data().map_err(io_err(to))?;
                // A hint, so its failure is no error: once on disk, the ciphertext leaves the
                // page cache, and the next writes reuse those pages instead of new ones.
                let _ = rustix::fs::fadvise(
                    &syncing,
                    0,
                    std::num::NonZeroU64::new(written),
                    rustix::fs::Advice::DontNeed,
                );
            }
            Ok(())
        });

        let mut hash = digest::Context::new(&digest::SHA256);
        let mut size = 0u64;
        for batch in read_rx.iter() {
            for (start, len, _) in batch.chunks() {
                hash.update(batch.buf.get(start..start + len).unwrap_or_default());
            }
            size += batch.plain as u64;
            if hashed_tx.send(batch).is_err() {
                break;
            }
        }
        // Unblocks a reader still waiting to send, and ends the encryptor's input.
        drop(read_rx);
        drop(hashed_tx);
        for (step, what) in [
            (reader, "reading"),
            (encryptor, "encrypting"),
            (writer, "writing"),
            (syncer, "syncing"),
        ] {
            step.join().unwrap_or_else(|_| Err(panicked(to, what)))?;
        }
        Ok(Placement::Copied {
            sha256: hex::encode(hash.finish()),
            size,
        })
    })
}

/// Encrypt the plaintext recordings of the sealed artefact at `artefact_dir` under `key`, each
/// into `recordings/<name>.enc` (written under a hidden name, synced, renamed into place), then
/// remove the plaintext: the artefact's link, and `originals`, the recorder's files. Recordings
/// already encrypted are left alone, and a plaintext link beside its encrypted copy (a crash
/// between the rename and the removal) is removed, so calling it again finishes what a crash
/// interrupted. The zip is the same before, during and after. Returns how many recordings it
/// encrypted.
pub fn encrypt_at_rest(
    artefact_dir: &Path,
    key: &RecordingKey,
    originals: &[PathBuf],
) -> Result<usize, BundleError> {
    let dir = artefact_dir.join(RECORDINGS_DIR);
    let mut encrypted = 0;
    if dir.is_dir() {
        for (name, meta) in list_visible(&dir)? {
            if !meta.is_file() || name.ends_with(SEALED_SUFFIX) || !is_plain_file_name(&name) {
                continue;
            }
            let plain = dir.join(&name);
            let sealed = dir.join(format!("{name}{SEALED_SUFFIX}"));
            if sealed.symlink_metadata().is_err() {
                let partial = dir.join(format!(".{name}{SEALED_SUFFIX}.partial"));
                if partial.symlink_metadata().is_ok() {
                    fs::remove_file(&partial).map_err(|source| BundleError::Io {
                        path: partial.clone(),
                        source,
                    })?;
                }
                encrypt_recording(&plain, &partial, &name, key)?;
                fs::rename(&partial, &sealed).map_err(|source| BundleError::Io {
                    path: sealed.clone(),
                    source,
                })?;
                sync_dir(&dir)?;
                encrypted += 1;
            }
            fs::remove_file(&plain).map_err(|source| BundleError::Io {
                path: plain.clone(),
                source,
            })?;
            sync_dir(&dir)?;
        }
    }
    remove_plaintext(originals);
    Ok(encrypted)
}

/// Remove the plaintext recordings (the recorder's files) once their encrypted copies are in a
/// committed artefact, and sync their directories. A failure is logged, not returned: the
/// artefact is sealed either way, and the retention sweep removes what is left
/// (`seal::retention`).
fn remove_plaintext(paths: &[PathBuf]) {
    let mut dirs = BTreeSet::new();
    for path in paths {
        match fs::remove_file(path) {
            Ok(()) => {
                dirs.insert(parent_dir(path).to_owned());
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove a plaintext recording");
            }
        }
    }
    for dir in dirs {
        if let Err(e) = sync_dir(&dir) {
            tracing::warn!("after removing plaintext recordings: {e}");
        }
    }
}

/// Chunks a linked recording is read in for hashing, and how many are in flight.
const HASH_CHUNK: usize = 256 << 10;
const HASH_CHUNKS: usize = 4;

/// SHA-256 and length of the file at `path`, read once: a second thread reads the next chunks
/// while this one hashes, so reading adds little to hashing. Refuses files above
/// [`MAX_ENTRY_SIZE`].
fn hash_file(path: &Path) -> Result<(String, u64), BundleError> {
    let io_err = |source| BundleError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = fs::File::open(path).map_err(io_err)?;
    let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(HASH_CHUNKS);
    let (empty_tx, empty_rx) = mpsc::sync_channel::<Vec<u8>>(HASH_CHUNKS);
    for _ in 0..HASH_CHUNKS {
        // The channel holds HASH_CHUNKS buffers, so this neither blocks nor fails.
        let _ = empty_tx.send(vec![0u8; HASH_CHUNK]);
    }
    std::thread::scope(|s| {
        let reader = s.spawn(move || -> io::Result<()> {
            while let Ok(mut buffer) = empty_rx.recv() {
                let n = loop {
                    match file.read(&mut buffer) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        read => break read?,
                    }
                };
                // At the end, or the hasher stopped early.
                if n == 0 || full_tx.send((buffer, n)).is_err() {
                    break;
                }
            }
            Ok(())
        });
        let mut ctx = digest::Context::new(&digest::SHA256);
        let mut size = 0u64;
        for (buffer, n) in full_rx.iter() {
            size += n as u64;
            if size > MAX_ENTRY_SIZE {
                break;
            }
            ctx.update(buffer.get(..n).unwrap_or_default());
            // The reader may have stopped on an error; its result says so below.
            let _ = empty_tx.send(buffer);
        }
        // Unblocks a reader still waiting to send or for a buffer.
        drop(full_rx);
        drop(empty_tx);
        reader
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the reading thread panicked")))
            .map_err(io_err)?;
        if size > MAX_ENTRY_SIZE {
            return Err(BundleError::TooLarge {
                path: path.to_owned(),
                size,
            });
        }
        Ok((hex::encode(ctx.finish()), size))
    })
}

/// Sync a file that is complete already.
fn sync_file(path: &Path) -> Result<(), BundleError> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|source| BundleError::Io {
            path: path.to_owned(),
            source,
        })
}

/// The error for a helper thread that panicked (a bug).
fn panicked(path: &Path, what: &str) -> BundleError {
    BundleError::Io {
        path: path.to_owned(),
        source: io::Error::other(format!("the {what} thread panicked")),
    }
}

/// Copy `file` (read from `path`) into `out`, returning the SHA-256 and length of exactly the
/// bytes copied; refuses files above [`MAX_ENTRY_SIZE`].
fn copy_hashed(
    file: &mut fs::File,
    path: &Path,
    out: &mut impl io::Write,
    buffer: &mut [u8],
) -> Result<(String, u64), BundleError> {
    let io_err = |source| BundleError::Io {
        path: path.to_owned(),
        source,
    };
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut size = 0u64;
    loop {
        let n = match file.read(buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(e)),
        };
        let chunk = buffer.get(..n).unwrap_or_default();
        size += n as u64;
        if size > MAX_ENTRY_SIZE {
            return Err(BundleError::TooLarge {
                path: path.to_owned(),
                size,
            });
        }
        ctx.update(chunk);
        out.write_all(chunk).map_err(io_err)?;
    }
    Ok((hex::encode(ctx.finish()), size))
}

/// A new read-only file at `path`, open for writing.
fn create_read_only(path: &Path) -> Result<fs::File, BundleError> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(READ_ONLY)
        .open(path)
        .map_err(|source| BundleError::Io {
            path: path.to_owned(),
            source,
        })
}

/// Write `bytes` to a new read-only file at `path` and sync it.
fn write_read_only(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    let mut file = create_read_only(path)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|source| BundleError::Io {
            path: path.to_owned(),
            source,
        })
}

/// Sync a directory, which makes the names created or renamed in it durable.
fn sync_dir(dir: &Path) -> Result<(), BundleError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| BundleError::Io {
            path: dir.to_owned(),
            source,
        })
}

/// Where and in which form an artefact is stored: the one place that knows both forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredArtefact {
    /// A directory holding the bundle's entries as files.
    Directory(PathBuf),
    /// A zip written by an earlier version, kept as it was sealed.
    LegacyZip(PathBuf),
}

impl StoredArtefact {
    /// The artefact stored under `artefacts` as `file_name`: `<id>.zip` names a zip written by
    /// an earlier version, anything else a directory.
    pub fn locate(artefacts: &Path, file_name: &str) -> Self {
        let path = artefacts.join(file_name);
        if file_name.ends_with(".zip") {
            StoredArtefact::LegacyZip(path)
        } else {
            StoredArtefact::Directory(path)
        }
    }

    /// The bundle's zip, planned: its length is known, its bytes are written on demand. A
    /// recording encrypted at rest cannot be written without its key: use
    /// [`StoredArtefact::zip_with_key`].
    pub fn zip(&self) -> Result<BundleZip, BundleError> {
        self.zip_with_key(None)
    }

    /// [`StoredArtefact::zip`], decrypting the recordings encrypted at rest with `key` as the
    /// zip is written.
    pub fn zip_with_key(&self, key: Option<&RecordingKey>) -> Result<BundleZip, BundleError> {
        match self {
            StoredArtefact::Directory(dir) => zip_of_dir_with(dir, key, Archive::plan),
            StoredArtefact::LegacyZip(path) => {
                let meta = fs::metadata(path).map_err(|source| BundleError::Io {
                    path: path.clone(),
                    source,
                })?;
                Ok(BundleZip(Planned::Legacy {
                    path: path.clone(),
                    len: meta.len(),
                }))
            }
        }
    }

    /// One of the small entries (`manifest.json`, `manifest.jws`, `log.json`,
    /// `events.jsonl`), without building the zip.
    pub fn small_entry(&self, name: &str) -> Result<Vec<u8>, BundleError> {
        if !TEXT_ENTRIES.contains(&name) && !OPTIONAL_ENTRIES.contains(&name) {
            return Err(BundleError::Stored {
                path: self.path().to_owned(),
                reason: format!("{name} is not a small entry"),
            });
        }
        match self {
            StoredArtefact::Directory(dir) => {
                let path = dir.join(name);
                fs::read(&path).map_err(|source| BundleError::Io { path, source })
            }
            StoredArtefact::LegacyZip(path) => {
                let stored = |reason: String| BundleError::Stored {
                    path: path.clone(),
                    reason,
                };
                let file = fs::File::open(path).map_err(|source| BundleError::Io {
                    path: path.clone(),
                    source,
                })?;
                let mut zip =
                    zip::ZipArchive::new(file).map_err(|e| stored(format!("not a zip: {e}")))?;
                let entry = zip
                    .by_name(name)
                    .map_err(|e| stored(format!("{name}: {e}")))?;
                let mut out = Vec::new();
                entry
                    .take(MAX_ENTRY_SIZE)
                    .read_to_end(&mut out)
                    .map_err(|e| stored(format!("{name}: {e}")))?;
                Ok(out)
            }
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            StoredArtefact::Directory(p) | StoredArtefact::LegacyZip(p) => p,
        }
    }
}

/// The zip of one artefact, ready to be written: [`BundleZip::len`] bytes, the same ones on
/// every [`BundleZip::write_to`].
#[derive(Debug)]
pub struct BundleZip(Planned);

#[derive(Debug)]
enum Planned {
    Directory { dir: PathBuf, archive: Archive },
    Legacy { path: PathBuf, len: u64 },
}

impl BundleZip {
    /// Exact length in bytes, known before anything is written (a `Content-Length`).
    pub fn len(&self) -> u64 {
        match &self.0 {
            Planned::Directory { archive, .. } => archive.len(),
            Planned::Legacy { len, .. } => *len,
        }
    }

    /// Never true: a bundle holds at least its manifest.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Write the zip to `out`; returns the bytes written. Fails, leaving `out` with a prefix,
    /// if a file changed since the zip was planned.
    pub fn write_to(&self, out: &mut impl io::Write) -> Result<u64, BundleError> {
        match &self.0 {
            Planned::Directory { dir, archive } => {
                archive.write_to(out).map_err(|e| archive_error(dir, e))
            }
            Planned::Legacy { path, len } => {
                let io_err = |source| BundleError::Io {
                    path: path.clone(),
                    source,
                };
                let file = fs::File::open(path).map_err(io_err)?;
                let copied = io::copy(&mut file.take(*len), out).map_err(io_err)?;
                if copied != *len {
                    return Err(BundleError::Stored {
                        path: path.clone(),
                        reason: format!("holds {copied} bytes, {len} were expected"),
                    });
                }
                Ok(copied)
            }
        }
    }

    /// The whole zip in memory, for the verifier.
    pub fn to_vec(&self) -> Result<Vec<u8>, BundleError> {
        let mut out = Vec::with_capacity(usize::try_from(self.len()).unwrap_or(0));
        self.write_to(&mut out)?;
        Ok(out)
    }
}

fn archive_error(dir: &Path, e: ArchiveError) -> BundleError {
    match e {
        ArchiveError::Io { path, source } => BundleError::Io { path, source },
        ArchiveError::Entry { name, reason } => BundleError::Stored {
            path: dir.to_owned(),
            reason: format!("{name}: {reason}"),
        },
    }
}

/// Plan the zip of the artefact directory `dir`: recordings, then documents, each sorted by
/// name and stored; then `events.jsonl`, `manifest.json`, `manifest.jws` and `log.json`,
/// deflated; every entry stamped with the manifest's `sealed_at`. Hidden names (temporary files
/// of [`replace_manifest_jws`]) are skipped; anything else unexpected is refused, so the zip
/// holds exactly what the directory does.
fn zip_of_dir(dir: &Path) -> Result<BundleZip, BundleError> {
    zip_of_dir_with(dir, None, Archive::plan)
}

/// [`zip_of_dir`] with the way the archive is planned, so tests can force zip64 records.
fn zip_of_dir_with(
    dir: &Path,
    key: Option<&RecordingKey>,
    plan: impl FnOnce(Vec<Entry>, zip::DateTime) -> Result<Archive, ArchiveError>,
) -> Result<BundleZip, BundleError> {
    let stored = |reason: String| BundleError::Stored {
        path: dir.to_owned(),
        reason,
    };
    let listed = list_visible(dir)?;
    for (name, meta) in &listed {
        let expected = match name.as_str() {
            RECORDINGS_DIR | DOCUMENTS_DIR => meta.is_dir(),
            n if TEXT_ENTRIES.contains(&n) || OPTIONAL_ENTRIES.contains(&n) => meta.is_file(),
            _ => false,
        };
        if !expected {
            return Err(stored(format!("unexpected entry {name:?}")));
        }
    }
    let mut entries = Vec::new();
    for (sub, prefix) in [
        (RECORDINGS_DIR, RECORDINGS_PREFIX),
        (DOCUMENTS_DIR, DOCUMENTS_PREFIX),
    ] {
        if !listed.iter().any(|(name, _)| name == sub) {
            continue;
        }
        let mut these = Vec::new();
        for (name, meta) in list_visible(&dir.join(sub))? {
            if !meta.is_file() || !is_plain_file_name(&name) {
                return Err(stored(format!("unexpected entry {prefix}{name}")));
            }
            let path = dir.join(sub).join(&name);
            let sealed = match name.strip_suffix(SEALED_SUFFIX) {
                Some(plain) if sub == RECORDINGS_DIR && is_plain_file_name(plain) => Some(plain),
                _ => None,
            };
            let entry = match sealed {
                Some(plain) => {
                    let size = rest::plain_len(meta.len()).ok_or_else(|| {
                        stored(format!(
                            "{prefix}{name}: not an encrypted recording's length"
                        ))
                    })?;
                    Entry {
                        name: format!("{prefix}{plain}"),
                        body: Body::Decrypted {
                            path,
                            size,
                            name: plain.to_owned(),
                            key: key.cloned(),
                        },
                    }
                }
                None => Entry {
                    name: format!("{prefix}{name}"),
                    body: Body::Stored {
                        path,
                        size: meta.len(),
                    },
                },
            };
            these.push(entry);
        }
        // Sorted by the names in the zip, which drop the suffix of encrypted recordings.
        these.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(pair) = these.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(stored(format!("{} is stored twice", pair[0].name)));
        }
        entries.extend(these);
    }
    let mut sealed_at = None;
    let optional = OPTIONAL_ENTRIES
        .into_iter()
        .filter(|name| listed.iter().any(|(n, _)| n == name));
    for name in TEXT_ENTRIES.into_iter().chain(optional) {
        let path = dir.join(name);
        let bytes = read_limited(&path)?;
        if name == MANIFEST_JSON {
            sealed_at = manifest_sealed_at(&bytes);
        }
        let body = Body::deflate(&bytes).map_err(|source| BundleError::Io { path, source })?;
        entries.push(Entry {
            name: name.to_owned(),
            body,
        });
    }
    // A manifest without a readable `sealed_at` still gets a zip, which the verifier rejects.
    let time = sealed_at.map(zip_time).unwrap_or_default();
    let archive = plan(entries, time).map_err(|e| archive_error(dir, e))?;
    Ok(BundleZip(Planned::Directory {
        dir: dir.to_owned(),
        archive,
    }))
}

/// The entries of `dir` not starting with `.`, sorted by name, with their metadata (links not
/// followed).
fn list_visible(dir: &Path) -> Result<Vec<(String, fs::Metadata)>, BundleError> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| BundleError::Io { path, source }
    };
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let Ok(name) = entry.file_name().into_string() else {
            return Err(BundleError::Stored {
                path: dir.to_owned(),
                reason: format!("a name that is not UTF-8: {:?}", entry.file_name()),
            });
        };
        if name.starts_with('.') {
            continue;
        }
        let meta = entry.metadata().map_err(io_err(&entry.path()))?;
        out.push((name, meta));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// A small entry's bytes, refusing more than [`MAX_ENTRY_SIZE`].
fn read_limited(path: &Path) -> Result<Vec<u8>, BundleError> {
    let io_err = |source| BundleError::Io {
        path: path.to_owned(),
        source,
    };
    let file = fs::File::open(path).map_err(io_err)?;
    let mut bytes = Vec::new();
    file.take(MAX_ENTRY_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_ENTRY_SIZE {
        return Err(BundleError::TooLarge {
            path: path.to_owned(),
            size: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

/// `sealed_at` of a manifest, read leniently: the zip's timestamps are not evidence.
fn manifest_sealed_at(manifest_json: &[u8]) -> Option<DateTime<Utc>> {
    #[derive(Deserialize)]
    struct SealedAt {
        sealed_at: DateTime<Utc>,
    }
    serde_json::from_slice::<SealedAt>(manifest_json)
        .ok()
        .map(|m| m.sealed_at)
}

/// Session of the first line; `verify_jsonl` has already checked that all lines agree.
fn first_event_session(jsonl: &[u8]) -> Result<SessionId, BundleError> {
    #[derive(Deserialize)]
    struct Line {
        session: SessionId,
    }
    let first = jsonl.split(|b| *b == b'\n').next().unwrap_or_default();
    serde_json::from_slice::<Line>(first)
        .map(|line| line.session)
        .map_err(|e| {
            BundleError::Chain(ChainError::Json {
                line: 1,
                reason: e.to_string(),
            })
        })
}

/// A reader that hashes and counts what passes through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    ctx: digest::Context,
    len: u64,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            ctx: digest::Context::new(&digest::SHA256),
            len: 0,
        }
    }

    /// Hex SHA-256 and length of everything read.
    pub(crate) fn finish(self) -> (String, u64) {
        (hex::encode(self.ctx.finish()), self.len)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = buf.get(..n).unwrap_or_default();
        self.ctx.update(read);
        self.len += n as u64;
        Ok(n)
    }
}

/// The zip (MS-DOS) form of `t`, or the format's epoch when `t` is outside 1980..=2107.
fn zip_time(t: DateTime<Utc>) -> zip::DateTime {
    let fields = (
        u16::try_from(t.year()).ok(),
        u8::try_from(t.month()).ok(),
        u8::try_from(t.day()).ok(),
        u8::try_from(t.hour()).ok(),
        u8::try_from(t.minute()).ok(),
        // MS-DOS time has two-second resolution.
        u8::try_from(t.second() / 2 * 2).ok(),
    );
    match fields {
        (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) => {
            zip::DateTime::from_date_and_time(y, mo, d, h, mi, s).unwrap_or_default()
        }
        _ => zip::DateTime::default(),
    }
}

/// The hidden temporary directory beside `out` an artefact is assembled in: removed with
/// everything in it on drop, unless committed.
struct TempDir {
    path: PathBuf,
    armed: bool,
}

impl TempDir {
    fn create(out: &Path) -> Result<Self, BundleError> {
        let name = out
            .file_name()
            .ok_or_else(|| BundleError::OutPath(out.to_owned()))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
        let path = parent_dir(out).join(tmp_name);
        fs::create_dir(&path).map_err(|source| BundleError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(TempDir { path, armed: true })
    }

    fn create_subdir(&self, name: &str) -> Result<PathBuf, BundleError> {
        let dir = self.path.join(name);
        fs::create_dir(&dir).map_err(|source| BundleError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(dir)
    }

    /// Rename the (synced) directory to `out` and sync the parent, so the artefact is whole
    /// under its final name or absent.
    fn commit(mut self, out: &Path) -> Result<(), BundleError> {
        fs::rename(&self.path, out).map_err(|source| BundleError::Io {
            path: out.to_owned(),
            source,
        })?;
        self.armed = false;
        sync_dir(parent_dir(out))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.armed
            && let Err(e) = fs::remove_dir_all(&self.path)
        {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove temporary directory");
        }
    }
}

fn parent_dir(out: &Path) -> &Path {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Removes the file on drop unless disarmed.
struct TempFile(PathBuf);

impl TempFile {
    fn disarm(mut self) {
        self.0 = PathBuf::new();
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty()
            && let Err(e) = fs::remove_file(&self.0)
        {
            tracing::warn!(path = %self.0.display(), error = %e, "cannot remove temporary file");
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
