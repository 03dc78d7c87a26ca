//! `pcdr drill`: a whole disaster rehearsal on an emulated world, through the real
//! adapters ([`pcdr_sim::drill`]), with a report of both procedures and every check.
//! This file only presents it: the temporary folder, the report or its JSON, the exit
//! code.

use crate::progress::{Progress, Style};
use crate::{exit, render};
use clap::Args;
use pcdr_sim::drill::{DrillOptions, DrillReport, Scenario};
use pcdr_sim::serve::ShellLauncher;
use pcdr_sim::world::WorldOptions;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// `pcdr drill`'s knobs.
#[derive(Args)]
pub struct DrillArgs {
    /// What to rehearse: disaster (failover, then Microsoft's failback), switchover (to
    /// the backup site and back, both sites answering), online-failback (failover, then
    /// the online failback: prepare while the pool serves, cut over with a switchover).
    #[arg(long, default_value = "disaster")]
    scenario: Scenario,
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
    /// The size of each chat database's data file, e.g. 64MiB or 2GiB: the full backups
    /// and restores of the drill copy that many bytes.
    #[arg(long, default_value = "1MiB", value_parser = crate::byte_size::parse)]
    db_size: u64,
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
        scenario: args.scenario,
        world: WorldOptions {
            logs: args.logs,
            uncopied: args.uncopied,
            unrestored: args.unrestored,
            db_size_bytes: args.db_size,
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
    let procedures = [&report.failover, &report.failback]
        .into_iter()
        .flatten()
        .chain(&report.switchovers);
    for procedure in procedures {
        println!("\n== {}", procedure.procedure.as_str().to_ascii_uppercase());
        render::report(procedure);
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
    if report.scenario != Scenario::Switchover {
        println!(
            "data loss: {} messages were committed before the disaster, {} were in log backups on the share; the rest (the last {}) is the window log shipping cannot protect",
            report.messages_committed_before_disaster,
            report.messages_guaranteed,
            report
                .messages_committed_before_disaster
                .saturating_sub(report.messages_guaranteed)
        );
    }
    println!(
        "\ndrill {}",
        if report.passed { "PASSED" } else { "FAILED" }
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use pcdr_core::procedure::RunOptions;
    use pcdr_core::procedure::failover;
    use pcdr_core::runbook::{JOURNAL_FORMAT, Record, Report};
    use pcdr_sim::drill::Check;

    /// The report of a failover journaled as started and finished, with no step.
    fn report() -> Report {
        let at = |minute| Utc.with_ymd_and_hms(2026, 11, 27, 13, minute, 0).unwrap();
        let records = [
            Record::Started {
                format: JOURNAL_FORMAT,
                procedure: failover::PROCEDURE,
                run_id: "20261127130000".into(),
                options: RunOptions::default(),
                deployment: None,
                at: at(0),
            },
            Record::Finished { at: at(2) },
        ];
        Report::from_records(failover::PROCEDURE, &records)
    }

    /// A drill whose failover passed and whose failback never ran.
    fn drill_report() -> DrillReport {
        let check = |name: &str, passed, detail: &str| Check {
            name: name.into(),
            passed,
            detail: detail.into(),
        };
        DrillReport {
            scenario: Scenario::Disaster,
            world: PathBuf::from("/tmp/pcdr-drill-world"),
            passed: false,
            checks: vec![
                check("disaster", true, "the primary site is down"),
                check("failover", true, "completed"),
                check("rebuild", false, "the primary site did not come back"),
            ],
            failover: Some(report()),
            failback: None,
            switchovers: Vec::new(),
            messages_committed_before_disaster: 23,
            messages_guaranteed: 20,
            last_applied_log_backup: Some(r"D:\LogShipping\mgc\mgc_20261127124500.trn".into()),
            last_applied_log_backup_finished: Some(
                Utc.with_ymd_and_hms(2026, 11, 27, 12, 45, 10).unwrap(),
            ),
        }
    }

    #[test]
    fn the_drill_json_matches_its_snapshot() {
        render::assert_json_snapshot("drill", &drill_report());
    }
}
