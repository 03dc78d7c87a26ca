//! RESTORE and BACKUP over tiberius with pcdr-core's exact commands: reading backup
//! files, the LSN chain (4305, 4326, 3117), exclusive access (3101, 3104, 3159, 3021),
//! damaged and missing files (3201, 3203, 3241), standby (3036), full restores with MOVE;
//! the documented columns and types of RESTORE HEADERONLY and FILELISTONLY.

mod engine_common;

use std::path::PathBuf;

use chrono::NaiveDateTime;
use engine_common::{
    Sim, TestClient, batch, data_file, number, on_backup, onto_own_mgc, run, start, start_default,
};
use pcdr_core::commands::sql;
use pcdr_core::planes::{FileMove, FullRestore, SessionId};
use pcdr_sim::world::WorldOptions;
use pcdr_sim::world::model::InstanceId;
use pcdr_sim::world::version::SqlVersion;
use tiberius::numeric::Numeric;
use tiberius::{ColumnType, Row, Uuid};

/// The log backups in the copy folder, by name.
fn copied(sim: &Sim) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(sim.world().copy_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// The newest log backup on the share (never copied).
fn newest_on_share(sim: &Sim) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(sim.world().share_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "trn"))
        .collect();
    files.sort();
    files.pop().unwrap()
}

/// `path` as the backup instance names it ([`on_backup`]).
fn text(sim: &Sim, path: &std::path::Path) -> String {
    on_backup(sim.world(), path)
}

async fn header(client: &mut TestClient, file: &str) -> (u128, u128, String, i32) {
    let rows = run(client, &sql::backup_header(file)).await.unwrap();
    let row = &rows[0][0];
    let lsn = |column: &str| row.get::<Numeric, _>(column).unwrap().value() as u128;
    (
        lsn("FirstLSN"),
        lsn("LastLSN"),
        row.get::<&str, _>("DatabaseName").unwrap().to_owned(),
        row.get::<i32, _>("BackupType").unwrap(),
    )
}

async fn redo_point(client: &mut TestClient) -> u128 {
    let rows = run(client, &sql::redo_start_lsn("mgc")).await.unwrap();
    rows[0][0].get::<Numeric, _>(0).unwrap().value() as u128
}

#[tokio::test]
async fn the_lsn_rule_applies_the_backlog_in_order_and_recovery_holds_every_message() {
    let sim = start_default().await;
    let mut backup = sim.connect(InstanceId::Backup).await;
    let files = copied(&sim);
    assert_eq!(files.len(), 3);
    let point = redo_point(&mut backup).await;
    let (first, last, name, kind) = header(&mut backup, &text(&sim, &files[1])).await;
    assert_eq!((name.as_str(), kind), ("mgc", 2));
    assert!(
        last <= point && first < last,
        "the second backup is already applied"
    );
    let again = run(
        &mut backup,
        &sql::restore_log("mgc", &text(&sim, &files[1])),
    )
    .await;
    assert_eq!(number(again), 4326);
    let share_file = text(&sim, &newest_on_share(&sim));
    let gap = run(&mut backup, &sql::restore_log("mgc", &share_file)).await;
    assert_eq!(number(gap), 4305);
    run(
        &mut backup,
        &sql::restore_log("mgc", &text(&sim, &files[2])),
    )
    .await
    .unwrap();
    let (_, third_last, _, _) = header(&mut backup, &text(&sim, &files[2])).await;
    assert_eq!(redo_point(&mut backup).await, third_last);
    run(&mut backup, &sql::restore_log("mgc", &share_file))
        .await
        .unwrap();
    run(&mut backup, &sql::recover("mgc")).await.unwrap();
    let held = sim.world().messages(InstanceId::Backup, "mgc").unwrap();
    assert_eq!(held, (1..=20).collect::<Vec<u64>>());
    let after = run(&mut backup, &sql::restore_log("mgc", &share_file)).await;
    assert_eq!(number(after), 3117);
    let twice = run(&mut backup, &sql::recover("mgc")).await;
    assert_eq!(number(twice), 3153);
}

#[tokio::test]
async fn recovery_waits_for_readers_to_be_killed() {
    let options = WorldOptions {
        standby: true,
        readers: 2,
        ..WorldOptions::default()
    };
    let sim = start(options).await;
    let mut backup = sim.connect(InstanceId::Backup).await;
    let state = run(&mut backup, &sql::database_state("mgc")).await.unwrap();
    assert_eq!(state[0][0].get::<bool, _>("is_in_standby"), Some(true));
    let standby_backup = run(
        &mut backup,
        &sql::backup_database("mgc", "/tmp/never.bak", false),
    )
    .await;
    assert_eq!(number(standby_backup), 3036);
    let file = text(&sim, &copied(&sim)[2]);
    assert_eq!(
        number(run(&mut backup, &sql::restore_log("mgc", &file)).await),
        3101
    );
    assert_eq!(number(run(&mut backup, &sql::recover("mgc")).await), 3101);
    let rows = run(&mut backup, &sql::sessions("mgc")).await.unwrap();
    let readers: Vec<i32> = rows[0].iter().filter_map(|r| r.get::<i32, _>(0)).collect();
    assert_eq!(readers, vec![1000, 1001]);
    for reader in readers {
        run(&mut backup, &sql::kill(SessionId(reader)))
            .await
            .unwrap();
    }
    run(&mut backup, &sql::restore_log("mgc", &file))
        .await
        .unwrap();
    run(&mut backup, &sql::recover("mgc")).await.unwrap();
    let state = run(&mut backup, &sql::database_state("mgc")).await.unwrap();
    assert_eq!(state[0][0].get::<&str, _>("state_desc"), Some("ONLINE"));
    assert_eq!(state[0][0].get::<bool, _>("is_in_standby"), Some(false));
}

/// `RESTORE HEADERONLY` reads the header only ("Returns a result set containing all the
/// backup header information", RESTORE Statements - HEADERONLY): a file cut short reads
/// its header and fails where the whole set is read, at `RESTORE LOG` and `RESTORE
/// VERIFYONLY`, with 3203 ("Possible Media Errors During Backup and Restore"). A file
/// that is no backup is 3241 and a missing one 3201 wherever they are read.
#[tokio::test]
async fn a_truncated_file_shows_its_header_and_fails_with_3203_only_when_read_whole() {
    let sim = start_default().await;
    let mut backup = sim.connect(InstanceId::Backup).await;
    let good = std::fs::read(&copied(&sim)[2]).unwrap();
    let dir = sim.world().copy_dir();
    let truncated = dir.join("mgc_29990101000000.trn");
    std::fs::write(&truncated, &good[..good.len() - 9]).unwrap();
    let garbage = dir.join("mgc_29990101000001.trn");
    std::fs::write(&garbage, b"this is not a backup").unwrap();
    let missing = dir.join("mgc_nothing.trn");
    let expected = header(&mut backup, &text(&sim, &copied(&sim)[2])).await;
    let read = header(&mut backup, &text(&sim, &truncated)).await;
    assert_eq!(read, expected, "the header of the truncated file reads");
    assert_eq!(
        number(run(&mut backup, &sql::backup_header(&text(&sim, &garbage))).await),
        3241
    );
    assert_eq!(
        number(run(&mut backup, &sql::backup_header(&text(&sim, &missing))).await),
        3201
    );
    assert_eq!(
        number(
            run(
                &mut backup,
                &sql::restore_log("mgc", &text(&sim, &truncated))
            )
            .await
        ),
        3203
    );
    assert_eq!(
        number(batch(&mut backup, &verify_only(&text(&sim, &truncated), "")).await),
        3203
    );
    assert_eq!(
        number(run(&mut backup, &sql::verify_backup(&text(&sim, &garbage))).await),
        3241
    );
}

/// `RESTORE VERIFYONLY FROM DISK = file` and a `WITH` clause.
fn verify_only(file: &str, with: &str) -> String {
    format!("RESTORE VERIFYONLY FROM DISK = N'{file}'{with}")
}

/// Only a backup taken `WITH CHECKSUM` carries backup checksums ("BACKUP (Transact-SQL)",
/// CHECKSUM); the log-shipping backup job takes its backups without them, as a server
/// whose "backup checksum default" is off does. `RESTORE VERIFYONLY … WITH CHECKSUM` of
/// such a backup is 3187 ("RESTORE Statements - VERIFYONLY"); without `CHECKSUM` it
/// verifies; a backup taken `WITH CHECKSUM` verifies with it.
#[tokio::test]
async fn a_log_shipping_backup_has_no_checksums_and_verifying_them_is_3187() {
    let sim = start_default().await;
    let mut backup = sim.connect(InstanceId::Backup).await;
    let shipped = text(&sim, &copied(&sim)[0]);
    let rows = run(&mut backup, &sql::backup_header(&shipped))
        .await
        .unwrap();
    assert_eq!(rows[0][0].get::<bool, _>("HasBackupChecksums"), Some(false));
    assert_eq!(
        number(run(&mut backup, &sql::verify_backup(&shipped)).await),
        3187
    );
    batch(&mut backup, &verify_only(&shipped, ""))
        .await
        .unwrap();

    let mut primary = sim.connect(InstanceId::Primary).await;
    let taken = text(&sim, &sim.world().share_dir().join("mgc_checked.bak"));
    run(&mut primary, &sql::backup_database("mgc", &taken, false))
        .await
        .unwrap();
    let rows = run(&mut primary, &sql::backup_header(&taken))
        .await
        .unwrap();
    assert_eq!(rows[0][0].get::<bool, _>("HasBackupChecksums"), Some(true));
    run(&mut primary, &sql::verify_backup(&taken))
        .await
        .unwrap();
}

#[tokio::test]
async fn restore_and_backup_refuse_to_run_inside_a_transaction() {
    let sim = start_default().await;
    let mut backup = sim.connect(InstanceId::Backup).await;
    batch(&mut backup, "BEGIN TRAN").await.unwrap();
    let trancount = batch(&mut backup, "SELECT @@TRANCOUNT").await.unwrap();
    assert_eq!(trancount[0][0].get::<i32, _>(0), Some(1));
    let file = text(&sim, &copied(&sim)[2]);
    assert_eq!(
        number(run(&mut backup, &sql::restore_log("mgc", &file)).await),
        3021
    );
    let target = text(&sim, &sim.world().share_dir().join("x.bak"));
    assert_eq!(
        number(
            run(
                &mut backup,
                &sql::backup_database("mgccomp", &target, false)
            )
            .await
        ),
        3021
    );
    let alter = sql::remove_mirroring("mgccomp").unwrap();
    assert_eq!(number(run(&mut backup, &alter).await), 226);
    batch(&mut backup, "ROLLBACK").await.unwrap();
    assert_eq!(number(batch(&mut backup, "COMMIT").await), 3902);
    run(&mut backup, &sql::restore_log("mgc", &file))
        .await
        .unwrap();
}

#[tokio::test]
async fn failback_backup_verify_and_restore_over_the_rebuilt_primary() {
    let sim = start_default().await;
    let mut primary = sim.connect(InstanceId::Primary).await;
    let file = text(&sim, &sim.world().share_dir().join("mgc_failback.bak"));
    run(&mut primary, &sql::backup_database("mgc", &file, false))
        .await
        .unwrap();
    run(&mut primary, &sql::verify_backup(&file)).await.unwrap();
    let list = run(&mut primary, &sql::backup_file_list(&file))
        .await
        .unwrap();
    let logical: Vec<&str> = list[0]
        .iter()
        .filter_map(|r| r.get::<&str, _>("LogicalName"))
        .collect();
    assert_eq!(logical, vec!["mgc", "mgc_log"]);
    let moves: Vec<FileMove> = ["mgc", "mgc_log"]
        .iter()
        .map(|l| FileMove {
            logical_name: (*l).into(),
            physical_name: data_file(sim.world(), InstanceId::Primary, &format!("moved_{l}")),
        })
        .collect();
    let mut options = FullRestore {
        replace: true,
        recovery: true,
        moves,
    };
    let mirrored = run(&mut primary, &sql::restore_database("mgc", &file, &options)).await;
    assert_eq!(number(mirrored), 3104);
    run(&mut primary, &sql::remove_mirroring("mgc").unwrap())
        .await
        .unwrap();
    assert_eq!(
        number(run(&mut primary, &sql::remove_mirroring("mgc").unwrap()).await),
        1416
    );
    options.replace = false;
    let tail = run(&mut primary, &sql::restore_database("mgc", &file, &options)).await;
    assert_eq!(number(tail), 3159);
    options.replace = true;
    run(&mut primary, &sql::restore_database("mgc", &file, &options))
        .await
        .unwrap();
    let files = run(&mut primary, &sql::database_files("mgc"))
        .await
        .unwrap();
    let moved = data_file(sim.world(), InstanceId::Primary, "moved_mgc");
    assert_eq!(
        files[0][0].get::<&str, _>("physical_name"),
        Some(moved.as_str())
    );
    options.moves[0].logical_name = "nope".into();
    let unknown = run(&mut primary, &sql::restore_database("mgc", &file, &options)).await;
    assert_eq!(number(unknown), 3234);
}

/// The size of the file at `path`, in bytes.
fn file_size(path: impl AsRef<std::path::Path>) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

/// A world's chat database holds real bytes and "a full database backup backs up the
/// whole database" (Full Database Backups (SQL Server),
/// <https://learn.microsoft.com/en-us/sql/relational-databases/backup-restore/full-database-backups-sql-server>):
/// the data files have the world's size, the seed restored it on the backup instance
/// while log backups stay small, a full backup's file carries it and `BackupSize` says
/// so, a restore `WITH MOVE` writes the moved file, and a damaged or cut body fails the
/// restore and VERIFYONLY with 3203 while its header still reads.
#[tokio::test]
async fn a_full_backup_carries_the_data_file_and_a_restore_writes_it() {
    const SIZE: u64 = 32 << 20;
    let sim = start(WorldOptions {
        db_size_bytes: SIZE,
        ..WorldOptions::default()
    })
    .await;
    let world = sim.world();
    assert_eq!(
        file_size(data_file(world, InstanceId::Primary, "mgc.mdf")),
        SIZE
    );
    assert_eq!(
        file_size(data_file(world, InstanceId::Backup, "mgc.mdf")),
        SIZE
    );
    for entry in std::fs::read_dir(world.share_dir()).unwrap() {
        let entry = entry.unwrap();
        let (name, size) = (entry.file_name(), entry.metadata().unwrap().len());
        match name.to_string_lossy().contains("_seed_") {
            true => assert!(size > SIZE, "the seed {name:?} holds the database"),
            false => assert!(size < 4096, "the log backup {name:?} holds only log"),
        }
    }
    let mut primary = sim.connect(InstanceId::Primary).await;
    let on_share = world.share_dir().join("mgc_big.bak");
    let file = text(&sim, &on_share);
    run(&mut primary, &sql::backup_database("mgc", &file, false))
        .await
        .unwrap();
    assert!(file_size(&on_share) > SIZE);
    let rows = run(&mut primary, &sql::backup_header(&file)).await.unwrap();
    let size = rows[0][0].get::<Numeric, _>("BackupSize").unwrap().value();
    assert_eq!(size as u64, file_size(&on_share));
    run(&mut primary, &sql::remove_mirroring("mgc").unwrap())
        .await
        .unwrap();
    let moves = [("mgc", "big_mgc.mdf"), ("mgc_log", "big_mgc_log.ldf")]
        .iter()
        .map(|(logical, name)| FileMove {
            logical_name: (*logical).into(),
            physical_name: data_file(world, InstanceId::Primary, name),
        })
        .collect();
    let options = FullRestore {
        replace: true,
        recovery: true,
        moves,
    };
    run(&mut primary, &sql::restore_database("mgc", &file, &options))
        .await
        .unwrap();
    let moved = data_file(world, InstanceId::Primary, "big_mgc.mdf");
    assert_eq!(file_size(&moved), SIZE);
    let mut bytes = std::fs::read(&on_share).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xFF;
    std::fs::write(&on_share, &bytes).unwrap();
    let damaged = run(&mut primary, &sql::restore_database("mgc", &file, &options)).await;
    assert_eq!(number(damaged), 3203);
    assert_eq!(
        number(batch(&mut primary, &verify_only(&file, "")).await),
        3203
    );
    std::fs::write(&on_share, &bytes[..middle]).unwrap();
    run(&mut primary, &sql::backup_header(&file)).await.unwrap();
    let cut = run(&mut primary, &sql::restore_database("mgc", &file, &options)).await;
    assert_eq!(number(cut), 3203);
}

/// `sys.database_recovery_status.database_guid` of `mgc` on the instance `client` is
/// connected to, and its `family_guid`.
async fn identity(client: &mut TestClient) -> (Option<Uuid>, Option<Uuid>) {
    let sets = run(client, &sql::database_state("mgc")).await.unwrap();
    let row = &sets[2][0];
    let guid = |column: &str| row.get::<Uuid, _>(column);
    (guid("database_guid"), guid("family_guid"))
}

/// RESTORE HEADERONLY (Microsoft Learn): `BindingID` is the database's
/// `sys.database_recovery_status.database_guid`, and a restored database gets a new one;
/// `FamilyGUID` stays. So the log-shipped copy shares its source's family, not its GUID.
/// Both read NULL while a database does not start, as a RESTORING one
/// (sys.database_recovery_status, Microsoft Learn).
#[tokio::test]
async fn a_backup_names_its_database_by_binding_id_and_a_restore_gives_a_new_one() {
    let sim = start_default().await;
    let mut primary = sim.connect(InstanceId::Primary).await;
    let mut backup = sim.connect(InstanceId::Backup).await;
    let (database, family) = identity(&mut primary).await;
    assert!(database.is_some() && family.is_some());
    let file = text(&sim, &sim.world().share_dir().join("mgc_identity.bak"));
    run(&mut primary, &sql::backup_database("mgc", &file, false))
        .await
        .unwrap();
    let header = run(&mut primary, &sql::backup_header(&file)).await.unwrap();
    let row = &header[0][0];
    assert_eq!(row.get::<Uuid, _>("BindingID"), database);
    assert_eq!(row.get::<Uuid, _>("FamilyGUID"), family);

    assert_eq!(
        identity(&mut backup).await,
        (None, None),
        "the log-shipped copy, RESTORING, shows neither"
    );
    let restore = FullRestore {
        replace: true,
        recovery: true,
        moves: onto_own_mgc(sim.world(), InstanceId::Backup),
    };
    run(&mut backup, &sql::restore_database("mgc", &file, &restore))
        .await
        .unwrap();
    let (restored, restored_family) = identity(&mut backup).await;
    assert_eq!(restored_family, family, "a restore keeps the family");
    assert!(
        restored.is_some() && restored != database,
        "a restore gives the database a new database_guid"
    );
}

#[tokio::test]
async fn a_full_backup_reinitializes_a_secondary_with_norecovery() {
    let sim = start_default().await;
    let mut primary = sim.connect(InstanceId::Primary).await;
    let file = text(&sim, &sim.world().share_dir().join("mgc_seed.bak"));
    run(&mut primary, &sql::backup_database("mgc", &file, false))
        .await
        .unwrap();
    let mut backup = sim.connect(InstanceId::Backup).await;
    let options = FullRestore {
        replace: true,
        recovery: false,
        moves: onto_own_mgc(sim.world(), InstanceId::Backup),
    };
    run(&mut backup, &sql::restore_database("mgc", &file, &options))
        .await
        .unwrap();
    let state = run(&mut backup, &sql::database_state("mgc")).await.unwrap();
    assert_eq!(state[0][0].get::<&str, _>("state_desc"), Some("RESTORING"));
    assert_eq!(
        sim.world()
            .messages(InstanceId::Backup, "mgc")
            .unwrap()
            .len(),
        20
    );
    let log = text(&sim, &sim.world().share_dir().join("mgc_tail.trn"));
    run(
        &mut primary,
        &pcdr_core::commands::sql::SqlCommand {
            text: "BACKUP LOG @db TO DISK = @file WITH CHECKSUM;".into(),
            params: sql::restore_log("mgc", &log).params,
        },
    )
    .await
    .unwrap();
    run(&mut backup, &sql::restore_log("mgc", &log))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unreachable_share_and_a_full_copy_folder_fail_backups_with_3201_and_3202() {
    let sim = start_default().await;
    let mut primary = sim.connect(InstanceId::Primary).await;
    sim.world().set_share_unreachable(true).unwrap();
    let on_share = text(&sim, &sim.world().share_dir().join("mgc_x.bak"));
    assert_eq!(
        number(run(&mut primary, &sql::backup_database("mgc", &on_share, false)).await),
        3201
    );
    assert_eq!(
        number(run(&mut primary, &sql::backup_header(&on_share)).await),
        3201
    );
    sim.world().set_copy_folder_full(true).unwrap();
    let mut backup = sim.connect(InstanceId::Backup).await;
    let in_copy = text(&sim, &sim.world().copy_dir().join("mgccomp_x.bak"));
    assert_eq!(
        number(
            run(
                &mut backup,
                &sql::backup_database("mgccomp", &in_copy, false)
            )
            .await
        ),
        3202
    );
}

/// `RESTORE HEADERONLY`'s columns in the order and with the types of
/// <https://learn.microsoft.com/en-us/sql/t-sql/statements/restore-statements-headeronly-transact-sql>;
/// the last four came with SQL Server 2012 (`containment`) and 2014.
const HEADERONLY_COLUMNS: [(&str, &str); 56] = [
    ("BackupName", "nvarchar(128)"),
    ("BackupDescription", "nvarchar(255)"),
    ("BackupType", "smallint"),
    ("ExpirationDate", "datetime"),
    ("Compressed", "bit"),
    ("Position", "smallint"),
    ("DeviceType", "tinyint"),
    ("UserName", "nvarchar(128)"),
    ("ServerName", "nvarchar(128)"),
    ("DatabaseName", "nvarchar(128)"),
    ("DatabaseVersion", "int"),
    ("DatabaseCreationDate", "datetime"),
    ("BackupSize", "numeric(20,0)"),
    ("FirstLSN", "numeric(25,0)"),
    ("LastLSN", "numeric(25,0)"),
    ("CheckpointLSN", "numeric(25,0)"),
    ("DatabaseBackupLSN", "numeric(25,0)"),
    ("BackupStartDate", "datetime"),
    ("BackupFinishDate", "datetime"),
    ("SortOrder", "smallint"),
    ("CodePage", "smallint"),
    ("UnicodeLocaleId", "int"),
    ("UnicodeComparisonStyle", "int"),
    ("CompatibilityLevel", "tinyint"),
    ("SoftwareVendorId", "int"),
    ("SoftwareVersionMajor", "int"),
    ("SoftwareVersionMinor", "int"),
    ("SoftwareVersionBuild", "int"),
    ("MachineName", "nvarchar(128)"),
    ("Flags", "int"),
    ("BindingID", "uniqueidentifier"),
    ("RecoveryForkID", "uniqueidentifier"),
    ("Collation", "nvarchar(128)"),
    ("FamilyGUID", "uniqueidentifier"),
    ("HasBulkLoggedData", "bit"),
    ("IsSnapshot", "bit"),
    ("IsReadOnly", "bit"),
    ("IsSingleUser", "bit"),
    ("HasBackupChecksums", "bit"),
    ("IsDamaged", "bit"),
    ("BeginsLogChain", "bit"),
    ("HasIncompleteMetaData", "bit"),
    ("IsForceOffline", "bit"),
    ("IsCopyOnly", "bit"),
    ("FirstRecoveryForkID", "uniqueidentifier"),
    ("ForkPointLSN", "numeric(25,0)"),
    ("RecoveryModel", "nvarchar(60)"),
    ("DifferentialBaseLSN", "numeric(25,0)"),
    ("DifferentialBaseGUID", "uniqueidentifier"),
    ("BackupTypeDescription", "nvarchar(60)"),
    ("BackupSetGUID", "uniqueidentifier"),
    ("CompressedBackupSize", "bigint"),
    ("containment", "tinyint"),
    ("KeyAlgorithm", "nvarchar(32)"),
    ("EncryptorThumbprint", "varbinary(20)"),
    ("EncryptorType", "nvarchar(32)"),
];

/// `RESTORE FILELISTONLY`'s columns in the order and with the types of
/// <https://learn.microsoft.com/en-us/sql/t-sql/statements/restore-statements-filelistonly-transact-sql>;
/// the last came with file-snapshot backups (SQL Server 2016).
const FILELISTONLY_COLUMNS: [(&str, &str); 22] = [
    ("LogicalName", "nvarchar(128)"),
    ("PhysicalName", "nvarchar(260)"),
    ("Type", "char(1)"),
    ("FileGroupName", "nvarchar(128)"),
    ("Size", "numeric(20,0)"),
    ("MaxSize", "numeric(20,0)"),
    ("FileID", "bigint"),
    ("CreateLSN", "numeric(25,0)"),
    ("DropLSN", "numeric(25,0)"),
    ("UniqueID", "uniqueidentifier"),
    ("ReadOnlyLSN", "numeric(25,0)"),
    ("ReadWriteLSN", "numeric(25,0)"),
    ("BackupSizeInBytes", "bigint"),
    ("SourceBlockSize", "int"),
    ("FileGroupID", "int"),
    ("LogGroupGUID", "uniqueidentifier"),
    ("DifferentialBaseLSN", "numeric(25,0)"),
    ("DifferentialBaseGUID", "uniqueidentifier"),
    ("IsReadOnly", "bit"),
    ("IsPresent", "bit"),
    ("TDEThumbprint", "varbinary(32)"),
    ("SnapshotURL", "nvarchar(360)"),
];

/// The TDS type (MS-TDS 2.2.5.4) a documented SQL type arrives as, as tiberius names it.
fn tds_type(documented: &str) -> ColumnType {
    match documented.split('(').next().unwrap() {
        "nvarchar" => ColumnType::NVarchar,
        "char" => ColumnType::BigChar,
        "varbinary" => ColumnType::BigVarBin,
        "tinyint" => ColumnType::Int1,
        "smallint" => ColumnType::Int2,
        "int" => ColumnType::Int4,
        "bigint" => ColumnType::Int8,
        "bit" => ColumnType::Bitn,
        "datetime" => ColumnType::Datetimen,
        "numeric" => ColumnType::Numericn,
        "uniqueidentifier" => ColumnType::Guid,
        other => panic!("no TDS type for {other}"),
    }
}

/// The first result set's column metadata is `documented`, name, order and type.
fn assert_columns(rows: &[Vec<Row>], documented: &[(&str, &str)]) {
    let found: Vec<(String, ColumnType)> = rows[0][0]
        .columns()
        .iter()
        .map(|c| (c.name().to_owned(), c.column_type()))
        .collect();
    let expected: Vec<(String, ColumnType)> = documented
        .iter()
        .map(|(name, ty)| ((*name).to_owned(), tds_type(ty)))
        .collect();
    assert_eq!(found, expected);
}

/// The full backup the world was seeded with, on the share.
fn seed_backup(sim: &Sim) -> String {
    let seed = std::fs::read_dir(sim.world().share_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "bak"))
        .expect("the seed backup");
    text(sim, &seed)
}

#[tokio::test]
async fn headeronly_and_filelistonly_send_the_documented_columns_and_types() {
    let sim = start_default().await;
    let mut backup = sim.connect(InstanceId::Backup).await;
    let file = text(&sim, &copied(&sim)[0]);
    let header = run(&mut backup, &sql::backup_header(&file)).await.unwrap();
    assert_columns(&header, &HEADERONLY_COLUMNS);
    let list = run(&mut backup, &sql::backup_file_list(&seed_backup(&sim)))
        .await
        .unwrap();
    assert_columns(&list, &FILELISTONLY_COLUMNS);
    let types: Vec<String> = list[0]
        .iter()
        .map(|r| r.get::<&str, _>("Type").unwrap().to_owned())
        .collect();
    assert_eq!(types, ["D", "L"]);
}

#[tokio::test]
async fn sql_server_2008_r2_sends_the_columns_it_had() {
    let sim = start(WorldOptions {
        sql_version: SqlVersion::Sql2008R2,
        ..WorldOptions::default()
    })
    .await;
    let mut backup = sim.connect(InstanceId::Backup).await;
    let header = run(
        &mut backup,
        &sql::backup_header(&text(&sim, &copied(&sim)[0])),
    )
    .await
    .unwrap();
    assert_columns(&header, &HEADERONLY_COLUMNS[..52]);
    let list = run(&mut backup, &sql::backup_file_list(&seed_backup(&sim)))
        .await
        .unwrap();
    assert_columns(&list, &FILELISTONLY_COLUMNS[..21]);
    assert_eq!(header[0][0].get::<i32, _>("SoftwareVersionMajor"), Some(10));
}

/// The header's identity, checkpoint, date and log-chain columns carry the backup's
/// own values: who wrote it, where the chain begins, which full backup it follows.
#[tokio::test]
async fn a_header_carries_the_server_checkpoint_dates_and_log_chain_of_its_backup() {
    let sim = start_default().await;
    let mut backup = sim.connect(InstanceId::Backup).await;
    let seed = run(&mut backup, &sql::backup_header(&seed_backup(&sim)))
        .await
        .unwrap();
    let seed = &seed[0][0];
    let lsn = |row: &Row, column: &str| row.get::<Numeric, _>(column).map(|n| n.value());
    assert_eq!(lsn(seed, "CheckpointLSN"), lsn(seed, "FirstLSN"));
    assert_eq!(seed.get::<i16, _>("BackupType"), Some(1));
    assert_eq!(seed.get::<bool, _>("BeginsLogChain"), Some(false));
    for (index, file) in copied(&sim).iter().enumerate() {
        let rows = run(&mut backup, &sql::backup_header(&text(&sim, file)))
            .await
            .unwrap();
        let log = &rows[0][0];
        assert_eq!(log.get::<&str, _>("ServerName"), Some("SQLPC-ATL"));
        assert_eq!(log.get::<&str, _>("MachineName"), Some("SQLPC-ATL"));
        assert_eq!(log.get::<i16, _>("BackupType"), Some(2));
        assert_eq!(log.get::<u8, _>("DeviceType"), Some(102));
        assert_eq!(log.get::<bool, _>("BeginsLogChain"), Some(index == 0));
        assert_eq!(lsn(log, "DatabaseBackupLSN"), lsn(seed, "CheckpointLSN"));
        assert_eq!(lsn(log, "CheckpointLSN"), lsn(seed, "CheckpointLSN"));
        let start = log.get::<NaiveDateTime, _>("BackupStartDate").unwrap();
        let finish = log.get::<NaiveDateTime, _>("BackupFinishDate").unwrap();
        assert!(start <= finish);
        assert_eq!(
            log.get::<Uuid, _>("FirstRecoveryForkID"),
            log.get::<Uuid, _>("RecoveryForkID")
        );
        assert_eq!(lsn(log, "ForkPointLSN"), None);
    }
}
