//! `pcdr drill`: a whole disaster rehearsal on an emulated world, through the real
//! adapters — traffic, disaster at the primary site, failover, verify, rebuild of the
//! primary site, failback, verify — with a report of both procedures and every check.

use super::sim::wait_until_listening;
use crate::progress::{Progress, Style};
use crate::{exit, render};
use chrono::{DateTime, Utc};
use pcdr_core::adapters;
use pcdr_core::procedure::{Context, Procedure, RunOptions};
use pcdr_core::runbook::{Report, Runbook, new_run_id};
use pcdr_core::topology::Topology;
use pcdr_sim::serve::{ServeOptions, serve};
use pcdr_sim::world::model::{InstanceId, Site};
use pcdr_sim::world::{Expect, World, WorldOptions};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// The drill's knobs.
pub struct DrillArgs {
    /// Where to build the world (a temporary folder when absent).
    pub dir: Option<PathBuf>,
    /// Log backups taken before the disaster.
    pub logs: u32,
    /// The newest K of them not yet copied when disaster strikes.
    pub uncopied: u32,
    /// The newest M of them not yet restored.
    pub unrestored: u32,
    /// Machine-readable output.
    pub json: bool,
}

/// One check of the drill.
#[derive(Debug, Serialize)]
struct Check {
    name: String,
    passed: bool,
    detail: String,
}

/// What the drill proved.
#[derive(Debug, Serialize)]
struct DrillReport {
    world: PathBuf,
    passed: bool,
    checks: Vec<Check>,
    failover: Option<Report>,
    failback: Option<Report>,
    messages_committed_before_disaster: u64,
    messages_guaranteed: u64,
    last_applied_log_backup: Option<String>,
    last_applied_log_backup_finished: Option<DateTime<Utc>>,
}

/// Messages sent during the drill.
const MESSAGES_BEFORE_DISASTER: u32 = 20;
const MESSAGES_AFTER_LAST_BACKUP: u32 = 3;
const MESSAGES_WHILE_FAILED_OVER: u32 = 10;

/// Runs the drill.
pub async fn run(args: DrillArgs) -> ExitCode {
    let (dir, temporary) = match world_dir(args.dir.as_deref()) {
        Ok(found) => found,
        Err(message) => return fail(&message),
    };
    let options = WorldOptions {
        logs: args.logs,
        uncopied: args.uncopied,
        unrestored: args.unrestored,
        ..WorldOptions::default()
    };
    let mut drill = Drill::new(dir, args.json);
    let outcome = drill.run(&options).await;
    let report = drill.finish(outcome);
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

struct Drill {
    dir: PathBuf,
    json: bool,
    checks: Vec<Check>,
    failover: Option<Report>,
    failback: Option<Report>,
    committed: u64,
    guaranteed: u64,
}

impl Drill {
    fn new(dir: PathBuf, json: bool) -> Self {
        Self {
            dir,
            json,
            checks: Vec::new(),
            failover: None,
            failback: None,
            committed: 0,
            guaranteed: 0,
        }
    }

    fn check(&mut self, name: &str, passed: bool, detail: impl Into<String>) -> bool {
        let detail = detail.into();
        if !self.json {
            eprintln!(
                "[{}] {name}: {detail}",
                if passed { "ok" } else { "FAILED" }
            );
        }
        self.checks.push(Check {
            name: name.into(),
            passed,
            detail,
        });
        passed
    }

    async fn run(&mut self, options: &WorldOptions) -> Result<(), String> {
        let world = World::create(&self.dir, options).map_err(|e| e.to_string())?;
        let shell_program = std::env::current_exe()
            .map_err(|e| e.to_string())?
            .display()
            .to_string();
        let serving = serve(
            &self.dir,
            &ServeOptions {
                shell_program,
                minute_every: None,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        let topology = Topology::load(serving.topology_path()).map_err(|e| e.to_string())?;
        self.traffic(&world)?;
        self.disaster(&world).await?;
        self.failover = self.procedure(&topology, Procedure::Failover).await;
        if self.failover.is_none() {
            return Ok(());
        }
        self.verify(&world, Expect::FailedOver, "failed over")?;
        world
            .traffic(MESSAGES_WHILE_FAILED_OVER, false)
            .map_err(|e| e.to_string())?;
        world.rebuild(Site::Primary).map_err(|e| e.to_string())?;
        wait_until_listening(&self.dir, Site::Primary, true).await?;
        self.failback = self.procedure(&topology, Procedure::Failback).await;
        if self.failback.is_none() {
            return Ok(());
        }
        world.traffic(1, true).map_err(|e| e.to_string())?;
        world.tick(15).map_err(|e| e.to_string())?;
        self.verify(&world, Expect::Normal, "back to normal")?;
        drop(serving);
        Ok(())
    }

    /// Chat traffic with log backups, then messages no log backup holds yet.
    fn traffic(&mut self, world: &World) -> Result<(), String> {
        world
            .traffic(MESSAGES_BEFORE_DISASTER, true)
            .map_err(|e| e.to_string())?;
        world
            .traffic(MESSAGES_AFTER_LAST_BACKUP, false)
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn disaster(&mut self, world: &World) -> Result<(), String> {
        world
            .disaster(Site::Primary, false)
            .map_err(|e| e.to_string())?;
        wait_until_listening(&self.dir, Site::Primary, false).await?;
        if let Some(truth) = world.read().map_err(|e| e.to_string())?.ground_truth {
            self.committed = truth.committed_through;
            self.guaranteed = truth.guaranteed_through;
        }
        self.check(
            "disaster",
            true,
            format!(
                "primary site down; {} messages committed, {} of them in log backups on the share",
                self.committed, self.guaranteed
            ),
        );
        Ok(())
    }

    async fn procedure(&mut self, topology: &Topology, procedure: Procedure) -> Option<Report> {
        let planes = match adapters::connect(topology) {
            Ok(planes) => planes,
            Err(e) => {
                self.check(procedure.as_str(), false, e.to_string());
                return None;
            }
        };
        let progress = Arc::new(Progress::new(Style::detect(self.json)));
        let ctx = Context::new(
            Arc::new(topology.clone()),
            planes,
            RunOptions::default(),
            new_run_id(),
        )
        .with_observer(progress);
        let journal = self.dir.join(format!("{procedure}.journal"));
        match Runbook::new(ctx, journal).execute(procedure).await {
            Ok(report) => {
                let detail = format!(
                    "completed in {:.1} s",
                    report.rto_seconds.unwrap_or_default()
                );
                self.check(procedure.as_str(), report.completed, detail);
                Some(report)
            }
            Err(e) => {
                self.check(procedure.as_str(), false, e.to_string());
                None
            }
        }
    }

    fn verify(&mut self, world: &World, expect: Expect, what: &str) -> Result<(), String> {
        let differences = world.verify(expect).map_err(|e| e.to_string())?;
        let detail = if differences.is_empty() {
            format!(
                "the world's own verification agrees; the serving mgc holds {} messages",
                self.held(world, expect)
            )
        } else {
            differences
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        };
        self.check(&format!("verify {what}"), differences.is_empty(), detail);
        Ok(())
    }

    fn held(&self, world: &World, expect: Expect) -> usize {
        let instance = match expect {
            Expect::FailedOver => InstanceId::Backup,
            Expect::Normal => InstanceId::Primary,
        };
        world
            .messages(instance, "mgc")
            .map(|m| m.len())
            .unwrap_or_default()
    }

    fn finish(self, outcome: Result<(), String>) -> DrillReport {
        let mut checks = self.checks;
        if let Err(message) = outcome {
            checks.push(Check {
                name: "drill".into(),
                passed: false,
                detail: message,
            });
        }
        let rpo = self.failover.as_ref().map(|r| &r.rpo);
        DrillReport {
            world: self.dir,
            passed: !checks.is_empty()
                && checks.iter().all(|c| c.passed)
                && self.failback.is_some(),
            last_applied_log_backup: rpo.and_then(|r| r.last_applied_file.clone()),
            last_applied_log_backup_finished: rpo.and_then(|r| r.last_applied_finish),
            checks,
            failover: self.failover,
            failback: self.failback,
            messages_committed_before_disaster: self.committed,
            messages_guaranteed: self.guaranteed,
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
