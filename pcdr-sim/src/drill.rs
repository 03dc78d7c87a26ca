//! A whole disaster rehearsal on an emulated world, through pcdr's real adapters —
//! traffic, disaster at the primary site, failover, verify, rebuild of the primary site,
//! failback, verify — with a report of both procedures and every check.
//!
//! The CLI's `pcdr drill` and the Python package's `pcdr.drill()` both run [`run`];
//! they differ only in the program the world's topology runs as its Management Shell
//! ([`ShellLauncher`]) and in how they present the [`DrillReport`].

use pcdr_core::procedure::{failback, failover};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use chrono::{DateTime, Utc};
use pcdr_core::adapters;
use pcdr_core::procedure::{Context, Observer, Procedure, RunOptions};
use pcdr_core::runbook::{Report, Runbook, new_run_id};
use pcdr_core::schema::Document;
use pcdr_core::topology::Topology;
use serde::Serialize;

use crate::serve::{ServeOptions, ShellLauncher, serve, wait_for_site};
use crate::world::model::{InstanceId, Site};
use crate::world::{Expect, World, WorldOptions};

/// What to rehearse, and where.
#[derive(Debug, Clone)]
pub struct DrillOptions {
    /// The folder to build the world in; it must not hold a world yet.
    pub dir: PathBuf,
    /// The world's shape (log backups taken, not yet copied, not yet restored, …).
    pub world: WorldOptions,
    /// The program the world's topology runs as its Management Shell.
    pub shell: ShellLauncher,
}

/// One check of the drill.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked (`disaster`, `failover`, `verify failed over`, …).
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was found.
    pub detail: String,
}

/// What the drill proved.
#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    /// The world's folder.
    pub world: PathBuf,
    /// Whether every check passed and both procedures ran.
    pub passed: bool,
    /// The checks, in order.
    pub checks: Vec<Check>,
    /// The failover's report, if it ran.
    pub failover: Option<Report>,
    /// The failback's report, if it ran.
    pub failback: Option<Report>,
    /// Messages committed on the primary site before the disaster.
    pub messages_committed_before_disaster: u64,
    /// How many of them were in log backups on the share.
    pub messages_guaranteed: u64,
    /// The last log backup the failover applied.
    pub last_applied_log_backup: Option<String>,
    /// When that log backup finished.
    pub last_applied_log_backup_finished: Option<DateTime<Utc>>,
}

/// `pcdr drill --json` prints it as a versioned document ([`pcdr_core::schema`]).
impl Document for DrillReport {
    const SCHEMA_VERSION: u32 = 1;
}

/// Messages sent during the drill.
const MESSAGES_BEFORE_DISASTER: u32 = 20;
const MESSAGES_AFTER_LAST_BACKUP: u32 = 3;
const MESSAGES_WHILE_FAILED_OVER: u32 = 10;

/// Runs the drill; the procedures' progress events go to `observer`.
pub async fn run(options: &DrillOptions, observer: Arc<dyn Observer>) -> DrillReport {
    run_cancellable(options, observer, Arc::new(AtomicBool::new(false))).await
}

/// Runs the drill; setting `cancel` stops the running procedure before its next action
/// (the drill then fails).
pub async fn run_cancellable(
    options: &DrillOptions,
    observer: Arc<dyn Observer>,
    cancel: Arc<AtomicBool>,
) -> DrillReport {
    let mut drill = Drill {
        dir: options.dir.clone(),
        observer,
        cancel,
        checks: Vec::new(),
        failover: None,
        failback: None,
        committed: 0,
        guaranteed: 0,
    };
    let outcome = drill.run(options).await;
    drill.finish(outcome)
}

struct Drill {
    dir: PathBuf,
    observer: Arc<dyn Observer>,
    cancel: Arc<AtomicBool>,
    checks: Vec<Check>,
    failover: Option<Report>,
    failback: Option<Report>,
    committed: u64,
    guaranteed: u64,
}

impl Drill {
    fn check(&mut self, name: &str, passed: bool, detail: impl Into<String>) -> bool {
        let detail = detail.into();
        if passed {
            tracing::info!(check = name, "{detail}");
        } else {
            tracing::warn!(check = name, "FAILED: {detail}");
        }
        self.checks.push(Check {
            name: name.into(),
            passed,
            detail,
        });
        passed
    }

    async fn run(&mut self, options: &DrillOptions) -> Result<(), String> {
        let world = World::create(&self.dir, &options.world).map_err(|e| e.to_string())?;
        let serving = serve(
            &self.dir,
            &ServeOptions {
                shell: options.shell.clone(),
                minute_every: None,
                force_encryption: true,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        let topology = Topology::load(serving.topology_path()).map_err(|e| e.to_string())?;
        self.traffic(&world)?;
        self.disaster(&world).await?;
        self.failover = self.procedure(&topology, failover::PROCEDURE).await;
        if self.failover.is_none() {
            return Ok(());
        }
        self.verify(&world, Expect::FailedOver, "failed over")?;
        world
            .traffic(MESSAGES_WHILE_FAILED_OVER, false)
            .map_err(|e| e.to_string())?;
        world.rebuild(Site::Primary).map_err(|e| e.to_string())?;
        wait_for_site(&self.dir, Site::Primary, true).await?;
        self.failback = self.procedure(&topology, failback::PROCEDURE).await;
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
        wait_for_site(&self.dir, Site::Primary, false).await?;
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
        let journal = |procedure: Procedure| self.dir.join(format!("{procedure}.journal"));
        // The failback follows the drill's failover, and keeps its log-shipping settings.
        let options = RunOptions {
            failover_journal: (procedure == failback::PROCEDURE)
                .then(|| journal(failover::PROCEDURE)),
            ..RunOptions::default()
        };
        let ctx = Context::new(Arc::new(topology.clone()), planes, options, new_run_id())
            .with_observer(Arc::clone(&self.observer))
            .with_cancel_flag(Arc::clone(&self.cancel));
        match Runbook::new(ctx, journal(procedure))
            .execute(procedure)
            .await
        {
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
                held(world, expect)
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

/// The messages the serving chat database holds in the end state `expect`.
fn held(world: &World, expect: Expect) -> usize {
    let instance = match expect {
        Expect::FailedOver | Expect::SwitchedOver => InstanceId::Backup,
        Expect::Normal => InstanceId::Primary,
    };
    world
        .messages(instance, "mgc")
        .map(|m| m.len())
        .unwrap_or_default()
}
