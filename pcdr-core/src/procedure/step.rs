//! A step as its procedure declares it: one entry of the procedure's step table, with
//! the functions that observe the step, run it, and show its commands before anything
//! was observed. Also what those functions return: an [`Intent`] (what the step would do
//! now) and a [`StepOutcome`] (how it ended).
//!
//! A procedure module declares its table once with `step_table!`, next to the steps'
//! code; everything else (the runbook, the plan, the C, Python and command-line
//! surfaces) reads the table.

use super::{Action, Command, Context, Procedure, StepId};
use crate::error::Result;
use crate::schema::Document;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// What a step function returns.
pub type StepFuture<'a, T> = BoxFuture<'a, Result<T>>;

/// One entry of a procedure's step table.
pub struct Step {
    /// The step's id and title.
    pub id: StepId,
    /// Reads the live state and says what the step would do now. Read-only.
    pub observe: for<'a> fn(&'a Context) -> StepFuture<'a, Intent>,
    /// Observes, acts and verifies.
    pub run: for<'a> fn(&'a Context) -> StepFuture<'a, StepOutcome>,
    /// The actions the step sends, built from the topology alone, with placeholders
    /// (`<log backup>`) only where observation is needed. The plan shows them for a step
    /// whose state cannot be observed yet.
    pub template: fn(&Context) -> Vec<Template>,
    /// The earlier step whose actions change what this step finds: while that step would
    /// still act, the plan shows this step's template instead of today's observation.
    pub observes_after: Option<StepId>,
    /// Whether the step opens or closes the pool's outage (see [`Outage`]).
    pub outage: Option<Outage>,
}

/// How a step changes whom the pool serves: the report measures the outage, the window
/// in which the pool serves no one, from the start of the step that fences the pool to
/// the end of the step that activates it. A procedure with no fencing step starts with
/// the pool serving no one (a failover: the primary is lost), so its window opens when
/// the run starts; one with neither (an online failback's prepare phase) never takes
/// the pool away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// The step fences the pool: from its start, the pool serves no one.
    Fences,
    /// The step activates the pool's servers: from its end, the pool serves again.
    Activates,
}

impl Step {
    /// Whether the step sends nothing (a check, or a step that only records what it
    /// reads): running it again is always safe.
    pub fn is_check(&self, ctx: &Context) -> bool {
        (self.template)(ctx).is_empty()
    }
}

/// A procedure's steps, in order.
pub struct StepTable {
    /// The procedure.
    pub procedure: Procedure,
    /// Its steps' ids, in order.
    pub ids: &'static [StepId],
    /// Its steps, in the same order.
    pub steps: &'static [Step],
}

/// An action as a plan shows it before observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The action, with placeholders where observation is needed.
    pub action: Action,
    /// When set, the action is not sent exactly once but as this says ("once for each log
    /// backup to restore", "only if mgc is mirrored"): possibly never.
    pub when: Option<String>,
}

impl Template {
    /// An action sent once.
    pub fn once(action: Action) -> Self {
        Self { action, when: None }
    }

    /// The command the plan shows.
    pub fn command(&self, ctx: &Context) -> Command {
        let command = self.action.command(ctx);
        match &self.when {
            Some(when) => command.sent(when.clone()),
            None => command,
        }
    }

    /// An action sent as `when` says, possibly never.
    pub fn when(when: impl Into<String>, action: Action) -> Self {
        Self {
            action,
            when: Some(when.into()),
        }
    }
}

/// The templates of a step that sends nothing (a check, or a step that only records).
pub fn sends_nothing(_: &Context) -> Vec<Template> {
    Vec::new()
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

/// The JSON shape's version (see [`crate::schema`]).
impl Document for StepOutcome {
    const SCHEMA_VERSION: u32 = 1;
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
    /// These actions, with no notes.
    pub fn act(actions: Vec<Action>) -> Self {
        Self::Act {
            actions,
            notes: Vec::new(),
        }
    }

    /// Adds a note for the operator (a skip keeps its reason only).
    pub fn with_note(self, note: impl Into<String>) -> Self {
        match self {
            Self::Act { actions, mut notes } => {
                notes.push(note.into());
                Self::Act { actions, notes }
            }
            skip => skip,
        }
    }

    /// Whether the step would act.
    pub fn acts(&self) -> bool {
        matches!(self, Self::Act { .. })
    }
}

/// Declares a procedure's step table: an id constant per step (next to which the step's
/// functions live), `IDS`, `STEPS` and `TABLE`.
///
/// ```ignore
/// step_table! {
///     PROCEDURE;
///     /// Check the sites.
///     CHECK_SITES = "check_sites", "Check that the backup site answers" {
///         observe: observe_sites, run: check_sites, template: sends_nothing,
///     }
///     /// Fence the pool.
///     CLEAR_ACTIVE = "clear_active", "Clear the active servers" {
///         observe: observe_clear, run: clear_active, template: clear_template,
///         outage: Fences,
///     }
/// }
/// ```
macro_rules! step_table {
    (
        $procedure:ident;
        $(
            $(#[$doc:meta])*
            $name:ident = $id:literal, $title:literal {
                observe: $observe:path,
                run: $run:path,
                template: $template:path
                $(, observes_after: $after:ident)?
                $(, outage: $outage:ident)?
                $(,)?
            }
        )*
    ) => {
        $(
            $(#[$doc])*
            pub const $name: $crate::procedure::StepId =
                $crate::procedure::StepId::new(&$crate::procedure::StepName {
                    procedure: $procedure,
                    id: $id,
                    title: $title,
                });
        )*

        /// The steps' ids, in order.
        pub const IDS: &[$crate::procedure::StepId] = &[$($name),*];

        /// The steps, in order.
        pub const STEPS: &[$crate::procedure::Step] = &[$(
            $crate::procedure::Step {
                id: $name,
                observe: |ctx| Box::pin($observe(ctx)),
                run: |ctx| Box::pin($run(ctx)),
                template: $template,
                observes_after: step_table!(@after $($after)?),
                outage: step_table!(@outage $($outage)?),
            }
        ),*];

        /// The procedure with its steps.
        pub const TABLE: $crate::procedure::StepTable = $crate::procedure::StepTable {
            procedure: $procedure,
            ids: IDS,
            steps: STEPS,
        };
    };
    (@after) => { None };
    (@after $after:ident) => { Some($after) };
    (@outage) => { None };
    (@outage $outage:ident) => { Some($crate::procedure::Outage::$outage) };
}

pub(crate) use step_table;
