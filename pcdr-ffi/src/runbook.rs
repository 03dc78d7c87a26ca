//! `pcdr_runbook`: one deployment's runbook, created from a topology and options, that
//! plans, runs, resumes, runs single steps, reports and cancels. Every result is JSON.
//!
//! Functions take the runbook by shared access, so `pcdr_runbook_cancel` (and even
//! `pcdr_runbook_free`) may be called from another thread while a run is in progress.

use crate::error::call;
use crate::failure::Failure;
use crate::ffi::{try_optional_str, try_out, try_str};
use crate::handle::Handles;
use crate::options::{self, pcdr_options};
use crate::progress::{Progress, pcdr_progress_callback};
use crate::result::pcdr_result;
use crate::runtime::block_on;
use crate::{panic, string};
use pcdr_core::embed::Embedded;
use pcdr_core::procedure::Procedure;
use std::ffi::{c_char, c_void};
use std::path::Path;
use std::ptr;
use std::sync::Arc;

/// A runbook: the topology of one Persistent Chat deployment with the options it runs
/// with. Opaque; create it with `pcdr_runbook_new_from_file` or
/// `pcdr_runbook_new_from_toml` and free it with `pcdr_runbook_free`.
///
/// A runbook may be used from several threads at once, but runs one procedure at a
/// time: its journal is locked while a run writes it (`PCDR_RESULT_JOURNAL_LOCKED`).
#[allow(non_camel_case_types)]
pub struct pcdr_runbook {
    _private: [u8; 0],
}

struct Runbook {
    embedded: Embedded,
    progress: Arc<Progress>,
}

static RUNBOOKS: Handles<Runbook> = Handles::new();

/// The runbook behind a handle: NULL and unknown (freed) handles fail.
fn runbook(handle: *const pcdr_runbook) -> Result<Arc<Runbook>, Failure> {
    if handle.is_null() {
        return Err(Failure::null("runbook"));
    }
    RUNBOOKS.get(handle.addr()).ok_or_else(|| {
        Failure::new(
            pcdr_result::InvalidHandle,
            "runbook is not a live runbook (already freed, or not from this library)",
        )
    })
}

/// Registers `embedded` and returns its handle. The handle is a number that is never
/// dereferenced, so it carries no provenance.
fn register(mut embedded: Embedded) -> *mut pcdr_runbook {
    let progress = Arc::new(Progress::default());
    embedded.set_observer(Arc::clone(&progress) as _);
    ptr::without_provenance_mut(RUNBOOKS.insert(Runbook { embedded, progress }))
}

/// The procedure named `name` (one `pcdr_procedures` lists); another name fails with a
/// message listing them.
///
/// # Safety
///
/// `name` must be NULL or a NUL-terminated string.
unsafe fn procedure(name: *const c_char) -> Result<Procedure, Failure> {
    // SAFETY: forwarded from this function's contract.
    let name = unsafe { try_str(name, "procedure") }?;
    name.parse()
        .map_err(|message: String| Failure::new(pcdr_result::UnknownProcedure, message))
}

/// Creates a runbook from a topology file. The topology is validated and the SQL
/// password resolved now; no server is contacted until a call needs it.
///
/// `path` is the topology file (UTF-8); `options` may be NULL for the defaults. On
/// success `*runbook_out` is a new runbook, to be freed with `pcdr_runbook_free`. A bad
/// topology gives `PCDR_RESULT_TOPOLOGY` and a message naming the key path; options not
/// filled by `pcdr_options_init` give `PCDR_RESULT_UNKNOWN_OPTIONS_SIZE`, and a
/// `switch_to` that names no site `PCDR_RESULT_INVALID_ARGUMENT`.
///
/// # Safety
///
/// `path` must be NULL or a NUL-terminated string; `options` NULL or a valid
/// `pcdr_options`; `runbook_out` NULL or valid for writing a pointer. The function does
/// not keep any of them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcdr_runbook_new_from_file(
    path: *const c_char,
    options: *const pcdr_options,
    runbook_out: *mut *mut pcdr_runbook,
) -> pcdr_result {
    call(|| {
        // SAFETY: the caller's contract covers the three pointers.
        let (path, options, out) = unsafe {
            (
                try_str(path, "path")?,
                options::read(options)?,
                try_out(runbook_out, "runbook_out")?,
            )
        };
        out.set(register(Embedded::load(Path::new(path), options)?));
        Ok(())
    })
}

/// Creates a runbook from topology TOML text. `base_dir` (or NULL for the current
/// folder) is where a relative `sql.password_file` is found. Otherwise as
/// `pcdr_runbook_new_from_file`.
///
/// # Safety
///
/// `toml` and `base_dir` must be NULL or NUL-terminated strings; `options` NULL or a
/// valid `pcdr_options`; `runbook_out` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcdr_runbook_new_from_toml(
    toml: *const c_char,
    base_dir: *const c_char,
    options: *const pcdr_options,
    runbook_out: *mut *mut pcdr_runbook,
) -> pcdr_result {
    call(|| {
        // SAFETY: the caller's contract covers the four pointers.
        let (toml, base_dir, options, out) = unsafe {
            (
                try_str(toml, "toml")?,
                try_optional_str(base_dir, "base_dir")?,
                options::read(options)?,
                try_out(runbook_out, "runbook_out")?,
            )
        };
        let embedded = Embedded::from_toml(toml, base_dir.map(Path::new), options)?;
        out.set(register(embedded));
        Ok(())
    })
}

/// Frees a runbook. NULL is fine, and so is a handle already freed (ignored). Freeing a
/// runbook that another thread is running is safe too: this returns at once, the run
/// goes on, and the memory is released when that run returns.
#[unsafe(no_mangle)]
pub extern "C" fn pcdr_runbook_free(runbook: *mut pcdr_runbook) {
    panic::or_fallback((), || drop(RUNBOOKS.remove(runbook.addr())));
}

/// Observes the live state and describes each step of `procedure` (a name
/// `pcdr_procedures` lists, e.g. `failover`) with the exact commands it would send.
/// Read-only. On success `*plan_json_out` is the plan as JSON, freed with
/// `pcdr_string_free`.
///
/// # Safety
///
/// `procedure` must be NULL or a NUL-terminated string; `plan_json_out` NULL or valid
/// for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcdr_runbook_plan(
    runbook: *const pcdr_runbook,
    procedure: *const c_char,
    plan_json_out: *mut *mut c_char,
) -> pcdr_result {
    call(|| {
        let runbook = self::runbook(runbook)?;
        // SAFETY: the caller's contract covers the two pointers.
        let (procedure, out) = unsafe {
            (
                self::procedure(procedure)?,
                try_out(plan_json_out, "plan_json_out")?,
            )
        };
        let plan = block_on(runbook.embedded.plan(procedure))??;
        out.set(string::json(&plan)?);
        Ok(())
    })
}

/// Runs `procedure` from its first step in a new journal (the options' journal file,
/// which must not hold a run yet). On success `*outcome_json_out` is
/// `{"kind":"completed","report":{…}}`, or with `dry_run` set
/// `{"kind":"planned","plan":{…}}`; free it with `pcdr_string_free`. On failure the
/// journal holds what was done: `pcdr_runbook_report` reads it and
/// `pcdr_runbook_resume` continues. Blocks until the run ends; progress goes to the
/// callback on this thread.
///
/// # Safety
///
/// As for `pcdr_runbook_plan`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcdr_runbook_run(
    runbook: *const pcdr_runbook,
    procedure: *const c_char,
    outcome_json_out: *mut *mut c_char,
) -> pcdr_result {
    call(|| {
        let runbook = self::runbook(runbook)?;
        // SAFETY: the caller's contract covers the two pointers.
        let (procedure, out) = unsafe {
            (
                self::procedure(procedure)?,
                try_out(outcome_json_out, "outcome_json_out")?,
            )
        };
        let outcome = block_on(runbook.embedded.run(procedure))??;
        out.set(string::json(&outcome)?);
        Ok(())
    })
}

/// Continues the run the journal holds from the first step not verified as done,
/// observing the state again before acting. Output as for `pcdr_runbook_run`.
///
/// # Safety
///
/// `outcome_json_out` must be NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcdr_runbook_resume(
    runbook: *const pcdr_runbook,
    outcome_json_out: *mut *mut c_char,
) -> pcdr_result {
    call(|| {
        let runbook = self::runbook(runbook)?;
        // SAFETY: the caller's contract covers the pointer.
        let out = unsafe { try_out(outcome_json_out, "outcome_json_out") }?;
        let outcome = block_on(runbook.embedded.resume())??;
        out.set(string::json(&outcome)?);
        Ok(())
    })
}

/// Runs one step of `procedure`, by its id (`check_sites`), journaled: it observes,
/// skips what is already done, acts and verifies. On success `*outcome_json_out` is
/// `{"outcome":"done","summary":…}` or `{"outcome":"skipped","reason":…}`. An id the
/// procedure does not have gives `PCDR_RESULT_UNKNOWN_STEP` and a message listing the
/// valid ids.
///
/// # Safety
///
/// `procedure` and `step_id` must be NULL or NUL-terminated strings;
/// `outcome_json_out` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcdr_runbook_run_step(
    runbook: *const pcdr_runbook,
    procedure: *const c_char,
    step_id: *const c_char,
    outcome_json_out: *mut *mut c_char,
) -> pcdr_result {
    call(|| {
        let runbook = self::runbook(runbook)?;
        // SAFETY: the caller's contract covers the three pointers.
        let (procedure, step_id, out) = unsafe {
            (
                self::procedure(procedure)?,
                try_str(step_id, "step_id")?,
                try_out(outcome_json_out, "outcome_json_out")?,
            )
        };
        let outcome = block_on(runbook.embedded.run_step(procedure, step_id))??;
        out.set(string::json(&outcome)?);
        Ok(())
    })
}

/// The report of the run the journal holds (steps with timings, outcomes and errors,
/// recovery time, the pool's outage and the bytes moved inside it, data-loss evidence),
/// also after a failed or cancelled run. On success
/// `*report_json_out` is the report as JSON, freed with `pcdr_string_free`.
///
/// # Safety
///
/// `report_json_out` must be NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcdr_runbook_report(
    runbook: *const pcdr_runbook,
    report_json_out: *mut *mut c_char,
) -> pcdr_result {
    call(|| {
        let runbook = self::runbook(runbook)?;
        // SAFETY: the caller's contract covers the pointer.
        let out = unsafe { try_out(report_json_out, "report_json_out") }?;
        out.set(string::json(&runbook.embedded.report()?)?);
        Ok(())
    })
}

/// Asks the run in progress on `runbook` to stop before its next step; it then returns
/// `PCDR_RESULT_CANCELLED` and the journal can be resumed. Callable from any thread
/// (and from the progress callback). A step already acting finishes first. With no run
/// in progress it has no effect: each run starts uncancelled.
#[unsafe(no_mangle)]
pub extern "C" fn pcdr_runbook_cancel(runbook: *const pcdr_runbook) -> pcdr_result {
    call(|| {
        self::runbook(runbook)?.embedded.cancel();
        Ok(())
    })
}

/// Sends progress events of later runs on `runbook` to `callback` with `user_data`
/// (NULL `callback`: to nobody). Replaces any earlier callback, also during a run. See
/// `pcdr_progress_callback` for which thread calls it and how long its string lives.
///
/// # Safety
///
/// `callback` must stay callable, and `user_data` valid for it on whichever thread runs
/// a procedure, until it is replaced, or until the runbook is freed and no run on it is
/// in progress.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pcdr_runbook_set_progress_callback(
    runbook: *const pcdr_runbook,
    callback: pcdr_progress_callback,
    user_data: *mut c_void,
) -> pcdr_result {
    call(|| {
        self::runbook(runbook)?.progress.set(callback, user_data);
        Ok(())
    })
}
