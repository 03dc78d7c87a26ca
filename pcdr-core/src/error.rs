//! Errors: what failed, where (step, server, database, file), and what to do next.
//!
//! Control planes report [`PlaneError`]: one failed call, without knowing which step
//! made it. Steps wrap it into [`Error::Step`] with the step, the target and the database
//! or file involved. Callers ask questions of errors ([`Error::sql_number`],
//! [`Error::is_transient`], [`PlaneError::next_action`]) instead of matching strings.

use crate::log_chain::{ChainError, LogChainGap};
use crate::procedure::{Procedure, StepId};
use crate::topology::TopologyError;
use std::fmt;
use std::path::PathBuf;

/// The result type of pcdr-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The result type of one control-plane call.
pub type PlaneResult<T> = std::result::Result<T, PlaneError>;

/// An error SQL Server reported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SqlServerError {
    /// The error number (e.g. 4305).
    pub number: u32,
    /// The state.
    pub state: u8,
    /// The class (severity).
    pub class: u8,
    /// The message text.
    pub message: String,
}

impl fmt::Display for SqlServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SQL Server error {} (state {}, class {}): {}",
            self.number, self.state, self.class, self.message
        )
    }
}

/// The failure of one control-plane call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlaneError {
    /// SQL Server answered with an error.
    #[error("{0}")]
    Sql(SqlServerError),
    /// The instance, share or shell could not be reached at all.
    #[error("cannot reach {target}: {message}")]
    Unreachable {
        /// What was being reached.
        target: String,
        /// The operating system's or driver's message.
        message: String,
    },
    /// The connection dropped while a statement was running; its effect is unknown.
    #[error("connection lost: {message}")]
    ConnectionLost {
        /// The driver's message.
        message: String,
    },
    /// A file or folder could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// A Management Shell cmdlet failed.
    #[error("{cmdlet} failed: {message}")]
    Shell {
        /// The cmdlet.
        cmdlet: String,
        /// The shell's message.
        message: String,
    },
    /// A statement or a cmdlet ran past its time limit and was stopped.
    #[error("{what} did not finish within {secs} s and was stopped")]
    Timeout {
        /// What ran.
        what: String,
        /// The limit.
        secs: u64,
    },
    /// The answer had an unexpected shape (a protocol or version mismatch).
    #[error("unexpected answer: {0}")]
    Unexpected(String),
}

impl PlaneError {
    /// Shorthand for a SQL Server error.
    pub fn sql(number: u32, class: u8, message: impl Into<String>) -> Self {
        Self::Sql(SqlServerError {
            number,
            state: 1,
            class,
            message: message.into(),
        })
    }

    /// SQL Server's error number, when SQL Server reported the error.
    pub fn sql_number(&self) -> Option<u32> {
        match self {
            Self::Sql(e) => Some(e.number),
            _ => None,
        }
    }

    /// Whether trying again later, unchanged, may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::ConnectionLost { .. } | Self::Timeout { .. } => true,
            // Deadlock victim; database in use; cannot open database yet.
            Self::Sql(e) => matches!(e.number, 1205 | 3101 | 4060 | 40613),
            _ => false,
        }
    }

    /// What an operator should do about this error.
    pub fn next_action(&self) -> &'static str {
        match self {
            Self::Sql(e) => sql_next_action(e.number),
            Self::Unreachable { .. } => {
                "check that the server is running and reachable from here (host, port or instance, firewall), then resume"
            }
            Self::ConnectionLost { .. } => {
                "resume: pcdr observes the state again before repeating anything"
            }
            Self::Io { .. } => {
                "check that the path exists, has free space, and that this account can read and write it, then resume"
            }
            Self::Shell { .. } => {
                "run the cmdlet in the Skype for Business Management Shell to see the full error, fix the cause, then resume"
            }
            Self::Timeout { .. } => {
                "check the server; raise sql.command_timeout_secs or shell.timeout_secs if the work is just slow, then resume"
            }
            Self::Unexpected(_) => {
                "check the server version against pcdr's documentation, then resume"
            }
        }
    }
}

fn sql_next_action(number: u32) -> &'static str {
    match number {
        4305 => {
            "a log backup is missing: find it (backup share, primary's backup history), put it in the copy folder and resume; or resume accepting data loss"
        }
        4326 => "this log backup is already applied: resume, pcdr skips it",
        3101 | 5064 | 5070 => {
            "end the sessions still using the database (sys.dm_exec_sessions), then resume"
        }
        3104 => "remove database mirroring (ALTER DATABASE … SET PARTNER OFF), then resume",
        3117 | 4330 => {
            "the database is not restoring any more (probably already recovered): check its state, then resume"
        }
        3159 | 3154 => {
            "restore WITH REPLACE over this database, or check the backup file is the right one"
        }
        3201 | 3203 | 3241 => {
            "check that the file exists, is complete and readable by the SQL Server service account; replace it from the backup share, then resume"
        }
        3013 => "read the error before this one in the SQL Server error log, fix it, then resume",
        3021 | 226 => "the statement ran inside a transaction: run it outside a transaction",
        3036 => "the database is in standby: recover it before backing it up",
        1488 => "set the database to MULTI_USER before setting up mirroring",
        1418 => "check the mirroring endpoint of the partner is started and reachable",
        18456 => "check sql.user and the password named by sql.password_env or sql.password_file",
        927 => "the database is still restoring: recover it first",
        6104 | 6106 => "the session is already gone: resume",
        _ => "read SQL Server's message, fix the cause, then resume",
    }
}

/// A failed step: which step, against what, on which database or file, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError {
    /// The step.
    pub step: StepId,
    /// The server, share or pool the call went to.
    pub target: String,
    /// The database involved, if any.
    pub database: Option<String>,
    /// The file involved, if any.
    pub file: Option<String>,
    /// The underlying failure.
    pub source: PlaneError,
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed on {}", self.step, self.target)?;
        if let Some(db) = &self.database {
            write!(f, ", database {db}")?;
        }
        if let Some(file) = &self.file {
            write!(f, ", file {file}")?;
        }
        write!(f, ": {}. Next: {}", self.source, self.source.next_action())
    }
}

/// Everything that can go wrong in pcdr-core.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The topology file is invalid.
    #[error("topology: {0}")]
    Topology(#[from] TopologyError),
    /// A step refused to start because the world is not as the procedure requires.
    #[error("{step} cannot run: {message}. Next: {next}")]
    Precondition {
        /// The step.
        step: StepId,
        /// What is wrong.
        message: String,
        /// What to do about it.
        next: String,
    },
    /// A control-plane call failed inside a step.
    #[error("{0}")]
    Step(Box<StepError>),
    /// A log backup file cannot take part in the log chain.
    #[error(
        "{step} stopped on {target}, database {database}: {source}. Next: replace or remove the file, then resume"
    )]
    BadLogBackup {
        /// The step.
        step: StepId,
        /// The server.
        target: String,
        /// The database.
        database: String,
        /// What is wrong with the file.
        source: Box<ChainError>,
    },
    /// The log chain has a gap and the operator did not accept data loss.
    #[error(
        "{step} stopped on {target}, database {database}: {gap}. Recovering now would lose those transactions. Next: find the missing log backup and resume, or resume accepting data loss"
    )]
    DataLossRefused {
        /// The step.
        step: StepId,
        /// The server.
        target: String,
        /// The database.
        database: String,
        /// The missing range.
        gap: Box<LogChainGap>,
    },
    /// The journal cannot be created, read or written.
    #[error("journal {path}: {message}")]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Another pcdr run holds the journal.
    #[error(
        "journal {path} is locked by another pcdr run; wait for it to finish (or stop it), then resume"
    )]
    JournalLocked {
        /// The journal file.
        path: PathBuf,
    },
    /// The run was cancelled; the journal can be resumed.
    #[error("cancelled{}; resume to continue", .step.map(|s| format!(" during {s}")).unwrap_or_default())]
    Cancelled {
        /// The step that was running, if any.
        step: Option<StepId>,
    },
    /// A step id the procedure does not have.
    #[error("{procedure} has no step '{id}'. Next: use one of: {}", step_ids(*.procedure))]
    UnknownStep {
        /// The procedure.
        procedure: Procedure,
        /// The id given.
        id: String,
    },
}

/// The ids of `procedure`'s steps, in order, separated by commas.
fn step_ids(procedure: Procedure) -> String {
    let ids: Vec<&str> = procedure.steps().iter().map(|s| s.as_str()).collect();
    ids.join(", ")
}

impl Error {
    /// A step error.
    pub fn step(
        step: StepId,
        target: impl Into<String>,
        database: Option<&str>,
        file: Option<&str>,
        source: PlaneError,
    ) -> Self {
        Self::Step(Box::new(StepError {
            step,
            target: target.into(),
            database: database.map(str::to_string),
            file: file.map(str::to_string),
            source,
        }))
    }

    /// SQL Server's error number, when the error came from SQL Server.
    pub fn sql_number(&self) -> Option<u32> {
        self.plane_error().and_then(PlaneError::sql_number)
    }

    /// Whether resuming later, unchanged, may succeed.
    pub fn is_transient(&self) -> bool {
        self.plane_error().is_some_and(PlaneError::is_transient)
    }

    /// The step the error happened in, if any.
    pub fn step_id(&self) -> Option<StepId> {
        match self {
            Self::Precondition { step, .. }
            | Self::BadLogBackup { step, .. }
            | Self::DataLossRefused { step, .. } => Some(*step),
            Self::Step(e) => Some(e.step),
            Self::Cancelled { step } => *step,
            _ => None,
        }
    }

    /// The failed control-plane call behind a step error.
    pub fn plane_error(&self) -> Option<&PlaneError> {
        match self {
            Self::Step(e) => Some(&e.source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procedure::{failback, failover};

    #[test]
    fn a_step_error_says_where_and_what_next() {
        let err = Error::step(
            failover::APPLY_UNAPPLIED_LOGS,
            "sql-dal.contoso.com,1433",
            Some("mgc"),
            Some(r"D:\ls\mgc_1.trn"),
            PlaneError::sql(
                4305,
                16,
                "The log in this backup set begins at LSN 400, which is too recent",
            ),
        );
        let text = err.to_string();
        assert!(text.starts_with("failover step apply_unapplied_logs failed on sql-dal.contoso.com,1433, database mgc, file D:\\ls\\mgc_1.trn: SQL Server error 4305 (state 1, class 16)"), "{text}");
        assert!(text.contains("Next: a log backup is missing"), "{text}");
        assert_eq!(err.sql_number(), Some(4305));
        assert!(!err.is_transient());
        assert_eq!(err.step_id(), Some(failover::APPLY_UNAPPLIED_LOGS));
    }

    #[test]
    fn an_unknown_step_lists_the_procedures_steps_and_names_no_step() {
        let err = Error::UnknownStep {
            procedure: failback::PROCEDURE,
            id: "apply_unapplied_logs".into(),
        };
        assert_eq!(
            err.to_string(),
            "failback has no step 'apply_unapplied_logs'. Next: use one of: \
             check_rebuilt_primary, clear_active_servers, remove_backup_mirroring, \
             backup_for_failback, restore_primary, reinitialize_backup, setup_log_shipping, \
             mirror_primary, activate_primary_servers, set_pool_normal"
        );
        assert_eq!(err.step_id(), None);
    }

    #[test]
    fn connection_problems_are_transient() {
        let lost = PlaneError::ConnectionLost {
            message: "reset".into(),
        };
        assert!(lost.is_transient());
        assert!(PlaneError::sql(1205, 13, "deadlock").is_transient());
        assert!(!PlaneError::sql(3241, 16, "bad media").is_transient());
        let err = Error::step(failover::RECOVER_DATABASE, "x", None, None, lost);
        assert!(err.is_transient());
        assert_eq!(err.sql_number(), None);
    }

    #[test]
    fn cancelled_names_the_step() {
        let err = Error::Cancelled {
            step: Some(failover::COPY_LOG_BACKUPS),
        };
        assert_eq!(
            err.to_string(),
            "cancelled during failover step copy_log_backups; resume to continue"
        );
        assert_eq!(
            Error::Cancelled { step: None }.to_string(),
            "cancelled; resume to continue"
        );
    }
}
