//! The shared fixture of the step tests: a [`World`] of mocked planes over the example
//! topology, a recording observer, and builders for the values the planes answer with.

use crate::error::{Error, PlaneError};
use crate::log_chain::{BackupHeader, BackupType, Lsn};
use crate::planes::{
    DatabaseFile, DatabaseState, DbState, FileEntry, FileKind, LogShippingSnapshot, Mirroring,
    MirroringRole, MockChatPoolPlane, MockDatabasePlane, MockFilePlane, RestoreRecord,
    RestoredBackup, UserAccess,
};
use crate::procedure::{Context, Event, Facts, Observer, Planes, RunOptions, StepOutcome};
use crate::topology::{RestoreMode, Topology};
use chrono::{DateTime, TimeZone, Utc};
use std::sync::{Arc, Mutex};

/// The shipped example topology.
pub const EXAMPLE: &str = include_str!("../../../../examples/topology.toml");

/// The run id every test uses.
pub const RUN_ID: &str = "20261127130000";
/// How errors name the primary site's instance.
pub const PRIMARY_SQL: &str = r"sql-atl.contoso.com\PCHAT";
/// How errors name the primary site's mirror instance.
pub const PRIMARY_MIRROR_SQL: &str = r"sql-atl-m.contoso.com\PCHAT";
/// How errors name the backup site's instance.
pub const BACKUP_SQL: &str = "sql-dal.contoso.com,1433";
/// How errors name the pool.
pub const POOL: &str = "pool pchat.contoso.com";
/// The topology's backup share.
pub const SHARE: &str = r"\\fs01.contoso.com\pchat-logs";
/// The topology's copy folder.
pub const COPY: &str = r"D:\LogShipping\mgc";
/// The topology's copy folder as pcdr reaches it (`copy_destination_from_pcdr`).
pub const COPY_FROM_PCDR: &str = r"\\sql-dal.contoso.com\D$\LogShipping\mgc";
/// The snapshot's share (different from the topology's, to tell them apart).
pub const SNAP_SHARE: &str = r"\\fs02.contoso.com\ls-snap";
/// The snapshot's copy folder.
pub const SNAP_COPY: &str = r"E:\LsCopy\mgc";
/// The family GUID of the log-shipped chat database and its backups.
pub const FAMILY: &str = "6F9619FF-8B86-D011-B42D-00C04FC964FF";
/// The family GUID of the empty database Topology Builder created on the rebuilt primary.
pub const REBUILT_FAMILY: &str = "0B1C2D3E-0000-4000-8000-000000000001";
/// The `database_guid` of a chat database in these tests, and the `BindingID` of its
/// backups.
pub const DATABASE_GUID: &str = "A1B2C3D4-0000-4000-8000-00000000D0DB";
/// The failback backup file of the run.
pub const FAILBACK_FILE: &str =
    r"\\fs01.contoso.com\pchat-logs\mgc_pcdr_failback_20261127130000.bak";
/// The re-initialization backup file of the run.
pub const REINIT_FILE: &str = r"\\fs01.contoso.com\pchat-logs\mgc_pcdr_reinit_20261127130000.bak";
/// What the primary instance answers for `@@SERVERNAME` (unlike how the topology names it).
pub const PRIMARY_SERVERNAME: &str = r"SQL-ATL\PCHAT";
/// What the backup instance answers for `@@SERVERNAME` (unlike how the topology names it).
pub const BACKUP_SERVERNAME: &str = "SQL-DAL";

/// The example topology.
pub fn example_topology() -> Topology {
    Topology::from_toml_str(EXAMPLE, None).expect("the example topology loads")
}

/// The example topology with the first `from` replaced by `to` (which must be there).
pub fn topology_with(from: &str, to: &str) -> Topology {
    assert!(EXAMPLE.contains(from), "the example has no {from:?}");
    Topology::from_toml_str(&EXAMPLE.replacen(from, to, 1), None).expect("the topology loads")
}

/// Collects every event a step sends.
#[derive(Default)]
pub struct Recorder(Mutex<Vec<Event>>);

impl Observer for Recorder {
    fn event(&self, event: &Event) {
        self.0.lock().expect("recorder lock").push(event.clone());
    }
}

impl Recorder {
    /// Every event, in order.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().expect("recorder lock").clone()
    }

    /// The texts of the notes.
    pub fn notes(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Note { text, .. } => Some(text),
                _ => None,
            })
            .collect()
    }

    /// The files of the `LogRestored` events, in order.
    pub fn restored(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::LogRestored { file, .. } => Some(file),
                _ => None,
            })
            .collect()
    }

    /// The `(file, bytes)` of the `FileCopied` events, in order.
    pub fn copied(&self) -> Vec<(String, u64)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::FileCopied { file, bytes } => Some((file, bytes)),
                _ => None,
            })
            .collect()
    }
}

/// Mocked planes, options and facts, turned into a [`Context`] by [`World::build`].
pub struct World {
    pub topology: Topology,
    pub primary: MockDatabasePlane,
    pub primary_mirror: Option<MockDatabasePlane>,
    pub backup: MockDatabasePlane,
    pub files: MockFilePlane,
    pub pool: MockChatPoolPlane,
    pub options: RunOptions,
    pub facts: Facts,
}

impl World {
    /// The example topology, no expectations, default options, no facts.
    pub fn new() -> Self {
        Self::with_topology(example_topology())
    }

    /// Another topology.
    pub fn with_topology(topology: Topology) -> Self {
        Self {
            topology,
            primary: MockDatabasePlane::new(),
            primary_mirror: None,
            backup: MockDatabasePlane::new(),
            files: MockFilePlane::new(),
            pool: MockChatPoolPlane::new(),
            options: RunOptions::default(),
            facts: Facts::default(),
        }
    }

    /// Starts with a snapshot in the facts (as after `snapshot_log_shipping`).
    pub fn with_snapshot(mut self, snapshot: LogShippingSnapshot) -> Self {
        self.facts.snapshot = Some(snapshot);
        self
    }

    /// Copies everything, then restores (`RunOptions::sequential_restore`): for the
    /// copy-step tests about the copies themselves, where no restore is expected.
    pub fn sequential(mut self) -> Self {
        self.options.sequential_restore = true;
        self
    }

    /// The primary site does not answer (as check_sites and the re-checks before each
    /// irreversible action find it).
    pub fn primary_down(&mut self) {
        self.primary
            .expect_database_state()
            .returning(|_| Err(unreachable(PRIMARY_SQL)));
    }

    /// Every mutating call on every plane fails the test if it happens (expectations
    /// set before or after still apply: mockall skips an expectation that is `never`).
    pub fn forbid_mutations(&mut self) {
        forbid_sql_mutations(&mut self.primary);
        forbid_sql_mutations(&mut self.backup);
        if let Some(mirror) = self.primary_mirror.as_mut() {
            forbid_sql_mutations(mirror);
        }
        self.files.expect_copy_file().never();
        self.pool.expect_set_pool_state().never();
        self.pool.expect_set_active_servers().never();
        self.pool.expect_install_mirror().never();
    }

    /// The context, and the observer recording its events.
    ///
    /// Reads a test did not set up get the answers of a plain log-shipping secondary,
    /// after the test's own (mockall tries expectations in the order they were set): msdb
    /// records the last restore as one of [`FAMILY`] (on no known fork) and no restore
    /// from any other file, no log-shipping job is running, no folder holds a misnamed
    /// log backup, and the pool never warns.
    pub fn build(mut self) -> (Context, Arc<Recorder>) {
        self.backup
            .expect_running_log_shipping_jobs()
            .returning(|_| Ok(Vec::new()));
        self.backup
            .expect_last_restored_backup()
            .returning(|_| Ok(Some(restored_set(FAMILY))));
        self.backup
            .expect_restored_from_file()
            .returning(|_, _| Ok(None));
        self.files
            .expect_misnamed_log_backups()
            .returning(|_, _| Ok(Vec::new()));
        self.pool.expect_take_warnings().returning(Vec::new);
        let recorder = Arc::new(Recorder::default());
        let planes = Planes {
            primary: Arc::new(self.primary),
            primary_mirror: self
                .primary_mirror
                .map(|m| Arc::new(m) as Arc<dyn crate::planes::DatabasePlane>),
            backup: Arc::new(self.backup),
            files: Arc::new(self.files),
            pool: Arc::new(self.pool),
        };
        let ctx = Context::new(Arc::new(self.topology), planes, self.options, RUN_ID)
            .with_observer(recorder.clone())
            .with_facts(self.facts);
        (ctx, recorder)
    }
}

/// Every mutating method of a database plane gets `.never()`.
pub fn forbid_sql_mutations(sql: &mut MockDatabasePlane) {
    sql.expect_stop_job().never();
    sql.expect_remove_secondary_log_shipping().never();
    sql.expect_restore_log().never();
    sql.expect_recover().never();
    sql.expect_kill_session().never();
    sql.expect_remove_mirroring().never();
    sql.expect_fail_over_mirroring().never();
    sql.expect_backup_database().never();
    sql.expect_restore_database().never();
    sql.expect_setup_log_shipping_primary().never();
    sql.expect_setup_log_shipping_secondary().never();
    sql.expect_backup_tail_log().never();
    sql.expect_remove_primary_log_shipping().never();
}

/// A multi-user, unmirrored database of family [`FAMILY`] in `state`.
pub fn db(state: DbState) -> DatabaseState {
    DatabaseState {
        state,
        in_standby: false,
        user_access: UserAccess::MultiUser,
        mirroring: None,
        family_guid: Some(FAMILY.into()),
        database_guid: Some(DATABASE_GUID.into()),
    }
}

/// Online and recovered.
pub fn online() -> DatabaseState {
    db(DbState::Online)
}

/// Restoring (log backups can be applied).
pub fn restoring() -> DatabaseState {
    db(DbState::Restoring)
}

/// Online read-only between restores (standby).
pub fn standby() -> DatabaseState {
    DatabaseState {
        in_standby: true,
        ..online()
    }
}

/// Online and in a mirroring session with `role`.
pub fn mirrored(role: MirroringRole) -> DatabaseState {
    DatabaseState {
        mirroring: Some(Mirroring {
            role,
            partner: "TCP://sql-mirror.contoso.com:5022".into(),
            synchronized: true,
        }),
        ..online()
    }
}

/// `state` with another family GUID.
pub fn of_family(state: DatabaseState, family: &str) -> DatabaseState {
    DatabaseState {
        family_guid: Some(family.into()),
        ..state
    }
}

/// A point in time on the failover day, `minutes` after midnight UTC.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0)
        .single()
        .expect("valid date")
        + chrono::Duration::minutes(minutes)
}

/// The header of a log backup of `mgc` from `first` to `last`.
pub fn log_header(first: u128, last: u128) -> BackupHeader {
    BackupHeader {
        database_name: "mgc".into(),
        backup_type: BackupType::Log,
        first_lsn: Lsn(first),
        last_lsn: Lsn(last),
        family_guid: FAMILY.into(),
        binding_id: DATABASE_GUID.into(),
        backup_start: at(first as i64 / 10),
        backup_finish: at(last as i64 / 10),
        database_backup_lsn: Lsn(0),
        first_recovery_fork: None,
        recovery_fork: None,
        backup_size: (last - first) as u64,
    }
}

/// A backup set of family `family` as msdb records it restored, on no known fork.
pub fn restored_set(family: &str) -> RestoredBackup {
    RestoredBackup {
        family_guid: family.into(),
        first_lsn: Lsn(0),
        last_lsn: Lsn(0),
        database_backup_lsn: Lsn(0),
        recovery_fork: None,
    }
}

/// The header of a full backup of `mgc` of family `family`.
pub fn full_header(family: &str) -> BackupHeader {
    BackupHeader {
        backup_type: BackupType::Database,
        family_guid: family.into(),
        ..log_header(1000, 2000)
    }
}

/// A log-shipping file name of `mgc`.
pub fn trn(stamp: &str) -> String {
    format!("mgc_{stamp}.trn")
}

/// A file in a folder listing.
pub fn entry(name: &str, size: u64) -> FileEntry {
    FileEntry {
        name: name.into(),
        size,
        modified: at(0),
    }
}

/// A log-shipping snapshot whose folders differ from the topology's.
pub fn snapshot() -> LogShippingSnapshot {
    LogShippingSnapshot {
        primary_server: PRIMARY_SQL.into(),
        primary_database: "mgc".into(),
        backup_source_directory: SNAP_SHARE.into(),
        backup_destination_directory: SNAP_COPY.into(),
        file_retention_minutes: 4320,
        last_copied_file: Some(format!(r"{SNAP_COPY}\{}", trn("20261127121500"))),
        restore_delay_minutes: 5,
        restore_mode: RestoreMode::Standby,
        disconnect_users: true,
        thresholds: None,
        last_restored_file: Some(format!(r"{SNAP_COPY}\{}", trn("20261127120000"))),
    }
}

/// A restore-history record of `file`.
pub fn restore_record(file: &str) -> RestoreRecord {
    RestoreRecord {
        file: file.into(),
        restored_at: at(60),
    }
}

/// `sql`'s restore history of `mgc` answers `answers` in turn (the file of the newest
/// restore, or none), once each.
pub fn expect_last_restore(sql: &mut MockDatabasePlane, answers: Vec<Option<&'static str>>) {
    let times = answers.len();
    let mut answers = answers.into_iter();
    sql.expect_last_restore()
        .withf(|db| db == "mgc")
        .times(times)
        .returning(move |_| Ok(answers.next().flatten().map(restore_record)));
}

/// Both instances answer `@@SERVERNAME`, `times` times each.
pub fn expect_server_names(w: &mut World, times: usize) {
    w.primary
        .expect_server_name()
        .times(times)
        .returning(|| Ok(PRIMARY_SERVERNAME.into()));
    w.backup
        .expect_server_name()
        .times(times)
        .returning(|| Ok(BACKUP_SERVERNAME.into()));
}

/// A database file.
pub fn dbfile(logical: &str, physical: &str, kind: FileKind) -> DatabaseFile {
    DatabaseFile {
        logical_name: logical.into(),
        physical_name: physical.into(),
        kind,
    }
}

/// The files of `mgc` on the backup instance.
pub fn backup_files() -> Vec<DatabaseFile> {
    vec![
        dbfile("mgc", r"D:\SQLData\mgc.mdf", FileKind::Data),
        dbfile("mgc_log", r"D:\SQLLog\mgc_log.ldf", FileKind::Log),
    ]
}

/// The files of `mgc` on the primary instance.
pub fn primary_files() -> Vec<DatabaseFile> {
    vec![
        dbfile("mgc_log", r"L:\Logs\mgc_log.ldf", FileKind::Log),
        dbfile("mgc", r"E:\Data\mgc.mdf", FileKind::Data),
    ]
}

/// A SQL Server error.
pub fn sql_error(number: u32, message: &str) -> PlaneError {
    PlaneError::sql(number, 16, message)
}

/// Nobody answered.
pub fn unreachable(target: &str) -> PlaneError {
    PlaneError::Unreachable {
        target: target.into(),
        message: "No connection could be made because the target machine actively refused it"
            .into(),
    }
}

/// A failed cmdlet.
pub fn shell_error(cmdlet: &str) -> PlaneError {
    PlaneError::Shell {
        cmdlet: cmdlet.into(),
        message: "Access is denied".into(),
    }
}

/// The reason of a skipped outcome; fails the test on anything else.
pub fn skipped(outcome: StepOutcome) -> String {
    match outcome {
        StepOutcome::Skipped { reason } => reason,
        other => panic!("expected Skipped, got {other:?}"),
    }
}

/// The summary of a done outcome; fails the test on anything else.
pub fn done(outcome: StepOutcome) -> String {
    match outcome {
        StepOutcome::Done { summary } => summary,
        other => panic!("expected Done, got {other:?}"),
    }
}

/// Asserts that `err` happened in `step` and that its text names every one of `parts`;
/// returns the text.
pub fn assert_names(err: &Error, step: crate::procedure::StepId, parts: &[&str]) -> String {
    let text = err.to_string();
    assert_eq!(err.step_id(), Some(step), "{text}");
    assert!(text.contains(step.as_str()), "{text} does not name {step}");
    for part in parts {
        assert!(text.contains(part), "{text:?} does not contain {part:?}");
    }
    text
}

/// The files plane lists `listing` as the log backups of `mgc` in `folder`, `times` times.
pub fn expect_list(
    files: &mut crate::planes::MockFilePlane,
    folder: &'static str,
    times: usize,
    listing: Vec<crate::planes::FileEntry>,
) {
    files
        .expect_list_log_backups()
        .withf(move |f, db| f == folder && db == "mgc")
        .times(times)
        .returning(move |_, _| Ok(listing.clone()));
}
