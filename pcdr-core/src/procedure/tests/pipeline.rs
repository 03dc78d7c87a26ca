//! The copy pipeline (`procedure::pipeline`), through the copy step that runs it: each
//! copied log backup that continues the chain is restored as it lands, in LSN order; a
//! gap is left to the apply step; a failed copy or restore stops the step without
//! hanging and names the file.

use super::fixtures::*;
use crate::error::PlaneError;
use crate::log_chain::Lsn;
use crate::procedure::failover::{self, copy_log_backups};
use std::collections::HashMap;

/// A pipelined copy step (the default order) over `mgc` restored up to LSN 200:
/// `ready` log backups already in the copy folder, `to_copy` only on the share, each
/// `(time stamp, first LSN, last LSN)`. Copies land in the copy folder's listing;
/// restores are recorded in order; `fails` makes the copy or the restore of one file
/// fail.
fn pipelined_copy(
    ready: &[(&str, u128, u128)],
    to_copy: &[(&str, u128, u128)],
    fails: Option<(&'static str, &str)>,
) -> (World, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::sync::{Arc, Mutex};
    let mut w = World::new();
    let spans: HashMap<String, (u128, u128)> = ready
        .iter()
        .chain(to_copy)
        .map(|(stamp, first, last)| (trn(stamp), (*first, *last)))
        .collect();
    let listed = |set: &[(&str, u128, u128)]| -> Vec<_> {
        set.iter()
            .map(|(stamp, _, _)| entry(&trn(stamp), 100))
            .collect()
    };
    let failing = fails.map(|(operation, stamp)| (operation, trn(stamp)));
    let fails_on = move |operation: &str, file: &str| {
        failing
            .as_ref()
            .is_some_and(|(o, name)| *o == operation && file.ends_with(name.as_str()))
    };
    let fails_on_copy = fails_on.clone();
    let landed = Arc::new(Mutex::new(listed(ready)));
    let share = listed(&[ready, to_copy].concat());
    expect_list(&mut w.files, SHARE, 1, share);
    let listing = landed.clone();
    w.files
        .expect_list_log_backups()
        .withf(|f, _| f == COPY_FROM_PCDR)
        .returning(move |_, _| Ok(listing.lock().unwrap().clone()));
    w.files.expect_free_space().returning(|_| Ok(1 << 30));
    w.files.expect_copy_file().returning(move |_, name, _| {
        if fails_on_copy("copy", name) {
            return Err(PlaneError::Io {
                path: COPY.into(),
                message: "The network name cannot be found".into(),
            });
        }
        landed.lock().unwrap().push(entry(name, 100));
        Ok(100)
    });
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.backup
        .expect_redo_start_lsn()
        .returning(|_| Ok(Some(Lsn(200))));
    w.backup.expect_backup_header().returning(move |file| {
        let (first, last) = spans[file.rsplit('\\').next().unwrap()];
        Ok(log_header(first, last))
    });
    let restored = Arc::new(Mutex::new(Vec::new()));
    let record = restored.clone();
    w.backup.expect_restore_log().returning(move |_, file| {
        if fails_on("restore", file) {
            return Err(sql_error(3201, "Cannot open backup device"));
        }
        record.lock().unwrap().push(file.to_string());
        Ok(())
    });
    (w, restored)
}

/// The restores made, as file names.
fn restored_names(restored: &std::sync::Mutex<Vec<String>>) -> Vec<String> {
    let paths = restored.lock().unwrap();
    paths
        .iter()
        .map(|p| p.rsplit('\\').next().unwrap().to_string())
        .collect()
}

/// Runs the copy step, failing the test if it does not end within 10 s.
async fn copy_step_ends(ctx: &crate::procedure::Context) -> crate::error::Result<String> {
    tokio::time::timeout(std::time::Duration::from_secs(10), copy_log_backups(ctx))
        .await
        .expect("the copy step ends")
        .map(done)
}

const APPLIED: (&str, u128, u128) = ("20261127120000", 100, 200);
const NEXT: (&str, u128, u128) = ("20261127121500", 200, 300);
const THIRD: (&str, u128, u128) = ("20261127123000", 300, 400);
const FOURTH: (&str, u128, u128) = ("20261127124500", 400, 500);

#[tokio::test]
async fn copy_restores_each_landed_log_backup_that_continues_the_chain_in_lsn_order() {
    let (w, restored) = pipelined_copy(&[APPLIED, NEXT], &[THIRD, FOURTH], None);
    let (ctx, _) = w.build();
    let summary = copy_step_ends(&ctx).await.expect("copied and restored");
    assert_eq!(
        summary,
        "2 log backups copied (200 bytes); 3 restored as they landed"
    );
    assert_eq!(
        restored_names(&restored),
        [trn(NEXT.0), trn(THIRD.0), trn(FOURTH.0)]
    );
    let facts = ctx.facts();
    assert_eq!(facts.logs_restored, 3);
    assert_eq!(facts.restore_point, Some(Lsn(500)));
}

#[tokio::test]
async fn copy_restores_up_to_a_gap_and_leaves_the_gap_to_the_apply_step() {
    // THIRD is on no share: FOURTH lands but does not continue the chain.
    let (w, restored) = pipelined_copy(&[APPLIED, NEXT], &[FOURTH], None);
    let (ctx, _) = w.build();
    let summary = copy_step_ends(&ctx).await.expect("copied");
    assert_eq!(
        summary,
        "1 log backups copied (100 bytes); 1 restored as they landed"
    );
    assert_eq!(restored_names(&restored), [trn(NEXT.0)]);
    assert!(ctx.facts().accepted_gap.is_none());
}

#[tokio::test]
async fn a_failed_copy_stops_the_step_and_its_restores_without_hanging() {
    let fails = Some(("copy", THIRD.0));
    let (w, restored) = pipelined_copy(&[APPLIED], &[NEXT, THIRD, FOURTH], fails);
    let (ctx, _) = w.build();
    let err = copy_step_ends(&ctx).await.expect_err("the copy fails");
    assert_names(
        &err,
        failover::COPY_LOG_BACKUPS,
        &[&trn(THIRD.0), "The network name cannot be found"],
    );
    // NEXT landed and was restored; FOURTH may have landed, but the chain cannot pass
    // the missing THIRD.
    assert_eq!(restored_names(&restored), [trn(NEXT.0)]);
}

#[tokio::test]
async fn a_failed_restore_while_copying_stops_the_step_naming_the_file_and_error() {
    let fails = Some(("restore", THIRD.0));
    let (w, restored) = pipelined_copy(&[APPLIED, NEXT], &[THIRD, FOURTH], fails);
    let (ctx, _) = w.build();
    let err = copy_step_ends(&ctx).await.expect_err("the restore fails");
    assert_names(
        &err,
        failover::COPY_LOG_BACKUPS,
        &[BACKUP_SQL, "mgc", &trn(THIRD.0), "3201"],
    );
    assert_eq!(restored_names(&restored), [trn(NEXT.0)]);
}

// ---------------------------------------------------------------- apply_unapplied_logs
