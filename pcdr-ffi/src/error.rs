//! The calling thread's last error: every function that returns a [`pcdr_result`]
//! records its failure here (or clears it on success), and `pcdr_error_message`,
//! `pcdr_error_sql_number`, `pcdr_error_step` and `pcdr_error_precondition` read it back. The accessors leave it
//! as it is, so they can be called in any order, any number of times.

use crate::failure::Failure;
use crate::ffi::copy_to_buffer;
use crate::panic;
use crate::result::pcdr_result;
use pcdr_core::PreconditionKind;
use pcdr_core::procedure::StepId;
use std::cell::RefCell;
use std::ffi::c_char;

thread_local! {
    static LAST: RefCell<Option<Failure>> = const { RefCell::new(None) };
}

/// Runs the body of an exported function: panic boundary, then the outcome is recorded
/// as this thread's last error and returned as a code.
pub(crate) fn call(body: impl FnOnce() -> Result<(), Failure>) -> pcdr_result {
    let outcome = panic::boundary(body);
    let code = code_of(&outcome);
    // Fails only while the thread's locals are being destroyed: the error is then lost.
    let _ = LAST.try_with(|last| *last.borrow_mut() = outcome.err());
    code
}

/// The code of an outcome, recording nothing (for the accessors of the last error).
fn code_of(outcome: &Result<(), Failure>) -> pcdr_result {
    outcome
        .as_ref()
        .err()
        .map_or(pcdr_result::Ok, Failure::code)
}

/// Reads the last error (none while the thread's locals are being destroyed).
fn with_last<T: Default>(read: impl FnOnce(Option<&Failure>) -> T) -> T {
    LAST.try_with(|last| read(last.borrow().as_ref()))
        .unwrap_or_default()
}

/// Copies the text of this thread's last error into `buf` as a NUL-terminated UTF-8
/// string. After a successful call the text is empty.
///
/// Returns `PCDR_RESULT_OK` when it fit; `PCDR_RESULT_BUFFER_TOO_SMALL` when `len` is
/// less than the size needed, with `buf` untouched; `PCDR_RESULT_NULL_PARAMETER` when
/// `needed` is NULL, or `buf` is NULL while `len` is not 0. In the first two cases
/// `*needed` is set to the size needed, NUL included (the one exception to "out-
/// parameters are written only on success", so a caller can size a buffer with a
/// first call passing `buf = NULL, len = 0`). Does not change the last error.
///
/// # Safety
///
/// `buf` must be NULL or valid for writing `len` bytes; `needed` must be NULL or
/// valid for writing a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcdr_error_message(
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> pcdr_result {
    code_of(&panic::boundary(|| {
        let text = with_last(|last| last.map(|f| f.message().to_owned()).unwrap_or_default());
        // SAFETY: the caller's contract on `buf`, `len` and `needed` is copy_to_buffer's.
        unsafe { copy_to_buffer(&text, buf, len, needed) }
    }))
}

/// The SQL Server error number behind this thread's last error (e.g. 4305), or 0 when
/// SQL Server did not report it.
#[unsafe(no_mangle)]
pub extern "C" fn pcdr_error_sql_number() -> u32 {
    panic::or_fallback(0, || {
        with_last(|last| last.and_then(Failure::sql_number)).unwrap_or(0)
    })
}

/// Copies the id of the step this thread's last error happened in (`check_sites`) into
/// `buf`, or an empty string when it happened in no step. Same buffer rules and results
/// as `pcdr_error_message`.
///
/// # Safety
///
/// As for `pcdr_error_message`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcdr_error_step(
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> pcdr_result {
    // SAFETY: the caller's contract is copy_name's.
    unsafe { copy_name(|f| f.step().map(StepId::as_str), buf, len, needed) }
}

/// Copies why a precondition refused the step of this thread's last error
/// (`primary_reachable`, `pool_state`, `database_state`, `earlier_step`, `topology`,
/// `world_changed`, `run_in_progress`) into `buf`, or an empty string when the last error is not
/// `PCDR_RESULT_PRECONDITION`. A program branches on this name, never on the message's
/// text. Same buffer rules and results as `pcdr_error_message`.
///
/// # Safety
///
/// As for `pcdr_error_message`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcdr_error_precondition(
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> pcdr_result {
    // SAFETY: the caller's contract is copy_name's.
    unsafe {
        copy_name(
            |f| f.precondition().map(PreconditionKind::as_str),
            buf,
            len,
            needed,
        )
    }
}

/// Copies a name the last error carries (or an empty string) into `buf`, with
/// `pcdr_error_message`'s buffer rules.
///
/// # Safety
///
/// As for `pcdr_error_message`.
unsafe fn copy_name(
    name: impl FnOnce(&Failure) -> Option<&'static str>,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> pcdr_result {
    code_of(&panic::boundary(|| {
        let text = with_last(|last| last.and_then(name)).unwrap_or("");
        // SAFETY: the caller's contract on `buf`, `len` and `needed` is copy_to_buffer's.
        unsafe { copy_to_buffer(text, buf, len, needed) }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcdr_core::Error;
    use pcdr_core::PlaneError;
    use pcdr_core::procedure::failover;

    fn fail_with(error: Error) -> pcdr_result {
        call(|| Err(error.into()))
    }

    fn message() -> (pcdr_result, String) {
        let mut buf = [0 as c_char; 512];
        let mut needed = 0;
        // SAFETY: buf holds 512 bytes; needed is a valid usize.
        let code = unsafe { pcdr_error_message(buf.as_mut_ptr(), buf.len(), &mut needed) };
        let bytes: Vec<u8> = buf[..needed.saturating_sub(1)]
            .iter()
            .map(|&c| c as u8)
            .collect();
        (code, String::from_utf8(bytes).unwrap())
    }

    #[test]
    fn a_failure_is_kept_with_its_sql_number_and_step_until_the_next_call() {
        let error = Error::step(
            failover::RECOVER_DATABASE,
            "sql-dal",
            Some("mgc"),
            None,
            PlaneError::sql(3101, 16, "in use"),
        );
        assert_eq!(fail_with(error), pcdr_result::StepSqlServer);
        assert_eq!(pcdr_error_sql_number(), 3101);
        let (code, text) = message();
        assert_eq!(code, pcdr_result::Ok);
        assert!(
            text.contains("recover_database failed on sql-dal"),
            "{text}"
        );
        assert_eq!(call(|| Ok(())), pcdr_result::Ok);
        assert_eq!(message(), (pcdr_result::Ok, String::new()));
        assert_eq!(pcdr_error_sql_number(), 0);
    }

    #[test]
    fn the_step_accessor_names_the_step() {
        fail_with(Error::Cancelled {
            step: Some(failover::COPY_LOG_BACKUPS),
        });
        let mut buf = [0 as c_char; 32];
        let mut needed = 0;
        // SAFETY: buf holds 32 bytes; needed is a valid usize.
        let code = unsafe { pcdr_error_step(buf.as_mut_ptr(), buf.len(), &mut needed) };
        assert_eq!(code, pcdr_result::Ok);
        assert_eq!(needed, "copy_log_backups".len() + 1);
    }

    #[test]
    fn the_precondition_accessor_names_why_a_step_refused() {
        let copy = || {
            let mut buf = [0 as c_char; 32];
            let mut needed = 0;
            // SAFETY: buf holds 32 bytes; needed is a valid usize.
            let code = unsafe { pcdr_error_precondition(buf.as_mut_ptr(), buf.len(), &mut needed) };
            assert_eq!(code, pcdr_result::Ok);
            let bytes: Vec<u8> = buf[..needed - 1].iter().map(|&c| c as u8).collect();
            String::from_utf8(bytes).unwrap()
        };
        let refused = Error::Precondition {
            step: failover::CHECK_SITES,
            kind: PreconditionKind::PrimaryReachable,
            message: "the primary answers".into(),
            next: "make sure it is down".into(),
        };
        assert_eq!(fail_with(refused), pcdr_result::Precondition);
        assert_eq!(copy(), "primary_reachable");
        fail_with(Error::Cancelled { step: None });
        assert_eq!(copy(), "");
    }

    #[test]
    fn a_panic_is_recorded_as_the_last_error() {
        assert_eq!(call(|| panic!("boom")), pcdr_result::Panic);
        assert!(message().1.contains("boom"));
    }
}
