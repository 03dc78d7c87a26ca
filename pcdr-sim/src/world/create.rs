//! Creating a world: a normal deployment with mirroring in the primary site, log
//! shipping to the backup site already running, a backlog of log backups (some not yet
//! copied, some not yet restored), and optionally a standby secondary with readers.
//!
//! Owns the initial layout only; the running rules live in the sibling modules.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};

use crate::guid::Guid;
use crate::world::dbops::{self, Disks, Finish, FullRestore, Usage};
use crate::world::model::{
    CHAT_DB, COMPLIANCE_DB, Database, DbState, FIRST_BACKGROUND_SPID, Instance, InstanceId,
    MirrorRole, Mirroring, Pool, ReaderSession, Settings, WorldState,
};
use crate::world::msdb::{
    Job, JobKind, MonitorSecondary, Msdb, PrimaryDatabase, PrimarySecondary, Schedule, Secondary,
    SecondaryDatabase, default_alert_enabled, default_history_retention, default_restore_threshold,
};
use crate::world::server_paths::COPY_FOLDER_ON_BACKUP;
use crate::world::version::SqlVersion;
use crate::world::{World, WorldError, WorldResult, traffic};
use crate::world::{datafile, logship};

/// Minutes between log-shipping job runs.
const JOB_INTERVAL_MINUTES: i32 = 15;
/// Minutes log backup files are kept.
const RETENTION_MINUTES: i32 = 4320;

/// The chat database's size in a world made with the defaults: 1 MiB, small enough for
/// the tests to stay fast.
pub const DEFAULT_DB_SIZE: u64 = 1 << 20;

/// How to build a new world.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldOptions {
    /// Log backups taken before the world is handed over.
    pub logs: u32,
    /// How many of the newest are not yet copied to the copy folder.
    pub uncopied: u32,
    /// How many of the newest are not yet restored (at least `uncopied`).
    pub unrestored: u32,
    /// Chat messages committed before each log backup.
    pub messages_per_log: u32,
    /// Restore the secondary `WITH STANDBY` (read-only between restores).
    pub standby: bool,
    /// Reader sessions left open on a standby secondary.
    pub readers: u32,
    /// Restore and backup throughput in MB/s; 0 means instantaneous.
    pub restore_mb_per_s: f64,
    /// Milliseconds every statement waits.
    pub statement_latency_ms: u64,
    /// The SQL login's password; `None` makes one up.
    pub password: Option<String>,
    /// The SQL Server version every instance presents.
    pub sql_version: SqlVersion,
    /// The instances' offset from UTC in minutes (their local clock is the world
    /// clock plus this).
    pub utc_offset_minutes: i32,
    /// The size in bytes of each chat database's data file: real bytes on disk, which a
    /// full backup copies and a restore writes, so their cost grows with it.
    pub db_size_bytes: u64,
}

impl Default for WorldOptions {
    /// Four log backups of five messages, the newest one uncopied and the two newest
    /// unrestored; no standby; no latency; a chat database of [`DEFAULT_DB_SIZE`].
    fn default() -> Self {
        Self {
            logs: 4,
            uncopied: 1,
            unrestored: 2,
            messages_per_log: 5,
            standby: false,
            readers: 0,
            restore_mb_per_s: 0.0,
            statement_latency_ms: 0,
            password: None,
            sql_version: SqlVersion::default(),
            utc_offset_minutes: 0,
            db_size_bytes: DEFAULT_DB_SIZE,
        }
    }
}

impl World {
    /// Creates a world in `dir` (made when absent); [`WorldError::Exists`] when one is
    /// already there.
    pub fn create(dir: &Path, options: &WorldOptions) -> WorldResult<World> {
        if World::exists(dir) {
            return Err(WorldError::Exists(dir.to_path_buf()));
        }
        std::fs::create_dir_all(dir)?;
        let dir = std::fs::canonicalize(dir)?;
        for sub in ["share", "copy", "copy-primary", "mirror-share"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let world = World {
            dir: dir.clone(),
            store: crate::world::store::Store::open(&dir.join("world.sqlite"))?,
        };
        write_password(&world.password_file(), options.password.as_deref())?;
        write_password(&world.windows_password_file(), None)?;
        world.write_certificates()?;
        let mut state = world.initial_state(options)?;
        let disks = world.disks(&state);
        world.seed_secondary(&mut state, &disks, options)?;
        run_backlog(&mut state, &disks, options);
        add_readers(&mut state, options);
        world.store.replace(&state)?;
        Ok(world)
    }

    fn initial_state(&self, options: &WorldOptions) -> WorldResult<WorldState> {
        let mut instances = BTreeMap::new();
        for id in InstanceId::ALL {
            std::fs::create_dir_all(self.data_dir(id))?;
            instances.insert(id, self.system_instance(id));
        }
        let mut state = WorldState {
            clock: start_time(),
            instances,
            pool: Pool {
                fqdn: "pchat.contoso.com".into(),
                failed_over: false,
                primary_servers: vec!["pc1.contoso.com".into(), "pc2.contoso.com".into()],
                backup_servers: vec!["pc3.contoso.com".into(), "pc4.contoso.com".into()],
                active: vec!["pc1.contoso.com".into(), "pc2.contoso.com".into()],
            },
            next_message_id: 1,
            ground_truth: None,
            faults: Default::default(),
            settings: Settings {
                restore_mb_per_s: options.restore_mb_per_s,
                statement_latency_ms: options.statement_latency_ms,
                messages_per_log: options.messages_per_log,
                sql_version: options.sql_version,
                utc_offset_minutes: options.utc_offset_minutes,
                db_size_bytes: options.db_size_bytes,
            },
        };
        for name in [CHAT_DB, COMPLIANCE_DB] {
            self.create_mirrored(&mut state, InstanceId::Primary, name)?;
        }
        self.create_database(&mut state, InstanceId::Backup, COMPLIANCE_DB)?;
        Ok(state)
    }

    fn system_instance(&self, id: InstanceId) -> Instance {
        let dir = self.data_dir(id);
        let databases = ["master", "tempdb", "model", "msdb"]
            .iter()
            .zip(1..)
            .map(|(name, db_id)| ((*name).to_owned(), dbops::new_database(name, db_id, &dir)))
            .collect();
        Instance {
            id,
            databases,
            msdb: Msdb::default(),
            readers: Vec::new(),
            next_database_id: 5,
            statements: 0,
        }
    }

    /// Creates an empty online database on `instance`: a chat database's data file holds
    /// the world's database size of real bytes, every other file is a placeholder.
    pub(crate) fn create_database(
        &self,
        state: &mut WorldState,
        instance: InstanceId,
        name: &str,
    ) -> WorldResult<()> {
        let dir = self.data_dir(instance);
        std::fs::create_dir_all(&dir)?;
        let size = state.settings.db_size_bytes;
        let inst = state
            .instance_mut(instance)
            .ok_or_else(|| WorldError::Refused(format!("no instance {}", instance.name())))?;
        let id = inst
            .database(name)
            .map(|d| d.id)
            .unwrap_or(inst.next_database_id);
        inst.next_database_id = inst.next_database_id.max(id + 1);
        let db = dbops::new_database(name, id, &dir);
        for file in &db.files {
            std::fs::write(&file.physical_name, b"pcdr-sim placeholder database file\n")?;
        }
        if let Some(data) = datafile::path_of(&db).filter(|_| name == CHAT_DB) {
            datafile::fill(data, size)?;
        }
        inst.databases
            .retain(|_, d| !d.name.eq_ignore_ascii_case(name));
        inst.databases.insert(name.to_owned(), db);
        Ok(())
    }

    /// Creates an empty database on `instance`, mirrored to its site's mirror instance,
    /// which gets a copy of its data file.
    pub(crate) fn create_mirrored(
        &self,
        state: &mut WorldState,
        instance: InstanceId,
        name: &str,
    ) -> WorldResult<()> {
        self.create_database(state, instance, name)?;
        let principal = state
            .instance(instance)
            .and_then(|i| i.database(name))
            .cloned()
            .ok_or_else(|| WorldError::Refused(format!("no database {name}")))?;
        let partner = instance.mirror_partner();
        let copy = mirror_copy(&principal, instance, &self.data_dir(partner));
        if let (Some(from), Some(to)) = (datafile::path_of(&principal), datafile::path_of(&copy)) {
            std::fs::copy(from, to)?;
        }
        if let Some(inst) = state.instance_mut(partner) {
            inst.databases
                .retain(|_, d| !d.name.eq_ignore_ascii_case(name));
            inst.next_database_id = inst.next_database_id.max(copy.id + 1);
            inst.databases.insert(name.to_owned(), copy.clone());
        }
        if let Some(db) = state
            .instance_mut(instance)
            .and_then(|i| i.database_mut(name))
        {
            db.mirroring = Some(Mirroring {
                guid: copy
                    .mirroring
                    .as_ref()
                    .map_or_else(Guid::generate, |m| m.guid),
                role: MirrorRole::Principal,
                partner: partner.endpoint(),
            });
        }
        Ok(())
    }

    /// Full backup of the primary chat database, restored on the backup instance, and
    /// log shipping configured between them.
    fn seed_secondary(
        &self,
        state: &mut WorldState,
        disks: &Disks,
        options: &WorldOptions,
    ) -> WorldResult<()> {
        let now = state.clock;
        let path = self
            .share_dir()
            .join(format!("{CHAT_DB}_seed_{}.bak", now.format("%Y%m%d%H%M%S")))
            .display()
            .to_string();
        let primary = state
            .instance_mut(InstanceId::Primary)
            .and_then(|i| i.database_mut(CHAT_DB))
            .ok_or_else(|| WorldError::Refused("no primary chat database".into()))?;
        let set = dbops::take_full_backup(primary, InstanceId::Primary, now, true);
        disks
            .write(InstanceId::Primary, &path, &set)
            .map_err(sql_refusal)?;
        if let Some(primary) = state.instance_mut(InstanceId::Primary) {
            primary.msdb.record_backup(&path, &set.header);
        }
        let restore = FullRestore {
            replace: true,
            finish: if options.standby {
                Finish::Standby
            } else {
                Finish::NoRecovery
            },
            moves: moves_to(&set.files, &self.data_dir(InstanceId::Backup)),
        };
        let backup = state
            .instance_mut(InstanceId::Backup)
            .ok_or_else(|| WorldError::Refused("no backup instance".into()))?;
        dbops::restore_full(backup, CHAT_DB, &set, &path, &restore, Usage::default())
            .map_err(sql_refusal)?;
        dbops::restore_data_file(backup, CHAT_DB, disks, &path).map_err(sql_refusal)?;
        backup
            .msdb
            .record_restore(CHAT_DB, 'D', (&path, &set.header), now);
        configure_log_shipping(state, &self.share_dir(), options.standby);
        Ok(())
    }
}

fn sql_refusal(error: dbops::SqlError) -> WorldError {
    WorldError::Refused(format!("Msg {}: {}", error.number, error.message))
}

/// A mirror copy of `principal` for the partner of `instance`, its files in `dir`.
fn mirror_copy(principal: &Database, instance: InstanceId, dir: &Path) -> Database {
    let guid = principal
        .mirroring
        .as_ref()
        .map_or_else(Guid::generate, |m| m.guid);
    Database {
        state: DbState::Restoring,
        standby: false,
        files: moves_to(&principal.files, dir)
            .into_iter()
            .zip(&principal.files)
            .map(|((_, physical), file)| crate::backup_file::FileEntry {
                physical_name: physical,
                ..file.clone()
            })
            .collect(),
        mirroring: Some(Mirroring {
            guid,
            role: MirrorRole::Mirror,
            partner: instance.endpoint(),
        }),
        ..principal.clone()
    }
}

/// `name` in `folder`, joined with the separator the folder's own name uses, so a
/// folder named the Unix way keeps its form when a Windows process joins it.
fn file_in(folder: &str, name: &str) -> String {
    let separator = if folder.contains('\\') { '\\' } else { '/' };
    format!("{}{separator}{name}", folder.trim_end_matches(separator))
}

/// `MOVE` pairs that put each file of a backup into `dir` under its own file name.
pub(crate) fn moves_to(
    files: &[crate::backup_file::FileEntry],
    dir: &Path,
) -> Vec<(String, String)> {
    files
        .iter()
        .map(|f| {
            let name = f
                .physical_name
                .rsplit(['\\', '/'])
                .next()
                .filter(|name| !name.is_empty())
                .unwrap_or(&f.logical_name);
            (
                f.logical_name.clone(),
                file_in(&dir.display().to_string(), name),
            )
        })
        .collect()
}

fn start_time() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_766_400, 0).unwrap_or_default()
}

/// Writes `given`, or a password made up, to `path`.
fn write_password(path: &Path, given: Option<&str>) -> WorldResult<()> {
    let password = given.map_or_else(
        || format!("Pc!{}", Guid::generate().to_string().replace('-', "")),
        str::to_owned,
    );
    std::fs::write(path, format!("{password}\n"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// The msdb rows and enabled jobs of a running log-shipping setup, as the Persistent
/// Chat HA/DR configuration has it
/// (<https://learn.microsoft.com/skypeforbusiness/deploy/deploy-persistent-chat-server/configure-hadr-for-persistent-chat>):
/// the primary and its mirror are both log-shipping primaries with the same share, so
/// that log shipping goes on after a mirroring failover; the backup instance is the
/// secondary, restoring from the copy folder as it names it
/// ([`COPY_FOLDER_ON_BACKUP`]).
fn configure_log_shipping(state: &mut WorldState, share: &Path, standby: bool) {
    let share = share.display().to_string();
    let secondary_id = Guid::generate();
    for id in [InstanceId::Primary, InstanceId::PrimaryMirror] {
        if let Some(primary) = state.instance_mut(id) {
            configure_primary(&mut primary.msdb, &share);
        }
    }
    if let Some(backup) = state.instance_mut(InstanceId::Backup) {
        let msdb = &mut backup.msdb;
        configure_secondary(msdb, secondary_id, share, COPY_FOLDER_ON_BACKUP.into());
        msdb.secondary_databases.push(SecondaryDatabase {
            secondary_database: CHAT_DB.into(),
            secondary_id,
            restore_delay: 0,
            restore_mode: i32::from(standby),
            disconnect_users: standby,
            last_restored_file: None,
            last_restored_date: None,
        });
        msdb.monitor_secondaries.push(MonitorSecondary {
            secondary_server: InstanceId::Backup.server_name().into(),
            secondary_database: CHAT_DB.into(),
            secondary_id,
            primary_server: InstanceId::Primary.server_name().into(),
            primary_database: CHAT_DB.into(),
            last_copied_file: None,
            last_restored_file: None,
            restore_threshold: default_restore_threshold(),
            threshold_alert_enabled: default_alert_enabled(),
            history_retention_period: default_history_retention(),
        });
    }
}

fn configure_primary(msdb: &mut Msdb, share: &str) {
    let (primary_id, backup_job) = (Guid::generate(), Guid::generate());
    msdb.primary_databases.push(PrimaryDatabase {
        primary_id,
        primary_database: CHAT_DB.into(),
        backup_directory: share.to_owned(),
        backup_share: share.to_owned(),
        backup_retention_period: RETENTION_MINUTES,
        backup_job_id: backup_job,
        last_backup_file: None,
        last_backup_date: None,
    });
    msdb.primary_secondaries.push(PrimarySecondary {
        primary_id,
        secondary_server: InstanceId::Backup.server_name().into(),
        secondary_database: CHAT_DB.into(),
    });
    add_job(
        msdb,
        backup_job,
        "LSBackup_mgc",
        JobKind::Backup(primary_id),
    );
}

fn configure_secondary(msdb: &mut Msdb, secondary_id: Guid, share: String, copy: String) {
    let (copy_job, restore_job) = (Guid::generate(), Guid::generate());
    let primary_name = InstanceId::Primary.server_name();
    msdb.secondaries.push(Secondary {
        secondary_id,
        primary_server: primary_name.into(),
        primary_database: CHAT_DB.into(),
        backup_source_directory: share,
        backup_destination_directory: copy,
        file_retention_period: RETENTION_MINUTES,
        copy_job_id: copy_job,
        restore_job_id: restore_job,
        last_copied_file: None,
        last_copied_date: None,
    });
    let copy_name = format!("LSCopy_{primary_name}_mgc");
    let restore_name = format!("LSRestore_{primary_name}_mgc");
    add_job(msdb, copy_job, &copy_name, JobKind::Copy(secondary_id));
    add_job(
        msdb,
        restore_job,
        &restore_name,
        JobKind::Restore(secondary_id),
    );
}

fn add_job(msdb: &mut Msdb, job_id: Guid, name: &str, kind: JobKind) {
    let schedule_id = msdb.next_schedule_id();
    msdb.schedules.push(Schedule {
        schedule_id,
        name: name.to_owned(),
        enabled: true,
        interval_minutes: JOB_INTERVAL_MINUTES,
    });
    msdb.jobs.push(Job {
        job_id,
        name: name.to_owned(),
        enabled: true,
        kind,
        schedule_id: Some(schedule_id),
        last_run: None,
    });
}

/// Takes `logs` log backups with traffic before each, copying all but the newest
/// `uncopied` and restoring all but the newest `max(uncopied, unrestored)`.
fn run_backlog(state: &mut WorldState, disks: &Disks, options: &WorldOptions) {
    let copied = options.logs.saturating_sub(options.uncopied);
    let restored = options
        .logs
        .saturating_sub(options.uncopied.max(options.unrestored));
    for n in 1..=options.logs {
        traffic::commit(state, options.messages_per_log);
        state.clock += Duration::minutes(i64::from(JOB_INTERVAL_MINUTES));
        logship::run_jobs_of_kind(state, disks, InstanceId::Primary, |k| {
            matches!(k, JobKind::Backup(_))
        });
        if n <= copied {
            logship::run_jobs_of_kind(state, disks, InstanceId::Backup, |k| {
                matches!(k, JobKind::Copy(_))
            });
        }
        if n <= restored {
            logship::run_jobs_of_kind(state, disks, InstanceId::Backup, |k| {
                matches!(k, JobKind::Restore(_))
            });
        }
    }
    let now = state.clock;
    for instance in state.instances.values_mut() {
        for job in &mut instance.msdb.jobs {
            job.last_run = Some(now);
        }
    }
}

fn add_readers(state: &mut WorldState, options: &WorldOptions) {
    if !options.standby {
        return;
    }
    if let Some(backup) = state.instance_mut(InstanceId::Backup) {
        backup.readers = (0..options.readers)
            .map(|n| ReaderSession {
                spid: FIRST_BACKGROUND_SPID.saturating_add(n as u16),
                database: CHAT_DB.into(),
                login: "CONTOSO\\report-reader".into(),
            })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup_file::FileEntry;

    /// A moved file keeps the form of the folder it is moved into, whichever platform
    /// joins it: the instance recorded its folder, and its checks compare with that.
    #[test]
    fn a_moved_file_keeps_the_form_of_its_folders_name() {
        let file = |physical: &str| FileEntry {
            logical_name: "mgc".into(),
            physical_name: physical.into(),
            is_log: false,
        };
        let unix = moves_to(&[file(r"D:\Data\mgc.mdf")], Path::new("/w/data/backup"));
        assert_eq!(unix, [("mgc".into(), "/w/data/backup/mgc.mdf".into())]);
        let windows = moves_to(&[file("/w/data/primary/mgc.mdf")], Path::new(r"Z:\w\data"));
        assert_eq!(windows, [("mgc".into(), r"Z:\w\data\mgc.mdf".into())]);
    }
}
