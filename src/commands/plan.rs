//! `pcdr plan`: what a procedure would do now, read-only, through [`Embedded`] (over
//! offline planes with `--offline`).

use super::journals::with_failover_journal;
use super::load_topology;
use crate::{exit, render};
use pcdr_core::adapters;
use pcdr_core::embed::{Embedded, Options};
use pcdr_core::procedure::{Planes, Procedure, RunOptions};
use pcdr_core::runbook::Plan;
use std::path::Path;
use std::process::ExitCode;

/// Observes the live state (or nothing, `offline`) and prints the plan.
pub async fn run(
    procedure: Procedure,
    topology: &Path,
    offline: bool,
    decisions: RunOptions,
    json: bool,
) -> ExitCode {
    let topology = match load_topology(topology) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let planes = if offline {
        Planes::offline(&topology)
    } else {
        match adapters::connect(&topology) {
            Ok(planes) => planes,
            Err(e) => return exit::report(&e),
        }
    };
    let options = Options {
        decisions: with_failover_journal(procedure, &topology.pool.fqdn, decisions),
        ..Options::default()
    };
    match Embedded::with_planes(topology, planes, options)
        .plan(procedure)
        .await
    {
        Ok(plan) => print(&plan, json, offline),
        Err(e) => exit::report(&e),
    }
}

/// Prints the plan (as JSON with `json`); the exit code says whether it can run, and
/// whether every step could be observed (an `offline` plan observes none by request).
pub fn print(plan: &Plan, json: bool, offline: bool) -> ExitCode {
    if json {
        render::json(plan);
    } else {
        render::plan(plan);
    }
    ExitCode::from(match (plan.can_run(), plan.unobserved()) {
        (false, _) => exit::REFUSED,
        (true, 0) => exit::SUCCESS,
        (true, _) if offline => exit::SUCCESS,
        (true, _) => exit::UNOBSERVED,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcdr_core::procedure::{Context, failover};
    use pcdr_core::runbook::plan;
    use pcdr_core::topology::Topology;
    use std::sync::Arc;

    #[tokio::test]
    async fn the_offline_plan_json_matches_its_snapshot() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/topology.toml");
        let topology = Topology::load(Path::new(path)).unwrap();
        let planes = Planes::offline(&topology);
        let options = RunOptions::default();
        let ctx = Context::new(Arc::new(topology), planes, options, "20261127130000");
        let plan = plan(&ctx, failover::PROCEDURE).await;
        render::assert_json_snapshot("plan", &plan);
    }
}
