//! `procedures()`, `ProcedureInfo` and `StepInfo`: the procedures `Runbook` runs and
//! their steps. Everything is read from pcdr-core's step tables ([`Procedure::all`],
//! [`Procedure::steps`]), so a procedure or a step added there is listed, and runs
//! through `Runbook.run`, with no change here.

use pcdr_core::procedure::{Procedure, StepId};
use pyo3::prelude::*;

/// Adds `procedures`, `ProcedureInfo` and `StepInfo` to the native module.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<PyProcedureInfo>()?;
    module.add_class::<PyStepInfo>()?;
    module.add_function(wrap_pyfunction!(procedures, module)?)?;
    Ok(())
}

/// Every procedure, in the order help texts list them.
#[pyfunction]
fn procedures() -> Vec<PyProcedureInfo> {
    Procedure::all()
        .map(|inner| PyProcedureInfo { inner })
        .collect()
}

/// A procedure: its name, what it does, its steps.
#[pyclass(frozen, module = "pcdr", name = "ProcedureInfo")]
pub struct PyProcedureInfo {
    inner: Procedure,
}

#[pymethods]
impl PyProcedureInfo {
    /// The stable name `Runbook.run` takes.
    #[getter]
    fn name(&self) -> &'static str {
        self.inner.as_str()
    }

    /// What the procedure does, in one line.
    #[getter]
    fn summary(&self) -> &'static str {
        self.inner.summary()
    }

    /// The steps, in the order they run.
    #[getter]
    fn steps(&self) -> Vec<PyStepInfo> {
        let steps = self.inner.steps().iter().copied();
        steps.map(|inner| PyStepInfo { inner }).collect()
    }
}

/// A step of a procedure: its id and what it does.
#[pyclass(frozen, module = "pcdr", name = "StepInfo")]
pub struct PyStepInfo {
    inner: StepId,
}

#[pymethods]
impl PyStepInfo {
    /// The stable id `Runbook.run_step` takes.
    #[getter]
    fn id(&self) -> &'static str {
        self.inner.as_str()
    }

    /// What the step does, in one line.
    #[getter]
    fn title(&self) -> &'static str {
        self.inner.title()
    }
}
