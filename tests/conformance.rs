//! The database-plane conformance suite (`pcdr_core::conformance`), run through the real
//! tiberius adapter against the emulator always, and against a real SQL Server when
//! `PCDR_TEST_MSSQL` holds an ADO.NET connection string, e.g.
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

mod common;

use async_trait::async_trait;
use common::Served;
use pcdr_core::adapters::sql::SqlPlane;
use pcdr_core::conformance::{self, Admin, CheckResult, Session, TdsAdmin};
use pcdr_core::planes::DatabasePlane;
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

/// Prints every result and fails the test naming each check that did not hold.
fn report(target: &str, results: &[(&'static str, CheckResult)]) {
    assert_eq!(results.len(), conformance::CHECKS.len());
    let mut failed = Vec::new();
    for (name, result) in results {
        match result {
            Ok(()) => println!("[ok]     {target}: {name}"),
            Err(e) => {
                println!("[FAILED] {target}: {e}");
                failed.push(e.to_string());
            }
        }
    }
    assert!(failed.is_empty(), "{target}: {failed:#?}");
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
        "server=tcp:{},{port};user id=pcdr;password={password};encrypt=DANGER_PLAINTEXT",
        primary.host
    );
    let admin = SimAdmin {
        tds: TdsAdmin::from_ado(&ado).unwrap(),
        world: Arc::clone(&served.world),
    };
    let planes = pcdr_core::adapters::connect(&served.topology).unwrap();
    let folder = served.world.share_dir().display().to_string();

    let results = conformance::run_all(planes.primary.as_ref(), &admin, "mgc", &folder).await;

    report("pcdr-sim", &results);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_plane_conforms_on_a_real_sql_server_when_one_is_given() {
    let Ok(ado) = std::env::var("PCDR_TEST_MSSQL") else {
        // Written past the test harness's capture, so it shows in every run.
        let _ = writeln!(
            std::io::stderr(),
            "conformance: the real SQL Server run was SKIPPED (set PCDR_TEST_MSSQL to an ADO.NET connection string to run it)"
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
        conformance::run_all(&plane as &dyn DatabasePlane, &admin, &database, &folder).await;

    drop(plane);
    let mut leftovers = conformance::copy_names(&database);
    leftovers.push(database.clone());
    for name in &leftovers {
        if let Err(e) = admin.drop_database(name).await {
            println!("could not drop {name}: {e}");
        }
    }
    report("PCDR_TEST_MSSQL", &results);
}
