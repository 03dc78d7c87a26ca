//! The plan: what each step would do now, with the exact commands, from a read-only
//! observation of the live state. A step whose state cannot be observed says so and
//! shows its template: the commands it builds from the topology, with placeholders
//! (`<run id>`, `<session>`, a file's `<yyyyMMddHHmmss>`) where only observation can
//! tell. Both come from the step's own declaration, so the plan cannot drift from what
//! runs.

use crate::error::{Error, Result};
use crate::procedure::{Action, Command, Context, Intent, Procedure, StepId, observe_step};
use crate::schema::Document;
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
    /// The state could not be observed (e.g. an instance does not answer): the plan is no
    /// green light until it can be.
    Unknown {
        /// Why.
        reason: String,
    },
    /// The step refuses to run today only because earlier steps have not run yet (it
    /// needs the database they recover, say): its template shows what it will send.
    AfterEarlierSteps {
        /// What it waits for.
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
    /// Whether the step would send commands.
    fn sends(&self) -> bool {
        self.status == PlannedStatus::WouldRun && !self.commands.is_empty()
    }

    /// Shows the step's template: the commands it builds from the topology, with
    /// placeholders where only observation can tell.
    fn templated(&mut self, ctx: &Context) {
        let templates = (self.step.declaration().template)(ctx);
        self.files = templates
            .iter()
            .filter_map(|t| t.action.file().map(str::to_string))
            .collect();
        self.commands = templates.into_iter().map(|t| t.command(ctx)).collect();
    }

    fn unknown(&mut self, ctx: &Context, reason: String) {
        self.status = PlannedStatus::Unknown { reason };
        self.templated(ctx);
        self.notes
            .push("state unknown: the commands shown are templates with placeholders".into());
    }

    fn observed(&mut self, ctx: &Context, actions: &[Action], notes: Vec<String>) {
        self.commands = actions.iter().map(|a| a.command(ctx)).collect();
        self.files = actions
            .iter()
            .filter_map(|a| a.file().map(str::to_string))
            .collect();
        self.notes.extend(notes);
    }

    /// Replaces the run id, which the run will choose, by a placeholder.
    fn mask_run_id(&mut self, run_id: &str) {
        for command in &mut self.commands {
            command.mask(run_id, RUN_ID);
        }
        for file in &mut self.files {
            *file = file.replace(run_id, RUN_ID);
        }
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

/// The JSON shape's version (see [`crate::schema`]): 2 since a step waiting for earlier
/// steps says so (`after_earlier_steps`) instead of `unknown`.
impl Document for Plan {
    const SCHEMA_VERSION: u32 = 2;
}

impl Plan {
    /// How many steps could not be observed.
    pub fn unobserved(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.status, PlannedStatus::Unknown { .. }))
            .count()
    }

    /// Whether no step would refuse to run.
    pub fn can_run(&self) -> bool {
        !self
            .steps
            .iter()
            .any(|s| matches!(s.status, PlannedStatus::Blocked { .. }))
    }
}

/// The placeholder for the run id in a plan's commands: the run that follows the plan
/// names its backup files after an id of its own.
pub const RUN_ID: &str = "<run id>";

/// Observes every step of `procedure` and describes what it would do. Makes no mutating
/// call.
pub async fn plan(ctx: &Context, procedure: Procedure) -> Plan {
    let mut steps: Vec<PlannedStep> = Vec::with_capacity(procedure.steps().len());
    for &step in procedure.steps() {
        let mut planned = plan_step(ctx, step, &steps).await;
        planned.mask_run_id(&ctx.run_id);
        steps.push(planned);
    }
    Plan { procedure, steps }
}

/// Plans one step after the `earlier` ones. A precondition that fails only because
/// earlier steps have not run yet is not a block: the step's state is then unknown until
/// they have. A step whose findings an earlier step would change (its declared
/// `observes_after`) shows its template, and what it finds today as a note.
async fn plan_step(ctx: &Context, step: StepId, earlier: &[PlannedStep]) -> PlannedStep {
    let mut planned = PlannedStep {
        step,
        title: step.title(),
        status: PlannedStatus::WouldRun,
        commands: Vec::new(),
        files: Vec::new(),
        notes: Vec::new(),
    };
    let earlier_steps_run = earlier.iter().any(|s| s.status == PlannedStatus::WouldRun);
    let after = step.declaration().observes_after;
    let changed_by = after.filter(|after| earlier.iter().any(|s| s.step == *after && s.sends()));
    let warned = ctx.facts().warnings.len();
    let observed = observe_step(ctx, step).await;
    planned
        .notes
        .extend(ctx.facts().warnings.into_iter().skip(warned));
    if let Some(changed_by) = changed_by {
        planned.templated(ctx);
        planned.notes.push(format!(
            "what this step finds depends on {}; today: {}",
            changed_by.as_str(),
            describe(&observed)
        ));
        return planned;
    }
    match observed {
        Ok(Intent::Skip(reason)) => planned.status = PlannedStatus::AlreadyDone { reason },
        Ok(Intent::Act { actions, notes }) => planned.observed(ctx, &actions, notes),
        Err(e @ Error::Step(_)) => planned.unknown(ctx, e.to_string()),
        Err(e @ Error::Precondition { .. }) if earlier_steps_run => {
            planned.status = PlannedStatus::AfterEarlierSteps {
                reason: e.to_string(),
            };
            planned.templated(ctx);
        }
        Err(e) => {
            planned.status = PlannedStatus::Blocked {
                reason: e.to_string(),
            }
        }
    }
    planned
}

/// One line on what an observation found.
fn describe(observed: &Result<Intent>) -> String {
    match observed {
        Ok(Intent::Skip(reason)) => format!("nothing to do ({reason})"),
        Ok(Intent::Act { actions, .. }) => format!("{} actions", actions.len()),
        Err(e) => e.to_string(),
    }
}
