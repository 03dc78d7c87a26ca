//! Modelled time over tiberius: the latency every statement waits, a restore taking the
//! time its size costs at the configured throughput, and a long restore ended by KILL
//! leaving the database as it was.

mod engine_common;

use std::time::{Duration, Instant};

use engine_common::{batch, on_backup, run, spid, start};
use pcdr_core::commands::sql;
use pcdr_core::planes::SessionId;
use pcdr_sim::world::WorldOptions;
use pcdr_sim::world::model::InstanceId;

#[tokio::test]
async fn every_statement_waits_the_configured_latency() {
    let sim = start(WorldOptions {
        statement_latency_ms: 150,
        ..WorldOptions::default()
    })
    .await;
    let mut client = sim.connect(InstanceId::Primary).await;
    let started = Instant::now();
    batch(&mut client, "SELECT 1; SELECT 2").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "two statements, two waits"
    );
}

#[tokio::test]
async fn a_slow_restore_killed_midway_leaves_the_database_unchanged() {
    let sim = start(WorldOptions {
        restore_mb_per_s: 0.0002,
        ..WorldOptions::default()
    })
    .await;
    let mut copied: Vec<_> = std::fs::read_dir(sim.world().copy_dir())
        .unwrap()
        .map(|e| on_backup(sim.world(), &e.unwrap().path()))
        .collect();
    copied.sort();
    let file = copied[2].clone();
    let before = sim.world().read().unwrap().instances[&InstanceId::Backup]
        .database("mgc")
        .unwrap()
        .lsn;
    let mut restorer = sim.connect(InstanceId::Backup).await;
    let victim = spid(&mut restorer).await;
    let command = sql::restore_log("mgc", &file);
    let restore = tokio::spawn(async move { run(&mut restorer, &command).await.map(|_| ()) });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut admin = sim.connect(InstanceId::Backup).await;
    run(&mut admin, &sql::kill(SessionId(victim)))
        .await
        .unwrap();
    assert!(
        restore.await.unwrap().is_err(),
        "the killed restore did not finish"
    );
    let after = sim.world().read().unwrap().instances[&InstanceId::Backup]
        .database("mgc")
        .unwrap()
        .lsn;
    assert_eq!(before, after);
    let started = Instant::now();
    run(&mut admin, &sql::restore_log("mgc", &file))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
}
