//! A whole rehearsal on an emulated world, through pcdr's real adapters, with a report
//! of every procedure and every check, in one of three scenarios ([`Scenario`]):
//!
//! - `disaster`: traffic, disaster at the primary site, failover, verify, rebuild of the
//!   primary site, failback, verify;
//! - `switchover`: traffic, switchover to the backup site, verify that nothing was lost,
//!   traffic with log shipping running back to the primary, switchover back, verify;
//! - `online-failback`: traffic, disaster, failover, verify, rebuild, the online
//!   failback's prepare phase while the pool serves, log shipping to the primary, the
//!   cutover (a switchover back), verify.
//!
//! The CLI's `pcdr drill` and the Python package's `pcdr.drill()` both run [`run`];
//! they differ only in the program the world's topology runs as its Management Shell
//! ([`ShellLauncher`]) and in how they present the [`DrillReport`].

use pcdr_core::procedure::{failback, failover, switchover};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use chrono::{DateTime, Utc};
use pcdr_core::adapters;
use pcdr_core::procedure::{Context, Observer, Procedure, RunOptions};
use pcdr_core::runbook::{Report, Runbook, follows_a_failover, new_run_id};
use pcdr_core::schema::Document;
use pcdr_core::topology::Topology;
use serde::Serialize;

use crate::serve::{ServeOptions, ShellLauncher, serve, wait_for_site};
use crate::world::model::{InstanceId, Site};
use crate::world::{Expect, World, WorldOptions};

/// What a drill rehearses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// The primary site is lost: failover, then Microsoft's failback.
    #[default]
    Disaster,
    /// Both sites answer: a switchover to the backup site and back.
    Switchover,
    /// The primary site is lost: failover, then the online failback (prepare while the
    /// pool serves, then a switchover as the cutover).
    OnlineFailback,
}

impl std::str::FromStr for Scenario {
    type Err = String;

    /// `disaster`, `switchover` or `online-failback`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "disaster" => Ok(Self::Disaster),
            "switchover" => Ok(Self::Switchover),
            "online-failback" => Ok(Self::OnlineFailback),
            _ => Err(format!(
                "unknown scenario '{text}' (disaster, switchover, online-failback)"
            )),
        }
    }
}

/// What to rehearse, and where.
#[derive(Debug, Clone)]
pub struct DrillOptions {
    /// The folder to build the world in; it must not hold a world yet.
    pub dir: PathBuf,
    /// What to rehearse.
    pub scenario: Scenario,
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
    /// What was rehearsed.
    pub scenario: Scenario,
    /// The world's folder.
    pub world: PathBuf,
    /// Whether every check passed and every procedure of the scenario ran.
    pub passed: bool,
    /// The checks, in order.
    pub checks: Vec<Check>,
    /// The failover's report, if it ran.
    pub failover: Option<Report>,
    /// The failback's report (Microsoft's failback, or the online failback's prepare
    /// phase), if it ran.
    pub failback: Option<Report>,
    /// The switchovers' reports, in order (the switchover and the switch back, or the
    /// online failback's cutover).
    pub switchovers: Vec<Report>,
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
    const SCHEMA_VERSION: u32 = 2;
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
        scenario: options.scenario,
        observer,
        cancel,
        checks: Vec::new(),
        failover: None,
        failback: None,
        switchovers: Vec::new(),
        committed: 0,
        guaranteed: 0,
    };
    let outcome = drill.run(options).await;
    drill.finish(outcome)
}

struct Drill {
    dir: PathBuf,
    scenario: Scenario,
    observer: Arc<dyn Observer>,
    cancel: Arc<AtomicBool>,
    checks: Vec<Check>,
    failover: Option<Report>,
    failback: Option<Report>,
    switchovers: Vec<Report>,
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
        match self.scenario {
            Scenario::Disaster => self.disaster_and_failback(&world, &topology).await?,
            Scenario::Switchover => self.switchover_and_back(&world, &topology).await?,
            Scenario::OnlineFailback => self.online_failback(&world, &topology).await?,
        }
        drop(serving);
        Ok(())
    }

    /// Disaster, failover, verify, rebuild of the primary site; `true` when it all went.
    async fn failed_over_and_rebuilt(
        &mut self,
        world: &World,
        topology: &Topology,
    ) -> Result<bool, String> {
        self.disaster(world).await?;
        self.failover = self.procedure(topology, failover::PROCEDURE).await;
        if self.failover.is_none() {
            return Ok(false);
        }
        self.verify(world, Expect::FailedOver, "failed over")?;
        world
            .traffic(MESSAGES_WHILE_FAILED_OVER, false)
            .map_err(|e| e.to_string())?;
        world.rebuild(Site::Primary).map_err(|e| e.to_string())?;
        wait_for_site(&self.dir, Site::Primary, true).await?;
        Ok(true)
    }

    async fn disaster_and_failback(
        &mut self,
        world: &World,
        topology: &Topology,
    ) -> Result<(), String> {
        if !self.failed_over_and_rebuilt(world, topology).await? {
            return Ok(());
        }
        self.failback = self.procedure(topology, failback::PROCEDURE).await;
        if self.failback.is_some() {
            self.back_to_normal(world)?;
        }
        Ok(())
    }

    async fn switchover_and_back(
        &mut self,
        world: &World,
        topology: &Topology,
    ) -> Result<(), String> {
        // A planned switchover starts from log shipping that keeps up: the jobs catch up
        // with the world's backlog first.
        Self::ship_logs(world)?;
        world
            .traffic(MESSAGES_AFTER_LAST_BACKUP, false)
            .map_err(|e| e.to_string())?;
        if !self.switchover(topology, "switchover").await {
            return Ok(());
        }
        self.verify(world, Expect::SwitchedOver, "switched over")?;
        Self::ship_logs(world)?;
        world
            .traffic(MESSAGES_AFTER_LAST_BACKUP, false)
            .map_err(|e| e.to_string())?;
        if self.switchover(topology, "switchover back").await {
            self.back_to_normal(world)?;
        }
        Ok(())
    }

    async fn online_failback(&mut self, world: &World, topology: &Topology) -> Result<(), String> {
        if !self.failed_over_and_rebuilt(world, topology).await? {
            return Ok(());
        }
        self.failback = self.procedure(topology, failback::online::PROCEDURE).await;
        if self.failback.is_none() {
            return Ok(());
        }
        Self::ship_logs(world)?;
        world
            .traffic(MESSAGES_AFTER_LAST_BACKUP, false)
            .map_err(|e| e.to_string())?;
        if self.switchover(topology, "cutover").await {
            self.back_to_normal(world)?;
        }
        Ok(())
    }

    /// A switchover, checked and journaled as `what`; whether it completed.
    async fn switchover(&mut self, topology: &Topology, what: &str) -> bool {
        let journal = self.dir.join(format!("{}.journal", what.replace(' ', "-")));
        let report = self
            .procedure_journaled(topology, switchover::PROCEDURE, journal, what)
            .await;
        let completed = report.as_ref().is_some_and(|r| r.completed);
        self.switchovers.extend(report);
        completed
    }

    /// Chat traffic with the log-shipping jobs running for half an hour, then two
    /// backup intervals: the serving database's log reaches the other site.
    fn ship_logs(world: &World) -> Result<(), String> {
        for _ in 0..6 {
            world.traffic(2, false).map_err(|e| e.to_string())?;
            world.tick(5).map_err(|e| e.to_string())?;
        }
        world.tick(30).map_err(|e| e.to_string())?;
        Ok(())
    }

    /// A last log backup shipped, then the world verified back to normal.
    fn back_to_normal(&mut self, world: &World) -> Result<(), String> {
        world.traffic(1, true).map_err(|e| e.to_string())?;
        world.tick(15).map_err(|e| e.to_string())?;
        self.verify(world, Expect::Normal, "back to normal")
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
        let journal = self.journal(procedure);
        self.procedure_journaled(topology, procedure, journal, procedure.as_str())
            .await
    }

    fn journal(&self, procedure: Procedure) -> PathBuf {
        self.dir.join(format!("{procedure}.journal"))
    }

    /// Runs `procedure` with `journal`, checked as `check`.
    async fn procedure_journaled(
        &mut self,
        topology: &Topology,
        procedure: Procedure,
        journal: PathBuf,
        check: &str,
    ) -> Option<Report> {
        let planes = match adapters::connect(topology) {
            Ok(planes) => planes,
            Err(e) => {
                self.check(check, false, e.to_string());
                return None;
            }
        };
        // A failback (online or not) follows the drill's failover, and keeps its
        // log-shipping settings.
        let options = RunOptions {
            failover_journal: follows_a_failover(procedure)
                .then(|| self.journal(failover::PROCEDURE)),
            ..RunOptions::default()
        };
        let ctx = Context::new(Arc::new(topology.clone()), planes, options, new_run_id())
            .with_observer(Arc::clone(&self.observer))
            .with_cancel_flag(Arc::clone(&self.cancel));
        match Runbook::new(ctx, journal).execute(procedure).await {
            Ok(report) => {
                let detail = completed(&report);
                self.check(check, report.completed, detail);
                Some(report)
            }
            Err(e) => {
                self.check(check, false, e.to_string());
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
        let ran = match self.scenario {
            Scenario::Disaster => self.failback.is_some(),
            Scenario::Switchover => self.switchovers.len() == 2,
            Scenario::OnlineFailback => self.switchovers.len() == 1,
        };
        DrillReport {
            scenario: self.scenario,
            world: self.dir,
            passed: !checks.is_empty() && checks.iter().all(|c| c.passed) && ran,
            last_applied_log_backup: rpo.and_then(|r| r.last_applied_file.clone()),
            last_applied_log_backup_finished: rpo.and_then(|r| r.last_applied_finish),
            checks,
            failover: self.failover,
            failback: self.failback,
            switchovers: self.switchovers,
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

/// How long a completed procedure took, and its outage when it had one.
fn completed(report: &Report) -> String {
    let outage = report
        .outage
        .as_ref()
        .map(|o| format!("; outage {:.1} s, {} bytes moved", o.seconds, o.bytes_moved))
        .unwrap_or_default();
    format!(
        "completed in {:.1} s{outage}",
        report.rto_seconds.unwrap_or_default()
    )
}
