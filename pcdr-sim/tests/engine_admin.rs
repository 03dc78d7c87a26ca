//! Sessions, mirroring, log-shipping procedures, logins, faults and the statement log
//! over tiberius: KILL (6104, 6106), ALTER DATABASE user access, the
//! `sp_delete_log_shipping_secondary_database` cascade and pcdr's setup batches,
//! 18456, an instance down, injected faults, and `statements.log`.

mod engine_common;

use engine_common::{batch, number, run, set_up_log_shipping, spid, start_default, within};
use pcdr_core::commands::sql;
use pcdr_core::planes::SessionId;
use pcdr_sim::world::Expect;
use pcdr_sim::world::faults::{StatementFault, StatementKind, StatementMatch};
use pcdr_sim::world::model::{InstanceId, Site};

/// `sys.databases.user_access_desc` of `database`, read with pcdr-core's own query.
async fn user_access(client: &mut engine_common::TestClient, database: &str) -> String {
    let state = run(client, &sql::database_state(database)).await.unwrap();
    let access = state[0][0].get::<&str, _>("user_access_desc").unwrap();
    access.to_owned()
}

#[tokio::test]
async fn kill_ends_another_session_and_refuses_its_own_and_unknown_ones() {
    let sim = start_default().await;
    let mut killer = sim.connect(InstanceId::Primary).await;
    let mut victim = sim.connect(InstanceId::Primary).await;
    let own = spid(&mut killer).await;
    let other = spid(&mut victim).await;
    assert_eq!(
        number(run(&mut killer, &sql::kill(SessionId(own))).await),
        6104
    );
    assert_eq!(
        number(run(&mut killer, &sql::kill(SessionId(999))).await),
        6106
    );
    run(&mut killer, &sql::kill(SessionId(other)))
        .await
        .unwrap();
    assert!(within(victim.simple_query("SELECT 1")).await.is_err());
    assert_eq!(
        number(run(&mut killer, &sql::kill(SessionId(other))).await),
        6106
    );
}

#[tokio::test]
async fn single_user_needs_rollback_immediate_when_others_are_connected() {
    let sim = start_default().await;
    let mut admin = sim.connect(InstanceId::Primary).await;
    let mut user = sim.connect(InstanceId::Primary).await;
    batch(&mut user, "USE [mgccomp]").await.unwrap();
    let refused = batch(&mut admin, "ALTER DATABASE [mgccomp] SET SINGLE_USER").await;
    assert_eq!(number(refused), 5070);
    batch(
        &mut admin,
        "ALTER DATABASE [mgccomp] SET SINGLE_USER WITH ROLLBACK IMMEDIATE",
    )
    .await
    .unwrap();
    assert_eq!(user_access(&mut admin, "mgccomp").await, "SINGLE_USER");
    assert!(within(user.simple_query("SELECT 1")).await.is_err());
    batch(&mut admin, "ALTER DATABASE mgccomp SET MULTI_USER")
        .await
        .unwrap();
    assert_eq!(user_access(&mut admin, "mgccomp").await, "MULTI_USER");
    let mut backup = sim.connect(InstanceId::Backup).await;
    assert_eq!(
        number(batch(&mut backup, "ALTER DATABASE mgc SET SINGLE_USER").await),
        5052
    );
    assert_eq!(
        number(batch(&mut backup, "ALTER DATABASE nodb SET MULTI_USER").await),
        5011
    );
}

#[tokio::test]
async fn removing_the_last_secondary_database_removes_the_secondary_and_its_jobs() {
    let sim = start_default().await;
    let mut backup = sim.connect(InstanceId::Backup).await;
    let jobs = batch(&mut backup, "SELECT name FROM msdb.dbo.sysjobs")
        .await
        .unwrap();
    assert_eq!(jobs[0].len(), 2);
    run(&mut backup, &sql::remove_secondary_log_shipping("mgc"))
        .await
        .unwrap();
    for table in [
        "log_shipping_secondary",
        "log_shipping_secondary_databases",
        "log_shipping_monitor_secondary",
        "sysjobs",
    ] {
        let rows = batch(&mut backup, &format!("SELECT * FROM msdb.dbo.{table}"))
            .await
            .unwrap();
        assert!(rows[0].is_empty(), "{table} still has rows");
    }
    let again = run(&mut backup, &sql::remove_secondary_log_shipping("mgc")).await;
    assert_eq!(number(again), 32014);
}

#[tokio::test]
async fn pcdr_s_setup_batches_configure_running_log_shipping() {
    let sim = start_default().await;
    let world = sim.world();
    let mut primary = sim.connect(InstanceId::Primary).await;
    let mut backup = sim.connect(InstanceId::Backup).await;
    run(&mut backup, &sql::remove_secondary_log_shipping("mgc"))
        .await
        .unwrap();
    batch(
        &mut primary,
        "EXEC master.dbo.sp_delete_log_shipping_primary_database @database = N'mgc'",
    )
    .await
    .unwrap();
    set_up_log_shipping(world, &mut primary, &mut backup, 5).await;
    let jobs = batch(
        &mut backup,
        "SELECT name, enabled FROM msdb.dbo.sysjobs ORDER BY name",
    )
    .await
    .unwrap();
    let enabled: Vec<(String, i32)> = jobs[0]
        .iter()
        .map(|r| {
            (
                r.get::<&str, _>(0).unwrap().to_owned(),
                r.get::<i32, _>(1).unwrap(),
            )
        })
        .collect();
    // The setup also adds the instance's alert job, enabled
    // (https://learn.microsoft.com/sql/relational-databases/system-stored-procedures/sp-add-log-shipping-alert-job-transact-sql).
    assert_eq!(
        enabled,
        vec![
            ("LSAlert_SQLPC-DAL".into(), 1),
            ("LSCopy_mgc".into(), 1),
            ("LSRestore_mgc".into(), 1)
        ]
    );
    assert_eq!(world.verify(Expect::Normal).unwrap(), vec![]);
    world.traffic(4, false).unwrap();
    world.tick(5).unwrap();
    let held = world.messages(InstanceId::Backup, "mgc").unwrap();
    assert_eq!(
        held,
        (1..=24).collect::<Vec<u64>>(),
        "the new jobs shipped every message"
    );
}

#[tokio::test]
async fn logins_with_a_wrong_password_or_to_a_down_instance_fail() {
    let sim = start_default().await;
    let wrong = sim.try_connect(InstanceId::Primary, Some("wrong")).await;
    assert_eq!(number(wrong), 18456);
    sim.world().disaster(Site::Primary, false).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(sim.try_connect(InstanceId::Primary, None).await.is_err());
    assert!(
        sim.try_connect(InstanceId::PrimaryMirror, None)
            .await
            .is_err()
    );
    sim.connect(InstanceId::Backup).await;
    sim.world().rebuild(Site::Primary).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let mut primary = sim.connect(InstanceId::Primary).await;
    let rows = run(&mut primary, &sql::database_state("mgc"))
        .await
        .unwrap();
    assert_eq!(rows[0][0].get::<&str, _>("state_desc"), Some("ONLINE"));
}

#[tokio::test]
async fn injected_faults_fail_drop_and_count_statements() {
    let sim = start_default().await;
    let world = sim.world();
    let on = |kind| StatementMatch {
        instance: Some(InstanceId::Backup),
        kind: Some(kind),
        nth: None,
    };
    world
        .add_statement_fault(StatementFault::Fail {
            on: on(StatementKind::RestoreHeaderOnly),
            error: 3203,
        })
        .unwrap();
    world
        .add_statement_fault(StatementFault::Drop(on(StatementKind::Kill)))
        .unwrap();
    let mut backup = sim.connect(InstanceId::Backup).await;
    let header = run(&mut backup, &sql::backup_header("/anything.trn")).await;
    assert_eq!(number(header), 3203);
    assert!(run(&mut backup, &sql::kill(SessionId(77))).await.is_err());
    assert!(
        within(backup.simple_query("SELECT 1")).await.is_err(),
        "the connection was dropped"
    );
    world.clear_faults().unwrap();
    let mut backup = sim.connect(InstanceId::Backup).await;
    assert_eq!(
        number(run(&mut backup, &sql::kill(SessionId(77))).await),
        6106
    );
}

#[tokio::test]
async fn every_request_is_logged_without_passwords() {
    let sim = start_default().await;
    let mut primary = sim.connect(InstanceId::Primary).await;
    run(&mut primary, &sql::redo_start_lsn("mgc"))
        .await
        .unwrap();
    batch(
        &mut primary,
        "SET ANSI_NULLS ON; SET TEXTSIZE 2147483647; use [master]; PRINT N'hi'",
    )
    .await
    .unwrap();
    let log = std::fs::read_to_string(sim.world().statements_log()).unwrap();
    assert!(log.contains("redo_start_lsn"), "{log}");
    assert!(log.contains("\"value\":\"mgc\""), "{log}");
    assert!(log.contains("use [master]"), "{log}");
    let password = sim.world().password().unwrap();
    assert!(!log.contains(&password));
}

#[tokio::test]
async fn nested_sp_executesql_and_sp_who_run() {
    let sim = start_default().await;
    let mut primary = sim.connect(InstanceId::Primary).await;
    let rows = batch(
        &mut primary,
        "EXEC sp_executesql N'SELECT name FROM sys.databases WHERE name = @n', N'@n sysname', @n = N'msdb'",
    )
    .await
    .unwrap();
    assert_eq!(rows[0][0].get::<&str, _>(0), Some("msdb"));
    let who = batch(&mut primary, "EXEC sp_who").await.unwrap();
    assert!(who[0].len() >= 3);
    let bad = batch(
        &mut primary,
        "EXEC sp_executesql N'SELECT @n', N'@n int', @m = 1",
    )
    .await;
    assert_eq!(number(bad), 8145);
}
