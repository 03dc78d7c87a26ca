//! The exception classes of `pcdr` and the one place pcdr-core's errors become them.
//!
//! ```text
//! PcdrError
//! ├── TopologyError            .key
//! ├── PreconditionError        .step
//! │   └── DataLossRefused      .server .database
//! ├── StepError                .step .server .database .file .transient
//! │   ├── SqlServerError       .number .state .severity
//! │   └── ChatPoolError        .cmdlet
//! ├── JournalError             .path
//! │   └── JournalLocked
//! └── RunCancelled             .step
//! ```
//!
//! The attributes are set on each instance. The error's Rust cause chain becomes the
//! exception's `__cause__` chain, and an exception the progress callback raised becomes
//! the cause of the `RunCancelled` it led to ([`finish`]).

use pcdr_core::error::{Error, PlaneError, StepError as CoreStepError};
use pcdr_core::procedure::StepId;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use std::path::Path;

create_exception!(
    pcdr,
    PcdrError,
    PyException,
    "The base of every error pcdr raises."
);
create_exception!(
    pcdr,
    TopologyError,
    PcdrError,
    "The topology is invalid; `key` is the key path (or the file) where."
);
create_exception!(
    pcdr,
    PreconditionError,
    PcdrError,
    "A step refused to start because the world is not as the procedure requires."
);
create_exception!(
    pcdr,
    DataLossRefused,
    PreconditionError,
    "The log chain has a gap and data loss was not accepted."
);
create_exception!(
    pcdr,
    StepError,
    PcdrError,
    "A call made by a step failed: `step`, `server`, `database` and `file` say where."
);
create_exception!(
    pcdr,
    SqlServerError,
    StepError,
    "SQL Server reported an error: `number`, `state` and `severity` are its own."
);
create_exception!(
    pcdr,
    ChatPoolError,
    StepError,
    "A Skype for Business Management Shell cmdlet failed on the pool."
);
create_exception!(
    pcdr,
    JournalError,
    PcdrError,
    "The journal cannot be created, read or written, or holds no run."
);
create_exception!(
    pcdr,
    JournalLocked,
    JournalError,
    "Another pcdr run holds the journal."
);
create_exception!(
    pcdr,
    RunCancelled,
    PcdrError,
    "The run was cancelled; its journal can be resumed."
);

/// Adds the exception classes to the module.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    module.add("PcdrError", py.get_type::<PcdrError>())?;
    module.add("TopologyError", py.get_type::<TopologyError>())?;
    module.add("PreconditionError", py.get_type::<PreconditionError>())?;
    module.add("DataLossRefused", py.get_type::<DataLossRefused>())?;
    module.add("StepError", py.get_type::<StepError>())?;
    module.add("SqlServerError", py.get_type::<SqlServerError>())?;
    module.add("ChatPoolError", py.get_type::<ChatPoolError>())?;
    module.add("JournalError", py.get_type::<JournalError>())?;
    module.add("JournalLocked", py.get_type::<JournalLocked>())?;
    module.add("RunCancelled", py.get_type::<RunCancelled>())?;
    Ok(())
}

/// A pcdr-core error on its way to Python; `?` turns it into the matching exception.
pub struct CoreError(pub Error);

impl From<Error> for CoreError {
    fn from(error: Error) -> Self {
        Self(error)
    }
}

impl From<CoreError> for PyErr {
    fn from(CoreError(error): CoreError) -> PyErr {
        Python::attach(|py| {
            // Setting an attribute on a new exception fails only when Python is out of
            // memory; that failure is raised then.
            let exception = exception(py, &error).unwrap_or_else(|failed| failed);
            exception.set_cause(py, cause(py, std::error::Error::source(&error)));
            exception
        })
    }
}

/// The exception for `error`, its attributes set.
fn exception(py: Python<'_>, error: &Error) -> PyResult<PyErr> {
    let message = error.to_string();
    let step = error.step_id().map(StepId::as_str);
    Ok(match error {
        Error::Topology(e) => {
            let exception = TopologyError::new_err(message);
            exception.value(py).setattr("key", &e.key)?;
            exception
        }
        Error::Precondition { .. } | Error::UnknownStep { .. } => {
            with_step(py, PreconditionError::new_err(message), step)?
        }
        Error::DataLossRefused {
            target, database, ..
        } => {
            let exception = with_step(py, DataLossRefused::new_err(message), step)?;
            exception.value(py).setattr("server", target)?;
            exception.value(py).setattr("database", database)?;
            exception
        }
        Error::Step(e) => step_error(py, message, e)?,
        Error::BadLogBackup {
            target, database, ..
        } => {
            let exception = with_step(py, StepError::new_err(message), step)?;
            set_place(py, &exception, target, Some(database), None, false)?;
            exception
        }
        Error::Journal { path, .. } => with_path(py, JournalError::new_err(message), path)?,
        Error::JournalLocked { path } => with_path(py, JournalLocked::new_err(message), path)?,
        Error::Cancelled { .. } => with_step(py, RunCancelled::new_err(message), step)?,
        _ => PcdrError::new_err(message),
    })
}

/// A `StepError`, or the subclass that says which plane failed.
fn step_error(py: Python<'_>, message: String, error: &CoreStepError) -> PyResult<PyErr> {
    let exception = match &error.source {
        PlaneError::Sql(sql) => {
            let exception = SqlServerError::new_err(message);
            let value = exception.value(py);
            value.setattr("number", sql.number)?;
            value.setattr("state", sql.state)?;
            value.setattr("severity", sql.class)?;
            exception
        }
        PlaneError::Shell { cmdlet, .. } => {
            let exception = ChatPoolError::new_err(message);
            exception.value(py).setattr("cmdlet", cmdlet)?;
            exception
        }
        _ => StepError::new_err(message),
    };
    let exception = with_step(py, exception, Some(error.step.as_str()))?;
    set_place(
        py,
        &exception,
        &error.target,
        error.database.as_deref(),
        error.file.as_deref(),
        error.source.is_transient(),
    )?;
    Ok(exception)
}

fn with_step(py: Python<'_>, exception: PyErr, step: Option<&str>) -> PyResult<PyErr> {
    exception.value(py).setattr("step", step)?;
    Ok(exception)
}

fn with_path(py: Python<'_>, exception: PyErr, path: &Path) -> PyResult<PyErr> {
    exception.value(py).setattr("path", path)?;
    Ok(exception)
}

fn set_place(
    py: Python<'_>,
    exception: &PyErr,
    server: &str,
    database: Option<&str>,
    file: Option<&str>,
    transient: bool,
) -> PyResult<()> {
    let value = exception.value(py);
    value.setattr("server", server)?;
    value.setattr("database", database)?;
    value.setattr("file", file)?;
    value.setattr("transient", transient)
}

/// The Rust cause chain as a chain of `PcdrError`s.
fn cause(py: Python<'_>, source: Option<&(dyn std::error::Error + 'static)>) -> Option<PyErr> {
    let source = source?;
    let exception = PcdrError::new_err(source.to_string());
    exception.set_cause(py, cause(py, source.source()));
    Some(exception)
}

/// The result of a run, given what the progress callback raised (`callback_error`).
///
/// The callback's exception is the `__cause__` of the error the stopped run raises:
/// `RunCancelled` when the cancellation stopped it, or the running step's own error when
/// that step failed first. A `KeyboardInterrupt` (or another `BaseException` that is not
/// an `Exception`) is raised as it is, with the run's error as its context. A run that
/// completed although the callback raised (on its last event) raises the callback's
/// exception.
pub fn finish<T>(
    py: Python<'_>,
    result: Result<T, Error>,
    callback_error: Option<PyErr>,
) -> PyResult<T> {
    let (error, callback_error) = match (result, callback_error) {
        (result, None) => return result.map_err(|e| CoreError(e).into()),
        (Ok(_), Some(callback_error)) => return Err(callback_error),
        (Err(error), Some(callback_error)) => (PyErr::from(CoreError(error)), callback_error),
    };
    if callback_error.is_instance_of::<PyException>(py) {
        error.set_cause(py, Some(callback_error));
        return Err(error);
    }
    callback_error
        .value(py)
        .setattr("__context__", error.value(py))?;
    Err(callback_error)
}
