//! Failover: move the pool to the backup site when the primary site is lost.
//!
//! Microsoft's procedure ("Failing over Persistent Chat Server in Skype for Business
//! Server 2015", described step by step in [`crate::guide`]) removes log shipping from
//! the backup database, copies the log backups the copy job had not copied yet, restores
//! every log backup not yet restored, brings the database online, sets the pool
//! FailedOver, and makes the backup site's chat servers the active ones. pcdr checks the
//! sites first and records the log-shipping setup before it is removed, and mirrors the
//! new primary to the backup site's mirror instance. The table at the end of this module
//! declares the steps, in order.

use super::catch_up;
use super::shared::{
    active_list, active_servers_for, db_state, existing_db, install_mirroring, mirror_request,
    observe_active_servers, observe_mirroring, observe_pool_state, precondition,
    set_active_servers, set_pool_state,
};
use super::step::{sends_nothing, step_table};
use super::{Action, Context, Intent, Procedure, ProcedureName, StepId, StepOutcome, Template};
use crate::error::{PreconditionKind, Result};
use crate::planes::PoolState;
use crate::topology::SiteRole;

/// Failover.
pub const PROCEDURE: Procedure = Procedure::new(&ProcedureName {
    name: "failover",
    summary: "Fail the pool over to the backup site when the primary site is lost",
});

step_table! {
    PROCEDURE;
    /// Check that the backup site answers and the primary site does not.
    CHECK_SITES = "check_sites", "Check that the backup site answers and the primary site does not" {
        observe: observe_sites, run: check_sites, template: sends_nothing,
    }
    /// Record the log-shipping setup before removing it.
    SNAPSHOT_LOG_SHIPPING = "snapshot_log_shipping", "Record the log-shipping setup before removing it" {
        observe: observe_snapshot, run: snapshot_log_shipping, template: sends_nothing,
    }
    /// Remove log shipping from the backup database.
    REMOVE_LOG_SHIPPING = "remove_log_shipping", "Remove log shipping from the backup database" {
        observe: observe_removal, run: remove_log_shipping, template: catch_up::remove_template,
    }
    /// Copy uncopied log backups from the share to the copy folder.
    COPY_LOG_BACKUPS = "copy_log_backups", "Copy uncopied log backups from the share to the copy folder" {
        observe: observe_copy, run: copy_log_backups, template: catch_up::copy_template,
    }
    /// Restore unapplied log backups in LSN order.
    APPLY_UNAPPLIED_LOGS = "apply_unapplied_logs", "Restore unapplied log backups in LSN order" {
        observe: observe_apply, run: apply_unapplied_logs, template: catch_up::apply_template,
        observes_after: COPY_LOG_BACKUPS,
    }
    /// End sessions and bring the backup database online.
    RECOVER_DATABASE = "recover_database", "End sessions and bring the backup database online" {
        observe: observe_recover, run: recover_database, template: catch_up::recover_template,
    }
    /// Set the pool state to FailedOver.
    SET_POOL_FAILED_OVER = "set_pool_failed_over", "Set the pool state to FailedOver" {
        observe: observe_pool, run: set_pool_failed_over, template: pool_template,
    }
    /// Mirror the new primary database to the backup site's mirror.
    MIRROR_NEW_PRIMARY = "mirror_new_primary", "Mirror the new primary database to the backup site's mirror" {
        observe: observe_mirror, run: mirror_new_primary, template: mirror_template,
    }
    /// Make the backup site's chat servers the active servers.
    ACTIVATE_BACKUP_SERVERS = "activate_backup_servers", "Make the backup site's chat servers the active servers" {
        observe: observe_activation, run: activate_backup_servers, template: activation_template,
        outage: Activates,
    }
}

/// Runs every failover step in order, without a journal (see
/// [`runbook`](crate::runbook) for a resumable run).
pub async fn run(ctx: &Context) -> Result<Vec<(StepId, StepOutcome)>> {
    super::run_procedure(ctx, PROCEDURE).await
}

/// The primary site's instance (or its mirror) that still answers, if any. Both are
/// probed at once: on a lost site each probe may wait out a connection timeout, and
/// this runs before every irreversible action.
async fn primary_site_answers(ctx: &Context) -> Option<String> {
    let db = ctx.chat_db();
    let mut probes = vec![(ctx.sql_name(SiteRole::Primary), ctx.planes.primary.as_ref())];
    if let (Some(plane), Some(mirror)) = (
        &ctx.planes.primary_mirror,
        &ctx.topology.sites.primary.mirror,
    ) {
        probes.push((mirror.display_name(), plane.as_ref()));
    }
    let answers = futures_util::future::join_all(
        probes
            .iter()
            .map(|(_, plane)| async move { plane.database_state(db).await }),
    )
    .await;
    probes
        .into_iter()
        .zip(answers)
        .find(|(_, answer)| !matches!(answer, Err(e) if e.is_unanswered()))
        .map(|((name, _), _)| name)
}

/// Right before an irreversible action (recovery, the pool state, the active servers):
/// the primary site must still be down, whatever check_sites or a journal said earlier,
/// unless the operator allowed a reachable primary.
async fn require_primary_still_down(ctx: &Context, step: StepId) -> Result<()> {
    if ctx.options.allow_primary_reachable {
        return Ok(());
    }
    let Some(answering) = primary_site_answers(ctx).await else {
        return Ok(());
    };
    Err(precondition(
        step,
        PreconditionKind::PrimaryReachable,
        format!(
            "{answering} in the primary site answers again; going on could leave two primary databases"
        ),
        "find out why the primary site is back and fence it; the journal is intact for a resume",
    ))
}

/// Refuses to start a failover that has already happened (a resumed one goes on).
async fn refuse_failed_over(ctx: &Context, backup_recovered: bool) -> Result<()> {
    if ctx.is_resumed()
        || !backup_recovered
        || ctx.planes.pool.pool_state().await.ok() != Some(PoolState::FailedOver)
    {
        return Ok(());
    }
    Err(precondition(
        CHECK_SITES,
        PreconditionKind::PoolState,
        format!(
            "the pool is already failed over: {} is online on {}",
            ctx.chat_db(),
            ctx.sql_name(SiteRole::Backup)
        ),
        "nothing to do; to finish an interrupted failover, resume its journal or run its remaining steps",
    ))
}

async fn observe_sites(ctx: &Context) -> Result<Intent> {
    let db = ctx.chat_db();
    let backup = existing_db(ctx, CHECK_SITES, SiteRole::Backup, db).await?;
    refuse_failed_over(ctx, backup.is_recovered()).await?;
    let mut intent = Intent::act(Vec::new());
    if let Some(answering) = primary_site_answers(ctx).await {
        if !ctx.options.allow_primary_reachable {
            return Err(precondition(
                CHECK_SITES,
                PreconditionKind::PrimaryReachable,
                format!(
                    "{answering} in the primary site still answers; failing over now could leave two primary databases"
                ),
                "make sure the primary site is down or fenced, or allow a reachable primary explicitly",
            ));
        }
        intent = intent.with_note(format!(
            "{answering} still answers; continuing because the operator allowed it"
        ));
    }
    Ok(intent.with_note(format!(
        "{db} on {} is {:?}{}",
        ctx.sql_name(SiteRole::Backup),
        backup.state,
        if backup.in_standby { " (standby)" } else { "" }
    )))
}

/// Checks that the backup site answers and the primary site does not (unless allowed).
pub async fn check_sites(ctx: &Context) -> Result<StepOutcome> {
    let _ = act_or_return!(ctx, CHECK_SITES, observe_sites(ctx).await?);
    Ok(StepOutcome::Done {
        summary: "the backup site answers and the primary site is down".into(),
    })
}

async fn observe_snapshot(ctx: &Context) -> Result<Intent> {
    catch_up::observe_snapshot(ctx, SNAPSHOT_LOG_SHIPPING).await
}

/// Step 0: records the log-shipping setup (share, copy folder, last copied file) in the
/// facts, because step 1 deletes it.
pub async fn snapshot_log_shipping(ctx: &Context) -> Result<StepOutcome> {
    catch_up::snapshot_log_shipping(ctx, SNAPSHOT_LOG_SHIPPING).await
}

async fn observe_removal(ctx: &Context) -> Result<Intent> {
    catch_up::observe_removal(ctx, REMOVE_LOG_SHIPPING).await
}

/// Step 1: stops the backup database's copy and restore jobs and removes log shipping.
pub async fn remove_log_shipping(ctx: &Context) -> Result<StepOutcome> {
    catch_up::remove_log_shipping(ctx, REMOVE_LOG_SHIPPING).await
}

async fn observe_copy(ctx: &Context) -> Result<Intent> {
    catch_up::observe_copy(ctx, COPY_LOG_BACKUPS).await
}

/// Step 2: copies uncopied log backups from the share to the copy folder, restoring
/// each one that is next in the chain as soon as it has landed.
pub async fn copy_log_backups(ctx: &Context) -> Result<StepOutcome> {
    catch_up::copy_log_backups(ctx, COPY_LOG_BACKUPS).await
}

async fn observe_apply(ctx: &Context) -> Result<Intent> {
    catch_up::observe_apply_intent(ctx, APPLY_UNAPPLIED_LOGS).await
}

/// Step 3: restores the unapplied log backups in LSN order; stops at a gap unless the
/// operator accepted data loss.
pub async fn apply_unapplied_logs(ctx: &Context) -> Result<StepOutcome> {
    catch_up::apply_unapplied_logs(ctx, APPLY_UNAPPLIED_LOGS).await
}

async fn observe_recover(ctx: &Context) -> Result<Intent> {
    catch_up::observe_recover(ctx, RECOVER_DATABASE).await
}

/// Step 4: ends the sessions on the backup database and recovers it, the primary site
/// still down.
pub async fn recover_database(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = RECOVER_DATABASE;
    let actions = act_or_return!(ctx, STEP, observe_recover(ctx).await?);
    require_primary_still_down(ctx, STEP).await?;
    catch_up::recover(ctx, STEP, &actions).await
}

/// Refuses to act for `step` unless the backup database is online.
async fn require_recovered(ctx: &Context, step: StepId) -> Result<()> {
    let db = ctx.chat_db();
    match db_state(ctx, step, SiteRole::Backup, db).await? {
        Some(state) if state.is_recovered() => Ok(()),
        _ => Err(precondition(
            step,
            PreconditionKind::DatabaseState,
            format!("{db} on {} is not online", ctx.sql_name(SiteRole::Backup)),
            "bring it online first (the previous steps of this procedure)",
        )),
    }
}

async fn observe_pool(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = SET_POOL_FAILED_OVER;
    let intent = observe_pool_state(ctx, STEP, PoolState::FailedOver).await?;
    if intent.acts() {
        require_recovered(ctx, STEP).await?;
    }
    Ok(intent)
}

fn pool_template(_: &Context) -> Vec<Template> {
    let set = Action::SetPoolState {
        state: PoolState::FailedOver,
    };
    vec![Template::once(set)]
}

/// Step 5: points the pool at the backup database.
pub async fn set_pool_failed_over(ctx: &Context) -> Result<StepOutcome> {
    let intent = observe_pool(ctx).await?;
    if intent.acts() {
        require_primary_still_down(ctx, SET_POOL_FAILED_OVER).await?;
    }
    set_pool_state(ctx, SET_POOL_FAILED_OVER, intent, PoolState::FailedOver).await
}

async fn observe_mirror(ctx: &Context) -> Result<Intent> {
    observe_mirroring(ctx, MIRROR_NEW_PRIMARY, SiteRole::Backup).await
}

fn mirror_template(ctx: &Context) -> Vec<Template> {
    let request = mirror_request(ctx, SiteRole::Backup);
    vec![Template::once(Action::InstallMirror { request })]
}

/// Step 6: mirrors the new primary database to the backup site's mirror instance.
pub async fn mirror_new_primary(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = MIRROR_NEW_PRIMARY;
    let intent = observe_mirror(ctx).await?;
    install_mirroring(ctx, STEP, SiteRole::Backup, intent).await
}

async fn observe_activation(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = ACTIVATE_BACKUP_SERVERS;
    let wanted = active_servers_for(ctx, STEP, SiteRole::Backup)?;
    let intent = observe_active_servers(ctx, STEP, wanted).await?;
    if intent.acts() {
        require_recovered(ctx, STEP).await?;
    }
    Ok(intent)
}

fn activation_template(ctx: &Context) -> Vec<Template> {
    let servers = active_list(ctx, SiteRole::Backup);
    vec![Template::once(Action::SetActiveServers { servers })]
}

/// Step 7: makes the backup site's chat servers (at most four) the active servers.
pub async fn activate_backup_servers(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = ACTIVATE_BACKUP_SERVERS;
    let wanted = active_servers_for(ctx, STEP, SiteRole::Backup)?;
    let intent = observe_activation(ctx).await?;
    if intent.acts() {
        require_primary_still_down(ctx, STEP).await?;
    }
    set_active_servers(ctx, STEP, intent, &wanted).await
}
