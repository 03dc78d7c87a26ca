//! The runbook: plan, execute with a journal, resume, report.
//!
//! [`Runbook`] wraps a [`Context`] with a journal file. [`Runbook::execute`] runs the
//! steps of a procedure in order, journaling each start and end (with the facts learned)
//! before going on; [`Runbook::resume`] reads the journal back and continues from the
//! first step not verified as done, whose observation then decides what is left. The
//! step logic itself lives in [`procedure`](crate::procedure). [`check_journal`] says,
//! before anything runs, whether a journal can take a new run or be resumed. A failback
//! starts from the log-shipping snapshot its failover journaled, read from the failover
//! journal its options name ([`RunOptions::failover_journal`]) before anything runs.

mod deployment;
mod failover_journal;
mod history;
mod journal;
mod journal_check;
mod plan;
mod report;
mod run_lock;
#[cfg(test)]
mod tests;

pub use deployment::Deployment;
pub use failover_journal::follows_a_failover;
pub use journal::{JOURNAL_FORMAT, Journal, Record, read_records};
pub use journal_check::{JournalUse, check_journal};
pub use plan::{Plan, PlannedStatus, PlannedStep, plan};
pub use report::{OutageWindow, Report, RpoEvidence, StepReport};
pub use run_lock::{resource as run_lock_resource, run_name as run_lock_name};

use crate::error::{Error, PreconditionKind, Result};
use crate::procedure::{
    Action, Context, Event, Intent, Procedure, RunOptions, STALE_AFTER_HOURS, StepId, StepOutcome,
    observe_step, run_step,
};
use chrono::Utc;
use failover_journal::adopt_failover_snapshot;
use history::History;
use run_lock::RunLocks;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A procedure run with a journal.
pub struct Runbook {
    ctx: Context,
    journal: PathBuf,
}

impl History {
    /// Refuses to go on with a run started more than [`STALE_AFTER_HOURS`] hours ago,
    /// unless the operator said so ([`RunOptions::resume_stale`]).
    fn check_age(&self, journal: &Path, options: &RunOptions) -> Result<()> {
        let hours = (Utc::now() - self.started_at).num_hours();
        if hours < STALE_AFTER_HOURS || options.resume_stale {
            return Ok(());
        }
        Err(Error::Journal {
            path: journal.to_path_buf(),
            message: format!(
                "holds a run started {hours} hours ago (more than {STALE_AFTER_HOURS}): what it records may no longer be true; start a new run with a new journal, or resume it anyway with --resume-stale (the resume_stale option of the C and Python bindings)"
            ),
        })
    }

    /// Refuses to go on with a run whose steps were done in another order than this
    /// pcdr runs them: a journal written by a version whose step table differed (for
    /// instance a failback that set log shipping up before mirroring the primary).
    /// The steps that send commands must have been done as a prefix of the table, in
    /// its order; checks run again on every resume and may have been run alone, so they
    /// do not count.
    fn check_order(&self, journal: &Path, ctx: &Context) -> Result<()> {
        let acting = |step: &&StepId| !step.declaration().is_check(ctx);
        let done: Vec<StepId> = self.done_in_order.iter().filter(acting).copied().collect();
        let table: Vec<StepId> = self
            .procedure
            .steps()
            .iter()
            .filter(acting)
            .copied()
            .collect();
        let Some(position) = done.iter().zip(&table).position(|(was, is)| was != is) else {
            return Ok(());
        };
        Err(Error::Journal {
            path: journal.to_path_buf(),
            message: format!(
                "records its steps in another order than this pcdr runs them: step {} was done where this pcdr runs {} (this pcdr's {} order: {}); finish the run with the pcdr version that started it, or start a new run with a new journal",
                done[position].as_str(),
                table[position].as_str(),
                self.procedure,
                table
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }

    /// Refuses to go on with a run written against another deployment than the one
    /// `ctx` acts on. A journal of format 1 names none, and is taken at its word. The
    /// backup database's identity is read only when everything else is the same.
    async fn check_deployment(&self, journal: &Path, ctx: &Context) -> Result<()> {
        let Some(then) = &self.deployment else {
            return Ok(());
        };
        let mut now = Deployment::of(&ctx.topology);
        if then.needs_backup_identity(&now) {
            now = Deployment::observed(ctx).await;
        }
        let differences = then.differences(&now);
        if differences.is_empty() {
            return Ok(());
        }
        Err(Error::Journal {
            path: journal.to_path_buf(),
            message: format!(
                "was written for another deployment (started on {} by {}): {}; resume it only against that deployment, or start a new run with a new journal",
                then.host,
                then.user,
                differences.join("; ")
            ),
        })
    }
}

impl Runbook {
    /// A runbook journaling to `journal`. The context's run id names the run.
    pub fn new(ctx: Context, journal: impl Into<PathBuf>) -> Self {
        Self {
            ctx,
            journal: journal.into(),
        }
    }

    /// The context.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The journal file.
    pub fn journal_path(&self) -> &Path {
        &self.journal
    }

    /// Observes the live state and describes each step. Read-only. A failback first
    /// reads the failover journal its options name, and refuses one that is not a
    /// completed failover of this deployment.
    pub async fn plan(&self, procedure: Procedure) -> Result<Plan> {
        adopt_failover_snapshot(&self.ctx, procedure)?;
        Ok(plan(&self.ctx, procedure).await)
    }

    /// Runs `procedure` from its first step, in a new journal, holding the run lock
    /// (see [`run_lock_resource`]) from the start of that step to the end of the run.
    pub async fn execute(&self, procedure: Procedure) -> Result<Report> {
        adopt_failover_snapshot(&self.ctx, procedure)?;
        let mut journal = Journal::create(&self.journal)?;
        journal.append(&self.started(procedure).await)?;
        let mut locks = RunLocks::new(procedure);
        let report = self
            .run_from(&mut journal, procedure, &HashSet::new(), &mut locks)
            .await;
        locks.release().await;
        report
    }

    /// Continues the run the journal holds, from the first step not verified as done.
    /// The context's facts are replaced by the journal's; its options (for instance an
    /// accepted data loss) are the ones of this call.
    pub async fn resume(self) -> Result<Report> {
        let (mut journal, records) = Journal::reopen(&self.journal)?;
        let history = History::read(&records).ok_or_else(|| Error::Journal {
            path: self.journal.clone(),
            message: "holds no run to resume".into(),
        })?;
        if history.finished {
            return Ok(Report::from_records(history.procedure, &records));
        }
        history.check_order(&self.journal, &self.ctx)?;
        history.check_deployment(&self.journal, &self.ctx).await?;
        history.check_age(&self.journal, &self.ctx.options)?;
        journal.append(&Record::Resumed {
            options: self.ctx.options.clone(),
            at: Utc::now(),
        })?;
        let ctx = self
            .ctx
            .with_run_id(history.run_id.clone())
            .with_facts(history.facts.clone())
            .resuming();
        adopt_failover_snapshot(&ctx, history.procedure)?;
        let resumed = Self {
            ctx,
            journal: self.journal,
        };
        let mut locks = RunLocks::new(history.procedure);
        let report = resumed
            .run_from(&mut journal, history.procedure, &history.done, &mut locks)
            .await;
        locks.release().await;
        report
    }

    /// Runs one step of the run the journal holds (or of a new one), journaled.
    pub async fn run_single_step(self, step: StepId) -> Result<StepOutcome> {
        let procedure = step.procedure();
        let (mut journal, records) = if self.journal.exists() {
            Journal::reopen(&self.journal)?
        } else {
            (Journal::create(&self.journal)?, Vec::new())
        };
        let history = History::read(&records);
        let done = history.as_ref().map(|h| h.done.clone()).unwrap_or_default();
        let ctx = match history {
            Some(history) if history.procedure != procedure => {
                return Err(Error::Journal {
                    path: self.journal.clone(),
                    message: format!("holds a {} run, not a {procedure}", history.procedure),
                });
            }
            Some(history) => {
                history.check_order(&self.journal, &self.ctx)?;
                history.check_deployment(&self.journal, &self.ctx).await?;
                history.check_age(&self.journal, &self.ctx.options)?;
                self.ctx
                    .with_run_id(history.run_id)
                    .with_facts(history.facts)
            }
            None => {
                journal.append(&self.started(procedure).await)?;
                self.ctx
            }
        };
        adopt_failover_snapshot(&ctx, procedure)?;
        let runbook = Self {
            ctx,
            journal: self.journal,
        };
        runbook.refuse_skipping_ahead(step, &done)?;
        let mut locks = RunLocks::new(procedure);
        let outcome = runbook.one_step(&mut journal, step, done, &mut locks).await;
        locks.release().await;
        outcome
    }

    /// Runs `step` alone, journaled; the last step done one at a time (`done` are the
    /// others) completes the run, as a whole run would.
    async fn one_step(
        &self,
        journal: &mut Journal,
        step: StepId,
        mut done: HashSet<StepId>,
        locks: &mut RunLocks,
    ) -> Result<StepOutcome> {
        let outcome = self.journaled_step(journal, step, locks).await?;
        self.ctx.journal_flushed().await?;
        done.insert(step);
        if step.procedure().steps().iter().all(|s| done.contains(s)) {
            journal.append(&Record::Finished { at: Utc::now() })?;
        }
        Ok(outcome)
    }

    /// A step run on its own cannot bypass the guards of the steps before it: one that
    /// sends commands runs only once every earlier step is done in this journal (checks,
    /// which send nothing, run any time).
    fn refuse_skipping_ahead(&self, step: StepId, done: &HashSet<StepId>) -> Result<()> {
        if step.declaration().is_check(&self.ctx) {
            return Ok(());
        }
        let earlier = step.procedure().steps().iter();
        let missing: Vec<&str> = earlier
            .take_while(|s| **s != step)
            .filter(|s| !done.contains(s))
            .map(|s| s.as_str())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::Precondition {
            step,
            kind: PreconditionKind::EarlierStep,
            message: format!(
                "the earlier steps {} are not done in the journal {}",
                missing.join(", "),
                self.journal.display()
            ),
            next: "run them first, in order, on the same journal (or run the whole procedure)"
                .into(),
        })
    }

    async fn started(&self, procedure: Procedure) -> Record {
        Record::Started {
            format: JOURNAL_FORMAT,
            procedure,
            run_id: self.ctx.run_id.clone(),
            options: self.ctx.options.clone(),
            deployment: Some(Deployment::observed(&self.ctx).await),
            at: Utc::now(),
        }
    }

    async fn run_from(
        &self,
        journal: &mut Journal,
        procedure: Procedure,
        done: &HashSet<StepId>,
        locks: &mut RunLocks,
    ) -> Result<Report> {
        let last_done = procedure.steps().iter().rev().find(|s| done.contains(s));
        for &step in procedure.steps() {
            if self.ctx.is_cancelled() {
                return Err(Error::Cancelled { step: Some(step) });
            }
            if done.contains(&step) && !self.runs_again(step, last_done == Some(&step)).await? {
                continue;
            }
            self.journaled_step(journal, step, locks).await?;
        }
        self.ctx.journal_flushed().await?;
        journal.append(&Record::Finished { at: Utc::now() })?;
        let records = read_records(journal.path())?;
        Ok(Report::from_records(procedure, &records))
    }

    /// On resume, whether a step the journal records as done runs again: the journal is
    /// evidence of what was done, not a permission. A step that sends nothing (a check)
    /// always runs again, since what it checked may have changed (the primary site may be
    /// back). The `last` step recorded as done is observed again: when it finds its work
    /// done it does not run; when it would only repeat what can be repeated safely
    /// ([`Action::is_repeatable`]: the pool cannot always report its active servers) it
    /// runs again; otherwise the world is not the one the journal describes, and the run
    /// stops.
    async fn runs_again(&self, step: StepId, last: bool) -> Result<bool> {
        if step.declaration().is_check(&self.ctx) {
            return Ok(true);
        }
        if !last {
            return Ok(false);
        }
        match observe_step(&self.ctx, step).await? {
            Intent::Skip(_) => Ok(false),
            Intent::Act { actions, .. } if actions.iter().all(Action::is_repeatable) => Ok(true),
            Intent::Act { actions, .. } => Err(Error::Precondition {
                step,
                kind: PreconditionKind::WorldChanged,
                message: format!(
                    "the journal records this step as done, but it would act again now ({} actions)",
                    actions.len()
                ),
                next: "the world is not the one the journal describes (another deployment, another operator, or the primary back): find out why before going on; a new run with a new journal observes everything afresh".into(),
            }),
        }
    }

    async fn journaled_step(
        &self,
        journal: &mut Journal,
        step: StepId,
        locks: &mut RunLocks,
    ) -> Result<StepOutcome> {
        journal.append(&Record::StepStarted {
            step,
            at: Utc::now(),
        })?;
        self.ctx.emit(Event::StepStarted {
            step,
            title: step.title(),
        });
        let started = Instant::now();
        match self.locked_step(step, locks).await {
            Ok(outcome) => {
                let flush = journal.append_flushing(&Record::StepFinished {
                    step,
                    outcome: outcome.clone(),
                    facts: self.ctx.facts(),
                    at: Utc::now(),
                })?;
                self.ctx.act_after(flush).await;
                self.ctx.emit(match &outcome {
                    StepOutcome::Done { summary } => Event::StepFinished {
                        step,
                        summary: summary.clone(),
                        millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    },
                    StepOutcome::Skipped { reason } => Event::StepSkipped {
                        step,
                        reason: reason.clone(),
                    },
                });
                Ok(outcome)
            }
            Err(error) => {
                journal.append(&Record::StepFailed {
                    step,
                    error: error.to_string(),
                    facts: self.ctx.facts(),
                    at: Utc::now(),
                })?;
                self.ctx.emit(Event::StepFailed {
                    step,
                    error: error.to_string(),
                });
                Err(error)
            }
        }
    }

    /// Runs `step`, taking first the run locks the run does not hold yet: the first step
    /// a run runs takes them, so that a refusal is that step's failure. When an instance
    /// to lock cannot be reached and `step` is a check (which sends nothing), the check
    /// still runs, to say in its own words what that means for the procedure; the run
    /// goes no further either way.
    async fn locked_step(&self, step: StepId, locks: &mut RunLocks) -> Result<StepOutcome> {
        match locks.take(&self.ctx, step).await {
            Ok(()) => run_step(&self.ctx, step).await,
            Err(error)
                if error.plane_error().is_some() && step.declaration().is_check(&self.ctx) =>
            {
                run_step(&self.ctx, step).await.and(Err(error))
            }
            Err(error) => Err(error),
        }
    }
}

/// A run id from the current time (`yyyyMMddHHmmss`, UTC), used in backup file names.
pub fn new_run_id() -> String {
    Utc::now().format("%Y%m%d%H%M%S").to_string()
}
