//! Log-shipping conventions: which files belong to a database, and how paths are joined.
//!
//! SQL Server's log-shipping jobs name log backups `<database>_<yyyyMMddHHmmss>.trn`
//! (UTC). That is community knowledge, not documentation, so pcdr only uses names to
//! pick candidates and order them cheaply; `RESTORE HEADERONLY` has the last word.

/// Whether `file_name` looks like a log-shipping log backup of `database`:
/// `<database>_<14 digits>.trn`, compared case-insensitively.
///
/// ```
/// use pcdr_core::logship::is_log_backup_of;
/// assert!(is_log_backup_of("mgc_20261127133000.trn", "mgc"));
/// assert!(!is_log_backup_of("mgccomp_20261127133000.trn", "mgc"));
/// assert!(!is_log_backup_of("mgc_20261127133000.trn.tmp", "mgc"));
/// ```
pub fn is_log_backup_of(file_name: &str, database: &str) -> bool {
    backup_stamp(file_name, database).is_some()
}

/// Whether `file_name` looks like a log backup of `database` whatever follows its name:
/// `<database>`, a character that is neither a letter nor a digit, and the extension
/// `.trn`, compared case-insensitively. A copy saved by hand (`mgc_20261127133000 (2).trn`)
/// looks like one; a log backup of `mgccomp` does not look like one of `mgc`.
///
/// ```
/// use pcdr_core::logship::looks_like_log_backup_of;
/// assert!(looks_like_log_backup_of("mgc_20261127133000 - Copy.trn", "mgc"));
/// assert!(looks_like_log_backup_of("MGC-2026-11-27.TRN", "mgc"));
/// assert!(!looks_like_log_backup_of("mgccomp_20261127133000.trn", "mgc"));
/// assert!(!looks_like_log_backup_of("mgc_20261127133000.trn.tmp", "mgc"));
/// ```
pub fn looks_like_log_backup_of(file_name: &str, database: &str) -> bool {
    let Some(rest) = file_name
        .get(..database.len())
        .filter(|prefix| prefix.eq_ignore_ascii_case(database))
        .and_then(|_| file_name.get(database.len()..))
    else {
        return false;
    };
    let separated = rest.chars().next().is_some_and(|c| !c.is_alphanumeric());
    let extension = rest
        .len()
        .checked_sub(4)
        .and_then(|at| rest.get(at..))
        .is_some_and(|e| e.eq_ignore_ascii_case(".trn"));
    separated && extension
}

/// The `yyyyMMddHHmmss` stamp of a log-shipping file name, if it has one.
pub fn backup_stamp<'a>(file_name: &'a str, database: &str) -> Option<&'a str> {
    let prefix = file_name.get(..database.len())?;
    if !prefix.eq_ignore_ascii_case(database) {
        return None;
    }
    let rest = file_name.get(database.len()..)?.strip_prefix('_')?;
    let stamp = rest.get(..rest.len().checked_sub(4)?)?;
    let extension = rest.get(stamp.len()..)?;
    let is_stamp = stamp.len() == 14 && stamp.bytes().all(|b| b.is_ascii_digit());
    (is_stamp && extension.eq_ignore_ascii_case(".trn")).then_some(stamp)
}

/// Joins a folder and a file name with the folder's own separator (`\` for Windows and
/// UNC paths, `/` otherwise), as the SQL Server instance will read the path.
///
/// ```
/// use pcdr_core::logship::join_path;
/// assert_eq!(join_path(r"D:\LogShipping\mgc", "a.trn"), r"D:\LogShipping\mgc\a.trn");
/// assert_eq!(join_path(r"\\fs01\logs\", "a.trn"), r"\\fs01\logs\a.trn");
/// assert_eq!(join_path("/var/ls", "a.trn"), "/var/ls/a.trn");
/// ```
pub fn join_path(folder: &str, name: &str) -> String {
    let separator = if folder.contains('\\') || folder.contains(':') && !folder.contains('/') {
        '\\'
    } else {
        '/'
    };
    let trimmed = folder.trim_end_matches(['\\', '/']);
    format!("{trimmed}{separator}{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_fourteen_digits_before_trn() {
        assert_eq!(
            backup_stamp("MGC_20261127133000.TRN", "mgc"),
            Some("20261127133000")
        );
        assert_eq!(backup_stamp("mgc_2026112713300.trn", "mgc"), None);
        assert_eq!(backup_stamp("mgc20261127133000.trn", "mgc"), None);
        assert_eq!(backup_stamp("mgc_2026112713300x.trn", "mgc"), None);
        assert_eq!(backup_stamp("m", "mgc"), None);
        assert_eq!(backup_stamp("mgc_é.trn", "mgc"), None);
    }
}
