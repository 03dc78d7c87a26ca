//! Failover steps, one section per step.

use super::fixtures::*;
use crate::error::{ConnectFailure, Error, PlaneError, PreconditionKind};
use crate::log_chain::Lsn;
use crate::planes::{ChatDatabase, DbState, MirrorRequest, MirroringRole, PoolState, SessionId};
use crate::procedure::failover::{
    activate_backup_servers, apply_unapplied_logs, check_sites, copy_log_backups,
    mirror_new_primary, recover_database, remove_log_shipping, set_pool_failed_over,
    snapshot_log_shipping,
};
use crate::procedure::{Event, failover};
use mockall::Sequence;
use mockall::predicate::eq;

// ---------------------------------------------------------------- check_sites

#[tokio::test]
async fn check_sites_passes_when_the_backup_answers_and_the_primary_does_not() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .withf(|db| db == "mgc")
        .times(1)
        .returning(|_| Ok(Some(restoring())));
    w.primary
        .expect_database_state()
        .withf(|db| db == "mgc")
        .times(1)
        .returning(|_| Err(unreachable(PRIMARY_SQL)));
    w.forbid_mutations();
    let (ctx, rec) = w.build();
    let summary = done(check_sites(&ctx).await.expect("check passes"));
    assert!(summary.contains("primary site is down"), "{summary}");
    assert_eq!(
        rec.notes(),
        [format!("mgc on {BACKUP_SQL} is Restoring")],
        "the observation reports the backup database"
    );
}

/// Fail closed: a primary whose TLS handshake fails answered, so it counts as up.
#[tokio::test]
async fn check_sites_refuses_when_the_primary_answers_but_its_handshake_fails() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.primary.expect_database_state().times(1).returning(|_| {
        Err(PlaneError::ConnectFailed {
            target: PRIMARY_SQL.into(),
            failure: ConnectFailure::UntrustedCertificate,
            message: "invalid peer certificate: UnknownIssuer".into(),
        })
    });
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = check_sites(&ctx).await.expect_err("a primary that answers");
    assert_eq!(
        err.precondition_kind(),
        Some(PreconditionKind::PrimaryReachable),
        "{err}"
    );
}

#[tokio::test]
async fn check_sites_refuses_when_the_primary_answers() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.primary
        .expect_database_state()
        .times(1)
        .returning(|_| Ok(Some(online())));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = check_sites(&ctx)
        .await
        .expect_err("two primaries must be refused");
    assert_eq!(
        err.precondition_kind(),
        Some(PreconditionKind::PrimaryReachable),
        "{err}"
    );
    assert_names(
        &err,
        failover::CHECK_SITES,
        &[PRIMARY_SQL, "still answers", "two primary"],
    );
}

#[tokio::test]
async fn check_sites_counts_a_primary_that_answers_with_an_error_as_answering() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.primary
        .expect_database_state()
        .returning(|_| Err(sql_error(4060, "Cannot open database \"mgc\"")));
    let (ctx, _) = w.build();
    let err = check_sites(&ctx)
        .await
        .expect_err("an answering primary is refused");
    assert_names(&err, failover::CHECK_SITES, &[PRIMARY_SQL]);
}

#[tokio::test]
async fn check_sites_passes_a_reachable_primary_when_the_operator_allows_it() {
    let mut w = World::new();
    w.options.allow_primary_reachable = true;
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(standby())));
    w.primary
        .expect_database_state()
        .times(1)
        .returning(|_| Ok(Some(online())));
    w.forbid_mutations();
    let (ctx, rec) = w.build();
    done(check_sites(&ctx).await.expect("allowed"));
    let notes = rec.notes();
    assert!(
        notes
            .iter()
            .any(|n| n.contains(PRIMARY_SQL) && n.contains("operator allowed")),
        "{notes:?}"
    );
    assert!(notes.iter().any(|n| n.contains("(standby)")), "{notes:?}");
}

#[tokio::test]
async fn check_sites_refuses_when_only_the_primary_mirror_answers() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.primary
        .expect_database_state()
        .returning(|_| Err(unreachable(PRIMARY_SQL)));
    let mut mirror = crate::planes::MockDatabasePlane::new();
    mirror
        .expect_database_state()
        .withf(|db| db == "mgc")
        .times(1)
        .returning(|_| Ok(Some(mirrored(MirroringRole::Principal))));
    w.primary_mirror = Some(mirror);
    let (ctx, _) = w.build();
    let err = check_sites(&ctx).await.expect_err("the mirror took over");
    assert_names(&err, failover::CHECK_SITES, &[PRIMARY_MIRROR_SQL]);
}

/// Fail closed: a login that timed out reached the server (its TCP port answered).
#[tokio::test]
async fn check_sites_counts_a_primary_whose_login_timed_out_as_up() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.primary.expect_database_state().returning(|_| {
        Err(PlaneError::Timeout {
            what: "login".into(),
            secs: 15,
        })
    });
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = check_sites(&ctx).await.expect_err("the primary answered");
    assert_names(&err, failover::CHECK_SITES, &[PRIMARY_SQL, "still answers"]);
}

#[tokio::test]
async fn check_sites_refuses_when_already_failed_over() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.pool
        .expect_pool_state()
        .times(1)
        .returning(|| Ok(PoolState::FailedOver));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = check_sites(&ctx).await.expect_err("already failed over");
    assert!(matches!(err, Error::Precondition { .. }), "{err}");
    assert_names(
        &err,
        failover::CHECK_SITES,
        &["already failed over", BACKUP_SQL],
    );
}

#[tokio::test]
async fn check_sites_names_the_backup_instance_when_it_does_not_answer() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Err(unreachable(BACKUP_SQL)));
    let (ctx, _) = w.build();
    let err = check_sites(&ctx).await.expect_err("backup unreachable");
    assert!(err.is_transient());
    assert_names(
        &err,
        failover::CHECK_SITES,
        &[BACKUP_SQL, "database mgc", "cannot reach"],
    );
}

#[tokio::test]
async fn check_sites_refuses_when_the_backup_database_does_not_exist() {
    let mut w = World::new();
    w.backup.expect_database_state().returning(|_| Ok(None));
    let (ctx, _) = w.build();
    let err = check_sites(&ctx).await.expect_err("no backup database");
    assert_names(
        &err,
        failover::CHECK_SITES,
        &["mgc does not exist", BACKUP_SQL],
    );
}

// ---------------------------------------------------------------- snapshot_log_shipping

#[tokio::test]
async fn snapshot_records_the_log_shipping_setup_in_the_facts() {
    let mut w = World::new();
    w.backup
        .expect_log_shipping_snapshot()
        .withf(|db| db == "mgc")
        .times(2)
        .returning(|_| Ok(Some(snapshot())));
    w.forbid_mutations();
    let (ctx, rec) = w.build();
    done(snapshot_log_shipping(&ctx).await.expect("recorded"));
    assert_eq!(ctx.facts().snapshot, Some(snapshot()));
    let notes = rec.notes();
    assert!(
        notes.iter().any(|n| n.contains(SNAP_SHARE)
            && n.contains(SNAP_COPY)
            && n.contains("mgc_20261127121500.trn")),
        "{notes:?}"
    );
}

/// msdb's folders are the servers' paths: where they differ from the topology's, the
/// run says so and names the path pcdr still copies through, instead of taking msdb's
/// path for its own.
#[tokio::test]
async fn snapshot_says_where_msdb_names_other_folders_than_the_topology() {
    let mut w = World::new();
    w.backup
        .expect_log_shipping_snapshot()
        .returning(|_| Ok(Some(snapshot())));
    w.forbid_mutations();
    let (ctx, rec) = w.build();
    done(snapshot_log_shipping(&ctx).await.expect("recorded"));
    let notes = rec.notes();
    let copy = notes
        .iter()
        .find(|n| n.contains("log_shipping.copy_destination "))
        .expect("a note on the copy folder");
    assert!(
        copy.contains(SNAP_COPY) && copy.contains(COPY) && copy.contains(COPY_FROM_PCDR),
        "{copy}"
    );
    let share = notes
        .iter()
        .find(|n| n.contains("log_shipping.backup_share "))
        .expect("a note on the share");
    assert!(
        share.contains(SNAP_SHARE) && share.contains(SHARE),
        "{share}"
    );
}

#[tokio::test]
async fn snapshot_is_skipped_when_the_facts_already_hold_one() {
    let mut w = World::new().with_snapshot(snapshot());
    w.backup.expect_log_shipping_snapshot().never();
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(snapshot_log_shipping(&ctx).await.expect("skipped"));
    assert!(reason.contains("recorded earlier"), "{reason}");
    assert_eq!(ctx.facts().snapshot, Some(snapshot()));
}

#[tokio::test]
async fn snapshot_is_skipped_when_log_shipping_is_not_configured() {
    let mut w = World::new();
    w.backup
        .expect_log_shipping_snapshot()
        .times(1)
        .returning(|_| Ok(None));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(snapshot_log_shipping(&ctx).await.expect("skipped"));
    assert!(reason.contains("topology's folders"), "{reason}");
    assert_eq!(ctx.facts().snapshot, None);
}

#[tokio::test]
async fn snapshot_failure_names_the_step_instance_and_database() {
    let mut w = World::new();
    w.backup
        .expect_log_shipping_snapshot()
        .returning(|_| Err(sql_error(229, "The SELECT permission was denied on msdb")));
    let (ctx, _) = w.build();
    let err = snapshot_log_shipping(&ctx).await.expect_err("denied");
    assert_eq!(err.sql_number(), Some(229));
    assert_names(
        &err,
        failover::SNAPSHOT_LOG_SHIPPING,
        &[BACKUP_SQL, "database mgc", "229"],
    );
    assert_eq!(ctx.facts().snapshot, None);
}

// ---------------------------------------------------------------- remove_log_shipping

#[tokio::test]
async fn remove_log_shipping_deletes_the_secondary_and_verifies() {
    let mut w = World::new().with_snapshot(snapshot());
    let mut seq = Sequence::new();
    w.backup
        .expect_log_shipping_snapshot()
        .withf(|db| db == "mgc")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(snapshot())));
    w.backup
        .expect_remove_secondary_log_shipping()
        .withf(|db| db == "mgc")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.backup
        .expect_log_shipping_snapshot()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(None));
    let (ctx, _) = w.build();
    let summary = done(remove_log_shipping(&ctx).await.expect("removed"));
    assert!(summary.contains("removed"), "{summary}");
}

/// A restore job still running holds the backup database: it is stopped, and waited for
/// until `sysjobactivity` no longer shows it running, before log shipping is removed.
#[tokio::test]
async fn remove_log_shipping_stops_running_jobs_first() {
    const JOB: &str = "LSRestore_SQLPC-ATL_mgc";
    let mut w = World::new().with_snapshot(snapshot());
    let mut seq = Sequence::new();
    w.backup
        .expect_log_shipping_snapshot()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(snapshot())));
    w.backup
        .expect_running_log_shipping_jobs()
        .withf(|db| db == "mgc")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(vec![JOB.to_string()]));
    w.backup
        .expect_stop_job()
        .withf(|job| job == JOB)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.backup
        .expect_running_log_shipping_jobs()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(vec![JOB.to_string()]));
    w.backup
        .expect_running_log_shipping_jobs()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Vec::new()));
    w.backup
        .expect_remove_secondary_log_shipping()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.backup
        .expect_log_shipping_snapshot()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(None));
    let (ctx, recorder) = w.build();
    let summary = done(remove_log_shipping(&ctx).await.expect("removed"));
    assert!(
        summary.contains("1 running log-shipping jobs stopped"),
        "{summary}"
    );
    let waited = recorder
        .notes()
        .into_iter()
        .any(|n| n.contains(&format!("waiting for {JOB} to stop")));
    assert!(waited, "the wait says which job it waits for");
}

#[tokio::test]
async fn remove_log_shipping_is_skipped_when_no_longer_configured() {
    let mut w = World::new().with_snapshot(snapshot());
    w.backup
        .expect_log_shipping_snapshot()
        .times(1)
        .returning(|_| Ok(None));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(remove_log_shipping(&ctx).await.expect("skipped"));
    assert!(
        reason.contains("no longer a log-shipping secondary"),
        "{reason}"
    );
}

#[tokio::test]
async fn remove_log_shipping_refuses_without_a_snapshot_in_the_facts() {
    let mut w = World::new();
    w.backup
        .expect_log_shipping_snapshot()
        .returning(|_| Ok(Some(snapshot())));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = remove_log_shipping(&ctx).await.expect_err("no snapshot");
    assert!(matches!(err, Error::Precondition { .. }), "{err}");
    assert_names(
        &err,
        failover::REMOVE_LOG_SHIPPING,
        &["snapshot_log_shipping"],
    );
}

#[tokio::test]
async fn remove_log_shipping_failure_names_the_step_instance_and_database() {
    let mut w = World::new().with_snapshot(snapshot());
    w.backup
        .expect_log_shipping_snapshot()
        .returning(|_| Ok(Some(snapshot())));
    w.backup
        .expect_remove_secondary_log_shipping()
        .times(1)
        .returning(|_| {
            Err(sql_error(
                32011,
                "Primary Database mgc has active log shipping",
            ))
        });
    let (ctx, _) = w.build();
    let err = remove_log_shipping(&ctx).await.expect_err("fails");
    assert_eq!(err.sql_number(), Some(32011));
    assert_names(
        &err,
        failover::REMOVE_LOG_SHIPPING,
        &[BACKUP_SQL, "database mgc"],
    );
}

#[tokio::test]
async fn remove_log_shipping_fails_when_still_configured_afterwards() {
    let mut w = World::new().with_snapshot(snapshot());
    w.backup
        .expect_log_shipping_snapshot()
        .times(2)
        .returning(|_| Ok(Some(snapshot())));
    w.backup
        .expect_remove_secondary_log_shipping()
        .times(1)
        .returning(|_| Ok(()));
    let (ctx, _) = w.build();
    let err = remove_log_shipping(&ctx).await.expect_err("not verified");
    assert_names(
        &err,
        failover::REMOVE_LOG_SHIPPING,
        &[BACKUP_SQL, "still configured"],
    );
}

// ---------------------------------------------------------------- copy_log_backups

#[tokio::test]
async fn copy_takes_only_missing_or_partial_files_newer_than_the_last_restored_one() {
    let mut w = World::new().with_snapshot(snapshot()).sequential();
    // last restored (snapshot): mgc_20261127120000.trn; last copied: …121500
    let share = vec![
        entry(&trn("20261127124500"), 400), // missing: copy
        entry(&trn("20261127120000"), 100), // missing but restored already: leave
        entry(&trn("20261127121500"), 100), // copied
        entry(&trn("20261127123000"), 300), // partly copied: copy again
    ];
    let before = vec![
        entry(&trn("20261127121500"), 100),
        entry(&trn("20261127123000"), 120),
    ];
    let after = vec![
        entry(&trn("20261127121500"), 100),
        entry(&trn("20261127123000"), 300),
        entry(&trn("20261127124500"), 400),
    ];
    expect_list(&mut w.files, SHARE, 1, share);
    let mut seq = Sequence::new();
    w.files
        .expect_list_log_backups()
        .withf(|f, _| f == COPY_FROM_PCDR)
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _| Ok(before.clone()));
    w.files
        .expect_free_space()
        .with(eq(COPY_FROM_PCDR))
        .times(1)
        .returning(|_| Ok(700));
    w.files
        .expect_copy_file()
        .withf(|from, name, to| {
            from == SHARE && name == "mgc_20261127123000.trn" && to == COPY_FROM_PCDR
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(300));
    expect_read_back(&mut w, &mut seq, SNAP_COPY, "mgc_20261127123000.trn");
    w.files
        .expect_copy_file()
        .withf(|from, name, to| {
            from == SHARE && name == "mgc_20261127124500.trn" && to == COPY_FROM_PCDR
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(400));
    w.files
        .expect_list_log_backups()
        .withf(|f, _| f == COPY_FROM_PCDR)
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _| Ok(after.clone()));
    let (ctx, rec) = w.build();
    let summary = done(copy_log_backups(&ctx).await.expect("copied"));
    assert_eq!(summary, "2 log backups copied (700 bytes)");
    let facts = ctx.facts();
    assert_eq!((facts.files_copied, facts.bytes_copied), (2, 700));
    assert_eq!(
        rec.copied(),
        [
            ("mgc_20261127123000.trn".to_string(), 300),
            ("mgc_20261127124500.trn".to_string(), 400)
        ]
    );
}

#[tokio::test]
async fn copy_uses_the_topology_folders_without_a_snapshot() {
    let mut w = World::new().sequential();
    expect_list(
        &mut w.files,
        SHARE,
        1,
        vec![entry(&trn("20261127120000"), 10)],
    );
    let mut seq = Sequence::new();
    w.files
        .expect_list_log_backups()
        .withf(|f, _| f == COPY_FROM_PCDR)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(vec![]));
    w.files
        .expect_free_space()
        .with(eq(COPY_FROM_PCDR))
        .returning(|_| Ok(1 << 30));
    w.files
        .expect_copy_file()
        .withf(|from, name, to| {
            from == SHARE && name == "mgc_20261127120000.trn" && to == COPY_FROM_PCDR
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(10));
    expect_read_back(&mut w, &mut seq, COPY, "mgc_20261127120000.trn");
    w.files
        .expect_list_log_backups()
        .withf(|f, _| f == COPY_FROM_PCDR)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(vec![entry(&trn("20261127120000"), 10)]));
    let (ctx, _) = w.build();
    assert_eq!(
        done(copy_log_backups(&ctx).await.expect("copied")),
        "1 log backups copied (10 bytes)"
    );
}

/// pcdr reaches the share by its own path when the topology gives one: it lists and
/// copies from `backup_share_from_pcdr`, never from the share as msdb names it.
#[tokio::test]
async fn copy_reads_the_share_through_pcdrs_own_path_to_it() {
    const MOUNTED: &str = "/mnt/pchat-logs";
    let topology = topology_with("# backup_share_from_pcdr", "backup_share_from_pcdr");
    assert_eq!(topology.log_shipping.backup_share_from_pcdr, MOUNTED);
    let mut w = World::with_topology(topology)
        .with_snapshot(snapshot())
        .sequential();
    let name = trn("20261127124500");
    expect_list(&mut w.files, MOUNTED, 1, vec![entry(&name, 10)]);
    let mut seq = Sequence::new();
    expect_list(&mut w.files, COPY_FROM_PCDR, 1, vec![]);
    w.files.expect_free_space().returning(|_| Ok(1 << 30));
    w.files
        .expect_copy_file()
        .withf(|from, _, to| from == MOUNTED && to == COPY_FROM_PCDR)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(10));
    expect_read_back(&mut w, &mut seq, SNAP_COPY, &name);
    let landed = vec![entry(&name, 10)];
    w.files
        .expect_list_log_backups()
        .withf(|f, _| f == COPY_FROM_PCDR)
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _| Ok(landed.clone()));
    let (ctx, _) = w.build();
    assert_eq!(
        done(copy_log_backups(&ctx).await.expect("copied")),
        "1 log backups copied (10 bytes)"
    );
}

#[tokio::test]
async fn copy_is_skipped_when_every_file_is_already_copied() {
    let mut w = World::new();
    let files = vec![
        entry(&trn("20261127120000"), 10),
        entry(&trn("20261127121500"), 20),
    ];
    expect_list(&mut w.files, SHARE, 1, files.clone());
    // The copy folder may name files in another case (Windows file systems do not care).
    let copied = vec![
        entry("MGC_20261127120000.TRN", 10),
        entry(&trn("20261127121500"), 20),
    ];
    expect_list(&mut w.files, COPY_FROM_PCDR, 1, copied);
    w.files.expect_free_space().never();
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(copy_log_backups(&ctx).await.expect("skipped"));
    assert!(
        reason.contains(SHARE) && reason.contains(COPY_FROM_PCDR),
        "{reason}"
    );
    assert_eq!(ctx.facts().files_copied, 0);
}

#[tokio::test]
async fn copy_refuses_when_the_copy_folder_lacks_free_space() {
    let mut w = World::new();
    expect_list(
        &mut w.files,
        SHARE,
        1,
        vec![
            entry(&trn("20261127120000"), 300),
            entry(&trn("20261127121500"), 400),
        ],
    );
    expect_list(&mut w.files, COPY_FROM_PCDR, 1, vec![]);
    w.files
        .expect_free_space()
        .with(eq(COPY_FROM_PCDR))
        .times(1)
        .returning(|_| Ok(699));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = copy_log_backups(&ctx).await.expect_err("full");
    assert_names(
        &err,
        failover::COPY_LOG_BACKUPS,
        &[
            COPY_FROM_PCDR,
            "700 bytes to copy, 699 free",
            "database mgc",
        ],
    );
}

#[tokio::test]
async fn copy_is_skipped_with_accepted_data_loss_when_the_share_is_unreachable() {
    let mut w = World::new();
    w.options.accept_data_loss = true;
    w.files
        .expect_list_log_backups()
        .withf(|f, _| f == SHARE)
        .times(1)
        .returning(|_, _| Err(unreachable(SHARE)));
    w.files.expect_free_space().never();
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(copy_log_backups(&ctx).await.expect("skipped"));
    assert!(
        reason.contains(SHARE) && reason.contains("data loss was accepted"),
        "{reason}"
    );
    let recorded = ctx.facts().share_not_read.expect("the loss is recorded");
    assert_eq!(recorded.share, SHARE);
    assert!(recorded.reason.contains(SHARE), "{}", recorded.reason);
}

#[tokio::test]
async fn copy_fails_naming_the_share_when_it_is_unreachable_and_no_loss_is_accepted() {
    let mut w = World::new();
    w.files
        .expect_list_log_backups()
        .withf(|f, _| f == SHARE)
        .returning(|_, _| Err(unreachable(SHARE)));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = copy_log_backups(&ctx).await.expect_err("unreachable share");
    assert!(err.is_transient());
    assert_names(&err, failover::COPY_LOG_BACKUPS, &[SHARE, "database mgc"]);
}

/// With data loss accepted, a share that cannot be listed for any reason (here a
/// permanent one: access denied) leaves the files already copied to be applied.
#[tokio::test]
async fn copy_is_skipped_with_accepted_data_loss_whatever_the_share_fails_with() {
    let mut w = World::new().with_snapshot(snapshot());
    w.options.accept_data_loss = true;
    w.files
        .expect_list_log_backups()
        .withf(|f, _| f == SHARE)
        .times(1)
        .returning(|_, _| {
            Err(PlaneError::Io {
                path: SHARE.into(),
                message: "Access is denied".into(),
            })
        });
    w.files.expect_free_space().never();
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(copy_log_backups(&ctx).await.expect("skipped"));
    assert!(
        reason.contains(SHARE)
            && reason.contains("Access is denied")
            && reason.contains("data loss was accepted"),
        "{reason}"
    );
    assert_eq!(ctx.facts().files_copied, 0);
}

#[tokio::test]
async fn copy_fails_on_a_permanent_share_error_when_no_loss_is_accepted() {
    let mut w = World::new();
    w.files
        .expect_list_log_backups()
        .withf(|f, _| f == SHARE)
        .times(1)
        .returning(|_, _| {
            Err(PlaneError::Io {
                path: SHARE.into(),
                message: "Access is denied".into(),
            })
        });
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = copy_log_backups(&ctx).await.expect_err("denied");
    assert!(!err.is_transient());
    assert_names(
        &err,
        failover::COPY_LOG_BACKUPS,
        &[SHARE, "database mgc", "Access is denied"],
    );
}

/// The restore job may record its last restored file in another case than the share
/// lists it (Windows file names ignore case): an older file stays, a newer one is copied.
#[tokio::test]
async fn copy_compares_with_the_last_restored_file_ignoring_case() {
    let mut snap = snapshot();
    snap.last_restored_file = Some(format!(r"{SNAP_COPY}\MGC_20261127121500.TRN"));
    let mut w = World::new().with_snapshot(snap).sequential();
    let share = vec![
        entry("mgc_20261127120000.trn", 100), // older than the last restored: leave
        entry("mgc_20261127121500.trn", 100), // the last restored itself: leave
        entry("MGC_20261127124500.TRN", 400), // newer: copy
    ];
    expect_list(&mut w.files, SHARE, 1, share);
    let mut seq = Sequence::new();
    w.files
        .expect_list_log_backups()
        .withf(|f, _| f == COPY_FROM_PCDR)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(vec![]));
    w.files
        .expect_free_space()
        .with(eq(COPY_FROM_PCDR))
        .times(1)
        .returning(|_| Ok(400));
    w.files
        .expect_copy_file()
        .withf(|from, name, to| {
            from == SHARE && name == "MGC_20261127124500.TRN" && to == COPY_FROM_PCDR
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(400));
    expect_read_back(&mut w, &mut seq, SNAP_COPY, "MGC_20261127124500.TRN");
    w.files
        .expect_list_log_backups()
        .withf(|f, _| f == COPY_FROM_PCDR)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(vec![entry("MGC_20261127124500.TRN", 400)]));
    let (ctx, rec) = w.build();
    assert_eq!(
        done(copy_log_backups(&ctx).await.expect("copied")),
        "1 log backups copied (400 bytes)"
    );
    assert_eq!(rec.copied(), [("MGC_20261127124500.TRN".to_string(), 400)]);
}

#[tokio::test]
async fn copy_is_skipped_when_only_files_up_to_the_last_restored_one_in_another_case_are_missing() {
    let mut snap = snapshot();
    snap.last_restored_file = snap.last_copied_file.clone();
    let mut w = World::new().with_snapshot(snap);
    // last restored: mgc_20261127121500.trn, in lower case
    expect_list(
        &mut w.files,
        SHARE,
        1,
        vec![
            entry("MGC_20261127120000.TRN", 100),
            entry("MGC_20261127121500.TRN", 100),
        ],
    );
    expect_list(&mut w.files, COPY_FROM_PCDR, 1, vec![]);
    w.files.expect_free_space().never();
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(copy_log_backups(&ctx).await.expect("skipped"));
    assert!(reason.contains(SHARE), "{reason}");
}

/// A file the copy job copied once (named before its last copied file) but that is
/// gone from the copy folder, while the restore job has not restored it, is copied
/// again from the share rather than left to show up as a gap.
#[tokio::test]
async fn copy_takes_again_a_file_gone_from_the_copy_folder_named_before_the_last_copied_one() {
    let mut w = World::new().with_snapshot(snapshot()).sequential();
    // last restored (snapshot): …120000; last copied: …121500
    let gone = trn("20261127121000");
    let share = vec![
        entry(&trn("20261127120000"), 100),
        entry(&gone, 200),
        entry(&trn("20261127121500"), 100),
    ];
    let before = vec![entry(&trn("20261127121500"), 100)];
    let after = vec![entry(&gone, 200), entry(&trn("20261127121500"), 100)];
    expect_list(&mut w.files, SHARE, 1, share);
    let mut seq = Sequence::new();
    w.files
        .expect_list_log_backups()
        .withf(|f, _| f == COPY_FROM_PCDR)
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _| Ok(before.clone()));
    w.files.expect_free_space().returning(|_| Ok(1000));
    let name = gone.clone();
    w.files
        .expect_copy_file()
        .withf(move |from, file, to| from == SHARE && *file == name && to == COPY_FROM_PCDR)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(200));
    expect_read_back(&mut w, &mut seq, SNAP_COPY, &gone);
    w.files
        .expect_list_log_backups()
        .withf(|f, _| f == COPY_FROM_PCDR)
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _| Ok(after.clone()));
    let (ctx, rec) = w.build();
    assert_eq!(
        done(copy_log_backups(&ctx).await.expect("copied")),
        "1 log backups copied (200 bytes)"
    );
    assert_eq!(rec.copied(), [(gone, 200)]);
}

#[tokio::test]
async fn copy_failure_names_the_step_folder_and_file() {
    let mut w = World::new().sequential();
    expect_list(
        &mut w.files,
        SHARE,
        1,
        vec![entry(&trn("20261127120000"), 10)],
    );
    expect_list(&mut w.files, COPY_FROM_PCDR, 1, vec![]);
    w.files.expect_free_space().returning(|_| Ok(1000));
    w.files.expect_copy_file().times(1).returning(|_, _, _| {
        Err(PlaneError::Io {
            path: COPY_FROM_PCDR.into(),
            message: "Access is denied".into(),
        })
    });
    let (ctx, _) = w.build();
    let err = copy_log_backups(&ctx).await.expect_err("copy fails");
    assert_names(
        &err,
        failover::COPY_LOG_BACKUPS,
        &[
            COPY_FROM_PCDR,
            r"\\fs01.contoso.com\pchat-logs\mgc_20261127120000.trn",
            "Access is denied",
        ],
    );
    assert_eq!(ctx.facts().files_copied, 0);
}

#[tokio::test]
async fn copy_fails_when_the_copied_file_has_the_wrong_size_afterwards() {
    let mut w = World::new().sequential();
    expect_list(
        &mut w.files,
        SHARE,
        1,
        vec![entry(&trn("20261127120000"), 10)],
    );
    let mut seq = Sequence::new();
    w.files
        .expect_list_log_backups()
        .withf(|f, _| f == COPY_FROM_PCDR)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(vec![]));
    w.files.expect_free_space().returning(|_| Ok(1000));
    w.files
        .expect_copy_file()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(10));
    expect_read_back(&mut w, &mut seq, COPY, "mgc_20261127120000.trn");
    w.files
        .expect_list_log_backups()
        .withf(|f, _| f == COPY_FROM_PCDR)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(vec![entry(&trn("20261127120000"), 4)]));
    let (ctx, _) = w.build();
    let err = copy_log_backups(&ctx).await.expect_err("not verified");
    assert_names(
        &err,
        failover::COPY_LOG_BACKUPS,
        &[COPY_FROM_PCDR, "mgc_20261127120000.trn", "wrong size"],
    );
}

/// pcdr copies through its own path, then the backup instance must open the file by the
/// server's path (msdb's, from the snapshot): when it cannot (3201), nothing more is
/// copied and the error names both paths and the settings to correct.
#[tokio::test]
async fn copy_stops_naming_both_paths_when_the_server_cannot_open_the_first_copied_file() {
    let mut w = World::new().with_snapshot(snapshot()).sequential();
    let share = vec![
        entry(&trn("20261127123000"), 300),
        entry(&trn("20261127124500"), 400),
    ];
    expect_list(&mut w.files, SHARE, 1, share);
    expect_list(&mut w.files, COPY_FROM_PCDR, 1, vec![]);
    w.files.expect_free_space().returning(|_| Ok(1000));
    w.files
        .expect_copy_file()
        .withf(|from, name, to| {
            from == SHARE && name == "mgc_20261127123000.trn" && to == COPY_FROM_PCDR
        })
        .times(1)
        .returning(|_, _, _| Ok(300));
    let server_path = format!(r"{SNAP_COPY}\mgc_20261127123000.trn");
    let expected = server_path.clone();
    w.backup
        .expect_backup_header()
        .withf(move |file| file == expected)
        .times(1)
        .returning(|file| {
            Err(sql_error(
                3201,
                &format!("Cannot open backup device '{file}'. Operating system error 3(The system cannot find the path specified.)."),
            ))
        });
    let (ctx, rec) = w.build();
    let err = copy_log_backups(&ctx)
        .await
        .expect_err("the server does not see it");
    assert!(matches!(
        err,
        Error::Precondition {
            kind: PreconditionKind::Topology,
            ..
        }
    ));
    assert_names(
        &err,
        failover::COPY_LOG_BACKUPS,
        &[
            BACKUP_SQL,
            &server_path,
            COPY_FROM_PCDR,
            "log_shipping.copy_destination ",
            "log_shipping.copy_destination_from_pcdr",
        ],
    );
    assert_eq!(rec.copied(), [("mgc_20261127123000.trn".to_string(), 300)]);
}

/// The backup instance reads the header of `name` in the copy folder by its own path
/// `folder`, once: the check after the first copy that it sees what pcdr wrote.
fn expect_read_back(w: &mut World, seq: &mut Sequence, folder: &str, name: &str) {
    let path = format!(r"{folder}\{name}");
    w.backup
        .expect_backup_header()
        .withf(move |file| file == path)
        .times(1)
        .in_sequence(seq)
        .returning(|_| Ok(log_header(100, 200)));
}

/// The backup instance holds `mgc` restoring at `points` (one answer per read), and
/// the copy folder lists `files` (name, first, last) through pcdr's path, whose headers
/// the instance may read by its own path `folder`, each at most once (a binary search
/// skips the old ones).
fn chain(
    w: &mut World,
    folder: &'static str,
    points: Vec<Option<u128>>,
    files: Vec<(&'static str, u128, u128)>,
) {
    w.backup
        .expect_database_state()
        .withf(|db| db == "mgc")
        .returning(|_| Ok(Some(restoring())));
    let mut answers = points.into_iter();
    let reads = answers.len();
    w.backup
        .expect_redo_start_lsn()
        .withf(|db| db == "mgc")
        .times(reads)
        .returning(move |_| Ok(answers.next().flatten().map(Lsn)));
    let listing = files.iter().map(|(name, _, _)| entry(name, 100)).collect();
    expect_list(&mut w.files, COPY_FROM_PCDR, 1, listing);
    for (name, first, last) in files {
        let path = format!(r"{folder}\{name}");
        w.backup
            .expect_backup_header()
            .withf(move |file| file == path)
            .times(0..=1)
            .returning(move |_| Ok(log_header(first, last)));
    }
}

fn expect_restore(w: &mut World, seq: &mut Sequence, folder: &str, name: &str) {
    let path = format!(r"{folder}\{name}");
    w.backup
        .expect_restore_log()
        .withf(move |db, file| db == "mgc" && file == path)
        .times(1)
        .in_sequence(seq)
        .returning(|_, _| Ok(()));
}

#[tokio::test]
async fn apply_restores_unapplied_logs_in_lsn_order_and_records_the_facts() {
    let mut w = World::new();
    // Listed in no particular order; one is already applied.
    chain(
        &mut w,
        COPY,
        vec![Some(150), Some(300)],
        vec![
            ("mgc_20261127121500.trn", 200, 300),
            ("mgc_20261127113000.trn", 50, 100),
            ("mgc_20261127120000.trn", 100, 200),
        ],
    );
    let mut seq = Sequence::new();
    expect_restore(&mut w, &mut seq, COPY, "mgc_20261127120000.trn");
    expect_restore(&mut w, &mut seq, COPY, "mgc_20261127121500.trn");
    let (ctx, rec) = w.build();
    let summary = done(apply_unapplied_logs(&ctx).await.expect("applied"));
    assert_eq!(summary, "2 log backups restored");
    let facts = ctx.facts();
    assert_eq!(facts.logs_restored, 2);
    assert_eq!(facts.restore_point, Some(Lsn(300)));
    let last = facts.last_applied.expect("last applied recorded");
    assert_eq!(last.file, format!(r"{COPY}\mgc_20261127121500.trn"));
    assert_eq!(last.header, log_header(200, 300));
    assert!(facts.accepted_gap.is_none());
    assert_eq!(
        rec.events()
            .into_iter()
            .filter(|e| matches!(e, Event::LogRestored { .. }))
            .collect::<Vec<_>>(),
        [
            Event::LogRestored {
                file: format!(r"{COPY}\mgc_20261127120000.trn"),
                first_lsn: Lsn(100),
                last_lsn: Lsn(200),
            },
            Event::LogRestored {
                file: format!(r"{COPY}\mgc_20261127121500.trn"),
                first_lsn: Lsn(200),
                last_lsn: Lsn(300),
            },
        ]
    );
}

#[tokio::test]
async fn apply_ends_the_readers_of_a_standby_database_before_restoring() {
    // SQL Server refuses a log restore while readers use the standby copy (3101).
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .withf(|db| db == "mgc")
        .returning(|_| Ok(Some(standby())));
    let mut points = vec![Some(150), Some(300)].into_iter();
    w.backup
        .expect_redo_start_lsn()
        .times(2)
        .returning(move |_| Ok(points.next().flatten().map(Lsn)));
    let files = [
        ("mgc_20261127120000.trn", 100, 200),
        ("mgc_20261127121500.trn", 200, 300),
    ];
    let listing = files.iter().map(|(name, _, _)| entry(name, 100)).collect();
    expect_list(&mut w.files, COPY_FROM_PCDR, 1, listing);
    for (name, first, last) in files {
        let path = format!(r"{COPY}\{name}");
        w.backup
            .expect_backup_header()
            .withf(move |file| file == path)
            .times(0..=1)
            .returning(move |_| Ok(log_header(first, last)));
    }
    let mut seq = Sequence::new();
    expect_sessions(&mut w, &mut seq, vec![61, 62]);
    expect_kill(&mut w, &mut seq, 61);
    expect_kill(&mut w, &mut seq, 62);
    expect_restore(&mut w, &mut seq, COPY, "mgc_20261127120000.trn");
    expect_restore(&mut w, &mut seq, COPY, "mgc_20261127121500.trn");
    let (ctx, _) = w.build();
    let summary = done(apply_unapplied_logs(&ctx).await.expect("applied"));
    assert_eq!(summary, "2 log backups restored");
}

#[tokio::test]
async fn apply_follows_lsns_not_file_names() {
    let mut w = World::new();
    chain(
        &mut w,
        COPY,
        vec![Some(100), Some(300)],
        vec![
            ("mgc_20261127120000.trn", 200, 300),
            ("mgc_20261127121500.trn", 100, 200),
        ],
    );
    let mut seq = Sequence::new();
    expect_restore(&mut w, &mut seq, COPY, "mgc_20261127121500.trn");
    expect_restore(&mut w, &mut seq, COPY, "mgc_20261127120000.trn");
    let (ctx, rec) = w.build();
    done(apply_unapplied_logs(&ctx).await.expect("applied"));
    assert_eq!(
        rec.restored(),
        [
            format!(r"{COPY}\mgc_20261127121500.trn"),
            format!(r"{COPY}\mgc_20261127120000.trn")
        ]
    );
}

/// A file pcdr lists in the copy folder that the backup instance cannot open by its own
/// path (3201) is the same for every file: the step stops naming both paths instead of
/// calling the file damaged or a gap.
#[tokio::test]
async fn apply_stops_naming_both_paths_when_the_server_cannot_open_a_listed_file() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.backup
        .expect_redo_start_lsn()
        .returning(|_| Ok(Some(Lsn(100))));
    expect_list(
        &mut w.files,
        COPY_FROM_PCDR,
        1,
        vec![entry("mgc_20261127120000.trn", 100)],
    );
    w.backup
        .expect_backup_header()
        .returning(|_| Err(sql_error(3201, "Cannot open backup device")));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = apply_unapplied_logs(&ctx).await.expect_err("not seen");
    assert_names(
        &err,
        failover::APPLY_UNAPPLIED_LOGS,
        &[
            BACKUP_SQL,
            r"D:\LogShipping\mgc\mgc_20261127120000.trn",
            COPY_FROM_PCDR,
            "copy_destination_from_pcdr",
        ],
    );
}

/// pcdr lists the copy folder through its own path and has the server restore each
/// file by the server's path, msdb's when the snapshot has one.
#[tokio::test]
async fn apply_lists_through_pcdrs_path_and_restores_by_the_snapshots_copy_folder() {
    let mut w = World::new().with_snapshot(snapshot());
    chain(
        &mut w,
        SNAP_COPY,
        vec![Some(100), Some(200)],
        vec![("mgc_20261127120000.trn", 100, 200)],
    );
    let mut seq = Sequence::new();
    expect_restore(&mut w, &mut seq, SNAP_COPY, "mgc_20261127120000.trn");
    let (ctx, _) = w.build();
    done(apply_unapplied_logs(&ctx).await.expect("applied"));
    assert_eq!(ctx.facts().restore_point, Some(Lsn(200)));
}

#[tokio::test]
async fn apply_is_skipped_when_every_log_is_applied_and_records_the_newest_one() {
    let mut w = World::new();
    chain(
        &mut w,
        COPY,
        vec![Some(300)],
        vec![
            ("mgc_20261127120000.trn", 100, 200),
            ("mgc_20261127121500.trn", 200, 300),
        ],
    );
    w.forbid_mutations();
    let (ctx, rec) = w.build();
    let reason = skipped(apply_unapplied_logs(&ctx).await.expect("skipped"));
    assert!(
        reason.contains("already applied") && reason.contains("LSN 300"),
        "{reason}"
    );
    let facts = ctx.facts();
    assert_eq!(
        facts.last_applied.map(|b| b.file),
        Some(format!(r"{COPY}\mgc_20261127121500.trn"))
    );
    assert_eq!(facts.restore_point, Some(Lsn(300)));
    assert_eq!(facts.logs_restored, 0);
    assert!(rec.restored().is_empty());
}

#[tokio::test]
async fn apply_is_skipped_when_the_database_is_already_recovered() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .times(1)
        .returning(|_| Ok(Some(online())));
    w.backup.expect_redo_start_lsn().never();
    w.files.expect_list_log_backups().never();
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(apply_unapplied_logs(&ctx).await.expect("skipped"));
    assert!(reason.contains("already recovered"), "{reason}");
}

#[tokio::test]
async fn apply_stops_at_a_gap_unless_data_loss_is_accepted() {
    let mut w = World::new();
    chain(
        &mut w,
        COPY,
        vec![Some(150)],
        vec![
            ("mgc_20261127120000.trn", 100, 200),
            ("mgc_20261127123000.trn", 300, 400),
        ],
    );
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = apply_unapplied_logs(&ctx).await.expect_err("gap refused");
    match &err {
        Error::DataLossRefused {
            gap,
            database,
            target,
            ..
        } => {
            assert_eq!((gap.missing_from, gap.missing_to), (Lsn(200), Lsn(300)));
            assert_eq!(database, "mgc");
            assert_eq!(target, BACKUP_SQL);
        }
        other => panic!("expected DataLossRefused, got {other}"),
    }
    assert_names(
        &err,
        failover::APPLY_UNAPPLIED_LOGS,
        &[
            BACKUP_SQL,
            "LSN 200 to 300",
            "mgc_20261127123000.trn",
            "accepting data loss",
        ],
    );
    assert_eq!(ctx.facts().accepted_gap, None);
}

#[tokio::test]
async fn apply_restores_up_to_a_gap_when_data_loss_is_accepted() {
    let mut w = World::new();
    w.options.accept_data_loss = true;
    chain(
        &mut w,
        COPY,
        vec![Some(150), Some(200)],
        vec![
            ("mgc_20261127120000.trn", 100, 200),
            ("mgc_20261127123000.trn", 300, 400),
        ],
    );
    let mut seq = Sequence::new();
    expect_restore(&mut w, &mut seq, COPY, "mgc_20261127120000.trn");
    let (ctx, rec) = w.build();
    let summary = done(apply_unapplied_logs(&ctx).await.expect("accepted"));
    assert!(
        summary.contains("1 log backups restored up to a gap"),
        "{summary}"
    );
    let facts = ctx.facts();
    let gap = facts.accepted_gap.expect("the accepted gap is recorded");
    assert_eq!((gap.missing_from, gap.missing_to), (Lsn(200), Lsn(300)));
    assert_eq!(gap.next_file, format!(r"{COPY}\mgc_20261127123000.trn"));
    assert_eq!(facts.restore_point, Some(Lsn(200)));
    assert!(
        rec.notes()
            .iter()
            .any(|n| n.starts_with("data loss accepted") && n.contains("LSN 200 to 300")),
        "{:?}",
        rec.notes()
    );
}

/// The usual disaster: the restore job had applied every copied log backup, and the
/// next one never reached the copy folder. The refusal must still name the last good
/// backup and when it finished (the LSN rule, see `crate::log_chain`), which the database holds.
#[tokio::test]
async fn apply_names_the_last_good_backup_even_when_it_was_already_applied() {
    let mut w = World::new();
    chain(
        &mut w,
        COPY,
        vec![Some(300)],
        vec![
            ("mgc_20261127121500.trn", 200, 300),
            ("mgc_20261127124500.trn", 400, 500),
        ],
    );
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = apply_unapplied_logs(&ctx).await.expect_err("gap refused");
    assert_names(
        &err,
        failover::APPLY_UNAPPLIED_LOGS,
        &[
            "LSN 300 to 400",
            "last good backup D:\\LogShipping\\mgc\\mgc_20261127121500.trn",
            &log_header(200, 300).backup_finish.to_rfc3339(),
        ],
    );
}

#[tokio::test]
async fn apply_after_an_accepted_gap_restores_nothing_more_when_run_again() {
    let mut w = World::new();
    w.options.accept_data_loss = true;
    chain(
        &mut w,
        COPY,
        // Skipped: the restore point is read once, with nothing to check afterwards.
        vec![Some(200)],
        vec![
            ("mgc_20261127120000.trn", 100, 200),
            ("mgc_20261127123000.trn", 300, 400),
        ],
    );
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(
        apply_unapplied_logs(&ctx)
            .await
            .expect("nothing to restore"),
    );
    assert!(
        reason.contains("data loss accepted") && reason.contains("LSN 200 to 300"),
        "{reason}"
    );
    let facts = ctx.facts();
    assert_eq!(facts.logs_restored, 0);
    assert_eq!(
        facts.accepted_gap.map(|g| (g.missing_from, g.missing_to)),
        Some((Lsn(200), Lsn(300)))
    );
    assert_eq!(
        facts.last_applied.map(|b| b.file),
        Some(format!(r"{COPY}\mgc_20261127120000.trn"))
    );
}

/// The usual disaster with data loss accepted, on the first run: every copied log
/// backup is applied and the next never arrived. Nothing can be restored, so the step
/// is skipped, and the gap is still recorded, naming the last good (applied) backup.
#[tokio::test]
async fn apply_is_skipped_and_records_the_gap_when_nothing_precedes_an_accepted_gap() {
    let mut w = World::new();
    w.options.accept_data_loss = true;
    chain(
        &mut w,
        COPY,
        vec![Some(300)],
        vec![
            ("mgc_20261127121500.trn", 200, 300),
            ("mgc_20261127124500.trn", 400, 500),
        ],
    );
    w.forbid_mutations();
    let (ctx, rec) = w.build();
    let reason = skipped(apply_unapplied_logs(&ctx).await.expect("skipped"));
    assert!(
        reason.contains("data loss accepted")
            && reason.contains("LSN 300 to 400")
            && reason.contains(r"last good backup D:\LogShipping\mgc\mgc_20261127121500.trn"),
        "{reason}"
    );
    let facts = ctx.facts();
    let gap = facts.accepted_gap.expect("the accepted gap is recorded");
    assert_eq!((gap.missing_from, gap.missing_to), (Lsn(300), Lsn(400)));
    assert_eq!(gap.next_file, format!(r"{COPY}\mgc_20261127124500.trn"));
    assert_eq!(
        gap.last_good.map(|b| b.file),
        Some(format!(r"{COPY}\mgc_20261127121500.trn"))
    );
    assert_eq!(
        facts.last_applied.map(|b| b.file),
        Some(format!(r"{COPY}\mgc_20261127121500.trn"))
    );
    assert_eq!(facts.restore_point, Some(Lsn(300)));
    assert_eq!(facts.logs_restored, 0);
    assert!(rec.restored().is_empty());
}

#[tokio::test]
async fn apply_names_the_restored_backup_as_the_last_good_one_before_an_accepted_gap() {
    let mut w = World::new();
    w.options.accept_data_loss = true;
    chain(
        &mut w,
        COPY,
        vec![Some(200), Some(300)],
        vec![
            ("mgc_20261127120000.trn", 100, 200),
            ("mgc_20261127121500.trn", 200, 300),
            ("mgc_20261127124500.trn", 400, 500),
        ],
    );
    let mut seq = Sequence::new();
    expect_restore(&mut w, &mut seq, COPY, "mgc_20261127121500.trn");
    let (ctx, _) = w.build();
    done(apply_unapplied_logs(&ctx).await.expect("accepted"));
    let gap = ctx
        .facts()
        .accepted_gap
        .expect("the accepted gap is recorded");
    assert_eq!(
        gap.last_good.map(|b| b.file),
        Some(format!(r"{COPY}\mgc_20261127121500.trn"))
    );
}

#[tokio::test]
async fn apply_says_when_no_backup_at_all_precedes_the_gap() {
    let mut w = World::new();
    chain(
        &mut w,
        COPY,
        vec![Some(150)],
        vec![("mgc_20261127123000.trn", 300, 400)],
    );
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = apply_unapplied_logs(&ctx).await.expect_err("gap refused");
    assert_names(
        &err,
        failover::APPLY_UNAPPLIED_LOGS,
        &[
            "LSN 150 to 300",
            "no log backup can be applied before the gap",
        ],
    );
    assert_eq!(ctx.facts().accepted_gap, None);
}

#[tokio::test]
async fn apply_names_a_damaged_log_backup() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.backup
        .expect_redo_start_lsn()
        .times(1)
        .returning(|_| Ok(Some(Lsn(100))));
    expect_list(
        &mut w.files,
        COPY_FROM_PCDR,
        1,
        vec![
            entry("mgc_20261127120000.trn", 100),
            entry("mgc_20261127121500.trn", 100),
        ],
    );
    w.backup
        .expect_backup_header()
        .withf(|f| f.ends_with("mgc_20261127120000.trn"))
        .returning(|_| Ok(log_header(100, 200)));
    w.backup
        .expect_backup_header()
        .withf(|f| f.ends_with("mgc_20261127121500.trn"))
        .returning(|_| {
            Err(sql_error(
                3241,
                "The media family on device is incorrectly formed",
            ))
        });
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = apply_unapplied_logs(&ctx).await.expect_err("damaged");
    assert!(matches!(err, Error::BadLogBackup { .. }), "{err}");
    assert_names(
        &err,
        failover::APPLY_UNAPPLIED_LOGS,
        &[
            BACKUP_SQL,
            "database mgc",
            r"D:\LogShipping\mgc\mgc_20261127121500.trn",
            "3241",
        ],
    );
}

#[tokio::test]
async fn apply_names_a_log_backup_of_another_database() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.backup
        .expect_redo_start_lsn()
        .returning(|_| Ok(Some(Lsn(100))));
    expect_list(
        &mut w.files,
        COPY_FROM_PCDR,
        1,
        vec![entry("mgc_20261127120000.trn", 100)],
    );
    w.backup.expect_backup_header().returning(|_| {
        Ok(crate::log_chain::BackupHeader {
            database_name: "mgccomp".into(),
            ..log_header(100, 200)
        })
    });
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = apply_unapplied_logs(&ctx)
        .await
        .expect_err("wrong database");
    assert!(matches!(err, Error::BadLogBackup { .. }), "{err}");
    assert_names(
        &err,
        failover::APPLY_UNAPPLIED_LOGS,
        &["mgc_20261127120000.trn", "'mgccomp'"],
    );
}

#[tokio::test]
async fn apply_names_the_file_when_the_instance_cannot_read_its_header() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.backup
        .expect_redo_start_lsn()
        .returning(|_| Ok(Some(Lsn(100))));
    expect_list(
        &mut w.files,
        COPY_FROM_PCDR,
        1,
        vec![entry("mgc_20261127120000.trn", 100)],
    );
    w.backup.expect_backup_header().returning(|_| {
        Err(PlaneError::ConnectionLost {
            message: "reset by peer".into(),
        })
    });
    let (ctx, _) = w.build();
    let err = apply_unapplied_logs(&ctx).await.expect_err("lost");
    assert!(err.is_transient());
    assert_names(
        &err,
        failover::APPLY_UNAPPLIED_LOGS,
        &[BACKUP_SQL, r"D:\LogShipping\mgc\mgc_20261127120000.trn"],
    );
}

#[tokio::test]
async fn apply_failure_names_the_step_instance_database_and_file() {
    let mut w = World::new();
    chain(
        &mut w,
        COPY,
        vec![Some(100)],
        vec![("mgc_20261127120000.trn", 100, 200)],
    );
    w.backup.expect_restore_log().times(1).returning(|_, _| {
        Err(sql_error(
            4305,
            "The log in this backup set begins at LSN 100, which is too recent",
        ))
    });
    let (ctx, rec) = w.build();
    let err = apply_unapplied_logs(&ctx).await.expect_err("4305");
    assert_eq!(err.sql_number(), Some(4305));
    assert_names(
        &err,
        failover::APPLY_UNAPPLIED_LOGS,
        &[
            BACKUP_SQL,
            "database mgc",
            r"D:\LogShipping\mgc\mgc_20261127120000.trn",
            "4305",
        ],
    );
    assert_eq!(ctx.facts().logs_restored, 0);
    assert!(rec.restored().is_empty());
}

#[tokio::test]
async fn apply_fails_when_the_restore_point_did_not_move_as_planned() {
    let mut w = World::new();
    chain(
        &mut w,
        COPY,
        vec![Some(100), Some(100)],
        vec![("mgc_20261127120000.trn", 100, 200)],
    );
    w.backup
        .expect_restore_log()
        .times(1)
        .returning(|_, _| Ok(()));
    let (ctx, _) = w.build();
    let err = apply_unapplied_logs(&ctx).await.expect_err("not verified");
    assert_names(
        &err,
        failover::APPLY_UNAPPLIED_LOGS,
        &[BACKUP_SQL, "restore point is 100", "expected 200"],
    );
}

#[tokio::test]
async fn apply_refuses_a_database_that_cannot_take_logs() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(db(DbState::Suspect))));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = apply_unapplied_logs(&ctx).await.expect_err("suspect");
    assert!(matches!(err, Error::Precondition { .. }), "{err}");
    assert_names(&err, failover::APPLY_UNAPPLIED_LOGS, &["Suspect"]);
}

#[tokio::test]
async fn apply_refuses_a_database_without_a_restore_point() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.backup.expect_redo_start_lsn().returning(|_| Ok(None));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = apply_unapplied_logs(&ctx).await.expect_err("no point");
    assert_names(&err, failover::APPLY_UNAPPLIED_LOGS, &["no restore point"]);
}

// ---------------------------------------------------------------- recover_database

fn expect_sessions(w: &mut World, seq: &mut Sequence, ids: Vec<i32>) {
    w.backup
        .expect_sessions()
        .withf(|db| db == "mgc")
        .times(1)
        .in_sequence(seq)
        .returning(move |_| Ok(ids.iter().copied().map(SessionId).collect()));
}

fn expect_kill(w: &mut World, seq: &mut Sequence, id: i32) {
    w.backup
        .expect_kill_session()
        .with(eq(SessionId(id)))
        .times(1)
        .in_sequence(seq)
        .returning(|_| Ok(()));
}

/// The primary came back between check_sites and recovery: recovery, the pool state and
/// the active servers each re-check it right before acting.
#[tokio::test]
async fn irreversible_steps_refuse_when_the_primary_answers_again() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.pool
        .expect_pool_state()
        .returning(|| Ok(PoolState::Normal));
    w.pool
        .expect_active_servers()
        .returning(|| Ok(Some(vec!["pc1.contoso.com".into()])));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let pool = set_pool_failed_over(&ctx).await.expect_err("primary back");
    let activate = activate_backup_servers(&ctx)
        .await
        .expect_err("primary back");
    for err in [pool, activate] {
        assert_eq!(
            err.precondition_kind(),
            Some(PreconditionKind::PrimaryReachable),
            "{err}"
        );
    }
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.primary
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = recover_database(&ctx).await.expect_err("primary back");
    assert_names(
        &err,
        failover::RECOVER_DATABASE,
        &[PRIMARY_SQL, "answers again"],
    );
}

#[tokio::test]
async fn recover_ends_the_sessions_then_recovers() {
    let mut w = World::new();
    w.primary_down();
    let mut seq = Sequence::new();
    w.backup
        .expect_database_state()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(restoring())));
    expect_sessions(&mut w, &mut seq, vec![51, 52]);
    expect_kill(&mut w, &mut seq, 51);
    expect_kill(&mut w, &mut seq, 52);
    w.backup
        .expect_recover()
        .withf(|db| db == "mgc")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.backup
        .expect_database_state()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(online())));
    let (ctx, recorder) = w.build();
    let summary = done(recover_database(&ctx).await.expect("recovered"));
    assert_eq!(summary, format!("mgc online on {BACKUP_SQL}"));
    let ended = recorder.events().into_iter().find_map(|e| match e {
        Event::SessionsEnded { sessions, .. } => Some(sessions),
        _ => None,
    });
    assert_eq!(ended, Some(2), "the sessions ended are reported");
}

#[tokio::test]
async fn recover_brings_a_standby_database_online() {
    let mut w = World::new();
    w.primary_down();
    let mut seq = Sequence::new();
    w.backup
        .expect_database_state()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(standby())));
    expect_sessions(&mut w, &mut seq, vec![]);
    w.backup
        .expect_recover()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.backup
        .expect_database_state()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(online())));
    let (ctx, _) = w.build();
    done(recover_database(&ctx).await.expect("recovered"));
}

#[tokio::test]
async fn recover_is_skipped_when_the_database_is_already_online() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .times(1)
        .returning(|_| Ok(Some(online())));
    w.backup.expect_sessions().never();
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(recover_database(&ctx).await.expect("skipped"));
    assert!(reason.contains("already online"), "{reason}");
}

#[tokio::test]
async fn recover_ends_sessions_again_and_retries_when_the_database_is_in_use() {
    let mut w = World::new();
    w.primary_down();
    let mut seq = Sequence::new();
    w.backup
        .expect_database_state()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(restoring())));
    expect_sessions(&mut w, &mut seq, vec![51]);
    expect_kill(&mut w, &mut seq, 51);
    w.backup
        .expect_recover()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Err(sql_error(3101, "Exclusive access could not be obtained")));
    expect_sessions(&mut w, &mut seq, vec![53]);
    expect_kill(&mut w, &mut seq, 53);
    w.backup
        .expect_recover()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.backup
        .expect_database_state()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(online())));
    let (ctx, rec) = w.build();
    done(recover_database(&ctx).await.expect("recovered on retry"));
    assert!(
        rec.notes()
            .iter()
            .any(|n| n.contains("still in use") && n.contains("retry 1")),
        "{:?}",
        rec.notes()
    );
}

#[tokio::test]
async fn recover_gives_up_after_the_fourth_database_in_use_error() {
    let mut w = World::new();
    w.primary_down();
    w.backup
        .expect_database_state()
        .times(1)
        .returning(|_| Ok(Some(restoring())));
    w.backup
        .expect_sessions()
        .times(4)
        .returning(|_| Ok(vec![SessionId(60)]));
    w.backup
        .expect_kill_session()
        .times(4)
        .returning(|_| Ok(()));
    w.backup
        .expect_recover()
        .times(4)
        .returning(|_| Err(sql_error(3101, "Exclusive access could not be obtained")));
    let (ctx, rec) = w.build();
    let err = recover_database(&ctx).await.expect_err("bounded");
    assert_eq!(err.sql_number(), Some(3101));
    assert_names(
        &err,
        failover::RECOVER_DATABASE,
        &[BACKUP_SQL, "database mgc", "3101"],
    );
    assert_eq!(
        rec.notes()
            .iter()
            .filter(|n| n.contains("still in use"))
            .count(),
        3
    );
}

#[tokio::test]
async fn recover_treats_a_session_that_already_ended_as_ended() {
    let mut w = World::new();
    w.primary_down();
    let mut seq = Sequence::new();
    w.backup
        .expect_database_state()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(restoring())));
    expect_sessions(&mut w, &mut seq, vec![51]);
    w.backup
        .expect_kill_session()
        .with(eq(SessionId(51)))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Err(sql_error(6106, "Process ID 51 is not an active process ID")));
    w.backup
        .expect_recover()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.backup
        .expect_database_state()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(online())));
    let (ctx, _) = w.build();
    done(recover_database(&ctx).await.expect("6106 is fine"));
}

#[tokio::test]
async fn recover_failure_of_kill_names_the_step_and_instance() {
    let mut w = World::new();
    w.primary_down();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.backup
        .expect_sessions()
        .returning(|_| Ok(vec![SessionId(51)]));
    w.backup.expect_kill_session().returning(|_| {
        Err(sql_error(
            6102,
            "User does not have permission to use the KILL statement",
        ))
    });
    w.backup.expect_recover().never();
    let (ctx, _) = w.build();
    let err = recover_database(&ctx).await.expect_err("no permission");
    assert_names(&err, failover::RECOVER_DATABASE, &[BACKUP_SQL, "6102"]);
}

#[tokio::test]
async fn recover_failure_names_the_step_instance_and_database() {
    let mut w = World::new();
    w.primary_down();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.backup.expect_sessions().returning(|_| Ok(vec![]));
    w.backup.expect_recover().times(1).returning(|_| {
        Err(sql_error(
            4319,
            "A previous restore operation was interrupted",
        ))
    });
    let (ctx, _) = w.build();
    let err = recover_database(&ctx).await.expect_err("fails");
    assert_names(
        &err,
        failover::RECOVER_DATABASE,
        &[BACKUP_SQL, "database mgc", "4319"],
    );
}

#[tokio::test]
async fn recover_fails_when_the_database_is_not_online_afterwards() {
    let mut w = World::new();
    w.primary_down();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.backup.expect_sessions().returning(|_| Ok(vec![]));
    w.backup.expect_recover().times(1).returning(|_| Ok(()));
    let (ctx, _) = w.build();
    let err = recover_database(&ctx).await.expect_err("still restoring");
    assert_names(
        &err,
        failover::RECOVER_DATABASE,
        &[BACKUP_SQL, "Restoring after recovery"],
    );
}

// ---------------------------------------------------------------- set_pool_failed_over

#[tokio::test]
async fn set_pool_failed_over_sets_the_state_and_reads_it_back() {
    let mut w = World::new();
    w.primary_down();
    let mut seq = Sequence::new();
    w.pool
        .expect_pool_state()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(PoolState::Normal));
    w.backup
        .expect_database_state()
        .withf(|db| db == "mgc")
        .returning(|_| Ok(Some(online())));
    w.pool
        .expect_set_pool_state()
        .with(eq(PoolState::FailedOver))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.pool
        .expect_pool_state()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(PoolState::FailedOver));
    let (ctx, _) = w.build();
    assert_eq!(
        done(set_pool_failed_over(&ctx).await.expect("set")),
        "pool state set to FailedOver"
    );
}

#[tokio::test]
async fn set_pool_failed_over_is_skipped_when_already_failed_over() {
    let mut w = World::new();
    w.pool
        .expect_pool_state()
        .times(1)
        .returning(|| Ok(PoolState::FailedOver));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(set_pool_failed_over(&ctx).await.expect("skipped"));
    assert!(reason.contains("FailedOver"), "{reason}");
}

#[tokio::test]
async fn set_pool_failed_over_refuses_while_the_backup_database_is_not_online() {
    let mut w = World::new();
    w.pool
        .expect_pool_state()
        .returning(|| Ok(PoolState::Normal));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = set_pool_failed_over(&ctx).await.expect_err("not online");
    assert!(matches!(err, Error::Precondition { .. }), "{err}");
    assert_names(
        &err,
        failover::SET_POOL_FAILED_OVER,
        &[BACKUP_SQL, "not online"],
    );
}

#[tokio::test]
async fn set_pool_failed_over_failure_names_the_step_and_pool() {
    let mut w = World::new();
    w.primary_down();
    w.pool
        .expect_pool_state()
        .returning(|| Ok(PoolState::Normal));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.pool
        .expect_set_pool_state()
        .times(1)
        .returning(|_| Err(shell_error("Set-CsPersistentChatState")));
    let (ctx, _) = w.build();
    let err = set_pool_failed_over(&ctx).await.expect_err("cmdlet fails");
    assert_names(
        &err,
        failover::SET_POOL_FAILED_OVER,
        &[POOL, "Set-CsPersistentChatState"],
    );
}

#[tokio::test]
async fn set_pool_failed_over_fails_when_the_state_reads_back_otherwise() {
    let mut w = World::new();
    w.primary_down();
    w.pool
        .expect_pool_state()
        .times(2)
        .returning(|| Ok(PoolState::Normal));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.pool
        .expect_set_pool_state()
        .times(1)
        .returning(|_| Ok(()));
    let (ctx, _) = w.build();
    let err = set_pool_failed_over(&ctx).await.expect_err("not verified");
    assert_names(
        &err,
        failover::SET_POOL_FAILED_OVER,
        &[POOL, "Normal after setting it to FailedOver"],
    );
}

// ---------------------------------------------------------------- mirror_new_primary

fn backup_mirror_request() -> MirrorRequest {
    MirrorRequest {
        database: ChatDatabase::PersistentChat,
        sql_server_fqdn: "sql-dal.contoso.com".into(),
        sql_instance: None,
        file_share: SHARE.into(),
    }
}

/// pcdr reaches the backup SQL Server at an address, but `Install-CsMirrorDatabase`
/// finds it in the Skype for Business topology by its FQDN
/// (<https://learn.microsoft.com/en-us/powershell/module/skype/install-csmirrordatabase>):
/// the cmdlet gets the topology's `fqdn`, never the address.
#[tokio::test]
async fn mirror_new_primary_names_the_sql_server_by_its_fqdn_not_its_address() {
    let topology = topology_with(
        "sql = { host = \"sql-dal.contoso.com\", port = 1433 }",
        "sql = { host = \"10.20.0.11\", port = 1433, fqdn = \"sql-dal.contoso.com\" }",
    );
    let mut w = World::with_topology(topology);
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())))
        .times(1);
    w.pool
        .expect_install_mirror()
        .with(eq(backup_mirror_request()))
        .times(1)
        .returning(|_| Ok(()));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(mirrored(MirroringRole::Principal))));
    let (ctx, _) = w.build();
    let summary = done(mirror_new_primary(&ctx).await.expect("mirrored"));
    assert!(summary.contains("10.20.0.11,1433"), "{summary}");
}

#[tokio::test]
async fn mirror_new_primary_installs_mirroring_on_the_backup_instance() {
    let mut w = World::new();
    let mut seq = Sequence::new();
    w.backup
        .expect_database_state()
        .withf(|db| db == "mgc")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(online())));
    w.pool
        .expect_install_mirror()
        .with(eq(backup_mirror_request()))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.backup
        .expect_database_state()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(mirrored(MirroringRole::Principal))));
    w.primary.expect_database_state().never();
    let (ctx, rec) = w.build();
    let summary = done(mirror_new_primary(&ctx).await.expect("mirrored"));
    assert!(
        summary.contains(BACKUP_SQL) && summary.contains("TCP://sql-mirror"),
        "{summary}"
    );
    assert!(
        rec.notes()
            .iter()
            .any(|n| n.contains("sql-dal-m.contoso.com,1433")),
        "the note names the backup site's own mirror: {:?}",
        rec.notes()
    );
}

/// The backup site's own share seeds its mirror when the topology gives one: the
/// log-shipping share may be lost with the primary site, and `Install-CsMirrorDatabase`
/// writes its full and log backup to `-FileShare`
/// (<https://learn.microsoft.com/powershell/module/skype/install-csmirrordatabase>).
#[tokio::test]
async fn mirror_new_primary_seeds_through_the_backup_sites_mirror_share() {
    let share = r"\\fs-dal.contoso.com\pchat-mirror";
    let mut w = World::with_topology(topology_with(
        "# mirror_file_share = ",
        "mirror_file_share = ",
    ));
    let mut seq = Sequence::new();
    w.backup
        .expect_database_state()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(online())));
    w.pool
        .expect_install_mirror()
        .withf(move |request| request.file_share == share)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.backup
        .expect_database_state()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(mirrored(MirroringRole::Principal))));
    let (ctx, _) = w.build();
    done(mirror_new_primary(&ctx).await.expect("mirrored"));
}

#[tokio::test]
async fn mirror_new_primary_is_skipped_when_already_a_principal() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .times(1)
        .returning(|_| Ok(Some(mirrored(MirroringRole::Principal))));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(mirror_new_primary(&ctx).await.expect("skipped"));
    assert!(reason.contains("already mirrored"), "{reason}");
}

#[tokio::test]
async fn mirror_new_primary_is_skipped_without_a_backup_mirror_in_the_topology() {
    let mut w = World::with_topology(topology_with(
        "mirror = { host = \"sql-dal-m.contoso.com\", port = 1433 }\n",
        "",
    ));
    w.backup.expect_database_state().never();
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(mirror_new_primary(&ctx).await.expect("skipped"));
    assert!(reason.contains("no mirror instance"), "{reason}");
}

#[tokio::test]
async fn mirror_new_primary_failure_names_the_step_and_pool() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.pool
        .expect_install_mirror()
        .times(1)
        .returning(|_| Err(shell_error("Install-CsMirrorDatabase")));
    let (ctx, _) = w.build();
    let err = mirror_new_primary(&ctx).await.expect_err("fails");
    assert_names(
        &err,
        failover::MIRROR_NEW_PRIMARY,
        &[POOL, "Install-CsMirrorDatabase"],
    );
}

#[tokio::test]
async fn mirror_new_primary_fails_when_the_database_is_not_a_principal_afterwards() {
    let mut w = World::new();
    w.backup
        .expect_database_state()
        .times(2)
        .returning(|_| Ok(Some(online())));
    w.pool
        .expect_install_mirror()
        .times(1)
        .returning(|_| Ok(()));
    let (ctx, _) = w.build();
    let err = mirror_new_primary(&ctx).await.expect_err("not verified");
    assert_names(
        &err,
        failover::MIRROR_NEW_PRIMARY,
        &[BACKUP_SQL, "database mgc", "not a mirroring principal"],
    );
}

// ---------------------------------------------------------------- activate_backup_servers

fn servers(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn activate_backup_servers_sets_the_backup_sites_servers_and_reads_them_back() {
    let mut w = World::new();
    w.primary_down();
    let mut seq = Sequence::new();
    w.pool
        .expect_active_servers()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(Some(servers(&["pc1.contoso.com", "pc2.contoso.com"]))));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.pool
        .expect_set_active_servers()
        .withf(|list| list == ["pc3.contoso.com", "pc4.contoso.com"])
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.pool
        .expect_active_servers()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(Some(servers(&["pc4.contoso.com", "pc3.contoso.com"]))));
    let (ctx, _) = w.build();
    assert_eq!(
        done(activate_backup_servers(&ctx).await.expect("set")),
        "active servers set to [pc3.contoso.com, pc4.contoso.com]"
    );
}

#[tokio::test]
async fn activate_backup_servers_is_skipped_when_they_already_are_active_in_any_case_and_order() {
    let mut w = World::new();
    w.pool
        .expect_active_servers()
        .times(1)
        .returning(|| Ok(Some(servers(&["PC4.contoso.com", "pc3.CONTOSO.com"]))));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let reason = skipped(activate_backup_servers(&ctx).await.expect("skipped"));
    assert!(reason.contains("already"), "{reason}");
}

#[tokio::test]
async fn activate_backup_servers_sets_without_read_back_when_the_pool_cannot_tell() {
    let mut w = World::new();
    w.primary_down();
    w.pool
        .expect_active_servers()
        .times(2)
        .returning(|| Ok(None));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.pool
        .expect_set_active_servers()
        .withf(|list| list == ["pc3.contoso.com", "pc4.contoso.com"])
        .times(1)
        .returning(|_| Ok(()));
    let (ctx, rec) = w.build();
    done(activate_backup_servers(&ctx).await.expect("set"));
    assert!(
        rec.notes().iter().any(|n| n.contains("not read back")),
        "{:?}",
        rec.notes()
    );
}

#[tokio::test]
async fn activate_backup_servers_sets_only_the_first_four_of_five() {
    let five = "chat_servers = [\"pc3.contoso.com\", \"pc4.contoso.com\", \"pc5.contoso.com\", \"pc6.contoso.com\", \"pc7.contoso.com\"]";
    let mut w = World::with_topology(topology_with(
        "chat_servers = [\"pc3.contoso.com\", \"pc4.contoso.com\"]",
        five,
    ));
    w.primary_down();
    assert_eq!(w.topology.sites.backup.chat_servers.len(), 5);
    w.pool
        .expect_active_servers()
        .times(2)
        .returning(|| Ok(None));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.pool
        .expect_set_active_servers()
        .withf(|list| {
            list == [
                "pc3.contoso.com",
                "pc4.contoso.com",
                "pc5.contoso.com",
                "pc6.contoso.com",
            ]
        })
        .times(1)
        .returning(|_| Ok(()));
    let (ctx, _) = w.build();
    done(activate_backup_servers(&ctx).await.expect("set"));
}

#[tokio::test]
async fn activate_backup_servers_refuses_while_the_backup_database_is_not_online() {
    let mut w = World::new();
    w.pool
        .expect_active_servers()
        .returning(|| Ok(Some(vec![])));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(restoring())));
    w.forbid_mutations();
    let (ctx, _) = w.build();
    let err = activate_backup_servers(&ctx).await.expect_err("not online");
    assert_names(
        &err,
        failover::ACTIVATE_BACKUP_SERVERS,
        &[BACKUP_SQL, "not online"],
    );
}

#[tokio::test]
async fn activate_backup_servers_failure_names_the_step_and_pool() {
    let mut w = World::new();
    w.primary_down();
    w.pool.expect_active_servers().returning(|| Ok(None));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.pool
        .expect_set_active_servers()
        .times(1)
        .returning(|_| Err(shell_error("Set-CsPersistentChatActiveServer")));
    let (ctx, _) = w.build();
    let err = activate_backup_servers(&ctx).await.expect_err("fails");
    assert_names(
        &err,
        failover::ACTIVATE_BACKUP_SERVERS,
        &[POOL, "Set-CsPersistentChatActiveServer"],
    );
}

#[tokio::test]
async fn activate_backup_servers_fails_when_the_list_reads_back_otherwise() {
    let mut w = World::new();
    w.primary_down();
    let mut seq = Sequence::new();
    w.pool
        .expect_active_servers()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(Some(vec![])));
    w.backup
        .expect_database_state()
        .returning(|_| Ok(Some(online())));
    w.pool
        .expect_set_active_servers()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    w.pool
        .expect_active_servers()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(Some(servers(&["pc3.contoso.com"]))));
    let (ctx, _) = w.build();
    let err = activate_backup_servers(&ctx)
        .await
        .expect_err("not verified");
    assert_names(
        &err,
        failover::ACTIVATE_BACKUP_SERVERS,
        &[POOL, "[pc3.contoso.com] after setting"],
    );
}

// ---------------------------------------------------------------- the procedure

#[test]
fn failover_steps_are_declared_in_order() {
    assert_eq!(failover::STEPS.len(), 9);
    let ids: Vec<_> = failover::STEPS.iter().map(|s| s.id).collect();
    assert_eq!(ids, failover::IDS);
    assert!(ids.iter().all(|s| s.procedure() == failover::PROCEDURE));
}
