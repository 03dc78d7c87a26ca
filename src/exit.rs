//! Exit codes, one per kind of outcome a script may want to branch on:
//! 0 done, 1 the procedure failed, 2 usage or topology error, 3 a precondition refused
//! the run, 4 interrupted and resumable.

use pcdr_core::Error;
use std::process::ExitCode;

/// Everything went as asked.
pub const SUCCESS: u8 = 0;
/// A step failed (or a check of `sim verify` or `drill`); the journal can be resumed once
/// the cause is fixed.
pub const FAILED: u8 = 1;
/// Usage error: bad arguments (clap's own code), a bad topology file, or a journal that
/// does not fit the command (nothing to resume, a completed or other procedure's run).
pub const USAGE: u8 = 2;
/// A precondition refused the run (a check failed, a gap in the log chain, no
/// confirmation, the plan is blocked, the journal is locked by another run); nothing was
/// changed since the last step reported.
pub const REFUSED: u8 = 3;
/// Interrupted (Ctrl-C); the journal can be resumed.
pub const INTERRUPTED: u8 = 4;

/// The exit code for an error of pcdr-core.
pub fn for_error(error: &Error) -> u8 {
    match error {
        Error::Topology(_) | Error::Journal { .. } | Error::UnknownStep { .. } => USAGE,
        Error::Precondition { .. }
        | Error::DataLossRefused { .. }
        | Error::BadLogBackup { .. }
        | Error::JournalLocked { .. } => REFUSED,
        Error::Cancelled { .. } => INTERRUPTED,
        _ => FAILED,
    }
}

/// Prints the error and returns its exit code.
pub fn report(error: &Error) -> ExitCode {
    eprintln!("pcdr: {error}");
    ExitCode::from(for_error(error))
}
