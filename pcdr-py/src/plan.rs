//! `PlannedStep` and `Command`: what a plan says each step would do, and the exact
//! commands it would send.

use crate::convert::{tag, to_python};
use pcdr_core::procedure::Command;
use pcdr_core::runbook::{PlannedStatus, PlannedStep};
use pyo3::prelude::*;

/// One step of a plan.
#[pyclass(frozen, module = "pcdr", name = "PlannedStep")]
pub struct PyPlannedStep {
    inner: PlannedStep,
}

impl From<PlannedStep> for PyPlannedStep {
    fn from(inner: PlannedStep) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl PyPlannedStep {
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

    /// `would_run`, `already_done`, `unknown`, `after_earlier_steps` or `blocked`.
    #[getter]
    fn state(&self) -> String {
        tag(&self.inner.status, "status")
    }

    /// Why the step is done, unknown or blocked.
    #[getter]
    fn reason(&self) -> Option<&str> {
        match &self.inner.status {
            PlannedStatus::WouldRun => None,
            PlannedStatus::AlreadyDone { reason }
            | PlannedStatus::Unknown { reason }
            | PlannedStatus::AfterEarlierSteps { reason }
            | PlannedStatus::Blocked { reason } => Some(reason),
        }
    }

    /// The commands the step would send.
    #[getter]
    fn commands(&self) -> Vec<PyCommand> {
        self.inner
            .commands
            .iter()
            .cloned()
            .map(|inner| PyCommand { inner })
            .collect()
    }

    /// The files it would copy or restore.
    #[getter]
    fn files(&self) -> Vec<String> {
        self.inner.files.clone()
    }

    /// What an operator should know.
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.inner.notes.clone()
    }

    /// The step as plain Python values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }
}

/// One command a step would send.
#[pyclass(frozen, module = "pcdr", name = "Command")]
pub struct PyCommand {
    inner: Command,
}

#[pymethods]
impl PyCommand {
    /// Where it goes: a SQL Server instance, the pool, or the folders.
    #[getter]
    fn target(&self) -> &str {
        &self.inner.target
    }

    /// `sql`, `shell` or `copy`.
    #[getter]
    fn kind(&self) -> String {
        tag(&self.inner.kind, "kind")
    }

    /// The command as an operator reads it.
    #[getter]
    fn text(&self) -> String {
        self.inner.to_string()
    }

    /// The command as plain Python values (SQL parameters included).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }
}
