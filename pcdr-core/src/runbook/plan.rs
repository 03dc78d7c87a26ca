//! The plan: what each step would do now, with the exact commands, from a read-only
//! observation of the live state. A step whose state cannot be observed says so.

use crate::commands::{shell, sql};
use crate::error::Error;
use crate::logship::join_path;
use crate::planes::{ChatDatabase, FullRestore, MirrorRequest, PoolState};
use crate::procedure::{Command, CommandKind, Context, Intent, Procedure, StepId, observe_step};
use crate::topology::SiteRole;
use serde::Serialize;

/// What the plan expects of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PlannedStatus {
    /// The step would act.
    WouldRun,
    /// The work is already done.
    AlreadyDone {
        /// How the observation knew.
        reason: String,
    },
    /// The state could not be observed (e.g. an instance does not answer).
    Unknown {
        /// Why.
        reason: String,
    },
    /// The step would refuse to run.
    Blocked {
        /// Why, and what to do.
        reason: String,
    },
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedStep {
    /// The step.
    pub step: StepId,
    /// What it does.
    pub title: &'static str,
    /// What the observation found.
    #[serde(flatten)]
    pub status: PlannedStatus,
    /// The exact commands it would send.
    pub commands: Vec<Command>,
    /// Files it would copy or restore.
    pub files: Vec<String>,
    /// What an operator should know.
    pub notes: Vec<String>,
}

impl PlannedStep {
    fn unknown(&mut self, ctx: &Context, reason: String) {
        self.status = PlannedStatus::Unknown { reason };
        self.commands = templates(ctx, self.step);
        self.notes
            .push("state unknown: the commands shown are templates with placeholders".into());
    }
}

/// The plan of a procedure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Which procedure.
    pub procedure: Procedure,
    /// The steps, in order.
    pub steps: Vec<PlannedStep>,
}

impl Plan {
    /// Whether no step would refuse to run.
    pub fn can_run(&self) -> bool {
        !self
            .steps
            .iter()
            .any(|s| matches!(s.status, PlannedStatus::Blocked { .. }))
    }
}

/// Observes every step of `procedure` and describes what it would do. Makes no mutating
/// call.
pub async fn plan(ctx: &Context, procedure: Procedure) -> Plan {
    let mut steps: Vec<PlannedStep> = Vec::with_capacity(procedure.steps().len());
    for &step in procedure.steps() {
        let earlier_steps_act = steps.iter().any(|s| s.status == PlannedStatus::WouldRun);
        steps.push(plan_step(ctx, step, earlier_steps_act).await);
    }
    Plan { procedure, steps }
}

/// Plans one step. A precondition that fails only because earlier steps have not run
/// yet is not a block: the step's state is then unknown until they have.
async fn plan_step(ctx: &Context, step: StepId, earlier_steps_act: bool) -> PlannedStep {
    let mut planned = PlannedStep {
        step,
        title: step.title(),
        status: PlannedStatus::WouldRun,
        commands: Vec::new(),
        files: Vec::new(),
        notes: Vec::new(),
    };
    match observe_step(ctx, step).await {
        Ok(Intent::Skip(reason)) => planned.status = PlannedStatus::AlreadyDone { reason },
        Ok(Intent::Act { actions, notes }) => {
            planned.commands = actions.iter().map(|a| a.command(ctx)).collect();
            planned.files = actions
                .iter()
                .filter_map(|a| a.file().map(str::to_string))
                .collect();
            planned.notes = notes;
        }
        Err(e @ Error::Step(_)) => planned.unknown(ctx, e.to_string()),
        Err(e @ Error::Precondition { .. }) if earlier_steps_act => {
            planned.unknown(ctx, format!("depends on the earlier steps: {e}"))
        }
        Err(e) => {
            planned.status = PlannedStatus::Blocked {
                reason: e.to_string(),
            }
        }
    }
    planned
}

/// The commands a step sends, with placeholders where only observation can tell (file
/// names, session ids), for steps whose state could not be observed.
fn templates(ctx: &Context, step: StepId) -> Vec<Command> {
    let db = ctx.chat_db();
    let ls = &ctx.topology.log_shipping;
    let log_file = join_path(&ls.copy_destination, &format!("{db}_<yyyyMMddHHmmss>.trn"));
    let full_file = join_path(
        &ls.backup_share,
        &format!("{db}_pcdr_<kind>_{}.bak", ctx.run_id),
    );
    let at = |site, command| Command::sql(ctx, site, command);
    let pool = |command| Command::shell(ctx, command);
    let identity = &ctx.topology.pool.identity;
    let servers = |site: SiteRole| {
        ctx.topology
            .site(site)
            .chat_servers
            .iter()
            .take(4)
            .cloned()
            .collect::<Vec<_>>()
    };
    let mirror = |site: SiteRole| MirrorRequest {
        database: ChatDatabase::PersistentChat,
        sql_server_fqdn: ctx.topology.site(site).sql.host.clone(),
        sql_instance: None,
        file_share: ls.backup_share.clone(),
    };
    let restore = |recovery| FullRestore {
        replace: true,
        recovery,
        moves: Vec::new(),
    };
    match step {
        StepId::RemoveLogShipping => {
            vec![at(SiteRole::Backup, sql::remove_secondary_log_shipping(db))]
        }
        StepId::CopyLogBackups => vec![Command {
            target: "files".into(),
            kind: CommandKind::Copy {
                from: join_path(&ls.backup_share, &format!("{db}_<yyyyMMddHHmmss>.trn")),
                to: log_file.clone(),
                bytes: 0,
            },
        }],
        StepId::ApplyUnappliedLogs => vec![
            at(SiteRole::Backup, sql::backup_header(&log_file)),
            at(SiteRole::Backup, sql::restore_log(db, &log_file)),
        ],
        StepId::RecoverDatabase => vec![
            at(SiteRole::Backup, sql::sessions(db)),
            at(SiteRole::Backup, sql::recover(db)),
        ],
        StepId::SetPoolFailedOver => {
            vec![pool(shell::set_pool_state(identity, PoolState::FailedOver))]
        }
        StepId::MirrorNewPrimary => vec![pool(shell::install_mirror(&mirror(SiteRole::Backup)))],
        StepId::ActivateBackupServers => vec![pool(shell::set_active_servers(
            identity,
            &servers(SiteRole::Backup),
        ))],
        StepId::ClearActiveServers => vec![pool(shell::set_active_servers(identity, &[]))],
        StepId::RemoveBackupMirroring => [db, ctx.topology.databases.compliance.as_str()]
            .into_iter()
            .filter_map(|name| sql::remove_mirroring(name).ok())
            .map(|command| at(SiteRole::Backup, command))
            .collect(),
        StepId::BackupForFailback => vec![
            at(SiteRole::Backup, sql::backup_database(db, &full_file)),
            at(SiteRole::Backup, sql::verify_backup(&full_file)),
        ],
        StepId::RestorePrimary => vec![at(
            SiteRole::Primary,
            sql::restore_database(db, &full_file, &restore(true)),
        )],
        StepId::ReinitializeBackup => vec![
            at(SiteRole::Primary, sql::backup_database(db, &full_file)),
            at(
                SiteRole::Backup,
                sql::restore_database(db, &full_file, &restore(false)),
            ),
        ],
        StepId::MirrorPrimary => vec![pool(shell::install_mirror(&mirror(SiteRole::Primary)))],
        StepId::ActivatePrimaryServers => vec![pool(shell::set_active_servers(
            identity,
            &servers(SiteRole::Primary),
        ))],
        StepId::SetPoolNormal => vec![pool(shell::set_pool_state(identity, PoolState::Normal))],
        StepId::CheckSites
        | StepId::SnapshotLogShipping
        | StepId::CheckRebuiltPrimary
        | StepId::SetupLogShipping => Vec::new(),
    }
}
