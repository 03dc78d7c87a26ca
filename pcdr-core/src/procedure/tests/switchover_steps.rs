//! Switchover steps: the direction, the preflight vetoes, and the safety checks each
//! irreversible step makes right before it acts (the end-to-end runs are in
//! `tests/switchover.rs`).

use super::fixtures::*;
use crate::error::Error;
use crate::log_chain::Lsn;
use crate::planes::PoolState;
use crate::procedure::switchover::{
    self, back_up_tail_log, check_switchover, recover_new_primary, reverse_log_shipping,
};
use crate::topology::SiteRole;
use mockall::Sequence;

/// A switchover to the backup site, its direction recorded as `check_switchover` does.
fn to_backup() -> World {
    let mut w = World::new();
    w.facts.switch_to = Some(SiteRole::Backup);
    w
}

fn pool_state(w: &mut World, state: PoolState) {
    w.pool.expect_pool_state().returning(move || Ok(state));
}

#[tokio::test]
async fn check_moves_a_normal_pool_to_the_backup_site_when_log_shipping_keeps_up() {
    let mut w = World::new();
    pool_state(&mut w, PoolState::Normal);
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.backup
        .expect_log_shipping_snapshot()
        .returning(|_| Ok(Some(snapshot())));
    w.backup
        .expect_server_time()
        .returning(|| Ok(at(12 * 60 + 10)));
    w.forbid_mutations();
    let (ctx, recorder) = w.build();
    let summary = done(check_switchover(&ctx).await.expect("passes"));
    assert!(summary.contains("backup site"), "{summary}");
    assert_eq!(ctx.restoring_site(), SiteRole::Backup);
    let notes = recorder.notes().join("\n");
    assert!(notes.contains("keeps up"), "{notes}");
}

#[tokio::test]
async fn check_refuses_without_log_shipping_into_the_site_that_takes_over() {
    let mut w = World::new();
    pool_state(&mut w, PoolState::FailedOver);
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.primary
        .expect_log_shipping_snapshot()
        .returning(|_| Ok(None));
    w.primary.expect_server_time().returning(|| Ok(at(0)));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = check_switchover(&ctx).await.expect_err("refused");
    assert_names(
        &err,
        switchover::CHECK_SWITCHOVER,
        &[
            PRIMARY_SQL,
            "not a log-shipping secondary",
            "failback --online",
        ],
    );
    assert_eq!(ctx.restoring_site(), SiteRole::Primary);
}

#[tokio::test]
async fn check_refuses_when_the_other_database_is_not_restoring() {
    let mut w = World::new();
    pool_state(&mut w, PoolState::Normal);
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = check_switchover(&ctx).await.expect_err("refused");
    assert_names(
        &err,
        switchover::CHECK_SWITCHOVER,
        &[BACKUP_SQL, "cannot restore"],
    );
}

#[tokio::test]
async fn a_return_is_refused_once_the_other_database_is_online() {
    let mut w = World::new();
    w.options.switch_to = Some(SiteRole::Primary);
    pool_state(&mut w, PoolState::Normal);
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = check_switchover(&ctx).await.expect_err("refused");
    assert_names(
        &err,
        switchover::CHECK_SWITCHOVER,
        &[BACKUP_SQL, "is online"],
    );
}

#[tokio::test]
async fn the_tail_step_finds_a_restoring_database_backed_up() {
    let mut w = to_backup();
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(back_up_tail_log(&ctx).await.expect("skips"));
    assert!(reason.contains("tail-log backup was taken"), "{reason}");
}

/// A serving primary whose tail is taken as `tail`, the pool reporting `active` as its
/// active servers, which are cleared first unless they are known to be none; the
/// log-shipping backup of 12:00:00 already on the share.
fn tail_world(active: Option<Vec<String>>, seq: &mut Sequence, tail: &str) -> World {
    let fence = active.as_ref().is_none_or(|servers| !servers.is_empty());
    let mut w = to_backup();
    w.primary
        .expect_database_state()
        .times(1)
        .in_sequence(seq)
        .returning(|_| Ok(Some(online())));
    w.primary.expect_server_time().returning(|| Ok(at(12 * 60)));
    w.files
        .expect_list_log_backups()
        .returning(|_, _| Ok(vec![entry(&trn("20261127120000"), 10)]));
    w.pool
        .expect_active_servers()
        .returning(move || Ok(active.clone()));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.primary.expect_sessions().returning(|_| Ok(Vec::new()));
    w.pool
        .expect_set_active_servers()
        .withf(|servers| servers.is_empty())
        .times(usize::from(fence))
        .in_sequence(seq)
        .returning(|_| Ok(()));
    let expected = tail.to_string();
    w.primary
        .expect_backup_tail_log()
        .withf(move |db, file| db == "mgc" && file == expected)
        .times(1)
        .in_sequence(seq)
        .returning(|_, _| Ok(()));
    w.primary
        .expect_backup_header()
        .returning(|_| Ok(log_header(100, 200)));
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w
}

/// The tail-log backup is named as the log-shipping backup job names its files, by the
/// serving instance's clock, a second later when a log backup on the share has the
/// name (`WITH INIT` would overwrite it).
#[tokio::test]
async fn the_tail_gets_a_name_no_log_backup_on_the_share_has() {
    let mut seq = Sequence::new();
    let tail = format!(r"{SHARE}\{}", trn("20261127120001"));
    let w = tail_world(Some(Vec::new()), &mut seq, &tail);
    let (ctx, _) = w.build();
    let summary = done(back_up_tail_log(&ctx).await.expect("backed up"));
    assert!(summary.contains(&tail), "{summary}");
}

/// Servers set active since the fence, or a pool that cannot say, are cleared again
/// right before the tail-log backup.
#[tokio::test]
async fn the_tail_is_backed_up_only_after_clearing_the_active_servers_again() {
    for active in [Some(vec!["pc1.contoso.com".to_string()]), None] {
        let mut seq = Sequence::new();
        let tail = format!(r"{SHARE}\{}", trn("20261127120001"));
        let (ctx, _) = tail_world(active, &mut seq, &tail).build();
        done(back_up_tail_log(&ctx).await.expect("backed up"));
    }
}

/// The two restore points the recovery compares: the old primary's (the end of its
/// tail) and the new primary's.
fn points(w: &mut World, old: u128, new: u128) {
    w.primary
        .expect_redo_start_lsn()
        .returning(move |_| Ok(Some(Lsn(old))));
    w.backup
        .expect_redo_start_lsn()
        .returning(move |_| Ok(Some(Lsn(new))));
}

#[tokio::test]
async fn recovery_is_refused_while_the_old_primary_is_online() {
    let mut w = to_backup();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = recover_new_primary(&ctx).await.expect_err("refused");
    assert_names(
        &err,
        switchover::RECOVER_NEW_PRIMARY,
        &[PRIMARY_SQL, "two primary databases"],
    );
}

#[tokio::test]
async fn recovery_is_refused_short_of_the_old_primarys_log() {
    let mut w = to_backup();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    points(&mut w, 500, 400);
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = recover_new_primary(&ctx).await.expect_err("refused");
    match &err {
        Error::DataLossRefused { gap, .. } => {
            assert_eq!((gap.missing_from, gap.missing_to), (Lsn(400), Lsn(500)));
        }
        other => panic!("expected a refused data loss, got {other}"),
    }
}

#[tokio::test]
async fn recovery_goes_ahead_with_the_old_primarys_whole_log() {
    let mut w = to_backup();
    let mut seq = Sequence::new();
    w.backup
        .expect_database_state()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(restoring())));
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    points(&mut w, 500, 500);
    w.backup.expect_sessions().returning(|_| Ok(Vec::new()));
    w.backup
        .expect_recover()
        .withf(|db| db == "mgc")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    let (ctx, _) = w.build();
    let summary = done(recover_new_primary(&ctx).await.expect("recovered"));
    assert!(summary.contains(BACKUP_SQL), "{summary}");
}

/// The reversal restores the log backup the mirroring took on the old primary before it
/// sets log shipping up, and removes the old primary's own log-shipping primary first.
#[tokio::test]
async fn the_reversal_bridges_the_mirrorings_log_backup_before_setting_up_log_shipping() {
    let mut w = to_backup();
    let mut seq = Sequence::new();
    let bridge = r"\\fs01.contoso.com\pchat-logs\mgc.trn";
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.backup
        .expect_is_log_shipping_primary()
        .times(1)
        .returning(|_| Ok(false));
    w.primary
        .expect_is_log_shipping_secondary()
        .times(1)
        .returning(|_| Ok(false));
    w.primary
        .expect_is_log_shipping_primary()
        .times(1)
        .returning(|_| Ok(true));
    expect_server_names(&mut w, 1);
    w.backup
        .expect_log_backups_taken_after()
        .returning(move |_, _| Ok(vec![bridge.into()]));
    w.primary
        .expect_backup_header()
        .returning(|_| Ok(log_header(500, 520)));
    w.primary
        .expect_redo_start_lsn()
        .returning(|_| Ok(Some(Lsn(500))));
    w.primary
        .expect_remove_primary_log_shipping()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.primary
        .expect_restore_log()
        .withf(move |db, file| db == "mgc" && file == bridge)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));
    w.primary.expect_sessions().returning(|_| Ok(Vec::new()));
    w.backup
        .expect_setup_log_shipping_primary()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.primary
        .expect_setup_log_shipping_secondary()
        .withf(|setup| setup.backup_destination_directory == r"D:\LogShipping\mgc")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.backup
        .expect_is_log_shipping_primary()
        .returning(|_| Ok(true));
    w.primary
        .expect_is_log_shipping_secondary()
        .returning(|_| Ok(true));
    w.primary
        .expect_is_log_shipping_primary()
        .returning(|_| Ok(false));
    let (ctx, _) = w.build();
    let summary = done(reverse_log_shipping(&ctx).await.expect("reversed"));
    assert!(summary.contains("without a re-seed"), "{summary}");
}
