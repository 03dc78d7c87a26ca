//! Files that record what an operator's run did (journals and reports): created
//! readable and writable by their owner only, and never opened through a symbolic link,
//! so that nobody else on the host can read a run's facts or plant a link that makes
//! pcdr write somewhere else.
//!
//! On Unix the file is opened with `O_NOFOLLOW` (a link is refused by the kernel, with
//! no window between a check and the open) and its mode set to `0600`. On Windows it is
//! opened with `FILE_FLAG_OPEN_REPARSE_POINT`, refused when what was opened is a link,
//! and given a protected DACL granting access to its owner, SYSTEM and Administrators
//! only (the `windows_acl` module, compiled on Windows only).
//!
//! ```no_run
//! use std::io::Write;
//! let mut report = pcdr_core::private_file::create("failover.journal.report.json")?;
//! report.write_all(b"{}")?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Opens `path` for reading and appending (a journal), creating it owner-only.
pub fn open_append(path: impl AsRef<Path>) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true).read(true);
    #[cfg(windows)]
    windows::may_change_access(&mut options, windows::READ_AND_APPEND);
    open(path.as_ref(), &mut options)
}

/// Creates `path`, or empties it, for writing (a report), owner-only.
pub fn create(path: impl AsRef<Path>) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).write(true).truncate(true);
    #[cfg(windows)]
    windows::may_change_access(&mut options, windows::WRITE);
    open(path.as_ref(), &mut options)
}

fn open(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    no_link_and_owner_only(options);
    let file = options.open(path).map_err(|e| explain_link(path, e))?;
    refuse_opened_link(path, &file)?;
    make_owner_only(&file)?;
    Ok(file)
}

#[cfg(unix)]
fn no_link_and_owner_only(options: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    options
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
}

#[cfg(windows)]
fn no_link_and_owner_only(options: &mut OpenOptions) {
    use std::os::windows::fs::OpenOptionsExt;
    options.custom_flags(windows_sys::Win32::Storage::FileSystem::FILE_FLAG_OPEN_REPARSE_POINT);
}

/// The rights a handle needs on Windows: the ones `OpenOptions` would ask for, plus
/// `WRITE_DAC` (and `READ_CONTROL`) so that the file's DACL can be replaced through the
/// very handle that was checked not to be a link.
#[cfg(windows)]
mod windows {
    use std::fs::OpenOptions;
    use std::os::windows::fs::OpenOptionsExt;
    use windows_sys::Win32::Foundation::GENERIC_READ;
    use windows_sys::Win32::Storage::FileSystem::{
        FILE_GENERIC_WRITE, FILE_WRITE_DATA, READ_CONTROL, WRITE_DAC,
    };

    /// What `read(true).append(true)` asks for: reading, and writing at the end only.
    pub const READ_AND_APPEND: u32 = GENERIC_READ | (FILE_GENERIC_WRITE & !FILE_WRITE_DATA);
    /// What `write(true)` asks for.
    pub const WRITE: u32 = FILE_GENERIC_WRITE;

    pub fn may_change_access(options: &mut OpenOptions, access: u32) {
        options.access_mode(access | WRITE_DAC | READ_CONTROL);
    }
}

/// The kernel's refusal of a link (`ELOOP` under `O_NOFOLLOW`), in words.
fn explain_link(path: &Path, error: io::Error) -> io::Error {
    #[cfg(unix)]
    if error.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        return link_refused(path);
    }
    let _ = path;
    error
}

fn link_refused(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is a symbolic link: pcdr writes journals and reports only to a real file; \
             give the path of the file itself",
            path.display()
        ),
    )
}

/// Windows opened the link itself (`FILE_FLAG_OPEN_REPARSE_POINT`): refuse it.
fn refuse_opened_link(path: &Path, file: &File) -> io::Result<()> {
    if cfg!(windows) && file.metadata()?.file_type().is_symlink() {
        return Err(link_refused(path));
    }
    Ok(())
}

/// Narrows a file that already existed with a wider mode (`create` sets it only on a
/// new file).
#[cfg(unix)]
fn make_owner_only(file: &File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file.metadata()?.permissions().mode();
    if mode & 0o077 == 0 {
        return Ok(());
    }
    file.set_permissions(std::fs::Permissions::from_mode(mode & 0o700))
}

#[cfg(windows)]
fn make_owner_only(file: &File) -> io::Result<()> {
    crate::windows_acl::set_owner_only(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn a_new_file_is_its_owners_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.journal");
        create(&path).unwrap().write_all(b"one\n").unwrap();
        open_append(&path).unwrap().write_all(b"two\n").unwrap();
        let mut text = String::new();
        open_append(&path)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "one\ntwo\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_file_others_could_read_is_narrowed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.journal.report.md");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        create(&path).unwrap().write_all(b"new").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "precious").unwrap();
        let link = dir.path().join("failover.journal");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        for opened in [create(&link), open_append(&link)] {
            let error = opened.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
            assert!(error.to_string().contains("symbolic link"), "{error}");
        }
        let dangling = dir.path().join("dangling.journal");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(open_append(&dangling).is_err());
        assert!(!dir.path().join("nowhere").exists());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    }
}
