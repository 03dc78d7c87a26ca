//! The msdb log-shipping tables and SQL Server Agent jobs of one instance, as rows.
//!
//! Plain data: the `sp_add_log_shipping_*` procedures (in the engine) and the world's
//! setup write these rows; the log-shipping clock ([`logship`](super::logship)) runs the
//! jobs they name.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::backup_file::{BackupHeader, BackupKind};
use crate::guid::Guid;

/// A row of `log_shipping_primary_databases`: one per primary database of a log-shipping
/// configuration, with its backup folder, share and backup job (log_shipping_primary_databases
/// (Transact-SQL) on Microsoft Learn).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryDatabase {
    /// `primary_id`.
    pub primary_id: Guid,
    /// `primary_database`.
    pub primary_database: String,
    /// `backup_directory`.
    pub backup_directory: String,
    /// `backup_share`.
    pub backup_share: String,
    /// `backup_retention_period`, minutes.
    pub backup_retention_period: i32,
    /// `backup_job_id`.
    pub backup_job_id: Guid,
    /// `last_backup_file`.
    pub last_backup_file: Option<String>,
    /// `last_backup_date`.
    pub last_backup_date: Option<DateTime<Utc>>,
}

/// A row of `log_shipping_primary_secondaries`: maps a primary database to one of its
/// secondary databases (log_shipping_primary_secondaries (Transact-SQL)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimarySecondary {
    /// `primary_id`.
    pub primary_id: Guid,
    /// `secondary_server`.
    pub secondary_server: String,
    /// `secondary_database`.
    pub secondary_database: String,
}

/// A row of `log_shipping_secondary`: one per secondary id on a secondary instance, with
/// the folders and the copy and restore jobs (log_shipping_secondary (Transact-SQL)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secondary {
    /// `secondary_id`.
    pub secondary_id: Guid,
    /// `primary_server`.
    pub primary_server: String,
    /// `primary_database`.
    pub primary_database: String,
    /// `backup_source_directory`.
    pub backup_source_directory: String,
    /// `backup_destination_directory`.
    pub backup_destination_directory: String,
    /// `file_retention_period`, minutes.
    pub file_retention_period: i32,
    /// `copy_job_id`.
    pub copy_job_id: Guid,
    /// `restore_job_id`.
    pub restore_job_id: Guid,
    /// `last_copied_file`.
    pub last_copied_file: Option<String>,
    /// `last_copied_date`.
    pub last_copied_date: Option<DateTime<Utc>>,
}

/// A row of `log_shipping_secondary_databases`: one per secondary database, with how it is
/// restored (log_shipping_secondary_databases (Transact-SQL)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondaryDatabase {
    /// `secondary_database`.
    pub secondary_database: String,
    /// `secondary_id`.
    pub secondary_id: Guid,
    /// `restore_delay`, minutes.
    pub restore_delay: i32,
    /// `restore_mode`: 0 NORECOVERY, 1 STANDBY.
    pub restore_mode: i32,
    /// `disconnect_users`.
    pub disconnect_users: bool,
    /// `last_restored_file`.
    pub last_restored_file: Option<String>,
    /// `last_restored_date`.
    pub last_restored_date: Option<DateTime<Utc>>,
}

/// A row of `log_shipping_monitor_secondary`: the monitor's record of one secondary
/// database, its last copied and restored files (log_shipping_monitor_secondary
/// (Transact-SQL)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorSecondary {
    /// `secondary_server`.
    pub secondary_server: String,
    /// `secondary_database`.
    pub secondary_database: String,
    /// `secondary_id`.
    pub secondary_id: Guid,
    /// `primary_server`.
    pub primary_server: String,
    /// `primary_database`.
    pub primary_database: String,
    /// `last_copied_file`.
    pub last_copied_file: Option<String>,
    /// `last_restored_file`.
    pub last_restored_file: Option<String>,
    /// `restore_threshold`, minutes.
    #[serde(default = "default_restore_threshold")]
    pub restore_threshold: i32,
    /// `threshold_alert_enabled`.
    #[serde(default = "default_alert_enabled")]
    pub threshold_alert_enabled: bool,
    /// `history_retention_period`, minutes.
    #[serde(default = "default_history_retention")]
    pub history_retention_period: i32,
}

/// The restore threshold of Microsoft's example script, 45 minutes
/// (<https://learn.microsoft.com/sql/database-engine/log-shipping/configure-log-shipping-sql-server>).
pub(crate) fn default_restore_threshold() -> i32 {
    45
}

/// `@threshold_alert_enabled`'s documented default, 1
/// (<https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-secondary-database-transact-sql>).
pub(crate) fn default_alert_enabled() -> bool {
    true
}

/// The history retention used when `@history_retention_period` is not given, 14420
/// minutes (same page).
pub(crate) fn default_history_retention() -> i32 {
    14420
}

/// What a job does: for a log-shipping job, the `sqllogship` command its single step runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobKind {
    /// `sqllogship -backup primary_id`.
    Backup(Guid),
    /// `sqllogship -copy secondary_id`.
    Copy(Guid),
    /// `sqllogship -restore secondary_id`.
    Restore(Guid),
    /// The log-shipping alert job (`sp_add_log_shipping_alert_job`), which raises an
    /// alert when a threshold is passed; the emulator raises none.
    Alert,
    /// A job `sp_add_job` created; the emulator keeps no steps for it.
    NoSteps,
}

/// A row of `sysjobs`, a SQL Server Agent job, with the job's one step folded in
/// (dbo.sysjobs (Transact-SQL)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// `job_id`.
    pub job_id: Guid,
    /// `name`.
    pub name: String,
    /// `enabled`.
    pub enabled: bool,
    /// What its step runs.
    pub kind: JobKind,
    /// The attached schedule, if any.
    pub schedule_id: Option<i32>,
    /// When it last ran, on the world clock.
    pub last_run: Option<DateTime<Utc>>,
}

/// A row of `sysschedules`, a SQL Server Agent schedule, of which the emulator keeps the
/// interval between runs only (dbo.sysschedules (Transact-SQL)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// `schedule_id`.
    pub schedule_id: i32,
    /// `name`.
    pub name: String,
    /// `enabled`.
    pub enabled: bool,
    /// Minutes between runs (`freq_subday_type = 4`, `freq_subday_interval`).
    pub interval_minutes: i32,
}

/// A row of `syssessions`: one SQL Server Agent session, a new one each time the Agent
/// service starts; `sysjobactivity` rows of older sessions describe jobs of an Agent that
/// is no longer running (dbo.syssessions (Transact-SQL) on Microsoft Learn,
/// <https://learn.microsoft.com/sql/relational-databases/system-tables/dbo-syssessions-transact-sql>).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSession {
    /// `session_id`.
    pub session_id: i32,
    /// `agent_start_date`.
    pub agent_start_date: DateTime<Utc>,
}

/// A row of `sysjobactivity`: a job's current activity in one Agent session. A job is
/// running while its row of the current session has a `start_execution_date` and no
/// `stop_execution_date` (dbo.sysjobactivity (Transact-SQL) on Microsoft Learn,
/// <https://learn.microsoft.com/sql/relational-databases/system-tables/dbo-sysjobactivity-transact-sql>).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobActivity {
    /// `session_id`: the Agent session.
    pub session_id: i32,
    /// `job_id`.
    pub job_id: Guid,
    /// `start_execution_date`.
    pub start_execution_date: Option<DateTime<Utc>>,
    /// `stop_execution_date`.
    pub stop_execution_date: Option<DateTime<Utc>>,
    /// The session the running job's step holds on a database (`sqllogship.exe`
    /// restoring into it), shown in `sys.sysprocesses`; `None` once the job stopped.
    #[serde(default)]
    pub holds: Option<HeldSession>,
    /// How long the job takes to stop once `sp_stop_job` asked it to: the statement it
    /// runs must reach a point where it can stop, which for a RESTORE "may take a
    /// while" (sp_stop_job (Transact-SQL)).
    #[serde(default)]
    pub stop_ms: u64,
}

impl JobActivity {
    /// Started and not stopped.
    pub fn is_running(&self) -> bool {
        self.start_execution_date.is_some() && self.stop_execution_date.is_none()
    }
}

/// A session a running job holds on a database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldSession {
    /// Its session id, from the background range of the readers.
    pub spid: u16,
    /// The database it uses.
    pub database: String,
}

/// One backup set, as msdb's history records it: a `backupset` row with the
/// `backupmediafamily` row of its media set folded in (one set per media set, one file
/// per media family). SQL Server adds one for each backup it takes and for each set it
/// restores ("backupset (Transact-SQL)",
/// <https://learn.microsoft.com/sql/relational-databases/system-tables/backupset-transact-sql>:
/// "Contains a row for each backup set"; "backupmediafamily (Transact-SQL)",
/// <https://learn.microsoft.com/sql/relational-databases/system-tables/backupmediafamily-transact-sql>).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRecord {
    /// `backupset.backup_set_id`.
    pub backup_set_id: i32,
    /// `backupset.media_set_id` (also `backupmediafamily.media_set_id`).
    pub media_set_id: i32,
    /// `backupmediafamily.physical_device_name`: the file, as the statement named it.
    pub physical_device_name: String,
    /// `backupset.database_name`: the database backed up.
    pub database_name: String,
    /// `backupset.server_name`: the server that took the backup (its `@@SERVERNAME`).
    pub server_name: String,
    /// `backupset.type`: `D` database, `L` log (`I` differential is not emulated).
    pub backup_type: char,
    /// `backupset.is_copy_only`.
    pub is_copy_only: bool,
    /// `backupset.family_guid`: the backup family of the database the set was taken of.
    pub family_guid: Guid,
    /// `backupset.first_lsn`.
    pub first_lsn: u128,
    /// `backupset.last_lsn`: the log record after the set.
    pub last_lsn: u128,
    /// `backupset.database_backup_lsn`: the LSN of the full backup the set is based on.
    pub database_backup_lsn: u128,
    /// `backupset.first_recovery_fork_guid`: the recovery fork the set starts on.
    pub first_recovery_fork_guid: Guid,
    /// `backupset.last_recovery_fork_guid`: the recovery fork it ends on.
    pub last_recovery_fork_guid: Guid,
    /// `backupset.fork_point_lsn`: where the set crosses a fork, if it does.
    pub fork_point_lsn: Option<u128>,
    /// `backupset.backup_start_date`, on the world clock.
    pub backup_start_date: DateTime<Utc>,
    /// `backupset.backup_finish_date`, on the world clock.
    pub backup_finish_date: DateTime<Utc>,
}

impl BackupRecord {
    /// The record of the set `header` in the file `device`, numbered `id` (as both its
    /// backup set and its media set).
    fn new(id: i32, device: &str, header: &BackupHeader) -> Self {
        BackupRecord {
            backup_set_id: id,
            media_set_id: id,
            physical_device_name: device.to_string(),
            database_name: header.database_name.clone(),
            server_name: header.server_name.clone(),
            backup_type: match header.kind {
                BackupKind::Database => 'D',
                BackupKind::Log => 'L',
            },
            is_copy_only: header.is_copy_only,
            family_guid: header.family_guid,
            first_lsn: header.first_lsn,
            last_lsn: header.last_lsn,
            database_backup_lsn: header.database_backup_lsn,
            first_recovery_fork_guid: header.first_recovery_fork,
            last_recovery_fork_guid: header.recovery_fork,
            fork_point_lsn: header.fork_point_lsn,
            backup_start_date: header.start,
            backup_finish_date: header.finish,
        }
    }
}

/// One restore, as msdb's history records it: a `restorehistory` row, with the backup
/// set it restored (its own `backupset` row, naming the server that took it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreHistory {
    /// `restorehistory.restore_history_id`.
    pub restore_history_id: i32,
    /// `restorehistory.restore_date`.
    pub restore_date: DateTime<Utc>,
    /// `restorehistory.destination_database_name`.
    pub destination_database_name: String,
    /// `restorehistory.restore_type`: `D` database, `L` log.
    pub restore_type: char,
    /// The set restored (`restorehistory.backup_set_id` is its `backup_set_id`).
    pub set: BackupRecord,
}

/// The msdb tables of one instance that log shipping, BACKUP and RESTORE write: the
/// log-shipping configuration, the SQL Server Agent jobs and schedules, and the backup
/// and restore history.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Msdb {
    /// `log_shipping_primary_databases`.
    pub primary_databases: Vec<PrimaryDatabase>,
    /// `log_shipping_primary_secondaries`.
    pub primary_secondaries: Vec<PrimarySecondary>,
    /// `log_shipping_secondary`.
    pub secondaries: Vec<Secondary>,
    /// `log_shipping_secondary_databases`.
    pub secondary_databases: Vec<SecondaryDatabase>,
    /// `log_shipping_monitor_secondary`.
    pub monitor_secondaries: Vec<MonitorSecondary>,
    /// `sysjobs`.
    pub jobs: Vec<Job>,
    /// `sysschedules`.
    pub schedules: Vec<Schedule>,
    /// `restorehistory`, with the `backupset` and `backupmediafamily` rows of the sets
    /// restored.
    #[serde(default)]
    pub restores: Vec<RestoreHistory>,
    /// The `backupset` and `backupmediafamily` rows of the backups taken here.
    #[serde(default)]
    pub backups: Vec<BackupRecord>,
    /// `syssessions`: empty until the Agent first runs a job.
    #[serde(default)]
    pub agent_sessions: Vec<AgentSession>,
    /// `sysjobactivity`.
    #[serde(default)]
    pub activity: Vec<JobActivity>,
}

impl Msdb {
    /// The job `id`, mutably.
    pub(crate) fn job_mut(&mut self, id: Guid) -> Option<&mut Job> {
        self.jobs.iter_mut().find(|j| j.job_id == id)
    }

    /// The current Agent session (the newest `syssessions` row), started at `now` when
    /// the Agent has none yet.
    pub(crate) fn agent_session(&mut self, now: DateTime<Utc>) -> i32 {
        if let Some(newest) = self.agent_sessions.iter().map(|s| s.session_id).max() {
            return newest;
        }
        self.agent_sessions.push(AgentSession {
            session_id: 1,
            agent_start_date: now,
        });
        1
    }

    /// The activity of job `id` in the current Agent session, created when missing.
    pub(crate) fn activity_mut(&mut self, id: Guid, now: DateTime<Utc>) -> &mut JobActivity {
        let session_id = self.agent_session(now);
        let at = match self
            .activity
            .iter()
            .position(|a| a.session_id == session_id && a.job_id == id)
        {
            Some(at) => at,
            None => {
                self.activity.push(JobActivity {
                    session_id,
                    job_id: id,
                    start_execution_date: None,
                    stop_execution_date: None,
                    holds: None,
                    stop_ms: 0,
                });
                self.activity.len() - 1
            }
        };
        &mut self.activity[at]
    }

    /// Whether job `id` is running in the current Agent session.
    pub(crate) fn is_running(&self, id: Guid) -> bool {
        let current = self.agent_sessions.iter().map(|s| s.session_id).max();
        self.activity
            .iter()
            .any(|a| Some(a.session_id) == current && a.job_id == id && a.is_running())
    }

    /// Ends the run of job `id` at `now`: the job's step ends, and its session with it.
    pub(crate) fn finish_run(&mut self, id: Guid, now: DateTime<Utc>) {
        let activity = self.activity_mut(id, now);
        if activity.is_running() {
            activity.stop_execution_date = Some(now);
            activity.holds = None;
        }
    }

    /// Records a restore of `database` from the set `header` in `device` (`D` database,
    /// `L` log) in the restore history, with the set in `backupset`, as SQL Server does
    /// after every RESTORE (restorehistory and backupset (Transact-SQL) on Microsoft
    /// Learn: "a row for each restore operation", "a row for each backup set").
    pub(crate) fn record_restore(
        &mut self,
        database: &str,
        restore_type: char,
        (device, header): (&str, &BackupHeader),
        at: DateTime<Utc>,
    ) {
        let id = self
            .restores
            .iter()
            .map(|r| r.restore_history_id)
            .max()
            .unwrap_or(0)
            + 1;
        let set = BackupRecord::new(self.next_backup_set_id(), device, header);
        self.restores.push(RestoreHistory {
            restore_history_id: id,
            restore_date: at,
            destination_database_name: database.to_string(),
            restore_type,
            set,
        });
    }

    /// Records the backup set `header` this instance wrote to `device` in `backupset`
    /// and `backupmediafamily`, as SQL Server does after every BACKUP (backupset
    /// (Transact-SQL): "A backup set contains the backup from a single, successful
    /// backup operation").
    pub(crate) fn record_backup(&mut self, device: &str, header: &BackupHeader) {
        let set = BackupRecord::new(self.next_backup_set_id(), device, header);
        self.backups.push(set);
    }

    /// Every `backupset` row, taken here or restored here, by `backup_set_id`.
    pub(crate) fn backup_sets(&self) -> Vec<&BackupRecord> {
        let mut sets: Vec<&BackupRecord> = self
            .backups
            .iter()
            .chain(self.restores.iter().map(|r| &r.set))
            .collect();
        sets.sort_by_key(|s| s.backup_set_id);
        sets
    }

    /// The next `backup_set_id`, one above every set recorded (an identity column).
    fn next_backup_set_id(&self) -> i32 {
        self.backup_sets().last().map_or(0, |s| s.backup_set_id) + 1
    }

    /// The next free schedule id.
    pub(crate) fn next_schedule_id(&self) -> i32 {
        self.schedules
            .iter()
            .map(|s| s.schedule_id)
            .max()
            .unwrap_or(0)
            + 1
    }

    /// `sp_delete_log_shipping_secondary_database`: removes the secondary database row
    /// and its monitor row; removing the last database of a secondary also removes the
    /// `log_shipping_secondary` row and its copy and restore jobs. Returns whether a row
    /// was removed.
    pub(crate) fn delete_secondary_database(&mut self, database: &str) -> bool {
        let Some(row) = self
            .secondary_databases
            .iter()
            .find(|r| r.secondary_database.eq_ignore_ascii_case(database))
            .cloned()
        else {
            return false;
        };
        self.secondary_databases
            .retain(|r| !r.secondary_database.eq_ignore_ascii_case(database));
        self.monitor_secondaries
            .retain(|r| !r.secondary_database.eq_ignore_ascii_case(database));
        let id = row.secondary_id;
        if !self
            .secondary_databases
            .iter()
            .any(|r| r.secondary_id == id)
        {
            self.delete_secondary(id);
        }
        true
    }

    fn delete_secondary(&mut self, id: Guid) {
        let jobs: Vec<Guid> = self
            .secondaries
            .iter()
            .filter(|s| s.secondary_id == id)
            .flat_map(|s| [s.copy_job_id, s.restore_job_id])
            .collect();
        self.secondaries.retain(|s| s.secondary_id != id);
        self.jobs.retain(|j| !jobs.contains(&j.job_id));
    }

    /// Removes every log-shipping row and job (what rebuilding an instance leaves).
    pub(crate) fn clear_log_shipping(&mut self) {
        *self = Msdb::default();
    }
}
