//! `BACKUP DATABASE | LOG db TO DISK = file WITH …`: a full or log backup of a database
//! into a backup file, taking the time its size costs at the configured throughput.
//! `INIT`/`NOINIT` both write a new file (one backup set per file is emulated);
//! `CHECKSUM` is recorded in the header, and so is `COPY_ONLY` (`IsCopyOnly`). A
//! copy-only log backup leaves the log archive point where it was, so the next regular
//! log backup starts where it would have ("Copy-only backups", Microsoft Learn:
//! <https://learn.microsoft.com/sql/relational-databases/backup-restore/copy-only-backups-sql-server>);
//! a copy-only full backup is not a differential base, which the emulator does not model.

use crate::engine::exec::Exec;
use crate::engine::failure::{Failure, in_transaction, not_emulated};
use crate::engine::restore::{processed, take_time};
use crate::tds::StatementResult;
use crate::tsql::ast::{Backup, BackupOption};
use crate::world::dbops::{self, SqlError};

/// Runs a `BACKUP` statement.
pub(crate) async fn run(
    exec: &mut Exec<'_>,
    backup: &Backup,
) -> Result<Vec<StatementResult>, Failure> {
    let what = if backup.log {
        "BACKUP LOG"
    } else {
        "BACKUP DATABASE"
    };
    take(exec, backup).await.map_err(|f| f.terminating(what))
}

async fn take(exec: &mut Exec<'_>, backup: &Backup) -> Result<Vec<StatementResult>, Failure> {
    if exec.in_transaction() {
        return Err(in_transaction());
    }
    if backup.options.contains(&BackupOption::NoRecovery) {
        return Err(not_emulated(
            "tail-log backups (BACKUP LOG … WITH NORECOVERY)",
        ));
    }
    let name = exec.operand(&backup.database)?;
    let path = match backup.to.as_slice() {
        [one] => exec.operand(one)?,
        _ => return Err(not_emulated("backups striped over several devices")),
    };
    let checksum = backup.options.contains(&BackupOption::Checksum);
    let copy_only = backup.options.contains(&BackupOption::CopyOnly);
    let estimate = {
        let state = exec.state()?;
        let db = exec
            .instance(&state)?
            .database(&name)
            .ok_or_else(|| SqlError::no_database(&name))?;
        dbops::check_backup(db, backup.log)?;
        dbops::backup_bytes(db)
    };
    take_time(exec, estimate).await?;
    let engine = exec.engine;
    let instance_id = engine.instance;
    let outcome = engine.world.try_update(|state| {
        let now = state.clock;
        let disks = engine.world.disks(state);
        let database = state
            .instance_mut(instance_id)
            .and_then(|i| i.database_mut(&name))
            .ok_or_else(|| SqlError::no_database(&name))?;
        dbops::check_backup(database, backup.log)?;
        let mut taken = database.clone();
        let mut set = if backup.log {
            dbops::take_log_backup(&mut taken, instance_id, now, checksum)
        } else {
            dbops::take_full_backup(&mut taken, instance_id, now, checksum)
        };
        if copy_only {
            set.header.is_copy_only = true;
            taken.log_backup_lsn = database.log_backup_lsn;
        }
        let size = disks.write(instance_id, &path, &set)?;
        *database = taken;
        Ok::<_, SqlError>((set, size))
    })?;
    let (set, size) = outcome?;
    let pages = size.div_ceil(8192);
    let files: Vec<(String, u64)> = set
        .files
        .iter()
        .filter(|f| f.is_log == backup.log || !backup.log)
        .map(|f| (f.logical_name.clone(), if f.is_log { 1 } else { pages }))
        .collect();
    let what = if backup.log {
        "BACKUP LOG"
    } else {
        "BACKUP DATABASE"
    };
    Ok(processed(what, &set.header.database_name, &files))
}
