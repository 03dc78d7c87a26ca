//! `pcdr_options`: how a runbook runs, as a plain C struct read once when the runbook is
//! created.

use crate::error::Failure;
use crate::ffi::try_optional_str;
use pcdr_core::embed::Options;
use pcdr_core::procedure::RunOptions;
use std::ffi::c_char;
use std::path::PathBuf;

/// How a runbook runs. Zero-initialise it (`pcdr_options opts = {0};`), then set what
/// you need; all zero is the default: a new journal in the system's temporary folder,
/// a real run, no data loss accepted, and the primary site must be down.
///
/// Layout (C, in this order): a pointer, then four `uint8_t` flags where 0 means no
/// and any other value means yes. The library copies everything it needs when the
/// runbook is created; the struct and its string can be freed right after.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct pcdr_options {
    /// The journal file (a UTF-8 path), or NULL for a new file in the system's
    /// temporary folder. Give one to resume a run or read its report later.
    pub journal: *const c_char,
    /// Observe and plan only: run, resume and run_step make no change.
    pub dry_run: u8,
    /// Recover past a gap in the log chain, losing the missing transactions.
    pub accept_data_loss: u8,
    /// Fail over even though the primary site still answers.
    pub allow_primary_reachable: u8,
    /// Copy every log backup before restoring any, instead of restoring each one that
    /// is next in the chain while later ones are still being copied.
    pub sequential_restore: u8,
}

/// The options `ptr` points to; NULL gives the defaults.
///
/// # Safety
///
/// `ptr` must be NULL or point to a valid `pcdr_options` whose `journal` is NULL or a
/// NUL-terminated string, both living for this call.
pub(crate) unsafe fn read(ptr: *const pcdr_options) -> Result<Options, Failure> {
    // SAFETY: the caller promises NULL or a valid struct.
    let Some(raw) = (unsafe { ptr.as_ref() }) else {
        return Ok(Options::default());
    };
    // SAFETY: the caller promises `journal` is NULL or a NUL-terminated string.
    let journal = unsafe { try_optional_str(raw.journal, "options.journal") }?;
    Ok(Options {
        journal: journal.map(PathBuf::from),
        dry_run: raw.dry_run != 0,
        decisions: RunOptions {
            accept_data_loss: raw.accept_data_loss != 0,
            allow_primary_reachable: raw.allow_primary_reachable != 0,
            sequential_restore: raw.sequential_restore != 0,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::pcdr_result;

    #[test]
    fn null_options_are_the_defaults() {
        // SAFETY: NULL is allowed.
        assert_eq!(
            unsafe { read(std::ptr::null()) }.unwrap(),
            Options::default()
        );
    }

    #[test]
    fn any_nonzero_flag_is_yes() {
        let raw = pcdr_options {
            journal: c"/tmp/j".as_ptr(),
            dry_run: 2,
            accept_data_loss: 0,
            allow_primary_reachable: 1,
            sequential_restore: 3,
        };
        // SAFETY: a valid struct with a NUL-terminated journal path.
        let options = unsafe { read(&raw) }.unwrap();
        assert_eq!(options.journal, Some(PathBuf::from("/tmp/j")));
        assert!(options.dry_run);
        assert!(!options.decisions.accept_data_loss);
        assert!(options.decisions.allow_primary_reachable);
        assert!(options.decisions.sequential_restore);
    }

    #[test]
    fn a_journal_path_that_is_not_utf8_is_refused() {
        let raw = pcdr_options {
            journal: c"/tmp/\xff".as_ptr(),
            dry_run: 0,
            accept_data_loss: 0,
            allow_primary_reachable: 0,
            sequential_restore: 0,
        };
        // SAFETY: a valid struct with a NUL-terminated journal path.
        let failure = unsafe { read(&raw) }.unwrap_err();
        assert_eq!(failure.code(), pcdr_result::InvalidUtf8);
        assert!(failure.message().starts_with("options.journal"));
    }
}
