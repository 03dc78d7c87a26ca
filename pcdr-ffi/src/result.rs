//! The result codes: one `#[repr(u32)]` enum whose codes are stable and grouped in
//! ranges by where the error comes from. A code is never reused: a retired one stays
//! here as a comment.

use pcdr_core::{Error, PlaneError};

/// What a call returned. `PCDR_RESULT_OK` (0) is success; every other code is a
/// failure whose text, SQL Server error number and step are available from
/// `pcdr_error_message`, `pcdr_error_sql_number` and `pcdr_error_step` on the same
/// thread.
///
/// Ranges: 1 unclassified, 1xx topology, 2xx refused by a precondition, 3xx a step
/// failed (one code per kind of failure), 4xx journal, 5xx cancelled, 9xx bad input
/// or internal errors.
#[repr(u32)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pcdr_result {
    /// Success.
    Ok = 0,
    /// An error this version of the binding does not classify; the message says what.
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

    /// A step failed (a kind of failure with no code of its own).
    StepFailed = 300,
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
    /// The procedure name is neither `failover` nor `failback`.
    UnknownProcedure = 903,
    /// The procedure has no step with this id.
    UnknownStep = 904,
    /// The caller's buffer is too small; the size needed was written.
    BufferTooSmall = 905,
    /// The `pcdr_options` has a `struct_size` this library does not know: it was not
    /// filled by `pcdr_options_init`, or the program was built against another pcdr.h.
    UnknownOptionsSize = 906,
    /// A bug inside the library (a caught Rust panic); nothing crashed.
    Panic = 999,
}

impl pcdr_result {
    /// The code of a pcdr-core error.
    pub(crate) fn of(error: &Error) -> Self {
        match error {
            Error::Topology(_) => Self::Topology,
            Error::Precondition { .. } => Self::Precondition,
            Error::DataLossRefused { .. } => Self::DataLossRefused,
            Error::BadLogBackup { .. } => Self::BadLogBackup,
            Error::Step(step) => Self::of_plane(&step.source),
            Error::Journal { .. } => Self::Journal,
            Error::JournalLocked { .. } => Self::JournalLocked,
            Error::Cancelled { .. } => Self::Cancelled,
            Error::UnknownStep { .. } => Self::UnknownStep,
            _ => Self::Other,
        }
    }

    fn of_plane(error: &PlaneError) -> Self {
        match error {
            PlaneError::Sql(_) => Self::StepSqlServer,
            PlaneError::Unreachable { .. } => Self::StepUnreachable,
            PlaneError::ConnectionLost { .. } => Self::StepConnectionLost,
            PlaneError::Io { .. } => Self::StepIo,
            PlaneError::Shell { .. } => Self::StepShell,
            PlaneError::Timeout { .. } => Self::StepTimeout,
            PlaneError::Unexpected(_) => Self::StepUnexpectedAnswer,
            _ => Self::StepFailed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcdr_core::procedure::failover;
    use std::path::PathBuf;

    fn step_error(source: PlaneError) -> Error {
        Error::step(
            failover::APPLY_UNAPPLIED_LOGS,
            "sql-dal",
            Some("mgc"),
            None,
            source,
        )
    }

    #[test]
    fn each_error_maps_to_its_range() {
        let journal = PathBuf::from("j");
        let cases = [
            (Error::Cancelled { step: None }, 500),
            (
                Error::UnknownStep {
                    procedure: pcdr_core::procedure::failover::PROCEDURE,
                    id: "no_such_step".into(),
                },
                904,
            ),
            (
                Error::JournalLocked {
                    path: journal.clone(),
                },
                401,
            ),
            (
                Error::Journal {
                    path: journal,
                    message: "x".into(),
                },
                400,
            ),
            (
                Error::Precondition {
                    step: failover::CHECK_SITES,
                    message: "m".into(),
                    next: "n".into(),
                },
                200,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(pcdr_result::of(&error) as u32, code, "{error}");
        }
    }

    #[test]
    fn a_sql_server_error_has_its_own_step_code() {
        let error = step_error(PlaneError::sql(4305, 16, "too recent"));
        assert_eq!(pcdr_result::of(&error), pcdr_result::StepSqlServer);
        assert_eq!(error.sql_number(), Some(4305));
    }

    #[test]
    fn plane_failures_map_into_the_step_range() {
        let unreachable = PlaneError::Unreachable {
            target: "sql-dal".into(),
            message: "no route".into(),
        };
        let timeout = PlaneError::Timeout {
            what: "RESTORE".into(),
            secs: 5,
        };
        for (source, code) in [(unreachable, 302), (timeout, 306)] {
            let mapped = pcdr_result::of(&step_error(source)) as u32;
            assert_eq!(mapped, code);
            assert!((300..400).contains(&mapped));
        }
    }

    #[test]
    fn the_codes_are_stable() {
        let codes = [
            (pcdr_result::Ok, 0),
            (pcdr_result::Topology, 100),
            (pcdr_result::DataLossRefused, 201),
            (pcdr_result::BadLogBackup, 202),
            (pcdr_result::NullParameter, 900),
            (pcdr_result::UnknownStep, 904),
            (pcdr_result::Panic, 999),
        ];
        for (code, value) in codes {
            assert_eq!(code as u32, value, "{code:?}");
        }
    }
}
