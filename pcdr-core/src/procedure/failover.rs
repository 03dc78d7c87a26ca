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

use super::header_search::{
    database_identity, file_name, list_log_backups, restore_plan, sorted_files,
};
use super::pipeline;
use super::shared::{
    FolderViews, LogShippingFolders, active_list, active_servers_for, db_state, existing_db,
    install_mirroring, log_shipping_folders, mirror_request, observe_active_servers,
    observe_mirroring, observe_pool_state, perform_all, perform_exclusive, precondition,
    set_active_servers, set_pool_state, sql_error,
};
use super::step::{sends_nothing, step_table};
use super::{
    Action, Context, Event, Intent, Procedure, ProcedureName, ShareNotRead, StepId, StepOutcome,
    Template,
};
use crate::error::{Error, PlaneError, PreconditionKind, Result};
use crate::log_chain::{BackupHeader, BackupType, LogBackup, Lsn, RestorePlan};
use crate::logship::join_path;
use crate::planes::{FileEntry, LogShippingSnapshot, PoolState};
use crate::topology::SiteRole;
use std::collections::HashSet;
use std::time::{Duration, Instant};

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
        observe: observe_log_shipping, run: remove_log_shipping, template: remove_template,
    }
    /// Copy uncopied log backups from the share to the copy folder.
    COPY_LOG_BACKUPS = "copy_log_backups", "Copy uncopied log backups from the share to the copy folder" {
        observe: observe_copy, run: copy_log_backups, template: copy_template,
    }
    /// Restore unapplied log backups in LSN order.
    APPLY_UNAPPLIED_LOGS = "apply_unapplied_logs", "Restore unapplied log backups in LSN order" {
        observe: observe_apply_intent, run: apply_unapplied_logs, template: apply_template,
        observes_after: COPY_LOG_BACKUPS,
    }
    /// End sessions and bring the backup database online.
    RECOVER_DATABASE = "recover_database", "End sessions and bring the backup database online" {
        observe: observe_recover, run: recover_database, template: recover_template,
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
    const STEP: StepId = SNAPSHOT_LOG_SHIPPING;
    if ctx.facts().snapshot.is_some() {
        return Ok(Intent::Skip(
            "the log-shipping setup was recorded earlier in this run".into(),
        ));
    }
    let db = ctx.chat_db();
    let snapshot = ctx
        .sql(SiteRole::Backup)
        .log_shipping_snapshot(db)
        .await
        .map_err(sql_error(ctx, STEP, SiteRole::Backup, Some(db)))?;
    Ok(match snapshot {
        None => Intent::Skip(format!(
            "log shipping is not configured for {db} on {}; the topology's folders are used",
            ctx.sql_name(SiteRole::Backup)
        )),
        Some(s) => {
            let differences = folder_differences(ctx, &s);
            let intent = Intent::act(Vec::new()).with_note(format!(
                "share {}, copy folder {}, last copied {}, last restored {}",
                s.backup_source_directory,
                s.backup_destination_directory,
                s.last_copied_file.as_deref().unwrap_or("none"),
                s.last_restored_file.as_deref().unwrap_or("none"),
            ));
            differences.into_iter().fold(intent, Intent::with_note)
        }
    })
}

/// A note for each folder msdb names otherwise than the topology: msdb's path (the
/// servers' own, which the run's statements use) never replaces the path pcdr copies
/// through (`*_from_pcdr`), so the operator learns where the two may part.
fn folder_differences(ctx: &Context, snapshot: &LogShippingSnapshot) -> Vec<String> {
    let topo = &ctx.topology.log_shipping;
    let pairs = [
        (
            "backup_share",
            &snapshot.backup_source_directory,
            &topo.backup_share,
            &topo.backup_share_from_pcdr,
        ),
        (
            "copy_destination",
            &snapshot.backup_destination_directory,
            &topo.copy_destination,
            &topo.copy_destination_from_pcdr,
        ),
    ];
    pairs
        .into_iter()
        .filter(|(_, msdb, topology, _)| !same_folder(msdb, topology))
        .map(|(key, msdb, topology, pcdr)| {
            format!(
                "msdb names the folder {msdb} where the topology's log_shipping.{key} says {topology}: \
                 the statements use {msdb}, pcdr lists and copies through {pcdr} \
                 (log_shipping.{key}_from_pcdr); correct the topology if {pcdr} is not the same folder"
            )
        })
        .collect()
}

/// Whether two Windows folder paths are the same string, ignoring case and a trailing
/// separator.
fn same_folder(a: &str, b: &str) -> bool {
    let trim = |p: &str| p.trim_end_matches(['\\', '/']).to_ascii_lowercase();
    trim(a) == trim(b)
}

/// Step 0: records the log-shipping setup (share, copy folder, last copied file) in the
/// facts, because step 1 deletes it.
pub async fn snapshot_log_shipping(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = SNAPSHOT_LOG_SHIPPING;
    let _ = act_or_return!(ctx, STEP, observe_snapshot(ctx).await?);
    let db = ctx.chat_db();
    let snapshot = ctx
        .sql(SiteRole::Backup)
        .log_shipping_snapshot(db)
        .await
        .map_err(sql_error(ctx, STEP, SiteRole::Backup, Some(db)))?
        .ok_or_else(|| {
            precondition(
                STEP,
                PreconditionKind::WorldChanged,
                "log shipping disappeared while it was being read",
                "resume",
            )
        })?;
    ctx.update_facts(|f| f.snapshot = Some(snapshot));
    Ok(StepOutcome::Done {
        summary: "log-shipping setup recorded".into(),
    })
}

async fn observe_log_shipping(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = REMOVE_LOG_SHIPPING;
    let db = ctx.chat_db();
    let configured = ctx
        .sql(SiteRole::Backup)
        .log_shipping_snapshot(db)
        .await
        .map_err(sql_error(ctx, STEP, SiteRole::Backup, Some(db)))?
        .is_some();
    if !configured {
        return Ok(Intent::Skip(format!(
            "{db} is no longer a log-shipping secondary"
        )));
    }
    if ctx.facts().snapshot.is_none() {
        return Err(precondition(
            STEP,
            PreconditionKind::EarlierStep,
            "the log-shipping setup has not been recorded, and removing it deletes the share and copy folder settings",
            "run snapshot_log_shipping first",
        ));
    }
    let running = running_jobs(ctx).await?;
    let intent = Intent::act(remove_actions(ctx, &running));
    Ok(match running.is_empty() {
        true => intent,
        false => intent.with_note(format!(
            "still running: {}; stopped and waited for before log shipping is removed",
            running.join(", ")
        )),
    })
}

/// The copy and restore jobs of the backup database that SQL Server Agent is running.
async fn running_jobs(ctx: &Context) -> Result<Vec<String>> {
    let db = ctx.chat_db();
    ctx.sql(SiteRole::Backup)
        .running_log_shipping_jobs(db)
        .await
        .map_err(sql_error(
            ctx,
            REMOVE_LOG_SHIPPING,
            SiteRole::Backup,
            Some(db),
        ))
}

/// Stops the `running` jobs, then removes log shipping.
fn remove_actions(ctx: &Context, running: &[String]) -> Vec<Action> {
    let stops = running
        .iter()
        .map(|job| Action::StopJob { job: job.clone() });
    let remove = Action::RemoveSecondaryLogShipping {
        database: ctx.chat_db().to_string(),
    };
    stops.chain([remove]).collect()
}

fn remove_template(ctx: &Context) -> Vec<Template> {
    let stop = Action::StopJob {
        job: "<job>".into(),
    };
    let when = format!(
        "once for each copy or restore job of {} still running (msdb.dbo.sysjobactivity), which is then waited for",
        ctx.chat_db()
    );
    let remove = remove_actions(ctx, &[]).into_iter().map(Template::once);
    std::iter::once(Template::when(when, stop))
        .chain(remove)
        .collect()
}

/// How long the jobs asked to stop may take: a job in the middle of a RESTORE stops only
/// once the statement can stop, which "may take a while" (sp_stop_job (Transact-SQL)).
const JOBS_STOP_WITHIN: Duration = Duration::from_secs(600);

/// How often the jobs are looked at while they stop.
const JOBS_POLL: Duration = Duration::from_millis(250);

/// How often the wait says how it goes: every this many looks (5 s).
const JOBS_PROGRESS_EVERY: u32 = 20;

/// Waits until no log-shipping job of the backup database runs any more, saying every
/// few seconds which still do; refuses to go on after [`JOBS_STOP_WITHIN`].
async fn wait_for_jobs_to_stop(ctx: &Context) -> Result<()> {
    const STEP: StepId = REMOVE_LOG_SHIPPING;
    let started = Instant::now();
    let mut looks = 0u32;
    loop {
        let running = running_jobs(ctx).await?;
        if running.is_empty() {
            return Ok(());
        }
        if ctx.is_cancelled() {
            return Err(Error::Cancelled { step: Some(STEP) });
        }
        let waited = started.elapsed().as_secs();
        if started.elapsed() >= JOBS_STOP_WITHIN {
            return Err(precondition(
                STEP,
                PreconditionKind::DatabaseState,
                format!(
                    "{} still running {waited} s after sp_stop_job asked them to stop; removing log shipping now would leave them holding {}",
                    running.join(", "),
                    ctx.chat_db()
                ),
                "look at the jobs in SQL Server Agent's Job Activity Monitor on the backup instance, stop them, then resume",
            ));
        }
        if looks.is_multiple_of(JOBS_PROGRESS_EVERY) {
            ctx.emit(Event::Note {
                step: STEP,
                text: format!("waiting for {} to stop ({waited} s)", running.join(", ")),
            });
        }
        looks = looks.wrapping_add(1);
        tokio::time::sleep(JOBS_POLL).await;
    }
}

/// Step 1: stops the log-shipping jobs still running (their sessions hold the backup
/// database, and a restore job would race this procedure's restores), waits until they
/// stopped, then removes log shipping from the backup database.
pub async fn remove_log_shipping(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = REMOVE_LOG_SHIPPING;
    let actions = act_or_return!(ctx, STEP, observe_log_shipping(ctx).await?);
    let stopped = actions
        .iter()
        .filter(|a| matches!(a, Action::StopJob { .. }))
        .count();
    let (stops, remove) = actions.split_at(stopped);
    if !stops.is_empty() {
        perform_all(ctx, STEP, stops).await?;
        wait_for_jobs_to_stop(ctx).await?;
    }
    perform_all(ctx, STEP, remove).await?;
    if observe_log_shipping(ctx).await?.acts() {
        return Err(Error::step(
            STEP,
            ctx.sql_name(SiteRole::Backup),
            Some(ctx.chat_db()),
            None,
            PlaneError::Unexpected("log shipping is still configured after removing it".into()),
        ));
    }
    Ok(StepOutcome::Done {
        summary: match stopped {
            0 => "log shipping removed from the backup database".into(),
            n => format!(
                "{n} running log-shipping jobs stopped; log shipping removed from the backup database"
            ),
        },
    })
}

/// Files by name (ignoring case, as Windows compares them) and size.
fn by_name_and_size(files: &[FileEntry]) -> HashSet<(String, u64)> {
    files
        .iter()
        .map(|f| (f.name.to_ascii_lowercase(), f.size))
        .collect()
}

/// Whether `files` hold the file `name` with `size` bytes.
fn holds(files: &HashSet<(String, u64)>, name: &str, size: u64) -> bool {
    files.contains(&(name.to_ascii_lowercase(), size))
}

/// Files on the share that the copy folder lacks (or holds with another size), newer
/// than the restore job's last restored file. A file the copy job once copied (named
/// before its last copied file) but that is missing from the copy folder now is copied
/// again: the database may still need it, and without it the chain shows a gap that
/// the share could fill. Files up to the last restored one are in the database.
fn uncopied(
    share: &[FileEntry],
    copied: &[FileEntry],
    last_restored: Option<&str>,
) -> Vec<FileEntry> {
    let copied = by_name_and_size(copied);
    let mut files: Vec<FileEntry> = share
        .iter()
        .filter(|f| !holds(&copied, &f.name, f.size))
        .filter(|f| {
            last_restored.is_none_or(|last| {
                f.name.to_ascii_lowercase() > file_name(last).to_ascii_lowercase()
            })
        })
        .cloned()
        .collect();
    files.sort_by_key(|f| f.name.to_ascii_lowercase());
    files
}

/// Refuses a copy that would not fit in the copy folder.
async fn require_free_space(ctx: &Context, destination: &str, needed: u64) -> Result<()> {
    const STEP: StepId = COPY_LOG_BACKUPS;
    let free = ctx
        .planes
        .files
        .free_space(destination)
        .await
        .map_err(|e| Error::step(STEP, destination, None, None, e))?;
    if free >= needed {
        return Ok(());
    }
    Err(Error::step(
        STEP,
        destination,
        Some(ctx.chat_db()),
        None,
        PlaneError::Io {
            path: destination.to_string(),
            message: format!("the copy folder is full: {needed} bytes to copy, {free} free"),
        },
    ))
}

async fn observe_copy(ctx: &Context) -> Result<Intent> {
    Ok(observe_copy_reading_share(ctx).await?.0)
}

/// Observes the copy; with the intent, the share when it could not be read and data
/// loss was accepted (the run records it as an accepted loss).
async fn observe_copy_reading_share(ctx: &Context) -> Result<(Intent, Option<ShareNotRead>)> {
    const STEP: StepId = COPY_LOG_BACKUPS;
    let LogShippingFolders { share, copy } = log_shipping_folders(ctx);
    let share = share.pcdr;
    let on_share = match list_log_backups(ctx, STEP, &share).await {
        Err(e) if ctx.options.accept_data_loss => {
            let skip = Intent::Skip(format!(
                "the share {share} cannot be read ({e}); continuing with the files already copied, as data loss was accepted: every log backup only the share held is lost"
            ));
            let reason = e.to_string();
            return Ok((skip, Some(ShareNotRead { share, reason })));
        }
        other => other?,
    };
    Ok((copy_intent(ctx, &on_share, &share, &copy).await?, None))
}

/// Copies what the copy folder lacks of `on_share` (listed through pcdr's path
/// `share`), if it fits.
async fn copy_intent(
    ctx: &Context,
    on_share: &[FileEntry],
    share: &str,
    copy: &FolderViews,
) -> Result<Intent> {
    let destination = copy.pcdr.as_str();
    let copied = list_log_backups(ctx, COPY_LOG_BACKUPS, destination).await?;
    let last_restored = ctx.facts().snapshot.and_then(|s| s.last_restored_file);
    let todo = uncopied(on_share, &copied, last_restored.as_deref());
    if todo.is_empty() {
        return Ok(Intent::Skip(format!(
            "every log backup on {share} is already in {destination}"
        )));
    }
    require_free_space(ctx, destination, todo.iter().map(|f| f.size).sum()).await?;
    let copy_file = |f: FileEntry| Action::CopyFile {
        from: share.to_string(),
        to: destination.to_string(),
        name: f.name,
        bytes: f.size,
    };
    let check = format!(
        "{} must read the first copied file in {}; the rest is copied after that check",
        ctx.sql_name(SiteRole::Backup),
        copy.server
    );
    Ok(Intent::act(todo.into_iter().map(copy_file).collect()).with_note(check))
}

fn copy_template(ctx: &Context) -> Vec<Template> {
    let LogShippingFolders { share, copy } = log_shipping_folders(ctx);
    let copy = Action::CopyFile {
        from: share.pcdr,
        to: copy.pcdr,
        name: format!("{}_<yyyyMMddHHmmss>.trn", ctx.chat_db()),
        bytes: 0,
    };
    vec![Template::when(
        "once for each log backup on the share not yet copied",
        copy,
    )]
}

/// Checks that every file the step copied is in the copy folder with its size; returns
/// the bytes copied.
async fn verify_copied(ctx: &Context, actions: &[Action]) -> Result<u64> {
    const STEP: StepId = COPY_LOG_BACKUPS;
    let destination = log_shipping_folders(ctx).copy.pcdr;
    let copied = by_name_and_size(&list_log_backups(ctx, STEP, &destination).await?);
    let mut bytes = 0;
    for (name, size) in actions.iter().filter_map(Action::copied_file) {
        if !holds(&copied, name, size) {
            return Err(Error::step(
                STEP,
                destination.as_str(),
                None,
                Some(name),
                PlaneError::Unexpected("the copied file is missing or has the wrong size".into()),
            ));
        }
        bytes += size;
    }
    Ok(bytes)
}

/// Step 2: copies uncopied log backups from the share to the copy folder, restoring
/// each one that is next in the chain as soon as it has landed (see
/// [`RunOptions::sequential_restore`](super::RunOptions) for the other order).
pub async fn copy_log_backups(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = COPY_LOG_BACKUPS;
    let (intent, share_not_read) = observe_copy_reading_share(ctx).await?;
    if share_not_read.is_some() {
        ctx.update_facts(|f| f.share_not_read = share_not_read);
    }
    let actions = act_or_return!(ctx, STEP, intent);
    let restored = pipeline::copy_and_restore(ctx, STEP, &actions).await?;
    let bytes = verify_copied(ctx, &actions).await?;
    let copied = format!("{} log backups copied ({bytes} bytes)", actions.len());
    Ok(StepOutcome::Done {
        summary: match restored {
            0 => copied,
            n => format!("{copied}; {n} restored as they landed"),
        },
    })
}

/// The restore point of the backup database, which must have one.
async fn restore_point(ctx: &Context, step: StepId) -> Result<Lsn> {
    let db = ctx.chat_db();
    ctx.sql(SiteRole::Backup)
        .redo_start_lsn(db)
        .await
        .map_err(sql_error(ctx, step, SiteRole::Backup, Some(db)))?
        .ok_or_else(|| {
            precondition(
                step,
                PreconditionKind::DatabaseState,
                format!("{db} reports no restore point"),
                "check the database state",
            )
        })
}

/// Observes the log chain. Returns the intent, the restore plan behind it and the
/// restore point it starts from (none when the database is already recovered).
async fn observe_apply(ctx: &Context) -> Result<(Intent, RestorePlan, Option<Lsn>)> {
    const STEP: StepId = APPLY_UNAPPLIED_LOGS;
    let db = ctx.chat_db();
    let state = existing_db(ctx, STEP, SiteRole::Backup, db).await?;
    if state.is_recovered() {
        let skip = Intent::Skip(format!("{db} is already recovered"));
        return Ok((skip, RestorePlan::default(), None));
    }
    if !state.accepts_logs() {
        return Err(precondition(
            STEP,
            PreconditionKind::DatabaseState,
            format!("{db} is {:?}, so no log backup can be applied", state.state),
            "check the database in SQL Server Management Studio",
        ));
    }
    let point = restore_point(ctx, STEP).await?;
    let folder = log_shipping_folders(ctx).copy;
    let files = sorted_files(ctx, STEP, &folder).await?;
    let identity = database_identity(ctx, STEP, &state).await?;
    let plan = restore_plan(ctx, STEP, &identity, point, &files).await?;
    if let Some(gap) = &plan.gap
        && !ctx.options.accept_data_loss
    {
        return Err(Error::DataLossRefused {
            step: STEP,
            target: ctx.sql_name(SiteRole::Backup),
            database: db.to_string(),
            gap: Box::new(gap.clone()),
        });
    }
    let intent = apply_intent(ctx, &plan, state.in_standby, &folder.server, point);
    Ok((intent, plan, Some(point)))
}

/// What the apply step does for `plan`: restore each log backup in order, after ending
/// the readers of a standby database (SQL Server refuses the restore with 3101 while
/// they are there).
fn apply_intent(
    ctx: &Context,
    plan: &RestorePlan,
    standby: bool,
    folder: &str,
    point: Lsn,
) -> Intent {
    let db = ctx.chat_db();
    if plan.to_restore.is_empty() {
        return Intent::Skip(match &plan.gap {
            Some(gap) => format!("nothing more can be applied (data loss accepted): {gap}"),
            None => format!(
                "every log backup in {folder} is already applied (restore point LSN {point})"
            ),
        });
    }
    let end_sessions = standby.then(|| Action::EndSessions {
        site: SiteRole::Backup,
        database: db.to_string(),
    });
    let restores = plan.to_restore.iter().map(|backup| Action::RestoreLog {
        database: db.to_string(),
        backup: backup.clone(),
    });
    let intent = Intent::act(end_sessions.into_iter().chain(restores).collect());
    match &plan.gap {
        Some(gap) => intent.with_note(format!("data loss accepted: {gap}")),
        None => intent,
    }
}

async fn observe_apply_intent(ctx: &Context) -> Result<Intent> {
    Ok(observe_apply(ctx).await?.0)
}

fn apply_template(ctx: &Context) -> Vec<Template> {
    let db = ctx.chat_db();
    let folder = log_shipping_folders(ctx).copy.server;
    let file = join_path(&folder, &format!("{db}_<yyyyMMddHHmmss>.trn"));
    let placeholder = LogBackup {
        file,
        header: BackupHeader {
            database_name: db.to_string(),
            backup_type: BackupType::Log,
            first_lsn: Default::default(),
            last_lsn: Default::default(),
            family_guid: String::new(),
            binding_id: String::new(),
            backup_start: Default::default(),
            backup_finish: Default::default(),
            database_backup_lsn: Default::default(),
            first_recovery_fork: None,
            recovery_fork: None,
            backup_size: 0,
        },
    };
    let end_sessions = Action::EndSessions {
        site: SiteRole::Backup,
        database: db.to_string(),
    };
    let restore = Action::RestoreLog {
        database: db.to_string(),
        backup: placeholder,
    };
    vec![
        Template::once(end_sessions),
        Template::when("once for each log backup to restore, in LSN order", restore),
    ]
}

/// Records the data-loss evidence before the restores: the database's restore point
/// `point` (each restore then moves it), and the newest backup it already holds when
/// this run has not restored one itself.
fn record_already_applied(ctx: &Context, plan: &RestorePlan, point: Option<Lsn>) {
    let newest = plan.newest_applied().filter(|_| plan.to_restore.is_empty());
    ctx.update_facts(|f| {
        if let Some(point) = point {
            f.restore_point = Some(point);
        }
        if f.last_applied.is_none() {
            f.last_applied = newest.cloned();
        }
    });
}

/// Ends the sessions first, then restores each log backup with the database to itself:
/// when a session took it in between (3101), sessions are ended again and the restore
/// retried, as recovery does.
async fn perform_restores(ctx: &Context, step: StepId, actions: &[Action]) -> Result<()> {
    for action in actions {
        let action = std::slice::from_ref(action);
        perform_exclusive(ctx, step, SiteRole::Backup, ctx.chat_db(), action).await?;
    }
    Ok(())
}

/// Checks that the restore point is where the last restored backup left it.
async fn verify_restore_point(ctx: &Context, plan: &RestorePlan) -> Result<()> {
    const STEP: StepId = APPLY_UNAPPLIED_LOGS;
    let Some(expected) = plan.to_restore.last().map(|b| b.header.last_lsn) else {
        return Ok(());
    };
    let db = ctx.chat_db();
    let point = ctx
        .sql(SiteRole::Backup)
        .redo_start_lsn(db)
        .await
        .map_err(sql_error(ctx, STEP, SiteRole::Backup, Some(db)))?;
    if point == Some(expected) {
        return Ok(());
    }
    let found = point.map_or_else(|| "unknown".to_string(), |p| p.to_string());
    Err(Error::step(
        STEP,
        ctx.sql_name(SiteRole::Backup),
        Some(db),
        None,
        PlaneError::Unexpected(format!(
            "the restore point is {found} after the restores, expected {expected}"
        )),
    ))
}

/// Step 3: restores the unapplied log backups in LSN order; stops at a gap unless the
/// operator accepted data loss.
pub async fn apply_unapplied_logs(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = APPLY_UNAPPLIED_LOGS;
    let (intent, plan, point) = observe_apply(ctx).await?;
    record_already_applied(ctx, &plan, point);
    if let Some(gap) = &plan.gap {
        ctx.update_facts(|f| f.accepted_gap = Some(gap.clone()));
    }
    let actions = act_or_return!(ctx, STEP, intent);
    perform_restores(ctx, STEP, &actions).await?;
    verify_restore_point(ctx, &plan).await?;
    let gap = if plan.gap.is_some() {
        " up to a gap (data loss accepted)"
    } else {
        ""
    };
    Ok(StepOutcome::Done {
        summary: format!("{} log backups restored{gap}", plan.to_restore.len()),
    })
}

fn recover_actions(ctx: &Context) -> Vec<Action> {
    let database = ctx.chat_db().to_string();
    vec![
        Action::EndSessions {
            site: SiteRole::Backup,
            database: database.clone(),
        },
        Action::Recover {
            site: SiteRole::Backup,
            database,
        },
    ]
}

fn recover_template(ctx: &Context) -> Vec<Template> {
    recover_actions(ctx)
        .into_iter()
        .map(Template::once)
        .collect()
}

async fn observe_recover(ctx: &Context) -> Result<Intent> {
    let db = ctx.chat_db();
    let state = existing_db(ctx, RECOVER_DATABASE, SiteRole::Backup, db).await?;
    if state.is_recovered() {
        return Ok(Intent::Skip(format!("{db} is already online")));
    }
    Ok(Intent::act(recover_actions(ctx)))
}

/// Step 4: ends the sessions on the backup database and recovers it.
pub async fn recover_database(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = RECOVER_DATABASE;
    let actions = act_or_return!(ctx, STEP, observe_recover(ctx).await?);
    require_primary_still_down(ctx, STEP).await?;
    let db = ctx.chat_db();
    perform_exclusive(ctx, STEP, SiteRole::Backup, db, &actions).await?;
    let state = existing_db(ctx, STEP, SiteRole::Backup, db).await?;
    if !state.is_recovered() {
        return Err(Error::step(
            STEP,
            ctx.sql_name(SiteRole::Backup),
            Some(db),
            None,
            PlaneError::Unexpected(format!("{db} is {:?} after recovery", state.state)),
        ));
    }
    Ok(StepOutcome::Done {
        summary: format!("{db} online on {}", ctx.sql_name(SiteRole::Backup)),
    })
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
