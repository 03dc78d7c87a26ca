//! The commands that run the emulated world (pcdr-sim): `pcdr drill` and `pcdr sim …`.
//! They exist only in a build with the `emulator` feature (the default); a production
//! build (`--no-default-features`) has neither them nor the emulator.

use super::{drill, sim};
use clap::Subcommand;
use std::process::ExitCode;

/// The emulator's commands, flattened into `pcdr`'s own.
#[derive(Subcommand)]
pub enum EmulatorCommand {
    /// Rehearse a disaster on an emulated world: traffic, disaster, failover, verify,
    /// rebuild, failback, verify. Needs nothing but this program.
    Drill(drill::DrillArgs),
    /// The emulated two-site world, for drills and tests.
    #[command(subcommand)]
    Sim(sim::SimCommand),
}

impl EmulatorCommand {
    /// Runs the command.
    pub async fn run(self) -> ExitCode {
        match self {
            Self::Drill(args) => drill::run(args).await,
            Self::Sim(command) => sim::run(command).await,
        }
    }

    /// Whether `pcdr` logs on stderr: not in the emulated shell, whose stderr is its
    /// error channel, as PowerShell's is.
    pub fn logs_on_stderr(&self) -> bool {
        !matches!(self, Self::Sim(sim::SimCommand::Shell { .. }))
    }
}
