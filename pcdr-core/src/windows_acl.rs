//! Who may read a file on Windows, where a file's mode bits say nothing: its
//! discretionary access control list (DACL) does.
//!
//! - [`check_private`] refuses a file (the SQL password file) whose DACL lets anyone
//!   read it but its owner, SYSTEM and the Administrators group, as the Unix check
//!   refuses a mode wider than `0600`. A missing (NULL) DACL grants everyone everything,
//!   and is refused.
//! - [`set_owner_only`] gives a file pcdr creates (a journal, a report) a protected DACL
//!   (no entries inherited from its folder) granting full access to its owner, SYSTEM
//!   and Administrators only.
//!
//! Pages: <https://learn.microsoft.com/windows/win32/secauthz/access-control-lists>,
//! <https://learn.microsoft.com/windows/win32/api/aclapi/nf-aclapi-getnamedsecurityinfow>,
//! <https://learn.microsoft.com/windows/win32/secauthz/security-descriptor-string-format>.

use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::AsRawHandle;
use std::path::Path;
use windows_sys::Win32::Foundation::{ERROR_SUCCESS, LocalFree};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW,
    GetNamedSecurityInfoW, SE_FILE_OBJECT, SetSecurityInfo,
};
use windows_sys::Win32::Security::{
    ACE_HEADER, ACL, DACL_SECURITY_INFORMATION, EqualSid, GetAce, GetSecurityDescriptorDacl,
    GetSecurityDescriptorOwner, IsWellKnownSid, OWNER_SECURITY_INFORMATION,
    PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, WinBuiltinAdministratorsSid,
    WinCreatorOwnerRightsSid, WinLocalSystemSid,
};

/// `ACCESS_ALLOWED_ACE_TYPE`, `ACCESS_ALLOWED_OBJECT_ACE_TYPE` and
/// `ACCESS_ALLOWED_CALLBACK_ACE_TYPE` (winnt.h): the entries that grant access.
const ALLOWING_ACE_TYPES: [u8; 3] = [0x0, 0x5, 0x9];
/// `INHERIT_ONLY_ACE`: the entry is only passed on to children, not applied here.
const INHERIT_ONLY_ACE: u8 = 0x8;
/// `FILE_READ_DATA`, `GENERIC_READ`, `GENERIC_ALL` and `MAXIMUM_ALLOWED`: rights that
/// include reading the file's content.
const READ_RIGHTS: u32 = 0x0000_0001 | 0x8000_0000 | 0x1000_0000 | 0x0200_0000;
/// The DACL of a file pcdr creates: protected, full access for the owner (`OW`, the
/// OWNER RIGHTS principal), SYSTEM and Administrators.
const OWNER_ONLY_SDDL: &str = "D:P(A;;FA;;;OW)(A;;FA;;;SY)(A;;FA;;;BA)";
/// `SDDL_REVISION_1`.
const SDDL_REVISION: u32 = 1;

/// A security descriptor Windows allocated, freed with `LocalFree`.
struct Descriptor(PSECURITY_DESCRIPTOR);

impl Drop for Descriptor {
    fn drop(&mut self) {
        // SAFETY: the descriptor was allocated by Windows with LocalAlloc and is freed once.
        unsafe { LocalFree(self.0) };
    }
}

impl Descriptor {
    /// The owner and DACL of the file at `path`.
    fn of_file(path: &Path) -> io::Result<Self> {
        let wide = wide(path.as_os_str());
        let mut descriptor = std::ptr::null_mut();
        // SAFETY: `wide` is NUL-terminated; every out-pointer is valid or NULL.
        let status = unsafe {
            GetNamedSecurityInfoW(
                wide.as_ptr(),
                SE_FILE_OBJECT,
                OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut descriptor,
            )
        };
        if status != ERROR_SUCCESS {
            return Err(io::Error::from_raw_os_error(status as i32));
        }
        Ok(Self(descriptor))
    }

    /// The descriptor an SDDL string describes.
    fn from_sddl(sddl: &str) -> io::Result<Self> {
        let wide = wide(std::ffi::OsStr::new(sddl));
        let mut descriptor = std::ptr::null_mut();
        // SAFETY: `wide` is NUL-terminated; the out-pointers are valid or NULL.
        let converted = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                wide.as_ptr(),
                SDDL_REVISION,
                &mut descriptor,
                std::ptr::null_mut(),
            )
        };
        if converted == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self(descriptor))
    }

    /// Everyone, as string SIDs, this descriptor lets read the content besides its
    /// owner, SYSTEM and Administrators; `Everyone` when it has no DACL at all.
    fn other_readers(&self) -> io::Result<Vec<String>> {
        // SAFETY: both point into this descriptor, alive for the call.
        unsafe { readers_besides_owner(self.dacl()?, self.owner()?) }
    }

    fn owner(&self) -> io::Result<*mut c_void> {
        let (mut owner, mut defaulted) = (std::ptr::null_mut(), 0);
        // SAFETY: a valid descriptor and out-pointers.
        if unsafe { GetSecurityDescriptorOwner(self.0, &mut owner, &mut defaulted) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(owner)
    }

    /// The DACL, or `None` when there is none (everyone has every right).
    fn dacl(&self) -> io::Result<Option<*mut ACL>> {
        let (mut present, mut dacl, mut defaulted) = (0, std::ptr::null_mut(), 0);
        // SAFETY: a valid descriptor and out-pointers.
        let read =
            unsafe { GetSecurityDescriptorDacl(self.0, &mut present, &mut dacl, &mut defaulted) };
        if read == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((present != 0 && !dacl.is_null()).then_some(dacl))
    }
}

/// Everyone, as string SIDs, `dacl` lets read the content besides `owner`, SYSTEM and
/// Administrators; `Everyone` when there is no DACL at all (`None`).
///
/// # Safety
///
/// `dacl` must point to a valid ACL and `owner` to a valid SID or be NULL.
unsafe fn readers_besides_owner(
    dacl: Option<*mut ACL>,
    owner: *mut c_void,
) -> io::Result<Vec<String>> {
    let Some(dacl) = dacl else {
        return Ok(vec![
            "Everyone (the file has no access control list)".into(),
        ]);
    };
    let mut readers = Vec::new();
    // SAFETY: the caller's contract.
    let count = unsafe { (*dacl).AceCount };
    for index in 0..u32::from(count) {
        let mut ace: *mut c_void = std::ptr::null_mut();
        // SAFETY: index < AceCount; `ace` is a valid out-pointer.
        if unsafe { GetAce(dacl, index, &mut ace) } == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: GetAce returned an entry, which starts with its header.
        if let Some(sid) = unsafe { reading_sid(ace) }
            // SAFETY: both SIDs point into live descriptors.
            && !unsafe { is_trusted(sid, owner) }
        {
            readers.push(sid_string(sid)?);
        }
    }
    Ok(readers)
}

/// The SID an entry lets read the file, if it is an allowing entry that applies to the
/// file itself and includes a read right.
///
/// # Safety
///
/// `ace` must point to a valid access control entry.
unsafe fn reading_sid(ace: *mut c_void) -> Option<*mut c_void> {
    // SAFETY: every entry starts with an ACE_HEADER.
    let header = unsafe { &*ace.cast::<ACE_HEADER>() };
    if !ALLOWING_ACE_TYPES.contains(&header.AceType) || header.AceFlags & INHERIT_ONLY_ACE != 0 {
        return None;
    }
    // SAFETY: an allowing entry is the header, then its access mask, then (for the basic
    // and callback kinds) the SID; the object kind puts flags and GUIDs first, and is
    // read conservatively as granting to whoever its mask names.
    let mask = unsafe {
        ace.cast::<u8>()
            .add(size_of::<ACE_HEADER>())
            .cast::<u32>()
            .read_unaligned()
    };
    if mask & READ_RIGHTS == 0 {
        return None;
    }
    // SAFETY: the SID follows the mask in ACCESS_ALLOWED_ACE.
    Some(unsafe { ace.cast::<u8>().add(size_of::<ACE_HEADER>() + 4).cast() })
}

/// Whether `sid` is the file's owner (itself, or the OWNER RIGHTS principal), SYSTEM or
/// Administrators.
///
/// # Safety
///
/// Both must point to valid SIDs (`owner` may be NULL).
unsafe fn is_trusted(sid: *mut c_void, owner: *mut c_void) -> bool {
    // SAFETY: the caller's contract.
    unsafe {
        (!owner.is_null() && EqualSid(sid, owner) != 0)
            || IsWellKnownSid(sid, WinCreatorOwnerRightsSid) != 0
            || IsWellKnownSid(sid, WinLocalSystemSid) != 0
            || IsWellKnownSid(sid, WinBuiltinAdministratorsSid) != 0
    }
}

/// `S-1-5-32-545` for a SID.
fn sid_string(sid: *mut c_void) -> io::Result<String> {
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: a valid SID and out-pointer; the string is freed below.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: Windows wrote a NUL-terminated wide string.
    let length = (0..).take_while(|&i| unsafe { *text.add(i) } != 0).count();
    // SAFETY: `length` characters were just read.
    let string = String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(text, length) });
    // SAFETY: allocated by ConvertSidToStringSidW with LocalAlloc.
    unsafe { LocalFree(text.cast()) };
    Ok(string)
}

fn wide(text: &std::ffi::OsStr) -> Vec<u16> {
    text.encode_wide().chain(std::iter::once(0)).collect()
}

/// Refuses the file at `path` when anyone but its owner, SYSTEM and Administrators may
/// read it, naming them (as SIDs) in the error.
pub fn check_private(path: &Path) -> io::Result<()> {
    refuse_readers(path, &Descriptor::of_file(path)?)
}

fn refuse_readers(path: &Path, descriptor: &Descriptor) -> io::Result<()> {
    let readers = descriptor.other_readers()?;
    if readers.is_empty() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "{} can be read by {} besides its owner, SYSTEM and Administrators; remove \
             those entries (icacls \"{}\" /inheritance:r /grant:r \"%USERNAME%:R\" \
             /grant SYSTEM:R /grant Administrators:R)",
            path.display(),
            readers.join(", "),
            path.display()
        ),
    ))
}

/// Replaces the DACL of `file` with one granting its owner, SYSTEM and Administrators
/// only, inheriting nothing from its folder.
pub fn set_owner_only(file: &File) -> io::Result<()> {
    set_dacl(file, OWNER_ONLY_SDDL)
}

/// Replaces the DACL of `file` (opened with `WRITE_DAC`) with the one `sddl` describes.
fn set_dacl(file: &File, sddl: &str) -> io::Result<()> {
    let descriptor = Descriptor::from_sddl(sddl)?;
    let dacl = descriptor
        .dacl()?
        .ok_or_else(|| io::Error::other("the owner-only descriptor has no DACL"))?;
    // SAFETY: a handle owned by `file`, and a DACL alive as long as `descriptor`.
    let status = unsafe {
        SetSecurityInfo(
            file.as_raw_handle(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            dacl,
            std::ptr::null(),
        )
    };
    if status != ERROR_SUCCESS {
        return Err(io::Error::from_raw_os_error(status as i32));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An owner that is nobody well known.
    const OWNER: &str = "O:S-1-5-21-1-2-3-1001";

    fn readers(sddl: &str) -> Vec<String> {
        Descriptor::from_sddl(sddl)
            .unwrap()
            .other_readers()
            .unwrap()
    }

    #[test]
    fn the_owner_system_and_administrators_may_read() {
        let dacl = "D:P(A;;FA;;;S-1-5-21-1-2-3-1001)(A;;FA;;;SY)(A;;FR;;;BA)";
        assert!(readers(&format!("{OWNER}{dacl}")).is_empty());
    }

    #[test]
    fn users_or_everyone_reading_are_named() {
        let dacl = "D:(A;;FA;;;S-1-5-21-1-2-3-1001)(A;;FR;;;BU)(A;;GR;;;WD)";
        assert_eq!(
            readers(&format!("{OWNER}{dacl}")),
            ["S-1-5-32-545", "S-1-1-0"]
        );
    }

    #[test]
    fn a_file_without_a_dacl_is_readable_by_everyone() {
        // SAFETY: no DACL, no owner.
        let found = unsafe { readers_besides_owner(None, std::ptr::null_mut()) }.unwrap();
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("Everyone"), "{found:?}");
    }

    #[test]
    fn entries_that_grant_no_read_or_only_pass_on_to_children_do_not_count() {
        // Write-only for Users; read for Everyone but inherit-only; a deny entry.
        let dacl = "D:(A;;FW;;;BU)(A;OICIIO;FR;;;WD)(D;;FA;;;AN)";
        assert!(readers(&format!("{OWNER}{dacl}")).is_empty());
    }

    #[test]
    fn a_file_others_could_read_is_refused_until_pcdr_makes_it_owner_only() {
        use std::os::windows::fs::OpenOptionsExt;
        if running_under_wine() {
            eprintln!(
                "skipped: wine derives a file's DACL from its Unix mode and does not keep \
                 the DACL SetSecurityInfo sets; this test needs Windows"
            );
            return;
        }
        use windows_sys::Win32::Storage::FileSystem::{FILE_GENERIC_WRITE, WRITE_DAC};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("password.txt");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .access_mode(FILE_GENERIC_WRITE | WRITE_DAC)
            .open(&path)
            .unwrap();
        set_dacl(&file, "D:P(A;;FA;;;OW)(A;;FR;;;BU)").unwrap();
        drop(file);
        let refused = check_private(&path).unwrap_err();
        assert!(refused.to_string().contains("S-1-5-32-545"), "{refused}");
        drop(crate::private_file::create(&path).unwrap());
        check_private(&path).unwrap();
    }

    /// Wine, which the Windows lane runs the tests under, installs its own `winecfg.exe`
    /// in the system folder; Windows has none.
    fn running_under_wine() -> bool {
        crate::system_folder::system_program("winecfg.exe").is_some_and(|path| path.exists())
    }
}
