//! The two procedures, failover and failback, as composable steps.
//!
//! Each step is an `async fn(&Context) -> Result<StepOutcome>` in [`failover`] or
//! [`failback`] that observes the world before acting (and returns
//! [`StepOutcome::Skipped`] without a mutating call when the work is already done), acts,
//! and verifies the result. Observation is a separate function per step returning an
//! [`Intent`]: the actions the step would take now. The runbook's plan shows intents;
//! running a step carries its intent out through [`Action::perform`].
//!
//! This module owns the step logic only: it never writes the journal and never decides
//! which step runs next (that is the [`runbook`](crate::runbook)'s job).

/// Carries out an intent's actions, or returns the outcome of a skipped step.
macro_rules! act_or_return {
    ($ctx:expr, $step:expr, $intent:expr) => {
        match $crate::procedure::shared::begin($ctx, $step, $intent) {
            std::ops::ControlFlow::Break(skipped) => return Ok(skipped),
            std::ops::ControlFlow::Continue(actions) => actions,
        }
    };
}

mod action;
mod context;
pub mod failback;
pub mod failover;
mod shared;

pub use action::{Action, Command, CommandKind};
pub use context::{Context, Event, Facts, Observer, Planes, RunOptions};

use crate::error::Result;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Procedure {
    /// Move the pool to the backup site.
    Failover,
    /// Move the pool back to the rebuilt primary site.
    Failback,
}

impl Procedure {
    /// The steps, in order.
    pub fn steps(self) -> &'static [StepId] {
        match self {
            Self::Failover => failover::STEPS,
            Self::Failback => failback::STEPS,
        }
    }

    /// The procedure's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failover => "failover",
            Self::Failback => "failback",
        }
    }
}

impl fmt::Display for Procedure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Procedure {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "failover" => Ok(Self::Failover),
            "failback" => Ok(Self::Failback),
            other => Err(format!(
                "unknown procedure '{other}' (failover or failback)"
            )),
        }
    }
}

macro_rules! step_ids {
    ($($variant:ident => $procedure:ident, $id:literal, $title:literal;)*) => {
        /// Every step of both procedures, with a stable id (`apply_unapplied_logs`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum StepId {
            $(#[doc = $title] $variant,)*
        }

        impl StepId {
            /// The stable id.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $id,)* }
            }

            /// What the step does, in one line.
            pub fn title(self) -> &'static str {
                match self { $(Self::$variant => $title,)* }
            }

            /// The procedure the step belongs to.
            pub fn procedure(self) -> Procedure {
                match self { $(Self::$variant => Procedure::$procedure,)* }
            }

            /// The step of `procedure` with this id.
            pub fn parse(procedure: Procedure, id: &str) -> Option<StepId> {
                procedure.steps().iter().copied().find(|s| s.as_str() == id)
            }
        }
    };
}

step_ids! {
    CheckSites => Failover, "check_sites", "Check that the backup site answers and the primary site does not";
    SnapshotLogShipping => Failover, "snapshot_log_shipping", "Record the log-shipping setup before removing it";
    RemoveLogShipping => Failover, "remove_log_shipping", "Remove log shipping from the backup database";
    CopyLogBackups => Failover, "copy_log_backups", "Copy uncopied log backups from the share to the copy folder";
    ApplyUnappliedLogs => Failover, "apply_unapplied_logs", "Restore unapplied log backups in LSN order";
    RecoverDatabase => Failover, "recover_database", "End sessions and bring the backup database online";
    SetPoolFailedOver => Failover, "set_pool_failed_over", "Set the pool state to FailedOver";
    MirrorNewPrimary => Failover, "mirror_new_primary", "Mirror the new primary database to the backup site's mirror";
    ActivateBackupServers => Failover, "activate_backup_servers", "Make the backup site's chat servers the active servers";
    CheckRebuiltPrimary => Failback, "check_rebuilt_primary", "Check that the rebuilt primary site answers and the pool is failed over";
    ClearActiveServers => Failback, "clear_active_servers", "Clear the active servers to fence the pool";
    RemoveBackupMirroring => Failback, "remove_backup_mirroring", "Remove mirroring from the backup site's databases";
    BackupForFailback => Failback, "backup_for_failback", "Take and verify a full backup of the backup database";
    RestorePrimary => Failback, "restore_primary", "Restore that backup over the primary database";
    ReinitializeBackup => Failback, "reinitialize_backup", "Re-seed the backup database from a full backup of the primary";
    SetupLogShipping => Failback, "setup_log_shipping", "Set up log shipping from the primary to the backup site again";
    MirrorPrimary => Failback, "mirror_primary", "Mirror the primary database to the primary site's mirror";
    ActivatePrimaryServers => Failback, "activate_primary_servers", "Make the primary site's chat servers the active servers";
    SetPoolNormal => Failback, "set_pool_normal", "Set the pool state back to Normal";
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} step {}", self.procedure(), self.as_str())
    }
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StepOutcome {
    /// The step acted and verified the result.
    Done {
        /// What it did.
        summary: String,
    },
    /// The work was already done; nothing was changed.
    Skipped {
        /// How the step knew.
        reason: String,
    },
}

/// What a step would do now, after observing the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Nothing to do.
    Skip(String),
    /// These actions, in order (possibly none, for a check that passed).
    Act {
        /// The actions.
        actions: Vec<Action>,
        /// What the observation found that an operator should know.
        notes: Vec<String>,
    },
}

impl Intent {
    fn act(actions: Vec<Action>) -> Self {
        Self::Act {
            actions,
            notes: Vec::new(),
        }
    }

    fn with_note(self, note: impl Into<String>) -> Self {
        match self {
            Self::Act { actions, mut notes } => {
                notes.push(note.into());
                Self::Act { actions, notes }
            }
            skip => skip,
        }
    }
}

/// Observes what `step` would do now. Read-only.
pub async fn observe_step(ctx: &Context, step: StepId) -> Result<Intent> {
    match step.procedure() {
        Procedure::Failover => failover::observe(ctx, step).await,
        Procedure::Failback => failback::observe(ctx, step).await,
    }
}

/// Runs every step of `procedure` in order, without a journal (see
/// [`runbook`](crate::runbook) for a resumable run).
pub async fn run_procedure(
    ctx: &Context,
    procedure: Procedure,
) -> Result<Vec<(StepId, StepOutcome)>> {
    let mut outcomes = Vec::with_capacity(procedure.steps().len());
    for &step in procedure.steps() {
        outcomes.push((step, run_step(ctx, step).await?));
    }
    Ok(outcomes)
}

/// Runs one step: observe, act, verify.
pub async fn run_step(ctx: &Context, step: StepId) -> Result<StepOutcome> {
    match step.procedure() {
        Procedure::Failover => failover::run_step(ctx, step).await,
        Procedure::Failback => failback::run_step(ctx, step).await,
    }
}

#[cfg(test)]
mod tests;
