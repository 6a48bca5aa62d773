//! The zip container of a bundle, written deterministically and as a stream.
//!
//! Contract: an [`Archive`] is planned from entries whose sizes are known, so its exact length
//! is known before a byte is written, and [`Archive::write_to`] writes the same bytes every
//! time: entries in the order given, each local header carrying its CRC-32 and sizes (no data
//! descriptors, nothing between entries), then the central directory and the end record,
//! with no comment. Small entries are deflated in memory when planned; large ones are stored
//! and read from disk while writing, after a first read for their CRC-32 (recordings encrypted
//! at rest are decrypted on both reads, a chunk at a time, so their plaintext is never on disk
//! nor whole in memory). Offsets from 4 GiB on
//! use zip64 records; a single entry never needs them ([`MAX_ENTRY_SIZE`] is below 4 GiB).

use super::MAX_ENTRY_SIZE;
use crate::seal::rest::{Decryptor, RecordingKey};
use std::fs;
use std::io::{self, Seek as _, Write};
use std::path::{Path, PathBuf};

/// Read buffer for stored entries: large, so a 100 MiB recording is a hundred reads.
const READ_BUFFER: usize = 1 << 20;
/// Zip field values that mean "see the zip64 record".
const U16_SENTINEL: u16 = u16::MAX;
const U32_SENTINEL: u32 = u32::MAX;
/// Made by: Unix (3), specification 2.0; the upper byte makes the attributes Unix modes.
const MADE_BY_UNIX: u16 = (3 << 8) | 20;
/// Every entry is a regular file, mode 0644.
const EXTERNAL_ATTRIBUTES: u32 = 0o100_644 << 16;
/// Language encoding flag: the name is UTF-8.
const FLAG_UTF8: u16 = 1 << 11;
const METHOD_STORED: u16 = 0;
const METHOD_DEFLATED: u16 = 8;
const LOCAL_HEADER_LEN: u64 = 30;
const CENTRAL_HEADER_LEN: u64 = 46;
const END_LEN: u64 = 22;
const ZIP64_END_LEN: u64 = 56;
const ZIP64_LOCATOR_LEN: u64 = 20;
/// The central directory's zip64 extra field holding only the local header offset.
const ZIP64_OFFSET_EXTRA_LEN: u64 = 12;

/// One entry's content.
#[derive(Debug)]
pub(super) enum Body {
    /// Deflated when planned: the content's CRC-32 and length, and the compressed bytes.
    Deflated {
        crc: u32,
        size: u64,
        compressed: Vec<u8>,
    },
    /// Stored as is, read from `path` when written.
    Stored { path: PathBuf, size: u64 },
    /// Stored, decrypted from the encrypted recording `path` (`seal::rest`) as it is written:
    /// `size` plaintext bytes of the file `name`, under `key` (`None`: not available, so
    /// writing fails).
    Decrypted {
        path: PathBuf,
        size: u64,
        name: String,
        key: Option<RecordingKey>,
    },
}

impl Body {
    /// Deflate `content` now.
    pub(super) fn deflate(content: &[u8]) -> io::Result<Self> {
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(content)?;
        Ok(Body::Deflated {
            crc: crc32fast::hash(content),
            size: content.len() as u64,
            compressed: encoder.finish()?,
        })
    }

    fn size(&self) -> u64 {
        match self {
            Body::Deflated { size, .. }
            | Body::Stored { size, .. }
            | Body::Decrypted { size, .. } => *size,
        }
    }

    fn compressed_size(&self) -> u64 {
        match self {
            Body::Deflated { compressed, .. } => compressed.len() as u64,
            Body::Stored { size, .. } | Body::Decrypted { size, .. } => *size,
        }
    }

    fn method(&self) -> u16 {
        match self {
            Body::Deflated { .. } => METHOD_DEFLATED,
            Body::Stored { .. } | Body::Decrypted { .. } => METHOD_STORED,
        }
    }
}

#[derive(Debug)]
pub(super) struct Entry {
    pub(super) name: String,
    pub(super) body: Body,
}

/// Where one entry lands.
#[derive(Debug)]
struct Placed {
    offset: u64,
    /// Whether its central record carries the offset in a zip64 extra field.
    zip64: bool,
}

/// A zip planned to the byte.
#[derive(Debug)]
pub(super) struct Archive {
    entries: Vec<Entry>,
    placed: Vec<Placed>,
    /// MS-DOS time and date of every entry.
    time: u16,
    date: u16,
    central_start: u64,
    central_len: u64,
    zip64_end: bool,
    len: u64,
}

/// Why an archive cannot be planned or written.
#[derive(Debug)]
pub(super) enum ArchiveError {
    /// Reading an entry or writing the output failed.
    Io { path: PathBuf, source: io::Error },
    /// An entry is too large, has a name too long, or changed since it was planned.
    Entry { name: String, reason: String },
}

impl Archive {
    /// Plan `entries` in this order, each stamped with `time`.
    pub(super) fn plan(entries: Vec<Entry>, time: zip::DateTime) -> Result<Self, ArchiveError> {
        Self::plan_with(entries, time, u64::from(U32_SENTINEL))
    }

    /// [`Archive::plan`], using zip64 records for offsets and sizes from `zip64_from` on (below
    /// 4 GiB only in tests, which cannot afford 4 GiB of data).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn plan_with(
        entries: Vec<Entry>,
        time: zip::DateTime,
        zip64_from: u64,
    ) -> Result<Self, ArchiveError> {
        let mut placed = Vec::with_capacity(entries.len());
        let mut offset = 0u64;
        let mut central_len = 0u64;
        for entry in &entries {
            let too = |reason: String| ArchiveError::Entry {
                name: entry.name.clone(),
                reason,
            };
            if entry.name.len() > usize::from(u16::MAX) {
                return Err(too("name too long for a zip entry".into()));
            }
            if entry.body.size() > MAX_ENTRY_SIZE || entry.body.compressed_size() > MAX_ENTRY_SIZE {
                return Err(too(format!("larger than {MAX_ENTRY_SIZE} bytes")));
            }
            let zip64 = offset >= zip64_from;
            placed.push(Placed { offset, zip64 });
            let name = entry.name.len() as u64;
            offset += LOCAL_HEADER_LEN + name + entry.body.compressed_size();
            central_len +=
                CENTRAL_HEADER_LEN + name + if zip64 { ZIP64_OFFSET_EXTRA_LEN } else { 0 };
        }
        let central_start = offset;
        let zip64_end = central_start >= zip64_from
            || central_len >= zip64_from
            || entries.len() >= usize::from(U16_SENTINEL);
        let len = central_start
            + central_len
            + if zip64_end {
                ZIP64_END_LEN + ZIP64_LOCATOR_LEN
            } else {
                0
            }
            + END_LEN;
        Ok(Archive {
            entries,
            placed,
            time: time.timepart(),
            date: time.datepart(),
            central_start,
            central_len,
            zip64_end,
            len,
        })
    }

    /// Exact length of what [`Archive::write_to`] writes.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// Write the archive to `out`. Stored entries are read twice, once for their CRC-32 and
    /// once to copy them, and must not change in between nor since they were planned.
    pub(super) fn write_to(&self, out: &mut impl Write) -> Result<u64, ArchiveError> {
        let out_err = |source| ArchiveError::Io {
            path: PathBuf::from("<output>"),
            source,
        };
        let mut buffer = vec![0u8; READ_BUFFER];
        let mut crcs = Vec::with_capacity(self.entries.len());
        let mut written = 0u64;
        for (entry, placed) in self.entries.iter().zip(&self.placed) {
            debug_assert_eq!(written, placed.offset);
            match &entry.body {
                Body::Deflated {
                    crc, compressed, ..
                } => {
                    let header = self.local_header(entry, placed, *crc);
                    out.write_all(&header).map_err(out_err)?;
                    out.write_all(compressed).map_err(out_err)?;
                    crcs.push(*crc);
                    written += header.len() as u64 + compressed.len() as u64;
                }
                Body::Stored { path, size } => {
                    let io_err = |source| ArchiveError::Io {
                        path: path.clone(),
                        source,
                    };
                    let mut file = fs::File::open(path).map_err(io_err)?;
                    let crc = copy_checked(&mut file, *size, &mut io::sink(), &mut buffer)
                        .map_err(|e| e.named(entry, path))?;
                    file.rewind().map_err(io_err)?;
                    let header = self.local_header(entry, placed, crc);
                    out.write_all(&header).map_err(out_err)?;
                    let again = copy_checked(&mut file, *size, out, &mut buffer)
                        .map_err(|e| e.named(entry, path))?;
                    if again != crc {
                        return Err(ArchiveError::Entry {
                            name: entry.name.clone(),
                            reason: "changed while it was written".into(),
                        });
                    }
                    crcs.push(crc);
                    written += header.len() as u64 + size;
                }
                Body::Decrypted {
                    path,
                    size,
                    name,
                    key,
                } => {
                    let Some(key) = key else {
                        return Err(ArchiveError::Entry {
                            name: entry.name.clone(),
                            reason: "encrypted at rest and its key is not available".into(),
                        });
                    };
                    // Decrypted twice, like a stored entry is read twice: once for the CRC-32
                    // the local header carries, once to write it. One chunk in memory at a time.
                    let open = || -> Result<Decryptor<fs::File>, ArchiveError> {
                        let file = fs::File::open(path).map_err(|source| ArchiveError::Io {
                            path: path.clone(),
                            source,
                        })?;
                        Decryptor::new(file, key, name).map_err(|e| ArchiveError::Io {
                            path: path.clone(),
                            source: e.into(),
                        })
                    };
                    let crc = copy_checked(&mut open()?, *size, &mut io::sink(), &mut buffer)
                        .map_err(|e| e.named(entry, path))?;
                    let header = self.local_header(entry, placed, crc);
                    out.write_all(&header).map_err(out_err)?;
                    let again = copy_checked(&mut open()?, *size, out, &mut buffer)
                        .map_err(|e| e.named(entry, path))?;
                    if again != crc {
                        return Err(ArchiveError::Entry {
                            name: entry.name.clone(),
                            reason: "changed while it was written".into(),
                        });
                    }
                    crcs.push(crc);
                    written += header.len() as u64 + size;
                }
            }
        }
        let mut tail = Vec::with_capacity((self.len - written) as usize);
        for ((entry, placed), crc) in self.entries.iter().zip(&self.placed).zip(crcs) {
            self.central_header(&mut tail, entry, placed, crc);
        }
        self.end_records(&mut tail);
        out.write_all(&tail).map_err(out_err)?;
        written += tail.len() as u64;
        debug_assert_eq!(written, self.len);
        Ok(written)
    }

    fn version_needed(placed: &Placed) -> u16 {
        if placed.zip64 { 45 } else { 20 }
    }

    /// The fields local and central headers share, in their common order: version needed,
    /// flags, method, time, date, CRC-32, compressed and uncompressed size, name length.
    fn shared_fields(&self, out: &mut Vec<u8>, entry: &Entry, placed: &Placed, crc: u32) {
        let flags = if entry.name.is_ascii() { 0 } else { FLAG_UTF8 };
        put16(out, Self::version_needed(placed));
        put16(out, flags);
        put16(out, entry.body.method());
        put16(out, self.time);
        put16(out, self.date);
        put32(out, crc);
        // Both at most MAX_ENTRY_SIZE, checked when planned, so below 4 GiB.
        put32(out, entry.body.compressed_size() as u32);
        put32(out, entry.body.size() as u32);
        put16(out, entry.name.len() as u16);
    }

    fn local_header(&self, entry: &Entry, placed: &Placed, crc: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(LOCAL_HEADER_LEN as usize + entry.name.len());
        out.extend_from_slice(b"PK\x03\x04");
        self.shared_fields(&mut out, entry, placed, crc);
        put16(&mut out, 0); // extra field length
        out.extend_from_slice(entry.name.as_bytes());
        out
    }

    fn central_header(&self, out: &mut Vec<u8>, entry: &Entry, placed: &Placed, crc: u32) {
        out.extend_from_slice(b"PK\x01\x02");
        put16(out, MADE_BY_UNIX.max(Self::version_needed(placed)));
        self.shared_fields(out, entry, placed, crc);
        let extra = if placed.zip64 {
            ZIP64_OFFSET_EXTRA_LEN as u16
        } else {
            0
        };
        put16(out, extra);
        put16(out, 0); // comment length
        put16(out, 0); // disk number
        put16(out, 0); // internal attributes
        put32(out, EXTERNAL_ATTRIBUTES);
        put32(out, sentinel32(placed.offset, placed.zip64));
        out.extend_from_slice(entry.name.as_bytes());
        if placed.zip64 {
            put16(out, 0x0001); // zip64 extended information
            put16(out, 8);
            put64(out, placed.offset);
        }
    }

    fn end_records(&self, out: &mut Vec<u8>) {
        let count = self.entries.len() as u64;
        if self.zip64_end {
            let record_at = self.central_start + self.central_len;
            out.extend_from_slice(b"PK\x06\x06");
            put64(out, ZIP64_END_LEN - 12); // size of the rest of the record
            put16(out, MADE_BY_UNIX.max(45));
            put16(out, 45);
            put32(out, 0); // this disk
            put32(out, 0); // disk of the central directory
            put64(out, count);
            put64(out, count);
            put64(out, self.central_len);
            put64(out, self.central_start);
            out.extend_from_slice(b"PK\x06\x07");
            put32(out, 0); // disk of the zip64 end record
            put64(out, record_at);
            put32(out, 1); // number of disks
        }
        out.extend_from_slice(b"PK\x05\x06");
        put16(out, 0); // this disk
        put16(out, 0); // disk of the central directory
        let entries = if self.zip64_end {
            U16_SENTINEL
        } else {
            count as u16
        };
        put16(out, entries);
        put16(out, entries);
        put32(out, sentinel32(self.central_len, self.zip64_end));
        put32(out, sentinel32(self.central_start, self.zip64_end));
        put16(out, 0); // comment length
    }
}

/// `value` as a 32-bit field, or the zip64 sentinel when the zip64 record carries it.
fn sentinel32(value: u64, zip64: bool) -> u32 {
    if zip64 {
        U32_SENTINEL
    } else {
        // Below the zip64 threshold, which is at most 4 GiB - 1.
        value as u32
    }
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Why copying a stored entry failed, before the entry's name is known.
enum CopyError {
    Read(io::Error),
    Write(io::Error),
    Length { found: u64, expected: u64 },
}

impl CopyError {
    fn named(self, entry: &Entry, path: &Path) -> ArchiveError {
        match self {
            CopyError::Read(source) => ArchiveError::Io {
                path: path.to_owned(),
                source,
            },
            CopyError::Write(source) => ArchiveError::Io {
                path: PathBuf::from("<output>"),
                source,
            },
            CopyError::Length { found, expected } => ArchiveError::Entry {
                name: entry.name.clone(),
                reason: format!("holds {found} bytes, {expected} were planned"),
            },
        }
    }
}

/// Copy exactly `size` bytes of `file` to `out` and return their CRC-32; the file must end
/// there.
fn copy_checked(
    file: &mut impl io::Read,
    size: u64,
    out: &mut impl Write,
    buffer: &mut [u8],
) -> Result<u32, CopyError> {
    let mut crc = crc32fast::Hasher::new();
    let mut copied = 0u64;
    loop {
        let n = match file.read(buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        copied += n as u64;
        if copied > size {
            return Err(CopyError::Length {
                found: copied,
                expected: size,
            });
        }
        let chunk = buffer.get(..n).unwrap_or_default();
        crc.update(chunk);
        out.write_all(chunk).map_err(CopyError::Write)?;
    }
    if copied != size {
        return Err(CopyError::Length {
            found: copied,
            expected: size,
        });
    }
    Ok(crc.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::io::Read as _;

    fn time() -> zip::DateTime {
        zip::DateTime::from_date_and_time(2026, 5, 1, 12, 30, 10).expect("valid time")
    }

    fn entries(dir: &Path) -> Vec<Entry> {
        let stored = dir.join("rec.webm");
        fs::write(&stored, vec![0xA5u8; 70_000]).expect("write");
        vec![
            Entry {
                name: "recordings/rec.webm".into(),
                body: Body::Stored {
                    path: stored,
                    size: 70_000,
                },
            },
            Entry {
                name: "documents/scan-ü.pdf".into(),
                body: Body::deflate(b"not really a pdf").expect("deflate"),
            },
            Entry {
                name: "events.jsonl".into(),
                body: Body::deflate(&b"{\"seq\":1}\n".repeat(100)).expect("deflate"),
            },
        ]
    }

    fn read_back(bytes: &[u8]) -> Vec<(String, Vec<u8>, u16, u16)> {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("readable zip");
        (0..zip.len())
            .map(|i| {
                let mut f = zip.by_index(i).expect("entry");
                let mut content = Vec::new();
                f.read_to_end(&mut content).expect("content and CRC");
                let t = f.last_modified().unwrap_or_default();
                (f.name().to_owned(), content, t.timepart(), t.datepart())
            })
            .collect()
    }

    #[test]
    fn the_planned_length_is_written_and_any_reader_gets_the_entries_back() {
        for zip64_from in [u64::from(U32_SENTINEL), 0, 70_000] {
            let dir = tempfile::tempdir().expect("tempdir");
            let archive =
                Archive::plan_with(entries(dir.path()), time(), zip64_from).expect("plan");
            let mut bytes = Vec::new();
            let n = archive.write_to(&mut bytes).expect("write");
            assert_eq!(n, archive.len());
            assert_eq!(bytes.len() as u64, archive.len());
            let back = read_back(&bytes);
            let names: Vec<_> = back.iter().map(|e| e.0.as_str()).collect();
            assert_eq!(
                names,
                [
                    "recordings/rec.webm",
                    "documents/scan-ü.pdf",
                    "events.jsonl"
                ],
                "zip64 from {zip64_from}"
            );
            assert_eq!(back[0].1, vec![0xA5u8; 70_000]);
            assert_eq!(back[1].1, b"not really a pdf");
            assert!(
                back.iter()
                    .all(|e| (e.2, e.3) == (time().timepart(), time().datepart()))
            );
            let again = {
                let mut v = Vec::new();
                archive.write_to(&mut v).expect("write again");
                v
            };
            assert_eq!(again, bytes, "the same bytes every time");
        }
    }

    #[test]
    fn a_stored_entry_that_changed_since_it_was_planned_fails() {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive = Archive::plan(entries(dir.path()), time()).expect("plan");
        fs::write(dir.path().join("rec.webm"), b"shorter").expect("rewrite");
        let err = archive.write_to(&mut Vec::new()).unwrap_err();
        assert!(matches!(err, ArchiveError::Entry { .. }), "{err:?}");
    }
}
