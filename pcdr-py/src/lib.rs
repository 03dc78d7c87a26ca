//! The Python package `pcdr`: Persistent Chat failover and failback for ops scripts.
//!
//! This crate is the native part, `pcdr._pcdr`; the typed, documented API is the stub
//! `python/pcdr/_pcdr.pyi`. Every file here converts types around one part of
//! [`pcdr_core::embed`] and adds no procedure logic:
//!
//! - `topology.rs`: `Topology`, the checked deployment.
//! - `runbook.rs`: `Runbook`, planning and running the procedures.
//! - `procedures.rs`: `procedures()`, the procedures and their steps from pcdr-core's
//!   step tables.
//! - `plan.rs`, `report.rs`, `events.rs`: what the calls return or report as they go.
//! - `drill.rs`: `drill()` and `DrillReport`, the rehearsal of `pcdr_sim::drill` on an
//!   emulated world, and `_sim_shell`, that world's Management Shell. Only with the
//!   `emulator` feature (the default); a production wheel (`maturin build
//!   --no-default-features`) has none of them, nor the emulator.
//! - `errors.rs`: the exception classes and the one mapping from pcdr-core's errors.
//! - `runtime.rs`: the process-wide tokio runtime and how calls wait on it.
//! - `convert.rs`: serde values to Python objects, procedure names to procedures.

#![warn(missing_docs)]

mod convert;
#[cfg(feature = "emulator")]
mod drill;
mod errors;
mod events;
mod plan;
mod procedures;
mod report;
mod runbook;
mod runtime;
mod topology;

use pyo3::prelude::*;

/// The native module, imported by `pcdr/__init__.py`; its `__version__` is the crates'
/// version.
#[pymodule]
fn _pcdr(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(module)?;
    module.add_class::<topology::PyTopology>()?;
    module.add_class::<runbook::PyRunbook>()?;
    procedures::register(module)?;
    module.add_class::<plan::PyPlannedStep>()?;
    module.add_class::<plan::PyCommand>()?;
    module.add_class::<report::PyReport>()?;
    module.add_class::<report::PyStepReport>()?;
    module.add_class::<report::PyStepOutcome>()?;
    module.add_class::<events::PyEvent>()?;
    #[cfg(feature = "emulator")]
    drill::register(module)?;
    Ok(())
}
