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
        let (signer, _) = crate::translog::LogSigner::generate("hub.test/log").expect("log key");
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
            log_head: None,
        }
    }
}

/// A seal input with two small recordings written into `dir`.
pub(crate) fn sample_input(dir: &Path) -> SealInput {
    let session = SessionId::random();
    let video = dir.join("video.ivf");
    let audio = dir.join("audio.ogg");
    // Removed first: an earlier seal may have linked them into an artefact, read-only.
    let _ = fs::remove_file(&video);
    let _ = fs::remove_file(&audio);
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
        retention: None,
    }
}

/// The zip an auditor downloads of the artefact directory `dir`.
fn zip_of(dir: &Path) -> anyhow::Result<Vec<u8>> {
    Ok(StoredArtefact::Directory(dir.to_owned()).zip()?.to_vec()?)
}

fn entry_names(zip_bytes: &[u8]) -> anyhow::Result<Vec<String>> {
    let mut zip = zip::ZipArchive::new(io::Cursor::new(zip_bytes))?;
    let mut names = Vec::new();
    for i in 0..zip.len() {
        names.push(zip.by_index(i)?.name().to_owned());
    }
    Ok(names)
}

/// Names in `dir` that look like temporary files or directories.
fn leftovers(dir: &Path) -> anyhow::Result<Vec<String>> {
    Ok(fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect())
}

fn mode(path: &Path) -> anyhow::Result<u32> {
    Ok(fs::metadata(path)?.permissions().mode() & 0o777)
}

#[test]
fn seal_writes_the_expected_files_and_manifest() -> anyhow::Result<()> {
    let (dir, id) = dev_identity();
    let input = sample_input(dir.path());
    let events = input.events_jsonl.clone();
    let out = dir.path().join("artefact");
    let log = TestLog::new();
    let sealed = seal(input, &id, |m| log.include(m), &out)?;

    let mut at_rest: Vec<String> = Vec::new();
    for sub in ["", "recordings"] {
        for e in fs::read_dir(out.join(sub))? {
            let e = e?;
            if e.file_type()?.is_file() {
                at_rest.push(format!(
                    "{sub}{}{}",
                    if sub.is_empty() { "" } else { "/" },
                    e.file_name().to_string_lossy()
                ));
                assert_eq!(mode(&e.path())?, READ_ONLY, "{:?}", e.path());
            }
        }
    }
    at_rest.sort();
    assert_eq!(
        at_rest,
        [
            EVENTS_JSONL,
            LOG_JSON,
            MANIFEST_JSON,
            MANIFEST_JWS,
            "recordings/applicant-audio.ogg",
            "recordings/applicant-video.ivf",
        ]
    );
    assert!(
        !out.join(DOCUMENTS_DIR).exists(),
        "no documents, no directory"
    );

    let zip = zip_of(&out)?;
    assert_eq!(
        entry_names(&zip)?,
        // Recordings and documents first; the signed manifest and its log proof last.
        [
            "recordings/applicant-audio.ogg",
            "recordings/applicant-video.ivf",
            EVENTS_JSONL,
            MANIFEST_JSON,
            MANIFEST_JWS,
            LOG_JSON,
        ]
    );
    assert_eq!(sealed.size, zip.len() as u64);
    let report = crate::seal::verify::verify_bundle(&zip, &log.trust(&id));
    assert!(report.ok, "{}", report.render_text());

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
    let manifest_json = fs::read_to_string(out.join(MANIFEST_JSON))?;
    assert_eq!(manifest_json, evidence::canonical_json(&sealed.manifest)?);
    assert_eq!(
        sealed.manifest_sha256,
        evidence::sha256_hex(manifest_json.as_bytes())
    );
    assert!(leftovers(dir.path())?.is_empty());
    Ok(())
}

#[test]
fn documents_are_stored_read_only_and_listed() -> anyhow::Result<()> {
    let (dir, id) = dev_identity();
    let mut input = sample_input(dir.path());
    input.documents = vec![
        (
            "still-identity-document-1.jpg".into(),
            b"\xFF\xD8\xFFjpeg".to_vec(),
        ),
        (
            "document-death-certificate-1.pdf".into(),
            b"%PDF-1.7".to_vec(),
        ),
    ];
    let out = dir.path().join("artefact");
    let log = TestLog::new();
    seal(input, &id, |m| log.include(m), &out)?;
    let doc = out.join("documents/still-identity-document-1.jpg");
    assert_eq!(fs::read(&doc)?, b"\xFF\xD8\xFFjpeg");
    assert_eq!(mode(&doc)?, READ_ONLY);
    let zip = zip_of(&out)?;
    assert_eq!(
        entry_names(&zip)?[2..4],
        [
            "documents/document-death-certificate-1.pdf",
            "documents/still-identity-document-1.jpg"
        ]
    );
    assert!(crate::seal::verify::verify_bundle(&zip, &log.trust(&id)).ok);
    Ok(())
}

#[test]
fn the_zip_of_an_artefact_is_the_same_bytes_every_time() -> anyhow::Result<()> {
    let (dir, id) = dev_identity();
    let out = dir.path().join("artefact");
    let log = TestLog::new();
    let sealed = seal(sample_input(dir.path()), &id, |m| log.include(m), &out)?;
    let first = zip_of(&out)?;
    let second = zip_of(&out)?;
    assert_eq!(first, second);

    // A copy elsewhere, with other modification times and inodes, gives the same bytes too:
    // nothing of the file system but names and contents goes into the zip.
    let copy = dir.path().join("copy");
    fs::create_dir_all(copy.join("recordings"))?;
    for name in TEXT_ENTRIES {
        fs::write(copy.join(name), fs::read(out.join(name))?)?;
    }
    for e in fs::read_dir(out.join("recordings"))? {
        let e = e?;
        fs::write(
            copy.join("recordings").join(e.file_name()),
            fs::read(e.path())?,
        )?;
    }
    assert_eq!(zip_of(&copy)?, first);

    // Every entry carries `sealed_at` (to the zip format's two seconds) and the container
    // rules: recordings stored, text deflated.
    let mut zip = zip::ZipArchive::new(io::Cursor::new(&first))?;
    let stamp = zip_time(sealed.manifest.sealed_at);
    for i in 0..zip.len() {
        let entry = zip.by_index(i)?;
        assert_eq!(entry.last_modified(), Some(stamp), "{}", entry.name());
        let method = if entry.name().starts_with(RECORDINGS_PREFIX) {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        assert_eq!(entry.compression(), method, "{}", entry.name());
    }
    Ok(())
}

#[test]
fn a_zip_past_4_gib_uses_zip64_records_the_verifier_accepts() -> anyhow::Result<()> {
    let (dir, id) = dev_identity();
    let out = dir.path().join("artefact");
    let log = TestLog::new();
    seal(sample_input(dir.path()), &id, |m| log.include(m), &out)?;
    // Forced from offset 0 and from the second entry on: 4 GiB of test data is not affordable.
    for zip64_from in [0, 100] {
        let zip = zip_of_dir_with(&out, None, |entries, time| {
            Archive::plan_with(entries, time, zip64_from)
        })?;
        let bytes = zip.to_vec()?;
        assert_eq!(bytes.len() as u64, zip.len());
        assert_ne!(bytes, zip_of(&out)?, "zip64 records are written");
        let report = crate::seal::verify::verify_bundle(&bytes, &log.trust(&id));
        assert!(
            report.ok,
            "zip64 from {zip64_from}: {}",
            report.render_text()
        );
    }
    Ok(())
}

#[test]
fn the_zip_refuses_a_directory_that_is_not_an_artefact() -> anyhow::Result<()> {
    let (dir, id) = dev_identity();
    let out = dir.path().join("artefact");
    let log = TestLog::new();
    seal(sample_input(dir.path()), &id, |m| log.include(m), &out)?;
    let before = zip_of(&out)?;
    // Hidden names (a temporary file of `replace_manifest_jws` after a crash) are skipped.
    fs::write(out.join(".manifest.jws.0123.tmp"), b"half")?;
    fs::write(out.join("recordings/.partial"), b"half")?;
    assert_eq!(zip_of(&out)?, before);
    // Anything else unexpected is refused rather than left out or served.
    fs::write(out.join("extra.txt"), b"x")?;
    let err = StoredArtefact::Directory(out.clone()).zip().unwrap_err();
    assert!(matches!(err, BundleError::Stored { .. }), "{err}");
    fs::remove_file(out.join("extra.txt"))?;
    fs::remove_file(out.join(LOG_JSON))?;
    let err = StoredArtefact::Directory(out.clone()).zip().unwrap_err();
    assert!(matches!(err, BundleError::Io { .. }), "{err}");
    Ok(())
}

#[test]
fn recordings_are_hard_linked_and_made_read_only() -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let dir = tempfile::tempdir()?;
    let from = dir.path().join("applicant.webm");
    fs::write(&from, b"webm bytes")?;
    let to = dir.path().join("linked.webm");
    let mut buffer = Vec::new();
    let how = place_recording(&from, &to, |a, b| fs::hard_link(a, b), &mut buffer)?;
    assert_eq!(how, Placement::Linked);
    assert!(buffer.is_empty(), "nothing copied");
    assert_eq!(hash_file(&to)?, (evidence::sha256_hex(b"webm bytes"), 10));
    assert_eq!(fs::metadata(&to)?.ino(), fs::metadata(&from)?.ino());
    // The mode is the file's: the recorder's name is read-only now too.
    assert_eq!(mode(&to)?, READ_ONLY);
    assert_eq!(mode(&from)?, READ_ONLY);
    Ok(())
}

#[test]
fn a_recording_is_copied_when_it_cannot_be_linked() -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let dir = tempfile::tempdir()?;
    let from = dir.path().join("applicant.webm");
    fs::write(&from, vec![9u8; 3 * 1024 + 5])?;
    let to = dir.path().join("copied.webm");
    let cross_device = |_: &Path, _: &Path| Err(io::Error::from(io::ErrorKind::CrossesDevices));
    let mut buffer = Vec::new();
    let how = place_recording(&from, &to, cross_device, &mut buffer)?;
    let content = fs::read(&from)?;
    assert_eq!(
        how,
        Placement::Copied {
            sha256: evidence::sha256_hex(&content),
            size: 3 * 1024 + 5
        }
    );
    assert_eq!(fs::read(&to)?, content);
    assert_ne!(fs::metadata(&to)?.ino(), fs::metadata(&from)?.ino());
    assert_eq!(mode(&to)?, READ_ONLY);
    assert_ne!(mode(&from)?, READ_ONLY, "the recorder's file is left alone");

    // A whole seal through the fallback verifies like one through links.
    let (dir, id) = dev_identity();
    let out = dir.path().join("artefact");
    let log = TestLog::new();
    let prepared = prepare_with(sample_input(dir.path()), &id, &out, cross_device)?;
    let inclusion = log.include(prepared.manifest_json())?;
    prepared.write(&inclusion)?;
    let linked = out.join("recordings/applicant-video.ivf");
    assert_eq!(fs::metadata(&linked)?.nlink(), 1, "a copy, not a link");
    assert!(crate::seal::verify::verify_bundle(&zip_of(&out)?, &log.trust(&id)).ok);
    Ok(())
}

#[test]
fn hashing_reads_every_chunk_once_in_order() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    for len in [0, 1, HASH_CHUNK, HASH_CHUNK * HASH_CHUNKS * 2 + 17] {
        let path = dir.path().join(format!("{len}.webm"));
        let content: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        fs::write(&path, &content)?;
        assert_eq!(
            hash_file(&path)?,
            (evidence::sha256_hex(&content), len as u64),
            "{len} bytes"
        );
    }
    let err = hash_file(&dir.path().join("absent")).unwrap_err();
    assert!(matches!(err, BundleError::Io { .. }), "{err}");
    Ok(())
}

#[test]
fn symbolic_links_are_not_sealed() {
    let (dir, id) = dev_identity();
    let mut input = sample_input(dir.path());
    let link = dir.path().join("link.ivf");
    std::os::unix::fs::symlink(&input.recordings[0].1, &link).expect("symlink");
    input.recordings[0].1 = link;
    let out = dir.path().join("artefact");
    let err = seal(input, &id, |m| TestLog::new().include(m), &out).unwrap_err();
    assert!(matches!(err, BundleError::Io { .. }), "{err}");
    assert!(!out.exists());
}

#[test]
fn a_half_assembled_artefact_is_never_under_its_final_name() -> anyhow::Result<()> {
    let (dir, id) = dev_identity();
    let out = dir.path().join("artefact");

    // Prepared and not yet written: everything sits in a hidden temporary directory.
    let prepared = prepare(sample_input(dir.path()), &id, &out)?;
    assert!(!out.exists());
    let temps = leftovers(dir.path())?;
    assert_eq!(temps.len(), 1, "{temps:?}");
    assert!(temps[0].starts_with(".artefact."), "{temps:?}");
    // A crash here (nothing runs after it, not even drop) leaves only that hidden directory.
    std::mem::forget(prepared);
    assert!(!out.exists());
    fs::remove_dir_all(dir.path().join(&temps[0]))?;

    // A failure after preparing (the log append) removes the temporary directory.
    let err = seal(
        sample_input(dir.path()),
        &id,
        |_| Err(BundleError::Manifest("log down".into())),
        &out,
    )
    .unwrap_err();
    assert!(matches!(err, BundleError::Manifest(_)), "{err}");
    assert!(!out.exists());
    assert!(leftovers(dir.path())?.is_empty());

    // A failure while writing (a file that cannot be created) removes it too.
    let prepared = prepare(sample_input(dir.path()), &id, &out)?;
    let tmp = dir.path().join(&leftovers(dir.path())?[0]);
    fs::write(tmp.join(LOG_JSON), b"in the way")?;
    let err = prepared
        .write(&TestLog::new().include(b"leaf")?)
        .unwrap_err();
    assert!(matches!(err, BundleError::Io { .. }), "{err}");
    assert!(!out.exists());
    assert!(leftovers(dir.path())?.is_empty());
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
    let out = dir.path().join("artefact");
    let err = seal(input, &id, |m| TestLog::new().include(m), &out).unwrap_err();
    assert!(matches!(err, BundleError::Chain(_)), "{err}");
    assert!(!out.exists());
    Ok(())
}

#[test]
fn empty_or_foreign_chain_is_not_sealed() {
    let (dir, id) = dev_identity();
    let out = dir.path().join("artefact");
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
    let out = dir.path().join("artefact");
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
    let out = dir.path().join("artefact");
    let err = seal(input, &id, |m| TestLog::new().include(m), &out).unwrap_err();
    assert!(matches!(err, BundleError::Io { .. }), "{err}");
    let names: Vec<_> = fs::read_dir(dir.path())?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("artefact"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
    Ok(())
}

#[test]
fn an_existing_artefact_is_never_replaced() -> anyhow::Result<()> {
    let (dir, id) = dev_identity();
    let out = dir.path().join("artefact");
    let log = TestLog::new();
    seal(sample_input(dir.path()), &id, |m| log.include(m), &out)?;
    let before = zip_of(&out)?;
    let err = seal(sample_input(dir.path()), &id, |m| log.include(m), &out).unwrap_err();
    assert!(matches!(err, BundleError::Exists(_)), "{err}");
    assert_eq!(zip_of(&out)?, before);

    // Nor is one that appeared while the new one was being prepared.
    let late = dir.path().join("late");
    let prepared = prepare(sample_input(dir.path()), &id, &late)?;
    fs::create_dir(&late)?;
    let err = prepared.write(&log.include(b"leaf")?).unwrap_err();
    assert!(matches!(err, BundleError::Exists(_)), "{err}");
    assert_eq!(fs::read_dir(&late)?.count(), 0);
    assert!(leftovers(dir.path())?.is_empty());
    Ok(())
}

#[test]
fn artefacts_stored_as_zip_by_earlier_versions_are_served_as_stored() -> anyhow::Result<()> {
    use zip::write::SimpleFileOptions;
    let (dir, id) = dev_identity();
    let sealed_dir = dir.path().join("artefact");
    let log = TestLog::new();
    let sealed = seal(
        sample_input(dir.path()),
        &id,
        |m| log.include(m),
        &sealed_dir,
    )?;

    // What an earlier version wrote: a zip made by the zip crate, at `<id>.zip`.
    let artefacts = dir.path().join("artefacts");
    fs::create_dir(&artefacts)?;
    let file_name = format!("{}.zip", sealed.manifest.artefact_id);
    let mut legacy = zip::ZipWriter::new(fs::File::create(artefacts.join(&file_name))?);
    let mut source = zip::ZipArchive::new(io::Cursor::new(zip_of(&sealed_dir)?))?;
    for i in 0..source.len() {
        let mut entry = source.by_index(i)?;
        let method = if entry.name().contains('/') {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        legacy.start_file(
            entry.name().to_owned(),
            SimpleFileOptions::default().compression_method(method),
        )?;
        io::copy(&mut entry, &mut legacy)?;
    }
    legacy.finish()?;
    let stored_bytes = fs::read(artefacts.join(&file_name))?;

    let stored = StoredArtefact::locate(&artefacts, &file_name);
    assert_eq!(
        stored,
        StoredArtefact::LegacyZip(artefacts.join(&file_name))
    );
    let zip = stored.zip()?;
    assert_eq!(zip.len(), stored_bytes.len() as u64);
    let served = zip.to_vec()?;
    assert_eq!(served, stored_bytes, "served byte for byte as stored");
    assert!(crate::seal::verify::verify_bundle(&served, &log.trust(&id)).ok);
    assert_eq!(
        stored.small_entry(MANIFEST_JSON)?,
        fs::read(sealed_dir.join(MANIFEST_JSON))?
    );
    assert!(
        stored
            .small_entry("recordings/applicant-video.ivf")
            .is_err()
    );

    // A name without `.zip` is a directory.
    let id_only = sealed.manifest.artefact_id.to_string();
    assert_eq!(
        StoredArtefact::locate(&artefacts, &id_only),
        StoredArtefact::Directory(artefacts.join(&id_only))
    );
    Ok(())
}

#[test]
fn replace_manifest_jws_swaps_that_one_file_atomically() -> anyhow::Result<()> {
    let (dir, id) = dev_identity();
    let out = dir.path().join("artefact");
    let log = TestLog::new();
    seal(sample_input(dir.path()), &id, |m| log.include(m), &out)?;
    let manifest_before = fs::read(out.join(MANIFEST_JSON))?;
    let replacement = b"{\"payload\":\"...\",\"signatures\":[]}".to_vec();

    replace_manifest_jws(&out, &replacement)?;
    assert_eq!(fs::read(out.join(MANIFEST_JWS))?, replacement);
    assert_eq!(mode(&out.join(MANIFEST_JWS))?, READ_ONLY);
    assert_eq!(fs::read(out.join(MANIFEST_JSON))?, manifest_before);
    let hidden: Vec<_> = fs::read_dir(&out)?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");

    // The zip carries the new file and nothing else changed.
    let zip = StoredArtefact::Directory(out.clone()).zip()?;
    let mut archive = zip::ZipArchive::new(io::Cursor::new(zip.to_vec()?))?;
    let mut jws = Vec::new();
    archive.by_name(MANIFEST_JWS)?.read_to_end(&mut jws)?;
    assert_eq!(jws, replacement);
    assert_eq!(archive.len(), 6);

    // Only an artefact's manifest.jws is replaced.
    let err = replace_manifest_jws(dir.path(), b"x").unwrap_err();
    assert!(matches!(err, BundleError::Io { .. }), "{err}");
    assert!(!dir.path().join(MANIFEST_JWS).exists());
    Ok(())
}

#[test]
fn zip_time_clamps_out_of_range_dates() {
    assert_eq!(zip_time(DateTime::<Utc>::MIN_UTC), zip::DateTime::default());
    let t = zip_time(now());
    assert_eq!((t.year(), t.month(), t.day(), t.hour()), (2026, 5, 1, 12));
}

#[test]
fn sweeping_removes_only_what_a_crash_left_half_written() -> anyhow::Result<()> {
    let (dir, id) = dev_identity();
    let artefacts = dir.path().join("artefacts");
    fs::create_dir(&artefacts)?;
    let out = artefacts.join("artefact");
    let log = TestLog::new();
    seal(sample_input(dir.path()), &id, |m| log.include(m), &out)?;
    let zip_before = StoredArtefact::Directory(out.clone()).zip()?.to_vec()?;

    // A seal that died before its rename: a hidden directory holding a read-only file.
    let half = artefacts.join(".other.0123abcd.tmp");
    fs::create_dir_all(half.join(RECORDINGS_DIR))?;
    write_read_only(&half.join(RECORDINGS_DIR).join("a.webm"), b"partial")?;
    // A signature write that died before its rename.
    write_read_only(&out.join(".manifest.jws.4567.tmp"), b"partial")?;
    // Names that are not temporaries stay, hidden or not.
    fs::write(artefacts.join(".keep"), b"operator's")?;

    assert_eq!(sweep_temporaries(&artefacts)?, 2);
    assert!(!half.exists());
    assert!(!out.join(".manifest.jws.4567.tmp").exists());
    assert!(artefacts.join(".keep").exists());
    assert_eq!(
        StoredArtefact::Directory(out.clone()).zip()?.to_vec()?,
        zip_before
    );
    assert_eq!(sweep_temporaries(&artefacts)?, 0);
    Ok(())
}

/// A sample input sealed with retention until `until` under `key` (format 2): its directory
/// (kept alive by the returned guard), what sealing returned, the verifier's trust and the
/// recorder's files.
struct Retained {
    _dir: tempfile::TempDir,
    out: PathBuf,
    sealed: Sealed,
    trust: crate::seal::verify::Trust,
    sources: Vec<PathBuf>,
}

fn sealed_with_retention(key: &RecordingKey, until: DateTime<Utc>) -> anyhow::Result<Retained> {
    let (dir, id) = dev_identity();
    let mut input = sample_input(dir.path());
    let sources = input.recordings.iter().map(|(_, p)| p.clone()).collect();
    input.retention = Some(SealRetention {
        key: key.clone(),
        recordings_until: until,
    });
    let out = dir.path().join("artefact");
    let log = TestLog::new();
    let sealed = seal(input, &id, |m| log.include(m), &out)?;
    // Sealed, the recordings are still the recorder's plaintext, linked; the zip is already
    // what it will stay.
    let zip_before = StoredArtefact::Directory(out.clone())
        .zip_with_key(Some(key))?
        .to_vec()?;
    assert!(
        out.join(RECORDINGS_DIR)
            .join("applicant-audio.ogg")
            .is_file()
    );
    assert_eq!(sealed.originals.len(), 2);
    assert_eq!(encrypt_at_rest(&out, key, &sealed.originals)?, 2);
    let zip_after = StoredArtefact::Directory(out.clone())
        .zip_with_key(Some(key))?
        .to_vec()?;
    assert_eq!(
        zip_before, zip_after,
        "encryption at rest leaves the bundle as it was"
    );
    // Again: nothing left to do.
    assert_eq!(encrypt_at_rest(&out, key, &sealed.originals)?, 0);
    Ok(Retained {
        trust: log.trust(&id),
        _dir: dir,
        out,
        sealed,
        sources,
    })
}

#[test]
fn recordings_with_retention_are_encrypted_at_rest_and_decrypted_into_the_zip() -> anyhow::Result<()>
{
    let key = RecordingKey::from_bytes([9u8; 32]);
    let until = now() + chrono::TimeDelta::days(30);
    let Retained {
        _dir: _guard,
        out,
        sealed,
        sources,
        ..
    } = sealed_with_retention(&key, until)?;
    assert_eq!(sealed.manifest.format, MANIFEST_FORMAT);
    assert_eq!(
        sealed.manifest.retention,
        Some(ManifestRetention {
            recordings_until: until
        })
    );
    let manifest_json = fs::read_to_string(out.join(MANIFEST_JSON))?;
    assert!(
        manifest_json.contains("\"retention\":{\"recordings_until\":"),
        "{manifest_json}"
    );
    // At rest: only ciphertext, read-only; the recorder's plaintext files are gone.
    let mut at_rest: Vec<String> = fs::read_dir(out.join(RECORDINGS_DIR))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    at_rest.sort();
    assert_eq!(
        at_rest,
        ["applicant-audio.ogg.enc", "applicant-video.ivf.enc"]
    );
    for name in &at_rest {
        let bytes = fs::read(out.join(RECORDINGS_DIR).join(name))?;
        assert!(bytes.starts_with(rest::MAGIC), "{name}");
        assert!(
            !bytes.windows(4).any(|w| w == b"DKIF" || w == b"OggS"),
            "{name}"
        );
        assert_eq!(mode(&out.join(RECORDINGS_DIR).join(name))?, READ_ONLY);
    }
    for source in &sources {
        assert!(!source.exists(), "plaintext {source:?} removed");
    }
    // The zip carries the plaintext, matching the manifest, and the planned length.
    let zip = StoredArtefact::Directory(out.clone()).zip_with_key(Some(&key))?;
    let bytes = zip.to_vec()?;
    assert_eq!(bytes.len() as u64, sealed.size);
    let mut archive = zip::ZipArchive::new(io::Cursor::new(&bytes))?;
    for file in &sealed.manifest.files {
        let mut content = Vec::new();
        archive.by_name(&file.path)?.read_to_end(&mut content)?;
        assert_eq!(evidence::sha256_hex(&content), file.sha256, "{}", file.path);
    }
    let mut video = Vec::new();
    archive
        .by_name("recordings/applicant-video.ivf")?
        .read_to_end(&mut video)?;
    assert!(video.starts_with(b"DKIF"));
    // Without the key, or with another, no zip can be written.
    assert!(
        StoredArtefact::Directory(out.clone())
            .zip()?
            .to_vec()
            .is_err()
    );
    let other = RecordingKey::from_bytes([8u8; 32]);
    assert!(
        StoredArtefact::Directory(out.clone())
            .zip_with_key(Some(&other))?
            .to_vec()
            .is_err()
    );
    Ok(())
}

#[test]
fn destroyed_recordings_verify_only_after_the_signed_deadline() -> anyhow::Result<()> {
    let key = RecordingKey::from_bytes([7u8; 32]);
    let until = now() + chrono::TimeDelta::days(30);
    let Retained {
        _dir: _guard,
        out,
        sealed,
        trust,
        ..
    } = sealed_with_retention(&key, until)?;
    let fresh = StoredArtefact::Directory(out.clone())
        .zip_with_key(Some(&key))?
        .to_vec()?;
    let report = crate::seal::verify::verify_bundle_at(&fresh, &trust, Some(until));
    assert!(report.ok, "{}", report.render_text());
    assert!(!report.checks.iter().any(|c| c.name == "retention"));

    // A recording removed before the deadline fails, whatever the time says.
    let (entries, without) = {
        let mut zip = zip::ZipArchive::new(io::Cursor::new(&fresh))?;
        let mut entries = Vec::new();
        for i in 0..zip.len() {
            let mut e = zip.by_index(i)?;
            let mut data = Vec::new();
            e.read_to_end(&mut data)?;
            entries.push((e.name().to_owned(), data));
        }
        let without: Vec<_> = entries
            .iter()
            .filter(|(n, _)| n != "recordings/applicant-audio.ogg")
            .cloned()
            .collect();
        (entries, without)
    };
    let rezip = |entries: &[(String, Vec<u8>)]| -> anyhow::Result<Vec<u8>> {
        let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())?;
            w.write_all(data)?;
        }
        Ok(w.finish()?.into_inner())
    };
    assert!(entries.len() > without.len());
    let cut = rezip(&without)?;
    for at in [
        None,
        Some(until - chrono::TimeDelta::seconds(1)),
        Some(until),
    ] {
        let report = crate::seal::verify::verify_bundle_at(&cut, &trust, at);
        assert!(!report.ok, "{at:?}: {}", report.render_text());
        assert_eq!(report.checks.last().map(|c| c.name.as_str()), Some("files"));
    }

    // The sweep's part: the note, then no recordings.
    let destroyed_at = until + chrono::TimeDelta::hours(1);
    let note = RetentionNote {
        format: RETENTION_FORMAT.into(),
        artefact_id: sealed.manifest.artefact_id,
        recordings_until: until,
        destroyed_at,
        destroyed: sealed
            .manifest
            .files
            .iter()
            .filter(|f| f.path.starts_with(RECORDINGS_PREFIX))
            .cloned()
            .collect(),
    };
    destroy_recordings(&out, &note)?;
    destroy_recordings(&out, &note)?;
    assert!(!out.join(RECORDINGS_DIR).exists());
    let after = zip_of(&out)?;
    assert_eq!(
        entry_names(&after)?,
        [
            EVENTS_JSONL,
            MANIFEST_JSON,
            MANIFEST_JWS,
            LOG_JSON,
            RETENTION_JSON
        ]
    );
    let report = crate::seal::verify::verify_bundle_at(&after, &trust, Some(destroyed_at));
    assert!(report.ok, "{}", report.render_text());
    let retention: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.name == "retention")
        .collect();
    assert_eq!(retention.len(), 2, "{}", report.render_text());
    assert!(
        retention
            .iter()
            .all(|c| c.detail.contains("destroyed at end of retention")),
        "{}",
        report.render_text()
    );
    for name in ["chain", "signature", "log"] {
        assert!(
            report.checks.iter().any(|c| c.name == name && c.ok),
            "{name}"
        );
    }
    // Before the deadline, or with no time given, the same bundle fails.
    for at in [None, Some(until - chrono::TimeDelta::seconds(1))] {
        let report = crate::seal::verify::verify_bundle_at(&after, &trust, at);
        assert!(!report.ok, "{at:?}");
    }
    // A note claiming destruction before the deadline, or naming another hash, fails.
    let mut after_entries = {
        let mut zip = zip::ZipArchive::new(io::Cursor::new(&after))?;
        let mut entries = Vec::new();
        for i in 0..zip.len() {
            let mut e = zip.by_index(i)?;
            let mut data = Vec::new();
            e.read_to_end(&mut data)?;
            entries.push((e.name().to_owned(), data));
        }
        entries
    };
    let at_note = after_entries
        .iter()
        .position(|(n, _)| n == RETENTION_JSON)
        .expect("note");
    for edit in [
        |n: &mut RetentionNote| n.destroyed_at -= chrono::TimeDelta::days(2),
        |n: &mut RetentionNote| n.destroyed[0].sha256 = "00".repeat(32),
        |n: &mut RetentionNote| n.recordings_until -= chrono::TimeDelta::days(20),
    ] {
        let mut forged = note.clone();
        edit(&mut forged);
        after_entries[at_note].1 = evidence::canonical_json(&forged)?.into_bytes();
        let report = crate::seal::verify::verify_bundle_at(
            &rezip(&after_entries)?,
            &trust,
            Some(destroyed_at),
        );
        assert!(!report.ok, "{}", report.render_text());
    }
    Ok(())
}

#[test]
fn a_session_without_recordings_keeps_verifying_after_its_retention() -> anyhow::Result<()> {
    let (dir, id) = dev_identity();
    let mut input = sample_input(dir.path());
    input.recordings.clear();
    let until = now() + chrono::TimeDelta::days(3);
    input.retention = Some(SealRetention {
        key: RecordingKey::from_bytes([3u8; 32]),
        recordings_until: until,
    });
    let out = dir.path().join("artefact");
    let log = TestLog::new();
    let sealed = seal(input, &id, |m| log.include(m), &out)?;
    assert!(!out.join(RECORDINGS_DIR).exists());
    destroy_recordings(
        &out,
        &RetentionNote {
            format: RETENTION_FORMAT.into(),
            artefact_id: sealed.manifest.artefact_id,
            recordings_until: until,
            destroyed_at: until,
            destroyed: Vec::new(),
        },
    )?;
    let bytes = zip_of(&out)?;
    assert!(entry_names(&bytes)?.contains(&RETENTION_JSON.to_owned()));
    let trust = log.trust(&id);
    let report = crate::seal::verify::verify_bundle_at(&bytes, &trust, Some(until));
    assert!(report.ok, "{}", report.render_text());
    assert!(!report.checks.iter().any(|c| c.name == "retention"));
    Ok(())
}

#[test]
fn the_sealing_pipeline_writes_the_bytes_of_rest_encrypt() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let key = RecordingKey::from_bytes([3u8; 32]);
    let batch = SEAL_BATCH_CHUNKS * rest::CHUNK;
    for len in [
        0,
        1,
        rest::CHUNK,
        rest::CHUNK + 1,
        batch - 1,
        batch,
        batch + 1,
        2 * batch,
        SEAL_BATCHES * batch + 3 * rest::CHUNK + 17,
    ] {
        let plain: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
        let from = dir.path().join(format!("{len}.webm"));
        fs::write(&from, &plain)?;
        let to = dir.path().join(format!("{len}.webm.enc"));
        let placement = encrypt_recording(&from, &to, "a.webm", &key)?;
        let mut expected = Vec::new();
        let (sha256, size) =
            rest::encrypt(&key, "a.webm", &mut &plain[..], &mut expected, u64::MAX)?;
        assert_eq!(placement, Placement::Copied { sha256, size }, "{len}");
        assert_eq!(fs::read(&to)?, expected, "{len}");
        assert_eq!(mode(&to)?, READ_ONLY, "{len}");
    }
    Ok(())
}
