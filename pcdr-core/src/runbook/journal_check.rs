//! The checks a journal passes before a run starts in it or resumes from it, shared by
//! every front end: the command line, C and Python (through
//! [`Embedded`](crate::embed::Embedded)) refuse the same journals with the same words.
//!
//! They run before anything is contacted or changed, and say what to do instead: wait
//! for the run that holds the journal's lock, resume an interrupted run rather than
//! start over it, choose another journal after a completed run. The journal itself
//! ([`Journal`](super::Journal)) still refuses what it cannot do; these checks come
//! first so that the refusal names the cause. This module reads journals, it never
//! writes one.

use super::journal::{Record, read_records};
use crate::error::{Error, Result};
use crate::procedure::Procedure;
use std::path::Path;

/// What a caller means to do with a journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalUse {
    /// Start a new run of the procedure: the journal must hold no run.
    Start(Procedure),
    /// Continue the run the journal holds; when a procedure is named, the run must be
    /// one of it.
    Resume(Option<Procedure>),
}

impl JournalUse {
    /// The procedure the caller names, if any.
    fn procedure(self) -> Option<Procedure> {
        match self {
            Self::Start(procedure) => Some(procedure),
            Self::Resume(procedure) => procedure,
        }
    }
}

/// The run a journal holds, as far as the checks care.
struct HeldRun {
    procedure: Procedure,
    finished: bool,
}

/// Refuses to use `journal` as `usage` says when that cannot go well: another pcdr run
/// holds its lock ([`Error::JournalLocked`]); it holds a run of another procedure, a
/// completed run when starting a new one, an interrupted run when starting a new one
/// (the message says to resume it), or no run when resuming ([`Error::Journal`]).
///
/// ```no_run
/// use pcdr_core::procedure::failover;
/// use pcdr_core::runbook::{JournalUse, check_journal};
/// # fn demo() -> pcdr_core::Result<()> {
/// check_journal("pcdr-failover.journal".as_ref(), JournalUse::Start(failover::PROCEDURE))?;
/// # Ok(())
/// # }
/// ```
pub fn check_journal(journal: &Path, usage: JournalUse) -> Result<()> {
    // Checked before reading, so the refusal says so rather than describing the other
    // run's records.
    if is_locked(journal) {
        return Err(Error::JournalLocked {
            path: journal.to_path_buf(),
        });
    }
    let refuse = |message: String| {
        Err(Error::Journal {
            path: journal.to_path_buf(),
            message,
        })
    };
    let held = held_run(journal)?;
    if let (Some(held), Some(asked)) = (&held, usage.procedure())
        && held.procedure != asked
    {
        return refuse(format!("holds a {} run, not a {asked}", held.procedure));
    }
    match (held, usage) {
        (Some(held), JournalUse::Start(procedure)) if held.finished => refuse(format!(
            "holds a completed {procedure}; give another --journal for a new run"
        )),
        (Some(_), JournalUse::Start(procedure)) => refuse(format!(
            "holds an interrupted {procedure}; run the same command with --resume to continue it"
        )),
        (None, JournalUse::Resume(_)) => refuse("holds no run to resume".into()),
        (Some(_), JournalUse::Resume(_)) | (None, JournalUse::Start(_)) => Ok(()),
    }
}

/// Whether another run holds the journal's lock.
fn is_locked(journal: &Path) -> bool {
    std::fs::File::open(journal)
        .is_ok_and(|file| matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)))
}

/// The run the journal holds; none when the file does not exist or holds no record.
fn held_run(journal: &Path) -> Result<Option<HeldRun>> {
    if !journal.exists() {
        return Ok(None);
    }
    let records = read_records(journal)?;
    let procedure = records.iter().find_map(|r| match r {
        Record::Started { procedure, .. } => Some(*procedure),
        _ => None,
    });
    Ok(procedure.map(|procedure| HeldRun {
        procedure,
        finished: records.iter().any(|r| matches!(r, Record::Finished { .. })),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::procedure::{RunOptions, failback, failover};
    use crate::runbook::{JOURNAL_FORMAT, Journal};
    use chrono::Utc;
    use std::path::PathBuf;

    const FAILOVER: Procedure = failover::PROCEDURE;
    const FAILBACK: Procedure = failback::PROCEDURE;

    /// A journal in a new folder holding a failover, finished or not.
    fn failover_journal(finished: bool) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pcdr-failover.journal");
        let mut journal = Journal::create(&path).unwrap();
        journal
            .append(&Record::Started {
                format: JOURNAL_FORMAT,
                procedure: FAILOVER,
                run_id: "20261127130000".into(),
                options: RunOptions::default(),
                deployment: None,
                at: Utc::now(),
            })
            .unwrap();
        if finished {
            journal
                .append(&Record::Finished { at: Utc::now() })
                .unwrap();
        }
        (dir, path)
    }

    /// The refusal's kind and message.
    fn refusal(journal: &Path, usage: JournalUse) -> (ErrorKind, String) {
        let error = check_journal(journal, usage).unwrap_err();
        (error.kind(), error.to_string())
    }

    #[test]
    fn a_missing_journal_takes_a_new_run_and_has_nothing_to_resume() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("none.journal");
        check_journal(&journal, JournalUse::Start(FAILOVER)).unwrap();
        let (kind, message) = refusal(&journal, JournalUse::Resume(Some(FAILBACK)));
        assert_eq!(kind, ErrorKind::Journal);
        assert!(
            message.ends_with("none.journal: holds no run to resume"),
            "{message}"
        );
        assert!(!journal.exists(), "a check creates no journal");
    }

    #[test]
    fn an_interrupted_run_is_resumed_not_started_over() {
        let (_dir, journal) = failover_journal(false);
        check_journal(&journal, JournalUse::Resume(Some(FAILOVER))).unwrap();
        check_journal(&journal, JournalUse::Resume(None)).unwrap();
        let (kind, message) = refusal(&journal, JournalUse::Start(FAILOVER));
        assert_eq!(kind, ErrorKind::Journal);
        assert!(
            message.contains("holds an interrupted failover; run the same command with --resume"),
            "{message}"
        );
    }

    #[test]
    fn a_completed_run_takes_no_new_run_but_resumes_to_its_report() {
        let (_dir, journal) = failover_journal(true);
        check_journal(&journal, JournalUse::Resume(Some(FAILOVER))).unwrap();
        let (kind, message) = refusal(&journal, JournalUse::Start(FAILOVER));
        assert_eq!(kind, ErrorKind::Journal);
        assert!(message.contains("holds a completed failover; give another --journal"));
    }

    #[test]
    fn a_run_of_another_procedure_is_neither_started_over_nor_resumed() {
        let (_dir, journal) = failover_journal(false);
        for usage in [
            JournalUse::Start(FAILBACK),
            JournalUse::Resume(Some(FAILBACK)),
        ] {
            let (kind, message) = refusal(&journal, usage);
            assert_eq!(kind, ErrorKind::Journal);
            assert!(
                message.contains("holds a failover run, not a failback"),
                "{message}"
            );
        }
    }

    #[test]
    fn a_journal_another_run_holds_is_refused_as_locked_whatever_it_holds() {
        let (_dir, journal) = failover_journal(true);
        let (holder, _) = Journal::reopen(&journal).unwrap();
        for usage in [JournalUse::Start(FAILBACK), JournalUse::Resume(None)] {
            let error = check_journal(&journal, usage).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::JournalLocked);
            assert_eq!(error.journal_path(), Some(journal.as_path()));
        }
        drop(holder);
        check_journal(&journal, JournalUse::Resume(None)).unwrap();
    }
}
