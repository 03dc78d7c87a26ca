//! The log-shipping file plane: the backup share and the copy destination folder.

use crate::error::PlaneResult;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A backup file found in a folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The file name, without folder.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written.
    pub modified: DateTime<Utc>,
}

/// Access to the log-shipping folders.
///
/// Folders are given as the topology names them (`\\fs01\pchat-logs`, `D:\LogShipping`);
/// an implementation maps them to what it can reach.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait FilePlane: Send + Sync {
    /// The log backup files of `database` in `folder` (see
    /// [`is_log_backup_of`](crate::logship::is_log_backup_of)), in no particular order.
    async fn list_log_backups(&self, folder: &str, database: &str) -> PlaneResult<Vec<FileEntry>>;

    /// The names of the files in `folder` that look like log backups of `database` but
    /// are not named as log shipping names them (see
    /// [`looks_like_log_backup_of`](crate::logship::looks_like_log_backup_of)):
    /// [`list_log_backups`](Self::list_log_backups) leaves them out, and pcdr names them
    /// in a warning rather than ignoring them silently.
    async fn misnamed_log_backups(&self, folder: &str, database: &str) -> PlaneResult<Vec<String>>;

    /// Copies `name` from `from_folder` to `to_folder` atomically: written under a
    /// temporary name no other copy uses (created exclusively), flushed to disk, renamed,
    /// and its size checked against the source. Returns the bytes copied.
    async fn copy_file(&self, from_folder: &str, name: &str, to_folder: &str) -> PlaneResult<u64>;

    /// Bytes free in the file system holding `folder`.
    async fn free_space(&self, folder: &str) -> PlaneResult<u64>;
}
