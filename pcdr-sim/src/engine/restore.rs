//! `RESTORE HEADERONLY | FILELISTONLY | VERIFYONLY` (reading backup files; the
//! result sets are `backup_header`'s) and
//! `RESTORE LOG | DATABASE` (changing databases through [`dbops`]), with the time a
//! restore takes at the configured throughput, INFO 4035/3014 on success, and the
//! specific error then 3013 on failure.
//!
//! Only one backup device per statement and backup set 1 are emulated; `STOPAT` and
//! `CONTINUE_AFTER_ERROR` are refused.

use chrono::{DateTime, Utc};

use crate::backup_file::BackupSet;
use crate::engine::backup_header::{file_list, header_only};
use crate::engine::exec::{Exec, done};
use crate::engine::failure::{Failure, in_transaction, not_emulated};
use crate::engine::scope::integer_of;
use crate::tds::{ServerMessage, StatementResult};
use crate::tsql::ast::{Operand, Restore, RestoreOption, RestoreTarget};
use crate::world::dbops::{self, Finish, FullRestore, SqlError, Usage};
use crate::world::model::{Database, Instance};

/// Runs a `RESTORE` statement.
pub(crate) async fn run(
    exec: &mut Exec<'_>,
    restore: &Restore,
) -> Result<Vec<StatementResult>, Failure> {
    let what = match &restore.target {
        RestoreTarget::Database(_) => "RESTORE DATABASE",
        RestoreTarget::Log(_) => "RESTORE LOG",
        RestoreTarget::HeaderOnly => "RESTORE HEADERONLY",
        RestoreTarget::FileListOnly => "RESTORE FILELIST",
        RestoreTarget::VerifyOnly => "VERIFY DATABASE",
    };
    dispatch(exec, restore)
        .await
        .map_err(|f| f.terminating(what))
}

async fn dispatch(exec: &mut Exec<'_>, restore: &Restore) -> Result<Vec<StatementResult>, Failure> {
    check_options(exec, &restore.options)?;
    let is_change = matches!(
        restore.target,
        RestoreTarget::Database(_) | RestoreTarget::Log(_)
    );
    if is_change && exec.in_transaction() {
        return Err(in_transaction());
    }
    match &restore.target {
        RestoreTarget::HeaderOnly => {
            let state = exec.state()?;
            let path = device(exec, &restore.from)?;
            let disks = exec.engine.world.disks(&state);
            let set = disks.read_header(exec.engine.instance, &path)?;
            Ok(vec![header_only(&set, &state.settings)])
        }
        RestoreTarget::FileListOnly => {
            let settings = exec.state()?.settings;
            Ok(vec![file_list(&read(exec, restore)?.0, &settings)])
        }
        RestoreTarget::VerifyOnly => {
            let (set, _, _) = read(exec, restore)?;
            require_checksums(&set, &restore.options)?;
            Ok(vec![
                StatementResult::Info(ServerMessage::new(
                    3262,
                    0,
                    "The backup set on file 1 is valid.",
                )),
                StatementResult::Done { rows: None },
            ])
        }
        RestoreTarget::Log(db) => restore_log(exec, db, restore).await,
        RestoreTarget::Database(db) if restore.from.is_empty() => recover(exec, db),
        RestoreTarget::Database(db) => restore_database(exec, db, restore).await,
    }
}

fn check_options(exec: &Exec<'_>, options: &[RestoreOption]) -> Result<(), Failure> {
    for option in options {
        match option {
            RestoreOption::StopAt(_) => return Err(not_emulated("RESTORE … WITH STOPAT")),
            RestoreOption::ContinueAfterError => {
                return Err(not_emulated("RESTORE … WITH CONTINUE_AFTER_ERROR"));
            }
            RestoreOption::File(n) => {
                let n = match n {
                    crate::tsql::ast::IntOperand::Literal(n) => i128::from(*n),
                    crate::tsql::ast::IntOperand::Variable(v) => {
                        integer_of(&exec.scope.get(v)?, "int")?.unwrap_or(0)
                    }
                };
                if n != 1 {
                    return Err(Failure::error(
                        4038,
                        format!("Cannot find file ID {n} on device."),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `WITH CHECKSUM` asks to verify the backup checksums, which only a backup taken
/// `WITH CHECKSUM` carries: 3187 otherwise ("RESTORE Statements - VERIFYONLY",
/// <https://learn.microsoft.com/en-us/sql/t-sql/statements/restore-statements-verifyonly-transact-sql>;
/// "BACKUP (Transact-SQL)", CHECKSUM:
/// <https://learn.microsoft.com/en-us/sql/t-sql/statements/backup-transact-sql>).
fn require_checksums(set: &BackupSet, options: &[RestoreOption]) -> Result<(), Failure> {
    if set.header.has_checksum || !options.contains(&RestoreOption::Checksum) {
        return Ok(());
    }
    Err(Failure::error(
        3187,
        "RESTORE WITH CHECKSUM cannot be specified because the backup set does not contain checksum information.",
    ))
}

/// The one device of the statement.
fn device(exec: &Exec<'_>, from: &[Operand]) -> Result<String, Failure> {
    match from {
        [one] => exec.operand(one),
        [] => Err(Failure::error(
            3201,
            "Cannot open backup device ''. Operating system error 2(The system cannot find the file specified.).",
        )),
        _ => Err(not_emulated("backups striped over several devices")),
    }
}

fn read(exec: &Exec<'_>, restore: &Restore) -> Result<(BackupSet, u64, String), Failure> {
    let path = device(exec, &restore.from)?;
    let state = exec.state()?;
    let (set, size) = exec
        .engine
        .world
        .disks(&state)
        .read(exec.engine.instance, &path)?;
    Ok((set, size, path))
}

fn finish(options: &[RestoreOption]) -> Finish {
    options
        .iter()
        .rev()
        .find_map(|o| match o {
            RestoreOption::Recovery => Some(Finish::Recovery),
            RestoreOption::NoRecovery => Some(Finish::NoRecovery),
            RestoreOption::Standby(_) => Some(Finish::Standby),
            _ => None,
        })
        .unwrap_or(Finish::Recovery)
}

/// Waits as long as moving `bytes` takes at the world's throughput.
pub(crate) async fn take_time(exec: &Exec<'_>, bytes: u64) -> Result<(), Failure> {
    if let Some(time) = exec.state()?.settings.transfer_time(bytes) {
        tokio::time::sleep(time).await;
    }
    Ok(())
}

/// INFO 4035 per file and 3014, then DONE, as a successful restore or backup reports.
pub(crate) fn processed(
    what: &str,
    database: &str,
    files: &[(String, u64)],
) -> Vec<StatementResult> {
    let mut results: Vec<StatementResult> = files
        .iter()
        .map(|(file, pages)| {
            StatementResult::Info(ServerMessage::new(
                4035,
                0,
                format!(
                    "Processed {pages} pages for database '{database}', file '{file}' on file 1."
                ),
            ))
        })
        .collect();
    let total: u64 = files.iter().map(|(_, p)| p).sum();
    results.push(StatementResult::Info(ServerMessage::new(
        3014,
        0,
        format!("{what} successfully processed {total} pages in 0.010 seconds (0.100 MB/sec)."),
    )));
    results.extend(done());
    results
}

fn pages(bytes: u64) -> u64 {
    bytes.div_ceil(8192)
}

/// Changes `database` on this instance in one world transaction: `change` gets the
/// instance, who else uses the database, and the world clock.
fn change_instance<T>(
    exec: &Exec<'_>,
    database: &str,
    change: impl FnOnce(&mut Instance, Usage, DateTime<Utc>) -> Result<T, SqlError>,
) -> Result<T, Failure> {
    let engine = exec.engine;
    let session = exec.session;
    let instance_id = engine.instance;
    let outcome = engine.world.try_update(|state| {
        let now = state.clock;
        let existing = state
            .instance(instance_id)
            .ok_or_else(|| SqlError::no_database(database))?;
        let usage = engine.usage(session, existing, database);
        let instance = state
            .instance_mut(instance_id)
            .ok_or_else(|| SqlError::no_database(database))?;
        change(instance, usage, now)
    })?;
    Ok(outcome?)
}

/// The database `name` of `instance`, mutably, or error 911.
fn database<'i>(instance: &'i mut Instance, name: &str) -> Result<&'i mut Database, SqlError> {
    instance
        .database_mut(name)
        .ok_or_else(|| SqlError::no_database(name))
}

async fn restore_log(
    exec: &mut Exec<'_>,
    db: &Operand,
    restore: &Restore,
) -> Result<Vec<StatementResult>, Failure> {
    let name = exec.operand(db)?;
    let (set, size, path) = read(exec, restore)?;
    take_time(exec, size).await?;
    let finish = finish(&restore.options);
    let name = change_instance(exec, &name, |instance, usage, now| {
        let database = database(instance, &name)?;
        dbops::restore_log(database, &set, &path, finish, usage)?;
        let restored = database.name.clone();
        instance
            .msdb
            .record_restore(&restored, 'L', (&path, &set.header), now);
        Ok(restored)
    })?;
    let log = set
        .files
        .iter()
        .find(|f| f.is_log)
        .map_or(format!("{name}_log"), |f| f.logical_name.clone());
    Ok(processed("RESTORE LOG", &name, &[(log, pages(size))]))
}

fn recover(exec: &mut Exec<'_>, db: &Operand) -> Result<Vec<StatementResult>, Failure> {
    let name = exec.operand(db)?;
    change_instance(exec, &name, |instance, usage, _| {
        dbops::recover(database(instance, &name)?, usage)
    })?;
    Ok(processed("RESTORE DATABASE", &name, &[]))
}

async fn restore_database(
    exec: &mut Exec<'_>,
    db: &Operand,
    restore: &Restore,
) -> Result<Vec<StatementResult>, Failure> {
    let name = exec.operand(db)?;
    let (set, size, path) = read(exec, restore)?;
    let mut moves = Vec::new();
    for option in &restore.options {
        if let RestoreOption::Move { logical, physical } = option {
            moves.push((exec.operand(logical)?, exec.operand(physical)?));
        }
    }
    let options = FullRestore {
        replace: restore.options.contains(&RestoreOption::Replace),
        finish: finish(&restore.options),
        moves,
    };
    take_time(exec, size).await?;
    let disks = exec.engine.world.disks(&exec.state()?);
    change_instance(exec, &name, |instance, usage, now| {
        dbops::restore_full(instance, &name, &set, &path, &options, usage)?;
        dbops::restore_data_file(instance, &name, &disks, &path)?;
        instance
            .msdb
            .record_restore(&name, 'D', (&path, &set.header), now);
        Ok(())
    })?;
    let files: Vec<(String, u64)> = set
        .files
        .iter()
        .map(|f| {
            (
                f.logical_name.clone(),
                if f.is_log { 1 } else { pages(size) },
            )
        })
        .collect();
    Ok(processed("RESTORE DATABASE", &name, &files))
}
