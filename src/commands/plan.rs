//! `pcdr plan`: what a procedure would do now, read-only.

use super::load_topology;
use crate::{exit, render};
use pcdr_core::adapters;
use pcdr_core::planes::Offline;
use pcdr_core::procedure::{Context, Planes, Procedure, RunOptions};
use pcdr_core::runbook::{new_run_id, plan};
use pcdr_core::topology::{SiteRole, Topology};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// Planes that observe nothing: every state is shown as unknown.
fn offline_planes(topology: &Topology) -> Planes {
    let sql = |role: SiteRole| Arc::new(Offline::new(topology.site(role).sql.display_name()));
    Planes {
        primary: sql(SiteRole::Primary),
        primary_mirror: None,
        backup: sql(SiteRole::Backup),
        files: Arc::new(Offline::new("log-shipping folders")),
        pool: Arc::new(Offline::new(format!("pool {}", topology.pool.fqdn))),
    }
}

/// Observes the live state (or nothing, `offline`) and prints the plan.
pub async fn run(
    procedure: Procedure,
    topology: &Path,
    offline: bool,
    options: RunOptions,
    json: bool,
) -> ExitCode {
    let topology = match load_topology(topology) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let planes = if offline {
        offline_planes(&topology)
    } else {
        match adapters::connect(&topology) {
            Ok(planes) => planes,
            Err(e) => return exit::report(&e),
        }
    };
    let ctx = Context::new(Arc::new(topology), planes, options, new_run_id());
    let plan = plan(&ctx, procedure).await;
    if json {
        render::json(&plan);
    } else {
        render::plan(&plan);
    }
    ExitCode::from(if plan.can_run() {
        exit::SUCCESS
    } else {
        exit::REFUSED
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcdr_core::procedure::failover;

    #[tokio::test]
    async fn the_offline_plan_json_matches_its_snapshot() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/topology.toml");
        let topology = Topology::load(Path::new(path)).unwrap();
        let planes = offline_planes(&topology);
        let options = RunOptions::default();
        let ctx = Context::new(Arc::new(topology), planes, options, "20261127130000");
        let plan = plan(&ctx, failover::PROCEDURE).await;
        render::assert_json_snapshot("plan", &plan);
    }
}
