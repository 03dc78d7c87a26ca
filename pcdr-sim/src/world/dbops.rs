//! The database operations shared by the SQL engine and the log-shipping jobs: taking
//! log and full backups, restoring them (with the LSN chain rules), recovering, and
//! reading and writing backup files on the emulated disks, each failing with SQL
//! Server's error number.
//!
//! Pure state changes on one [`Instance`] or [`Database`] plus backup-file I/O; it knows
//! nothing about sessions (callers say whether a database is in use) or the wire.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::backup_file::{
    BackupFileError, BackupHeader, BackupKind, BackupSet, FileEntry, Message,
};
use crate::guid::Guid;
use crate::world::model::{Database, DbState, ForkPoint, Instance, InstanceId, UserAccess};
use crate::world::server_paths::CopyFolders;
use crate::world::{datafile, server_paths};

/// LSN distance between two chat messages' commit records.
pub const LSN_PER_MESSAGE: u128 = 100;
/// The first LSN of a new database.
pub const FIRST_LSN: u128 = 35_000_000_001_000_000_001;

/// An error as SQL Server reports it: number and text (class 16 unless the engine says
/// otherwise), and the errors SQL Server sends right after it for the same statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    /// Error number, e.g. 4305.
    pub number: u32,
    /// Message text.
    pub message: String,
    /// Further errors of the statement, in order (number, text), before the 3013 the
    /// engine adds to a failed BACKUP or RESTORE.
    pub then: Vec<(u32, String)>,
}

impl SqlError {
    /// An error `number` with `message`.
    pub fn new(number: u32, message: impl Into<String>) -> Self {
        Self {
            number,
            message: message.into(),
            then: Vec::new(),
        }
    }

    /// Errors in the order SQL Server sends them; `None` when there are none.
    fn sequence(mut errors: Vec<(u32, String)>) -> Option<Self> {
        if errors.is_empty() {
            return None;
        }
        let (number, message) = errors.remove(0);
        Some(Self {
            number,
            message,
            then: errors,
        })
    }

    /// 911: no such database.
    pub fn no_database(name: &str) -> Self {
        Self::new(
            911,
            format!(
                "Database '{name}' does not exist. Make sure that the name is entered correctly."
            ),
        )
    }
}

/// How a restore ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// `WITH RECOVERY`: online and writable.
    Recovery,
    /// `WITH NORECOVERY`: stays RESTORING.
    NoRecovery,
    /// `WITH STANDBY`: online, read-only, still accepting logs.
    Standby,
}

/// Who else uses a database, as the caller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// The calling session uses it (3102).
    pub own: bool,
    /// Other sessions use it (3101).
    pub others: bool,
}

/// The emulated disks: where the backup share and copy folder are, and their faults.
#[derive(Debug, Clone)]
pub struct Disks {
    /// The backup share.
    pub share: PathBuf,
    /// The copy folders' real directories: the backup instance's (log shipping to the
    /// backup site) and the primary instance's (log shipping back).
    pub copies: CopyFolders,
    /// The share cannot be reached.
    pub share_unreachable: bool,
    /// The backup instance's copy folder is full.
    pub copy_folder_full: bool,
}

impl Disks {
    /// The real path behind `path` as `instance` names it ([`server_paths`]): 3201 with
    /// operating system error 3 when it names no folder there.
    pub fn local(&self, instance: InstanceId, path: &str) -> Result<PathBuf, SqlError> {
        server_paths::resolve(instance, path, &self.copies)
            .map_err(|_| cannot_open(path, 3, "The system cannot find the path specified."))
    }

    /// Reads the backup set in `path`, as `instance` names it: 3201 missing or
    /// unreachable, 3241 malformed, 3203 truncated or damaged. Also returns the file's
    /// size in bytes.
    pub fn read(&self, instance: InstanceId, path: &str) -> Result<(BackupSet, u64), SqlError> {
        self.read_into(instance, path, &mut std::io::sink())
    }

    /// Reads the full backup in `path` as [`Disks::read`] does and writes its data pages
    /// to a new data file `target`, as a restore does ("RESTORE … WITH MOVE": "the data
    /// … file should be restored to" `target`, RESTORE Statements - Arguments,
    /// <https://learn.microsoft.com/en-us/sql/t-sql/statements/restore-statements-arguments-transact-sql>).
    pub fn restore_pages(
        &self,
        instance: InstanceId,
        path: &str,
        target: &Path,
    ) -> Result<(), SqlError> {
        let file = std::fs::File::create(target).map_err(|_| cannot_create(target))?;
        let mut out = std::io::BufWriter::new(file);
        self.read_into(instance, path, &mut out)?;
        out.flush().map_err(|_| cannot_create(target))
    }

    fn read_into(
        &self,
        instance: InstanceId,
        path: &str,
        pages: &mut impl Write,
    ) -> Result<(BackupSet, u64), SqlError> {
        let file = self.open(instance, path)?;
        let size = file.metadata().map_or(0, |m| m.len());
        let set = BackupSet::read_from(&mut std::io::BufReader::new(file), pages)
            .map_err(|e| file_error(path, e))?;
        Ok((set, size))
    }

    /// Reads the backup set in `path` as `RESTORE HEADERONLY` does
    /// ([`BackupSet::read_for_header`]): 3201 missing or unreachable, 3241 a header
    /// that cannot be read; the data pages are not read and damage after the header
    /// goes unseen.
    pub fn read_header(&self, instance: InstanceId, path: &str) -> Result<BackupSet, SqlError> {
        let file = self.open(instance, path)?;
        BackupSet::read_for_header(&mut std::io::BufReader::new(file))
            .map_err(|e| file_error(path, e))
    }

    fn open(&self, instance: InstanceId, path: &str) -> Result<std::fs::File, SqlError> {
        if self.share_unreachable && self.is_on_share(path) {
            return Err(cannot_open(path, 53, "The network path was not found."));
        }
        std::fs::File::open(self.local(instance, path)?).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                cannot_open(path, 2, "The system cannot find the file specified.")
            }
            _ => cannot_open(path, 5, "Access is denied."),
        })
    }

    /// Writes `set` to `path`, as `instance` names it (3201 unreachable, 3202 full).
    /// Returns the bytes written.
    pub fn write(
        &self,
        instance: InstanceId,
        path: &str,
        set: &BackupSet,
    ) -> Result<u64, SqlError> {
        if self.share_unreachable && self.is_on_share(path) {
            return Err(cannot_open(path, 53, "The network path was not found."));
        }
        let real = self.local(instance, path)?;
        if self.copy_folder_full && real.starts_with(&self.copies.backup) {
            return Err(disk_full(path));
        }
        let written = write_set(&real, set)
            .map_err(|_| cannot_open(path, 3, "The system cannot find the path specified."))?;
        Ok(written)
    }

    /// Whether `path` is on the backup share.
    pub fn is_on_share(&self, path: &str) -> bool {
        Path::new(path).starts_with(&self.share)
    }
}

/// Writes `set` to the file `real`, its data pages read from the data file its first
/// data file entry names; returns the file's size.
fn write_set(real: &Path, set: &BackupSet) -> std::io::Result<u64> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(real)?);
    let source = set
        .files
        .iter()
        .find(|f| !f.is_log)
        .filter(|_| set.header.data_bytes > 0);
    match source {
        Some(file) => {
            let pages = std::fs::File::open(&file.physical_name)?;
            set.write_to(&mut out, &mut std::io::BufReader::new(pages))?;
        }
        None => set.write_to(&mut out, &mut std::io::empty())?,
    }
    out.flush()?;
    std::fs::metadata(real).map(|m| m.len())
}

/// 5123: a database file that cannot be created ("CREATE FILE encountered operating
/// system error …", Database Engine events and errors 5000 to 5999:
/// <https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-5000-to-5999>).
fn cannot_create(target: &Path) -> SqlError {
    SqlError::new(
        5123,
        format!(
            "CREATE FILE encountered operating system error 3(The system cannot find the path specified.) while attempting to open or create the physical file '{}'.",
            target.display()
        ),
    )
}

fn cannot_open(path: &str, code: u32, text: &str) -> SqlError {
    SqlError::new(
        3201,
        format!("Cannot open backup device '{path}'. Operating system error {code}({text})."),
    )
}

/// 3202: a write into the copy folder failed because it is full.
pub fn disk_full(path: &str) -> SqlError {
    SqlError::new(
        3202,
        format!("Write on \"{path}\" failed: 112(There is not enough space on the disk.)"),
    )
}

fn file_error(path: &str, error: BackupFileError) -> SqlError {
    match error {
        BackupFileError::Open(reason) => SqlError::new(
            3201,
            format!("Cannot open backup device '{path}'. Operating system error: {reason}."),
        ),
        BackupFileError::Malformed => SqlError::new(
            3241,
            format!(
                "The media family on device '{path}' is incorrectly formed. SQL Server cannot process this media family."
            ),
        ),
        BackupFileError::Truncated => SqlError::new(
            3203,
            format!("Read on \"{path}\" failed: 38(Reached the end of the file.)"),
        ),
        BackupFileError::Checksum => SqlError::new(
            3203,
            format!("Read on \"{path}\" failed: 23(Data error (cyclic redundancy check).)"),
        ),
    }
}

/// Checks that `db` can be backed up: not restoring (927 for a full backup, 4208-style
/// refusal of a log backup), not in standby (3036).
pub fn check_backup(db: &Database, log: bool) -> Result<(), SqlError> {
    if db.standby {
        return Err(SqlError::new(
            3036,
            format!(
                "The database \"{}\" is in warm-standby state (set by executing RESTORE WITH STANDBY) and cannot be backed up until the entire restore sequence is completed.",
                db.name
            ),
        ));
    }
    if db.state != DbState::Online {
        return Err(SqlError::new(
            927,
            format!(
                "Database '{}' cannot be opened. It is in the middle of a restore.",
                db.name
            ),
        ));
    }
    if log && db.recovery_model != "FULL" {
        return Err(SqlError::new(
            4208,
            format!(
                "The statement BACKUP LOG is not allowed while the recovery model is SIMPLE. Use BACKUP DATABASE or change the recovery model using ALTER DATABASE on database '{}'.",
                db.name
            ),
        ));
    }
    Ok(())
}

/// Checks that a tail-log backup (`BACKUP LOG … WITH NORECOVERY`) can take `db`: what
/// any log backup needs ([`check_backup`]), then the database to itself, as a restore
/// does, since the backup leaves it RESTORING: 3102 when the calling session uses it,
/// 3104 when it is mirrored, 3101 when other sessions use it ("Exclusive access could not
/// be obtained because the database is in use.", Database Engine events and errors 3000
/// to 3999:
/// <https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-3000-to-3999>).
pub fn check_tail_backup(db: &Database, usage: Usage) -> Result<(), SqlError> {
    check_backup(db, true)?;
    check_exclusive(db, usage, "BACKUP")?;
    check_not_in_use(usage)
}

/// Takes a tail-log backup of `db` as [`take_log_backup`] does and leaves it RESTORING,
/// its redo point at the backup's `LastLSN`: "NORECOVERY: Backs up the tail of the log
/// and leaves the database in the RESTORING state" ("BACKUP (Transact-SQL)",
/// <https://learn.microsoft.com/en-us/sql/t-sql/statements/backup-transact-sql>; "Tail-Log
/// Backups (SQL Server)",
/// <https://learn.microsoft.com/en-us/sql/relational-databases/backup-restore/tail-log-backups-sql-server>).
pub fn take_tail_log_backup(
    db: &mut Database,
    server: InstanceId,
    now: DateTime<Utc>,
    checksum: bool,
) -> BackupSet {
    let set = take_log_backup(db, server, now, checksum);
    db.state = DbState::Restoring;
    db.standby = false;
    set
}

/// The size of a full backup of `db`, in bytes, as the emulator estimates it before
/// taking one: its data file and its messages.
pub fn backup_bytes(db: &Database) -> u64 {
    datafile::size_of(db) + (db.messages.len() as u64) * 24 + 256
}

/// Takes a log backup of `db` on `server` at `now`: the log from the previous log
/// backup's end to the current end, with the messages committed in it. The first one,
/// starting at the database's first LSN, begins the log chain (`BeginsLogChain`). One
/// starting at or before the database's fork point spans it: it starts on the fork the
/// database was restoring on (`FirstRecoveryForkID`) and names the point
/// (`ForkPointLSN`), "RESTORE HEADERONLY (Transact-SQL)",
/// <https://learn.microsoft.com/en-us/sql/t-sql/statements/restore-statements-headeronly-transact-sql>.
pub fn take_log_backup(
    db: &mut Database,
    server: InstanceId,
    now: DateTime<Utc>,
    checksum: bool,
) -> BackupSet {
    db.lsn += 1;
    let first = db.log_backup_lsn;
    let last = db.lsn;
    db.log_backup_lsn = last;
    let messages = db
        .messages
        .iter()
        .filter(|m| m.lsn >= first && m.lsn < last)
        .copied()
        .collect();
    let mut set = backup_set(db, server, BackupKind::Log, first, last, now, messages);
    set.header.has_checksum = checksum;
    set.header.begins_log_chain = first == FIRST_LSN;
    if let Some(fork) = db.fork_point.filter(|fork| first <= fork.lsn) {
        set.header.first_recovery_fork = fork.fork;
        set.header.fork_point_lsn = Some(fork.lsn);
    }
    set
}

/// Takes a full backup of `db` at `now`: every message it holds. Its header names the
/// full backup before it; the log backups after it name this one (`DatabaseBackupLSN`,
/// RESTORE HEADERONLY (Transact-SQL)).
pub fn take_full_backup(
    db: &mut Database,
    server: InstanceId,
    now: DateTime<Utc>,
    checksum: bool,
) -> BackupSet {
    let first = db.lsn;
    db.lsn += 1;
    let messages = db.messages.clone();
    let mut set = backup_set(
        db,
        server,
        BackupKind::Database,
        first,
        db.lsn,
        now,
        messages,
    );
    set.header.has_checksum = checksum;
    set.header.data_bytes = datafile::size_of(db);
    db.database_backup_lsn = first;
    set
}

/// A backup set of `db` written by `server`, without checksums and not beginning a log
/// chain.
fn backup_set(
    db: &Database,
    server: InstanceId,
    kind: BackupKind,
    first_lsn: u128,
    last_lsn: u128,
    now: DateTime<Utc>,
    messages: Vec<Message>,
) -> BackupSet {
    BackupSet {
        header: BackupHeader {
            database_name: db.name.clone(),
            server_name: server.server_name().to_owned(),
            kind,
            first_lsn,
            last_lsn,
            family_guid: db.family_guid,
            binding_id: db.database_guid,
            start: now,
            finish: now,
            has_checksum: false,
            is_copy_only: false,
            begins_log_chain: false,
            database_backup_lsn: db.database_backup_lsn,
            first_recovery_fork: db.recovery_fork_guid,
            recovery_fork: db.recovery_fork_guid,
            fork_point_lsn: None,
            data_bytes: 0,
        },
        files: db.files.clone(),
        messages,
    }
}

/// Checks that `statement` (`RESTORE`, or `BACKUP` of a tail-log backup) can have `db`
/// to itself as far as the calling session and mirroring go: 3102 when the session uses
/// it, 3104 when it is mirrored. Both messages name the statement ("%ls cannot process
/// database …", "%ls cannot operate on database …", Database Engine events and errors
/// 3000 to 3999:
/// <https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-3000-to-3999>).
fn check_exclusive(db: &Database, usage: Usage, statement: &str) -> Result<(), SqlError> {
    if usage.own {
        return Err(SqlError::new(
            3102,
            format!(
                "{statement} cannot process database '{}' because it is in use by this session. It is recommended that the master database be used when performing this operation.",
                db.name
            ),
        ));
    }
    if db.mirroring.is_some() {
        return Err(SqlError::new(
            3104,
            format!(
                "{statement} cannot operate on database '{}' because it is configured for database mirroring or has joined an availability group. If you intend to restore the database, use ALTER DATABASE to remove mirroring or to remove the database from its availability group.",
                db.name
            ),
        ));
    }
    Ok(())
}

fn check_not_in_use(usage: Usage) -> Result<(), SqlError> {
    if usage.others {
        return Err(SqlError::new(
            3101,
            "Exclusive access could not be obtained because the database is in use.",
        ));
    }
    Ok(())
}

/// `RESTORE LOG db FROM … WITH finish`: applies `set` to `db` by the LSN chain rule
/// (3117 not restoring, 3104 mirrored, 3101 in use, 4330 other family, 4305 too recent,
/// 4326 too early).
pub fn restore_log(
    db: &mut Database,
    set: &BackupSet,
    path: &str,
    finish: Finish,
    usage: Usage,
) -> Result<(), SqlError> {
    check_exclusive(db, usage, "RESTORE")?;
    if !db.accepts_logs() {
        return Err(SqlError::new(
            3117,
            "The log or differential backup cannot be restored because no files are ready to rollforward.",
        ));
    }
    check_not_in_use(usage)?;
    check_log_set(db, set, path)?;
    let (point, last) = (db.lsn, set.header.last_lsn);
    db.messages.extend(
        set.messages
            .iter()
            .filter(|m| m.lsn >= point && m.lsn < last)
            .copied(),
    );
    db.lsn = last;
    db.recovery_fork_guid = set.header.recovery_fork;
    db.database_backup_lsn = db.database_backup_lsn.max(set.header.database_backup_lsn);
    finish_restore(db, finish);
    Ok(())
}

fn check_log_set(db: &Database, set: &BackupSet, path: &str) -> Result<(), SqlError> {
    let h = &set.header;
    if h.kind != BackupKind::Log {
        return Err(SqlError::new(
            3135,
            format!(
                "The backup set in file '{path}' was created by BACKUP DATABASE and cannot be used for this restore operation."
            ),
        ));
    }
    if h.family_guid != db.family_guid {
        return Err(other_recovery_path());
    }
    let point = db.lsn;
    if h.first_lsn > point {
        return Err(SqlError::new(
            4305,
            format!(
                "The log in this backup set begins at LSN {}, which is too recent to apply to the database. An earlier log backup that includes LSN {point} can be restored.",
                h.first_lsn
            ),
        ));
    }
    if h.last_lsn <= point {
        return Err(SqlError::new(
            4326,
            format!(
                "The log in this backup set terminates at LSN {}, which is too early to apply to the database. A more recent log backup that includes LSN {point} can be restored.",
                h.last_lsn
            ),
        ));
    }
    // The emulator keeps no history of forks: only a set that would be applied is held
    // to the database's fork. One that ends before the restore point is too early
    // whatever its fork, as one of an earlier fork on the database's path is.
    if !on_the_sets_path(db, h) {
        return Err(other_recovery_path());
    }
    Ok(())
}

/// Whether a database restoring at its redo point is on the recovery path of the set
/// `h` covering that point. A set on one fork needs the database on it. A set spanning
/// a fork point ("Recovery Paths (SQL Server)",
/// <https://learn.microsoft.com/en-us/sql/relational-databases/backup-restore/recovery-paths-sql-server>;
/// `ForkPointLSN`, RESTORE HEADERONLY) takes a database on its first fork that has not
/// gone past the point (the old primary restoring at its tail-log backup's end, as a
/// role change leaves it: "Change Roles Between Primary and Secondary Log Shipping
/// Servers (SQL Server)",
/// <https://learn.microsoft.com/en-us/sql/database-engine/log-shipping/change-roles-between-primary-and-secondary-log-shipping-servers-sql-server>),
/// or one on its last fork at or after the point (restored from a full backup taken
/// after the recovery).
fn on_the_sets_path(db: &Database, h: &BackupHeader) -> bool {
    let point = db.lsn;
    match h.fork_point_lsn {
        None => h.first_recovery_fork == db.recovery_fork_guid,
        Some(fork) => {
            let before = h.first_recovery_fork == db.recovery_fork_guid && point <= fork;
            let after = h.recovery_fork == db.recovery_fork_guid && point >= fork;
            before || after
        }
    }
}

/// 4330: the set is on another recovery path than the database.
fn other_recovery_path() -> SqlError {
    SqlError::new(
        4330,
        "This backup set cannot be applied because it is on a recovery path that is inconsistent with the database. The recovery path is the sequence of data and log backups that have brought the database to a particular recovery point. Find a compatible backup to restore, or restore the rest of the database to match a recovery point within this backup set, which will restore the database to a different point in time.",
    )
}

/// Ends a restore sequence. Recovering a database that was restoring (or in standby)
/// starts a new recovery fork at its redo point, which it remembers ([`ForkPoint`]):
/// backups taken before it can no longer be applied past that point ("Recovery Paths (SQL Server)" on Microsoft Learn: "Restoring a full
/// database backup and recovering the database without using any other type of backup
/// creates a new recovery path").
fn finish_restore(db: &mut Database, finish: Finish) {
    match finish {
        Finish::Recovery => {
            db.fork_point = Some(ForkPoint {
                fork: db.recovery_fork_guid,
                lsn: db.lsn,
            });
            db.recovery_fork_guid = Guid::generate();
            db.state = DbState::Online;
            db.standby = false;
            db.lsn += 1;
            db.log_backup_lsn = db.log_backup_lsn.max(db.lsn - 1);
        }
        Finish::NoRecovery => {
            db.state = DbState::Restoring;
            db.standby = false;
        }
        Finish::Standby => {
            db.state = DbState::Online;
            db.standby = true;
        }
    }
}

/// `RESTORE DATABASE db WITH RECOVERY`: 3153 when already recovered, 3104 when
/// mirrored, 3101 when in use.
pub fn recover(db: &mut Database, usage: Usage) -> Result<(), SqlError> {
    check_exclusive(db, usage, "RESTORE")?;
    if db.is_recovered() {
        return Err(SqlError::new(
            3153,
            "The database is already fully recovered.",
        ));
    }
    check_not_in_use(usage)?;
    finish_restore(db, Finish::Recovery);
    Ok(())
}

/// The options of a full restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullRestore {
    /// `WITH REPLACE`.
    pub replace: bool,
    /// How it ends.
    pub finish: Finish,
    /// `MOVE logical TO physical`.
    pub moves: Vec<(String, String)>,
}

/// `RESTORE DATABASE name FROM … WITH options` on `instance`: 3104 mirrored, 3101 in
/// use, 3154 other database without REPLACE, 3159 online without REPLACE, 3234 unknown
/// logical file in MOVE, 3135 not a full backup, 1834 or 5133 (then 3156, 3119) for a
/// file that cannot go where the backup or `MOVE` puts it ([`check_placement`]).
pub fn restore_full(
    instance: &mut Instance,
    name: &str,
    set: &BackupSet,
    path: &str,
    options: &FullRestore,
    usage: Usage,
) -> Result<(), SqlError> {
    if set.header.kind != BackupKind::Database {
        return Err(SqlError::new(
            3135,
            format!(
                "The backup set in file '{path}' was created by BACKUP LOG and cannot be used for this restore operation."
            ),
        ));
    }
    if let Some(existing) = instance.database(name) {
        check_overwrite(existing, set, options, usage)?;
    }
    let files = moved_files(name, &set.files, &options.moves)?;
    check_placement(instance, name, &files)?;
    let id = match instance.database(name) {
        Some(existing) => existing.id,
        None => {
            instance.next_database_id += 1;
            instance.next_database_id - 1
        }
    };
    let mut db = restored_database(name, id, set, files);
    finish_restore(&mut db, options.finish);
    instance
        .databases
        .retain(|_, d| !d.name.eq_ignore_ascii_case(name));
    instance.databases.insert(name.to_owned(), db);
    Ok(())
}

/// Writes the data file of database `name` on `instance`, just restored from the full
/// backup in `path`, with that backup's data pages ([`Disks::restore_pages`]).
pub fn restore_data_file(
    instance: &Instance,
    name: &str,
    disks: &Disks,
    path: &str,
) -> Result<(), SqlError> {
    let target = instance
        .database(name)
        .and_then(datafile::path_of)
        .ok_or_else(|| SqlError::no_database(name))?;
    disks.restore_pages(instance.id, path, target)
}

fn check_overwrite(
    existing: &Database,
    set: &BackupSet,
    options: &FullRestore,
    usage: Usage,
) -> Result<(), SqlError> {
    check_exclusive(existing, usage, "RESTORE")?;
    check_not_in_use(usage)?;
    if options.replace {
        return Ok(());
    }
    if !set
        .header
        .database_name
        .eq_ignore_ascii_case(&existing.name)
    {
        return Err(SqlError::new(
            3154,
            format!(
                "The backup set holds a backup of a database other than the existing '{}' database.",
                existing.name
            ),
        ));
    }
    if existing.is_recovered() && existing.recovery_model == "FULL" {
        return Err(SqlError::new(
            3159,
            format!(
                "The tail of the log for the database \"{}\" has not been backed up. Use BACKUP LOG WITH NORECOVERY to backup the log if it contains work you do not want to lose. Use the WITH REPLACE or WITH STOPAT clause of the RESTORE statement to just overwrite the contents of the log.",
                existing.name
            ),
        ));
    }
    Ok(())
}

fn moved_files(
    name: &str,
    files: &[FileEntry],
    moves: &[(String, String)],
) -> Result<Vec<FileEntry>, SqlError> {
    if let Some((logical, _)) = moves
        .iter()
        .find(|(l, _)| !files.iter().any(|f| f.logical_name.eq_ignore_ascii_case(l)))
    {
        return Err(SqlError::new(
            3234,
            format!(
                "Logical file '{logical}' is not part of database '{name}'. Use RESTORE FILELISTONLY to list the logical file names."
            ),
        ));
    }
    Ok(files
        .iter()
        .map(|f| {
            let moved = moves
                .iter()
                .find(|(l, _)| f.logical_name.eq_ignore_ascii_case(l));
            FileEntry {
                physical_name: moved.map_or_else(|| f.physical_name.clone(), |(_, p)| p.clone()),
                ..f.clone()
            }
        })
        .collect())
}

/// Each file of a restore goes to the physical path the backup recorded unless `MOVE`
/// names another ("RESTORE Statements - Arguments", MOVE:
/// <https://learn.microsoft.com/en-us/sql/t-sql/statements/restore-statements-arguments-transact-sql>),
/// and that path must be free and its folder must exist on the instance. The files an
/// instance has are its databases' (`sys.master_files`), and its folders those holding
/// them. A file of another database there is 1834 ("The file '…' cannot be overwritten.
/// It is being used by database '…'.", Database Engine events and errors 1000 to 1999:
/// <https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-1000-to-1999>);
/// a folder the instance lacks is 5133 ("Directory lookup for the file … failed with
/// the operating system error 3", events and errors 5000 to 5999:
/// <https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-5000-to-5999>).
/// Each is followed by 3156 for that file ("Use WITH MOVE to identify a valid location
/// for the file."), and the plan by 3119 (events and errors 3000 to 3999:
/// <https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-3000-to-3999>).
fn check_placement(instance: &Instance, name: &str, files: &[FileEntry]) -> Result<(), SqlError> {
    let mut errors = Vec::new();
    for file in files {
        let Some(cause) = placement_problem(instance, name, &file.physical_name) else {
            continue;
        };
        errors.push(cause);
        errors.push((
            3156,
            format!(
                "File '{}' cannot be restored to '{}'. Use WITH MOVE to identify a valid location for the file.",
                file.logical_name, file.physical_name
            ),
        ));
    }
    if !errors.is_empty() {
        errors.push((
            3119,
            "Problems were identified while planning for the RESTORE statement. Previous messages provide details.".into(),
        ));
    }
    SqlError::sequence(errors).map_or(Ok(()), Err)
}

/// Why `path` cannot take a file of database `name` on `instance` (1834 or 5133), if it
/// cannot.
fn placement_problem(instance: &Instance, name: &str, path: &str) -> Option<(u32, String)> {
    let others = instance
        .databases
        .values()
        .filter(|d| !d.name.eq_ignore_ascii_case(name));
    let mut owners = others.filter(|d| {
        d.files
            .iter()
            .any(|f| f.physical_name.eq_ignore_ascii_case(path))
    });
    if let Some(owner) = owners.next() {
        return Some((
            1834,
            format!(
                "The file '{path}' cannot be overwritten.  It is being used by database '{}'.",
                owner.name
            ),
        ));
    }
    let folder = folder_of(path);
    let exists = instance
        .databases
        .values()
        .flat_map(|d| &d.files)
        .any(|f| folder_of(&f.physical_name).eq_ignore_ascii_case(folder));
    (!exists).then(|| {
        (
            5133,
            format!(
                "Directory lookup for the file \"{path}\" failed with the operating system error 3(The system cannot find the path specified.)."
            ),
        )
    })
}

/// The folder holding `instance`'s database files as the instance names them (its
/// `sys.master_files`), if it has any: where a restore onto it belongs. A process may
/// name the world's folder otherwise (a shell under wine sees `Z:\…`); the instance's
/// own name for it is the one its checks compare with.
pub fn data_folder(instance: &Instance) -> Option<&str> {
    instance
        .databases
        .values()
        .flat_map(|d| &d.files)
        .map(|f| folder_of(&f.physical_name))
        .next()
}

/// The folder part of a Windows or Unix path.
fn folder_of(path: &str) -> &str {
    path.rfind(['\\', '/']).map_or("", |at| &path[..at])
}

fn restored_database(name: &str, id: i32, set: &BackupSet, files: Vec<FileEntry>) -> Database {
    Database {
        name: name.to_owned(),
        id,
        state: DbState::Restoring,
        standby: false,
        recovery_model: "FULL".to_owned(),
        user_access: UserAccess::MultiUser,
        lsn: set.header.last_lsn,
        log_backup_lsn: set.header.first_lsn,
        family_guid: set.header.family_guid,
        database_guid: Guid::generate(),
        recovery_fork_guid: set.header.recovery_fork,
        fork_point: None,
        database_backup_lsn: set.header.first_lsn,
        mirroring: None,
        files,
        messages: set.messages.clone(),
    }
}

/// A new, empty, online database named `name` with a new family GUID, its files in
/// `data_dir`.
pub fn new_database(name: &str, id: i32, data_dir: &Path) -> Database {
    let file = |suffix: &str, is_log: bool| FileEntry {
        logical_name: format!("{name}{}", if is_log { "_log" } else { "" }),
        physical_name: data_dir
            .join(format!("{name}{suffix}"))
            .display()
            .to_string(),
        is_log,
    };
    Database {
        name: name.to_owned(),
        id,
        state: DbState::Online,
        standby: false,
        recovery_model: if id <= 4 { "SIMPLE" } else { "FULL" }.to_owned(),
        user_access: UserAccess::MultiUser,
        lsn: FIRST_LSN,
        log_backup_lsn: FIRST_LSN,
        family_guid: Guid::generate(),
        database_guid: Guid::generate(),
        recovery_fork_guid: Guid::generate(),
        fork_point: None,
        database_backup_lsn: 0,
        mirroring: None,
        files: vec![file(".mdf", false), file("_log.ldf", true)],
        messages: Vec::new(),
    }
}

/// Commits chat message `id` on `db`: it gets the current LSN, which then advances.
pub fn commit_message(db: &mut Database, id: u64) -> Message {
    let message = Message { id, lsn: db.lsn };
    db.messages.push(message);
    db.lsn += LSN_PER_MESSAGE;
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat_db() -> Database {
        new_database("mgc", 5, Path::new("/data"))
    }

    fn secondary_of(primary: &mut Database) -> Database {
        let full = take_full_backup(primary, InstanceId::Primary, Utc::now(), true);
        let mut secondary = restored_database("mgc", 5, &full, full.files.clone());
        finish_restore(&mut secondary, Finish::NoRecovery);
        secondary
    }

    #[test]
    fn log_backups_chain_and_restore_in_order_without_duplicates() {
        let mut primary = chat_db();
        commit_message(&mut primary, 1);
        let mut secondary = secondary_of(&mut primary);
        commit_message(&mut primary, 2);
        let first = take_log_backup(&mut primary, InstanceId::Primary, Utc::now(), false);
        commit_message(&mut primary, 3);
        let second = take_log_backup(&mut primary, InstanceId::Primary, Utc::now(), false);
        assert_eq!(first.header.last_lsn, second.header.first_lsn);
        let usage = Usage::default();
        restore_log(&mut secondary, &first, "f1", Finish::NoRecovery, usage).unwrap();
        restore_log(&mut secondary, &second, "f2", Finish::NoRecovery, usage).unwrap();
        let ids: Vec<u64> = secondary.messages.iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![1, 2, 3]);
        assert_eq!(secondary.lsn, second.header.last_lsn);
    }

    #[test]
    fn the_chain_refuses_gaps_and_repeats() {
        let mut primary = chat_db();
        let mut secondary = secondary_of(&mut primary);
        commit_message(&mut primary, 1);
        let first = take_log_backup(&mut primary, InstanceId::Primary, Utc::now(), false);
        commit_message(&mut primary, 2);
        let second = take_log_backup(&mut primary, InstanceId::Primary, Utc::now(), false);
        let usage = Usage::default();
        let gap = restore_log(&mut secondary, &second, "f2", Finish::NoRecovery, usage);
        assert_eq!(gap.unwrap_err().number, 4305);
        restore_log(&mut secondary, &first, "f1", Finish::NoRecovery, usage).unwrap();
        let again = restore_log(&mut secondary, &first, "f1", Finish::NoRecovery, usage);
        assert_eq!(again.unwrap_err().number, 4326);
    }

    /// Recovery Paths (SQL Server): recovering a restored database starts a new path;
    /// a log backup of the old one, however well its LSNs fit, is then refused (4330),
    /// and the log backups after the recovery are on the new fork and based on the full
    /// backup the chain started from.
    #[test]
    fn recovery_starts_a_new_fork_and_the_old_one_is_refused() {
        let mut primary = chat_db();
        let mut secondary = secondary_of(&mut primary);
        let base = primary.database_backup_lsn;
        commit_message(&mut primary, 1);
        let old_path = take_log_backup(&mut primary, InstanceId::Primary, Utc::now(), false);
        assert_eq!(
            old_path.header.first_recovery_fork,
            primary.recovery_fork_guid
        );
        assert_eq!(old_path.header.database_backup_lsn, base);
        let mut recovered = secondary.clone();
        recover(&mut recovered, Usage::default()).unwrap();
        assert_ne!(recovered.recovery_fork_guid, secondary.recovery_fork_guid);
        let mut forked = old_path.clone();
        forked.header.first_recovery_fork = recovered.recovery_fork_guid;
        let usage = Usage::default();
        let refused = restore_log(&mut secondary, &forked, "f", Finish::NoRecovery, usage);
        assert_eq!(refused.unwrap_err().number, 4330);
        restore_log(&mut secondary, &old_path, "f", Finish::NoRecovery, usage).unwrap();
        assert_eq!(secondary.recovery_fork_guid, old_path.header.recovery_fork);
        assert_eq!(secondary.database_backup_lsn, base);
    }

    /// "Tail-Log Backups (SQL Server)" and "BACKUP (Transact-SQL)", NORECOVERY: the tail
    /// backup leaves the database RESTORING at its LastLSN, and needs the database to
    /// itself and in a state that can be backed up.
    #[test]
    fn a_tail_log_backup_leaves_the_database_restoring_at_its_end() {
        let mut primary = chat_db();
        commit_message(&mut primary, 1);
        let busy = |own, others| Usage { own, others };
        let refused = |db: &Database, usage| check_tail_backup(db, usage).unwrap_err().number;
        assert_eq!(refused(&primary, busy(true, false)), 3102);
        assert_eq!(refused(&primary, busy(false, true)), 3101);
        let mut mirrored = primary.clone();
        mirrored.mirroring = Some(crate::world::model::Mirroring {
            guid: Guid::generate(),
            role: crate::world::model::MirrorRole::Principal,
            partner: "TCP://sql-atl2.contoso.test:5022".into(),
        });
        assert_eq!(refused(&mirrored, Usage::default()), 3104);
        check_tail_backup(&primary, Usage::default()).unwrap();
        let tail = take_tail_log_backup(&mut primary, InstanceId::Primary, Utc::now(), true);
        assert_eq!(primary.state, DbState::Restoring);
        assert!(primary.accepts_logs());
        assert_eq!(primary.lsn, tail.header.last_lsn);
        assert_eq!(tail.messages.len(), 1);
        assert_eq!(refused(&primary, Usage::default()), 927);
        primary.standby = true;
        assert_eq!(refused(&primary, Usage::default()), 3036);
    }

    /// The role change of "Change Roles Between Primary and Secondary Log Shipping
    /// Servers (SQL Server)": the old primary, RESTORING at its tail's end on the old
    /// fork, follows the new primary's first log backup, which spans the fork point of
    /// the recovery ("Recovery Paths (SQL Server)"; `FirstRecoveryForkID`,
    /// `ForkPointLSN`, RESTORE HEADERONLY), and the ones after it; no re-seed.
    #[test]
    fn the_old_primary_follows_the_new_one_across_the_fork_point() {
        let mut old = chat_db();
        commit_message(&mut old, 1);
        let mut new = secondary_of(&mut old);
        commit_message(&mut old, 2);
        let tail = take_tail_log_backup(&mut old, InstanceId::Primary, Utc::now(), true);
        let usage = Usage::default();
        restore_log(&mut new, &tail, "t", Finish::NoRecovery, usage).unwrap();
        recover(&mut new, usage).unwrap();
        commit_message(&mut new, 3);
        let first = take_log_backup(&mut new, InstanceId::Backup, Utc::now(), false);
        assert_eq!(first.header.first_recovery_fork, old.recovery_fork_guid);
        assert_eq!(first.header.recovery_fork, new.recovery_fork_guid);
        assert_eq!(first.header.fork_point_lsn, Some(tail.header.last_lsn));
        commit_message(&mut new, 4);
        let second = take_log_backup(&mut new, InstanceId::Backup, Utc::now(), false);
        assert_eq!(second.header.first_recovery_fork, new.recovery_fork_guid);
        assert_eq!(second.header.fork_point_lsn, None);
        restore_log(&mut old, &first, "f1", Finish::NoRecovery, usage).unwrap();
        assert_eq!(old.recovery_fork_guid, new.recovery_fork_guid);
        restore_log(&mut old, &second, "f2", Finish::NoRecovery, usage).unwrap();
        let ids: Vec<u64> = old.messages.iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![1, 2, 3, 4]);
    }

    /// "Recovery Paths (SQL Server)": a database that went on past the fork point on the
    /// old fork (restored from a log backup the recovered copy never saw) is on another
    /// path than the set spanning the point, which is refused with 4330.
    #[test]
    fn a_database_past_the_fork_point_on_the_old_fork_is_refused() {
        let mut old = chat_db();
        let mut new = secondary_of(&mut old);
        let mut elsewhere = new.clone();
        commit_message(&mut old, 1);
        let went_on = take_log_backup(&mut old, InstanceId::Primary, Utc::now(), false);
        let usage = Usage::default();
        restore_log(&mut elsewhere, &went_on, "w", Finish::NoRecovery, usage).unwrap();
        recover(&mut new, usage).unwrap();
        commit_message(&mut new, 2);
        let first = take_log_backup(&mut new, InstanceId::Backup, Utc::now(), false);
        assert!(first.header.fork_point_lsn.unwrap() < elsewhere.lsn);
        assert!(first.header.last_lsn > elsewhere.lsn);
        let refused = restore_log(&mut elsewhere, &first, "f", Finish::NoRecovery, usage);
        assert_eq!(refused.unwrap_err().number, 4330);
    }

    #[test]
    fn restore_needs_a_restoring_unmirrored_unused_database() {
        let mut primary = chat_db();
        commit_message(&mut primary, 1);
        let log = take_log_backup(&mut primary, InstanceId::Primary, Utc::now(), false);
        let online = restore_log(
            &mut primary,
            &log,
            "f",
            Finish::NoRecovery,
            Usage::default(),
        );
        assert_eq!(online.unwrap_err().number, 3117);
        let mut secondary = secondary_of(&mut primary);
        let busy = Usage {
            own: false,
            others: true,
        };
        let in_use = restore_log(&mut secondary, &log, "f", Finish::NoRecovery, busy);
        assert_eq!(in_use.unwrap_err().number, 3101);
        assert_eq!(recover(&mut secondary, busy).unwrap_err().number, 3101);
        recover(&mut secondary, Usage::default()).unwrap();
        assert_eq!(
            recover(&mut secondary, Usage::default())
                .unwrap_err()
                .number,
            3153
        );
    }

    #[test]
    fn standby_databases_cannot_be_backed_up() {
        let mut db = chat_db();
        db.standby = true;
        assert_eq!(check_backup(&db, false).unwrap_err().number, 3036);
    }

    #[test]
    fn a_full_restore_over_an_online_database_needs_replace() {
        let mut instance = Instance {
            id: crate::world::model::InstanceId::Primary,
            databases: [("mgc".to_owned(), chat_db())].into(),
            msdb: Default::default(),
            readers: Vec::new(),
            next_database_id: 6,
            statements: 0,
        };
        let mut source = chat_db();
        commit_message(&mut source, 9);
        let full = take_full_backup(&mut source, InstanceId::Primary, Utc::now(), true);
        let mut options = FullRestore {
            replace: false,
            finish: Finish::Recovery,
            moves: vec![("mgc".into(), "/data/mgc_moved.mdf".into())],
        };
        let refused = restore_full(&mut instance, "mgc", &full, "f", &options, Usage::default());
        assert_eq!(refused.unwrap_err().number, 3159);
        options.replace = true;
        restore_full(&mut instance, "mgc", &full, "f", &options, Usage::default()).unwrap();
        let db = instance.database("mgc").unwrap();
        assert_eq!(db.family_guid, source.family_guid);
        assert_eq!(db.files[0].physical_name, "/data/mgc_moved.mdf");
        assert!(db.is_recovered());
    }
}
