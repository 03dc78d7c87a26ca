//! The journal: one JSON record per line, in a file only its owner can read, locked so
//! that two runs never share it. Every record that holds a decision, a fact or an end
//! reaches the disk before the run changes anything more: a step's end is flushed while
//! the next step observes, and its first action waits for the flush. A step's start is
//! written but not flushed, since losing it in a crash loses nothing (the step observes
//! again on resume).
//!
//! A crash at any point leaves a prefix of complete lines (a torn last line is ignored
//! on reading), from which [`Runbook::resume`](super::Runbook::resume) continues.
//!
//! The first record names the journal's format ([`JOURNAL_FORMAT`]), read before any
//! other record: a journal written by a newer pcdr is refused rather than misread.

use super::Deployment;
use crate::error::{Error, Result};
use crate::procedure::{Facts, Procedure, RunOptions, StepId, StepOutcome};
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The format of the journals this pcdr writes, recorded in their first record.
///
/// - Format 1: the journals of pcdr before the format was recorded (no `format` key).
/// - Format 2: the same records, with `format` in the first one.
///
/// Raise it when a record changes so that an older pcdr would misread it (a record
/// kind, a key renamed or removed, a meaning changed). This pcdr reads formats 1 to
/// this one and refuses newer ones.
pub const JOURNAL_FORMAT: u32 = 2;

/// The format of a journal whose first record names none.
const UNRECORDED_FORMAT: u32 = 1;

fn unrecorded_format() -> u32 {
    UNRECORDED_FORMAT
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    /// A run began.
    Started {
        /// The journal's format: [`JOURNAL_FORMAT`] when this pcdr wrote it, 1 when the
        /// record names none.
        #[serde(default = "unrecorded_format")]
        format: u32,
        /// Which procedure.
        procedure: Procedure,
        /// The run id (stable across resumes).
        run_id: String,
        /// The operator's options at the start.
        options: RunOptions,
        /// The deployment the run acts on, and who started it where; absent in journals
        /// of format 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deployment: Option<Deployment>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A run was resumed.
    Resumed {
        /// The options of the resumed run.
        options: RunOptions,
        /// When.
        at: DateTime<Utc>,
    },
    /// A step started.
    StepStarted {
        /// The step.
        step: StepId,
        /// When.
        at: DateTime<Utc>,
    },
    /// A step ended, verified.
    StepFinished {
        /// The step.
        step: StepId,
        /// Done or skipped.
        outcome: StepOutcome,
        /// The facts after the step.
        facts: Facts,
        /// When.
        at: DateTime<Utc>,
    },
    /// A step failed.
    StepFailed {
        /// The step.
        step: StepId,
        /// The error.
        error: String,
        /// The facts at the failure.
        facts: Facts,
        /// When.
        at: DateTime<Utc>,
    },
    /// Every step is done.
    Finished {
        /// When.
        at: DateTime<Utc>,
    },
}

/// An open, locked journal.
pub struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Creates a new journal; refuses a file that already holds records.
    pub fn create(path: &Path) -> Result<Self> {
        let journal = Self::open(path)?;
        if !read_records(path)?.is_empty() {
            return Err(journal_error(
                path,
                "already holds a run; resume it, or choose another journal file for a new run",
            ));
        }
        Ok(journal)
    }

    /// Opens an existing journal for appending, and reads its records.
    pub fn reopen(path: &Path) -> Result<(Self, Vec<Record>)> {
        if !path.exists() {
            return Err(journal_error(
                path,
                "does not exist; there is nothing to resume",
            ));
        }
        let journal = Self::open(path)?;
        let text = read_text(path)?;
        journal.cut_torn_tail(&text)?;
        let records = parse_records(path, &text)?;
        Ok((journal, records))
    }

    /// Cuts a last line a crash left incomplete (`text` is the file's content), so that
    /// the next record starts a line of its own.
    fn cut_torn_tail(&self, text: &[u8]) -> Result<()> {
        let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if complete == text.len() {
            return Ok(());
        }
        self.file
            .set_len(complete as u64)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| journal_error(&self.path, &e.to_string()))
    }

    fn open(path: &Path) -> Result<Self> {
        let file = crate::private_file::open_append(path)
            .map_err(|e| journal_error(path, &e.to_string()))?;
        match file.try_lock() {
            Ok(()) => Ok(Self {
                path: path.to_path_buf(),
                file,
            }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::JournalLocked {
                path: path.to_path_buf(),
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(journal_error(path, &e.to_string())),
        }
    }

    /// Appends a record; flushes it to disk unless it only marks a step's start.
    pub fn append(&mut self, record: &Record) -> Result<()> {
        self.write(record)?;
        if matches!(record, Record::StepStarted { .. }) {
            return Ok(());
        }
        self.file
            .sync_data()
            .map_err(|e| journal_error(&self.path, &e.to_string()))
    }

    /// Appends a record and returns the flush to disk of everything written so far,
    /// already running on a blocking thread: the caller observes meanwhile, and awaits
    /// it before the next change.
    pub(crate) fn append_flushing(
        &mut self,
        record: &Record,
    ) -> Result<BoxFuture<'static, Result<()>>> {
        self.write(record)?;
        let file = self
            .file
            .try_clone()
            .map_err(|e| journal_error(&self.path, &e.to_string()))?;
        let path = self.path.clone();
        let flush = tokio::task::spawn_blocking(move || file.sync_data());
        Ok(Box::pin(async move {
            match flush.await {
                Ok(synced) => synced.map_err(|e| journal_error(&path, &e.to_string())),
                Err(e) => Err(journal_error(&path, &e.to_string())),
            }
        }))
    }

    fn write(&mut self, record: &Record) -> Result<()> {
        let mut line =
            serde_json::to_vec(record).map_err(|e| journal_error(&self.path, &e.to_string()))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .map_err(|e| journal_error(&self.path, &e.to_string()))
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Journal {
    /// Releases the lock explicitly rather than by closing the file: a process spawned
    /// by another thread holds a copy of every descriptor between its fork and its exec,
    /// and a lock released only by closing would outlive this journal for that moment.
    fn drop(&mut self) {
        // Nothing to report: closing the file right after releases the lock anyway.
        let _ = self.file.unlock();
    }
}

fn journal_error(path: &Path, message: &str) -> Error {
    Error::Journal {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Reads every complete record. A torn last line (a crash mid-write) is ignored; a bad
/// line elsewhere is an error.
pub fn read_records(path: &Path) -> Result<Vec<Record>> {
    parse_records(path, &read_text(path)?)
}

fn read_text(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| journal_error(path, &e.to_string()))
}

/// The records of a journal's content; `path` names it in errors.
fn parse_records(path: &Path, text: &[u8]) -> Result<Vec<Record>> {
    let mut lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    // A complete journal ends with a newline, after which `split` yields an empty piece.
    if lines.last().is_some_and(|line| line.is_empty()) {
        lines.pop();
    }
    if let Some(first) = lines.first() {
        check_format(path, first)?;
    }
    let mut records = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        match serde_json::from_slice(line) {
            Ok(record) => records.push(record),
            Err(_) if index + 1 == lines.len() => break,
            Err(e) => return Err(journal_error(path, &format!("line {}: {e}", index + 1))),
        }
    }
    Ok(records)
}

/// Just the format of a journal's first record, whatever else it holds: a newer
/// format may have changed the rest.
#[derive(Deserialize)]
struct FormatOnly {
    #[serde(default = "unrecorded_format")]
    format: u32,
}

/// Refuses a journal whose first line names a format this pcdr cannot read. A first
/// line that is not a record at all is left to the record parser (a torn line, or an
/// error naming the line).
fn check_format(path: &Path, first_line: &[u8]) -> Result<()> {
    let Ok(FormatOnly { format }) = serde_json::from_slice(first_line) else {
        return Ok(());
    };
    match format {
        UNRECORDED_FORMAT..=JOURNAL_FORMAT => Ok(()),
        newer if newer > JOURNAL_FORMAT => Err(journal_error(
            path,
            &format!(
                "this journal was written by a newer pcdr (journal format {newer}; this pcdr \
                 reads formats {UNRECORDED_FORMAT} to {JOURNAL_FORMAT}); resume it with that version"
            ),
        )),
        unknown => Err(journal_error(
            path,
            &format!(
                "names journal format {unknown}, which no pcdr writes; it is not a pcdr journal"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procedure::failover;

    fn started() -> Record {
        Record::Started {
            format: JOURNAL_FORMAT,
            procedure: failover::PROCEDURE,
            run_id: "r1".into(),
            options: RunOptions::default(),
            deployment: None,
            at: Utc::now(),
        }
    }

    /// Leaves half a record at the end, as a crash in the middle of a write would.
    fn tear(path: &Path) {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .unwrap()
            .write_all(b"{\"record\":\"step_sta")
            .unwrap();
    }

    #[test]
    fn records_round_trip_and_a_torn_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        {
            let mut journal = Journal::create(&path).unwrap();
            journal.append(&started()).unwrap();
        }
        tear(&path);
        let records = read_records(&path).unwrap();
        assert_eq!(records.len(), 1);
        assert!(matches!(records[0], Record::Started { ref run_id, .. } if run_id == "r1"));
    }

    #[test]
    fn a_run_resumed_after_a_torn_line_keeps_a_readable_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        Journal::create(&path).unwrap().append(&started()).unwrap();
        tear(&path);
        let (mut journal, records) = Journal::reopen(&path).unwrap();
        assert_eq!(records.len(), 1);
        journal
            .append(&Record::Finished { at: Utc::now() })
            .unwrap();
        let records = read_records(&path).unwrap();
        assert_eq!(records.len(), 2, "{records:?}");
        assert!(matches!(records[1], Record::Finished { .. }));
    }

    #[test]
    fn a_closed_journal_is_free_even_while_a_copy_of_its_descriptor_lives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let journal = Journal::create(&path).unwrap();
        // What a child process forked by another thread holds until its exec.
        let forked_copy = journal.file.try_clone().unwrap();
        drop(journal);
        assert!(Journal::reopen(&path).is_ok());
        drop(forked_copy);
    }

    #[test]
    fn a_second_opener_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let _first = Journal::create(&path).unwrap();
        let second = Journal::create(&path);
        assert!(
            matches!(second, Err(Error::JournalLocked { .. })),
            "{:?}",
            second.err()
        );
    }

    #[test]
    fn create_refuses_a_journal_that_holds_a_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        Journal::create(&path).unwrap().append(&started()).unwrap();
        let err = Journal::create(&path).err().unwrap();
        assert!(err.to_string().contains("already holds a run"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn the_journal_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        Journal::create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    /// An interrupted failover journaled by pcdr before the format was recorded.
    const FORMAT_1_FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/journal-format-1.jsonl"
    );

    fn format_of(record: &Record) -> Option<u32> {
        match record {
            Record::Started { format, .. } => Some(*format),
            _ => None,
        }
    }

    #[test]
    fn a_new_journal_records_the_current_format_in_its_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        Journal::create(&path).unwrap().append(&started()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with(r#"{"record":"started","format":2,"#),
            "{text}"
        );
        let records = read_records(&path).unwrap();
        assert_eq!(format_of(&records[0]), Some(JOURNAL_FORMAT));
    }

    #[test]
    fn a_journal_without_a_format_is_format_1_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::copy(FORMAT_1_FIXTURE, &path).unwrap();
        let (mut journal, records) = Journal::reopen(&path).unwrap();
        assert_eq!(records.len(), 10, "{records:?}");
        assert_eq!(format_of(&records[0]), Some(1));
        assert!(matches!(records[7], Record::Resumed { .. }));
        journal
            .append(&Record::Finished { at: Utc::now() })
            .unwrap();
        assert_eq!(read_records(&path).unwrap().len(), 11);
    }

    /// A journal whose first record names `format`, followed by a record kind this pcdr
    /// does not know.
    fn journal_of_format(path: &Path, format: u32) {
        let first = format!(
            r#"{{"record":"started","format":{format},"procedure":"failover","run_id":"r1","options":{{}},"at":"2026-11-27T13:00:00Z"}}"#
        );
        let text = format!("{first}\n{{\"record\":\"paused\"}}\n");
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn a_journal_of_a_newer_format_is_refused_naming_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        journal_of_format(&path, JOURNAL_FORMAT + 1);
        let refusals = [
            read_records(&path).unwrap_err(),
            Journal::reopen(&path).err().unwrap(),
        ];
        for err in refusals {
            let Error::Journal { message, .. } = &err else {
                panic!("not a journal error: {err}");
            };
            let expected = format!(
                "this journal was written by a newer pcdr (journal format {}; this pcdr reads \
                 formats 1 to {JOURNAL_FORMAT}); resume it with that version",
                JOURNAL_FORMAT + 1
            );
            assert_eq!(message, &expected);
        }
    }

    #[test]
    fn a_journal_of_format_0_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        journal_of_format(&path, 0);
        let err = read_records(&path).unwrap_err();
        assert!(matches!(err, Error::Journal { .. }), "{err}");
        assert!(err.to_string().contains("format 0"), "{err}");
    }

    #[test]
    fn a_bad_line_in_the_middle_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(
            &path,
            "garbage\n{\"record\":\"finished\",\"at\":\"2026-11-27T13:00:00Z\"}\n",
        )
        .unwrap();
        let err = read_records(&path).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
