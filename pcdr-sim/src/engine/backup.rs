//! `BACKUP DATABASE | LOG db TO DISK = file WITH …`: a full or log backup of a database
//! into a backup file, taking the time its size costs at the configured throughput.
//! `INIT`/`NOINIT` both write a new file (one backup set per file is emulated);
//! `CHECKSUM` is recorded in the header, and so is `COPY_ONLY` (`IsCopyOnly`). A
//! copy-only log backup leaves the log archive point where it was, so the next regular
//! log backup starts where it would have ("Copy-only backups", Microsoft Learn:
//! <https://learn.microsoft.com/sql/relational-databases/backup-restore/copy-only-backups-sql-server>);
//! a copy-only full backup is not a differential base, which the emulator does not model.
//! `BACKUP LOG … WITH NORECOVERY` is a tail-log backup: it needs the database to itself
//! and leaves it RESTORING (`dbops::take_tail_log_backup`); `NORECOVERY` on a full or a
//! copy-only backup is not emulated. Every backup taken adds its set to the instance's
//! msdb history (`backupset`, `backupmediafamily`: [`Msdb::record_backup`]).
//!
//! [`Msdb::record_backup`]: crate::world::msdb::Msdb::record_backup

use crate::engine::exec::Exec;
use crate::engine::failure::{Failure, in_transaction, not_emulated};
use crate::engine::instance::InstanceEngine;
use crate::engine::restore::{processed, take_time};
use crate::tds::{SessionInfo, StatementResult};
use crate::tsql::ast::{Backup, BackupOption};
use crate::world::dbops::{self, SqlError};
use crate::world::model::Instance;

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
    let tail = backup.options.contains(&BackupOption::NoRecovery);
    let copy_only = backup.options.contains(&BackupOption::CopyOnly);
    if tail && (!backup.log || copy_only) {
        return Err(not_emulated(
            "NORECOVERY other than on a tail-log backup (BACKUP LOG … WITH NORECOVERY, without COPY_ONLY)",
        ));
    }
    let name = exec.operand(&backup.database)?;
    let path = match backup.to.as_slice() {
        [one] => exec.operand(one)?,
        _ => return Err(not_emulated("backups striped over several devices")),
    };
    let checksum = backup.options.contains(&BackupOption::Checksum);
    let estimate = {
        let state = exec.state()?;
        let instance = exec.instance(&state)?;
        check(exec.engine, exec.session, instance, &name, backup.log, tail)?;
        instance.database(&name).map_or(0, dbops::backup_bytes)
    };
    take_time(exec, estimate).await?;
    let engine = exec.engine;
    let session = exec.session;
    let instance_id = engine.instance;
    let outcome = engine.world.try_update(|state| {
        let now = state.clock;
        let disks = engine.world.disks(state);
        let instance = state
            .instance(instance_id)
            .ok_or_else(|| SqlError::no_database(&name))?;
        check(engine, session, instance, &name, backup.log, tail)?;
        let database = state
            .instance_mut(instance_id)
            .and_then(|i| i.database_mut(&name))
            .ok_or_else(|| SqlError::no_database(&name))?;
        let mut taken = database.clone();
        let mut set = match (backup.log, tail) {
            (true, true) => dbops::take_tail_log_backup(&mut taken, instance_id, now, checksum),
            (true, false) => dbops::take_log_backup(&mut taken, instance_id, now, checksum),
            (false, _) => dbops::take_full_backup(&mut taken, instance_id, now, checksum),
        };
        if copy_only {
            set.header.is_copy_only = true;
            taken.log_backup_lsn = database.log_backup_lsn;
        }
        let size = disks.write(instance_id, &path, &set)?;
        *database = taken;
        if let Some(instance) = state.instance_mut(instance_id) {
            instance.msdb.record_backup(&path, &set.header);
        }
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

/// Checks that database `name` of `instance` can be backed up now by `session`: a
/// tail-log backup needs it to itself ([`dbops::check_tail_backup`]), any other backup
/// only in a state that allows one ([`dbops::check_backup`]).
fn check(
    engine: &InstanceEngine,
    session: &SessionInfo,
    instance: &Instance,
    name: &str,
    log: bool,
    tail: bool,
) -> Result<(), SqlError> {
    let db = instance
        .database(name)
        .ok_or_else(|| SqlError::no_database(name))?;
    if tail {
        dbops::check_tail_backup(db, engine.usage(session, instance, name))
    } else {
        dbops::check_backup(db, log)
    }
}
