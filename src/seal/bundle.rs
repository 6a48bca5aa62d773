//! The artefact bundle: a zip holding a signed manifest, the evidence chain and the recordings.
//!
//! Contract: a bundle has exactly the entries `manifest.json`, `manifest.jws`, `log.json`,
//! `events.jsonl`, `recordings/<name>` for each recording and `documents/<name>` for each
//! document or still. `manifest.json` is the RFC 8785 canonical JSON of
//! a [`Manifest`], which lists every other entry with its SHA-256 and size and commits to the
//! chain's length and head; `manifest.jws` is a detached ES256 JWS over those exact bytes. The
//! zip container itself (timestamps, compression, order) is not covered by the signature:
//! everything a verifier relies on is in the signed manifest.
//!
//! [`seal`] refuses a broken or foreign chain and recording names that are not plain file names,
//! and writes through a temporary file that is renamed into place only once complete and
//! synced, so a crash never leaves a half-written bundle under the final name.

use super::jws::{JwsError, JwsJson};
use super::pki::HubIdentity;
use crate::evidence::{self, ChainError};
use crate::ids::{ArtefactId, CaseId, SessionId};
use chrono::{DateTime, Datelike as _, Timelike as _, Utc};
use ring::digest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fs;
use std::io::{self, BufWriter, Read, Write as _};
use std::path::{Path, PathBuf};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// `format` of every manifest this module writes and accepts.
pub const MANIFEST_FORMAT: &str = "globallink-artefact/1";
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
    /// `completed`, `incomplete`, `refused` or `interrupted`.
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
    /// `(name inside recordings/, file on disk)`. Names must be plain file names.
    pub recordings: Vec<(String, PathBuf)>,
    /// `(name inside documents/, content)`: stills and uploads, decrypted.
    pub documents: Vec<(String, Vec<u8>)>,
    pub checklist: Vec<crate::checklist::ItemStatus>,
    pub sealed_at: DateTime<Utc>,
}

/// A bundle written to disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub manifest: Manifest,
    /// Hex SHA-256 of `manifest.json`, for the store and for logs.
    pub manifest_sha256: String,
    /// Size of the bundle file in bytes.
    pub size: u64,
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
    #[error("cannot write the bundle: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("output path {} is not a file path", .0.display())]
    OutPath(PathBuf),
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

/// Seal a session into a bundle at `out`, replacing any file already there: [`prepare`], then
/// `log` appends the manifest to the transparency log, then [`Prepared::write`].
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

/// A bundle half written: every file the manifest lists is in the temporary zip, and the
/// manifest is signed. What is left is to log it and add `manifest.json`, `manifest.jws` and
/// `log.json`. Dropped unwritten, its temporary file is removed.
pub struct Prepared {
    manifest: Manifest,
    manifest_json: String,
    manifest_jws: JwsJson,
    zip: ZipWriter<BufWriter<fs::File>>,
    tmp: TempPath,
    out: PathBuf,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("artefact", &self.manifest.artefact_id)
            .field("out", &self.out)
            .finish_non_exhaustive()
    }
}

/// Copy buffer for recordings: large, so a 100 MiB file is a hundred reads and writes.
const COPY_BUFFER: usize = 1 << 20;

/// Check the chain and names; copy every recording, document and the chain into a temporary
/// zip beside `out`, hashing each byte as it is copied (one pass over each file); and sign the
/// canonical manifest of what was written.
pub fn prepare(input: SealInput, id: &HubIdentity, out: &Path) -> Result<Prepared, BundleError> {
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

    let (tmp, file) = create_temp(out)?;
    let mut zip = ZipWriter::new(BufWriter::with_capacity(COPY_BUFFER, file));
    let text = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(zip_time(input.sealed_at));
    // Recordings are already compressed media; deflating them again only costs time.
    let media = text.compression_method(CompressionMethod::Stored);

    let mut files = vec![ManifestFile {
        path: EVENTS_JSONL.to_owned(),
        sha256: evidence::sha256_hex(&input.events_jsonl),
        size: input.events_jsonl.len() as u64,
    }];
    let mut buffer = vec![0u8; COPY_BUFFER];
    for (name, path) in &recordings {
        let entry = format!("{RECORDINGS_PREFIX}{name}");
        zip.start_file(entry.as_str(), media)?;
        let (sha256, size) = copy_hashed(path, &mut zip, &mut buffer)?;
        files.push(ManifestFile {
            path: entry,
            sha256,
            size,
        });
    }
    for (name, bytes) in &documents {
        let entry = format!("{DOCUMENTS_PREFIX}{name}");
        zip.start_file(entry.as_str(), media)?;
        write_entry(&mut zip, &entry, bytes)?;
        files.push(ManifestFile {
            path: entry,
            sha256: evidence::sha256_hex(bytes),
            size: bytes.len() as u64,
        });
    }
    zip.start_file(EVENTS_JSONL, text)?;
    write_entry(&mut zip, EVENTS_JSONL, &input.events_jsonl)?;

    let manifest = Manifest {
        format: MANIFEST_FORMAT.to_owned(),
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
        zip,
        tmp,
        out: out.to_owned(),
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

    /// Add the signed manifest and `log` as `log.json`, sync, and move the bundle into place.
    pub fn write(self, log: &LogInclusion) -> Result<Sealed, BundleError> {
        let Prepared {
            manifest,
            manifest_json,
            manifest_jws,
            mut zip,
            tmp,
            out,
        } = self;
        let log_json =
            evidence::canonical_json(log).map_err(|e| BundleError::Manifest(e.to_string()))?;
        let text = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(zip_time(manifest.sealed_at));
        for (name, bytes) in [
            (MANIFEST_JSON, manifest_json.as_bytes()),
            (MANIFEST_JWS, manifest_jws.to_text().as_bytes()),
            (LOG_JSON, log_json.as_bytes()),
        ] {
            zip.start_file(name, text)?;
            write_entry(&mut zip, name, bytes)?;
        }
        let file = zip.finish()?.into_inner().map_err(|e| BundleError::Io {
            path: tmp.0.clone(),
            source: e.into_error(),
        })?;
        let size = commit_temp(tmp, file, &out)?;
        tracing::info!(
            artefact = %manifest.artefact_id,
            session = %manifest.session.id,
            out = %out.display(),
            size,
            log_index = log.leaf_index,
            "sealed artefact bundle",
        );
        Ok(Sealed {
            manifest_sha256: evidence::sha256_hex(manifest_json.as_bytes()),
            manifest,
            size,
        })
    }
}

fn write_entry(
    zip: &mut ZipWriter<BufWriter<fs::File>>,
    name: &str,
    bytes: &[u8],
) -> Result<(), BundleError> {
    zip.write_all(bytes).map_err(|source| BundleError::Io {
        path: name.into(),
        source,
    })
}

/// Copy the regular file at `path` into `out`, returning the SHA-256 and length of exactly the
/// bytes copied; refuses files above [`MAX_ENTRY_SIZE`].
fn copy_hashed(
    path: &Path,
    out: &mut impl io::Write,
    buffer: &mut [u8],
) -> Result<(String, u64), BundleError> {
    let io_err = |source| BundleError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = fs::File::open(path).map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    if !meta.is_file() {
        let source = io::Error::new(io::ErrorKind::InvalidInput, "not a regular file");
        return Err(io_err(source));
    }
    if meta.len() > MAX_ENTRY_SIZE {
        return Err(BundleError::TooLarge {
            path: path.to_owned(),
            size: meta.len(),
        });
    }
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

/// A new temporary file beside `out`, removed again unless [`commit_temp`] moves it into place.
fn create_temp(out: &Path) -> Result<(TempPath, fs::File), BundleError> {
    let name = out
        .file_name()
        .ok_or_else(|| BundleError::OutPath(out.to_owned()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    let tmp = TempPath(parent_dir(out).join(tmp_name));
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp.0)
        .map_err(|source| BundleError::Io {
            path: tmp.0.clone(),
            source,
        })?;
    Ok((tmp, file))
}

/// Sync `file`, rename it to `out` and sync the directory, so the bundle is whole under its
/// final name or absent. Returns its size.
fn commit_temp(tmp: TempPath, file: fs::File, out: &Path) -> Result<u64, BundleError> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| BundleError::Io { path, source }
    };
    file.sync_all().map_err(io_err(&tmp.0))?;
    let size = file.metadata().map_err(io_err(&tmp.0))?.len();
    drop(file);
    fs::rename(&tmp.0, out).map_err(io_err(out))?;
    tmp.disarm();
    // The rename is durable only once the directory is synced.
    let dir = parent_dir(out);
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))?;
    Ok(size)
}

fn parent_dir(out: &Path) -> &Path {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Removes the file on drop unless disarmed.
struct TempPath(PathBuf);

impl TempPath {
    fn disarm(mut self) {
        self.0 = PathBuf::new();
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty()
            && let Err(e) = fs::remove_file(&self.0)
        {
            tracing::warn!(path = %self.0.display(), error = %e, "cannot remove temporary file");
        }
    }
}

/// Read one entry of a sealed artefact at rest: a file in its directory, or an entry of a
/// bundle zip written by an earlier version.
pub fn read_sealed_entry(artefact: &Path, name: &str) -> Result<Vec<u8>, BundleError> {
    let io_err = |source| BundleError::Io {
        path: artefact.join(name),
        source,
    };
    if artefact.is_dir() {
        return fs::read(artefact.join(name)).map_err(io_err);
    }
    let file = fs::File::open(artefact).map_err(io_err)?;
    let mut zip = zip::ZipArchive::new(io::BufReader::new(file))?;
    let mut entry = zip.by_name(name)?;
    let mut out = Vec::new();
    entry
        .by_ref()
        .take(MAX_ENTRY_SIZE)
        .read_to_end(&mut out)
        .map_err(io_err)?;
    Ok(out)
}

// TEMP until merge with seal-speed
pub fn replace_manifest_jws(artefact_dir: &Path, manifest_jws: &[u8]) -> Result<(), BundleError> {
    fs::write(artefact_dir.join(MANIFEST_JWS), manifest_jws).map_err(|source| BundleError::Io {
        path: artefact_dir.to_owned(),
        source,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::evidence::{ChainBuilder, EventKind, ParticipantRole};
    use crate::seal::pki::tests::{dev_identity, now};

    /// A canonical `events.jsonl` of a short, complete session.
    pub(crate) fn events_for(session: SessionId) -> Vec<u8> {
        let mut chain = ChainBuilder::new(session);
        let kinds = [
            EventKind::SessionOpened {
                case: "c-1".into(),
                service: "id-card-renewal".into(),
            },
            EventKind::ParticipantJoined {
                role: ParticipantRole::Applicant,
                tz: "Europe/Lisbon".into(),
            },
            EventKind::RecordingStarted {
                tracks: vec!["applicant-video".into()],
            },
            EventKind::RecordingStopped {
                reason: "session_closed".into(),
                recording_offset_ms: None,
            },
            EventKind::SessionClosed {
                outcome: "completed".into(),
                reason: None,
            },
        ];
        let mut lines = Vec::new();
        for (i, kind) in kinds.into_iter().enumerate() {
            let at = now() + chrono::TimeDelta::seconds(i as i64);
            let event = chain.next(at, kind).expect("serialisable event");
            chain.commit(&event);
            lines.push(event.canonical);
        }
        evidence::to_jsonl(lines.iter().map(String::as_str)).into_bytes()
    }

    /// A transparency log of its own for tests: a fresh key and an in-memory tree.
    pub(crate) struct TestLog {
        pub(crate) signer: crate::translog::LogSigner,
        tree: std::cell::RefCell<crate::translog::MerkleLog>,
    }

    impl TestLog {
        pub(crate) fn new() -> Self {
            let (signer, _) =
                crate::translog::LogSigner::generate("hub.test/log").expect("log key");
            Self {
                signer,
                tree: Default::default(),
            }
        }

        /// Append `leaf` and prove it against the tree that now ends with it.
        pub(crate) fn include(&self, leaf: &[u8]) -> Result<LogInclusion, BundleError> {
            let mut tree = self.tree.borrow_mut();
            let index = tree.append(leaf);
            crate::transparency::prove(&self.signer, &tree, index)
                .map_err(|e| BundleError::Manifest(e.to_string()))
        }

        /// What a verifier trusting `id`'s CA and this log holds.
        pub(crate) fn trust(&self, id: &HubIdentity) -> crate::seal::verify::Trust {
            crate::seal::verify::Trust {
                certificates: vec![id.ca_der().to_vec()],
                log_keys: vec![self.signer.verifier()],
                crls: Vec::new(),
            }
        }
    }

    /// A seal input with two small recordings written into `dir`.
    pub(crate) fn sample_input(dir: &Path) -> SealInput {
        let session = SessionId::random();
        let video = dir.join("video.ivf");
        let audio = dir.join("audio.ogg");
        fs::write(&video, b"DKIF\x00\x00 fake video frames 0123456789").expect("write video");
        fs::write(&audio, b"OggS fake audio pages").expect("write audio");
        SealInput {
            artefact_id: ArtefactId::random(),
            case: ManifestCase {
                id: CaseId::random(),
                service: "id-card-renewal".into(),
            },
            session: ManifestSession {
                id: session,
                started_at: now(),
                ended_at: now() + chrono::TimeDelta::minutes(12),
                outcome: "completed".into(),
                reason: None,
            },
            participants: vec![
                ManifestParticipant {
                    role: "applicant".into(),
                    tz: "Europe/Lisbon".into(),
                },
                ManifestParticipant {
                    role: "officer".into(),
                    tz: "Asia/Macau".into(),
                },
            ],
            events_jsonl: events_for(session),
            documents: vec![],
            checklist: vec![],
            recordings: vec![
                ("applicant-video.ivf".into(), video),
                ("applicant-audio.ogg".into(), audio),
            ],
            sealed_at: now() + chrono::TimeDelta::minutes(13),
        }
    }

    fn entry_names(bundle: &Path) -> anyhow::Result<Vec<String>> {
        let mut zip = zip::ZipArchive::new(fs::File::open(bundle)?)?;
        let mut names = Vec::new();
        for i in 0..zip.len() {
            names.push(zip.by_index(i)?.name().to_owned());
        }
        Ok(names)
    }

    #[test]
    fn seal_writes_the_expected_entries_and_manifest() -> anyhow::Result<()> {
        let (dir, id) = dev_identity();
        let input = sample_input(dir.path());
        let events = input.events_jsonl.clone();
        let out = dir.path().join("bundle.zip");
        let sealed = seal(input, &id, |m| TestLog::new().include(m), &out)?;

        assert_eq!(
            entry_names(&out)?,
            // Recordings first, so each is copied and hashed in one pass; the signed
            // manifest and its log proof last.
            [
                "recordings/applicant-audio.ogg",
                "recordings/applicant-video.ivf",
                EVENTS_JSONL,
                MANIFEST_JSON,
                MANIFEST_JWS,
                LOG_JSON,
            ]
        );
        let paths: Vec<_> = sealed
            .manifest
            .files
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(
            paths,
            [
                EVENTS_JSONL,
                "recordings/applicant-audio.ogg",
                "recordings/applicant-video.ivf"
            ]
        );
        assert_eq!(
            sealed.manifest.files[0].sha256,
            evidence::sha256_hex(&events)
        );
        assert_eq!(sealed.manifest.files[2].size, 35);
        assert_eq!(sealed.manifest.chain.events, 5);
        assert_eq!(
            sealed.manifest.chain.head,
            evidence::verify_jsonl(&events)?.head
        );
        assert_eq!(sealed.size, fs::metadata(&out)?.len());

        let mut zip = zip::ZipArchive::new(fs::File::open(&out)?)?;
        let mut manifest_json = String::new();
        zip.by_name(MANIFEST_JSON)?
            .read_to_string(&mut manifest_json)?;
        assert_eq!(manifest_json, evidence::canonical_json(&sealed.manifest)?);
        assert_eq!(
            sealed.manifest_sha256,
            evidence::sha256_hex(manifest_json.as_bytes())
        );

        let leftovers: Vec<_> = fs::read_dir(dir.path())?
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        Ok(())
    }

    #[test]
    fn broken_chain_is_not_sealed() -> anyhow::Result<()> {
        let (dir, id) = dev_identity();
        let mut input = sample_input(dir.path());
        let text = String::from_utf8(input.events_jsonl.clone())?;
        let mut lines: Vec<&str> = text.lines().collect();
        lines.remove(1);
        input.events_jsonl = evidence::to_jsonl(lines).into_bytes();
        let out = dir.path().join("bundle.zip");
        let err = seal(input, &id, |m| TestLog::new().include(m), &out).unwrap_err();
        assert!(matches!(err, BundleError::Chain(_)), "{err}");
        assert!(!out.exists());
        Ok(())
    }

    #[test]
    fn empty_or_foreign_chain_is_not_sealed() {
        let (dir, id) = dev_identity();
        let out = dir.path().join("bundle.zip");
        let mut input = sample_input(dir.path());
        input.events_jsonl = Vec::new();
        assert!(matches!(
            seal(input, &id, |m| TestLog::new().include(m), &out),
            Err(BundleError::EmptyChain)
        ));
        let mut input = sample_input(dir.path());
        input.events_jsonl = events_for(SessionId::random());
        let err = seal(input, &id, |m| TestLog::new().include(m), &out).unwrap_err();
        assert!(matches!(err, BundleError::ForeignSession { .. }), "{err}");
    }

    #[test]
    fn recording_names_must_be_plain() {
        let (dir, id) = dev_identity();
        let out = dir.path().join("bundle.zip");
        for bad in [
            "",
            "../x.ivf",
            "a/b.ivf",
            ".hidden",
            "a..b",
            "c:\\x",
            "new\nline",
            "x\\y",
        ] {
            let mut input = sample_input(dir.path());
            input.recordings[0].0 = bad.to_owned();
            let err = seal(input, &id, |m| TestLog::new().include(m), &out).unwrap_err();
            assert!(
                matches!(err, BundleError::RecordingName(_)),
                "{bad:?}: {err}"
            );
        }
        let mut input = sample_input(dir.path());
        input.recordings[1].0 = input.recordings[0].0.clone();
        let err = seal(input, &id, |m| TestLog::new().include(m), &out).unwrap_err();
        assert!(matches!(err, BundleError::DuplicateRecording(_)), "{err}");
        assert!(!out.exists());
    }

    #[test]
    fn missing_recording_fails_and_leaves_nothing_behind() -> anyhow::Result<()> {
        let (dir, id) = dev_identity();
        let mut input = sample_input(dir.path());
        input.recordings[0].1 = dir.path().join("absent.ivf");
        let out = dir.path().join("bundle.zip");
        let err = seal(input, &id, |m| TestLog::new().include(m), &out).unwrap_err();
        assert!(matches!(err, BundleError::Io { .. }), "{err}");
        let names: Vec<_> = fs::read_dir(dir.path())?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("bundle"))
            .collect();
        assert!(names.is_empty(), "{names:?}");
        Ok(())
    }

    #[test]
    fn reseal_replaces_the_previous_bundle() -> anyhow::Result<()> {
        let (dir, id) = dev_identity();
        let out = dir.path().join("bundle.zip");
        fs::write(&out, b"old")?;
        let sealed = seal(
            sample_input(dir.path()),
            &id,
            |m| TestLog::new().include(m),
            &out,
        )?;
        assert_eq!(fs::metadata(&out)?.len(), sealed.size);
        assert!(sealed.size > 3);
        Ok(())
    }

    #[test]
    fn zip_time_clamps_out_of_range_dates() {
        assert_eq!(zip_time(DateTime::<Utc>::MIN_UTC), zip::DateTime::default());
        let t = zip_time(now());
        assert_eq!((t.year(), t.month(), t.day(), t.hour()), (2026, 5, 1, 12));
    }
}
