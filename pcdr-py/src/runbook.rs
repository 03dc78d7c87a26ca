//! `Runbook`: plans and runs the procedures (failover, failback, prepare_failback,
//! switchover: any `procedures()` lists) for one topology, with a journal.
//!
//! Each method copies its arguments out of Python, then waits on the runtime with the
//! GIL released. Runs wait in slices so Ctrl-C cancels them cleanly
//! ([`runtime::run_cancellable`]); their events go through the [`Bridge`].

use crate::convert;
use crate::errors::{CoreError, PcdrError, finish};
use crate::events::Bridge;
use crate::plan::PyPlannedStep;
use crate::report::{PyReport, PyStepOutcome};
use crate::runtime::{self, run_cancellable};
use crate::topology::PyTopology;
use pcdr_core::embed::{Embedded, Options, RunOutcome};
use pcdr_core::procedure::{Procedure, RunOptions, failback, failover};
use pcdr_core::runbook::Plan;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Plans and runs the procedures for one deployment, with a journal.
#[pyclass(frozen, module = "pcdr", name = "Runbook")]
pub struct PyRunbook {
    inner: Arc<Embedded>,
    bridge: Arc<Bridge>,
    busy: AtomicBool,
}

/// What a run returns: a report, or on a dry run the plan.
#[derive(IntoPyObject)]
pub enum Outcome {
    /// The run's report.
    Report(PyReport),
    /// A dry run's plan.
    Plan(Vec<PyPlannedStep>),
}

impl From<RunOutcome> for Outcome {
    fn from(outcome: RunOutcome) -> Self {
        match outcome {
            RunOutcome::Completed { report } => Self::Report(PyReport::from(report)),
            RunOutcome::Planned { plan } => Self::Plan(steps(plan)),
        }
    }
}

fn steps(plan: Plan) -> Vec<PyPlannedStep> {
    plan.steps.into_iter().map(PyPlannedStep::from).collect()
}

#[pymethods]
impl PyRunbook {
    /// A runbook over the real planes of `topology`.
    #[new]
    #[pyo3(signature = (
        topology,
        journal = None,
        dry_run = false,
        accept_data_loss = false,
        allow_primary_reachable = false,
        sequential_restore = false,
        resume_stale = false,
        failover_journal = None,
        switch_to = None,
    ))]
    #[allow(
        clippy::too_many_arguments,
        reason = "each keyword argument of the Python constructor is one parameter"
    )]
    fn new(
        py: Python<'_>,
        topology: &PyTopology,
        journal: Option<PathBuf>,
        dry_run: bool,
        accept_data_loss: bool,
        allow_primary_reachable: bool,
        sequential_restore: bool,
        resume_stale: bool,
        failover_journal: Option<PathBuf>,
        switch_to: Option<&str>,
    ) -> PyResult<Self> {
        let switch_to = switch_to
            .map(|name| convert::site("switch_to", name))
            .transpose()?;
        let options = Options {
            journal,
            dry_run,
            decisions: RunOptions {
                accept_data_loss,
                allow_primary_reachable,
                sequential_restore,
                resume_stale,
                failover_journal,
                switch_to,
            },
        };
        let mut embedded =
            Embedded::new(topology.inner.clone(), options).map_err(CoreError::from)?;
        let bridge = Arc::new(Bridge::new(py, embedded.cancel_flag())?);
        embedded.set_observer(bridge.clone());
        Ok(Self {
            inner: Arc::new(embedded),
            bridge,
            busy: AtomicBool::new(false),
        })
    }

    /// The journal file.
    #[getter]
    fn journal(&self) -> &Path {
        self.inner.journal()
    }

    /// Observes the live state and describes each step of `procedure`. Read-only.
    fn plan(&self, py: Python<'_>, procedure: &str) -> PyResult<Vec<PyPlannedStep>> {
        let procedure = convert::procedure(procedure)?;
        let plan = runtime::block_on(py, self.inner.plan(procedure)).map_err(CoreError::from)?;
        Ok(steps(plan))
    }

    /// Runs `procedure` in a new journal.
    #[pyo3(signature = (procedure, on_event = None))]
    fn run(
        &self,
        py: Python<'_>,
        procedure: &str,
        on_event: Option<Py<PyAny>>,
    ) -> PyResult<Outcome> {
        self.run_procedure(py, convert::procedure(procedure)?, on_event)
    }

    /// Runs the failover in a new journal: `run("failover")`.
    #[pyo3(signature = (on_event = None))]
    fn failover(&self, py: Python<'_>, on_event: Option<Py<PyAny>>) -> PyResult<Outcome> {
        self.run_procedure(py, failover::PROCEDURE, on_event)
    }

    /// Runs the failback in a new journal: `run("failback")`.
    #[pyo3(signature = (on_event = None))]
    fn failback(&self, py: Python<'_>, on_event: Option<Py<PyAny>>) -> PyResult<Outcome> {
        self.run_procedure(py, failback::PROCEDURE, on_event)
    }

    /// Continues the run the journal holds.
    #[pyo3(signature = (on_event = None))]
    fn resume(&self, py: Python<'_>, on_event: Option<Py<PyAny>>) -> PyResult<Outcome> {
        self.call(py, on_event, |e| async move { e.resume().await })
            .map(Outcome::from)
    }

    /// Runs one step of `procedure`, journaled.
    #[pyo3(signature = (procedure, step, on_event = None))]
    fn run_step(
        &self,
        py: Python<'_>,
        procedure: &str,
        step: String,
        on_event: Option<Py<PyAny>>,
    ) -> PyResult<PyStepOutcome> {
        let procedure = convert::procedure(procedure)?;
        self.call(py, on_event, move |e| async move {
            e.run_step(procedure, &step).await
        })
        .map(PyStepOutcome::from)
    }

    /// The report of the run the journal holds.
    fn report(&self, py: Python<'_>) -> PyResult<PyReport> {
        let report = py.detach(|| self.inner.report()).map_err(CoreError::from)?;
        Ok(Box::new(report).into())
    }

    /// Stops the running procedure before its next action; callable from any thread.
    fn cancel(&self) {
        self.inner.cancel();
    }
}

impl PyRunbook {
    /// Runs `procedure` in a new journal: what `run`, `failover` and `failback` share.
    fn run_procedure(
        &self,
        py: Python<'_>,
        procedure: Procedure,
        on_event: Option<Py<PyAny>>,
    ) -> PyResult<Outcome> {
        self.call(py, on_event, move |e| async move { e.run(procedure).await })
            .map(Outcome::from)
    }

    /// Runs `call` on the runtime with `on_event` receiving its events, watching for
    /// Ctrl-C, one call at a time.
    fn call<T, F, Fut>(&self, py: Python<'_>, on_event: Option<Py<PyAny>>, call: F) -> PyResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Embedded>) -> Fut,
        Fut: Future<Output = pcdr_core::Result<T>> + Send + 'static,
    {
        if let Some(callback) = &on_event
            && !callback.bind(py).is_callable()
        {
            return Err(PyTypeError::new_err("on_event must be callable"));
        }
        if self.busy.swap(true, Ordering::SeqCst) {
            return Err(PcdrError::new_err(
                "this Runbook is already running a procedure; use one Runbook per thread",
            ));
        }
        self.bridge.start(on_event);
        let inner = Arc::clone(&self.inner);
        let result = run_cancellable(py, call(Arc::clone(&self.inner)), || inner.cancel());
        let callback_error = self.bridge.finish();
        self.busy.store(false, Ordering::SeqCst);
        finish(py, result?, callback_error)
    }
}
