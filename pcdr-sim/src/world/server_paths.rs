//! How the emulated instances name the world's folders, which is not how pcdr names them.
//!
//! A real log-shipping secondary restores from a folder on its own disks, named as that
//! server sees it (`D:\LogShipping\mgc`, msdb's `backup_destination_directory`), while
//! pcdr reaches the same folder through another path (the server's administrative share
//! `\\sql-dal\D$\LogShipping\mgc`, or a mount point on pcdr's machine). So here: the
//! backup instance names the copy folder [`COPY_FOLDER_ON_BACKUP`]; the folder's real
//! directory (`DIR/copy`) is pcdr's path to it, which no instance sees, and a drive path
//! no instance has is "not found" rather than a file somewhere on the host. The primary
//! instance has a copy folder of its own for log shipping the other way (after a planned
//! role change, "Change Roles Between Primary and Secondary Log Shipping Servers (SQL
//! Server)",
//! <https://learn.microsoft.com/en-us/sql/database-engine/log-shipping/change-roles-between-primary-and-secondary-log-shipping-servers-sql-server>),
//! which it names [`COPY_FOLDER_ON_PRIMARY`] on its own `D:` drive, in `DIR/copy-primary`.
//! The mirror instances name no copy folder. "Cannot open
//! backup device … Operating system error 3(The system cannot find the path
//! specified.)" is SQL Server's answer to a path that does not exist on the server
//! (MSSQLSERVER_3201,
//! <https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/mssqlserver-3201-database-engine-error>).
//!
//! The backup share keeps one path for everyone: its real directory stands for the UNC
//! path every server and pcdr reach it by.
//!
//! This module owns the names only; reading and writing files is `dbops.rs`'s.

use std::path::{Path, PathBuf};

use crate::world::model::InstanceId;

/// The copy folder as the backup instance names it: a folder on its own `D:` drive.
pub const COPY_FOLDER_ON_BACKUP: &str = r"D:\LogShipping\mgc";

/// The copy folder as the primary instance names it: the same name, on its own `D:`
/// drive.
pub const COPY_FOLDER_ON_PRIMARY: &str = r"D:\LogShipping\mgc";

/// The real directories of the two copy folders: pcdr's paths to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyFolders {
    /// The backup instance's copy folder (`DIR/copy`).
    pub backup: PathBuf,
    /// The primary instance's copy folder (`DIR/copy-primary`).
    pub primary: PathBuf,
}

impl CopyFolders {
    /// The copy folder `instance` has: its name there and its real directory.
    fn of(&self, instance: InstanceId) -> Option<(&'static str, &Path)> {
        match instance {
            InstanceId::Backup => Some((COPY_FOLDER_ON_BACKUP, &self.backup)),
            InstanceId::Primary => Some((COPY_FOLDER_ON_PRIMARY, &self.primary)),
            InstanceId::PrimaryMirror | InstanceId::BackupMirror => None,
        }
    }

    /// Whether `real` is in either copy folder's real directory.
    fn contains(&self, real: &Path) -> bool {
        real.starts_with(&self.backup) || real.starts_with(&self.primary)
    }
}

/// Why a path names nothing on an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotOnServer;

/// The real path behind `path` as `instance` names it; `copies` are the copy folders'
/// real directories.
pub fn resolve(
    instance: InstanceId,
    path: &str,
    copies: &CopyFolders,
) -> Result<PathBuf, NotOnServer> {
    if let Some((folder, copy)) = copies.of(instance)
        && let Some(rest) = strip_folder(path, folder)
    {
        return Ok(rest
            .split(['\\', '/'])
            .fold(copy.to_path_buf(), |p, c| p.join(c)));
    }
    let real = Path::new(path);
    if is_drive_path(path) || copies.contains(real) {
        return Err(NotOnServer);
    }
    Ok(real.to_path_buf())
}

/// `folder` and `name` joined with the folder's own separator (`\` for a Windows path).
pub fn join(folder: &str, name: &str) -> String {
    let separator = if folder.contains('\\') { '\\' } else { '/' };
    format!("{}{separator}{name}", folder.trim_end_matches(['\\', '/']))
}

/// The last component of a Windows or Unix path.
pub fn file_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

/// What follows `folder` in `path` (compared case-insensitively, as Windows does), if
/// `path` is in it or is it.
fn strip_folder<'a>(path: &'a str, folder: &str) -> Option<&'a str> {
    let head = path.get(..folder.len())?;
    let rest = path.get(folder.len()..)?;
    let inside = rest.is_empty() || rest.starts_with('\\');
    (head.eq_ignore_ascii_case(folder) && inside).then(|| rest.trim_start_matches('\\'))
}

/// `X:` followed by nothing or a separator: a path on a Windows drive.
fn is_drive_path(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copies() -> CopyFolders {
        CopyFolders {
            backup: PathBuf::from("/w/copy"),
            primary: PathBuf::from("/w/copy-primary"),
        }
    }

    #[test]
    fn the_backup_instance_names_the_copy_folder_on_its_d_drive() {
        let copies = copies();
        let inside = resolve(InstanceId::Backup, r"d:\logshipping\MGC\mgc_1.trn", &copies);
        assert_eq!(inside, Ok(PathBuf::from("/w/copy/mgc_1.trn")));
        assert_eq!(
            resolve(InstanceId::Backup, COPY_FOLDER_ON_BACKUP, &copies),
            Ok(PathBuf::from("/w/copy"))
        );
    }

    #[test]
    fn the_primary_instance_names_its_own_copy_folder_alike_and_the_mirrors_none() {
        let copies = copies();
        let file = r"D:\LogShipping\mgc\mgc_1.trn";
        assert_eq!(
            resolve(InstanceId::Primary, file, &copies),
            Ok(PathBuf::from("/w/copy-primary/mgc_1.trn"))
        );
        for mirror in [InstanceId::PrimaryMirror, InstanceId::BackupMirror] {
            assert_eq!(resolve(mirror, file, &copies), Err(NotOnServer));
        }
    }

    #[test]
    fn no_instance_sees_a_copy_folder_by_pcdrs_path_or_another_drive_path() {
        let copies = copies();
        for instance in InstanceId::ALL {
            for real in ["/w/copy/mgc_1.trn", "/w/copy-primary/mgc_1.trn"] {
                assert_eq!(resolve(instance, real, &copies), Err(NotOnServer));
            }
        }
        let sibling = r"D:\LogShipping\mgc2\mgc_1.trn";
        assert_eq!(
            resolve(InstanceId::Backup, sibling, &copies),
            Err(NotOnServer)
        );
        assert_eq!(
            resolve(InstanceId::Primary, sibling, &copies),
            Err(NotOnServer)
        );
        assert_eq!(
            resolve(InstanceId::Primary, "/w/share/a.trn", &copies),
            Ok(PathBuf::from("/w/share/a.trn"))
        );
    }

    #[test]
    fn paths_join_and_split_in_their_own_notation() {
        assert_eq!(
            join(r"D:\LogShipping\mgc\", "a.trn"),
            r"D:\LogShipping\mgc\a.trn"
        );
        assert_eq!(join("/w/share", "a.trn"), "/w/share/a.trn");
        assert_eq!(file_name(r"D:\LogShipping\mgc\a.trn"), "a.trn");
        assert_eq!(file_name("/w/share/a.trn"), "a.trn");
    }
}
