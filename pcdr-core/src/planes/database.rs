//! The database plane: one SQL Server instance.

use crate::error::PlaneResult;
use crate::log_chain::{BackupHeader, Lsn};
use crate::topology::RestoreMode;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `sys.databases.state_desc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DbState {
    /// Available (possibly read-only in standby).
    Online,
    /// Being restored; log backups can still be applied.
    Restoring,
    /// Being recovered.
    Recovering,
    /// Recovery could not start.
    RecoveryPending,
    /// Damaged.
    Suspect,
    /// In emergency mode.
    Emergency,
    /// Taken offline.
    Offline,
}

impl DbState {
    /// The state for a `state_desc` text.
    pub fn from_desc(desc: &str) -> Option<Self> {
        Some(match desc.to_ascii_uppercase().as_str() {
            "ONLINE" => Self::Online,
            "RESTORING" => Self::Restoring,
            "RECOVERING" => Self::Recovering,
            "RECOVERY_PENDING" => Self::RecoveryPending,
            "SUSPECT" => Self::Suspect,
            "EMERGENCY" => Self::Emergency,
            "OFFLINE" => Self::Offline,
            _ => return None,
        })
    }
}

/// `sys.databases.user_access_desc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserAccess {
    /// Anyone may connect.
    MultiUser,
    /// One session at a time.
    SingleUser,
    /// Only privileged users.
    RestrictedUser,
}

/// A database's role in a mirroring session (`sys.database_mirroring`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MirroringRole {
    /// Serves the database.
    Principal,
    /// Receives the principal's log.
    Mirror,
}

/// An active mirroring session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mirroring {
    /// This database's role.
    pub role: MirroringRole,
    /// The partner's endpoint (`TCP://host:port`).
    pub partner: String,
    /// `mirroring_state_desc` is SYNCHRONIZED: the mirror is caught up, so a manual
    /// failover (`SET PARTNER FAILOVER`) loses nothing and is allowed.
    #[serde(default)]
    pub synchronized: bool,
}

/// What pcdr needs to know about one database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseState {
    /// `state_desc`.
    pub state: DbState,
    /// `is_in_standby`: restoring, but readable.
    pub in_standby: bool,
    /// `user_access_desc`.
    pub user_access: UserAccess,
    /// The mirroring session, if mirrored.
    pub mirroring: Option<Mirroring>,
    /// `sys.database_recovery_status.family_guid`: shared by a database and every
    /// backup and restore of it.
    pub family_guid: Option<String>,
    /// `sys.database_recovery_status.database_guid`: this database's own identity, which
    /// its backups carry as `BindingID`; a restore gives the restored database a new one.
    pub database_guid: Option<String>,
}

impl DatabaseState {
    /// Online and serving writes: recovered, not a standby copy.
    pub fn is_recovered(&self) -> bool {
        self.state == DbState::Online && !self.in_standby
    }

    /// Log backups can still be applied (RESTORING, or standby).
    pub fn accepts_logs(&self) -> bool {
        self.state == DbState::Restoring || self.in_standby
    }
}

/// A session id (`@@SPID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SessionId(pub i32);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The log-shipping setup of a secondary database, read from msdb before failover
/// step 1 deletes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogShippingSnapshot {
    /// `log_shipping_secondary.primary_server`.
    pub primary_server: String,
    /// `log_shipping_secondary.primary_database`.
    pub primary_database: String,
    /// Where the primary writes log backups (`backup_source_directory`).
    pub backup_source_directory: String,
    /// Where the copy job puts them (`backup_destination_directory`).
    pub backup_destination_directory: String,
    /// `file_retention_period`, minutes.
    pub file_retention_minutes: i32,
    /// The last file the copy job copied.
    pub last_copied_file: Option<String>,
    /// `log_shipping_secondary_databases.restore_delay`, minutes.
    pub restore_delay_minutes: i32,
    /// NORECOVERY or STANDBY.
    pub restore_mode: RestoreMode,
    /// Whether restores disconnect standby readers.
    pub disconnect_users: bool,
    /// The last file the restore job restored.
    pub last_restored_file: Option<String>,
    /// The secondary's alert thresholds (`log_shipping_monitor_secondary`); `None` in a
    /// snapshot recorded before pcdr read them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<RestoreThresholds>,
}

/// A log-shipping secondary's alert settings, as `log_shipping_monitor_secondary`
/// records them and `sp_add_log_shipping_secondary_database` takes them
/// (<https://learn.microsoft.com/sql/relational-databases/system-tables/log-shipping-monitor-secondary-transact-sql>).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreThresholds {
    /// `restore_threshold`: minutes between restores before an alert.
    pub restore_threshold_minutes: i32,
    /// `threshold_alert_enabled`.
    pub alert_enabled: bool,
    /// `history_retention_period`, minutes.
    pub history_retention_minutes: i32,
}

/// A file inside a backup (`RESTORE FILELISTONLY`) or of a database (`sys.master_files`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseFile {
    /// The logical name.
    pub logical_name: String,
    /// Where it lives (or lived) on disk.
    pub physical_name: String,
    /// `D` for data, `L` for log.
    pub kind: FileKind,
}

/// Data or log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileKind {
    /// Rows data.
    Data,
    /// Transaction log.
    Log,
}

/// How a full restore finishes and where its files go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FullRestore {
    /// `WITH REPLACE`: overwrite an existing database.
    pub replace: bool,
    /// `WITH RECOVERY` (true) or `WITH NORECOVERY` (false).
    pub recovery: bool,
    /// `MOVE logical TO physical`, one per file.
    pub moves: Vec<FileMove>,
}

/// One `MOVE` clause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMove {
    /// The logical file name in the backup.
    pub logical_name: String,
    /// Where to put it.
    pub physical_name: String,
}

/// The primary side of log shipping (`sp_add_log_shipping_primary_database`,
/// `sp_add_log_shipping_primary_secondary`, the backup job schedule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryLogShipping {
    /// The database.
    pub database: String,
    /// Where the backup job writes, as the primary sees it.
    pub backup_directory: String,
    /// The same folder as the secondary sees it.
    pub backup_share: String,
    /// The backup job's name.
    pub backup_job_name: String,
    /// Minutes between log backups.
    pub backup_interval_minutes: u32,
    /// Minutes a backup file is kept.
    pub retention_minutes: u32,
    /// The secondary instance.
    pub secondary_server: String,
    /// The secondary database.
    pub secondary_database: String,
}

/// The secondary side of log shipping (`sp_add_log_shipping_secondary_primary`,
/// `sp_add_log_shipping_secondary_database`, copy and restore job schedules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondaryLogShipping {
    /// The primary instance.
    pub primary_server: String,
    /// The primary database.
    pub primary_database: String,
    /// The secondary database.
    pub secondary_database: String,
    /// The share the copy job reads.
    pub backup_source_directory: String,
    /// The local folder it copies to.
    pub backup_destination_directory: String,
    /// The copy job's name.
    pub copy_job_name: String,
    /// The restore job's name.
    pub restore_job_name: String,
    /// Minutes between copy and restore runs.
    pub interval_minutes: u32,
    /// Minutes a copied file is kept.
    pub retention_minutes: u32,
    /// Minutes to wait before restoring a file.
    pub restore_delay_minutes: u32,
    /// NORECOVERY or STANDBY.
    pub restore_mode: RestoreMode,
    /// Whether a restore disconnects the users of a standby database.
    pub disconnect_users: bool,
    /// The alert thresholds to keep; `None` for the procedure's defaults.
    pub thresholds: Option<RestoreThresholds>,
}

/// The most recent full-database restore of a database, from the instance's restore history
/// (`msdb.dbo.restorehistory`, `backupset`, `backupmediafamily`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreRecord {
    /// The backup file it was restored from.
    pub file: String,
    /// When (`restore_date`, the instance's local time, in UTC).
    pub restored_at: chrono::DateTime<chrono::Utc>,
}

/// The backup set a database was last restored from (a full or a log restore), as the
/// instance's restore history records it (`msdb.dbo.restorehistory` and `backupset`).
///
/// This is the identity of a log-shipping secondary: SQL Server shows no family GUID in
/// `sys.database_recovery_status` for a database that is not started, which RESTORING
/// is, but msdb keeps the family of every backup set restored into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoredBackup {
    /// `backupset.family_guid`: the backup family of the database restored.
    pub family_guid: String,
    /// `backupset.first_lsn`.
    pub first_lsn: Lsn,
    /// `backupset.last_lsn`: the log record after the set.
    pub last_lsn: Lsn,
    /// `backupset.database_backup_lsn`: the full backup the set is based on.
    pub database_backup_lsn: Lsn,
    /// `backupset.last_recovery_fork_guid`: the recovery fork the set ends on, which the
    /// database is on after restoring it.
    pub recovery_fork: Option<String>,
}

/// The session holding a run lock another run asked for, as the instance names it
/// (`sys.dm_exec_sessions` of the session `sys.dm_tran_locks` shows holding the lock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// The holding session.
    pub session: SessionId,
    /// `host_name`: the computer the holding run connected from.
    pub host: String,
    /// `login_name`.
    pub login: String,
    /// `program_name`: pcdr names its run there (`pcdr failover run 20261127093000`).
    pub program: String,
    /// `login_time` (the instance's local time, in UTC): since when the session (and so
    /// the run) holds the lock.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' on host {}, login {}, session {}",
            self.program, self.host, self.login, self.session
        )?;
        match self.since {
            Some(since) => write!(f, ", since {}", since.format("%Y-%m-%d %H:%M:%S UTC")),
            None => Ok(()),
        }
    }
}

/// What keeps a run lock held on an instance (a connection of its own, whose session
/// owns the lock), and gives it back.
#[async_trait]
pub trait LockHandle: Send {
    /// Gives the lock back now, and closes what held it.
    async fn release(self: Box<Self>) -> PlaneResult<()>;
}

/// A run lock held on an instance. [`RunLock::release`] gives it back at once. Dropping
/// it, or the process ending, releases it too, but only once the server sees the
/// connection close: a run that follows at once may still find it held.
pub struct RunLock {
    handle: Box<dyn LockHandle>,
}

impl RunLock {
    /// A lock held by `handle`.
    pub fn new(handle: impl LockHandle + 'static) -> Self {
        Self {
            handle: Box::new(handle),
        }
    }

    /// Gives the lock back now. On failure the lock is still released when its
    /// connection closes, which the failure may well have done already.
    pub async fn release(self) -> PlaneResult<()> {
        self.handle.release().await
    }
}

impl fmt::Debug for RunLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RunLock")
    }
}

/// What asking for a run lock gave.
#[derive(Debug)]
pub enum RunLockAttempt {
    /// Granted: held until the [`RunLock`] drops.
    Granted(RunLock),
    /// Another session holds it; `None` when it was released between the refusal and
    /// the look-up of its holder.
    Held(Option<LockHolder>),
}

/// One SQL Server instance.
///
/// Every mutating call is a single statement that either happened or did not; a step
/// observes the state again rather than retrying one blindly.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait DatabasePlane: Send + Sync {
    /// The state of `database`, or `None` when it does not exist.
    async fn database_state(&self, database: &str) -> PlaneResult<Option<DatabaseState>>;

    /// `sys.master_files.redo_start_lsn` of the primary data file: the restore point of
    /// a restoring database (`None` once recovered).
    async fn redo_start_lsn(&self, database: &str) -> PlaneResult<Option<Lsn>>;

    /// The log-shipping setup of secondary `database`, or `None` when not configured.
    async fn log_shipping_snapshot(
        &self,
        database: &str,
    ) -> PlaneResult<Option<LogShippingSnapshot>>;

    /// `sp_delete_log_shipping_secondary_database`.
    async fn remove_secondary_log_shipping(&self, database: &str) -> PlaneResult<()>;

    /// The copy and restore jobs of secondary `database` that SQL Server Agent is
    /// running now (`msdb.dbo.sysjobactivity` of the current Agent session), by name;
    /// none when log shipping is not configured.
    async fn running_log_shipping_jobs(&self, database: &str) -> PlaneResult<Vec<String>>;

    /// `sp_stop_job`: asks SQL Server Agent to stop the job `name`, which stops later; a
    /// job that is no longer running (22022) is not an error.
    async fn stop_job(&self, name: &str) -> PlaneResult<()>;

    /// Whether `database` is set up as a log-shipping primary: configured, with its
    /// backup job enabled, as the setup's last statement leaves it. A setup stopped
    /// part-way is not.
    async fn is_log_shipping_primary(&self, database: &str) -> PlaneResult<bool>;

    /// Whether `database` is set up as a log-shipping secondary: configured, with its
    /// copy and restore jobs enabled, as the setup's last statements leave it.
    async fn is_log_shipping_secondary(&self, database: &str) -> PlaneResult<bool>;

    /// `RESTORE HEADERONLY` of a file.
    async fn backup_header(&self, file: &str) -> PlaneResult<BackupHeader>;

    /// `RESTORE LOG … WITH NORECOVERY`.
    async fn restore_log(&self, database: &str, file: &str) -> PlaneResult<()>;

    /// `RESTORE DATABASE … WITH RECOVERY`, run from `master`.
    async fn recover(&self, database: &str) -> PlaneResult<()>;

    /// User sessions using `database`, other than pcdr's own.
    async fn sessions(&self, database: &str) -> PlaneResult<Vec<SessionId>>;

    /// `KILL`.
    async fn kill_session(&self, session: SessionId) -> PlaneResult<()>;

    /// `ALTER DATABASE … SET PARTNER FAILOVER`, on the principal: the mirror becomes the
    /// principal (1416 not mirrored, 1422 the mirror not caught up are errors).
    async fn fail_over_mirroring(&self, database: &str) -> PlaneResult<()>;

    /// `ALTER DATABASE … SET PARTNER OFF`; a database that is not mirrored (1416) is not
    /// an error.
    async fn remove_mirroring(&self, database: &str) -> PlaneResult<()>;

    /// `BACKUP DATABASE … WITH INIT, CHECKSUM`; with `copy_only`, `COPY_ONLY` too (the
    /// backup leaves the database's backup sequence as it was).
    async fn backup_database(&self, database: &str, file: &str, copy_only: bool)
    -> PlaneResult<()>;

    /// `BACKUP LOG … WITH NORECOVERY, INIT, CHECKSUM`: the tail-log backup that leaves
    /// `database` RESTORING (it needs the database to itself: 3101 while others use it).
    async fn backup_tail_log(&self, database: &str, file: &str) -> PlaneResult<()>;

    /// Removes the primary side of log shipping for `database` (its secondaries, then
    /// its own setup and backup job); nothing to do when it is not a log-shipping
    /// primary.
    async fn remove_primary_log_shipping(&self, database: &str) -> PlaneResult<()>;

    /// `RESTORE VERIFYONLY … WITH CHECKSUM`.
    async fn verify_backup(&self, file: &str) -> PlaneResult<()>;

    /// `RESTORE FILELISTONLY`.
    async fn backup_file_list(&self, file: &str) -> PlaneResult<Vec<DatabaseFile>>;

    /// The files of `database` (`sys.master_files`).
    async fn database_files(&self, database: &str) -> PlaneResult<Vec<DatabaseFile>>;

    /// `RESTORE DATABASE … FROM DISK …` with the given options.
    async fn restore_database(
        &self,
        database: &str,
        file: &str,
        options: &FullRestore,
    ) -> PlaneResult<()>;

    /// Sets up the primary side of log shipping; jobs are enabled last.
    async fn setup_log_shipping_primary(&self, setup: &PrimaryLogShipping) -> PlaneResult<()>;

    /// Sets up the secondary side of log shipping; jobs are enabled last.
    async fn setup_log_shipping_secondary(&self, setup: &SecondaryLogShipping) -> PlaneResult<()>;

    /// The instance's own name (`@@SERVERNAME`), as log shipping records servers.
    async fn server_name(&self) -> PlaneResult<String>;

    /// The instance's clock (`SYSDATETIME()`), the clock it dates its backups in
    /// (`BackupFinishDate`), in UTC: the instance's local time converted with the offset
    /// from UTC it gives, as every date of the instance is, so it compares with the dates
    /// of its backups whatever its time zone. Its own reading of the time, which need not
    /// agree with pcdr's.
    async fn server_time(&self) -> PlaneResult<DateTime<Utc>>;

    /// The most recent full-database restore of `database` on this instance, if any
    /// (log restores do not count).
    async fn last_restore(&self, database: &str) -> PlaneResult<Option<RestoreRecord>>;

    /// The account SQL Server Agent runs as (`sys.dm_server_services`).
    async fn agent_service_account(&self) -> PlaneResult<Option<String>>;

    /// The backup set `database` was last restored from (full or log), from msdb's
    /// restore history; `None` when msdb records no restore of it.
    async fn last_restored_backup(&self, database: &str) -> PlaneResult<Option<RestoredBackup>>;

    /// The backup set msdb records as restored into `database` from the file `file` (the
    /// newest, when it was restored more than once); `None` when msdb records no restore
    /// of `database` from it. The proof that a file SQL Server can no longer read was
    /// applied once, and what it held.
    async fn restored_from_file(
        &self,
        database: &str,
        file: &str,
    ) -> PlaneResult<Option<RestoredBackup>>;

    /// The files of the log backups this instance took of `database` that end after
    /// `after` (among the newest 50 msdb records: `backupset`, `backupmediafamily`),
    /// the newest first. Older ones are not named: their files may be long gone.
    async fn log_backups_taken_after(&self, database: &str, after: Lsn)
    -> PlaneResult<Vec<String>>;

    /// Takes the exclusive run lock `resource` over a connection of its own, named
    /// `run_name` (the session's `program_name`), without waiting: granted, it is held
    /// until the returned [`RunLock`] drops; refused, the answer names the holder.
    async fn take_run_lock(&self, resource: &str, run_name: &str) -> PlaneResult<RunLockAttempt>;
}
