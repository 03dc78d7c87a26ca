//! Progress events: the `Event` class, and the bridge that hands each event of a run to
//! the `logging` logger `pcdr` and to the caller's `on_event` callback.
//!
//! The bridge runs on the runtime's thread and takes the GIL for each event. When the
//! callback raises, the bridge keeps the exception, stops calling the callback and sets
//! the run's cancel flag, so the run stops before its next action; the run method then
//! raises (see [`errors::finish`](crate::errors::finish)).

use crate::convert::{tag, to_python};
use pcdr_core::procedure::{Event, Observer};
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// `logging.DEBUG`, `logging.INFO` and `logging.WARNING`.
const DEBUG: u8 = 10;
const INFO: u8 = 20;
const WARNING: u8 = 30;

/// One progress event.
#[pyclass(frozen, module = "pcdr", name = "Event")]
pub struct PyEvent {
    inner: Event,
}

#[pymethods]
impl PyEvent {
    /// `step_started`, `step_finished`, `step_skipped`, `step_failed`, `planned`,
    /// `note`, `file_copied` or `log_restored`.
    #[getter]
    fn kind(&self) -> String {
        tag(&self.inner, "event")
    }

    /// The step's id, for the events that belong to a step.
    #[getter]
    fn step(&self) -> Option<&'static str> {
        step(&self.inner)
    }

    /// The event in one line, as it is logged.
    #[getter]
    fn message(&self) -> String {
        message(&self.inner)
    }

    /// The event as plain Python values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }

    fn __repr__(&self) -> String {
        format!("<pcdr.Event {}: {}>", self.kind(), self.message())
    }
}

fn step(event: &Event) -> Option<&'static str> {
    match event {
        Event::StepStarted { step, .. }
        | Event::StepFinished { step, .. }
        | Event::StepSkipped { step, .. }
        | Event::StepFailed { step, .. }
        | Event::Planned { step, .. }
        | Event::Note { step, .. }
        | Event::SessionsEnded { step, .. } => Some(step.as_str()),
        Event::FileCopied { .. } | Event::LogRestored { .. } => None,
    }
}

fn message(event: &Event) -> String {
    match event {
        Event::StepStarted { step, title } => format!("{step}: {title}"),
        Event::StepFinished {
            step,
            summary,
            millis,
        } => format!("{step} done in {millis} ms: {summary}"),
        Event::StepSkipped { step, reason } => format!("{step} skipped: {reason}"),
        Event::StepFailed { step, error } => format!("{step} failed: {error}"),
        Event::Planned {
            step,
            actions,
            bytes,
        } => format!("{step}: {actions} actions, {bytes} bytes to copy"),
        Event::Note { step, text } => format!("{step}: {text}"),
        Event::SessionsEnded {
            step,
            target,
            database,
            sessions,
        } => format!("{step}: ended {sessions} sessions on {database} on {target}"),
        Event::FileCopied { file, bytes } => format!("copied {file} ({bytes} bytes)"),
        Event::LogRestored {
            file,
            first_lsn,
            last_lsn,
        } => format!("restored {file} (LSN {first_lsn} to {last_lsn})"),
    }
}

fn level(event: &Event) -> u8 {
    match event {
        Event::StepFailed { .. } => WARNING,
        Event::FileCopied { .. } | Event::LogRestored { .. } | Event::Planned { .. } => DEBUG,
        _ => INFO,
    }
}

/// Sends a runbook's events to `logging` and to the callback of the call in progress.
pub struct Bridge {
    logger: Py<PyAny>,
    callback: Mutex<Option<Py<PyAny>>>,
    error: Mutex<Option<PyErr>>,
    cancel: Arc<AtomicBool>,
}

impl Bridge {
    /// A bridge to the logger `pcdr` that sets `cancel` when the callback raises.
    pub fn new(py: Python<'_>, cancel: Arc<AtomicBool>) -> PyResult<Self> {
        let logger = py
            .import("logging")?
            .call_method1("getLogger", ("pcdr",))?
            .unbind();
        Ok(Self {
            logger,
            callback: Mutex::new(None),
            error: Mutex::new(None),
            cancel,
        })
    }

    /// Starts a call: `callback` receives its events; no exception is kept yet.
    pub fn start(&self, callback: Option<Py<PyAny>>) {
        *lock(&self.callback) = callback;
        *lock(&self.error) = None;
    }

    /// Ends a call: forgets the callback and returns what it raised, if anything.
    pub fn finish(&self) -> Option<PyErr> {
        *lock(&self.callback) = None;
        lock(&self.error).take()
    }

    fn deliver(&self, py: Python<'_>, event: &Event) -> PyResult<()> {
        self.logger
            .call_method1(py, "log", (level(event), message(event)))?;
        let callback = lock(&self.callback).as_ref().map(|c| c.clone_ref(py));
        if let Some(callback) = callback {
            let event = PyEvent {
                inner: event.clone(),
            };
            callback.call1(py, (event,))?;
        }
        Ok(())
    }
}

impl Observer for Bridge {
    fn event(&self, event: &Event) {
        Python::attach(|py| {
            if let Err(error) = self.deliver(py, event) {
                *lock(&self.callback) = None;
                lock(&self.error).get_or_insert(error);
                self.cancel.store(true, Ordering::SeqCst);
            }
        });
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
