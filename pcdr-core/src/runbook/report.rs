//! The report of a run: each step's timing and outcome, the recovery time, the pool's
//! outage (the window in which it served no one, and the bytes moved inside it), and the
//! evidence of how much data, if any, was lost. Built from the journal, so a resumed
//! run reports every step, including those of earlier attempts.

use super::journal::Record;
use crate::log_chain::{LogChainGap, Lsn};
use crate::procedure::{Facts, Procedure, ShareNotRead, StepId, StepOutcome};
use crate::schema::{Document, Versioned};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One step in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    /// The step.
    pub step: StepId,
    /// What it does.
    pub title: &'static str,
    /// When it last started.
    pub started: Option<DateTime<Utc>>,
    /// When it last ended.
    pub ended: Option<DateTime<Utc>>,
    /// Milliseconds between the two.
    pub millis: Option<i64>,
    /// How it ended, if it ended well.
    pub outcome: Option<StepOutcome>,
    /// Its last error, if it failed.
    pub error: Option<String>,
}

/// How much data the run can prove it kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RpoEvidence {
    /// The last log backup the database holds.
    pub last_applied_file: Option<String>,
    /// When that backup finished, in UTC (SQL Server's local `BackupFinishDate`
    /// converted with the offset the backup instance gives): nothing after it is in the
    /// database.
    pub last_applied_finish: Option<DateTime<Utc>>,
    /// The database's restore point.
    pub restore_point: Option<Lsn>,
    /// A gap the operator accepted: the transactions lost.
    pub accepted_gap: Option<LogChainGap>,
    /// The share the copy step could not read while data loss was accepted: the log
    /// backups only it held are lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_not_read: Option<ShareNotRead>,
    /// When a data loss was accepted (a gap, an unreadable share): the first log record
    /// the database does not hold. Every transaction from it on is lost, and only those.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost_from: Option<Lsn>,
}

impl RpoEvidence {
    /// The evidence in `facts`.
    fn of(facts: &Facts) -> Self {
        let gap_start = facts.accepted_gap.as_ref().map(|gap| gap.missing_from);
        let share_loss = facts.share_not_read.as_ref().and(facts.restore_point);
        Self {
            last_applied_file: facts.last_applied.as_ref().map(|b| b.file.clone()),
            last_applied_finish: facts.last_applied.as_ref().map(|b| b.header.backup_finish),
            restore_point: facts.restore_point,
            accepted_gap: facts.accepted_gap.clone(),
            share_not_read: facts.share_not_read.clone(),
            lost_from: gap_start.or(share_loss),
        }
    }
}

/// The window in which the pool served no one: from the start of the step that fenced
/// it (or from the run's start, when the pool served no one already) to the end of the
/// step that activated its servers again. The fencing and activating steps are marked
/// in their procedure's step table ([`Outage`](crate::procedure::Outage)).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutageWindow {
    /// The step that fenced the pool; none when the pool served no one when the run
    /// started (a failover: the primary is lost), and the window opens with the run.
    pub fenced_by: Option<StepId>,
    /// When the window opened.
    pub started: DateTime<Utc>,
    /// When the activating step ended; none while the window is still open.
    pub ended: Option<DateTime<Utc>>,
    /// Seconds from the start to the end or, while the window is open, to the journal's
    /// last record.
    pub seconds: f64,
    /// The bytes the steps inside the window moved: log backups copied and restored,
    /// full backups written and restored (each full backup's and log backup's
    /// `BackupSize`, a copy's size on disk).
    pub bytes_moved: u64,
}

impl OutageWindow {
    /// The window `records` show for a run of `procedure`; none before it opened, and
    /// none for a procedure that never takes the pool away (no activating step).
    fn of(procedure: Procedure, records: &[Record]) -> Option<Self> {
        let fence = procedure.fencing_step();
        let activation = Some(procedure.activating_step()?);
        let mut window: Option<Self> = None;
        let (mut moved, mut moved_before) = (0, 0);
        for record in records {
            if window.is_none() && opens(record, fence) {
                moved_before = moved;
                window = Some(Self::opened(fence, time_of(record)));
            }
            if let Record::StepFinished { facts, .. } | Record::StepFailed { facts, .. } = record {
                moved = facts.bytes_moved;
            }
            if let Some(open) = window.as_mut().filter(|w| w.ended.is_none()) {
                open.seconds = seconds_between(open.started, time_of(record));
                open.bytes_moved = moved.saturating_sub(moved_before);
                if matches!(record, Record::StepFinished { step, .. } if Some(*step) == activation)
                {
                    open.ended = Some(time_of(record));
                }
            }
        }
        window
    }

    fn opened(fenced_by: Option<StepId>, started: DateTime<Utc>) -> Self {
        Self {
            fenced_by,
            started,
            ended: None,
            seconds: 0.0,
            bytes_moved: 0,
        }
    }
}

/// Whether `record` opens the outage: the fencing step's start or, for a procedure with
/// none, the run's start.
fn opens(record: &Record, fence: Option<StepId>) -> bool {
    match record {
        Record::Started { .. } => fence.is_none(),
        Record::StepStarted { step, .. } => Some(*step) == fence,
        _ => false,
    }
}

/// When `record` was written.
fn time_of(record: &Record) -> DateTime<Utc> {
    match record {
        Record::Started { at, .. }
        | Record::Resumed { at, .. }
        | Record::StepStarted { at, .. }
        | Record::StepFinished { at, .. }
        | Record::StepFailed { at, .. }
        | Record::Finished { at } => *at,
    }
}

fn seconds_between(start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
    (end - start).num_milliseconds() as f64 / 1000.0
}

/// The report of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Which procedure.
    pub procedure: Procedure,
    /// The run id.
    pub run_id: String,
    /// When the run first started.
    pub started: Option<DateTime<Utc>>,
    /// When it finished, if it did.
    pub finished: Option<DateTime<Utc>>,
    /// Wall time from start to finish (or to the last record), seconds: the recovery time.
    pub rto_seconds: Option<f64>,
    /// Whether every step is done.
    pub completed: bool,
    /// The pool's outage; none when the run has not yet fenced the pool.
    pub outage: Option<OutageWindow>,
    /// The steps, in procedure order.
    pub steps: Vec<StepReport>,
    /// Data-loss evidence.
    pub rpo: RpoEvidence,
    /// Log backups copied.
    pub files_copied: u64,
    /// Bytes copied.
    pub bytes_copied: u64,
    /// Log backups restored.
    pub logs_restored: u64,
    /// What the run found that an operator must know but that did not stop it: files
    /// it did not use, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The JSON shape's version (see [`crate::schema`]).
impl Document for Report {
    const SCHEMA_VERSION: u32 = 1;
}

impl Report {
    /// Folds journal records into a report.
    pub fn from_records(procedure: Procedure, records: &[Record]) -> Self {
        let mut report = Self::empty(procedure);
        let mut facts = Facts::default();
        let mut last_at = None;
        for record in records {
            report.apply(record, &mut facts, &mut last_at);
        }
        report.rto_seconds = report
            .started
            .zip(report.finished.or(last_at))
            .map(|(start, end)| seconds_between(start, end));
        report.outage = OutageWindow::of(procedure, records);
        report.set_facts(&facts);
        report
    }

    fn empty(procedure: Procedure) -> Self {
        Self {
            procedure,
            run_id: String::new(),
            started: None,
            finished: None,
            rto_seconds: None,
            completed: false,
            outage: None,
            steps: procedure
                .steps()
                .iter()
                .map(|&step| StepReport {
                    step,
                    title: step.title(),
                    started: None,
                    ended: None,
                    millis: None,
                    outcome: None,
                    error: None,
                })
                .collect(),
            rpo: RpoEvidence::of(&Facts::default()),
            files_copied: 0,
            bytes_copied: 0,
            logs_restored: 0,
            warnings: Vec::new(),
        }
    }

    fn apply(&mut self, record: &Record, facts: &mut Facts, last_at: &mut Option<DateTime<Utc>>) {
        match record {
            Record::Started { run_id, at, .. } => {
                self.run_id = run_id.clone();
                self.started = Some(*at);
                *last_at = Some(*at);
            }
            Record::Resumed { at, .. } => *last_at = Some(*at),
            Record::StepStarted { step, at } => {
                if let Some(s) = self.step_mut(*step) {
                    s.started = Some(*at);
                }
                *last_at = Some(*at);
            }
            Record::StepFinished {
                step,
                outcome,
                facts: after,
                at,
            } => {
                self.end_step(*step, *at, Some(outcome.clone()), None);
                *facts = after.clone();
                *last_at = Some(*at);
            }
            Record::StepFailed {
                step,
                error,
                facts: after,
                at,
            } => {
                self.end_step(*step, *at, None, Some(error.clone()));
                *facts = after.clone();
                *last_at = Some(*at);
            }
            Record::Finished { at } => {
                self.finished = Some(*at);
                self.completed = true;
            }
        }
    }

    fn step_mut(&mut self, step: StepId) -> Option<&mut StepReport> {
        self.steps.iter_mut().find(|s| s.step == step)
    }

    fn end_step(
        &mut self,
        step: StepId,
        at: DateTime<Utc>,
        outcome: Option<StepOutcome>,
        error: Option<String>,
    ) {
        if let Some(s) = self.step_mut(step) {
            s.ended = Some(at);
            s.millis = s.started.map(|start| (at - start).num_milliseconds());
            s.outcome = outcome;
            s.error = error;
        }
    }

    fn set_facts(&mut self, facts: &Facts) {
        self.rpo = RpoEvidence::of(facts);
        self.files_copied = facts.files_copied;
        self.bytes_copied = facts.bytes_copied;
        self.logs_restored = facts.logs_restored;
        self.warnings = facts.warnings.clone();
    }

    /// The report as pretty JSON, with its `schema_version` ([`crate::schema`]).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&Versioned::new(self))
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_chain::{BackupHeader, BackupType, LogBackup};
    use crate::procedure::RunOptions;
    use crate::procedure::{failback, failover};
    use crate::runbook::JOURNAL_FORMAT;
    use chrono::{Duration, TimeZone};

    /// `seconds` after 2026-11-27 13:00:00 UTC.
    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 13, 0, 0).unwrap() + Duration::seconds(seconds)
    }

    fn log_backup(index: u32) -> LogBackup {
        LogBackup {
            file: format!(r"D:\LogShipping\mgc\mgc_2026112712{index:02}00.trn"),
            header: BackupHeader {
                database_name: "mgc".into(),
                backup_type: BackupType::Log,
                first_lsn: Lsn(u128::from(index) * 100),
                last_lsn: Lsn(u128::from(index + 1) * 100),
                family_guid: "6F9619FF-8B86-D011-B42D-00C04FC964FF".into(),
                binding_id: String::new(),
                backup_start: at(-3600 + i64::from(index) * 60),
                backup_finish: at(-3590 + i64::from(index) * 60),
                database_backup_lsn: Lsn(100),
                first_recovery_fork: Some("0B1C2D3E-0000-4000-8000-00000000F0A1".into()),
                recovery_fork: Some("0B1C2D3E-0000-4000-8000-00000000F0A1".into()),
                backup_size: 1024,
            },
        }
    }

    /// What the run knew after recovering past the gap between log backups 3 and 5.
    fn facts_after_the_gap() -> Facts {
        Facts {
            last_applied: Some(log_backup(3)),
            restore_point: Some(Lsn(400)),
            accepted_gap: Some(LogChainGap {
                missing_from: Lsn(400),
                missing_to: Lsn(500),
                last_good: Some(log_backup(3)),
                next_file: log_backup(5).file,
            }),
            files_copied: 2,
            bytes_copied: 2048,
            logs_restored: 1,
            bytes_moved: 2048 + 1024,
            ..Facts::default()
        }
    }

    fn done(step: StepId) -> StepOutcome {
        StepOutcome::Done {
            summary: format!("{} done", step.as_str()),
        }
    }

    /// A step that started at `start` and ended 5 seconds later with `outcome`.
    fn step_ended(step: StepId, start: i64, outcome: StepOutcome, facts: &Facts) -> [Record; 2] {
        [
            Record::StepStarted {
                step,
                at: at(start),
            },
            Record::StepFinished {
                step,
                outcome,
                facts: facts.clone(),
                at: at(start + 5),
            },
        ]
    }

    /// A failover refused at its fifth step by a gap in the log chain, resumed with the
    /// data loss accepted, and completed; its sixth step found its work done.
    fn records() -> Vec<Record> {
        let steps = failover::PROCEDURE.steps();
        let mut records = vec![Record::Started {
            format: JOURNAL_FORMAT,
            procedure: failover::PROCEDURE,
            run_id: "20261127130000".into(),
            options: RunOptions::default(),
            deployment: None,
            at: at(0),
        }];
        for (index, &step) in (0..).zip(&steps[..4]) {
            records.extend(step_ended(step, index * 10, done(step), &Facts::default()));
        }
        records.extend([
            Record::StepStarted {
                step: steps[4],
                at: at(40),
            },
            Record::StepFailed {
                step: steps[4],
                error: "log records from LSN 400 to 500 are in no available log backup".into(),
                facts: Facts::default(),
                at: at(42),
            },
            Record::Resumed {
                options: RunOptions {
                    accept_data_loss: true,
                    ..RunOptions::default()
                },
                at: at(100),
            },
        ]);
        for (index, &step) in (0..).zip(&steps[4..]) {
            let outcome = if index == 1 {
                StepOutcome::Skipped {
                    reason: "already done".into(),
                }
            } else {
                done(step)
            };
            records.extend(step_ended(
                step,
                100 + index * 10,
                outcome,
                &facts_after_the_gap(),
            ));
        }
        records.push(Record::Finished { at: at(200) });
        records
    }

    /// A failback whose step `i` starts at `10 i` seconds and in which each step moves
    /// `moved_by(step)` bytes, stopped before the step at `until`.
    fn failback_records(until: usize, moved_by: fn(StepId) -> u64) -> Vec<Record> {
        let mut records = vec![Record::Started {
            format: JOURNAL_FORMAT,
            procedure: failback::PROCEDURE,
            run_id: "20261127130000".into(),
            options: RunOptions::default(),
            deployment: None,
            at: at(0),
        }];
        let mut facts = Facts::default();
        for (index, &step) in (0..).zip(&failback::PROCEDURE.steps()[..until]) {
            facts.bytes_moved += moved_by(step);
            records.extend(step_ended(step, index * 10, done(step), &facts));
        }
        records
    }

    /// Where `step` is in the failback.
    fn failback_position(step: StepId) -> usize {
        failback::PROCEDURE
            .steps()
            .iter()
            .position(|&s| s == step)
            .unwrap()
    }

    #[test]
    fn a_failover_outage_runs_from_the_run_start_to_the_activation_and_counts_its_logs() {
        let report = Report::from_records(failover::PROCEDURE, &records());
        let outage = report
            .outage
            .expect("a failover's pool serves no one from the start");
        assert_eq!(outage.fenced_by, None);
        assert_eq!(outage.started, at(0));
        assert_eq!(outage.ended, Some(at(145)), "activate_backup_servers's end");
        assert_eq!(outage.seconds, 145.0);
        assert_eq!(
            outage.bytes_moved,
            2048 + 1024,
            "log backups copied and restored"
        );
    }

    #[test]
    fn a_failback_outage_runs_from_the_fence_start_to_the_activation_end() {
        let steps = failback::PROCEDURE.steps().len();
        let report = Report::from_records(failback::PROCEDURE, &failback_records(steps, |_| 100));
        let fence = failback_position(failback::CLEAR_ACTIVE_SERVERS);
        let activation = failback_position(failback::ACTIVATE_PRIMARY_SERVERS);
        let outage = report.outage.unwrap();
        assert_eq!(outage.fenced_by, Some(failback::CLEAR_ACTIVE_SERVERS));
        assert_eq!(outage.started, at(fence as i64 * 10));
        assert_eq!(outage.ended, Some(at(activation as i64 * 10 + 5)));
        assert_eq!(outage.seconds, ((activation - fence) * 10 + 5) as f64);
        assert!(
            activation + 1 < steps,
            "a step after the activation moves bytes too"
        );
        assert_eq!(
            outage.bytes_moved,
            100 * (activation + 1 - fence) as u64,
            "only the bytes of the steps from the fence to the activation"
        );
    }

    #[test]
    fn an_unfinished_run_reports_its_outage_still_open_until_its_last_record() {
        let activation = failback_position(failback::ACTIVATE_PRIMARY_SERVERS);
        let fence = failback_position(failback::CLEAR_ACTIVE_SERVERS);
        let records = failback_records(activation, |_| 100);
        let outage = Report::from_records(failback::PROCEDURE, &records)
            .outage
            .unwrap();
        assert_eq!(outage.ended, None);
        assert_eq!(outage.seconds, ((activation - 1 - fence) * 10 + 5) as f64);
        assert_eq!(outage.bytes_moved, 100 * (activation - fence) as u64);
        let before_the_fence = failback_records(fence, |_| 100);
        let report = Report::from_records(failback::PROCEDURE, &before_the_fence);
        assert_eq!(
            report.outage, None,
            "the pool still serves before the fence"
        );
    }

    /// Bytes a failback's steps move: its full backups and restores, and a step before
    /// the fence and one after the activation that move some too.
    fn full_backups_and_restores(step: StepId) -> u64 {
        const GIB: u64 = 1 << 30;
        match step {
            failback::CHECK_REBUILT_PRIMARY | failback::SET_POOL_NORMAL => 7,
            failback::BACKUP_FOR_FAILBACK => 2 * GIB,
            failback::RESTORE_PRIMARY => 2 * GIB + (1 << 20),
            failback::REINITIALIZE_BACKUP => 2 * (2 * GIB),
            _ => 0,
        }
    }

    #[test]
    fn a_failback_outage_counts_its_full_backups_and_restores_and_nothing_outside_it() {
        let steps = failback::PROCEDURE.steps().len();
        let records = failback_records(steps, full_backups_and_restores);
        let outage = Report::from_records(failback::PROCEDURE, &records)
            .outage
            .unwrap();
        let gib = 1 << 30;
        assert_eq!(outage.bytes_moved, 8 * gib + (1 << 20));
    }

    #[test]
    fn an_unread_share_is_an_accepted_loss_from_the_restore_point_on() {
        let facts = Facts {
            last_applied: Some(log_backup(3)),
            restore_point: Some(Lsn(400)),
            share_not_read: Some(ShareNotRead {
                share: r"\\fs01\pchat-logs".into(),
                reason: "the network path was not found".into(),
            }),
            ..Facts::default()
        };
        let rpo = RpoEvidence::of(&facts);
        assert_eq!(rpo.lost_from, Some(Lsn(400)));
        assert_eq!(rpo.share_not_read, facts.share_not_read);
        assert_eq!(RpoEvidence::of(&Facts::default()).lost_from, None);
        let gap = RpoEvidence::of(&facts_after_the_gap());
        assert_eq!(gap.lost_from, Some(Lsn(400)));
    }

    #[test]
    fn the_report_json_matches_its_snapshot() {
        let report = Report::from_records(failover::PROCEDURE, &records());
        crate::snapshot::assert_snapshot(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/report.json"),
            &report.to_json(),
        );
    }
}
