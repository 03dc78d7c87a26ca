//! End to end on an emulated world served over TDS: the guards between a failover and a
//! silent data loss. The backup database is a real log-shipping secondary (RESTORING,
//! so SQL Server shows no family GUID for it), and pcdr takes its family from msdb.

mod common;

use common::{Served, backlog};
use pcdr_core::Error;
use pcdr_core::log_chain::ChainError;
use pcdr_core::procedure::{RunOptions, failover};
use pcdr_sim::backup_file::BackupSet;
use pcdr_sim::guid::Guid;
use pcdr_sim::world::model::{DbState, InstanceId};
use std::path::Path;

/// Traffic no log backup holds, then a disaster at the primary site.
async fn strike(served: &Served) {
    served
        .world
        .traffic(3, false)
        .expect("traffic on the primary");
    served.disaster().await;
}

/// Rewrites the log backup at `path` as one of another backup family.
fn make_foreign(path: &Path) {
    let mut set = BackupSet::read(path).expect("the log backup reads");
    set.header.family_guid = Guid([0x42; 16]);
    std::fs::write(path, set.encode()).expect("the log backup is rewritten");
}

#[tokio::test]
async fn a_log_backup_of_another_family_is_refused_before_any_restore_on_a_restoring_secondary() {
    let served = Served::new(&backlog()).await;
    let copy = served.world.copy_dir();
    let copied = Served::log_backups(&copy);
    // backlog(): the newest copied file is the only one the restore job has not applied.
    let foreign = copied.last().expect("the copy folder holds log backups");
    make_foreign(&copy.join(foreign));
    strike(&served).await;
    assert_eq!(served.mgc(InstanceId::Backup).state, DbState::Restoring);

    let error = served
        .run(failover::PROCEDURE, RunOptions::default())
        .await
        .expect_err("a log backup of another family stops the failover");

    let Error::BadLogBackup { step, source, .. } = &error else {
        panic!("expected BadLogBackup, got {error}");
    };
    assert_eq!(*step, failover::APPLY_UNAPPLIED_LOGS);
    let ChainError::WrongFamily { file, .. } = source.as_ref() else {
        panic!("expected WrongFamily, got {source}");
    };
    assert!(file.ends_with(foreign.as_str()), "{file}");
    assert_eq!(
        served.count(InstanceId::Backup, "RESTORE LOG", |_| true),
        0,
        "nothing is restored past a file of another family"
    );
    assert_eq!(served.mgc(InstanceId::Backup).state, DbState::Restoring);
}
