//! Exit codes, one per kind of outcome a script may want to branch on.

use pcdr_core::Error;
use std::process::ExitCode;

/// Everything went as asked.
pub const SUCCESS: u8 = 0;
/// A step failed; the journal can be resumed once the cause is fixed.
pub const FAILED: u8 = 1;
/// The procedure refused to run (a check failed, a gap in the log chain, the plan is
/// blocked) and changed nothing since the last step it reported.
pub const REFUSED: u8 = 2;
/// Bad input: the topology file or the arguments.
pub const BAD_INPUT: u8 = 3;
/// The journal is in use by another run, or cannot be used.
pub const JOURNAL: u8 = 4;
/// Interrupted (Ctrl-C); the journal can be resumed.
pub const INTERRUPTED: u8 = 5;

/// The exit code for an error of pcdr-core.
pub fn for_error(error: &Error) -> u8 {
    match error {
        Error::Topology(_) => BAD_INPUT,
        Error::Precondition { .. } | Error::DataLossRefused { .. } | Error::BadLogBackup { .. } => {
            REFUSED
        }
        Error::Journal { .. } | Error::JournalLocked { .. } => JOURNAL,
        Error::Cancelled { .. } => INTERRUPTED,
        _ => FAILED,
    }
}

/// Prints the error and returns its exit code.
pub fn report(error: &Error) -> ExitCode {
    eprintln!("pcdr: {error}");
    ExitCode::from(for_error(error))
}
