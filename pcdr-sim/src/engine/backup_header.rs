//! The result sets of `RESTORE HEADERONLY` and `RESTORE FILELISTONLY`: every column the
//! documentation lists, in its order and with its SQL type, from a backup set read from
//! its file.
//!
//! The columns follow "RESTORE Statements - HEADERONLY (Transact-SQL)"
//! (<https://learn.microsoft.com/en-us/sql/t-sql/statements/restore-statements-headeronly-transact-sql>)
//! and "RESTORE Statements - FILELISTONLY (Transact-SQL)"
//! (<https://learn.microsoft.com/en-us/sql/t-sql/statements/restore-statements-filelistonly-transact-sql>);
//! the columns a version added (`containment` in 2012, the encryption columns in 2014,
//! `SnapshotURL` with file-snapshot backups in 2016) are absent on an instance
//! presenting SQL Server 2008 R2. What the emulated backup
//! does not record (the user who took it, its set GUID, the database's creation date)
//! is NULL; settings the emulated instances share (collation, sort order, locale) have
//! the values of `SQL_Latin1_General_CP1_CI_AS`. Reading the file is `restore.rs`'s.

use crate::backup_file::{BackupKind, BackupSet, FileEntry};
use crate::tds::{Column, ColumnType, ResultSet, StatementResult, Value};
use crate::world::model::Settings;

use ColumnType::{
    BigInt, Bit, DateTime, Int, NVarChar, Numeric, SmallInt, TinyInt, UniqueIdentifier, VarBinary,
};

/// `DeviceType` of a disk file named by its path (a physical disk device).
const PHYSICAL_DISK: i32 = 102;
/// `SoftwareVendorId` of SQL Server: 4608 (0x1200).
const MICROSOFT: i32 = 4608;
/// The collation of every emulated instance and database.
const COLLATION: &str = "SQL_Latin1_General_CP1_CI_AS";
/// `Flags` bit: the backup contains backup checksums.
const FLAG_CHECKSUMS: i32 = 16;
/// The size every emulated database file has, in bytes.
const FILE_SIZE: i128 = 8 * 1_048_576;
/// The `MaxSize` of an emulated file (unlimited growth, as SQL Server shows it).
const UNLIMITED_SIZE: i128 = 35_184_372_080_640;

/// One column of a row with its value.
type Cell = (&'static str, ColumnType, Value);

/// `RESTORE HEADERONLY`: one row for the file's one backup set. `BackupStartDate` and
/// `BackupFinishDate` are in the local time of the instance that took the backup (every
/// instance of a world is in one time zone).
pub(crate) fn header_only(set: &BackupSet, settings: &Settings) -> StatementResult {
    let mut cells = identity_cells(set, settings);
    cells.extend(lsn_and_date_cells(set, settings));
    cells.extend(server_cells(set, settings));
    cells.extend(flag_cells(set));
    cells.extend(fork_and_type_cells(set));
    if !settings.sql_version.before_2012() {
        cells.extend(later_version_cells());
    }
    one_row_per_set(vec![cells])
}

/// `RESTORE FILELISTONLY`: one row per file of the backed-up database.
pub(crate) fn file_list(set: &BackupSet, settings: &Settings) -> StatementResult {
    let rows = set
        .files
        .iter()
        .zip(1..)
        .map(|(file, id)| file_cells(set, file, id, settings))
        .collect();
    one_row_per_set(rows)
}

/// The columns of the first row, and every row's values.
fn one_row_per_set(rows: Vec<Vec<Cell>>) -> StatementResult {
    let columns = rows
        .first()
        .map(|cells| {
            cells
                .iter()
                .map(|(name, ty, _)| Column::new(*name, *ty))
                .collect()
        })
        .unwrap_or_default();
    let rows = rows
        .into_iter()
        .map(|cells| cells.into_iter().map(|(_, _, value)| value).collect())
        .collect();
    StatementResult::Rows(ResultSet { columns, rows })
}

fn lsn(n: u128) -> Value {
    i128::try_from(n).map_or(Value::Null, Value::Decimal)
}

fn text(value: &str) -> Value {
    Value::NVarChar(value.to_owned())
}

/// `BackupSize`, "Size of the backup, in bytes": the size of the set's file, data
/// pages included (RESTORE Statements - HEADERONLY,
/// <https://learn.microsoft.com/en-us/sql/t-sql/statements/restore-statements-headeronly-transact-sql>).
fn backup_size(set: &BackupSet) -> i128 {
    i128::from(set.file_bytes())
}

/// `BackupName` to `BackupSize`.
fn identity_cells(set: &BackupSet, settings: &Settings) -> Vec<Cell> {
    let h = &set.header;
    vec![
        ("BackupName", NVarChar, Value::Null),
        ("BackupDescription", NVarChar, Value::Null),
        ("BackupType", SmallInt, Value::Int(i32::from(h.kind.code()))),
        ("ExpirationDate", DateTime, Value::Null),
        ("Compressed", Bit, Value::Bit(false)),
        ("Position", SmallInt, Value::Int(1)),
        ("DeviceType", TinyInt, Value::Int(PHYSICAL_DISK)),
        ("UserName", NVarChar, Value::Null),
        ("ServerName", NVarChar, text(&h.server_name)),
        ("DatabaseName", NVarChar, text(&h.database_name)),
        (
            "DatabaseVersion",
            Int,
            Value::Int(settings.sql_version.database_version()),
        ),
        ("DatabaseCreationDate", DateTime, Value::Null),
        ("BackupSize", Numeric(20), Value::Decimal(backup_size(set))),
    ]
}

/// `FirstLSN` to `BackupFinishDate`. The emulated databases checkpoint only when a full
/// backup starts, so the newest checkpoint is a full backup's first LSN, and a log
/// backup's the one its `DatabaseBackupLSN` names.
fn lsn_and_date_cells(set: &BackupSet, settings: &Settings) -> Vec<Cell> {
    let h = &set.header;
    let checkpoint = match h.kind {
        BackupKind::Database => h.first_lsn,
        BackupKind::Log => h.database_backup_lsn,
    };
    vec![
        ("FirstLSN", Numeric(25), lsn(h.first_lsn)),
        ("LastLSN", Numeric(25), lsn(h.last_lsn)),
        ("CheckpointLSN", Numeric(25), lsn(checkpoint)),
        ("DatabaseBackupLSN", Numeric(25), lsn(h.database_backup_lsn)),
        (
            "BackupStartDate",
            DateTime,
            Value::DateTime2(settings.local(h.start)),
        ),
        (
            "BackupFinishDate",
            DateTime,
            Value::DateTime2(settings.local(h.finish)),
        ),
    ]
}

/// `SortOrder` to `FamilyGUID`: the server that wrote the set and the database's
/// identity.
fn server_cells(set: &BackupSet, settings: &Settings) -> Vec<Cell> {
    let h = &set.header;
    let [major, minor, build] = settings.sql_version.software_version();
    let machine = h.server_name.split('\\').next().unwrap_or_default();
    let flags = if h.has_checksum { FLAG_CHECKSUMS } else { 0 };
    vec![
        ("SortOrder", SmallInt, Value::Int(52)),
        ("CodePage", SmallInt, Value::Int(0)),
        ("UnicodeLocaleId", Int, Value::Int(1033)),
        ("UnicodeComparisonStyle", Int, Value::Int(196_609)),
        (
            "CompatibilityLevel",
            TinyInt,
            Value::Int(settings.sql_version.compatibility_level()),
        ),
        ("SoftwareVendorId", Int, Value::Int(MICROSOFT)),
        ("SoftwareVersionMajor", Int, Value::Int(major)),
        ("SoftwareVersionMinor", Int, Value::Int(minor)),
        ("SoftwareVersionBuild", Int, Value::Int(build)),
        ("MachineName", NVarChar, text(machine)),
        ("Flags", Int, Value::Int(flags)),
        ("BindingID", UniqueIdentifier, Value::Guid(h.binding_id.0)),
        (
            "RecoveryForkID",
            UniqueIdentifier,
            Value::Guid(h.recovery_fork.0),
        ),
        ("Collation", NVarChar, text(COLLATION)),
        ("FamilyGUID", UniqueIdentifier, Value::Guid(h.family_guid.0)),
    ]
}

/// `HasBulkLoggedData` to `IsCopyOnly`.
fn flag_cells(set: &BackupSet) -> Vec<Cell> {
    let h = &set.header;
    vec![
        ("HasBulkLoggedData", Bit, Value::Bit(false)),
        ("IsSnapshot", Bit, Value::Bit(false)),
        ("IsReadOnly", Bit, Value::Bit(false)),
        ("IsSingleUser", Bit, Value::Bit(false)),
        ("HasBackupChecksums", Bit, Value::Bit(h.has_checksum)),
        ("IsDamaged", Bit, Value::Bit(false)),
        ("BeginsLogChain", Bit, Value::Bit(h.begins_log_chain)),
        ("HasIncompleteMetaData", Bit, Value::Bit(false)),
        ("IsForceOffline", Bit, Value::Bit(false)),
        ("IsCopyOnly", Bit, Value::Bit(h.is_copy_only)),
    ]
}

/// `FirstRecoveryForkID` to `CompressedBackupSize`. "ForkPointLSN: If
/// FirstRecoveryForkID is not equal to RecoveryForkID, this is the log sequence number
/// of the fork point. Otherwise, this value is NULL": the LSN the database was
/// recovered at, recorded in the set (the first log backup after a recovery spans it,
/// "Recovery Paths (SQL Server)",
/// <https://learn.microsoft.com/en-us/sql/relational-databases/backup-restore/recovery-paths-sql-server>).
/// Every version the emulator presents has the column (SQL Server 2005 and later).
fn fork_and_type_cells(set: &BackupSet) -> Vec<Cell> {
    let h = &set.header;
    let fork_point = h.fork_point_lsn.map_or(Value::Null, lsn);
    let description = match h.kind {
        BackupKind::Database => "DATABASE",
        BackupKind::Log => "TRANSACTION LOG",
    };
    let size = i64::try_from(backup_size(set)).unwrap_or(i64::MAX);
    vec![
        (
            "FirstRecoveryForkID",
            UniqueIdentifier,
            Value::Guid(h.first_recovery_fork.0),
        ),
        ("ForkPointLSN", Numeric(25), fork_point),
        ("RecoveryModel", NVarChar, text("FULL")),
        ("DifferentialBaseLSN", Numeric(25), Value::Null),
        ("DifferentialBaseGUID", UniqueIdentifier, Value::Null),
        ("BackupTypeDescription", NVarChar, text(description)),
        ("BackupSetGUID", UniqueIdentifier, Value::Null),
        ("CompressedBackupSize", BigInt, Value::BigInt(size)),
    ]
}

/// `containment` (SQL Server 2012 and later) and the encryption columns (2014 and
/// later): never contained, never encrypted.
fn later_version_cells() -> Vec<Cell> {
    vec![
        ("containment", TinyInt, Value::Int(0)),
        ("KeyAlgorithm", NVarChar, Value::Null),
        ("EncryptorThumbprint", VarBinary(20), Value::Null),
        ("EncryptorType", NVarChar, Value::Null),
    ]
}

/// One row of `RESTORE FILELISTONLY`: data files in filegroup `PRIMARY` (id 1), the log
/// in none (id 0), each present and read-write. `UniqueID` is made from the family GUID
/// and the file id, as the emulated backup records no file GUID.
fn file_cells(set: &BackupSet, file: &FileEntry, id: u8, settings: &Settings) -> Vec<Cell> {
    let (kind, filegroup, filegroup_id, backup_bytes) = match file.is_log {
        true => ("L", Value::Null, 0, 0),
        false => ("D", text("PRIMARY"), 1, i128::from(set.header.data_bytes)),
    };
    let mut unique_id = set.header.family_guid.0;
    unique_id[15] ^= id;
    let mut cells = vec![
        ("LogicalName", NVarChar, text(&file.logical_name)),
        ("PhysicalName", NVarChar, text(&file.physical_name)),
        ("Type", ColumnType::Char(1), text(kind)),
        ("FileGroupName", NVarChar, filegroup),
        ("Size", Numeric(20), Value::Decimal(FILE_SIZE)),
        ("MaxSize", Numeric(20), Value::Decimal(UNLIMITED_SIZE)),
        ("FileID", BigInt, Value::BigInt(i64::from(id))),
        ("CreateLSN", Numeric(25), Value::Decimal(0)),
        ("DropLSN", Numeric(25), Value::Null),
        ("UniqueID", UniqueIdentifier, Value::Guid(unique_id)),
        ("ReadOnlyLSN", Numeric(25), Value::Null),
        ("ReadWriteLSN", Numeric(25), Value::Null),
        (
            "BackupSizeInBytes",
            BigInt,
            Value::BigInt(i64::try_from(backup_bytes).unwrap_or(i64::MAX)),
        ),
        ("SourceBlockSize", Int, Value::Int(512)),
        ("FileGroupID", Int, Value::Int(filegroup_id)),
        ("LogGroupGUID", UniqueIdentifier, Value::Null),
        ("DifferentialBaseLSN", Numeric(25), Value::Null),
        ("DifferentialBaseGUID", UniqueIdentifier, Value::Null),
        ("IsReadOnly", Bit, Value::Bit(false)),
        ("IsPresent", Bit, Value::Bit(true)),
        ("TDEThumbprint", VarBinary(32), Value::Null),
    ];
    if !settings.sql_version.before_2012() {
        cells.push(("SnapshotURL", NVarChar, Value::Null));
    }
    cells
}
