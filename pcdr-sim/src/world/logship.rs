//! Log shipping that runs: the backup job on the primary, the copy and restore jobs on
//! the secondary, as `sqllogship.exe -backup | -copy | -restore` do, driven by the world
//! clock.
//!
//! File names follow `<db>_<yyyyMMddHHmmss>.trn` (UTC, the world clock). The copy job
//! copies files of its database newer (by name) than `last_copied_file`; the restore job
//! restores copied files newer than `last_restored_file` in name order, skipping those
//! already applied and stopping at a gap or a damaged file. A job on an instance that is
//! down does not run.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::backup_file::BackupHeader;
use crate::world::dbops::{self, Disks, Finish, SqlError, Usage};
use crate::world::model::{InstanceId, MirrorRole, WorldState};
use crate::world::msdb::{HeldSession, JobKind, Msdb, Secondary};
use crate::world::server_paths;

/// One job run and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobRun {
    /// The instance it ran on.
    pub instance: InstanceId,
    /// The job's name.
    pub job: String,
    /// The world clock when it ran.
    pub at: DateTime<Utc>,
    /// What it did, or why it failed.
    pub outcome: Result<String, String>,
}

/// The log backup file name for `database` at `at`.
pub(crate) fn log_file_name(database: &str, at: DateTime<Utc>) -> String {
    format!("{database}_{}.trn", at.format("%Y%m%d%H%M%S"))
}

/// Advances the clock minute by minute and runs the jobs that fall due.
pub fn tick(state: &mut WorldState, disks: &Disks, minutes: u32) -> Vec<JobRun> {
    let mut runs = Vec::new();
    for _ in 0..minutes {
        state.clock += Duration::minutes(1);
        for instance in InstanceId::ALL {
            for job in due_jobs(state, instance) {
                runs.push(run_job(state, disks, instance, &job));
            }
        }
    }
    runs
}

fn due_jobs(state: &WorldState, instance: InstanceId) -> Vec<crate::guid::Guid> {
    if state.faults.down.contains(&instance) {
        return Vec::new();
    }
    let Some(msdb) = state.instance(instance).map(|i| &i.msdb) else {
        return Vec::new();
    };
    msdb.jobs
        .iter()
        .filter(|job| job.enabled && !msdb.is_running(job.job_id))
        .filter_map(|job| {
            let schedule = msdb
                .schedules
                .iter()
                .find(|s| Some(s.schedule_id) == job.schedule_id && s.enabled)?;
            let interval = Duration::minutes(i64::from(schedule.interval_minutes.max(1)));
            let due = job
                .last_run
                .is_none_or(|last| state.clock - last >= interval);
            due.then_some(job.job_id)
        })
        .collect()
}

/// Runs job `job_id` of `instance` now, whatever its schedule.
pub(crate) fn run_job(
    state: &mut WorldState,
    disks: &Disks,
    instance: InstanceId,
    job_id: &crate::guid::Guid,
) -> JobRun {
    let now = state.clock;
    let Some(job) = state
        .instance(instance)
        .and_then(|i| i.msdb.jobs.iter().find(|j| j.job_id == *job_id))
        .cloned()
    else {
        return JobRun {
            instance,
            job: job_id.to_string(),
            at: now,
            outcome: Err("no such job".into()),
        };
    };
    let outcome = match job.kind {
        JobKind::Backup(primary_id) => backup_job(state, disks, instance, primary_id),
        JobKind::Copy(secondary_id) => copy_job(state, disks, instance, secondary_id),
        JobKind::Restore(secondary_id) => restore_job(state, disks, instance, secondary_id),
        JobKind::Alert => Ok("no log-shipping threshold passed".into()),
        JobKind::NoSteps => Err("the job has no steps".into()),
    };
    if let Some(msdb) = state.instance_mut(instance).map(|i| &mut i.msdb) {
        if let Some(stored) = msdb.job_mut(*job_id) {
            stored.last_run = Some(now);
        }
        let activity = msdb.activity_mut(*job_id, now);
        activity.start_execution_date = Some(now);
        activity.stop_execution_date = Some(now);
    }
    JobRun {
        instance,
        job: job.name,
        at: now,
        outcome,
    }
}

/// Takes a log backup of the primary database into its backup directory. On a
/// mirror/primary (a mirror database configured as a log-shipping primary too, so that
/// log shipping goes on after a mirroring failover) it backs nothing up and succeeds:
/// "The mirror database is in the restoring state, which prevents the backup jobs from
/// backing up the log on the mirror database … the agent job returns a status of
/// success" ("Database Mirroring and Log Shipping (SQL Server)",
/// <https://learn.microsoft.com/sql/database-engine/database-mirroring/database-mirroring-and-log-shipping-sql-server>).
fn backup_job(
    state: &mut WorldState,
    disks: &Disks,
    instance: InstanceId,
    primary_id: crate::guid::Guid,
) -> Result<String, String> {
    let now = state.clock;
    let inst = state.instance_mut(instance).ok_or("no such instance")?;
    let row = inst
        .msdb
        .primary_databases
        .iter()
        .find(|r| r.primary_id == primary_id)
        .cloned()
        .ok_or("log shipping is not configured for this job")?;
    let path = Path::new(&row.backup_directory)
        .join(log_file_name(&row.primary_database, now))
        .display()
        .to_string();
    let db = inst
        .database_mut(&row.primary_database)
        .ok_or_else(|| format!("database {} does not exist", row.primary_database))?;
    if db.mirroring.as_ref().map(|m| m.role) == Some(MirrorRole::Mirror) {
        return Ok(format!(
            "{} is a mirror database: no log backup until it becomes the principal",
            row.primary_database
        ));
    }
    dbops::check_backup(db, true).map_err(|e| e.message)?;
    let mut taken = db.clone();
    // The log-shipping backup job backs up without CHECKSUM unless the server's "backup
    // checksum default" is on, which it is not by default ("backup checksum default
    // Server Configuration Option", Microsoft Learn).
    let set = dbops::take_log_backup(&mut taken, instance, now, false);
    disks.write(instance, &path, &set).map_err(|e| e.message)?;
    *db = taken;
    // sqllogship backs up with BACKUP LOG, which records the set in msdb as any backup.
    inst.msdb.record_backup(&path, &set.header);
    if let Some(row) = inst
        .msdb
        .primary_databases
        .iter_mut()
        .find(|r| r.primary_id == primary_id)
    {
        row.last_backup_file = Some(path.clone());
        row.last_backup_date = Some(now);
    }
    Ok(format!("backed up the log to {path}"))
}

fn secondary_row(
    state: &WorldState,
    instance: InstanceId,
    id: crate::guid::Guid,
) -> Result<Secondary, String> {
    state
        .instance(instance)
        .and_then(|i| i.msdb.secondaries.iter().find(|s| s.secondary_id == id))
        .cloned()
        .ok_or_else(|| "log shipping is not configured for this job".to_owned())
}

/// The log backup files of `database` in `dir`, sorted by name.
pub fn log_files(dir: &Path, database: &str) -> std::io::Result<Vec<String>> {
    let prefix = format!("{database}_").to_ascii_lowercase();
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| {
            let lower = name.to_ascii_lowercase();
            lower.starts_with(&prefix) && lower.ends_with(".trn")
        })
        .collect();
    names.sort();
    Ok(names)
}

/// The log backup files of `database` in `dir` newer (by name) than the file at path
/// `last`, sorted by name: what a copy or restore job has still to handle.
fn log_files_after(dir: &Path, database: &str, last: Option<&str>) -> Result<Vec<String>, String> {
    let last = last.map(server_paths::file_name);
    let mut names = log_files(dir, database).map_err(|e| e.to_string())?;
    names.retain(|n| last.is_none_or(|l| n.as_str() > l));
    Ok(names)
}

/// Copies new log backups from the share to the copy destination.
fn copy_job(
    state: &mut WorldState,
    disks: &Disks,
    instance: InstanceId,
    secondary_id: crate::guid::Guid,
) -> Result<String, String> {
    let row = secondary_row(state, instance, secondary_id)?;
    if disks.share_unreachable && disks.is_on_share(&row.backup_source_directory) {
        return Err(format!(
            "the backup share {} cannot be reached",
            row.backup_source_directory
        ));
    }
    let local = |path: &str| disks.local(instance, path).map_err(|e| e.message);
    let source = local(&row.backup_source_directory)?;
    let destination = local(&row.backup_destination_directory)?;
    let names = log_files_after(
        &source,
        &row.primary_database,
        row.last_copied_file.as_deref(),
    )?;
    let mut copied = Vec::new();
    for name in names {
        let target = server_paths::join(&row.backup_destination_directory, &name);
        if disks.copy_folder_full && destination.starts_with(&disks.copies.backup) {
            return Err(dbops::disk_full(&target).message);
        }
        std::fs::copy(source.join(&name), destination.join(&name)).map_err(|e| e.to_string())?;
        record_copied(state, instance, secondary_id, &target);
        copied.push(name);
    }
    Ok(format!("copied {} file(s)", copied.len()))
}

/// Applies `update` to the msdb of `instance` at the world clock; nothing if the instance
/// is gone.
fn update_msdb(
    state: &mut WorldState,
    instance: InstanceId,
    update: impl FnOnce(&mut Msdb, DateTime<Utc>),
) {
    let now = state.clock;
    if let Some(inst) = state.instance_mut(instance) {
        update(&mut inst.msdb, now);
    }
}

fn record_copied(state: &mut WorldState, instance: InstanceId, id: crate::guid::Guid, path: &str) {
    update_msdb(state, instance, |msdb, now| {
        for row in msdb.secondaries.iter_mut().filter(|s| s.secondary_id == id) {
            row.last_copied_file = Some(path.to_owned());
            row.last_copied_date = Some(now);
        }
        for row in msdb
            .monitor_secondaries
            .iter_mut()
            .filter(|s| s.secondary_id == id)
        {
            row.last_copied_file = Some(path.to_owned());
        }
    });
}

/// Restores copied log backups to every secondary database of the secondary.
fn restore_job(
    state: &mut WorldState,
    disks: &Disks,
    instance: InstanceId,
    secondary_id: crate::guid::Guid,
) -> Result<String, String> {
    let row = secondary_row(state, instance, secondary_id)?;
    let databases: Vec<_> = state
        .instance(instance)
        .map(|i| {
            i.msdb
                .secondary_databases
                .iter()
                .filter(|d| d.secondary_id == secondary_id)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut restored = 0;
    for db in databases {
        restored += restore_database_files(state, disks, instance, &row, &db)?;
    }
    Ok(format!("restored {restored} file(s)"))
}

fn restore_database_files(
    state: &mut WorldState,
    disks: &Disks,
    instance: InstanceId,
    row: &Secondary,
    db: &crate::world::msdb::SecondaryDatabase,
) -> Result<usize, String> {
    let destination = disks
        .local(instance, &row.backup_destination_directory)
        .map_err(|e| e.message)?;
    let names = log_files_after(
        &destination,
        &row.primary_database,
        db.last_restored_file.as_deref(),
    )?;
    let finish = if db.restore_mode == 1 {
        Finish::Standby
    } else {
        Finish::NoRecovery
    };
    let mut restored = 0;
    for name in names {
        let path = server_paths::join(&row.backup_destination_directory, &name);
        let (set, _) = disks.read(instance, &path).map_err(|e| e.message)?;
        let delay = Duration::minutes(i64::from(db.restore_delay));
        let due = set.header.finish.checked_add_signed(delay);
        if due.is_none_or(|due| due > state.clock) {
            break;
        }
        match restore_one(state, instance, db, &set, &path, finish) {
            Ok(()) => restored += 1,
            Err(error) if error.number == 4326 => {}
            Err(error) => return Err(error.message),
        }
        record_restored(
            state,
            instance,
            &db.secondary_database,
            (&path, &set.header),
        );
    }
    Ok(restored)
}

fn restore_one(
    state: &mut WorldState,
    instance: InstanceId,
    db: &crate::world::msdb::SecondaryDatabase,
    set: &crate::backup_file::BackupSet,
    path: &str,
    finish: Finish,
) -> Result<(), SqlError> {
    let inst = state
        .instance_mut(instance)
        .ok_or_else(|| SqlError::no_database(&db.secondary_database))?;
    if db.disconnect_users {
        inst.readers
            .retain(|r| !r.database.eq_ignore_ascii_case(&db.secondary_database));
    }
    let others = inst
        .readers
        .iter()
        .any(|r| r.database.eq_ignore_ascii_case(&db.secondary_database));
    let database = inst
        .database_mut(&db.secondary_database)
        .ok_or_else(|| SqlError::no_database(&db.secondary_database))?;
    let usage = Usage { own: false, others };
    dbops::restore_log(database, set, path, finish, usage)
}

fn record_restored(
    state: &mut WorldState,
    instance: InstanceId,
    database: &str,
    (path, header): (&str, &BackupHeader),
) {
    update_msdb(state, instance, |msdb, now| {
        for row in msdb
            .secondary_databases
            .iter_mut()
            .filter(|d| d.secondary_database.eq_ignore_ascii_case(database))
        {
            row.last_restored_file = Some(path.to_owned());
            row.last_restored_date = Some(now);
        }
        for row in msdb
            .monitor_secondaries
            .iter_mut()
            .filter(|d| d.secondary_database.eq_ignore_ascii_case(database))
        {
            row.last_restored_file = Some(path.to_owned());
        }
        msdb.record_restore(database, 'L', (path, header), now);
    });
}

/// Starts the first job of `instance` that `matches` and keeps it running, holding a
/// session on the chat database as `sqllogship.exe` does while it restores, until
/// `sp_stop_job` stops it, which then takes `stop_ms`. Returns the job's name; `None`
/// when no job matches.
pub(crate) fn start_running_job(
    state: &mut WorldState,
    instance: InstanceId,
    matches: fn(&JobKind) -> bool,
    stop_ms: u64,
) -> Option<String> {
    let now = state.clock;
    let inst = state.instance_mut(instance)?;
    let job = inst.msdb.jobs.iter().find(|j| matches(&j.kind)).cloned()?;
    let spid = inst.next_background_spid();
    let activity = inst.msdb.activity_mut(job.job_id, now);
    activity.start_execution_date = Some(now);
    activity.stop_execution_date = None;
    activity.stop_ms = stop_ms;
    activity.holds = Some(HeldSession {
        spid,
        database: crate::world::model::CHAT_DB.to_owned(),
    });
    Some(job.name)
}

/// Runs every job of `kind` on `instance` now (used to build a world step by step).
pub(crate) fn run_jobs_of_kind(
    state: &mut WorldState,
    disks: &Disks,
    instance: InstanceId,
    matches: fn(&JobKind) -> bool,
) -> Vec<JobRun> {
    let ids: Vec<_> = state
        .instance(instance)
        .map(|i| {
            i.msdb
                .jobs
                .iter()
                .filter(|j| matches(&j.kind))
                .map(|j| j.job_id)
                .collect()
        })
        .unwrap_or_default();
    ids.iter()
        .map(|id| run_job(state, disks, instance, id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_use_the_utc_timestamp() {
        let at = DateTime::parse_from_rfc3339("2026-11-27T08:15:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(log_file_name("mgc", at), "mgc_20261127081500.trn");
    }

    #[test]
    fn the_clock_runs_the_jobs_and_faults_stop_the_copy() {
        use crate::world::model::InstanceId;
        use crate::world::{World, WorldOptions};
        let dir = tempfile::tempdir().unwrap();
        let world = World::create(dir.path(), &WorldOptions::default()).unwrap();
        world.set_copy_folder_full(true).unwrap();
        let runs = world.tick(15).unwrap();
        let copy = runs.iter().find(|r| r.job.starts_with("LSCopy")).unwrap();
        assert!(
            copy.outcome.as_ref().unwrap_err().contains("112"),
            "{copy:?}"
        );
        world.set_copy_folder_full(false).unwrap();
        world.set_share_unreachable(true).unwrap();
        let runs = world.tick(15).unwrap();
        let backup = runs.iter().find(|r| r.job.starts_with("LSBackup")).unwrap();
        assert!(backup.outcome.is_err(), "{backup:?}");
        world.set_share_unreachable(false).unwrap();
        world.traffic(3, false).unwrap();
        world.tick(15).unwrap();
        let backup = world.messages(InstanceId::Backup, "mgc").unwrap();
        assert_eq!(backup, (1..=23).collect::<Vec<u64>>());
    }

    /// The world is deployed as the Persistent Chat HA/DR configuration says
    /// (<https://learn.microsoft.com/skypeforbusiness/deploy/deploy-persistent-chat-server/configure-hadr-for-persistent-chat>,
    /// "Set up SQL Server log shipping between the primary mirror and the secondary
    /// database"): the primary's mirror is a log-shipping primary too, with the same
    /// share. While its database is the mirror, its backup job succeeds without a backup.
    #[test]
    fn the_mirror_primarys_backup_job_succeeds_without_a_backup() {
        use crate::world::model::InstanceId;
        use crate::world::{World, WorldOptions};
        let dir = tempfile::tempdir().unwrap();
        let world = World::create(dir.path(), &WorldOptions::default()).unwrap();
        let before = log_files(&world.share_dir(), "mgc").unwrap();
        let runs = world.tick(15).unwrap();
        let mirror = runs
            .iter()
            .find(|r| r.instance == InstanceId::PrimaryMirror)
            .expect("the mirror/primary's backup job ran");
        assert!(mirror.job.starts_with("LSBackup"), "{mirror:?}");
        assert!(
            mirror.outcome.as_ref().unwrap().contains("no log backup"),
            "{mirror:?}"
        );
        let primary = runs.iter().filter(|r| r.instance == InstanceId::Primary);
        assert_eq!(primary.count(), 1, "{runs:#?}");
        let after = log_files(&world.share_dir(), "mgc").unwrap();
        assert_eq!(after.len(), before.len() + 1, "only the principal backs up");
    }

    #[test]
    fn log_files_are_listed_in_name_order_for_one_database() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["mgc_2.trn", "mgc_1.trn", "other_1.trn", "mgc_0.bak"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        assert_eq!(
            log_files(dir.path(), "mgc").unwrap(),
            vec!["mgc_1.trn", "mgc_2.trn"]
        );
    }
}
