//! A whole failover and failback driven by hand with pcdr-core's exact commands over
//! tiberius (and the shell's view of the world for the pool steps), checked by the
//! world's own `verify`: the emulator supports every step end to end.

mod engine_common;

use std::time::Duration;

use engine_common::{
    TestClient, number, on_backup, onto_own_mgc, primary_setup, restore_needed, run,
    set_up_log_shipping, start_default, trn_files,
};
use pcdr_core::commands::sql;
use pcdr_core::planes::{FileMove, FullRestore, SessionId};
use pcdr_sim::shell::world::{PoolState, PoolWorld};
use pcdr_sim::world::model::{InstanceId, Site};
use pcdr_sim::world::{Expect, World};

/// Restores the copy folder's log backups the backup database still needs, naming
/// them as the backup instance does.
async fn apply_unapplied(backup: &mut TestClient, world: &World) {
    let files = trn_files(&world.copy_dir()).into_iter();
    restore_needed(backup, files.map(|f| on_backup(world, &f))).await;
}

async fn fail_over(world: &World, backup: &mut TestClient) {
    run(backup, &sql::remove_secondary_log_shipping("mgc"))
        .await
        .unwrap();
    let copied: Vec<_> = trn_files(&world.copy_dir())
        .iter()
        .map(|p| p.file_name().unwrap().to_owned())
        .collect();
    for file in trn_files(&world.share_dir()) {
        let name = file.file_name().unwrap().to_owned();
        if !copied.contains(&name) {
            std::fs::copy(&file, world.copy_dir().join(name)).unwrap();
        }
    }
    apply_unapplied(backup, world).await;
    let sessions = run(backup, &sql::sessions("mgc")).await.unwrap();
    for row in &sessions[0] {
        run(backup, &sql::kill(SessionId(row.get::<i32, _>(0).unwrap())))
            .await
            .unwrap();
    }
    run(backup, &sql::recover("mgc")).await.unwrap();
    world.set_pool_state(PoolState::FailedOver).unwrap();
    let share = world.share_dir().display().to_string();
    world
        .install_mirror(
            "PersistentChat",
            "sql-dal.contoso.test",
            Some("PCHAT"),
            &share,
        )
        .unwrap();
    world
        .set_active_servers(vec!["pc3.contoso.com".into(), "pc4.contoso.com".into()])
        .unwrap();
}

async fn fail_back(world: &World, primary: &mut TestClient, backup: &mut TestClient) {
    world.set_active_servers(Vec::new()).unwrap();
    run(backup, &sql::remove_mirroring("mgc").unwrap())
        .await
        .unwrap();
    let share = world.share_dir().display().to_string();
    let failback_file = format!("{share}/mgc_pcdr_failback.bak");
    run(backup, &sql::backup_database("mgc", &failback_file, false))
        .await
        .unwrap();
    run(backup, &sql::verify_backup(&failback_file))
        .await
        .unwrap();
    run(primary, &sql::remove_mirroring("mgc").unwrap())
        .await
        .unwrap();
    let files = run(primary, &sql::database_files("mgc")).await.unwrap();
    let moves = files[0]
        .iter()
        .map(|r| FileMove {
            logical_name: r.get::<&str, _>("name").unwrap().into(),
            physical_name: r.get::<&str, _>("physical_name").unwrap().into(),
        })
        .collect();
    let restore = FullRestore {
        replace: true,
        recovery: true,
        moves,
    };
    run(
        primary,
        &sql::restore_database("mgc", &failback_file, &restore),
    )
    .await
    .unwrap();
    // Mirrored before the backup is re-seeded: the log backup that seeds the mirror
    // must come before the re-seed in the chain, or log shipping meets a gap.
    world
        .install_mirror(
            "PersistentChat",
            "sql-atl.contoso.test",
            Some("PCHAT"),
            &share,
        )
        .unwrap();
    let seed_file = format!("{share}/mgc_pcdr_seed.bak");
    run(primary, &sql::backup_database("mgc", &seed_file, false))
        .await
        .unwrap();
    let reseed = FullRestore {
        replace: true,
        recovery: false,
        moves: onto_own_mgc(world, InstanceId::Backup),
    };
    run(backup, &sql::restore_database("mgc", &seed_file, &reseed))
        .await
        .unwrap();
    set_up_log_shipping(world, primary, backup, 15).await;
    world
        .set_active_servers(vec!["pc1.contoso.com".into()])
        .unwrap();
    world.set_pool_state(PoolState::Normal).unwrap();
}

#[tokio::test]
async fn a_failover_then_a_failback_leave_the_states_verify_expects() {
    let sim = start_default().await;
    let world = sim.world();
    world.traffic(3, false).unwrap();
    world.disaster(Site::Primary, false).unwrap();
    let mut backup = sim.connect(InstanceId::Backup).await;
    fail_over(world, &mut backup).await;
    assert_eq!(world.verify(Expect::FailedOver).unwrap(), vec![]);
    let held = world.messages(InstanceId::Backup, "mgc").unwrap();
    assert_eq!(
        held,
        (1..=20).collect::<Vec<u64>>(),
        "messages 21-22 were never backed up"
    );

    world.traffic(5, false).unwrap();
    world.rebuild(Site::Primary).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut primary = sim.connect(InstanceId::Primary).await;
    fail_back(world, &mut primary, &mut backup).await;
    assert_eq!(world.verify(Expect::Normal).unwrap(), vec![]);
    let held = world.messages(InstanceId::Primary, "mgc").unwrap();
    assert_eq!(held.len(), 25);
}

#[tokio::test]
async fn a_failover_that_skips_the_uncopied_backup_is_caught_by_verify() {
    let sim = start_default().await;
    let world = sim.world();
    world.disaster(Site::Primary, false).unwrap();
    let mut backup = sim.connect(InstanceId::Backup).await;
    run(&mut backup, &sql::remove_secondary_log_shipping("mgc"))
        .await
        .unwrap();
    apply_unapplied(&mut backup, world).await;
    run(&mut backup, &sql::recover("mgc")).await.unwrap();
    let differences = world.verify(Expect::FailedOver).unwrap();
    let found: Vec<String> = differences.iter().map(ToString::to_string).collect();
    assert!(
        found.iter().any(|d| d.contains("5 lost, first Some(16)")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|d| d.starts_with("pool state")),
        "{found:?}"
    );
}

/// "Database Mirroring and Log Shipping (SQL Server)"
/// (<https://learn.microsoft.com/sql/database-engine/database-mirroring/database-mirroring-and-log-shipping-sql-server>):
/// the mirror database is restoring, so the mirror instance is set up as a log-shipping
/// primary after a manual failover made it the principal (`SET PARTNER FAILOVER`,
/// "ALTER DATABASE Database Mirroring (Transact-SQL)",
/// <https://learn.microsoft.com/sql/t-sql/statements/alter-database-transact-sql-database-mirroring>),
/// then fails back; pcdr-core's exact commands, over TDS.
#[tokio::test]
async fn the_mirror_instance_is_set_up_as_a_log_shipping_primary_while_it_is_the_principal() {
    let sim = start_default().await;
    let mut primary = sim.connect(InstanceId::Primary).await;
    let mut mirror = sim.connect(InstanceId::PrimaryMirror).await;
    let setup = sql::setup_log_shipping_primary(&primary_setup(sim.world(), 15));
    let failover = sql::fail_over_mirroring("mgc").unwrap();
    assert_eq!(number(run(&mut mirror, &setup).await), 15010);
    run(&mut primary, &failover).await.unwrap();
    run(&mut mirror, &setup).await.unwrap();
    run(&mut mirror, &failover).await.unwrap();
    let state = sim.world().read().unwrap();
    let mgc = |id| state.instance(id).unwrap().database("mgc").unwrap();
    assert!(mgc(InstanceId::Primary).is_recovered());
    assert!(!mgc(InstanceId::PrimaryMirror).is_recovered());
}
