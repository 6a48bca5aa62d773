//! The bundle verifier shared by the `verify` CLI and the auditor API.
//!
//! Contract: [`verify_bundle`] takes the bundle bytes and the trust anchors and returns a
//! [`Report`]; it never panics and never touches the file system. Checks run in a fixed order
//! (`zip`, `manifest`, `signature` (the hub's), `officer`, `timestamp`, `files` (then one
//! `retention` line per recording destroyed at the end of its retention), `chain`, `log`,
//! `summary`) and stop at the first failure,
//! whose exact reason becomes [`Report::error`]. A report is `ok` only if every check passed.
//!
//! Memory and work are bounded: each entry may declare at most [`MAX_ENTRY_SIZE`] bytes, at most
//! [`MAX_TOTAL_UNCOMPRESSED`] bytes are decompressed in all, and only `manifest.json`,
//! `manifest.jws`, `log.json` and `events.jsonl` are kept in memory; recordings are hashed as they stream.
//!
//! The container is held to the shape [`seal`](super::bundle::seal) writes: no bytes before,
//! between or after the entries, no repeated names, and local headers that agree with the
//! central directory. Zip tools disagree on which of those structures they trust, so this keeps
//! any tool from extracting something other than what was verified. What remains uncovered is
//! metadata no content depends on (version-made-by, file attributes).

use super::bundle::{
    DOCUMENTS_PREFIX, EVENTS_JSONL, HashingReader, LOG_JSON, LOG_PROOF_FORMAT, LogInclusion,
    MANIFEST_FORMAT, MANIFEST_FORMAT_V1, MANIFEST_JSON, MANIFEST_JWS, MAX_ENTRY_SIZE, Manifest,
    ManifestFile, RECORDINGS_PREFIX, RETENTION_FORMAT, RETENTION_JSON, RetentionNote,
    is_plain_file_name,
};
use super::signatures::{self, Anchors, Checked, SignatureError};
use crate::evidence;
use crate::ids::SessionId;
use crate::translog::{self, LogVerifier};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{self, Cursor, Read};

/// Most bytes decompressed from one bundle, so a zip bomb stops early.
pub const MAX_TOTAL_UNCOMPRESSED: u64 = 8 << 30;

/// The outcome of verifying one bundle.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = VerifyReport)]
pub struct Report {
    pub ok: bool,
    /// Reason of the first failed check.
    pub error: Option<String>,
    /// Checks run so far, in order; the last one failed unless `ok`.
    pub checks: Vec<Check>,
    /// The manifest, present once its signature has been verified.
    #[schema(value_type = Option<Object>)]
    pub manifest: Option<Manifest>,
    /// Who signed and when, present once the signatures have been verified.
    #[serde(default, skip_deserializing)]
    #[schema(value_type = Option<Object>)]
    pub signatures: Option<Checked>,
}

#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl Report {
    /// Human-readable form for the CLI: one line per check, then `VERIFIED` or `FAILED`.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for check in &self.checks {
            let mark = if check.ok { '✔' } else { '✘' };
            // Writing to a String cannot fail.
            let _ = writeln!(out, "{mark} {}: {}", check.name, check.detail);
        }
        match (&self.error, self.ok) {
            (None, true) => out.push_str("VERIFIED\n"),
            (Some(reason), _) => {
                let _ = writeln!(out, "FAILED: {reason}");
            }
            (None, false) => out.push_str("FAILED: verification did not complete\n"),
        }
        out
    }

    fn pass(&mut self, name: &str, detail: String) {
        self.checks.push(Check {
            name: name.to_owned(),
            ok: true,
            detail,
        });
    }

    fn fail(mut self, name: &str, reason: String) -> Report {
        self.checks.push(Check {
            name: name.to_owned(),
            ok: false,
            detail: reason.clone(),
        });
        self.ok = false;
        self.error = Some(reason);
        self
    }
}

/// What a verifier trusts: office CA certificates (DER) for the signatures, and transparency
/// log verifier keys for the checkpoint a bundle's log proof is checked against.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    /// Office CA certificates and time-stamping authority roots, DER.
    pub certificates: Vec<Vec<u8>>,
    pub log_keys: Vec<LogVerifier>,
    /// Office CRLs (DER) to check officer certificates against, besides the one a bundle
    /// carries: a fresher list catches a revocation made after sealing but dated before it.
    pub crls: Vec<Vec<u8>>,
    /// The log as its server shows it now, to check the bundle's checkpoint against.
    pub log_head: Option<LogHead>,
}

/// A log's current checkpoint and the consistency proof from the tree size a bundle's
/// checkpoint names up to it, as fetched from the log (`globallink verify --log-url`).
#[derive(Clone, Debug, Default)]
pub struct LogHead {
    /// Where it came from, for the report.
    pub source: String,
    /// The current checkpoint note.
    pub checkpoint: String,
    /// RFC 9162 consistency proof from the bundle's tree size to the current one.
    pub consistency: Vec<translog::Hash>,
}

/// The `log.json` of a bundle, read without verifying anything else: what a caller needs to
/// ask the log for a consistency proof.
pub fn log_inclusion(bundle: &[u8]) -> Result<LogInclusion, String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bundle))
        .map_err(|e| format!("not a readable zip archive: {e}"))?;
    let mut entry = archive
        .by_name(LOG_JSON)
        .map_err(|_| "log.json is missing".to_owned())?;
    let mut bytes = Vec::new();
    (&mut entry)
        .take(1 << 20)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("log.json: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("log.json: not a log proof: {e}"))
}

/// Verify a bundle held in memory against `trust`, without a verification time: a recording
/// missing from the bundle always fails. See [`verify_bundle_at`].
pub fn verify_bundle(bytes: &[u8], trust: &Trust) -> Report {
    verify_bundle_at(bytes, trust, None)
}

/// Verify a bundle against `trust` at the time `now`: a recording the manifest lists but the
/// bundle lacks is accepted as destroyed at the end of retention only if the signed manifest's
/// deadline (`retention.recordings_until`) is at or before `now`, and the bundle's
/// `retention.json` names it with the manifest's hash and size and a destruction time not
/// before that deadline. Anything else missing fails, as before.
pub fn verify_bundle_at(bytes: &[u8], trust: &Trust, now: Option<DateTime<Utc>>) -> Report {
    let mut report = Report {
        ok: false,
        error: None,
        checks: Vec::new(),
        manifest: None,
        signatures: None,
    };

    let entries = match read_entries(bytes) {
        Ok(entries) => entries,
        Err(reason) => return report.fail("zip", reason),
    };
    report.pass(
        "zip",
        format!(
            "{} entries, {} bytes uncompressed",
            entries.order.len(),
            entries.total
        ),
    );

    let (manifest, manifest_bytes) = match check_manifest(&entries) {
        Ok(found) => found,
        Err(reason) => return report.fail("manifest", reason),
    };
    report.pass(
        "manifest",
        format!(
            "{}, artefact {}, {} files, canonical JSON",
            manifest.format,
            manifest.artefact_id,
            manifest.files.len()
        ),
    );

    let signed = match check_signature(&entries, manifest_bytes, &manifest, trust) {
        Ok(signed) => signed,
        Err((check, reason)) => {
            // The checks before the failing one passed; name them so the report reads in order.
            for earlier in ["signature", "officer", "timestamp"] {
                if earlier == check {
                    break;
                }
                report.pass(earlier, "verified".to_owned());
            }
            return report.fail(check, reason);
        }
    };
    report.pass(
        "signature",
        format!(
            "hub: signed by {}, issued by {} (serial {}), at {}",
            signed.hub.subject,
            signed.hub.issuer,
            signed.hub.serial,
            signed.signed_at.to_rfc3339()
        ),
    );
    match &signed.officer {
        Some(officer) => report.pass(
            "officer",
            format!(
                "signed by officer {} ({}), certificate serial {} issued by {}, valid at {}; {}; \
                 countersigned by the hub",
                officer.display_name,
                officer.officer_id,
                officer.serial,
                officer.signer.issuer,
                signed.signed_at.to_rfc3339(),
                officer.revocation
            ),
        ),
        None => report.pass(
            "officer",
            "not signed by an officer: sealed by the hub alone".to_owned(),
        ),
    }
    match &signed.timestamp {
        Some(token) => report.pass(
            "timestamp",
            format!(
                "RFC 3161 token from {} at {} (serial {}) over the hub signature",
                token.tsa,
                token.gen_time.to_rfc3339(),
                token.serial
            ),
        ),
        None => report.pass(
            "timestamp",
            "none: no time-stamping authority was used".to_owned(),
        ),
    }
    report.signatures = Some(signed);
    report.manifest = Some(manifest.clone());

    let destroyed = match check_files(&entries, &manifest, now) {
        Ok((detail, destroyed)) => {
            report.pass("files", detail);
            destroyed
        }
        Err(reason) => return report.fail("files", reason),
    };
    for line in destroyed {
        report.pass("retention", line);
    }

    match check_chain(&entries, &manifest) {
        Ok(detail) => report.pass("chain", detail),
        Err(reason) => return report.fail("chain", reason),
    }

    match check_log(&entries, manifest_bytes, &trust.log_keys) {
        Ok(detail) => report.pass("log", detail),
        Err(reason) => return report.fail("log", reason),
    }

    if let Some(head) = &trust.log_head {
        match check_log_current(&entries, head, &trust.log_keys) {
            Ok(detail) => report.pass("log-current", detail),
            Err(reason) => return report.fail("log-current", reason),
        }
    }

    report.pass(
        "summary",
        format!(
            "artefact {} of case {} ({}), session {} {}, sealed at {}",
            manifest.artefact_id,
            manifest.case.id,
            manifest.case.service,
            manifest.session.id,
            manifest.session.outcome,
            manifest.sealed_at.to_rfc3339(),
        ),
    );
    report.ok = true;
    report
}

/// One zip entry, fully read.
struct Entry {
    size: u64,
    sha256: String,
    /// Kept only for the small entries the verifier parses.
    contents: Option<Vec<u8>>,
}

struct Entries {
    by_name: BTreeMap<String, Entry>,
    order: Vec<String>,
    total: u64,
}

impl Entries {
    fn contents(&self, name: &str) -> Option<&[u8]> {
        self.by_name.get(name)?.contents.as_deref()
    }
}

/// Open the archive, check its layout and read every entry to its end, so that CRC and
/// decompression errors surface here rather than as a hash mismatch later.
fn read_entries(bytes: &[u8]) -> Result<Entries, String> {
    let end = end_record(bytes)?;
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("not a readable zip archive: {e}"))?;
    // The zip crate keys entries by name, so a repeated name silently hides one copy; other
    // tools may extract the hidden one. Compare against the central directory's own count.
    if end.entries != archive.len() as u64 {
        return Err(format!(
            "archive declares {} entries but holds {} distinct names (repeated entry names)",
            end.entries,
            archive.len()
        ));
    }
    if archive.offset() != 0 || archive.central_directory_start() != end.cd_start {
        return Err("the archive's offsets do not match its layout".to_owned());
    }

    let mut spans = Vec::with_capacity(archive.len());
    let mut budget = MAX_TOTAL_UNCOMPRESSED;
    for index in 0..archive.len() {
        let file = archive
            .by_index_raw(index)
            .map_err(|e| format!("entry {index}: cannot open: {e}"))?;
        let name = file.name().to_owned();
        let declared = file.size();
        if declared > MAX_ENTRY_SIZE {
            return Err(format!(
                "entry {name:?}: declared size {declared} bytes exceeds the {MAX_ENTRY_SIZE} \
                 byte limit"
            ));
        }
        budget = budget.checked_sub(declared).ok_or_else(|| {
            format!(
                "entry {name:?}: the archive expands to more than {MAX_TOTAL_UNCOMPRESSED} bytes"
            )
        })?;
        spans.push(Span {
            name,
            local: file.header_start(),
            central: file.central_header_start(),
            compressed: file.compressed_size(),
        });
    }
    check_layout(bytes, &mut spans, &end)?;

    let mut entries = Entries {
        by_name: BTreeMap::new(),
        order: Vec::new(),
        total: 0,
    };
    for index in 0..archive.len() {
        let mut file = archive
            .by_index(index)
            .map_err(|e| format!("entry {index}: cannot open: {e}"))?;
        let name = file.name().to_owned();
        let declared = file.size();
        let keep = [
            MANIFEST_JSON,
            MANIFEST_JWS,
            LOG_JSON,
            EVENTS_JSONL,
            RETENTION_JSON,
        ]
        .contains(&name.as_str());
        let mut sink = if keep {
            Sink::Keep(Vec::new())
        } else {
            Sink::Discard
        };
        // One byte past the declared size, so an entry that inflates beyond it is caught. The
        // first pass bounded `declared` by MAX_ENTRY_SIZE, so the addition cannot overflow.
        let mut reader = HashingReader::new((&mut file).take(declared + 1));
        io::copy(&mut reader, &mut sink).map_err(|e| format!("entry {name:?}: {e}"))?;
        let (sha256, size) = reader.finish();
        if size != declared {
            return Err(format!(
                "entry {name:?}: holds {size}{} bytes but declares {declared}",
                if size > declared { "+" } else { "" }
            ));
        }
        entries.total += size;
        let contents = match sink {
            Sink::Keep(bytes) => Some(bytes),
            Sink::Discard => None,
        };
        entries.order.push(name.clone());
        entries.by_name.insert(
            name,
            Entry {
                size,
                sha256,
                contents,
            },
        );
    }
    Ok(entries)
}

enum Sink {
    Keep(Vec<u8>),
    Discard,
}

impl io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Keep(bytes) => bytes.write(buf),
            Sink::Discard => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const LOCAL_SIG: &[u8] = b"PK\x03\x04";
const LOCAL_LEN: u64 = 30;
const CENTRAL_SIG: &[u8] = b"PK\x01\x02";
const CENTRAL_LEN: u64 = 46;
const EOCD_SIG: &[u8] = b"PK\x05\x06";
const EOCD_LEN: usize = 22;
const ZIP64_LOCATOR_SIG: &[u8] = b"PK\x06\x07";
const ZIP64_LOCATOR_LEN: usize = 20;
const ZIP64_EOCD_SIG: &[u8] = b"PK\x06\x06";

/// Where one entry's headers are and how long its stored data is.
struct Span {
    name: String,
    local: u64,
    central: u64,
    compressed: u64,
}

/// What the end-of-central-directory record says.
struct EndRecord {
    entries: u64,
    cd_start: u64,
    /// Where the central directory must end: at the (zip64) end record.
    cd_end: u64,
}

/// Read the end-of-central-directory record, which must be the last bytes of the data: bundles
/// carry no archive comment and nothing after the record.
fn end_record(bytes: &[u8]) -> Result<EndRecord, String> {
    if !bytes.starts_with(LOCAL_SIG) {
        return Err("not a bundle: the data does not start with a zip entry".to_owned());
    }
    let eocd_at = bytes
        .len()
        .checked_sub(EOCD_LEN)
        .ok_or("not a zip archive: too short")?;
    let eocd = bytes.get(eocd_at..).unwrap_or_default();
    if !eocd.starts_with(EOCD_SIG) {
        return Err(
            "the archive does not end with its end-of-central-directory record \
                    (trailing data or an archive comment)"
                .to_owned(),
        );
    }
    let truncated = || "truncated end-of-central-directory record".to_owned();
    let entries = u16_at(eocd, 10).ok_or_else(truncated)?;
    let cd_size = u32_at(eocd, 12).ok_or_else(truncated)?;
    let cd_start = u32_at(eocd, 16).ok_or_else(truncated)?;
    if entries != u16::MAX && cd_size != u32::MAX && cd_start != u32::MAX {
        let cd_end = u64::from(cd_start) + u64::from(cd_size);
        if cd_end != eocd_at as u64 {
            return Err("the central directory does not end at the end record".to_owned());
        }
        return Ok(EndRecord {
            entries: u64::from(entries),
            cd_start: cd_start.into(),
            cd_end,
        });
    }

    let bad = || "invalid zip64 end-of-central-directory record".to_owned();
    let locator_at = eocd_at.checked_sub(ZIP64_LOCATOR_LEN).ok_or_else(bad)?;
    let locator = bytes
        .get(locator_at..eocd_at)
        .filter(|l| l.starts_with(ZIP64_LOCATOR_SIG))
        .ok_or_else(bad)?;
    let record_at = u64_at(locator, 8).ok_or_else(bad)?;
    let record = usize::try_from(record_at)
        .ok()
        .and_then(|at| bytes.get(at..locator_at))
        .filter(|r| r.starts_with(ZIP64_EOCD_SIG))
        .ok_or_else(bad)?;
    let entries = u64_at(record, 32).ok_or_else(bad)?;
    let cd_size = u64_at(record, 40).ok_or_else(bad)?;
    let cd_start = u64_at(record, 48).ok_or_else(bad)?;
    if cd_start.checked_add(cd_size) != Some(record_at) {
        return Err("the central directory does not end at the zip64 end record".to_owned());
    }
    Ok(EndRecord {
        entries,
        cd_start,
        cd_end: record_at,
    })
}

/// Entries must tile the data: each local header right after the previous entry's data, the
/// central directory right after the last entry, and each local header must agree with its
/// central directory record (version, flags, method, time, CRC, sizes and name). Otherwise a
/// tool that reads local headers, or scans for them, could extract something other than what
/// was verified.
fn check_layout(bytes: &[u8], spans: &mut [Span], end: &EndRecord) -> Result<(), String> {
    let overflow = || "entry offsets overflow".to_owned();
    spans.sort_by_key(|s| s.local);
    let mut next = 0u64;
    for span in spans.iter() {
        let name = &span.name;
        if span.local != next {
            return Err(format!(
                "entry {name:?} starts at offset {}, expected {next}: the archive holds bytes \
                 outside its entries",
                span.local
            ));
        }
        let local = slice(bytes, span.local, LOCAL_LEN)
            .filter(|h| h.starts_with(LOCAL_SIG))
            .ok_or_else(|| format!("entry {name:?}: no local header at offset {}", span.local))?;
        let central = slice(bytes, span.central, CENTRAL_LEN)
            .filter(|h| h.starts_with(CENTRAL_SIG))
            .ok_or_else(|| format!("entry {name:?}: bad central directory record"))?;
        let name_len = u16_at(central, 28).ok_or_else(overflow)?;
        let local_name = slice(bytes, span.local.saturating_add(LOCAL_LEN), name_len.into());
        let central_name = slice(
            bytes,
            span.central.saturating_add(CENTRAL_LEN),
            name_len.into(),
        );
        // Local bytes 4..28 and central bytes 6..30 are the same fields in the same order:
        // version needed, flags, method, time, date, CRC, sizes and name length.
        if local.get(4..28) != central.get(6..30) || local_name != central_name {
            return Err(format!(
                "entry {name:?}: local header disagrees with the central directory"
            ));
        }
        let local_extra = u16_at(local, 28).ok_or_else(overflow)?;
        next = [
            LOCAL_LEN,
            name_len.into(),
            local_extra.into(),
            span.compressed,
        ]
        .into_iter()
        .try_fold(span.local, u64::checked_add)
        .ok_or_else(overflow)?;
    }
    if next != end.cd_start {
        return Err(format!(
            "the central directory starts at offset {}, expected {next}: the archive holds \
             bytes outside its entries",
            end.cd_start
        ));
    }

    let mut centrals: Vec<u64> = spans.iter().map(|s| s.central).collect();
    centrals.sort_unstable();
    let mut next = end.cd_start;
    for at in centrals {
        let header =
            slice(bytes, at, CENTRAL_LEN).filter(|h| at == next && h.starts_with(CENTRAL_SIG));
        let header = header.ok_or("the central directory holds bytes outside its records")?;
        let lengths = [28, 30, 32].map(|field| u16_at(header, field).map(u64::from));
        let [Some(name), Some(extra), Some(comment)] = lengths else {
            return Err(overflow());
        };
        next = [CENTRAL_LEN, name, extra, comment]
            .into_iter()
            .try_fold(at, u64::checked_add)
            .ok_or_else(overflow)?;
    }
    if next != end.cd_end {
        return Err("the central directory holds bytes outside its records".to_owned());
    }
    Ok(())
}

fn slice(bytes: &[u8], at: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(at).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    bytes.get(start..end)
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let raw = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes(raw.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let raw = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(raw.try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let raw = bytes.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(raw.try_into().ok()?))
}

fn check_manifest(entries: &Entries) -> Result<(Manifest, &[u8]), String> {
    let bytes = entries
        .contents(MANIFEST_JSON)
        .ok_or("manifest.json is missing")?;
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("manifest.json is not valid JSON: {e}"))?;
    let v2 = match value.get("format").and_then(|f| f.as_str()) {
        Some(MANIFEST_FORMAT) => true,
        Some(MANIFEST_FORMAT_V1) => false,
        Some(other) => {
            return Err(format!(
                "manifest.json has format {other:?}, this verifier reads {MANIFEST_FORMAT_V1:?} \
                 and {MANIFEST_FORMAT:?}"
            ));
        }
        None => return Err("manifest.json has no format".to_owned()),
    };
    let manifest: Manifest = serde_json::from_value(value)
        .map_err(|e| format!("manifest.json is not a valid manifest: {e}"))?;
    if manifest.retention.is_some() != v2 {
        return Err(format!(
            "manifest.json of format {:?} must {} a retention",
            manifest.format,
            if v2 { "have" } else { "not have" }
        ));
    }
    // Comparing against the canonical form of the parsed struct also rejects unknown fields,
    // which the signature would cover but nothing would check.
    let canonical = evidence::canonical_json(&manifest).map_err(|e| e.to_string())?;
    if canonical.as_bytes() != bytes {
        return Err("manifest.json is not in RFC 8785 canonical form".to_owned());
    }
    Ok((manifest, bytes))
}

fn check_signature(
    entries: &Entries,
    manifest_bytes: &[u8],
    manifest: &Manifest,
    trust: &Trust,
) -> Result<Checked, (&'static str, String)> {
    let jws = entries
        .contents(MANIFEST_JWS)
        .ok_or(("signature", "manifest.jws is missing".to_owned()))?;
    let anchors = Anchors {
        certificates: &trust.certificates,
        crls: &trust.crls,
    };
    signatures::check(jws, manifest_bytes, anchors, manifest.sealed_at).map_err(|e| {
        let check = match &e {
            SignatureError::Jws(_) | SignatureError::Hub(_) => "signature",
            SignatureError::TimestampEncoding(_)
            | SignatureError::Timestamp(_)
            | SignatureError::TimestampSkew { .. } => "timestamp",
            _ => "officer",
        };
        (check, e.to_string())
    })
}

/// The bundle's checkpoint is an ancestor of the log's current one: the log was only appended
/// to since, so the record the bundle was proved against is the record everyone sees.
fn check_log_current(
    entries: &Entries,
    head: &LogHead,
    log_keys: &[LogVerifier],
) -> Result<String, String> {
    let bytes = entries.contents(LOG_JSON).ok_or("log.json is missing")?;
    let log: LogInclusion =
        serde_json::from_slice(bytes).map_err(|e| format!("log.json: not a log proof: {e}"))?;
    let key = log_keys
        .iter()
        .find(|k| k.name() == log.origin)
        .ok_or_else(|| format!("no trusted key for log {:?}", log.origin))?;
    let ours = key
        .open_checkpoint(&log.checkpoint, &log.origin)
        .map_err(|e| format!("checkpoint: {e}"))?;
    let current = key
        .open_checkpoint(&head.checkpoint, &log.origin)
        .map_err(|e| {
            format!(
                "the current checkpoint from {} does not verify: {e}",
                head.source
            )
        })?;
    if current.size < ours.size {
        return Err(format!(
            "the log at {} has {} leaves, fewer than the {} the bundle's checkpoint commits to: \
             the log was rolled back or the bundle was proved against a fork",
            head.source, current.size, ours.size
        ));
    }
    translog::verify_consistency(
        ours.size,
        current.size,
        &ours.root,
        &current.root,
        &head.consistency,
    )
    .map_err(|e| {
        format!(
            "the bundle's checkpoint ({} leaves) is not an earlier state of the log at {} ({} \
             leaves): {e}; the log forked",
            ours.size, head.source, current.size
        )
    })?;
    Ok(format!(
        "the log at {} has grown from {} to {} leaves, consistently",
        head.source, ours.size, current.size
    ))
}

/// `log.json` proves `manifest.json` is leaf `leaf_index` of a tree whose checkpoint a trusted
/// log key signed.
fn check_log(
    entries: &Entries,
    manifest_bytes: &[u8],
    log_keys: &[LogVerifier],
) -> Result<String, String> {
    let bytes = entries.contents(LOG_JSON).ok_or("log.json is missing")?;
    let log: LogInclusion =
        serde_json::from_slice(bytes).map_err(|e| format!("log.json: not a log proof: {e}"))?;
    if log.format != LOG_PROOF_FORMAT {
        return Err(format!(
            "log.json: format {:?}, expected {LOG_PROOF_FORMAT:?}",
            log.format
        ));
    }
    let key = log_keys
        .iter()
        .find(|k| k.name() == log.origin)
        .ok_or_else(|| {
            format!(
                "no trusted key for log {:?} (give the log's verifier key, published at \
                 /api/log/key)",
                log.origin
            )
        })?;
    let checkpoint = key
        .open_checkpoint(&log.checkpoint, &log.origin)
        .map_err(|e| format!("checkpoint: {e}"))?;
    if checkpoint.size != log.tree_size {
        return Err(format!(
            "checkpoint is for {} leaves, the proof for {}",
            checkpoint.size, log.tree_size
        ));
    }
    let proof = log
        .inclusion_proof
        .iter()
        .map(|h| {
            hex::decode(h)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| format!("inclusion proof: {h:?} is not a 32-byte hex hash"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    translog::verify_inclusion(
        &translog::leaf_hash(manifest_bytes),
        log.leaf_index,
        log.tree_size,
        &proof,
        &checkpoint.root,
    )
    .map_err(|e| {
        format!(
            "manifest.json is not leaf {} of the log: {e}",
            log.leaf_index
        )
    })?;
    Ok(format!(
        "manifest is leaf {} of {} in log {}, checkpoint signed by key {:08x}",
        log.leaf_index,
        log.tree_size,
        log.origin,
        key.key_id()
    ))
}

/// The bundle's `retention.json`, checked against the manifest, when it has one.
fn retention_note(entries: &Entries, manifest: &Manifest) -> Result<Option<RetentionNote>, String> {
    if !entries.by_name.contains_key(RETENTION_JSON) {
        return Ok(None);
    }
    let Some(retention) = &manifest.retention else {
        return Err("retention.json in a bundle whose manifest has no retention".to_owned());
    };
    let bytes = entries
        .contents(RETENTION_JSON)
        .ok_or("retention.json cannot be read")?;
    let note: RetentionNote = serde_json::from_slice(bytes)
        .map_err(|e| format!("retention.json is not a retention note: {e}"))?;
    if note.format != RETENTION_FORMAT {
        return Err(format!(
            "retention.json has format {:?}, this verifier reads {RETENTION_FORMAT:?}",
            note.format
        ));
    }
    if note.artefact_id != manifest.artefact_id {
        return Err("retention.json is about another artefact".to_owned());
    }
    if note.recordings_until != retention.recordings_until {
        return Err("retention.json names another deadline than the manifest".to_owned());
    }
    if note.destroyed_at < retention.recordings_until {
        return Err(format!(
            "retention.json says the recordings were destroyed at {}, before the signed \
             deadline {}",
            note.destroyed_at.to_rfc3339(),
            retention.recordings_until.to_rfc3339()
        ));
    }
    Ok(Some(note))
}

/// Whether the listed recording `file`, missing from the bundle, was destroyed at the end of
/// retention: the reason it was not, or the report line saying it was.
fn destroyed_recording(
    file: &ManifestFile,
    manifest: &Manifest,
    note: Option<&RetentionNote>,
    now: Option<DateTime<Utc>>,
) -> Result<String, String> {
    let path = &file.path;
    let missing = format!("file {path}: missing from the bundle");
    if !path.starts_with(RECORDINGS_PREFIX) {
        return Err(missing);
    }
    let Some(retention) = &manifest.retention else {
        return Err(missing);
    };
    let until = retention.recordings_until;
    let Some(now) = now else {
        return Err(format!(
            "{missing} (no verification time was given to check its retention deadline {})",
            until.to_rfc3339()
        ));
    };
    if now < until {
        return Err(format!(
            "{missing}, and its retention runs until {}",
            until.to_rfc3339()
        ));
    }
    let Some(note) = note else {
        return Err(format!(
            "{missing}: its retention ended at {}, but the bundle has no retention.json \
             recording the destruction",
            until.to_rfc3339()
        ));
    };
    if !note.destroyed.iter().any(|d| d == file) {
        return Err(format!(
            "{missing}: retention.json does not name it with the manifest's hash and size"
        ));
    }
    Ok(format!(
        "{path}: destroyed at end of retention (deadline {}, destroyed at {}); its sha256 {} \
         and size {} stay in the signed manifest",
        until.to_rfc3339(),
        note.destroyed_at.to_rfc3339(),
        short(&file.sha256),
        file.size
    ))
}

/// Check every listed file; returns the report line and one line per recording destroyed at
/// the end of retention.
fn check_files(
    entries: &Entries,
    manifest: &Manifest,
    now: Option<DateTime<Utc>>,
) -> Result<(String, Vec<String>), String> {
    let note = retention_note(entries, manifest)?;
    let mut destroyed = Vec::new();
    let mut listed = BTreeSet::new();
    let mut total = 0u64;
    for file in &manifest.files {
        let path = file.path.as_str();
        let allowed = path == EVENTS_JSONL
            || path
                .strip_prefix(RECORDINGS_PREFIX)
                .or_else(|| path.strip_prefix(DOCUMENTS_PREFIX))
                .is_some_and(is_plain_file_name);
        if !allowed {
            return Err(format!(
                "manifest lists {path:?}, which is not a bundle file path"
            ));
        }
        if !listed.insert(path) {
            return Err(format!("manifest lists {path:?} twice"));
        }
        let Some(entry) = entries.by_name.get(path) else {
            destroyed.push(destroyed_recording(file, manifest, note.as_ref(), now)?);
            continue;
        };
        if entry.size != file.size {
            return Err(format!(
                "file {path}: size mismatch (manifest {}, bundle {})",
                file.size, entry.size
            ));
        }
        if entry.sha256 != file.sha256 {
            return Err(format!(
                "file {path}: sha256 mismatch (manifest {}, bundle {})",
                short(&file.sha256),
                short(&entry.sha256)
            ));
        }
        total = total.saturating_add(file.size);
    }
    if !listed.contains(EVENTS_JSONL) {
        return Err("manifest does not list events.jsonl".to_owned());
    }
    for name in &entries.order {
        let expected = name == MANIFEST_JSON
            || name == MANIFEST_JWS
            || name == LOG_JSON
            || (name == RETENTION_JSON && note.is_some())
            || listed.contains(&**name);
        if !expected {
            return Err(format!("unexpected entry {name:?} in the bundle"));
        }
    }
    if let Some(note) = &note
        && let Some(kept) = note
            .destroyed
            .iter()
            .find(|d| entries.by_name.contains_key(&d.path))
    {
        return Err(format!(
            "retention.json says {} was destroyed, but the bundle holds it",
            kept.path
        ));
    }
    let present = manifest.files.len() - destroyed.len();
    let detail = match destroyed.len() {
        0 => format!("{present} files, {total} bytes, all hashes match"),
        n => format!(
            "{present} files present, all hashes match; {n} recordings destroyed at end of \
             retention"
        ),
    };
    Ok((detail, destroyed))
}

fn check_chain(entries: &Entries, manifest: &Manifest) -> Result<String, String> {
    let jsonl = entries
        .contents(EVENTS_JSONL)
        .ok_or("events.jsonl is missing")?;
    let chain = evidence::verify_jsonl(jsonl).map_err(|e| format!("events.jsonl: {e}"))?;
    if chain.events == 0 {
        return Err("events.jsonl holds no events".to_owned());
    }
    if chain.events != manifest.chain.events {
        return Err(format!(
            "events.jsonl has {} events, the manifest commits to {}",
            chain.events, manifest.chain.events
        ));
    }
    if chain.head != manifest.chain.head {
        return Err(format!(
            "events.jsonl head {} does not match the manifest's {}",
            short(&chain.head),
            short(&manifest.chain.head)
        ));
    }
    #[derive(Deserialize)]
    struct Line {
        session: SessionId,
    }
    // verify_jsonl accepted every line, so each is valid UTF-8 JSON carrying a session.
    for (index, line) in jsonl
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let line_no = index + 1;
        let session = serde_json::from_slice::<Line>(line)
            .map_err(|e| format!("events.jsonl line {line_no}: {e}"))?
            .session;
        if session != manifest.session.id {
            return Err(format!(
                "events.jsonl line {line_no}: event of session {session}, the manifest is for \
                 session {}",
                manifest.session.id
            ));
        }
    }
    Ok(format!(
        "{} events of session {}, head {}",
        chain.events,
        manifest.session.id,
        short(&chain.head)
    ))
}

/// First characters of a hash for messages; hashes from the manifest are untrusted text, so
/// this counts characters rather than slicing bytes.
fn short(hash: &str) -> String {
    let mut out: String = hash.chars().take(12).collect();
    if hash.chars().nth(12).is_some() {
        out.push_str("..");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::bundle::tests::{TestLog, sample_input};
    use crate::seal::bundle::{ManifestFile, seal};
    use crate::seal::pki::HubIdentity;
    use crate::seal::pki::tests::dev_identity;
    use std::io::Write as _;
    use zip::write::SimpleFileOptions;

    struct Fixture {
        _dir: tempfile::TempDir,
        id: HubIdentity,
        log: TestLog,
        bytes: Vec<u8>,
    }

    impl Fixture {
        fn new() -> Self {
            let (dir, id) = dev_identity();
            let out = dir.path().join("artefact");
            let log = TestLog::new();
            seal(sample_input(dir.path()), &id, |m| log.include(m), &out).expect("seal");
            let bytes = crate::seal::bundle::StoredArtefact::Directory(out)
                .zip()
                .and_then(|zip| zip.to_vec())
                .expect("bundle zip");
            Fixture {
                _dir: dir,
                id,
                log,
                bytes,
            }
        }

        fn trust(&self) -> Trust {
            self.log.trust(&self.id)
        }

        fn verify(&self, bytes: &[u8]) -> Report {
            verify_bundle(bytes, &self.trust())
        }
    }

    fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("readable zip");
        (0..zip.len())
            .map(|i| {
                let mut file = zip.by_index(i).expect("entry");
                let mut content = Vec::new();
                file.read_to_end(&mut content).expect("entry content");
                (file.name().to_owned(), content)
            })
            .collect()
    }

    /// Where entry `name` is in `entries`.
    fn at(entries: &[(String, Vec<u8>)], name: &str) -> usize {
        entries
            .iter()
            .position(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} in the bundle"))
    }

    fn rezip(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, content) in entries {
            zip.start_file(name.as_str(), SimpleFileOptions::default())
                .expect("start entry");
            zip.write_all(content).expect("write entry");
        }
        zip.finish().expect("finish zip").into_inner()
    }

    /// Rewrite the manifest with `edit`, re-canonicalise and re-sign it with the hub key, so
    /// that the checks after `signature` are exercised on their own.
    fn resign(fx: &Fixture, edit: impl FnOnce(&mut Manifest)) -> Vec<u8> {
        let mut entries = unzip(&fx.bytes);
        let mut manifest: Manifest =
            serde_json::from_slice(&entries[at(&entries, MANIFEST_JSON)].1)
                .expect("manifest parses");
        edit(&mut manifest);
        let json = evidence::canonical_json(&manifest).expect("canonical");
        let jws = crate::seal::signatures::hub_only(json.as_bytes(), &fx.id, manifest.sealed_at)
            .expect("sign")
            .to_text();
        // Logged too, so only the check the edit is aimed at can fail.
        let log = fx.log.include(json.as_bytes()).expect("logged");
        let (m, j, l) = (
            at(&entries, MANIFEST_JSON),
            at(&entries, MANIFEST_JWS),
            at(&entries, LOG_JSON),
        );
        entries[m].1 = json.into_bytes();
        entries[j].1 = jws.into_bytes();
        entries[l].1 = serde_json::to_vec(&log).expect("log.json");
        rezip(&entries)
    }

    fn assert_fails_at(report: &Report, check: &str, needle: &str) {
        let failed = report.checks.last().map(|c| (c.name.as_str(), c.ok));
        assert!(!report.ok, "unexpectedly verified");
        assert_eq!(failed, Some((check, false)), "{}", report.render_text());
        let error = report.error.as_deref().unwrap_or_default();
        assert!(error.contains(needle), "{error:?} lacks {needle:?}");
        assert!(
            report
                .render_text()
                .ends_with(&format!("FAILED: {error}\n"))
        );
    }

    #[test]
    fn sealed_bundle_verifies() {
        let fx = Fixture::new();
        let report = fx.verify(&fx.bytes);
        let names: Vec<_> = report.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "zip",
                "manifest",
                "signature",
                "officer",
                "timestamp",
                "files",
                "chain",
                "log",
                "summary"
            ]
        );
        assert!(report.ok, "{}", report.render_text());
        assert!(report.checks.iter().all(|c| c.ok));
        assert_eq!(report.error, None);
        assert_eq!(report.manifest.as_ref().map(|m| m.files.len()), Some(3));
        let text = report.render_text();
        assert!(text.ends_with("VERIFIED\n"), "{text}");
        assert!(
            text.contains("✔ signature: hub: signed by CN=globallink hub"),
            "{text}"
        );
        let json = serde_json::to_value(&report).expect("serialisable");
        assert_eq!(json["ok"], true);
    }

    #[test]
    fn rezipped_unchanged_bundle_still_verifies() {
        // Guards the tamper tests below: a failure there is due to the flipped byte alone.
        let fx = Fixture::new();
        let report = fx.verify(&rezip(&unzip(&fx.bytes)));
        assert!(report.ok, "{}", report.render_text());
    }

    #[test]
    fn any_flipped_byte_in_any_entry_fails() {
        let fx = Fixture::new();
        let entries = unzip(&fx.bytes);
        assert_eq!(entries.len(), 6);
        for (index, (name, content)) in entries.iter().enumerate() {
            let last = content.len() - 1;
            for at in [0, 1, last / 2, last] {
                let mut tampered = entries.clone();
                tampered[index].1[at] ^= 0x01;
                let report = fx.verify(&rezip(&tampered));
                assert!(!report.ok, "flip in {name} at {at} went unnoticed");
                // The container is intact; the content checks must be what caught it.
                assert_ne!(report.checks.last().map(|c| c.name.as_str()), Some("zip"));
                assert!(
                    report.manifest.is_none()
                        || ![MANIFEST_JSON, MANIFEST_JWS].contains(&name.as_str()),
                    "{name}: manifest exposed"
                );
            }
        }
    }

    #[test]
    fn flipped_recording_byte_names_the_file() {
        let fx = Fixture::new();
        let mut entries = unzip(&fx.bytes);
        let index = entries
            .iter()
            .position(|(n, _)| n.ends_with(".ivf"))
            .expect("video entry");
        entries[index].1[5] ^= 0x80;
        let report = fx.verify(&rezip(&entries));
        assert_fails_at(
            &report,
            "files",
            "file recordings/applicant-video.ivf: sha256 mismatch",
        );
    }

    #[test]
    fn flipped_bytes_of_the_zip_file_fail() {
        let fx = Fixture::new();
        let bytes = &fx.bytes;
        // Offsets whose flip must always fail: every header signature, each local name, CRC
        // and sizes, all data of the stored recordings, the central directory and end record.
        let mut must_fail = vec![bytes.len() - 22, bytes.len() - 12, bytes.len() - 6];
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("readable zip");
        let cd = usize::try_from(zip.central_directory_start()).expect("small offset");
        must_fail.extend([cd, cd + 10, cd + 16, cd + 20, cd + 24, cd + 28, cd + 46]);
        for i in 0..zip.len() {
            let file = zip.by_index(i).expect("entry");
            let header = usize::try_from(file.header_start()).expect("small offset");
            let data = usize::try_from(file.data_start()).expect("small offset");
            let len = usize::try_from(file.compressed_size()).expect("small entry");
            must_fail.extend([header, header + 8, header + 14, header + 18, header + 22]);
            must_fail.extend(header + 30..data);
            if file.compression() == zip::CompressionMethod::Stored {
                must_fail.extend(data..data + len);
            }
        }
        for &at in &must_fail {
            let mut tampered = bytes.clone();
            tampered[at] ^= 0x01;
            assert!(
                !fx.verify(&tampered).ok,
                "flip at offset {at} went unnoticed"
            );
        }

        // Every other offset: the flip fails, or it touched only zip metadata the manifest does
        // not cover (timestamps, attributes, version fields, a deflate bit that decodes the
        // same), so every entry's name and content is exactly as sealed.
        let original = unzip(bytes);
        let mut unnoticed = Vec::new();
        for at in 0..bytes.len() {
            let mut tampered = bytes.clone();
            tampered[at] ^= 0x01;
            if fx.verify(&tampered).ok {
                assert_eq!(
                    unzip(&tampered),
                    original,
                    "flip at {at} changed what verified"
                );
                unnoticed.push(at);
            }
        }
        assert!(
            unnoticed.len() < bytes.len() / 20,
            "{} unnoticed flips",
            unnoticed.len()
        );
    }

    #[test]
    fn local_header_disagreeing_with_the_central_directory_fails() {
        let fx = Fixture::new();
        let mut bytes = fx.bytes.clone();
        // The first entry's local name: "manifest.json" becomes "manifest.jsoN".
        bytes[30 + 12] ^= 0x20;
        assert_fails_at(&fx.verify(&bytes), "zip", "local header disagrees");
    }

    #[test]
    fn extra_entry_fails() {
        let fx = Fixture::new();
        let mut entries = unzip(&fx.bytes);
        entries.push(("recordings/extra.ivf".to_owned(), b"smuggled".to_vec()));
        let report = fx.verify(&rezip(&entries));
        assert_fails_at(
            &report,
            "files",
            "unexpected entry \"recordings/extra.ivf\"",
        );
    }

    #[test]
    fn missing_recording_fails() {
        let fx = Fixture::new();
        let mut entries = unzip(&fx.bytes);
        entries.retain(|(name, _)| !name.ends_with(".ogg"));
        let report = fx.verify(&rezip(&entries));
        assert_fails_at(
            &report,
            "files",
            "file recordings/applicant-audio.ogg: missing",
        );
    }

    #[test]
    fn wrong_trust_anchor_fails() {
        let fx = Fixture::new();
        let (_dir, other) = dev_identity();
        let report = verify_bundle(&fx.bytes, &fx.log.trust(&other));
        assert_fails_at(
            &report,
            "signature",
            "neither a trust anchor nor issued by one",
        );
        assert!(report.manifest.is_none());
    }

    #[test]
    fn the_log_proof_is_checked_against_a_trusted_key() {
        let fx = Fixture::new();
        let report = fx.verify(&fx.bytes);
        assert!(report.ok, "{}", report.render_text());
        let log = report
            .checks
            .iter()
            .find(|c| c.name == "log")
            .expect("log check");
        assert!(
            log.detail.contains("leaf 0 of 1 in log hub.test/log"),
            "{}",
            log.detail
        );

        // No key for the log, or another key under the same name.
        let mut trust = fx.trust();
        trust.log_keys.clear();
        assert_fails_at(
            &verify_bundle(&fx.bytes, &trust),
            "log",
            "no trusted key for log",
        );
        let impostor = TestLog::new();
        trust.log_keys = vec![impostor.signer.verifier()];
        assert_fails_at(&verify_bundle(&fx.bytes, &trust), "log", "checkpoint");

        let mut entries = unzip(&fx.bytes);
        let l = at(&entries, LOG_JSON);
        let original: LogInclusion = serde_json::from_slice(&entries[l].1).expect("log.json");
        let mut with = |edit: &dyn Fn(&mut LogInclusion)| {
            let mut log = original.clone();
            edit(&mut log);
            entries[l].1 = serde_json::to_vec(&log).expect("log.json");
            fx.verify(&rezip(&entries))
        };
        // A proof for another leaf of a bigger tree: the same key signed that checkpoint.
        let other_leaf = fx.log.include(b"another manifest").expect("logged");
        let report = with(&|log| *log = other_leaf.clone());
        assert_fails_at(&report, "log", "manifest.json is not leaf 1 of the log");
        let report = with(&|log| log.leaf_index = 1);
        assert_fails_at(&report, "log", "is not leaf 1");
        let report = with(&|log| log.tree_size = 2);
        assert_fails_at(
            &report,
            "log",
            "checkpoint is for 1 leaves, the proof for 2",
        );
        let report = with(&|log| log.checkpoint = log.checkpoint.replacen("\n1\n", "\n2\n", 1));
        assert_fails_at(&report, "log", "checkpoint");
        let report = with(&|log| log.inclusion_proof.push("00".repeat(32)));
        assert_fails_at(&report, "log", "proof is too long");
        let report = with(&|log| log.format = "globallink-log-proof/9".into());
        assert_fails_at(&report, "log", "format");
        entries.remove(l);
        assert_fails_at(&fx.verify(&rezip(&entries)), "log", "log.json is missing");
    }

    #[test]
    fn non_canonical_manifest_fails() {
        let fx = Fixture::new();
        let mut entries = unzip(&fx.bytes);
        let m = at(&entries, MANIFEST_JSON);
        let value: serde_json::Value = serde_json::from_slice(&entries[m].1).expect("JSON");
        entries[m].1 = serde_json::to_vec_pretty(&value).expect("JSON");
        let report = fx.verify(&rezip(&entries));
        assert_fails_at(&report, "manifest", "canonical");
    }

    #[test]
    fn other_manifest_format_fails() {
        let fx = Fixture::new();
        let report = fx.verify(&resign(&fx, |m| m.format = "globallink-artefact/3".into()));
        assert_fails_at(&report, "manifest", "format \"globallink-artefact/3\"");
        // Format 2 commits to a retention, format 1 never does.
        let report = fx.verify(&resign(&fx, |m| m.format = MANIFEST_FORMAT.into()));
        assert_fails_at(&report, "manifest", "must have a retention");
        let report = fx.verify(&resign(&fx, |m| {
            m.format = MANIFEST_FORMAT_V1.into();
            m.retention = Some(crate::seal::bundle::ManifestRetention {
                recordings_until: m.sealed_at,
            });
        }));
        assert_fails_at(&report, "manifest", "must not have a retention");
    }

    #[test]
    fn signed_but_inconsistent_manifests_fail() {
        let fx = Fixture::new();
        let report = fx.verify(&resign(&fx, |m| m.session.id = SessionId::random()));
        assert_fails_at(&report, "chain", "the manifest is for session");
        let report = fx.verify(&resign(&fx, |m| m.chain.events += 1));
        assert_fails_at(&report, "chain", "the manifest commits to 6");
        let report = fx.verify(&resign(&fx, |m| m.chain.head = "00".repeat(32)));
        assert_fails_at(&report, "chain", "does not match the manifest");
        let report = fx.verify(&resign(&fx, |m| {
            m.files.push(ManifestFile {
                path: "../etc/passwd".into(),
                sha256: "é".repeat(40),
                size: 1,
            })
        }));
        assert_fails_at(&report, "files", "not a bundle file path");
        let report = fx.verify(&resign(&fx, |m| m.files[2].sha256 = "é".repeat(40)));
        assert_fails_at(&report, "files", "sha256 mismatch (manifest éééééééééééé..");
        let report = fx.verify(&resign(&fx, |m| {
            m.files.remove(0);
        }));
        assert_fails_at(&report, "files", "does not list events.jsonl");
    }

    #[test]
    fn repeated_entry_name_fails() {
        let fx = Fixture::new();
        let mut entries = unzip(&fx.bytes);
        // Same length as "recordings/applicant-audio.ogg", so the raw rename below is safe.
        entries.push((
            "recordings/applicant-audio.ogX".to_owned(),
            b"shadow".to_vec(),
        ));
        let mut bytes = rezip(&entries);
        let from = b"recordings/applicant-audio.ogX";
        let to = b"recordings/applicant-audio.ogg";
        let mut at = 0;
        while let Some(pos) = bytes[at..].windows(from.len()).position(|w| w == from) {
            bytes[at + pos..at + pos + to.len()].copy_from_slice(to);
            at += pos + to.len();
        }
        let report = fx.verify(&bytes);
        assert_fails_at(&report, "zip", "repeated entry names");
    }

    #[test]
    fn oversized_declared_entry_fails() {
        let fx = Fixture::new();
        let mut bytes = fx.bytes.clone();
        let eocd = bytes.len() - 22;
        let cd = u32::from_le_bytes(bytes[eocd + 16..eocd + 20].try_into().expect("4 bytes"));
        let cd = usize::try_from(cd).expect("small offset");
        // Uncompressed size of the first central directory entry.
        bytes[cd + 24..cd + 28].copy_from_slice(&0x9000_0000u32.to_le_bytes());
        let report = fx.verify(&bytes);
        assert_fails_at(&report, "zip", "exceeds the 2147483648 byte limit");
    }

    #[test]
    fn trailing_or_leading_garbage_fails() {
        let fx = Fixture::new();
        let mut trailing = fx.bytes.clone();
        trailing.extend_from_slice(b"junk");
        assert_fails_at(&fx.verify(&trailing), "zip", "trailing data");
        let mut leading = b"#!/bin/sh\n".to_vec();
        leading.extend_from_slice(&fx.bytes);
        assert_fails_at(
            &fx.verify(&leading),
            "zip",
            "does not start with a zip entry",
        );
    }

    #[test]
    fn garbage_input_never_panics() {
        let fx = Fixture::new();
        for input in [&b""[..], b"PK", b"PK\x03\x04", b"PK\x05\x06", &[0u8; 100]] {
            assert_fails_at(&fx.verify(input), "zip", "");
        }
        for len in [1, 30, fx.bytes.len() / 2, fx.bytes.len() - 1] {
            assert!(!fx.verify(&fx.bytes[..len]).ok);
        }
    }

    #[test]
    fn random_corruption_never_panics_or_passes_changed_content() {
        use rand::{Rng as _, SeedableRng as _};
        let fx = Fixture::new();
        let original = unzip(&fx.bytes);
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5ea1);
        let mut failed = 0;
        for _ in 0..1500 {
            let mut bytes = fx.bytes.clone();
            for _ in 0..rng.gen_range(1..=8) {
                let at = rng.gen_range(0..bytes.len());
                bytes[at] = rng.r#gen();
            }
            if rng.gen_bool(0.1) {
                bytes.truncate(rng.gen_range(0..bytes.len()));
            }
            if fx.verify(&bytes).ok {
                assert_eq!(unzip(&bytes), original);
            } else {
                failed += 1;
            }
        }
        assert!(failed > 1400, "only {failed} corruptions detected");
    }
}
