//! Benchmarks for sealing and verifying artefact bundles.
//!
//! Run with `cargo bench --bench seal`; `docs/benchmarks.md` records the figures next to
//! `openssl dgst -sha256` of the same bytes (the hashing limit of the machine) and the targets:
//! sealing a session with a 100 MiB recording within 1.3× of that, and bundles verified per
//! second for small bundles. Sealing is measured as the hub does it: the recording already
//! written and synced by the recorder, then the chain checked, the recording linked and hashed,
//! every file and directory synced, the manifest signed and appended to a transparency log.

use std::cell::RefCell;
use std::hint::black_box;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use globallink::evidence::{self, ChainBuilder, EventKind, ParticipantRole};
use globallink::ids::{ArtefactId, CaseId, SessionId};
use globallink::seal::bundle::SealRetention;
use globallink::seal::bundle::{
    BundleError, LogInclusion, ManifestCase, ManifestParticipant, ManifestSession, SealInput,
    StoredArtefact, encrypt_at_rest, seal,
};
use globallink::seal::pki::{HubIdentity, ensure_dev_pki};
use globallink::seal::rest::RecordingKey;
use globallink::seal::{Trust, verify_bundle};
use globallink::translog::{LogSigner, MerkleLog};

const RECORDING_BYTES: usize = 100 << 20;

struct Fixture {
    dir: tempfile::TempDir,
    id: HubIdentity,
    signer: LogSigner,
    tree: RefCell<MerkleLog>,
    recording: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = Utc::now();
        let (id, _) = ensure_dev_pki(&dir.path().join("pki"), now).expect("dev PKI");
        let (signer, _) = LogSigner::generate("bench.test/log").expect("log key");
        // Incompressible bytes, like encoded media: a fixed-seed generator.
        let recording = dir.path().join("applicant.webm");
        let mut file = std::io::BufWriter::new(std::fs::File::create(&recording).expect("file"));
        let mut x: u64 = 0x5EED_0003;
        let mut block = vec![0u8; 1 << 16];
        for _ in 0..RECORDING_BYTES / block.len() {
            for chunk in block.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes());
            }
            file.write_all(&block).expect("write");
        }
        // The recorder syncs every file when it stops, before the session seals.
        file.into_inner().expect("flush").sync_all().expect("sync");
        std::fs::create_dir(dir.path().join("artefacts")).expect("artefacts dir");
        Self {
            dir,
            id,
            signer,
            tree: RefCell::default(),
            recording,
        }
    }

    fn log(&self, manifest: &[u8]) -> Result<LogInclusion, BundleError> {
        let mut tree = self.tree.borrow_mut();
        let index = tree.append(manifest);
        globallink::transparency::prove(&self.signer, &tree, index)
            .map_err(|e| BundleError::Manifest(e.to_string()))
    }

    fn trust(&self) -> Trust {
        Trust {
            certificates: vec![self.id.ca_der().to_vec()],
            log_keys: vec![self.signer.verifier()],
            crls: Vec::new(),
            log_head: None,
        }
    }
}

/// A session of `events` events with the given recordings.
fn input(events: usize, recordings: Vec<(String, PathBuf)>) -> SealInput {
    let session = SessionId::random();
    // After the development certificates' start, so they are valid when it is sealed.
    let start = Utc::now() + chrono::TimeDelta::minutes(1);
    let mut chain = ChainBuilder::new(session);
    let mut lines = Vec::new();
    for i in 0..events {
        let kind = match i {
            0 => EventKind::SessionOpened {
                case: "bench".into(),
                service: "id-card-renewal".into(),
            },
            _ => EventKind::ParticipantJoined {
                role: ParticipantRole::Applicant,
                tz: "Europe/Lisbon".into(),
            },
        };
        let event = chain
            .next(start + chrono::TimeDelta::seconds(i as i64), kind)
            .expect("event");
        chain.commit(&event);
        lines.push(event.canonical);
    }
    SealInput {
        artefact_id: ArtefactId::random(),
        case: ManifestCase {
            id: CaseId::random(),
            service: "id-card-renewal".into(),
        },
        session: ManifestSession {
            id: session,
            started_at: start,
            ended_at: start + chrono::TimeDelta::minutes(30),
            outcome: "completed".into(),
            reason: None,
        },
        participants: vec![ManifestParticipant {
            role: "applicant".into(),
            tz: "Europe/Lisbon".into(),
        }],
        events_jsonl: evidence::to_jsonl(lines.iter().map(String::as_str)).into_bytes(),
        recordings,
        documents: Vec::new(),
        checklist: Vec::new(),
        sealed_at: start + chrono::TimeDelta::minutes(31),
        retention: None,
    }
}

/// [`input`] sealed as the hub seals now: recordings encrypted at rest (format 2).
fn encrypted(input: SealInput, key: &RecordingKey) -> SealInput {
    SealInput {
        retention: Some(SealRetention {
            key: key.clone(),
            recordings_until: input.sealed_at + chrono::TimeDelta::days(1095),
        }),
        ..input
    }
}

/// Where the hub puts the artefact of `input`.
fn out(dir: &Path, input: &SealInput) -> PathBuf {
    dir.join("artefacts").join(input.artefact_id.to_string())
}

fn bench_seal(c: &mut Criterion) {
    let fx = Fixture::new();
    let bytes = std::fs::read(&fx.recording).expect("read");
    let mut group = c.benchmark_group("seal");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    // The bar: SHA-256 of the same 100 MiB in memory, as `openssl dgst -sha256` does it.
    group.bench_function("sha256_100MiB_in_memory", |b| {
        b.iter(|| ring::digest::digest(&ring::digest::SHA256, black_box(&bytes)))
    });
    let recordings = || vec![("applicant.webm".to_owned(), fx.recording.clone())];
    group.bench_function("session_with_100MiB_recording", |b| {
        b.iter(|| {
            let input = input(200, recordings());
            let target = out(fx.dir.path(), &input);
            seal(input, &fx.id, |m| fx.log(m), &target).expect("sealed")
        })
    });
    // What a download costs: the zip of such an artefact, written to nowhere.
    let sealed = input(200, recordings());
    let target = out(fx.dir.path(), &sealed);
    seal(sealed, &fx.id, |m| fx.log(m), &target).expect("sealed");
    let stored = StoredArtefact::Directory(target);
    group.bench_function("zip_of_artefact_with_100MiB_recording", |b| {
        b.iter(|| {
            let zip = stored.zip().expect("planned");
            zip.write_to(&mut std::io::sink()).expect("written")
        })
    });
    // The hub's path since retention: sealing a retained recording (format 2) links and hashes
    // it as above; then, after the seal, it is encrypted at rest and the plaintext removed (so
    // each iteration gets a fresh, synced copy, as the recorder leaves its files, made outside
    // the timing).
    let key = RecordingKey::from_bytes([7u8; 32]);
    let copy = fx.dir.path().join("copy.webm");
    let fresh_copy = || {
        std::fs::copy(&fx.recording, &copy).expect("copy");
        std::fs::File::open(&copy)
            .and_then(|f| f.sync_all())
            .expect("sync");
        encrypted(
            input(200, vec![("applicant.webm".to_owned(), copy.clone())]),
            &key,
        )
    };
    group.bench_function("session_with_100MiB_recording_retained", |b| {
        b.iter_batched(
            fresh_copy,
            |input| {
                let target = out(fx.dir.path(), &input);
                seal(input, &fx.id, |m| fx.log(m), &target).expect("sealed")
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.bench_function("encrypt_at_rest_after_seal_100MiB", |b| {
        b.iter_batched(
            || {
                let input = fresh_copy();
                let target = out(fx.dir.path(), &input);
                let sealed = seal(input, &fx.id, |m| fx.log(m), &target).expect("sealed");
                (target, sealed.originals)
            },
            |(target, originals)| encrypt_at_rest(&target, &key, &originals).expect("encrypted"),
            criterion::BatchSize::PerIteration,
        )
    });
    std::fs::copy(&fx.recording, &copy).expect("copy");
    let sealed = encrypted(
        input(200, vec![("applicant.webm".to_owned(), copy.clone())]),
        &key,
    );
    let target = out(fx.dir.path(), &sealed);
    let sealed = seal(sealed, &fx.id, |m| fx.log(m), &target).expect("sealed");
    encrypt_at_rest(&target, &key, &sealed.originals).expect("encrypted");
    let stored = StoredArtefact::Directory(target);
    group.bench_function("zip_of_encrypted_artefact_with_100MiB_recording", |b| {
        b.iter(|| {
            let zip = stored.zip_with_key(Some(&key)).expect("planned");
            zip.write_to(&mut std::io::sink()).expect("written")
        })
    });
    group.finish();
}

fn bench_verify(c: &mut Criterion) {
    let fx = Fixture::new();
    let recording = fx.dir.path().join("small.webm");
    std::fs::write(&recording, vec![7u8; 64 << 10]).expect("write");
    let small = input(40, vec![("applicant.webm".to_owned(), recording)]);
    let target = out(fx.dir.path(), &small);
    seal(small, &fx.id, |m| fx.log(m), &target).expect("sealed");
    let bundle = StoredArtefact::Directory(target)
        .zip()
        .and_then(|zip| zip.to_vec())
        .expect("bundle");
    let trust = fx.trust();
    assert!(verify_bundle(&bundle, &trust).ok, "the bundle verifies");
    let mut group = c.benchmark_group("verify");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    // 1,000 bundles of 40 events and a 64 KiB recording; bundles per second = 1000 / time.
    group.bench_function("1000_small_bundles", |b| {
        b.iter(|| {
            for _ in 0..1000 {
                black_box(verify_bundle(black_box(&bundle), &trust));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_seal, bench_verify);
criterion_main!(benches);
