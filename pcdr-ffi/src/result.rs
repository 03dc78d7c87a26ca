//! The result codes: one `#[repr(u32)]` enum whose codes are stable and grouped in
//! ranges by where the error comes from, and the one mapping from pcdr-core's
//! [`ErrorKind`] to them. A code is never reused: a retired one stays listed in the
//! enum's documentation.

use pcdr_core::{ErrorKind, PlaneErrorKind};

/// What a call returned. `PCDR_RESULT_OK` (0) is success; every other code is a
/// failure whose text, SQL Server error number and step are available from
/// `pcdr_error_message`, `pcdr_error_sql_number` and `pcdr_error_step` on the same
/// thread.
///
/// Ranges: 1 the library failed outside the procedures, 1xx topology, 2xx refused by a
/// precondition, 3xx a step failed (one code per kind of failure), 4xx journal, 5xx
/// cancelled, 9xx bad input or internal errors.
///
/// Retired, never reused: 300 (`STEP_FAILED`, a step failure of no known kind; every
/// kind of step failure has its own code).
#[repr(u32)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pcdr_result {
    /// Success.
    Ok = 0,
    /// The library itself failed outside the procedures (its async runtime did not
    /// start, or an answer could not be written as JSON); the message says what.
    Other = 1,

    /// The topology is invalid or cannot be read; the message names the key path
    /// (`sites.backup.chat_servers[1]`) or the file.
    Topology = 100,

    /// A step refused to start because the world is not as the procedure requires.
    Precondition = 200,
    /// The log chain has a gap and data loss was not accepted (`accept_data_loss`).
    DataLossRefused = 201,
    /// A log backup file cannot take part in the log chain.
    BadLogBackup = 202,

    /// A step failed because SQL Server reported an error; see `pcdr_error_sql_number`.
    StepSqlServer = 301,
    /// A step could not reach a server, share or shell.
    StepUnreachable = 302,
    /// The connection dropped while a statement ran; resume to observe and continue.
    StepConnectionLost = 303,
    /// A step could not read or write a file or folder.
    StepIo = 304,
    /// A Management Shell cmdlet failed.
    StepShell = 305,
    /// A statement or cmdlet ran past its time limit.
    StepTimeout = 306,
    /// A server answered with an unexpected shape (a version mismatch).
    StepUnexpectedAnswer = 307,
    /// Connecting to a server failed without a refusal or a time-out (TLS, the protocol,
    /// SQL Server Browser, the name not resolving): it may well be up.
    StepConnectFailed = 308,

    /// The journal cannot be created, read or written, or holds no run.
    Journal = 400,
    /// Another run holds the journal's lock.
    JournalLocked = 401,

    /// The run was cancelled (`pcdr_runbook_cancel`); resume to continue.
    Cancelled = 500,

    /// A required pointer argument was NULL.
    NullParameter = 900,
    /// A string argument was not valid UTF-8.
    InvalidUtf8 = 901,
    /// The runbook handle was already freed or never came from this library.
    InvalidHandle = 902,
    /// No procedure has this name; the message lists the names (`pcdr_procedures`
    /// lists the procedures).
    UnknownProcedure = 903,
    /// The procedure has no step with this id; the message lists the ids it has.
    UnknownStep = 904,
    /// The caller's buffer is too small; the size needed was written.
    BufferTooSmall = 905,
    /// The `pcdr_options` has a `struct_size` this library does not know: it was not
    /// filled by `pcdr_options_init`, or the program was built against another pcdr.h.
    UnknownOptionsSize = 906,
    /// A string argument or option holds a value it does not take (a `switch_to` that
    /// names no site); the message names it and lists the values it takes.
    InvalidArgument = 907,
    /// A bug inside the library (a caught Rust panic); nothing crashed.
    Panic = 999,
}

impl pcdr_result {
    /// The code of a kind of pcdr-core error. Every kind is listed: a new one does not
    /// compile until it has a code.
    pub(crate) fn of(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Topology => Self::Topology,
            ErrorKind::Precondition => Self::Precondition,
            ErrorKind::DataLossRefused => Self::DataLossRefused,
            ErrorKind::BadLogBackup => Self::BadLogBackup,
            ErrorKind::Step(plane) => Self::of_step(plane),
            ErrorKind::Journal => Self::Journal,
            ErrorKind::JournalLocked => Self::JournalLocked,
            ErrorKind::Cancelled => Self::Cancelled,
            ErrorKind::UnknownStep => Self::UnknownStep,
        }
    }

    /// The code of a step that failed because of this kind of plane error.
    fn of_step(kind: PlaneErrorKind) -> Self {
        match kind {
            PlaneErrorKind::Sql => Self::StepSqlServer,
            PlaneErrorKind::Unreachable => Self::StepUnreachable,
            PlaneErrorKind::ConnectionLost => Self::StepConnectionLost,
            PlaneErrorKind::Io => Self::StepIo,
            PlaneErrorKind::Shell => Self::StepShell,
            PlaneErrorKind::Timeout => Self::StepTimeout,
            PlaneErrorKind::Unexpected => Self::StepUnexpectedAnswer,
            PlaneErrorKind::ConnectFailed => Self::StepConnectFailed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcdr_core::procedure::failover;
    use pcdr_core::{Error, PlaneError};
    use std::path::PathBuf;

    #[test]
    fn each_kind_has_its_code() {
        let cases = [
            (ErrorKind::Topology, 100),
            (ErrorKind::Precondition, 200),
            (ErrorKind::DataLossRefused, 201),
            (ErrorKind::BadLogBackup, 202),
            (ErrorKind::Journal, 400),
            (ErrorKind::JournalLocked, 401),
            (ErrorKind::Cancelled, 500),
            (ErrorKind::UnknownStep, 904),
        ];
        for (kind, code) in cases {
            assert_eq!(pcdr_result::of(kind) as u32, code, "{kind:?}");
        }
    }

    #[test]
    fn each_plane_failure_has_its_code_in_the_step_range() {
        let cases = [
            (PlaneErrorKind::Sql, 301),
            (PlaneErrorKind::Unreachable, 302),
            (PlaneErrorKind::ConnectionLost, 303),
            (PlaneErrorKind::Io, 304),
            (PlaneErrorKind::Shell, 305),
            (PlaneErrorKind::Timeout, 306),
            (PlaneErrorKind::ConnectFailed, 308),
            (PlaneErrorKind::Unexpected, 307),
        ];
        for (kind, code) in cases {
            assert_eq!(
                pcdr_result::of(ErrorKind::Step(kind)) as u32,
                code,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn an_error_is_coded_by_its_kind() {
        let in_use = Error::step(
            failover::RECOVER_DATABASE,
            "sql-dal",
            Some("mgc"),
            None,
            PlaneError::sql(3101, 16, "in use"),
        );
        assert_eq!(pcdr_result::of(in_use.kind()), pcdr_result::StepSqlServer);
        let locked = Error::JournalLocked {
            path: PathBuf::from("failover.journal"),
        };
        assert_eq!(pcdr_result::of(locked.kind()), pcdr_result::JournalLocked);
    }

    #[test]
    fn the_input_and_internal_codes_are_stable() {
        let codes = [
            (pcdr_result::Ok, 0),
            (pcdr_result::NullParameter, 900),
            (pcdr_result::InvalidUtf8, 901),
            (pcdr_result::InvalidHandle, 902),
            (pcdr_result::UnknownProcedure, 903),
            (pcdr_result::BufferTooSmall, 905),
            (pcdr_result::UnknownOptionsSize, 906),
            (pcdr_result::InvalidArgument, 907),
            (pcdr_result::Panic, 999),
        ];
        for (code, value) in codes {
            assert_eq!(code as u32, value, "{code:?}");
        }
    }
}
