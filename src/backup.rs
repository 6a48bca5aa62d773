//! Backup and restore of a hub on the SQLite default: one zip holding a consistent snapshot
//! of the database (`VACUUM INTO`, safe while the hub runs) and every other file of the data
//! directory (PKI and log keys, the hub secret, artefacts, recordings, encrypted documents).
//!
//! Contract: the backup file is created with mode 0600 because it holds private keys. Restore
//! writes into an empty data directory only (or one the operator names with `force`), refuses
//! entry names that would land outside it, keeps each file's mode for keys (0600), and checks
//! the restored database by opening and migrating it. Stop the hub before restoring.

use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Component, Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

/// The database file's name inside the data directory and the backup.
pub const DB_FILE: &str = "globallink.db";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("backups cover the SQLite default only; {0} is not a sqlite:// database")]
    NotSqlite(String),
    #[error("database snapshot failed: {0}")]
    Snapshot(#[from] sqlx::Error),
    #[error("the backup is not a readable zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("{0} is not empty: restore into an empty data directory, or pass --force")]
    NotEmpty(PathBuf),
    #[error("the backup holds an unsafe entry name {0:?}")]
    UnsafeName(String),
    #[error("the backup holds no {DB_FILE}")]
    NoDatabase,
    #[error("the restored database does not open: {0}")]
    Restored(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The database file a `sqlite://` URL names.
fn sqlite_path(database_url: &str) -> Result<PathBuf, BackupError> {
    database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|p| PathBuf::from(p.split('?').next().unwrap_or(p)))
        .ok_or_else(|| BackupError::NotSqlite(database_url.to_owned()))
}

/// Write a backup of `data_dir` and the database at `database_url` to `out`. Returns the
/// number of files in it.
pub async fn backup(data_dir: &Path, database_url: &str, out: &Path) -> Result<usize, BackupError> {
    let db = sqlite_path(database_url)?;
    let snapshot = out.with_extension("db.tmp");
    let _ = fs::remove_file(&snapshot);
    {
        use sqlx::Connection as _;
        let mut conn = sqlx::SqliteConnection::connect(database_url).await?;
        sqlx::query("VACUUM INTO ?")
            .bind(snapshot.to_string_lossy().into_owned())
            .execute(&mut conn)
            .await?;
        conn.close().await?;
    }
    let file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(out)
        .map_err(io_err(out))?;
    let mut zip = ZipWriter::new(io::BufWriter::new(file));
    let mut count = 0;
    let result = (|| -> Result<(), BackupError> {
        add_file(&mut zip, &snapshot, DB_FILE, 0o600)?;
        count += 1;
        let skip = |p: &Path| {
            p == db
                || p == snapshot
                || p == out
                || p.to_string_lossy().ends_with("-wal")
                || p.to_string_lossy().ends_with("-shm")
                || p.extension().is_some_and(|e| e == "tmp")
                // An artefact still being assembled, or a crash's leftover of one.
                || p.strip_prefix(data_dir).is_ok_and(|rel| {
                    rel.components()
                        .any(|c| c.as_os_str().to_string_lossy().ends_with(".tmp"))
                })
        };
        for path in walk(data_dir)? {
            if skip(&path) {
                continue;
            }
            let Ok(rel) = path.strip_prefix(data_dir) else {
                continue;
            };
            let mode = fs::metadata(&path)
                .map_err(io_err(&path))?
                .permissions()
                .mode()
                & 0o777;
            add_file(&mut zip, &path, &rel.to_string_lossy(), mode)?;
            count += 1;
        }
        Ok(())
    })();
    let _ = fs::remove_file(&snapshot);
    result?;
    let mut file = zip.finish()?.into_inner().map_err(|e| BackupError::Io {
        path: out.to_owned(),
        source: e.into_error(),
    })?;
    file.flush().map_err(io_err(out))?;
    file.sync_all().map_err(io_err(out))?;
    Ok(count)
}

fn add_file(
    zip: &mut ZipWriter<io::BufWriter<fs::File>>,
    path: &Path,
    name: &str,
    mode: u32,
) -> Result<(), BackupError> {
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .unix_permissions(mode)
        .large_file(true);
    zip.start_file(name, options)?;
    let mut source = fs::File::open(path).map_err(io_err(path))?;
    io::copy(&mut source, zip).map_err(io_err(path))?;
    Ok(())
}

/// Every regular file below `dir`, sorted.
fn walk(dir: &Path) -> Result<Vec<PathBuf>, BackupError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let entries = match fs::read_dir(&d) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&d)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err(&d))?;
            let kind = entry.file_type().map_err(io_err(&entry.path()))?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Restore `from` into `data_dir`, the database to `database_url`'s file. Returns the number
/// of files restored.
pub async fn restore(
    from: &Path,
    data_dir: &Path,
    database_url: &str,
    force: bool,
) -> Result<usize, BackupError> {
    let db = sqlite_path(database_url)?;
    let occupied = fs::read_dir(data_dir)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if occupied && !force {
        return Err(BackupError::NotEmpty(data_dir.to_owned()));
    }
    let file = fs::File::open(from).map_err(io_err(from))?;
    let mut zip = ZipArchive::new(file)?;
    if zip.index_for_name(DB_FILE).is_none() {
        return Err(BackupError::NoDatabase);
    }
    // Check every name before writing anything.
    for i in 0..zip.len() {
        let entry = zip.by_index(i)?;
        let name = entry.name().to_owned();
        let safe = Path::new(&name)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if !safe || name.is_empty() {
            return Err(BackupError::UnsafeName(name));
        }
    }
    fs::create_dir_all(data_dir).map_err(io_err(data_dir))?;
    for wal in ["-wal", "-shm"] {
        let mut side = db.clone().into_os_string();
        side.push(wal);
        let _ = fs::remove_file(PathBuf::from(side));
    }
    let count = zip.len();
    for i in 0..count {
        let mut entry = zip.by_index(i)?;
        let name = entry.name().to_owned();
        let target = if name == DB_FILE {
            db.clone()
        } else {
            data_dir.join(&name)
        };
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let mode = entry.unix_mode().map_or(0o600, |m| m & 0o777);
        // A file already there may be read-only (artefacts are): replaced, not rewritten.
        match fs::remove_file(&target) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&target)(e)),
        }
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&target)
            .map_err(io_err(&target))?;
        io::copy(&mut entry, &mut out).map_err(io_err(&target))?;
        out.sync_all().map_err(io_err(&target))?;
        fs::set_permissions(&target, fs::Permissions::from_mode(mode)).map_err(io_err(&target))?;
    }
    crate::store::sqlite::SqliteStore::open(database_url)
        .await
        .map_err(|e| BackupError::Restored(e.to_string()))?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::bundle::tests::{TestLog, sample_input};
    use crate::seal::bundle::{StoredArtefact, seal};
    use crate::seal::pki::tests::dev_identity;

    fn url(dir: &Path) -> String {
        format!("sqlite://{}", dir.join(DB_FILE).display())
    }

    #[tokio::test]
    async fn an_artefact_directory_survives_backup_and_restore() -> anyhow::Result<()> {
        let (_pki, id) = dev_identity();
        let data = tempfile::tempdir()?;
        crate::store::sqlite::SqliteStore::open(&url(data.path())).await?;
        let recordings = data.path().join("recordings").join("session");
        let artefacts = data.path().join("artefacts");
        fs::create_dir_all(&recordings)?;
        fs::create_dir_all(&artefacts)?;
        let input = sample_input(&recordings);
        let name = input.artefact_id.to_string();
        let log = TestLog::new();
        seal(input, &id, |m| log.include(m), &artefacts.join(&name))?;
        let zip = |data: &Path| StoredArtefact::Directory(data.join("artefacts").join(&name)).zip();
        let before = zip(data.path())?.to_vec()?;
        // What a crash in the middle of sealing leaves is not backed up.
        fs::create_dir(artefacts.join(".other.0123.tmp"))?;
        fs::write(artefacts.join(".other.0123.tmp/manifest.json"), b"half")?;

        let backups = tempfile::tempdir()?;
        let file = backups.path().join("hub.zip");
        backup(data.path(), &url(data.path()), &file).await?;
        let target = tempfile::tempdir()?;
        for force in [false, true] {
            // The second time over the restored, read-only files.
            restore(&file, target.path(), &url(target.path()), force).await?;
            let after = zip(target.path())?.to_vec()?;
            assert_eq!(after, before, "the same bundle, byte for byte");
            assert!(crate::seal::verify::verify_bundle(&after, &log.trust(&id)).ok);
            let manifest = target
                .path()
                .join("artefacts")
                .join(&name)
                .join("manifest.json");
            assert_eq!(fs::metadata(&manifest)?.permissions().mode() & 0o777, 0o444);
            assert!(!target.path().join("artefacts/.other.0123.tmp").exists());
        }
        Ok(())
    }
}
