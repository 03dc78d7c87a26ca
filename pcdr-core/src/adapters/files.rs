//! The log-shipping file plane on the local file system (UNC paths included on
//! Windows).
//!
//! Folders are used as the topology names them, so pcdr must run where those paths
//! resolve: on Windows, a host that reaches the backup share and the copy folder (for
//! example through `\\sql-dal\D$\LogShipping\mgc`, named so in the topology).
//!
//! A copy is atomic: it is written under a temporary name that no log-shipping pattern
//! matches and no other copy uses (created exclusively), flushed to disk, renamed into
//! place and checked against the source's size. Two runs copying the same file at once
//! therefore never write into one partial file.
//! A file already there with the same size is not copied again.

use crate::error::{PlaneError, PlaneResult};
use crate::logship::{is_log_backup_of, join_path, looks_like_log_backup_of};
use crate::planes::{FileEntry, FilePlane};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The file system as a [`FilePlane`].
#[derive(Debug, Clone, Copy, Default)]
pub struct FileSystem;

/// The suffix of a copy in progress.
const PARTIAL_SUFFIX: &str = ".pcdr-partial";

fn io_error(path: &str, error: &io::Error) -> PlaneError {
    PlaneError::Io {
        path: path.to_string(),
        message: error.to_string(),
    }
}

/// Runs blocking file-system work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> PlaneResult<T> + Send + 'static,
) -> PlaneResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| PlaneError::Unexpected(format!("file task failed: {e}")))?
}

/// The files in `folder` whose names `wanted` accepts.
fn list_where(folder: &str, wanted: impl Fn(&str) -> bool) -> PlaneResult<Vec<FileEntry>> {
    let entries = fs::read_dir(folder).map_err(|e| io_error(folder, &e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(folder, &e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !wanted(&name) {
            continue;
        }
        let metadata = entry
            .metadata()
            .map_err(|e| io_error(&join_path(folder, &name), &e))?;
        if metadata.is_file() {
            let modified = metadata
                .modified()
                .map(DateTime::<Utc>::from)
                .unwrap_or_default();
            files.push(FileEntry {
                name,
                size: metadata.len(),
                modified,
            });
        }
    }
    Ok(files)
}

fn copy(from_folder: &str, name: &str, to_folder: &str) -> PlaneResult<u64> {
    let source = join_path(from_folder, name);
    let target = join_path(to_folder, name);
    let size = fs::metadata(&source)
        .map_err(|e| io_error(&source, &e))?
        .len();
    if fs::metadata(&target).is_ok_and(|m| m.is_file() && m.len() == size) {
        return Ok(size);
    }
    let partial = partial_name(&target);
    let discard = |error: PlaneError| {
        let _ = fs::remove_file(&partial);
        error
    };
    let mut reader = fs::File::open(&source).map_err(|e| io_error(&source, &e))?;
    // Created exclusively: a copy never writes into a file another one is writing.
    let mut writer = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .map_err(|e| io_error(&partial, &e))?;
    // The size that landed is read from the file itself: the count a copy call returns
    // is the platform's word (wine's once said 0 for a whole copy), the file is the fact.
    let landed = io::copy(&mut reader, &mut writer)
        .and_then(|_| writer.sync_all())
        .and_then(|()| writer.metadata())
        .map_err(|e| discard(io_error(&partial, &e)))?
        .len();
    drop(writer);
    if landed != size {
        return Err(discard(PlaneError::Io {
            path: source,
            message: format!(
                "the copy holds {landed} bytes of {size}; the source changed during the copy"
            ),
        }));
    }
    fs::rename(&partial, &target).map_err(|e| discard(io_error(&target, &e)))?;
    sync_folder(to_folder);
    Ok(size)
}

/// A name for the copy in progress to `target` that no other copy uses: the process id
/// tells apart the runs on one host, the time and a counter the copies of one run (two
/// hosts writing one folder could meet on all three, which the exclusive creation turns
/// into an error rather than two writers in one file).
fn partial_name(target: &str) -> String {
    static COPIES: AtomicU64 = AtomicU64::new(0);
    let copy = COPIES.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{target}.{}-{nanos}-{copy}{PARTIAL_SUFFIX}",
        std::process::id()
    )
}

/// Makes the rename durable where the platform allows it (a directory cannot be opened
/// for syncing on Windows; the rename is durable there once it returns).
fn sync_folder(folder: &str) {
    if let Ok(dir) = fs::File::open(Path::new(folder)) {
        let _ = dir.sync_all();
    }
}

#[async_trait]
impl FilePlane for FileSystem {
    async fn list_log_backups(&self, folder: &str, database: &str) -> PlaneResult<Vec<FileEntry>> {
        let (folder, database) = (folder.to_string(), database.to_string());
        blocking(move || list_where(&folder, |name| is_log_backup_of(name, &database))).await
    }

    async fn misnamed_log_backups(&self, folder: &str, database: &str) -> PlaneResult<Vec<String>> {
        let (folder, database) = (folder.to_string(), database.to_string());
        let misnamed = move |name: &str| {
            looks_like_log_backup_of(name, &database) && !is_log_backup_of(name, &database)
        };
        let files = blocking(move || list_where(&folder, misnamed)).await?;
        Ok(files.into_iter().map(|f| f.name).collect())
    }

    async fn copy_file(&self, from_folder: &str, name: &str, to_folder: &str) -> PlaneResult<u64> {
        let (from, name, to) = (
            from_folder.to_string(),
            name.to_string(),
            to_folder.to_string(),
        );
        blocking(move || copy(&from, &name, &to)).await
    }

    async fn free_space(&self, folder: &str) -> PlaneResult<u64> {
        let folder = folder.to_string();
        blocking(move || fs4::available_space(&folder).map_err(|e| io_error(&folder, &e))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(dir: &tempfile::TempDir, name: &str) -> String {
        let path = dir.path().join(name);
        fs::create_dir_all(&path).unwrap();
        path.to_string_lossy().into_owned()
    }

    #[tokio::test]
    async fn lists_only_the_log_backups_of_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let share = folder(&dir, "share");
        for name in [
            "mgc_20261127130000.trn",
            "mgccomp_20261127130000.trn",
            "mgc_x.trn",
            "notes.txt",
        ] {
            fs::write(join_path(&share, name), b"12345").unwrap();
        }
        let files = FileSystem.list_log_backups(&share, "mgc").await.unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(
            (files[0].name.as_str(), files[0].size),
            ("mgc_20261127130000.trn", 5)
        );
        let misnamed = FileSystem
            .misnamed_log_backups(&share, "mgc")
            .await
            .unwrap();
        assert_eq!(misnamed, ["mgc_x.trn"], "named, not listed");
    }

    #[tokio::test]
    async fn copies_atomically_and_not_twice() {
        let dir = tempfile::tempdir().unwrap();
        let (share, copy_folder) = (folder(&dir, "share"), folder(&dir, "copy"));
        let name = "mgc_20261127130000.trn";
        fs::write(join_path(&share, name), vec![7u8; 100_000]).unwrap();
        assert_eq!(
            FileSystem
                .copy_file(&share, name, &copy_folder)
                .await
                .unwrap(),
            100_000
        );
        assert_eq!(
            fs::read(join_path(&copy_folder, name)).unwrap(),
            vec![7u8; 100_000]
        );
        let leftovers: Vec<_> = fs::read_dir(&copy_folder).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no partial file is left behind");
        let before = fs::metadata(join_path(&copy_folder, name))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(
            FileSystem
                .copy_file(&share, name, &copy_folder)
                .await
                .unwrap(),
            100_000
        );
        let after = fs::metadata(join_path(&copy_folder, name))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after, "a file of the same size is not copied again");
    }

    #[tokio::test]
    async fn a_copy_never_writes_into_another_copys_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let (share, copy_folder) = (folder(&dir, "share"), folder(&dir, "copy"));
        let name = "mgc_20261127130000.trn";
        fs::write(join_path(&share, name), vec![3u8; 4096]).unwrap();
        // Another run's copy in progress, under the name every copy once shared.
        let theirs = format!("{}{PARTIAL_SUFFIX}", join_path(&copy_folder, name));
        fs::write(&theirs, b"another run is writing this").unwrap();
        FileSystem
            .copy_file(&share, name, &copy_folder)
            .await
            .unwrap();
        assert_eq!(
            fs::read(&theirs).unwrap(),
            b"another run is writing this",
            "the other copy's file is untouched"
        );
        assert_eq!(
            fs::read(join_path(&copy_folder, name)).unwrap(),
            vec![3u8; 4096]
        );
        let a = partial_name(&join_path(&copy_folder, name));
        let b = partial_name(&join_path(&copy_folder, name));
        assert_ne!(a, b, "two copies never share a partial name");
    }

    #[tokio::test]
    async fn a_partial_copy_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let (share, copy_folder) = (folder(&dir, "share"), folder(&dir, "copy"));
        let name = "mgc_20261127130000.trn";
        fs::write(join_path(&share, name), vec![1u8; 4096]).unwrap();
        fs::write(join_path(&copy_folder, name), vec![1u8; 100]).unwrap();
        FileSystem
            .copy_file(&share, name, &copy_folder)
            .await
            .unwrap();
        assert_eq!(
            fs::metadata(join_path(&copy_folder, name)).unwrap().len(),
            4096
        );
    }

    #[tokio::test]
    async fn an_unreadable_folder_names_the_path_and_the_os_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone").to_string_lossy().into_owned();
        let err = FileSystem
            .list_log_backups(&missing, "mgc")
            .await
            .unwrap_err();
        let PlaneError::Io { path, message } = err else {
            panic!("{err:?}")
        };
        assert_eq!(path, missing);
        let os_error = fs::read_dir(&missing).unwrap_err().to_string();
        assert!(message.contains(&os_error), "{message}");
    }

    #[tokio::test]
    async fn free_space_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let free = FileSystem
            .free_space(&dir.path().to_string_lossy())
            .await
            .unwrap();
        assert!(free > 0);
    }
}
