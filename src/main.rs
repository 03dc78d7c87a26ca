//! `pcdr`: the command-line tool for Persistent Chat disaster recovery.
//!
//! Presentation only: every decision is pcdr-core's.

use clap::{Parser, Subcommand};
use pcdr_core::planes::Offline;
use pcdr_core::procedure::{Context, Planes, Procedure, RunOptions};
use pcdr_core::runbook::{Plan, PlannedStatus, new_run_id, plan};
use pcdr_core::topology::Topology;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Exit code when the procedure would refuse to run.
const EXIT_BLOCKED: u8 = 2;
/// Exit code for bad input (topology, arguments).
const EXIT_INPUT: u8 = 3;

#[derive(Parser)]
#[command(
    name = "pcdr",
    version,
    about = "Persistent Chat disaster recovery: failover and failback as a safe, resumable runbook"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show what a procedure would do, with the exact commands. Read-only.
    Plan {
        /// failover or failback.
        procedure: Procedure,
        /// The topology file.
        #[arg(long)]
        topology: PathBuf,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pcdr: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Plan {
            procedure,
            topology,
            json,
        } => runtime.block_on(plan_command(procedure, &topology, json)),
    }
}

/// Planes for planning without a connection: every observation reports "unknown".
fn offline_planes(topology: &Topology) -> Planes {
    let sql = |role: pcdr_core::topology::SiteRole| {
        Arc::new(Offline::new(topology.site(role).sql.display_name()))
    };
    Planes {
        primary: sql(pcdr_core::topology::SiteRole::Primary),
        primary_mirror: None,
        backup: sql(pcdr_core::topology::SiteRole::Backup),
        files: Arc::new(Offline::new("log-shipping folders")),
        pool: Arc::new(Offline::new(format!("pool {}", topology.pool.fqdn))),
    }
}

async fn plan_command(procedure: Procedure, path: &Path, json: bool) -> ExitCode {
    let topology = match Topology::load(path) {
        Ok(topology) => topology,
        Err(e) => {
            eprintln!("pcdr: topology: {e}");
            return ExitCode::from(EXIT_INPUT);
        }
    };
    let planes = offline_planes(&topology);
    let ctx = Context::new(
        Arc::new(topology),
        planes,
        RunOptions::default(),
        new_run_id(),
    );
    let plan = plan(&ctx, procedure).await;
    if json {
        match serde_json::to_string_pretty(&plan) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("pcdr: {e}"),
        }
    } else {
        print_plan(&plan);
    }
    if plan.can_run() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_BLOCKED)
    }
}

fn print_plan(plan: &Plan) {
    println!("Plan: {}", plan.procedure);
    for (index, step) in plan.steps.iter().enumerate() {
        let status = match &step.status {
            PlannedStatus::WouldRun => "would run".to_string(),
            PlannedStatus::AlreadyDone { reason } => format!("already done: {reason}"),
            PlannedStatus::Unknown { reason } => format!("unknown: {reason}"),
            PlannedStatus::Blocked { reason } => format!("BLOCKED: {reason}"),
        };
        println!(
            "\n{:>2}. {} ({})\n    {status}",
            index + 1,
            step.title,
            step.step.as_str()
        );
        for note in &step.notes {
            println!("    note: {note}");
        }
        for command in &step.commands {
            for line in command.to_string().lines() {
                println!("      {line}");
            }
        }
    }
}
