//! A small stateful world implementing the three planes in memory, with fault
//! injection and a count of every effective mutating call. The runbook tests drive whole
//! procedures through it, crash them at every step, and check that resuming converges
//! with nothing done twice. The file and pool conformance suites run against it too
//! (`conformance.rs` here), through a hook that writes and reads its files directly.

use crate::conformance::files;
use crate::error::{PlaneError, PlaneResult};
use crate::log_chain::{BackupHeader, BackupType, Lsn};
use crate::planes::{
    ChatPoolPlane, DatabaseFile, DatabasePlane, DatabaseState, DbState, FileEntry, FileKind,
    FilePlane, FullRestore, LockHandle, LockHolder, LogShippingSnapshot, MirrorRequest, Mirroring,
    MirroringRole, PoolState, PrimaryLogShipping, RestoreRecord, RestoredBackup, RunLock,
    RunLockAttempt, SecondaryLogShipping, SessionId, UserAccess,
};
use crate::procedure::Planes;
use crate::topology::{RestoreMode, SiteRole};
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

pub const SHARE: &str = r"\\fs01.contoso.com\pchat-logs";
pub const COPY: &str = r"D:\LogShipping\mgc";
/// The copy folder as pcdr reaches it: the example topology's
/// `copy_destination_from_pcdr`, another path to [`COPY`].
pub const COPY_FROM_PCDR: &str = r"\\sql-dal.contoso.com\D$\LogShipping\mgc";
const FAMILY: &str = "FAMILY-ORIGINAL";

/// When and how an injected fault strikes.
#[derive(Debug, Clone)]
pub enum Fault {
    /// The call fails before it has any effect.
    Before(PlaneError),
    /// The call takes effect, then the connection drops before the answer.
    After(PlaneError),
}

#[derive(Debug, Clone)]
pub struct Db {
    pub state: DbState,
    pub family: String,
    pub point: Lsn,
    pub mirrored: bool,
    pub sessions: Vec<i32>,
    pub restored_from: Option<String>,
}

/// A file: its size, its header when it is a backup, and its bytes when a test wrote
/// them (the backups the world makes have a size and a header only).
#[derive(Debug, Clone)]
pub struct FakeFile {
    pub size: u64,
    pub header: Option<BackupHeader>,
    pub bytes: Option<Vec<u8>>,
}

impl FakeFile {
    fn backup(size: u64, header: BackupHeader) -> Self {
        Self {
            size,
            header: Some(header),
            bytes: None,
        }
    }
}

#[derive(Debug, Default)]
pub struct State {
    pub primary_reachable: bool,
    pub primary: Option<Db>,
    pub backup: Option<Db>,
    pub backup_compliance_mirrored: bool,
    pub secondary_configured: bool,
    /// The log-shipping jobs running on the backup instance, by name.
    pub running_jobs: Vec<String>,
    pub primary_configured: bool,
    /// Files by full path.
    pub files: HashMap<String, FakeFile>,
    /// The folders that exist: the share, the copy folder, and those a test made.
    pub folders: Vec<String>,
    pub pool: Option<PoolState>,
    pub active: Vec<String>,
    /// Effective mutating calls, by "operation argument".
    pub calls: HashMap<String, usize>,
    /// Reads, by operation.
    pub reads: HashMap<&'static str, usize>,
    /// Run locks held, by "site resource": the name of the run holding each.
    pub run_locks: HashMap<String, String>,
    /// How many run locks were given back explicitly (not just dropped).
    pub run_locks_released: usize,
    /// Faults by operation name and a text its argument must contain, consumed when
    /// they strike.
    pub faults: Vec<(&'static str, &'static str, Fault)>,
}

/// The whole world, shared by the planes.
#[derive(Clone)]
pub struct FakeWorld(pub Arc<Mutex<State>>);

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0)
        .single()
        .unwrap_or_default()
}

pub fn log_name(index: u32) -> String {
    format!("mgc_20261127{:06}.trn", index)
}

fn log_header(index: u32) -> BackupHeader {
    BackupHeader {
        database_name: "mgc".into(),
        backup_type: BackupType::Log,
        first_lsn: Lsn(u128::from(index) * 100),
        last_lsn: Lsn(u128::from(index + 1) * 100),
        family_guid: FAMILY.into(),
        binding_id: String::new(),
        backup_start: at(i64::from(index) * 60),
        backup_finish: at(i64::from(index) * 60 + 5),
        database_backup_lsn: Lsn(0),
        first_recovery_fork: None,
        backup_size: 0,
        recovery_fork: None,
    }
}

fn join(folder: &str, name: &str) -> String {
    format!("{folder}\\{name}")
}

/// The name of `path` inside `folder`, when it lies directly in it.
fn child<'a>(path: &'a str, folder: &str) -> Option<&'a str> {
    let name = path.strip_prefix(folder)?.strip_prefix('\\')?;
    (!name.contains('\\')).then_some(name)
}

impl FakeWorld {
    /// Log shipping running: logs 1..=total on the share, the first `copied` in the copy
    /// folder, the first `restored` applied; the primary site down.
    pub fn failover_ready(total: u32, copied: u32, restored: u32) -> Self {
        let mut state = State {
            backup: Some(Db {
                state: DbState::Restoring,
                family: FAMILY.into(),
                point: Lsn(u128::from(restored + 1) * 100),
                mirrored: false,
                sessions: vec![61],
                restored_from: None,
            }),
            backup_compliance_mirrored: true,
            secondary_configured: true,
            pool: Some(PoolState::Normal),
            active: vec!["pc1.contoso.com".into(), "pc2.contoso.com".into()],
            folders: vec![SHARE.into(), COPY.into()],
            ..State::default()
        };
        for index in 1..=total {
            let header = log_header(index);
            let file = FakeFile::backup(1000 + u64::from(index), header);
            if index <= copied {
                state
                    .files
                    .insert(join(COPY, &log_name(index)), file.clone());
            }
            state.files.insert(join(SHARE, &log_name(index)), file);
        }
        Self(Arc::new(Mutex::new(state)))
    }

    /// The world after a failover and a Topology Builder rebuild of the primary site.
    pub fn failback_ready() -> Self {
        let world = Self::failover_ready(3, 3, 3);
        {
            let mut s = world.lock();
            s.primary_reachable = true;
            s.primary = Some(Db {
                state: DbState::Online,
                family: "FAMILY-REBUILT".into(),
                point: Lsn(0),
                mirrored: true,
                sessions: vec![70],
                restored_from: None,
            });
            if let Some(b) = s.backup.as_mut() {
                b.state = DbState::Online;
                b.mirrored = true;
            }
            s.secondary_configured = false;
            s.pool = Some(PoolState::FailedOver);
            s.active = vec!["pc3.contoso.com".into(), "pc4.contoso.com".into()];
        }
        world
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn planes(&self) -> Planes {
        Planes {
            primary: Arc::new(FakeSql {
                world: self.clone(),
                site: SiteRole::Primary,
            }),
            primary_mirror: None,
            backup: Arc::new(FakeSql {
                world: self.clone(),
                site: SiteRole::Backup,
            }),
            files: Arc::new(self.clone()),
            pool: Arc::new(self.clone()),
        }
    }

    pub fn inject(&self, operation: &'static str, fault: Fault) {
        self.inject_when(operation, "", fault);
    }

    /// Injects a fault into the first call of `operation` whose argument contains `needle`.
    pub fn inject_when(&self, operation: &'static str, needle: &'static str, fault: Fault) {
        self.lock().faults.push((operation, needle, fault));
    }

    /// Calls made more than once with the same argument.
    pub fn repeated_calls(&self) -> Vec<(String, usize)> {
        let mut repeated: Vec<(String, usize)> = self
            .lock()
            .calls
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, n)| (k.clone(), *n))
            .collect();
        repeated.sort();
        repeated
    }

    pub fn count(&self, prefix: &str) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    }

    /// Runs a mutating operation: a `Before` fault stops it, an `After` fault lets it
    /// take effect and then reports a dropped connection.
    fn mutate<T>(
        &self,
        operation: &'static str,
        key: String,
        effect: impl FnOnce(&mut State) -> PlaneResult<T>,
    ) -> PlaneResult<T> {
        let mut state = self.lock();
        let fault = take_fault(&mut state, operation, &key);
        if let Some(Fault::Before(e)) = fault {
            return Err(e);
        }
        let result = effect(&mut state)?;
        *state.calls.entry(format!("{operation} {key}")).or_default() += 1;
        match fault {
            Some(Fault::After(e)) => Err(e),
            _ => Ok(result),
        }
    }

    fn read<T>(
        &self,
        operation: &'static str,
        read: impl FnOnce(&State) -> PlaneResult<T>,
    ) -> PlaneResult<T> {
        let mut state = self.lock();
        *state.reads.entry(operation).or_default() += 1;
        match take_fault(&mut state, operation, "") {
            Some(Fault::Before(e) | Fault::After(e)) => Err(e),
            None => read(&state),
        }
    }
}

fn take_fault(state: &mut State, operation: &str, key: &str) -> Option<Fault> {
    let index = state
        .faults
        .iter()
        .position(|(op, needle, _)| *op == operation && key.contains(needle))?;
    Some(state.faults.remove(index).2)
}

pub struct FakeSql {
    world: FakeWorld,
    site: SiteRole,
}

fn unreachable() -> PlaneError {
    PlaneError::Unreachable {
        target: "primary".into(),
        message: "site down".into(),
    }
}

impl FakeSql {
    /// The chat database's `database_guid`: one per instance, which is all the
    /// failback's checks tell apart.
    fn database_guid(&self) -> String {
        format!("{:?}-mgc", self.site)
    }

    fn check_reachable(&self, state: &State) -> PlaneResult<()> {
        if self.site == SiteRole::Primary && !state.primary_reachable {
            return Err(unreachable());
        }
        Ok(())
    }

    fn db<'a>(&self, state: &'a State) -> PlaneResult<Option<&'a Db>> {
        self.check_reachable(state)?;
        Ok(match self.site {
            SiteRole::Primary => state.primary.as_ref(),
            SiteRole::Backup => state.backup.as_ref(),
        })
    }

    fn db_mut<'a>(&self, state: &'a mut State) -> PlaneResult<&'a mut Db> {
        self.check_reachable(state)?;
        let db = match self.site {
            SiteRole::Primary => state.primary.as_mut(),
            SiteRole::Backup => state.backup.as_mut(),
        };
        db.ok_or_else(|| PlaneError::sql(911, 16, "database does not exist"))
    }

    fn site_op(&self, op: &'static str) -> &'static str {
        op
    }
}

#[async_trait]
impl DatabasePlane for FakeSql {
    async fn database_state(&self, database: &str) -> PlaneResult<Option<DatabaseState>> {
        self.world.read("database_state", |s| {
            if database == "mgccomp" {
                self.check_reachable(s)?;
                let mirrored = self.site == SiteRole::Backup && s.backup_compliance_mirrored;
                return Ok(Some(DatabaseState {
                    state: DbState::Online,
                    in_standby: false,
                    user_access: UserAccess::MultiUser,
                    mirroring: mirrored.then(|| Mirroring {
                        role: MirroringRole::Principal,
                        partner: "TCP://m:5022".into(),
                        synchronized: true,
                    }),
                    family_guid: None,
                    database_guid: None,
                }));
            }
            Ok(self.db(s)?.map(|db| DatabaseState {
                state: db.state,
                in_standby: false,
                user_access: UserAccess::MultiUser,
                mirroring: db.mirrored.then(|| Mirroring {
                    role: MirroringRole::Principal,
                    partner: "TCP://m:5022".into(),
                    synchronized: true,
                }),
                // NULL while the database does not start, as SQL Server shows it.
                family_guid: (db.state != DbState::Restoring).then(|| db.family.clone()),
                database_guid: Some(self.database_guid()),
            }))
        })
    }

    async fn redo_start_lsn(&self, _: &str) -> PlaneResult<Option<Lsn>> {
        self.world.read("redo_start_lsn", |s| {
            Ok(self
                .db(s)?
                .filter(|d| d.state == DbState::Restoring)
                .map(|d| d.point))
        })
    }

    async fn log_shipping_snapshot(&self, _: &str) -> PlaneResult<Option<LogShippingSnapshot>> {
        self.world.read("log_shipping_snapshot", |s| {
            self.check_reachable(s)?;
            let configured = self.site == SiteRole::Backup && s.secondary_configured;
            Ok(configured.then(|| LogShippingSnapshot {
                primary_server: r"sql-atl.contoso.com\PCHAT".into(),
                primary_database: "mgc".into(),
                backup_source_directory: SHARE.into(),
                backup_destination_directory: COPY.into(),
                file_retention_minutes: 4320,
                last_copied_file: None,
                restore_delay_minutes: 0,
                restore_mode: RestoreMode::NoRecovery,
                disconnect_users: false,
                last_restored_file: None,
                thresholds: None,
            }))
        })
    }

    async fn remove_secondary_log_shipping(&self, database: &str) -> PlaneResult<()> {
        self.world
            .mutate("remove_secondary_log_shipping", database.into(), |s| {
                s.secondary_configured = false;
                Ok(())
            })
    }

    async fn running_log_shipping_jobs(&self, _: &str) -> PlaneResult<Vec<String>> {
        self.world.read("running_log_shipping_jobs", |s| {
            self.check_reachable(s)?;
            Ok(
                match self.site == SiteRole::Backup && s.secondary_configured {
                    true => s.running_jobs.clone(),
                    false => Vec::new(),
                },
            )
        })
    }

    async fn stop_job(&self, name: &str) -> PlaneResult<()> {
        self.world.mutate("stop_job", name.into(), |s| {
            s.running_jobs.retain(|job| job != name);
            Ok(())
        })
    }

    async fn is_log_shipping_primary(&self, _: &str) -> PlaneResult<bool> {
        self.world.read("is_log_shipping_primary", |s| {
            Ok(self.site == SiteRole::Primary && s.primary_configured)
        })
    }

    async fn is_log_shipping_secondary(&self, _: &str) -> PlaneResult<bool> {
        self.world.read("is_log_shipping_secondary", |s| {
            self.check_reachable(s)?;
            Ok(self.site == SiteRole::Backup && s.secondary_configured)
        })
    }

    async fn backup_header(&self, file: &str) -> PlaneResult<BackupHeader> {
        self.world.read("backup_header", |s| header_of(s, file))
    }

    async fn restore_log(&self, database: &str, file: &str) -> PlaneResult<()> {
        let world = self.world.clone();
        world.mutate("restore_log", file.into(), |s| {
            let header = header_of(s, file)?;
            let db = self.db_mut(s)?;
            if db.state != DbState::Restoring {
                return Err(PlaneError::sql(3117, 16, "not restoring"));
            }
            if header.first_lsn > db.point {
                return Err(PlaneError::sql(
                    4305,
                    16,
                    format!("too recent for {database}"),
                ));
            }
            if header.last_lsn <= db.point {
                return Err(PlaneError::sql(4326, 16, "too early"));
            }
            db.point = header.last_lsn;
            Ok(())
        })
    }

    async fn recover(&self, database: &str) -> PlaneResult<()> {
        self.world
            .mutate(self.site_op("recover"), database.into(), |s| {
                let db = self.db_mut(s)?;
                if !db.sessions.is_empty() {
                    return Err(PlaneError::sql(3101, 16, "in use"));
                }
                db.state = DbState::Online;
                Ok(())
            })
    }

    async fn sessions(&self, _: &str) -> PlaneResult<Vec<SessionId>> {
        self.world.read("sessions", |s| {
            Ok(self
                .db(s)?
                .map(|d| d.sessions.iter().map(|id| SessionId(*id)).collect())
                .unwrap_or_default())
        })
    }

    async fn kill_session(&self, session: SessionId) -> PlaneResult<()> {
        self.world.mutate("kill_session", session.to_string(), |s| {
            let db = self.db_mut(s)?;
            db.sessions.retain(|id| *id != session.0);
            Ok(())
        })
    }

    async fn fail_over_mirroring(&self, database: &str) -> PlaneResult<()> {
        Err(PlaneError::Unexpected(format!(
            "the fake world has no mirror partner for {database}"
        )))
    }

    async fn remove_mirroring(&self, database: &str) -> PlaneResult<()> {
        let key = format!("{:?} {database}", self.site);
        self.world.mutate("remove_mirroring", key, |s| {
            if database == "mgccomp" {
                s.backup_compliance_mirrored = false;
            } else {
                self.db_mut(s)?.mirrored = false;
            }
            Ok(())
        })
    }

    async fn backup_database(&self, _: &str, file: &str, _: bool) -> PlaneResult<()> {
        self.world.mutate("backup_database", file.into(), |s| {
            let family = self.db_mut(s)?.family.clone();
            let header = BackupHeader {
                database_name: "mgc".into(),
                backup_type: BackupType::Database,
                first_lsn: Lsn(1),
                last_lsn: Lsn(2),
                family_guid: family,
                binding_id: self.database_guid(),
                backup_start: at(0),
                backup_finish: at(1),
                database_backup_lsn: Lsn(0),
                first_recovery_fork: None,
                recovery_fork: None,
                backup_size: 10_000,
            };
            s.files
                .insert(file.to_string(), FakeFile::backup(10_000, header));
            Ok(())
        })
    }

    async fn backup_tail_log(&self, database: &str, _: &str) -> PlaneResult<()> {
        Err(PlaneError::Unexpected(format!(
            "the fake world takes no tail-log backup of {database} (the switchover runs against pcdr-sim)"
        )))
    }

    async fn remove_primary_log_shipping(&self, database: &str) -> PlaneResult<()> {
        self.world
            .mutate("remove_primary_log_shipping", database.into(), |s| {
                s.primary_configured = false;
                Ok(())
            })
    }

    async fn log_backups_taken_after(&self, _: &str, _: Lsn) -> PlaneResult<Vec<String>> {
        Ok(Vec::new())
    }

    async fn verify_backup(&self, file: &str) -> PlaneResult<()> {
        self.world.read("verify_backup", |s| {
            s.files
                .get(file)
                .map(|_| ())
                .ok_or_else(|| PlaneError::sql(3201, 16, "no file"))
        })
    }

    async fn backup_file_list(&self, _: &str) -> PlaneResult<Vec<DatabaseFile>> {
        self.world.read("backup_file_list", |_| Ok(files("X")))
    }

    async fn database_files(&self, _: &str) -> PlaneResult<Vec<DatabaseFile>> {
        let drive = if self.site == SiteRole::Primary {
            "P"
        } else {
            "B"
        };
        self.world.read("database_files", |_| Ok(files(drive)))
    }

    async fn restore_database(
        &self,
        database: &str,
        file: &str,
        options: &FullRestore,
    ) -> PlaneResult<()> {
        let key = format!("{:?} {database} {file}", self.site);
        self.world.mutate("restore_database", key, |s| {
            let header = header_of(s, file)?;
            let db = self.db_mut(s)?;
            if db.mirrored {
                return Err(PlaneError::sql(3104, 16, "mirrored"));
            }
            if !db.sessions.is_empty() {
                return Err(PlaneError::sql(3101, 16, "in use"));
            }
            db.family = header.family_guid;
            db.restored_from = Some(file.to_string());
            db.state = if options.recovery {
                DbState::Online
            } else {
                DbState::Restoring
            };
            Ok(())
        })
    }

    async fn setup_log_shipping_primary(&self, setup: &PrimaryLogShipping) -> PlaneResult<()> {
        self.world
            .mutate("setup_log_shipping_primary", setup.database.clone(), |s| {
                s.primary_configured = true;
                Ok(())
            })
    }

    async fn setup_log_shipping_secondary(&self, setup: &SecondaryLogShipping) -> PlaneResult<()> {
        self.world.mutate(
            "setup_log_shipping_secondary",
            setup.secondary_database.clone(),
            |s| {
                s.secondary_configured = true;
                Ok(())
            },
        )
    }

    async fn server_time(&self) -> PlaneResult<DateTime<Utc>> {
        self.world.read("server_time", |s| {
            self.check_reachable(s)?;
            Ok(at(0))
        })
    }

    async fn server_name(&self) -> PlaneResult<String> {
        self.world.read("server_name", |s| {
            self.check_reachable(s)?;
            Ok(format!("{:?}", self.site).to_uppercase())
        })
    }

    async fn last_restore(&self, _: &str) -> PlaneResult<Option<RestoreRecord>> {
        self.world.read("last_restore", |s| {
            let db = self.db(s)?;
            Ok(db
                .and_then(|d| d.restored_from.clone())
                .map(|file| RestoreRecord {
                    file,
                    restored_at: at(0),
                }))
        })
    }

    async fn agent_service_account(&self) -> PlaneResult<Option<String>> {
        self.world.read("agent_service_account", |_| {
            Ok(Some(r"CONTOSO\sqlagent".into()))
        })
    }

    async fn last_restored_backup(&self, _: &str) -> PlaneResult<Option<RestoredBackup>> {
        self.world.read("last_restored_backup", |s| {
            Ok(self.db(s)?.map(|db| RestoredBackup {
                family_guid: db.family.clone(),
                first_lsn: Lsn(0),
                last_lsn: db.point,
                database_backup_lsn: Lsn(0),
                recovery_fork: None,
            }))
        })
    }

    /// The fake world's files are readable or missing: no proof is ever needed.
    async fn restored_from_file(&self, _: &str, _: &str) -> PlaneResult<Option<RestoredBackup>> {
        Ok(None)
    }

    async fn take_run_lock(&self, resource: &str, run_name: &str) -> PlaneResult<RunLockAttempt> {
        let key = format!("{:?} {resource}", self.site);
        let mut state = self.world.lock();
        self.check_reachable(&state)?;
        if let Some(holder) = state.run_locks.get(&key) {
            return Ok(RunLockAttempt::Held(Some(LockHolder {
                session: SessionId(70),
                host: "fake-host".into(),
                login: "pcdr".into(),
                program: holder.clone(),
                since: None,
            })));
        }
        state.run_locks.insert(key.clone(), run_name.into());
        let world = self.world.clone();
        Ok(RunLockAttempt::Granted(RunLock::new(HeldRunLock {
            world,
            key,
        })))
    }
}

/// A run lock of the fake world: released when dropped, as a closed connection ends the
/// session that owns a real one; an explicit release is counted.
struct HeldRunLock {
    world: FakeWorld,
    key: String,
}

#[async_trait]
impl LockHandle for HeldRunLock {
    async fn release(self: Box<Self>) -> PlaneResult<()> {
        self.world.lock().run_locks_released += 1;
        Ok(())
    }
}

impl Drop for HeldRunLock {
    fn drop(&mut self) {
        self.world.lock().run_locks.remove(&self.key);
    }
}

/// The header of backup `file`: 3201 when it does not exist, 3241 when it is no backup.
fn header_of(state: &State, file: &str) -> PlaneResult<BackupHeader> {
    let found = state
        .files
        .get(file)
        .ok_or_else(|| PlaneError::sql(3201, 16, format!("Cannot open backup device '{file}'")))?;
    found.header.clone().ok_or_else(|| {
        PlaneError::sql(
            3241,
            16,
            format!("The media family on device '{file}' is incorrectly formed"),
        )
    })
}

fn files(drive: &str) -> Vec<DatabaseFile> {
    vec![
        DatabaseFile {
            logical_name: "mgc".into(),
            physical_name: format!(r"{drive}:\mgc.mdf"),
            kind: FileKind::Data,
        },
        DatabaseFile {
            logical_name: "mgc_log".into(),
            physical_name: format!(r"{drive}:\mgc.ldf"),
            kind: FileKind::Log,
        },
    ]
}

/// A folder pcdr names, as the servers name it (files are kept by the servers' paths):
/// pcdr reaches the copy folder through [`COPY_FROM_PCDR`].
fn server_path(folder: &str) -> String {
    match folder.strip_prefix(COPY_FROM_PCDR) {
        Some(rest) => format!("{COPY}{rest}"),
        None => folder.to_string(),
    }
}

/// An error naming `folder` unless it exists, as the file system reports it.
fn require_folder(state: &State, folder: &str) -> PlaneResult<()> {
    if state.folders.iter().any(|f| f == folder) {
        return Ok(());
    }
    Err(PlaneError::Io {
        path: folder.to_string(),
        message: "The system cannot find the path specified".into(),
    })
}

#[async_trait]
impl FilePlane for FakeWorld {
    async fn list_log_backups(&self, folder: &str, database: &str) -> PlaneResult<Vec<FileEntry>> {
        let folder = &server_path(folder);
        self.read("list_log_backups", |s| {
            require_folder(s, folder)?;
            Ok(s.files
                .iter()
                .filter_map(|(path, file)| {
                    let name = child(path, folder)?;
                    crate::logship::is_log_backup_of(name, database).then(|| FileEntry {
                        name: name.to_string(),
                        size: file.size,
                        modified: at(0),
                    })
                })
                .collect())
        })
    }

    async fn misnamed_log_backups(&self, folder: &str, database: &str) -> PlaneResult<Vec<String>> {
        let folder = &server_path(folder);
        self.read("misnamed_log_backups", |s| {
            require_folder(s, folder)?;
            Ok(s.files
                .keys()
                .filter_map(|path| child(path, folder))
                .filter(|name| {
                    crate::logship::looks_like_log_backup_of(name, database)
                        && !crate::logship::is_log_backup_of(name, database)
                })
                .map(str::to_string)
                .collect())
        })
    }

    async fn copy_file(&self, from_folder: &str, name: &str, to_folder: &str) -> PlaneResult<u64> {
        let (from_folder, to_folder) = (&server_path(from_folder), &server_path(to_folder));
        self.mutate("copy_file", name.into(), |s| {
            require_folder(s, from_folder)?;
            require_folder(s, to_folder)?;
            let target = join(to_folder, name);
            if s.folders.contains(&target) {
                return Err(PlaneError::Io {
                    path: target,
                    message: "Access is denied: a folder has that name".into(),
                });
            }
            let source = s
                .files
                .get(&join(from_folder, name))
                .cloned()
                .ok_or_else(|| PlaneError::Io {
                    path: join(from_folder, name),
                    message: "No such file".into(),
                })?;
            let size = source.size;
            s.files.insert(target, source);
            Ok(size)
        })
    }

    async fn free_space(&self, folder: &str) -> PlaneResult<u64> {
        let folder = &server_path(folder);
        self.read("free_space", |s| {
            require_folder(s, folder).map(|()| 1 << 40)
        })
    }
}

#[async_trait]
impl ChatPoolPlane for FakeWorld {
    async fn pool_state(&self) -> PlaneResult<PoolState> {
        self.read("pool_state", |s| {
            s.pool.ok_or_else(|| PlaneError::Shell {
                cmdlet: "Get-CsPersistentChatState".into(),
                message: "no pool".into(),
            })
        })
    }

    async fn set_pool_state(&self, state: PoolState) -> PlaneResult<()> {
        self.mutate("set_pool_state", state.to_string(), |s| {
            s.pool = Some(state);
            Ok(())
        })
    }

    async fn active_servers(&self) -> PlaneResult<Option<Vec<String>>> {
        self.read("active_servers", |s| Ok(Some(s.active.clone())))
    }

    async fn set_active_servers(&self, servers: &[String]) -> PlaneResult<()> {
        self.mutate("set_active_servers", servers.join(","), |s| {
            s.active = servers.to_vec();
            Ok(())
        })
    }

    async fn install_mirror(&self, request: &MirrorRequest) -> PlaneResult<()> {
        self.mutate("install_mirror", request.sql_server_fqdn.clone(), |s| {
            let db = if request.sql_server_fqdn.starts_with("sql-atl") {
                s.primary.as_mut()
            } else {
                s.backup.as_mut()
            };
            db.ok_or_else(|| PlaneError::Shell {
                cmdlet: "Install-CsMirrorDatabase".into(),
                message: "no database".into(),
            })?
            .mirrored = true;
            Ok(())
        })
    }
}

/// The file-plane conformance suite's hook: files and folders made and read back
/// directly, as a harness does on a real file system.
impl files::Admin for FakeWorld {
    fn write_file(&self, folder: &str, name: &str, bytes: &[u8]) -> Result<(), String> {
        let mut s = self.lock();
        require_folder(&s, folder).map_err(|e| e.to_string())?;
        let file = FakeFile {
            size: bytes.len() as u64,
            header: None,
            bytes: Some(bytes.to_vec()),
        };
        s.files.insert(join(folder, name), file);
        Ok(())
    }

    fn read_file(&self, folder: &str, name: &str) -> Result<Option<Vec<u8>>, String> {
        let path = join(folder, name);
        match self.lock().files.get(&path) {
            None => Ok(None),
            Some(FakeFile {
                bytes: Some(bytes), ..
            }) => Ok(Some(bytes.clone())),
            Some(_) => Err(format!("{path}: a backup the world made, with no bytes")),
        }
    }

    fn create_folder(&self, folder: &str, name: &str) -> Result<(), String> {
        self.lock().folders.push(join(folder, name));
        Ok(())
    }

    fn entries(&self, folder: &str) -> Result<Vec<String>, String> {
        let s = self.lock();
        let paths = s.files.keys().chain(&s.folders);
        Ok(paths
            .filter_map(|path| child(path, folder))
            .map(str::to_owned)
            .collect())
    }
}
