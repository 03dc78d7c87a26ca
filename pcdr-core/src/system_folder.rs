//! Where Windows keeps its own programs: pcdr starts `powershell.exe` and `taskkill.exe`
//! by their absolute paths in the system folder (`C:\Windows\System32` on most hosts,
//! as `GetSystemDirectoryW` reports it), so that a program of the same name earlier on
//! the `PATH`, or planted in a folder Windows searches first, is never run instead.
//!
//! Page: <https://learn.microsoft.com/windows/win32/api/sysinfoapi/nf-sysinfoapi-getsystemdirectoryw>.

use std::path::PathBuf;

/// `relative` inside the system folder, e.g.
/// `system_program(r"WindowsPowerShell\v1.0\powershell.exe")`; `None` off Windows,
/// where there is no system folder.
#[cfg(windows)]
pub fn system_program(relative: &str) -> Option<PathBuf> {
    use std::os::windows::ffi::OsStringExt;
    use windows_sys::Win32::System::SystemInformation::GetSystemDirectoryW;
    let mut buffer = [0u16; 260];
    // SAFETY: the buffer holds `buffer.len()` characters.
    let length = unsafe { GetSystemDirectoryW(buffer.as_mut_ptr(), buffer.len() as u32) };
    let length = usize::try_from(length)
        .ok()
        .filter(|&l| l > 0 && l < buffer.len())?;
    let folder = PathBuf::from(std::ffi::OsString::from_wide(&buffer[..length]));
    Some(folder.join(relative))
}

/// `relative` inside the system folder; `None` off Windows, where there is no system
/// folder.
#[cfg(not(windows))]
pub fn system_program(_relative: &str) -> Option<PathBuf> {
    None
}

#[cfg(all(test, windows))]
mod tests {
    use super::*;

    #[test]
    fn powershell_is_found_in_the_system_folder() {
        let path = system_program(r"WindowsPowerShell\v1.0\powershell.exe").unwrap();
        assert!(path.is_absolute(), "{}", path.display());
        assert!(path.parent().unwrap().ends_with(r"WindowsPowerShell\v1.0"));
    }
}
