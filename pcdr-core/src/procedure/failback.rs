//! Failback: move the pool back to the rebuilt primary site.
//!
//! Steps, in order (see `DOMAIN.md`): check the rebuilt primary, clear the active servers
//! (fencing the pool), remove mirroring on the backup site, take and verify a full backup
//! of the backup database, restore it over the primary database, re-seed the backup
//! database from the primary, set log shipping up again, mirror the primary, make the
//! primary site's servers active, and set the pool back to Normal.
//!
//! Backup files are named after the run id, so a resumed run finds its own files.

use super::shared::{
    active_servers_for, db_state, existing_db, file_moves, install_mirroring, kill_actions,
    log_shipping_folders, observe_active_servers, observe_mirroring, observe_pool_state,
    perform_all, perform_exclusive, pool_error, precondition, set_active_servers, set_pool_state,
    sql_error,
};
use super::{Action, Context, Intent, StepId, StepOutcome};
use crate::error::{Error, PlaneError, Result};
use crate::log_chain::{BackupHeader, BackupType};
use crate::logship::join_path;
use crate::planes::{FullRestore, PoolState, PrimaryLogShipping, SecondaryLogShipping};
use crate::topology::SiteRole;

/// The failback steps, in order.
pub const STEPS: &[StepId] = &[
    StepId::CheckRebuiltPrimary,
    StepId::ClearActiveServers,
    StepId::RemoveBackupMirroring,
    StepId::BackupForFailback,
    StepId::RestorePrimary,
    StepId::ReinitializeBackup,
    StepId::SetupLogShipping,
    StepId::MirrorPrimary,
    StepId::ActivatePrimaryServers,
    StepId::SetPoolNormal,
];

/// Runs every failback step in order, without a journal (see
/// [`runbook`](crate::runbook) for a resumable run).
pub async fn run(ctx: &Context) -> Result<Vec<(StepId, StepOutcome)>> {
    super::run_procedure(ctx, super::Procedure::Failback).await
}

/// Runs one failback step.
pub(super) async fn run_step(ctx: &Context, step: StepId) -> Result<StepOutcome> {
    match step {
        StepId::CheckRebuiltPrimary => check_rebuilt_primary(ctx).await,
        StepId::ClearActiveServers => clear_active_servers(ctx).await,
        StepId::RemoveBackupMirroring => remove_backup_mirroring(ctx).await,
        StepId::BackupForFailback => backup_for_failback(ctx).await,
        StepId::RestorePrimary => restore_primary(ctx).await,
        StepId::ReinitializeBackup => reinitialize_backup(ctx).await,
        StepId::SetupLogShipping => setup_log_shipping(ctx).await,
        StepId::MirrorPrimary => mirror_primary(ctx).await,
        StepId::ActivatePrimaryServers => activate_primary_servers(ctx).await,
        StepId::SetPoolNormal => set_pool_normal(ctx).await,
        other => Err(not_a_failback_step(other)),
    }
}

/// Observes what one failback step would do now.
pub(super) async fn observe(ctx: &Context, step: StepId) -> Result<Intent> {
    match step {
        StepId::CheckRebuiltPrimary => observe_check(ctx).await,
        StepId::ClearActiveServers => observe_clear(ctx).await,
        StepId::RemoveBackupMirroring => observe_backup_mirroring(ctx).await,
        StepId::BackupForFailback => observe_backup(ctx).await,
        StepId::RestorePrimary => observe_restore_primary(ctx).await,
        StepId::ReinitializeBackup => observe_reinitialize(ctx).await,
        StepId::SetupLogShipping => observe_log_shipping(ctx).await,
        StepId::MirrorPrimary => observe_mirroring(ctx, step, SiteRole::Primary).await,
        StepId::ActivatePrimaryServers => observe_activation(ctx).await,
        StepId::SetPoolNormal => observe_pool(ctx).await,
        other => Err(not_a_failback_step(other)),
    }
}

fn not_a_failback_step(step: StepId) -> Error {
    precondition(
        step,
        "this is not a failback step",
        "run it as part of failover",
    )
}

fn unexpected(ctx: &Context, step: StepId, site: SiteRole, message: String) -> Error {
    Error::step(
        step,
        ctx.sql_name(site),
        Some(ctx.chat_db()),
        None,
        PlaneError::Unexpected(message),
    )
}

async fn observe_check(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = StepId::CheckRebuiltPrimary;
    let db = ctx.chat_db();
    let pool = ctx
        .planes
        .pool
        .pool_state()
        .await
        .map_err(pool_error(ctx, STEP))?;
    if pool == PoolState::Normal {
        return Err(precondition(
            STEP,
            "the pool state is Normal: it is not failed over",
            "nothing to fail back; to finish an interrupted failback, resume its journal",
        ));
    }
    existing_db(ctx, STEP, SiteRole::Primary, db)
        .await
        .map_err(|e| match e {
            Error::Precondition { step, message, .. } => Error::Precondition {
                step,
                message,
                next: "rebuild the primary site's databases with Topology Builder first".into(),
            },
            other => other,
        })?;
    let backup = existing_db(ctx, STEP, SiteRole::Backup, db).await?;
    if !backup.is_recovered() {
        return Err(precondition(
            STEP,
            format!(
                "{db} on {} is not online, so it cannot be the source of a failback",
                ctx.sql_name(SiteRole::Backup)
            ),
            "complete the failover first",
        ));
    }
    Ok(Intent::act(Vec::new()))
}

/// Checks that the rebuilt primary answers, the backup database serves the pool, and the
/// pool is failed over.
pub async fn check_rebuilt_primary(ctx: &Context) -> Result<StepOutcome> {
    let _ = act_or_return!(ctx, StepId::CheckRebuiltPrimary, observe_check(ctx).await?);
    Ok(StepOutcome::Done {
        summary: "the rebuilt primary answers and the pool is failed over".into(),
    })
}

async fn observe_clear(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = StepId::ClearActiveServers;
    let intent = observe_active_servers(ctx, STEP, Vec::new()).await?;
    let account = match ctx.sql(SiteRole::Backup).agent_service_account().await {
        Ok(Some(account)) => account,
        Ok(None) => "an unknown account".to_string(),
        Err(e) => format!("an account that could not be read ({e})"),
    };
    let (share, copy_folder) = log_shipping_folders(ctx);
    Ok(intent.with_note(format!(
        "SQL Server Agent on {} runs as {account}: it needs read access to {share} and write access to {copy_folder}",
        ctx.sql_name(SiteRole::Backup),
    )))
}

/// Step 1: clears the active servers so no chat server uses the databases during failback.
pub async fn clear_active_servers(ctx: &Context) -> Result<StepOutcome> {
    let intent = observe_clear(ctx).await?;
    set_active_servers(ctx, StepId::ClearActiveServers, intent, &[]).await
}

async fn observe_backup_mirroring(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = StepId::RemoveBackupMirroring;
    let mut actions = Vec::new();
    for db in [
        &ctx.topology.databases.chat,
        &ctx.topology.databases.compliance,
    ] {
        if let Some(state) = db_state(ctx, STEP, SiteRole::Backup, db).await?
            && state.mirroring.is_some()
        {
            actions.push(Action::RemoveMirroring {
                site: SiteRole::Backup,
                database: db.clone(),
            });
        }
    }
    Ok(if actions.is_empty() {
        Intent::Skip("no database on the backup instance is mirrored".into())
    } else {
        Intent::act(actions)
    })
}

/// Step 2: removes mirroring from the backup site's chat and compliance databases.
pub async fn remove_backup_mirroring(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = StepId::RemoveBackupMirroring;
    let actions = act_or_return!(ctx, STEP, observe_backup_mirroring(ctx).await?);
    perform_all(ctx, STEP, &actions).await?;
    if let Intent::Act { .. } = observe_backup_mirroring(ctx).await? {
        return Err(unexpected(
            ctx,
            STEP,
            SiteRole::Backup,
            "a database is still mirrored after removing mirroring".into(),
        ));
    }
    Ok(StepOutcome::Done {
        summary: format!("mirroring removed from {} databases", actions.len()),
    })
}

/// The backup file of step 3, on the share, named after the run.
fn failback_file(ctx: &Context) -> String {
    join_path(
        &ctx.topology.log_shipping.backup_share,
        &format!("{}_pcdr_failback_{}.bak", ctx.chat_db(), ctx.run_id),
    )
}

/// The backup file of step 5, on the share, named after the run.
fn reinitialize_file(ctx: &Context) -> String {
    join_path(
        &ctx.topology.log_shipping.backup_share,
        &format!("{}_pcdr_reinit_{}.bak", ctx.chat_db(), ctx.run_id),
    )
}

/// The header of a full backup of the chat database in `file`, if a complete one is there.
async fn full_backup_header(ctx: &Context, site: SiteRole, file: &str) -> Option<BackupHeader> {
    let header = ctx.sql(site).backup_header(file).await.ok()?;
    let matches = header.backup_type == BackupType::Database
        && header.database_name.eq_ignore_ascii_case(ctx.chat_db());
    matches.then_some(header)
}

async fn observe_backup(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = StepId::BackupForFailback;
    let file = failback_file(ctx);
    if ctx.facts().failback_backup_verified.as_deref() == Some(file.as_str()) {
        return Ok(Intent::Skip(format!(
            "{file} was taken and verified earlier in this run"
        )));
    }
    let db = ctx.chat_db();
    let state = existing_db(ctx, STEP, SiteRole::Backup, db).await?;
    if state.user_access != crate::planes::UserAccess::MultiUser {
        return Err(precondition(
            STEP,
            format!(
                "{db} is {:?}; a backup would carry that setting to the primary, where mirroring then fails (1488)",
                state.user_access
            ),
            format!(
                "run ALTER DATABASE [{db}] SET MULTI_USER on {}, then resume",
                ctx.sql_name(SiteRole::Backup)
            ),
        ));
    }
    let mut actions = Vec::new();
    if full_backup_header(ctx, SiteRole::Backup, &file)
        .await
        .is_none()
    {
        actions.push(Action::BackupDatabase {
            site: SiteRole::Backup,
            database: db.to_string(),
            file: file.clone(),
        });
    }
    actions.push(Action::VerifyBackup {
        site: SiteRole::Backup,
        file,
    });
    Ok(Intent::act(actions))
}

/// Step 3: takes a full backup of the backup database to the share, and verifies it.
pub async fn backup_for_failback(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = StepId::BackupForFailback;
    let actions = act_or_return!(ctx, STEP, observe_backup(ctx).await?);
    perform_all(ctx, STEP, &actions).await?;
    let file = failback_file(ctx);
    let listed = ctx
        .sql(SiteRole::Backup)
        .backup_file_list(&file)
        .await
        .map_err(|e| {
            Error::step(
                STEP,
                ctx.sql_name(SiteRole::Backup),
                Some(ctx.chat_db()),
                Some(&file),
                e,
            )
        })?;
    if listed.is_empty() {
        return Err(unexpected(
            ctx,
            STEP,
            SiteRole::Backup,
            format!("{file} lists no database files"),
        ));
    }
    ctx.update_facts(|f| f.failback_backup_verified = Some(file.clone()));
    Ok(StepOutcome::Done {
        summary: format!("full backup {file} taken and verified"),
    })
}

/// Whether the instance's newest restore of the chat database came from `file`: the
/// restore history tells a database this run restored from one that merely shares its
/// family (the original primary, come back).
async fn restored_from(ctx: &Context, step: StepId, site: SiteRole, file: &str) -> Result<bool> {
    let db = ctx.chat_db();
    let last =
        ctx.sql(site)
            .last_restore(db)
            .await
            .map_err(sql_error(ctx, step, site, Some(db)))?;
    Ok(last.is_some_and(|r| r.file.eq_ignore_ascii_case(file)))
}

/// Reads a header that must be there: a failed read is a step error with its cause
/// (connection, 3201, …); a readable file holding something else is refused.
async fn required_header(
    ctx: &Context,
    step: StepId,
    site: SiteRole,
    file: &str,
) -> Result<BackupHeader> {
    let db = ctx.chat_db();
    let header = ctx
        .sql(site)
        .backup_header(file)
        .await
        .map_err(|e| Error::step(step, ctx.sql_name(site), Some(db), Some(file), e))?;
    if header.backup_type == BackupType::Database && header.database_name.eq_ignore_ascii_case(db) {
        return Ok(header);
    }
    Err(precondition(
        step,
        format!(
            "{file} holds a {} of {}, not a full backup of {db}",
            header.backup_type, header.database_name
        ),
        "run the previous step again (resume does this)",
    ))
}

/// `MOVE` clauses that put the source database's files where the target keeps its own.
async fn moves_onto(
    ctx: &Context,
    step: StepId,
    source: SiteRole,
    target: SiteRole,
) -> Result<Vec<crate::planes::FileMove>> {
    let db = ctx.chat_db();
    let read = |site: SiteRole| async move {
        ctx.sql(site)
            .database_files(db)
            .await
            .map_err(sql_error(ctx, step, site, Some(db)))
    };
    let (from, onto) = (read(source).await?, read(target).await?);
    file_moves(&from, &onto).map_err(|message| {
        precondition(step, message, "check the database files on both instances")
    })
}

async fn observe_restore_primary(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = StepId::RestorePrimary;
    let db = ctx.chat_db();
    let file = failback_file(ctx);
    let primary = existing_db(ctx, STEP, SiteRole::Primary, db).await?;
    if primary.is_recovered() && restored_from(ctx, STEP, SiteRole::Primary, &file).await? {
        return Ok(Intent::Skip(format!(
            "{db} on {} was already restored from {file}",
            ctx.sql_name(SiteRole::Primary)
        )));
    }
    required_header(ctx, STEP, SiteRole::Primary, &file).await?;
    let mut actions = Vec::new();
    if primary.mirroring.is_some() {
        actions.push(Action::RemoveMirroring {
            site: SiteRole::Primary,
            database: db.to_string(),
        });
    }
    actions.extend(kill_actions(ctx, STEP, SiteRole::Primary, db).await?);
    let options = FullRestore {
        replace: true,
        recovery: true,
        moves: moves_onto(ctx, STEP, SiteRole::Backup, SiteRole::Primary).await?,
    };
    actions.push(Action::RestoreDatabase {
        site: SiteRole::Primary,
        database: db.to_string(),
        file,
        options,
    });
    Ok(Intent::act(actions))
}

/// Step 4: restores the failback backup over the primary database (mirroring removed
/// first, sessions ended, files kept where the primary has them).
pub async fn restore_primary(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = StepId::RestorePrimary;
    let actions = act_or_return!(ctx, STEP, observe_restore_primary(ctx).await?);
    let db = ctx.chat_db();
    perform_exclusive(ctx, STEP, SiteRole::Primary, db, &actions).await?;
    if let Intent::Act { .. } = observe_restore_primary(ctx).await? {
        return Err(unexpected(
            ctx,
            STEP,
            SiteRole::Primary,
            "the primary database is not online with the backup's data after the restore".into(),
        ));
    }
    Ok(StepOutcome::Done {
        summary: format!("{db} restored on {}", ctx.sql_name(SiteRole::Primary)),
    })
}

async fn observe_reinitialize(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = StepId::ReinitializeBackup;
    let db = ctx.chat_db();
    let file = reinitialize_file(ctx);
    let backup = existing_db(ctx, STEP, SiteRole::Backup, db).await?;
    if backup.accepts_logs() && restored_from(ctx, STEP, SiteRole::Backup, &file).await? {
        return Ok(Intent::Skip(format!(
            "{db} on {} is already restoring from {file}",
            ctx.sql_name(SiteRole::Backup)
        )));
    }
    let mut actions = Vec::new();
    if full_backup_header(ctx, SiteRole::Primary, &file)
        .await
        .is_none()
    {
        actions.push(Action::BackupDatabase {
            site: SiteRole::Primary,
            database: db.to_string(),
            file: file.clone(),
        });
    }
    actions.push(Action::VerifyBackup {
        site: SiteRole::Primary,
        file: file.clone(),
    });
    actions.extend(kill_actions(ctx, STEP, SiteRole::Backup, db).await?);
    let options = FullRestore {
        replace: true,
        recovery: false,
        moves: moves_onto(ctx, STEP, SiteRole::Primary, SiteRole::Backup).await?,
    };
    actions.push(Action::RestoreDatabase {
        site: SiteRole::Backup,
        database: db.to_string(),
        file,
        options,
    });
    Ok(Intent::act(actions))
}

/// Step 5a: re-seeds the backup database from a new full backup of the primary, left
/// restoring so log shipping can resume.
pub async fn reinitialize_backup(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = StepId::ReinitializeBackup;
    let actions = act_or_return!(ctx, STEP, observe_reinitialize(ctx).await?);
    let db = ctx.chat_db();
    let (backups, rest): (Vec<Action>, Vec<Action>) = actions.into_iter().partition(|a| {
        matches!(
            a,
            Action::BackupDatabase { .. } | Action::VerifyBackup { .. }
        )
    });
    perform_all(ctx, STEP, &backups).await?;
    perform_exclusive(ctx, STEP, SiteRole::Backup, db, &rest).await?;
    if let Intent::Act { .. } = observe_reinitialize(ctx).await? {
        return Err(unexpected(
            ctx,
            STEP,
            SiteRole::Backup,
            "the backup database is not restoring from the primary after the restore".into(),
        ));
    }
    Ok(StepOutcome::Done {
        summary: format!(
            "{db} on {} re-seeded from the primary",
            ctx.sql_name(SiteRole::Backup)
        ),
    })
}

/// How long log-shipping files are kept when no snapshot says otherwise (SSMS's default).
const DEFAULT_RETENTION_MINUTES: u32 = 4320;

/// The log-shipping settings: folders, delay and mode from the failover snapshot where
/// there is one, else the topology; server names as each instance reports them
/// (`@@SERVERNAME`), which is how log shipping records them.
async fn log_shipping_settings(
    ctx: &Context,
    step: StepId,
) -> Result<(PrimaryLogShipping, SecondaryLogShipping)> {
    let db = ctx.chat_db().to_string();
    let name_of = |site: SiteRole| async move {
        ctx.sql(site)
            .server_name()
            .await
            .map_err(sql_error(ctx, step, site, None))
    };
    let (primary_server, secondary_server) = (
        name_of(SiteRole::Primary).await?,
        name_of(SiteRole::Backup).await?,
    );
    let topo = &ctx.topology.log_shipping;
    let snapshot = ctx.facts().snapshot;
    let (share, destination) = log_shipping_folders(ctx);
    let delay = snapshot.as_ref().map_or(topo.restore_delay_minutes, |s| {
        s.restore_delay_minutes.max(0).unsigned_abs()
    });
    let mode = snapshot
        .as_ref()
        .map_or(topo.restore_mode, |s| s.restore_mode);
    let retention = snapshot
        .as_ref()
        .and_then(|s| u32::try_from(s.file_retention_minutes).ok())
        .unwrap_or(DEFAULT_RETENTION_MINUTES);
    let primary = PrimaryLogShipping {
        database: db.clone(),
        backup_directory: share.clone(),
        backup_share: share.clone(),
        backup_job_name: format!("LSBackup_{db}"),
        backup_interval_minutes: topo.backup_interval_minutes,
        retention_minutes: retention,
        secondary_server,
        secondary_database: db.clone(),
    };
    let secondary = SecondaryLogShipping {
        copy_job_name: format!("LSCopy_{primary_server}_{db}"),
        restore_job_name: format!("LSRestore_{primary_server}_{db}"),
        primary_server,
        primary_database: db.clone(),
        secondary_database: db,
        backup_source_directory: share,
        backup_destination_directory: destination,
        interval_minutes: topo.backup_interval_minutes,
        retention_minutes: retention,
        restore_delay_minutes: delay,
        restore_mode: mode,
    };
    Ok((primary, secondary))
}

async fn observe_log_shipping(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = StepId::SetupLogShipping;
    let db = ctx.chat_db();
    let primary_done = ctx
        .sql(SiteRole::Primary)
        .is_log_shipping_primary(db)
        .await
        .map_err(sql_error(ctx, STEP, SiteRole::Primary, Some(db)))?;
    let secondary_done = ctx
        .sql(SiteRole::Backup)
        .log_shipping_snapshot(db)
        .await
        .map_err(sql_error(ctx, STEP, SiteRole::Backup, Some(db)))?
        .is_some();
    if primary_done && secondary_done {
        return Ok(Intent::Skip(
            "log shipping from the primary to the backup site is already set up".into(),
        ));
    }
    let (primary, secondary) = log_shipping_settings(ctx, STEP).await?;
    let mut actions = Vec::new();
    if !primary_done {
        actions.push(Action::SetupLogShippingPrimary { setup: primary });
    }
    if !secondary_done {
        actions.push(Action::SetupLogShippingSecondary { setup: secondary });
    }
    Ok(Intent::act(actions))
}

/// Step 5b: sets up log shipping from the primary to the backup database again.
pub async fn setup_log_shipping(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = StepId::SetupLogShipping;
    let actions = act_or_return!(ctx, STEP, observe_log_shipping(ctx).await?);
    perform_all(ctx, STEP, &actions).await?;
    if let Intent::Act { .. } = observe_log_shipping(ctx).await? {
        return Err(unexpected(
            ctx,
            STEP,
            SiteRole::Backup,
            "log shipping is not fully configured after setting it up".into(),
        ));
    }
    Ok(StepOutcome::Done {
        summary: "log shipping set up from the primary to the backup site".into(),
    })
}

/// Step 5c: mirrors the restored primary database to the primary site's mirror (the
/// setup the site had before the disaster).
pub async fn mirror_primary(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = StepId::MirrorPrimary;
    let intent = observe_mirroring(ctx, STEP, SiteRole::Primary).await?;
    install_mirroring(ctx, STEP, SiteRole::Primary, intent).await
}

async fn require_primary_online(ctx: &Context, step: StepId) -> Result<()> {
    let db = ctx.chat_db();
    let state = existing_db(ctx, step, SiteRole::Primary, db).await?;
    if state.is_recovered() {
        return Ok(());
    }
    Err(precondition(
        step,
        format!("{db} on {} is not online", ctx.sql_name(SiteRole::Primary)),
        "restore the primary database first (restore_primary)",
    ))
}

async fn observe_activation(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = StepId::ActivatePrimaryServers;
    let wanted = active_servers_for(ctx, STEP, SiteRole::Primary)?;
    let intent = observe_active_servers(ctx, STEP, wanted).await?;
    if let Intent::Act { .. } = intent {
        require_primary_online(ctx, STEP).await?;
    }
    Ok(intent)
}

/// Step 6: makes the primary site's chat servers (at most four) the active servers.
pub async fn activate_primary_servers(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = StepId::ActivatePrimaryServers;
    let wanted = active_servers_for(ctx, STEP, SiteRole::Primary)?;
    let intent = observe_activation(ctx).await?;
    set_active_servers(ctx, STEP, intent, &wanted).await
}

async fn observe_pool(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = StepId::SetPoolNormal;
    let intent = observe_pool_state(ctx, STEP, PoolState::Normal).await?;
    if let Intent::Act { .. } = intent {
        require_primary_online(ctx, STEP).await?;
    }
    Ok(intent)
}

/// Step 7: sets the pool state back to Normal.
pub async fn set_pool_normal(ctx: &Context) -> Result<StepOutcome> {
    let intent = observe_pool(ctx).await?;
    set_pool_state(ctx, StepId::SetPoolNormal, intent, PoolState::Normal).await
}
