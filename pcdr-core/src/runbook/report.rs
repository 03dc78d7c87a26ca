//! The report of a run: each step's timing and outcome, the recovery time, and the
//! evidence of how much data, if any, was lost. Built from the journal, so a resumed
//! run reports every step, including those of earlier attempts.

use super::journal::Record;
use crate::log_chain::{LogChainGap, Lsn};
use crate::procedure::{Facts, Procedure, StepId, StepOutcome};
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
    /// When that backup finished: nothing after it is in the database.
    pub last_applied_finish: Option<DateTime<Utc>>,
    /// The database's restore point.
    pub restore_point: Option<Lsn>,
    /// A gap the operator accepted: the transactions lost.
    pub accepted_gap: Option<LogChainGap>,
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
            .map(|(start, end)| (end - start).num_milliseconds() as f64 / 1000.0);
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
            rpo: RpoEvidence {
                last_applied_file: None,
                last_applied_finish: None,
                restore_point: None,
                accepted_gap: None,
            },
            files_copied: 0,
            bytes_copied: 0,
            logs_restored: 0,
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
        self.rpo = RpoEvidence {
            last_applied_file: facts.last_applied.as_ref().map(|b| b.file.clone()),
            last_applied_finish: facts.last_applied.as_ref().map(|b| b.header.backup_finish),
            restore_point: facts.restore_point,
            accepted_gap: facts.accepted_gap.clone(),
        };
        self.files_copied = facts.files_copied;
        self.bytes_copied = facts.bytes_copied;
        self.logs_restored = facts.logs_restored;
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}
