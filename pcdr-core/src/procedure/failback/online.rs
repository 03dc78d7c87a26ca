//! The online failback's prepare phase: after a failover, with the primary site rebuilt,
//! seed the primary from a full backup of the backup database and ship logs to it, all
//! while the pool keeps serving from the backup site. The cutover is a
//! [`switchover`](crate::procedure::switchover) back: its outage holds the tail of the
//! log, not a full backup and restore as the seed's failback does.
//!
//! The primary is left restoring (`WITH NORECOVERY`) and made the log-shipping secondary
//! of the backup database ("Configure Log Shipping (SQL Server)",
//! <https://learn.microsoft.com/sql/database-engine/log-shipping/configure-log-shipping-sql-server>:
//! a secondary is initialized from a full backup of the primary database restored with
//! NORECOVERY). `pcdr status` then shows how far behind the primary is, and
//! `pcdr switchover` cuts over when the operator chooses. Run again, every step finds
//! its work done.

use super::{
    Seed, mark_run_start, observe_seed_backup, observe_seed_restore, require_backup_serving,
    require_failed_over, require_rebuilt_primary, restore_seed, seed_backup_template,
    seed_restore_template, take_seed_backup,
};
use crate::error::Result;
use crate::logship::join_path;
use crate::procedure::log_shipping_setup;
use crate::procedure::shared::{require_copy_folder, sql_error};
use crate::procedure::step::{sends_nothing, step_table};
use crate::procedure::{Context, Intent, Procedure, ProcedureName, StepId, StepOutcome, Template};
use crate::topology::SiteRole;

/// The online failback's prepare phase.
pub const PROCEDURE: Procedure = Procedure::new(&ProcedureName {
    name: "prepare_failback",
    summary: "Prepare an online failback while the pool serves from the backup site: seed the rebuilt primary and ship logs to it (then switchover cuts over)",
});

step_table! {
    PROCEDURE;
    /// Check the sites and the pool.
    CHECK_PREPARE = "check_prepare_failback", "Check that the pool is failed over, the backup database serves and the rebuilt primary answers" {
        observe: observe_check, run: check_prepare_failback, template: sends_nothing,
    }
    /// Take and verify a full backup of the serving database.
    BACK_UP_SERVING_DATABASE = "back_up_serving_database", "Take and verify a full backup of the backup database, which keeps serving" {
        observe: observe_backup, run: back_up_serving_database, template: backup_template,
    }
    /// Restore it over the primary, left restoring.
    SEED_PRIMARY = "seed_primary", "Restore it over the primary database, left restoring" {
        observe: observe_seed, run: seed_primary, template: seed_template,
        observes_after: BACK_UP_SERVING_DATABASE,
    }
    /// Ship logs from the backup site to the primary.
    SHIP_LOGS_TO_PRIMARY = "ship_logs_to_primary", "Set up log shipping from the backup site to the primary" {
        observe: observe_shipping, run: ship_logs_to_primary, template: shipping_template,
    }
}

/// The prepare phase's backup file, on the share, named after the run.
fn prepare_file(ctx: &Context) -> String {
    join_path(
        &ctx.topology.log_shipping.backup_share,
        &format!("{}_pcdr_prepare_{}.bak", ctx.chat_db(), ctx.run_id),
    )
}

/// The prepare phase's seed: restored `WITH NORECOVERY`.
const SEED: Seed = Seed {
    backup_step: BACK_UP_SERVING_DATABASE,
    restore_step: SEED_PRIMARY,
    file: prepare_file,
    recovery: false,
};

/// Whether the primary already restores log shipping from the backup database: then
/// the seed is done, whichever run did it.
async fn prepared(ctx: &Context, step: StepId) -> Result<bool> {
    let db = ctx.chat_db();
    let site = SiteRole::Primary;
    ctx.sql(site)
        .is_log_shipping_secondary(db)
        .await
        .map_err(sql_error(ctx, step, site, Some(db)))
}

/// Why a step whose work a prepared primary makes needless is skipped; `None` when the
/// primary is not prepared.
async fn prepared_already(ctx: &Context, step: StepId) -> Result<Option<String>> {
    let reason = format!(
        "{} on {} already restores log shipping from the backup site",
        ctx.chat_db(),
        ctx.sql_name(SiteRole::Primary)
    );
    Ok(prepared(ctx, step).await?.then_some(reason))
}

/// `observe`, unless the primary is prepared already.
async fn unless_prepared(
    ctx: &Context,
    step: StepId,
    observe: impl std::future::Future<Output = Result<Intent>>,
) -> Result<Intent> {
    match prepared_already(ctx, step).await? {
        Some(reason) => Ok(Intent::Skip(reason)),
        None => observe.await,
    }
}

async fn observe_check(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = CHECK_PREPARE;
    require_copy_folder(ctx, STEP, SiteRole::Primary)?;
    require_rebuilt_primary(ctx, STEP).await?;
    if !ctx.is_resumed() {
        require_failed_over(ctx, STEP).await?;
        require_backup_serving(ctx, STEP).await?;
    }
    Ok(Intent::act(Vec::new()))
}

/// Checks that the pool is failed over, the backup database serves, the rebuilt
/// primary answers and the topology names its copy folder; marks the run's start on the
/// backup instance's clock (the backup this run takes must finish after it).
pub async fn check_prepare_failback(ctx: &Context) -> Result<StepOutcome> {
    let _ = act_or_return!(ctx, CHECK_PREPARE, observe_check(ctx).await?);
    mark_run_start(ctx, CHECK_PREPARE).await?;
    Ok(StepOutcome::Done {
        summary: "the rebuilt primary answers and the backup database serves the pool".into(),
    })
}

async fn observe_backup(ctx: &Context) -> Result<Intent> {
    let step = SEED.backup_step;
    unless_prepared(ctx, step, observe_seed_backup(ctx, &SEED)).await
}

fn backup_template(ctx: &Context) -> Vec<Template> {
    seed_backup_template(ctx, &SEED)
}

/// Takes a full backup of the backup database (which keeps serving) to the share and
/// verifies it.
pub async fn back_up_serving_database(ctx: &Context) -> Result<StepOutcome> {
    if let Some(reason) = prepared_already(ctx, SEED.backup_step).await? {
        return Ok(StepOutcome::Skipped { reason });
    }
    take_seed_backup(ctx, &SEED).await
}

async fn observe_seed(ctx: &Context) -> Result<Intent> {
    let step = SEED.restore_step;
    unless_prepared(ctx, step, observe_seed_restore(ctx, &SEED)).await
}

fn seed_template(ctx: &Context) -> Vec<Template> {
    seed_restore_template(ctx, &SEED)
}

/// Restores that backup over the primary database `WITH NORECOVERY`: what the primary
/// held is copied first, and it is left restoring, ready for log shipping.
pub async fn seed_primary(ctx: &Context) -> Result<StepOutcome> {
    if let Some(reason) = prepared_already(ctx, SEED.restore_step).await? {
        return Ok(StepOutcome::Skipped { reason });
    }
    restore_seed(ctx, &SEED).await
}

async fn observe_shipping(ctx: &Context) -> Result<Intent> {
    log_shipping_setup::observe(ctx, SHIP_LOGS_TO_PRIMARY, SiteRole::Backup).await
}

fn shipping_template(ctx: &Context) -> Vec<Template> {
    log_shipping_setup::template(ctx, SiteRole::Backup)
}

/// Sets up log shipping from the backup database (primary side) to the primary
/// (secondary side, restoring from its own copy folder), with the settings of the
/// failover's snapshot when its journal is at hand.
pub async fn ship_logs_to_primary(ctx: &Context) -> Result<StepOutcome> {
    log_shipping_setup::set_up(ctx, SHIP_LOGS_TO_PRIMARY, SiteRole::Backup).await
}
