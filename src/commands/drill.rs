//! `pcdr drill`: a whole disaster rehearsal on an emulated world, through the real
//! adapters ([`pcdr_sim::drill`]), with a report of both procedures and every check.
//! This file only presents it: the temporary folder, the report or its JSON, the exit
//! code.

use crate::progress::{Progress, Style};
use crate::{exit, render};
use clap::Args;
use pcdr_sim::drill::{DrillOptions, DrillReport};
use pcdr_sim::serve::ShellLauncher;
use pcdr_sim::world::WorldOptions;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// `pcdr drill`'s knobs.
#[derive(Args)]
pub struct DrillArgs {
    /// Build the world here (default: a temporary folder, removed when the drill passes).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Log backups taken before the disaster.
    #[arg(long, default_value_t = 6)]
    logs: u32,
    /// The newest K of them not yet copied when disaster strikes.
    #[arg(long, default_value_t = 2)]
    uncopied: u32,
    /// The newest M of them not yet restored.
    #[arg(long, default_value_t = 3)]
    unrestored: u32,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the drill.
pub async fn run(args: DrillArgs) -> ExitCode {
    let (dir, temporary) = match world_dir(args.dir.as_deref()) {
        Ok(found) => found,
        Err(message) => return fail(&message),
    };
    let program = match std::env::current_exe() {
        Ok(program) => program.display().to_string(),
        Err(e) => return fail(&format!("cannot find the pcdr executable: {e}")),
    };
    let options = DrillOptions {
        dir,
        world: WorldOptions {
            logs: args.logs,
            uncopied: args.uncopied,
            unrestored: args.unrestored,
            ..WorldOptions::default()
        },
        shell: ShellLauncher::pcdr(program),
    };
    let progress = Arc::new(Progress::new(Style::detect(args.json)));
    let report = pcdr_sim::drill::run(&options, progress).await;
    if !report.passed
        && let Some(temporary) = temporary
    {
        eprintln!(
            "pcdr drill: the world is kept for inspection in {}",
            temporary.keep().display()
        );
    }
    if args.json {
        render::json(&report);
    } else {
        print(&report);
    }
    ExitCode::from(if report.passed {
        exit::SUCCESS
    } else {
        exit::FAILED
    })
}

fn fail(message: &str) -> ExitCode {
    eprintln!("pcdr drill: {message}");
    ExitCode::from(exit::FAILED)
}

/// The world folder: the one given, or a new temporary one (removed at the end).
fn world_dir(dir: Option<&Path>) -> Result<(PathBuf, Option<tempfile::TempDir>), String> {
    match dir {
        Some(dir) => Ok((dir.to_path_buf(), None)),
        None => {
            let temp = tempfile::Builder::new()
                .prefix("pcdr-drill-")
                .tempdir()
                .map_err(|e| format!("cannot create a temporary folder: {e}"))?;
            Ok((temp.path().to_path_buf(), Some(temp)))
        }
    }
}

fn print(report: &DrillReport) {
    for (title, procedure) in [
        ("FAILOVER", &report.failover),
        ("FAILBACK", &report.failback),
    ] {
        if let Some(procedure) = procedure {
            println!("\n== {title}");
            render::report(procedure);
        }
    }
    println!("\n== DRILL");
    for check in &report.checks {
        println!(
            "{:<8} {:<22} {}",
            if check.passed { "ok" } else { "FAILED" },
            check.name,
            check.detail
        );
    }
    println!(
        "data loss: {} messages were committed before the disaster, {} were in log backups on the share; the rest (the last {}) is the window log shipping cannot protect",
        report.messages_committed_before_disaster,
        report.messages_guaranteed,
        report
            .messages_committed_before_disaster
            .saturating_sub(report.messages_guaranteed)
    );
    println!(
        "\ndrill {}",
        if report.passed { "PASSED" } else { "FAILED" }
    );
}
