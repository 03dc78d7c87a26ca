//! Failback: move the pool back to the rebuilt primary site.
//!
//! Microsoft's procedure ("Failing back Persistent Chat Server in Skype for Business
//! Server 2015", described step by step in [`crate::guide`]) clears the active servers,
//! removes mirroring on the backup site, takes a full backup of the backup database and
//! restores it over the primary database, re-seeds the backup database from the primary
//! and sets log shipping up again, then makes the primary site's servers active and sets
//! the pool back to Normal. pcdr checks the sites first and mirrors the primary database
//! again. The table below declares the steps, in order.
//!
//! The primary is mirrored before the backup database is re-seeded and log shipping set
//! up, as the Persistent Chat HA/DR configuration does
//! (<https://learn.microsoft.com/skypeforbusiness/deploy/deploy-persistent-chat-server/configure-hadr-for-persistent-chat>):
//! `Install-CsMirrorDatabase` seeds the mirror from a full and a log backup of the
//! primary, and that log backup, taken after the re-seed, would leave a gap in the chain
//! log shipping restores (4305).
//!
//! The primary's mirror instance is made a log-shipping primary too, on the same share,
//! so that log shipping goes on after a mirroring failover, as "Database Mirroring and
//! Log Shipping (SQL Server)"
//! (<https://learn.microsoft.com/sql/database-engine/database-mirroring/database-mirroring-and-log-shipping-sql-server>)
//! and the Persistent Chat HA/DR configuration set it up: fail mirroring over to the
//! mirror, add the log-shipping primary there, fail back. The pool is still fenced.
//!
//! Backup files are named after the run id, so a resumed run finds its own files.

use super::log_shipping_setup;
use super::shared::{
    LogShippingFolders, active_list, active_servers_for, db_state, existing_db, file_moves,
    install_mirroring, log_shipping_folders, mirror_request, observe_active_servers,
    observe_mirroring, observe_pool_state, perform_all, perform_exclusive, pool_error,
    precondition, set_active_servers, set_pool_state, sql_error,
};
use super::step::{sends_nothing, step_table};
use super::{
    Action, Context, Intent, Partner, Procedure, ProcedureName, StepId, StepOutcome, Template,
};
use crate::error::{Error, PlaneError, PreconditionKind, Result};
use crate::log_chain::{BackupHeader, BackupType};
use crate::logship::join_path;
use crate::planes::{
    DatabasePlane, DatabaseState, FileMove, FullRestore, MirroringRole, PoolState,
};
use crate::topology::SiteRole;

pub mod online;

/// Failback.
pub const PROCEDURE: Procedure = Procedure::new(&ProcedureName {
    name: "failback",
    summary: "Fail the pool back to the rebuilt primary site",
});

step_table! {
    PROCEDURE;
    /// Check that the rebuilt primary site answers and the pool is failed over.
    CHECK_REBUILT_PRIMARY = "check_rebuilt_primary", "Check that the rebuilt primary site answers and the pool is failed over" {
        observe: observe_check, run: check_rebuilt_primary, template: sends_nothing,
    }
    /// Clear the active servers to fence the pool.
    CLEAR_ACTIVE_SERVERS = "clear_active_servers", "Clear the active servers to fence the pool" {
        observe: observe_clear, run: clear_active_servers, template: clear_template,
        outage: Fences,
    }
    /// Remove mirroring from the backup site's databases.
    REMOVE_BACKUP_MIRRORING = "remove_backup_mirroring", "Remove mirroring from the backup site's databases" {
        observe: observe_backup_mirroring, run: remove_backup_mirroring, template: unmirror_template,
    }
    /// Take and verify a full backup of the backup database.
    BACKUP_FOR_FAILBACK = "backup_for_failback", "Take and verify a full backup of the backup database" {
        observe: observe_backup, run: backup_for_failback, template: backup_template,
    }
    /// Restore that backup over the primary database.
    RESTORE_PRIMARY = "restore_primary", "Restore that backup over the primary database" {
        observe: observe_restore_primary, run: restore_primary, template: restore_primary_template,
    }
    /// Mirror the primary database to the primary site's mirror.
    MIRROR_PRIMARY = "mirror_primary", "Mirror the primary database to the primary site's mirror" {
        observe: observe_mirror, run: mirror_primary, template: mirror_template,
        observes_after: RESTORE_PRIMARY,
    }
    /// Re-seed the backup database from a full backup of the primary.
    REINITIALIZE_BACKUP = "reinitialize_backup", "Re-seed the backup database from a full backup of the primary" {
        observe: observe_reinitialize, run: reinitialize_backup, template: reinitialize_template,
    }
    /// Set up log shipping from the primary to the backup site again.
    SETUP_LOG_SHIPPING = "setup_log_shipping", "Set up log shipping from the primary to the backup site again" {
        observe: observe_log_shipping, run: setup_log_shipping, template: log_shipping_template,
    }
    /// Make the primary site's mirror a log-shipping primary too, through a mirroring failover and back.
    SHIP_LOGS_FROM_PRIMARY_MIRROR = "ship_logs_from_primary_mirror", "Make the primary's mirror a log-shipping primary too, through a mirroring failover and back" {
        observe: observe_mirror_log_shipping, run: ship_logs_from_primary_mirror, template: mirror_log_shipping_template,
    }
    /// Make the primary site's chat servers the active servers.
    ACTIVATE_PRIMARY_SERVERS = "activate_primary_servers", "Make the primary site's chat servers the active servers" {
        observe: observe_activation, run: activate_primary_servers, template: activation_template,
        outage: Activates,
    }
    /// Set the pool state back to Normal.
    SET_POOL_NORMAL = "set_pool_normal", "Set the pool state back to Normal" {
        observe: observe_pool, run: set_pool_normal, template: pool_template,
    }
}

/// Runs every failback step in order, without a journal (see
/// [`runbook`](crate::runbook) for a resumable run).
pub async fn run(ctx: &Context) -> Result<Vec<(StepId, StepOutcome)>> {
    super::run_procedure(ctx, PROCEDURE).await
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

/// The rebuilt primary's chat database must answer, on every run and every resume.
async fn require_rebuilt_primary(ctx: &Context, step: StepId) -> Result<()> {
    let db = ctx.chat_db();
    existing_db(ctx, step, SiteRole::Primary, db)
        .await
        .map_err(|e| match e {
            Error::Precondition {
                step,
                kind,
                message,
                ..
            } => Error::Precondition {
                step,
                kind,
                message,
                next: "rebuild the primary site's databases with Topology Builder first".into(),
            },
            other => other,
        })?;
    Ok(())
}

/// A failback starts from a failed-over pool.
async fn require_failed_over(ctx: &Context, step: StepId) -> Result<()> {
    let pool = ctx
        .planes
        .pool
        .pool_state()
        .await
        .map_err(pool_error(ctx, step))?;
    if pool == PoolState::Normal {
        return Err(precondition(
            step,
            PreconditionKind::PoolState,
            "the pool state is Normal: it is not failed over",
            "nothing to fail back; to finish an interrupted failback, resume its journal",
        ));
    }
    Ok(())
}

/// The backup database, which serves the pool, is the source of a failback.
async fn require_backup_serving(ctx: &Context, step: StepId) -> Result<()> {
    let db = ctx.chat_db();
    let backup = existing_db(ctx, step, SiteRole::Backup, db).await?;
    if backup.is_recovered() {
        return Ok(());
    }
    Err(precondition(
        step,
        PreconditionKind::DatabaseState,
        format!(
            "{db} on {} is not online, so it cannot be the source of a failback",
            ctx.sql_name(SiteRole::Backup)
        ),
        "complete the failover first",
    ))
}

async fn observe_check(ctx: &Context) -> Result<Intent> {
    // A resumed failback has moved on from its start: only the primary is checked again.
    let starting = !ctx.is_resumed();
    const STEP: StepId = CHECK_REBUILT_PRIMARY;
    if starting {
        require_failed_over(ctx, STEP).await?;
    }
    require_rebuilt_primary(ctx, STEP).await?;
    if starting {
        require_backup_serving(ctx, STEP).await?;
    }
    Ok(settings_source(ctx, Intent::act(Vec::new())))
}

/// Records the backup instance's clock as the start of this run, once: a resumed run
/// keeps the mark of the run it continues. The failback backup is this run's only if it
/// finished after it, on the same clock (SQL Server dates its backups by its own clock,
/// which need not agree with pcdr's; both dates are its local time converted to UTC with
/// the same offset, so they compare).
async fn mark_run_start(ctx: &Context, step: StepId) -> Result<()> {
    if ctx.facts().failback_started_on_backup.is_some() {
        return Ok(());
    }
    let now = ctx
        .sql(SiteRole::Backup)
        .server_time()
        .await
        .map_err(sql_error(ctx, step, SiteRole::Backup, None))?;
    ctx.update_facts(|f| f.failback_started_on_backup = Some(now));
    Ok(())
}

/// Checks that the rebuilt primary answers, the backup database serves the pool, and the
/// pool is failed over; marks the run's start on the backup instance's clock.
pub async fn check_rebuilt_primary(ctx: &Context) -> Result<StepOutcome> {
    let _ = act_or_return!(ctx, CHECK_REBUILT_PRIMARY, observe_check(ctx).await?);
    mark_run_start(ctx, CHECK_REBUILT_PRIMARY).await?;
    Ok(StepOutcome::Done {
        summary: "the rebuilt primary answers and the pool is failed over".into(),
    })
}

async fn observe_clear(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = CLEAR_ACTIVE_SERVERS;
    let intent = observe_active_servers(ctx, STEP, Vec::new()).await?;
    let account = match ctx.sql(SiteRole::Backup).agent_service_account().await {
        Ok(Some(account)) => account,
        Ok(None) => "an unknown account".to_string(),
        Err(e) => format!("an account that could not be read ({e})"),
    };
    let LogShippingFolders { share, copy } = log_shipping_folders(ctx);
    let (share, copy_folder) = (share.server, copy.server);
    Ok(intent.with_note(format!(
        "SQL Server Agent on {} runs as {account}: it needs read access to {share} and write access to {copy_folder}",
        ctx.sql_name(SiteRole::Backup),
    )))
}

fn clear_template(_: &Context) -> Vec<Template> {
    let clear = Action::SetActiveServers {
        servers: Vec::new(),
    };
    vec![Template::once(clear)]
}

/// Step 1: clears the active servers so no chat server uses the databases during failback.
pub async fn clear_active_servers(ctx: &Context) -> Result<StepOutcome> {
    let intent = observe_clear(ctx).await?;
    set_active_servers(ctx, CLEAR_ACTIVE_SERVERS, intent, &[]).await
}

/// The chat and compliance databases, which failback unmirrors on the backup site.
fn mirrored_databases(ctx: &Context) -> [&str; 2] {
    let databases = &ctx.topology.databases;
    [&databases.chat, &databases.compliance]
}

fn unmirror_template(ctx: &Context) -> Vec<Template> {
    let unmirror = |db: &str| {
        let action = Action::RemoveMirroring {
            site: SiteRole::Backup,
            database: db.to_string(),
        };
        Template::when(format!("only if {db} is mirrored"), action)
    };
    mirrored_databases(ctx).into_iter().map(unmirror).collect()
}

async fn observe_backup_mirroring(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = REMOVE_BACKUP_MIRRORING;
    let mut actions = Vec::new();
    for db in mirrored_databases(ctx) {
        if let Some(state) = db_state(ctx, STEP, SiteRole::Backup, db).await?
            && state.mirroring.is_some()
        {
            actions.push(Action::RemoveMirroring {
                site: SiteRole::Backup,
                database: db.to_string(),
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
    const STEP: StepId = REMOVE_BACKUP_MIRRORING;
    let actions = act_or_return!(ctx, STEP, observe_backup_mirroring(ctx).await?);
    perform_all(ctx, STEP, &actions).await?;
    if observe_backup_mirroring(ctx).await?.acts() {
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

/// How a full backup of the backup database seeds the primary: the failback's, which
/// the primary restores `WITH RECOVERY` to serve at once, or the online failback's,
/// which leaves it restoring for log shipping while the pool still serves from the
/// backup site ([`online`]). Each names its steps and its file (on the share, named
/// after the run).
pub(super) struct Seed {
    /// The step that takes and verifies the backup.
    pub backup_step: StepId,
    /// The step that restores it over the primary.
    pub restore_step: StepId,
    /// The backup file.
    pub file: fn(&Context) -> String,
    /// Whether the primary is recovered after the restore.
    pub recovery: bool,
}

/// The failback's seed.
const FAILBACK_SEED: Seed = Seed {
    backup_step: BACKUP_FOR_FAILBACK,
    restore_step: RESTORE_PRIMARY,
    file: failback_file,
    recovery: true,
};

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

/// What taking and verifying the seed's backup would do now.
pub(super) async fn observe_seed_backup(ctx: &Context, seed: &Seed) -> Result<Intent> {
    let step = seed.backup_step;
    let file = (seed.file)(ctx);
    let facts = ctx.facts();
    let recorded = facts.failback_backup_header.is_some();
    if recorded && facts.failback_backup_verified.as_deref() == Some(file.as_str()) {
        return Ok(Intent::Skip(format!(
            "{file} was taken and verified earlier in this run"
        )));
    }
    let db = ctx.chat_db();
    let state = existing_db(ctx, step, SiteRole::Backup, db).await?;
    if state.user_access != crate::planes::UserAccess::MultiUser {
        return Err(precondition(
            step,
            PreconditionKind::DatabaseState,
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
    let taken = full_backup_header(ctx, SiteRole::Backup, &file)
        .await
        .is_some_and(|header| not_this_runs(ctx, &header, &state).is_none());
    Ok(Intent::act(backup_actions(
        ctx,
        SiteRole::Backup,
        &file,
        taken,
    )))
}

/// A full backup of the chat database at `site` into `file` (unless it is `taken`
/// already), then its verification.
fn backup_actions(ctx: &Context, site: SiteRole, file: &str, taken: bool) -> Vec<Action> {
    unless_taken(backup_and_verify(ctx, site, file, false), taken)
}

/// A backup and its verification; only the verification when the backup is `taken`.
fn unless_taken([backup, verify]: [Action; 2], taken: bool) -> Vec<Action> {
    match taken {
        true => vec![verify],
        false => vec![backup, verify],
    }
}

/// `BACKUP DATABASE` of the chat database at `site` into `file` (`COPY_ONLY` when
/// `copy_only`), and its `VERIFYONLY`.
fn backup_and_verify(ctx: &Context, site: SiteRole, file: &str, copy_only: bool) -> [Action; 2] {
    let backup = Action::BackupDatabase {
        site,
        database: ctx.chat_db().to_string(),
        file: file.to_string(),
        copy_only,
    };
    let verify = Action::VerifyBackup {
        site,
        file: file.to_string(),
    };
    [backup, verify]
}

/// [`backup_actions`] as a plan shows them before observation.
fn backup_templates(ctx: &Context, site: SiteRole, file: &str) -> Vec<Template> {
    let [backup, verify] = backup_and_verify(ctx, site, file, false);
    let unless = format!("unless this run's backup is already in {file}");
    vec![Template::when(unless, backup), Template::once(verify)]
}

async fn observe_backup(ctx: &Context) -> Result<Intent> {
    observe_seed_backup(ctx, &FAILBACK_SEED).await
}

fn backup_template(ctx: &Context) -> Vec<Template> {
    seed_backup_template(ctx, &FAILBACK_SEED)
}

/// The seed's backup actions, as a plan shows them before observation.
pub(super) fn seed_backup_template(ctx: &Context, seed: &Seed) -> Vec<Template> {
    backup_templates(ctx, SiteRole::Backup, &(seed.file)(ctx))
}

/// Step 3: takes a full backup of the backup database to the share, and verifies it.
pub async fn backup_for_failback(ctx: &Context) -> Result<StepOutcome> {
    take_seed_backup(ctx, &FAILBACK_SEED).await
}

/// Takes the seed's full backup of the backup database to the share, verifies it, and
/// records its header.
pub(super) async fn take_seed_backup(ctx: &Context, seed: &Seed) -> Result<StepOutcome> {
    let step = seed.backup_step;
    let actions = act_or_return!(ctx, step, observe_seed_backup(ctx, seed).await?);
    perform_all(ctx, step, &actions).await?;
    let file = (seed.file)(ctx);
    let listed = ctx
        .sql(SiteRole::Backup)
        .backup_file_list(&file)
        .await
        .map_err(|e| {
            Error::step(
                step,
                ctx.sql_name(SiteRole::Backup),
                Some(ctx.chat_db()),
                Some(&file),
                e,
            )
        })?;
    if listed.is_empty() {
        return Err(unexpected(
            ctx,
            step,
            SiteRole::Backup,
            format!("{file} lists no database files"),
        ));
    }
    let header = required_header(ctx, step, SiteRole::Backup, &file).await?;
    ctx.update_facts(|f| {
        f.failback_backup_verified = Some(file.clone());
        f.failback_backup_header = Some(header);
    });
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
        PreconditionKind::EarlierStep,
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
        precondition(
            step,
            PreconditionKind::DatabaseState,
            message,
            "check the database files on both instances",
        )
    })
}

/// Ends the sessions on `site`'s chat database, then restores `file` over it
/// (`REPLACE`), its files placed by `moves`, leaving it online or restoring.
fn restore_over(
    ctx: &Context,
    site: SiteRole,
    file: &str,
    recovery: bool,
    moves: Vec<FileMove>,
) -> [Action; 2] {
    let database = ctx.chat_db().to_string();
    let end_sessions = Action::EndSessions {
        site,
        database: database.clone(),
    };
    let options = FullRestore {
        replace: true,
        recovery,
        moves,
    };
    let restore = Action::RestoreDatabase {
        site,
        database,
        file: file.to_string(),
        options,
    };
    [end_sessions, restore]
}

/// [`restore_over`] as a plan shows it before the files of both databases are read.
fn restore_over_template(
    ctx: &Context,
    site: SiteRole,
    file: &str,
    recovery: bool,
) -> Vec<Template> {
    let placeholder = FileMove {
        logical_name: "<logical file name>".into(),
        physical_name: format!("<where {} keeps that file>", ctx.sql_name(site)),
    };
    let [end_sessions, restore] = restore_over(ctx, site, file, recovery, vec![placeholder]);
    let moves = "with one MOVE for each file of the backup";
    vec![Template::once(end_sessions), Template::when(moves, restore)]
}

fn unmirror_primary(ctx: &Context) -> Action {
    Action::RemoveMirroring {
        site: SiteRole::Primary,
        database: ctx.chat_db().to_string(),
    }
}

/// Where the primary database's data goes before the failback restore replaces it: a
/// `COPY_ONLY` backup on the share, named after the run.
fn safety_file(ctx: &Context) -> String {
    join_path(
        &ctx.topology.log_shipping.backup_share,
        &format!("{}_pcdr_before_failback_{}.bak", ctx.chat_db(), ctx.run_id),
    )
}

/// A `COPY_ONLY` backup of an online primary database into [`safety_file`] (unless this
/// run's copy is there already), then its verification: nothing the primary holds is
/// overwritten without a copy. Every online primary database is copied: pcdr cannot
/// tell an empty chat database from one holding messages without knowing its schema,
/// and the copy of a just-rebuilt, empty one costs seconds. A primary that is not online
/// (left restoring by an interrupted restore) cannot be backed up, and holds nothing
/// servable.
async fn safety_actions(ctx: &Context, primary: &DatabaseState) -> Vec<Action> {
    if !primary.is_recovered() {
        return Vec::new();
    }
    let file = safety_file(ctx);
    let taken = full_backup_header(ctx, SiteRole::Primary, &file)
        .await
        .is_some();
    unless_taken(
        backup_and_verify(ctx, SiteRole::Primary, &file, true),
        taken,
    )
}

/// `RESTORE VERIFYONLY` of the seed's backup, as the primary reads it.
fn verify_seed_backup(ctx: &Context, seed: &Seed) -> Action {
    Action::VerifyBackup {
        site: SiteRole::Primary,
        file: (seed.file)(ctx),
    }
}

/// Whether the primary database is where the seed's restore leaves it: online, or
/// restoring.
fn seeded_state(seed: &Seed, primary: &DatabaseState) -> bool {
    match seed.recovery {
        true => primary.is_recovered(),
        false => primary.accepts_logs(),
    }
}

async fn observe_restore_primary(ctx: &Context) -> Result<Intent> {
    observe_seed_restore(ctx, &FAILBACK_SEED).await
}

/// What restoring the seed's backup over the primary would do now.
pub(super) async fn observe_seed_restore(ctx: &Context, seed: &Seed) -> Result<Intent> {
    let step = seed.restore_step;
    let db = ctx.chat_db();
    let file = (seed.file)(ctx);
    let primary = existing_db(ctx, step, SiteRole::Primary, db).await?;
    if seeded_state(seed, &primary) && restored_from(ctx, step, SiteRole::Primary, &file).await? {
        return Ok(Intent::Skip(format!(
            "{db} on {} was already restored from {file}",
            ctx.sql_name(SiteRole::Primary)
        )));
    }
    let moves = moves_onto(ctx, step, SiteRole::Backup, SiteRole::Primary).await?;
    let safety = safety_actions(ctx, &primary).await;
    let unmirror = primary.mirroring.is_some().then(|| unmirror_primary(ctx));
    let restore = restore_over(ctx, SiteRole::Primary, &file, seed.recovery, moves);
    let actions = safety
        .into_iter()
        .chain(unmirror)
        .chain([verify_seed_backup(ctx, seed)])
        .chain(restore);
    Ok(Intent::act(actions.collect()))
}

fn restore_primary_template(ctx: &Context) -> Vec<Template> {
    seed_restore_template(ctx, &FAILBACK_SEED)
}

/// The seed's restore actions, as a plan shows them before observation.
pub(super) fn seed_restore_template(ctx: &Context, seed: &Seed) -> Vec<Template> {
    let db = ctx.chat_db();
    let primary = ctx.sql_name(SiteRole::Primary);
    let file = safety_file(ctx);
    let [copy, verify_copy] = backup_and_verify(ctx, SiteRole::Primary, &file, true);
    let online = format!("only if {db} on {primary} is online");
    let safety = [
        Template::when(
            format!("{online}, unless this run's copy is already in {file}"),
            copy,
        ),
        Template::when(online, verify_copy),
    ];
    let unmirror = Template::when(format!("only if {db} is mirrored"), unmirror_primary(ctx));
    let verify = Template::once(verify_seed_backup(ctx, seed));
    let restore = restore_over_template(ctx, SiteRole::Primary, &(seed.file)(ctx), seed.recovery);
    safety
        .into_iter()
        .chain([unmirror, verify])
        .chain(restore)
        .collect()
}

/// What tells `header` apart from a backup this run took of the backup database
/// (`backup`, as `sys.database_recovery_status` shows it), if anything: another family,
/// another database of that family (`BindingID` is not its `database_guid`: the original
/// primary, or the seed of log shipping), or a backup that finished before this run
/// started on the backup instance's clock.
fn not_this_runs(ctx: &Context, header: &BackupHeader, backup: &DatabaseState) -> Option<String> {
    let same = |of_db: Option<&str>, in_file: &str| {
        of_db.is_some_and(|g| !in_file.is_empty() && g.eq_ignore_ascii_case(in_file))
    };
    let unknown = |guid: Option<&str>| guid.unwrap_or("unknown").to_string();
    if !same(backup.family_guid.as_deref(), &header.family_guid) {
        return Some(format!(
            "belongs to the backup family {}, not to that of the backup database ({})",
            header.family_guid,
            unknown(backup.family_guid.as_deref())
        ));
    }
    if !same(backup.database_guid.as_deref(), &header.binding_id) {
        return Some(format!(
            "is a backup of another database of its family (BindingID {}; the backup database's database_guid is {})",
            header.binding_id,
            unknown(backup.database_guid.as_deref())
        ));
    }
    match ctx.facts().failback_started_on_backup {
        None => Some("cannot be dated: this run's start is not recorded".into()),
        Some(started) if header.backup_finish < started => Some(format!(
            "finished at {}, before this run started ({started} on the backup instance's clock)",
            header.backup_finish
        )),
        Some(_) => None,
    }
}

/// Why `header` is not the very backup this run took and recorded (`taken`, read right
/// after it was taken and verified), if it is not: the file must read exactly as then
/// (LSNs, start and finish).
fn not_the_recorded(header: &BackupHeader, taken: Option<&BackupHeader>) -> Option<String> {
    let Some(taken) = taken else {
        return Some("is not recorded as taken and verified by this run".into());
    };
    (header != taken).then(|| {
        format!(
            "is not the backup this run took (LSNs {} to {}, finished {}): it now holds LSNs {} to {}, finished {}",
            taken.first_lsn,
            taken.last_lsn,
            taken.backup_finish,
            header.first_lsn,
            header.last_lsn,
            header.backup_finish
        )
    })
}

/// Right before the primary database is overwritten, the failback file must still hold
/// the very backup this run took of the backup database and recorded in its journal:
/// a full backup of the chat database, of the backup database's family and
/// `database_guid`, finished after this run started, with the LSNs and finish time read
/// after it was taken. An older backup, one of another database or a file replaced
/// since is refused before anything is sent to the primary.
async fn require_this_runs_backup(ctx: &Context, seed: &Seed) -> Result<()> {
    let step = seed.restore_step;
    let file = (seed.file)(ctx);
    let header = required_header(ctx, step, SiteRole::Primary, &file).await?;
    let backup = existing_db(ctx, step, SiteRole::Backup, ctx.chat_db()).await?;
    let taken = ctx.facts().failback_backup_header;
    let why =
        not_this_runs(ctx, &header, &backup).or_else(|| not_the_recorded(&header, taken.as_ref()));
    match why {
        None => Ok(()),
        Some(why) => Err(precondition(
            step,
            PreconditionKind::EarlierStep,
            format!("{file} {why}"),
            "nothing was changed on the primary; start a new failback run, which takes and verifies its own backup under its own name",
        )),
    }
}

/// Step 4: restores the failback backup over the primary database: what the primary
/// holds is copied first (`COPY_ONLY`), mirroring is removed, the backup is verified
/// again, sessions are ended, and files are kept where the primary has them.
pub async fn restore_primary(ctx: &Context) -> Result<StepOutcome> {
    restore_seed(ctx, &FAILBACK_SEED).await
}

/// Restores the seed's backup over the primary database: what the primary holds is
/// copied first (`COPY_ONLY`), mirroring is removed, the backup is verified again,
/// sessions are ended, and files are kept where the primary has them; the primary is
/// left online or restoring as the seed says.
pub(super) async fn restore_seed(ctx: &Context, seed: &Seed) -> Result<StepOutcome> {
    let step = seed.restore_step;
    let actions = act_or_return!(ctx, step, observe_seed_restore(ctx, seed).await?);
    require_this_runs_backup(ctx, seed).await?;
    let db = ctx.chat_db();
    let copy = safety_file(ctx);
    let (safety, replace): (Vec<Action>, Vec<Action>) = actions
        .into_iter()
        .partition(|a| a.file() == Some(copy.as_str()));
    perform_all(ctx, step, &safety).await?;
    if !safety.is_empty() {
        ctx.update_facts(|f| f.failback_safety_backup = Some(copy.clone()));
    }
    perform_exclusive(ctx, step, SiteRole::Primary, db, &replace).await?;
    if observe_seed_restore(ctx, seed).await?.acts() {
        return Err(unexpected(
            ctx,
            step,
            SiteRole::Primary,
            format!(
                "the primary database is not {} with the backup's data after the restore",
                if seed.recovery { "online" } else { "restoring" }
            ),
        ));
    }
    let restored = format!("{db} restored on {}", ctx.sql_name(SiteRole::Primary));
    let summary = match ctx.facts().failback_safety_backup {
        Some(copy) => format!("{restored}; what it held before is in {copy} (COPY_ONLY)"),
        None => restored,
    };
    Ok(StepOutcome::Done { summary })
}

async fn observe_reinitialize(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = REINITIALIZE_BACKUP;
    let db = ctx.chat_db();
    let file = reinitialize_file(ctx);
    let backup = existing_db(ctx, STEP, SiteRole::Backup, db).await?;
    if backup.accepts_logs() && restored_from(ctx, STEP, SiteRole::Backup, &file).await? {
        return Ok(Intent::Skip(format!(
            "{db} on {} is already restoring from {file}",
            ctx.sql_name(SiteRole::Backup)
        )));
    }
    let taken = full_backup_header(ctx, SiteRole::Primary, &file)
        .await
        .is_some();
    let moves = moves_onto(ctx, STEP, SiteRole::Primary, SiteRole::Backup).await?;
    let backup = backup_actions(ctx, SiteRole::Primary, &file, taken);
    let restore = restore_over(ctx, SiteRole::Backup, &file, false, moves);
    Ok(Intent::act(backup.into_iter().chain(restore).collect()))
}

fn reinitialize_template(ctx: &Context) -> Vec<Template> {
    let file = reinitialize_file(ctx);
    let mut templates = backup_templates(ctx, SiteRole::Primary, &file);
    templates.extend(restore_over_template(ctx, SiteRole::Backup, &file, false));
    templates
}

/// Step 5b: re-seeds the backup database from a new full backup of the primary, left
/// restoring so log shipping can resume.
pub async fn reinitialize_backup(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = REINITIALIZE_BACKUP;
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
    if observe_reinitialize(ctx).await?.acts() {
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

/// Says where the settings [`setup_log_shipping`] will use come from, with their values:
/// the failover's snapshot as a note; the topology's values as a warning, since they are
/// not the settings the deployment had before the failover.
fn settings_source(ctx: &Context, intent: Intent) -> Intent {
    let (_, secondary) =
        log_shipping_setup::settings(ctx, SiteRole::Primary, String::new(), String::new());
    let values = log_shipping_setup::described_settings(&secondary);
    let facts = ctx.facts();
    match (facts.snapshot, facts.snapshot_journal) {
        (Some(_), Some(journal)) => intent.with_note(format!(
            "log shipping will be set up again with the settings of the failover's snapshot in {}: {values}",
            journal.display()
        )),
        (Some(_), None) => intent.with_note(format!(
            "log shipping will be set up again with the settings of the snapshot this run's journal records: {values}"
        )),
        (None, _) => {
            ctx.warn(
                CHECK_REBUILT_PRIMARY,
                format!(
                    "no failover journal was found (--failover-journal, the failover_journal option of the C and Python bindings): log shipping will be set up again with the topology's values and pcdr's defaults, not with the settings the failover recorded: {values}"
                ),
            );
            intent
        }
    }
}

fn log_shipping_template(ctx: &Context) -> Vec<Template> {
    log_shipping_setup::template(ctx, SiteRole::Primary)
}

async fn observe_log_shipping(ctx: &Context) -> Result<Intent> {
    log_shipping_setup::observe(ctx, SETUP_LOG_SHIPPING, SiteRole::Primary).await
}

/// Step 5c: sets up log shipping from the primary to the backup database again.
pub async fn setup_log_shipping(ctx: &Context) -> Result<StepOutcome> {
    log_shipping_setup::set_up(ctx, SETUP_LOG_SHIPPING, SiteRole::Primary).await
}

async fn observe_mirror(ctx: &Context) -> Result<Intent> {
    observe_mirroring(ctx, MIRROR_PRIMARY, SiteRole::Primary).await
}

fn mirror_template(ctx: &Context) -> Vec<Template> {
    let request = mirror_request(ctx, SiteRole::Primary);
    vec![Template::once(Action::InstallMirror { request })]
}

/// Step 5a: mirrors the restored primary database to the primary site's mirror (the
/// setup the site had before the disaster), before log shipping is set up again: the
/// log backup that seeds the mirror is then in the chain before the re-seed.
pub async fn mirror_primary(ctx: &Context) -> Result<StepOutcome> {
    let intent = observe_mirror(ctx).await?;
    install_mirroring(ctx, MIRROR_PRIMARY, SiteRole::Primary, intent).await
}

/// The chat database's mirroring role on one of the primary site's partners, and
/// whether its session is SYNCHRONIZED.
async fn partner_role(
    ctx: &Context,
    step: StepId,
    partner: Partner,
) -> Result<Option<(MirroringRole, bool)>> {
    let db = ctx.chat_db();
    let name = ctx.partner_name(partner);
    let plane = ctx.partner_sql(partner).ok_or_else(|| {
        Error::step(
            step,
            &name,
            Some(db),
            None,
            PlaneError::Unexpected("no such instance".into()),
        )
    })?;
    let state = plane
        .database_state(db)
        .await
        .map_err(|e| Error::step(step, &name, Some(db), None, e))?;
    Ok(state
        .and_then(|s| s.mirroring)
        .map(|m| (m.role, m.synchronized)))
}

/// Whether the primary's mirror instance is already a log-shipping primary for the
/// chat database.
async fn mirror_ships_logs(
    ctx: &Context,
    step: StepId,
    mirror: &dyn DatabasePlane,
) -> Result<bool> {
    let db = ctx.chat_db();
    mirror
        .is_log_shipping_primary(db)
        .await
        .map_err(|e| Error::step(step, ctx.partner_name(Partner::Mirror), Some(db), None, e))
}

fn fail_over_from(ctx: &Context, principal: Partner) -> Action {
    Action::FailOverMirroring {
        principal,
        database: ctx.chat_db().to_string(),
    }
}

/// The mirror's log-shipping primary: the primary's settings (same share, job and
/// secondary), as the documentation asks.
async fn mirror_setup(ctx: &Context, step: StepId) -> Result<Action> {
    let (primary_server, secondary_server) =
        log_shipping_setup::server_names(ctx, step, SiteRole::Primary).await?;
    let (setup, _) =
        log_shipping_setup::settings(ctx, SiteRole::Primary, primary_server, secondary_server);
    Ok(Action::SetupLogShippingPrimary {
        site: SiteRole::Primary,
        on: Partner::Mirror,
        setup,
    })
}

async fn observe_mirror_log_shipping(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = SHIP_LOGS_FROM_PRIMARY_MIRROR;
    let Some(mirror) = ctx.partner_sql(Partner::Mirror) else {
        return Ok(Intent::Skip("the topology has no primary mirror".into()));
    };
    let shipping = mirror_ships_logs(ctx, STEP, mirror).await?;
    let primary_serves = match partner_role(ctx, STEP, Partner::Primary).await? {
        Some((role, _)) => role == MirroringRole::Principal,
        None => {
            return Err(precondition(
                STEP,
                PreconditionKind::EarlierStep,
                format!(
                    "{} on {} is not mirrored, so no failover can make its mirror a log-shipping primary",
                    ctx.chat_db(),
                    ctx.partner_name(Partner::Primary)
                ),
                "run mirror_primary again (resume does this)",
            ));
        }
    };
    if shipping && primary_serves {
        return Ok(Intent::Skip(format!(
            "{} is already a log-shipping primary and {} the principal",
            ctx.partner_name(Partner::Mirror),
            ctx.partner_name(Partner::Primary)
        )));
    }
    let mut actions = Vec::new();
    if primary_serves {
        actions.push(fail_over_from(ctx, Partner::Primary));
    }
    if !shipping {
        actions.push(mirror_setup(ctx, STEP).await?);
    }
    actions.push(fail_over_from(ctx, Partner::Mirror));
    Ok(Intent::act(actions))
}

fn mirror_log_shipping_template(ctx: &Context) -> Vec<Template> {
    let name = |site: SiteRole| format!("<@@SERVERNAME of {}>", ctx.sql_name(site));
    let (setup, _) = log_shipping_setup::settings(
        ctx,
        SiteRole::Primary,
        name(SiteRole::Primary),
        name(SiteRole::Backup),
    );
    let only = "only if the topology has a primary mirror that is not yet a log-shipping primary";
    vec![
        Template::when(only, fail_over_from(ctx, Partner::Primary)),
        Template::when(
            only,
            Action::SetupLogShippingPrimary {
                site: SiteRole::Primary,
                on: Partner::Mirror,
                setup,
            },
        ),
        Template::when(only, fail_over_from(ctx, Partner::Mirror)),
    ]
}

/// Right before a mirroring failover: `principal` must be the principal of a
/// SYNCHRONIZED session, so the switch loses nothing.
async fn require_synchronized_principal(ctx: &Context, principal: Partner) -> Result<()> {
    const STEP: StepId = SHIP_LOGS_FROM_PRIMARY_MIRROR;
    match partner_role(ctx, STEP, principal).await? {
        Some((MirroringRole::Principal, true)) => Ok(()),
        found => Err(precondition(
            STEP,
            PreconditionKind::DatabaseState,
            format!(
                "{} on {} is not the principal of a SYNCHRONIZED mirroring session ({found:?})",
                ctx.chat_db(),
                ctx.partner_name(principal)
            ),
            "wait for the mirroring session to synchronize (sys.database_mirroring), then resume",
        )),
    }
}

/// Step 5d: makes the primary's mirror instance a log-shipping primary for the chat
/// database (same share and job), through a mirroring failover and back; each failover
/// re-checks that the session is SYNCHRONIZED and the roles are as expected.
pub async fn ship_logs_from_primary_mirror(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = SHIP_LOGS_FROM_PRIMARY_MIRROR;
    let actions = act_or_return!(ctx, STEP, observe_mirror_log_shipping(ctx).await?);
    for action in &actions {
        if let Action::FailOverMirroring { principal, .. } = action {
            require_synchronized_principal(ctx, *principal).await?;
        }
        action.perform(ctx, STEP).await?;
    }
    if observe_mirror_log_shipping(ctx).await?.acts() {
        return Err(unexpected(
            ctx,
            STEP,
            SiteRole::Primary,
            "the primary's mirror is not a log-shipping primary, or the primary not the principal, afterwards".into(),
        ));
    }
    Ok(StepOutcome::Done {
        summary: format!(
            "{} is a log-shipping primary too",
            ctx.partner_name(Partner::Mirror)
        ),
    })
}

async fn require_primary_online(ctx: &Context, step: StepId) -> Result<()> {
    let db = ctx.chat_db();
    let state = existing_db(ctx, step, SiteRole::Primary, db).await?;
    if state.is_recovered() {
        return Ok(());
    }
    Err(precondition(
        step,
        PreconditionKind::DatabaseState,
        format!("{db} on {} is not online", ctx.sql_name(SiteRole::Primary)),
        "restore the primary database first (restore_primary)",
    ))
}

async fn observe_activation(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = ACTIVATE_PRIMARY_SERVERS;
    let wanted = active_servers_for(ctx, STEP, SiteRole::Primary)?;
    let intent = observe_active_servers(ctx, STEP, wanted).await?;
    if intent.acts() {
        require_primary_online(ctx, STEP).await?;
    }
    Ok(intent)
}

fn activation_template(ctx: &Context) -> Vec<Template> {
    let servers = active_list(ctx, SiteRole::Primary);
    vec![Template::once(Action::SetActiveServers { servers })]
}

/// Step 6: makes the primary site's chat servers (at most four) the active servers.
pub async fn activate_primary_servers(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = ACTIVATE_PRIMARY_SERVERS;
    let wanted = active_servers_for(ctx, STEP, SiteRole::Primary)?;
    let intent = observe_activation(ctx).await?;
    set_active_servers(ctx, STEP, intent, &wanted).await
}

async fn observe_pool(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = SET_POOL_NORMAL;
    let intent = observe_pool_state(ctx, STEP, PoolState::Normal).await?;
    if intent.acts() {
        require_primary_online(ctx, STEP).await?;
    }
    Ok(intent)
}

fn pool_template(_: &Context) -> Vec<Template> {
    let set = Action::SetPoolState {
        state: PoolState::Normal,
    };
    vec![Template::once(set)]
}

/// Step 7: sets the pool state back to Normal.
pub async fn set_pool_normal(ctx: &Context) -> Result<StepOutcome> {
    let intent = observe_pool(ctx).await?;
    set_pool_state(ctx, SET_POOL_NORMAL, intent, PoolState::Normal).await
}
