//! The database-plane suite: the behaviour of [`DatabasePlane`] the procedures rely on,
//! run against any SQL Server — the emulator (pcdr-sim) and a real instance alike.
//!
//! Each check builds what it needs on a throwaway database it is given (which must be
//! ONLINE, in the FULL recovery model, and may be backed up, restored from and written
//! to) and a folder the instance can write backups to. What the plane does not offer —
//! `BACKUP LOG`, writing to the database so its log grows, a second session, dropping
//! the copies a check restores — comes from an [`Admin`] the test harness provides;
//! [`TdsAdmin`] is one over its own tiberius connections. Copies are restored under
//! names made from the throwaway database's ([`copy_names`]), and dropped again. The
//! checks are listed in [the module above](super).

use super::{CheckFailed, CheckResult, During, ensure, stamp};
use crate::error::PlaneResult;
use crate::log_chain::{BackupHeader, BackupType, Lsn};
use crate::logship::join_path;
use crate::planes::{
    DatabasePlane, DatabaseState, DbState, FileKind, FileMove, FullRestore, RunLock,
    RunLockAttempt, SessionId,
};
use crate::quote::quote_sql_name;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::fmt;
use std::future::Future;
use std::time::Duration;
use tiberius::{Client, Config, SqlBrowser};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

/// What the checks need beyond the plane, provided by the test harness.
#[async_trait]
pub trait Admin: Send + Sync {
    /// `BACKUP LOG database TO DISK = file WITH INIT, CHECKSUM`.
    async fn backup_log(&self, database: &str, file: &str) -> Result<(), String>;
    /// Writes to `database`, so the next log backup holds log records.
    async fn log_activity(&self, database: &str) -> Result<(), String>;
    /// Opens another session whose current database is `database`, open until dropped.
    async fn open_session(&self, database: &str) -> Result<Box<dyn Session>, String>;
    /// Drops a database a check created, if it exists (a no-op where the server cannot).
    async fn drop_database(&self, database: &str) -> Result<(), String>;
}

/// A session opened by [`Admin::open_session`].
#[async_trait]
pub trait Session: Send {
    /// Its session id (`@@SPID`).
    fn id(&self) -> SessionId;
    /// Runs a trivial query on it: fails once the session was killed.
    async fn ping(&mut self) -> Result<(), String>;
}

/// Every check, by name, in the order [`run_all`] runs them.
pub const CHECKS: [&str; 8] = [
    "full_backup_and_verify",
    "backup_header",
    "log_restores_in_order",
    "chain_errors",
    "sessions_and_kill",
    "recovery",
    "mirroring_removal",
    "run_lock",
];

/// The names of the copies the checks restore from `database` (drop them to clean up
/// after a check that failed half-way).
pub fn copy_names(database: &str) -> Vec<String> {
    ["in_order", "chain", "recovery", "unmirrored"]
        .iter()
        .map(|label| copy_name(database, label))
        .collect()
}

fn copy_name(database: &str, label: &str) -> String {
    format!("{database}_pcdr_{label}")
}

/// Runs every check in order; each result is named. `mirroring_removal` runs last
/// because it may end the mirroring of `database` itself.
pub async fn run_all(
    plane: &dyn DatabasePlane,
    admin: &dyn Admin,
    database: &str,
    folder: &str,
) -> Vec<(&'static str, CheckResult)> {
    vec![
        (
            CHECKS[0],
            full_backup_and_verify(plane, database, folder)
                .await
                .map(|_| ()),
        ),
        (
            CHECKS[1],
            backup_header(plane, admin, database, folder).await,
        ),
        (
            CHECKS[2],
            log_restores_in_order(plane, admin, database, folder).await,
        ),
        (
            CHECKS[3],
            chain_errors(plane, admin, database, folder).await,
        ),
        (CHECKS[4], sessions_and_kill(plane, admin, database).await),
        (CHECKS[5], recovery(plane, admin, database, folder).await),
        (
            CHECKS[6],
            mirroring_removal(plane, admin, database, folder).await,
        ),
        (CHECKS[7], run_lock(plane, database).await),
    ]
}

/// Expects SQL Server error `number` from a call that must fail.
fn expect_error<T: fmt::Debug>(
    check: &'static str,
    what: &str,
    number: u32,
    result: PlaneResult<T>,
) -> CheckResult {
    match result {
        Err(e) if e.sql_number() == Some(number) => Ok(()),
        Err(e) => Err(CheckFailed {
            check,
            message: format!("{what}: expected error {number}, got {e}"),
        }),
        Ok(value) => Err(CheckFailed {
            check,
            message: format!("{what}: expected error {number}, but it succeeded ({value:?})"),
        }),
    }
}

async fn state_of(
    check: &'static str,
    plane: &dyn DatabasePlane,
    database: &str,
) -> CheckResult<DatabaseState> {
    plane
        .database_state(database)
        .await
        .during(check, format!("state of {database}"))?
        .ok_or_else(|| CheckFailed {
            check,
            message: format!("database {database} does not exist"),
        })
}

async fn redo_point(
    check: &'static str,
    plane: &dyn DatabasePlane,
    database: &str,
) -> CheckResult<Option<Lsn>> {
    plane
        .redo_start_lsn(database)
        .await
        .during(check, format!("redo_start_lsn of {database}"))
}

/// A full backup and the log backups after it, with their headers.
struct Chain {
    full: String,
    logs: Vec<(String, BackupHeader)>,
}

async fn full_backup(
    check: &'static str,
    plane: &dyn DatabasePlane,
    database: &str,
    folder: &str,
    label: &str,
) -> CheckResult<String> {
    let file = join_path(folder, &format!("{database}_{label}_{}.bak", stamp()));
    plane
        .backup_database(database, &file, false)
        .await
        .during(check, format!("BACKUP DATABASE {database} TO {file}"))?;
    Ok(file)
}

/// Takes a full backup of `database`, then `logs` log backups, each after some writes.
async fn chain(
    check: &'static str,
    plane: &dyn DatabasePlane,
    admin: &dyn Admin,
    database: &str,
    folder: &str,
    logs: usize,
) -> CheckResult<Chain> {
    let full = full_backup(check, plane, database, folder, check).await?;
    let mut chain = Chain {
        full,
        logs: Vec::new(),
    };
    for n in 1..=logs {
        admin
            .log_activity(database)
            .await
            .during(check, format!("writing to {database}"))?;
        let file = join_path(folder, &format!("{database}_{check}_{n}_{}.trn", stamp()));
        admin
            .backup_log(database, &file)
            .await
            .during(check, format!("BACKUP LOG {database} TO {file}"))?;
        let header = plane
            .backup_header(&file)
            .await
            .during(check, format!("RESTORE HEADERONLY of {file}"))?;
        chain.logs.push((file, header));
    }
    Ok(chain)
}

/// Where each file of `database`'s backup goes for a copy named `copy`: next to the
/// original, under the copy's name.
fn copy_moves(copy: &str, files: &[crate::planes::DatabaseFile]) -> Vec<FileMove> {
    files
        .iter()
        .enumerate()
        .map(|(n, file)| {
            let path = &file.physical_name;
            let cut = path.rfind(['\\', '/']).map_or(0, |i| i + 1);
            let (folder, name) = path.split_at(cut);
            let extension = name.rfind('.').map_or("", |i| &name[i..]);
            FileMove {
                logical_name: file.logical_name.clone(),
                physical_name: format!("{folder}{copy}_{n}{extension}"),
            }
        })
        .collect()
}

/// Restores the full backup of `chain` as a new database `copy`.
async fn restore_copy(
    check: &'static str,
    plane: &dyn DatabasePlane,
    admin: &dyn Admin,
    full: &str,
    copy: &str,
    recovery: bool,
) -> CheckResult {
    admin
        .drop_database(copy)
        .await
        .during(check, format!("dropping an earlier {copy}"))?;
    let files = plane
        .backup_file_list(full)
        .await
        .during(check, format!("RESTORE FILELISTONLY of {full}"))?;
    let options = FullRestore {
        replace: true,
        recovery,
        moves: copy_moves(copy, &files),
    };
    plane
        .restore_database(copy, full, &options)
        .await
        .during(check, format!("RESTORE DATABASE {copy} FROM {full}"))?;
    let state = state_of(check, plane, copy).await?;
    let expected = if recovery {
        DbState::Online
    } else {
        DbState::Restoring
    };
    ensure(check, state.state == expected, || {
        format!(
            "{copy} is {:?} after RESTORE DATABASE, expected {expected:?}",
            state.state
        )
    })
}

/// Runs `body` on a copy, then drops the copy whatever happened (the body's failure
/// wins over the drop's).
async fn with_copy<F, Fut>(
    check: &'static str,
    admin: &dyn Admin,
    copy: &str,
    body: F,
) -> CheckResult
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = CheckResult>,
{
    let outcome = body().await;
    let dropped = admin
        .drop_database(copy)
        .await
        .during(check, format!("dropping {copy}"));
    outcome.and(dropped)
}

/// A full backup `header` of `database` (`state`) taken after its instance's clock read
/// `before`: it names the database by family GUID and, as `BindingID`, by
/// `database_guid`, and is dated on that clock.
fn ensure_identity_and_date(
    check: &'static str,
    file: &str,
    database: &str,
    state: &DatabaseState,
    header: &BackupHeader,
    before: DateTime<Utc>,
) -> CheckResult {
    ensure(check, header.backup_finish >= before, || {
        format!(
            "{file}: finished at {}, before SYSDATETIME() read {before} ahead of it",
            header.backup_finish
        )
    })?;
    if let Some(guid) = &state.database_guid {
        ensure(check, header.binding_id.eq_ignore_ascii_case(guid), || {
            format!(
                "{file}: BindingID {} but {database} has database_guid {guid}",
                header.binding_id
            )
        })?;
    }
    if let Some(family) = &state.family_guid {
        ensure(
            check,
            header.family_guid.eq_ignore_ascii_case(family),
            || {
                format!(
                    "{file}: family GUID {} but {database} has {family}",
                    header.family_guid
                )
            },
        )?;
    }
    Ok(())
}

/// A full backup to `folder`, verified, with its file list and header read back (the
/// header names the database by family and `database_guid`, and is dated on the clock
/// `SYSDATETIME()` reads, as failback relies on); and a missing file refused with 3201.
/// Returns the backup file.
pub async fn full_backup_and_verify(
    plane: &dyn DatabasePlane,
    database: &str,
    folder: &str,
) -> CheckResult<String> {
    const CHECK: &str = "full_backup_and_verify";
    let state = state_of(CHECK, plane, database).await?;
    let before = plane
        .server_time()
        .await
        .during(CHECK, "SELECT SYSDATETIME()")?;
    let file = full_backup(CHECK, plane, database, folder, CHECK).await?;
    plane
        .verify_backup(&file)
        .await
        .during(CHECK, format!("RESTORE VERIFYONLY of {file}"))?;
    let files = plane
        .backup_file_list(&file)
        .await
        .during(CHECK, format!("RESTORE FILELISTONLY of {file}"))?;
    let kinds = |kind| files.iter().filter(|f| f.kind == kind).count();
    ensure(
        CHECK,
        kinds(FileKind::Data) >= 1 && kinds(FileKind::Log) >= 1,
        || format!("{file} lists {files:?}: expected a data file and a log file"),
    )?;
    let header = plane
        .backup_header(&file)
        .await
        .during(CHECK, format!("RESTORE HEADERONLY of {file}"))?;
    ensure(CHECK, header.backup_type == BackupType::Database, || {
        format!(
            "{file} is a {:?} backup, expected a database backup",
            header.backup_type
        )
    })?;
    ensure(
        CHECK,
        header.database_name.eq_ignore_ascii_case(database),
        || format!("{file} holds database {}", header.database_name),
    )?;
    ensure(CHECK, header.first_lsn <= header.last_lsn, || {
        format!(
            "{file}: FirstLSN {} after LastLSN {}",
            header.first_lsn, header.last_lsn
        )
    })?;
    ensure(CHECK, header.backup_start <= header.backup_finish, || {
        format!("{file}: finished before it started")
    })?;
    ensure_identity_and_date(CHECK, &file, database, &state, &header, before)?;
    let missing = join_path(folder, &format!("{database}_pcdr_missing_{}.bak", stamp()));
    expect_error(
        CHECK,
        &format!("RESTORE VERIFYONLY of the missing {missing}"),
        3201,
        plane.verify_backup(&missing).await,
    )?;
    Ok(file)
}

/// Backup headers: the full backup's `BackupSize` is positive (pcdr counts it as the
/// bytes a full backup or restore moves); the log backups are of type log, of
/// `database`, of its family, on the full backup's recovery fork and based on it
/// (`DatabaseBackupLSN` not before its `FirstLSN`), each starting where the one before
/// ended and ending later than the full backup before them.
pub async fn backup_header(
    plane: &dyn DatabasePlane,
    admin: &dyn Admin,
    database: &str,
    folder: &str,
) -> CheckResult {
    const CHECK: &str = "backup_header";
    let chain = chain(CHECK, plane, admin, database, folder, 2).await?;
    let full = plane
        .backup_header(&chain.full)
        .await
        .during(CHECK, format!("RESTORE HEADERONLY of {}", chain.full))?;
    ensure(CHECK, full.backup_size > 0, || {
        format!("{}: BackupSize is 0 for a full backup", chain.full)
    })?;
    for (file, header) in &chain.logs {
        ensure(CHECK, header.backup_type == BackupType::Log, || {
            format!(
                "{file} is a {:?} backup, expected a log backup",
                header.backup_type
            )
        })?;
        ensure(
            CHECK,
            header.database_name.eq_ignore_ascii_case(database),
            || format!("{file} holds database {}", header.database_name),
        )?;
        ensure(
            CHECK,
            header.family_guid.eq_ignore_ascii_case(&full.family_guid),
            || {
                format!(
                    "{file}: family GUID {}, the full backup's is {}",
                    header.family_guid, full.family_guid
                )
            },
        )?;
        let forks = [&header.first_recovery_fork, &header.recovery_fork];
        ensure(
            CHECK,
            full.recovery_fork.is_some() && forks.iter().all(|f| **f == full.recovery_fork),
            || {
                format!(
                    "{file}: recovery forks {forks:?}, the full backup's is {:?}",
                    full.recovery_fork
                )
            },
        )?;
        ensure(CHECK, header.database_backup_lsn >= full.first_lsn, || {
            format!(
                "{file}: DatabaseBackupLSN {} is before the full backup's FirstLSN {}",
                header.database_backup_lsn, full.first_lsn
            )
        })?;
        ensure(CHECK, header.first_lsn < header.last_lsn, || {
            format!(
                "{file}: FirstLSN {} is not before LastLSN {} although the database was written to",
                header.first_lsn, header.last_lsn
            )
        })?;
        ensure(CHECK, header.last_lsn > full.last_lsn, || {
            format!(
                "{file}: LastLSN {} is not after the full backup's {}",
                header.last_lsn, full.last_lsn
            )
        })?;
    }
    let [(_, first), (second_file, second)] = &chain.logs[..] else {
        unreachable!("chain() took two log backups");
    };
    ensure(CHECK, second.first_lsn == first.last_lsn, || {
        format!(
            "{second_file}: FirstLSN {} is not the LastLSN {} of the log backup before it",
            second.first_lsn, first.last_lsn
        )
    })
}

/// A full backup restored `WITH NORECOVERY` as a copy, then three log backups restored
/// in order, each leaving `redo_start_lsn` at its `LastLSN` (the rule failover's
/// `apply_unapplied_logs` verifies) and recorded in msdb as the copy's last restore and
/// as restored from its file, with its family, `LastLSN` and recovery fork (the identity
/// failover takes from msdb).
pub async fn log_restores_in_order(
    plane: &dyn DatabasePlane,
    admin: &dyn Admin,
    database: &str,
    folder: &str,
) -> CheckResult {
    const CHECK: &str = "log_restores_in_order";
    let chain = chain(CHECK, plane, admin, database, folder, 3).await?;
    let copy = copy_name(database, "in_order");
    with_copy(CHECK, admin, &copy, || async {
        restore_copy(CHECK, plane, admin, &chain.full, &copy, false).await?;
        let point = redo_point(CHECK, plane, &copy).await?;
        ensure(CHECK, point.is_some(), || {
            format!("{copy} reports no redo_start_lsn after a full restore WITH NORECOVERY")
        })?;
        for (file, header) in &chain.logs {
            plane
                .restore_log(&copy, file)
                .await
                .during(CHECK, format!("RESTORE LOG {copy} FROM {file}"))?;
            let point = redo_point(CHECK, plane, &copy).await?;
            ensure(CHECK, point == Some(header.last_lsn), || {
                format!(
                    "after restoring {file}, redo_start_lsn is {point:?}, expected its LastLSN {}",
                    header.last_lsn
                )
            })?;
            let state = state_of(CHECK, plane, &copy).await?;
            ensure(CHECK, state.accepts_logs(), || {
                format!(
                    "{copy} is {:?} after a log restore WITH NORECOVERY",
                    state.state
                )
            })?;
            restore_recorded(CHECK, plane, &copy, file, header).await?;
        }
        Ok(())
    })
    .await
}

/// msdb records the restore of `header`'s set from `file` into `copy` as its last.
async fn restore_recorded(
    check: &'static str,
    plane: &dyn DatabasePlane,
    copy: &str,
    file: &str,
    header: &BackupHeader,
) -> CheckResult {
    let last = plane
        .last_restored_backup(copy)
        .await
        .during(check, format!("msdb's last restore of {copy}"))?;
    let from_file = plane
        .restored_from_file(copy, file)
        .await
        .during(check, format!("msdb's restore of {copy} from {file}"))?;
    for (what, found) in [("last restore", last), ("restore from the file", from_file)] {
        let matches = found.as_ref().is_some_and(|set| {
            set.family_guid.eq_ignore_ascii_case(&header.family_guid)
                && set.last_lsn == header.last_lsn
                && set.recovery_fork == header.recovery_fork
        });
        ensure(check, matches, || {
            format!("msdb's {what} of {copy} is {found:?}, expected the set of {file}: {header:?}")
        })?;
    }
    Ok(())
}

/// The chain errors: a log backup whose first LSN is past the restore point is 4305, one
/// whose last LSN is not past it is 4326; neither moves the restore point, and the chain
/// then continues.
pub async fn chain_errors(
    plane: &dyn DatabasePlane,
    admin: &dyn Admin,
    database: &str,
    folder: &str,
) -> CheckResult {
    const CHECK: &str = "chain_errors";
    let chain = chain(CHECK, plane, admin, database, folder, 3).await?;
    let copy = copy_name(database, "chain");
    let [(first, _), (second, _), (third, third_header)] = &chain.logs[..] else {
        unreachable!("chain() took three log backups");
    };
    with_copy(CHECK, admin, &copy, || async {
        restore_copy(CHECK, plane, admin, &chain.full, &copy, false).await?;
        let restore = |file: String| {
            let copy = copy.clone();
            async move { plane.restore_log(&copy, &file).await }
        };
        // A refused restore must leave the restore point where it was.
        let refused = |what: String, number: u32, file: String| {
            let (copy, restore) = (copy.clone(), &restore);
            async move {
                let point = redo_point(CHECK, plane, &copy).await?;
                expect_error(CHECK, &what, number, restore(file).await)?;
                let after = redo_point(CHECK, plane, &copy).await?;
                ensure(CHECK, after == point, || {
                    format!("error {number} moved the restore point from {point:?} to {after:?}")
                })
            }
        };
        restore(first.clone())
            .await
            .during(CHECK, format!("RESTORE LOG {copy} FROM {first}"))?;
        let skipping = format!("RESTORE LOG of {third}, skipping {second}");
        refused(skipping, 4305, third.clone()).await?;
        restore(second.clone())
            .await
            .during(CHECK, format!("RESTORE LOG {copy} FROM {second}"))?;
        refused(format!("RESTORE LOG of {first} again"), 4326, first.clone()).await?;
        restore(third.clone())
            .await
            .during(CHECK, format!("RESTORE LOG {copy} FROM {third}"))?;
        let point = redo_point(CHECK, plane, &copy).await?;
        ensure(CHECK, point == Some(third_header.last_lsn), || {
            format!(
                "after the whole chain, redo_start_lsn is {point:?}, expected {}",
                third_header.last_lsn
            )
        })
    })
    .await
}

/// How long a killed session may take to disappear from the sessions pcdr lists (`sys.sysprocesses`).
const KILL_SETTLE: Duration = Duration::from_secs(10);

/// Takes a run lock for `name`, expecting it granted.
async fn granted_run_lock(
    check: &'static str,
    plane: &dyn DatabasePlane,
    resource: &str,
    name: &str,
) -> Result<RunLock, CheckFailed> {
    match plane
        .take_run_lock(resource, name)
        .await
        .during(check, format!("taking the run lock {resource}"))?
    {
        RunLockAttempt::Granted(lock) => Ok(lock),
        RunLockAttempt::Held(holder) => Err(CheckFailed {
            check,
            message: format!("the run lock {resource} is held by {holder:?}"),
        }),
    }
}

/// The run lock: while one run holds it, a second is refused at once and told who holds
/// it (the first run's name, as its connection's `program_name`); once the first gives
/// it back a third run gets it at once; once the third only drops it (its connection
/// closes, so its session and the lock end) a fourth gets it soon after.
/// The resource is named after `database`, so that checks on one server do not meet.
pub async fn run_lock(plane: &dyn DatabasePlane, database: &str) -> CheckResult {
    const CHECK: &str = "run_lock";
    let resource = format!("pcdr-conformance:{database}");
    let first = granted_run_lock(CHECK, plane, &resource, "pcdr conformance run 1").await?;
    let second = plane
        .take_run_lock(&resource, "pcdr conformance run 2")
        .await
        .during(CHECK, "taking the held run lock")?;
    match second {
        RunLockAttempt::Held(Some(holder)) if holder.program == "pcdr conformance run 1" => {}
        other => {
            return Err(CheckFailed {
                check: CHECK,
                message: format!("a second run was not refused naming the first: {other:?}"),
            });
        }
    }
    first
        .release()
        .await
        .during(CHECK, "giving the run lock back")?;
    let third = granted_run_lock(CHECK, plane, &resource, "pcdr conformance run 3").await?;
    drop(third);
    let deadline = tokio::time::Instant::now() + KILL_SETTLE;
    loop {
        let attempt = plane
            .take_run_lock(&resource, "pcdr conformance run 4")
            .await
            .during(CHECK, "taking the dropped run lock")?;
        if let RunLockAttempt::Granted(_) = attempt {
            return Ok(());
        }
        ensure(CHECK, tokio::time::Instant::now() < deadline, || {
            format!("the run lock is still held {KILL_SETTLE:?} after its holder dropped it")
        })?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Another session using `database` is listed by [`DatabasePlane::sessions`] (the
/// plane's own is not), `KILL` ends it, and killing it again is 6106 (not an active
/// session).
pub async fn sessions_and_kill(
    plane: &dyn DatabasePlane,
    admin: &dyn Admin,
    database: &str,
) -> CheckResult {
    const CHECK: &str = "sessions_and_kill";
    let mut session = admin
        .open_session(database)
        .await
        .during(CHECK, format!("opening a session on {database}"))?;
    let id = session.id();
    let listed = plane
        .sessions(database)
        .await
        .during(CHECK, format!("sessions on {database}"))?;
    ensure(CHECK, listed.contains(&id), || {
        format!("session {id} uses {database} but the plane lists {listed:?}")
    })?;
    plane
        .kill_session(id)
        .await
        .during(CHECK, format!("KILL {id}"))?;
    let deadline = tokio::time::Instant::now() + KILL_SETTLE;
    loop {
        let listed = plane
            .sessions(database)
            .await
            .during(CHECK, format!("sessions on {database}"))?;
        if !listed.contains(&id) {
            break;
        }
        ensure(CHECK, tokio::time::Instant::now() < deadline, || {
            format!("session {id} is still listed {KILL_SETTLE:?} after KILL")
        })?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ensure(CHECK, session.ping().await.is_err(), || {
        format!("session {id} still answers after KILL")
    })?;
    expect_error(
        CHECK,
        &format!("KILL of the ended session {id}"),
        6106,
        plane.kill_session(id).await,
    )
}

/// A copy restored `WITH NORECOVERY` and a log backup, then recovered: ONLINE, writable,
/// no restore point; recovering again is 3153, restoring a log after recovery is 3117.
pub async fn recovery(
    plane: &dyn DatabasePlane,
    admin: &dyn Admin,
    database: &str,
    folder: &str,
) -> CheckResult {
    const CHECK: &str = "recovery";
    let chain = chain(CHECK, plane, admin, database, folder, 1).await?;
    let copy = copy_name(database, "recovery");
    let (log, _) = &chain.logs[0];
    with_copy(CHECK, admin, &copy, || async {
        restore_copy(CHECK, plane, admin, &chain.full, &copy, false).await?;
        plane
            .restore_log(&copy, log)
            .await
            .during(CHECK, format!("RESTORE LOG {copy} FROM {log}"))?;
        plane
            .recover(&copy)
            .await
            .during(CHECK, format!("RESTORE DATABASE {copy} WITH RECOVERY"))?;
        let state = state_of(CHECK, plane, &copy).await?;
        ensure(CHECK, state.is_recovered(), || {
            format!("{copy} is {state:?} after recovery")
        })?;
        let point = redo_point(CHECK, plane, &copy).await?;
        ensure(CHECK, point.is_none(), || {
            format!("{copy} still reports redo_start_lsn {point:?} once recovered")
        })?;
        expect_error(
            CHECK,
            "RESTORE WITH RECOVERY of a recovered database",
            3153,
            plane.recover(&copy).await,
        )?;
        expect_error(
            CHECK,
            "RESTORE LOG onto a recovered database",
            3117,
            plane.restore_log(&copy, log).await,
        )
    })
    .await
}

/// `SET PARTNER OFF`: on a copy that was never mirrored it is `Ok` (SQL Server's 1416
/// swallowed); on `database`, mirroring ends if it had any, and a second call is `Ok`.
pub async fn mirroring_removal(
    plane: &dyn DatabasePlane,
    admin: &dyn Admin,
    database: &str,
    folder: &str,
) -> CheckResult {
    const CHECK: &str = "mirroring_removal";
    let full = full_backup(CHECK, plane, database, folder, CHECK).await?;
    let copy = copy_name(database, "unmirrored");
    with_copy(CHECK, admin, &copy, || async {
        restore_copy(CHECK, plane, admin, &full, &copy, true).await?;
        let state = state_of(CHECK, plane, &copy).await?;
        ensure(CHECK, state.mirroring.is_none(), || {
            format!("a fresh restore {copy} is mirrored: {:?}", state.mirroring)
        })?;
        plane
            .remove_mirroring(&copy)
            .await
            .during(CHECK, format!("SET PARTNER OFF on the unmirrored {copy}"))
    })
    .await?;
    for attempt in ["", " again"] {
        plane
            .remove_mirroring(database)
            .await
            .during(CHECK, format!("SET PARTNER OFF on {database}{attempt}"))?;
        let state = state_of(CHECK, plane, database).await?;
        ensure(CHECK, state.mirroring.is_none(), || {
            format!(
                "{database} is still mirrored after SET PARTNER OFF: {:?}",
                state.mirroring
            )
        })?;
    }
    Ok(())
}

type Connection = Client<Compat<TcpStream>>;

/// An [`Admin`] over its own tiberius connections (one per call), for a real SQL
/// Server or the emulator. Names reach T-SQL as `sp_executesql` parameters where SQL
/// Server allows it, and through [`quote_sql_name`] where it does not.
#[derive(Debug, Clone)]
pub struct TdsAdmin {
    config: Config,
}

impl TdsAdmin {
    /// An admin connecting with `config` (its database is replaced per call).
    pub fn new(config: Config) -> Self {
        Self { config }
    }

    /// An admin from an ADO.NET connection string
    /// (`server=tcp:host,1433;user id=…;password=…;TrustServerCertificate=true`).
    pub fn from_ado(ado: &str) -> Result<Self, String> {
        Config::from_ado_string(ado)
            .map(Self::new)
            .map_err(|e| format!("the connection string does not parse: {e}"))
    }

    /// Its tiberius configuration, on `master`.
    pub fn config(&self) -> Config {
        let mut config = self.config.clone();
        config.database("master");
        config
    }

    async fn connect(&self, database: &str) -> Result<Connection, String> {
        let mut config = self.config.clone();
        config.database(database);
        config.application_name("pcdr-conformance");
        let tcp = TcpStream::connect_named(&config)
            .await
            .map_err(|e| format!("cannot reach {}: {e}", config.get_addr()))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        Client::connect(config, tcp.compat_write())
            .await
            .map_err(|e| format!("cannot log in: {e}"))
    }

    async fn batch(&self, database: &str, text: &str) -> Result<(), String> {
        let mut client = self.connect(database).await?;
        client
            .simple_query(text)
            .await
            .map_err(|e| e.to_string())?
            .into_results()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Creates `database` in the FULL recovery model (real servers only: the emulator
    /// has no `CREATE DATABASE`).
    pub async fn create_database(&self, database: &str) -> Result<(), String> {
        let name = quote_sql_name(database).map_err(|e| e.to_string())?;
        self.batch(
            "master",
            &format!("CREATE DATABASE {name}; ALTER DATABASE {name} SET RECOVERY FULL;"),
        )
        .await
    }

    /// The instance's default backup folder (`InstanceDefaultBackupPath`, SQL Server
    /// 2019 and later), if it reports one.
    pub async fn default_backup_folder(&self) -> Result<Option<String>, String> {
        let mut client = self.connect("master").await?;
        let row = client
            .simple_query(
                "SELECT CAST(SERVERPROPERTY('InstanceDefaultBackupPath') AS nvarchar(4000)) AS path;",
            )
            .await
            .map_err(|e| e.to_string())?
            .into_row()
            .await
            .map_err(|e| e.to_string())?;
        Ok(row.and_then(|r| r.get::<&str, _>("path").map(str::to_owned)))
    }
}

#[async_trait]
impl Admin for TdsAdmin {
    async fn backup_log(&self, database: &str, file: &str) -> Result<(), String> {
        let mut client = self.connect("master").await?;
        client
            .execute(
                "BACKUP LOG @P1 TO DISK = @P2 WITH INIT, CHECKSUM;",
                &[&database, &file],
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn log_activity(&self, database: &str) -> Result<(), String> {
        self.batch(
            database,
            "IF OBJECT_ID(N'dbo.pcdr_conformance') IS NULL \
                 CREATE TABLE dbo.pcdr_conformance (id int IDENTITY PRIMARY KEY, at datetime2 NOT NULL DEFAULT SYSUTCDATETIME()); \
             INSERT INTO dbo.pcdr_conformance DEFAULT VALUES;",
        )
        .await
    }

    async fn open_session(&self, database: &str) -> Result<Box<dyn Session>, String> {
        let mut client = self.connect(database).await?;
        let row = client
            .simple_query("SELECT @@SPID AS spid;")
            .await
            .map_err(|e| e.to_string())?
            .into_row()
            .await
            .map_err(|e| e.to_string())?
            .ok_or("@@SPID returned no row")?;
        // `@@SPID` is a smallint; accept an int too.
        let id = match row.try_get::<i16, _>("spid") {
            Ok(id) => id.map(i32::from),
            Err(_) => row.try_get::<i32, _>("spid").map_err(|e| e.to_string())?,
        }
        .ok_or("@@SPID is NULL")?;
        Ok(Box::new(TdsSession {
            client,
            id: SessionId(id),
        }))
    }

    async fn drop_database(&self, database: &str) -> Result<(), String> {
        let name = quote_sql_name(database).map_err(|e| e.to_string())?;
        let mut client = self.connect("master").await?;
        let exists = client
            .query(
                "SELECT state_desc FROM sys.databases WHERE name = @P1;",
                &[&database],
            )
            .await
            .map_err(|e| e.to_string())?
            .into_row()
            .await
            .map_err(|e| e.to_string())?
            .map(|r| {
                r.get::<&str, _>("state_desc")
                    .unwrap_or_default()
                    .to_owned()
            });
        let Some(state) = exists else {
            return Ok(());
        };
        let text = if state.eq_ignore_ascii_case("ONLINE") {
            format!(
                "ALTER DATABASE {name} SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE {name};"
            )
        } else {
            format!("DROP DATABASE {name};")
        };
        client
            .simple_query(text)
            .await
            .map_err(|e| e.to_string())?
            .into_results()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

struct TdsSession {
    client: Connection,
    id: SessionId,
}

#[async_trait]
impl Session for TdsSession {
    fn id(&self) -> SessionId {
        self.id
    }

    async fn ping(&mut self) -> Result<(), String> {
        self.client
            .simple_query("SELECT 1 AS one;")
            .await
            .map_err(|e| e.to_string())?
            .into_results()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
