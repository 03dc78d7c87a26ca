//! How the emulated instances name the world's folders, which is not how pcdr names them.
//!
//! A real log-shipping secondary restores from a folder on its own disks, named as that
//! server sees it (`D:\LogShipping\mgc`, msdb's `backup_destination_directory`), while
//! pcdr reaches the same folder through another path (the server's administrative share
//! `\\sql-dal\D$\LogShipping\mgc`, or a mount point on pcdr's machine). So here: the
//! backup instance names the copy folder [`COPY_FOLDER_ON_BACKUP`]; the folder's real
//! directory (`DIR/copy`) is pcdr's path to it, which no instance sees, and a drive path
//! no instance has is "not found" rather than a file somewhere on the host. "Cannot open
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

/// Why a path names nothing on an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotOnServer;

/// The real path behind `path` as `instance` names it; `copy` is the copy folder's real
/// directory.
pub fn resolve(instance: InstanceId, path: &str, copy: &Path) -> Result<PathBuf, NotOnServer> {
    if instance == InstanceId::Backup
        && let Some(rest) = strip_folder(path, COPY_FOLDER_ON_BACKUP)
    {
        return Ok(rest
            .split(['\\', '/'])
            .fold(copy.to_path_buf(), |p, c| p.join(c)));
    }
    let real = Path::new(path);
    if is_drive_path(path) || real.starts_with(copy) {
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

    #[test]
    fn the_backup_instance_names_the_copy_folder_on_its_d_drive() {
        let copy = Path::new("/w/copy");
        let inside = resolve(InstanceId::Backup, r"d:\logshipping\MGC\mgc_1.trn", copy);
        assert_eq!(inside, Ok(PathBuf::from("/w/copy/mgc_1.trn")));
        assert_eq!(
            resolve(InstanceId::Backup, COPY_FOLDER_ON_BACKUP, copy),
            Ok(PathBuf::from("/w/copy"))
        );
    }

    #[test]
    fn no_instance_sees_the_copy_folder_by_pcdrs_path_or_another_drive_path() {
        let copy = Path::new("/w/copy");
        for instance in [InstanceId::Backup, InstanceId::Primary] {
            assert_eq!(
                resolve(instance, "/w/copy/mgc_1.trn", copy),
                Err(NotOnServer)
            );
        }
        let elsewhere = r"D:\LogShipping\mgc\mgc_1.trn";
        assert_eq!(
            resolve(InstanceId::Primary, elsewhere, copy),
            Err(NotOnServer)
        );
        let sibling = r"D:\LogShipping\mgc2\mgc_1.trn";
        assert_eq!(resolve(InstanceId::Backup, sibling, copy), Err(NotOnServer));
        assert_eq!(
            resolve(InstanceId::Primary, "/w/share/a.trn", copy),
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
