//! Failover: move the pool to the backup site when the primary site is lost.
//!
//! Steps, in order (see `DOMAIN.md`): check the sites, snapshot the log-shipping setup
//! (before step 1 deletes it), remove log shipping, copy uncopied log backups, apply
//! unapplied ones by the LSN rule, end sessions and recover, set the pool FailedOver,
//! mirror the new primary, and make the backup site's servers active.

use super::shared::{
    active_servers_for, db_state, existing_db, install_mirroring, kill_actions,
    log_shipping_folders, observe_active_servers, observe_mirroring, observe_pool_state,
    perform_all, perform_concurrently, perform_concurrently_reporting, perform_exclusive,
    precondition, set_active_servers, set_pool_state, sql_error,
};
use super::{Action, Context, Intent, StepId, StepOutcome};
use crate::error::{Error, PlaneError, Result};
use crate::log_chain::{Candidate, LogBackup, Lsn, RestorePlan, plan_log_restores};
use crate::logship::join_path;
use crate::planes::{DatabaseState, FileEntry, PoolState};
use crate::topology::SiteRole;
use std::collections::{HashMap, HashSet};

/// How many log backups are copied at once.
const COPY_PARALLELISM: usize = 4;

/// The failover steps, in order.
pub const STEPS: &[StepId] = &[
    StepId::CheckSites,
    StepId::SnapshotLogShipping,
    StepId::RemoveLogShipping,
    StepId::CopyLogBackups,
    StepId::ApplyUnappliedLogs,
    StepId::RecoverDatabase,
    StepId::SetPoolFailedOver,
    StepId::MirrorNewPrimary,
    StepId::ActivateBackupServers,
];

/// Runs every failover step in order, without a journal (see
/// [`runbook`](crate::runbook) for a resumable run).
pub async fn run(ctx: &Context) -> Result<Vec<(StepId, StepOutcome)>> {
    super::run_procedure(ctx, super::Procedure::Failover).await
}

/// Runs one failover step.
pub(super) async fn run_step(ctx: &Context, step: StepId) -> Result<StepOutcome> {
    match step {
        StepId::CheckSites => check_sites(ctx).await,
        StepId::SnapshotLogShipping => snapshot_log_shipping(ctx).await,
        StepId::RemoveLogShipping => remove_log_shipping(ctx).await,
        StepId::CopyLogBackups => copy_log_backups(ctx).await,
        StepId::ApplyUnappliedLogs => apply_unapplied_logs(ctx).await,
        StepId::RecoverDatabase => recover_database(ctx).await,
        StepId::SetPoolFailedOver => set_pool_failed_over(ctx).await,
        StepId::MirrorNewPrimary => mirror_new_primary(ctx).await,
        StepId::ActivateBackupServers => activate_backup_servers(ctx).await,
        other => Err(not_a_failover_step(other)),
    }
}

/// Observes what one failover step would do now.
pub(super) async fn observe(ctx: &Context, step: StepId) -> Result<Intent> {
    match step {
        StepId::CheckSites => observe_sites(ctx).await,
        StepId::SnapshotLogShipping => observe_snapshot(ctx).await,
        StepId::RemoveLogShipping => observe_log_shipping(ctx).await,
        StepId::CopyLogBackups => observe_copy(ctx).await,
        StepId::ApplyUnappliedLogs => observe_apply(ctx).await.map(|(intent, _)| intent),
        StepId::RecoverDatabase => observe_recover(ctx).await,
        StepId::SetPoolFailedOver => observe_pool(ctx).await,
        StepId::MirrorNewPrimary => observe_mirroring(ctx, step, SiteRole::Backup).await,
        StepId::ActivateBackupServers => observe_activation(ctx).await,
        other => Err(not_a_failover_step(other)),
    }
}

fn not_a_failover_step(step: StepId) -> Error {
    precondition(
        step,
        "this is not a failover step",
        "run it as part of failback",
    )
}

/// Whether a plane error means "nobody answered" rather than "answered with an error".
fn is_unanswered(error: &PlaneError) -> bool {
    matches!(
        error,
        PlaneError::Unreachable { .. }
            | PlaneError::ConnectionLost { .. }
            | PlaneError::Timeout { .. }
    )
}

async fn primary_site_answers(ctx: &Context) -> Option<String> {
    let db = ctx.chat_db();
    let mut probes = vec![(ctx.sql_name(SiteRole::Primary), ctx.planes.primary.clone())];
    if let (Some(plane), Some(mirror)) = (
        &ctx.planes.primary_mirror,
        &ctx.topology.sites.primary.mirror,
    ) {
        probes.push((mirror.display_name(), plane.clone()));
    }
    for (name, plane) in probes {
        match plane.database_state(db).await {
            Err(e) if is_unanswered(&e) => continue,
            _ => return Some(name),
        }
    }
    None
}

async fn observe_sites(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = StepId::CheckSites;
    let db = ctx.chat_db();
    let backup = existing_db(ctx, STEP, SiteRole::Backup, db).await?;
    if backup.is_recovered() {
        let pool = ctx.planes.pool.pool_state().await.ok();
        if pool == Some(PoolState::FailedOver) {
            return Err(precondition(
                STEP,
                format!(
                    "the pool is already failed over: {db} is online on {}",
                    ctx.sql_name(SiteRole::Backup)
                ),
                "nothing to do; to finish an interrupted failover, resume its journal or run its remaining steps",
            ));
        }
    }
    let mut intent = Intent::act(Vec::new());
    if let Some(answering) = primary_site_answers(ctx).await {
        if !ctx.options.allow_primary_reachable {
            return Err(precondition(
                STEP,
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
    let intent = observe_sites(ctx).await?;
    let _ = act_or_return!(ctx, StepId::CheckSites, intent);
    Ok(StepOutcome::Done {
        summary: "the backup site answers and the primary site is down".into(),
    })
}

async fn observe_snapshot(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = StepId::SnapshotLogShipping;
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
        Some(s) => Intent::act(Vec::new()).with_note(format!(
            "share {}, copy folder {}, last copied {}, last restored {}",
            s.backup_source_directory,
            s.backup_destination_directory,
            s.last_copied_file.as_deref().unwrap_or("none"),
            s.last_restored_file.as_deref().unwrap_or("none"),
        )),
    })
}

/// Step 0: records the log-shipping setup (share, copy folder, last copied file) in the
/// facts, because step 1 deletes it.
pub async fn snapshot_log_shipping(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = StepId::SnapshotLogShipping;
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
    const STEP: StepId = StepId::RemoveLogShipping;
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
            "the log-shipping setup has not been recorded, and removing it deletes the share and copy folder settings",
            "run snapshot_log_shipping first",
        ));
    }
    Ok(Intent::act(vec![Action::RemoveSecondaryLogShipping {
        database: db.to_string(),
    }]))
}

/// Step 1: removes log shipping from the backup database.
pub async fn remove_log_shipping(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = StepId::RemoveLogShipping;
    let actions = act_or_return!(ctx, STEP, observe_log_shipping(ctx).await?);
    perform_all(ctx, STEP, &actions).await?;
    if let Intent::Act { .. } = observe_log_shipping(ctx).await? {
        return Err(Error::step(
            STEP,
            ctx.sql_name(SiteRole::Backup),
            Some(ctx.chat_db()),
            None,
            PlaneError::Unexpected("log shipping is still configured after removing it".into()),
        ));
    }
    Ok(StepOutcome::Done {
        summary: "log shipping removed from the backup database".into(),
    })
}

async fn list(ctx: &Context, step: StepId, folder: &str) -> Result<Vec<FileEntry>> {
    ctx.planes
        .files
        .list_log_backups(folder, ctx.chat_db())
        .await
        .map_err(|e| Error::step(step, folder, Some(ctx.chat_db()), None, e))
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
/// than the copy job's last copied file.
fn uncopied(
    share: &[FileEntry],
    copied: &[FileEntry],
    last_copied: Option<&str>,
) -> Vec<FileEntry> {
    let copied = by_name_and_size(copied);
    let mut files: Vec<FileEntry> = share
        .iter()
        .filter(|f| !holds(&copied, &f.name, f.size))
        .filter(|f| {
            last_copied.is_none_or(|last| {
                f.name.to_ascii_lowercase() > file_name(last).to_ascii_lowercase()
            })
        })
        .cloned()
        .collect();
    files.sort_by_key(|f| f.name.to_ascii_lowercase());
    files
}

fn file_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

async fn observe_copy(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = StepId::CopyLogBackups;
    let (share, destination) = log_shipping_folders(ctx);
    let on_share = match list(ctx, STEP, &share).await {
        Err(e) if ctx.options.accept_data_loss => {
            return Ok(Intent::Skip(format!(
                "the share {share} cannot be read ({e}); continuing with the files already copied, as data loss was accepted"
            )));
        }
        other => other?,
    };
    let copied = list(ctx, STEP, &destination).await?;
    let last_copied = ctx.facts().snapshot.and_then(|s| s.last_copied_file);
    let todo = uncopied(&on_share, &copied, last_copied.as_deref());
    if todo.is_empty() {
        return Ok(Intent::Skip(format!(
            "every log backup on {share} is already in {destination}"
        )));
    }
    let needed: u64 = todo.iter().map(|f| f.size).sum();
    let free = ctx
        .planes
        .files
        .free_space(&destination)
        .await
        .map_err(|e| Error::step(STEP, destination.as_str(), None, None, e))?;
    if free < needed {
        return Err(Error::step(
            STEP,
            destination.as_str(),
            Some(ctx.chat_db()),
            None,
            PlaneError::Io {
                path: destination.clone(),
                message: format!("the copy folder is full: {needed} bytes to copy, {free} free"),
            },
        ));
    }
    let actions = todo
        .into_iter()
        .map(|f| Action::CopyFile {
            from: share.clone(),
            to: destination.clone(),
            name: f.name,
            bytes: f.size,
        })
        .collect();
    Ok(Intent::act(actions))
}

/// Step 2: copies uncopied log backups from the share to the copy folder.
///
/// Pipelined unless [`RunOptions::sequential_restore`](super::RunOptions): while later
/// files are still being copied, each log backup in the copy folder that is next in the
/// chain is restored as soon as it is there, strictly in LSN order, exactly as the apply
/// step would (same actions, same facts). Whatever the pipeline leaves (a gap, a file it
/// cannot read, a file that did not land) is left to the apply step, which observes the
/// database's restore point and restores the rest, so a resumed run is safe either way.
pub async fn copy_log_backups(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = StepId::CopyLogBackups;
    let actions = act_or_return!(ctx, STEP, observe_copy(ctx).await?);
    let pipeline = if ctx.options.sequential_restore {
        None
    } else {
        Pipeline::start(ctx, STEP, &actions).await
    };
    let restored = match pipeline {
        None => {
            perform_concurrently(ctx, STEP, &actions, COPY_PARALLELISM).await?;
            0
        }
        Some(pipeline) => {
            let (landed, arrivals) = tokio::sync::mpsc::unbounded_channel();
            let report = move |action: &Action| {
                if let Action::CopyFile { name, .. } = action {
                    // The restorer may have stopped listening; the copy goes on.
                    let _ = landed.send(name.to_ascii_lowercase());
                }
            };
            let (copied, restored) = futures_util::future::join(
                {
                    let actions = &actions;
                    // Owns the sender: the restorer hears the end of the copies.
                    async move {
                        perform_concurrently_reporting(
                            ctx,
                            STEP,
                            actions,
                            COPY_PARALLELISM,
                            &report,
                        )
                        .await
                    }
                },
                pipeline.restore_as_copied(ctx, STEP, arrivals),
            )
            .await;
            // A restore that failed is the more specific cause: report it first.
            let restored = restored?;
            copied?;
            restored
        }
    };
    let (_, destination) = log_shipping_folders(ctx);
    let copied = by_name_and_size(&list(ctx, STEP, &destination).await?);
    let mut bytes = 0;
    for action in &actions {
        if let Action::CopyFile {
            name, bytes: size, ..
        } = action
        {
            if !holds(&copied, name, *size) {
                return Err(Error::step(
                    STEP,
                    destination.as_str(),
                    None,
                    Some(name),
                    PlaneError::Unexpected(
                        "the copied file is missing or has the wrong size".into(),
                    ),
                ));
            }
            bytes += size;
        }
    }
    Ok(StepOutcome::Done {
        summary: if restored == 0 {
            format!("{} log backups copied ({bytes} bytes)", actions.len())
        } else {
            format!(
                "{} log backups copied ({bytes} bytes); {restored} restored as they landed",
                actions.len()
            )
        },
    })
}

/// The restoring half of the pipelined copy step: the chain as it stands before the
/// copies start, and how to go on from there.
struct Pipeline {
    /// The copy folder.
    folder: String,
    /// The database's family, which every restored backup must share.
    family: Option<String>,
    /// Whether readers of a standby database must be ended before the first restore.
    standby: bool,
    /// Log backups already in the copy folder that continue the chain, in order.
    ready: Vec<LogBackup>,
    /// The restore point once `ready` is restored.
    point: Lsn,
    /// The files being copied, ordered by name (their backup time): lower case, as is.
    coming: Vec<(String, String)>,
}

impl Pipeline {
    /// Observes the database and the copy folder as the apply step does. `None` (copy
    /// only, as in the sequential order) when the database takes no log backups, or
    /// the chain in the copy folder has a gap or a file SQL Server cannot read: the
    /// apply step decides those, as it must anyway.
    async fn start(ctx: &Context, step: StepId, actions: &[Action]) -> Option<Pipeline> {
        let db = ctx.chat_db();
        let state = db_state(ctx, step, SiteRole::Backup, db).await.ok()??;
        if state.is_recovered() || !state.accepts_logs() {
            return None;
        }
        let point = ctx.sql(SiteRole::Backup).redo_start_lsn(db).await.ok()??;
        let mut coming: Vec<(String, String)> = actions
            .iter()
            .filter_map(|a| match a {
                Action::CopyFile { name, .. } => Some((name.to_ascii_lowercase(), name.clone())),
                _ => None,
            })
            .collect();
        coming.sort();
        let (_, folder) = log_shipping_folders(ctx);
        // A file about to be copied again (another size) is not read before it lands.
        let files: Vec<String> = sorted_files(ctx, step, &folder)
            .await
            .ok()?
            .into_iter()
            .filter(|f| {
                let name = file_name(f).to_ascii_lowercase();
                coming.binary_search_by(|(c, _)| c.cmp(&name)).is_err()
            })
            .collect();
        let plan = restore_plan(ctx, step, &state, point, &files).await.ok()?;
        if plan.gap.is_some() {
            return None;
        }
        Some(Pipeline {
            folder,
            family: state.family_guid.clone(),
            standby: state.in_standby,
            point: plan.to_restore.last().map_or(point, |b| b.header.last_lsn),
            ready: plan.to_restore,
            coming,
        })
    }

    /// Restores `ready`, then each copied file in name order as soon as it has landed
    /// (its name arrives on `landed`) while it continues the chain. Stops quietly at
    /// the first file that does not land, cannot be read or does not continue the
    /// chain; returns how many log backups it restored.
    async fn restore_as_copied(
        self,
        ctx: &Context,
        step: StepId,
        mut landed: tokio::sync::mpsc::UnboundedReceiver<String>,
    ) -> Result<usize> {
        let db = ctx.chat_db();
        // A standby copy's readers are ended before the first restore, as the apply
        // step does (SQL Server refuses the restore with 3101 otherwise).
        let mut standby = self.standby;
        let mut restored = 0;
        let mut restore = async |backup: LogBackup| -> Result<()> {
            let mut actions = if std::mem::take(&mut standby) {
                kill_actions(ctx, step, SiteRole::Backup, db).await?
            } else {
                Vec::new()
            };
            actions.push(Action::RestoreLog {
                database: db.to_string(),
                backup,
            });
            perform_exclusive(ctx, step, SiteRole::Backup, db, &actions).await
        };
        for backup in self.ready {
            restore(backup).await?;
            restored += 1;
        }
        let mut point = self.point;
        let mut arrived = HashSet::new();
        for (name, file) in &self.coming {
            while !arrived.contains(name) {
                match landed.recv().await {
                    Some(file) => {
                        arrived.insert(file);
                    }
                    None => return Ok(restored),
                }
            }
            let found = candidate(ctx, step, &join_path(&self.folder, file)).await?;
            let Ok(plan) = plan_log_restores(db, self.family.as_deref(), point, &[found]) else {
                return Ok(restored);
            };
            match plan.to_restore.into_iter().next() {
                Some(backup) => {
                    point = backup.header.last_lsn;
                    restore(backup).await?;
                    restored += 1;
                }
                None if plan.gap.is_none() => continue,
                None => return Ok(restored),
            }
        }
        Ok(restored)
    }
}

/// The copy folder's log backups as full paths, ordered by name (their backup time).
async fn sorted_files(ctx: &Context, step: StepId, folder: &str) -> Result<Vec<String>> {
    let mut files = list(ctx, step, folder).await?;
    files.sort_by_key(|f| f.name.to_ascii_lowercase());
    Ok(files.iter().map(|f| join_path(folder, &f.name)).collect())
}

/// Reads one file's header; a file SQL Server cannot read carries why.
async fn candidate(ctx: &Context, step: StepId, file: &str) -> Result<Candidate> {
    let header = match ctx.sql(SiteRole::Backup).backup_header(file).await {
        Ok(h) => Ok(h),
        Err(e @ PlaneError::Sql(_)) => Err(e.to_string()),
        Err(e) => {
            return Err(Error::step(
                step,
                ctx.sql_name(SiteRole::Backup),
                None,
                Some(file),
                e,
            ));
        }
    };
    Ok(Candidate {
        file: file.to_string(),
        header,
    })
}

/// The headers of the copy folder's files, each read at most once.
struct Headers<'a> {
    ctx: &'a Context,
    step: StepId,
    files: &'a [String],
    read: HashMap<usize, Candidate>,
}

impl<'a> Headers<'a> {
    fn new(ctx: &'a Context, step: StepId, files: &'a [String]) -> Self {
        Self {
            ctx,
            step,
            files,
            read: HashMap::new(),
        }
    }

    async fn get(&mut self, index: usize) -> Result<Candidate> {
        if let Some(found) = self.read.get(&index) {
            return Ok(found.clone());
        }
        let found = candidate(self.ctx, self.step, &self.files[index]).await?;
        self.read.insert(index, found.clone());
        Ok(found)
    }

    async fn range(&mut self, from: usize) -> Result<Vec<Candidate>> {
        let mut found = Vec::with_capacity(self.files.len() - from);
        for index in from..self.files.len() {
            found.push(self.get(index).await?);
        }
        Ok(found)
    }

    /// Whether the database holds the log records of the file at `index`; `None` when
    /// its header cannot be read.
    async fn is_applied(&mut self, index: usize, point: Lsn) -> Result<Option<bool>> {
        Ok(self
            .get(index)
            .await?
            .header
            .ok()
            .map(|header| header.last_lsn <= point))
    }

    /// The index of the first file (by name) whose log records the database does not
    /// hold yet; `None` when a header on the way cannot be read. The file restored last
    /// (`last_restored`, see [`last_restored_index`]) and the one after it are probed
    /// first: when that is current they settle it in two reads. A binary search over
    /// what remains settles the rest.
    async fn first_unapplied(
        &mut self,
        point: Lsn,
        last_restored: Option<usize>,
    ) -> Result<Option<usize>> {
        let (mut low, mut high) = (0, self.files.len());
        if let Some(hint) = last_restored {
            for probe in [hint, hint + 1].into_iter().filter(|p| *p < high) {
                match self.is_applied(probe, point).await? {
                    None => return Ok(None),
                    Some(true) => low = probe + 1,
                    Some(false) => {
                        high = probe;
                        break;
                    }
                }
            }
        }
        while low < high {
            let middle = low + (high - low) / 2;
            match self.is_applied(middle, point).await? {
                None => return Ok(None),
                Some(true) => low = middle + 1,
                Some(false) => high = middle,
            }
        }
        Ok(Some(low))
    }
}

/// Where the last restored file sits among `files`, if it is there: the newest this run
/// restored or found applied (after the pipelined copy step, or on resume), else the
/// restore job's last one, from the snapshot.
fn last_restored_index(ctx: &Context, files: &[String]) -> Option<usize> {
    let facts = ctx.facts();
    let last = match facts.last_applied {
        Some(backup) => backup.file,
        None => facts.snapshot?.last_restored_file?,
    };
    let last = file_name(&last);
    files
        .iter()
        .position(|f| file_name(f).eq_ignore_ascii_case(last))
}

/// Applies the LSN rule reading few headers: the last restored file and a binary search
/// find where the unapplied files start (names order them by backup time), and headers
/// are read from the newest applied file on. Names are only a hint: if that reading
/// shows a gap or a bad file, every header is read and that verdict stands. No header
/// is read twice.
async fn restore_plan(
    ctx: &Context,
    step: StepId,
    state: &DatabaseState,
    point: Lsn,
    files: &[String],
) -> Result<RestorePlan> {
    let db = ctx.chat_db();
    let family = state.family_guid.as_deref();
    let mut headers = Headers::new(ctx, step, files);
    let last_restored = last_restored_index(ctx, files);
    if let Some(start) = headers.first_unapplied(point, last_restored).await? {
        let quick = headers.range(start.saturating_sub(1)).await?;
        if let Ok(plan) = plan_log_restores(db, family, point, &quick)
            && plan.gap.is_none()
        {
            return Ok(plan);
        }
    }
    let all = headers.range(0).await?;
    plan_log_restores(db, family, point, &all).map_err(|source| Error::BadLogBackup {
        step,
        target: ctx.sql_name(SiteRole::Backup),
        database: db.to_string(),
        source: Box::new(source),
    })
}

/// Observes the log chain. Returns the intent and the restore plan behind it.
async fn observe_apply(ctx: &Context) -> Result<(Intent, RestorePlan)> {
    const STEP: StepId = StepId::ApplyUnappliedLogs;
    let db = ctx.chat_db();
    let state = existing_db(ctx, STEP, SiteRole::Backup, db).await?;
    if state.is_recovered() {
        return Ok((
            Intent::Skip(format!("{db} is already recovered")),
            RestorePlan::default(),
        ));
    }
    if !state.accepts_logs() {
        return Err(precondition(
            STEP,
            format!("{db} is {:?}, so no log backup can be applied", state.state),
            "check the database in SQL Server Management Studio",
        ));
    }
    let point = ctx
        .sql(SiteRole::Backup)
        .redo_start_lsn(db)
        .await
        .map_err(sql_error(ctx, STEP, SiteRole::Backup, Some(db)))?
        .ok_or_else(|| {
            precondition(
                STEP,
                format!("{db} reports no restore point"),
                "check the database state",
            )
        })?;
    let (_, folder) = log_shipping_folders(ctx);
    let files = sorted_files(ctx, STEP, &folder).await?;
    let plan = restore_plan(ctx, STEP, &state, point, &files).await?;
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
    let intent = if plan.to_restore.is_empty() {
        Intent::Skip(match &plan.gap {
            Some(gap) => format!("nothing more can be applied (data loss accepted): {gap}"),
            None => format!(
                "every log backup in {folder} is already applied (restore point LSN {point})"
            ),
        })
    } else {
        // A log restore needs the database to itself: the readers of a standby copy
        // are ended first (SQL Server refuses the restore with 3101 otherwise).
        let mut actions = if state.in_standby {
            kill_actions(ctx, STEP, SiteRole::Backup, db).await?
        } else {
            Vec::new()
        };
        actions.extend(plan.to_restore.iter().map(|backup| Action::RestoreLog {
            database: db.to_string(),
            backup: backup.clone(),
        }));
        let intent = Intent::act(actions);
        match &plan.gap {
            Some(gap) => intent.with_note(format!("data loss accepted: {gap}")),
            None => intent,
        }
    };
    Ok((intent, plan))
}

/// Records the newest backup the database already holds, as data-loss evidence, when
/// this run has not restored one itself.
fn record_already_applied(ctx: &Context, plan: &RestorePlan) {
    if let Some(newest) = plan.newest_applied().filter(|_| plan.to_restore.is_empty()) {
        ctx.update_facts(|f| {
            if f.last_applied.is_none() {
                f.last_applied = Some(newest.clone());
                f.restore_point = Some(newest.header.last_lsn);
            }
        });
    }
}

/// Ends the sessions first, then restores each log backup with the database to itself:
/// when a session took it in between (3101), sessions are ended again and the restore
/// retried, as recovery does.
async fn perform_restores(ctx: &Context, step: StepId, actions: &[Action]) -> Result<()> {
    let (kills, restores): (Vec<Action>, Vec<Action>) = actions
        .iter()
        .cloned()
        .partition(|a| matches!(a, Action::KillSession { .. }));
    perform_all(ctx, step, &kills).await?;
    for restore in &restores {
        let restore = std::slice::from_ref(restore);
        perform_exclusive(ctx, step, SiteRole::Backup, ctx.chat_db(), restore).await?;
    }
    Ok(())
}

/// Step 3: restores the unapplied log backups in LSN order; stops at a gap unless the
/// operator accepted data loss.
pub async fn apply_unapplied_logs(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = StepId::ApplyUnappliedLogs;
    let (intent, plan) = observe_apply(ctx).await?;
    record_already_applied(ctx, &plan);
    if let Some(gap) = &plan.gap {
        ctx.update_facts(|f| f.accepted_gap = Some(gap.clone()));
    }
    let actions = act_or_return!(ctx, STEP, intent);
    perform_restores(ctx, STEP, &actions).await?;
    let db = ctx.chat_db();
    let point = ctx
        .sql(SiteRole::Backup)
        .redo_start_lsn(db)
        .await
        .map_err(sql_error(ctx, STEP, SiteRole::Backup, Some(db)))?;
    let expected = plan.to_restore.last().map(|b| b.header.last_lsn);
    if expected.is_some() && point != expected {
        return Err(Error::step(
            STEP,
            ctx.sql_name(SiteRole::Backup),
            Some(db),
            None,
            PlaneError::Unexpected(format!(
                "the restore point is {} after the restores, expected {}",
                point
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "unknown".into()),
                expected.map(|p| p.to_string()).unwrap_or_default()
            )),
        ));
    }
    Ok(StepOutcome::Done {
        summary: format!(
            "{} log backups restored{}",
            plan.to_restore.len(),
            if plan.gap.is_some() {
                " up to a gap (data loss accepted)"
            } else {
                ""
            }
        ),
    })
}

async fn observe_recover(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = StepId::RecoverDatabase;
    let db = ctx.chat_db();
    let state = existing_db(ctx, STEP, SiteRole::Backup, db).await?;
    if state.is_recovered() {
        return Ok(Intent::Skip(format!("{db} is already online")));
    }
    let mut actions = kill_actions(ctx, STEP, SiteRole::Backup, db).await?;
    actions.push(Action::Recover {
        site: SiteRole::Backup,
        database: db.to_string(),
    });
    Ok(Intent::act(actions))
}

/// Step 4: ends the sessions on the backup database and recovers it.
pub async fn recover_database(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = StepId::RecoverDatabase;
    let actions = act_or_return!(ctx, STEP, observe_recover(ctx).await?);
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
        summary: format!(
            "{db} online on {} ({} sessions ended)",
            ctx.sql_name(SiteRole::Backup),
            actions.len() - 1
        ),
    })
}

async fn require_recovered(ctx: &Context, step: StepId, site: SiteRole) -> Result<()> {
    let db = ctx.chat_db();
    match db_state(ctx, step, site, db).await? {
        Some(state) if state.is_recovered() => Ok(()),
        _ => Err(precondition(
            step,
            format!("{db} on {} is not online", ctx.sql_name(site)),
            "bring it online first (the previous steps of this procedure)",
        )),
    }
}

async fn observe_pool(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = StepId::SetPoolFailedOver;
    let intent = observe_pool_state(ctx, STEP, PoolState::FailedOver).await?;
    if let Intent::Act { .. } = intent {
        require_recovered(ctx, STEP, SiteRole::Backup).await?;
    }
    Ok(intent)
}

/// Step 5: points the pool at the backup database.
pub async fn set_pool_failed_over(ctx: &Context) -> Result<StepOutcome> {
    let intent = observe_pool(ctx).await?;
    set_pool_state(
        ctx,
        StepId::SetPoolFailedOver,
        intent,
        PoolState::FailedOver,
    )
    .await
}

/// Step 6: mirrors the new primary database to the backup site's mirror instance.
pub async fn mirror_new_primary(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = StepId::MirrorNewPrimary;
    let intent = observe_mirroring(ctx, STEP, SiteRole::Backup).await?;
    install_mirroring(ctx, STEP, SiteRole::Backup, intent).await
}

async fn observe_activation(ctx: &Context) -> Result<Intent> {
    const STEP: StepId = StepId::ActivateBackupServers;
    let wanted = active_servers_for(ctx, STEP, SiteRole::Backup)?;
    let intent = observe_active_servers(ctx, STEP, wanted).await?;
    if let Intent::Act { .. } = intent {
        require_recovered(ctx, STEP, SiteRole::Backup).await?;
    }
    Ok(intent)
}

/// Step 7: makes the backup site's chat servers (at most four) the active servers.
pub async fn activate_backup_servers(ctx: &Context) -> Result<StepOutcome> {
    const STEP: StepId = StepId::ActivateBackupServers;
    let wanted = active_servers_for(ctx, STEP, SiteRole::Backup)?;
    let intent = observe_activation(ctx).await?;
    set_active_servers(ctx, STEP, intent, &wanted).await
}
