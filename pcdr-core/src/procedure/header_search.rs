//! The header search: which log backups in the copy folder the backup database still
//! needs, found by reading as few `RESTORE HEADERONLY` results as possible.
//!
//! Log-shipping file names order the backups by time, so a probe of the file restored
//! last and a binary search find where the unapplied files start; the
//! [LSN rule](crate::log_chain) then decides from their headers. Names are only a hint:
//! when that reading shows a gap or a bad file, every header is read and that verdict
//! stands. This module reads; it never restores.

use super::{Context, StepId};
use crate::error::{Error, PlaneError, Result};
use crate::log_chain::{Candidate, Lsn, RestorePlan, plan_log_restores};
use crate::logship::join_path;
use crate::planes::{DatabaseState, FileEntry};
use crate::topology::SiteRole;
use std::collections::HashMap;

/// The last component of a Windows or Unix path.
pub fn file_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

/// The chat database's log backups in `folder`, with errors that name the step and the
/// folder.
pub async fn list_log_backups(ctx: &Context, step: StepId, folder: &str) -> Result<Vec<FileEntry>> {
    ctx.planes
        .files
        .list_log_backups(folder, ctx.chat_db())
        .await
        .map_err(|e| Error::step(step, folder, Some(ctx.chat_db()), None, e))
}

/// The copy folder's log backups as full paths, ordered by name (their backup time).
pub async fn sorted_files(ctx: &Context, step: StepId, folder: &str) -> Result<Vec<String>> {
    let mut files = list_log_backups(ctx, step, folder).await?;
    files.sort_by_key(|f| f.name.to_ascii_lowercase());
    Ok(files.iter().map(|f| join_path(folder, &f.name)).collect())
}

/// Reads one file's header; a file SQL Server cannot read carries why. A failure that
/// is not SQL Server's answer (the instance went away) stops the step.
pub async fn candidate(ctx: &Context, step: StepId, file: &str) -> Result<Candidate> {
    let header = match ctx.sql(SiteRole::Backup).backup_header(file).await {
        Ok(h) => Ok(h),
        Err(e @ PlaneError::Sql(_)) => Err(e.to_string()),
        Err(e) => {
            let target = ctx.sql_name(SiteRole::Backup);
            return Err(Error::step(step, target, None, Some(file), e));
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

/// The backup family every log backup restored into the backup database must share:
/// `sys.database_recovery_status` when it shows one, else the family of the backup set
/// msdb records as restored into it last. SQL Server shows no family for a database
/// that is not started ("NULL = … the database will not start",
/// sys.database_recovery_status (Transact-SQL)), which a log-shipping secondary in
/// RESTORING is; msdb keeps the family of every set restored (backupset
/// (Transact-SQL), `family_guid`). `None` only when neither knows it.
pub async fn database_family(
    ctx: &Context,
    step: StepId,
    state: &DatabaseState,
) -> Result<Option<String>> {
    if let Some(family) = &state.family_guid {
        return Ok(Some(family.clone()));
    }
    let db = ctx.chat_db();
    let restored = ctx
        .sql(SiteRole::Backup)
        .last_restored_backup(db)
        .await
        .map_err(|e| Error::step(step, ctx.sql_name(SiteRole::Backup), Some(db), None, e))?;
    Ok(restored.map(|backup| backup.family_guid))
}

/// Applies the LSN rule to `files` (ordered by name) reading few headers: the last
/// restored file and a binary search find where the unapplied files start, and headers
/// are read from the newest applied file on. If that reading shows a gap or a bad file,
/// every header is read and that verdict stands. No header is read twice. `family` is
/// the database's ([`database_family`]).
pub async fn restore_plan(
    ctx: &Context,
    step: StepId,
    family: Option<&str>,
    point: Lsn,
    files: &[String],
) -> Result<RestorePlan> {
    let db = ctx.chat_db();
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
