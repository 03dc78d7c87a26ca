//! `pcdr_options`: how a runbook runs, as a plain C struct read once when the runbook is
//! created, and `pcdr_options_init`, which fills it. The struct starts with its own
//! size, so a program built against another version's header is refused instead of
//! misread.

use crate::error::call;
use crate::failure::Failure;
use crate::ffi::{try_optional_str, try_out};
use crate::result::pcdr_result;
use pcdr_core::embed::Options;
use pcdr_core::procedure::RunOptions;
use pcdr_core::topology::SiteRole;
use std::ffi::c_char;
use std::path::PathBuf;

/// How a runbook runs. Fill it with `pcdr_options_init` (the defaults: a new journal in
/// the system's temporary folder, a real run, no data loss accepted, the primary site
/// must be down, and a switchover moves the pool to the site its state does not point
/// at), then set what you need.
///
/// Layout (C, in this order): a `uint32_t` size, three pointers, then five `uint8_t`
/// flags where 0 means no and any other value means yes. The library copies everything
/// it needs when the runbook is created; the struct and its strings can be freed right
/// after.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct pcdr_options {
    /// `sizeof(pcdr_options)` in the header the program was built with, written by
    /// `pcdr_options_init`. A size this library does not know is refused with
    /// `PCDR_RESULT_UNKNOWN_OPTIONS_SIZE` rather than misread.
    pub struct_size: u32,
    /// The journal file (a UTF-8 path), or NULL for a new file in the system's
    /// temporary folder. Give one to resume a run or read its report later.
    pub journal: *const c_char,
    /// The journal of the completed failover a failback follows (a UTF-8 path), or NULL
    /// for none: the failback sets log shipping up again with the settings the failover
    /// recorded in it, and refuses a journal of another deployment. Without one it uses
    /// the topology's values and says so in a warning. Other procedures ignore it.
    pub failover_journal: *const c_char,
    /// The site a switchover moves the pool to: `"primary"`, `"backup"`, or NULL for the
    /// site the pool's state does not point at. Naming the site it points at returns the
    /// pool there after a switchover that stopped before its recovery. Any other text is
    /// refused with `PCDR_RESULT_INVALID_ARGUMENT`. Other procedures ignore it.
    pub switch_to: *const c_char,
    /// Observe and plan only: run, resume and run_step make no change.
    pub dry_run: u8,
    /// Recover past a gap in the log chain, losing the missing transactions.
    pub accept_data_loss: u8,
    /// Fail over even though the primary site still answers.
    pub allow_primary_reachable: u8,
    /// Copy every log backup before restoring any, instead of restoring each one that
    /// is next in the chain while later ones are still being copied.
    pub sequential_restore: u8,
    /// Resume a journal whose run started more than 24 hours ago. What an old journal
    /// records may no longer be true, so such a resume is refused unless this is set.
    pub resume_stale: u8,
}

/// The size of this version's `pcdr_options`, the one size it reads.
const STRUCT_SIZE: u32 = size_of::<pcdr_options>() as u32;

/// The defaults, as `pcdr_options_init` writes them.
fn defaults() -> pcdr_options {
    pcdr_options {
        struct_size: STRUCT_SIZE,
        journal: std::ptr::null(),
        failover_journal: std::ptr::null(),
        switch_to: std::ptr::null(),
        dry_run: 0,
        accept_data_loss: 0,
        allow_primary_reachable: 0,
        sequential_restore: 0,
        resume_stale: 0,
    }
}

/// Fills `*out` with the default options and its `struct_size`. Call it before setting
/// any field:
///
/// ```c
/// pcdr_options opts;
/// pcdr_options_init(&opts);
/// opts.journal = "failover.journal";
/// ```
///
/// Returns `PCDR_RESULT_NULL_PARAMETER` when `out` is NULL.
///
/// # Safety
///
/// `out` must be NULL or valid for writing a `pcdr_options`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcdr_options_init(out: *mut pcdr_options) -> pcdr_result {
    call(|| {
        // SAFETY: the caller's contract covers the pointer.
        unsafe { try_out(out, "out") }?.set(defaults());
        Ok(())
    })
}

/// Refuses a `struct_size` other than this version's.
fn check_size(struct_size: u32) -> Result<(), Failure> {
    if struct_size == STRUCT_SIZE {
        return Ok(());
    }
    Err(Failure::new(
        pcdr_result::UnknownOptionsSize,
        format!(
            "options.struct_size is {struct_size}, but this library's pcdr_options is \
             {STRUCT_SIZE} bytes: fill the struct with pcdr_options_init before setting its \
             fields, and build against the pcdr.h of the library you load"
        ),
    ))
}

/// The options `ptr` points to; NULL gives the defaults.
///
/// # Safety
///
/// `ptr` must be NULL or point to a valid `pcdr_options` whose `journal`,
/// `failover_journal` and `switch_to` are NULL or NUL-terminated strings, all living
/// for this call.
pub(crate) unsafe fn read(ptr: *const pcdr_options) -> Result<Options, Failure> {
    if ptr.is_null() {
        return Ok(Options::default());
    }
    // SAFETY: not NULL, and every version of the struct starts with its size, so this
    // reads nothing past a struct of another size.
    check_size(unsafe { ptr.cast::<u32>().read() })?;
    // SAFETY: the caller promises a valid struct, and it has this version's size.
    let raw = unsafe { &*ptr };
    // SAFETY: the caller promises `journal` is NULL or a NUL-terminated string.
    let journal = unsafe { try_optional_str(raw.journal, "options.journal") }?;
    // SAFETY: the same promise for `failover_journal`.
    let failover_journal =
        unsafe { try_optional_str(raw.failover_journal, "options.failover_journal") }?;
    // SAFETY: the same promise for `switch_to`.
    let switch_to = unsafe { try_optional_str(raw.switch_to, "options.switch_to") }?;
    Ok(Options {
        journal: journal.map(PathBuf::from),
        dry_run: raw.dry_run != 0,
        decisions: RunOptions {
            accept_data_loss: raw.accept_data_loss != 0,
            allow_primary_reachable: raw.allow_primary_reachable != 0,
            sequential_restore: raw.sequential_restore != 0,
            resume_stale: raw.resume_stale != 0,
            failover_journal: failover_journal.map(PathBuf::from),
            switch_to: switch_to.map(site).transpose()?,
        },
    })
}

/// The site `switch_to` names: `primary` or `backup`, as pcdr-core spells them.
fn site(text: &str) -> Result<SiteRole, Failure> {
    [SiteRole::Primary, SiteRole::Backup]
        .into_iter()
        .find(|role| role.to_string() == text)
        .ok_or_else(|| {
            Failure::new(
                pcdr_result::InvalidArgument,
                format!("options.switch_to is {text:?}; use \"primary\", \"backup\" or NULL"),
            )
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
    fn init_writes_the_defaults_and_the_size() {
        let mut raw = pcdr_options {
            struct_size: 0,
            journal: c"/tmp/j".as_ptr(),
            failover_journal: c"/tmp/f".as_ptr(),
            switch_to: c"backup".as_ptr(),
            dry_run: 1,
            accept_data_loss: 1,
            allow_primary_reachable: 1,
            sequential_restore: 1,
            resume_stale: 1,
        };
        // SAFETY: a struct valid for writing.
        assert_eq!(unsafe { pcdr_options_init(&mut raw) }, pcdr_result::Ok);
        assert_eq!(raw.struct_size as usize, size_of::<pcdr_options>());
        // SAFETY: a struct just filled by pcdr_options_init.
        assert_eq!(unsafe { read(&raw) }.unwrap(), Options::default());
        // SAFETY: NULL is refused, not written.
        let null = unsafe { pcdr_options_init(std::ptr::null_mut()) };
        assert_eq!(null, pcdr_result::NullParameter);
    }

    #[test]
    fn a_struct_of_another_size_is_refused() {
        for struct_size in [0, STRUCT_SIZE - 8, STRUCT_SIZE + 8] {
            let raw = pcdr_options {
                struct_size,
                ..defaults()
            };
            // SAFETY: a valid struct (of this version, whatever its size field says).
            let failure = unsafe { read(&raw) }.unwrap_err();
            assert_eq!(failure.code(), pcdr_result::UnknownOptionsSize);
            assert!(failure.message().contains("pcdr_options_init"));
        }
    }

    #[test]
    fn any_nonzero_flag_is_yes() {
        let raw = pcdr_options {
            struct_size: STRUCT_SIZE,
            journal: c"/tmp/j".as_ptr(),
            failover_journal: c"/tmp/f".as_ptr(),
            switch_to: c"primary".as_ptr(),
            dry_run: 2,
            accept_data_loss: 0,
            allow_primary_reachable: 1,
            sequential_restore: 3,
            resume_stale: 4,
        };
        // SAFETY: a valid struct with a NUL-terminated journal path.
        let options = unsafe { read(&raw) }.unwrap();
        assert_eq!(options.journal, Some(PathBuf::from("/tmp/j")));
        assert!(options.dry_run);
        assert!(!options.decisions.accept_data_loss);
        assert!(options.decisions.allow_primary_reachable);
        assert!(options.decisions.sequential_restore);
        assert!(options.decisions.resume_stale);
        assert_eq!(
            options.decisions.failover_journal,
            Some(PathBuf::from("/tmp/f"))
        );
        assert_eq!(options.decisions.switch_to, Some(SiteRole::Primary));
    }

    #[test]
    fn switch_to_names_either_site() {
        for (text, role) in [
            (c"primary", SiteRole::Primary),
            (c"backup", SiteRole::Backup),
        ] {
            let raw = pcdr_options {
                switch_to: text.as_ptr(),
                ..defaults()
            };
            // SAFETY: a valid struct with a NUL-terminated switch_to.
            let options = unsafe { read(&raw) }.unwrap();
            assert_eq!(options.decisions.switch_to, Some(role));
        }
    }

    #[test]
    fn a_switch_to_that_names_no_site_is_refused_naming_the_field() {
        for text in [c"sideways", c"Primary", c""] {
            let raw = pcdr_options {
                switch_to: text.as_ptr(),
                ..defaults()
            };
            // SAFETY: a valid struct with a NUL-terminated switch_to.
            let failure = unsafe { read(&raw) }.unwrap_err();
            assert_eq!(failure.code(), pcdr_result::InvalidArgument);
            assert!(
                failure.message().starts_with("options.switch_to"),
                "{}",
                failure.message()
            );
            assert!(
                failure.message().contains("\"backup\""),
                "{}",
                failure.message()
            );
        }
        let raw = pcdr_options {
            switch_to: c"back\xffup".as_ptr(),
            ..defaults()
        };
        // SAFETY: a valid struct with a NUL-terminated switch_to.
        let failure = unsafe { read(&raw) }.unwrap_err();
        assert_eq!(failure.code(), pcdr_result::InvalidUtf8);
        assert!(failure.message().starts_with("options.switch_to"));
    }

    #[test]
    fn a_journal_path_that_is_not_utf8_is_refused() {
        let raw = pcdr_options {
            journal: c"/tmp/\xff".as_ptr(),
            ..defaults()
        };
        // SAFETY: a valid struct with a NUL-terminated journal path.
        let failure = unsafe { read(&raw) }.unwrap_err();
        assert_eq!(failure.code(), pcdr_result::InvalidUtf8);
        assert!(failure.message().starts_with("options.journal"));
    }
}
