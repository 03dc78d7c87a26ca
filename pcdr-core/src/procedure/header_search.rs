//! The header search: which log backups in the copy folder the backup database still
//! needs, found by reading as few `RESTORE HEADERONLY` results as possible.
//!
//! Log-shipping file names order the backups by time, so a probe of the file restored
//! last and a binary search find where the unapplied files start; the
//! [LSN rule](crate::log_chain) then decides from their headers. Names are only a hint:
//! when that reading shows a gap or a bad file, every header is read and that verdict
//! stands. It also finds the identity the chain must keep ([`database_identity`]: from
//! msdb, since a RESTORING secondary shows none), which damaged files msdb proves
//! applied, and names in warnings the files it does not use: misnamed ones, and those
//! that provably cannot matter. This module reads; it never restores.

use super::shared::{FolderViews, log_shipping_folders, precondition};
use super::{Context, StepId};
use crate::error::{Error, PlaneError, PreconditionKind, Result};
use crate::log_chain::{
    BackupHeader, Candidate, ChainError, ChainIdentity, Lsn, RestorePlan, plan_log_restores,
};
use crate::logship::join_path;
use crate::planes::{DatabaseState, FileEntry};
use std::collections::{HashMap, HashSet};

/// The last component of a Windows or Unix path.
pub fn file_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

/// The chat database's log backups in `folder`, with errors that name the step and the
/// folder. Files that look like its log backups but are not named as log shipping names
/// them are not read; each is named in a warning ([`Context::warn`]).
pub async fn list_log_backups(ctx: &Context, step: StepId, folder: &str) -> Result<Vec<FileEntry>> {
    let db = ctx.chat_db();
    let files = &ctx.planes.files;
    let in_folder = |e| Error::step(step, folder, Some(db), None, e);
    let listed = files
        .list_log_backups(folder, db)
        .await
        .map_err(in_folder)?;
    let misnamed = files
        .misnamed_log_backups(folder, db)
        .await
        .map_err(in_folder)?;
    for name in misnamed {
        ctx.warn(
            step,
            format!(
                "{} is not read: it looks like a log backup of {db} but is not named {db}_<yyyyMMddHHmmss>.trn; if it is one, rename it so and resume",
                join_path(folder, &name)
            ),
        );
    }
    Ok(listed)
}

/// The copy folder's log backups, listed through pcdr's path and named by the backup
/// instance's (the path its `RESTORE` opens), ordered by name (their backup time).
pub async fn sorted_files(
    ctx: &Context,
    step: StepId,
    folder: &FolderViews,
) -> Result<Vec<String>> {
    let mut files = list_log_backups(ctx, step, &folder.pcdr).await?;
    files.sort_by_key(|f| f.name.to_ascii_lowercase());
    Ok(files
        .iter()
        .map(|f| join_path(&folder.server, &f.name))
        .collect())
}

/// The SQL Server errors that mean it opened a backup file and found it damaged: 3203
/// (a read failed: the file ends early or fails its checksum) and 3241 (the media
/// family is incorrectly formed). Not 3201 (the file cannot be opened), which may be the
/// folder's path or rights, for every file alike: that is fixed, not worked around.
const DAMAGED: [u32; 2] = [3203, 3241];

/// SQL Server's "Cannot open backup device": the file is not where the path says, or the
/// service account may not read it.
const CANNOT_OPEN: u32 = 3201;

/// Reads the header of a file pcdr found in the copy folder, by the backup instance's
/// path to it; a file SQL Server finds damaged carries why. A file it cannot open at
/// all ([`CANNOT_OPEN`]) stops the step: pcdr sees the file, so the server's path
/// reaches another folder than pcdr's (or it may not read there), for every file alike
/// ([`unseen_in_copy_folder`]). A failure that is not SQL Server's answer (the instance
/// went away) stops the step too.
pub async fn candidate(ctx: &Context, step: StepId, file: &str) -> Result<Candidate> {
    Ok(read_header(ctx, step, file).await?.0)
}

/// As [`candidate`], also saying whether SQL Server found the file damaged ([`DAMAGED`]).
async fn read_header(ctx: &Context, step: StepId, file: &str) -> Result<(Candidate, bool)> {
    let (header, damaged) = match ctx.sql(ctx.restoring_site()).backup_header(file).await {
        Ok(h) => (Ok(h), false),
        Err(e) if e.sql_number() == Some(CANNOT_OPEN) => {
            return Err(unseen_in_copy_folder(ctx, step, file, &e));
        }
        Err(e @ PlaneError::Sql(_)) => {
            let damaged = e.sql_number().is_some_and(|n| DAMAGED.contains(&n));
            (Err(e.to_string()), damaged)
        }
        Err(e) => {
            let target = ctx.sql_name(ctx.restoring_site());
            return Err(Error::step(step, target, None, Some(file), e));
        }
    };
    let file = file.to_string();
    Ok((Candidate { file, header }, damaged))
}

/// The backup instance cannot open `file`, which pcdr found in the copy folder through
/// its own path: the error names both paths and the two settings that must reach one
/// folder.
fn unseen_in_copy_folder(ctx: &Context, step: StepId, file: &str, error: &PlaneError) -> Error {
    let copy = log_shipping_folders(ctx).copy;
    let server = ctx.sql_name(ctx.restoring_site());
    precondition(
        step,
        PreconditionKind::Topology,
        format!(
            "{server} cannot open {file}, although pcdr finds {} in {} ({error})",
            file_name(file),
            copy.pcdr
        ),
        format!(
            "set log_shipping.copy_destination to the copy folder as {server} names it \
             (msdb's backup_destination_directory; now {}) and \
             log_shipping.copy_destination_from_pcdr to the path through which pcdr reaches \
             that same folder, or let {server}'s service account read it; then resume",
            copy.server
        ),
    )
}

/// The headers of the copy folder's files, each read at most once.
struct Headers<'a> {
    ctx: &'a Context,
    step: StepId,
    files: &'a [String],
    read: HashMap<usize, Candidate>,
    /// The files SQL Server found damaged.
    damaged: HashSet<String>,
}

impl<'a> Headers<'a> {
    fn new(ctx: &'a Context, step: StepId, files: &'a [String]) -> Self {
        Self {
            ctx,
            step,
            files,
            read: HashMap::new(),
            damaged: HashSet::new(),
        }
    }

    async fn get(&mut self, index: usize) -> Result<Candidate> {
        if let Some(found) = self.read.get(&index) {
            return Ok(found.clone());
        }
        let (found, damaged) = read_header(self.ctx, self.step, &self.files[index]).await?;
        if damaged {
            self.damaged.insert(found.file.clone());
        }
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

/// The identity the backup database's log chain must keep ([`ChainIdentity`]): family,
/// recovery fork and base of the backup set msdb records as restored into it last (a
/// log-shipping secondary in RESTORING shows neither family nor fork in
/// `sys.database_recovery_status`: "NULL = … the database will not start",
/// sys.database_recovery_status (Transact-SQL); msdb keeps them for every set restored,
/// backupset (Transact-SQL)). Without restore history (msdb's history was purged), the
/// header of the file restored last. A family the catalog shows wins: when msdb's
/// differs, msdb describes an earlier database of that name and only the family holds.
pub async fn database_identity(
    ctx: &Context,
    step: StepId,
    state: &DatabaseState,
) -> Result<ChainIdentity> {
    let db = ctx.chat_db();
    let restored = ctx
        .sql(ctx.restoring_site())
        .last_restored_backup(db)
        .await
        .map_err(|e| Error::step(step, ctx.sql_name(ctx.restoring_site()), Some(db), None, e))?;
    let identity = match restored {
        Some(set) => ChainIdentity {
            family: Some(set.family_guid),
            fork: set.recovery_fork,
            base: set.database_backup_lsn,
        },
        None => {
            last_restored_header(ctx, step)
                .await?
                .map_or_else(ChainIdentity::default, |header| ChainIdentity {
                    family: Some(header.family_guid),
                    fork: header.recovery_fork,
                    base: header.database_backup_lsn,
                })
        }
    };
    Ok(match &state.family_guid {
        Some(shown)
            if identity
                .family
                .as_ref()
                .is_some_and(|f| f.eq_ignore_ascii_case(shown)) =>
        {
            identity
        }
        Some(shown) => ChainIdentity {
            family: Some(shown.clone()),
            ..ChainIdentity::default()
        },
        None => identity,
    })
}

/// The header of the file restored last: this run's (known), else the restore job's,
/// read again when it still can be.
async fn last_restored_header(ctx: &Context, step: StepId) -> Result<Option<BackupHeader>> {
    let facts = ctx.facts();
    if let Some(backup) = facts.last_applied {
        return Ok(Some(backup.header));
    }
    let Some(file) = facts.snapshot.and_then(|s| s.last_restored_file) else {
        return Ok(None);
    };
    // The restore job's file may be gone since (its retention deletes old files).
    match ctx.sql(ctx.restoring_site()).backup_header(&file).await {
        Ok(header) => Ok(Some(header)),
        Err(PlaneError::Sql(_)) => Ok(None),
        Err(e) => {
            let target = ctx.sql_name(ctx.restoring_site());
            Err(Error::step(step, target, None, Some(&file), e))
        }
    }
}

/// Drops from `candidates` each file SQL Server found `damaged` that msdb records as
/// restored into the database, ending at or before `point`: it was applied, so it
/// cannot matter. Returns what was dropped, as the reason it could not be used.
async fn drop_proven_applied(
    ctx: &Context,
    step: StepId,
    point: Lsn,
    candidates: &mut Vec<Candidate>,
    damaged: &HashSet<String>,
) -> Result<Vec<ChainError>> {
    let db = ctx.chat_db();
    let mut proven = Vec::new();
    let mut kept = Vec::with_capacity(candidates.len());
    for candidate in candidates.drain(..) {
        let reason = match &candidate.header {
            Err(reason) if damaged.contains(&candidate.file) => reason.clone(),
            _ => {
                kept.push(candidate);
                continue;
            }
        };
        let restored = ctx
            .sql(ctx.restoring_site())
            .restored_from_file(db, &candidate.file)
            .await
            .map_err(|e| {
                let target = ctx.sql_name(ctx.restoring_site());
                Error::step(step, target, Some(db), Some(&candidate.file), e)
            })?;
        if restored.is_some_and(|set| set.last_lsn <= point) {
            proven.push(ChainError::Damaged {
                file: candidate.file.clone(),
                reason,
            });
        } else {
            kept.push(candidate);
        }
    }
    *candidates = kept;
    Ok(proven)
}

/// Applies the LSN rule to `files` (ordered by name) reading few headers: the last
/// restored file and a binary search find where the unapplied files start, and headers
/// are read from the newest applied file on. If that reading shows a gap or a bad file,
/// every header is read and that verdict stands; a file SQL Server finds damaged then
/// counts as applied only when msdb records it restored ([`drop_proven_applied`]). No
/// header is read twice. `identity` is the database's ([`database_identity`]).
pub async fn restore_plan(
    ctx: &Context,
    step: StepId,
    identity: &ChainIdentity,
    point: Lsn,
    files: &[String],
) -> Result<RestorePlan> {
    let db = ctx.chat_db();
    let mut headers = Headers::new(ctx, step, files);
    let last_restored = last_restored_index(ctx, files);
    if let Some(start) = headers.first_unapplied(point, last_restored).await? {
        let quick = headers.range(start.saturating_sub(1)).await?;
        if let Ok(plan) = plan_log_restores(db, identity, point, &quick)
            && plan.gap.is_none()
        {
            warn_ignored(ctx, step, point, &plan);
            return Ok(plan);
        }
    }
    let mut all = headers.range(0).await?;
    let proven = drop_proven_applied(ctx, step, point, &mut all, &headers.damaged).await?;
    let mut plan =
        plan_log_restores(db, identity, point, &all).map_err(|source| Error::BadLogBackup {
            step,
            target: ctx.sql_name(ctx.restoring_site()),
            database: db.to_string(),
            source: Box::new(source),
        })?;
    plan.ignored.extend(proven);
    warn_ignored(ctx, step, point, &plan);
    Ok(plan)
}

/// Names each file the plan could not use but found irrelevant, and how it knows.
fn warn_ignored(ctx: &Context, step: StepId, point: Lsn, plan: &RestorePlan) {
    let db = ctx.chat_db();
    for why in &plan.ignored {
        let source = match why {
            ChainError::Damaged { .. } => format!("msdb records it restored into {db}, and"),
            _ => "its header shows that".to_string(),
        };
        ctx.warn(
            step,
            format!(
                "{why}; not used: {source} it ends at or before the restore point (LSN {point}), so {db} already holds every log record it could add"
            ),
        );
    }
}
