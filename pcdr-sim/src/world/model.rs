//! The world's state as one serializable value: instances and their databases, msdb,
//! the pool, the clock, the message counter, the ground truth and the faults.
//!
//! Plain data with small queries; the rules that change it live in the sibling modules
//! (`dbops`, `logship`, `traffic`, `disaster`). `store.rs` keeps it in SQLite.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::backup_file::{FileEntry, Message};
use crate::guid::Guid;
use crate::world::faults::Faults;
use crate::world::msdb::Msdb;
use crate::world::version::SqlVersion;

pub use crate::world::instance::{InstanceId, Site};

/// The chat database's name (`mgc`), on the pool's principal and its copies.
pub(crate) const CHAT_DB: &str = "mgc";
/// The compliance database's name (`mgccomp`).
pub(crate) const COMPLIANCE_DB: &str = "mgccomp";

/// A database's state as `sys.databases` reports it in `state` and `state_desc`
/// (sys.databases (Transact-SQL) on Microsoft Learn); only the three states the
/// emulator reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DbState {
    /// Available; read-only when in standby.
    Online,
    /// Being restored: log backups can be applied, nobody can use it.
    Restoring,
    /// Taken offline (`ALTER DATABASE … SET OFFLINE`): nobody can use it (942).
    Offline,
}

impl DbState {
    /// `state` and `state_desc`.
    pub(crate) fn code_and_desc(self) -> (i32, &'static str) {
        match self {
            DbState::Online => (0, "ONLINE"),
            DbState::Restoring => (1, "RESTORING"),
            DbState::Offline => (6, "OFFLINE"),
        }
    }
}

/// Who may connect to a database: `sys.databases.user_access_desc`, set by `ALTER
/// DATABASE … SET SINGLE_USER | RESTRICTED_USER | MULTI_USER` (ALTER DATABASE SET
/// Options (Transact-SQL) on Microsoft Learn).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserAccess {
    /// Every user allowed to connect (the default).
    MultiUser,
    /// One session at a time; others get 924.
    SingleUser,
    /// Only members of `db_owner`, `dbcreator` or `sysadmin`.
    RestrictedUser,
}

impl UserAccess {
    /// `user_access_desc`.
    pub(crate) fn desc(self) -> &'static str {
        match self {
            UserAccess::MultiUser => "MULTI_USER",
            UserAccess::SingleUser => "SINGLE_USER",
            UserAccess::RestrictedUser => "RESTRICTED_USER",
        }
    }
}

/// A database's role in database mirroring: `sys.database_mirroring.mirroring_role_desc`
/// (sys.database_mirroring (Transact-SQL) on Microsoft Learn).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MirrorRole {
    /// Serves the database.
    Principal,
    /// Receives the log; stays RESTORING.
    Mirror,
}

/// An active mirroring session of one database, as one partner sees it in
/// `sys.database_mirroring`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mirroring {
    /// `mirroring_guid`, shared by both partners.
    pub guid: Guid,
    /// This side's role.
    pub role: MirrorRole,
    /// The partner's endpoint, `TCP://host:port`.
    pub partner: String,
}

/// One database of an instance: what `sys.databases`, `sys.master_files` and
/// `sys.database_recovery_status` show of it, and the chat messages it holds (the
/// emulator's stand-in for data pages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Database {
    /// Its name, as created; SQL Server compares names case-insensitively.
    pub name: String,
    /// `database_id`.
    pub id: i32,
    /// `state_desc`: online, restoring or offline.
    pub state: DbState,
    /// ONLINE read-only between log restores (`RESTORE … WITH STANDBY`).
    pub standby: bool,
    /// `recovery_model_desc`: FULL or SIMPLE.
    pub recovery_model: String,
    /// `user_access_desc`: who may connect.
    pub user_access: UserAccess,
    /// The LSN of the next log record: the end of the log of an online database, the
    /// redo point (`redo_start_lsn`) of a restoring one.
    pub lsn: u128,
    /// Where the next log backup starts (the previous log backup's LastLSN).
    pub log_backup_lsn: u128,
    /// `sys.database_recovery_status.family_guid`: the backup family; a log backup
    /// of another family is refused with 4330.
    pub family_guid: Guid,
    /// `sys.database_recovery_status.database_guid`: this database's own identity,
    /// written into its backups as `BindingID`; a restore gives the restored database a
    /// new one (RESTORE HEADERONLY, Microsoft Learn), so a log-shipped copy and its
    /// source share a family but not this.
    pub database_guid: Guid,
    /// `sys.database_recovery_status.recovery_fork_guid`: the recovery fork the
    /// database is on. A log backup that starts on another fork is on another recovery
    /// path and refused with 4330; recovering a restored database starts a new fork
    /// ("Recovery Paths" on Microsoft Learn).
    #[serde(default)]
    pub recovery_fork_guid: Guid,
    /// Where its newest recovery forked off the fork it was restoring on, if it was
    /// ever recovered from a restore: the first log backup after it starts before that
    /// point and spans it ([`ForkPoint`]).
    #[serde(default)]
    pub fork_point: Option<ForkPoint>,
    /// Where its newest full backup began (`DatabaseBackupLSN` of its next backups);
    /// zero before the first one.
    #[serde(default)]
    pub database_backup_lsn: u128,
    /// The mirroring session, if any.
    pub mirroring: Option<Mirroring>,
    /// Its data and log files (`sys.master_files`: logical name, physical path).
    pub files: Vec<FileEntry>,
    /// The chat messages it holds, in LSN order.
    pub messages: Vec<Message>,
}

/// Where a recovery started a new recovery fork: the fork the database was restoring on
/// and the LSN it was recovered at. "Recovery Paths (SQL Server)"
/// (<https://learn.microsoft.com/en-us/sql/relational-databases/backup-restore/recovery-paths-sql-server>):
/// the new path branches off the old one at this point, so a database still restoring on
/// the old fork at (or before) it can follow the new path, and one that went past it on
/// the old fork cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkPoint {
    /// The fork the database was on before the recovery (`FirstRecoveryForkID` of a log
    /// backup spanning the point).
    pub fork: Guid,
    /// The LSN of the fork point (`ForkPointLSN`).
    pub lsn: u128,
}

impl Database {
    /// Log backups can be applied: RESTORING, or standby.
    pub fn accepts_logs(&self) -> bool {
        self.state == DbState::Restoring || self.standby
    }

    /// Recovered and writable.
    pub fn is_recovered(&self) -> bool {
        self.state == DbState::Online && !self.standby
    }
}

/// The first session id of background sessions (readers, running jobs), above the TDS
/// server's.
pub(crate) const FIRST_BACKGROUND_SPID: u16 = 1000;

/// A read-only session held open on a standby database (a report reader).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderSession {
    /// Its session id; readers use ids from 1000 up, above the TDS server's.
    pub spid: u16,
    /// The database it has open.
    pub database: String,
    /// The login it connected with.
    pub login: String,
}

/// One SQL Server instance: its databases, its msdb, the reader sessions held open on
/// it, and counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// Which of the four instances this is.
    pub id: InstanceId,
    /// Its databases by name (master, msdb, mgc, mgccomp).
    pub databases: BTreeMap<String, Database>,
    /// Its msdb log-shipping tables and jobs.
    pub msdb: Msdb,
    /// Reader sessions on standby databases.
    pub readers: Vec<ReaderSession>,
    /// The next `database_id` to hand out.
    pub next_database_id: i32,
    /// Statements received so far (for the "n-th statement" fault).
    pub statements: u64,
}

impl Instance {
    /// The database named `name` (SQL Server compares names case-insensitively).
    pub fn database(&self, name: &str) -> Option<&Database> {
        self.databases
            .values()
            .find(|d| d.name.eq_ignore_ascii_case(name))
    }

    /// The database named `name`, mutably.
    pub(crate) fn database_mut(&mut self, name: &str) -> Option<&mut Database> {
        self.databases
            .values_mut()
            .find(|d| d.name.eq_ignore_ascii_case(name))
    }

    /// A session id for a new background session (a reader, a running job's): above
    /// every one in use, from 1000 up.
    pub(crate) fn next_background_spid(&self) -> u16 {
        let readers = self.readers.iter().map(|r| r.spid);
        let jobs = self.msdb.activity.iter().filter_map(|a| a.holds.as_ref());
        readers
            .chain(jobs.map(|h| h.spid))
            .max()
            .map_or(FIRST_BACKGROUND_SPID, |spid| spid.saturating_add(1))
            .max(FIRST_BACKGROUND_SPID)
    }

    /// `KILL` of a background session; whether there was one. A reader ends. A running
    /// job's session ends too, but not the job: KILL ends a session ("KILL
    /// (Transact-SQL)"), while only `sp_stop_job` forces the process a job step runs
    /// to end ("sp_stop_job (Transact-SQL)"), so `sqllogship.exe` goes on with its next
    /// restore from a new session, which holds the database again.
    pub(crate) fn kill_background_session(&mut self, spid: u16) -> bool {
        let before = self.readers.len();
        self.readers.retain(|r| r.spid != spid);
        if self.readers.len() < before {
            return true;
        }
        let next = self.next_background_spid();
        let held = self
            .msdb
            .activity
            .iter_mut()
            .filter_map(|a| a.holds.as_mut())
            .find(|h| h.spid == spid);
        match held {
            Some(held) => {
                held.spid = next;
                true
            }
            None => false,
        }
    }

    /// The database with `database_id` `id`.
    pub(crate) fn database_by_id(&self, id: i32) -> Option<&Database> {
        self.databases.values().find(|d| d.id == id)
    }
}

/// The Persistent Chat pool as the emulated Management Shell reports and changes it
/// (`Get-CsPersistentChatState`, `Set-CsPersistentChatState`,
/// `Set-CsPersistentChatActiveServer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// Its FQDN, which the cmdlets' `-Identity` values name.
    pub fqdn: String,
    /// The pool state: `true` for `FailedOver`, `false` for `Normal`.
    pub failed_over: bool,
    /// Chat servers of the primary site.
    pub primary_servers: Vec<String>,
    /// Chat servers of the backup site.
    pub backup_servers: Vec<String>,
    /// The active chat servers (`Set-CsPersistentChatActiveServer`).
    pub active: Vec<String>,
}

/// The settings the world was created with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Restore and backup throughput in MB/s; 0 means instantaneous.
    pub restore_mb_per_s: f64,
    /// Milliseconds every statement waits before it runs.
    pub statement_latency_ms: u64,
    /// Messages per log backup when the clock runs the backup job after traffic.
    pub messages_per_log: u32,
    /// The SQL Server version every instance presents; absent (2016) in worlds written
    /// before it existed.
    #[serde(default)]
    pub sql_version: SqlVersion,
    /// The instances' offset from UTC, in minutes (east positive): their local clock,
    /// which `SYSDATETIME()`, `GETDATE()`, backup dates and msdb's dates show, is the
    /// world clock (UTC) plus this. Every instance of the world is in the same time zone.
    /// Absent (0) in worlds written before it existed.
    #[serde(default)]
    pub utc_offset_minutes: i32,
    /// The size in bytes of each chat database's data file when the world creates it;
    /// absent (0) in worlds written before it existed.
    #[serde(default)]
    pub db_size_bytes: u64,
}

impl Settings {
    /// The instances' local time at the world time `t`: SQL Server dates its backups
    /// and its msdb history in the local time of the computer it runs on, and records
    /// the offset beside them (`backupset.time_zone`).
    pub fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        (t + Duration::minutes(i64::from(self.utc_offset_minutes))).naive_utc()
    }

    /// How long moving `bytes` through a backup or restore takes at
    /// [`restore_mb_per_s`](Self::restore_mb_per_s) (at most a day); `None` when
    /// instantaneous.
    pub fn transfer_time(&self, bytes: u64) -> Option<std::time::Duration> {
        let rate = self.restore_mb_per_s;
        let seconds = bytes as f64 / (rate * 1_048_576.0);
        (rate > 0.0).then(|| std::time::Duration::from_secs_f64(seconds.min(86_400.0)))
    }

    /// `backupset.time_zone`: the offset from UTC "in 15-minute intervals"
    /// (<https://learn.microsoft.com/sql/relational-databases/system-tables/backupset-transact-sql>).
    pub fn time_zone(&self) -> i32 {
        self.utc_offset_minutes / 15
    }
}

/// What a disaster left as the promise of log shipping: every message up to this id
/// reached a log backup that survived, so failover must not lose it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// Every message id up to and including this one must survive a failover.
    pub guaranteed_through: u64,
    /// The highest message id committed before the disaster.
    pub committed_through: u64,
}

/// The whole emulated world as one value: what `world.sqlite` stores and
/// [`World::read`](crate::world::World::read) returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorldState {
    /// The world clock (UTC); log-shipping jobs run on it.
    pub clock: DateTime<Utc>,
    /// The four instances, by id.
    pub instances: BTreeMap<InstanceId, Instance>,
    /// The Persistent Chat pool.
    pub pool: Pool,
    /// The id the next chat message gets.
    pub next_message_id: u64,
    /// Set by a disaster; [`World::verify`](crate::world::World::verify) checks it.
    pub ground_truth: Option<GroundTruth>,
    /// The faults injected now ([`faults`](crate::world::faults)).
    pub faults: Faults,
    /// The settings the world was created with.
    pub settings: Settings,
}

impl WorldState {
    /// The instance `id`. Every world holds all four.
    pub fn instance(&self, id: InstanceId) -> Option<&Instance> {
        self.instances.get(&id)
    }

    /// The instance `id`, mutably.
    pub(crate) fn instance_mut(&mut self, id: InstanceId) -> Option<&mut Instance> {
        self.instances.get_mut(&id)
    }

    /// The instance whose chat database is the pool's principal: the backup instance
    /// after a failover, the primary otherwise; or that site's mirror instance after a
    /// mirroring failover made its copy the principal.
    pub(crate) fn chat_principal(&self) -> InstanceId {
        let site = if self.pool.failed_over {
            InstanceId::Backup
        } else {
            InstanceId::Primary
        };
        let mirror = site.mirror_partner();
        let mirror_is_principal = self
            .instance(mirror)
            .and_then(|i| i.database(CHAT_DB))
            .and_then(|db| db.mirroring.as_ref())
            .is_some_and(|m| m.role == MirrorRole::Principal);
        if mirror_is_principal { mirror } else { site }
    }
}
