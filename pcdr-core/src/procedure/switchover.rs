//! Switchover: move the pool to the other site while both sites answer, losing nothing.
//!
//! Microsoft documents the building blocks, not the procedure: a tail-log backup
//! `WITH NORECOVERY` ("Tail-Log Backups (SQL Server)",
//! <https://learn.microsoft.com/sql/relational-databases/backup-restore/tail-log-backups-sql-server>)
//! leaves the serving database RESTORING with every log record it wrote backed up, and
//! "Change Roles Between Primary and Secondary Log Shipping Servers (SQL Server)"
//! (<https://learn.microsoft.com/sql/database-engine/log-shipping/change-roles-between-primary-and-secondary-log-shipping-servers-sql-server>)
//! makes the old primary the new secondary without a re-seed. The pool side follows the
//! failover's (`Set-CsPersistentChatState`, `Set-CsPersistentChatActiveServer`).
//!
//! The direction comes from the pool's state when the run starts: Normal moves the pool
//! to the backup site, FailedOver moves it to the primary site (the cutover of an online
//! failback, or a switchover back). Run again, it moves the pool back the same way.
//!
//! While the pool still serves, the site that takes over copies and restores every log
//! backup it lacks; only then is the pool fenced, the tail backed up, copied and
//! restored, the database recovered and the new site's servers activated: the outage
//! holds the tail and nothing else. Mirroring the new primary and reversing log shipping
//! come after the pool serves again.
//!
//! If a step fails before the recovery, the old primary can take the pool back: its
//! database holds everything (the tail backed up what it wrote last), so `RESTORE
//! DATABASE … WITH RECOVERY` on it, the active servers set back to its site's, and log
//! shipping to the other site set up again return the deployment to where it was; the
//! guide ([`crate::guide`]) lists the commands.

use super::catch_up;
use super::log_shipping_setup;
use super::shared::{
    active_list, active_servers_for, db_state, existing_db, install_mirroring, mirror_request,
    observe_active_servers, observe_mirroring, observe_pool_state, perform_all, perform_exclusive,
    pool_error, precondition, require_copy_folder, set_active_servers, set_pool_state, sql_error,
};
use super::step::{sends_nothing, step_table};
use super::{
    Action, Context, Intent, Partner, Procedure, ProcedureName, StepId, StepOutcome, Template,
};
use crate::error::{Error, PlaneError, PreconditionKind, Result};
use crate::log_chain::{Candidate, ChainIdentity, LogBackup, LogChainGap, plan_log_restores};
use crate::logship::join_path;
use crate::planes::{DatabaseState, PoolState, UserAccess};
use crate::status::{LogShippingHealth, log_shipping_into};
use crate::topology::SiteRole;

/// Switchover.
pub const PROCEDURE: Procedure = Procedure::new(&ProcedureName {
    name: "switchover",
    summary: "Move the pool to the other site while both answer, losing nothing (planned maintenance, or an online failback's cutover)",
});

step_table! {
    PROCEDURE;
    /// Check both sites and log shipping; decide the direction.
    CHECK_SWITCHOVER = "check_switchover", "Check that both sites answer and log shipping keeps up; decide the direction" {
        observe: observe_check, run: check_switchover, template: sends_nothing,
    }
    /// Record the log-shipping setup of the database that takes over.
    RECORD_LOG_SHIPPING = "record_log_shipping", "Record the log-shipping setup of the database that takes over" {
        observe: observe_record, run: record_log_shipping, template: sends_nothing,
    }
    /// Stop and remove log shipping into the database that takes over.
    REMOVE_INCOMING_LOG_SHIPPING = "remove_incoming_log_shipping", "Stop and remove log shipping into the database that takes over" {
        observe: observe_removal, run: remove_incoming_log_shipping, template: catch_up::remove_template,
    }
    /// Copy the log backups it lacks, while the pool still serves.
    COPY_BACKLOG = "copy_backlog", "Copy the log backups it lacks, while the pool still serves" {
        observe: observe_copy_backlog, run: copy_backlog, template: catch_up::copy_template,
    }
    /// Restore them in LSN order, while the pool still serves.
    RESTORE_BACKLOG = "restore_backlog", "Restore them in LSN order, while the pool still serves" {
        observe: observe_restore_backlog, run: restore_backlog, template: catch_up::apply_template,
        observes_after: COPY_BACKLOG,
    }
    /// Clear the active servers so no client writes.
    FENCE_POOL = "fence_pool", "Clear the active servers so no client writes" {
        observe: observe_fence, run: fence_pool, template: fence_template,
        outage: Fences,
    }
    /// Remove mirroring from the serving database.
    UNMIRROR_SERVING_DATABASE = "unmirror_serving_database", "Remove mirroring from the serving database" {
        observe: observe_unmirror, run: unmirror_serving_database, template: unmirror_template,
    }
    /// Back up the tail of the log, leaving the serving database restoring.
    BACK_UP_TAIL_LOG = "back_up_tail_log", "Back up the tail of the log, leaving the serving database restoring" {
        observe: observe_tail, run: back_up_tail_log, template: tail_template,
    }
    /// Copy the tail-log backup.
    COPY_TAIL = "copy_tail", "Copy the tail-log backup (and any log backup taken since the backlog)" {
        observe: observe_copy_tail, run: copy_tail, template: catch_up::copy_template,
        observes_after: BACK_UP_TAIL_LOG,
    }
    /// Restore it, up to the end of the old primary's log.
    RESTORE_TAIL = "restore_tail", "Restore it, up to the end of the old primary's log" {
        observe: observe_restore_tail, run: restore_tail, template: catch_up::apply_template,
        observes_after: COPY_TAIL,
    }
    /// Recover the database that takes over.
    RECOVER_NEW_PRIMARY = "recover_new_primary", "Recover the database that takes over, holding every log record of the old primary" {
        observe: observe_recover, run: recover_new_primary, template: catch_up::recover_template,
    }
    /// Set the pool state for the site that now serves.
    SET_SWITCHED_POOL_STATE = "set_switched_pool_state", "Set the pool state for the site that now serves" {
        observe: observe_pool, run: set_switched_pool_state, template: pool_template,
    }
    /// Make that site's chat servers the active servers.
    ACTIVATE_SWITCHED_SERVERS = "activate_switched_servers", "Make that site's chat servers the active servers" {
        observe: observe_activation, run: activate_switched_servers, template: activation_template,
        outage: Activates,
    }
    /// Mirror the new primary database.
    MIRROR_SWITCHED_DATABASE = "mirror_switched_database", "Mirror the new primary database to its site's mirror" {
        observe: observe_mirror, run: mirror_switched_database, template: mirror_template,
    }
    /// Ship logs from the new primary to the old one.
    REVERSE_LOG_SHIPPING = "reverse_log_shipping", "Ship logs from the new primary to the old one, restoring and in the chain" {
        observe: observe_reverse, run: reverse_log_shipping, template: reverse_template,
    }
}

/// Runs every switchover step in order, without a journal (see
/// [`runbook`](crate::runbook) for a resumable run).
pub async fn run(ctx: &Context) -> Result<Vec<(StepId, StepOutcome)>> {
    super::run_procedure(ctx, PROCEDURE).await
}

/// The site that serves when the switchover starts: the old primary.
fn serving(ctx: &Context) -> SiteRole {
    ctx.restoring_site().other()
}

/// The pool state that points the pool at `site`'s database.
fn pool_state_for(site: SiteRole) -> PoolState {
    match site {
        SiteRole::Primary => PoolState::Normal,
        SiteRole::Backup => PoolState::FailedOver,
    }
}

/// The site a switchover starting now moves the pool to: the one the pool's state does
/// not point at.
async fn direction(ctx: &Context) -> Result<SiteRole> {
    let state = ctx
        .planes
        .pool
        .pool_state()
        .await
        .map_err(pool_error(ctx, CHECK_SWITCHOVER))?;
    Ok(match state {
        PoolState::Normal => SiteRole::Backup,
        PoolState::FailedOver => SiteRole::Primary,
    })
}

/// The serving database must be online and open to everyone: it is what the switchover
/// moves.
async fn require_serving(ctx: &Context, from: SiteRole) -> Result<DatabaseState> {
    const STEP: StepId = CHECK_SWITCHOVER;
    let db = ctx.chat_db();
    let state = existing_db(ctx, STEP, from, db).await?;
    if state.is_recovered() && !state.in_standby && state.user_access == UserAccess::MultiUser {
        return Ok(state);
    }
    Err(precondition(
        STEP,
        PreconditionKind::DatabaseState,
        format!(
            "{db} on {} is {:?}{}, so it is not the database serving the pool",
            ctx.sql_name(from),
            state.state,
            if state.in_standby { " (standby)" } else { "" }
        ),
        "a switchover moves a serving database; if its site is lost, run failover instead",
    ))
}

/// The database that takes over must be restoring, as a log-shipping secondary is.
async fn require_restoring(ctx: &Context, step: StepId, site: SiteRole) -> Result<DatabaseState> {
    let db = ctx.chat_db();
    let state = existing_db(ctx, step, site, db).await?;
    if state.accepts_logs() {
        return Ok(state);
    }
    Err(precondition(
        step,
        PreconditionKind::DatabaseState,
        format!(
            "{db} on {} is {:?}, so it cannot restore log backups",
            ctx.sql_name(site),
            state.state
        ),
        "it must be a log-shipping secondary (restoring); after a failover, pcdr failback --online prepares the primary",
    ))
}

/// Log shipping into the site that takes over must be configured and keep up; returns a
/// note saying how far behind it is.
async fn require_log_shipping_keeps_up(ctx: &Context, to: SiteRole) -> Result<String> {
    const STEP: StepId = CHECK_SWITCHOVER;
    let db = ctx.chat_db();
    let name = ctx.sql_name(to);
    let status = log_shipping_into(ctx.sql(to), to, db)
        .await
        .ok_or_else(|| {
            Error::step(
                STEP,
                &name,
                Some(db),
                None,
                PlaneError::Unexpected(
                    "the instance does not answer for its log-shipping setup".into(),
                ),
            )
        })?;
    if status.snapshot.is_none() {
        return Err(precondition(
            STEP,
            PreconditionKind::DatabaseState,
            format!("{db} on {name} is not a log-shipping secondary"),
            "a switchover needs log shipping into the site that takes over; after a failover, pcdr failback --online sets it up",
        ));
    }
    let age = status
        .last_restored_age_minutes
        .map_or("unknown".to_string(), |m| format!("{m} minutes"));
    match status.health {
        LogShippingHealth::Behind {
            allowed_lag_minutes,
        } => Err(precondition(
            STEP,
            PreconditionKind::DatabaseState,
            format!(
                "log shipping into {db} on {name} is behind: its newest restored log backup is {age} old, more than the {allowed_lag_minutes} minutes its restore threshold and delay allow"
            ),
            "find out why the copy or restore job falls behind (SQL Server Agent's job history on that instance), let it catch up, then start the switchover",
        )),
        LogShippingHealth::Healthy { .. } => Ok(format!(
            "log shipping into {name} keeps up: its newest restored log backup is {age} old"
        )),
        LogShippingHealth::Unknown => Ok(format!(
            "log shipping into {name} has no restored log backup to date yet; the switchover restores what it lacks before fencing the pool"
        )),
    }
}

async fn observe_check(ctx: &Context) -> Result<Intent> {
    let chosen = ctx.facts().switch_to.or(ctx.options.switch_to);
    if let Some(to) = chosen {
        // Recorded before the pool is read, so that an offline plan shows this direction.
        ctx.update_facts(|f| f.switch_to = Some(to));
    }
    require_copy_folder(ctx, CHECK_SWITCHOVER, SiteRole::Primary)?;
    // A resumed switchover has moved on from its start: its steps check what they need.
    if let (Some(to), true) = (chosen, ctx.is_resumed()) {
        return Ok(moves_to(ctx, to));
    }
    let natural = direction(ctx).await?;
    let to = chosen.unwrap_or(natural);
    ctx.update_facts(|f| f.switch_to = Some(to));
    let intent = moves_to(ctx, to);
    if to != natural {
        require_abandoned(ctx, to).await?;
        return Ok(intent.with_note(format!(
            "the pool's state already points at the {to} site: this run returns the pool there, after a switchover that stopped before its recovery"
        )));
    }
    require_serving(ctx, to.other()).await?;
    require_restoring(ctx, CHECK_SWITCHOVER, to).await?;
    let lag = require_log_shipping_keeps_up(ctx, to).await?;
    Ok(intent.with_note(lag))
}

/// The check's intent, saying where the pool moves.
fn moves_to(ctx: &Context, to: SiteRole) -> Intent {
    let from = to.other();
    Intent::act(Vec::new()).with_note(format!(
        "the pool moves from the {from} site ({}) to the {to} site ({})",
        ctx.sql_name(from),
        ctx.sql_name(to)
    ))
}

/// A return to `to`, the site the pool's state still points at, is for a switchover
/// that stopped before the other site's database came online: once it is online, the
/// switchover happened, and moving the pool back is a switchover of its own.
async fn require_abandoned(ctx: &Context, to: SiteRole) -> Result<()> {
    const STEP: StepId = CHECK_SWITCHOVER;
    let db = ctx.chat_db();
    let other = to.other();
    existing_db(ctx, STEP, to, db).await?;
    let other_state = existing_db(ctx, STEP, other, db).await?;
    if !other_state.is_recovered() {
        return Ok(());
    }
    Err(precondition(
        STEP,
        PreconditionKind::PoolState,
        format!(
            "{db} on {} is online: the switchover to the {other} site went past its recovery, so the pool cannot simply return to the {to} site",
            ctx.sql_name(other)
        ),
        "resume the switchover to finish it; to move the pool back afterwards, run a switchover without --to",
    ))
}

/// Checks that the serving database is online, the other site's is a log-shipping
/// secondary that keeps up, and the topology names both copy folders; records the
/// direction.
pub async fn check_switchover(ctx: &Context) -> Result<StepOutcome> {
    let _ = act_or_return!(ctx, CHECK_SWITCHOVER, observe_check(ctx).await?);
    Ok(StepOutcome::Done {
        summary: format!(
            "both sites answer; the pool moves to the {} site",
            ctx.restoring_site()
        ),
    })
}

async fn observe_record(ctx: &Context) -> Result<Intent> {
    catch_up::observe_snapshot(ctx, RECORD_LOG_SHIPPING).await
}

/// Records the log-shipping setup of the database that takes over, which the next step
/// removes and the last one sets up the other way with the same settings.
pub async fn record_log_shipping(ctx: &Context) -> Result<StepOutcome> {
    catch_up::snapshot_log_shipping(ctx, RECORD_LOG_SHIPPING).await
}

async fn observe_removal(ctx: &Context) -> Result<Intent> {
    catch_up::observe_removal(ctx, REMOVE_INCOMING_LOG_SHIPPING).await
}

/// Stops the copy and restore jobs of the database that takes over and removes log
/// shipping there: from now on this run copies and restores.
pub async fn remove_incoming_log_shipping(ctx: &Context) -> Result<StepOutcome> {
    catch_up::remove_log_shipping(ctx, REMOVE_INCOMING_LOG_SHIPPING).await
}

/// A copy into a database that is online already has nothing to restore into (a
/// return to the old primary whose tail-log backup was never taken): skipped, saying
/// so, instead of copying the share for nothing.
async fn copy_needed(ctx: &Context, step: StepId) -> Result<Option<Intent>> {
    let (db, site) = (ctx.chat_db(), ctx.restoring_site());
    let recovered = db_state(ctx, step, site, db)
        .await?
        .is_some_and(|state| state.is_recovered());
    Ok(recovered.then(|| {
        Intent::Skip(format!(
            "{db} on {} is online: no log backup is restored into it",
            ctx.sql_name(site)
        ))
    }))
}

async fn observe_copy_into(ctx: &Context, step: StepId) -> Result<Intent> {
    match copy_needed(ctx, step).await? {
        Some(skip) => Ok(skip),
        None => catch_up::observe_copy(ctx, step).await,
    }
}

async fn copy_into(ctx: &Context, step: StepId) -> Result<StepOutcome> {
    if let Some(Intent::Skip(reason)) = copy_needed(ctx, step).await? {
        return Ok(StepOutcome::Skipped { reason });
    }
    catch_up::copy_log_backups(ctx, step).await
}

async fn observe_copy_backlog(ctx: &Context) -> Result<Intent> {
    observe_copy_into(ctx, COPY_BACKLOG).await
}

/// Copies the log backups the copy folder lacks, restoring each as it lands, while the
/// pool still serves.
pub async fn copy_backlog(ctx: &Context) -> Result<StepOutcome> {
    copy_into(ctx, COPY_BACKLOG).await
}

async fn observe_restore_backlog(ctx: &Context) -> Result<Intent> {
    catch_up::observe_apply_intent(ctx, RESTORE_BACKLOG).await
}

/// Restores what is left of the backlog in LSN order.
pub async fn restore_backlog(ctx: &Context) -> Result<StepOutcome> {
    catch_up::apply_unapplied_logs(ctx, RESTORE_BACKLOG).await
}

async fn observe_fence(ctx: &Context) -> Result<Intent> {
    observe_active_servers(ctx, FENCE_POOL, Vec::new()).await
}

fn fence_template(_: &Context) -> Vec<Template> {
    vec![Template::once(Action::SetActiveServers {
        servers: Vec::new(),
    })]
}

/// Clears the active servers: from now on no chat server writes to the serving
/// database.
pub async fn fence_pool(ctx: &Context) -> Result<StepOutcome> {
    let intent = observe_fence(ctx).await?;
    set_active_servers(ctx, FENCE_POOL, intent, &[]).await
}

fn unmirror_action(ctx: &Context) -> Action {
    Action::RemoveMirroring {
        site: serving(ctx),
        database: ctx.chat_db().to_string(),
    }
}

async fn observe_unmirror(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = UNMIRROR_SERVING_DATABASE;
    let db = ctx.chat_db();
    let from = serving(ctx);
    let state = existing_db(ctx, STEP, from, db).await?;
    Ok(match state.mirroring {
        Some(_) => Intent::act(vec![unmirror_action(ctx)]),
        None => Intent::Skip(format!("{db} on {} is not mirrored", ctx.sql_name(from))),
    })
}

fn unmirror_template(ctx: &Context) -> Vec<Template> {
    let only = format!("only if {} is mirrored", ctx.chat_db());
    vec![Template::when(only, unmirror_action(ctx))]
}

/// Removes mirroring from the serving database: a database in a mirroring session
/// cannot be left restoring by the tail-log backup, and the old primary becomes a
/// log-shipping secondary, which is never a mirroring principal.
pub async fn unmirror_serving_database(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = UNMIRROR_SERVING_DATABASE;
    let actions = act_or_return!(ctx, STEP, observe_unmirror(ctx).await?);
    perform_all(ctx, STEP, &actions).await?;
    if observe_unmirror(ctx).await?.acts() {
        return Err(Error::step(
            STEP,
            ctx.sql_name(serving(ctx)),
            Some(ctx.chat_db()),
            None,
            PlaneError::Unexpected("the database is still mirrored after SET PARTNER OFF".into()),
        ));
    }
    Ok(StepOutcome::Done {
        summary: format!("mirroring removed from {}", ctx.chat_db()),
    })
}

/// The tail-log backup's file on the share, named as the log-shipping backup job names
/// its files (`<db>_<yyyyMMddHHmmss>.trn`, UTC) so that the copy step and the copy job
/// order it after every earlier log backup.
fn tail_file(ctx: &Context, stamp: &str) -> String {
    let share = catch_up::share_for_servers(ctx);
    join_path(&share, &format!("{}_{stamp}.trn", ctx.chat_db()))
}

/// A name for the tail-log backup that no file on the share has: the serving instance's
/// clock, a second later while the name is taken (`WITH INIT` would overwrite a log
/// backup the new primary still needs).
async fn free_tail_file(ctx: &Context, step: StepId) -> Result<String> {
    let from = serving(ctx);
    let now = ctx
        .sql(from)
        .server_time()
        .await
        .map_err(sql_error(ctx, step, from, None))?;
    let taken = catch_up::share_file_names(ctx, step).await?;
    let mut at = now;
    loop {
        let stamp = at.format("%Y%m%d%H%M%S").to_string();
        let name = format!("{}_{stamp}.trn", ctx.chat_db()).to_ascii_lowercase();
        if !taken.contains(&name) {
            return Ok(tail_file(ctx, &stamp));
        }
        at += chrono::Duration::seconds(1);
    }
}

fn tail_actions(ctx: &Context, file: String) -> Vec<Action> {
    let site = serving(ctx);
    let database = ctx.chat_db().to_string();
    vec![
        Action::EndSessions {
            site,
            database: database.clone(),
        },
        Action::BackupTailLog {
            site,
            database,
            file,
        },
    ]
}

fn tail_template(ctx: &Context) -> Vec<Template> {
    let fence = Template::when(
        "unless the pool reports no active servers (the Management Shell reports none, so always)",
        fence_action(),
    );
    let tail = tail_actions(ctx, tail_file(ctx, "<yyyyMMddHHmmss>"));
    std::iter::once(fence)
        .chain(tail.into_iter().map(Template::once))
        .collect()
}

fn fence_action() -> Action {
    Action::SetActiveServers {
        servers: Vec::new(),
    }
}

/// The pool must be fenced when the tail is backed up: a chat server writing after it
/// would write to a database the switchover leaves behind. The fence step cleared the
/// active servers, but someone may have set them since, and a pool that cannot report
/// them (the Management Shell has no documented way) cannot be checked: in both cases
/// they are cleared again right before the tail (setting a value, repeatable).
async fn fence_again(ctx: &Context, step: StepId) -> Result<Option<Action>> {
    let active = ctx
        .planes
        .pool
        .active_servers()
        .await
        .map_err(pool_error(ctx, step))?;
    Ok(active
        .is_none_or(|servers| !servers.is_empty())
        .then(fence_action))
}

async fn observe_tail(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = BACK_UP_TAIL_LOG;
    let db = ctx.chat_db();
    let from = serving(ctx);
    let state = existing_db(ctx, STEP, from, db).await?;
    if state.accepts_logs() {
        return Ok(Intent::Skip(format!(
            "{db} on {} is restoring: its tail-log backup was taken",
            ctx.sql_name(from)
        )));
    }
    if !state.is_recovered() {
        return Err(precondition(
            STEP,
            PreconditionKind::DatabaseState,
            format!("{db} on {} is {:?}", ctx.sql_name(from), state.state),
            "check the database in SQL Server Management Studio",
        ));
    }
    let file = free_tail_file(ctx, STEP).await?;
    let fence = fence_again(ctx, STEP).await?;
    let actions = fence.into_iter().chain(tail_actions(ctx, file)).collect();
    Ok(Intent::act(actions))
}

/// Backs up the tail of the serving database's log to the share `WITH NORECOVERY`: it
/// holds every log record the database wrote, and the database is left restoring, so it
/// can take no more writes and can restore the new primary's log backups later.
pub async fn back_up_tail_log(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = BACK_UP_TAIL_LOG;
    let actions = act_or_return!(ctx, STEP, observe_tail(ctx).await?);
    // Right before it: the database that takes over still restores (it is in the chain).
    require_restoring(ctx, STEP, ctx.restoring_site()).await?;
    let (fence, tail): (Vec<Action>, Vec<Action>) = actions
        .into_iter()
        .partition(|a| matches!(a, Action::SetActiveServers { .. }));
    perform_all(ctx, STEP, &fence).await?;
    let from = serving(ctx);
    let db = ctx.chat_db();
    perform_exclusive(ctx, STEP, from, db, &tail).await?;
    if observe_tail(ctx).await?.acts() {
        return Err(Error::step(
            STEP,
            ctx.sql_name(from),
            Some(db),
            None,
            PlaneError::Unexpected(
                "the database is not restoring after its tail-log backup".into(),
            ),
        ));
    }
    let file = tail.iter().find_map(Action::file).unwrap_or_default();
    Ok(StepOutcome::Done {
        summary: format!("tail of {db}'s log backed up to {file}; {db} is restoring"),
    })
}

async fn observe_copy_tail(ctx: &Context) -> Result<Intent> {
    observe_copy_into(ctx, COPY_TAIL).await
}

/// Copies the tail-log backup (and any log backup taken since the backlog was copied).
pub async fn copy_tail(ctx: &Context) -> Result<StepOutcome> {
    copy_into(ctx, COPY_TAIL).await
}

async fn observe_restore_tail(ctx: &Context) -> Result<Intent> {
    catch_up::observe_apply_intent(ctx, RESTORE_TAIL).await
}

/// Restores what the copy did not, up to the end of the tail.
pub async fn restore_tail(ctx: &Context) -> Result<StepOutcome> {
    catch_up::apply_unapplied_logs(ctx, RESTORE_TAIL).await
}

/// Right before the recovery: the old primary is restoring (it takes no writes: never
/// two primaries), and the database that takes over holds its log to the end: its
/// restore point is where the tail-log backup left the old primary's. Unless the
/// operator accepted data loss, a shorter log is refused.
async fn require_whole_log(ctx: &Context, step: StepId) -> Result<()> {
    let (from, to) = (serving(ctx), ctx.restoring_site());
    let db = ctx.chat_db();
    let old = existing_db(ctx, step, from, db).await?;
    if !old.accepts_logs() {
        return Err(precondition(
            step,
            PreconditionKind::DatabaseState,
            format!(
                "{db} on {} is {:?}: it was not left restoring by a tail-log backup, so it may still take writes; recovering the other one now could leave two primary databases",
                ctx.sql_name(from),
                old.state
            ),
            "resume: the switchover takes the tail-log backup first",
        ));
    }
    let end = catch_up::restore_point(ctx, step, from).await?;
    let reached = catch_up::restore_point(ctx, step, to).await?;
    if reached >= end || ctx.options.accept_data_loss {
        return Ok(());
    }
    Err(Error::DataLossRefused {
        step,
        target: ctx.sql_name(to),
        database: db.to_string(),
        gap: Box::new(LogChainGap {
            missing_from: reached,
            missing_to: end,
            last_good: ctx.facts().last_applied,
            next_file: format!(
                "the old primary's log up to its tail ({})",
                ctx.sql_name(from)
            ),
        }),
    })
}

async fn observe_recover(ctx: &Context) -> Result<Intent> {
    catch_up::observe_recover(ctx, RECOVER_NEW_PRIMARY).await
}

/// Recovers the database that takes over, once it holds the old primary's whole log.
pub async fn recover_new_primary(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = RECOVER_NEW_PRIMARY;
    let actions = act_or_return!(ctx, STEP, observe_recover(ctx).await?);
    require_whole_log(ctx, STEP).await?;
    catch_up::recover(ctx, STEP, &actions).await
}

/// Right before the pool is pointed at the new primary: it is online and the old one
/// is not.
async fn require_switched(ctx: &Context, step: StepId) -> Result<()> {
    let db = ctx.chat_db();
    let (from, to) = (serving(ctx), ctx.restoring_site());
    let new = db_state(ctx, step, to, db).await?;
    let old = db_state(ctx, step, from, db).await?;
    let new_online = new.as_ref().is_some_and(DatabaseState::is_recovered);
    let old_online = old.as_ref().is_some_and(DatabaseState::is_recovered);
    if new_online && !old_online {
        return Ok(());
    }
    Err(precondition(
        step,
        PreconditionKind::DatabaseState,
        format!(
            "{db} is {} on {} and {} on {}",
            if new_online { "online" } else { "not online" },
            ctx.sql_name(to),
            if old_online { "online" } else { "not online" },
            ctx.sql_name(from)
        ),
        "the new primary must be online and the old one restoring; resume to finish the earlier steps",
    ))
}

async fn observe_pool(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = SET_SWITCHED_POOL_STATE;
    let intent = observe_pool_state(ctx, STEP, pool_state_for(ctx.restoring_site())).await?;
    if intent.acts() {
        require_switched(ctx, STEP).await?;
    }
    Ok(intent)
}

fn pool_template(ctx: &Context) -> Vec<Template> {
    let state = pool_state_for(ctx.restoring_site());
    vec![Template::once(Action::SetPoolState { state })]
}

/// Points the pool at the new primary's database.
pub async fn set_switched_pool_state(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = SET_SWITCHED_POOL_STATE;
    let intent = observe_pool(ctx).await?;
    set_pool_state(ctx, STEP, intent, pool_state_for(ctx.restoring_site())).await
}

async fn observe_activation(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = ACTIVATE_SWITCHED_SERVERS;
    let wanted = active_servers_for(ctx, STEP, ctx.restoring_site())?;
    let intent = observe_active_servers(ctx, STEP, wanted).await?;
    if intent.acts() {
        require_switched(ctx, STEP).await?;
    }
    Ok(intent)
}

fn activation_template(ctx: &Context) -> Vec<Template> {
    let servers = active_list(ctx, ctx.restoring_site());
    vec![Template::once(Action::SetActiveServers { servers })]
}

/// Makes the new primary site's chat servers (at most four) the active servers: the
/// pool serves again.
pub async fn activate_switched_servers(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = ACTIVATE_SWITCHED_SERVERS;
    let wanted = active_servers_for(ctx, STEP, ctx.restoring_site())?;
    let intent = observe_activation(ctx).await?;
    if intent.acts() {
        require_switched(ctx, STEP).await?;
    }
    set_active_servers(ctx, STEP, intent, &wanted).await
}

async fn observe_mirror(ctx: &Context) -> Result<Intent> {
    observe_mirroring(ctx, MIRROR_SWITCHED_DATABASE, ctx.restoring_site()).await
}

fn mirror_template(ctx: &Context) -> Vec<Template> {
    let request = mirror_request(ctx, ctx.restoring_site());
    vec![Template::once(Action::InstallMirror { request })]
}

/// Mirrors the new primary database to its site's mirror instance, after the pool
/// serves again: seeding a mirror copies the whole database, which the outage need not
/// wait for.
pub async fn mirror_switched_database(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = MIRROR_SWITCHED_DATABASE;
    let intent = observe_mirror(ctx).await?;
    install_mirroring(ctx, STEP, ctx.restoring_site(), intent).await
}

/// The log backups the new primary took that end past the old primary's restore point
/// (its older ones, whose files may be long gone, are not read): those since its
/// recovery, outside log shipping (the one `Install-CsMirrorDatabase` seeds the mirror
/// with), which the old primary needs
/// before the first log-shipping backup: restored in LSN order from its restore point.
/// msdb names them as the new primary wrote them; the old primary reads them there (the
/// mirror file share, which both sites reach).
async fn bridge_restores(ctx: &Context, step: StepId) -> Result<Vec<Action>> {
    let (from, to) = (serving(ctx), ctx.restoring_site());
    let db = ctx.chat_db();
    let point = catch_up::restore_point(ctx, step, from).await?;
    let files = ctx
        .sql(to)
        .log_backups_taken_after(db, point)
        .await
        .map_err(sql_error(ctx, step, to, Some(db)))?;
    let mut candidates = Vec::with_capacity(files.len());
    for file in files {
        let header = ctx.sql(from).backup_header(&file).await;
        let header = header.map_err(|e| e.to_string());
        candidates.push(Candidate { file, header });
    }
    let family = existing_db(ctx, step, to, db).await?.family_guid;
    let identity = ChainIdentity {
        family,
        ..ChainIdentity::default()
    };
    let plan = plan_log_restores(db, &identity, point, &candidates).map_err(|source| {
        Error::BadLogBackup {
            step,
            target: ctx.sql_name(from),
            database: db.to_string(),
            source: Box::new(source),
        }
    })?;
    if let Some(gap) = plan.gap {
        return Err(Error::DataLossRefused {
            step,
            target: ctx.sql_name(from),
            database: db.to_string(),
            gap: Box::new(gap),
        });
    }
    Ok(plan
        .to_restore
        .into_iter()
        .map(|backup| bridge_action(from, db, backup))
        .collect())
}

fn bridge_action(site: SiteRole, database: &str, backup: LogBackup) -> Action {
    Action::RestoreLog {
        site,
        database: database.to_string(),
        backup,
    }
}

/// The removals of the log-shipping primary setup the old primary's instances still
/// have: its own, and on the primary site its mirror's (which failback made a
/// log-shipping primary too): left, their backup jobs would fail every interval on a
/// database that is restoring.
async fn old_primary_setups(ctx: &Context, step: StepId) -> Result<Vec<Action>> {
    let from = serving(ctx);
    let db = ctx.chat_db();
    let mut instances = vec![(Partner::Primary, ctx.sql(from), ctx.sql_name(from))];
    if from == SiteRole::Primary
        && let Some(mirror) = ctx.partner_sql(Partner::Mirror)
    {
        instances.push((Partner::Mirror, mirror, ctx.partner_name(Partner::Mirror)));
    }
    let mut removals = Vec::new();
    for (on, plane, name) in instances {
        let shipping = plane
            .is_log_shipping_primary(db)
            .await
            .map_err(|e| Error::step(step, &name, Some(db), None, e))?;
        if shipping {
            removals.push(Action::RemovePrimaryLogShipping {
                site: from,
                on,
                database: db.to_string(),
            });
        }
    }
    Ok(removals)
}

async fn observe_reverse(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = REVERSE_LOG_SHIPPING;
    let (from, to) = (serving(ctx), ctx.restoring_site());
    require_restoring(ctx, STEP, from).await?;
    let removals = old_primary_setups(ctx, STEP).await?;
    let (setup, notes) = match log_shipping_setup::observe(ctx, STEP, to).await? {
        Intent::Skip(reason) if removals.is_empty() => return Ok(Intent::Skip(reason)),
        Intent::Skip(_) => (Vec::new(), Vec::new()),
        Intent::Act { actions, notes } => (actions, notes),
    };
    let secondary_set_up = !setup
        .iter()
        .any(|a| matches!(a, Action::SetupLogShippingSecondary { .. }));
    let bridge = match secondary_set_up {
        true => Vec::new(),
        false => bridge_restores(ctx, STEP).await?,
    };
    let actions = removals.into_iter().chain(bridge).chain(setup).collect();
    Ok(Intent::Act { actions, notes })
}

fn reverse_template(ctx: &Context) -> Vec<Template> {
    let (from, to) = (serving(ctx), ctx.restoring_site());
    let db = ctx.chat_db();
    let unship = |on| Action::RemovePrimaryLogShipping {
        site: from,
        on,
        database: db.to_string(),
    };
    let placeholder = catch_up::placeholder_backup(ctx, "<log backup the new primary took>");
    let bridge = bridge_action(from, db, placeholder);
    let templates = [
        Template::when(
            format!(
                "only if {db} on {} is still a log-shipping primary",
                ctx.sql_name(from)
            ),
            unship(Partner::Primary),
        ),
        Template::when(
            format!(
                "only on the primary site, if {db} on its mirror instance is still a log-shipping primary"
            ),
            unship(Partner::Mirror),
        ),
        Template::when(
            format!(
                "once for each log backup {} took outside log shipping since its recovery (msdb.dbo.backupset), in LSN order",
                ctx.sql_name(to)
            ),
            bridge,
        ),
    ];
    templates
        .into_iter()
        .chain(log_shipping_setup::template(ctx, to))
        .collect()
}

/// Makes the old primary the new log-shipping secondary: its own log-shipping primary
/// setup removed, the log backups the new primary took outside log shipping restored,
/// then log shipping set up from the new primary with the settings recorded at the
/// start. No full backup: the old primary is restoring, at the end of its own log,
/// where the new primary's log begins.
pub async fn reverse_log_shipping(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = REVERSE_LOG_SHIPPING;
    let actions = act_or_return!(ctx, STEP, observe_reverse(ctx).await?);
    let from = serving(ctx);
    let db = ctx.chat_db();
    for action in &actions {
        match action {
            Action::RestoreLog { .. } => {
                perform_exclusive(ctx, STEP, from, db, std::slice::from_ref(action)).await?
            }
            other => other.perform(ctx, STEP).await?,
        }
    }
    if observe_reverse(ctx).await?.acts() {
        return Err(Error::step(
            STEP,
            ctx.sql_name(from),
            Some(db),
            None,
            PlaneError::Unexpected(
                "log shipping is not fully configured after setting it up".into(),
            ),
        ));
    }
    Ok(StepOutcome::Done {
        summary: format!(
            "log shipping set up from the {} site to the {from} site, without a re-seed",
            ctx.restoring_site()
        ),
    })
}
