//! What a journal says about a run so far, read from its records: the procedure, the
//! run id, the steps done, the last facts, whether it finished, and the deployment it
//! was started on. The checks that decide whether a run may go on live with the
//! runbook; this module only reads.

use super::Deployment;
use super::journal::Record;
use crate::procedure::{Facts, Procedure, StepId};
use chrono::{DateTime, Utc};
use std::collections::HashSet;

/// What a journal says about a run so far.
pub(super) struct History {
    pub(super) procedure: Procedure,
    pub(super) run_id: String,
    pub(super) done: HashSet<StepId>,
    /// The steps recorded as done, in the order they were first done.
    pub(super) done_in_order: Vec<StepId>,
    pub(super) facts: Facts,
    pub(super) finished: bool,
    pub(super) deployment: Option<Deployment>,
    pub(super) started_at: DateTime<Utc>,
}

impl History {
    /// The run `records` hold; `None` when they do not start with a run's start.
    pub(super) fn read(records: &[Record]) -> Option<Self> {
        let Some(Record::Started {
            procedure,
            run_id,
            deployment,
            at,
            ..
        }) = records.first()
        else {
            return None;
        };
        let mut history = Self {
            procedure: *procedure,
            run_id: run_id.clone(),
            done: HashSet::new(),
            done_in_order: Vec::new(),
            facts: Facts::default(),
            finished: false,
            deployment: deployment.clone(),
            started_at: *at,
        };
        for record in records {
            match record {
                Record::StepFinished { step, facts, .. } => {
                    if history.done.insert(*step) {
                        history.done_in_order.push(*step);
                    }
                    history.facts = facts.clone();
                }
                Record::StepFailed { facts, .. } => history.facts = facts.clone(),
                Record::Finished { .. } => history.finished = true,
                _ => {}
            }
        }
        Some(history)
    }
}
