//! The conformance suites (`pcdr_core::conformance`), run through the real adapters:
//! the database plane over tiberius, the file plane on the file system, the pool plane
//! through the Management Shell (`pcdr sim shell` here). Each runs against the emulator
//! always, and against a real system when its variable is set; without it the test says
//! on stderr that it SKIPPED that run.
//!
//! **Database**: `PCDR_TEST_MSSQL` holds an ADO.NET connection string, e.g.
//!
//! ```text
//! PCDR_TEST_MSSQL='server=tcp:sql01.contoso.com,1433;user id=pcdr;password=…;TrustServerCertificate=true' \
//! PCDR_TEST_MSSQL_BACKUP_DIR='D:\Backup' cargo test --test conformance -- --nocapture
//! ```
//!
//! On a real server the suite creates a throwaway database `pcdr_conformance_…` and the
//! copies it restores from it, and drops them all at the end; the backup files it wrote
//! stay in the backup folder (`PCDR_TEST_MSSQL_BACKUP_DIR`, else the instance's default
//! backup path). The login needs `dbcreator` and `processadmin` (for `KILL`).
//!
//! On the emulator, which has no `CREATE DATABASE`, `DROP DATABASE` or tables, the
//! suite runs on the world's own `mgc` of the primary instance: the log grows by the
//! world's chat traffic instead of an `INSERT`, the copies are left in the world's
//! (temporary) folder instead of dropped, and `mgc` is mirrored there, so the mirroring
//! check really removes a mirroring session before it checks that a second removal is
//! `Ok`.
//!
//! **Files**: on the emulator, the world's share and copy folder. `PCDR_TEST_SHARE`
//! names a folder on a real share (`\\fs01\pcdr-test`); the test writes in a folder of
//! its own there and removes it.
//!
//! **Pool**: on the emulator, its Management Shell, with the primary site's chat
//! servers and its mirrored `mgc`; the world is then checked to hold what the shell
//! cannot report. `PCDR_TEST_SKYPE_TOPOLOGY` names the topology file of a *disposable*
//! pool whose `[shell]` runs the real Management Shell (see the module doc of
//! `pcdr_core::conformance`).

mod common;

use async_trait::async_trait;
use common::Served;
use pcdr_core::adapters::sql::SqlPlane;
use pcdr_core::conformance::database::{Admin, Session, TdsAdmin};
use pcdr_core::conformance::files::{Admin as _, LocalAdmin};
use pcdr_core::conformance::{self, assert_all_hold, files, pool};
use pcdr_core::logship::join_path;
use pcdr_core::planes::{ChatDatabase, DatabasePlane, MirrorRequest};
use pcdr_core::topology::Topology;
use pcdr_sim::world::{World, WorldOptions};
use std::io::Write;
use std::sync::Arc;

/// The emulator's admin: T-SQL through tiberius, log activity through the world's chat
/// traffic, and nothing to drop.
struct SimAdmin {
    tds: TdsAdmin,
    world: Arc<World>,
}

#[async_trait]
impl Admin for SimAdmin {
    async fn backup_log(&self, database: &str, file: &str) -> Result<(), String> {
        self.tds.backup_log(database, file).await
    }

    async fn log_activity(&self, database: &str) -> Result<(), String> {
        if !database.eq_ignore_ascii_case("mgc") {
            return Err(format!(
                "the emulator writes to the chat database only, not {database}"
            ));
        }
        self.world
            .traffic(2, false)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn open_session(&self, database: &str) -> Result<Box<dyn Session>, String> {
        self.tds.open_session(database).await
    }

    async fn drop_database(&self, _: &str) -> Result<(), String> {
        Ok(())
    }
}

/// Says, past the test harness's capture so it shows in every run, that the real-system
/// run of a suite was skipped and how to run it.
fn skipped(suite: &str, how: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "conformance: the {suite} run against a real system was SKIPPED ({how})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_plane_conforms_on_the_emulator() {
    let served = Served::new(&WorldOptions::default()).await;
    let primary = &served.topology.sites.primary.sql;
    let Some(port) = primary.address.port() else {
        panic!("the served topology names ports");
    };
    let password = served.world.password().unwrap();
    let ado = format!(
        "server=tcp:{},{port};user id=pcdr;password={password};encrypt=true;\
         TrustServerCertificateCA={}",
        primary.host,
        served.world.ca_file().display()
    );
    let admin = SimAdmin {
        tds: TdsAdmin::from_ado(&ado).unwrap(),
        world: Arc::clone(&served.world),
    };
    let planes = pcdr_core::adapters::connect(&served.topology).unwrap();
    let folder = served.world.share_dir().display().to_string();

    let results =
        conformance::database::run_all(planes.primary.as_ref(), &admin, "mgc", &folder).await;

    assert_all_hold("pcdr-sim", &conformance::database::CHECKS, &results);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_plane_conforms_on_a_real_sql_server_when_one_is_given() {
    let Ok(ado) = std::env::var("PCDR_TEST_MSSQL") else {
        skipped(
            "database",
            "set PCDR_TEST_MSSQL to an ADO.NET connection string to run it",
        );
        return;
    };
    let admin = TdsAdmin::from_ado(&ado).unwrap();
    let config = admin.config();
    let plane = SqlPlane::from_config(config.get_addr(), config);
    let folder =
        match std::env::var("PCDR_TEST_MSSQL_BACKUP_DIR") {
            Ok(folder) => folder,
            Err(_) => admin.default_backup_folder().await.unwrap().expect(
                "set PCDR_TEST_MSSQL_BACKUP_DIR: the instance reports no default backup path",
            ),
        };
    let database = format!(
        "pcdr_conformance_{}_{}",
        std::process::id(),
        chrono::Utc::now().format("%Y%m%d%H%M%S")
    );
    admin.create_database(&database).await.unwrap();

    let results =
        conformance::database::run_all(&plane as &dyn DatabasePlane, &admin, &database, &folder)
            .await;

    drop(plane);
    let mut leftovers = conformance::database::copy_names(&database);
    leftovers.push(database.clone());
    for name in &leftovers {
        if let Err(e) = admin.drop_database(name).await {
            println!("could not drop {name}: {e}");
        }
    }
    assert_all_hold("PCDR_TEST_MSSQL", &conformance::database::CHECKS, &results);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_plane_conforms_on_the_emulators_folders() {
    let served = Served::new(&WorldOptions::default()).await;
    let planes = pcdr_core::adapters::connect(&served.topology).unwrap();
    let share = served.world.share_dir().display().to_string();
    let copy_folder = served.world.copy_dir().display().to_string();

    let results = files::run_all(planes.files.as_ref(), &LocalAdmin, &share, &copy_folder).await;

    assert_all_hold("pcdr-sim", &files::CHECKS, &results);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_plane_conforms_on_a_real_share_when_one_is_given() {
    let Ok(share) = std::env::var("PCDR_TEST_SHARE") else {
        skipped(
            "file plane",
            r"set PCDR_TEST_SHARE to a folder on a share this account may write to, e.g. \\fs01\pcdr-test",
        );
        return;
    };
    let name = format!(
        "pcdr_conformance_{}_{}",
        std::process::id(),
        chrono::Utc::now().format("%Y%m%d%H%M%S")
    );
    LocalAdmin.create_folder(&share, &name).unwrap();
    let own = join_path(&share, &name);
    let [source, target] = ["share", "copy"].map(|folder| {
        LocalAdmin.create_folder(&own, folder).unwrap();
        join_path(&own, folder)
    });

    let results = files::run_all(
        &pcdr_core::adapters::files::FileSystem,
        &LocalAdmin,
        &source,
        &target,
    )
    .await;

    if let Err(e) = std::fs::remove_dir_all(&own) {
        println!("could not remove {own}: {e}");
    }
    assert_all_hold("PCDR_TEST_SHARE", &files::CHECKS, &results);
}

/// What `Install-CsMirrorDatabase` is asked for the primary site's chat database, as
/// failback's `mirror_primary` asks it.
fn mirror_request(topology: &Topology) -> MirrorRequest {
    let sql = &topology.sites.primary.sql;
    MirrorRequest {
        database: ChatDatabase::PersistentChat,
        sql_server_fqdn: sql.server_fqdn().to_owned(),
        sql_instance: sql.address.instance().map(str::to_owned),
        file_share: topology.log_shipping.backup_share.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_plane_conforms_on_the_emulators_management_shell() {
    let served = Served::new(&WorldOptions::default()).await;
    let topology = &served.topology;
    let planes = pcdr_core::adapters::connect(topology).unwrap();
    let servers = topology.sites.primary.chat_servers.clone();
    let mirror = pool::MirrorCase {
        principal: planes.primary.as_ref(),
        database: &topology.databases.chat,
        request: mirror_request(topology),
    };

    let results = pool::run_all(planes.pool.as_ref(), &servers, &mirror).await;

    assert_all_hold("pcdr-sim", &pool::CHECKS, &results);
    // The shell cannot report the active servers: the world shows where they landed.
    let world = served.world.read().unwrap();
    assert!(!world.pool.failed_over, "the pool is left Normal");
    assert_eq!(
        world.pool.active, servers,
        "the servers given are left active"
    );
    assert_eq!(served.cmdlet_runs("Set-CsPersistentChatActiveServer"), 4);
    assert_eq!(served.cmdlet_runs("Install-CsMirrorDatabase"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_plane_conforms_on_a_real_pool_when_one_is_given() {
    let Ok(path) = std::env::var("PCDR_TEST_SKYPE_TOPOLOGY") else {
        skipped(
            "pool plane",
            "set PCDR_TEST_SKYPE_TOPOLOGY to the topology file of a DISPOSABLE pool whose [shell] runs the Management Shell",
        );
        return;
    };
    let topology = Topology::load(std::path::Path::new(&path)).unwrap();
    assert!(
        topology.sites.primary.mirror.is_some(),
        "{path}: the primary site must name a mirror instance, for Install-CsMirrorDatabase"
    );
    let planes = pcdr_core::adapters::connect(&topology).unwrap();
    let sites = &topology.sites;
    let mut servers = sites.primary.chat_servers.clone();
    if servers.len() < 2 {
        servers.extend(sites.backup.chat_servers.first().cloned());
    }
    servers.truncate(4);
    let mirror = pool::MirrorCase {
        principal: planes.primary.as_ref(),
        database: &topology.databases.chat,
        request: mirror_request(&topology),
    };

    let results = pool::run_all(planes.pool.as_ref(), &servers, &mirror).await;

    assert_all_hold("PCDR_TEST_SKYPE_TOPOLOGY", &pool::CHECKS, &results);
}
