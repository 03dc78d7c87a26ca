//! `pcdr`: the command-line tool for Persistent Chat disaster recovery.
//!
//! Presentation only: every decision is pcdr-core's. Exit codes are listed in
//! [`exit`] and in the README.

#[cfg(feature = "emulator")]
mod byte_size;
mod commands;
mod exit;
mod procedure_args;
mod progress;
mod render;
mod timeline;

use clap::{Parser, Subcommand};
use commands::run::RunArgs;
use pcdr_core::procedure::Procedure;
use procedure_args::{Decisions, ProcedureCommand, ProcedureParser, Target};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "pcdr",
    version,
    about = "Persistent Chat disaster recovery: failover, failback and switchover as a safe, resumable runbook"
)]
struct Cli {
    /// Only errors in the log (on stderr).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// More log detail: -v for info, -vv for debug (statements sent, cmdlets run).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show what a procedure would do now, with the exact commands. Read-only.
    Plan {
        /// The procedure.
        #[arg(value_parser = ProcedureParser)]
        procedure: Procedure,
        #[command(flatten)]
        target: Target,
        /// Observe nothing: show the steps and command templates without connecting.
        #[arg(long)]
        offline: bool,
        #[command(flatten)]
        decisions: Decisions,
    },
    // One subcommand per procedure (`failover`, `failback`), from pcdr-core's table.
    #[command(flatten)]
    Procedure(ProcedureCommand),
    /// Show both sites: instances, databases, mirroring, log-shipping lag, pool state.
    Status {
        #[command(flatten)]
        target: Target,
    },
    // `drill` and `sim`: only in a build with the emulator.
    #[cfg(feature = "emulator")]
    #[command(flatten)]
    Emulator(commands::emulator::EmulatorCommand),
}

impl Command {
    /// Whether `pcdr` logs on stderr for this command.
    fn logs_on_stderr(&self) -> bool {
        match self {
            #[cfg(feature = "emulator")]
            Command::Emulator(command) => command.logs_on_stderr(),
            _ => true,
        }
    }
}

impl ProcedureCommand {
    fn into_args(self) -> RunArgs {
        RunArgs {
            topology: self.run.target.topology,
            journal: self.run.journal,
            yes: self.run.yes,
            resume: self.run.resume,
            options: self.decisions.options(),
            json: self.run.target.json,
        }
    }
}

fn init_logging(quiet: bool, verbose: u8) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    // tiberius logs every server error it passes on; pcdr reports them itself.
    let tiberius = if verbose >= 2 { "debug" } else { "off" };
    let filter = EnvFilter::try_from_env("PCDR_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},tiberius={tiberius}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn main() -> ExitCode {
    // Bad arguments exit with clap's code 2, the usage-error code.
    let cli = Cli::parse();
    if cli.command.logs_on_stderr() {
        init_logging(cli.quiet, cli.verbose);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pcdr: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(dispatch(cli.command))
}

async fn dispatch(command: Command) -> ExitCode {
    match command {
        Command::Plan {
            procedure,
            target,
            offline,
            decisions,
        } => {
            commands::plan::run(
                decisions.procedure(procedure),
                &target.topology,
                offline,
                decisions.options(),
                target.json,
            )
            .await
        }
        Command::Procedure(command) => {
            let procedure = command.decisions.procedure(command.procedure);
            commands::run::run(procedure, command.into_args()).await
        }
        Command::Status { target } => commands::status::run(&target.topology, target.json).await,
        #[cfg(feature = "emulator")]
        Command::Emulator(command) => command.run().await,
    }
}
