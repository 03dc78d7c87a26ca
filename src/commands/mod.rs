//! One module per `pcdr` command. Each takes its parsed arguments and returns the exit
//! code; all decisions are pcdr-core's. `drill` and `sim` (gathered in `emulator`) are
//! built only with the `emulator` feature.

#[cfg(feature = "emulator")]
pub mod drill;
#[cfg(feature = "emulator")]
pub mod emulator;
mod journals;
pub mod plan;
pub mod run;
#[cfg(feature = "emulator")]
pub mod sim;
pub mod status;

use crate::exit;
use pcdr_core::topology::Topology;
use std::path::Path;
use std::process::ExitCode;

/// Loads and validates the topology, or says why not.
pub fn load_topology(path: &Path) -> Result<Topology, ExitCode> {
    Topology::load(path).map_err(|e| {
        eprintln!("pcdr: topology {}: {e}", path.display());
        ExitCode::from(exit::USAGE)
    })
}
