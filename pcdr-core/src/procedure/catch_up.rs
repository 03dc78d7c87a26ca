//! The catch-up of the site that takes over, which failover and switchover share: record
//! the log-shipping setup of its database, remove it, copy what the share holds that
//! the copy folder lacks, restore the log backups in LSN order, and recover. Each
//! function works on [`Context::restoring_site`] and names the step that runs it, so
//! both procedures declare these steps in their own tables.

use super::header_search::{
    database_identity, file_name, list_log_backups, restore_plan, sorted_files,
};
use super::pipeline;
use super::shared::{
    FolderViews, LogShippingFolders, existing_db, log_shipping_folders, perform_all,
    perform_exclusive, precondition, sql_error, topology_copy_folder,
};
use super::{Action, Context, Event, Intent, ShareNotRead, StepId, StepOutcome, Template};
use crate::error::{Error, PlaneError, PreconditionKind, Result};
use crate::log_chain::{BackupHeader, BackupType, LogBackup, Lsn, RestorePlan};
use crate::logship::join_path;
use crate::planes::{FileEntry, LogShippingSnapshot};
use crate::topology::SiteRole;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// What recording the restoring site's log-shipping setup would do now.
pub async fn observe_snapshot(ctx: &Context, step: StepId) -> Result<Intent> {
    let site = ctx.restoring_site();
    if ctx.facts().snapshot.is_some() {
        return Ok(Intent::Skip(
            "the log-shipping setup was recorded earlier in this run".into(),
        ));
    }
    let db = ctx.chat_db();
    let snapshot = ctx
        .sql(site)
        .log_shipping_snapshot(db)
        .await
        .map_err(sql_error(ctx, step, site, Some(db)))?;
    Ok(match snapshot {
        None => Intent::Skip(format!(
            "log shipping is not configured for {db} on {}; the topology's folders are used",
            ctx.sql_name(site)
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
    let copy = topology_copy_folder(ctx, ctx.restoring_site());
    let copy_key = match ctx.restoring_site() {
        SiteRole::Backup => "copy_destination",
        SiteRole::Primary => "primary_copy_destination",
    };
    let pairs = [
        (
            "backup_share",
            &snapshot.backup_source_directory,
            &topo.backup_share,
            &topo.backup_share_from_pcdr,
        ),
        (
            copy_key,
            &snapshot.backup_destination_directory,
            &copy.server,
            &copy.pcdr,
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

/// Records the log-shipping setup (share, copy folder, last copied file) in the facts,
/// because the removal deletes it.
pub async fn snapshot_log_shipping(ctx: &Context, step: StepId) -> Result<StepOutcome> {
    let site = ctx.restoring_site();
    let _ = act_or_return!(ctx, step, observe_snapshot(ctx, step).await?);
    let db = ctx.chat_db();
    let snapshot = ctx
        .sql(site)
        .log_shipping_snapshot(db)
        .await
        .map_err(sql_error(ctx, step, site, Some(db)))?
        .ok_or_else(|| {
            precondition(
                step,
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

/// What removing the restoring site's log-shipping secondary would do now.
pub async fn observe_removal(ctx: &Context, step: StepId) -> Result<Intent> {
    let site = ctx.restoring_site();
    let db = ctx.chat_db();
    let configured = ctx
        .sql(site)
        .log_shipping_snapshot(db)
        .await
        .map_err(sql_error(ctx, step, site, Some(db)))?
        .is_some();
    if !configured {
        return Ok(Intent::Skip(format!(
            "{db} is no longer a log-shipping secondary"
        )));
    }
    if ctx.facts().snapshot.is_none() {
        return Err(precondition(
            step,
            PreconditionKind::EarlierStep,
            "the log-shipping setup has not been recorded, and removing it deletes the share and copy folder settings",
            "run snapshot_log_shipping first",
        ));
    }
    let running = running_jobs(ctx, step).await?;
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
async fn running_jobs(ctx: &Context, step: StepId) -> Result<Vec<String>> {
    let site = ctx.restoring_site();
    let db = ctx.chat_db();
    ctx.sql(site)
        .running_log_shipping_jobs(db)
        .await
        .map_err(sql_error(ctx, step, site, Some(db)))
}

/// Stops the `running` jobs, then removes log shipping.
fn remove_actions(ctx: &Context, running: &[String]) -> Vec<Action> {
    let site = ctx.restoring_site();
    let stops = running.iter().map(|job| Action::StopJob {
        site,
        job: job.clone(),
    });
    let remove = Action::RemoveSecondaryLogShipping {
        site,
        database: ctx.chat_db().to_string(),
    };
    stops.chain([remove]).collect()
}

/// The removal's actions, as a plan shows them before observation.
pub fn remove_template(ctx: &Context) -> Vec<Template> {
    let stop = Action::StopJob {
        site: ctx.restoring_site(),
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
async fn wait_for_jobs_to_stop(ctx: &Context, step: StepId) -> Result<()> {
    let started = Instant::now();
    let mut looks = 0u32;
    loop {
        let running = running_jobs(ctx, step).await?;
        if running.is_empty() {
            return Ok(());
        }
        if ctx.is_cancelled() {
            return Err(Error::Cancelled { step: Some(step) });
        }
        let waited = started.elapsed().as_secs();
        if started.elapsed() >= JOBS_STOP_WITHIN {
            return Err(precondition(
                step,
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
                step,
                text: format!("waiting for {} to stop ({waited} s)", running.join(", ")),
            });
        }
        looks = looks.wrapping_add(1);
        tokio::time::sleep(JOBS_POLL).await;
    }
}

/// Stops the log-shipping jobs still running (their sessions hold the backup
/// database, and a restore job would race this procedure's restores), waits until they
/// stopped, then removes log shipping from the backup database.
pub async fn remove_log_shipping(ctx: &Context, step: StepId) -> Result<StepOutcome> {
    let site = ctx.restoring_site();
    let actions = act_or_return!(ctx, step, observe_removal(ctx, step).await?);
    let stopped = actions
        .iter()
        .filter(|a| matches!(a, Action::StopJob { .. }))
        .count();
    let (stops, remove) = actions.split_at(stopped);
    if !stops.is_empty() {
        perform_all(ctx, step, stops).await?;
        wait_for_jobs_to_stop(ctx, step).await?;
    }
    perform_all(ctx, step, remove).await?;
    if observe_removal(ctx, step).await?.acts() {
        return Err(Error::step(
            step,
            ctx.sql_name(site),
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
async fn require_free_space(
    ctx: &Context,
    step: StepId,
    destination: &str,
    needed: u64,
) -> Result<()> {
    let free = ctx
        .planes
        .files
        .free_space(destination)
        .await
        .map_err(|e| Error::step(step, destination, None, None, e))?;
    if free >= needed {
        return Ok(());
    }
    Err(Error::step(
        step,
        destination,
        Some(ctx.chat_db()),
        None,
        PlaneError::Io {
            path: destination.to_string(),
            message: format!("the copy folder is full: {needed} bytes to copy, {free} free"),
        },
    ))
}

/// What the copy would do now.
pub async fn observe_copy(ctx: &Context, step: StepId) -> Result<Intent> {
    Ok(observe_copy_reading_share(ctx, step).await?.0)
}

/// Observes the copy; with the intent, the share when it could not be read and data
/// loss was accepted (the run records it as an accepted loss).
async fn observe_copy_reading_share(
    ctx: &Context,
    step: StepId,
) -> Result<(Intent, Option<ShareNotRead>)> {
    let LogShippingFolders { share, copy } = log_shipping_folders(ctx);
    let share = share.pcdr;
    let on_share = match list_log_backups(ctx, step, &share).await {
        Err(e) if ctx.options.accept_data_loss => {
            let skip = Intent::Skip(format!(
                "the share {share} cannot be read ({e}); continuing with the files already copied, as data loss was accepted: every log backup only the share held is lost"
            ));
            let reason = e.to_string();
            return Ok((skip, Some(ShareNotRead { share, reason })));
        }
        other => other?,
    };
    Ok((
        copy_intent(ctx, step, &on_share, &share, &copy).await?,
        None,
    ))
}

/// Copies what the copy folder lacks of `on_share` (listed through pcdr's path
/// `share`), if it fits.
async fn copy_intent(
    ctx: &Context,
    step: StepId,
    on_share: &[FileEntry],
    share: &str,
    copy: &FolderViews,
) -> Result<Intent> {
    let site = ctx.restoring_site();
    let destination = copy.pcdr.as_str();
    let copied = list_log_backups(ctx, step, destination).await?;
    let last_restored = ctx.facts().snapshot.and_then(|s| s.last_restored_file);
    let todo = uncopied(on_share, &copied, last_restored.as_deref());
    if todo.is_empty() {
        return Ok(Intent::Skip(format!(
            "every log backup on {share} is already in {destination}"
        )));
    }
    require_free_space(ctx, step, destination, todo.iter().map(|f| f.size).sum()).await?;
    let copy_file = |f: FileEntry| Action::CopyFile {
        from: share.to_string(),
        to: destination.to_string(),
        name: f.name,
        bytes: f.size,
    };
    let check = format!(
        "{} must read the first copied file in {}; the rest is copied after that check",
        ctx.sql_name(site),
        copy.server
    );
    Ok(Intent::act(todo.into_iter().map(copy_file).collect()).with_note(check))
}

/// The copy's actions, as a plan shows them before observation.
pub fn copy_template(ctx: &Context) -> Vec<Template> {
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
async fn verify_copied(ctx: &Context, step: StepId, actions: &[Action]) -> Result<u64> {
    let destination = log_shipping_folders(ctx).copy.pcdr;
    let copied = by_name_and_size(&list_log_backups(ctx, step, &destination).await?);
    let mut bytes = 0;
    for (name, size) in actions.iter().filter_map(Action::copied_file) {
        if !holds(&copied, name, size) {
            return Err(Error::step(
                step,
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

/// Copies uncopied log backups from the share to the copy folder, restoring
/// each one that is next in the chain as soon as it has landed (see
/// [`RunOptions::sequential_restore`](super::RunOptions) for the other order).
pub async fn copy_log_backups(ctx: &Context, step: StepId) -> Result<StepOutcome> {
    let (intent, share_not_read) = observe_copy_reading_share(ctx, step).await?;
    if share_not_read.is_some() {
        ctx.update_facts(|f| f.share_not_read = share_not_read);
    }
    let actions = act_or_return!(ctx, step, intent);
    let restored = pipeline::copy_and_restore(ctx, step, &actions).await?;
    let bytes = verify_copied(ctx, step, &actions).await?;
    let copied = format!("{} log backups copied ({bytes} bytes)", actions.len());
    Ok(StepOutcome::Done {
        summary: match restored {
            0 => copied,
            n => format!("{copied}; {n} restored as they landed"),
        },
    })
}

/// The restore point of the chat database at `site`, which must have one.
pub async fn restore_point(ctx: &Context, step: StepId, site: SiteRole) -> Result<Lsn> {
    let db = ctx.chat_db();
    ctx.sql(site)
        .redo_start_lsn(db)
        .await
        .map_err(sql_error(ctx, step, site, Some(db)))?
        .ok_or_else(|| {
            precondition(
                step,
                PreconditionKind::DatabaseState,
                format!("{db} on {} reports no restore point", ctx.sql_name(site)),
                "check the database state",
            )
        })
}

/// Observes the log chain. Returns the intent, the restore plan behind it and the
/// restore point it starts from (none when the database is already recovered).
async fn observe_apply(ctx: &Context, step: StepId) -> Result<(Intent, RestorePlan, Option<Lsn>)> {
    let site = ctx.restoring_site();
    let db = ctx.chat_db();
    let state = existing_db(ctx, step, site, db).await?;
    if state.is_recovered() {
        let skip = Intent::Skip(format!("{db} is already recovered"));
        return Ok((skip, RestorePlan::default(), None));
    }
    if !state.accepts_logs() {
        return Err(precondition(
            step,
            PreconditionKind::DatabaseState,
            format!("{db} is {:?}, so no log backup can be applied", state.state),
            "check the database in SQL Server Management Studio",
        ));
    }
    let point = restore_point(ctx, step, site).await?;
    let folder = log_shipping_folders(ctx).copy;
    let files = sorted_files(ctx, step, &folder).await?;
    let identity = database_identity(ctx, step, &state).await?;
    let plan = restore_plan(ctx, step, &identity, point, &files).await?;
    if let Some(gap) = &plan.gap
        && !ctx.options.accept_data_loss
    {
        return Err(Error::DataLossRefused {
            step,
            target: ctx.sql_name(site),
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
    let site = ctx.restoring_site();
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
        site,
        database: db.to_string(),
    });
    let restores = plan.to_restore.iter().map(|backup| Action::RestoreLog {
        site,
        database: db.to_string(),
        backup: backup.clone(),
    });
    let intent = Intent::act(end_sessions.into_iter().chain(restores).collect());
    match &plan.gap {
        Some(gap) => intent.with_note(format!("data loss accepted: {gap}")),
        None => intent,
    }
}

/// What the restores would do now.
pub async fn observe_apply_intent(ctx: &Context, step: StepId) -> Result<Intent> {
    Ok(observe_apply(ctx, step).await?.0)
}

/// The restores, as a plan shows them before observation.
pub fn apply_template(ctx: &Context) -> Vec<Template> {
    let site = ctx.restoring_site();
    let db = ctx.chat_db();
    let folder = log_shipping_folders(ctx).copy.server;
    let file = join_path(&folder, &format!("{db}_<yyyyMMddHHmmss>.trn"));
    let placeholder = placeholder_backup(ctx, &file);
    let end_sessions = Action::EndSessions {
        site,
        database: db.to_string(),
    };
    let restore = Action::RestoreLog {
        site,
        database: db.to_string(),
        backup: placeholder,
    };
    vec![
        Template::once(end_sessions),
        Template::when("once for each log backup to restore, in LSN order", restore),
    ]
}

/// A log backup of the chat database in `file` as a plan shows it before its header is
/// read.
pub fn placeholder_backup(ctx: &Context, file: &str) -> LogBackup {
    LogBackup {
        file: file.to_string(),
        header: BackupHeader {
            database_name: ctx.chat_db().to_string(),
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
    }
}

/// The share as the SQL Servers name it (what `BACKUP … TO DISK` is given).
pub fn share_for_servers(ctx: &Context) -> String {
    log_shipping_folders(ctx).share.server
}

/// The names (lower case) of the chat database's log backups on the share, listed
/// through pcdr's path.
pub async fn share_file_names(ctx: &Context, step: StepId) -> Result<HashSet<String>> {
    let share = log_shipping_folders(ctx).share.pcdr;
    let files = list_log_backups(ctx, step, &share).await?;
    Ok(files
        .into_iter()
        .map(|f| f.name.to_ascii_lowercase())
        .collect())
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
    let site = ctx.restoring_site();
    for action in actions {
        let action = std::slice::from_ref(action);
        perform_exclusive(ctx, step, site, ctx.chat_db(), action).await?;
    }
    Ok(())
}

/// Checks that the restore point is where the last restored backup left it.
async fn verify_restore_point(ctx: &Context, step: StepId, plan: &RestorePlan) -> Result<()> {
    let site = ctx.restoring_site();
    let Some(expected) = plan.to_restore.last().map(|b| b.header.last_lsn) else {
        return Ok(());
    };
    let db = ctx.chat_db();
    let point =
        ctx.sql(site)
            .redo_start_lsn(db)
            .await
            .map_err(sql_error(ctx, step, site, Some(db)))?;
    if point == Some(expected) {
        return Ok(());
    }
    let found = point.map_or_else(|| "unknown".to_string(), |p| p.to_string());
    Err(Error::step(
        step,
        ctx.sql_name(site),
        Some(db),
        None,
        PlaneError::Unexpected(format!(
            "the restore point is {found} after the restores, expected {expected}"
        )),
    ))
}

/// Restores the unapplied log backups in LSN order; stops at a gap unless the
/// operator accepted data loss.
pub async fn apply_unapplied_logs(ctx: &Context, step: StepId) -> Result<StepOutcome> {
    let (intent, plan, point) = observe_apply(ctx, step).await?;
    record_already_applied(ctx, &plan, point);
    if let Some(gap) = &plan.gap {
        ctx.update_facts(|f| f.accepted_gap = Some(gap.clone()));
    }
    let actions = act_or_return!(ctx, step, intent);
    perform_restores(ctx, step, &actions).await?;
    verify_restore_point(ctx, step, &plan).await?;
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
    let site = ctx.restoring_site();
    let database = ctx.chat_db().to_string();
    vec![
        Action::EndSessions {
            site,
            database: database.clone(),
        },
        Action::Recover { site, database },
    ]
}

/// The recovery's actions, as a plan shows them.
pub fn recover_template(ctx: &Context) -> Vec<Template> {
    recover_actions(ctx)
        .into_iter()
        .map(Template::once)
        .collect()
}

/// What the recovery would do now.
pub async fn observe_recover(ctx: &Context, step: StepId) -> Result<Intent> {
    let site = ctx.restoring_site();
    let db = ctx.chat_db();
    let state = existing_db(ctx, step, site, db).await?;
    if state.is_recovered() {
        return Ok(Intent::Skip(format!("{db} is already online")));
    }
    Ok(Intent::act(recover_actions(ctx)))
}

/// Ends the sessions on the restoring site's database and recovers it (`actions`, from
/// [`observe_recover`]), then checks that it is online. The procedure checks its own
/// safety preconditions right before.
pub async fn recover(ctx: &Context, step: StepId, actions: &[Action]) -> Result<StepOutcome> {
    let site = ctx.restoring_site();
    let db = ctx.chat_db();
    perform_exclusive(ctx, step, site, db, actions).await?;
    let state = existing_db(ctx, step, site, db).await?;
    if !state.is_recovered() {
        return Err(Error::step(
            step,
            ctx.sql_name(site),
            Some(db),
            None,
            PlaneError::Unexpected(format!("{db} is {:?} after recovery", state.state)),
        ));
    }
    Ok(StepOutcome::Done {
        summary: format!("{db} online on {}", ctx.sql_name(site)),
    })
}
