//! The procedures, failover and failback, as composable steps.
//!
//! Each procedure is a module ([`failover`], [`failback`]) that declares its steps once,
//! in a table next to their code: for every step its id and title, the function that
//! observes it (read-only, returning an [`Intent`]: the actions the step would take
//! now), the function that runs it (observe, act, verify; a step whose work is already
//! done returns [`StepOutcome::Skipped`] without a mutating call), and its template: the
//! actions it sends, built from the topology with placeholders where only observation
//! can tell. Everything else reads the tables: the runbook runs and journals the steps,
//! the plan shows intents and templates through the same [`Action`] values that run, and
//! the command line, C and Python surfaces list procedures and steps from
//! [`Procedure::all`] and [`Procedure::steps`].
//!
//! Adding a step is one change in its procedure's module (a table entry and its
//! functions); adding a procedure is a module and one line in the list of tables below.
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
mod catch_up;
mod context;
pub mod failback;
pub mod failover;
mod header_search;
mod id;
mod log_shipping_setup;
mod pipeline;
mod shared;
mod step;
pub mod switchover;

pub use action::{Action, Command, CommandKind};
pub use context::{
    Context, Event, Facts, Observer, Partner, Planes, RunOptions, STALE_AFTER_HOURS, ShareNotRead,
};
pub use id::{Procedure, ProcedureName, StepId, StepName};
pub use step::{Intent, Outage, Step, StepFuture, StepOutcome, StepTable, Template};

use crate::error::Result;
use serde::{Deserialize, Deserializer};
use std::str::FromStr;

/// Every procedure's step table. A new procedure is a module of its own and one line
/// here.
const TABLES: &[StepTable] = &[
    failover::TABLE,
    failback::TABLE,
    failback::online::TABLE,
    switchover::TABLE,
];

impl Procedure {
    /// Every procedure, in the order help texts list them.
    pub fn all() -> impl Iterator<Item = Procedure> {
        TABLES.iter().map(|t| t.procedure)
    }

    /// The procedure named `name`.
    pub fn named(name: &str) -> Option<Procedure> {
        Self::all().find(|p| p.as_str() == name)
    }

    /// The steps' ids, in order.
    pub fn steps(self) -> &'static [StepId] {
        self.table().ids
    }

    /// The step of this procedure with the id `id`.
    pub fn step(self, id: &str) -> Option<StepId> {
        self.steps().iter().copied().find(|s| s.as_str() == id)
    }

    /// The step that opens the pool's outage ([`Outage::Fences`]); none when the pool
    /// serves no one from the run's start.
    pub fn fencing_step(self) -> Option<StepId> {
        self.step_marked(Outage::Fences)
    }

    /// The step that closes the pool's outage ([`Outage::Activates`]).
    pub fn activating_step(self) -> Option<StepId> {
        self.step_marked(Outage::Activates)
    }

    fn step_marked(self, outage: Outage) -> Option<StepId> {
        self.table()
            .steps
            .iter()
            .find(|s| s.outage == Some(outage))
            .map(|s| s.id)
    }

    fn table(self) -> &'static StepTable {
        TABLES
            .iter()
            .find(|t| t.procedure == self)
            .expect("every Procedure value comes from a step table")
    }
}

impl StepId {
    /// The step with the id `id`, in whichever procedure has it (ids are unique across
    /// procedures).
    pub fn find(id: &str) -> Option<StepId> {
        Procedure::all().find_map(|p| p.step(id))
    }

    /// The step's entry in its procedure's table.
    pub fn declaration(self) -> &'static Step {
        self.procedure()
            .table()
            .steps
            .iter()
            .find(|s| s.id == self)
            .expect("every StepId value comes from a step table")
    }
}

impl FromStr for Procedure {
    type Err = String;
    fn from_str(name: &str) -> Result<Self, String> {
        Self::named(name).ok_or_else(|| {
            let names: Vec<&str> = Self::all().map(Procedure::as_str).collect();
            format!("unknown procedure '{name}' ({})", names.join(", "))
        })
    }
}

impl<'de> Deserialize<'de> for Procedure {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for StepId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = String::deserialize(deserializer)?;
        StepId::find(&id).ok_or_else(|| serde::de::Error::custom(format!("unknown step '{id}'")))
    }
}

/// Observes what `step` would do now. Read-only.
pub async fn observe_step(ctx: &Context, step: StepId) -> Result<Intent> {
    (step.declaration().observe)(ctx).await
}

/// Runs one step: observe, act, verify.
pub async fn run_step(ctx: &Context, step: StepId) -> Result<StepOutcome> {
    (step.declaration().run)(ctx).await
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

#[cfg(test)]
mod tests;
