//! `Report`, `StepReport` and `StepOutcome`: what a run did, step by step, with its
//! recovery time and data-loss evidence, read from the journal.

use crate::convert::{tag, to_python};
use chrono::{DateTime, Utc};
use pcdr_core::procedure::StepOutcome;
use pcdr_core::runbook::{Report, StepReport};
use pyo3::prelude::*;

/// The report of one run.
#[pyclass(frozen, module = "pcdr", name = "Report")]
pub struct PyReport {
    inner: Box<Report>,
}

impl From<Box<Report>> for PyReport {
    fn from(inner: Box<Report>) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl PyReport {
    /// `failover` or `failback`.
    #[getter]
    fn procedure(&self) -> &'static str {
        self.inner.procedure.as_str()
    }

    /// The run id.
    #[getter]
    fn run_id(&self) -> &str {
        &self.inner.run_id
    }

    /// When the run first started.
    #[getter]
    fn started(&self) -> Option<DateTime<Utc>> {
        self.inner.started
    }

    /// When it finished, if it did.
    #[getter]
    fn finished(&self) -> Option<DateTime<Utc>> {
        self.inner.finished
    }

    /// Seconds from start to finish (or to the last record): the recovery time.
    #[getter]
    fn rto_seconds(&self) -> Option<f64> {
        self.inner.rto_seconds
    }

    /// Whether every step is done.
    #[getter]
    fn completed(&self) -> bool {
        self.inner.completed
    }

    /// The steps, in procedure order.
    #[getter]
    fn steps(&self) -> Vec<PyStepReport> {
        self.inner
            .steps
            .iter()
            .cloned()
            .map(|inner| PyStepReport { inner })
            .collect()
    }

    /// The first step that failed and was not done since, if any.
    #[getter]
    fn failed_step(&self) -> Option<&'static str> {
        self.inner
            .steps
            .iter()
            .find(|s| s.error.is_some())
            .map(|s| s.step.as_str())
    }

    /// The data-loss evidence as plain Python values.
    #[getter]
    fn rpo<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.rpo)
    }

    /// The pool's outage as plain Python values (when it opened and closed, its seconds
    /// and the bytes moved inside it), or `None` if the run has not fenced the pool.
    #[getter]
    fn outage<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.outage)
    }

    /// Log backups copied.
    #[getter]
    fn files_copied(&self) -> u64 {
        self.inner.files_copied
    }

    /// Bytes copied.
    #[getter]
    fn bytes_copied(&self) -> u64 {
        self.inner.bytes_copied
    }

    /// Log backups restored.
    #[getter]
    fn logs_restored(&self) -> u64 {
        self.inner.logs_restored
    }

    /// The report as plain Python values, the same as the CLI's JSON.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }
}

/// One step in a report.
#[pyclass(frozen, module = "pcdr", name = "StepReport")]
pub struct PyStepReport {
    inner: StepReport,
}

#[pymethods]
impl PyStepReport {
    /// The step's stable id.
    #[getter]
    fn id(&self) -> &'static str {
        self.inner.step.as_str()
    }

    /// What the step does.
    #[getter]
    fn title(&self) -> &'static str {
        self.inner.title
    }

    /// When it last started.
    #[getter]
    fn started(&self) -> Option<DateTime<Utc>> {
        self.inner.started
    }

    /// When it last ended.
    #[getter]
    fn ended(&self) -> Option<DateTime<Utc>> {
        self.inner.ended
    }

    /// Milliseconds between the two.
    #[getter]
    fn millis(&self) -> Option<i64> {
        self.inner.millis
    }

    /// How it ended, if it ended well.
    #[getter]
    fn outcome(&self) -> Option<PyStepOutcome> {
        self.inner.outcome.clone().map(PyStepOutcome::from)
    }

    /// Its last error, if it failed.
    #[getter]
    fn error(&self) -> Option<&str> {
        self.inner.error.as_deref()
    }

    /// The step as plain Python values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }
}

/// How a step ended.
#[pyclass(frozen, module = "pcdr", name = "StepOutcome")]
pub struct PyStepOutcome {
    inner: StepOutcome,
}

impl From<StepOutcome> for PyStepOutcome {
    fn from(inner: StepOutcome) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl PyStepOutcome {
    /// `done` (the step acted and verified) or `skipped` (the work was already done).
    #[getter]
    fn kind(&self) -> String {
        tag(&self.inner, "outcome")
    }

    /// What the step did, or how it knew the work was done.
    #[getter]
    fn message(&self) -> &str {
        match &self.inner {
            StepOutcome::Done { summary } => summary,
            StepOutcome::Skipped { reason } => reason,
        }
    }

    /// The outcome as plain Python values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }
}
