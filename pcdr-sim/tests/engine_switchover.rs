//! A planned switchover and the switch back, driven by hand over tiberius (pcdr-core's
//! exact commands where it has them, the documented T-SQL otherwise): the tail-log
//! backup that leaves the old primary RESTORING ("Tail-Log Backups (SQL Server)",
//! <https://learn.microsoft.com/en-us/sql/relational-databases/backup-restore/tail-log-backups-sql-server>;
//! "BACKUP (Transact-SQL)", NORECOVERY,
//! <https://learn.microsoft.com/en-us/sql/t-sql/statements/backup-transact-sql>), the
//! secondary restoring every log backup and recovering, and log shipping reversed with
//! no re-seed, as "Change Roles Between Primary and Secondary Log Shipping Servers (SQL
//! Server)" describes
//! (<https://learn.microsoft.com/en-us/sql/database-engine/log-shipping/change-roles-between-primary-and-secondary-log-shipping-servers-sql-server>).

mod engine_common;

use std::path::{Path, PathBuf};

use engine_common::{TestClient, batch, number, restore_needed, run, start_default, trn_files};
use pcdr_core::commands::sql;
use pcdr_core::planes::{PrimaryLogShipping, SecondaryLogShipping};
use pcdr_core::topology::RestoreMode;
use pcdr_sim::backup_file::BackupSet;
use pcdr_sim::shell::world::{PoolState, PoolWorld};
use pcdr_sim::world::model::{DbState, InstanceId};
use pcdr_sim::world::server_paths::{self, COPY_FOLDER_ON_BACKUP, COPY_FOLDER_ON_PRIMARY};
use pcdr_sim::world::{Expect, World};
use tiberius::Uuid;
use tiberius::numeric::Numeric;

/// One side of a role change: its instance, its `@@SERVERNAME`, and its copy folder as
/// it names it and as the test reaches it.
struct Side {
    instance: InstanceId,
    copy_folder: &'static str,
    copy_dir: PathBuf,
}

impl Side {
    fn primary(world: &World) -> Self {
        Self {
            instance: InstanceId::Primary,
            copy_folder: COPY_FOLDER_ON_PRIMARY,
            copy_dir: world.primary_copy_dir(),
        }
    }

    fn backup(world: &World) -> Self {
        Self {
            instance: InstanceId::Backup,
            copy_folder: COPY_FOLDER_ON_BACKUP,
            copy_dir: world.copy_dir(),
        }
    }

    /// The Persistent Chat servers of its site, which `Set-CsPersistentChatActiveServer`
    /// makes the active ones when the pool moves there.
    fn pool_servers(&self, world: &World) -> Vec<String> {
        let state = world.read().unwrap();
        match self.instance {
            InstanceId::Backup => state.pool.backup_servers.clone(),
            _ => state.pool.primary_servers.clone(),
        }
    }

    fn server(&self) -> &'static str {
        self.instance.server_name()
    }

    /// `file` of its copy folder as the instance names it.
    fn names(&self, file: &Path) -> String {
        let name = file.file_name().unwrap().to_string_lossy();
        server_paths::join(self.copy_folder, &name)
    }
}

/// A log backup file on the share named for one second past the world clock, after
/// every file the backup jobs have written.
fn tail_file(world: &World) -> PathBuf {
    let at = world.read().unwrap().clock + chrono::Duration::seconds(1);
    let name = format!("mgc_{}.trn", at.format("%Y%m%d%H%M%S"));
    world.share_dir().join(name)
}

fn state_of(world: &World, instance: InstanceId) -> DbState {
    let state = world.read().unwrap();
    state
        .instance(instance)
        .unwrap()
        .database("mgc")
        .unwrap()
        .state
}

/// Copies the share's log backups to `side`'s copy folder and restores, in LSN order,
/// every one its database still needs.
async fn restore_everything(world: &World, side: &Side, client: &mut TestClient) {
    for file in trn_files(&world.share_dir()) {
        std::fs::copy(&file, side.copy_dir.join(file.file_name().unwrap())).unwrap();
    }
    let files = trn_files(&side.copy_dir).into_iter();
    restore_needed(client, files.map(|f| side.names(&f))).await;
}

/// Log shipping of `mgc` from `primary` to `secondary` through the world's share, as
/// pcdr-core sets it up, every 15 minutes.
async fn ship_logs(
    world: &World,
    (primary, primary_client): (&Side, &mut TestClient),
    (secondary, secondary_client): (&Side, &mut TestClient),
) {
    let share = world.share_dir().display().to_string();
    let primary_setup = PrimaryLogShipping {
        database: "mgc".into(),
        backup_directory: share.clone(),
        backup_share: share.clone(),
        backup_job_name: "LSBackup_mgc".into(),
        backup_interval_minutes: 15,
        retention_minutes: 4320,
        secondary_server: secondary.server().into(),
        secondary_database: "mgc".into(),
    };
    let command = sql::setup_log_shipping_primary(&primary_setup);
    run(primary_client, &command).await.unwrap();
    let secondary_setup = SecondaryLogShipping {
        primary_server: primary.server().into(),
        primary_database: "mgc".into(),
        secondary_database: "mgc".into(),
        backup_source_directory: share,
        backup_destination_directory: secondary.copy_folder.into(),
        copy_job_name: format!("LSCopy_{}_mgc", primary.server()),
        restore_job_name: format!("LSRestore_{}_mgc", primary.server()),
        interval_minutes: 15,
        retention_minutes: 4320,
        restore_delay_minutes: 0,
        restore_mode: RestoreMode::NoRecovery,
        disconnect_users: true,
        thresholds: None,
    };
    let command = sql::setup_log_shipping_secondary(&secondary_setup);
    run(secondary_client, &command).await.unwrap();
}

/// The old primary's side of the role change: its log-shipping primary configuration
/// removed ("sp_delete_log_shipping_primary_secondary",
/// <https://learn.microsoft.com/en-us/sql/relational-databases/system-stored-procedures/sp-delete-log-shipping-primary-secondary-transact-sql>;
/// "sp_delete_log_shipping_primary_database",
/// <https://learn.microsoft.com/en-us/sql/relational-databases/system-stored-procedures/sp-delete-log-shipping-primary-database-transact-sql>),
/// which works on a database left RESTORING by its tail-log backup.
async fn stop_shipping_from(client: &mut TestClient, secondary: &Side) {
    let text = format!(
        "EXEC master.dbo.sp_delete_log_shipping_primary_secondary @primary_database = N'mgc', \
         @secondary_server = N'{}', @secondary_database = N'mgc'; \
         EXEC master.dbo.sp_delete_log_shipping_primary_database @database = N'mgc';",
        secondary.server()
    );
    batch(client, &text).await.unwrap();
}

/// `Install-CsMirrorDatabase` on `side`'s site, seeding the mirror through the share
/// with a full and a log backup (`mgc.bak`, `mgc.trn`); then `old`, restoring at the
/// fork point, restores that log backup, the first after the recovery, which spans the
/// fork point like any other would.
async fn mirror_new_primary(world: &World, side: &Side, old_client: &mut TestClient) {
    let share = world.share_dir();
    let fqdn = side.instance.fqdn();
    let share_name = share.display().to_string();
    world
        .install_mirror("PersistentChat", fqdn, Some("PCHAT"), &share_name)
        .unwrap();
    let seed_log = share.join("mgc.trn");
    let header = BackupSet::read(&seed_log).unwrap().header;
    assert!(header.fork_point_lsn.is_some());
    assert_ne!(header.first_recovery_fork, header.recovery_fork);
    let seed_log = seed_log.display().to_string();
    run(old_client, &sql::restore_log("mgc", &seed_log))
        .await
        .unwrap();
}

/// A planned role change from `old` to `new`: mirroring of the old primary removed, its
/// tail-log backup, every log backup restored on the new one, recovered, its mirror
/// installed, log shipping reversed; then traffic on the new primary reaches the old one
/// through its copy and restore jobs.
async fn switch(
    world: &World,
    (old, old_client): (&Side, &mut TestClient),
    (new, new_client): (&Side, &mut TestClient),
    pool: PoolState,
) {
    run(old_client, &sql::remove_mirroring("mgc").unwrap())
        .await
        .unwrap();
    let before = world.messages(old.instance, "mgc").unwrap();
    let tail = tail_file(world);
    let backup = format!(
        "BACKUP LOG mgc TO DISK = N'{}' WITH NORECOVERY, CHECKSUM",
        tail.display()
    );
    batch(old_client, &backup).await.unwrap();
    assert_eq!(state_of(world, old.instance), DbState::Restoring);
    stop_shipping_from(old_client, new).await;
    run(new_client, &sql::remove_secondary_log_shipping("mgc"))
        .await
        .unwrap();
    restore_everything(world, new, new_client).await;
    run(new_client, &sql::recover("mgc")).await.unwrap();
    assert_eq!(world.messages(new.instance, "mgc").unwrap(), before);
    world.set_pool_state(pool).unwrap();
    world.set_active_servers(new.pool_servers(world)).unwrap();
    mirror_new_primary(world, new, old_client).await;

    ship_logs(world, (new, new_client), (old, old_client)).await;
    world.traffic(5, true).unwrap();
    world.traffic(4, false).unwrap();
    world.tick(30).unwrap();
    let held = world.messages(new.instance, "mgc").unwrap();
    assert_eq!(held.len(), before.len() + 9);
    assert_eq!(world.messages(old.instance, "mgc").unwrap(), held);
    assert_eq!(state_of(world, old.instance), DbState::Restoring);
}

#[tokio::test]
async fn a_switchover_and_a_switch_back_lose_nothing_and_need_no_reseed() {
    let sim = start_default().await;
    let world = sim.world();
    world.traffic(3, true).unwrap();
    world.tick(30).unwrap();
    world.traffic(2, false).unwrap();
    let mut primary = sim.connect(InstanceId::Primary).await;
    let mut backup = sim.connect(InstanceId::Backup).await;
    let (atl, dal) = (Side::primary(world), Side::backup(world));
    let to_backup = PoolState::FailedOver;
    switch(world, (&atl, &mut primary), (&dal, &mut backup), to_backup).await;
    assert_eq!(world.verify(Expect::SwitchedOver).unwrap(), vec![]);
    switch(
        world,
        (&dal, &mut backup),
        (&atl, &mut primary),
        PoolState::Normal,
    )
    .await;
    assert_eq!(world.verify(Expect::Normal).unwrap(), vec![]);
}

/// "RESTORE HEADERONLY (Transact-SQL)": the first log backup after a recovery starts on
/// the fork the database was restoring on and names the fork point, where the tail-log
/// backup it was restored from ended ("Recovery Paths (SQL Server)",
/// <https://learn.microsoft.com/en-us/sql/relational-databases/backup-restore/recovery-paths-sql-server>).
#[tokio::test]
async fn the_first_log_backup_after_the_recovery_shows_its_fork_point() {
    let sim = start_default().await;
    let world = sim.world();
    world.tick(30).unwrap();
    let mut primary = sim.connect(InstanceId::Primary).await;
    let mut backup = sim.connect(InstanceId::Backup).await;
    run(&mut primary, &sql::remove_mirroring("mgc").unwrap())
        .await
        .unwrap();
    let tail = tail_file(world);
    let text = format!(
        "BACKUP LOG mgc TO DISK = N'{}' WITH NORECOVERY",
        tail.display()
    );
    batch(&mut primary, &text).await.unwrap();
    run(&mut backup, &sql::remove_secondary_log_shipping("mgc"))
        .await
        .unwrap();
    restore_everything(world, &Side::backup(world), &mut backup).await;
    run(&mut backup, &sql::recover("mgc")).await.unwrap();
    let after = world
        .share_dir()
        .join("mgc_after.trn")
        .display()
        .to_string();
    let text = format!("BACKUP LOG mgc TO DISK = N'{after}'");
    batch(&mut backup, &text).await.unwrap();
    let header = run(&mut backup, &sql::backup_header(&after)).await.unwrap();
    let row = &header[0][0];
    let fork_point = row.get::<Numeric, _>("ForkPointLSN").unwrap().value();
    let tail_end = BackupSet::read(&tail).unwrap().header.last_lsn;
    assert_eq!(fork_point, i128::try_from(tail_end).unwrap());
    let first_fork = row.get::<Uuid, _>("FirstRecoveryForkID").unwrap();
    let fork = row.get::<Uuid, _>("RecoveryForkID").unwrap();
    assert_ne!(first_fork, fork);
    let tail_path = tail.display().to_string();
    let tail_header = run(&mut backup, &sql::backup_header(&tail_path))
        .await
        .unwrap();
    let tail_row = &tail_header[0][0];
    assert_eq!(tail_row.get::<Uuid, _>("RecoveryForkID"), Some(first_fork));
    assert_eq!(tail_row.get::<Numeric, _>("ForkPointLSN"), None);
}

/// The tail-log backup needs the database to itself, like a restore: 3102 from a
/// session using it, 3101 while another session uses it, 3104 while it is mirrored
/// (Database Engine events and errors 3000 to 3999,
/// <https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-3000-to-3999>);
/// the database stays online when it is refused.
#[tokio::test]
async fn a_tail_log_backup_is_refused_unless_the_database_is_its_own() {
    let sim = start_default().await;
    let world = sim.world();
    let mut primary = sim.connect(InstanceId::Primary).await;
    let tail = tail_file(world);
    let backup = format!(
        "BACKUP LOG mgc TO DISK = N'{}' WITH NORECOVERY, CHECKSUM",
        tail.display()
    );
    assert_eq!(number(batch(&mut primary, &backup).await), 3104);
    run(&mut primary, &sql::remove_mirroring("mgc").unwrap())
        .await
        .unwrap();
    let mut user = sim.connect(InstanceId::Primary).await;
    batch(&mut user, "USE mgc").await.unwrap();
    assert_eq!(number(batch(&mut user, &backup).await), 3102);
    assert_eq!(number(batch(&mut primary, &backup).await), 3101);
    assert_eq!(state_of(world, InstanceId::Primary), DbState::Online);
    drop(user);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    batch(&mut primary, &backup).await.unwrap();
    assert_eq!(state_of(world, InstanceId::Primary), DbState::Restoring);
    let again = format!(
        "BACKUP LOG mgc TO DISK = N'{}.2' WITH NORECOVERY",
        tail.display()
    );
    assert_eq!(number(batch(&mut primary, &again).await), 927);
}

/// The files of the log backups of `mgc` msdb on `client`'s instance says `server`
/// took, newest first, read with pcdr-core's two statements ("backupset
/// (Transact-SQL)",
/// <https://learn.microsoft.com/sql/relational-databases/system-tables/backupset-transact-sql>;
/// "backupmediafamily (Transact-SQL)",
/// <https://learn.microsoft.com/sql/relational-databases/system-tables/backupmediafamily-transact-sql>).
async fn log_backups_taken(client: &mut TestClient, server: &str) -> Vec<String> {
    let sets = run(client, &sql::log_backups_taken("mgc", server))
        .await
        .unwrap();
    let mut files = Vec::new();
    for row in sets.iter().flatten() {
        let media_set_id = row.get::<i32, _>("media_set_id").unwrap();
        let devices = run(client, &sql::media_device(i64::from(media_set_id)))
            .await
            .unwrap();
        let device = devices[0][0].get::<&str, _>("physical_device_name");
        files.push(device.unwrap().to_owned());
    }
    files
}

/// Every BACKUP adds a `backupset` row naming the database, the server that took it
/// and its type (`L` for log), and a `backupmediafamily` row naming the file as the
/// statement did: regular, copy-only and tail-log backups alike, newest first by
/// `backup_set_id`; the sets the secondary restored carry the primary's server name.
#[tokio::test]
async fn msdb_lists_the_log_backups_an_instance_took_newest_first() {
    let sim = start_default().await;
    let world = sim.world();
    world.traffic(3, true).unwrap();
    world.tick(30).unwrap();
    let mut primary = sim.connect(InstanceId::Primary).await;
    let mut backup = sim.connect(InstanceId::Backup).await;
    run(&mut primary, &sql::remove_mirroring("mgc").unwrap())
        .await
        .unwrap();
    let share = world.share_dir();
    let regular = share.join("mgc_regular.trn").display().to_string();
    let copy = share.join("mgc_copy.trn").display().to_string();
    let tail = tail_file(world).display().to_string();
    for text in [
        format!("BACKUP LOG mgc TO DISK = N'{regular}'"),
        format!("BACKUP LOG mgc TO DISK = N'{copy}' WITH COPY_ONLY"),
        format!("BACKUP LOG mgc TO DISK = N'{tail}' WITH NORECOVERY"),
    ] {
        batch(&mut primary, &text).await.unwrap();
    }
    let atl = InstanceId::Primary.server_name();
    let taken = log_backups_taken(&mut primary, atl).await;
    assert_eq!(taken[..3], [tail.clone(), copy, regular]);
    assert!(
        taken.len() > 3,
        "the log-shipping job's backups are missing"
    );
    let dal = InstanceId::Backup.server_name();
    assert!(log_backups_taken(&mut primary, dal).await.is_empty());
    let types = batch(
        &mut primary,
        "SELECT type, is_copy_only FROM msdb.dbo.backupset ORDER BY backup_set_id DESC",
    )
    .await
    .unwrap();
    let newest = &types[0][0];
    assert_eq!(newest.get::<&str, _>("type"), Some("L"));
    assert_eq!(newest.get::<bool, _>("is_copy_only"), Some(false));
    assert_eq!(types[0][1].get::<bool, _>("is_copy_only"), Some(true));

    let restored = log_backups_taken(&mut backup, atl).await;
    assert!(!restored.is_empty(), "the secondary restored no log backup");
    assert!(log_backups_taken(&mut backup, dal).await.is_empty());
}
