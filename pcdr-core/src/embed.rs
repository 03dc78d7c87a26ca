//! The API the C and Python bindings embed: one object per deployment that loads the
//! topology, connects the real planes, and plans, runs, resumes or runs single steps
//! with a journal — so each front end (the command line, C, Python) only converts types
//! and presents results. Runs and resumes first pass the journal checks of
//! [`check_journal`], so every front end refuses the same journals.
//!
//! ```no_run
//! # async fn demo() -> pcdr_core::Result<()> {
//! use pcdr_core::embed::{Embedded, Options};
//! use pcdr_core::procedure::failover;
//! let runbook = Embedded::load("topology.toml".as_ref(), Options::default())?;
//! let plan = runbook.plan(failover::PROCEDURE).await?;
//! if plan.can_run() {
//!     let outcome = runbook.run(failover::PROCEDURE).await?;
//!     println!("{}", serde_json::to_string_pretty(&outcome).unwrap_or_default());
//! }
//! # Ok(())
//! # }
//! ```

use crate::adapters;
use crate::error::{Error, Result};
use crate::procedure::{Context, Observer, Planes, Procedure, RunOptions, StepOutcome};
use crate::runbook::{
    JournalUse, Plan, Record, Report, Runbook, check_journal, new_run_id, read_records,
};
use crate::schema::Document;
use crate::topology::Topology;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// How a runbook runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// The journal file; by default one in the system's temporary folder, named after
    /// the run.
    pub journal: Option<PathBuf>,
    /// Observe and plan only: no mutating call is made.
    pub dry_run: bool,
    /// The operator's decisions.
    pub decisions: RunOptions,
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RunOutcome {
    /// The procedure ran; its report.
    Completed {
        /// The report.
        report: Box<Report>,
    },
    /// A dry run: what would run.
    Planned {
        /// The plan.
        plan: Plan,
    },
}

/// The JSON shape's version (see [`crate::schema`]).
impl Document for RunOutcome {
    const SCHEMA_VERSION: u32 = 1;
}

/// A deployment's runbook, ready to embed.
pub struct Embedded {
    topology: Arc<Topology>,
    planes: Planes,
    options: Options,
    journal: PathBuf,
    cancel: Arc<AtomicBool>,
    observer: Option<Arc<dyn Observer>>,
}

impl Embedded {
    /// Loads the topology file and connects the real planes (lazily: nothing is
    /// contacted until a call needs it).
    pub fn load(path: &Path, options: Options) -> Result<Self> {
        Self::new(Topology::load(path)?, options)
    }

    /// The same from TOML text; relative `password_file` paths resolve against `base_dir`.
    pub fn from_toml(text: &str, base_dir: Option<&Path>, options: Options) -> Result<Self> {
        Self::new(Topology::from_toml_str(text, base_dir)?, options)
    }

    /// A runbook over the real planes of `topology`.
    pub fn new(topology: Topology, options: Options) -> Result<Self> {
        let planes = adapters::connect(&topology)?;
        Ok(Self::with_planes(topology, planes, options))
    }

    /// A runbook over the given planes (tests, emulators).
    pub fn with_planes(topology: Topology, planes: Planes, options: Options) -> Self {
        let journal = options.journal.clone().unwrap_or_else(default_journal);
        Self {
            topology: Arc::new(topology),
            planes,
            options,
            journal,
            cancel: Arc::new(AtomicBool::new(false)),
            observer: None,
        }
    }

    /// Sends progress events to `observer` from now on.
    pub fn set_observer(&mut self, observer: Arc<dyn Observer>) {
        self.observer = Some(observer);
    }

    /// The journal file.
    pub fn journal(&self) -> &Path {
        &self.journal
    }

    /// Stops the running procedure before its next action; callable from any thread.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }

    /// A flag that cancels the run when set.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    fn context(&self) -> Context {
        let ctx = Context::new(
            Arc::clone(&self.topology),
            self.planes.clone(),
            self.options.decisions.clone(),
            new_run_id(),
        )
        .with_cancel_flag(Arc::clone(&self.cancel));
        match &self.observer {
            Some(observer) => ctx.with_observer(Arc::clone(observer)),
            None => ctx,
        }
    }

    fn runbook(&self) -> Runbook {
        self.cancel.store(false, Ordering::SeqCst);
        Runbook::new(self.context(), &self.journal)
    }

    /// Refuses the journal when it cannot serve `usage` (see [`check_journal`]);
    /// [`run`](Self::run) and [`resume`](Self::resume) check it themselves, a front end
    /// checks first when it has something to ask before running (a confirmation).
    pub fn check_journal(&self, usage: JournalUse) -> Result<()> {
        check_journal(&self.journal, usage)
    }

    /// Observes the live state and describes each step. Read-only (see
    /// [`Runbook::plan`]).
    pub async fn plan(&self, procedure: Procedure) -> Result<Plan> {
        Runbook::new(self.context(), &self.journal)
            .plan(procedure)
            .await
    }

    /// Runs `procedure` in a new journal (a dry run plans instead). A journal that
    /// holds a run, or that another run holds, is refused before anything runs.
    pub async fn run(&self, procedure: Procedure) -> Result<RunOutcome> {
        self.check_journal(JournalUse::Start(procedure))?;
        if self.options.dry_run {
            return Ok(RunOutcome::Planned {
                plan: self.plan(procedure).await?,
            });
        }
        let report = Box::new(self.runbook().execute(procedure).await?);
        Ok(RunOutcome::Completed { report })
    }

    /// Continues the run the journal holds (a dry run plans what is left instead). A
    /// journal that holds no run, or that another run holds, is refused before anything
    /// runs.
    pub async fn resume(&self) -> Result<RunOutcome> {
        self.check_journal(JournalUse::Resume(None))?;
        if self.options.dry_run {
            let procedure = self.journal_procedure()?;
            return Ok(RunOutcome::Planned {
                plan: self.plan(procedure).await?,
            });
        }
        Ok(RunOutcome::Completed {
            report: Box::new(self.runbook().resume().await?),
        })
    }

    /// Runs one step, journaled (a dry run observes it and reports what it would do).
    pub async fn run_step(&self, procedure: Procedure, id: &str) -> Result<StepOutcome> {
        let step = procedure.step(id).ok_or_else(|| Error::UnknownStep {
            procedure,
            id: id.to_string(),
            valid: procedure.steps().to_vec(),
        })?;
        if self.options.dry_run {
            return Ok(StepOutcome::Skipped {
                reason: format!(
                    "dry run: {}",
                    describe(&crate::procedure::observe_step(&self.context(), step).await?)
                ),
            });
        }
        self.runbook().run_single_step(step).await
    }

    /// The report of the run the journal holds.
    pub fn report(&self) -> Result<Report> {
        let records = read_records(&self.journal)?;
        Ok(Report::from_records(
            self.journal_procedure_of(&records)?,
            &records,
        ))
    }

    fn journal_procedure(&self) -> Result<Procedure> {
        self.journal_procedure_of(&read_records(&self.journal)?)
    }

    fn journal_procedure_of(&self, records: &[Record]) -> Result<Procedure> {
        records
            .iter()
            .find_map(|r| match r {
                Record::Started { procedure, .. } => Some(*procedure),
                _ => None,
            })
            .ok_or_else(|| Error::Journal {
                path: self.journal.clone(),
                message: "holds no run".into(),
            })
    }
}

/// A journal in the temporary folder, unique to this process and runbook.
fn default_journal() -> PathBuf {
    static RUNBOOKS: AtomicUsize = AtomicUsize::new(0);
    let n = RUNBOOKS.fetch_add(1, Ordering::SeqCst);
    std::env::temp_dir().join(format!(
        "pcdr-{}-{}-{n}.journal",
        new_run_id(),
        std::process::id()
    ))
}

fn describe(intent: &crate::procedure::Intent) -> String {
    match intent {
        crate::procedure::Intent::Skip(reason) => format!("already done ({reason})"),
        crate::procedure::Intent::Act { actions, .. } => {
            format!("would take {} actions", actions.len())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::procedure::{failback, failover};

    fn offline(options: Options) -> Embedded {
        let text = include_str!("../../examples/topology.toml");
        let topology = Topology::from_toml_str(text, None).unwrap();
        let planes = Planes::offline(&topology);
        Embedded::with_planes(topology, planes, options)
    }

    #[tokio::test]
    async fn a_dry_run_plans_instead_of_running() {
        let runbook = offline(Options {
            dry_run: true,
            ..Options::default()
        });
        let outcome = runbook.run(failover::PROCEDURE).await.unwrap();
        assert!(matches!(outcome, RunOutcome::Planned { ref plan } if plan.steps.len() == 9));
        assert!(!runbook.journal().exists(), "a dry run writes no journal");
    }

    #[tokio::test]
    async fn an_unknown_step_id_lists_the_valid_ones() {
        let runbook = offline(Options::default());
        let err = runbook
            .run_step(failback::PROCEDURE, "apply_unapplied_logs")
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("use one of: check_rebuilt_primary"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_failed_run_leaves_a_report_in_its_journal() {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            journal: Some(dir.path().join("j")),
            ..Options::default()
        };
        let runbook = offline(options);
        let err = runbook.run(failover::PROCEDURE).await.unwrap_err();
        assert_eq!(err.step_id(), Some(failover::CHECK_SITES));
        let report = runbook.report().unwrap();
        assert!(!report.completed);
        assert!(report.steps[0].error.is_some());
    }

    #[tokio::test]
    async fn a_run_over_an_interrupted_one_is_refused_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            journal: Some(dir.path().join("j")),
            ..Options::default()
        };
        let runbook = offline(options);
        runbook.run(failover::PROCEDURE).await.unwrap_err();
        let before = std::fs::read(runbook.journal()).unwrap();
        let err = runbook.run(failover::PROCEDURE).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Journal);
        assert!(
            err.to_string().contains("holds an interrupted failover"),
            "{err}"
        );
        let err = runbook.run(failback::PROCEDURE).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("holds a failover run, not a failback"),
            "{err}"
        );
        assert_eq!(std::fs::read(runbook.journal()).unwrap(), before);
    }

    #[tokio::test]
    async fn resuming_a_journal_that_holds_no_run_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for dry_run in [false, true] {
            let runbook = offline(Options {
                journal: Some(dir.path().join("none")),
                dry_run,
                ..Options::default()
            });
            let err = runbook.resume().await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Journal);
            assert!(err.to_string().ends_with("holds no run to resume"), "{err}");
            assert!(!runbook.journal().exists());
        }
    }

    #[tokio::test]
    async fn a_journal_another_run_holds_is_refused_as_locked() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j");
        let runbook = offline(Options {
            journal: Some(journal.clone()),
            ..Options::default()
        });
        let _holder = crate::runbook::Journal::create(&journal).unwrap();
        let err = runbook.run(failover::PROCEDURE).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::JournalLocked);
        assert_eq!(err.journal_path(), Some(journal.as_path()));
    }
}
