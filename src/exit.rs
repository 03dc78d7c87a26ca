//! Exit codes, one per kind of outcome a script may want to branch on:
//! 0 done, 1 the procedure failed, 2 usage or topology error, 3 a precondition refused
//! the run, 4 interrupted and resumable, 5 a plan that could not observe every step.

use pcdr_core::{Error, ErrorKind, PlaneErrorKind};
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
/// confirmation, the plan is blocked, the journal or the pool's run lock is held by
/// another run); nothing was changed since the last step reported.
pub const REFUSED: u8 = 3;
/// Interrupted (Ctrl-C); the journal can be resumed.
pub const INTERRUPTED: u8 = 4;
/// `pcdr plan` could not observe every step (an instance, the share or the shell did not
/// answer): nothing blocks what it saw, but the plan is no green light.
pub const UNOBSERVED: u8 = 5;

/// The exit code for an error of pcdr-core.
pub fn for_error(error: &Error) -> u8 {
    for_kind(error.kind())
}

/// The exit code for a kind of error. Every kind is listed: a new one does not compile
/// until it has a code.
fn for_kind(kind: ErrorKind) -> u8 {
    use PlaneErrorKind::{
        ConnectFailed, ConnectionLost, Io, Shell, Sql, Timeout, Unexpected, Unreachable,
    };
    match kind {
        ErrorKind::Topology | ErrorKind::Journal | ErrorKind::UnknownStep => USAGE,
        ErrorKind::Precondition
        | ErrorKind::DataLossRefused
        | ErrorKind::BadLogBackup
        | ErrorKind::JournalLocked => REFUSED,
        ErrorKind::Cancelled => INTERRUPTED,
        ErrorKind::Step(
            Sql | Unreachable | ConnectFailed | ConnectionLost | Io | Shell | Timeout | Unexpected,
        ) => FAILED,
    }
}

/// Prints the error and returns its exit code.
pub fn report(error: &Error) -> ExitCode {
    eprintln!("pcdr: {error}");
    ExitCode::from(for_error(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_keeps_its_documented_code() {
        let cases = [
            (ErrorKind::Topology, USAGE),
            (ErrorKind::Journal, USAGE),
            (ErrorKind::UnknownStep, USAGE),
            (ErrorKind::Precondition, REFUSED),
            (ErrorKind::DataLossRefused, REFUSED),
            (ErrorKind::BadLogBackup, REFUSED),
            (ErrorKind::JournalLocked, REFUSED),
            (ErrorKind::Cancelled, INTERRUPTED),
            (ErrorKind::Step(PlaneErrorKind::Sql), FAILED),
            (ErrorKind::Step(PlaneErrorKind::ConnectionLost), FAILED),
        ];
        for (kind, code) in cases {
            assert_eq!(for_kind(kind), code, "{kind:?}");
        }
    }
}
