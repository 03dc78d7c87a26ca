//! `drill()`: the disaster rehearsal of `pcdr drill` ([`pcdr_sim::drill`]) on an
//! emulated world, with this Python interpreter as the world's Management Shell
//! (`python -m pcdr._simshell`, which calls [`sim_shell`]); and `DrillReport`, what
//! it proved.

use crate::convert::to_python;
use crate::errors::{PcdrError, finish};
use crate::events::Bridge;
use crate::report::PyReport;
use crate::runtime::run_cancellable;
use chrono::{DateTime, Utc};
use pcdr_sim::drill::{Check, DrillOptions, DrillReport, Scenario};
use pcdr_sim::serve::ShellLauncher;
use pcdr_sim::shell::run_shell;
use pcdr_sim::world::{World, WorldOptions};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Adds `drill`, `DrillReport`, `DrillCheck` and `_sim_shell` to the native module.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<PyDrillReport>()?;
    module.add_class::<PyDrillCheck>()?;
    module.add_function(wrap_pyfunction!(drill, module)?)?;
    module.add_function(wrap_pyfunction!(_sim_shell, module)?)?;
    Ok(())
}

/// What a drill proved.
#[pyclass(frozen, module = "pcdr", name = "DrillReport")]
pub struct PyDrillReport {
    inner: DrillReport,
}

#[pymethods]
impl PyDrillReport {
    /// The world's folder.
    #[getter]
    fn world(&self) -> &Path {
        &self.inner.world
    }

    /// What was rehearsed: `disaster`, `switchover` or `online-failback`.
    #[getter]
    fn scenario(&self) -> &'static str {
        match self.inner.scenario {
            Scenario::Disaster => "disaster",
            Scenario::Switchover => "switchover",
            Scenario::OnlineFailback => "online-failback",
        }
    }

    /// Whether every check passed and every procedure of the scenario ran.
    #[getter]
    fn passed(&self) -> bool {
        self.inner.passed
    }

    /// The checks, in order.
    #[getter]
    fn checks(&self) -> Vec<PyDrillCheck> {
        self.inner
            .checks
            .iter()
            .cloned()
            .map(|inner| PyDrillCheck { inner })
            .collect()
    }

    /// The failover's report, if it ran.
    #[getter]
    fn failover(&self) -> Option<PyReport> {
        self.inner.failover.clone().map(|r| Box::new(r).into())
    }

    /// The failback's report (Microsoft's failback, or the online failback's prepare
    /// phase), if it ran.
    #[getter]
    fn failback(&self) -> Option<PyReport> {
        self.inner.failback.clone().map(|r| Box::new(r).into())
    }

    /// The switchovers' reports, in order.
    #[getter]
    fn switchovers(&self) -> Vec<PyReport> {
        self.inner
            .switchovers
            .iter()
            .cloned()
            .map(|r| Box::new(r).into())
            .collect()
    }

    /// Messages committed on the primary site before the disaster.
    #[getter]
    fn messages_committed_before_disaster(&self) -> u64 {
        self.inner.messages_committed_before_disaster
    }

    /// How many of them were in log backups on the share.
    #[getter]
    fn messages_guaranteed(&self) -> u64 {
        self.inner.messages_guaranteed
    }

    /// The last log backup the failover applied.
    #[getter]
    fn last_applied_log_backup(&self) -> Option<&str> {
        self.inner.last_applied_log_backup.as_deref()
    }

    /// When that log backup finished.
    #[getter]
    fn last_applied_log_backup_finished(&self) -> Option<DateTime<Utc>> {
        self.inner.last_applied_log_backup_finished
    }

    /// The report as plain Python values, the same as `pcdr drill --json`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }

    fn __repr__(&self) -> String {
        format!(
            "<pcdr.DrillReport {}: {} checks>",
            if self.inner.passed {
                "passed"
            } else {
                "FAILED"
            },
            self.inner.checks.len()
        )
    }
}

/// One check of a drill.
#[pyclass(frozen, module = "pcdr", name = "DrillCheck")]
pub struct PyDrillCheck {
    inner: Check,
}

#[pymethods]
impl PyDrillCheck {
    /// What was checked.
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// Whether it passed.
    #[getter]
    fn passed(&self) -> bool {
        self.inner.passed
    }

    /// What was found.
    #[getter]
    fn detail(&self) -> &str {
        &self.inner.detail
    }

    /// The check as plain Python values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner)
    }

    fn __repr__(&self) -> String {
        format!(
            "<pcdr.DrillCheck {} {}: {}>",
            if self.inner.passed { "ok" } else { "FAILED" },
            self.inner.name,
            self.inner.detail
        )
    }
}

/// Runs a disaster rehearsal on a new emulated world in `dir` (a temporary folder,
/// removed when the drill passes, when `None`).
#[pyfunction]
#[pyo3(signature = (dir = None, logs = 6, uncopied = 2, unrestored = 3, on_event = None, scenario = "disaster"))]
pub fn drill(
    py: Python<'_>,
    dir: Option<PathBuf>,
    logs: u32,
    uncopied: u32,
    unrestored: u32,
    on_event: Option<Py<PyAny>>,
    scenario: &str,
) -> PyResult<PyDrillReport> {
    let scenario: Scenario = scenario.parse().map_err(PyValueError::new_err)?;
    if let Some(callback) = &on_event
        && !callback.bind(py).is_callable()
    {
        return Err(PyTypeError::new_err("on_event must be callable"));
    }
    let program: String = py.import("sys")?.getattr("executable")?.extract()?;
    if program.is_empty() {
        return Err(PcdrError::new_err(
            "sys.executable is empty: the drill needs a Python interpreter to run the emulated shell",
        ));
    }
    let (dir, temporary) = match dir {
        Some(dir) => (dir, None),
        None => {
            let temp = tempfile::Builder::new()
                .prefix("pcdr-drill-")
                .tempdir()
                .map_err(|e| {
                    PcdrError::new_err(format!("cannot create a temporary folder: {e}"))
                })?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let options = DrillOptions {
        scenario,
        dir,
        world: WorldOptions {
            logs,
            uncopied,
            unrestored,
            ..WorldOptions::default()
        },
        shell: ShellLauncher {
            program,
            args: vec!["-m".into(), "pcdr._simshell".into()],
        },
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let bridge = Arc::new(Bridge::new(py, Arc::clone(&cancel))?);
    bridge.start(on_event);
    let flag = Arc::clone(&cancel);
    let observer = Arc::clone(&bridge);
    let result = run_cancellable(
        py,
        async move { pcdr_sim::drill::run_cancellable(&options, observer, flag).await },
        || cancel.store(true, Ordering::SeqCst),
    );
    let callback_error = bridge.finish();
    let report = finish(py, Ok::<_, pcdr_core::Error>(result?), callback_error)?;
    // A temporary world is removed when the drill passed, kept for inspection otherwise.
    if !report.passed
        && let Some(temporary) = temporary
    {
        let _ = temporary.keep();
    }
    Ok(PyDrillReport { inner: report })
}

/// Runs the emulated Management Shell: `args` is `--world DIR [--] SHELL ARGS…`, as
/// the drill's topology passes them. Returns its stdout, stderr and exit code.
#[pyfunction]
pub fn _sim_shell(py: Python<'_>, args: Vec<String>) -> PyResult<(String, String, i32)> {
    let (world, rest) = match args.as_slice() {
        [flag, world, rest @ ..] if flag == "--world" => (world, rest),
        _ => {
            return Err(PyValueError::new_err(
                "usage: --world DIR -- -NoProfile -NonInteractive -EncodedCommand <base64>",
            ));
        }
    };
    let rest = rest
        .strip_prefix(&["--".to_owned()])
        .unwrap_or(rest)
        .to_vec();
    let world = PathBuf::from(world);
    py.detach(move || {
        let world_state = World::open(&world).map_err(|e| format!("{}: {e}", world.display()))?;
        let output = run_shell(&rest, &world_state);
        Ok::<_, String>((output.stdout, output.stderr, output.exit_code))
    })
    .map_err(PcdrError::new_err)
}
