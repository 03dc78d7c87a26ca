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
//! The class is chosen by the error's [`ErrorKind`], every kind listed, so a new kind
//! does not compile until it has a class. The attributes are set on each instance. The
//! error's Rust cause chain (the failed plane call behind a step error, the topology or
//! log-chain problem) becomes the exception's `__cause__` chain, and an exception the
//! progress callback raised becomes the cause of the `RunCancelled` it led to
//! ([`finish`]).

use pcdr_core::procedure::StepId;
use pcdr_core::{Error, ErrorKind, PlaneError, PlaneErrorKind};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

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
    Ok(match error.kind() {
        ErrorKind::Topology => {
            let exception = TopologyError::new_err(message);
            let key = error.topology_error().map(|e| e.key.as_str());
            exception.value(py).setattr("key", key)?;
            exception
        }
        ErrorKind::Precondition | ErrorKind::UnknownStep => {
            let exception = with_step(py, PreconditionError::new_err(message), step)?;
            let kind = error.precondition_kind().map(|k| k.as_str());
            exception.value(py).setattr("kind", kind)?;
            exception
        }
        ErrorKind::DataLossRefused => {
            let exception = with_step(py, DataLossRefused::new_err(message), step)?;
            exception.value(py).setattr("server", error.target())?;
            exception.value(py).setattr("database", error.database())?;
            exception
        }
        ErrorKind::BadLogBackup => with_place(py, StepError::new_err(message), error)?,
        ErrorKind::Step(kind) => {
            let exception = plane_exception(py, kind, message, error.plane_error())?;
            with_place(py, exception, error)?
        }
        ErrorKind::Journal => with_path(py, JournalError::new_err(message), error)?,
        ErrorKind::JournalLocked => with_path(py, JournalLocked::new_err(message), error)?,
        ErrorKind::Cancelled => with_step(py, RunCancelled::new_err(message), step)?,
    })
}

/// A `StepError`, or the subclass that says which plane failed, with that plane's
/// attributes.
fn plane_exception(
    py: Python<'_>,
    kind: PlaneErrorKind,
    message: String,
    error: Option<&PlaneError>,
) -> PyResult<PyErr> {
    use PlaneErrorKind::{
        ConnectFailed, ConnectionLost, Io, Shell, Sql, Timeout, Unexpected, Unreachable,
    };
    Ok(match kind {
        Sql => {
            let exception = SqlServerError::new_err(message);
            if let Some(sql) = error.and_then(PlaneError::sql_error) {
                let value = exception.value(py);
                value.setattr("number", sql.number)?;
                value.setattr("state", sql.state)?;
                value.setattr("severity", sql.class)?;
            }
            exception
        }
        Shell => {
            let exception = ChatPoolError::new_err(message);
            if let Some(PlaneError::Shell { cmdlet, .. }) = error {
                exception.value(py).setattr("cmdlet", cmdlet)?;
            }
            exception
        }
        Unreachable | ConnectFailed | ConnectionLost | Io | Timeout | Unexpected => {
            StepError::new_err(message)
        }
    })
}

/// `exception` with its `step` attribute set.
fn with_step(py: Python<'_>, exception: PyErr, step: Option<&str>) -> PyResult<PyErr> {
    exception.value(py).setattr("step", step)?;
    Ok(exception)
}

/// `exception` with its `path` attribute set to the journal file of `error`.
fn with_path(py: Python<'_>, exception: PyErr, error: &Error) -> PyResult<PyErr> {
    exception.value(py).setattr("path", error.journal_path())?;
    Ok(exception)
}

/// A `StepError`'s attributes: the step, where it failed, and whether resuming unchanged
/// may succeed.
fn with_place(py: Python<'_>, exception: PyErr, error: &Error) -> PyResult<PyErr> {
    let exception = with_step(py, exception, error.step_id().map(StepId::as_str))?;
    let value = exception.value(py);
    value.setattr("server", error.target())?;
    value.setattr("database", error.database())?;
    value.setattr("file", error.file())?;
    value.setattr("transient", error.is_transient())?;
    Ok(exception)
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
