//! Errors: what failed, where (step, server, database, file), and what to do next.
//!
//! Control planes report [`PlaneError`] (defined with the planes, re-exported here): one
//! failed call, without knowing which step made it. Steps wrap it into [`Error::Step`]
//! with the step, the target and the database or file involved; the plane error stays
//! reachable as the error's [`source`](std::error::Error::source).
//!
//! Callers ask questions of errors instead of matching strings: [`Error::kind`] is the
//! one classification every front end maps (exit codes, C result codes, Python
//! exception classes), and [`Error::sql_number`], [`Error::is_transient`],
//! [`Error::step_id`] and [`PlaneError::next_action`] answer the rest.
//!
//! This module only names procedures and steps (as plain data, for messages); it
//! computes nothing from the procedure tables.

pub use crate::planes::{ConnectFailure, PlaneError, PlaneErrorKind, PlaneResult, SqlServerError};

use crate::log_chain::{ChainError, LogChainGap};
use crate::procedure::{Procedure, StepId};
use crate::topology::TopologyError;
use std::fmt;
use std::path::{Path, PathBuf};

/// The result type of pcdr-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

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

impl std::error::Error for StepError {
    /// The failed control-plane call.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
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
        /// Why, as a value a caller can branch on.
        kind: PreconditionKind,
        /// What is wrong.
        message: String,
        /// What to do about it.
        next: String,
    },
    /// A control-plane call failed inside a step; the [`PlaneError`] is the source.
    #[error(transparent)]
    Step(Box<StepError>),
    /// A log backup file cannot take part in the log chain.
    #[error(
        "{step} stopped on {target}, database {database}: {source}. Next: move the file aside (out of the copy folder, and off the share if it is there too; keep it for the investigation) and resume; log records only it held are then lost: when a later file follows it the run stops at that gap, which you can accept as data loss, but when it is the newest file nothing shows the loss except the report's last applied log backup, so prefer a readable copy of it (from the share, or the primary's backup folder) when one exists"
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
    #[error("{procedure} has no step '{id}'. Next: use one of: {}", joined_ids(.valid))]
    UnknownStep {
        /// The procedure.
        procedure: Procedure,
        /// The id given.
        id: String,
        /// The procedure's steps, in order: the ids that would have been accepted.
        valid: Vec<StepId>,
    },
}

/// The ids of `steps`, separated by commas.
fn joined_ids(steps: &[StepId]) -> String {
    let ids: Vec<&str> = steps.iter().map(|s| s.as_str()).collect();
    ids.join(", ")
}

/// Why a step refused to start, as a value a caller can branch on (the message says the
/// rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PreconditionKind {
    /// The primary site (or its mirror) still answers: failing over now could leave two
    /// primary databases.
    PrimaryReachable,
    /// The pool is not in the state the procedure starts from (already failed over, or
    /// not failed over).
    PoolState,
    /// A database is missing, or not in the state the step needs (not online, no restore
    /// point, not multi-user, files that cannot be placed).
    DatabaseState,
    /// The work of an earlier step is missing (the log-shipping setup not recorded, the
    /// failback backup not the full backup it should be).
    EarlierStep,
    /// The topology asks for what a pool does not allow (more than four active servers, a
    /// server of the other site).
    Topology,
    /// What a step observes is not what the journal or the step's own reading said a
    /// moment before: the world changed under the run.
    WorldChanged,
    /// Another pcdr run (on this host or another) holds the pool's run lock on an
    /// instance: two runs must not change one pool at once.
    RunInProgress,
}

impl PreconditionKind {
    /// The kind's stable name (`primary_reachable`), as the C and Python bindings give it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PrimaryReachable => "primary_reachable",
            Self::PoolState => "pool_state",
            Self::DatabaseState => "database_state",
            Self::EarlierStep => "earlier_step",
            Self::Topology => "topology",
            Self::WorldChanged => "world_changed",
            Self::RunInProgress => "run_in_progress",
        }
    }
}

/// What kind of error an [`Error`] is: the one classification every front end maps to
/// its own vocabulary (the CLI's exit codes, the C result codes, the Python exception
/// classes).
///
/// Not `#[non_exhaustive]`: front ends match it with no `_` arm, so a new kind does not
/// compile until each of them decides what it means. A kind whose errors have causes
/// worth telling apart carries its own finer kind, as [`ErrorKind::Step`] carries the
/// [`PlaneErrorKind`] of the failed call; refining another kind the same way later
/// (preconditions, say) changes only that kind's arms.
///
/// ```
/// use pcdr_core::procedure::failover;
/// use pcdr_core::{Error, ErrorKind, PlaneError, PlaneErrorKind};
///
/// let in_use = PlaneError::sql(3101, 16, "Exclusive access could not be obtained");
/// let error = Error::step(failover::RECOVER_DATABASE, "sql-dal", Some("mgc"), None, in_use);
/// assert_eq!(error.kind(), ErrorKind::Step(PlaneErrorKind::Sql));
/// assert_eq!(Error::Cancelled { step: None }.kind(), ErrorKind::Cancelled);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// [`Error::Topology`]: the topology is invalid or cannot be read.
    Topology,
    /// [`Error::Precondition`]: a step refused to start.
    Precondition,
    /// [`Error::DataLossRefused`]: a gap in the log chain, data loss not accepted.
    DataLossRefused,
    /// [`Error::BadLogBackup`]: a log backup file cannot take part in the log chain.
    BadLogBackup,
    /// [`Error::Step`]: a control-plane call failed inside a step, for this reason.
    Step(PlaneErrorKind),
    /// [`Error::Journal`]: the journal cannot be created, read or written.
    Journal,
    /// [`Error::JournalLocked`]: another run holds the journal.
    JournalLocked,
    /// [`Error::Cancelled`]: the run was cancelled.
    Cancelled,
    /// [`Error::UnknownStep`]: a step id the procedure does not have.
    UnknownStep,
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

    /// What kind of error this is; see [`ErrorKind`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Topology(_) => ErrorKind::Topology,
            Self::Precondition { .. } => ErrorKind::Precondition,
            Self::DataLossRefused { .. } => ErrorKind::DataLossRefused,
            Self::BadLogBackup { .. } => ErrorKind::BadLogBackup,
            Self::Step(e) => ErrorKind::Step(e.source.kind()),
            Self::Journal { .. } => ErrorKind::Journal,
            Self::JournalLocked { .. } => ErrorKind::JournalLocked,
            Self::Cancelled { .. } => ErrorKind::Cancelled,
            Self::UnknownStep { .. } => ErrorKind::UnknownStep,
        }
    }

    /// SQL Server's error number, when the error came from SQL Server.
    pub fn sql_number(&self) -> Option<u32> {
        self.plane_error().and_then(PlaneError::sql_number)
    }

    /// Whether resuming later, unchanged, may succeed.
    pub fn is_transient(&self) -> bool {
        self.plane_error().is_some_and(PlaneError::is_transient)
    }

    /// Why a step refused to start, for a precondition.
    pub fn precondition_kind(&self) -> Option<PreconditionKind> {
        match self {
            Self::Precondition { kind, .. } => Some(*kind),
            _ => None,
        }
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

    /// The server, share or pool a step was working on, if the error names one.
    pub fn target(&self) -> Option<&str> {
        match self {
            Self::Step(e) => Some(&e.target),
            Self::BadLogBackup { target, .. } | Self::DataLossRefused { target, .. } => {
                Some(target)
            }
            _ => None,
        }
    }

    /// The database a step was working on, if the error names one.
    pub fn database(&self) -> Option<&str> {
        match self {
            Self::Step(e) => e.database.as_deref(),
            Self::BadLogBackup { database, .. } | Self::DataLossRefused { database, .. } => {
                Some(database)
            }
            _ => None,
        }
    }

    /// The file a step's failed call was about, if the error names one.
    pub fn file(&self) -> Option<&str> {
        match self {
            Self::Step(e) => e.file.as_deref(),
            _ => None,
        }
    }

    /// The journal file of a journal error.
    pub fn journal_path(&self) -> Option<&Path> {
        match self {
            Self::Journal { path, .. } | Self::JournalLocked { path } => Some(path),
            _ => None,
        }
    }

    /// The problem with the topology, for a topology error.
    pub fn topology_error(&self) -> Option<&TopologyError> {
        match self {
            Self::Topology(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_chain::Lsn;
    use crate::procedure::{failback, failover};
    use std::error::Error as _;

    fn too_recent() -> Error {
        Error::step(
            failover::APPLY_UNAPPLIED_LOGS,
            "sql-dal.contoso.com,1433",
            Some("mgc"),
            Some(r"D:\ls\mgc_1.trn"),
            PlaneError::sql(
                4305,
                16,
                "The log in this backup set begins at LSN 400, which is too recent",
            ),
        )
    }

    #[test]
    fn a_step_error_says_where_and_what_next() {
        let err = too_recent();
        let text = err.to_string();
        assert!(text.starts_with("failover step apply_unapplied_logs failed on sql-dal.contoso.com,1433, database mgc, file D:\\ls\\mgc_1.trn: SQL Server error 4305 (state 1, class 16)"), "{text}");
        assert!(text.contains("Next: a log backup is missing"), "{text}");
        assert_eq!(err.sql_number(), Some(4305));
        assert!(!err.is_transient());
        assert_eq!(err.step_id(), Some(failover::APPLY_UNAPPLIED_LOGS));
        assert_eq!(err.target(), Some("sql-dal.contoso.com,1433"));
        assert_eq!(err.database(), Some("mgc"));
        assert_eq!(err.file(), Some(r"D:\ls\mgc_1.trn"));
    }

    #[test]
    fn a_step_errors_source_is_the_failed_plane_call() {
        let err = too_recent();
        let source = err.source().expect("a step error has a source");
        let plane = source.downcast_ref::<PlaneError>().expect("a PlaneError");
        assert_eq!(plane.sql_number(), Some(4305));
        assert!(source.source().is_none());
        let Error::Step(step) = &err else {
            unreachable!("Error::step builds a step error")
        };
        assert_eq!(
            step.source().map(ToString::to_string),
            Some(plane.to_string())
        );
    }

    #[test]
    fn topology_and_chain_errors_are_the_source_of_theirs() {
        let topology = Error::from(TopologyError::new("pool.fqdn", "not a host name"));
        let cause = topology
            .source()
            .and_then(|s| s.downcast_ref::<TopologyError>());
        assert_eq!(cause.map(|e| e.key.as_str()), Some("pool.fqdn"));
        assert_eq!(topology.topology_error(), cause);

        let damaged = ChainError::Damaged {
            file: "mgc_7.trn".into(),
            reason: "SQL Server error 3241".into(),
        };
        let bad = Error::BadLogBackup {
            step: failover::APPLY_UNAPPLIED_LOGS,
            target: "sql-dal".into(),
            database: "mgc".into(),
            source: Box::new(damaged.clone()),
        };
        // The source is the field itself: the box around the chain error.
        let cause = bad
            .source()
            .and_then(|s| s.downcast_ref::<Box<ChainError>>());
        assert_eq!(cause.map(|boxed| &**boxed), Some(&damaged));
        assert_eq!(bad.kind(), ErrorKind::BadLogBackup);
    }

    #[test]
    fn each_error_has_its_kind() {
        let journal = PathBuf::from("failover.journal");
        let gap = LogChainGap {
            missing_from: Lsn(400),
            missing_to: Lsn(500),
            last_good: None,
            next_file: "mgc_9.trn".into(),
        };
        let cases = [
            (
                Error::from(TopologyError::new("pool.fqdn", "empty")),
                ErrorKind::Topology,
            ),
            (
                Error::Precondition {
                    step: failover::CHECK_SITES,
                    kind: PreconditionKind::PrimaryReachable,
                    message: "the primary still answers".into(),
                    next: "stop it".into(),
                },
                ErrorKind::Precondition,
            ),
            (
                Error::DataLossRefused {
                    step: failover::RECOVER_DATABASE,
                    target: "sql-dal".into(),
                    database: "mgc".into(),
                    gap: Box::new(gap),
                },
                ErrorKind::DataLossRefused,
            ),
            (too_recent(), ErrorKind::Step(PlaneErrorKind::Sql)),
            (
                Error::Journal {
                    path: journal.clone(),
                    message: "holds no run".into(),
                },
                ErrorKind::Journal,
            ),
            (
                Error::JournalLocked { path: journal },
                ErrorKind::JournalLocked,
            ),
            (Error::Cancelled { step: None }, ErrorKind::Cancelled),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{error}");
        }
    }

    #[test]
    fn an_unknown_step_lists_the_steps_it_was_given_and_names_no_step() {
        let err = Error::UnknownStep {
            procedure: failback::PROCEDURE,
            id: "apply_unapplied_logs".into(),
            valid: vec![
                failback::CHECK_REBUILT_PRIMARY,
                failback::CLEAR_ACTIVE_SERVERS,
            ],
        };
        assert_eq!(
            err.to_string(),
            "failback has no step 'apply_unapplied_logs'. Next: use one of: \
             check_rebuilt_primary, clear_active_servers"
        );
        assert_eq!(err.kind(), ErrorKind::UnknownStep);
        assert_eq!(err.step_id(), None);
        assert_eq!(err.target(), None);
    }

    #[test]
    fn a_step_error_is_transient_when_its_call_is() {
        let lost = PlaneError::ConnectionLost {
            message: "reset".into(),
        };
        let err = Error::step(failover::RECOVER_DATABASE, "x", None, None, lost);
        assert!(err.is_transient());
        assert_eq!(err.sql_number(), None);
        assert_eq!(err.kind(), ErrorKind::Step(PlaneErrorKind::ConnectionLost));
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
